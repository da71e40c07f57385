/*
 * backend_local.c: the local object backend: small objects (up to
 * LOCAL_PACK_MAX) in append-only pack files, larger ones in files of their
 * own, objects/ab/<digest>.  Each writer (one per thread) appends to a pack
 * of its own, so records never interleave and appends need no lock; a
 * writer gathers records in memory and writes them in one write per batch.
 * A large object streams to a temp file (by reference, O_DIRECT where
 * allowed), is fsynced and renamed into place.  A location is (pack id,
 * offset of the data) or (-1, 0) for a file of its own.
 *
 * A pack's id is recorded (row "pack/N", committed end 0) before its file
 * exists, so a writable open knows every pack a run made; each commit
 * records the end of the last record its items use.  Repair cuts a pack
 * back to that end, or removes it when nothing in it was committed.
 */
#include "backend.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCAL_PACK_MAX (4u << 20)   /* larger objects get a file of their own */
#define PACK_ROLL (1ull << 30)
#define PACK_HDR 16
#define REC_HDR 48
#define PEND_MAX (8u << 20)

struct sl_backend {
	char *dir;
	int flags;
	struct sl_backend_env env;
	pthread_mutex_t mu;       /* writers' dirty state, dirty dirs, committed ends */
	sl_bwriter *writers;
	char **dirty_dirs;
	size_t ndirty_dirs;
	pthread_mutex_t alloc_mu; /* next_pack */
	int64_t next_pack;
	uint64_t *committed;      /* per pack id: committed end (0: none) */
	size_t ncommitted;
};

struct sl_bwriter {
	sl_backend *b;
	sl_io *io;
	int pack_fd;
	int64_t pack_id;
	uint64_t pack_end;   /* where the next record goes */
	int dirty;           /* written since the last barrier */
	uint8_t *pend;       /* records gathered but not yet written */
	size_t pend_len, pend_cap;
	uint64_t pend_off;   /* pack offset of pend[0] */
	sl_err ferr;         /* a failed write, kept until flush reports it */
	int old_fds[8];      /* earlier packs that still need their barrier */
	int nold;
	sl_bwriter *next;
};

struct sl_bput {
	sl_bwriter *w;
	uint8_t *buf;        /* a small object's bytes */
	size_t len, cap;
	uint64_t size;
	int fd, direct;
	sl_writer *wr;
	char tmp[4096];
};

void sl_backend_rows_add(struct sl_backend_rows *r, const char *key, int64_t value)
{
	for (size_t i = 0; i < r->n; i++)
		if (!strcmp(r->v[i].key, key)) {
			if (value > r->v[i].value)
				r->v[i].value = value;
			return;
		}
	if (r->n == r->cap) {
		r->cap = r->cap ? 2 * r->cap : 16;
		r->v = sl_xrealloc(r->v, r->cap * sizeof *r->v);
	}
	snprintf(r->v[r->n].key, sizeof r->v[r->n].key, "%s", key);
	r->v[r->n++].value = value;
}

static uint64_t record_end(uint64_t data_off, uint64_t size) { return (data_off + size + 7) & ~7ull; }

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t rd64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void pack_path(const sl_backend *b, int64_t id, char *out, size_t n)
{
	snprintf(out, n, "%s/packs/pack-%08lld.pack", b->dir, (long long)id);
}

static void object_path(const sl_backend *b, const uint8_t d[32], char *out, size_t n)
{
	char hex[65];
	sl_hex(hex, d, 32);
	snprintf(out, n, "%s/objects/%.2s/%s", b->dir, hex, hex);
}

/* Remember a folder (relative to the store) to fsync at the next barrier; mu held. */
static void dirty_dir(sl_backend *b, const char *rel)
{
	for (size_t i = 0; i < b->ndirty_dirs; i++)
		if (!strcmp(b->dirty_dirs[i], rel))
			return;
	b->dirty_dirs = sl_xrealloc(b->dirty_dirs, (b->ndirty_dirs + 1) * sizeof *b->dirty_dirs);
	b->dirty_dirs[b->ndirty_dirs++] = sl_xstrdup(rel);
}

static uint64_t committed_end(const sl_backend *b, int64_t id)
{
	return id >= 0 && (uint64_t)id < b->ncommitted ? b->committed[id] : 0;
}

static void set_committed(sl_backend *b, int64_t id, uint64_t end)
{
	if (id < 0)
		return;
	if ((uint64_t)id >= b->ncommitted) {
		size_t n = b->ncommitted ? b->ncommitted : 64;
		while (n <= (uint64_t)id)
			n *= 2;
		b->committed = sl_xrealloc(b->committed, n * sizeof *b->committed);
		memset(b->committed + b->ncommitted, 0, (n - b->ncommitted) * sizeof *b->committed);
		b->ncommitted = n;
	}
	if (end > b->committed[id])
		b->committed[id] = end;
}

/* ---- open and repair ---- */

static int64_t pack_id_of(const char *name)
{
	long long id;
	char tail;
	if (sscanf(name, "pack-%lld.pac%c", &id, &tail) == 2 && tail == 'k' &&
	    strlen(name) == strlen("pack-00000000.pack"))
		return id;
	return -1;
}

/* The highest pack id named by a file in packs/ (0 if none). */
static int64_t max_pack_file(const sl_backend *b)
{
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/packs", b->dir);
	DIR *d = opendir(dir);
	int64_t maxid = 0;
	struct dirent *de;
	while (d && (de = readdir(d))) {
		int64_t id = pack_id_of(de->d_name);
		if (id > maxid)
			maxid = id;
	}
	if (d)
		closedir(d);
	return maxid;
}

struct load {
	sl_backend *b;
	int64_t maxid;
	int empty;
};

static int load_row(void *ctx, const char *key, int64_t value)
{
	struct load *l = ctx;
	long long id;
	if (sscanf(key, "pack/%lld", &id) != 1 || id < 0)
		return 0;
	if (id > l->maxid)
		l->maxid = id;
	l->empty += value == 0;
	set_committed(l->b, id, (uint64_t)(value > 0 ? value : 0));
	return 0;
}

/* Cut one pack back to its committed end, or remove it when nothing in it
 * was ever committed.  A pack shorter than committed is damage: left for
 * verify to report. */
static int repair_pack(sl_backend *b, int64_t id, uint64_t committed,
		       struct sl_backend_repair *rep, sl_err *err)
{
	char p[4096];
	pack_path(b, id, p, sizeof p);
	if (committed == 0) {
		if (unlink(p) == 0)
			rep->truncated++;
		else if (errno != ENOENT)
			return sl_fail_errno(err, SL_E_IO, errno, "cannot remove pack %lld", (long long)id);
		return 0;
	}
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0 || (uint64_t)sb.st_size <= committed) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	int rc = 0;
	if (ftruncate(fd, (off_t)committed) < 0 || fsync(fd) < 0)
		rc = sl_fail_errno(err, SL_E_IO, errno, "cannot repair pack %lld", (long long)id);
	close(fd);
	rep->truncated++;
	return rc;
}

/* The packs whose rows say nothing was committed in them. */
struct zero {
	int64_t *v;
	size_t n;
};

static int collect_zero(void *ctx, const char *key, int64_t value)
{
	struct zero *z = ctx;
	long long id;
	if (value == 0 && sscanf(key, "pack/%lld", &id) == 1) {
		z->v = sl_xrealloc(z->v, (z->n + 1) * sizeof *z->v);
		z->v[z->n++] = id;
	}
	return 0;
}

/* Every pack a run makes has a row before its file exists, so the rows say
 * what to repair.  A file without a row was not made by sluice: it is left
 * alone, but its id is never reused. */
static int repair_packs(sl_backend *b, struct load *l, struct sl_backend_repair *rep, sl_err *err)
{
	int rc = 0;
	for (size_t id = 0; rc == 0 && id < b->ncommitted && (int64_t)id <= l->maxid; id++)
		if (b->committed[id])
			rc = repair_pack(b, (int64_t)id, b->committed[id], rep, err);
	if (rc < 0 || !l->empty)
		return rc;
	/* Rows with nothing committed: the files go, made durable, then the rows. */
	struct zero z = {0};
	rc = b->env.rows(b->env.ctx, "pack/", collect_zero, &z, err);
	for (size_t i = 0; rc == 0 && i < z.n; i++)
		rc = repair_pack(b, z.v[i], 0, rep, err);
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/packs", b->dir);
	if (rc == 0 && (rc = sl_fsync_dir(dir)) < 0)
		rc = sl_fail_errno(err, SL_E_IO, -rc, "cannot fsync the packs folder");
	for (size_t i = 0; rc == 0 && i < z.n; i++) {
		char key[48];
		snprintf(key, sizeof key, "pack/%lld", (long long)z.v[i]);
		rc = b->env.del_now(b->env.ctx, key, err);
	}
	free(z.v);
	return rc;
}

static int mkdir_sub(const char *dir, const char *sub)
{
	char p[4096];
	snprintf(p, sizeof p, "%s/%s", dir, sub);
	return mkdir(p, 0750) < 0 && errno != EEXIST ? -errno : 0;
}

static void local_close(sl_backend *b);

static int local_open(sl_backend **out, const char *dir, int flags, const struct sl_backend_env *env,
		      struct sl_backend_repair *rep, sl_err *err)
{
	sl_backend *b = sl_xcalloc(1, sizeof *b);
	b->dir = sl_xstrdup(dir);
	b->flags = flags;
	b->env = *env;
	pthread_mutex_init(&b->mu, NULL);
	pthread_mutex_init(&b->alloc_mu, NULL);
	*out = b;
	int rc = 0;
	if (flags & SL_STORE_CREATE) {
		if ((rc = mkdir_sub(dir, "packs")) < 0 || (rc = mkdir_sub(dir, "objects")) < 0)
			rc = sl_fail_errno(err, SL_E_STATE, -rc, "cannot create the object folders");
	}
	struct load l = {.b = b};
	if (rc == 0)
		rc = env->rows(env->ctx, "pack/", load_row, &l, err);
	if (rc == 0 && !(flags & SL_STORE_READONLY)) {
		int64_t f = max_pack_file(b);
		if (f > l.maxid)
			l.maxid = f;
		rc = repair_packs(b, &l, rep, err);
	}
	b->next_pack = l.maxid + 1;
	if (rc < 0) {
		local_close(b);
		*out = NULL;
	}
	return rc;
}

static void writer_close_fds(sl_bwriter *w)
{
	if (w->pack_fd >= 0)
		close(w->pack_fd);
	for (int j = 0; j < w->nold; j++)
		close(w->old_fds[j]);
	w->pack_fd = -1;
	w->nold = 0;
}

static void local_close(sl_backend *b)
{
	if (!b)
		return;
	for (sl_bwriter *w = b->writers, *n; w; w = n) {
		n = w->next;
		writer_close_fds(w);
		free(w->pend);
		free(w);
	}
	for (size_t i = 0; i < b->ndirty_dirs; i++)
		free(b->dirty_dirs[i]);
	free(b->dirty_dirs);
	free(b->committed);
	pthread_mutex_destroy(&b->mu);
	pthread_mutex_destroy(&b->alloc_mu);
	free(b->dir);
	free(b);
}

/* ---- writing ---- */

static int local_writer_new(sl_backend *b, sl_io *io, sl_bwriter **out, sl_err *err)
{
	sl_bwriter *w = sl_xcalloc(1, sizeof *w);
	w->b = b;
	w->io = io;
	w->pack_fd = -1;
	/* the backend keeps writers until it closes: a barrier may still need
	 * the descriptors of a writer whose thread has finished */
	pthread_mutex_lock(&b->mu);
	w->next = b->writers;
	b->writers = w;
	pthread_mutex_unlock(&b->mu);
	*out = w;
	return 0;
}

static void local_writer_free(sl_bwriter *w) { (void)w; /* freed with the backend */ }

/* Write the gathered records.  A failure is kept until flush reports it:
 * a write made on the way (a pack roll, a full buffer) cannot reject the
 * items whose objects were lost, so the worker's own flush must see it. */
static int write_pending(sl_bwriter *w)
{
	int rc = 0;
	if (w->pend_len) {
		rc = sl_io_pwrite(w->io, w->pack_fd, w->pend, w->pend_len, w->pend_off);
		if (rc < 0 && !w->ferr.code)
			sl_fail_errno(&w->ferr, -rc == ENOSPC ? SL_E_NOSPC : SL_E_IO, -rc,
				      "cannot append to pack %lld", (long long)w->pack_id);
	}
	pthread_mutex_lock(&w->b->mu);
	if (rc == 0 && w->pend_len)
		w->dirty = 1;
	pthread_mutex_unlock(&w->b->mu);
	if (rc < 0) /* the records never reached the file: reuse the space */
		w->pack_end = w->pend_off;
	w->pend_off += rc == 0 ? w->pend_len : 0;
	w->pend_len = 0;
	return rc;
}

static int local_flush(sl_bwriter *w, sl_err *err)
{
	write_pending(w);
	return sl_err_take(&w->ferr, err);
}

static int kept_failure(const sl_bwriter *w, sl_err *err)
{
	if (err)
		*err = w->ferr;
	return -w->ferr.code;
}

/* A new pack id, recorded (committed at once) before its file exists. */
static int alloc_pack(sl_backend *b, int64_t *id, sl_err *err)
{
	pthread_mutex_lock(&b->alloc_mu);
	char key[48];
	snprintf(key, sizeof key, "pack/%lld", (long long)b->next_pack);
	int rc = b->env.put_now(b->env.ctx, key, 0, err);
	if (rc == 0)
		*id = b->next_pack++;
	pthread_mutex_unlock(&b->alloc_mu);
	return rc;
}

static int create_pack(sl_bwriter *w, int64_t id, sl_err *err)
{
	char path[4096];
	pack_path(w->b, id, path, sizeof path);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return sl_fail_errno(err, errno == ENOSPC ? SL_E_NOSPC : SL_E_IO, errno,
				     "cannot create pack %lld", (long long)id);
	uint8_t hdr[PACK_HDR];
	memcpy(hdr, "SLPACK01", 8);
	le64(hdr + 8, (uint64_t)id);
	int rc = sl_io_pwrite(w->io, fd, hdr, sizeof hdr, 0);
	if (rc < 0) {
		close(fd);
		unlink(path);
		return sl_fail_errno(err, -rc == ENOSPC ? SL_E_NOSPC : SL_E_IO, -rc,
				     "cannot write pack %lld", (long long)id);
	}
	return fd;
}

/* Move the writer to a new pack; the old one stays open until a barrier
 * has fsynced it. */
static int roll_pack(sl_bwriter *w, sl_err *err)
{
	sl_backend *b = w->b;
	if (write_pending(w) < 0)
		return kept_failure(w, err);
	pthread_mutex_lock(&b->mu);
	int full = w->pack_fd >= 0 && w->nold == (int)(sizeof w->old_fds / sizeof w->old_fds[0]);
	pthread_mutex_unlock(&b->mu);
	if (full)
		return sl_fail(err, SL_E_STATE, "too many packs awaiting commit");
	int64_t id = 0;
	int rc = alloc_pack(b, &id, err);
	int fd = rc < 0 ? rc : create_pack(w, id, err);
	if (fd < 0)
		return fd;
	pthread_mutex_lock(&b->mu);
	if (w->pack_fd >= 0)
		w->old_fds[w->nold++] = w->pack_fd;
	w->pack_fd = fd;
	w->pack_id = id;
	w->pack_end = w->pend_off = PACK_HDR;
	w->dirty = 1;
	dirty_dir(b, "packs"); /* the new name must survive a crash */
	pthread_mutex_unlock(&b->mu);
	return 0;
}

/* Move to the large-object path: a temp file and a streaming writer. */
static int spill(sl_bput *p, sl_err *err)
{
	static unsigned long counter;
	unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	snprintf(p->tmp, sizeof p->tmp, "%s/obj-%d-%lu", p->w->b->env.tmp_dir, (int)getpid(), n);
	int fd = sl_io_open_out(p->w->io, p->tmp, 0640, !!(p->w->b->flags & SL_STORE_DIRECT),
				&p->direct);
	if (fd < 0) {
		p->tmp[0] = 0;
		return sl_fail_errno(err, -fd == ENOSPC ? SL_E_NOSPC : SL_E_IO, -fd,
				     "cannot create a temp object file");
	}
	p->fd = fd;
	p->wr = sl_writer_new(p->w->io, fd, 0, p->direct);
	int rc = 0;
	if (p->len)
		rc = sl_writer_write(p->wr, p->buf, p->len, err);
	free(p->buf);
	p->buf = NULL;
	p->len = p->cap = 0;
	return rc;
}

static void local_put_abort(sl_bput *p)
{
	if (!p)
		return;
	if (p->wr)
		sl_writer_free(p->wr);
	if (p->fd >= 0)
		close(p->fd);
	if (p->tmp[0])
		unlink(p->tmp);
	free(p->buf);
	free(p);
}

static int local_put_begin(sl_bwriter *w, uint64_t size_hint, sl_bput **out, sl_err *err)
{
	sl_bput *p = sl_xcalloc(1, sizeof *p);
	p->w = w;
	p->fd = -1;
	*out = p;
	if (size_hint > LOCAL_PACK_MAX) {
		int rc = spill(p, err);
		if (rc < 0) {
			local_put_abort(p);
			*out = NULL;
		}
		return rc;
	}
	return 0;
}

static int buffer(sl_bput *p, const void *data, size_t n, sl_err *err)
{
	if (n == 0) /* an empty object: nothing to copy, and no buffer yet */
		return 0;
	if (p->len + n > LOCAL_PACK_MAX) {
		int rc = spill(p, err);
		return rc < 0 ? rc : sl_writer_write(p->wr, data, n, err);
	}
	if (p->len + n > p->cap) {
		size_t cap = p->cap ? p->cap : 16384;
		while (cap < p->len + n)
			cap *= 2;
		p->buf = sl_xrealloc(p->buf, cap);
		p->cap = cap;
	}
	memcpy(p->buf + p->len, data, n);
	p->len += n;
	return 0;
}

static int local_put_write(sl_bput *p, const void *data, size_t n, sl_err *err)
{
	p->size += n;
	return p->wr ? sl_writer_write(p->wr, data, n, err) : buffer(p, data, n, err);
}

static int local_put_chunk(sl_bput *p, sl_chunk *c, size_t off, size_t n, sl_err *err)
{
	p->size += n;
	return p->wr ? sl_writer_put(p->wr, c, off, n, err) : buffer(p, c->data + off, n, err);
}

/* Append the record to the writer's gathered bytes. */
static int append_small(sl_bput *p, const uint8_t d[32], struct sl_objref *ref, sl_err *err)
{
	sl_bwriter *w = p->w;
	uint64_t rec = record_end(REC_HDR, p->len);
	int rc = 0;
	if (w->pack_fd < 0 || w->pack_end + rec > PACK_ROLL)
		rc = roll_pack(w, err);
	else if (w->pend_len + rec > PEND_MAX && write_pending(w) < 0)
		rc = kept_failure(w, err);
	if (rc < 0)
		return rc;
	if (w->pend_len + rec > w->pend_cap) {
		w->pend_cap = w->pend_len + rec > 65536 ? w->pend_len + rec : 65536;
		w->pend = sl_xrealloc(w->pend, w->pend_cap);
	}
	uint8_t *h = w->pend + w->pend_len;
	memcpy(h, "SLOB", 4);
	memset(h + 4, 0, 4);
	le64(h + 8, p->len);
	memcpy(h + 16, d, 32);
	if (p->len)
		memcpy(h + REC_HDR, p->buf, p->len);
	memset(h + REC_HDR + p->len, 0, rec - REC_HDR - p->len);
	w->pend_len += rec;
	ref->loc.a = w->pack_id;
	ref->loc.b = w->pack_end + REC_HDR;
	ref->deferred = 1;
	w->pack_end += rec;
	return 0;
}

static int place_large(sl_bput *p, const uint8_t d[32], struct sl_objref *ref, sl_err *err)
{
	sl_backend *b = p->w->b;
	char final[4096], dir[4096];
	object_path(b, d, final, sizeof final);
	snprintf(dir, sizeof dir, "%s", final);
	*strrchr(dir, '/') = 0;
	if (mkdir(dir, 0750) == 0) {
		pthread_mutex_lock(&b->mu);
		dirty_dir(b, "objects");
		pthread_mutex_unlock(&b->mu);
	} else if (errno != EEXIST) {
		return sl_fail_errno(err, SL_E_IO, errno, "cannot create an object folder");
	}
	if (rename(p->tmp, final) < 0)
		return sl_fail_errno(err, SL_E_IO, errno, "cannot move an object into place");
	p->tmp[0] = 0;
	pthread_mutex_lock(&b->mu);
	dirty_dir(b, dir + strlen(b->dir) + 1);
	pthread_mutex_unlock(&b->mu);
	ref->loc = (struct sl_loc){-1, 0};
	return 0;
}

/* A size hint can send an object to a temp file that ends up small.  It
 * goes into a pack like any other small object: where an object lives
 * depends on its size alone.  (The temp file may be O_DIRECT: read it
 * through a plain descriptor.) */
static int unspill(sl_bput *p, sl_err *err)
{
	int fd = open(p->tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sl_fail_errno(err, SL_E_IO, errno, "cannot reopen a temp object file");
	p->buf = sl_xmalloc(p->size ? p->size : 1);
	p->cap = p->size;
	ssize_t got = sl_pread_all(fd, p->buf, p->size, 0);
	close(fd);
	if (got < 0 || (size_t)got != p->size)
		return sl_fail_errno(err, SL_E_IO, got < 0 ? (int)-got : EIO,
				     "cannot read back a temp object file");
	p->len = p->size;
	sl_writer_free(p->wr);
	p->wr = NULL;
	close(p->fd);
	p->fd = -1;
	unlink(p->tmp);
	p->tmp[0] = 0;
	return 0;
}

static int local_put_finish(sl_bput *p, const uint8_t digest[32], struct sl_objref *ref, sl_err *err)
{
	int rc = 0;
	uint64_t end = 0;
	if (p->wr) {
		rc = sl_writer_finish(p->wr, &end, err);
		if (rc == 0 && p->size <= LOCAL_PACK_MAX)
			rc = unspill(p, err);
		/* The bytes must be durable before the name says they exist. */
		else if (rc == 0 && (rc = sl_io_fsync(p->w->io, p->fd)) < 0)
			rc = sl_fail_errno(err, SL_E_IO, -rc, "cannot fsync an object");
	}
	if (rc == 0)
		rc = p->wr ? place_large(p, digest, ref, err) : append_small(p, digest, ref, err);
	local_put_abort(p);
	return rc;
}

/* ---- barrier ---- */

/* Take, under mu, the descriptors of every pack written since the last
 * barrier (each ours to close) and the folders to fsync. */
static int *take_dirty(sl_backend *b, size_t *n, char ***dirs, size_t *ndirs)
{
	pthread_mutex_lock(&b->mu);
	size_t cap = 1;
	for (sl_bwriter *w = b->writers; w; w = w->next)
		cap += (size_t)w->nold + 1;
	int *fds = sl_xmalloc(cap * sizeof *fds);
	*n = 0;
	for (sl_bwriter *w = b->writers; w; w = w->next) {
		for (int j = 0; j < w->nold; j++)
			fds[(*n)++] = w->old_fds[j];
		w->nold = 0;
		/* a dup: the writer may roll this pack away before we are done */
		if (w->dirty && w->pack_fd >= 0)
			fds[(*n)++] = dup(w->pack_fd);
		w->dirty = 0;
	}
	*dirs = b->dirty_dirs;
	*ndirs = b->ndirty_dirs;
	b->dirty_dirs = NULL;
	b->ndirty_dirs = 0;
	pthread_mutex_unlock(&b->mu);
	return fds;
}

static int local_barrier(sl_backend *b, const struct sl_objref *const *refs, size_t nrefs,
			 struct sl_backend_rows *rows, sl_err *err)
{
	size_t n, ndirs;
	char **dirs;
	int *fds = take_dirty(b, &n, &dirs, &ndirs);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && (fds[i] < 0 || fsync(fds[i]) < 0))
			rc = sl_fail_errno(err, SL_E_IO, errno, "cannot fsync a pack");
		if (fds[i] >= 0)
			close(fds[i]);
	}
	free(fds);
	/* Object folders before objects/ itself, which gained the new folders. */
	for (size_t i = ndirs; i-- > 0;) {
		char p[4096];
		snprintf(p, sizeof p, "%s/%s", b->dir, dirs[i]);
		int e = rc == 0 ? sl_fsync_dir(p) : 0;
		if (e < 0)
			rc = sl_fail_errno(err, SL_E_IO, -e, "cannot fsync the %s folder",
					   strncmp(dirs[i], "objects", 7) ? "packs" : "object");
		free(dirs[i]);
	}
	free(dirs);
	/* Each pack's committed end: the furthest record the batch uses
	 * (records below it were written earlier by the same writer, so they
	 * are complete and, after the fsyncs above, durable). */
	for (size_t i = 0; rc == 0 && i < nrefs; i++) {
		if (refs[i]->loc.a < 0)
			continue;
		char key[48];
		snprintf(key, sizeof key, "pack/%lld", (long long)refs[i]->loc.a);
		uint64_t end = record_end(refs[i]->loc.b, refs[i]->size);
		pthread_mutex_lock(&b->mu);
		uint64_t have = committed_end(b, refs[i]->loc.a);
		pthread_mutex_unlock(&b->mu);
		sl_backend_rows_add(rows, key, (int64_t)(end > have ? end : have));
	}
	pthread_mutex_lock(&b->mu);
	for (size_t i = 0; rc == 0 && i < rows->n; i++) {
		long long id;
		if (sscanf(rows->v[i].key, "pack/%lld", &id) == 1)
			set_committed(b, id, (uint64_t)rows->v[i].value);
	}
	pthread_mutex_unlock(&b->mu);
	return rc;
}

/* ---- reading and checking ---- */

static int open_at(const sl_backend *b, const struct sl_objref *ref, uint64_t *base)
{
	char p[4096];
	if (ref->loc.a < 0) {
		object_path(b, ref->digest, p, sizeof p);
		*base = 0;
	} else {
		pack_path(b, ref->loc.a, p, sizeof p);
		*base = ref->loc.b;
	}
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

static int64_t local_get(sl_backend *b, const struct sl_objref *ref, uint64_t off, void *buf,
			 size_t len, sl_err *err)
{
	char hex[65];
	sl_hex(hex, ref->digest, 32);
	if (off >= ref->size)
		return 0;
	if (len > ref->size - off)
		len = (size_t)(ref->size - off);
	uint64_t base;
	int fd = open_at(b, ref, &base);
	if (fd < 0)
		return sl_fail_errno(err, SL_E_CORRUPT, -fd, "object %s: cannot open", hex);
	ssize_t got = sl_pread_all(fd, buf, len, base + off);
	int e = errno;
	close(fd);
	if (got < 0)
		return sl_fail_errno(err, SL_E_CORRUPT, e, "object %s: read", hex);
	if ((size_t)got < len)
		return sl_fail(err, SL_E_CORRUPT, "object %s: truncated", hex);
	return got;
}

static void say(sl_problem_fn problem, void *ctx, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void say(sl_problem_fn problem, void *ctx, const char *fmt, ...)
{
	char msg[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (problem)
		problem(ctx, msg);
}

static int local_has(sl_backend *b, const struct sl_objref *ref, sl_problem_fn problem, void *ctx)
{
	char hex[65], p[4096];
	sl_hex(hex, ref->digest, 32);
	if (ref->loc.a < 0) {
		struct stat sb;
		object_path(b, ref->digest, p, sizeof p);
		if (stat(p, &sb) < 0) {
			say(problem, ctx, "object %s: missing file", hex);
			return 0;
		}
		if ((uint64_t)sb.st_size != ref->size) {
			say(problem, ctx, "object %s: file is %llu bytes, catalog says %llu", hex,
			    (unsigned long long)sb.st_size, (unsigned long long)ref->size);
			return 0;
		}
		return 1;
	}
	/* Bytes past a pack's committed end are cut off by the next repair. */
	if (record_end(ref->loc.b, ref->size) > committed_end(b, ref->loc.a)) {
		say(problem, ctx, "object %s: lies beyond the committed end of pack %lld", hex,
		    (long long)ref->loc.a);
		return 0;
	}
	uint8_t h[REC_HDR];
	pack_path(b, ref->loc.a, p, sizeof p);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	int ok = fd >= 0 && ref->loc.b >= REC_HDR &&
		 pread(fd, h, REC_HDR, (off_t)(ref->loc.b - REC_HDR)) == REC_HDR;
	if (fd >= 0)
		close(fd);
	if (!ok) {
		say(problem, ctx, "object %s: pack %lld missing or too short", hex, (long long)ref->loc.a);
		return 0;
	}
	if (memcmp(h, "SLOB", 4) || rd64(h + 8) != ref->size || memcmp(h + 16, ref->digest, 32)) {
		say(problem, ctx, "object %s: pack %lld record header at offset %llu does not match the "
		    "catalog", hex, (long long)ref->loc.a, (unsigned long long)(ref->loc.b - REC_HDR));
		return 0;
	}
	return 1;
}

/* Walk pack id's records up to its committed end: cb per record (NULL:
 * only check), problems reported.  Returns 0, or cb's non-zero. */
static int walk_pack(sl_backend *b, int64_t id, uint64_t committed,
		     int (*cb)(void *, const struct sl_objref *), void *cbctx,
		     sl_problem_fn problem, void *ctx)
{
	char p[4096];
	uint8_t h[REC_HDR];
	uint64_t off = PACK_HDR;
	pack_path(b, id, p, sizeof p);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) < 0 || (uint64_t)sb.st_size < committed) {
		say(problem, ctx, "pack %lld: missing or shorter than committed (%llu bytes)",
		    (long long)id, (unsigned long long)committed);
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (pread(fd, h, PACK_HDR, 0) != PACK_HDR || memcmp(h, "SLPACK01", 8) ||
	    rd64(h + 8) != (uint64_t)id)
		say(problem, ctx, "pack %lld: bad header", (long long)id);
	int rc = 0;
	while (rc == 0 && off < committed) {
		if (pread(fd, h, REC_HDR, (off_t)off) != REC_HDR || memcmp(h, "SLOB", 4) ||
		    record_end(off + REC_HDR, rd64(h + 8)) > committed) {
			say(problem, ctx, "pack %lld: unparseable record at offset %llu", (long long)id,
			    (unsigned long long)off);
			break;
		}
		if (cb) {
			struct sl_objref r = {.size = rd64(h + 8), .loc = {id, off + REC_HDR}};
			memcpy(r.digest, h + 16, 32);
			rc = cb(cbctx, &r);
		}
		off = record_end(off + REC_HDR, rd64(h + 8));
	}
	close(fd);
	return rc;
}

static void local_check(sl_backend *b, sl_problem_fn problem, void *ctx)
{
	/* A pack with nothing committed may be one a writer has only just
	 * started; it holds no object. */
	for (size_t id = 0; id < b->ncommitted; id++)
		if (b->committed[id])
			walk_pack(b, (int64_t)id, b->committed[id], NULL, NULL, problem, ctx);
}

static int list_files(sl_backend *b, int (*cb)(void *, const struct sl_objref *), void *ctx)
{
	char top[4096];
	snprintf(top, sizeof top, "%s/objects", b->dir);
	DIR *d = opendir(top);
	struct dirent *de;
	int rc = 0;
	while (rc == 0 && d && (de = readdir(d))) {
		if (strlen(de->d_name) != 2)
			continue;
		char sub[4200];
		snprintf(sub, sizeof sub, "%s/%s", top, de->d_name);
		DIR *s = opendir(sub);
		struct dirent *e;
		while (rc == 0 && s && (e = readdir(s))) {
			struct sl_objref r = {.loc = {-1, 0}};
			struct stat sb;
			if (strlen(e->d_name) != 64 || sl_unhex(r.digest, e->d_name, 32) < 0 ||
			    fstatat(dirfd(s), e->d_name, &sb, 0) < 0)
				continue;
			r.size = (uint64_t)sb.st_size;
			rc = cb(ctx, &r);
		}
		if (s)
			closedir(s);
	}
	if (d)
		closedir(d);
	return rc;
}

static int local_list(sl_backend *b, int (*cb)(void *ctx, const struct sl_objref *ref), void *ctx,
		      sl_err *err)
{
	int rc = 0;
	for (size_t id = 0; rc == 0 && id < b->ncommitted; id++)
		if (b->committed[id])
			rc = walk_pack(b, (int64_t)id, b->committed[id], cb, ctx, NULL, NULL);
	return rc ? rc : list_files(b, cb, ctx);
}

const struct sl_backend_ops sl_backend_local = {
	.name = "local",
	.open = local_open,
	.close = local_close,
	.writer_new = local_writer_new,
	.writer_free = local_writer_free,
	.put_begin = local_put_begin,
	.put_write = local_put_write,
	.put_chunk = local_put_chunk,
	.put_finish = local_put_finish,
	.put_abort = local_put_abort,
	.flush = local_flush,
	.barrier = local_barrier,
	.get = local_get,
	.has = local_has,
	.list = local_list,
	.check = local_check,
};
