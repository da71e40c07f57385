/*
 * discover.c: walking the sources.  Directory entries are read whole and
 * sorted before descending, so the order is stable across runs and only one
 * directory is open at a time however deep the tree.  Symlinks are not
 * followed unless asked; when they are, a stack of (dev, ino) of the
 * directories above catches loops.
 */
#include "discover.h"
#include "source.h"
#include "../common/sl_common.h"
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct walk {
	const struct sl_discover_opts *o;
	sl_queue *q;
	uint64_t n;
	struct { dev_t dev; ino_t ino; } stack[4096];
	size_t depth;
	struct sl_task *out[64]; /* handed to the workers a batch at a time */
	size_t nout;
	struct sl_claims claims; /* multi-file inputs' companions, emitted with them */
};

static int stopped(const struct sl_discover_opts *o)
{
	return sl_source_stopped(o->stop);
}

static void flush(struct walk *w)
{
	sl_queue_push_many(w->q, (void *const *)w->out, w->nout);
	w->nout = 0;
}

struct dent {
	char *name;
	unsigned char type;
	struct sl_task *bundle;  /* the index of a multi-file input */
};

static void emit_task(struct walk *w, struct sl_task *t)
{
	w->out[w->nout++] = t;
	w->n += 1 + t->ncompanions;
	if (w->nout == sizeof w->out / sizeof *w->out)
		flush(w);
}

static void emit(struct walk *w, const char *path, int follow, const char *reason)
{
	struct sl_task *t = sl_xcalloc(1, sizeof *t);
	t->path = sl_xstrdup(path);
	t->follow = follow;
	t->reject = reason ? sl_xstrdup(reason) : NULL;
	emit_task(w, t);
}

static char *cwd;
static pthread_once_t cwd_once = PTHREAD_ONCE_INIT;

static void get_cwd(void) { cwd = getcwd(NULL, 0); }

/* Append one component to an absolute path being built in b. */
static void push_part(sl_buf *b, const char *part, size_t n)
{
	if (n == 0 || (n == 1 && part[0] == '.'))
		return;
	if (n == 2 && part[0] == '.' && part[1] == '.') {
		while (b->len > 1 && b->data[b->len - 1] != '/')
			b->len--;
		if (b->len > 1)
			b->len--;
		b->data[b->len] = 0;
		return;
	}
	if (b->len > 1)
		sl_buf_add(b, "/", 1);
	sl_buf_add(b, part, n);
}

char *sl_path_normal(const char *path)
{
	pthread_once(&cwd_once, get_cwd);
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_add(&b, "/", 1);
	for (int pass = path[0] == '/' || !cwd; pass < 2; pass++) {
		const char *s = pass ? path : cwd;
		while (*s) {
			size_t n = strcspn(s, "/");
			push_part(&b, s, n);
			s += n + (s[n] == '/');
		}
	}
	if (!cwd && path[0] != '/') /* no working directory: relative, as given */
		memmove(b.data, b.data + 1, b.len--);
	return (char *)b.data;
}

int sl_path_under(const char *path, const char *const *prefixes, size_t n)
{
	if (n == 0)
		return 0;
	char *a = sl_path_normal(path);
	int under = 0;
	for (size_t i = 0; i < n && !under; i++) {
		const char *p = prefixes[i];
		size_t k = strlen(p);
		under = !strncmp(a, p, k) && (p[k - 1] == '/' || a[k] == 0 || a[k] == '/');
	}
	free(a);
	return under;
}

/* The task of a multi-file input whose index this is, or NULL; files the
 * operator declared opaque are stored as they are, one by one. */
static struct sl_task *bundle_task(struct walk *w, const char *path, int follow)
{
	if (sl_path_under(path, w->o->opaque, w->o->nopaque))
		return NULL;
	return sl_bundle_task(path, follow, w->o->follow_symlinks, &w->claims);
}

/* A regular file: one input, part of one, or the index of a multi-file one. */
static void emit_file(struct walk *w, const char *path, int follow)
{
	if (sl_claims_has(&w->claims, path))
		return;
	struct sl_task *t = bundle_task(w, path, follow);
	if (t)
		emit_task(w, t);
	else
		emit(w, path, follow, NULL);
}

static void emit_errno(struct walk *w, const char *path, const char *what, int e)
{
	char msg[256];
	if (e == ELOOP)
		snprintf(msg, sizeof msg, "symbolic link loop");
	else
		snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
	emit(w, path, 0, msg);
}

static const char *type_name(mode_t m)
{
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	return "not a regular file";
}

static void walk_path(struct walk *w, const char *path, int follow_this);

static int cmp_dent(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name, ((const struct dent *)b)->name);
}

static int on_stack(struct walk *w, const struct stat *st)
{
	for (size_t i = 0; i < w->depth; i++)
		if (w->stack[i].dev == st->st_dev && w->stack[i].ino == st->st_ino)
			return 1;
	return 0;
}

static void child_path(sl_buf *b, const char *dir, const char *name)
{
	sl_buf_reset(b);
	sl_buf_puts(b, dir);
	if (b->len && b->data[b->len - 1] != '/')
		sl_buf_puts(b, "/");
	sl_buf_puts(b, name);
}

/* Indexes of multi-file inputs first, so that their companions (in this
 * folder or in one below it, which sorts before the index) are claimed
 * before the walk reaches them. */
static void find_bundles(struct walk *w, const char *path, struct dent *ents, size_t n,
			 sl_buf *child)
{
	for (size_t i = 0; i < n && !stopped(w->o); i++) {
		if (ents[i].type != DT_REG && ents[i].type != DT_UNKNOWN)
			continue;
		if (!sl_bundle_named(ents[i].name))
			continue;
		child_path(child, path, ents[i].name);
		struct stat st;
		if (ents[i].type == DT_UNKNOWN && (lstat(child->data, &st) < 0 || !S_ISREG(st.st_mode)))
			continue;
		if (!sl_claims_has(&w->claims, child->data))
			ents[i].bundle = bundle_task(w, child->data, 0);
	}
}

static void walk_dir(struct walk *w, const char *path, const struct stat *st)
{
	if (st->st_dev == w->o->skip_dev && st->st_ino == w->o->skip_ino)
		return; /* the store itself is not an input */
	if (on_stack(w, st)) {
		emit(w, path, 0, "symbolic link loop (links to a directory above it)");
		return;
	}
	if (w->depth == sizeof w->stack / sizeof w->stack[0]) {
		emit(w, path, 0, "directory nested too deeply");
		return;
	}
	DIR *d = opendir(path);
	if (!d) {
		emit_errno(w, path, "cannot read directory", errno);
		return;
	}
	struct dent *ents = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	errno = 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			ents = sl_xrealloc(ents, cap * sizeof *ents);
		}
		ents[n].name = sl_xstrdup(de->d_name);
		ents[n].type = de->d_type;
		ents[n].bundle = NULL;
		n++;
	}
	int rd_err = errno;
	closedir(d);
	if (rd_err)
		emit_errno(w, path, "error reading directory", rd_err);
	if (n)
		qsort(ents, n, sizeof *ents, cmp_dent);

	w->stack[w->depth].dev = st->st_dev;
	w->stack[w->depth].ino = st->st_ino;
	w->depth++;
	sl_buf child;
	sl_buf_init(&child);
	find_bundles(w, path, ents, n, &child);
	for (size_t i = 0; i < n; i++) {
		if (ents[i].bundle) {
			emit_task(w, ents[i].bundle);
		} else if (!stopped(w->o)) {
			child_path(&child, path, ents[i].name);
			if (sl_claims_has(&w->claims, child.data))
				; /* a companion: its index's task has it */
			else if (ents[i].type == DT_REG)
				emit(w, child.data, 0, NULL); /* the common case: no stat */
			else
				walk_path(w, child.data, 0);
		}
		free(ents[i].name);
	}
	sl_buf_free(&child);
	free(ents);
	w->depth--;
}

/* A path found in a walk (follow_this = 0) or given explicitly (1). */
static void walk_path(struct walk *w, const char *path, int follow_this)
{
	struct stat st;
	if (lstat(path, &st) < 0) {
		emit_errno(w, path, "cannot stat", errno);
		return;
	}
	int followed = 0;
	if (S_ISLNK(st.st_mode)) {
		if (!follow_this && !w->o->follow_symlinks) {
			emit(w, path, 0, "symbolic link not followed (use --follow-symlinks)");
			return;
		}
		if (stat(path, &st) < 0) {
			emit_errno(w, path, errno == ENOENT ? "dangling symbolic link" : "cannot stat",
				   errno);
			return;
		}
		followed = 1;
	}
	if (S_ISDIR(st.st_mode))
		walk_dir(w, path, &st);
	else if (S_ISREG(st.st_mode))
		emit_file(w, path, followed || follow_this);
	else
		emit(w, path, 0, type_name(st.st_mode));
}

static void walk_list(struct walk *w, FILE *f, int interactive)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while (!stopped(w->o) && (len = getline(&line, &cap, f)) >= 0) {
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		if (len)
			walk_path(w, line, 1);
		if (interactive) /* paths typed or trickling in: start each at once */
			flush(w);
	}
	free(line);
}

uint64_t sl_discover(const struct sl_discover_opts *o, sl_queue *q)
{
	struct walk *w = sl_xcalloc(1, sizeof *w);
	w->o = o;
	w->q = q;
	for (size_t i = 0; i < o->nsrcs && !stopped(o); i++) {
		const char *s = o->srcs[i];
		if (!strcmp(s, "-")) {
			walk_list(w, stdin, 1);
		} else if (s[0] == '@') {
			FILE *f = fopen(s + 1, "re");
			if (!f) {
				emit_errno(w, s + 1, "cannot read list", errno);
				continue;
			}
			walk_list(w, f, 0);
			fclose(f);
		} else {
			walk_path(w, s, 1);
		}
	}
	flush(w);
	uint64_t n = w->n;
	sl_claims_free(&w->claims);
	free(w);
	return n;
}

void sl_task_free(struct sl_task *t)
{
	if (!t)
		return;
	free(t->path);
	free(t->reject);
	for (size_t i = 0; i < t->ncompanions; i++)
		free(t->companions[i]);
	free(t->companions);
	free(t->data);
	free(t->key);
	free(t);
}

struct sl_task *sl_task_memory(const char *name, void *data, size_t len, const void *key,
			       size_t keylen)
{
	struct sl_task *t = sl_xcalloc(1, sizeof *t);
	t->path = sl_xstrdup(name);
	t->data = data;
	t->len = len;
	t->in_memory = 1;
	t->key = sl_xmalloc(keylen + 1);
	memcpy(t->key, key, keylen);
	t->keylen = keylen;
	return t;
}
