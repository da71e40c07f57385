/*
 * cmd_export.c: `sluice export`, the stored items as files that the field's
 * tools open as they are (docs/architecture.md, "Export"):
 *
 *   SUBJECT/FOLDER.../NAME.EXT             an item with a subject
 *   _unassigned/ITEM/FOLDER.../NAME.EXT    one without: a folder per item, so
 *                                          that no two unidentified inputs
 *                                          look like one person's
 *   reference/DIGEST16.fa, .fa.fai         a reference sequence items were
 *                                          written against (a CRAM's @SQ UR
 *                                          names it), indexed by htslib
 *
 * Every output of an item shares its NAME, so an index is named after the
 * data file it indexes.  Names depend on the store alone, never on what the
 * folder holds: of items that would share a name with other outputs, all
 * but the first in item-id order get "-DIGEST16" (of their outputs) after
 * the name; items with the same outputs share the files.  A file already
 * there with the bytes it would get is kept, so a second export into the
 * same folder writes nothing; one with other bytes is an error and left as
 * it is.  Files are written under NAME.part and renamed: a killed export
 * leaves no partial file under a final name.
 */
#include "cli.h"
#include "../codecs/format.h"
#include "../store/store.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One exported item, by its place in item-id order. */
struct plan {
	uint8_t stem[32];     /* SHA-256 of its path, extension excluded */
	uint8_t outs[32];     /* of its outputs' digests */
	uint32_t ord;
};

/* A reference sequence items were written against, and the format that
 * indexes it. */
struct ref {
	uint8_t digest[32];
	const struct sl_format *f;
};

struct xport {
	sl_store *st;
	const char *to;
	struct plan *plan;
	size_t nplan, cap;
	unsigned char *tagged;  /* by ord: the item's names get "-DIGEST16" */
	struct ref *refs;
	size_t nrefs;
	uint32_t ord;           /* the item being visited */
	uint64_t written, kept;
	int failed;
};

/* The extension a format declares for an output's media type; ".bin" for
 * one it does not (or an item of a format no longer in the table). */
static const char *extension(const struct sl_format *f, const char *media_type)
{
	for (const struct sl_format_extension *x = f ? f->extensions : NULL; x && x->media_type; x++)
		if (!strcmp(media_type, x->media_type))
			return x->extension;
	return ".bin";
}

/* Only names made of safe characters reach the file system. */
static void safe_name(sl_buf *b, const char *s)
{
	if (!s || !*s || !strcmp(s, ".") || !strcmp(s, "..")) {
		sl_buf_puts(b, "_");
		return;
	}
	for (; *s; s++) {
		char ch = *s;
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
		sl_buf_add(b, ok ? s : "_", 1);
	}
}

static int mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		int rc = mkdir(path, 0750);
		*p = '/';
		if (rc < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

/* ---- names ---- */

/* "/A/B": one folder per attribute the format names ("study/series"); an
 * attribute the item lacks gives the format's name, as no list does. */
static void folders(sl_buf *b, const struct sl_format *f, const struct sl_item_view *v)
{
	const char *p = f && f->export_folder ? f->export_folder : "";
	if (!*p) {
		sl_buf_puts(b, "/");
		safe_name(b, v->format);
	}
	while (*p) {
		size_t n = strcspn(p, "/");
		char key[64];
		snprintf(key, sizeof key, "%.*s", (int)n, p);
		const char *val = sl_item_attr(v, key);
		sl_buf_puts(b, "/");
		safe_name(b, val ? val : v->format);
		p += n + (p[n] == '/');
	}
}

/* An item's path below the export's root, without extension. */
static void item_stem(const struct sl_item_view *v, sl_buf *b)
{
	const struct sl_format *f = sl_format_by_name(v->format);
	const char *subject = sl_item_attr(v, "subject");
	if (subject) {
		safe_name(b, subject);
	} else {
		sl_buf_puts(b, "_unassigned/");
		safe_name(b, v->id);
	}
	folders(b, f, v);
	sl_buf_puts(b, "/");
	const char *name = f && f->export_name ? sl_item_attr(v, f->export_name) : NULL;
	if (name) {
		safe_name(b, name);
	} else {
		char hex[65];
		sl_hex(hex, v->outs[0].ref.digest, 32);
		sl_buf_add(b, hex, 16);
	}
}

/* The digest of an item's outputs: its object's for one, of their digests
 * in order for more. */
static void outs_digest(const struct sl_item_view *v, uint8_t out[32])
{
	if (v->nouts == 1) {
		memcpy(out, v->outs[0].ref.digest, 32);
		return;
	}
	sl_sha256 *h = sl_sha256_new();
	for (size_t i = 0; i < v->nouts; i++)
		sl_sha256_update(h, v->outs[i].ref.digest, 32);
	sl_sha256_final(h, out);
	sl_sha256_free(h);
}

/* ---- references ---- */

static const struct ref *find_ref(const struct xport *x, const uint8_t d[32])
{
	for (size_t i = 0; i < x->nrefs; i++)
		if (!memcmp(x->refs[i].digest, d, 32))
			return &x->refs[i];
	return NULL;
}

/* Note the reference an item of a SL_FORMAT_REFERENCE format names. */
static void note_ref(struct xport *x, const struct sl_item_view *v)
{
	const struct sl_format *f = sl_format_by_name(v->format);
	const char *hex = sl_item_attr(v, "reference");
	uint8_t d[32];
	if (!f || !(f->flags & SL_FORMAT_REFERENCE) || !hex || strlen(hex) != 64 ||
	    sl_unhex(d, hex, 32) < 0 || find_ref(x, d))
		return;
	x->refs = sl_xrealloc(x->refs, (x->nrefs + 1) * sizeof *x->refs);
	memcpy(x->refs[x->nrefs].digest, d, 32);
	x->refs[x->nrefs++].f = f;
}

/* A reference's own item (an opaque one): written as reference/, not as
 * an unassigned opaque file. */
static int is_ref_item(const struct xport *x, const struct sl_item_view *v)
{
	const struct sl_format *f = sl_format_by_name(v->format);
	return f && (f->flags & SL_FORMAT_DECLARED) && v->nouts == 1 &&
	       find_ref(x, v->outs[0].ref.digest);
}

/* ---- files ---- */

/* The SHA-256 of the file at path: 1, 0 when there is none, <0 (err). */
static int hash_file(const char *path, uint8_t out[32], sl_err *err)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : sl_fail_errno(err, SL_E_IO, errno, "%s", path);
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return sl_fail(err, SL_E_STATE, "%s is there and is not a regular file", path);
	}
	static char buf[1 << 16];
	sl_sha256 *h = sl_sha256_new();
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		sl_sha256_update(h, buf, (size_t)n);
	int en = errno;
	close(fd);
	sl_sha256_final(h, out);
	sl_sha256_free(h);
	return n < 0 ? sl_fail_errno(err, SL_E_IO, en, "%s", path) : 1;
}

/* 1 when path holds the bytes named d, 0 when there is no file, <0 when
 * it holds others (never overwritten: not written by this store's export,
 * or the store has changed since). */
static int already_there(const char *path, const uint8_t d[32], sl_err *err)
{
	uint8_t have[32];
	int rc = hash_file(path, have, err);
	if (rc == 1 && memcmp(have, d, 32))
		return sl_fail(err, SL_E_STATE, "%s is there with other bytes than the export's; "
			       "left as it is (export into an empty folder, or remove it)", path);
	return rc;
}

static void tmp_name(sl_buf *b, const char *path)
{
	sl_buf_reset(b);
	sl_buf_printf(b, "%s.part", path);
}

/* Object d at path (x->to/rel), unless it is there already. */
static int place_object(struct xport *x, const char *path, const uint8_t d[32], sl_err *err)
{
	int rc = already_there(path, d, err);
	if (rc != 0) {
		x->kept += rc == 1;
		return rc < 0 ? rc : 0;
	}
	sl_buf tmp;
	sl_buf_init(&tmp);
	tmp_name(&tmp, path);
	int fd = (rc = mkdirs(tmp.data)) < 0 ? -1 :
		 open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0)
		rc = sl_fail_errno(err, SL_E_IO, rc < 0 ? -rc : errno, "cannot create %s", tmp.data);
	else if ((rc = sl_store_cat(x->st, d, fd, err)) == 0 && close(fd) < 0)
		rc = sl_fail_errno(err, SL_E_IO, errno, "%s", tmp.data);
	else if (rc < 0)
		close(fd);
	if (rc == 0 && rename(tmp.data, path) < 0)
		rc = sl_fail_errno(err, SL_E_IO, errno, "cannot rename %s", tmp.data);
	if (rc < 0 && fd >= 0)
		unlink(tmp.data);
	x->written += rc == 0;
	sl_buf_free(&tmp);
	return rc;
}

/* A file made beside the export's (an index) at tmp, moved to path unless
 * path holds its bytes already. */
static int place_made(struct xport *x, const char *tmp, const char *path, sl_err *err)
{
	uint8_t d[32];
	int rc = hash_file(tmp, d, err);
	if (rc == 0)
		return sl_fail(err, SL_E_IO, "%s was not made", tmp);
	if (rc > 0)
		rc = already_there(path, d, err);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = sl_fail_errno(err, SL_E_IO, errno, "cannot rename %s", tmp);
	else if (rc != 0)
		unlink(tmp);
	x->written += rc == 0;
	x->kept += rc == 1;
	return rc < 0 ? rc : 0;
}

/* The reference's index files, made by htslib through the format that
 * needs it: NAME.fai, and NAME.gzi for a compressed FASTA. */
static int index_ref(struct xport *x, const struct ref *r, const char *fa, sl_err *err)
{
	sl_buf fai, gzi, tf, tg;
	sl_buf_init(&fai);
	sl_buf_init(&gzi);
	sl_buf_init(&tf);
	sl_buf_init(&tg);
	sl_buf_printf(&fai, "%s.fai", fa);
	sl_buf_printf(&gzi, "%s.gzi", fa);
	tmp_name(&tf, fai.data);
	tmp_name(&tg, gzi.data);
	unlink(tg.data); /* one a killed export left */
	int rc = r->f->index_reference(fa, tf.data, tg.data, err);
	if (rc == 0)
		rc = place_made(x, tf.data, fai.data, err);
	if (rc == 0 && access(tg.data, F_OK) == 0)
		rc = place_made(x, tg.data, gzi.data, err);
	if (rc < 0) {
		unlink(tf.data);
		unlink(tg.data);
	}
	sl_buf_free(&fai);
	sl_buf_free(&gzi);
	sl_buf_free(&tf);
	sl_buf_free(&tg);
	return rc;
}

/* A reference items were written against, as the name their CRAMs' UR
 * give it. */
static int export_ref(struct xport *x, const struct ref *r, sl_err *err)
{
	uint8_t magic[2] = {0};
	int64_t n = sl_store_read(x->st, r->digest, 0, magic, 2, err);
	if (n < 0)
		return (int)n;
	char hex[65], rel[64];
	sl_hex(hex, r->digest, 32);
	sl_reference_export_name(hex, n == 2 && magic[0] == 0x1f && magic[1] == 0x8b, rel,
				 sizeof rel);
	sl_buf p;
	sl_buf_init(&p);
	sl_buf_printf(&p, "%s/%s", x->to, rel);
	int rc = place_object(x, p.data, r->digest, err);
	if (rc == 0 && r->f->index_reference)
		rc = index_ref(x, r, p.data, err);
	sl_buf_free(&p);
	return rc;
}

/* ---- the two walks ---- */

static int plan_one(void *ctx, const struct sl_item_view *v)
{
	struct xport *x = ctx;
	note_ref(x, v);
	if (!v->nouts)
		return 0;
	if (x->nplan == x->cap) {
		x->cap = x->cap ? 2 * x->cap : 1024;
		x->plan = sl_xrealloc(x->plan, x->cap * sizeof *x->plan);
	}
	struct plan *p = &x->plan[x->nplan++];
	sl_buf b;
	sl_buf_init(&b);
	item_stem(v, &b);
	sl_sha256_once(b.data, b.len, p->stem);
	sl_buf_free(&b);
	outs_digest(v, p->outs);
	p->ord = x->ord++;
	return 0;
}

static int by_stem(const void *a, const void *b)
{
	const struct plan *p = a, *q = b;
	int c = memcmp(p->stem, q->stem, 32);
	return c ? c : (p->ord > q->ord) - (p->ord < q->ord);
}

/* Of the items sharing a path, those whose outputs differ from the first's
 * get their outputs' digest in their names. */
static void tag_collisions(struct xport *x)
{
	qsort(x->plan, x->nplan, sizeof *x->plan, by_stem);
	x->tagged = sl_xcalloc(x->ord + 1, 1);
	for (size_t i = 0, first = 0; i < x->nplan; i++) {
		if (memcmp(x->plan[i].stem, x->plan[first].stem, 32))
			first = i;
		x->tagged[x->plan[i].ord] = memcmp(x->plan[i].outs, x->plan[first].outs, 32) != 0;
	}
}

static int write_item(struct xport *x, const struct sl_item_view *v, int tagged, sl_err *err)
{
	const struct sl_format *f = sl_format_by_name(v->format);
	sl_buf p;
	sl_buf_init(&p);
	sl_buf_printf(&p, "%s/", x->to);
	item_stem(v, &p);
	if (tagged) {
		uint8_t d[32];
		char hex[65];
		outs_digest(v, d);
		sl_hex(hex, d, 32);
		sl_buf_printf(&p, "-%.16s", hex);
	}
	size_t stem = p.len;
	int rc = 0;
	for (size_t i = 0; i < v->nouts && rc == 0; i++) {
		p.len = stem;
		sl_buf_puts(&p, extension(f, v->outs[i].media_type));
		rc = place_object(x, p.data, v->outs[i].ref.digest, err);
	}
	sl_buf_free(&p);
	return rc;
}

static int write_one(void *ctx, const struct sl_item_view *v)
{
	struct xport *x = ctx;
	uint32_t ord = v->nouts ? x->ord++ : 0;
	if (!v->nouts || is_ref_item(x, v))
		return 0;
	sl_err err = {0};
	if (write_item(x, v, x->tagged[ord], &err) < 0) {
		sl_cli_error("item %s: %s", v->id, err.msg);
		x->failed = 1;
	}
	return 0;
}

/* ---- the command ---- */

static const char usage[] = "usage: sluice export --store DIR --to OUTDIR [--subject ID]\n";

static int options(int argc, char **argv, const char **store, const char **to, const char **subject)
{
	enum { O_TO = 256, O_SUBJECT, O_HELP };
	static const struct option lo[] = {
		{"store", required_argument, 0, 's'}, {"to", required_argument, 0, O_TO},
		{"subject", required_argument, 0, O_SUBJECT}, {"help", no_argument, 0, O_HELP},
		{0, 0, 0, 0},
	};
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:", lo, NULL)) != -1) {
		switch (ch) {
		case 's': *store = optarg; break;
		case O_TO: *to = optarg; break;
		case O_SUBJECT: *subject = optarg; break;
		case O_HELP: fputs(usage, stdout); exit(SL_EXIT_OK);
		default: fputs(usage, stderr); return -1;
		}
	}
	if (optind < argc) {
		fputs(usage, stderr);
		return -1;
	}
	if (!*to) {
		sl_cli_error("export needs --to OUTDIR");
		return -1;
	}
	struct stat sb;
	if (stat(*to, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
		sl_cli_error("--to %s: not a folder", *to);
		return -1;
	}
	if (mkdir(*to, 0750) < 0 && errno != EEXIST) {
		sl_cli_error("cannot create %s: %s", *to, strerror(errno));
		return -1;
	}
	return 0;
}

/* Plan (names, references), then write: items, then references. */
static int run_export(struct xport *x, const char *subject, sl_err *err)
{
	const char *key = subject ? "subject" : NULL;
	int rc = sl_store_items(x->st, key, subject, plan_one, x, err);
	if (rc < 0)
		return rc;
	tag_collisions(x);
	x->ord = 0;
	if ((rc = sl_store_items(x->st, key, subject, write_one, x, err)) < 0)
		return rc;
	for (size_t i = 0; i < x->nrefs; i++) {
		sl_err e = {0};
		if (export_ref(x, &x->refs[i], &e) < 0) {
			char hex[65];
			sl_hex(hex, x->refs[i].digest, 32);
			sl_cli_error("reference %.16s: %s", hex, e.msg);
			x->failed = 1;
		}
	}
	return 0;
}

int sl_cmd_export(int argc, char **argv)
{
	const char *store = NULL, *to = NULL, *subject = NULL;
	if (options(argc, argv, &store, &to, &subject) < 0)
		return SL_EXIT_ENV;
	sl_store *st = sl_cli_open_ro(store);
	if (!st)
		return SL_EXIT_ENV;
	struct xport x = {.st = st, .to = to};
	sl_err err = {0};
	int rc = run_export(&x, subject, &err);
	sl_store_close(st);
	free(x.plan);
	free(x.tagged);
	free(x.refs);
	if (rc < 0) {
		sl_cli_error("%s", err.msg);
		return SL_EXIT_ENV;
	}
	fprintf(stderr, "sluice: exported %llu file(s) to %s (%llu written, %llu already there)\n",
		(unsigned long long)(x.written + x.kept), to, (unsigned long long)x.written,
		(unsigned long long)x.kept);
	return x.failed ? SL_EXIT_REJECTED : SL_EXIT_OK;
}
