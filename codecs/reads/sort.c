/*
 * sort.c: the external sort of reads (reads_impl.h).  Reads are copied
 * into memory up to a byte limit, sorted, and spilled to a scratch file as
 * a sorted run when the limit is reached; at the end the runs are merged.
 * The order is samtools sort's coordinate order (contig with unplaced
 * reads last, position, forward strand before reverse) and then input
 * order, so the result is one total order that no limit can change.
 *
 * At most MAX_RUNS runs are open at once (each holds a descriptor and a
 * stdio buffer): when a spill would make one more, the runs are first
 * merged into one.  A tiny limit thus costs merges, never descriptors.
 */
#include "reads_impl.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_RUNS 32
#define RUN_BUFFER (128u << 10)

/* The sort key is kept beside the read so that comparing touches no read. */
struct rec {
	bam1_t *b;
	struct rkey k;
	uint64_t seq;            /* input order */
};

struct run {
	FILE *f;
	char *buf;               /* its stdio buffer */
	struct rec head;         /* the run's next read; b NULL when done */
};

struct rsort {
	size_t limit, used;
	struct rec *mem;
	size_t n, cap, next;
	uint64_t seq, spills;
	struct run *runs;
	size_t nruns;
	int (*scratch)(void *ctx, sl_err *err);
	void *ctx;
	int merging;
	bam1_t *out;             /* the read last handed out (merge) */
};

void rkey_of(struct rkey *k, const bam1_t *b)
{
	k->tid = (uint32_t)b->core.tid;
	k->pos = b->core.pos;
	k->rev = bam_is_rev(b) ? 1 : 0;
}

int rkey_cmp(const struct rkey *a, const struct rkey *b)
{
	if (a->tid != b->tid)
		return a->tid < b->tid ? -1 : 1;
	if (a->pos != b->pos)
		return a->pos < b->pos ? -1 : 1;
	return a->rev < b->rev ? -1 : a->rev > b->rev;
}

static int cmp_rec(const struct rec *a, const struct rec *b)
{
	int r = rkey_cmp(&a->k, &b->k);
	return r ? r : a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int qcmp(const void *a, const void *b)
{
	return cmp_rec(a, b);
}

static void set_key(struct rec *r, bam1_t *b, uint64_t seq)
{
	r->b = b;
	rkey_of(&r->k, b);
	r->seq = seq;
}

/* ---- runs: a read is its input number, its core and its data ---- */

static int put_rec(FILE *f, const struct rec *r)
{
	uint32_t l = (uint32_t)r->b->l_data;
	return fwrite(&r->seq, sizeof r->seq, 1, f) == 1 &&
	       fwrite(&r->b->core, sizeof r->b->core, 1, f) == 1 &&
	       fwrite(&l, sizeof l, 1, f) == 1 &&
	       (l == 0 || fwrite(r->b->data, l, 1, f) == 1) ? 0 : -1;
}

/* 1 and the run's next read in r->head, 0 at the run's end, <0 on error */
static int get_rec(struct run *r)
{
	uint32_t l;
	uint64_t seq;
	bam1_t *b = r->head.b;
	if (fread(&seq, sizeof seq, 1, r->f) != 1)
		return feof(r->f) ? 0 : -1;
	if (fread(&b->core, sizeof b->core, 1, r->f) != 1 || fread(&l, sizeof l, 1, r->f) != 1 ||
	    l > INT32_MAX)
		return -1;
	if (l > b->m_data) {
		uint8_t *d = realloc(b->data, l);
		if (!d)
			return -1;
		b->data = d;
		b->m_data = l;
	}
	b->l_data = (int)l;
	if (l != 0 && fread(b->data, l, 1, r->f) != 1)
		return -1;
	set_key(&r->head, b, seq);
	return 1;
}

/* A new empty run at the end of s->runs. */
static int new_run(struct rsort *s, sl_err *err)
{
	int fd = s->scratch(s->ctx, err);
	if (fd < 0)
		return fd;
	FILE *f = fdopen(fd, "w+");
	if (!f) {
		int e = errno;
		close(fd);
		return sl_fail_errno(err, SL_E_IO, e, "cannot open a sort run");
	}
	char *buf = sl_xmalloc(RUN_BUFFER);
	setvbuf(f, buf, _IOFBF, RUN_BUFFER);
	s->runs = sl_xrealloc(s->runs, (s->nruns + 1) * sizeof *s->runs);
	s->runs[s->nruns++] = (struct run){.f = f, .buf = buf};
	return 0;
}

static void close_run(struct run *r)
{
	if (r->head.b)
		bam_destroy1(r->head.b);
	if (r->f)
		fclose(r->f);
	free(r->buf);
	*r = (struct run){0};
}

static int run_written(FILE *f, sl_err *err)
{
	if (fflush(f) != 0)
		return sl_fail_errno(err, SL_E_IO, errno, "cannot write a sort run");
	return 0;
}

/* ---- merging ---- */

/* Rewind every run and read its first read. */
static int start_merge(struct rsort *s, sl_err *err)
{
	for (size_t i = 0; i < s->nruns; i++) {
		struct run *r = &s->runs[i];
		if (!(r->head.b = bam_init1()))
			return sl_fail(err, SL_E_NOMEM, "out of memory merging reads");
		int got = fseeko(r->f, 0, SEEK_SET) == 0 ? get_rec(r) : -1;
		if (got < 0)
			return sl_fail(err, SL_E_IO, "cannot read a sort run back");
		if (got == 0) {
			bam_destroy1(r->head.b);
			r->head.b = NULL;
		}
	}
	return 0;
}

/* The least head among runs [0, n): its run, or NULL when all are done.
 * Runs are few (MAX_RUNS): a scan is as good as a heap. */
static struct run *least(struct rsort *s, size_t n)
{
	struct run *best = NULL;
	for (size_t i = 0; i < n; i++)
		if (s->runs[i].head.b && (!best || cmp_rec(&s->runs[i].head, &best->head) < 0))
			best = &s->runs[i];
	return best;
}

/* Move r's head to *spare's place and read r's next into the old *spare. */
static int advance(struct run *r, bam1_t **spare, sl_err *err)
{
	bam1_t *out = r->head.b;
	r->head.b = *spare;
	*spare = out;
	int got = get_rec(r);
	if (got < 0)
		return sl_fail(err, SL_E_IO, "cannot read a sort run back");
	if (got == 0) {
		bam_destroy1(r->head.b);
		r->head.b = NULL;
	}
	return 0;
}

/* Merge every run into one, which takes the first slot. */
static int collapse(struct rsort *s, sl_err *err)
{
	size_t n = s->nruns;
	int rc = start_merge(s, err);
	if (rc == 0)
		rc = new_run(s, err);
	bam1_t *spare = bam_init1();
	struct run *r;
	while (rc == 0 && (r = least(s, n))) {
		struct rec w = r->head;
		if (put_rec(s->runs[n].f, &w) < 0)
			rc = sl_fail_errno(err, SL_E_IO, errno, "cannot write a sort run");
		else
			rc = advance(r, &spare, err);
	}
	bam_destroy1(spare);
	if (rc == 0)
		rc = run_written(s->runs[n].f, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		close_run(&s->runs[i]);
	s->runs[0] = s->runs[n];
	s->nruns = 1;
	return 0;
}

/* ---- the sorter ---- */

struct rsort *rsort_new(size_t limit, int (*scratch)(void *ctx, sl_err *err), void *ctx)
{
	struct rsort *s = sl_xcalloc(1, sizeof *s);
	s->limit = limit;
	s->scratch = scratch;
	s->ctx = ctx;
	return s;
}

static void drop_mem(struct rsort *s)
{
	for (size_t i = 0; i < s->n; i++)
		bam_destroy1(s->mem[i].b);
	s->n = s->next = 0;
	s->used = s->cap * sizeof *s->mem;
}

static int spill(struct rsort *s, sl_err *err)
{
	int rc = s->nruns == MAX_RUNS ? collapse(s, err) : 0;
	if (rc < 0 || (rc = new_run(s, err)) < 0)
		return rc;
	qsort(s->mem, s->n, sizeof *s->mem, qcmp);
	FILE *f = s->runs[s->nruns - 1].f;
	for (size_t i = 0; i < s->n; i++)
		if (put_rec(f, &s->mem[i]) < 0)
			return sl_fail_errno(err, SL_E_IO, errno, "cannot write a sort run");
	if ((rc = run_written(f, err)) < 0)
		return rc;
	s->spills++;
	drop_mem(s);
	return 0;
}

/* What a held read costs: its record, its bam1_t and its data, each with a
 * malloc header. */
static size_t held_bytes(const bam1_t *b)
{
	return sizeof(bam1_t) + (size_t)b->m_data + 2 * 16;
}

int rsort_push(struct rsort *s, const bam1_t *b, sl_err *err)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		s->mem = sl_xrealloc(s->mem, cap * sizeof *s->mem);
		s->used += (cap - s->cap) * sizeof *s->mem;
		s->cap = cap;
	}
	bam1_t *c = bam_dup1(b);
	if (!c)
		return sl_fail(err, SL_E_NOMEM, "out of memory sorting reads");
	set_key(&s->mem[s->n++], c, s->seq++);
	s->used += held_bytes(c);
	return s->used >= s->limit ? spill(s, err) : 0;
}

int rsort_finish(struct rsort *s, sl_err *err)
{
	if (!s->nruns) {
		if (s->n) /* no reads: mem is NULL, which qsort may not take */
			qsort(s->mem, s->n, sizeof *s->mem, qcmp);
		return 0;
	}
	int rc = s->n ? spill(s, err) : 0;
	free(s->mem);
	s->mem = NULL;
	s->cap = 0;
	if (rc < 0)
		return rc;
	s->merging = 1;
	return start_merge(s, err);
}

int rsort_next(struct rsort *s, bam1_t **b, sl_err *err)
{
	if (!s->merging) {
		if (s->next == s->n)
			return 0;
		*b = s->mem[s->next++].b;
		return 1;
	}
	struct run *r = least(s, s->nruns);
	if (!r)
		return 0;
	if (!s->out && !(s->out = bam_init1()))
		return sl_fail(err, SL_E_NOMEM, "out of memory merging reads");
	int rc = advance(r, &s->out, err);
	if (rc < 0)
		return rc;
	*b = s->out;
	return 1;
}

uint64_t rsort_runs(const struct rsort *s)
{
	return s->spills;
}

void rsort_free(struct rsort *s)
{
	if (!s)
		return;
	drop_mem(s);
	free(s->mem);
	for (size_t i = 0; i < s->nruns; i++)
		close_run(&s->runs[i]);
	free(s->runs);
	if (s->out)
		bam_destroy1(s->out);
	free(s);
}
