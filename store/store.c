/*
 * store.c: opening a store: its layout, lock and tmp/, the catalog, the
 * object backend (with the catalog as the keeper of its rows) and this
 * writer's provenance chain, and the repair a crash can require.
 * docs/store-format.md describes the result.
 */
#include "store_impl.h"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

static char *path2(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = sl_xmalloc(n);
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

const char *sl_store_tmp_dir(const sl_store *st) { return st->tmp_dir; }

void sl_item_id(const uint8_t input_digest[32], const char *format, const char *options_fp,
		char out[33])
{
	sl_sha256 *h = sl_sha256_new();
	uint8_t d[32];
	sl_sha256_update(h, "sluice-item-1", 14);
	sl_sha256_update(h, input_digest, 32);
	sl_sha256_update(h, format, strlen(format) + 1);
	sl_sha256_update(h, options_fp, strlen(options_fp) + 1);
	sl_sha256_final(h, d);
	sl_sha256_free(h);
	sl_hex(out, d, 16);
}

int sl_store_bind_key(sl_store *st, const char *key_fp, sl_err *err)
{
	char have[80];
	int r = st->cops->meta_get(st->cat, "key_fp", have, sizeof have, err);
	if (r < 0)
		return r;
	if (r == 1 && strcmp(have, key_fp))
		return sl_fail(err, SL_E_USAGE, "this store's pseudonyms were made with the key "
			       "whose fingerprint is %s, not %s: use that key, or another store",
			       have, key_fp);
	return r == 1 ? 0 : st->cops->meta_put_now(st->cat, "key_fp", key_fp, err);
}

/* ---- the backend's env: its rows kept by the catalog ---- */

static int env_rows(void *ctx, const char *prefix, int (*cb)(void *, const char *, int64_t),
		    void *cbctx, sl_err *err)
{
	sl_store *st = ctx;
	return st->cops->rows(st->cat, prefix, cb, cbctx, err);
}

static int env_put_now(void *ctx, const char *key, int64_t value, sl_err *err)
{
	sl_store *st = ctx;
	return st->cops->row_put_now(st->cat, key, value, err);
}

static int env_del_now(void *ctx, const char *key, sl_err *err)
{
	sl_store *st = ctx;
	return st->cops->row_del_now(st->cat, key, err);
}

int sl_store_open_backend(sl_store *st, int flags, struct sl_backend_repair *rep,
			  sl_backend **out, sl_err *err)
{
	st->env = (struct sl_backend_env){.ctx = st, .rows = env_rows, .put_now = env_put_now,
		.del_now = env_del_now, .tmp_dir = st->tmp_dir};
	struct sl_backend_repair dummy = {0};
	*out = NULL;
	return st->bops->open(out, st->dir, flags, &st->env, rep ? rep : &dummy, err);
}

/* ---- layout ---- */

int sl_store_format_version(const char *dir, sl_err *err)
{
	char *f = path2(dir, "FORMAT");
	char buf[32] = {0};
	int fd = open(f, O_RDONLY | O_CLOEXEC);
	int en = errno;
	free(f);
	if (fd < 0 && en != ENOENT && en != ENOTDIR) /* there, but not for us */
		return sl_fail_errno(err, SL_E_STATE, en, "cannot read the store's FORMAT file");
	if (fd < 0)
		return sl_fail(err, SL_E_STATE, "not a sluice store (no FORMAT file)");
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n == 15 && !memcmp(buf, SL_STORE_FORMAT, 15))
		return 2;
	if (n == 15 && !memcmp(buf, SL_STORE_FORMAT_V1, 15))
		return 1;
	return sl_fail(err, SL_E_STATE, "unsupported store format");
}

static int check_format(const char *dir, sl_err *err)
{
	int v = sl_store_format_version(dir, err);
	if (v == 1)
		return sl_fail(err, SL_E_STATE, "this store has format version 1: run "
			       "`sluice migrate --store DIR` once to upgrade it");
	return v < 0 ? v : 0;
}

/* Remove what is in folder fd, folders too (an ingest's views, a few
 * levels deep at most); returns how many entries went. */
static uint64_t empty_dir(int fd, int depth)
{
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return 0;
	}
	uint64_t n = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0) {
			n++;
			continue;
		}
		int sub = depth < 4 && errno == EISDIR ?
			  openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC) : -1;
		if (sub >= 0)
			n += empty_dir(sub, depth + 1);
		if (sub >= 0 && unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static int mkdir_mode(const char *p)
{
	if (mkdir(p, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* FORMAT is written last: a folder without it is not yet a store, so a
 * creation cut short (ENOSPC, a crash) is finished by the next run. */
int sl_store_write_format(const char *dir)
{
	char *f = path2(dir, "FORMAT"), *t = path2(dir, "FORMAT.new");
	int rc = 0, fd = open(t, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0)
		rc = -errno;
	if (rc == 0)
		rc = sl_write_all(fd, SL_STORE_FORMAT, 15);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (fd >= 0)
		close(fd);
	if (rc == 0 && rename(t, f) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(t);
	free(f);
	free(t);
	return rc == 0 ? sl_fsync_dir(dir) : rc;
}

static int build_store(const char *dir, const struct sl_backend_ops *bops, sl_err *err)
{
	static const char *const sub[] = {"tmp", SL_PROV_DIR};
	int rc = mkdir_mode(dir);
	for (size_t i = 0; rc == 0 && i < 2; i++) {
		char *p = path2(dir, sub[i]);
		rc = mkdir_mode(p);
		free(p);
	}
	if (rc < 0)
		return sl_fail_errno(err, SL_E_STATE, -rc, "cannot create the store layout");
	/* the catalog and the backend make their own parts */
	sl_store tmp = {.dir = (char *)dir, .cops = &sl_catalog_sqlite, .bops = bops};
	char *t = path2(dir, "tmp");
	tmp.tmp_dir = t;
	rc = tmp.cops->open(&tmp.cat, dir, SL_STORE_CREATE, err);
	char id[80];
	if (rc == 0 && (rc = tmp.cops->meta_get(tmp.cat, "store_id", id, sizeof id, err)) == 0) {
		uint8_t raw[16];
		if (RAND_bytes(raw, sizeof raw) != 1)
			rc = sl_fail(err, SL_E_STATE, "no randomness for a store id");
		sl_hex(id, raw, 16);
		if (rc == 0)
			rc = tmp.cops->meta_put_now(tmp.cat, "store_id", id, err);
	}
	if (rc >= 0)
		rc = sl_store_open_backend(&tmp, SL_STORE_CREATE, NULL, &tmp.b, err);
	if (tmp.b)
		tmp.bops->close(tmp.b);
	if (tmp.cat)
		tmp.cops->close(tmp.cat);
	free(t);
	if (rc == 0 && (rc = sl_store_write_format(dir)) < 0)
		rc = sl_fail_errno(err, SL_E_STATE, -rc, "cannot create the store");
	return rc;
}

static void remove_unfinished(const char *dir)
{
	static const char *const names[] = {"FORMAT", "FORMAT.new", "catalog.db", "catalog.db-wal",
					    "catalog.db-shm", "packs", "objects", "tmp", SL_PROV_DIR};
	for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
		char *p = path2(dir, names[i]);
		if (unlink(p) < 0 && errno == EISDIR)
			rmdir(p);
		free(p);
	}
	rmdir(dir);
}

/* A new store is built beside its final name and renamed into place, so
 * the name never shows a half-made store; a folder that exists already is
 * completed in place. */
static int create_store(const char *dir, const struct sl_backend_ops *bops, sl_err *err)
{
	char *f = path2(dir, "FORMAT");
	int have = access(f, F_OK) == 0;
	free(f);
	if (have)
		return 0;
	struct stat sb;
	if (stat(dir, &sb) == 0)
		return build_store(dir, bops, err);
	char *tmp = sl_xmalloc(strlen(dir) + 32);
	sprintf(tmp, "%s.new-%ld", dir, (long)getpid());
	remove_unfinished(tmp);
	int rc = build_store(tmp, bops, err);
	if (rc == 0 && rename(tmp, dir) < 0 && errno != EEXIST && errno != ENOTEMPTY)
		rc = sl_fail_errno(err, SL_E_STATE, errno, "cannot create the store");
	if (rc == 0) {
		char *parent = sl_xstrdup(dir), *slash = strrchr(parent, '/');
		if (slash)
			slash[slash == parent] = 0;
		rc = sl_fsync_dir(slash ? parent : ".");
		free(parent);
		if (rc < 0)
			rc = sl_fail_errno(err, SL_E_STATE, -rc, "cannot create the store");
	}
	remove_unfinished(tmp); /* after a lost race: another process made it */
	free(tmp);
	return rc;
}

/* ---- open ---- */

static int open_writable(sl_store *st, const char *writer, struct sl_store_open_info *info,
			 sl_err *err)
{
	char *lp = path2(st->dir, "lock");
	st->lock_fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	free(lp);
	if (st->lock_fd < 0)
		return sl_fail_errno(err, SL_E_STATE, errno, "cannot open the store lock");
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return sl_fail(err, SL_E_STATE, "store is in use by another sluice process");
	int rc = st->cops->open(&st->cat, st->dir, 0, err);
	if (rc == 0)
		rc = st->cops->reader_new(st->cat, &st->rd, err);
	int fd = rc == 0 ? open(st->tmp_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
	if (fd >= 0) /* half-written objects, scratch files and views of a crashed run */
		info->removed_tmp += (int)empty_dir(fd, 0);
	struct sl_backend_repair rep = {0};
	if (rc == 0)
		rc = sl_store_open_backend(st, st->flags, &rep, &st->b, err);
	info->truncated_packs = (int)rep.truncated;
	if (rc == 0)
		rc = st->cops->chain_get(st->cat, writer, &st->chain, err);
	if (rc == 0)
		rc = sl_prov_open(&st->prov, st->dir, &st->chain, &info->repaired_prov, err);
	st->set = sl_xcalloc(4096, sizeof *st->set);
	return rc;
}

int sl_store_open(sl_store **out, const char *dir, const struct sl_store_opts *o,
		  struct sl_store_open_info *info, sl_err *err)
{
	struct sl_store_opts none = {0};
	struct sl_store_open_info dummy;
	if (!o)
		o = &none;
	if (!info)
		info = &dummy;
	memset(info, 0, sizeof *info);
	*out = NULL;
	const char *writer = o->writer ? o->writer : "main";
	if (!sl_prov_writer_ok(writer))
		return sl_fail(err, SL_E_USAGE, "writer name '%s': use 1 to %d of a-z, 0-9, _ and -",
			       writer, SL_WRITER_MAX);
	sl_store *st = sl_xcalloc(1, sizeof *st);
	st->dir = sl_xstrdup(dir);
	st->tmp_dir = path2(dir, "tmp");
	st->flags = o->flags & ~SL_STORE_CREATE;
	st->lock_fd = -1;
	st->bops = o->backend ? o->backend : &sl_backend_local;
	st->cops = &sl_catalog_sqlite;
	pthread_mutex_init(&st->mu, NULL);
	pthread_cond_init(&st->cv, NULL);
	int rc = 0;
	struct stat sb;
	int ro = !!(o->flags & SL_STORE_READONLY);
	if (stat(dir, &sb) < 0 && !(o->flags & SL_STORE_CREATE))
		rc = sl_fail(err, SL_E_STATE, "no store here");
	else if ((o->flags & SL_STORE_CREATE) && !ro)
		rc = create_store(dir, st->bops, err);
	if (rc == 0)
		rc = check_format(dir, err);
	if (rc == 0 && ro) {
		rc = st->cops->open(&st->cat, dir, SL_STORE_READONLY, err);
		if (rc == 0)
			rc = st->cops->reader_new(st->cat, &st->rd, err);
		if (rc == 0)
			rc = sl_store_open_backend(st, SL_STORE_READONLY, NULL, &st->b, err);
	} else if (rc == 0) {
		rc = open_writable(st, writer, info, err);
	}
	if (rc < 0) {
		sl_store_close(st);
		return rc;
	}
	*out = st;
	return 0;
}

void sl_store_close(sl_store *st)
{
	if (!st)
		return;
	if (st->set) {
		for (int i = 0; i < 4096; i++)
			for (struct inrun *e = st->set[i], *n; e; e = n) {
				n = e->next;
				free(e);
			}
		free(st->set);
	}
	if (st->b)
		st->bops->close(st->b);
	if (st->rd)
		st->cops->reader_free(st->rd);
	if (st->cat)
		st->cops->close(st->cat);
	sl_prov_close(st->prov);
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	pthread_mutex_destroy(&st->mu);
	pthread_cond_destroy(&st->cv);
	free(st->tmp_dir);
	free(st->dir);
	free(st);
}
