/*
 * The producer core's insides, shared by its two files: producer_core.c
 * (records, the shard map, flushes, expiry, time) and producer_batch.c
 * (PutRecords calls built from the queues and their answers read).
 * Private to runtime/producer_core*.c and producer_batch.c.
 */
#ifndef KEFO_PRODUCER_INTERNAL_H
#define KEFO_PRODUCER_INTERNAL_H

#include <string.h>

#include "base/fifo_arena.h"
#include "base/log.h"
#include "runtime/producer_core.h"
#include "shard/kpl_aggregate.h"
#include "shard/position.h"

/* One user record, its keys and data in the same block. While queued it
   is linked in its shard's queue; while in flight, in its batch entry. */
typedef struct prec {
  struct prec *prev, *next;
  void *ctx;
  kefo_hash_key hash_key;
  /* Put order, for flushes. */
  uint64_t id;
  int64_t put_ms;
  int64_t deadline_ms;
  uint32_t attempts;
  uint32_t len;
  uint16_t pk_len;
  uint16_t ehk_len;
  /* Non-zero: the data is the application's (kefo_producer_put_lent),
     and |bytes| holds a pointer to it in its place. */
  uint32_t lent;
  /* pk, NUL, ehk, NUL, data (or the pointer to it) */
  uint8_t bytes[];
} prec;

typedef struct pqueue {
  prec *head, *tail;
  size_t n;
} pqueue;

/* A shard, kept (retired when it leaves the map) until the core is
   freed, so that batches in flight may point at it. */
typedef struct pshard {
  struct pshard *all_next;
  char id[KEFO_SHARD_ID_CAP];
  kefo_hash_range range;
  pqueue q;
  /* Token buckets, refilled continuously. */
  double tok_bytes, tok_records;
  int64_t tok_ms;
  int64_t backoff_until;
  uint32_t failures;
  /* Batches carrying entries of this shard. */
  size_t inflight;
  int open;
} pshard;

typedef struct pentry {
  pshard *shard;
  pqueue recs;
  int aggregated;
  /* An aggregate's bytes, in the core's |blob| (JSON) or in the body
     itself (CBOR), and where the body keeps room for its end (in JSON
     the base64 of it, in CBOR its digest): filled once the call's
     aggregates are hashed together (producer_batch.c). */
  size_t blob_off, blob_len, body_tail;
  /* Where its records start in the batch's |hints|. */
  size_t first;
} pentry;

struct kefo_producer_batch {
  struct kefo_producer_batch *prev, *next;
  pentry entries[KEFO_PRODUCER_MAX_ENTRIES];
  size_t n;
  size_t nrecords;
  /* The batch's records in order (NULL when there was no memory for it),
     only to fetch them ahead when they are acknowledged: the lists in the
     entries are what counts. */
  prec **hints;
  size_t nhints;
};

/* Frees |b| and its hints, not its records. */
void kefo__producer_batch_free(kefo_producer_core *pc, kefo_producer_batch *b);

typedef struct pflush {
  int64_t token;
  uint64_t upto_id;
  size_t remaining;
} pflush;

struct kefo_producer_core {
  const kefo_mem *mem;
  const kefo_clock *clock;
  kefo_producer_settings s;
  kefo_producer_core_callbacks cb;
  void *user_data;
  pshard *all;
  /* The open shards sorted by range, and records waiting for a map. */
  pshard **map;
  /* Each map entry's range start, in the same allocation (shard_for). */
  kefo_hash_key *map_starts;
  size_t nmap;
  pshard unmapped;
  size_t rr;
  int map_stale;
  kefo_producer_batch *batches;
  size_t inflight;
  /* Held records (queued and in flight) and their bytes. */
  size_t held, held_bytes;
  /* Where records live: what it holds (arena.footprint), with the lent
     records' data (lent_bytes), is what sink.buffer.max-bytes bounds. */
  kefo_fifo_arena arena;
  size_t lent_bytes;
  size_t queued;
  /* The user bytes (data and partition key) of the queued records, and
     the size the next calls aim at (kefo__producer_core_split_calls; 0:
     the call limit). */
  size_t queued_bytes, call_aim;
  /* kefo__producer_core_defer_digests. */
  int defer_digests;
  uint64_t next_id;
  int want_room, room;
  int closed;
  pflush *flushes;
  size_t nflushes, flushes_cap;
  int64_t *done_tokens;
  size_t ndone, done_cap;
  int64_t next_token;
  /* Records put whose partition keys are not hashed yet, in put order:
     hashed KEFO_PRODUCER_STAGED at a time (producer_core.c). */
  pqueue staged;
  /* The records of the call being built, in order (the next batch's
     hints); |taken_lost| when one did not fit. */
  prec **taken;
  size_t ntaken, taken_cap;
  int taken_lost;
  kefo_kpl_aggregator *agg;
  /* The aggregates of the call being built, one after the other; kept
     between calls so that its pages are not mapped again for each. */
  kefo_buf blob;
  kefo_put_stats st;
  /* The producer's log hook (lent; NULL: none). */
  const kefo_log *log;
  /* Entries of the answer being read that failed, and were throttled. */
  size_t call_failed, call_throttled;
};

static inline size_t rec_bytes(const prec *r) {
  return (size_t)r->len + r->pk_len;
}

/* What a record takes in the arena. */
static inline size_t rec_mem(const prec *r) {
  return sizeof(*r) + (size_t)r->pk_len + r->ehk_len + 2 +
         (r->lent ? sizeof(const uint8_t *) : r->len);
}

static inline const char *rec_pk(const prec *r) {
  return (const char *)r->bytes;
}

static inline const char *rec_ehk(const prec *r) {
  return r->ehk_len ? (const char *)r->bytes + r->pk_len + 1 : NULL;
}

static inline const uint8_t *rec_data(const prec *r) {
  const uint8_t *d = r->bytes + r->pk_len + 1 + r->ehk_len + 1;

  if (r->lent) {
    memcpy(&d, d, sizeof(d)); /* unaligned: after the keys */
  }
  return d;
}

static inline void q_push_back(pqueue *q, prec *r) {
  r->next = NULL;
  r->prev = q->tail;
  if (q->tail) {
    q->tail->next = r;
  } else {
    q->head = r;
  }
  q->tail = r;
  ++q->n;
}

static inline prec *q_pop(pqueue *q) {
  prec *r = q->head;
  if (r) {
    q->head = r->next;
    if (q->head) {
      q->head->prev = NULL;
    } else {
      q->tail = NULL;
    }
    --q->n;
    r->next = r->prev = NULL;
  }
  return r;
}

/* Puts all of |from| in front of |q|, in its order. */
static inline void q_prepend(pqueue *q, pqueue *from) {
  if (from->head == NULL) {
    return;
  }
  from->tail->next = q->head;
  if (q->head) {
    q->head->prev = from->tail;
  } else {
    q->tail = from->tail;
  }
  q->head = from->head;
  q->n += from->n;
  memset(from, 0, sizeof(*from));
}

/* Moves the records of |from| to the shards that now own them, in order:
   appended when |front| is 0, else in front of what those shards hold. */
void kefo__producer_core_rehome(kefo_producer_core *pc, pqueue *from,
                                int front);
/* Reports |r| written, or failed with |err| (or |code| and |message|),
   and frees it. */
/* Hashes the staged records' keys and queues them at their shards,
   stamped with |now_ms| as their put time. */
void kefo__producer_core_route_staged(kefo_producer_core *pc, int64_t now_ms);
void kefo__producer_core_ack(kefo_producer_core *pc, prec *r,
                             const char *shard_id, const char *seq,
                             uint64_t sub, int aggregated);
void kefo__producer_core_fail(kefo_producer_core *pc, prec *r,
                              const kefo_error_info *err);
void kefo__producer_core_fail_with(kefo_producer_core *pc, prec *r, int code,
                                   const char *message);
/* A shard's share of its byte limit per second; its buckets topped up
   for the time since the last top-up. */
double kefo__producer_core_bytes_rate(const kefo_producer_core *pc);
void kefo__producer_core_refill(const kefo_producer_core *pc, pshard *sh,
                                int64_t now_ms);
/* Whether a call is due at |now_ms| (a flush, a full buffer or call, a
   record past its linger time). */
int kefo__producer_core_call_due(const kefo_producer_core *pc, int64_t now_ms);

#endif /* KEFO_PRODUCER_INTERNAL_H */
