/*
 * A SubscribeToShardEvent payload cut into runs of whole records as its
 * bytes arrive, so that a shard need not hold an event of many megabytes
 * whole (kinesis-local sends 15 MB ones) before handing any of it on.
 * I/O-free: bytes in, JSON texts out, each one a payload that
 * kefo__records_parse reads as it reads a whole event:
 *
 *   runs   {"Records":[<whole records>]}          as they complete
 *   end    <members before Records>[<the rest>]<members after>
 *
 * Only the structure is scanned here (strings, nesting, the top-level
 * member named "Records" spelled without escapes); the records
 * themselves are checked by the parser, run by run. A payload whose
 * Records array is not found (absent, spelled with escapes, not an
 * array) is kept whole and comes out whole at the end, as before.
 */
#ifndef KEFO_RECORDS_SPLIT_H
#define KEFO_RECORDS_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/mem.h"

typedef struct kefo_records_split {
  /* The run being gathered: RUN_PREFIX, then the records not yet handed
     on (before Records is found: the whole payload so far). */
  kefo_buf buf;
  kefo_buf head; /* the members before Records, up to its ':' */
  kefo_buf tail; /* from the ']' that closes Records to the end */
  kefo_buf out;  /* the end's payload, when it is put together */
  int state;
  int depth;        /* nesting inside a skipped value or a record */
  int records;      /* the key just read is "Records" */
  int strip;        /* the next ',' between records starts a run: blanked */
  size_t scan;      /* bytes of |buf| scanned */
  size_t key_at;    /* where the key being read starts in |buf| */
  size_t run_end;   /* |buf| up to here holds whole records (0: none) */
  size_t run_min;   /* a run is handed on once it holds this much */
  size_t base;      /* payload offset of buf[RUN_PREFIX_LEN] */
  uint8_t saved[2]; /* the bytes a run's closing "]}" covers */
  int lent;         /* a run is out (kefo__records_split_run) */
  uint64_t runs;    /* runs handed on in this payload */
  /* What was wrong, and at which byte of the payload. */
  const char *error;
  size_t error_offset;
} kefo_records_split;

/* Sets up |s| to hand on runs of at least |run_min| bytes. */
void kefo__records_split_init(kefo_records_split *s, const kefo_mem *mem,
                              size_t run_min);

/* Frees what |s| holds. */
void kefo__records_split_free(kefo_records_split *s);

/* Starts a new payload, dropping what is left of the last. */
void kefo__records_split_begin(kefo_records_split *s);

/*
 * Takes the next |len| bytes of the payload.
 *
 * Returns 0, KEFO_ERR_BAD_RESPONSE when the Records array holds
 * something other than objects or nests too deep (s->error and
 * s->error_offset say what and where), or KEFO_ERR_NOMEM.
 */
int kefo__records_split_feed(kefo_records_split *s, const uint8_t *in,
                             size_t len);

/*
 * Returns 1 when a run of at least run_min bytes of whole records is
 * ready, with its JSON text in |*json| and |*len| (owned by |s|, valid
 * until kefo__records_split_taken); 0 when not.
 */
int kefo__records_split_run(kefo_records_split *s, const uint8_t **json,
                            size_t *len);

/* The run from kefo__records_split_run was handed on: its bytes go. */
void kefo__records_split_taken(kefo_records_split *s);

/*
 * The payload ended: its last JSON text (every member but the records
 * already handed on in runs) in |*json| and |*len|, owned by |s|, valid
 * until the next begin.
 *
 * Returns 0 or KEFO_ERR_NOMEM.
 */
int kefo__records_split_end(kefo_records_split *s, const uint8_t **json,
                            size_t *len);

#endif /* KEFO_RECORDS_SPLIT_H */
