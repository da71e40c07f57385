/*
 * format.h: how a format plugs into the engine.  A format is one module in
 * codecs/ exporting one const struct sl_format (the way OpenSlide has one
 * file per vendor); ingest/formats.c lists them.  A format reads its input
 * through sl_input and writes objects, catalog attributes and provenance
 * facts through sl_sink.  It never opens files or schedules I/O, and it never
 * sees the input's path (paths name patients in PACS exports).
 */
#ifndef SL_FORMAT_H
#define SL_FORMAT_H

#include <stdint.h>
#include <stddef.h>
#include "../common/sl_common.h"
#include "io.h"

typedef struct sl_input sl_input;
typedef struct sl_sink sl_sink;
struct sl_deid_ctx; /* key, subject map, policy options: deid/deid.h */

enum {
	/* The output is the input, byte for byte: the engine stores the input
	 * chunks by reference and hashes them once. */
	SL_FORMAT_IDENTITY = 1,
	/* The format needs the operator's reference sequence (`--reference
	 * FILE`, genomics).  The engine hashes the file, ingests it as an
	 * opaque item and calls configure(conf, "reference-sha256", HEX) then
	 * configure(conf, "reference", PATH).  This is the one path a format
	 * sees: an operator-provided, non-sensitive file that htslib's faidx
	 * must open itself (references are gigabytes and indexed: handing the
	 * content over in memory would be wrong). */
	SL_FORMAT_REFERENCE = 2,
};

/* An option a format takes, given as `--NAME VALUE` on the command line. */
struct sl_format_option {
	const char *name;     /* "dicom-options"; prefixed with the format's name */
	const char *arg;      /* for the help: "LIST", "keep|remove", "FILE" */
	const char *help;
	int is_file;          /* VALUE names a file: the format gets its content
			         (formats never open files) */
};

struct sl_format {
	const char *name;     /* short, stable: goes into catalog and provenance */
	const char *version;  /* bump when output bytes change */
	unsigned flags;
	const struct sl_format_option *options; /* ends with a NULL name; may be NULL */
	/* Apply one option to *conf (NULL on the first call: the format
	 * allocates it).  An error names the option and says why. */
	int (*configure)(void **conf, const char *name, const char *value, size_t len,
			 sl_err *err);
	/* The policy as canonical JSON (owned by conf, NULL conf allowed): it
	 * goes into provenance and into the fingerprint that decides whether
	 * an input is already present. */
	const char *(*policy)(const void *conf);
	void (*release)(void *conf);
	/* Confidence 0..100 that an input starting with head (len bytes, the
	 * first chunk or the whole file) of total size `size` is this format. */
	int (*sniff)(const uint8_t *head, size_t len, uint64_t size);
	/* Turn one input into objects.  Return 0, or a negative sl_code with
	 * err->msg saying why the input is rejected (no identifying values). */
	int (*transform)(sl_input *in, sl_sink *out, const struct sl_deid_ctx *ctx,
			 const void *conf, sl_err *err);
};

/* ---- input ---- */
uint64_t sl_input_size(const sl_input *in);
/* The next chunk of the input in order: 1 and *c (the caller owns one ref,
 * and may pass c to sl_sink_put), 0 at the end, <0 on a read error. */
int sl_input_next(sl_input *in, sl_chunk **c, sl_err *err);
/* Random access for formats whose layout is not sequential (TIFF, indexed
 * containers): up to n bytes at off into buf; returns the count read (short
 * only at the end of the input) or <0.  Independent of sl_input_next: the
 * engine still reads the whole input in order for its digest, after the
 * transform if the format did not, and rejects the input if it changed in
 * between (so bytes read here are the bytes the digest names). */
int64_t sl_input_pread(sl_input *in, void *buf, size_t n, uint64_t off, sl_err *err);
/* For a library that reads only through a file name (OpenSlide): a
 * read-only descriptor of the input, owned by the engine and closed with
 * the input (the caller must not close it).  A file input gives the
 * engine's own descriptor; an input in memory (sl_transform_memory) a
 * sealed memfd holding its bytes.  Open it as "/proc/self/fd/N": a name
 * that says nothing about the input.  The digest check above still holds:
 * the engine reads the whole input after the transform. */
int sl_input_fd(sl_input *in, sl_err *err);

/* ---- output ---- */
/* Start an output object; one at a time. */
int sl_sink_begin(sl_sink *s, const char *role, const char *media_type, sl_err *err);
int sl_sink_write(sl_sink *s, const void *p, size_t n, sl_err *err);
/* Append bytes of a chunk by reference (no copy for large objects). */
int sl_sink_put(sl_sink *s, sl_chunk *c, size_t off, size_t n, sl_err *err);
int sl_sink_end(sl_sink *s, sl_err *err);
/* An indexed catalog attribute (subject, study, series, kind...): values must
 * already be de-identified. */
void sl_sink_attr(sl_sink *s, const char *key, const char *value);
/* A provenance fact: key and a JSON value (a literal, string or object). */
void sl_sink_fact(sl_sink *s, const char *key, const char *json_value);

/* Scratch space for a format that needs more than bounded memory (an
 * external sort, a library that writes to a file descriptor): a new
 * read-write file with no name (O_TMPFILE in the store's tmp/ directory;
 * anonymous memory under sl_transform_memory), gone when closed.  Returns
 * the descriptor, which the format closes, or <0 with err set. */
int sl_scratch_open(sl_sink *s, sl_err *err);

/* Run a format on bytes in memory (tests, fuzzing, tools): the objects it
 * writes are appended to out, its provenance facts (JSON members) to facts
 * (may be NULL).  chunk: the size the input is served in (0: the default). */
int sl_transform_memory(const struct sl_format *f, const void *data, size_t len,
			const struct sl_deid_ctx *ctx, const void *conf, size_t chunk,
			sl_buf *out, sl_buf *facts, sl_err *err);

/* The registry (ingest/formats.c). */
extern const struct sl_format *const sl_formats[];
const struct sl_format *sl_format_by_name(const char *name);
/* The best format for this head, never NULL: the reject-unknown format
 * answers when no other does. */
const struct sl_format *sl_format_sniff(const uint8_t *head, size_t len, uint64_t size);

#endif
