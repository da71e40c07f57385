/* commands.c: the subcommands that read a store (verify, cat, ls, log;
 * export is cmd_export.c) and keygen.  They open the store read-only: no
 * lock, no repair. */
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

sl_store *sl_cli_open_ro(const char *dir)
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
	return sl_cli_open_ro(c->store);
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
	sl_store *st = sl_cli_open_ro(c.store);
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
		const char *subj = sl_item_attr(v, "subject"), *kind = sl_item_attr(v, "kind");
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

