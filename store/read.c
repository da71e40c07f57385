/*
 * read.c: reading a store: an object's bytes (whole or ranged), the items
 * with their attributes and outputs, and the provenance log.
 */
#include "store_impl.h"
#include <stdlib.h>
#include <string.h>

#define BUFSZ (1u << 20)

static int find(sl_store *st, const uint8_t digest[32], struct sl_objref *ref, sl_err *err)
{
	int found = st->cops->object_get(st->rd, digest, ref, err);
	if (found == 0)
		return sl_fail(err, SL_E_STATE, "no such object in this store");
	return found < 0 ? found : 0;
}

int64_t sl_store_read(sl_store *st, const uint8_t digest[32], uint64_t off, void *buf, size_t n,
		      sl_err *err)
{
	struct sl_objref ref;
	int rc = find(st, digest, &ref, err);
	return rc < 0 ? rc : st->bops->get(st->b, &ref, off, buf, n, err);
}

int sl_store_cat(sl_store *st, const uint8_t digest[32], int fd, sl_err *err)
{
	struct sl_objref ref;
	int rc = find(st, digest, &ref, err);
	if (rc < 0)
		return rc;
	uint8_t *buf = sl_xmalloc(BUFSZ);
	for (uint64_t off = 0; rc == 0 && off < ref.size;) {
		int64_t got = st->bops->get(st->b, &ref, off, buf, BUFSZ, err);
		if (got <= 0) {
			rc = got < 0 ? (int)got : sl_fail(err, SL_E_CORRUPT, "object ends early");
			break;
		}
		if ((rc = sl_write_all(fd, buf, (size_t)got)) < 0)
			rc = sl_fail_errno(err, SL_E_IO, -rc, "cannot write the object out");
		off += (uint64_t)got;
	}
	free(buf);
	return rc;
}

const char *sl_item_attr(const struct sl_item_view *v, const char *key)
{
	for (size_t i = 0; i < v->nattrs; i++)
		if (!strcmp(v->attrs[2 * i], key))
			return v->attrs[2 * i + 1];
	return NULL;
}

int sl_store_items(sl_store *st, const char *key, const char *value,
		   int (*cb)(void *ctx, const struct sl_item_view *v), void *ctx, sl_err *err)
{
	return st->cops->items(st->cat, key, value, cb, ctx, err);
}

struct log_ctx {
	sl_store *st;
	int fd;
	sl_err *err;
};

static int log_chain(void *ctx, const struct sl_chain *ch)
{
	struct log_ctx *l = ctx;
	return sl_prov_copy(l->st->dir, ch, l->fd, l->err);
}

int sl_store_log(sl_store *st, int fd, sl_err *err)
{
	struct log_ctx l = {st, fd, err};
	return st->cops->chains(st->cat, log_chain, &l, err);
}
