/*
 * The producer's I/O-free core (see producer_core.h): records queued per
 * shard over the shard map, flushes, room again, expiry and when to wake;
 * producer_batch.c builds the calls from the queues and reads their
 * answers.
 */
#include "runtime/producer_internal.h"

#include <stdlib.h>
#include <string.h>

#include "base/md5.h"
#include "base/mem.h"

void kefo__producer_settings_default(kefo_producer_settings *s) {
  memset(s, 0, sizeof(*s));
  s->batch_max_records = 500;
  s->batch_max_bytes = 5u << 20;
  s->max_inflight = 50;
  s->max_buffered_records = 10000;
  s->max_buffered_bytes = 64u << 20;
  s->linger_ms = 5000;
  s->aggregate = 1;
  s->aggregate_max_bytes = 51200;
  s->aggregate_max_count = 4294967295u;
  s->record_ttl_ms = 30000;
  s->rate_limit_pct = 150;
  s->cbor = 1;
  s->retry_min_ms = 100;
  s->retry_max_ms = 5000;
}

static int settings_ok(const kefo_producer_settings *s) {
  return s->batch_max_records >= 1 &&
         s->batch_max_records <= KEFO_PRODUCER_MAX_ENTRIES &&
         s->batch_max_bytes >= KEFO_PRODUCER_MAX_RECORD_BYTES &&
         s->batch_max_bytes <= KEFO_PRODUCER_MAX_CALL_BYTES &&
         s->max_inflight >= 1 && s->max_buffered_records >= 1 &&
         s->max_buffered_bytes >= KEFO_PRODUCER_MAX_RECORD_BYTES &&
         s->linger_ms >= 0 && s->aggregate_max_bytes >= 64 &&
         s->aggregate_max_bytes <= KEFO_PRODUCER_MAX_RECORD_BYTES &&
         s->aggregate_max_count >= 1 && s->record_ttl_ms > 0 &&
         s->rate_limit_pct >= 1 && s->retry_min_ms >= 1 &&
         s->retry_min_ms <= s->retry_max_ms;
}

int kefo__producer_core_new(kefo_producer_core **out,
                            const kefo_producer_settings *settings,
                            const kefo_producer_core_callbacks *cb,
                            void *user_data, const kefo_clock *clock,
                            const kefo_mem *mem) {
  kefo_producer_core *pc;
  int rv;

  if (out == NULL || settings == NULL || cb == NULL || cb->on_ack == NULL ||
      cb->on_fail == NULL || !settings_ok(settings)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__mem_or_default(mem);
  pc = kefo__mem_calloc(mem, 1, sizeof(*pc));
  if (pc == NULL) {
    return KEFO_ERR_NOMEM;
  }
  pc->mem = mem;
  pc->clock = kefo__clock_or_system(clock);
  pc->s = *settings;
  pc->cb = *cb;
  pc->user_data = user_data;
  kefo__buf_init(&pc->blob, mem);
  kefo__fifo_arena_init(&pc->arena, mem, 0);
  if (settings->aggregate &&
      (rv = kefo__kpl_aggregator_new(&pc->agg, mem)) != 0) {
    kefo__mem_free(mem, pc);
    return rv;
  }
  *out = pc;
  return 0;
}

static void free_queue(kefo_producer_core *pc, pqueue *q) {
  prec *r;
  while ((r = q_pop(q)) != NULL) {
    kefo__fifo_arena_free(&pc->arena, r);
  }
}

static void free_batch(kefo_producer_core *pc, kefo_producer_batch *b) {
  size_t i;
  for (i = 0; i < b->n; ++i) {
    free_queue(pc, &b->entries[i].recs);
  }
  kefo__producer_batch_free(pc, b);
}

void kefo__producer_core_del(kefo_producer_core *pc) {
  pshard *sh, *next;
  kefo_producer_batch *b, *bn;

  if (pc == NULL) {
    return;
  }
  for (b = pc->batches; b; b = bn) {
    bn = b->next;
    free_batch(pc, b);
  }
  for (sh = pc->all; sh; sh = next) {
    next = sh->all_next;
    free_queue(pc, &sh->q);
    kefo__mem_free(pc->mem, sh);
  }
  free_queue(pc, &pc->unmapped.q);
  free_queue(pc, &pc->staged);
  kefo__mem_free(pc->mem, pc->map);
  kefo__mem_free(pc->mem, pc->flushes);
  kefo__mem_free(pc->mem, pc->done_tokens);
  kefo__kpl_aggregator_del(pc->agg);
  kefo__buf_free(&pc->blob);
  kefo__mem_free(pc->mem, pc->taken);
  kefo__fifo_arena_trim(&pc->arena);
  kefo__mem_free(pc->mem, pc);
}

/* ---- the shard map ---------------------------------------------------- */

/* Whether |a| is at or above |b|, without a branch: as one 128-bit
   comparison (a subtract with borrow) where the compiler has the type;
   gcc turned the two-part form into jumps. */
static inline size_t key_at_or_above(const kefo_hash_key *a,
                                     const kefo_hash_key *b) {
#ifdef __SIZEOF_INT128__
  unsigned __int128 x = (unsigned __int128)a->hi << 64 | a->lo;
  unsigned __int128 y = (unsigned __int128)b->hi << 64 | b->lo;
  return x >= y;
#else
  return (a->hi > b->hi) | ((a->hi == b->hi) & (a->lo >= b->lo));
#endif
}

/* The open shard owning |key|, or NULL (no map yet, or a hole in it): the
   last shard starting at or below it, found without branches over the
   starts kept in one array beside the map (a key is random, so each
   branch of a binary search was a coin toss: 5% of an aggregated 100 B
   record's CPU, perf). */
static pshard *shard_for(const kefo_producer_core *pc,
                         const kefo_hash_key *key) {
  const kefo_hash_key *starts = pc->map_starts;
  size_t base = 0, n = pc->nmap;
  pshard *sh;

  if (n == 0) {
    return NULL;
  }
  while (n > 1) {
    size_t half = n / 2;
    base += half * key_at_or_above(key, &starts[base + half]);
    n -= half;
  }
  if (!key_at_or_above(key, &starts[base])) {
    return NULL;
  }
  sh = pc->map[base];
  return key_at_or_above(&sh->range.end, key) ? sh : NULL;
}

static pshard *home_of(kefo_producer_core *pc, const prec *r) {
  pshard *sh = shard_for(pc, &r->hash_key);
  return sh ? sh : &pc->unmapped;
}

/* How many records a put stages before their keys are hashed: one per
   lane of the widest kefo__md5_many. */
#define STAGED_MAX 16

/*
 * Hashes the partition keys of the staged records together and moves the
 * records to their shards' queues, in put order, stamped with |now_ms| as
 * their put time. A key's MD5 one at a time was the largest item of an
 * aggregated 100 B record's CPU (14%, perf); 16 in the lanes of one
 * vector cost about what 2 do alone. Every entry point of the core that
 * is given the time routes the staged records first, so nothing else ever
 * sees them (put, flush and the counters leave them staged; the stop
 * fails them where they are).
 *
 * Why the stamp is taken here and not at the put: the clock, read once
 * per put, was 2.2% of a 1 KiB record's CPU (perf; 20 ns a read on the
 * benchmark VM's paravirtual clock). Read when the records leave the
 * stage, it is never before any of their puts, so a linger or a TTL
 * counted from it never ends early; it is late by at most STAGED_MAX puts
 * or the time until the owner's next pass.
 */
void kefo__producer_core_route_staged(kefo_producer_core *pc, int64_t now_ms) {
  kefo_md5_job jobs[STAGED_MAX];
  uint8_t d[STAGED_MAX][KEFO_MD5_LEN];
  prec *r;
  size_t n, k, i;

  while (pc->staged.n > 0) {
    for (n = 0, k = 0, r = pc->staged.head; r != NULL && k < STAGED_MAX;
         r = r->next, k++) {
      if (r->ehk_len == 0) {
        jobs[n].data = (const uint8_t *)rec_pk(r);
        jobs[n].len = r->pk_len;
        jobs[n].out = d[n];
        n++;
      }
    }
    kefo__md5_many(jobs, n);
    for (i = 0, n = 0; i < k; i++) {
      r = q_pop(&pc->staged);
      r->put_ms = now_ms;
      r->deadline_ms = now_ms + pc->s.record_ttl_ms;
      if (r->ehk_len == 0) {
        kefo__hash_key_from_digest(&r->hash_key, d[n++]);
      }
      q_push_back(&home_of(pc, r)->q, r);
    }
  }
}

static int cmp_range(const void *a, const void *b) {
  const pshard *x = *(pshard *const *)a, *y = *(pshard *const *)b;
  return kefo__hash_key_cmp(&x->range.start, &y->range.start);
}

static pshard *find_shard(kefo_producer_core *pc, const char *id) {
  pshard *sh;
  for (sh = pc->all; sh; sh = sh->all_next) {
    if (strcmp(sh->id, id) == 0) {
      return sh;
    }
  }
  return NULL;
}

/* Moves the records of |from| to the shards that now own them, in order:
   appended when |front| is 0, else in front of what those shards hold
   (retries go first). */
void kefo__producer_core_rehome(kefo_producer_core *pc, pqueue *from,
                                int front) {
  pqueue moved;
  prec *r;

  if (!front) {
    while ((r = q_pop(from)) != NULL) {
      q_push_back(&home_of(pc, r)->q, r);
    }
    return;
  }
  /* In front, keeping their order: walk backwards, one at a time. */
  while ((r = from->tail) != NULL) {
    pshard *sh = home_of(pc, r);
    from->tail = r->prev;
    if (from->tail) {
      from->tail->next = NULL;
    } else {
      from->head = NULL;
    }
    --from->n;
    r->prev = r->next = NULL;
    moved.head = moved.tail = r;
    moved.n = 1;
    q_prepend(&sh->q, &moved);
  }
}

int kefo__producer_core_set_shards(kefo_producer_core *pc,
                                   const kefo_producer_shard_info *shards,
                                   size_t n, int64_t now_ms) {
  pshard **map, *sh;
  size_t i;

  if (pc == NULL || shards == NULL || n == 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  kefo__producer_core_route_staged(pc, now_ms);
  for (i = 0; i < n; ++i) {
    if (shards[i].shard_id == NULL || !shards[i].shard_id[0] ||
        strlen(shards[i].shard_id) >= KEFO_SHARD_ID_CAP ||
        kefo__hash_key_cmp(&shards[i].range.start, &shards[i].range.end) > 0) {
      return KEFO_ERR_INVALID_ARGUMENT;
    }
  }
  /* The map, then its starts (shard_for). */
  map = kefo__mem_calloc(pc->mem, n, sizeof(*map) + sizeof(kefo_hash_key));
  if (map == NULL) {
    return KEFO_ERR_NOMEM;
  }
  /* Allocate the new shards first, so a failure leaves the old map. */
  for (i = 0; i < n; ++i) {
    sh = find_shard(pc, shards[i].shard_id);
    if (sh == NULL) {
      sh = kefo__mem_calloc(pc->mem, 1, sizeof(*sh));
      if (sh == NULL) {
        break;
      }
      strcpy(sh->id, shards[i].shard_id);
      sh->tok_ms = now_ms;
      sh->tok_bytes = (double)KEFO_PRODUCER_SHARD_BYTES_PER_S *
                      pc->s.rate_limit_pct / 100.0;
      sh->tok_records = (double)KEFO_PRODUCER_SHARD_RECORDS_PER_S *
                        pc->s.rate_limit_pct / 100.0;
      sh->all_next = pc->all;
      pc->all = sh;
    }
    map[i] = sh;
  }
  if (i < n) {
    kefo__mem_free(pc->mem, map);
    return KEFO_ERR_NOMEM; /* the new shards stay, closed, until del */
  }
  for (i = 0; i < n; ++i) {
    map[i]->range = shards[i].range;
  }
  qsort(map, n, sizeof(*map), cmp_range);
  for (i = 1; i < n; ++i) {
    if (kefo__hash_key_cmp(&map[i - 1]->range.end, &map[i]->range.start) >= 0) {
      kefo__mem_free(pc->mem, map);
      return KEFO_ERR_INVALID_ARGUMENT;
    }
  }
  for (sh = pc->all; sh; sh = sh->all_next) {
    sh->open = 0;
  }
  for (i = 0; i < n; ++i) {
    map[i]->open = 1;
  }
  kefo__mem_free(pc->mem, pc->map);
  pc->map = map;
  pc->nmap = n;
  pc->map_starts = (kefo_hash_key *)(map + n);
  for (i = 0; i < n; ++i) {
    pc->map_starts[i] = map[i]->range.start;
  }
  pc->rr = 0;
  pc->map_stale = 0;
  /* Records of shards that left the map, and those waiting for one. */
  for (sh = pc->all; sh; sh = sh->all_next) {
    if (!sh->open && sh->q.n) {
      kefo__producer_core_rehome(pc, &sh->q, 0);
    }
  }
  kefo__producer_core_rehome(pc, &pc->unmapped.q, 0);
  return 0;
}

int kefo__producer_core_map_stale(const kefo_producer_core *pc) {
  return pc->map_stale;
}

/* ---- put, flush, room ------------------------------------------------ */

/* What sink.buffer.max-bytes bounds: the arena, and the lent data. */
static size_t held_mem(const kefo_producer_core *pc) {
  return pc->arena.footprint + pc->lent_bytes;
}

static void resolved(kefo_producer_core *pc, prec *r) {
  size_t i, j;

  --pc->held;
  pc->held_bytes -= rec_mem(r) + (r->lent ? r->len : 0);
  pc->lent_bytes -= r->lent ? r->len : 0;
  for (i = 0, j = 0; i < pc->nflushes; ++i) {
    pflush *f = &pc->flushes[i];
    if (r->id <= f->upto_id && --f->remaining == 0) {
      /* done_tokens has room: it grew with flushes */
      pc->done_tokens[pc->ndone++] = f->token;
      continue;
    }
    pc->flushes[j++] = *f;
  }
  pc->nflushes = j;
  kefo__fifo_arena_free(&pc->arena, r);
  if (pc->want_room && pc->held <= pc->s.max_buffered_records / 4 * 3 &&
      held_mem(pc) <= pc->s.max_buffered_bytes / 4 * 3) {
    pc->want_room = 0;
    pc->room = 1;
  }
}

void kefo__producer_core_ack(kefo_producer_core *pc, prec *r,
                             const char *shard_id, const char *seq,
                             uint64_t sub, int aggregated) {
  kefo_put_result res;

  res.shard_id = shard_id;
  res.sequence_number = seq;
  res.sub_sequence_number = sub;
  res.aggregated = aggregated;
  res.attempts = r->attempts;
  ++pc->st.acknowledged;
  pc->cb.on_ack(r->ctx, &res, pc->user_data);
  resolved(pc, r);
}

void kefo__producer_core_fail(kefo_producer_core *pc, prec *r,
                              const kefo_error_info *err) {
  ++pc->st.failed;
  pc->cb.on_fail(r->ctx, err, pc->user_data);
  resolved(pc, r);
}

void kefo__producer_core_fail_with(kefo_producer_core *pc, prec *r, int code,
                                   const char *message) {
  kefo_error_info info;

  memset(&info, 0, sizeof(info));
  info.code = code;
  info.message = message;
  info.operation = "PutRecords";
  kefo__producer_core_fail(pc, r, &info);
}

/* kefo__producer_core_put, and with |lent| its _lent twin. */
static int put_record(kefo_producer_core *pc, const char *pk, size_t pk_len,
                      const char *ehk, size_t ehk_len, const uint8_t *data,
                      size_t len, int lent, void *ctx) {
  kefo_hash_key key;
  size_t need, outside;
  prec *r;
  int rv;

  /* Lengths checked before any sum of them, so none can wrap. An explicit
     hash key is held to PutRecords' own pattern, 0|[1-9][0-9]{0,38}: a
     key with leading zeros would be sent as another string than the
     application gave, and would not fit the record's 16-bit length. */
  if (pc == NULL || pk == NULL || pk_len == 0 ||
      pk_len > KEFO_PRODUCER_MAX_KEY_LEN || (data == NULL && len > 0) ||
      len > KEFO_PRODUCER_MAX_RECORD_BYTES - pk_len ||
      (ehk && (ehk_len == 0 || ehk_len >= KEFO_HASH_KEY_DEC_LEN ||
               (ehk[0] == '0' && ehk_len > 1)))) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (pc->closed) {
    return KEFO_ERR_INVALID_STATE;
  }
  /* A partition key is hashed when the record leaves the stage. */
  memset(&key, 0, sizeof(key));
  if (ehk && (rv = kefo__hash_key_parse(&key, ehk, ehk_len)) != 0) {
    return rv;
  }
  if (ehk == NULL) {
    ehk_len = 0;
  }
  /* A lent record's data stays where the application keeps it: the
     arena holds a pointer to it. Empty data is not lent: the record's
     data is then never NULL, as memcpy's arguments must not be. */
  lent = lent && len > 0;
  outside = lent ? len : 0;
  need = sizeof(*r) + pk_len + ehk_len + 2 + (lent ? sizeof(data) : len);
  /* The bound is on what the arena holds, a chunk kept by one late record
     included, and the lent records' data; an empty buffer takes any
     record, so that a record as large as the bound is not refused for
     ever. */
  if (pc->held >= pc->s.max_buffered_records ||
      (pc->held > 0 &&
       held_mem(pc) + kefo__fifo_arena_cost(&pc->arena, need) + outside >
           pc->s.max_buffered_bytes)) {
    pc->want_room = 1;
    return KEFO_ERR_WOULD_BLOCK;
  }
  r = kefo__fifo_arena_alloc(&pc->arena, need);
  if (r == NULL) {
    return KEFO_ERR_NOMEM;
  }
  memset(r, 0, sizeof(*r));
  r->ctx = ctx;
  r->hash_key = key;
  r->id = ++pc->next_id;
  r->len = (uint32_t)len;
  r->pk_len = (uint16_t)pk_len;
  r->ehk_len = (uint16_t)ehk_len;
  r->lent = (uint32_t)lent;
  memcpy(r->bytes, pk, pk_len);
  r->bytes[pk_len] = 0;
  if (ehk_len) {
    memcpy(r->bytes + pk_len + 1, ehk, ehk_len);
  }
  r->bytes[pk_len + 1 + ehk_len] = 0;
  if (lent) {
    memcpy(r->bytes + pk_len + ehk_len + 2, &data, sizeof(data));
    pc->lent_bytes += len;
  } else if (len) {
    memcpy(r->bytes + pk_len + ehk_len + 2, data, len);
  }
  q_push_back(&pc->staged, r);
  ++pc->held;
  pc->held_bytes += need + outside;
  ++pc->queued;
  pc->queued_bytes += rec_bytes(r);
  ++pc->st.put;
  return 0;
}

int kefo__producer_core_put(kefo_producer_core *pc, const char *pk,
                            size_t pk_len, const char *ehk, size_t ehk_len,
                            const uint8_t *data, size_t len, void *ctx) {
  return put_record(pc, pk, pk_len, ehk, ehk_len, data, len, 0, ctx);
}

int kefo__producer_core_put_lent(kefo_producer_core *pc, const char *pk,
                                 size_t pk_len, const char *ehk, size_t ehk_len,
                                 const uint8_t *data, size_t len, void *ctx) {
  return put_record(pc, pk, pk_len, ehk, ehk_len, data, len, 1, ctx);
}

int kefo__producer_core_room_again(kefo_producer_core *pc) {
  int room = pc->room;
  pc->room = 0;
  return room;
}

int kefo__producer_core_flush_reserve(kefo_producer_core *pc) {
  if (kefo__mem_grow(pc->mem, (void **)&pc->flushes, pc->nflushes + 1,
                     &pc->flushes_cap, sizeof(*pc->flushes)) != 0 ||
      kefo__mem_grow(pc->mem, (void **)&pc->done_tokens,
                     pc->ndone + pc->nflushes + 1, &pc->done_cap,
                     sizeof(*pc->done_tokens)) != 0) {
    return KEFO_ERR_NOMEM;
  }
  return 0;
}

int64_t kefo__producer_core_flush(kefo_producer_core *pc) {
  pflush *f;

  if (pc->held == 0) {
    return 0;
  }
  if (kefo__producer_core_flush_reserve(pc) != 0) {
    return KEFO_ERR_NOMEM;
  }
  f = &pc->flushes[pc->nflushes++];
  f->token = ++pc->next_token;
  f->upto_id = pc->next_id;
  f->remaining = pc->held;
  return f->token;
}

int64_t kefo__producer_core_flushed(kefo_producer_core *pc) {
  int64_t t;
  if (pc->ndone == 0) {
    return 0;
  }
  t = pc->done_tokens[0];
  memmove(pc->done_tokens, pc->done_tokens + 1,
          (pc->ndone - 1) * sizeof(*pc->done_tokens));
  --pc->ndone;
  return t;
}

/* ---- batches ----------------------------------------------------------- */

double kefo__producer_core_bytes_rate(const kefo_producer_core *pc) {
  return (double)KEFO_PRODUCER_SHARD_BYTES_PER_S * pc->s.rate_limit_pct / 100.0;
}

static double records_rate(const kefo_producer_core *pc) {
  return (double)KEFO_PRODUCER_SHARD_RECORDS_PER_S * pc->s.rate_limit_pct /
         100.0;
}

/* Tops up |sh|'s buckets for the time since the last top-up; a bucket
   holds one second of its rate. */
void kefo__producer_core_refill(const kefo_producer_core *pc, pshard *sh,
                                int64_t now_ms) {
  double secs;

  if (now_ms <= sh->tok_ms) {
    return;
  }
  secs = (double)(now_ms - sh->tok_ms) / 1000.0;
  sh->tok_ms = now_ms;
  sh->tok_bytes += secs * kefo__producer_core_bytes_rate(pc);
  sh->tok_records += secs * records_rate(pc);
  if (sh->tok_bytes > kefo__producer_core_bytes_rate(pc)) {
    sh->tok_bytes = kefo__producer_core_bytes_rate(pc);
  }
  if (sh->tok_records > records_rate(pc)) {
    sh->tok_records = records_rate(pc);
  }
}

/* Whether a call is due: a flush waits, the buffer or one call's worth
   is full, or the oldest queued record has waited its linger time. */
int kefo__producer_core_call_due(const kefo_producer_core *pc, int64_t now_ms) {
  size_t i;

  if (pc->nflushes > 0 || pc->closed ||
      pc->held >= pc->s.max_buffered_records / 2 ||
      held_mem(pc) >= pc->s.max_buffered_bytes / 2) {
    return 1;
  }
  if (!pc->s.aggregate && pc->queued >= pc->s.batch_max_records) {
    return 1;
  }
  for (i = 0; i < pc->nmap; ++i) {
    const prec *h = pc->map[i]->q.head;
    if (h && (h->attempts > 0 || now_ms - h->put_ms >= pc->s.linger_ms)) {
      return 1;
    }
  }
  return 0;
}

/* ---- stop, expiry, time ------------------------------------------------ */

static void fail_queue(kefo_producer_core *pc, pqueue *q,
                       const kefo_error_info *info) {
  prec *r;
  while ((r = q_pop(q)) != NULL) {
    --pc->queued;
    pc->queued_bytes -= rec_bytes(r);
    kefo__producer_core_fail(pc, r, info);
  }
}

void kefo__producer_core_fail_all_info(kefo_producer_core *pc,
                                       const kefo_error_info *info,
                                       int in_flight) {
  pshard *sh;
  size_t i;

  pc->closed = 1;
  for (sh = pc->all; sh; sh = sh->all_next) {
    fail_queue(pc, &sh->q, info);
  }
  fail_queue(pc, &pc->unmapped.q, info);
  /* The last put, so each shard's records still fail in put order. */
  fail_queue(pc, &pc->staged, info);
  while (in_flight && pc->batches) {
    kefo_producer_batch *b = pc->batches;
    pc->batches = b->next;
    if (pc->batches) {
      pc->batches->prev = NULL;
    }
    for (i = 0; i < b->n; ++i) {
      prec *r;
      while ((r = q_pop(&b->entries[i].recs)) != NULL) {
        kefo__producer_core_fail(pc, r, info);
      }
    }
    --pc->inflight;
    kefo__producer_batch_free(pc, b);
  }
}

void kefo__producer_core_fail_all(kefo_producer_core *pc, int code,
                                  const char *message, int in_flight) {
  kefo_error_info info;

  memset(&info, 0, sizeof(info));
  info.code = code;
  info.message = message;
  info.operation = "PutRecords";
  kefo__producer_core_fail_all_info(pc, &info, in_flight);
}

/* Fails the expired records at the front of |q|: those sent before (and
   put back in front) and then those never sent, which are in put order,
   so the first one not expired ends the walk. */
static void expire_queue(kefo_producer_core *pc, pqueue *q, int64_t now_ms) {
  prec *r = q->head, *next;

  for (; r; r = next) {
    next = r->next;
    if (now_ms < r->deadline_ms) {
      if (r->attempts == 0) {
        return;
      }
      continue;
    }
    if (r->prev) {
      r->prev->next = r->next;
    } else {
      q->head = r->next;
    }
    if (r->next) {
      r->next->prev = r->prev;
    } else {
      q->tail = r->prev;
    }
    --q->n;
    --pc->queued;
    pc->queued_bytes -= rec_bytes(r);
    kefo__producer_core_fail_with(
        pc, r, KEFO_ERR_TIMEOUT,
        "the record's TTL (sink.record.ttl) passed before it was "
        "written");
  }
}

void kefo__producer_core_expire(kefo_producer_core *pc, int64_t now_ms) {
  pshard *sh;

  kefo__producer_core_route_staged(pc, now_ms);
  for (sh = pc->all; sh; sh = sh->all_next) {
    expire_queue(pc, &sh->q, now_ms);
  }
  expire_queue(pc, &pc->unmapped.q, now_ms);
}

static int64_t earlier(int64_t a, int64_t b) {
  return a < 0 || (b >= 0 && b < a) ? b : a;
}

/* When |sh|'s buckets will hold what its head record needs. */
static int64_t tokens_at(const kefo_producer_core *pc, const pshard *sh,
                         int64_t now_ms) {
  double need_r = 1.0 - sh->tok_records, need_b;
  double want = (double)rec_bytes(sh->q.head);
  int64_t t = now_ms;

  if (want > kefo__producer_core_bytes_rate(pc)) {
    want = kefo__producer_core_bytes_rate(pc);
  }
  need_b = want - sh->tok_bytes;
  if (need_r > 0) {
    t = now_ms + (int64_t)(need_r * 1000.0 / records_rate(pc)) + 1;
  }
  if (need_b > 0) {
    int64_t tb =
        now_ms +
        (int64_t)(need_b * 1000.0 / kefo__producer_core_bytes_rate(pc)) + 1;
    t = tb > t ? tb : t;
  }
  return t;
}

int64_t kefo__producer_core_next_wake(kefo_producer_core *pc, int64_t now_ms) {
  int64_t at = -1;
  pshard *sh;
  int due, full;

  if (pc->held == 0) {
    return -1;
  }
  kefo__producer_core_route_staged(pc, now_ms);
  due = kefo__producer_core_call_due(pc, now_ms);
  /* Every call slot taken: nothing can be sent before an answer, which
     wakes the owner anyway; only the deadlines need the clock (a shard
     ready to send would otherwise ask to be woken at once, over and over,
     for as long as the calls take: a busy loop against a slow server). */
  full = pc->inflight >= pc->s.max_inflight;
  for (sh = pc->all; sh; sh = sh->all_next) {
    const prec *h = sh->q.head;
    int64_t t;
    if (h == NULL) {
      continue;
    }
    at = earlier(at, h->deadline_ms);
    if (full || !sh->open || (pc->s.ordered && sh->inflight > 0)) {
      continue;
    }
    kefo__producer_core_refill(pc, sh, now_ms);
    t = sh->backoff_until > now_ms ? sh->backoff_until : now_ms;
    if (!due && h->attempts == 0) {
      int64_t l = h->put_ms + pc->s.linger_ms;
      t = l > t ? l : t;
    }
    {
      int64_t tt = tokens_at(pc, sh, now_ms);
      t = tt > t ? tt : t;
    }
    at = earlier(at, t);
  }
  if (pc->unmapped.q.head) {
    at = earlier(at, pc->unmapped.q.head->deadline_ms);
  }
  if (at < 0) {
    return -1;
  }
  return at > now_ms ? at - now_ms : 0;
}

void kefo__producer_core_stats(const kefo_producer_core *pc,
                               kefo_put_stats *out) {
  const kefo_producer_batch *b;

  *out = pc->st;
  out->buffered_records = pc->held;
  out->buffered_bytes = pc->held_bytes;
  out->in_flight_calls = pc->inflight;
  out->in_flight_records = 0;
  for (b = pc->batches; b; b = b->next) {
    out->in_flight_records += b->nrecords;
  }
}

size_t kefo__producer_core_outstanding(const kefo_producer_core *pc) {
  return pc->held;
}

size_t kefo__producer_core_inflight(const kefo_producer_core *pc) {
  return pc->inflight;
}

int kefo__producer_core_staged_full(const kefo_producer_core *pc) {
  return pc->staged.n >= STAGED_MAX;
}

void kefo__producer_core_route(kefo_producer_core *pc, int64_t now_ms) {
  kefo__producer_core_route_staged(pc, now_ms);
}
