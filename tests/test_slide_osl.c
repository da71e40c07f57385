/* test_slide_osl.c: a slide only OpenSlide reads, run in memory, so that
 * the engine's sl_input_fd hands OpenSlide a sealed memfd (tests/cli_slide_osl.sh
 * covers file inputs and every vendor).  A Ventana BIF made with libtiff (a
 * Label_Image page carrying the iScan XMP, two tiled JPEG levels) is
 * sniffed as OpenSlide's, transformed (level 0 size, vendor, MPP, objective
 * in the output's description; no canary from the XMP or the label), gives
 * the same bytes twice, and every truncation is rejected with a reason,
 * never a crash; a slide of one tile goes out as one level (ASan/UBSan in scripts/test.sh).
 * A Trestle TIFF (MedScan Software, overlapping tiles) is claimed and read
 * with the overlaps taken out; one with a stripped page is not claimed. */
#include "unit.h"
#include "codecs/slide/slide_impl.h"
#include <tiffio.h>
#include <unistd.h>

extern const struct sl_format sl_format_slide;
static sl_key *key;
static char dir[4096];

static const char XMP[] = "<?xml version=\"1.0\"?><iScan BarCode=\"CANARY-BC\" "
			  "UserName=\"CANARY-USER\" Magnification=\"20\" ScanRes=\"0.5\"/>";

static void label_page(TIFF *t)
{
	uint8_t row[32 * 3];
	memset(row, 'L', sizeof row);
	memcpy(row, "CANARY-LABEL", 12);
	TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 32);
	TIFFSetField(t, TIFFTAG_IMAGELENGTH, 8);
	TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
	TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
	TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
	TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 8);
	TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, "Label_Image");
	TIFFSetField(t, TIFFTAG_XMLPACKET, (uint32_t)sizeof XMP, XMP);
	for (uint32_t y = 0; y < 8; y++)
		TIFFWriteScanline(t, row, y, 0);
	TIFFWriteDirectory(t);
}

/* A tiled JPEG page's fields (tiles of 128); its tiles, then the page. */
static void tiled_fields(TIFF *t, uint32_t w, uint32_t h)
{
	TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
	TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
	TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
	TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
	TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_YCBCR);
	TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_JPEG);
	TIFFSetField(t, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
	TIFFSetField(t, TIFFTAG_TILEWIDTH, 128);
	TIFFSetField(t, TIFFTAG_TILELENGTH, 128);
}

static void tiled_pixels(TIFF *t, uint32_t w, uint32_t h)
{
	uint8_t *buf = malloc(128 * 128 * 3);
	for (uint32_t ty = 0; ty < h; ty += 128)
		for (uint32_t tx = 0; tx < w; tx += 128) {
			for (uint32_t i = 0; i < 128 * 128 * 3; i++)
				buf[i] = (uint8_t)(150 + ((tx + i / 3 % 128) * 3 + (ty + i / 384) + i % 3 * 40) % 100);
			TIFFWriteTile(t, buf, tx, ty, 0, 0);
		}
	free(buf);
	TIFFWriteDirectory(t);
}

static void level_page(TIFF *t, int k, uint32_t w, uint32_t h)
{
	char desc[64];
	snprintf(desc, sizeof desc, "level=%d mag=%d quality=90", k, 20 >> k);
	tiled_fields(t, w, h);
	TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, desc);
	tiled_pixels(t, w, h);
}

static void make_bif(uint32_t w, uint32_t h, sl_buf *out)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/v.bif", dir);
	TIFF *t = TIFFOpen(path, "w8");
	REQUIRE(t);
	label_page(t);
	level_page(t, 0, w, h);
	level_page(t, 1, (w + 1) / 2, (h + 1) / 2);
	TIFFClose(t);
	unit_read_file(path, out);
	unlink(path);
}

/* A Trestle page: tiles of 128 whose neighbours share OverlapsXY pixels
 * (the tiles' content does not matter here); MedScan's Software and the
 * key=value description on the first; stripped if asked. */
static void trestle_page(TIFF *t, int k, uint32_t w, uint32_t h, int stripped)
{
	if (k == 0) {
		TIFFSetField(t, TIFFTAG_SOFTWARE, "MedScan 2.0");
		TIFFSetField(t, TIFFTAG_IMAGEDESCRIPTION, "Background Color=FFFFFF;Objective Power=20;"
			     "OverlapsXY= 8 8 4 4;Slide Name=CANARY-NAME;Operator=CANARY-USER");
		TIFFSetField(t, TIFFTAG_ARTIST, "CANARY-ARTIST");
		TIFFSetField(t, TIFFTAG_XRESOLUTION, 0.5);
		TIFFSetField(t, TIFFTAG_YRESOLUTION, 0.5);
		TIFFSetField(t, TIFFTAG_RESOLUTIONUNIT, RESUNIT_NONE);
	}
	if (!stripped) {
		tiled_fields(t, w, h);
		tiled_pixels(t, w, h);
		return;
	}
	TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
	TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
	TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 8);
	TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
	TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
	TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 16);
	uint8_t *row = calloc(w * 3, 1);
	for (uint32_t y = 0; y < h; y++)
		TIFFWriteScanline(t, row, y, 0);
	free(row);
	TIFFWriteDirectory(t);
}

static void make_trestle(int stripped, sl_buf *out)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/t.tif", dir);
	TIFF *t = TIFFOpen(path, "w");
	REQUIRE(t);
	trestle_page(t, 0, 376, 248, 0);  /* 3 x 2 tiles: 360 x 240 */
	trestle_page(t, 1, 184, 124, stripped);
	TIFFClose(t);
	t = TIFFOpen(path, "r"); /* two pages, the second tiled or not as asked */
	REQUIRE(t && TIFFReadDirectory(t) && !TIFFIsTiled(t) == !!stripped && !TIFFReadDirectory(t));
	TIFFClose(t);
	unit_read_file(path, out);
	unlink(path);
}

static int run(const uint8_t *p, size_t n, sl_buf *out, sl_err *err)
{
	struct sl_deid_ctx ctx = {.key = key};
	sl_buf_reset(out);
	return sl_transform_memory(&sl_format_slide, p, n, &ctx, NULL, 0, out, NULL, err);
}

static int contains(const sl_buf *b, const char *s)
{
	return memmem(b->data, b->len, s, strlen(s)) != NULL;
}

static void test_bif(void)
{
	sl_buf in, out, again;
	sl_buf_init(&in);
	sl_buf_init(&out);
	sl_buf_init(&again);
	make_bif(700, 500, &in);
	uint8_t *p = (uint8_t *)in.data;
	CHECK(sl_format_slide.sniff(p, in.len, in.len) > 95);
	CHECK(slide_osl_sniff(p, in.len, in.len) > 0);
	sl_err err = {0};
	CHECK_RC(run(p, in.len, &out, &err), &err);
	CHECK(contains(&out, "Aperio|sluice = slide 1|AppMag = 20|MPP = 0.5|vendor = ventana|"));
	CHECK(!contains(&out, "CANARY") && !contains(&out, "iScan") && !contains(&out, "Label"));
	CHECK_RC(run(p, in.len, &again, &err), &err);
	CHECK(out.len == again.len && !memcmp(out.data, again.data, out.len));
	/* every cut: a reason, never a crash */
	for (size_t cut = 0; cut < in.len; cut += in.len / 97 + 1) {
		sl_err e = {0};
		int rc = run(p, cut, &out, &e);
		CHECK(rc < 0 && e.msg[0]);
	}
	sl_buf_free(&in);
	sl_buf_free(&out);
	sl_buf_free(&again);
}

/* Level 0 in one tile: no level is built, level 0 is made in phase A by
 * the scan and taken from scratch in phase B. */
static void test_one_tile(void)
{
	sl_buf in, out;
	sl_buf_init(&in);
	sl_buf_init(&out);
	make_bif(200, 120, &in);
	sl_err err = {0};
	CHECK_RC(run((uint8_t *)in.data, in.len, &out, &err), &err);
	CHECK(contains(&out, "|levels = 1|"));
	sl_buf_free(&in);
	sl_buf_free(&out);
}

/* Trestle: claimed before Aperio, read with the overlaps taken out; a
 * MedScan file with a page that is not tiled is not Trestle's. */
static void test_trestle(void)
{
	sl_buf in, out;
	sl_buf_init(&in);
	sl_buf_init(&out);
	make_trestle(0, &in);
	uint8_t *p = (uint8_t *)in.data;
	CHECK(sl_format_slide.sniff(p, in.len, in.len) > 95);
	sl_err err = {0};
	CHECK_RC(run(p, in.len, &out, &err), &err);
	CHECK(contains(&out, "Aperio|sluice = slide 1|AppMag = 20|MPP = 0.5|vendor = trestle|"));
	CHECK(!contains(&out, "CANARY") && !contains(&out, "MedScan") && !contains(&out, "Overlaps"));
	uint32_t w = 0, h = 0;
	char path[4200];
	snprintf(path, sizeof path, "%s/o.tif", dir);
	FILE *f = fopen(path, "wb");
	REQUIRE(f && fwrite(out.data, 1, out.len, f) == out.len && !fclose(f));
	TIFF *t = TIFFOpen(path, "r");
	REQUIRE(t);
	TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
	TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
	TIFFClose(t);
	unlink(path);
	CHECK(w == 360 && h == 240);
	sl_buf_free(&in);
	make_trestle(1, &in);
	CHECK(slide_osl_sniff((uint8_t *)in.data, in.len, in.len) == 0);
	sl_buf_free(&in);
	sl_buf_free(&out);
}

int main(void)
{
	TIFFSetErrorHandler(NULL);
	TIFFSetWarningHandler(NULL);
	snprintf(dir, sizeof dir, "%s", unit_tmpdir("test_slide_osl"));
	char kp[4200];
	snprintf(kp, sizeof kp, "%s/key", dir);
	sl_err err = {0};
	REQUIRE(sl_key_generate(kp, &err) == 0 && sl_key_load(&key, kp, &err) == 0);
	unlink(kp);
	test_bif();
	test_one_tile();
	test_trestle();
	sl_key_free(key);
	rmdir(dir);
	return UNIT_DONE();
}
