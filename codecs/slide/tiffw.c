/*
 * tiffw.c: the output TIFF, written front to back into an append-only sink.
 * Every tile's size is known before the first byte goes out (phase A of the
 * transform), so the layout is fixed up front:
 *
 *   header | IFD 0 .. IFD n-1, each followed by its out-of-line values |
 *   tiles of the copied levels, level by level | built tiles, in the order
 *   the builder made them
 *
 * IFDs first means a reader finds the whole pyramid in the first bytes.
 * Classic TIFF when everything fits below 4 GiB, BigTIFF otherwise.  Always
 * little-endian.  Tags: the baseline for tiled JPEG RGB/YCbCr, resolution
 * in pixels per centimetre from MPP, NewSubfileType 1 on reduced levels,
 * the documented ImageDescription and the ICC profile on level 0.
 */
#include "slide_impl.h"
#include <stdlib.h>
#include <string.h>

enum { T_ASCII = 2, T_SHORT = 3, T_LONG = 4, T_RATIONAL = 5, T_UNDEF = 7, T_LONG8 = 16 };

struct entry {
	uint16_t tag, type;
	uint64_t count;
	const uint8_t *data;  /* little-endian value bytes */
	size_t len;
};

struct ifd {
	struct entry e[24];
	int n;
	sl_buf vals;          /* small values, concatenated */
	size_t voff[24];
};

static void le(uint8_t *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put(sl_buf *b, uint64_t v, int n)
{
	uint8_t x[8];
	le(x, v, n);
	sl_buf_add(b, x, (size_t)n);
}

/* Add a tag whose values are numbers of one type (copied into f->vals). */
static void add_nums(struct ifd *f, uint16_t tag, uint16_t type, const uint64_t *v, int n)
{
	int w = type == T_SHORT ? 2 : type == T_LONG ? 4 : 8;
	f->voff[f->n] = f->vals.len;
	for (int i = 0; i < n; i++)
		put(&f->vals, v[i], w);
	f->e[f->n++] = (struct entry){tag, type, (uint64_t)n, NULL, (size_t)n * w};
}

static void add1(struct ifd *f, uint16_t tag, uint16_t type, uint64_t v)
{
	add_nums(f, tag, type, &v, 1);
}

static void add_bytes(struct ifd *f, uint16_t tag, uint16_t type, const void *p, size_t n)
{
	f->e[f->n++] = (struct entry){tag, type, n, p, n};
}

static void add_rational(struct ifd *f, uint16_t tag, uint64_t num, uint64_t den)
{
	while (num > 0xFFFFFFFFu || den > 0xFFFFFFFFu)
		num >>= 1, den >>= 1;
	uint64_t v[2] = {num, den ? den : 1};
	f->voff[f->n] = f->vals.len;
	put(&f->vals, v[0], 4);
	put(&f->vals, v[1], 4);
	f->e[f->n++] = (struct entry){tag, T_RATIONAL, 1, NULL, 8};
}

/* The IFD of level k placed at `at`, pointing to `next`; arrays holds the
 * tile offsets and byte counts (built here, freed by the caller). */
static void ifd_bytes(const struct slide *s, int k, int big, uint64_t at, uint64_t next,
		      sl_buf *out, sl_buf *arrays, const sl_buf *desc)
{
	const struct level *L = &s->lv[k];
	struct ifd f = {.n = 0};
	sl_buf_init(&f.vals);
	size_t nt = (size_t)L->ntx * L->nty;
	int w = big ? 8 : 4;
	sl_buf_reset(arrays);
	for (size_t t = 0; t < nt; t++)
		put(arrays, L->base + L->pos[t], w);
	for (size_t t = 0; t < nt; t++)
		put(arrays, L->size[t], w);
	static const uint64_t bps[3] = {8, 8, 8};
	int jpeg = L->compression == 7, ycbcr = jpeg && L->ji.ycbcr;
	add1(&f, 254, T_LONG, k ? 1 : 0);
	add1(&f, 256, T_LONG, L->w);
	add1(&f, 257, T_LONG, L->h);
	add_nums(&f, 258, T_SHORT, bps, s->nc);
	add1(&f, 259, T_SHORT, L->compression);
	/* JPEG 2000 as Aperio writes it: RGB, the compression saying more */
	add1(&f, 262, T_SHORT, s->nc == 1 ? 1 : ycbcr ? 6 : 2);
	if (k == 0)
		add_bytes(&f, 270, T_ASCII, desc->data, desc->len + 1);
	add1(&f, 277, T_SHORT, (uint64_t)s->nc);
	if (s->meta.mpp_x) {
		/* pixels per cm = 1e4 um / mpp; mpp grows with the downsample */
		add_rational(&f, 282, 1000000000ull, (uint64_t)s->meta.mpp_x << k);
		add_rational(&f, 283, 1000000000ull, (uint64_t)s->meta.mpp_y << k);
	}
	add1(&f, 284, T_SHORT, 1);
	if (s->meta.mpp_x)
		add1(&f, 296, T_SHORT, 3);
	if (L->predictor > 1)
		add1(&f, 317, T_SHORT, L->predictor);
	add1(&f, 322, T_LONG, L->tw);
	add1(&f, 323, T_LONG, L->th);
	add_bytes(&f, 324, big ? T_LONG8 : T_LONG, arrays->data, nt * w);
	f.e[f.n - 1].count = nt;
	add_bytes(&f, 325, big ? T_LONG8 : T_LONG, arrays->data + nt * w, nt * w);
	f.e[f.n - 1].count = nt;
	if (ycbcr) {
		uint64_t sub[2] = {(uint64_t)L->ji.sub_h, (uint64_t)L->ji.sub_v};
		add_nums(&f, 530, T_SHORT, sub, 2);
	}
	if (k == 0 && s->meta.icc)
		add_bytes(&f, 34675, T_UNDEF, s->meta.icc, s->meta.nicc);

	/* entries, then the values that do not fit in them, 8-byte aligned */
	size_t inl = big ? 8 : 4, esz = big ? 20 : 12;
	uint64_t fixed = (big ? 8 : 2) + f.n * esz + (big ? 8 : 4);
	uint64_t v = at + fixed;
	sl_buf_reset(out);
	put(out, (uint64_t)f.n, big ? 8 : 2);
	sl_buf tail;
	sl_buf_init(&tail);
	for (int i = 0; i < f.n; i++) {
		struct entry *e = &f.e[i];
		const uint8_t *p = e->data ? e->data : (uint8_t *)f.vals.data + f.voff[i];
		put(out, e->tag, 2);
		put(out, e->type, 2);
		put(out, e->count, big ? 8 : 4);
		if (e->len <= inl) {
			uint8_t x[8] = {0};
			memcpy(x, p, e->len);
			sl_buf_add(out, x, inl);
		} else {
			put(out, v + tail.len, (int)inl);
			sl_buf_add(&tail, p, e->len);
			while (tail.len % 8)
				sl_buf_add(&tail, "", 1);
		}
	}
	put(out, next, big ? 8 : 4);
	sl_buf_add(out, tail.data, tail.len);
	sl_buf_free(&tail);
	sl_buf_free(&f.vals);
}

/* Lengths of every IFD, data offsets of every level, for one header kind;
 * returns the total file size. */
static uint64_t layout(struct slide *s, int big, uint64_t *ifd_at, const sl_buf *desc)
{
	sl_buf b, a;
	sl_buf_init(&b);
	sl_buf_init(&a);
	uint64_t at = big ? 16 : 8;
	for (int k = 0; k < s->nlv; k++) {
		ifd_at[k] = at;
		ifd_bytes(s, k, big, at, 0, &b, &a, desc);
		at += b.len;
	}
	ifd_at[s->nlv] = at;
	for (int k = 0; k < s->nlv; k++) {
		struct level *L = &s->lv[k];
		if (L->src < 0)
			continue;
		size_t nt = (size_t)L->ntx * L->nty;
		L->base = at;
		at += nt ? L->pos[nt - 1] + L->size[nt - 1] : 0;
	}
	for (int k = 0; k < s->nlv; k++)
		if (s->lv[k].src < 0)
			s->lv[k].base = at;
	sl_buf_free(&b);
	sl_buf_free(&a);
	return at + s->built_bytes;
}

int slide_tiff_begin(struct slide *s, sl_err *err)
{
	uint64_t ifd_at[SLIDE_MAX_LEVELS + 1];
	sl_buf desc, b, a;
	sl_buf_init(&desc);
	sl_buf_init(&b);
	sl_buf_init(&a);
	slide_meta_description(&s->meta, s->nlv, slide_compression_name(s->lv[0].compression),
			       &desc);
	int big = layout(s, 0, ifd_at, &desc) > 0xFFFFFFF0ull;
	if (big)
		layout(s, 1, ifd_at, &desc);
	s->big = big;
	if (big) {
		sl_buf_add(&b, "II\x2B\0\x08\0\0\0", 8);
		put(&b, ifd_at[0], 8);
	} else {
		sl_buf_add(&b, "II\x2A\0", 4);
		put(&b, ifd_at[0], 4);
	}
	int rc = sl_sink_write(s->out, b.data, b.len, err);
	for (int k = 0; k < s->nlv && rc == 0; k++) {
		ifd_bytes(s, k, big, ifd_at[k], k + 1 < s->nlv ? ifd_at[k + 1] : 0, &b, &a, &desc);
		rc = sl_sink_write(s->out, b.data, b.len, err);
	}
	s->pos = ifd_at[s->nlv];
	sl_buf_free(&desc);
	sl_buf_free(&b);
	sl_buf_free(&a);
	return rc;
}
