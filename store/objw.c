/*
 * objw.c: writing objects, above the backend.  The store hashes the bytes
 * as they stream to the backend and, once the digest is known, decides:
 * already committed (catalog) or already written in this run (the in-run
 * set) means nothing new is placed; otherwise the backend places them.  The
 * in-run set makes identical content written by two threads at once land
 * once: the second waits for the first to publish.
 */
#include "store_impl.h"
#include <stdlib.h>
#include <string.h>

struct sl_objw {
	sl_store_writer *w;
	int nohash;
	sl_sha256 *h;
	sl_bput *p;
	uint64_t size;
};

int sl_store_writer_new(sl_store *st, sl_io *io, sl_store_writer **out, sl_err *err)
{
	*out = NULL;
	if (!st->b || (st->flags & SL_STORE_READONLY))
		return sl_fail(err, SL_E_STATE, "store not open for writing");
	sl_store_writer *w = sl_xcalloc(1, sizeof *w);
	w->st = st;
	w->io = io;
	int rc = st->bops->writer_new(st->b, io, &w->bw, err);
	if (rc == 0)
		rc = st->cops->reader_new(st->cat, &w->rd, err);
	if (rc < 0) {
		sl_store_writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

void sl_store_writer_free(sl_store_writer *w)
{
	if (!w)
		return;
	if (w->bw)
		w->st->bops->writer_free(w->bw);
	if (w->rd)
		w->st->cops->reader_free(w->rd);
	free(w->claims);
	free(w);
}

void sl_store_read_begin(sl_store_writer *w) { w->st->cops->reader_begin(w->rd); }
void sl_store_read_end(sl_store_writer *w) { w->st->cops->reader_end(w->rd); }

int sl_store_seen_get(sl_store_writer *w, const uint8_t key[32], struct sl_seen *out, sl_err *err)
{
	return w->st->cops->seen_get(w->rd, key, out, err);
}

int sl_store_item_outputs(sl_store_writer *w, const char *item_id, struct sl_item_output **outs,
			  sl_err *err)
{
	return w->st->cops->item_outputs(w->rd, item_id, outs, err);
}

/* ---- the in-run set ---- */

static struct inrun **bucket(sl_store *st, const uint8_t d[32])
{
	return &st->set[(d[0] << 4 | d[1] >> 4) & 4095];
}

static struct inrun *inrun_find(sl_store *st, const uint8_t d[32])
{
	for (struct inrun *e = *bucket(st, d); e; e = e->next)
		if (!memcmp(e->digest, d, 32))
			return e;
	return NULL;
}

void sl_store_inrun_forget(sl_store *st, const uint8_t d[32])
{
	pthread_mutex_lock(&st->mu);
	for (struct inrun **p = bucket(st, d); *p; p = &(*p)->next)
		if (!memcmp((*p)->digest, d, 32) && (*p)->done) {
			struct inrun *e = *p;
			*p = e->next;
			free(e);
			break;
		}
	pthread_mutex_unlock(&st->mu);
}

/* Finish a claim (mu held): ok publishes the location, failure withdraws it. */
static void publish_locked(sl_store *st, const uint8_t d[32], const struct sl_objref *ref, int ok)
{
	for (struct inrun **p = bucket(st, d); *p; p = &(*p)->next)
		if (!memcmp((*p)->digest, d, 32)) {
			if (ok) {
				(*p)->ref = *ref;
				(*p)->ref.fresh = 0;
				(*p)->ref.deferred = 0;
				(*p)->done = 1;
			} else {
				struct inrun *e = *p;
				*p = e->next;
				free(e);
			}
			break;
		}
	pthread_cond_broadcast(&st->cv);
}

/* The backend writes what this writer gathered; its claims are published,
 * or withdrawn if the write failed (the failure is kept for
 * sl_store_flush: a flush made on the way cannot reject the items). */
static void flush_claims(sl_store_writer *w)
{
	sl_store *st = w->st;
	sl_err e = {0};
	int rc = st->bops->flush(w->bw, &e);
	if (rc < 0 && !w->ferr.code)
		w->ferr = e;
	pthread_mutex_lock(&st->mu);
	for (size_t i = 0; i < w->nclaims; i++)
		publish_locked(st, w->claims[i]->digest, &w->claims[i]->ref, rc == 0);
	w->nclaims = 0;
	pthread_mutex_unlock(&st->mu);
}

int sl_store_flush(sl_store_writer *w, sl_err *err)
{
	flush_claims(w);
	return sl_err_take(&w->ferr, err);
}

/* 1: the object exists (ref filled, fresh = 0); 0: the caller now owns the
 * claim and must publish it; <0: a catalog error. */
static int claim(sl_store_writer *w, const uint8_t d[32], struct sl_objref *ref, sl_err *err)
{
	sl_store *st = w->st;
	pthread_mutex_lock(&st->mu);
	for (;;) {
		struct inrun *e = inrun_find(st, d);
		if (e && e->done) {
			*ref = e->ref;
			pthread_mutex_unlock(&st->mu);
			return 1;
		}
		if (!e)
			break;
		/* Another writer is placing these very bytes.  Publish ours
		 * first: a writer waits only with nothing of its own pending,
		 * so whoever it waits for is not waiting, and the wait ends. */
		if (w->nclaims) {
			pthread_mutex_unlock(&st->mu);
			flush_claims(w);
			pthread_mutex_lock(&st->mu);
			continue;
		}
		pthread_cond_wait(&st->cv, &st->mu);
	}
	pthread_mutex_unlock(&st->mu);
	int found = st->cops->object_get(w->rd, d, ref, err);
	if (found != 0)
		return found;
	pthread_mutex_lock(&st->mu);
	struct inrun *e = inrun_find(st, d);
	if (e) { /* claimed meanwhile: go round again */
		pthread_mutex_unlock(&st->mu);
		return claim(w, d, ref, err);
	}
	e = sl_xcalloc(1, sizeof *e);
	memcpy(e->digest, d, 32);
	e->next = *bucket(st, d);
	*bucket(st, d) = e;
	pthread_mutex_unlock(&st->mu);
	return 0;
}

/* Remember a deferred claim for publication at the next flush. */
static void defer_publish(sl_store_writer *w, const uint8_t d[32], const struct sl_objref *ref)
{
	sl_store *st = w->st;
	pthread_mutex_lock(&st->mu);
	struct inrun *e = inrun_find(st, d);
	e->ref = *ref;
	pthread_mutex_unlock(&st->mu);
	if (w->nclaims == w->claims_cap) {
		w->claims_cap = w->claims_cap ? 2 * w->claims_cap : 64;
		w->claims = sl_xrealloc(w->claims, w->claims_cap * sizeof *w->claims);
	}
	w->claims[w->nclaims++] = e;
}

/* ---- one object ---- */

int sl_objw_begin(sl_store_writer *w, int nohash, uint64_t size_hint, sl_objw **out, sl_err *err)
{
	sl_objw *o = sl_xcalloc(1, sizeof *o);
	o->w = w;
	o->nohash = nohash;
	if (!nohash)
		o->h = sl_sha256_new();
	int rc = w->st->bops->put_begin(w->bw, size_hint, &o->p, err);
	if (rc < 0) {
		sl_objw_abort(o);
		o = NULL;
	}
	*out = o;
	return rc;
}

int sl_objw_write(sl_objw *o, const void *p, size_t n, sl_err *err)
{
	if (o->h)
		sl_sha256_update(o->h, p, n);
	o->size += n;
	return o->w->st->bops->put_write(o->p, p, n, err);
}

int sl_objw_put(sl_objw *o, sl_chunk *c, size_t off, size_t n, sl_err *err)
{
	if (o->h)
		sl_sha256_update(o->h, c->data + off, n);
	o->size += n;
	return o->w->st->bops->put_chunk(o->p, c, off, n, err);
}

int sl_objw_finish(sl_objw *o, const uint8_t *digest_if_nohash, struct sl_objref *ref, sl_err *err)
{
	sl_store_writer *w = o->w;
	sl_store *st = w->st;
	uint8_t d[32];
	if (o->nohash)
		memcpy(d, digest_if_nohash, 32);
	else
		sl_sha256_final(o->h, d);
	memset(ref, 0, sizeof *ref);
	int rc = claim(w, d, ref, err);
	if (rc == 0) {
		memcpy(ref->digest, d, 32);
		ref->size = o->size;
		ref->fresh = 1;
		sl_bput *p = o->p;
		o->p = NULL;
		rc = st->bops->put_finish(p, d, ref, err);
		if (rc == 0 && ref->deferred) {
			defer_publish(w, d, ref);
		} else {
			pthread_mutex_lock(&st->mu);
			publish_locked(st, d, ref, rc == 0);
			pthread_mutex_unlock(&st->mu);
		}
	} else if (rc > 0) {
		ref->fresh = 0;
		rc = 0;
	}
	sl_objw_abort(o);
	return rc;
}

void sl_objw_abort(sl_objw *o)
{
	if (!o)
		return;
	if (o->p)
		o->w->st->bops->put_abort(o->p);
	sl_sha256_free(o->h);
	free(o);
}
