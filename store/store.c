/*
 * store.c: opening a store: layout, lock, catalog schema, and the repair a
 * crash can require (temp files, uncommitted pack tails, torn or
 * uncommitted provenance).  docs/store-format.md describes the result.
 */
#include "store_impl.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static const char schema[] =
	"PRAGMA journal_mode=WAL;"
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
	"CREATE TABLE IF NOT EXISTS packs(id INTEGER PRIMARY KEY, committed_size INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS objects(digest BLOB PRIMARY KEY, size INTEGER NOT NULL,"
	" pack INTEGER, offset INTEGER);"
	"CREATE TABLE IF NOT EXISTS items(id INTEGER PRIMARY KEY, input_digest BLOB NOT NULL,"
	" input_size INTEGER NOT NULL, format TEXT NOT NULL, options_fp TEXT NOT NULL,"
	" prov_seq INTEGER NOT NULL, time TEXT NOT NULL,"
	" UNIQUE(input_digest, format, options_fp));"
	"CREATE TABLE IF NOT EXISTS item_objects(item_id INTEGER NOT NULL, digest BLOB NOT NULL,"
	" role TEXT NOT NULL, media_type TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS item_objects_item ON item_objects(item_id);"
	"CREATE TABLE IF NOT EXISTS attrs(item_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS attrs_kv ON attrs(key, value);"
	"CREATE INDEX IF NOT EXISTS attrs_item ON attrs(item_id);"
	"CREATE TABLE IF NOT EXISTS seen(path_key BLOB PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
	" ctime_ns INTEGER, ino INTEGER, dev INTEGER, input_digest BLOB, item_id INTEGER);";

int sl_store_sql(sqlite3 *db, const char *sql, sl_err *err)
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

int sl_store_meta_get(sqlite3 *db, const char *key, char *out, size_t n)
{
	sqlite3_stmt *st;
	int found = 0;
	if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key=?", -1, &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		snprintf(out, n, "%s", (const char *)sqlite3_column_text(st, 0));
		found = 1;
	}
	sqlite3_finalize(st);
	return found;
}

int sl_store_bind_key(sl_store *st, const char *key_fp, sl_err *err)
{
	char have[80];
	if (sl_store_meta_get(st->db, "key_fp", have, sizeof have)) {
		if (strcmp(have, key_fp))
			return sl_fail(err, SL_E_USAGE, "this store's pseudonyms were made with the key "
				       "whose fingerprint is %s, not %s: use that key, or another store",
				       have, key_fp);
		return 0;
	}
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(st->db, "INSERT INTO meta VALUES('key_fp', ?)", -1, &q, NULL) != SQLITE_OK)
		return sl_fail(err, SL_E_STATE, "catalog: %s", sqlite3_errmsg(st->db));
	sqlite3_bind_text(q, 1, key_fp, -1, SQLITE_STATIC);
	int ok = sqlite3_step(q) == SQLITE_DONE;
	sqlite3_finalize(q);
	if (!ok)
		return sl_fail(err, sqlite3_errcode(st->db) == SQLITE_FULL ? SL_E_NOSPC : SL_E_STATE,
			       "catalog: %s", sqlite3_errmsg(st->db));
	return 0;
}

static char *path2(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = sl_xmalloc(n);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

char *sl_store_path(const sl_store *st, const char *name) { return path2(st->dir, name); }

void sl_object_path(const sl_store *st, const uint8_t d[32], char *out, size_t n)
{
	char hex[65];
	sl_hex(hex, d, 32);
	snprintf(out, n, "%s/objects/%.2s/%s", st->dir, hex, hex);
}

void sl_pack_path(const sl_store *st, int64_t id, char *out, size_t n)
{
	snprintf(out, n, "%s/packs/pack-%08lld.pack", st->dir, (long long)id);
}

static int mkdir_mode(const char *p)
{
	if (mkdir(p, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int check_format(const char *dir, sl_err *err)
{
	char *f = path2(dir, "FORMAT");
	char buf[32] = {0};
	int fd = open(f, O_RDONLY | O_CLOEXEC);
	free(f);
	if (fd < 0)
		return sl_fail(err, SL_E_STATE, "not a sluice store (no FORMAT file)");
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0 || strncmp(buf, "sluice-store 1\n", 15))
		return sl_fail(err, SL_E_STATE, "unsupported store format");
	return 0;
}

static int open_db(sl_store *st, sqlite3 **db, int ro, sl_err *err)
{
	char *p = path2(st->dir, "catalog.db");
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
	int rc = sqlite3_open_v2(p, db, fl | SQLITE_OPEN_NOMUTEX, NULL);
	free(p);
	if (rc != SQLITE_OK)
		return sl_fail(err, SL_E_STATE, "cannot open the catalog: %s", sqlite3_errmsg(*db));
	sqlite3_busy_timeout(*db, 10000);
	/* No memory map: mapped catalog pages count in the resident size, which
	 * then grows with the catalog (a 100,000-item catalog is 60 MB), and
	 * measured on 100,000 small inputs a map was no faster than the page
	 * cache once lookups are batched in one read transaction.  The writer
	 * checkpoints every 64 MiB of log rather than every 4 MiB: the items'
	 * keys are digests, so a batch dirties pages all over the B-trees, and
	 * a rarer checkpoint writes each page once for many batches. */
	if (ro)
		rc = sl_store_sql(*db, "PRAGMA cache_size=-8192", err);
	else
		rc = sl_store_sql(*db, "PRAGMA synchronous=FULL; PRAGMA cache_size=-32768;"
				  " PRAGMA wal_autocheckpoint=16384", err);
	return rc;
}

static int init_meta(sl_store *st, sl_err *err)
{
	int rc = sl_store_sql(st->db, schema, err);
	if (rc < 0)
		return rc;
	char v[80];
	if (!sl_store_meta_get(st->db, "store_id", v, sizeof v)) {
		uint8_t id[16];
		if (RAND_bytes(id, sizeof id) != 1)
			return sl_fail(err, SL_E_STATE, "no randomness for a store id");
		char hex[33], sql[512];
		sl_hex(hex, id, 16);
		snprintf(sql, sizeof sql,
			 "INSERT INTO meta VALUES('format_version','1'),('store_id','%s'),"
			 "('prov_size','0'),('prov_count','0'),"
			 "('prov_head','%064d')", hex, 0);
		if ((rc = sl_store_sql(st->db, sql, err)) < 0)
			return rc;
	}
	return 0;
}

int sl_store_load_meta(sl_store *st, sl_err *err)
{
	char v[80];
	if (!sl_store_meta_get(st->db, "store_id", st->id, sizeof st->id))
		return sl_fail(err, SL_E_CORRUPT, "catalog has no store id");
	if (!sl_store_meta_get(st->db, "prov_size", v, sizeof v))
		return sl_fail(err, SL_E_CORRUPT, "catalog has no provenance size");
	st->prov_size = strtoull(v, NULL, 10);
	sl_store_meta_get(st->db, "prov_count", v, sizeof v);
	st->prov_count = strtoull(v, NULL, 10);
	if (!sl_store_meta_get(st->db, "prov_head", v, sizeof v) || sl_unhex(st->prov_head, v, 32) < 0)
		return sl_fail(err, SL_E_CORRUPT, "catalog has no provenance head");
	return 0;
}

/* Remove what is in folder fd, folders too (an ingest's views, a few
 * levels deep at most); returns how many entries went. */
static uint64_t empty_dir(int fd, int depth)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	uint64_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0) {
			n++;
			continue;
		}
		int sub = depth < 4 && errno == EISDIR ?
			  openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
		if (sub >= 0)
			n += empty_dir(sub, depth + 1);
		if (sub >= 0 && unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static int clean_tmp(sl_store *st, struct sl_store_open_info *info)
{
	char *t = path2(st->dir, "tmp");
	int fd = open(t, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		info->removed_tmp += empty_dir(fd, 0);
	free(t);
	return 0;
}

static int64_t pack_id_of(const char *name)
{
	long long id;
	char tail;
	if (sscanf(name, "pack-%lld.pac%c", &id, &tail) == 2 && tail == 'k' &&
	    strlen(name) == strlen("pack-00000000.pack"))
		return id;
	return -1;
}

/* The highest pack id named by a file in packs/ (0 if none). */
static int64_t max_pack_file(sl_store *st)
{
	char *dir = sl_store_path(st, "packs");
	DIR *d = opendir(dir);
	free(dir);
	int64_t maxid = 0;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		int64_t id = pack_id_of(de->d_name);
		if (id > maxid)
			maxid = id;
	}
	if (d)
		closedir(d);
	return maxid;
}

/* Cut one pack back to its committed end, or remove it when nothing in it
 * was ever committed.  A pack shorter than committed is damage: left for
 * verify to report. */
static int repair_pack(sl_store *st, int64_t id, int64_t committed,
		       struct sl_store_open_info *info, sl_err *err)
{
	char p[4096];
	sl_pack_path(st, id, p, sizeof p);
	if (committed == 0) {
		if (unlink(p) == 0)
			info->truncated_packs++;
		else if (errno != ENOENT)
			return sl_fail_errno(err, SL_E_IO, errno, "cannot remove pack %lld", (long long)id);
		return 0;
	}
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0 || sb.st_size <= committed) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	int rc = 0;
	if (ftruncate(fd, committed) < 0 || fsync(fd) < 0)
		rc = sl_fail_errno(err, SL_E_IO, errno, "cannot repair pack %lld", (long long)id);
	close(fd);
	info->truncated_packs++;
	return rc;
}

/* Every pack a run makes has a catalog row before its file exists, so the
 * rows say what to repair.  A file without a row was not made by sluice:
 * it is left alone, but its id is never reused. */
static int repair_packs(sl_store *st, struct sl_store_open_info *info, sl_err *err)
{
	int64_t maxid = max_pack_file(st);
	sqlite3_stmt *q;
	if (sqlite3_prepare_v2(st->db, "SELECT id, committed_size FROM packs ORDER BY id", -1, &q,
			       NULL) != SQLITE_OK)
		return sl_fail(err, SL_E_STATE, "catalog: %s", sqlite3_errmsg(st->db));
	int rc = 0, empty = 0;
	while (rc == 0 && sqlite3_step(q) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(q, 0), committed = sqlite3_column_int64(q, 1);
		if (id > maxid)
			maxid = id;
		empty += committed == 0;
		rc = repair_pack(st, id, committed, info, err);
	}
	sqlite3_finalize(q);
	st->next_pack = maxid + 1;
	if (rc < 0 || !empty)
		return rc;
	/* The removals must be durable before the rows go, or a crash could
	 * bring back a file no row names. */
	char *dir = sl_store_path(st, "packs");
	rc = sl_fsync_dir(dir);
	free(dir);
	if (rc < 0)
		return sl_fail_errno(err, SL_E_IO, -rc, "cannot fsync the packs folder");
	return sl_store_sql(st->db, "DELETE FROM packs WHERE committed_size=0", err);
}

static int repair_prov(sl_store *st, struct sl_store_open_info *info, sl_err *err)
{
	char *p = path2(st->dir, "provenance.jsonl");
	st->prov_fd = open(p, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	free(p);
	if (st->prov_fd < 0)
		return sl_fail_errno(err, SL_E_STATE, errno, "cannot open the provenance log");
	struct stat sb;
	fstat(st->prov_fd, &sb);
	if ((uint64_t)sb.st_size > st->prov_size) {
		/* A torn line or records of a batch the catalog never committed. */
		if (ftruncate(st->prov_fd, (off_t)st->prov_size) < 0 || fsync(st->prov_fd) < 0)
			return sl_fail_errno(err, SL_E_IO, errno, "cannot repair the provenance log");
		info->repaired_prov = (int)((uint64_t)sb.st_size - st->prov_size);
	}
	/* A log shorter than committed is damage for verify to report, not
	 * something to paper over: refuse to append to it. */
	if ((uint64_t)sb.st_size < st->prov_size)
		return sl_fail(err, SL_E_CORRUPT, "the provenance log is shorter than the catalog "
			       "records (%llu < %llu bytes): run sluice verify",
			       (unsigned long long)sb.st_size, (unsigned long long)st->prov_size);
	return 0;
}

/* A second writing connection for pack ids: workers record them while the
 * committer's connection may be inside a transaction (SQLite serialises the
 * two; a pack is made once per GiB written, so the wait is rare). */
static int open_alloc_db(sl_store *st, sl_err *err)
{
	int rc = open_db(st, &st->alloc_db, 0, err);
	if (rc < 0)
		return rc;
	sqlite3_busy_timeout(st->alloc_db, 60000);
	if (sqlite3_prepare_v2(st->alloc_db, "INSERT INTO packs(id, committed_size) VALUES(?, 0)",
			       -1, &st->q_pack, NULL) != SQLITE_OK)
		return sl_fail(err, SL_E_STATE, "catalog: %s", sqlite3_errmsg(st->alloc_db));
	return 0;
}

static int open_writable(sl_store *st, unsigned slots, struct sl_store_open_info *info, sl_err *err)
{
	char *lp = path2(st->dir, "lock");
	st->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	free(lp);
	if (st->lock_fd < 0)
		return sl_fail_errno(err, SL_E_STATE, errno, "cannot open the store lock");
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return sl_fail(err, SL_E_STATE, "store is in use by another sluice process");
	int rc = open_db(st, &st->db, 0, err);
	if (rc == 0)
		rc = init_meta(st, err);
	if (rc == 0)
		rc = sl_store_load_meta(st, err);
	if (rc == 0)
		rc = clean_tmp(st, info);
	if (rc == 0)
		rc = repair_packs(st, info, err);
	if (rc == 0)
		rc = repair_prov(st, info, err);
	st->nslots = slots ? slots : 1;
	st->slots = sl_xcalloc(st->nslots, sizeof *st->slots);
	for (unsigned i = 0; rc == 0 && i < st->nslots; i++) {
		struct slot *s = &st->slots[i];
		s->pack_fd = -1;
		rc = open_db(st, &s->rdb, 1, err);
		if (rc == 0 && (sqlite3_prepare_v2(s->rdb, SL_SQL_SEEN, -1, &s->q_seen, NULL) ||
				sqlite3_prepare_v2(s->rdb, SL_SQL_OBJECT, -1, &s->q_obj, NULL) ||
				sqlite3_prepare_v2(s->rdb, SL_SQL_OUTPUTS, -1, &s->q_outs, NULL) ||
				sqlite3_prepare_v2(s->rdb, "BEGIN", -1, &s->q_begin, NULL) ||
				sqlite3_prepare_v2(s->rdb, "COMMIT", -1, &s->q_end, NULL)))
			rc = sl_fail(err, SL_E_STATE, "catalog: %s", sqlite3_errmsg(s->rdb));
	}
	if (rc == 0 && sqlite3_prepare_v2(st->db, SL_SQL_ITEM, -1, &st->q_item, NULL))
		rc = sl_fail(err, SL_E_STATE, "catalog: %s", sqlite3_errmsg(st->db));
	if (rc == 0)
		rc = open_alloc_db(st, err);
	st->set = sl_xcalloc(4096, sizeof *st->set);
	return rc;
}

static int create_layout(const char *dir)
{
	static const char *const sub[] = {"packs", "objects", "tmp"};
	int rc = mkdir_mode(dir);
	for (size_t i = 0; rc == 0 && i < 3; i++) {
		char *p = path2(dir, sub[i]);
		rc = mkdir_mode(p);
		free(p);
	}
	return rc;
}

/* FORMAT is written last: a folder without it is not yet a store, so a
 * creation cut short (ENOSPC, a crash) is finished by the next run. */
static int write_format(const char *dir)
{
	char *f = path2(dir, "FORMAT");
	int rc = 0, fd = open(f, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd >= 0) {
		rc = sl_write_all(fd, "sluice-store 1\n", 15);
		if (rc == 0 && fsync(fd) < 0)
			rc = -errno;
		close(fd);
		if (rc < 0)
			unlink(f);
	} else if (errno != EEXIST) {
		rc = -errno;
	}
	free(f);
	return rc == 0 ? sl_fsync_dir(dir) : rc;
}

static int build_store(const char *dir, sl_err *err)
{
	int rc = create_layout(dir);
	if (rc < 0)
		return sl_fail_errno(err, SL_E_STATE, -rc,
				     "cannot create the store layout");
	sl_store tmp = {.dir = (char *)dir};
	rc = open_db(&tmp, &tmp.db, 0, err);
	if (rc == 0)
		rc = init_meta(&tmp, err);
	if (tmp.db && sqlite3_close(tmp.db) != SQLITE_OK && rc == 0)
		rc = sl_fail(err, SL_E_STATE, "cannot close the new catalog");
	if (rc == 0 && (rc = write_format(dir)) < 0)
		rc = sl_fail_errno(err, SL_E_STATE, -rc,
				   "cannot create the store");
	return rc;
}

static void remove_unfinished(const char *dir)
{
	static const char *const names[] = {"FORMAT", "catalog.db", "catalog.db-wal",
					    "catalog.db-shm", "packs", "objects", "tmp"};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char *p = path2(dir, names[i]);
		if (unlink(p) < 0 && errno == EISDIR)
			rmdir(p);
		free(p);
	}
	rmdir(dir);
}

/* A new store is built beside its final name and renamed into place, so
 * the name never shows a half-made store; a folder that exists already is
 * completed in place. */
static int create_store(const char *dir, sl_err *err)
{
	char *f = path2(dir, "FORMAT");
	int have = access(f, F_OK) == 0;
	free(f);
	if (have)
		return 0;
	struct stat sb;
	if (stat(dir, &sb) == 0)
		return build_store(dir, err);
	char *tmp = sl_xmalloc(strlen(dir) + 32);
	sprintf(tmp, "%s.new-%ld", dir, (long)getpid());
	remove_unfinished(tmp);
	int rc = build_store(tmp, err);
	if (rc == 0 && rename(tmp, dir) < 0 && errno != EEXIST && errno != ENOTEMPTY)
		rc = sl_fail_errno(err, SL_E_STATE, errno, "cannot create the store");
	if (rc == 0) {
		char *parent = sl_xstrdup(dir), *slash = strrchr(parent, '/');
		if (slash)
			slash[slash == parent] = 0;
		rc = sl_fsync_dir(slash ? parent : ".");
		free(parent);
		if (rc < 0)
			rc = sl_fail_errno(err, SL_E_STATE, -rc, "cannot create the store");
	}
	remove_unfinished(tmp); /* after a lost race: another process made it */
	free(tmp);
	return rc;
}

int sl_store_open(sl_store **out, const char *dir, int flags, unsigned slots,
		  struct sl_store_open_info *info, sl_err *err)
{
	struct sl_store_open_info dummy;
	if (!info)
		info = &dummy;
	memset(info, 0, sizeof *info);
	*out = NULL;
	sl_store *st = sl_xcalloc(1, sizeof *st);
	st->dir = sl_xstrdup(dir);
	st->flags = flags;
	st->lock_fd = st->prov_fd = -1;
	pthread_mutex_init(&st->mu, NULL);
	pthread_mutex_init(&st->alloc_mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	int rc = 0;
	struct stat sb;
	if (stat(dir, &sb) < 0 && !(flags & SL_STORE_CREATE))
		rc = sl_fail(err, SL_E_STATE, "no store here");
	else if ((flags & SL_STORE_CREATE) && !(flags & SL_STORE_READONLY))
		rc = create_store(dir, err);
	if (rc == 0)
		rc = check_format(dir, err);
	if (rc == 0 && (flags & SL_STORE_READONLY)) {
		rc = open_db(st, &st->db, 1, err);
		if (rc == 0)
			rc = sl_store_load_meta(st, err);
	} else if (rc == 0) {
		rc = open_writable(st, slots, info, err);
	}
	if (rc < 0) {
		sl_store_close(st);
		return rc;
	}
	*out = st;
	return 0;
}

void sl_store_close(sl_store *st)
{
	if (!st)
		return;
	for (unsigned i = 0; i < st->nslots; i++) {
		struct slot *s = &st->slots[i];
		if (s->pack_fd >= 0)
			close(s->pack_fd);
		for (int j = 0; j < s->nold; j++)
			close(s->old_fds[j]);
		free(s->pend);
		free(s->claims);
		sqlite3_finalize(s->q_seen);
		sqlite3_finalize(s->q_obj);
		sqlite3_finalize(s->q_outs);
		sqlite3_finalize(s->q_begin);
		sqlite3_finalize(s->q_end);
		sqlite3_close(s->rdb);
	}
	free(st->slots);
	if (st->set) {
		for (int i = 0; i < 4096; i++)
			for (struct inrun *e = st->set[i], *n; e; e = n) {
				n = e->next;
				free(e);
			}
		free(st->set);
	}
	for (size_t i = 0; i < st->ndirty_dirs; i++)
		free(st->dirty_dirs[i]);
	free(st->dirty_dirs);
	sqlite3_finalize(st->q_item);
	sqlite3_close(st->db);
	sqlite3_finalize(st->q_pack);
	sqlite3_close(st->alloc_db);
	if (st->prov_fd >= 0)
		close(st->prov_fd);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	pthread_mutex_destroy(&st->mu);
	pthread_mutex_destroy(&st->alloc_mu);
	pthread_cond_destroy(&st->cv);
	free(st->dir);
	free(st);
}
