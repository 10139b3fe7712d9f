/*
 * The producer core's calls (see producer_core.h): a PutRecords batch
 * taken from the shards' queues under the call, aggregate, rate and
 * in-flight limits, its JSON body written as it is taken, and its answer
 * turned into acknowledgements, retries and failures.
 */
#include "runtime/producer_internal.h"

#include <string.h>

#include "base/base64.h"
#include "base/cbor.h"
#include "base/json_writer.h"
#include "base/md5.h"
#include "shard/kpl.h"
#include "base/mem.h"
#include "base/retry.h"

/* Whether |sh| may add an entry to a call now (tokens aside). */
static int may_send(const kefo_producer_core *pc, const pshard *sh,
                    int64_t now_ms) {
  return sh->open && sh->q.n > 0 && now_ms >= sh->backoff_until &&
         !(pc->s.ordered && sh->inflight > 0);
}

/* How many records ahead acknowledgements fetch (entry_done). */
#define PREFETCH_AHEAD 8

/* The smallest record an aggregate borrows rather than copies (see
   take_entry). */
#define LEND_MIN 512

/* Moves the head record of |sh| into |e|, counting the attempt now,
   while the record is in cache: a pass over a call's records afterwards
   missed the cache on most of them (15% of the CPU of aggregated 100 B
   records, perf). */
static void take_record(kefo_producer_core *pc, pshard *sh, pentry *e) {
  prec *r = q_pop(&sh->q);

  ++r->attempts;
  pc->queued_bytes -= rec_bytes(r);
  q_push_back(&e->recs, r);
  if (kefo__mem_grow(pc->mem, (void **)&pc->taken, pc->ntaken + 1,
                     &pc->taken_cap, sizeof(*pc->taken)) != 0) {
    pc->taken_lost = 1;
    return;
  }
  pc->taken[pc->ntaken++] = r;
}

/* Puts the records of |recs| back in front of |sh|'s queue, as if they had
   not been taken. */
static void untake(kefo_producer_core *pc, pshard *sh, pqueue *recs) {
  prec *r;

  pc->ntaken = recs->n < pc->ntaken ? pc->ntaken - recs->n : 0;
  for (r = recs->head; r != NULL; r = r->next) {
    --r->attempts;
    pc->queued_bytes += rec_bytes(r);
  }
  q_prepend(&sh->q, recs);
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
  if (first > limit &&
      !(sh->tok_bytes >= kefo__producer_core_bytes_rate(pc) && first <= room)) {
    return 1;
  }
  memset(e, 0, sizeof(*e));
  e->shard = sh;
  e->first = pc->ntaken;
  if (pc->s.aggregate) {
    size_t agg_limit = pc->s.aggregate_max_bytes;
    kefo__kpl_aggregator_reset(pc->agg);
    while ((r = sh->q.head) != NULL &&
           kefo__kpl_aggregator_count(pc->agg) < pc->s.aggregate_max_count) {
      size_t with = kefo__kpl_aggregator_size_with(
          pc->agg, rec_pk(r), r->pk_len, rec_ehk(r), r->ehk_len, r->len);
      size_t pk0 = e->recs.n ? e->recs.head->pk_len : r->pk_len;
      if (e->recs.n > 0 && (with > agg_limit || with + pk0 > limit)) {
        break;
      }
      if (e->recs.n == 0 && (with > agg_limit || with + pk0 > room)) {
        break; /* too large to aggregate: it goes alone */
      }
      /* A large record is lent: it stays in the arena until it is
         acknowledged, and the aggregate is written into the call before
         this pass ends, so its bytes go from the arena to the body in one
         copy. A small one is copied: one memcpy of all the fields at the
         finish beats one per record (bench_wire, "kpl aggregate, lent":
         1 KiB records 1.08x faster lent, 100 B 0.96x, 256 B 0.96-0.99x). */
      rv = (r->len >= LEND_MIN ? kefo__kpl_aggregator_add_lent
                               : kefo__kpl_aggregator_add)(
          pc->agg, rec_pk(r), r->pk_len, rec_ehk(r), r->ehk_len, rec_data(r),
          r->len);
      if (rv != 0) {
        untake(pc, sh, &e->recs);
        return rv;
      }
      take_record(pc, sh, e);
      if (sh->q.head != NULL && sh->q.head->next != NULL) {
        /* The record after next (the next one was fetched a record ago):
           each is a cache miss whose address is in the one before. */
        const char *ahead = (const char *)sh->q.head->next;
        __builtin_prefetch(ahead);
        __builtin_prefetch(ahead + 64);
        __builtin_prefetch(ahead + 128);
      }
    }
    e->aggregated = e->recs.n > 1;
  }
  if (e->recs.n == 0) {
    take_record(pc, sh, e);
  }
  if (e->recs.n == 1) {
    e->aggregated = 0;
  }
  return 0;
}

/* The Kinesis bytes of entry |e|: as a call's limits count them. */
static size_t entry_bytes(const kefo_producer_core *pc, const pentry *e) {
  if (e->aggregated) {
    return kefo__kpl_aggregator_size(pc->agg) + e->recs.head->pk_len;
  }
  return rec_bytes(e->recs.head);
}

/* The base64 characters an aggregate's last bytes take: its digest and
   the 0 to 2 protobuf bytes before it that share a group with it. */
#define AGG_TAIL_CHARS 24

/* Appends the aggregate pc->agg holds, without its MD5 trailer, which
   digest_aggregates writes with the call's other aggregates. In CBOR the
   bytes go straight into the body, where the MD5 reads them (blob_off is
   then an offset in the body): a copy through pc->blob was 2 of the 5
   copies of an aggregated record's bytes. In JSON they go to pc->blob,
   and the body gets their base64, in quotes, with room for the end. */
static int write_aggregate(kefo_producer_core *pc, pentry *e, kefo_buf *body) {
  size_t head, w, size = kefo__kpl_aggregator_size(pc->agg);
  int rv;

  if (pc->s.cbor) {
    rv = kefo__buf_reserve(body, 9 + size);
    if (rv != 0) {
      return rv;
    }
    body->len +=
        kefo__cbor_write_head(body->data + body->len, KEFO_CBOR_BYTES, size);
    e->blob_off = body->len;
    rv = kefo__kpl_aggregator_finish_undigested(pc->agg, body);
    if (rv != 0) {
      return rv; /* the batch is undone, head and all */
    }
    e->blob_len = body->len - e->blob_off;
    e->body_tail = body->len - KEFO_KPL_DIGEST_LEN;
    return 0;
  }
  e->blob_off = pc->blob.len;
  rv = kefo__kpl_aggregator_finish_undigested(pc->agg, &pc->blob);
  if (rv != 0) {
    return rv;
  }
  e->blob_len = pc->blob.len - e->blob_off;
  /* Whole groups of three bytes before the trailer are final now. */
  head = (e->blob_len - KEFO_KPL_DIGEST_LEN) / 3 * 3;
  rv = kefo__buf_reserve(body,
                         kefo__base64_encoded_len(head) + AGG_TAIL_CHARS + 2);
  if (rv != 0) {
    return rv;
  }
  body->data[body->len++] = '"';
  kefo__base64_encode(body->data + body->len, body->cap - body->len,
                      pc->blob.data + e->blob_off, head, &w);
  body->len += w;
  e->body_tail = body->len;
  body->len += AGG_TAIL_CHARS;
  body->data[body->len++] = '"';
  return 0;
}

/* Hashes the aggregates of the |n| batches |bs| (bodies |bodies|)
   together (kefo__md5_many: one per vector lane): in CBOR each digest
   goes straight to its place in its body; in JSON (one batch: its blobs
   are in pc->blob) the base64 of each one's end goes in its room. */
static void digest_aggregates(kefo_producer_core *pc,
                              kefo_producer_batch *const *bs,
                              kefo_buf *const *bodies, size_t nb) {
  enum { CHUNK = 128 };
  kefo_md5_job jobs[CHUNK];
  const pentry *es[CHUNK];
  kefo_buf *ebody[CHUNK];
  size_t ib = 0, i = 0, n, k;

  while (ib < nb) {
    for (n = 0; ib < nb && n < CHUNK;) {
      const kefo_producer_batch *b = bs[ib];
      const pentry *e;
      uint8_t *blob;
      if (i == b->n) {
        ++ib;
        i = 0;
        continue;
      }
      e = &b->entries[i++];
      if (!e->aggregated) {
        continue;
      }
      blob = (pc->s.cbor ? bodies[ib]->data : pc->blob.data) + e->blob_off;
      jobs[n].data = blob + KEFO_KPL_MAGIC_LEN;
      jobs[n].len = e->blob_len - KEFO_KPL_MAGIC_LEN - KEFO_KPL_DIGEST_LEN;
      jobs[n].out = blob + e->blob_len - KEFO_KPL_DIGEST_LEN;
      es[n] = e;
      ebody[n++] = bodies[ib];
    }
    kefo__md5_many(jobs, n);
    for (k = 0; k < n && !pc->s.cbor; k++) {
      /* In CBOR each digest went to its place in the body. */
      const pentry *e = es[k];
      size_t head = (e->blob_len - KEFO_KPL_DIGEST_LEN) / 3 * 3, w;
      kefo__base64_encode(ebody[k]->data + e->body_tail, AGG_TAIL_CHARS,
                          pc->blob.data + e->blob_off + head,
                          e->blob_len - head, &w);
    }
  }
}

void kefo__producer_core_seal(kefo_producer_core *pc,
                              kefo_producer_batch *const *batches,
                              kefo_buf *const *bodies, size_t n) {
  if (pc->s.cbor && pc->defer_digests) {
    digest_aggregates(pc, batches, bodies, n);
  }
}

/* The keys of an entry as CBOR text strings, heads included. */
static const uint8_t KEY_DATA[] = {0x64, 'D', 'a', 't', 'a'};
static const uint8_t KEY_PK[] = {0x6c, 'P', 'a', 'r', 't', 'i', 't',
                                 'i',  'o', 'n', 'K', 'e', 'y'};
static const uint8_t KEY_EHK[] = {0x6f, 'E', 'x', 'p', 'l', 'i', 'c', 'i',
                                  't',  'H', 'a', 's', 'h', 'K', 'e', 'y'};

/* The largest CBOR head (an 8-byte argument). */
#define HEAD_MAX 9

static uint8_t *put_key(uint8_t *o, const uint8_t *key, size_t len) {
  memcpy(o, key, len);
  return o + len;
}

static uint8_t *put_string(uint8_t *o, unsigned major, const void *s,
                           size_t len) {
  o += kefo__cbor_write_head(o, major, len);
  if (len > 0) {
    memcpy(o, s, len);
  }
  return o + len;
}

/* write_entry in CBOR: a map of Data (bytes), PartitionKey and, when
   the entry names one, ExplicitHashKey. Room for all of it is reserved
   at once and the keys are written whole: an append per item (a
   reservation and a head each) was 510 instructions of a plain record
   (callgrind, 1 KiB records). An aggregate's Data is written by
   write_aggregate between the two halves. */
static int write_entry_cbor(kefo_producer_core *pc, pentry *e, kefo_buf *body) {
  const prec *r = e->recs.head;
  char dec[KEFO_HASH_KEY_DEC_LEN];
  int ehk = e->aggregated || r->ehk_len;
  size_t declen = ehk ? kefo__hash_key_format(dec, &r->hash_key) : 0;
  size_t data = e->aggregated ? 0 : HEAD_MAX + r->len;
  uint8_t *o;
  int rv;

  rv = kefo__buf_reserve(body, 1 + sizeof(KEY_DATA) + data + sizeof(KEY_PK) +
                                   HEAD_MAX + r->pk_len + sizeof(KEY_EHK) +
                                   HEAD_MAX + declen);
  if (rv != 0) {
    return rv;
  }
  o = body->data + body->len;
  *o++ = (uint8_t)(KEFO_CBOR_MAP << 5 | (ehk ? 3 : 2));
  o = put_key(o, KEY_DATA, sizeof(KEY_DATA));
  if (e->aggregated) {
    body->len = (size_t)(o - body->data);
    if ((rv = write_aggregate(pc, e, body)) != 0 ||
        (rv = kefo__buf_reserve(body, sizeof(KEY_PK) + HEAD_MAX + r->pk_len +
                                          sizeof(KEY_EHK) + HEAD_MAX +
                                          declen)) != 0) {
      return rv;
    }
    o = body->data + body->len;
  } else {
    o = put_string(o, KEFO_CBOR_BYTES, rec_data(r), r->len);
  }
  o = put_key(o, KEY_PK, sizeof(KEY_PK));
  o = put_string(o, KEFO_CBOR_TEXT, rec_pk(r), r->pk_len);
  if (ehk) {
    o = put_key(o, KEY_EHK, sizeof(KEY_EHK));
    o = put_string(o, KEFO_CBOR_TEXT, dec, declen);
  }
  body->len = (size_t)(o - body->data);
  return 0;
}

/* Appends entry |e| to the body; an aggregate's trailer is left to
   digest_aggregates. */
static int write_entry(kefo_producer_core *pc, pentry *e, kefo_buf *body,
                       int first) {
  const prec *r = e->recs.head;
  char dec[KEFO_HASH_KEY_DEC_LEN];
  int rv;

  if (pc->s.cbor) {
    return write_entry_cbor(pc, e, body);
  }
  rv = kefo__buf_append_str(body, first ? "{\"Data\":" : ",{\"Data\":");
  if (rv == 0 && e->aggregated) {
    rv = write_aggregate(pc, e, body);
  } else if (rv == 0) {
    rv = kefo__json_append_base64(body, rec_data(r), r->len);
  }
  if (rv == 0) {
    rv = kefo__buf_append_str(body, ",\"PartitionKey\":");
  }
  if (rv == 0) {
    rv = kefo__json_append_string(body, (const uint8_t *)rec_pk(r), r->pk_len);
  }
  /* An aggregate goes to the shard of its first record, whose hash key it
     names; a record with its own explicit hash key keeps it. */
  if (rv == 0 && (e->aggregated || r->ehk_len)) {
    kefo__hash_key_format(dec, &r->hash_key);
    rv = kefo__buf_append_str(body, ",\"ExplicitHashKey\":\"");
    if (rv == 0) {
      rv = kefo__buf_append_str(body, dec);
    }
    if (rv == 0) {
      rv = kefo__buf_append_byte(body, '"');
    }
  }
  if (rv == 0) {
    rv = kefo__buf_append_byte(body, '}');
  }
  return rv;
}

/* The body up to its first entry. In CBOR, Records is an array of
   indefinite length (as the AWS SDK for Java's CBOR writer sends it),
   ended by a break in kefo__producer_core_next_batch: its count is not
   known until the call is full. */
static int write_head(const kefo_producer_core *pc, kefo_buf *body,
                      const char *name, const char *arn) {
  const char *v = name ? name : arn;
  int rv;

  if (pc->s.cbor) {
    rv = kefo__cbor_append_head(body, KEFO_CBOR_MAP, 2);
    if (rv == 0) {
      rv = kefo__cbor_append_text(body, name ? "StreamName" : "StreamARN",
                                  name ? 10 : 9);
    }
    if (rv == 0) {
      rv = kefo__cbor_append_text(body, v, strlen(v));
    }
    if (rv == 0) {
      rv = kefo__cbor_append_text(body, "Records", 7);
    }
    return rv == 0 ? kefo__buf_append_byte(body, 0x9f) : rv;
  }
  rv =
      kefo__buf_append_str(body, name ? "{\"StreamName\":" : "{\"StreamARN\":");
  if (rv == 0) {
    rv = kefo__json_append_string(body, (const uint8_t *)v, strlen(v));
  }
  if (rv == 0) {
    rv = kefo__buf_append_str(body, ",\"Records\":[");
  }
  return rv;
}

/* Undoes a batch being built: its records go back in front of their
   shards' queues, last entry first. */
static void unbuild(kefo_producer_core *pc, kefo_producer_batch *b) {
  while (b->n > 0) {
    pentry *e = &b->entries[--b->n];
    untake(pc, e->shard, &e->recs);
  }
  kefo__producer_batch_free(pc, b);
}

/* Takes entries of |sh| into |b| while they fit; returns 0, 1 when the
   call is full (or has the size aimed at), or an error. An aim below
   the limit ends the call but does not shrink the room an entry may
   take: a record larger than the aim still goes, at worst alone. */
static int take_from_shard(kefo_producer_core *pc, kefo_producer_batch *b,
                           pshard *sh, size_t *bytes, kefo_buf *body,
                           int64_t now_ms) {
  int rv;

  kefo__producer_core_refill(pc, sh, now_ms);
  while (sh->q.n > 0) {
    pentry *e;
    size_t eb;
    if (b->n >= pc->s.batch_max_records || *bytes >= pc->s.batch_max_bytes ||
        (pc->call_aim > 0 && *bytes >= pc->call_aim)) {
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
      untake(pc, sh, &e->recs);
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

/* The room a call's body is likely to need, reserved before it is
   written: grown from nothing by doubling, a 530 KB body of 1 KiB records
   was realloc'd fourteen times, and the moves copied about as many bytes
   again as the body holds (callgrind: 42 M instructions of memcpy under
   realloc against 11 M for the records' own copies) and touched fresh
   pages at each size. The estimate is the bytes the call may take (its
   aim, else its limit, at most what is queued), in base64 for JSON, and
   an entry's keys and heads for each record it may take. An estimate
   short of the truth only means one more doubling. */
#define BODY_HEAD_ROOM 256
#define BODY_ENTRY_ROOM 64

static int reserve_body(const kefo_producer_core *pc, kefo_buf *body) {
  size_t bytes = pc->call_aim > 0 ? pc->call_aim : pc->s.batch_max_bytes;
  size_t n = pc->queued, most = pc->s.batch_max_records;

  if (bytes > pc->queued_bytes) {
    bytes = pc->queued_bytes;
  }
  /* Without aggregation a call takes at most batch_max_records records,
     and in the ordering mode one a shard: that many of the queued
     records' mean size. With it, the limit counts entries, which hold
     several records each. */
  if (pc->s.ordered && pc->nmap > 0 && pc->nmap < most) {
    most = pc->nmap;
  }
  if (n > most) {
    if (!pc->s.aggregate && bytes / most > pc->queued_bytes / n + 1) {
      bytes = most * (pc->queued_bytes / n + 1);
    }
    n = most;
  }
  if (!pc->s.cbor) {
    bytes = bytes / 3 * 4 + 4;
  }
  return kefo__buf_reserve(body, BODY_HEAD_ROOM + bytes + n * BODY_ENTRY_ROOM);
}

void kefo__producer_core_split_calls(kefo_producer_core *pc, size_t ways) {
  size_t aim;

  pc->call_aim = 0;
  if (ways < 2) {
    return;
  }
  aim = pc->queued_bytes / ways + 1;
  if (aim < KEFO_PRODUCER_SPLIT_MIN_BYTES) {
    aim = KEFO_PRODUCER_SPLIT_MIN_BYTES;
  }
  if (aim < pc->s.batch_max_bytes) {
    pc->call_aim = aim;
  }
}

void kefo__producer_core_defer_digests(kefo_producer_core *pc, int on) {
  pc->defer_digests = on;
}

int kefo__producer_core_next_batch(kefo_producer_core *pc, int64_t now_ms,
                                   const char *stream_name,
                                   const char *stream_arn,
                                   kefo_producer_batch **out, kefo_buf *body) {
  kefo_producer_batch *b;
  size_t start = body->len, bytes = 0, i;
  int rv = 0;

  *out = NULL;
  kefo__producer_core_route_staged(pc, now_ms);
  if (pc->inflight >= pc->s.max_inflight || pc->nmap == 0 || pc->queued == 0 ||
      !kefo__producer_core_call_due(pc, now_ms)) {
    return 0;
  }
  b = kefo__mem_calloc(pc->mem, 1, sizeof(*b));
  if (b == NULL) {
    return KEFO_ERR_NOMEM;
  }
  kefo__buf_reset(&pc->blob);
  pc->ntaken = 0;
  pc->taken_lost = 0;
  rv = reserve_body(pc, body);
  if (rv == 0) {
    rv = write_head(pc, body, stream_name, stream_arn);
  }
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
    if (!(pc->s.cbor && pc->defer_digests)) {
      digest_aggregates(pc, &b, &body, 1);
    }
    rv = pc->s.cbor ? kefo__buf_append_byte(body, 0xff)
                    : kefo__buf_append_str(body, "]}");
  }
  if (rv != 0 || b->n == 0) {
    body->len = start;
    unbuild(pc, b);
    return rv;
  }
  for (i = 0; i < b->n; ++i) {
    ++b->entries[i].shard->inflight;
    /* An entry of several records of one shard counts once per shard. */
    if (i > 0 && b->entries[i].shard == b->entries[i - 1].shard) {
      --b->entries[i].shard->inflight;
    }
  }
  if (!pc->taken_lost && pc->ntaken == b->nrecords &&
      (b->hints = kefo__mem_malloc(pc->mem, pc->ntaken * sizeof(prec *))) !=
          NULL) {
    memcpy(b->hints, pc->taken, pc->ntaken * sizeof(prec *));
    b->nhints = pc->ntaken;
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

size_t kefo__producer_batch_entries(const kefo_producer_batch *b) {
  return b->n;
}

size_t kefo__producer_batch_records(const kefo_producer_batch *b) {
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
  until = now_ms + kefo__retry_delay_ms(&rs, ++sh->failures, pc->clock);
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
      kefo__producer_core_fail(pc, r, err);
    } else if (now_ms >= r->deadline_ms) {
      kefo__producer_core_fail_with(
          pc, r, KEFO_ERR_TIMEOUT,
          "the record's TTL (sink.record.ttl) passed before it was "
          "written");
    } else {
      ++pc->st.retried;
      ++pc->queued;
      pc->queued_bytes += rec_bytes(r);
      q_push_back(&keep, r);
    }
  }
  kefo__producer_core_rehome(pc, &keep, 1);
}

/* The log hook hears of the first failed entry of a call in full; the
   rest are counted (log_call): one line per call, not one per record. */
static void log_entry(kefo_producer_core *pc, const pentry *e,
                      const kefo_error_info *info, int64_t now_ms) {
  char cause[256];

  int retried = info->retryable && !pc->s.fail_on_error;

  if (pc->call_failed != 1 ||
      !KEFO_LOG_ON(pc->log, retried ? KEFO_LOG_WARN : KEFO_LOG_ERROR)) {
    return;
  }
  kefo__log_cause(cause, sizeof(cause), info->code, info);
  if (retried) {
    KEFO_LOG(pc->log, KEFO_LOG_WARN,
             pc->call_throttled ? "put.throttled" : "put.retry", e->shard->id,
             "PutRecords entry failed: %s; retried in %lld ms", cause,
             (long long)(e->shard->backoff_until - now_ms));
  } else {
    KEFO_LOG(pc->log, KEFO_LOG_ERROR, "put.failed", e->shard->id,
             "PutRecords entry failed: %s; not retried", cause);
  }
}

/* After a call: how many of its entries failed, in one line. */
static void log_call(kefo_producer_core *pc, size_t nentries) {
  if (pc->call_failed > 1) {
    KEFO_LOG(pc->log, KEFO_LOG_WARN,
             pc->call_throttled ? "put.throttled" : "put.retry", NULL,
             "%zu of %zu PutRecords entries failed (%zu throttled)",
             pc->call_failed, nentries, pc->call_throttled);
  }
  pc->call_failed = pc->call_throttled = 0;
}

/* A whole call failed. */
static void log_call_error(kefo_producer_core *pc, const kefo_error_info *info,
                           size_t nentries) {
  char cause[256];

  if (!KEFO_LOG_ON(pc->log, info->retryable ? KEFO_LOG_WARN : KEFO_LOG_ERROR)) {
    return;
  }
  kefo__log_cause(cause, sizeof(cause), info->code, info);
  KEFO_LOG(pc->log, info->retryable ? KEFO_LOG_WARN : KEFO_LOG_ERROR,
           info->retryable ? "put.retry" : "put.failed", NULL,
           "a PutRecords call of %zu entries failed: %s; %s", nentries, cause,
           info->retryable ? "its records are retried after a backoff"
                           : "not retried");
}

static void entry_done(kefo_producer_core *pc, const kefo_producer_batch *b,
                       pentry *e, const kefo_producer_entry_result *res,
                       int64_t now_ms) {
  kefo_error_info info;
  uint64_t sub = 0;
  prec *r, *next;
  size_t j;

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
    /* A record was last read when its call was built, a call of records
       ago: each misses the cache, so records some way ahead are fetched
       (from the batch's hints, which need no walk of the list) while this
       one is acknowledged, and the list is not unlinked record by record
       (which wrote to the next record at once). */
    r = e->recs.head;
    memset(&e->recs, 0, sizeof(e->recs));
    for (j = e->first; r != NULL; r = next, j++) {
      next = r->next;
      if (j + PREFETCH_AHEAD < b->nhints) {
        __builtin_prefetch(b->hints[j + PREFETCH_AHEAD]);
      } else if (next != NULL) {
        __builtin_prefetch(next);
      }
      kefo__producer_core_ack(pc, r, res->shard_id, res->sequence_number,
                              e->aggregated ? sub : 0, e->aggregated);
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
    ++pc->call_throttled;
    back_off(pc, e->shard, 1, now_ms);
  } else {
    back_off(pc, e->shard, 0, now_ms);
  }
  ++pc->call_failed;
  log_entry(pc, e, &info, now_ms);
  retry_or_fail(pc, &e->recs, &info, info.retryable, now_ms);
}

int kefo__producer_core_done(kefo_producer_core *pc, kefo_producer_batch *b,
                             const kefo_producer_entry_result *results,
                             size_t n, int call_error,
                             const kefo_error_info *info, int64_t now_ms) {
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
      entry_done(pc, b, e, &results[i], now_ms);
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
  if (call_error == 0) {
    log_call(pc, b->n);
  } else {
    log_call_error(pc, info, b->n);
  }
  kefo__producer_batch_free(pc, b);
  return rv;
}

void kefo__producer_core_set_log(kefo_producer_core *pc, const kefo_log *log) {
  pc->log = log;
}

void kefo__producer_batch_free(kefo_producer_core *pc, kefo_producer_batch *b) {
  kefo__mem_free(pc->mem, b->hints);
  kefo__mem_free(pc->mem, b);
}
