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
		int rc = raw_avail(s, err);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return sl_fail(err, SL_E_FORMAT, "deflated data set ends early");
		s->z.next_in = s->c->data + s->off;
		s->z.avail_in = (uInt)(s->c->len - s->off);
		s->z.next_out = s->zbuf;
		s->z.avail_out = ZBUF;
		int z = inflate(&s->z, Z_NO_FLUSH);
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
	return 0;
}

/* A pointer to the next contiguous bytes and how many: 0 at the end. */
static int avail(struct dcm_src *s, const uint8_t **p, size_t *n, sl_err *err)
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

static void consume(struct dcm_src *s, size_t n)
{
	if (s->inflating)
		s->zoff += n;
	else
		s->off += n;
	s->pos += n;
}

int dcm_src_eof(struct dcm_src *s, sl_err *err)
{
	const uint8_t *p;
	size_t n;
	int rc = avail(s, &p, &n, err);
	return rc < 0 ? rc : rc == 0;
}

int dcm_src_read(struct dcm_src *s, void *dst, size_t n, const char *what, sl_err *err)
{
	uint8_t *d = dst;
	while (n) {
		const uint8_t *p;
		size_t k;
		int rc = avail(s, &p, &k, err);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return sl_fail(err, SL_E_FORMAT, "truncated: the file ends inside %s "
				       "(at byte %llu)", what, (unsigned long long)s->pos);
		k = k < n ? k : n;
		memcpy(d, p, k);
		consume(s, k);
		d += k;
		n -= k;
	}
	return 0;
}

int dcm_src_skip(struct dcm_src *s, uint64_t n, sl_err *err)
{
	while (n) {
		const uint8_t *p;
		size_t k;
		int rc = avail(s, &p, &k, err);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return sl_fail(err, SL_E_FORMAT, "truncated: a value runs past the end of the file");
		k = k < n ? k : (size_t)n;
		consume(s, k);
		n -= k;
	}
	return 0;
}

int dcm_src_pass(struct dcm_src *s, uint64_t n, sl_sink *out, sl_err *err)
{
	while (n) {
		const uint8_t *p;
		size_t k;
		int rc = avail(s, &p, &k, err);
		if (rc < 0)
			return rc;
		if (rc == 0)
			return sl_fail(err, SL_E_FORMAT, "truncated: a value runs past the end of the file");
		k = k < n ? k : (size_t)n;
		rc = s->inflating ? sl_sink_write(out, p, k, err) : sl_sink_put(out, s->c, s->off, k, err);
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

size_t dcm_src_peek(struct dcm_src *s, const uint8_t **p, sl_err *err)
{
	size_t n = 0;
	if (avail(s, p, &n, err) <= 0)
		return 0;
	return n;
}
