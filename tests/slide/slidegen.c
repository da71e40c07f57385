/*
 * slidegen.c: synthetic slides in the encodings make_slides.py cannot make
 * (tifffile has no JPEG 2000 or LZW encoder on Debian 12): written with
 * libtiff, tiles encoded by libtiff's own codecs or, for JPEG 2000, by
 * OpenJPEG and written raw.  Included by tests/test_slide.c, and built as
 * the tool sl-slidegen (SLIDEGEN_MAIN) for tests/cli_slide.sh:
 *
 *   sl-slidegen OUTDIR
 *
 *   j2k-33003.svs  Aperio SVS, level 0 and a 4x level in JPEG 2000 YCbCr
 *                  (chroma at half width, reversible), a stripped thumbnail
 *                  and a label; canaries in the description (key block
 *                  twice), DateTime, Artist, every codestream's main-header
 *                  COM and a tile-part COM in one tile
 *   j2k-33005.svs  the same in JPEG 2000 RGB (irreversible, with the
 *                  codestream's component transform), level 0 only
 *   grey.tif       grey (MinIsBlack) JPEG tiles, two levels
 *   lzw.tif, deflate.tif, zstd.tif, raw.tif
 *                  RGB tiles in lossless compressions (LZW and deflate with
 *                  the horizontal predictor), two levels
 *   j2k-cut.svs    a level 0 tile cut in half
 *   j2k-siz.svs    a level 0 tile whose SIZ says 496 wide (tiles are 240)
 *   j2k-zero.svs   a zero-length level 0 tile (33003); j2k-zero-rgb.svs the
 *                  same in 33005
 *   lzw-zero.tif, deflate-zero.tif, raw-zero.tif
 *                  lzw.tif, deflate.tif and a grey raw.tif with empty
 *                  (zero-length) tiles on each level
 *
 *   strip-big.tif  one stripped page, 4200x400, deflate strips of 40 rows
 *   strip-pyr.tif  a stripped level 0 (LZW, 300-row strips: taller than a
 *                  band) and a tiled deflate page of half its size
 *   strip-jpeg.tif one stripped page, 4200x300, JPEG YCbCr strips
 *   strip-small.tif one stripped page of 600x400: an ordinary TIFF
 *   planar.tif, planar-jpeg.tif
 *                  two tiled levels in separate planes, LZW or JPEG
 *   strip-cut.tif  strip-big's layout, strip 2's byte count halved
 *   strip-past.tif the same, strip 3's byte count past the end of the file
 *
 * Output is deterministic.
 */
#include <openjpeg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#define GEN_TILE 240

/* Pink tissue-like blobs on white, with texture: a test of the filters,
 * not a flat colour. */
static uint8_t gen_px(uint32_t x, uint32_t y, int c)
{
	int dx = (int)(x % 700) - 350, dy = (int)(y % 500) - 250;
	int blob = dx * dx + dy * dy < 200 * 200;
	uint32_t hsh = (x * 2654435761u) ^ (y * 2246822519u) ^ (uint32_t)c * 3266489917u;
	int tex = (int)(hsh >> 27) - 16;
	static const int bg[3] = {240, 238, 242}, fg[3] = {200, 110, 170};
	int v = (blob ? fg[c] : bg[c]) + (blob ? tex : tex / 4) + (int)((x + y) % 13);
	return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
}

/* The image at 1/2^k, an area mean as make_slides.py's reduced levels. */
static uint8_t gen_px_at(uint32_t x, uint32_t y, int c, int k)
{
	if (!k)
		return gen_px(x, y, c);
	uint32_t f = 1u << k, sum = 0;
	for (uint32_t j = 0; j < f; j++)
		for (uint32_t i = 0; i < f; i++)
			sum += gen_px(x * f + i, y * f + j, c);
	return (uint8_t)(sum / (f * f));
}

/* ---- JPEG 2000 with OpenJPEG, into memory ---- */

struct gen_out {
	uint8_t *p;
	size_t len, cap, at;
};

static OPJ_SIZE_T gen_write(void *buf, OPJ_SIZE_T n, void *u)
{
	struct gen_out *o = u;
	if (o->at + n > o->cap) {
		o->cap = (o->at + n) * 2;
		o->p = realloc(o->p, o->cap);
	}
	memcpy(o->p + o->at, buf, n);
	o->at += n;
	if (o->at > o->len)
		o->len = o->at;
	return n;
}

static OPJ_OFF_T gen_skip(OPJ_OFF_T n, void *u)
{
	struct gen_out *o = u;
	o->at += (size_t)n;
	return n;
}

static OPJ_BOOL gen_seek(OPJ_OFF_T n, void *u)
{
	((struct gen_out *)u)->at = (size_t)n;
	return OPJ_TRUE;
}

/* One tile as a J2K codestream: YCbCr with chroma at half width (33003,
 * reversible, no component transform) or RGB (33005, irreversible with
 * the transform).  OpenJPEG writes a COM segment of its own; comment
 * replaces its text. */
static size_t gen_j2k(uint32_t x0, uint32_t y0, int k, int ycbcr, const char *comment,
		      uint8_t **out)
{
	uint32_t w = GEN_TILE, h = GEN_TILE;
	opj_image_cmptparm_t cp[3];
	memset(cp, 0, sizeof cp);
	for (int c = 0; c < 3; c++) {
		cp[c].dx = ycbcr && c ? 2 : 1;
		cp[c].dy = 1;
		cp[c].w = (w + cp[c].dx - 1) / cp[c].dx;
		cp[c].h = h;
		cp[c].prec = 8;
	}
	opj_image_t *im = opj_image_create(3, cp, ycbcr ? OPJ_CLRSPC_SYCC : OPJ_CLRSPC_SRGB);
	im->x1 = w, im->y1 = h;
	for (uint32_t y = 0; y < h; y++)
		for (uint32_t x = 0; x < w; x++) {
			int r = gen_px_at(x0 + x, y0 + y, 0, k), g = gen_px_at(x0 + x, y0 + y, 1, k);
			int b = gen_px_at(x0 + x, y0 + y, 2, k);
			if (!ycbcr) {
				im->comps[0].data[y * w + x] = r;
				im->comps[1].data[y * w + x] = g;
				im->comps[2].data[y * w + x] = b;
				continue;
			}
			im->comps[0].data[y * w + x] = (299 * r + 587 * g + 114 * b + 500) / 1000;
			if (x % 2 == 0) {
				int cb = 128 + (-169 * r - 331 * g + 500 * b) / 1000;
				int cr = 128 + (500 * r - 419 * g - 81 * b) / 1000;
				im->comps[1].data[y * cp[1].w + x / 2] = cb;
				im->comps[2].data[y * cp[2].w + x / 2] = cr;
			}
		}
	opj_cparameters_t par;
	opj_set_default_encoder_parameters(&par);
	par.tcp_numlayers = 1;
	par.tcp_rates[0] = ycbcr ? 0 : 12;
	par.cp_disto_alloc = 1;
	par.irreversible = !ycbcr;
	par.tcp_mct = ycbcr ? 0 : 1;
	par.cp_comment = (char *)comment;
	opj_codec_t *codec = opj_create_compress(OPJ_CODEC_J2K);
	opj_setup_encoder(codec, &par, im);
	struct gen_out o = {0};
	opj_stream_t *st = opj_stream_create(1u << 16, OPJ_FALSE);
	opj_stream_set_user_data(st, &o, NULL);
	opj_stream_set_write_function(st, gen_write);
	opj_stream_set_skip_function(st, gen_skip);
	opj_stream_set_seek_function(st, gen_seek);
	if (!opj_start_compress(codec, im, st) || !opj_encode(codec, st) || !opj_end_compress(codec, st))
		abort();
	opj_stream_destroy(st);
	opj_destroy_codec(codec);
	opj_image_destroy(im);
	*out = o.p;
	return o.len;
}

/* A COM segment put into the first tile-part's header (Psot grown). */
static size_t gen_tilepart_com(uint8_t **p, size_t n, const char *text)
{
	size_t i = 2;
	while (i + 4 <= n && !((*p)[i] == 0xFF && (*p)[i + 1] == 0x90))
		i += 2 + ((size_t)(*p)[i + 2] << 8 | (*p)[i + 3]);
	size_t tl = strlen(text), cl = 6 + tl;
	uint8_t *q = malloc(n + cl);
	memcpy(q, *p, i + 12);
	uint8_t *c = q + i + 12;
	c[0] = 0xFF, c[1] = 0x64, c[2] = (uint8_t)((cl - 2) >> 8), c[3] = (uint8_t)(cl - 2);
	c[4] = 0, c[5] = 1; /* Rcom: Latin text */
	memcpy(c + 6, text, tl);
	memcpy(c + cl, *p + i + 12, n - i - 12);
	uint32_t psot = (uint32_t)q[i + 6] << 24 | (uint32_t)q[i + 7] << 16 | q[i + 8] << 8 | q[i + 9];
	psot += (uint32_t)cl;
	q[i + 6] = (uint8_t)(psot >> 24), q[i + 7] = (uint8_t)(psot >> 16);
	q[i + 8] = (uint8_t)(psot >> 8), q[i + 9] = (uint8_t)psot;
	free(*p);
	*p = q;
	return n + cl;
}

static void gen_common(TIFF *t, uint32_t w, uint32_t h, int spp, int photometric)
{
	TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
	TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
	TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
	TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, spp);
	TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
	TIFFSetField(t, TIFFTAG_PHOTOMETRIC, photometric);
	TIFFSetField(t, TIFFTAG_ARTIST, "CANARY-ARTIST");
	TIFFSetField(t, TIFFTAG_DATETIME, "2021:07:14 11:22:33");
}

static const char *gen_aperio_desc(uint32_t w, uint32_t h)
{
	static char d[1024];
	const char *block = "|AppMag = 20|Filename = CANARY-FILENAME|Date = 07/14/21|User = "
			    "CANARY-USER|MPP = 0.2520|Barcode = CANARY-BARCODE-J2K";
	snprintf(d, sizeof d, "Aperio Image Library v12.0.15 \r\n%ux%u [0,0 %ux%u] (240x240) "
		 "J2K/YUV16 Q=70%s|Comment = CANARY-2NDBLOCK%s", w, h, w, h, block, block);
	return d;
}

/* damage: 0 none, 'c' cut a tile, 's' a tile of the wrong SIZ, 'z' a
 * zero-length tile */
static int gen_j2k_svs(const char *path, int ycbcr, int with_4x, int damage)
{
	uint32_t W = 1000, H = 750;
	TIFF *t = TIFFOpen(path, "w");
	if (!t)
		return -1;
	for (int page = 0; page < (with_4x ? 4 : 3); page++) {
		int lvk = page == 2 && with_4x ? 2 : 0;
		int tiled = page == 0 || (page == 2 && with_4x);
		uint32_t w = W >> lvk, h = H >> lvk;
		if (!tiled) {
			int label = page == (with_4x ? 3 : 2);
			uint32_t sw = label ? 120 : 200, sh = label ? 96 : 150;
			gen_common(t, sw, sh, 3, PHOTOMETRIC_RGB);
			TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, label ? "Aperio Image Library\r\nlabel "
				     "CANARY-LABEL" : "Aperio Image Library\r\nthumb CANARY-THUMB");
			TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, sh);
			uint8_t *row = malloc(sw * 3);
			for (uint32_t y = 0; y < sh; y++) {
				for (uint32_t i = 0; i < sw * 3; i++)
					row[i] = (uint8_t)"CANARY-LABELPIX"[(y * sw * 3 + i) % 15];
				TIFFWriteScanline(t, row, y, 0);
			}
			free(row);
			TIFFWriteDirectory(t);
			continue;
		}
		gen_common(t, w, h, 3, PHOTOMETRIC_RGB);
		TIFFSetField(t, TIFFTAG_COMPRESSION, ycbcr ? 33003 : 33005);
		TIFFSetField(t, TIFFTAG_TILEWIDTH, GEN_TILE);
		TIFFSetField(t, TIFFTAG_TILELENGTH, GEN_TILE);
		TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, page ? "Aperio Image Library\r\n4x "
			     "CANARY-TITLE" : gen_aperio_desc(W, H));
		uint32_t ntx = (w + GEN_TILE - 1) / GEN_TILE, nty = (h + GEN_TILE - 1) / GEN_TILE;
		for (uint32_t i = 0; i < ntx * nty; i++) {
			uint8_t *p;
			size_t n = gen_j2k(i % ntx * GEN_TILE, i / ntx * GEN_TILE, lvk, ycbcr,
					   "CANARY-J2KCOM", &p);
			if (i == 1)
				n = gen_tilepart_com(&p, n, "CANARY-TILECOM");
			if (!page && i == 3 && damage == 'c')
				n /= 2;
			if (!page && i == 3 && damage == 'z')
				n = 0;
			if (!page && i == 3 && damage == 's') {
				free(p);
				n = gen_j2k(0, 0, 0, ycbcr, "x", &p);
				p[10] = 1; /* Xsiz 240 -> 496: no longer the tile's width */
			}
			TIFFWriteRawTile(t, i, p, (tmsize_t)n);
			free(p);
		}
		TIFFWriteDirectory(t);
	}
	TIFFClose(t);
	return 0;
}

/* Two levels (1100x900 and its half) of tiles in one of libtiff's
 * compressions, RGB or grey; zero: the top left 512x512 pixels written as
 * empty (zero-length) tiles on both levels (4 tiles, then 1), as scanners
 * write skipped glass, so that the white they become agrees across
 * levels. */
static int gen_tiled(const char *path, int compression, int predictor, int grey, int zero)
{
	TIFF *t = TIFFOpen(path, "w");
	if (!t)
		return -1;
	int spp = grey ? 1 : 3;
	uint8_t *buf = malloc(256 * 256 * 3);
	for (int k = 0; k < 2; k++) {
		uint32_t w = 1100 >> k, h = 900 >> k;
		gen_common(t, w, h, spp, grey ? PHOTOMETRIC_MINISBLACK : PHOTOMETRIC_RGB);
		TIFFSetField(t, TIFFTAG_SUBFILETYPE, k ? FILETYPE_REDUCEDIMAGE : 0);
		TIFFSetField(t, TIFFTAG_COMPRESSION, compression);
		if (predictor > 1)
			TIFFSetField(t, TIFFTAG_PREDICTOR, predictor);
		if (compression == COMPRESSION_JPEG)
			TIFFSetField(t, TIFFTAG_JPEGQUALITY, 85);
		TIFFSetField(t, TIFFTAG_XRESOLUTION, 40000.0f / (float)(1 << k));
		TIFFSetField(t, TIFFTAG_YRESOLUTION, 40000.0f / (float)(1 << k));
		TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER);
		TIFFSetField(t, TIFFTAG_TILEWIDTH, 256);
		TIFFSetField(t, TIFFTAG_TILELENGTH, 256);
		for (uint32_t ty = 0; ty < h; ty += 256)
			for (uint32_t tx = 0; tx < w; tx += 256) {
				for (uint32_t y = 0; y < 256; y++)
					for (uint32_t x = 0; x < 256; x++)
						for (int c = 0; c < spp; c++)
							buf[(y * 256 + x) * spp + c] =
								gen_px_at(tx + x, ty + y, grey ? 1 : c, k);
				if (zero && tx < 512u >> k && ty < 512u >> k)
					TIFFWriteRawTile(t, TIFFComputeTile(t, tx, ty, 0, 0), buf, 0);
				else
					TIFFWriteTile(t, buf, tx, ty, 0, 0);
			}
		TIFFWriteDirectory(t);
	}
	free(buf);
	TIFFClose(t);
	return 0;
}

static void gen_res(TIFF *t, int k)
{
	TIFFSetField(t, TIFFTAG_XRESOLUTION, 40000.0f / (float)(1 << k));
	TIFFSetField(t, TIFFTAG_YRESOLUTION, 40000.0f / (float)(1 << k));
	TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER);
}

/* A stripped level 0 (w x h, rps rows a strip, contiguous RGB) in one of
 * libtiff's compressions (JPEG: YCbCr 4:2:0 strips), and with half: a
 * tiled deflate page of half its size after it. */
static int gen_stripped(const char *path, uint32_t w, uint32_t h, int compression, uint32_t rps,
			int half)
{
	TIFF *t = TIFFOpen(path, "w");
	if (!t)
		return -1;
	int jpeg = compression == COMPRESSION_JPEG;
	gen_common(t, w, h, 3, jpeg ? PHOTOMETRIC_YCBCR : PHOTOMETRIC_RGB);
	TIFFSetField(t, TIFFTAG_COMPRESSION, compression);
	if (jpeg) {
		TIFFSetField(t, TIFFTAG_JPEGQUALITY, 85);
		TIFFSetField(t, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
	} else if (compression != COMPRESSION_NONE) {
		TIFFSetField(t, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
	}
	TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, rps);
	gen_res(t, 0);
	uint8_t *row = malloc((size_t)w * 3 > 256 * 256 * 3 ? (size_t)w * 3 : 256 * 256 * 3);
	for (uint32_t y = 0; y < h; y++) {
		for (uint32_t x = 0; x < w; x++)
			for (int c = 0; c < 3; c++)
				row[x * 3 + c] = gen_px(x, y, c);
		TIFFWriteScanline(t, row, y, 0);
	}
	TIFFWriteDirectory(t);
	if (half) {
		uint32_t hw = (w + 1) / 2, hh = (h + 1) / 2;
		gen_common(t, hw, hh, 3, PHOTOMETRIC_RGB);
		TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_REDUCEDIMAGE);
		TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
		TIFFSetField(t, TIFFTAG_TILEWIDTH, 256);
		TIFFSetField(t, TIFFTAG_TILELENGTH, 256);
		gen_res(t, 1);
		for (uint32_t ty = 0; ty < hh; ty += 256)
			for (uint32_t tx = 0; tx < hw; tx += 256) {
				for (uint32_t i = 0; i < 256 * 256 * 3; i++)
					row[i] = gen_px_at(tx + i / 3 % 256, ty + i / 768, (int)(i % 3), 1);
				TIFFWriteTile(t, row, tx, ty, 0, 0);
			}
		TIFFWriteDirectory(t);
	}
	free(row);
	TIFFClose(t);
	return 0;
}

/* Two levels (1100x900 and its half) of tiles in separate planes
 * (PlanarConfiguration 2), LZW with the predictor or JPEG. */
static int gen_planar(const char *path, int compression)
{
	TIFF *t = TIFFOpen(path, "w");
	if (!t)
		return -1;
	uint8_t *buf = malloc(256 * 256);
	for (int k = 0; k < 2; k++) {
		uint32_t w = 1100 >> k, h = 900 >> k;
		gen_common(t, w, h, 3, PHOTOMETRIC_RGB);
		TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_SEPARATE);
		TIFFSetField(t, TIFFTAG_SUBFILETYPE, k ? FILETYPE_REDUCEDIMAGE : 0);
		TIFFSetField(t, TIFFTAG_COMPRESSION, compression);
		if (compression == COMPRESSION_LZW)
			TIFFSetField(t, TIFFTAG_PREDICTOR, PREDICTOR_HORIZONTAL);
		else
			TIFFSetField(t, TIFFTAG_JPEGQUALITY, 85);
		TIFFSetField(t, TIFFTAG_TILEWIDTH, 256);
		TIFFSetField(t, TIFFTAG_TILELENGTH, 256);
		gen_res(t, k);
		for (int c = 0; c < 3; c++)
			for (uint32_t ty = 0; ty < h; ty += 256)
				for (uint32_t tx = 0; tx < w; tx += 256) {
					for (uint32_t i = 0; i < 256 * 256; i++)
						buf[i] = gen_px_at(tx + i % 256, ty + i / 256, c, k);
					TIFFWriteTile(t, buf, tx, ty, 0, (uint16_t)c);
				}
		TIFFWriteDirectory(t);
	}
	free(buf);
	TIFFClose(t);
	return 0;
}

/* Damage a stripped file's index in place: the byte count of strip i
 * halved ('c': the strip cut short) or made to run past the end of the
 * file ('p').  Classic little-endian TIFF, as libtiff writes it. */
static int gen_patch_strip(const char *path, uint32_t i, int how)
{
	FILE *f = fopen(path, "r+b");
	uint8_t h[8], e[12], v[4];
	if (!f || fread(h, 1, 8, f) != 8)
		return -1;
	uint32_t ifd = h[4] | h[5] << 8 | h[6] << 16 | (uint32_t)h[7] << 24, n = 0;
	fseek(f, ifd, SEEK_SET);
	if (fread(v, 1, 2, f) != 2)
		return -1;
	n = v[0] | v[1] << 8;
	for (uint32_t k = 0; k < n && fread(e, 1, 12, f) == 12; k++) {
		if ((e[0] | e[1] << 8) != 279 || (e[2] | e[3] << 8) != 4)
			continue;
		uint32_t at = e[8] | e[9] << 8 | e[10] << 16 | (uint32_t)e[11] << 24;
		fseek(f, at + 4 * i, SEEK_SET);
		if (fread(v, 1, 4, f) != 4)
			return -1;
		uint32_t c = v[0] | v[1] << 8 | v[2] << 16 | (uint32_t)v[3] << 24;
		c = how == 'c' ? c / 2 : 0x7FFFFFF0u;
		v[0] = (uint8_t)c, v[1] = (uint8_t)(c >> 8), v[2] = (uint8_t)(c >> 16);
		v[3] = (uint8_t)(c >> 24);
		fseek(f, at + 4 * i, SEEK_SET);
		fwrite(v, 1, 4, f);
		return fclose(f);
	}
	fclose(f);
	return -1;
}

/* Stripped levels and separate planes: decoded, not copied. */
static int gen_decoded(const char *dir)
{
	char path[4200];
	int rc = 0;
#define GEN_PATH(name) (snprintf(path, sizeof path, "%s/%s", dir, name), path)
	rc |= gen_stripped(GEN_PATH("strip-big.tif"), 4200, 400, COMPRESSION_ADOBE_DEFLATE, 40, 0);
	rc |= gen_stripped(GEN_PATH("strip-pyr.tif"), 1100, 900, COMPRESSION_LZW, 300, 1);
	rc |= gen_stripped(GEN_PATH("strip-jpeg.tif"), 4200, 300, COMPRESSION_JPEG, 16, 0);
	rc |= gen_stripped(GEN_PATH("strip-small.tif"), 600, 400, COMPRESSION_LZW, 64, 0);
	rc |= gen_planar(GEN_PATH("planar.tif"), COMPRESSION_LZW);
	rc |= gen_planar(GEN_PATH("planar-jpeg.tif"), COMPRESSION_JPEG);
	rc |= gen_stripped(GEN_PATH("strip-cut.tif"), 4200, 64, COMPRESSION_ADOBE_DEFLATE, 16, 0);
	rc |= gen_patch_strip(path, 2, 'c');
	rc |= gen_stripped(GEN_PATH("strip-past.tif"), 4200, 64, COMPRESSION_ADOBE_DEFLATE, 16, 0);
	rc |= gen_patch_strip(path, 3, 'p');
#undef GEN_PATH
	return rc ? -1 : 0;
}

static int gen_all(const char *dir)
{
	static const struct {
		const char *name;
		int kind, a, b, c, d;
	} files[] = {
		{"j2k-33003.svs", 0, 1, 1, 0, 0},   {"j2k-33005.svs", 0, 0, 0, 0, 0},
		{"j2k-cut.svs", 0, 1, 0, 'c', 0},   {"j2k-siz.svs", 0, 1, 0, 's', 0},
		{"j2k-zero.svs", 0, 1, 0, 'z', 0},  {"grey.tif", 1, COMPRESSION_JPEG, 1, 1, 0},
		{"lzw.tif", 1, COMPRESSION_LZW, 2, 0, 0},
		{"deflate.tif", 1, COMPRESSION_ADOBE_DEFLATE, 2, 0, 0},
		{"zstd.tif", 1, COMPRESSION_ZSTD, 1, 0, 0}, {"raw.tif", 1, COMPRESSION_NONE, 1, 0, 0},
		{"lzw-zero.tif", 1, COMPRESSION_LZW, 2, 0, 1},
		{"deflate-zero.tif", 1, COMPRESSION_ADOBE_DEFLATE, 2, 0, 1},
		{"raw-zero.tif", 1, COMPRESSION_NONE, 1, 1, 1},
		{"j2k-zero-rgb.svs", 0, 0, 0, 'z', 0},
	};
	char path[4200];
	if (strlen(dir) > 4096)
		return -1;
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i].name);
		int rc = files[i].kind ? gen_tiled(path, files[i].a, files[i].b, files[i].c, files[i].d)
				       : gen_j2k_svs(path, files[i].a, files[i].b, files[i].c);
		if (rc < 0)
			return -1;
	}
	return gen_decoded(dir);
}

#ifdef SLIDEGEN_MAIN
static void quiet_tiff(const char *m, const char *f, va_list ap) {}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: sl-slidegen OUTDIR\n");
		return 2;
	}
	TIFFSetWarningHandler(quiet_tiff); /* unknown compressions 33003/33005 */
	return gen_all(argv[1]) < 0 ? 1 : 0;
}
#endif
