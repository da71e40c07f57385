/*
 * commit.c: making a batch of items durable and recorded, in the order that
 * keeps a crash harmless: object bytes (fsync packs and folders), then
 * provenance (append, fsync), then the catalog (one transaction that also
 * records how much provenance and pack data is committed).
 */
#include "store_impl.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void sl_store_dirty_dir(sl_store *st, const char *rel)
{
	for (size_t i = 0; i < st->ndirty_dirs; i++)
		if (!strcmp(st->dirty_dirs[i], rel))
			return;
	st->dirty_dirs = sl_xrealloc(st->dirty_dirs, (st->ndirty_dirs + 1) * sizeof *st->dirty_dirs);
	st->dirty_dirs[st->ndirty_dirs++] = sl_xstrdup(rel);
}

static void step_once(sqlite3_stmt *q)
{
	if (q) {
		sqlite3_step(q);
		sqlite3_reset(q);
	}
}

void sl_store_read_begin(sl_store *st, unsigned slot)
{
	if (st->slots && slot < st->nslots)
		step_once(st->slots[slot].q_begin);
}

void sl_store_read_end(sl_store *st, unsigned slot)
{
	if (st->slots && slot < st->nslots && !sqlite3_get_autocommit(st->slots[slot].rdb))
		step_once(st->slots[slot].q_end);
}

int sl_store_seen_get(sl_store *st, unsigned slot, const uint8_t key[32], struct sl_seen *out)
{
	if (!st->slots || slot >= st->nslots || !st->slots[slot].q_seen)
		return 0;
	sqlite3_stmt *q = st->slots[slot].q_seen;
	int found = 0;
	sqlite3_reset(q);
	sqlite3_bind_blob(q, 1, key, 32, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_bytes(q, 5) == 32) {
		out->size = (uint64_t)sqlite3_column_int64(q, 0);
		out->mtime_ns = (uint64_t)sqlite3_column_int64(q, 1);
		out->ctime_ns = (uint64_t)sqlite3_column_int64(q, 2);
		out->ino = (uint64_t)sqlite3_column_int64(q, 3);
		out->dev = (uint64_t)sqlite3_column_int64(q, 4);
		memcpy(out->input_digest, sqlite3_column_blob(q, 5), 32);
		out->item_id = sqlite3_column_int64(q, 6);
		found = 1;
	}
	sqlite3_reset(q); /* a reader left mid-statement would pin the WAL */
	return found;
}

int sl_store_item_outputs(sl_store *st, unsigned slot, int64_t item_id,
			   struct sl_item_output **outs)
{
	*outs = NULL;
	if (!st->slots || slot >= st->nslots || !st->slots[slot].q_outs)
		return -1;
	sqlite3_stmt *q = st->slots[slot].q_outs;
	sl_buf strs; /* role\0media\0 per output, placed after the array */
	struct sl_item_output *o = NULL;
	int n = 0;
	sl_buf_init(&strs);
	sqlite3_reset(q);
	sqlite3_bind_int64(q, 1, item_id);
	while (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_bytes(q, 0) == 32) {
		o = sl_xrealloc(o, (size_t)(n + 1) * sizeof *o);
		memset(&o[n], 0, sizeof o[n]);
		memcpy(o[n].ref.digest, sqlite3_column_blob(q, 0), 32);
		o[n].ref.size = (uint64_t)sqlite3_column_int64(q, 1);
		o[n].ref.pack = sqlite3_column_type(q, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 2);
		o[n].ref.offset = (uint64_t)sqlite3_column_int64(q, 3);
		for (int c = 4; c <= 5; c++) {
			const char *t = (const char *)sqlite3_column_text(q, c);
			sl_buf_add(&strs, t ? t : "", strlen(t ? t : "") + 1);
		}
		n++;
	}
	sqlite3_reset(q);
	size_t arr = (size_t)n * sizeof *o;
	*outs = sl_xrealloc(o, arr + strs.len);
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

/* Take, under mu, the descriptors of every pack written since the last
 * commit (each ours to close) and the folders to fsync. */
static int *take_dirty_packs(sl_store *st, size_t *n)
{
	size_t cap = 0;
	for (unsigned i = 0; i < st->nslots; i++)
		cap += (size_t)st->slots[i].nold + 1;
	int *fds = sl_xmalloc((cap ? cap : 1) * sizeof *fds);
	*n = 0;
	for (unsigned i = 0; i < st->nslots; i++) {
		struct slot *s = &st->slots[i];
		for (int j = 0; j < s->nold; j++)
			fds[(*n)++] = s->old_fds[j];
		s->nold = 0;
		/* a dup: the worker may roll this pack away before we are done */
		if (s->dirty && s->pack_fd >= 0)
			fds[(*n)++] = dup(s->pack_fd);
		s->dirty = 0;
	}
	return fds;
}

/* Step 1: every pack written and every folder renamed into since the last
 * commit reaches the disk. */
static int sync_objects(sl_store *st, sl_err *err)
{
	size_t n;
	pthread_mutex_lock(&st->mu);
	int *fds = take_dirty_packs(st, &n);
	char **dirs = st->dirty_dirs;
	size_t ndirs = st->ndirty_dirs;
	st->dirty_dirs = NULL;
	st->ndirty_dirs = 0;
	pthread_mutex_unlock(&st->mu);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && (fds[i] < 0 || fsync(fds[i]) < 0))
			rc = sl_fail_errno(err, SL_E_IO, errno, "cannot fsync a pack");
		if (fds[i] >= 0)
			close(fds[i]);
	}
	free(fds);
	/* Object folders before objects/ itself, which gained the new folders. */
	for (size_t i = ndirs; i-- > 0;) {
		char *p = sl_store_path(st, dirs[i]);
		int e = rc == 0 ? sl_fsync_dir(p) : 0;
		if (e < 0)
			rc = sl_fail_errno(err, SL_E_IO, -e, "cannot fsync the %s folder",
					   strncmp(dirs[i], "objects", 7) ? "packs" : "object");
		free(p);
		free(dirs[i]);
	}
	free(dirs);
	return rc;
}

static int64_t existing_item(sl_store *st, const struct sl_item *it)
{
	sqlite3_stmt *q = st->q_item;
	sqlite3_reset(q);
	sqlite3_bind_blob(q, 1, it->input_digest, 32, SQLITE_STATIC);
	sqlite3_bind_text(q, 2, it->format, -1, SQLITE_STATIC);
	sqlite3_bind_text(q, 3, it->options_fp, -1, SQLITE_STATIC);
	int64_t id = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
	sqlite3_reset(q);
	return id;
}

static int64_t next_item_id(sl_store *st)
{
	sqlite3_stmt *q;
	int64_t id = 1;
	if (sqlite3_prepare_v2(st->db, "SELECT COALESCE(MAX(id),0)+1 FROM items", -1, &q, NULL) == SQLITE_OK) {
		if (sqlite3_step(q) == SQLITE_ROW)
			id = sqlite3_column_int64(q, 0);
		sqlite3_finalize(q);
	}
	return id;
}

static void utc_now(char out[32])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + strlen(out), 12, ".%03dZ", (int)(ts.tv_nsec / 1000000) % 1000);
}

/* The new items of a batch by (input digest, format, options): the same
 * input twice in one batch (two paths to the same bytes) is one item.  A
 * hash table, because a scan of the batch per item is quadratic in the
 * batch size. */
struct batch_set {
	struct sl_item **slot;
	size_t mask;
};

static void set_init(struct batch_set *s, size_t n)
{
	size_t cap = 16;
	while (cap < 2 * n)
		cap *= 2;
	s->slot = sl_xcalloc(cap, sizeof *s->slot);
	s->mask = cap - 1;
}

static int same_item(const struct sl_item *a, const struct sl_item *b)
{
	return !memcmp(a->input_digest, b->input_digest, 32) && !strcmp(a->format, b->format) &&
	       !strcmp(a->options_fp, b->options_fp);
}

/* The slot holding an item like `it`, or the empty slot where it goes. */
static struct sl_item **set_slot(struct batch_set *s, const struct sl_item *it)
{
	uint64_t h;
	memcpy(&h, it->input_digest, sizeof h); /* a SHA-256: already uniform */
	for (size_t i = h & s->mask;; i = (i + 1) & s->mask)
		if (!s->slot[i] || same_item(s->slot[i], it))
			return &s->slot[i];
}

/* Step 2 (in memory): decide which items are new and build their lines. */
static void build_lines(sl_store *st, struct sl_item **items, size_t n, const char *now,
			sl_buf *lines, uint8_t head[32], uint64_t *count)
{
	int64_t id = next_item_id(st);
	struct batch_set set = {0};
	set_init(&set, n);
	for (size_t i = 0; i < n; i++) {
		struct sl_item *it = items[i];
		it->item_id = existing_item(st, it);
		struct sl_item **slot = set_slot(&set, it);
		if (!it->item_id && *slot)
			it->item_id = (*slot)->item_id;
		it->outcome_new = it->item_id == 0;
		if (!it->outcome_new)
			continue;
		*slot = it;
		it->item_id = id++;
		size_t start = lines->len;
		sl_buf_printf(lines, "{\"seq\":%llu,\"prev\":\"", (unsigned long long)++*count);
		sl_buf_hex(lines, head, 32);
		sl_buf_puts(lines, "\",\"time\":\"");
		sl_buf_puts(lines, now);
		sl_buf_printf(lines, "\",\"item\":%lld,\"format\":", (long long)it->item_id);
		sl_buf_json_str(lines, it->format);
		sl_buf_puts(lines, ",\"options_fp\":");
		sl_buf_json_str(lines, it->options_fp);
		sl_buf_puts(lines, ",");
		sl_buf_puts(lines, it->prov_body);
		sl_buf_puts(lines, "}");
		sl_sha256_once(lines->data + start, lines->len - start, head);
		sl_buf_puts(lines, "\n");
	}
	free(set.slot);
}

static int exec_item(sl_store *st, sqlite3_stmt **q, struct sl_item *it, const char *now,
		     uint64_t seq)
{
	int ok = 1;
	sqlite3_reset(q[0]);
	sqlite3_bind_int64(q[0], 1, it->item_id);
	sqlite3_bind_blob(q[0], 2, it->input_digest, 32, SQLITE_STATIC);
	sqlite3_bind_int64(q[0], 3, (int64_t)it->input_size);
	sqlite3_bind_text(q[0], 4, it->format, -1, SQLITE_STATIC);
	sqlite3_bind_text(q[0], 5, it->options_fp, -1, SQLITE_STATIC);
	sqlite3_bind_int64(q[0], 6, (int64_t)seq);
	sqlite3_bind_text(q[0], 7, now, -1, SQLITE_STATIC);
	ok &= sqlite3_step(q[0]) == SQLITE_DONE;
	for (size_t j = 0; j < it->nouts; j++) {
		const struct sl_item_output *o = &it->outs[j];
		sqlite3_reset(q[1]);
		sqlite3_bind_blob(q[1], 1, o->ref.digest, 32, SQLITE_STATIC);
		sqlite3_bind_int64(q[1], 2, (int64_t)o->ref.size);
		if (o->ref.pack < 0)
			sqlite3_bind_null(q[1], 3);
		else
			sqlite3_bind_int64(q[1], 3, o->ref.pack);
		sqlite3_bind_int64(q[1], 4, (int64_t)o->ref.offset);
		ok &= sqlite3_step(q[1]) == SQLITE_DONE;
		sqlite3_reset(q[2]);
		sqlite3_bind_int64(q[2], 1, it->item_id);
		sqlite3_bind_blob(q[2], 2, o->ref.digest, 32, SQLITE_STATIC);
		sqlite3_bind_text(q[2], 3, o->role, -1, SQLITE_STATIC);
		sqlite3_bind_text(q[2], 4, o->media_type, -1, SQLITE_STATIC);
		ok &= sqlite3_step(q[2]) == SQLITE_DONE;
	}
	for (size_t j = 0; j < it->nattrs; j++) {
		sqlite3_reset(q[3]);
		sqlite3_bind_int64(q[3], 1, it->item_id);
		sqlite3_bind_text(q[3], 2, it->attrs[2 * j], -1, SQLITE_STATIC);
		sqlite3_bind_text(q[3], 3, it->attrs[2 * j + 1], -1, SQLITE_STATIC);
		ok &= sqlite3_step(q[3]) == SQLITE_DONE;
	}
	return ok;
}

static int exec_seen(sqlite3_stmt *q, const struct sl_item *it)
{
	sqlite3_reset(q);
	sqlite3_bind_blob(q, 1, it->path_key, 32, SQLITE_STATIC);
	sqlite3_bind_int64(q, 2, (int64_t)it->stat.size);
	sqlite3_bind_int64(q, 3, (int64_t)it->stat.mtime_ns);
	sqlite3_bind_int64(q, 4, (int64_t)it->stat.ctime_ns);
	sqlite3_bind_int64(q, 5, (int64_t)it->stat.ino);
	sqlite3_bind_int64(q, 6, (int64_t)it->stat.dev);
	sqlite3_bind_blob(q, 7, it->input_digest, 32, SQLITE_STATIC);
	sqlite3_bind_int64(q, 8, it->item_id);
	return sqlite3_step(q) == SQLITE_DONE;
}

/* Each pack's committed end: the furthest record any item of the batch uses
 * (records below it were written earlier by the same writer, so they are
 * complete).  One statement per pack, not per object. */
static int record_pack_ends(sqlite3_stmt *q, struct sl_item **items, size_t n)
{
	int64_t packs[64];
	uint64_t ends[64];
	size_t np = 0;
	int ok = 1;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < items[i]->nouts; j++) {
			const struct sl_objref *r = &items[i]->outs[j].ref;
			if (r->pack < 0)
				continue;
			uint64_t end = sl_pack_record_end(r->offset, r->size);
			size_t k = 0;
			while (k < np && packs[k] != r->pack)
				k++;
			if (k == np) {
				if (np == 64) { /* many packs in one batch: flush what we have */
					for (size_t m = 0; m < np; m++) {
						sqlite3_reset(q);
						sqlite3_bind_int64(q, 1, packs[m]);
						sqlite3_bind_int64(q, 2, (int64_t)ends[m]);
						ok &= sqlite3_step(q) == SQLITE_DONE;
					}
					np = k = 0;
				}
				packs[np] = r->pack;
				ends[np++] = 0;
			}
			if (end > ends[k])
				ends[k] = end;
		}
	}
	for (size_t m = 0; m < np; m++) {
		sqlite3_reset(q);
		sqlite3_bind_int64(q, 1, packs[m]);
		sqlite3_bind_int64(q, 2, (int64_t)ends[m]);
		ok &= sqlite3_step(q) == SQLITE_DONE;
	}
	return ok;
}

static const char *const stmts[] = {
	"INSERT INTO items(id,input_digest,input_size,format,options_fp,prov_seq,time) "
	"VALUES(?,?,?,?,?,?,?)",
	"INSERT OR IGNORE INTO objects(digest,size,pack,offset) VALUES(?,?,?,?)",
	"INSERT INTO item_objects(item_id,digest,role,media_type) VALUES(?,?,?,?)",
	"INSERT INTO attrs(item_id,key,value) VALUES(?,?,?)",
	"INSERT OR REPLACE INTO seen(path_key,size,mtime_ns,ctime_ns,ino,dev,input_digest,item_id) "
	"VALUES(?,?,?,?,?,?,?,?)",
	"INSERT INTO packs(id,committed_size) VALUES(?1,?2) ON CONFLICT(id) DO UPDATE SET "
	"committed_size=MAX(committed_size,excluded.committed_size)",
};
#define NSTMT (sizeof stmts / sizeof stmts[0])

/* Step 4: one transaction with everything. */
static int catalog_txn(sl_store *st, struct sl_item **items, size_t n, const char *now,
		       uint64_t seq0, uint64_t new_size, uint64_t new_count,
		       const uint8_t head[32], sl_err *err)
{
	sqlite3_stmt *q[NSTMT] = {0};
	int rc = sl_store_sql(st->db, "BEGIN IMMEDIATE", err);
	if (rc < 0)
		return rc;
	int ok = 1;
	for (size_t i = 0; i < NSTMT; i++)
		ok &= sqlite3_prepare_v2(st->db, stmts[i], -1, &q[i], NULL) == SQLITE_OK;
	uint64_t seq = seq0;
	for (size_t i = 0; ok && i < n; i++) {
		if (items[i]->outcome_new)
			ok &= exec_item(st, q, items[i], now, ++seq);
		ok &= exec_seen(q[4], items[i]);
	}
	ok = ok && record_pack_ends(q[5], items, n);
	char sql[256], hex[65];
	sl_hex(hex, head, 32);
	snprintf(sql, sizeof sql, "UPDATE meta SET value=CASE key WHEN 'prov_size' THEN '%llu' "
		 "WHEN 'prov_count' THEN '%llu' ELSE '%s' END WHERE key IN "
		 "('prov_size','prov_count','prov_head')",
		 (unsigned long long)new_size, (unsigned long long)new_count, hex);
	if (ok)
		ok = sl_store_sql(st->db, sql, err) == 0;
	else
		sl_fail(err, sqlite3_errcode(st->db) == SQLITE_FULL ? SL_E_NOSPC : SL_E_IO,
			"catalog: %s", sqlite3_errmsg(st->db));
	for (size_t i = 0; i < NSTMT; i++)
		sqlite3_finalize(q[i]);
	if (ok)
		rc = sl_store_sql(st->db, "COMMIT", err);
	else
		rc = -(err->code ? err->code : SL_E_IO);
	if (rc < 0)
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int sl_store_commit(sl_store *st, struct sl_item **items, size_t n, sl_err *err)
{
	if (!st->slots)
		return sl_fail(err, SL_E_STATE, "store not open for writing");
	int rc = sync_objects(st, err);
	if (rc < 0)
		return rc;
	char now[32];
	utc_now(now);
	sl_buf lines;
	sl_buf_init(&lines);
	uint8_t head[32];
	memcpy(head, st->prov_head, 32);
	uint64_t count = st->prov_count;
	build_lines(st, items, n, now, &lines, head, &count);
	if (lines.len) {
		rc = sl_write_all(st->prov_fd, lines.data, lines.len);
		if (rc == 0 && fdatasync(st->prov_fd) < 0)
			rc = -errno;
		if (rc < 0)
			rc = sl_fail_errno(err, SL_E_IO, -rc, "cannot append to the provenance log");
	}
	if (rc == 0)
		rc = catalog_txn(st, items, n, now, st->prov_count, st->prov_size + lines.len, count,
				 head, err);
	if (rc < 0) {
		/* Nothing of this batch is recorded: take its lines back. */
		if (ftruncate(st->prov_fd, (off_t)st->prov_size) == 0)
			fdatasync(st->prov_fd);
		for (size_t i = 0; i < n; i++)
			items[i]->outcome_new = 0, items[i]->item_id = 0;
	} else {
		st->prov_size += lines.len;
		st->prov_count = count;
		memcpy(st->prov_head, head, 32);
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < items[i]->nouts; j++)
				sl_store_inrun_forget(st, items[i]->outs[j].ref.digest);
	}
	sl_buf_free(&lines);
	return rc;
}
