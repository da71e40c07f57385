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
 * built levels below it.  The source level is decoded one tile row at a
 * time into a band; each built level keeps a band one tile high of its own
 * width.  Rows pass down in pairs through a 2x2 area mean (rounded to
 * nearest; an odd last row or column averages what exists); a full band is
 * encoded into tiles and its rows feed the next level.  Memory is the
 * bands, about 6 x width x tile height bytes, whatever the slide's height.
 */
#include "slide_impl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- plan ---- */

static int usable(const struct sdir *d)
{
	return d->kind == SDIR_LEVEL && d->off && d->spp == 3 && d->bps == 8;
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
	if (d->compression != 7)
		return sl_fail(err, SL_E_FORMAT, "level 0 compression %u not supported yet (JPEG "
			       "tiles only; JPEG 2000 and others are not read)", d->compression);
	if (d->planar != 1)
		return sl_fail(err, SL_E_FORMAT, "level 0 has separate colour planes (not supported)");
	return sl_fail(err, SL_E_FORMAT, "level 0 is not 8-bit RGB (%u samples of %u bits)",
		       d->spp, d->bps);
}

/* The colour facts of a copied level, from its first non-empty tile. */
static int level_info(struct slide *s, int k, sl_err *err)
{
	struct level *L = &s->lv[k];
	struct sdir *d = slide_src_dir(s->src, L->src);
	sl_buf raw, out;
	sl_buf_init(&raw);
	sl_buf_init(&out);
	L->ji = (struct jpg_info){L->tw, L->th, 3, 1, 2, 2};
	int rc = 0;
	for (uint32_t t = 0; t < d->ntiles && rc == 0; t++) {
		if (!d->cnt[t])
			continue;
		rc = slide_src_tile(s->src, L->src, t, &raw, err);
		if (rc == 0)
			rc = slide_jpeg_rebuild(d->tables, d->ntables, (uint8_t *)raw.data, raw.len,
						&out, &L->ji, err);
		break;
	}
	if (rc == 0 && (L->ji.ncomp != 3 || L->ji.w != L->tw || L->ji.h != L->th))
		rc = sl_fail(err, SL_E_FORMAT, "page %d: JPEG tiles are not 3-component tiles of "
			     "the page's tile size", L->src);
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
		if (d->kind == SDIR_LEVEL && d->tw &&
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
	int used[SLIDE_MAX_DIRS] = {0};
	used[d0] = 1;
	level_init(&s->lv[0], z->w, z->h, z->tw, z->th);
	s->lv[0].src = d0;
	int k = 1;
	for (; k < SLIDE_MAX_LEVELS; k++) {
		const struct level *P = &s->lv[k - 1];
		if (P->w <= z->tw && P->h <= z->th)
			break; /* the last level fits in one tile */
		struct level *L = &s->lv[k];
		L->src = L->parent = -1;
		for (int i = 0; i < nd && !s->conf->rebuild; i++) {
			const struct sdir *d = slide_src_dir(s->src, i);
			if (!used[i] && usable(d) && is_level(d, z->w, z->h, k)) {
				used[i] = 1;
				L->src = i;
				level_init(L, d->w, d->h, d->tw, d->th);
				break;
			}
		}
		if (L->src < 0) {
			level_init(L, (P->w + 1) / 2, (P->h + 1) / 2, z->tw, z->th);
			L->parent = k - 1;
			L->ji = (struct jpg_info){z->tw, z->th, 3, 1, 2, 2};
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

int slide_copy_tile(struct slide *s, int k, uint32_t t, sl_buf *raw, sl_buf *out, sl_err *err)
{
	struct level *L = &s->lv[k];
	struct sdir *d = slide_src_dir(s->src, L->src);
	if (!d->cnt[t]) {
		/* an empty tile (a scanner skipped it): white, encoded like
		 * the level's tiles, since readers fail on a zero-length tile;
		 * encoded once per level */
		if (s->white_k != k + 1) {
			size_t n = (size_t)L->tw * L->th * 3;
			uint8_t *px = sl_xmalloc(n);
			memset(px, 255, n);
			int rc = slide_jpeg_encode(px, L->tw, L->th, &L->ji, &s->white, err);
			free(px);
			if (rc < 0)
				return rc;
			s->white_k = k + 1;
		}
		sl_buf_reset(out);
		sl_buf_add(out, s->white.data, s->white.len);
		return 0;
	}
	struct jpg_info ji;
	int rc = slide_src_tile(s->src, L->src, t, raw, err);
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

struct band {
	uint8_t *px;                  /* w x th x 3: the level's current tile row */
	uint32_t fill, row0;          /* rows held; image row of the first */
	uint8_t *carry;               /* the parent's row waiting for its pair */
	int has_carry;
};

struct cascade {
	struct slide *s;
	int src, last;
	struct band b[SLIDE_MAX_LEVELS];
	uint8_t *tile;                /* one tile of pixels */
	sl_buf raw, enc;
	slide_emit_fn built, copied;
};

/* 2x2 area mean of rows a and b (b NULL: a alone, the odd last row). */
static void halve(const uint8_t *a, const uint8_t *b, uint32_t pw, uint8_t *out, uint32_t w)
{
	uint32_t full = pw / 2;
	if (b) {
		for (size_t i = 0; i < (size_t)full * 3; i++) {
			size_t x = i / 3, c = i % 3, j = 6 * x + c;
			out[i] = (uint8_t)((a[j] + a[j + 3] + b[j] + b[j + 3] + 2) >> 2);
		}
	} else {
		for (size_t i = 0; i < (size_t)full * 3; i++) {
			size_t x = i / 3, c = i % 3, j = 6 * x + c;
			out[i] = (uint8_t)((a[j] + a[j + 3] + 1) >> 1);
		}
	}
	if (full < w) { /* odd width: the last column alone */
		for (int c = 0; c < 3; c++) {
			size_t j = (size_t)(pw - 1) * 3 + c;
			out[(size_t)full * 3 + c] = b ? (uint8_t)((a[j] + b[j] + 1) >> 1) : a[j];
		}
	}
}

static int push_row(struct cascade *c, int k, const uint8_t *row, sl_err *err);

/* Encode the band of level k into its tiles, then pass its rows down. */
static int flush_band(struct cascade *c, int k, sl_err *err)
{
	struct level *L = &c->s->lv[k];
	struct band *b = &c->b[k];
	uint32_t ty = b->row0 / L->th;
	for (uint32_t tx = 0; tx < L->ntx; tx++) {
		uint32_t x0 = tx * L->tw, cw = L->w - x0 < L->tw ? L->w - x0 : L->tw;
		for (uint32_t r = 0; r < L->th; r++) {
			/* edges repeat the last row and column: no hard edge to code */
			const uint8_t *src = b->px + ((size_t)(r < b->fill ? r : b->fill - 1) * L->w + x0) * 3;
			uint8_t *dst = c->tile + (size_t)r * L->tw * 3;
			memcpy(dst, src, (size_t)cw * 3);
			for (uint32_t x = cw; x < L->tw; x++)
				memcpy(dst + (size_t)x * 3, src + (size_t)(cw - 1) * 3, 3);
		}
		int rc = slide_jpeg_encode(c->tile, L->tw, L->th, &L->ji, &c->enc, err);
		if (rc == 0)
			rc = c->built(c->s, k, ty * L->ntx + tx, (uint8_t *)c->enc.data, c->enc.len, err);
		if (rc < 0)
			return rc;
	}
	for (uint32_t r = 0; r < b->fill && k < c->last; r++) {
		int rc = push_row(c, k + 1, b->px + (size_t)r * L->w * 3, err);
		if (rc < 0)
			return rc;
	}
	b->row0 += b->fill;
	b->fill = 0;
	return 0;
}

static int row_done(struct cascade *c, int k, sl_err *err)
{
	struct band *b = &c->b[k];
	const struct level *L = &c->s->lv[k];
	b->fill++;
	return b->fill == L->th || b->row0 + b->fill == L->h ? flush_band(c, k, err) : 0;
}

/* A row of level k - 1 arrives at level k. */
static int push_row(struct cascade *c, int k, const uint8_t *row, sl_err *err)
{
	struct band *b = &c->b[k];
	const struct level *L = &c->s->lv[k], *P = &c->s->lv[k - 1];
	if (!b->has_carry) {
		memcpy(b->carry, row, (size_t)P->w * 3);
		b->has_carry = 1;
		return 0;
	}
	b->has_carry = 0;
	halve(b->carry, row, P->w, b->px + (size_t)b->fill * L->w * 3, L->w);
	return row_done(c, k, err);
}

/* Level k - 1 has sent its last row. */
static int end_level(struct cascade *c, int k, sl_err *err)
{
	struct band *b = &c->b[k];
	const struct level *L = &c->s->lv[k], *P = &c->s->lv[k - 1];
	int rc = 0;
	if (b->has_carry) {
		b->has_carry = 0;
		halve(b->carry, NULL, P->w, b->px + (size_t)b->fill * L->w * 3, L->w);
		rc = row_done(c, k, err);
	}
	if (rc == 0 && b->row0 != L->h)
		rc = sl_fail(err, SL_E_STATE, "level %d: built %u rows of %u", k, b->row0, L->h);
	return rc < 0 || k == c->last ? rc : end_level(c, k + 1, err);
}

/* Decode tile row ty of the source level into its band, then pass it down. */
static int source_row(struct cascade *c, uint32_t ty, sl_err *err)
{
	struct slide *s = c->s;
	const struct level *L = &s->lv[c->src];
	struct band *b = &c->b[c->src];
	uint32_t rows = L->h - ty * L->th < L->th ? L->h - ty * L->th : L->th;
	for (uint32_t tx = 0; tx < L->ntx; tx++) {
		uint32_t t = ty * L->ntx + tx, x0 = tx * L->tw;
		uint32_t cw = L->w - x0 < L->tw ? L->w - x0 : L->tw;
		int rc = slide_copy_tile(s, c->src, t, &c->raw, &c->enc, err);
		if (rc == 0 && c->copied)
			rc = c->copied(s, c->src, t, (uint8_t *)c->enc.data, c->enc.len, err);
		if (rc == 0 && !slide_src_dir(s->src, L->src)->cnt[t])
			memset(c->tile, 255, (size_t)L->tw * L->th * 3); /* empty: white */
		else if (rc == 0)
			rc = where(slide_jpeg_decode((uint8_t *)c->enc.data, c->enc.len, L->tw, L->th,
						     c->tile, err), L->src, t, err);
		if (rc < 0)
			return rc;
		for (uint32_t r = 0; r < rows; r++)
			memcpy(b->px + ((size_t)r * L->w + x0) * 3, c->tile + (size_t)r * L->tw * 3,
			       (size_t)cw * 3);
	}
	for (uint32_t r = 0; r < rows; r++) {
		int rc = push_row(c, c->src + 1, b->px + (size_t)r * L->w * 3, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int cascade_run(struct cascade *c, sl_err *err)
{
	struct slide *s = c->s;
	uint64_t bytes = 0;
	uint32_t maxt = 0;
	for (int k = c->src; k <= c->last; k++) {
		const struct level *L = &s->lv[k];
		bytes += (uint64_t)L->w * L->th * 3 + (k > c->src ? (uint64_t)s->lv[k - 1].w * 3 : 0);
		maxt = L->tw * L->th > maxt ? L->tw * L->th : maxt;
	}
	if (bytes > SLIDE_MAX_BANDS)
		return sl_fail(err, SL_E_FORMAT, "slide too wide: building its levels needs %llu MiB "
			       "of bands (limit %llu)", (unsigned long long)(bytes >> 20),
			       (unsigned long long)(SLIDE_MAX_BANDS >> 20));
	int rc = 0;
	c->tile = malloc((size_t)maxt * 3);
	for (int k = c->src; k <= c->last && c->tile; k++) {
		const struct level *L = &s->lv[k];
		c->b[k].px = malloc((size_t)L->w * L->th * 3);
		c->b[k].carry = k > c->src ? malloc((size_t)s->lv[k - 1].w * 3) : NULL;
		if (!c->b[k].px || (k > c->src && !c->b[k].carry))
			rc = -1;
	}
	if (!c->tile || rc < 0)
		rc = sl_fail(err, SL_E_NOMEM, "no memory for the pixel bands (%llu MiB)",
			     (unsigned long long)(bytes >> 20));
	for (uint32_t ty = 0; rc == 0 && ty < s->lv[c->src].nty; ty++)
		rc = source_row(c, ty, err);
	if (rc == 0)
		rc = end_level(c, c->src + 1, err);
	for (int k = c->src; k <= c->last; k++) {
		free(c->b[k].px);
		free(c->b[k].carry);
	}
	free(c->tile);
	return rc;
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
			sl_buf_init(&c.raw);
			sl_buf_init(&c.enc);
			rc = cascade_run(&c, err);
			sl_buf_free(&c.raw);
			sl_buf_free(&c.enc);
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}
