/* test_slide.c: the slide format run in memory.  A tiled JPEG pyramid made
 * with libtiff is transformed; the output is read back with libtiff (levels,
 * NewSubfileType, resolution, pixels of level 0 equal to the input's);
 * JPEG tiles lose their COM/APP segments; sniffing tells slides from plain
 * TIFFs, and a TIFF whose directory is beyond the head is claimed and then
 * judged by the transform; outputs do not depend on threads or memory; the Aperio allowlist keeps MPP and AppMag only; every truncation
 * and a sweep of corruptions is rejected with a reason, never a crash
 * (ASan/UBSan in scripts/test.sh).  OpenSlide, vips and tifffile check real
 * outputs in tests/cli_slide.sh.  JPEG 2000 (Aperio 33003/33005): COM
 * segments gone from main and tile-part headers, the rebuilt stream decodes
 * as the original, level 0 codestreams copied, the Aperio dialect, the
 * same bytes twice and for any number of threads, every cut and damaged
 * tile rejected with a reason; grey and lossless tiles (LZW, deflate,
 * zstd, none) copied byte for byte and their levels built. */
#include "unit.h"
#include "codecs/slide/slide_impl.h"
#include "slide/slidegen.c"
#include <tiffio.h>
#include <unistd.h>

extern const struct sl_format sl_format_slide;
static sl_key *key;
static char dir[4096];

static uint8_t px_at(uint32_t x, uint32_t y, int c)
{
	return (uint8_t)(c == 0 ? 200 + (x * 7 + y) % 50 : c == 1 ? 120 + ((x / 9) ^ (y / 5)) % 90 :
			 180 + (x + 2 * y) % 60);
}

static int quiet(TIFF *t, void *u, const char *m, const char *f, va_list ap) { return 1; }

/* A w x h tiled JPEG TIFF with a 2x level (libtiff's own JPEG codec:
 * JPEGTables, YCbCr), a stripped "label" page, canaries in tags. */
static void make_tiff(const char *path, uint32_t w, uint32_t h, sl_buf *out)
{
	TIFF *t = TIFFOpen(path, "w");
	REQUIRE(t);
	for (int page = 0; page < 3; page++) {
		uint32_t pw = page == 1 ? w / 2 : page == 2 ? 64 : w, ph = page == 1 ? h / 2 : page == 2 ? 32 : h;
		TIFFSetField(t, TIFFTAG_SUBFILETYPE, page ? FILETYPE_REDUCEDIMAGE : 0);
		TIFFSetField(t, TIFFTAG_IMAGEWIDTH, pw);
		TIFFSetField(t, TIFFTAG_IMAGELENGTH, ph);
		TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
		TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
		TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
		TIFFSetField(t, TIFFTAG_ARTIST, "CANARY-ARTIST");
		TIFFSetField(t, TIFFTAG_DATETIME, "2021:07:14 11:22:33");
		TIFFSetField(t, TIFFTAG_XRESOLUTION, 40000.0f);
		TIFFSetField(t, TIFFTAG_YRESOLUTION, 40000.0f);
		TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_CENTIMETER);
		uint8_t *buf;
		if (page == 2) {
			TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, "label CANARY-LABEL");
			TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
			TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, ph);
			buf = calloc(pw * 3, 1);
			for (uint32_t y = 0; y < ph; y++)
				TIFFWriteScanline(t, buf, y, 0);
		} else {
			TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_YCBCR);
			TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_JPEG);
			TIFFSetField(t, TIFFTAG_JPEGQUALITY, 85);
			TIFFSetField(t, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
			TIFFSetField(t, TIFFTAG_TILEWIDTH, 64);
			TIFFSetField(t, TIFFTAG_TILELENGTH, 64);
			buf = malloc(64 * 64 * 3);
			for (uint32_t ty = 0; ty < ph; ty += 64)
				for (uint32_t tx = 0; tx < pw; tx += 64) {
					for (uint32_t y = 0; y < 64; y++)
						for (uint32_t x = 0; x < 64; x++)
							for (int c = 0; c < 3; c++)
								buf[(y * 64 + x) * 3 + c] = px_at((tx + x) << page, (ty + y) << page, c);
					TIFFWriteTile(t, buf, tx, ty, 0, 0);
				}
		}
		free(buf);
		TIFFWriteDirectory(t);
	}
	TIFFClose(t);
	unit_read_file(path, out);
}

/* One page written by libtiff, which puts the directory after the pixels:
 * tiled JPEG (64x64 tiles) or stripped and uncompressed. */
static void make_page(const char *path, uint32_t w, uint32_t h, int tiled, sl_buf *out)
{
	TIFF *t = TIFFOpen(path, "w");
	REQUIRE(t);
	TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
	TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
	TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
	TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
	TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
	uint8_t *buf = malloc((size_t)(w > 64 ? w : 64) * 64 * 3);
	if (tiled) {
		TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_YCBCR);
		TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_JPEG);
		TIFFSetField(t, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
		TIFFSetField(t, TIFFTAG_TILEWIDTH, 64);
		TIFFSetField(t, TIFFTAG_TILELENGTH, 64);
		for (uint32_t ty = 0; ty < h; ty += 64)
			for (uint32_t tx = 0; tx < w; tx += 64) {
				for (uint32_t i = 0; i < 64 * 64 * 3; i++)
					buf[i] = px_at(tx + i / 3 % 64, ty + i / 3 / 64, (int)(i % 3));
				TIFFWriteTile(t, buf, tx, ty, 0, 0);
			}
	} else {
		TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
		TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, h);
		for (uint32_t y = 0; y < h; y++) {
			for (uint32_t i = 0; i < w * 3; i++)
				buf[i] = px_at(i / 3, y, (int)(i % 3));
			TIFFWriteScanline(t, buf, y, 0);
		}
	}
	free(buf);
	TIFFClose(t);
	unit_read_file(path, out);
	unlink(path);
}

/* The transform with options (name, value pairs; NULL name ends). */
static int run_with(const sl_buf *in, sl_buf *out, sl_buf *facts, const char *const *opt,
		    sl_err *err)
{
	struct sl_deid_ctx ctx = {.key = key};
	void *conf = NULL;
	int rc = 0;
	for (int i = 0; opt && opt[i] && rc == 0; i += 2)
		rc = sl_format_slide.configure(&conf, opt[i], opt[i + 1], strlen(opt[i + 1]), err);
	sl_buf_reset(out);
	if (facts)
		sl_buf_reset(facts);
	if (rc == 0)
		rc = sl_transform_memory(&sl_format_slide, in->data, in->len, &ctx, conf, 0, out,
					 facts, err);
	sl_format_slide.release(conf);
	return rc;
}

static int run(const sl_buf *in, sl_buf *out, sl_buf *facts, sl_err *err)
{
	return run_with(in, out, facts, NULL, err);
}

static int contains(const sl_buf *b, const char *s)
{
	return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

/* Read the output back with libtiff: pyramid, tags, level 0 pixels. */
static void check_output(const sl_buf *out)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/out.tiff", dir);
	FILE *f = fopen(path, "wb");
	REQUIRE(f && fwrite(out->data, 1, out->len, f) == out->len);
	fclose(f);
	TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
	TIFFOpenOptionsSetErrorHandlerExtR(o, quiet, NULL);
	TIFF *t = TIFFOpenExt(path, "r", o);
	TIFFOpenOptionsFree(o);
	REQUIRE(t);
	CHECK(TIFFNumberOfDirectories(t) == 5); /* 640x384 .. 40x24 (one 64x64 tile) */
	uint32_t w = 0, sub = 9;
	float xr = 0;
	TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
	TIFFGetField(t, TIFFTAG_SUBFILETYPE, &sub);
	TIFFGetField(t, TIFFTAG_XRESOLUTION, &xr);
	CHECK(w == 640 && sub == 0 && xr > 39999 && xr < 40001);
	uint32_t *rgba = malloc(64 * 64 * 4);
	int bad = 0;
	CHECK(TIFFReadRGBATile(t, 64, 128, rgba));
	/* RGBA tiles are bottom-up; compare with libtiff's decode of the input
	 * is done in cli_slide; here: colours near the pattern (JPEG q85) */
	for (uint32_t y = 0; y < 64; y++)
		for (uint32_t x = 0; x < 64; x++) {
			uint32_t p = rgba[(63 - y) * 64 + x];
			int d = abs((int)TIFFGetR(p) - px_at(64 + x, 128 + y, 0));
			bad += d > 40;
		}
	CHECK(bad < 64 * 64 / 20);
	free(rgba);
	TIFFSetDirectory(t, 1);
	TIFFGetField(t, TIFFTAG_SUBFILETYPE, &sub);
	TIFFGetField(t, TIFFTAG_XRESOLUTION, &xr);
	CHECK(sub == 1 && xr > 19999 && xr < 20001);
	TIFFClose(t);
	unlink(path);
}

static void test_transform(void)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/in.tiff", dir);
	sl_buf in, out, out2, facts;
	sl_buf_init(&in);
	sl_buf_init(&out);
	sl_buf_init(&out2);
	sl_buf_init(&facts);
	make_tiff(path, 640, 384, &in);
	unlink(path);
	sl_err err = {0};
	CHECK_RC(run(&in, &out, &facts, &err), &err);
	CHECK(out.len > 1000 && !memcmp(out.data, "II*\0", 4));
	CHECK(!contains(&out, "CANARY") && !contains(&out, "2021:07:14") && !contains(&facts, "CANARY"));
	CHECK(contains(&facts, "\"label\":1") && contains(&facts, "\"copied\""));
	check_output(&out);
	CHECK_RC(run(&in, &out2, NULL, &err), &err);
	CHECK(out.len == out2.len && !memcmp(out.data, out2.data, out.len));

	/* every cut, and corruptions across the file: a reason, never a crash */
	int rejected = 0;
	for (size_t cut = 0; cut < in.len; cut += 1 + cut / 16) {
		sl_buf c;
		sl_buf_init(&c);
		sl_buf_add(&c, in.data, cut);
		sl_err e = {0};
		if (run(&c, &out2, NULL, &e) < 0) {
			CHECK(e.msg[0]);
			rejected++;
		}
		sl_buf_free(&c);
	}
	CHECK(rejected > 0);
	for (size_t at = 0; at < in.len; at += 1 + at / 24) {
		sl_buf c;
		sl_buf_init(&c);
		sl_buf_add(&c, in.data, in.len);
		for (int k = 0; k < 4 && at + k < c.len; k++)
			c.data[at + k] ^= (char)(0x5A + 17 * k);
		sl_err e = {0};
		if (run(&c, &out2, NULL, &e) < 0)
			CHECK(e.msg[0]);
		sl_buf_free(&c);
	}
	sl_buf_free(&in);
	sl_buf_free(&out);
	sl_buf_free(&out2);
	sl_buf_free(&facts);
}

static void test_jpeg_rebuild(void)
{
	uint8_t px[32 * 16 * 3];
	for (int i = 0; i < (int)sizeof px; i++)
		px[i] = (uint8_t)(i * 13);
	sl_buf j, tile, out;
	sl_buf_init(&j);
	sl_buf_init(&tile);
	sl_buf_init(&out);
	sl_err err = {0};
	CHECK_RC(slide_jpeg_encode(px, 32, 16, NULL, &j, &err), &err);
	/* SOI, then a comment and an APP1 with canaries, then the rest */
	sl_buf_add(&tile, j.data, 2);
	sl_buf_add(&tile, "\xFF\xFE\0\x0F" "CANARY-COMMENT", 4 + 13);
	sl_buf_add(&tile, "\xFF\xE1\0\x0C" "CANARY-EXIF", 4 + 10);
	sl_buf_add(&tile, j.data + 2, j.len - 2);
	struct jpg_info ji;
	CHECK_RC(slide_jpeg_rebuild(NULL, 0, (uint8_t *)tile.data, tile.len, &out, &ji, &err), &err);
	CHECK(!contains(&out, "CANARY") && !contains(&out, "JFIF"));
	CHECK(!memcmp(out.data, "\xFF\xD8\xFF\xEE", 4));
	CHECK(ji.w == 32 && ji.h == 16 && ji.ncomp == 3 && ji.ycbcr && ji.sub_h == 2 && ji.sub_v == 2);
	uint8_t a[32 * 16 * 3], b[32 * 16 * 3];
	CHECK_RC(slide_jpeg_decode((uint8_t *)j.data, j.len, 32, 16, a, &err), &err);
	CHECK_RC(slide_jpeg_decode((uint8_t *)out.data, out.len, 32, 16, b, &err), &err);
	CHECK(!memcmp(a, b, sizeof a));
	CHECK(slide_jpeg_rebuild(NULL, 0, (uint8_t *)"\xFF\xD8\xFF\xD9", 4, &out, NULL, &err) < 0);
	CHECK(slide_jpeg_decode((uint8_t *)j.data, j.len / 2, 32, 16, a, &err) < 0);
	sl_buf_free(&j);
	sl_buf_free(&tile);
	sl_buf_free(&out);
}

static void test_meta(void)
{
	struct slide_meta m = {0};
	slide_meta_aperio(&m, "Aperio Image Library v12\r\n2000x1500 JPEG/RGB Q=70|AppMag = 40|"
			  "Filename = CANARY|MPP = 0.2499|Barcode = BC-1|User = CANARY|MPP = 0.2499");
	CHECK(m.mpp_x == 24990 && m.mpp_y == 24990);
	CHECK(!strcmp(m.objective, "40") && !strcmp(m.barcode, "BC-1"));
	m.vendor = "aperio";
	slide_meta_scanner(&m, "Aperio\n<x>", "GT 450;DROP");
	CHECK(!strcmp(m.scanner, "Aperiox GT 450DROP"));
	sl_buf d;
	sl_buf_init(&d);
	slide_meta_description(&m, 5, "jpeg", &d);
	CHECK(!contains(&d, "CANARY") && !contains(&d, "BC-1") && !contains(&d, "Filename") &&
	      !contains(&d, "User") && !contains(&d, "Barcode"));
	CHECK(!strcmp(d.data, "Aperio|sluice = slide 1|AppMag = 40|MPP = 0.2499|vendor = aperio|"
			      "scanner = Aperiox GT 450DROP|compression = jpeg|levels = 5|downsample = 2"));
	/* pixels that are not square: no MPP, which OpenSlide would give to y too */
	sl_buf_reset(&d);
	m.mpp_y = 50000;
	slide_meta_description(&m, 5, "jpeg", &d);
	CHECK(contains(&d, "|MPP-X = 0.2499|MPP-Y = 0.5|") && !contains(&d, "|MPP ="));
	sl_buf_free(&d);
	struct slide_meta r = {0};
	slide_meta_resolution(&r, 10160.0f, 10160.0f, 2); /* per inch */
	CHECK(r.mpp_x == 250000);
	char t[24];
	slide_mpp_text(25000, t);
	CHECK(!strcmp(t, "0.25"));
}

static void test_sniff(void)
{
	/* classic TIFF, one IFD at 8: width, length, tile width */
	uint8_t h[256] = "II*\0\x08\0\0\0";
	uint8_t *e = h + 8;
	e[0] = 3;
	uint16_t tags[3] = {256, 257, 322};
	uint32_t vals[3] = {8192, 6000, 256};
	for (int i = 0; i < 3; i++) {
		uint8_t *p = e + 2 + 12 * i;
		p[0] = (uint8_t)tags[i], p[1] = (uint8_t)(tags[i] >> 8), p[2] = 4, p[4] = 1;
		memcpy(p + 8, &vals[i], 4);
	}
	CHECK(sl_format_slide.sniff(h, sizeof h, sizeof h) >= 80);
	vals[0] = vals[1] = 512;
	for (int i = 0; i < 2; i++)
		memcpy(e + 2 + 12 * i + 8, &vals[i], 4);
	CHECK(sl_format_slide.sniff(h, sizeof h, sizeof h) == 0); /* a small tiled page alone */
	e[2 + 24] = 0x11;                                         /* tag 273: stripped */
	vals[0] = vals[1] = 9000;
	for (int i = 0; i < 2; i++)
		memcpy(e + 2 + 12 * i + 8, &vals[i], 4);
	/* a stripped level 0 of 4096 pixels a side or more is a slide */
	CHECK(sl_format_slide.sniff(h, sizeof h, sizeof h) >= 80);
	vals[0] = vals[1] = 512;
	for (int i = 0; i < 2; i++)
		memcpy(e + 2 + 12 * i + 8, &vals[i], 4);
	CHECK(sl_format_slide.sniff(h, sizeof h, sizeof h) == 0); /* small and stripped, alone */
	e[2 + 36] = 1;                                            /* a next page */
	CHECK(sl_format_slide.sniff(h, sizeof h, sizeof h) > 0 &&  /* its pyramid may follow */
	      sl_format_slide.sniff(h, sizeof h, sizeof h) < 80);
	CHECK(sl_format_slide.sniff((const uint8_t *)"II*\0\xff\xff\xff\x0f", 8, 8) == 0);
	CHECK(sl_format_slide.sniff((const uint8_t *)"\xff\xd8\xff\xe0 not a tiff at all", 20, 20) == 0);
}

/* A TIFF whose directory lies beyond the head (libtiff and vips write it
 * after the pixels) is claimed whatever its size; the transform tells a
 * slide from an ordinary TIFF by the sniff's own rule. */
static void test_far_directory(void)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/far.tiff", dir);
	sl_buf in, out;
	sl_buf_init(&in);
	sl_buf_init(&out);
	sl_err err = {0};
	const uint8_t *h;

	make_page(path, 4160, 96, 1, &in); /* wide enough to be a slide */
	h = (const uint8_t *)in.data;
	CHECK((h[4] | h[5] << 8 | h[6] << 16 | (uint32_t)h[7] << 24) > 4096u); /* directory at the end */
	int score = sl_format_slide.sniff(h, 4096, in.len);
	CHECK(score > 1 && score < 60); /* above reject-unknown, below a content match */
	CHECK(sl_format_slide.sniff(h, in.len, in.len) >= 80); /* whole file: the rule itself */
	sl_buf facts;
	sl_buf_init(&facts);
	CHECK_RC(run(&in, &out, &facts, &err), &err);
	CHECK(contains(&facts, "\"size\":[33,1]") && contains(&facts, "\"built\""));
	sl_buf_free(&facts);
	sl_buf_reset(&in);

	make_page(path, 256, 128, 1, &in); /* tiled, one small page */
	CHECK(sl_format_slide.sniff((const uint8_t *)in.data, 1024, in.len) > 1);
	CHECK(sl_format_slide.sniff((const uint8_t *)in.data, in.len, in.len) == 0);
	CHECK(run(&in, &out, NULL, &err) < 0 && strstr(err.msg, "not a whole-slide image") &&
	      strstr(err.msg, "smaller than 4096"));
	sl_buf_reset(&in);

	make_page(path, 600, 400, 0, &in); /* an ordinary stripped TIFF */
	CHECK(sl_format_slide.sniff((const uint8_t *)in.data, 4096, in.len) > 1);
	CHECK(sl_format_slide.sniff((const uint8_t *)in.data, in.len, in.len) == 0);
	CHECK(run(&in, &out, NULL, &err) < 0 && strstr(err.msg, "not a whole-slide image") &&
	      strstr(err.msg, "not tiled"));
	sl_buf_free(&in);
	sl_buf_free(&out);
}

/* Built levels come out the same whatever the threads and the memory for
 * built tiles (built twice with none); cuts of a level 0 that is decoded
 * (edge tiles whole, the others at half scale) are rejected, not crashed. */
static void test_threads(void)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/thr.tiff", dir);
	sl_buf in, a, b;
	sl_buf_init(&in);
	sl_buf_init(&a);
	sl_buf_init(&b);
	make_page(path, 4100, 300, 1, &in); /* odd sizes below: 1025, 513, 257 */
	sl_err err = {0};
	static const char *const one[] = {"slide-threads", "1", NULL};
	static const char *const three[] = {"slide-threads", "3", NULL};
	static const char *const twice[] = {"slide-threads", "2", "slide-memory", "0", NULL};
	static const char *const rebuild[] = {"slide-threads", "4", "slide-rebuild-levels", "yes", NULL};
	CHECK_RC(run_with(&in, &a, NULL, one, &err), &err);
	CHECK_RC(run_with(&in, &b, NULL, three, &err), &err);
	CHECK(a.len == b.len && !memcmp(a.data, b.data, a.len));
	sl_buf facts;
	sl_buf_init(&facts);
	CHECK_RC(run_with(&in, &b, &facts, twice, &err), &err);
	CHECK(a.len == b.len && !memcmp(a.data, b.data, a.len) && contains(&facts, "\"built_twice\":true"));
	CHECK_RC(run_with(&in, &b, NULL, rebuild, &err), &err); /* one level only: the same */
	CHECK(a.len == b.len && !memcmp(a.data, b.data, a.len));
	static const char *const bad[] = {"slide-threads", "x", NULL};
	CHECK(run_with(&in, &b, NULL, bad, &err) < 0 && strstr(err.msg, "--slide-threads"));
	int rejected = 0;
	for (size_t cut = in.len / 4; cut < in.len; cut += in.len / 40) {
		sl_buf c;
		sl_buf_init(&c);
		sl_buf_add(&c, in.data, cut);
		sl_err e = {0};
		if (run_with(&c, &b, NULL, three, &e) < 0) {
			CHECK(e.msg[0]);
			rejected++;
		}
		sl_buf_free(&c);
	}
	CHECK(rejected > 0);
	sl_buf_free(&facts);
	sl_buf_free(&in);
	sl_buf_free(&a);
	sl_buf_free(&b);
}

static void slurp(const char *path, sl_buf *b)
{
	FILE *f = fopen(path, "rb");
	REQUIRE(f);
	char c[65536];
	size_t n;
	sl_buf_reset(b);
	while ((n = fread(c, 1, sizeof c, f)) > 0)
		sl_buf_add(b, c, n);
	fclose(f);
}

/* Rebuilt JPEG 2000: no COM anywhere, tile-parts kept, decodes the same;
 * cut, damaged and foreign streams rejected. */
static void test_j2k_rebuild(void)
{
	uint8_t *p;
	size_t n = gen_j2k(0, 0, 0, 1, "CANARY-J2KCOM", &p);
	n = gen_tilepart_com(&p, n, "CANARY-TILECOM");
	sl_buf in, out;
	sl_buf_init(&in);
	sl_buf_init(&out);
	sl_buf_add(&in, p, n);
	sl_buf_add(&in, "CANARY-AFTER-EOC", 16); /* dropped with what follows EOC */
	free(p);
	sl_err err = {0};
	struct j2k_info ji;
	CHECK_RC(slide_j2k_rebuild((uint8_t *)in.data, in.len, &out, &ji, &err), &err);
	CHECK(!contains(&out, "CANARY") && contains(&in, "CANARY-J2KCOM") && contains(&in, "CANARY-TILECOM"));
	CHECK(ji.w == 240 && ji.h == 240 && ji.ncomp == 3 && ji.dx[0] == 1 && ji.dx[1] == 2 && ji.dy[2] == 1);
	static uint8_t a[240 * 240 * 3], b[240 * 240 * 3];
	CHECK_RC(slide_j2k_decode((uint8_t *)in.data, in.len, 240, 240, 1, a, 720, &err), &err);
	CHECK_RC(slide_j2k_decode((uint8_t *)out.data, out.len, 240, 240, 1, b, 720, &err), &err);
	CHECK(!memcmp(a, b, sizeof a));
	int far = 0; /* pixels near what was encoded (reversible, chroma halved) */
	for (uint32_t i = 0; i < 240 * 240; i++)
		far += abs(a[3 * i] - gen_px(i % 240, i / 240, 0)) > 40;
	CHECK(far < 240 * 240 / 50);
	CHECK(slide_j2k_decode((uint8_t *)out.data, out.len, 256, 240, 1, b, 768, &err) < 0);
	int rejected = 0;
	for (size_t cut = 0; cut < out.len; cut += 1 + cut / 8) {
		sl_err e = {0};
		sl_buf o2;
		sl_buf_init(&o2);
		if (slide_j2k_rebuild((uint8_t *)out.data, cut, &o2, NULL, &e) < 0) {
			CHECK(e.msg[0]);
			rejected++;
		} else { /* a cut stream that still parses must not decode */
			CHECK(slide_j2k_decode((uint8_t *)o2.data, o2.len, 240, 240, 1, b, 720, &e) < 0);
		}
		sl_buf_free(&o2);
	}
	CHECK(rejected > 0);
	CHECK(slide_j2k_rebuild((uint8_t *)"\xFF\xD8\xFF\xD9", 4, &out, NULL, &err) < 0);
	sl_buf_free(&in);
	sl_buf_free(&out);
}

/* White tiles for empty ones in lossless levels: libtiff's coding of a
 * constant tile, the same bytes every time; uncompressed is the pixels. */
static void test_white(void)
{
	uint8_t px[64 * 32 * 3];
	memset(px, 255, sizeof px);
	sl_buf a, b;
	sl_buf_init(&a);
	sl_buf_init(&b);
	sl_err err = {0};
	static const uint16_t comp[][2] = {{COMPRESSION_LZW, 2}, {COMPRESSION_ADOBE_DEFLATE, 2},
					   {COMPRESSION_DEFLATE, 1}, {COMPRESSION_NONE, 1}};
	for (size_t i = 0; i < 4; i++) {
		CHECK_RC(slide_lossless_encode(px, 64, 32, 3, comp[i][0], comp[i][1], &a, &err), &err);
		CHECK_RC(slide_lossless_encode(px, 64, 32, 3, comp[i][0], comp[i][1], &b, &err), &err);
		CHECK(a.len && a.len == b.len && !memcmp(a.data, b.data, a.len));
	}
	CHECK(a.len == sizeof px && !memcmp(a.data, px, sizeof px));
	CHECK_RC(slide_lossless_encode(px, 64, 32, 1, COMPRESSION_LZW, 1, &a, &err), &err);
	CHECK(a.len > 0 && a.len < 64 * 32);
	sl_buf_free(&a);
	sl_buf_free(&b);
}

/* The generated inputs through the transform: JPEG 2000 in the Aperio
 * dialect, grey, lossless; damaged ones rejected with the tile named. */
static void test_codecs(void)
{
	TIFFSetWarningHandler(NULL);
	TIFFSetErrorHandler(NULL);
	REQUIRE(gen_all(dir) == 0);
	static const char *const ok[] = {"j2k-33003.svs", "j2k-33005.svs", "grey.tif", "lzw.tif",
					 "deflate.tif", "zstd.tif", "raw.tif", "j2k-zero.svs",
					 "j2k-zero-rgb.svs", "lzw-zero.tif", "deflate-zero.tif",
					 "raw-zero.tif", "strip-big.tif", "strip-pyr.tif",
					 "strip-jpeg.tif", "planar.tif", "planar-jpeg.tif"};
	static const char *const three[] = {"slide-threads", "3", "slide-memory", "0", NULL};
	sl_buf in, out, out2, facts;
	sl_buf_init(&in);
	sl_buf_init(&out);
	sl_buf_init(&out2);
	sl_buf_init(&facts);
	char path[4200];
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, ok[i]);
		slurp(path, &in);
		sl_err err = {0};
		CHECK_RC(run(&in, &out, &facts, &err), &err);
		CHECK(!contains(&out, "CANARY") && !contains(&out, "2021:07:14") && !contains(&facts, "CANARY"));
		CHECK_RC(run_with(&in, &out2, NULL, three, &err), &err);
		CHECK(out.len == out2.len && !memcmp(out.data, out2.data, out.len));
		int j2k = !strncmp(ok[i], "j2k", 3);
		CHECK(contains(&out, "Aperio|sluice = slide 1|") && contains(&facts, "\"jpeg2000\"") == j2k);
		CHECK(!j2k || contains(&out, "MPP = 0.252"));
		CHECK(contains(&out, j2k ? "compression = jpeg2000|" :
				      !strcmp(ok[i], "lzw.tif") ? "compression = lzw|" :
				      !strcmp(ok[i], "grey.tif") ? "compression = jpeg|" : "compression = "));
		CHECK((!strcmp(ok[i], "grey.tif") || !strcmp(ok[i], "raw-zero.tif")) ==
		      contains(&facts, "\"grey\""));
		/* level 0 tiles copied: the input's first tile's coded bytes */
		int dec = !strncmp(ok[i], "strip", 5) || !strncmp(ok[i], "planar", 6);
		CHECK(contains(&facts, "\"decoded\"") == dec);
		CHECK(!dec || contains(&out, "compression = deflate|"));
		if (!j2k && !dec && strcmp(ok[i], "grey.tif")) {
			TIFF *t = TIFFOpen(path, "r");
			uint64_t *off, *cnt;
			REQUIRE(t && TIFFGetField(t, TIFFTAG_TILEOFFSETS, &off) &&
				TIFFGetField(t, TIFFTAG_TILEBYTECOUNTS, &cnt));
			CHECK(memmem(out.data, out.len, in.data + off[0], cnt[0]) != NULL);
			TIFFClose(t);
		}
		unlink(path);
	}
	static const char *const bad[][2] = {{"j2k-cut.svs", "tile 3: JPEG 2000 tile-part runs past"},
					     {"j2k-siz.svs", "tile 3: JPEG 2000 size"},
					     {"strip-cut.tif", "page 0 strip 2 cannot be decoded"},
					     {"strip-past.tif", "page 0 strip 3 runs past the end"},
					     {"strip-small.tif", "not a whole-slide image"}};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, bad[i][0]);
		slurp(path, &in);
		sl_err err = {0};
		CHECK(run(&in, &out, NULL, &err) < 0 && strstr(err.msg, bad[i][1]));
		unlink(path);
	}
	/* cuts and corruptions of a JPEG 2000 slide and of a small stripped
	 * LZW level 0 with a tiled half: a reason, never a crash */
	for (int f = 0; f < 2; f++) {
		snprintf(path, sizeof path, "%s/cut.svs", dir);
		REQUIRE((f ? gen_stripped(path, 600, 400, COMPRESSION_LZW, 64, 1)
			   : gen_j2k_svs(path, 0, 0, 0)) == 0);
		slurp(path, &in);
		unlink(path);
		sl_err e0 = {0};
		CHECK_RC(run(&in, &out, NULL, &e0), &e0);
		for (size_t at = 0; at < in.len; at += 1 + at / 12) {
			sl_buf c;
			sl_buf_init(&c);
			sl_buf_add(&c, in.data, in.len);
			for (int k = 0; k < 4 && at + k < c.len; k++)
				c.data[at + k] ^= (char)(0x5A + 17 * k);
			sl_err e = {0};
			if (run(&c, &out, NULL, &e) < 0)
				CHECK(e.msg[0]);
			sl_buf_reset(&c);
			sl_buf_add(&c, in.data, at);
			if (run(&c, &out, NULL, &e) < 0)
				CHECK(e.msg[0]);
			sl_buf_free(&c);
		}
	}
	sl_buf_free(&in);
	sl_buf_free(&out);
	sl_buf_free(&out2);
	sl_buf_free(&facts);
}

int main(void)
{
	snprintf(dir, sizeof dir, "%s", unit_tmpdir("test_slide"));
	char kp[4200];
	snprintf(kp, sizeof kp, "%s/key", dir);
	sl_err err = {0};
	REQUIRE(sl_key_generate(kp, &err) == 0 && sl_key_load(&key, kp, &err) == 0);
	unlink(kp);
	test_sniff();
	test_meta();
	test_jpeg_rebuild();
	test_transform();
	test_far_directory();
	test_threads();
	test_j2k_rebuild();
	test_white();
	test_codecs();
	sl_key_free(key);
	rmdir(dir);
	return UNIT_DONE();
}
