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
#include <htslib/thread_pool.h>
#include "../../common/sl_common.h"

/* ---- norm.c ---- */

struct sl_ref;

struct vnorm {
	bcf_hdr_t *hdr;          /* the input's header: fields are looked up here */
	faidx_t *fai;            /* NULL: no REF check, no realignment */
	const struct sl_ref *ref; /* read windows by pread where it can (may be NULL) */
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
	/* a window of the reference, bases other than ACGTN as N: records come
	 * mostly in order, and a faidx fetch per record (a seek, a read, a
	 * malloc) cost more than normalising */
	char *win;
	int win_rid;             /* the window is [win_beg, win_end) of contig win_rid */
	hts_pos_t win_beg, win_end, win_cap, ctg_len;
	int *refidx;             /* header contig id -> ref contig (-1: none, -2: not looked up) */
	int nrefidx;
};

/* Normalise one input record into n->out[0..nout).  Returns 0, or <0 with
 * err saying why the input cannot be normalised (no values from it). */
int vnorm_record(struct vnorm *n, bcf1_t *rec, sl_err *err);
void vnorm_free(struct vnorm *n);

/* ---- blob.c ---- */

/* A record as the sorter holds it: this header, the sort key (klen bytes),
 * the encoded shared (slen) and per-sample (ilen) parts, zero padding to
 * `size`, a multiple of 8.  No pointers: blobs are copied and spilled as
 * they are. */
struct vblob {
	int64_t pos, rlen;
	int32_t rid;
	float qual;
	uint32_t n_info, n_allele, n_fmt, n_sample;
	uint32_t klen, slen, ilen, size;
};

/* The size rec's blob takes, rec's encoded bytes brought up to date (tmp:
 * scratch) for vblob_write. */
size_t vblob_prepare(bcf1_t *rec, bcf1_t *tmp);
void vblob_write(struct vblob *b, const bcf1_t *rec, size_t size);
/* The order of the alleles (REF, then each ALT) without case. */
int vblob_cmp_alleles(const struct vblob *a, const struct vblob *b);
/* The record back, as a copy of it would be. */
void vblob_read(const struct vblob *b, bcf1_t *out);

/* ---- sort.c ---- */

/* Records in (contig, position, REF, ALT, input order) order, the order of
 * `bcftools sort` with ties kept in input order.  Memory is bounded by
 * `limit` bytes of records; beyond that sorted runs go to scratch files
 * (scratch() returns a new descriptor, or <0 with err set). */
struct vsort;
struct vsort *vsort_new(size_t limit, int (*scratch)(void *ctx, sl_err *err), void *ctx);
/* Takes a copy of rec. */
int vsort_push(struct vsort *s, bcf_hdr_t *hdr, bcf1_t *rec, sl_err *err);
/* Takes blobs laid end to end in buf[0..len) (malloc'd, cap bytes, owned by
 * the sorter from now on, even on error). */
int vsort_push_blobs(struct vsort *s, bcf_hdr_t *hdr, char *buf, size_t len, size_t cap,
		     sl_err *err);
/* After the last push: then vsort_next gives the records in order (1), 0 at
 * the end; *rec is owned by the sorter and valid until the next call. */
int vsort_finish(struct vsort *s, bcf_hdr_t *hdr, sl_err *err);
int vsort_next(struct vsort *s, bcf_hdr_t *hdr, bcf1_t **rec, sl_err *err);
/* Runs written (each spill counts, also those merged early). */
uint64_t vsort_runs(const struct vsort *s);
void vsort_free(struct vsort *s);

/* ---- bgzf_out.c ---- */

/* A BGZF writer with htslib's bytes at BGZF level `level` (1-9) whose
 * blocks are compressed on a pool (NULL: on the caller's thread), and an
 * on-the-fly index. */
struct vbgz;
/* Where the blocks go, in file order: 0, or <0 with err. */
typedef int (*vbgz_write_fn)(void *ctx, const void *p, size_t n, sl_err *err);
struct vbgz *vbgz_new(vbgz_write_fn out, void *ctx, htsThreadPool *pool, int level);
/* A vbgz_write_fn to a file descriptor (ctx: an int *). */
int vbgz_to_fd(void *ctx, const void *p, size_t n, sl_err *err);
/* bgzf_write and bgzf_flush_try: where blocks are cut decides the bytes. */
int vbgz_write(struct vbgz *w, const void *p, size_t n, sl_err *err);
int vbgz_flush_try(struct vbgz *w, size_t n, sl_err *err);
int vbgz_flush(struct vbgz *w, sl_err *err);
/* Flush and wait until everything is in the file; *voff: where it ends. */
int vbgz_sync(struct vbgz *w, uint64_t *voff, sl_err *err);
/* The index htslib's bcf_idx_init starts for a VCF whose header ends at
 * off0: TBI (csi_shift 0) or CSI. */
hts_idx_t *vbgz_vcf_index(const bcf_hdr_t *h, int csi_shift, uint64_t off0);
/* Index entries go to idx (hts_idx_push) as their offsets become known. */
void vbgz_set_index(struct vbgz *w, hts_idx_t *idx);
/* The record just written: [beg, end) of tid, ending at the current offset. */
int vbgz_index(struct vbgz *w, int tid, hts_pos_t beg, hts_pos_t end, sl_err *err);
/* After the last record: flush, push every entry (the last one ending at
 * the end, as bcf_idx_save has it); *voff for hts_idx_finish. */
int vbgz_finish(struct vbgz *w, uint64_t *voff, sl_err *err);
/* The end-of-file block. */
int vbgz_close(struct vbgz *w, sl_err *err);
void vbgz_free(struct vbgz *w);

#endif
