/*
 * osl_detect.c: which inputs are the slides only OpenSlide reads, told by
 * the marks OpenSlide 3.4.1's own detection looks for (its vendor files'
 * detect functions), from bytes alone:
 *
 *   Hamamatsu NDPI  TIFF, first directory has tag 65420 (NDPI's format flag)
 *   Trestle         TIFF, first Software starts "MedScan", the first
 *                   directory has an ImageDescription, every directory is
 *                   tiled (TileWidth and TileLength)
 *   Leica SCN       TIFF, first ImageDescription names the SCN namespace
 *   Philips TIFF    TIFF, first Software starts "Philips" (XML description)
 *   Ventana BIF     TIFF, first XMP packet (tag 700) holds an iScan element
 *   Sakura SVSlide  an SQLite database with a DataManagerSQLiteConfigXPO table
 *   Hamamatsu VMS   an INI index "[Virtual Microscope Specimen]" (multi-file)
 *   MIRAX           the Slidedat.ini index of a .mrxs slide (multi-file):
 *                   [GENERAL] with SLIDE_ID, and SLIDE_VERSION or [HIERARCHICAL]
 *
 * OpenSlide tries MIRAX, VMS, NDPI, Sakura, Trestle and Aperio before
 * Leica, Philips and Ventana, and an Aperio description wins over those
 * three (not over NDPI or Trestle): so does it here.  A TIFF that carries
 * none of these marks is the libtiff path's (Aperio, generic pyramids).
 * The sniff sees the first chunk only (a Trestle file whose directories
 * run past it is left to the generic sniff, which claims a tiled TIFF of
 * several pages); the transform asks again through sl_input_pread, which
 * reaches a first directory written after the pixels.  Where the marks are
 * there but the directory chain cannot be followed (cut short, a loop, more
 * than SLIDE_MAX_DIRS), the transform says Trestle and OpenSlide's own
 * detection, asked next (osl.c), has the last word.
 */
#include "slide_impl.h"
#include <stdlib.h>
#include <string.h>

/* Bytes either from the sniff's head (nothing beyond it) or the input. */
struct rd {
	const uint8_t *head;
	size_t len;
	sl_input *in;
	uint64_t size;
};

/* n bytes at off into buf: 0, or 1 when they are not available. */
static int rd_at(const struct rd *r, void *buf, size_t n, uint64_t off)
{
	if (off > r->size || n > r->size - off)
		return 1;
	if (!r->in) {
		if (off > r->len || n > r->len - off)
			return 1;
		memcpy(buf, r->head + off, n);
		return 0;
	}
	sl_err err = {0};
	return sl_input_pread(r->in, buf, n, off, &err) == (int64_t)n ? 0 : 1;
}

/* Enough of an ASCII or byte value to find a vendor's mark in it. */
#define MARK_BYTES 4096

struct tag {
	uint64_t count, at;   /* value's count and where its bytes are */
	unsigned type;
	int present;
};

struct ifd0 {
	struct tag ndpi, desc, software, xmp;
	int tw, tl;           /* TileWidth, TileLength with a value */
	uint64_t next_at;     /* where the next directory's offset is */
	int le, big;
};

/* Record tag e (one entry of the first directory) if it is one we want. */
static void entry(struct ifd0 *f, const uint8_t *e, uint64_t e_at, int le, int big)
{
	unsigned tag = (unsigned)slide_uint(e, 2, le), type = (unsigned)slide_uint(e + 2, 2, le);
	uint64_t count = slide_uint(e + 4, big ? 8 : 4, le);
	int inl = big ? 8 : 4;
	if (tag == 322 || tag == 323) {
		*(tag == 322 ? &f->tw : &f->tl) = count > 0;
		return;
	}
	struct tag *t = tag == 65420 ? &f->ndpi : tag == 270 ? &f->desc : tag == 305 ?
			&f->software : tag == 700 ? &f->xmp : NULL;
	if (!t)
		return;
	int bytes = type == 1 || type == 2 || type == 6 || type == 7;
	t->present = 1;
	t->type = type;
	t->count = bytes ? count : 0;
	t->at = count <= (uint64_t)inl ? e_at + 4 + (big ? 8 : 4) : slide_uint(e + 4 + (big ? 8 : 4), inl, le);
}

/* The tags we look at of the directory at at (f->le, f->big set): 0, or 2
 * (unreadable).  The entries are read in one go. */
static int read_dir(const struct rd *r, uint64_t at, struct ifd0 *f)
{
	uint8_t c[8];
	int le = f->le, big = f->big;
	int csz = big ? 8 : 2, esz = big ? 20 : 12;
	if (rd_at(r, c, (size_t)csz, at))
		return 2;
	uint64_t n = slide_uint(c, csz, le);
	if (n > 4096 || at > UINT64_MAX - (uint64_t)csz - n * (uint64_t)esz)
		return 2;
	uint8_t *e = sl_xmalloc(n ? (size_t)n * (size_t)esz : 1);
	if (rd_at(r, e, (size_t)n * (size_t)esz, at + (uint64_t)csz)) {
		free(e);
		return 2;
	}
	memset(f, 0, sizeof *f);
	f->le = le, f->big = big;
	for (uint64_t i = 0; i < n; i++)
		entry(f, e + i * (uint64_t)esz, at + (uint64_t)csz + i * (uint64_t)esz, le, big);
	free(e);
	f->next_at = at + (uint64_t)csz + n * (uint64_t)esz;
	return 0;
}

/* The first directory's tags we look at; 0, 1 (not a TIFF), 2 (unreadable). */
static int read_ifd0(const struct rd *r, struct ifd0 *f)
{
	uint8_t h[16];
	if (rd_at(r, h, 16, 0))
		return 2;
	if (!((h[0] == 'I' && h[1] == 'I') || (h[0] == 'M' && h[1] == 'M')))
		return 1;
	int le = h[0] == 'I', ver = (int)slide_uint(h + 2, 2, le), big = ver == 43;
	if (ver != 42 && ver != 43)
		return 1;
	f->le = le, f->big = big;
	return read_dir(r, big ? slide_uint(h + 8, 8, le) : slide_uint(h + 4, 4, le), f);
}

/* Up to MARK_BYTES of a tag's value, NUL-terminated; 0 or 1 (unavailable). */
static int value_text(const struct rd *r, const struct tag *t, char out[MARK_BYTES + 1])
{
	size_t n = t->count < MARK_BYTES ? (size_t)t->count : MARK_BYTES;
	out[0] = 0;
	if (!t->present || !n)
		return 0;
	if (rd_at(r, out, n, t->at))
		return 1;
	out[n] = 0;
	for (size_t i = 0; i < n; i++)
		if (!out[i])
			out[i] = ' '; /* marks are searched past any NUL */
	return 0;
}

/* A value OpenSlide reads as text (BYTE, ASCII, UNDEFINED), not empty. */
static int text_tag(const struct tag *t)
{
	return t->present && t->count && (t->type == 1 || t->type == 2 || t->type == 7);
}

/* Trestle's last mark: every directory tiled.  OSL_TRESTLE, OSL_NONE (a
 * directory that is not), or -1 (the sniff cannot tell from the head);
 * the transform says OSL_TRESTLE where the chain cannot be followed, and
 * OpenSlide's own detection decides (osl.c). */
static int trestle_tiled(const struct rd *r, const struct ifd0 *f0)
{
	struct ifd0 f = *f0;
	for (int i = 0; i < SLIDE_MAX_DIRS; i++) {
		if (!f.tw || !f.tl)
			return OSL_NONE;
		uint8_t b[8];
		if (rd_at(r, b, f.big ? 8 : 4, f.next_at))
			return r->in ? OSL_TRESTLE : -1;
		uint64_t next = slide_uint(b, f.big ? 8 : 4, f.le);
		if (!next)
			return OSL_TRESTLE;
		if (read_dir(r, next, &f))
			return r->in ? OSL_TRESTLE : -1;
	}
	return OSL_TRESTLE;
}

static int tiff_kind(const struct rd *r, const struct ifd0 *f)
{
	char buf[MARK_BYTES + 1], sw[MARK_BYTES + 1];
	if (f->ndpi.present)
		return OSL_NDPI;
	if (value_text(r, &f->software, sw))
		return -1;
	if (text_tag(&f->software) && !strncmp(sw, "MedScan", 7) && text_tag(&f->desc)) {
		int k = trestle_tiled(r, f);
		if (k != OSL_NONE)
			return k;
	}
	if (value_text(r, &f->desc, buf))
		return -1;
	if (!strncmp(buf, "Aperio", 6))
		return OSL_NONE;
	if (strstr(buf, "leica-microsystems.com/scn/2010/"))
		return OSL_SCN;
	if (!strncmp(sw, "Philips", 7))
		return OSL_PHILIPS;
	if (value_text(r, &f->xmp, buf))
		return -1;
	if (strstr(buf, "iScan"))
		return OSL_BIF;
	return OSL_NONE;
}

/* Text formats and SQLite, from the first bytes. */
static int other_kind(const struct rd *r)
{
	char buf[MARK_BYTES + 1];
	size_t n = r->size < MARK_BYTES ? (size_t)r->size : MARK_BYTES;
	if (rd_at(r, buf, n, 0))
		return OSL_NONE;
	buf[n] = 0;
	for (size_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	if (n >= 16 && !memcmp(buf, "SQLite format 3 ", 16))
		return strstr(buf, "DataManagerSQLiteConfigXPO") ? OSL_SAKURA : OSL_NONE;
	if (strstr(buf, "[Virtual Microscope Specimen]") ||
	    strstr(buf, "[Uncompressed Virtual Microscope Specimen]"))
		return OSL_VMS;
	if (strstr(buf, "[GENERAL]") && strstr(buf, "SLIDE_ID") &&
	    (strstr(buf, "SLIDE_VERSION") || strstr(buf, "[HIERARCHICAL]")))
		return OSL_MIRAX;
	return OSL_NONE;
}

/* OSL_* kind, OSL_NONE, or -1: the bytes needed lie beyond the head. */
static int kind_of(const struct rd *r)
{
	struct ifd0 f;
	int rc = read_ifd0(r, &f);
	if (rc == 1)
		return other_kind(r);
	if (rc == 2)
		return r->in ? OSL_NONE : -1;
	return tiff_kind(r, &f);
}

/* Above Aperio's 95: OpenSlide tries NDPI and Trestle before Aperio, and
 * the others carry no Aperio description. */
#define SNIFF_OSL 96

int slide_osl_sniff(const uint8_t *head, size_t len, uint64_t size)
{
	struct rd r = {.head = head, .len = len, .size = size};
	return kind_of(&r) > OSL_NONE ? SNIFF_OSL : 0;
}

int slide_osl_kind(sl_input *in)
{
	struct rd r = {.in = in, .size = sl_input_size(in)};
	int k = kind_of(&r);
	return k > OSL_NONE ? k : OSL_NONE;
}
