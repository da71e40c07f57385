/* test_store.c: the store on both I/O backends: small (packed) and large
 * objects, de-duplication in a run and across writers, commit and
 * read-back (whole and ranged), item ids derived from what makes an item
 * the same, one provenance chain per writer, verify against each kind of
 * damage, crash repair of uncommitted tails, the writer lock and file
 * modes. */
#include "unit.h"
#include "store/store.h"
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1u << 20)

/* ---- helpers ---- */

struct probs {
	int n;
	char last[600];
	char all[8192];   /* every problem, one a line */
};

static void on_problem(void *ctx, const char *p)
{
	struct probs *pr = ctx;
	pr->n++;
	snprintf(pr->last, sizeof pr->last, "%s", p);
	size_t k = strlen(pr->all);
	snprintf(pr->all + k, sizeof pr->all - k, "%s\n", p);
	fprintf(stderr, "  verify: %s\n", p);
}

static sl_store *open_store(const char *dir, int flags, const char *writer,
			    struct sl_store_open_info *info)
{
	sl_store *st = NULL;
	sl_err err = {0};
	struct sl_store_opts o = {.flags = flags, .writer = writer};
	int rc = sl_store_open(&st, dir, &o, info, &err);
	if (rc < 0)
		fprintf(stderr, "open %s: %s\n", dir, err.msg);
	REQUIRE(rc == 0);
	return st;
}

/* Verify the store at dir read-only; problems and stats for the caller. */
static int verify_full(const char *dir, struct probs *pr, struct sl_verify_stats *vs)
{
	sl_store *st = open_store(dir, SL_STORE_READONLY, NULL, NULL);
	sl_err err = {0};
	memset(pr, 0, sizeof *pr);
	CHECK_RC(sl_store_verify(st, on_problem, pr, vs, &err), &err);
	sl_store_close(st);
	CHECK((uint64_t)pr->n == vs->problems);
	return pr->n;
}

static int verify_problems(const char *dir, char *last)
{
	struct probs pr;
	struct sl_verify_stats vs;
	int n = verify_full(dir, &pr, &vs);
	if (last)
		strcpy(last, pr.last);
	return n;
}

static sl_io *new_io(int mode)
{
	sl_io *io;
	sl_err err = {0};
	struct sl_io_opts o = {.mode = mode};
	REQUIRE(sl_io_new(&io, &o, &err) == 0);
	return io;
}

static sl_store_writer *new_writer(sl_store *st, sl_io *io)
{
	sl_store_writer *w;
	sl_err err = {0};
	int rc = sl_store_writer_new(st, io, &w, &err);
	CHECK_RC(rc, &err);
	REQUIRE(rc == 0);
	return w;
}

static int write_obj(sl_store_writer *w, sl_io *io, const uint8_t *p, size_t n,
		     struct sl_objref *ref)
{
	sl_objw *o;
	sl_err err = {0};
	CHECK_RC(sl_objw_begin(w, 0, 0, &o, &err), &err);
	/* odd-sized pieces, some by reference through chunks */
	size_t off = 0;
	int i = 0;
	while (off < n) {
		size_t k = n - off < 70001 ? n - off : 70001;
		if (i++ % 2) {
			sl_chunk *c = sl_chunk_get(io);
			memcpy(c->data, p + off, k);
			c->len = k;
			CHECK_RC(sl_objw_put(o, c, 0, k, &err), &err);
			sl_chunk_put(c);
		} else {
			CHECK_RC(sl_objw_write(o, p + off, k, &err), &err);
		}
		off += k;
	}
	int rc = sl_objw_finish(o, NULL, ref, &err);
	CHECK_RC(rc, &err);
	return rc;
}

static struct sl_objref put_bytes(sl_store_writer *w, uint64_t hint, uint8_t fill, size_t n,
				  int *rc)
{
	struct sl_objref ref = {0};
	sl_objw *o;
	sl_err err = {0};
	uint8_t *p = malloc(n);
	memset(p, fill, n);
	REQUIRE(sl_objw_begin(w, 0, hint, &o, &err) == 0);
	*rc = sl_objw_write(o, p, n, &err);
	if (*rc == 0)
		*rc = sl_objw_finish(o, NULL, &ref, &err);
	else
		sl_objw_abort(o);
	free(p);
	return ref;
}

/* An item of one input (its digest that of the output, as for a verbatim
 * copy) with one output. */
struct one_item {
	struct sl_item it;
	struct sl_item_input in;
	struct sl_item_output out;
};

static void one_item(struct one_item *x, const struct sl_objref *ref, uint8_t key,
		     const char *format, const char *options_fp)
{
	memset(x, 0, sizeof *x);
	x->out = (struct sl_item_output){*ref, "primary", "application/octet-stream"};
	memcpy(x->in.digest, ref->digest, 32);
	x->in.size = ref->size;
	memset(x->in.path_hmac, key, 32);
	x->it = (struct sl_item){.input_size = ref->size, .format = format, .format_version = "1",
		.options_fp = options_fp, .policy = "{}", .inputs = &x->in, .ninputs = 1,
		.outs = &x->out, .nouts = 1, .software = "{\"sluice\":\"test\"}",
		.key_fp = "00ff"};
	memcpy(x->it.input_digest, ref->digest, 32);
	memset(x->it.seen_key, key, 32);
	x->it.stat.size = ref->size;
	x->it.stat.mtime_ns = 1000u + key;
}

static void commit_one(sl_store *st, const struct sl_objref *ref, uint8_t key, char id[33])
{
	sl_err err = {0};
	struct one_item x;
	one_item(&x, ref, key, "opaque", "fp");
	struct sl_item *batch[] = {&x.it};
	CHECK_RC(sl_store_commit(st, batch, 1, &err), &err);
	CHECK(x.it.outcome_new == 1 && strlen(x.it.item_id) == 32);
	if (id)
		strcpy(id, x.it.item_id);
}

struct found {
	int n;
	char ids[8][33];
};

static int collect(void *ctx, const struct sl_item_view *v)
{
	struct found *f = ctx;
	if (f->n < 8)
		snprintf(f->ids[f->n], 33, "%s", v->id);
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

/* Offset of the nth (0-based) occurrence of needle in the file, or -1. */
static off_t file_find(const char *path, const char *needle, int nth)
{
	sl_buf b;
	sl_buf_init(&b);
	unit_read_file(path, &b);
	sl_buf_add(&b, "", 1);
	off_t at = -1;
	const char *s = (const char *)b.data;
	for (const char *p = s; (p = strstr(p, needle)); p++)
		if (nth-- == 0) {
			at = p - s;
			break;
		}
	sl_buf_free(&b);
	return at;
}

static off_t file_size(const char *path)
{
	struct stat sb;
	return stat(path, &sb) == 0 ? sb.st_size : -1;
}

static void copy_tree(const char *from, const char *to)
{
	char cmd[8400];
	snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -a '%s' '%s'", to, from, to);
	REQUIRE(system(cmd) == 0);
}

static void pack_file(const char *dir, int64_t id, char *out, size_t n)
{
	snprintf(out, n, "%s/packs/pack-%08lld.pack", dir, (long long)id);
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

static void sql_text(const char *dir, const char *sql, char *out, size_t n)
{
	char p[4200];
	snprintf(p, sizeof p, "%s/catalog.db", dir);
	sqlite3 *db;
	REQUIRE(sqlite3_open(p, &db) == SQLITE_OK);
	sqlite3_stmt *q;
	REQUIRE(sqlite3_prepare_v2(db, sql, -1, &q, NULL) == SQLITE_OK);
	out[0] = 0;
	if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_text(q, 0))
		snprintf(out, n, "%s", (const char *)sqlite3_column_text(q, 0));
	sqlite3_finalize(q);
	sqlite3_close(db);
}

/* ---- the whole path on one I/O backend ---- */

static void run(int mode, const char *base)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/store-%d", base, mode);
	sl_err err = {0};
	sl_io *io = new_io(mode);
	struct sl_store_open_info info;
	sl_store *st = open_store(dir, SL_STORE_CREATE, NULL, &info);
	CHECK(info.repaired_prov == 0 && info.truncated_packs == 0 && info.removed_tmp == 0);

	/* a second writer is refused while the first holds the lock */
	sl_store *st2;
	struct sl_store_opts oc = {.flags = SL_STORE_CREATE};
	CHECK(sl_store_open(&st2, dir, &oc, NULL, &err) == -SL_E_STATE);
	CHECK(strstr(err.msg, "in use") != NULL);
	/* and a writer name outside a-z 0-9 _ - is refused */
	struct sl_store_opts ow = {.writer = "B/1"};
	CHECK(sl_store_open(&st2, dir, &ow, NULL, &err) == -SL_E_USAGE);

	/* one store, one pseudonym domain: the first key binds it */
	CHECK_RC(sl_store_bind_key(st, "ab12", &err), &err);
	CHECK_RC(sl_store_bind_key(st, "ab12", &err), &err);
	CHECK(sl_store_bind_key(st, "cd34", &err) == -SL_E_USAGE && strstr(err.msg, "ab12"));

	sl_store_writer *w = new_writer(st, io);
	size_t small_n = 5000, large_n = (5u << 20) + 12345;
	uint8_t *small = malloc(small_n), *large = malloc(large_n);
	for (size_t i = 0; i < small_n; i++)
		small[i] = (uint8_t)(i * 7 + mode);
	for (size_t i = 0; i < large_n; i++)
		large[i] = (uint8_t)(i * 13 + (i >> 12) + mode);
	struct sl_objref rs, rl, rd;
	write_obj(w, io, small, small_n, &rs);
	/* a small object is gathered until the flush */
	CHECK(rs.fresh == 1 && rs.deferred == 1 && rs.loc.a > 0 && rs.loc.b >= 64 &&
	      rs.size == small_n);
	write_obj(w, io, large, large_n, &rl);
	CHECK(rl.fresh == 1 && rl.deferred == 0 && rl.loc.a == -1 && rl.size == large_n);
	write_obj(w, io, small, small_n, &rd); /* same bytes again: this writer's own, published */
	CHECK(rd.fresh == 0 && rd.deferred == 0 && !memcmp(rd.digest, rs.digest, 32) &&
	      rd.loc.a == rs.loc.a && rd.loc.b == rs.loc.b && rd.size == small_n);
	uint8_t want[32];
	sl_sha256_once(large, large_n, want);
	CHECK(!memcmp(rl.digest, want, 32));
	sl_sha256_once(small, small_n, want);
	CHECK(!memcmp(rs.digest, want, 32));
	CHECK_RC(sl_store_flush(w, &err), &err);

	struct sl_item_output outs1[] = {{rs, "primary", "application/octet-stream"}};
	struct sl_item_output outs2[] = {{rl, "primary", "application/dicom"},
					 {rs, "index", "application/x-tabix"}};
	const char *attrs1[] = {"subject", "S1", "kind", "opaque"};
	const char *attrs2[] = {"subject", "S2", "kind", "test"};
	struct sl_item_input in1 = {.size = small_n}, in2 = {.size = large_n};
	memcpy(in1.digest, rs.digest, 32);
	memset(in1.path_hmac, 0xa1, 32);
	memcpy(in2.digest, rl.digest, 32);
	memset(in2.path_hmac, 0xa2, 32);
	struct sl_item a = {.input_size = small_n, .format = "opaque", .format_version = "1",
			    .options_fp = "fp1", .policy = "{\"x\":1}", .inputs = &in1, .ninputs = 1,
			    .outs = outs1, .nouts = 1, .attrs = attrs1, .nattrs = 2,
			    .facts = "\"n\":1", .software = "{\"sluice\":\"test\"}", .key_fp = "ab12"};
	struct sl_item b = a, c;
	memcpy(a.input_digest, rs.digest, 32);
	memset(a.seen_key, 1, 32);
	a.stat = (struct sl_seen){.size = small_n, .mtime_ns = 11, .ctime_ns = 12, .ino = 13, .dev = 14};
	memcpy(b.input_digest, rl.digest, 32);
	memset(b.seen_key, 2, 32);
	b.input_size = large_n;
	b.inputs = &in2;
	b.outs = outs2, b.nouts = 2, b.attrs = attrs2, b.subject_map = "cd34";
	c = a; /* same input, format and options as a: already present */
	memset(c.seen_key, 3, 32);
	c.stat.mtime_ns = 31;
	struct sl_item *batch[] = {&a, &b, &c};
	CHECK_RC(sl_store_commit(st, batch, 3, &err), &err);
	CHECK(a.outcome_new == 1 && b.outcome_new == 1 && c.outcome_new == 0);
	char ida[33], idb[33];
	sl_item_id(rs.digest, "opaque", "fp1", ida);
	sl_item_id(rl.digest, "opaque", "fp1", idb);
	CHECK(!strcmp(a.item_id, ida) && !strcmp(b.item_id, idb) && !strcmp(c.item_id, ida));
	CHECK(strlen(ida) == 32 && strcmp(ida, idb));

	/* the re-ingest cache: found, with the stamp and item; not found */
	struct sl_seen seen;
	uint8_t k3[32], k9[32];
	memset(k3, 3, 32);
	memset(k9, 9, 32);
	sl_store_read_begin(w);
	CHECK(sl_store_seen_get(w, k3, &seen, &err) == 1);
	CHECK(!memcmp(seen.input_digest, rs.digest, 32) && !strcmp(seen.item_id, ida) &&
	      seen.mtime_ns == 31 && seen.size == small_n && seen.ino == 13 && seen.dev == 14);
	CHECK(sl_store_seen_get(w, k9, &seen, &err) == 0);
	sl_store_read_end(w);
	/* an item's outputs, in order, with their locations */
	struct sl_item_output *got = NULL;
	CHECK(sl_store_item_outputs(w, idb, &got, &err) == 2);
	if (got) {
		CHECK(!memcmp(got[0].ref.digest, rl.digest, 32) && got[0].ref.loc.a == -1 &&
		      got[0].ref.size == large_n && !strcmp(got[0].role, "primary") &&
		      !strcmp(got[0].media_type, "application/dicom"));
		CHECK(!memcmp(got[1].ref.digest, rs.digest, 32) && got[1].ref.loc.a == rs.loc.a &&
		      got[1].ref.loc.b == rs.loc.b && !strcmp(got[1].role, "index") &&
		      !strcmp(got[1].media_type, "application/x-tabix"));
	}
	free(got);
	/* an object now in the catalog is not written again */
	struct sl_objref rc2;
	write_obj(w, io, large, large_n, &rc2);
	CHECK(rc2.fresh == 0 && rc2.loc.a == -1 && !memcmp(rc2.digest, rl.digest, 32));
	CHECK_RC(sl_store_flush(w, &err), &err);
	sl_store_writer_free(w);
	sl_store_close(st);

	/* provenance: one chain, prov/main.jsonl, two records */
	char p[4600];
	snprintf(p, sizeof p, "%s/prov/main.jsonl", dir);
	CHECK(file_find(p, "\"seq\":2,", 0) > 0 && file_find(p, "\"seq\":3,", 0) < 0);
	CHECK(file_find(p, "\"writer\":\"main\"", 1) > 0 && file_find(p, ida, 0) > 0);
	CHECK(sql_int(dir, "SELECT count FROM chains WHERE writer='main'") == 2);
	CHECK(sql_int(dir, "SELECT size FROM chains WHERE writer='main'") == file_size(p));

	/* read back */
	st = open_store(dir, SL_STORE_READONLY, NULL, NULL);
	struct found f = {0};
	CHECK_RC(sl_store_items(st, "subject", "S2", collect, &f, &err), &err);
	CHECK(f.n == 1 && !strcmp(f.ids[0], idb));
	f.n = 0;
	CHECK_RC(sl_store_items(st, NULL, NULL, collect, &f, &err), &err);
	CHECK(f.n == 2 && strcmp(f.ids[0], f.ids[1]) < 0); /* in id order */
	char out[4096];
	snprintf(out, sizeof out, "%s/cat-%d", base, mode);
	int ofd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK_RC(sl_store_cat(st, rl.digest, ofd, &err), &err);
	uint8_t *back = malloc(large_n);
	CHECK(pread(ofd, back, large_n, 0) == (ssize_t)large_n && !memcmp(back, large, large_n));
	close(ofd);
	uint8_t nothing[32] = {0};
	CHECK(sl_store_cat(st, nothing, 1, &err) == -SL_E_STATE);
	CHECK(sl_store_read(st, nothing, 0, back, 10, &err) == -SL_E_STATE);
	/* ranged reads of a packed object ... */
	memset(back, 0, large_n);
	CHECK(sl_store_read(st, rs.digest, 1000, back, 2000, &err) == 2000 &&
	      !memcmp(back, small + 1000, 2000));
	CHECK(sl_store_read(st, rs.digest, small_n - 100, back, 1000, &err) == 100 &&
	      !memcmp(back, small + small_n - 100, 100));
	CHECK(sl_store_read(st, rs.digest, small_n, back, 10, &err) == 0);
	CHECK(sl_store_read(st, rs.digest, 0, back, small_n, &err) == (int64_t)small_n &&
	      !memcmp(back, small, small_n));
	/* ... and of a large one, across the 4 MiB mark and past its end */
	CHECK(sl_store_read(st, rl.digest, (4u << 20) - 7, back, MIB + 3, &err) == MIB + 3 &&
	      !memcmp(back, large + (4u << 20) - 7, MIB + 3));
	CHECK(sl_store_read(st, rl.digest, 3, back, 17, &err) == 17 && !memcmp(back, large + 3, 17));
	CHECK(sl_store_read(st, rl.digest, large_n - 5, back, 100, &err) == 5 &&
	      !memcmp(back, large + large_n - 5, 5));
	CHECK(sl_store_read(st, rl.digest, large_n + 1, back, 100, &err) == 0);
	/* the log: both records */
	snprintf(out, sizeof out, "%s/log-%d", base, mode);
	ofd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK_RC(sl_store_log(st, ofd, &err), &err);
	close(ofd);
	CHECK(file_size(out) == file_size(p));
	sl_store_close(st);
	struct probs pr;
	struct sl_verify_stats vs;
	CHECK(verify_full(dir, &pr, &vs) == 0);
	CHECK(vs.objects == 2 && vs.bytes == small_n + large_n && vs.items == 2 &&
	      vs.records == 2 && vs.chains == 1 && vs.unreferenced == 0);

	/* file modes: group-readable at most, whatever the umask */
	char cmd[4200];
	snprintf(cmd, sizeof cmd, "test -z \"$(find '%s' -perm /027)\"", dir);
	CHECK(system(cmd) == 0);

	/* damage, each on a fresh copy: verify must name it */
	char bad[4096], hex[65], last[600], pk[4600];
	snprintf(bad, sizeof bad, "%s/bad-%d", base, mode);
	sl_hex(hex, rl.digest, 32);

	copy_tree(dir, bad);
	pack_file(bad, rs.loc.a, pk, sizeof pk);
	file_flip(pk, (off_t)rs.loc.b + 10);
	CHECK(verify_problems(bad, last) == 1 && strstr(last, "does not match its digest"));

	copy_tree(dir, bad);
	snprintf(pk, sizeof pk, "%s/objects/%.2s/%s", bad, hex, hex);
	CHECK(file_size(pk) == (off_t)large_n);
	file_flip(pk, 4096 * 100);
	CHECK(verify_problems(bad, last) == 1 && strstr(last, "does not match its digest"));

	copy_tree(dir, bad);
	unlink(pk);
	CHECK(verify_problems(bad, last) >= 1 && strstr(last, "missing file"));

	copy_tree(dir, bad);
	snprintf(p, sizeof p, "%s/prov/main.jsonl", bad);
	/* in the first record's time: the second's prev breaks */
	off_t t = file_find(p, "\"time\":\"", 0);
	REQUIRE(t > 0);
	file_flip(p, t + 10);
	CHECK(verify_problems(bad, last) == 1 && strstr(last, "provenance main line 2: chain broken"));

	copy_tree(dir, bad);
	off_t psize = file_size(p);
	CHECK(truncate(p, psize - 30) == 0);
	CHECK(verify_problems(bad, last) >= 1);
	/* ... and a writer refuses to append to a log shorter than committed */
	struct sl_store_opts ow0 = {0};
	CHECK(sl_store_open(&st, bad, &ow0, NULL, &err) == -SL_E_CORRUPT);

	/* crash repair: a torn provenance line and a garbage pack tail are
	 * cut back on the next writable open; verify is then clean */
	copy_tree(dir, bad);
	int fd = open(p, O_WRONLY | O_APPEND);
	CHECK(write(fd, "{\"seq\":3,\"prev\":\"ab", 19) == 19);
	close(fd);
	pack_file(bad, rs.loc.a, pk, sizeof pk);
	off_t pack_was = file_size(pk);
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
	st = open_store(bad, 0, NULL, &info);
	CHECK(info.repaired_prov == 19 && info.truncated_packs == 1 && info.removed_tmp == 5);
	CHECK(file_size(p) == psize);
	pack_file(bad, rs.loc.a, pk, sizeof pk);
	CHECK(file_size(pk) == pack_was);
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

/* ---- many writers storing the same bytes at once ---- */

/* Threads storing the same objects in different orders, flushing every 16
 * as the engine does: each object is stored once, nobody deadlocks (a
 * writer publishes its own pending objects before it waits). */
#define RACERS 4
#define RACE_SMALL 200
#define RACE_N (RACE_SMALL + 2) /* and two large objects */

struct racer {
	sl_store *st;
	int order;
	struct sl_objref refs[RACE_N];
};

static size_t race_size(int i) { return i < RACE_SMALL ? 100 + (size_t)i : (4u << 20) + 1 + (size_t)i; }

static void *race(void *arg)
{
	struct racer *rc = arg;
	sl_io *io = new_io(SL_IO_POSIX);
	sl_err err = {0};
	sl_store_writer *w = new_writer(rc->st, io);
	uint8_t *buf = malloc(race_size(RACE_N - 1));
	for (int k = 0; k < RACE_N; k++) {
		int i = rc->order == 0 ? k : rc->order == 1 ? RACE_N - 1 - k
			: (k * (rc->order == 2 ? 7 : 13) + rc->order) % RACE_N;
		memset(buf, i, race_size(i));
		sl_objw *o;
		CHECK_RC(sl_objw_begin(w, 0, 0, &o, &err), &err);
		CHECK_RC(sl_objw_write(o, buf, race_size(i), &err), &err);
		CHECK_RC(sl_objw_finish(o, NULL, &rc->refs[i], &err), &err);
		if (k % 16 == 15)
			CHECK_RC(sl_store_flush(w, &err), &err);
	}
	CHECK_RC(sl_store_flush(w, &err), &err);
	free(buf);
	sl_store_writer_free(w);
	sl_io_free(io);
	return NULL;
}

static void test_race(const char *base)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/race", base);
	sl_err err = {0};
	sl_store *st = open_store(dir, SL_STORE_CREATE, NULL, NULL);
	static struct racer r[RACERS];
	pthread_t t[RACERS];
	for (int j = 0; j < RACERS; j++) {
		r[j] = (struct racer){.st = st, .order = j};
		REQUIRE(pthread_create(&t[j], NULL, race, &r[j]) == 0);
	}
	for (int j = 0; j < RACERS; j++)
		pthread_join(t[j], NULL);
	static struct one_item items[RACE_N];
	struct sl_item *batch[RACE_N];
	int fresh_total = 0;
	for (int i = 0; i < RACE_N; i++) {
		int fresh = 0;
		for (int j = 0; j < RACERS; j++) {
			CHECK(!memcmp(r[0].refs[i].digest, r[j].refs[i].digest, 32));
			CHECK(r[0].refs[i].loc.a == r[j].refs[i].loc.a &&
			      r[0].refs[i].loc.b == r[j].refs[i].loc.b);
			CHECK(r[j].refs[i].size == race_size(i));
			fresh += r[j].refs[i].fresh;
		}
		CHECK(fresh == 1); /* each object written by exactly one of them */
		fresh_total += fresh;
		CHECK(i < RACE_SMALL ? r[0].refs[i].loc.a > 0 : r[0].refs[i].loc.a == -1);
		one_item(&items[i], &r[0].refs[i], (uint8_t)i, "opaque", "fp");
		batch[i] = &items[i].it;
	}
	CHECK(fresh_total == RACE_N);
	CHECK_RC(sl_store_commit(st, batch, RACE_N, &err), &err);
	for (int i = 0; i < RACE_N; i++)
		CHECK(items[i].it.outcome_new == 1);
	sl_store_close(st);
	char cmd[8400];
	snprintf(cmd, sizeof cmd, "test -z \"$(find '%s/tmp' -mindepth 1)\"", dir);
	CHECK(system(cmd) == 0);
	struct probs pr;
	struct sl_verify_stats vs;
	CHECK(verify_full(dir, &pr, &vs) == 0);
	CHECK(vs.objects == RACE_N && vs.items == RACE_N && vs.records == RACE_N &&
	      vs.unreferenced == 0);
}

/* ---- failures and crashes ---- */

/* A pack append that fails (here: the file size limit) loses every object
 * gathered since the last flush, including ones whose finish() returned 0:
 * the worker's own flush must still report it, and the space is reused. */
static void test_flush_failure(const char *base)
{
	char dir[4096], pk[4300];
	snprintf(dir, sizeof dir, "%s/flushfail", base);
	sl_err err = {0};
	sl_io *io = new_io(SL_IO_POSIX);
	sl_store *st = open_store(dir, SL_STORE_CREATE, NULL, NULL);
	sl_store_writer *w = new_writer(st, io);
	int rc;
	struct sl_objref a = put_bytes(w, 0, 'a', 1000, &rc);
	CHECK(rc == 0 && a.deferred == 1 && sl_store_flush(w, &err) == 0);
	/* a new pack's id is in the catalog before anything is committed */
	char q[200];
	snprintf(q, sizeof q, "SELECT value FROM backend WHERE key='pack/%lld'", (long long)a.loc.a);
	CHECK(sql_int(dir, q) == 0);
	pack_file(dir, a.loc.a, pk, sizeof pk);
	struct stat sb;
	REQUIRE(stat(pk, &sb) == 0);

	struct rlimit old, lim;
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size;
	signal(SIGXFSZ, SIG_IGN);
	REQUIRE(setrlimit(RLIMIT_FSIZE, &lim) == 0);
	struct sl_objref b1 = put_bytes(w, 0, 'b', 3u << 20, &rc);
	CHECK(rc == 0 && b1.deferred == 1);
	put_bytes(w, 0, 'c', 3u << 20, &rc);
	CHECK(rc == 0);
	put_bytes(w, 0, 'd', 3u << 20, &rc); /* 9 MiB gathered: written, and refused */
	CHECK(rc < 0);
	REQUIRE(setrlimit(RLIMIT_FSIZE, &old) == 0);
	CHECK(sl_store_flush(w, &err) < 0);
	CHECK(sl_store_flush(w, &err) == 0); /* reported once */
	CHECK(file_size(pk) == sb.st_size);

	/* the lost bytes are not "already stored": written again, fresh */
	struct sl_objref b2 = put_bytes(w, 0, 'b', 3u << 20, &rc);
	CHECK(rc == 0 && b2.fresh == 1 && b2.loc.a == b1.loc.a && b2.loc.b == b1.loc.b);
	struct sl_objref d2 = put_bytes(w, 0, 'd', 3u << 20, &rc);
	CHECK(rc == 0 && d2.fresh == 1);
	CHECK(sl_store_flush(w, &err) == 0);
	commit_one(st, &a, 1, NULL);
	commit_one(st, &b2, 2, NULL);
	commit_one(st, &d2, 3, NULL);
	sl_store_writer_free(w);
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
	sl_io *io = new_io(SL_IO_POSIX);
	sl_store *st = open_store(dir, SL_STORE_CREATE | SL_STORE_DIRECT, NULL, NULL);
	sl_store_writer *w = new_writer(st, io);
	int rc;
	struct sl_objref r = put_bytes(w, 8u << 20, 'h', 5000, &rc);
	CHECK(rc == 0 && r.loc.a > 0 && r.size == 5000 && r.fresh == 1 && r.deferred == 1);
	/* an empty object: a record of its own, read back as nothing */
	struct sl_objref e = put_bytes(w, 0, 'e', 0, &rc);
	uint8_t want[32];
	sl_sha256_once("", 0, want);
	CHECK(rc == 0 && e.size == 0 && e.fresh == 1 && e.loc.a > 0 && !memcmp(e.digest, want, 32));
	CHECK(sl_store_flush(w, &err) == 0);
	commit_one(st, &r, 1, NULL);
	commit_one(st, &e, 2, NULL);
	uint8_t b1[8];
	CHECK(sl_store_read(st, e.digest, 0, b1, sizeof b1, &err) == 0);
	sl_store_writer_free(w);
	sl_store_close(st);
	sl_io_free(io);
	char cmd[8400];
	snprintf(cmd, sizeof cmd, "test -z \"$(find '%s/tmp' '%s/objects' -mindepth 1)\"", dir, dir);
	CHECK(system(cmd) == 0);
	CHECK(verify_problems(dir, NULL) == 0);
}

/* A crash after objects were written but before any commit: the pack that
 * never got a committed object is removed on reopen, with its row.  A pack
 * file no row names is not ours: left alone, its id never reused. */
static void test_crash_before_commit(const char *base)
{
	char dir[4096], copy[4096], p[4300];
	snprintf(dir, sizeof dir, "%s/precommit", base);
	snprintf(copy, sizeof copy, "%s/precommit-crash", base);
	sl_err err = {0};
	sl_io *io = new_io(SL_IO_POSIX);
	sl_store *st = open_store(dir, SL_STORE_CREATE, NULL, NULL);
	sl_store_writer *w = new_writer(st, io);
	int rc;
	struct sl_objref r = put_bytes(w, 0, 'x', 777, &rc);
	CHECK(rc == 0 && sl_store_flush(w, &err) == 0);
	copy_tree(dir, copy); /* the state a kill -9 would leave */
	sl_store_writer_free(w);
	sl_store_close(st);
	CHECK(sql_int(copy, "SELECT COUNT(*) FROM backend WHERE key LIKE 'pack/%'") == 1);

	snprintf(p, sizeof p, "%s/packs/pack-00000099.pack", copy);
	int fd = open(p, O_WRONLY | O_CREAT, 0600);
	REQUIRE(fd >= 0 && write(fd, "not ours", 8) == 8);
	close(fd);
	struct sl_store_open_info info;
	st = open_store(copy, 0, NULL, &info);
	CHECK(info.truncated_packs == 1 && info.repaired_prov == 0);
	CHECK(sql_int(copy, "SELECT COUNT(*) FROM backend WHERE key LIKE 'pack/%'") == 0);
	pack_file(copy, r.loc.a, p, sizeof p);
	CHECK(access(p, F_OK) < 0);
	w = new_writer(st, io);
	struct sl_objref r2 = put_bytes(w, 0, 'x', 777, &rc);
	CHECK(rc == 0 && r2.fresh == 1 && r2.loc.a == 100);
	CHECK(sl_store_flush(w, &err) == 0);
	commit_one(st, &r2, 1, NULL);
	sl_store_writer_free(w);
	sl_store_close(st);
	CHECK(sql_int(copy, "SELECT value FROM backend WHERE key='pack/100'") > 0);
	snprintf(p, sizeof p, "%s/packs/pack-00000099.pack", copy);
	CHECK(access(p, F_OK) == 0);
	CHECK(verify_problems(copy, NULL) == 0);
	sl_io_free(io);
}

/* A crash inside a commit, after the provenance lines were appended and
 * fsynced but before the catalog transaction: whole uncommitted records
 * at the chain's end, a pack (its row committed at once, end 0) and a
 * large object file no catalog row names.  The next writable open cuts
 * the chain back and removes the pack; the same inputs then go in again. */
static void test_crash_mid_commit(const char *base)
{
	char dir[4096], before[4096], crash[4096], p[4300], q[4300], cmd[13000];
	snprintf(dir, sizeof dir, "%s/midcommit", base);
	snprintf(before, sizeof before, "%s/midcommit-before", base);
	snprintf(crash, sizeof crash, "%s/midcommit-crash", base);
	sl_err err = {0};
	sl_io *io = new_io(SL_IO_POSIX);
	sl_store *st = open_store(dir, SL_STORE_CREATE, NULL, NULL);
	sl_store_writer *w = new_writer(st, io);
	int rc;
	struct sl_objref r1 = put_bytes(w, 0, 'p', 500, &rc);
	CHECK(rc == 0 && sl_store_flush(w, &err) == 0);
	commit_one(st, &r1, 1, NULL);
	sl_store_writer_free(w);
	sl_store_close(st);
	copy_tree(dir, before);

	st = open_store(dir, 0, NULL, NULL);
	w = new_writer(st, io);
	struct sl_objref r2 = put_bytes(w, 0, 'q', 600, &rc);
	struct sl_objref r3 = put_bytes(w, 0, 'L', 5u << 20, &rc);
	CHECK(rc == 0 && r2.loc.a > r1.loc.a && r3.loc.a == -1);
	CHECK(sl_store_flush(w, &err) == 0);
	commit_one(st, &r2, 2, NULL);
	commit_one(st, &r3, 3, NULL);
	sl_store_writer_free(w);
	sl_store_close(st);

	/* the crashed state: today's files, yesterday's catalog plus the row
	 * of the pack this run made (recorded before its file existed) */
	copy_tree(dir, crash);
	snprintf(cmd, sizeof cmd, "rm -f '%s'/catalog.db* && cp -a '%s'/catalog.db* '%s'/", crash,
		 before, crash);
	REQUIRE(system(cmd) == 0);
	char sql[200];
	snprintf(sql, sizeof sql, "INSERT INTO backend(key,value) VALUES('pack/%lld',0)",
		 (long long)r2.loc.a);
	sql_int(crash, sql);
	snprintf(p, sizeof p, "%s/prov/main.jsonl", crash);
	snprintf(q, sizeof q, "%s/prov/main.jsonl", before);
	off_t cut = file_size(p) - file_size(q);
	CHECK(cut > 0 && file_find(p, "\"seq\":3,", 0) > 0);

	/* uncommitted whole records and packs are not damage */
	struct probs pr;
	struct sl_verify_stats vs;
	CHECK(verify_full(crash, &pr, &vs) == 0);
	CHECK(vs.records == 1 && vs.items == 1 && vs.unreferenced == 1); /* the large file */

	struct sl_store_open_info info;
	st = open_store(crash, 0, NULL, &info);
	CHECK(info.repaired_prov == (int)cut && info.truncated_packs == 1);
	CHECK(file_size(p) == file_size(q));
	pack_file(crash, r2.loc.a, p, sizeof p);
	CHECK(access(p, F_OK) < 0);
	pack_file(crash, r1.loc.a, p, sizeof p);
	pack_file(before, r1.loc.a, q, sizeof q);
	CHECK(file_size(p) == file_size(q));
	w = new_writer(st, io);
	struct sl_objref s2 = put_bytes(w, 0, 'q', 600, &rc);
	struct sl_objref s3 = put_bytes(w, 0, 'L', 5u << 20, &rc);
	CHECK(s2.fresh == 1 && s3.fresh == 1 && s2.loc.a > r2.loc.a);
	CHECK(sl_store_flush(w, &err) == 0);
	commit_one(st, &s2, 2, NULL);
	commit_one(st, &s3, 3, NULL);
	sl_store_writer_free(w);
	sl_store_close(st);
	CHECK(verify_full(crash, &pr, &vs) == 0);
	CHECK(vs.records == 3 && vs.items == 3 && vs.objects == 3 && vs.unreferenced == 0);
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
	sl_io *io = new_io(SL_IO_POSIX);
	sl_store *st = open_store(dir, SL_STORE_CREATE, NULL, NULL);
	sl_store_writer *w = new_writer(st, io);
	int rc;
	struct sl_objref r1 = put_bytes(w, 0, '1', 100, &rc);
	struct sl_objref r2 = put_bytes(w, 0, '2', 100, &rc);
	CHECK(sl_store_flush(w, &err) == 0);
	CHECK(r1.loc.a == r2.loc.a && r2.loc.b > r1.loc.b);
	commit_one(st, &r1, 1, NULL);
	commit_one(st, &r2, 2, NULL);
	sl_store_writer_free(w);
	sl_store_close(st);
	sl_io_free(io);
	CHECK(verify_problems(dir, NULL) == 0);

	copy_tree(dir, bad);
	sql_int(bad, "UPDATE items SET prov_seq=3-prov_seq");
	CHECK(verify_problems(bad, last) == 2 && strstr(last, "names another item"));

	copy_tree(dir, bad);
	snprintf(sql, sizeof sql, "UPDATE backend SET value=%llu WHERE key='pack/%lld'",
		 (unsigned long long)r2.loc.b - 48, (long long)r2.loc.a); /* r2's record start */
	sql_int(bad, sql);
	CHECK(verify_problems(bad, last) == 1 && strstr(last, "beyond the committed end"));

	copy_tree(dir, bad);
	sql_int(bad, "UPDATE items SET writer='nobody'");
	CHECK(verify_problems(bad, last) == 2 && strstr(last, "points to no provenance record"));
}

/* ---- identities and writers ---- */

/* An item's id depends on its input digest, format and options only: two
 * separate stores give the same input the same id. */
static void test_item_ids(const char *base)
{
	char dirs[2][4096], ids[2][33], xid[33] = "", sid[2][80];
	sl_err err = {0};
	sl_io *io = new_io(SL_IO_POSIX);
	for (int k = 0; k < 2; k++) {
		snprintf(dirs[k], sizeof dirs[k], "%s/ids-%d", base, k);
		sl_store *st = open_store(dirs[k], SL_STORE_CREATE, k ? "other" : NULL, NULL);
		sl_store_writer *w = new_writer(st, io);
		int rc;
		if (k) /* something else first: a different history */
			put_bytes(w, 0, 'z', 300, &rc);
		struct sl_objref r = put_bytes(w, 0, 'i', 4321, &rc);
		CHECK(rc == 0 && sl_store_flush(w, &err) == 0);
		struct one_item x, y;
		one_item(&x, &r, (uint8_t)(10 + k), "opaque", "fpX");
		one_item(&y, &r, (uint8_t)(20 + k), "opaque", "fpY"); /* other options: another item */
		struct sl_item *batch[] = {&y.it, &x.it};
		CHECK_RC(sl_store_commit(st, batch, k ? 2 : 1, &err), &err);
		CHECK(y.it.outcome_new == 1);
		snprintf(ids[k], 33, "%s", y.it.item_id);
		if (k) {
			CHECK(x.it.outcome_new == 1);
			snprintf(xid, 33, "%s", x.it.item_id);
			CHECK(strcmp(x.it.item_id, y.it.item_id));
		}
		sl_store_writer_free(w);
		sl_store_close(st);
		sql_text(dirs[k], "SELECT value FROM meta WHERE key='store_id'", sid[k], sizeof sid[k]);
		CHECK(strlen(sid[k]) == 32);
		CHECK(verify_problems(dirs[k], NULL) == 0);
	}
	CHECK(strcmp(sid[0], sid[1])); /* two stores indeed */
	CHECK(!strcmp(ids[0], ids[1])); /* the same item in both */
	uint8_t d[32];
	uint8_t *bytes = malloc(4321);
	memset(bytes, 'i', 4321);
	sl_sha256_once(bytes, 4321, d);
	free(bytes);
	char want_y[33], want_x[33], other[33];
	sl_item_id(d, "opaque", "fpY", want_y);
	sl_item_id(d, "opaque", "fpX", want_x);
	CHECK(!strcmp(ids[0], want_y) && !strcmp(xid, want_x));
	/* as the catalog lists it */
	sl_store *st = open_store(dirs[1], SL_STORE_READONLY, NULL, NULL);
	struct found f = {0};
	CHECK_RC(sl_store_items(st, NULL, NULL, collect, &f, &err), &err);
	CHECK(f.n == 2 && (!strcmp(f.ids[0], ids[0]) || !strcmp(f.ids[1], ids[0])));
	sl_store_close(st);
	sl_item_id(d, "other", "fpY", other);
	CHECK(strcmp(other, want_y) && strcmp(want_x, want_y));
	sl_item_id(d, "opaque", "fpY", other);
	CHECK(!strcmp(other, want_y));
	sl_io_free(io);
}

/* Two writers one after the other on one store: two chains, each verified
 * on its own and against the catalog; damage in one names that one. */
static void test_two_writers(const char *base)
{
	char dir[4096], bad[4096], p[4300], pa[4300];
	snprintf(dir, sizeof dir, "%s/writers", base);
	snprintf(bad, sizeof bad, "%s/writers-bad", base);
	sl_err err = {0};
	sl_io *io = new_io(SL_IO_POSIX);
	struct sl_objref ra[2];
	char ida[33];
	{
		sl_store *st = open_store(dir, SL_STORE_CREATE, "a", NULL);
		sl_store_writer *w = new_writer(st, io);
		int rc;
		ra[0] = put_bytes(w, 0, 'A', 700, &rc);
		ra[1] = put_bytes(w, 0, 'B', 800, &rc);
		CHECK(sl_store_flush(w, &err) == 0);
		commit_one(st, &ra[0], 1, ida);
		commit_one(st, &ra[1], 2, NULL);
		sl_store_writer_free(w);
		sl_store_close(st);
	}
	{
		sl_store *st = open_store(dir, 0, "b", NULL);
		sl_store_writer *w = new_writer(st, io);
		int rc;
		struct sl_objref rb1 = put_bytes(w, 0, 'C', 900, &rc);
		struct sl_objref rb2 = put_bytes(w, 0, 'D', 5u << 20, &rc);
		struct sl_objref again = put_bytes(w, 0, 'A', 700, &rc);
		CHECK(again.fresh == 0 && again.loc.a == ra[0].loc.a && again.loc.b == ra[0].loc.b);
		CHECK(rb1.loc.a != ra[0].loc.a); /* a pack of its own */
		CHECK(sl_store_flush(w, &err) == 0);
		struct one_item x1, x2, x3;
		one_item(&x1, &rb1, 3, "opaque", "fp");
		one_item(&x2, &again, 4, "opaque", "fp"); /* writer a's item */
		one_item(&x3, &rb2, 5, "opaque", "fp");
		struct sl_item *batch[] = {&x1.it, &x2.it, &x3.it};
		CHECK_RC(sl_store_commit(st, batch, 3, &err), &err);
		CHECK(x1.it.outcome_new == 1 && x2.it.outcome_new == 0 && x3.it.outcome_new == 1);
		CHECK(!strcmp(x2.it.item_id, ida));
		/* the cache entry writer b made names writer a's item */
		uint8_t k4[32];
		memset(k4, 4, 32);
		struct sl_seen seen;
		CHECK(sl_store_seen_get(w, k4, &seen, &err) == 1 && !strcmp(seen.item_id, ida));
		sl_store_writer_free(w);
		sl_store_close(st);
	}
	snprintf(pa, sizeof pa, "%s/prov/a.jsonl", dir);
	snprintf(p, sizeof p, "%s/prov/b.jsonl", dir);
	CHECK(file_find(pa, "\"seq\":2,", 0) > 0 && file_find(pa, "\"writer\":\"b\"", 0) < 0);
	CHECK(file_find(p, "\"seq\":2,", 0) > 0);
	CHECK(file_find(p, "\"seq\":1,", 0) == 1 && file_find(p, "\"seq\":3,", 0) < 0);
	CHECK(file_find(p, "\"writer\":\"b\"", 1) > 0 && file_find(p, "\"writer\":\"a\"", 0) < 0);
	snprintf(pa, sizeof pa, "%s/prov/main.jsonl", dir);
	CHECK(access(pa, F_OK) < 0);
	CHECK(sql_int(dir, "SELECT COUNT(*) FROM chains") == 2);
	CHECK(sql_int(dir, "SELECT COUNT(*) FROM items WHERE writer='b'") == 2);
	struct probs pr;
	struct sl_verify_stats vs;
	CHECK(verify_full(dir, &pr, &vs) == 0);
	CHECK(vs.chains == 2 && vs.records == 4 && vs.items == 4 && vs.objects == 4);
	/* the log holds both chains */
	char out[4300];
	snprintf(out, sizeof out, "%s/writers-log", base);
	sl_store *st = open_store(dir, SL_STORE_READONLY, NULL, NULL);
	int fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK_RC(sl_store_log(st, fd, &err), &err);
	close(fd);
	sl_store_close(st);
	snprintf(pa, sizeof pa, "%s/prov/a.jsonl", dir);
	CHECK(file_size(out) == file_size(pa) + file_size(p));
	CHECK(file_find(out, "\"seq\":2,", 1) > 0);

	/* one byte of chain b's first record: its second record's link breaks */
	char bp[4300], last[600];
	snprintf(bp, sizeof bp, "%s/prov/b.jsonl", bad);
	copy_tree(dir, bad);
	off_t t = file_find(bp, "\"format\":\"opaque\"", 0);
	REQUIRE(t > 0);
	file_flip(bp, t + 11);
	CHECK(verify_full(bad, &pr, &vs) == 1);
	CHECK(strstr(pr.last, "provenance b line 2: chain broken") != NULL);
	CHECK(strstr(pr.all, "provenance a") == NULL);
	/* ... of its last record: the catalog's head no longer matches */
	copy_tree(dir, bad);
	t = file_find(bp, "\"time\":\"", 1);
	REQUIRE(t > file_find(bp, "\"seq\":2,", 0));
	file_flip(bp, t + 10);
	CHECK(verify_problems(bad, last) == 1 && strstr(last, "provenance b") &&
	      strstr(last, "head does not match"));
	/* chain a's damage names a */
	copy_tree(dir, bad);
	snprintf(bp, sizeof bp, "%s/prov/a.jsonl", bad);
	t = file_find(bp, "\"time\":\"", 0);
	REQUIRE(t > 0);
	file_flip(bp, t + 10);
	CHECK(verify_full(bad, &pr, &vs) == 1 && strstr(pr.last, "provenance a line 2") &&
	      !strstr(pr.all, "provenance b"));
	sl_io_free(io);
}

/* Verify on a store open for writing checks it with a backend of its own:
 * the writer's objects written before it are still flushed, made durable
 * and recorded by the next commit. */
static void test_verify_while_writing(const char *base)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/verify-rw", base);
	sl_store *st = open_store(dir, SL_STORE_CREATE, NULL, NULL);
	sl_io *io = new_io(SL_IO_POSIX);
	sl_store_writer *w = new_writer(st, io);
	int rc;
	struct sl_objref a = put_bytes(w, 0, 0x5a, 3000, &rc);
	sl_err err = {0};
	CHECK_RC(sl_store_flush(w, &err), &err);
	struct sl_verify_stats vs;
	struct probs pr = {0};
	CHECK_RC(sl_store_verify(st, on_problem, &pr, &vs, &err), &err);
	CHECK(vs.problems == 0 && vs.objects == 0);
	struct sl_objref b = put_bytes(w, 0, 0x5b, 3000, &rc);
	CHECK(rc == 0);
	CHECK_RC(sl_store_flush(w, &err), &err);
	commit_one(st, &a, 1, NULL);
	commit_one(st, &b, 2, NULL);
	sl_store_writer_free(w);
	sl_store_close(st);
	sl_io_free(io);
	CHECK(verify_problems(dir, NULL) == 0);
}

/* A catalog statement that fails mid-batch is what the error says, not a
 * later statement's "not an error"; nothing of the batch is recorded. */
static void test_commit_error(const char *base)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/commit-error", base);
	sl_store *st = open_store(dir, SL_STORE_CREATE, NULL, NULL);
	sl_io *io = new_io(SL_IO_POSIX);
	sl_store_writer *w = new_writer(st, io);
	int rc;
	struct sl_objref a = put_bytes(w, 0, 0x6a, 2000, &rc);
	sl_err err = {0};
	CHECK_RC(sl_store_flush(w, &err), &err);
	struct one_item x;
	one_item(&x, &a, 3, "opaque", "fp");
	const char *attrs[] = {"subject", NULL}; /* NOT NULL in attrs.value */
	x.it.attrs = attrs;
	x.it.nattrs = 1;
	struct sl_item *batch[] = {&x.it};
	CHECK(sl_store_commit(st, batch, 1, &err) < 0);
	CHECK(strstr(err.msg, "NOT NULL") != NULL);
	CHECK(x.it.outcome_new == 0);
	sl_store_writer_free(w);
	sl_store_close(st);
	sl_io_free(io);
	struct sl_verify_stats vs;
	struct probs pr = {0};
	CHECK(verify_full(dir, &pr, &vs) == 0 && vs.items == 0 && vs.records == 0);
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
	test_crash_mid_commit(base);
	test_catalog_damage(base);
	test_item_ids(base);
	test_two_writers(base);
	test_verify_while_writing(base);
	test_commit_error(base);
	return UNIT_DONE();
}
