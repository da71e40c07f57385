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
#include "vcf_impl.h"
#include "../hts/hts_glue.h"
#include "../../deid/deid.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <htslib/bgzf.h>
#include <htslib/hts.h>

#define DEFAULT_SORT_MEMORY (256u << 20)
#define TBI_MAX_LEN (1LL << 29)

struct vconf {
	struct sl_ref ref;
	int have_ref;
	int exclude_mismatch;
	size_t sort_memory;
	char **keep;             /* header keys kept on the operator's word */
	size_t nkeep;
	char *json;
};

static const struct vconf default_conf = {.sort_memory = DEFAULT_SORT_MEMORY};

/* ---- options ---- */

static const struct sl_format_option options[] = {
	{"vcf-ref-mismatch", "reject|exclude", "a record whose REF differs from the reference: "
	 "reject the input (default) or leave the record out and count it", 0},
	{"vcf-sort-memory", "SIZE", "memory for sorting one input before it spills to scratch "
	 "files (default 256M; K, M, G suffixes)", 0},
	{"vcf-header-keep", "LIST", "header keys kept besides fileformat, INFO, FORMAT, FILTER, "
	 "ALT and contig, comma-separated (e.g. phasing,META); never SAMPLE or PEDIGREE", 0},
	{NULL, NULL, NULL, 0},
};

static void make_json(struct vconf *c)
{
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_printf(&b, "{\"ref_mismatch\":\"%s\",\"reference\":\"%s\",\"header_keep\":[",
		      c->exclude_mismatch ? "exclude" : "reject", c->have_ref ? c->ref.sha256 : "");
	for (size_t i = 0; i < c->nkeep; i++) {
		if (i)
			sl_buf_puts(&b, ",");
		sl_buf_json_str(&b, c->keep[i]);
	}
	sl_buf_puts(&b, "]}");
	free(c->json);
	c->json = b.data;
}

static int parse_size(const char *v, size_t *out)
{
	char *end;
	unsigned long long n = strtoull(v, &end, 10);
	unsigned long long m = 1;
	if (end == v || *v == '-')
		return -1;
	if (*end == 'K' || *end == 'k')
		m = 1ull << 10, end++;
	else if (*end == 'M' || *end == 'm')
		m = 1ull << 20, end++;
	else if (*end == 'G' || *end == 'g')
		m = 1ull << 30, end++;
	if (*end || n == 0 || n > (1ull << 44) / m)
		return -1;
	*out = (size_t)(n * m);
	return 0;
}

static int vcf_configure(void **confp, const char *name, const char *value, size_t len,
			 sl_err *err)
{
	if (!*confp) {
		struct vconf *c = sl_xcalloc(1, sizeof *c);
		*c = default_conf;
		pthread_mutex_init(&c->ref.mu, NULL);
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
		if (parse_size(value, &c->sort_memory) < 0)
			rc = sl_fail(err, SL_E_USAGE, "--vcf-sort-memory wants a size such as 64M, "
				     "not '%s'", value);
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
	static const char dflt[] = "{\"ref_mismatch\":\"reject\",\"reference\":\"\",\"header_keep\":[]}";
	return conf ? ((const struct vconf *)conf)->json : dflt;
}

static void vcf_release(void *conf)
{
	struct vconf *c = conf;
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

struct hstats {
	uint64_t removed, scrubbed;
};

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

struct vrun {
	const struct vconf *c;
	sl_sink *out;
	htsFile *in;
	struct sl_hts_in *feed;
	bcf_hdr_t *hdr, *ohdr;
	faidx_t *fai;
	struct vnorm norm;
	struct vsort *sort;
	unsigned char *ctg_ok;   /* per input contig id: 1 checked, 0 not yet */
	int nctg_ok;
	int ofd, ifd;
	uint64_t nout;
	struct hstats hs;
	char (*pseudo)[32];
};

static int scratch_cb(void *ctx, sl_err *err)
{
	return sl_scratch_open(((struct vrun *)ctx)->out, err);
}

static const uint8_t bgzf_eof[28] = {
	0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0x06, 0, 0x42, 0x43, 0x02, 0, 0x1b, 0, 0x03, 0,
	0, 0, 0, 0, 0, 0, 0, 0};

/* A BGZF input cut at a block boundary still decompresses: its missing
 * end-of-file block is how the cut shows. */
static int check_bgzf_end(sl_input *in, sl_err *err)
{
	uint8_t b[28];
	uint64_t size = sl_input_size(in);
	int64_t n = sl_input_pread(in, b, 4, 0, err);
	if (n < 0)
		return (int)n;
	if (n < 4 || b[0] != 0x1f || b[1] != 0x8b || !(b[3] & 4))
		return 0; /* plain text, or gzip without BGZF's extra field */
	if (size < 28 || sl_input_pread(in, b, 28, size - 28, err) != 28 || memcmp(b, bgzf_eof, 28))
		return sl_fail(err, SL_E_FORMAT, "the input is truncated: its BGZF end-of-file block "
			       "is missing");
	return 0;
}

/* Contig id `rid` of the input header: in the reference, with the length and
 * MD5 the header gives, if any. */
static int check_contig(struct vrun *r, int rid, sl_err *err)
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

static int read_records(struct vrun *r, sl_err *err)
{
	bcf1_t *b = bcf_init1();
	int rc = 0;
	uint64_t n = 0;
	for (;;) {
		int got = bcf_read(r->in, r->hdr, b);
		if (got == -1)
			break;
		n++;
		if (got == 0 && b->errcode == BCF_ERR_CTG_UNDEF)
			b->errcode = 0; /* a contig the header lacks: checked below */
		if (got < -1 || b->errcode) {
			rc = got < -1 ? sl_fail(err, SL_E_FORMAT, "record %llu cannot be read: the input "
						"is truncated or corrupt", (unsigned long long)n)
			   : sl_fail(err, SL_E_FORMAT, "record %llu is malformed (htslib error %d)",
				     (unsigned long long)n, b->errcode);
			break;
		}
		if ((rc = check_contig(r, b->rid, err)) < 0 ||
		    (rc = vnorm_record(&r->norm, b, err)) < 0)
			break;
		for (size_t i = 0; i < r->norm.nout && rc == 0; i++) {
			if (r->norm.out[i]->errcode)
				rc = sl_fail(err, SL_E_FORMAT, "record %llu cannot be normalised",
					     (unsigned long long)n);
			else
				rc = vsort_push(r->sort, r->hdr, r->norm.out[i], err);
		}
		if (rc < 0)
			break;
	}
	bcf_destroy1(b);
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
	int rc = 0;
	if ((r->ofd = sl_scratch_open(r->out, err)) < 0 || (r->ifd = sl_scratch_open(r->out, err)) < 0)
		return -SL_E_IO;
	int wfd = dup(r->ofd);
	hFILE *hf = wfd >= 0 ? hdopen(wfd, "w") : NULL;
	htsFile *o = hf ? hts_hopen(hf, "", "wz") : NULL;
	if (!o) {
		if (hf)
			hclose_abruptly(hf);
		else if (wfd >= 0)
			close(wfd);
		return sl_fail(err, SL_E_IO, "cannot start the output");
	}
	char iname[40];
	sl_fd_name(iname, r->ifd);
	if (bcf_hdr_write(o, r->ohdr) < 0 || bcf_idx_init(o, r->ohdr, tbi ? 0 : 14, iname) < 0)
		rc = sl_fail(err, SL_E_IO, "cannot write the output header");
	bcf1_t *b;
	while (rc == 0 && (rc = vsort_next(r->sort, r->hdr, &b, err)) > 0) {
		if (bcf_translate(r->ohdr, r->hdr, b) < 0 || bcf_write(o, r->ohdr, b) < 0)
			rc = sl_fail(err, SL_E_IO, "cannot write a record (scratch space full?)");
		else
			r->nout++, rc = 0;
	}
	if (rc == 0 && bcf_idx_save(o) < 0)
		rc = sl_fail(err, SL_E_IO, "cannot write the index");
	if (hts_close(o) != 0 && rc == 0)
		rc = sl_fail(err, SL_E_IO, "cannot finish the output (scratch space full?)");
	if (rc < 0)
		return rc;
	uint8_t d[32];
	char name[64], hex[65];
	if ((rc = sl_copy_to_sink(r->ofd, r->out, "primary", "application/vcf+bgzip", d, err)) < 0 ||
	    (rc = sl_copy_to_sink(r->ifd, r->out, "index", tbi ? "application/x-tabix" :
				  "application/x-csi", NULL, err)) < 0)
		return rc;
	sl_hex(hex, d, 32);
	snprintf(name, sizeof name, "variants-%.16s", hex);
	sl_sink_attr(r->out, "name", name);
	sl_sink_attr(r->out, "index", tbi ? "tbi" : "csi");
	return 0;
}

static void pseudonyms(struct vrun *r, const struct sl_deid_ctx *ctx)
{
	int ns = bcf_hdr_nsamples(r->hdr);
	r->pseudo = sl_xcalloc((size_t)ns + 1, sizeof *r->pseudo);
	for (int i = 0; i < ns; i++)
		sl_subject_pseudonym(ctx, r->hdr->samples[i], r->pseudo[i]);
	sl_sink_attr(r->out, "kind", "vcf");
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
		      (unsigned long long)r->norm.nrec, (unsigned long long)r->nout,
		      (unsigned long long)r->norm.nsplit, (unsigned long long)r->norm.nrealigned,
		      (unsigned long long)r->norm.nexcluded, bcf_hdr_nsamples(r->hdr),
		      (unsigned long long)r->hs.removed, (unsigned long long)r->hs.scrubbed,
		      (unsigned long long)vsort_runs(r->sort), r->c->ref.sha256);
	sl_sink_fact(r->out, "vcf", b.data);
	sl_buf_free(&b);
}

static int vcf_transform(sl_input *in, sl_sink *out, const struct sl_deid_ctx *ctx,
			 const void *conf, sl_err *err)
{
	const struct vconf *c = conf;
	if (!c || !c->have_ref)
		return sl_fail(err, SL_E_FORMAT, "VCF/BCF needs the reference: give --reference FASTA");
	struct vrun r = {.c = c, .out = out, .ofd = -1, .ifd = -1};
	hFILE *hf = NULL;
	int rc = check_bgzf_end(in, err);
	if (rc == 0)
		rc = sl_hts_in_open(&r.feed, in, &hf, err);
	if (rc == 0) {
		r.in = hts_hopen(hf, "", "r");
		if (!r.in) {
			hclose_abruptly(hf);
			rc = sl_fail(err, SL_E_FORMAT, "not a VCF or BCF file htslib can open");
		} else if (hts_get_format(r.in)->format != vcf && hts_get_format(r.in)->format != bcf) {
			rc = sl_fail(err, SL_E_FORMAT, "not a VCF or BCF file");
		}
	}
	if (rc == 0 && !(r.hdr = bcf_hdr_read(r.in)))
		rc = sl_fail(err, SL_E_FORMAT, "the VCF/BCF header cannot be read");
	if (rc == 0 && !(r.fai = sl_ref_open_fai(&c->ref, err)))
		rc = -SL_E_IO;
	for (int i = 0; rc == 0 && r.hdr && i < r.hdr->n[BCF_DT_CTG]; i++)
		rc = check_contig(&r, i, err);
	if (rc == 0) {
		r.norm = (struct vnorm){.hdr = r.hdr, .fai = r.fai, .split = 1,
					.exclude_mismatch = c->exclude_mismatch};
		r.sort = vsort_new(c->sort_memory, scratch_cb, &r);
		pseudonyms(&r, ctx);
		rc = read_records(&r, err);
	}
	if (rc == 0 && (rc = build_header(r.hdr, c, (struct sl_ref *)&c->ref, r.fai, r.pseudo,
					  &r.ohdr, &r.hs, err)) == 0)
		rc = vsort_finish(r.sort, r.hdr, err);
	if (rc == 0)
		rc = write_output(&r, err);
	if (rc == 0)
		facts(&r);
	if (r.in)
		hts_close(r.in);
	else if (hf && !r.feed)
		hclose_abruptly(hf);
	sl_err ferr = {0};
	int frc = sl_hts_in_finish(r.feed, &ferr);
	if (frc < 0 && rc == 0) {
		*err = ferr;
		rc = frc;
	}
	vsort_free(r.sort);
	vnorm_free(&r.norm);
	if (r.fai)
		fai_destroy(r.fai);
	if (r.ohdr)
		bcf_hdr_destroy(r.ohdr);
	if (r.hdr)
		bcf_hdr_destroy(r.hdr);
	if (r.ofd >= 0)
		close(r.ofd);
	if (r.ifd >= 0)
		close(r.ifd);
	free(r.ctg_ok);
	free(r.pseudo);
	return rc;
}

const struct sl_format sl_format_vcf = {
	.name = "vcf",
	.version = "1",
	.flags = SL_FORMAT_REFERENCE,
	.options = options,
	.configure = vcf_configure,
	.policy = vcf_policy,
	.release = vcf_release,
	.sniff = vcf_sniff,
	.transform = vcf_transform,
};
