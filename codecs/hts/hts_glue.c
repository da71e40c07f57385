/*
 * hts_glue.c: htslib settings, the input hFILE, the reference and scratch
 * copies shared by the genomics formats (hts_glue.h).
 */
#include "hts_glue.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <htslib/hts.h>
#include <htslib/hts_log.h>
#include <openssl/evp.h>
#include <zlib.h>

/* ---- settings ---- */

void sl_hts_setup(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	hts_set_log_level(HTS_LOG_OFF);
	/* /dev/null is not a directory: nothing under it can be opened, and
	 * the path is local, so htslib never falls back to the network. */
	setenv("REF_PATH", "/dev/null/sluice-no-reference-lookup/%s", 1);
	setenv("REF_CACHE", "/dev/null/sluice-no-reference-cache/%s", 1);
}

/* ---- libraries ---- */

static const char *libz_version(void)
{
	return zlibVersion();
}

const struct sl_format_library sl_hts_libraries[] = {
	{"htslib", hts_version},
	{"zlib", libz_version},
	{NULL, NULL},
};

/* ---- input ---- */

struct sl_hts_in {
	sl_input *in;
	int again;               /* a second pass: read with sl_input_pread */
	int wfd;
	pthread_t t;
	int rc;                  /* the feeder's outcome */
	sl_err err;
};

/* 0, or -1 when the reader stopped early (not our error). */
static int send_all(int fd, const uint8_t *p, size_t n)
{
	size_t off = 0;
	while (off < n) {
		ssize_t k = send(fd, p + off, n - off, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -1;
		off += (size_t)k;
	}
	return 0;
}

static void feed_chunks(struct sl_hts_in *h)
{
	sl_chunk *c;
	int rc;
	while ((rc = sl_input_next(h->in, &c, &h->err)) > 0) {
		int stopped = send_all(h->wfd, c->data, c->len);
		sl_chunk_put(c);
		if (stopped)
			break;
	}
	h->rc = rc < 0 ? rc : 0;
}

/* The engine checks after the transform that the input did not change, so
 * a second pass by pread reads the bytes its digest names. */
static void feed_again(struct sl_hts_in *h)
{
	enum { N = 1 << 20 };
	uint8_t *buf = sl_xmalloc(N);
	uint64_t off = 0;
	int64_t got;
	while ((got = sl_input_pread(h->in, buf, N, off, &h->err)) > 0 &&
	       send_all(h->wfd, buf, (size_t)got) == 0)
		off += (uint64_t)got;
	h->rc = got < 0 ? (int)got : 0;
	free(buf);
}

static void *feed(void *arg)
{
	struct sl_hts_in *h = arg;
	if (h->again)
		feed_again(h);
	else
		feed_chunks(h);
	close(h->wfd);
	return NULL;
}

static int in_open(struct sl_hts_in **out, sl_input *in, int again, hFILE **hf, sl_err *err)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return sl_fail_errno(err, SL_E_IO, errno, "cannot create a socket pair");
	struct sl_hts_in *h = sl_xcalloc(1, sizeof *h);
	h->in = in;
	h->again = again;
	h->wfd = sv[1];
	*hf = hdopen(sv[0], "r");
	if (!*hf) {
		close(sv[0]);
		close(sv[1]);
		free(h);
		return sl_fail(err, SL_E_IO, "cannot open an htslib stream");
	}
	if (pthread_create(&h->t, NULL, feed, h) != 0) {
		hclose_abruptly(*hf);
		close(sv[1]);
		free(h);
		return sl_fail(err, SL_E_IO, "cannot start the input thread");
	}
	*out = h;
	return 0;
}

int sl_hts_in_open(struct sl_hts_in **out, sl_input *in, hFILE **hf, sl_err *err)
{
	return in_open(out, in, 0, hf, err);
}

int sl_hts_in_reopen(struct sl_hts_in **out, sl_input *in, hFILE **hf, sl_err *err)
{
	return in_open(out, in, 1, hf, err);
}

int sl_hts_in_finish(struct sl_hts_in *h, sl_err *err)
{
	if (!h)
		return 0;
	pthread_join(h->t, NULL);
	int rc = h->rc;
	if (rc < 0 && err)
		*err = h->err;
	free(h);
	return rc;
}

/* ---- the reference's index ---- */

static char *suffixed(const char *path, const char *ext)
{
	size_t n = strlen(path) + strlen(ext) + 1;
	char *s = sl_xmalloc(n);
	snprintf(s, n, "%s%s", path, ext);
	return s;
}

/* 1 when the file starts as gzip does (bgzip included). */
static int gzipped(const char *path)
{
	unsigned char m[2] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ok = fd >= 0 && pread(fd, m, 2, 0) == 2;
	if (fd >= 0)
		close(fd);
	return ok && m[0] == 0x1f && m[1] == 0x8b;
}

static int missing(const char *path, const char *ext)
{
	char *s = suffixed(path, ext);
	int gone = access(s, F_OK) < 0 && errno == ENOENT;
	free(s);
	return gone;
}

/* Whether the FASTA lacks the index faidx reads beside it: no FASTA.fai,
 * or a compressed FASTA without FASTA.gzi.  An index that is there but
 * unusable stays the operator's to fix (we do not shadow it). */
static int index_absent(const char *path)
{
	return missing(path, ".fai") || (gzipped(path) && missing(path, ".gzi"));
}

/* One built index per process: the VCF and the reads formats both load
 * the --reference, and indexing a genome is a pass over gigabytes.  Keyed
 * by the file's identity; the descriptors are the process's (each sl_ref
 * holds duplicates, so replacing them never pulls one from under it). */
static struct {
	pthread_mutex_t mu;
	int have;
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int fai_fd, gzi_fd;
} built_index = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int built_for(const struct stat *st)
{
	return built_index.have && built_index.dev == st->st_dev && built_index.ino == st->st_ino &&
	       built_index.size == st->st_size && built_index.mtime.tv_sec == st->st_mtim.tv_sec &&
	       built_index.mtime.tv_nsec == st->st_mtim.tv_nsec;
}

/* htslib's own indexer (the bytes of `samtools faidx`), its .fai and .gzi
 * written into two memory files by their /proc/self/fd names: nothing is
 * written beside the FASTA, nothing into the store. */
static int build_index(const char *path, const struct stat *st, sl_err *err)
{
	int fai = memfd_create("sluice-fai", MFD_CLOEXEC), gzi = memfd_create("sluice-gzi", MFD_CLOEXEC);
	char fai_name[40], gzi_name[40];
	int rc = 0;
	if (fai < 0 || gzi < 0) {
		rc = sl_fail_errno(err, SL_E_IO, errno, "cannot make memory for the reference's index");
	} else {
		sl_fd_name(fai_name, fai);
		sl_fd_name(gzi_name, gzi);
		if (fai_build3(path, fai_name, gzi_name) < 0)
			rc = sl_fail(err, SL_E_USAGE, "the reference has no index beside it and cannot "
				     "be indexed (not FASTA, or compressed with gzip rather than bgzip)");
	}
	if (rc < 0) {
		if (fai >= 0)
			close(fai);
		if (gzi >= 0)
			close(gzi);
		return rc;
	}
	if (built_index.have) {
		close(built_index.fai_fd);
		close(built_index.gzi_fd);
	}
	built_index.have = 1;
	built_index.dev = st->st_dev;
	built_index.ino = st->st_ino;
	built_index.size = st->st_size;
	built_index.mtime = st->st_mtim;
	built_index.fai_fd = fai;
	built_index.gzi_fd = gzi;
	return 0;
}

/* r's own descriptors of the process's index of its FASTA (built on first
 * use), and of the FASTA itself for sl_ref_cram_name's view. */
static int index_in_memory(struct sl_ref *r, sl_err *err)
{
	struct stat st;
	r->fai_fd = r->gzi_fd = -1;
	int fd = open(r->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return sl_fail_errno(err, SL_E_USAGE, e, "the reference cannot be opened");
	}
	pthread_mutex_lock(&built_index.mu);
	int rc = built_for(&st) ? 0 : build_index(r->path, &st, err);
	if (rc == 0) {
		r->fai_fd = fcntl(built_index.fai_fd, F_DUPFD_CLOEXEC, 0);
		r->gzi_fd = fcntl(built_index.gzi_fd, F_DUPFD_CLOEXEC, 0);
		if (r->fai_fd < 0 || r->gzi_fd < 0)
			rc = sl_fail_errno(err, SL_E_IO, errno, "cannot keep the reference's index");
	}
	pthread_mutex_unlock(&built_index.mu);
	r->fasta_fd = fd;
	r->built = 1;  /* sl_ref_free closes whatever of the three is open */
	return rc;
}

int sl_ref_cram_name(const struct sl_ref *r, sl_input *in, char **name, sl_err *err)
{
	if (!r->built) {
		*name = sl_xstrdup(r->path);
		return 0;
	}
	static const char *const names[] = {"ref.fa", "ref.fa.fai", "ref.fa.gzi"};
	const int fds[] = {r->fasta_fd, r->fai_fd, r->gzi_fd};
	const char *dir;
	int rc = sl_input_view(in, names, fds, 3, &dir, err);
	if (rc < 0)
		return rc;
	*name = suffixed(dir, "/ref.fa");
	return 0;
}

/* ---- the reference ---- */

/* Each contig's place in an uncompressed FASTA, from the .fai htslib has
 * just accepted (same lines, same order), so that windows are read with
 * pread: faidx refills a whole buffer after every seek, and a record far
 * from the last one cost a 64 KiB read for a few hundred bases.  Anything
 * unexpected leaves fd at -1 and faidx in charge. */
static void load_layout(struct sl_ref *r)
{
	r->fd = -1;
	char mem[40], *name = r->built ? NULL : suffixed(r->path, ".fai");
	if (r->built)
		sl_fd_name(mem, r->fai_fd);
	FILE *f = fopen(name ? name : mem, "re");
	free(name);
	int fd = open(r->path, O_RDONLY | O_CLOEXEC);
	unsigned char magic[2] = {0};
	int got = fd >= 0 && pread(fd, magic, 2, 0) == 2;
	r->gzip = got && magic[0] == 0x1f && magic[1] == 0x8b;
	int ok = f && got && !r->gzip;
	char line[4096];
	for (size_t i = 0; ok && i < r->ncontigs; i++) {
		struct sl_ref_contig *c = &r->contigs[i];
		long long len, off, blen, llen;
		int at = 0;
		ok = fgets(line, sizeof line, f) && (at = (int)strcspn(line, "\t")) > 0 &&
		     (size_t)at == strlen(c->name) && !memcmp(line, c->name, (size_t)at) &&
		     sscanf(line + at, "%lld %lld %lld %lld", &len, &off, &blen, &llen) == 4 &&
		     len == c->len && off >= 0 && blen > 0 && llen >= blen;
		if (ok)
			c->off = off, c->blen = blen, c->llen = llen;
	}
	if (f)
		fclose(f);
	if (ok)
		r->fd = fd;
	else if (fd >= 0)
		close(fd);
}

int sl_ref_read(const struct sl_ref *r, int i, int64_t beg, int64_t end, char *out)
{
	const struct sl_ref_contig *c = &r->contigs[i];
	if (r->fd < 0 || beg < 0 || end > c->len || beg >= end)
		return -1;
	int64_t a = c->off + beg / c->blen * c->llen + beg % c->blen;
	int64_t z = c->off + (end - 1) / c->blen * c->llen + (end - 1) % c->blen + 1;
	size_t span = (size_t)(z - a), want = (size_t)(end - beg);
	char *buf = span == want ? out : malloc(span);
	ssize_t k = buf ? sl_pread_all(r->fd, buf, span, (uint64_t)a) : -1;
	size_t got = k > 0 ? (size_t)k : 0;
	size_t m = got == span ? want : 0;
	if (buf && buf != out && got == span) {
		m = 0; /* the bases without the line breaks, as faidx keeps them */
		for (size_t j = 0; j < span && m < want; j++)
			if (isgraph((unsigned char)buf[j]))
				out[m++] = buf[j];
	}
	if (buf != out)
		free(buf);
	return m == want ? 0 : -1;
}

int sl_ref_load(struct sl_ref *r, sl_err *err)
{
	if (r->loaded)
		return r->load_error ? sl_fail(err, SL_E_USAGE, "%s", r->load_error) : 0;
	r->loaded = 1;
	r->fd = -1;
	faidx_t *fai = index_absent(r->path) && index_in_memory(r, err) < 0 ? NULL
		     : sl_ref_open_fai(r, err);
	if (!fai) {
		r->load_error = sl_xstrdup(err->msg);
		return -SL_E_USAGE;
	}
	int n = faidx_nseq(fai);
	r->contigs = sl_xcalloc((size_t)n + 1, sizeof *r->contigs);
	for (int i = 0; i < n; i++) {
		const char *name = faidx_iseq(fai, i);
		r->contigs[i].name = sl_xstrdup(name);
		r->contigs[i].len = faidx_seq_len(fai, name);
	}
	r->ncontigs = (size_t)n;
	fai_destroy(fai);
	load_layout(r);
	return 0;
}

int sl_hts_index_reference(const char *fasta, const char *fai, const char *gzi, sl_err *err)
{
	sl_hts_setup(); /* htslib quiet: the caller says what failed */
	if (fai_build3(fasta, fai, gzi) < 0)
		return sl_fail(err, SL_E_FORMAT, "htslib cannot index the reference (not FASTA, "
			       "or compressed but not BGZF)");
	return 0;
}

void sl_ref_free(struct sl_ref *r)
{
	for (size_t i = 0; i < r->ncontigs; i++)
		free(r->contigs[i].name);
	free(r->contigs);
	free(r->path);
	free(r->load_error);
	if (r->loaded && r->fd >= 0)
		close(r->fd);
	if (r->built) {
		const int fds[] = {r->fai_fd, r->gzi_fd, r->fasta_fd};
		for (int i = 0; i < 3; i++)
			if (fds[i] >= 0)
				close(fds[i]);
	}
	pthread_mutex_destroy(&r->mu);
}

faidx_t *sl_ref_open_fai(const struct sl_ref *r, sl_err *err)
{
	/* no FAI_CREATE: never write an index beside the operator's file
	 * (sl_ref_load builds a missing one in memory) */
	char fai_name[40], gzi_name[40];
	if (r->built) {
		sl_fd_name(fai_name, r->fai_fd);
		sl_fd_name(gzi_name, r->gzi_fd);
	}
	faidx_t *fai = fai_load3(r->path, r->built ? fai_name : NULL, r->built ? gzi_name : NULL, 0);
	if (!fai)
		sl_fail(err, SL_E_USAGE, "the reference cannot be opened with its index (FASTA.fai, "
			"and FASTA.gzi when bgzipped: a stale or broken one must be made again with "
			"`samtools faidx FASTA`, or removed)");
	return fai;
}

int sl_ref_find(const struct sl_ref *r, const char *name)
{
	/* references have a few thousand contigs at most; headers name each once */
	for (size_t i = 0; i < r->ncontigs; i++)
		if (!strcmp(r->contigs[i].name, name))
			return (int)i;
	return -1;
}

const char *sl_ref_md5(struct sl_ref *r, faidx_t *fai, int i, sl_err *err)
{
	struct sl_ref_contig *c = &r->contigs[i];
	pthread_mutex_lock(&r->mu);
	if (c->md5[0]) {
		pthread_mutex_unlock(&r->mu);
		return c->md5;
	}
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	EVP_DigestInit_ex(m, EVP_md5(), NULL);
	const hts_pos_t step = 1 << 22;
	int ok = 1;
	for (hts_pos_t beg = 0; beg < c->len && ok; beg += step) {
		hts_pos_t end = beg + step < c->len ? beg + step : c->len, got = 0;
		char *s = faidx_fetch_seq64(fai, c->name, beg, end - 1, &got);
		ok = s && got == end - beg;
		size_t k = 0;
		for (hts_pos_t j = 0; ok && j < got; j++) {
			unsigned char ch = (unsigned char)s[j];
			if (ch < 33 || ch > 126)
				continue;
			s[k++] = (char)(ch >= 'a' && ch <= 'z' ? ch - 32 : ch);
		}
		if (ok)
			EVP_DigestUpdate(m, s, k);
		free(s);
	}
	unsigned char d[16];
	unsigned dn = 0;
	EVP_DigestFinal_ex(m, d, &dn);
	EVP_MD_CTX_free(m);
	if (ok)
		sl_hex(c->md5, d, 16);
	pthread_mutex_unlock(&r->mu);
	if (!ok) {
		sl_fail(err, SL_E_IO, "the reference's sequence for contig %s cannot be read", c->name);
		return NULL;
	}
	return c->md5;
}

/* ---- scratch ---- */

static const uint8_t bgzf_eof[28] = {
	0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0x06, 0, 0x42, 0x43, 0x02, 0, 0x1b, 0, 0x03, 0,
	0, 0, 0, 0, 0, 0, 0, 0};

/* A BGZF input cut at a block boundary still decompresses: its missing
 * end-of-file block is how the cut shows. */
int sl_hts_check_bgzf_end(sl_input *in, sl_err *err)
{
	uint8_t b[28];
	uint64_t size = sl_input_size(in);
	int64_t n = sl_input_pread(in, b, 4, 0, err);
	if (n < 0)
		return (int)n;
	if (n < 4 || b[0] != 0x1f || b[1] != 0x8b || !(b[3] & 4))
		return 0; /* plain text, or gzip without BGZF's extra field */
	if (size < 28 || sl_input_pread(in, b, 28, size - 28, err) != 28 || memcmp(b, bgzf_eof, 28))
		return sl_fail(err, SL_E_FORMAT, "the input is truncated: its BGZF end-of-file block "
			       "is missing");
	return 0;
}

void sl_hts_pool_init(struct sl_hts_pool *p)
{
	pthread_mutex_init(&p->mu, NULL);
	p->tried = 0;
	p->pool.pool = NULL;
	p->pool.qsize = 0;
}

htsThreadPool *sl_hts_pool_get(struct sl_hts_pool *p, int dflt)
{
	pthread_mutex_lock(&p->mu);
	if (!p->tried) {
		p->tried = 1;
		int n = p->threads < 0 ? dflt : p->threads;
		p->pool.pool = n > 0 ? hts_tpool_init(n) : NULL;
	}
	pthread_mutex_unlock(&p->mu);
	return p->pool.pool ? &p->pool : NULL;
}

void sl_hts_pool_free(struct sl_hts_pool *p)
{
	if (p->pool.pool)
		hts_tpool_destroy(p->pool.pool);
	pthread_mutex_destroy(&p->mu);
}

void sl_fd_name(char out[40], int fd)
{
	snprintf(out, 40, "/proc/self/fd/%d", fd);
}

int sl_copy_to_sink(int fd, sl_sink *s, const char *role, const char *media,
		    uint8_t digest[32], sl_err *err)
{
	int rc = sl_sink_begin(s, role, media, err);
	if (rc < 0)
		return rc;
	sl_sha256 *h = digest ? sl_sha256_new() : NULL;
	char *buf = sl_xmalloc(1 << 20);
	off_t off = 0;
	for (;;) {
		ssize_t k = pread(fd, buf, 1 << 20, off);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = sl_fail_errno(err, SL_E_IO, errno, "cannot read a scratch file");
			break;
		}
		if (k == 0)
			break;
		if (h)
			sl_sha256_update(h, buf, (size_t)k);
		if ((rc = sl_sink_write(s, buf, (size_t)k, err)) < 0)
			break;
		off += k;
	}
	free(buf);
	if (h) {
		sl_sha256_final(h, digest);
		sl_sha256_free(h);
	}
	return rc < 0 ? rc : sl_sink_end(s, err);
}
