/*
 * pool.c: the threads one slide's tile work runs on.  The format API has
 * no way to hand work to the engine's workers, and one slide is one
 * worker's input, so decoding and encoding the tiles of a level would
 * otherwise use one core.  The pool runs "parallel for" sections: tasks
 * 0..n-1 of one function, the calling thread taking part, and returns when
 * all are done.  Each task writes only its own results; the caller emits
 * them in order afterwards, so the bytes do not depend on the thread count.
 */
#include "slide_impl.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct slide_pool {
	int n;                        /* threads, the caller's included */
	pthread_t *th;
	pthread_mutex_t mu;
	pthread_cond_t go, done;
	uint64_t gen;                 /* bumped for each section */
	int stop;
	int busy;                     /* workers still in the section */
	/* the section */
	slide_task_fn fn;
	void *ctx;
	uint32_t ntasks;
	uint32_t next;                /* the next task to take (atomic) */
	int failed;                   /* stop taking tasks */
	uint32_t fail_at;             /* the lowest task that failed */
	sl_err fail_err;
};

struct worker_arg {
	struct slide_pool *p;
	int slot;
};

/* Take and run tasks until none is left.  Tasks are taken in increasing
 * order, so every task below the first failure has been taken and runs to
 * its end: the lowest failing task, whose error is reported, does not
 * depend on timing. */
static void run_tasks(struct slide_pool *p, int slot)
{
	for (;;) {
		if (__atomic_load_n(&p->failed, __ATOMIC_ACQUIRE))
			return;
		uint32_t i = __atomic_fetch_add(&p->next, 1, __ATOMIC_ACQ_REL);
		if (i >= p->ntasks)
			return;
		sl_err err = {0};
		if (p->fn(p->ctx, i, slot, &err) < 0) {
			pthread_mutex_lock(&p->mu);
			if (!p->failed || i < p->fail_at) {
				p->fail_at = i;
				p->fail_err = err;
			}
			__atomic_store_n(&p->failed, 1, __ATOMIC_RELEASE);
			pthread_mutex_unlock(&p->mu);
		}
	}
}

static void *worker_main(void *a)
{
	struct worker_arg *w = a;
	struct slide_pool *p = w->p;
	uint64_t seen = 0;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && p->gen == seen)
			pthread_cond_wait(&p->go, &p->mu);
		if (p->stop)
			break;
		seen = p->gen;
		pthread_mutex_unlock(&p->mu);
		run_tasks(p, w->slot);
		pthread_mutex_lock(&p->mu);
		if (--p->busy == 0)
			pthread_cond_signal(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	free(w);
	return NULL;
}

int slide_pool_new(struct slide_pool **out, int nthreads, sl_err *err)
{
	struct slide_pool *p = sl_xcalloc(1, sizeof *p);
	*out = p;
	p->n = 1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->go, NULL);
	pthread_cond_init(&p->done, NULL);
	p->th = sl_xcalloc((size_t)(nthreads > 1 ? nthreads : 1), sizeof *p->th);
	for (int i = 1; i < nthreads; i++) {
		struct worker_arg *w = sl_xmalloc(sizeof *w);
		*w = (struct worker_arg){p, i};
		if (pthread_create(&p->th[i], NULL, worker_main, w) != 0) {
			free(w);
			return sl_fail(err, SL_E_NOMEM, "cannot start the slide's threads");
		}
		p->n = i + 1;
	}
	return 0;
}

void slide_pool_free(struct slide_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->stop = 1;
	pthread_cond_broadcast(&p->go);
	pthread_mutex_unlock(&p->mu);
	for (int i = 1; i < p->n; i++)
		pthread_join(p->th[i], NULL);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->go);
	pthread_cond_destroy(&p->done);
	free(p->th);
	free(p);
}

int slide_pool_threads(const struct slide_pool *p) { return p->n; }

int slide_pool_run(struct slide_pool *p, uint32_t n, slide_task_fn fn, void *ctx, sl_err *err)
{
	if (n == 0)
		return 0;
	p->fn = fn;
	p->ctx = ctx;
	p->ntasks = n;
	p->next = 0;
	p->failed = 0;
	if (p->n > 1 && n > 1) {
		pthread_mutex_lock(&p->mu);
		p->busy = p->n - 1;
		p->gen++;
		pthread_cond_broadcast(&p->go);
		pthread_mutex_unlock(&p->mu);
	}
	run_tasks(p, 0);
	if (p->n > 1 && n > 1) {
		pthread_mutex_lock(&p->mu);
		while (p->busy)
			pthread_cond_wait(&p->done, &p->mu);
		pthread_mutex_unlock(&p->mu);
	}
	if (!p->failed)
		return 0;
	if (err)
		*err = p->fail_err;
	return -(int)p->fail_err.code;
}

int slide_cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}
