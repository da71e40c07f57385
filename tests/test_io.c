/* test_io.c: the I/O layer, on both backends: batched open with the failure
 * cases, read-ahead reader over a multi-chunk file, writer by reference and
 * by copy, O_DIRECT with an unaligned tail, bounded chunk pool. */
#include "unit.h"
#include "common/io/io.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void make_file(const char *path, size_t n, unsigned seed)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	uint8_t buf[4096];
	for (size_t off = 0; off < n;) {
		size_t k = n - off < sizeof buf ? n - off : sizeof buf;
		for (size_t i = 0; i < k; i++)
			buf[i] = (uint8_t)((off + i) * 131u + seed);
		REQUIRE(write(fd, buf, k) == (ssize_t)k);
		off += k;
	}
	close(fd);
}

static void digest_file(const char *path, uint8_t out[32])
{
	int fd = open(path, O_RDONLY);
	REQUIRE(fd >= 0);
	sl_sha256 *h = sl_sha256_new();
	uint8_t buf[65536];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		sl_sha256_update(h, buf, (size_t)n);
	sl_sha256_final(h, out);
	sl_sha256_free(h);
	close(fd);
}

static void test_backend(int mode, const char *dir)
{
	sl_err err = {0};
	sl_io *io;
	struct sl_io_opts o = {.mode = mode, .chunk = 64 * 1024, .depth = 4};
	CHECK_RC(sl_io_new(&io, &o, &err), &err);
	REQUIRE(io);
	fprintf(stderr, "backend %s\n", sl_io_backend(io));

	char big[4096], small[4096], empty[4096], fifo[4096], missing[4096], out[4096], dout[4096];
	snprintf(big, sizeof big, "%s/big-%d", dir, mode);
	snprintf(small, sizeof small, "%s/small-%d", dir, mode);
	snprintf(empty, sizeof empty, "%s/empty-%d", dir, mode);
	snprintf(fifo, sizeof fifo, "%s/fifo-%d", dir, mode);
	snprintf(missing, sizeof missing, "%s/missing-%d", dir, mode);
	snprintf(out, sizeof out, "%s/out-%d", dir, mode);
	snprintf(dout, sizeof dout, "%s/dout-%d", dir, mode);
	size_t big_n = 64 * 1024 * 13 + 1234; /* several windows and a tail */
	make_file(big, big_n, 7);
	make_file(small, 100, 9);
	make_file(empty, 0, 0);
	REQUIRE(mkfifo(fifo, 0600) == 0);

	struct sl_io_file f[5] = {{.path = big}, {.path = small}, {.path = empty},
				  {.path = fifo}, {.path = missing}};
	sl_io_open_batch(io, f, 5);
	CHECK(f[0].err == 0 && f[0].size == big_n && S_ISREG(f[0].mode));
	CHECK(f[1].err == 0 && f[1].size == 100);
	CHECK(f[2].err == 0 && f[2].size == 0);
	CHECK(f[3].err == 0 && S_ISFIFO(f[3].mode)); /* opened non-blocking: no hang */
	CHECK(f[4].err == ENOENT && f[4].fd == -1 && !strcmp(f[4].step, "open"));
	sl_io_read_heads(io, f, 5);
	CHECK(f[0].head && f[0].head->len == 64 * 1024);
	CHECK(f[1].head && f[1].head->len == 100);
	CHECK(!f[2].head && !f[3].head);

	/* Stream the big file: head + reader, copy it by reference to out. */
	int ofd = open(out, O_WRONLY | O_CREAT | O_EXCL, 0600);
	REQUIRE(ofd >= 0);
	sl_writer *w = sl_writer_new(io, ofd, 0, 0);
	sl_sha256 *h = sl_sha256_new();
	sl_chunk *c = f[0].head;
	uint64_t total = 0;
	sl_reader *r = sl_reader_new(io, f[0].fd, c->len, f[0].size);
	do {
		sl_sha256_update(h, c->data, c->len);
		total += c->len;
		CHECK_RC(sl_writer_put(w, c, 0, c->len, &err), &err);
		sl_chunk_put(c);
	} while (sl_reader_next(r, &c, &err) == 1);
	f[0].head = NULL;
	uint64_t end = 0;
	CHECK_RC(sl_writer_finish(w, &end, &err), &err);
	CHECK(end == big_n && total == big_n);
	sl_writer_free(w);
	sl_reader_free(r);
	close(ofd);
	uint8_t d1[32], d2[32];
	sl_sha256_final(h, d1);
	digest_file(out, d2);
	CHECK(!memcmp(d1, d2, 32));
	digest_file(big, d2);
	CHECK(!memcmp(d1, d2, 32));

	/* Direct writer with an unaligned offset into chunks and a tail: the
	 * file must be exactly the bytes written, even where O_DIRECT is refused. */
	int direct = 0;
	int dfd = sl_io_open_out(io, dout, 0600, 1, &direct);
	REQUIRE(dfd >= 0);
	fprintf(stderr, "O_DIRECT %s\n", direct ? "granted" : "refused (buffered)");
	w = sl_writer_new(io, dfd, 0, direct);
	sl_sha256_reset(h);
	for (int i = 0; i < 40; i++) {
		sl_chunk *k = sl_chunk_get(io);
		size_t n = 1000 + (size_t)i * 977;
		for (size_t j = 0; j < n; j++)
			k->data[j] = (uint8_t)(i + j);
		sl_sha256_update(h, k->data + 3, n - 3);
		CHECK_RC(sl_writer_put(w, k, 3, n - 3, &err), &err);
		sl_chunk_put(k);
	}
	CHECK_RC(sl_writer_write(w, "tail", 4, &err), &err);
	sl_sha256_update(h, "tail", 4);
	CHECK_RC(sl_writer_finish(w, &end, &err), &err);
	sl_writer_free(w);
	struct stat st;
	fstat(dfd, &st);
	CHECK((uint64_t)st.st_size == end);
	close(dfd);
	sl_sha256_final(h, d1);
	digest_file(dout, d2);
	CHECK(!memcmp(d1, d2, 32));

	/* pwrite + fsync through the backend. */
	int pfd = open(out, O_RDWR);
	CHECK(sl_io_pwrite(io, pfd, "XYZ", 3, 5) == 0);
	CHECK(sl_io_fsync(io, pfd) == 0);
	char b3[3];
	CHECK(pread(pfd, b3, 3, 5) == 3 && !memcmp(b3, "XYZ", 3));
	CHECK(sl_io_pwrite(io, -1, "x", 1, 0) == -EBADF);
	close(pfd);

	/* A regular file whose pages are not cached: inputs are opened
	 * O_NONBLOCK (so FIFOs cannot hang us), which io_uring honours with
	 * EAGAIN; the read must still succeed, for the head and the stream. */
	int cfd = open(big, O_RDONLY);
	REQUIRE(cfd >= 0);
	fdatasync(cfd);
	posix_fadvise(cfd, 0, 0, POSIX_FADV_DONTNEED);
	close(cfd);
	struct sl_io_file cold = {.path = big};
	sl_io_open_batch(io, &cold, 1);
	sl_io_read_heads(io, &cold, 1);
	CHECK(cold.err == 0 && cold.head && cold.head->len == 64 * 1024);
	posix_fadvise(cold.fd, 0, 0, POSIX_FADV_DONTNEED);
	r = sl_reader_new(io, cold.fd, cold.head->len, cold.size);
	total = cold.head->len;
	while (sl_reader_next(r, &c, &err) == 1) {
		total += c->len;
		sl_chunk_put(c);
	}
	CHECK(total == big_n);
	sl_reader_free(r);
	sl_chunk_put(cold.head);
	close(cold.fd);

	for (int i = 0; i < 5; i++) {
		sl_chunk_put(f[i].head);
		if (f[i].fd >= 0)
			close(f[i].fd);
	}
	sl_sha256_free(h);
	sl_io_free(io);
}

int main(void)
{
	const char *dir = unit_tmpdir("test_io");
	test_backend(SL_IO_POSIX, dir);
	if (sl_io_uring_available())
		test_backend(SL_IO_URING, dir);
	else
		fprintf(stderr, "io_uring unavailable here: only the POSIX backend was tested\n");
	return UNIT_DONE();
}
