/*
 * read.c: records read, normalised and handed to the sorter.
 *
 * A VCF's text lines are read on the transform's thread (htslib
 * decompresses BGZF on the pool) and cut into batches; pool threads parse
 * and normalise a batch each (vcf_parse with a copy of the header, then
 * norm.c) into blobs, and the batches are taken back in input order, so
 * the sorter receives exactly what one thread would have given it, and
 * the first error in input order is the one reported.  A record naming a
 * contig or tag the header lacks makes htslib add it to the header it
 * parses with: the copy then differs from the run's header, so that batch
 * and all after it are parsed again on the transform's thread with the
 * run's header, as a single thread would have.  BCF input (no text to
 * parse) is normalised on the transform's thread.
 */
#include "run.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BATCH_BYTES (256u << 10) /* of text: a few ms of work, little memory in flight */

struct vbatch {
	struct vrun *r;
	kstring_t text;          /* nlines lines, each ending in NUL */
	int nlines;
	uint64_t first;          /* the number of its first record, from 1 */
	int tail_rc;             /* reading stopped after the batch: why */
	sl_err tail_err;
	kstring_t blobs;         /* out: its records as the sorter takes them */
	uint64_t nsplit, nrealigned, nexcluded;
	int rc;
	int done;                /* parsed and normalised (by a pool thread or not) */
	int changed;             /* a pool thread's header copy changed: redo it */
	sl_err err;
};

/* ---- one record ---- */

static int add_blobs(struct vwork *w, kstring_t *out, sl_err *err)
{
	struct vnorm *n = &w->norm;
	for (size_t i = 0; i < n->nout; i++) {
		if (n->out[i]->errcode)
			return sl_fail(err, SL_E_FORMAT, "record %llu cannot be normalised",
				       (unsigned long long)n->nrec);
		size_t need = vblob_prepare(n->out[i], w->tmp);
		if (ks_resize(out, out->l + need) < 0)
			return sl_fail(err, SL_E_NOMEM, "out of memory reading records");
		vblob_write((struct vblob *)(out->s + out->l), n->out[i], need);
		out->l += need;
	}
	return 0;
}

/* Record number `num` (got: what reading or parsing it returned) normalised
 * into blobs appended to out. */
static int take_record(struct vrun *r, struct vwork *w, int got, uint64_t num, kstring_t *out,
		       sl_err *err)
{
	bcf1_t *b = w->rec;
	if (got == 0 && b->errcode == BCF_ERR_CTG_UNDEF)
		b->errcode = 0; /* a contig the header lacks: checked below */
	if (got < -1)
		return sl_fail(err, SL_E_FORMAT, "record %llu cannot be read: the input is truncated "
			       "or corrupt", (unsigned long long)num);
	if (b->errcode)
		return sl_fail(err, SL_E_FORMAT, "record %llu is malformed (htslib error %d)",
			       (unsigned long long)num, b->errcode);
	/* a pool thread's record is on a contig of the unchanged header, all
	 * checked before reading */
	int rc = w->own ? 0 : vrun_check_contig(r, b->rid, err);
	w->norm.nrec = num - 1;
	if (rc == 0)
		rc = vnorm_record(&w->norm, b, err);
	return rc < 0 ? rc : add_blobs(w, out, err);
}

/* ---- batches ---- */

static int header_changed(const struct vrun *r, const bcf_hdr_t *h)
{
	return h->nhrec != r->hdr_nhrec || h->n[BCF_DT_ID] != r->hdr_n[BCF_DT_ID] ||
	       h->n[BCF_DT_CTG] != r->hdr_n[BCF_DT_CTG] || h->n[BCF_DT_SAMPLE] != r->hdr_n[BCF_DT_SAMPLE];
}

static void run_batch(struct vrun *r, struct vwork *w, struct vbatch *bt)
{
	struct vnorm *n = &w->norm;
	n->nsplit = n->nrealigned = n->nexcluded = 0;
	bt->blobs.l = 0;
	/* about the text's size: growing by copies cost more than the parse */
	if (ks_resize(&bt->blobs, bt->text.l + bt->text.l / 2 + 4096) < 0) {
		bt->rc = sl_fail(&bt->err, SL_E_NOMEM, "out of memory reading records");
		bt->done = 1;
		return;
	}
	bt->rc = bt->changed = bt->done = 0;
	char *p = bt->text.s;
	for (int i = 0; i < bt->nlines && bt->rc == 0; i++) {
		size_t len = strlen(p);
		/* vcf_parse cuts the line up in place: the batch keeps its text,
		 * to be parsed again if this thread's header changes */
		w->line.l = 0;
		kputsn(p, len, &w->line);
		int got = vcf_parse(&w->line, w->hdr, w->rec);
		if (w->own && header_changed(r, w->hdr)) {
			w->tainted = bt->changed = 1;
			return;
		}
		bt->rc = take_record(r, w, got, bt->first + (uint64_t)i, &bt->blobs, &bt->err);
		p += len + 1;
	}
	if (bt->rc == 0 && bt->tail_rc < 0) {
		bt->rc = bt->tail_rc;
		bt->err = bt->tail_err;
	}
	bt->nsplit = n->nsplit;
	bt->nrealigned = n->nrealigned;
	bt->nexcluded = n->nexcluded;
	bt->done = 1;
}

static struct vwork *take_work(struct vrun *r)
{
	pthread_mutex_lock(&r->idle_mu);
	struct vwork *w = r->idle;
	if (w)
		r->idle = w->next;
	pthread_mutex_unlock(&r->idle_mu);
	return w;
}

static void give_work(struct vrun *r, struct vwork *w)
{
	pthread_mutex_lock(&r->idle_mu);
	w->next = r->idle;
	r->idle = w;
	pthread_mutex_unlock(&r->idle_mu);
}

static void *batch_job(void *arg)
{
	struct vbatch *bt = arg;
	/* never empty: there is a work per pool thread */
	struct vwork *w = take_work(bt->r);
	if (!w || w->tainted)
		bt->changed = 1;
	else
		run_batch(bt->r, w, bt);
	if (w)
		give_work(bt->r, w);
	return bt;
}

static void batch_free(struct vbatch *bt)
{
	if (!bt)
		return;
	free(bt->text.s);
	free(bt->blobs.s);
	free(bt);
}

/* The sorter keeps the blobs: without the unused end of their buffer. */
static char *shrink(kstring_t *ks, size_t *cap)
{
	char *p = ks->l ? realloc(ks->s, ks->l) : NULL;
	if (!p)
		p = ks->s;
	else
		ks->m = ks->l;
	*cap = ks->m;
	*ks = (kstring_t){0};
	return p;
}

/* A batch back, in input order: into the sorter, or its error. */
static int consume(struct vrun *r, struct vbatch *bt, sl_err *err)
{
	if (bt->changed)
		r->serial = 1; /* this batch and every later one on this thread */
	if (r->serial || !bt->done)
		run_batch(r, &r->main, bt);
	int rc = bt->rc;
	if (rc < 0) {
		*err = bt->err;
	} else {
		r->nrec += (uint64_t)bt->nlines;
		r->nsplit += bt->nsplit;
		r->nrealigned += bt->nrealigned;
		r->nexcluded += bt->nexcluded;
		size_t len = bt->blobs.l, cap;
		char *p = shrink(&bt->blobs, &cap);
		rc = vsort_push_blobs(r->sort, r->hdr, p, len, cap, err);
	}
	/* its text buffer serves the next batch: fresh large buffers cost page faults */
	free(r->spare_text);
	r->spare_text = bt->text.s;
	r->spare_cap = bt->text.m;
	bt->text = (kstring_t){0};
	batch_free(bt);
	return rc;
}

struct feed {
	hts_tpool_process *q;
	int inflight;
};

/* Batches done by the pool, in order: one (waiting for it) or all ready. */
static int collect(struct vrun *r, struct feed *f, int wait, sl_err *err)
{
	while (f->inflight) {
		hts_tpool_result *res = wait ? hts_tpool_next_result_wait(f->q) : hts_tpool_next_result(f->q);
		if (!res)
			return wait ? sl_fail(err, SL_E_IO, "the reading threads stopped") : 0;
		struct vbatch *bt = hts_tpool_result_data(res);
		hts_tpool_delete_result(res, 0);
		f->inflight--;
		int rc = consume(r, bt, err);
		if (rc < 0 || wait)
			return rc;
	}
	return 0;
}

static int submit(struct vrun *r, struct feed *f, struct vbatch *bt, sl_err *err)
{
	if (!f->q || r->serial) {
		/* in order: what the pool still holds comes first */
		int rc = 0;
		while (rc == 0 && f->inflight)
			rc = collect(r, f, 1, err);
		if (rc < 0) {
			batch_free(bt);
			return rc;
		}
		return consume(r, bt, err); /* not done: done here */
	}
	while (hts_tpool_dispatch2(r->pool->pool, f->q, batch_job, bt, 1) < 0) {
		int rc = errno == EAGAIN && f->inflight ? collect(r, f, 1, err)
			 : sl_fail(err, SL_E_IO, "cannot queue records for the reading threads");
		if (rc < 0) {
			batch_free(bt);
			return rc;
		}
		if (r->serial)
			return submit(r, f, bt, err);
	}
	f->inflight++;
	return collect(r, f, 0, err);
}

/* The next batch of lines; *eof at the end of the input or a read error
 * (kept in the batch: it counts after the batch's records). */
static struct vbatch *next_batch(struct vrun *r, kstring_t *line, uint64_t *num, int *eof)
{
	struct vbatch *bt = sl_xcalloc(1, sizeof *bt);
	bt->r = r;
	bt->first = *num + 1;
	bt->text = (kstring_t){0, r->spare_cap, r->spare_text};
	r->spare_text = NULL;
	r->spare_cap = 0;
	ks_resize(&bt->text, BATCH_BYTES + 4096);
	while (bt->text.l < BATCH_BYTES) {
		int got = hts_getline(r->in, '\n', line);
		if (got == -1) {
			*eof = 1;
			break;
		}
		++*num;
		if (got < -1) {
			bt->tail_rc = sl_fail(&bt->tail_err, SL_E_FORMAT, "record %llu cannot be read: the "
					      "input is truncated or corrupt", (unsigned long long)*num);
			*eof = 1;
			break;
		}
		kputsn(line->s, line->l, &bt->text);
		kputc(0, &bt->text);
		bt->nlines++;
	}
	return bt;
}

static int read_vcf(struct vrun *r, sl_err *err)
{
	struct feed f = {0};
	if (r->pool && r->nwork)
		f.q = hts_tpool_process_init(r->pool->pool, 2 * r->nwork, 0);
	kstring_t line = {0};
	uint64_t num = 0;
	int eof = 0, rc = 0;
	while (rc == 0 && !eof)
		rc = submit(r, &f, next_batch(r, &line, &num, &eof), err);
	while (rc == 0 && f.inflight)
		rc = collect(r, &f, 1, err);
	for (; f.inflight; f.inflight--) {
		/* after an error: what the pool still holds is dropped */
		hts_tpool_result *res = hts_tpool_next_result_wait(f.q);
		if (!res)
			break;
		batch_free(hts_tpool_result_data(res));
		hts_tpool_delete_result(res, 0);
	}
	if (f.q)
		hts_tpool_process_destroy(f.q);
	free(line.s);
	return rc;
}

static int read_bcf(struct vrun *r, sl_err *err)
{
	struct vwork *w = &r->main;
	kstring_t out = {0};
	int rc = 0;
	w->norm.nsplit = w->norm.nrealigned = w->norm.nexcluded = 0;
	for (uint64_t num = 1; rc == 0; num++) {
		int got = bcf_read(r->in, r->hdr, w->rec);
		if (got == -1)
			break;
		r->nrec++;
		rc = take_record(r, w, got, num, &out, err);
		if (rc == 0 && out.l >= BATCH_BYTES) {
			size_t len = out.l, cap;
			char *p = shrink(&out, &cap);
			rc = vsort_push_blobs(r->sort, r->hdr, p, len, cap, err);
		}
	}
	if (rc == 0) {
		size_t len = out.l, cap;
		char *p = shrink(&out, &cap);
		rc = vsort_push_blobs(r->sort, r->hdr, p, len, cap, err);
	} else {
		free(out.s);
	}
	r->nsplit = w->norm.nsplit;
	r->nrealigned = w->norm.nrealigned;
	r->nexcluded = w->norm.nexcluded;
	return rc;
}

/* ---- works ---- */

static void work_init(struct vrun *r, struct vwork *w, bcf_hdr_t *h, faidx_t *fai, int own)
{
	w->hdr = h;
	w->fai = fai;
	w->own = own;
	w->norm = (struct vnorm){.hdr = h, .fai = fai, .ref = r->ref, .split = 1,
				 .exclude_mismatch = r->exclude_mismatch};
	w->rec = bcf_init1();
	w->tmp = bcf_init1();
}

/* The copy has the run header's ids (it is parsed from the header's text,
 * so it should; checked, as the blobs carry ids). */
static int same_ids(const bcf_hdr_t *a, const bcf_hdr_t *b)
{
	for (int t = 0; t < 3; t++) {
		if (a->n[t] != b->n[t])
			return 0;
		for (int i = 0; i < a->n[t]; i++) {
			const char *x = a->id[t][i].key, *y = b->id[t][i].key;
			if ((x == NULL) != (y == NULL) || (x && strcmp(x, y)))
				return 0;
		}
	}
	return a->nhrec == b->nhrec;
}

/* A work per pool thread, made here (the header is read on this thread
 * only); none when a copy is not like the header. */
static void works_make(struct vrun *r)
{
	int n = r->pool ? hts_tpool_size(r->pool->pool) : 0;
	r->hdr_nhrec = r->hdr->nhrec;
	for (int t = 0; t < 3; t++)
		r->hdr_n[t] = r->hdr->n[t];
	for (int i = 0; i < n; i++) {
		bcf_hdr_t *h = bcf_hdr_dup(r->hdr);
		sl_err ignore;
		faidx_t *fai = h && same_ids(r->hdr, h) ? sl_ref_open_fai(r->ref, &ignore) : NULL;
		if (!fai) {
			if (h)
				bcf_hdr_destroy(h);
			break;
		}
		struct vwork *w = sl_xcalloc(1, sizeof *w);
		work_init(r, w, h, fai, 1);
		give_work(r, w);
		r->nwork++;
	}
}

void vrun_works_free(struct vrun *r)
{
	struct vwork *w;
	while ((w = take_work(r))) {
		vnorm_free(&w->norm);
		free(w->line.s);
		bcf_destroy1(w->rec);
		bcf_destroy1(w->tmp);
		bcf_hdr_destroy(w->hdr);
		fai_destroy(w->fai);
		free(w);
	}
	r->nwork = 0;
	free(r->spare_text);
	r->spare_text = NULL;
	vnorm_free(&r->main.norm);
	free(r->main.line.s);
	if (r->main.rec)
		bcf_destroy1(r->main.rec);
	if (r->main.tmp)
		bcf_destroy1(r->main.tmp);
	r->main = (struct vwork){0};
}

int vrun_read(struct vrun *r, sl_err *err)
{
	work_init(r, &r->main, r->hdr, r->fai, 0);
	if (hts_get_format(r->in)->format == bcf)
		return read_bcf(r, err);
	works_make(r);
	return read_vcf(r, err);
}
