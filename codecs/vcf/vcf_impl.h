/*
 * vcf_impl.h: the parts of the VCF/BCF format (codecs/vcf) that tests
 * drive on their own: the normaliser (split, REF check, left-align and
 * trim) and the external sort.
 */
#ifndef SL_VCF_IMPL_H
#define SL_VCF_IMPL_H

#include <stdint.h>
#include <htslib/faidx.h>
#include <htslib/vcf.h>
#include "../../common/sl_common.h"

/* ---- norm.c ---- */

struct vnorm {
	bcf_hdr_t *hdr;          /* the input's header: fields are looked up here */
	faidx_t *fai;            /* NULL: no REF check, no realignment */
	int split;               /* split multiallelic records into biallelic ones */
	int exclude_mismatch;    /* REF mismatch: drop the record (counted), not fail */
	bcf1_t **out;            /* the records of the last vnorm_record, owned */
	size_t nout, cap;
	uint64_t nrec, nsplit, nrealigned, nexcluded;
	/* scratch */
	void *arr;               /* int32 or float values: narr counts values */
	int narr;
	char *carr;              /* strings: ncarr counts bytes */
	int ncarr;
	kstring_t ks, ks2;
	char *refseq;
};

/* Normalise one input record into n->out[0..nout).  Returns 0, or <0 with
 * err saying why the input cannot be normalised (no values from it). */
int vnorm_record(struct vnorm *n, bcf1_t *rec, sl_err *err);
void vnorm_free(struct vnorm *n);

/* ---- sort.c ---- */

/* Records in (contig, position, REF, ALT, input order) order, the order of
 * `bcftools sort` with ties kept in input order.  Memory is bounded by
 * `limit` bytes of records; beyond that sorted runs go to scratch files
 * (scratch() returns a new descriptor, or <0 with err set). */
struct vsort;
struct vsort *vsort_new(size_t limit, int (*scratch)(void *ctx, sl_err *err), void *ctx);
/* Takes a copy of rec. */
int vsort_push(struct vsort *s, bcf_hdr_t *hdr, bcf1_t *rec, sl_err *err);
/* After the last push: then vsort_next gives the records in order (1), 0 at
 * the end; *rec is owned by the sorter and valid until the next call. */
int vsort_finish(struct vsort *s, bcf_hdr_t *hdr, sl_err *err);
int vsort_next(struct vsort *s, bcf_hdr_t *hdr, bcf1_t **rec, sl_err *err);
uint64_t vsort_runs(const struct vsort *s);
void vsort_free(struct vsort *s);

#endif
