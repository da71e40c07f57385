/*
 * io_impl.h: what io.c shares with the two backends.  A backend turns
 * requests into system calls; everything above (chunk pool, reader
 * read-ahead, writer, batching logic) is common so both paths behave alike.
 */
#ifndef SL_IO_IMPL_H
#define SL_IO_IMPL_H

#include "io.h"
#include <sys/stat.h>

enum sl_ioop { SL_OP_READ, SL_OP_WRITE, SL_OP_OPEN, SL_OP_STATX, SL_OP_FSYNC };

struct sl_ioreq {
	int op;
	int fd;
	void *buf;
	size_t len;
	uint64_t off;
	const char *path;     /* OPEN */
	int flags;            /* OPEN */
	struct statx *stx;    /* STATX */
	int done;
	long res;             /* bytes, fd, or -errno */
	sl_chunk *chunk;      /* the buffer's owner: a write drops its ref on completion */
	struct sl_writer *writer; /* write requests: accounting on completion */
	struct sl_ioreq *next;
};

struct sl_io_backend {
	const char *name;
	/* Queue a request; it may run now (POSIX) or later (io_uring). */
	void (*submit)(sl_io *io, struct sl_ioreq *r);
	/* Make progress: submit what is queued and reap at least one
	 * completion if any request is outstanding. */
	void (*reap)(sl_io *io);
	void (*destroy)(sl_io *io);
};

struct sl_io {
	const struct sl_io_backend *be;
	void *be_state;
	struct sl_io_opts o;
	size_t align;            /* O_DIRECT memory/offset alignment */
	sl_chunk *free_chunks;
	unsigned nchunks, nchunks_max;
	struct sl_ioreq *free_reqs;
	unsigned inflight;       /* submitted and not completed */
};

/* Called by a backend for every completed request. */
void sl_io_complete(sl_io *io, struct sl_ioreq *r, long res);

int sl_io_uring_init(sl_io *io, sl_err *err);
void sl_io_posix_init(sl_io *io);

#endif
