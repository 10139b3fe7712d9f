/*
 * The producer's core with time as plain numbers: the linger time, full
 * calls, KPL aggregation read back by the de-aggregator, partial failures
 * retried alone with the shard backed off, TTL, whole-call failures, the
 * ordering mode, backpressure and room again, flushes, the shard map
 * (records before it, a stale one, a reshard), the rate limits, bad
 * arguments, and every allocation failing in turn.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>

#include "base/base64.h"
#include "base/cbor.h"
#include "runtime/producer_core.h"
#include "runtime/producer_internal.h"
#include "shard/hash_key.h"
#include "shard/kpl.h"
#include "tests/support/failmalloc.h"
#include "tests/support/fake_clock.h"
#include "tests/support/log_capture.h"
#include "tests/unit/suites.h"

#define MAXREC 4096

/* What the callbacks saw, per record context (an index). */
typedef struct seen {
  int acks[MAXREC];
  int fails[MAXREC];
  int fail_code[MAXREC];
  /* The AWS type of the last failure, "" when none. */
  char fail_type[64];
  uint64_t sub[MAXREC];
  char seq[MAXREC][16];
  /* Record indexes in acknowledgement order. */
  int order[MAXREC];
  size_t norder;
} seen;

static seen S;
static int idx[MAXREC];

static void on_ack(void *ctx, const kefo_put_result *res, void *ud) {
  int i = *(int *)ctx;
  (void)ud;
  ++S.acks[i];
  S.sub[i] = res->sub_sequence_number;
  snprintf(S.seq[i], sizeof(S.seq[i]), "%s", res->sequence_number);
  S.order[S.norder++] = i;
}

static void on_fail(void *ctx, const kefo_error_info *err, void *ud) {
  int i = *(int *)ctx;
  (void)ud;
  ++S.fails[i];
  S.fail_code[i] = err->code;
  snprintf(S.fail_type, sizeof(S.fail_type), "%s",
           err->aws_type ? err->aws_type : "");
}

static const kefo_producer_core_callbacks cbs = {on_ack, on_fail};

static void reset_seen(void) {
  int i;
  memset(&S, 0, sizeof(S));
  for (i = 0; i < MAXREC; ++i) {
    idx[i] = i;
  }
}

static kefo_producer_settings plain(void) {
  kefo_producer_settings s;
  kefo__producer_settings_default(&s);
  s.aggregate = 0;
  s.linger_ms = 100;
  s.retry_min_ms = 100;
  s.retry_max_ms = 100;
  return s;
}

/* "0" .. "2^128-1" split in |n| equal shards named shard-0, shard-1... */
static void set_map(kefo_producer_core *pc, int n, int64_t now) {
  kefo_producer_shard_info info[4];
  char names[4][16];
  int i;

  for (i = 0; i < n; ++i) {
    snprintf(names[i], sizeof(names[i]), "shard-%d", i);
    info[i].shard_id = names[i];
    info[i].range.start.hi = (uint64_t)i * (UINT64_MAX / (uint64_t)n + 1);
    info[i].range.start.lo = 0;
    info[i].range.end.hi =
        i == n - 1 ? UINT64_MAX : (uint64_t)(i + 1) * (UINT64_MAX / n + 1) - 1;
    info[i].range.end.lo = UINT64_MAX;
  }
  CU_ASSERT_EQUAL_FATAL(
      kefo__producer_core_set_shards(pc, info, (size_t)n, now), 0);
}

static kefo_producer_core *core(const kefo_producer_settings *s, int shards) {
  kefo_producer_core *pc = NULL;
  reset_seen();
  kefo_fake_random_value = UINT32_MAX; /* full jitter at its largest */
  CU_ASSERT_EQUAL_FATAL(
      kefo__producer_core_new(&pc, s, &cbs, NULL, &kefo_fake_clock, NULL), 0);
  if (shards) {
    set_map(pc, shards, 0);
  }
  return pc;
}

/* Puts record |i| with partition key "pk<i>" (or |pk|) and |len| bytes of
   the letter of its index. */
static int put(kefo_producer_core *pc, int i, const char *pk, const char *ehk,
               size_t len, int64_t now) {
  char key[32];
  uint8_t data[2048];
  int rv;

  snprintf(key, sizeof(key), "pk%d", i);
  if (pk == NULL) {
    pk = key;
  }
  memset(data, 'a' + i % 26, len < sizeof(data) ? len : sizeof(data));
  rv = kefo__producer_core_put(pc, pk, strlen(pk), ehk, ehk ? strlen(ehk) : 0,
                               data, len, &idx[i]);
  /* Stamped at |now|, as the producer's next read of the clock would. */
  kefo__producer_core_route(pc, now);
  return rv;
}

/* A body as JSON: in CBOR (the default, a map of 2 where JSON has '{')
   it must be one well-formed item, read back through the converter the
   answers go through. */
static cJSON *parse_body(const kefo_buf *body) {
  kefo_buf json;
  char err[200];
  cJSON *j = NULL;

  if (body->len > 0 && body->data[0] == '{') {
    return cJSON_ParseWithLength((const char *)body->data, body->len);
  }
  kefo__buf_init(&json, NULL);
  CU_ASSERT_EQUAL(body->len > 0 ? body->data[0] : 0, 0xa2);
  if (kefo__cbor_to_json(body->data, body->len, SIZE_MAX, &json, err,
                         sizeof(err)) == 0) {
    j = cJSON_ParseWithLength((const char *)json.data, json.len);
  } else {
    fprintf(stderr, "\nbody: %s\n", err);
  }
  kefo__buf_free(&json);
  return j;
}

/* Takes a batch at |now|; returns it and its body parsed. */
static kefo_producer_batch *take(kefo_producer_core *pc, int64_t now,
                                 cJSON **json) {
  kefo_producer_batch *b = NULL;
  kefo_buf body;

  kefo__buf_init(&body, NULL);
  CU_ASSERT_EQUAL(
      kefo__producer_core_next_batch(pc, now, "s1", NULL, &b, &body), 0);
  if (json) {
    *json = b ? parse_body(&body) : NULL;
    if (b) {
      CU_ASSERT_PTR_NOT_NULL(*json);
    }
  }
  kefo__buf_free(&body);
  return b;
}

/* Answers every entry of |b| as written to the shard |json| names by its
   ExplicitHashKey, or |shard| when given, except entry |bad| (-1: none),
   which gets |code|. */
static void answer(kefo_producer_core *pc, kefo_producer_batch *b, int64_t now,
                   int bad, const char *code, const char *shard) {
  kefo_producer_entry_result res[KEFO_PRODUCER_MAX_ENTRIES];
  static char seqs[KEFO_PRODUCER_MAX_ENTRIES][16];
  static int counter;
  size_t i, n = kefo__producer_batch_entries(b);

  memset(res, 0, sizeof(res));
  for (i = 0; i < n; ++i) {
    if ((int)i == bad) {
      res[i].error_code = code;
      res[i].error_message = "slow down";
      continue;
    }
    snprintf(seqs[i], sizeof(seqs[i]), "%d", ++counter);
    res[i].shard_id = shard ? shard : "shard-0";
    res[i].sequence_number = seqs[i];
  }
  CU_ASSERT_EQUAL(kefo__producer_core_done(pc, b, res, n, 0, NULL, now), 0);
}

static int records_in(const cJSON *j) {
  return cJSON_GetArraySize(cJSON_GetObjectItem(j, "Records"));
}

static void test_linger(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc = core(&s, 1);
  kefo_producer_batch *b;
  cJSON *j, *r0;
  uint8_t out[64];
  size_t n;
  int i;

  for (i = 0; i < 3; ++i) {
    CU_ASSERT_EQUAL(put(pc, i, NULL, NULL, 10, 0), 0);
  }
  CU_ASSERT_PTR_NULL(take(pc, 99, NULL));
  CU_ASSERT_EQUAL(kefo__producer_core_next_wake(pc, 0), 100);
  CU_ASSERT_EQUAL(kefo__producer_core_next_wake(pc, 60), 40);
  b = take(pc, 100, &j);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT_EQUAL(kefo__producer_batch_entries(b), 3);
  CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(j, "StreamName")->valuestring,
                         "s1");
  CU_ASSERT_EQUAL(records_in(j), 3);
  r0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "Records"), 0);
  CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(r0, "PartitionKey")->valuestring,
                         "pk0");
  CU_ASSERT_PTR_NULL(cJSON_GetObjectItem(r0, "ExplicitHashKey"));
  CU_ASSERT_EQUAL(
      kefo__base64_decode(
          out, sizeof(out),
          (const uint8_t *)cJSON_GetObjectItem(r0, "Data")->valuestring,
          strlen(cJSON_GetObjectItem(r0, "Data")->valuestring), &n),
      0);
  CU_ASSERT_EQUAL(n, 10);
  CU_ASSERT_EQUAL(memcmp(out, "aaaaaaaaaa", 10), 0);
  /* All in flight: only the answer wakes the owner. */
  CU_ASSERT_EQUAL(kefo__producer_core_next_wake(pc, 100), -1);
  answer(pc, b, 120, -1, NULL, NULL);
  for (i = 0; i < 3; ++i) {
    CU_ASSERT_EQUAL(S.acks[i], 1);
  }
  CU_ASSERT_EQUAL(kefo__producer_core_outstanding(pc), 0);
  CU_ASSERT_EQUAL(kefo__producer_core_next_wake(pc, 120), -1);
  cJSON_Delete(j);
  kefo__producer_core_del(pc);
}

/* Every call slot taken with records ready to go: the owner is woken by
   the answer, not by the clock (it was woken at once, over and over, a
   busy loop for as long as the calls took). */
static void test_inflight_full(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc;
  kefo_producer_batch *b;
  int i;

  s.max_inflight = 1;
  s.batch_max_records = 2;
  s.record_ttl_ms = 30000;
  pc = core(&s, 1);
  for (i = 0; i < 4; ++i) {
    CU_ASSERT_EQUAL(put(pc, i, NULL, NULL, 10, 0), 0);
  }
  b = take(pc, 0, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT_PTR_NULL(take(pc, 10, NULL));
  /* Only the queued records' TTL is left to wait for. */
  CU_ASSERT_EQUAL(kefo__producer_core_next_wake(pc, 10), 29990);
  answer(pc, b, 20, -1, NULL, NULL);
  CU_ASSERT_EQUAL(kefo__producer_core_next_wake(pc, 20), 0);
  b = take(pc, 20, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  answer(pc, b, 30, -1, NULL, NULL);
  CU_ASSERT_EQUAL(kefo__producer_core_outstanding(pc), 0);
  kefo__producer_core_del(pc);
}

static void test_full_call(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc;
  kefo_producer_batch *b;
  int i;

  s.linger_ms = 60000;
  pc = core(&s, 1);
  for (i = 0; i < 499; ++i) {
    CU_ASSERT_EQUAL(put(pc, i, NULL, NULL, 1, 0), 0);
  }
  CU_ASSERT_PTR_NULL(take(pc, 0, NULL));
  CU_ASSERT_EQUAL(put(pc, 499, NULL, NULL, 1, 0), 0);
  CU_ASSERT_EQUAL(put(pc, 500, NULL, NULL, 1, 0), 0);
  b = take(pc, 0, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT_EQUAL(kefo__producer_batch_entries(b), 500);
  /* The 501st waits for its linger time. */
  CU_ASSERT_PTR_NULL(take(pc, 1, NULL));
  answer(pc, b, 1, -1, NULL, NULL);
  CU_ASSERT_EQUAL(S.acks[499], 1);
  CU_ASSERT_EQUAL(S.acks[500], 0);
  kefo__producer_core_del(pc);
}

typedef struct deagg {
  int n;
  char pk[8][16];
} deagg;

static int on_user_record(const kefo_kpl_record *rec, void *ud) {
  deagg *d = ud;
  if (d->n < 8) {
    snprintf(d->pk[d->n], sizeof(d->pk[d->n]), "%.*s",
             (int)rec->partition_key_len, rec->partition_key);
  }
  ++d->n;
  return 0;
}

static void test_aggregation(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc;
  kefo_producer_batch *b;
  cJSON *j, *recs, *e;
  int i, total = 0, entries;

  s.aggregate = 1;
  s.aggregate_max_bytes = 4096;
  pc = core(&s, 1);
  for (i = 0; i < 1000; ++i) {
    CU_ASSERT_EQUAL(put(pc, i, NULL, NULL, 100, 0), 0);
  }
  b = take(pc, 100, &j);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT_EQUAL(kefo__producer_batch_records(b), 1000);
  entries = (int)kefo__producer_batch_entries(b);
  /* About 4 KiB aggregates of ~110-byte records: a few dozen. */
  CU_ASSERT(entries >= 1000 * 100 / 4096 && entries < 1000 / 20);
  recs = cJSON_GetObjectItem(j, "Records");
  cJSON_ArrayForEach(e, recs) {
    const char *d = cJSON_GetObjectItem(e, "Data")->valuestring;
    uint8_t *blob = malloc(strlen(d));
    size_t n;
    deagg dg;
    kefo_kpl_result kr;
    memset(&dg, 0, sizeof(dg));
    CU_ASSERT_EQUAL(
        kefo__base64_decode(blob, strlen(d), (const uint8_t *)d, strlen(d), &n),
        0);
    CU_ASSERT(n <= 4096);
    CU_ASSERT_EQUAL(kefo__kpl_deaggregate(NULL, blob, n, "x", 1, NULL,
                                          on_user_record, &dg, &kr),
                    0);
    CU_ASSERT(kr.aggregated);
    /* In put order: the first user record names the outer key and EHK. */
    CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(e, "PartitionKey")->valuestring,
                           dg.pk[0]);
    CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItem(e, "ExplicitHashKey"));
    CU_ASSERT_EQUAL(atoi(dg.pk[0] + 2), total);
    total += dg.n;
    free(blob);
  }
  CU_ASSERT_EQUAL(total, 1000);
  answer(pc, b, 120, -1, NULL, NULL);
  for (i = 0; i < 1000; ++i) {
    CU_ASSERT_EQUAL(S.acks[i], 1);
  }
  /* Records of one aggregate share its sequence number and count up. */
  CU_ASSERT_EQUAL(S.sub[0], 0);
  CU_ASSERT_EQUAL(S.sub[1], 1);
  CU_ASSERT_STRING_EQUAL(S.seq[0], S.seq[1]);
  {
    kefo_put_stats st;
    kefo__producer_core_stats(pc, &st);
    CU_ASSERT_EQUAL(st.acknowledged, 1000);
    CU_ASSERT_EQUAL(st.kinesis_records, (uint64_t)entries);
  }
  cJSON_Delete(j);
  kefo__producer_core_del(pc);
}

/* kefo__producer_core_split_calls: a pass's queued bytes shared among
   the ways; the bytes counted through take, retry and answer; a record
   larger than the aim still sent; no aim below two ways. */
static void test_split_calls(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc;
  kefo_producer_batch *bs[16];
  size_t n = 0, total = 0, i, want = 0, aim;
  uint8_t *big;

  s.rate_limit_pct = 1000; /* the calls' sizes, not the buckets, decide */
  pc = core(&s, 1);
  for (i = 0; i < 1000; ++i) {
    char key[32];
    CU_ASSERT_EQUAL(put(pc, (int)i, NULL, NULL, 2000, 0), 0);
    want += 2000 + (size_t)snprintf(key, sizeof(key), "pk%zu", i);
  }
  CU_ASSERT_EQUAL(pc->queued_bytes, want);
  kefo__producer_core_split_calls(pc, 6);
  aim = want / 6 + 1;
  CU_ASSERT_EQUAL(pc->call_aim, aim);
  while (n < 16 && (bs[n] = take(pc, 200, NULL)) != NULL) {
    size_t k = kefo__producer_batch_records(bs[n]);
    /* Each call reaches the aim (but the last) and passes it by less
       than one record. */
    CU_ASSERT(k * 2005 < aim + 2 * 2005);
    CU_ASSERT(total + k == 1000 || k * 2005 >= aim - 2005);
    total += k;
    ++n;
  }
  CU_ASSERT_EQUAL(total, 1000);
  CU_ASSERT(n == 6 || n == 7);
  CU_ASSERT_EQUAL(pc->queued_bytes, 0);
  /* A failed entry's record is queued again, its bytes counted again. */
  answer(pc, bs[0], 210, 0, "ProvisionedThroughputExceededException", NULL);
  CU_ASSERT_EQUAL(pc->queued_bytes, 2000 + strlen("pk0"));
  for (i = 1; i < n; ++i) {
    answer(pc, bs[i], 210, -1, NULL, NULL);
  }
  CU_ASSERT_EQUAL(S.acks[1], 1);
  CU_ASSERT_EQUAL(S.acks[999], 1);

  /* One way: no aim, a call is as large as its limits (500 records). */
  for (i = 0; i < 600; ++i) {
    CU_ASSERT_EQUAL(put(pc, 1000 + (int)i, NULL, NULL, 2000, 300), 0);
  }
  kefo__producer_core_split_calls(pc, 1);
  CU_ASSERT_EQUAL(pc->call_aim, 0);
  bs[0] = take(pc, 1000, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(bs[0]);
  CU_ASSERT_EQUAL(kefo__producer_batch_records(bs[0]), 500);
  answer(pc, bs[0], 1000, -1, NULL, NULL);
  while ((bs[0] = take(pc, 1000, NULL)) != NULL) {
    answer(pc, bs[0], 1000, -1, NULL, NULL);
  }

  /* A record larger than the aim (KEFO_PRODUCER_SPLIT_MIN_BYTES at the
     least) goes, alone. */
  big = calloc(1, 900 * 1024);
  CU_ASSERT_PTR_NOT_NULL_FATAL(big);
  CU_ASSERT_EQUAL(kefo__producer_core_put(pc, "big", 3, NULL, 0, big,
                                          900 * 1024, &idx[1700]),
                  0);
  kefo__producer_core_route(pc, 2000);
  CU_ASSERT_EQUAL(put(pc, 1701, NULL, NULL, 100, 2000), 0);
  kefo__producer_core_split_calls(pc, 6);
  CU_ASSERT_EQUAL(pc->call_aim, KEFO_PRODUCER_SPLIT_MIN_BYTES);
  bs[0] = take(pc, 3000, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(bs[0]);
  CU_ASSERT_EQUAL(kefo__producer_batch_records(bs[0]), 1);
  answer(pc, bs[0], 3000, -1, NULL, NULL);
  CU_ASSERT_EQUAL(S.acks[1700], 1);
  CU_ASSERT_EQUAL(pc->queued_bytes, 100 + strlen("pk1701"));
  free(big);
  kefo__producer_core_del(pc);
}

/* Digests deferred and sealed for several calls at once: the bodies
   are byte for byte those of digests written call by call, and they lack
   their trailers until sealed. */
static void test_seal(void) {
  enum { CALLS = 8 };
  kefo_producer_core *pcs[2];
  kefo_producer_batch *bs[2][CALLS];
  kefo_buf bodies[2][CALLS];
  kefo_buf *bp[CALLS];
  size_t n[2] = {0, 0}, i;
  int m, differ = 0;

  for (m = 0; m < 2; ++m) {
    kefo_producer_settings s = plain();
    s.aggregate = 1;
    s.aggregate_max_bytes = 4096;
    s.rate_limit_pct = 1000;
    pcs[m] = core(&s, 2);
    kefo__producer_core_defer_digests(pcs[m], m);
    for (i = 0; i < 1500; ++i) {
      CU_ASSERT_EQUAL(put(pcs[m], (int)i, NULL, NULL, i * 7 % 2000, 0), 0);
    }
    kefo__producer_core_split_calls(pcs[m], 6);
    while (n[m] < CALLS) {
      kefo__buf_init(&bodies[m][n[m]], NULL);
      bs[m][n[m]] = NULL;
      CU_ASSERT_EQUAL(kefo__producer_core_next_batch(pcs[m], 200, "s1", NULL,
                                                     &bs[m][n[m]],
                                                     &bodies[m][n[m]]),
                      0);
      if (bs[m][n[m]] == NULL) {
        kefo__buf_free(&bodies[m][n[m]]);
        break;
      }
      ++n[m];
    }
  }
  CU_ASSERT_EQUAL_FATAL(n[0], n[1]);
  CU_ASSERT(n[0] >= 2);
  for (i = 0; i < n[1]; ++i) {
    CU_ASSERT_EQUAL_FATAL(bodies[0][i].len, bodies[1][i].len);
    differ +=
        memcmp(bodies[0][i].data, bodies[1][i].data, bodies[0][i].len) != 0;
    bp[i] = &bodies[1][i];
  }
  CU_ASSERT_EQUAL(differ, (int)n[1]); /* no trailers yet */
  kefo__producer_core_seal(pcs[1], bs[1], bp, n[1]);
  /* Sealing the bodies of digests written already changes nothing. */
  for (i = 0; i < n[0]; ++i) {
    bp[i] = &bodies[0][i];
  }
  kefo__producer_core_seal(pcs[0], bs[0], bp, n[0]);
  for (i = 0; i < n[1]; ++i) {
    CU_ASSERT_EQUAL(
        memcmp(bodies[0][i].data, bodies[1][i].data, bodies[0][i].len), 0);
  }
  for (m = 0; m < 2; ++m) {
    for (i = 0; i < n[m]; ++i) {
      answer(pcs[m], bs[m][i], 300, -1, NULL, NULL);
      kefo__buf_free(&bodies[m][i]);
    }
    kefo__producer_core_del(pcs[m]);
  }
}

/* The same records make the same call in both protocols: the CBOR body,
   read back into JSON, equals the JSON body (data, keys, explicit hash
   keys, aggregates with their digests), and the CBOR body is smaller. */
static void test_protocols(void) {
  int agg;

  for (agg = 0; agg <= 1; ++agg) {
    cJSON *j[2];
    size_t len[2];
    int proto, i;
    for (proto = 0; proto <= 1; ++proto) {
      kefo_producer_settings s = plain();
      kefo_producer_core *pc;
      kefo_producer_batch *b = NULL;
      kefo_buf body;
      s.aggregate = agg;
      s.aggregate_max_bytes = 2048;
      s.cbor = proto;
      pc = core(&s, 2);
      for (i = 0; i < 300; ++i) {
        const char *ehk =
            i % 7 == 0 ? "170141183460469231731687303715884105727" : NULL;
        CU_ASSERT_EQUAL(put(pc, i, NULL, ehk, (size_t)(i * 37 % 1500), 0), 0);
      }
      kefo__buf_init(&body, NULL);
      CU_ASSERT_EQUAL(
          kefo__producer_core_next_batch(pc, 100, "s1", NULL, &b, &body), 0);
      CU_ASSERT_PTR_NOT_NULL_FATAL(b);
      CU_ASSERT_EQUAL(body.data[0], proto ? 0xa2 : '{');
      len[proto] = body.len;
      j[proto] = parse_body(&body);
      CU_ASSERT_PTR_NOT_NULL_FATAL(j[proto]);
      CU_ASSERT_EQUAL(kefo__producer_batch_records(b), 300);
      answer(pc, b, 120, -1, NULL, NULL);
      kefo__buf_free(&body);
      kefo__producer_core_del(pc);
    }
    CU_ASSERT(cJSON_Compare(j[0], j[1], 1));
    CU_ASSERT(cJSON_GetArraySize(cJSON_GetObjectItem(j[1], "Records")) > 1);
    /* 224 KB of data: base64 adds a third, CBOR a few bytes. */
    CU_ASSERT(len[1] * 4 < len[0] * 3 + 300 * 16);
    cJSON_Delete(j[0]);
    cJSON_Delete(j[1]);
  }
}

static void test_partial_failure(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc = core(&s, 1);
  kefo_producer_batch *b;
  kefo_put_stats st;
  int i;

  for (i = 0; i < 3; ++i) {
    put(pc, i, NULL, NULL, 10, 0);
  }
  b = take(pc, 100, NULL);
  answer(pc, b, 110, 1, "ProvisionedThroughputExceededException", NULL);
  CU_ASSERT_EQUAL(S.acks[0], 1);
  CU_ASSERT_EQUAL(S.acks[1], 0);
  CU_ASSERT_EQUAL(S.acks[2], 1);
  CU_ASSERT_EQUAL(S.fails[1], 0);
  kefo__producer_core_stats(pc, &st);
  CU_ASSERT_EQUAL(st.throttled, 1);
  CU_ASSERT_EQUAL(st.retried, 1);
  /* The shard backs off (100 ms, full jitter at its top) and its buckets
     are empty: nothing before then. */
  CU_ASSERT_PTR_NULL(take(pc, 150, NULL));
  CU_ASSERT(kefo__producer_core_next_wake(pc, 150) >= 60);
  b = take(pc, 1200, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT_EQUAL(kefo__producer_batch_records(b), 1);
  answer(pc, b, 1210, -1, NULL, NULL);
  CU_ASSERT_EQUAL(S.acks[1], 1);
  CU_ASSERT_EQUAL(S.order[2], 1);
  kefo__producer_core_del(pc);
}

static void test_final_error(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc = core(&s, 1);
  kefo_producer_batch *b;

  put(pc, 0, NULL, NULL, 10, 0);
  put(pc, 1, NULL, NULL, 10, 0);
  b = take(pc, 100, NULL);
  answer(pc, b, 110, 0, "AccessDeniedException", NULL);
  CU_ASSERT_EQUAL(S.fails[0], 1);
  CU_ASSERT_EQUAL(S.fail_code[0], KEFO_ERR_AWS);
  CU_ASSERT_EQUAL(S.acks[1], 1);
  CU_ASSERT_EQUAL(kefo__producer_core_outstanding(pc), 0);
  kefo__producer_core_del(pc);
}

static void test_fail_on_error(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc;
  kefo_producer_batch *b;

  s.fail_on_error = 1;
  pc = core(&s, 1);
  put(pc, 0, NULL, NULL, 10, 0);
  b = take(pc, 100, NULL);
  answer(pc, b, 110, 0, "InternalFailure", NULL);
  CU_ASSERT_EQUAL(S.fails[0], 1);
  kefo__producer_core_del(pc);
}

/* The shard of 4 equal ones (set_map) that owns |key|. */
static const char *shard_of4(const kefo_hash_key *key) {
  static const char *names[] = {"shard-0", "shard-1", "shard-2", "shard-3"};
  return names[key->hi / (UINT64_MAX / 4 + 1)];
}

/* Records wait on a stage until 16 keys can be hashed at once: every other
   way out of the core sees them, and each lands on the shard its key
   names, in put order, across the stage's boundaries and mixed with
   records that carry their own hash keys. */
static void test_staged(void) {
  kefo_producer_settings s = plain();
  kefo_producer_entry_result res[KEFO_PRODUCER_MAX_ENTRIES];
  static char seqs[KEFO_PRODUCER_MAX_ENTRIES][16];
  static char ehks[4][48];
  kefo_producer_core *pc;
  kefo_producer_batch *b;
  kefo_hash_key k;
  cJSON *j, *e;
  int i, n, total = 0, last[4] = {-1, -1, -1, -1};

  /* Fewer than a stage: expiry and a failure of everything see them. */
  s.record_ttl_ms = 1000;
  pc = core(&s, 4);
  for (i = 0; i < 5; ++i) {
    CU_ASSERT_EQUAL(put(pc, i, NULL, NULL, 10, 0), 0);
  }
  kefo__producer_core_expire(pc, 1000);
  for (i = 0; i < 5; ++i) {
    CU_ASSERT_EQUAL(S.fails[i], 1);
  }
  CU_ASSERT_EQUAL(kefo__producer_core_outstanding(pc), 0);
  kefo__producer_core_del(pc);
  pc = core(&s, 4);
  for (i = 0; i < 3; ++i) {
    CU_ASSERT_EQUAL(put(pc, i, NULL, NULL, 10, 0), 0);
  }
  kefo__producer_core_fail_all(pc, KEFO_ERR_CANCELLED, "stopped", 1);
  for (i = 0; i < 3; ++i) {
    CU_ASSERT_EQUAL(S.fails[i], 1);
  }
  kefo__producer_core_del(pc);

  /* 77 records, every fifth with an explicit hash key into shard i % 4. */
  s = plain();
  pc = core(&s, 4);
  for (i = 0; i < 4; ++i) {
    k.hi = (uint64_t)i * (UINT64_MAX / 4 + 1) + 12345;
    k.lo = 0;
    kefo__hash_key_format(ehks[i], &k);
  }
  for (i = 0; i < 77; ++i) {
    CU_ASSERT_EQUAL(put(pc, i, NULL, i % 5 == 0 ? ehks[i % 4] : NULL, 10, 0),
                    0);
  }
  while ((b = take(pc, 1000, &j)) != NULL) {
    n = 0;
    memset(res, 0, sizeof(res));
    cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "Records")) {
      const cJSON *ehk = cJSON_GetObjectItem(e, "ExplicitHashKey");
      const char *pk = cJSON_GetObjectItem(e, "PartitionKey")->valuestring;
      if (ehk != NULL) {
        CU_ASSERT_EQUAL(kefo__hash_key_parse(&k, ehk->valuestring,
                                             strlen(ehk->valuestring)),
                        0);
      } else {
        kefo__hash_key_from_partition_key(&k, pk, strlen(pk));
      }
      snprintf(seqs[n], sizeof(seqs[n]), "%d", n + 1);
      res[n].shard_id = shard_of4(&k);
      res[n].sequence_number = seqs[n];
      /* In put order within its shard. */
      CU_ASSERT(atoi(pk + 2) > last[res[n].shard_id[6] - '0']);
      last[res[n].shard_id[6] - '0'] = atoi(pk + 2);
      n++;
    }
    CU_ASSERT_EQUAL(
        kefo__producer_core_done(pc, b, res, (size_t)n, 0, NULL, 1000), 0);
    total += n;
    cJSON_Delete(j);
  }
  CU_ASSERT_EQUAL(total, 77);
  for (i = 0; i < 77; ++i) {
    CU_ASSERT_EQUAL(S.acks[i], 1);
  }
  /* Each answer named the shard the record was queued at. */
  CU_ASSERT_EQUAL(kefo__producer_core_map_stale(pc), 0);
  kefo__producer_core_del(pc);
}

/* A map with holes: a key below the first shard, between two, or above
   the last waits unmapped; a key on a shard's first or last hash key is
   that shard's. */
static void test_map_holes(void) {
  kefo_producer_settings s = plain();
  kefo_producer_shard_info info[2];
  static const kefo_hash_key keys[] = {{0, 0}, {1, 0}, {2, UINT64_MAX}, {3, 7},
                                       {5, 0}, {6, 5}, {6, 6}};
  static const int mapped[] = {0, 1, 1, 0, 1, 1, 0};
  char ehk[7][48];
  kefo_producer_core *pc = core(&s, 0);
  kefo_producer_batch *b;
  cJSON *j, *e;
  int i, n = 0;

  info[0].shard_id = "shard-a";
  info[0].range.start.hi = 1;
  info[0].range.start.lo = 0;
  info[0].range.end.hi = 2;
  info[0].range.end.lo = UINT64_MAX;
  info[1].shard_id = "shard-b";
  info[1].range.start.hi = 5;
  info[1].range.start.lo = 0;
  info[1].range.end.hi = 6;
  info[1].range.end.lo = 5;
  CU_ASSERT_EQUAL_FATAL(kefo__producer_core_set_shards(pc, info, 2, 0), 0);
  for (i = 0; i < 7; ++i) {
    kefo__hash_key_format(ehk[i], &keys[i]);
    CU_ASSERT_EQUAL(put(pc, i, NULL, ehk[i], 10, 0), 0);
  }
  b = take(pc, 1000, &j);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "Records")) {
    const char *pk = cJSON_GetObjectItem(e, "PartitionKey")->valuestring;
    i = atoi(pk + 2);
    CU_ASSERT(mapped[i]);
    CU_ASSERT_STRING_EQUAL(
        cJSON_GetObjectItem(e, "ExplicitHashKey")->valuestring, ehk[i]);
    n++;
  }
  CU_ASSERT_EQUAL(n, 4);
  /* The other three wait for a map that has them. */
  CU_ASSERT_PTR_NULL(take(pc, 2000, NULL));
  CU_ASSERT_EQUAL(kefo__producer_core_outstanding(pc), 7);
  cJSON_Delete(j);
  kefo__producer_core_del(pc);
}

/* A put is not stamped: its records take the time they are routed with,
   which the owner reads after the puts, so their TTL and linger count
   from a time never before the put. The stage fills at sixteen records;
   a stop fails staged records too, in put order. */
static void test_stamped_when_routed(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc;
  int i;

  s.record_ttl_ms = 1000;
  pc = core(&s, 1);
  for (i = 0; i < 3; ++i) {
    CU_ASSERT_EQUAL(kefo__producer_core_put(pc, "k", 1, NULL, 0,
                                            (const uint8_t *)"x", 1, &idx[i]),
                    0);
  }
  CU_ASSERT_FALSE(kefo__producer_core_staged_full(pc));
  kefo__producer_core_route(pc, 500);
  /* Nothing sent before the linger (100 ms) from the routing time. */
  CU_ASSERT_PTR_NULL(take(pc, 599, NULL));
  kefo__producer_core_expire(pc, 1499);
  CU_ASSERT_EQUAL(S.fails[0] + S.fails[1] + S.fails[2], 0);
  kefo__producer_core_expire(pc, 1500);
  CU_ASSERT_EQUAL(S.fails[0] + S.fails[1] + S.fails[2], 3);
  CU_ASSERT_EQUAL(S.fail_code[2], KEFO_ERR_TIMEOUT);
  /* Any call given the time routes what is staged, with that time. */
  CU_ASSERT_EQUAL(kefo__producer_core_put(pc, "k", 1, NULL, 0,
                                          (const uint8_t *)"x", 1, &idx[3]),
                  0);
  /* Woken when its linger (100 ms from 2000) ends. */
  CU_ASSERT_EQUAL(kefo__producer_core_next_wake(pc, 2000), 100);
  kefo__producer_core_expire(pc, 2999);
  CU_ASSERT_EQUAL(S.fails[3], 0);
  kefo__producer_core_expire(pc, 3000);
  CU_ASSERT_EQUAL(S.fails[3], 1);
  /* Sixteen staged: full. */
  for (i = 10; i < 26; ++i) {
    CU_ASSERT_FALSE(kefo__producer_core_staged_full(pc));
    CU_ASSERT_EQUAL(kefo__producer_core_put(pc, "k", 1, NULL, 0,
                                            (const uint8_t *)"x", 1, &idx[i]),
                    0);
  }
  CU_ASSERT_TRUE(kefo__producer_core_staged_full(pc));
  CU_ASSERT_EQUAL(kefo__producer_core_outstanding(pc), 16);
  kefo__producer_core_fail_all(pc, KEFO_ERR_CANCELLED, "stopped", 1);
  for (i = 10; i < 26; ++i) {
    CU_ASSERT_EQUAL(S.fails[i], 1);
    CU_ASSERT_EQUAL(S.fail_code[i], KEFO_ERR_CANCELLED);
  }
  CU_ASSERT_EQUAL(kefo__producer_core_outstanding(pc), 0);
  kefo__producer_core_del(pc);
}

static void test_ttl(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc;
  kefo_producer_batch *b;
  kefo_error_info info;

  s.record_ttl_ms = 1000;
  pc = core(&s, 0);
  /* No map yet: it waits, and its TTL runs. */
  put(pc, 0, NULL, NULL, 10, 0);
  CU_ASSERT_PTR_NULL(take(pc, 500, NULL));
  CU_ASSERT_EQUAL(kefo__producer_core_next_wake(pc, 500), 500);
  kefo__producer_core_expire(pc, 999);
  CU_ASSERT_EQUAL(S.fails[0], 0);
  kefo__producer_core_expire(pc, 1000);
  CU_ASSERT_EQUAL(S.fails[0], 1);
  CU_ASSERT_EQUAL(S.fail_code[0], KEFO_ERR_TIMEOUT);
  /* A retryable call failure after the TTL fails the record. */
  set_map(pc, 1, 1000);
  put(pc, 1, NULL, NULL, 10, 1000);
  b = take(pc, 1100, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  memset(&info, 0, sizeof(info));
  info.code = KEFO_ERR_HTTP;
  info.message = "connection lost";
  info.retryable = 1;
  kefo__producer_core_done(pc, b, NULL, 0, KEFO_ERR_HTTP, &info, 2000);
  CU_ASSERT_EQUAL(S.fails[1], 1);
  CU_ASSERT_EQUAL(S.fail_code[1], KEFO_ERR_TIMEOUT);
  kefo__producer_core_del(pc);
}

static void test_call_failure(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc = core(&s, 1);
  kefo_producer_batch *b;
  kefo_error_info info;
  int i;

  for (i = 0; i < 4; ++i) {
    put(pc, i, NULL, NULL, 10, 0);
  }
  b = take(pc, 100, NULL);
  memset(&info, 0, sizeof(info));
  info.code = KEFO_ERR_AWS;
  info.http_status = 500;
  info.retryable = 1;
  info.message = "InternalFailure";
  kefo__producer_core_done(pc, b, NULL, 0, KEFO_ERR_AWS, &info, 110);
  CU_ASSERT_EQUAL(kefo__producer_core_outstanding(pc), 4);
  b = take(pc, 1000, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT_EQUAL(kefo__producer_batch_records(b), 4);
  /* An answer with the wrong number of entries is a failed call. */
  {
    kefo_producer_entry_result r[1];
    memset(r, 0, sizeof(r));
    r[0].shard_id = "shard-0";
    r[0].sequence_number = "1";
    CU_ASSERT_EQUAL(kefo__producer_core_done(pc, b, r, 1, 0, NULL, 1010),
                    KEFO_ERR_BAD_RESPONSE);
  }
  CU_ASSERT_EQUAL(S.acks[0], 0);
  b = take(pc, 3000, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  /* Non-retryable: every record fails, none is retried. */
  info.retryable = 0;
  info.http_status = 400;
  kefo__producer_core_done(pc, b, NULL, 0, KEFO_ERR_AWS, &info, 3010);
  for (i = 0; i < 4; ++i) {
    CU_ASSERT_EQUAL(S.fails[i], 1);
    CU_ASSERT_EQUAL(S.acks[i], 0);
  }
  kefo__producer_core_del(pc);
}

/* The log hook hears of throttled entries, failed calls and records
   given up, one line per call, with the cause (issue 27). */
static void test_log(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc = core(&s, 1);
  kefo_log_capture lc = {0};
  kefo_log log = {kefo_log_capture_hook, KEFO_LOG_WARN, &lc};
  static const char *const throttled[] = {
      "ProvisionedThroughputExceededException on PutRecords", "slow down",
      "retried in 100 ms"};
  static const char *const call[] = {"a PutRecords call of 2 entries failed",
                                     "InternalFailure", "retried after"};
  static const char *const final[] = {"AccessDeniedException", "not retried"};
  kefo_producer_batch *b;
  kefo_error_info info;
  char line[512];
  int i;

  kefo__producer_core_set_log(pc, &log);
  for (i = 0; i < 3; ++i) {
    put(pc, i, NULL, NULL, 10, 0);
  }
  b = take(pc, 100, NULL);
  answer(pc, b, 110, 1, "ProvisionedThroughputExceededException", NULL);
  CU_ASSERT(kefo_log_capture_find(&lc, "put.throttled", "shard-0", throttled, 3,
                                  line, sizeof(line)));
  CU_ASSERT_EQUAL(lc.lines, 1);
  /* A whole call failing, retryable: one line for its entries. */
  put(pc, 3, NULL, NULL, 10, 0);
  b = take(pc, 1200, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  memset(&info, 0, sizeof(info));
  info.code = KEFO_ERR_AWS;
  info.aws_type = "InternalFailure";
  info.operation = "PutRecords";
  info.http_status = 500;
  info.retryable = 1;
  info.message = "try again";
  kefo__producer_core_done(pc, b, NULL, 0, KEFO_ERR_AWS, &info, 1210);
  CU_ASSERT(kefo_log_capture_find(&lc, "put.retry", "-", call, 3, line,
                                  sizeof(line)));
  CU_ASSERT_EQUAL(lc.lines, 2);
  /* At KEFO_LOG_ERROR only what is given up is told. */
  log.level = KEFO_LOG_ERROR;
  b = take(pc, 5000, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  answer(pc, b, 5010, 0, "AccessDeniedException", NULL);
  CU_ASSERT(kefo_log_capture_find(&lc, "put.failed", "shard-0", final, 2, line,
                                  sizeof(line)));
  CU_ASSERT_EQUAL(lc.lines, 3);
  kefo__producer_core_del(pc);
  kefo_log_capture_free(&lc);
}

static void test_ordered(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc;
  kefo_producer_batch *b1, *b2;
  int i;

  s.ordered = 1;
  pc = core(&s, 1);
  for (i = 0; i < 3; ++i) {
    put(pc, i, "same", NULL, 10, 0);
  }
  b1 = take(pc, 100, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b1);
  /* One entry per shard per call, one call per shard in flight. */
  CU_ASSERT_EQUAL(kefo__producer_batch_entries(b1), 1);
  CU_ASSERT_PTR_NULL(take(pc, 100, NULL));
  answer(pc, b1, 110, 0, "InternalFailure", NULL);
  /* The retry goes first, before record 1. */
  b1 = take(pc, 1000, NULL);
  answer(pc, b1, 1010, -1, NULL, NULL);
  b1 = take(pc, 1010, NULL);
  answer(pc, b1, 1020, -1, NULL, NULL);
  b2 = take(pc, 1020, NULL);
  answer(pc, b2, 1030, -1, NULL, NULL);
  CU_ASSERT_EQUAL(S.norder, 3);
  for (i = 0; i < 3; ++i) {
    CU_ASSERT_EQUAL(S.order[i], i);
  }
  kefo__producer_core_del(pc);
}

static void test_backpressure(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc;
  kefo_producer_batch *b;
  int i;

  s.max_buffered_records = 8;
  pc = core(&s, 1);
  for (i = 0; i < 8; ++i) {
    CU_ASSERT_EQUAL(put(pc, i, NULL, NULL, 10, 0), 0);
  }
  CU_ASSERT_EQUAL(put(pc, 8, NULL, NULL, 10, 0), KEFO_ERR_WOULD_BLOCK);
  CU_ASSERT_EQUAL(kefo__producer_core_room_again(pc), 0);
  /* Half full: sent without waiting for the linger time. */
  b = take(pc, 0, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  /* In flight still counts. */
  CU_ASSERT_EQUAL(put(pc, 8, NULL, NULL, 10, 0), KEFO_ERR_WOULD_BLOCK);
  answer(pc, b, 10, -1, NULL, NULL);
  CU_ASSERT_EQUAL(kefo__producer_core_room_again(pc), 1);
  CU_ASSERT_EQUAL(kefo__producer_core_room_again(pc), 0);
  CU_ASSERT_EQUAL(put(pc, 8, NULL, NULL, 10, 10), 0);
  kefo__producer_core_del(pc);

  /* Bytes too. */
  s = plain();
  s.max_buffered_bytes = 1u << 20;
  pc = core(&s, 1);
  CU_ASSERT_EQUAL(put(pc, 0, NULL, NULL, 1000, 0), 0);
  {
    uint8_t *big = calloc(1, (1u << 20) - 100);
    CU_ASSERT_EQUAL(kefo__producer_core_put(pc, "k", 1, NULL, 0, big,
                                            (1u << 20) - 100, &idx[1]),
                    KEFO_ERR_WOULD_BLOCK);
    free(big);
  }
  kefo__producer_core_del(pc);
}

/* Lent data (kefo__producer_core_put_lent) is read where the caller
   keeps it, when the call is built, not copied at the put (record 0's
   is empty, and NULL): a body built
   after the caller changed its bytes carries the new ones, as a copied
   put of them would (aggregated or not, in CBOR and JSON). The caller
   frees its bytes once the records are acknowledged, and the core goes
   on (ASan would see a later read). Lent bytes count against the
   buffer's bytes. */
static void test_lent(void) {
  int agg, proto, i;

  for (agg = 0; agg <= 1; ++agg) {
    for (proto = 0; proto <= 1; ++proto) {
      kefo_producer_settings s = plain();
      kefo_producer_core *pc[2];
      kefo_producer_batch *b[2];
      cJSON *j[2];
      uint8_t *data[60];
      int k;

      s.aggregate = agg;
      s.cbor = proto;
      for (k = 0; k < 2; ++k) {
        pc[k] = core(&s, 2);
      }
      for (i = 0; i < 60; ++i) {
        char key[16];
        size_t len = (size_t)(i * 53 % 900);
        data[i] = malloc(len + 1);
        CU_ASSERT_PTR_NOT_NULL_FATAL(data[i]);
        snprintf(key, sizeof(key), "pk%d", i);
        memset(data[i], 'A' + i % 26, len);
        CU_ASSERT_EQUAL(
            kefo__producer_core_put_lent(pc[0], key, strlen(key), NULL, 0,
                                         len ? data[i] : NULL, len, &idx[i]),
            0);
        /* Changed after the put: the lent record carries the change. */
        memset(data[i], 'a' + i % 26, len);
        CU_ASSERT_EQUAL(kefo__producer_core_put(pc[1], key, strlen(key), NULL,
                                                0, data[i], len, &idx[i]),
                        0);
      }
      for (k = 0; k < 2; ++k) {
        kefo__producer_core_route(pc[k], 0);
        b[k] = take(pc[k], 100, &j[k]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(b[k]);
        CU_ASSERT_EQUAL(kefo__producer_batch_records(b[k]), 60);
      }
      CU_ASSERT(cJSON_Compare(j[0], j[1], 1));
      for (k = 0; k < 2; ++k) {
        answer(pc[k], b[k], 120, -1, NULL, NULL);
        cJSON_Delete(j[k]);
      }
      for (i = 0; i < 60; ++i) {
        CU_ASSERT_EQUAL(S.acks[i], 2); /* once by each core */
        free(data[i]);
      }
      /* Nothing left to read them: more puts, a call and a flush. */
      CU_ASSERT_EQUAL(put(pc[0], 0, NULL, NULL, 10, 200), 0);
      b[0] = take(pc[0], 400, NULL);
      CU_ASSERT_PTR_NOT_NULL_FATAL(b[0]);
      answer(pc[0], b[0], 420, -1, NULL, NULL);
      for (k = 0; k < 2; ++k) {
        kefo__producer_core_del(pc[k]);
      }
    }
  }

  /* The buffer's bytes: 600 KiB lent and 600 KiB more do not fit 1 MiB,
     and the stats count the lent bytes as held. */
  {
    kefo_producer_settings s = plain();
    kefo_producer_core *pc;
    kefo_put_stats st;
    uint8_t *big = calloc(1, 600u << 10);

    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    s.max_buffered_bytes = 1u << 20;
    pc = core(&s, 1);
    CU_ASSERT_EQUAL(kefo__producer_core_put_lent(pc, "k", 1, NULL, 0, big,
                                                 600u << 10, &idx[0]),
                    0);
    kefo__producer_core_stats(pc, &st);
    CU_ASSERT(st.buffered_bytes >= 600u << 10);
    CU_ASSERT_EQUAL(kefo__producer_core_put_lent(pc, "k", 1, NULL, 0, big,
                                                 600u << 10, &idx[1]),
                    KEFO_ERR_WOULD_BLOCK);
    CU_ASSERT_EQUAL(
        kefo__producer_core_put(pc, "k", 1, NULL, 0, big, 600u << 10, &idx[1]),
        KEFO_ERR_WOULD_BLOCK);
    kefo__producer_core_del(pc);
    free(big);
  }
}

static void test_flush(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc;
  kefo_producer_batch *b1, *b2;
  int64_t t1, t2;
  int i;

  s.linger_ms = 60000;
  pc = core(&s, 1);
  CU_ASSERT_EQUAL(kefo__producer_core_flush(pc), 0);
  for (i = 0; i < 3; ++i) {
    put(pc, i, NULL, NULL, 10, 0);
  }
  t1 = kefo__producer_core_flush(pc);
  CU_ASSERT(t1 > 0);
  /* A flush sends at once, linger or not. */
  b1 = take(pc, 0, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b1);
  put(pc, 3, NULL, NULL, 10, 1);
  t2 = kefo__producer_core_flush(pc);
  CU_ASSERT(t2 > t1);
  b2 = take(pc, 1, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b2);
  /* The later record first: the second flush still waits for the first
     three, and the first is not done by a record put after it. */
  answer(pc, b2, 2, -1, NULL, NULL);
  CU_ASSERT_EQUAL(kefo__producer_core_flushed(pc), 0);
  answer(pc, b1, 5, 2, "InternalFailure", NULL);
  CU_ASSERT_EQUAL(kefo__producer_core_flushed(pc), 0);
  b1 = take(pc, 500, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b1);
  answer(pc, b1, 501, -1, NULL, NULL);
  CU_ASSERT_EQUAL(kefo__producer_core_flushed(pc), t1);
  CU_ASSERT_EQUAL(kefo__producer_core_flushed(pc), t2);
  CU_ASSERT_EQUAL(kefo__producer_core_flushed(pc), 0);
  kefo__producer_core_del(pc);
}

/* 2^127: the split point of two equal shards. */
#define MID "170141183460469231731687303715884105728"
#define LOW "1"
#define HIGH "170141183460469231731687303715884105729"

static void test_shard_map(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc = core(&s, 0);
  kefo_producer_batch *b;
  cJSON *j, *e;

  /* Before the map, records wait. */
  put(pc, 0, NULL, LOW, 10, 0);
  put(pc, 1, NULL, HIGH, 10, 0);
  CU_ASSERT_PTR_NULL(take(pc, 200, NULL));
  set_map(pc, 2, 200);
  b = take(pc, 200, &j);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT_EQUAL(kefo__producer_batch_entries(b), 2);
  /* A record's own explicit hash key goes with it. */
  cJSON_ArrayForEach(e, cJSON_GetObjectItem(j, "Records")) {
    const char *k = cJSON_GetObjectItem(e, "ExplicitHashKey")->valuestring;
    CU_ASSERT(strcmp(k, LOW) == 0 || strcmp(k, HIGH) == 0);
  }
  cJSON_Delete(j);
  /* Kinesis wrote them where the map did not say: the map is stale. */
  CU_ASSERT_EQUAL(kefo__producer_core_map_stale(pc), 0);
  answer(pc, b, 210, -1, NULL, "shard-9");
  CU_ASSERT_EQUAL(kefo__producer_core_map_stale(pc), 1);
  /* A reshard: queued records move to the shard that owns them now. */
  put(pc, 2, NULL, HIGH, 10, 300);
  put(pc, 3, NULL, MID, 10, 300);
  {
    kefo_producer_shard_info info[3];
    info[0].shard_id = "shard-0";
    kefo__hash_range_init(&info[0].range, "0", 1,
                          "170141183460469231731687303715884105727", 39);
    info[1].shard_id = "child-a";
    kefo__hash_range_init(&info[1].range, MID, strlen(MID), MID, strlen(MID));
    info[2].shard_id = "child-b";
    kefo__hash_range_init(&info[2].range, HIGH, strlen(HIGH),
                          "340282366920938463463374607431768211455", 39);
    CU_ASSERT_EQUAL(kefo__producer_core_set_shards(pc, info, 3, 300), 0);
    /* Overlapping ranges are refused. */
    info[1].range.end = info[2].range.start;
    CU_ASSERT_EQUAL(kefo__producer_core_set_shards(pc, info, 3, 300),
                    KEFO_ERR_INVALID_ARGUMENT);
  }
  CU_ASSERT_EQUAL(kefo__producer_core_map_stale(pc), 0);
  b = take(pc, 400, &j);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT_EQUAL(kefo__producer_batch_entries(b), 2);
  cJSON_Delete(j);
  answer(pc, b, 410, -1, NULL, NULL);
  CU_ASSERT_EQUAL(S.acks[2], 1);
  CU_ASSERT_EQUAL(S.acks[3], 1);
  kefo__producer_core_del(pc);
}

static void test_rate_limit(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc;
  kefo_producer_batch *b;
  size_t sent = 0;
  int i, calls = 0;

  s.rate_limit_pct = 100;
  s.max_inflight = 100;
  pc = core(&s, 1);
  for (i = 0; i < 2000; ++i) {
    put(pc, i % MAXREC, "k", NULL, 1, 0);
  }
  /* 1,000 records a second: two calls of 500 at once, then nothing. */
  while ((b = take(pc, 100, NULL)) != NULL) {
    sent += kefo__producer_batch_records(b);
    ++calls;
    answer(pc, b, 100, -1, NULL, NULL);
  }
  CU_ASSERT_EQUAL(sent, 1000);
  CU_ASSERT_EQUAL(calls, 2);
  /* Half a second later, 500 more tokens. */
  CU_ASSERT(kefo__producer_core_next_wake(pc, 100) > 0);
  b = take(pc, 600, NULL);
  CU_ASSERT_PTR_NOT_NULL_FATAL(b);
  CU_ASSERT(kefo__producer_batch_records(b) >= 499 &&
            kefo__producer_batch_records(b) <= 500);
  answer(pc, b, 600, -1, NULL, NULL);
  kefo__producer_core_del(pc);

  /* Bytes: 1 MiB a second, 100 KiB records: 10 then a wait. */
  s = plain();
  s.rate_limit_pct = 100;
  pc = core(&s, 1);
  for (i = 0; i < 20; ++i) {
    uint8_t *d = calloc(1, 100 * 1024);
    kefo__producer_core_put(pc, "k", 1, NULL, 0, d, 100 * 1024, &idx[i]);
    kefo__producer_core_route(pc, 0);
    free(d);
  }
  sent = 0;
  while ((b = take(pc, 100, NULL)) != NULL) {
    sent += kefo__producer_batch_records(b);
    answer(pc, b, 100, -1, NULL, NULL);
  }
  CU_ASSERT(sent >= 10 && sent <= 11);
  kefo__producer_core_del(pc);
}

static void test_bad_arguments(void) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc = core(&s, 1);
  char pk[300];
  uint8_t *big = calloc(1, 1u << 20);

  memset(pk, 'k', sizeof(pk));
  CU_ASSERT_EQUAL(kefo__producer_core_put(pc, pk, 0, NULL, 0, big, 1, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__producer_core_put(pc, pk, 257, NULL, 0, big, 1, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(
      kefo__producer_core_put(pc, pk, 256, NULL, 0, big, 1u << 20, NULL),
      KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__producer_core_put(pc, "k", 1, "12x", 3, big, 1, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  /* PutRecords' pattern: no leading zero, at most 39 digits; a long run of
     zeros (a valid number) would not fit the record's key length. */
  memset(big, '0', 70000);
  big[69999] = '1';
  CU_ASSERT_EQUAL(kefo__producer_core_put(pc, "k", 1, (const char *)big, 70000,
                                          big, 1, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  memset(big, 0, 70000);
  CU_ASSERT_EQUAL(kefo__producer_core_put(pc, "k", 1, "012", 3, big, 1, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(
      kefo__producer_core_put(pc, "k", 1, NULL, 0, big, (size_t)-1, NULL),
      KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__producer_core_put(pc, "k", 1, "0", 1, big, 1, &idx[1]),
                  0);
  CU_ASSERT_EQUAL(kefo__producer_core_put(
                      pc, "k", 1, "340282366920938463463374607431768211456", 39,
                      big, 1, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__producer_core_put(pc, pk, 256, NULL, 0, big,
                                          (1u << 20) - 256, &idx[0]),
                  0);
  /* The error that stops a producer reaches each record whole. */
  {
    kefo_error_info info;
    memset(&info, 0, sizeof(info));
    info.code = KEFO_ERR_AWS;
    info.aws_type = "ResourceNotFoundException";
    info.message = "ListShards failed: no such stream";
    kefo__producer_core_fail_all_info(pc, &info, 1);
  }
  CU_ASSERT_EQUAL(S.fails[0], 1);
  CU_ASSERT_EQUAL(S.fail_code[0], KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(S.fail_type, "ResourceNotFoundException");
  CU_ASSERT_EQUAL(kefo__producer_core_put(pc, "k", 1, NULL, 0, big, 1, NULL),
                  KEFO_ERR_INVALID_STATE);
  {
    kefo_producer_settings bad = plain();
    kefo_producer_core *x = NULL;
    bad.batch_max_records = 501;
    CU_ASSERT_EQUAL(kefo__producer_core_new(&x, &bad, &cbs, NULL, NULL, NULL),
                    KEFO_ERR_INVALID_ARGUMENT);
  }
  free(big);
  kefo__producer_core_del(pc);
}

/* Put, map, take, a partial failure, a retry, a flush and a stop, with
   one allocation failing: errors, no crash, no leak. */
static int failmalloc_scenario(const kefo_mem *mem, void *arg) {
  kefo_producer_settings s = plain();
  kefo_producer_core *pc = NULL;
  kefo_producer_batch *b = NULL;
  kefo_buf body;
  kefo_producer_shard_info info;
  int rv, i;

  (void)arg;
  s.aggregate = 1;
  reset_seen();
  rv = kefo__producer_core_new(&pc, &s, &cbs, NULL, &kefo_fake_clock, mem);
  if (rv != 0) {
    return rv;
  }
  info.shard_id = "shard-0";
  kefo__hash_range_init(&info.range, "0", 1,
                        "340282366920938463463374607431768211455", 39);
  for (i = 0; i < 6; ++i) {
    char k[8];
    snprintf(k, sizeof(k), "k%d", i);
    if ((rv = kefo__producer_core_put(pc, k, strlen(k), NULL, 0,
                                      (const uint8_t *)"data", 4, &idx[i])) !=
        0) {
      goto out;
    }
  }
  if ((rv = kefo__producer_core_set_shards(pc, &info, 1, 0)) != 0 ||
      kefo__producer_core_flush(pc) < 0) {
    rv = rv ? rv : KEFO_ERR_NOMEM;
    goto out;
  }
  kefo__buf_init(&body, mem);
  rv = kefo__producer_core_next_batch(pc, 100, "s", NULL, &b, &body);
  kefo__buf_free(&body);
  if (rv == 0 && b) {
    kefo_producer_entry_result r;
    memset(&r, 0, sizeof(r));
    r.error_code = "InternalFailure";
    kefo__producer_core_done(pc, b, &r, 1, 0, NULL, 110);
  }
out:
  kefo__producer_core_fail_all(pc, KEFO_ERR_CANCELLED, "stop", 1);
  kefo__producer_core_del(pc);
  return rv;
}

static void test_failmalloc(void) {
  kefo_failmalloc_run(failmalloc_scenario, NULL);
}

int kefo_add_producer_core_suite(void) {
  CU_pSuite s = CU_add_suite("producer_core", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "linger", test_linger) ||
      !CU_add_test(s, "full call", test_full_call) ||
      !CU_add_test(s, "in flight full", test_inflight_full) ||
      !CU_add_test(s, "aggregation", test_aggregation) ||
      !CU_add_test(s, "protocols", test_protocols) ||
      !CU_add_test(s, "split calls", test_split_calls) ||
      !CU_add_test(s, "seal", test_seal) ||
      !CU_add_test(s, "partial failure", test_partial_failure) ||
      !CU_add_test(s, "final error", test_final_error) ||
      !CU_add_test(s, "fail on error", test_fail_on_error) ||
      !CU_add_test(s, "ttl", test_ttl) ||
      !CU_add_test(s, "stamped when routed", test_stamped_when_routed) ||
      !CU_add_test(s, "call failure", test_call_failure) ||
      !CU_add_test(s, "log", test_log) ||
      !CU_add_test(s, "ordered", test_ordered) ||
      !CU_add_test(s, "backpressure", test_backpressure) ||
      !CU_add_test(s, "lent", test_lent) ||
      !CU_add_test(s, "flush", test_flush) ||
      !CU_add_test(s, "shard map", test_shard_map) ||
      !CU_add_test(s, "rate limit", test_rate_limit) ||
      !CU_add_test(s, "bad arguments", test_bad_arguments) ||
      !CU_add_test(s, "staged", test_staged) ||
      !CU_add_test(s, "map holes", test_map_holes) ||
      !CU_add_test(s, "failmalloc", test_failmalloc)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
