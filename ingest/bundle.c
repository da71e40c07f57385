/*
 * bundle.c: multi-file inputs, found by the walker.  A file whose name ends
 * with a format's bundle suffix is that format's index; the format names the
 * files that belong to it through sl_bundle_add, which this file resolves
 * against the index's folder, so the format never sees a real name.  The
 * files named are claimed: the walker does not emit them again.
 */
#include "discover.h"
#include "../codecs/format.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_COMPANIONS 65536

struct sl_bundle {
	const char *index;       /* the index's path as the walker has it */
	size_t dir_len;          /* its folder: index[0, dir_len) (0: none; "/": the root) */
	const char *stem;        /* the index's name without the suffix */
	size_t stem_len;
	const char *suffix;      /* as the format lists it */
	int follow;              /* companions may be symbolic links */
	int follow_index;        /* the index may be one (given explicitly) */
	char **paths;
	size_t n;
};

/* ---- claims: a set of paths ---- */

static uint64_t hash_path(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ull;
	return h;
}

static void claims_put(struct sl_claims *c, char *path)
{
	if (2 * (c->n + 1) > c->cap) {
		struct sl_claims g = {.cap = c->cap ? 2 * c->cap : 64};
		g.slot = sl_xcalloc(g.cap, sizeof *g.slot);
		for (size_t i = 0; i < c->cap; i++)
			if (c->slot[i])
				claims_put(&g, c->slot[i]);
		free(c->slot);
		*c = g;
	}
	size_t i = hash_path(path) & (c->cap - 1);
	while (c->slot[i]) {
		if (!strcmp(c->slot[i], path)) {
			free(path);
			return;
		}
		i = (i + 1) & (c->cap - 1);
	}
	c->slot[i] = path;
	c->n++;
}

int sl_claims_has(const struct sl_claims *c, const char *path)
{
	if (!c->n)
		return 0;
	for (size_t i = hash_path(path) & (c->cap - 1); c->slot[i]; i = (i + 1) & (c->cap - 1))
		if (!strcmp(c->slot[i], path))
			return 1;
	return 0;
}

void sl_claims_free(struct sl_claims *c)
{
	for (size_t i = 0; i < c->cap; i++)
		free(c->slot[i]);
	free(c->slot);
	memset(c, 0, sizeof *c);
}

/* ---- names ---- */

/* The path of a bundle name, or NULL with err set: relative components
 * only, "@" first standing for the stem. */
static char *resolve(const sl_bundle *b, const char *name, sl_err *err)
{
	sl_buf p;
	sl_buf_init(&p);
	if (b->dir_len) {
		sl_buf_add(&p, b->index, b->dir_len);
		if (p.data[p.len - 1] != '/')
			sl_buf_puts(&p, "/");
	}
	const char *s = name;
	if (!*s)
		goto bad;
	for (int first = 1; *s; first = 0) {
		const char *e = strchr(s, '/');
		size_t n = e ? (size_t)(e - s) : strlen(s);
		if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && !memcmp(s, "..", 2)) ||
		    memchr(s, '\\', n))
			goto bad;
		if (first && n == 1 && s[0] == '@')
			sl_buf_add(&p, b->stem, b->stem_len);
		else
			sl_buf_add(&p, s, n);
		s += n;
		if (*s) {
			sl_buf_puts(&p, "/");
			s++;
			if (!*s)
				goto bad;
		}
	}
	return p.data;
bad:
	sl_buf_free(&p);
	sl_fail(err, SL_E_FORMAT, "its index names a file outside its folder or with an unusable name");
	return NULL;
}

/* The name as the operator knows it (relative to the index's folder), for
 * reasons: the report is theirs.  Control bytes (a name read from a
 * damaged index) become '?', so the summary cannot drive a terminal. */
static const char *shown(const sl_bundle *b, const char *path)
{
	static _Thread_local char out[512];
	const char *p = path + (b->dir_len ? b->dir_len + (b->index[b->dir_len - 1] != '/') : 0);
	size_t i = 0;
	for (; p[i] && i < sizeof out - 1; i++)
		out[i] = (unsigned char)p[i] < 0x20 || p[i] == 0x7f ? '?' : p[i];
	out[i] = 0;
	return out;
}

static int open_file(const sl_bundle *b, const char *path, int follow, struct stat *st,
		     sl_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
	if (fd < 0)
		return sl_fail_errno(err, SL_E_FORMAT, errno, "cannot open %s, which its index names",
				     shown(b, path));
	if (fstat(fd, st) < 0 || !S_ISREG(st->st_mode)) {
		close(fd);
		return sl_fail(err, SL_E_FORMAT, "%s, which its index names, is not a regular file",
			       shown(b, path));
	}
	return fd;
}

int64_t sl_bundle_read(sl_bundle *b, const char *name, void *buf, size_t cap, sl_err *err)
{
	char *path = name ? resolve(b, name, err) : sl_xstrdup(b->index);
	if (!path)
		return -SL_E_FORMAT;
	struct stat st;
	int fd = open_file(b, path, name ? b->follow : b->follow_index, &st, err);
	int64_t rc = fd;
	if (fd >= 0 && (uint64_t)st.st_size > cap)
		rc = sl_fail(err, SL_E_FORMAT, "%s is too large for an index (over %zu bytes)",
			     shown(b, path), cap);
	else if (fd >= 0)
		rc = sl_pread_all(fd, buf, (size_t)st.st_size, 0) == st.st_size ? st.st_size
		   : sl_fail(err, SL_E_FORMAT, "cannot read %s", shown(b, path));
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

const char *sl_bundle_suffix(const sl_bundle *b) { return b->suffix; }

int sl_bundle_add(sl_bundle *b, const char *name, sl_err *err)
{
	char *path = resolve(b, name, err);
	if (!path)
		return -SL_E_FORMAT;
	struct stat st;
	int rc = 0;
	for (size_t i = 0; i < b->n; i++)
		if (!strcmp(b->paths[i], path))
			goto out;
	if (!strcmp(path, b->index) || b->n == MAX_COMPANIONS) {
		rc = sl_fail(err, SL_E_FORMAT, "its index names itself or too many files");
		goto out;
	}
	if ((b->follow ? stat(path, &st) : lstat(path, &st)) < 0 || !S_ISREG(st.st_mode)) {
		rc = sl_fail(err, SL_E_FORMAT, "%s, which its index names, is missing or not a "
			     "regular file", shown(b, path));
		goto out;
	}
	b->paths = sl_xrealloc(b->paths, (b->n + 1) * sizeof *b->paths);
	b->paths[b->n++] = path;
	return 0;
out:
	free(path);
	return rc;
}

/* ---- the walker's entry ---- */

static const struct sl_format *match(const char *name, const char **suffix)
{
	size_t n = strlen(name);
	for (size_t i = 0; sl_formats[i]; i++)
		for (const char *const *x = sl_formats[i]->bundle_suffixes; x && *x; x++) {
			size_t k = strlen(*x);
			if (n > k && !strcasecmp(name + n - k, *x)) {
				*suffix = *x;
				return sl_formats[i];
			}
		}
	return NULL;
}

int sl_bundle_named(const char *name)
{
	const char *x;
	return match(name, &x) != NULL;
}

struct sl_task *sl_bundle_task(const char *path, int follow, int follow_links,
			       struct sl_claims *claims)
{
	const char *slash = strrchr(path, '/');
	const char *name = slash ? slash + 1 : path;
	const char *x;
	const struct sl_format *f = match(name, &x);
	if (!f)
		return NULL;
	sl_bundle b = {.index = path, .stem = name, .stem_len = strlen(name) - strlen(x),
		       .suffix = x, .follow = follow_links, .follow_index = follow};
	b.dir_len = slash ? (size_t)(slash - path) + (slash == path) : 0;
	sl_err err = {0};
	struct sl_task *t = sl_xcalloc(1, sizeof *t);
	t->path = sl_xstrdup(path);
	t->follow = follow;
	if (f->bundle(&b, &err) < 0) {
		/* the files it did name are rejected with it */
		char msg[sizeof err.msg + 64];
		snprintf(msg, sizeof msg, "multi-file %s input: %s", f->name, err.msg);
		t->reject = sl_xstrdup(msg);
	} else if (!b.n) { /* not an index after all */
		sl_task_free(t);
		return NULL;
	}
	t->fmt = f;
	t->companions = b.paths;
	t->ncompanions = b.n;
	for (size_t i = 0; i < b.n; i++)
		claims_put(claims, sl_xstrdup(b.paths[i]));
	return t;
}
