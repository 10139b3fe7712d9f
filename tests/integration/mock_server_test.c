/*
 * The project's mock Kinesis server (tests/support/mock/kinesis-mock) through
 * kefo's own client: paging, routing, SubscribeToShard as real Kinesis
 * streams it (initial-response, shard end with ChildShards, lifetime,
 * rate limit and in-use errors), GetRecords at shard end, SigV4 checks,
 * TLS, and a volume read. Servers come from
 * tests/integration/mock_server_test.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <event2/event.h>
#include <openssl/evp.h>

#include "tests/support/aws_test_util.h"

#include "aws/aws_client.h"
#include "aws/kinesis.h"
#include "aws/sha256_many.h"
#include "efo/subscription.h"
#include "base/clock.h"

static struct event_base *base;
static kefo_http_client *http, *tls_http;
static kefo_aws_client *aws, *bad_aws, *tls_aws;
static kefo_aws_service kinesis, control, tls_kinesis;

typedef struct result {
  int done;
  int error;
  cJSON *json;
  char aws_type[128];
  char message[2048];
  int status;
  /* kefo__aws_call_start_lent's |sent|: how many times, and how many
     before the answer. */
  int sent, sent_early;
} result;

/* For intervals: the monotonic clock. */
static int64_t now_ms(void) {
  const kefo_clock *clock = kefo__clock_system();

  return clock->mono_ms(clock->user_data);
}

static void on_result(int error, const cJSON *resp, const kefo_error_info *info,
                      void *ud) {
  result *r = ud;

  r->done = 1;
  r->error = error;
  r->json = resp ? cJSON_Duplicate(resp, 1) : NULL;
  if (info) {
    snprintf(r->aws_type, sizeof(r->aws_type), "%s",
             info->aws_type ? info->aws_type : "");
    snprintf(r->message, sizeof(r->message), "%s",
             info->message ? info->message : "");
    r->status = info->http_status;
  }
}

static void run_until(int *flag, int ms) {
  kefo_test_run_until(base, flag, ms);
}

static void sleep_loop(int ms) {
  int never = 0;

  run_until(&never, ms);
}

/* Calls |op| with |body| (taken) through |client|; the answer is the
   caller's to free. */
static cJSON *call_with(kefo_aws_client *client, const kefo_aws_service *svc,
                        const char *op, cJSON *body, result *r) {
  kefo_retry_strategy rs = {10, 50, 1};

  memset(r, 0, sizeof(*r));
  CU_ASSERT_EQUAL(
      kefo__aws_call_start(client, svc, op, body, &rs, on_result, r, NULL), 0);
  cJSON_Delete(body);
  run_until(&r->done, 10000);
  CU_ASSERT(r->done);
  return r->json;
}

static cJSON *call(const char *op, cJSON *body, result *r) {
  return call_with(aws, &kinesis, op, body, r);
}

/* Calls |op| and expects success; returns the answer (caller frees). */
static cJSON *call_ok(const char *op, cJSON *body) {
  result r;
  cJSON *j = call(op, body, &r);

  if (r.error) {
    printf("\n  %s failed: %s %s\n", op, r.aws_type, r.message);
  }
  CU_ASSERT_EQUAL(r.error, 0);
  return j;
}

static cJSON *control_call(const char *op, cJSON *body) {
  result r;
  cJSON *j = call_with(aws, &control, op, body, &r);

  CU_ASSERT_EQUAL(r.error, 0);
  return j;
}

static cJSON *obj(const char *k1, const char *v1, const char *k2,
                  const char *v2) {
  cJSON *o = cJSON_CreateObject();

  if (k1) {
    cJSON_AddStringToObject(o, k1, v1);
  }
  if (k2) {
    cJSON_AddStringToObject(o, k2, v2);
  }
  return o;
}

static const char *str(const cJSON *o, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);

  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static void create_stream(const char *name, int shards) {
  cJSON *b = obj("StreamName", name, NULL, NULL);

  cJSON_AddNumberToObject(b, "ShardCount", shards);
  cJSON_Delete(call_ok("CreateStream", b));
}

static void stream_arn(const char *name, char *out, size_t outlen) {
  snprintf(out, outlen, "arn:aws:kinesis:us-east-1:123456789012:stream/%s",
           name);
}

/* Registers |consumer| on |stream| and copies its ARN. */
static void register_consumer(const char *stream, const char *consumer,
                              char *arn, size_t arnlen) {
  char sarn[256];
  cJSON *j;

  stream_arn(stream, sarn, sizeof(sarn));
  j = call_ok("RegisterStreamConsumer",
              obj("StreamARN", sarn, "ConsumerName", consumer));
  snprintf(arn, arnlen, "%s",
           str(cJSON_GetObjectItem(j, "Consumer"), "ConsumerARN")
               ? str(cJSON_GetObjectItem(j, "Consumer"), "ConsumerARN")
               : "");
  cJSON_Delete(j);
}

/* PutRecord with data |data|; returns the shard id in |shard|. */
static void put_record(const char *stream, const char *pk, const char *data,
                       const char *ehk, char *shard, size_t shardlen) {
  char b64[256];
  size_t n = strlen(data);
  cJSON *b, *j;
  int len;

  len = EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)data,
                        (int)n);
  b64[len] = '\0';
  b = obj("StreamName", stream, "PartitionKey", pk);
  cJSON_AddStringToObject(b, "Data", b64);
  if (ehk) {
    cJSON_AddStringToObject(b, "ExplicitHashKey", ehk);
  }
  j = call_ok("PutRecord", b);
  if (shard) {
    snprintf(shard, shardlen, "%s", str(j, "ShardId") ? str(j, "ShardId") : "");
  }
  cJSON_Delete(j);
}

static void test_list_shards_paging(void) {
  cJSON *j, *b;
  const char *token;
  char next[256];
  int pages = 1, total;

  create_stream("paged", 5);
  b = obj("StreamName", "paged", NULL, NULL);
  cJSON_AddNumberToObject(b, "MaxResults", 2);
  j = call_ok("ListShards", b);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "Shards")), 2);
  total = cJSON_GetArraySize(cJSON_GetObjectItem(j, "Shards"));
  token = str(j, "NextToken");
  CU_ASSERT_PTR_NOT_NULL_FATAL(token);
  while (token) {
    snprintf(next, sizeof(next), "%s", token);
    cJSON_Delete(j);
    /* Later pages carry only NextToken (and MaxResults). */
    b = obj("NextToken", next, NULL, NULL);
    cJSON_AddNumberToObject(b, "MaxResults", 2);
    j = call_ok("ListShards", b);
    total += cJSON_GetArraySize(cJSON_GetObjectItem(j, "Shards"));
    token = str(j, "NextToken");
    ++pages;
  }
  cJSON_Delete(j);
  CU_ASSERT_EQUAL(pages, 3);
  CU_ASSERT_EQUAL(total, 5);
  printf("\nmock: ListShards of 5 shards in pages of 2: %d pages\n", pages);
  {
    result r;
    /* NextToken with StreamName is refused, as Kinesis does. */
    b = obj("NextToken", next, "StreamName", "paged");
    call("ListShards", b, &r);
    CU_ASSERT_EQUAL(r.error, KEFO_ERR_AWS);
    CU_ASSERT_STRING_EQUAL(r.aws_type, "InvalidArgumentException");
    call("ListShards", obj("StreamName", "nope", NULL, NULL), &r);
    CU_ASSERT_STRING_EQUAL(r.aws_type, "ResourceNotFoundException");
  }
}

typedef struct shards_result {
  int done, error, count;
} shards_result;

static void on_shards(int error, const cJSON *shards,
                      const kefo_error_info *info, void *ud) {
  shards_result *r = ud;

  (void)info;
  r->done = 1;
  r->error = error;
  r->count = shards ? cJSON_GetArraySize(shards) : -1;
}

static void test_list_shards_client(void) {
  shards_result r = {0, 0, 0};

  /* kefo's own lister follows the pages to the end. */
  CU_ASSERT_EQUAL(kefo__kinesis_list_shards(aws, &kinesis, "paged", NULL, NULL,
                                            2, NULL, on_shards, &r, NULL),
                  0);
  run_until(&r.done, 10000);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT_EQUAL(r.count, 5);
}

/* Pads a decimal number to 39 digits, so strcmp compares values. */
static void pad39(const char *s, char *out) {
  size_t n = strlen(s);

  memset(out, '0', 39 - n);
  memcpy(out + 39 - n, s, n + 1);
}

static void md5_decimal(const char *pk, char *out) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen;
  unsigned char digits[40];
  int i, j, n = 0;

  EVP_Digest(pk, strlen(pk), md, &mdlen, EVP_md5(), NULL);
  /* Big-endian bytes to decimal by repeated division. */
  while (1) {
    int rem = 0, zero = 1;
    for (i = 0; i < 16; ++i) {
      int v = rem * 256 + md[i];
      md[i] = (unsigned char)(v / 10);
      rem = v % 10;
      zero &= md[i] == 0;
    }
    digits[n++] = (unsigned char)('0' + rem);
    if (zero) {
      break;
    }
  }
  for (j = 0; j < n; ++j) {
    out[j] = (char)digits[n - 1 - j];
  }
  out[n] = '\0';
}

static void test_put_records_routing(void) {
  cJSON *shards, *b, *recs, *j, *out;
  char pks[8][16], hash[64], a[40], lo[40], hi[40];
  int i, k, ok = 0;

  create_stream("route", 4);
  j = call_ok("ListShards", obj("StreamName", "route", NULL, NULL));
  shards = cJSON_DetachItemFromObject(j, "Shards");
  cJSON_Delete(j);
  CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(shards), 4);
  b = obj("StreamName", "route", NULL, NULL);
  recs = cJSON_AddArrayToObject(b, "Records");
  for (i = 0; i < 8; ++i) {
    cJSON *r = cJSON_CreateObject();
    snprintf(pks[i], sizeof(pks[i]), "key-%d", i);
    cJSON_AddStringToObject(r, "PartitionKey", pks[i]);
    cJSON_AddStringToObject(r, "Data", "aGVsbG8=");
    cJSON_AddItemToArray(recs, r);
  }
  {
    /* The last one goes by ExplicitHashKey: 2^126 starts shard 1. */
    cJSON *r = cJSON_CreateObject();
    cJSON_AddStringToObject(r, "PartitionKey", "any");
    cJSON_AddStringToObject(r, "ExplicitHashKey",
                            "85070591730234615865843651857942052864");
    cJSON_AddStringToObject(r, "Data", "");
    cJSON_AddItemToArray(recs, r);
  }
  j = call_ok("PutRecords", b);
  out = cJSON_GetObjectItem(j, "Records");
  CU_ASSERT_EQUAL_FATAL(cJSON_GetArraySize(out), 9);
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(j, "FailedRecordCount")->valueint, 0);
  for (i = 0; i < 8; ++i) {
    const char *got = str(cJSON_GetArrayItem(out, i), "ShardId");
    md5_decimal(pks[i], hash);
    pad39(hash, a);
    for (k = 0; k < 4; ++k) {
      cJSON *sh = cJSON_GetArrayItem(shards, k);
      cJSON *range = cJSON_GetObjectItem(sh, "HashKeyRange");
      pad39(str(range, "StartingHashKey"), lo);
      pad39(str(range, "EndingHashKey"), hi);
      if (strcmp(lo, a) <= 0 && strcmp(a, hi) <= 0) {
        CU_ASSERT_STRING_EQUAL(got, str(sh, "ShardId"));
        ok += strcmp(got, str(sh, "ShardId")) == 0;
      }
    }
  }
  CU_ASSERT_EQUAL(ok, 8);
  CU_ASSERT_STRING_EQUAL(str(cJSON_GetArrayItem(out, 8), "ShardId"),
                         "shardId-000000000001");
  /* Sequence numbers: 56 digits, increasing in the order written. */
  CU_ASSERT_EQUAL(strlen(str(cJSON_GetArrayItem(out, 0), "SequenceNumber")),
                  56);
  for (i = 1; i < 9; ++i) {
    CU_ASSERT(strcmp(str(cJSON_GetArrayItem(out, i - 1), "SequenceNumber"),
                     str(cJSON_GetArrayItem(out, i), "SequenceNumber")) < 0);
  }
  printf("mock: 8 partition keys routed by MD5 as the hash ranges say, one "
         "by ExplicitHashKey\n");
  cJSON_Delete(j);
  cJSON_Delete(shards);
}

/* What one subscription saw. */
typedef struct sub_state {
  int initial;
  int initial_first; /* initial-response came before any event */
  int events;
  int records;
  char data[64][32]; /* the first records' data */
  int in_order;
  char last_seq[64];
  int child_shards;
  int null_continuation;
  int events_after_end; /* events after the null-continuation one */
  int ended;
  int end_error;
  char aws_type[128];
  kefo_kinesis_subscription *sub;
  /* Volume reads: every index seen, once. */
  unsigned char *seen;
  long nseen_total;
  long duplicates;
  long max_index;
} sub_state;

static void s_initial(kefo_kinesis_subscription *sub, void *ud) {
  sub_state *s = ud;

  (void)sub;
  s->initial_first = s->events == 0;
  ++s->initial;
}

static int s_event(kefo_kinesis_subscription *sub, const kefo_records_event *ev,
                   void *ud) {
  sub_state *s = ud;
  size_t i;

  (void)sub;
  if (s->null_continuation) {
    ++s->events_after_end;
  }
  ++s->events;
  for (i = 0; i < ev->nrecords; ++i) {
    const char *seq = ev->records[i].seq;
    const uint8_t *data = ev->records[i].data;
    size_t dlen = ev->records[i].data_len;
    if (seq && s->last_seq[0] && kefo__seq_cmp(s->last_seq, seq) >= 0) {
      s->in_order = 0;
    }
    if (seq) {
      snprintf(s->last_seq, sizeof(s->last_seq), "%s", seq);
    }
    if (data && s->seen) {
      unsigned char raw[256];
      int n = EVP_DecodeBlock(raw, data, dlen < 340 ? (int)dlen : 0);
      long idx = n > 0 ? strtol((const char *)raw, NULL, 10) : -1;
      if (idx >= 0 && idx <= s->max_index) {
        s->duplicates += s->seen[idx];
        s->seen[idx] = 1;
      }
      ++s->nseen_total;
    } else if (data && s->records < 64) {
      unsigned char raw[64] = {0};
      if (dlen < 40) {
        EVP_DecodeBlock(raw, data, (int)dlen);
      }
      snprintf(s->data[s->records], sizeof(s->data[0]), "%.31s", raw);
    }
    ++s->records;
  }
  if (ev->continuation_null) {
    s->null_continuation = 1;
  } else if (ev->continuation && s->last_seq[0] &&
             strcmp(ev->continuation, s->last_seq) != 0) {
    /* The continuation is the last record sent. */
    s->in_order = 0;
  }
  if (ev->child_shards) {
    cJSON *k = cJSON_ParseWithLength((const char *)ev->child_shards,
                                     ev->child_shards_len);
    s->child_shards += cJSON_GetArraySize(k);
    cJSON_Delete(k);
  }
  return 0;
}

static void s_end(kefo_kinesis_subscription *sub, int error,
                  const kefo_error_info *info, void *ud) {
  sub_state *s = ud;

  (void)sub;
  s->ended = 1;
  s->end_error = error;
  s->sub = NULL;
  if (info && info->aws_type) {
    snprintf(s->aws_type, sizeof(s->aws_type), "%s", info->aws_type);
  }
}

static const kefo_kinesis_subscribe_callbacks sub_cb = {s_initial, s_event,
                                                        s_end};

static void subscribe_with(kefo_aws_client *client, const kefo_aws_service *svc,
                           sub_state *s, const char *consumer_arn,
                           const char *shard, const char *type) {
  memset(s, 0, sizeof(*s));
  s->in_order = 1;
  CU_ASSERT_EQUAL(kefo__kinesis_subscribe(client, svc, consumer_arn, shard,
                                          type, NULL, &sub_cb, s, &s->sub),
                  0);
}

static void subscribe(sub_state *s, const char *consumer_arn, const char *shard,
                      const char *type) {
  subscribe_with(aws, &kinesis, s, consumer_arn, shard, type);
}

static void cancel(sub_state *s) {
  if (!s->ended && s->sub) {
    kefo__kinesis_subscription_cancel(s->sub);
    s->sub = NULL;
  }
}

static void test_subscribe_records(void) {
  char arn[512], d[16];
  sub_state s;
  int i;

  create_stream("sub", 1);
  register_consumer("sub", "sub-consumer", arn, sizeof(arn));
  for (i = 0; i < 5; ++i) {
    snprintf(d, sizeof(d), "r%d", i);
    put_record("sub", "pk", d, NULL, NULL, 0);
  }
  subscribe(&s, arn, "shardId-000000000000", "TRIM_HORIZON");
  for (i = 0; i < 200 && s.records < 5 && !s.ended; ++i) {
    sleep_loop(10);
  }
  CU_ASSERT_EQUAL(s.initial, 1);
  CU_ASSERT(s.initial_first);
  CU_ASSERT_EQUAL(s.records, 5);
  /* An idle subscription still gets empty events (every 200 ms here). */
  {
    int before = s.events;
    sleep_loop(700);
    CU_ASSERT(s.events - before >= 2);
  }
  /* New records are pushed at once, not at the next idle tick: with the
     idle interval at a minute (the tick already armed at 200 ms fires
     first and re-arms with it), only the push can deliver them. */
  {
    cJSON *b = cJSON_CreateObject();
    int64_t t0;
    cJSON_AddNumberToObject(b, "IdleEventMs", 60000);
    cJSON_Delete(control_call("Configure", b));
    sleep_loop(400);
    t0 = now_ms();
    for (i = 5; i < 8; ++i) {
      snprintf(d, sizeof(d), "r%d", i);
      put_record("sub", "pk", d, NULL, NULL, 0);
    }
    for (i = 0; i < 1000 && s.records < 8 && !s.ended; ++i) {
      sleep_loop(5);
    }
    CU_ASSERT_EQUAL(s.records, 8);
    printf("\nmock: 3 records written during a subscription arrived in %lld "
           "ms\n",
           (long long)(now_ms() - t0));
    b = cJSON_CreateObject();
    cJSON_AddNumberToObject(b, "IdleEventMs", 200);
    cJSON_Delete(control_call("Configure", b));
  }
  for (i = 0; i < 8; ++i) {
    snprintf(d, sizeof(d), "r%d", i);
    CU_ASSERT_STRING_EQUAL(s.data[i], d);
  }
  CU_ASSERT(s.in_order);
  CU_ASSERT_EQUAL(s.ended, 0);
  cancel(&s);
  printf("mock: initial-response first, then %d records in order over %d "
         "events\n",
         s.records, s.events);
}

static void test_split_ends_subscription(void) {
  char arn[512];
  sub_state s;
  cJSON *b, *j;
  int i;

  create_stream("split", 1);
  register_consumer("split", "split-consumer", arn, sizeof(arn));
  put_record("split", "a", "one", NULL, NULL, 0);
  subscribe(&s, arn, "shardId-000000000000", "TRIM_HORIZON");
  for (i = 0; i < 200 && s.records < 1; ++i) {
    sleep_loop(10);
  }
  put_record("split", "b", "two", NULL, NULL, 0);
  put_record("split", "c", "three", NULL, NULL, 0);
  b = obj("StreamName", "split", "ShardToSplit", "shardId-000000000000");
  cJSON_AddStringToObject(b, "NewStartingHashKey",
                          "170141183460469231731687303715884105728");
  cJSON_Delete(call_ok("SplitShard", b));
  run_until(&s.ended, 5000);
  CU_ASSERT(s.ended);
  CU_ASSERT_EQUAL(s.end_error, 0);
  CU_ASSERT_EQUAL(s.records, 3);
  CU_ASSERT_EQUAL(s.child_shards, 2);
  CU_ASSERT(s.null_continuation);
  CU_ASSERT_EQUAL(s.events_after_end, 0);
  CU_ASSERT(s.in_order);
  printf("\nmock: after SplitShard the parent's subscription ended cleanly: "
         "%d records, %d child shards, null continuation, END_STREAM\n",
         s.records, s.child_shards);
  /* ListShards shows the lineage and the parent's end. */
  j = call_ok("ListShards", obj("StreamName", "split", NULL, NULL));
  {
    cJSON *shards = cJSON_GetObjectItem(j, "Shards");
    cJSON *p = cJSON_GetArrayItem(shards, 0),
          *c1 = cJSON_GetArrayItem(shards, 1);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(shards), 3);
    CU_ASSERT_PTR_NOT_NULL(str(cJSON_GetObjectItem(p, "SequenceNumberRange"),
                               "EndingSequenceNumber"));
    CU_ASSERT_STRING_EQUAL(str(c1, "ParentShardId"), "shardId-000000000000");
  }
  cJSON_Delete(j);
  /* A subscription to a finished shard gets the end at once. */
  sleep_loop(1000);
  subscribe(&s, arn, "shardId-000000000000", "LATEST");
  run_until(&s.ended, 5000);
  CU_ASSERT(s.ended);
  CU_ASSERT_EQUAL(s.end_error, 0);
  CU_ASSERT_EQUAL(s.records, 0);
  CU_ASSERT_EQUAL(s.child_shards, 2);
  CU_ASSERT(s.null_continuation);
  cancel(&s);
}

static void test_get_records_shard_end(void) {
  cJSON *j, *b;
  const char *it;
  char iter[512];
  const cJSON *next;

  b = obj("StreamName", "split", "ShardId", "shardId-000000000000");
  cJSON_AddStringToObject(b, "ShardIteratorType", "TRIM_HORIZON");
  j = call_ok("GetShardIterator", b);
  it = str(j, "ShardIterator");
  CU_ASSERT_PTR_NOT_NULL_FATAL(it);
  snprintf(iter, sizeof(iter), "%s", it);
  cJSON_Delete(j);
  b = obj("ShardIterator", iter, NULL, NULL);
  cJSON_AddNumberToObject(b, "Limit", 2);
  j = call_ok("GetRecords", b);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "Records")), 2);
  CU_ASSERT_PTR_NOT_NULL(str(j, "NextShardIterator"));
  snprintf(iter, sizeof(iter), "%s",
           str(j, "NextShardIterator") ? str(j, "NextShardIterator") : "");
  cJSON_Delete(j);
  j = call_ok("GetRecords", obj("ShardIterator", iter, NULL, NULL));
  CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "Records")), 1);
  next = cJSON_GetObjectItem(j, "NextShardIterator");
  CU_ASSERT(next != NULL && cJSON_IsNull(next));
  CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "ChildShards")), 2);
  CU_ASSERT_EQUAL(
      cJSON_GetArraySize(cJSON_GetObjectItem(
          cJSON_GetArrayItem(cJSON_GetObjectItem(j, "ChildShards"), 0),
          "ParentShards")),
      1);
  cJSON_Delete(j);
  printf("\nmock: GetRecords at the closed shard's end: NextShardIterator "
         "null, 2 ChildShards\n");
}

/* Kinesis allows five GetRecords calls a second per shard: the sixth
   within a second is throttled, and a second later calls pass again. */
static void test_get_records_throttle(void) {
  cJSON *j, *b;
  char iter[512];
  result r;
  int i, ok = 0;

  b = obj("StreamName", "split", "ShardId", "shardId-000000000001");
  cJSON_AddStringToObject(b, "ShardIteratorType", "TRIM_HORIZON");
  j = call_ok("GetShardIterator", b);
  CU_ASSERT_PTR_NOT_NULL_FATAL(str(j, "ShardIterator"));
  snprintf(iter, sizeof(iter), "%s", str(j, "ShardIterator"));
  cJSON_Delete(j);
  for (i = 0; i < 6; ++i) {
    j = call("GetRecords", obj("ShardIterator", iter, NULL, NULL), &r);
    ok += r.error == 0;
    cJSON_Delete(j);
  }
  CU_ASSERT_EQUAL(ok, 5);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(r.aws_type, "ProvisionedThroughputExceededException");
  sleep_loop(1100);
  j = call_ok("GetRecords", obj("ShardIterator", iter, NULL, NULL));
  cJSON_Delete(j);
  printf("\nmock: 6 GetRecords within a second: %d answered, the sixth "
         "throttled\n",
         ok);
}

/* A shard iterator older than IteratorLifetimeMs (Kinesis: 5 minutes) is
   refused with ExpiredIteratorException. */
static void test_iterator_expiry(void) {
  cJSON *j, *b;
  char iter[512];
  result r;

  b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "IteratorLifetimeMs", 300);
  cJSON_Delete(control_call("Configure", b));
  b = obj("StreamName", "split", "ShardId", "shardId-000000000002");
  cJSON_AddStringToObject(b, "ShardIteratorType", "TRIM_HORIZON");
  j = call_ok("GetShardIterator", b);
  CU_ASSERT_PTR_NOT_NULL_FATAL(str(j, "ShardIterator"));
  snprintf(iter, sizeof(iter), "%s", str(j, "ShardIterator"));
  cJSON_Delete(j);
  j = call_ok("GetRecords", obj("ShardIterator", iter, NULL, NULL));
  cJSON_Delete(j);
  sleep_loop(400);
  j = call("GetRecords", obj("ShardIterator", iter, NULL, NULL), &r);
  cJSON_Delete(j);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(r.aws_type, "ExpiredIteratorException");
  printf("\nmock: a 400-ms-old iterator with a 300 ms lifetime: %s\n",
         r.aws_type);
  b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "IteratorLifetimeMs", 300000);
  cJSON_Delete(control_call("Configure", b));
}

static void test_lifetime(void) {
  char arn[512];
  sub_state s;
  cJSON *b, *j;
  int64_t t0;

  create_stream("life", 1);
  register_consumer("life", "life-consumer", arn, sizeof(arn));
  b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "SubscriptionLifetimeMs", 500);
  j = control_call("Configure", b);
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "Config"),
                                      "SubscriptionLifetimeMs")
                      ->valueint,
                  500);
  cJSON_Delete(j);
  t0 = now_ms();
  subscribe(&s, arn, "shardId-000000000000", "LATEST");
  run_until(&s.ended, 5000);
  CU_ASSERT(s.ended);
  CU_ASSERT_EQUAL(s.end_error, 0);
  CU_ASSERT_EQUAL(s.child_shards, 0);
  CU_ASSERT(now_ms() - t0 >= 450 && now_ms() - t0 < 2000);
  printf("\nmock: a 500 ms lifetime ended the subscription after %lld ms\n",
         (long long)(now_ms() - t0));
  b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "SubscriptionLifetimeMs", 300000);
  cJSON_Delete(control_call("Configure", b));
  {
    result r;
    /* Unknown settings are refused by name. */
    b = cJSON_CreateObject();
    cJSON_AddNumberToObject(b, "NoSuchSetting", 1);
    call_with(aws, &control, "Configure", b, &r);
    CU_ASSERT_EQUAL(r.error, KEFO_ERR_AWS);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.message, "NoSuchSetting"));
  }
}

static void test_limits(void) {
  char arn[512];
  sub_state a, b, c;
  cJSON *j, *shard;

  create_stream("limits", 1);
  register_consumer("limits", "limits-consumer", arn, sizeof(arn));
  subscribe(&a, arn, "shardId-000000000000", "LATEST");
  run_until(&a.initial, 5000);
  /* Within the second: throttled. */
  subscribe(&b, arn, "shardId-000000000000", "LATEST");
  run_until(&b.ended, 5000);
  CU_ASSERT_EQUAL(b.end_error, KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(b.aws_type, "LimitExceededException");
  /* A second later, while the first is live: in use. */
  sleep_loop(1100);
  subscribe(&c, arn, "shardId-000000000000", "LATEST");
  run_until(&c.ended, 5000);
  CU_ASSERT_EQUAL(c.end_error, KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(c.aws_type, "ResourceInUseException");
  CU_ASSERT_EQUAL(a.ended, 0);
  cancel(&a);
  /* Unknown shard and consumer. */
  subscribe(&b, arn, "shardId-000000000042", "LATEST");
  run_until(&b.ended, 5000);
  CU_ASSERT_STRING_EQUAL(b.aws_type, "ResourceNotFoundException");
  subscribe(&b, "arn:aws:kinesis:us-east-1:123456789012:stream/x/consumer/y:1",
            "shardId-000000000000", "LATEST");
  run_until(&b.ended, 5000);
  CU_ASSERT_STRING_EQUAL(b.aws_type, "ResourceNotFoundException");
  j = control_call("Stats", NULL);
  shard = cJSON_GetObjectItem(
      cJSON_GetObjectItem(
          cJSON_GetObjectItem(cJSON_GetObjectItem(j, "Streams"), "limits"),
          "Shards"),
      "shardId-000000000000");
  shard = cJSON_GetObjectItem(shard, "SubscribeToShard");
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(shard, "Calls")->valueint, 3);
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(shard, "LimitExceeded")->valueint, 1);
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(shard, "ResourceInUse")->valueint, 1);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(shard, "TimesMs")), 3);
  cJSON_Delete(j);
  printf("\nmock: second SubscribeToShard within 1 s: LimitExceededException;"
         " a concurrent one later: ResourceInUseException; Stats counted "
         "both\n");
}

/* A consumer is CREATING for ConsumerDelayMs: SubscribeToShard fails with
   ResourceInUseException until it is ACTIVE. */
static void test_consumer_delay(void) {
  char arn[512];
  sub_state s;
  cJSON *b, *j;

  b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "ConsumerDelayMs", 400);
  cJSON_Delete(control_call("Configure", b));
  register_consumer("limits", "slow-consumer", arn, sizeof(arn));
  j = call_ok("DescribeStreamConsumer", obj("ConsumerARN", arn, NULL, NULL));
  CU_ASSERT_STRING_EQUAL(
      str(cJSON_GetObjectItem(j, "ConsumerDescription"), "ConsumerStatus"),
      "CREATING");
  cJSON_Delete(j);
  subscribe(&s, arn, "shardId-000000000000", "LATEST");
  run_until(&s.ended, 5000);
  CU_ASSERT_STRING_EQUAL(s.aws_type, "ResourceInUseException");
  sleep_loop(500);
  j = call_ok("DescribeStreamConsumer", obj("ConsumerARN", arn, NULL, NULL));
  CU_ASSERT_STRING_EQUAL(
      str(cJSON_GetObjectItem(j, "ConsumerDescription"), "ConsumerStatus"),
      "ACTIVE");
  cJSON_Delete(j);
  subscribe(&s, arn, "shardId-000000000000", "LATEST");
  run_until(&s.initial, 5000);
  CU_ASSERT_EQUAL(s.initial, 1);
  CU_ASSERT_EQUAL(s.ended, 0);
  cancel(&s);
  b = cJSON_CreateObject();
  cJSON_AddNumberToObject(b, "ConsumerDelayMs", 0);
  cJSON_Delete(control_call("Configure", b));
  printf("\nmock: a consumer CREATING for 400 ms refused subscriptions with "
         "ResourceInUseException, then served them\n");
}

static void test_consumers_and_validation(void) {
  char sarn[256], arn[512];
  cJSON *j;
  result r;

  stream_arn("paged", sarn, sizeof(sarn));
  register_consumer("paged", "c1", arn, sizeof(arn));
  register_consumer("paged", "c2", arn, sizeof(arn));
  j = call_ok("ListStreamConsumers", obj("StreamARN", sarn, NULL, NULL));
  CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "Consumers")), 2);
  CU_ASSERT_PTR_NULL(str(j, "NextToken"));
  cJSON_Delete(j);
  {
    /* One a page: a NextToken, then the other consumer and none. */
    char token[128], first[64];
    cJSON *b = obj("StreamARN", sarn, NULL, NULL);
    cJSON_AddNumberToObject(b, "MaxResults", 1);
    j = call_ok("ListStreamConsumers", b);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "Consumers")), 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(str(j, "NextToken"));
    snprintf(token, sizeof(token), "%s", str(j, "NextToken"));
    snprintf(first, sizeof(first), "%s",
             str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "Consumers"), 0),
                 "ConsumerName"));
    cJSON_Delete(j);
    b = obj("StreamARN", sarn, "NextToken", token);
    cJSON_AddNumberToObject(b, "MaxResults", 1);
    j = call_ok("ListStreamConsumers", b);
    CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "Consumers")), 1);
    CU_ASSERT_PTR_NULL(str(j, "NextToken"));
    CU_ASSERT_STRING_NOT_EQUAL(
        str(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "Consumers"), 0),
            "ConsumerName"),
        first);
    cJSON_Delete(j);
    call("ListStreamConsumers", obj("StreamARN", sarn, "NextToken", "x"), &r);
    CU_ASSERT_STRING_EQUAL(r.aws_type, "InvalidArgumentException");
  }
  j = call_ok("DescribeStreamConsumer",
              obj("StreamARN", sarn, "ConsumerName", "c2"));
  CU_ASSERT_STRING_EQUAL(
      str(cJSON_GetObjectItem(j, "ConsumerDescription"), "ConsumerARN"), arn);
  CU_ASSERT_STRING_EQUAL(
      str(cJSON_GetObjectItem(j, "ConsumerDescription"), "ConsumerStatus"),
      "ACTIVE");
  cJSON_Delete(j);
  cJSON_Delete(
      call_ok("DeregisterStreamConsumer", obj("ConsumerARN", arn, NULL, NULL)));
  call("DescribeStreamConsumer", obj("ConsumerARN", arn, NULL, NULL), &r);
  CU_ASSERT_STRING_EQUAL(r.aws_type, "ResourceNotFoundException");
  j = call_ok("DescribeStreamSummary", obj("StreamName", "paged", NULL, NULL));
  CU_ASSERT_EQUAL(
      cJSON_GetObjectItem(cJSON_GetObjectItem(j, "StreamDescriptionSummary"),
                          "OpenShardCount")
          ->valueint,
      5);
  cJSON_Delete(j);
  /* Missing fields: a 400 naming the member. */
  call("CreateStream", cJSON_CreateObject(), &r);
  CU_ASSERT_EQUAL(r.status, 400);
  CU_ASSERT_STRING_EQUAL(r.aws_type, "ValidationException");
  CU_ASSERT_PTR_NOT_NULL(strstr(r.message, "StreamName"));
  {
    /* Data: base64 of at most 1 MiB, else a 400. The limit is exact:
       1 MiB is stored, 1 MiB + 1 byte is refused, and so is text too long
       to be 1 MiB. */
    static const size_t sizes[3] = {1024 * 1024, 1024 * 1024 + 1,
                                    1024 * 1024 + 4};
    unsigned char *raw = calloc(sizes[2], 1);
    char *text = malloc(sizes[2] / 3 * 4 + 8);
    cJSON *b = obj("StreamName", "paged", "PartitionKey", "pk");
    int k;
    cJSON_AddStringToObject(b, "Data", "not base64!");
    call("PutRecord", b, &r);
    CU_ASSERT_EQUAL(r.status, 400);
    CU_ASSERT_STRING_EQUAL(r.aws_type, "SerializationException");
    CU_ASSERT_FATAL(raw && text);
    for (k = 0; k < 3; ++k) {
      EVP_EncodeBlock((unsigned char *)text, raw, (int)sizes[k]);
      b = obj("StreamName", "paged", "PartitionKey", "pk");
      cJSON_AddStringToObject(b, "Data", text);
      j = call("PutRecord", b, &r);
      if (k == 0) {
        CU_ASSERT_EQUAL(r.error, 0);
      } else {
        CU_ASSERT_EQUAL(r.status, 400);
        CU_ASSERT_STRING_EQUAL(r.aws_type, "ValidationException");
      }
      cJSON_Delete(j);
    }
    free(raw);
    free(text);
  }
}

/* A provider whose secret the server does not know. */
static int bad_creds_get(kefo_credentials_provider *p, kefo_credentials_cb cb,
                         void *ud) {
  kefo_credentials c = {"AKIDKEFOTEST", "not-the-secret", NULL, 0};

  (void)p;
  cb(0, &c, NULL, ud);
  return 0;
}

static void bad_creds_del(kefo_credentials_provider *p) {
  (void)p;
}

static const kefo_credentials_provider_ops bad_ops = {bad_creds_get,
                                                      bad_creds_del, NULL};
static kefo_credentials_provider bad_creds = {&bad_ops, "bad"};

static void test_signature(void) {
  result r;

  /* Every other test here was signed with the right secret and passed. */
  call_with(bad_aws, &kinesis, "DescribeStreamSummary",
            obj("StreamName", "paged", NULL, NULL), &r);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_AWS);
  CU_ASSERT_EQUAL(r.status, 403);
  CU_ASSERT_STRING_EQUAL(r.aws_type, "InvalidSignatureException");
  CU_ASSERT_PTR_NOT_NULL(strstr(r.message, "Canonical String"));
  CU_ASSERT_PTR_NULL(strstr(r.message, "not-the-secret"));
  printf("\nmock: wrong secret: 403 %s\n", r.aws_type);
}

static void on_raw(int error, const uint8_t *body, size_t len,
                   const kefo_error_info *info, void *ud) {
  result *r = ud;

  (void)body;
  (void)len;
  r->done = 1;
  r->error = error;
  if (info) {
    snprintf(r->aws_type, sizeof(r->aws_type), "%s",
             info->aws_type ? info->aws_type : "");
    r->status = info->http_status;
  }
}

static void on_sent(void *ud) {
  result *r = ud;

  ++r->sent;
  r->sent_early += !r->done;
}

/* A lent body with |hash| given as its payload hash, told when it is sent
   (|sent|) or not, in |attempts| attempts. */
static int lent_call_told(const char *text, const char *hash, int sent,
                          uint32_t attempts, result *r) {
  kefo_retry_strategy rs = {10, 50, attempts};
  int rv;

  memset(r, 0, sizeof(*r));
  rv = kefo__aws_call_start_lent(aws, &kinesis, "DescribeStreamSummary",
                                 (const uint8_t *)text, strlen(text), hash, &rs,
                                 on_raw, sent ? on_sent : NULL, r, NULL);
  if (rv == 0) {
    run_until(&r->done, 10000);
    CU_ASSERT(r->done);
  }
  return rv;
}

static int lent_call(const char *text, const char *hash, result *r) {
  return lent_call_told(text, hash, 0, 1, r);
}

/* The payload hash a caller gives (the producer hashes a pass's bodies
   together) is the one signed: the mock hashes the body it received and
   refuses a signature made with any other. Malformed hashes are refused
   before anything is sent. */
static void test_given_payload_hash(void) {
  static const char text[] = "{\"StreamName\":\"paged\"}";
  uint8_t md[KEFO_SHA256_LEN];
  char hex[2 * KEFO_SHA256_LEN + 1], bad[sizeof(hex)];
  kefo_sha256_job job;
  result r;

  job.data = (const uint8_t *)text;
  job.len = strlen(text);
  job.out = md;
  CU_ASSERT_FATAL(kefo__sha256_many(&job, 1) == 0);
  kefo__sha256_hex(md, hex);
  CU_ASSERT_EQUAL(lent_call(text, hex, &r), 0);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT_EQUAL(lent_call(text, NULL, &r), 0);
  CU_ASSERT_EQUAL(r.error, 0);
  /* Well formed, but another body's. */
  memcpy(bad, hex, sizeof(hex));
  bad[0] = bad[0] == '0' ? '1' : '0';
  CU_ASSERT_EQUAL(lent_call(text, bad, &r), 0);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_AWS);
  CU_ASSERT_EQUAL(r.status, 403);
  CU_ASSERT_STRING_EQUAL(r.aws_type, "InvalidSignatureException");
  printf("\nmock: the body's own hash given: signed and answered; another "
         "body's: %d %s\n",
         r.status, r.aws_type);
  /* Upper case, short, not hex. */
  memcpy(bad, hex, sizeof(hex));
  bad[5] = 'A';
  CU_ASSERT_EQUAL(lent_call(text, bad, &r), KEFO_ERR_INVALID_ARGUMENT);
  memcpy(bad, hex, sizeof(hex));
  bad[63] = '\0';
  CU_ASSERT_EQUAL(lent_call(text, bad, &r), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(lent_call(text, "UNSIGNED-PAYLOAD", &r),
                  KEFO_ERR_INVALID_ARGUMENT);
  /* Told once the body is sent, before the answer; only for a call of
     one attempt (another attempt would send the body again). */
  CU_ASSERT_EQUAL(lent_call_told(text, hex, 1, 1, &r), 0);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT_EQUAL(r.sent, 1);
  CU_ASSERT_EQUAL(r.sent_early, 1);
  printf("mock: a lent body told sent %d time(s), %d before the answer\n",
         r.sent, r.sent_early);
  CU_ASSERT_EQUAL(lent_call_told(text, hex, 1, 3, &r),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(lent_call_told(text, hex, 0, 3, &r), 0);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT_EQUAL(r.sent, 0);
}

static void test_tls_and_volume(void) {
  const char *env = getenv("MOCK_VOLUME_RECORDS");
  long total = env ? atol(env) : 0, seen = 0, dups = 0, i;
  char arn[512], sarn[256];
  sub_state *subs;
  unsigned char *bitmap;
  int64_t t0;
  int k, done;
  cJSON *j;

  stream_arn("volume", sarn, sizeof(sarn));
  j = call_with(tls_aws, &tls_kinesis, "RegisterStreamConsumer",
                obj("StreamARN", sarn, "ConsumerName", "volume-consumer"),
                &(result){0});
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  snprintf(arn, sizeof(arn), "%s",
           str(cJSON_GetObjectItem(j, "Consumer"), "ConsumerARN"));
  cJSON_Delete(j);
  printf("\nmock: TLS (test CA, ALPN h2): RegisterStreamConsumer answered\n");
  {
    /* Without the test CA (a client given no CA file, whose TLS context
       is made at its first TLS connection): the server's certificate is
       refused, naming why. */
    result r;
    cJSON_Delete(call_with(aws, &tls_kinesis, "ListShards",
                           obj("StreamName", "volume", NULL, NULL), &r));
    CU_ASSERT_EQUAL(r.error, KEFO_ERR_TLS);
    CU_ASSERT_PTR_NOT_NULL(strstr(r.message, "certificate verify failed"));
    printf("mock: TLS without the test CA: %s\n", r.message);
  }
  subs = calloc(16, sizeof(*subs));
  bitmap = calloc((size_t)total + 1, 1);
  t0 = now_ms();
  for (k = 0; k < 16; ++k) {
    char shard[32];
    snprintf(shard, sizeof(shard), "shardId-%012d", k);
    subscribe_with(tls_aws, &tls_kinesis, &subs[k], arn, shard, "TRIM_HORIZON");
    subs[k].seen = bitmap;
    subs[k].max_index = total - 1;
  }
  for (done = 0; !done && now_ms() - t0 < 300000;) {
    long n = 0;
    sleep_loop(20);
    for (k = 0; k < 16; ++k) {
      n += subs[k].nseen_total;
      done |= subs[k].ended;
    }
    done |= n >= total;
  }
  for (k = 0; k < 16; ++k) {
    seen += subs[k].nseen_total;
    dups += subs[k].duplicates;
    CU_ASSERT(subs[k].initial_first);
    CU_ASSERT(subs[k].in_order);
    CU_ASSERT_EQUAL(subs[k].ended, 0);
    cancel(&subs[k]);
  }
  for (i = 0; i < total; ++i) {
    if (!bitmap[i]) {
      break;
    }
  }
  CU_ASSERT_EQUAL(seen, total);
  CU_ASSERT_EQUAL(dups, 0);
  CU_ASSERT_EQUAL(i, total);
  printf("mock: read %ld preloaded records of 100 B over 16 TLS "
         "subscriptions in %lld ms, every index once\n",
         seen, (long long)(now_ms() - t0));
  free(bitmap);
  free(subs);
}

/* One request as sent, not through kefo_aws_call: bodies that no JSON
   writer would make. */
typedef struct raw_call {
  int done, error, status;
  char body[1024];
  size_t len;
} raw_call;

static int raw_response(kefo_http_stream *st, int status,
                        const kefo_http_header *h, size_t nh, void *ud) {
  raw_call *c = ud;

  (void)st;
  (void)h;
  (void)nh;
  c->status = status;
  return 0;
}

static int raw_data(kefo_http_stream *st, const uint8_t *data, size_t len,
                    void *ud) {
  raw_call *c = ud;
  size_t n =
      len < sizeof(c->body) - 1 - c->len ? len : sizeof(c->body) - 1 - c->len;

  memcpy(c->body + c->len, data, n);
  c->len += n;
  c->body[c->len] = '\0';
  kefo__http_stream_consume(st, len);
  return 0;
}

static void raw_close(kefo_http_stream *st, int error,
                      const kefo_error_info *info, void *ud) {
  raw_call *c = ud;

  (void)st;
  (void)info;
  c->error = error;
  c->done = 1;
}

static void raw_post(const char *target, const void *body, size_t len,
                     raw_call *c) {
  static const kefo_http_callbacks cbs = {raw_response, raw_data, raw_close,
                                          NULL};
  kefo_http_header h[2] = {{"content-type", "application/x-amz-json-1.1"},
                           {"x-amz-target", target}};
  kefo_http_request req;

  memset(c, 0, sizeof(*c));
  memset(&req, 0, sizeof(req));
  req.endpoint = &kinesis.endpoint;
  req.version = KEFO_HTTP_2;
  req.method = "POST";
  req.path = "/";
  req.headers = h;
  req.nheaders = 2;
  req.body = body;
  req.body_len = len;
  CU_ASSERT_EQUAL_FATAL(kefo__http_client_request(http, &req, &cbs, c, NULL),
                        0);
  run_until(&c->done, 20000);
  CU_ASSERT(c->done);
  CU_ASSERT_EQUAL(c->error, 0);
}

static void test_bad_requests(void) {
  static const struct {
    const char *body, *type;
  } bad[] = {
      {"{\"SubscriptionLifetimeMs\":", "SerializationException"},
      {"[1,2]", "SerializationException"},
      {"\"text\"", "SerializationException"},
      {"{\"SubscriptionLifetimeMs\":1e300}", "ValidationException"},
      {"{\"SubscriptionLifetimeMs\":\"5\"}", "ValidationException"},
  };
  size_t i, big = 10 * 1024 * 1024 + 1;
  char *body;
  raw_call c;

  /* The control target needs no signature, so these reach the parser. */
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    raw_post("KefoMock.Configure", bad[i].body, strlen(bad[i].body), &c);
    CU_ASSERT_EQUAL(c.status, 400);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.body, bad[i].type));
  }
  body = malloc(big);
  CU_ASSERT_PTR_NOT_NULL_FATAL(body);
  memset(body, ' ', big);
  raw_post("KefoMock.Stats", body, big, &c);
  free(body);
  CU_ASSERT_EQUAL(c.status, 400);
  CU_ASSERT_PTR_NOT_NULL(strstr(c.body, "larger than 10 MB"));
  /* Unsigned Kinesis calls: 403 before the body is looked at. */
  raw_post("Kinesis_20131202.ListShards", "{", 1, &c);
  CU_ASSERT_EQUAL(c.status, 403);
  CU_ASSERT_PTR_NOT_NULL(strstr(c.body, "MissingAuthenticationToken"));
  raw_post("Kinesis_20131202", "{}", 2, &c);
  CU_ASSERT_EQUAL(c.status, 400);
  CU_ASSERT_PTR_NOT_NULL(strstr(c.body, "UnknownOperationException"));
  /* The server is still there and its settings unchanged. */
  raw_post("KefoMock.Stats", "", 0, &c);
  CU_ASSERT_EQUAL(c.status, 200);
  CU_ASSERT_PTR_NOT_NULL(strstr(c.body, "\"Streams\""));
  printf("\nmock: malformed and non-object JSON, a bad setting, an 11 MB "
         "body and an unsigned call: 400s and a 403, server still up\n");
}

int main(void) {
  kefo_http_client_options opts;
  CU_pSuite s;
  unsigned failures;
  char url[128];

  base = event_base_new();
  kefo__http_client_options_init(&opts);
  opts.ca_file = getenv("MOCK_CA");
  if (kefo__http_client_new(&http, base, NULL) != 0 ||
      kefo__http_client_new(&tls_http, base, &opts) != 0 ||
      kefo__aws_client_new(&aws, base, http, kefo_test_credentials(), NULL,
                           NULL) != 0 ||
      kefo__aws_client_new(&bad_aws, base, http, &bad_creds, NULL, NULL) != 0 ||
      kefo__aws_client_new(&tls_aws, base, tls_http, kefo_test_credentials(),
                           NULL, NULL) != 0) {
    return 1;
  }
  snprintf(url, sizeof(url), "http://127.0.0.1:%s", getenv("MOCK_PORT"));
  kefo__aws_service_kinesis(&kinesis, url, "us-east-1");
  control = kinesis;
  control.target_prefix = "KefoMock";
  snprintf(url, sizeof(url), "https://127.0.0.1:%s", getenv("MOCK_TLS_PORT"));
  kefo__aws_service_kinesis(&tls_kinesis, url, "us-east-1");
  CU_initialize_registry();
  s = CU_add_suite("mock_server", NULL, NULL);
  CU_add_test(s, "ListShards paging", test_list_shards_paging);
  CU_add_test(s, "ListShards through kefo's lister", test_list_shards_client);
  CU_add_test(s, "PutRecords routing", test_put_records_routing);
  CU_add_test(s, "consumers and validation", test_consumers_and_validation);
  CU_add_test(s, "SubscribeToShard records", test_subscribe_records);
  CU_add_test(s, "SplitShard ends the subscription",
              test_split_ends_subscription);
  CU_add_test(s, "GetRecords at shard end", test_get_records_shard_end);
  CU_add_test(s, "GetRecords throttled past 5 a second",
              test_get_records_throttle);
  CU_add_test(s, "iterators expire", test_iterator_expiry);
  CU_add_test(s, "subscription lifetime", test_lifetime);
  CU_add_test(s, "LimitExceeded and ResourceInUse", test_limits);
  CU_add_test(s, "consumer delay", test_consumer_delay);
  CU_add_test(s, "SigV4 checked", test_signature);
  CU_add_test(s, "a given payload hash is signed", test_given_payload_hash);
  CU_add_test(s, "bad requests get a 400", test_bad_requests);
  CU_add_test(s, "TLS and a volume read", test_tls_and_volume);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  kefo__aws_client_del(aws);
  kefo__aws_client_del(bad_aws);
  kefo__aws_client_del(tls_aws);
  kefo__http_client_del(http);
  kefo__http_client_del(tls_http);
  event_base_free(base);
  return failures ? 1 : 0;
}
