/*
 * io.c: the backend-independent half of sluice's I/O: the bounded chunk
 * pool, batched opening of inputs, the read-ahead reader and the writer.
 * See io.h for the contract.
 */
#include "io_impl.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_CHUNK (1u << 20)
#define DEFAULT_DEPTH 8u
#define ALIGN 4096u
#define WRITE_BEHIND (16u << 20)

/* ---- requests and chunks ---- */

static struct sl_ioreq *req_get(sl_io *io)
{
	struct sl_ioreq *r = io->free_reqs;
	if (r)
		io->free_reqs = r->next;
	else
		r = sl_xmalloc(sizeof *r);
	memset(r, 0, sizeof *r);
	return r;
}

static void req_put(sl_io *io, struct sl_ioreq *r)
{
	r->next = io->free_reqs;
	io->free_reqs = r;
}

static void wait_req(sl_io *io, struct sl_ioreq *r)
{
	while (!r->done)
		io->be->reap(io);
}

static void writer_completed(struct sl_writer *w, struct sl_ioreq *r);

void sl_io_complete(sl_io *io, struct sl_ioreq *r, long res)
{
	io->inflight--;
	r->res = res;
	r->done = 1;
	if (r->writer) {
		/* Nobody waits on a write request: it retires here. */
		writer_completed(r->writer, r);
		sl_chunk_put(r->chunk);
		req_put(io, r);
		return;
	}
}

/* Run one request to completion. */
static long io_sync(sl_io *io, struct sl_ioreq *tmpl)
{
	struct sl_ioreq *r = req_get(io);
	*r = *tmpl;
	r->done = 0;
	io->be->submit(io, r);
	wait_req(io, r);
	long res = r->res;
	req_put(io, r);
	return res;
}

static sl_chunk *chunk_alloc(sl_io *io)
{
	sl_chunk *c = sl_xcalloc(1, sizeof *c);
	if (posix_memalign((void **)&c->data, ALIGN, io->o.chunk))
		abort();
	c->cap = io->o.chunk;
	c->owner = io;
	io->nchunks++;
	return c;
}

sl_chunk *sl_chunk_get(sl_io *io)
{
	while (!io->free_chunks) {
		if (io->nchunks < io->nchunks_max || io->inflight == 0) {
			/* Past the budget only when nothing in flight could free
			 * one: waiting would deadlock. */
			sl_chunk *c = chunk_alloc(io);
			c->next = io->free_chunks;
			io->free_chunks = c;
			break;
		}
		io->be->reap(io);
	}
	sl_chunk *c = io->free_chunks;
	io->free_chunks = c->next;
	c->next = NULL;
	c->refs = 1;
	c->len = 0;
	return c;
}

void sl_chunk_ref(sl_chunk *c) { c->refs++; }

void sl_chunk_put(sl_chunk *c)
{
	if (!c || --c->refs > 0)
		return;
	c->next = c->owner->free_chunks;
	c->owner->free_chunks = c;
}

/* ---- lifecycle ---- */

int sl_io_new(sl_io **out, const struct sl_io_opts *o, sl_err *err)
{
	sl_io *io = sl_xcalloc(1, sizeof *io);
	if (o)
		io->o = *o;
	if (!io->o.chunk)
		io->o.chunk = DEFAULT_CHUNK;
	io->o.chunk = (io->o.chunk + ALIGN - 1) / ALIGN * ALIGN;
	if (!io->o.depth)
		io->o.depth = DEFAULT_DEPTH;
	io->align = ALIGN;
	/* read-ahead window + writes of it in flight + a batch of input heads */
	io->nchunks_max = io->o.depth * 2 + 24;
	int rc = 0;
	switch (io->o.mode) {
	case SL_IO_POSIX:
		sl_io_posix_init(io);
		break;
	case SL_IO_URING:
		rc = sl_io_uring_init(io, err);
		break;
	default:
		if (sl_io_uring_available())
			rc = sl_io_uring_init(io, err);
		else
			sl_io_posix_init(io);
	}
	if (rc < 0) {
		free(io);
		return rc;
	}
	*out = io;
	return 0;
}

void sl_io_free(sl_io *io)
{
	if (!io)
		return;
	while (io->inflight)
		io->be->reap(io);
	io->be->destroy(io);
	for (sl_chunk *c = io->free_chunks, *n; c; c = n) {
		n = c->next;
		free(c->data);
		free(c);
	}
	for (struct sl_ioreq *r = io->free_reqs, *n; r; r = n) {
		n = r->next;
		free(r);
	}
	free(io);
}

const char *sl_io_backend(const sl_io *io) { return io->be->name; }

/* ---- batched open of inputs ---- */

static uint64_t ts_ns(struct statx_timestamp t)
{
	return (uint64_t)t.tv_sec * 1000000000u + t.tv_nsec;
}

/* Each phase queues one request per live entry and then waits for all of
 * them, so a backend that batches (io_uring) makes one submission per phase. */
void sl_io_open_batch(sl_io *io, struct sl_io_file *f, unsigned n)
{
	struct sl_ioreq *rq = sl_xcalloc(n, sizeof *rq);
	struct statx *stx = sl_xcalloc(n, sizeof *stx);

	for (unsigned i = 0; i < n; i++) {
		f[i].fd = -1;
		f[i].err = 0;
		f[i].head = NULL;
		rq[i] = (struct sl_ioreq){.op = SL_OP_OPEN, .path = f[i].path,
			.flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY |
				 (f[i].follow ? 0 : O_NOFOLLOW)};
		io->be->submit(io, &rq[i]);
	}
	for (unsigned i = 0; i < n; i++) {
		wait_req(io, &rq[i]);
		if (rq[i].res < 0) {
			f[i].err = (int)-rq[i].res;
			f[i].step = "open";
		} else {
			f[i].fd = (int)rq[i].res;
		}
	}

	for (unsigned i = 0; i < n; i++) {
		if (f[i].fd < 0)
			continue;
		rq[i] = (struct sl_ioreq){.op = SL_OP_STATX, .fd = f[i].fd, .stx = &stx[i]};
		io->be->submit(io, &rq[i]);
	}
	for (unsigned i = 0; i < n; i++) {
		if (f[i].fd < 0)
			continue;
		wait_req(io, &rq[i]);
		if (rq[i].res < 0) {
			f[i].err = (int)-rq[i].res;
			f[i].step = "stat";
			continue;
		}
		f[i].size = stx[i].stx_size;
		f[i].mtime_ns = ts_ns(stx[i].stx_mtime);
		f[i].ctime_ns = ts_ns(stx[i].stx_ctime);
		f[i].ino = stx[i].stx_ino;
		f[i].dev = (uint64_t)stx[i].stx_dev_major << 32 | stx[i].stx_dev_minor;
		f[i].mode = stx[i].stx_mode;
	}
	free(rq);
	free(stx);
}

/* Inputs are opened O_NONBLOCK so that a FIFO cannot hang the open.  On a
 * regular file io_uring honours the flag and fails a read that misses the
 * page cache with EAGAIN: clear it then, and only then (a system call per
 * input is a real cost on 100,000 small files). */
static int nonblock_off(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	return fl >= 0 && (fl & O_NONBLOCK) && fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == 0;
}

void sl_io_read_heads(sl_io *io, struct sl_io_file *f, unsigned n)
{
	struct sl_ioreq *rq = sl_xcalloc(n, sizeof *rq);
	for (unsigned i = 0; i < n; i++) {
		if (f[i].fd < 0 || f[i].err || f[i].skip || !S_ISREG(f[i].mode) || f[i].size == 0)
			continue;
		f[i].head = sl_chunk_get(io);
		rq[i] = (struct sl_ioreq){.op = SL_OP_READ, .fd = f[i].fd,
			.buf = f[i].head->data, .len = f[i].head->cap};
		io->be->submit(io, &rq[i]);
	}
	for (unsigned i = 0; i < n; i++) {
		if (!f[i].head)
			continue;
		wait_req(io, &rq[i]);
		if (rq[i].res == -EAGAIN && nonblock_off(f[i].fd)) {
			rq[i].done = 0;
			io->be->submit(io, &rq[i]);
			wait_req(io, &rq[i]);
		}
		if (rq[i].res < 0) {
			f[i].err = (int)-rq[i].res;
			f[i].step = "read";
			sl_chunk_put(f[i].head);
			f[i].head = NULL;
		} else {
			f[i].head->len = (size_t)rq[i].res;
		}
	}
	free(rq);
}

/* ---- reader ---- */

struct sl_reader {
	sl_io *io;
	int fd;
	uint64_t next_off;   /* next offset to request */
	uint64_t size;       /* stop requesting here */
	int direct;          /* O_DIRECT set on fd */
	int eof;
	unsigned head, count;
	struct sl_ioreq **win; /* ring of outstanding reads, oldest at head */
};

static void reader_issue(sl_reader *r)
{
	while (!r->eof && r->count < r->io->o.depth && r->next_off < r->size) {
		struct sl_ioreq *q = req_get(r->io);
		q->op = SL_OP_READ;
		q->fd = r->fd;
		q->chunk = sl_chunk_get(r->io);
		q->buf = q->chunk->data;
		q->len = q->chunk->cap;
		q->off = r->next_off;
		r->next_off += q->len;
		r->win[(r->head + r->count) % r->io->o.depth] = q;
		r->count++;
		r->io->be->submit(r->io, q);
	}
}

sl_reader *sl_reader_new(sl_io *io, int fd, uint64_t start, uint64_t size_hint)
{
	sl_reader *r = sl_xcalloc(1, sizeof *r);
	r->io = io;
	r->fd = fd;
	r->next_off = start;
	r->size = size_hint;
	r->win = sl_xcalloc(io->o.depth, sizeof *r->win);
	/* O_DIRECT only pays for long sequential reads from an aligned offset. */
	if (io->o.direct && start % io->align == 0 && size_hint - start >= 4 * io->o.chunk) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0 && fcntl(fd, F_SETFL, fl | O_DIRECT) == 0)
			r->direct = 1;
	}
	reader_issue(r);
	return r;
}

static void reader_drop_direct(sl_reader *r)
{
	int fl = fcntl(r->fd, F_GETFL);
	if (fl >= 0)
		fcntl(r->fd, F_SETFL, fl & ~O_DIRECT);
	r->direct = 0;
}

int sl_reader_next(sl_reader *r, sl_chunk **out, sl_err *err)
{
	for (;;) {
		if (r->count == 0)
			return 0;
		struct sl_ioreq *q = r->win[r->head];
		wait_req(r->io, q);
		if (q->res == -EAGAIN && nonblock_off(r->fd)) {
			q->done = 0;
			r->io->be->submit(r->io, q);
			continue;
		}
		if (q->res == -EINVAL && r->direct) {
			/* The filesystem refused O_DIRECT for this request:
			 * reissue it buffered. */
			reader_drop_direct(r);
			q->done = 0;
			r->io->be->submit(r->io, q);
			continue;
		}
		r->head = (r->head + 1) % r->io->o.depth;
		r->count--;
		long res = q->res;
		sl_chunk *c = q->chunk;
		req_put(r->io, q);
		if (res < 0) {
			sl_chunk_put(c);
			r->eof = 1;
			return sl_fail_errno(err, SL_E_IO, (int)-res, "read failed");
		}
		if ((size_t)res < c->cap)
			r->eof = 1; /* short read: the file ended here */
		if (res == 0) {
			sl_chunk_put(c);
			continue; /* drain the rest of the window */
		}
		c->len = (size_t)res;
		reader_issue(r);
		*out = c;
		return 1;
	}
}

void sl_reader_free(sl_reader *r)
{
	if (!r)
		return;
	while (r->count) {
		struct sl_ioreq *q = r->win[r->head];
		wait_req(r->io, q);
		sl_chunk_put(q->chunk);
		req_put(r->io, q);
		r->head = (r->head + 1) % r->io->o.depth;
		r->count--;
	}
	if (r->direct)
		reader_drop_direct(r);
	free(r->win);
	free(r);
}

/* ---- writer ---- */

struct sl_writer {
	sl_io *io;
	int fd;
	int direct;
	uint64_t off;        /* where the next queued byte goes */
	uint64_t kicked;     /* writeback started up to here */
	unsigned pending;    /* writes in flight */
	int err;             /* first errno seen */
	sl_chunk *stage;     /* direct mode: bytes waiting for a full block */
};

static void writer_completed(struct sl_writer *w, struct sl_ioreq *r)
{
	w->pending--;
	if (r->res < 0 && !w->err)
		w->err = (int)-r->res;
	else if (r->res >= 0 && (size_t)r->res < r->len && !w->err) {
		/* A short write to a regular file: finish it synchronously so
		 * the real cause (usually ENOSPC) surfaces. */
		const char *p = (const char *)r->buf + r->res;
		size_t left = r->len - (size_t)r->res;
		off_t o = (off_t)(r->off + (uint64_t)r->res);
		while (left) {
			ssize_t n = pwrite(w->fd, p, left, o);
			if (n <= 0) {
				w->err = n < 0 ? errno : ENOSPC;
				break;
			}
			p += n, left -= (size_t)n, o += n;
		}
	}
}

sl_writer *sl_writer_new(sl_io *io, int fd, uint64_t start, int direct)
{
	sl_writer *w = sl_xcalloc(1, sizeof *w);
	w->io = io;
	w->fd = fd;
	w->off = w->kicked = start;
	w->direct = direct;
	return w;
}

static void submit_write(sl_writer *w, sl_chunk *c, const uint8_t *p, size_t len)
{
	struct sl_ioreq *q = req_get(w->io);
	q->op = SL_OP_WRITE;
	q->fd = w->fd;
	q->buf = (void *)p;
	q->len = len;
	q->off = w->off;
	q->chunk = c;
	q->writer = w;
	sl_chunk_ref(c);
	w->off += len;
	w->pending++;
	w->io->be->submit(w->io, q);
	/* Write-behind: start writeback of what is already written, so the
	 * disk works while we hash and the closing fsync has little left.
	 * Without it a large object costs hashing time plus writeback time. */
	if (!w->direct && w->off - w->kicked >= WRITE_BEHIND) {
		uint64_t upto = w->off - WRITE_BEHIND / 2; /* leave the writes in flight */
		if (upto > w->kicked) {
			sync_file_range(w->fd, (off64_t)w->kicked, (off64_t)(upto - w->kicked),
					SYNC_FILE_RANGE_WRITE);
			w->kicked = upto;
		}
	}
}

static int stage_flush(sl_writer *w, int final)
{
	sl_chunk *s = w->stage;
	if (!s || s->len == 0)
		return 0;
	size_t len = s->len;
	if (final && len % w->io->align) {
		size_t padded = (len + w->io->align - 1) / w->io->align * w->io->align;
		memset(s->data + len, 0, padded - len);
		len = padded;
	}
	submit_write(w, s, s->data, len);
	sl_chunk_put(s);
	w->stage = NULL;
	return 0;
}

static int writer_check(sl_writer *w, sl_err *err)
{
	if (w->err)
		return sl_fail_errno(err, SL_E_IO, w->err, "write failed");
	return 0;
}

int sl_writer_put(sl_writer *w, sl_chunk *c, size_t off, size_t len, sl_err *err)
{
	int rc = writer_check(w, err);
	if (rc < 0 || len == 0)
		return rc;
	const uint8_t *p = c->data + off;
	size_t a = w->io->align;
	if (!w->direct || (!w->stage && w->off % a == 0 && (uintptr_t)p % a == 0 && len % a == 0)) {
		submit_write(w, c, p, len);
		return 0;
	}
	/* Direct I/O needs aligned blocks: gather through a staging chunk. */
	while (len) {
		if (!w->stage)
			w->stage = sl_chunk_get(w->io);
		size_t n = w->stage->cap - w->stage->len;
		if (n > len)
			n = len;
		memcpy(w->stage->data + w->stage->len, p, n);
		w->stage->len += n;
		p += n, len -= n;
		if (w->stage->len == w->stage->cap)
			stage_flush(w, 0);
	}
	return 0;
}

int sl_writer_write(sl_writer *w, const void *p, size_t n, sl_err *err)
{
	const uint8_t *b = p;
	while (n) {
		sl_chunk *c = sl_chunk_get(w->io);
		size_t k = n < c->cap ? n : c->cap;
		memcpy(c->data, b, k);
		c->len = k;
		int rc = sl_writer_put(w, c, 0, k, err);
		sl_chunk_put(c);
		if (rc < 0)
			return rc;
		b += k, n -= k;
	}
	return 0;
}

int sl_writer_finish(sl_writer *w, uint64_t *end, sl_err *err)
{
	uint64_t real_end = w->off + (w->stage ? w->stage->len : 0);
	stage_flush(w, 1);
	while (w->pending)
		w->io->be->reap(w->io);
	int rc = writer_check(w, err);
	if (rc < 0)
		return rc;
	if (w->direct && w->off != real_end && ftruncate(w->fd, (off_t)real_end) < 0)
		return sl_fail_errno(err, SL_E_IO, errno, "truncate after direct write failed");
	w->off = real_end;
	if (end)
		*end = real_end;
	return 0;
}

void sl_writer_free(sl_writer *w)
{
	if (!w)
		return;
	if (w->stage)
		sl_chunk_put(w->stage);
	while (w->pending)
		w->io->be->reap(w->io);
	free(w);
}

/* ---- output files and simple calls ---- */

int sl_io_open_out(sl_io *io, const char *path, int mode, int want_direct, int *direct)
{
	int fl = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
	int fd = -1;
	*direct = 0;
	if (want_direct) {
		fd = open(path, fl | O_DIRECT, mode);
		if (fd >= 0)
			*direct = 1;
		else if (errno != EINVAL)
			return -errno;
	}
	if (fd < 0)
		fd = open(path, fl, mode);
	if (fd < 0)
		return -errno;
	(void)io;
	return fd;
}

/* A write the caller waits for gains nothing from a ring, and on ext4 a
 * buffered io_uring write may be handed to a kernel worker thread: a plain
 * pwrite is cheaper.  Streaming writes (sl_writer) use the backend. */
int sl_io_pwrite(sl_io *io, int fd, const void *p, size_t n, uint64_t off)
{
	const char *b = p;
	(void)io;
	while (n) {
		ssize_t res = pwrite(fd, b, n, (off_t)off);
		if (res < 0 && errno == EINTR)
			continue;
		if (res < 0)
			return -errno;
		if (res == 0)
			return -ENOSPC;
		b += res, n -= (size_t)res, off += (uint64_t)res;
	}
	return 0;
}

int sl_io_fsync(sl_io *io, int fd)
{
	struct sl_ioreq t = {.op = SL_OP_FSYNC, .fd = fd};
	long res = io_sync(io, &t);
	return res < 0 ? (int)res : 0;
}
