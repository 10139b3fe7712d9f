/*
 * The consumer against kinesis-local (started by
 * tests/integration/consumer_kl_test.sh), the same tests for each reader type
 * (EFO, then polling):
 *
 * - volume: a 4-shard stream holding 20,000 records, read from
 *   TRIM_HORIZON: every record exactly once, on the shard and with the
 *   sequence number PutRecords returned, in order per shard; the
 *   JOB_MANAGED consumer exists only while the EFO reader runs, and the
 *   polling reader registers none (ListStreamConsumers before, during,
 *   after).
 * - restart: a reader checkpoints one record per shard and dies; the next
 *   one, on the same checkpoint file, starts right after each of them.
 *   Automatic checkpoints at a graceful stop: the reader after that
 *   rereads nothing.
 * - SELF_MANAGED (EFO): a registered consumer's ARN reads and is left in
 *   place; an unknown ARN fails with a clear error and registers nothing.
 * - resharding (polling: kinesis-local's GetRecords emulates shard end,
 *   its SubscribeToShard does not): a shard split and two merged while
 *   records are written and read: each exactly once, no child record
 *   before its parents ended.
 * - watermark alignment: the built-in aligner pauses a shard whose event
 *   times (from an event_time callback) run ahead by more than the max
 *   drift and resumes it once the other catches up (or goes idle); an
 *   external coordinator's kefo_set_max_watermark holds both shards and
 *   lets them go. Nothing lost or reordered.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <event2/event.h>

#include <kefo/kefo.h>

#include "base/base64.h"
#include "efo/subscription.h"
#include "tests/support/aws_test_util.h"
#include "tests/support/kl_calls.h"

#define VOLUME 20000
#define VSHARDS 4
#define RESTART_RECS 200

static struct event_base *base;
static char tmpdir[256];
/* The reader type under test, set by the suite: "EFO" or "POLLING". */
static const char *reader = "EFO";
static int efo(void) {
  return strcmp(reader, "EFO") == 0;
}
/* The volume stream, written once and read by each reader type. */
static kefo_kl_expected *volume_ex;

/* ---- raw API calls ---------------------------------------------------- */

/* The consumers registered on |arn|. */
static int count_consumers(const char *arn, const char *name_prefix) {
  cJSON *b = cJSON_CreateObject();
  const cJSON *c;
  kefo_kl_answer a;
  int n = 0;

  cJSON_AddStringToObject(b, "StreamARN", arn);
  kefo_kl_call("ListStreamConsumers", b, &a);
  CU_ASSERT_EQUAL(a.error, 0);
  cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(a.resp, "Consumers")) {
    const cJSON *nm = cJSON_GetObjectItemCaseSensitive(c, "ConsumerName");
    if (cJSON_IsString(nm) &&
        strncmp(nm->valuestring, name_prefix, strlen(name_prefix)) == 0) {
      ++n;
    }
  }
  cJSON_Delete(a.resp);
  return n;
}

/* ---- a consumer and what it saw --------------------------------------- */

#define MAX_SHARDS 8

typedef struct tally {
  const kefo_kl_expected *ex;
  int nex;
  int *count;      /* deliveries per record index */
  int records;     /* deliveries in all */
  int wrong_place; /* shard or sequence number not as PutRecords said */
  /* Records read before their PutRecords call answered (the test writes
     while it reads): checked by check_deferred once it has. */
  struct {
    int idx;
    char shard[32];
    char seq[KEFO_SEQ_MAX];
  } deferred[128];
  int ndeferred;
  int out_of_order; /* a sequence number not above the shard's last */
  int bad_data;     /* data not "rec-<i>" */
  int errors;
  int aws_errors;
  char aws_type[128];
  char shard[MAX_SHARDS][32];
  char last[MAX_SHARDS][KEFO_SEQ_MAX];
  int first_index[MAX_SHARDS]; /* the first record index seen per shard */
  int per_shard[MAX_SHARDS];
  /* Checkpoint the Nth record of each shard (0: none). */
  int checkpoint_at;
  int checkpointed[MAX_SHARDS]; /* record index checkpointed */
  int checkpoint_failures;
  /* Stop gracefully once this many records were seen in all, in the
     middle of a call (kefo_consumer_stop_after); 0: never. */
  int stop_after_total;
  int stop_asked; /* kefo_consumer_stop_after was called */
  /* on_stopped: how often, why, and the AWS type of the error. */
  int stopped_calls;
  int stopped_reason;
  char stopped_type[128];
  int calls_after_stop; /* on_records calls after it: must be none */
  /* Lineage: shards finished, and records of a shard delivered before
     one of its parents (parents[k], slots) finished. */
  int ended[MAX_SHARDS];
  int finished;
  int parents[MAX_SHARDS][2];
  int nparents[MAX_SHARDS];
  int child_early;
} tally;

static int shard_slot(tally *t, const char *shard) {
  int k;
  for (k = 0; k < MAX_SHARDS; ++k) {
    if (t->shard[k][0] == 0) {
      snprintf(t->shard[k], sizeof(t->shard[k]), "%s", shard);
      t->first_index[k] = -1;
      t->checkpointed[k] = -1;
      return k;
    }
    if (strcmp(t->shard[k], shard) == 0) {
      return k;
    }
  }
  return -1;
}

/* Counts record |idx| read on |shard| at |seq| against what PutRecords
   said. */
static void check_place(tally *t, int idx, const char *shard, const char *seq) {
  if (strcmp(t->ex[idx].shard, shard) != 0 ||
      strcmp(t->ex[idx].seq, seq) != 0) {
    if (t->wrong_place++ < 5) {
      printf("rec-%d: PutRecords said %s %s, read on %s at %s\n", idx,
             t->ex[idx].shard, t->ex[idx].seq, shard, seq);
    }
  }
}

/* The records read before their PutRecords answered, checked now. */
static void check_deferred(tally *t) {
  int i;
  for (i = 0; i < t->ndeferred; ++i) {
    check_place(t, t->deferred[i].idx, t->deferred[i].shard,
                t->deferred[i].seq);
  }
  t->ndeferred = 0;
}

static int on_records(kefo_consumer *c, const char *shard, const kefo_record *r,
                      size_t n, int64_t behind, void *ud) {
  tally *t = ud;
  int k = shard_slot(t, shard);
  size_t i;

  (void)behind;
  CU_ASSERT_FATAL(k >= 0);
  if (t->stop_asked) {
    ++t->calls_after_stop;
    return 0;
  }
  {
    int p;
    for (p = 0; p < t->nparents[k]; ++p) {
      t->child_early += t->ended[t->parents[k][p]] ? 0 : (int)n;
    }
  }
  for (i = 0; i < n; ++i) {
    char data[32];
    int idx = -1;
    if (t->stop_after_total && t->records == t->stop_after_total) {
      /* The application finished with the first i records only. */
      CU_ASSERT_EQUAL(kefo_consumer_stop_after(c, i, 1), 0);
      t->stop_asked = 1;
      return 0;
    }
    if (r[i].data_len < sizeof(data)) {
      memcpy(data, r[i].data, r[i].data_len);
      data[r[i].data_len] = 0;
      if (sscanf(data, "rec-%d", &idx) != 1) {
        idx = -1;
      }
    }
    if (idx < 0 || idx >= t->nex) {
      ++t->bad_data;
    } else {
      ++t->count[idx];
      if (t->ex[idx].shard[0] == '\0') {
        if (t->ndeferred <
            (int)(sizeof(t->deferred) / sizeof(t->deferred[0]))) {
          t->deferred[t->ndeferred].idx = idx;
          snprintf(t->deferred[t->ndeferred].shard,
                   sizeof(t->deferred[0].shard), "%s", shard);
          snprintf(t->deferred[t->ndeferred].seq, sizeof(t->deferred[0].seq),
                   "%s", r[i].sequence_number);
          ++t->ndeferred;
        } else {
          ++t->wrong_place; /* cannot be checked: counted against */
        }
      } else {
        check_place(t, idx, shard, r[i].sequence_number);
      }
    }
    if (t->last[k][0] && kefo__seq_cmp(t->last[k], r[i].sequence_number) >= 0) {
      ++t->out_of_order;
    }
    snprintf(t->last[k], sizeof(t->last[k]), "%s", r[i].sequence_number);
    if (t->first_index[k] < 0) {
      t->first_index[k] = idx;
    }
    ++t->per_shard[k];
    ++t->records;
    if (t->checkpoint_at && t->per_shard[k] == t->checkpoint_at) {
      if (kefo_checkpoint(c, shard, r[i].sequence_number, 0) == 0) {
        t->checkpointed[k] = idx;
      } else {
        ++t->checkpoint_failures;
      }
    }
  }
  return 0;
}

static void on_shard_event(kefo_consumer *c, const char *shard,
                           kefo_shard_event ev, void *ud) {
  tally *t = ud;
  int k;

  (void)c;
  if (ev == KEFO_SHARD_EVENT_FINISHED && (k = shard_slot(t, shard)) >= 0) {
    t->ended[k] = 1;
    ++t->finished;
  }
}

static void on_error(kefo_consumer *c, const kefo_error_info *e, void *ud) {
  tally *t = ud;
  (void)c;
  ++t->errors;
  if (e->code == KEFO_ERR_AWS && e->aws_type) {
    ++t->aws_errors;
    snprintf(t->aws_type, sizeof(t->aws_type), "%s", e->aws_type);
  }
  printf("consumer error: %s (%s)\n", e->message, kefo_strerror(e->code));
}

static void tally_init(tally *t, const kefo_kl_expected *ex, int nex) {
  memset(t, 0, sizeof(*t));
  t->ex = ex;
  t->nex = nex;
  t->count = calloc((size_t)nex, sizeof(int));
}

/* A started consumer of |stream| named |name| with |cb| / |ud|, the extra
   keys and values of |extra| (NULL-ended), and |event_time| (may be
   NULL). */
static kefo_consumer *start_consumer(const char *stream, const char *name,
                                     const kefo_callbacks *cb, void *ud,
                                     const char *const *extra,
                                     kefo_event_time_cb event_time) {
  kefo_config *cfg;
  kefo_consumer *c = NULL;
  char url[128], err[256];
  size_t i;

  snprintf(url, sizeof(url), "http://127.0.0.1:%s", getenv("KINESIS_PORT"));
  CU_ASSERT_FATAL(kefo_config_new(&cfg) == 0);
#define SET(k, v)                                                              \
  CU_ASSERT_EQUAL_FATAL(kefo_config_set2(cfg, k, v, err, sizeof(err)), 0)
  CU_ASSERT_EQUAL_FATAL(
      kefo_test_consumer_config(cfg, url, stream, reader, name), 0);
  for (i = 0; extra && extra[i]; i += 2) {
    SET(extra[i], extra[i + 1]);
  }
#undef SET
  CU_ASSERT_EQUAL_FATAL(kefo_consumer_new(&c, cfg, cb, ud, base), 0);
  kefo_config_del(cfg);
  CU_ASSERT_EQUAL_FATAL(kefo_consumer_set_event_time(c, event_time), 0);
  CU_ASSERT_EQUAL_FATAL(kefo_consumer_start(c), 0);
  CU_ASSERT_EQUAL(kefo_consumer_set_event_time(c, event_time),
                  KEFO_ERR_INVALID_STATE);
  return c;
}

static void on_stopped(kefo_consumer *c, kefo_stop_reason reason,
                       const kefo_error_info *err, void *ud) {
  tally *t = ud;

  CU_ASSERT(kefo_consumer_stopped(c));
  ++t->stopped_calls;
  t->stopped_reason = (int)reason;
  snprintf(t->stopped_type, sizeof(t->stopped_type), "%s",
           err && err->aws_type ? err->aws_type : "");
}

/* Through the callbacks object (kefo_consumer_new2), with on_stopped;
   the other tests here use the kefo_callbacks struct. */
static kefo_consumer *new_consumer(const char *stream, const char *name,
                                   tally *t, const char *const *extra) {
  kefo_consumer_callbacks *cbs;
  kefo_config *cfg;
  kefo_consumer *c = NULL;
  char url[128], err[256];
  size_t i;

  snprintf(url, sizeof(url), "http://127.0.0.1:%s", getenv("KINESIS_PORT"));
  CU_ASSERT_FATAL(kefo_config_new(&cfg) == 0);
  CU_ASSERT_EQUAL_FATAL(
      kefo_test_consumer_config(cfg, url, stream, reader, name), 0);
  for (i = 0; extra && extra[i]; i += 2) {
    CU_ASSERT_EQUAL_FATAL(
        kefo_config_set2(cfg, extra[i], extra[i + 1], err, sizeof(err)), 0);
  }
  CU_ASSERT_FATAL(kefo_consumer_callbacks_new(&cbs) == 0);
  kefo_consumer_callbacks_set_on_records(cbs, on_records);
  kefo_consumer_callbacks_set_on_shard_event(cbs, on_shard_event);
  kefo_consumer_callbacks_set_on_error(cbs, on_error);
  kefo_consumer_callbacks_set_on_stopped(cbs, on_stopped);
  CU_ASSERT_EQUAL_FATAL(kefo_consumer_new2(&c, cfg, cbs, t, base), 0);
  kefo_consumer_callbacks_del(cbs); /* copied */
  kefo_config_del(cfg);
  CU_ASSERT_EQUAL_FATAL(kefo_consumer_start(c), 0);
  return c;
}

/* Runs the loop until |t| saw |want| deliveries or |seconds| passed. */
static void run_for(tally *t, int want, int seconds) {
  int i, never = 0;
  for (i = 0; i < seconds * 100 && (want < 0 || t->records < want); ++i) {
    kefo_test_run_until(base, &never, 10);
  }
}

static void stop(kefo_consumer *c, int graceful) {
  int i, never = 0;
  kefo_consumer_stop(c, graceful);
  for (i = 0; i < 2000 && !kefo_consumer_stopped(c); ++i) {
    kefo_test_run_until(base, &never, 10);
  }
  CU_ASSERT(kefo_consumer_stopped(c));
  kefo_consumer_del(c);
}

/* ---- the tests -------------------------------------------------------- */

static void test_volume(void) {
  kefo_kl_expected *ex;
  /* A small stream window: kinesis-local once stalled for good when the
     connection window came back only at half of 16 MiB. */
  static const char *const extra[] = {"source.shard.buffer.max-bytes", "256KiB",
                                      NULL};
  tally t;
  kefo_consumer *c;
  kefo_stats st;
  char *arn, name[64];
  int i, once = 0, missing = 0, more = 0, before, during, after;
  struct timespec t0, t1;
  double secs;

  /* Written once (it takes half a minute), read by each reader type. */
  if (volume_ex == NULL) {
    volume_ex = calloc(VOLUME, sizeof(*volume_ex));
    kefo_kl_create_stream("kefo-volume", VSHARDS);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kefo_kl_put_range("kefo-volume", 0, VOLUME, volume_ex);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("\nvolume: %d records written by PutRecords in %.1f s\n", VOLUME,
           (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
  }
  ex = volume_ex;
  snprintf(name, sizeof(name), "kefo-vol-reader-%s", reader);
  arn = kefo_kl_stream_arn("kefo-volume");
  CU_ASSERT_PTR_NOT_NULL_FATAL(arn);
  before = count_consumers(arn, "kefo-vol");

  tally_init(&t, ex, VOLUME);
  clock_gettime(CLOCK_MONOTONIC, &t0);
  c = new_consumer("kefo-volume", name, &t, extra);
  run_for(&t, VOLUME, 120);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  during = count_consumers(arn, "kefo-vol");
  /* A little longer: anything delivered twice would show now. */
  run_for(&t, -1, 2);
  check_deferred(&t);
  CU_ASSERT_EQUAL(kefo_consumer_stats(c, &st), 0);
  for (i = 0; i < VOLUME; ++i) {
    once += t.count[i] == 1;
    missing += t.count[i] == 0;
    more += t.count[i] > 1;
  }
  printf(
      "\nvolume (%s): %d of %d records exactly once, %d missing, %d more than "
      "once, %d on a wrong shard or sequence number, %d out of order, "
      "in %.1f s (including registration)\n",
      reader, once, VOLUME, missing, more, t.wrong_place, t.out_of_order, secs);
  printf("volume: stats: %zu shards, %llu records, %llu bytes\n", st.nshards,
         (unsigned long long)st.records, (unsigned long long)st.bytes);
  CU_ASSERT_EQUAL(once, VOLUME);
  CU_ASSERT_EQUAL(t.wrong_place, 0);
  CU_ASSERT_EQUAL(t.out_of_order, 0);
  CU_ASSERT_EQUAL(t.bad_data, 0);
  CU_ASSERT_EQUAL(st.nshards, VSHARDS);
  CU_ASSERT_EQUAL(st.records, (uint64_t)VOLUME);
  for (i = 0; i < (int)st.nshards; ++i) {
    CU_ASSERT_EQUAL(st.shards[i].state, KEFO_SHARD_STATE_READING);
    CU_ASSERT(st.shards[i].millis_behind_latest >= 0);
  }
  stop(c, 1);
  after = count_consumers(arn, "kefo-vol");
  printf("volume (%s): registered consumers before / during / after: %d / "
         "%d / %d\n",
         reader, before, during, after);
  CU_ASSERT_EQUAL(before, 0);
  /* JOB_MANAGED EFO registers one for the run; polling needs none. */
  CU_ASSERT_EQUAL(during, efo() ? 1 : 0);
  CU_ASSERT_EQUAL(after, 0);
  free(t.count);
  free(arn);
}

static void test_restart(void) {
  kefo_kl_expected *ex = calloc(RESTART_RECS + 20, sizeof(*ex));
  char path[512];
  /* Manual checkpoints only, into a file. */
  const char *manual[] = {"source.lease.store",
                          "file",
                          "source.lease.file",
                          path,
                          "source.checkpoint.interval",
                          "0ms",
                          NULL};
  const char *automatic[] = {"source.lease.store",
                             "file",
                             "source.lease.file",
                             path,
                             "source.checkpoint.interval",
                             "200ms",
                             NULL};
  tally a, b, d;
  kefo_consumer *c;
  int k, i, dup_after = 0, resumed_right = 0, shards = 0, old = 0;
  char stream[64];

  /* A stream and a checkpoint file per reader type. */
  snprintf(stream, sizeof(stream), "kefo-restart-%s", reader);
  snprintf(path, sizeof(path), "%s/restart-%s.checkpoints", tmpdir, reader);
  kefo_kl_create_stream(stream, 2);
  kefo_kl_put_range(stream, 0, RESTART_RECS, ex);

  /* A: reads everything, checkpoints the 40th record of each shard,
     and stops at once (no final checkpoint: the interval is 0). */
  tally_init(&a, ex, RESTART_RECS);
  a.checkpoint_at = 40;
  c = new_consumer(stream, "kefo-restart-app", &a, manual);
  run_for(&a, RESTART_RECS, 60);
  CU_ASSERT_EQUAL(a.records, RESTART_RECS);
  CU_ASSERT_EQUAL(a.checkpoint_failures, 0);
  /* Not delivered yet, or malformed: refused. */
  CU_ASSERT_EQUAL(
      kefo_checkpoint(
          c, a.shard[0],
          "99999999999999999999999999999999999999999999999999999999", 0),
      KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo_checkpoint(c, a.shard[0], "12x", 0),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo_checkpoint(c, "shardId-000000000099", ex[0].seq, 0),
                  KEFO_ERR_INVALID_ARGUMENT);
  stop(c, 0);

  /* B: the same file and application: each shard starts right after its
     checkpointed record. */
  tally_init(&b, ex, RESTART_RECS);
  c = new_consumer(stream, "kefo-restart-app", &b, automatic);
  run_for(&b, RESTART_RECS - 80, 60);
  run_for(&b, -1, 1);
  {
    kefo_stats st;
    size_t j;
    kefo_consumer_stats(c, &st);
    for (j = 0; j < st.nshards; ++j) {
      printf("restart: %s state %d, %llu records, %u resubscribes, %u "
             "errors, %lld ms behind\n",
             st.shards[j].shard_id, (int)st.shards[j].state,
             (unsigned long long)st.shards[j].records,
             st.shards[j].resubscribes, st.shards[j].errors,
             (long long)st.shards[j].millis_behind_latest);
    }
  }
  for (k = 0; k < MAX_SHARDS && a.shard[k][0]; ++k) {
    int cp = a.checkpointed[k], next = -1, j;
    ++shards;
    /* The record written after the checkpointed one on that shard. */
    for (j = cp + 1; j < RESTART_RECS; ++j) {
      if (strcmp(ex[j].shard, a.shard[k]) == 0) {
        next = j;
        break;
      }
    }
    j = shard_slot(&b, a.shard[k]);
    printf(
        "restart (%s): %s checkpointed at rec-%d, the next reader began with "
        "rec-%d (kefo_kl_expected rec-%d)\n",
        reader, a.shard[k], cp, b.first_index[j], next);
    resumed_right += cp >= 0 && b.first_index[j] == next;
  }
  for (i = 0; i < RESTART_RECS; ++i) {
    dup_after += b.count[i] > 1;
  }
  printf("restart: second reader delivered %d records (%d kefo_kl_expected), "
         "%d more "
         "than once\n",
         b.records, RESTART_RECS - 80, dup_after);
  CU_ASSERT_EQUAL(shards, 2);
  CU_ASSERT_EQUAL(resumed_right, 2);
  CU_ASSERT_EQUAL(b.records, RESTART_RECS - 80);
  CU_ASSERT_EQUAL(dup_after, 0);
  CU_ASSERT_EQUAL(b.out_of_order, 0);
  /* B stops gracefully: its automatic checkpoints cover everything. */
  stop(c, 1);

  /* D: nothing old again; only what is written now. */
  tally_init(&d, ex, RESTART_RECS + 20);
  c = new_consumer(stream, "kefo-restart-app", &d, automatic);
  run_for(&d, -1, 3);
  CU_ASSERT_EQUAL(d.records, 0);
  kefo_kl_put_range(stream, RESTART_RECS, 20, ex);
  run_for(&d, 20, 30);
  run_for(&d, -1, 1);
  for (i = 0; i < RESTART_RECS; ++i) {
    old += d.count[i];
  }
  printf("restart: after a graceful stop, the next reader reread %d old "
         "records and got %d records in all (20 new written)\n",
         old, d.records);
  CU_ASSERT_EQUAL(old, 0);
  for (i = RESTART_RECS; i < RESTART_RECS + 20; ++i) {
    CU_ASSERT_EQUAL(d.count[i], 1);
  }
  stop(c, 1);

  /* A different application on that file is refused, by name. */
  {
    tally e;
    tally_init(&e, ex, RESTART_RECS);
    c = new_consumer(stream, "kefo-other-app", &e, manual);
    run_for(&e, -1, 2);
    CU_ASSERT(e.errors >= 1);
    CU_ASSERT(kefo_consumer_stopped(c));
    CU_ASSERT_EQUAL(e.records, 0);
    stop(c, 0);
    free(e.count);
  }
  unlink(path);
  free(a.count);
  free(b.count);
  free(d.count);
  free(ex);
}

/*
 * The contract of issue 23: a stop in the middle of a call
 * (kefo_consumer_stop_after) checkpoints the records finished with and no
 * more, so the next reader on the same file reads every other record
 * exactly once. Automatic checkpoints, as most applications run.
 */
static void test_stop_mid_batch(void) {
  kefo_kl_expected *ex = calloc(RESTART_RECS, sizeof(*ex));
  char path[512], stream[64];
  const char *automatic[] = {"source.lease.store",
                             "file",
                             "source.lease.file",
                             path,
                             "source.checkpoint.interval",
                             "200ms",
                             NULL};
  tally a, b;
  kefo_consumer *c;
  int i, once = 0, twice = 0, never = 0;

  snprintf(stream, sizeof(stream), "kefo-midstop-%s", reader);
  snprintf(path, sizeof(path), "%s/midstop-%s.checkpoints", tmpdir, reader);
  kefo_kl_create_stream(stream, 2);
  kefo_kl_put_range(stream, 0, RESTART_RECS, ex);

  tally_init(&a, ex, RESTART_RECS);
  a.stop_after_total = 37; /* inside the first event of a shard */
  c = new_consumer(stream, "kefo-midstop-app", &a, automatic);
  CU_ASSERT_EQUAL(kefo_consumer_stop_after(c, 0, 1), KEFO_ERR_INVALID_STATE);
  for (i = 0; i < 3000 && !kefo_consumer_stopped(c); ++i) {
    kefo_test_run_until(base, &never, 10);
  }
  CU_ASSERT(kefo_consumer_stopped(c));
  CU_ASSERT_EQUAL(a.records, 37);
  CU_ASSERT_EQUAL(a.calls_after_stop, 0);
  CU_ASSERT_EQUAL(a.stopped_calls, 1);
  CU_ASSERT_EQUAL(a.stopped_reason, KEFO_STOP_ASKED);
  {
    /* After the stop no shard says it is being read. */
    kefo_stats st;
    size_t j;
    CU_ASSERT_EQUAL_FATAL(kefo_consumer_stats(c, &st), 0);
    CU_ASSERT(st.nshards > 0);
    for (j = 0; j < st.nshards; ++j) {
      CU_ASSERT(st.shards[j].state == KEFO_SHARD_STATE_STOPPED ||
                st.shards[j].state == KEFO_SHARD_STATE_FINISHED);
    }
  }
  stop(c, 1);
  CU_ASSERT_EQUAL(a.stopped_calls, 1);

  tally_init(&b, ex, RESTART_RECS);
  c = new_consumer(stream, "kefo-midstop-app", &b, automatic);
  run_for(&b, RESTART_RECS - 37, 60);
  run_for(&b, -1, 1);
  stop(c, 1);
  for (i = 0; i < RESTART_RECS; ++i) {
    once += a.count[i] + b.count[i] == 1;
    twice += a.count[i] + b.count[i] > 1;
  }
  printf("stop mid-batch (%s): first reader took 37 and stopped, the next "
         "read %d: %d of %d records exactly once, %d more than once\n",
         reader, b.records, once, RESTART_RECS, twice);
  CU_ASSERT_EQUAL(b.records, RESTART_RECS - 37);
  CU_ASSERT_EQUAL(once, RESTART_RECS);
  CU_ASSERT_EQUAL(twice, 0);
  unlink(path);
  free(a.count);
  free(b.count);
  free(ex);
}

static void test_self_managed(void) {
  kefo_kl_expected *ex = calloc(50, sizeof(*ex));
  const char *self[] = {"source.efo.lifecycle", "SELF_MANAGED",
                        "source.efo.consumer.arn", NULL, NULL};
  cJSON *b;
  kefo_kl_answer a;
  tally t, u;
  kefo_consumer *c;
  char *arn, consumer_arn[512] = "";
  const cJSON *ca;
  int i, once = 0, before, after;

  kefo_kl_create_stream("kefo-self", 1);
  kefo_kl_put_range("kefo-self", 0, 50, ex);
  arn = kefo_kl_stream_arn("kefo-self");
  CU_ASSERT_PTR_NOT_NULL_FATAL(arn);
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "StreamARN", arn);
  cJSON_AddStringToObject(b, "ConsumerName", "kefo-self-owned");
  kefo_kl_call("RegisterStreamConsumer", b, &a);
  CU_ASSERT_EQUAL_FATAL(a.error, 0);
  ca = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(a.resp, "Consumer"), "ConsumerARN");
  CU_ASSERT_FATAL(cJSON_IsString(ca));
  snprintf(consumer_arn, sizeof(consumer_arn), "%s", ca->valuestring);
  cJSON_Delete(a.resp);
  before = count_consumers(arn, "kefo-");

  self[3] = consumer_arn;
  tally_init(&t, ex, 50);
  c = new_consumer("kefo-self", "kefo-self-owned", &t, self);
  run_for(&t, 50, 30);
  for (i = 0; i < 50; ++i) {
    once += t.count[i] == 1;
  }
  stop(c, 1);
  after = count_consumers(arn, "kefo-");
  printf("\nself-managed: %d of 50 records once; consumers before %d, after "
         "a graceful stop %d (not deregistered)\n",
         once, before, after);
  CU_ASSERT_EQUAL(once, 50);
  CU_ASSERT_EQUAL(before, 1);
  CU_ASSERT_EQUAL(after, 1);

  /* An ARN that names no consumer: a clear error, nothing registered. */
  self[3] = "arn:aws:kinesis:us-east-1:000000000000:stream/kefo-self/"
            "consumer/nobody:1";
  tally_init(&u, ex, 50);
  c = new_consumer("kefo-self", "kefo-nobody", &u, self);
  run_for(&u, -1, 3);
  printf("self-managed: unknown consumer ARN: %s, stopped: %d\n", u.aws_type,
         kefo_consumer_stopped(c));
  CU_ASSERT_STRING_EQUAL(u.aws_type, "ResourceNotFoundException");
  CU_ASSERT(kefo_consumer_stopped(c));
  CU_ASSERT_EQUAL(u.records, 0);
  /* on_stopped said why, once. */
  CU_ASSERT_EQUAL(u.stopped_calls, 1);
  CU_ASSERT_EQUAL(u.stopped_reason, KEFO_STOP_ERROR);
  CU_ASSERT_STRING_EQUAL(u.stopped_type, "ResourceNotFoundException");
  stop(c, 0);
  CU_ASSERT_EQUAL(count_consumers(arn, "kefo-"), 1);
  free(t.count);
  free(u.count);
  free(ex);
  free(arn);
}

/* Fills |t|'s lineage from ListShards: each shard's parents. */
static void learn_lineage(const char *stream, tally *t) {
  cJSON *b = cJSON_CreateObject();
  const cJSON *sh;
  kefo_kl_answer a;

  cJSON_AddStringToObject(b, "StreamName", stream);
  kefo_kl_call("ListShards", b, &a);
  CU_ASSERT_EQUAL_FATAL(a.error, 0);
  cJSON_ArrayForEach(sh, cJSON_GetObjectItemCaseSensitive(a.resp, "Shards")) {
    static const char *const names[2] = {"ParentShardId",
                                         "AdjacentParentShardId"};
    int k = shard_slot(t, cJSON_GetStringValue(
                              cJSON_GetObjectItemCaseSensitive(sh, "ShardId"))),
        p;
    if (k < 0) {
      continue;
    }
    t->nparents[k] = 0;
    for (p = 0; p < 2; ++p) {
      const char *id =
          cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(sh, names[p]));
      int slot = id ? shard_slot(t, id) : -1;
      if (slot >= 0) {
        t->parents[k][t->nparents[k]++] = slot;
      }
    }
  }
  cJSON_Delete(a.resp);
}

static void reshard_call(const char *op, const char *k1, const char *v1,
                         const char *k2, const char *v2) {
  cJSON *b = cJSON_CreateObject();
  kefo_kl_answer a;

  cJSON_AddStringToObject(b, "StreamName", "kefo-reshard");
  cJSON_AddStringToObject(b, k1, v1);
  cJSON_AddStringToObject(b, k2, v2);
  kefo_kl_call(op, b, &a);
  if (a.error) {
    printf("%s failed: %s\n", op, a.aws_type);
  }
  CU_ASSERT_EQUAL(a.error, 0);
  cJSON_Delete(a.resp);
}

/* Polling only: kinesis-local's GetRecords emulates shard end (a null
   NextShardIterator with ChildShards); its SubscribeToShard does not. */
static void test_resharding(void) {
  enum { FIRST = 400, ROUNDS = 16, PER_ROUND = 50 };
  int total = FIRST + ROUNDS * PER_ROUND;
  kefo_kl_expected *ex = calloc((size_t)total, sizeof(*ex));
  tally t;
  kefo_consumer *c;
  int i, round, written, once = 0, with_parents = 0, children_read = 0;
  static const char *const extra[] = {"source.shard.discovery.interval", "1s",
                                      NULL};

  kefo_kl_create_stream("kefo-reshard", 4);
  kefo_kl_put_range("kefo-reshard", 0, FIRST, ex);
  written = FIRST;
  tally_init(&t, ex, total);
  c = new_consumer("kefo-reshard", "kefo-reshard-app", &t, extra);
  for (round = 0; round < ROUNDS; ++round) {
    kefo_kl_put_range("kefo-reshard", written, PER_ROUND, ex);
    written += PER_ROUND;
    if (round == 3) {
      /* Shard 0 split in the middle of its quarter of the hash space. */
      reshard_call("SplitShard", "ShardToSplit", "shardId-000000000000",
                   "NewStartingHashKey",
                   "42535295865117307932921825928971026432");
    }
    if (round == 8) {
      reshard_call("MergeShards", "ShardToMerge", "shardId-000000000002",
                   "AdjacentShardToMerge", "shardId-000000000003");
    }
    learn_lineage("kefo-reshard", &t);
    run_for(&t, -1, 1);
  }
  learn_lineage("kefo-reshard", &t);
  run_for(&t, written, 60);
  run_for(&t, -1, 2);
  check_deferred(&t);
  for (i = 0; i < written; ++i) {
    once += t.count[i] == 1;
  }
  for (i = 0; i < MAX_SHARDS && t.shard[i][0]; ++i) {
    with_parents += t.nparents[i] > 0;
    children_read += t.nparents[i] > 0 && t.per_shard[i] > 0;
  }
  printf("\nresharding (%s): %d of %d records exactly once, %d on a wrong "
         "shard or sequence number, %d out of order; %d shards finished; %d "
         "child shards, %d of them read; %d child records before a parent's "
         "end\n",
         reader, once, written, t.wrong_place, t.out_of_order, t.finished,
         with_parents, children_read, t.child_early);
  CU_ASSERT_EQUAL(once, written);
  CU_ASSERT_EQUAL(t.records, written);
  CU_ASSERT_EQUAL(t.wrong_place, 0);
  CU_ASSERT_EQUAL(t.out_of_order, 0);
  CU_ASSERT_EQUAL(t.bad_data, 0);
  CU_ASSERT_EQUAL(t.finished, 3); /* shard 0 split, 2 and 3 merged */
  CU_ASSERT_EQUAL(with_parents, 3);
  CU_ASSERT_EQUAL(children_read, 3);
  CU_ASSERT_EQUAL(t.child_early, 0);
  stop(c, 1);
  free(t.count);
  free(ex);
}

/* ---- watermark alignment ---------------------------------------------- */

/* Hash keys that land in the first and the second half of the hash
   space: shard 0 and shard 1 of a 2-shard stream. */
static const char *const half_key[2] = {
    "1", "170141183460469231731687303715884105729"};

/* What an alignment test saw of its two shards. Records hold
   "<shard>:<index>:<event ms>". */
typedef struct aligned {
  int written[2];
  unsigned char seen[2][256]; /* deliveries per index */
  int records[2], out_of_order, bad;
  int last_index[2];
  int64_t newest[2]; /* largest event time delivered */
  int paused[2], resumed[2];
  int paused_now[2];
  int other_while_paused;     /* shard 1 records while shard 0 was paused */
  int64_t wm_at_resume[2];    /* watermarks when shard 0 resumed */
  int other_paused_at_resume; /* shard 1 paused then */
  int64_t limited_max;        /* largest event time delivered under a limit */
  int limit_on;
  char shard[2][32];
} aligned;

static int align_index(const char *shard) {
  return strcmp(shard, "shardId-000000000000") == 0   ? 0
         : strcmp(shard, "shardId-000000000001") == 0 ? 1
                                                      : -1;
}

static int64_t align_event_time(kefo_consumer *c, const char *shard,
                                const kefo_record *r, void *ud) {
  char buf[64];
  int k, i;
  long long t = 0;

  (void)c;
  (void)shard;
  (void)ud;
  snprintf(buf, sizeof(buf), "%.*s", (int)(r->data_len < 63 ? r->data_len : 63),
           (const char *)r->data);
  if (sscanf(buf, "%d:%d:%lld", &k, &i, &t) != 3) {
    return 0;
  }
  return (int64_t)t;
}

static int align_records(kefo_consumer *c, const char *shard,
                         const kefo_record *r, size_t n, int64_t behind,
                         void *ud) {
  aligned *a = ud;
  int k = align_index(shard);
  size_t j;

  (void)behind;
  if (k < 0) {
    a->bad += (int)n;
    return 0;
  }
  if (k == 1 && a->paused_now[0]) {
    a->other_while_paused += (int)n;
  }
  for (j = 0; j < n; ++j) {
    char buf[64];
    int kk, i;
    long long t;
    snprintf(buf, sizeof(buf), "%.*s",
             (int)(r[j].data_len < 63 ? r[j].data_len : 63),
             (const char *)r[j].data);
    if (sscanf(buf, "%d:%d:%lld", &kk, &i, &t) != 3 || kk != k || i < 0 ||
        i >= 256) {
      ++a->bad;
      continue;
    }
    if (a->seen[k][i] < 255) {
      ++a->seen[k][i];
    }
    a->out_of_order += i <= a->last_index[k];
    a->last_index[k] = i;
    if (t > a->newest[k]) {
      a->newest[k] = t;
    }
    if (a->limit_on && t > a->limited_max) {
      a->limited_max = t;
    }
  }
  a->records[k] += (int)n;
  return 0;
}

static void align_event(kefo_consumer *c, const char *shard,
                        kefo_shard_event ev, void *ud) {
  aligned *a = ud;
  int k = align_index(shard);

  if (k < 0) {
    return;
  }
  if (ev == KEFO_SHARD_EVENT_PAUSED) {
    ++a->paused[k];
    a->paused_now[k] = 1;
  } else if (ev == KEFO_SHARD_EVENT_RESUMED) {
    kefo_watermarks w;
    size_t j;
    ++a->resumed[k];
    a->paused_now[k] = 0;
    if (k == 0) {
      a->other_paused_at_resume = a->paused_now[1];
    }
    if (k == 0 && kefo_consumer_watermarks(c, &w) == 0) {
      for (j = 0; j < w.nshards; ++j) {
        int x = align_index(w.shards[j].shard_id);
        if (x >= 0) {
          a->wm_at_resume[x] = w.shards[j].watermark;
        }
      }
    }
  }
}

static void align_error(kefo_consumer *c, const kefo_error_info *e, void *ud) {
  (void)c;
  (void)ud;
  printf("consumer error: %s (%s)\n", e->message, kefo_strerror(e->code));
}

/* Writes one record to each shard k with event time t[k] ms. */
static void put_pair(const char *stream, aligned *a, const int64_t t[2]) {
  cJSON *b = cJSON_CreateObject(), *recs;
  kefo_kl_answer ans;
  int k;

  cJSON_AddStringToObject(b, "StreamName", stream);
  recs = cJSON_AddArrayToObject(b, "Records");
  for (k = 0; k < 2; ++k) {
    char data[64], b64[128];
    size_t len;
    cJSON *e = cJSON_CreateObject();
    snprintf(data, sizeof(data), "%d:%d:%lld", k, a->written[k]++,
             (long long)t[k]);
    kefo__base64_encode((uint8_t *)b64, sizeof(b64), (const uint8_t *)data,
                        strlen(data), &len);
    b64[len] = 0;
    cJSON_AddStringToObject(e, "PartitionKey", "align");
    cJSON_AddStringToObject(e, "ExplicitHashKey", half_key[k]);
    cJSON_AddStringToObject(e, "Data", b64);
    cJSON_AddItemToArray(recs, e);
  }
  kefo_kl_call("PutRecords", b, &ans);
  CU_ASSERT_EQUAL_FATAL(ans.error, 0);
  CU_ASSERT_EQUAL(cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(
                      ans.resp, "FailedRecordCount")),
                  0);
  cJSON_Delete(ans.resp);
}

static void align_run(int ms) {
  int never = 0;
  kefo_test_run_until(base, &never, ms);
}

/* Every record written delivered exactly once. */
static int align_once(const aligned *a) {
  int k, i, ok = 1;
  for (k = 0; k < 2; ++k) {
    for (i = 0; i < a->written[k]; ++i) {
      ok &= a->seen[k][i] == 1;
    }
  }
  return ok;
}

/* The built-in aligner (max drift 5 s): shard 0's event times run 10 s a
   record, shard 1's 0.1 s, so shard 0 pauses; then shard 1's jump ahead,
   so shard 0 resumes once shard 1 has caught up; once shard 0 is idle,
   shard 1 (ahead by then) reads on. Nothing lost, nothing reordered. */
static void test_alignment(void) {
  static aligned a;
  static const kefo_callbacks cb = {align_records, align_event, align_error};
  /* A shard without records for 2 s is idle and holds no one back: at
     the end shard 0 has no more, and shard 1, ahead by then, goes on. */
  static const char *const extra[] = {"source.watermark.alignment.max-drift",
                                      "5s", "source.watermark.idle-timeout",
                                      "2s", NULL};
  kefo_consumer *c;
  char stream[64], name[64];
  int round, i;

  memset(&a, 0, sizeof(a));
  a.last_index[0] = a.last_index[1] = -1;
  snprintf(stream, sizeof(stream), "kefo-align-%s", reader);
  snprintf(name, sizeof(name), "kefo-align-%s", reader);
  kefo_kl_create_stream(stream, 2);
  c = start_consumer(stream, name, &cb, &a, extra, align_event_time);
  for (round = 0; round < 10; ++round) {
    int64_t t[2] = {10000LL * (round + 1), 100LL * (round + 1)};
    put_pair(stream, &a, t);
    align_run(300);
  }
  printf("\nalignment (%s): after 10 rounds: shard 0 paused %d time(s), "
         "newest event times %lld / %lld ms, shard 1 delivered %d records "
         "while shard 0 was paused\n",
         reader, a.paused[0], (long long)a.newest[0], (long long)a.newest[1],
         a.other_while_paused);
  CU_ASSERT(a.paused[0] >= 1);
  CU_ASSERT_EQUAL(a.resumed[0], 0);
  CU_ASSERT(a.paused_now[0]);
  CU_ASSERT(a.other_while_paused > 0);
  /* Paused after its first delivery past the drift: most of shard 0's
     records wait. */
  CU_ASSERT(a.records[0] < a.written[0]);
  /* Shard 1 catches up: its event times jump to 200 s. */
  for (round = 0; round < 5; ++round) {
    int64_t t[2] = {10000LL * (11 + round), 200000};
    put_pair(stream, &a, t);
    align_run(300);
  }
  for (i = 0;
       i < 100 && a.records[0] + a.records[1] < a.written[0] + a.written[1];
       ++i) {
    align_run(100);
  }
  align_run(500);
  printf("alignment (%s): shard 1 paused %d / resumed %d (shard 0 idle)\n",
         reader, a.paused[1], a.resumed[1]);
  printf("alignment (%s): shard 0 paused %d / resumed %d; at its resume the "
         "watermarks were %lld (shard 0) and %lld (shard 1, %s); %d + %d of "
         "%d + %d records, exactly once: %s, %d out of order\n",
         reader, a.paused[0], a.resumed[0], (long long)a.wm_at_resume[0],
         (long long)a.wm_at_resume[1],
         a.other_paused_at_resume ? "paused" : "reading", a.records[0],
         a.records[1], a.written[0], a.written[1],
         align_once(&a) ? "yes" : "NO", a.out_of_order);
  CU_ASSERT(a.resumed[0] >= 1);
  /* It resumed because the slow shard came within the drift: by its
     records delivered, or by the batch at 200 s it holds back (paused:
     its watermark still the last one delivered; it was held because
     shard 0 was behind it by more than the drift). */
  CU_ASSERT(a.wm_at_resume[0] - a.wm_at_resume[1] <= 5000 ||
            a.other_paused_at_resume);
  /* Shard 1 got ahead in turn, waited, and went on once shard 0 was
     idle. */
  CU_ASSERT(a.resumed[1] >= 1);
  CU_ASSERT(align_once(&a));
  CU_ASSERT_EQUAL(a.out_of_order, 0);
  CU_ASSERT_EQUAL(a.bad, 0);
  stop(c, 1);
}

/* An external coordinator: kefo_set_max_watermark at 5 s holds both
   shards once they pass it; raised, they go on. */
static void test_max_watermark(void) {
  static aligned a;
  static const kefo_callbacks cb = {align_records, align_event, align_error};
  kefo_consumer *c;
  kefo_watermarks w;
  char stream[64], name[64];
  int round, i;
  int64_t held_max;

  memset(&a, 0, sizeof(a));
  a.last_index[0] = a.last_index[1] = -1;
  snprintf(stream, sizeof(stream), "kefo-maxwm-%s", reader);
  snprintf(name, sizeof(name), "kefo-maxwm-%s", reader);
  kefo_kl_create_stream(stream, 2);
  c = start_consumer(stream, name, &cb, &a, NULL, align_event_time);
  CU_ASSERT_EQUAL(kefo_set_max_watermark(c, 5000), 0);
  a.limit_on = 1;
  /* One record a shard every 300 ms, event times 1 s apart, to 15 s. */
  for (round = 0; round < 15; ++round) {
    int64_t t[2] = {1000LL * (round + 1), 1000LL * (round + 1)};
    put_pair(stream, &a, t);
    align_run(300);
  }
  align_run(1500);
  held_max = a.limited_max;
  CU_ASSERT_EQUAL(kefo_consumer_watermarks(c, &w), 0);
  printf("\nmax watermark (%s): limit 5000 ms: both shards paused: %d %d; "
         "largest event time delivered %lld ms of 15000 written; global "
         "watermark %lld\n",
         reader, a.paused_now[0], a.paused_now[1], (long long)held_max,
         (long long)w.global);
  CU_ASSERT(a.paused_now[0] && a.paused_now[1]);
  /* Every record up to the limit delivered (a batch that starts at or
     below it goes out whole), the batches starting past it held: far
     from the end. */
  CU_ASSERT(held_max >= 5000);
  CU_ASSERT(held_max < 15000);
  CU_ASSERT(w.global >= 5000 && w.global < 15000);
  a.limit_on = 0;
  CU_ASSERT_EQUAL(kefo_set_max_watermark(c, INT64_MAX), 0);
  for (i = 0;
       i < 100 && a.records[0] + a.records[1] < a.written[0] + a.written[1];
       ++i) {
    align_run(100);
  }
  align_run(500);
  printf("max watermark (%s): limit lifted: resumed %d %d; %d + %d of %d + "
         "%d records, exactly once: %s\n",
         reader, a.resumed[0], a.resumed[1], a.records[0], a.records[1],
         a.written[0], a.written[1], align_once(&a) ? "yes" : "NO");
  CU_ASSERT_EQUAL(a.resumed[0], 1);
  CU_ASSERT_EQUAL(a.resumed[1], 1);
  CU_ASSERT(align_once(&a));
  CU_ASSERT_EQUAL(a.out_of_order, 0);
  CU_ASSERT_EQUAL(a.bad, 0);
  stop(c, 1);
}

/* kefo_shard_pause for KL_PAUSE_SECONDS (3 by default; 320 outlives
   kinesis-local's 300-s subscriptions and 5-minute shard iterators) while
   both shards are written: nothing of the paused shard is handed on;
   resumed, it goes on after its last record: no gap, no duplicate. */
static void test_pause(void) {
  static aligned a;
  static const kefo_callbacks cb = {align_records, align_event, align_error};
  const char *env = getenv("KL_PAUSE_SECONDS");
  int seconds = env && atoi(env) > 0 ? atoi(env) : 3;
  kefo_consumer *c;
  kefo_stats st;
  char stream[64], name[64];
  int round, i, while_paused;
  unsigned resubscribes = 0;
  size_t j;
  struct timespec t0, t1;

  memset(&a, 0, sizeof(a));
  a.last_index[0] = a.last_index[1] = -1;
  snprintf(stream, sizeof(stream), "kefo-pause-%s", reader);
  snprintf(name, sizeof(name), "kefo-pause-%s", reader);
  kefo_kl_create_stream(stream, 2);
  c = start_consumer(stream, name, &cb, &a, NULL, NULL);
  for (round = 0; round < 5; ++round) {
    int64_t t[2] = {0, 0};
    put_pair(stream, &a, t);
    align_run(300);
  }
  for (i = 0; i < 100 && a.records[0] < a.written[0]; ++i) {
    align_run(100);
  }
  CU_ASSERT_EQUAL(kefo_shard_pause(c, "shardId-000000000000"), 0);
  while_paused = a.records[0];
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do {
    int64_t t[2] = {0, 0};
    /* A pair a second on a long pause: 640 records at most. */
    if (a.written[0] < 250) {
      put_pair(stream, &a, t);
    }
    align_run(seconds > 10 ? 1000 : 300);
    clock_gettime(CLOCK_MONOTONIC, &t1);
  } while (t1.tv_sec - t0.tv_sec < seconds);
  while_paused = a.records[0] - while_paused;
  CU_ASSERT_EQUAL(kefo_shard_resume(c, "shardId-000000000000"), 0);
  for (i = 0;
       i < 300 && a.records[0] + a.records[1] < a.written[0] + a.written[1];
       ++i) {
    align_run(100);
  }
  align_run(1000);
  kefo_consumer_stats(c, &st);
  for (j = 0; j < st.nshards; ++j) {
    if (strcmp(st.shards[j].shard_id, "shardId-000000000000") == 0) {
      resubscribes = st.shards[j].resubscribes;
    }
  }
  printf("\npause (%s): shard 0 paused %d s: %d of its records handed on "
         "meanwhile, shard 1 went on (%d in all); after resume %d + %d of "
         "%d + %d records, exactly once: %s, %d out of order, %u "
         "resubscriptions of shard 0; events paused %d resumed %d\n",
         reader, seconds, while_paused, a.records[1], a.records[0],
         a.records[1], a.written[0], a.written[1],
         align_once(&a) ? "yes" : "NO", a.out_of_order, resubscribes,
         a.paused[0], a.resumed[0]);
  CU_ASSERT_EQUAL(while_paused, 0);
  CU_ASSERT(align_once(&a));
  CU_ASSERT_EQUAL(a.out_of_order, 0);
  CU_ASSERT_EQUAL(a.paused[0], 1);
  CU_ASSERT_EQUAL(a.resumed[0], 1);
  if (seconds > 300) {
    /* The subscription (EFO) or the iterator (polling) died meanwhile. */
    CU_ASSERT(resubscribes >= 1);
  }
  stop(c, 1);
}

static int efo_suite(void) {
  reader = "EFO";
  return 0;
}

static int polling_suite(void) {
  reader = "POLLING";
  return 0;
}

/* consumer_kl_test [SUITE [TEST]] runs one suite, or one of its tests. */
int main(int argc, char **argv) {
  CU_pSuite s;
  unsigned failures;
  const char *t = getenv("TMPDIR");

  snprintf(tmpdir, sizeof(tmpdir), "%s/kefo-kl-XXXXXX", t && t[0] ? t : "/tmp");
  if (mkdtemp(tmpdir) == NULL) {
    return 1;
  }
  base = event_base_new();
  if (kefo_kl_open(base, getenv("KINESIS_PORT")) != 0) {
    return 1;
  }
  CU_initialize_registry();
  s = CU_add_suite("EFO consumer on kinesis-local", efo_suite, NULL);
  CU_add_test(s, "restart from a checkpoint", test_restart);
  CU_add_test(s, "a stop in the middle of a batch", test_stop_mid_batch);
  CU_add_test(s, "self-managed consumer", test_self_managed);
  CU_add_test(s, "20,000 records over 4 shards", test_volume);
  CU_add_test(s, "watermark alignment", test_alignment);
  CU_add_test(s, "max watermark", test_max_watermark);
  CU_add_test(s, "pause and resume", test_pause);
  s = CU_add_suite("polling consumer on kinesis-local", polling_suite, NULL);
  CU_add_test(s, "restart from a checkpoint", test_restart);
  CU_add_test(s, "a stop in the middle of a batch", test_stop_mid_batch);
  CU_add_test(s, "20,000 records over 4 shards", test_volume);
  CU_add_test(s, "split and merge while reading", test_resharding);
  CU_add_test(s, "watermark alignment", test_alignment);
  CU_add_test(s, "max watermark", test_max_watermark);
  CU_add_test(s, "pause and resume", test_pause);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  if (argc > 1 && (s = CU_get_suite(argv[1])) == NULL) {
    fprintf(stderr, "no suite named %s\n", argv[1]);
  } else if (argc > 2 && CU_get_test(s, argv[2]) == NULL) {
    fprintf(stderr, "no test named %s\n", argv[2]);
  } else if (argc > 2) {
    CU_basic_run_test(s, CU_get_test(s, argv[2]));
  } else if (argc > 1) {
    CU_basic_run_suite(s);
  } else {
    CU_basic_run_tests();
  }
  failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  kefo_kl_close();
  event_base_free(base);
  rmdir(tmpdir);
  free(volume_ex);
  return failures ? 1 : 0;
}
