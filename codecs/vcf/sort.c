/*
 * sort.c: records in the order of `bcftools sort` (contig as the header
 * lists them, position, then REF and ALT compared without case), ties in
 * input order, with memory bounded by a limit.
 *
 * Records are held as blobs (blob.c: the sort key and htslib's encoded
 * record, no pointers), packed into large blocks: a bcf1_t per record with
 * its separately allocated buffers cost four times the record's bytes and
 * a malloc each.  At the limit the blobs are sorted through an array of
 * small keys and written to a scratch file as a run; at the end the runs
 * and what is still held (sorted in place, the last run) are merged with a
 * heap, ties going to the earlier run.  Runs are merged a tier at a time:
 * TIER runs of one level, the latest, become one run of the next level, so
 * a record is rewritten once per level (the runs' count in base TIER), and
 * at most MAX_RUNS runs are open.
 *
 * Blobs, keys and the sort's scratch live in mappings that ask for
 * transparent huge pages and are kept across spills: filling fresh memory
 * a 4 KiB page at a time cost a page fault per page, about a fifteenth of
 * a run's CPU on a virtual machine.
 */
#include "vcf_impl.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define MAX_RUNS 64
#define TIER 16
#define RUN_BUF (128u << 10)     /* read and write buffer of a run */
#define SLAB_MIN (64u << 10)
#define SLAB_MAX (32u << 20)

struct key {
	const struct vblob *b;
	int64_t pos;
	int32_t rid;
	uint64_t seq;            /* input order */
};

struct block {                /* a slab of blobs, or one blob larger than a slab */
	char *p;
	size_t len, cap;
};

struct run {
	int fd;
	char *buf;               /* buffered reads: buf[pos..len) not yet used */
	size_t pos, len;
	off_t off;
	struct vblob *cur;       /* the run's current record, aligned copy */
	size_t curcap;
	const struct key *mem;   /* or the last run, still in memory: mem[mpos..mn) */
	size_t mpos, mn;
	int level;               /* 0: spilled; k: merged from runs of level k - 1 */
};

struct vsort {
	size_t limit, used, slab;
	struct block *blocks;
	size_t nblocks, cur;     /* blobs go to blocks[cur] and after */
	struct key *keys, *tmp_keys; /* tmp_keys: the merge sort's, as large */
	size_t n, cap, next;
	uint64_t seq;
	int (*scratch)(void *ctx, sl_err *err);
	void *ctx;
	struct run *runs;
	size_t nruns, merged;    /* merged: runs spilled, counting those merged early */
	size_t *heap;            /* merging: indices of live runs */
	size_t nheap;
	int merging, popped;
	bcf1_t *tmp, *out;
};

static int cmp_key(const struct key *a, const struct key *b)
{
	if (a->rid != b->rid)
		return a->rid < b->rid ? -1 : 1;
	if (a->pos != b->pos)
		return a->pos < b->pos ? -1 : 1;
	int r = vblob_cmp_alleles(a->b, b->b);
	return r ? r : a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* ---- memory ---- */

static void *map(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	madvise(p, n, MADV_HUGEPAGE); /* advice: refused or ignored is fine */
	return p;
}

/* A mapping grown in place or moved by the kernel, never copied. */
static void *remap(void *p, size_t old, size_t n)
{
	if (!p)
		return map(n);
	void *q = mremap(p, old, n, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		return NULL;
	madvise(q, n, MADV_HUGEPAGE);
	return q;
}

/* ---- sorting keys ---- */

/* Stable merge sort of k[0, n) through tmp[0, n): insertion-sorted runs
 * of 16, then merges; the result ends in k.  Stable and with the input
 * order (seq) as the last key anyway: ties cannot reorder records. */
static void msort(struct key *k, struct key *tmp, size_t n)
{
	for (size_t i = 0; i < n; i += 16) {
		size_t e = i + 16 < n ? i + 16 : n;
		for (size_t j = i + 1; j < e; j++) {
			struct key x = k[j];
			size_t m = j;
			for (; m > i && cmp_key(&x, &k[m - 1]) < 0; m--)
				k[m] = k[m - 1];
			k[m] = x;
		}
	}
	struct key *a = k, *b = tmp;
	for (size_t w = 16; w < n; w *= 2) {
		for (size_t i = 0; i < n; i += 2 * w) {
			size_t m = i + w < n ? i + w : n, e = i + 2 * w < n ? i + 2 * w : n;
			size_t x = i, y = m, o = i;
			while (x < m && y < e)
				b[o++] = cmp_key(&a[y], &a[x]) < 0 ? a[y++] : a[x++];
			memcpy(b + o, a + x, (m - x) * sizeof *a);
			o += m - x;
			memcpy(b + o, a + y, (e - y) * sizeof *a);
		}
		struct key *t = a;
		a = b;
		b = t;
	}
	if (a != k)
		memcpy(k, a, n * sizeof *k);
}

/* Keys are sorted as two halves at once where it pays: the sorts of a
 * spill and of the end are the moments when the reading threads wait. */
#define HALVES_MIN 65536

struct half {
	struct key *k, *tmp;
	size_t n;
};

static void *sort_half(void *arg)
{
	struct half *h = arg;
	msort(h->k, h->tmp, h->n);
	return NULL;
}

/* Sort the n keys held in two halves, each sorted; returns where the
 * second starts (n: sorted whole).  The halves are in input order, so a
 * merge that gives ties to the earlier half keeps the order of the records. */
static size_t sort_keys(struct vsort *s)
{
	size_t n = s->n, a = n >= HALVES_MIN ? n / 2 : n;
	struct half h = {s->keys + a, s->tmp_keys + a, n - a};
	pthread_t t;
	int threaded = h.n && pthread_create(&t, NULL, sort_half, &h) == 0;
	if (h.n && !threaded)
		sort_half(&h);
	if (a)
		msort(s->keys, s->tmp_keys, a);
	if (threaded)
		pthread_join(t, NULL);
	return a;
}

struct vsort *vsort_new(size_t limit, int (*scratch)(void *ctx, sl_err *err), void *ctx)
{
	struct vsort *s = sl_xcalloc(1, sizeof *s);
	s->limit = limit;
	s->slab = limit / 8 < SLAB_MIN ? SLAB_MIN : limit / 8 > SLAB_MAX ? SLAB_MAX : limit / 8;
	s->scratch = scratch;
	s->ctx = ctx;
	s->tmp = bcf_init1();
	s->out = bcf_init1();
	return s;
}

/* The keys count twice: the sort's scratch is as large. */
static size_t keys_bytes(const struct vsort *s)
{
	return 2 * s->cap * sizeof *s->keys;
}

/* After a spill: the slabs stay for the next blobs; a blob larger than a
 * slab had a block of its own, which goes. */
static void drop_mem(struct vsort *s)
{
	size_t k = 0;
	for (size_t i = 0; i < s->nblocks; i++) {
		if (s->blocks[i].cap > s->slab) {
			munmap(s->blocks[i].p, s->blocks[i].cap);
			continue;
		}
		s->blocks[i].len = 0;
		s->blocks[k++] = s->blocks[i];
	}
	s->nblocks = k;
	s->cur = 0;
	s->n = s->next = 0;
	s->used = keys_bytes(s);
}

static int add_key(struct vsort *s, const struct vblob *b)
{
	if (s->n == s->cap) {
		size_t c = s->cap ? 2 * s->cap : 256, ob = s->cap * sizeof *s->keys;
		struct key *k = remap(s->keys, ob, c * sizeof *k);
		struct key *t = k ? remap(s->tmp_keys, ob, c * sizeof *t) : NULL;
		if (k)
			s->keys = k;
		if (!t)
			return -1;
		s->tmp_keys = t;
		s->used += 2 * (c - s->cap) * sizeof *k;
		s->cap = c;
	}
	s->keys[s->n++] = (struct key){b, b->pos, b->rid, s->seq++};
	return 0;
}

/* n bytes for blobs: in the current slab, a later one kept from before a
 * spill, a new slab, or a block of their own when larger than a slab. */
static char *room(struct vsort *s, size_t n)
{
	for (; s->cur < s->nblocks; s->cur++) {
		struct block *b = &s->blocks[s->cur];
		if (b->cap <= s->slab && b->cap - b->len >= n)
			break;
	}
	if (s->cur == s->nblocks) {
		size_t cap = n > s->slab ? n : s->slab;
		struct block *nb = realloc(s->blocks, (s->nblocks + 1) * sizeof *nb);
		char *p = nb ? map(cap) : NULL;
		if (nb)
			s->blocks = nb;
		if (!p)
			return NULL;
		s->blocks[s->nblocks++] = (struct block){p, 0, cap};
	}
	struct block *b = &s->blocks[s->cur];
	char *p = b->p + b->len;
	b->len += n;
	s->used += n;
	return p;
}

/* ---- runs ---- */

static int write_run(int fd, const struct key *k, size_t n, sl_err *err)
{
	char *buf = malloc(RUN_BUF);
	size_t len = 0;
	int rc = buf ? 0 : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const struct vblob *b = k[i].b;
		if (len + b->size > RUN_BUF) {
			rc = sl_write_all(fd, buf, len);
			len = 0;
		}
		if (rc == 0 && b->size > RUN_BUF)
			rc = sl_write_all(fd, b, b->size);
		else if (rc == 0)
			memcpy(buf + len, b, b->size), len += b->size;
	}
	if (rc == 0)
		rc = sl_write_all(fd, buf, len);
	free(buf);
	return rc < 0 ? sl_fail_errno(err, SL_E_IO, -rc, "cannot write a sort run") : 0;
}

/* Sort what is held and write it as a run. */
static int spill(struct vsort *s, bcf_hdr_t *hdr, sl_err *err);

static int new_run(struct vsort *s, int fd)
{
	struct run *nr = realloc(s->runs, (s->nruns + 1) * sizeof *nr);
	if (!nr)
		return -1;
	s->runs = nr;
	s->runs[s->nruns++] = (struct run){.fd = fd};
	return 0;
}

static int fill(struct run *r, sl_err *err)
{
	if (r->pos < r->len)
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
	r->len -= r->pos;
	r->pos = 0;
	while (r->len < RUN_BUF) {
		ssize_t k = pread(r->fd, r->buf + r->len, RUN_BUF - r->len, r->off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return sl_fail_errno(err, SL_E_IO, errno, "cannot read back a sort run");
		if (k == 0)
			break;
		r->len += (size_t)k;
		r->off += k;
	}
	return 0;
}

/* Copy n bytes of the run into dst: 0, or <0 (a short run is an error). */
static int run_bytes(struct run *r, void *dst, size_t n, sl_err *err)
{
	char *d = dst;
	while (n) {
		if (r->pos == r->len) {
			int rc = fill(r, err);
			if (rc < 0)
				return rc;
			if (r->len == 0)
				return sl_fail(err, SL_E_IO, "a sort run is cut short");
		}
		size_t k = r->len - r->pos < n ? r->len - r->pos : n;
		memcpy(d, r->buf + r->pos, k);
		r->pos += k, d += k, n -= k;
	}
	return 0;
}

/* The run's next record into r->cur: 1, 0 at its end, <0 on error. */
static int run_next(struct run *r, sl_err *err)
{
	if (r->mem) {
		if (r->mpos == r->mn)
			return 0;
		r->cur = (struct vblob *)r->mem[r->mpos++].b; /* read, never written */
		return 1;
	}
	if (r->pos == r->len) {
		int rc = fill(r, err);
		if (rc < 0)
			return rc;
		if (r->len == 0)
			return 0;
	}
	struct vblob h;
	int rc = run_bytes(r, &h, sizeof h, err);
	if (rc < 0)
		return rc;
	if (h.size < sizeof h || h.size % 8)
		return sl_fail(err, SL_E_IO, "a sort run is damaged");
	if (h.size > r->curcap) {
		void *p = realloc(r->cur, h.size);
		if (!p)
			return sl_fail(err, SL_E_NOMEM, "out of memory merging sort runs");
		r->cur = p;
		r->curcap = h.size;
	}
	memcpy(r->cur, &h, sizeof h);
	rc = run_bytes(r, (char *)r->cur + sizeof h, h.size - sizeof h, err);
	return rc < 0 ? rc : 1;
}

static void run_close(struct run *r)
{
	if (r->fd >= 0)
		close(r->fd);
	free(r->buf);
	if (!r->mem)
		free(r->cur);
	*r = (struct run){.fd = -1};
}

/* ---- the merge: a binary heap of the runs' current records ---- */

static int heap_less(const struct vsort *s, size_t a, size_t b)
{
	const struct vblob *x = s->runs[a].cur, *y = s->runs[b].cur;
	struct key kx = {x, x->pos, x->rid, a}, ky = {y, y->pos, y->rid, b};
	return cmp_key(&kx, &ky) < 0;
}

static void heap_down(struct vsort *s, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < s->nheap && heap_less(s, s->heap[l], s->heap[m]))
			m = l;
		if (r < s->nheap && heap_less(s, s->heap[r], s->heap[m]))
			m = r;
		if (m == i)
			return;
		size_t t = s->heap[i];
		s->heap[i] = s->heap[m];
		s->heap[m] = t;
		i = m;
	}
}

/* Open runs from..nruns from the start, each with its first record, as a
 * heap. */
static int merge_start(struct vsort *s, size_t from, sl_err *err)
{
	free(s->heap);
	s->heap = sl_xcalloc(s->nruns + 1, sizeof *s->heap);
	s->nheap = 0;
	for (size_t k = from; k < s->nruns; k++) {
		struct run *r = &s->runs[k];
		if (!r->mem && !(r->buf = malloc(RUN_BUF)))
			return sl_fail(err, SL_E_NOMEM, "out of memory merging sort runs");
		r->pos = r->len = 0;
		r->off = 0;
		int rc = run_next(r, err);
		if (rc < 0)
			return rc;
		if (rc)
			s->heap[s->nheap++] = k;
	}
	for (size_t i = s->nheap; i-- > 0;)
		heap_down(s, i);
	s->popped = 0;
	return 0;
}

/* The next record of the merge, or NULL at its end (*rc: 0, or <0). */
static const struct vblob *merge_next(struct vsort *s, int *rc, sl_err *err)
{
	*rc = 0;
	if (s->popped && s->nheap) {
		/* refill the slot of the run whose record went out last */
		int got = run_next(&s->runs[s->heap[0]], err);
		if (got < 0) {
			*rc = got;
			return NULL;
		}
		if (!got)
			s->heap[0] = s->heap[--s->nheap];
		heap_down(s, 0);
	}
	s->popped = 1;
	return s->nheap ? s->runs[s->heap[0]].cur : NULL;
}

/* Merge runs from..nruns into one in their place (the latest records, so
 * ties between it and earlier runs still go to those). */
static int merge_runs(struct vsort *s, size_t from, sl_err *err)
{
	int fd = s->scratch(s->ctx, err);
	if (fd < 0)
		return fd;
	int level = 0;
	for (size_t k = from; k < s->nruns; k++)
		level = s->runs[k].level > level ? s->runs[k].level : level;
	int rc = merge_start(s, from, err);
	char *buf = rc == 0 ? malloc(RUN_BUF) : NULL;
	size_t len = 0;
	const struct vblob *b;
	if (rc == 0 && !buf)
		rc = sl_fail(err, SL_E_NOMEM, "out of memory merging sort runs");
	while (rc == 0 && (b = merge_next(s, &rc, err))) {
		if (len + b->size > RUN_BUF) {
			int w = sl_write_all(fd, buf, len);
			len = 0;
			if (w < 0)
				rc = sl_fail_errno(err, SL_E_IO, -w, "cannot write a sort run");
		}
		if (rc == 0 && b->size > RUN_BUF) {
			int w = sl_write_all(fd, b, b->size);
			if (w < 0)
				rc = sl_fail_errno(err, SL_E_IO, -w, "cannot write a sort run");
		} else if (rc == 0) {
			memcpy(buf + len, b, b->size), len += b->size;
		}
	}
	if (rc == 0 && (rc = sl_write_all(fd, buf, len)) < 0)
		rc = sl_fail_errno(err, SL_E_IO, -rc, "cannot write a sort run");
	free(buf);
	for (size_t k = from; k < s->nruns; k++)
		run_close(&s->runs[k]);
	s->nruns = from;
	s->nheap = 0;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	if (new_run(s, fd) < 0) {
		close(fd);
		return sl_fail(err, SL_E_NOMEM, "out of memory sorting records");
	}
	s->runs[s->nruns - 1].level = level + 1;
	return 0;
}

/* Before a spill adds two runs: merge the latest TIER runs of a level into
 * one of the next, level after level; with MAX_RUNS open anyway, the
 * latest level's runs (or, when that is one run, all of them). */
static int compact(struct vsort *s, sl_err *err)
{
	for (;;) {
		size_t n = s->nruns, k = n;
		while (k && s->runs[k - 1].level == s->runs[n - 1].level)
			k--;
		int full = n + 2 > MAX_RUNS;
		if (!n || (n - k < TIER && !full))
			return 0;
		int rc = merge_runs(s, full && n - k < 2 ? 0 : k, err);
		if (rc < 0)
			return rc;
	}
}

static int disk_run(struct vsort *s, const struct key *k, size_t n, sl_err *err)
{
	int fd = s->scratch(s->ctx, err);
	if (fd < 0)
		return fd;
	int rc = write_run(fd, k, n, err);
	if (rc < 0 || new_run(s, fd) < 0) {
		close(fd);
		return rc < 0 ? rc : sl_fail(err, SL_E_NOMEM, "out of memory sorting records");
	}
	s->merged++;
	return 0;
}

static int spill(struct vsort *s, bcf_hdr_t *hdr, sl_err *err)
{
	(void)hdr;
	int rc = compact(s, err);
	if (rc < 0)
		return rc;
	size_t a = sort_keys(s);
	if ((rc = disk_run(s, s->keys, a, err)) < 0 ||
	    (a < s->n && (rc = disk_run(s, s->keys + a, s->n - a, err)) < 0))
		return rc;
	drop_mem(s);
	return 0;
}

/* ---- pushing ---- */

static int over(struct vsort *s, bcf_hdr_t *hdr, sl_err *err)
{
	return s->used > s->limit ? spill(s, hdr, err) : 0;
}

int vsort_push(struct vsort *s, bcf_hdr_t *hdr, bcf1_t *rec, sl_err *err)
{
	size_t need = vblob_prepare(rec, s->tmp);
	struct vblob *b = (struct vblob *)room(s, need);
	if (!b)
		return sl_fail(err, SL_E_NOMEM, "out of memory sorting records");
	vblob_write(b, rec, need);
	if (add_key(s, b) < 0)
		return sl_fail(err, SL_E_NOMEM, "out of memory sorting records");
	return over(s, hdr, err);
}

/* A batch's blobs, copied into the slabs: the batch's buffer goes back to
 * the allocator for the next batch instead of pages never touched before. */
int vsort_push_blobs(struct vsort *s, bcf_hdr_t *hdr, char *buf, size_t len, size_t cap,
		     sl_err *err)
{
	(void)cap;
	char *p = len ? room(s, len) : NULL;
	if (p)
		memcpy(p, buf, len);
	free(buf);
	if (len && !p)
		return sl_fail(err, SL_E_NOMEM, "out of memory sorting records");
	for (size_t off = 0; off < len;) {
		const struct vblob *b = (const struct vblob *)(p + off);
		if (add_key(s, b) < 0)
			return sl_fail(err, SL_E_NOMEM, "out of memory sorting records");
		off += b->size;
	}
	return over(s, hdr, err);
}

static int mem_run(struct vsort *s, const struct key *k, size_t n)
{
	if (new_run(s, -1) < 0)
		return -1;
	struct run *r = &s->runs[s->nruns - 1];
	r->mem = k;
	r->mn = n;
	return 0;
}

int vsort_finish(struct vsort *s, bcf_hdr_t *hdr, sl_err *err)
{
	(void)hdr;
	if (!s->n && !s->nruns)
		return 0; /* no records: nothing to merge */
	/* what is held joins the merge from memory, as one run or two halves */
	size_t a = s->n ? sort_keys(s) : 0;
	if ((a && mem_run(s, s->keys, a) < 0) || (a < s->n && mem_run(s, s->keys + a, s->n - a) < 0))
		return sl_fail(err, SL_E_NOMEM, "out of memory sorting records");
	s->merging = 1;
	return merge_start(s, 0, err);
}

int vsort_next(struct vsort *s, bcf_hdr_t *hdr, bcf1_t **rec, sl_err *err)
{
	(void)hdr;
	const struct vblob *b;
	if (!s->merging) {
		if (s->next == s->n)
			return 0;
		b = s->keys[s->next++].b;
	} else {
		int rc;
		if (!(b = merge_next(s, &rc, err)))
			return rc;
	}
	vblob_read(b, s->out);
	*rec = s->out;
	return 1;
}

uint64_t vsort_runs(const struct vsort *s)
{
	return s->merged;
}

void vsort_free(struct vsort *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nblocks; i++)
		munmap(s->blocks[i].p, s->blocks[i].cap);
	free(s->blocks);
	if (s->keys)
		munmap(s->keys, s->cap * sizeof *s->keys);
	if (s->tmp_keys)
		munmap(s->tmp_keys, s->cap * sizeof *s->tmp_keys);
	for (size_t k = 0; k < s->nruns; k++)
		run_close(&s->runs[k]);
	free(s->runs);
	free(s->heap);
	bcf_destroy1(s->tmp);
	bcf_destroy1(s->out);
	free(s);
}
