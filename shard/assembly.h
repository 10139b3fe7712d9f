/*
 * Record assembly, I/O-free: the Kinesis records of one
 * SubscribeToShardEvent or GetRecords answer become the application's
 * kefo_records. Every Data is base64-decoded once into one arena, each
 * blob is de-aggregated where it lies (KPL), and a resume filter drops
 * the user records a checkpoint already covers. The records are lent
 * until the next call: their data points into the assembly's buffers.
 */
#ifndef KEFO_ASSEMBLY_H
#define KEFO_ASSEMBLY_H

#include <stddef.h>
#include <stdint.h>

#include <kefo/kefo.h>

#include "aws/records_reader.h"
#include "base/buf.h"
#include "base/mem.h"

/*
 * Resuming from a checkpoint: reading starts AT its record, so user
 * records at or before (|seq|, |sub|) were delivered by an earlier run
 * and are dropped; the first later one clears |active| (the rest of a
 * KPL aggregate after the checkpoint is delivered).
 */
typedef struct kefo_resume_filter {
  int active;
  const char *seq; /* a well-formed sequence number while active */
  uint64_t sub;
} kefo_resume_filter;

/* One Kinesis record: its decoded blob in the arena, its partition key
   and sequence number in the string buffer (offsets: both buffers may
   move while they grow). */
/* |pk| and |seq| are the wire record's own strings (the parser's, valid
   for the whole call): not copied again. */
typedef struct kefo_assembly_krec {
  size_t blob, blob_len, pk_len;
  const char *pk, *seq;
  int64_t arrival_ms;
} kefo_assembly_krec;

/* One user record; |data| is an offset into the arena (inside its
   blob), |seq| the Kinesis record's, |pk| its key when it is not
   aggregated, else NULL and |pk_off| (like |ehk|) an offset into the
   string buffer. */
typedef struct kefo_assembly_urec {
  const char *seq, *pk;
  size_t pk_off, ehk, data, data_len;
  uint64_t sub_seq;
  int64_t arrival_ms;
} kefo_assembly_urec;

/* Scratch reused from call to call, so that a steady stream allocates
   nothing. */
typedef struct kefo_assembly {
  const kefo_mem *mem;
  kefo_buf arena; /* its block from kefo__mem_big_alloc, not grown */
  kefo_buf strings;
  kefo_assembly_krec *krecs;
  size_t nkrecs, krecs_cap;
  kefo_assembly_urec *urecs;
  size_t nurecs, urecs_cap;
  kefo_record *recs;
  size_t recs_cap;
  /* During a call: the Kinesis record being de-aggregated, the filter. */
  const kefo_assembly_krec *cur;
  kefo_resume_filter *filter;
  /* What was wrong with the last call's records (a static string), or
     NULL when it ran out of memory. */
  const char *error;
} kefo_assembly;

/* Sets up |a|, allocating through |mem| (NULL: the C library). */
void kefo__assembly_init(kefo_assembly *a, const kefo_mem *mem);

/* Frees what |a| holds; the records it lent are gone. */
void kefo__assembly_free(kefo_assembly *a);

/*
 * Assembles |records|[|skip|..|n|) into user records, dropping those
 * |filter| (may be NULL) covers. On success *|out| points to *|nout|
 * records (possibly none) lent until the next call on |a| and while
 * |records|' strings live (their keys and sequence numbers are not
 * copied), and *|bytes| (may be NULL) is the sum of their data lengths.
 *
 * Returns 0, KEFO_ERR_BAD_RESPONSE (a record lacks Data, PartitionKey or
 * SequenceNumber, or its Data is not base64; a->error says which),
 * KEFO_ERR_NOMEM (a->error is NULL), or an error of
 * kefo__kpl_deaggregate, KEFO_ERR_CALLBACK_FAILURE where it ran out of
 * memory for user records (a->error says the record could not be
 * de-aggregated).
 */
int kefo__assembly_run(kefo_assembly *a, const kefo_wire_record *records,
                       size_t n, size_t skip, kefo_resume_filter *filter,
                       kefo_record **out, size_t *nout, uint64_t *bytes);

#endif /* KEFO_ASSEMBLY_H */
