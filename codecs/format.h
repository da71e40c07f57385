/*
 * format.h: how a format plugs into the engine.  A format is one module in
 * codecs/ exporting one const struct sl_format (the way OpenSlide has one
 * file per vendor); codecs/formats.c lists them.  A format reads its input
 * through sl_input and writes objects, catalog attributes and provenance
 * facts through sl_sink.  It never opens files or schedules I/O, and it never
 * sees the input's path (paths name patients in PACS exports).
 */
#ifndef SL_FORMAT_H
#define SL_FORMAT_H

#include <stdint.h>
#include <stddef.h>
#include "../common/sl_common.h"
#include "../common/io/io.h"

typedef struct sl_input sl_input;
typedef struct sl_sink sl_sink;
typedef struct sl_bundle sl_bundle;
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
	 * content over in memory would be wrong).  Each item written against
	 * the reference carries its SHA-256 as the catalog attribute
	 * "reference": `sluice export` writes that opaque item once, as
	 * reference/DIGEST16.fa (see index_reference), not as an opaque file. */
	SL_FORMAT_REFERENCE = 2,
	/* The format for inputs the operator declares non-sensitive (paths
	 * under `--opaque`, and the `--reference` file): the engine hands it
	 * those inputs without sniffing them.  One format carries it. */
	SL_FORMAT_DECLARED = 4,
};

/* An option a format takes, given as `--NAME VALUE` on the command line. */
struct sl_format_option {
	const char *name;     /* "dicom-options"; prefixed with the format's name */
	const char *arg;      /* for the help: "LIST", "keep|remove", "FILE" */
	const char *help;
	int is_file;          /* VALUE names a file: the format gets its content
			         (formats never open files) */
};

/* The file name extension `sluice export` gives an output of this media
 * type (".vcf.gz"). */
struct sl_format_extension {
	const char *media_type;
	const char *extension;
};

/* A library a format links, for `sluice --version` and the "software" of
 * every provenance record: its name ("htslib") and a function returning
 * its version at run time ("1.16"), called once per process.  Two formats
 * may name the same library: it is listed once. */
struct sl_format_library {
	const char *name;
	const char *(*version)(void);
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
	/* Multi-file inputs (MIRAX, Hamamatsu VMS: an index naming image files
	 * that a reader opens by name beside it).  The walker hands a file
	 * whose name ends with one of bundle_suffixes (ASCII case ignored;
	 * NULL-terminated; NULL for none) to bundle(), which names the files
	 * that belong to it (sl_bundle_add).  The index and those files become
	 * one input: sniffing is skipped, this format transforms it and reaches
	 * the other files with sl_input_companion_fd.  A bundle() error rejects
	 * the index, and the files it named are walked as inputs of their own;
	 * returning 0 with nothing added makes the index an ordinary file. */
	const char *const *bundle_suffixes;
	int (*bundle)(sl_bundle *b, sl_err *err);
	/* What `sluice export` needs to lay out this format's outputs as
	 * SUBJECT/FOLDER/NAME.EXT: each output's extension by media type
	 * (ends with a NULL media_type; may be NULL; ".bin" for one not
	 * listed), the catalog attributes whose values name the folders, one
	 * level each, separated by '/' ("study/series"; NULL, or a level
	 * whose attribute the item lacks: the format's name), and the one whose
	 * value names the files (NULL or absent: the first object's digest).
	 * Every output of an item shares the name: an index or companion is
	 * named after the data file it goes with. */
	const struct sl_format_extension *extensions;
	const char *export_folder;
	const char *export_name;
	/* SL_FORMAT_REFERENCE formats: index a reference `sluice export` has
	 * written at path fasta, its .fai to fai and, when the FASTA is
	 * compressed, its .gzi to gzi (the caller places both).  The one call
	 * of a format at export time, where the library (htslib's faidx) must
	 * open by name the files the command line names.  NULL: the reference
	 * goes out without an index. */
	int (*index_reference)(const char *fasta, const char *fai, const char *gzi, sl_err *err);
	/* The libraries the format links (ends with a NULL name; may be NULL). */
	const struct sl_format_library *libraries;
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

/* ---- multi-file inputs ---- */
/* Names in a bundle are relative to the index's folder; a first component
 * "@" stands for the index's own name without its suffix (MIRAX keeps its
 * files in a folder named so).  A format never learns the real names: they
 * can name the patient.  ".." and absolute names are refused. */
/* Read a file of the bundle whole (NULL: the index itself) into buf; more
 * than cap bytes is an error.  Returns the size. */
int64_t sl_bundle_read(sl_bundle *b, const char *name, void *buf, size_t cap, sl_err *err);
/* Which of the format's bundle_suffixes the index's name ends with. */
const char *sl_bundle_suffix(const sl_bundle *b);
/* Add a file to the input (once; a second add of the same name is ignored).
 * It must be a regular file.  The order of adds is the companions' order. */
int sl_bundle_add(sl_bundle *b, const char *name, sl_err *err);

/* The companions of a multi-file input: how many (0 for any other input),
 * and companion i's read-only descriptor, owned by the engine.  The engine
 * hashes every companion after the transform and rejects the input if one
 * changed, as it does for the index. */
size_t sl_input_companions(const sl_input *in);
int sl_input_companion_fd(sl_input *in, size_t i, sl_err *err);
/* A private folder for a library that opens a multi-file input by name
 * (OpenSlide): entry i is names[i] (one folder level at most, neutral
 * names only: the folder lies in the store's tmp/), a link to descriptor
 * fds[i].  Folder and links are removed when the transform returns.
 * Returns the folder's path in *dir (owned by the input), or <0. */
int sl_input_view(sl_input *in, const char *const *names, const int *fds, size_t n,
		  const char **dir, sl_err *err);

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

/* Where `sluice export` writes a reference sequence, relative to the
 * export's root: "reference/", the first 16 hex digits of its SHA-256,
 * ".fa" (".fa.gz" when compressed).  From the content, never the
 * operator's file name (which may identify); a CRAM's @SQ UR names it.
 * out: 64 bytes are enough. */
void sl_reference_export_name(const char *sha256_hex, int compressed, char *out, size_t n);

/* The registry (codecs/formats.c). */
extern const struct sl_format *const sl_formats[];
const struct sl_format *sl_format_by_name(const char *name);
/* The first format carrying flag (SL_FORMAT_DECLARED), or NULL. */
const struct sl_format *sl_format_flagged(unsigned flag);
/* The best format for this head, never NULL: the reject-unknown format
 * answers when no other does. */
const struct sl_format *sl_format_sniff(const uint8_t *head, size_t len, uint64_t size);

#endif
