/*
 * slide.c: the whole-slide image format.  An Aperio SVS or a tiled (Big)TIFF
 * pyramid becomes one tiled pyramidal TIFF: label, macro and thumbnail pages
 * dropped, metadata reduced to an allowlist, level 0 JPEG tiles copied
 * without decoding, consistent reduced levels copied the same way, every
 * other power-of-two level built with a 2x2 area filter.  See
 * docs/slides.md.
 *
 * The sink is append-only and the TIFF header must point at the IFDs, so
 * the transform runs in two phases.  A: plan the levels, read every copied
 * tile (to know its rebuilt size) and build the missing levels, keeping
 * each built tile's size and, while they fit in --slide-memory, its bytes.
 * B: write header and IFDs (now computable), copy the tiles again, then
 * the built tiles from memory, or built a second time when they did not
 * fit (the same bytes: the encoder is deterministic, and sizes are checked).
 */
#include "slide_impl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct slide_conf default_conf = {
	.rebuild = 0,
	.cache_max = SLIDE_CACHE_DEFAULT,
	.threads = 0,
	.json = "{\"levels\":\"copy-consistent\",\"filter\":\"2x2-area-mean\",\"scaled-decode\":true,"
		"\"quality\":90,\"metadata\":\"allowlist-1\"}",
};

/* ---- options ---- */

static const struct sl_format_option options[] = {
	{"slide-rebuild-levels", "yes|no", "build every reduced level from level 0 instead of "
	 "copying the consistent levels a slide has (default no)", 0},
	{"slide-memory", "MIB", "memory for built tiles held until they are written (default "
	 "256); a slide whose built levels need more builds them twice", 0},
	{"slide-threads", "N", "threads decoding and encoding one slide's tiles (default: one per "
	 "CPU; 1: none besides the worker); output bytes do not depend on it", 0},
	{NULL, NULL, NULL, 0},
};

static void conf_json(struct slide_conf *c)
{
	snprintf(c->json, sizeof c->json, "{\"levels\":\"%s\",\"filter\":\"2x2-area-mean\","
		 "\"scaled-decode\":true,\"quality\":%d,\"metadata\":\"allowlist-1\"}",
		 c->rebuild ? "rebuild" : "copy-consistent", SLIDE_QUALITY);
}

static int slide_configure(void **conf, const char *name, const char *value, size_t len,
			   sl_err *err)
{
	if (!*conf) {
		struct slide_conf *c = sl_xmalloc(sizeof *c);
		*c = default_conf;
		*conf = c;
	}
	struct slide_conf *c = *conf;
	if (!strcmp(name, "slide-rebuild-levels")) {
		if (strcmp(value, "yes") && strcmp(value, "no"))
			return sl_fail(err, SL_E_USAGE, "--slide-rebuild-levels takes yes or no");
		c->rebuild = !strcmp(value, "yes");
	} else if (!strcmp(name, "slide-memory")) {
		char *end;
		unsigned long long mib = strtoull(value, &end, 10);
		if (!*value || *end || mib > (1ull << 20))
			return sl_fail(err, SL_E_USAGE, "--slide-memory takes a number of MiB");
		c->cache_max = mib << 20; /* not in the policy: output bytes do not depend on it */
	} else if (!strcmp(name, "slide-threads")) {
		char *end;
		unsigned long n = strtoul(value, &end, 10);
		if (!*value || *end || n > 256)
			return sl_fail(err, SL_E_USAGE, "--slide-threads takes a number from 0 to 256");
		c->threads = (int)n; /* not in the policy either */
	} else {
		return sl_fail(err, SL_E_USAGE, "unknown slide option --%s", name);
	}
	conf_json(c);
	return 0;
}

static const char *slide_policy(const void *conf)
{
	return conf ? ((const struct slide_conf *)conf)->json : default_conf.json;
}

static void slide_release(void *conf) { free(conf); }

/* ---- sniffing ---- */

/* Below any format that recognises a TIFF's content (none does yet). */
#define SNIFF_FAR 40

/* What tells a slide from an ordinary TIFF, from its first page: an
 * Aperio description, a side of 4096 pixels or more (tiled or a stripped
 * level 0), or tiles with more than one page.  The sniff applies it when
 * the head holds the first directory, the transform when it does not; a
 * stripped first page with more pages is claimed at the lowest confidence
 * (its pyramid may be tiled further on) and judged by the transform. */
static int slide_like(int aperio, int tiled, int more, uint64_t w, uint64_t h)
{
	return aperio || w >= 4096 || h >= 4096 || (tiled && more);
}

/* A TIFF whose first directory lies beyond the head (libtiff and vips
 * write it after the pixels, Aperio often does) is claimed whatever its
 * size: the head cannot tell, and the format API offers a sniff no other
 * bytes.  The transform applies the same rule to the first directory and
 * rejects an ordinary TIFF with a reason that says so. */
static int slide_sniff(const uint8_t *h, size_t len, uint64_t size)
{
	int osl = slide_osl_sniff(h, len, size); /* what OpenSlide alone reads */
	if (osl)
		return osl;
	if (len < 16 || !((h[0] == 'I' && h[1] == 'I') || (h[0] == 'M' && h[1] == 'M')))
		return 0;
	int le = h[0] == 'I', big = slide_uint(h + 2, 2, le) == 43;
	if (!big && slide_uint(h + 2, 2, le) != 42)
		return 0;
	if (big && (slide_uint(h + 4, 2, le) != 8 || slide_uint(h + 6, 2, le) != 0))
		return 0;
	uint64_t ifd = big ? slide_uint(h + 8, 8, le) : slide_uint(h + 4, 4, le);
	size_t esz = big ? 20 : 12, csz = big ? 8 : 2;
	if (ifd < 8)
		return 0;
	if (ifd > len - csz)
		return ifd < size ? SNIFF_FAR : 0;
	uint64_t n = slide_uint(h + ifd, (int)csz, le);
	if (n > (len - ifd - csz) / esz)
		return len < size ? SNIFF_FAR : 0;
	int tiled = 0, aperio = 0;
	uint64_t w = 0, ht = 0;
	for (uint64_t i = 0; i < n; i++) {
		const uint8_t *e = h + ifd + csz + i * esz;
		unsigned tag = (unsigned)slide_uint(e, 2, le), type = (unsigned)slide_uint(e + 2, 2, le);
		uint64_t cnt = slide_uint(e + 4, big ? 8 : 4, le);
		const uint8_t *v = e + (big ? 12 : 8);
		uint64_t val = type == 3 ? slide_uint(v, 2, le) : slide_uint(v, big ? 8 : 4, le);
		if (tag == 322)
			tiled = 1;
		else if (tag == 256)
			w = val;
		else if (tag == 257)
			ht = val;
		else if (tag == 270 && cnt >= 6) {
			uint64_t off = cnt <= (uint64_t)(big ? 8 : 4) ? (uint64_t)(v - h) : val;
			aperio = off <= len - 6 && !memcmp(h + off, "Aperio", 6);
		}
	}
	uint64_t next_at = ifd + csz + n * esz;
	int more = next_at + (big ? 8 : 4) <= len && slide_uint(h + next_at, big ? 8 : 4, le) != 0;
	if (aperio)
		return 95;
	if (!tiled && more && !slide_like(0, tiled, more, w, ht))
		return SNIFF_FAR;
	return slide_like(0, tiled, more, w, ht) ? 85 : 0;
}

/* A TIFF claimed on its header alone may be no slide (see above). */
static int check_slide_like(struct slide *s, sl_err *err)
{
	const struct sdir *d = slide_src_dir(s->src, 0);
	if (slide_like(d->is_aperio_desc, d->tw != 0, slide_src_ndirs(s->src) > 1, d->w, d->h))
		return 0;
	if (!d->tw && d->kind == SDIR_LEVEL)
		return 0; /* stripped, with tiled reduced pages (src.c) */
	return sl_fail(err, SL_E_FORMAT, "not a whole-slide image: an ordinary TIFF (%s); use "
		       "--opaque for non-sensitive files", d->tw ? "one tiled page smaller than 4096 "
		       "pixels a side" : "its first page is not tiled");
}

/* ---- phase A: sizes, and built tiles while they fit ---- */

static int sized_copied(struct slide *s, int k, uint32_t t, const uint8_t *p, size_t n,
			sl_err *err)
{
	struct level *L = &s->lv[k];
	L->size[t] = n;
	L->pos[t] = t ? L->pos[t - 1] + L->size[t - 1] : 0;
	return 0;
}

static int sized_built(struct slide *s, int k, uint32_t t, const uint8_t *p, size_t n,
		       sl_err *err)
{
	struct level *L = &s->lv[k];
	L->size[t] = n;
	L->pos[t] = s->built_bytes;
	s->built_bytes += n;
	if (!s->cache_over && s->cache.len + n <= s->conf->cache_max) {
		sl_buf_add(&s->cache, p, n);
	} else if (!s->cache_over) {
		s->cache_over = 1;
		sl_buf_free(&s->cache);
	}
	return 0;
}

/* ---- phase B: the bytes, where phase A said they go ---- */

static int put_tile(struct slide *s, int k, uint32_t t, const uint8_t *p, size_t n, sl_err *err)
{
	const struct level *L = &s->lv[k];
	if (n != L->size[t] || s->pos != L->base + L->pos[t])
		return sl_fail(err, SL_E_STATE, "level %d tile %u came out differently the second "
			       "time (input changed while read?)", k, t);
	s->pos += n;
	return sl_sink_write(s->out, p, n, err);
}

static int write_copied(struct slide *s, sl_err *err)
{
	sl_buf raw, out;
	sl_buf_init(&raw);
	sl_buf_init(&out);
	int rc = 0;
	for (int k = 0; k < s->nlv && rc == 0; k++) {
		const struct level *L = &s->lv[k];
		for (uint32_t t = 0; L->src >= 0 && t < L->ntx * L->nty && rc == 0; t++) {
			rc = slide_copy_tile(s, k, t, &raw, &out, err);
			if (rc == 0)
				rc = put_tile(s, k, t, (uint8_t *)out.data, out.len, err);
		}
	}
	sl_buf_free(&raw);
	sl_buf_free(&out);
	return rc;
}

static int write_built(struct slide *s, sl_err *err)
{
	if (!s->built_bytes)
		return 0;
	if (s->cache_over)
		return slide_build(s, put_tile, NULL, err);
	s->pos += s->cache.len;
	return sl_sink_write(s->out, s->cache.data, s->cache.len, err);
}

/* ---- catalog and provenance ---- */

static void pseudonym(const struct sl_deid_ctx *ctx, const char *domain, const void *v,
		      size_t n, char prefix, char out[32])
{
	uint8_t d[32];
	sl_key_hmac(ctx->key, domain, v, n, d);
	out[0] = prefix;
	sl_hex(out + 1, d, 12);
}

/* The slide's pseudonym: from its barcode, or from what it holds (size
 * and every level 0 tile's length) when it has none (blanks are none: one
 * pseudonym for every blank barcode would join unrelated slides). */
static void slide_id(const struct slide *s, const struct sl_deid_ctx *ctx, char out[32])
{
	if (sl_subject_identified(s->meta.barcode)) {
		pseudonym(ctx, "slide", s->meta.barcode, strlen(s->meta.barcode), 'W', out);
		return;
	}
	sl_sha256 *h = sl_sha256_new();
	if (s->osl) { /* no tiles of its own: level 0 as re-encoded */
		const struct level *L = &s->lv[0];
		sl_sha256_update(h, &L->w, sizeof L->w);
		sl_sha256_update(h, &L->h, sizeof L->h);
		sl_sha256_update(h, L->size, (size_t)L->ntx * L->nty * sizeof *L->size);
	} else {
		const struct sdir *d = slide_src_dir(s->src, s->lv[0].src);
		sl_sha256_update(h, &d->w, sizeof d->w);
		sl_sha256_update(h, &d->h, sizeof d->h);
		sl_sha256_update(h, d->cnt, d->ntiles * sizeof *d->cnt);
	}
	uint8_t fp[32];
	sl_sha256_final(h, fp);
	sl_sha256_free(h);
	pseudonym(ctx, "slide-content", fp, sizeof fp, 'W', out);
}

static const char *colour_name(const struct slide *s, const struct level *L)
{
	if (s->nc == 1)
		return "grey";
	if (SLIDE_IS_J2K(L->compression))
		return L->compression == SLIDE_J2K_YCBCR ? "YCbCr" : "RGB";
	return L->compression == 7 && L->ji.ycbcr ? "YCbCr" : "RGB";
}

static void attrs(struct slide *s, const struct sl_deid_ctx *ctx)
{
	char v[64];
	sl_sink_attr(s->out, "kind", "slide");
	if (sl_subject_pseudonym(ctx, s->meta.barcode, v)) /* no barcode: no subject */
		sl_sink_attr(s->out, "subject", v);
	slide_id(s, ctx, v);
	sl_sink_attr(s->out, "slide", v);
	snprintf(v, sizeof v, "%u", s->lv[0].w);
	sl_sink_attr(s->out, "width", v);
	snprintf(v, sizeof v, "%u", s->lv[0].h);
	sl_sink_attr(s->out, "height", v);
	snprintf(v, sizeof v, "%d", s->nlv);
	sl_sink_attr(s->out, "levels", v);
	if (s->meta.mpp_x) {
		slide_mpp_text(s->meta.mpp_x, v);
		sl_sink_attr(s->out, "mpp", v);
		slide_mpp_text(s->meta.mpp_y, v);
		sl_sink_attr(s->out, "mpp_y", v);
	}
	if (s->meta.objective[0])
		sl_sink_attr(s->out, "objective_power", s->meta.objective);
	if (s->meta.scanner[0])
		sl_sink_attr(s->out, "scanner", s->meta.scanner);
	sl_sink_attr(s->out, "vendor", s->meta.vendor);
	sl_sink_attr(s->out, "compression", slide_compression_name(s->lv[0].compression));
}

static void facts(struct slide *s)
{
	sl_buf f;
	sl_buf_init(&f);
	sl_buf_printf(&f, "{\"vendor\":\"%s\",\"bigtiff\":%s,\"levels\":[", s->meta.vendor,
		      s->big ? "true" : "false");
	for (int k = 0; k < s->nlv; k++) {
		const struct level *L = &s->lv[k];
		sl_buf_printf(&f, "%s{\"size\":[%u,%u],\"tile\":[%u,%u],\"from\":\"%s\","
			      "\"colour\":\"%s\",\"compression\":\"%s\"}", k ? "," : "", L->w, L->h,
			      L->tw, L->th, L->src < 0 ? "built" : s->osl ? "re-encoded" :
			      L->decoded ? "decoded" : "copied", colour_name(s, L),
			      slide_compression_name(L->compression));
	}
	sl_buf_printf(&f, "],\"pages_dropped\":{\"label\":%d,\"macro\":%d,\"thumbnail\":%d,"
		      "\"other\":%d},\"kept\":[\"dimensions\"%s%s%s%s,\"compression\"],"
		      "\"built_twice\":%s}", s->dropped[SDIR_LABEL], s->dropped[SDIR_MACRO],
		      s->dropped[SDIR_THUMB], s->dropped[SDIR_OTHER],
		      s->meta.mpp_x ? ",\"mpp\"" : "", s->meta.objective[0] ? ",\"objective_power\"" : "",
		      s->meta.scanner[0] ? ",\"scanner\"" : "", s->meta.icc ? ",\"icc_profile\"" : "",
		      s->cache_over ? "true" : "false");
	sl_sink_fact(s->out, "slide", f.data);
	sl_buf_free(&f);
}

/* ---- the transform ---- */

static void slide_free(struct slide *s)
{
	slide_threads_stop(s);
	for (int k = 0; k < SLIDE_MAX_LEVELS; k++) {
		free(s->lv[k].size);
		free(s->lv[k].pos);
		sl_buf_free(&s->lv[k].white);
	}
	slide_src_close(s->src);
	slide_osl_close(s->osl);
	free(s->dband);
	slide_meta_free(&s->meta);
	sl_buf_free(&s->cache);
	free(s);
}

/* Through OpenSlide for the vendors only it reads (osl.c), else libtiff;
 * either way the levels are planned. */
static int open_input(struct slide *s, sl_err *err)
{
	int rc = slide_osl_open(s, err);
	if (rc != 0)
		return rc < 0 ? rc : 0;
	rc = slide_src_open(&s->src, s->in, err);
	if (rc == 0)
		rc = check_slide_like(s, err);
	if (rc == 0)
		rc = slide_src_meta(s->src, &s->meta, err);
	if (rc == 0)
		rc = slide_plan(s, err);
	return rc;
}

static int slide_transform(sl_input *in, sl_sink *out, const struct sl_deid_ctx *ctx,
			   const void *conf, sl_err *err)
{
	struct slide *s = sl_xcalloc(1, sizeof *s);
	s->in = in;
	s->out = out;
	s->conf = conf ? conf : &default_conf;
	sl_buf_init(&s->cache);
	int rc = open_input(s, err);
	if (rc == 0)
		rc = slide_build(s, sized_built, sized_copied, err);
	if (rc == 0)
		rc = sl_sink_begin(out, "primary", "image/tiff", err);
	if (rc == 0)
		rc = slide_tiff_begin(s, err);
	if (rc == 0)
		rc = write_copied(s, err);
	if (rc == 0)
		rc = write_built(s, err);
	if (rc == 0)
		rc = sl_sink_end(out, err);
	if (rc == 0) {
		attrs(s, ctx);
		facts(s);
	}
	slide_free(s);
	return rc;
}

static const char *const bundle_suffixes[] = {".mrxs", ".vms", ".vmu", NULL};

static const struct sl_format_extension extensions[] = {
	{"image/tiff", ".tiff"},
	{NULL, NULL},
};

const struct sl_format sl_format_slide = {
	.name = "slide",
	.version = "3",
	.options = options,
	.configure = slide_configure,
	.policy = slide_policy,
	.release = slide_release,
	.sniff = slide_sniff,
	.transform = slide_transform,
	.bundle_suffixes = bundle_suffixes,
	.bundle = slide_bundle,
	.extensions = extensions,
	.export_folder = "slide",
	.libraries = slide_libraries,
};
