/* source.h: where inputs come from.  A source is an ops table that yields
 * tasks onto the engine's queue: a file the workers open (the files
 * source: walk, @LIST, stdin; discover.h), or bytes already in memory
 * with the source's own idempotency key (a network receiver: the SOP
 * Instance UID or the content digest).  Whatever the source, each input
 * gets one report line under its display name and counts once in the
 * summary; the re-ingest cache is keyed by the file's path and stat, or
 * by the source's key. */
#ifndef SL_SOURCE_H
#define SL_SOURCE_H
#include <stdint.h>
#include "queue.h"

struct sl_source_ops {
	const char *name;
	/* Push one struct sl_task * per input onto q (discover.h) until done
	 * or stopped (sl_source_stopped(stop)); return the number of inputs
	 * discovered. */
	uint64_t (*run)(const void *conf, sl_queue *q, const int *stop);
};

/* Whether the engine is ending the run: other threads set the flag, so it
 * is read atomically (acquire: the stop reason is then visible too). */
static inline int sl_source_stopped(const int *stop)
{
	return __atomic_load_n(stop, __ATOMIC_ACQUIRE);
}

struct sl_source {
	const struct sl_source_ops *ops;
	const void *conf;
};

/* A task for an input in memory: its bytes (taken over, freed with the
 * task), its display name for the operator report (outside the store
 * only) and the source's idempotency key (equal keys: the same input). */
struct sl_task *sl_task_memory(const char *name, void *data, size_t len, const void *key,
			       size_t keylen);
#endif
