/*
 * migrate.c: a store of format version 1 (one chain, integer item ids,
 * packs in the catalog's own table) upgraded in place to version 2.  The
 * provenance records are kept byte for byte (provenance.jsonl becomes the
 * chain of writer "main"; a hard link first, so the bytes never move), the
 * items get their derived ids and keep their old numbers (legacy_id) for
 * the records that name them, the pack table becomes the local backend's
 * rows.  One catalog transaction; FORMAT is rewritten after it, so a
 * migration cut short is finished by running it again.
 */
#include "store_impl.h"
#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int sl_cat_sqlite_meta(sqlite3 *db, const char *key, char *out, size_t n);
const char *sl_catalog_sqlite_schema(void);

/* sl_item_id() as an SQL function, for the items' new ids */
static void sql_item_id(sqlite3_context *cx, int argc, sqlite3_value **argv)
{
	(void)argc;
	if (sqlite3_value_bytes(argv[0]) != 32) {
		sqlite3_result_error(cx, "malformed input digest", -1);
		return;
	}
	char id[33];
	uint8_t raw[16];
	const char *f = (const char *)sqlite3_value_text(argv[1]);
	const char *o = (const char *)sqlite3_value_text(argv[2]);
	sl_item_id(sqlite3_value_blob(argv[0]), f ? f : "", o ? o : "", id);
	sl_unhex(raw, id, sizeof raw);
	sqlite3_result_blob(cx, raw, sizeof raw, SQLITE_TRANSIENT);
}

static const char upgrade[] =
	"ALTER TABLE items RENAME TO items_v1;"
	"ALTER TABLE item_objects RENAME TO item_objects_v1;"
	"ALTER TABLE attrs RENAME TO attrs_v1;"
	"ALTER TABLE seen RENAME TO seen_v1;"
	"DROP INDEX IF EXISTS item_objects_item; DROP INDEX IF EXISTS attrs_kv;"
	"DROP INDEX IF EXISTS attrs_item;"
	"%s"  /* the version 2 schema */
	/* an item keeps its old number as its row, so rows naming it keep theirs */
	"INSERT INTO items(n,id,input_digest,input_size,format,options_fp,writer,prov_seq,time,"
	"legacy_id) SELECT id,sl_item_id(input_digest,format,options_fp),input_digest,input_size,"
	"format,options_fp,'main',prov_seq,time,id FROM items_v1 ORDER BY id;"
	"INSERT INTO item_objects(item,digest,role,media_type) SELECT item_id,digest,role,"
	" media_type FROM item_objects_v1 ORDER BY rowid;"
	"INSERT INTO attrs(item,key,value) SELECT item_id,key,value FROM attrs_v1 ORDER BY rowid;"
	"INSERT INTO seen SELECT path_key,size,mtime_ns,ctime_ns,ino,dev,input_digest,item_id"
	" FROM seen_v1;"
	"INSERT INTO backend(key,value) SELECT 'pack/'||id,committed_size FROM packs;"
	"INSERT INTO chains(writer,size,count,head) SELECT 'main',"
	" (SELECT value FROM meta WHERE key='prov_size'),"
	" (SELECT value FROM meta WHERE key='prov_count'),"
	" (SELECT value FROM meta WHERE key='prov_head');"
	"DROP TABLE items_v1; DROP TABLE item_objects_v1; DROP TABLE attrs_v1; DROP TABLE seen_v1;"
	"DROP TABLE packs;"
	"DELETE FROM meta WHERE key IN ('prov_size','prov_count','prov_head');"
	"UPDATE meta SET value='2' WHERE key='format_version';";

static int sql(sqlite3 *db, const char *s, sl_err *err)
{
	char *msg = NULL;
	if (sqlite3_exec(db, s, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	int rc = sl_fail(err, sqlite3_errcode(db) == SQLITE_FULL ? SL_E_NOSPC : SL_E_IO,
			 "catalog: %s", msg ? msg : sqlite3_errmsg(db));
	sqlite3_free(msg);
	return rc;
}

static char *path2(const char *dir, const char *name)
{
	char *p = sl_xmalloc(strlen(dir) + strlen(name) + 2);
	sprintf(p, "%s/%s", dir, name);
	return p;
}

/* The v1 log cut back to what the catalog committed (as a v1 writer's open
 * would have), then linked in as writer main's chain. */
static int move_log(sqlite3 *db, const char *dir, sl_err *err)
{
	char v[32];
	if (sl_cat_sqlite_meta(db, "prov_size", v, sizeof v) != 1)
		return sl_fail(err, SL_E_CORRUPT, "catalog has no provenance size");
	uint64_t size = strtoull(v, NULL, 10);
	char *old = path2(dir, "provenance.jsonl"), *pd = path2(dir, SL_PROV_DIR);
	char *neu = sl_prov_path(dir, "main");
	int rc = 0;
	struct stat sb;
	if (mkdir(pd, 0750) < 0 && errno != EEXIST)
		rc = sl_fail_errno(err, SL_E_IO, errno, "cannot create the provenance folder");
	else if (stat(old, &sb) < 0)
		rc = sl_fail_errno(err, SL_E_CORRUPT, errno, "version 1 provenance log");
	else if ((uint64_t)sb.st_size < size)
		rc = sl_fail(err, SL_E_CORRUPT, "the provenance log is shorter than the catalog "
			     "records: run sluice verify with the previous release");
	else if ((uint64_t)sb.st_size > size && truncate(old, (off_t)size) < 0)
		rc = sl_fail_errno(err, SL_E_IO, errno, "cannot cut back the provenance log");
	if (rc == 0 && link(old, neu) < 0 && errno != EEXIST)
		rc = sl_fail_errno(err, SL_E_IO, errno, "cannot link the provenance log");
	if (rc == 0 && (rc = sl_fsync_dir(pd)) < 0)
		rc = sl_fail_errno(err, SL_E_IO, -rc, "cannot fsync the provenance folder");
	free(old);
	free(pd);
	free(neu);
	return rc;
}

static int upgrade_catalog(const char *dir, sl_err *err)
{
	char *p = path2(dir, "catalog.db");
	sqlite3 *db;
	int rc = 0;
	if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		rc = sl_fail(err, SL_E_STATE, "cannot open the catalog: %s", sqlite3_errmsg(db));
	free(p);
	char v[32] = "";
	if (rc == 0 && sl_cat_sqlite_meta(db, "format_version", v, sizeof v) != 1)
		rc = sl_fail(err, SL_E_CORRUPT, "catalog has no format version");
	if (rc == 0 && !strcmp(v, "1")) {
		sqlite3_busy_timeout(db, 10000);
		sqlite3_create_function(db, "sl_item_id", 3, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
					sql_item_id, NULL, NULL);
		rc = sql(db, "PRAGMA synchronous=FULL", err);
		if (rc == 0)
			rc = move_log(db, dir, err);
		size_t n = sizeof upgrade + strlen(sl_catalog_sqlite_schema());
		char *s = sl_xmalloc(n);
		/* the schema's journal_mode pragma cannot run inside a transaction */
		const char *schema = strstr(sl_catalog_sqlite_schema(), "CREATE");
		snprintf(s, n, upgrade, schema);
		if (rc == 0 && (rc = sql(db, "BEGIN IMMEDIATE", err)) == 0) {
			rc = sql(db, s, err);
			rc = rc == 0 ? sql(db, "COMMIT", err) : rc;
			if (rc < 0)
				sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		}
		free(s);
	} else if (rc == 0 && strcmp(v, "2")) {
		rc = sl_fail(err, SL_E_STATE, "unsupported catalog format version %s", v);
	}
	sqlite3_close(db);
	return rc;
}

int sl_store_migrate(const char *dir, int *from, sl_err *err)
{
	*from = sl_store_format_version(dir, err);
	if (*from < 0)
		return *from;
	if (*from == 2)
		return 0;
	char *lp = path2(dir, "lock");
	int lock = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	free(lp);
	if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) < 0) {
		if (lock >= 0)
			close(lock);
		return sl_fail(err, SL_E_STATE, "store is in use by another sluice process");
	}
	int rc = upgrade_catalog(dir, err);
	if (rc == 0 && (rc = sl_store_write_format(dir)) < 0)
		rc = sl_fail_errno(err, SL_E_IO, -rc, "cannot write FORMAT");
	if (rc == 0) {
		char *old = path2(dir, "provenance.jsonl");
		unlink(old); /* its bytes live on as prov/main.jsonl */
		free(old);
		sl_fsync_dir(dir);
	}
	close(lock);
	return rc;
}
