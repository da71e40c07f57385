/*
 * test_vcf_norm.c: the VCF normaliser (codecs/vcf/norm.c) on bcftools' own
 * `norm` test cases (tests/genomics/bcftools-norm, from bcftools 1.16,
 * MIT/Expat: see the README there).  Each case of norm_tests.tsv whose
 * options the normaliser has (-m- split, -c x exclude, realignment with a
 * FASTA) runs and its records must equal bcftools' expected output,
 * compared in position order (bcftools norm orders records by position
 * only; sluice sorts afterwards); the others are listed as skipped with the
 * option that makes them so.  Also the sorter, in memory and with spills,
 * and the BGZF writer (bgzf_out.c) against htslib's own: the same file and
 * index bytes, with and without threads, TBI and CSI.
 */
#include "unit.h"
#include "../codecs/vcf/vcf_impl.h"
#include "../codecs/hts/hts_glue.h"
#include <fcntl.h>
#include <libgen.h>
#include <unistd.h>
#include <htslib/bgzf.h>
#include <htslib/hts.h>
#include <htslib/hts_log.h>

static char dir[4096];

struct lines {
	char **v;
	size_t n;
};

static void add(struct lines *l, const char *s, size_t n)
{
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	l->v = realloc(l->v, (l->n + 1) * sizeof *l->v);
	l->v[l->n] = strndup(s, n);
	l->n++;
}

static int cmp_line(const void *a, const void *b)
{
	const char *x = *(char *const *)a, *y = *(char *const *)b;
	size_t cx = strcspn(x, "\t"), cy = strcspn(y, "\t");
	int r = cx != cy ? (cx < cy ? -1 : 1) : strncmp(x, y, cx);
	if (r)
		return r;
	long px = atol(x + cx + 1), py = atol(y + cy + 1);
	if (px != py)
		return px < py ? -1 : 1;
	return strcmp(x, y);
}

static void free_lines(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* The FASTA copied to dst next to a fresh .fai (the shared copy has none). */
static faidx_t *load_fasta(const char *name, const char *tmp, char dst[8192])
{
	char src[8192];
	snprintf(src, sizeof src, "%s/%s.fa", dir, name);
	snprintf(dst, 8192, "%s/%s.fa", tmp, name);
	FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
	REQUIRE(in && out);
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof buf, in)) > 0)
		fwrite(buf, 1, n, out);
	fclose(in);
	fclose(out);
	REQUIRE(fai_build(dst) == 0);
	return fai_load3(dst, NULL, NULL, 0);
}

static int run_case(const char *in, const char *expect, int split, int exclude, faidx_t *fai,
		    const struct sl_ref *ref)
{
	char path[8192];
	snprintf(path, sizeof path, "%s/%s.vcf", dir, in);
	htsFile *fp = hts_open(path, "r");
	REQUIRE(fp);
	bcf_hdr_t *h = bcf_hdr_read(fp);
	REQUIRE(h);
	struct vnorm n = {.hdr = h, .fai = fai, .ref = ref, .split = split, .exclude_mismatch = exclude};
	struct lines got = {0}, want = {0};
	bcf1_t *b = bcf_init1();
	kstring_t ks = {0};
	sl_err err = {0};
	int ok = 1;
	while (bcf_read(fp, h, b) == 0) {
		if (vnorm_record(&n, b, &err) < 0) {
			fprintf(stderr, "%s: %s\n", in, err.msg);
			ok = 0;
			break;
		}
		for (size_t i = 0; i < n.nout; i++) {
			ks.l = 0;
			REQUIRE(vcf_format(h, n.out[i], &ks) == 0);
			add(&got, ks.s, ks.l);
		}
	}
	snprintf(path, sizeof path, "%s/%s", dir, expect);
	FILE *f = fopen(path, "r");
	REQUIRE(f);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	while ((len = getline(&line, &cap, f)) > 0)
		if (line[0] != '#')
			add(&want, line, (size_t)len);
	fclose(f);
	free(line);
	qsort(got.v, got.n, sizeof *got.v, cmp_line);
	qsort(want.v, want.n, sizeof *want.v, cmp_line);
	if (ok && got.n != want.n) {
		fprintf(stderr, "%s -> %s: %zu records, bcftools has %zu\n", in, expect, got.n, want.n);
		ok = 0;
	}
	for (size_t i = 0; ok && i < got.n; i++)
		if (strcmp(got.v[i], want.v[i])) {
			fprintf(stderr, "%s -> %s: record differs:\n  ours:     %s\n  bcftools: %s\n", in,
				expect, got.v[i], want.v[i]);
			ok = 0;
		}
	free_lines(&got);
	free_lines(&want);
	free(ks.s);
	bcf_destroy1(b);
	vnorm_free(&n);
	bcf_hdr_destroy(h);
	hts_close(fp);
	return ok;
}

static void bcftools_cases(void)
{
	char path[8192];
	snprintf(path, sizeof path, "%s/norm_tests.tsv", dir);
	FILE *f = fopen(path, "r");
	REQUIRE(f);
	char line[1024];
	int pass = 0, skip = 0, fail = 0;
	char *tmp = unit_tmpdir("test_vcf_norm");
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = 0;
		char *rest = line;
		char *in = strsep(&rest, "\t"), *out = strsep(&rest, "\t");
		char *args = strsep(&rest, "\t"), *fa = strsep(&rest, "\t");
		if (!in || !out || !args)
			continue;
		if (fa && !*fa)
			fa = NULL;
		int split = 0, exclude = 0, supported = 1;
		if (!strcmp(args, "-m-"))
			split = 1;
		else if (!strcmp(args, "-cx"))
			exclude = 1;
		else if (!strcmp(args, ""))
			;
		else
			supported = 0;
		if (!supported) {
			printf("SKIP: bcftools norm %s %s (an option sluice does not offer: %s)\n", args, in,
			       strstr(args, "-m+") || strstr(args, "-m +") ? "joining records" :
			       strstr(args, "-d") ? "removing duplicates" : strstr(args, "-c s") ||
			       strstr(args, "-Nc") ? "setting REF from the reference" :
			       strstr(args, "atomize") ? "atomizing MNPs" : strstr(args, "--force") ?
			       "dropping fields with wrong counts (sluice rejects the input)" :
			       "summing AD");
			skip++;
			continue;
		}
		char fpath[8192];
		faidx_t *fai = fa ? load_fasta(fa, tmp, fpath) : NULL;
		REQUIRE(!fa || fai);
		/* through faidx, then with the reference read by pread */
		struct sl_ref ref = {.path = fa ? sl_xstrdup(fpath) : NULL};
		pthread_mutex_init(&ref.mu, NULL);
		sl_err lerr = {0};
		REQUIRE(!fa || sl_ref_load(&ref, &lerr) == 0);
		int ok = run_case(in, out, split, exclude, fai, NULL) &&
			 run_case(in, out, split, exclude, fai, fa ? &ref : NULL);
		printf("%s: bcftools norm %s%s%s %s -> %s\n", ok ? "PASS" : "FAIL", args,
		       fa ? " -f " : "", fa ? fa : "", in, out);
		ok ? pass++ : fail++;
		sl_ref_free(&ref);
		if (fai)
			fai_destroy(fai);
	}
	fclose(f);
	printf("bcftools norm cases: %d pass, %d fail, %d skipped\n", pass, fail, skip);
	CHECK(fail == 0);
	CHECK(pass >= 6);
}

/* ---- the sorter ---- */

static int scratch(void *ctx, sl_err *err)
{
	char *t = ctx;
	char p[8192];
	snprintf(p, sizeof p, "%s/run-XXXXXX", t);
	int fd = mkstemp(p);
	if (fd >= 0)
		unlink(p);
	return fd >= 0 ? fd : sl_fail(err, SL_E_IO, "mkstemp");
}

/* nrec records in a few hundred positions (ties everywhere, in input order
 * by qual); spills: whether the limit makes it spill runs. */
static void sorter(size_t limit, int nrec, int spills)
{
	char *tmp = unit_tmpdir("test_vcf_sort");
	bcf_hdr_t *h = bcf_hdr_init("w");
	bcf_hdr_append(h, "##contig=<ID=b>");
	bcf_hdr_append(h, "##contig=<ID=a>");
	bcf_hdr_add_sample(h, NULL);
	REQUIRE(bcf_hdr_sync(h) == 0);
	struct vsort *s = vsort_new(limit, scratch, tmp);
	bcf1_t *b = bcf_init1();
	sl_err err = {0};
	unsigned x = 12345;
	const char *alts[] = {"C", "A", "T", "CA"};
	for (int i = 0; i < nrec; i++) {
		bcf_clear(b);
		x = x * 1103515245u + 12345u;
		b->rid = (int)((x >> 8) & 1);
		b->pos = (x >> 10) % 300;
		char al[16];
		snprintf(al, sizeof al, "G,%s", alts[(x >> 20) % 4]);
		bcf_update_alleles_str(h, b, al);
		b->qual = (float)i; /* input order, to check ties stay in it */
		CHECK_RC(vsort_push(s, h, b, &err), &err);
	}
	CHECK_RC(vsort_finish(s, h, &err), &err);
	bcf1_t *r;
	int rc, n = 0;
	long prid = -1, ppos = -1;
	char pal[16] = "";
	float pq = -1;
	while ((rc = vsort_next(s, h, &r, &err)) > 0) {
		bcf_unpack(r, BCF_UN_STR);
		int c = r->rid != prid ? (r->rid > prid ? 1 : -1) : r->pos != ppos ? (r->pos > ppos ? 1 : -1)
		      : strcmp(r->d.allele[1], pal);
		CHECK(c > 0 || (c == 0 && r->qual > pq));
		prid = r->rid, ppos = r->pos, pq = r->qual;
		snprintf(pal, sizeof pal, "%s", r->d.allele[1]);
		n++;
	}
	CHECK(rc == 0);
	CHECK(n == nrec);
	if (spills)
		CHECK(vsort_runs(s) > 3);
	else
		CHECK(vsort_runs(s) == 0);
	vsort_free(s);
	bcf_destroy1(b);
	bcf_hdr_destroy(h);
}

/* ---- the reference read by its .fai ---- */

/* Contigs with lines of 60 and of 50 with CRLF, last lines short: every
 * window sl_ref_read gives equals faidx's; a bgzipped copy is left to faidx. */
static void ref_reader(void)
{
	char *tmp = unit_tmpdir("test_vcf_ref");
	char path[8192], gz[8192];
	snprintf(path, sizeof path, "%s/r.fa", tmp);
	snprintf(gz, sizeof gz, "%s/r.fa.gz", tmp);
	FILE *f = fopen(path, "wb");
	REQUIRE(f);
	kstring_t all = {0};
	static const int len[2] = {1000, 777}, width[2] = {60, 50};
	for (int c = 0; c < 2; c++) {
		ksprintf(&all, ">c%d desc\n", c + 1);
		for (int i = 0; i < len[c]; i++) {
			kputc("ACGTNacgtn"[(i * 7 + c) % 10], &all);
			if ((i + 1) % width[c] == 0 || i + 1 == len[c])
				kputs(c ? "\r\n" : "\n", &all);
		}
	}
	fwrite(all.s, 1, all.l, f);
	fclose(f);
	BGZF *z = bgzf_open(gz, "w");
	REQUIRE(z && bgzf_write(z, all.s, all.l) == (ssize_t)all.l && bgzf_close(z) == 0);
	REQUIRE(fai_build(path) == 0 && fai_build(gz) == 0);
	struct sl_ref r = {.path = sl_xstrdup(path)}, rz = {.path = sl_xstrdup(gz)};
	pthread_mutex_init(&r.mu, NULL);
	pthread_mutex_init(&rz.mu, NULL);
	sl_err err = {0};
	CHECK_RC(sl_ref_load(&r, &err), &err);
	CHECK_RC(sl_ref_load(&rz, &err), &err);
	faidx_t *fai = fai_load3(path, NULL, NULL, 0);
	REQUIRE(fai && r.ncontigs == 2);
	char out[1200];
	int same = 0, tries = 0;
	for (int c = 0; c < 2; c++)
		for (int beg = 0; beg < len[c]; beg += 13)
			for (int n = 1; beg + n <= len[c]; n = n * 3 + 1) {
				hts_pos_t got = 0;
				char *want = faidx_fetch_seq64(fai, r.contigs[c].name, beg, beg + n - 1, &got);
				tries++;
				same += want && got == n && sl_ref_read(&r, c, beg, beg + n, out) == 0 &&
					!memcmp(out, want, (size_t)n);
				free(want);
			}
	CHECK(same == tries);
	CHECK(sl_ref_read(&r, 0, 990, 1001, out) < 0);   /* past the end */
	CHECK(sl_ref_read(&rz, 0, 0, 10, out) < 0);      /* bgzipped: faidx's */
	fai_destroy(fai);
	sl_ref_free(&r);
	sl_ref_free(&rz);
	free(all.s);
}

/* ---- the BGZF writer ---- */

/* Record i: two contigs, positions rising, an INFO string of varying length
 * (up to 3000 bytes, so that records cross blocks and blocks end at records
 * and inside them), on contig a beyond 2^29 when csi. */
static void make_rec(bcf_hdr_t *h, bcf1_t *b, int i, int csi)
{
	static char x[4000];
	bcf_clear(b);
	b->rid = i < 1500 ? 0 : 1;
	b->pos = (i % 1500) * 37 + (csi && b->rid == 0 ? (1LL << 29) + 5 : 0);
	bcf_update_alleles_str(h, b, i % 3 ? "A,C" : "ACGT,A");
	size_t n = (size_t)(i * 7919) % 3000 + 1;
	memset(x, 'a' + i % 26, n);
	x[n] = 0;
	bcf_update_info_string(h, b, "X", x);
}

static int same_file(const char *a, const char *b)
{
	FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
	int same = fa && fb;
	while (same) {
		int ca = fgetc(fa), cb = fgetc(fb);
		same = ca == cb;
		if (ca == EOF)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	return same;
}

static void ours(bcf_hdr_t *h, int csi, int threads, int level, const char *path, const char *ipath)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	htsThreadPool pool = {threads ? hts_tpool_init(threads) : NULL, 0};
	struct vbgz *w = vbgz_new(vbgz_to_fd, &fd, threads ? &pool : NULL, level);
	sl_err err = {0};
	kstring_t ks = {0};
	REQUIRE(bcf_hdr_format(h, 0, &ks) == 0);
	while (ks.l && !ks.s[ks.l - 1])
		ks.l--;
	uint64_t off;
	CHECK_RC(vbgz_write(w, ks.s, ks.l, &err), &err);
	CHECK_RC(vbgz_flush(w, &err), &err);
	CHECK_RC(vbgz_sync(w, &off, &err), &err);
	hts_idx_t *idx = vbgz_vcf_index(h, csi ? 14 : 0, off);
	REQUIRE(idx);
	vbgz_set_index(w, idx);
	bcf1_t *b = bcf_init1();
	for (int i = 0; i < 3000; i++) {
		make_rec(h, b, i, csi);
		ks.l = 0;
		REQUIRE(vcf_format(h, b, &ks) == 0);
		int tid = hts_idx_tbi_name(idx, b->rid, bcf_hdr_id2name(h, b->rid));
		CHECK_RC(vbgz_flush_try(w, ks.l, &err), &err);
		CHECK_RC(vbgz_write(w, ks.s, ks.l, &err), &err);
		CHECK_RC(vbgz_index(w, tid, b->pos, b->pos + b->rlen, &err), &err);
	}
	CHECK_RC(vbgz_finish(w, &off, &err), &err);
	CHECK(hts_idx_finish(idx, off) == 0);
	CHECK(hts_idx_save_as(idx, NULL, ipath, csi ? HTS_FMT_CSI : HTS_FMT_TBI) == 0);
	CHECK_RC(vbgz_close(w, &err), &err);
	vbgz_free(w);
	hts_idx_destroy(idx);
	if (pool.pool)
		hts_tpool_destroy(pool.pool);
	bcf_destroy1(b);
	free(ks.s);
	close(fd);
}

static void bgzf_writer(int csi, int threads, int level)
{
	char *tmp = unit_tmpdir("test_vcf_bgzf");
	char p1[8192], p2[8192], i1[8192], i2[8192];
	snprintf(p1, sizeof p1, "%s/htslib.vcf.gz", tmp);
	snprintf(i1, sizeof i1, "%s/htslib.idx", tmp);
	snprintf(p2, sizeof p2, "%s/ours.vcf.gz", tmp);
	snprintf(i2, sizeof i2, "%s/ours.idx", tmp);
	bcf_hdr_t *h = bcf_hdr_init("w");
	bcf_hdr_append(h, csi ? "##contig=<ID=a,length=1073741824>" : "##contig=<ID=a,length=100000>");
	bcf_hdr_append(h, "##contig=<ID=b,length=100000>");
	bcf_hdr_append(h, "##INFO=<ID=X,Number=1,Type=String,Description=\"x\">");
	REQUIRE(bcf_hdr_sync(h) == 0);
	char mode[8];
	snprintf(mode, sizeof mode, "wz%d", level);
	htsFile *o = hts_open(p1, mode);
	REQUIRE(o && bcf_hdr_write(o, h) == 0 && bcf_idx_init(o, h, csi ? 14 : 0, i1) == 0);
	bcf1_t *b = bcf_init1();
	for (int i = 0; i < 3000; i++) {
		make_rec(h, b, i, csi);
		REQUIRE(bcf_write(o, h, b) == 0);
	}
	REQUIRE(bcf_idx_save(o) == 0);
	REQUIRE(hts_close(o) == 0);
	bcf_destroy1(b);
	ours(h, csi, threads, level, p2, i2);
	CHECK(same_file(p1, p2));
	CHECK(same_file(i1, i2));
	bcf_hdr_destroy(h);
}

int main(int argc, char **argv)
{
	hts_set_log_level(HTS_LOG_OFF);
	char file[] = __FILE__;
	snprintf(dir, sizeof dir, "%s/genomics/bcftools-norm", dirname(file));
	bcftools_cases();
	ref_reader();
	sorter(64u << 20, 5000, 0);
	sorter(20000, 5000, 1);
	/* ~600 runs: merged in tiers of 16 over two levels */
	sorter(20000, 30000, 1);
	/* enough keys that spills and the end sort two halves at once */
	sorter(64u << 20, 150000, 0);
	sorter(16u << 20, 300000, 1);
	for (int csi = 0; csi < 2; csi++)
		for (int threads = 0; threads < 4; threads += 3)
			bgzf_writer(csi, threads, 6);
	/* every other level against htslib's bytes at that level */
	for (int level = 1; level <= 9; level++)
		if (level != 6)
			bgzf_writer(level & 1, 3, level);
	return UNIT_DONE();
}
