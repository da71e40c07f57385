/* commands.c: the subcommands that read a store (verify, export, cat, ls,
 * log) and keygen.  They open the store read-only: no lock, no repair. */
#include "cli.h"
#include "../codecs/format.h"
#include "../deid/deid.h"
#include "../store/store.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct common {
	const char *store, *to, *subject, *out, *key, *value;
	int json;
	char **rest;
	int nrest;
};

/* Each command's --help, in samtools' and DCMTK's way: the usage line, what
 * the command does, its options, the exit status.  tests/cli_help.sh checks
 * them against README.md. */
static const char keygen_help[] =
	"usage: sluice keygen --out FILE\n"
	"\n"
	"Make a secret key: 32 random bytes, mode 0600.  The same key gives the same\n"
	"pseudonyms in every batch and on every machine; it never enters the store.\n"
	"\n"
	"  --out FILE     the key file to make (refused if it exists)\n"
	"\n"
	"Exit status: 0 written; 2 usage error or the file cannot be made.\n";
static const char verify_help[] =
	"usage: sluice verify --store DIR\n"
	"\n"
	"Re-hash every object, check every location the catalog names and walk every\n"
	"provenance hash chain, the store opened read-only; one line per problem.\n"
	"\n"
	"  --store DIR    the store\n"
	"\n"
	"Exit status: 0 everything checks out; 1 problems found; 2 the store cannot\n"
	"be opened.\n";
static const char migrate_help[] =
	"usage: sluice migrate --store DIR\n"
	"\n"
	"Upgrade a store made by an earlier release to this store format, once\n"
	"(provenance records kept as they were); a current store is left alone.\n"
	"\n"
	"  --store DIR    the store\n"
	"\n"
	"Exit status: 0 upgraded or already current; 2 it cannot be.\n";
static const char log_help[] =
	"usage: sluice log --store DIR\n"
	"\n"
	"Print the provenance log on stdout, JSON Lines, one record per item, each\n"
	"with the SHA-256 of the record before it in its writer's chain.\n"
	"\n"
	"  --store DIR    the store\n";
static const char cat_help[] =
	"usage: sluice cat --store DIR DIGEST\n"
	"\n"
	"Write one stored object, named by its SHA-256 (64 hex digits), to stdout.\n"
	"\n"
	"  --store DIR    the store\n";
static const char ls_help[] =
	"usage: sluice ls --store DIR [--subject ID|--kind K|--study UID|--series UID|--format F] [--json]\n"
	"\n"
	"List the store's items in id order: item, format, subject, kind, outputs.\n"
	"\n"
	"  --store DIR    the store\n"
	"\n"
	"Filters (one at a time):\n"
	"  --subject ID   items of one subject (its pseudonym, S + 24 hex digits)\n"
	"  --kind K       items of one kind (dicom, slide, vcf, reads, opaque)\n"
	"  --study UID    items of one study (its de-identified UID)\n"
	"  --series UID   items of one series (its de-identified UID)\n"
	"  --format F     items of one format\n"
	"\n"
	"Output:\n"
	"  --json         one JSON object a line (item, format, input, size, time,\n"
	"                 attrs, outputs) instead of the table\n";

/* The options every reading command shares; unknown ones are usage errors. */
static int parse(int argc, char **argv, struct common *c, const char *usage)
{
	enum { O_TO = 256, O_SUBJECT, O_OUT, O_JSON, O_KIND, O_FORMAT, O_STUDY, O_SERIES, O_HELP };
	static const struct option lo[] = {
		{"store", required_argument, 0, 's'}, {"to", required_argument, 0, O_TO},
		{"subject", required_argument, 0, O_SUBJECT}, {"out", required_argument, 0, O_OUT},
		{"json", no_argument, 0, O_JSON}, {"kind", required_argument, 0, O_KIND},
		{"format", required_argument, 0, O_FORMAT}, {"study", required_argument, 0, O_STUDY},
		{"series", required_argument, 0, O_SERIES}, {"help", no_argument, 0, O_HELP},
		{0, 0, 0, 0},
	};
	int ch;
	memset(c, 0, sizeof *c);
	optind = 1;
	while ((ch = getopt_long(argc, argv, "s:", lo, NULL)) != -1) {
		switch (ch) {
		case 's': c->store = optarg; break;
		case O_TO: c->to = optarg; break;
		case O_OUT: c->out = optarg; break;
		case O_JSON: c->json = 1; break;
		case O_SUBJECT: c->subject = optarg; c->key = "subject"; c->value = optarg; break;
		case O_KIND: c->key = "kind"; c->value = optarg; break;
		case O_FORMAT: c->key = "format"; c->value = optarg; break;
		case O_STUDY: c->key = "study"; c->value = optarg; break;
		case O_SERIES: c->key = "series"; c->value = optarg; break;
		case O_HELP: fputs(usage, stdout); exit(SL_EXIT_OK);
		default: fputs(usage, stderr); return -1;
		}
	}
	c->rest = argv + optind;
	c->nrest = argc - optind;
	return 0;
}

static sl_store *open_ro(const char *dir)
{
	sl_store *st;
	sl_err err = {0};
	if (!dir) {
		sl_cli_error("--store DIR is required");
		return NULL;
	}
	struct sl_store_opts o = {.flags = SL_STORE_READONLY};
	if (sl_store_open(&st, dir, &o, NULL, &err) < 0) {
		sl_cli_error("%s: %s", dir, err.msg);
		return NULL;
	}
	return st;
}

/* The start every reading command shares: its options (no operands) and
 * the store, opened read-only.  NULL when the command must end (said why). */
static sl_store *begin(int argc, char **argv, struct common *c, const char *usage)
{
	if (parse(argc, argv, c, usage) < 0)
		return NULL;
	if (c->nrest) {
		sl_cli_error("unexpected argument '%s'", c->rest[0]);
		return NULL;
	}
	return open_ro(c->store);
}

int sl_cmd_keygen(int argc, char **argv)
{
	struct common c;
	if (parse(argc, argv, &c, keygen_help) < 0 || !c.out || c.nrest) {
		if (!c.out)
			fputs(keygen_help, stderr);
		return SL_EXIT_ENV;
	}
	sl_err err = {0};
	if (sl_key_generate(c.out, &err) < 0) {
		sl_cli_error("%s", err.msg);
		return SL_EXIT_ENV;
	}
	sl_key *k;
	if (sl_key_load(&k, c.out, &err) == 0) {
		fprintf(stderr, "sluice: wrote key %s (fingerprint %s); keep it secret and backed up: "
			"pseudonyms cannot be reproduced without it\n", c.out, sl_key_fingerprint(k));
		sl_key_free(k);
	}
	return SL_EXIT_OK;
}

static void print_problem(void *ctx, const char *problem)
{
	(void)ctx;
	printf("problem: %s\n", problem);
}

int sl_cmd_verify(int argc, char **argv)
{
	struct common c;
	sl_store *st = begin(argc, argv, &c, verify_help);
	if (!st)
		return SL_EXIT_ENV;
	struct sl_verify_stats vs = {0};
	sl_err err = {0};
	int rc = sl_store_verify(st, print_problem, NULL, &vs, &err);
	sl_store_close(st);
	if (rc < 0) {
		sl_cli_error("verify failed: %s", err.msg);
		return SL_EXIT_ENV;
	}
	printf("%s: %llu objects (%llu bytes), %llu items, %llu provenance records in %llu "
	       "chain(s): %s\n", vs.problems ? "FAILED" : "ok", (unsigned long long)vs.objects,
	       (unsigned long long)vs.bytes, (unsigned long long)vs.items,
	       (unsigned long long)vs.records, (unsigned long long)vs.chains,
	       vs.problems ? "problems found" : "every object, location and record checks out");
	if (vs.unreferenced)
		printf("note: %llu stored object(s) no item names (left by an interrupted run; "
		       "harmless, reused if the same content comes again)\n",
		       (unsigned long long)vs.unreferenced);
	if (vs.problems)
		printf("%llu problem(s)\n", (unsigned long long)vs.problems);
	return vs.problems ? SL_EXIT_REJECTED : SL_EXIT_OK;
}

int sl_cmd_migrate(int argc, char **argv)
{
	struct common c;
	if (parse(argc, argv, &c, migrate_help) < 0 || c.nrest || !c.store) {
		if (!c.store)
			sl_cli_error("--store DIR is required");
		return SL_EXIT_ENV;
	}
	sl_err err = {0};
	int from = 0;
	if (sl_store_migrate(c.store, &from, &err) < 0) {
		sl_cli_error("%s: %s", c.store, err.msg);
		return SL_EXIT_ENV;
	}
	if (from == 2)
		fprintf(stderr, "sluice: %s is already at store format version 2\n", c.store);
	else
		fprintf(stderr, "sluice: %s upgraded from store format version %d to 2 (provenance "
			"records kept as they were)\n", c.store, from);
	return SL_EXIT_OK;
}

int sl_cmd_log(int argc, char **argv)
{
	struct common c;
	sl_store *st = begin(argc, argv, &c, log_help);
	if (!st)
		return SL_EXIT_ENV;
	sl_err err = {0};
	fflush(stdout);
	int rc = sl_store_log(st, 1, &err);
	sl_store_close(st);
	if (rc < 0) {
		sl_cli_error("%s", err.msg);
		return SL_EXIT_ENV;
	}
	return SL_EXIT_OK;
}

int sl_cmd_cat(int argc, char **argv)
{
	struct common c;
	if (parse(argc, argv, &c, cat_help) < 0)
		return SL_EXIT_ENV;
	uint8_t d[32];
	if (c.nrest != 1 || strlen(c.rest[0]) != 64 || sl_unhex(d, c.rest[0], 32) < 0) {
		sl_cli_error("cat wants one object digest (64 hex digits)");
		return SL_EXIT_ENV;
	}
	sl_store *st = open_ro(c.store);
	if (!st)
		return SL_EXIT_ENV;
	sl_err err = {0};
	fflush(stdout);
	int rc = sl_store_cat(st, d, 1, &err);
	sl_store_close(st);
	if (rc < 0) {
		sl_cli_error("%s", err.msg);
		return rc == -SL_E_STATE ? SL_EXIT_REJECTED : SL_EXIT_ENV;
	}
	return SL_EXIT_OK;
}

static const char *attr(const struct sl_item_view *v, const char *key)
{
	for (size_t i = 0; i < v->nattrs; i++)
		if (!strcmp(v->attrs[2 * i], key))
			return v->attrs[2 * i + 1];
	return NULL;
}

static int ls_one(void *ctx, const struct sl_item_view *v)
{
	const struct common *c = ctx;
	sl_buf b;
	sl_buf_init(&b);
	if (c->json) {
		sl_buf_printf(&b, "{\"item\":\"%s\",\"format\":", v->id);
		sl_buf_json_str(&b, v->format);
		sl_buf_printf(&b, ",\"input\":\"%s\",\"size\":%llu,\"time\":", v->input_digest,
			      (unsigned long long)v->input_size);
		sl_buf_json_str(&b, v->time ? v->time : "");
		sl_buf_puts(&b, ",\"attrs\":{");
		for (size_t i = 0; i < v->nattrs; i++) {
			if (i)
				sl_buf_puts(&b, ",");
			sl_buf_json_str(&b, v->attrs[2 * i]);
			sl_buf_puts(&b, ":");
			sl_buf_json_str(&b, v->attrs[2 * i + 1]);
		}
		sl_buf_puts(&b, "},\"outputs\":[");
		for (size_t i = 0; i < v->nouts; i++) {
			sl_buf_puts(&b, i ? ",{\"digest\":\"" : "{\"digest\":\"");
			sl_buf_hex(&b, v->outs[i].ref.digest, 32);
			sl_buf_printf(&b, "\",\"size\":%llu,\"role\":", (unsigned long long)v->outs[i].ref.size);
			sl_buf_json_str(&b, v->outs[i].role);
			sl_buf_puts(&b, ",\"media_type\":");
			sl_buf_json_str(&b, v->outs[i].media_type);
			sl_buf_puts(&b, "}");
		}
		sl_buf_puts(&b, "]}\n");
	} else {
		const char *subj = attr(v, "subject"), *kind = attr(v, "kind");
		sl_buf_printf(&b, "%-32s %-8s %-26s %-10s", v->id, v->format,
			      subj ? subj : "-", kind ? kind : "-");
		for (size_t i = 0; i < v->nouts; i++) {
			char hex[65];
			sl_hex(hex, v->outs[i].ref.digest, 32);
			sl_buf_printf(&b, " %s:%s(%llu)", v->outs[i].role, hex,
				      (unsigned long long)v->outs[i].ref.size);
		}
		sl_buf_puts(&b, "\n");
	}
	fputs(b.data, stdout);
	sl_buf_free(&b);
	return 0;
}

int sl_cmd_ls(int argc, char **argv)
{
	struct common c;
	sl_store *st = begin(argc, argv, &c, ls_help);
	if (!st)
		return SL_EXIT_ENV;
	sl_err err = {0};
	if (!c.json)
		printf("%-32s %-8s %-26s %-10s %s\n", "ITEM", "FORMAT", "SUBJECT", "KIND", "OUTPUTS");
	int rc = sl_store_items(st, c.key, c.value, ls_one, &c, &err);
	sl_store_close(st);
	if (rc < 0) {
		sl_cli_error("%s", err.msg);
		return SL_EXIT_ENV;
	}
	return SL_EXIT_OK;
}

/* ---- export ---- */

struct export_ctx {
	sl_store *st;
	const char *to;
	uint64_t files;
	int failed;
};

/* The extension a format declares for an output's media type; ".bin" for
 * one it does not (or an item of a format no longer in the table). */
static const char *extension(const struct sl_format *f, const char *media_type)
{
	for (const struct sl_format_extension *x = f ? f->extensions : NULL; x && x->media_type; x++)
		if (!strcmp(media_type, x->media_type))
			return x->extension;
	return ".bin";
}

/* Only names made of safe characters reach the file system. */
static void safe_name(sl_buf *b, const char *s)
{
	if (!s || !*s || !strcmp(s, ".") || !strcmp(s, "..")) {
		sl_buf_puts(b, "_");
		return;
	}
	for (; *s; s++) {
		char ch = *s;
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
		sl_buf_add(b, ok ? s : "_", 1);
	}
}

static int mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		int rc = mkdir(path, 0750);
		*p = '/';
		if (rc < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

static int export_one(void *ctx, const struct sl_item_view *v)
{
	struct export_ctx *x = ctx;
	const struct sl_format *f = sl_format_by_name(v->format);
	const char *subject = attr(v, "subject");
	const char *group = f && f->export_folder ? attr(v, f->export_folder) : NULL;
	const char *name = f && f->export_name ? attr(v, f->export_name) : NULL;
	for (size_t i = 0; i < v->nouts; i++) {
		char hex[65];
		sl_hex(hex, v->outs[i].ref.digest, 32);
		sl_buf p;
		sl_buf_init(&p);
		sl_buf_printf(&p, "%s/", x->to);
		safe_name(&p, subject ? subject : "_unassigned");
		sl_buf_puts(&p, "/");
		safe_name(&p, group ? group : v->format);
		sl_buf_puts(&p, "/");
		if (name)
			safe_name(&p, name);
		else
			sl_buf_add(&p, hex, 16);
		size_t stem = p.len;
		sl_buf_puts(&p, extension(f, v->outs[i].media_type));
		int fd = mkdirs(p.data) < 0 ? -1 :
			 open(p.data, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		if (fd < 0 && errno == EEXIST) {
			/* a name is not unique (one instance in two encodings):
			 * both kept, told apart by digest */
			if (name) {
				p.len = stem;
				sl_buf_printf(&p, "-%.16s%s", hex, extension(f, v->outs[i].media_type));
			}
			fd = open(p.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
		}
		sl_err err = {0};
		if (fd < 0 || sl_store_cat(x->st, v->outs[i].ref.digest, fd, &err) < 0) {
			sl_cli_error("cannot export object %s to %s: %s", hex, p.data,
				     fd < 0 ? strerror(errno) : err.msg);
			x->failed = 1;
		} else {
			x->files++;
		}
		if (fd >= 0)
			close(fd);
		sl_buf_free(&p);
	}
	return 0;
}

int sl_cmd_export(int argc, char **argv)
{
	struct common c;
	if (parse(argc, argv, &c, "usage: sluice export --store DIR --to OUTDIR [--subject ID]\n") < 0 ||
	    c.nrest)
		return SL_EXIT_ENV;
	if (!c.to) {
		sl_cli_error("export needs --to OUTDIR");
		return SL_EXIT_ENV;
	}
	if (mkdir(c.to, 0750) < 0 && errno != EEXIST) {
		sl_cli_error("cannot create %s: %s", c.to, strerror(errno));
		return SL_EXIT_ENV;
	}
	sl_store *st = open_ro(c.store);
	if (!st)
		return SL_EXIT_ENV;
	struct export_ctx x = {.st = st, .to = c.to};
	sl_err err = {0};
	int rc = sl_store_items(st, c.subject ? "subject" : NULL, c.subject, export_one, &x, &err);
	sl_store_close(st);
	if (rc < 0) {
		sl_cli_error("%s", err.msg);
		return SL_EXIT_ENV;
	}
	fprintf(stderr, "sluice: exported %llu file(s) to %s\n", (unsigned long long)x.files, c.to);
	return x.failed ? SL_EXIT_REJECTED : SL_EXIT_OK;
}
