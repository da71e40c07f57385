/*
 * reads_impl.h: the parts of the reads format (codecs/reads) that stand on
 * their own: the external sort, and the check of a CRAM's structure.
 */
#ifndef SL_READS_IMPL_H
#define SL_READS_IMPL_H

#include <stdint.h>
#include <htslib/sam.h>
#include "../../common/sl_common.h"
#include "../format.h"

/* Reads in (contig, position, strand, input order) order: unplaced reads
 * last, forward before reverse at one position, the order of `samtools
 * sort` (which also keeps ties in input order).  Memory is bounded by
 * `limit` bytes of reads; beyond that sorted runs go to scratch files
 * (scratch() returns a new descriptor, or <0 with err set). */
struct rsort;
/* A read's place in that order, bar its input order (the streaming path
 * checks input order against it). */
struct rkey {
	uint32_t tid;            /* unsigned: unplaced (-1) sorts last */
	uint32_t rev;
	int64_t pos;
};
void rkey_of(struct rkey *k, const bam1_t *b);
int rkey_cmp(const struct rkey *a, const struct rkey *b);
struct rsort *rsort_new(size_t limit, int (*scratch)(void *ctx, sl_err *err), void *ctx);
/* Takes a copy of b. */
int rsort_push(struct rsort *s, const bam1_t *b, sl_err *err);
/* After the last push: then rsort_next gives the reads in order (1), 0 at
 * the end; *b is owned by the sorter and valid until the next call. */
int rsort_finish(struct rsort *s, sl_err *err);
int rsort_next(struct rsort *s, bam1_t **b, sl_err *err);
/* How many sorted runs were spilled (0: sorted in memory). */
uint64_t rsort_runs(const struct rsort *s);
void rsort_free(struct rsort *s);

/* cram_check.c: 0 if the input is not a CRAM or its containers and
 * compression headers hold what they declare; else the reason in err. */
int cram_check_structure(sl_input *in, sl_err *err);

#endif
