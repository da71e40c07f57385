/* deid.c: PS3.15 Annex E applied to a parsed element tree as it is written
 * back.  Untouched elements are written with the header they had and the
 * value bytes they had; sequence and item lengths are recomputed only when
 * something inside changed size and the input gave a defined length. */
#include "dicom_impl.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum act { A_KEEP, A_REMOVE, A_EMPTY, A_DUMMY, A_UID, A_SHIFT, A_SUBJECT };

/* How the items of a sequence are treated.  Normal: the profile's rules.
 * Inside a sequence the profile replaces (D) or cleans (C), such as the SR
 * Content Sequence: the structure stays (so the IOD stays conformant), the
 * rules still apply, and every free-text value no rule addresses becomes a
 * dummy, because nothing tells us what free text holds.  Codes stay (they
 * name concepts), unless the sequence replaced is itself a code sequence
 * (Person Identification Code Sequence: there the code is the person). */
enum mode { M_NORMAL, M_DUMMY, M_DUMMY_CODES };

static const char *const option_names[SL_DO_COUNT] = {
	"retain-safe-private", "retain-uids", "retain-device-id", "retain-institution-id",
	"retain-patient-chars", "retain-long-full-dates", "retain-long-modified-dates",
	"clean-descriptors", "clean-structured-content", "clean-graphics",
};

/* CID 7050 code per option, after 113100 for the Basic Profile. */
static const struct { const char *code, *meaning; } option_codes[SL_DO_COUNT] = {
	{"113111", "Retain Safe Private Option"},
	{"113110", "Retain UIDs Option"},
	{"113109", "Retain Device Identity Option"},
	{"113112", "Retain Institution Identity Option"},
	{"113108", "Retain Patient Characteristics Option"},
	{"113106", "Retain Longitudinal Temporal Information Full Dates Option"},
	{"113107", "Retain Longitudinal Temporal Information Modified Dates Option"},
	{"113105", "Clean Descriptors Option"},
	{"113104", "Clean Structured Content Option"},
	{"113103", "Clean Graphics Option"},
};

/* ---- policy ---- */

static int parse_options(struct dcm_policy *pol, const char *v, sl_err *err)
{
	char *list = sl_xstrdup(v), *save = NULL;
	int rc = 0;
	for (char *t = strtok_r(list, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
		int i = 0;
		while (i < SL_DO_COUNT && strcmp(t, option_names[i]))
			i++;
		if (i == SL_DO_COUNT)
			rc = sl_fail(err, SL_E_USAGE, "--dicom-options: unknown option '%s' (known: "
				     "retain-safe-private, retain-uids, retain-device-id, "
				     "retain-institution-id, retain-patient-chars, "
				     "retain-long-full-dates, retain-long-modified-dates, "
				     "clean-descriptors, clean-structured-content, clean-graphics)", t);
		else
			pol->options |= 1u << i;
	}
	free(list);
	return rc;
}

/* One "CREATOR (gggg,xxee)" per line: the private creator and the element
 * within its block; '#' starts a comment. */
static int parse_allowlist(struct dcm_policy *pol, const char *text, size_t len, sl_err *err)
{
	char *copy = sl_xmalloc(len + 1), *save = NULL;
	memcpy(copy, text, len);
	copy[len] = 0;
	int rc = 0, lineno = 0;
	for (char *l = strtok_r(copy, "\n", &save); l && rc == 0; l = strtok_r(NULL, "\n", &save)) {
		lineno++;
		char *hash = strchr(l, '#');
		if (hash)
			*hash = 0;
		size_t n = strlen(l);
		while (n && isspace((unsigned char)l[n - 1]))
			l[--n] = 0;
		while (isspace((unsigned char)*l))
			l++, n--;
		if (!n)
			continue;
		unsigned g, e;
		char *paren = strrchr(l, '(');
		if (!paren || sscanf(paren, "(%4x,xx%2x)", &g, &e) != 2 || !(g & 1) || paren == l)
			rc = sl_fail(err, SL_E_USAGE, "--dicom-private-allowlist line %d: want "
				     "'CREATOR (gggg,xxee)' with an odd group", lineno);
		else {
			char *end = paren;
			while (end > l && isspace((unsigned char)end[-1]))
				end--;
			*end = 0;
			sl_buf b;
			sl_buf_init(&b);
			sl_buf_printf(&b, "%s\\%04X,%02X", l, g, e);
			pol->allow = sl_xrealloc(pol->allow, (pol->nallow + 1) * sizeof *pol->allow);
			pol->allow[pol->nallow++] = b.data;
		}
	}
	free(copy);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void policy_json(struct dcm_policy *pol)
{
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_puts(&b, "{\"profile\":\"PS3.15 E.1-1 basic\",\"options\":[");
	for (int i = 0, n = 0; i < SL_DO_COUNT; i++)
		if (pol->options & (1u << i))
			sl_buf_printf(&b, "%s\"%s\"", n++ ? "," : "", option_names[i]);
	sl_buf_printf(&b, "],\"unknown\":\"%s\",\"burned_in\":\"%s\",\"private_allowlist\":[",
		      pol->keep_unknown ? "keep" : "remove",
		      pol->accept_burned_in ? "accept" : "reject");
	if (pol->nallow)
		qsort(pol->allow, pol->nallow, sizeof *pol->allow, cmp_str);
	for (size_t i = 0; i < pol->nallow; i++) {
		if (i)
			sl_buf_puts(&b, ",");
		sl_buf_json_str(&b, pol->allow[i]);
	}
	sl_buf_puts(&b, "]}");
	free(pol->json);
	pol->json = b.data;
}

int dcm_parse_policy(struct dcm_policy *pol, const char *name, const char *value, size_t len,
		     sl_err *err)
{
	int rc = 0;
	if (!strcmp(name, "dicom-options"))
		rc = parse_options(pol, value, err);
	else if (!strcmp(name, "dicom-unknown") && (!strcmp(value, "keep") || !strcmp(value, "remove")))
		pol->keep_unknown = !strcmp(value, "keep");
	else if (!strcmp(name, "dicom-unknown"))
		rc = sl_fail(err, SL_E_USAGE, "--dicom-unknown wants keep or remove, not '%s'", value);
	else if (!strcmp(name, "dicom-burned-in") &&
		 (!strcmp(value, "accept") || !strcmp(value, "reject")))
		pol->accept_burned_in = !strcmp(value, "accept");
	else if (!strcmp(name, "dicom-burned-in"))
		rc = sl_fail(err, SL_E_USAGE, "--dicom-burned-in wants accept or reject, not '%s'", value);
	else if (!strcmp(name, "dicom-private-allowlist"))
		rc = parse_allowlist(pol, value, len, err);
	if (rc == 0)
		policy_json(pol);
	return rc;
}

/* ---- values ---- */

static int is_vr(const char *vr, const char *want) { return vr[0] == want[0] && vr[1] == want[1]; }

static int is_text_vr(const char *vr)
{
	static const char *const t[] = {"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT",
					"PN", "SH", "ST", "TM", "UC", "UI", "UR", "UT"};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++)
		if (is_vr(vr, t[i]))
			return 1;
	return 0;
}

/* Values are padded to even length: UI with NUL, other text with a space. */
static void put_text(sl_buf *b, const struct dcm_enc *enc, uint32_t tag, const char *vr,
		     const char *s, size_t n)
{
	dcm_put_header(b, enc, tag, vr, (uint32_t)(n + (n & 1)));
	sl_buf_add(b, s, n);
	if (n & 1)
		sl_buf_add(b, is_vr(vr, "UI") ? "\0" : " ", 1);
}

void dcm_put_header(sl_buf *b, const struct dcm_enc *enc, uint32_t tag, const char *vr,
		    uint32_t len)
{
	uint8_t h[12];
	size_t n;
	uint16_t g = (uint16_t)(tag >> 16), e = (uint16_t)tag;
	int big = enc->big;
	if (big) {
		h[0] = (uint8_t)(g >> 8), h[1] = (uint8_t)g, h[2] = (uint8_t)(e >> 8), h[3] = (uint8_t)e;
	} else {
		h[0] = (uint8_t)g, h[1] = (uint8_t)(g >> 8), h[2] = (uint8_t)e, h[3] = (uint8_t)(e >> 8);
	}
	uint8_t *l = h + 4;
	if (enc->explicit_vr && g != 0xFFFE) {
		h[4] = (uint8_t)vr[0], h[5] = (uint8_t)vr[1];
		if (!dcm_long_vr(vr)) {
			h[6] = big ? (uint8_t)(len >> 8) : (uint8_t)len;
			h[7] = big ? (uint8_t)len : (uint8_t)(len >> 8);
			sl_buf_add(b, h, 8);
			return;
		}
		h[6] = h[7] = 0;
		l = h + 8;
	}
	n = (size_t)(l - h) + 4;
	for (int i = 0; i < 4; i++)
		l[i] = (uint8_t)(len >> (big ? 24 - 8 * i : 8 * i));
	sl_buf_add(b, h, n);
}

/* 2.25.<decimal of 128 keyed bits>: the same UID maps the same way in every
 * file, batch and machine using the key. */
void dcm_map_uid(const struct sl_deid_ctx *ctx, const char *uid, size_t n, sl_buf *out)
{
	while (n && (uid[n - 1] == 0 || uid[n - 1] == ' '))
		n--;
	if (n >= 14 && !memcmp(uid, "1.2.840.10008.", 14)) {
		sl_buf_add(out, uid, n);
		return;
	}
	uint8_t d[32];
	sl_key_hmac(ctx->key, "uid", uid, n, d);
	d[0] &= 0x7f;
	unsigned __int128 v = 0;
	for (int i = 0; i < 16; i++)
		v = v << 8 | d[i];
	char dec[48];
	int k = (int)sizeof dec;
	dec[--k] = 0;
	do {
		dec[--k] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	sl_buf_puts(out, "2.25.");
	sl_buf_puts(out, dec + k);
}

static void map_uids(const struct dcm_file *f, const char *v, size_t n, sl_buf *out)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++)
		if (i == n || v[i] == '\\') {
			if (start)
				sl_buf_add(out, "\\", 1);
			dcm_map_uid(f->ctx, v + start, i - start, out);
			start = i + 1;
		}
}

static long days_from_civil(long y, unsigned m, unsigned d)
{
	y -= m <= 2;
	long era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long)doe - 719468;
}

static void civil_from_days(long z, long *y, unsigned *m, unsigned *d)
{
	z += 719468;
	long era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (long)yoe + era * 400 + (*m <= 2);
}

/* Shift one YYYYMMDD (the first 8 characters of s); 0 if it is not a date. */
static int shift_date(const char *s, size_t n, int days, char out[9])
{
	unsigned y, m, d;
	if (n < 8)
		return 0;
	for (int i = 0; i < 8; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	if (sscanf(s, "%4u%2u%2u", &y, &m, &d) != 3 || m < 1 || m > 12 || d < 1 || d > 31)
		return 0;
	long yy;
	unsigned mm, dd;
	civil_from_days(days_from_civil((long)y, m, d) + days, &yy, &mm, &dd);
	if (yy < 0 || yy > 9999)
		return 0;
	snprintf(out, 9, "%04ld%02u%02u", yy, mm % 100, dd % 100);
	return 1;
}

/* DA and DT values (ranges and multiple values too): every date moved by
 * the subject's offset, times of day kept.  0 if a value is not a date. */
static int shift_dates(const struct dcm_file *f, const char *v, size_t n, sl_buf *out)
{
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && v[i] != '\\' && v[i] != '-')
			continue;
		size_t len = i - start;
		while (len && v[start + len - 1] == ' ')
			len--;
		char d[9];
		if (len && !shift_date(v + start, len, f->date_shift, d))
			return 0;
		if (len) {
			sl_buf_add(out, d, 8);
			sl_buf_add(out, v + start + 8, len - 8);
		}
		if (i < n)
			sl_buf_add(out, v + i, 1);
		start = i + 1;
	}
	return 1;
}

static const char *dummy_for(const char *vr)
{
	if (is_vr(vr, "DA"))
		return "19000101";
	if (is_vr(vr, "DT"))
		return "19000101000000";
	if (is_vr(vr, "TM"))
		return "000000";
	if (is_vr(vr, "DS") || is_vr(vr, "IS"))
		return "0";
	if (is_vr(vr, "AS"))
		return "000Y";
	if (is_vr(vr, "PN"))
		return "ANONYMOUS";
	return "ANONYMIZED";
}

/* ---- actions ---- */

static int date_vr(const char *vr)
{
	return is_vr(vr, "DA") || is_vr(vr, "DT") || is_vr(vr, "TM");
}

/* The date policy for a date, time or datetime the table keeps or does not
 * list (PS3.15 E.1 Note 4). */
static enum act date_policy(const struct dcm_file *f, const char *vr)
{
	if (f->pol->options & (1u << SL_DO_RETAIN_LONG_FULL_DATES))
		return A_KEEP;
	if (f->pol->options & (1u << SL_DO_RETAIN_LONG_MODIFIED_DATES))
		return is_vr(vr, "TM") ? A_KEEP : A_SHIFT;
	return A_EMPTY;
}

/* UI elements the table does not list: class and syntax UIDs name kinds of
 * things, not patients; any other UID is treated as an instance UID. */
static enum act unlisted_uid(const struct sl_dcm_dict *d)
{
	if (!d || !d->keyword)
		return A_UID;
	if (strstr(d->keyword, "Class") || strstr(d->keyword, "Syntax") ||
	    strstr(d->keyword, "CodingScheme") || strstr(d->keyword, "MappingResource") ||
	    strstr(d->keyword, "ContextUID"))
		return A_KEEP;
	return A_UID;
}

/* The private creator of a private element, looked up among its siblings. */
static const char *creator_of(const struct dcm_parser *p, const struct dcm_item *sib,
			      uint32_t tag, size_t *n)
{
	uint32_t ct = (tag & 0xFFFF0000) | ((tag >> 8) & 0xFF);
	for (size_t i = 0; sib && i < sib->nels; i++)
		if (sib->els[i].tag == ct) {
			const char *v = p->arena.data + sib->els[i].voff;
			*n = sib->els[i].vlen;
			while (*n && (v[*n - 1] == ' ' || v[*n - 1] == 0))
				(*n)--;
			return v;
		}
	return NULL;
}

static int allowed_private(const struct dcm_file *f, const struct dcm_parser *p,
			   const struct dcm_item *sib, const struct dcm_el *el)
{
	if (!(f->pol->options & (1u << SL_DO_RETAIN_SAFE_PRIVATE)))
		return 0;
	uint32_t e = el->tag & 0xFFFF;
	size_t n = 0;
	const char *creator = NULL;
	if (e >= 0x10 && e <= 0xFF) {
		/* a creator stays when any element of its block is allowed */
		creator = p->arena.data + el->voff;
		n = el->vlen;
		while (n && (creator[n - 1] == ' ' || creator[n - 1] == 0))
			n--;
	} else if (e > 0xFF) {
		creator = creator_of(p, sib, el->tag, &n);
	}
	if (!creator)
		return 0;
	char want[16];
	snprintf(want, sizeof want, "\\%04X,%02X", el->tag >> 16, e & 0xFF);
	for (size_t i = 0; i < f->pol->nallow; i++) {
		const char *a = f->pol->allow[i], *bs = strrchr(a, '\\');
		if ((size_t)(bs - a) != n || memcmp(a, creator, n))
			continue;
		if (e <= 0xFF || !strcmp(bs, want))
			return 1;
	}
	return 0;
}

/* Z/D, X/Z, X/D, X/Z/D: the weakest action the attribute's type in this
 * file's IOD allows; where the type is not known, the strictest type the
 * action allows (D over Z over X), which keeps the IOD conformant. */
static enum sl_dcm_action resolve(const struct dcm_file *f, uint32_t tag, enum sl_dcm_action a)
{
	int type = dcm_iod_type(tag, f->family);
	int has_z = a == SL_DA_ZD || a == SL_DA_XZ || a == SL_DA_XZD;
	int has_d = a == SL_DA_ZD || a == SL_DA_XD || a == SL_DA_XZD;
	int has_x = a != SL_DA_ZD;
	if (type == 3 && has_x)
		return SL_DA_X;
	if ((type == 3 || type == 2) && has_z)
		return SL_DA_Z;
	return has_d ? SL_DA_D : SL_DA_Z;
}

static int free_text_vr(const char *vr)
{
	static const char *const t[] = {"AE", "LO", "LT", "PN", "SH", "ST", "UC", "UR", "UT"};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++)
		if (is_vr(vr, t[i]))
			return 1;
	return 0;
}

/* Code Value, Coding Scheme Designator and Version, Code Meaning, Long and
 * URN Code Value. */
static int code_element(uint32_t tag)
{
	return (tag >= DCM_TAG(0x0008, 0x0100) && tag <= DCM_TAG(0x0008, 0x0104)) ||
	       tag == DCM_TAG(0x0008, 0x0119) || tag == DCM_TAG(0x0008, 0x0120);
}

/* An element the table does not list, inside a replaced sequence. */
static enum act unlisted_in_dummy(const struct dcm_el *el, enum mode m)
{
	if (free_text_vr(el->vr))
		return code_element(el->tag) && m == M_DUMMY ? A_KEEP : A_DUMMY;
	if (is_vr(el->vr, "OB") || is_vr(el->vr, "UN"))
		return A_DUMMY; /* opaque bytes: zeros */
	return A_KEEP;
}

/* The action on el, and for a sequence kept, how its items are treated
 * (*inner, which may be NULL). */
static enum act decide(const struct dcm_file *f, const struct dcm_parser *p,
		       const struct dcm_item *sib, const struct dcm_el *el, int depth,
		       enum mode m, enum mode *inner)
{
	if (inner)
		*inner = m;
	uint32_t tag = el->tag;
	if ((tag >> 16) & 1)
		return allowed_private(f, p, sib, el) ? A_KEEP : A_REMOVE;
	if ((tag & 0xFFFF) == 0)
		return A_REMOVE; /* group lengths: wrong once anything changes */
	/* Overlays: the profile removes Overlay Data (and cleaning cannot tell
	 * a drawing from burned-in text); an overlay without its data breaks
	 * the Overlay Plane module, so the whole group goes. */
	if ((tag >> 16) >= 0x6000 && (tag >> 16) <= 0x601E)
		return A_REMOVE;
	if (tag == DCM_TAG(0x0010, 0x0010) || tag == DCM_TAG(0x0010, 0x0020))
		return A_SUBJECT;
	if (depth == 0 && tag >= DCM_TAG(0x0012, 0x0062) && tag <= DCM_TAG(0x0012, 0x0064))
		return A_REMOVE; /* written afresh */
	const struct sl_dcm_dict *d = sl_dcm_dict(tag);
	enum act a;
	enum sl_dcm_action da = sl_dcm_action_for(tag, f->pol->options);
	if (da == SL_DA_ZD || da == SL_DA_XZ || da == SL_DA_XD || da == SL_DA_XZD)
		da = resolve(f, tag, da);
	switch (da) {
	case SL_DA_NONE:
		if (!d && !f->pol->keep_unknown)
			return A_REMOVE;
		a = is_vr(el->vr, "UI") ? unlisted_uid(d) : m != M_NORMAL
		    ? unlisted_in_dummy(el, m) : A_KEEP;
		break;
	case SL_DA_K: a = A_KEEP; break;
	case SL_DA_X: return A_REMOVE;
	case SL_DA_Z: a = A_EMPTY; break;
	/* D or C on a sequence: kept, its items replaced in turn (enum mode) */
	case SL_DA_D: a = is_vr(el->vr, "UI") ? A_UID : el->is_sq ? A_KEEP : A_DUMMY; break;
	case SL_DA_C: a = el->is_sq ? A_KEEP : date_vr(el->vr) ? date_policy(f, el->vr) : A_EMPTY;
		break;
	case SL_DA_XZU: case SL_DA_U:
		/* U* on a sequence: kept, its UIDs replaced inside */
		a = is_vr(el->vr, "UI") ? A_UID : el->is_sq ? A_KEEP : A_REMOVE;
		break;
	default: return A_REMOVE;
	}
	if (inner && el->is_sq && (da == SL_DA_D || da == SL_DA_C))
		*inner = d && d->keyword && strstr(d->keyword, "CodeSequence") ? M_DUMMY_CODES
			 : m == M_DUMMY_CODES ? m : M_DUMMY;
	if (a == A_KEEP && is_vr(el->vr, "PN"))
		return m != M_NORMAL ? A_DUMMY : A_EMPTY;
	if (a == A_KEEP && date_vr(el->vr))
		return date_policy(f, el->vr);
	if (a == A_DUMMY && date_vr(el->vr) && date_policy(f, el->vr) == A_SHIFT)
		return A_SHIFT;
	return a;
}

/* ---- writing ---- */

static void emit_item_els(struct dcm_file *f, sl_buf *out, const struct dcm_parser *p,
			  const struct dcm_enc *enc, const struct dcm_item *it, int depth,
			  enum mode m);

static void emit_sq(struct dcm_file *f, sl_buf *out, const struct dcm_parser *p,
		    const struct dcm_enc *enc, const struct dcm_el *el, int depth, int empty,
		    enum mode m)
{
	struct dcm_enc ienc = el->implicit_items ? (struct dcm_enc){0, 0} : *enc;
	sl_buf body;
	sl_buf_init(&body);
	for (size_t i = 0; !empty && i < el->nitems; i++) {
		const struct dcm_item *it = &el->items[i];
		sl_buf ib;
		sl_buf_init(&ib);
		emit_item_els(f, &ib, p, &ienc, it, depth + 1, m);
		dcm_put_header(&body, &ienc, DCM_ITEM, NULL, it->len == DCM_UNDEF ? DCM_UNDEF
			       : (uint32_t)ib.len);
		sl_buf_add(&body, ib.data, ib.len);
		if (it->len == DCM_UNDEF)
			dcm_put_header(&body, &ienc, DCM_ITEM_END, NULL, 0);
		sl_buf_free(&ib);
	}
	dcm_put_header(out, enc, el->tag, el->vr, el->len == DCM_UNDEF ? DCM_UNDEF
		       : (uint32_t)body.len);
	sl_buf_add(out, body.data, body.len);
	if (el->len == DCM_UNDEF)
		dcm_put_header(out, &ienc, DCM_SEQ_END, NULL, 0);
	sl_buf_free(&body);
}

static void emit_value(struct dcm_file *f, sl_buf *out, const struct dcm_parser *p,
		       const struct dcm_enc *enc, const struct dcm_el *el, enum act a)
{
	const char *v = p->arena.data + el->voff;
	size_t n = el->vlen;
	sl_buf nv;
	sl_buf_init(&nv);
	switch (a) {
	case A_KEEP:
		dcm_put_header(out, enc, el->tag, el->vr, el->len);
		sl_buf_add(out, v, n);
		return;
	case A_REMOVE:
		f->removed++;
		return;
	case A_EMPTY:
		f->emptied++;
		dcm_put_header(out, enc, el->tag, el->vr, 0);
		return;
	case A_SUBJECT:
		f->replaced++;
		put_text(out, enc, el->tag, el->vr, f->subject, strlen(f->subject));
		return;
	case A_UID:
		if (!is_vr(el->vr, "UI"))
			break;
		f->uids++;
		map_uids(f, v, n, &nv);
		put_text(out, enc, el->tag, el->vr, nv.data ? nv.data : "", nv.len);
		sl_buf_free(&nv);
		return;
	case A_SHIFT:
		if (!is_vr(el->vr, "DA") && !is_vr(el->vr, "DT"))
			break;
		if (!shift_dates(f, v, n, &nv)) {
			sl_buf_free(&nv);
			f->emptied++;
			dcm_put_header(out, enc, el->tag, el->vr, 0);
			return;
		}
		f->shifted++;
		put_text(out, enc, el->tag, el->vr, nv.data ? nv.data : "", nv.len);
		sl_buf_free(&nv);
		return;
	case A_DUMMY:
		break;
	}
	f->replaced++;
	if (is_text_vr(el->vr)) {
		const char *d = dummy_for(el->vr);
		put_text(out, enc, el->tag, el->vr, d, strlen(d));
	} else {
		/* binary: zeros of the same length keep the value well formed */
		dcm_put_header(out, enc, el->tag, el->vr, (uint32_t)n);
		for (size_t i = 0; i < n; i++)
			sl_buf_add(out, "", 1);
	}
}

static void emit_el(struct dcm_file *f, sl_buf *out, const struct dcm_parser *p,
		    const struct dcm_enc *enc, const struct dcm_item *sib, const struct dcm_el *el,
		    int depth, enum mode m)
{
	enum mode inner;
	enum act a = decide(f, p, sib, el, depth, m, &inner);
	if (el->is_sq) {
		if (a == A_REMOVE) {
			f->removed++;
			return;
		}
		/* Z on a sequence: present, without items */
		emit_sq(f, out, p, enc, el, depth, a != A_KEEP, inner);
		return;
	}
	emit_value(f, out, p, enc, el, a);
}

static void emit_item_els(struct dcm_file *f, sl_buf *out, const struct dcm_parser *p,
			  const struct dcm_enc *enc, const struct dcm_item *it, int depth,
			  enum mode m)
{
	for (size_t i = 0; i < it->nels; i++)
		emit_el(f, out, p, enc, it, &it->els[i], depth, m);
}

void dcm_value_out(struct dcm_file *f, const struct dcm_parser *p, const struct dcm_el *el,
		   sl_buf *v)
{
	sl_buf b;
	sl_buf_init(&b);
	emit_value(f, &b, p, &f->enc, el, decide(f, p, NULL, el, 0, M_NORMAL, NULL));
	size_t hs = f->enc.explicit_vr && dcm_long_vr(el->vr) ? 12 : 8;
	if (b.len > hs)
		sl_buf_add(v, b.data + hs, b.len - hs);
	sl_buf_free(&b);
}

void dcm_emit(struct dcm_file *f, sl_buf *out, const struct dcm_parser *p,
	      const struct dcm_el *el)
{
	dcm_emit_added(f, out, el->tag);
	emit_el(f, out, p, &f->enc, NULL, el, 0, M_NORMAL);
}

int dcm_keep_bulk(const struct dcm_file *f, uint32_t tag)
{
	if ((tag >> 16) & 1)
		return 0; /* a private bulk value: its creator is not at hand */
	struct dcm_el el = {.tag = tag, .vr = "OB"};
	const struct sl_dcm_dict *d = sl_dcm_dict(tag);
	if (d && d->vr[0])
		memcpy(el.vr, d->vr, 3);
	return decide(f, NULL, NULL, &el, 0, M_NORMAL, NULL) == A_KEEP;
}

static void code_item(sl_buf *body, const struct dcm_enc *enc, const char *code,
		      const char *meaning)
{
	sl_buf it;
	sl_buf_init(&it);
	put_text(&it, enc, DCM_TAG(0x0008, 0x0100), "SH", code, strlen(code));
	put_text(&it, enc, DCM_TAG(0x0008, 0x0102), "SH", "DCM", 3);
	put_text(&it, enc, DCM_TAG(0x0008, 0x0104), "LO", meaning, strlen(meaning));
	dcm_put_header(body, enc, DCM_ITEM, NULL, (uint32_t)it.len);
	sl_buf_add(body, it.data, it.len);
	sl_buf_free(&it);
}

void dcm_emit_added(struct dcm_file *f, sl_buf *out, uint32_t next)
{
	if (f->added || next <= DCM_TAG(0x0012, 0x0064))
		return;
	f->added = 1;
	const struct dcm_enc *enc = &f->enc;
	put_text(out, enc, DCM_TAG(0x0012, 0x0062), "CS", "YES", 3);
	const char *method = "DICOM PS3.15 E.1 Basic Profile (sluice)";
	put_text(out, enc, DCM_TAG(0x0012, 0x0063), "LO", method, strlen(method));
	sl_buf body;
	sl_buf_init(&body);
	code_item(&body, enc, "113100", "Basic Application Confidentiality Profile");
	for (int i = 0; i < SL_DO_COUNT; i++)
		if (f->pol->options & (1u << i))
			code_item(&body, enc, option_codes[i].code, option_codes[i].meaning);
	dcm_put_header(out, enc, DCM_TAG(0x0012, 0x0064), "SQ", (uint32_t)body.len);
	sl_buf_add(out, body.data, body.len);
	sl_buf_free(&body);
}
