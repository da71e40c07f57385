/*
 * test_backends.c: the object backend seam, shown with a second backend.
 * A test-only backend that keeps objects in memory (below) is plugged into
 * the engine and the store through their options alone (no engine, format
 * or local-backend code knows it), and the same store checks the CLI tests
 * make run against it and against the local backend: every input
 * accounted for, every output cats back to the right bytes (whole and
 * ranged), the provenance chain links, verify passes on a sound store and
 * names damage, a re-run finds everything already present, and both
 * backends give the same items and object digests.  The sources seam the
 * same way: a test-only source handing the engine VCFs in memory gives the
 * items and objects the same bytes give as files, and its idempotency keys
 * make a re-run find them already present.
 */
#include "unit.h"
#include "deid/deid.h"
#include "ingest/engine.h"
#include "ingest/discover.h"
#include "ingest/source.h"
#include "store/backend.h"
#include <fcntl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the memory backend: one store per process, objects by digest ---- */

struct mem_obj {
	uint8_t digest[32];
	uint8_t *data;
	uint64_t size;
};

static struct {
	pthread_mutex_t mu;
	struct mem_obj *v;
	size_t n;
	unsigned puts, barriers;
} mem = {.mu = PTHREAD_MUTEX_INITIALIZER};

struct sl_backend { int unused; };
struct sl_bwriter { int unused; };
struct sl_bput {
	sl_buf b;
};

static struct sl_backend the_backend;
static struct sl_bwriter the_writer;

static struct mem_obj *mem_find(const uint8_t d[32])
{
	for (size_t i = 0; i < mem.n; i++)
		if (!memcmp(mem.v[i].digest, d, 32))
			return &mem.v[i];
	return NULL;
}

static int m_open(sl_backend **out, const char *dir, int flags, const struct sl_backend_env *env,
		  struct sl_backend_repair *rep, sl_err *err)
{
	*out = &the_backend;
	return 0;
}
static void m_close(sl_backend *b) {}
static int m_writer_new(sl_backend *b, sl_io *io, sl_bwriter **out, sl_err *err)
{
	*out = &the_writer;
	return 0;
}
static void m_writer_free(sl_bwriter *w) {}
static int m_put_begin(sl_bwriter *w, uint64_t hint, sl_bput **out, sl_err *err)
{
	*out = sl_xcalloc(1, sizeof **out);
	sl_buf_init(&(*out)->b);
	return 0;
}
static int m_put_write(sl_bput *p, const void *d, size_t n, sl_err *err)
{
	sl_buf_add(&p->b, d, n);
	return 0;
}
static int m_put_chunk(sl_bput *p, sl_chunk *c, size_t off, size_t n, sl_err *err)
{
	sl_buf_add(&p->b, c->data + off, n);
	return 0;
}
static void m_put_abort(sl_bput *p)
{
	sl_buf_free(&p->b);
	free(p);
}
static int m_put_finish(sl_bput *p, const uint8_t d[32], struct sl_objref *ref, sl_err *err)
{
	pthread_mutex_lock(&mem.mu);
	mem.puts++;
	if (!mem_find(d)) {
		mem.v = sl_xrealloc(mem.v, (mem.n + 1) * sizeof *mem.v);
		struct mem_obj *o = &mem.v[mem.n++];
		memcpy(o->digest, d, 32);
		o->size = p->b.len;
		o->data = sl_xmalloc(p->b.len + 1);
		if (p->b.len)
			memcpy(o->data, p->b.data, p->b.len);
	}
	pthread_mutex_unlock(&mem.mu);
	ref->loc = (struct sl_loc){-1, 0};
	m_put_abort(p);
	return 0;
}
static int m_flush(sl_bwriter *w, sl_err *err) { return 0; }
static int m_barrier(sl_backend *b, const struct sl_objref *const *refs, size_t n,
		     struct sl_backend_rows *rows, sl_err *err)
{
	__atomic_add_fetch(&mem.barriers, 1, __ATOMIC_RELAXED);
	return 0;
}
static int64_t m_get(sl_backend *b, const struct sl_objref *ref, uint64_t off, void *buf,
		     size_t len, sl_err *err)
{
	pthread_mutex_lock(&mem.mu);
	struct mem_obj *o = mem_find(ref->digest);
	int64_t got = -1;
	if (o) {
		got = off >= o->size ? 0 : (int64_t)(len < o->size - off ? len : o->size - off);
		memcpy(buf, o->data + (off < o->size ? off : 0), (size_t)got);
	}
	pthread_mutex_unlock(&mem.mu);
	return got < 0 ? sl_fail(err, SL_E_CORRUPT, "object not in memory") : got;
}
static int m_has(sl_backend *b, const struct sl_objref *ref, sl_problem_fn problem, void *ctx)
{
	pthread_mutex_lock(&mem.mu);
	struct mem_obj *o = mem_find(ref->digest);
	int ok = o && o->size == ref->size;
	pthread_mutex_unlock(&mem.mu);
	if (!ok)
		problem(ctx, "object missing from memory");
	return ok;
}
static int m_list(sl_backend *b, int (*cb)(void *, const struct sl_objref *), void *ctx, sl_err *err)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < mem.n; i++) {
		struct sl_objref r = {.size = mem.v[i].size, .loc = {-1, 0}};
		memcpy(r.digest, mem.v[i].digest, 32);
		rc = cb(ctx, &r);
	}
	return rc;
}
static void m_check(sl_backend *b, sl_problem_fn problem, void *ctx) {}

static const struct sl_backend_ops mem_backend = {
	.name = "memory", .open = m_open, .close = m_close, .writer_new = m_writer_new,
	.writer_free = m_writer_free, .put_begin = m_put_begin, .put_write = m_put_write,
	.put_chunk = m_put_chunk, .put_finish = m_put_finish, .put_abort = m_put_abort,
	.flush = m_flush, .barrier = m_barrier, .get = m_get, .has = m_has, .list = m_list,
	.check = m_check,
};

/* ---- inputs ---- */

#define NSMALL 40

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	REQUIRE(fd >= 0 && sl_write_all(fd, p, n) == 0);
	close(fd);
}

/* 40 small files (two of them the same bytes), one 6 MB file, one text
 * file outside --opaque (rejected). */
static void make_inputs(const char *dir)
{
	char p[1100];
	uint32_t x = 12345;
	snprintf(p, sizeof p, "%s/in", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/in/ref", dir);
	mkdir(p, 0755);
	uint8_t *buf = sl_xmalloc(6000000);
	for (size_t i = 0; i < 6000000; i++)
		buf[i] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
	for (int i = 0; i < NSMALL; i++) {
		snprintf(p, sizeof p, "%s/in/ref/s%02d.bin", dir, i);
		size_t off = i == 1 ? 0 : (size_t)i * 1000; /* s01 = s00's bytes */
		write_file(p, buf + off, i == 1 ? 1000 + 0 * 1000 : 1000 + (size_t)i * 37);
	}
	snprintf(p, sizeof p, "%s/in/ref/s00.bin", dir);
	write_file(p, buf, 1000);
	snprintf(p, sizeof p, "%s/in/ref/large.bin", dir);
	write_file(p, buf, 6000000);
	snprintf(p, sizeof p, "%s/in/notes.txt", dir);
	write_file(p, (const uint8_t *)"not de-identified\n", 18);
	free(buf);
}

/* ---- the store checks ---- */

struct seen_items {
	char ids[64][33];
	uint8_t outs[64][32];
	uint64_t sizes[64];
	size_t n;
};

/* An item's first output (a VCF's index comes second). */
static int collect_all(void *ctx, const struct sl_item_view *v)
{
	struct seen_items *s = ctx;
	REQUIRE(s->n < 64 && v->nouts >= 1);
	snprintf(s->ids[s->n], 33, "%s", v->id);
	memcpy(s->outs[s->n], v->outs[0].ref.digest, 32);
	s->sizes[s->n++] = v->outs[0].ref.size;
	return 0;
}

static int collect(void *ctx, const struct sl_item_view *v)
{
	struct seen_items *s = ctx;
	REQUIRE(s->n < 64 && v->nouts == 1);
	snprintf(s->ids[s->n], 33, "%s", v->id);
	memcpy(s->outs[s->n], v->outs[0].ref.digest, 32);
	s->sizes[s->n++] = v->outs[0].ref.size;
	return 0;
}

static unsigned problems;
static char last_problem[600];
static void on_problem(void *ctx, const char *p)
{
	problems++;
	snprintf(last_problem, sizeof last_problem, "%s", p);
}

static int verify(const char *store, const struct sl_backend_ops *ops, struct sl_verify_stats *vs)
{
	sl_store *st;
	sl_err err = {0};
	struct sl_store_opts o = {.flags = SL_STORE_READONLY, .backend = ops};
	REQUIRE(sl_store_open(&st, store, &o, NULL, &err) == 0);
	problems = 0;
	CHECK_RC(sl_store_verify(st, on_problem, NULL, vs, &err), &err);
	sl_store_close(st);
	return (int)problems;
}

/* Every output's bytes, whole and a range, are the input's (opaque). */
static void check_bytes(sl_store *st, const struct seen_items *s)
{
	for (size_t i = 0; i < s->n; i++) {
		sl_err err = {0};
		int fd = memfd_create("cat", 0);
		REQUIRE(fd >= 0);
		CHECK_RC(sl_store_cat(st, s->outs[i], fd, &err), &err);
		uint64_t size = (uint64_t)lseek(fd, 0, SEEK_END);
		CHECK(size == s->sizes[i]);
		uint8_t *all = sl_xmalloc(size + 1), d[32], part[64];
		CHECK(sl_pread_all(fd, all, size, 0) == (ssize_t)size);
		sl_sha256_once(all, size, d);
		CHECK(!memcmp(d, s->outs[i], 32));
		uint64_t off = size > 100 ? size - 100 : 0;
		int64_t got = sl_store_read(st, s->outs[i], off, part, sizeof part, &err);
		CHECK(got == (int64_t)(size - off < 64 ? size - off : 64));
		CHECK(got > 0 && !memcmp(part, all + off, (size_t)got));
		CHECK(sl_store_read(st, s->outs[i], size, part, 1, &err) == 0);
		free(all);
		close(fd);
	}
}

/* The log is one chain: seq 1..n, prev = SHA-256 of the line before. */
static void check_log(sl_store *st, size_t nitems)
{
	sl_err err = {0};
	int fd = memfd_create("log", 0);
	CHECK_RC(sl_store_log(st, fd, &err), &err);
	off_t n = lseek(fd, 0, SEEK_END);
	char *log = sl_xmalloc((size_t)n + 1);
	CHECK(sl_pread_all(fd, log, (size_t)n, 0) == n);
	log[n] = 0;
	close(fd);
	uint8_t prev[32] = {0};
	size_t lines = 0;
	for (char *l = log, *nl; (nl = strchr(l, '\n')); l = nl + 1) {
		char want[200], hex[65];
		sl_hex(hex, prev, 32);
		snprintf(want, sizeof want, "{\"seq\":%zu,\"prev\":\"%s\",\"writer\":\"main\"", ++lines, hex);
		CHECK(!strncmp(l, want, strlen(want)));
		sl_sha256_once(l, (size_t)(nl - l), prev);
	}
	CHECK(lines == nitems);
	free(log);
}

static void ingest(const char *dir, const char *store, const struct sl_backend_ops *ops,
		   struct sl_ingest_summary *sum)
{
	char key[1100], src[1100], ref[1100];
	snprintf(key, sizeof key, "%s/key", dir);
	snprintf(src, sizeof src, "%s/in", dir);
	snprintf(ref, sizeof ref, "%s/in/ref", dir);
	const char *srcs[] = {src}, *opaque[] = {ref};
	struct sl_ingest_opts o = {.store_dir = store, .key_file = key, .srcs = srcs, .nsrcs = 1,
		.threads = 2, .io_mode = SL_IO_POSIX, .opaque = opaque, .nopaque = 1, .backend = ops};
	sl_err err = {0};
	CHECK_RC(sl_ingest(&o, sum, &err), &err);
}

static void run(const char *dir, const char *name, const struct sl_backend_ops *ops,
		struct seen_items *items)
{
	char store[1100];
	snprintf(store, sizeof store, "%s/store-%s", dir, name);
	struct sl_ingest_summary sum;
	ingest(dir, store, ops, &sum);
	/* 40 small (two the same bytes: one item), the large one, the rejected one */
	CHECK(sum.discovered == NSMALL + 2);
	CHECK(sum.ingested + sum.present == NSMALL + 1 && sum.rejected == 1);
	sl_ingest_summary_free(&sum);
	sl_store *st;
	sl_err err = {0};
	struct sl_store_opts ro = {.flags = SL_STORE_READONLY, .backend = ops};
	REQUIRE(sl_store_open(&st, store, &ro, NULL, &err) == 0);
	CHECK_RC(sl_store_items(st, NULL, NULL, collect, items, &err), &err);
	CHECK(items->n == NSMALL);
	for (size_t i = 1; i < items->n; i++)
		CHECK(strcmp(items->ids[i - 1], items->ids[i]) < 0); /* id order */
	check_bytes(st, items);
	check_log(st, items->n);
	sl_store_close(st);
	struct sl_verify_stats vs;
	CHECK(verify(store, ops, &vs) == 0);
	CHECK(vs.objects == NSMALL && vs.items == NSMALL && vs.records == NSMALL && vs.chains == 1);
	CHECK(vs.unreferenced == 0);
	ingest(dir, store, ops, &sum);   /* again: nothing new */
	CHECK(sum.ingested == 0 && sum.present == NSMALL + 1);
	sl_ingest_summary_free(&sum);
}

/* ---- the sources seam: VCFs in memory and as files ---- */

#define NVCF 3

static char vcf_text[NVCF][512];

static void make_vcfs(const char *dir)
{
	char p[1100], ref[1001];
	uint32_t x = 777;
	for (int i = 0; i < 1000; i++)
		ref[i] = "ACGT"[(x = x * 1103515245u + 12345u) >> 30];
	ref[1000] = 0;
	snprintf(p, sizeof p, "%s/vcf", dir);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/ref.fa", dir);
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_printf(&b, ">chr1\n%s\n", ref);
	write_file(p, (const uint8_t *)b.data, b.len);
	snprintf(p, sizeof p, "%s/ref.fa.fai", dir);
	const char *fai = "chr1\t1000\t6\t1000\t1001\n";
	write_file(p, (const uint8_t *)fai, strlen(fai));
	sl_buf_free(&b);
	for (int i = 0; i < NVCF; i++) {
		int pos = 100 + 50 * i;
		snprintf(vcf_text[i], sizeof vcf_text[i],
			 "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=1000>\n"
			 "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n"
			 "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS%d\n"
			 "chr1\t%d\t.\t%c\t%c\t.\tPASS\t.\tGT\t0/1\n", i, pos, ref[pos - 1],
			 ref[pos - 1] == 'A' ? 'C' : 'A');
		snprintf(p, sizeof p, "%s/vcf/v%d.vcf", dir, i);
		write_file(p, (const uint8_t *)vcf_text[i], strlen(vcf_text[i]));
	}
}

static uint64_t mem_source_run(const void *conf, sl_queue *q, const int *stop)
{
	for (int i = 0; i < NVCF; i++) {
		char name[32], key[32];
		snprintf(name, sizeof name, "memory/%d", i);
		snprintf(key, sizeof key, "instance-%d", i);
		size_t n = strlen(vcf_text[i]);
		sl_queue_push(q, sl_task_memory(name, sl_xstrdup(vcf_text[i]), n, key, strlen(key)));
	}
	/* bytes no format knows: rejected, and accounted */
	sl_queue_push(q, sl_task_memory("memory/junk", sl_xstrdup("junk junk junk"), 14, "j", 1));
	return NVCF + 1;
}

static const struct sl_source_ops mem_source_ops = {.name = "memory", .run = mem_source_run};

static void ingest_vcfs(const char *dir, const char *store, const struct sl_source *src,
			struct sl_ingest_summary *sum)
{
	char key[1100], vcfs[1100], ref[1100];
	snprintf(key, sizeof key, "%s/key", dir);
	snprintf(vcfs, sizeof vcfs, "%s/vcf", dir);
	snprintf(ref, sizeof ref, "%s/ref.fa", dir);
	const char *srcs[] = {vcfs};
	struct sl_ingest_opts o = {.store_dir = store, .key_file = key, .srcs = srcs, .nsrcs = 1,
		.threads = 2, .io_mode = SL_IO_POSIX, .reference = ref, .sources = src,
		.nsources = src ? 1 : 0};
	sl_err err = {0};
	CHECK_RC(sl_ingest(&o, sum, &err), &err);
}

static void test_sources(const char *dir)
{
	make_vcfs(dir);
	char files[1100], inmem[1100];
	snprintf(files, sizeof files, "%s/store-vcf-files", dir);
	snprintf(inmem, sizeof inmem, "%s/store-vcf-memory", dir);
	struct sl_source src = {&mem_source_ops, NULL};
	struct sl_ingest_summary sum;
	ingest_vcfs(dir, files, NULL, &sum);
	CHECK(sum.discovered == NVCF && sum.ingested == NVCF);
	sl_ingest_summary_free(&sum);
	ingest_vcfs(dir, inmem, &src, &sum);
	CHECK(sum.discovered == NVCF + 1 && sum.ingested == NVCF && sum.rejected == 1);
	sl_ingest_summary_free(&sum);
	/* the same items and objects, whatever brought the bytes */
	struct seen_items a = {0}, b = {0};
	sl_store *st;
	sl_err err = {0};
	struct sl_store_opts ro = {.flags = SL_STORE_READONLY};
	REQUIRE(sl_store_open(&st, files, &ro, NULL, &err) == 0);
	CHECK_RC(sl_store_items(st, "format", "vcf", collect_all, &a, &err), &err);
	sl_store_close(st);
	REQUIRE(sl_store_open(&st, inmem, &ro, NULL, &err) == 0);
	CHECK_RC(sl_store_items(st, "format", "vcf", collect_all, &b, &err), &err);
	sl_store_close(st);
	CHECK(a.n == NVCF && b.n == NVCF);
	for (size_t i = 0; i < a.n && i < b.n; i++) {
		CHECK(!strcmp(a.ids[i], b.ids[i]));
		CHECK(!memcmp(a.outs[i], b.outs[i], 32));
	}
	struct sl_verify_stats vs;
	CHECK(verify(inmem, NULL, &vs) == 0);
	/* again: the source's keys say every one is already there, unread */
	ingest_vcfs(dir, inmem, &src, &sum);
	CHECK(sum.ingested == 0 && sum.present == NVCF && sum.rejected == 1);
	sl_ingest_summary_free(&sum);
}

int main(void)
{
	char *dir = sl_xstrdup(unit_tmpdir("backends"));
	char key[1100];
	snprintf(key, sizeof key, "%s/key", dir);
	sl_err err = {0};
	REQUIRE(sl_key_generate(key, &err) == 0);
	make_inputs(dir);

	struct seen_items local = {0}, inmem = {0};
	run(dir, "local", NULL, &local);
	run(dir, "memory", &mem_backend, &inmem);
	CHECK(mem.n == NSMALL && mem.puts >= NSMALL && mem.barriers > 0);
	/* the same items and the same object bytes, whatever keeps them */
	CHECK(local.n == inmem.n);
	for (size_t i = 0; i < local.n && i < inmem.n; i++) {
		CHECK(!strcmp(local.ids[i], inmem.ids[i]));
		CHECK(!memcmp(local.outs[i], inmem.outs[i], 32));
	}

	/* damage the memory backend's bytes: verify names it */
	char store[1100];
	snprintf(store, sizeof store, "%s/store-memory", dir);
	struct sl_verify_stats vs;
	mem.v[3].data[mem.v[3].size / 2] ^= 1;
	CHECK(verify(store, &mem_backend, &vs) == 1);
	CHECK(strstr(last_problem, "does not match its digest") != NULL);
	mem.v[3].data[mem.v[3].size / 2] ^= 1;
	mem.v[5].size--;
	CHECK(verify(store, &mem_backend, &vs) >= 1);
	CHECK(strstr(last_problem, "missing") != NULL);
	mem.v[5].size++;
	CHECK(verify(store, &mem_backend, &vs) == 0);
	test_sources(dir);
	free(dir);
	return UNIT_DONE();
}
