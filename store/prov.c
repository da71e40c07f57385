/*
 * prov.c: provenance records and their chains.  A record is one JSON line;
 * its "prev" is the SHA-256 of the line before it in the same writer's
 * chain, so changing, removing, inserting or reordering a record breaks the
 * chain, and the catalog's committed end (size, count, head) pins its end.
 */
#include "prov.h"
#include "catalog.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sl_prov {
	int fd;
	uint64_t size;      /* committed */
	uint64_t pending;   /* appended, not yet committed */
};

int sl_prov_writer_ok(const char *w)
{
	size_t n = w ? strlen(w) : 0;
	if (n == 0 || n > SL_WRITER_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((w[i] >= 'a' && w[i] <= 'z') || (w[i] >= '0' && w[i] <= '9') || w[i] == '_' ||
		      w[i] == '-'))
			return 0;
	return 1;
}

char *sl_prov_path(const char *dir, const char *writer)
{
	size_t n = strlen(dir) + strlen(writer) + sizeof SL_PROV_DIR + 16;
	char *p = sl_xmalloc(n);
	snprintf(p, n, "%s/" SL_PROV_DIR "/%s.jsonl", dir, writer);
	return p;
}

int sl_prov_open(sl_prov **out, const char *dir, const struct sl_chain *committed, int *cut,
		 sl_err *err)
{
	*out = NULL;
	*cut = 0;
	char *p = sl_prov_path(dir, committed->writer);
	int fd = open(p, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	int created = fd >= 0 && committed->size == 0;
	free(p);
	if (fd < 0)
		return sl_fail_errno(err, SL_E_STATE, errno, "cannot open the provenance log of "
				     "writer %s", committed->writer);
	struct stat sb;
	if (fstat(fd, &sb) < 0) {
		close(fd);
		return sl_fail_errno(err, SL_E_STATE, errno, "cannot stat the provenance log");
	}
	/* A log shorter than committed is damage for verify to report, not
	 * something to paper over: refuse to append to it. */
	if ((uint64_t)sb.st_size < committed->size) {
		close(fd);
		return sl_fail(err, SL_E_CORRUPT, "the provenance log of writer %s is shorter than "
			       "the catalog records (%llu < %llu bytes): run sluice verify",
			       committed->writer, (unsigned long long)sb.st_size,
			       (unsigned long long)committed->size);
	}
	if ((uint64_t)sb.st_size > committed->size) {
		/* A torn line or records of a batch the catalog never committed. */
		if (ftruncate(fd, (off_t)committed->size) < 0 || fsync(fd) < 0) {
			int e = errno;
			close(fd);
			return sl_fail_errno(err, SL_E_IO, e, "cannot repair the provenance log");
		}
		*cut = (int)((uint64_t)sb.st_size - committed->size);
	}
	if (created) {
		/* the new name must survive a crash as the catalog will name it */
		char *d = sl_xmalloc(strlen(dir) + sizeof SL_PROV_DIR + 2);
		sprintf(d, "%s/" SL_PROV_DIR, dir);
		int rc = sl_fsync_dir(d);
		free(d);
		if (rc < 0) {
			close(fd);
			return sl_fail_errno(err, SL_E_IO, -rc, "cannot fsync the provenance folder");
		}
	}
	sl_prov *pv = sl_xcalloc(1, sizeof *pv);
	pv->fd = fd;
	pv->size = committed->size;
	*out = pv;
	return 0;
}

void sl_prov_close(sl_prov *p)
{
	if (!p)
		return;
	close(p->fd);
	free(p);
}

static void inputs_json(sl_buf *b, const struct sl_item *it)
{
	sl_buf_puts(b, "\"inputs\":[");
	for (size_t i = 0; i < it->ninputs; i++) {
		const struct sl_item_input *in = &it->inputs[i];
		sl_buf_puts(b, i ? ",{\"digest\":\"" : "{\"digest\":\"");
		sl_buf_hex(b, in->digest, 32);
		sl_buf_printf(b, "\",\"size\":%llu,\"path_hmac\":\"", (unsigned long long)in->size);
		sl_buf_hex(b, in->path_hmac, 32);
		sl_buf_puts(b, "\"}");
	}
	sl_buf_puts(b, "]");
}

static void outputs_json(sl_buf *b, const struct sl_item *it)
{
	sl_buf_puts(b, "\"outputs\":[");
	for (size_t i = 0; i < it->nouts; i++) {
		const struct sl_item_output *o = &it->outs[i];
		sl_buf_puts(b, i ? ",{\"digest\":\"" : "{\"digest\":\"");
		sl_buf_hex(b, o->ref.digest, 32);
		sl_buf_printf(b, "\",\"size\":%llu,\"role\":", (unsigned long long)o->ref.size);
		sl_buf_json_str(b, o->role);
		sl_buf_puts(b, ",\"media_type\":");
		sl_buf_json_str(b, o->media_type);
		sl_buf_puts(b, "}");
	}
	sl_buf_puts(b, "]");
}

void sl_prov_record(sl_buf *lines, struct sl_chain *ch, const char *time, const struct sl_item *it)
{
	size_t start = lines->len;
	sl_buf_printf(lines, "{\"seq\":%llu,\"prev\":\"", (unsigned long long)++ch->count);
	sl_buf_hex(lines, ch->head, 32);
	sl_buf_printf(lines, "\",\"writer\":\"%s\",\"time\":\"%s\",\"item\":\"%s\",\"format\":",
		      ch->writer, time, it->item_id);
	sl_buf_json_str(lines, it->format);
	sl_buf_puts(lines, ",\"options_fp\":");
	sl_buf_json_str(lines, it->options_fp);
	sl_buf_puts(lines, ",");
	inputs_json(lines, it);
	sl_buf_puts(lines, ",");
	outputs_json(lines, it);
	sl_buf_puts(lines, ",\"policy\":{\"format\":");
	sl_buf_json_str(lines, it->format);
	sl_buf_puts(lines, ",\"version\":");
	sl_buf_json_str(lines, it->format_version ? it->format_version : "");
	sl_buf_printf(lines, ",\"options\":%s},\"facts\":{%s},\"software\":%s,\"key_fp\":",
		      it->policy ? it->policy : "{}", it->facts ? it->facts : "",
		      it->software ? it->software : "{}");
	sl_buf_json_str(lines, it->key_fp ? it->key_fp : "");
	sl_buf_puts(lines, ",\"subject_map\":");
	if (it->subject_map)
		sl_buf_json_str(lines, it->subject_map);
	else
		sl_buf_puts(lines, "null");
	sl_buf_puts(lines, "}");
	sl_sha256_once(lines->data + start, lines->len - start, ch->head);
	ch->size += lines->len - start + 1;
	sl_buf_puts(lines, "\n");
}

int sl_prov_append(sl_prov *p, const sl_buf *lines, sl_err *err)
{
	p->pending = 0;
	if (!lines->len)
		return 0;
	int rc = sl_write_all(p->fd, lines->data, lines->len);
	if (rc == 0 && fdatasync(p->fd) < 0)
		rc = -errno;
	if (rc < 0) {
		sl_prov_undo(p);
		return sl_fail_errno(err, -rc == ENOSPC ? SL_E_NOSPC : SL_E_IO, -rc,
				     "cannot append to the provenance log");
	}
	p->pending = lines->len;
	return 0;
}

void sl_prov_undo(sl_prov *p)
{
	if (ftruncate(p->fd, (off_t)p->size) == 0)
		fdatasync(p->fd);
	p->pending = 0;
}

void sl_prov_committed(sl_prov *p)
{
	p->size += p->pending;
	p->pending = 0;
}

/* ---- reading ---- */

/* The item a record names: a v2 record's "item":"<hex>" or a v1 record's
 * "item":N, the first "item" member after the envelope's start. */
static int record_item(const char *line, char *out, size_t n)
{
	const char *p = strstr(line, ",\"item\":");
	if (!p)
		return -1;
	p += 8;
	size_t k = 0;
	if (*p == '"') {
		for (p++; *p && *p != '"' && k + 1 < n; p++)
			out[k++] = *p;
	} else {
		for (; *p >= '0' && *p <= '9' && k + 1 < n; p++)
			out[k++] = *p;
	}
	out[k] = 0;
	return k ? 0 : -1;
}

/* 0 if the line is the record in sequence seq chained on head. */
static int check_line(const char *line, size_t n, uint64_t seq, const uint8_t head[32],
		      const char *writer, char *item, size_t icap,
		      void (*problem)(void *, const char *), void *ctx)
{
	unsigned long long s;
	char prev[65], want[65], msg[300];
	int end = 0;
	if (sscanf(line, "{\"seq\":%llu,\"prev\":\"%64[0-9a-f]\"%n", &s, prev, &end) != 2 || !end ||
	    s != seq || line[n - 1] != '}' || record_item(line + end, item, icap) < 0) {
		snprintf(msg, sizeof msg, "provenance %s line %llu: not a record in sequence", writer,
			 (unsigned long long)seq);
		problem(ctx, msg);
		return -1;
	}
	/* v2 records name their writer; v1 ones (a migrated chain) do not */
	char wr[SL_WRITER_MAX + 16];
	snprintf(wr, sizeof wr, ",\"writer\":\"%s\"", writer);
	if (!strncmp(line + end, ",\"writer\":", 10) && strncmp(line + end, wr, strlen(wr))) {
		snprintf(msg, sizeof msg, "provenance %s line %llu: record of another writer",
			 writer, (unsigned long long)seq);
		problem(ctx, msg);
	}
	sl_hex(want, head, 32);
	if (strcmp(prev, want)) {
		snprintf(msg, sizeof msg, "provenance %s line %llu: chain broken (prev does not match "
			 "the line before)", writer, (unsigned long long)seq);
		problem(ctx, msg);
	}
	return 0;
}

uint64_t sl_prov_walk(const char *dir, const struct sl_chain *ch,
		      void (*problem)(void *ctx, const char *msg),
		      void (*cb)(void *ctx, uint64_t seq, const char *item), void *ctx)
{
	char *p = sl_prov_path(dir, ch->writer), msg[300];
	FILE *f = fopen(p, "re");
	free(p);
	if (!f) {
		snprintf(msg, sizeof msg, "provenance log of writer %s missing", ch->writer);
		problem(ctx, msg);
		return 0;
	}
	char *line = NULL, item[64];
	size_t cap = 0;
	ssize_t n = 0;
	uint64_t seq = 0, bytes = 0;
	uint8_t head[32] = {0};
	int broken = 0;
	/* Lines past the committed size belong to a batch a writer has not
	 * committed yet (or one a crash cut short, which the next run cuts
	 * off): neither is damage. */
	while (!broken && bytes < ch->size && (n = getline(&line, &cap, f)) > 0 &&
	       bytes + (uint64_t)n <= ch->size) {
		bytes += (uint64_t)n;
		seq++;
		if (line[n - 1] != '\n') {
			snprintf(msg, sizeof msg, "provenance %s line %llu: torn (no end of line)",
				 ch->writer, (unsigned long long)seq);
			problem(ctx, msg);
			broken = 1;
			break;
		}
		line[--n] = 0;
		if (n == 0) {
			snprintf(msg, sizeof msg, "provenance %s line %llu: empty", ch->writer,
				 (unsigned long long)seq);
			problem(ctx, msg);
			broken = 1;
			break;
		}
		broken = check_line(line, (size_t)n, seq, head, ch->writer, item, sizeof item,
				    problem, ctx) < 0;
		if (!broken && cb)
			cb(ctx, seq, item);
		sl_sha256_once(line, (size_t)n, head);
	}
	free(line);
	fclose(f);
	if (broken)
		return seq;
	if (bytes != ch->size || seq != ch->count) {
		snprintf(msg, sizeof msg, "provenance %s has %llu records in %llu bytes, the catalog "
			 "committed %llu in %llu", ch->writer, (unsigned long long)seq,
			 (unsigned long long)bytes, (unsigned long long)ch->count,
			 (unsigned long long)ch->size);
		problem(ctx, msg);
	} else if (memcmp(head, ch->head, 32)) {
		snprintf(msg, sizeof msg, "provenance %s: head does not match the catalog", ch->writer);
		problem(ctx, msg);
	}
	return seq;
}

int sl_prov_copy(const char *dir, const struct sl_chain *ch, int fd, sl_err *err)
{
	char *p = sl_prov_path(dir, ch->writer);
	int in = open(p, O_RDONLY | O_CLOEXEC);
	free(p);
	if (in < 0)
		return sl_fail_errno(err, SL_E_CORRUPT, errno, "cannot open the provenance log of "
				     "writer %s", ch->writer);
	enum { BUFSZ = 1 << 20 };
	uint8_t *buf = sl_xmalloc(BUFSZ);
	uint64_t left = ch->size; /* only what the catalog committed */
	int rc = 0;
	while (rc == 0 && left) {
		ssize_t n = read(in, buf, left < BUFSZ ? (size_t)left : BUFSZ);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		rc = sl_write_all(fd, buf, (size_t)n);
		left -= (uint64_t)n;
	}
	free(buf);
	close(in);
	return rc < 0 ? sl_fail_errno(err, SL_E_IO, -rc, "writing the log") : 0;
}
