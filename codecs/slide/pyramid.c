/*
 * pyramid.c: which output level comes from where, and building the missing
 * ones.
 *
 * Plan: level 0 is the largest tiled page.  Output level k has the size of
 * level 0 divided by 2^k (rounded up), down to the first level that fits in
 * one tile.  A page of the input whose size is level 0's divided by 2^k
 * (rounded either way) is copied as level k; every other level is built.
 *
 * Build: a cascade starts at a copied level and runs down through the
 * built levels below it.  The source level is read one tile row at a time;
 * each tile is reduced straight into the first built level's band (decoded
 * at half scale, or decoded whole and halved at the image's edges).  Every
 * built level keeps a band about 1.5 tiles high of its own width.  When a
 * band holds a tile row, its tiles are encoded and its rows pass down in
 * pairs through a 2x2 area mean (rounded to nearest; an odd last row or
 * column averages what exists) into the next band.  Memory is the bands,
 * about 4.5 x level 0's width x tile height bytes when level 1 is built,
 * whatever the slide's height, and a tile of pixels per thread.
 *
 * The tiles of a row are decoded, and those of a band encoded, on the
 * slide's threads (pool.c), each tile by one thread into its own place;
 * the caller then emits them in order, so the bytes are the same for any
 * number of threads.
 */
#include "slide_impl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

static uint32_t min32(uint32_t a, uint32_t b) { return a < b ? a : b; }

/* ---- plan ---- */

/* 8-bit RGB (any compression read), or 8-bit grey (MinIsBlack; not
 * JPEG 2000, whose Aperio reader wants three components). */
static int colour_ok(const struct sdir *d)
{
	if (d->spp == 3)
		return d->photometric != PHOTOMETRIC_SEPARATED && (d->compression == 7 ||
			SLIDE_IS_J2K(d->compression) || d->photometric == PHOTOMETRIC_RGB);
	return d->spp == 1 && d->photometric == PHOTOMETRIC_MINISBLACK &&
	       !SLIDE_IS_J2K(d->compression);
}

static int usable(const struct sdir *d)
{
	return d->kind == SDIR_LEVEL && d->off && d->bps == 8 && colour_ok(d);
}

/* Is page d level k of a pyramid whose level 0 is w0 x h0? */
static int is_level(const struct sdir *d, uint32_t w0, uint32_t h0, int k)
{
	uint32_t fw = w0 >> k, fh = h0 >> k;
	uint32_t cw = (uint32_t)(((uint64_t)w0 + (1u << k) - 1) >> k);
	uint32_t ch = (uint32_t)(((uint64_t)h0 + (1u << k) - 1) >> k);
	return (d->w == fw || d->w == cw) && (d->h == fh || d->h == ch);
}

static int why_not_level0(const struct sdir *d, sl_err *err)
{
	if (!d->off)
		return sl_fail(err, SL_E_FORMAT, "level 0 compression %u not supported (JPEG, JPEG "
			       "2000, none, LZW, deflate and zstd are read)", d->compression);
	return sl_fail(err, SL_E_FORMAT, "level 0 is not 8-bit RGB or grey (%u samples of %u "
		       "bits, photometric %u)", d->spp, d->bps, d->photometric);
}

/* The colour facts of a copied level, from its first non-empty tile:
 * a JPEG frame's or a JPEG 2000 SIZ's (lossless tiles have none to read). */
static int level_info(struct slide *s, int k, sl_err *err)
{
	struct level *L = &s->lv[k];
	struct sdir *d = slide_src_dir(s->src, L->src);
	sl_buf raw, out;
	sl_buf_init(&raw);
	sl_buf_init(&out);
	L->ji = (struct jpg_info){L->tw, L->th, s->nc, s->nc == 3 && L->compression == 7, 1, 1, 0};
	L->jk = (struct j2k_info){L->tw, L->th, 3, {1, 1, 1}, {1, 1, 1}};
	int rc = 0;
	for (uint32_t t = 0; t < d->ntiles && rc == 0 && L->compression == d->compression &&
			     !slide_src_lossless(d->compression); t++) {
		if (!d->cnt[t])
			continue;
		rc = slide_src_tile(s->src, L->src, t, &raw, err);
		if (rc == 0 && SLIDE_IS_J2K(d->compression))
			rc = slide_j2k_rebuild((uint8_t *)raw.data, raw.len, &out, &L->jk, err);
		else if (rc == 0)
			rc = slide_jpeg_rebuild(d->tables, d->ntables, (uint8_t *)raw.data, raw.len,
						&out, &L->ji, err);
		break;
	}
	if (rc == 0 && (L->ji.ncomp != s->nc || L->ji.w != L->tw || L->ji.h != L->th ||
			L->jk.w != L->tw || L->jk.h != L->th))
		rc = sl_fail(err, SL_E_FORMAT, "page %d: tiles are not %d-component tiles of the "
			     "page's tile size", L->src, s->nc);
	sl_buf_free(&raw);
	sl_buf_free(&out);
	return rc;
}

static void level_init(struct level *L, uint32_t w, uint32_t h, uint32_t tw, uint32_t th)
{
	L->w = w, L->h = h, L->tw = tw, L->th = th;
	L->ntx = (w + tw - 1) / tw;
	L->nty = (h + th - 1) / th;
	size_t n = (size_t)L->ntx * L->nty;
	L->size = sl_xcalloc(n + 1, sizeof *L->size);
	L->pos = sl_xcalloc(n + 1, sizeof *L->pos);
}

int slide_plan(struct slide *s, sl_err *err)
{
	int nd = slide_src_ndirs(s->src), d0 = -1;
	for (int i = 0; i < nd; i++) {
		const struct sdir *d = slide_src_dir(s->src, i);
		if (d->kind == SDIR_LEVEL && (d->tw || d->decode) &&
		    (d0 < 0 || (uint64_t)d->w * d->h > (uint64_t)slide_src_dir(s->src, d0)->w *
							 slide_src_dir(s->src, d0)->h))
			d0 = i;
	}
	if (d0 < 0)
		return sl_fail(err, SL_E_FORMAT, "no tiled image page: not a whole-slide pyramid "
			       "this reader takes (stripped TIFFs are not read)");
	const struct sdir *z = slide_src_dir(s->src, d0);
	if (!usable(z))
		return why_not_level0(z, err);
	s->nc = z->spp;
	int used[SLIDE_MAX_DIRS] = {0};
	used[d0] = 1;
	/* a level 0 that cannot be copied tile for tile (strips, separate
	 * planes) is decoded and written losslessly: deflate with the
	 * horizontal predictor, which OpenSlide's generic reader and vips
	 * decode through libtiff */
	uint32_t tw = z->tw ? z->tw : SLIDE_DECODED_TILE, th = z->tw ? z->th : SLIDE_DECODED_TILE;
	level_init(&s->lv[0], z->w, z->h, tw, th);
	s->lv[0].src = d0;
	s->lv[0].decoded = z->decode;
	s->lv[0].compression = z->decode ? COMPRESSION_ADOBE_DEFLATE : z->compression;
	s->lv[0].predictor = z->decode ? PREDICTOR_HORIZONTAL : z->predictor;
	s->dband_ty = -1;
	int k = 1;
	for (; k < SLIDE_MAX_LEVELS; k++) {
		const struct level *P = &s->lv[k - 1];
		if (P->w <= tw && P->h <= th)
			break; /* the last level fits in one tile */
		struct level *L = &s->lv[k];
		L->src = L->parent = -1;
		for (int i = 0; i < nd && !s->conf->rebuild; i++) {
			const struct sdir *d = slide_src_dir(s->src, i);
			if (!used[i] && usable(d) && !d->decode && d->spp == z->spp &&
			    is_level(d, z->w, z->h, k)) {
				used[i] = 1;
				L->src = i;
				level_init(L, d->w, d->h, d->tw, d->th);
				L->compression = d->compression;
				L->predictor = d->predictor;
				break;
			}
		}
		if (L->src < 0) {
			level_init(L, (P->w + 1) / 2, (P->h + 1) / 2, tw, th);
			L->parent = k - 1;
			L->compression = 7;
			L->ji = s->nc == 1 ? (struct jpg_info){tw, th, 1, 0, 1, 1, 0}
					   : (struct jpg_info){tw, th, 3, 1, 2, 2, 0};
		}
	}
	if (k == SLIDE_MAX_LEVELS)
		return sl_fail(err, SL_E_FORMAT, "too many levels");
	s->nlv = k;
	for (int i = 0; i < nd; i++) {
		const struct sdir *d = slide_src_dir(s->src, i);
		if (!used[i])
			s->dropped[d->kind == SDIR_LEVEL ? SDIR_OTHER : d->kind]++;
	}
	for (int j = 0; j < s->nlv; j++) {
		int rc = s->lv[j].src >= 0 ? level_info(s, j, err) : 0;
		if (rc == 0 && s->lv[j].src >= 0 && !s->lv[j].decoded)
			rc = slide_white_tile(s, j, err);
		if (rc < 0)
			return rc;
		s->copied_levels += s->lv[j].src >= 0;
		s->built_levels += s->lv[j].src < 0;
	}
	return 0;
}

/* ---- one copied tile ---- */

/* Say which tile an error is about (the message names no value). */
static int where(int rc, int page, uint32_t t, sl_err *err)
{
	if (rc < 0 && err && strncmp(err->msg, "page ", 5)) {
		char m[sizeof err->msg];
		snprintf(m, sizeof m, "page %d tile %u: %.450s", page, t, err->msg);
		memcpy(err->msg, m, sizeof m);
	}
	return rc;
}

/* A JPEG 2000 tile without COM; its layout must be the level's. */
static int copy_j2k(struct level *L, const sl_buf *raw, sl_buf *out, sl_err *err)
{
	struct j2k_info jk;
	int rc = slide_j2k_rebuild((uint8_t *)raw->data, raw->len, out, &jk, err);
	if (rc == 0 && (jk.w != L->jk.w || jk.h != L->jk.h || memcmp(jk.dx, L->jk.dx, 3) ||
			memcmp(jk.dy, L->jk.dy, 3)))
		rc = sl_fail(err, SL_E_FORMAT, "JPEG 2000 size or components differ from the page's "
			     "tile size or other tiles");
	return rc;
}

/* The tile row ty of a decoded level 0 into s->dband (once; callers on
 * several threads load it first, from one). */
static int slide_decoded_row(struct slide *s, uint32_t ty, sl_err *err)
{
	const struct level *L = &s->lv[0];
	if (s->dband_ty == (int64_t)ty)
		return 0;
	if ((uint64_t)L->w * L->th * s->nc > SLIDE_MAX_BANDS)
		return sl_fail(err, SL_E_FORMAT, "slide too wide: a tile row of its level 0 needs "
			       "more than %llu MiB", (unsigned long long)(SLIDE_MAX_BANDS >> 20));
	if (!s->dband)
		s->dband = malloc((size_t)L->w * L->th * s->nc);
	if (!s->dband)
		return sl_fail(err, SL_E_NOMEM, "no memory for a band of level 0");
	s->dband_ty = -1;
	uint32_t y = ty * L->th, n = min32(L->h - y, L->th);
	int rc = slide_src_band(s->src, L->src, y, n, s->dband, (size_t)L->w * s->nc, err);
	if (rc == 0)
		s->dband_ty = ty;
	return rc;
}

/* Tile t of a decoded level 0: its pixels from the band (an edge tile
 * padded by repeating its last row and column), deflate-coded. */
static int decoded_tile(struct slide *s, uint32_t t, sl_buf *px, sl_buf *out, sl_err *err)
{
	const struct level *L = &s->lv[0];
	uint32_t ty = t / L->ntx, x0 = t % L->ntx * L->tw;
	uint32_t cw = min32(L->w - x0, L->tw), rows = min32(L->h - ty * L->th, L->th);
	int rc = slide_decoded_row(s, ty, err);
	if (rc < 0)
		return rc;
	int nc = s->nc;
	size_t stride = (size_t)L->w * nc;
	sl_buf_reset(px);
	for (uint32_t r = 0; r < L->th; r++) {
		const uint8_t *row = s->dband + (size_t)min32(r, rows - 1) * stride + (size_t)x0 * nc;
		sl_buf_add(px, row, (size_t)cw * nc);
		for (uint32_t x = cw; x < L->tw; x++)
			sl_buf_add(px, row + (size_t)(cw - 1) * nc, (size_t)nc);
	}
	return slide_lossless_encode((uint8_t *)px->data, L->tw, L->th, nc, L->compression,
				     L->predictor, out, err);
}

int slide_copy_tile(struct slide *s, int k, uint32_t t, sl_buf *raw, sl_buf *out, sl_err *err)
{
	if (s->osl) /* level 0 re-encoded, the only level not built */
		return slide_osl_copy_tile(s, t, out, err);
	struct level *L = &s->lv[k];
	struct sdir *d = slide_src_dir(s->src, L->src);
	if (L->decoded)
		return decoded_tile(s, t, raw, out, err);
	if (!d->cnt[t]) { /* made by the plan */
		sl_buf_reset(out);
		sl_buf_add(out, L->white.data, L->white.len);
		return 0;
	}
	struct jpg_info ji;
	int rc = slide_src_tile(s->src, L->src, t, raw, err);
	if (rc == 0 && SLIDE_IS_J2K(L->compression))
		return where(copy_j2k(L, raw, out, err), L->src, t, err);
	if (rc == 0 && L->compression != 7) { /* lossless: as it is */
		sl_buf_reset(out);
		sl_buf_add(out, raw->data, raw->len);
		return 0;
	}
	if (rc == 0)
		rc = slide_jpeg_rebuild(d->tables, d->ntables, (uint8_t *)raw->data, raw->len, out,
					&ji, err);
	if (rc == 0 && (ji.w != L->ji.w || ji.h != L->ji.h || ji.ncomp != L->ji.ncomp ||
			ji.ycbcr != L->ji.ycbcr || ji.sub_h != L->ji.sub_h || ji.sub_v != L->ji.sub_v))
		rc = sl_fail(err, SL_E_FORMAT, "JPEG size, colour or sampling differs from the "
			     "page's other tiles");
	return where(rc, L->src, t, err);
}

/* ---- the cascade ---- */

/* One thread's libjpeg objects and scratch, kept for the whole slide. */
struct slide_slot {
	struct slide_codec *codec;
	sl_buf raw;                   /* a source tile as read */
	uint8_t *px;                  /* one tile of pixels (edge tiles) */
	size_t npx;
};

struct band {                         /* a built level's rows not yet encoded */
	uint8_t *px;                  /* cap rows of the level's width x 3 */
	uint32_t cap, fill, row0;     /* rows held; image row of the first */
};

struct cascade {
	struct slide *s;
	int src, last;
	struct band b[SLIDE_MAX_LEVELS];
	sl_buf *enc;                  /* a section's tiles, by column: encoded or copied */
	uint32_t nenc;
	uint32_t ty;                  /* source section: the tile row */
	int k;                        /* encode and halve sections: the level */
	uint32_t nrows;               /* and the band rows they take */
	slide_emit_fn built, copied;
};

#define HALVE_ROWS 16                 /* output rows per halving task */


/* halve() for grey rows. */
static void halve1(const uint8_t *a, const uint8_t *b, uint32_t pw, uint8_t *out, uint32_t w)
{
	uint32_t full = pw / 2;
	for (uint32_t x = 0; x < full; x++, a += 2, out++) {
		*out = b ? (uint8_t)((a[0] + a[1] + b[0] + b[1] + 2) >> 2) :
			   (uint8_t)((a[0] + a[1] + 1) >> 1);
		b = b ? b + 2 : NULL;
	}
	if (full < w)
		*out = b ? (uint8_t)((a[0] + b[0] + 1) >> 1) : a[0];
}

/* 2x2 area mean of rows a and b (b NULL: a alone, the odd last row), pw
 * pixels of nc samples wide, into w = ceil(pw / 2) pixels; rounded to
 * nearest. */
static void halve(int nc, const uint8_t *a, const uint8_t *b, uint32_t pw, uint8_t *out,
		  uint32_t w)
{
	if (nc == 1) {
		halve1(a, b, pw, out, w);
		return;
	}
	uint32_t full = pw / 2;
	if (b) {
		for (uint32_t x = 0; x < full; x++, a += 6, b += 6, out += 3) {
			out[0] = (uint8_t)((a[0] + a[3] + b[0] + b[3] + 2) >> 2);
			out[1] = (uint8_t)((a[1] + a[4] + b[1] + b[4] + 2) >> 2);
			out[2] = (uint8_t)((a[2] + a[5] + b[2] + b[5] + 2) >> 2);
		}
	} else {
		for (uint32_t x = 0; x < full; x++, a += 6, out += 3) {
			out[0] = (uint8_t)((a[0] + a[3] + 1) >> 1);
			out[1] = (uint8_t)((a[1] + a[4] + 1) >> 1);
			out[2] = (uint8_t)((a[2] + a[5] + 1) >> 1);
		}
	}
	if (full < w) /* odd width: the last column alone */
		for (int c = 0; c < 3; c++)
			out[c] = b ? (uint8_t)((a[c] + b[c] + 1) >> 1) : a[c];
}

/* A tile decoded whole into the slot's scratch: JPEG (islow), JPEG 2000
 * (OpenJPEG; rebuilt stream in p), or lossless (libtiff, on the slot's
 * own handle). */
static int decode_whole(struct slide *s, int k, uint32_t t, int slot, const uint8_t *p, size_t n,
			sl_err *err)
{
	const struct level *L = &s->lv[k];
	struct slide_slot *sl = &s->slots[slot];
	size_t ts = (size_t)L->tw * s->nc;
	if (SLIDE_IS_J2K(L->compression))
		return slide_j2k_decode(p, n, L->tw, L->th, L->compression == SLIDE_J2K_YCBCR, sl->px,
					ts, err);
	if (L->compression != 7)
		return slide_src_decode(s->src, slot, L->src, t, sl->px, sl->npx, err);
	return slide_codec_decode(sl->codec, p, n, L->tw, L->th, s->nc, 0, sl->px, ts, err);
}

/* A level 0 tile read through OpenSlide (osl.c): encoded, and its cw x
 * rows pixels halved into the band at dst. */
static int osl_source(struct slide *s, struct slide_slot *sl, uint32_t t, uint32_t cw,
		      uint32_t rows, uint8_t *dst, size_t stride, sl_buf *enc, sl_err *err)
{
	const struct level *L = &s->lv[0];
	int rc = slide_osl_tile(s, t, sl->codec, sl->px, enc, err);
	size_t ts = (size_t)L->tw * 3;
	for (uint32_t r = 0; rc == 0 && r < (rows + 1) / 2; r++) {
		const uint8_t *a = sl->px + 2 * r * ts;
		halve(3, a, 2 * r + 1 < rows ? a + ts : NULL, cw, dst + r * stride,
		      (cw + 1) / 2);
	}
	return rc;
}

/* Source section, one task per tile of source row c->ty: read the tile
 * (its copied form goes to c->enc for its size) and reduce it into the
 * first built level's band.  A whole JPEG tile is decoded at half scale:
 * libjpeg-turbo's scaled IDCT makes each output sample from the 8x8 block
 * it lies in, which for the tile's interior is the 2x2 area mean up to
 * the rounding of the coefficients, and skips three quarters of the
 * inverse DCT, upsampling and colour conversion.  A JPEG tile the image's
 * edge cuts, and every other tile, is decoded whole and halved exactly,
 * so that no padding beyond the edge leaks into the mean. */
static int source_task(void *ctx, uint32_t tx, int slot, sl_err *err)
{
	struct cascade *c = ctx;
	struct slide *s = c->s;
	const struct level *L = &s->lv[c->src], *H = &s->lv[c->src + 1];
	struct slide_slot *sl = &s->slots[slot];
	struct band *b = &c->b[c->src + 1];
	int nc = s->nc;
	uint32_t t = c->ty * L->ntx + tx, x0 = tx * L->tw;
	uint32_t cw = min32(L->w - x0, L->tw), rows = min32(L->h - c->ty * L->th, L->th);
	uint32_t ow = (cw + 1) / 2, oh = (rows + 1) / 2;
	size_t stride = (size_t)H->w * nc;
	uint8_t *dst = b->px + (size_t)b->fill * stride + (size_t)(x0 / 2) * nc;
	if (s->osl) /* OpenSlide's pixels: halved exactly, as an edge tile is */
		return osl_source(s, sl, t, cw, rows, dst, stride, &c->enc[tx], err);
	int rc = slide_copy_tile(s, c->src, t, &sl->raw, &c->enc[tx], err);
	if (rc < 0)
		return rc;
	const uint8_t *p = (const uint8_t *)c->enc[tx].data;
	size_t n = c->enc[tx].len;
	size_t ts = (size_t)L->tw * nc;
	if (L->decoded) { /* the band holds the pixels */
		const uint8_t *src = s->dband + (size_t)x0 * nc;
		size_t bs = (size_t)L->w * nc;
		for (uint32_t r = 0; r < oh; r++)
			halve(nc, src + 2 * r * bs, 2 * r + 1 < rows ? src + (2 * r + 1) * bs : NULL, cw,
			      dst + r * stride, ow);
		return 0;
	}
	if (!slide_src_dir(s->src, L->src)->cnt[t]) { /* empty: white */
		for (uint32_t r = 0; r < oh; r++)
			memset(dst + r * stride, 255, (size_t)ow * nc);
		return 0;
	}
	if (L->compression == 7 && cw == L->tw && rows == L->th)
		return where(slide_codec_decode(sl->codec, p, n, L->tw, L->th, nc, 1, dst, stride,
						err), L->src, t, err);
	rc = decode_whole(s, c->src, t, slot, p, n, err);
	if (rc < 0)
		return where(rc, L->src, t, err);
	for (uint32_t r = 0; r < oh; r++) {
		const uint8_t *a = sl->px + 2 * r * ts;
		halve(nc, a, 2 * r + 1 < rows ? a + ts : NULL, cw, dst + r * stride, ow);
	}
	return 0;
}

/* Encode section: tile tx of level c->k from the first c->nrows rows of
 * its band.  A whole tile is encoded in place; an edge tile is padded by
 * repeating its last row and column (no hard edge to code). */
static int encode_task(void *ctx, uint32_t tx, int slot, sl_err *err)
{
	struct cascade *c = ctx;
	const struct level *L = &c->s->lv[c->k];
	struct slide_slot *sl = &c->s->slots[slot];
	const struct band *b = &c->b[c->k];
	uint32_t x0 = tx * L->tw, cw = min32(L->w - x0, L->tw), n = c->nrows;
	int nc = c->s->nc;
	size_t stride = (size_t)L->w * nc;
	const uint8_t *src = b->px + (size_t)x0 * nc;
	if (cw == L->tw && n == L->th)
		return slide_codec_encode(sl->codec, src, stride, L->tw, L->th, &L->ji, &c->enc[tx],
					  err);
	size_t ts = (size_t)L->tw * nc;
	for (uint32_t r = 0; r < L->th; r++) {
		const uint8_t *row = src + (size_t)min32(r, n - 1) * stride;
		uint8_t *d = sl->px + r * ts;
		memcpy(d, row, (size_t)cw * nc);
		for (uint32_t x = cw; x < L->tw; x++)
			memcpy(d + (size_t)x * nc, row + (size_t)(cw - 1) * nc, (size_t)nc);
	}
	return slide_codec_encode(sl->codec, sl->px, ts, L->tw, L->th, &L->ji, &c->enc[tx], err);
}

/* Halve section: HALVE_ROWS rows of level c->k + 1 from c->nrows band
 * rows of level c->k, appended to the next band. */
static int halve_task(void *ctx, uint32_t i, int slot, sl_err *err)
{
	struct cascade *c = ctx;
	const struct level *P = &c->s->lv[c->k], *L = &c->s->lv[c->k + 1];
	const struct band *pb = &c->b[c->k];
	struct band *b = &c->b[c->k + 1];
	uint32_t m = (c->nrows + 1) / 2, end = min32((i + 1) * HALVE_ROWS, m);
	int nc = c->s->nc;
	size_t ps = (size_t)P->w * nc, s = (size_t)L->w * nc;
	for (uint32_t r = i * HALVE_ROWS; r < end; r++) {
		const uint8_t *a = pb->px + 2 * r * ps;
		halve(nc, a, 2 * r + 1 < c->nrows ? a + ps : NULL, P->w, b->px + (b->fill + r) * s, L->w);
	}
	return 0;
}

static int flush_band(struct cascade *c, int k, uint32_t n, sl_err *err);

/* Rows were added to level k's band: encode every full tile row. */
static int band_grew(struct cascade *c, int k, sl_err *err)
{
	int rc = 0;
	while (rc == 0 && c->b[k].fill >= c->s->lv[k].th)
		rc = flush_band(c, k, c->s->lv[k].th, err);
	return rc;
}

/* Encode the first n rows of level k's band into a row of tiles, emitted
 * in order; halve them into the next band; keep the rest. */
static int flush_band(struct cascade *c, int k, uint32_t n, sl_err *err)
{
	struct slide *s = c->s;
	const struct level *L = &s->lv[k];
	struct band *b = &c->b[k];
	uint32_t ty = b->row0 / L->th;
	c->k = k;
	c->nrows = n;
	int rc = slide_pool_run(s->pool, L->ntx, encode_task, c, err);
	for (uint32_t tx = 0; rc == 0 && tx < L->ntx; tx++)
		rc = c->built(s, k, ty * L->ntx + tx, (uint8_t *)c->enc[tx].data, c->enc[tx].len, err);
	if (rc == 0 && k < c->last) {
		c->k = k;
		c->nrows = n;
		uint32_t m = (n + 1) / 2;
		rc = slide_pool_run(s->pool, (m + HALVE_ROWS - 1) / HALVE_ROWS, halve_task, c, err);
		c->b[k + 1].fill += m;
	}
	if (rc < 0)
		return rc;
	size_t stride = (size_t)L->w * s->nc;
	memmove(b->px, b->px + n * stride, (b->fill - n) * stride);
	b->fill -= n;
	b->row0 += n;
	return k < c->last ? band_grew(c, k + 1, err) : 0;
}

/* Source tile row ty: read and reduce its tiles, then encode what fills. */
static int source_row(struct cascade *c, uint32_t ty, sl_err *err)
{
	struct slide *s = c->s;
	const struct level *L = &s->lv[c->src];
	c->ty = ty;
	int rc = L->decoded ? slide_decoded_row(s, ty, err) : 0;
	if (rc == 0)
		rc = slide_pool_run(s->pool, L->ntx, source_task, c, err);
	for (uint32_t tx = 0; rc == 0 && c->copied && tx < L->ntx; tx++)
		rc = c->copied(s, c->src, ty * L->ntx + tx, NULL, c->enc[tx].len, err);
	if (rc < 0)
		return rc;
	c->b[c->src + 1].fill += (min32(L->h - ty * L->th, L->th) + 1) / 2;
	return band_grew(c, c->src + 1, err);
}

/* The source has sent its last row: encode what every band holds, from
 * the top down (each flush feeds the band below). */
static int cascade_end(struct cascade *c, sl_err *err)
{
	for (int k = c->src + 1; k <= c->last; k++) {
		int rc = c->b[k].fill ? flush_band(c, k, c->b[k].fill, err) : 0;
		if (rc == 0 && c->b[k].row0 != c->s->lv[k].h)
			rc = sl_fail(err, SL_E_STATE, "level %d: built %u rows of %u", k, c->b[k].row0,
				     c->s->lv[k].h);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Bands and per-thread scratch: about 1.5 tile rows of every built level
 * (rows arrive half a source tile row at a time) and a tile per thread. */
static int cascade_alloc(struct cascade *c, sl_err *err)
{
	struct slide *s = c->s;
	const struct level *S = &s->lv[c->src];
	uint64_t bytes = 0;
	uint32_t maxnt = S->ntx;
	size_t maxt = (size_t)S->tw * S->th * 3; /* 3: J2K decodes to RGB whatever nc */
	for (int k = c->src + 1; k <= c->last; k++) {
		const struct level *L = &s->lv[k];
		c->b[k].cap = L->th + (L->th > S->th ? L->th : S->th) / 2;
		bytes += (uint64_t)L->w * c->b[k].cap * s->nc;
		maxnt = L->ntx > maxnt ? L->ntx : maxnt;
		maxt = (size_t)L->tw * L->th * 3 > maxt ? (size_t)L->tw * L->th * 3 : maxt;
	}
	if (bytes > SLIDE_MAX_BANDS)
		return sl_fail(err, SL_E_FORMAT, "slide too wide: building its levels needs %llu MiB "
			       "of bands (limit %llu)", (unsigned long long)(bytes >> 20),
			       (unsigned long long)(SLIDE_MAX_BANDS >> 20));
	int ok = 1;
	for (int k = c->src + 1; k <= c->last; k++)
		ok = ok && (c->b[k].px = malloc((size_t)s->lv[k].w * c->b[k].cap * s->nc)) != NULL;
	for (int i = 0; i < slide_pool_threads(s->pool) && ok; i++) {
		struct slide_slot *sl = &s->slots[i];
		if (sl->npx < maxt) {
			free(sl->px);
			sl->npx = (sl->px = malloc(maxt)) ? maxt : 0;
		}
		ok = sl->px != NULL;
	}
	c->enc = sl_xcalloc(maxnt, sizeof *c->enc);
	c->nenc = maxnt;
	return ok ? 0 : sl_fail(err, SL_E_NOMEM, "no memory for the pixel bands (%llu MiB)",
				(unsigned long long)(bytes >> 20));
}

static int cascade_run(struct cascade *c, sl_err *err)
{
	int rc = cascade_alloc(c, err);
	for (uint32_t ty = 0; rc == 0 && ty < c->s->lv[c->src].nty; ty++)
		rc = source_row(c, ty, err);
	if (rc == 0)
		rc = cascade_end(c, err);
	for (int k = c->src + 1; k <= c->last; k++)
		free(c->b[k].px);
	for (uint32_t i = 0; i < c->nenc; i++)
		sl_buf_free(&c->enc[i]);
	free(c->enc);
	return rc;
}

/* The pool and one codec per thread, made for the first cascade. */
static int slide_threads_start(struct slide *s, sl_err *err)
{
	if (s->pool)
		return 0;
	int rc = slide_pool_new(&s->pool, s->conf->threads ? s->conf->threads : slide_cpus(), err);
	int n = s->pool ? slide_pool_threads(s->pool) : 0;
	s->slots = sl_xcalloc((size_t)(n ? n : 1), sizeof *s->slots);
	for (int i = 0; i < n; i++)
		s->slots[i].codec = slide_codec_new();
	return rc == 0 && s->src ? slide_src_slots(s->src, n, err) : rc; /* no src: OpenSlide's */
}

void slide_threads_stop(struct slide *s)
{
	int n = s->pool ? slide_pool_threads(s->pool) : 0;
	slide_pool_free(s->pool);
	for (int i = 0; i < n; i++) {
		slide_codec_free(s->slots[i].codec);
		sl_buf_free(&s->slots[i].raw);
		free(s->slots[i].px);
	}
	free(s->slots);
	s->pool = NULL;
	s->slots = NULL;
}

/* Copied levels that feed no built level are only read (for their sizes). */
static int scan_level(struct slide *s, int k, slide_emit_fn copied, sl_err *err)
{
	struct level *L = &s->lv[k];
	sl_buf raw, out;
	sl_buf_init(&raw);
	sl_buf_init(&out);
	int rc = 0;
	for (uint32_t t = 0; rc == 0 && t < L->ntx * L->nty; t++) {
		rc = slide_copy_tile(s, k, t, &raw, &out, err);
		if (rc == 0)
			rc = copied(s, k, t, (uint8_t *)out.data, out.len, err);
	}
	sl_buf_free(&raw);
	sl_buf_free(&out);
	return rc;
}

int slide_build(struct slide *s, slide_emit_fn built, slide_emit_fn copied, sl_err *err)
{
	for (int k = 0; k < s->nlv; k++) {
		if (s->lv[k].src < 0)
			continue;
		int last = k;
		while (last + 1 < s->nlv && s->lv[last + 1].src < 0)
			last++;
		int rc;
		if (last == k) {
			rc = copied ? scan_level(s, k, copied, err) : 0;
		} else {
			struct cascade c = {.s = s, .src = k, .last = last, .built = built,
					    .copied = copied};
			rc = slide_threads_start(s, err);
			if (rc == 0)
				rc = cascade_run(&c, err);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}
