/*
 * The fault matrix: a consumer reads a 4-shard stream on the project's mock
 * Kinesis server (started by tests/integration/fault_matrix_test.sh, checking
 * SigV4) while the test writes 200 records a second, and the mock is told to
 * misbehave, one fault at a time (tests/support/mock/mock_fault.h). The same
 * cells run once per reader type, EFO then polling; a cell that cannot
 * happen to a reader (an event-stream CRC to GetRecords) is not run for it.
 *
 * Each cell asserts, with the consumer kept from cell to cell:
 * - the fault struck (the server counts it);
 * - recovery: a record written after the strike was delivered from the
 *   struck shard within the cell's bound;
 * - nothing lost: every record written so far delivered, within the
 *   bound again;
 * - no duplicate within the run, per-shard order kept, no record of a
 *   child shard before its parents' last;
 * - no shard failed, and the process's RSS stays under a bound.
 * It prints one row per cell: recovery time, resubscriptions (SubscribeToShard
 * or GetShardIterator calls on the struck shard), errors the consumer
 * reported, RSS. tests/RELIABILITY.md keeps the latest table.
 *
 * With --soak SECONDS [SHARDS] it is the soak instead (scripts/soak.sh,
 * not in make check): the same faults at random, one a second, on 1,000
 * shards.
 */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <event2/event.h>

#include <kefo/kefo.h>

#include "aws/aws_client.h"
#include "base/base64.h"
#include "efo/subscription.h"
#include "tests/support/aws_test_util.h"
#include "tests/integration/fault_matrix_log.h"
#include "tests/support/log_capture.h"

#define SHARDS 4
/* The soak's 1,000 shards, and room to spare. */
#define MAX_SLOTS 1100
#define MAX_RECORDS 4000000
/* Every 50 ms, 10 records: 200 a second over the 4 shards (the soak
   writes more). */
#define WRITE_EVERY_MS 50
static long write_batch = 10;
/* The shard struck by default; splits and merges take the others. */
#define TARGET "shardId-000000000003"
/* RSS may grow this much over the run (ASan's quarantine included). */
#define RSS_GROWTH_MAX_KB (128 * 1024)

static struct event_base *base;
/* What the log hook told during the cell (issue 27). */
static kefo_log_capture logs;
static const char *reader = "EFO";
static kefo_http_client *http;
static kefo_aws_client *aws;
static kefo_aws_service svc;
/* KefoMock.<op>: the same endpoint under another target. Its own service,
   never the shared one changed for a moment, since a write may start
   while a control call waits. */
static kefo_aws_service ctl_svc;
/* A new stream per reader (the mock cannot delete one): each run starts
   from 4 open shards. */
static char stream[32];
#define STREAM stream

/* ---- calls to the mock ------------------------------------------------ */

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

/* Runs |op| (Kinesis_20131202.op, or KefoMock.op when |control|) to its
   answer, the consumer running meanwhile. Returns the answer (the caller
   deletes it) or NULL. */
static cJSON *call_on(const kefo_aws_service *to, const char *op, cJSON *body) {
  answer a;

  memset(&a, 0, sizeof(a));
  kefo__aws_call_start(aws, to, op, body, NULL, on_answer, &a, NULL);
  cJSON_Delete(body);
  kefo_test_run_until(base, &a.done, 30000);
  if (a.error) {
    cJSON_Delete(a.resp);
    return NULL;
  }
  return a.resp;
}

static cJSON *call(const char *op, cJSON *body) {
  return call_on(&svc, op, body);
}

/* KefoMock.<op>: the control operations; the aws client signs them like
   any call. */
static cJSON *control(const char *op, cJSON *body) {
  return call_on(&ctl_svc, op, body);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static long rss_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kb = -1;

  while (f && fgets(line, sizeof(line), f)) {
    if (sscanf(line, "VmRSS: %ld", &kb) == 1) {
      break;
    }
  }
  if (f) {
    fclose(f);
  }
  return kb;
}

/* ---- what the consumer saw -------------------------------------------- */

typedef struct run_state {
  unsigned char count[MAX_RECORDS]; /* deliveries per record, saturating */
  long written;                     /* records 0..written-1 are in */
  long next;                        /* the next index to write */
  int put_in_flight;
  int put_failed;
  struct event *writer;
  long records, dups, out_of_order, child_early, bad_data;
  int errors, failed;
  char last_error[512];
  char shard[MAX_SLOTS][32];
  char last[MAX_SLOTS][KEFO_SEQ_MAX];
  int ended[MAX_SLOTS];
  int parents[MAX_SLOTS][2];
  int nparents[MAX_SLOTS];
  /* Arrival time of the newest record delivered per shard, and when. */
  double newest_arrival[MAX_SLOTS];
  double newest_at[MAX_SLOTS];
} run_state;

static run_state *st;
static kefo_consumer *consumer;
static long rss_start;

static int slot_of(const char *shard) {
  int k;
  for (k = 0; k < MAX_SLOTS; ++k) {
    if (st->shard[k][0] == 0) {
      snprintf(st->shard[k], sizeof(st->shard[k]), "%s", shard);
      return k;
    }
    if (strcmp(st->shard[k], shard) == 0) {
      return k;
    }
  }
  return -1;
}

static int on_records(kefo_consumer *c, const char *shard, const kefo_record *r,
                      size_t n, int64_t behind, void *ud) {
  int k = slot_of(shard), p;
  size_t i;

  (void)c;
  (void)behind;
  (void)ud;
  if (k < 0) {
    st->bad_data += (long)n;
    return 0;
  }
  for (p = 0; p < st->nparents[k]; ++p) {
    if (!st->ended[st->parents[k][p]]) {
      st->child_early += (long)n;
    }
  }
  for (i = 0; i < n; ++i) {
    long idx = 0;
    size_t j = 1;
    if (r[i].data_len < 2 || r[i].data[0] != 'r') {
      ++st->bad_data;
      continue;
    }
    while (j < r[i].data_len && r[i].data[j] >= '0' && r[i].data[j] <= '9' &&
           idx < MAX_RECORDS) {
      idx = idx * 10 + (r[i].data[j++] - '0');
    }
    if (idx >= MAX_RECORDS) {
      ++st->bad_data;
    } else {
      if (st->count[idx] > 0) {
        ++st->dups;
      }
      if (st->count[idx] < 255) {
        ++st->count[idx];
      }
    }
    if (st->last[k][0] &&
        kefo__seq_cmp(st->last[k], r[i].sequence_number) >= 0) {
      ++st->out_of_order;
    }
    snprintf(st->last[k], sizeof(st->last[k]), "%s", r[i].sequence_number);
    if ((double)r[i].approximate_arrival_ms > st->newest_arrival[k]) {
      st->newest_arrival[k] = (double)r[i].approximate_arrival_ms;
      st->newest_at[k] = now_ms();
    }
  }
  st->records += (long)n;
  return 0;
}

static void on_shard_event(kefo_consumer *c, const char *shard,
                           kefo_shard_event ev, void *ud) {
  int k = slot_of(shard);
  (void)c;
  (void)ud;
  if (ev == KEFO_SHARD_EVENT_FINISHED && k >= 0) {
    st->ended[k] = 1;
  }
  if (ev == KEFO_SHARD_EVENT_FAILED) {
    ++st->failed;
    printf("shard failed: %s\n", shard);
  }
}

static void on_error(kefo_consumer *c, const kefo_error_info *e, void *ud) {
  (void)c;
  (void)ud;
  ++st->errors;
  snprintf(st->last_error, sizeof(st->last_error), "%s", e->message);
}

/* ---- the writer --------------------------------------------------------- */

typedef struct put_ctx {
  long first, n;
} put_ctx;

static void on_put(int error, const cJSON *resp, const kefo_error_info *info,
                   void *ud) {
  put_ctx *p = ud;
  const cJSON *failed =
      resp ? cJSON_GetObjectItemCaseSensitive(resp, "FailedRecordCount") : NULL;

  st->put_in_flight = 0;
  if (error || !cJSON_IsNumber(failed) || failed->valuedouble != 0) {
    ++st->put_failed;
    printf("PutRecords failed: %s\n",
           info && info->message ? info->message : "");
  } else {
    st->written = p->first + p->n;
  }
  free(p);
}

static void write_tick(evutil_socket_t fd, short what, void *arg) {
  cJSON *b, *recs;
  put_ctx *p;
  long k;

  (void)fd;
  (void)what;
  (void)arg;
  if (st->put_in_flight || st->put_failed ||
      st->next + write_batch > MAX_RECORDS) {
    return;
  }
  p = malloc(sizeof(*p));
  p->first = st->next;
  p->n = write_batch;
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "StreamName", STREAM);
  recs = cJSON_AddArrayToObject(b, "Records");
  for (k = 0; k < write_batch; ++k) {
    char pk[32], data[32], b64[64];
    size_t len;
    cJSON *e = cJSON_CreateObject();
    snprintf(pk, sizeof(pk), "pk-%ld", st->next + k);
    snprintf(data, sizeof(data), "r%ld", st->next + k);
    kefo__base64_encode((uint8_t *)b64, sizeof(b64), (const uint8_t *)data,
                        strlen(data), &len);
    b64[len] = 0;
    cJSON_AddStringToObject(e, "PartitionKey", pk);
    cJSON_AddStringToObject(e, "Data", b64);
    cJSON_AddItemToArray(recs, e);
  }
  st->next += write_batch;
  st->put_in_flight = 1;
  kefo__aws_call_start(aws, &svc, "PutRecords", b, NULL, on_put, p, NULL);
  cJSON_Delete(b);
}

/* ---- helpers ------------------------------------------------------------ */

static void run_ms(int ms) {
  int never = 0;
  kefo_test_run_until(base, &never, ms);
}

/* Fills the lineage from ListShards. Returns 0 or -1. */
static int learn_lineage(void) {
  cJSON *b = cJSON_CreateObject(), *r;
  const cJSON *s;

  cJSON_AddStringToObject(b, "StreamName", STREAM);
  r = call("ListShards", b);
  if (!r) {
    return -1;
  }
  cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(r, "Shards")) {
    const char *names[2] = {"ParentShardId", "AdjacentParentShardId"};
    int k = slot_of(
        cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, "ShardId")));
    int p;
    if (k < 0) {
      continue;
    }
    st->nparents[k] = 0;
    for (p = 0; p < 2; ++p) {
      const char *id =
          cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(s, names[p]));
      if (id) {
        st->parents[k][st->nparents[k]++] = slot_of(id);
      }
    }
  }
  cJSON_Delete(r);
  return 0;
}

/* From KefoMock.Stats: the fault's strikes and last strike time, and the
   struck shard's SubscribeToShard and GetShardIterator calls. */
typedef struct stats {
  double fired, fired_ms;
  double subscribes, iterators;
} stats;

static int read_stats(const char *shard, stats *out) {
  cJSON *r = control("Stats", cJSON_CreateObject());
  const cJSON *f, *sh;

  memset(out, 0, sizeof(*out));
  if (!r) {
    return -1;
  }
  f = cJSON_GetObjectItemCaseSensitive(r, "Fault");
  out->fired =
      cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(f, "Fired"));
  out->fired_ms =
      cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(f, "FiredMs"));
  sh = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(
          cJSON_GetObjectItemCaseSensitive(
              cJSON_GetObjectItemCaseSensitive(r, "Streams"), STREAM),
          "Shards"),
      shard ? shard : TARGET);
  out->subscribes = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(sh, "SubscribeToShard"), "Calls"));
  out->iterators = cJSON_GetNumberValue(
      cJSON_GetObjectItemCaseSensitive(sh, "GetShardIteratorCalls"));
  cJSON_Delete(r);
  return 0;
}

static long missing_below(long n) {
  long i, m = 0;
  for (i = 0; i < n; ++i) {
    m += st->count[i] == 0;
  }
  return m;
}

/* ---- the cells ---------------------------------------------------------- */

typedef struct cell {
  const char *name;    /* as in the table */
  const char *kind;    /* mock fault kind; NULL: a resharding cell */
  const char *op;      /* NULL: the data path */
  const char *then;    /* a second kind, struck after the first */
  const char *then_op; /* its operation */
  int count;           /* strikes (0: 1) */
  int ms;              /* STALL/SLOW duration (0: default) */
  int any_shard;       /* not aimed at TARGET */
  int bound_ms;        /* recovery and catch-up bound */
  unsigned readers;    /* 1: EFO, 2: polling */
} cell;

#define EFO 1u
#define POLL 2u

static const cell cells[] = {
    {"TCP connection dropped mid-frame", "drop", NULL, NULL, NULL, 0, 0, 0,
     10000, EFO | POLL},
    {"RST_STREAM", "rst-stream", NULL, NULL, NULL, 0, 0, 0, 10000, EFO | POLL},
    {"GOAWAY, then the connection closes", "goaway", NULL, NULL, NULL, 0, 0, 0,
     10000, EFO | POLL},
    {"stall 6 s, connection kept", "stall", NULL, NULL, NULL, 0, 6000, 0, 15000,
     EFO | POLL},
    {"slow: 8 KB/s for 3 s", "slow", NULL, NULL, NULL, 0, 3000, 0, 15000,
     EFO | POLL},
    {"truncated frame or body", "truncate", NULL, NULL, NULL, 0, 0, 0, 10000,
     EFO | POLL},
    {"malformed JSON (event or answer)", "malformed-json", NULL, NULL, NULL, 0,
     0, 0, 10000, EFO | POLL},
    {"oversized length", "oversized", NULL, NULL, NULL, 0, 0, 0, 10000,
     EFO | POLL},
    {"bad message CRC", "bad-message-crc", NULL, NULL, NULL, 0, 0, 0, 10000,
     EFO},
    {"bad prelude CRC", "bad-prelude-crc", NULL, NULL, NULL, 0, 0, 0, 10000,
     EFO},
    {"unknown event type", "unknown-event", NULL, NULL, NULL, 0, 0, 0, 10000,
     EFO},
    {"subscription expires early", "expire", NULL, NULL, NULL, 0, 0, 0, 10000,
     EFO},
    {"ResourceInUseException event", "resource-in-use", NULL, NULL, NULL, 0, 0,
     0, 10000, EFO},
    {"LimitExceededException", "limit-exceeded", NULL, NULL, NULL, 0, 0, 0,
     10000, EFO | POLL},
    {"InternalFailure", "internal-failure", NULL, NULL, NULL, 0, 0, 0, 10000,
     EFO | POLL},
    {"KMSThrottlingException", "kms-throttling", NULL, NULL, NULL, 0, 0, 0,
     10000, EFO | POLL},
    {"throttled x3 (LimitExceeded / ProvisionedThroughputExceeded)", "expire",
     NULL, "throttle", NULL, 3, 0, 0, 15000, EFO},
    {"throttled x3 (LimitExceeded / ProvisionedThroughputExceeded)", "throttle",
     NULL, NULL, NULL, 3, 0, 0, 15000, POLL},
    {"HTTP 503 ServiceUnavailable", "expire", NULL, "service-unavailable", NULL,
     0, 0, 0, 10000, EFO},
    {"HTTP 503 ServiceUnavailable", "service-unavailable", NULL, NULL, NULL, 0,
     0, 0, 10000, POLL},
    {"signature rejected (403)", "expire", NULL, "bad-signature", NULL, 0, 0, 0,
     10000, EFO},
    {"signature rejected (403)", "bad-signature", NULL, NULL, NULL, 0, 0, 0,
     10000, POLL},
    {"ExpiredTokenException", "expire", NULL, "expired-token", NULL, 0, 0, 0,
     10000, EFO},
    {"ExpiredTokenException", "expired-token", NULL, NULL, NULL, 0, 0, 0, 10000,
     POLL},
    {"ExpiredIteratorException", "expired-iterator", NULL, NULL, NULL, 0, 0, 0,
     10000, POLL},
    {"GetShardIterator fails after an expired iterator", "expired-iterator",
     NULL, "internal-failure", "GetShardIterator", 0, 0, 0, 10000, POLL},
    {"ListShards throttled x3", "throttle", "ListShards", NULL, NULL, 3, 0, 1,
     10000, EFO | POLL},
    {"ListShards answers malformed JSON", "malformed-json", "ListShards", NULL,
     NULL, 0, 0, 1, 10000, EFO | POLL},
    {"shard split while reading", NULL, "SplitShard", NULL, NULL, 0, 0, 0,
     15000, EFO | POLL},
    {"shards merged while reading", NULL, "MergeShards", NULL, NULL, 0, 0, 0,
     15000, EFO | POLL},
};
#define NCELLS (sizeof(cells) / sizeof(cells[0]))

static int resharded;

/* Splits shard 0 (EFO run) or merges... : returns the shard a record must
   come from to count as recovered, or NULL on failure. */
static const char *reshard(const char *op, double *at) {
  cJSON *b = cJSON_CreateObject(), *r;
  static char child[32];

  cJSON_AddStringToObject(b, "StreamName", STREAM);
  if (strcmp(op, "SplitShard") == 0) {
    cJSON_AddStringToObject(b, "ShardToSplit", "shardId-000000000000");
    cJSON_AddStringToObject(b, "NewStartingHashKey",
                            "42535295865117307932921825928971026432");
    /* Children 4 and 5. */
    snprintf(child, sizeof(child), "shardId-000000000004");
  } else {
    cJSON_AddStringToObject(b, "ShardToMerge", "shardId-000000000001");
    cJSON_AddStringToObject(b, "AdjacentShardToMerge", "shardId-000000000002");
    /* Child 6, after the split's two. */
    snprintf(child, sizeof(child), "shardId-000000000006");
  }
  *at = now_ms();
  r = call(op, b);
  if (!r) {
    return NULL;
  }
  cJSON_Delete(r);
  ++resharded;
  return learn_lineage() == 0 ? child : NULL;
}

static int arm(const cell *c) {
  cJSON *b = cJSON_CreateObject(), *r;

  cJSON_AddStringToObject(b, "Kind", c->kind);
  cJSON_AddNumberToObject(b, "Count", c->then ? 1 : c->count ? c->count : 1);
  if (c->op) {
    cJSON_AddStringToObject(b, "Operation", c->op);
  }
  if (!c->any_shard) {
    cJSON_AddStringToObject(b, "Shard", TARGET);
  }
  if (c->ms) {
    cJSON_AddNumberToObject(b, "Ms", c->ms);
  }
  if (c->then) {
    cJSON_AddStringToObject(b, "Then", c->then);
    cJSON_AddNumberToObject(b, "ThenCount", c->count ? c->count : 1);
    if (c->then_op) {
      cJSON_AddStringToObject(b, "ThenOperation", c->then_op);
    }
  }
  r = control("Fault", b);
  cJSON_Delete(r);
  return r ? 0 : -1;
}

/* The log hook told the cell's fault with its cause (issue 27). */
static void check_log(const cell *c) {
  fault_log_expect want;
  char line[1024];
  int found;

  if (!fault_log_expected(c->name, strcmp(reader, "EFO") == 0, TARGET, &want)) {
    printf("      log: (no event expected: the reader absorbs it)\n");
    return;
  }
  found = kefo_log_capture_find(&logs, want.event, want.shard, want.needles,
                                want.nneedles, line, sizeof(line));
  CU_ASSERT(found);
  if (found) {
    printf("      log: %.240s\n", line);
  } else {
    printf("      log: no %s for %s holding \"%s\"; the hook told:\n%s",
           want.event, want.shard, want.needles[0], logs.text ? logs.text : "");
  }
  if (getenv("KEFO_FAULT_LOG")) {
    fputs(logs.text ? logs.text : "", stdout);
  }
}

static void run_cell(const cell *c) {
  const char *shard = c->any_shard ? NULL : TARGET;
  stats before, after;
  long dups0 = st->dups, ooo0 = st->out_of_order, early0 = st->child_early;
  int errors0 = st->errors, failed0 = st->failed, k, i;
  int strikes = (c->then ? 1 : 0) + (c->count ? c->count : 1);
  double fired_ms = 0, recovered_ms = -1, caught_ms = -1, t0 = now_ms();
  long written, missing = -1, rss;

  st->last_error[0] = 0;
  kefo_log_capture_reset(&logs);
  CU_ASSERT_EQUAL_FATAL(read_stats(shard, &before), 0);
  if (c->kind) {
    CU_ASSERT_EQUAL_FATAL(arm(c), 0);
    /* The strike: the server counts it. */
    for (i = 0; i < 200; ++i) {
      read_stats(shard, &after);
      if (after.fired >= before.fired + strikes ||
          (after.fired > before.fired && c->then == NULL)) {
        break;
      }
      run_ms(50);
    }
    /* Wait for the last strike of a counted fault. */
    for (; i < 200 && after.fired < before.fired + strikes; ++i) {
      run_ms(50);
      read_stats(shard, &after);
    }
    fired_ms = after.fired_ms;
    CU_ASSERT(after.fired >= before.fired + strikes);
  } else {
    shard = reshard(c->op, &fired_ms);
    CU_ASSERT_PTR_NOT_NULL_FATAL(shard);
    /* The child is new: its calls count from zero. */
    memset(&before, 0, sizeof(before));
  }
  /* Recovery: a record written after the strike, from the struck shard
     (any shard when none was aimed at). */
  for (i = 0; i < c->bound_ms / 20 && recovered_ms < 0; ++i) {
    for (k = 0; k < MAX_SLOTS && st->shard[k][0]; ++k) {
      if ((!shard || strcmp(st->shard[k], shard) == 0) &&
          st->newest_arrival[k] > fired_ms) {
        recovered_ms = st->newest_at[k] - fired_ms;
        break;
      }
    }
    if (recovered_ms < 0) {
      run_ms(20);
    }
  }
  /* Nothing lost: everything written by now delivered. */
  written = st->written;
  for (i = 0; i < c->bound_ms / 20; ++i) {
    missing = missing_below(written);
    if (missing == 0) {
      caught_ms = now_ms() - t0;
      break;
    }
    run_ms(20);
  }
  CU_ASSERT_EQUAL_FATAL(read_stats(shard, &after), 0);
  /* Disarm what is left (a fault that never struck is a failure above). */
  {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "Kind", "none");
    cJSON_Delete(control("Fault", b));
  }
  rss = rss_kb();
  printf("| %-3s | %-58s | %6.0f | %4.0f | %3d | %5ld | %s |\n",
         reader[0] == 'E' ? "EFO" : "GR", c->name, recovered_ms,
         strcmp(reader, "EFO") == 0 ? after.subscribes - before.subscribes
                                    : after.iterators - before.iterators,
         st->errors - errors0, rss / 1024,
         st->last_error[0] ? st->last_error : "-");
  fflush(stdout);
  check_log(c);
  CU_ASSERT(recovered_ms >= 0);
  CU_ASSERT(recovered_ms <= c->bound_ms);
  CU_ASSERT_EQUAL(missing, 0);
  CU_ASSERT(caught_ms >= 0);
  CU_ASSERT_EQUAL(st->dups - dups0, 0);
  CU_ASSERT_EQUAL(st->out_of_order - ooo0, 0);
  CU_ASSERT_EQUAL(st->child_early - early0, 0);
  CU_ASSERT_EQUAL(st->failed - failed0, 0);
  CU_ASSERT_EQUAL(st->bad_data, 0);
  CU_ASSERT_EQUAL(st->put_failed, 0);
  CU_ASSERT(rss - rss_start < RSS_GROWTH_MAX_KB);
}

static void test_cell(void);

/* CUnit runs the cells in order; this index says which. */
static size_t cell_next;

static void test_cell(void) {
  unsigned me = strcmp(reader, "EFO") == 0 ? EFO : POLL;

  while (cell_next < NCELLS && !(cells[cell_next].readers & me)) {
    ++cell_next;
  }
  CU_ASSERT_FATAL(cell_next < NCELLS);
  run_cell(&cells[cell_next++]);
}

/* ---- the run per reader ------------------------------------------------- */

/* The soak's settings (fault_matrix_test --soak): more shards, more
   records, shards discovered less often. */
static int nshards = SHARDS;
static int soaking;

static void create_stream(void) {
  cJSON *b = cJSON_CreateObject(), *r;
  cJSON_AddStringToObject(b, "StreamName", STREAM);
  cJSON_AddNumberToObject(b, "ShardCount", nshards);
  r = call("CreateStream", b);
  cJSON_Delete(r);
}

static int start_run(void) {
  kefo_consumer_callbacks *cbs;
  kefo_config *cfg;
  char url[128], err[256];
  struct timeval tv;
  const char *const extra[] = {
      "source.shard.discovery.interval", soaking ? "10s" : "1s",
      /* A stall is noticed after this; the default is a minute. */
      "source.efo.subscription.timeout", "2s", "aws.http.request-timeout", "2s",
      NULL};
  size_t i;

  st = calloc(1, sizeof(*st));
  cell_next = 0;
  resharded = 0;
  snprintf(url, sizeof(url), "http://127.0.0.1:%s", getenv("MOCK_FAULT_PORT"));
  if (kefo_config_new(&cfg) != 0 ||
      kefo_test_consumer_config(cfg, url, STREAM, reader, "kefo-faults") != 0) {
    return -1;
  }
  for (i = 0; extra[i]; i += 2) {
    if (kefo_config_set2(cfg, extra[i], extra[i + 1], err, sizeof(err)) != 0) {
      printf("%s\n", err);
      return -1;
    }
  }
  create_stream();
  if (kefo_consumer_callbacks_new(&cbs) != 0) {
    return -1;
  }
  kefo_consumer_callbacks_set_on_records(cbs, on_records);
  kefo_consumer_callbacks_set_on_shard_event(cbs, on_shard_event);
  kefo_consumer_callbacks_set_on_error(cbs, on_error);
  kefo_consumer_callbacks_set_log(cbs, kefo_log_capture_hook, KEFO_LOG_DEBUG);
  /* The hook's user data is the consumer's. */
  i = kefo_consumer_new2(&consumer, cfg, cbs, &logs, base) != 0;
  kefo_consumer_callbacks_del(cbs);
  kefo_config_del(cfg);
  if (i) {
    return -1;
  }
  if (kefo_consumer_start(consumer) != 0) {
    return -1;
  }
  st->writer = event_new(base, -1, EV_PERSIST, write_tick, NULL);
  tv.tv_sec = 0;
  tv.tv_usec = WRITE_EVERY_MS * 1000;
  event_add(st->writer, &tv);
  /* Reading before the first fault. */
  for (i = 0; i < 1000 && st->records < 100; ++i) {
    run_ms(20);
  }
  if (learn_lineage() != 0) {
    return -1;
  }
  rss_start = rss_kb();
  if (!soaking) {
    printf("\n| reader | fault | recovery ms | resubscribes | errors reported "
           "| RSS MiB | last error |\n");
  }
  return st->records >= 100 ? 0 : -1;
}

static int end_run(void) {
  long once = 0, i, missing = 0, more = 0;
  int j;

  event_free(st->writer);
  for (j = 0; j < 500 && st->put_in_flight; ++j) {
    run_ms(20);
  }
  for (j = 0; j < (soaking ? 6000 : 1000) && missing_below(st->written) > 0;
       ++j) {
    run_ms(20);
  }
  for (i = 0; i < st->written; ++i) {
    once += st->count[i] == 1;
    missing += st->count[i] == 0;
    more += st->count[i] > 1;
  }
  printf("%s run: %ld records written, %ld delivered exactly once, %ld "
         "missing, %ld more than once, %ld out of order, %ld child records "
         "early, %d shards failed, RSS %ld -> %ld KiB\n",
         reader, st->written, once, missing, more, st->out_of_order,
         st->child_early, st->failed, rss_start, rss_kb());
  kefo_consumer_stop(consumer, 1);
  for (j = 0; j < 1000 && !kefo_consumer_stopped(consumer); ++j) {
    run_ms(10);
  }
  kefo_consumer_del(consumer);
  consumer = NULL;
  j = once == st->written && st->failed == 0;
  free(st);
  st = NULL;
  return j ? 0 : 1;
}

static int efo_init(void) {
  reader = "EFO";
  snprintf(stream, sizeof(stream), "faults-efo");
  return start_run();
}

static int polling_init(void) {
  reader = "POLLING";
  snprintf(stream, sizeof(stream), "faults-polling");
  return start_run();
}

/* ---- the soak ------------------------------------------------------------ */

/* What the soak strikes at random, per reader: the faults of the matrix
   that hit one shard's data path. */
static const char *const soak_efo[] = {"drop",
                                       "rst-stream",
                                       "goaway",
                                       "stall",
                                       "slow",
                                       "truncate",
                                       "malformed-json",
                                       "oversized",
                                       "bad-message-crc",
                                       "bad-prelude-crc",
                                       "unknown-event",
                                       "expire",
                                       "resource-in-use",
                                       "limit-exceeded",
                                       "internal-failure",
                                       "kms-throttling",
                                       NULL};
static const char *const soak_polling[] = {"drop",
                                           "rst-stream",
                                           "goaway",
                                           "stall",
                                           "slow",
                                           "truncate",
                                           "malformed-json",
                                           "oversized",
                                           "limit-exceeded",
                                           "internal-failure",
                                           "kms-throttling",
                                           "throttle",
                                           "service-unavailable",
                                           "bad-signature",
                                           "expired-token",
                                           "expired-iterator",
                                           NULL};

static int count_fds(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;

  while (d && (e = readdir(d)) != NULL) {
    n += e->d_name[0] != '.';
  }
  if (d) {
    closedir(d);
    --n; /* opendir's own */
  }
  return n;
}

/* Appends "fd -> target" lines for every open descriptor to |out|. */
static void list_fds(char *out, size_t outlen) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  char path[300], target[256];
  ssize_t n;
  size_t len = strlen(out);

  while (d && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') {
      continue;
    }
    snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
    n = readlink(path, target, sizeof(target) - 1);
    target[n > 0 ? n : 0] = 0;
    len += (size_t)snprintf(out + len, len < outlen ? outlen - len : 0,
                            "  fd %s -> %s\n", e->d_name, target);
    if (len >= outlen) {
      break;
    }
  }
  if (d) {
    closedir(d);
  }
}

/* Descriptors open before anything was made, for the soak's leak check. */
static int fds_start;
static char fds_list[4096];

/* fault_matrix_test --soak SECONDS [SHARDS]: a random fault on a random
   shard every second while |shards| shards are read and 2,000 records a
   second written; a row every 30 s (RSS, open descriptors, records);
   at the end every record must have come exactly once, in order, no
   shard failed, the RSS floor of the last third of the run within 10%
   (and 16 MiB) of the middle third's, and every descriptor closed once
   everything is deleted. KEFO_SOAK_READER: EFO (the
   default) or POLLING. */
static int soak(long seconds, int shards) {
  const char *env = getenv("KEFO_SOAK_READER");
  const char *const *kinds;
  int armed = 0, rc;
  /* The lowest RSS sampled in the middle and in the last third of the
     run: a leak raises the floor, while a transient buffer (a 32 MiB
     oversized answer read before it is refused) only makes a spike. */
  long rss_mid = -1, rss_end = -1, t, nkinds = 0, missing;
  double t0, fired0;
  stats sst;
  unsigned seed = (unsigned)time(NULL);

  reader = env && strcmp(env, "POLLING") == 0 ? "POLLING" : "EFO";
  kinds = reader[0] == 'E' ? soak_efo : soak_polling;
  while (kinds[nkinds]) {
    ++nkinds;
  }
  snprintf(stream, sizeof(stream), "soak-%s", reader);
  soaking = 1;
  nshards = shards;
  write_batch = 100;
  printf("soak: %s reader, %d shards, %ld s, seed %u\n", reader, shards,
         seconds, seed);
  srand(seed);
  if (start_run() != 0) {
    printf("soak: the consumer did not start reading\n");
    return 1;
  }
  read_stats(NULL, &sst);
  fired0 = sst.fired;
  printf("| s | RSS MiB | fds | written | delivered | not yet delivered | "
         "faults armed | struck | errors reported |\n");
  t0 = now_ms();
  for (t = 1; t <= seconds; ++t) {
    char shard[32];
    cJSON *b = cJSON_CreateObject();
    const char *kind = kinds[rand() % nkinds];

    snprintf(shard, sizeof(shard), "shardId-%012d", rand() % shards);
    cJSON_AddStringToObject(b, "Kind", kind);
    cJSON_AddStringToObject(b, "Shard", shard);
    if (strcmp(kind, "stall") == 0 || strcmp(kind, "slow") == 0) {
      cJSON_AddNumberToObject(b, "Ms", 3000);
    }
    cJSON_Delete(control("Fault", b));
    ++armed;
    /* The rest of this second. */
    while (now_ms() < t0 + (double)t * 1000) {
      run_ms(50);
    }
    if (t % 30 == 0 || t == seconds) {
      long rss = rss_kb();
      read_stats(NULL, &sst);
      printf("| %ld | %.1f | %d | %ld | %ld | %ld | %d | %.0f | %d |\n", t,
             rss / 1024.0, count_fds(), st->written, st->records,
             missing_below(st->written), armed, sst.fired - fired0, st->errors);
      fflush(stdout);
      if (t > 2 * seconds / 3 || t == seconds) {
        rss_end = rss_end < 0 || rss < rss_end ? rss : rss_end;
      } else if (t > seconds / 3) {
        rss_mid = rss_mid < 0 || rss < rss_mid ? rss : rss_mid;
      }
    }
  }
  {
    cJSON *b = cJSON_CreateObject();
    cJSON_AddStringToObject(b, "Kind", "none");
    cJSON_Delete(control("Fault", b));
  }
  missing = missing_below(st->written);
  rc = end_run();
  printf("soak: lowest RSS %.1f MiB in the middle third, %.1f MiB in the "
         "last; %ld records "
         "not yet delivered when the faults stopped\n",
         rss_mid / 1024.0, rss_end / 1024.0, missing);
  if (rss_mid > 0 && rss_end > rss_mid + rss_mid / 10 &&
      rss_end > rss_mid + 16 * 1024) {
    printf("soak: FAILED: RSS grew\n");
    rc = 1;
  }
  return rc;
}

int main(int argc, char **argv) {
  CU_pSuite s;
  unsigned failures, me;
  size_t i;
  char url[128];

  /* As kefo.h asks of an application: a write to a connection the mock
     dropped must not kill the process. */
  signal(SIGPIPE, SIG_IGN);
  fds_start = count_fds();
  list_fds(fds_list, sizeof(fds_list));
  base = event_base_new();
  snprintf(url, sizeof(url), "http://127.0.0.1:%s", getenv("MOCK_FAULT_PORT"));
  kefo__aws_service_kinesis(&svc, url, "us-east-1");
  ctl_svc = svc;
  ctl_svc.target_prefix = "KefoMock";
  if (kefo__http_client_new(&http, base, NULL) != 0 ||
      kefo__aws_client_new(&aws, base, http, kefo_test_credentials(), NULL,
                           NULL) != 0) {
    return 1;
  }
  if (argc >= 3 && strcmp(argv[1], "--soak") == 0) {
    int rc = soak(atol(argv[2]), argc >= 4 ? atoi(argv[3]) : 1000);
    char after[4096] = "";

    kefo__aws_client_del(aws);
    kefo__http_client_del(http);
    event_base_free(base);
    /* Every descriptor kefo opened (the consumer's and the test's own
       clients) is closed once they are deleted. */
    list_fds(after, sizeof(after));
    printf("soak: descriptors %d at the start, %d once everything was "
           "deleted\n",
           fds_start, count_fds());
    if (count_fds() > fds_start) {
      printf("soak: FAILED: descriptors leaked; at the start:\n%snow:\n%s",
             fds_list, after);
      rc = 1;
    }
    printf("soak: %s\n", rc == 0 ? "passed" : "FAILED");
    return rc;
  }
  CU_initialize_registry();
  s = CU_add_suite("fault matrix, EFO", efo_init, end_run);
  for (me = EFO, i = 0; i < NCELLS; ++i) {
    if (cells[i].readers & me) {
      CU_add_test(s, cells[i].name, test_cell);
    }
  }
  s = CU_add_suite("fault matrix, polling", polling_init, end_run);
  for (me = POLL, i = 0; i < NCELLS; ++i) {
    if (cells[i].readers & me) {
      CU_add_test(s, cells[i].name, test_cell);
    }
  }
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed() +
             CU_get_number_of_suites_failed();
  CU_cleanup_registry();
  kefo__aws_client_del(aws);
  kefo__http_client_del(http);
  event_base_free(base);
  return failures ? 1 : 0;
}
