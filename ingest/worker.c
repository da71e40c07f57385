/*
 * worker.c: one input, from its opened file descriptor to a result for the
 * committer.  Workers take inputs in batches so that opens, stats and first
 * reads of many small files each cost one io_uring submission; large inputs
 * stream through a read-ahead window with memory bounded by the I/O pool.
 * The sl_input and sl_sink a format sees are in input.c.
 */
#include "engine_impl.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH 16
#define SHARED_SNAPSHOT_MAX (1u << 20)

static uint64_t ts_ns(struct timespec t)
{
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* ---- results ---- */

struct result *sl_result_new(const char *path)
{
	struct result *r = sl_xcalloc(1, sizeof *r);
	r->path = sl_xstrdup(path);
	sl_buf_init(&r->out.facts);
	return r;
}

void sl_result_companions(struct result *r, const struct sl_task *t)
{
	r->fmt = t->fmt;
	r->ncomp = t->ncompanions;
	r->comp = r->ncomp ? sl_xcalloc(r->ncomp, sizeof *r->comp) : NULL;
	for (size_t i = 0; i < r->ncomp; i++) {
		r->comp[i].path = sl_xstrdup(t->companions[i]);
		r->comp[i].fd = -1;
	}
}

void sl_result_reject(struct result *r, const char *reason)
{
	r->status = R_REJECT;
	free(r->reason);
	r->reason = sl_xstrdup(reason);
}

void sl_result_free(struct result *r)
{
	if (!r)
		return;
	free(r->path);
	free(r->reason);
	sl_sink_out_free(&r->out);
	free(r->ins);
	for (size_t i = 0; i < r->ncomp; i++)
		free(r->comp[i].path);
	free(r->comp);
	free(r);
}

/* ---- one input ---- */

static const struct sl_format *choose_format(struct engine *e, const char *path,
					     const uint8_t *head, size_t len, uint64_t size)
{
	const struct sl_format *declared = sl_format_flagged(SL_FORMAT_DECLARED);
	if (declared && sl_path_under(path, (const char *const *)e->opaque, e->nopaque))
		return declared;
	return sl_format_sniff(head, len, size);
}

static size_t format_index(const struct sl_format *f)
{
	size_t i = 0;
	while (sl_formats[i] != f)
		i++;
	return i;
}

/* The files of the input, as provenance records them: the index (or the
 * only file) first, then a multi-file input's companions. */
static void item_inputs(struct engine *e, struct result *r, const uint8_t path_key[32])
{
	r->ins = sl_xcalloc(1 + r->ncomp, sizeof *r->ins);
	memcpy(r->ins[0].digest, r->ncomp ? r->index_digest : r->input_digest, 32);
	r->ins[0].size = r->size;
	memcpy(r->ins[0].path_hmac, path_key, 32);
	for (size_t i = 0; i < r->ncomp; i++) {
		const struct sl_companion *c = &r->comp[i];
		memcpy(r->ins[1 + i].digest, c->st.input_digest, 32);
		r->ins[1 + i].size = c->st.size;
		sl_key_hmac(e->key, "path", c->path, strlen(c->path), r->ins[1 + i].path_hmac);
	}
}

static void fill_item(struct engine *e, struct result *r, const struct sl_io_file *f,
		      const uint8_t path_key[32], const uint8_t seen_key[32])
{
	struct sl_item *it = &r->item;
	memcpy(it->input_digest, r->input_digest, 32);
	it->input_size = r->size;
	for (size_t i = 0; i < r->ncomp; i++)
		it->input_size += r->comp[i].st.size;
	/* The catalog's cache is keyed by the seen key (which also covers the
	 * options); provenance gets the plain path hash. */
	memcpy(it->seen_key, seen_key, 32);
	it->stat = (struct sl_seen){.size = f->size, .mtime_ns = f->mtime_ns,
		.ctime_ns = f->ctime_ns, .ino = f->ino, .dev = f->dev};
	memcpy(it->stat.input_digest, r->input_digest, 32);
	const struct sl_format *fmt = r->fmt;
	it->format = fmt->name;
	it->format_version = fmt->version;
	it->options_fp = e->fmt_fp[format_index(fmt)];
	it->policy = fmt->policy ? fmt->policy(e->fmt_conf[format_index(fmt)]) : "{}";
	item_inputs(e, r, path_key);
	it->inputs = r->ins;
	it->ninputs = 1 + r->ncomp;
	it->outs = r->out.outs;
	it->nouts = r->out.nouts;
	it->attrs = (const char **)r->out.attrs;
	it->nattrs = r->out.nattrs;
	it->facts = r->out.facts.data;
	it->software = sl_versions_json();
	it->key_fp = sl_key_fingerprint(e->key);
	it->subject_map = e->smap ? sl_subject_map_digest(e->smap) : NULL;
	r->status = R_COMMIT;
}

/* The file must look now as it did when opened, and we must have read
 * exactly its size: otherwise it changed under us and the bytes are suspect. */
static int check_unchanged(const struct sl_io_file *f, const sl_input *in, sl_err *err)
{
	if (in->consumed != f->size)
		return sl_fail(err, SL_E_CHANGED,
			       "file changed size while being read (%llu bytes at open, %llu read)",
			       (unsigned long long)f->size, (unsigned long long)in->consumed);
	struct statx stx;
	if (statx(f->fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &stx) < 0)
		return sl_fail_errno(err, SL_E_IO, errno, "cannot stat after reading");
	uint64_t m = (uint64_t)stx.stx_mtime.tv_sec * 1000000000u + stx.stx_mtime.tv_nsec;
	if (stx.stx_size != f->size || m != f->mtime_ns)
		return sl_fail(err, SL_E_CHANGED, "file was modified while being read");
	return 0;
}

/* A multi-file input's other files are read whole for their digests
 * (the format's library read what it needed of them by name) and must not
 * have changed since they were opened.  The item's input digest covers
 * the index's and theirs, in the format's order. */
static int hash_companions(struct worker *w, struct result *r, const uint8_t index[32],
			   sl_err *err)
{
	sl_chunk *buf = sl_chunk_get(w->io);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < r->ncomp; i++) {
		struct sl_companion *c = &r->comp[i];
		sl_sha256_reset(w->h);
		uint64_t off = 0;
		ssize_t k;
		while ((k = pread(c->fd, buf->data, buf->cap, (off_t)off)) > 0 || (k < 0 && errno == EINTR))
			if (k > 0) {
				sl_sha256_update(w->h, buf->data, (size_t)k);
				off += (uint64_t)k;
			}
		struct stat st;
		if (k < 0)
			rc = sl_fail_errno(err, SL_E_IO, errno, "cannot read a file of this multi-file "
					   "input (%s)", c->path);
		else if (off != c->st.size || fstat(c->fd, &st) < 0 || (uint64_t)st.st_size != off ||
			 ts_ns(st.st_mtim) != c->st.mtime_ns)
			rc = sl_fail(err, SL_E_CHANGED, "a file of this multi-file input changed while "
				     "being read (%s)", c->path);
		sl_sha256_final(w->h, c->st.input_digest);
		c->hashed = rc == 0;
	}
	sl_chunk_put(buf);
	if (rc < 0)
		return rc;
	sl_sha256 *h = sl_sha256_new();
	sl_sha256_update(h, "sluice-bundle-1", 16);
	sl_sha256_update(h, index, 32);
	for (size_t i = 0; i < r->ncomp; i++)
		sl_sha256_update(h, r->comp[i].st.input_digest, 32);
	sl_sha256_final(h, r->input_digest);
	sl_sha256_free(h);
	return 0;
}

/* One input, from a file the batch opened or from bytes in memory (mem). */
static void process_one(struct worker *w, struct result *r, struct sl_io_file *f,
			const uint8_t *mem, const uint8_t path_key[32], const uint8_t seen_key[32])
{
	struct engine *e = w->e;
	sl_err err = {0};
	sl_sha256_reset(w->h);
	sl_input in = {.io = w->io, .fd = f->fd, .size = f->size, .head = f->head, .h = w->h,
		       .memfd = -1, .comp = r->comp, .ncomp = r->ncomp, .tmp_dir = e->tmp_dir};
	f->head = NULL;
	if (mem) {
		sl_chunk *c = sl_chunk_get(w->io);
		in.mem = mem;
		in.mem_chunk = c->cap;
		sl_chunk_put(c);
	}
	if (!r->fmt && mem) /* a multi-file input's was chosen by its index's name */
		r->fmt = choose_format(e, NULL, mem, f->size < in.mem_chunk ? f->size : in.mem_chunk,
				       f->size);
	else if (!r->fmt)
		r->fmt = choose_format(e, r->path, in.head->data, in.head->len, f->size);
	sl_sink sk = {.sw = w->sw, .tmp_dir = e->tmp_dir, .out = &r->out, .in = &in,
		      .identity = !!(r->fmt->flags & SL_FORMAT_IDENTITY)};
	int rc = r->fmt->transform(&in, &sk, &e->dctx, e->fmt_conf[format_index(r->fmt)], &err);
	sl_input_view_remove(&in);
	if (rc >= 0)
		rc = sl_input_drain(&in, &err);
	if (rc >= 0 && !mem)
		rc = check_unchanged(f, &in, &err);
	if (in.memfd >= 0)
		close(in.memfd);
	memcpy(r->index_digest, in.digest, 32);
	if (rc >= 0 && r->ncomp)
		rc = hash_companions(w, r, in.digest, &err);
	else if (rc >= 0)
		memcpy(r->input_digest, in.digest, 32);
	if (sk.ow)
		sl_objw_abort(sk.ow);
	sl_chunk_put(in.head);
	sl_reader_free(in.rd);
	if (rc < 0) {
		if (-rc == SL_E_NOSPC)
			sl_engine_stop(e, err.msg);
		sl_result_reject(r, err.msg);
		if (-rc == SL_E_SKIP)
			r->status = R_SKIP;
		return;
	}
	r->have_digest = 1;
	fill_item(e, r, f, path_key, seen_key);
}

static void reject_errno(struct result *r, const struct sl_io_file *f)
{
	char msg[256];
	const char *step = f->step;
	int e = f->err;
	if (e == ELOOP && !f->follow) /* O_NOFOLLOW met a link */
		snprintf(msg, sizeof msg, "symbolic link not followed (use --follow-symlinks)");
	else if (e == ELOOP)
		snprintf(msg, sizeof msg, "symbolic link loop");
	else
		snprintf(msg, sizeof msg, "cannot %s: %s", step, strerror(e));
	sl_result_reject(r, msg);
}

/* A multi-file input's other files, opened as its index was; how they look
 * now goes into the seen key and is checked again after reading. */
static int open_companions(struct engine *e, struct result *r)
{
	for (size_t i = 0; i < r->ncomp; i++) {
		struct sl_companion *c = &r->comp[i];
		c->fd = open(c->path, O_RDONLY | O_CLOEXEC | (e->o->follow_symlinks ? 0 : O_NOFOLLOW));
		struct stat st;
		if (c->fd < 0 || fstat(c->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			char msg[512];
			snprintf(msg, sizeof msg, "cannot open a file of this multi-file input (%s): %s",
				 c->path, c->fd < 0 ? strerror(errno) : "not a regular file");
			sl_result_reject(r, msg);
			return -1;
		}
		c->st = (struct sl_seen){.size = (uint64_t)st.st_size, .mtime_ns = ts_ns(st.st_mtim),
			.ctime_ns = ts_ns(st.st_ctim), .ino = st.st_ino, .dev = st.st_dev};
		c->opened = 1;
	}
	return 0;
}

/* An input the cache knows, unchanged: already present without being
 * read (the report still says where its outputs are), or a cache that
 * cannot be read: 1, decided.  0: read it. */
static int seen_present(struct worker *w, struct result *r, const uint8_t seen_key[32],
			const struct sl_io_file *f)
{
	struct sl_seen s;
	sl_err err = {0};
	int found = sl_store_seen_get(w->sw, seen_key, &s, &err);
	if (found < 0) {
		/* not knowing is not "not found": reading it again could store
		 * a second copy of what the catalog cannot tell us about */
		sl_result_reject(r, err.msg);
		return 1;
	}
	if (found == 1 && s.size == f->size && s.mtime_ns == f->mtime_ns &&
	    s.ctime_ns == f->ctime_ns && s.ino == f->ino && s.dev == f->dev) {
		r->status = R_PRESENT;
		r->reason = sl_xstrdup("unchanged since last ingest (not read)");
		memcpy(r->input_digest, s.input_digest, 32);
		r->have_digest = 1;
		/* The report still says where the outputs are. */
		int no = s.item_id[0] ? sl_store_item_outputs(w->sw, s.item_id, &r->out.outs, &err) : -1;
		if (no > 0) {
			r->out.nouts = (size_t)no;
			memcpy(r->item.item_id, s.item_id, sizeof s.item_id);
		}
		return 1;
	}
	return 0;
}

/* Decide what can be decided from the stat alone. Returns 1 if the input
 * needs reading. */
static int triage(struct worker *w, struct result *r, struct sl_io_file *f,
		  uint8_t path_key[32], uint8_t seen_key[32])
{
	struct engine *e = w->e;
	if (f->err) {
		reject_errno(r, f);
		return 0;
	}
	r->size = f->size;
	if (!S_ISREG(f->mode)) {
		sl_result_reject(r, S_ISFIFO(f->mode) ? "a FIFO" : S_ISDIR(f->mode) ? "a directory"
				 : "not a regular file");
		return 0;
	}
	if (f->size == 0 && !r->ncomp) { /* an index may be empty: its name says it all */
		sl_result_reject(r, "empty file (0 bytes)");
		return 0;
	}
	if (r->ncomp && open_companions(e, r) < 0)
		return 0;
	size_t n = strlen(r->path);
	sl_key_hmac(e->key, "path", r->path, n, path_key);
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_add(&b, e->run_fp, 32);
	sl_buf_add(&b, r->path, n);
	/* a multi-file input is unchanged when every one of its files is */
	for (size_t i = 0; i < r->ncomp; i++) {
		sl_buf_add(&b, r->comp[i].path, strlen(r->comp[i].path) + 1);
		sl_buf_add(&b, &r->comp[i].st, offsetof(struct sl_seen, input_digest));
	}
	sl_key_hmac(e->key, "seen", b.data, b.len, seen_key);
	sl_buf_free(&b);
	return !seen_present(w, r, seen_key, f);
}

/* The batch's small objects reach their pack in one write, before any item
 * naming them goes to the committer.  If that write fails, the items whose
 * new objects were in it cannot be recorded. */
static void flush_batch(struct worker *w, struct result **r, unsigned m)
{
	sl_err err = {0};
	if (sl_store_flush(w->sw, &err) == 0)
		return;
	if (err.code == SL_E_NOSPC)
		sl_engine_stop(w->e, err.msg);
	for (unsigned i = 0; i < m; i++) {
		if (r[i]->status != R_COMMIT)
			continue;
		for (size_t j = 0; j < r[i]->out.nouts; j++)
			if (r[i]->out.outs[j].ref.fresh && r[i]->out.outs[j].ref.deferred) {
				sl_result_reject(r[i], err.msg);
				break;
			}
	}
}

/* An input a source handed over in memory: the cache is keyed by the
 * source's idempotency key (with the run's options), its stamp is the
 * size; its name reaches provenance only as a keyed hash. */
static void process_memory(struct worker *w, struct result *r, const struct sl_task *t)
{
	struct engine *e = w->e;
	struct sl_io_file f = {.fd = -1, .size = t->len};
	uint8_t pk[32], sk[32];
	r->size = t->len;
	if (!t->len) {
		sl_result_reject(r, "empty input (0 bytes)");
		return;
	}
	sl_key_hmac(e->key, "path", t->path, strlen(t->path), pk);
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_add(&b, e->run_fp, 32);
	sl_buf_add(&b, "source-key", 11);
	sl_buf_add(&b, t->key, t->keylen);
	sl_key_hmac(e->key, "seen", b.data, b.len, sk);
	sl_buf_free(&b);
	sl_store_read_begin(w->sw);
	int done = seen_present(w, r, sk, &f);
	if (!done && sl_engine_stopped(e))
		sl_result_reject(r, e->stop_reason);
	else if (!done)
		process_one(w, r, &f, t->data, pk, sk);
	sl_store_read_end(w->sw);
}

static void process_batch(struct worker *w, struct sl_task **t, unsigned n)
{
	struct engine *e = w->e;
	struct sl_io_file f[BATCH];
	struct result *r[BATCH];
	uint8_t pk[BATCH][32], sk[BATCH][32];
	unsigned m = 0;
	for (unsigned i = 0; i < n; i++) {
		struct result *res = sl_result_new(t[i]->path);
		sl_result_companions(res, t[i]);
		if (t[i]->reject || t[i]->in_memory) {
			if (t[i]->reject)
				sl_result_reject(res, t[i]->reject);
			else
				process_memory(w, res, t[i]);
			if (res->status == R_COMMIT)
				flush_batch(w, &res, 1);
			sl_queue_push(&e->results, res);
			continue;
		}
		memset(&f[m], 0, sizeof f[m]);
		f[m].path = res->path;
		f[m].follow = t[i]->follow;
		r[m++] = res;
	}
	sl_io_open_batch(w->io, f, m);
	/* The batch's catalog lookups (seen, object present) share one read
	 * transaction, until a large input, whose transform would hold the
	 * snapshot (and the catalog's checkpoints) for long. */
	sl_store_read_begin(w->sw);
	for (unsigned i = 0; i < m; i++)
		f[i].skip = !triage(w, r[i], &f[i], pk[i], sk[i]);
	sl_io_read_heads(w->io, f, m);
	for (unsigned i = 0; i < m; i++) {
		if (!f[i].skip && f[i].size > SHARED_SNAPSHOT_MAX)
			sl_store_read_end(w->sw);
		if (!f[i].skip) {
			if (f[i].err)
				reject_errno(r[i], &f[i]);
			else if (sl_engine_stopped(e))
				sl_result_reject(r[i], e->stop_reason);
			else
				process_one(w, r[i], &f[i], NULL, pk[i], sk[i]);
		}
		sl_chunk_put(f[i].head);
		if (f[i].fd >= 0)
			close(f[i].fd);
		for (size_t j = 0; j < r[i]->ncomp; j++)
			if (r[i]->comp[j].fd >= 0) {
				close(r[i]->comp[j].fd);
				r[i]->comp[j].fd = -1;
			}
	}
	sl_store_read_end(w->sw);
	flush_batch(w, r, m);
	sl_queue_push_many(&e->results, (void *const *)r, m);
}

void *sl_worker_main(void *arg)
{
	struct worker *w = arg;
	struct engine *e = w->e;
	void *batch[BATCH];
	size_t n;
	while ((n = sl_queue_pop(&e->tasks, batch, BATCH, -1)) > 0) {
		process_batch(w, (struct sl_task **)batch, (unsigned)n);
		for (size_t i = 0; i < n; i++)
			sl_task_free(batch[i]);
	}
	pthread_mutex_lock(&e->workers_mu);
	if (--e->workers_left == 0)
		sl_queue_close(&e->results);
	pthread_mutex_unlock(&e->workers_mu);
	return NULL;
}
