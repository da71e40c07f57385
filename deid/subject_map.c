/*
 * subject_map.c: the operator's CSV linking local identifiers to persons, so
 * a Patient ID, a slide barcode and a VCF sample name become one pseudonymous
 * subject.  Held in a sorted array: maps are loaded once and looked up often.
 */
#include "deid.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
	char *local, *person;
};

struct sl_subject_map {
	struct entry *e;
	size_t n;
	char digest[65];
};

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	char *end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		*--end = 0;
	/* one level of double quotes, as spreadsheets write them */
	if (end - s >= 2 && s[0] == '"' && end[-1] == '"') {
		end[-1] = 0;
		s++;
	}
	return s;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->local, ((const struct entry *)b)->local);
}

static int add_line(sl_subject_map *m, char *line, size_t lineno, const char *path,
		    size_t *cap, sl_err *err)
{
	char *s = trim(line);
	if (!*s || *s == '#')
		return 0;
	char *comma = strchr(s, ',');
	if (!comma)
		return sl_fail(err, SL_E_USAGE, "subject map %s line %zu: expected local_id,person_id",
			       path, lineno);
	*comma = 0;
	char *local = trim(s), *person = trim(comma + 1);
	if (*person && !strchr(person, ',') && !sl_subject_identified(local))
		return sl_fail(err, SL_E_USAGE, "subject map %s line %zu: the local identifier is "
			       "empty; an input without one belongs to no subject and cannot be "
			       "mapped (give it an identifier at the source)", path, lineno);
	if (!*local || !*person || strchr(person, ','))
		return sl_fail(err, SL_E_USAGE, "subject map %s line %zu: expected local_id,person_id",
			       path, lineno);
	if (lineno == 1 && m->n == 0 && !strcasecmp(local, "local_id"))
		return 0; /* header */
	if (m->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		m->e = sl_xrealloc(m->e, *cap * sizeof *m->e);
	}
	m->e[m->n].local = sl_xstrdup(local);
	m->e[m->n].person = sl_xstrdup(person);
	m->n++;
	return 0;
}

int sl_subject_map_load(sl_subject_map **out, const char *path, sl_err *err)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return sl_fail_errno(err, SL_E_USAGE, errno, "cannot open subject map %s", path);
	sl_subject_map *m = sl_xcalloc(1, sizeof *m);
	char *line = NULL;
	size_t linecap = 0, cap = 0, lineno = 0;
	int rc = 0;
	while (rc == 0 && getline(&line, &linecap, f) >= 0)
		rc = add_line(m, line, ++lineno, path, &cap, err);
	free(line);
	fclose(f);
	if (rc == 0 && m->n)
		qsort(m->e, m->n, sizeof *m->e, cmp);
	for (size_t i = 1; rc == 0 && i < m->n; i++)
		if (!strcmp(m->e[i].local, m->e[i - 1].local) && strcmp(m->e[i].person, m->e[i - 1].person))
			rc = sl_fail(err, SL_E_USAGE,
				     "subject map %s maps one local identifier to two persons", path);
	if (rc < 0) {
		sl_subject_map_free(m);
		return rc;
	}
	sl_sha256 *h = sl_sha256_new();
	for (size_t i = 0; i < m->n; i++) {
		sl_sha256_update(h, m->e[i].local, strlen(m->e[i].local) + 1);
		sl_sha256_update(h, m->e[i].person, strlen(m->e[i].person) + 1);
	}
	uint8_t d[32];
	sl_sha256_final(h, d);
	sl_sha256_free(h);
	sl_hex(m->digest, d, 32);
	*out = m;
	return 0;
}

void sl_subject_map_free(sl_subject_map *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++) {
		free(m->e[i].local);
		free(m->e[i].person);
	}
	free(m->e);
	free(m);
}

size_t sl_subject_map_size(const sl_subject_map *m) { return m->n; }
const char *sl_subject_map_digest(const sl_subject_map *m) { return m->digest; }

const char *sl_subject_map_get(const sl_subject_map *m, const char *local_id)
{
	if (!m || !m->n)
		return NULL;
	struct entry key = {.local = (char *)local_id};
	struct entry *e = bsearch(&key, m->e, m->n, sizeof *m->e, cmp);
	return e ? e->person : NULL;
}

int sl_subject_identified(const char *local_id)
{
	for (const unsigned char *p = (const unsigned char *)local_id; *p; p++)
		if (*p > ' ' && *p != 0x7F)
			return 1;
	return 0;
}

int sl_subject_pseudonym(const struct sl_deid_ctx *ctx, const char *local_id, char out[32])
{
	out[0] = 0;
	if (!sl_subject_identified(local_id))
		return 0;
	const char *person = sl_subject_map_get(ctx->subjects, local_id);
	uint8_t d[32];
	if (person)
		sl_key_hmac(ctx->key, "subject", person, strlen(person), d);
	else
		sl_key_hmac(ctx->key, "subject-local", local_id, strlen(local_id), d);
	out[0] = 'S';
	sl_hex(out + 1, d, 12);
	return 1;
}

void sl_subject_unlinked(const struct sl_deid_ctx *ctx, const void *unit, size_t n, char out[32])
{
	uint8_t d[32];
	sl_key_hmac(ctx->key, "subject-unlinked", unit, n, d);
	out[0] = 'N';
	sl_hex(out + 1, d, 12);
}
