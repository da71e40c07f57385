/* main.c: sluice's entry point: dispatch to a subcommand. */
#include "cli.h"
#include "engine.h"
#include <malloc.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: sluice <command> [options]\n"
	"\n"
	"De-identify, normalise and store DICOM, whole-slide images and genomics\n"
	"files in a content-addressed store with a provenance log.\n"
	"\n"
	"Commands:\n"
	"  keygen   make a secret key (mode 0600)\n"
	"  ingest   de-identify, normalise and store inputs\n"
	"  verify   re-hash objects, check catalog and provenance\n"
	"  ls       list items\n"
	"  cat      write one object to stdout\n"
	"  export   write stored items as files\n"
	"  log      print the provenance log\n"
	"  migrate  upgrade a store made by an earlier release\n"
	"\n"
	"Options:\n"
	"  --version  versions of sluice and its libraries\n"
	"  --help     this text\n"
	"\n"
	"`sluice <command> --help` describes a command's options.\n";

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return SL_EXIT_ENV;
	}
	/* Formats allocate and free large blocks per unit of work (libjpeg
	 * frees its pools after every slide tile).  glibc hands the free top
	 * of a thread's heap back to the kernel once it passes 128 KiB (or
	 * twice the last large block), and each such madvise flushes the TLB
	 * of every CPU the process runs on: 40% of the wall time of a slide,
	 * measured.  Free memory up to 64 MiB per heap is kept for reuse.
	 * Setting it turns off glibc's moving mmap threshold too, which would
	 * leave every block of 128 KiB or more (DICOM and opaque read buffers)
	 * a map and unmap of its own, a TLB flush at each free: 2.7x the wall
	 * time of a CT export, measured.  So blocks up to 32 MiB (the largest
	 * threshold glibc takes) come from the heaps. */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);
	mallopt(M_MMAP_THRESHOLD, 32 << 20);
	const char *cmd = argv[1];
	if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		sl_buf b;
		sl_buf_init(&b);
		sl_versions_text(&b);
		fputs(b.data, stdout);
		sl_buf_free(&b);
		return SL_EXIT_OK;
	}
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "help") || !strcmp(cmd, "-h")) {
		fputs(usage, stdout);
		return SL_EXIT_OK;
	}
	static const struct {
		const char *name;
		int (*fn)(int, char **);
	} cmds[] = {
		{"keygen", sl_cmd_keygen}, {"ingest", sl_cmd_ingest}, {"verify", sl_cmd_verify},
		{"export", sl_cmd_export}, {"cat", sl_cmd_cat}, {"ls", sl_cmd_ls},
		{"log", sl_cmd_log}, {"migrate", sl_cmd_migrate},
	};
	for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
		if (!strcmp(cmd, cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "sluice: unknown command '%s'\n\n%s", cmd, usage);
	return SL_EXIT_ENV;
}
