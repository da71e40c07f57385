/*
 * io.h: sluice's file I/O, with an io_uring backend and a POSIX fallback that
 * behave identically (the tests run both).
 *
 * One sl_io belongs to one thread (each worker owns a ring: no locking on the
 * hot path).  Memory is bounded: an sl_io owns a fixed pool of `depth * 2`
 * chunks of `chunk` bytes; asking for a chunk when none is free drives
 * outstanding completions until one is released.  Chunks are reference
 * counted so that a buffer read from an input can be handed to a write
 * without copying (bulk data is passed by reference).
 *
 * Formats never call this: the engine reads inputs and the store writes
 * objects.
 */
#ifndef SL_IO_H
#define SL_IO_H

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include "../sl_common.h"

typedef struct sl_io sl_io;

enum sl_io_mode { SL_IO_AUTO = 0, SL_IO_URING, SL_IO_POSIX };

struct sl_io_opts {
	int mode;        /* enum sl_io_mode */
	int direct;      /* try O_DIRECT for large sequential reads/writes */
	size_t chunk;    /* bytes per chunk (default 1 MiB); rounded to 4096 */
	unsigned depth;  /* reads in flight per stream (default 8) */
};

typedef struct sl_chunk {
	uint8_t *data;   /* aligned to 4096 */
	size_t len;      /* valid bytes */
	size_t cap;
	int refs;        /* owned by one thread: no atomics */
	struct sl_io *owner;
	struct sl_chunk *next;
} sl_chunk;

int sl_io_new(sl_io **out, const struct sl_io_opts *o, sl_err *err);
void sl_io_free(sl_io *io);
/* "io_uring" or "posix". */
const char *sl_io_backend(const sl_io *io);
/* True when the kernel lets this process use io_uring (cached probe). */
int sl_io_uring_available(void);

/* A free chunk (refs = 1, len = 0).  Never fails: waits for I/O to release. */
sl_chunk *sl_chunk_get(sl_io *io);
void sl_chunk_ref(sl_chunk *c);
void sl_chunk_put(sl_chunk *c);

/*
 * Batched open of inputs: for each entry, open (read-only, non-blocking so a
 * FIFO cannot hang us, O_NOFOLLOW unless follow) and statx.  All opens go in
 * one submission, then all statx.  Per-entry failures are in .err (an errno)
 * and .step, never fatal.  sl_io_read_heads then reads the first chunk of
 * every regular, non-empty entry that is still open and not marked skip, in
 * one submission.
 */
struct sl_io_file {
	const char *path;   /* in */
	int follow;         /* in: follow a final symlink */
	int fd;             /* out: -1 on failure */
	int err;            /* out: errno of the failing step, 0 if fine */
	const char *step;   /* out: "open", "stat" or "read" when err != 0 */
	uint64_t size, mtime_ns, ctime_ns, ino, dev;
	uint32_t mode;
	int skip;           /* in (read_heads): do not read this one */
	sl_chunk *head;     /* out: first chunk (NULL if empty or not regular) */
};
void sl_io_open_batch(sl_io *io, struct sl_io_file *f, unsigned n);
void sl_io_read_heads(sl_io *io, struct sl_io_file *f, unsigned n);

/* Sequential reader with read-ahead, starting after the bytes already read. */
typedef struct sl_reader sl_reader;
sl_reader *sl_reader_new(sl_io *io, int fd, uint64_t start, uint64_t size_hint);
/* 1: *c holds the next chunk (caller owns one ref); 0: end of file; <0: error. */
int sl_reader_next(sl_reader *r, sl_chunk **c, sl_err *err);
void sl_reader_free(sl_reader *r);

/* Sequential writer from offset `start`; writes are asynchronous. */
typedef struct sl_writer sl_writer;
/* direct: the fd was opened with O_DIRECT (see sl_io_open_out). */
sl_writer *sl_writer_new(sl_io *io, int fd, uint64_t start, int direct);
/* Append bytes by reference: takes its own ref on c. */
int sl_writer_put(sl_writer *w, sl_chunk *c, size_t off, size_t len, sl_err *err);
/* Append bytes by copy. */
int sl_writer_write(sl_writer *w, const void *p, size_t n, sl_err *err);
/* Wait for every write; *end gets the offset after the last byte. For a direct
 * writer the file is left exactly `end` bytes long. */
int sl_writer_finish(sl_writer *w, uint64_t *end, sl_err *err);
void sl_writer_free(sl_writer *w); /* after finish, or to abandon */

/* Create an output file (O_CREAT|O_EXCL, mode), with O_DIRECT when asked and
 * the filesystem accepts it; *direct says what was obtained. -errno on failure. */
int sl_io_open_out(sl_io *io, const char *path, int mode, int want_direct, int *direct);
/* Synchronous positional write (a plain pwrite: waiting leaves nothing for a
 * ring to overlap) and fsync through the backend. 0 or -errno. */
int sl_io_pwrite(sl_io *io, int fd, const void *p, size_t n, uint64_t off);
int sl_io_fsync(sl_io *io, int fd);

#endif
