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

struct sl_task {
	char *path;
	int follow;          /* explicit argument or followed link: open may follow */
	char *reject;        /* set: rejected at discovery, with this reason */
};

struct sl_discover_opts {
	const char *const *srcs;
	size_t nsrcs;
	int follow_symlinks;
	dev_t skip_dev;      /* a directory never walked into: the store itself */
	ino_t skip_ino;
	volatile int *stop;  /* set by the engine to end discovery early */
};

/* Push one struct sl_task * per input onto q.  Returns the number pushed. */
uint64_t sl_discover(const struct sl_discover_opts *o, sl_queue *q);
void sl_task_free(struct sl_task *t);
#endif
