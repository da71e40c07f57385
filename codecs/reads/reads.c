/*
 * reads.c: the SAM/BAM/CRAM ("reads") format.  The input is read by htslib
 * through an hFILE fed from sl_input (htslib never sees a path; BGZF and
 * CRAM input decoded on a thread pool shared by the run); its @SQ contigs
 * are checked against the operator's reference (name, length, MD5); the
 * header is rebuilt (@HD SO:coordinate, @SQ with SN/LN/M5 and the UR of
 * the exported reference, @RG with ID, SM, LB, PU, DS pseudonymised, one
 * @PG for sluice; @PG and @CO lines and every other line dropped); each
 * read's RG:Z tag is rewritten to its group's new ID, its PG:Z tag removed
 * and, on request, its name replaced by a keyed hash or a counter.  The reads go out in samtools' coordinate
 * order: an input whose header says SO:coordinate is streamed while its
 * reads come in that order (and read again through the sorter if one does
 * not); any other goes through the external sort (sort.c, bounded by
 * --reads-sort-memory, runs spilled to scratch files).  They are written
 * as CRAM 3.0 (or 3.1) against the reference with a .crai index into
 * scratch files, then stored as two objects, "primary" and "index".  The
 * CRAM encoder runs without threads: htslib's threaded encoder picks codecs
 * by timing (see docs/genomics.md).  See also README.md.
 */
#include "reads_impl.h"
#include "../hts/hts_glue.h"
#include "../../deid/deid.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <htslib/hts.h>
#include <htslib/sam.h>
#include <htslib/kstring.h>
#include <htslib/thread_pool.h>

/* Bumped when the same input and options give other bytes (CO tags dropped:
 * 3; @SQ UR naming the exported reference: 4). */
#define READS_VERSION "4"

/* htslib copies the output's name into the CRAM file definition: a fixed
 * one keeps the bytes independent of where the output goes. */
#define CRAM_FILE_ID "sluice"
/* samtools sort's default -m: the memory an operator expects a sort of
 * reads to take. */
#define DEFAULT_SORT_MEMORY ((size_t)768 << 20)
/* Decoding threads when --reads-threads is not given: decoding is cheap
 * beside encoding, and the engine already runs one input per worker. */
#define DEFAULT_THREADS 4

enum names { NAMES_KEEP, NAMES_HASH, NAMES_COUNTER };
static const char *const names_word[] = {"keep", "hash", "counter"};

struct rconf {
	struct sl_ref ref;
	int have_ref;
	char cram_version[4];    /* "3.0" or "3.1" */
	int names;               /* enum names */
	size_t sort_memory;
	struct sl_hts_pool pool; /* decoding threads (threads -1: the default) */
	char *json;
};

/* ---- options ---- */

static const struct sl_format_option options[] = {
	{"reads-sort-memory", "SIZE", "memory for sorting one input before it spills to scratch "
	 "files (default 768M, as samtools sort; K, M, G suffixes)", 0},
	{"reads-cram-version", "3.0|3.1", "the CRAM version written (default 3.0)", 0},
	{"reads-names", "keep|hash|counter", "read names kept (default), replaced by a keyed "
	 "hash, or numbered in output order; mates keep one name", 0},
	{"reads-threads", "N", "threads decoding BAM and CRAM input, shared by all inputs "
	 "(default 4; 0: none); output bytes do not depend on it", 0},
	{NULL, NULL, NULL, 0},
};

/* The sort memory and the threads are left out: the bytes do not depend
 * on them. */
static void make_json(struct rconf *c)
{
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_printf(&b, "{\"reference\":\"%s\",\"cram\":\"%s\",\"names\":\"%s\","
		      "\"order\":\"coordinate\"}", c->have_ref ? c->ref.sha256 : "",
		      c->cram_version, names_word[c->names]);
	free(c->json);
	c->json = b.data;
}

static int set_word(int *out, const char *const *words, int n, const char *opt,
		    const char *value, sl_err *err)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(value, words[i])) {
			*out = i;
			return 0;
		}
	return sl_fail(err, SL_E_USAGE, "--%s: '%s' is not one of its values (see --help)", opt,
		       value);
}

static int set_option(struct rconf *c, const char *name, const char *value, size_t len,
		      sl_err *err)
{
	static const char *const versions[] = {"3.0", "3.1"};
	int k = 0;
	char *end;
	if (!strcmp(name, "reads-sort-memory")) {
		if (sl_parse_size(value, &c->sort_memory) < 0)
			return sl_fail(err, SL_E_USAGE, "--reads-sort-memory wants a size such as "
				       "256M, not '%s'", value);
	} else if (!strcmp(name, "reads-cram-version")) {
		if (set_word(&k, versions, 2, name, value, err) < 0)
			return -SL_E_USAGE;
		snprintf(c->cram_version, sizeof c->cram_version, "%s", versions[k]);
	} else if (!strcmp(name, "reads-names")) {
		return set_word(&c->names, names_word, 3, name, value, err);
	} else if (!strcmp(name, "reads-threads")) {
		long n = strtol(value, &end, 10);
		if (end == value || *end || n < 0 || n > 256)
			return sl_fail(err, SL_E_USAGE, "--reads-threads wants a number from 0 to 256, "
				       "not '%s'", value);
		c->pool.threads = (int)n;
	} else if (!strcmp(name, "reference-sha256")) {
		snprintf(c->ref.sha256, sizeof c->ref.sha256, "%.*s", (int)len, value);
	} else if (!strcmp(name, "reference")) {
		c->ref.path = sl_xstrdup(value);
		int rc = sl_ref_load(&c->ref, err);
		c->have_ref = rc == 0;
		return rc;
	} else {
		return sl_fail(err, SL_E_USAGE, "unknown reads option --%s", name);
	}
	return 0;
}

static int reads_configure(void **confp, const char *name, const char *value, size_t len,
			   sl_err *err)
{
	if (!*confp) {
		struct rconf *c = sl_xcalloc(1, sizeof *c);
		pthread_mutex_init(&c->ref.mu, NULL);
		sl_hts_pool_init(&c->pool);
		snprintf(c->cram_version, sizeof c->cram_version, "3.0");
		c->sort_memory = DEFAULT_SORT_MEMORY;
		c->pool.threads = -1;
		*confp = c;
		sl_hts_setup();
	}
	struct rconf *c = *confp;
	int rc = set_option(c, name, value, len, err);
	make_json(c);
	return rc;
}

static const char *reads_policy(const void *conf)
{
	static const char dflt[] = "{\"reference\":\"\",\"cram\":\"3.0\",\"names\":\"keep\","
				   "\"order\":\"coordinate\"}";
	return conf ? ((const struct rconf *)conf)->json : dflt;
}

static void reads_release(void *conf)
{
	struct rconf *c = conf;
	sl_hts_pool_free(&c->pool);
	sl_ref_free(&c->ref);
	free(c->json);
	free(c);
}

/* ---- sniffing ---- */

static int is_sam_text(const uint8_t *p, size_t n)
{
	static const char *const starts[] = {"@HD\t", "@SQ\t", "@RG\t", "@PG\t", "@CO\t"};
	for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++)
		if (n >= 4 && !memcmp(p, starts[i], 4))
			return 1;
	return 0;
}

static int reads_sniff(const uint8_t *head, size_t len, uint64_t size)
{
	if (len >= 5 && !memcmp(head, "CRAM", 4) && head[4] >= 2 && head[4] <= 4)
		return 90;
	if (is_sam_text(head, len))
		return 80;
	if (len < 18 || head[0] != 0x1f || head[1] != 0x8b)
		return 0;
	uint8_t out[8];
	z_stream z = {.next_in = (uint8_t *)head, .avail_in = (uInt)(len < (1u << 20) ? len : 1u << 20),
		      .next_out = out, .avail_out = sizeof out};
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return 0;
	int r = inflate(&z, Z_SYNC_FLUSH);
	size_t got = sizeof out - z.avail_out;
	inflateEnd(&z);
	if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
		return 0;
	return (got >= 4 && !memcmp(out, "BAM\1", 4)) || is_sam_text(out, got) ? 90 : 0;
}

/* ---- pseudonyms ---- */

static void keyed(const struct sl_deid_ctx *ctx, const char *domain, const char *v, char prefix,
		  char out[32])
{
	uint8_t d[32];
	char hex[65];
	sl_key_hmac(ctx->key, domain, v, strlen(v), d);
	sl_hex(hex, d, 12);
	snprintf(out, 32, "%c%.24s", prefix, hex);
}

/* ---- the transform ---- */

/* Counter names: the keyed digest of each name seen (never the name) and
 * its number, for the whole input, as a read's mates and other alignments
 * may come at any distance. */
struct nslot {
	uint8_t d[16];
	uint64_t n;              /* 0: empty */
};

struct nmap {
	struct nslot *t;
	size_t cap, len;
};

struct rrun {
	const struct rconf *c;
	const struct sl_deid_ctx *ctx;
	sl_sink *out;
	sl_input *src;
	htsFile *in;
	hFILE *hf;
	struct sl_hts_in *feed;
	sam_hdr_t *hdr, *ohdr;
	faidx_t *fai;
	char *ref_name;          /* the reference as htslib's CRAM code is given it */
	int ofd, ifd;
	uint64_t nin, nout, nrg, npg, nco, nother, nfields;
	char **subjects;         /* distinct subjects of the @RG SM fields */
	char **samples;          /* their SM values, for the sample attribute */
	size_t nsub;
	size_t nanon;            /* @RG lines whose SM names no one (absent, empty) */
	char rg_last[256], rg_new[32]; /* the last RG:Z value seen and its pseudonym */
	int streamed;            /* reads taken in input order, not sorted */
	int resorted;            /* the header said coordinate; the reads were not */
	int disorder;            /* streaming stopped at a read out of order */
	struct rkey last;        /* streaming: the previous read's place */
	bam1_t *b;               /* streaming: the read in hand */
	struct rsort *sort;
	struct nmap names;
};

/* The value of TAG in a tab-separated header line (NUL-terminated copy in
 * buf), or NULL. */
static const char *field(char *const *f, int nf, const char *tag)
{
	for (int i = 1; i < nf; i++)
		if (!strncmp(f[i], tag, 2) && f[i][2] == ':')
			return f[i] + 3;
	return NULL;
}

static void add_subject(struct rrun *r, const char *pseudo, const char *sm)
{
	for (size_t i = 0; i < r->nsub; i++)
		if (!strcmp(r->subjects[i], pseudo))
			return;
	r->subjects = sl_xrealloc(r->subjects, (r->nsub + 1) * sizeof *r->subjects);
	r->samples = sl_xrealloc(r->samples, (r->nsub + 1) * sizeof *r->samples);
	r->subjects[r->nsub] = sl_xstrdup(pseudo);
	r->samples[r->nsub++] = sl_xstrdup(sm);
}

static int sq_line(struct rrun *r, char *const *f, int nf, kstring_t *ks, sl_err *err)
{
	struct sl_ref *ref = (struct sl_ref *)&r->c->ref;
	const char *name = field(f, nf, "SN"), *ln = field(f, nf, "LN"), *m5 = field(f, nf, "M5");
	if (!name || !ln)
		return sl_fail(err, SL_E_FORMAT, "an @SQ line lacks SN or LN");
	int k = sl_ref_find(ref, name);
	if (k < 0)
		return sl_fail(err, SL_E_FORMAT, "contig %s is not in the reference", name);
	if (strtoll(ln, NULL, 10) != ref->contigs[k].len)
		return sl_fail(err, SL_E_FORMAT, "contig %s: the header's length %s is not the "
			       "reference's %lld", name, ln, (long long)ref->contigs[k].len);
	const char *want = sl_ref_md5(ref, r->fai, k, err);
	if (!want)
		return -SL_E_IO;
	if (m5 && strcasecmp(m5, want))
		return sl_fail(err, SL_E_FORMAT, "contig %s: the header's M5 is not the reference's "
			       "(another assembly?)", name);
	for (int i = 1; i < nf; i++)
		if (strncmp(f[i], "SN:", 3) && strncmp(f[i], "LN:", 3) && strncmp(f[i], "M5:", 3))
			r->nfields++;
	/* UR: where the export puts the reference, relative to its root, so
	 * that samtools run there finds it with no option (htslib opens a
	 * relative UR from the working directory once no REF_PATH file has
	 * the M5); the name comes from the reference's digest, never its path */
	char ur[64];
	sl_reference_export_name(ref->sha256, ref->gzip, ur, sizeof ur);
	ksprintf(ks, "@SQ\tSN:%s\tLN:%lld\tM5:%s\tUR:%s\n", name, (long long)ref->contigs[k].len,
		 want, ur);
	return 0;
}

static void rg_line(struct rrun *r, char *const *f, int nf, kstring_t *ks)
{
	/* kept as they are: platform and library layout values, not identities */
	static const char *const plain[] = {"PL", "PM", "PI", "FO", "KS", NULL};
	const char *id = field(f, nf, "ID"), *sm = field(f, nf, "SM");
	char p[32];
	keyed(r->ctx, "reads-rg-id", id ? id : "", 'G', p);
	ksprintf(ks, "@RG\tID:%s", p);
	/* An SM that names no one is dropped, not pseudonymised: the pseudonym
	 * of "" would be every unidentified sample's, one person made of many
	 * (and SAM wants a value after "SM:").  The group's reads then belong
	 * to no known sample, and the file to no subject. */
	if (sm && sl_subject_pseudonym(r->ctx, sm, p)) {
		ksprintf(ks, "\tSM:%s", p);
		add_subject(r, p, sm);
	} else {
		r->nanon++;
	}
	static const struct { const char *tag, *domain; char prefix; } keyed_tags[] = {
		{"LB", "reads-rg-lb", 'L'}, {"PU", "reads-rg-pu", 'U'}, {"DS", "reads-rg-ds", 'D'}};
	for (size_t i = 0; i < sizeof keyed_tags / sizeof keyed_tags[0]; i++) {
		const char *v = field(f, nf, keyed_tags[i].tag);
		if (v) {
			keyed(r->ctx, keyed_tags[i].domain, v, keyed_tags[i].prefix, p);
			ksprintf(ks, "\t%s:%s", keyed_tags[i].tag, p);
		}
	}
	for (int i = 1; i < nf; i++) {
		int keep = 0;
		for (const char *const *t = plain; *t; t++)
			keep |= !strncmp(f[i], *t, 2) && f[i][2] == ':';
		if (keep)
			ksprintf(ks, "\t%s", f[i]);
		else if (strncmp(f[i], "ID:", 3) && strncmp(f[i], "SM:", 3) && strncmp(f[i], "LB:", 3) &&
			 strncmp(f[i], "PU:", 3) && strncmp(f[i], "DS:", 3))
			r->nfields++;
	}
	kputc('\n', ks);
	r->nrg++;
}

static int build_header(struct rrun *r, sl_err *err)
{
	const char *text = sam_hdr_str(r->hdr);
	size_t tl = sam_hdr_length(r->hdr);
	char *dup = sl_xmalloc(tl + 1);
	memcpy(dup, text ? text : "", tl);
	dup[tl] = 0;
	kstring_t ks = {0};
	ksprintf(&ks, "@HD\tVN:1.6\tSO:coordinate\n");
	int rc = 0, nsq = 0;
	char *save = NULL;
	for (char *line = strtok_r(dup, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save)) {
		char *f[64];
		int nf = 0;
		char *s2 = NULL;
		for (char *t = strtok_r(line, "\t", &s2); t && nf < 64; t = strtok_r(NULL, "\t", &s2))
			f[nf++] = t;
		if (!nf)
			continue;
		if (!strcmp(f[0], "@HD"))
			continue;
		else if (!strcmp(f[0], "@SQ"))
			rc = sq_line(r, f, nf, &ks, err), nsq++;
		else if (!strcmp(f[0], "@RG"))
			rg_line(r, f, nf, &ks);
		else if (!strcmp(f[0], "@PG"))
			r->npg++;
		else if (!strcmp(f[0], "@CO"))
			r->nco++;
		else
			r->nother++;
	}
	free(dup);
	if (rc == 0 && nsq != sam_hdr_nref(r->hdr))
		rc = sl_fail(err, SL_E_FORMAT, "the header's contigs cannot be read");
	ksprintf(&ks, "@PG\tID:sluice\tPN:sluice\tVN:reads-" READS_VERSION "\n");
	if (rc == 0 && !(r->ohdr = sam_hdr_parse(ks.l, ks.s)))
		rc = sl_fail(err, SL_E_FORMAT, "the new header is not valid (a read group repeated?)");
	free(ks.s);
	return rc;
}

/* RG:Z becomes its group's pseudonym; PG:Z (naming a dropped @PG) goes. */
static int fix_tags(struct rrun *r, bam1_t *b, sl_err *err)
{
	/* PG names the input's programs; CO is free text a pipeline may fill
	 * with anything (sample names, paths), so neither is kept. */
	static const char drop[][2] = {"PG", "CO"};
	for (size_t i = 0; i < sizeof drop / sizeof drop[0]; i++) {
		uint8_t *t = bam_aux_get(b, drop[i]);
		if (t)
			bam_aux_del(b, t);
	}
	uint8_t *rg = bam_aux_get(b, "RG");
	if (!rg)
		return 0;
	const char *v = bam_aux2Z(rg);
	if (!v)
		return sl_fail(err, SL_E_FORMAT, "read %llu: its RG tag is not a string",
			       (unsigned long long)r->nin);
	if (strncmp(v, r->rg_last, sizeof r->rg_last) || !r->rg_new[0]) {
		snprintf(r->rg_last, sizeof r->rg_last, "%s", v);
		keyed(r->ctx, "reads-rg-id", v, 'G', r->rg_new);
	}
	if (bam_aux_update_str(b, "RG", (int)strlen(r->rg_new) + 1, r->rg_new) < 0)
		return sl_fail(err, SL_E_NOMEM, "read %llu: cannot rewrite its RG tag",
			       (unsigned long long)r->nin);
	return 0;
}

/* ---- read names ---- */

/* Room for one more name within the sort memory, or a reason why not. */
static int nmap_grow(struct rrun *r, sl_err *err)
{
	struct nmap *m = &r->names;
	if (m->len + 1 <= m->cap / 4 * 3)
		return 0;
	size_t cap = m->cap ? 2 * m->cap : 1 << 16;
	if (cap * sizeof *m->t > r->c->sort_memory)
		return sl_fail(err, SL_E_FORMAT, "--reads-names counter: more than %zu distinct "
			       "read names, more than --reads-sort-memory holds (use --reads-names "
			       "hash, or more memory)", m->len);
	struct nslot *t = calloc(cap, sizeof *t);
	if (!t)
		return sl_fail(err, SL_E_NOMEM, "out of memory numbering read names");
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->t[i].n)
			continue;
		size_t j;
		memcpy(&j, m->t[i].d, sizeof j);
		for (j &= cap - 1; t[j].n; j = (j + 1) & (cap - 1))
			;
		t[j] = m->t[i];
	}
	free(m->t);
	m->t = t;
	m->cap = cap;
	return 0;
}

/* The name's number: the one it was given, or the next. */
static int counter_of(struct rrun *r, const char *name, uint64_t *n, sl_err *err)
{
	uint8_t d[32];
	int rc = nmap_grow(r, err);
	if (rc < 0)
		return rc;
	sl_key_hmac(r->ctx->key, "reads-name", name, strlen(name), d);
	struct nmap *m = &r->names;
	size_t j;
	memcpy(&j, d, sizeof j);
	for (j &= m->cap - 1; m->t[j].n; j = (j + 1) & (m->cap - 1))
		if (!memcmp(m->t[j].d, d, sizeof m->t[j].d)) {
			*n = m->t[j].n;
			return 0;
		}
	memcpy(m->t[j].d, d, sizeof m->t[j].d);
	*n = m->t[j].n = ++m->len;
	return 0;
}

/* A keyed hash or a counter in place of the name: the same for every read
 * of one template.  "*" (no name) stays: it names nothing and must not
 * turn nameless reads into mates. */
static int rename_read(struct rrun *r, bam1_t *b, sl_err *err)
{
	const char *q = bam_get_qname(b);
	if (r->c->names == NAMES_KEEP || !strcmp(q, "*"))
		return 0;
	char name[32];
	if (r->c->names == NAMES_HASH) {
		keyed(r->ctx, "reads-name", q, 'R', name);
	} else {
		uint64_t n;
		int rc = counter_of(r, q, &n, err);
		if (rc < 0)
			return rc;
		snprintf(name, sizeof name, "%llu", (unsigned long long)n);
	}
	if (bam_set_qname(b, name) < 0)
		return sl_fail(err, SL_E_NOMEM, "read %llu: cannot replace its name",
			       (unsigned long long)r->nout + 1);
	return 0;
}

/* ---- the input ---- */

static int scratch_cb(void *ctx, sl_err *err)
{
	return sl_scratch_open(((struct rrun *)ctx)->out, err);
}

/* The reference's name for htslib's CRAM reader and writer, made once per
 * input (a view in the store's tmp/ when its index is in memory). */
static const char *cram_ref(struct rrun *r, sl_err *err)
{
	if (!r->ref_name && sl_ref_cram_name(&r->c->ref, r->src, &r->ref_name, err) < 0)
		return NULL;
	return r->ref_name;
}

/* Open the input (again: a second pass from its start) and read its header. */
static int open_input(struct rrun *r, int again, sl_err *err)
{
	int rc = again ? sl_hts_in_reopen(&r->feed, r->src, &r->hf, err)
		       : sl_hts_in_open(&r->feed, r->src, &r->hf, err);
	if (rc < 0)
		return rc;
	r->in = hts_hopen(r->hf, "", "r");
	enum htsExactFormat f = r->in ? hts_get_format(r->in)->format : unknown_format;
	/* the pool is the one part of the configuration a transform changes */
	htsThreadPool *pool = sl_hts_pool_get((struct sl_hts_pool *)&r->c->pool, DEFAULT_THREADS);
	if (!r->in) {
		hclose_abruptly(r->hf);
		r->hf = NULL;
		return sl_fail(err, SL_E_FORMAT, "not a SAM, BAM or CRAM file htslib can open");
	}
	if (f != sam && f != bam && f != cram)
		return sl_fail(err, SL_E_FORMAT, "not a SAM, BAM or CRAM file");
	const char *ref = f == cram ? cram_ref(r, err) : NULL;
	if (f == cram && !ref)
		return -SL_E_IO;
	if (f == cram && hts_set_fai_filename(r->in, ref) < 0)
		return sl_fail(err, SL_E_FORMAT, "the CRAM input cannot use the reference");
	if (!(r->hdr = sam_hdr_read(r->in)))
		return sl_fail(err, SL_E_FORMAT, "the SAM/BAM/CRAM header cannot be read");
	/* Decoding on threads gives the same reads in the same order.  The
	 * pool comes after the header, as samtools view attaches it: a BAM's
	 * header read calls bgzf_check_EOF, which with a pool asks htslib
	 * 1.16's BGZF reader task to look, and waits for its answer; that task
	 * has already ended if the first block is corrupt, so the wait never
	 * ends (a worker hung for good).  sl_hts_check_bgzf_end has checked the
	 * end-of-file block already.  CRAM input is decoded on this thread:
	 * htslib 1.16's threaded CRAM decoder leaks the containers it has
	 * queued when a slice fails to decode (found by fuzz_genomics), and a
	 * leak per hostile file is not bounded memory. */
	if (pool && f != cram && hts_set_thread_pool(r->in, pool) < 0)
		return sl_fail(err, SL_E_NOMEM, "cannot give the input decoding threads");
	return 0;
}

/* Close the input; 0, or the feeder's read error. */
static int close_input(struct rrun *r, sl_err *err)
{
	if (r->in)
		hts_close(r->in);
	r->in = NULL;
	r->hf = NULL;
	if (r->hdr)
		sam_hdr_destroy(r->hdr);
	r->hdr = NULL;
	int rc = sl_hts_in_finish(r->feed, err);
	r->feed = NULL;
	return rc;
}

static int says_coordinate(sam_hdr_t *h)
{
	kstring_t ks = KS_INITIALIZE;
	int yes = sam_hdr_find_tag_hd(h, "SO", &ks) == 0 && !strcmp(ks.s, "coordinate");
	ks_free(&ks);
	return yes;
}

/* Bytes of one value of an aux type with a fixed size, or 0. */
static size_t aux_size(uint8_t t)
{
	switch (t) {
	case 'A': case 'c': case 'C': return 1;
	case 's': case 'S': return 2;
	case 'i': case 'I': case 'f': return 4;
	default: return 0;
	}
}

/* The read's aux fields, walked by their own lengths: each tag named as the
 * SAM spec names tags, each type one CRAM stores, each value inside the
 * record.  htslib 1.16 reads a BAM's aux bytes unchecked and its SAM parser
 * takes types the CRAM encoder refuses ('d') and malformed tags; the
 * encoder then fails mid-container, and htslib 1.16 leaks that container
 * (freed on an encode failure only since htslib PR 1701, 1.19).  Our
 * bam_aux_get would also stop silently at a malformed field, before an RG
 * tag it must rewrite. */
static int check_aux(const struct rrun *r, const bam1_t *b, sl_err *err)
{
	const uint8_t *p = bam_get_aux(b), *end = b->data + b->l_data;
	unsigned long long n = (unsigned long long)r->nin;
	while (p < end) {
		if (end - p < 3)
			return sl_fail(err, SL_E_FORMAT, "read %llu: its tags are cut short", n);
		char tag[3] = {(char)p[0], (char)p[1], 0};
		uint8_t t = p[2];
		int ok_tag = ((tag[0] >= 'A' && tag[0] <= 'Z') || (tag[0] >= 'a' && tag[0] <= 'z')) &&
			     ((tag[1] >= 'A' && tag[1] <= 'Z') || (tag[1] >= 'a' && tag[1] <= 'z') ||
			      (tag[1] >= '0' && tag[1] <= '9'));
		if (!ok_tag)
			return sl_fail(err, SL_E_FORMAT, "read %llu: a tag's name is not two letters "
				       "or digits as SAM names tags", n);
		p += 3;
		size_t k = aux_size(t);
		if (k) {
			if ((size_t)(end - p) < k)
				return sl_fail(err, SL_E_FORMAT, "read %llu: tag %s is cut short", n, tag);
			p += k;
		} else if (t == 'Z' || t == 'H') {
			const uint8_t *z = memchr(p, 0, (size_t)(end - p));
			if (!z)
				return sl_fail(err, SL_E_FORMAT, "read %llu: tag %s is not terminated", n, tag);
			p = z + 1;
		} else if (t == 'B') {
			if (end - p < 5 || !aux_size(p[0]) || p[0] == 'A')
				return sl_fail(err, SL_E_FORMAT, "read %llu: array tag %s has no valid "
					       "element type", n, tag);
			uint32_t cnt;
			memcpy(&cnt, p + 1, 4); /* little-endian hosts only, as htslib's raw data */
			size_t need = (size_t)cnt * aux_size(p[0]);
			p += 5;
			if ((size_t)(end - p) < need)
				return sl_fail(err, SL_E_FORMAT, "read %llu: array tag %s is cut short", n, tag);
			p += need;
		} else {
			return sl_fail(err, SL_E_FORMAT, "read %llu: tag %s has type '%c', which SAM "
				       "and CRAM do not store", n, tag, t >= 32 && t < 127 ? t : '?');
		}
	}
	return 0;
}

/* What htslib's CRAM encoder needs of a read and the parsers do not all
 * check: contigs the header has, CIGAR operations it knows, a CIGAR whose
 * query length is the sequence's, well-formed tags.  A read it cannot
 * encode is a rejection with its reason here, not a failure mid-container
 * (see check_aux). */
static int check_read(const struct rrun *r, const bam1_t *b, sl_err *err)
{
	const bam1_core_t *c = &b->core;
	unsigned long long n = (unsigned long long)r->nin;
	int nref = sam_hdr_nref(r->hdr);
	if (c->tid < -1 || c->tid >= nref || c->mtid < -1 || c->mtid >= nref)
		return sl_fail(err, SL_E_FORMAT, "read %llu names a contig the header does not have", n);
	const uint32_t *cig = bam_get_cigar(b);
	for (uint32_t i = 0; i < c->n_cigar; i++)
		if (bam_cigar_op(cig[i]) > BAM_CDIFF)
			return sl_fail(err, SL_E_FORMAT, "read %llu: its CIGAR has an unknown operation", n);
	if (c->n_cigar && c->l_qseq && bam_cigar2qlen((int)c->n_cigar, cig) != c->l_qseq)
		return sl_fail(err, SL_E_FORMAT, "read %llu: its CIGAR's length is not its "
			       "sequence's", n);
	return check_aux(r, b, err);
}

/* The input's next read into b: 1, 0 at the end, <0 on error. */
static int read_one(struct rrun *r, bam1_t *b, sl_err *err)
{
	int got = sam_read1(r->in, r->hdr, b);
	if (got == -1)
		return 0;
	r->nin++;
	if (got < -1)
		return sl_fail(err, SL_E_FORMAT, "read %llu cannot be read: the input is truncated "
			       "or corrupt", (unsigned long long)r->nin);
	int rc = check_read(r, b, err);
	return rc < 0 ? rc : 1;
}

static int sort_input(struct rrun *r, sl_err *err)
{
	bam1_t *b = bam_init1();
	if (!b)
		return sl_fail(err, SL_E_NOMEM, "out of memory reading reads");
	r->sort = rsort_new(r->c->sort_memory, scratch_cb, r);
	int rc;
	while ((rc = read_one(r, b, err)) > 0)
		if ((rc = rsort_push(r->sort, b, err)) < 0)
			break;
	bam_destroy1(b);
	return rc < 0 ? rc : rsort_finish(r->sort, err);
}

/* The next read in output order: 1 and *b, 0 at the end, or <0 on error
 * (r->disorder set when a streamed read came out of order). */
static int next_read(struct rrun *r, bam1_t **b, sl_err *err)
{
	if (!r->streamed)
		return rsort_next(r->sort, b, err);
	if (!r->b && !(r->b = bam_init1()))
		return sl_fail(err, SL_E_NOMEM, "out of memory reading reads");
	int got = read_one(r, r->b, err);
	if (got <= 0)
		return got < 0 ? got : 0;
	struct rkey k;
	rkey_of(&k, r->b);
	if (r->nin > 1 && rkey_cmp(&k, &r->last) < 0) {
		r->disorder = 1;
		return sl_fail(err, SL_E_FORMAT, "read %llu is out of coordinate order",
			       (unsigned long long)r->nin);
	}
	r->last = k;
	*b = r->b;
	return 1;
}

/* ---- the output ---- */

static int copy_reads(struct rrun *r, htsFile *o, sl_err *err)
{
	bam1_t *b;
	int rc;
	while ((rc = next_read(r, &b, err)) > 0) {
		if ((rc = fix_tags(r, b, err)) < 0 || (rc = rename_read(r, b, err)) < 0)
			return rc;
		if (sam_write1(o, r->ohdr, b) < 0)
			return sl_fail(err, SL_E_IO, "cannot write a read (scratch space full?)");
		r->nout++;
	}
	return rc;
}

static htsFile *start_output(struct rrun *r, sl_err *err)
{
	if ((r->ofd = sl_scratch_open(r->out, err)) < 0 || (r->ifd = sl_scratch_open(r->out, err)) < 0)
		return NULL;
	int wfd = dup(r->ofd);
	hFILE *hf = wfd >= 0 ? hdopen(wfd, "w") : NULL;
	htsFile *o = hf ? hts_hopen(hf, CRAM_FILE_ID, "wc") : NULL;
	if (!o) {
		if (hf)
			hclose_abruptly(hf);
		else if (wfd >= 0)
			close(wfd);
		sl_fail(err, SL_E_IO, "cannot start the output");
	}
	return o;
}

/* The CRAM and its index into scratch files.  No thread pool here: htslib's
 * threaded CRAM encoder chooses codecs from blocks in the order threads
 * finish them, so its bytes vary from run to run. */
static int encode(struct rrun *r, sl_err *err)
{
	htsFile *o = start_output(r, err);
	if (!o)
		return -SL_E_IO;
	int rc = 0;
	char iname[40];
	sl_fd_name(iname, r->ifd);
	/* The header goes out before htslib is given the reference: when it
	 * has one, it writes the reference's full path into every @SQ line as
	 * UR (overwriting ours, the export's relative name), which would name
	 * a path and make the bytes depend on where the reference lives.  It
	 * needs no reference for the header, as every @SQ line has its M5. */
	if (hts_set_opt(o, CRAM_OPT_VERSION, r->c->cram_version) < 0 ||
	    sam_hdr_write(o, r->ohdr) < 0)
		rc = sl_fail(err, SL_E_IO, "cannot write the output header");
	const char *ref = rc == 0 ? cram_ref(r, err) : NULL;
	if (rc == 0 && !ref)
		rc = -SL_E_IO;
	if (rc == 0 && hts_set_fai_filename(o, ref) < 0)
		rc = sl_fail(err, SL_E_IO, "cannot set up the CRAM output with the reference");
	if (rc == 0 && sam_idx_init(o, r->ohdr, 0, iname) < 0)
		rc = sl_fail(err, SL_E_IO, "cannot start the index");
	if (rc == 0)
		rc = copy_reads(r, o, err);
	if (rc == 0 && sam_idx_save(o) < 0)
		rc = sl_fail(err, SL_E_IO, "cannot write the index");
	if (hts_close(o) != 0 && rc == 0)
		rc = sl_fail(err, SL_E_IO, "cannot finish the output (scratch space full?)");
	return rc;
}

static int store_output(struct rrun *r, sl_err *err)
{
	uint8_t d[32];
	char name[64], hex[65];
	int rc;
	if ((rc = sl_copy_to_sink(r->ofd, r->out, "primary", "application/cram", d, err)) < 0 ||
	    (rc = sl_copy_to_sink(r->ifd, r->out, "index", "application/x-crai", NULL, err)) < 0)
		return rc;
	sl_hex(hex, d, 32);
	snprintf(name, sizeof name, "reads-%.16s", hex);
	sl_sink_attr(r->out, "name", name);
	sl_sink_attr(r->out, "index", "crai");
	return 0;
}

static void drop_output(struct rrun *r)
{
	if (r->ofd >= 0)
		close(r->ofd);
	if (r->ifd >= 0)
		close(r->ifd);
	r->ofd = r->ifd = -1;
}

/* A header said SO:coordinate and a read came out of order: what was
 * written goes, and the input is read again, through the sorter. */
static int resort(struct rrun *r, sl_err *err)
{
	drop_output(r);
	int rc = close_input(r, err);
	if (rc < 0)
		return rc;
	free(r->names.t);
	r->names = (struct nmap){0};
	r->nin = r->nout = 0;
	r->streamed = 0;
	r->resorted = 1;
	r->disorder = 0;
	if ((rc = open_input(r, 1, err)) < 0 || (rc = sort_input(r, err)) < 0)
		return rc;
	return encode(r, err);
}

static int transcode(struct rrun *r, sl_err *err)
{
	r->streamed = says_coordinate(r->hdr);
	int rc = r->streamed ? 0 : sort_input(r, err);
	if (rc == 0)
		rc = encode(r, err);
	if (rc < 0 && r->disorder)
		rc = resort(r, err);
	return rc < 0 ? rc : store_output(r, err);
}

/* ---- catalog and provenance ---- */

static void attrs(struct rrun *r)
{
	sl_sink_attr(r->out, "kind", "reads");
	char v[40];
	snprintf(v, sizeof v, "%zu", r->nsub);
	sl_sink_attr(r->out, "samples", v);
	/* one subject, and no read group of an unknown sample beside it */
	if (r->nsub == 1 && !r->nanon) {
		sl_sink_attr(r->out, "subject", r->subjects[0]);
		/* keyed as the VCF format keys its sample, so that the reads
		 * and the variants of one sample share an export folder */
		keyed(r->ctx, "vcf-sample", r->samples[0], 'V', v);
		sl_sink_attr(r->out, "sample", v);
	}
	sl_sink_attr(r->out, "reference", r->c->ref.sha256);
}

static void facts(struct rrun *r, enum htsExactFormat f)
{
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_printf(&b, "{\"input_format\":\"%s\",\"reads_in\":%llu,\"reads_out\":%llu,"
		      "\"read_groups\":%llu,\"subjects\":%zu,\"pg_lines_removed\":%llu,"
		      "\"co_lines_removed\":%llu,\"other_lines_removed\":%llu,"
		      "\"fields_removed\":%llu,\"order\":\"%s\",\"resorted\":%s,\"sort_runs\":%llu,"
		      "\"names\":\"%s\",\"output\":\"cram %s\",\"reference\":\"%s\"}",
		      f == cram ? "cram" : f == bam ? "bam" : "sam", (unsigned long long)r->nin,
		      (unsigned long long)r->nout, (unsigned long long)r->nrg, r->nsub,
		      (unsigned long long)r->npg, (unsigned long long)r->nco,
		      (unsigned long long)r->nother, (unsigned long long)r->nfields,
		      r->streamed ? "streamed" : "sorted", r->resorted ? "true" : "false",
		      (unsigned long long)(r->sort ? rsort_runs(r->sort) : 0),
		      names_word[r->c->names], r->c->cram_version, r->c->ref.sha256);
	sl_sink_fact(r->out, "reads", b.data);
	sl_buf_free(&b);
}

/* ---- the transform ---- */

static void free_run(struct rrun *r)
{
	rsort_free(r->sort);
	if (r->b)
		bam_destroy1(r->b);
	if (r->fai)
		fai_destroy(r->fai);
	if (r->ohdr)
		sam_hdr_destroy(r->ohdr);
	drop_output(r);
	for (size_t i = 0; i < r->nsub; i++) {
		free(r->subjects[i]);
		free(r->samples[i]);
	}
	free(r->subjects);
	free(r->samples);
	free(r->names.t);
	free(r->ref_name);
}

static int reads_transform(sl_input *in, sl_sink *out, const struct sl_deid_ctx *ctx,
			   const void *conf, sl_err *err)
{
	const struct rconf *c = conf;
	if (!c || !c->have_ref)
		return sl_fail(err, SL_E_FORMAT, "SAM/BAM/CRAM needs the reference: give --reference FASTA");
	struct rrun r = {.c = c, .ctx = ctx, .out = out, .src = in, .ofd = -1, .ifd = -1};
	int rc = sl_hts_check_bgzf_end(in, err);
	if (rc == 0)
		rc = cram_check_structure(in, err);
	if (rc == 0)
		rc = open_input(&r, 0, err);
	if (rc == 0 && !(r.fai = sl_ref_open_fai(&c->ref, err)))
		rc = -SL_E_IO;
	if (rc == 0)
		rc = build_header(&r, err);
	if (rc == 0)
		rc = transcode(&r, err);
	if (rc == 0) {
		attrs(&r);
		facts(&r, hts_get_format(r.in)->format);
	}
	sl_err ferr = {0};
	int frc = close_input(&r, &ferr);
	if (frc < 0 && rc == 0) {
		*err = ferr;
		rc = frc;
	}
	free_run(&r);
	return rc;
}

/* An index is named after the file it indexes, as htslib looks for it. */
static const struct sl_format_extension extensions[] = {
	{"application/cram", ".cram"},
	{"application/x-crai", ".cram.crai"},
	{NULL, NULL},
};

const struct sl_format sl_format_reads = {
	.name = "reads",
	.version = READS_VERSION,
	.flags = SL_FORMAT_REFERENCE,
	.options = options,
	.configure = reads_configure,
	.policy = reads_policy,
	.release = reads_release,
	.sniff = reads_sniff,
	.transform = reads_transform,
	.extensions = extensions,
	.export_folder = "sample",
	.export_name = "name",
	.index_reference = sl_hts_index_reference,
	.libraries = sl_hts_libraries,
};
