/*
 * multi.c: the multi-file slides, MIRAX and Hamamatsu VMS/VMU, whose index
 * names image files that OpenSlide opens by name beside it.
 *
 *   MIRAX  X.mrxs (its bytes unused) and a folder X/ holding Slidedat.ini,
 *          which names the index file ([HIERARCHICAL] INDEXFILE) and the
 *          data files ([DATAFILE] FILE_0 ... FILE_<FILE_COUNT-1>)
 *   VMS    X.vms (or .vmu), a key file naming its JPEG (or NGR) images,
 *          map, optimisation and macro files beside it
 *
 * The engine gathers the files the index names into one input (bundle()).
 * For OpenSlide the transform lays them out in a private folder under
 * neutral names (sl_input_view), with the key file rewritten to name them
 * so: no file name of the input reaches OpenSlide or the store's tmp/, and
 * OpenSlide's errors, which quote names, could not quote ours.  The VMS
 * macro image is gathered (it is part of the input) but left out of the
 * view, so OpenSlide never sees it.
 */
#include "slide_impl.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define INDEX_MAX (1u << 20)   /* a key file larger than this is not an index */
#define MAX_FILES 65536

/* ---- key files (GLib's GKeyFile syntax, which OpenSlide reads them with) ---- */

struct kv {
	const char *group, *key, *val;
	size_t glen, klen, vlen;
	size_t line, line_end;       /* the line's bytes in the text, end past its '\n' */
};

static void trim(const char **p, size_t *n)
{
	while (*n && ((*p)[0] == ' ' || (*p)[0] == '\t'))
		(*p)++, (*n)--;
	while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t' || (*p)[*n - 1] == '\r'))
		(*n)--;
}

/* Call fn for each key line; stop early if it returns non-zero. */
static int kv_each(const char *t, size_t n, int (*fn)(void *ctx, const struct kv *kv), void *ctx)
{
	struct kv kv = {0};
	size_t at = 0;
	if (n >= 3 && !memcmp(t, "\xef\xbb\xbf", 3))
		at = 3; /* a UTF-8 byte order mark */
	while (at < n) {
		const char *nl = memchr(t + at, '\n', n - at);
		size_t end = nl ? (size_t)(nl - t) + 1 : n;
		const char *l = t + at;
		size_t ln = (nl ? (size_t)(nl - t) : n) - at;
		trim(&l, &ln);
		const char *eq = ln ? memchr(l, '=', ln) : NULL;
		if (ln && l[0] == '[' && l[ln - 1] == ']') {
			kv.group = l + 1;
			kv.glen = ln - 2;
		} else if (ln && l[0] != '#' && l[0] != ';' && eq) {
			kv.key = l;
			kv.klen = (size_t)(eq - l);
			kv.val = eq + 1;
			kv.vlen = ln - kv.klen - 1;
			trim(&kv.key, &kv.klen);
			trim(&kv.val, &kv.vlen);
			kv.line = at;
			kv.line_end = end;
			int rc = kv.group ? fn(ctx, &kv) : 0;
			if (rc)
				return rc;
		}
		at = end;
	}
	return 0;
}

static int is(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && !memcmp(p, s, n);
}

/* ---- which files an index names ---- */

/* The names in companion order, without repeats; names[k] is companion k. */
struct names {
	char **v;
	size_t n;
	int mirax;
	long count;                  /* MIRAX: FILE_COUNT */
	const char *skip_key;        /* VMS: MacroImage, gathered but not laid out */
	size_t macro;                /* its companion number, or SIZE_MAX */
};

static size_t name_index(const struct names *s, const char *p, size_t n)
{
	for (size_t i = 0; i < s->n; i++)
		if (is(p, n, s->v[i]))
			return i;
	return SIZE_MAX;
}

static size_t add_name(struct names *s, const char *p, size_t n)
{
	size_t i = name_index(s, p, n);
	if (i != SIZE_MAX || s->n == MAX_FILES)
		return i;
	s->v = sl_xrealloc(s->v, (s->n + 1) * sizeof *s->v);
	s->v[s->n] = strndup(p, n);
	return s->n++;
}

static void names_free(struct names *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
}

/* A decimal number of up to 9 digits filling p[0, n); -1 otherwise. */
static long number(const char *p, size_t n)
{
	long v = 0;
	if (!n || n > 9)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* A MIRAX data file key: FILE_<n>, n below FILE_COUNT. */
static int data_key(const struct names *s, const struct kv *kv)
{
	if (kv->klen < 6 || memcmp(kv->key, "FILE_", 5))
		return 0;
	long i = number(kv->key + 5, kv->klen - 5);
	return i >= 0 && i < s->count;
}

static int mirax_names_at(const struct names *s, const struct kv *kv)
{
	if (is(kv->group, kv->glen, "HIERARCHICAL"))
		return is(kv->key, kv->klen, "INDEXFILE");
	return is(kv->group, kv->glen, "DATAFILE") && data_key(s, kv);
}

static int vms_group(const struct kv *kv)
{
	return is(kv->group, kv->glen, "Virtual Microscope Specimen") ||
	       is(kv->group, kv->glen, "Uncompressed Virtual Microscope Specimen");
}

/* ImageFile, ImageFile(x,y), MapFile, OptimisationFile, MacroImage. */
static int vms_names_at(const struct kv *kv)
{
	return vms_group(kv) && ((kv->klen >= 9 && !memcmp(kv->key, "ImageFile", 9)) ||
				 is(kv->key, kv->klen, "MapFile") ||
				 is(kv->key, kv->klen, "OptimisationFile") ||
				 is(kv->key, kv->klen, "MacroImage"));
}

static int names_at(const struct names *s, const struct kv *kv)
{
	return s->mirax ? mirax_names_at(s, kv) : vms_names_at(kv);
}

static int count_cb(void *ctx, const struct kv *kv)
{
	struct names *s = ctx;
	if (is(kv->group, kv->glen, "DATAFILE") && is(kv->key, kv->klen, "FILE_COUNT"))
		s->count = number(kv->val, kv->vlen);
	return 0;
}

static int name_cb(void *ctx, const struct kv *kv)
{
	struct names *s = ctx;
	if (!names_at(s, kv) || !kv->vlen)
		return 0;
	size_t k = add_name(s, kv->val, kv->vlen);
	if (!s->mirax && is(kv->key, kv->klen, "MacroImage"))
		s->macro = k;
	return 0;
}

static int group_cb(void *ctx, const struct kv *kv)
{
	(void)ctx;
	return vms_group(kv);
}

/* MIRAX: Slidedat.ini first (companion 0), then what it names. */
static void list_names(struct names *s, const char *t, size_t n, int mirax)
{
	memset(s, 0, sizeof *s);
	s->mirax = mirax;
	s->macro = SIZE_MAX;
	if (mirax) {
		add_name(s, "Slidedat.ini", 12);
		kv_each(t, n, count_cb, s);
	}
	kv_each(t, n, name_cb, s);
}

/* ---- the engine's question: which files? ---- */

static int bundle_of(sl_bundle *b, int mirax, const char *t, size_t n, sl_err *err)
{
	struct names s;
	list_names(&s, t, n, mirax);
	int rc = 0;
	if (mirax && s.n < 3)
		rc = sl_fail(err, SL_E_FORMAT, "MIRAX Slidedat.ini names no index or data files");
	/* past a missing file too: the files there are part of the rejected input */
	for (size_t i = 0; i < s.n; i++) {
		char name[4096];
		sl_err e = {0};
		int r = snprintf(name, sizeof name, "%s%s", mirax ? "@/" : "", s.v[i]) >=
			(int)sizeof name ? sl_fail(&e, SL_E_FORMAT, "a name in its index is too long")
			: sl_bundle_add(b, name, &e);
		if (r < 0 && rc == 0) {
			rc = r;
			*err = e;
		}
	}
	names_free(&s);
	return rc;
}

int slide_bundle(sl_bundle *b, sl_err *err)
{
	int mirax = !strcasecmp(sl_bundle_suffix(b), ".mrxs");
	char *t = sl_xmalloc(INDEX_MAX + 1);
	/* the .mrxs says nothing; its folder's Slidedat.ini does */
	int64_t n = sl_bundle_read(b, mirax ? "@/Slidedat.ini" : NULL, t, INDEX_MAX, err);
	int rc = n < 0 ? (int)n : 0;
	/* a .vms that is no VMS index is an ordinary file: nothing added */
	if (rc == 0 && (mirax || kv_each(t, (size_t)n, group_cb, NULL)))
		rc = bundle_of(b, mirax, t, (size_t)n, err);
	free(t);
	return rc;
}

/* ---- the transform's side: a view for OpenSlide ---- */

struct rewrite {
	const char *t;
	const struct names *s;
	size_t copied;               /* text copied up to here */
	sl_buf *out;
};

/* Each line naming a file names its neutral link instead; VMS's macro
 * line goes (the macro is not laid out). */
static int rewrite_cb(void *ctx, const struct kv *kv)
{
	struct rewrite *r = ctx;
	if (!names_at(r->s, kv) || !kv->vlen)
		return 0;
	sl_buf_add(r->out, r->t + r->copied, kv->line - r->copied);
	r->copied = kv->line_end;
	size_t k = name_index(r->s, kv->val, kv->vlen);
	if (k != r->s->macro)
		sl_buf_printf(r->out, "%.*s=c%zu\n", (int)kv->klen, kv->key, k);
	return 0;
}

static int read_fd(int fd, sl_buf *b, sl_err *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || st.st_size > INDEX_MAX)
		return sl_fail(err, SL_E_FORMAT, "slide index unreadable or over %u bytes", INDEX_MAX);
	sl_buf_reset(b);
	b->data = sl_xrealloc(b->data, (size_t)st.st_size + 1);
	b->cap = (size_t)st.st_size + 1;
	if (sl_pread_all(fd, b->data, (size_t)st.st_size, 0) != st.st_size)
		return sl_fail(err, SL_E_FORMAT, "cannot read a slide index");
	b->len = (size_t)st.st_size;
	b->data[b->len] = 0;
	return 0;
}

struct view {
	char **name;
	int *fd;
	size_t n;
};

static void view_add(struct view *v, char *name, int fd)
{
	v->name[v->n] = name;
	v->fd[v->n++] = fd;
}

/* The key file is the index (VMS) or its first companion (MIRAX, whose
 * .mrxs may hold anything, of any size). */
static int key_text(sl_input *in, int *mirax, int *vmu, sl_buf *t, sl_err *err)
{
	sl_buf_init(t);
	int fd = sl_input_fd(in, err);
	if (fd < 0)
		return fd;
	int rc = sl_input_size(in) <= INDEX_MAX ? read_fd(fd, t, err) : 0;
	if (rc < 0)
		return rc;
	*mirax = !t->len || !kv_each(t->data, t->len, group_cb, NULL);
	if (!*mirax) {
		*vmu = strstr(t->data, "[Uncompressed Virtual Microscope Specimen]") != NULL;
		return 0;
	}
	fd = sl_input_companion_fd(in, 0, err);
	return fd < 0 ? fd : read_fd(fd, t, err);
}

int slide_multi_view(struct slide *s, int *kind, char *path, size_t cap, int *keyfd,
		     sl_err *err)
{
	sl_input *in = s->in;
	size_t nc = sl_input_companions(in);
	int mirax = 0, vmu = 0;
	sl_buf t, out;
	sl_buf_init(&out);
	int rc = key_text(in, &mirax, &vmu, &t, err);
	struct names names = {0};
	if (rc == 0) {
		list_names(&names, t.data, t.len, mirax);
		if (names.n != nc)
			rc = sl_fail(err, SL_E_CHANGED, "the slide's index changed since its files "
				     "were gathered");
	}
	struct rewrite r = {.t = t.data, .s = &names, .out = &out};
	if (rc == 0) {
		kv_each(t.data, t.len, rewrite_cb, &r);
		sl_buf_add(&out, t.data + r.copied, t.len - r.copied);
		*keyfd = rc = sl_scratch_open(s->out, err);
	}
	if (rc >= 0 && (rc = sl_write_all(*keyfd, out.data, out.len)) < 0)
		rc = sl_fail_errno(err, SL_E_IO, -rc, "cannot write a slide index");
	struct view view = {0}, *v = rc == 0 ? &view : NULL;
	if (v) {
		v->name = sl_xcalloc(nc + 2, sizeof *v->name);
		v->fd = sl_xcalloc(nc + 2, sizeof *v->fd);
	}
	if (v && mirax) {
		int fd = sl_input_fd(in, err);
		view_add(v, sl_xstrdup("s.mrxs"), fd);
		view_add(v, sl_xstrdup("s/Slidedat.ini"), *keyfd);
	} else if (v) {
		view_add(v, sl_xstrdup(vmu ? "s.vmu" : "s.vms"), *keyfd);
	}
	for (size_t k = mirax; v && rc == 0 && k < nc; k++) {
		if (k == names.macro)
			continue;
		char name[32];
		snprintf(name, sizeof name, "%sc%zu", mirax ? "s/" : "", k);
		int fd = sl_input_companion_fd(in, k, err);
		if (fd < 0)
			rc = fd;
		else
			view_add(v, sl_xstrdup(name), fd);
	}
	const char *dir = NULL;
	if (v && rc == 0)
		rc = sl_input_view(in, (const char *const *)v->name, v->fd, v->n, &dir, err);
	if (rc == 0 && (size_t)snprintf(path, cap, "%s/%s", dir, v->name[0]) >= cap)
		rc = sl_fail(err, SL_E_IO, "view path too long");
	if (rc == 0)
		*kind = mirax ? OSL_MIRAX : OSL_VMS;
	if (rc == 0 && names.macro != SIZE_MAX)
		s->dropped[SDIR_MACRO]++; /* OpenSlide never sees it to count it */
	for (size_t i = 0; i < view.n; i++)
		free(view.name[i]);
	free(view.name);
	free(view.fd);
	names_free(&names);
	sl_buf_free(&t);
	sl_buf_free(&out);
	return rc;
}
