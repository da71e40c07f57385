/* store_impl.h: what the store's files share. */
#ifndef SL_STORE_IMPL_H
#define SL_STORE_IMPL_H
#include "store.h"
#include <pthread.h>
#include <sqlite3.h>

#define PACK_ROLL (1ull << 30)
#define PACK_HDR 16
#define REC_HDR 48

struct slot {
	int pack_fd;
	int64_t pack_id;
	uint64_t pack_end;   /* where the next record goes */
	int dirty;           /* written since the last commit */
	uint8_t *pend;       /* records appended but not yet written */
	size_t pend_len, pend_cap;
	uint64_t pend_off;   /* pack offset of pend[0] */
	struct inrun **claims; /* objects in pend, published at flush */
	size_t nclaims, claims_cap;
	sl_err ferr;         /* a failed append, kept until sl_store_flush reports it */
	sqlite3 *rdb;        /* read-only connection for this slot */
	sqlite3_stmt *q_seen, *q_obj, *q_outs; /* prepared once: preparing costs more than running */
	sqlite3_stmt *q_begin, *q_end;          /* a read transaction over many lookups */
	/* earlier packs of this run that still need their final fsync */
	int old_fds[8];
	int nold;
};

struct inrun {             /* objects written in this run, not yet committed */
	uint8_t digest[32];
	struct sl_objref ref;
	int done;
	struct inrun *next;
};

struct sl_store {
	char *dir;
	int flags;
	int lock_fd;
	sqlite3 *db;            /* the committer's connection */
	sqlite3_stmt *q_item;   /* committer: does this item exist? */
	unsigned nslots;
	struct slot *slots;
	pthread_mutex_t mu;     /* pack allocation, in-run set, dirty dirs */
	pthread_cond_t cv;
	struct inrun **set;     /* hash set, 4096 buckets */
	char **dirty_dirs;
	size_t ndirty_dirs;
	sqlite3 *alloc_db;      /* records new pack ids from worker threads */
	sqlite3_stmt *q_pack;
	pthread_mutex_t alloc_mu; /* alloc_db, q_pack, next_pack */
	int64_t next_pack;
	int prov_fd;
	uint64_t prov_size, prov_count;
	uint8_t prov_head[32];
	char id[33];
};

int sl_store_sql(sqlite3 *db, const char *sql, sl_err *err);
/* (Re)read the committed provenance size, count and head from the catalog. */
int sl_store_load_meta(sl_store *st, sl_err *err);
int sl_store_meta_get(sqlite3 *db, const char *key, char *out, size_t n);
/* Look up an object with a prepared "SELECT size, pack, offset FROM objects
 * WHERE digest=?" (the caller owns q, so each thread uses its own). */
int sl_catalog_has_object(sqlite3_stmt *q, const uint8_t d[32], struct sl_objref *ref);
#define SL_SQL_OBJECT "SELECT size, pack, offset FROM objects WHERE digest=?"
#define SL_SQL_SEEN "SELECT size, mtime_ns, ctime_ns, ino, dev, input_digest, item_id FROM seen WHERE path_key=?"
#define SL_SQL_OUTPUTS "SELECT io.digest, o.size, o.pack, o.offset, io.role, io.media_type " \
	"FROM item_objects io JOIN objects o ON o.digest=io.digest WHERE io.item_id=? ORDER BY io.rowid"
#define SL_SQL_ITEM "SELECT id FROM items WHERE input_digest=? AND format=? AND options_fp=?"
char *sl_store_path(const sl_store *st, const char *name);
void sl_object_path(const sl_store *st, const uint8_t d[32], char *out, size_t n);
void sl_pack_path(const sl_store *st, int64_t id, char *out, size_t n);
/* Forget in-run entries once the catalog has them. */
void sl_store_inrun_forget(sl_store *st, const uint8_t d[32]);
uint64_t sl_pack_record_end(uint64_t data_off, uint64_t size);
/* Remember a folder (relative to the store) to fsync at the next commit; mu held. */
void sl_store_dirty_dir(sl_store *st, const char *rel);
#endif
