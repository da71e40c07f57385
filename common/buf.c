/* buf.c: growable buffers, hex and JSON string escaping, small utilities. */
#include "sl_common.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void *sl_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		abort();
	return p;
}

void *sl_xcalloc(size_t n, size_t m)
{
	void *p = calloc(n ? n : 1, m ? m : 1);
	if (!p)
		abort();
	return p;
}

void *sl_xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		abort();
	return p;
}

char *sl_xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(sl_xmalloc(n), s, n);
}

void sl_buf_init(sl_buf *b) { memset(b, 0, sizeof *b); }
void sl_buf_free(sl_buf *b) { free(b->data); sl_buf_init(b); }

void sl_buf_reset(sl_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = 0;
}

static void reserve(sl_buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->data = sl_xrealloc(b->data, cap);
	b->cap = cap;
}

void sl_buf_add(sl_buf *b, const void *p, size_t n)
{
	reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = 0;
}

void sl_buf_puts(sl_buf *b, const char *s) { sl_buf_add(b, s, strlen(s)); }

void sl_buf_printf(sl_buf *b, const char *fmt, ...)
{
	/* Format straight into the spare room; only a result that does not
	 * fit is formatted a second time. */
	reserve(b, 128);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		reserve(b, (size_t)n);
		va_start(ap, fmt);
		vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
		va_end(ap);
	}
	b->len += (size_t)n;
}

/* Length of a valid UTF-8 sequence at s (max n bytes), or 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	unsigned min;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000;
	else
		return 0;
	if (len > n)
		return 0;
	unsigned cp = c & (0x7f >> len);
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void sl_buf_json_strn(sl_buf *b, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	sl_buf_add(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			sl_buf_add(b, e, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			sl_buf_printf(b, "\\u%04x", c);
			i++;
		} else {
			size_t l = utf8_len(s + i, n - i);
			if (l == 0) {
				/* Not UTF-8: a lone low surrogate, as Python's
				 * surrogateescape, which no valid UTF-8 name can
				 * produce, so 'caf\xe9' and 'café' stay apart. */
				sl_buf_printf(b, "\\udc%02x", c);
				i++;
			} else {
				sl_buf_add(b, s + i, l);
				i += l;
			}
		}
	}
	sl_buf_add(b, "\"", 1);
}

void sl_buf_json_str(sl_buf *b, const char *s) { sl_buf_json_strn(b, s, strlen(s)); }

void sl_hex(char *out, const uint8_t *p, size_t n)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[p[i] >> 4];
		out[2 * i + 1] = d[p[i] & 15];
	}
	out[2 * n] = 0;
}

void sl_buf_hex(sl_buf *b, const uint8_t *p, size_t n)
{
	reserve(b, 2 * n);
	sl_hex(b->data + b->len, p, n);
	b->len += 2 * n;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int sl_unhex(uint8_t *out, const char *hex, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval((unsigned char)hex[2 * i]);
		int lo = hi < 0 ? -1 : hexval((unsigned char)hex[2 * i + 1]);
		if (lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return hex[2 * n] == 0 ? 0 : -1;
}

int sl_write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

ssize_t sl_pread_all(int fd, void *buf, size_t n, uint64_t off)
{
	size_t got = 0;
	while (got < n) {
		ssize_t k = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	return (ssize_t)got;
}

int sl_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) ? -errno : 0;
	close(fd);
	return rc;
}

int sl_parse_size(const char *v, size_t *out)
{
	char *end;
	unsigned long long n = strtoull(v, &end, 10), m = 1;
	if (end == v || *v == '-')
		return -1;
	if (*end == 'K' || *end == 'k')
		m = 1ull << 10, end++;
	else if (*end == 'M' || *end == 'm')
		m = 1ull << 20, end++;
	else if (*end == 'G' || *end == 'g')
		m = 1ull << 30, end++;
	if (*end || n == 0 || n > (1ull << 44) / m)
		return -1;
	*out = (size_t)(n * m);
	return 0;
}
