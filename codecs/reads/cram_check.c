/*
 * cram_check.c: a walk over a CRAM input's structure before htslib reads
 * it.  htslib 1.16 allocates what a CRAM asks for before it reads the bytes
 * that should back the request, and some of its loops then fill the whole
 * allocation whatever the input holds, so a few lying bytes can take a
 * worker's memory:
 *   - a container header's count of slices (landmarks): 1.6 billion of
 *     them asked for 6.4 GB;
 *   - a HUFFMAN code table's count of codes: cram_huffman_decode_init
 *     allocates 24 bytes a code and writes every one of them even after the
 *     table's bytes have run out (16.7 million codes in 4 bytes: 400 MB
 *     written, and 268 million fit in a 4-byte count).
 * Each container must end inside the input, its counts must fit its length,
 * and each data container's compression header must hold what it declares:
 * every encoding inside its map, only the codecs CRAM 2.1 and 3.x define,
 * every HUFFMAN table's codes inside its parameters.  Only container
 * headers and compression headers are read, a few hundred bytes a
 * container.  CRAM 4.0, which htslib calls experimental, is refused (its
 * integers are coded otherwise).
 */
#include "reads_impl.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* A cursor over the input read with sl_input_pread, a window at a time. */
struct pcur {
	sl_input *in;
	uint64_t off, size;
	uint8_t buf[4096];
	uint64_t base;           /* the input offset of buf[0] */
	size_t len;
	sl_err *err;
	int failed;              /* <0: an sl_err, 1: past the end */
	uint64_t container;      /* counted from 1, for the reasons */
};

static int pbyte(struct pcur *c)
{
	if (c->off < c->base || c->off >= c->base + c->len) {
		if (c->off >= c->size) {
			c->failed = c->failed ? c->failed : 1;
			return 0;
		}
		int64_t n = sl_input_pread(c->in, c->buf, sizeof c->buf, c->off, c->err);
		if (n <= 0) {
			c->failed = n < 0 ? (int)n : 1;
			return 0;
		}
		c->base = c->off;
		c->len = (size_t)n;
	}
	return c->buf[c->off++ - c->base];
}

/* CRAM's ITF8: 1 to 5 bytes, the count in the first byte's high bits. */
static int64_t itf8(struct pcur *c)
{
	uint32_t b0 = (uint32_t)pbyte(c), v;
	if (b0 < 0x80)
		return b0;
	int extra = b0 < 0xc0 ? 1 : b0 < 0xe0 ? 2 : b0 < 0xf0 ? 3 : 4;
	v = b0 & (extra == 4 ? 0x0fu : 0xffu >> (extra + 1));
	for (int i = 0; i < extra; i++) {
		uint32_t b = (uint32_t)pbyte(c);
		v = extra == 4 && i == 3 ? (v << 4) | (b & 0x0f) : (v << 8) | b;
	}
	return (int32_t)v;
}

/* CRAM's LTF8 (1 to 9 bytes, the count in the first byte's leading ones):
 * skipped, the walk needs none of its values. */
static void ltf8_skip(struct pcur *c)
{
	int b0 = pbyte(c), extra = 0;
	while (extra < 8 && (b0 & (0x80 >> extra)))
		extra++;
	c->off += (uint64_t)extra;
}

__attribute__((format(printf, 2, 3)))
static int bad_container(struct pcur *c, const char *fmt, ...)
{
	char why[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	return sl_fail(c->err, SL_E_FORMAT, "CRAM container %llu: %s",
		       (unsigned long long)c->container, why);
}

/* A read past the end of the input, or an I/O error, found at any point
 * of the walk. */
static int cut_short(struct pcur *c)
{
	if (c->failed < 0)
		return c->failed;
	return sl_fail(c->err, SL_E_FORMAT, "the input is truncated or corrupt: CRAM container "
		       "%llu runs past its end", (unsigned long long)c->container);
}

/* Whether the next n bytes from the cursor end by `end`. */
static int fits(const struct pcur *c, int64_t n, uint64_t end)
{
	return n >= 0 && c->off <= end && (uint64_t)n <= end - c->off;
}

enum { CODEC_HUFFMAN = 3, CODEC_BYTE_ARRAY_LEN = 4, CODEC_LAST_V3 = 9 };

/* One encoding (codec, parameter size, parameters), which must end by
 * `end`.  BYTE_ARRAY_LEN holds two encodings (lengths, then values); no
 * writer nests deeper. */
static int check_encoding(struct pcur *c, uint64_t end, int depth)
{
	int64_t codec = itf8(c), size = itf8(c);
	if (c->failed)
		return cut_short(c);
	if (!fits(c, size, end))
		return bad_container(c, "an encoding in its compression header runs past its map");
	if (codec < 0 || codec > CODEC_LAST_V3)
		return bad_container(c, "its compression header uses codec %lld, which CRAM 2.1 and "
				     "3.x do not define", (long long)codec);
	uint64_t params = c->off, pend = params + (uint64_t)size;
	if (codec == CODEC_HUFFMAN) {
		/* count, symbols, count again, lengths: an ITF8 of 1 byte or more each */
		int64_t ncodes = itf8(c);
		if (size < 2 || ncodes < 0 || (uint64_t)ncodes > ((uint64_t)size - 2) / 2)
			return bad_container(c, "a HUFFMAN table in its compression header declares "
					     "%lld codes in %lld bytes", (long long)ncodes, (long long)size);
	} else if (codec == CODEC_BYTE_ARRAY_LEN) {
		if (depth > 0)
			return bad_container(c, "its compression header nests BYTE_ARRAY_LEN encodings");
		for (int i = 0; i < 2; i++) {
			int rc = check_encoding(c, pend, depth + 1);
			if (rc < 0)
				return rc;
		}
	}
	c->off = pend;
	return 0;
}

/* A map of the compression header: its size, its count, then `count`
 * entries, each a key (2 bytes for data series, an ITF8 for tags) and an
 * encoding. */
static int check_map(struct pcur *c, uint64_t end, int tags)
{
	int64_t size = itf8(c);
	if (c->failed)
		return cut_short(c);
	if (!fits(c, size, end))
		return bad_container(c, "a map of its compression header runs past the header");
	uint64_t mend = c->off + (uint64_t)size;
	int64_t count = itf8(c);
	/* each entry takes 3 bytes or more, so the loop ends by mend */
	for (int64_t i = 0; i < count; i++) {
		if (tags)
			itf8(c);
		else
			c->off += 2;
		int rc = check_encoding(c, mend, 0);
		if (rc < 0)
			return rc;
	}
	if (c->failed)
		return cut_short(c);
	if (count < 0 || c->off > mend)
		return bad_container(c, "a map of its compression header holds more than its size");
	c->off = mend;
	return 0;
}

/* The container's first block, if it is a compression header: the
 * preservation map (skipped), then the data series and tag encodings.
 * htslib and htsjdk write it uncompressed; a compressed one cannot be
 * checked without decompressing it and is refused. */
static int check_compression_header(struct pcur *c, uint64_t end)
{
	int method = pbyte(c), type = pbyte(c);
	itf8(c); /* content id */
	int64_t csize = itf8(c), rsize = itf8(c);
	if (c->failed)
		return cut_short(c);
	if (type != 1) /* not a compression header: the file header container */
		return 0;
	if (method != 0)
		return bad_container(c, "its compression header is compressed, which neither htslib "
				     "nor htsjdk does and sluice does not read");
	if (csize != rsize)
		return bad_container(c, "its uncompressed compression header has two sizes");
	if (!fits(c, csize, end))
		return bad_container(c, "its compression header runs past the container");
	uint64_t hend = c->off + (uint64_t)csize;
	int64_t psize = itf8(c); /* preservation map */
	if (c->failed)
		return cut_short(c);
	if (!fits(c, psize, hend))
		return bad_container(c, "a map of its compression header runs past the header");
	c->off += (uint64_t)psize;
	int rc = check_map(c, hend, 0);
	return rc < 0 ? rc : check_map(c, hend, 1);
}

/* One container header; on return c->off is where its blocks start and
 * *len their length. */
static int container_header(struct pcur *c, int major, int32_t *len, int64_t *nblocks)
{
	uint8_t l4[4];
	for (int i = 0; i < 4; i++)
		l4[i] = (uint8_t)pbyte(c);
	*len = (int32_t)((uint32_t)l4[0] | (uint32_t)l4[1] << 8 | (uint32_t)l4[2] << 16 |
			 (uint32_t)l4[3] << 24);
	for (int i = 0; i < 4; i++) /* contig, start, span, records */
		itf8(c);
	ltf8_skip(c);   /* record counter */
	ltf8_skip(c);   /* bases */
	int64_t nland;
	*nblocks = itf8(c);
	nland = itf8(c);
	if (!c->failed && (*len < 0 || *nblocks < 0 || nland < 0 || *nblocks > *len || nland > *len))
		return bad_container(c, "its header's counts do not fit its length");
	for (int64_t i = 0; i < nland && !c->failed; i++)
		itf8(c);
	if (major >= 3)
		c->off += 4; /* CRC32 */
	if (c->failed || c->off > c->size || (uint64_t)*len > c->size - c->off)
		return cut_short(c);
	return 0;
}

int cram_check_structure(sl_input *in, sl_err *err)
{
	uint8_t def[26];
	uint64_t size = sl_input_size(in);
	int64_t n = sl_input_pread(in, def, sizeof def, 0, err);
	if (n < 0)
		return (int)n;
	if (n < 5 || memcmp(def, "CRAM", 4))
		return 0;
	if (def[5] > 1 || (def[4] != 2 && def[4] != 3))
		return sl_fail(err, SL_E_FORMAT, "CRAM version %u.%u is not one sluice reads (2.1, 3.0 "
			       "and 3.1 are)", def[4], def[5]);
	struct pcur c = {.in = in, .off = 26, .size = size, .err = err};
	for (c.container = 1; c.off < size; c.container++) {
		int32_t len;
		int64_t nblocks;
		int rc = container_header(&c, def[4], &len, &nblocks);
		uint64_t end = c.off + (uint64_t)len;
		if (rc == 0 && nblocks > 0)
			rc = check_compression_header(&c, end);
		if (rc < 0)
			return rc;
		c.off = end;
	}
	return 0;
}
