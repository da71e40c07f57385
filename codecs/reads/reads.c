/*
 * reads.c: the SAM/BAM/CRAM ("reads") format.  The input is read by htslib
 * through an hFILE fed from sl_input (htslib never sees a path); its @SQ
 * contigs are checked against the operator's reference (name, length, MD5);
 * the header is rebuilt (@HD, @SQ with SN/LN/M5 only, @RG with ID, SM, LB,
 * PU, DS pseudonymised, one @PG for sluice; @PG and @CO lines and every
 * other line dropped); each read's RG:Z tag is rewritten to its group's new
 * ID and its PG:Z tag removed; the reads are written as CRAM 3.0 against the
 * reference with a .crai index into scratch files, then stored as two
 * objects, "primary" and "index".  The input must be coordinate-sorted (an
 * external sort is not written yet).  See docs/genomics.md and README.md.
 */
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

/* htslib copies the output's name into the CRAM file definition: a fixed
 * one keeps the bytes independent of where the output goes. */
#define CRAM_FILE_ID "sluice"

struct rconf {
	struct sl_ref ref;
	int have_ref;
	char *json;
};

/* ---- options ---- */

static void make_json(struct rconf *c)
{
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_printf(&b, "{\"reference\":\"%s\",\"cram\":\"3.0\",\"unsorted\":\"reject\"}",
		      c->have_ref ? c->ref.sha256 : "");
	free(c->json);
	c->json = b.data;
}

static int reads_configure(void **confp, const char *name, const char *value, size_t len,
			   sl_err *err)
{
	if (!*confp) {
		struct rconf *c = sl_xcalloc(1, sizeof *c);
		pthread_mutex_init(&c->ref.mu, NULL);
		*confp = c;
		sl_hts_setup();
	}
	struct rconf *c = *confp;
	int rc = 0;
	if (!strcmp(name, "reference-sha256")) {
		snprintf(c->ref.sha256, sizeof c->ref.sha256, "%.*s", (int)len, value);
	} else if (!strcmp(name, "reference")) {
		c->ref.path = sl_xstrdup(value);
		rc = sl_ref_load(&c->ref, err);
		c->have_ref = rc == 0;
	} else {
		rc = sl_fail(err, SL_E_USAGE, "unknown reads option --%s", name);
	}
	make_json(c);
	return rc;
}

static const char *reads_policy(const void *conf)
{
	static const char dflt[] = "{\"reference\":\"\",\"cram\":\"3.0\",\"unsorted\":\"reject\"}";
	return conf ? ((const struct rconf *)conf)->json : dflt;
}

static void reads_release(void *conf)
{
	struct rconf *c = conf;
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

struct rrun {
	const struct rconf *c;
	const struct sl_deid_ctx *ctx;
	sl_sink *out;
	htsFile *in;
	struct sl_hts_in *feed;
	sam_hdr_t *hdr, *ohdr;
	faidx_t *fai;
	int ofd, ifd;
	uint64_t nin, nout, nrg, npg, nco, nother, nfields;
	char **subjects;         /* distinct subjects of the @RG SM fields */
	char **samples;          /* their SM values, for the sample attribute */
	size_t nsub;
	char rg_last[256], rg_new[32]; /* the last RG:Z value seen and its pseudonym */
};

static const uint8_t bgzf_eof[28] = {
	0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0x06, 0, 0x42, 0x43, 0x02, 0, 0x1b, 0, 0x03, 0,
	0, 0, 0, 0, 0, 0, 0, 0};

/* A BAM cut at a block boundary still decompresses: its missing end-of-file
 * block is how the cut shows. */
static int check_bgzf_end(sl_input *in, sl_err *err)
{
	uint8_t b[28];
	uint64_t size = sl_input_size(in);
	int64_t n = sl_input_pread(in, b, 4, 0, err);
	if (n < 0)
		return (int)n;
	if (n < 4 || b[0] != 0x1f || b[1] != 0x8b || !(b[3] & 4))
		return 0;
	if (size < 28 || sl_input_pread(in, b, 28, size - 28, err) != 28 || memcmp(b, bgzf_eof, 28))
		return sl_fail(err, SL_E_FORMAT, "the input is truncated: its BGZF end-of-file block "
			       "is missing");
	return 0;
}

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
	ksprintf(ks, "@SQ\tSN:%s\tLN:%lld\tM5:%s\n", name, (long long)ref->contigs[k].len, want);
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
	if (sm) {
		sl_subject_pseudonym(r->ctx, sm, p);
		ksprintf(ks, "\tSM:%s", p);
		add_subject(r, p, sm);
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
	ksprintf(&ks, "@PG\tID:sluice\tPN:sluice\tVN:reads-1\n");
	if (rc == 0 && !(r->ohdr = sam_hdr_parse(ks.l, ks.s)))
		rc = sl_fail(err, SL_E_FORMAT, "the new header is not valid (a read group repeated?)");
	free(ks.s);
	return rc;
}

/* RG:Z becomes its group's pseudonym; PG:Z (naming a dropped @PG) goes. */
static int fix_tags(struct rrun *r, bam1_t *b, sl_err *err)
{
	uint8_t *pg = bam_aux_get(b, "PG");
	if (pg)
		bam_aux_del(b, pg);
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

static int copy_reads(struct rrun *r, htsFile *o, sl_err *err)
{
	bam1_t *b = bam_init1();
	int rc = 0;
	int64_t last_tid = 0, last_pos = -1;
	int unplaced = 0;
	for (;;) {
		int got = sam_read1(r->in, r->hdr, b);
		if (got == -1)
			break;
		r->nin++;
		if (got < -1) {
			rc = sl_fail(err, SL_E_FORMAT, "read %llu cannot be read: the input is truncated "
				     "or corrupt", (unsigned long long)r->nin);
			break;
		}
		int64_t tid = b->core.tid, pos = b->core.pos;
		int sorted = tid < 0 ? 1 : !unplaced && (tid > last_tid || (tid == last_tid && pos >= last_pos));
		if (!sorted) {
			rc = sl_fail(err, SL_E_FORMAT, "read %llu: the input is not coordinate-sorted "
				     "(sort it first, e.g. samtools sort; sluice does not sort reads yet)",
				     (unsigned long long)r->nin);
			break;
		}
		if (tid < 0)
			unplaced = 1;
		else
			last_tid = tid, last_pos = pos;
		if ((rc = fix_tags(r, b, err)) < 0)
			break;
		if (sam_write1(o, r->ohdr, b) < 0) {
			rc = sl_fail(err, SL_E_IO, "cannot write a read (scratch space full?)");
			break;
		}
		r->nout++;
	}
	bam_destroy1(b);
	return rc;
}

static int write_output(struct rrun *r, sl_err *err)
{
	if ((r->ofd = sl_scratch_open(r->out, err)) < 0 || (r->ifd = sl_scratch_open(r->out, err)) < 0)
		return -SL_E_IO;
	int wfd = dup(r->ofd);
	hFILE *hf = wfd >= 0 ? hdopen(wfd, "w") : NULL;
	htsFile *o = hf ? hts_hopen(hf, CRAM_FILE_ID, "wc") : NULL;
	if (!o) {
		if (hf)
			hclose_abruptly(hf);
		else if (wfd >= 0)
			close(wfd);
		return sl_fail(err, SL_E_IO, "cannot start the output");
	}
	int rc = 0;
	char iname[40];
	sl_fd_name(iname, r->ifd);
	/* The header goes out before htslib is given the reference: when it
	 * has one, it writes the reference's full path into every @SQ line as
	 * UR (overwriting any UR given), which would name a path and make the
	 * bytes depend on where the reference lives.  It needs no reference
	 * for the header, as every @SQ line has its M5. */
	if (hts_set_opt(o, CRAM_OPT_VERSION, "3.0") < 0 || sam_hdr_write(o, r->ohdr) < 0)
		rc = sl_fail(err, SL_E_IO, "cannot write the output header");
	if (rc == 0 && hts_set_fai_filename(o, r->c->ref.path) < 0)
		rc = sl_fail(err, SL_E_IO, "cannot set up the CRAM output with the reference");
	if (rc == 0 && sam_idx_init(o, r->ohdr, 0, iname) < 0)
		rc = sl_fail(err, SL_E_IO, "cannot start the index");
	if (rc == 0)
		rc = copy_reads(r, o, err);
	if (rc == 0 && sam_idx_save(o) < 0)
		rc = sl_fail(err, SL_E_IO, "cannot write the index");
	if (hts_close(o) != 0 && rc == 0)
		rc = sl_fail(err, SL_E_IO, "cannot finish the output (scratch space full?)");
	if (rc < 0)
		return rc;
	uint8_t d[32];
	char name[64], hex[65];
	if ((rc = sl_copy_to_sink(r->ofd, r->out, "primary", "application/cram", d, err)) < 0 ||
	    (rc = sl_copy_to_sink(r->ifd, r->out, "index", "application/x-crai", NULL, err)) < 0)
		return rc;
	sl_hex(hex, d, 32);
	snprintf(name, sizeof name, "reads-%.16s", hex);
	sl_sink_attr(r->out, "name", name);
	sl_sink_attr(r->out, "index", "crai");
	return 0;
}

static void attrs(struct rrun *r)
{
	sl_sink_attr(r->out, "kind", "reads");
	char v[40];
	snprintf(v, sizeof v, "%zu", r->nsub);
	sl_sink_attr(r->out, "samples", v);
	if (r->nsub == 1) {
		sl_sink_attr(r->out, "subject", r->subjects[0]);
		/* keyed as the VCF format keys its sample, so that the reads
		 * and the variants of one sample share an export folder */
		keyed(r->ctx, "vcf-sample", r->samples[0], 'V', v);
		sl_sink_attr(r->out, "sample", v);
	}
	sl_sink_attr(r->out, "reference", r->c->ref.sha256);
}

static void facts(struct rrun *r)
{
	enum htsExactFormat f = hts_get_format(r->in)->format;
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_printf(&b, "{\"input_format\":\"%s\",\"reads_in\":%llu,\"reads_out\":%llu,"
		      "\"read_groups\":%llu,\"subjects\":%zu,\"pg_lines_removed\":%llu,"
		      "\"co_lines_removed\":%llu,\"other_lines_removed\":%llu,"
		      "\"fields_removed\":%llu,\"output\":\"cram 3.0\",\"reference\":\"%s\"}",
		      f == cram ? "cram" : f == bam ? "bam" : "sam", (unsigned long long)r->nin,
		      (unsigned long long)r->nout, (unsigned long long)r->nrg, r->nsub,
		      (unsigned long long)r->npg, (unsigned long long)r->nco,
		      (unsigned long long)r->nother, (unsigned long long)r->nfields, r->c->ref.sha256);
	sl_sink_fact(r->out, "reads", b.data);
	sl_buf_free(&b);
}

static int reads_transform(sl_input *in, sl_sink *out, const struct sl_deid_ctx *ctx,
			   const void *conf, sl_err *err)
{
	const struct rconf *c = conf;
	if (!c || !c->have_ref)
		return sl_fail(err, SL_E_FORMAT, "SAM/BAM/CRAM needs the reference: give --reference FASTA");
	struct rrun r = {.c = c, .ctx = ctx, .out = out, .ofd = -1, .ifd = -1};
	hFILE *hf = NULL;
	int rc = check_bgzf_end(in, err);
	if (rc == 0)
		rc = sl_hts_in_open(&r.feed, in, &hf, err);
	if (rc == 0) {
		r.in = hts_hopen(hf, "", "r");
		enum htsExactFormat f = r.in ? hts_get_format(r.in)->format : unknown_format;
		if (!r.in) {
			hclose_abruptly(hf);
			rc = sl_fail(err, SL_E_FORMAT, "not a SAM, BAM or CRAM file htslib can open");
		} else if (f != sam && f != bam && f != cram) {
			rc = sl_fail(err, SL_E_FORMAT, "not a SAM, BAM or CRAM file");
		} else if (f == cram && hts_set_fai_filename(r.in, c->ref.path) < 0) {
			rc = sl_fail(err, SL_E_FORMAT, "the CRAM input cannot use the reference");
		}
	}
	if (rc == 0 && !(r.hdr = sam_hdr_read(r.in)))
		rc = sl_fail(err, SL_E_FORMAT, "the SAM/BAM/CRAM header cannot be read");
	if (rc == 0 && !(r.fai = sl_ref_open_fai(&c->ref, err)))
		rc = -SL_E_IO;
	if (rc == 0)
		rc = build_header(&r, err);
	if (rc == 0)
		rc = write_output(&r, err);
	if (rc == 0) {
		attrs(&r);
		facts(&r);
	}
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
	if (r.fai)
		fai_destroy(r.fai);
	if (r.ohdr)
		sam_hdr_destroy(r.ohdr);
	if (r.hdr)
		sam_hdr_destroy(r.hdr);
	if (r.ofd >= 0)
		close(r.ofd);
	if (r.ifd >= 0)
		close(r.ifd);
	for (size_t i = 0; i < r.nsub; i++) {
		free(r.subjects[i]);
		free(r.samples[i]);
	}
	free(r.subjects);
	free(r.samples);
	return rc;
}

const struct sl_format sl_format_reads = {
	.name = "reads",
	.version = "1",
	.flags = SL_FORMAT_REFERENCE,
	.options = NULL,
	.configure = reads_configure,
	.policy = reads_policy,
	.release = reads_release,
	.sniff = reads_sniff,
	.transform = reads_transform,
};
