/* unit.h: the minimal assertion macros the C unit tests share. */
#ifndef SL_TEST_UNIT_H
#define SL_TEST_UNIT_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/sl_common.h"

static int unit_failures;

#define CHECK(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
	unit_failures++; } } while (0)
#define CHECK_RC(expr, err) do { int rc_ = (expr); if (rc_ < 0) { \
	fprintf(stderr, "%s:%d: %s failed (%d): %s\n", __FILE__, __LINE__, #expr, rc_, (err)->msg); \
	unit_failures++; } } while (0)
#define REQUIRE(cond) do { if (!(cond)) { \
	fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); exit(1); } } while (0)
#define UNIT_DONE() (unit_failures ? (fprintf(stderr, "%d check(s) failed\n", unit_failures), 1) : 0)

/* A fresh empty directory under $TMPDIR for this test. */
static inline char *unit_tmpdir(const char *tag)
{
	const char *base = getenv("TMPDIR");
	static char path[1024]; /* short, so callers may append to it in PATH_MAX buffers */
	snprintf(path, sizeof path, "%s/%s.XXXXXX", base ? base : "/tmp", tag);
	if (!mkdtemp(path)) { perror("mkdtemp"); exit(1); }
	return path;
}
/* Append the whole file at path to out (tests read back what a library
 * wrote by name). */
static inline void unit_read_file(const char *path, sl_buf *out)
{
	FILE *f = fopen(path, "rb");
	REQUIRE(f);
	char b[65536];
	size_t n;
	while ((n = fread(b, 1, sizeof b, f)) > 0)
		sl_buf_add(out, b, n);
	fclose(f);
}
#endif
