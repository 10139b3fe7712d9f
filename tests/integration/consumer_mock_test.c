/*
 * The consumer against the project's mock Kinesis server (started by
 * tests/integration/consumer_mock_test.sh), which behaves as real Kinesis does
 * where kinesis-local does not: an initial-response first, ChildShards and a
 * null continuation at shard end, subscriptions of a set lifetime,
 * GetRecords throttled past five calls a second per shard. The same tests
 * run twice, once per reader type (EFO, then polling):
 *
 * - volume: 1,000,000 preloaded records over 16 shards, read exactly once
 *   and in order per shard; prints records/s, CPU seconds per million
 *   records and peak RSS.
 * - resharding while reading: one shard split and two merged while the
 *   test writes; no child record before the last record of each of its
 *   parents; nothing lost or duplicated.
 * - EFO: 2-second subscriptions for a minute of steady writes: no gap, no
 *   duplicate, never two SubscribeToShard calls within a second on a
 *   shard (counted by the server).
 * - polling: a minute of steady writes: no gap, no duplicate, never more
 *   than five GetRecords calls in any second on a shard (counted by the
 *   server), then the CPU used by an idle stream.
 * - a slow application: what the server sent and on_records has not yet
 *   had stays within two events (EFO) or one answer (polling) per shard,
 *   however large the backlog.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <event2/event.h>

#include <kefo/kefo.h>

#include "aws/aws_client.h"
#include "base/base64.h"
#include "efo/subscription.h"
#include "tests/support/aws_test_util.h"

#define MAX_SHARDS 32

static struct event_base *base;
/* The reader type under test: "EFO" or "POLLING", set by the suite. */
static const char *reader = "EFO";
static kefo_http_client *http;
static kefo_aws_client *aws;
/* A second loop and client for the slow tests' counts, asked and
   answered while the consumer's loop waits, so that nothing is delivered
   between the question and the answer. */
static struct event_base *probe_base;
static kefo_http_client *probe_http;
static kefo_aws_client *probe_aws;

/* ---- raw API calls ---------------------------------------------------- */

typedef struct answer {
  int done;
  int error;
  cJSON *resp;
} answer;

static void on_answer(int error, const cJSON *resp, const kefo_error_info *info,
                      void *ud) {
  answer *a = ud;
  a->done = 1;
  a->error = error;
  if (resp) {
    a->resp = cJSON_Duplicate(resp, 1);
  }
  if (error && info && info->message) {
    printf("call failed: %s\n", info->message);
  }
}

static void call(kefo_aws_service *svc, const char *op, cJSON *body,
                 answer *a) {
  memset(a, 0, sizeof(*a));
  kefo__aws_call_start(aws, svc, op, body, NULL, on_answer, a, NULL);
  cJSON_Delete(body);
  kefo_test_run_until(base, &a->done, 30000);
}

static void service(kefo_aws_service *svc, const char *port_env) {
  char url[128];
  snprintf(url, sizeof(url), "http://127.0.0.1:%s", getenv(port_env));
  kefo__aws_service_kinesis(svc, url, "us-east-1");
}

/* ---- what a consumer saw ---------------------------------------------- */

typedef struct tally {
  unsigned char *count; /* deliveries per record index, saturating */
  long n;               /* indices 0..n-1 expected */
  long records;
  long bad_data;
  long out_of_order;
  long child_early; /* records of a shard delivered before a parent ended */
  int errors;
  int finished;
  char shard[MAX_SHARDS][32];
  char last[MAX_SHARDS][KEFO_SEQ_MAX];
  int ended[MAX_SHARDS];
  /* parents[k]: up to two slots whose end shard k must wait for. */
  int parents[MAX_SHARDS][2];
  int nparents[MAX_SHARDS];
  const char *prefix; /* data is "<prefix><index>..." */
} tally;

static int slot_of(tally *t, const char *shard) {
  int k;
  for (k = 0; k < MAX_SHARDS; ++k) {
    if (t->shard[k][0] == 0) {
      snprintf(t->shard[k], sizeof(t->shard[k]), "%s", shard);
      return k;
    }
    if (strcmp(t->shard[k], shard) == 0) {
      return k;
    }
  }
  return -1;
}

static int on_records(kefo_consumer *c, const char *shard, const kefo_record *r,
                      size_t n, int64_t behind, void *ud) {
  tally *t = ud;
  int k = slot_of(t, shard), p;
  size_t i, plen = strlen(t->prefix);

  (void)c;
  (void)behind;
  if (k < 0) {
    t->bad_data += (long)n;
    return 0;
  }
  for (p = 0; p < t->nparents[k]; ++p) {
    if (!t->ended[t->parents[k][p]]) {
      t->child_early += (long)n;
    }
  }
  for (i = 0; i < n; ++i) {
    long idx = 0;
    size_t j = plen;
    if (r[i].data_len <= plen || memcmp(r[i].data, t->prefix, plen) != 0) {
      ++t->bad_data;
      continue;
    }
    while (j < r[i].data_len && r[i].data[j] >= '0' && r[i].data[j] <= '9' &&
           idx < 100000000) {
      idx = idx * 10 + (r[i].data[j++] - '0');
    }
    if (j == plen || idx >= t->n) {
      ++t->bad_data;
    } else if (t->count[idx] < 255) {
      ++t->count[idx];
    }
    if (t->last[k][0] && kefo__seq_cmp(t->last[k], r[i].sequence_number) >= 0) {
      ++t->out_of_order;
    }
    snprintf(t->last[k], sizeof(t->last[k]), "%s", r[i].sequence_number);
  }
  t->records += (long)n;
  return 0;
}

static void on_shard_event(kefo_consumer *c, const char *shard,
                           kefo_shard_event ev, void *ud) {
  tally *t = ud;
  (void)c;
  if (ev == KEFO_SHARD_EVENT_FINISHED) {
    int k = slot_of(t, shard);
    if (k >= 0) {
      t->ended[k] = 1;
    }
    ++t->finished;
  }
}

static void on_error(kefo_consumer *c, const kefo_error_info *e, void *ud) {
  tally *t = ud;
  (void)c;
  ++t->errors;
  printf("consumer error: %s: %s (%s)\n", e->shard_id ? e->shard_id : "-",
         e->message, kefo_strerror(e->code));
}

static void tally_init(tally *t, long n, const char *prefix) {
  memset(t, 0, sizeof(*t));
  t->n = n;
  t->count = calloc((size_t)n, 1);
  t->prefix = prefix;
}

/* Counts how many indices were delivered exactly once, none, or more. */
static void tally_count(const tally *t, long *once, long *missing, long *more) {
  long i;
  *once = *missing = *more = 0;
  for (i = 0; i < t->n; ++i) {
    *once += t->count[i] == 1;
    *missing += t->count[i] == 0;
    *more += t->count[i] > 1;
  }
}

/* A consumer of |stream| on the mock at |port_env| with |cb| and |ud|,
   and the extra configuration keys and values of |extra| (NULL-ended),
   started. */
static kefo_consumer *start_consumer(const char *port_env, const char *stream,
                                     const kefo_callbacks *cb, void *ud,
                                     const char *const *extra) {
  kefo_config *cfg;
  kefo_consumer *c = NULL;
  char url[128], err[256];
  size_t i;

  snprintf(url, sizeof(url), "http://127.0.0.1:%s", getenv(port_env));
  CU_ASSERT_FATAL(kefo_config_new(&cfg) == 0);
#define SET(k, v)                                                              \
  CU_ASSERT_EQUAL_FATAL(kefo_config_set2(cfg, k, v, err, sizeof(err)), 0)
  CU_ASSERT_EQUAL_FATAL(
      kefo_test_consumer_config(cfg, url, stream, reader, "kefo-mock-test"), 0);
  SET("source.shard.discovery.interval", "1s");
  for (i = 0; extra && extra[i]; i += 2) {
    SET(extra[i], extra[i + 1]);
  }
#undef SET
  CU_ASSERT_EQUAL_FATAL(kefo_consumer_new(&c, cfg, cb, ud, base), 0);
  kefo_config_del(cfg);
  CU_ASSERT_EQUAL_FATAL(kefo_consumer_start(c), 0);
  return c;
}

static kefo_consumer *new_consumer(const char *port_env, const char *stream,
                                   tally *t) {
  static const kefo_callbacks cb = {on_records, on_shard_event, on_error};
  return start_consumer(port_env, stream, &cb, t, NULL);
}

static void run_ms(int ms) {
  int never = 0;
  kefo_test_run_until(base, &never, ms);
}

static void stop(kefo_consumer *c) {
  int i;
  kefo_consumer_stop(c, 1);
  for (i = 0; i < 2000 && !kefo_consumer_stopped(c); ++i) {
    run_ms(10);
  }
  CU_ASSERT(kefo_consumer_stopped(c));
  kefo_consumer_del(c);
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* Creates |name| with |shards| shards. */
static void create_stream(kefo_aws_service *svc, const char *name, int shards) {
  cJSON *b = cJSON_CreateObject();
  answer a;

  cJSON_AddStringToObject(b, "StreamName", name);
  cJSON_AddNumberToObject(b, "ShardCount", shards);
  call(svc, "CreateStream", b, &a);
  CU_ASSERT_EQUAL_FATAL(a.error, 0);
  cJSON_Delete(a.resp);
}

/* Writes records first..first+n-1 as "<prefix><i>" with key "pk-<i>". */
static void put_range(kefo_aws_service *svc, const char *stream,
                      const char *prefix, long first, long n) {
  long i = first;
  while (i < first + n) {
    cJSON *b = cJSON_CreateObject(), *recs;
    answer a;
    long k, batch = first + n - i < 500 ? first + n - i : 500;
    cJSON_AddStringToObject(b, "StreamName", stream);
    recs = cJSON_AddArrayToObject(b, "Records");
    for (k = 0; k < batch; ++k) {
      char pk[32], data[64], b64[128];
      size_t len;
      cJSON *e = cJSON_CreateObject();
      snprintf(pk, sizeof(pk), "pk-%ld", i + k);
      snprintf(data, sizeof(data), "%s%ld", prefix, i + k);
      kefo__base64_encode((uint8_t *)b64, sizeof(b64), (const uint8_t *)data,
                          strlen(data), &len);
      b64[len] = 0;
      cJSON_AddStringToObject(e, "PartitionKey", pk);
      cJSON_AddStringToObject(e, "Data", b64);
      cJSON_AddItemToArray(recs, e);
    }
    call(svc, "PutRecords", b, &a);
    CU_ASSERT_EQUAL_FATAL(a.error, 0);
    CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(
                        a.resp, "FailedRecordCount")),
                    0);
    cJSON_Delete(a.resp);
    i += batch;
  }
}

/* Fills |t|'s lineage from ListShards: each shard's parents. */
static void learn_lineage(kefo_aws_service *svc, const char *stream, tally *t) {
  cJSON *b = cJSON_CreateObject();
  const cJSON *s;
  answer a;

  cJSON_AddStringToObject(b, "StreamName", stream);
  call(svc, "ListShards", b, &a);
  CU_ASSERT_EQUAL_FATAL(a.error, 0);
  cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(a.resp, "Shards")) {
    const char *names[2] = {"ParentShardId", "AdjacentParentShardId"};
    int k = slot_of(t, cJSON_GetStringValue(
                           cJSON_GetObjectItemCaseSensitive(s, "ShardId")));
    int p;
    if (k >= 0) {
      t->nparents[k] = 0; /* learnt again in full */
    }
    for (p = 0; p < 2 && k >= 0; ++p) {
      const char *id =
          cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, names[p]));
      if (id) {
        t->parents[k][t->nparents[k]++] = slot_of(t, id);
      }
    }
  }
  cJSON_Delete(a.resp);
}

/* From KefoMock.Stats: SubscribeToShard calls in all, the shortest gap
   between two calls on one shard, and the LimitExceeded answers. */
static void mock_subscribe_gaps(const cJSON *stats, long *min_gap, long *calls,
                                long *limited) {
  const cJSON *stream, *shard;

  cJSON_ArrayForEach(stream,
                     cJSON_GetObjectItemCaseSensitive(stats, "Streams")) {
    cJSON_ArrayForEach(shard,
                       cJSON_GetObjectItemCaseSensitive(stream, "Shards")) {
      const cJSON *sub =
          cJSON_GetObjectItemCaseSensitive(shard, "SubscribeToShard");
      const cJSON *t;
      double prev = -1;
      *calls += (long)cJSON_GetNumberValue(
          cJSON_GetObjectItemCaseSensitive(sub, "Calls"));
      *limited += (long)cJSON_GetNumberValue(
          cJSON_GetObjectItemCaseSensitive(sub, "LimitExceeded"));
      cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(sub, "TimesMs")) {
        if (prev >= 0 && (*min_gap < 0 || t->valuedouble - prev < *min_gap)) {
          *min_gap = (long)(t->valuedouble - prev);
        }
        prev = t->valuedouble;
      }
    }
  }
}

/* ---- the tests -------------------------------------------------------- */

static void test_million(void) {
  kefo_consumer *c;
  tally t;
  long once, missing, more;
  double t0, c0, secs, cpu;
  struct rusage ru;
  long want =
      atol(getenv("MOCK_BIG_RECORDS") ? getenv("MOCK_BIG_RECORDS") : "1000000");
  int i;

  tally_init(&t, want, "");
  t0 = now_s();
  c0 = cpu_s();
  c = new_consumer("MOCK_BIG_PORT", "big", &t);
  for (i = 0; i < 30000 && t.records < want; ++i) {
    run_ms(10);
  }
  secs = now_s() - t0;
  cpu = cpu_s() - c0;
  run_ms(500); /* anything twice would show now */
  tally_count(&t, &once, &missing, &more);
  getrusage(RUSAGE_SELF, &ru);
  printf("\nmillion: %ld of %ld records exactly once, %ld missing, %ld more "
         "than once, %ld out of order, %ld malformed\n",
         once, want, missing, more, t.out_of_order, t.bad_data);
  printf("million: %.0f records/s, %.2f s wall, %.2f CPU s per million "
         "records (this process), peak RSS %.1f MB%s\n",
         (double)t.records / secs, secs, cpu * 1e6 / (double)t.records,
         ru.ru_maxrss / 1024.0,
#if defined(__SANITIZE_ADDRESS__)
         " (ASan build)"
#else
         ""
#endif
  );
  CU_ASSERT_EQUAL(once, want);
  CU_ASSERT_EQUAL(t.out_of_order, 0);
  CU_ASSERT_EQUAL(t.bad_data, 0);
  stop(c);
  free(t.count);
}

static void test_resharding(void) {
  kefo_aws_service svc;
  kefo_consumer *c;
  tally t;
  cJSON *b;
  answer a;
  long written = 0, once, missing, more;
  int i, round;
  char stream[32];

  /* One stream per reader type, on the same server. */
  snprintf(stream, sizeof(stream), "reshard-%s", reader);

  service(&svc, "MOCK_RESHARD_PORT");
  tally_init(&t, 100000, "r-");
  create_stream(&svc, stream, 4);
  put_range(&svc, stream, "r-", 0, 400);
  written = 400;
  c = new_consumer("MOCK_RESHARD_PORT", stream, &t);
  /* Writes 100 records every 200 ms throughout; reshards after 1 s and
     again after 2 s. */
  for (round = 0; round < 30; ++round) {
    put_range(&svc, stream, "r-", written, 100);
    written += 100;
    if (round == 5) {
      /* Split shard 0 in the middle of its range (the lower quarter of
         the hash space for 4 shards). */
      b = cJSON_CreateObject();
      cJSON_AddStringToObject(b, "StreamName", stream);
      cJSON_AddStringToObject(b, "ShardToSplit", "shardId-000000000000");
      cJSON_AddStringToObject(b, "NewStartingHashKey",
                              "42535295865117307932921825928971026432");
      call(&svc, "SplitShard", b, &a);
      CU_ASSERT_EQUAL(a.error, 0);
      cJSON_Delete(a.resp);
    }
    if (round == 10) {
      b = cJSON_CreateObject();
      cJSON_AddStringToObject(b, "StreamName", stream);
      cJSON_AddStringToObject(b, "ShardToMerge", "shardId-000000000002");
      cJSON_AddStringToObject(b, "AdjacentShardToMerge",
                              "shardId-000000000003");
      call(&svc, "MergeShards", b, &a);
      CU_ASSERT_EQUAL(a.error, 0);
      cJSON_Delete(a.resp);
      learn_lineage(&svc, stream, &t);
    }
    run_ms(200);
  }
  learn_lineage(&svc, stream, &t);
  for (i = 0; i < 3000 && t.records < written; ++i) {
    run_ms(10);
  }
  run_ms(500);
  t.n = written;
  tally_count(&t, &once, &missing, &more);
  printf("\nresharding: %ld of %ld records exactly once, %ld missing, %ld "
         "more than once, %ld out of order; %d shards finished; %ld child "
         "records before a parent's end\n",
         once, written, missing, more, t.out_of_order, t.finished,
         t.child_early);
  CU_ASSERT_EQUAL(once, written);
  CU_ASSERT_EQUAL(t.out_of_order, 0);
  CU_ASSERT_EQUAL(t.bad_data, 0);
  CU_ASSERT_EQUAL(t.finished, 3); /* shard 0 split, 2 and 3 merged */
  CU_ASSERT_EQUAL(t.child_early, 0);
  /* The children did deliver. */
  {
    int k, children_with_records = 0;
    for (k = 0; k < MAX_SHARDS && t.shard[k][0]; ++k) {
      children_with_records += t.nparents[k] > 0 && t.last[k][0] != 0;
    }
    printf("resharding: %d child shards delivered records\n",
           children_with_records);
    CU_ASSERT_EQUAL(children_with_records, 3);
  }
  {
    kefo_stats st;
    size_t j, finished = 0, reading = 0;
    CU_ASSERT_EQUAL(kefo_consumer_stats(c, &st), 0);
    for (j = 0; j < st.nshards; ++j) {
      finished += st.shards[j].state == KEFO_SHARD_STATE_FINISHED;
      reading += st.shards[j].state == KEFO_SHARD_STATE_READING;
    }
    /* The three parents read to their end; shard 1 and the three
       children still reading. */
    CU_ASSERT_EQUAL(finished, 3);
    CU_ASSERT_EQUAL(reading, 4);
    CU_ASSERT_EQUAL(st.records, (uint64_t)written);
  }
  stop(c);
  free(t.count);
}

static void test_short_lifetimes(void) {
  kefo_aws_service svc;
  kefo_consumer *c;
  tally t;
  cJSON *b;
  answer a;
  long written = 0, once, missing, more;
  int i, round,
      seconds =
          atoi(getenv("MOCK_LIFETIME_SECONDS") ? getenv("MOCK_LIFETIME_SECONDS")
                                               : "60");
  kefo_stats st;
  unsigned resubscribes = 0;
  double t0;

  service(&svc, "MOCK_LIFETIME_PORT");
  tally_init(&t, 200000, "l-");
  create_stream(&svc, "lifetime", 4);
  c = new_consumer("MOCK_LIFETIME_PORT", "lifetime", &t);
  t0 = now_s();
  /* 10 writes of 10 records a second. */
  for (round = 0; now_s() - t0 < seconds; ++round) {
    put_range(&svc, "lifetime", "l-", written, 10);
    written += 10;
    run_ms(100);
  }
  for (i = 0; i < 1000 && t.records < written; ++i) {
    run_ms(10);
  }
  run_ms(500);
  t.n = written;
  tally_count(&t, &once, &missing, &more);
  kefo_consumer_stats(c, &st);
  for (i = 0; i < (int)st.nshards; ++i) {
    resubscribes += st.shards[i].resubscribes;
  }
  printf("\nlifetimes: %d s of writes with 2 s subscriptions: %ld of %ld "
         "records exactly once, %ld missing, %ld more than once, %ld out of "
         "order, %u resubscriptions over %zu shards\n",
         seconds, once, written, missing, more, t.out_of_order, resubscribes,
         st.nshards);
  CU_ASSERT_EQUAL(once, written);
  CU_ASSERT_EQUAL(t.out_of_order, 0);
  /* About one per 2 s per shard. */
  CU_ASSERT((long)resubscribes >= (long)st.nshards * (seconds / 2 - 2));
  stop(c);
  /* The server's count: the shortest gap between two SubscribeToShard
     calls on one shard. */
  b = cJSON_CreateObject();
  svc.target_prefix = "KefoMock";
  call(&svc, "Stats", b, &a);
  CU_ASSERT_EQUAL_FATAL(a.error, 0);
  {
    long min_gap = -1, calls = 0, limited = 0;
    mock_subscribe_gaps(a.resp, &min_gap, &calls, &limited);
    printf("lifetimes: server saw %ld SubscribeToShard calls, shortest gap "
           "on a shard %ld ms, %ld LimitExceeded\n",
           calls, min_gap, limited);
    CU_ASSERT(calls > 0);
    CU_ASSERT(min_gap >= 1000);
    CU_ASSERT_EQUAL(limited, 0);
  }
  cJSON_Delete(a.resp);
  free(t.count);
}

/* From KefoMock.Stats for |stream|: GetRecords calls in all, the most in
   any one-second window on one shard, and the throttled answers. */
static void mock_get_records_rate(const cJSON *stats, const char *stream,
                                  long *calls, long *max_per_second,
                                  long *throttled) {
  const cJSON *shard;

  cJSON_ArrayForEach(
      shard,
      cJSON_GetObjectItemCaseSensitive(
          cJSON_GetObjectItemCaseSensitive(
              cJSON_GetObjectItemCaseSensitive(stats, "Streams"), stream),
          "Shards")) {
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(shard, "GetRecords");
    const cJSON *times = cJSON_GetObjectItemCaseSensitive(g, "TimesMs");
    int n = cJSON_GetArraySize(times), i, j = 0;
    *calls += (long)cJSON_GetNumberValue(
        cJSON_GetObjectItemCaseSensitive(g, "Calls"));
    *throttled += (long)cJSON_GetNumberValue(
        cJSON_GetObjectItemCaseSensitive(g, "Throttled"));
    /* Calls i-j+1 .. i all within a second of call j. */
    for (i = 0; i < n; ++i) {
      double ti = cJSON_GetArrayItem(times, i)->valuedouble;
      while (ti - cJSON_GetArrayItem(times, j)->valuedouble >= 1000) {
        ++j;
      }
      if (i - j + 1 > *max_per_second) {
        *max_per_second = i - j + 1;
      }
    }
  }
}

/* Polling: a minute of steady writes read exactly once, GetRecords never
   above five a second on a shard, then an idle stream's CPU use. */
static void test_polling_steady(void) {
  kefo_aws_service svc;
  kefo_consumer *c;
  tally t;
  cJSON *b;
  answer a;
  long written = 0, once, missing, more;
  long calls = 0, max_per_second = 0, throttled = 0;
  int i,
      seconds =
          atoi(getenv("MOCK_LIFETIME_SECONDS") ? getenv("MOCK_LIFETIME_SECONDS")
                                               : "60"),
      idle = atoi(getenv("MOCK_IDLE_SECONDS") ? getenv("MOCK_IDLE_SECONDS")
                                              : "10");
  double t0, c0, idle_cpu;

  service(&svc, "MOCK_LIFETIME_PORT");
  tally_init(&t, 200000, "p-");
  create_stream(&svc, "steady", 4);
  c = new_consumer("MOCK_LIFETIME_PORT", "steady", &t);
  t0 = now_s();
  /* 10 writes of 10 records a second. */
  while (now_s() - t0 < seconds) {
    put_range(&svc, "steady", "p-", written, 10);
    written += 10;
    run_ms(100);
  }
  for (i = 0; i < 1000 && t.records < written; ++i) {
    run_ms(10);
  }
  /* Nothing more is written: the consumer polls an idle stream. */
  c0 = cpu_s();
  run_ms(idle * 1000);
  idle_cpu = cpu_s() - c0;
  t.n = written;
  tally_count(&t, &once, &missing, &more);
  printf("\npolling: %d s of writes: %ld of %ld records exactly once, %ld "
         "missing, %ld more than once, %ld out of order\n",
         seconds, once, written, missing, more, t.out_of_order);
  printf("polling: idle stream of 4 shards for %d s: %.3f CPU s (%.2f%% of "
         "a core)%s\n",
         idle, idle_cpu, idle_cpu * 100.0 / idle,
#if defined(__SANITIZE_ADDRESS__)
         " (ASan build)"
#else
         ""
#endif
  );
  CU_ASSERT_EQUAL(once, written);
  CU_ASSERT_EQUAL(t.out_of_order, 0);
  CU_ASSERT_EQUAL(t.errors, 0);
  /* Near zero: a few small calls a second per shard. */
  CU_ASSERT(idle_cpu < 0.05 * idle);
  stop(c);
  b = cJSON_CreateObject();
  svc.target_prefix = "KefoMock";
  call(&svc, "Stats", b, &a);
  CU_ASSERT_EQUAL_FATAL(a.error, 0);
  mock_get_records_rate(a.resp, "steady", &calls, &max_per_second, &throttled);
  printf("polling: server saw %ld GetRecords calls over 4 shards, at most %ld "
         "in any second on a shard, %ld throttled\n",
         calls, max_per_second, throttled);
  CU_ASSERT(calls > 0);
  CU_ASSERT(max_per_second <= 5);
  CU_ASSERT_EQUAL(throttled, 0);
  cJSON_Delete(a.resp);
  free(t.count);
}

/* ---- a slow application --------------------------------------------- */

#define SLOW_SHARDS 4
#define SLOW_RECORD 1000
/* In all, spread over the shards by their keys' hashes (about 20,000
   each): 80 MB. */
#define SLOW_RECORDS 80000
#define SLOW_WINDOW (256 * 1024)

typedef struct slow {
  tally t;
  long delivered[SLOW_SHARDS];
  int usec_per_record;
  /* Sampling: the server's count against what was delivered when the
     Stats call went out (an upper bound of what was in flight). */
  long at_request[SLOW_SHARDS];
  long max_in_flight[SLOW_SHARDS];
  /* The server's counts before this reader began (the other reader type
     read the same stream before). */
  long base[SLOW_SHARDS];
  int baseline;
  int samples;
  answer stats;
  int asking;
  kefo_aws_service svc;
  /* Pause shard 0 from inside its first delivery; what it had then. */
  int pause_first;
  int sampling; /* ask for the server's counts at every delivery */
  int paused;
  long delivered_at_pause;
} slow;

static void slow_stats_answer(int error, const cJSON *resp,
                              const kefo_error_info *info, void *ud);

/*
 * Asks the server for its counts and waits for the answer on a loop of
 * its own, noting what was delivered now: the consumer's loop is held
 * meanwhile (this runs from it, or between its turns), so nothing more
 * is delivered before the server answers, and sent - delivered is what
 * was in flight then, exactly. (Asked on the consumer's loop instead,
 * the question could wait behind a whole slow delivery, which the count
 * then took for a second answer in flight.)
 */
static void slow_ask(slow *s) {
  if (s->asking) {
    return;
  }
  s->asking = 1;
  memcpy(s->at_request, s->delivered, sizeof(s->at_request));
  if (kefo__aws_call_start(probe_aws, &s->svc, "Stats", NULL, NULL,
                           slow_stats_answer, s, NULL) != 0) {
    s->asking = 0;
    return;
  }
  {
    int answered = 0;
    while (s->asking && answered < 500) {
      int never = 0;
      kefo_test_run_until(probe_base, &never, 10);
      ++answered;
    }
  }
}

static int slow_records(kefo_consumer *c, const char *shard,
                        const kefo_record *r, size_t n, int64_t behind,
                        void *ud) {
  slow *s = ud;
  int k = slot_of(&s->t, shard);
  struct timespec ts;

  if (k >= 0 && k < SLOW_SHARDS) {
    s->delivered[k] += (long)n;
  }
  if (s->pause_first && !s->paused &&
      strcmp(shard, "shardId-000000000000") == 0) {
    /* Inside the callback: the rest of this event still comes, nothing
       after it. */
    CU_ASSERT_EQUAL(kefo_shard_pause(c, shard), 0);
    s->paused = 1;
    s->delivered_at_pause = s->delivered[k];
  }
  if (s->sampling) {
    /* From here too: the loop is inside on_records most of the time. */
    slow_ask(s);
  }
  /* The application takes its time over each record. */
  ts.tv_sec = 0;
  ts.tv_nsec = (long)n * s->usec_per_record * 1000L;
  while (ts.tv_nsec >= 1000000000L) {
    ++ts.tv_sec;
    ts.tv_nsec -= 1000000000L;
  }
  nanosleep(&ts, NULL);
  return on_records(c, shard, r, n, behind, &s->t);
}

static void slow_stats_answer(int error, const cJSON *resp,
                              const kefo_error_info *info, void *ud) {
  slow *s = ud;
  const cJSON *shard;
  int k;

  (void)info;
  s->asking = 0;
  if (error) {
    return;
  }
  cJSON_ArrayForEach(
      shard, cJSON_GetObjectItemCaseSensitive(
                 cJSON_GetObjectItemCaseSensitive(
                     cJSON_GetObjectItemCaseSensitive(resp, "Streams"), "slow"),
                 "Shards")) {
    long sent = (long)cJSON_GetNumberValue(
        cJSON_GetObjectItemCaseSensitive(shard, "RecordsSent"));
    k = slot_of(&s->t, shard->string);
    if (k < 0 || k >= SLOW_SHARDS) {
      continue;
    }
    if (s->baseline) {
      s->base[k] = sent;
    } else if (sent - s->base[k] - s->at_request[k] > s->max_in_flight[k]) {
      s->max_in_flight[k] = sent - s->base[k] - s->at_request[k];
    }
  }
  if (s->baseline) {
    s->baseline = 0;
    return;
  }
  ++s->samples;
}

/* Notes the server's counts of the slow stream, then starts a consumer
   of it with a SLOW_WINDOW stream window and |s|'s callbacks. */
static kefo_consumer *slow_start(slow *s) {
  static const kefo_callbacks cb = {slow_records, on_shard_event, on_error};
  char window[32];
  const char *extra[] = {"source.shard.buffer.max-bytes", window, NULL};
  int i;

  service(&s->svc, "MOCK_SLOW_PORT");
  s->svc.target_prefix = "KefoMock";
  snprintf(window, sizeof(window), "%d", SLOW_WINDOW);
  s->baseline = 1;
  slow_ask(s);
  for (i = 0; i < 500 && s->asking; ++i) {
    run_ms(10);
  }
  CU_ASSERT_FATAL(!s->asking);
  return start_consumer("MOCK_SLOW_PORT", "slow", &cb, s, extra);
}

/* A slow on_records (400 us a record) over a stream with 80 MB waiting:
   at every sample, what the server sent but the application has not been
   handed stays within two events (EFO: the one being delivered, the next
   held back by flow control) or one GetRecords answer (polling), per
   shard, instead of growing with the backlog. */
static void test_slow_application(void) {
  static slow s;
  kefo_consumer *c;
  long total = 0, bound, worst = 0;
  int i, k;
  double t0;
  struct rusage ru;

  memset(&s, 0, sizeof(s));
  tally_init(&s.t, SLOW_RECORDS, "");
  s.usec_per_record = 400;
  c = slow_start(&s);
  t0 = now_s();
  s.sampling = 1;
  while (now_s() - t0 < 8) {
    slow_ask(&s);
    run_ms(100);
  }
  s.sampling = 0;
  for (i = 0; i < 500 && s.asking; ++i) {
    run_ms(10);
  }
  for (k = 0; k < SLOW_SHARDS; ++k) {
    total += s.delivered[k];
    worst = s.max_in_flight[k] > worst ? s.max_in_flight[k] : worst;
  }
  /* In records of SLOW_RECORD data bytes (an event or answer holds at
     most 1 MiB of data). Polling: the one answer being handed on. EFO:
     the event being handed on, and the next one, which the server counts
     in full as soon as it starts sending it although only a window's
     worth of its bytes (SLOW_WINDOW) can cross before kefo consumes
     them. */
  bound = strcmp(reader, "EFO") == 0 ? 2 * (1024 * 1024 / SLOW_RECORD) + 2
                                     : 1024 * 1024 / SLOW_RECORD + 1;
  getrusage(RUSAGE_SELF, &ru);
  printf("\nslow application (%s): %ld of %d records delivered in 8 s at "
         "400 us a record; %d samples; at most %ld records sent and not yet "
         "delivered on a shard (bound %ld); peak RSS %.1f MB%s\n",
         reader, total, SLOW_RECORDS, s.samples, worst, bound,
         ru.ru_maxrss / 1024.0,
#if defined(__SANITIZE_ADDRESS__)
         " (ASan build)"
#else
         ""
#endif
  );
  /* About one per delivery or two (some 20 deliveries in 8 s). */
  CU_ASSERT(s.samples >= 6);
  /* A backlog was there all along: most records still unread. */
  CU_ASSERT(total > 0);
  CU_ASSERT(total < SLOW_RECORDS / 2);
  CU_ASSERT(worst > 0);
  CU_ASSERT(worst <= bound);
  CU_ASSERT_EQUAL(s.t.out_of_order, 0);
  stop(c);
  free(s.t.count);
}

/* ---- pause and resume ------------------------------------------------ */

typedef struct pausing {
  tally t;
  const char *shard;        /* the shard paused */
  int paused;               /* between kefo_shard_pause and _resume */
  long while_paused;        /* its records handed on meanwhile */
  long others_while_paused; /* the other shards' records meanwhile */
  int paused_events, resumed_events;
} pausing;

static int pause_records(kefo_consumer *c, const char *shard,
                         const kefo_record *r, size_t n, int64_t behind,
                         void *ud) {
  pausing *p = ud;

  if (p->paused) {
    if (strcmp(shard, p->shard) == 0) {
      p->while_paused += (long)n;
    } else {
      p->others_while_paused += (long)n;
    }
  }
  return on_records(c, shard, r, n, behind, &p->t);
}

static void pause_event(kefo_consumer *c, const char *shard,
                        kefo_shard_event ev, void *ud) {
  pausing *p = ud;

  if (strcmp(shard, p->shard) == 0) {
    p->paused_events += ev == KEFO_SHARD_EVENT_PAUSED;
    p->resumed_events += ev == KEFO_SHARD_EVENT_RESUMED;
  }
  on_shard_event(c, shard, ev, &p->t);
}

static void pause_error(kefo_consumer *c, const kefo_error_info *e, void *ud) {
  pausing *p = ud;
  on_error(c, e, &p->t);
}

/* One number from KefoMock.Stats: Streams.<stream>.Shards.<shard>.<a>[.<b>]. */
static long shard_stat(kefo_aws_service *svc, const char *stream,
                       const char *shard, const char *a, const char *b) {
  answer ans;
  const cJSON *v;
  long out;

  call(svc, "Stats", cJSON_CreateObject(), &ans);
  v = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(
          cJSON_GetObjectItemCaseSensitive(
              cJSON_GetObjectItemCaseSensitive(
                  cJSON_GetObjectItemCaseSensitive(ans.resp, "Streams"),
                  stream),
              "Shards"),
          shard),
      a);
  if (b) {
    v = cJSON_GetObjectItemCaseSensitive(v, b);
  }
  out = cJSON_IsNumber(v) ? (long)v->valuedouble : -1;
  cJSON_Delete(ans.resp);
  return out;
}

static void configure(kefo_aws_service *svc, const char *key, double value) {
  cJSON *b = cJSON_CreateObject();
  answer ans;

  cJSON_AddNumberToObject(b, key, value);
  call(svc, "Configure", b, &ans);
  CU_ASSERT_EQUAL(ans.error, 0);
  cJSON_Delete(ans.resp);
}

/* One shard paused for 5 s, longer than a subscription's life (2 s on
   this server) and, for polling, than a shard iterator's (set to 3 s),
   while every shard is written to: nothing of it is handed on while
   paused, the other shard goes on, no new subscription or GetRecords
   goes out for it; resumed, it goes on after its last delivered record:
   every record exactly once, in order. */
static void test_pause_resume(void) {
  static pausing p;
  static const kefo_callbacks cb = {pause_records, pause_event, pause_error};
  kefo_aws_service svc, ctl;
  kefo_consumer *c;
  kefo_stats st;
  char stream[32];
  long written = 0, once, missing, more, sent0, calls0, recs0, sent_during,
       calls_during, recs_during;
  unsigned resubscribes = 0;
  int i, polling = strcmp(reader, "POLLING") == 0;
  size_t j;
  double t0;

  memset(&p, 0, sizeof(p));
  tally_init(&p.t, 100000, "q-");
  p.shard = "shardId-000000000000";
  snprintf(stream, sizeof(stream), "pause-%s", reader);
  service(&svc, "MOCK_LIFETIME_PORT");
  ctl = svc;
  ctl.target_prefix = "KefoMock";
  create_stream(&svc, stream, 2);
  if (polling) {
    configure(&ctl, "IteratorLifetimeMs", 3000);
  }
  c = start_consumer("MOCK_LIFETIME_PORT", stream, &cb, &p, NULL);
  for (t0 = now_s(); now_s() - t0 < 2;) {
    put_range(&svc, stream, "q-", written, 10);
    written += 10;
    run_ms(100);
  }
  sent0 = shard_stat(&ctl, stream, p.shard, "RecordsSent", NULL);
  recs0 = shard_stat(&ctl, stream, p.shard, "Records", NULL);
  calls0 = shard_stat(&ctl, stream, p.shard,
                      polling ? "GetRecords" : "SubscribeToShard", "Calls");
  CU_ASSERT_EQUAL(kefo_shard_pause(c, p.shard), 0);
  p.paused = 1;
  CU_ASSERT_EQUAL(kefo_shard_pause(c, p.shard), 0); /* again: no event */
  CU_ASSERT_EQUAL(kefo_shard_pause(c, "shardId-000000000099"),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo_shard_pause(c, NULL), KEFO_ERR_INVALID_ARGUMENT);
  kefo_consumer_stats(c, &st);
  for (j = 0; j < st.nshards; ++j) {
    CU_ASSERT_EQUAL(st.shards[j].state,
                    strcmp(st.shards[j].shard_id, p.shard) == 0
                        ? KEFO_SHARD_STATE_PAUSED
                        : KEFO_SHARD_STATE_READING);
  }
  for (t0 = now_s(); now_s() - t0 < 5;) {
    put_range(&svc, stream, "q-", written, 10);
    written += 10;
    run_ms(100);
  }
  sent_during = shard_stat(&ctl, stream, p.shard, "RecordsSent", NULL) - sent0;
  recs_during = shard_stat(&ctl, stream, p.shard, "Records", NULL) - recs0;
  calls_during =
      shard_stat(&ctl, stream, p.shard,
                 polling ? "GetRecords" : "SubscribeToShard", "Calls") -
      calls0;
  p.paused = 0;
  CU_ASSERT_EQUAL(kefo_shard_resume(c, p.shard), 0);
  for (t0 = now_s(); now_s() - t0 < 1;) {
    put_range(&svc, stream, "q-", written, 10);
    written += 10;
    run_ms(100);
  }
  for (i = 0; i < 1000 && p.t.records < written; ++i) {
    run_ms(10);
  }
  run_ms(500);
  p.t.n = written;
  tally_count(&p.t, &once, &missing, &more);
  kefo_consumer_stats(c, &st);
  for (j = 0; j < st.nshards; ++j) {
    if (strcmp(st.shards[j].shard_id, p.shard) == 0) {
      resubscribes = st.shards[j].resubscribes;
    }
  }
  printf("\npause (%s): %s paused 5 s: %ld of its records handed on "
         "meanwhile (the other shard: %ld); %ld of the %ld written to it "
         "meanwhile left the server, %ld %s calls for it; after resume %ld "
         "of %ld records exactly once, %ld missing, %ld more than once, %ld "
         "out of order, %u resubscriptions; events paused %d resumed %d\n",
         reader, p.shard, p.while_paused, p.others_while_paused, sent_during,
         recs_during, calls_during, polling ? "GetRecords" : "SubscribeToShard",
         once, written, missing, more, p.t.out_of_order, resubscribes,
         p.paused_events, p.resumed_events);
  CU_ASSERT_EQUAL(p.while_paused, 0);
  CU_ASSERT(p.others_while_paused > 0);
  CU_ASSERT(recs_during > 0);
  /* Polling: at most the call that was out. EFO: the subscription ends at
     its 2-s life and no new one starts while paused. */
  CU_ASSERT(calls_during <= (polling ? 1 : 0));
  CU_ASSERT(sent_during < recs_during);
  CU_ASSERT_EQUAL(once, written);
  CU_ASSERT_EQUAL(p.t.out_of_order, 0);
  CU_ASSERT_EQUAL(p.paused_events, 1);
  CU_ASSERT_EQUAL(p.resumed_events, 1);
  /* A new subscription, or a new iterator after the expired one. */
  CU_ASSERT(resubscribes >= 1);
  stop(c);
  if (polling) {
    configure(&ctl, "IteratorLifetimeMs", 300000);
  }
  free(p.t.count);
}

/* A shard paused (from inside its first delivery) while 20 MB of it wait
   on the server and the other shards read theirs: after 3 s, what the
   server has sent of it beyond what was handed on stays within two events
   (EFO: the window is not given back) or nothing (polling: no GetRecords);
   resumed, every record comes exactly once. */
static void test_paused_backlog(void) {
  static slow s;
  kefo_consumer *c;
  long once, missing, more, sent, held, bound, recs0;
  int i, k0;
  struct rusage ru;

  memset(&s, 0, sizeof(s));
  tally_init(&s.t, SLOW_RECORDS, "");
  s.pause_first = 1;
  c = slow_start(&s);
  for (i = 0; i < 3000 && !s.paused; ++i) {
    run_ms(10);
  }
  CU_ASSERT_FATAL(s.paused);
  run_ms(3000);
  k0 = slot_of(&s.t, "shardId-000000000000");
  sent =
      shard_stat(&s.svc, "slow", "shardId-000000000000", "RecordsSent", NULL) -
      s.base[k0];
  held = sent - s.delivered[k0];
  recs0 = shard_stat(&s.svc, "slow", "shardId-000000000000", "Records", NULL);
  bound = strcmp(reader, "EFO") == 0 ? 2 * (1024 * 1024 / SLOW_RECORD) + 2 : 0;
  getrusage(RUSAGE_SELF, &ru);
  printf("\npaused backlog (%s): shard 0 paused after %ld records; 3 s later "
         "%ld handed on, %ld sent by the server, %ld held (bound %ld) of "
         "%ld; the other shards read %ld; peak RSS %.1f MB%s\n",
         reader, s.delivered_at_pause, s.delivered[k0], sent, held, bound,
         recs0, s.t.records - s.delivered[k0], ru.ru_maxrss / 1024.0,
#if defined(__SANITIZE_ADDRESS__)
         " (ASan build)"
#else
         ""
#endif
  );
  CU_ASSERT_EQUAL(s.delivered[k0], s.delivered_at_pause);
  CU_ASSERT(held <= bound);
  CU_ASSERT(sent < recs0 / 2);
  CU_ASSERT_EQUAL(kefo_shard_resume(c, "shardId-000000000000"), 0);
  for (i = 0; i < 3000 && s.t.records < SLOW_RECORDS; ++i) {
    run_ms(10);
  }
  run_ms(300);
  tally_count(&s.t, &once, &missing, &more);
  printf("paused backlog (%s): resumed: %ld of %d records exactly once, %ld "
         "out of order\n",
         reader, once, SLOW_RECORDS, s.t.out_of_order);
  CU_ASSERT_EQUAL(once, SLOW_RECORDS);
  CU_ASSERT_EQUAL(s.t.out_of_order, 0);
  stop(c);
  free(s.t.count);
}

static int efo_suite(void) {
  reader = "EFO";
  return 0;
}

static int polling_suite(void) {
  reader = "POLLING";
  return 0;
}

int main(void) {
  CU_pSuite s;
  unsigned failures;

  base = event_base_new();
  probe_base = event_base_new();
  if (kefo__http_client_new(&http, base, NULL) != 0 ||
      kefo__aws_client_new(&aws, base, http, kefo_test_credentials(), NULL,
                           NULL) != 0 ||
      kefo__http_client_new(&probe_http, probe_base, NULL) != 0 ||
      kefo__aws_client_new(&probe_aws, probe_base, probe_http,
                           kefo_test_credentials(), NULL, NULL) != 0) {
    return 1;
  }
  CU_initialize_registry();
  s = CU_add_suite("EFO consumer on the mock server", efo_suite, NULL);
  CU_add_test(s, "1,000,000 records over 16 shards", test_million);
  CU_add_test(s, "resharding while reading", test_resharding);
  CU_add_test(s, "2-second subscriptions for a minute", test_short_lifetimes);
  CU_add_test(s, "a slow application", test_slow_application);
  CU_add_test(s, "pause and resume", test_pause_resume);
  CU_add_test(s, "a paused shard's backlog", test_paused_backlog);
  s = CU_add_suite("polling consumer on the mock server", polling_suite, NULL);
  CU_add_test(s, "1,000,000 records over 16 shards", test_million);
  CU_add_test(s, "resharding while reading", test_resharding);
  CU_add_test(s, "a minute of writes, GetRecords at most 5/s, idle CPU",
              test_polling_steady);
  CU_add_test(s, "a slow application", test_slow_application);
  CU_add_test(s, "pause and resume", test_pause_resume);
  CU_add_test(s, "a paused shard's backlog", test_paused_backlog);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  kefo__aws_client_del(aws);
  kefo__http_client_del(http);
  kefo__aws_client_del(probe_aws);
  kefo__http_client_del(probe_http);
  event_base_free(base);
  event_base_free(probe_base);
  return failures ? 1 : 0;
}
