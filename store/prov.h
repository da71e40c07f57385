/*
 * prov.h: the provenance log.  It owns the whole record (docs/store-format.md
 * has the schema, in one place): what an item is made of, from the fields
 * of struct sl_item, and the envelope that chains it (seq, prev, writer,
 * time, item id).  Each writer appends to a chain of its own,
 * DIR/prov/WRITER.jsonl, so several writers can append to one store and a
 * reader can still verify each chain and the whole.
 */
#ifndef SL_PROV_H
#define SL_PROV_H
#include "store.h"

typedef struct sl_prov sl_prov;
struct sl_chain;

#define SL_PROV_DIR "prov"
#define SL_WRITER_MAX 32

/* A valid writer name: 1..32 of a-z 0-9 _ -. */
int sl_prov_writer_ok(const char *w);

/* Open this writer's chain for appending, cut back to its committed end
 * (a torn line, a batch the catalog never committed); a chain shorter than
 * committed is damage, refused.  *cut gets the bytes dropped. */
int sl_prov_open(sl_prov **out, const char *dir, const struct sl_chain *committed, int *cut,
		 sl_err *err);
void sl_prov_close(sl_prov *p);

/* Append one record for the item as the chain's next: the line goes to
 * lines (with its newline), ch (the chain's end) moves on. */
void sl_prov_record(sl_buf *lines, struct sl_chain *ch, const char *time,
		    const struct sl_item *it);
/* Write lines and make them durable; on failure the chain is cut back. */
int sl_prov_append(sl_prov *p, const sl_buf *lines, sl_err *err);
/* Take back what the last append added (the catalog did not commit it). */
void sl_prov_undo(sl_prov *p);
/* The append that is now committed becomes the new end. */
void sl_prov_committed(sl_prov *p);

/* Path of a writer's chain file (malloc'd). */
char *sl_prov_path(const char *dir, const char *writer);

/* Walk a chain up to its committed end: each record checked for sequence
 * and chaining, cb gets (seq, item id as written: hex or a legacy number)
 * per record, problems are reported.  Returns records read. */
uint64_t sl_prov_walk(const char *dir, const struct sl_chain *ch,
		      void (*problem)(void *ctx, const char *msg),
		      void (*cb)(void *ctx, uint64_t seq, const char *item), void *ctx);
/* Copy a chain's committed records to fd. */
int sl_prov_copy(const char *dir, const struct sl_chain *ch, int fd, sl_err *err);
#endif
