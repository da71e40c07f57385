/*
 * j2k.c: JPEG 2000 tiles (Aperio compression 33003, YCbCr components, and
 * 33005, RGB with the codestream's own component transform).  A copied
 * tile keeps its tile-parts byte for byte; only the main header and the
 * tile-part headers are rebuilt, from an allowlist of marker segments:
 * COM segments (free text) are dropped, and with them any TLM index they
 * would make wrong; anything after EOC is dropped too.  The SIZ segment is
 * checked against the page's tile size and the three 8-bit components
 * OpenSlide's Aperio reader expects.  Decoding, for built levels, goes
 * through OpenJPEG from memory in strict mode (a cut stream is an error,
 * not a partial image), its messages swallowed.
 */
#include "slide_impl.h"
#include <stdlib.h>
#include <string.h>
#include <openjpeg.h>

#define J2K_MAX_SEGS 64               /* main header segments kept */

static uint32_t be16(const uint8_t *p) { return (uint32_t)p[0] << 8 | p[1]; }
static uint32_t be32(const uint8_t *p) { return be16(p) << 16 | be16(p + 2); }

/* SIZ: the image is the tile (no offsets), three 8-bit unsigned
 * components, the first at full resolution, the others at 1 or 1/2. */
static int j2k_siz(const uint8_t *seg, size_t len, struct j2k_info *ji, sl_err *err)
{
	if (len < 38 + 9 || be16(seg + 36) != 3 || len != 38 + 9)
		return sl_fail(err, SL_E_FORMAT, "JPEG 2000 tile does not have 3 components");
	if (be32(seg + 12) || be32(seg + 16) || be32(seg + 28) || be32(seg + 32))
		return sl_fail(err, SL_E_FORMAT, "JPEG 2000 tile with an image or tile offset");
	ji->w = be32(seg + 4);
	ji->h = be32(seg + 8);
	ji->ncomp = 3;
	for (int c = 0; c < 3; c++) {
		const uint8_t *q = seg + 38 + 3 * c;
		ji->dx[c] = q[1], ji->dy[c] = q[2];
		if (q[0] != 7 || q[1] < 1 || q[1] > 2 || q[2] < 1 || q[2] > 2 || (!c && q[1] * q[2] != 1))
			return sl_fail(err, SL_E_FORMAT, "JPEG 2000 components not 8-bit unsigned at full "
				       "or half resolution");
	}
	return 0;
}

/* Main header markers that may be kept: SIZ, COD, COC, QCD, QCC, RGN,
 * POC, PPM, TLM, PLM, CRG, CAP.  Binary coding parameters, no text. */
static int main_marker_ok(uint32_t m)
{
	return (m >= 0xFF50 && m <= 0xFF53) || m == 0xFF55 || m == 0xFF57 ||
	       (m >= 0xFF5C && m <= 0xFF60) || m == 0xFF63;
}

/* Tile-part header markers: COD, COC, QCD, QCC, RGN, POC, PPT, PLT. */
static int tile_marker_ok(uint32_t m)
{
	return m == 0xFF52 || m == 0xFF53 || (m >= 0xFF5C && m <= 0xFF5F) || m == 0xFF61 ||
	       m == 0xFF58;
}

struct j2k_walk {
	const uint8_t *p;
	size_t n, i;
	size_t seg_at[J2K_MAX_SEGS], seg_len[J2K_MAX_SEGS];
	int nseg, tlm, changed;
};

/* The main header up to the first SOT: segments to keep, SIZ read. */
static int walk_main(struct j2k_walk *w, struct j2k_info *ji, sl_err *err)
{
	const uint8_t *p = w->p;
	int siz = 0;
	if (w->n < 4 || be16(p) != 0xFF4F || be16(p + 2) != 0xFF51)
		return sl_fail(err, SL_E_FORMAT, "tile is not a JPEG 2000 codestream");
	for (w->i = 2;;) {
		if (w->i + 4 > w->n)
			return sl_fail(err, SL_E_FORMAT, "JPEG 2000 header cut short");
		uint32_t m = be16(p + w->i), len = be16(p + w->i + 2);
		if (m == 0xFF90)
			break;
		if (len < 2 || w->i + 2 + len > w->n)
			return sl_fail(err, SL_E_FORMAT, "JPEG 2000 header segment runs past the tile");
		if (m == 0xFF51 && (siz++ || j2k_siz(p + w->i + 2, len, ji, err) < 0))
			return siz > 1 ? sl_fail(err, SL_E_FORMAT, "JPEG 2000 header with two SIZ") : -1;
		if (m != 0xFF64 && !main_marker_ok(m))
			return sl_fail(err, SL_E_FORMAT, "JPEG 2000 header marker %04X not supported", m);
		if (m == 0xFF64)
			w->changed = 1;
		else if (w->nseg == J2K_MAX_SEGS)
			return sl_fail(err, SL_E_FORMAT, "JPEG 2000 header with too many segments");
		else {
			w->tlm |= m == 0xFF55;
			w->seg_at[w->nseg] = w->i;
			w->seg_len[w->nseg++] = 2 + len;
		}
		w->i += 2 + len;
	}
	return 0;
}

/* One tile-part at w->i into out: its header without COM (Psot fixed),
 * then SOD and the data as they are.  Returns 1 after the last. */
static int walk_part(struct j2k_walk *w, sl_buf *out, sl_err *err)
{
	const uint8_t *p = w->p;
	size_t at = w->i, n = w->n;
	if (at + 12 > n || be16(p + at + 2) != 10)
		return sl_fail(err, SL_E_FORMAT, "JPEG 2000 tile-part header damaged or cut short");
	uint32_t psot = be32(p + at + 6);
	int last = psot == 0;
	if (last && (n < at + 14 || be16(p + n - 2) != 0xFFD9))
		return sl_fail(err, SL_E_FORMAT, "JPEG 2000 tile cut short (no end of codestream)");
	size_t end = last ? n - 2 : at + psot;
	if (!last && (psot < 14 || end > n))
		return sl_fail(err, SL_E_FORMAT, "JPEG 2000 tile-part runs past the end of the tile "
			       "(cut short?)");
	size_t sot_at = out->len, j = at + 12;
	sl_buf_add(out, p + at, 12);
	while (j + 2 <= end && be16(p + j) != 0xFF93) {
		uint32_t m = be16(p + j), len = j + 4 <= end ? be16(p + j + 2) : 0;
		if (len < 2 || j + 2 + len > end)
			return sl_fail(err, SL_E_FORMAT, "JPEG 2000 tile-part header damaged");
		if (m != 0xFF64 && !tile_marker_ok(m))
			return sl_fail(err, SL_E_FORMAT, "JPEG 2000 tile-part marker %04X not supported", m);
		if (m != 0xFF64)
			sl_buf_add(out, p + j, 2 + len);
		w->changed |= m == 0xFF64;
		j += 2 + len;
	}
	if (j + 2 > end)
		return sl_fail(err, SL_E_FORMAT, "JPEG 2000 tile-part without data");
	sl_buf_add(out, p + j, end - j);
	if (!last) {
		uint32_t np = (uint32_t)(out->len - sot_at);
		uint8_t *q = (uint8_t *)out->data + sot_at + 6;
		q[0] = (uint8_t)(np >> 24), q[1] = (uint8_t)(np >> 16), q[2] = (uint8_t)(np >> 8);
		q[3] = (uint8_t)np;
	}
	w->i = end;
	if (end + 2 <= n && be16(p + end) == 0xFFD9)
		return 1; /* EOC: what follows it is dropped */
	if (end + 2 > n)
		return sl_fail(err, SL_E_FORMAT, "JPEG 2000 tile cut short (no end of codestream)");
	return be16(p + end) == 0xFF90 ? 0 : sl_fail(err, SL_E_FORMAT, "JPEG 2000 tile-parts "
						    "damaged");
}

int slide_j2k_rebuild(const uint8_t *p, size_t n, sl_buf *out, struct j2k_info *ji, sl_err *err)
{
	struct j2k_walk w = {.p = p, .n = n};
	struct j2k_info info = {0};
	sl_buf parts;
	sl_buf_init(&parts);
	int rc = walk_main(&w, &info, err);
	while (rc == 0)
		rc = walk_part(&w, &parts, err);
	if (rc == 1) {
		rc = 0;
		sl_buf_reset(out);
		sl_buf_add(out, "\xFF\x4F", 2);
		for (int i = 0; i < w.nseg; i++) /* a TLM indexes the lengths COM changed */
			if (!(w.changed && be16(p + w.seg_at[i]) == 0xFF55))
				sl_buf_add(out, p + w.seg_at[i], w.seg_len[i]);
		sl_buf_add(out, parts.data, parts.len);
		sl_buf_add(out, "\xFF\xD9", 2);
		if (ji)
			*ji = info;
	}
	sl_buf_free(&parts);
	return rc;
}

/* ---- decoding with OpenJPEG, from memory ---- */

struct memstream {
	const uint8_t *p;
	size_t n, at;
};

static OPJ_SIZE_T ms_read(void *buf, OPJ_SIZE_T k, void *u)
{
	struct memstream *m = u;
	size_t left = m->n - m->at;
	if (!left)
		return (OPJ_SIZE_T)-1;
	if (k > left)
		k = left;
	memcpy(buf, m->p + m->at, k);
	m->at += k;
	return k;
}

static OPJ_OFF_T ms_skip(OPJ_OFF_T k, void *u)
{
	struct memstream *m = u;
	if (k < 0 ? (size_t)-k > m->at : (size_t)k > m->n - m->at)
		return -1;
	m->at = (size_t)((OPJ_OFF_T)m->at + k);
	return k;
}

static OPJ_BOOL ms_seek(OPJ_OFF_T k, void *u)
{
	struct memstream *m = u;
	if (k < 0 || (uint64_t)k > m->n)
		return OPJ_FALSE;
	m->at = (size_t)k;
	return OPJ_TRUE;
}

static void quiet(const char *msg, void *u) {}

static uint8_t clamp8(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

/* Components to RGB: YCbCr by the JFIF equations in libjpeg's fixed point
 * (as OpenSlide converts 33003), chroma taken from the sample covering
 * each pixel; or the components as they are. */
static void to_rgb(const opj_image_t *im, int ycbcr, uint32_t w, uint32_t h, uint8_t *px,
		   size_t stride)
{
	const opj_image_comp_t *c = im->comps;
	for (uint32_t y = 0; y < h; y++) {
		uint8_t *o = px + y * stride;
		const OPJ_INT32 *a = c[0].data + (size_t)y * c[0].w;
		const OPJ_INT32 *b = c[1].data + (size_t)(y / c[1].dy) * c[1].w;
		const OPJ_INT32 *d = c[2].data + (size_t)(y / c[2].dy) * c[2].w;
		for (uint32_t x = 0; x < w; x++, o += 3) {
			int Y = a[x], u = b[x / c[1].dx], v = d[x / c[2].dx];
			if (!ycbcr) {
				o[0] = clamp8(Y), o[1] = clamp8(u), o[2] = clamp8(v);
				continue;
			}
			u -= 128, v -= 128;
			o[0] = clamp8(Y + ((91881 * v + 32768) >> 16));
			o[1] = clamp8(Y + ((-22554 * u - 46802 * v + 32768) >> 16));
			o[2] = clamp8(Y + ((116130 * u + 32768) >> 16));
		}
	}
}

static int image_ok(const opj_image_t *im, uint32_t w, uint32_t h)
{
	if (im->numcomps != 3 || im->x0 || im->y0 || im->x1 != w || im->y1 != h)
		return 0;
	for (int c = 0; c < 3; c++) {
		const opj_image_comp_t *k = &im->comps[c];
		if (!k->data || k->prec != 8 || k->sgnd || !k->dx || !k->dy ||
		    k->w != (w + k->dx - 1) / k->dx || k->h != (h + k->dy - 1) / k->dy)
			return 0;
	}
	return 1;
}

int slide_j2k_decode(const uint8_t *p, size_t n, uint32_t w, uint32_t h, int ycbcr, uint8_t *px,
		     size_t stride, sl_err *err)
{
	struct memstream m = {p, n, 0};
	opj_stream_t *st = opj_stream_create(1u << 16, OPJ_TRUE);
	opj_codec_t *codec = opj_create_decompress(OPJ_CODEC_J2K);
	opj_image_t *im = NULL;
	opj_dparameters_t par;
	opj_set_default_decoder_parameters(&par);
	int ok = st && codec && opj_setup_decoder(codec, &par);
	if (ok) {
		opj_stream_set_user_data(st, &m, NULL);
		opj_stream_set_user_data_length(st, n);
		opj_stream_set_read_function(st, ms_read);
		opj_stream_set_skip_function(st, ms_skip);
		opj_stream_set_seek_function(st, ms_seek);
		opj_set_error_handler(codec, quiet, NULL);
		opj_set_warning_handler(codec, quiet, NULL);
		opj_set_info_handler(codec, quiet, NULL);
		opj_decoder_set_strict_mode(codec, OPJ_TRUE); /* a cut tile fails */
		ok = opj_read_header(st, codec, &im) && im && im->numcomps == 3 && im->x1 == w &&
		     im->y1 == h;
	}
	ok = ok && opj_decode(codec, st, im) && opj_end_decompress(codec, st) && image_ok(im, w, h);
	if (ok)
		to_rgb(im, ycbcr, w, h, px, stride);
	opj_image_destroy(im);
	opj_destroy_codec(codec);
	opj_stream_destroy(st);
	return ok ? 0 : sl_fail(err, SL_E_FORMAT, "JPEG 2000 tile cannot be decoded (corrupt or "
				"not of the page's tile size)");
}
