/* io_posix.c: the fallback backend, used where io_uring is unavailable
 * (seccomp in containers, kernel.io_uring_disabled) or when forced.  Each
 * request runs at submission as an ordinary system call. */
#include "io_impl.h"
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static long run(struct sl_ioreq *r)
{
	long res;
	switch (r->op) {
	case SL_OP_READ:
		do
			res = pread(r->fd, r->buf, r->len, (off_t)r->off);
		while (res < 0 && errno == EINTR);
		break;
	case SL_OP_WRITE:
		do
			res = pwrite(r->fd, r->buf, r->len, (off_t)r->off);
		while (res < 0 && errno == EINTR);
		break;
	case SL_OP_OPEN:
		res = open(r->path, r->flags, 0);
		break;
	case SL_OP_STATX:
		res = statx(r->fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, r->stx);
		break;
	case SL_OP_FSYNC:
		res = fsync(r->fd);
		break;
	default:
		errno = EINVAL;
		res = -1;
	}
	return res < 0 ? -errno : res;
}

static void posix_submit(sl_io *io, struct sl_ioreq *r)
{
	io->inflight++;
	sl_io_complete(io, r, run(r));
}

static void posix_reap(sl_io *io) { (void)io; }
static void posix_destroy(sl_io *io) { (void)io; }

static const struct sl_io_backend posix_backend = {
	.name = "posix",
	.submit = posix_submit,
	.reap = posix_reap,
	.destroy = posix_destroy,
};

void sl_io_posix_init(sl_io *io) { io->be = &posix_backend; }
