/*
 * threadfail.c: an LD_PRELOAD library for cli_threads.sh whose
 * pthread_create fails the Nth call (SL_THREADFAIL_N, from 1) with EAGAIN,
 * as a process at its thread limit would: a failure no test can otherwise
 * provoke on demand.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

typedef int (*sl_create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

int pthread_create(pthread_t *t, const pthread_attr_t *a, void *(*fn)(void *), void *arg)
{
	static int calls;
	static sl_create_fn real;
	if (!real)
		real = (sl_create_fn)dlsym(RTLD_NEXT, "pthread_create");
	const char *n = getenv("SL_THREADFAIL_N");
	/* only the engine's threads start before this returns, so no lock */
	if (n && __atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED) == atoi(n))
		return EAGAIN;
	return real(t, a, fn, arg);
}
