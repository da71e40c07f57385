/*
 * osl.c: the slides only OpenSlide reads (Hamamatsu NDPI, Leica SCN,
 * Philips TIFF, Ventana BIF, Sakura SVSlide, Trestle; MIRAX and Hamamatsu
 * VMS/VMU through multi.c), read through OpenSlide 3.4.1 into the same
 * output as every other slide.  See docs/slides.md.
 *
 * OpenSlide opens files by name and a format never sees the input's path,
 * so the engine lends a descriptor (sl_input_fd) and OpenSlide opens
 * "/proc/self/fd/N", a name that says nothing about the input.  None of
 * the single-file vendors' detection in 3.4.1 looks at the name; the
 * multi-file ones are opened from a folder of neutral names (multi.c).
 * Trestle's reader looks for its macro image in a file beside the slide
 * (the name without its extension, plus ".Full"); "/proc/self/fd/N.Full"
 * does not exist, so it finds none and reads the tiles (overlaps applied)
 * from the one file.
 *
 * Level 0 cannot be copied (OpenSlide hands out pixels, not tiles), so it
 * is read in tiles of OSL_TILE pixels, one tile row at a time on the
 * slide's threads (OpenSlide handles are thread-safe), composited over
 * white, encoded at OSL_QUALITY without chroma subsampling, and kept in a
 * scratch file for phase B; the same pixels feed the 2x2 area-mean cascade
 * (pyramid.c) that builds every reduced level.  Associated images (label,
 * macro, thumbnail) are counted by name and never read.  Of the
 * properties only the allowlist below is read; the barcode only selects
 * the subject.  OpenSlide's error strings are never passed on: they can
 * quote the input.
 */
#include "slide_impl.h"
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <openslide.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <tiffio.h>
#include <unistd.h>

#define OSL_TILE 256     /* level 0 tile side: OpenSlide reads, our output's tiles */
#define OSL_QUALITY 95   /* level 0: visually lossless with 4:4:4 (docs/slides.md) */
#define NO_TILE UINT64_MAX

struct slide_osl {
	openslide_t *osr;
	int kind;
	int scratch;                  /* level 0 tiles as made in phase A */
	_Atomic uint64_t end;         /* bytes in scratch */
	uint64_t *at, *len;           /* each tile's place in scratch; NO_TILE: not made */
};

struct vendor {
	const char *name;             /* ours: catalog, description, provenance */
	const char *osl;              /* openslide_detect_vendor's answer */
	const char *what;             /* for reasons */
};

static const struct vendor vendors[OSL__COUNT] = {
	[OSL_NDPI] = {"hamamatsu", "hamamatsu", "Hamamatsu NDPI"},
	[OSL_SCN] = {"leica", "leica", "Leica SCN"},
	[OSL_PHILIPS] = {"philips", "philips", "Philips TIFF"},
	[OSL_BIF] = {"ventana", "ventana", "Ventana BIF"},
	[OSL_SAKURA] = {"sakura", "sakura", "Sakura SVSlide"},
	[OSL_VMS] = {"hamamatsu", "hamamatsu", "Hamamatsu VMS/VMU"},
	[OSL_MIRAX] = {"mirax", "mirax", "MIRAX"},
	[OSL_TRESTLE] = {"trestle", "trestle", "Trestle"},
};

/* ---- quiet libraries ---- */

static void drop_log(const char *domain, int level, const char *msg, void *user) {}

/* OpenSlide's TIFF handles use libtiff's process-wide handlers, which print
 * (and quote values); our own libtiff handles set per-handle ones (src.c),
 * so turning the global ones off changes nothing there.  OpenSlide logs a
 * few warnings through GLib ("Openslide" domain; SQLite's messages among
 * them), and GLib itself complains ("GLib" domain) where OpenSlide hands
 * it NULL (Trestle's reader, a description segment without '='); GLib's
 * headers are no build dependency, and GLib is loaded with OpenSlide, so
 * its handler setter is looked up at run time. */
static void quiet_once(void)
{
	TIFFSetErrorHandler(NULL);
	TIFFSetWarningHandler(NULL);
	typedef unsigned (*set_handler_fn)(const char *, int, void (*)(const char *, int,
				       const char *, void *), void *);
	set_handler_fn set = (set_handler_fn)dlsym(RTLD_DEFAULT, "g_log_set_handler");
	if (set) {
		set("Openslide", 0xff | 1 | 2, drop_log, NULL); /* every level, fatal, recursion */
		set("GLib", 0xff | 1 | 2, drop_log, NULL);
	}
}

static void quiet(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, quiet_once);
}

/* ---- metadata: the allowlist ---- */

static const char *prop(const struct slide_osl *o, const char *name)
{
	const char *v = openslide_get_property_value(o->osr, name);
	return v && *v ? v : NULL;
}

/* OpenSlide's MPP (a double as text) in 1e-5 um; 0 if absent or odd. */
static uint32_t mpp_e5(const char *v)
{
	if (!v)
		return 0;
	char *end;
	double d = strtod(v, &end);
	if (end == v || *end || !isfinite(d) || d * 1e5 < 1 || d * 1e5 > 1e8)
		return 0;
	return (uint32_t)(d * 1e5 + 0.5);
}

static void objective(struct slide_meta *m, const char *v)
{
	size_t n = v ? strlen(v) : 0;
	if (!n || n >= sizeof m->objective || strspn(v, "0123456789.") != n)
		return;
	memcpy(m->objective, v, n + 1);
}

static int b64(int c)
{
	const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = c ? strchr(a, c) : NULL;
	return p ? (int)(p - a) : -1;
}

/* Philips keeps its barcode base64-coded; a value that is not is ignored. */
static void barcode_b64(struct slide_meta *m, const char *v)
{
	size_t o = 0;
	uint32_t acc = 0;
	int bits = 0;
	for (; v && *v && *v != '='; v++) {
		int d = b64((unsigned char)*v);
		if (d < 0 || o + 1 >= sizeof m->barcode) {
			m->barcode[0] = 0;
			return;
		}
		acc = (acc << 6) | (uint32_t)d;
		if ((bits += 6) >= 8) {
			bits -= 8;
			m->barcode[o++] = (char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	m->barcode[o] = 0;
	if (strlen(m->barcode) != o)
		m->barcode[0] = 0; /* a NUL inside: not a barcode */
}

static void barcode(struct slide_meta *m, const char *v)
{
	if (v && strlen(v) < sizeof m->barcode)
		strcpy(m->barcode, v);
}

/* make + model, without make twice when the model starts with it. */
static void scanner(struct slide_meta *m, const char *make, const char *model)
{
	if (model && !strncasecmp(model, make, strlen(make)))
		make = NULL;
	slide_meta_scanner(m, make, model);
}

/* Per vendor: where it keeps the scanner's model and the barcode. */
static void vendor_meta(const struct slide_osl *o, struct slide_meta *m)
{
	const char *bif_bc = prop(o, "ventana.BarCode") ? prop(o, "ventana.BarCode") :
			     prop(o, "ventana.Barcode1D") ? prop(o, "ventana.Barcode1D") :
			     prop(o, "ventana.BarCode1D");
	switch (o->kind) {
	case OSL_SCN:
		scanner(m, "Leica", prop(o, "leica.device-model"));
		barcode(m, prop(o, "leica.barcode"));
		break;
	case OSL_PHILIPS:
		slide_meta_scanner(m, prop(o, "philips.DICOM_MANUFACTURER"),
				   prop(o, "philips.DICOM_MANUFACTURERS_MODEL_NAME"));
		barcode_b64(m, prop(o, "philips.PIM_DP_UFS_BARCODE"));
		break;
	case OSL_BIF:
		scanner(m, "Ventana", prop(o, "ventana.ScannerModel"));
		barcode(m, bif_bc);
		break;
	default:
		break;
	}
	if (!m->scanner[0] && (prop(o, "tiff.Make") || prop(o, "tiff.Model")))
		slide_meta_scanner(m, prop(o, "tiff.Make"), prop(o, "tiff.Model"));
}

static void read_meta(struct slide *s)
{
	const struct slide_osl *o = s->osl;
	struct slide_meta *m = &s->meta;
	m->vendor = vendors[o->kind].name;
	m->mpp_x = mpp_e5(prop(o, OPENSLIDE_PROPERTY_NAME_MPP_X));
	m->mpp_y = mpp_e5(prop(o, OPENSLIDE_PROPERTY_NAME_MPP_Y));
	if (!m->mpp_x || !m->mpp_y)
		m->mpp_x = m->mpp_y = 0;
	objective(m, prop(o, OPENSLIDE_PROPERTY_NAME_OBJECTIVE_POWER));
	vendor_meta(o, m);
}

/* Associated images, counted by name for provenance; never read. */
static void count_associated(struct slide *s)
{
	const char *const *names = openslide_get_associated_image_names(s->osl->osr);
	for (int i = 0; names && names[i]; i++) {
		int k = !strcmp(names[i], "label") ? SDIR_LABEL : !strcmp(names[i], "macro") ?
			SDIR_MACRO : !strcmp(names[i], "thumbnail") ? SDIR_THUMB : SDIR_OTHER;
		s->dropped[k]++;
	}
}

/* ---- plan: level 0 re-encoded, every other level built ---- */

static void level_init(struct level *L, uint32_t w, uint32_t h, int src, int parent)
{
	L->w = w, L->h = h, L->tw = L->th = OSL_TILE;
	L->ntx = (w + OSL_TILE - 1) / OSL_TILE;
	L->nty = (h + OSL_TILE - 1) / OSL_TILE;
	size_t n = (size_t)L->ntx * L->nty;
	L->size = sl_xcalloc(n + 1, sizeof *L->size);
	L->pos = sl_xcalloc(n + 1, sizeof *L->pos);
	L->src = src;
	L->parent = parent;
	L->compression = 7;
	L->ji = (struct jpg_info){OSL_TILE, OSL_TILE, 3, 1, 2, 2, 0};
}

static int plan(struct slide *s, uint32_t w, uint32_t h, sl_err *err)
{
	uint64_t tiles = (uint64_t)((w + OSL_TILE - 1) / OSL_TILE) * ((h + OSL_TILE - 1) / OSL_TILE);
	if (tiles > SLIDE_MAX_TILES)
		return sl_fail(err, SL_E_FORMAT, "slide too large: more than %u tiles of %u pixels "
			       "at level 0", SLIDE_MAX_TILES, OSL_TILE);
	s->nc = 3; /* OpenSlide gives colour */
	level_init(&s->lv[0], w, h, 0, -1);
	s->lv[0].ji.sub_h = s->lv[0].ji.sub_v = 1;
	s->lv[0].ji.quality = OSL_QUALITY;
	int k = 1;
	for (; k < SLIDE_MAX_LEVELS; k++) {
		const struct level *P = &s->lv[k - 1];
		if (P->w <= OSL_TILE && P->h <= OSL_TILE)
			break;
		level_init(&s->lv[k], (P->w + 1) / 2, (P->h + 1) / 2, -1, k - 1);
	}
	if (k == SLIDE_MAX_LEVELS)
		return sl_fail(err, SL_E_FORMAT, "too many levels");
	s->nlv = k;
	s->copied_levels = 1;
	s->built_levels = k - 1;
	size_t n = (size_t)s->lv[0].ntx * s->lv[0].nty;
	s->osl->at = sl_xmalloc(n * sizeof *s->osl->at);
	s->osl->len = sl_xcalloc(n, sizeof *s->osl->len);
	for (size_t i = 0; i < n; i++)
		s->osl->at[i] = NO_TILE;
	return 0;
}

/* ---- opening ---- */

/* A multi-file slide's index met on its own: no file beside it was gathered
 * (multi.c), because its name or its folder is not the vendor's. */
static int reject_alone(int kind, sl_err *err)
{
	if (kind == OSL_MIRAX)
		return sl_fail(err, SL_E_FORMAT, "MIRAX Slidedat.ini on its own: a MIRAX slide is read "
			       "from its .mrxs file, with this file in the folder of the same name");
	return sl_fail(err, SL_E_FORMAT, "Hamamatsu VMS/VMU index on its own: it is read with its "
		       "image files only when its name ends .vms or .vmu");
}

/* OpenSlide's own detection must agree with the marks; a TIFF it calls
 * Aperio or generic goes to the libtiff path (1), anything else is refused. */
static int check_vendor(int kind, const char *path, sl_err *err)
{
	const char *v = openslide_detect_vendor(path);
	if (v && (!strcmp(v, "aperio") || !strcmp(v, "generic-tiff")))
		return 1;
	if (!v || strcmp(v, vendors[kind].osl))
		return sl_fail(err, SL_E_FORMAT, "looks like a %s slide, but OpenSlide %s does not "
			       "recognise it (damaged, or a variant it does not read)",
			       vendors[kind].what, openslide_get_version());
	return 0;
}

static int open_osr(struct slide *s, int kind, const char *path, sl_err *err)
{
	struct slide_osl *o = s->osl = sl_xcalloc(1, sizeof *o);
	o->kind = kind;
	o->scratch = -1;
	o->osr = openslide_open(path);
	if (!o->osr || openslide_get_error(o->osr))
		return sl_fail(err, SL_E_FORMAT, "OpenSlide cannot open this %s slide (damaged or "
			       "truncated?)", vendors[kind].what);
	int64_t w = 0, h = 0;
	openslide_get_level0_dimensions(o->osr, &w, &h);
	if (w < 1 || h < 1 || w > SLIDE_MAX_SIDE || h > SLIDE_MAX_SIDE)
		return sl_fail(err, SL_E_FORMAT, "%s slide: level 0 size out of range (1 to %u pixels "
			       "a side)", vendors[kind].what, SLIDE_MAX_SIDE);
	int rc = plan(s, (uint32_t)w, (uint32_t)h, err);
	if (rc == 0 && (o->scratch = sl_scratch_open(s->out, err)) < 0)
		rc = o->scratch;
	if (rc == 0) {
		read_meta(s);
		count_associated(s);
	}
	return rc;
}

/* The name OpenSlide opens: the engine's descriptor, or for a multi-file
 * slide its index in a view of neutral names (multi.c). */
static int osl_path(struct slide *s, int *kind, char *path, size_t cap, int *keyfd, sl_err *err)
{
	if (sl_input_companions(s->in))
		return slide_multi_view(s, kind, path, cap, keyfd, err);
	if (*kind == OSL_VMS || *kind == OSL_MIRAX)
		return reject_alone(*kind, err);
	int fd = sl_input_fd(s->in, err);
	if (fd < 0)
		return fd;
	snprintf(path, cap, "/proc/self/fd/%d", fd);
	return 0;
}

int slide_osl_open(struct slide *s, sl_err *err)
{
	int kind = slide_osl_kind(s->in), keyfd = -1;
	if (kind == OSL_NONE && !sl_input_companions(s->in))
		return 0;
	char path[4200];
	int rc = osl_path(s, &kind, path, sizeof path, &keyfd, err);
	if (rc < 0)
		return rc;
	quiet();
	rc = check_vendor(kind, path, err);
	if (rc == 0)
		rc = open_osr(s, kind, path, err);
	if (keyfd >= 0)
		close(keyfd); /* OpenSlide reads key files only while opening */
	if (rc > 0 && sl_input_companions(s->in))
		rc = sl_fail(err, SL_E_FORMAT, "OpenSlide does not read this %s slide",
			     vendors[kind].what);
	return rc < 0 ? rc : rc > 0 ? 0 : 1;
}

void slide_osl_close(struct slide_osl *o)
{
	if (!o)
		return;
	if (o->osr)
		openslide_close(o->osr);
	if (o->scratch >= 0)
		close(o->scratch);
	free(o->at);
	free(o->len);
	free(o);
}

/* ---- level 0 tiles ---- */

static uint8_t over_white(uint32_t c, uint32_t bg)
{
	return (uint8_t)(c + bg > 255 ? 255 : c + bg); /* c <= alpha unless the data lies */
}

/* Premultiplied ARGB to RGB over white: c + (255 - a), which is the
 * un-premultiplied colour blended on a white background (a transparent
 * pixel, outside the scanned area, becomes white). */
static void to_rgb(const uint32_t *argb, size_t n, uint8_t *px)
{
	for (size_t i = 0; i < n; i++, px += 3) {
		uint32_t p = argb[i], bg = 255 - (p >> 24);
		px[0] = over_white((p >> 16) & 255, bg);
		px[1] = over_white((p >> 8) & 255, bg);
		px[2] = over_white(p & 255, bg);
	}
}

static int pwrite_all(int fd, const void *p, size_t n, uint64_t off, sl_err *err)
{
	for (size_t done = 0; done < n;) {
		ssize_t k = pwrite(fd, (const char *)p + done, n - done, (off_t)(off + done));
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return sl_fail_errno(err, SL_E_IO, k < 0 ? errno : EIO, "cannot write slide "
					     "scratch");
		done += (size_t)k;
	}
	return 0;
}

/* Keep a made tile for phase B (threads take disjoint places). */
static int keep(struct slide_osl *o, uint32_t t, const sl_buf *b, sl_err *err)
{
	uint64_t off = atomic_fetch_add(&o->end, (uint64_t)b->len);
	int rc = pwrite_all(o->scratch, b->data, b->len, off, err);
	if (rc == 0) {
		o->at[t] = off;
		o->len[t] = b->len;
	}
	return rc;
}

static int read_tile(struct slide_osl *o, const struct level *L, uint32_t t, uint8_t *px,
		     sl_err *err)
{
	uint32_t *argb = malloc((size_t)L->tw * L->th * 4);
	if (!argb)
		return sl_fail(err, SL_E_NOMEM, "no memory for a tile");
	int64_t x = (int64_t)(t % L->ntx) * L->tw, y = (int64_t)(t / L->ntx) * L->th;
	openslide_read_region(o->osr, argb, x, y, 0, L->tw, L->th);
	int bad = openslide_get_error(o->osr) != NULL;
	if (!bad)
		to_rgb(argb, (size_t)L->tw * L->th, px);
	free(argb);
	return bad ? sl_fail(err, SL_E_FORMAT, "level 0 tile %u: OpenSlide cannot read it "
			     "(damaged or truncated data)", t) : 0;
}

int slide_osl_tile(struct slide *s, uint32_t t, struct slide_codec *k, uint8_t *px,
		   sl_buf *out, sl_err *err)
{
	const struct level *L = &s->lv[0];
	int rc = read_tile(s->osl, L, t, px, err);
	if (rc == 0)
		rc = slide_codec_encode(k, px, (size_t)L->tw * 3, L->tw, L->th, &L->ji, out, err);
	if (rc == 0)
		rc = keep(s->osl, t, out, err);
	return rc;
}

static int load(struct slide_osl *o, uint32_t t, sl_buf *out, sl_err *err)
{
	size_t n = (size_t)o->len[t];
	sl_buf_reset(out);
	if (out->cap < n + 1) {
		out->data = sl_xrealloc(out->data, n + 1);
		out->cap = n + 1;
	}
	ssize_t k = sl_pread_all(o->scratch, out->data, n, o->at[t]);
	if (k != (ssize_t)n)
		return sl_fail_errno(err, SL_E_IO, k < 0 ? (int)-k : EIO, "cannot read slide scratch");
	out->len = n;
	return 0;
}

int slide_osl_copy_tile(struct slide *s, uint32_t t, sl_buf *out, sl_err *err)
{
	struct slide_osl *o = s->osl;
	if (o->at[t] != NO_TILE)
		return load(o, t, out, err);
	const struct level *L = &s->lv[0];
	uint8_t *px = malloc((size_t)L->tw * L->th * 3);
	struct slide_codec *k = slide_codec_new();
	int rc = px ? slide_osl_tile(s, t, k, px, out, err) :
		 sl_fail(err, SL_E_NOMEM, "no memory for a tile");
	slide_codec_free(k);
	free(px);
	return rc;
}
