/* queue.h: a bounded multi-producer multi-consumer queue of pointers.  The
 * bound is what keeps memory flat: discovery cannot run ahead of the workers
 * and workers cannot run ahead of the committer. */
#ifndef SL_QUEUE_H
#define SL_QUEUE_H
#include <pthread.h>
#include <stddef.h>

typedef struct sl_queue {
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full;
	void **slots;
	size_t cap, head, count;
	int closed;
} sl_queue;

void sl_queue_init(sl_queue *q, size_t cap);
void sl_queue_destroy(sl_queue *q);
/* Blocks while full. */
void sl_queue_push(sl_queue *q, void *p);
/* Push n items under one lock with one wake-up: per-item pushes wake a
 * sleeping consumer per item, each of which then pops one. */
void sl_queue_push_many(sl_queue *q, void *const *p, size_t n);
/* Up to max items; blocks until at least one or the queue is closed and
 * empty (returns 0).  With timeout_ms >= 0, returns 0 after that long. */
size_t sl_queue_pop(sl_queue *q, void **out, size_t max, int timeout_ms);
/* No more pushes: consumers drain what is left, then get 0. */
void sl_queue_close(sl_queue *q);
/* True once closed and empty: nothing more will ever be popped. */
int sl_queue_drained(sl_queue *q);
#endif
