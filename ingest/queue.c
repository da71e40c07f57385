/* queue.c: see queue.h. */
#include "queue.h"
#include "../common/sl_common.h"
#include <errno.h>
#include <stdlib.h>
#include <time.h>

void sl_queue_init(sl_queue *q, size_t cap)
{
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->not_empty, NULL);
	pthread_cond_init(&q->not_full, NULL);
	q->slots = sl_xcalloc(cap, sizeof *q->slots);
	q->cap = cap;
	q->head = q->count = 0;
	q->closed = 0;
}

void sl_queue_destroy(sl_queue *q)
{
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->not_empty);
	pthread_cond_destroy(&q->not_full);
	free(q->slots);
}

void sl_queue_push(sl_queue *q, void *p)
{
	pthread_mutex_lock(&q->mu);
	while (q->count == q->cap)
		pthread_cond_wait(&q->not_full, &q->mu);
	q->slots[(q->head + q->count) % q->cap] = p;
	q->count++;
	pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
}

void sl_queue_push_many(sl_queue *q, void *const *p, size_t n)
{
	pthread_mutex_lock(&q->mu);
	for (size_t i = 0; i < n; i++) {
		if (q->count == q->cap) {
			/* consumers asleep must hear of what is queued before we wait */
			pthread_cond_broadcast(&q->not_empty);
			while (q->count == q->cap)
				pthread_cond_wait(&q->not_full, &q->mu);
		}
		q->slots[(q->head + q->count) % q->cap] = p[i];
		q->count++;
	}
	if (n > 1)
		pthread_cond_broadcast(&q->not_empty);
	else if (n)
		pthread_cond_signal(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
}

size_t sl_queue_pop(sl_queue *q, void **out, size_t max, int timeout_ms)
{
	struct timespec until;
	if (timeout_ms >= 0) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += timeout_ms / 1000;
		until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
	}
	pthread_mutex_lock(&q->mu);
	while (q->count == 0 && !q->closed) {
		if (timeout_ms < 0)
			pthread_cond_wait(&q->not_empty, &q->mu);
		else if (pthread_cond_timedwait(&q->not_empty, &q->mu, &until) == ETIMEDOUT)
			break;
	}
	size_t n = 0;
	while (n < max && q->count) {
		out[n++] = q->slots[q->head];
		q->head = (q->head + 1) % q->cap;
		q->count--;
	}
	if (n)
		pthread_cond_broadcast(&q->not_full);
	pthread_mutex_unlock(&q->mu);
	return n;
}

void sl_queue_close(sl_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->closed = 1;
	pthread_cond_broadcast(&q->not_empty);
	pthread_mutex_unlock(&q->mu);
}

int sl_queue_drained(sl_queue *q)
{
	pthread_mutex_lock(&q->mu);
	int d = q->closed && q->count == 0;
	pthread_mutex_unlock(&q->mu);
	return d;
}
