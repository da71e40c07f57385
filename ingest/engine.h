/* engine.h: one ingest run: discover -> open/read (io) -> sniff -> transform
 * on a worker -> store -> batched commit -> operator report.  The engine
 * knows no format; it only calls the table in formats.c. */
#ifndef SL_ENGINE_H
#define SL_ENGINE_H
#include <stdint.h>
#include <stdio.h>
#include "../common/sl_common.h"

struct sl_backend_ops;
struct sl_source;

struct sl_ingest_opts {
	const char *store_dir;
	const char *key_file;
	const char *const *srcs;
	size_t nsrcs;
	unsigned threads;        /* 0: one per CPU */
	int io_mode;             /* enum sl_io_mode */
	int direct;              /* O_DIRECT for large sequential I/O */
	const char *const *opaque; /* path prefixes stored verbatim */
	size_t nopaque;
	int follow_symlinks;
	const char *subject_map; /* CSV or NULL */
	const char *report_path; /* JSON Lines operator report or NULL */
	/* Reference FASTA for the genomics formats (or NULL); the caller also
	 * lists it among srcs and opaque, so it is ingested as an item. */
	const char *reference;
	int progress;            /* draw progress on stderr */
	uint32_t batch_items;    /* commit batch size (0: default) */
	/* This run's provenance chain (NULL: "main"), and the object backend
	 * (NULL: the local one; tests plug in others). */
	const char *writer;
	const struct sl_backend_ops *backend;
	/* Where inputs come from (source.h); none: the files source over srcs. */
	const struct sl_source *sources;
	size_t nsources;
	/* Format options in command-line order: name, value, name, value... */
	const char *const *fmt_opts;
	size_t nfmt_opts;        /* pairs */
};

struct sl_reason_count {
	char *reason;
	uint64_t n;
};

struct sl_ingest_summary {
	uint64_t discovered, ingested, present, rejected, skipped;
	uint64_t bytes_in, bytes_stored;
	double seconds;
	const char *io_backend;
	unsigned threads;
	int stopped;             /* run ended early (out of space, signal) */
	char stop_reason[256];
	struct sl_reason_count *reasons;
	size_t nreasons;
};

/* Returns 0 when the run completed (some inputs may be rejected: see the
 * summary), or a negative sl_code for an environment error that stopped it.
 * The summary is filled in both cases. */
int sl_ingest(const struct sl_ingest_opts *o, struct sl_ingest_summary *sum, sl_err *err);
void sl_ingest_summary_free(struct sl_ingest_summary *s);

/* "name version" lines for sluice and every library it links. */
void sl_versions_text(sl_buf *b);
/* The same as a JSON object, for provenance. */
const char *sl_versions_json(void);
#endif
