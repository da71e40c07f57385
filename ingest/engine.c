/*
 * engine.c: one ingest run.  Discovery runs on its own thread and feeds a
 * bounded task queue; workers (worker.c) turn tasks into results; this
 * thread commits results in batches (one fsync round and one catalog
 * transaction per batch) and writes the operator report.  Every discovered
 * input leaves as exactly one report line: ingested, already-present or
 * rejected.
 */
#include "engine_impl.h"
#include "source.h"
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_BATCH 4096
#define COMMIT_INTERVAL_MS 250

/* The handler may run on any of the run's threads, so the flag is an
 * atomic (lock-free, hence async-signal-safe), not a volatile sig_atomic_t,
 * which is only defined for the thread the handler interrupts. */
static int interrupted;

static void on_signal(int sig) { __atomic_store_n(&interrupted, sig, __ATOMIC_RELAXED); }

static int was_interrupted(void) { return __atomic_load_n(&interrupted, __ATOMIC_RELAXED); }

void sl_engine_stop(struct engine *e, const char *why)
{
	pthread_mutex_lock(&e->stop_mu);
	if (!e->stop) {
		/* cut to fit: the reason is a cause (ENOSPC, a signal), never a path */
		snprintf(e->stop_why, sizeof e->stop_why, "%.199s", why);
		snprintf(e->stop_reason, sizeof e->stop_reason, "not processed: run stopped (%.200s)",
			 why);
		__atomic_store_n(&e->stop, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&e->stop_mu);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

/* ---- fingerprints of what decides an input's outcome ---- */

static void fingerprints(struct engine *e)
{
	size_t nf = 0;
	while (sl_formats[nf])
		nf++;
	e->fmt_fp = sl_xcalloc(nf, sizeof *e->fmt_fp);
	sl_sha256 *run = sl_sha256_new();
	for (size_t i = 0; i < nf; i++) {
		const struct sl_format *f = sl_formats[i];
		sl_buf b;
		sl_buf_init(&b);
		sl_buf_printf(&b, "%s/%s", f->name, f->version);
		if (f->policy)
			sl_buf_printf(&b, "/%s", f->policy(e->fmt_conf[i]));
		uint8_t d[32];
		sl_sha256_once(b.data, b.len + 1, d);
		sl_hex(e->fmt_fp[i], d, 16);
		sl_sha256_update(run, e->fmt_fp[i], 32);
		sl_buf_free(&b);
	}
	for (size_t i = 0; i < e->nopaque; i++)
		sl_sha256_update(run, e->opaque[i], strlen(e->opaque[i]) + 1);
	if (e->smap)
		sl_sha256_update(run, sl_subject_map_digest(e->smap), 64);
	sl_sha256_final(run, e->run_fp);
	sl_sha256_free(run);
}

/* ---- report and summary ---- */

struct committer {
	struct engine *e;
	struct sl_ingest_summary *sum;
	FILE *report;
	struct result **batch;
	size_t nbatch, maxbatch;
	double first_pending;
	double t0, last_progress;
	uint64_t done;
	int fatal;              /* commit failed: the run must stop */
	sl_err fatal_err;
};

static void count_reason(struct sl_ingest_summary *s, const char *reason)
{
	for (size_t i = 0; i < s->nreasons; i++)
		if (!strcmp(s->reasons[i].reason, reason)) {
			s->reasons[i].n++;
			return;
		}
	s->reasons = sl_xrealloc(s->reasons, (s->nreasons + 1) * sizeof *s->reasons);
	s->reasons[s->nreasons].reason = sl_xstrdup(reason);
	s->reasons[s->nreasons].n = 1;
	s->nreasons++;
}

static const char *status_name(int st)
{
	return st == R_COMMIT ? "ingested" : st == R_PRESENT ? "already-present"
	     : st == R_SKIP ? "skipped" : "rejected";
}

/* A report line's parts: path, status and reason first; the item last. */
static void line_start(sl_buf *b, const char *path, const struct result *r)
{
	sl_buf_puts(b, "{\"path\":");
	sl_buf_json_str(b, path);
	sl_buf_printf(b, ",\"status\":\"%s\",\"reason\":", status_name(r->status));
	if (r->reason)
		sl_buf_json_str(b, r->reason);
	else
		sl_buf_puts(b, "null");
}

/* format, size when known, the input's digest when read */
static void line_input(sl_buf *b, const struct result *r, int sized, uint64_t size,
		       const uint8_t *digest)
{
	if (r->fmt)
		sl_buf_printf(b, ",\"format\":\"%s\"", r->fmt->name);
	if (sized)
		sl_buf_printf(b, ",\"size\":%llu", (unsigned long long)size);
	if (digest) {
		sl_buf_puts(b, ",\"input\":\"");
		sl_buf_hex(b, digest, 32);
		sl_buf_puts(b, "\"");
	}
}

static void line_end(sl_buf *b, const struct result *r)
{
	if ((r->status == R_COMMIT || r->status == R_PRESENT) && r->item.item_id[0])
		sl_buf_printf(b, ",\"item\":\"%s\"", r->item.item_id);
	sl_buf_puts(b, "}\n");
}

static void report_line(FILE *f, const struct result *r)
{
	sl_buf b;
	sl_buf_init(&b);
	line_start(&b, r->path, r);
	line_input(&b, r, 1, r->size, r->have_digest ? r->input_digest : NULL);
	sl_buf_puts(&b, ",\"outputs\":[");
	for (size_t i = 0; r->status != R_REJECT && r->status != R_SKIP && i < r->out.nouts; i++) {
		sl_buf_puts(&b, i ? ",{\"digest\":\"" : "{\"digest\":\"");
		sl_buf_hex(&b, r->out.outs[i].ref.digest, 32);
		sl_buf_puts(&b, "\",\"role\":");
		sl_buf_json_str(&b, r->out.outs[i].role);
		sl_buf_puts(&b, "}");
	}
	sl_buf_puts(&b, "]");
	line_end(&b, r);
	/* a multi-file input's other files: its outcome, and which index */
	for (size_t i = 0; i < r->ncomp; i++) {
		const struct sl_companion *c = &r->comp[i];
		line_start(&b, c->path, r);
		sl_buf_puts(&b, ",\"part_of\":");
		sl_buf_json_str(&b, r->path);
		line_input(&b, r, c->opened, c->st.size, c->hashed ? c->st.input_digest : NULL);
		sl_buf_puts(&b, ",\"outputs\":[]");
		line_end(&b, r);
	}
	fwrite(b.data, 1, b.len, f);
	sl_buf_free(&b);
}

/* Every file counts, a multi-file input's too: discovered = ingested +
 * present + rejected + skipped. */
static void finish_result(struct committer *c, struct result *r)
{
	struct sl_ingest_summary *s = c->sum;
	uint64_t files = 1 + r->ncomp, bytes = r->size;
	for (size_t i = 0; i < r->ncomp; i++)
		bytes += r->comp[i].st.size;
	if (r->status == R_COMMIT) {
		s->ingested += files;
		for (size_t i = 0; i < r->out.nouts; i++)
			if (r->out.outs[i].ref.fresh)
				s->bytes_stored += r->out.outs[i].ref.size;
	} else if (r->status == R_PRESENT) {
		s->present += files;
	} else {
		*(r->status == R_SKIP ? &s->skipped : &s->rejected) += files;
		for (uint64_t i = 0; i < files; i++)
			count_reason(s, r->reason);
	}
	if (r->status == R_COMMIT || r->status == R_PRESENT)
		s->bytes_in += bytes;
	if (c->report)
		report_line(c->report, r);
	c->done += files;
	sl_result_free(r);
}

static void commit_batch(struct committer *c)
{
	if (!c->nbatch)
		return;
	struct sl_item **items = sl_xmalloc(c->nbatch * sizeof *items);
	for (size_t i = 0; i < c->nbatch; i++)
		items[i] = &c->batch[i]->item;
	sl_err err = {0};
	int rc = c->fatal ? -SL_E_STATE : sl_store_commit(c->e->st, items, c->nbatch, &err);
	if (rc < 0 && !c->fatal) {
		c->fatal = 1;
		c->fatal_err = err;
		sl_engine_stop(c->e, err.msg);
	}
	for (size_t i = 0; i < c->nbatch; i++) {
		struct result *r = c->batch[i];
		if (rc < 0) {
			char msg[700];
			snprintf(msg, sizeof msg, "not recorded: %s", c->fatal_err.msg);
			sl_result_reject(r, msg);
		} else if (!r->item.outcome_new) {
			r->status = R_PRESENT;
			r->reason = sl_xstrdup("same content already stored");
		}
		finish_result(c, r);
	}
	free(items);
	c->nbatch = 0;
	if (c->report)
		fflush(c->report);
}

static void human_bytes(char *out, size_t n, double b)
{
	const char *u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int i = 0;
	while (b >= 1024 && i < 4)
		b /= 1024, i++;
	snprintf(out, n, "%.1f %s", b, u[i]);
}

/* over: discovery has finished, so discovered is the final count. */
static void progress(struct committer *c, uint64_t discovered, int over, int final)
{
	double t = now_s();
	if (!c->e->o->progress || (!final && t - c->last_progress < 0.5))
		return;
	c->last_progress = t;
	double el = t - c->t0;
	char bytes[32], rate[32];
	human_bytes(bytes, sizeof bytes, (double)c->sum->bytes_in);
	human_bytes(rate, sizeof rate, el > 0 ? c->sum->bytes_in / el : 0);
	fprintf(stderr, "\r\033[Ksluice: %llu/%llu%s files, %s, %s/s",
		(unsigned long long)c->done, (unsigned long long)discovered,
		over ? "" : "+", bytes, rate);
	if (over && c->done && c->done < discovered)
		fprintf(stderr, ", ETA %.0fs", el / c->done * (discovered - c->done));
	if (final)
		fputc('\n', stderr);
}

/* ---- the run ---- */

/* found and over are written by the discovery thread while the committer
 * reads them for progress lines: found is stored before over is released,
 * so a committer that sees over (acquire) reads the final count. */
struct disc_arg {
	struct engine *e;
	struct sl_discover_opts dopts;
	uint64_t found;
	int over;
};

/* The files source (source.h): SRC arguments walked by discover.c. */
static uint64_t files_run(const void *conf, sl_queue *q, const int *stop)
{
	(void)stop; /* the discover options carry it */
	return sl_discover(conf, q);
}

static const struct sl_source_ops files_source = {.name = "files", .run = files_run};

static void *discover_main(void *arg)
{
	struct disc_arg *d = arg;
	const struct sl_ingest_opts *o = d->e->o;
	struct sl_source files = {&files_source, &d->dopts};
	const struct sl_source *src = o->nsources ? o->sources : &files;
	size_t n = o->nsources ? o->nsources : 1;
	uint64_t found = 0;
	for (size_t i = 0; i < n && !sl_engine_stopped(d->e); i++)
		found += src[i].ops->run(src[i].conf, &d->e->tasks, &d->e->stop);
	__atomic_store_n(&d->found, found, __ATOMIC_RELAXED);
	__atomic_store_n(&d->over, 1, __ATOMIC_RELEASE);
	sl_queue_close(&d->e->tasks);
	return NULL;
}

static void disc_progress(struct committer *c, struct disc_arg *d, int final)
{
	int over = __atomic_load_n(&d->over, __ATOMIC_ACQUIRE);
	progress(c, __atomic_load_n(&d->found, __ATOMIC_RELAXED), over, final);
}

/* The final component may be a symlink (even a dangling one) into the store:
 * fopen would follow it, so follow the chain here first. */
static char *report_target(const char *report)
{
	char *p = sl_xstrdup(report);
	for (int hops = 0; hops < 40; hops++) {
		struct stat st;
		char link[PATH_MAX];
		if (lstat(p, &st) < 0 || !S_ISLNK(st.st_mode))
			break;
		ssize_t n = readlink(p, link, sizeof link - 1);
		if (n < 0)
			break;
		link[n] = 0;
		char *slash = strrchr(p, '/');
		sl_buf b;
		sl_buf_init(&b);
		if (link[0] != '/' && slash)
			sl_buf_add(&b, p, (size_t)(slash - p) + 1);
		sl_buf_puts(&b, link);
		free(p);
		p = b.data;
	}
	return p;
}

static int report_inside_store(const char *report, const char *store)
{
	char rs[PATH_MAX], rr[PATH_MAX];
	char *dir = report_target(report);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	int inside = realpath(store, rs) && realpath(slash ? (*dir ? dir : "/") : ".", rr) &&
		     !strncmp(rr, rs, strlen(rs)) && (rr[strlen(rs)] == 0 || rr[strlen(rs)] == '/');
	free(dir);
	return inside;
}

/* A format option's file, read here: formats never open files. */
static int read_option_file(const char *opt, const char *path, sl_buf *b, sl_err *err)
{
	FILE *f = fopen(path, "rbe");
	if (!f)
		return sl_fail_errno(err, SL_E_USAGE, errno, "--%s %s", opt, path);
	char tmp[65536];
	size_t n;
	while ((n = fread(tmp, 1, sizeof tmp, f)) > 0 && b->len < (16u << 20))
		sl_buf_add(b, tmp, n);
	int bad = ferror(f) || b->len >= (16u << 20);
	fclose(f);
	return bad ? sl_fail(err, SL_E_USAGE, "--%s %s: unreadable or larger than 16 MiB", opt, path)
		   : 0;
}

/* The reference's SHA-256 (the digest its opaque item will have), for the
 * formats that point at it (SL_FORMAT_REFERENCE). */
static int reference_digest(const char *path, char hex[65], sl_err *err)
{
	FILE *f = fopen(path, "rbe");
	struct stat st;
	if (!f || fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
		int en = errno;
		if (f)
			fclose(f);
		return f ? sl_fail(err, SL_E_USAGE, "--reference %s: not a regular file", path)
			 : sl_fail_errno(err, SL_E_USAGE, en, "--reference %s", path);
	}
	sl_sha256 *h = sl_sha256_new();
	char *tmp = sl_xmalloc(1 << 20);
	size_t n;
	while ((n = fread(tmp, 1, 1 << 20, f)) > 0)
		sl_sha256_update(h, tmp, n);
	int bad = ferror(f);
	fclose(f);
	free(tmp);
	uint8_t d[32];
	sl_sha256_final(h, d);
	sl_sha256_free(h);
	if (bad)
		return sl_fail(err, SL_E_USAGE, "--reference %s: read error", path);
	sl_hex(hex, d, 32);
	return 0;
}

static int configure_reference(struct engine *e, const char *path, sl_err *err)
{
	char hex[65];
	int rc = reference_digest(path, hex, err);
	for (size_t i = 0; rc == 0 && sl_formats[i]; i++) {
		if (!(sl_formats[i]->flags & SL_FORMAT_REFERENCE))
			continue;
		rc = sl_formats[i]->configure(&e->fmt_conf[i], "reference-sha256", hex, 64, err);
		if (rc == 0)
			rc = sl_formats[i]->configure(&e->fmt_conf[i], "reference", path,
						      strlen(path), err);
	}
	return rc;
}

static int configure_formats(struct engine *e, const struct sl_ingest_opts *o, sl_err *err)
{
	size_t nf = 0;
	while (sl_formats[nf])
		nf++;
	e->fmt_conf = sl_xcalloc(nf, sizeof *e->fmt_conf);
	for (size_t p = 0; p < o->nfmt_opts; p++) {
		const char *name = o->fmt_opts[2 * p], *value = o->fmt_opts[2 * p + 1];
		const struct sl_format_option *opt = NULL;
		size_t i;
		for (i = 0; i < nf && !opt; i++)
			for (const struct sl_format_option *x = sl_formats[i]->options; x && x->name; x++)
				if (!strcmp(x->name, name))
					opt = x;
		if (!opt)
			return sl_fail(err, SL_E_USAGE, "unknown option --%s", name);
		i--;
		sl_buf content;
		sl_buf_init(&content);
		int rc = opt->is_file ? read_option_file(name, value, &content, err) : 0;
		if (rc == 0 && opt->is_file)
			rc = sl_formats[i]->configure(&e->fmt_conf[i], name, content.data ? content.data
						      : "", content.len, err);
		else if (rc == 0)
			rc = sl_formats[i]->configure(&e->fmt_conf[i], name, value, strlen(value), err);
		sl_buf_free(&content);
		if (rc < 0)
			return rc;
	}
	return o->reference ? configure_reference(e, o->reference, err) : 0;
}

static void release_formats(struct engine *e)
{
	for (size_t i = 0; e->fmt_conf && sl_formats[i]; i++)
		if (e->fmt_conf[i] && sl_formats[i]->release)
			sl_formats[i]->release(e->fmt_conf[i]);
	free(e->fmt_conf);
}

/* Each --opaque prefix as the matcher compares it (sl_path_normal), and
 * also where it resolves to when a symbolic link is on its way, so that a
 * prefix given as ./refs, refs/ or its absolute path, or through a link,
 * matches the files found under the SRC however that was written. */
static void normalise_opaque(struct engine *e, const struct sl_ingest_opts *o)
{
	e->opaque = sl_xcalloc(2 * o->nopaque + 1, sizeof *e->opaque);
	for (size_t i = 0; i < o->nopaque; i++) {
		char *n = sl_path_normal(o->opaque[i]), *real = realpath(o->opaque[i], NULL);
		e->opaque[e->nopaque++] = n;
		if (real && strcmp(real, n))
			e->opaque[e->nopaque++] = real;
		else
			free(real);
	}
}

static int setup(struct engine *e, const struct sl_ingest_opts *o, FILE **report,
		 struct stat *store_st, sl_err *err)
{
	normalise_opaque(e, o);
	int rc = configure_formats(e, o, err);
	if (rc < 0)
		return rc;
	rc = sl_key_load(&e->key, o->key_file, err);
	if (rc < 0)
		return rc;
	if (o->subject_map && (rc = sl_subject_map_load(&e->smap, o->subject_map, err)) < 0)
		return rc;
	e->dctx.key = e->key;
	e->dctx.subjects = e->smap;
	struct sl_store_opts so = {.flags = SL_STORE_CREATE | (o->direct ? SL_STORE_DIRECT : 0),
		.writer = o->writer, .backend = o->backend};
	if ((rc = sl_store_open(&e->st, o->store_dir, &so, NULL, err)) < 0 ||
	    (rc = sl_store_bind_key(e->st, sl_key_fingerprint(e->key), err)) < 0)
		return rc;
	/* Discovery must never walk into the store (a SRC above it would
	 * ingest the store's own files): without its identity, refuse to run. */
	if (stat(o->store_dir, store_st) < 0)
		return sl_fail_errno(err, SL_E_STATE, errno, "cannot stat the store %s",
				     o->store_dir);
	if (o->report_path) {
		if (report_inside_store(o->report_path, o->store_dir))
			return sl_fail(err, SL_E_USAGE, "the report names source paths: "
				       "write it outside the store (%s)", o->report_path);
		*report = fopen(o->report_path, "we");
		if (!*report)
			return sl_fail_errno(err, SL_E_USAGE, errno, "cannot write report %s",
					     o->report_path);
	}
	e->tmp_dir = sl_store_tmp_dir(e->st);
	fingerprints(e);
	return 0;
}

static void committer_loop(struct committer *c, struct disc_arg *d)
{
	struct engine *e = c->e;
	void *got[256];
	for (;;) {
		if (was_interrupted() && !sl_engine_stopped(e))
			sl_engine_stop(e, "interrupted");
		size_t n = sl_queue_pop(&e->results, got, 256, COMMIT_INTERVAL_MS);
		for (size_t i = 0; i < n; i++) {
			struct result *r = got[i];
			if (r->status != R_COMMIT) {
				finish_result(c, r);
				continue;
			}
			if (!c->nbatch)
				c->first_pending = now_s();
			c->batch[c->nbatch++] = r;
			if (c->nbatch == c->maxbatch)
				commit_batch(c);
		}
		if (c->nbatch && (n == 0 || now_s() - c->first_pending > COMMIT_INTERVAL_MS / 1e3))
			commit_batch(c);
		disc_progress(c, d, 0);
		if (n == 0 && sl_queue_drained(&e->results))
			break;
	}
	commit_batch(c);
}

/* Workers start before discovery, so that a failed start leaves nothing
 * discovered and so nothing unaccounted for.  Returns how many started; when
 * not all, the run is stopped with the error in *err, the task queue is
 * closed (those started drain it and exit) and the result queue closes when
 * the last of them leaves (or now, if none started). */
static unsigned start_workers(struct engine *e, struct worker *w, sl_err *err)
{
	e->workers_left = e->nworkers;
	unsigned i;
	int en = 0;
	for (i = 0; i < e->nworkers; i++)
		if ((en = pthread_create(&w[i].thread, NULL, sl_worker_main, &w[i])) != 0)
			break;
	if (i == e->nworkers)
		return i;
	sl_fail_errno(err, SL_E_STATE, en, "cannot start worker thread %u of %u", i + 1,
		      e->nworkers);
	sl_engine_stop(e, err->msg);
	sl_queue_close(&e->tasks);
	pthread_mutex_lock(&e->workers_mu);
	e->workers_left -= e->nworkers - i;
	if (e->workers_left == 0)
		sl_queue_close(&e->results);
	pthread_mutex_unlock(&e->workers_mu);
	return i;
}

/* Without the discovery thread nothing is discovered: the run stops with
 * the error and the workers, finding the task queue closed, end it.  When
 * the workers could not all start, discovery is not started at all. */
static int start_discovery(struct engine *e, struct disc_arg *d, pthread_t *t, sl_err *err)
{
	int en = pthread_create(t, NULL, discover_main, d);
	if (en == 0)
		return 1;
	sl_fail_errno(err, SL_E_STATE, en, "cannot start the discovery thread");
	sl_engine_stop(e, err->msg);
	sl_queue_close(&e->tasks);
	return 0;
}

int sl_ingest(const struct sl_ingest_opts *o, struct sl_ingest_summary *sum, sl_err *err)
{
	memset(sum, 0, sizeof *sum);
	struct engine eng = {.o = o}, *e = &eng;
	pthread_mutex_init(&e->stop_mu, NULL);
	pthread_mutex_init(&e->workers_mu, NULL);
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	e->nworkers = o->threads ? o->threads : (unsigned)(ncpu > 0 ? ncpu : 1);
	sum->threads = e->nworkers;
	FILE *report = NULL;
	struct worker *w = sl_xcalloc(e->nworkers, sizeof *w);
	struct stat sst;
	int rc = setup(e, o, &report, &sst, err);
	for (unsigned i = 0; rc == 0 && i < e->nworkers; i++) {
		struct sl_io_opts io = {.mode = o->io_mode, .direct = o->direct};
		w[i] = (struct worker){.e = e, .h = sl_sha256_new()};
		rc = sl_io_new(&w[i].io, &io, err);
		if (rc == 0)
			rc = sl_store_writer_new(e->st, w[i].io, &w[i].sw, err);
	}
	if (rc == 0) {
		sum->io_backend = sl_io_backend(w[0].io);
		struct sigaction sa = {.sa_handler = on_signal};
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		sl_queue_init(&e->tasks, 4096);
		sl_queue_init(&e->results, 4096);
		struct disc_arg d = {.e = e};
		d.dopts = (struct sl_discover_opts){.srcs = o->srcs, .nsrcs = o->nsrcs,
			.follow_symlinks = o->follow_symlinks, .skip_dev = sst.st_dev,
			.skip_ino = sst.st_ino, .stop = &e->stop,
			.opaque = (const char *const *)e->opaque, .nopaque = e->nopaque};
		struct committer c = {.e = e, .sum = sum, .report = report};
		c.maxbatch = o->batch_items ? o->batch_items : DEFAULT_BATCH;
		c.batch = sl_xmalloc(c.maxbatch * sizeof *c.batch);
		c.t0 = c.last_progress = now_s();
		sl_err start_err = {0};
		unsigned started = start_workers(e, w, &start_err);
		pthread_t dt;
		int disc = started == e->nworkers && start_discovery(e, &d, &dt, &start_err);
		if (!disc) /* nothing discovered: the count of 0 is final */
			__atomic_store_n(&d.over, 1, __ATOMIC_RELEASE);
		committer_loop(&c, &d);
		if (disc)
			pthread_join(dt, NULL);
		for (unsigned i = 0; i < started; i++)
			pthread_join(w[i].thread, NULL);
		disc_progress(&c, &d, 1);
		sum->discovered = d.found;
		sum->seconds = now_s() - c.t0;
		sum->stopped = sl_engine_stopped(e);
		if (sum->stopped)
			snprintf(sum->stop_reason, sizeof sum->stop_reason, "%.*s",
				 (int)sizeof sum->stop_reason - 1, e->stop_why);
		if (start_err.code)
			rc = sl_fail(err, start_err.code, "%s", start_err.msg);
		else if (c.fatal)
			rc = sl_fail(err, c.fatal_err.code, "%s", c.fatal_err.msg);
		else if (sum->stopped && !was_interrupted())
			rc = sl_fail(err, SL_E_NOSPC, "%s", sum->stop_reason);
		free(c.batch);
		sl_queue_destroy(&e->tasks);
		sl_queue_destroy(&e->results);
	}
	for (unsigned i = 0; i < e->nworkers; i++) {
		sl_store_writer_free(w[i].sw);
		if (w[i].io)
			sl_io_free(w[i].io);
		sl_sha256_free(w[i].h);
	}
	free(w);
	if (report)
		fclose(report);
	if (e->st)
		sl_store_close(e->st);
	sl_key_free(e->key);
	sl_subject_map_free(e->smap);
	for (size_t i = 0; i < e->nopaque; i++)
		free(e->opaque[i]);
	free(e->opaque);
	free(e->fmt_fp);
	release_formats(e);
	return rc;
}

void sl_ingest_summary_free(struct sl_ingest_summary *s)
{
	for (size_t i = 0; i < s->nreasons; i++)
		free(s->reasons[i].reason);
	free(s->reasons);
	s->reasons = NULL;
	s->nreasons = 0;
}
