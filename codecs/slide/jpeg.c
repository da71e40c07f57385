/*
 * jpeg.c: JPEG streams of TIFF tiles.  A copied tile is rebuilt around its
 * entropy-coded data, which is never decoded: the page's JPEGTables and the
 * tile's own tables, frame and scan headers are put into one stream, APPn
 * and COM segments (free text) are dropped, and an Adobe marker states the
 * colour transform, so that every reader decodes the colours libjpeg would
 * have guessed for the original (Aperio marks YCbCr data as RGB in TIFF).
 * Decoding and encoding, for built levels, use libjpeg-turbo with fixed
 * settings (islow DCT, quality SLIDE_QUALITY, optimised Huffman tables) so
 * that the same pixels give the same bytes.
 */
#include "slide_impl.h"
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>

/* ---- rebuilding without decoding ---- */

struct scan {
	int jfif, adobe, transform;  /* markers seen */
	int sof;                     /* a frame header seen */
	struct jpg_info ji;
	int cid[3];
	int hs[3], vs[3];
};

static int seg_sof(struct scan *sc, const uint8_t *p, size_t len, sl_err *err)
{
	if (len < 8)
		return sl_fail(err, SL_E_FORMAT, "JPEG frame header too short");
	int nc = p[7];
	if ((nc != 1 && nc != 3) || len < 8 + 3 * (size_t)nc || p[2] != 8)
		return sl_fail(err, SL_E_FORMAT, "JPEG frame is not 8-bit grey or 3-component");
	sc->sof = 1;
	sc->ji.h = (uint32_t)p[3] << 8 | p[4];
	sc->ji.w = (uint32_t)p[5] << 8 | p[6];
	sc->ji.ncomp = nc;
	for (int c = 0; c < nc; c++) {
		sc->cid[c] = p[8 + 3 * c];
		sc->hs[c] = p[9 + 3 * c] >> 4;
		sc->vs[c] = p[9 + 3 * c] & 15;
		if (!sc->hs[c] || !sc->vs[c])
			return sl_fail(err, SL_E_FORMAT, "JPEG frame with a zero sampling factor");
	}
	return 0;
}

/* libjpeg's own guess (jdapimin.c's rules), which readers of the original
 * relied on: JFIF, then Adobe's transform, then the component ids. */
static int finish_info(struct scan *sc, sl_err *err)
{
	struct jpg_info *ji = &sc->ji;
	if (!sc->sof)
		return sl_fail(err, SL_E_FORMAT, "JPEG tile without a frame header");
	ji->sub_h = ji->sub_v = 1;
	if (ji->ncomp == 1)
		return 0;
	if (sc->jfif)
		ji->ycbcr = 1;
	else if (sc->adobe)
		ji->ycbcr = sc->transform != 0;
	else
		ji->ycbcr = !(sc->cid[0] == 'R' && sc->cid[1] == 'G' && sc->cid[2] == 'B');
	if (sc->hs[1] != 1 || sc->vs[1] != 1 || sc->hs[2] != 1 || sc->vs[2] != 1 ||
	    (sc->hs[0] != 1 && sc->hs[0] != 2 && sc->hs[0] != 4) ||
	    (sc->vs[0] != 1 && sc->vs[0] != 2 && sc->vs[0] != 4) || (!ji->ycbcr && sc->hs[0] * sc->vs[0] != 1))
		return sl_fail(err, SL_E_FORMAT, "JPEG sampling factors not supported");
	ji->sub_h = sc->hs[0];
	ji->sub_v = sc->vs[0];
	return 0;
}

/* Walk the marker segments of p up to SOS (or EOI): keep tables, frame
 * and restart interval in out, note the colour markers.  Returns the offset
 * of the SOS marker, n for a tables-only stream, or <0. */
static int64_t walk(const uint8_t *p, size_t n, struct scan *sc, sl_buf *out, sl_err *err)
{
	if (n < 4 || p[0] != 0xFF || p[1] != 0xD8)
		return sl_fail(err, SL_E_FORMAT, "JPEG data does not start with SOI");
	size_t i = 2;
	for (;;) {
		while (i < n && p[i] == 0xFF && i + 1 < n && p[i + 1] == 0xFF)
			i++; /* fill bytes */
		if (i + 1 >= n || p[i] != 0xFF)
			return sl_fail(err, SL_E_FORMAT, "JPEG header damaged or cut short");
		int m = p[i + 1];
		if (m == 0xD9)
			return (int64_t)n; /* EOI: a tables-only stream */
		if (i + 4 > n)
			return sl_fail(err, SL_E_FORMAT, "JPEG header cut short");
		size_t len = (size_t)p[i + 2] << 8 | p[i + 3];
		if (len < 2 || i + 2 + len > n)
			return sl_fail(err, SL_E_FORMAT, "JPEG segment runs past the end of the tile");
		const uint8_t *seg = p + i + 2;
		int rc = 0;
		if (m == 0xDA)
			return (int64_t)i;
		if (m == 0xC0 || m == 0xC1 || m == 0xC2)
			rc = seg_sof(sc, seg, len, err);
		else if ((m >= 0xC3 && m <= 0xCF && m != 0xC4 && m != 0xC8) || m == 0xDC || m == 0xDE ||
			 m == 0xDF)
			return sl_fail(err, SL_E_FORMAT, "JPEG coding process not supported "
				       "(lossless, hierarchical or arithmetic)");
		else if (m == 0xE0 && len >= 7 && !memcmp(seg + 2, "JFIF", 5))
			sc->jfif = 1;
		else if (m == 0xEE && len >= 14 && !memcmp(seg + 2, "Adobe", 5))
			sc->adobe = 1, sc->transform = seg[13];
		if (rc < 0)
			return rc;
		if (m == 0xDB || m == 0xC4 || m == 0xDD || m == 0xC0 || m == 0xC1 || m == 0xC2)
			sl_buf_add(out, p + i, 2 + len);
		i += 2 + len;
	}
}

int slide_jpeg_rebuild(const uint8_t *tables, size_t ntables, const uint8_t *tile,
		       size_t n, sl_buf *out, struct jpg_info *ji, sl_err *err)
{
	struct scan sc = {0};
	sl_buf kept;
	sl_buf_init(&kept);
	int64_t sos = 0;
	if (tables && ntables)
		sos = walk(tables, ntables, &sc, &kept, err);
	if (sos >= 0 && tables && ntables && (size_t)sos != ntables)
		sos = sl_fail(err, SL_E_FORMAT, "JPEG tables hold a scan");
	if (sos >= 0)
		sos = walk(tile, n, &sc, &kept, err);
	if (sos >= 0 && (size_t)sos == n)
		sos = sl_fail(err, SL_E_FORMAT, "JPEG tile without a scan");
	int rc = sos < 0 ? (int)sos : finish_info(&sc, err);
	if (rc == 0) {
		sl_buf_reset(out);
		sl_buf_add(out, "\xFF\xD8", 2);
		if (sc.ji.ncomp == 3) {
			static const uint8_t adobe[] = {0xFF, 0xEE, 0, 14, 'A', 'd', 'o', 'b', 'e',
							0, 100, 0, 0, 0, 0};
			sl_buf_add(out, adobe, sizeof adobe);
			sl_buf_add(out, sc.ji.ycbcr ? "\1" : "\0", 1);
		}
		sl_buf_add(out, kept.data, kept.len);
		sl_buf_add(out, tile + sos, n - (size_t)sos);
		if (ji)
			*ji = sc.ji;
	}
	sl_buf_free(&kept);
	return rc;
}

/* ---- libjpeg: errors caught, nothing printed ---- */

struct jerr {
	struct jpeg_error_mgr mgr;
	jmp_buf jb;
	int cut;                      /* data ended early */
};

static void on_error(j_common_ptr c)
{
	longjmp(((struct jerr *)c->err)->jb, 1);
}

static void on_message(j_common_ptr c, int level)
{
	struct jerr *e = (struct jerr *)c->err;
	if (level < 0 && (c->err->msg_code == JWRN_JPEG_EOF || c->err->msg_code == JWRN_HIT_MARKER))
		e->cut = 1;
}

static void jerr_init(struct jerr *e)
{
	jpeg_std_error(&e->mgr);
	e->mgr.error_exit = on_error;
	e->mgr.emit_message = on_message;
	e->cut = 0;
}


/* ---- one thread's codec: libjpeg objects kept from tile to tile ---- */

/* Creating and destroying libjpeg objects per tile cost more than
 * the decoding of small tiles; an object is reset after each image
 * (jpeg_finish_* or jpeg_abort_*) and used again. */
struct slide_codec {
	struct jpeg_decompress_struct d;
	struct jpeg_compress_struct c;
	struct jerr de, ce;
	struct jpeg_destination_mgr dest;
	sl_buf *out;                  /* the encoder's output while it runs */
};

/* The encoder writes straight into an sl_buf that grows by doubling, in
 * place of jpeg_mem_dest's buffer allocated and freed per tile. */
static void dest_init(j_compress_ptr c)
{
	struct slide_codec *k = c->client_data;
	sl_buf *b = k->out;
	if (b->cap < (64u << 10)) {
		b->data = sl_xrealloc(b->data, 64u << 10);
		b->cap = 64u << 10;
	}
	b->len = 0;
	k->dest.next_output_byte = (JOCTET *)b->data;
	k->dest.free_in_buffer = b->cap - 1; /* room for sl_buf's terminating 0 */
}

static boolean dest_grow(j_compress_ptr c)
{
	struct slide_codec *k = c->client_data;
	sl_buf *b = k->out;
	b->len = b->cap - 1;
	b->data = sl_xrealloc(b->data, b->cap * 2);
	b->cap *= 2;
	k->dest.next_output_byte = (JOCTET *)b->data + b->len;
	k->dest.free_in_buffer = b->cap - 1 - b->len;
	return TRUE;
}

static void dest_term(j_compress_ptr c)
{
	struct slide_codec *k = c->client_data;
	sl_buf *b = k->out;
	b->len = b->cap - 1 - k->dest.free_in_buffer;
	b->data[b->len] = 0;
}

struct slide_codec *slide_codec_new(void)
{
	struct slide_codec *k = sl_xcalloc(1, sizeof *k);
	jerr_init(&k->de);
	k->d.err = &k->de.mgr;
	jpeg_create_decompress(&k->d);
	jerr_init(&k->ce);
	k->c.err = &k->ce.mgr;
	jpeg_create_compress(&k->c);
	k->c.client_data = k;
	k->dest.init_destination = dest_init;
	k->dest.empty_output_buffer = dest_grow;
	k->dest.term_destination = dest_term;
	k->c.dest = &k->dest;
	return k;
}

void slide_codec_free(struct slide_codec *k)
{
	if (!k)
		return;
	jpeg_destroy_decompress(&k->d);
	jpeg_destroy_compress(&k->c);
	free(k);
}

int slide_codec_decode(struct slide_codec *k, const uint8_t *p, size_t n, uint32_t w,
		       uint32_t h, int nc, int shift, uint8_t *px, size_t stride, sl_err *err)
{
	struct jpeg_decompress_struct *d = &k->d;
	k->de.cut = 0;
	if (setjmp(k->de.jb)) {
		jpeg_abort_decompress(d);
		return sl_fail(err, SL_E_FORMAT, "JPEG tile cannot be decoded (corrupt data)");
	}
	jpeg_mem_src(d, p, (unsigned long)n);
	jpeg_read_header(d, TRUE);
	if (d->image_width != w || d->image_height != h || d->num_components != nc) {
		jpeg_abort_decompress(d);
		return sl_fail(err, SL_E_FORMAT, "a JPEG tile's size or components differ from the "
			       "page's");
	}
	d->out_color_space = nc == 1 ? JCS_GRAYSCALE : JCS_RGB;
	d->dct_method = JDCT_ISLOW;
	d->scale_num = 1;
	d->scale_denom = 1u << shift; /* DCT-domain scaling: fewer samples to make */
	jpeg_start_decompress(d);
	uint32_t ow = w >> shift, oh = h >> shift;
	if (d->output_width != ow || d->output_height != oh) {
		jpeg_abort_decompress(d);
		return sl_fail(err, SL_E_STATE, "JPEG scaled decoding gave an unexpected size");
	}
	while (d->output_scanline < oh) {
		JSAMPROW row = px + (size_t)d->output_scanline * stride;
		jpeg_read_scanlines(d, &row, 1);
	}
	jpeg_finish_decompress(d);
	if (k->de.cut)
		return sl_fail(err, SL_E_FORMAT, "JPEG tile cut short (truncated data)");
	return 0;
}

int slide_codec_encode(struct slide_codec *k, const uint8_t *px, size_t stride, uint32_t w,
		       uint32_t h, const struct jpg_info *like, sl_buf *out, sl_err *err)
{
	struct jpeg_compress_struct *c = &k->c;
	k->out = out;
	if (setjmp(k->ce.jb)) {
		jpeg_abort_compress(c);
		return sl_fail(err, SL_E_FORMAT, "JPEG encoding failed");
	}
	c->image_width = w;
	c->image_height = h;
	int grey = like && like->ncomp == 1;
	c->input_components = grey ? 1 : 3;
	c->in_color_space = grey ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(c);
	jpeg_set_quality(c, like && like->quality ? like->quality : SLIDE_QUALITY, TRUE);
	if (grey) {
		c->comp_info[0].h_samp_factor = c->comp_info[0].v_samp_factor = 1;
	} else if (like && !like->ycbcr) {
		jpeg_set_colorspace(c, JCS_RGB); /* writes Adobe transform 0 */
	} else {
		c->comp_info[0].h_samp_factor = like ? like->sub_h : 2;
		c->comp_info[0].v_samp_factor = like ? like->sub_v : 2;
	}
	c->optimize_coding = TRUE;
	c->dct_method = JDCT_ISLOW;
	jpeg_start_compress(c, TRUE);
	while (c->next_scanline < h) {
		JSAMPROW row = (JSAMPROW)px + (size_t)c->next_scanline * stride;
		jpeg_write_scanlines(c, &row, 1);
	}
	jpeg_finish_compress(c);
	return 0;
}

int slide_jpeg_decode(const uint8_t *p, size_t n, uint32_t w, uint32_t h, uint8_t *px,
		      sl_err *err)
{
	struct slide_codec *k = slide_codec_new();
	int rc = slide_codec_decode(k, p, n, w, h, 3, 0, px, (size_t)w * 3, err);
	slide_codec_free(k);
	return rc;
}

int slide_jpeg_encode(const uint8_t *px, uint32_t w, uint32_t h, const struct jpg_info *like,
		      sl_buf *out, sl_err *err)
{
	struct slide_codec *k = slide_codec_new();
	int nc = like && like->ncomp == 1 ? 1 : 3;
	int rc = slide_codec_encode(k, px, (size_t)w * nc, w, h, like, out, err);
	slide_codec_free(k);
	return rc;
}
