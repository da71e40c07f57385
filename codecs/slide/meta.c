/*
 * meta.c: the metadata allowlist.  Of everything a slide says about itself
 * only these survive: dimensions (from the pages), microns per pixel,
 * objective power, scanner make and model, compression, the ICC profile.
 * The Aperio description is parsed for MPP and AppMag alone; every other
 * key (Filename, Title, User, Barcode, ScanScope ID, Date, Time, ...) is
 * dropped however often it appears.  The barcode is read only to derive
 * the subject pseudonym; it is never written anywhere.
 */
#include "slide_impl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A decimal like "0.4990" as an integer of 1e-5 units; 0 if not a plain
 * positive decimal or out of range (0.00001..1000). */
static uint32_t decimal_e5(const char *s, size_t n)
{
	uint64_t v = 0;
	int frac = -1, digits = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.' && frac < 0) {
			frac = 0;
			continue;
		}
		if (s[i] < '0' || s[i] > '9')
			return 0;
		if (frac >= 5)
			continue; /* beyond 1e-5: truncated */
		if (++digits > 12)
			return 0;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (frac >= 0)
			frac++;
	}
	for (int f = frac < 0 ? 0 : frac; f < 5; f++)
		v *= 10;
	return v > 0 && v <= 100000000ull ? (uint32_t)v : 0;
}

static void trim(const char **s, size_t *n)
{
	while (*n && (**s == ' ' || **s == '\t' || **s == '\r' || **s == '\n'))
		(*s)++, (*n)--;
	while (*n && strchr(" \t\r\n", (*s)[*n - 1]))
		(*n)--;
}

/* One "Key = Value" of the description: only allowlisted keys are read. */
static void aperio_pair(struct slide_meta *m, const char *k, size_t kn, const char *v, size_t vn)
{
	if (kn == 3 && !memcmp(k, "MPP", 3)) {
		m->mpp_x = m->mpp_y = decimal_e5(v, vn);
	} else if (kn == 6 && !memcmp(k, "AppMag", 6)) {
		if (vn < sizeof m->objective && decimal_e5(v, vn)) {
			memcpy(m->objective, v, vn);
			m->objective[vn] = 0;
		}
	} else if (kn == 7 && !strncasecmp(k, "Barcode", 7) && vn < sizeof m->barcode) {
		memcpy(m->barcode, v, vn);
		m->barcode[vn] = 0;
	}
}

void slide_meta_aperio(struct slide_meta *m, const char *desc)
{
	const char *p = desc;
	for (;;) {
		const char *bar = strchr(p, '|');
		size_t n = bar ? (size_t)(bar - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		if (eq) {
			const char *k = p, *v = eq + 1;
			size_t kn = (size_t)(eq - p), vn = n - kn - 1;
			trim(&k, &kn);
			trim(&v, &vn);
			aperio_pair(m, k, kn, v, vn);
		}
		if (!bar)
			break;
		p = bar + 1;
	}
}

void slide_meta_resolution(struct slide_meta *m, float xres, float yres, int unit)
{
	double um = unit == 2 ? 25400.0 : unit == 3 ? 10000.0 : 0; /* inch, centimetre */
	if (!um || !(xres > 0) || !(yres > 0))
		return;
	double x = um / xres * 1e5, y = um / yres * 1e5;
	if (x >= 1 && x <= 1e8 && y >= 1 && y <= 1e8) {
		m->mpp_x = (uint32_t)(x + 0.5);
		m->mpp_y = (uint32_t)(y + 0.5);
	}
}

/* Make and model, printable ASCII letters, digits and " ._-" only. */
void slide_meta_scanner(struct slide_meta *m, const char *make, const char *model)
{
	sl_buf b;
	sl_buf_init(&b);
	if (make)
		sl_buf_puts(&b, make);
	if (make && model)
		sl_buf_puts(&b, " ");
	if (model)
		sl_buf_puts(&b, model);
	size_t o = 0;
	for (size_t i = 0; i < b.len && o + 1 < sizeof m->scanner; i++) {
		char c = b.data[i];
		int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
			 (c && strchr(" ._-", c));
		if (ok && !(c == ' ' && (!o || m->scanner[o - 1] == ' ')))
			m->scanner[o++] = c;
	}
	while (o && m->scanner[o - 1] == ' ')
		o--;
	m->scanner[o] = 0;
	sl_buf_free(&b);
}

void slide_meta_free(struct slide_meta *m)
{
	free(m->icc);
	m->icc = NULL;
}

void slide_mpp_text(uint32_t e5, char out[24])
{
	int n = snprintf(out, 24, "%u.%05u", e5 / 100000, e5 % 100000);
	while (n > 0 && out[n - 1] == '0')
		out[--n] = 0;
	if (n > 0 && out[n - 1] == '.')
		out[--n] = 0;
}

/* A level's compression as the description, the catalog and the facts
 * name it. */
const char *slide_compression_name(uint16_t c)
{
	switch (c) {
	case 1: return "none";
	case 5: return "lzw";
	case 8: case 32946: return "deflate";
	case 50000: return "zstd";
	case SLIDE_J2K_YCBCR: case SLIDE_J2K_RGB: return "jpeg2000";
	default: return "jpeg";
	}
}

/* The output's description, in the Aperio dialect whatever the tiles: it
 * is how OpenSlide 3.4 learns a TIFF's scale.  Its generic-TIFF reader
 * reports no MPP or objective power (the resolution tags only as tiff.*),
 * while its Aperio reader, taken for a tiled TIFF whose description starts
 * "Aperio", turns every "Key = Value" after the first "|" into aperio.*,
 * MPP into openslide.mpp-x and mpp-y and AppMag into objective-power;
 * it decodes JPEG 2000 itself and every other codec through libtiff, as
 * the generic reader does.  "Aperio|" and not "Aperio " so that tifffile
 * does not take page 1 for Aperio's thumbnail.  Every pair has an "=":
 * OpenSlide 3.4 splits each on it.  Only allowlisted values: no Filename,
 * Title, User, Barcode, Date, Time or ScanScope ID.  MPP only for square
 * pixels (OpenSlide gives its one value to x and y); otherwise MPP-X and
 * MPP-Y, which it passes on as aperio.* only, and the resolution tags. */
void slide_meta_description(const struct slide_meta *m, int nlevels, const char *compression,
			    sl_buf *b)
{
	char x[24], y[24];
	sl_buf_puts(b, "Aperio|sluice = slide 1");
	if (m->objective[0])
		sl_buf_printf(b, "|AppMag = %s", m->objective);
	if (m->mpp_x) {
		slide_mpp_text(m->mpp_x, x);
		slide_mpp_text(m->mpp_y, y);
		if (m->mpp_y == m->mpp_x)
			sl_buf_printf(b, "|MPP = %s", x);
		else
			sl_buf_printf(b, "|MPP-X = %s|MPP-Y = %s", x, y);
	}
	sl_buf_printf(b, "|vendor = %s", m->vendor);
	if (m->scanner[0])
		sl_buf_printf(b, "|scanner = %s", m->scanner);
	sl_buf_printf(b, "|compression = %s|levels = %d|downsample = 2", compression, nlevels);
}
