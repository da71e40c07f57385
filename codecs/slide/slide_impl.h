/*
 * slide_impl.h: how the slide format's files fit together.
 *
 *   slide.c   the ops table, options, sniffing, the transform's two phases,
 *             catalog attributes and provenance facts
 *   src.c     the input TIFF through libtiff (TIFFClientOpen over
 *             sl_input_pread): pages, their kind, tile indexes, JPEG tables
 *   meta.c    the metadata allowlist (Aperio description, resolution tags,
 *             scanner model, ICC profile) and the barcode used for the subject
 *   jpeg.c    JPEG streams: tables merged and headers rebuilt without
 *             decoding, tiles decoded and encoded with libjpeg-turbo
 *   j2k.c     JPEG 2000 codestreams (Aperio 33003/33005): headers rebuilt
 *             without COM, tile-parts copied; decoded with OpenJPEG
 *   pyramid.c the output plan (which level is copied, which built) and the
 *             builder: a 2x2 area filter cascading band by band
 *   white.c   white tiles for empty ones, in a copied level's coding
 *   pool.c    threads for one slide's tile work (decoding and encoding)
 *   tiffw.c   the output TIFF: IFD layout computed before any byte is
 *             written, then header, IFDs and tile data in one append-only pass
 *   osl_detect.c, osl.c
 *             the slides only OpenSlide reads (NDPI, SCN, Philips, BIF,
 *             Sakura): told by their marks, opened through sl_input_fd,
 *             level 0 decoded by OpenSlide and re-encoded, the rest built
 *   libs.c    the libraries linked and their versions, for provenance
 *
 * Bounds on hostile input are here, in one place.
 */
#ifndef SL_SLIDE_IMPL_H
#define SL_SLIDE_IMPL_H

#include "codecs/format.h"
#include "deid/deid.h"
#include <stdint.h>
#include <stddef.h>

#define SLIDE_MAX_DIRS 64          /* pages read from one file */
#define SLIDE_MAX_LEVELS 32
#define SLIDE_MAX_SIDE (1u << 21)  /* pixels, either dimension */
#define SLIDE_MAX_TILE_SIDE 4096   /* pixels */
#define SLIDE_MAX_TILE_BYTES (64u << 20)
#define SLIDE_MAX_TILES (1u << 22) /* per level */
#define SLIDE_MAX_BANDS (1ull << 30) /* bytes of pixel bands for building levels */
#define SLIDE_MAX_META (4u << 20)  /* ICC profile, JPEG tables */
#define SLIDE_QUALITY 90           /* libjpeg quality of built levels */
#define SLIDE_DECODED_TILE 256     /* tile side of a decoded stripped level 0 */
#define SLIDE_CACHE_DEFAULT (256ull << 20) /* built tiles kept between the phases */

/* An n-byte TIFF integer at p (little- or big-endian), for the sniffs
 * that read a head's raw directory before libtiff sees the input. */
static inline uint64_t slide_uint(const uint8_t *p, int n, int little)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[little ? i : n - 1 - i] << (8 * i);
	return v;
}

/* The libraries the format links, with their versions (libs.c). */
extern const struct sl_format_library slide_libraries[];

/* The format's options (slide.c). */
struct slide_conf {
	int rebuild;          /* --slide-rebuild-levels yes */
	uint64_t cache_max;   /* --slide-memory: bytes of built tiles kept */
	int threads;          /* --slide-threads; 0: one per CPU */
	char json[160];
};

enum sdir_kind { SDIR_LEVEL, SDIR_LABEL, SDIR_MACRO, SDIR_THUMB, SDIR_OTHER };

/* One page (directory) of the input. */
struct sdir {
	uint32_t w, h, tw, th;        /* tw == 0: stripped, not tiled */
	uint16_t compression, photometric, spp, bps, planar, predictor;
	uint32_t subfile;
	int kind;
	int is_aperio_desc;           /* ImageDescription starts "Aperio" */
	uint32_t ntiles;
	uint64_t *off, *cnt;          /* tile index (level candidates only); of a
					 page to decode: its strips or tiles, all
					 planes */
	int decode;                   /* stripped or separate planes: level 0
					 only, decoded (slide_src_band) */
	uint8_t *tables;              /* JPEGTables, or NULL */
	uint32_t ntables;
};

/* What is kept: the allowlist.  Numbers as the decimal text they were
 * given in, so the output says exactly what the input said. */
struct slide_meta {
	const char *vendor;           /* "aperio" or "generic" */
	uint32_t mpp_x, mpp_y;        /* microns per pixel x 1e5; 0: unknown */
	char objective[16];           /* e.g. "20" */
	char scanner[64];             /* TIFF Make/Model, cleaned */
	char barcode[128];            /* for the subject pseudonym only, never stored */
	uint8_t *icc;
	uint32_t nicc;
};

/* A JPEG stream's colour facts (from its SOF and markers). */
struct jpg_info {
	uint32_t w, h;
	int ncomp;
	int ycbcr;                    /* as libjpeg would guess it */
	int sub_h, sub_v;             /* chroma subsampling factors */
	int quality;                  /* encoding: libjpeg quality; 0: SLIDE_QUALITY */
};

/* A JPEG 2000 tile's layout (from its SIZ). */
struct j2k_info {
	uint32_t w, h;
	int ncomp;
	uint8_t dx[3], dy[3];         /* component subsampling */
};

/* Compressions of copied tiles besides JPEG (7). */
#define SLIDE_J2K_YCBCR 33003         /* Aperio: JPEG 2000, YCbCr components */
#define SLIDE_J2K_RGB 33005           /* Aperio: JPEG 2000, RGB (its own transform) */
#define SLIDE_IS_J2K(c) ((c) == SLIDE_J2K_YCBCR || (c) == SLIDE_J2K_RGB)

/* One output level. */
struct level {
	uint32_t w, h, tw, th, ntx, nty;
	int src;                      /* input page copied, or -1: built */
	int parent;                   /* built: the output level it comes from */
	uint16_t compression;         /* as written: 7 for built levels */
	uint16_t predictor;           /* copied lossless tiles: the input's */
	struct j2k_info jk;           /* copied JPEG 2000: the first tile's */
	struct jpg_info ji;           /* copied: the first tile's; built: ours */
	uint64_t *size;               /* bytes of each output tile */
	uint64_t *pos;                /* each tile's offset in its region */
	uint64_t base;                /* the region's offset in the file */
	sl_buf white;                 /* copied: a white tile for empty ones */
	int decoded;                  /* level 0 decoded from strips or planes and
					 written as deflate tiles with predictor 2 */
};

/* The input, opened. */
struct slide_src;
int slide_src_open(struct slide_src **out, sl_input *in, sl_err *err);
void slide_src_close(struct slide_src *s);
int slide_src_ndirs(const struct slide_src *s);
struct sdir *slide_src_dir(struct slide_src *s, int i);
/* The allowlisted metadata of page 0 (and the Aperio description). */
int slide_src_meta(struct slide_src *s, struct slide_meta *m, sl_err *err);
/* Tile t of page d, whole, into b (reset first). */
int slide_src_tile(struct slide_src *s, int d, uint32_t t, sl_buf *b, sl_err *err);
/* Is a compression one whose tiles are copied as they are and decoded by
 * libtiff (none, LZW, deflate, zstd where libtiff has it)? */
int slide_src_lossless(uint16_t compression);
/* Decode tile t of page d (a lossless compression, predictor undone)
 * into tw x th x spp bytes at px (npx bytes), with libtiff reading through
 * sl_input_pread on a handle of its own for each thread slot (0 ..
 * nslots - 1, opened by slide_src_slots: libtiff handles are not shared
 * between threads). */
int slide_src_slots(struct slide_src *s, int nslots, sl_err *err);
int slide_src_decode(struct slide_src *s, int slot, int d, uint32_t t, uint8_t *px, size_t npx,
		     sl_err *err);

/* Rows [y, y + n) of page d (to decode: stripped or separate planes),
 * decoded by libtiff on the parsing handle (one thread) and interleaved
 * into px, rows stride bytes apart.  Strips are decoded once each even
 * when taller than a band; memory is one strip (tile) per plane. */
int slide_src_band(struct slide_src *s, int d, uint32_t y, uint32_t n, uint8_t *px, size_t stride,
		   sl_err *err);

/* meta.c */
void slide_meta_aperio(struct slide_meta *m, const char *desc);
void slide_meta_resolution(struct slide_meta *m, float xres, float yres, int unit);
void slide_meta_scanner(struct slide_meta *m, const char *make, const char *model);
void slide_meta_free(struct slide_meta *m);
/* The documented ImageDescription of the output (docs/slides.md), in the
 * Aperio dialect OpenSlide reads MPP and objective power from;
 * compression: level 0's, by name. */
void slide_meta_description(const struct slide_meta *m, int nlevels, const char *compression,
			    sl_buf *b);
/* "jpeg", "jpeg2000", "lzw", "deflate", "zstd" or "none". */
const char *slide_compression_name(uint16_t compression);
/* mpp as decimal text ("0.499"), for attributes and the description. */
void slide_mpp_text(uint32_t mpp_e5, char out[24]);

/* jpeg.c */
/* Rebuild a TIFF JPEG tile as one self-contained stream: SOI, an Adobe
 * marker stating the colour transform, the page's tables, the tile's own
 * tables, frame and scan headers, then its entropy-coded data as it is.
 * APPn and COM segments are dropped (they can carry text).  Nothing is
 * decoded.  ji (may be NULL) gets the stream's colour facts. */
int slide_jpeg_rebuild(const uint8_t *tables, size_t ntables, const uint8_t *tile,
		       size_t n, sl_buf *out, struct jpg_info *ji, sl_err *err);
/* Decode a stream to RGB, w x h x 3 bytes into px. */
int slide_jpeg_decode(const uint8_t *p, size_t n, uint32_t w, uint32_t h, uint8_t *px,
		      sl_err *err);
/* Encode RGB w x h x 3 (grey w x h if like->ncomp is 1) at SLIDE_QUALITY, YCbCr 4:2:0, optimised Huffman
 * tables: deterministic bytes.  ycbcr = 0 keeps RGB (for a copied level
 * whose tiles are RGB, e.g. a tile standing in for an empty one). */
int slide_jpeg_encode(const uint8_t *px, uint32_t w, uint32_t h, const struct jpg_info *like,
		      sl_buf *out, sl_err *err);

/* One thread's libjpeg objects, used tile after tile. */
struct slide_codec;
struct slide_codec *slide_codec_new(void);
void slide_codec_free(struct slide_codec *k);
/* Decode a w x h stream at scale 1/2^shift (libjpeg-turbo's DCT-domain
 * scaling) to RGB (nc 3) or grey (nc 1): (h >> shift) rows of (w >> shift)
 * pixels, stride bytes apart, at px. */
int slide_codec_decode(struct slide_codec *k, const uint8_t *p, size_t n, uint32_t w,
		       uint32_t h, int nc, int shift, uint8_t *px, size_t stride, sl_err *err);
/* slide_jpeg_encode from rows stride bytes apart. */
int slide_codec_encode(struct slide_codec *k, const uint8_t *px, size_t stride, uint32_t w,
		       uint32_t h, const struct jpg_info *like, sl_buf *out, sl_err *err);

/* j2k.c */
/* Rebuild a JPEG 2000 tile: main header and tile-part headers without COM
 * segments (and without a TLM index once a COM is dropped), tile-parts'
 * data as it is, nothing after EOC.  ji gets its SIZ (checked: 3 8-bit
 * components, no offsets). */
int slide_j2k_rebuild(const uint8_t *p, size_t n, sl_buf *out, struct j2k_info *ji, sl_err *err);
/* Decode a w x h codestream to RGB rows stride bytes apart; ycbcr: the
 * components are Y, Cb, Cr (33003). */
int slide_j2k_decode(const uint8_t *p, size_t n, uint32_t w, uint32_t h, int ycbcr, uint8_t *px,
		     size_t stride, sl_err *err);

/* white.c */
struct slide;
/* The white tile of copied level k (L->white), in the level's own coding,
 * when its page has a zero-length tile (readers fail on those). */
int slide_white_tile(struct slide *s, int k, sl_err *err);
/* One tile of pixels (tw x th x nc) coded by libtiff with a lossless
 * compression and predictor, as in a TIFF: deterministic bytes. */
int slide_lossless_encode(const uint8_t *px, uint32_t tw, uint32_t th, int nc,
			  uint16_t compression, uint16_t predictor, sl_buf *out, sl_err *err);

/* pool.c: threads for one slide's tile work. */
struct slide_pool;
/* A task of a section: i of n, run on thread `slot` (0: the caller). */
typedef int (*slide_task_fn)(void *ctx, uint32_t i, int slot, sl_err *err);
/* nthreads in all, the caller's included (1: no thread is started). */
int slide_pool_new(struct slide_pool **p, int nthreads, sl_err *err);
void slide_pool_free(struct slide_pool *p);
int slide_pool_threads(const struct slide_pool *p);
/* Run tasks 0..n-1 on the pool's threads and the caller's; return when
 * all are done: 0, or the error of the lowest task that failed. */
int slide_pool_run(struct slide_pool *p, uint32_t n, slide_task_fn fn, void *ctx, sl_err *err);
/* Online CPUs, 1 to 64. */
int slide_cpus(void);

/* pyramid.c */
struct slide;
/* Decide every output level: copied from a page, or built. */
int slide_plan(struct slide *s, sl_err *err);
/* Tile t of copied level k as it goes out (raw: scratch) into out. */
int slide_copy_tile(struct slide *s, int k, uint32_t t, sl_buf *raw, sl_buf *out, sl_err *err);
typedef int (*slide_emit_fn)(struct slide *s, int level, uint32_t tile, const uint8_t *p,
			     size_t n, sl_err *err);
/* Run every cascade: decode copied levels that feed built ones, build,
 * emit each built tile in production order.  copied(level, tile, bytes)
 * is called for every tile of a copied source level, in order, after it
 * is read (bytes may be NULL: only the size n is given). */
int slide_build(struct slide *s, slide_emit_fn built, slide_emit_fn copied, sl_err *err);
/* End the threads slide_build started. */
void slide_threads_stop(struct slide *s);

/* The transform's state, shared by the files above. */
struct slide {
	sl_input *in;
	sl_sink *out;
	const struct slide_conf *conf;
	struct slide_src *src;
	struct slide_meta meta;
	int nlv;
	int nc;                       /* samples per pixel: 3 (RGB) or 1 (grey) */
	struct level lv[SLIDE_MAX_LEVELS];
	uint64_t built_bytes;         /* running size of the built region */
	uint64_t cache_bytes;
	sl_buf cache;                 /* built tiles in production order, while they fit */
	int cache_over;               /* the cache overflowed: phase B rebuilds */
	uint64_t pos;                 /* phase B: bytes written */
	int big;                      /* the output is a BigTIFF */
	struct slide_pool *pool;      /* tile work on threads (pool.c) */
	struct slide_slot *slots;     /* each thread's codec and scratch (pyramid.c) */
	int dropped[5];               /* pages dropped, by kind */
	int copied_levels, built_levels;
	struct slide_osl *osl;        /* read through OpenSlide (osl.c), or NULL */
	uint8_t *dband;               /* a decoded level 0: one tile row of pixels */
	int64_t dband_ty;             /* which tile row it holds, or -1 */
};

/* tiffw.c */
/* Compute offsets of every IFD and tile region; then write the header and
 * IFDs.  Sizes of every tile must be known. */
int slide_tiff_begin(struct slide *s, sl_err *err);

/* osl_detect.c: the slides OpenSlide alone reads, by their marks. */
enum { OSL_NONE, OSL_NDPI, OSL_SCN, OSL_PHILIPS, OSL_BIF, OSL_SAKURA, OSL_VMS, OSL_MIRAX,
       OSL_TRESTLE, OSL__COUNT };
/* Confidence that the head is one (0: not, or it cannot tell). */
int slide_osl_sniff(const uint8_t *head, size_t len, uint64_t size);
/* The kind of the whole input (its first directory wherever it lies). */
int slide_osl_kind(sl_input *in);

/* multi.c: MIRAX and Hamamatsu VMS/VMU, an index and the files it names. */
/* The format's bundle(): which files belong to an index. */
int slide_bundle(sl_bundle *b, sl_err *err);
/* Lay a multi-file input out for OpenSlide in a private folder, its key
 * file rewritten to name the neutral links; *kind (OSL_MIRAX or OSL_VMS),
 * path: the index's path in the folder; *keyfd: the rewritten key file's
 * descriptor, which the caller closes once OpenSlide has opened the slide. */
int slide_multi_view(struct slide *s, int *kind, char *path, size_t cap, int *keyfd,
		     sl_err *err);

/* osl.c */
/* If the input is a slide only OpenSlide reads, open it: metadata and plan
 * (level 0 re-encoded, every other level built), s->osl set; 1.  0: the
 * libtiff path's.  <0: rejected. */
int slide_osl_open(struct slide *s, sl_err *err);
void slide_osl_close(struct slide_osl *o);
/* Level 0 tile t: OpenSlide's pixels as RGB (tw x th x 3 into px, white
 * where transparent) and the tile as it goes out (out), kept for phase B. */
int slide_osl_tile(struct slide *s, uint32_t t, struct slide_codec *k, uint8_t *px,
		   sl_buf *out, sl_err *err);
/* Level 0 tile t as it goes out: kept from phase A, or made now. */
int slide_osl_copy_tile(struct slide *s, uint32_t t, sl_buf *out, sl_err *err);

#endif
