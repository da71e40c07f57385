/*
 * white.c: a white tile in a copied level's own coding, standing in for
 * the zero-length tiles scanners write where they skipped glass (readers
 * fail on an empty tile; OpenSlide draws it transparent).  JPEG: encoded
 * like the level's tiles (jpeg.c).  Lossless: one tile written by libtiff
 * with the level's compression and predictor into a TIFF in memory, its
 * coded bytes taken.  JPEG 2000: encoded by OpenJPEG with the level's
 * components and subsampling (SIZ) and colour transform (33005: the
 * codestream's RCT; 33003: Y 255, Cb and Cr 128), reversible so it
 * decodes to exactly white, then rebuilt as copied tiles are (OpenJPEG's
 * own COM dropped).  Every encoder here is deterministic: same level, same
 * bytes.
 */
#include "slide_impl.h"
#include <stdlib.h>
#include <string.h>
#include <openjpeg.h>
#include <tiffio.h>

/* ---- a TIFF in memory, written by libtiff ---- */

struct memtiff {
	uint8_t *p;
	uint64_t len, cap, pos;
	int failed;
};

static tmsize_t mt_read(thandle_t h, void *buf, tmsize_t n)
{
	struct memtiff *m = h;
	uint64_t k = m->pos < m->len ? m->len - m->pos : 0;
	k = k < (uint64_t)n ? k : (uint64_t)n;
	memcpy(buf, m->p + m->pos, k);
	m->pos += k;
	return (tmsize_t)k;
}

static tmsize_t mt_write(thandle_t h, void *buf, tmsize_t n)
{
	struct memtiff *m = h;
	if (m->pos + (uint64_t)n > m->cap) {
		m->cap = (m->pos + (uint64_t)n) * 2;
		m->p = sl_xrealloc(m->p, m->cap);
	}
	if (m->pos > m->len) /* a seek past the end leaves a hole: zeros */
		memset(m->p + m->len, 0, m->pos - m->len);
	memcpy(m->p + m->pos, buf, (size_t)n);
	m->pos += (uint64_t)n;
	m->len = m->pos > m->len ? m->pos : m->len;
	return n;
}

static toff_t mt_seek(thandle_t h, toff_t off, int whence)
{
	struct memtiff *m = h;
	uint64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? m->pos : m->len;
	m->pos = base + off;
	return m->pos;
}

static int mt_close(thandle_t h) { return 0; }
static toff_t mt_size(thandle_t h) { return ((struct memtiff *)h)->len; }
static int mt_map(thandle_t h, void **base, toff_t *size) { return 0; }
static void mt_unmap(thandle_t h, void *base, toff_t size) {}

static int mt_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
	((struct memtiff *)user)->failed = 1;
	return 1;
}

static int mt_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
	return 1;
}

static TIFF *mt_open(struct memtiff *m)
{
	TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
	TIFFOpenOptionsSetErrorHandlerExtR(o, mt_error, m);
	TIFFOpenOptionsSetWarningHandlerExtR(o, mt_warning, m);
	TIFF *t = TIFFClientOpenExt("white", "w", m, mt_read, mt_write, mt_seek, mt_close, mt_size,
				    mt_map, mt_unmap, o);
	TIFFOpenOptionsFree(o);
	return t;
}

/* Encode one tile of pixels px (tw x th x nc) with a lossless
 * compression and predictor, as libtiff codes it in a TIFF, into out. */
int slide_lossless_encode(const uint8_t *px, uint32_t tw, uint32_t th, int nc,
			  uint16_t compression, uint16_t predictor, sl_buf *out, sl_err *err)
{
	struct memtiff m = {0};
	TIFF *t = mt_open(&m);
	uint64_t *off = NULL, *cnt = NULL;
	int ok = t != NULL;
	if (ok) {
		TIFFSetField(t, TIFFTAG_IMAGEWIDTH, tw);
		TIFFSetField(t, TIFFTAG_IMAGELENGTH, th);
		TIFFSetField(t, TIFFTAG_TILEWIDTH, tw);
		TIFFSetField(t, TIFFTAG_TILELENGTH, th);
		TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
		TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, nc);
		TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
		TIFFSetField(t, TIFFTAG_PHOTOMETRIC, nc == 1 ? PHOTOMETRIC_MINISBLACK : PHOTOMETRIC_RGB);
		ok = TIFFSetField(t, TIFFTAG_COMPRESSION, compression) &&
		     (predictor <= 1 || TIFFSetField(t, TIFFTAG_PREDICTOR, predictor));
	}
	tmsize_t n = (tmsize_t)tw * th * nc;
	ok = ok && TIFFWriteEncodedTile(t, 0, (void *)px, n) >= 0 && !m.failed &&
	     TIFFGetField(t, TIFFTAG_TILEOFFSETS, &off) && TIFFGetField(t, TIFFTAG_TILEBYTECOUNTS, &cnt) &&
	     off && cnt && cnt[0] && off[0] <= m.len && cnt[0] <= m.len - off[0];
	sl_buf_reset(out);
	if (ok)
		sl_buf_add(out, m.p + off[0], (size_t)cnt[0]);
	if (t)
		TIFFClose(t);
	free(m.p);
	return ok ? 0 : sl_fail(err, SL_E_FORMAT, "a white tile could not be encoded in the "
				"level's compression");
}

/* ---- JPEG 2000 with OpenJPEG, into memory ---- */

static OPJ_SIZE_T ow_write(void *buf, OPJ_SIZE_T n, void *u)
{
	sl_buf *b = u;
	sl_buf_add(b, buf, n);
	return n;
}

/* OpenJPEG writes forward only for a codestream; skips and seeks are
 * refused so that no write lands anywhere but at the end. */
static OPJ_OFF_T ow_skip(OPJ_OFF_T n, void *u) { return -1; }
static OPJ_BOOL ow_seek(OPJ_OFF_T n, void *u) { return OPJ_FALSE; }
static void ow_quiet(const char *msg, void *u) {}

/* Resolutions: OpenJPEG's default 6, fewer when a component is too small
 * for that many (each halves it). */
static int j2k_resolutions(uint32_t w, uint32_t h)
{
	int r = 1;
	while (r < 6 && (w >> r) >= 1 && (h >> r) >= 1)
		r++;
	return r;
}

static opj_image_t *j2k_white_image(const struct j2k_info *jk, int ycbcr)
{
	opj_image_cmptparm_t cp[3];
	memset(cp, 0, sizeof cp);
	for (int c = 0; c < 3; c++) {
		cp[c].dx = jk->dx[c], cp[c].dy = jk->dy[c];
		cp[c].w = (jk->w + jk->dx[c] - 1) / jk->dx[c];
		cp[c].h = (jk->h + jk->dy[c] - 1) / jk->dy[c];
		cp[c].prec = 8;
	}
	opj_image_t *im = opj_image_create(3, cp, ycbcr ? OPJ_CLRSPC_SYCC : OPJ_CLRSPC_SRGB);
	if (!im)
		return NULL;
	im->x1 = jk->w, im->y1 = jk->h;
	for (int c = 0; c < 3; c++)
		for (size_t i = 0; i < (size_t)cp[c].w * cp[c].h; i++)
			im->comps[c].data[i] = ycbcr && c ? 128 : 255;
	return im;
}

static int j2k_white(const struct j2k_info *jk, int ycbcr, sl_buf *out, sl_err *err)
{
	opj_image_t *im = j2k_white_image(jk, ycbcr);
	opj_cparameters_t par;
	opj_set_default_encoder_parameters(&par);
	par.tcp_numlayers = 1;
	par.tcp_rates[0] = 0; /* lossless */
	par.cp_disto_alloc = 1;
	par.irreversible = 0;
	par.tcp_mct = ycbcr ? 0 : 1;
	par.numresolution = j2k_resolutions(jk->w / 2, jk->h / 2);
	opj_codec_t *codec = im ? opj_create_compress(OPJ_CODEC_J2K) : NULL;
	opj_stream_t *st = codec ? opj_stream_create(1u << 16, OPJ_FALSE) : NULL;
	sl_buf raw;
	sl_buf_init(&raw);
	int ok = st && opj_setup_encoder(codec, &par, im);
	if (ok) {
		opj_set_error_handler(codec, ow_quiet, NULL);
		opj_set_warning_handler(codec, ow_quiet, NULL);
		opj_set_info_handler(codec, ow_quiet, NULL);
		opj_stream_set_user_data(st, &raw, NULL);
		opj_stream_set_write_function(st, ow_write);
		opj_stream_set_skip_function(st, ow_skip);
		opj_stream_set_seek_function(st, ow_seek);
		ok = opj_start_compress(codec, im, st) && opj_encode(codec, st) &&
		     opj_end_compress(codec, st);
	}
	if (st)
		opj_stream_destroy(st);
	if (codec)
		opj_destroy_codec(codec);
	opj_image_destroy(im);
	struct j2k_info got;
	int rc = ok ? slide_j2k_rebuild((uint8_t *)raw.data, raw.len, out, &got, err)
		    : sl_fail(err, SL_E_FORMAT, "a white JPEG 2000 tile could not be encoded");
	sl_buf_free(&raw);
	return rc;
}

/* The white tile of copied level k, made once before tiles are copied
 * (from several threads) when its page has an empty tile. */
int slide_white_tile(struct slide *s, int k, sl_err *err)
{
	struct level *L = &s->lv[k];
	const struct sdir *d = slide_src_dir(s->src, L->src);
	uint32_t t = 0;
	while (t < d->ntiles && d->cnt[t])
		t++;
	if (t == d->ntiles)
		return 0;
	if (SLIDE_IS_J2K(L->compression))
		return j2k_white(&L->jk, L->compression == SLIDE_J2K_YCBCR, &L->white, err);
	size_t n = (size_t)L->tw * L->th * s->nc;
	uint8_t *px = sl_xmalloc(n);
	memset(px, 255, n);
	int rc = L->compression == 7
			 ? slide_jpeg_encode(px, L->tw, L->th, &L->ji, &L->white, err)
			 : slide_lossless_encode(px, L->tw, L->th, s->nc, L->compression,
						 L->predictor, &L->white, err);
	free(px);
	return rc;
}
