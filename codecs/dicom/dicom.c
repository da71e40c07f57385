/*
 * dicom.c: the DICOM format.  A Part 10 file (or a bare data set) is
 * de-identified per PS3.15 Annex E and written back as a Part 10 file with a
 * new preamble and file meta information.  Elements before each bulk value
 * are parsed and rewritten in memory; bulk values (Pixel Data, encapsulated
 * fragments, large binary values) pass from the input chunks to the output
 * by reference.  See docs/dicom-conformance.md.
 */
#include "dicom_impl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS_IMPLICIT "1.2.840.10008.1.2"
#define TS_EXPLICIT "1.2.840.10008.1.2.1"
#define TS_DEFLATED "1.2.840.10008.1.2.1.99"
#define TS_BIG "1.2.840.10008.1.2.2"
/* sluice's implementation class: 2.25 + 127 bits of SHA-256("sluice implementation class") */
#define IMPL_UID "2.25.31765217509358446345503330226418946884"
#define IMPL_NAME "SLUICE_DCM_1"

static const struct dcm_policy default_policy = {
	.json = "{\"profile\":\"PS3.15 E.1-1 basic\",\"options\":[],\"unknown\":\"remove\","
		"\"burned_in\":\"reject\",\"private_allowlist\":[]}",
};

/* ---- options ---- */

static const struct sl_format_option options[] = {
	{"dicom-options", "LIST", "PS3.15 options, comma-separated: retain-safe-private, "
	 "retain-uids, retain-device-id, retain-institution-id, retain-patient-chars, "
	 "retain-long-full-dates, retain-long-modified-dates, clean-descriptors, "
	 "clean-structured-content, clean-graphics (default: the Basic Profile alone)", 0},
	{"dicom-unknown", "keep|remove", "elements in neither Table E.1-1 nor the data "
	 "dictionary (default remove)", 0},
	{"dicom-burned-in", "reject|accept", "images that have or commonly carry burned-in "
	 "text (default reject)", 0},
	{"dicom-private-allowlist", "FILE", "private elements kept with retain-safe-private, "
	 "one 'CREATOR (gggg,xxee)' per line", 1},
	{NULL, NULL, NULL, 0},
};

static int dicom_configure(void **conf, const char *name, const char *value, size_t len,
			   sl_err *err)
{
	if (!*conf)
		*conf = sl_xcalloc(1, sizeof(struct dcm_policy));
	return dcm_parse_policy(*conf, name, value, len, err);
}

static const char *dicom_policy(const void *conf)
{
	return conf ? ((const struct dcm_policy *)conf)->json : default_policy.json;
}

static void dicom_release(void *conf)
{
	struct dcm_policy *pol = conf;
	for (size_t i = 0; i < pol->nallow; i++)
		free(pol->allow[i]);
	free(pol->allow);
	free(pol->json);
	free(pol);
}

/* ---- sniffing ---- */

/* Does a data set (or file meta group) plausibly start at b? */
static int dataset_start(const uint8_t *b, size_t n)
{
	if (n < 8)
		return 0;
	uint16_t g = dcm_rd16(b, 0);
	if (g != 0x0002 && g != 0x0008 && dcm_rd16(b, 1) != 0x0008)
		return 0;
	char vr[3] = {(char)b[4], (char)b[5], 0};
	return dcm_valid_vr(vr) || dcm_rd32(b + 4, 0) < (1u << 16);
}

static int dicom_sniff(const uint8_t *head, size_t len, uint64_t size)
{
	if (len >= 132 && !memcmp(head + 128, "DICM", 4))
		return 100;
	return dataset_start(head, len) ? 60 : 0;
}

/* ---- the transform ---- */

struct run {
	struct dcm_src s;
	struct dcm_parser p;
	struct dcm_file f;
	struct dcm_item meta, seg; /* file meta group; top-level elements not yet written */
	char ts[72];               /* input transfer syntax */
	int has_meta, preamble, started, pixels, rows;
	uint32_t last_tag;
	/* The burned-in decision when Burned In Annotation may still come: the
	 * first segment (what analyse sees) ended at a bulk element before it.
	 * prone_what: the class presumed to carry text, until NO arrives. */
	uint32_t cut_tag;          /* the bulk element that ended the first segment */
	const char *prone_what;
	sl_sink *out;
};

static const struct dcm_el *find(const struct dcm_item *it, uint32_t tag)
{
	for (size_t i = 0; i < it->nels; i++)
		if (it->els[i].tag == tag)
			return &it->els[i];
	return NULL;
}

/* A text value without its padding, into out (size n). */
static const char *text(const struct run *r, const struct dcm_item *it, uint32_t tag, char *out,
			size_t n)
{
	const struct dcm_el *el = find(it, tag);
	out[0] = 0;
	if (!el || el->is_sq)
		return out;
	size_t k = el->vlen < n - 1 ? el->vlen : n - 1;
	memcpy(out, r->p.arena.data + el->voff, k);
	while (k && (out[k - 1] == ' ' || out[k - 1] == 0))
		k--;
	out[k] = 0;
	size_t s = 0;
	while (out[s] == ' ')
		s++;
	memmove(out, out + s, k - s + 1);
	return out;
}

static int read_meta(struct run *r, sl_err *err)
{
	const uint8_t *b;
	size_t n = dcm_src_peek(&r->s, 132, &b, err);
	if (n >= 132 && !memcmp(b + 128, "DICM", 4)) {
		r->preamble = 1;
		int rc = dcm_src_skip(&r->s, 132, err);
		if (rc < 0)
			return rc;
	}
	struct dcm_enc le = {1, 0};
	size_t cap = 0;
	while ((n = dcm_src_peek(&r->s, 2, &b, err)) >= 2 && dcm_rd16(b, 0) == 0x0002) {
		struct dcm_el el = {0};
		int rc = dcm_read_header(&r->p, &le, &el.tag, el.vr, &el.len);
		if (rc == 0 && el.len == DCM_UNDEF)
			rc = sl_fail(err, SL_E_FORMAT, "file meta element with an undefined length");
		if (rc == 0)
			rc = dcm_parse_value(&r->p, &le, &el, 0);
		if (rc < 0) {
			dcm_el_free(&el);
			return rc;
		}
		if (r->meta.nels == cap) {
			cap = cap ? 2 * cap : 16;
			r->meta.els = sl_xrealloc(r->meta.els, cap * sizeof *r->meta.els);
		}
		r->meta.els[r->meta.nels++] = el;
		r->has_meta = 1;
	}
	text(r, &r->meta, DCM_TAG(0x0002, 0x0010), r->ts, sizeof r->ts);
	return 0;
}

/* The data set's encoding: from the transfer syntax, or guessed from its
 * first element when the file has none. */
static int choose_encoding(struct run *r, sl_err *err)
{
	struct dcm_enc *e = &r->f.enc;
	if (r->ts[0]) {
		*e = (struct dcm_enc){strcmp(r->ts, TS_IMPLICIT) != 0, !strcmp(r->ts, TS_BIG)};
		if (!strcmp(r->ts, TS_DEFLATED))
			return dcm_src_start_inflate(&r->s, err);
		return 0;
	}
	const uint8_t *b;
	size_t n = dcm_src_peek(&r->s, 8, &b, err);
	char vr[3] = {0};
	if (n >= 6)
		vr[0] = (char)b[4], vr[1] = (char)b[5];
	e->explicit_vr = n >= 6 && dcm_valid_vr(vr);
	e->big = e->explicit_vr && dcm_rd16(b, 0) != 0x0008 && dcm_rd16(b, 1) == 0x0008;
	snprintf(r->ts, sizeof r->ts, "%s", !e->explicit_vr ? TS_IMPLICIT : e->big ? TS_BIG
		 : TS_EXPLICIT);
	return 0;
}

/* Burned-in text: Burned In Annotation YES is rejected; so is an image of
 * a class that commonly carries it (sop_class.c) unless the attribute says
 * NO.  The class is the data set's, or the file meta's when it has none. */
static int bia_verdict(const char *bia, const char *what, sl_err *err)
{
	if (!strcmp(bia, "YES"))
		return sl_fail(err, SL_E_FORMAT, "burned-in annotation: Burned In Annotation is YES "
			       "(--dicom-burned-in accept stores it)");
	if (what && strcmp(bia, "NO"))
		return sl_fail(err, SL_E_FORMAT, "burned-in annotation: an image of this class (%s) "
			       "without Burned In Annotation NO may carry burned-in text "
			       "(--dicom-burned-in accept stores it)", what);
	return 0;
}

/* A first segment cut by a bulk element before (0028,0301) has not seen
 * it yet: a prone class waits for it (late_bia, bia_final) instead of being
 * rejected, and YES after a bulk private element is still refused. */
static int burned_in(struct run *r, sl_err *err)
{
	char bia[16], mod[16], cls[72];
	const uint32_t tag = DCM_TAG(0x0028, 0x0301);
	text(r, &r->seg, tag, bia, sizeof bia);
	text(r, &r->seg, DCM_TAG(0x0008, 0x0060), mod, sizeof mod);
	text(r, &r->seg, DCM_TAG(0x0008, 0x0016), cls, sizeof cls);
	if (!cls[0])
		text(r, &r->meta, DCM_TAG(0x0002, 0x0002), cls, sizeof cls);
	const char *what = NULL;
	if (!dcm_burned_in_prone(cls, mod, &what))
		what = NULL;
	if (!find(&r->seg, tag) && r->cut_tag && r->cut_tag < tag) {
		r->prone_what = what;
		return 0;
	}
	return bia_verdict(bia, what, err);
}

/* (0028,0301) after the first segment: decide now. */
static int late_bia(struct run *r, const struct dcm_el *el, sl_err *err)
{
	if (el->tag != DCM_TAG(0x0028, 0x0301) || !r->started || r->f.pol->accept_burned_in)
		return 0;
	struct dcm_item one = {.els = (struct dcm_el *)el, .nels = 1};
	char bia[16];
	text(r, &one, el->tag, bia, sizeof bia);
	int rc = bia_verdict(bia, r->prone_what, err);
	r->prone_what = NULL;
	return rc;
}

/* A file without a Patient ID belongs to no subject, yet its Patient's Name
 * and ID (when present) and its date offset need a value that links it to
 * no other person: a stand-in keyed from its Study Instance UID.  Files of
 * one study share it, which tells nothing new: their mapped Study Instance
 * UIDs are already one, and a study is one patient's (PS3.3 A.1.2.2).  A
 * file without a study takes its SOP Instance UID, and one without either
 * the values of its elements read so far.  A viewer that groups by Patient
 * ID then shows unidentified studies apart, where an empty or shared value
 * would show them as one patient's. */
static void unlinked(struct run *r, const struct sl_deid_ctx *ctx)
{
	char uid[72], unit[96];
	if (text(r, &r->seg, DCM_TAG(0x0020, 0x000D), uid, sizeof uid)[0]) {
		snprintf(unit, sizeof unit, "study:%s", uid);
	} else if (text(r, &r->seg, DCM_TAG(0x0008, 0x0018), uid, sizeof uid)[0] ||
		   text(r, &r->meta, DCM_TAG(0x0002, 0x0003), uid, sizeof uid)[0]) {
		snprintf(unit, sizeof unit, "instance:%s", uid);
	} else {
		sl_subject_unlinked(ctx, r->p.arena.data, r->p.arena.len, r->f.subject);
		return;
	}
	sl_subject_unlinked(ctx, unit, strlen(unit), r->f.subject);
}

/* Everything decided from the first elements, before a byte is written:
 * what kind of file this is, the subject, the date offset. */
static int analyse(struct run *r, const struct sl_deid_ctx *ctx, sl_err *err)
{
	char cls[72], pid[256];
	text(r, &r->meta, DCM_TAG(0x0002, 0x0002), cls, sizeof cls);
	if (!strcmp(cls, "1.2.840.10008.1.3.10") || find(&r->seg, DCM_TAG(0x0004, 0x1220)))
		return sl_fail(err, SL_E_SKIP, "skipped by policy: a DICOMDIR is not stored "
			       "(it indexes identifying values); the files it names are ingested "
			       "on their own");
	if (!find(&r->seg, DCM_TAG(0x0008, 0x0016)) && !cls[0])
		return sl_fail(err, SL_E_FORMAT, "not a DICOM instance: no SOP Class UID");
	if (!r->f.pol->accept_burned_in) {
		int rc = burned_in(r, err);
		if (rc < 0)
			return rc;
	}
	if (!cls[0])
		text(r, &r->seg, DCM_TAG(0x0008, 0x0016), cls, sizeof cls);
	r->f.family = dcm_family_of(cls);
	text(r, &r->seg, DCM_TAG(0x0010, 0x0020), pid, sizeof pid);
	r->f.identified = sl_subject_pseudonym(ctx, pid, r->f.subject);
	if (!r->f.identified)
		unlinked(r, ctx);
	uint8_t d[32];
	sl_key_hmac(ctx->key, "date-shift", r->f.subject, strlen(r->f.subject), d);
	r->f.date_shift = -(int)(1 + dcm_rd32(d, 0) % 3650);
	return 0;
}

static void meta_text(sl_buf *b, uint32_t tag, const char *vr, const char *v, size_t n)
{
	struct dcm_enc le = {1, 0};
	dcm_put_header(b, &le, tag, vr, (uint32_t)(n + (n & 1)));
	sl_buf_add(b, v, n);
	if (n & 1)
		sl_buf_add(b, vr[0] == 'U' ? "\0" : " ", 1);
}

/* Preamble, "DICM" and a new file meta group. */
static int write_meta(struct run *r, sl_err *err)
{
	char cls[72], inst[72], ts[72];
	text(r, &r->seg, DCM_TAG(0x0008, 0x0016), cls, sizeof cls);
	if (!cls[0])
		text(r, &r->meta, DCM_TAG(0x0002, 0x0002), cls, sizeof cls);
	text(r, &r->seg, DCM_TAG(0x0008, 0x0018), inst, sizeof inst);
	if (!inst[0])
		text(r, &r->meta, DCM_TAG(0x0002, 0x0003), inst, sizeof inst);
	snprintf(ts, sizeof ts, "%s", strcmp(r->ts, TS_DEFLATED) ? r->ts : TS_EXPLICIT);
	sl_buf g, out;
	sl_buf_init(&g);
	sl_buf_init(&out);
	struct dcm_enc le = {1, 0};
	dcm_put_header(&g, &le, DCM_TAG(0x0002, 0x0001), "OB", 2);
	sl_buf_add(&g, "\0\1", 2);
	meta_text(&g, DCM_TAG(0x0002, 0x0002), "UI", cls, strlen(cls));
	sl_buf uid;
	sl_buf_init(&uid);
	if (r->f.pol->options & (1u << SL_DO_RETAIN_UIDS))
		sl_buf_puts(&uid, inst);
	else if (inst[0])
		dcm_map_uid(r->f.ctx, inst, strlen(inst), &uid);
	meta_text(&g, DCM_TAG(0x0002, 0x0003), "UI", uid.data ? uid.data : "", uid.len);
	sl_buf_free(&uid);
	meta_text(&g, DCM_TAG(0x0002, 0x0010), "UI", ts, strlen(ts));
	meta_text(&g, DCM_TAG(0x0002, 0x0012), "UI", IMPL_UID, strlen(IMPL_UID));
	meta_text(&g, DCM_TAG(0x0002, 0x0013), "SH", IMPL_NAME, strlen(IMPL_NAME));
	static const uint8_t zero[128];
	sl_buf_add(&out, zero, 128);
	sl_buf_add(&out, "DICM", 4);
	dcm_put_header(&out, &le, DCM_TAG(0x0002, 0x0000), "UL", 4);
	uint8_t l[4] = {(uint8_t)g.len, (uint8_t)(g.len >> 8), (uint8_t)(g.len >> 16),
			(uint8_t)(g.len >> 24)};
	sl_buf_add(&out, l, 4);
	sl_buf_add(&out, g.data, g.len);
	int rc = sl_sink_write(r->out, out.data, out.len, err);
	sl_buf_free(&g);
	sl_buf_free(&out);
	return rc;
}

static void attr_value(struct run *r, uint32_t tag, const char *key)
{
	const struct dcm_el *el = find(&r->seg, tag);
	if (!el || el->is_sq)
		return;
	sl_buf v;
	sl_buf_init(&v);
	dcm_value_out(&r->f, &r->p, el, &v);
	size_t n = v.len;
	while (n && (v.data[n - 1] == ' ' || v.data[n - 1] == 0))
		n--;
	if (n) {
		v.data[n] = 0;
		sl_sink_attr(r->out, key, v.data);
	}
	sl_buf_free(&v);
}

static void attr_us(struct run *r, uint32_t tag, const char *key)
{
	const struct dcm_el *el = find(&r->seg, tag);
	if (!el || el->vlen != 2)
		return;
	char v[8];
	snprintf(v, sizeof v, "%u", dcm_rd16((const uint8_t *)r->p.arena.data + el->voff,
					      r->f.enc.big));
	sl_sink_attr(r->out, key, v);
}

/* The attributes of the elements in this segment.  Called for every
 * segment, not the first only: a bulk element (a large private or overlay
 * value) ends a segment, and what follows it (the study and series UIDs,
 * rows, columns) must still reach the catalog, where export names the
 * study and series folders after them.  A top-level tag comes once. */
static void segment_attrs(struct run *r)
{
	attr_value(r, DCM_TAG(0x0020, 0x000D), "study");
	attr_value(r, DCM_TAG(0x0020, 0x000E), "series");
	attr_value(r, DCM_TAG(0x0008, 0x0018), "instance");
	attr_value(r, DCM_TAG(0x0008, 0x0016), "sop_class");
	attr_value(r, DCM_TAG(0x0008, 0x0060), "modality");
	attr_value(r, DCM_TAG(0x0018, 0x0015), "body_part");
	attr_value(r, DCM_TAG(0x0008, 0x0020), "study_date");
	attr_value(r, DCM_TAG(0x0028, 0x0008), "frames");
	attr_us(r, DCM_TAG(0x0028, 0x0010), "rows");
	attr_us(r, DCM_TAG(0x0028, 0x0011), "columns");
}

static void catalog_attrs(struct run *r)
{
	sl_sink_attr(r->out, "kind", "dicom");
	if (r->f.identified)
		sl_sink_attr(r->out, "subject", r->f.subject);
	sl_sink_attr(r->out, "transfer_syntax", strcmp(r->ts, TS_DEFLATED) ? r->ts : TS_EXPLICIT);
}

/* Write the parsed top-level elements not yet written. */
static int flush_segment(struct run *r, const struct sl_deid_ctx *ctx, sl_err *err)
{
	int rc;
	if (!r->started) {
		if ((rc = analyse(r, ctx, err)) < 0 ||
		    (rc = sl_sink_begin(r->out, "primary", "application/dicom", err)) < 0 ||
		    (rc = write_meta(r, err)) < 0)
			return rc;
		catalog_attrs(r);
		r->started = 1;
	}
	segment_attrs(r);
	sl_buf b;
	sl_buf_init(&b);
	for (size_t i = 0; i < r->seg.nels; i++) {
		dcm_emit(&r->f, &b, &r->p, &r->seg.els[i]);
		dcm_el_free(&r->seg.els[i]);
	}
	r->seg.nels = 0;
	rc = b.len ? sl_sink_write(r->out, b.data, b.len, err) : 0;
	sl_buf_free(&b);
	/* values already written are not needed again */
	sl_buf_reset(&r->p.arena);
	return rc;
}

/* Encapsulated Pixel Data: every item (offset table, fragments) as it is. */
static int pass_fragments(struct run *r, int keep, sl_err *err)
{
	for (;;) {
		uint32_t tag, len;
		char vr[3];
		int rc = dcm_read_header(&r->p, &r->f.enc, &tag, vr, &len);
		if (rc < 0)
			return rc;
		if (tag != DCM_ITEM && tag != DCM_SEQ_END)
			return sl_fail(err, SL_E_FORMAT, "encapsulated pixel data holds something "
				       "that is not an item");
		if (len == DCM_UNDEF || (!r->s.inflating && len > dcm_src_left(&r->s)))
			return sl_fail(err, SL_E_FORMAT, "a pixel data fragment's length runs past "
				       "the end of the file");
		if (keep) {
			sl_buf h;
			sl_buf_init(&h);
			dcm_put_header(&h, &r->f.enc, tag, NULL, len);
			rc = sl_sink_write(r->out, h.data, h.len, err);
			sl_buf_free(&h);
			if (rc == 0)
				rc = dcm_src_pass(&r->s, len, r->out, err);
		} else {
			rc = dcm_src_skip(&r->s, len, err);
		}
		if (rc < 0)
			return rc;
		if (tag == DCM_SEQ_END)
			return 0;
	}
}

static int pass_bulk(struct run *r, const struct sl_deid_ctx *ctx, struct dcm_el *el,
		     sl_err *err)
{
	if (!r->started)
		r->cut_tag = el->tag;
	int rc = flush_segment(r, ctx, err);
	if (rc < 0)
		return rc;
	int keep = dcm_keep_bulk(&r->f, el->tag);
	r->pixels |= (el->tag >> 16) == 0x7FE0;
	sl_buf h;
	sl_buf_init(&h);
	dcm_emit_added(&r->f, &h, el->tag);
	if (keep)
		dcm_put_header(&h, &r->f.enc, el->tag, el->vr, el->len);
	else
		r->f.removed++;
	rc = h.len ? sl_sink_write(r->out, h.data, h.len, err) : 0;
	sl_buf_free(&h);
	if (rc < 0)
		return rc;
	if (el->len == DCM_UNDEF)
		return pass_fragments(r, keep, err);
	if (!r->s.inflating && el->len > dcm_src_left(&r->s))
		return sl_fail(err, SL_E_FORMAT, "element (%04X,%04X): length %u runs past the end "
			       "of the file", el->tag >> 16, el->tag & 0xFFFF, el->len);
	return keep ? dcm_src_pass(&r->s, el->len, r->out, err) : dcm_src_skip(&r->s, el->len, err);
}

static int parse_top(struct run *r, const struct sl_deid_ctx *ctx, sl_err *err)
{
	size_t cap = 0;
	for (;;) {
		int rc = dcm_src_eof(&r->s, err);
		if (rc != 0)
			return rc < 0 ? rc : 0;
		struct dcm_el el = {0};
		if ((rc = dcm_read_header(&r->p, &r->f.enc, &el.tag, el.vr, &el.len)) < 0)
			return rc;
		if ((el.tag >> 16) == 0xFFFE || (r->last_tag && el.tag <= r->last_tag))
			return sl_fail(err, SL_E_FORMAT, "element (%04X,%04X) out of order at the top "
				       "level", el.tag >> 16, el.tag & 0xFFFF);
		if ((el.tag >> 16) == 0x0002)
			return sl_fail(err, SL_E_FORMAT, "file meta element inside the data set");
		r->last_tag = el.tag;
		el.is_sq = !strcmp(el.vr, "SQ");
		if (dcm_is_bulk(&el)) {
			if ((rc = pass_bulk(r, ctx, &el, err)) < 0)
				return rc;
			continue;
		}
		if ((rc = dcm_parse_value(&r->p, &r->f.enc, &el, 0)) < 0 ||
		    (rc = late_bia(r, &el, err)) < 0) {
			dcm_el_free(&el);
			return rc;
		}
		if (r->seg.nels == cap) {
			cap = cap ? 2 * cap : 64;
			r->seg.els = sl_xrealloc(r->seg.els, cap * sizeof *r->seg.els);
		}
		r->pixels |= (el.tag >> 16) == 0x7FE0;
		r->rows |= el.tag == DCM_TAG(0x0028, 0x0010);
		r->seg.els[r->seg.nels++] = el;
	}
}

static void facts(struct run *r)
{
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_printf(&b, "{\"transfer_syntax\":\"%s\",\"inflated\":%s,\"had_meta\":%s,"
		      "\"had_preamble\":%s,\"removed\":%llu,\"emptied\":%llu,\"replaced\":%llu,"
		      "\"uids_mapped\":%llu,\"dates_shifted\":%llu}",
		      r->ts, strcmp(r->ts, TS_DEFLATED) ? "false" : "true",
		      r->has_meta ? "true" : "false", r->preamble ? "true" : "false",
		      (unsigned long long)r->f.removed, (unsigned long long)r->f.emptied,
		      (unsigned long long)r->f.replaced, (unsigned long long)r->f.uids,
		      (unsigned long long)r->f.shifted);
	sl_sink_fact(r->out, "dicom", b.data);
	if (r->f.pol->accept_burned_in)
		sl_sink_fact(r->out, "burned_in", "\"accepted by the operator's policy\"");
	sl_buf_free(&b);
}

static int dicom_transform(sl_input *in, sl_sink *out, const struct sl_deid_ctx *ctx,
			   const void *conf, sl_err *err)
{
	struct run r = {.out = out};
	r.f.ctx = ctx;
	r.f.pol = conf ? conf : &default_policy;
	r.p.s = &r.s;
	r.p.err = err;
	sl_buf_init(&r.p.arena);
	sl_buf_add(&r.p.arena, "", 0); /* never NULL: values are arena.data + offset */
	int rc = dcm_src_init(&r.s, in, err);
	if (rc == 0)
		rc = read_meta(&r, err);
	if (rc == 0)
		rc = choose_encoding(&r, err);
	if (rc == 0)
		rc = parse_top(&r, ctx, err);
	/* Cut at an element boundary, a file still parses: an image whose
	 * pixels never came is how a truncated copy shows. */
	if (rc == 0 && !r.pixels && r.rows)
		rc = sl_fail(err, SL_E_FORMAT, "an image without pixel data: the file looks truncated");
	if (rc == 0 && r.prone_what) /* no Burned In Annotation came after all */
		rc = bia_verdict("", r.prone_what, err);
	if (rc == 0)
		rc = flush_segment(&r, ctx, err);
	sl_buf tail;
	sl_buf_init(&tail);
	if (rc == 0)
		dcm_emit_added(&r.f, &tail, 0xFFFFFFFF);
	if (rc == 0 && tail.len)
		rc = sl_sink_write(out, tail.data, tail.len, err);
	sl_buf_free(&tail);
	if (rc == 0) {
		facts(&r);
		rc = sl_sink_end(out, err);
	}
	for (size_t i = 0; i < r.seg.nels; i++)
		dcm_el_free(&r.seg.els[i]);
	free(r.seg.els);
	for (size_t i = 0; i < r.meta.nels; i++)
		dcm_el_free(&r.meta.els[i]);
	free(r.meta.els);
	sl_buf_free(&r.p.arena);
	dcm_src_free(&r.s);
	return rc;
}

static const struct sl_format_extension extensions[] = {
	{"application/dicom", ".dcm"},
	{NULL, NULL},
};

/* zlib inflates and deflates the deflated transfer syntax. */
static const char *libz_version(void)
{
	return zlibVersion();
}

static const struct sl_format_library libraries[] = {
	{"zlib", libz_version},
	{NULL, NULL},
};

const struct sl_format sl_format_dicom = {
	.name = "dicom",
	.version = "1",
	.options = options,
	.configure = dicom_configure,
	.policy = dicom_policy,
	.release = dicom_release,
	.sniff = dicom_sniff,
	.transform = dicom_transform,
	.extensions = extensions,
	.export_folder = "study/series",
	.export_name = "instance",
	.libraries = libraries,
};
