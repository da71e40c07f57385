/*
 * store.h: the content-addressed store: objects behind an object backend
 * (backend.h; local objects and packs first), items behind a catalog
 * (catalog.h; SQLite first), and a provenance log of one hash chain per
 * writer (prov.h).  docs/store-format.md describes the bytes on disk.
 *
 * Concurrency: one writing process per store (an flock on DIR/lock).
 * Inside it, each writing thread has its own sl_store_writer (objects and
 * lookups); sl_store_commit runs on one committer thread.  Nothing is
 * recorded in the catalog or provenance before the bytes it names are
 * durable.
 *
 * Nothing this module writes or returns as an error message contains an
 * input path or a value taken from an input.
 */
#ifndef SL_STORE_H
#define SL_STORE_H

#include <stdint.h>
#include <stddef.h>
#include "../common/sl_common.h"
#include "../common/io/io.h"

typedef struct sl_store sl_store;
typedef struct sl_store_writer sl_store_writer;
struct sl_backend_ops;

enum {
	SL_STORE_CREATE = 1,   /* create DIR and its layout if missing */
	SL_STORE_READONLY = 2, /* no lock, no repair; for verify/ls/cat/log/export */
	SL_STORE_DIRECT = 4,   /* write large objects with O_DIRECT where possible */
};

struct sl_store_opts {
	int flags;
	/* This writer's chain in the provenance log (a-z 0-9 _ -, at most 32;
	 * NULL: "main"). */
	const char *writer;
	/* The object backend (NULL: the local one).  Tests plug in others. */
	const struct sl_backend_ops *backend;
};

struct sl_store_open_info {
	int repaired_prov;      /* bytes of torn/uncommitted provenance dropped */
	int removed_tmp;        /* leftover temp files removed */
	int truncated_packs;    /* containers cut back to their committed size */
};

/* Open (and with CREATE, create) a store.  A writable open takes the lock
 * (SL_E_STATE if another process holds it) and repairs what a crash can
 * leave.  A store of an older format is refused with a message naming
 * `sluice migrate`.  `info` may be NULL. */
int sl_store_open(sl_store **out, const char *dir, const struct sl_store_opts *o,
		  struct sl_store_open_info *info, sl_err *err);
void sl_store_close(sl_store *st);
/* A store is one pseudonym domain: the first writer records its key's
 * fingerprint, and a writer with another key is refused (SL_E_USAGE), since
 * its pseudonyms and UIDs would not match the ones already stored. */
int sl_store_bind_key(sl_store *st, const char *key_fp, sl_err *err);
/* The store's tmp/ folder (scratch files, views), owned by the store. */
const char *sl_store_tmp_dir(const sl_store *st);

/* Upgrade a store of an older format in place (one transaction; the
 * provenance records are kept byte for byte).  *from gets the version it
 * had; already current is not an error. */
int sl_store_migrate(const char *dir, int *from, sl_err *err);

/* Where the backend keeps an object: its meaning is the backend's. */
struct sl_loc {
	int64_t a;
	uint64_t b;
};

/* A stored object's name and location. */
struct sl_objref {
	uint8_t digest[32];
	uint64_t size;
	struct sl_loc loc;
	int fresh;        /* 1 if this writer stored the bytes, 0 if already there */
	int deferred;     /* fresh bytes that wait for sl_store_flush */
};

/* One writing thread's handle: its objects and its catalog lookups. */
int sl_store_writer_new(sl_store *st, sl_io *io, sl_store_writer **out, sl_err *err);
void sl_store_writer_free(sl_store_writer *w);

/*
 * Streaming object writer.  The backend decides where bytes go (the local
 * one: small objects into packs, large ones into files of their own).  If
 * the digest is already stored (catalog, or written earlier in this run)
 * nothing new is written.  With nohash the caller supplies the digest at
 * finish (it has hashed the same bytes already, e.g. the engine for a
 * verbatim copy).
 */
typedef struct sl_objw sl_objw;
int sl_objw_begin(sl_store_writer *w, int nohash, uint64_t size_hint, sl_objw **out, sl_err *err);
int sl_objw_write(sl_objw *o, const void *p, size_t n, sl_err *err);
int sl_objw_put(sl_objw *o, sl_chunk *c, size_t off, size_t n, sl_err *err);
int sl_objw_finish(sl_objw *o, const uint8_t *digest_if_nohash,
		   struct sl_objref *ref, sl_err *err);
void sl_objw_abort(sl_objw *o); /* frees o; removes anything half-written */

/* Objects a writer gathered (deferred) reach the backend in one write per
 * batch of inputs.  A worker must flush before it hands items that
 * reference its objects to the committer; until then other writers of the
 * same bytes wait.  On failure the deferred objects finished since the
 * previous flush may be lost: their items must be rejected. */
int sl_store_flush(sl_store_writer *w, sl_err *err);

/* The re-ingest cache: an input's idempotency key -> what it was.  For a
 * file the key is a keyed hash of its path and the stamp its stat. */
struct sl_seen {
	uint64_t size, mtime_ns, ctime_ns, ino, dev;
	uint8_t input_digest[32];
	char item_id[33];         /* "" when none */
};
/* Lookups between begin and end share one read snapshot.  Keep it short:
 * an open snapshot holds back the catalog's checkpoints. */
void sl_store_read_begin(sl_store_writer *w);
void sl_store_read_end(sl_store_writer *w);
/* 1 found, 0 not found, <0 error (err says why). */
int sl_store_seen_get(sl_store_writer *w, const uint8_t key[32], struct sl_seen *out, sl_err *err);

struct sl_item_output {
	struct sl_objref ref;
	const char *role;        /* "primary", "index", ... */
	const char *media_type;  /* "application/dicom", ... */
};
/* The outputs of a committed item, in one allocation (roles and media types
 * included): free(*outs) releases it.  Returns their number, or <0. */
int sl_store_item_outputs(sl_store_writer *w, const char *item_id, struct sl_item_output **outs,
			  sl_err *err);

/* An input of an item, as provenance records it. */
struct sl_item_input {
	uint8_t digest[32];
	uint64_t size;
	uint8_t path_hmac[32];    /* keyed hash of its name (never the name) */
};

/* One input's result, handed to the committer.  The store builds its
 * provenance record (prov.h) from these fields. */
struct sl_item {
	uint8_t input_digest[32]; /* the whole input (a multi-file one: all its files) */
	uint64_t input_size;
	uint8_t seen_key[32];     /* idempotency key for the re-ingest cache */
	struct sl_seen stat;      /* its stamp */
	const char *format;       /* format module name */
	const char *format_version;
	const char *options_fp;   /* hex fingerprint of format+policy options */
	const char *policy;       /* the format's policy JSON */
	const struct sl_item_input *inputs; /* the files, in order */
	size_t ninputs;
	struct sl_item_output *outs;
	size_t nouts;
	const char **attrs;       /* key, value, key, value ... (catalog index) */
	size_t nattrs;            /* number of pairs */
	const char *facts;        /* JSON object members from the format, or NULL */
	const char *software;     /* JSON object: versions */
	const char *key_fp;
	const char *subject_map;  /* hex digest or NULL */
	/* out: 1 stored as a new item, 0 an identical item (same input digest,
	 * format and options) was already there. */
	int outcome_new;
	char item_id[33];         /* out */
};

/* The identity of an item: derived from what makes it the same item (its
 * input digest, format and options), so two writers agree on it without
 * asking each other.  32 hex digits. */
void sl_item_id(const uint8_t input_digest[32], const char *format, const char *options_fp,
		char out[33]);

/*
 * Make everything the items reference durable (backend barrier), append
 * one provenance record per new item to this writer's chain (fsync), then
 * commit the catalog in one transaction (items, objects, attributes, seen
 * cache, the backend's rows, the chain's head).  Items whose input is
 * already present only refresh the seen cache.  On error nothing of this
 * batch is recorded.
 */
int sl_store_commit(sl_store *st, struct sl_item **items, size_t n, sl_err *err);

/* ---- reading ---- */

/* Write an object's bytes to fd. SL_E_STATE if unknown digest. */
int sl_store_cat(sl_store *st, const uint8_t digest[32], int fd, sl_err *err);
/* Up to n bytes of an object at off; the count (short past its end) or <0. */
int64_t sl_store_read(sl_store *st, const uint8_t digest[32], uint64_t off, void *buf, size_t n,
		      sl_err *err);

struct sl_item_view {
	const char *id;
	const char *format;
	const char *input_digest;   /* hex */
	uint64_t input_size;
	const char **attrs;         /* key, value pairs */
	size_t nattrs;
	struct sl_item_output *outs;
	size_t nouts;
	const char *time;           /* ingest time (from provenance) */
};
/* Call cb for every item, in item id order (the same whatever wrote them);
 * filter by attribute key=value when key is not NULL ("format" filters on
 * the format).  cb returns non-zero to stop (returned as-is). */
int sl_store_items(sl_store *st, const char *key, const char *value,
		   int (*cb)(void *ctx, const struct sl_item_view *v), void *ctx,
		   sl_err *err);
/* An item's attribute value, or NULL when it has none. */
const char *sl_item_attr(const struct sl_item_view *v, const char *key);

/* Copy the provenance log (every chain, committed records only) to fd. */
int sl_store_log(sl_store *st, int fd, sl_err *err);

struct sl_verify_stats {
	uint64_t objects, bytes, items, records, chains, problems;
	uint64_t unreferenced;  /* objects the backend holds that no catalog row names */
};
/* Re-hash every object, check every location, walk every provenance chain
 * and compare its head with the catalog, and check items against records.
 * Each problem is passed to cb (one line, no identifying values).  Returns
 * 0 with stats->problems == 0 when the store is sound. */
int sl_store_verify(sl_store *st, void (*cb)(void *ctx, const char *problem),
		    void *ctx, struct sl_verify_stats *stats, sl_err *err);

#endif
