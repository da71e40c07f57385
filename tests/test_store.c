/*
 * test_store.c: the store through its public header: objects either side
 * of the local backend's pack limit, whole and ranged reads, two threads
 * writing the same bytes at once (each object placed once), items and
 * their derived ids, two writers' chains, a crash before the catalog
 * commit (pack tail and chain tail cut back at the next open), and damage
 * to a chain found by verify.  The CLI tests check the same through the
 * binary; test_backends.c runs the engine on a second backend.
 */
#include "unit.h"
#include "store/store.h"
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

static unsigned problems;
static void on_problem(void *ctx, const char *p)
{
	problems++;
	if (ctx)
		snprintf(ctx, 600, "%s", p);
}

static unsigned verify(const char *dir, char *last, struct sl_verify_stats *vs)
{
	sl_store *st;
	sl_err err = {0};
	struct sl_store_opts o = {.flags = SL_STORE_READONLY};
	REQUIRE(sl_store_open(&st, dir, &o, NULL, &err) == 0);
	problems = 0;
	CHECK_RC(sl_store_verify(st, on_problem, last, vs, &err), &err);
	sl_store_close(st);
	return problems;
}

static sl_store *open_rw(const char *dir, const char *writer, struct sl_store_open_info *info)
{
	sl_store *st;
	sl_err err = {0};
	struct sl_store_opts o = {.flags = SL_STORE_CREATE, .writer = writer};
	int rc = sl_store_open(&st, dir, &o, info, &err);
	if (rc < 0)
		fprintf(stderr, "open: %s\n", err.msg);
	REQUIRE(rc == 0);
	return st;
}

static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((seed = seed * 1103515245u + 12345u) >> 16);
}

static struct sl_objref put(sl_store_writer *w, const uint8_t *p, size_t n)
{
	sl_objw *o;
	sl_err err = {0};
	struct sl_objref ref = {0};
	CHECK_RC(sl_objw_begin(w, 0, 0, &o, &err), &err);
	CHECK_RC(sl_objw_write(o, p, n, &err), &err);
	CHECK_RC(sl_objw_finish(o, NULL, &ref, &err), &err);
	return ref;
}

/* One item per object, committed in one batch. */
static void commit(sl_store *st, const struct sl_objref *refs, size_t n, uint8_t tag)
{
	struct sl_item *items = sl_xcalloc(n, sizeof *items), **batch = sl_xcalloc(n, sizeof *batch);
	struct sl_item_output *outs = sl_xcalloc(n, sizeof *outs);
	struct sl_item_input *ins = sl_xcalloc(n, sizeof *ins);
	for (size_t i = 0; i < n; i++) {
		outs[i] = (struct sl_item_output){refs[i], "primary", "application/octet-stream"};
		memcpy(ins[i].digest, refs[i].digest, 32);
		ins[i].size = refs[i].size;
		items[i] = (struct sl_item){.format = "opaque", .format_version = "1",
			.options_fp = "fp", .policy = "{}", .inputs = &ins[i], .ninputs = 1,
			.outs = &outs[i], .nouts = 1, .key_fp = "k"};
		memcpy(items[i].input_digest, refs[i].digest, 32);
		items[i].seen_key[0] = tag;
		items[i].seen_key[1] = (uint8_t)i;
		batch[i] = &items[i];
	}
	sl_err err = {0};
	CHECK_RC(sl_store_commit(st, batch, n, &err), &err);
	for (size_t i = 0; i < n; i++) {
		char want[33];
		sl_item_id(refs[i].digest, "opaque", "fp", want);
		CHECK(!strcmp(items[i].item_id, want));
	}
	free(items);
	free(batch);
	free(outs);
	free(ins);
}

/* ---- sizes, reads ---- */

static void test_sizes(const char *base)
{
	char dir[1100];
	snprintf(dir, sizeof dir, "%s/sizes", base);
	sl_store *st = open_rw(dir, NULL, NULL);
	sl_io *io;
	sl_err err = {0};
	struct sl_io_opts io_o = {.mode = SL_IO_POSIX};
	REQUIRE(sl_io_new(&io, &io_o, &err) == 0);
	sl_store_writer *w;
	REQUIRE(sl_store_writer_new(st, io, &w, &err) == 0);
	static const size_t sizes[] = {0, 1, 4096, 4194304, 4194305, 6000000};
	enum { N = sizeof sizes / sizeof sizes[0] };
	uint8_t *buf = sl_xmalloc(6000000);
	fill(buf, 6000000, 99);
	struct sl_objref refs[N];
	for (size_t i = 0; i < N; i++) {
		refs[i] = put(w, buf + i, sizes[i]);
		CHECK(refs[i].fresh && refs[i].size == sizes[i]);
		/* where it lies depends on its size alone: packs up to 4 MiB */
		CHECK(refs[i].deferred == (sizes[i] <= 4194304));
	}
	struct sl_objref again = put(w, buf + 2, 4096);
	CHECK(!again.fresh && !memcmp(again.digest, refs[2].digest, 32));
	CHECK_RC(sl_store_flush(w, &err), &err);
	commit(st, refs, N, 1);
	sl_store_writer_free(w);
	for (size_t i = 0; i < N; i++) {
		uint8_t part[100];
		uint64_t off = sizes[i] > 150 ? sizes[i] - 150 : 0;
		int64_t got = sl_store_read(st, refs[i].digest, off, part, sizeof part, &err);
		CHECK(got == (int64_t)(sizes[i] - off < 100 ? sizes[i] - off : 100));
		CHECK(got >= 0 && !memcmp(part, buf + i + off, (size_t)got));
	}
	sl_store_close(st);
	sl_io_free(io);
	struct sl_verify_stats vs;
	CHECK(verify(dir, NULL, &vs) == 0);
	CHECK(vs.objects == N && vs.items == N && vs.records == N && vs.chains == 1);
	free(buf);
}

/* ---- two threads, the same bytes ---- */

struct racer {
	sl_store *st;
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
	sl_store_writer *w;
	REQUIRE(sl_store_writer_new(rc->st, io, &w, &err) == 0);
	for (int k = 0; k < 200; k++) {
		int i = rc->reverse ? 199 - k : k;
		uint8_t buf[300];
		memset(buf, i, sizeof buf);
		rc->refs[i] = put(w, buf, 100 + (size_t)i);
		if (k % 16 == 15)
			CHECK_RC(sl_store_flush(w, &err), &err);
	}
	CHECK_RC(sl_store_flush(w, &err), &err);
	sl_store_writer_free(w);
	sl_io_free(io);
	return NULL;
}

static void test_race(const char *base)
{
	char dir[1100];
	snprintf(dir, sizeof dir, "%s/race", base);
	sl_store *st = open_rw(dir, NULL, NULL);
	static struct racer a, b;
	a = (struct racer){.st = st};
	b = (struct racer){.st = st, .reverse = 1};
	pthread_t ta, tb;
	REQUIRE(pthread_create(&ta, NULL, race, &a) == 0);
	REQUIRE(pthread_create(&tb, NULL, race, &b) == 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	int fresh = 0;
	for (int i = 0; i < 200; i++) {
		CHECK(!memcmp(a.refs[i].digest, b.refs[i].digest, 32));
		CHECK(a.refs[i].loc.a == b.refs[i].loc.a && a.refs[i].loc.b == b.refs[i].loc.b);
		fresh += a.refs[i].fresh + b.refs[i].fresh;
	}
	CHECK(fresh == 200); /* each object placed by exactly one of them */
	commit(st, a.refs, 200, 2);
	sl_store_close(st);
	struct sl_verify_stats vs;
	CHECK(verify(dir, NULL, &vs) == 0);
	CHECK(vs.objects == 200 && vs.unreferenced == 0);
}

/* ---- writers, a crash, damage ---- */

static off_t file_size(const char *dir, const char *name)
{
	char p[1200];
	struct stat sb;
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return stat(p, &sb) == 0 ? sb.st_size : -1;
}

static void test_writers_and_crash(const char *base)
{
	char dir[1100];
	snprintf(dir, sizeof dir, "%s/writers", base);
	sl_io *io;
	sl_err err = {0};
	struct sl_io_opts io_o = {.mode = SL_IO_POSIX};
	REQUIRE(sl_io_new(&io, &io_o, &err) == 0);
	uint8_t buf[3000];
	const char *writers[] = {"a", "b"};
	for (int k = 0; k < 2; k++) {
		sl_store *st = open_rw(dir, writers[k], NULL);
		sl_store_writer *w;
		REQUIRE(sl_store_writer_new(st, io, &w, &err) == 0);
		struct sl_objref refs[3];
		for (int i = 0; i < 3; i++) {
			fill(buf, sizeof buf, (uint32_t)(10 * k + i + 1));
			refs[i] = put(w, buf, sizeof buf);
		}
		CHECK_RC(sl_store_flush(w, &err), &err);
		commit(st, refs, 3, (uint8_t)(10 + k));
		sl_store_writer_free(w);
		sl_store_close(st);
	}
	struct sl_verify_stats vs;
	CHECK(verify(dir, NULL, &vs) == 0);
	CHECK(vs.chains == 2 && vs.records == 6 && vs.items == 6);

	/* a crash before the commit: bytes in a pack and lines in b's chain
	 * that the catalog never recorded */
	off_t chain = file_size(dir, "prov/b.jsonl");
	sl_store *st = open_rw(dir, "b", NULL);
	sl_store_writer *w;
	REQUIRE(sl_store_writer_new(st, io, &w, &err) == 0);
	fill(buf, sizeof buf, 77);
	put(w, buf, sizeof buf);
	CHECK_RC(sl_store_flush(w, &err), &err);
	sl_store_writer_free(w);
	sl_store_close(st);
	char p[1200];
	snprintf(p, sizeof p, "%s/prov/b.jsonl", dir);
	int fd = open(p, O_WRONLY | O_APPEND);
	REQUIRE(fd >= 0 && write(fd, "{\"seq\":4,\"torn", 14) == 14);
	close(fd);
	CHECK(verify(dir, NULL, &vs) == 0); /* past the committed ends: not damage */
	struct sl_store_open_info info;
	st = open_rw(dir, "b", &info);
	sl_store_close(st);
	CHECK(info.repaired_prov == 14);
	CHECK(info.truncated_packs >= 1);
	CHECK(file_size(dir, "prov/b.jsonl") == chain);
	CHECK(verify(dir, NULL, &vs) == 0 && vs.unreferenced == 0);

	/* one byte of a's chain changed: verify names chain a */
	snprintf(p, sizeof p, "%s/prov/a.jsonl", dir);
	fd = open(p, O_RDWR);
	char c;
	REQUIRE(fd >= 0 && pread(fd, &c, 1, 200) == 1);
	c ^= 1;
	REQUIRE(pwrite(fd, &c, 1, 200) == 1);
	close(fd);
	char last[600] = "";
	CHECK(verify(dir, last, &vs) >= 1);
	CHECK(strstr(last, "provenance a") != NULL);
	sl_io_free(io);
}

int main(void)
{
	char *base = sl_xstrdup(unit_tmpdir("store"));
	test_sizes(base);
	test_race(base);
	test_writers_and_crash(base);
	/* the same item in two stores has the same id */
	char a[33], b[33];
	uint8_t d[32] = {1, 2, 3};
	sl_item_id(d, "dicom", "fp", a);
	sl_item_id(d, "dicom", "fp", b);
	CHECK(!strcmp(a, b) && strlen(a) == 32);
	sl_item_id(d, "dicom", "fq", b);
	CHECK(strcmp(a, b));
	free(base);
	return UNIT_DONE();
}
