/*
 * io_uring.c: the io_uring backend.  Requests are queued as SQEs and
 * submitted in batches (when the ring fills or when someone must wait), so a
 * batch of opens or a window of read-ahead costs one system call.  Works
 * with liburing 2.3 and kernels from 5.6; newer features are probed, never
 * required: without OPENAT/STATX opcodes those requests run synchronously.
 */
#include "io_impl.h"
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#define RING_ENTRIES 256

struct uring_state {
	struct io_uring ring;
	unsigned queued; /* SQEs prepared but not submitted */
	int has_openat, has_statx;
};

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int probe_ok;

static void probe(void)
{
	struct io_uring ring;
	if (getenv("SLUICE_NO_URING")) /* lets tests simulate a seccomp'd host */
		return;
	if (io_uring_queue_init(4, &ring, 0) == 0) {
		probe_ok = 1;
		io_uring_queue_exit(&ring);
	}
}

int sl_io_uring_available(void)
{
	pthread_once(&probe_once, probe);
	return probe_ok;
}

static void flush(struct uring_state *s, int wait)
{
	int rc;
	do
		rc = wait ? io_uring_submit_and_wait(&s->ring, 1) : io_uring_submit(&s->ring);
	while (rc == -EINTR);
	if (rc >= 0)
		s->queued = 0;
}

static void sync_fallback(sl_io *io, struct sl_ioreq *r)
{
	long res;
	if (r->op == SL_OP_OPEN)
		res = open(r->path, r->flags, 0);
	else
		res = statx(r->fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, r->stx);
	io->inflight++;
	sl_io_complete(io, r, res < 0 ? -errno : res);
}

static void uring_submit(sl_io *io, struct sl_ioreq *r)
{
	struct uring_state *s = io->be_state;
	if ((r->op == SL_OP_OPEN && !s->has_openat) ||
	    (r->op == SL_OP_STATX && !s->has_statx)) {
		sync_fallback(io, r);
		return;
	}
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);
	if (!sqe) {
		flush(s, 0);
		sqe = io_uring_get_sqe(&s->ring);
	}
	switch (r->op) {
	case SL_OP_READ:
		io_uring_prep_read(sqe, r->fd, r->buf, (unsigned)r->len, r->off);
		break;
	case SL_OP_WRITE:
		io_uring_prep_write(sqe, r->fd, r->buf, (unsigned)r->len, r->off);
		break;
	case SL_OP_OPEN:
		io_uring_prep_openat(sqe, AT_FDCWD, r->path, r->flags, 0);
		break;
	case SL_OP_STATX:
		io_uring_prep_statx(sqe, r->fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, r->stx);
		break;
	case SL_OP_FSYNC:
		io_uring_prep_fsync(sqe, r->fd, 0);
		break;
	}
	io_uring_sqe_set_data(sqe, r);
	s->queued++;
	io->inflight++;
}

static void uring_reap(sl_io *io)
{
	struct uring_state *s = io->be_state;
	struct io_uring_cqe *cqe;
	if (s->queued)
		flush(s, 1);
	int rc;
	do
		rc = io_uring_wait_cqe(&s->ring, &cqe);
	while (rc == -EINTR);
	if (rc < 0)
		return;
	unsigned head, seen = 0;
	io_uring_for_each_cqe(&s->ring, head, cqe) {
		struct sl_ioreq *r = io_uring_cqe_get_data(cqe);
		long res = cqe->res;
		seen++;
		sl_io_complete(io, r, res);
	}
	io_uring_cq_advance(&s->ring, seen);
}

static void uring_destroy(sl_io *io)
{
	struct uring_state *s = io->be_state;
	io_uring_queue_exit(&s->ring);
	free(s);
}

static const struct sl_io_backend uring_backend = {
	.name = "io_uring",
	.submit = uring_submit,
	.reap = uring_reap,
	.destroy = uring_destroy,
};

int sl_io_uring_init(sl_io *io, sl_err *err)
{
	if (!sl_io_uring_available())
		return sl_fail(err, SL_E_UNSUPPORTED,
			       "io_uring is not available here (blocked or disabled); use --io posix");
	struct uring_state *s = sl_xcalloc(1, sizeof *s);
	int rc = io_uring_queue_init(RING_ENTRIES, &s->ring, 0);
	if (rc < 0) {
		free(s);
		return sl_fail_errno(err, SL_E_UNSUPPORTED, -rc, "io_uring_queue_init");
	}
	struct io_uring_probe *p = io_uring_get_probe_ring(&s->ring);
	if (p) {
		s->has_openat = io_uring_opcode_supported(p, IORING_OP_OPENAT);
		s->has_statx = io_uring_opcode_supported(p, IORING_OP_STATX);
		io_uring_free_probe(p);
	}
	io->be = &uring_backend;
	io->be_state = s;
	return 0;
}
