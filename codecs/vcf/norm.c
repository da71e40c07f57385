/*
 * norm.c: the VCF normaliser.  A multiallelic record is split into
 * biallelic ones (INFO and FORMAT fields of Number=A, R and G reduced to the
 * values of REF and the one ALT, GT re-coded: that ALT becomes 1, every
 * other ALT 0), then each record's REF is checked against the reference and
 * its alleles are trimmed and left-aligned: the parsimonious, left-aligned
 * representation of Tan et al. 2015, with the conventions of `bcftools norm`
 * (whose records the tests compare ours with): right-trim while all alleles
 * end in the same base, padding from the reference on the left when an
 * allele would become empty, then left-trim while every allele keeps a
 * base.  Symbolic alleles, breakends and `*` are left alone.  Written for
 * sluice from the VCF specification; htslib parses and encodes the fields.
 */
#include "vcf_impl.h"
#include "../hts/hts_glue.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PAD_WINDOW 100   /* reference bases fetched at a time when padding left */

static bcf1_t *slot(struct vnorm *n)
{
	if (n->nout == n->cap) {
		size_t c = n->cap ? 2 * n->cap : 4;
		n->out = sl_xrealloc(n->out, c * sizeof *n->out);
		for (size_t i = n->cap; i < c; i++)
			n->out[i] = bcf_init1();
		n->cap = c;
	}
	bcf1_t *b = n->out[n->nout++];
	bcf_clear(b);
	return b;
}

static int fail_rec(struct vnorm *n, sl_err *err, const char *what, const char *tag)
{
	return sl_fail(err, SL_E_FORMAT, "record %llu: %s%s%s", (unsigned long long)n->nrec, what,
		       tag ? " " : "", tag ? tag : "");
}

/* ---- splitting ---- */

static int gt_index(int a, int b) /* VCF genotype order, a <= b */
{
	return b * (b + 1) / 2 + a;
}

/* The i-th comma-separated field of s[0..len) (stops at NUL): its start and
 * length, or -1. */
static int nth_field(const char *s, size_t len, int i, size_t *start, size_t *flen)
{
	size_t p = 0, b = 0;
	int k = 0;
	for (;; p++) {
		int end = p == len || s[p] == 0;
		if (end || s[p] == ',') {
			if (k == i) {
				*start = b;
				*flen = p - b;
				return 0;
			}
			if (end)
				return -1;
			k++;
			b = p + 1;
		}
	}
}

static int count_fields(const char *s, size_t len)
{
	int k = 1;
	for (size_t p = 0; p < len && s[p]; p++)
		k += s[p] == ',';
	return k;
}

/* Append to out the fields idx[0..nidx) of s, comma-separated; -1 when one is missing. */
static int pick_fields(const char *s, size_t len, const int *idx, int nidx, kstring_t *out)
{
	for (int j = 0; j < nidx; j++) {
		size_t b, l;
		if (nth_field(s, len, idx[j], &b, &l) < 0)
			return -1;
		if (j)
			kputc(',', out);
		kputsn(s + b, l, out);
	}
	return 0;
}

static int split_info(struct vnorm *n, bcf1_t *src, bcf_info_t *info, int ialt, bcf1_t *dst,
		      sl_err *err)
{
	bcf_hdr_t *h = n->hdr;
	const char *tag = bcf_hdr_int2id(h, BCF_DT_ID, info->key);
	int type = bcf_hdr_id2type(h, BCF_HL_INFO, info->key);
	int vl = bcf_hdr_id2length(h, BCF_HL_INFO, info->key);
	int nal = src->n_allele, a = ialt + 1;
	if (type == BCF_HT_FLAG)
		return bcf_update_info_flag(h, dst, tag, NULL, 1) < 0 ? -1 : 0;
	if (type == BCF_HT_STR) {
		int got = bcf_get_info_string(h, src, tag, &n->carr, &n->ncarr);
		if (got < 0)
			return fail_rec(n, err, "unreadable INFO field", tag);
		const char *s = n->carr;
		n->ks.l = 0;
		int idx[3], nidx = 0;
		if (vl == BCF_VL_A)
			idx[0] = ialt, nidx = 1;
		else if (vl == BCF_VL_R)
			idx[0] = 0, idx[1] = a, nidx = 2;
		else if (vl == BCF_VL_G)
			idx[0] = 0, idx[1] = gt_index(0, a), idx[2] = gt_index(a, a), nidx = 3;
		if (!nidx) {
			kputsn(s, (size_t)got, &n->ks);
		} else if (pick_fields(s, (size_t)got, idx, nidx, &n->ks) < 0) {
			return 0; /* too few values: the field is left out */
		}
		return bcf_update_info_string(h, dst, tag, n->ks.s) < 0 ? -1 : 0;
	}
	int ht = type == BCF_HT_REAL ? BCF_HT_REAL : BCF_HT_INT;
	int got = bcf_get_info_values(h, src, tag, &n->arr, &n->narr, ht);
	if (got < 0)
		return fail_rec(n, err, "unreadable INFO field", tag);
	int32_t *v = n->arr; /* int32 and float are both 4 bytes: values are moved, not read */
	int want = vl == BCF_VL_A ? nal - 1 : vl == BCF_VL_R ? nal : vl == BCF_VL_G ? nal * (nal + 1) / 2
		 : -1;
	if (want >= 0 && got != want)
		return fail_rec(n, err, "wrong number of values (for its Number) in INFO field", tag);
	int k = got;
	if (vl == BCF_VL_A) {
		v[0] = v[ialt];
		k = 1;
	} else if (vl == BCF_VL_R) {
		v[1] = v[a];
		k = 2;
	} else if (vl == BCF_VL_G) {
		int32_t x = v[gt_index(0, a)], y = v[gt_index(a, a)];
		v[1] = x;
		v[2] = y;
		k = 3;
	}
	return bcf_update_info(h, dst, tag, v, k, ht) < 0 ? -1 : 0;
}

static int split_gt(struct vnorm *n, bcf1_t *src, int ialt, bcf1_t *dst)
{
	int got = bcf_get_genotypes(n->hdr, src, &n->arr, &n->narr);
	int ns = bcf_hdr_nsamples(n->hdr);
	if (got <= 0 || ns == 0)
		return 0;
	int32_t *g = n->arr;
	int ploidy = got / ns;
	for (int i = 0; i < got; i++) {
		if (g[i] == bcf_int32_vector_end || bcf_gt_is_missing(g[i]) || bcf_gt_allele(g[i]) == 0)
			continue;
		int phased = bcf_gt_is_phased(g[i]);
		g[i] = (bcf_gt_allele(g[i]) == ialt + 1 ? bcf_gt_unphased(1) : bcf_gt_unphased(0)) | phased;
	}
	return bcf_update_genotypes(n->hdr, dst, g, ploidy * ns) < 0 ? -1 : 0;
}

static int is_vend(const int32_t *p, int ht)
{
	return ht == BCF_HT_REAL ? bcf_float_is_vector_end(*(const float *)p) : *p == bcf_int32_vector_end;
}

static int split_fmt_numeric(struct vnorm *n, bcf1_t *src, const char *tag, int vl, int ht,
			     int ialt, bcf1_t *dst, sl_err *err)
{
	bcf_hdr_t *h = n->hdr;
	int ns = bcf_hdr_nsamples(h), nal = src->n_allele, a = ialt + 1;
	int got = bcf_get_format_values(h, src, tag, &n->arr, &n->narr, ht);
	if (got < 0)
		return fail_rec(n, err, "unreadable FORMAT field", tag);
	int32_t *v = n->arr;
	if (got == ns || (vl != BCF_VL_A && vl != BCF_VL_R && vl != BCF_VL_G))
		return bcf_update_format(h, dst, tag, v, got, ht) < 0 ? -1 : 0;
	int per = got / ns, ng = nal * (nal + 1) / 2;
	if ((vl == BCF_VL_A && got != (nal - 1) * ns) || (vl == BCF_VL_R && got != nal * ns) ||
	    (vl == BCF_VL_G && got != ng * ns && got != nal * ns))
		return fail_rec(n, err, "wrong number of values (for its Number) in FORMAT field", tag);
	int outper = vl == BCF_VL_A ? 1 : vl == BCF_VL_R ? 2 : per == nal ? 2 : 3;
	int32_t *o = sl_xmalloc((size_t)ns * (size_t)outper * sizeof *o);
	for (int s = 0; s < ns; s++) {
		int32_t *sv = v + (size_t)s * per, *ov = o + (size_t)s * outper;
		if (vl == BCF_VL_A) {
			ov[0] = sv[ialt];
		} else if (vl == BCF_VL_R) {
			ov[0] = sv[0];
			ov[1] = sv[a];
		} else if (outper == 2) { /* every sample haploid */
			ov[0] = sv[0];
			ov[1] = sv[a];
		} else {
			int hap = 0;
			for (int j = 0; j < per && !hap; j++)
				hap = is_vend(&sv[j], ht);
			ov[0] = sv[0];
			if (hap) {
				ov[1] = sv[a];
				if (ht == BCF_HT_REAL)
					bcf_float_set_vector_end(*(float *)&ov[2]);
				else
					ov[2] = bcf_int32_vector_end;
			} else {
				ov[1] = sv[gt_index(0, a)];
				ov[2] = sv[gt_index(a, a)];
			}
		}
	}
	int rc = bcf_update_format(h, dst, tag, o, ns * outper, ht) < 0 ? -1 : 0;
	free(o);
	return rc;
}

static int split_fmt_string(struct vnorm *n, bcf1_t *src, const char *tag, int vl, int ialt,
			    bcf1_t *dst, sl_err *err)
{
	bcf_hdr_t *h = n->hdr;
	int ns = bcf_hdr_nsamples(h), nal = src->n_allele, a = ialt + 1;
	int got = bcf_get_format_char(h, src, tag, &n->carr, &n->ncarr);
	if (got == 0)
		return 0;
	if (got < 0 || ns == 0)
		return fail_rec(n, err, "unreadable FORMAT field", tag);
	const char *s = n->carr;
	if (vl != BCF_VL_A && vl != BCF_VL_R && vl != BCF_VL_G)
		return bcf_update_format_char(h, dst, tag, s, got) < 0 ? -1 : 0;
	size_t blen = (size_t)got / (size_t)ns, maxlen = 0;
	/* each sample's new string, NUL-separated in ks2 */
	n->ks2.l = 0;
	size_t *off = sl_xmalloc((size_t)ns * sizeof *off);
	for (int i = 0; i < ns; i++) {
		const char *p = s + (size_t)i * blen;
		int idx[3], nidx;
		int nf = count_fields(p, blen);
		if (!p[0] || (p[0] == '.' && (blen == 1 || p[1] == 0)))
			idx[0] = 0, nidx = 1; /* a missing value stays missing */
		else if (vl == BCF_VL_A)
			idx[0] = ialt, nidx = 1;
		else if (vl == BCF_VL_R)
			idx[0] = 0, idx[1] = a, nidx = 2;
		else if (nf == nal)
			idx[0] = 0, idx[1] = a, nidx = 2;
		else if (nf == nal * (nal + 1) / 2)
			idx[0] = 0, idx[1] = gt_index(0, a), idx[2] = gt_index(a, a), nidx = 3;
		else {
			free(off);
			return fail_rec(n, err, "wrong number of values (for its Number) in FORMAT field", tag);
		}
		off[i] = n->ks2.l;
		n->ks.l = 0;
		if (pick_fields(p, blen, idx, nidx, &n->ks) < 0) {
			free(off);
			return 0; /* too few values: the field is left out */
		}
		if (!n->ks.l)
			kputc('.', &n->ks);
		kputsn(n->ks.s, n->ks.l, &n->ks2);
		kputc(0, &n->ks2);
		if (n->ks.l > maxlen)
			maxlen = n->ks.l;
	}
	if (maxlen == 0)
		maxlen = 1;
	char *o = sl_xcalloc((size_t)ns, maxlen);
	for (int i = 0; i < ns; i++)
		memcpy(o + (size_t)i * maxlen, n->ks2.s + off[i], strlen(n->ks2.s + off[i]));
	int rc = bcf_update_format_char(h, dst, tag, o, ns * (int)maxlen) < 0 ? -1 : 0;
	free(o);
	free(off);
	return rc;
}

static int split(struct vnorm *n, bcf1_t *src, sl_err *err)
{
	bcf_hdr_t *h = n->hdr;
	bcf_unpack(src, BCF_UN_ALL);
	int gt_id = bcf_hdr_id2int(h, BCF_DT_ID, "GT");
	for (int ialt = 0; ialt < src->n_allele - 1; ialt++) {
		bcf1_t *dst = slot(n);
		dst->rid = src->rid;
		dst->pos = src->pos;
		dst->qual = src->qual;
		int rc = bcf_update_id(h, dst, src->d.id ? src->d.id : ".");
		n->ks.l = 0;
		kputs(src->d.allele[0], &n->ks);
		kputc(',', &n->ks);
		kputs(src->d.allele[ialt + 1], &n->ks);
		if (rc == 0)
			rc = bcf_update_alleles_str(h, dst, n->ks.s);
		if (rc == 0 && src->d.n_flt)
			rc = bcf_update_filter(h, dst, src->d.flt, src->d.n_flt);
		for (int j = 0; rc == 0 && j < src->n_info; j++)
			if (src->d.info[j].vptr) /* removed fields have none */
				rc = split_info(n, src, &src->d.info[j], ialt, dst, err);
		dst->n_sample = src->n_sample;
		for (int j = 0; rc == 0 && j < src->n_fmt; j++) {
			bcf_fmt_t *f = &src->d.fmt[j];
			if (!f->p)
				continue;
			const char *tag = bcf_hdr_int2id(h, BCF_DT_ID, f->id);
			int type = bcf_hdr_id2type(h, BCF_HL_FMT, f->id);
			int vl = bcf_hdr_id2length(h, BCF_HL_FMT, f->id);
			if (f->id == gt_id)
				rc = split_gt(n, src, ialt, dst);
			else if (type == BCF_HT_INT || type == BCF_HT_REAL)
				rc = split_fmt_numeric(n, src, tag, vl, type, ialt, dst, err);
			else
				rc = split_fmt_string(n, src, tag, vl, ialt, dst, err);
		}
		if (rc < 0)
			return err->code ? -err->code : fail_rec(n, err, "cannot be split", NULL);
	}
	return 0;
}

/* ---- REF check, trimming, left alignment ---- */

enum { R_OK, R_MISMATCH, R_DUP };

/* A table: this runs over every reference base a window holds. */
static const unsigned char base_ok[256] = {
	['A'] = 1, ['C'] = 1, ['G'] = 1, ['T'] = 1, ['N'] = 1,
	['a'] = 1, ['c'] = 1, ['g'] = 1, ['t'] = 1, ['n'] = 1,
};

static int acgtn(int c)
{
	return base_ok[(unsigned char)c];
}

static int all_acgtn(const char *s)
{
	for (; *s; s++)
		if (!acgtn((unsigned char)*s))
			return 0;
	return 1;
}

/* Reference windows: a long one when records move forward along a contig
 * (sorted or partly sorted input: one fetch serves many records), a short
 * one after a jump, so that input in no order costs about one small fetch
 * a record, as fetching each REF alone did. */
#define WIN_LONG (64 << 10)
#define WIN_SHORT 512

/* The reference's number for header contig rid, looked up once; -1: read
 * through faidx. */
static int ref_index(struct vnorm *n, int rid, const char *ctg)
{
	if (!n->ref || rid < 0)
		return -1;
	if (rid >= n->nrefidx) {
		int m = rid + 16;
		n->refidx = sl_xrealloc(n->refidx, (size_t)m * sizeof *n->refidx);
		for (int i = n->nrefidx; i < m; i++)
			n->refidx[i] = -2;
		n->nrefidx = m;
	}
	if (n->refidx[rid] == -2)
		n->refidx[rid] = sl_ref_find(n->ref, ctg);
	return n->refidx[rid];
}

/* Bases [start, end) of the contig into the window buffer. */
static int fetch(struct vnorm *n, int k, const char *ctg, hts_pos_t start, hts_pos_t end)
{
	hts_pos_t len = end - start;
	if (k >= 0 && len > n->win_cap) {
		free(n->win);
		n->win_cap = len > WIN_LONG ? len : WIN_LONG;
		n->win = sl_xmalloc((size_t)n->win_cap);
	}
	if (k >= 0 && sl_ref_read(n->ref, k, start, end, n->win) == 0)
		return 0;
	hts_pos_t got = 0;
	char *s = faidx_fetch_seq64(n->fai, ctg, start, end - 1, &got);
	if (!s || got != len) {
		free(s);
		return -1;
	}
	free(n->win);
	n->win = s;
	n->win_cap = len;
	return 0;
}

static int load_window(struct vnorm *n, int rid, hts_pos_t beg, hts_pos_t len)
{
	const char *ctg = bcf_hdr_id2name(n->hdr, rid);
	int same = n->win_end > 0 && rid == n->win_rid; /* a window is there */
	int fwd = same && beg >= n->win_beg && beg < n->win_end + WIN_LONG;
	int k = ref_index(n, rid, ctg);
	hts_pos_t clen = same ? n->ctg_len : k >= 0 ? n->ref->contigs[k].len : faidx_seq_len(n->fai, ctg);
	if (clen < 0 || beg + len > clen)
		return -1;
	hts_pos_t size = fwd ? WIN_LONG : WIN_SHORT;
	hts_pos_t start = beg - (fwd ? 0 : size / 4); /* padding reaches left */
	start = start < 0 ? 0 : start;
	hts_pos_t end = start + size > beg + len ? start + size : beg + len;
	end = end > clen ? clen : end;
	n->win_beg = n->win_end = 0;
	if (fetch(n, k, ctg, start, end) < 0)
		return -1;
	for (hts_pos_t i = 0; i < end - start; i++)
		if (!acgtn((unsigned char)n->win[i]))
			n->win[i] = 'N';
	n->win_rid = rid;
	n->win_beg = start;
	n->win_end = end;
	n->ctg_len = clen;
	return 0;
}

/* The reference from beg for len bases (other than ACGTN as N, case kept
 * otherwise), not NUL-terminated, valid until the next call; NULL past the
 * contig's end. */
static const char *ref_at(struct vnorm *n, int rid, hts_pos_t beg, hts_pos_t len)
{
	if (beg < 0 || len <= 0)
		return NULL;
	if ((n->win_rid != rid || beg < n->win_beg || beg + len > n->win_end) &&
	    load_window(n, rid, beg, len) < 0)
		return NULL;
	return n->win + (beg - n->win_beg);
}

static int realign(struct vnorm *n, bcf1_t *b)
{
	bcf_unpack(b, BCF_UN_STR);
	if (b->n_allele < 1) /* a BCF record may declare none: no allele array */
		return R_MISMATCH;
	const char *ref = b->d.allele[0];
	size_t reflen = strlen(ref);
	if (!reflen)
		return R_MISMATCH;
	const char *seq = ref_at(n, b->rid, b->pos, (hts_pos_t)reflen);
	if (!seq || !all_acgtn(ref) || strncasecmp(seq, ref, reflen))
		return R_MISMATCH;
	if (b->n_allele == 1) {
		if (reflen > 1) { /* a reference-only record keeps one base */
			char one[2] = {ref[0], 0};
			const char *al[1] = {one};
			bcf_update_alleles(n->hdr, b, al, 1);
		}
		return R_OK;
	}
	if (bcf_get_variant_types(b) == VCF_BND)
		return R_OK;
	int na = b->n_allele;
	kstring_t *als = sl_xcalloc((size_t)na, sizeof *als);
	int rc = R_OK;
	for (int i = 0; i < na && rc == R_OK; i++) {
		const char *s = b->d.allele[i];
		if (s[0] == '<' || s[0] == '*') {
			rc = -1; /* symbolic or spanning deletion: left as is */
			break;
		}
		if (!all_acgtn(s)) {
			rc = R_MISMATCH;
			break;
		}
		kputs(s, &als[i]);
		for (size_t j = 0; j < als[i].l; j++)
			als[i].s[j] = (char)toupper((unsigned char)als[i].s[j]);
		if (i > 0 && !strcmp(als[i].s, als[0].s))
			rc = R_DUP;
	}
	hts_pos_t pos = b->pos;
	/* right: trim a base all alleles end with; pad from the left when one runs out */
	while (rc == R_OK) {
		size_t minlen = als[0].l;
		int same = 1;
		char last = (char)toupper((unsigned char)als[0].s[als[0].l - 1]);
		for (int i = 1; i < na && same; i++) {
			same = toupper((unsigned char)als[i].s[als[i].l - 1]) == last;
			if (als[i].l < minlen)
				minlen = als[i].l;
		}
		if (!same || (minlen <= 1 && pos == 0))
			break;
		int empty = 0;
		for (int i = 0; i < na; i++)
			empty |= --als[i].l == 0;
		if (!empty)
			continue;
		hts_pos_t pad = pos >= PAD_WINDOW ? PAD_WINDOW : pos;
		const char *left = ref_at(n, b->rid, pos - pad, pad);
		if (!left) {
			rc = R_MISMATCH;
			break;
		}
		for (int i = 0; i < na; i++) {
			ks_resize(&als[i], als[i].l + (size_t)pad + 1);
			memmove(als[i].s + pad, als[i].s, als[i].l);
			memcpy(als[i].s, left, (size_t)pad);
			als[i].l += (size_t)pad;
		}
		pos -= pad;
	}
	/* left: drop a first base all alleles share while each keeps one */
	size_t cut = 0;
	while (rc == R_OK) {
		int same = 1;
		size_t minlen = als[0].l - cut;
		for (int i = 1; i < na && same; i++) {
			same = als[i].s[cut] == als[0].s[cut];
			if (als[i].l - cut < minlen)
				minlen = als[i].l - cut;
		}
		if (!same || minlen <= 1)
			break;
		cut++;
	}
	if (rc == R_OK) {
		pos += (hts_pos_t)cut;
		n->ks.l = 0;
		for (int i = 0; i < na; i++) {
			if (i)
				kputc(',', &n->ks);
			kputsn(als[i].s + cut, als[i].l - cut, &n->ks);
		}
		size_t newref = als[0].l - cut;
		int changed = pos != b->pos || newref != reflen ||
			      strncasecmp(b->d.allele[0], als[0].s + cut, newref);
		if (changed) {
			n->nrealigned++;
			bcf_update_alleles_str(n->hdr, b, n->ks.s);
			int32_t *end = NULL;
			int nend = 0;
			if ((pos != b->pos || newref != reflen) &&
			    bcf_get_info_int32(n->hdr, b, "END", &end, &nend) == 1) {
				b->pos = pos;
				end[0] = (int32_t)(pos + (hts_pos_t)newref);
				bcf_update_info_int32(n->hdr, b, "END", end, 1);
			}
			free(end);
			b->pos = pos;
		}
	}
	for (int i = 0; i < na; i++)
		free(als[i].s);
	free(als);
	return rc < 0 ? R_OK : rc;
}

int vnorm_record(struct vnorm *n, bcf1_t *rec, sl_err *err)
{
	n->nout = 0;
	n->nrec++;
	int rc;
	if (rec->n_allele == 0) /* a line cut before its REF column: htslib parses it */
		return fail_rec(n, err, "the line is cut short (no REF)", NULL);
	if (n->split && rec->n_allele > 2) {
		n->nsplit++;
		if ((rc = split(n, rec, err)) < 0)
			return rc;
	} else {
		bcf1_t *b = slot(n);
		if (!bcf_copy(b, rec))
			return fail_rec(n, err, "cannot be copied", NULL);
	}
	if (!n->fai)
		return 0;
	size_t k = 0;
	for (size_t i = 0; i < n->nout; i++) {
		int r = realign(n, n->out[i]);
		if (r == R_MISMATCH && n->exclude_mismatch) {
			n->nexcluded++;
			continue;
		}
		if (r == R_MISMATCH)
			return fail_rec(n, err, "REF does not match the reference (or an allele has "
					"bases other than ACGTN); --vcf-ref-mismatch exclude drops such "
					"records", NULL);
		if (r == R_DUP && !n->exclude_mismatch)
			return fail_rec(n, err, "an ALT allele repeats REF", NULL);
		if (k != i) {
			bcf1_t *t = n->out[k];
			n->out[k] = n->out[i];
			n->out[i] = t;
		}
		k++;
	}
	n->nout = k;
	return 0;
}

void vnorm_free(struct vnorm *n)
{
	for (size_t i = 0; i < n->cap; i++)
		bcf_destroy1(n->out[i]);
	free(n->out);
	free(n->arr);
	free(n->carr);
	free(n->ks.s);
	free(n->ks2.s);
	free(n->win);
	free(n->refidx);
}
