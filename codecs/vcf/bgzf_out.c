/*
 * bgzf_out.c: a BGZF writer that compresses blocks on a thread pool and
 * still gives the bytes of htslib's single-threaded bgzf_write, and an
 * index equal to the one htslib builds while writing a VCF.
 *
 * Why not htslib's own threaded BGZF: htslib 1.16 builds a VCF's index on
 * the fly from bgzf_tell, which is not the file position while blocks are
 * still being compressed on threads (fixed in htslib 1.19), so its index
 * would be wrong; and its bgzf_compress allocates a compressor for every
 * 64 KiB block, a fifth of the compression time.
 *
 * The bytes do not depend on the pool: blocks are cut where bgzf_write and
 * bgzf_flush_try cut them (a block holds BGZF_BLOCK_SIZE bytes, and a
 * record that would not fit in the current block starts a new one), each
 * block is compressed on its own as htslib compresses at the same BGZF
 * level (its libdeflate level for that level, raw deflate, the gzip header
 * with the BC extra field), and blocks are written in order.  Index
 * entries are virtual offsets (block address << 16 | offset in the block):
 * an entry is held until its block's address is known, and the last one
 * until the end, where it moves to the end of the file as htslib's
 * bcf_idx_save moves it.
 */
#include "vcf_impl.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <libdeflate.h>
#include <htslib/bgzf.h>
#include <htslib/tbx.h>

#define HDR_LEN 18
#define FTR_LEN 8

struct job {
	struct vbgz *w;
	size_t inlen, outlen;
	int rc;
	struct job *next;        /* free list */
	uint8_t in[BGZF_BLOCK_SIZE];
	uint8_t out[BGZF_MAX_BLOCK_SIZE];
};

struct pending {
	int tid;
	hts_pos_t beg, end;
	uint64_t block;          /* where the record ends: block number, */
	uint32_t within;         /* offset in it */
	uint64_t voff;           /* once the block's address is known */
};

struct vbgz {
	vbgz_write_fn out;       /* where finished blocks go, in order */
	void *out_ctx;
	htsThreadPool *pool;
	hts_tpool_process *q;
	int inflight;
	struct job *cur, *free_jobs;
	uint64_t nblocks;        /* blocks cut so far (cur is block nblocks) */
	uint64_t written;        /* blocks written */
	uint64_t addr;           /* file offset after the blocks written */
	int zlevel;              /* libdeflate's level */
	pthread_mutex_t zmu;     /* the compressors' free list, shared by pool threads */
	struct libdeflate_compressor **zs;
	size_t nz, capz;
	hts_idx_t *idx;
	struct pending *pend;    /* index entries waiting: pend[phead..pn), */
	size_t phead, pres, pn, pcap; /* those before pres with their voff */
};

static void put_le16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	put_le16(p, v & 0xffff);
	put_le16(p + 2, v >> 16);
}

static struct libdeflate_compressor *take_z(struct vbgz *w)
{
	pthread_mutex_lock(&w->zmu);
	struct libdeflate_compressor *z = w->nz ? w->zs[--w->nz] : NULL;
	pthread_mutex_unlock(&w->zmu);
	return z ? z : libdeflate_alloc_compressor(w->zlevel);
}

static void give_z(struct vbgz *w, struct libdeflate_compressor *z)
{
	pthread_mutex_lock(&w->zmu);
	if (w->nz == w->capz) {
		w->capz = w->capz ? 2 * w->capz : 8;
		w->zs = sl_xrealloc(w->zs, w->capz * sizeof *w->zs);
	}
	w->zs[w->nz++] = z;
	pthread_mutex_unlock(&w->zmu);
}

/* One BGZF block: gzip header with the BC field (the block size - 1), raw
 * deflate, CRC32 and length.  The layout is the SAM specification's. */
static void *compress_job(void *arg)
{
	struct job *j = arg;
	static const uint8_t head[HDR_LEN - 2] = {31, 139, 8, 4, 0, 0, 0, 0, 0, 255, 6, 0, 'B', 'C', 2, 0};
	struct libdeflate_compressor *z = take_z(j->w);
	size_t n = z ? libdeflate_deflate_compress(z, j->in, j->inlen, j->out + HDR_LEN,
						   sizeof j->out - HDR_LEN - FTR_LEN) : 0;
	if (z)
		give_z(j->w, z);
	j->rc = n ? 0 : -1;
	if (!n)
		return j;
	j->outlen = HDR_LEN + n + FTR_LEN;
	memcpy(j->out, head, sizeof head);
	put_le16(j->out + 16, (unsigned)(j->outlen - 1));
	put_le32(j->out + HDR_LEN + n, (uint32_t)libdeflate_crc32(0, j->in, j->inlen));
	put_le32(j->out + HDR_LEN + n + 4, (uint32_t)j->inlen);
	return j;
}

static struct job *new_job(struct vbgz *w)
{
	struct job *j = w->free_jobs;
	if (j)
		w->free_jobs = j->next;
	else if (!(j = malloc(sizeof *j)))
		return NULL;
	j->w = w;
	j->inlen = j->outlen = 0;
	j->rc = 0;
	j->next = NULL;
	return j;
}

/* ---- the index ---- */

/* Give the entries in the block just reached (written == its number) their
 * offsets, and push those that have one, all but the last: the next entry
 * or the end may still move it. */
static int resolve(struct vbgz *w)
{
	for (; w->pres < w->pn && w->pend[w->pres].block == w->written; w->pres++)
		w->pend[w->pres].voff = w->addr << 16 | w->pend[w->pres].within;
	for (; w->pn - w->phead > 1 && w->phead < w->pres; w->phead++) {
		const struct pending *e = &w->pend[w->phead];
		if (hts_idx_push(w->idx, e->tid, e->beg, e->end, e->voff, 1) < 0)
			return -1;
	}
	if (w->phead == w->pn)
		w->phead = w->pres = w->pn = 0;
	else if (w->phead > w->pcap / 2) {
		memmove(w->pend, w->pend + w->phead, (w->pn - w->phead) * sizeof *w->pend);
		w->pn -= w->phead, w->pres -= w->phead, w->phead = 0;
	}
	return 0;
}

/* ---- blocks out ---- */

static int emit(struct vbgz *w, struct job *j, sl_err *err)
{
	int rc = j->rc;
	if (rc < 0)
		rc = sl_fail(err, SL_E_IO, "cannot compress the output");
	else
		rc = w->out(w->out_ctx, j->out, j->outlen, err);
	j->next = w->free_jobs;
	w->free_jobs = j;
	if (rc < 0)
		return rc;
	w->addr += j->outlen;
	w->written++;
	if (w->idx && resolve(w) < 0)
		return sl_fail(err, SL_E_FORMAT, "cannot index a record");
	return 0;
}

/* Write finished blocks in order: one (waiting for it) or all that are ready. */
static int collect(struct vbgz *w, int wait, sl_err *err)
{
	while (w->inflight) {
		hts_tpool_result *r = wait ? hts_tpool_next_result_wait(w->q) : hts_tpool_next_result(w->q);
		if (!r)
			return wait ? sl_fail(err, SL_E_IO, "the compression threads stopped") : 0;
		struct job *j = hts_tpool_result_data(r);
		hts_tpool_delete_result(r, 0);
		w->inflight--;
		int rc = emit(w, j, err);
		if (rc < 0 || wait)
			return rc;
	}
	return 0;
}

static int dispatch(struct vbgz *w, struct job *j, sl_err *err)
{
	if (!w->q)
		return emit(w, compress_job(j), err);
	while (hts_tpool_dispatch2(w->pool->pool, w->q, compress_job, j, 1) < 0) {
		int rc = errno == EAGAIN && w->inflight ? collect(w, 1, err)
			 : sl_fail(err, SL_E_IO, "cannot queue a block for compression");
		if (rc < 0)
			return rc;
	}
	w->inflight++;
	return collect(w, 0, err);
}

/* End the current block, if it holds anything (bgzf_flush). */
int vbgz_flush(struct vbgz *w, sl_err *err)
{
	if (!w->cur || !w->cur->inlen)
		return 0;
	struct job *j = w->cur;
	w->cur = NULL;
	w->nblocks++;
	return dispatch(w, j, err);
}

/* Wait until every block cut so far is in the file. */
static int drain(struct vbgz *w, sl_err *err)
{
	int rc = 0;
	while (rc == 0 && w->inflight)
		rc = collect(w, 1, err);
	return rc;
}

/* ---- the index ---- */

/* The index bcf_idx_init makes for a VCF: TBI, or CSI with min_shift
 * csi_shift and levels enough for the longest contig; tabix's VCF settings as meta
 * data in both. */
hts_idx_t *vbgz_vcf_index(const bcf_hdr_t *h, int csi_shift, uint64_t off0)
{
	int min_shift = 14, n_lvls = 5, fmt = HTS_FMT_TBI;
	if (csi_shift) {
		min_shift = csi_shift;
		fmt = HTS_FMT_CSI;
		n_lvls = (TBX_MAX_SHIFT - min_shift + 2) / 3;
		int64_t longest = 0;
		for (int i = 0; i < h->n[BCF_DT_CTG]; i++)
			if (h->id[BCF_DT_CTG][i].val && (int64_t)h->id[BCF_DT_CTG][i].val->info[0] > longest)
				longest = (int64_t)h->id[BCF_DT_CTG][i].val->info[0];
		longest = (longest ? longest : (1LL << 31) - 1) + 256;
		for (int64_t span = 1LL << (min_shift + 3 * n_lvls); longest > span; span <<= 3)
			n_lvls++;
	}
	hts_idx_t *idx = hts_idx_init(0, fmt, off0, min_shift, n_lvls);
	static const uint32_t conf[7] = {TBX_VCF, 1, 2, 0, '#', 0, 0};
	uint8_t meta[28];
	for (int i = 0; i < 7; i++)
		for (int k = 0; k < 4; k++)
			meta[4 * i + k] = (uint8_t)(conf[i] >> (8 * k));
	if (idx && hts_idx_set_meta(idx, sizeof meta, meta, 1) < 0) {
		hts_idx_destroy(idx);
		idx = NULL;
	}
	return idx;
}

/* ---- the interface ---- */

int vbgz_to_fd(void *ctx, const void *p, size_t n, sl_err *err)
{
	int rc = sl_write_all(*(int *)ctx, p, n);
	return rc < 0 ? sl_fail_errno(err, SL_E_IO, -rc, "cannot write the output") : 0;
}

struct vbgz *vbgz_new(vbgz_write_fn out, void *ctx, htsThreadPool *pool, int level)
{
	/* htslib's map from BGZF (zlib) levels to libdeflate's, so that a
	 * level gives the bytes htslib writes at that level */
	static const int zlevel[10] = {0, 1, 2, 3, 5, 6, 7, 8, 10, 12};
	struct vbgz *w = sl_xcalloc(1, sizeof *w);
	w->out = out;
	w->out_ctx = ctx;
	w->zlevel = zlevel[level < 1 ? 1 : level > 9 ? 9 : level];
	pthread_mutex_init(&w->zmu, NULL);
	if (pool && pool->pool) {
		w->pool = pool;
		/* a few blocks per thread in flight keep the threads busy */
		w->q = hts_tpool_process_init(pool->pool, 2 * hts_tpool_size(pool->pool) + 2, 0);
	}
	return w;
}

int vbgz_write(struct vbgz *w, const void *p, size_t n, sl_err *err)
{
	const uint8_t *s = p;
	while (n) {
		if (!w->cur && !(w->cur = new_job(w)))
			return sl_fail(err, SL_E_NOMEM, "out of memory writing the output");
		size_t k = BGZF_BLOCK_SIZE - w->cur->inlen;
		k = k < n ? k : n;
		memcpy(w->cur->in + w->cur->inlen, s, k);
		w->cur->inlen += k;
		s += k, n -= k;
		if (w->cur->inlen == BGZF_BLOCK_SIZE) {
			int rc = vbgz_flush(w, err);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int vbgz_flush_try(struct vbgz *w, size_t n, sl_err *err)
{
	return w->cur && w->cur->inlen + n > BGZF_BLOCK_SIZE ? vbgz_flush(w, err) : 0;
}

int vbgz_sync(struct vbgz *w, uint64_t *voff, sl_err *err)
{
	int rc = vbgz_flush(w, err);
	if (rc == 0)
		rc = drain(w, err);
	*voff = w->addr << 16;
	return rc;
}

void vbgz_set_index(struct vbgz *w, hts_idx_t *idx)
{
	w->idx = idx;
}

int vbgz_index(struct vbgz *w, int tid, hts_pos_t beg, hts_pos_t end, sl_err *err)
{
	if (w->pn == w->pcap) {
		w->pcap = w->pcap ? 2 * w->pcap : 256;
		w->pend = sl_xrealloc(w->pend, w->pcap * sizeof *w->pend);
	}
	uint32_t within = w->cur ? (uint32_t)w->cur->inlen : 0;
	w->pend[w->pn++] = (struct pending){tid, beg, end, w->nblocks, within, 0};
	return resolve(w) < 0 ? sl_fail(err, SL_E_FORMAT, "cannot index a record") : 0;
}

int vbgz_finish(struct vbgz *w, uint64_t *voff, sl_err *err)
{
	int rc = vbgz_sync(w, voff, err);
	if (rc < 0)
		return rc;
	/* every block is written: the held entries have addresses; the last one
	 * ends where the file ends, as bcf_idx_save amends it */
	if (w->pn && resolve(w) < 0)
		return sl_fail(err, SL_E_FORMAT, "cannot index a record");
	if (w->pn > w->phead) {
		const struct pending *e = &w->pend[w->pn - 1];
		if (hts_idx_push(w->idx, e->tid, e->beg, e->end, *voff, 1) < 0)
			return sl_fail(err, SL_E_FORMAT, "cannot index a record");
	}
	w->phead = w->pres = w->pn = 0;
	return 0;
}

int vbgz_close(struct vbgz *w, sl_err *err)
{
	static const uint8_t eof[28] = {31, 139, 8, 4, 0, 0, 0, 0, 0, 255, 6, 0, 'B', 'C', 2, 0,
					27, 0, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0};
	uint64_t voff;
	int rc = vbgz_sync(w, &voff, err);
	return rc == 0 ? w->out(w->out_ctx, eof, sizeof eof, err) : rc;
}

void vbgz_free(struct vbgz *w)
{
	if (!w)
		return;
	for (; w->q && w->inflight; w->inflight--) {
		/* an abandoned output: its blocks are dropped, not written */
		hts_tpool_result *r = hts_tpool_next_result_wait(w->q);
		if (!r)
			break;
		free(hts_tpool_result_data(r));
		hts_tpool_delete_result(r, 0);
	}
	if (w->q)
		hts_tpool_process_destroy(w->q);
	free(w->cur);
	while (w->free_jobs) {
		struct job *j = w->free_jobs;
		w->free_jobs = j->next;
		free(j);
	}
	for (size_t i = 0; i < w->nz; i++)
		libdeflate_free_compressor(w->zs[i]);
	free(w->zs);
	free(w->pend);
	pthread_mutex_destroy(&w->zmu);
	free(w);
}
