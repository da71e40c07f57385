/*
 * input.c: the sl_input and sl_sink a format sees (format.h): an input's
 * bytes as chunks, at offsets or as a descriptor, the other files of a
 * multi-file input and the private folder that names them; the objects,
 * attributes and facts a format hands back, and its scratch files.
 */
#include "contract.h"
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
void sl_input_view_remove(sl_input *in)
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
int sl_input_drain(sl_input *in, sl_err *err)
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
	return sl_objw_begin(s->sw, s->identity,
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
	struct sl_sink_out *r = s->out;
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
	struct sl_sink_out *r = s->out;
	r->attrs = sl_xrealloc(r->attrs, (r->nattrs + 1) * 2 * sizeof *r->attrs);
	r->attrs[2 * r->nattrs] = sl_xstrdup(key);
	r->attrs[2 * r->nattrs + 1] = sl_xstrdup(value);
	r->nattrs++;
}

void sl_sink_fact(sl_sink *s, const char *key, const char *json_value)
{
	sl_buf *b = &s->out->facts;
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
	sl_buf_puts(&dir, s->tmp_dir);
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

void sl_sink_out_free(struct sl_sink_out *o)
{
	free(o->outs);
	for (size_t i = 0; i < 2 * o->nattrs; i++)
		free(o->attrs[i]);
	free(o->attrs);
	sl_buf_free(&o->facts);
}

/* ---- a format on bytes in memory (tests, fuzzing, tools) ---- */

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
	struct sl_sink_out res = {0};
	sl_buf_init(&res.facts);
	sl_sink sk = {.out = &res, .in = &in, .mem = out};
	rc = f->transform(&in, &sk, ctx, conf, err);
	if (rc >= 0)
		rc = sl_input_drain(&in, err);
	if (facts && res.facts.data)
		sl_buf_puts(facts, res.facts.data);
	if (in.memfd >= 0)
		close(in.memfd);
	sl_sink_out_free(&res);
	sl_sha256_free(h);
	sl_io_free(io);
	return rc;
}

/* ---- export ---- */

void sl_reference_export_name(const char *sha256_hex, int compressed, char *out, size_t n)
{
	snprintf(out, n, "reference/%.16s%s", sha256_hex, compressed ? ".fa.gz" : ".fa");
}
