/* src.c: the input file as one byte stream over its chunks, inflated after
 * the file meta information when the transfer syntax is deflated. */
#include "dicom_impl.h"
#include <stdlib.h>
#include <string.h>

#define ZBUF (256u << 10)

static int next_chunk(struct dcm_src *s, sl_err *err)
{
	sl_chunk_put(s->c);
	s->c = NULL;
	s->off = 0;
	sl_chunk *c;
	int rc = sl_input_next(s->in, &c, err);
	if (rc > 0)
		s->c = c;
	return rc;
}

int dcm_src_init(struct dcm_src *s, sl_input *in, sl_err *err)
{
	memset(s, 0, sizeof *s);
	s->in = in;
	s->size = sl_input_size(in);
	int rc = next_chunk(s, err);
	return rc < 0 ? rc : 0;
}

void dcm_src_free(struct dcm_src *s)
{
	sl_chunk_put(s->c);
	if (s->inflating)
		inflateEnd(&s->z);
	free(s->zbuf);
}

/* Raw bytes available in the current chunk, fetching the next when empty. */
static int raw_avail(struct dcm_src *s, sl_err *err)
{
	while (s->c && s->off == s->c->len) {
		int rc = next_chunk(s, err);
		if (rc < 0)
			return rc;
	}
	return s->c != NULL;
}

static int refill_inflated(struct dcm_src *s, sl_err *err)
{
	s->zoff = s->zlen = 0;
	while (!s->zend && s->zlen == 0) {
		/* bytes peeked before inflating began come first */
		int pre = s->rlen > s->roff;
		int rc = pre ? 1 : raw_avail(s, err);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return sl_fail(err, SL_E_FORMAT, "deflated data set ends early");
		s->z.next_in = pre ? s->raw + s->roff : s->c->data + s->off;
		s->z.avail_in = (uInt)(pre ? s->rlen - s->roff : s->c->len - s->off);
		s->z.next_out = s->zbuf;
		s->z.avail_out = ZBUF;
		int z = inflate(&s->z, Z_NO_FLUSH);
		if (pre)
			s->roff = s->rlen - s->z.avail_in;
		else
			s->off = s->c->len - s->z.avail_in;
		s->zlen = ZBUF - s->z.avail_out;
		if (z == Z_STREAM_END)
			s->zend = 1;
		else if (z != Z_OK && z != Z_BUF_ERROR)
			return sl_fail(err, SL_E_FORMAT, "deflated data set is corrupt (%s)",
				       s->z.msg ? s->z.msg : "zlib error");
	}
	return 0;
}

int dcm_src_start_inflate(struct dcm_src *s, sl_err *err)
{
	if (inflateInit2(&s->z, -15) != Z_OK)
		return sl_fail(err, SL_E_NOMEM, "cannot start inflating");
	s->inflating = 1;
	s->zbuf = sl_xmalloc(ZBUF);
	memcpy(s->raw, s->back + s->boff, s->blen - s->boff);
	s->rlen = s->blen - s->boff;
	s->boff = s->blen = 0;
	return 0;
}

/* The next contiguous bytes below the peek buffer: 0 at the end. */
static int under_avail(struct dcm_src *s, const uint8_t **p, size_t *n, sl_err *err)
{
	if (s->inflating) {
		if (s->zoff == s->zlen) {
			if (s->zend)
				return 0;
			int rc = refill_inflated(s, err);
			if (rc < 0)
				return rc;
			if (s->zlen == 0)
				return 0;
		}
		*p = s->zbuf + s->zoff;
		*n = s->zlen - s->zoff;
		return 1;
	}
	int rc = raw_avail(s, err);
	if (rc <= 0)
		return rc;
	*p = s->c->data + s->off;
	*n = s->c->len - s->off;
	return 1;
}

static void under_consume(struct dcm_src *s, size_t n)
{
	if (s->inflating)
		s->zoff += n;
	else
		s->off += n;
}

static int avail(struct dcm_src *s, const uint8_t **p, size_t *n, sl_err *err)
{
	if (s->boff < s->blen) {
		*p = s->back + s->boff;
		*n = s->blen - s->boff;
		return 1;
	}
	return under_avail(s, p, n, err);
}

static void consume(struct dcm_src *s, size_t n)
{
	if (s->boff < s->blen)
		s->boff += n;
	else
		under_consume(s, n);
	s->pos += n;
}

size_t dcm_src_peek(struct dcm_src *s, size_t want, const uint8_t **p, sl_err *err)
{
	if (want > sizeof s->back)
		want = sizeof s->back;
	memmove(s->back, s->back + s->boff, s->blen - s->boff);
	s->blen -= s->boff;
	s->boff = 0;
	while (s->blen < want) {
		const uint8_t *q;
		size_t k;
		if (under_avail(s, &q, &k, err) <= 0)
			break;
		k = k < want - s->blen ? k : want - s->blen;
		memcpy(s->back + s->blen, q, k);
		s->blen += k;
		under_consume(s, k);
	}
	*p = s->back;
	return s->blen;
}

int dcm_src_eof(struct dcm_src *s, sl_err *err)
{
	const uint8_t *p;
	size_t n;
	int rc = avail(s, &p, &n, err);
	return rc < 0 ? rc : rc == 0;
}

/* The next contiguous piece of at most n bytes; the end of the input is an
 * error naming what was being read (NULL: a value). */
static int piece(struct dcm_src *s, uint64_t n, const uint8_t **p, size_t *k, const char *what,
		 sl_err *err)
{
	int rc = avail(s, p, k, err);
	if (rc < 0)
		return rc;
	if (rc == 0 && what)
		return sl_fail(err, SL_E_FORMAT, "truncated: the file ends inside %s "
			       "(at byte %llu)", what, (unsigned long long)s->pos);
	if (rc == 0)
		return sl_fail(err, SL_E_FORMAT, "truncated: a value runs past the end of the file");
	*k = *k < n ? *k : (size_t)n;
	return 0;
}

int dcm_src_read(struct dcm_src *s, void *dst, size_t n, const char *what, sl_err *err)
{
	uint8_t *d = dst;
	while (n) {
		const uint8_t *p;
		size_t k;
		int rc = piece(s, n, &p, &k, what, err);
		if (rc < 0)
			return rc;
		memcpy(d, p, k);
		consume(s, k);
		d += k;
		n -= k;
	}
	return 0;
}

int dcm_src_skip(struct dcm_src *s, uint64_t n, sl_err *err)
{
	return dcm_src_pass(s, n, NULL, err);
}

int dcm_src_pass(struct dcm_src *s, uint64_t n, sl_sink *out, sl_err *err)
{
	while (n) {
		const uint8_t *p;
		size_t k;
		int rc = piece(s, n, &p, &k, NULL, err);
		if (rc < 0)
			return rc;
		/* peeked or inflated bytes are ours to copy; chunk bytes go by reference */
		int copied = s->inflating || s->boff < s->blen;
		if (out)
			rc = copied ? sl_sink_write(out, p, k, err) : sl_sink_put(out, s->c, s->off, k, err);
		if (rc < 0)
			return rc;
		consume(s, k);
		n -= k;
	}
	return 0;
}

uint64_t dcm_src_left(const struct dcm_src *s)
{
	return s->pos < s->size ? s->size - s->pos : 0;
}

