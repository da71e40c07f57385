/*
 * catalog.h: the catalog seam.  A catalog maps digests to locations and
 * items to their outputs, attributes and provenance records, keeps the
 * re-ingest cache, each provenance chain's committed end, and the object
 * backend's rows.  SQLite (cat_sqlite.c) is the embedded default; a server
 * catalog is one more table of these functions.
 *
 * Threads: the catalog handle belongs to the committer (commit, item
 * lookups) and to read-only commands; each writing thread has its own
 * sl_cat_reader; put_row_now may be called from any thread.
 */
#ifndef SL_CATALOG_H
#define SL_CATALOG_H
#include "store.h"

typedef struct sl_catalog sl_catalog;
typedef struct sl_cat_reader sl_cat_reader;

/* A provenance chain's committed end. */
struct sl_chain {
	char writer[33];
	uint64_t size, count;
	uint8_t head[32];
};

/* One batch, committed in one transaction. */
struct sl_cat_batch {
	struct sl_item *const *items;   /* new ones (outcome_new) and refreshed ones */
	size_t n;
	const uint64_t *seqs;           /* per item: its record's seq (new items) */
	const char *writer;
	const char *time;
	const struct sl_backend_rows *rows;
	const struct sl_chain *chain;   /* the writer's new end */
};

/* What verify walks: one item's identity and record. */
struct sl_cat_item {
	const char *id, *writer;
	uint64_t seq;
	int64_t legacy_id;              /* a migrated item's number, or 0 */
};

struct sl_catalog_ops {
	const char *name;
	int (*open)(sl_catalog **out, const char *dir, int flags, sl_err *err);
	void (*close)(sl_catalog *c);
	int (*meta_get)(sl_catalog *c, const char *key, char *out, size_t n, sl_err *err);
	int (*meta_put_now)(sl_catalog *c, const char *key, const char *value, sl_err *err);

	/* the backend's rows (backend.h, struct sl_backend_env) */
	int (*rows)(sl_catalog *c, const char *prefix,
		    int (*cb)(void *ctx, const char *key, int64_t value), void *ctx, sl_err *err);
	int (*row_put_now)(sl_catalog *c, const char *key, int64_t value, sl_err *err);
	int (*row_del_now)(sl_catalog *c, const char *key, sl_err *err);

	int (*chain_get)(sl_catalog *c, const char *writer, struct sl_chain *out, sl_err *err);
	int (*chains)(sl_catalog *c, int (*cb)(void *ctx, const struct sl_chain *ch), void *ctx,
		      sl_err *err);

	/* 1 when an item with this id is committed, 0 not, <0 error */
	int (*item_exists)(sl_catalog *c, const char *id, sl_err *err);
	int (*commit)(sl_catalog *c, const struct sl_cat_batch *b, sl_err *err);

	/* per-thread lookups, sharing a snapshot between begin and end */
	int (*reader_new)(sl_catalog *c, sl_cat_reader **out, sl_err *err);
	void (*reader_free)(sl_cat_reader *r);
	void (*reader_begin)(sl_cat_reader *r);
	void (*reader_end)(sl_cat_reader *r);
	int (*seen_get)(sl_cat_reader *r, const uint8_t key[32], struct sl_seen *out, sl_err *err);
	/* 1 and ref (digest, size, loc) when the object is committed */
	int (*object_get)(sl_cat_reader *r, const uint8_t digest[32], struct sl_objref *ref,
			  sl_err *err);
	int (*item_outputs)(sl_cat_reader *r, const char *id, struct sl_item_output **outs,
			    sl_err *err);

	/* queries for ls, export, cat and verify; a read snapshot spans
	 * snapshot_begin .. snapshot_end */
	int (*snapshot_begin)(sl_catalog *c, sl_err *err);
	void (*snapshot_end)(sl_catalog *c);
	int (*items)(sl_catalog *c, const char *key, const char *value,
		     int (*cb)(void *ctx, const struct sl_item_view *v), void *ctx, sl_err *err);
	int (*objects)(sl_catalog *c, int (*cb)(void *ctx, const struct sl_objref *ref), void *ctx,
		       sl_err *err);
	int (*item_records)(sl_catalog *c, int (*cb)(void *ctx, const struct sl_cat_item *it),
			    void *ctx, sl_err *err);
	/* problems in the catalog itself (integrity, outputs naming no object) */
	void (*check)(sl_catalog *c, void (*problem)(void *ctx, const char *msg), void *ctx);
};

extern const struct sl_catalog_ops sl_catalog_sqlite;
#endif
