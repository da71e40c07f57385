/* test_store.c: the store on both I/O backends: small and large objects,
 * dedup, commit and read-back, verify against each kind of damage, crash
 * repair of torn tails, the writer lock and file modes. */
#include "unit.h"
#include "store/store.h"
#include <fcntl.h>
#include <pthread.h>
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
	file_flip(p, 200); /* inside the first record: the second's prev breaks */
	CHECK(verify_problems(bad, last) >= 1 && (strstr(last, "chain") || strstr(last, "head")));

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
	CHECK(verify_problems(bad, NULL) >= 1);
	REQUIRE(sl_store_open(&st, bad, 0, 1, &info, &err) == 0);
	CHECK(info.repaired_prov == 19 && info.truncated_packs == 1 && info.removed_tmp == 1);
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

int main(void)
{
	const char *base = unit_tmpdir("test_store");
	run(SL_IO_POSIX, base);
	if (sl_io_uring_available())
		run(SL_IO_URING, base);
	test_race(base);
	return UNIT_DONE();
}
