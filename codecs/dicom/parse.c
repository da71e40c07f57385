/* parse.c: element headers, values and sequences, to any depth the bounds
 * allow.  Every length is checked against what is left of the file before
 * anything is allocated or read for it. */
#include "dicom_impl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint16_t dcm_rd16(const uint8_t *b, int big)
{
	return big ? (uint16_t)(b[0] << 8 | b[1]) : (uint16_t)(b[1] << 8 | b[0]);
}

uint32_t dcm_rd32(const uint8_t *b, int big)
{
	return big ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]
		   : (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

/* VRs whose explicit header has two reserved bytes and a 32-bit length. */
int dcm_long_vr(const char vr[2])
{
	static const char *const l[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV",
					"UC", "UN", "UR", "UT", "UV"};
	for (size_t i = 0; i < sizeof l / sizeof *l; i++)
		if (vr[0] == l[i][0] && vr[1] == l[i][1])
			return 1;
	return 0;
}

int dcm_valid_vr(const char vr[2])
{
	static const char *const v[] = {"AE", "AS", "AT", "CS", "DA", "DS", "DT", "FL", "FD",
					"IS", "LO", "LT", "PN", "SH", "SL", "SS", "ST", "TM",
					"UI", "UL", "US"};
	if (dcm_long_vr(vr))
		return 1;
	for (size_t i = 0; i < sizeof v / sizeof *v; i++)
		if (vr[0] == v[i][0] && vr[1] == v[i][1])
			return 1;
	return 0;
}

void dcm_implicit_vr(uint32_t tag, uint32_t len, char vr[3])
{
	const struct sl_dcm_dict *d = (tag >> 16) & 1 ? NULL : sl_dcm_dict(tag);
	if ((tag & 0xFFFF) == 0)
		memcpy(vr, "UL", 3);
	else if (tag == DCM_PIXEL_DATA)
		memcpy(vr, "OW", 3);  /* PS3.5 A.1: OW in implicit VR */
	else if (d && d->vr[0])
		memcpy(vr, d->vr, 3);
	else
		memcpy(vr, len == DCM_UNDEF ? "SQ" : "UN", 3);
}

static const char *tag_str(uint32_t tag, char buf[16])
{
	snprintf(buf, 16, "(%04X,%04X)", tag >> 16, tag & 0xFFFF);
	return buf;
}

int dcm_read_header(struct dcm_parser *p, const struct dcm_enc *enc, uint32_t *tag,
		    char vr[3], uint32_t *len)
{
	uint8_t h[8];
	int rc = dcm_src_read(p->s, h, 8, "an element header", p->err);
	if (rc < 0)
		return rc;
	/* Item and delimiter tags have no VR in any transfer syntax. */
	*tag = (uint32_t)dcm_rd16(h, enc->big) << 16 | dcm_rd16(h + 2, enc->big);
	if ((*tag >> 16) == 0xFFFE || !enc->explicit_vr) {
		*len = dcm_rd32(h + 4, enc->big);
		if ((*tag >> 16) != 0xFFFE)
			dcm_implicit_vr(*tag, *len, vr);
		else
			vr[0] = vr[1] = vr[2] = 0;
		return 0;
	}
	vr[0] = (char)h[4], vr[1] = (char)h[5], vr[2] = 0;
	if (!dcm_valid_vr(vr)) {
		char t[16];
		return sl_fail(p->err, SL_E_FORMAT, "element %s has an invalid VR (bytes %02x %02x)",
			       tag_str(*tag, t), h[4], h[5]);
	}
	if (!dcm_long_vr(vr)) {
		*len = dcm_rd16(h + 6, enc->big);
		return 0;
	}
	uint8_t l[4];
	if ((rc = dcm_src_read(p->s, l, 4, "an element header", p->err)) < 0)
		return rc;
	*len = dcm_rd32(l, enc->big);
	return 0;
}

int dcm_is_bulk(const struct dcm_el *el)
{
	if (el->tag == DCM_PIXEL_DATA && el->len == DCM_UNDEF)
		return 1;  /* encapsulated: fragments */
	return !el->is_sq && el->len != DCM_UNDEF && el->len >= DCM_BULK;
}

void dcm_el_free(struct dcm_el *el)
{
	for (size_t i = 0; i < el->nitems; i++) {
		for (size_t j = 0; j < el->items[i].nels; j++)
			dcm_el_free(&el->items[i].els[j]);
		free(el->items[i].els);
	}
	free(el->items);
	el->items = NULL;
	el->nitems = 0;
}

static int check_room(struct dcm_parser *p, uint32_t tag, uint64_t len)
{
	char t[16];
	if (!p->s->inflating && len > dcm_src_left(p->s))
		return sl_fail(p->err, SL_E_FORMAT, "element %s: length %llu runs past the end of "
			       "the file", tag_str(tag, t), (unsigned long long)len);
	if (p->arena.len + len > DCM_MAX_HEADER)
		return sl_fail(p->err, SL_E_FORMAT, "header elements larger than %u MiB",
			       DCM_MAX_HEADER >> 20);
	return 0;
}

static int parse_items(struct dcm_parser *p, const struct dcm_enc *enc, struct dcm_el *el,
		       int depth);

/* Elements up to `end` (stream position) or, when end is 0, up to an item
 * delimiter. */
static int parse_dataset(struct dcm_parser *p, const struct dcm_enc *enc, struct dcm_item *it,
			 uint64_t end, int depth)
{
	size_t cap = 0;
	for (;;) {
		if (end && p->s->pos >= end)
			return p->s->pos == end ? 0 : sl_fail(p->err, SL_E_FORMAT,
				"an item's elements run past the item's length");
		struct dcm_el el = {0};
		int rc = dcm_read_header(p, enc, &el.tag, el.vr, &el.len);
		if (rc < 0)
			return rc;
		if (el.tag == DCM_ITEM_END) {
			if (end)
				return sl_fail(p->err, SL_E_FORMAT, "item delimiter inside a defined-length item");
			return 0;
		}
		if ((el.tag >> 16) == 0xFFFE)
			return sl_fail(p->err, SL_E_FORMAT, "unexpected item tag inside an item");
		if (it->nels && el.tag <= it->els[it->nels - 1].tag) {
			char t[16];
			return sl_fail(p->err, SL_E_FORMAT, "element %s out of order", tag_str(el.tag, t));
		}
		if ((rc = dcm_parse_value(p, enc, &el, depth)) < 0) {
			dcm_el_free(&el);
			return rc;
		}
		if (it->nels == cap) {
			cap = cap ? 2 * cap : 8;
			it->els = sl_xrealloc(it->els, cap * sizeof *it->els);
		}
		it->els[it->nels++] = el;
	}
}

static int parse_items(struct dcm_parser *p, const struct dcm_enc *enc, struct dcm_el *el,
		       int depth)
{
	if (depth >= DCM_MAX_DEPTH)
		return sl_fail(p->err, SL_E_FORMAT, "sequences nested deeper than %d", DCM_MAX_DEPTH);
	struct dcm_enc ienc = *enc;
	if (el->implicit_items)
		ienc = (struct dcm_enc){0, 0};
	uint64_t end = el->len == DCM_UNDEF ? 0 : p->s->pos + el->len;
	size_t cap = 0;
	for (;;) {
		if (end && p->s->pos >= end)
			return p->s->pos == end ? 0 : sl_fail(p->err, SL_E_FORMAT,
				"a sequence's items run past its length");
		uint32_t tag, len;
		char vr[3];
		int rc = dcm_read_header(p, &ienc, &tag, vr, &len);
		if (rc < 0)
			return rc;
		if (tag == DCM_SEQ_END && !end)
			return 0;
		if (tag != DCM_ITEM)
			return sl_fail(p->err, SL_E_FORMAT, "a sequence holds something that is not an item");
		if (len != DCM_UNDEF && (rc = check_room(p, tag, len)) < 0)
			return rc;
		if (el->nitems == cap) {
			cap = cap ? 2 * cap : 4;
			el->items = sl_xrealloc(el->items, cap * sizeof *el->items);
		}
		struct dcm_item *it = &el->items[el->nitems++];
		*it = (struct dcm_item){.len = len};
		rc = parse_dataset(p, &ienc, it, len == DCM_UNDEF ? 0 : p->s->pos + len, depth + 1);
		if (rc < 0)
			return rc;
	}
}

int dcm_parse_value(struct dcm_parser *p, const struct dcm_enc *enc, struct dcm_el *el,
		    int depth)
{
	el->is_sq = !strcmp(el->vr, "SQ") ||
		    (el->len == DCM_UNDEF && !strcmp(el->vr, "UN") && el->tag != DCM_PIXEL_DATA);
	el->implicit_items = el->is_sq && !strcmp(el->vr, "UN");
	if (el->is_sq) {
		if (el->len != DCM_UNDEF) {
			int rc = check_room(p, el->tag, el->len);
			if (rc < 0)
				return rc;
		}
		return parse_items(p, enc, el, depth);
	}
	char t[16];
	if (el->len == DCM_UNDEF)
		return sl_fail(p->err, SL_E_FORMAT, "element %s has an undefined length but is not "
			       "a sequence or encapsulated pixel data", tag_str(el->tag, t));
	if (el->len & 1)
		return sl_fail(p->err, SL_E_FORMAT, "element %s has an odd length (%u): PS3.5 "
			       "requires even value lengths", tag_str(el->tag, t), el->len);
	int rc = check_room(p, el->tag, el->len);
	if (rc < 0)
		return rc;
	el->voff = p->arena.len;
	el->vlen = el->len;
	uint8_t tmp[4096];
	for (uint32_t left = el->len, k; left; left -= k) {
		k = left < sizeof tmp ? left : (uint32_t)sizeof tmp;
		if ((rc = dcm_src_read(p->s, tmp, k, "an element value", p->err)) < 0)
			return rc;
		sl_buf_add(&p->arena, tmp, k);
	}
	return 0;
}
