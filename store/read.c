/*
 * read.c: reading a store: an object's bytes, the items with their
 * attributes and outputs, the provenance log, and verify, which trusts
 * nothing: it re-hashes every object where the catalog says it is, parses
 * every pack record, and walks the provenance hash chain to the head the
 * catalog committed.
 */
#include "store_impl.h"
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUFSZ (1u << 20)

/* Open the object's bytes: fd positioned data, *len its size. */
static int open_object(sl_store *st, const struct sl_objref *ref, int *fd, uint64_t *off)
{
	char p[4096];
	if (ref->pack < 0) {
		sl_object_path(st, ref->digest, p, sizeof p);
		*off = 0;
	} else {
		sl_pack_path(st, ref->pack, p, sizeof p);
		*off = ref->offset;
	}
	*fd = open(p, O_RDONLY | O_CLOEXEC);
	return *fd < 0 ? -errno : 0;
}

/* Stream an object's bytes to sink (fd >= 0) and/or a hash. */
static int read_object(sl_store *st, const struct sl_objref *ref, int out, uint8_t digest[32],
		       sl_err *err)
{
	int fd;
	uint64_t off;
	char hex[65];
	sl_hex(hex, ref->digest, 32);
	int rc = open_object(st, ref, &fd, &off);
	if (rc < 0)
		return sl_fail_errno(err, SL_E_CORRUPT, -rc, "object %s: cannot open", hex);
	uint8_t *buf = sl_xmalloc(BUFSZ);
	sl_sha256 *h = digest ? sl_sha256_new() : NULL;
	uint64_t left = ref->size;
	while (rc == 0 && left) {
		size_t want = left < BUFSZ ? (size_t)left : BUFSZ;
		ssize_t n = pread(fd, buf, want, (off_t)off);
		if (n <= 0) {
			rc = n < 0 ? sl_fail_errno(err, SL_E_CORRUPT, errno, "object %s: read", hex)
				   : sl_fail(err, SL_E_CORRUPT, "object %s: truncated", hex);
			break;
		}
		if (h)
			sl_sha256_update(h, buf, (size_t)n);
		if (out >= 0 && (rc = sl_write_all(out, buf, (size_t)n)) < 0)
			rc = sl_fail_errno(err, SL_E_IO, -rc, "writing object %s", hex);
		off += (uint64_t)n;
		left -= (uint64_t)n;
	}
	if (h) {
		sl_sha256_final(h, digest);
		sl_sha256_free(h);
	}
	free(buf);
	close(fd);
	return rc;
}

int sl_store_cat(sl_store *st, const uint8_t digest[32], int fd, sl_err *err)
{
	struct sl_objref ref;
	sqlite3_stmt *q = NULL;
	sqlite3_prepare_v2(st->db, SL_SQL_OBJECT, -1, &q, NULL);
	int found = sl_catalog_has_object(q, digest, &ref);
	sqlite3_finalize(q);
	if (!found)
		return sl_fail(err, SL_E_STATE, "no such object in this store");
	return read_object(st, &ref, fd, NULL, err);
}

int sl_store_log(sl_store *st, int fd, sl_err *err)
{
	char *p = sl_store_path(st, "provenance.jsonl");
	int in = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	if (in < 0)
		return sl_fail_errno(err, SL_E_CORRUPT, errno, "cannot open the provenance log");
	uint8_t *buf = sl_xmalloc(BUFSZ);
	uint64_t left = st->prov_size; /* only what the catalog committed */
	int rc = 0;
	while (rc == 0 && left) {
		ssize_t n = read(in, buf, left < BUFSZ ? (size_t)left : BUFSZ);
		if (n <= 0)
			break;
		rc = sl_write_all(fd, buf, (size_t)n);
		left -= (uint64_t)n;
	}
	free(buf);
	close(in);
	return rc < 0 ? sl_fail_errno(err, SL_E_IO, -rc, "writing the log") : 0;
}

/* ---- items ---- */

static void view_free(struct sl_item_view *v)
{
	for (size_t i = 0; i < 2 * v->nattrs; i++)
		free((char *)v->attrs[i]);
	free(v->attrs);
	for (size_t i = 0; i < v->nouts; i++) {
		free((char *)v->outs[i].role);
		free((char *)v->outs[i].media_type);
	}
	free(v->outs);
}

static void view_load(sl_store *st, sqlite3_stmt *qa, sqlite3_stmt *qo, struct sl_item_view *v)
{
	sqlite3_reset(qa);
	sqlite3_bind_int64(qa, 1, v->id);
	while (sqlite3_step(qa) == SQLITE_ROW) {
		v->attrs = sl_xrealloc(v->attrs, (v->nattrs + 1) * 2 * sizeof *v->attrs);
		v->attrs[2 * v->nattrs] = sl_xstrdup((const char *)sqlite3_column_text(qa, 0));
		v->attrs[2 * v->nattrs + 1] = sl_xstrdup((const char *)sqlite3_column_text(qa, 1));
		v->nattrs++;
	}
	sqlite3_reset(qo);
	sqlite3_bind_int64(qo, 1, v->id);
	while (sqlite3_step(qo) == SQLITE_ROW) {
		v->outs = sl_xrealloc(v->outs, (v->nouts + 1) * sizeof *v->outs);
		struct sl_item_output *o = &v->outs[v->nouts++];
		memset(o, 0, sizeof *o);
		if (sqlite3_column_bytes(qo, 0) == 32)
			memcpy(o->ref.digest, sqlite3_column_blob(qo, 0), 32);
		o->role = sl_xstrdup((const char *)sqlite3_column_text(qo, 1));
		o->media_type = sl_xstrdup((const char *)sqlite3_column_text(qo, 2));
		o->ref.size = (uint64_t)sqlite3_column_int64(qo, 3);
		o->ref.pack = sqlite3_column_type(qo, 4) == SQLITE_NULL ? -1 : sqlite3_column_int64(qo, 4);
		o->ref.offset = (uint64_t)sqlite3_column_int64(qo, 5);
	}
	(void)st;
}

int sl_store_items(sl_store *st, const char *key, const char *value,
		   int (*cb)(void *ctx, const struct sl_item_view *v), void *ctx, sl_err *err)
{
	const char *all = "SELECT id, format, input_digest, input_size, time FROM items ORDER BY id";
	const char *by = "SELECT id, format, input_digest, input_size, time FROM items WHERE id IN "
			 "(SELECT item_id FROM attrs WHERE key=? AND value=?) ORDER BY id";
	const char *byfmt = "SELECT id, format, input_digest, input_size, time FROM items "
			    "WHERE format=?2 AND ?1=?1 ORDER BY id";
	sqlite3_stmt *q, *qa, *qo;
	const char *sql = !key ? all : !strcmp(key, "format") ? byfmt : by;
	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
		return sl_fail(err, SL_E_CORRUPT, "catalog: %s", sqlite3_errmsg(st->db));
	sqlite3_prepare_v2(st->db, "SELECT key, value FROM attrs WHERE item_id=? ORDER BY rowid", -1, &qa, NULL);
	sqlite3_prepare_v2(st->db, "SELECT io.digest, io.role, io.media_type, o.size, o.pack, o.offset "
			   "FROM item_objects io LEFT JOIN objects o ON o.digest=io.digest "
			   "WHERE io.item_id=? ORDER BY io.rowid", -1, &qo, NULL);
	if (key) {
		sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
		sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
	}
	int rc = 0;
	while (rc == 0 && sqlite3_step(q) == SQLITE_ROW) {
		struct sl_item_view v = {0};
		char hex[65] = "";
		v.id = sqlite3_column_int64(q, 0);
		v.format = (const char *)sqlite3_column_text(q, 1);
		if (sqlite3_column_bytes(q, 2) == 32)
			sl_hex(hex, sqlite3_column_blob(q, 2), 32);
		v.input_digest = hex;
		v.input_size = (uint64_t)sqlite3_column_int64(q, 3);
		v.time = (const char *)sqlite3_column_text(q, 4);
		view_load(st, qa, qo, &v);
		rc = cb(ctx, &v);
		view_free(&v);
	}
	sqlite3_finalize(q);
	sqlite3_finalize(qa);
	sqlite3_finalize(qo);
	return rc;
}

/* ---- verify ---- */

struct vctx {
	void (*cb)(void *, const char *);
	void *ctx;
	struct sl_verify_stats *s;
};

static void problem(struct vctx *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void problem(struct vctx *v, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	v->s->problems++;
	if (v->cb)
		v->cb(v->ctx, msg);
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void verify_objects(sl_store *st, struct vctx *v)
{
	sqlite3_stmt *q;
	sqlite3_prepare_v2(st->db, "SELECT o.digest, o.size, o.pack, o.offset, p.committed_size "
			   "FROM objects o LEFT JOIN packs p ON p.id=o.pack ORDER BY o.pack, o.offset",
			   -1, &q, NULL);
	while (sqlite3_step(q) == SQLITE_ROW) {
		struct sl_objref ref = {0};
		char hex[65];
		if (sqlite3_column_bytes(q, 0) != 32) {
			problem(v, "catalog: object row with a malformed digest");
			continue;
		}
		memcpy(ref.digest, sqlite3_column_blob(q, 0), 32);
		sl_hex(hex, ref.digest, 32);
		ref.size = (uint64_t)sqlite3_column_int64(q, 1);
		ref.pack = sqlite3_column_type(q, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 2);
		ref.offset = (uint64_t)sqlite3_column_int64(q, 3);
		v->s->objects++;
		v->s->bytes += ref.size;
		if (ref.pack >= 0 && (sqlite3_column_type(q, 4) == SQLITE_NULL ||
				      sl_pack_record_end(ref.offset, ref.size) >
				      (uint64_t)sqlite3_column_int64(q, 4))) {
			/* Bytes past committed_size are cut off by the next repair. */
			problem(v, "object %s: lies beyond the committed end of pack %lld", hex,
				(long long)ref.pack);
			continue;
		}
		if (ref.pack >= 0) {
			/* The record header in the pack must agree with the catalog. */
			char p[4096];
			uint8_t h[REC_HDR];
			sl_pack_path(st, ref.pack, p, sizeof p);
			int fd = open(p, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || ref.offset < REC_HDR ||
			    pread(fd, h, REC_HDR, (off_t)(ref.offset - REC_HDR)) != REC_HDR) {
				problem(v, "object %s: pack %lld missing or too short", hex, (long long)ref.pack);
				if (fd >= 0)
					close(fd);
				continue;
			}
			close(fd);
			if (memcmp(h, "SLOB", 4) || rd64(h + 8) != ref.size || memcmp(h + 16, ref.digest, 32)) {
				problem(v, "object %s: pack %lld record header at offset %llu does not match the catalog",
					hex, (long long)ref.pack, (unsigned long long)(ref.offset - REC_HDR));
				continue;
			}
		} else {
			char p[4096];
			struct stat sb;
			sl_object_path(st, ref.digest, p, sizeof p);
			if (stat(p, &sb) < 0) {
				problem(v, "object %s: missing file", hex);
				continue;
			}
			if ((uint64_t)sb.st_size != ref.size) {
				problem(v, "object %s: file is %llu bytes, catalog says %llu", hex,
					(unsigned long long)sb.st_size, (unsigned long long)ref.size);
				continue;
			}
		}
		uint8_t d[32];
		sl_err e = {0};
		if (read_object(st, &ref, -1, d, &e) < 0)
			problem(v, "%s", e.msg);
		else if (memcmp(d, ref.digest, 32))
			problem(v, "object %s: content does not match its digest (%s)", hex,
				ref.pack < 0 ? "large object file" : "pack");
	}
	sqlite3_finalize(q);
}

/* Every pack parses as a sequence of records up to its committed size. */
static void verify_packs(sl_store *st, struct vctx *v)
{
	sqlite3_stmt *q;
	/* A pack with nothing committed may be one a writer has only just
	 * started; it holds no object. */
	sqlite3_prepare_v2(st->db, "SELECT id, committed_size FROM packs WHERE committed_size>0 ORDER BY id",
			   -1, &q, NULL);
	while (sqlite3_step(q) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(q, 0);
		uint64_t committed = (uint64_t)sqlite3_column_int64(q, 1), off = PACK_HDR;
		char p[4096];
		uint8_t h[REC_HDR];
		sl_pack_path(st, id, p, sizeof p);
		int fd = open(p, O_RDONLY | O_CLOEXEC);
		struct stat sb;
		if (fd < 0 || fstat(fd, &sb) < 0 || (uint64_t)sb.st_size < committed) {
			problem(v, "pack %lld: missing or shorter than committed (%llu bytes)", (long long)id,
				(unsigned long long)committed);
			if (fd >= 0)
				close(fd);
			continue;
		}
		if (pread(fd, h, PACK_HDR, 0) != PACK_HDR || memcmp(h, "SLPACK01", 8) || rd64(h + 8) != (uint64_t)id)
			problem(v, "pack %lld: bad header", (long long)id);
		while (off < committed) {
			if (pread(fd, h, REC_HDR, (off_t)off) != REC_HDR || memcmp(h, "SLOB", 4) ||
			    sl_pack_record_end(off + REC_HDR, rd64(h + 8)) > committed) {
				problem(v, "pack %lld: unparseable record at offset %llu", (long long)id,
					(unsigned long long)off);
				break;
			}
			off = sl_pack_record_end(off + REC_HDR, rd64(h + 8));
		}
		close(fd);
	}
	sqlite3_finalize(q);
}

/* Check one line (newline removed) against the chain so far; fills *item
 * with the item id the record names.  0 if it is a record in sequence. */
static int check_line(struct vctx *v, const char *line, size_t n, uint64_t seq,
		      const uint8_t head[32], int64_t *item)
{
	unsigned long long s;
	long long id;
	char prev[65], want[65];
	int end = 0;
	if (sscanf(line, "{\"seq\":%llu,\"prev\":\"%64[0-9a-f]\"%n", &s, prev, &end) != 2 || !end ||
	    s != seq || line[n - 1] != '}') {
		problem(v, "provenance line %llu: not a record in sequence", (unsigned long long)seq);
		return -1;
	}
	*item = sscanf(line + end, ",\"time\":\"%*[^\"]\",\"item\":%lld", &id) == 1 ? id : -1;
	sl_hex(want, head, 32);
	if (strcmp(prev, want))
		problem(v, "provenance line %llu: chain broken (prev does not match the line before)",
			(unsigned long long)seq);
	return 0;
}

/* Walk the chain: seq consecutive, prev = hash of the previous line, and the
 * end exactly where the catalog's committed size, count and head say.
 * items[seq - 1] gets the item id each record names. */
static void verify_prov(sl_store *st, struct vctx *v, int64_t **items)
{
	char *p = sl_store_path(st, "provenance.jsonl");
	FILE *f = fopen(p, "re");
	free(p);
	if (!f) {
		problem(v, "provenance log missing");
		return;
	}
	char *line = NULL;
	size_t cap = 0, icap = 0;
	ssize_t n;
	uint64_t seq = 0, bytes = 0;
	uint8_t head[32] = {0};
	int broken = 0;
	/* Lines past the committed size belong to a batch a writer has not
	 * committed yet (or one a crash cut short, which the next run cuts
	 * off): neither is damage. */
	while (!broken && (n = getline(&line, &cap, f)) > 0 && bytes + (uint64_t)n <= st->prov_size) {
		bytes += (uint64_t)n;
		seq++;
		if (line[n - 1] != '\n') {
			problem(v, "provenance line %llu: torn (no end of line)", (unsigned long long)seq);
			broken = 1;
			break;
		}
		line[--n] = 0;
		if (seq > icap) {
			icap = icap ? 2 * icap : 1024;
			*items = sl_xrealloc(*items, icap * sizeof **items);
		}
		broken = n == 0 || check_line(v, line, (size_t)n, seq, head, &(*items)[seq - 1]) < 0;
		sl_sha256_once(line, (size_t)n, head);
	}
	if (broken && n == 0)
		problem(v, "provenance line %llu: empty", (unsigned long long)seq);
	free(line);
	fclose(f);
	v->s->records = seq;
	if (broken)
		return;
	if (bytes != st->prov_size || seq != st->prov_count)
		problem(v, "provenance log has %llu records in %llu bytes, the catalog committed %llu in %llu",
			(unsigned long long)seq, (unsigned long long)bytes,
			(unsigned long long)st->prov_count, (unsigned long long)st->prov_size);
	else if (memcmp(head, st->prov_head, 32))
		problem(v, "provenance head does not match the catalog");
}

/* Every item has the provenance record its prov_seq names, and that record
 * names the item; nrec = 0 when the log could not be read to its end. */
static void verify_items(sl_store *st, struct vctx *v, const int64_t *rec_item, uint64_t nrec)
{
	sqlite3_stmt *q;
	sqlite3_prepare_v2(st->db, "SELECT id, prov_seq FROM items ORDER BY id", -1, &q, NULL);
	while (sqlite3_step(q) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(q, 0), seq = sqlite3_column_int64(q, 1);
		v->s->items++;
		if (seq < 1 || (uint64_t)seq > st->prov_count)
			problem(v, "item %lld: points to no provenance record (seq %lld)", (long long)id,
				(long long)seq);
		else if ((uint64_t)seq <= nrec && rec_item[seq - 1] != id)
			problem(v, "item %lld: provenance record %lld names another item", (long long)id,
				(long long)seq);
	}
	sqlite3_finalize(q);
	sqlite3_prepare_v2(st->db, "SELECT COUNT(*) FROM item_objects io LEFT JOIN objects o "
			   "ON o.digest=io.digest WHERE o.digest IS NULL", -1, &q, NULL);
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int64(q, 0))
		problem(v, "catalog: %lld item output(s) name no stored object", sqlite3_column_int64(q, 0));
	sqlite3_finalize(q);
}

int sl_store_verify(sl_store *st, void (*cb)(void *ctx, const char *problem), void *ctx,
		    struct sl_verify_stats *stats, sl_err *err)
{
	memset(stats, 0, sizeof *stats);
	struct vctx v = {cb, ctx, stats};
	sqlite3_stmt *q;
	/* One read transaction: a writer may be committing while we look,
	 * and every check must see the same committed state. */
	int rc = sl_store_sql(st->db, "BEGIN", err);
	if (rc == 0)
		rc = sl_store_load_meta(st, err);
	if (rc < 0)
		return rc;
	if (sqlite3_prepare_v2(st->db, "PRAGMA quick_check", -1, &q, NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(q, 0), "ok"))
			problem(&v, "catalog: sqlite integrity check failed");
		sqlite3_finalize(q);
	}
	verify_objects(st, &v);
	verify_packs(st, &v);
	int64_t *rec_item = NULL;
	uint64_t before = stats->problems;
	verify_prov(st, &v, &rec_item);
	/* compare items with records only when the whole log was read */
	verify_items(st, &v, rec_item, stats->problems == before ? stats->records : 0);
	free(rec_item);
	return sl_store_sql(st->db, "COMMIT", err);
}
