/* cmd_ingest.c: `sluice ingest`: options, the run, the summary. */
#include "cli.h"
#include "engine.h"
#include "../codecs/format.h"
#include "../common/io/io.h"
#include <errno.h>
#include <getopt.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char help[] =
	"usage: sluice ingest --store DIR --key-file FILE [options] SRC...\n"
	"\n"
	"De-identify, normalise and store inputs, each ending ingested, already\n"
	"present, skipped by policy or rejected with its reason.  SRC is a file, a\n"
	"directory (walked recursively), @LIST (one path per line) or - (paths on\n"
	"stdin).\n"
	"\n"
	"Required:\n"
	"  --store DIR           the store (created if missing)\n"
	"  --key-file FILE       secret key from `sluice keygen` (mode 0600)\n"
	"\n"
	"Inputs:\n"
	"  --opaque PREFIX       store files under PREFIX byte for byte (non-sensitive\n"
	"                        material such as reference genomes); repeatable\n"
	"  --reference FASTA     reference sequence for VCF/BCF and reads, ingested as an\n"
	"                        opaque item; without FASTA.fai (and .gzi when bgzipped)\n"
	"                        it is indexed in memory, nothing written beside it\n"
	"  --subject-map CSV     local identifier -> person identifier (Patient ID, slide\n"
	"                        barcode, sample name: one subject per person)\n"
	"  --follow-symlinks     follow symbolic links found while walking (default: not)\n"
	"\n"
	"Run:\n"
	"  --threads N           worker threads (default: one per CPU)\n"
	"  --io MODE             auto (default), uring or posix; env SLUICE_IO\n"
	"  --direct              O_DIRECT for large sequential reads and writes\n"
	"  --batch N             items per catalog commit (default 4096); larger\n"
	"                        batches mean fewer fsyncs, more work redone after a crash\n"
	"  --writer NAME         this run's provenance chain (default main; a-z 0-9 _ -):\n"
	"                        each writer of a store appends to a chain of its own\n"
	"\n"
	"Output:\n"
	"  --report FILE         operator report, JSON Lines, one line per input\n"
	"                        (names source paths: keep it outside the store)\n"
	"  --json                print the summary as JSON on stdout\n"
	"  --progress / --no-progress  (default: progress when stderr is a terminal)\n";

static const char help_exit[] =
	"\n"
	"Exit status: 0 all inputs ingested, already present or skipped by policy\n"
	"(a DICOMDIR); 1 some rejected; 2 usage or environment error (the store stays valid).\n";

void sl_cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sluice: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

static int parse_io(const char *s, int *mode)
{
	if (!s || !strcmp(s, "auto"))
		*mode = SL_IO_AUTO;
	else if (!strcmp(s, "uring") || !strcmp(s, "io_uring"))
		*mode = SL_IO_URING;
	else if (!strcmp(s, "posix"))
		*mode = SL_IO_POSIX;
	else
		return -1;
	return 0;
}

static void print_summary(const struct sl_ingest_summary *s)
{
	fprintf(stderr, "sluice: %llu discovered: %llu ingested, %llu already present, %llu rejected",
		(unsigned long long)s->discovered, (unsigned long long)s->ingested,
		(unsigned long long)s->present, (unsigned long long)s->rejected);
	if (s->skipped)
		fprintf(stderr, ", %llu skipped", (unsigned long long)s->skipped);
	for (size_t i = 0; i < s->nreasons; i++)
		fprintf(stderr, "%s%llu %s", i ? ", " : " (", (unsigned long long)s->reasons[i].n,
			s->reasons[i].reason);
	fprintf(stderr, "%s; %.2f s, %s, %u threads\n", s->nreasons ? ")" : "", s->seconds,
		s->io_backend ? s->io_backend : "-", s->threads);
	if (s->stopped)
		fprintf(stderr, "sluice: run stopped early: %s\n", s->stop_reason);
}

static void print_json(const struct sl_ingest_summary *s)
{
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_printf(&b, "{\"discovered\":%llu,\"ingested\":%llu,\"already_present\":%llu,"
		      "\"rejected\":%llu,\"skipped\":%llu,\"bytes_in\":%llu,\"bytes_stored\":%llu,\"seconds\":%.3f,"
		      "\"io\":\"%s\",\"threads\":%u,\"stopped\":%s",
		      (unsigned long long)s->discovered, (unsigned long long)s->ingested,
		      (unsigned long long)s->present, (unsigned long long)s->rejected,
		      (unsigned long long)s->skipped, (unsigned long long)s->bytes_in, (unsigned long long)s->bytes_stored,
		      s->seconds, s->io_backend ? s->io_backend : "", s->threads,
		      s->stopped ? "true" : "false");
	if (s->stopped) {
		sl_buf_puts(&b, ",\"stop_reason\":");
		sl_buf_json_str(&b, s->stop_reason);
	}
	sl_buf_puts(&b, ",\"reasons\":{");
	for (size_t i = 0; i < s->nreasons; i++) {
		if (i)
			sl_buf_puts(&b, ",");
		sl_buf_json_str(&b, s->reasons[i].reason);
		sl_buf_printf(&b, ":%llu", (unsigned long long)s->reasons[i].n);
	}
	sl_buf_puts(&b, "}}\n");
	fputs(b.data, stdout);
	sl_buf_free(&b);
}

enum { O_FORMAT = 1000 };

/* The base options plus every option a format declares (val O_FORMAT + k). */
static struct option *all_options(const struct option *base, size_t nbase,
				  const struct sl_format_option ***fopts)
{
	size_t n = 0, k = 0;
	for (size_t i = 0; sl_formats[i]; i++)
		for (const struct sl_format_option *x = sl_formats[i]->options; x && x->name; x++)
			n++;
	struct option *lo = sl_xcalloc(nbase + n + 1, sizeof *lo);
	*fopts = sl_xcalloc(n + 1, sizeof **fopts);
	memcpy(lo, base, nbase * sizeof *lo);
	for (size_t i = 0; sl_formats[i]; i++)
		for (const struct sl_format_option *x = sl_formats[i]->options; x && x->name; x++) {
			lo[nbase + k] = (struct option){x->name, required_argument, 0, O_FORMAT + (int)k};
			(*fopts)[k++] = x;
		}
	return lo;
}

/* text on lines of at most 79 columns, each indented by indent spaces */
static void wrapped(FILE *f, const char *text, int indent)
{
	const int width = 79 - indent;
	for (const char *p = text; *p;) {
		int n = (int)strlen(p);
		if (n > width) {
			n = width;
			while (n > 0 && p[n] != ' ')
				n--;
			if (n == 0)
				n = width; /* one word longer than a line */
		}
		fprintf(f, "%*s%.*s\n", indent, "", n, p);
		p += n;
		while (*p == ' ')
			p++;
	}
}

static void print_help(FILE *f)
{
	fputs(help, f);
	/* each format's options, from its own table, under its name */
	for (size_t i = 0; sl_formats[i]; i++)
		for (const struct sl_format_option *x = sl_formats[i]->options; x && x->name; x++) {
			if (x == sl_formats[i]->options)
				fprintf(f, "\n%s format:\n", sl_formats[i]->name);
			fprintf(f, "  --%s %s\n", x->name, x->arg);
			wrapped(f, x->help, 6);
		}
	fputs(help_exit, f);
}

/* A SRC on the command line that is not there is the operator's mistake,
 * said before the store is touched (exit 2), not an input rejected: a
 * typo'd path would otherwise end as "1 rejected" beside a real run.  What
 * a walk or a list finds missing is still an input, rejected with why. */
static int sources_exist(const struct sl_ingest_opts *o)
{
	int ok = 1;
	for (size_t i = 0; i < o->nsrcs; i++) {
		const char *s = o->srcs[i];
		int list = s[0] == '@';
		struct stat st;
		if (!strcmp(s, "-"))
			continue;
		if (list ? access(s + 1, R_OK) < 0 : lstat(s, &st) < 0) {
			sl_cli_error("cannot read the %s %s: %s", list ? "list" : "source",
				     s + list, strerror(errno));
			ok = 0;
		}
	}
	return ok;
}

/* 0: options parsed; 1: --help printed; -1: usage error (already said). */
static int parse_opts(int argc, char **argv, struct sl_ingest_opts *o, const char **opaque,
		      int *json, const char ***ref_srcs)
{
	enum { O_THREADS = 256, O_REPORT, O_OPAQUE, O_SMAP, O_JSON, O_IO, O_DIRECT, O_FOLLOW,
	       O_PROGRESS, O_NOPROGRESS, O_BATCH, O_HELP, O_REFERENCE, O_WRITER };
	static const struct option base[] = {
		{"store", required_argument, 0, 's'}, {"key-file", required_argument, 0, 'k'},
		{"threads", required_argument, 0, O_THREADS}, {"report", required_argument, 0, O_REPORT},
		{"opaque", required_argument, 0, O_OPAQUE}, {"subject-map", required_argument, 0, O_SMAP},
		{"json", no_argument, 0, O_JSON}, {"io", required_argument, 0, O_IO},
		{"direct", no_argument, 0, O_DIRECT}, {"follow-symlinks", no_argument, 0, O_FOLLOW},
		{"progress", no_argument, 0, O_PROGRESS}, {"no-progress", no_argument, 0, O_NOPROGRESS},
		{"batch", required_argument, 0, O_BATCH}, {"help", no_argument, 0, O_HELP},
		{"reference", required_argument, 0, O_REFERENCE},
		{"writer", required_argument, 0, O_WRITER},
	};
	const struct sl_format_option **fopts;
	struct option *lo = all_options(base, sizeof base / sizeof *base, &fopts);
	const char **pairs = (const char **)o->fmt_opts;
	int c, rc = 0;
	if (parse_io(getenv("SLUICE_IO"), &o->io_mode) < 0) {
		sl_cli_error("SLUICE_IO must be auto, uring or posix");
		goto usage;
	}
	while ((c = getopt_long(argc, argv, "s:k:", lo, NULL)) != -1) {
		char *end;
		switch (c) {
		case 's': o->store_dir = optarg; break;
		case 'k': o->key_file = optarg; break;
		case O_THREADS:
			o->threads = (unsigned)strtoul(optarg, &end, 10);
			if (*end || *optarg == '-' || o->threads == 0 || o->threads > 1024) {
				sl_cli_error("--threads wants a number from 1 to 1024, not '%s'", optarg);
				goto usage;
			}
			break;
		case O_BATCH:
			o->batch_items = (uint32_t)strtoul(optarg, &end, 10);
			if (*end || *optarg == '-' || o->batch_items == 0 || o->batch_items > 65536) {
				sl_cli_error("--batch wants a number from 1 to 65536, not '%s'", optarg);
				goto usage;
			}
			break;
		case O_REPORT: o->report_path = optarg; break;
		case O_OPAQUE: opaque[o->nopaque++] = optarg; break;
		case O_SMAP: o->subject_map = optarg; break;
		case O_REFERENCE: o->reference = optarg; break;
		case O_WRITER: o->writer = optarg; break;
		case O_JSON: *json = 1; break;
		case O_IO:
			if (parse_io(optarg, &o->io_mode) < 0) {
				sl_cli_error("--io must be auto, uring or posix, not '%s'", optarg);
				goto usage;
			}
			break;
		case O_DIRECT: o->direct = 1; break;
		case O_FOLLOW: o->follow_symlinks = 1; break;
		case O_PROGRESS: o->progress = 1; break;
		case O_NOPROGRESS: o->progress = 0; break;
		case O_HELP: print_help(stdout); rc = 1; goto out;
		default:
			if (c >= O_FORMAT) {
				pairs[2 * o->nfmt_opts] = fopts[c - O_FORMAT]->name;
				pairs[2 * o->nfmt_opts++ + 1] = optarg;
				break;
			}
			print_help(stderr);
			goto usage;
		}
	}
	o->srcs = (const char *const *)argv + optind;
	o->nsrcs = (size_t)(argc - optind);
	if (o->reference) {
		/* The reference is an input too: stored byte for byte (opaque),
		 * so provenance can point at it (once, if also given as SRC). */
		int listed = 0;
		for (size_t i = 0; i < o->nsrcs; i++)
			listed |= !strcmp(o->srcs[i], o->reference);
		opaque[o->nopaque++] = o->reference;
		if (!listed && o->nsrcs) {
			const char **srcs = sl_xcalloc(o->nsrcs + 1, sizeof *srcs);
			srcs[0] = o->reference;
			memcpy(srcs + 1, o->srcs, o->nsrcs * sizeof *srcs);
			o->srcs = srcs;
			o->nsrcs++;
			*ref_srcs = srcs;
		}
	}
	if (!o->store_dir || !o->key_file || o->nsrcs == 0) {
		sl_cli_error("ingest needs --store DIR, --key-file FILE and at least one SRC");
		print_help(stderr);
		goto usage;
	}
	if (!sources_exist(o))
		goto usage;
out:
	free(lo);
	free(fopts);
	return rc;
usage:
	rc = -1;
	goto out;
}

static int absent(const char *path, const char *ext)
{
	sl_buf b;
	sl_buf_init(&b);
	sl_buf_printf(&b, "%s%s", path, ext);
	int gone = access(b.data, F_OK) < 0 && errno == ENOENT;
	sl_buf_free(&b);
	return gone;
}

/* samtools and bcftools index a FASTA that has none beside it; so do the
 * genomics formats (codecs/hts), in memory, never beside a file that may
 * be read-only or shared.  Said once, as it costs a pass over the file. */
static void note_reference_index(const char *path)
{
	unsigned char m[2] = {0};
	FILE *f = fopen(path, "rbe");
	int gz = f && fread(m, 1, 2, f) == 2 && m[0] == 0x1f && m[1] == 0x8b;
	if (f)
		fclose(f);
	if (f && (absent(path, ".fai") || (gz && absent(path, ".gzi"))))
		fprintf(stderr, "sluice: %s has no %s beside it: indexing it in memory for this run "
			"(`samtools faidx` makes one to keep)\n", path, gz ? ".fai/.gzi" : ".fai");
}

int sl_cmd_ingest(int argc, char **argv)
{
	struct sl_ingest_opts o = {.progress = isatty(2)};
	const char **opaque = sl_xcalloc((size_t)argc + 1, sizeof *opaque);
	const char **ref_srcs = NULL;
	o.fmt_opts = sl_xcalloc((size_t)argc, sizeof *o.fmt_opts);
	int json = 0;
	o.opaque = opaque;
	int p = parse_opts(argc, argv, &o, opaque, &json, &ref_srcs);
	if (p != 0) {
		free(ref_srcs);
		free(opaque);
		free((void *)o.fmt_opts);
		return p > 0 ? SL_EXIT_OK : SL_EXIT_ENV;
	}
	if (o.reference)
		note_reference_index(o.reference);
	struct sl_ingest_summary sum;
	sl_err err = {0};
	int rc = sl_ingest(&o, &sum, &err);
	if (sum.io_backend || sum.discovered)
		print_summary(&sum);
	if (json)
		print_json(&sum);
	sl_ingest_summary_free(&sum);
	free(ref_srcs);
	free(opaque);
	free((void *)o.fmt_opts);
	if (rc == -SL_E_NOSPC) {
		sl_cli_error("the store ran out of space (%s); everything reported ingested is safely "
			     "stored: free space and run the same command again to finish", err.msg);
		return SL_EXIT_ENV;
	}
	if (rc < 0) {
		sl_cli_error("%s", err.msg);
		return SL_EXIT_ENV;
	}
	if (sum.stopped)
		return SL_EXIT_ENV;
	return sum.rejected ? SL_EXIT_REJECTED : SL_EXIT_OK;
}
