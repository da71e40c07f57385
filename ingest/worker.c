/*
 * worker.c: one input, from its opened file descriptor to a result for the
 * committer.  Workers take inputs in batches so that opens, stats and first
 * reads of many small files each cost one io_uring submission; large inputs
 * stream through a read-ahead window with memory bounded by the I/O pool.
 * This file also implements the sl_input and sl_sink a format sees.
 */
#include "engine_impl.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH 16
#define SHARED_SNAPSHOT_MAX (1u << 20)

struct sl_input {
	sl_io *io;
	int fd;
	uint64_t size;           /* at open */
	uint64_t consumed;
	sl_chunk *head;
	sl_reader *rd;
	sl_sha256 *h;
	int eof;
	uint8_t digest[32];      /* valid once eof */
	const uint8_t *mem;      /* sl_transform_memory: the input's bytes */
	size_t mem_chunk;        /* and the chunk size it is served in */
	int memfd;               /* sl_input_fd of an input in memory, or -1 */
	struct companion *comp;  /* a multi-file input's other files */
	size_t ncomp;
	const char *tmp_dir;     /* where sl_input_view makes its folder */
	char *view;              /* that folder, and what is in it (removed */
	sl_buf view_made;        /* in reverse order): NUL-separated names */
};

struct sl_sink {
	struct worker *w;
	struct result *r;
	sl_input *in;
	int identity;
	sl_objw *ow;
	const char *role, *media;
	sl_buf *mem;             /* sl_transform_memory: objects go here */
	int mem_open;
};

static uint64_t ts_ns(struct timespec t)
{
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* ---- sl_input ---- */

uint64_t sl_input_size(const sl_input *in) { return in->size; }

int sl_input_next(sl_input *in, sl_chunk **c, sl_err *err)
{
	if (in->eof)
		return 0;
	int rc;
	if (in->mem) {
		size_t n = in->size - in->consumed;
		n = n < in->mem_chunk ? n : in->mem_chunk;
		rc = n > 0;
		if (rc) {
			*c = sl_chunk_get(in->io);
			memcpy((*c)->data, in->mem + in->consumed, n);
			(*c)->len = n;
		}
	} else if (in->head) {
		*c = in->head;
		in->head = NULL;
		rc = 1;
	} else {
		if (!in->rd)
			in->rd = sl_reader_new(in->io, in->fd, in->consumed, in->size);
		rc = sl_reader_next(in->rd, c, err);
	}
	if (rc == 1) {
		sl_sha256_update(in->h, (*c)->data, (*c)->len);
		in->consumed += (*c)->len;
		/* Stop at the size seen at open: more bytes means the file
		 * grew, which the size check after the transform reports. */
		if (in->consumed >= in->size && (*c)->len < (*c)->cap)
			in->eof = 1;
	} else if (rc == 0) {
		in->eof = 1;
	}
	if (in->eof && rc >= 0)
		sl_sha256_final(in->h, in->digest);
	return rc;
}

int64_t sl_input_pread(sl_input *in, void *buf, size_t n, uint64_t off, sl_err *err)
{
	if (off >= in->size)
		return 0;
	if (n > in->size - off)
		n = in->size - off;
	if (in->mem) {
		memcpy(buf, in->mem + off, n);
		return (int64_t)n;
	}
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(in->fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (k < 0 && errno == EINTR)
			continue;
		/* the sequential reader may have set O_DIRECT on the shared
		 * fd; our buffer need not be aligned, so read buffered */
		int fl;
		if (k < 0 && errno == EINVAL && (fl = fcntl(in->fd, F_GETFL)) >= 0 &&
		    (fl & O_DIRECT) && fcntl(in->fd, F_SETFL, fl & ~O_DIRECT) == 0)
			continue;
		if (k < 0)
			return sl_fail_errno(err, SL_E_IO, errno, "cannot read at offset %llu",
					     (unsigned long long)(off + got));
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (int64_t)got;
}

/* A file input has a descriptor already; an input in memory gets a memfd
 * once, sealed so that nothing the library does can change the bytes. */
int sl_input_fd(sl_input *in, sl_err *err)
{
	if (!in->mem)
		return in->fd;
	if (in->memfd >= 0)
		return in->memfd;
	int fd = memfd_create("sluice-input", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return sl_fail_errno(err, SL_E_IO, errno, "cannot create input memory");
	size_t got = 0;
	while (got < in->size) {
		ssize_t k = write(fd, in->mem + got, in->size - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			int e = k < 0 ? errno : EIO;
			close(fd);
			return sl_fail_errno(err, SL_E_IO, e, "cannot fill input memory");
		}
		got += (size_t)k;
	}
	if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		int e = errno;
		close(fd);
		return sl_fail_errno(err, SL_E_IO, e, "cannot seal input memory");
	}
	in->memfd = fd;
	return fd;
}

/* ---- multi-file inputs ---- */

size_t sl_input_companions(const sl_input *in) { return in->ncomp; }

int sl_input_companion_fd(sl_input *in, size_t i, sl_err *err)
{
	if (i >= in->ncomp)
		return sl_fail(err, SL_E_STATE, "format error: no companion %zu", i);
	return in->comp[i].fd;
}

static int view_entry(sl_input *in, int dfd, const char *name, int fd, sl_err *err)
{
	const char *slash = strchr(name, '/');
	if (!*name || name[0] == '.' || (slash && (slash[1] == 0 || slash[1] == '.' ||
						    strchr(slash + 1, '/'))))
		return sl_fail(err, SL_E_STATE, "format error: bad view entry name");
	if (slash) {
		char *sub = strndup(name, (size_t)(slash - name));
		int rc = mkdirat(dfd, sub, 0700);
		if (rc == 0)
			sl_buf_add(&in->view_made, sub, strlen(sub) + 1);
		free(sub);
		if (rc < 0 && errno != EEXIST)
			return sl_fail_errno(err, SL_E_IO, errno, "cannot make a view folder");
	}
	char target[40];
	snprintf(target, sizeof target, "/proc/self/fd/%d", fd);
	if (symlinkat(target, dfd, name) < 0)
		return sl_fail_errno(err, SL_E_IO, errno, "cannot make a view link");
	sl_buf_add(&in->view_made, name, strlen(name) + 1);
	return 0;
}

/* Newest first, so that folders are empty when their turn comes. */
static void view_remove(sl_input *in)
{
	if (!in->view)
		return;
	int dfd = open(in->view, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (dfd >= 0 && in->view_made.len) {
		size_t end = in->view_made.len - 1, at = end;
		while (at && in->view_made.data[at - 1])
			at--;
		const char *name = in->view_made.data + at;
		if (unlinkat(dfd, name, 0) < 0 && errno == EISDIR)
			unlinkat(dfd, name, AT_REMOVEDIR);
		in->view_made.len = at;
	}
	if (dfd >= 0)
		close(dfd);
	rmdir(in->view);
	free(in->view);
	in->view = NULL;
	sl_buf_free(&in->view_made);
}

int sl_input_view(sl_input *in, const char *const *names, const int *fds, size_t n,
		  const char **dir, sl_err *err)
{
	if (in->view)
		return sl_fail(err, SL_E_STATE, "format error: one view per input");
	const char *base = in->tmp_dir ? in->tmp_dir : getenv("TMPDIR");
	sl_buf p;
	sl_buf_init(&p);
	sl_buf_printf(&p, "%s/view-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(p.data)) {
		int e = errno;
		sl_buf_free(&p);
		return sl_fail_errno(err, SL_E_IO, e, "cannot make a view folder");
	}
	in->view = p.data;
	sl_buf_init(&in->view_made);
	int dfd = open(in->view, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = dfd < 0 ? sl_fail_errno(err, SL_E_IO, errno, "cannot open a view folder") : 0;
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = view_entry(in, dfd, names[i], fds[i], err);
	if (dfd >= 0)
		close(dfd);
	*dir = in->view;
	return rc;
}

/* Read whatever the format left unread, for the input digest. */
static int input_drain(sl_input *in, sl_err *err)
{
	sl_chunk *c;
	int rc;
	while ((rc = sl_input_next(in, &c, err)) > 0)
		sl_chunk_put(c);
	return rc;
}

/* ---- sl_sink ---- */

int sl_sink_begin(sl_sink *s, const char *role, const char *media_type, sl_err *err)
{
	if (s->ow)
		return sl_fail(err, SL_E_STATE, "format error: object begun before the last ended");
	s->role = role;
	s->media = media_type;
	if (s->mem) {
		if (s->mem_open)
			return sl_fail(err, SL_E_STATE, "format error: object begun before the last ended");
		s->mem_open = 1;
		return 0;
	}
	struct engine *e = s->w->e;
	return sl_objw_begin(e->st, s->w->io, s->w->slot, s->identity,
			     s->identity ? s->in->size : 0, &s->ow, err);
}

int sl_sink_write(sl_sink *s, const void *p, size_t n, sl_err *err)
{
	if (s->mem && s->mem_open) {
		sl_buf_add(s->mem, p, n);
		return 0;
	}
	if (!s->ow)
		return sl_fail(err, SL_E_STATE, "format error: write outside an object");
	return sl_objw_write(s->ow, p, n, err);
}

int sl_sink_put(sl_sink *s, sl_chunk *c, size_t off, size_t n, sl_err *err)
{
	if (s->mem)
		return sl_sink_write(s, c->data + off, n, err);
	if (!s->ow)
		return sl_fail(err, SL_E_STATE, "format error: write outside an object");
	return sl_objw_put(s->ow, c, off, n, err);
}

int sl_sink_end(sl_sink *s, sl_err *err)
{
	if (s->mem) {
		s->mem_open = 0;
		return 0;
	}
	if (!s->ow)
		return sl_fail(err, SL_E_STATE, "format error: end without begin");
	if (s->identity && !s->in->eof)
		return sl_fail(err, SL_E_STATE, "format error: identity object ended before the input");
	struct result *r = s->r;
	r->outs = sl_xrealloc(r->outs, (r->nouts + 1) * sizeof *r->outs);
	struct sl_item_output *o = &r->outs[r->nouts];
	int rc = sl_objw_finish(s->ow, s->identity ? s->in->digest : NULL, &o->ref, err);
	s->ow = NULL;
	if (rc < 0)
		return rc;
	o->role = s->role;
	o->media_type = s->media;
	r->nouts++;
	return 0;
}

void sl_sink_attr(sl_sink *s, const char *key, const char *value)
{
	struct result *r = s->r;
	r->attrs = sl_xrealloc(r->attrs, (r->nattrs + 1) * 2 * sizeof *r->attrs);
	r->attrs[2 * r->nattrs] = sl_xstrdup(key);
	r->attrs[2 * r->nattrs + 1] = sl_xstrdup(value);
	r->nattrs++;
}

void sl_sink_fact(sl_sink *s, const char *key, const char *json_value)
{
	sl_buf *b = &s->r->facts;
	if (b->len)
		sl_buf_puts(b, ",");
	sl_buf_json_str(b, key);
	sl_buf_puts(b, ":");
	sl_buf_puts(b, json_value);
}

/* ---- scratch ---- */

int sl_scratch_open(sl_sink *s, sl_err *err)
{
	int fd;
	if (s->mem) {
		fd = memfd_create("sluice-scratch", MFD_CLOEXEC);
		return fd >= 0 ? fd : sl_fail_errno(err, SL_E_IO, errno, "cannot create scratch memory");
	}
	sl_buf dir;
	sl_buf_init(&dir);
	sl_buf_puts(&dir, s->w->e->tmp_dir);
	fd = open(dir.data, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
		/* no O_TMPFILE here: a named file, unlinked at once */
		sl_buf_puts(&dir, "/scratch-XXXXXX");
		fd = mkostemp(dir.data, O_CLOEXEC);
		if (fd >= 0)
			unlink(dir.data);
	}
	int e = errno;
	sl_buf_free(&dir);
	return fd >= 0 ? fd : sl_fail_errno(err, SL_E_IO, e, "cannot create a scratch file in the store");
}

/* ---- results ---- */

struct result *sl_result_new(const char *path)
{
	struct result *r = sl_xcalloc(1, sizeof *r);
	r->path = sl_xstrdup(path);
	sl_buf_init(&r->facts);
	sl_buf_init(&r->prov);
	return r;
}

void sl_result_companions(struct result *r, const struct sl_task *t)
{
	r->fmt = t->fmt;
	r->ncomp = t->ncompanions;
	r->comp = r->ncomp ? sl_xcalloc(r->ncomp, sizeof *r->comp) : NULL;
	for (size_t i = 0; i < r->ncomp; i++) {
		r->comp[i].path = sl_xstrdup(t->companions[i]);
		r->comp[i].fd = -1;
	}
}

void sl_result_reject(struct result *r, const char *reason)
{
	r->status = R_REJECT;
	free(r->reason);
	r->reason = sl_xstrdup(reason);
}

void sl_result_free(struct result *r)
{
	if (!r)
		return;
	free(r->path);
	free(r->reason);
	free(r->outs);
	for (size_t i = 0; i < 2 * r->nattrs; i++)
		free(r->attrs[i]);
	free(r->attrs);
	sl_buf_free(&r->facts);
	sl_buf_free(&r->prov);
	for (size_t i = 0; i < r->ncomp; i++)
		free(r->comp[i].path);
	free(r->comp);
	free(r);
}

/* ---- one input ---- */

static const struct sl_format *choose_format(struct engine *e, const char *path,
					     const sl_chunk *head, uint64_t size)
{
	if (sl_path_under(path, e->o->opaque, e->o->nopaque))
		return sl_format_by_name("opaque");
	return sl_format_sniff(head->data, head->len, size);
}

static size_t format_index(const struct sl_format *f)
{
	size_t i = 0;
	while (sl_formats[i] != f)
		i++;
	return i;
}

static void build_prov(struct engine *e, struct result *r, const uint8_t path_key[32])
{
	sl_buf *b = &r->prov;
	sl_buf_puts(b, "\"inputs\":[{\"digest\":\"");
	sl_buf_hex(b, r->ncomp ? r->index_digest : r->input_digest, 32);
	sl_buf_printf(b, "\",\"size\":%llu,\"path_hmac\":\"", (unsigned long long)r->size);
	sl_buf_hex(b, path_key, 32);
	for (size_t i = 0; i < r->ncomp; i++) {
		const struct companion *c = &r->comp[i];
		uint8_t k[32];
		sl_key_hmac(e->key, "path", c->path, strlen(c->path), k);
		sl_buf_puts(b, "\"},{\"digest\":\"");
		sl_buf_hex(b, c->st.input_digest, 32);
		sl_buf_printf(b, "\",\"size\":%llu,\"path_hmac\":\"", (unsigned long long)c->st.size);
		sl_buf_hex(b, k, 32);
	}
	sl_buf_puts(b, "\"}],\"outputs\":[");
	for (size_t i = 0; i < r->nouts; i++) {
		const struct sl_item_output *o = &r->outs[i];
		sl_buf_puts(b, i ? ",{\"digest\":\"" : "{\"digest\":\"");
		sl_buf_hex(b, o->ref.digest, 32);
		sl_buf_printf(b, "\",\"size\":%llu,\"role\":", (unsigned long long)o->ref.size);
		sl_buf_json_str(b, o->role);
		sl_buf_puts(b, ",\"media_type\":");
		sl_buf_json_str(b, o->media_type);
		sl_buf_puts(b, "}");
	}
	const struct sl_format *f = r->fmt;
	sl_buf_printf(b, "],\"policy\":{\"format\":\"%s\",\"version\":\"%s\",\"options\":%s},",
		      f->name, f->version,
		      f->policy ? f->policy(e->fmt_conf[format_index(f)]) : "{}");
	sl_buf_puts(b, "\"facts\":{");
	sl_buf_puts(b, r->facts.data ? r->facts.data : "");
	sl_buf_puts(b, "},\"software\":");
	sl_buf_puts(b, sl_versions_json());
	sl_buf_puts(b, ",\"key_fp\":\"");
	sl_buf_puts(b, sl_key_fingerprint(e->key));
	sl_buf_puts(b, "\",\"subject_map\":");
	if (e->smap)
		sl_buf_printf(b, "\"%s\"", sl_subject_map_digest(e->smap));
	else
		sl_buf_puts(b, "null");
}

static void fill_item(struct engine *e, struct result *r, const struct sl_io_file *f,
		      const uint8_t path_key[32], const uint8_t seen_key[32])
{
	struct sl_item *it = &r->item;
	memcpy(it->input_digest, r->input_digest, 32);
	it->input_size = r->size;
	for (size_t i = 0; i < r->ncomp; i++)
		it->input_size += r->comp[i].st.size;
	/* The catalog's cache is keyed by the seen key (which also covers the
	 * options); provenance gets the plain path hash. */
	memcpy(it->path_key, seen_key, 32);
	it->stat = (struct sl_seen){.size = f->size, .mtime_ns = f->mtime_ns,
		.ctime_ns = f->ctime_ns, .ino = f->ino, .dev = f->dev};
	memcpy(it->stat.input_digest, r->input_digest, 32);
	it->format = r->fmt->name;
	it->options_fp = e->fmt_fp[format_index(r->fmt)];
	it->outs = r->outs;
	it->nouts = r->nouts;
	it->attrs = (const char **)r->attrs;
	it->nattrs = r->nattrs;
	build_prov(e, r, path_key);
	it->prov_body = r->prov.data;
	r->status = R_COMMIT;
}

/* The file must look now as it did when opened, and we must have read
 * exactly its size: otherwise it changed under us and the bytes are suspect. */
static int check_unchanged(const struct sl_io_file *f, const sl_input *in, sl_err *err)
{
	if (in->consumed != f->size)
		return sl_fail(err, SL_E_CHANGED,
			       "file changed size while being read (%llu bytes at open, %llu read)",
			       (unsigned long long)f->size, (unsigned long long)in->consumed);
	struct statx stx;
	if (statx(f->fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) < 0)
		return sl_fail_errno(err, SL_E_IO, errno, "cannot stat after reading");
	uint64_t m = (uint64_t)stx.stx_mtime.tv_sec * 1000000000u + stx.stx_mtime.tv_nsec;
	if (stx.stx_size != f->size || m != f->mtime_ns)
		return sl_fail(err, SL_E_CHANGED, "file was modified while being read");
	return 0;
}

/* A multi-file input's other files are read whole for their digests
 * (the format's library read what it needed of them by name) and must not
 * have changed since they were opened.  The item's input digest covers
 * the index's and theirs, in the format's order. */
static int hash_companions(struct worker *w, struct result *r, const uint8_t index[32],
			   sl_err *err)
{
	sl_chunk *buf = sl_chunk_get(w->io);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < r->ncomp; i++) {
		struct companion *c = &r->comp[i];
		sl_sha256_reset(w->h);
		uint64_t off = 0;
		ssize_t k;
		while ((k = pread(c->fd, buf->data, buf->cap, (off_t)off)) > 0 || (k < 0 && errno == EINTR))
			if (k > 0) {
				sl_sha256_update(w->h, buf->data, (size_t)k);
				off += (uint64_t)k;
			}
		struct stat st;
		if (k < 0)
			rc = sl_fail_errno(err, SL_E_IO, errno, "cannot read a file of this multi-file "
					   "input (%s)", c->path);
		else if (off != c->st.size || fstat(c->fd, &st) < 0 || (uint64_t)st.st_size != off ||
			 ts_ns(st.st_mtim) != c->st.mtime_ns)
			rc = sl_fail(err, SL_E_CHANGED, "a file of this multi-file input changed while "
				     "being read (%s)", c->path);
		sl_sha256_final(w->h, c->st.input_digest);
		c->hashed = rc == 0;
	}
	sl_chunk_put(buf);
	if (rc < 0)
		return rc;
	sl_sha256 *h = sl_sha256_new();
	sl_sha256_update(h, "sluice-bundle-1", 16);
	sl_sha256_update(h, index, 32);
	for (size_t i = 0; i < r->ncomp; i++)
		sl_sha256_update(h, r->comp[i].st.input_digest, 32);
	sl_sha256_final(h, r->input_digest);
	sl_sha256_free(h);
	return 0;
}

static void process_one(struct worker *w, struct result *r, struct sl_io_file *f,
			const uint8_t path_key[32], const uint8_t seen_key[32])
{
	struct engine *e = w->e;
	sl_err err = {0};
	if (!r->fmt) /* a multi-file input's was chosen by its index's name */
		r->fmt = choose_format(e, r->path, f->head, f->size);
	sl_sha256_reset(w->h);
	sl_input in = {.io = w->io, .fd = f->fd, .size = f->size, .head = f->head, .h = w->h,
		       .memfd = -1, .comp = r->comp, .ncomp = r->ncomp, .tmp_dir = e->tmp_dir};
	f->head = NULL;
	sl_sink sk = {.w = w, .r = r, .in = &in, .identity = !!(r->fmt->flags & SL_FORMAT_IDENTITY)};
	int rc = r->fmt->transform(&in, &sk, &e->dctx, e->fmt_conf[format_index(r->fmt)], &err);
	view_remove(&in);
	if (rc >= 0)
		rc = input_drain(&in, &err);
	if (rc >= 0)
		rc = check_unchanged(f, &in, &err);
	memcpy(r->index_digest, in.digest, 32);
	if (rc >= 0 && r->ncomp)
		rc = hash_companions(w, r, in.digest, &err);
	else if (rc >= 0)
		memcpy(r->input_digest, in.digest, 32);
	if (sk.ow)
		sl_objw_abort(sk.ow);
	sl_chunk_put(in.head);
	sl_reader_free(in.rd);
	if (rc < 0) {
		if (-rc == SL_E_NOSPC)
			sl_engine_stop(e, err.msg);
		sl_result_reject(r, err.msg);
		if (-rc == SL_E_SKIP)
			r->status = R_SKIP;
		return;
	}
	r->have_digest = 1;
	fill_item(e, r, f, path_key, seen_key);
}

static void reject_errno(struct result *r, const struct sl_io_file *f)
{
	char msg[256];
	const char *step = f->step;
	int e = f->err;
	if (e == ELOOP && !f->follow) /* O_NOFOLLOW met a link */
		snprintf(msg, sizeof msg, "symbolic link not followed (use --follow-symlinks)");
	else if (e == ELOOP)
		snprintf(msg, sizeof msg, "symbolic link loop");
	else
		snprintf(msg, sizeof msg, "cannot %s: %s", step, strerror(e));
	sl_result_reject(r, msg);
}

/* A multi-file input's other files, opened as its index was; how they look
 * now goes into the seen key and is checked again after reading. */
static int open_companions(struct engine *e, struct result *r)
{
	for (size_t i = 0; i < r->ncomp; i++) {
		struct companion *c = &r->comp[i];
		c->fd = open(c->path, O_RDONLY | O_CLOEXEC | (e->o->follow_symlinks ? 0 : O_NOFOLLOW));
		struct stat st;
		if (c->fd < 0 || fstat(c->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			char msg[512];
			snprintf(msg, sizeof msg, "cannot open a file of this multi-file input (%s): %s",
				 c->path, c->fd < 0 ? strerror(errno) : "not a regular file");
			sl_result_reject(r, msg);
			return -1;
		}
		c->st = (struct sl_seen){.size = (uint64_t)st.st_size, .mtime_ns = ts_ns(st.st_mtim),
			.ctime_ns = ts_ns(st.st_ctim), .ino = st.st_ino, .dev = st.st_dev};
		c->opened = 1;
	}
	return 0;
}

/* Decide what can be decided from the stat alone. Returns 1 if the input
 * needs reading. */
static int triage(struct worker *w, struct result *r, struct sl_io_file *f,
		  uint8_t path_key[32], uint8_t seen_key[32])
{
	struct engine *e = w->e;
	if (f->err) {
		reject_errno(r, f);
		return 0;
	}
	r->size = f->size;
	if (!S_ISREG(f->mode)) {
		sl_result_reject(r, S_ISFIFO(f->mode) ? "a FIFO" : S_ISDIR(f->mode) ? "a directory"
				 : "not a regular file");
		return 0;
	}
	if (f->size == 0 && !r->ncomp) { /* an index may be empty: its name says it all */
		sl_result_reject(r, "empty file (0 bytes)");
		return 0;
	}
	if (r->ncomp && open_companions(e, r) < 0)
		return 0;
	size_t n = strlen(r->path);
	sl_key_hmac(e->key, "path", r->path, n, path_key);
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_add(&b, e->run_fp, 32);
	sl_buf_add(&b, r->path, n);
	/* a multi-file input is unchanged when every one of its files is */
	for (size_t i = 0; i < r->ncomp; i++) {
		sl_buf_add(&b, r->comp[i].path, strlen(r->comp[i].path) + 1);
		sl_buf_add(&b, &r->comp[i].st, offsetof(struct sl_seen, input_digest));
	}
	sl_key_hmac(e->key, "seen", b.data, b.len, seen_key);
	sl_buf_free(&b);
	struct sl_seen s;
	if (sl_store_seen_get(e->st, w->slot, seen_key, &s) == 1 && s.size == f->size &&
	    s.mtime_ns == f->mtime_ns && s.ctime_ns == f->ctime_ns && s.ino == f->ino &&
	    s.dev == f->dev) {
		r->status = R_PRESENT;
		r->reason = sl_xstrdup("unchanged since last ingest (not read)");
		memcpy(r->input_digest, s.input_digest, 32);
		r->have_digest = 1;
		/* The report still says where the outputs are. */
		int no = s.item_id ? sl_store_item_outputs(e->st, w->slot, s.item_id, &r->outs) : -1;
		if (no > 0) {
			r->nouts = (size_t)no;
			r->item.item_id = s.item_id;
		}
		return 0;
	}
	return 1;
}

/* The batch's small objects reach their pack in one write, before any item
 * naming them goes to the committer.  If that write fails, the items whose
 * new objects were in it cannot be recorded. */
static void flush_batch(struct worker *w, struct result **r, unsigned m)
{
	sl_err err = {0};
	if (sl_store_flush(w->e->st, w->io, w->slot, &err) == 0)
		return;
	if (err.code == SL_E_NOSPC)
		sl_engine_stop(w->e, err.msg);
	for (unsigned i = 0; i < m; i++) {
		if (r[i]->status != R_COMMIT)
			continue;
		for (size_t j = 0; j < r[i]->nouts; j++)
			if (r[i]->outs[j].ref.fresh && r[i]->outs[j].ref.pack >= 0) {
				sl_result_reject(r[i], err.msg);
				break;
			}
	}
}

static void process_batch(struct worker *w, struct sl_task **t, unsigned n)
{
	struct engine *e = w->e;
	struct sl_io_file f[BATCH];
	struct result *r[BATCH];
	uint8_t pk[BATCH][32], sk[BATCH][32];
	unsigned m = 0;
	for (unsigned i = 0; i < n; i++) {
		struct result *res = sl_result_new(t[i]->path);
		sl_result_companions(res, t[i]);
		if (t[i]->reject) {
			sl_result_reject(res, t[i]->reject);
			sl_queue_push(&e->results, res);
			continue;
		}
		memset(&f[m], 0, sizeof f[m]);
		f[m].path = res->path;
		f[m].follow = t[i]->follow;
		r[m++] = res;
	}
	sl_io_open_batch(w->io, f, m);
	/* The batch's catalog lookups (seen, object present) share one read
	 * transaction, until a large input, whose transform would hold the
	 * snapshot (and the catalog's checkpoints) for long. */
	sl_store_read_begin(e->st, w->slot);
	for (unsigned i = 0; i < m; i++)
		f[i].skip = !triage(w, r[i], &f[i], pk[i], sk[i]);
	sl_io_read_heads(w->io, f, m);
	for (unsigned i = 0; i < m; i++) {
		if (!f[i].skip && f[i].size > SHARED_SNAPSHOT_MAX)
			sl_store_read_end(e->st, w->slot);
		if (!f[i].skip) {
			if (f[i].err)
				reject_errno(r[i], &f[i]);
			else if (e->stop)
				sl_result_reject(r[i], e->stop_reason);
			else
				process_one(w, r[i], &f[i], pk[i], sk[i]);
		}
		sl_chunk_put(f[i].head);
		if (f[i].fd >= 0)
			close(f[i].fd);
		for (size_t j = 0; j < r[i]->ncomp; j++)
			if (r[i]->comp[j].fd >= 0) {
				close(r[i]->comp[j].fd);
				r[i]->comp[j].fd = -1;
			}
	}
	sl_store_read_end(e->st, w->slot);
	flush_batch(w, r, m);
	sl_queue_push_many(&e->results, (void *const *)r, m);
}

void *sl_worker_main(void *arg)
{
	struct worker *w = arg;
	struct engine *e = w->e;
	void *batch[BATCH];
	size_t n;
	while ((n = sl_queue_pop(&e->tasks, batch, BATCH, -1)) > 0) {
		process_batch(w, (struct sl_task **)batch, (unsigned)n);
		for (size_t i = 0; i < n; i++)
			sl_task_free(batch[i]);
	}
	pthread_mutex_lock(&e->workers_mu);
	if (--e->workers_left == 0)
		sl_queue_close(&e->results);
	pthread_mutex_unlock(&e->workers_mu);
	return NULL;
}

int sl_transform_memory(const struct sl_format *f, const void *data, size_t len,
			const struct sl_deid_ctx *ctx, const void *conf, size_t chunk,
			sl_buf *out, sl_buf *facts, sl_err *err)
{
	struct sl_io_opts o = {.mode = SL_IO_POSIX};
	sl_io *io;
	int rc = sl_io_new(&io, &o, err);
	if (rc < 0)
		return rc;
	sl_sha256 *h = sl_sha256_new();
	sl_input in = {.io = io, .fd = -1, .size = len, .h = h, .mem = data, .memfd = -1};
	sl_chunk *c = sl_chunk_get(io);
	/* small chunks put element boundaries across chunks, as large files do */
	in.mem_chunk = chunk && chunk < c->cap ? chunk : c->cap;
	sl_chunk_put(c);
	struct result *r = sl_result_new("");
	sl_sink sk = {.r = r, .in = &in, .mem = out};
	rc = f->transform(&in, &sk, ctx, conf, err);
	if (rc >= 0)
		rc = input_drain(&in, err);
	if (facts && r->facts.data)
		sl_buf_puts(facts, r->facts.data);
	if (in.memfd >= 0)
		close(in.memfd);
	sl_result_free(r);
	sl_sha256_free(h);
	sl_io_free(io);
	return rc;
}
