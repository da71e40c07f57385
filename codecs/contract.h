/*
 * contract.h: the inside of the format contract (format.h), shared by
 * codecs/input.c, which implements sl_input and sl_sink, and the engine,
 * which fills an sl_input from a source and reads back what a format left
 * in its sl_sink_out.  Formats include format.h only.
 */
#ifndef SL_CONTRACT_H
#define SL_CONTRACT_H
#include "format.h"
#include "../store/store.h"

/* A file of a multi-file input besides its index (format.h, bundle). */
struct sl_companion {
	char *path;
	int fd;                 /* while the worker has it */
	struct sl_seen st;      /* at open; st.input_digest once hashed */
	int opened, hashed;
};

/* What a format hands back for one input: objects, attributes, facts. */
struct sl_sink_out {
	struct sl_item_output *outs;
	size_t nouts;
	char **attrs;           /* key, value pairs, owned */
	size_t nattrs;
	sl_buf facts;           /* JSON members */
};
void sl_sink_out_free(struct sl_sink_out *o);

struct sl_input {
	sl_io *io;
	int fd;
	uint64_t size;           /* at open */
	uint64_t consumed;
	sl_chunk *head;
	sl_reader *rd;
	sl_sha256 *h;
	int eof;
	uint8_t digest[32];      /* valid once eof */
	const uint8_t *mem;      /* sl_transform_memory: the input's bytes */
	size_t mem_chunk;        /* and the chunk size it is served in */
	int memfd;               /* sl_input_fd of an input in memory, or -1 */
	struct sl_companion *comp;  /* a multi-file input's other files */
	size_t ncomp;
	const char *tmp_dir;     /* where sl_input_view makes its folder */
	char *view;              /* that folder, and what is in it (removed */
	sl_buf view_made;        /* in reverse order): NUL-separated names */
};

struct sl_sink {
	sl_store_writer *sw;     /* where objects go (NULL under sl_transform_memory) */
	const char *tmp_dir;     /* the store's tmp/, for scratch files */
	struct sl_sink_out *out;
	sl_input *in;
	int identity;
	sl_objw *ow;
	const char *role, *media;
	sl_buf *mem;             /* sl_transform_memory: objects go here */
	int mem_open;
};

/* Reads the rest of the input (its digest is then known). */
int sl_input_drain(sl_input *in, sl_err *err);
/* Removes sl_input_view's folder and what is in it. */
void sl_input_view_remove(sl_input *in);

#endif
