/*
 * objw.c: writing objects.  Small objects (up to SL_STORE_PACK_MAX) are
 * buffered, then gathered per writing slot and appended to the slot's own
 * pack in one write per batch (sl_store_flush): one pack per worker, so
 * appends never interleave and need no lock.  Larger ones stream to a temp
 * file (by reference, O_DIRECT where allowed), are fsynced and renamed to
 * objects/ab/<digest>.  An in-run set makes identical content written by
 * two workers at once land once.
 */
#include "store_impl.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sl_objw {
	sl_store *st;
	sl_io *io;
	unsigned slot;
	int nohash;
	sl_sha256 *h;
	uint8_t *buf;           /* a small object's bytes until finish */
	size_t len, cap;
	uint64_t size;
	int fd, direct;
	sl_writer *w;
	char tmp[4096];
};

uint64_t sl_pack_record_end(uint64_t data_off, uint64_t size)
{
	return (data_off + size + 7) & ~7ull;
}

int sl_catalog_has_object(sqlite3_stmt *q, const uint8_t d[32], struct sl_objref *ref)
{
	int found = 0;
	if (!q)
		return 0;
	sqlite3_reset(q);
	sqlite3_bind_blob(q, 1, d, 32, SQLITE_STATIC);
	if (sqlite3_step(q) == SQLITE_ROW) {
		memcpy(ref->digest, d, 32);
		ref->size = (uint64_t)sqlite3_column_int64(q, 0);
		ref->pack = sqlite3_column_type(q, 1) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 1);
		ref->offset = (uint64_t)sqlite3_column_int64(q, 2);
		found = 1;
	}
	sqlite3_reset(q);
	return found;
}

static struct inrun **bucket(sl_store *st, const uint8_t d[32])
{
	return &st->set[(d[0] << 4 | d[1] >> 4) & 4095];
}

static struct inrun *inrun_find(sl_store *st, const uint8_t d[32])
{
	for (struct inrun *e = *bucket(st, d); e; e = e->next)
		if (!memcmp(e->digest, d, 32))
			return e;
	return NULL;
}

void sl_store_inrun_forget(sl_store *st, const uint8_t d[32])
{
	pthread_mutex_lock(&st->mu);
	for (struct inrun **p = bucket(st, d); *p; p = &(*p)->next)
		if (!memcmp((*p)->digest, d, 32) && (*p)->done) {
			struct inrun *e = *p;
			*p = e->next;
			free(e);
			break;
		}
	pthread_mutex_unlock(&st->mu);
}

static int flush_pending(sl_store *st, sl_io *io, unsigned slot);

/* 1: the object exists (ref filled, fresh = 0); 0: the caller now owns the
 * claim and must call publish() after writing. */
static int claim(sl_objw *w, const uint8_t d[32], struct sl_objref *ref)
{
	sl_store *st = w->st;
	pthread_mutex_lock(&st->mu);
	for (;;) {
		struct inrun *e = inrun_find(st, d);
		if (e && e->done) {
			*ref = e->ref;
			ref->fresh = 0;
			pthread_mutex_unlock(&st->mu);
			return 1;
		}
		if (!e)
			break;
		/* Another worker is writing these very bytes.  Publish ours
		 * first: a worker waits only with nothing of its own pending,
		 * so whoever it waits for is not waiting, and the wait ends. */
		if (st->slots[w->slot].nclaims) {
			pthread_mutex_unlock(&st->mu);
			flush_pending(st, w->io, w->slot);
			pthread_mutex_lock(&st->mu);
			continue;
		}
		pthread_cond_wait(&st->cv, &st->mu);
	}
	pthread_mutex_unlock(&st->mu);
	if (sl_catalog_has_object(st->slots[w->slot].q_obj, d, ref)) {
		ref->fresh = 0;
		return 1;
	}
	pthread_mutex_lock(&st->mu);
	struct inrun *e = inrun_find(st, d);
	if (e) { /* claimed meanwhile: go round again */
		pthread_mutex_unlock(&st->mu);
		return claim(w, d, ref);
	}
	e = sl_xcalloc(1, sizeof *e);
	memcpy(e->digest, d, 32);
	e->next = *bucket(st, d);
	*bucket(st, d) = e;
	pthread_mutex_unlock(&st->mu);
	return 0;
}

/* Finish a claim (mu held): ok publishes the location, failure withdraws it. */
static void publish_locked(sl_store *st, const uint8_t d[32], const struct sl_objref *ref, int ok)
{
	for (struct inrun **p = bucket(st, d); *p; p = &(*p)->next)
		if (!memcmp((*p)->digest, d, 32)) {
			if (ok) {
				(*p)->ref = *ref;
				(*p)->done = 1;
			} else {
				struct inrun *e = *p;
				*p = e->next;
				free(e);
			}
			break;
		}
	pthread_cond_broadcast(&st->cv);
}

static void publish(sl_store *st, const uint8_t d[32], const struct sl_objref *ref, int ok)
{
	pthread_mutex_lock(&st->mu);
	publish_locked(st, d, ref, ok);
	pthread_mutex_unlock(&st->mu);
}

/* Write the slot's gathered records and publish their claims.  A failure
 * is kept in the slot until sl_store_flush hands it out: a flush made on the
 * way (a claim, a pack roll, a full buffer) cannot reject the items whose
 * objects were lost, so the worker's own flush must still see it. */
static int flush_pending(sl_store *st, sl_io *io, unsigned slot)
{
	struct slot *s = &st->slots[slot];
	int rc = 0;
	if (s->pend_len) {
		rc = sl_io_pwrite(io, s->pack_fd, s->pend, s->pend_len, s->pend_off);
		if (rc < 0 && !s->ferr.code)
			sl_fail_errno(&s->ferr, SL_E_IO, -rc, "cannot append to pack %lld",
				      (long long)s->pack_id);
	}
	pthread_mutex_lock(&st->mu);
	if (rc == 0 && s->pend_len)
		s->dirty = 1;
	for (size_t i = 0; i < s->nclaims; i++) {
		struct inrun *e = s->claims[i];
		publish_locked(st, e->digest, &e->ref, rc == 0);
	}
	s->nclaims = 0;
	pthread_mutex_unlock(&st->mu);
	if (rc < 0) /* the records never reached the file: reuse the space */
		s->pack_end = s->pend_off;
	s->pend_off += rc == 0 ? s->pend_len : 0;
	s->pend_len = 0;
	return rc;
}

/* The slot's kept failure as this call's error (it stays kept). */
static int slot_failure(const struct slot *s, sl_err *err)
{
	if (err)
		*err = s->ferr;
	return -s->ferr.code;
}

int sl_store_flush(sl_store *st, sl_io *io, unsigned slot, sl_err *err)
{
	struct slot *s = &st->slots[slot];
	flush_pending(st, io, slot);
	if (!s->ferr.code)
		return 0;
	int rc = slot_failure(s, err);
	memset(&s->ferr, 0, sizeof s->ferr);
	return rc;
}

/* Move to the large-object path: a temp file and a streaming writer. */
static int spill(sl_objw *w, sl_err *err)
{
	static unsigned long counter;
	unsigned long n = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	snprintf(w->tmp, sizeof w->tmp, "%s/tmp/obj-%d-%u-%lu", w->st->dir, (int)getpid(), w->slot, n);
	int fd = sl_io_open_out(w->io, w->tmp, 0640, !!(w->st->flags & SL_STORE_DIRECT), &w->direct);
	if (fd < 0) {
		w->tmp[0] = 0;
		return sl_fail_errno(err, SL_E_IO, -fd, "cannot create a temp object file");
	}
	w->fd = fd;
	w->w = sl_writer_new(w->io, fd, 0, w->direct);
	int rc = 0;
	if (w->len)
		rc = sl_writer_write(w->w, w->buf, w->len, err);
	free(w->buf);
	w->buf = NULL;
	w->len = w->cap = 0;
	return rc;
}

int sl_objw_begin(sl_store *st, sl_io *io, unsigned slot, int nohash, uint64_t size_hint,
		  sl_objw **out, sl_err *err)
{
	if (!st->slots || slot >= st->nslots)
		return sl_fail(err, SL_E_STATE, "store not open for writing (slot %u)", slot);
	sl_objw *w = sl_xcalloc(1, sizeof *w);
	w->st = st;
	w->io = io;
	w->slot = slot;
	w->nohash = nohash;
	w->fd = -1;
	if (!nohash)
		w->h = sl_sha256_new();
	*out = w;
	if (size_hint > SL_STORE_PACK_MAX) {
		int rc = spill(w, err);
		if (rc < 0) {
			sl_objw_abort(w);
			*out = NULL;
		}
		return rc;
	}
	return 0;
}

static int buffer(sl_objw *w, const void *p, size_t n, sl_err *err)
{
	if (w->len + n > SL_STORE_PACK_MAX) {
		int rc = spill(w, err);
		return rc < 0 ? rc : sl_writer_write(w->w, p, n, err);
	}
	if (w->len + n > w->cap) {
		size_t cap = w->cap ? w->cap : 16384;
		while (cap < w->len + n)
			cap *= 2;
		w->buf = sl_xrealloc(w->buf, cap);
		w->cap = cap;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
	return 0;
}

int sl_objw_write(sl_objw *w, const void *p, size_t n, sl_err *err)
{
	if (w->h)
		sl_sha256_update(w->h, p, n);
	w->size += n;
	return w->w ? sl_writer_write(w->w, p, n, err) : buffer(w, p, n, err);
}

int sl_objw_put(sl_objw *w, sl_chunk *c, size_t off, size_t n, sl_err *err)
{
	if (w->h)
		sl_sha256_update(w->h, c->data + off, n);
	w->size += n;
	return w->w ? sl_writer_put(w->w, c, off, n, err) : buffer(w, c->data + off, n, err);
}

static void le64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* A new pack id, recorded in the catalog (committed at once) before its
 * file exists: a writable open then knows every pack file a run made, and
 * can tell a pack that never got a committed object from one it must keep. */
static int alloc_pack(sl_store *st, int64_t *id, sl_err *err)
{
	int rc = 0;
	pthread_mutex_lock(&st->alloc_mu);
	sqlite3_stmt *q = st->q_pack;
	sqlite3_reset(q);
	sqlite3_bind_int64(q, 1, st->next_pack);
	if (sqlite3_step(q) == SQLITE_DONE)
		*id = st->next_pack++;
	else
		rc = sl_fail(err, sqlite3_errcode(st->alloc_db) == SQLITE_FULL ? SL_E_NOSPC : SL_E_IO,
			     "catalog: cannot record a new pack: %s", sqlite3_errmsg(st->alloc_db));
	sqlite3_reset(q);
	pthread_mutex_unlock(&st->alloc_mu);
	return rc;
}

static int create_pack(sl_objw *w, int64_t id, sl_err *err)
{
	char path[4096];
	sl_pack_path(w->st, id, path, sizeof path);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd < 0)
		return sl_fail_errno(err, SL_E_IO, errno, "cannot create pack %lld", (long long)id);
	uint8_t hdr[PACK_HDR];
	memcpy(hdr, "SLPACK01", 8);
	le64(hdr + 8, (uint64_t)id);
	int rc = sl_io_pwrite(w->io, fd, hdr, sizeof hdr, 0);
	if (rc < 0) {
		close(fd);
		unlink(path);
		return sl_fail_errno(err, SL_E_IO, -rc, "cannot write pack %lld", (long long)id);
	}
	return fd;
}

/* Move the slot to a new pack; the old one stays open until a commit has
 * fsynced it. */
static int roll_pack(sl_objw *w, sl_err *err)
{
	sl_store *st = w->st;
	struct slot *s = &st->slots[w->slot];
	if (flush_pending(st, w->io, w->slot) < 0)
		return slot_failure(s, err);
	pthread_mutex_lock(&st->mu); /* the committer empties old_fds */
	int full = s->pack_fd >= 0 && s->nold == (int)(sizeof s->old_fds / sizeof s->old_fds[0]);
	pthread_mutex_unlock(&st->mu);
	if (full)
		return sl_fail(err, SL_E_STATE, "too many packs awaiting commit");
	int64_t id = 0;
	int rc = alloc_pack(st, &id, err);
	int fd = rc < 0 ? rc : create_pack(w, id, err);
	if (fd < 0)
		return fd;
	pthread_mutex_lock(&st->mu);
	if (s->pack_fd >= 0)
		s->old_fds[s->nold++] = s->pack_fd;
	s->pack_fd = fd;
	s->pack_id = id;
	s->pack_end = s->pend_off = PACK_HDR;
	s->dirty = 1;
	sl_store_dirty_dir(st, "packs"); /* the new name must survive a crash */
	pthread_mutex_unlock(&st->mu);
	return 0;
}

#define PEND_MAX (8u << 20)

/* Append the record to the slot's pending bytes; the claim is published
 * when they are flushed. */
static int append_small(sl_objw *w, const uint8_t d[32], struct sl_objref *ref, sl_err *err)
{
	struct slot *s = &w->st->slots[w->slot];
	uint64_t rec = sl_pack_record_end(REC_HDR, w->len);
	int rc = 0;
	if (s->pack_fd < 0 || s->pack_end + rec > PACK_ROLL)
		rc = roll_pack(w, err);
	else if (s->pend_len + rec > PEND_MAX && flush_pending(w->st, w->io, w->slot) < 0)
		rc = slot_failure(s, err);
	if (rc < 0)
		return rc;
	if (s->pend_len + rec > s->pend_cap) {
		s->pend_cap = s->pend_len + rec > 65536 ? s->pend_len + rec : 65536;
		s->pend = sl_xrealloc(s->pend, s->pend_cap);
	}
	uint8_t *h = s->pend + s->pend_len;
	memcpy(h, "SLOB", 4);
	memset(h + 4, 0, 4);
	le64(h + 8, w->len);
	memcpy(h + 16, d, 32);
	if (w->len)
		memcpy(h + REC_HDR, w->buf, w->len);
	memset(h + REC_HDR + w->len, 0, rec - REC_HDR - w->len);
	s->pend_len += rec;
	ref->pack = s->pack_id;
	ref->offset = s->pack_end + REC_HDR;
	s->pack_end += rec;
	return 0;
}

/* Remember the claim for publication at the next flush. */
static void defer_publish(sl_objw *w, const uint8_t d[32], const struct sl_objref *ref)
{
	sl_store *st = w->st;
	struct slot *s = &st->slots[w->slot];
	pthread_mutex_lock(&st->mu);
	struct inrun *e = inrun_find(st, d);
	e->ref = *ref;
	pthread_mutex_unlock(&st->mu);
	if (s->nclaims == s->claims_cap) {
		s->claims_cap = s->claims_cap ? 2 * s->claims_cap : 64;
		s->claims = sl_xrealloc(s->claims, s->claims_cap * sizeof *s->claims);
	}
	s->claims[s->nclaims++] = e;
}

static int place_large(sl_objw *w, const uint8_t d[32], struct sl_objref *ref, sl_err *err)
{
	char final[4096], dir[4096];
	sl_object_path(w->st, d, final, sizeof final);
	snprintf(dir, sizeof dir, "%s", final);
	*strrchr(dir, '/') = 0;
	if (mkdir(dir, 0750) == 0) {
		pthread_mutex_lock(&w->st->mu);
		sl_store_dirty_dir(w->st, "objects");
		pthread_mutex_unlock(&w->st->mu);
	} else if (errno != EEXIST) {
		return sl_fail_errno(err, SL_E_IO, errno, "cannot create an object folder");
	}
	if (rename(w->tmp, final) < 0)
		return sl_fail_errno(err, SL_E_IO, errno, "cannot move an object into place");
	w->tmp[0] = 0;
	pthread_mutex_lock(&w->st->mu);
	sl_store_dirty_dir(w->st, dir + strlen(w->st->dir) + 1);
	pthread_mutex_unlock(&w->st->mu);
	ref->pack = -1;
	ref->offset = 0;
	return 0;
}

/* A size hint can send an object to a temp file that ends up small.  It
 * goes into a pack like any other small object: where an object lives
 * depends on its size alone.  (The temp file may be O_DIRECT: read it
 * through a plain descriptor.) */
static int unspill(sl_objw *w, sl_err *err)
{
	int fd = open(w->tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return sl_fail_errno(err, SL_E_IO, errno, "cannot reopen a temp object file");
	w->buf = sl_xmalloc(w->size ? w->size : 1);
	w->cap = w->size;
	ssize_t got = sl_pread_all(fd, w->buf, w->size, 0);
	close(fd);
	if (got < 0 || (size_t)got != w->size)
		return sl_fail_errno(err, SL_E_IO, got < 0 ? (int)-got : EIO,
				     "cannot read back a temp object file");
	w->len = w->size;
	sl_writer_free(w->w);
	w->w = NULL;
	close(w->fd);
	w->fd = -1;
	unlink(w->tmp);
	w->tmp[0] = 0;
	return 0;
}

int sl_objw_finish(sl_objw *w, const uint8_t *digest_if_nohash, struct sl_objref *ref, sl_err *err)
{
	uint8_t d[32];
	int rc = 0;
	uint64_t end = 0;
	if (w->w) {
		rc = sl_writer_finish(w->w, &end, err);
		if (rc == 0 && w->size <= SL_STORE_PACK_MAX)
			rc = unspill(w, err);
		/* The bytes must be durable before the name says they exist. */
		else if (rc == 0 && (rc = sl_io_fsync(w->io, w->fd)) < 0)
			rc = sl_fail_errno(err, SL_E_IO, -rc, "cannot fsync an object");
	}
	if (rc == 0) {
		if (w->nohash)
			memcpy(d, digest_if_nohash, 32);
		else
			sl_sha256_final(w->h, d);
		memset(ref, 0, sizeof *ref);
		if (!claim(w, d, ref)) {
			memcpy(ref->digest, d, 32);
			ref->size = w->size;
			ref->fresh = 1;
			if (w->w) {
				rc = place_large(w, d, ref, err);
				publish(w->st, d, ref, rc == 0);
			} else {
				rc = append_small(w, d, ref, err);
				if (rc == 0)
					defer_publish(w, d, ref);
				else
					publish(w->st, d, ref, 0);
			}
		}
	}
	sl_objw_abort(w);
	return rc;
}

void sl_objw_abort(sl_objw *w)
{
	if (!w)
		return;
	if (w->w)
		sl_writer_free(w->w);
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp[0])
		unlink(w->tmp);
	sl_sha256_free(w->h);
	free(w->buf);
	free(w);
}
