/*
 * dicom_impl.h: the DICOM module's inside.  A file is read as a stream of
 * chunks (src.c), parsed into a tree of elements whose values are copied
 * into an arena, except bulk values (Pixel Data, large binary values) which
 * stay in the input chunks and reach the output by reference (parse.c); the
 * profile is applied while the tree is written back (deid.c); dicom.c is the
 * format: options, sniffing and the transform that drives the three.
 */
#ifndef SL_DCM_IMPL_H
#define SL_DCM_IMPL_H

#include "../format.h"
#include "../../deid/deid.h"
#include "table.h"
#include <zlib.h>

#define DCM_UNDEF 0xFFFFFFFFu
#define DCM_TAG(g, e) ((uint32_t)(g) << 16 | (uint32_t)(e))
#define DCM_ITEM DCM_TAG(0xFFFE, 0xE000)
#define DCM_ITEM_END DCM_TAG(0xFFFE, 0xE00D)
#define DCM_SEQ_END DCM_TAG(0xFFFE, 0xE0DD)
#define DCM_PIXEL_DATA DCM_TAG(0x7FE0, 0x0010)
/* Top-level values at least this long that are kept go through by reference. */
#define DCM_BULK (64u << 10)
/* Bounds on hostile input: the header tree in memory, and nesting. */
#define DCM_MAX_HEADER (256u << 20)
#define DCM_MAX_DEPTH 64

/* ---- src.c: the input as a byte stream ---- */
struct dcm_src {
	sl_input *in;
	uint64_t size;        /* of the input file */
	sl_chunk *c;          /* current chunk, one ref held; NULL at the end */
	size_t off;           /* next byte in c */
	uint64_t pos;         /* stream bytes consumed (inflated bytes once inflating) */
	int inflating;        /* the rest of the file is a deflated data set */
	z_stream z;
	uint8_t *zbuf;        /* inflated bytes not yet consumed: zbuf[zoff..zlen) */
	size_t zoff, zlen;
	int zend;
	uint8_t back[256];    /* peeked bytes, served before the chunks */
	size_t boff, blen;
	uint8_t raw[256];     /* peeked compressed bytes, inflated first */
	size_t roff, rlen;
};

int dcm_src_init(struct dcm_src *s, sl_input *in, sl_err *err);
void dcm_src_free(struct dcm_src *s);
/* 1 when no byte is left. */
int dcm_src_eof(struct dcm_src *s, sl_err *err);
/* Copy exactly n bytes, or fail naming what was being read. */
int dcm_src_read(struct dcm_src *s, void *dst, size_t n, const char *what, sl_err *err);
int dcm_src_skip(struct dcm_src *s, uint64_t n, sl_err *err);
/* Pass n bytes to the sink (NULL: drop them): by reference from the input
 * chunks, or copied when they come out of the inflater. */
int dcm_src_pass(struct dcm_src *s, uint64_t n, sl_sink *out, sl_err *err);
/* Bytes left in the file (not meaningful once inflating). */
uint64_t dcm_src_left(const struct dcm_src *s);
int dcm_src_start_inflate(struct dcm_src *s, sl_err *err);
/* Up to `want` (at most 256) bytes ahead without consuming them; returns
 * how many there are (fewer only at the end). */
size_t dcm_src_peek(struct dcm_src *s, size_t want, const uint8_t **p, sl_err *err);

/* ---- parse.c: elements ---- */
struct dcm_enc {
	int explicit_vr;
	int big;              /* explicit VR big endian */
};

struct dcm_item;
struct dcm_el {
	uint32_t tag;
	char vr[3];
	uint32_t len;         /* as read; DCM_UNDEF for undefined length */
	size_t voff, vlen;    /* value in the arena (not for SQ) */
	int is_sq;
	int implicit_items;   /* UN of undefined length: items in implicit VR LE */
	struct dcm_item *items;
	size_t nitems;
};

struct dcm_item {
	uint32_t len;         /* as read */
	struct dcm_el *els;
	size_t nels;
};

struct dcm_parser {
	struct dcm_src *s;
	sl_buf arena;
	sl_err *err;
};

/* Read one element header; group/element in the stream's byte order. */
int dcm_read_header(struct dcm_parser *p, const struct dcm_enc *enc, uint32_t *tag,
		    char vr[3], uint32_t *len);
/* Parse the next element whose header has been read: its value (copied
 * into the arena) or, for a sequence, every item.  Bulk values are the
 * caller's: it checks dcm_is_bulk first. */
int dcm_parse_value(struct dcm_parser *p, const struct dcm_enc *enc, struct dcm_el *el,
		    int depth);
int dcm_is_bulk(const struct dcm_el *el);
void dcm_el_free(struct dcm_el *el);
uint16_t dcm_rd16(const uint8_t *b, int big);
uint32_t dcm_rd32(const uint8_t *b, int big);
int dcm_long_vr(const char vr[2]);
int dcm_valid_vr(const char vr[2]);
/* The VR of a tag in implicit VR: the dictionary's, "UN" when unknown. */
void dcm_implicit_vr(uint32_t tag, uint32_t len, char vr[3]);

/* ---- deid.c: the profile ---- */
struct dcm_policy {
	unsigned options;     /* bit i: enum sl_dcm_option i */
	int keep_unknown;
	int accept_burned_in;
	char **allow;         /* "CREATOR\\gggg,00ee" pairs for retain-safe-private */
	size_t nallow;
	char *json;           /* canonical policy */
};

/* The kinds of IOD whose attribute types decide the combined actions
 * (Z/D, X/Z, X/D, X/Z/D): classic single-frame images, images with
 * multi-frame functional groups, structured reports (and key objects). */
enum dcm_family { DCM_OTHER, DCM_IMAGE, DCM_ENHANCED, DCM_SR };
enum dcm_family dcm_family_of(const char *sop_class);
/* The attribute's type (1, 2, 3) in the family's IODs; 0 when not known. */
int dcm_iod_type(uint32_t tag, enum dcm_family fam);

/* ---- sop_class.c: storage SOP classes by exact UID ---- */
/* What a class means for burned-in text: presumed present unless Burned In
 * Annotation says NO, or decided by Burned In Annotation alone. */
enum dcm_burned_in { DCM_BI_ATTRIBUTE, DCM_BI_PRONE };
struct dcm_sop_class {
	const char *uid;
	const char *name;     /* PS3.6's, for rejection reasons */
	enum dcm_burned_in burned_in;
};
/* The class with exactly this UID, or NULL. */
const struct dcm_sop_class *dcm_sop_class_find(const char *uid);
/* 1 when an instance of class cls with this Modality is rejected unless
 * Burned In Annotation is NO; *what names the class (or the rule applied
 * to a class not in the table) for the reason. */
int dcm_burned_in_prone(const char *cls, const char *modality, const char **what);

/* What the whole file needs before any element is written. */
struct dcm_file {
	const struct sl_deid_ctx *ctx;
	const struct dcm_policy *pol;
	struct dcm_enc enc;   /* of the output data set */
	char subject[32];     /* Patient's Name and ID become this: the subject
			         pseudonym, or the study's stand-in (dicom.c) */
	int identified;       /* a Patient ID naming someone: subject[] is a subject */
	int date_shift;       /* days, for retain-long-modified-dates */
	enum dcm_family family;
	int added;            /* de-identification elements written */
	/* counts for provenance */
	uint64_t removed, emptied, replaced, uids, shifted;
};

/* Write one top-level element (and everything under it) de-identified. */
void dcm_emit(struct dcm_file *f, sl_buf *out, const struct dcm_parser *p,
	      const struct dcm_el *el);
/* Write the de-identification elements (0012,0062-0064) once, where their
 * tags fall among the top-level elements (next: the next tag written). */
void dcm_emit_added(struct dcm_file *f, sl_buf *out, uint32_t next);
void dcm_put_header(sl_buf *b, const struct dcm_enc *enc, uint32_t tag, const char *vr,
		    uint32_t len);
/* The value a top-level element gets in the output (for catalog attributes). */
void dcm_value_out(struct dcm_file *f, const struct dcm_parser *p, const struct dcm_el *el,
		   sl_buf *v);
/* The action the profile takes on a top-level bulk element: 1 keep, 0 remove. */
int dcm_keep_bulk(const struct dcm_file *f, uint32_t tag);
void dcm_map_uid(const struct sl_deid_ctx *ctx, const char *uid, size_t n, sl_buf *out);
int dcm_parse_policy(struct dcm_policy *pol, const char *name, const char *value, size_t len,
		     sl_err *err);

#endif
