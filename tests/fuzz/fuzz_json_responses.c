/*
 * libFuzzer target for every parser of AWS service responses. The first
 * byte picks the parser (a letter, so that seed files read as what they
 * are; any other byte picks one by its value) and the rest is the
 * document:
 *   L  ListShards pages, then ChildShards, merged into one shard graph
 *   E  SubscribeToShardEvents, one after another on one subscription core
 *   G  GetShardIterator / GetRecords answers and errors on one polling core
 *   C  the IMDS / ECS credentials JSON document
 *   S  an STS AssumeRole response, read as a 200 and as error statuses
 *   A  an AWS JSON error body
 *   T  an ISO 8601 time as credentials carry it
 *   D  a record's base64 Data, decoded and de-aggregated
 *   P  a PutRecords answer, read without a tree as the producer reads it
 * E and G take the fields out of the JSON as efo/efo_reader.c and
 * polling/polling_reader.c do, since the helpers those use need a whole
 * consumer. (The DynamoDB lease item parser, lease/dynamodb_item.c,
 * reports into a store: tests/integration/dynamodb_test.sh covers it.)
 * Oracles: results are among the documented codes; a refused page or
 * ChildShards array leaves the graph as it was; the graph's counts match
 * its shards and READY means no blocking parent; skip counts lie in 0..n
 * and split the records at the last delivered one; an event or answer
 * seen again delivers nothing; positions committed are valid; parsed
 * credentials pass kefo__credentials_check and a failed parse keeps what
 * the copy held; error text is printable; times agree with timegm();
 * base64 round-trips; a PutRecords answer the tree-less reader accepts,
 * cJSON accepts too, with the same entries (it is the stricter of the
 * two, never the other way round).
 */
#define _GNU_SOURCE /* timegm */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "tests/fuzz/fuzz.h"
#include "aws/aws_client.h"
#include "base/base64.h"
#include "aws/credentials.h"
#include "aws/records_reader.h"
#include "efo/subscription.h"
#include "polling/poll_core.h"
#include "shard/kpl.h"
#include "shard/shard_graph.h"

#define SHARD "shardId-000000000001"
/* The GetRecords Limit assumed: small, so that answers filling it (the
   shard is behind, call again at once) are common. */
#define RECORDS_LIMIT 4

static volatile uint8_t sink;

static void touch(const void *p, size_t len) {
  const uint8_t *b = p;
  uint8_t x = 0;
  size_t i;

  for (i = 0; i < len; ++i) {
    x ^= b[i];
  }
  sink ^= x;
}

static void touch_str(const char *s) {
  if (s != NULL) {
    touch(s, strlen(s));
  }
}

/* Error text reaches logs: NUL-terminated inside its buffer, and printable
   ASCII only. */
static void check_text(const char *s, size_t cap) {
  size_t i;

  for (i = 0; i < cap && s[i] != '\0'; ++i) {
    if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f) {
      abort();
    }
  }
  if (i == cap) {
    abort();
  }
}

/* The readers cast MillisBehindLatest and ApproximateArrivalTimestamp
   straight to int64_t, which is undefined out of range; the copy here
   clamps, so that UBSan does not stop at it. */
static int64_t clamp_ms(double v) {
  if (v != v) {
    return 0;
  }
  if (v > 9e15) {
    return (int64_t)9e15;
  }
  if (v < -9e15) {
    return (int64_t)-9e15;
  }
  return (int64_t)v;
}

/* ---- Time and randomness for the cores ------------------------------ */

typedef struct fuzz_clock {
  kefo_clock clock;
  int64_t now;
  uint32_t rnd;
} fuzz_clock;

static int64_t clock_ms(void *ud) {
  return ((fuzz_clock *)ud)->now;
}

/* xorshift32 from a fixed seed: each input replays the same way. */
static uint32_t clock_random(void *ud) {
  fuzz_clock *fc = ud;

  fc->rnd ^= fc->rnd << 13;
  fc->rnd ^= fc->rnd >> 17;
  fc->rnd ^= fc->rnd << 5;
  return fc->rnd;
}

static void clock_init(fuzz_clock *fc) {
  fc->clock.wall_ms = clock_ms;
  fc->clock.mono_ms = clock_ms;
  fc->clock.random32 = clock_random;
  fc->clock.user_data = fc;
  fc->now = 1700000000000;
  fc->rnd = 2463534242u;
}

/* ---- Record data: base64, then KPL ---------------------------------- */

typedef struct kpl_run {
  const uint8_t *blob;
  size_t len;
  size_t calls;
} kpl_run;

static int inside(const void *p, size_t len, const void *base,
                  size_t base_len) {
  const uint8_t *q = p, *b = base;
  return len == 0 || (q != NULL && b != NULL && q >= b && len <= base_len &&
                      (size_t)(q - b) <= base_len - len);
}

static int on_user_record(const kefo_kpl_record *rec, void *ud) {
  kpl_run *run = ud;

  if (rec->sub_sequence_number != run->calls++ ||
      !inside(rec->data, rec->data_len, run->blob, run->len)) {
    abort();
  }
  touch(rec->data, rec->data_len);
  touch(rec->partition_key, rec->partition_key_len);
  touch(rec->explicit_hash_key, rec->explicit_hash_key_len);
  return 0;
}

/* De-aggregates |blob| as kefo__consumer_deliver does (no options). */
static void deaggregate(const uint8_t *blob, size_t len, const char *pk) {
  kefo_kpl_result res;
  kpl_run run;

  run.blob = blob;
  run.len = len;
  run.calls = 0;
  if (kefo__kpl_deaggregate(NULL, blob, len, pk, strlen(pk), NULL,
                            on_user_record, &run, &res) != 0 ||
      res.delivered != run.calls || res.nrecords != run.calls ||
      res.dropped != 0 || (!res.aggregated && run.calls != 1)) {
    abort();
  }
}

/*
 * Decodes the |n| characters of base64 at |text| into a new block in
 * |*out| (|*outlen| bytes; the caller frees it). Returns 0, or -1 when
 * the text is not base64 or memory ran out. The decoder is checked
 * against itself: in place, and after encoding its output again.
 */
static int decode_data(const uint8_t *text, size_t n, uint8_t **out,
                       size_t *outlen) {
  size_t cap = kefo__base64_decoded_max(n), len, len2, elen;
  /* Exact sizes, so that ASan sees any write past them. */
  uint8_t *buf = malloc(cap ? cap : 1), *copy = malloc(n ? n : 1);
  int rv, rv2;

  if (buf == NULL || copy == NULL) {
    goto fail;
  }
  rv = kefo__base64_decode(buf, cap, text, n, &len);
  if ((rv != 0 && rv != KEFO_ERR_BASE64) || (rv != 0 && len != 0) ||
      len > cap) {
    abort();
  }
  memcpy(copy, text, n);
  rv2 = kefo__base64_decode(copy, n, copy, n, &len2);
  if (rv2 != rv || (rv == 0 && (len2 != len || memcmp(copy, buf, len) != 0))) {
    abort();
  }
  if (rv != 0) {
    goto fail;
  }
  /* Padding only at the end and whole groups: the text had exactly the
     length the bytes encode to, and they encode and decode back. */
  if (kefo__base64_encoded_len(len) != n ||
      kefo__base64_encode(copy, n, buf, len, &elen) != 0 || elen != n ||
      kefo__base64_decode(copy, n, copy, n, &len2) != 0 || len2 != len ||
      memcmp(copy, buf, len) != 0) {
    abort();
  }
  free(copy);
  *out = buf;
  *outlen = len;
  return 0;

fail:
  free(copy);
  free(buf);
  return -1;
}

/*
 * Hands on the records after |skip| as kefo__consumer_deliver does: each
 * needs string Data, PartitionKey and SequenceNumber; Data is decoded and
 * de-aggregated. Returns 0, or -1 for a record the consumer refuses (the
 * readers then fetch the event again after a backoff).
 */
static int deliver(const cJSON *records, int skip) {
  const cJSON *rec;
  int i = 0;

  cJSON_ArrayForEach(rec, records) {
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(rec, "Data");
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(rec, "PartitionKey");
    const cJSON *seq = cJSON_GetObjectItemCaseSensitive(rec, "SequenceNumber");
    const cJSON *at =
        cJSON_GetObjectItemCaseSensitive(rec, "ApproximateArrivalTimestamp");
    uint8_t *blob;
    size_t len;
    int64_t arrival;

    if (i++ < skip) {
      continue;
    }
    if (!cJSON_IsString(data) || !cJSON_IsString(pk) || !cJSON_IsString(seq)) {
      return -1;
    }
    if (decode_data((const uint8_t *)data->valuestring,
                    strlen(data->valuestring), &blob, &len) != 0) {
      return -1;
    }
    arrival = cJSON_IsNumber(at) ? clamp_ms(at->valuedouble * 1000) : 0;
    touch(&arrival, sizeof(arrival));
    touch_str(seq->valuestring);
    deaggregate(blob, len, pk->valuestring);
    free(blob);
  }
  return 0;
}

/* The SequenceNumber of each record, "" where one is missing or not a
   string, as kefo__consumer_sequence_numbers gives them. Freed by the
   caller; NULL when out of memory. */
static const char **sequence_numbers(const cJSON *records, size_t *n) {
  const char **seqs;
  const cJSON *rec;
  size_t i = 0;

  *n = (size_t)cJSON_GetArraySize(records);
  seqs = malloc((*n ? *n : 1) * sizeof(*seqs));
  if (seqs == NULL) {
    return NULL;
  }
  cJSON_ArrayForEach(rec, records) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(rec, "SequenceNumber");
    seqs[i++] = cJSON_IsString(s) ? s->valuestring : "";
  }
  return seqs;
}

/* |skip| leading records were delivered before (at or below |before|, the
   last delivered one), the rest are new. */
static void check_skip(const char *const *seqs, size_t n, int skip,
                       const char *before) {
  size_t i;

  if (skip < 0 || (size_t)skip > n) {
    abort();
  }
  for (i = 0; i < n; ++i) {
    int old = before[0] != '\0' && kefo__seq_cmp(seqs[i], before) <= 0;
    if (old != (i < (size_t)skip)) {
      abort();
    }
  }
}

/* ---- The shard graph ------------------------------------------------ */

static void mix(uint64_t *h, uint64_t v) {
  *h = (*h ^ v) * 1099511628211ULL;
}

static void mix_str(uint64_t *h, const char *s) {
  for (; s != NULL && *s; ++s) {
    mix(h, (unsigned char)*s);
  }
  mix(h, 0x100);
}

static int digest_cb(const kefo_shard_info *info, void *ud) {
  uint64_t *h = ud;

  mix_str(h, info->shard_id);
  mix_str(h, info->parent_shard_id);
  mix_str(h, info->adjacent_parent_shard_id);
  mix(h, (uint64_t)info->state);
  mix(h, (uint64_t)info->start);
  mix(h, (uint64_t)info->closed);
  mix(h, (uint64_t)info->has_hash_range);
  mix(h, info->hash_start.hi);
  mix(h, info->hash_start.lo);
  mix(h, info->hash_end.hi);
  mix(h, info->hash_end.lo);
  return 0;
}

/* Everything the graph tells of its shards, in one number. */
static uint64_t digest(const kefo_shard_graph *g) {
  kefo_shard_graph_counts counts;
  uint64_t h = 14695981039346656037ULL;
  size_t i;

  if (kefo__shard_graph_each(g, digest_cb, &h) != 0) {
    abort();
  }
  kefo__shard_graph_counts_get(g, &counts);
  mix(&h, counts.known);
  mix(&h, counts.open);
  for (i = 0; i < KEFO_SHARD_STATE_COUNT; ++i) {
    mix(&h, counts.by_state[i]);
  }
  return h;
}

typedef struct graph_check {
  const kefo_shard_graph *g;
  size_t total;
  size_t open;
  size_t by_state[KEFO_SHARD_STATE_COUNT];
} graph_check;

static int blocking(kefo_shard_state st) {
  return st != KEFO_SHARD_FINISHED && st != KEFO_SHARD_GONE;
}

static int check_cb(const kefo_shard_info *info, void *ud) {
  graph_check *gc = ud;
  const char *parents[2];
  kefo_shard_info p;
  size_t len, i;
  int blocked = 0;

  len = info->shard_id ? strlen(info->shard_id) : 0;
  if ((unsigned)info->state >= KEFO_SHARD_STATE_COUNT || len == 0 ||
      len > KEFO_SHARD_ID_MAX) {
    abort();
  }
  ++gc->total;
  ++gc->by_state[info->state];
  if (!info->closed && info->state != KEFO_SHARD_UNKNOWN &&
      blocking(info->state)) {
    ++gc->open;
  }
  parents[0] = info->parent_shard_id;
  parents[1] = info->adjacent_parent_shard_id;
  if (parents[0] != NULL && parents[1] != NULL &&
      strcmp(parents[0], parents[1]) == 0) {
    abort();
  }
  for (i = 0; i < 2; ++i) {
    if (parents[i] == NULL) {
      continue;
    }
    /* A parent is never the shard itself, and is always in the graph
       (as a placeholder if nothing else). */
    if (strcmp(parents[i], info->shard_id) == 0 ||
        kefo__shard_graph_get(gc->g, parents[i], &p) != 0) {
      abort();
    }
    blocked |= blocking(p.state);
  }
  if ((info->state == KEFO_SHARD_READY && blocked) ||
      (info->state == KEFO_SHARD_WAITING && !blocked)) {
    abort();
  }
  if (info->has_hash_range &&
      kefo__hash_key_cmp(&info->hash_start, &info->hash_end) > 0) {
    abort();
  }
  return 0;
}

/* The counts kept as the graph changes agree with its shards. */
static void check_graph(const kefo_shard_graph *g) {
  kefo_shard_graph_counts counts;
  graph_check gc;

  memset(&gc, 0, sizeof(gc));
  gc.g = g;
  if (kefo__shard_graph_each(g, check_cb, &gc) != 0) {
    abort();
  }
  kefo__shard_graph_counts_get(g, &counts);
  if (memcmp(counts.by_state, gc.by_state, sizeof(gc.by_state)) != 0 ||
      counts.known != gc.total - gc.by_state[KEFO_SHARD_UNKNOWN] ||
      counts.open != gc.open) {
    abort();
  }
}

/* Each shard of the JSON array |list| with a string ShardId is known. */
static void check_listed(const kefo_shard_graph *g, const cJSON *list) {
  const cJSON *s;
  kefo_shard_info info;

  cJSON_ArrayForEach(s, list) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(s, "ShardId");
    if (!cJSON_IsString(id) ||
        kefo__shard_graph_get(g, id->valuestring, &info) != 0 ||
        info.state == KEFO_SHARD_UNKNOWN) {
      abort();
    }
  }
}

static int new_cb(const kefo_shard_info *info, void *ud) {
  (void)ud;
  if (info->state == KEFO_SHARD_UNKNOWN || info->state == KEFO_SHARD_GONE) {
    abort();
  }
  touch_str(info->shard_id);
  return 0;
}

/* A reader takes every ready shard. */
static int start_cb(const kefo_shard_info *info, void *ud) {
  kefo_shard_graph *g = ud;
  kefo_shard_info now;

  if (info->state != KEFO_SHARD_READY ||
      kefo__shard_graph_shard_started(g, info->shard_id) != 0 ||
      kefo__shard_graph_get(g, info->shard_id, &now) != 0 ||
      now.state != KEFO_SHARD_READING) {
    abort();
  }
  return 0;
}

static void start_ready(kefo_shard_graph *g) {
  if (kefo__shard_graph_ready_each(g, start_cb, g) != 0 ||
      kefo__shard_graph_new_each(g, new_cb, NULL) != 0) {
    abort();
  }
  check_graph(g);
}

/* Merges one ListShards page. A refused page changes nothing. */
static void discover_page(kefo_shard_graph *g, const cJSON *shards) {
  uint64_t before = digest(g);
  int rv = kefo__shard_graph_discover_page(g, shards);

  /* Only a page without Shards is an invalid argument. */
  if ((shards == NULL) != (rv == KEFO_ERR_INVALID_ARGUMENT) ||
      (rv != 0 && rv != KEFO_ERR_INVALID_ARGUMENT &&
       rv != KEFO_ERR_BAD_RESPONSE && rv != KEFO_ERR_NOMEM)) {
    abort();
  }
  if (rv == 0) {
    check_listed(g, shards);
  } else if (rv != KEFO_ERR_NOMEM && digest(g) != before) {
    abort();
  }
  check_graph(g);
}

/* |shard| was read to its end with |children|, as kefo_reader_finished
   tells the graph (|*g| is made on first use). A refused ChildShards
   array or shard id changes nothing. */
static void finish_shard(kefo_shard_graph **g, const char *shard,
                         const cJSON *children) {
  kefo_shard_info info;
  uint64_t before;
  int rv;

  if (*g == NULL && kefo__shard_graph_new(g, NULL) != 0) {
    return;
  }
  before = digest(*g);
  rv = kefo__shard_graph_shard_finished(*g, shard, children);
  if (rv == 0) {
    if (kefo__shard_graph_get(*g, shard, &info) != 0 ||
        info.state != KEFO_SHARD_FINISHED || !info.closed) {
      abort();
    }
    check_listed(*g, children);
  } else if (rv == KEFO_ERR_BAD_RESPONSE || rv == KEFO_ERR_INVALID_ARGUMENT) {
    if (digest(*g) != before) {
      abort();
    }
  } else if (rv != KEFO_ERR_NOMEM) {
    abort();
  }
  check_graph(*g);
}

/* A ChildShards element ends the shards its first child names as parents
   (both, at a merge), or a made-up one when it names none. */
static void finish_parents(kefo_shard_graph **g, const cJSON *el) {
  const cJSON *children = cJSON_GetObjectItemCaseSensitive(el, "ChildShards");
  const cJSON *parents = cJSON_GetObjectItemCaseSensitive(
      cJSON_IsArray(children) ? children->child : NULL, "ParentShards");
  const cJSON *p;
  int n = 0;

  cJSON_ArrayForEach(p, parents) {
    if (n == 2) {
      break;
    }
    if (cJSON_IsString(p)) {
      finish_shard(g, p->valuestring, children);
      ++n;
    }
  }
  if (n == 0) {
    finish_shard(g, "shardId-000000000000", children);
  }
}

/*
 * L: the document is a ListShards answer, or an array of them (the pages
 * of one listing); elements with ChildShards are the last events of
 * shards read to their end. One discovery of every page, readers start
 * what is ready, the ChildShards arrive, and a later discovery lists the
 * first page only.
 */
static void run_graph(const cJSON *doc) {
  int is_array = cJSON_IsArray(doc);
  const cJSON *el, *first = NULL;
  kefo_shard_graph *g = NULL;
  uint64_t before;
  int rv;

  if (kefo__shard_graph_new(&g, NULL) != 0) {
    return;
  }
  if (kefo__shard_graph_discover_begin(g) != 0) {
    abort();
  }
  for (el = is_array ? doc->child : doc; el; el = is_array ? el->next : NULL) {
    const cJSON *shards;
    if (cJSON_GetObjectItemCaseSensitive(el, "ChildShards") != NULL) {
      continue;
    }
    shards = cJSON_GetObjectItemCaseSensitive(el, "Shards");
    if (first == NULL) {
      first = shards;
    }
    discover_page(g, shards);
  }
  if (kefo__shard_graph_discover_end(g) != 0 ||
      kefo__shard_graph_discover_end(g) != KEFO_ERR_INVALID_STATE) {
    abort();
  }
  check_graph(g);
  start_ready(g);
  for (el = is_array ? doc->child : doc; el; el = is_array ? el->next : NULL) {
    if (cJSON_GetObjectItemCaseSensitive(el, "ChildShards") != NULL) {
      finish_parents(&g, el);
      start_ready(g);
    }
  }
  if (first != NULL) {
    before = digest(g);
    rv = kefo__shard_graph_discover(g, first);
    if (rv == KEFO_ERR_BAD_RESPONSE && digest(g) != before) {
      abort();
    }
    check_graph(g);
    start_ready(g);
  }
  kefo__shard_graph_del(g);
}

/* ---- SubscribeToShard ----------------------------------------------- */

/* Subscribes as soon as the core allows, never twice within a second. */
static void subscribe(kefo_subscription_core *core, fuzz_clock *fc) {
  int64_t wait;

  if (!kefo__subcore_should_subscribe(core, fc->now, &wait)) {
    if (wait < 0) {
      abort();
    }
    fc->now += wait;
    if (!kefo__subcore_should_subscribe(core, fc->now, &wait)) {
      abort();
    }
  }
  if (core->subscriptions > 0 &&
      fc->now - core->last_subscribe_ms < KEFO_SUB_MIN_INTERVAL_MS) {
    abort();
  }
  kefo__subcore_on_subscribe(core, fc->now);
}

/* After an event was handled: its continuation is where the next
   subscription starts, or the shard is finished. */
static void check_committed(const kefo_subscription_core *core,
                            const char *cont, const char *last_new) {
  if (cont == NULL) {
    if (core->state != KEFO_SUB_FINISHED) {
      abort();
    }
  } else if (strcmp(core->position_type, "AFTER_SEQUENCE_NUMBER") != 0 ||
             strcmp(core->position_value, cont) != 0 ||
             !kefo__position_valid(core->position_type, core->position_value)) {
    abort();
  }
  if (last_new != NULL && strcmp(core->last_delivered, last_new) != 0) {
    abort();
  }
}

/* One SubscribeToShardEvent, handled as efo_reader.c's on_event does. */
static void sub_event(kefo_subscription_core *core, fuzz_clock *fc,
                      const cJSON *ev, kefo_shard_graph **g) {
  const cJSON *records = cJSON_GetObjectItemCaseSensitive(ev, "Records");
  const cJSON *cont =
      cJSON_GetObjectItemCaseSensitive(ev, "ContinuationSequenceNumber");
  const cJSON *behind =
      cJSON_GetObjectItemCaseSensitive(ev, "MillisBehindLatest");
  const char *cs = cJSON_IsString(cont) ? cont->valuestring : NULL;
  const char **seqs, *last_new;
  char before[KEFO_SEQ_MAX];
  int64_t behind_ms;
  size_t n;
  int skip;

  behind_ms = cJSON_IsNumber(behind) ? clamp_ms(behind->valuedouble) : 0;
  touch(&behind_ms, sizeof(behind_ms));
  seqs = sequence_numbers(records, &n);
  if (seqs == NULL) {
    return;
  }
  memcpy(before, core->last_delivered, sizeof(before));
  skip = kefo__subcore_on_event(core, fc->now, seqs, n, cs);
  if (skip < 0) {
    if (skip != KEFO_ERR_INVALID_ARGUMENT) {
      abort();
    }
    kefo__subcore_on_end(core, fc->now, KEFO_ERR_BAD_RESPONSE, 1, &fc->clock);
    goto done;
  }
  check_skip(seqs, n, skip, before);
  if (core->state != KEFO_SUB_STREAMING) {
    abort();
  }
  if (deliver(records, skip) != 0) {
    kefo__subcore_on_end(core, fc->now, KEFO_ERR_BAD_RESPONSE, 1, &fc->clock);
    goto done;
  }
  last_new = (size_t)skip < n ? seqs[n - 1] : NULL;
  kefo__subcore_on_delivered(core, last_new);
  check_committed(core, cs, last_new);
  /* The server sends the same event again: nothing is new. */
  if (kefo__subcore_on_event(core, fc->now, seqs, n, cs) != (int)n) {
    abort();
  }
  kefo__subcore_on_delivered(core, NULL);
  check_committed(core, cs, last_new);
  if (core->state == KEFO_SUB_FINISHED) {
    const cJSON *children = cJSON_GetObjectItemCaseSensitive(ev, "ChildShards");
    finish_shard(g, core->shard_id, cJSON_IsArray(children) ? children : NULL);
  }

done:
  free(seqs);
}

/*
 * E: the document is a SubscribeToShardEvent, or an array of them
 * arriving in turn on one shard's subscription; every third one is
 * followed by the server's normal end of the subscription.
 */
static void run_subscription(const cJSON *doc) {
  static const kefo_retry_strategy retry = {100, 1000, 4};
  int is_array = cJSON_IsArray(doc);
  kefo_subscription_core core;
  kefo_shard_graph *g = NULL;
  const cJSON *ev;
  fuzz_clock fc;
  unsigned i = 0;

  clock_init(&fc);
  if (kefo__subcore_init(&core, SHARD, "TRIM_HORIZON", NULL, &retry, 10000) !=
      0) {
    abort();
  }
  for (ev = is_array ? doc->child : doc; ev; ev = is_array ? ev->next : NULL) {
    /* Only JSON objects reach the reader (aws/kinesis.c). */
    if (!cJSON_IsObject(ev)) {
      continue;
    }
    if (core.state == KEFO_SUB_FINISHED || core.state == KEFO_SUB_FAILED) {
      break;
    }
    if (core.state == KEFO_SUB_IDLE) {
      subscribe(&core, &fc);
    }
    sub_event(&core, &fc, ev, &g);
    fc.now += 250;
    if (++i % 3 == 0 && core.state == KEFO_SUB_STREAMING) {
      kefo__subcore_on_end(&core, fc.now, 0, 0, &fc.clock);
      if (core.state != KEFO_SUB_IDLE) {
        abort();
      }
    }
  }
  kefo__shard_graph_del(g);
}

/* ---- GetRecords ----------------------------------------------------- */

/* The polling reader's tree-less reader of GetRecords answers. */
static kefo_records_parser sts;
static int sts_ready;

/* A malformed answer: retried after a backoff (bad_answer). */
static void poll_bad(kefo_poll_core *core, fuzz_clock *fc) {
  kefo__pollcore_on_error(core, fc->now, KEFO_ERR_BAD_RESPONSE, NULL, 1,
                          &fc->clock);
}

/* An AWS error body answered the call (failed_call). */
static void poll_error(kefo_poll_core *core, fuzz_clock *fc, const cJSON *el) {
  const char *type = kefo__aws_json_error_type(el);
  int retryable = kefo__aws_error_retryable(type, 400);

  kefo__pollcore_on_error(core, fc->now, KEFO_ERR_AWS, type, retryable,
                          &fc->clock);
  if (type != NULL && strcmp(type, "ExpiredIteratorException") == 0) {
    /* A new iterator at once, after the last delivered record. */
    if (core->state != KEFO_POLL_NEED_ITERATOR || core->iterator[0] ||
        (core->last_delivered[0] &&
         (strcmp(core->position_type, "AFTER_SEQUENCE_NUMBER") != 0 ||
          strcmp(core->position_value, core->last_delivered) != 0))) {
      abort();
    }
  } else if (!retryable && core->state != KEFO_POLL_FAILED) {
    abort();
  }
}

/* A GetShardIterator answer, as on_iterator (the core checks the
   string itself too). */
static void poll_iterator(kefo_poll_core *core, fuzz_clock *fc,
                          const char *it) {
  size_t len;
  int rv;

  if (it == NULL) {
    poll_bad(core, fc);
    return;
  }
  len = strlen(it);
  rv = kefo__pollcore_on_iterator(core, fc->now, it, &fc->clock);
  if (len > 0 && len < KEFO_ITERATOR_MAX) {
    if (rv != 0 || core->state != KEFO_POLL_READY ||
        strcmp(core->iterator, it) != 0) {
      abort();
    }
  } else if (rv != KEFO_ERR_BAD_RESPONSE ||
             (core->state != KEFO_POLL_NEED_ITERATOR &&
              core->state != KEFO_POLL_FAILED)) {
    abort();
  }
}

/*
 * A GetRecords answer, handled as polling_reader.c's on_records does: its
 * text (the tree printed back) read by the tree-less reader, whose view
 * must agree with the tree's, then the checks and the polling core.
 */
static void poll_records(kefo_poll_core *core, fuzz_clock *fc,
                         const cJSON *answer, kefo_shard_graph **g) {
  /* The tree compared is the printed text's, read back: printing can
     change a value (cJSON prints an infinite number as null). */
  char *text = cJSON_PrintUnformatted(answer);
  cJSON *resp = text ? cJSON_Parse(text) : NULL;
  const cJSON *records = cJSON_GetObjectItemCaseSensitive(resp, "Records");
  const cJSON *next =
      cJSON_GetObjectItemCaseSensitive(resp, "NextShardIterator");
  const cJSON *behind =
      cJSON_GetObjectItemCaseSensitive(resp, "MillisBehindLatest");
  const char **seqs = NULL, *ns, *last_new;
  char before[KEFO_SEQ_MAX];
  kefo_records_event ev;
  int64_t behind_ms;
  size_t n;
  int skip;

  if (!sts_ready) {
    kefo__records_parser_init(&sts, NULL);
    sts_ready = 1;
  }
  if (resp == NULL || kefo__records_parse(&sts, (const uint8_t *)text,
                                          strlen(text), &ev) != 0) {
    /* An object cJSON reads back from what it printed, the reader must
       read too (only no memory may refuse it); any other value it
       refuses, and so does the polling reader. */
    if (cJSON_IsObject(resp) && sts.error != NULL) {
      abort();
    }
    poll_bad(core, fc);
    goto done;
  }
  if (ev.has_records != cJSON_IsArray(records) ||
      ev.next_iterator_bad !=
          (next && !cJSON_IsString(next) && !cJSON_IsNull(next))) {
    abort();
  }
  if (!ev.has_records || ev.next_iterator_bad) {
    poll_bad(core, fc);
    goto done;
  }
  /* The reader's rule: whole ms held to 0..2^53, 0 when not a number. */
  behind_ms =
      cJSON_IsNumber(behind) ? kefo__records_ms(behind->valuedouble, 1) : 0;
  if (ev.behind_ms != behind_ms) {
    abort();
  }
  seqs = sequence_numbers(records, &n);
  if (seqs == NULL) {
    poll_bad(core, fc);
    goto done;
  }
  if (ev.nrecords != n) {
    abort();
  }
  ns = ev.next_iterator;
  if ((ns == NULL) != !cJSON_IsString(next) ||
      (ns != NULL && strcmp(ns, next->valuestring) != 0)) {
    abort();
  }
  memcpy(before, core->last_delivered, sizeof(before));
  skip = kefo__pollcore_on_records(core, fc->now, seqs, n, ns, behind_ms,
                                   n >= RECORDS_LIMIT);
  if (skip < 0) {
    if (skip != KEFO_ERR_INVALID_ARGUMENT) {
      abort();
    }
    poll_bad(core, fc);
    goto done;
  }
  check_skip(seqs, n, skip, before);
  if (deliver(records, skip) != 0) {
    poll_bad(core, fc);
    goto done;
  }
  last_new = (size_t)skip < n ? seqs[n - 1] : NULL;
  kefo__pollcore_on_delivered(core, last_new);
  if (last_new != NULL && strcmp(core->last_delivered, last_new) != 0) {
    abort();
  }
  if (ns == NULL) {
    if (core->state != KEFO_POLL_FINISHED) {
      abort();
    }
    {
      const cJSON *children =
          cJSON_GetObjectItemCaseSensitive(resp, "ChildShards");
      finish_shard(g, core->shard_id,
                   cJSON_IsArray(children) ? children : NULL);
    }
  } else {
    /* On to |ns|, and not sooner than five calls a second allow. */
    int64_t soon = core->last_get_ms + KEFO_POLL_MIN_INTERVAL_MS - 1;
    if (core->state != KEFO_POLL_READY || strcmp(core->iterator, ns) != 0 ||
        kefo__pollcore_next(core, soon, NULL) != KEFO_POLL_DO_WAIT) {
      abort();
    }
  }

done:
  free(seqs);
  cJSON_Delete(resp);
  cJSON_free(text);
  kefo__records_parser_trim(&sts, 64 * 1024);
}

/*
 * G: the document is an answer, or an array of answers given in turn to
 * one shard's polling core: GetRecords answers ({"Records": ...}),
 * GetShardIterator answers ({"ShardIterator": ...}) and AWS error bodies
 * ({"__type": ...}). When the core wants an iterator and the next answer
 * is not one, a made-up iterator answers.
 */
static void run_polling(const cJSON *doc) {
  static const kefo_retry_strategy retry = {100, 1000, 4};
  int is_array = cJSON_IsArray(doc);
  kefo_shard_graph *g = NULL;
  kefo_poll_core core;
  const cJSON *el;
  fuzz_clock fc;
  int steps;

  clock_init(&fc);
  if (kefo__pollcore_init(&core, SHARD, "TRIM_HORIZON", NULL, &retry, 200,
                          2000) != 0) {
    abort();
  }
  el = is_array ? doc->child : doc;
  for (steps = 0; el != NULL && steps < 1000; ++steps) {
    int64_t wait;
    kefo_poll_action act = kefo__pollcore_next(&core, fc.now, &wait);

    if (act == KEFO_POLL_DO_WAIT) {
      if (wait == 0) {
        abort();
      }
      if (wait < 0) {
        break;
      }
      fc.now += wait;
      continue;
    }
    kefo__pollcore_on_call(&core, fc.now);
    if (core.state != KEFO_POLL_IN_FLIGHT) {
      abort();
    }
    if (act == KEFO_POLL_DO_GET_ITERATOR) {
      const cJSON *it = cJSON_GetObjectItemCaseSensitive(el, "ShardIterator");
      if (cJSON_GetObjectItemCaseSensitive(el, "__type") != NULL) {
        poll_error(&core, &fc, el);
      } else if (it != NULL) {
        poll_iterator(&core, &fc, cJSON_IsString(it) ? it->valuestring : NULL);
      } else {
        poll_iterator(&core, &fc, "AAAAAAAAAAEfuzz");
        continue; /* |el| still waits for a GetRecords call */
      }
    } else if (cJSON_GetObjectItemCaseSensitive(el, "__type") != NULL) {
      poll_error(&core, &fc, el);
    } else {
      poll_records(&core, &fc, el, &g);
    }
    el = is_array ? el->next : NULL;
    fc.now += 50;
  }
  kefo__shard_graph_del(g);
}

/* ---- Credentials ---------------------------------------------------- */

/* Parsed credentials can sign; a failure filled |err| only. */
static void check_creds(const kefo_credentials_copy *c, int rv, const char *err,
                        size_t errlen) {
  check_text(err, errlen);
  if (rv == 0) {
    if (c->creds.access_key_id == NULL ||
        kefo__credentials_check(&c->creds, NULL, 0) != 0) {
      abort();
    }
    return;
  }
  if (rv != KEFO_ERR_BAD_RESPONSE && rv != KEFO_ERR_CREDENTIALS &&
      rv != KEFO_ERR_NOMEM) {
    abort();
  }
}

/* C: the IMDS / container document, parsed into an empty copy, then
   again into the filled one with a tiny error buffer. */
static void run_credentials_json(const uint8_t *doc, size_t len) {
  kefo_credentials_copy c;
  kefo_credentials held;
  char err[256], small[8];
  char *storage;
  int rv, rv2;

  kefo__credentials_copy_init(&c, NULL);
  err[0] = '\0';
  rv = kefo__credentials_parse_json(&c, doc, len, err, sizeof(err));
  check_creds(&c, rv, err, sizeof(err));
  if (rv != 0 && (c.creds.access_key_id != NULL || c.storage != NULL)) {
    abort();
  }
  held = c.creds;
  storage = c.storage;
  small[0] = '\0';
  rv2 = kefo__credentials_parse_json(&c, doc, len, small, sizeof(small));
  check_creds(&c, rv2, small, sizeof(small));
  if (rv2 != rv && rv2 != KEFO_ERR_NOMEM && rv != KEFO_ERR_NOMEM) {
    abort();
  }
  if (rv2 != 0 &&
      (c.storage != storage || memcmp(&c.creds, &held, sizeof(held)) != 0)) {
    abort();
  }
  touch_str(c.creds.session_token);
  kefo__credentials_copy_free(&c);
}

/* S: an STS response, as a 200 and as three error statuses. */
static void run_sts(const uint8_t *doc, size_t len) {
  static const int statuses[] = {200, 400, 403, 503};
  kefo_credentials_copy c;
  char type[64], err[256];
  size_t i;
  int rv;

  for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); ++i) {
    kefo__credentials_copy_init(&c, NULL);
    memset(type, 'x', sizeof(type));
    err[0] = '\0';
    rv = kefo__sts_parse_response(&c, statuses[i], doc, len, type, sizeof(type),
                                  err, sizeof(err));
    check_text(type, sizeof(type));
    if (statuses[i] != 200) {
      check_text(err, sizeof(err));
      if (rv != KEFO_ERR_AWS || c.creds.access_key_id != NULL) {
        abort();
      }
    } else {
      check_creds(&c, rv, err, sizeof(err));
      if (type[0] != '\0' || (rv == 0 && c.creds.session_token == NULL) ||
          (rv != 0 && c.creds.access_key_id != NULL)) {
        abort();
      }
    }
    kefo__credentials_copy_free(&c);
  }
  /* Buffers of one byte hold just the NUL. */
  kefo__credentials_copy_init(&c, NULL);
  memset(type, 'x', sizeof(type));
  memset(err, 'x', sizeof(err));
  if (kefo__sts_parse_response(&c, 403, doc, len, type, 1, err, 1) !=
          KEFO_ERR_AWS ||
      type[0] != '\0' || err[0] != '\0') {
    abort();
  }
  kefo__credentials_copy_free(&c);
}

static int num(const char *s, size_t n) {
  int v = 0;

  while (n--) {
    v = v * 10 + (*s++ - '0');
  }
  return v;
}

/* T: a time. What is accepted agrees with the C library's timegm(). */
static void run_time(const uint8_t *doc, size_t len) {
  const char *s = (const char *)doc;
  int64_t ms = 0, want;
  int frac = 0, k = 0, off = 0;
  size_t i = 19;
  struct tm tm;

  if (kefo__credentials_parse_time(s, len, &ms) != 0) {
    return;
  }
  memset(&tm, 0, sizeof(tm));
  tm.tm_year = num(s, 4) - 1900;
  tm.tm_mon = num(s + 5, 2) - 1;
  tm.tm_mday = num(s + 8, 2);
  tm.tm_hour = num(s + 11, 2);
  tm.tm_min = num(s + 14, 2);
  /* A leap second counts as the second before it. */
  tm.tm_sec = num(s + 17, 2) == 60 ? 59 : num(s + 17, 2);
  if (s[i] == '.') {
    for (++i; i < len && s[i] >= '0' && s[i] <= '9'; ++i, ++k) {
      if (k < 3) {
        frac = frac * 10 + (s[i] - '0');
      }
    }
    for (; k < 3; ++k) {
      frac *= 10;
    }
  }
  if (s[i] == '+' || s[i] == '-') {
    off = (num(s + i + 1, 2) * 60 + num(s + len - 2, 2)) * 60;
    off = s[i] == '-' ? -off : off;
  }
  want = ((int64_t)timegm(&tm) - off) * 1000 + frac;
  if (ms != want) {
    abort();
  }
}

/* ---- AWS errors ----------------------------------------------------- */

/* A: an AWS JSON error body (NULL when not JSON), at statuses the
   services use. */
static void run_aws_error(const cJSON *j) {
  static const int statuses[] = {400, 429, 500, 503};
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "__type");
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
  const char *type = kefo__aws_json_error_type(j);
  const char *msg = kefo__aws_json_error_message(j);
  kefo_error_info info;
  char buf[512], tiny[16];
  size_t i;

  if (!cJSON_IsString(m)) {
    m = cJSON_GetObjectItemCaseSensitive(j, "Message");
  }
  /* The type is the tail of __type after its last '#'; both point into
     the document. */
  if (cJSON_IsString(t)) {
    const char *hash = strrchr(t->valuestring, '#');
    if (type != (hash ? hash + 1 : t->valuestring)) {
      abort();
    }
  } else if (type != NULL) {
    abort();
  }
  if (msg != (cJSON_IsString(m) ? m->valuestring : NULL)) {
    abort();
  }
  for (i = 0; i < sizeof(statuses) / sizeof(statuses[0]); ++i) {
    memset(&info, 0, sizeof(info));
    kefo__aws_error_from_json(&info, i % 2 ? tiny : buf,
                              i % 2 ? sizeof(tiny) : sizeof(buf), "GetRecords",
                              statuses[i], j);
    if (info.code != KEFO_ERR_AWS || info.http_status != statuses[i] ||
        info.aws_type != type || info.message != (i % 2 ? tiny : buf) ||
        info.retryable != kefo__aws_error_retryable(type, statuses[i]) ||
        ((statuses[i] >= 500 || statuses[i] == 429) && !info.retryable) ||
        strlen(info.message) >= (i % 2 ? sizeof(tiny) : sizeof(buf))) {
      abort();
    }
  }
}

/* D: a record's Data, as text. */
static void run_data(const uint8_t *doc, size_t len) {
  uint8_t *blob;
  size_t n;

  if (decode_data(doc, len, &blob, &n) == 0) {
    deaggregate(blob, n, "fuzz-pk");
    free(blob);
  }
}

/* ---- PutRecords answers ----------------------------------------------- */

/* cJSON's string of |name| in |e| as the tree-less reader gives it: NULL
   unless a string. Compared as C strings, as cJSON holds them. */
static void same_member(const cJSON *e, const char *name, const char *got) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(e, name);
  const char *want = cJSON_IsString(m) ? m->valuestring : NULL;

  if ((want == NULL) != (got == NULL) ||
      (want != NULL && strcmp(want, got) != 0)) {
    abort();
  }
}

static void run_put_answer(const uint8_t *doc, size_t len) {
  kefo_records_parser p;
  const kefo_put_answer_entry *e;
  size_t n, i = 0;
  int rv;

  kefo__records_parser_init(&p, NULL);
  rv = kefo__records_put_answer_parse(&p, doc, len, 500, &e, &n);
  if (rv != 0 && rv != KEFO_ERR_BAD_RESPONSE && rv != KEFO_ERR_NOMEM) {
    abort();
  }
  if (rv == KEFO_ERR_BAD_RESPONSE && p.error == NULL) {
    abort();
  }
  if (rv == 0) {
    cJSON *j = cJSON_ParseWithLength((const char *)doc, len);
    const cJSON *recs = cJSON_GetObjectItemCaseSensitive(j, "Records"), *r;

    if (!cJSON_IsArray(recs) || (size_t)cJSON_GetArraySize(recs) != n) {
      abort();
    }
    cJSON_ArrayForEach(r, recs) {
      if (!cJSON_IsObject(r)) {
        abort();
      }
      same_member(r, "SequenceNumber", e[i].sequence_number);
      same_member(r, "ShardId", e[i].shard_id);
      same_member(r, "ErrorCode", e[i].error_code);
      same_member(r, "ErrorMessage", e[i].error_message);
      ++i;
    }
    cJSON_Delete(j);
  }
  kefo__records_parser_free(&p);
}

/* ---- Dispatch ------------------------------------------------------- */

typedef struct parser {
  char tag;
  /* One of the two is set: the raw bytes, or the parsed JSON (NULL when
     the bytes are not JSON). */
  void (*raw)(const uint8_t *doc, size_t len);
  void (*json)(const cJSON *doc);
} parser;

static const parser parsers[] = {
    {'L', NULL, run_graph},      {'E', NULL, run_subscription},
    {'G', NULL, run_polling},    {'C', run_credentials_json, NULL},
    {'S', run_sts, NULL},        {'A', NULL, run_aws_error},
    {'T', run_time, NULL},       {'D', run_data, NULL},
    {'P', run_put_answer, NULL},
};

#define NPARSERS (sizeof(parsers) / sizeof(parsers[0]))

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const parser *p = NULL;
  size_t i;

  if (size < 1) {
    return 0;
  }
  for (i = 0; i < NPARSERS; ++i) {
    if (parsers[i].tag == (char)data[0]) {
      p = &parsers[i];
    }
  }
  if (p == NULL) {
    p = &parsers[data[0] % NPARSERS];
  }
  ++data;
  --size;
  if (p->raw != NULL) {
    /* Passed as is: the parsers take a length, and ASan sees any read
       past the end of libFuzzer's copy. */
    p->raw(data, size);
  } else {
    cJSON *j = cJSON_ParseWithLength((const char *)data, size);
    p->json(j);
    cJSON_Delete(j);
  }
  return 0;
}
