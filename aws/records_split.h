/*
 * A SubscribeToShardEvent payload cut into runs of whole records as its
 * bytes arrive, so that a shard need not hold an event of many megabytes
 * whole (kinesis-local sends 15 MB ones) before handing any of it on.
 * I/O-free: bytes in; out, runs of records read by the records parser,
 * each with its JSON text (a payload kefo__records_parse reads as it
 * reads a whole event, for an owner that keeps a run to read later):
 *
 *   runs   {"Records":[<whole records>]}          as they complete
 *   end    <members before Records>[<the rest>]<members after>
 *
 * Only the top level is scanned here, up to the '[' of the member named
 * "Records" spelled without escapes. The records are then read once, by
 * kefo__records_parse_some, when enough bytes have come: the parser
 * finds where the last whole record ends (an earlier version scanned
 * every byte for the records' ends and the parser read them again: a
 * tenth of kefo-reader's CPU on kinesis-local's 100 B records, path 5).
 * What the parser cannot read is left for the end, whose parse names
 * it: from a record that does not read to the payload's end, the bytes
 * are held (at most the event's bounded length, as for one record that
 * large). A payload whose Records array is not found (absent, spelled with
 * escapes, not an array) is kept whole and comes out whole at the end.
 */
#ifndef KEFO_RECORDS_SPLIT_H
#define KEFO_RECORDS_SPLIT_H

#include <stddef.h>
#include <stdint.h>

#include "aws/records_reader.h"
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
  int depth;        /* nesting inside a skipped value */
  int records;      /* the key just read is "Records" */
  int strip;        /* the next ',' between records starts a run: blanked */
  size_t scan;      /* bytes of |buf| scanned (before Records) */
  size_t key_at;    /* where the key being read starts in |buf| */
  size_t run_end;   /* |buf| up to here holds the run lent (0: none) */
  size_t run_min;   /* records are read once this much has come */
  size_t next_try;  /* ... or, after a read found none whole, this much */
  size_t base;      /* payload offset of buf[RUN_PREFIX_LEN] */
  uint8_t saved[2]; /* the bytes a run's closing "]}" covers */
  int lent;         /* a run is out (kefo__records_split_run) */
  uint64_t runs;    /* runs handed on in this payload */
  /* What was wrong, and at which byte of the payload: two records with
     no ',' between them where a run was cut (the parser, reading runs
     apart, cannot see that). */
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
 * Returns 0, KEFO_ERR_BAD_RESPONSE once the payload was found wrong
 * (s->error and s->error_offset say what and where), or KEFO_ERR_NOMEM.
 */
int kefo__records_split_feed(kefo_records_split *s, const uint8_t *in,
                             size_t len);

/*
 * Reads the records that have come whole, with |p|, once at least
 * run_min bytes of them wait (or, when a read found none whole, twice
 * what it had, so that a record larger than a run is not read again
 * for every piece of it).
 *
 * Returns 1 when a run is ready: its records in |*ev| (owned by |p|)
 * and its JSON text in |*json| and |*len| (owned by |s|), both valid
 * until kefo__records_split_taken; 0 when not; KEFO_ERR_BAD_RESPONSE
 * (as feed) or KEFO_ERR_NOMEM.
 */
int kefo__records_split_run(kefo_records_split *s, kefo_records_parser *p,
                            const uint8_t **json, size_t *len,
                            kefo_records_event *ev);

/* The run from kefo__records_split_run was handed on: its bytes go. */
void kefo__records_split_taken(kefo_records_split *s);

/*
 * The payload ended: its last JSON text (every member but the records
 * already handed on in runs) in |*json| and |*len|, owned by |s|, valid
 * until the next begin.
 *
 * Returns 0, KEFO_ERR_BAD_RESPONSE (as feed) or KEFO_ERR_NOMEM.
 */
int kefo__records_split_end(kefo_records_split *s, const uint8_t **json,
                            size_t *len);

#endif /* KEFO_RECORDS_SPLIT_H */
