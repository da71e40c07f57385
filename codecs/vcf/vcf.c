/*
 * vcf.c: the VCF/BCF format.  A VCF (plain or bgzipped) or BCF input is
 * read by htslib through an hFILE fed from sl_input (htslib never sees a
 * path), its contigs checked against the operator's reference (name, length,
 * MD5), each record normalised (norm.c: split, REF check, trim and
 * left-align), all records sorted with bounded memory (sort.c), and written
 * as bgzipped VCF with a CSI index (TBI when every contig is shorter than
 * 2^29) into scratch files, then stored as two objects, "primary" and
 * "index".  The header keeps only what describes the data: fileformat,
 * INFO/FORMAT/FILTER/ALT definitions (a Description naming a path is
 * replaced), contigs completed from the reference, a ##reference naming the
 * reference object's digest; sample names become subject pseudonyms.  See
 * docs/genomics.md.
 */
#include "run.h"
#include "../../deid/deid.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <htslib/bgzf.h>
#include <htslib/hts.h>

/* Sort memory: beyond it, runs spill to scratch.  Small on purpose: the
 * sort's slabs are reused after each spill, where more fresh memory costs
 * the kernel's clearing of its pages, which on the bench's virtual machine
 * cost more than writing the runs and reading them back (bench/README.md);
 * runs merge in tiers (sort.c). */
#define DEFAULT_SORT_MEMORY (64u << 20)
/* Pool threads when --vcf-threads is not given: they compress the output
 * (the larger part of the work), parse and normalise the input and
 * decompress it; the bytes do not depend on their number. */
#define DEFAULT_THREADS 4
#define TBI_MAX_LEN (1LL << 29)
/* BGZF level (bgzip's 1-9) when --vcf-compression-level is not given.
 * Compressing is most of the work of a run: level 4 takes half the CPU of
 * bgzip's default 6 for about 2.5% more bytes (bench/README.md). */
#define DEFAULT_LEVEL 4

struct vconf {
	struct sl_ref ref;
	int have_ref;
	int exclude_mismatch;
	size_t sort_memory;
	int level;               /* BGZF compression level, 1-9 */
	char **keep;             /* header keys kept on the operator's word */
	size_t nkeep;
	char *json;
	struct sl_hts_pool pool; /* shared by every input (threads -1: the default) */
};

static const struct vconf default_conf = {.sort_memory = DEFAULT_SORT_MEMORY, .level = DEFAULT_LEVEL,
					  .pool.threads = -1};

/* ---- options ---- */

static const struct sl_format_option options[] = {
	{"vcf-ref-mismatch", "reject|exclude", "a record whose REF differs from the reference: "
	 "reject the input (default) or leave the record out and count it", 0},
	{"vcf-sort-memory", "SIZE", "memory for sorting one input before it spills to scratch "
	 "files (default 64M; K, M, G suffixes)", 0},
	{"vcf-threads", "N", "threads compressing the output and parsing, normalising and "
	 "decompressing the input, shared by all inputs (default 4; 0: none)", 0},
	{"vcf-compression-level", "N", "BGZF compression level of the output, 1 (fastest) to 9 "
	 "(smallest), as bgzip's -l (default 4)", 0},
	{"vcf-header-keep", "LIST", "header keys kept besides fileformat, INFO, FORMAT, FILTER, "
	 "ALT and contig, comma-separated (e.g. phasing,META); never SAMPLE or PEDIGREE", 0},
	{NULL, NULL, NULL, 0},
};

static void make_json(struct vconf *c)
{
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_printf(&b, "{\"ref_mismatch\":\"%s\",\"reference\":\"%s\",\"level\":%d,\"header_keep\":[",
		      c->exclude_mismatch ? "exclude" : "reject", c->have_ref ? c->ref.sha256 : "", c->level);
	for (size_t i = 0; i < c->nkeep; i++) {
		if (i)
			sl_buf_puts(&b, ",");
		sl_buf_json_str(&b, c->keep[i]);
	}
	sl_buf_puts(&b, "]}");
	free(c->json);
	c->json = b.data;
}

static int vcf_configure(void **confp, const char *name, const char *value, size_t len,
			 sl_err *err)
{
	if (!*confp) {
		struct vconf *c = sl_xcalloc(1, sizeof *c);
		*c = default_conf;
		pthread_mutex_init(&c->ref.mu, NULL);
		sl_hts_pool_init(&c->pool);
		*confp = c;
		sl_hts_setup();
	}
	struct vconf *c = *confp;
	int rc = 0;
	if (!strcmp(name, "vcf-ref-mismatch")) {
		if (!strcmp(value, "reject") || !strcmp(value, "exclude"))
			c->exclude_mismatch = !strcmp(value, "exclude");
		else
			rc = sl_fail(err, SL_E_USAGE, "--vcf-ref-mismatch must be reject or exclude, "
				     "not '%s'", value);
	} else if (!strcmp(name, "vcf-sort-memory")) {
		if (sl_parse_size(value, &c->sort_memory) < 0)
			rc = sl_fail(err, SL_E_USAGE, "--vcf-sort-memory wants a size such as 64M, "
				     "not '%s'", value);
	} else if (!strcmp(name, "vcf-threads")) {
		char *end;
		long n = strtol(value, &end, 10);
		if (end == value || *end || n < 0 || n > 256)
			rc = sl_fail(err, SL_E_USAGE, "--vcf-threads wants a number from 0 to 256, "
				     "not '%s'", value);
		else
			c->pool.threads = (int)n;
	} else if (!strcmp(name, "vcf-compression-level")) {
		if (len != 1 || value[0] < '1' || value[0] > '9')
			rc = sl_fail(err, SL_E_USAGE, "--vcf-compression-level wants a number from 1 "
				     "to 9, not '%s'", value);
		else
			c->level = value[0] - '0';
	} else if (!strcmp(name, "vcf-header-keep")) {
		char *dup = sl_xstrdup(value), *save = NULL;
		for (char *t = strtok_r(dup, ",", &save); t && rc == 0; t = strtok_r(NULL, ",", &save)) {
			if (!strcasecmp(t, "SAMPLE") || !strcasecmp(t, "PEDIGREE"))
				rc = sl_fail(err, SL_E_USAGE, "--vcf-header-keep: %s lines name samples "
					     "and are always removed", t);
			c->keep = sl_xrealloc(c->keep, (c->nkeep + 1) * sizeof *c->keep);
			c->keep[c->nkeep++] = sl_xstrdup(t);
		}
		free(dup);
	} else if (!strcmp(name, "reference-sha256")) {
		snprintf(c->ref.sha256, sizeof c->ref.sha256, "%.*s", (int)len, value);
	} else if (!strcmp(name, "reference")) {
		c->ref.path = sl_xstrdup(value);
		rc = sl_ref_load(&c->ref, err);
		c->have_ref = rc == 0;
	} else {
		rc = sl_fail(err, SL_E_USAGE, "unknown VCF option --%s", name);
	}
	make_json(c);
	return rc;
}

static const char *vcf_policy(const void *conf)
{
	static const char dflt[] = "{\"ref_mismatch\":\"reject\",\"reference\":\"\",\"level\":4,"
				   "\"header_keep\":[]}";
	return conf ? ((const struct vconf *)conf)->json : dflt;
}

static void vcf_release(void *conf)
{
	struct vconf *c = conf;
	sl_hts_pool_free(&c->pool);
	sl_ref_free(&c->ref);
	for (size_t i = 0; i < c->nkeep; i++)
		free(c->keep[i]);
	free(c->keep);
	free(c->json);
	free(c);
}

/* ---- sniffing ---- */

static int is_vcf_text(const uint8_t *p, size_t n)
{
	return (n >= 16 && !memcmp(p, "##fileformat=VCF", 16)) || (n >= 5 && !memcmp(p, "BCF\2", 4));
}

static int vcf_sniff(const uint8_t *head, size_t len, uint64_t size)
{
	if (is_vcf_text(head, len))
		return 90;
	if (len < 18 || head[0] != 0x1f || head[1] != 0x8b)
		return 0;
	/* gzip or BGZF: look at the start of what it holds */
	uint8_t out[32];
	z_stream z = {.next_in = (uint8_t *)head, .avail_in = (uInt)(len < (1u << 20) ? len : 1u << 20),
		      .next_out = out, .avail_out = sizeof out};
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
		return 0;
	int r = inflate(&z, Z_SYNC_FLUSH);
	size_t got = sizeof out - z.avail_out;
	inflateEnd(&z);
	return (r == Z_OK || r == Z_STREAM_END || r == Z_BUF_ERROR) && is_vcf_text(out, got) ? 90 : 0;
}

/* ---- the header ---- */

/* A description that names a path or a URL (annotation tools write their
 * input files' paths there) is replaced. */
static int names_path(const char *s)
{
	for (const char *p = s; *p; p++) {
		int start = p == s || strchr(" \t\"'(=,:;[", p[-1]);
		if (start && (p[0] == '/' || !strncmp(p, "~/", 2) || !strncmp(p, "./", 2) ||
			      !strncmp(p, "../", 3)))
			return 1;
		if (!strncmp(p, "://", 3) || (start && p[1] == ':' && p[2] == '\\'))
			return 1;
	}
	return 0;
}

static const char *hrec_get(const bcf_hrec_t *h, const char *key)
{
	for (int i = 0; i < h->nkeys; i++)
		if (!strcmp(h->keys[i], key))
			return h->vals[i];
	return NULL;
}

static int kept_key(const struct vconf *c, const char *key)
{
	for (size_t i = 0; i < c->nkeep; i++)
		if (!strcmp(c->keep[i], key))
			return 1;
	return 0;
}

/* One structured line keeping only the listed keys (values as htslib
 * parsed them: Description keeps its quotes). */
static void structured(kstring_t *ks, const bcf_hrec_t *h, const char *const *keys, int *scrubbed)
{
	ks->l = 0;
	ksprintf(ks, "##%s=<", h->key);
	int first = 1;
	for (const char *const *k = keys; *k; k++) {
		const char *v = hrec_get(h, *k);
		if (!v)
			continue;
		if (!strcmp(*k, "Description") && names_path(v)) {
			v = "\"(removed by sluice: it named a path)\"";
			(*scrubbed)++;
		}
		ksprintf(ks, "%s%s=%s", first ? "" : ",", *k, v);
		first = 0;
	}
	kputc('>', ks);
}

static int build_header(bcf_hdr_t *in, const struct vconf *c, struct sl_ref *ref, faidx_t *fai,
			char (*pseudo)[32], bcf_hdr_t **outp, struct hstats *st, sl_err *err)
{
	static const char *const fields[] = {"ID", "Number", "Type", "Description", NULL};
	static const char *const alt_fields[] = {"ID", "Description", NULL};
	bcf_hdr_t *out = bcf_hdr_init("w");
	kstring_t ks = {0};
	int rc = 0, scrubbed = 0;
	if (!out)
		return sl_fail(err, SL_E_NOMEM, "cannot make a VCF header");
	bcf_hdr_set_version(out, bcf_hdr_get_version(in));
	for (int i = 0; i < in->nhrec && rc == 0; i++) {
		const bcf_hrec_t *h = in->hrec[i];
		ks.l = 0;
		switch (h->type) {
		case BCF_HL_FLT:
		case BCF_HL_INFO:
		case BCF_HL_FMT:
			structured(&ks, h, fields, &scrubbed);
			break;
		case BCF_HL_CTG: {
			const char *name = hrec_get(h, "ID");
			int k = name ? sl_ref_find(ref, name) : -1;
			const char *md5 = k >= 0 ? sl_ref_md5(ref, fai, k, err) : NULL;
			if (k < 0 || !md5) {
				rc = k < 0 ? sl_fail(err, SL_E_FORMAT, "contig %s is not in the reference",
						     name ? name : "(no ID)") : -SL_E_IO;
				break;
			}
			ksprintf(&ks, "##contig=<ID=%s,length=%lld,md5=%s,assembly=sha256:%s>", name,
				 (long long)ref->contigs[k].len, md5, ref->sha256);
			break;
		}
		case BCF_HL_STR:
			if (!strcmp(h->key, "ALT"))
				structured(&ks, h, alt_fields, &scrubbed);
			else if (kept_key(c, h->key) && strcmp(h->key, "SAMPLE") && strcmp(h->key, "PEDIGREE"))
				bcf_hrec_format(h, &ks);
			else
				st->removed++;
			break;
		case BCF_HL_GEN:
			if (strcmp(h->key, "fileformat") && strcmp(h->key, "reference")) {
				if (kept_key(c, h->key))
					bcf_hrec_format(h, &ks);
				else
					st->removed++;
			}
			break;
		}
		while (ks.l && ks.s[ks.l - 1] == '\n')
			ks.s[--ks.l] = 0;
		if (rc == 0 && ks.l && bcf_hdr_append(out, ks.s) < 0)
			rc = sl_fail(err, SL_E_FORMAT, "header line %d cannot be carried over", i + 1);
	}
	if (rc == 0) {
		ks.l = 0;
		ksprintf(&ks, "##reference=sha256:%s", ref->sha256);
		if (bcf_hdr_append(out, ks.s) < 0)
			rc = sl_fail(err, SL_E_FORMAT, "cannot add ##reference");
	}
	for (int i = 0; rc == 0 && i < bcf_hdr_nsamples(in); i++)
		if (bcf_hdr_add_sample(out, pseudo[i]) < 0)
			rc = sl_fail(err, SL_E_FORMAT, "two samples belong to one subject (sample %d "
				     "repeats an earlier sample's subject)", i + 1);
	if (rc == 0 && bcf_hdr_sync(out) < 0)
		rc = sl_fail(err, SL_E_FORMAT, "the new header is not valid");
	free(ks.s);
	st->scrubbed = (uint64_t)scrubbed;
	if (rc < 0) {
		bcf_hdr_destroy(out);
		return rc;
	}
	*outp = out;
	return 0;
}

/* ---- the transform ---- */

static int scratch_cb(void *ctx, sl_err *err)
{
	return sl_scratch_open(((struct vrun *)ctx)->out, err);
}

int vrun_check_contig(struct vrun *r, int rid, sl_err *err)
{
	if (rid < r->nctg_ok && r->ctg_ok[rid])
		return 0;
	if (rid >= r->nctg_ok) {
		int n = r->hdr->n[BCF_DT_CTG];
		r->ctg_ok = sl_xrealloc(r->ctg_ok, (size_t)n);
		memset(r->ctg_ok + r->nctg_ok, 0, (size_t)(n - r->nctg_ok));
		r->nctg_ok = n;
	}
	struct sl_ref *ref = (struct sl_ref *)&r->c->ref;
	const char *name = bcf_hdr_id2name(r->hdr, rid);
	int k = sl_ref_find(ref, name);
	if (k < 0)
		return sl_fail(err, SL_E_FORMAT, "contig %s is not in the reference", name);
	bcf_hrec_t *h = bcf_hdr_get_hrec(r->hdr, BCF_HL_CTG, "ID", name, NULL);
	const char *len = h ? hrec_get(h, "length") : NULL;
	if (len && strtoll(len, NULL, 10) != ref->contigs[k].len)
		return sl_fail(err, SL_E_FORMAT, "contig %s: the header's length %s is not the "
			       "reference's %lld", name, len, (long long)ref->contigs[k].len);
	const char *md5 = h ? hrec_get(h, "md5") : NULL;
	if (md5) {
		const char *want = sl_ref_md5(ref, r->fai, k, err);
		if (!want)
			return -SL_E_IO;
		char m[40];
		snprintf(m, sizeof m, "%s", md5[0] == '"' ? md5 + 1 : md5);
		m[strcspn(m, "\"")] = 0;
		if (strcasecmp(m, want))
			return sl_fail(err, SL_E_FORMAT, "contig %s: the header's md5 is not the "
				       "reference's (another assembly?)", name);
	}
	r->ctg_ok[rid] = 1;
	return 0;
}

/* ---- the reference's MD5s, computed while records are read ---- */

/* The output header names every header contig's MD5, and the first run
 * computes them (a pass over the reference): a thread does it while the
 * records are read, with a faidx of its own. */
struct md5_ahead {
	pthread_t t;
	struct sl_ref *ref;
	char **names;
	int n, started;
};

static void *md5_thread(void *arg)
{
	struct md5_ahead *m = arg;
	sl_err ignore;
	faidx_t *fai = sl_ref_open_fai(m->ref, &ignore);
	for (int i = 0; fai && i < m->n; i++) {
		int k = sl_ref_find(m->ref, m->names[i]);
		if (k >= 0)
			sl_ref_md5(m->ref, fai, k, &ignore); /* an error shows again later */
	}
	if (fai)
		fai_destroy(fai);
	return NULL;
}

static void md5_start(struct md5_ahead *m, struct vrun *r)
{
	*m = (struct md5_ahead){.ref = (struct sl_ref *)&r->c->ref};
	if (!r->pool)
		return;
	m->n = r->hdr->n[BCF_DT_CTG];
	m->names = sl_xcalloc((size_t)m->n + 1, sizeof *m->names);
	for (int i = 0; i < m->n; i++)
		m->names[i] = sl_xstrdup(bcf_hdr_id2name(r->hdr, i));
	m->started = pthread_create(&m->t, NULL, md5_thread, m) == 0;
}

static void md5_join(struct md5_ahead *m)
{
	if (m->started)
		pthread_join(m->t, NULL);
	m->started = 0;
	for (int i = 0; i < m->n; i++)
		free(m->names[i]);
	free(m->names);
	m->names = NULL;
}

/* ---- the output ---- */

static int write_header(struct vrun *r, struct vbgz *w, kstring_t *ks, sl_err *err)
{
	ks->l = 0;
	if (bcf_hdr_format(r->ohdr, 0, ks) < 0)
		return sl_fail(err, SL_E_FORMAT, "the new header cannot be written");
	while (ks->l && ks->s[ks->l - 1] == 0)
		ks->l--;
	int rc = vbgz_write(w, ks->s, ks->l, err);
	return rc < 0 ? rc : vbgz_flush(w, err);
}

/* The records in order, as vcf_write writes them: a record that would not
 * fit in the current block starts a new one. */
static int write_records(struct vrun *r, struct vbgz *w, hts_idx_t *idx, kstring_t *ks,
			 sl_err *err)
{
	bcf1_t *b;
	int rc;
	while ((rc = vsort_next(r->sort, r->hdr, &b, err)) > 0) {
		ks->l = 0;
		if (bcf_translate(r->ohdr, r->hdr, b) < 0 || vcf_format(r->ohdr, b, ks) < 0)
			return sl_fail(err, SL_E_FORMAT, "cannot write a record");
		int tid = hts_idx_tbi_name(idx, b->rid, bcf_hdr_id2name(r->ohdr, b->rid));
		if (tid < 0)
			return sl_fail(err, SL_E_NOMEM, "cannot index a record");
		if ((rc = vbgz_flush_try(w, ks->l, err)) < 0 || (rc = vbgz_write(w, ks->s, ks->l, err)) < 0 ||
		    (rc = vbgz_index(w, tid, b->pos, b->pos + b->rlen, err)) < 0)
			return rc;
		r->nout++;
	}
	return rc;
}

/* Blocks go straight into the output object (a scratch copy cost a second
 * write and read of the whole file after the last block), hashed on the
 * way for the object's name. */
struct to_sink {
	sl_sink *s;
	sl_sha256 *h;
};

static int to_sink(void *ctx, const void *p, size_t n, sl_err *err)
{
	struct to_sink *t = ctx;
	sl_sha256_update(t->h, p, n);
	return sl_sink_write(t->s, p, n, err);
}

static int write_bgzf(struct vrun *r, int tbi, struct to_sink *out, sl_err *err)
{
	struct vbgz *w = vbgz_new(to_sink, out, r->pool, r->c->level);
	kstring_t ks = {0};
	hts_idx_t *idx = NULL;
	uint64_t off;
	char iname[40];
	sl_fd_name(iname, r->ifd);
	int rc = write_header(r, w, &ks, err);
	if (rc == 0 && (rc = vbgz_sync(w, &off, err)) == 0 && !(idx = vbgz_vcf_index(r->ohdr, tbi ? 0 : 14, off)))
		rc = sl_fail(err, SL_E_NOMEM, "cannot start the index");
	if (rc == 0) {
		vbgz_set_index(w, idx);
		rc = write_records(r, w, idx, &ks, err);
	}
	if (rc == 0)
		rc = vbgz_finish(w, &off, err);
	if (rc == 0 && (hts_idx_finish(idx, off) < 0 || hts_idx_save_as(idx, NULL, iname, tbi ?
							 HTS_FMT_TBI : HTS_FMT_CSI) < 0))
		rc = sl_fail(err, SL_E_IO, "cannot write the index");
	if (rc == 0)
		rc = vbgz_close(w, err);
	vbgz_free(w);
	if (idx)
		hts_idx_destroy(idx);
	free(ks.s);
	return rc;
}

static int write_output(struct vrun *r, sl_err *err)
{
	int tbi = 1;
	for (int i = 0; i < r->ohdr->n[BCF_DT_CTG]; i++) {
		int k = sl_ref_find(&r->c->ref, bcf_hdr_id2name(r->ohdr, i));
		if (k >= 0 && r->c->ref.contigs[k].len >= TBI_MAX_LEN)
			tbi = 0;
	}
	if ((r->ifd = sl_scratch_open(r->out, err)) < 0)
		return -SL_E_IO;
	struct to_sink out = {r->out, sl_sha256_new()};
	int rc = sl_sink_begin(r->out, "primary", "application/vcf+bgzip", err);
	if (rc == 0)
		rc = write_bgzf(r, tbi, &out, err);
	if (rc == 0)
		rc = sl_sink_end(r->out, err);
	uint8_t d[32];
	sl_sha256_final(out.h, d);
	sl_sha256_free(out.h);
	if (rc == 0)
		rc = sl_copy_to_sink(r->ifd, r->out, "index", tbi ? "application/x-tabix" :
				     "application/x-csi", NULL, err);
	if (rc < 0)
		return rc;
	char name[64], hex[65];
	sl_hex(hex, d, 32);
	snprintf(name, sizeof name, "variants-%.16s", hex);
	sl_sink_attr(r->out, "name", name);
	sl_sink_attr(r->out, "index", tbi ? "tbi" : "csi");
	return 0;
}

/* Each sample column's name becomes its subject's pseudonym.  A column
 * whose name identifies no one (htslib already refuses empty and blank
 * names; control characters alone remain) rejects the file: the column
 * needs a name, and any name given to it would claim a person. */
static int pseudonyms(struct vrun *r, const struct sl_deid_ctx *ctx, sl_err *err)
{
	int ns = bcf_hdr_nsamples(r->hdr);
	r->pseudo = sl_xcalloc((size_t)ns + 1, sizeof *r->pseudo);
	for (int i = 0; i < ns; i++)
		if (!sl_subject_pseudonym(ctx, r->hdr->samples[i], r->pseudo[i]))
			return sl_fail(err, SL_E_FORMAT, "sample %d has no name that identifies "
				       "anyone (a sample column needs one)", i + 1);
	sl_sink_attr(r->out, "kind", "vcf");
	/* so that `sluice export` writes the reference beside the variants */
	sl_sink_attr(r->out, "reference", r->ref->sha256);
	char v[40];
	snprintf(v, sizeof v, "%d", ns);
	sl_sink_attr(r->out, "samples", v);
	if (ns == 1) {
		sl_sink_attr(r->out, "subject", r->pseudo[0]);
		/* the sample itself, keyed apart from its subject */
		uint8_t d[32];
		char hex[65];
		sl_key_hmac(ctx->key, "vcf-sample", r->hdr->samples[0], strlen(r->hdr->samples[0]), d);
		sl_hex(hex, d, 12);
		snprintf(v, sizeof v, "V%.24s", hex);
		sl_sink_attr(r->out, "sample", v);
	}
	return 0;
}

static void facts(struct vrun *r)
{
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_printf(&b, "{\"input_format\":\"%s\",\"records_in\":%llu,\"records_out\":%llu,"
		      "\"split\":%llu,\"realigned\":%llu,\"ref_mismatch_excluded\":%llu,"
		      "\"samples\":%d,\"header_lines_removed\":%llu,\"descriptions_scrubbed\":%llu,"
		      "\"sort_runs\":%llu,\"reference\":\"%s\"}",
		      hts_get_format(r->in)->format == bcf ? "bcf" : "vcf",
		      (unsigned long long)r->nrec, (unsigned long long)r->nout,
		      (unsigned long long)r->nsplit, (unsigned long long)r->nrealigned,
		      (unsigned long long)r->nexcluded, bcf_hdr_nsamples(r->hdr),
		      (unsigned long long)r->hs.removed, (unsigned long long)r->hs.scrubbed,
		      (unsigned long long)vsort_runs(r->sort), r->c->ref.sha256);
	sl_sink_fact(r->out, "vcf", b.data);
	sl_buf_free(&b);
}

/* The input opened through htslib, its header read and its contigs checked. */
static int open_input(struct vrun *r, sl_input *in, hFILE **hf, sl_err *err)
{
	int rc = sl_hts_check_bgzf_end(in, err);
	if (rc == 0)
		rc = sl_hts_in_open(&r->feed, in, hf, err);
	if (rc < 0)
		return rc;
	r->in = hts_hopen(*hf, "", "r");
	if (!r->in) {
		hclose_abruptly(*hf);
		return sl_fail(err, SL_E_FORMAT, "not a VCF or BCF file htslib can open");
	}
	enum htsExactFormat f = hts_get_format(r->in)->format;
	if (f != vcf && f != bcf)
		return sl_fail(err, SL_E_FORMAT, "not a VCF or BCF file");
	if (!(r->hdr = bcf_hdr_read(r->in)))
		return sl_fail(err, SL_E_FORMAT, "the VCF/BCF header cannot be read");
	/* BGZF decompressed on the pool gives the same bytes.  The pool comes
	 * after the header, as in the reads format (codecs/reads/reads.c
	 * open_input): with htslib 1.16, a bgzf_check_EOF while a pool is
	 * attached waits for the BGZF reader task, which has already ended if
	 * an early block is corrupt, and the wait never ends.  bcf_hdr_read
	 * does not check in 1.16, but another version's may; our
	 * sl_hts_check_bgzf_end has checked the end-of-file block already. */
	if (r->pool && hts_set_thread_pool(r->in, r->pool) < 0)
		return sl_fail(err, SL_E_NOMEM, "cannot give the input decompression threads");
	if (!(r->fai = sl_ref_open_fai(r->ref, err)))
		return -SL_E_IO;
	for (int i = 0; rc == 0 && i < r->hdr->n[BCF_DT_CTG]; i++)
		rc = vrun_check_contig(r, i, err);
	return rc;
}

static int run(struct vrun *r, sl_input *in, const struct sl_deid_ctx *ctx, hFILE **hf,
	       sl_err *err)
{
	int rc = open_input(r, in, hf, err);
	if (rc < 0)
		return rc;
	if ((rc = pseudonyms(r, ctx, err)) < 0)
		return rc;
	struct md5_ahead m;
	md5_start(&m, r);
	r->sort = vsort_new(r->c->sort_memory, scratch_cb, r);
	rc = vrun_read(r, err);
	md5_join(&m);
	if (rc == 0 && (rc = build_header(r->hdr, r->c, (struct sl_ref *)&r->c->ref, r->fai, r->pseudo,
					  &r->ohdr, &r->hs, err)) == 0)
		rc = vsort_finish(r->sort, r->hdr, err);
	if (rc == 0)
		rc = write_output(r, err);
	if (rc == 0)
		facts(r);
	return rc;
}

static void run_free(struct vrun *r, hFILE *hf)
{
	vrun_works_free(r);
	if (r->in)
		hts_close(r->in);
	else if (hf && !r->feed)
		hclose_abruptly(hf);
	vsort_free(r->sort);
	if (r->fai)
		fai_destroy(r->fai);
	if (r->ohdr)
		bcf_hdr_destroy(r->ohdr);
	if (r->hdr)
		bcf_hdr_destroy(r->hdr);
	if (r->ifd >= 0)
		close(r->ifd);
	free(r->ctg_ok);
	free(r->pseudo);
	pthread_mutex_destroy(&r->idle_mu);
}

static int vcf_transform(sl_input *in, sl_sink *out, const struct sl_deid_ctx *ctx,
			 const void *conf, sl_err *err)
{
	const struct vconf *c = conf;
	if (!c || !c->have_ref)
		return sl_fail(err, SL_E_FORMAT, "VCF/BCF needs the reference: give --reference FASTA");
	struct vrun r = {.c = c, .ref = &c->ref, .out = out, .ifd = -1,
			 .exclude_mismatch = c->exclude_mismatch,
			 /* the pool is the one part of the configuration a transform changes */
			 .pool = sl_hts_pool_get((struct sl_hts_pool *)&c->pool, DEFAULT_THREADS)};
	pthread_mutex_init(&r.idle_mu, NULL);
	hFILE *hf = NULL;
	int rc = run(&r, in, ctx, &hf, err);
	/* the input's feeder is joined after htslib closed its end */
	struct sl_hts_in *feed = r.feed;
	run_free(&r, hf);
	sl_err ferr = {0};
	int frc = sl_hts_in_finish(feed, &ferr);
	if (frc < 0 && rc == 0) {
		*err = ferr;
		rc = frc;
	}
	return rc;
}

/* An index is named after the file it indexes, as htslib looks for it. */
static const struct sl_format_extension extensions[] = {
	{"application/vcf+bgzip", ".vcf.gz"},
	{"application/x-tabix", ".vcf.gz.tbi"},
	{"application/x-csi", ".vcf.gz.csi"},
	{NULL, NULL},
};

const struct sl_format sl_format_vcf = {
	.name = "vcf",
	.version = "2",
	.flags = SL_FORMAT_REFERENCE,
	.options = options,
	.configure = vcf_configure,
	.policy = vcf_policy,
	.release = vcf_release,
	.sniff = vcf_sniff,
	.transform = vcf_transform,
	.extensions = extensions,
	.export_folder = "sample",
	.export_name = "name",
	.index_reference = sl_hts_index_reference,
	.libraries = sl_hts_libraries,
};
