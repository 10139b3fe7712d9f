/*
 * Three kefo-reader workers share one 8-shard stream on kinesis-local
 * through a DynamoDB lease table on dynalite (both started by
 * tests/integration/lease_workers_test.sh), while the test keeps writing
 * records.
 *
 * Sampling the table every SAMPLE_MS, the test checks:
 * - once the first leases are taken, every shard's lease is owned by
 *   exactly one worker that is running, at every sample;
 * - the shares settle at 3/3/2 (each worker 2 or 3 leases);
 * - after one worker is SIGKILLed, all its leases belong to the others
 *   in bounded time: the exact bound (lease duration plus one renewal
 *   interval) is the lease policy suite's, on a plain clock; here the
 *   wall clock only checks it to within three times that;
 * - the killed worker, were it to come back, cannot checkpoint a lease
 *   that was taken over: its checkpoint fails with KEFO_ERR_LEASE_LOST
 *   and the new owner's stays;
 * - every record written is delivered at least once (by some worker);
 *   the survivors stop gracefully (exit 0, their leases released).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <event2/event.h>

#include "aws/aws_client.h"
#include "lease/lease_store.h"
#include "tests/support/aws_test_util.h"
#include "tests/support/kl_calls.h"
#include "tests/support/reader_proc.h"

#define SHARDS 8
#define WORKERS 3
#define MAX_RECORDS 4000
#define BATCH 20
#define SAMPLE_MS 200
#define DURATION_MS 4000
#define RENEW_MS 1000
#define TABLE "kefo_workers"
/* What the killed worker tries to store after the takeover. */
#define ZOMBIE_SEQ "99999999999999999999999999999999999999999999999999999999"

static struct event_base *base;
static char tmpdir[256];
static kefo_http_client *http;
static kefo_aws_client *aws;
static kefo_aws_service ddb;

static struct {
  kefo_kl_expected ex[MAX_RECORDS];
  int written;
  int *count; /* deliveries per record */
  int bad_lines;
  int running[WORKERS];
  /* The last sample of the table. */
  int done;
  int error;
  size_t n;
  char shard[64][32];
  char owner[64][64];
  char checkpoint[64][KEFO_SEQ_MAX];
} w;

static void on_line(const char *line, size_t len, void *ud) {
  cJSON *j = cJSON_ParseWithLength(line, len);
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
  int idx;

  (void)ud;
  if (!cJSON_IsString(data) || strncmp(data->valuestring, "rec-", 4) != 0 ||
      (idx = atoi(data->valuestring + 4)) < 0 || idx >= MAX_RECORDS) {
    ++w.bad_lines;
  } else {
    ++w.count[idx];
  }
  cJSON_Delete(j);
}

static void on_list(int error, const char *message, const kefo_lease *l,
                    size_t n, void *ud) {
  size_t i;

  (void)message;
  (void)ud;
  w.done = 1;
  w.error = error;
  w.n = n < 64 ? n : 64;
  for (i = 0; i < w.n; ++i) {
    snprintf(w.shard[i], sizeof(w.shard[i]), "%s", l[i].shard_id);
    snprintf(w.owner[i], sizeof(w.owner[i]), "%s", l[i].owner);
    snprintf(w.checkpoint[i], sizeof(w.checkpoint[i]), "%s", l[i].checkpoint);
  }
}

/* Reads the table through an observer's store. */
static int sample(kefo_lease_store *obs) {
  w.done = 0;
  if (obs->ops->list(obs, on_list, NULL) != 0) {
    return -1;
  }
  kefo_test_run_until(base, &w.done, 10000);
  return w.done && w.error == 0 ? 0 : -1;
}

/* Leases held by worker |k| in the last sample. */
static int held_by(int k) {
  char id[16];
  size_t i;
  int n = 0;

  snprintf(id, sizeof(id), "w%d", k);
  for (i = 0; i < w.n; ++i) {
    n += strcmp(w.owner[i], id) == 0;
  }
  return n;
}

/* Leases whose owner is a running worker. */
static int owned_by_running(void) {
  int k, n = 0;

  for (k = 0; k < WORKERS; ++k) {
    n += w.running[k] ? held_by(k) : 0;
  }
  return n;
}

static void write_some(void) {
  int n = MAX_RECORDS - w.written < BATCH ? MAX_RECORDS - w.written : BATCH;

  if (n > 0) {
    kefo_kl_put_range("workers", w.written, n, w.ex);
    w.written += n;
  }
}

static int64_t mono_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Writes and samples for |ms|, counting the samples and those in which
   a lease was not owned by a running worker. */
static void run_sampling(kefo_lease_store *obs, int ms, int *samples,
                         int *unowned) {
  int64_t end = mono_ms() + ms;

  while (mono_ms() < end) {
    int never = 0;
    write_some();
    kefo_test_run_until(base, &never, SAMPLE_MS);
    CU_ASSERT_EQUAL_FATAL(sample(obs), 0);
    ++*samples;
    if (owned_by_running() != SHARDS) {
      ++*unowned;
    }
  }
}

static void on_cp(int error, const char *message, void *ud) {
  int *out = ud;
  (void)message;
  *out = error == 0 ? 1 : error;
}

/* Writes the workers' --config file |name| in the test's folder into
   |path|: test credentials, quick checkpoints and leases, the lease
   table on dynalite, and |extra| lines. */
static void write_config(char *path, size_t len, const char *name,
                         const char *extra) {
  FILE *f;

  snprintf(path, len, "%s/%s", tmpdir, name);
  f = fopen(path, "w");
  CU_ASSERT_FATAL(f != NULL);
  fprintf(f,
          "aws.credentials.provider=BASIC\n"
          "aws.credentials.provider.basic.accesskeyid=AKIDKEFOTEST\n"
          "aws.credentials.provider.basic.secretkey=%s\n"
          "source.checkpoint.interval=500ms\n"
          "source.lease.duration=%dms\n"
          "source.lease.renewal-interval=%dms\n"
          "source.lease.dynamodb.endpoint=http://127.0.0.1:%s\n%s",
          KEFO_TEST_SECRET, DURATION_MS, RENEW_MS, getenv("DYNALITE_PORT"),
          extra);
  fclose(f);
}

/* The first line of |path| from byte |from| on holding both |a| and
   |b|, copied to |out| (issue 27: the workers' kefo-reader log hook
   lines); 1, or 0 when none. */
static int log_has(const char *path, long from, const char *a, const char *b,
                   char *out, size_t cap) {
  char line[1024];
  FILE *f = fopen(path, "r");
  int found = 0;

  if (f && fseek(f, from, SEEK_SET) != 0) {
    fclose(f);
    f = NULL;
  }

  while (f && !found && fgets(line, sizeof(line), f)) {
    if (strstr(line, a) && strstr(line, b)) {
      line[strcspn(line, "\n")] = '\0';
      snprintf(out, cap, "%s", line);
      found = 1;
    }
  }
  if (f) {
    fclose(f);
  }
  return found;
}

/* The size of |path| now: where lines written from here on start. */
static long log_mark(const char *path) {
  FILE *f = fopen(path, "r");
  long n = 0;

  if (f && fseek(f, 0, SEEK_END) == 0) {
    n = ftell(f);
  }
  if (f) {
    fclose(f);
  }
  return n < 0 ? 0 : n;
}

static void test_workers(void) {
  char kin[160], cfgpath[512], errlog[512], ids[WORKERS][16];
  const char *argv[WORKERS][20];
  kefo_proc p[WORKERS];
  kefo_lease_store *obs = NULL, *zombie = NULL;
  int k, i, samples = 0, unowned = 0, settled = 0, status, victim = 0;
  int missing = 0, dups = 0, cp_result = 0, victim_held;
  int64_t t0, took = -1, drained;
  size_t j;
  char stolen[32] = "", before[KEFO_SEQ_MAX] = "";
  long mark;

  w.count = calloc(MAX_RECORDS, sizeof(*w.count));
  snprintf(kin, sizeof(kin), "http://127.0.0.1:%s", getenv("KINESIS_PORT"));
  snprintf(errlog, sizeof(errlog), "%s/kefo-reader.log", tmpdir);
  write_config(cfgpath, sizeof(cfgpath), "workers.conf",
               "source.efo.describe.retry-strategy.delay.min=50ms\n"
               "source.efo.describe.retry-strategy.delay.max=200ms\n");
  kefo_kl_create_stream("workers", SHARDS);
  CU_ASSERT_EQUAL_FATAL(kefo__dynamodb_store_new(&obs, base, aws, &ddb, NULL,
                                                 TABLE, "observer", NULL),
                        0);

  /* Three workers, half a second apart. */
  for (k = 0; k < WORKERS; ++k) {
    const char *a[] = {getenv("KEFO_READER"),
                       "--stream",
                       "workers",
                       "--endpoint",
                       kin,
                       "--region",
                       "us-east-1",
                       "--reader",
                       "efo",
                       "--consumer-name",
                       "kefo-workers",
                       "--start",
                       "trim-horizon",
                       "--lease-table",
                       TABLE,
                       "--worker-id",
                       ids[k],
                       "--config",
                       cfgpath,
                       NULL};
    snprintf(ids[k], sizeof(ids[k]), "w%d", k);
    memcpy(argv[k], a, sizeof(a));
    CU_ASSERT_FATAL(argv[k][0] != NULL);
    CU_ASSERT_FATAL(
        kefo_proc_start(&p[k], base, argv[k], errlog, on_line, NULL) == 0);
    w.running[k] = 1;
    if (k == 0) {
      /* The first creates the table and the leases, and takes them all
         (the observer's open waits for the table, or creates it). */
      int done = 0, never = 0;
      CU_ASSERT_EQUAL(obs->ops->open(obs, "", "", on_cp, &done), 0);
      kefo_test_run_until(base, &done, 20000);
      CU_ASSERT_EQUAL_FATAL(done, 1);
      for (i = 0; i < 150; ++i) {
        write_some();
        kefo_test_run_until(base, &never, 100);
        if (sample(obs) == 0 && w.n == SHARDS && held_by(0) == SHARDS) {
          break;
        }
      }
      printf("\n  the first worker took the %d leases after %.1f s\n",
             held_by(0), i / 10.0);
      CU_ASSERT_EQUAL_FATAL(held_by(0), SHARDS);
    } else {
      run_sampling(obs, 500, &samples, &unowned);
    }
  }
  /* Balance: each worker 2 or 3 leases. */
  t0 = mono_ms();
  while (mono_ms() - t0 < 30000) {
    run_sampling(obs, SAMPLE_MS, &samples, &unowned);
    for (settled = 1, k = 0; k < WORKERS; ++k) {
      settled &= held_by(k) >= 2 && held_by(k) <= 3;
    }
    if (settled) {
      break;
    }
  }
  printf("  balanced after %.1f s: %d/%d/%d\n", (mono_ms() - t0) / 1000.0,
         held_by(0), held_by(1), held_by(2));
  CU_ASSERT(settled);
  run_sampling(obs, 2000, &samples, &unowned); /* it stays balanced */
  for (k = 0; k < WORKERS; ++k) {
    CU_ASSERT(held_by(k) >= 2 && held_by(k) <= 3);
  }
  /* The log hook told the steals of balancing: w0 took all, the others
     stole from it. w0 names the new owner when a table scan showed it
     before its renewal was refused, and says "another worker" when the
     refusal came first (a renewal's answer does not say who): both are
     the event (CI on 2026-12-06 met the second, 1 run in 4). */
  {
    char seen[1024] = "", taken[1024] = "";
    CU_ASSERT(log_has(errlog, 0, " lease.stolen shardId-",
                      "lease taken over by ", seen, sizeof(seen)));
    CU_ASSERT(log_has(errlog, 0, " lease.taken shardId-", "from w0", taken,
                      sizeof(taken)));
    printf("  log hook: %s\n  log hook: %s\n", seen, taken);
  }

  /* SIGKILL the worker with the most leases: the others take them. */
  for (k = 1; k < WORKERS; ++k) {
    victim = held_by(k) > held_by(victim) ? k : victim;
  }
  for (j = 0; j < w.n; ++j) {
    if (strcmp(w.owner[j], ids[victim]) == 0) {
      snprintf(stolen, sizeof(stolen), "%s", w.shard[j]);
    }
  }
  victim_held = held_by(victim);
  mark = log_mark(errlog);
  status = kefo_proc_stop(&p[victim], base, SIGKILL, 10000);
  CU_ASSERT(WIFSIGNALED(status));
  w.running[victim] = 0;
  t0 = mono_ms();
  while (mono_ms() - t0 < 4 * (DURATION_MS + RENEW_MS)) {
    int never = 0;
    write_some();
    kefo_test_run_until(base, &never, SAMPLE_MS);
    CU_ASSERT_EQUAL_FATAL(sample(obs), 0);
    if (held_by(victim) == 0 && owned_by_running() == SHARDS) {
      took = mono_ms() - t0;
      break;
    }
  }
  printf("  worker %s killed holding %d leases: all taken over after %.1f s "
         "(policy bound: lease duration %d ms + renewal %d ms + sampling %d "
         "ms; checked to 3x); now %d/%d/%d\n",
         ids[victim], victim_held, took / 1000.0, DURATION_MS, RENEW_MS,
         SAMPLE_MS, held_by(0), held_by(1), held_by(2));
  /* The exact bound is tests/unit/lease_policy_test.c's takeover_bound, on a
     plain clock. On the wall clock, three processes, kinesis-local and
     dynalite share what may be a loaded 2-core machine, and a late timer
     or a slow DynamoDB call there is not a broken rule: three times the
     bound holds under load and still fails a takeover that never comes
     or waits for something other than expiry. */
  CU_ASSERT(took >= 0 && took <= 3 * (DURATION_MS + RENEW_MS + SAMPLE_MS));
  /* The log hook told the takeover of the killed worker's leases. */
  {
    char from[16], seen[1024] = "";
    snprintf(from, sizeof(from), "from %s,", ids[victim]);
    /* Only lines written after the kill: balancing took from it too. */
    CU_ASSERT(log_has(errlog, mark, " lease.taken shardId-", from, seen,
                      sizeof(seen)));
    printf("  log hook: %s\n", seen);
  }
  /* The survivors keep 4/4 while records flow. */
  run_sampling(obs, 3000, &samples, &unowned);
  for (k = 0; k < WORKERS; ++k) {
    CU_ASSERT(!w.running[k] || held_by(k) == SHARDS / (WORKERS - 1));
  }

  /* The killed worker, back from the dead, cannot checkpoint a shard it
     lost: the condition on the owner refuses it. */
  for (j = 0; j < w.n; ++j) {
    if (strcmp(w.shard[j], stolen) == 0) {
      snprintf(before, sizeof(before), "%s", w.checkpoint[j]);
    }
  }
  {
    kefo_checkpoint_entry e = {stolen, ZOMBIE_SEQ, 0};
    int done = 0;
    CU_ASSERT_EQUAL_FATAL(kefo__dynamodb_store_new(&zombie, base, aws, &ddb,
                                                   NULL, TABLE, ids[victim],
                                                   NULL),
                          0);
    zombie->ops->open(zombie, "", "", on_cp, &done);
    kefo_test_run_until(base, &done, 10000);
    CU_ASSERT_EQUAL(done, 1);
    CU_ASSERT_EQUAL(zombie->ops->checkpoint(zombie, &e, 1, on_cp, &cp_result),
                    0);
    kefo_test_run_until(base, &cp_result, 10000);
  }
  CU_ASSERT_EQUAL_FATAL(sample(obs), 0);
  for (j = 0; j < w.n; ++j) {
    if (strcmp(w.shard[j], stolen) == 0) {
      /* The new owner's, which may have moved on meanwhile. */
      CU_ASSERT(strcmp(w.checkpoint[j], ZOMBIE_SEQ) != 0);
      CU_ASSERT(!kefo__checkpoint_valid(before) ||
                kefo__checkpoint_cmp(w.checkpoint[j], 0, before, 0) >= 0);
    }
  }
  printf("  a checkpoint by the killed worker on %s after takeover: %s; the "
         "table still holds the new owner's\n",
         stolen, kefo_strerror(cp_result));
  CU_ASSERT_EQUAL(cp_result, KEFO_ERR_LEASE_LOST);

  /* Write the rest, let the survivors read it all, stop them. */
  kefo_kl_put_range("workers", w.written, MAX_RECORDS - w.written, w.ex);
  w.written = MAX_RECORDS;
  t0 = mono_ms();
  while (mono_ms() - t0 < 60000) {
    int never = 0, all = 1;
    kefo_test_run_until(base, &never, 200);
    for (i = 0; i < w.written && all; ++i) {
      all = w.count[i] > 0;
    }
    if (all) {
      break;
    }
  }
  drained = mono_ms() - t0;
  for (k = 0; k < WORKERS; ++k) {
    if (w.running[k]) {
      status = kefo_proc_stop(&p[k], base, SIGTERM, 30000);
      CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      w.running[k] = 0;
    }
  }
  CU_ASSERT_EQUAL(sample(obs), 0);
  for (j = 0; j < w.n; ++j) {
    CU_ASSERT_STRING_EQUAL(w.owner[j], ""); /* released at the stop */
  }
  for (i = 0; i < w.written; ++i) {
    if (w.count[i] == 0 && missing < 5) {
      printf("  missing: rec-%d on %s at %s\n", i, w.ex[i].shard, w.ex[i].seq);
    }
    missing += w.count[i] == 0;
    dups += w.count[i] > 1 ? w.count[i] - 1 : 0;
  }
  printf("  %d table samples, %d with a lease not owned by a running worker "
         "(all after the first takes); %d records written, %d missing, %d "
         "delivered twice (after a takeover), %d bad lines\n",
         samples, unowned, w.written, missing, dups, w.bad_lines);
  printf("  the survivors read the rest in %.1f s\n", drained / 1000.0);
  CU_ASSERT_EQUAL(unowned, 0);
  CU_ASSERT_EQUAL(missing, 0);
  CU_ASSERT_EQUAL(w.bad_lines, 0);
  kefo__lease_store_del(obs);
  kefo__lease_store_del(zombie);
  free(w.count);
}

/* ---- lineage across workers -------------------------------------------------
 */

/* Owners and parents of the lineage table's leases in the last sample. */
static struct {
  int done;
  size_t n;
  char shard[16][32];
  char owner[16][64];
  char checkpoint[16][KEFO_SEQ_MAX];
  char parents[16][2][32];
  int nparents[16];
} lt;

static void on_lineage_list(int error, const char *message, const kefo_lease *l,
                            size_t n, void *ud) {
  size_t i;
  int k;

  (void)message;
  (void)ud;
  lt.done = error == 0 ? 1 : -1;
  lt.n = n < 16 ? n : 16;
  for (i = 0; i < lt.n; ++i) {
    snprintf(lt.shard[i], sizeof(lt.shard[i]), "%s", l[i].shard_id);
    snprintf(lt.owner[i], sizeof(lt.owner[i]), "%s", l[i].owner);
    snprintf(lt.checkpoint[i], sizeof(lt.checkpoint[i]), "%s", l[i].checkpoint);
    lt.nparents[i] = l[i].nparents;
    for (k = 0; k < l[i].nparents; ++k) {
      snprintf(lt.parents[i][k], sizeof(lt.parents[i][k]), "%s",
               l[i].parents[k]);
    }
  }
}

static const char *lineage_checkpoint(const char *shard) {
  size_t i;

  for (i = 0; i < lt.n; ++i) {
    if (strcmp(lt.shard[i], shard) == 0) {
      return lt.checkpoint[i];
    }
  }
  return NULL;
}

/* Samples the table; counts leases owned while a parent had not ended. */
static int lineage_sample(kefo_lease_store *obs) {
  size_t i;
  int k, early = 0;

  lt.done = 0;
  if (obs->ops->list(obs, on_lineage_list, NULL) != 0) {
    return -1;
  }
  kefo_test_run_until(base, &lt.done, 10000);
  CU_ASSERT_EQUAL(lt.done, 1);
  for (i = 0; i < lt.n; ++i) {
    for (k = 0; k < lt.nparents[i] && lt.owner[i][0]; ++k) {
      const char *cp = lineage_checkpoint(lt.parents[i][k]);
      early += cp != NULL && strcmp(cp, KEFO_CHECKPOINT_SHARD_END) != 0;
    }
  }
  return early;
}

static void lineage_call(const char *op, const char *k1, const char *v1,
                         const char *k2, const char *v2) {
  cJSON *b = cJSON_CreateObject();
  kefo_kl_answer a;

  cJSON_AddStringToObject(b, "StreamName", "lineage");
  cJSON_AddStringToObject(b, k1, v1);
  cJSON_AddStringToObject(b, k2, v2);
  kefo_kl_call(op, b, &a);
  CU_ASSERT_EQUAL(a.error, 0);
  cJSON_Delete(a.resp);
}

/*
 * Two polling workers (kinesis-local emulates shard end for GetRecords,
 * not for SubscribeToShard) on a 2-shard stream whose shard 0 is split,
 * and whose two children are then merged, while records are written:
 * the children's leases are created with their parents, no child lease
 * is owned while a parent has not reached SHARD_END (every sample), and
 * every record is delivered.
 */
static void test_lineage(void) {
  enum { ROUNDS = 14, PER_ROUND = 40 };
  char kin[160], cfgpath[512], errlog[512], ids[2][16];
  kefo_proc p[2];
  kefo_lease_store *obs = NULL;
  int k, i, early = 0, samples = 0, done = 0, missing = 0, status;
  int with_parents = 0, ended = 0;
  size_t j;

  memset(&w, 0, sizeof(w));
  w.count = calloc(MAX_RECORDS, sizeof(*w.count));
  snprintf(kin, sizeof(kin), "http://127.0.0.1:%s", getenv("KINESIS_PORT"));
  snprintf(errlog, sizeof(errlog), "%s/kefo-reader.log", tmpdir);
  write_config(cfgpath, sizeof(cfgpath), "lineage.conf",
               "source.shard.discovery.interval=1s\n");
  kefo_kl_create_stream("lineage", 2);
  CU_ASSERT_EQUAL_FATAL(kefo__dynamodb_store_new(&obs, base, aws, &ddb, NULL,
                                                 "kefo_lineage", "observer",
                                                 NULL),
                        0);
  CU_ASSERT_EQUAL(obs->ops->open(obs, "", "", on_cp, &done), 0);
  kefo_test_run_until(base, &done, 20000);
  CU_ASSERT_EQUAL_FATAL(done, 1);
  for (k = 0; k < 2; ++k) {
    const char *a[] = {getenv("KEFO_READER"),
                       "--stream",
                       "lineage",
                       "--endpoint",
                       kin,
                       "--region",
                       "us-east-1",
                       "--reader",
                       "polling",
                       "--start",
                       "trim-horizon",
                       "--lease-table",
                       "kefo_lineage",
                       "--worker-id",
                       ids[k],
                       "--config",
                       cfgpath,
                       NULL};
    snprintf(ids[k], sizeof(ids[k]), "l%d", k);
    CU_ASSERT_FATAL(kefo_proc_start(&p[k], base, a, errlog, on_line, NULL) ==
                    0);
  }
  for (i = 0; i < ROUNDS; ++i) {
    int never = 0;
    kefo_kl_put_range("lineage", w.written, PER_ROUND, w.ex);
    w.written += PER_ROUND;
    if (i == 3) { /* shard 0 split in the middle of its half */
      lineage_call("SplitShard", "ShardToSplit", "shardId-000000000000",
                   "NewStartingHashKey",
                   "85070591730234615865843651857942052864");
    }
    if (i == 8) { /* its two children merged again */
      lineage_call("MergeShards", "ShardToMerge", "shardId-000000000002",
                   "AdjacentShardToMerge", "shardId-000000000003");
    }
    kefo_test_run_until(base, &never, 500);
    early += lineage_sample(obs);
    ++samples;
  }
  for (i = 0; i < 120; ++i) {
    int never = 0, all = 1;
    kefo_test_run_until(base, &never, 250);
    early += lineage_sample(obs);
    ++samples;
    for (k = 0; k < w.written && all; ++k) {
      all = w.count[k] > 0;
    }
    if (all) {
      break;
    }
  }
  for (k = 0; k < 2; ++k) {
    status = kefo_proc_stop(&p[k], base, SIGTERM, 30000);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  lineage_sample(obs);
  for (j = 0; j < lt.n; ++j) {
    with_parents += lt.nparents[j] > 0;
    ended += strcmp(lt.checkpoint[j], KEFO_CHECKPOINT_SHARD_END) == 0;
    printf("%s  %s: parents", j == 0 ? "\n" : "", lt.shard[j]);
    for (k = 0; k < lt.nparents[j]; ++k) {
      printf(" %s", lt.parents[j][k]);
    }
    printf(", checkpoint %.24s\n", lt.checkpoint[j]);
  }
  for (k = 0; k < w.written; ++k) {
    missing += w.count[k] == 0;
  }
  printf("  lineage: %zu leases, %d with parents, %d at SHARD_END; %d table "
         "samples, %d child leases owned before a parent's end; %d records "
         "written, %d missing\n",
         lt.n, with_parents, ended, samples, early, w.written, missing);
  CU_ASSERT_EQUAL(lt.n, 5);         /* 0, 1, two children, their merge */
  CU_ASSERT_EQUAL(with_parents, 3); /* the children and the merged shard */
  CU_ASSERT_EQUAL(ended, 3);        /* shard 0 and its two children */
  CU_ASSERT_EQUAL(early, 0);
  CU_ASSERT_EQUAL(missing, 0);
  CU_ASSERT_EQUAL(w.bad_lines, 0);
  kefo__lease_store_del(obs);
  free(w.count);
}

int main(void) {
  CU_pSuite s;
  unsigned failures;
  const char *t = getenv("TMPDIR");
  char url[128];

  snprintf(tmpdir, sizeof(tmpdir), "%s/kefo-workers-XXXXXX",
           t && t[0] ? t : "/tmp");
  base = event_base_new();
  snprintf(url, sizeof(url), "http://127.0.0.1:%s", getenv("DYNALITE_PORT"));
  if (mkdtemp(tmpdir) == NULL || base == NULL ||
      kefo_kl_open(base, getenv("KINESIS_PORT")) != 0 ||
      kefo__http_client_new(&http, base, NULL) != 0 ||
      kefo__aws_client_new(&aws, base, http, kefo_test_credentials(), NULL,
                           NULL) != 0 ||
      kefo__aws_service_dynamodb(&ddb, url, "us-east-1") != 0) {
    return 1;
  }
  CU_initialize_registry();
  s = CU_add_suite("workers sharing a DynamoDB lease table", NULL, NULL);
  CU_add_test(s, "3 workers, 8 shards, one killed", test_workers);
  CU_add_test(s, "a split and a merge, two polling workers", test_lineage);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  kefo__aws_client_del(aws);
  kefo__http_client_del(http);
  kefo_kl_close();
  event_base_free(base);
  return failures ? 1 : 0;
}
