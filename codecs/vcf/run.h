/*
 * run.h: one VCF/BCF transform's state, shared by vcf.c (the format, the
 * header, the output) and read.c (reading and normalising records, on the
 * pool's threads where it can).
 */
#ifndef SL_VCF_RUN_H
#define SL_VCF_RUN_H

#include "vcf_impl.h"
#include "../hts/hts_glue.h"
#include <pthread.h>

struct vconf;

struct hstats {
	uint64_t removed, scrubbed;  /* header lines removed, descriptions scrubbed */
};

/* What normalising a record needs, one per thread at a time.  A pool
 * thread's header is a copy: htslib adds to the header it parses with any
 * contig or tag a record names that the header lacks, so threads must not
 * share one. */
struct vwork {
	bcf_hdr_t *hdr;
	faidx_t *fai;
	struct vnorm norm;
	bcf1_t *rec, *tmp;
	kstring_t line;          /* the line being parsed (vcf_parse writes into it) */
	int own;                 /* hdr and fai are this work's own copies */
	int tainted;             /* a record changed the copy: it is unlike the run's header */
	struct vwork *next;
};

struct vrun {
	const struct vconf *c;
	const struct sl_ref *ref;
	int exclude_mismatch;
	sl_sink *out;
	htsFile *in;
	struct sl_hts_in *feed;
	htsThreadPool *pool;     /* NULL: everything on the transform's thread */
	bcf_hdr_t *hdr, *ohdr;
	faidx_t *fai;
	struct vwork main;       /* on the transform's thread, with hdr and fai */
	struct vwork *idle;      /* the pool threads' works */
	pthread_mutex_t idle_mu;
	int nwork;
	int hdr_n[3], hdr_nhrec; /* the header's size when the works were copied */
	int serial;              /* a record changed the header: no more pool threads */
	char *spare_text;        /* a batch's text buffer, for the next batch */
	size_t spare_cap;
	struct vsort *sort;
	unsigned char *ctg_ok;   /* per input contig id: 1 checked, 0 not yet */
	int nctg_ok;
	int ifd;                 /* scratch for the index (htslib saves it by name) */
	uint64_t nrec, nsplit, nrealigned, nexcluded, nout;
	struct hstats hs;
	char (*pseudo)[32];
};

/* Contig id `rid` of the input header: in the reference, with the length
 * and MD5 the header gives, if any (vcf.c; the transform's thread only). */
int vrun_check_contig(struct vrun *r, int rid, sl_err *err);

/* read.c: every record read, normalised and given to the sorter. */
int vrun_read(struct vrun *r, sl_err *err);
void vrun_works_free(struct vrun *r);

#endif
