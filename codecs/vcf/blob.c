/*
 * blob.c: a normalised record as one flat, pointer-free piece of memory (a
 * "blob"), the unit the sorter holds, spills and merges: a fixed header,
 * the sort key (the alleles, lower-cased, NUL-separated: memcmp on it
 * orders records as strcasecmp on each allele in turn does, the order of
 * `bcftools sort`), then htslib's encoded record (its shared and
 * per-sample parts, the bytes a BCF holds).  Reading a blob back gives a
 * bcf1_t equal to a copy of the record: the output bytes do not depend on
 * whether the record stayed in memory or went through a run.
 */
#include "vcf_impl.h"
#include <string.h>

static size_t key_len(const bcf1_t *rec)
{
	size_t n = rec->n_allele ? (size_t)rec->n_allele - 1 : 0;
	for (int i = 0; i < rec->n_allele; i++)
		n += strlen(rec->d.allele[i]);
	return n;
}

static size_t round8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

/* rec's encoded bytes are current: nothing edited since it was parsed or
 * read (what htslib's bcf1_sync would rebuild, it checks the same way). */
static int in_sync(const bcf1_t *rec)
{
	return rec->shared.l && !rec->d.shared_dirty && !rec->d.indiv_dirty &&
	       (rec->indiv.l || !rec->n_sample || !rec->n_fmt);
}

size_t vblob_prepare(bcf1_t *rec, bcf1_t *tmp)
{
	bcf_unpack(rec, BCF_UN_STR);
	/* bcf_copy is the public way to have an edited record encoded again
	 * (it syncs rec itself); most records are not edited, and copying
	 * them twice was a tenth of reading */
	if (!in_sync(rec))
		bcf_copy(tmp, rec);
	return round8(sizeof(struct vblob) + key_len(rec) + rec->shared.l + rec->indiv.l);
}

void vblob_write(struct vblob *b, const bcf1_t *rec, size_t size)
{
	*b = (struct vblob){.pos = rec->pos, .rlen = rec->rlen, .rid = rec->rid, .qual = rec->qual,
			    .n_info = rec->n_info, .n_allele = rec->n_allele, .n_fmt = rec->n_fmt,
			    .n_sample = rec->n_sample, .slen = (uint32_t)rec->shared.l,
			    .ilen = (uint32_t)rec->indiv.l, .size = (uint32_t)size};
	char *p = (char *)(b + 1);
	for (int i = 0; i < rec->n_allele; i++) {
		if (i)
			*p++ = 0;
		for (const char *a = rec->d.allele[i]; *a; a++) /* ASCII: not the locale's */
			*p++ = (char)(*a >= 'A' && *a <= 'Z' ? *a + 32 : *a);
	}
	b->klen = (uint32_t)(p - (char *)(b + 1));
	if (rec->shared.l) /* an empty part may have no buffer */
		memcpy(p, rec->shared.s, rec->shared.l);
	p += rec->shared.l;
	if (rec->indiv.l)
		memcpy(p, rec->indiv.s, rec->indiv.l);
	p += rec->indiv.l;
	memset(p, 0, size - (size_t)(p - (char *)b));
}

int vblob_cmp_alleles(const struct vblob *a, const struct vblob *b)
{
	size_t n = a->klen < b->klen ? a->klen : b->klen;
	int r = memcmp(a + 1, b + 1, n);
	if (r)
		return r;
	return a->klen < b->klen ? -1 : a->klen > b->klen;
}

void vblob_read(const struct vblob *b, bcf1_t *out)
{
	bcf_clear(out);
	out->rid = b->rid;
	out->pos = b->pos;
	out->rlen = b->rlen;
	out->qual = b->qual;
	out->n_info = b->n_info;
	out->n_allele = b->n_allele;
	out->n_fmt = b->n_fmt;
	out->n_sample = b->n_sample;
	const char *p = (const char *)(b + 1) + b->klen;
	kputsn(p, b->slen, &out->shared);
	kputsn(p + b->slen, b->ilen, &out->indiv);
}
