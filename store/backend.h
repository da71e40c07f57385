/*
 * backend.h: the object backend seam (the way htslib's hFILE_backend puts
 * files, libcurl and S3 behind one table).  A backend keeps bytes under
 * their SHA-256; it knows nothing of items, catalogs or provenance.  The
 * store (store/store.c, objw.c) hashes, de-duplicates and decides; the
 * backend only places, finds, reads and checks bytes.
 *
 * Where an object lies is the backend's business: put() answers a location
 * (struct sl_loc, two integers whose meaning the backend alone knows), the
 * catalog keeps it beside the digest, and get() is handed it back.  A
 * backend's own durable bookkeeping (the local backend's pack ends) goes
 * through struct sl_backend_env as key/value rows that the catalog stores:
 * rows made at a commit are committed in the same catalog transaction as
 * the items that need them.
 *
 * Threads: writer handles (sl_bwriter) belong to one thread each; put,
 * flush and get may run on many threads at once; barrier runs on the
 * committer only.  Nothing a backend returns as an error names an input.
 */
#ifndef SL_BACKEND_H
#define SL_BACKEND_H
#include <stdint.h>
#include <stddef.h>
#include "store.h"

typedef struct sl_backend sl_backend;
typedef struct sl_bwriter sl_bwriter;
typedef struct sl_bput sl_bput;

/* A backend's durable rows ("pack/3" -> its committed end, ...), kept by
 * the catalog for it.  The env is the store's; every call may fail. */
struct sl_backend_env {
	void *ctx;
	/* Call cb for every row whose key starts with prefix. */
	int (*rows)(void *ctx, const char *prefix,
		    int (*cb)(void *cbctx, const char *key, int64_t value), void *cbctx, sl_err *err);
	/* Record a row now, outside any batch (committed at once; thread-safe). */
	int (*put_now)(void *ctx, const char *key, int64_t value, sl_err *err);
	/* Remove rows now (after the backend made their removal safe). */
	int (*del_now)(void *ctx, const char *key, sl_err *err);
	/* The store's tmp/ folder: unnamed and temp files for puts, or NULL. */
	const char *tmp_dir;
};

/* Rows a barrier asks to commit with its batch. */
struct sl_backend_row {
	char key[48];
	int64_t value;
};
struct sl_backend_rows {
	struct sl_backend_row *v;
	size_t n, cap;
};
void sl_backend_rows_add(struct sl_backend_rows *r, const char *key, int64_t value);

struct sl_backend_repair {
	uint64_t removed_tmp, truncated;  /* temp files gone; containers cut back */
};

typedef void (*sl_problem_fn)(void *ctx, const char *problem);

struct sl_backend_ops {
	const char *name;
	/* Open the backend of the store at dir (the backend's own layout
	 * below it; with SL_STORE_CREATE make it).  A writable open repairs
	 * what a crash can leave, reporting it in *rep. */
	int (*open)(sl_backend **out, const char *dir, int flags, const struct sl_backend_env *env,
		    struct sl_backend_repair *rep, sl_err *err);
	void (*close)(sl_backend *b);

	/* One writer per writing thread, with that thread's I/O. */
	int (*writer_new)(sl_backend *b, sl_io *io, sl_bwriter **out, sl_err *err);
	void (*writer_free)(sl_bwriter *w);

	/* Put a stream of bytes; the digest is known only at the end. */
	int (*put_begin)(sl_bwriter *w, uint64_t size_hint, sl_bput **out, sl_err *err);
	int (*put_write)(sl_bput *p, const void *data, size_t n, sl_err *err);
	/* The same by reference: no copy of bulk bytes where the backend can. */
	int (*put_chunk)(sl_bput *p, sl_chunk *c, size_t off, size_t n, sl_err *err);
	/* Place the bytes under digest: ref->loc set; ref->deferred when they
	 * wait in the writer for flush() (small objects gathered into one
	 * write).  p is gone after this call, whatever it returns. */
	int (*put_finish)(sl_bput *p, const uint8_t digest[32], struct sl_objref *ref, sl_err *err);
	void (*put_abort)(sl_bput *p);
	/* Write what the writer gathered.  A failure here, or of a write the
	 * backend made on the way, is reported once; the deferred objects
	 * since the previous flush may then be lost. */
	int (*flush)(sl_bwriter *w, sl_err *err);

	/* Durability barrier: every object in refs (all flushed) reaches
	 * stable storage before this returns; rows gets what the catalog must
	 * record with them. */
	int (*barrier)(sl_backend *b, const struct sl_objref *const *refs, size_t n,
		       struct sl_backend_rows *rows, sl_err *err);

	/* Read len bytes at off of the object at ref into buf (whole or
	 * ranged); short only past its end.  Returns the count or <0. */
	int64_t (*get)(sl_backend *b, const struct sl_objref *ref, uint64_t off, void *buf,
		       size_t len, sl_err *err);
	/* Whether the object is where ref says, with its size (not its hash):
	 * 1 yes, 0 no (problem says why), <0 error. */
	int (*has)(sl_backend *b, const struct sl_objref *ref, sl_problem_fn problem, void *ctx);
	/* Every object the backend holds (committed containers only). */
	int (*list)(sl_backend *b, int (*cb)(void *ctx, const struct sl_objref *ref), void *ctx,
		    sl_err *err);
	/* The backend's own structure (pack headers, records), for verify. */
	void (*check)(sl_backend *b, sl_problem_fn problem, void *ctx);
};

extern const struct sl_backend_ops sl_backend_local;
#endif
