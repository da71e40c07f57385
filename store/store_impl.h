/* store_impl.h: what the store's own files share (store.c, objw.c,
 * commit.c, read.c, verify.c, migrate.c).  Backends and catalogs see none
 * of it. */
#ifndef SL_STORE_IMPL_H
#define SL_STORE_IMPL_H
#include "store.h"
#include "backend.h"
#include "catalog.h"
#include "prov.h"
#include <pthread.h>

#define SL_STORE_FORMAT "sluice-store 2\n"
#define SL_STORE_FORMAT_V1 "sluice-store 1\n"

struct inrun {             /* objects written in this run, not yet committed */
	uint8_t digest[32];
	struct sl_objref ref;
	int done;
	struct inrun *next;
};

struct sl_store_writer {
	sl_store *st;
	sl_io *io;
	sl_bwriter *bw;
	sl_cat_reader *rd;
	struct inrun **claims;   /* deferred objects, published at flush */
	size_t nclaims, claims_cap;
	sl_err ferr;             /* a failed flush, kept until sl_store_flush reports it */
};

struct sl_store {
	char *dir;
	char *tmp_dir;
	int flags;
	int lock_fd;
	const struct sl_backend_ops *bops;
	sl_backend *b;
	struct sl_backend_env env;
	const struct sl_catalog_ops *cops;
	sl_catalog *cat;
	sl_cat_reader *rd;       /* lookups of read-only commands */
	struct sl_chain chain;   /* this writer's committed end */
	sl_prov *prov;
	pthread_mutex_t mu;      /* the in-run set */
	pthread_cond_t cv;
	struct inrun **set;      /* hash set, 4096 buckets */
};

/* Forget in-run entries once the catalog has them. */
void sl_store_inrun_forget(sl_store *st, const uint8_t d[32]);
/* The version FORMAT names (1 or 2), or <0. */
int sl_store_format_version(const char *dir, sl_err *err);
/* FORMAT, written (temp, fsync, rename, fsync dir) as the current version. */
int sl_store_write_format(const char *dir);
/* Open a backend of the store's kind into *out, with the store (its
 * catalog) as its env, read-only or writable. */
int sl_store_open_backend(sl_store *st, int flags, struct sl_backend_repair *rep,
			  sl_backend **out, sl_err *err);
#endif
