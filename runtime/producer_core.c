/*
 * The producer's I/O-free core (see producer_core.h): records queued per
 * shard, batches taken from the queues under the call, aggregate, rate
 * and in-flight limits, and answers turned into acknowledgements, retries
 * and failures.
 */
#include "runtime/producer_core.h"

#include <stdlib.h>
#include <string.h>

#include "base/json_writer.h"
#include "base/mem.h"
#include "base/retry.h"
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
  /* pk, NUL, ehk, NUL, data */
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
} pentry;

struct kefo_producer_batch {
  struct kefo_producer_batch *prev, *next;
  pentry entries[KEFO_PRODUCER_MAX_ENTRIES];
  size_t n;
  size_t nrecords;
};

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
  size_t nmap;
  pshard unmapped;
  size_t rr;
  int map_stale;
  kefo_producer_batch *batches;
  size_t inflight;
  /* Held records (queued and in flight) and their bytes. */
  size_t held, held_bytes;
  size_t queued;
  uint64_t next_id;
  int want_room, room;
  int closed;
  pflush *flushes;
  size_t nflushes, flushes_cap;
  int64_t *done_tokens;
  size_t ndone, done_cap;
  int64_t next_token;
  kefo_kpl_aggregator *agg;
  kefo_hash_key_hasher *hasher;
  kefo_buf blob;
  kefo_put_stats st;
};

static size_t rec_bytes(const prec *r) {
  return (size_t)r->len + r->pk_len;
}

static size_t rec_mem(const prec *r) {
  return sizeof(*r) + (size_t)r->pk_len + r->ehk_len + 2 + r->len;
}

static const char *rec_pk(const prec *r) {
  return (const char *)r->bytes;
}

static const char *rec_ehk(const prec *r) {
  return r->ehk_len ? (const char *)r->bytes + r->pk_len + 1 : NULL;
}

static const uint8_t *rec_data(const prec *r) {
  return r->bytes + r->pk_len + 1 + r->ehk_len + 1;
}

static void q_push_back(pqueue *q, prec *r) {
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

static prec *q_pop(pqueue *q) {
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
static void q_prepend(pqueue *q, pqueue *from) {
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

void kefo_producer_settings_default(kefo_producer_settings *s) {
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

int kefo_producer_core_new(kefo_producer_core **out,
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
  mem = kefo_mem_or_default(mem);
  pc = kefo_mem_calloc(mem, 1, sizeof(*pc));
  if (pc == NULL) {
    return KEFO_ERR_NOMEM;
  }
  pc->mem = mem;
  pc->clock = kefo_clock_or_system(clock);
  pc->s = *settings;
  pc->cb = *cb;
  pc->user_data = user_data;
  kefo_buf_init(&pc->blob, mem);
  if ((rv = kefo_hash_key_hasher_new(&pc->hasher, mem)) != 0 ||
      (settings->aggregate &&
       (rv = kefo_kpl_aggregator_new(&pc->agg, mem)) != 0)) {
    kefo_hash_key_hasher_del(pc->hasher);
    kefo_mem_free(mem, pc);
    return rv;
  }
  *out = pc;
  return 0;
}

static void free_queue(kefo_producer_core *pc, pqueue *q) {
  prec *r;
  while ((r = q_pop(q)) != NULL) {
    kefo_mem_free(pc->mem, r);
  }
}

static void free_batch(kefo_producer_core *pc, kefo_producer_batch *b) {
  size_t i;
  for (i = 0; i < b->n; ++i) {
    free_queue(pc, &b->entries[i].recs);
  }
  kefo_mem_free(pc->mem, b);
}

void kefo_producer_core_del(kefo_producer_core *pc) {
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
    kefo_mem_free(pc->mem, sh);
  }
  free_queue(pc, &pc->unmapped.q);
  kefo_mem_free(pc->mem, pc->map);
  kefo_mem_free(pc->mem, pc->flushes);
  kefo_mem_free(pc->mem, pc->done_tokens);
  kefo_kpl_aggregator_del(pc->agg);
  kefo_hash_key_hasher_del(pc->hasher);
  kefo_buf_free(&pc->blob);
  kefo_mem_free(pc->mem, pc);
}

/* ---- the shard map ---------------------------------------------------- */

/* The open shard owning |key|, or NULL (no map yet, or a hole in it). */
static pshard *shard_for(const kefo_producer_core *pc,
                         const kefo_hash_key *key) {
  size_t lo = 0, hi = pc->nmap;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    pshard *sh = pc->map[mid];
    if (kefo_hash_key_cmp(key, &sh->range.start) < 0) {
      hi = mid;
    } else if (kefo_hash_key_cmp(key, &sh->range.end) > 0) {
      lo = mid + 1;
    } else {
      return sh;
    }
  }
  return NULL;
}

static pshard *home_of(kefo_producer_core *pc, const prec *r) {
  pshard *sh = shard_for(pc, &r->hash_key);
  return sh ? sh : &pc->unmapped;
}

static int cmp_range(const void *a, const void *b) {
  const pshard *x = *(pshard *const *)a, *y = *(pshard *const *)b;
  return kefo_hash_key_cmp(&x->range.start, &y->range.start);
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
static void rehome(kefo_producer_core *pc, pqueue *from, int front) {
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

int kefo_producer_core_set_shards(kefo_producer_core *pc,
                                  const kefo_producer_shard_info *shards,
                                  size_t n, int64_t now_ms) {
  pshard **map, *sh;
  size_t i, nnew = 0;

  if (pc == NULL || shards == NULL || n == 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  for (i = 0; i < n; ++i) {
    if (shards[i].shard_id == NULL || !shards[i].shard_id[0] ||
        strlen(shards[i].shard_id) >= KEFO_SHARD_ID_CAP ||
        kefo_hash_key_cmp(&shards[i].range.start, &shards[i].range.end) > 0) {
      return KEFO_ERR_INVALID_ARGUMENT;
    }
    nnew += find_shard(pc, shards[i].shard_id) == NULL;
  }
  map = kefo_mem_calloc(pc->mem, n, sizeof(*map));
  if (map == NULL) {
    return KEFO_ERR_NOMEM;
  }
  /* Allocate the new shards first, so a failure leaves the old map. */
  for (i = 0; i < n; ++i) {
    sh = find_shard(pc, shards[i].shard_id);
    if (sh == NULL) {
      sh = kefo_mem_calloc(pc->mem, 1, sizeof(*sh));
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
    kefo_mem_free(pc->mem, map);
    return KEFO_ERR_NOMEM; /* the new shards stay, closed, until del */
  }
  for (i = 0; i < n; ++i) {
    map[i]->range = shards[i].range;
  }
  qsort(map, n, sizeof(*map), cmp_range);
  for (i = 1; i < n; ++i) {
    if (kefo_hash_key_cmp(&map[i - 1]->range.end, &map[i]->range.start) >= 0) {
      kefo_mem_free(pc->mem, map);
      return KEFO_ERR_INVALID_ARGUMENT;
    }
  }
  for (sh = pc->all; sh; sh = sh->all_next) {
    sh->open = 0;
  }
  for (i = 0; i < n; ++i) {
    map[i]->open = 1;
  }
  kefo_mem_free(pc->mem, pc->map);
  pc->map = map;
  pc->nmap = n;
  pc->rr = 0;
  pc->map_stale = 0;
  /* Records of shards that left the map, and those waiting for one. */
  for (sh = pc->all; sh; sh = sh->all_next) {
    if (!sh->open && sh->q.n) {
      rehome(pc, &sh->q, 0);
    }
  }
  rehome(pc, &pc->unmapped.q, 0);
  return 0;
}

int kefo_producer_core_map_stale(const kefo_producer_core *pc) {
  return pc->map_stale;
}

/* ---- put, flush, room ------------------------------------------------ */

static void resolved(kefo_producer_core *pc, prec *r) {
  size_t i, j;

  --pc->held;
  pc->held_bytes -= rec_mem(r);
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
  if (pc->want_room && pc->held <= pc->s.max_buffered_records / 4 * 3 &&
      pc->held_bytes <= pc->s.max_buffered_bytes / 4 * 3) {
    pc->want_room = 0;
    pc->room = 1;
  }
  kefo_mem_free(pc->mem, r);
}

static void ack(kefo_producer_core *pc, prec *r, const char *shard_id,
                const char *seq, uint64_t sub, int aggregated) {
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

static void fail(kefo_producer_core *pc, prec *r, const kefo_error_info *err) {
  ++pc->st.failed;
  pc->cb.on_fail(r->ctx, err, pc->user_data);
  resolved(pc, r);
}

static void fail_with(kefo_producer_core *pc, prec *r, int code,
                      const char *message) {
  kefo_error_info info;

  memset(&info, 0, sizeof(info));
  info.code = code;
  info.message = message;
  info.operation = "PutRecords";
  fail(pc, r, &info);
}

int kefo_producer_core_put(kefo_producer_core *pc, const char *pk,
                           size_t pk_len, const char *ehk, size_t ehk_len,
                           const uint8_t *data, size_t len, void *ctx,
                           int64_t now_ms) {
  kefo_hash_key key;
  size_t need;
  prec *r;
  int rv;

  if (pc == NULL || pk == NULL || pk_len == 0 ||
      pk_len > KEFO_PRODUCER_MAX_KEY_LEN || (data == NULL && len > 0) ||
      len + pk_len > KEFO_PRODUCER_MAX_RECORD_BYTES) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (pc->closed) {
    return KEFO_ERR_INVALID_STATE;
  }
  if (ehk) {
    rv = kefo_hash_key_parse(&key, ehk, ehk_len);
  } else {
    ehk_len = 0;
    rv = kefo_hash_key_hash(pc->hasher, &key, pk, pk_len);
  }
  if (rv != 0) {
    return rv;
  }
  need = sizeof(*r) + pk_len + ehk_len + 2 + len;
  if (pc->held >= pc->s.max_buffered_records ||
      pc->held_bytes + need > pc->s.max_buffered_bytes) {
    pc->want_room = 1;
    return KEFO_ERR_WOULD_BLOCK;
  }
  r = kefo_mem_malloc(pc->mem, need);
  if (r == NULL) {
    return KEFO_ERR_NOMEM;
  }
  memset(r, 0, sizeof(*r));
  r->ctx = ctx;
  r->hash_key = key;
  r->id = ++pc->next_id;
  r->put_ms = now_ms;
  r->deadline_ms = now_ms + pc->s.record_ttl_ms;
  r->len = (uint32_t)len;
  r->pk_len = (uint16_t)pk_len;
  r->ehk_len = (uint16_t)ehk_len;
  memcpy(r->bytes, pk, pk_len);
  r->bytes[pk_len] = 0;
  if (ehk_len) {
    memcpy(r->bytes + pk_len + 1, ehk, ehk_len);
  }
  r->bytes[pk_len + 1 + ehk_len] = 0;
  if (len) {
    memcpy(r->bytes + pk_len + ehk_len + 2, data, len);
  }
  q_push_back(&home_of(pc, r)->q, r);
  ++pc->held;
  pc->held_bytes += need;
  ++pc->queued;
  ++pc->st.put;
  return 0;
}

int kefo_producer_core_room_again(kefo_producer_core *pc) {
  int room = pc->room;
  pc->room = 0;
  return room;
}

int64_t kefo_producer_core_flush(kefo_producer_core *pc) {
  pflush *f;

  if (pc->held == 0) {
    return 0;
  }
  if (kefo_mem_grow(pc->mem, (void **)&pc->flushes, pc->nflushes + 1,
                    &pc->flushes_cap, sizeof(*pc->flushes)) != 0 ||
      kefo_mem_grow(pc->mem, (void **)&pc->done_tokens,
                    pc->ndone + pc->nflushes + 1, &pc->done_cap,
                    sizeof(*pc->done_tokens)) != 0) {
    return KEFO_ERR_NOMEM;
  }
  f = &pc->flushes[pc->nflushes++];
  f->token = ++pc->next_token;
  f->upto_id = pc->next_id;
  f->remaining = pc->held;
  return f->token;
}

int64_t kefo_producer_core_flushed(kefo_producer_core *pc) {
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

static double bytes_rate(const kefo_producer_core *pc) {
  return (double)KEFO_PRODUCER_SHARD_BYTES_PER_S * pc->s.rate_limit_pct / 100.0;
}

static double records_rate(const kefo_producer_core *pc) {
  return (double)KEFO_PRODUCER_SHARD_RECORDS_PER_S * pc->s.rate_limit_pct /
         100.0;
}

/* Tops up |sh|'s buckets for the time since the last top-up; a bucket
   holds one second of its rate. */
static void refill(const kefo_producer_core *pc, pshard *sh, int64_t now_ms) {
  double secs;

  if (now_ms <= sh->tok_ms) {
    return;
  }
  secs = (double)(now_ms - sh->tok_ms) / 1000.0;
  sh->tok_ms = now_ms;
  sh->tok_bytes += secs * bytes_rate(pc);
  sh->tok_records += secs * records_rate(pc);
  if (sh->tok_bytes > bytes_rate(pc)) {
    sh->tok_bytes = bytes_rate(pc);
  }
  if (sh->tok_records > records_rate(pc)) {
    sh->tok_records = records_rate(pc);
  }
}

/* Whether |sh| may add an entry to a call now (tokens aside). */
static int may_send(const kefo_producer_core *pc, const pshard *sh,
                    int64_t now_ms) {
  return sh->open && sh->q.n > 0 && now_ms >= sh->backoff_until &&
         !(pc->s.ordered && sh->inflight > 0);
}

/* Whether a call is due: a flush waits, the buffer or one call's worth
   is full, or the oldest queued record has waited its linger time. */
static int call_due(const kefo_producer_core *pc, int64_t now_ms) {
  size_t i;

  if (pc->nflushes > 0 || pc->closed ||
      pc->held >= pc->s.max_buffered_records / 2 ||
      pc->held_bytes >= pc->s.max_buffered_bytes / 2) {
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

/* Takes the next entry of |sh| into |e|, within |room| bytes of the
   call and the shard's tokens: one record, or an aggregate of as many as
   fit. Returns 0, 1 (nothing fits now) or an error. */
static int take_entry(kefo_producer_core *pc, pshard *sh, pentry *e,
                      size_t room) {
  prec *r = sh->q.head;
  size_t limit = room, first = rec_bytes(r);
  int rv;

  if (sh->tok_records < 1.0) {
    return 1;
  }
  if ((double)limit > sh->tok_bytes) {
    limit = sh->tok_bytes < 0 ? 0 : (size_t)sh->tok_bytes;
  }
  /* A full bucket lets any record through: one larger than the bucket
     would wait for ever. */
  if (first > limit && !(sh->tok_bytes >= bytes_rate(pc) && first <= room)) {
    return 1;
  }
  memset(e, 0, sizeof(*e));
  e->shard = sh;
  if (pc->s.aggregate) {
    size_t agg_limit = pc->s.aggregate_max_bytes;
    kefo_kpl_aggregator_reset(pc->agg);
    while ((r = sh->q.head) != NULL &&
           kefo_kpl_aggregator_count(pc->agg) < pc->s.aggregate_max_count) {
      size_t with = kefo_kpl_aggregator_size_with(
          pc->agg, rec_pk(r), r->pk_len, rec_ehk(r), r->ehk_len, r->len);
      size_t pk0 = e->recs.n ? e->recs.head->pk_len : r->pk_len;
      if (e->recs.n > 0 && (with > agg_limit || with + pk0 > limit)) {
        break;
      }
      if (e->recs.n == 0 && (with > agg_limit || with + pk0 > room)) {
        break; /* too large to aggregate: it goes alone */
      }
      rv = kefo_kpl_aggregator_add(pc->agg, rec_pk(r), r->pk_len, rec_ehk(r),
                                   r->ehk_len, rec_data(r), r->len);
      if (rv != 0) {
        /* the taken ones go back */
        q_prepend(&sh->q, &e->recs);
        return rv;
      }
      q_push_back(&e->recs, q_pop(&sh->q));
    }
    e->aggregated = e->recs.n > 1;
  }
  if (e->recs.n == 0) {
    q_push_back(&e->recs, q_pop(&sh->q));
  }
  if (e->recs.n == 1) {
    e->aggregated = 0;
  }
  return 0;
}

/* The Kinesis bytes of entry |e|: as a call's limits count them. */
static size_t entry_bytes(const kefo_producer_core *pc, const pentry *e) {
  if (e->aggregated) {
    return kefo_kpl_aggregator_size(pc->agg) + e->recs.head->pk_len;
  }
  return rec_bytes(e->recs.head);
}

/* Appends entry |e| to the body; for an aggregate, the aggregator still
   holds it. */
static int write_entry(kefo_producer_core *pc, const pentry *e, kefo_buf *body,
                       int first) {
  const prec *r = e->recs.head;
  char dec[KEFO_HASH_KEY_DEC_LEN];
  int rv;

  rv = kefo_buf_append_str(body, first ? "{\"Data\":" : ",{\"Data\":");
  if (rv == 0 && e->aggregated) {
    kefo_buf_reset(&pc->blob);
    rv = kefo_kpl_aggregator_finish(pc->agg, &pc->blob);
    if (rv == 0) {
      rv = kefo_json_append_base64(body, pc->blob.data, pc->blob.len);
    }
  } else if (rv == 0) {
    rv = kefo_json_append_base64(body, rec_data(r), r->len);
  }
  if (rv == 0) {
    rv = kefo_buf_append_str(body, ",\"PartitionKey\":");
  }
  if (rv == 0) {
    rv = kefo_json_append_string(body, (const uint8_t *)rec_pk(r), r->pk_len);
  }
  /* An aggregate goes to the shard of its first record, whose hash key it
     names; a record with its own explicit hash key keeps it. */
  if (rv == 0 && (e->aggregated || r->ehk_len)) {
    kefo_hash_key_format(dec, &r->hash_key);
    rv = kefo_buf_append_str(body, ",\"ExplicitHashKey\":\"");
    if (rv == 0) {
      rv = kefo_buf_append_str(body, dec);
    }
    if (rv == 0) {
      rv = kefo_buf_append_byte(body, '"');
    }
  }
  if (rv == 0) {
    rv = kefo_buf_append_byte(body, '}');
  }
  return rv;
}

static int write_head(kefo_buf *body, const char *name, const char *arn) {
  int rv =
      kefo_buf_append_str(body, name ? "{\"StreamName\":" : "{\"StreamARN\":");
  const char *v = name ? name : arn;
  if (rv == 0) {
    rv = kefo_json_append_string(body, (const uint8_t *)v, strlen(v));
  }
  if (rv == 0) {
    rv = kefo_buf_append_str(body, ",\"Records\":[");
  }
  return rv;
}

/* Undoes a batch being built: its records go back in front of their
   shards' queues, last entry first. */
static void unbuild(kefo_producer_core *pc, kefo_producer_batch *b) {
  while (b->n > 0) {
    pentry *e = &b->entries[--b->n];
    q_prepend(&e->shard->q, &e->recs);
  }
  kefo_mem_free(pc->mem, b);
}

/* Takes entries of |sh| into |b| while they fit; returns 0, 1 when the
   call is full, or an error. */
static int take_from_shard(kefo_producer_core *pc, kefo_producer_batch *b,
                           pshard *sh, size_t *bytes, kefo_buf *body,
                           int64_t now_ms) {
  int rv;

  refill(pc, sh, now_ms);
  while (sh->q.n > 0) {
    pentry *e;
    size_t eb;
    if (b->n >= pc->s.batch_max_records || *bytes >= pc->s.batch_max_bytes) {
      return 1;
    }
    e = &b->entries[b->n];
    rv = take_entry(pc, sh, e, pc->s.batch_max_bytes - *bytes);
    if (rv == 1) {
      return 0;
    }
    if (rv == 0) {
      rv = write_entry(pc, e, body, b->n == 0);
    }
    if (rv != 0) {
      if (e->recs.n) {
        q_prepend(&sh->q, &e->recs);
      }
      return rv;
    }
    eb = entry_bytes(pc, e);
    ++b->n;
    b->nrecords += e->recs.n;
    *bytes += eb;
    sh->tok_bytes -= (double)eb;
    sh->tok_records -= 1.0;
    if (pc->s.ordered) {
      return 0; /* one entry per shard per call keeps the order */
    }
  }
  return 0;
}

int kefo_producer_core_next_batch(kefo_producer_core *pc, int64_t now_ms,
                                  const char *stream_name,
                                  const char *stream_arn,
                                  kefo_producer_batch **out, kefo_buf *body) {
  kefo_producer_batch *b;
  size_t start = body->len, bytes = 0, i;
  int rv = 0;

  *out = NULL;
  if (pc->inflight >= pc->s.max_inflight || pc->nmap == 0 || pc->queued == 0 ||
      !call_due(pc, now_ms)) {
    return 0;
  }
  b = kefo_mem_calloc(pc->mem, 1, sizeof(*b));
  if (b == NULL) {
    return KEFO_ERR_NOMEM;
  }
  rv = write_head(body, stream_name, stream_arn);
  for (i = 0; rv == 0 && i < pc->nmap; ++i) {
    pshard *sh = pc->map[(pc->rr + i) % pc->nmap];
    if (may_send(pc, sh, now_ms)) {
      rv = take_from_shard(pc, b, sh, &bytes, body, now_ms);
    }
  }
  pc->rr = (pc->rr + 1) % pc->nmap;
  if (rv == 1) {
    rv = 0;
  }
  if (rv == 0 && b->n > 0) {
    rv = kefo_buf_append_str(body, "]}");
  }
  if (rv != 0 || b->n == 0) {
    body->len = start;
    unbuild(pc, b);
    return rv;
  }
  for (i = 0; i < b->n; ++i) {
    prec *r;
    ++b->entries[i].shard->inflight;
    for (r = b->entries[i].recs.head; r; r = r->next) {
      ++r->attempts;
    }
    /* An entry of several records of one shard counts once per shard. */
    if (i > 0 && b->entries[i].shard == b->entries[i - 1].shard) {
      --b->entries[i].shard->inflight;
    }
  }
  pc->queued -= b->nrecords;
  b->next = pc->batches;
  if (pc->batches) {
    pc->batches->prev = b;
  }
  pc->batches = b;
  ++pc->inflight;
  pc->st.bytes_sent += body->len - start;
  *out = b;
  return 0;
}

size_t kefo_producer_batch_entries(const kefo_producer_batch *b) {
  return b->n;
}

size_t kefo_producer_batch_records(const kefo_producer_batch *b) {
  return b->nrecords;
}

/* ---- answers ----------------------------------------------------------- */

static int retryable_code(const char *code) {
  return strcmp(code, "ProvisionedThroughputExceededException") == 0 ||
         strcmp(code, "InternalFailure") == 0 ||
         strcmp(code, "ServiceUnavailable") == 0 ||
         strcmp(code, "KMSThrottlingException") == 0;
}

/* Slows |sh| after a failure: no entry before a jittered backoff, and
   for throttling, empty buckets too. */
static void back_off(kefo_producer_core *pc, pshard *sh, int throttled,
                     int64_t now_ms) {
  kefo_retry_strategy rs;
  int64_t until;

  rs.min_delay_ms = pc->s.retry_min_ms;
  rs.max_delay_ms = pc->s.retry_max_ms;
  rs.max_attempts = UINT32_MAX;
  until = now_ms + kefo_retry_delay_ms(&rs, ++sh->failures, pc->clock);
  if (until > sh->backoff_until) {
    sh->backoff_until = until;
  }
  if (throttled) {
    sh->tok_bytes = 0;
    sh->tok_records = 0;
    sh->tok_ms = now_ms;
  }
}

/* The records of a failed entry: back to the front of their shards (the
   map may have changed), or failed when their TTL passed, the error is
   final, or fail-on-error is set. */
static void retry_or_fail(kefo_producer_core *pc, pqueue *recs,
                          const kefo_error_info *err, int retryable,
                          int64_t now_ms) {
  pqueue keep;
  prec *r;

  memset(&keep, 0, sizeof(keep));
  while ((r = q_pop(recs)) != NULL) {
    if (!retryable || pc->s.fail_on_error || pc->closed) {
      fail(pc, r, err);
    } else if (now_ms >= r->deadline_ms) {
      fail_with(pc, r, KEFO_ERR_TIMEOUT,
                "the record's TTL (sink.record.ttl) passed before it was "
                "written");
    } else {
      ++pc->st.retried;
      ++pc->queued;
      q_push_back(&keep, r);
    }
  }
  rehome(pc, &keep, 1);
}

static void entry_done(kefo_producer_core *pc, pentry *e,
                       const kefo_producer_entry_result *res, int64_t now_ms) {
  kefo_error_info info;
  uint64_t sub = 0;
  prec *r;

  if (res->error_code == NULL) {
    if (res->shard_id == NULL || res->sequence_number == NULL) {
      memset(&info, 0, sizeof(info));
      info.code = KEFO_ERR_BAD_RESPONSE;
      info.operation = "PutRecords";
      info.message = "an entry of the answer has neither SequenceNumber and "
                     "ShardId nor ErrorCode";
      info.retryable = 1;
      retry_or_fail(pc, &e->recs, &info, 1, now_ms);
      return;
    }
    if (strcmp(res->shard_id, e->shard->id) != 0) {
      pc->map_stale = 1;
    }
    e->shard->failures = 0;
    ++pc->st.kinesis_records;
    while ((r = q_pop(&e->recs)) != NULL) {
      ack(pc, r, res->shard_id, res->sequence_number, e->aggregated ? sub : 0,
          e->aggregated);
      ++sub;
    }
    return;
  }
  memset(&info, 0, sizeof(info));
  info.code = KEFO_ERR_AWS;
  info.aws_type = res->error_code;
  info.message = res->error_message ? res->error_message : "";
  info.operation = "PutRecords";
  info.shard_id = e->shard->id;
  info.http_status = 200;
  info.retryable = retryable_code(res->error_code);
  if (strcmp(res->error_code, "ProvisionedThroughputExceededException") == 0) {
    ++pc->st.throttled;
    back_off(pc, e->shard, 1, now_ms);
  } else {
    back_off(pc, e->shard, 0, now_ms);
  }
  retry_or_fail(pc, &e->recs, &info, info.retryable, now_ms);
}

int kefo_producer_core_done(kefo_producer_core *pc, kefo_producer_batch *b,
                            const kefo_producer_entry_result *results, size_t n,
                            int call_error, const kefo_error_info *info,
                            int64_t now_ms) {
  kefo_error_info bad;
  int rv = 0;
  size_t i;

  if (b->prev) {
    b->prev->next = b->next;
  } else {
    pc->batches = b->next;
  }
  if (b->next) {
    b->next->prev = b->prev;
  }
  --pc->inflight;
  ++pc->st.calls;
  for (i = 0; i < b->n; ++i) {
    if (i == 0 || b->entries[i].shard != b->entries[i - 1].shard) {
      --b->entries[i].shard->inflight;
    }
  }
  if (call_error == 0 && n != b->n) {
    memset(&bad, 0, sizeof(bad));
    bad.code = call_error = KEFO_ERR_BAD_RESPONSE;
    bad.operation = "PutRecords";
    bad.message = "the answer does not have one entry per record sent";
    bad.retryable = 1;
    info = &bad;
    rv = KEFO_ERR_BAD_RESPONSE;
  }
  for (i = 0; i < b->n; ++i) {
    pentry *e = &b->entries[i];
    if (call_error == 0) {
      entry_done(pc, e, &results[i], now_ms);
    } else {
      if (info->retryable) {
        back_off(pc, e->shard,
                 info->aws_type &&
                     strcmp(info->aws_type, "ProvisionedThroughputExceededExce"
                                            "ption") == 0,
                 now_ms);
      }
      retry_or_fail(pc, &e->recs, info, info->retryable, now_ms);
    }
  }
  kefo_mem_free(pc->mem, b);
  return rv;
}

/* ---- stop, expiry, time ------------------------------------------------ */

static void fail_queue(kefo_producer_core *pc, pqueue *q, int code,
                       const char *message) {
  prec *r;
  while ((r = q_pop(q)) != NULL) {
    --pc->queued;
    fail_with(pc, r, code, message);
  }
}

void kefo_producer_core_fail_all(kefo_producer_core *pc, int code,
                                 const char *message, int in_flight) {
  pshard *sh;
  size_t i;

  pc->closed = 1;
  for (sh = pc->all; sh; sh = sh->all_next) {
    fail_queue(pc, &sh->q, code, message);
  }
  fail_queue(pc, &pc->unmapped.q, code, message);
  while (in_flight && pc->batches) {
    kefo_producer_batch *b = pc->batches;
    pc->batches = b->next;
    if (pc->batches) {
      pc->batches->prev = NULL;
    }
    for (i = 0; i < b->n; ++i) {
      prec *r;
      while ((r = q_pop(&b->entries[i].recs)) != NULL) {
        fail_with(pc, r, code, message);
      }
    }
    --pc->inflight;
    kefo_mem_free(pc->mem, b);
  }
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
    fail_with(pc, r, KEFO_ERR_TIMEOUT,
              "the record's TTL (sink.record.ttl) passed before it was "
              "written");
  }
}

void kefo_producer_core_expire(kefo_producer_core *pc, int64_t now_ms) {
  pshard *sh;

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

  if (want > bytes_rate(pc)) {
    want = bytes_rate(pc);
  }
  need_b = want - sh->tok_bytes;
  if (need_r > 0) {
    t = now_ms + (int64_t)(need_r * 1000.0 / records_rate(pc)) + 1;
  }
  if (need_b > 0) {
    int64_t tb = now_ms + (int64_t)(need_b * 1000.0 / bytes_rate(pc)) + 1;
    t = tb > t ? tb : t;
  }
  return t;
}

int64_t kefo_producer_core_next_wake(kefo_producer_core *pc, int64_t now_ms) {
  int64_t at = -1;
  pshard *sh;
  int due;

  if (pc->held == 0) {
    return -1;
  }
  due = call_due(pc, now_ms);
  for (sh = pc->all; sh; sh = sh->all_next) {
    const prec *h = sh->q.head;
    int64_t t;
    if (h == NULL) {
      continue;
    }
    at = earlier(at, h->deadline_ms);
    if (!sh->open || (pc->s.ordered && sh->inflight > 0)) {
      continue;
    }
    refill(pc, sh, now_ms);
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

void kefo_producer_core_stats(const kefo_producer_core *pc,
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

size_t kefo_producer_core_outstanding(const kefo_producer_core *pc) {
  return pc->held;
}

size_t kefo_producer_core_inflight(const kefo_producer_core *pc) {
  return pc->inflight;
}
