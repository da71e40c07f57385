/*
 * store.h: the content-addressed object store, its catalog and its provenance
 * log.  docs/store-format.md describes the bytes on disk.
 *
 * Concurrency: one writing process per store (an flock on DIR/lock).  Inside
 * it, object writers (sl_objw) run on worker threads, each with its own `slot`
 * (its own pack file and read connection); sl_store_commit runs on one
 * committer thread.  Nothing is recorded in the catalog or provenance before
 * the bytes it names are durable.
 *
 * Nothing this module writes or returns as an error message contains an input
 * path or a value taken from an input.
 */
#ifndef SL_STORE_H
#define SL_STORE_H

#include <stdint.h>
#include <stddef.h>
#include "../common/sl_common.h"
#include "../common/io/io.h"

typedef struct sl_store sl_store;

/* Objects up to this size go into pack files; larger ones are files of their own. */
#define SL_STORE_PACK_MAX (4u << 20)

enum {
	SL_STORE_CREATE = 1,   /* create DIR and its layout if missing */
	SL_STORE_READONLY = 2, /* no lock, no repair; for verify/ls/cat/log/export */
	SL_STORE_DIRECT = 4,   /* write large objects with O_DIRECT where possible */
};

struct sl_store_open_info {
	int repaired_prov;      /* bytes of torn/uncommitted provenance dropped */
	int removed_tmp;        /* leftover temp files removed */
	int truncated_packs;    /* packs cut back to their committed size */
};

/* Open (and with CREATE, create) a store.  `slots` is the number of worker
 * threads that will write objects (each uses its own slot index).  A
 * writable open takes the lock (SL_E_STATE if another process holds it) and
 * repairs what a crash can leave: temp files, uncommitted pack tails, a torn
 * or uncommitted provenance tail.  `info` may be NULL. */
int sl_store_open(sl_store **out, const char *dir, int flags, unsigned slots,
		  struct sl_store_open_info *info, sl_err *err);
void sl_store_close(sl_store *st);
/* A store is one pseudonym domain: the first writer records its key's
 * fingerprint, and a writer with another key is refused (SL_E_USAGE), since
 * its pseudonyms and UIDs would not match the ones already stored. */
int sl_store_bind_key(sl_store *st, const char *key_fp, sl_err *err);

/* A stored object's name and location. */
struct sl_objref {
	uint8_t digest[32];
	uint64_t size;
	int64_t pack;     /* pack id, or -1 for a large object file */
	uint64_t offset;  /* of the data within the pack */
	int fresh;        /* 1 if this writer stored the bytes, 0 if already there */
};

/*
 * Streaming object writer.  Bytes are buffered in memory up to
 * SL_STORE_PACK_MAX; beyond that they spill to a temp file in DIR/tmp which
 * finish() fsyncs and renames to its content address.  Small objects are
 * gathered for the slot's pack at finish() (see sl_store_flush); where an
 * object goes depends on its final size only.  If the digest is already stored
 * (catalog, or written earlier in this run) nothing new is written.
 * `io` is the calling thread's sl_io.  With nohash the caller supplies the
 * digest at finish (it has hashed the same bytes already, e.g. the engine for
 * a verbatim copy).
 */
typedef struct sl_objw sl_objw;
int sl_objw_begin(sl_store *st, sl_io *io, unsigned slot, int nohash,
		  uint64_t size_hint, sl_objw **out, sl_err *err);
int sl_objw_write(sl_objw *w, const void *p, size_t n, sl_err *err);
int sl_objw_put(sl_objw *w, sl_chunk *c, size_t off, size_t n, sl_err *err);
int sl_objw_finish(sl_objw *w, const uint8_t *digest_if_nohash,
		   struct sl_objref *ref, sl_err *err);
void sl_objw_abort(sl_objw *w); /* frees w; removes any temp file */

/* Small objects are gathered per slot and written to the pack in one write
 * (one system call per batch of inputs, not per object).  A worker must
 * flush before it hands items that reference its objects to the committer;
 * until then other writers of the same bytes wait.  On failure (of this
 * write, or of one made on the way, e.g. when a pack rolls) the small
 * objects finished since the previous sl_store_flush may be lost: their
 * items must be rejected.  Each failure is reported once. */
int sl_store_flush(sl_store *st, sl_io *io, unsigned slot, sl_err *err);

/* The re-ingest cache: a keyed hash of the input path -> what it was. */
struct sl_seen {
	uint64_t size, mtime_ns, ctime_ns, ino, dev;
	uint8_t input_digest[32];
	int64_t item_id;
};
/* Lookups of a slot between begin and end share one read transaction (one
 * snapshot, one lock round trip instead of one per lookup).  Keep it short:
 * an open snapshot holds back the catalog's checkpoints. */
void sl_store_read_begin(sl_store *st, unsigned slot);
void sl_store_read_end(sl_store *st, unsigned slot);
/* 1 if found, 0 if not. Thread-safe. */
int sl_store_seen_get(sl_store *st, unsigned slot, const uint8_t path_key[32],
		      struct sl_seen *out);
struct sl_item_output;
/* The outputs of a committed item, in one allocation (roles and media types
 * included): free(*outs) releases it.  Returns their number, or -1. */
int sl_store_item_outputs(sl_store *st, unsigned slot, int64_t item_id,
			   struct sl_item_output **outs);

struct sl_item_output {
	struct sl_objref ref;
	const char *role;        /* "primary", "index", ... */
	const char *media_type;  /* "application/dicom", ... */
};

/* One input's result, handed to the committer. */
struct sl_item {
	uint8_t input_digest[32];
	uint64_t input_size;
	uint8_t path_key[32];     /* keyed hash of the path (never the path) */
	struct sl_seen stat;      /* for the re-ingest cache */
	const char *format;       /* format module name */
	const char *options_fp;   /* hex fingerprint of format+policy options */
	struct sl_item_output *outs;
	size_t nouts;
	const char **attrs;       /* key, value, key, value ... (catalog index) */
	size_t nattrs;            /* number of pairs */
	/* Provenance body: JSON object members, without the surrounding braces,
	 * e.g. "\"inputs\":[...],\"outputs\":[...]".  The store adds seq, prev,
	 * time and item id. */
	const char *prov_body;
	/* out: 1 stored as a new item, 0 an identical item (same input digest,
	 * format and options) was already there. */
	int outcome_new;
	int64_t item_id;          /* out */
};

/*
 * Make everything the items reference durable (fsync every pack written since
 * the last commit and the directories of renamed objects), append one
 * provenance record per new item (fsync), then commit the catalog in one
 * transaction (items, objects, attributes, seen cache, provenance head).
 * Items whose input is already present only refresh the seen cache.
 * On error nothing of this batch is recorded.
 */
int sl_store_commit(sl_store *st, struct sl_item **items, size_t n, sl_err *err);

/* ---- reading ---- */

/* Write an object's bytes to fd. SL_E_STATE if unknown digest. */
int sl_store_cat(sl_store *st, const uint8_t digest[32], int fd, sl_err *err);

struct sl_item_view {
	int64_t id;
	const char *format;
	const char *input_digest;   /* hex */
	uint64_t input_size;
	const char **attrs;         /* key, value pairs */
	size_t nattrs;
	struct sl_item_output *outs;
	size_t nouts;
	const char *time;           /* ingest time (from provenance) */
};
/* Call cb for every item, in item id order; filter by attribute key=value
 * when key is not NULL.  cb returns non-zero to stop (returned as-is). */
int sl_store_items(sl_store *st, const char *key, const char *value,
		   int (*cb)(void *ctx, const struct sl_item_view *v), void *ctx,
		   sl_err *err);

/* Copy the provenance log to fd. */
int sl_store_log(sl_store *st, int fd, sl_err *err);

struct sl_verify_stats {
	uint64_t objects, bytes, items, records, problems;
};
/* Re-hash every object, check every catalog location, walk the provenance
 * chain and compare its head with the catalog.  Each problem is passed to cb
 * (one line, no identifying values).  Returns 0 with stats->problems == 0 when
 * the store is sound. */
int sl_store_verify(sl_store *st, void (*cb)(void *ctx, const char *problem),
		    void *ctx, struct sl_verify_stats *stats, sl_err *err);

#endif
