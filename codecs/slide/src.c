/*
 * src.c: the input TIFF, read with libtiff through TIFFClientOpen over
 * sl_input_pread (the format never sees a file).  libtiff parses the
 * directories; tiles are then read by offset and count, each checked
 * against the input's size, so a truncated file is named as such.
 * libtiff's messages are caught, never printed: they may quote values.
 */
#include "slide_impl.h"
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

/* One libtiff handle's position in the input. */
struct tio {
	sl_input *in;
	uint64_t pos, size;
	TIFF *tif;
	int failed;                   /* an error was reported by libtiff */
	int dir;                      /* slot handles: the page set, or -1 */
};

struct slide_src {
	struct tio io;                /* the handle that parses the pages, then
					 decodes bands of a decoded level 0 */
	uint8_t *strip[4];            /* decoded strips (tiles), one per plane */
	int64_t strip_at[4];          /* which strip each holds, or -1 */
	struct tio *slot;             /* one per thread, for decoding tiles */
	int nslots;
	uint64_t size;
	int ndirs;
	struct sdir dirs[SLIDE_MAX_DIRS];
};

/* ---- libtiff's procs over sl_input ---- */

static tmsize_t rd(thandle_t h, void *buf, tmsize_t n)
{
	struct tio *s = h;
	sl_err err = {0};
	int64_t k = sl_input_pread(s->in, buf, (size_t)n, s->pos, &err);
	if (k < 0)
		return -1;
	s->pos += (uint64_t)k;
	return (tmsize_t)k;
}

static tmsize_t wr(thandle_t h, void *buf, tmsize_t n) { return -1; }

static toff_t sk(thandle_t h, toff_t off, int whence)
{
	struct tio *s = h;
	uint64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? s->pos : s->size;
	s->pos = base + off;
	return s->pos;
}

static int cl(thandle_t h) { return 0; }
static toff_t sz(thandle_t h) { return ((struct tio *)h)->size; }
static int mp(thandle_t h, void **base, toff_t *size) { return 0; }
static void ump(thandle_t h, void *base, toff_t size) {}

/* Errors are noted and swallowed (returning 1 stops libtiff's default
 * handler from printing); our own message names what failed. */
static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
	((struct tio *)user)->failed = 1;
	return 1;
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap)
{
	return 1;
}

static TIFF *tio_open(struct tio *io)
{
	TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
	TIFFOpenOptionsSetMaxSingleMemAlloc(o, 256 << 20);
	TIFFOpenOptionsSetErrorHandlerExtR(o, on_error, io);
	TIFFOpenOptionsSetWarningHandlerExtR(o, on_warning, io);
	/* "m": no memory mapping (there is no file); on-demand strile
	 * loading stays off so a damaged index fails at open */
	io->tif = TIFFClientOpenExt("slide", "rm", io, rd, wr, sk, cl, sz, mp, ump, o);
	TIFFOpenOptionsFree(o);
	return io->tif;
}

/* ---- pages ---- */

static int classify(struct sdir *d, const char *desc)
{
	if (desc && strstr(desc, "label"))
		return SDIR_LABEL;
	if (desc && strstr(desc, "macro"))
		return SDIR_MACRO;
	if (!d->tw)
		return SDIR_THUMB; /* stripped: a thumbnail or an overview */
	if (d->subfile & ~1u)
		return SDIR_OTHER; /* a mask or a page of a multi-page image */
	return SDIR_LEVEL;
}

static int copy_array(uint64_t **dst, const uint64_t *src, uint32_t n)
{
	*dst = malloc((size_t)n * sizeof **dst + 1);
	if (!*dst)
		return -1;
	memcpy(*dst, src, (size_t)n * sizeof **dst);
	return 0;
}

/* The tile index and JPEG tables of a level candidate. */
int slide_src_lossless(uint16_t c)
{
	int known = c == COMPRESSION_NONE || c == COMPRESSION_LZW || c == COMPRESSION_ADOBE_DEFLATE ||
		    c == COMPRESSION_DEFLATE || c == COMPRESSION_ZSTD;
	return known && TIFFIsCODECConfigured(c);
}

/* Tiles this reader copies: JPEG, JPEG 2000 (Aperio), lossless. */
static int copyable(uint16_t c)
{
	return c == COMPRESSION_JPEG || SLIDE_IS_J2K(c) || slide_src_lossless(c);
}

static int read_tiles(struct slide_src *s, struct sdir *d, int i, sl_err *err)
{
	uint64_t ntx = (d->w + (uint64_t)d->tw - 1) / d->tw, nty = (d->h + (uint64_t)d->th - 1) / d->th;
	if (d->tw > SLIDE_MAX_TILE_SIDE || d->th > SLIDE_MAX_TILE_SIDE || d->tw % 16 || d->th % 16)
		return sl_fail(err, SL_E_FORMAT, "page %d: tile size %ux%u not supported (multiples "
			       "of 16 up to %u)", i, d->tw, d->th, SLIDE_MAX_TILE_SIDE);
	if (ntx * nty > SLIDE_MAX_TILES)
		return sl_fail(err, SL_E_FORMAT, "page %d: too many tiles", i);
	d->ntiles = (uint32_t)(ntx * nty);
	uint64_t *off = NULL, *cnt = NULL;
	TIFF *tif = s->io.tif;
	if (TIFFNumberOfTiles(tif) != d->ntiles || !TIFFGetField(tif, TIFFTAG_TILEOFFSETS, &off) ||
	    !TIFFGetField(tif, TIFFTAG_TILEBYTECOUNTS, &cnt) || !off || !cnt)
		return sl_fail(err, SL_E_FORMAT, "page %d: tile offsets or byte counts missing or "
			       "of the wrong length", i);
	if (copy_array(&d->off, off, d->ntiles) < 0 || copy_array(&d->cnt, cnt, d->ntiles) < 0)
		return sl_fail(err, SL_E_NOMEM, "page %d: no memory for the tile index", i);
	uint32_t nt = 0;
	void *t = NULL;
	if (d->compression == COMPRESSION_JPEG && TIFFGetField(tif, TIFFTAG_JPEGTABLES, &nt, &t) &&
	    t && nt) {
		if (nt > SLIDE_MAX_META)
			return sl_fail(err, SL_E_FORMAT, "page %d: JPEG tables too large", i);
		d->tables = malloc(nt);
		if (!d->tables)
			return sl_fail(err, SL_E_NOMEM, "page %d: no memory for JPEG tables", i);
		memcpy(d->tables, t, nt);
		d->ntables = nt;
	}
	return 0;
}

/* The strip (or tile) index of a page that is decoded, not copied:
 * every strip of every plane, each checked against the file's size when
 * it is read (slide_src_band). */
static int read_strips(struct slide_src *s, struct sdir *d, int i, sl_err *err)
{
	TIFF *tif = s->io.tif;
	uint64_t *off = NULL, *cnt = NULL;
	uint32_t n = d->tw ? TIFFNumberOfTiles(tif) : TIFFNumberOfStrips(tif);
	int tiled = d->tw != 0;
	if (tiled && (d->tw > SLIDE_MAX_TILE_SIDE || d->th > SLIDE_MAX_TILE_SIDE || d->tw % 16 ||
		      d->th % 16))
		return sl_fail(err, SL_E_FORMAT, "page %d: tile size %ux%u not supported (multiples "
			       "of 16 up to %u)", i, d->tw, d->th, SLIDE_MAX_TILE_SIDE);
	if (!n || n > SLIDE_MAX_TILES * 4u || d->spp > 4 ||
	    !TIFFGetField(tif, tiled ? TIFFTAG_TILEOFFSETS : TIFFTAG_STRIPOFFSETS, &off) ||
	    !TIFFGetField(tif, tiled ? TIFFTAG_TILEBYTECOUNTS : TIFFTAG_STRIPBYTECOUNTS, &cnt) ||
	    !off || !cnt)
		return sl_fail(err, SL_E_FORMAT, "page %d: strip offsets or byte counts missing or "
			       "of the wrong length", i);
	d->ntiles = n;
	if (copy_array(&d->off, off, n) < 0 || copy_array(&d->cnt, cnt, n) < 0)
		return sl_fail(err, SL_E_NOMEM, "page %d: no memory for the strip index", i);
	d->decode = 1;
	return 0;
}

static int read_dir(struct slide_src *s, int i, sl_err *err)
{
	struct sdir *d = &s->dirs[i];
	TIFF *t = s->io.tif;
	uint16_t planar = PLANARCONFIG_CONTIG, spp = 1, bps = 1, pred = 1;
	char *desc = NULL;
	TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &d->w);
	TIFFGetField(t, TIFFTAG_IMAGELENGTH, &d->h);
	TIFFGetField(t, TIFFTAG_COMPRESSION, &d->compression);
	TIFFGetField(t, TIFFTAG_PHOTOMETRIC, &d->photometric);
	TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
	TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
	TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &planar);
	TIFFGetField(t, TIFFTAG_SUBFILETYPE, &d->subfile);
	if (slide_src_lossless(d->compression))
		TIFFGetFieldDefaulted(t, TIFFTAG_PREDICTOR, &pred);
	d->predictor = pred;
	TIFFGetField(t, TIFFTAG_IMAGEDESCRIPTION, &desc);
	d->spp = spp, d->bps = bps, d->planar = planar;
	d->is_aperio_desc = desc && !strncmp(desc, "Aperio", 6);
	if (TIFFIsTiled(t)) {
		TIFFGetField(t, TIFFTAG_TILEWIDTH, &d->tw);
		TIFFGetField(t, TIFFTAG_TILELENGTH, &d->th);
		if (!d->tw || !d->th)
			d->tw = d->th = 0;
	}
	if (!d->w || !d->h || d->w > SLIDE_MAX_SIDE || d->h > SLIDE_MAX_SIDE)
		return sl_fail(err, SL_E_FORMAT, "page %d: image size %ux%u out of range", i, d->w, d->h);
	d->kind = classify(d, desc);
	/* other layouts are named by the plan, which rejects them */
	int usable = d->planar == PLANARCONFIG_CONTIG && copyable(d->compression) && d->tw;
	if (d->kind == SDIR_LEVEL && usable)
		return read_tiles(s, d, i, err);
	/* separate planes, or a stripped first page (level 0 if it is large
	 * or has tiled reduced pages: slide_src_open decides) */
	int decodable = d->compression == COMPRESSION_JPEG || slide_src_lossless(d->compression);
	if (decodable && ((d->kind == SDIR_LEVEL && d->planar == PLANARCONFIG_SEPARATE) ||
			  (!d->tw && i == 0 && d->kind == SDIR_THUMB)))
		return read_strips(s, d, i, err);
	return 0;
}

/* Page 0 stripped is level 0 when it is at least 4096 pixels on a side
 * or a later tiled page is a power-of-two reduction of it (a pyramid
 * whose base a scanner or ImageJ wrote in strips); otherwise it stays a
 * thumbnail (the ordinary TIFF the sniffing rule leaves alone). */
static void stripped_level0(struct slide_src *s)
{
	struct sdir *z = &s->dirs[0];
	if (!z->off || z->subfile)
		return;
	int reduced = 0;
	for (int i = 1; i < s->ndirs; i++)
		for (int k = 1; k < 21 && s->dirs[i].tw; k++)
			reduced |= (s->dirs[i].w == z->w >> k ||
				    s->dirs[i].w == (uint32_t)(((uint64_t)z->w + (1u << k) - 1) >> k)) &&
				   s->dirs[i].kind == SDIR_LEVEL;
	if (reduced || z->w >= 4096 || z->h >= 4096)
		z->kind = SDIR_LEVEL;
}

int slide_src_open(struct slide_src **out, sl_input *in, sl_err *err)
{
	struct slide_src *s = sl_xcalloc(1, sizeof *s);
	s->size = sl_input_size(in);
	s->io = (struct tio){.in = in, .size = s->size};
	*out = s;
	if (!tio_open(&s->io))
		return sl_fail(err, SL_E_FORMAT, "not a readable TIFF (header or first directory "
			       "damaged)");
	for (;;) {
		if (s->ndirs == SLIDE_MAX_DIRS)
			return sl_fail(err, SL_E_FORMAT, "more than %d pages", SLIDE_MAX_DIRS);
		int rc = read_dir(s, s->ndirs, err);
		s->ndirs++;
		if (rc < 0)
			return rc;
		/* the end of the chain, or an error: a directory past the end
		 * of the file or damaged (a cut file loses its last pages) */
		s->io.failed = 0;
		if (!TIFFReadDirectory(s->io.tif))
			break;
	}
	if (s->io.failed)
		return sl_fail(err, SL_E_FORMAT, "page %d: TIFF directory damaged or past the end "
			       "of the file (truncated?)", s->ndirs);
	stripped_level0(s);
	for (int p = 0; p < 4; p++)
		s->strip_at[p] = -1;
	return 0;
}

void slide_src_close(struct slide_src *s)
{
	if (!s)
		return;
	if (s->io.tif)
		TIFFClose(s->io.tif);
	for (int i = 0; i < s->nslots; i++)
		if (s->slot[i].tif)
			TIFFClose(s->slot[i].tif);
	free(s->slot);
	for (int p = 0; p < 4; p++)
		free(s->strip[p]);
	for (int i = 0; i < s->ndirs; i++) {
		free(s->dirs[i].off);
		free(s->dirs[i].cnt);
		free(s->dirs[i].tables);
	}
	free(s);
}

int slide_src_slots(struct slide_src *s, int nslots, sl_err *err)
{
	if (s->nslots >= nslots)
		return 0;
	s->slot = sl_xrealloc(s->slot, (size_t)nslots * sizeof *s->slot);
	for (; s->nslots < nslots; s->nslots++) {
		struct tio *io = &s->slot[s->nslots];
		*io = (struct tio){.in = s->io.in, .size = s->size, .dir = -1};
		if (!tio_open(io))
			return sl_fail(err, SL_E_FORMAT, "the TIFF could not be opened again for "
				       "decoding (changed while read?)");
	}
	return 0;
}

int slide_src_decode(struct slide_src *s, int slot, int d, uint32_t t, uint8_t *px, size_t npx,
		     sl_err *err)
{
	struct tio *io = &s->slot[slot];
	const struct sdir *sd = &s->dirs[d];
	size_t want = (size_t)sd->tw * sd->th * sd->spp;
	io->failed = 0;
	if (io->dir != d && !TIFFSetDirectory(io->tif, (tdir_t)d))
		return sl_fail(err, SL_E_FORMAT, "page %d: cannot be read again", d);
	io->dir = d;
	if (npx < want || TIFFTileSize64(io->tif) != want)
		return sl_fail(err, SL_E_FORMAT, "page %d: tile layout not as parsed", d);
	tmsize_t k = TIFFReadEncodedTile(io->tif, t, px, (tmsize_t)want);
	if (k != (tmsize_t)want || io->failed)
		return sl_fail(err, SL_E_FORMAT, "page %d tile %u cannot be decoded (corrupt or cut "
			       "short)", d, t);
	return 0;
}

int slide_src_ndirs(const struct slide_src *s) { return s->ndirs; }
struct sdir *slide_src_dir(struct slide_src *s, int i) { return &s->dirs[i]; }

/* Page 0's allowlisted values (the directory is set back to it). */
int slide_src_meta(struct slide_src *s, struct slide_meta *m, sl_err *err)
{
	if (!TIFFSetDirectory(s->io.tif, 0))
		return sl_fail(err, SL_E_FORMAT, "cannot go back to the first page");
	char *desc = NULL, *make = NULL, *model = NULL;
	float xr = 0, yr = 0;
	uint16_t unit = RESUNIT_INCH;
	m->vendor = "generic";
	if (TIFFGetField(s->io.tif, TIFFTAG_IMAGEDESCRIPTION, &desc) && desc && !strncmp(desc, "Aperio", 6)) {
		m->vendor = "aperio";
		slide_meta_aperio(m, desc);
	}
	if (!m->mpp_x && TIFFGetField(s->io.tif, TIFFTAG_XRESOLUTION, &xr) &&
	    TIFFGetField(s->io.tif, TIFFTAG_YRESOLUTION, &yr)) {
		TIFFGetFieldDefaulted(s->io.tif, TIFFTAG_RESOLUTIONUNIT, &unit);
		slide_meta_resolution(m, xr, yr, unit);
	}
	TIFFGetField(s->io.tif, TIFFTAG_MAKE, &make);
	TIFFGetField(s->io.tif, TIFFTAG_MODEL, &model);
	slide_meta_scanner(m, make, model);
	uint32_t n = 0;
	void *icc = NULL;
	if (TIFFGetField(s->io.tif, TIFFTAG_ICCPROFILE, &n, &icc) && icc && n && n <= SLIDE_MAX_META) {
		m->icc = sl_xmalloc(n);
		memcpy(m->icc, icc, n);
		m->nicc = n;
	}
	return 0;
}

int slide_src_tile(struct slide_src *s, int di, uint32_t t, sl_buf *b, sl_err *err)
{
	const struct sdir *d = &s->dirs[di];
	uint64_t off = d->off[t], n = d->cnt[t];
	sl_buf_reset(b);
	if (n > SLIDE_MAX_TILE_BYTES)
		return sl_fail(err, SL_E_FORMAT, "page %d tile %u: %llu bytes, more than a tile "
			       "can hold", di, t, (unsigned long long)n);
	if (off > s->size || n > s->size - off)
		return sl_fail(err, SL_E_FORMAT, "page %d tile %u runs past the end of the file "
			       "(truncated?)", di, t);
	if (b->cap < n + 1) {
		b->data = sl_xrealloc(b->data, n + 1);
		b->cap = n + 1;
	}
	int64_t k = sl_input_pread(s->io.in, b->data, n, off, err);
	if (k < 0)
		return (int)k;
	if ((uint64_t)k != n)
		return sl_fail(err, SL_E_FORMAT, "page %d tile %u: short read (truncated?)", di, t);
	b->len = n;
	b->data[n] = 0;
	return 0;
}

/* ---- decoding a level 0 that cannot be copied tile for tile ---- */

/* Strip (or tile) i of page d decoded into plane p's cache, unless it is
 * there already: a strip taller than a band is decoded once, not once per
 * band.  n: the bytes it decodes to when whole. */
static int strip_load(struct slide_src *s, int d, uint32_t i, int p, size_t n, sl_err *err)
{
	const struct sdir *sd = &s->dirs[d];
	if (s->strip_at[p] == (int64_t)i)
		return 0;
	if (i >= sd->ntiles)
		return sl_fail(err, SL_E_FORMAT, "page %d: strip %u missing from the index", d, i);
	if (sd->off[i] > s->size || sd->cnt[i] > s->size - sd->off[i])
		return sl_fail(err, SL_E_FORMAT, "page %d strip %u runs past the end of the file "
			       "(truncated?)", d, i);
	if (!s->strip[p])
		s->strip[p] = malloc(n ? n : 1);
	if (!s->strip[p])
		return sl_fail(err, SL_E_NOMEM, "page %d: no memory for a strip", d);
	s->strip_at[p] = -1;
	s->io.failed = 0;
	tmsize_t k = sd->tw ? TIFFReadEncodedTile(s->io.tif, i, s->strip[p], (tmsize_t)n)
			    : TIFFReadEncodedStrip(s->io.tif, i, s->strip[p], (tmsize_t)n);
	if (k <= 0 || s->io.failed)
		return sl_fail(err, SL_E_FORMAT, "page %d strip %u cannot be decoded (corrupt or cut "
			       "short)", d, i);
	if ((size_t)k < n) /* the last strip may be shorter; what is missing reads 0 */
		memset(s->strip[p] + k, 0, n - (size_t)k);
	s->strip_at[p] = i;
	return 0;
}

/* Sample rows [y, y + n) of plane p (all samples when contiguous) from
 * strips into the band, interleaved: nc samples a pixel, w pixels a row. */
static int band_strips(struct slide_src *s, int d, uint32_t y, uint32_t n, int p, uint8_t *px,
		       size_t stride, sl_err *err)
{
	const struct sdir *sd = &s->dirs[d];
	uint32_t rps = 0;
	TIFFGetFieldDefaulted(s->io.tif, TIFFTAG_ROWSPERSTRIP, &rps);
	rps = rps && rps < sd->h ? rps : sd->h;
	int sep = sd->planar == PLANARCONFIG_SEPARATE, nc = sd->spp;
	size_t rowb = (size_t)sd->w * (sep ? 1 : nc), sz = rowb * rps;
	if (sz > SLIDE_MAX_TILE_BYTES)
		return sl_fail(err, SL_E_FORMAT, "page %d: strips too large to decode (more than %u "
			       "MiB each)", d, SLIDE_MAX_TILE_BYTES >> 20);
	uint32_t per_plane = (sd->h + rps - 1) / rps;
	for (uint32_t r = y; r < y + n; r++) {
		uint32_t si = r / rps + (sep ? (uint32_t)p * per_plane : 0);
		int rc = strip_load(s, d, si, p, sz, err);
		if (rc < 0)
			return rc;
		const uint8_t *row = s->strip[p] + (size_t)(r % rps) * rowb;
		uint8_t *out = px + (size_t)(r - y) * stride;
		if (!sep)
			memcpy(out, row, rowb);
		else
			for (uint32_t x = 0; x < sd->w; x++)
				out[(size_t)x * nc + p] = row[x];
	}
	return 0;
}

/* The same from tiles of separate planes (each tile one sample), a tile
 * row at a time so that each tile is decoded once. */
static int band_tiles(struct slide_src *s, int d, uint32_t y, uint32_t n, int p, uint8_t *px,
		      size_t stride, sl_err *err)
{
	const struct sdir *sd = &s->dirs[d];
	size_t sz = (size_t)sd->tw * sd->th;
	int nc = sd->spp;
	for (uint32_t r0 = y, r1; r0 < y + n; r0 = r1) {
		r1 = (r0 / sd->th + 1) * sd->th;
		r1 = r1 < y + n ? r1 : y + n;
		for (uint32_t x0 = 0; x0 < sd->w; x0 += sd->tw) {
			uint32_t ti = TIFFComputeTile(s->io.tif, x0, r0, 0, (uint16_t)p);
			int rc = strip_load(s, d, ti, p, sz, err);
			if (rc < 0)
				return rc;
			uint32_t cw = sd->w - x0 < sd->tw ? sd->w - x0 : sd->tw;
			for (uint32_t r = r0; r < r1; r++) {
				const uint8_t *row = s->strip[p] + (size_t)(r % sd->th) * sd->tw;
				uint8_t *out = px + (size_t)(r - y) * stride + (size_t)x0 * nc + p;
				for (uint32_t x = 0; x < cw; x++)
					out[(size_t)x * nc] = row[x];
			}
		}
	}
	return 0;
}

int slide_src_band(struct slide_src *s, int d, uint32_t y, uint32_t n, uint8_t *px, size_t stride,
		   sl_err *err)
{
	const struct sdir *sd = &s->dirs[d];
	TIFF *tif = s->io.tif;
	if (TIFFCurrentDirectory(tif) != (tdir_t)d) {
		if (!TIFFSetDirectory(tif, (tdir_t)d))
			return sl_fail(err, SL_E_FORMAT, "page %d: cannot be read again", d);
		for (int p = 0; p < 4; p++)
			s->strip_at[p] = -1;
	}
	/* JPEG: libtiff converts YCbCr to RGB (its upsampling) */
	if (sd->compression == COMPRESSION_JPEG && sd->photometric == PHOTOMETRIC_YCBCR)
		TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
	int np = sd->planar == PLANARCONFIG_SEPARATE ? sd->spp : 1;
	for (int p = 0; p < np; p++) {
		int rc = sd->tw ? band_tiles(s, d, y, n, p, px, stride, err)
				: band_strips(s, d, y, n, p, px, stride, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}
