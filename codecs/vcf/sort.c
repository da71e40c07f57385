/*
 * sort.c: records in the order of `bcftools sort` (contig as the header
 * lists them, position, then REF and ALT compared without case), ties in
 * input order, with memory bounded by a limit: records are held until the
 * limit, then sorted and written to a scratch file as a run (uncompressed
 * BCF through htslib); at the end the runs are merged with a heap, ties
 * going to the earlier run.
 */
#include "vcf_impl.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <htslib/hfile.h>
#include <htslib/hts.h>

struct item {
	bcf1_t *b;
	uint64_t seq;            /* input order, or run index while merging */
};

struct run {
	int fd;
	htsFile *fp;
	bcf1_t *b;
};

struct vsort {
	size_t limit, used;
	struct item *mem;
	size_t n, cap, next;
	uint64_t seq;
	int (*scratch)(void *ctx, sl_err *err);
	void *ctx;
	struct run *runs;
	size_t nruns;
	struct item *heap;       /* merging: one record per live run */
	size_t nheap;
	int merging;
	bcf1_t *last;            /* handed out by vsort_next */
};

static int cmp_rec(const bcf1_t *a, const bcf1_t *b)
{
	if (a->rid != b->rid)
		return a->rid < b->rid ? -1 : 1;
	if (a->pos != b->pos)
		return a->pos < b->pos ? -1 : 1;
	for (int i = 0; i < a->n_allele; i++) {
		if (i >= b->n_allele)
			return 1;
		int r = strcasecmp(a->d.allele[i], b->d.allele[i]);
		if (r)
			return r;
	}
	return a->n_allele < b->n_allele ? -1 : 0;
}

static int cmp_item(const void *x, const void *y)
{
	const struct item *a = x, *b = y;
	int r = cmp_rec(a->b, b->b);
	return r ? r : a->seq < b->seq ? -1 : a->seq > b->seq;
}

struct vsort *vsort_new(size_t limit, int (*scratch)(void *ctx, sl_err *err), void *ctx)
{
	struct vsort *s = sl_xcalloc(1, sizeof *s);
	s->limit = limit;
	s->scratch = scratch;
	s->ctx = ctx;
	return s;
}

static size_t rec_bytes(const bcf1_t *b)
{
	return sizeof *b + b->shared.m + b->indiv.m + 64 + (size_t)b->n_allele * 16;
}

static void drop_mem(struct vsort *s)
{
	for (size_t i = 0; i < s->n; i++)
		bcf_destroy1(s->mem[i].b);
	s->n = s->next = 0;
	s->used = 0;
}

/* Sort what is held and write it as a run. */
static int spill(struct vsort *s, bcf_hdr_t *hdr, sl_err *err)
{
	qsort(s->mem, s->n, sizeof *s->mem, cmp_item);
	int fd = s->scratch(s->ctx, err);
	if (fd < 0)
		return fd;
	int wfd = dup(fd);
	hFILE *hf = wfd >= 0 ? hdopen(wfd, "w") : NULL;
	htsFile *fp = hf ? hts_hopen(hf, "", "wbu") : NULL;
	if (!fp) {
		if (hf)
			hclose_abruptly(hf);
		else if (wfd >= 0)
			close(wfd);
		close(fd);
		return sl_fail(err, SL_E_IO, "cannot write a sort run");
	}
	int rc = bcf_hdr_write(fp, hdr);
	for (size_t i = 0; rc == 0 && i < s->n; i++)
		rc = bcf_write(fp, hdr, s->mem[i].b);
	if (hts_close(fp) != 0)
		rc = -1;
	if (rc != 0) {
		close(fd);
		return sl_fail(err, SL_E_IO, "cannot write a sort run (scratch space full?)");
	}
	s->runs = sl_xrealloc(s->runs, (s->nruns + 1) * sizeof *s->runs);
	s->runs[s->nruns++] = (struct run){.fd = fd};
	drop_mem(s);
	return 0;
}

int vsort_push(struct vsort *s, bcf_hdr_t *hdr, bcf1_t *rec, sl_err *err)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 1024;
		s->mem = sl_xrealloc(s->mem, s->cap * sizeof *s->mem);
	}
	bcf1_t *b = bcf_dup(rec);
	if (!b)
		return sl_fail(err, SL_E_NOMEM, "out of memory sorting records");
	bcf_unpack(b, BCF_UN_STR);
	s->mem[s->n++] = (struct item){b, s->seq++};
	s->used += rec_bytes(b);
	if (s->used > s->limit)
		return spill(s, hdr, err);
	return 0;
}

/* ---- the merge: a binary heap of the runs' current records ---- */

static void heap_down(struct vsort *s, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->nheap && cmp_item(&s->heap[l], &s->heap[m]) < 0)
			m = l;
		if (r < s->nheap && cmp_item(&s->heap[r], &s->heap[m]) < 0)
			m = r;
		if (m == i)
			return;
		struct item t = s->heap[i];
		s->heap[i] = s->heap[m];
		s->heap[m] = t;
		i = m;
	}
}

/* The run's next record into its slot: 1, 0 at its end, <0 on error. */
static int run_read(struct vsort *s, bcf_hdr_t *hdr, size_t k, sl_err *err)
{
	struct run *r = &s->runs[k];
	int rc = bcf_read(r->fp, hdr, r->b);
	if (rc == -1)
		return 0;
	if (rc < 0)
		return sl_fail(err, SL_E_IO, "cannot read back a sort run");
	bcf_unpack(r->b, BCF_UN_STR);
	return 1;
}

int vsort_finish(struct vsort *s, bcf_hdr_t *hdr, sl_err *err)
{
	if (!s->nruns) {
		qsort(s->mem, s->n, sizeof *s->mem, cmp_item);
		return 0;
	}
	int rc = s->n ? spill(s, hdr, err) : 0;
	if (rc < 0)
		return rc;
	s->merging = 1;
	s->heap = sl_xcalloc(s->nruns, sizeof *s->heap);
	for (size_t k = 0; k < s->nruns; k++) {
		struct run *r = &s->runs[k];
		hFILE *hf = lseek(r->fd, 0, SEEK_SET) == 0 ? hdopen(r->fd, "r") : NULL;
		r->fp = hf ? hts_hopen(hf, "", "r") : NULL;
		if (hf && !r->fp)
			hclose_abruptly(hf);
		if (hf)
			r->fd = -1; /* the htsFile owns it now */
		bcf_hdr_t *h = r->fp ? bcf_hdr_read(r->fp) : NULL;
		if (!h)
			return sl_fail(err, SL_E_IO, "cannot read back a sort run");
		bcf_hdr_destroy(h);
		r->b = bcf_init1();
		if ((rc = run_read(s, hdr, k, err)) < 0)
			return rc;
		if (rc)
			s->heap[s->nheap++] = (struct item){r->b, k};
	}
	for (size_t i = s->nheap; i-- > 0;)
		heap_down(s, i);
	return 0;
}

int vsort_next(struct vsort *s, bcf_hdr_t *hdr, bcf1_t **rec, sl_err *err)
{
	if (!s->merging) {
		if (s->next == s->n)
			return 0;
		*rec = s->mem[s->next++].b;
		return 1;
	}
	if (s->last) {
		/* refill the slot of the run whose record went out last */
		size_t k = s->heap[0].seq;
		int rc = run_read(s, hdr, k, err);
		if (rc < 0)
			return rc;
		if (rc)
			s->heap[0].b = s->runs[k].b;
		else
			s->heap[0] = s->heap[--s->nheap];
		heap_down(s, 0);
		s->last = NULL;
	}
	if (!s->nheap)
		return 0;
	*rec = s->last = s->heap[0].b;
	return 1;
}

uint64_t vsort_runs(const struct vsort *s)
{
	return s->nruns;
}

void vsort_free(struct vsort *s)
{
	if (!s)
		return;
	drop_mem(s);
	free(s->mem);
	for (size_t k = 0; k < s->nruns; k++) {
		if (s->runs[k].fp)
			hts_close(s->runs[k].fp);
		if (s->runs[k].fd >= 0)
			close(s->runs[k].fd);
		if (s->runs[k].b)
			bcf_destroy1(s->runs[k].b);
	}
	free(s->runs);
	free(s->heap);
	free(s);
}
