/*
 * dcmcheck.cc: sl-dcmcheck, the test oracle for the DICOM de-identifier.
 *
 *   sl-dcmcheck [--options a,b,...] [--canary STR]... [--verbose] IN OUT
 *
 * Loads IN (the original) and OUT (what sluice stored) with DCMTK's dcmdata
 * and checks, element by element at every depth, that OUT is IN with the
 * PS3.15 Annex E profile applied as docs/dicom.md describes: the action of
 * each tag comes from the same generated table the engine uses
 * (codecs/dicom/table.h), the rules beyond the table (PN, dates, private and
 * unknown elements, subject pseudonym, UID mapping, added attributes, file
 * meta) are written out here independently of codecs/dicom/deid.c.
 *
 * Prints one line per violation ("PATH: what") and exits 1 if there is any,
 * 0 if none, 2 on a usage or load error.  --verbose also prints, on stderr,
 * what was expected of each element of IN.  Paths look like
 * (0008,1115)[0]/(0008,1155).
 */
/* table.h is C, without C++ guards; its functions share their structs'
 * names, which C++ reports under -Wshadow. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wshadow"
extern "C" {
#include "codecs/dicom/table.h"
}
#pragma GCC diagnostic pop

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcdatset.h>
#include <dcmtk/dcmdata/dcdeftag.h>
#include <dcmtk/dcmdata/dcfilefo.h>
#include <dcmtk/dcmdata/dcitem.h>
#include <dcmtk/dcmdata/dcmetinf.h>
#include <dcmtk/dcmdata/dcpixel.h>
#include <dcmtk/dcmdata/dcpixseq.h>
#include <dcmtk/dcmdata/dcpxitem.h>
#include <dcmtk/dcmdata/dcsequen.h>
#include <dcmtk/dcmdata/dcxfer.h>
#include <dcmtk/oflog/oflog.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

const char *const kOptionNames[SL_DO_COUNT] = {
	"retain-safe-private", "retain-uids", "retain-device-id", "retain-institution-id",
	"retain-patient-chars", "retain-long-full-dates", "retain-long-modified-dates",
	"clean-descriptors", "clean-structured-content", "clean-graphics",
};

const char *const kDicomRoot = "1.2.840.10008.";
const char *const kDeflated = "1.2.840.10008.1.2.1.99";
const char *const kExplicitLE = "1.2.840.10008.1.2.1";

uint32_t tag_of(const DcmObject *o)
{
	return (uint32_t)o->getGTag() << 16 | o->getETag();
}

std::string tag_str(uint32_t tag)
{
	char b[16];
	snprintf(b, sizeof b, "(%04X,%04X)", tag >> 16, tag & 0xFFFF);
	return b;
}

bool date_vr(const std::string &vr) { return vr == "DA" || vr == "DT" || vr == "TM"; }

/* A text value without trailing padding (spaces, NULs). */
std::string trim(std::string s)
{
	while (!s.empty() && (s.back() == ' ' || s.back() == '\0'))
		s.pop_back();
	size_t k = 0;
	while (k < s.size() && s[k] == ' ')
		k++;
	return s.substr(k);
}

std::vector<std::string> split(const std::string &s, char sep)
{
	std::vector<std::string> out;
	size_t start = 0;
	for (size_t i = 0; i <= s.size(); i++)
		if (i == s.size() || s[i] == sep) {
			out.push_back(s.substr(start, i - start));
			start = i + 1;
		}
	return out;
}

bool all_digits(const std::string &s)
{
	if (s.empty())
		return false;
	for (char c : s)
		if (c < '0' || c > '9')
			return false;
	return true;
}

/* YYYYMMDD as a day number, or false if it is not a real date. */
bool day_number(const std::string &s, long *days)
{
	if (s.size() != 8 || !all_digits(s))
		return false;
	struct tm t = {};
	t.tm_year = std::stoi(s.substr(0, 4)) - 1900;
	t.tm_mon = std::stoi(s.substr(4, 2)) - 1;
	t.tm_mday = std::stoi(s.substr(6, 2));
	t.tm_hour = 12;
	struct tm want = t;
	time_t secs = timegm(&t);
	if (t.tm_year != want.tm_year || t.tm_mon != want.tm_mon || t.tm_mday != want.tm_mday)
		return false; /* timegm normalised it: 20230230 and the like */
	*days = (long)(secs / 86400);
	return true;
}

/* What OUT must hold for one element of IN. */
enum class Expect {
	Keep,        /* byte-identical value; a sequence: the same items, checked in turn */
	Absent,      /* removed */
	Empty,       /* present, zero length (a sequence: no items) */
	Dummy,       /* present, non-empty, different */
	Uid,         /* each UID mapped to 2.25.N (DICOM-root UIDs unchanged) */
	UidOrKeep,   /* a UID the table does not list: kept, or mapped as above */
	Subject,     /* the subject pseudonym */
	DateShift,   /* DA/DT moved by the file's one day offset */
	AbsentOrEmpty, /* X/Z, or X/Z/U* on a value that is not a UID */
	AbsentOrDummy, /* X/D */
	EmptyOrDummy,  /* Z/D */
	AnyOfXZD,      /* X/Z/D */
	SeqLenient,  /* X/Z/U* on a sequence: absent, empty, or kept and checked */
	Skip,        /* private elements under retain-safe-private: not checked here */
};

const char *expect_name(Expect e)
{
	switch (e) {
	case Expect::Keep: return "kept unchanged";
	case Expect::Absent: return "removed";
	case Expect::Empty: return "present with zero length";
	case Expect::Dummy: return "replaced by a different non-empty value";
	case Expect::Uid: return "a UID mapped to 2.25.N";
	case Expect::UidOrKeep: return "kept or mapped to 2.25.N";
	case Expect::Subject: return "the subject pseudonym";
	case Expect::DateShift: return "shifted by the file's date offset";
	case Expect::AbsentOrEmpty: return "removed or emptied";
	case Expect::AbsentOrDummy: return "removed or replaced by a dummy";
	case Expect::EmptyOrDummy: return "emptied or replaced by a dummy";
	case Expect::AnyOfXZD: return "removed, emptied or replaced by a dummy";
	case Expect::SeqLenient: return "removed, emptied or kept with its UIDs mapped";
	case Expect::Skip: return "not checked";
	}
	return "?";
}

struct Config {
	unsigned options = 0;
	std::vector<std::string> canaries;
	std::string in, out;
	bool verbose = false;

	bool has(sl_dcm_option o) const { return options & (1u << o); }
};

class Checker {
public:
	explicit Checker(const Config &c) : cfg(c) {}
	int run();

private:
	const Config &cfg;
	DcmFileFormat inff, outff;
	int violations = 0;
	/* per-file state */
	std::map<std::string, std::string> uid_map, uid_rev;
	std::string subject;
	bool have_shift = false;
	long shift = 0;
	std::string shift_where;
	/* Inside a sequence the profile replaces (D) or cleans (C): free text
	 * no rule addresses must be a dummy; 2: codes too (the sequence
	 * replaced was a code sequence, which names a person or place). */
	int dummy_mode = 0;

	void violation(const std::string &path, const std::string &what);
	bool load(DcmFileFormat &ff, const std::string &path);

	/* the rules */
	Expect expect_for(uint32_t tag, const std::string &vr, bool is_sq, int depth) const;
	bool dummy_text(uint32_t tag, const std::string &vr) const;
	int inner_mode(uint32_t tag) const;
	Expect date_policy(const std::string &vr) const;

	/* the walk */
	void check_item(DcmItem *in, DcmItem *out, const std::string &prefix, int depth);
	void check_element(DcmElement *in, DcmElement *out, const std::string &path, int depth);
	void check_added_elements(DcmItem *in, DcmItem *out, const std::string &prefix, int depth);
	void check_items(DcmSequenceOfItems *in, DcmSequenceOfItems *out, const std::string &path,
			 int depth);

	/* one function per kind of value check */
	void check_keep(DcmElement *in, DcmElement *out, const std::string &path);
	void check_pixel_fragments(DcmPixelData *in, DcmPixelData *out, const std::string &path);
	void check_empty(DcmElement *out, const std::string &path);
	void check_dummy(DcmElement *in, DcmElement *out, const std::string &path);
	void check_uid(DcmElement *in, DcmElement *out, const std::string &path, bool may_keep);
	void check_subject(DcmElement *out, const std::string &path);
	void check_date_shift(DcmElement *in, DcmElement *out, const std::string &vr,
			      const std::string &path);
	void check_even_length(DcmElement *out, const std::string &path);
	void check_length_encoding(DcmObject *in, DcmObject *out, const std::string &path);

	/* whole-file checks */
	void check_deid_attributes();
	void check_file_meta();
	void check_canaries();

	std::string vr_of(DcmElement *el) const;
	std::string raw(DcmElement *el, const std::string &path);
	std::string text(DcmElement *el, const std::string &path) { return trim(raw(el, path)); }
	bool map_uid(const std::string &from, const std::string &to, const std::string &path);
};

void Checker::violation(const std::string &path, const std::string &what)
{
	printf("%s: %s\n", path.empty() ? "(file)" : path.c_str(), what.c_str());
	violations++;
}

bool Checker::load(DcmFileFormat &ff, const std::string &path)
{
	OFCondition c = ff.loadFile(path.c_str());
	if (c.bad()) {
		fprintf(stderr, "sl-dcmcheck: cannot load %s: %s\n", path.c_str(), c.text());
		return false;
	}
	return true;
}

/* The VR the de-identifier sees: the file's, or for an implicit VR element
 * DCMTK does not know (UN) the VR sluice's dictionary gives. */
std::string Checker::vr_of(DcmElement *el) const
{
	std::string vr = DcmVR(el->getVR()).getValidVRName();
	if (vr == "UN") {
		const struct sl_dcm_dict *d = sl_dcm_dict(tag_of(el));
		if (d && d->vr[0])
			vr = d->vr;
	}
	return vr;
}

/* The value's bytes, little endian whatever the transfer syntax, so that
 * two encodings in the same byte order compare byte for byte. */
std::string Checker::raw(DcmElement *el, const std::string &path)
{
	Uint32 n = el->getLength();
	std::string v(n, '\0');
	if (n && el->getPartialValue(&v[0], 0, n, NULL, EBO_LittleEndian).bad()) {
		violation(path, "cannot read the value");
		return std::string();
	}
	return v;
}

/* ---- the rules ---- */

/* DA, DT and TM values the table keeps or does not list (PS3.15 E.1 Note 4):
 * emptied by default, kept with retain-long-full-dates, moved by the file's
 * offset with retain-long-modified-dates (a time of day stays). */
Expect Checker::date_policy(const std::string &vr) const
{
	if (cfg.has(SL_DO_RETAIN_LONG_FULL_DATES))
		return Expect::Keep;
	if (cfg.has(SL_DO_RETAIN_LONG_MODIFIED_DATES))
		return vr == "TM" ? Expect::Keep : Expect::DateShift;
	return Expect::Empty;
}

Expect Checker::expect_for(uint32_t tag, const std::string &vr, bool is_sq, int depth) const
{
	uint16_t group = (uint16_t)(tag >> 16);
	if (group & 1) /* private elements and creators */
		return cfg.has(SL_DO_RETAIN_SAFE_PRIVATE) ? Expect::Skip : Expect::Absent;
	if (tag == DCM_PatientName.hash() || tag == DCM_PatientID.hash())
		return Expect::Subject;
	if (group >= 0x6000 && group <= 0x601E)
		return Expect::Absent; /* overlays: the whole group, with its data */
	enum sl_dcm_action a = sl_dcm_action_for(tag, cfg.options);
	if (a == SL_DA_NONE && !sl_dcm_dict(tag))
		return Expect::Absent; /* in neither the table nor the dictionary */
	bool ui = vr == "UI";
	Expect e;
	switch (a) {
	case SL_DA_NONE:
		e = ui ? Expect::UidOrKeep : Expect::Keep;
		if (dummy_mode && !ui && !is_sq && dummy_text(tag, vr))
			return Expect::Dummy;
		break;
	case SL_DA_K:
		e = Expect::Keep;
		break;
	case SL_DA_X:
		return Expect::Absent;
	/* combined actions: any the action names (dciodvfy checks the choice
	 * kept the IOD conformant); a sequence kept is checked item by item */
	case SL_DA_XZ:
		return is_sq ? Expect::SeqLenient : Expect::AbsentOrEmpty;
	case SL_DA_XD:
		return is_sq ? Expect::SeqLenient : Expect::AbsentOrDummy;
	case SL_DA_XZD:
		return is_sq ? Expect::SeqLenient : Expect::AnyOfXZD;
	case SL_DA_ZD:
		e = ui ? Expect::Uid : is_sq ? Expect::SeqLenient : Expect::EmptyOrDummy;
		break;
	case SL_DA_Z:
		e = Expect::Empty;
		break;
	case SL_DA_D:
		/* a sequence: the same items, replaced in turn (dummy_mode) */
		e = ui ? Expect::Uid : is_sq ? Expect::Keep : Expect::Dummy;
		break;
	case SL_DA_U:
		e = ui ? Expect::Uid : is_sq ? Expect::SeqLenient : Expect::AbsentOrEmpty;
		break;
	case SL_DA_XZU:
		e = ui ? Expect::Uid : is_sq ? Expect::SeqLenient : Expect::AbsentOrEmpty;
		break;
	case SL_DA_C:
		/* C is applied as Z, except dates (the date policy) and sequences
		 * kept as structure (clean-structured-content) */
		if (date_vr(vr))
			return date_policy(vr);
		e = is_sq ? Expect::Keep : Expect::Empty;
		break;
	default:
		return Expect::Absent;
	}
	if (e == Expect::Keep && vr == "PN")
		return Expect::Empty; /* every other PN: emptied */
	if (e == Expect::Dummy && date_vr(vr) && date_policy(vr) == Expect::DateShift)
		return Expect::DateShift;
	if ((e == Expect::Keep || e == Expect::UidOrKeep) && date_vr(vr))
		return date_policy(vr);
	(void)depth;
	return e;
}

/* In a replaced sequence, a value the table does not list that must be a
 * dummy: free text (but codes, unless the sequence replaced named a person
 * or place by code) and opaque bytes. */
bool Checker::dummy_text(uint32_t tag, const std::string &vr) const
{
	static const char *const text_vrs[] = {"AE", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"};
	bool code = (tag >= 0x00080100 && tag <= 0x00080104) || tag == 0x00080119 ||
		    tag == 0x00080120;
	for (const char *t : text_vrs)
		if (vr == t)
			return !(code && dummy_mode == 1);
	return vr == "OB" || vr == "UN";
}

/* The dummy mode for the items of sequence TAG, kept. */
int Checker::inner_mode(uint32_t tag) const
{
	enum sl_dcm_action a = sl_dcm_action_for(tag, cfg.options);
	if (a != SL_DA_D && a != SL_DA_C && a != SL_DA_ZD && a != SL_DA_XD && a != SL_DA_XZD)
		return dummy_mode;
	const struct sl_dcm_dict *d = sl_dcm_dict(tag);
	if (d && d->keyword && strstr(d->keyword, "CodeSequence"))
		return 2;
	return dummy_mode ? dummy_mode : 1;
}

/* ---- the walk ---- */

void Checker::check_item(DcmItem *in, DcmItem *out, const std::string &prefix, int depth)
{
	for (unsigned long i = 0; i < in->card(); i++) {
		DcmElement *el = in->getElement(i);
		uint32_t tag = tag_of(el);
		if (depth == 0 && tag >= DCM_PatientIdentityRemoved.hash() &&
		    tag <= DCM_DeidentificationMethodCodeSequence.hash())
			continue; /* written afresh: check_deid_attributes */
		DcmElement *o = NULL;
		out->findAndGetElement(DcmTagKey((Uint16)(tag >> 16), (Uint16)tag), o, OFFalse);
		check_element(el, o, prefix + tag_str(tag), depth);
	}
	check_added_elements(in, out, prefix, depth);
}

/* Nothing in OUT that IN did not have (but the de-identification
 * attributes at the top), and every value of even length. */
void Checker::check_added_elements(DcmItem *in, DcmItem *out, const std::string &prefix,
				   int depth)
{
	for (unsigned long i = 0; i < out->card(); i++) {
		DcmElement *o = out->getElement(i);
		uint32_t tag = tag_of(o);
		if (depth == 0 && tag >= DCM_PatientIdentityRemoved.hash() &&
		    tag <= DCM_DeidentificationMethodCodeSequence.hash())
			continue;
		DcmElement *el = NULL;
		if (in->findAndGetElement(DcmTagKey((Uint16)(tag >> 16), (Uint16)tag), el, OFFalse)
			    .bad())
			violation(prefix + tag_str(tag), "in OUT but not in IN");
	}
}

void Checker::check_element(DcmElement *in, DcmElement *out, const std::string &path,
			    int depth)
{
	std::string vr = vr_of(in);
	bool is_sq = in->ident() == EVR_SQ;
	Expect e = expect_for(tag_of(in), vr, is_sq, depth);
	if (cfg.verbose)
		fprintf(stderr, "%s %s: %s\n", path.c_str(), vr.c_str(), expect_name(e));
	if (e == Expect::Skip)
		return;
	if (!out) {
		if (e != Expect::Absent && e != Expect::AbsentOrEmpty && e != Expect::SeqLenient &&
		    e != Expect::AbsentOrDummy && e != Expect::AnyOfXZD)
			violation(path, std::string("missing; expected ") + expect_name(e));
		return;
	}
	if (e == Expect::Absent) {
		violation(path, "present; expected removed");
		return;
	}
	if (vr_of(out) != vr)
		violation(path, "VR " + vr_of(out) + " in OUT, " + vr + " in IN");
	if (!is_sq)
		check_even_length(out, path);
	if (is_sq) {
		DcmSequenceOfItems *si = static_cast<DcmSequenceOfItems *>(in);
		DcmSequenceOfItems *so = out->ident() == EVR_SQ
						 ? static_cast<DcmSequenceOfItems *>(out) : NULL;
		if (!so) {
			violation(path, "a sequence in IN, not in OUT");
			return;
		}
		check_length_encoding(si, so, path);
		int saved = dummy_mode;
		dummy_mode = inner_mode(tag_of(in));
		switch (e) {
		case Expect::Empty:
		case Expect::AbsentOrEmpty:
			if (so->card())
				violation(path, std::to_string(so->card()) + " item(s); expected none");
			break;
		case Expect::SeqLenient:
			if (so->card())
				check_items(si, so, path, depth);
			break;
		default:
			check_items(si, so, path, depth);
			break;
		}
		dummy_mode = saved;
		return;
	}
	switch (e) {
	case Expect::Keep: check_keep(in, out, path); break;
	case Expect::Empty:
	case Expect::AbsentOrEmpty: check_empty(out, path); break;
	case Expect::Dummy: check_dummy(in, out, path); break;
	case Expect::Uid: check_uid(in, out, path, false); break;
	case Expect::UidOrKeep: check_uid(in, out, path, true); break;
	case Expect::Subject: check_subject(out, path); break;
	case Expect::DateShift: check_date_shift(in, out, vr, path); break;
	case Expect::AbsentOrDummy: check_dummy(in, out, path); break;
	case Expect::EmptyOrDummy:
	case Expect::AnyOfXZD:
		if (out->getLength())
			check_dummy(in, out, path);
		break;
	default: violation(path, std::string("unexpected rule: ") + expect_name(e)); break;
	}
}

void Checker::check_items(DcmSequenceOfItems *in, DcmSequenceOfItems *out,
			  const std::string &path, int depth)
{
	if (in->card() != out->card()) {
		violation(path, std::to_string(out->card()) + " item(s) in OUT, " +
				std::to_string(in->card()) + " in IN");
		return;
	}
	for (unsigned long i = 0; i < in->card(); i++) {
		std::string ip = path + "[" + std::to_string(i) + "]";
		check_length_encoding(in->getItem(i), out->getItem(i), ip);
		check_item(in->getItem(i), out->getItem(i), ip + "/", depth + 1);
	}
}

/* ---- value checks ---- */

void Checker::check_even_length(DcmElement *out, const std::string &path)
{
	Uint32 n = out->getLengthField();
	if (n != DCM_UndefinedLength && (n & 1))
		violation(path, "odd value length " + std::to_string(n) + " in OUT");
}

/* A sequence or item keeps its length encoding: undefined stays undefined,
 * defined stays defined (its value may change). */
void Checker::check_length_encoding(DcmObject *in, DcmObject *out, const std::string &path)
{
	bool ui = in->getLengthField() == DCM_UndefinedLength;
	bool uo = out->getLengthField() == DCM_UndefinedLength;
	if (ui != uo)
		violation(path, std::string(ui ? "undefined" : "defined") + " length in IN, " +
				(uo ? "undefined" : "defined") + " in OUT");
}

void Checker::check_keep(DcmElement *in, DcmElement *out, const std::string &path)
{
	if (in->getTag() == DCM_PixelData && in->getLengthField() == DCM_UndefinedLength) {
		check_pixel_fragments(static_cast<DcmPixelData *>(in),
				      static_cast<DcmPixelData *>(out), path);
		return;
	}
	if (out->getLengthField() == DCM_UndefinedLength) {
		violation(path, "encapsulated in OUT, native in IN");
		return;
	}
	std::string a = raw(in, path), b = raw(out, path);
	if (a.size() != b.size())
		violation(path, "length " + std::to_string(b.size()) + " in OUT, " +
				std::to_string(a.size()) + " in IN; expected unchanged");
	else if (a != b)
		violation(path, "value changed; expected unchanged");
}

/* Encapsulated Pixel Data: the offset table and every fragment identical. */
void Checker::check_pixel_fragments(DcmPixelData *in, DcmPixelData *out,
				    const std::string &path)
{
	DcmPixelSequence *si = NULL, *so = NULL;
	E_TransferSyntax xi = inff.getDataset()->getOriginalXfer();
	E_TransferSyntax xo = outff.getDataset()->getOriginalXfer();
	if (in->getEncapsulatedRepresentation(xi, NULL, si).bad() || !si) {
		violation(path, "cannot read IN's fragments");
		return;
	}
	if (out->getLengthField() != DCM_UndefinedLength ||
	    out->getEncapsulatedRepresentation(xo, NULL, so).bad() || !so) {
		violation(path, "encapsulated in IN, not in OUT");
		return;
	}
	if (si->card() != so->card()) {
		violation(path, std::to_string(so->card()) + " fragment(s) in OUT (offset table "
				"included), " + std::to_string(si->card()) + " in IN");
		return;
	}
	for (unsigned long i = 0; i < si->card(); i++) {
		DcmPixelItem *a = NULL, *b = NULL;
		si->getItem(a, i);
		so->getItem(b, i);
		std::string fp = path + "{" + std::to_string(i) + "}";
		if (!a || !b || raw(a, fp) != raw(b, fp))
			violation(fp, "fragment changed");
	}
}

void Checker::check_empty(DcmElement *out, const std::string &path)
{
	if (out->getLength())
		violation(path, "length " + std::to_string(out->getLength()) +
				"; expected zero length");
}

void Checker::check_dummy(DcmElement *in, DcmElement *out, const std::string &path)
{
	std::string a = raw(in, path), b = raw(out, path);
	if (trim(b).empty())
		violation(path, "empty; expected a replacement value");
	else if (trim(a) == trim(b))
		violation(path, "unchanged; expected a replacement value");
}

/* Record from -> to; false if it contradicts an earlier mapping. */
bool Checker::map_uid(const std::string &from, const std::string &to, const std::string &path)
{
	auto f = uid_map.find(from);
	if (f != uid_map.end() && f->second != to) {
		violation(path, "UID " + from + " mapped to " + to + " here but to " + f->second +
				" elsewhere in the file");
		return false;
	}
	auto r = uid_rev.find(to);
	if (r != uid_rev.end() && r->second != from) {
		violation(path, "UIDs " + from + " and " + r->second + " both mapped to " + to);
		return false;
	}
	uid_map[from] = to;
	uid_rev[to] = from;
	return true;
}

bool mapped_uid_form(const std::string &u)
{
	if (u.compare(0, 5, "2.25.") != 0)
		return false;
	std::string n = u.substr(5);
	return all_digits(n) && (n == "0" || n[0] != '0') && n.size() <= 39 && u.size() <= 64;
}

/* U: every value 2.25.N, different from the input, the same input always
 * to the same output; UIDs under the DICOM root unchanged.  may_keep: a UID
 * the table does not list, which the de-identifier may keep as it is. */
void Checker::check_uid(DcmElement *in, DcmElement *out, const std::string &path,
			bool may_keep)
{
	std::string a = text(in, path), b = text(out, path);
	if (may_keep && a == b)
		return;
	std::vector<std::string> va = split(a, '\\'), vb = split(b, '\\');
	if (a.empty()) {
		if (!b.empty())
			violation(path, "empty in IN, '" + b + "' in OUT");
		return;
	}
	if (va.size() != vb.size()) {
		violation(path, std::to_string(vb.size()) + " UID(s) in OUT, " +
				std::to_string(va.size()) + " in IN");
		return;
	}
	for (size_t i = 0; i < va.size(); i++) {
		const std::string &u = va[i], &m = vb[i];
		if (u.compare(0, strlen(kDicomRoot), kDicomRoot) == 0) {
			if (u != m)
				violation(path, "DICOM-root UID " + u + " changed to " + m);
			continue;
		}
		if (!mapped_uid_form(m))
			violation(path, "UID '" + m + "' is not of the form 2.25.N (IN: " + u + ")");
		else if (m == u)
			violation(path, "UID " + u + " not replaced");
		else
			map_uid(u, m, path);
	}
}

/* Patient's Name and Patient ID: one pseudonym, S + 24 lowercase hex digits. */
void Checker::check_subject(DcmElement *out, const std::string &path)
{
	std::string v = text(out, path);
	bool ok = v.size() == 25 && v[0] == 'S';
	for (size_t i = 1; ok && i < v.size(); i++)
		ok = (v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f');
	if (!ok) {
		violation(path, "'" + v + "' is not a subject pseudonym (S + 24 lowercase hex)");
		return;
	}
	if (subject.empty())
		subject = v;
	else if (subject != v)
		violation(path, "pseudonym " + v + " differs from " + subject +
				" elsewhere in the file");
}

/* retain-long-modified-dates: DA (and the date of a DT) moved by one number
 * of days for the whole file, the rest of a DT unchanged; a value that is not
 * a date may be emptied.  (TM is kept: date_policy.) */
void Checker::check_date_shift(DcmElement *in, DcmElement *out, const std::string &vr,
			       const std::string &path)
{
	std::string a = text(in, path), b = text(out, path);
	if (a.empty()) {
		if (!b.empty())
			violation(path, "empty in IN, '" + b + "' in OUT");
		return;
	}
	std::vector<std::string> va = split(a, '\\'), vb = split(b, '\\');
	if (b.empty()) {
		long d;
		for (auto &v : va)
			if (v.size() >= 8 && day_number(v.substr(0, 8), &d))
				violation(path, "emptied; expected the date shifted");
		return;
	}
	if (va.size() != vb.size()) {
		violation(path, "value count changed");
		return;
	}
	for (size_t i = 0; i < va.size(); i++) {
		long da, db;
		const std::string &x = va[i], &y = vb[i];
		if (x.size() < 8 || !day_number(x.substr(0, 8), &da)) {
			violation(path, "'" + x + "' is not a date in IN but '" + y + "' in OUT");
			continue;
		}
		if (y.size() != x.size() || !day_number(y.substr(0, 8), &db)) {
			violation(path, "'" + y + "' is not a " + vr + " of IN's format ('" + x + "')");
			continue;
		}
		if (x.substr(8) != y.substr(8))
			violation(path, "time part changed: '" + x + "' -> '" + y + "'");
		long s = db - da;
		if (s == 0)
			violation(path, "date " + x + " not shifted");
		else if (s > 0 || s < -3650)
			violation(path, "shifted by " + std::to_string(s) + " days; expected back by "
					"1 to 3650 days");
		else if (!have_shift) {
			have_shift = true;
			shift = s;
			shift_where = path;
		} else if (s != shift) {
			violation(path, "shifted by " + std::to_string(s) + " days, but by " +
					std::to_string(shift) + " at " + shift_where);
		}
	}
}

/* ---- whole-file checks ---- */

/* (0012,0062) YES, (0012,0063) non-empty, (0012,0064) with 113100/DCM. */
void Checker::check_deid_attributes()
{
	DcmDataset *ds = outff.getDataset();
	OFString v;
	if (ds->findAndGetOFString(DCM_PatientIdentityRemoved, v).bad())
		violation(tag_str(DCM_PatientIdentityRemoved.hash()), "missing (want YES)");
	else if (trim(v.c_str()) != "YES")
		violation(tag_str(DCM_PatientIdentityRemoved.hash()),
			  std::string("'") + v.c_str() + "'; want YES");
	if (ds->findAndGetOFString(DCM_DeidentificationMethod, v).bad() || trim(v.c_str()).empty())
		violation(tag_str(DCM_DeidentificationMethod.hash()), "missing or empty");
	bool found = false;
	DcmItem *it = NULL;
	for (long i = 0; ds->findAndGetSequenceItem(DCM_DeidentificationMethodCodeSequence, it,
						    (int)i).good(); i++) {
		OFString code, scheme;
		it->findAndGetOFString(DCM_CodeValue, code);
		it->findAndGetOFString(DCM_CodingSchemeDesignator, scheme);
		if (trim(code.c_str()) == "113100" && trim(scheme.c_str()) == "DCM")
			found = true;
	}
	if (!found)
		violation(tag_str(DCM_DeidentificationMethodCodeSequence.hash()),
			  "no item with Code Value 113100, Coding Scheme Designator DCM");
}

void Checker::check_file_meta()
{
	DcmMetaInfo *m = outff.getMetaInfo();
	DcmDataset *ds = outff.getDataset();
	OFString msi, msc, ts, si, sc;
	if (!m || m->card() == 0) {
		violation("(0002,xxxx)", "OUT has no file meta information");
		return;
	}
	m->findAndGetOFString(DCM_MediaStorageSOPInstanceUID, msi);
	m->findAndGetOFString(DCM_MediaStorageSOPClassUID, msc);
	m->findAndGetOFString(DCM_TransferSyntaxUID, ts);
	ds->findAndGetOFString(DCM_SOPInstanceUID, si);
	ds->findAndGetOFString(DCM_SOPClassUID, sc);
	if (trim(msi.c_str()) != trim(si.c_str()))
		violation("(0002,0003)", std::string("'") + msi.c_str() + "' differs from OUT's "
			  "(0008,0018) '" + si.c_str() + "'");
	if (trim(msc.c_str()) != trim(sc.c_str()))
		violation("(0002,0002)", std::string("'") + msc.c_str() + "' differs from OUT's "
			  "(0008,0016) '" + sc.c_str() + "'");
	/* IN's (0002,0003) (or, without meta, its SOP Instance UID) maps to OUT's */
	OFString in_msi;
	DcmMetaInfo *im = inff.getMetaInfo();
	if (im && im->findAndGetOFString(DCM_MediaStorageSOPInstanceUID, in_msi).good() &&
	    !trim(in_msi.c_str()).empty() && !cfg.has(SL_DO_RETAIN_UIDS)) {
		auto f = uid_map.find(trim(in_msi.c_str()));
		if (f != uid_map.end() && f->second != trim(msi.c_str()))
			violation("(0002,0003)", "not the mapping of IN's (0002,0003)");
	}
	std::string want = DcmXfer(inff.getDataset()->getOriginalXfer()).getXferID();
	if (want == kDeflated)
		want = kExplicitLE;
	if (trim(ts.c_str()) != want)
		violation("(0002,0010)", std::string("transfer syntax ") + ts.c_str() +
			  "; expected " + want);
	std::string got = DcmXfer(ds->getOriginalXfer()).getXferID();
	if (got != trim(ts.c_str()))
		violation("(0002,0010)", "says " + trim(ts.c_str()) + " but the data set is " + got);
	/* a new meta group: nothing of IN's carried over (source AE titles,
	 * private meta elements) */
	static const std::set<uint32_t> allowed = {
		DCM_FileMetaInformationGroupLength.hash(), DCM_FileMetaInformationVersion.hash(),
		DCM_MediaStorageSOPClassUID.hash(), DCM_MediaStorageSOPInstanceUID.hash(),
		DCM_TransferSyntaxUID.hash(), DCM_ImplementationClassUID.hash(),
		DCM_ImplementationVersionName.hash(),
	};
	for (unsigned long i = 0; i < m->card(); i++) {
		uint32_t tag = tag_of(m->getElement(i));
		if (!allowed.count(tag))
			violation(tag_str(tag), "file meta element not in a new meta group");
	}
}

/* No canary anywhere in OUT's bytes, preamble and meta included; Part 10
 * with a new preamble of 128 zero bytes. */
void Checker::check_canaries()
{
	std::ifstream f(cfg.out, std::ios::binary);
	std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
	if (bytes.size() < 132 || bytes.compare(128, 4, "DICM") != 0)
		violation("", "OUT is not a Part 10 file (no DICM after a 128-byte preamble)");
	else if (bytes.find_first_not_of('\0') < 128)
		violation("", "OUT's preamble is not 128 zero bytes");
	for (const std::string &c : cfg.canaries) {
		size_t at = bytes.find(c);
		if (at != std::string::npos)
			violation("", "canary '" + c + "' found in OUT at byte " + std::to_string(at));
	}
}

int Checker::run()
{
	if (!load(inff, cfg.in) || !load(outff, cfg.out))
		return 2;
	check_item(inff.getDataset(), outff.getDataset(), "", 0);
	check_deid_attributes();
	check_file_meta();
	check_canaries();
	return violations ? 1 : 0;
}

int usage()
{
	fprintf(stderr, "usage: sl-dcmcheck [--options a,b,...] [--canary STR]... [--verbose] "
			"IN OUT\n"
			"options:");
	for (const char *n : kOptionNames)
		fprintf(stderr, " %s", n);
	fprintf(stderr, "\n");
	return 2;
}

bool parse_options(const std::string &list, unsigned *bits)
{
	for (const std::string &name : split(list, ',')) {
		if (name.empty())
			continue;
		int i = 0;
		while (i < SL_DO_COUNT && name != kOptionNames[i])
			i++;
		if (i == SL_DO_COUNT) {
			fprintf(stderr, "sl-dcmcheck: unknown option '%s'\n", name.c_str());
			return false;
		}
		*bits |= 1u << i;
	}
	return true;
}

} // namespace

int main(int argc, char **argv)
{
	Config cfg;
	std::vector<std::string> files;
	for (int i = 1; i < argc; i++) {
		std::string a = argv[i];
		if ((a == "--options" || a == "--canary") && i + 1 >= argc)
			return usage();
		if (a == "--options") {
			if (!parse_options(argv[++i], &cfg.options))
				return usage();
		} else if (a == "--canary") {
			cfg.canaries.push_back(argv[++i]);
			if (cfg.canaries.back().empty())
				return usage();
		} else if (a == "--verbose") {
			cfg.verbose = true;
		} else if (a.compare(0, 2, "--") == 0) {
			return usage();
		} else {
			files.push_back(a);
		}
	}
	if (files.size() != 2)
		return usage();
	cfg.in = files[0];
	cfg.out = files[1];
	/* DCMTK's own warnings about odd inputs are not violations */
	OFLog::configure(OFLogger::ERROR_LOG_LEVEL);
	Checker c(cfg);
	return c.run();
}
