/* fuzz_genomics.c: libFuzzer target for the genomics formats (VCF/BCF and
 * SAM/BAM/CRAM) end to end in memory: htslib's parsers fed through our
 * glue, the normaliser (split, trim, left-align against the reference), the
 * sorters, header rules and the writers.  Built with ASan and UBSan, it
 * looks for crashes, hangs, leaks and undefined behaviour; a rejection must
 * say why.  The reference is made here with the formula that
 * make_genomics_seeds.py uses, so the seeds' REF bases match it. */
#include "codecs/format.h"
#include "deid/deid.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <htslib/faidx.h>

extern const struct sl_format sl_format_vcf, sl_format_reads;
static const struct sl_format *const fmts[] = {&sl_format_vcf, &sl_format_reads};
static void *confs[2];
static sl_key *key;

static char base_at(unsigned i)
{
	return "ACGT"[(i * 7 + i / 13) % 4];
}

static void write_reference(const char *path)
{
	static const struct { const char *name; unsigned len; } ctg[] = {{"chr1", 2000}, {"chr2", 1000}};
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	for (size_t c = 0; c < 2; c++) {
		fprintf(f, ">%s\n", ctg[c].name);
		for (unsigned i = 0; i < ctg[c].len; i++)
			fprintf(f, "%c%s", base_at(i + 1000 * (unsigned)c), (i + 1) % 60 ? "" : "\n");
		fputc('\n', f);
	}
	fclose(f);
}

/* htslib 1.16 allocates what an input declares (a BAM header's text and
 * contig count, a CRAM slice's records...) and fails cleanly when malloc
 * does.  htslib's own fuzzing builds cap such requests (FUZZ_ALLOC_LIMIT,
 * since 1.19); Debian's build has no cap, so the cap is here: malloc
 * returns NULL above 1 GB, where libFuzzer would stop on an allocation
 * above -rss_limit_mb as out of memory.  Memory touched still counts
 * against -rss_limit_mb: a declared size htslib goes on to fill (a HUFFMAN
 * table's codes) is for codecs/reads/cram_check.c to refuse. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1:max_allocation_size_mb=1024";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	char dir[] = "/tmp/sluice-fuzz-XXXXXX", path[64];
	sl_err err = {0};
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof path, "%s/key", dir);
	if (sl_key_generate(path, &err) < 0 || sl_key_load(&key, path, &err) < 0)
		abort();
	unlink(path);
	snprintf(path, sizeof path, "%s/ref.fa", dir);
	write_reference(path);
	if (fai_build(path) < 0) /* sluice wants the operator's .fai, never builds one */
		abort();
	static const char sha[] = "0000000000000000000000000000000000000000000000000000000000000000";
	for (size_t i = 0; i < 2; i++)
		if (fmts[i]->configure(&confs[i], "reference-sha256", sha, 64, &err) < 0 ||
		    fmts[i]->configure(&confs[i], "reference", path, strlen(path), &err) < 0) {
			fprintf(stderr, "fuzz_genomics: %s\n", err.msg);
			abort();
		}
	/* No thread pools unless SL_FUZZ_POOL is set: htslib 1.16's threaded
	 * BGZF reader leaks a block on a corrupt one (fixed upstream after
	 * 1.16, htslib PR 1529), and its threaded CRAM decoder leaks the
	 * containers in flight when a slice fails to decode, which would stop
	 * every run at the first such input.  With the pools (our parallel VCF
	 * batches), run with -detect_leaks=0 and ASAN_OPTIONS=detect_leaks=0
	 * (else the leaks of the whole run are reported at exit). */
	if (!getenv("SL_FUZZ_POOL") &&
	    (sl_format_vcf.configure(&confs[0], "vcf-threads", "0", 1, &err) < 0 ||
	     sl_format_reads.configure(&confs[1], "reads-threads", "0", 1, &err) < 0))
		abort();
	/* the reference and its .fai stay for the process: formats read them lazily */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sl_deid_ctx ctx = {.key = key};
	for (size_t i = 0; i < 2; i++) {
		if (!fmts[i]->sniff(data, size, size))
			continue;
		sl_buf out;
		sl_err err = {0};
		sl_buf_init(&out);
		int rc = sl_transform_memory(fmts[i], data, size, &ctx, confs[i], 0, &out, NULL, &err);
		if (rc < 0 && !err.msg[0])
			abort(); /* every rejection says why */
		sl_buf_free(&out);
	}
	return 0;
}
