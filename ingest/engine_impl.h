/* engine_impl.h: what engine.c (orchestration, commit, report) shares with
 * worker.c (one input from open to item) and input.c (the sl_input and
 * sl_sink a format sees). */
#ifndef SL_ENGINE_IMPL_H
#define SL_ENGINE_IMPL_H
#include <pthread.h>
#include "engine.h"
#include "discover.h"
#include "format.h"
#include "../common/io/io.h"
#include "queue.h"
#include "../deid/deid.h"
#include "../store/store.h"

enum { R_COMMIT, R_PRESENT, R_REJECT, R_SKIP };

/* A file of a multi-file input besides its index (format.h, bundle). */
struct companion {
	char *path;
	int fd;                 /* while the worker has it */
	struct sl_seen st;      /* at open; st.input_digest once hashed */
	int opened, hashed;
};

/* One input's outcome on its way to the committer and the report. */
struct result {
	char *path;
	int status;
	char *reason;
	uint64_t size;
	uint8_t input_digest[32];
	int have_digest;
	const struct sl_format *fmt;
	struct sl_item item;
	struct sl_item_output *outs;
	size_t nouts;
	char **attrs;           /* key, value pairs, owned */
	size_t nattrs;
	sl_buf facts;           /* JSON members */
	struct sl_item_input *ins; /* item.inputs: the index, then the companions */
	struct companion *comp; /* a multi-file input's other files, reported */
	size_t ncomp;           /* with it, one line each; */
	uint8_t index_digest[32]; /* its index's own digest (input_digest covers all) */
};

struct engine {
	const struct sl_ingest_opts *o;
	sl_store *st;
	sl_key *key;
	sl_subject_map *smap;
	struct sl_deid_ctx dctx;
	sl_queue tasks, results;
	volatile int stop;
	pthread_mutex_t stop_mu;
	char stop_why[200];
	char stop_reason[256];   /* what inputs not processed are told */
	char (*fmt_fp)[33];      /* options fingerprint per sl_formats[] entry */
	void **fmt_conf;         /* configured options per sl_formats[] entry */
	uint8_t run_fp[32];      /* all options that decide an input's outcome */
	const char *tmp_dir;     /* the store's tmp/: scratch files, views */
	unsigned nworkers;
	unsigned workers_left;
	pthread_mutex_t workers_mu;
};

struct worker {
	struct engine *e;
	sl_store_writer *sw;     /* its objects and catalog lookups */
	sl_io *io;
	sl_sha256 *h;
	pthread_t thread;
};

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
	struct companion *comp;  /* a multi-file input's other files */
	size_t ncomp;
	const char *tmp_dir;     /* where sl_input_view makes its folder */
	char *view;              /* that folder, and what is in it (removed */
	sl_buf view_made;        /* in reverse order): NUL-separated names */
};

struct sl_sink {
	struct worker *w;
	struct result *r;
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

void *sl_worker_main(void *arg);
void sl_engine_stop(struct engine *e, const char *why);
struct result *sl_result_new(const char *path);
/* A multi-file input's format and other files, from its task. */
void sl_result_companions(struct result *r, const struct sl_task *t);
void sl_result_reject(struct result *r, const char *reason);
void sl_result_free(struct result *r);
#endif
