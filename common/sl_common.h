/*
 * sl_common.h: the one error convention of sluice, plus the few helpers every
 * folder needs (growable buffer, hex, JSON escaping, SHA-256).
 *
 * Errors: a function that can fail takes an `sl_err *` last and returns 0 on
 * success or a negative sl_code (the way zstd returns codes checked by one
 * predicate).  The message says what failed and why; libraries fill it, only
 * the CLI prints it.  Messages produced inside store/ never contain an input
 * path or any value read from an input: they may end up in logs in the store.
 */
#ifndef SL_COMMON_H
#define SL_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>
#include <sys/types.h>

enum sl_code {
	SL_OK = 0,
	SL_E_USAGE,       /* bad option or argument */
	SL_E_IO,          /* read/write/open failure */
	SL_E_NOSPC,       /* out of space or quota: the run must stop */
	SL_E_NOMEM,
	SL_E_FORMAT,      /* input is not what it claims or is not accepted */
	SL_E_CHANGED,     /* input changed while being read */
	SL_E_CORRUPT,     /* store damage found */
	SL_E_STATE,       /* environment: lock held, permissions, missing store */
	SL_E_UNSUPPORTED, /* feature not available here (io_uring, O_DIRECT) */
	SL_E_SKIP,        /* a format declines an input by policy (a DICOMDIR):
			     not stored, reported as skipped, not an error */
	SL_E__COUNT
};

typedef struct sl_err {
	int code;
	char msg[512];
} sl_err;

/* Fill *e (if not NULL) and return -code. */
int sl_fail(sl_err *e, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Same, appending ": strerror(errnum)" and mapping ENOSPC/EDQUOT to SL_E_NOSPC,
 * ENOMEM to SL_E_NOMEM and everything else to `code`. */
/* Hand out an error kept for later (a failure met on the way, reported at
 * the next flush): *out gets it, *kept is cleared; its negative code, or 0
 * when none was kept.  out may be NULL. */
int sl_err_take(sl_err *kept, sl_err *out);
int sl_fail_errno(sl_err *e, int code, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
const char *sl_code_name(int code);
static inline int sl_is_error(int rc) { return rc < 0; }

/* Growable byte buffer; data is always NUL-terminated for convenience. */
typedef struct sl_buf {
	char *data;
	size_t len, cap;
} sl_buf;
void sl_buf_init(sl_buf *b);
void sl_buf_free(sl_buf *b);
void sl_buf_reset(sl_buf *b);
/* Allocation failure aborts: these are used for small metadata only. */
void sl_buf_add(sl_buf *b, const void *p, size_t n);
void sl_buf_puts(sl_buf *b, const char *s);
void sl_buf_printf(sl_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal (quotes included).  Bytes that are not
 * valid UTF-8 are escaped as \u00XX of the byte so any file name survives. */
void sl_buf_json_str(sl_buf *b, const char *s);
void sl_buf_json_strn(sl_buf *b, const char *s, size_t n);
void sl_buf_hex(sl_buf *b, const uint8_t *p, size_t n);

void sl_hex(char *out, const uint8_t *p, size_t n); /* out: 2n+1 bytes */
/* Parse exactly 2n hex digits; returns 0 or -1. */
int sl_unhex(uint8_t *out, const char *hex, size_t n);

/* SHA-256, incremental.  Wraps OpenSSL's EVP so the hardware path is used. */
typedef struct sl_sha256 sl_sha256;
sl_sha256 *sl_sha256_new(void);
void sl_sha256_reset(sl_sha256 *h);
void sl_sha256_update(sl_sha256 *h, const void *p, size_t n);
void sl_sha256_final(sl_sha256 *h, uint8_t out[32]);
void sl_sha256_free(sl_sha256 *h);
void sl_sha256_once(const void *p, size_t n, uint8_t out[32]);

/* A size option such as 64M: a positive number with an optional K, M or G
 * (binary) suffix, at most 16 TiB; 0 or -1. */
int sl_parse_size(const char *v, size_t *out);

/* Aborting allocators for metadata-sized allocations. */
void *sl_xmalloc(size_t n);
void *sl_xcalloc(size_t n, size_t m);
void *sl_xrealloc(void *p, size_t n);
char *sl_xstrdup(const char *s);

/* Write all of buf to fd (retries short writes, EINTR). 0 or -errno. */
int sl_write_all(int fd, const void *buf, size_t n);
/* Read n bytes at off (retries short reads, EINTR): the count read, short
 * only at the end of the file, or -errno. */
ssize_t sl_pread_all(int fd, void *buf, size_t n, uint64_t off);
/* fsync the directory containing / named by path. 0 or -errno. */
int sl_fsync_dir(const char *dir);

#endif
