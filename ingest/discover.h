/* discover.h: turning SRC arguments (files, directories walked recursively,
 * @LIST files, "-" for stdin) into tasks, one per input, in a stable order.
 * Inputs that cannot be ingested because of what they are (a FIFO, a symlink
 * not followed, an unreadable directory) become tasks that carry their
 * rejection reason, so every input is accounted for. */
#ifndef SL_DISCOVER_H
#define SL_DISCOVER_H
#include <stdint.h>
#include <sys/types.h>
#include "queue.h"

struct sl_format;

struct sl_task {
	char *path;
	int follow;          /* explicit argument or followed link: open may follow */
	char *reject;        /* set: rejected at discovery, with this reason */
	/* A multi-file input (format.h, bundle): the format its index chose
	 * and the other files' paths, in the format's order. */
	const struct sl_format *fmt;
	char **companions;
	size_t ncompanions;
	/* An input in memory (source.h): its bytes and the source's key. */
	uint8_t *data;
	size_t len;
	int in_memory;
	char *key;
	size_t keylen;
};

struct sl_discover_opts {
	const char *const *srcs;
	size_t nsrcs;
	int follow_symlinks;
	dev_t skip_dev;      /* a directory never walked into: the store itself */
	ino_t skip_ino;
	const int *stop;     /* set by the engine (atomically) to end discovery early */
	const char *const *opaque; /* --opaque prefixes: no multi-file inputs there */
	size_t nopaque;
};

/* path as an absolute path without ".", "..", repeated or trailing
 * slashes (lexically: ".." drops the component before it), from the
 * working directory when relative; malloc'd.  How --opaque prefixes and
 * the paths found are compared, so ./data/refs, data/refs/ and
 * /abs/data/refs agree. */
char *sl_path_normal(const char *path);
/* Whether path is one of prefixes (each as sl_path_normal gives it) or
 * lies below one (--opaque). */
int sl_path_under(const char *path, const char *const *prefixes, size_t n);

/* Paths the walker must not emit: the companions of multi-file inputs
 * found so far (bundle.c). */
struct sl_claims {
	char **slot;
	size_t n, cap;
};
int sl_claims_has(const struct sl_claims *c, const char *path);
void sl_claims_free(struct sl_claims *c);
/* Whether a file so named may be the index of a multi-file input. */
int sl_bundle_named(const char *name);
/* NULL when no format takes path's name as the index of a multi-file input;
 * else its task (rejected if the format refused it), with its companions
 * claimed.  follow: the task's; follow_links: --follow-symlinks. */
struct sl_task *sl_bundle_task(const char *path, int follow, int follow_links,
			       struct sl_claims *claims);

/* Push one struct sl_task * per input onto q.  Returns the number of files
 * discovered (a multi-file input counts each of its files). */
uint64_t sl_discover(const struct sl_discover_opts *o, sl_queue *q);
void sl_task_free(struct sl_task *t);
#endif
