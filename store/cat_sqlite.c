/*
 * cat_sqlite.c: the embedded catalog, SQLite in WAL mode (DIR/catalog.db).
 * The committer's connection writes batches; each writing thread reads
 * through a read-only connection of its own (prepared statements, one
 * snapshot per batch of lookups); a third connection records the
 * backend's rows at once (a new pack's id) while the committer may be
 * inside a transaction.  docs/store-format.md has the schema.
 */
#include "catalog.h"
#include "backend.h"
#include "prov.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#define SL_CATALOG_VERSION "2"

struct sl_catalog {
	char *dir;
	int ro;
	sqlite3 *db;             /* the committer's, or the reader's for read-only use */
	sqlite3_stmt *q_item;
	sqlite3 *row_db;         /* rows recorded at once, from any thread */
	pthread_mutex_t row_mu;
};

struct sl_cat_reader {
	sqlite3 *db;
	sqlite3_stmt *q_seen, *q_obj, *q_outs, *q_outs_n, *q_begin, *q_end;
	/* The item of the last seen row returned: a worker asks for its
	 * outputs next, and the row number saves looking the id up again. */
	char seen_id[33];
	sqlite3_int64 seen_n;
};

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE IF NOT EXISTS backend(key TEXT PRIMARY KEY, value INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS chains(writer TEXT PRIMARY KEY, size INTEGER NOT NULL,"
	" count INTEGER NOT NULL, head TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS objects(digest BLOB PRIMARY KEY, size INTEGER NOT NULL,"
	" pack INTEGER, offset INTEGER);"
	/* The item id (16 raw bytes) is the item's identity; n, the row it got
	 * here, is only this catalog's join key.  Rows referring to an item
	 * carry n: an integer that grows with each insert, so a batch appends
	 * to item_objects, attrs and their indexes instead of scattering the
	 * ids' random order through them.  The id's uniqueness stands for
	 * that of (input_digest, format, options_fp), which it is derived from. */
	"CREATE TABLE IF NOT EXISTS items(n INTEGER PRIMARY KEY, id BLOB NOT NULL UNIQUE,"
	" input_digest BLOB NOT NULL, input_size INTEGER NOT NULL, format TEXT NOT NULL,"
	" options_fp TEXT NOT NULL, writer TEXT NOT NULL, prov_seq INTEGER NOT NULL,"
	" time TEXT NOT NULL, legacy_id INTEGER);"
	"CREATE TABLE IF NOT EXISTS item_objects(item INTEGER NOT NULL, digest BLOB NOT NULL,"
	" role TEXT NOT NULL, media_type TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS item_objects_item ON item_objects(item);"
	"CREATE TABLE IF NOT EXISTS attrs(item INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS attrs_kv ON attrs(key, value);"
	"CREATE INDEX IF NOT EXISTS attrs_item ON attrs(item);"
	"CREATE TABLE IF NOT EXISTS seen(path_key BLOB PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
	" ctime_ns INTEGER, ino INTEGER, dev INTEGER, input_digest BLOB, item INTEGER);";

const char *sl_catalog_sqlite_schema(void) { return schema; }

static int db_fail(sqlite3 *db, sl_err *err)
{
	int full = sqlite3_errcode(db) == SQLITE_FULL;
	return sl_fail(err, full ? SL_E_NOSPC : SL_E_IO, "catalog: %s", sqlite3_errmsg(db));
}

static int exec(sqlite3 *db, const char *sql, sl_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		int full = sqlite3_errcode(db) == SQLITE_FULL;
		int rc = sl_fail(err, full ? SL_E_NOSPC : SL_E_IO, "catalog: %s",
				 msg ? msg : sqlite3_errmsg(db));
		sqlite3_free(msg);
		return rc;
	}
	return 0;
}

static int open_db(const char *dir, sqlite3 **db, int ro, sl_err *err)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/catalog.db", dir);
	if (!ro) {
		/* SQLite gives its -wal and -shm files the database's mode:
		 * create it group-readable at most, whatever the umask. */
		int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
		if (fd >= 0) {
			fchmod(fd, 0640);
			close(fd);
		}
	}
	int fl = ro ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	if (sqlite3_open_v2(p, db, fl | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		return sl_fail(err, SL_E_STATE, "cannot open the catalog: %s", sqlite3_errmsg(*db));
	sqlite3_busy_timeout(*db, 10000);
	/* No memory map: mapped catalog pages count in the resident size, which
	 * then grows with the catalog (a 100,000-item catalog is 60 MB), and
	 * measured on 100,000 small inputs a map was no faster than the page
	 * cache once lookups are batched in one read transaction.  The writer
	 * checkpoints every 64 MiB of log rather than every 4 MiB: the items'
	 * keys are digests, so a batch dirties pages all over the B-trees, and
	 * a rarer checkpoint writes each page once for many batches. */
	return exec(*db, ro ? "PRAGMA cache_size=-8192" : "PRAGMA synchronous=FULL;"
		    " PRAGMA cache_size=-32768; PRAGMA wal_autocheckpoint=16384", err);
}

int sl_cat_sqlite_meta(sqlite3 *db, const char *key, char *out, size_t n)
{
	sqlite3_stmt *st;
	int found = 0;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key=?", -1, &st, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
		found = 1;
	} else if (r != SQLITE_DONE) {
		found = -1;
	}
	sqlite3_finalize(st);
	return found;
}

static void cat_close(sl_catalog *c)
{
	if (!c)
		return;
	sqlite3_finalize(c->q_item);
	sqlite3_close(c->db);
	sqlite3_close(c->row_db);
	pthread_mutex_destroy(&c->row_mu);
	free(c->dir);
	free(c);
}

/* A store the catalog does not describe in its own version is refused:
 * an older one is migrated first (sluice migrate). */
static int check_version(sqlite3 *db, sl_err *err)
{
	char v[32];
	int r = sl_cat_sqlite_meta(db, "format_version", v, sizeof v);
	if (r < 0)
		return db_fail(db, err);
	if (r == 0)
		return sl_fail(err, SL_E_CORRUPT, "catalog has no format version");
	if (!strcmp(v, "1"))
		return sl_fail(err, SL_E_STATE, "this store has format version 1: run "
			       "`sluice migrate --store DIR` once to upgrade it to version "
			       SL_CATALOG_VERSION);
	if (strcmp(v, SL_CATALOG_VERSION))
		return sl_fail(err, SL_E_STATE, "unsupported catalog format version %s", v);
	return 0;
}

static int cat_open(sl_catalog **out, const char *dir, int flags, sl_err *err)
{
	sl_catalog *c = sl_xcalloc(1, sizeof *c);
	c->dir = sl_xstrdup(dir);
	c->ro = !!(flags & SL_STORE_READONLY);
	pthread_mutex_init(&c->row_mu, NULL);
	*out = NULL;
	int rc = open_db(dir, &c->db, c->ro, err);
	char v[8];
	if (rc == 0 && !c->ro && (flags & SL_STORE_CREATE) &&
	    sl_cat_sqlite_meta(c->db, "format_version", v, sizeof v) <= 0) {
		rc = exec(c->db, schema, err);
		if (rc == 0)
			rc = exec(c->db, "INSERT OR IGNORE INTO meta VALUES('format_version','"
				  SL_CATALOG_VERSION "')", err);
	}
	if (rc == 0)
		rc = check_version(c->db, err);
	if (rc == 0 && !c->ro) {
		rc = open_db(dir, &c->row_db, 0, err);
		if (rc == 0)
			sqlite3_busy_timeout(c->row_db, 60000);
	}
	if (rc == 0 && !c->ro &&
	    sqlite3_prepare_v2(c->db, "SELECT 1 FROM items WHERE id=?", -1, &c->q_item, NULL))
		rc = db_fail(c->db, err);
	if (rc < 0) {
		cat_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

static int cat_meta_get(sl_catalog *c, const char *key, char *out, size_t n, sl_err *err)
{
	int r = sl_cat_sqlite_meta(c->db, key, out, n);
	return r < 0 ? db_fail(c->db, err) : r;
}

static int cat_meta_put_now(sl_catalog *c, const char *key, const char *value, sl_err *err)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(c->db, "INSERT OR REPLACE INTO meta VALUES(?, ?)", -1, &q, NULL))
		return db_fail(c->db, err);
	sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
	int ok = sqlite3_step(q) == SQLITE_DONE;
	sqlite3_finalize(q);
	return ok ? 0 : db_fail(c->db, err);
}

/* ---- the backend's rows ---- */

static int cat_rows(sl_catalog *c, const char *prefix,
		    int (*cb)(void *ctx, const char *key, int64_t value), void *ctx, sl_err *err)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(c->db, "SELECT key, value FROM backend WHERE substr(key, 1, ?2)=?1 "
			       "ORDER BY key", -1, &q, NULL))
		return db_fail(c->db, err);
	sqlite3_bind_text(q, 1, prefix, -1, SQLITE_STATIC);
	sqlite3_bind_int(q, 2, (int)strlen(prefix));
	int r, rc = 0;
	while (rc == 0 && (r = sqlite3_step(q)) == SQLITE_ROW)
		rc = cb(ctx, (const char *)sqlite3_column_text(q, 0), sqlite3_column_int64(q, 1));
	if (rc == 0 && r != SQLITE_DONE)
		rc = db_fail(c->db, err);
	sqlite3_finalize(q);
	return rc;
}

static int row_now(sl_catalog *c, const char *sql, const char *key, int64_t value, int bind_value,
		   sl_err *err)
{
	if (!c->row_db)
		return sl_fail(err, SL_E_STATE, "catalog not open for writing");
	pthread_mutex_lock(&c->row_mu);
	sqlite3_stmt *q;
	int rc = 0;
	if (sqlite3_prepare_v2(c->row_db, sql, -1, &q, NULL) != SQLITE_OK) {
		rc = db_fail(c->row_db, err);
	} else {
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		if (bind_value)
			sqlite3_bind_int64(q, 2, value);
		if (sqlite3_step(q) != SQLITE_DONE)
			rc = db_fail(c->row_db, err);
		sqlite3_finalize(q);
	}
	pthread_mutex_unlock(&c->row_mu);
	return rc;
}

static int cat_row_put_now(sl_catalog *c, const char *key, int64_t value, sl_err *err)
{
	return row_now(c, "INSERT INTO backend(key, value) VALUES(?1, ?2) ON CONFLICT(key) DO "
		       "UPDATE SET value=excluded.value", key, value, 1, err);
}

static int cat_row_del_now(sl_catalog *c, const char *key, sl_err *err)
{
	return row_now(c, "DELETE FROM backend WHERE key=?1", key, 0, 0, err);
}

/* ---- chains ---- */

static int chain_row(sqlite3_stmt *q, struct sl_chain *ch)
{
	snprintf(ch->writer, sizeof ch->writer, "%s", (const char *)sqlite3_column_text(q, 0));
	ch->size = (uint64_t)sqlite3_column_int64(q, 1);
	ch->count = (uint64_t)sqlite3_column_int64(q, 2);
	const char *h = (const char *)sqlite3_column_text(q, 3);
	/* the writer names a file: a damaged row must not name another */
	return sl_prov_writer_ok(ch->writer) && h && strlen(h) == 64 &&
	       sl_unhex(ch->head, h, 32) == 0 ? 0 : -1;
}

static int cat_chain_get(sl_catalog *c, const char *writer, struct sl_chain *out, sl_err *err)
{
	sqlite3_stmt *q;
	memset(out, 0, sizeof *out);
	snprintf(out->writer, sizeof out->writer, "%s", writer);
	if (sqlite3_prepare_v2(c->db, "SELECT writer, size, count, head FROM chains WHERE writer=?",
			       -1, &q, NULL))
		return db_fail(c->db, err);
	sqlite3_bind_text(q, 1, writer, -1, SQLITE_STATIC);
	int r = sqlite3_step(q), rc = 0;
	if (r == SQLITE_ROW && chain_row(q, out) < 0)
		rc = sl_fail(err, SL_E_CORRUPT, "catalog: malformed head of chain %s", writer);
	else if (r != SQLITE_ROW && r != SQLITE_DONE)
		rc = db_fail(c->db, err);
	sqlite3_finalize(q);
	return rc;
}

static int cat_chains(sl_catalog *c, int (*cb)(void *ctx, const struct sl_chain *ch), void *ctx,
		      sl_err *err)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(c->db, "SELECT writer, size, count, head FROM chains ORDER BY writer",
			       -1, &q, NULL))
		return db_fail(c->db, err);
	int r, rc = 0;
	while (rc == 0 && (r = sqlite3_step(q)) == SQLITE_ROW) {
		struct sl_chain ch = {0};
		rc = chain_row(q, &ch) < 0 ? sl_fail(err, SL_E_CORRUPT, "catalog: malformed chain head")
					   : cb(ctx, &ch);
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = db_fail(c->db, err);
	sqlite3_finalize(q);
	return rc;
}

/* ---- commit ---- */

/* An item id as the catalog keeps it: 16 raw bytes.  A malformed hex id
 * binds as an empty blob, which names no item. */
static void bind_id(sqlite3_stmt *q, int col, const char *hex)
{
	uint8_t id[16];
	if (sl_unhex(id, hex, sizeof id) == 0)
		sqlite3_bind_blob(q, col, id, sizeof id, SQLITE_TRANSIENT);
	else
		sqlite3_bind_zeroblob(q, col, 0);
}

static int cat_item_exists(sl_catalog *c, const char *id, sl_err *err)
{
	sqlite3_stmt *q = c->q_item;
	sqlite3_reset(q);
	bind_id(q, 1, id);
	int r = sqlite3_step(q);
	sqlite3_reset(q);
	return r == SQLITE_ROW ? 1 : r == SQLITE_DONE ? 0 : db_fail(c->db, err);
}

static const char *const stmts[] = {
	"INSERT INTO items(id,input_digest,input_size,format,options_fp,writer,prov_seq,time) "
	"VALUES(?,?,?,?,?,?,?,?)",
	"INSERT OR IGNORE INTO objects(digest,size,pack,offset) VALUES(?,?,?,?)",
	"INSERT INTO item_objects(item,digest,role,media_type) VALUES(?,?,?,?)",
	"INSERT INTO attrs(item,key,value) VALUES(?,?,?)",
	"INSERT OR REPLACE INTO seen(path_key,size,mtime_ns,ctime_ns,ino,dev,input_digest,item) "
	"VALUES(?,?,?,?,?,?,?,(SELECT n FROM items WHERE id=?8))",
	"INSERT INTO backend(key,value) VALUES(?1,?2) ON CONFLICT(key) DO UPDATE SET "
	"value=MAX(value,excluded.value)",
	"INSERT OR REPLACE INTO chains(writer,size,count,head) VALUES(?,?,?,?)",
};
enum { Q_ITEM, Q_OBJ, Q_OUT, Q_ATTR, Q_SEEN, Q_ROW, Q_CHAIN, NSTMT };

/* Run a bound statement once.  A failure leaves the statement unreset so
 * that its error stays the connection's: every caller stops at the first
 * one, and cat_commit reports it (SQLITE_FULL as out of space). */
static int step(sqlite3_stmt *q)
{
	if (sqlite3_step(q) != SQLITE_DONE)
		return 0;
	sqlite3_reset(q);
	return 1;
}

static int exec_item(sqlite3 *db, sqlite3_stmt **q, const struct sl_item *it,
		     const char *writer, const char *time, uint64_t seq)
{
	int ok = 1;
	bind_id(q[Q_ITEM], 1, it->item_id);
	sqlite3_bind_blob(q[Q_ITEM], 2, it->input_digest, 32, SQLITE_STATIC);
	sqlite3_bind_int64(q[Q_ITEM], 3, (int64_t)it->input_size);
	sqlite3_bind_text(q[Q_ITEM], 4, it->format, -1, SQLITE_STATIC);
	sqlite3_bind_text(q[Q_ITEM], 5, it->options_fp, -1, SQLITE_STATIC);
	sqlite3_bind_text(q[Q_ITEM], 6, writer, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q[Q_ITEM], 7, (int64_t)seq);
	sqlite3_bind_text(q[Q_ITEM], 8, time, -1, SQLITE_STATIC);
	ok = ok && step(q[Q_ITEM]);
	sqlite3_int64 n = sqlite3_last_insert_rowid(db);
	for (size_t j = 0; j < it->nouts; j++) {
		const struct sl_item_output *o = &it->outs[j];
		sqlite3_bind_blob(q[Q_OBJ], 1, o->ref.digest, 32, SQLITE_STATIC);
		sqlite3_bind_int64(q[Q_OBJ], 2, (int64_t)o->ref.size);
		if (o->ref.loc.a < 0)
			sqlite3_bind_null(q[Q_OBJ], 3);
		else
			sqlite3_bind_int64(q[Q_OBJ], 3, o->ref.loc.a);
		sqlite3_bind_int64(q[Q_OBJ], 4, (int64_t)o->ref.loc.b);
		ok = ok && step(q[Q_OBJ]);
		sqlite3_bind_int64(q[Q_OUT], 1, n);
		sqlite3_bind_blob(q[Q_OUT], 2, o->ref.digest, 32, SQLITE_STATIC);
		sqlite3_bind_text(q[Q_OUT], 3, o->role, -1, SQLITE_STATIC);
		sqlite3_bind_text(q[Q_OUT], 4, o->media_type, -1, SQLITE_STATIC);
		ok = ok && step(q[Q_OUT]);
	}
	for (size_t j = 0; j < it->nattrs; j++) {
		sqlite3_bind_int64(q[Q_ATTR], 1, n);
		sqlite3_bind_text(q[Q_ATTR], 2, it->attrs[2 * j], -1, SQLITE_STATIC);
		sqlite3_bind_text(q[Q_ATTR], 3, it->attrs[2 * j + 1], -1, SQLITE_STATIC);
		ok = ok && step(q[Q_ATTR]);
	}
	return ok;
}

static int exec_seen(sqlite3_stmt *q, const struct sl_item *it)
{
	sqlite3_bind_blob(q, 1, it->seen_key, 32, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)it->stat.size);
	sqlite3_bind_int64(q, 3, (int64_t)it->stat.mtime_ns);
	sqlite3_bind_int64(q, 4, (int64_t)it->stat.ctime_ns);
	sqlite3_bind_int64(q, 5, (int64_t)it->stat.ino);
	sqlite3_bind_int64(q, 6, (int64_t)it->stat.dev);
	sqlite3_bind_blob(q, 7, it->input_digest, 32, SQLITE_STATIC);
	bind_id(q, 8, it->item_id);
	return step(q);
}

static int exec_batch(sqlite3 *db, sqlite3_stmt **q, const struct sl_cat_batch *b)
{
	int ok = 1;
	for (size_t i = 0; ok && i < b->n; i++) {
		if (b->items[i]->outcome_new)
			ok = exec_item(db, q, b->items[i], b->writer, b->time, b->seqs[i]);
		ok = ok && exec_seen(q[Q_SEEN], b->items[i]);
	}
	for (size_t i = 0; ok && b->rows && i < b->rows->n; i++) {
		sqlite3_bind_text(q[Q_ROW], 1, b->rows->v[i].key, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q[Q_ROW], 2, b->rows->v[i].value);
		ok = step(q[Q_ROW]);
	}
	if (ok && b->chain) {
		char hex[65];
		sl_hex(hex, b->chain->head, 32);
		sqlite3_bind_text(q[Q_CHAIN], 1, b->chain->writer, -1, SQLITE_STATIC);
		sqlite3_bind_int64(q[Q_CHAIN], 2, (int64_t)b->chain->size);
		sqlite3_bind_int64(q[Q_CHAIN], 3, (int64_t)b->chain->count);
		sqlite3_bind_text(q[Q_CHAIN], 4, hex, -1, SQLITE_TRANSIENT);
		ok = step(q[Q_CHAIN]);
	}
	return ok;
}

static int cat_commit(sl_catalog *c, const struct sl_cat_batch *b, sl_err *err)
{
	sqlite3_stmt *q[NSTMT] = {0};
	int rc = exec(c->db, "BEGIN IMMEDIATE", err);
	if (rc < 0)
		return rc;
	int ok = 1;
	for (size_t i = 0; i < NSTMT; i++)
		ok &= sqlite3_prepare_v2(c->db, stmts[i], -1, &q[i], NULL) == SQLITE_OK;
	ok = ok && exec_batch(c->db, q, b);
	if (!ok)
		rc = db_fail(c->db, err);
	for (size_t i = 0; i < NSTMT; i++)
		sqlite3_finalize(q[i]);
	if (rc == 0)
		rc = exec(c->db, "COMMIT", err);
	if (rc < 0)
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* ---- per-thread lookups ---- */

#define SQL_SEEN "SELECT s.size, s.mtime_ns, s.ctime_ns, s.ino, s.dev, s.input_digest, i.id, i.n " \
	"FROM seen s LEFT JOIN items i ON i.n=s.item WHERE s.path_key=?"
#define SQL_OBJECT "SELECT size, pack, offset FROM objects WHERE digest=?"
/* an item's outputs, by its row (SQL_OUTPUTS_N) or by its id */
#define SQL_OUTPUTS_OF(item) "SELECT io.digest, o.size, o.pack, o.offset, io.role, " \
	"io.media_type FROM item_objects io LEFT JOIN objects o ON o.digest=io.digest " \
	"WHERE io.item=" item " ORDER BY io.rowid"
#define SQL_OUTPUTS_N SQL_OUTPUTS_OF("?1")
#define SQL_OUTPUTS SQL_OUTPUTS_OF("(SELECT n FROM items WHERE id=?1)")

static void reader_free(sl_cat_reader *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->q_seen);
	sqlite3_finalize(r->q_obj);
	sqlite3_finalize(r->q_outs);
	sqlite3_finalize(r->q_outs_n);
	sqlite3_finalize(r->q_begin);
	sqlite3_finalize(r->q_end);
	sqlite3_close(r->db);
	free(r);
}

static int reader_new(sl_catalog *c, sl_cat_reader **out, sl_err *err)
{
	sl_cat_reader *r = sl_xcalloc(1, sizeof *r);
	int rc = open_db(c->dir, &r->db, 1, err);
	if (rc == 0 && (sqlite3_prepare_v2(r->db, SQL_SEEN, -1, &r->q_seen, NULL) ||
			sqlite3_prepare_v2(r->db, SQL_OBJECT, -1, &r->q_obj, NULL) ||
			sqlite3_prepare_v2(r->db, SQL_OUTPUTS, -1, &r->q_outs, NULL) ||
			sqlite3_prepare_v2(r->db, SQL_OUTPUTS_N, -1, &r->q_outs_n, NULL) ||
			sqlite3_prepare_v2(r->db, "BEGIN", -1, &r->q_begin, NULL) ||
			sqlite3_prepare_v2(r->db, "COMMIT", -1, &r->q_end, NULL)))
		rc = db_fail(r->db, err);
	if (rc < 0) {
		reader_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

static void reader_begin(sl_cat_reader *r)
{
	r->seen_id[0] = 0;
	sqlite3_step(r->q_begin);
	sqlite3_reset(r->q_begin);
}

static void reader_end(sl_cat_reader *r)
{
	if (!sqlite3_get_autocommit(r->db)) {
		sqlite3_step(r->q_end);
		sqlite3_reset(r->q_end);
	}
}

static void copy_id(char out[33], sqlite3_stmt *q, int col)
{
	*out = 0;
	if (sqlite3_column_bytes(q, col) == 16)
		sl_hex(out, sqlite3_column_blob(q, col), 16);
}

static int seen_get(sl_cat_reader *r, const uint8_t key[32], struct sl_seen *out, sl_err *err)
{
	sqlite3_stmt *q = r->q_seen;
	sqlite3_reset(q);
	sqlite3_bind_blob(q, 1, key, 32, SQLITE_STATIC);
	int s = sqlite3_step(q), found = 0;
	if (s == SQLITE_ROW && sqlite3_column_bytes(q, 5) == 32) {
		out->size = (uint64_t)sqlite3_column_int64(q, 0);
		out->mtime_ns = (uint64_t)sqlite3_column_int64(q, 1);
		out->ctime_ns = (uint64_t)sqlite3_column_int64(q, 2);
		out->ino = (uint64_t)sqlite3_column_int64(q, 3);
		out->dev = (uint64_t)sqlite3_column_int64(q, 4);
		memcpy(out->input_digest, sqlite3_column_blob(q, 5), 32);
		copy_id(out->item_id, q, 6);
		memcpy(r->seen_id, out->item_id, sizeof r->seen_id);
		r->seen_n = sqlite3_column_int64(q, 7);
		found = 1;
	} else if (s == SQLITE_ROW) {
		found = sl_fail(err, SL_E_CORRUPT, "catalog: malformed re-ingest cache row");
	} else if (s != SQLITE_DONE) {
		found = db_fail(r->db, err);
	}
	sqlite3_reset(q); /* a reader left mid-statement would pin the WAL */
	return found;
}

static void loc_of(sqlite3_stmt *q, int col, struct sl_loc *loc)
{
	loc->a = sqlite3_column_type(q, col) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, col);
	loc->b = (uint64_t)sqlite3_column_int64(q, col + 1);
}

static int object_lookup(sqlite3 *db, sqlite3_stmt *q, const uint8_t d[32], struct sl_objref *ref,
			 sl_err *err)
{
	sqlite3_reset(q);
	sqlite3_bind_blob(q, 1, d, 32, SQLITE_STATIC);
	int s = sqlite3_step(q), found = 0;
	if (s == SQLITE_ROW) {
		memset(ref, 0, sizeof *ref);
		memcpy(ref->digest, d, 32);
		ref->size = (uint64_t)sqlite3_column_int64(q, 0);
		loc_of(q, 1, &ref->loc);
		found = 1;
	} else if (s != SQLITE_DONE) {
		found = db_fail(db, err);
	}
	sqlite3_reset(q);
	return found;
}

static int object_get(sl_cat_reader *r, const uint8_t d[32], struct sl_objref *ref, sl_err *err)
{
	return object_lookup(r->db, r->q_obj, d, ref, err);
}

/* An item's outputs in one allocation: the array, then role\0media\0 each. */
/* q is SQL_OUTPUTS or SQL_OUTPUTS_N, bound. */
static int outputs_of(sqlite3 *db, sqlite3_stmt *q, struct sl_item_output **outs, sl_err *err)
{
	*outs = NULL;
	sl_buf strs;
	struct sl_item_output *o = NULL;
	int n = 0, s;
	sl_buf_init(&strs);
	while ((s = sqlite3_step(q)) == SQLITE_ROW && sqlite3_column_bytes(q, 0) == 32) {
		o = sl_xrealloc(o, (size_t)(n + 1) * sizeof *o);
		memset(&o[n], 0, sizeof o[n]);
		memcpy(o[n].ref.digest, sqlite3_column_blob(q, 0), 32);
		o[n].ref.size = (uint64_t)sqlite3_column_int64(q, 1);
		loc_of(q, 2, &o[n].ref.loc);
		for (int c = 4; c <= 5; c++) {
			const char *t = (const char *)sqlite3_column_text(q, c);
			sl_buf_add(&strs, t ? t : "", strlen(t ? t : "") + 1);
		}
		n++;
	}
	int bad = s != SQLITE_DONE && s != SQLITE_ROW;
	sqlite3_reset(q);
	if (bad) {
		free(o);
		sl_buf_free(&strs);
		return db_fail(db, err);
	}
	size_t arr = (size_t)n * sizeof *o;
	*outs = sl_xrealloc(o, arr + strs.len + 1);
	if (strs.len)
		memcpy((char *)*outs + arr, strs.data, strs.len);
	const char *t = (const char *)*outs + arr;
	for (int i = 0; i < n; i++) {
		(*outs)[i].role = t;
		t += strlen(t) + 1;
		(*outs)[i].media_type = t;
		t += strlen(t) + 1;
	}
	sl_buf_free(&strs);
	return n;
}

static int item_outputs(sl_cat_reader *r, const char *id, struct sl_item_output **outs, sl_err *err)
{
	sqlite3_stmt *q = r->q_outs;
	if (r->seen_id[0] && !strcmp(id, r->seen_id)) {
		q = r->q_outs_n;
		sqlite3_reset(q);
		sqlite3_bind_int64(q, 1, r->seen_n);
	} else {
		sqlite3_reset(q);
		bind_id(q, 1, id);
	}
	return outputs_of(r->db, q, outs, err);
}

/* ---- queries ---- */

static int snapshot_begin(sl_catalog *c, sl_err *err) { return exec(c->db, "BEGIN", err); }

static void snapshot_end(sl_catalog *c)
{
	if (!sqlite3_get_autocommit(c->db))
		sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL);
}

static void view_free(struct sl_item_view *v)
{
	for (size_t i = 0; i < 2 * v->nattrs; i++)
		free((char *)v->attrs[i]);
	free(v->attrs);
	free(v->outs);
}

static void view_attrs(sqlite3_stmt *qa, sqlite3_int64 n, struct sl_item_view *v)
{
	sqlite3_reset(qa);
	sqlite3_bind_int64(qa, 1, n);
	while (sqlite3_step(qa) == SQLITE_ROW) {
		v->attrs = sl_xrealloc(v->attrs, (v->nattrs + 1) * 2 * sizeof *v->attrs);
		v->attrs[2 * v->nattrs] = sl_xstrdup((const char *)sqlite3_column_text(qa, 0));
		v->attrs[2 * v->nattrs + 1] = sl_xstrdup((const char *)sqlite3_column_text(qa, 1));
		v->nattrs++;
	}
}

static int cat_items(sl_catalog *c, const char *key, const char *value,
		     int (*cb)(void *ctx, const struct sl_item_view *v), void *ctx, sl_err *err)
{
#define ITEM_COLS "SELECT id, format, input_digest, input_size, time, n FROM items "
	const char *sql = !key ? ITEM_COLS "ORDER BY id"
		: !strcmp(key, "format") ? ITEM_COLS "WHERE format=?2 AND ?1=?1 ORDER BY id"
		: ITEM_COLS "WHERE n IN (SELECT item FROM attrs WHERE key=? AND value=?) ORDER BY id";
	sqlite3_stmt *q = NULL, *qa = NULL, *qo = NULL;
	if (sqlite3_prepare_v2(c->db, sql, -1, &q, NULL) ||
	    sqlite3_prepare_v2(c->db, "SELECT key, value FROM attrs WHERE item=? ORDER BY rowid",
			       -1, &qa, NULL) ||
	    sqlite3_prepare_v2(c->db, SQL_OUTPUTS_N, -1, &qo, NULL)) {
		int rc = db_fail(c->db, err);
		sqlite3_finalize(q);
		sqlite3_finalize(qa);
		sqlite3_finalize(qo);
		return rc;
	}
	if (key) {
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
	}
	int rc = 0, s;
	while (rc == 0 && (s = sqlite3_step(q)) == SQLITE_ROW) {
		struct sl_item_view v = {0};
		char hex[65] = "", id[33];
		copy_id(id, q, 0);
		v.id = id;
		v.format = (const char *)sqlite3_column_text(q, 1);
		if (sqlite3_column_bytes(q, 2) == 32)
			sl_hex(hex, sqlite3_column_blob(q, 2), 32);
		v.input_digest = hex;
		v.input_size = (uint64_t)sqlite3_column_int64(q, 3);
		v.time = (const char *)sqlite3_column_text(q, 4);
		sqlite3_int64 n = sqlite3_column_int64(q, 5);
		view_attrs(qa, n, &v);
		sqlite3_reset(qo);
		sqlite3_bind_int64(qo, 1, n);
		int no = outputs_of(c->db, qo, &v.outs, err);
		rc = no < 0 ? no : 0;
		v.nouts = no > 0 ? (size_t)no : 0;
		if (rc == 0)
			rc = cb(ctx, &v);
		view_free(&v);
	}
	if (rc == 0 && s != SQLITE_DONE)
		rc = db_fail(c->db, err);
	sqlite3_finalize(q);
	sqlite3_finalize(qa);
	sqlite3_finalize(qo);
	return rc;
}

static int cat_objects(sl_catalog *c, int (*cb)(void *ctx, const struct sl_objref *ref), void *ctx,
		       sl_err *err)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(c->db, "SELECT digest, size, pack, offset FROM objects "
			       "ORDER BY pack, offset", -1, &q, NULL))
		return db_fail(c->db, err);
	int rc = 0, s;
	while (rc == 0 && (s = sqlite3_step(q)) == SQLITE_ROW) {
		struct sl_objref ref = {0};
		if (sqlite3_column_bytes(q, 0) != 32) {
			ref.size = UINT64_MAX; /* verify reports a malformed row */
		} else {
			memcpy(ref.digest, sqlite3_column_blob(q, 0), 32);
			ref.size = (uint64_t)sqlite3_column_int64(q, 1);
		}
		loc_of(q, 2, &ref.loc);
		rc = cb(ctx, &ref);
	}
	if (rc == 0 && s != SQLITE_DONE)
		rc = db_fail(c->db, err);
	sqlite3_finalize(q);
	return rc;
}

static int cat_item_records(sl_catalog *c, int (*cb)(void *ctx, const struct sl_cat_item *it),
			    void *ctx, sl_err *err)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(c->db, "SELECT id, writer, prov_seq, legacy_id FROM items ORDER BY id",
			       -1, &q, NULL))
		return db_fail(c->db, err);
	int rc = 0, s;
	while (rc == 0 && (s = sqlite3_step(q)) == SQLITE_ROW) {
		char id[33];
		copy_id(id, q, 0);
		struct sl_cat_item it = {
			.id = id,
			.writer = (const char *)sqlite3_column_text(q, 1),
			.seq = (uint64_t)sqlite3_column_int64(q, 2),
			.legacy_id = sqlite3_column_int64(q, 3),
		};
		if (!it.writer)
			it.writer = "";
		rc = cb(ctx, &it);
	}
	if (rc == 0 && s != SQLITE_DONE)
		rc = db_fail(c->db, err);
	sqlite3_finalize(q);
	return rc;
}

static void cat_check(sl_catalog *c, void (*problem)(void *ctx, const char *msg), void *ctx)
{
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(c->db, "PRAGMA quick_check", -1, &q, NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(q, 0), "ok"))
			problem(ctx, "catalog: sqlite integrity check failed");
		sqlite3_finalize(q);
	}
	if (sqlite3_prepare_v2(c->db, "SELECT COUNT(*) FROM item_objects io LEFT JOIN objects o "
			       "ON o.digest=io.digest WHERE o.digest IS NULL", -1, &q, NULL) == SQLITE_OK) {
		char msg[120];
		if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 0)) {
			snprintf(msg, sizeof msg, "catalog: %lld item output(s) name no stored object",
				 (long long)sqlite3_column_int64(q, 0));
			problem(ctx, msg);
		}
		sqlite3_finalize(q);
	}
}

const struct sl_catalog_ops sl_catalog_sqlite = {
	.name = "sqlite",
	.open = cat_open,
	.close = cat_close,
	.meta_get = cat_meta_get,
	.meta_put_now = cat_meta_put_now,
	.rows = cat_rows,
	.row_put_now = cat_row_put_now,
	.row_del_now = cat_row_del_now,
	.chain_get = cat_chain_get,
	.chains = cat_chains,
	.item_exists = cat_item_exists,
	.commit = cat_commit,
	.reader_new = reader_new,
	.reader_free = reader_free,
	.reader_begin = reader_begin,
	.reader_end = reader_end,
	.seen_get = seen_get,
	.object_get = object_get,
	.item_outputs = item_outputs,
	.snapshot_begin = snapshot_begin,
	.snapshot_end = snapshot_end,
	.items = cat_items,
	.objects = cat_objects,
	.item_records = cat_item_records,
	.check = cat_check,
};
