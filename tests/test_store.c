/* test_store.c: the store on both I/O backends: small and large objects,
 * dedup, commit and read-back, verify against each kind of damage, crash
 * repair of torn tails, the writer lock and file modes. */
#include "unit.h"
#include "store/store.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

struct probs {
	int n;
	char last[600];
};

static void on_problem(void *ctx, const char *p)
{
	struct probs *pr = ctx;
	pr->n++;
	snprintf(pr->last, sizeof pr->last, "%s", p);
	fprintf(stderr, "  verify: %s\n", p);
}

static int verify_problems(const char *dir, char *last)
{
	sl_store *st;
	sl_err err = {0};
	REQUIRE(sl_store_open(&st, dir, SL_STORE_READONLY, 1, NULL, &err) == 0);
	struct sl_verify_stats vs;
	struct probs pr = {0};
	CHECK_RC(sl_store_verify(st, on_problem, &pr, &vs, &err), &err);
	sl_store_close(st);
	if (last)
		strcpy(last, pr.last);
	CHECK((uint64_t)pr.n == vs.problems);
	return pr.n;
}

static int write_obj(sl_store *st, sl_io *io, const uint8_t *p, size_t n, struct sl_objref *ref)
{
	sl_objw *w;
	sl_err err = {0};
	CHECK_RC(sl_objw_begin(st, io, 0, 0, 0, &w, &err), &err);
	/* odd-sized pieces, some by reference through chunks */
	size_t off = 0;
	int i = 0;
	while (off < n) {
		size_t k = n - off < 70001 ? n - off : 70001;
		if (i++ % 2) {
			sl_chunk *c = sl_chunk_get(io);
			memcpy(c->data, p + off, k);
			c->len = k;
			CHECK_RC(sl_objw_put(w, c, 0, k, &err), &err);
			sl_chunk_put(c);
		} else {
			CHECK_RC(sl_objw_write(w, p + off, k, &err), &err);
		}
		off += k;
	}
	int rc = sl_objw_finish(w, NULL, ref, &err);
	CHECK_RC(rc, &err);
	return rc;
}

struct found {
	int n;
	int64_t ids[8];
};

static int collect(void *ctx, const struct sl_item_view *v)
{
	struct found *f = ctx;
	if (f->n < 8)
		f->ids[f->n] = v->id;
	f->n++;
	return 0;
}

static void file_flip(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	REQUIRE(fd >= 0);
	uint8_t b;
	REQUIRE(pread(fd, &b, 1, off) == 1);
	b ^= 0x40;
	REQUIRE(pwrite(fd, &b, 1, off) == 1);
	close(fd);
}

static void copy_tree(const char *from, const char *to)
{
	char cmd[8400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
	REQUIRE(system(cmd) == 0);
}

static void run(int mode, const char *base)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/store-%d", base, mode);
	sl_err err = {0};
	sl_io *io;
	struct sl_io_opts o = {.mode = mode};
	REQUIRE(sl_io_new(&io, &o, &err) == 0);
	sl_store *st;
	struct sl_store_open_info info;
	REQUIRE(sl_store_open(&st, dir, SL_STORE_CREATE, 1, &info, &err) == 0);

	/* a second writer is refused while the first holds the lock */
	sl_store *st2;
	CHECK(sl_store_open(&st2, dir, SL_STORE_CREATE, 1, NULL, &err) == -SL_E_STATE);
	CHECK(strstr(err.msg, "in use") != NULL);

	size_t small_n = 5000, large_n = (5u << 20) + 12345;
	uint8_t *small = malloc(small_n), *large = malloc(large_n);
	for (size_t i = 0; i < small_n; i++)
		small[i] = (uint8_t)(i * 7 + mode);
	for (size_t i = 0; i < large_n; i++)
		large[i] = (uint8_t)(i * 13 + (i >> 12) + mode);
	struct sl_objref rs, rl, rd;
	write_obj(st, io, small, small_n, &rs);
	write_obj(st, io, large, large_n, &rl);
	write_obj(st, io, small, small_n, &rd); /* same bytes again */
	CHECK(rs.fresh == 1 && rs.pack > 0 && rs.size == small_n);
	CHECK(rl.fresh == 1 && rl.pack == -1 && rl.size == large_n);
	CHECK(rd.fresh == 0 && !memcmp(rd.digest, rs.digest, 32) && rd.offset == rs.offset);
	uint8_t want[32];
	sl_sha256_once(large, large_n, want);
	CHECK(!memcmp(rl.digest, want, 32));

	struct sl_item_output outs1[] = {{rs, "primary", "application/octet-stream"}};
	struct sl_item_output outs2[] = {{rl, "primary", "application/dicom"},
					 {rs, "index", "application/x-tabix"}};
	const char *attrs1[] = {"subject", "S1", "kind", "opaque"};
	const char *attrs2[] = {"subject", "S2", "kind", "test"};
	struct sl_item a = {.input_size = small_n, .format = "opaque", .options_fp = "fp1",
			    .outs = outs1, .nouts = 1, .attrs = attrs1, .nattrs = 2,
			    .prov_body = "\"inputs\":[]"};
	struct sl_item b = a, c = a;
	memcpy(a.input_digest, rs.digest, 32);
	memset(a.path_key, 1, 32);
	memcpy(b.input_digest, rl.digest, 32);
	memset(b.path_key, 2, 32);
	b.outs = outs2, b.nouts = 2, b.attrs = attrs2;
	c = a; /* same input, format and options as a: already present */
	memset(c.path_key, 3, 32);
	struct sl_item *batch[] = {&a, &b, &c};
	CHECK_RC(sl_store_commit(st, batch, 3, &err), &err);
	CHECK(a.outcome_new == 1 && b.outcome_new == 1 && c.outcome_new == 0);
	CHECK(a.item_id == 1 && b.item_id == 2);
	struct sl_seen seen;
	uint8_t k3[32];
	memset(k3, 3, 32);
	CHECK(sl_store_seen_get(st, 0, k3, &seen) == 1 && !memcmp(seen.input_digest, rs.digest, 32));
	sl_store_close(st);

	/* read back */
	REQUIRE(sl_store_open(&st, dir, SL_STORE_READONLY, 1, NULL, &err) == 0);
	struct found f = {0};
	CHECK_RC(sl_store_items(st, "subject", "S2", collect, &f, &err), &err);
	CHECK(f.n == 1 && f.ids[0] == 2);
	f.n = 0;
	CHECK_RC(sl_store_items(st, NULL, NULL, collect, &f, &err), &err);
	CHECK(f.n == 2);
	char out[4096];
	snprintf(out, sizeof out, "%s/cat-%d", base, mode);
	int ofd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK_RC(sl_store_cat(st, rl.digest, ofd, &err), &err);
	uint8_t *back = malloc(large_n);
	CHECK(pread(ofd, back, large_n, 0) == (ssize_t)large_n && !memcmp(back, large, large_n));
	close(ofd);
	uint8_t nothing[32] = {0};
	CHECK(sl_store_cat(st, nothing, 1, &err) == -SL_E_STATE);
	sl_store_close(st);
	CHECK(verify_problems(dir, NULL) == 0);

	/* file modes: group-readable at most, whatever the umask */
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "test -z \"$(find '%s' -perm /027)\"", dir);
	CHECK(system(cmd) == 0);

	/* damage, each on a fresh copy: verify must name it */
	char bad[4096], p[4600], hex[65], last[600];
	snprintf(bad, sizeof bad, "%s/bad-%d", base, mode);
	sl_hex(hex, rl.digest, 32);

	copy_tree(dir, bad);
	snprintf(p, sizeof p, "%s/packs/pack-%08lld.pack", bad, (long long)rs.pack);
	file_flip(p, (off_t)rs.offset + 10);
	CHECK(verify_problems(bad, last) == 1 && strstr(last, "does not match its digest"));

	copy_tree(dir, bad);
	snprintf(p, sizeof p, "%s/objects/%.2s/%s", bad, hex, hex);
	file_flip(p, 4096 * 100);
	CHECK(verify_problems(bad, last) == 1 && strstr(last, "does not match its digest"));

	copy_tree(dir, bad);
	unlink(p);
	CHECK(verify_problems(bad, last) >= 1 && strstr(last, "missing file"));

	copy_tree(dir, bad);
	snprintf(p, sizeof p, "%s/provenance.jsonl", bad);
	file_flip(p, 95); /* in the first record's time: the second's prev breaks */
	CHECK(verify_problems(bad, last) == 1 && strstr(last, "line 2: chain broken"));

	copy_tree(dir, bad);
	struct stat sb;
	stat(p, &sb);
	CHECK(truncate(p, sb.st_size - 30) == 0);
	CHECK(verify_problems(bad, last) >= 1);
	/* ... and a writer refuses to append to a log shorter than committed */
	CHECK(sl_store_open(&st, bad, 0, 1, NULL, &err) == -SL_E_CORRUPT);

	/* crash repair: a torn provenance line and a garbage pack tail are
	 * cut back on the next writable open; verify is then clean */
	copy_tree(dir, bad);
	int fd = open(p, O_WRONLY | O_APPEND);
	CHECK(write(fd, "{\"seq\":3,\"prev\":\"ab", 19) == 19);
	close(fd);
	char pk[4600];
	snprintf(pk, sizeof pk, "%s/packs/pack-%08lld.pack", bad, (long long)rs.pack);
	fd = open(pk, O_WRONLY | O_APPEND);
	CHECK(write(fd, "SLOBgarbage", 11) == 11);
	close(fd);
	snprintf(pk, sizeof pk, "%s/tmp/obj-leftover", bad);
	fd = open(pk, O_WRONLY | O_CREAT, 0600);
	close(fd);
	/* a multi-file input's view left by a crash: a folder, a folder in it,
	 * links (ingest/worker.c, sl_input_view) */
	snprintf(pk, sizeof pk, "%s/tmp/view-leftover", bad);
	CHECK(mkdir(pk, 0700) == 0);
	snprintf(pk, sizeof pk, "%s/tmp/view-leftover/s", bad);
	CHECK(mkdir(pk, 0700) == 0);
	snprintf(pk, sizeof pk, "%s/tmp/view-leftover/s/c1", bad);
	CHECK(symlink("/proc/self/fd/9", pk) == 0);
	snprintf(pk, sizeof pk, "%s/tmp/view-leftover/s.mrxs", bad);
	CHECK(symlink("/proc/self/fd/8", pk) == 0);
	/* uncommitted tails are what a running writer leaves too: not damage */
	CHECK(verify_problems(bad, NULL) == 0);
	REQUIRE(sl_store_open(&st, bad, 0, 1, &info, &err) == 0);
	CHECK(info.repaired_prov == 19 && info.truncated_packs == 1 && info.removed_tmp == 5);
	snprintf(pk, sizeof pk, "%s/tmp", bad);
	CHECK(rmdir(pk) == 0); /* empty: nothing was left behind */
	CHECK(mkdir(pk, 0750) == 0);
	sl_store_close(st);
	CHECK(verify_problems(bad, NULL) == 0);

	free(small);
	free(large);
	free(back);
	sl_io_free(io);
}

/* Two writers storing the same objects in opposite orders, flushing every
 * 16 as the engine does: each object is stored once, nobody deadlocks
 * (a writer publishes its own pending objects before it waits). */
struct racer {
	sl_store *st;
	unsigned slot;
	int reverse;
	struct sl_objref refs[200];
};

static void *race(void *arg)
{
	struct racer *rc = arg;
	sl_io *io;
	sl_err err = {0};
	struct sl_io_opts o = {.mode = SL_IO_POSIX};
	REQUIRE(sl_io_new(&io, &o, &err) == 0);
	for (int k = 0; k < 200; k++) {
		int i = rc->reverse ? 199 - k : k;
		uint8_t buf[300];
		memset(buf, i, sizeof buf);
		sl_objw *w;
		CHECK_RC(sl_objw_begin(rc->st, io, rc->slot, 0, 0, &w, &err), &err);
		CHECK_RC(sl_objw_write(w, buf, 100 + (size_t)i, &err), &err);
		CHECK_RC(sl_objw_finish(w, NULL, &rc->refs[i], &err), &err);
		if (k % 16 == 15)
			CHECK_RC(sl_store_flush(rc->st, io, rc->slot, &err), &err);
	}
	CHECK_RC(sl_store_flush(rc->st, io, rc->slot, &err), &err);
	sl_io_free(io);
	return NULL;
}

static void test_race(const char *base)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/race", base);
	sl_store *st;
	sl_err err = {0};
	REQUIRE(sl_store_open(&st, dir, SL_STORE_CREATE, 2, NULL, &err) == 0);
	static struct racer a, b;
	a = (struct racer){.st = st, .slot = 0};
	b = (struct racer){.st = st, .slot = 1, .reverse = 1};
	pthread_t ta, tb;
	pthread_create(&ta, NULL, race, &a);
	pthread_create(&tb, NULL, race, &b);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	int fresh = 0;
	struct sl_item items[200], *batch[200];
	struct sl_item_output outs[200];
	for (int i = 0; i < 200; i++) {
		CHECK(!memcmp(a.refs[i].digest, b.refs[i].digest, 32));
		CHECK(a.refs[i].pack == b.refs[i].pack && a.refs[i].offset == b.refs[i].offset);
		fresh += a.refs[i].fresh + b.refs[i].fresh;
		outs[i] = (struct sl_item_output){a.refs[i], "primary", "application/octet-stream"};
		items[i] = (struct sl_item){.format = "opaque", .options_fp = "fp", .outs = &outs[i],
					    .nouts = 1, .prov_body = "\"inputs\":[]"};
		memcpy(items[i].input_digest, a.refs[i].digest, 32);
		items[i].path_key[0] = (uint8_t)i;
		batch[i] = &items[i];
	}
	CHECK(fresh == 200); /* each object written by exactly one of them */
	CHECK_RC(sl_store_commit(st, batch, 200, &err), &err);
	sl_store_close(st);
	CHECK(verify_problems(dir, NULL) == 0);
}

/* One statement on a store's catalog, behind the store's back. */
static int64_t sql_int(const char *dir, const char *sql)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/catalog.db", dir);
	sqlite3 *db;
	REQUIRE(sqlite3_open(p, &db) == SQLITE_OK);
	sqlite3_stmt *q;
	REQUIRE(sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK);
	int64_t v = sqlite3_step(q) == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
	sqlite3_finalize(q);
	sqlite3_close(db);
	return v;
}

static struct sl_objref put_bytes(sl_store *st, sl_io *io, uint64_t hint, uint8_t fill, size_t n,
				  int *rc)
{
	struct sl_objref ref = {0};
	sl_objw *w;
	sl_err err = {0};
	uint8_t *p = malloc(n);
	memset(p, fill, n);
	REQUIRE(sl_objw_begin(st, io, 0, 0, hint, &w, &err) == 0);
	*rc = sl_objw_write(w, p, n, &err);
	if (*rc == 0)
		*rc = sl_objw_finish(w, NULL, &ref, &err);
	else
		sl_objw_abort(w);
	free(p);
	return ref;
}

static void commit_one(sl_store *st, const struct sl_objref *ref, uint8_t key)
{
	sl_err err = {0};
	struct sl_item_output out = {*ref, "primary", "application/octet-stream"};
	struct sl_item it = {.format = "opaque", .options_fp = "fp", .outs = &out, .nouts = 1,
			     .prov_body = "\"inputs\":[]"};
	memcpy(it.input_digest, ref->digest, 32);
	memset(it.path_key, key, 32);
	struct sl_item *batch[] = {&it};
	CHECK_RC(sl_store_commit(st, batch, 1, &err), &err);
	CHECK(it.outcome_new == 1);
}

/* A pack append that fails (here: the file size limit) loses every object
 * gathered since the last flush, including ones whose finish() returned 0:
 * the worker's own flush must still report it, and the space is reused. */
static void test_flush_failure(const char *base)
{
	char dir[4096], pk[4300];
	snprintf(dir, sizeof dir, "%s/flushfail", base);
	sl_err err = {0};
	sl_io *io;
	struct sl_io_opts o = {.mode = SL_IO_POSIX};
	REQUIRE(sl_io_new(&io, &o, &err) == 0);
	sl_store *st;
	REQUIRE(sl_store_open(&st, dir, SL_STORE_CREATE, 1, NULL, &err) == 0);
	int rc;
	struct sl_objref a = put_bytes(st, io, 0, 'a', 1000, &rc);
	CHECK(rc == 0 && sl_store_flush(st, io, 0, &err) == 0);
	/* a new pack's id is in the catalog before anything is committed */
	CHECK(sql_int(dir, "SELECT committed_size FROM packs WHERE id=1") == 0);
	snprintf(pk, sizeof pk, "%s/packs/pack-%08lld.pack", dir, (long long)a.pack);
	struct stat sb;
	REQUIRE(stat(pk, &sb) == 0);

	struct rlimit old, lim;
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size;
	signal(SIGXFSZ, SIG_IGN);
	REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	struct sl_objref b1 = put_bytes(st, io, 0, 'b', 3u << 20, &rc);
	CHECK(rc == 0);
	put_bytes(st, io, 0, 'c', 3u << 20, &rc);
	CHECK(rc == 0);
	put_bytes(st, io, 0, 'd', 3u << 20, &rc); /* 9 MiB gathered: written, and refused */
	CHECK(rc < 0);
	REQUIRE(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK(sl_store_flush(st, io, 0, &err) < 0);
	CHECK(sl_store_flush(st, io, 0, &err) == 0); /* reported once */

	/* the lost bytes are not "already stored": written again, fresh */
	struct sl_objref b2 = put_bytes(st, io, 0, 'b', 3u << 20, &rc);
	CHECK(rc == 0 && b2.fresh == 1 && b2.offset == b1.offset);
	CHECK(sl_store_flush(st, io, 0, &err) == 0);
	commit_one(st, &a, 1);
	commit_one(st, &b2, 2);
	sl_store_close(st);
	sl_io_free(io);
	CHECK(verify_problems(dir, NULL) == 0);
}

/* A size hint past the pack threshold spills to a temp file at once; an
 * object that turns out small still goes into a pack. */
static void test_hint_small(const char *base)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/hint", base);
	sl_err err = {0};
	sl_io *io;
	struct sl_io_opts o = {.mode = SL_IO_POSIX};
	REQUIRE(sl_io_new(&io, &o, &err) == 0);
	sl_store *st;
	REQUIRE(sl_store_open(&st, dir, SL_STORE_CREATE | SL_STORE_DIRECT, 1, NULL, &err) == 0);
	int rc;
	struct sl_objref r = put_bytes(st, io, 8u << 20, 'h', 5000, &rc);
	CHECK(rc == 0 && r.pack > 0 && r.size == 5000 && r.fresh == 1);
	CHECK(sl_store_flush(st, io, 0, &err) == 0);
	commit_one(st, &r, 1);
	sl_store_close(st);
	sl_io_free(io);
	char cmd[8400];
	snprintf(cmd, sizeof cmd, "test -z \"$(find '%s/tmp' '%s/objects' -mindepth 1)\"", dir, dir);
	CHECK(system(cmd) == 0);
	CHECK(verify_problems(dir, NULL) == 0);
}

/* A crash after objects were written but before any commit: the pack that
 * never got a committed object is removed on reopen.  A pack file the
 * catalog never named is not ours: left alone, its id never reused. */
static void test_crash_before_commit(const char *base)
{
	char dir[4096], copy[4096], p[4300];
	snprintf(dir, sizeof dir, "%s/precommit", base);
	snprintf(copy, sizeof copy, "%s/precommit-crash", base);
	sl_err err = {0};
	sl_io *io;
	struct sl_io_opts o = {.mode = SL_IO_POSIX};
	REQUIRE(sl_io_new(&io, &o, &err) == 0);
	sl_store *st;
	REQUIRE(sl_store_open(&st, dir, SL_STORE_CREATE, 1, NULL, &err) == 0);
	int rc;
	struct sl_objref r = put_bytes(st, io, 0, 'x', 777, &rc);
	CHECK(rc == 0 && sl_store_flush(st, io, 0, &err) == 0);
	copy_tree(dir, copy); /* the state a kill -9 would leave */
	sl_store_close(st);

	snprintf(p, sizeof p, "%s/packs/pack-00000099.pack", copy);
	int fd = open(p, O_WRONLY | O_CREAT, 0600);
	REQUIRE(fd >= 0 && write(fd, "not ours", 8) == 8);
	close(fd);
	struct sl_store_open_info info;
	REQUIRE(sl_store_open(&st, copy, 0, 1, &info, &err) == 0);
	CHECK(info.truncated_packs == 1);
	CHECK(sql_int(copy, "SELECT COUNT(*) FROM packs") == 0);
	snprintf(p, sizeof p, "%s/packs/pack-%08lld.pack", copy, (long long)r.pack);
	CHECK(access(p, F_OK) < 0);
	struct sl_objref r2 = put_bytes(st, io, 0, 'x', 777, &rc);
	CHECK(rc == 0 && r2.fresh == 1 && r2.pack == 100);
	CHECK(sl_store_flush(st, io, 0, &err) == 0);
	commit_one(st, &r2, 1);
	sl_store_close(st);
	snprintf(p, sizeof p, "%s/packs/pack-00000099.pack", copy);
	CHECK(access(p, F_OK) == 0);
	CHECK(verify_problems(copy, NULL) == 0);
	sl_io_free(io);
}

/* Catalog damage verify must name: an item whose provenance record names
 * another item, an object past its pack's committed end. */
static void test_catalog_damage(const char *base)
{
	char dir[4096], bad[4096], last[600], sql[200];
	snprintf(dir, sizeof dir, "%s/catdmg", base);
	snprintf(bad, sizeof bad, "%s/catdmg-bad", base);
	sl_err err = {0};
	sl_io *io;
	struct sl_io_opts o = {.mode = SL_IO_POSIX};
	REQUIRE(sl_io_new(&io, &o, &err) == 0);
	sl_store *st;
	REQUIRE(sl_store_open(&st, dir, SL_STORE_CREATE, 1, NULL, &err) == 0);
	int rc;
	struct sl_objref r1 = put_bytes(st, io, 0, '1', 100, &rc);
	struct sl_objref r2 = put_bytes(st, io, 0, '2', 100, &rc);
	CHECK(sl_store_flush(st, io, 0, &err) == 0);
	commit_one(st, &r1, 1);
	commit_one(st, &r2, 2);
	sl_store_close(st);
	sl_io_free(io);
	CHECK(verify_problems(dir, NULL) == 0);

	copy_tree(dir, bad);
	sql_int(bad, "UPDATE items SET prov_seq=3-prov_seq");
	CHECK(verify_problems(bad, last) == 2 && strstr(last, "names another item"));

	copy_tree(dir, bad);
	snprintf(sql, sizeof sql, "UPDATE packs SET committed_size=%llu", /* r2's record start */
		 (unsigned long long)r2.offset - 48);
	sql_int(bad, sql);
	CHECK(verify_problems(bad, last) == 1 && strstr(last, "beyond the committed end"));
}

int main(void)
{
	const char *base = unit_tmpdir("test_store");
	umask(0); /* the store's modes must not depend on the caller's umask */
	run(SL_IO_POSIX, base);
	if (sl_io_uring_available())
		run(SL_IO_URING, base);
	test_race(base);
	test_flush_failure(base);
	test_hint_small(base);
	test_crash_before_commit(base);
	test_catalog_damage(base);
	return UNIT_DONE();
}
