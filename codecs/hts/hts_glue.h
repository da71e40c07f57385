/*
 * hts_glue.h: what the genomics formats (codecs/vcf, codecs/reads) share
 * around htslib: process-wide settings that keep htslib off the network and
 * quiet, an hFILE that reads an sl_input (htslib never sees a path), the
 * operator's reference (faidx, contig lengths and MD5s), and scratch files
 * copied into output objects.
 */
#ifndef SL_HTS_GLUE_H
#define SL_HTS_GLUE_H

#include <pthread.h>
#include <stdint.h>
#include <htslib/faidx.h>
#include <htslib/hfile.h>
#include <htslib/thread_pool.h>
#include "../format.h"

/* Once per process, from configure (the main thread, before workers):
 * htslib logging off (its messages can quote input values; formats return
 * errors instead), REF_PATH/REF_CACHE pinned to a local path that cannot
 * exist (no EBI or header-URL reference lookups). */
void sl_hts_setup(void);

/* ---- input ---- */

/* An hFILE over an sl_input: a thread feeds the input's chunks into a
 * socket pair whose other end htslib reads.  sl_hts_in_finish joins the
 * thread (close the hFILE, or the htsFile holding it, first) and returns
 * the feeder's error, if any (a read error of the input). */
struct sl_hts_in;
int sl_hts_in_open(struct sl_hts_in **out, sl_input *in, hFILE **hf, sl_err *err);
/* The same over the input from its start again, read with sl_input_pread
 * (for a format that must take a second pass; after sl_hts_in_finish of
 * the first). */
int sl_hts_in_reopen(struct sl_hts_in **out, sl_input *in, hFILE **hf, sl_err *err);
int sl_hts_in_finish(struct sl_hts_in *h, sl_err *err);

/* 0, or a rejection when a BGZF input (BAM, bgzipped VCF/SAM) lacks its
 * end-of-file block: a file cut at a block boundary still decompresses,
 * and that block's absence is how the cut shows.  Plain text passes. */
int sl_hts_check_bgzf_end(sl_input *in, sl_err *err);

/* ---- the reference ---- */

struct sl_ref_contig {
	char *name;
	int64_t len;
	char md5[33];            /* "" until computed */
	int64_t off;             /* the .fai's layout: first base's byte, */
	int64_t blen, llen;      /* bases and bytes a line */
};

/* Shared by every transform of a run (configured once, read by workers);
 * contig MD5s are computed on first use under the lock. */
struct sl_ref {
	char *path;
	char sha256[65];
	struct sl_ref_contig *contigs;
	size_t ncontigs;
	pthread_mutex_t mu;
	int loaded;
	char *load_error;        /* why the reference is unusable, or NULL */
	int fd;                  /* the FASTA for sl_ref_read; -1: bgzipped, use faidx */
	/* A FASTA with no index beside it (samtools and bcftools build one
	 * there; we never write beside the operator's file, which may be
	 * read-only or shared): htslib's own index, built once per process
	 * into memory files, for faidx as "/proc/self/fd/N" names. */
	int built;               /* 1: the fds below are ours */
	int fai_fd, gzi_fd;      /* the .fai and .gzi (empty for a plain FASTA) */
	int fasta_fd;            /* the FASTA, for the view htslib's CRAM code opens */
	int gzip;                /* the FASTA is (BGZF-)compressed */
};

/* Parse the index (via htslib) once, building it in memory when the FASTA
 * has none beside it; 0 or <0 with err. */
int sl_ref_load(struct sl_ref *r, sl_err *err);
void sl_ref_free(struct sl_ref *r);
/* A faidx handle of one's own (faidx is not thread-safe). */
faidx_t *sl_ref_open_fai(const struct sl_ref *r, sl_err *err);
/* The name to give htslib's CRAM reader and writer (hts_set_fai_filename),
 * which open NAME.fai and NAME.gzi beside NAME themselves: the FASTA's own
 * path when its index is there, or else "DIR/ref.fa" in a view of the
 * input (sl_input_view: ref.fa, ref.fa.fai and ref.fa.gzi linked to our
 * descriptors; removed when the transform returns).  *name is the
 * caller's to free. */
int sl_ref_cram_name(const struct sl_ref *r, sl_input *in, char **name, sl_err *err);
/* Index of a contig by name, or -1. */
int sl_ref_find(const struct sl_ref *r, const char *name);
/* Bases [beg, end) of contig i into out (end - beg bytes, as the FASTA
 * has them: case kept, no line breaks), read with one pread by the .fai's
 * layout; thread-safe.  0, or -1 when the FASTA is bgzipped or the bytes
 * are not there (then faidx decides). */
int sl_ref_read(const struct sl_ref *r, int i, int64_t beg, int64_t end, char *out);
/* The contig's MD5 (of its upper-case sequence, as the SAM and VCF specs
 * define it), computed with fai on first use. */
const char *sl_ref_md5(struct sl_ref *r, faidx_t *fai, int i, sl_err *err);

/* Index a reference `sluice export` has written (struct sl_format's
 * index_reference): htslib's fai_build3, the .fai to fai and, for a BGZF
 * FASTA, the .gzi to gzi. */
int sl_hts_index_reference(const char *fasta, const char *fai, const char *gzi, sl_err *err);

/* ---- threads ---- */

/* An htslib thread pool made by the first input that asks for one and
 * shared by every input of the run (formats are configured once; workers
 * then call get).  threads: the option's value, <0 for the format's
 * default, 0 for none. */
struct sl_hts_pool {
	pthread_mutex_t mu;
	int tried;
	int threads;
	htsThreadPool pool;
};

void sl_hts_pool_init(struct sl_hts_pool *p);
/* The pool, or NULL for none; dflt: the size when threads < 0. */
htsThreadPool *sl_hts_pool_get(struct sl_hts_pool *p, int dflt);
void sl_hts_pool_free(struct sl_hts_pool *p);

/* ---- libraries ---- */

/* What a genomics format links (htslib, and zlib under it), for its
 * struct sl_format's libraries. */
extern const struct sl_format_library sl_hts_libraries[];

/* ---- scratch ---- */

/* "/proc/self/fd/N": the only name htslib is given for a file it must
 * open itself (an index it saves). */
void sl_fd_name(char out[40], int fd);
/* Copy a scratch file from its start into a new object. */
int sl_copy_to_sink(int fd, sl_sink *s, const char *role, const char *media,
		    uint8_t digest[32], sl_err *err);

#endif
