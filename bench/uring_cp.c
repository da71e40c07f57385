/* sl-uring-cp: copy a tree (or a list of files) with io_uring, then make the
 * copy durable.  The bench's "limit" for copying: the same bytes sluice
 * reads and writes, moved by a queue of reads and writes with no work in
 * between.  Part of the bench, not of sluice.
 *
 *   sl-uring-cp [-q DEPTH] [-b BYTES] [-n] [-l LIST] SRC DST
 *
 * SRC a directory: its tree is copied into DST (created; symbolic links and
 * special files are skipped).  SRC a file: copied to DST.  -l LIST: only the
 * paths in LIST (one a line, relative to SRC) are copied, under DST.
 * DEPTH reads and writes in flight (default 16), each of at most BYTES
 * (default 256 KiB; several small files are in flight at once).  At the end
 * syncfs() on DST's filesystem, as `sync` after `cp -r`; -n skips it.
 * Opening and closing files is synchronous; the data moves through the ring.
 * Exit status: 0 copied, 1 failed, 2 usage, 3 io_uring unavailable here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct file {
	char *src, *dst;
	off_t size;
	mode_t mode;
};

struct job { /* a file being copied */
	int in, out;
	off_t size, next; /* bytes, next offset to read */
	int inflight;
};

struct op {
	struct job *job;
	char *buf;
	off_t off;
	size_t len, done;
	int writing;
};

static struct file *files;
static size_t nfiles, capfiles;
static unsigned long long total;

static void die(const char *what, const char *path, int err)
{
	fprintf(stderr, "sl-uring-cp: %s %s: %s\n", what, path ? path : "", strerror(err));
	exit(1);
}

static char *join(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	char *p = malloc(la + lb + 2);
	if (!p)
		die("out of memory", NULL, ENOMEM);
	memcpy(p, a, la);
	p[la] = '/';
	memcpy(p + la + 1, b, lb + 1);
	return p;
}

static void add(char *src, char *dst, const struct stat *st)
{
	if (nfiles == capfiles) {
		capfiles = capfiles ? capfiles * 2 : 1024;
		files = realloc(files, capfiles * sizeof *files);
		if (!files)
			die("out of memory", NULL, ENOMEM);
	}
	files[nfiles++] = (struct file){src, dst, st->st_size, st->st_mode & 07777};
	total += (unsigned long long)st->st_size;
}

static void mkdirs(const char *path) /* mkdir -p of path's parents and path */
{
	char *p = strdup(path);
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, 0777) && errno != EEXIST)
			die("mkdir", p, errno);
		*s = '/';
	}
	if (mkdir(p, 0777) && errno != EEXIST)
		die("mkdir", p, errno);
	free(p);
}

static int strcmp_ptr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* walk src into files[], creating the directories under dst in order */
static void walk(const char *src, const char *dst)
{
	DIR *d = opendir(src);
	if (!d)
		die("opendir", src, errno);
	if (mkdir(dst, 0777) && errno != EEXIST)
		die("mkdir", dst, errno);
	struct dirent *e;
	/* names sorted, so that the copy order is the same on every run */
	char **names = NULL;
	size_t n = 0, cap = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (n == cap && !(names = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof *names)))
			die("out of memory", NULL, ENOMEM);
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof *names, strcmp_ptr);
	for (size_t i = 0; i < n; i++) {
		char *s = join(src, names[i]), *t = join(dst, names[i]);
		struct stat st;
		if (lstat(s, &st))
			die("stat", s, errno);
		if (S_ISDIR(st.st_mode)) {
			walk(s, t);
			free(s), free(t);
		} else if (S_ISREG(st.st_mode)) {
			add(s, t, &st);
		} else {
			free(s), free(t);
		}
		free(names[i]);
	}
	free(names);
}

static void read_list(const char *list, const char *src, const char *dst)
{
	FILE *f = fopen(list, "r");
	if (!f)
		die("open", list, errno);
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	mkdirs(dst);
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = 0;
		if (!len)
			continue;
		char *s = join(src, line), *t = join(dst, line);
		struct stat st;
		if (stat(s, &st))
			die("stat", s, errno);
		char *slash = strrchr(t, '/');
		*slash = 0;
		mkdirs(t);
		*slash = '/';
		add(s, t, &st);
	}
	free(line);
	fclose(f);
}

int main(int argc, char **argv)
{
	unsigned depth = 16;
	size_t bufsize = 256 << 10;
	int nosync = 0, c;
	const char *list = NULL;
	while ((c = getopt(argc, argv, "q:b:nl:")) != -1) {
		switch (c) {
		case 'q': depth = (unsigned)atoi(optarg); break;
		case 'b': bufsize = (size_t)atol(optarg); break;
		case 'n': nosync = 1; break;
		case 'l': list = optarg; break;
		default: goto usage;
		}
	}
	if (argc - optind != 2 || depth < 1 || depth > 4096 || bufsize < 4096) {
	usage:
		fprintf(stderr, "usage: sl-uring-cp [-q DEPTH] [-b BYTES] [-n] [-l LIST] SRC DST\n");
		return 2;
	}
	const char *src = argv[optind], *dst = argv[optind + 1];
	struct stat st;
	if (list) {
		read_list(list, src, dst);
	} else {
		if (stat(src, &st))
			die("stat", src, errno);
		if (S_ISDIR(st.st_mode))
			walk(src, dst);
		else
			add(strdup(src), strdup(dst), &st);
	}

	struct io_uring ring;
	int r = io_uring_queue_init(depth, &ring, 0);
	if (r < 0) { /* seccomp or kernel.io_uring_disabled: say so apart from a failed copy */
		fprintf(stderr, "sl-uring-cp: io_uring unavailable: %s\n", strerror(-r));
		return 3;
	}
	struct op *ops = calloc(depth, sizeof *ops), **freeops = calloc(depth, sizeof *freeops);
	char *bufs;
	if (!ops || !freeops || posix_memalign((void **)&bufs, 4096, depth * bufsize))
		die("out of memory", NULL, ENOMEM);
	unsigned nfree = depth;
	for (unsigned i = 0; i < depth; i++) {
		ops[i].buf = bufs + i * bufsize;
		freeops[i] = &ops[i];
	}

	size_t next_file = 0;
	struct job *cur = NULL; /* the file whose reads are being issued */
	unsigned inflight = 0;
	for (;;) {
		/* issue reads while there are buffers and bytes to read */
		while (nfree > 0) {
			if (!cur || cur->next >= cur->size) {
				if (next_file == nfiles)
					break;
				struct file *f = &files[next_file++];
				struct job *j = calloc(1, sizeof *j);
				if (!j)
					die("out of memory", NULL, ENOMEM);
				j->in = open(f->src, O_RDONLY | O_CLOEXEC);
				if (j->in < 0)
					die("open", f->src, errno);
				j->out = open(f->dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, f->mode);
				if (j->out < 0)
					die("create", f->dst, errno);
				j->size = f->size;
				if (j->size == 0) {
					close(j->in), close(j->out), free(j);
					continue;
				}
				cur = j;
			}
			struct op *o = freeops[--nfree];
			o->job = cur;
			o->off = cur->next;
			o->len = (size_t)(cur->size - cur->next) < bufsize ? (size_t)(cur->size - cur->next) : bufsize;
			o->done = 0;
			o->writing = 0;
			cur->next += (off_t)o->len;
			cur->inflight++;
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			io_uring_prep_read(sqe, cur->in, o->buf, (unsigned)o->len, (__u64)o->off);
			io_uring_sqe_set_data(sqe, o);
			inflight++;
		}
		if (inflight == 0)
			break;
		r = io_uring_submit_and_wait(&ring, 1);
		if (r < 0 && r != -EINTR)
			die("io_uring_submit", NULL, -r);
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			struct op *o = io_uring_cqe_get_data(cqe);
			struct job *j = o->job;
			int res = cqe->res;
			seen++;
			if (res < 0)
				die(o->writing ? "write" : "read", NULL, -res);
			if (res == 0 && !o->writing)
				die("read", "(file shrank while copying)", EIO);
			o->done += (size_t)res;
			struct io_uring_sqe *sqe;
			if (o->done < o->len) { /* short: the rest of the same piece */
				sqe = io_uring_get_sqe(&ring);
				if (o->writing)
					io_uring_prep_write(sqe, j->out, o->buf + o->done, (unsigned)(o->len - o->done),
							    (__u64)(o->off + (off_t)o->done));
				else
					io_uring_prep_read(sqe, j->in, o->buf + o->done, (unsigned)(o->len - o->done),
							   (__u64)(o->off + (off_t)o->done));
				io_uring_sqe_set_data(sqe, o);
				continue;
			}
			if (!o->writing) { /* read complete: write it */
				o->writing = 1;
				o->done = 0;
				sqe = io_uring_get_sqe(&ring);
				io_uring_prep_write(sqe, j->out, o->buf, (unsigned)o->len, (__u64)o->off);
				io_uring_sqe_set_data(sqe, o);
				continue;
			}
			/* write complete: the buffer is free; the file too when all is done */
			freeops[nfree++] = o;
			inflight--;
			if (--j->inflight == 0 && j->next >= j->size) {
				if (close(j->in) || close(j->out))
					die("close", NULL, errno);
				if (j == cur)
					cur = NULL;
				free(j);
			}
		}
		io_uring_cq_advance(&ring, seen);
	}
	io_uring_queue_exit(&ring);

	if (!nosync) {
		int fd = open(dst, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || syncfs(fd))
			die("syncfs", dst, errno);
		close(fd);
	}
	fprintf(stderr, "sl-uring-cp: %zu files, %llu bytes\n", nfiles, total);
	return 0;
}
