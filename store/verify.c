/*
 * verify.c: checking a store while trusting nothing: every object the
 * catalog names is looked for where it says and re-hashed; the backend
 * checks its own structure; every writer's chain is walked to the end the
 * catalog committed; every item must have the record it points to, and
 * that record must name it.  All of it in one catalog snapshot, so it can
 * run beside an ingest and check the state committed when it started.
 */
#include "store_impl.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUFSZ (1u << 20)

struct chain_items {
	char writer[33];
	uint64_t count;       /* records the catalog committed */
	char (*item)[33];     /* item each record names, by seq - 1 */
	uint64_t nread;       /* 0 when the chain could not be read to its end */
};

struct vctx {
	sl_store *st;
	sl_backend *b;        /* the backend as this snapshot's rows have it */
	void (*cb)(void *, const char *);
	void *ctx;
	struct sl_verify_stats *s;
	uint8_t *buf;
	struct chain_items *chains;
	size_t nchains;
};

static void problem(void *ctx, const char *msg)
{
	struct vctx *v = ctx;
	v->s->problems++;
	if (v->cb)
		v->cb(v->ctx, msg);
}

static void problemf(struct vctx *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problemf(struct vctx *v, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	problem(v, msg);
}

static int check_object(void *ctx, const struct sl_objref *ref)
{
	struct vctx *v = ctx;
	sl_store *st = v->st;
	if (ref->size == UINT64_MAX) {
		problemf(v, "catalog: object row with a malformed digest");
		return 0;
	}
	char hex[65];
	sl_hex(hex, ref->digest, 32);
	v->s->objects++;
	v->s->bytes += ref->size;
	if (st->bops->has(v->b, ref, problem, v) != 1)
		return 0;
	sl_sha256 *h = sl_sha256_new();
	sl_err e = {0};
	int bad = 0;
	for (uint64_t off = 0; off < ref->size;) {
		int64_t got = st->bops->get(v->b, ref, off, v->buf, BUFSZ, &e);
		if (got <= 0) {
			problemf(v, "%s", got < 0 ? e.msg : "object ends early");
			bad = 1;
			break;
		}
		sl_sha256_update(h, v->buf, (size_t)got);
		off += (uint64_t)got;
	}
	uint8_t d[32];
	sl_sha256_final(h, d);
	sl_sha256_free(h);
	if (!bad && memcmp(d, ref->digest, 32))
		problemf(v, "object %s: content does not match its digest", hex);
	return 0;
}

struct walk {
	struct vctx *v;
	struct chain_items *c;
};

static void walk_problem(void *ctx, const char *msg)
{
	problem(((struct walk *)ctx)->v, msg);
}

/* The item each record names, by seq, for check_item. */
static void walk_seen(void *ctx, uint64_t seq, const char *item)
{
	struct chain_items *c = ((struct walk *)ctx)->c;
	if (seq <= c->count)
		snprintf(c->item[seq - 1], 33, "%s", item);
}

static int check_chain(void *ctx, const struct sl_chain *ch)
{
	struct vctx *v = ctx;
	v->chains = sl_xrealloc(v->chains, (v->nchains + 1) * sizeof *v->chains);
	struct chain_items *c = &v->chains[v->nchains++];
	memset(c, 0, sizeof *c);
	snprintf(c->writer, sizeof c->writer, "%s", ch->writer);
	c->count = ch->count;
	c->item = sl_xcalloc(ch->count ? ch->count : 1, sizeof *c->item);
	uint64_t before = v->s->problems;
	struct walk w = {v, c};
	uint64_t n = sl_prov_walk(v->st->dir, ch, walk_problem, walk_seen, &w);
	v->s->records += n;
	v->s->chains++;
	/* compare items with records only when the whole chain was read */
	c->nread = v->s->problems == before ? n : 0;
	return 0;
}

static int check_item(void *ctx, const struct sl_cat_item *it)
{
	struct vctx *v = ctx;
	v->s->items++;
	struct chain_items *c = NULL;
	for (size_t i = 0; i < v->nchains && !c; i++)
		if (!strcmp(v->chains[i].writer, it->writer))
			c = &v->chains[i];
	if (!c || it->seq < 1 || it->seq > c->count) {
		problemf(v, "item %s: points to no provenance record (writer %s, seq %llu)", it->id,
			 it->writer, (unsigned long long)it->seq);
		return 0;
	}
	if (it->seq > c->nread)
		return 0;
	const char *named = c->item[it->seq - 1];
	char legacy[24];
	snprintf(legacy, sizeof legacy, "%lld", (long long)it->legacy_id);
	if (strcmp(named, it->id) && !(it->legacy_id && !strcmp(named, legacy)))
		problemf(v, "item %s: provenance record %s/%llu names another item", it->id,
			 it->writer, (unsigned long long)it->seq);
	return 0;
}

struct unref {
	struct vctx *v;
	sl_err *err;
};

static int count_unreferenced(void *ctx, const struct sl_objref *ref)
{
	struct unref *u = ctx;
	struct sl_objref have;
	int found = u->v->st->cops->object_get(u->v->st->rd, ref->digest, &have, u->err);
	if (found < 0)
		return found;
	if (found == 0 || have.loc.a != ref->loc.a || have.loc.b != ref->loc.b)
		u->v->s->unreferenced++;
	return 0;
}

int sl_store_verify(sl_store *st, void (*cb)(void *ctx, const char *problem), void *ctx,
		    struct sl_verify_stats *stats, sl_err *err)
{
	memset(stats, 0, sizeof *stats);
	struct vctx v = {.st = st, .cb = cb, .ctx = ctx, .s = stats};
	int rc = st->cops->snapshot_begin(st->cat, err);
	/* the backend's rows as this snapshot has them: a read-only backend
	 * of its own, opened inside it (the store's, maybe writing, untouched) */
	if (rc == 0)
		rc = sl_store_open_backend(st, SL_STORE_READONLY, NULL, &v.b, err);
	if (rc < 0) {
		st->cops->snapshot_end(st->cat);
		return rc;
	}
	v.buf = sl_xmalloc(BUFSZ);
	st->cops->check(st->cat, problem, &v);
	rc = st->cops->objects(st->cat, check_object, &v, err);
	if (rc == 0)
		st->bops->check(v.b, problem, &v);
	if (rc == 0)
		rc = st->cops->chains(st->cat, check_chain, &v, err);
	if (rc == 0)
		rc = st->cops->item_records(st->cat, check_item, &v, err);
	struct unref u = {&v, err};
	if (rc == 0)
		rc = st->bops->list(v.b, count_unreferenced, &u, err);
	st->cops->snapshot_end(st->cat);
	st->bops->close(v.b);
	for (size_t i = 0; i < v.nchains; i++)
		free(v.chains[i].item);
	free(v.chains);
	free(v.buf);
	return rc;
}
