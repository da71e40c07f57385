/* test_queue.c: the bounded queue under contention: producers pushing one
 * at a time and in batches larger than the queue, consumers popping in
 * batches; every item arrives exactly once, and a batch push that must wait
 * for room wakes the consumers first (else both sides would sleep). */
#include "unit.h"
#include "ingest/queue.h"
#include <pthread.h>
#include <stdint.h>

#define PER_PRODUCER 20000
#define PRODUCERS 3

static sl_queue q;
static unsigned char seen[PRODUCERS * PER_PRODUCER];
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;

static void *producer(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	void *batch[37]; /* more than the queue holds */
	size_t n = 0;
	for (uintptr_t i = 0; i < PER_PRODUCER; i++) {
		void *item = (void *)(id * PER_PRODUCER + i + 1);
		if (id == 0) { /* one producer pushes singly */
			sl_queue_push(&q, item);
			continue;
		}
		batch[n++] = item;
		if (n == sizeof batch / sizeof *batch || i == PER_PRODUCER - 1) {
			sl_queue_push_many(&q, batch, n);
			n = 0;
		}
	}
	return NULL;
}

static void *consumer(void *arg)
{
	(void)arg;
	void *got[5];
	size_t n;
	while ((n = sl_queue_pop(&q, got, 5, -1)) > 0) {
		pthread_mutex_lock(&seen_mu);
		for (size_t i = 0; i < n; i++) {
			uintptr_t v = (uintptr_t)got[i] - 1;
			CHECK(v < sizeof seen);
			if (v < sizeof seen)
				seen[v]++;
		}
		pthread_mutex_unlock(&seen_mu);
	}
	return NULL;
}

int main(void)
{
	sl_queue_init(&q, 8);
	pthread_t p[PRODUCERS], c[2];
	for (int i = 0; i < 2; i++)
		pthread_create(&c[i], NULL, consumer, NULL);
	for (uintptr_t i = 0; i < PRODUCERS; i++)
		pthread_create(&p[i], NULL, producer, (void *)i);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(p[i], NULL);
	sl_queue_close(&q);
	for (int i = 0; i < 2; i++)
		pthread_join(c[i], NULL);
	size_t once = 0;
	for (size_t i = 0; i < sizeof seen; i++)
		once += seen[i] == 1;
	CHECK(once == sizeof seen);
	CHECK(sl_queue_drained(&q));
	sl_queue_push_many(&q, NULL, 0); /* nothing to push: no wait, no wake */
	sl_queue_destroy(&q);
	return UNIT_DONE();
}
