/*
 * commit.c: making a batch of items durable and recorded, in the order that
 * keeps a crash harmless: object bytes (the backend's barrier), then
 * provenance (append to this writer's chain, fsync), then the catalog (one
 * transaction that also records the chain's end and the backend's rows).
 */
#include "store_impl.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void utc_now(char out[32])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + strlen(out), 12, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
}

/* The new items of a batch by id: the same input twice in one batch (two
 * paths to the same bytes) is one item.  A hash table, because a scan of
 * the batch per item is quadratic in the batch size. */
struct batch_set {
	struct sl_item **slot;
	size_t mask;
};

static void set_init(struct batch_set *s, size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	s->slot = sl_xcalloc(cap, sizeof *s->slot);
	s->mask = cap - 1;
}

/* The slot holding an item with this id, or the empty slot where it goes. */
static struct sl_item **set_slot(struct batch_set *s, const struct sl_item *it)
{
	char head[17];
	memcpy(head, it->item_id, 16); /* hex of a SHA-256: already uniform */
	head[16] = 0;
	uint64_t h = strtoull(head, NULL, 16);
	for (size_t i = h & s->mask;; i = (i + 1) & s->mask)
		if (!s->slot[i] || !strcmp(s->slot[i]->item_id, it->item_id))
			return &s->slot[i];
}

/* Decide which items are new and build their records. */
static int build_lines(sl_store *st, struct sl_item **items, size_t n, const char *now,
		       sl_buf *lines, struct sl_chain *ch, uint64_t *seqs, sl_err *err)
{
	struct batch_set set = {0};
	set_init(&set, n);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct sl_item *it = items[i];
		sl_item_id(it->input_digest, it->format, it->options_fp, it->item_id);
		struct sl_item **slot = set_slot(&set, it);
		int exists = *slot ? 1 : st->cops->item_exists(st->cat, it->item_id, err);
		if (exists < 0) {
			rc = exists;
			break;
		}
		it->outcome_new = !exists;
		if (!it->outcome_new)
			continue;
		*slot = it;
		sl_prov_record(lines, ch, now, it);
		seqs[i] = ch->count;
	}
	free(set.slot);
	return rc;
}

static const struct sl_objref **batch_refs(struct sl_item **items, size_t n, size_t *nrefs)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		k += items[i]->nouts;
	const struct sl_objref **refs = sl_xmalloc((k ? k : 1) * sizeof *refs);
	k = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < items[i]->nouts; j++)
			refs[k++] = &items[i]->outs[j].ref;
	*nrefs = k;
	return refs;
}

int sl_store_commit(sl_store *st, struct sl_item **items, size_t n, sl_err *err)
{
	if (!st->prov)
		return sl_fail(err, SL_E_STATE, "store not open for writing");
	size_t nrefs;
	const struct sl_objref **refs = batch_refs(items, n, &nrefs);
	struct sl_backend_rows rows = {0};
	int rc = st->bops->barrier(st->b, refs, nrefs, &rows, err);
	free(refs);
	char now[32];
	utc_now(now);
	sl_buf lines;
	sl_buf_init(&lines);
	struct sl_chain ch = st->chain;
	uint64_t *seqs = sl_xcalloc(n ? n : 1, sizeof *seqs);
	if (rc == 0)
		rc = build_lines(st, items, n, now, &lines, &ch, seqs, err);
	if (rc == 0)
		rc = sl_prov_append(st->prov, &lines, err);
	if (rc == 0) {
		struct sl_cat_batch b = {.items = items, .n = n, .seqs = seqs, .writer = ch.writer,
			.time = now, .rows = &rows, .chain = lines.len ? &ch : NULL};
		rc = st->cops->commit(st->cat, &b, err);
		if (rc < 0) /* nothing of this batch is recorded: take its lines back */
			sl_prov_undo(st->prov);
	}
	if (rc < 0) {
		for (size_t i = 0; i < n; i++)
			items[i]->outcome_new = 0, items[i]->item_id[0] = 0;
	} else {
		sl_prov_committed(st->prov);
		st->chain = ch;
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < items[i]->nouts; j++)
				sl_store_inrun_forget(st, items[i]->outs[j].ref.digest);
	}
	free(seqs);
	free(rows.v);
	sl_buf_free(&lines);
	return rc;
}
