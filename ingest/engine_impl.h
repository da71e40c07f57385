/* engine_impl.h: what engine.c (orchestration, commit, report) shares with
 * worker.c (one input from open to item) and input.c (the sl_input and
 * sl_sink a format sees). */
#ifndef SL_ENGINE_IMPL_H
#define SL_ENGINE_IMPL_H
#include <pthread.h>
#include "engine.h"
#include "discover.h"
#include "../codecs/contract.h"
#include "../common/io/io.h"
#include "queue.h"
#include "../deid/deid.h"
#include "../store/store.h"

enum { R_COMMIT, R_PRESENT, R_REJECT, R_SKIP };

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
	struct sl_sink_out out; /* what the format made */
	struct sl_item_input *ins; /* item.inputs: the index, then the companions */
	struct sl_companion *comp; /* a multi-file input's other files, reported */
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
	int stop;                /* set once by sl_engine_stop; read with sl_engine_stopped */
	pthread_mutex_t stop_mu;
	char stop_why[200];
	char stop_reason[256];   /* what inputs not processed are told */
	char (*fmt_fp)[33];      /* options fingerprint per sl_formats[] entry */
	void **fmt_conf;         /* configured options per sl_formats[] entry */
	uint8_t run_fp[32];      /* all options that decide an input's outcome */
	char **opaque;           /* --opaque prefixes, normalised (and resolved) */
	size_t nopaque;
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

void *sl_worker_main(void *arg);
void sl_engine_stop(struct engine *e, const char *why);
/* Whether the run is stopping.  The acquire pairs with sl_engine_stop's
 * release, so a thread that sees the flag also sees stop_reason. */
static inline int sl_engine_stopped(const struct engine *e)
{
	return __atomic_load_n(&e->stop, __ATOMIC_ACQUIRE);
}
struct result *sl_result_new(const char *path);
/* A multi-file input's format and other files, from its task. */
void sl_result_companions(struct result *r, const struct sl_task *t);
void sl_result_reject(struct result *r, const char *reason);
void sl_result_free(struct result *r);
#endif
