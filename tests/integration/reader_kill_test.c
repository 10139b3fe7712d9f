/*
 * kefo-reader on the embedded file store (checkpoints every second),
 * SIGKILLed at random moments while it reads from kinesis-local (started
 * by tests/integration/reader_kill_test.sh) and the test keeps writing, then
 * restarted on the same checkpoint file, KILL_ROUNDS times, EFO and polling
 * taking turns; a last run (polling) reads to the end and stops gracefully.
 *
 * What a kill must not break, checked from everything each run wrote to
 * stdout (a record counts as delivered once its JSON line is complete)
 * and from the checkpoint file read after each kill:
 * - every record written is delivered at least once, on the shard and
 *   with the sequence number PutRecords returned;
 * - the checkpoint file is whole after every kill, and no shard's
 *   checkpoint ever goes backwards or ahead of what was delivered;
 * - a record delivered again by a run comes after the checkpoint that run
 *   started from: duplicates only from after the last checkpoint;
 * - within one run, each shard's records come in order, each once;
 * - the graceful stop checkpoints each shard's last record, exit 0.
 *
 * KILL_SEED picks the kill moments (printed, to replay a run).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <event2/event.h>

#include "lease/lease_store.h"
#include "tests/support/aws_test_util.h"
#include "tests/support/kl_calls.h"
#include "tests/support/reader_proc.h"

#define KILL_ROUNDS 20
#define MAX_RECORDS 8000
#define SHARDS 4
#define BATCH 20
#define READER_ARG 8 /* argv[READER_ARG]: efo or polling */

static struct event_base *base;
static char tmpdir[256];

typedef struct delivery {
  int idx;
  int run;
  char shard[32];
  char seq[KEFO_SEQ_MAX];
} delivery;

/* What one shard's checkpoint was after a kill ("" none). */
typedef struct cpoint {
  char seq[SHARDS][KEFO_SEQ_MAX];
} cpoint;

static struct {
  kefo_kl_expected ex[MAX_RECORDS];
  int written;
  delivery *d;
  size_t nd, dcap;
  int run;
  int bad_lines;
  char shard[SHARDS][32];
  cpoint cp[KILL_ROUNDS + 2]; /* cp[k]: what run k started from */
} w;

static int shard_slot(const char *id) {
  int i;

  for (i = 0; i < SHARDS; ++i) {
    if (w.shard[i][0] == 0) {
      snprintf(w.shard[i], sizeof(w.shard[i]), "%s", id);
    }
    if (strcmp(w.shard[i], id) == 0) {
      return i;
    }
  }
  return -1;
}

static int seq_cmp(const char *a, const char *b) {
  return kefo__checkpoint_cmp(a, 0, b, 0);
}

static void on_line(const char *line, size_t len, void *ud) {
  cJSON *j = cJSON_ParseWithLength(line, len);
  const cJSON *sh = cJSON_GetObjectItemCaseSensitive(j, "shard");
  const cJSON *sq = cJSON_GetObjectItemCaseSensitive(j, "sequence_number");
  const cJSON *data = cJSON_GetObjectItemCaseSensitive(j, "data");
  delivery *d;

  (void)ud;
  if (!cJSON_IsString(sh) || !cJSON_IsString(sq) || !cJSON_IsString(data) ||
      strncmp(data->valuestring, "rec-", 4) != 0 || w.nd == SIZE_MAX) {
    ++w.bad_lines;
    cJSON_Delete(j);
    return;
  }
  if (w.nd == w.dcap) {
    w.dcap = w.dcap * 2 + 1024;
    w.d = realloc(w.d, w.dcap * sizeof(*w.d));
  }
  d = &w.d[w.nd++];
  d->idx = atoi(data->valuestring + 4);
  d->run = w.run;
  snprintf(d->shard, sizeof(d->shard), "%s", sh->valuestring);
  snprintf(d->seq, sizeof(d->seq), "%s", sq->valuestring);
  cJSON_Delete(j);
}

/* Reads the checkpoint file into |cp|. Returns 0 when it is whole (or
   not written yet), -1 when it cannot be parsed. */
static int read_checkpoints(const char *path, cpoint *cp) {
  FILE *f = fopen(path, "rb");
  char *buf;
  long n;
  cJSON *j, *sh;
  const cJSON *e;

  memset(cp, 0, sizeof(*cp));
  if (f == NULL) {
    return 0;
  }
  fseek(f, 0, SEEK_END);
  n = ftell(f);
  fseek(f, 0, SEEK_SET);
  buf = malloc((size_t)n + 1);
  n = (long)fread(buf, 1, (size_t)n, f);
  fclose(f);
  j = cJSON_ParseWithLength(buf, (size_t)n);
  free(buf);
  sh = cJSON_GetObjectItemCaseSensitive(j, "shards");
  if (!cJSON_IsObject(sh)) {
    cJSON_Delete(j);
    return -1;
  }
  cJSON_ArrayForEach(e, sh) {
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(e, "sequence");
    int slot = shard_slot(e->string);
    if (slot < 0 || !cJSON_IsString(s)) {
      cJSON_Delete(j);
      return -1;
    }
    snprintf(cp->seq[slot], sizeof(cp->seq[slot]), "%s", s->valuestring);
  }
  cJSON_Delete(j);
  return 0;
}

static void write_config(const char *path) {
  FILE *f = fopen(path, "w");

  CU_ASSERT_FATAL(f != NULL);
  fprintf(f,
          "# kefo-reader --config for reader_kill_test\n"
          "aws.credentials.provider=BASIC\n"
          "aws.credentials.provider.basic.accesskeyid=AKIDKEFOTEST\n"
          "aws.credentials.provider.basic.secretkey=%s\n"
          "source.efo.describe.retry-strategy.delay.min=50ms\n"
          "source.efo.describe.retry-strategy.delay.max=200ms\n"
          "source.checkpoint.interval=1s\n",
          KEFO_TEST_SECRET);
  fclose(f);
}

/* Writes one batch while round |round| has its share left (the records
   are spread over the rounds); the loop runs meanwhile. */
static void write_some(int round) {
  int share = round < KILL_ROUNDS ? (round + 1) * (MAX_RECORDS / KILL_ROUNDS)
                                  : MAX_RECORDS;
  int room = share - w.written;
  int n = room < BATCH ? room : BATCH;

  if (n > 0) {
    kefo_kl_put_range("kill", w.written, n, w.ex);
    w.written += n;
  }
}

static void run_ms(int ms) {
  int never = 0;
  kefo_test_run_until(base, &never, ms);
}

static int max_delivered_before(int shard, int run, char *out) {
  size_t i;
  int found = 0;

  out[0] = 0;
  for (i = 0; i < w.nd; ++i) {
    if (w.d[i].run <= run && strcmp(w.d[i].shard, w.shard[shard]) == 0 &&
        (!found || seq_cmp(w.d[i].seq, out) > 0)) {
      snprintf(out, KEFO_SEQ_MAX, "%s", w.d[i].seq);
      found = 1;
    }
  }
  return found;
}

/* The last run has delivered, on every shard, the newest record any run
   delivered, unless the checkpoint it started from is already there (then
   it has nothing to deliver again). */
static int caught_up(void) {
  char top[KEFO_SEQ_MAX], last[KEFO_SEQ_MAX];
  const char *from;
  size_t i;
  int s;

  for (s = 0; s < SHARDS; ++s) {
    if (!max_delivered_before(s, KILL_ROUNDS, top)) {
      continue;
    }
    from = w.cp[KILL_ROUNDS].seq[s];
    last[0] = 0;
    for (i = 0; i < w.nd; ++i) {
      if (w.d[i].run == KILL_ROUNDS && strcmp(w.d[i].shard, w.shard[s]) == 0) {
        snprintf(last, sizeof(last), "%s", w.d[i].seq); /* in order */
      }
    }
    if (!(from[0] && seq_cmp(top, from) <= 0) &&
        !(last[0] && seq_cmp(top, last) <= 0)) {
      return 0;
    }
  }
  return 1;
}

static void test_kills(void) {
  char port_arg[160], lease[512], cfgpath[512], errlog[512];
  const char *argv[] = {getenv("KEFO_READER"),
                        "--stream",
                        "kill",
                        "--endpoint",
                        port_arg,
                        "--region",
                        "us-east-1",
                        "--reader",
                        "efo",
                        "--consumer-name",
                        "kefo-kill",
                        "--start",
                        "trim-horizon",
                        "--checkpoint-file",
                        lease,
                        "--config",
                        cfgpath,
                        "--format",
                        "jsonl",
                        NULL};
  unsigned seed = getenv("KILL_SEED") ? (unsigned)atoi(getenv("KILL_SEED"))
                                      : (unsigned)time(NULL);
  int *count, k, s, intact = 0, backwards = 0, ahead = 0, early_dup = 0;
  int in_run_dup = 0, out_of_order = 0, wrong_place = 0, missing = 0;
  int dups = 0, max_dups = 0, status, seen_all = 0, killed_with_records = 0;
  int per_run_dups[KILL_ROUNDS + 1] = {0};
  size_t i, j;
  kefo_proc p;

  CU_ASSERT_FATAL(argv[0] != NULL);
  snprintf(port_arg, sizeof(port_arg), "http://127.0.0.1:%s",
           getenv("KINESIS_PORT"));
  snprintf(lease, sizeof(lease), "%s/kill.leases", tmpdir);
  snprintf(cfgpath, sizeof(cfgpath), "%s/kill.conf", tmpdir);
  snprintf(errlog, sizeof(errlog), "%s/kefo-reader.log", tmpdir);
  write_config(cfgpath);
  kefo_kl_create_stream("kill", SHARDS);
  srand(seed);
  printf("\n  seed %u (KILL_SEED to replay)\n", seed);

  for (k = 0; k < KILL_ROUNDS; ++k) {
    /* Some before the first record (kinesis-local holds a killed
       subscription for about a second, then sends an event a second),
       most while records flow. */
    int after = 800 + rand() % 5200, waited = 0;
    w.run = k;
    /* Both readers, taking turns on the same checkpoint file. */
    argv[READER_ARG] = k % 2 ? "polling" : "efo";
    CU_ASSERT_FATAL(kefo_proc_start(&p, base, argv, errlog, on_line, NULL) ==
                    0);
    while (waited < after) {
      struct timespec t0, t1;
      clock_gettime(CLOCK_MONOTONIC, &t0);
      write_some(k);
      run_ms(after - waited < 60 ? after - waited : 60);
      clock_gettime(CLOCK_MONOTONIC, &t1);
      waited += (int)((t1.tv_sec - t0.tv_sec) * 1000 +
                      (t1.tv_nsec - t0.tv_nsec) / 1000000);
    }
    status = kefo_proc_stop(&p, base, SIGKILL, 10000);
    CU_ASSERT(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    if (read_checkpoints(lease, &w.cp[k + 1]) == 0) {
      ++intact;
    }
  }

  /* The last run: read everything, then a graceful stop. */
  w.run = KILL_ROUNDS;
  count = calloc(MAX_RECORDS, sizeof(*count));
  /* Polling: kinesis-local sometimes keeps a killed client's
     subscription for minutes (ResourceInUseException on every new
     SubscribeToShard), which would hold an EFO run back. */
  argv[READER_ARG] = "polling";
  CU_ASSERT_FATAL(kefo_proc_start(&p, base, argv, errlog, on_line, NULL) == 0);
  /* At least 3 s: started, and a few polls (a signal before kefo-reader
     sets its handlers would kill it). */
  for (j = 0; j < 600 && (j < 30 || !(seen_all && caught_up())); ++j) {
    write_some(KILL_ROUNDS);
    run_ms(100);
    memset(count, 0, MAX_RECORDS * sizeof(*count));
    for (i = 0; i < w.nd; ++i) {
      if (w.d[i].idx >= 0 && w.d[i].idx < w.written) {
        count[w.d[i].idx] = 1;
      }
    }
    for (seen_all = w.written == MAX_RECORDS, k = 0; k < w.written; ++k) {
      seen_all &= count[k];
    }
  }
  status = kefo_proc_stop(&p, base, SIGTERM, 30000);
  CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CU_ASSERT_EQUAL(read_checkpoints(lease, &w.cp[KILL_ROUNDS + 1]), 0);

  /* Every record, in the right place; order and duplicates per run. */
  memset(count, 0, MAX_RECORDS * sizeof(*count));
  for (i = 0; i < w.nd; ++i) {
    const delivery *d = &w.d[i];
    int slot = shard_slot(d->shard);
    if (d->idx < 0 || d->idx >= w.written || slot < 0 ||
        strcmp(w.ex[d->idx].shard, d->shard) != 0 ||
        strcmp(w.ex[d->idx].seq, d->seq) != 0) {
      ++wrong_place;
      continue;
    }
    for (j = i; j-- > 0;) {
      if (w.d[j].run == d->run && strcmp(w.d[j].shard, d->shard) == 0) {
        in_run_dup += seq_cmp(w.d[j].seq, d->seq) == 0;
        out_of_order += seq_cmp(w.d[j].seq, d->seq) > 0;
        break;
      }
    }
    if (count[d->idx]++ > 0) {
      ++dups;
      ++per_run_dups[d->run];
      /* Delivered again: it must be after the checkpoint this run
         started from. */
      if (w.cp[d->run].seq[slot][0] &&
          seq_cmp(d->seq, w.cp[d->run].seq[slot]) <= 0) {
        ++early_dup;
      }
    }
  }
  for (k = 0; k < w.written; ++k) {
    missing += count[k] == 0;
  }
  /* Checkpoints: forwards only, never ahead of what was delivered. */
  for (k = 1; k <= KILL_ROUNDS + 1; ++k) {
    for (s = 0; s < SHARDS; ++s) {
      char top[KEFO_SEQ_MAX];
      if (w.cp[k - 1].seq[s][0] &&
          (!w.cp[k].seq[s][0] ||
           seq_cmp(w.cp[k].seq[s], w.cp[k - 1].seq[s]) < 0)) {
        ++backwards;
      }
      if (w.cp[k].seq[s][0] && (!max_delivered_before(s, k - 1, top) ||
                                seq_cmp(w.cp[k].seq[s], top) > 0)) {
        ++ahead;
      }
    }
  }
  printf("  deliveries per run (EFO first, then polling, in turns; the "
         "last stopped gracefully):");
  for (k = 0; k <= KILL_ROUNDS; ++k) {
    size_t per = 0;
    for (i = 0; i < w.nd; ++i) {
      per += w.d[i].run == k;
    }
    printf(" %zu", per);
    killed_with_records += k < KILL_ROUNDS && per > 0;
  }
  printf("; %d of %d kills while records flowed\n", killed_with_records,
         KILL_ROUNDS);
  for (k = 0; k <= KILL_ROUNDS; ++k) {
    max_dups = per_run_dups[k] > max_dups ? per_run_dups[k] : max_dups;
  }
  /* The graceful stop stored each shard's last record. */
  for (s = 0; s < SHARDS; ++s) {
    char top[KEFO_SEQ_MAX];
    CU_ASSERT(max_delivered_before(s, KILL_ROUNDS, top) &&
              strcmp(w.cp[KILL_ROUNDS + 1].seq[s], top) == 0);
  }
  printf("  %d kills, %d of %d checkpoint files whole after a kill; "
         "%d records written, %zu deliveries, %d missing, %d wrong place, "
         "%d lines not whole records\n"
         "  duplicates: %d in all (at most %d after one restart), %d from "
         "at or before the checkpoint the run started from, %d within a "
         "run; %d out of order; checkpoints: %d went backwards, %d ahead of "
         "delivery\n",
         KILL_ROUNDS, intact, KILL_ROUNDS, w.written, w.nd, missing,
         wrong_place, w.bad_lines, dups, max_dups, early_dup, in_run_dup,
         out_of_order, backwards, ahead);
  CU_ASSERT_EQUAL(intact, KILL_ROUNDS);
  /* Enough kills landed while records flowed for the test to mean
     something (under make check -j, about half of them do). */
  CU_ASSERT(killed_with_records >= KILL_ROUNDS / 4);
  CU_ASSERT(seen_all);
  CU_ASSERT_EQUAL(missing, 0);
  CU_ASSERT_EQUAL(wrong_place, 0);
  CU_ASSERT_EQUAL(w.bad_lines, 0);
  CU_ASSERT_EQUAL(early_dup, 0);
  CU_ASSERT_EQUAL(in_run_dup, 0);
  CU_ASSERT_EQUAL(out_of_order, 0);
  CU_ASSERT_EQUAL(backwards, 0);
  CU_ASSERT_EQUAL(ahead, 0);
  free(count);
}

int main(void) {
  CU_pSuite s;
  unsigned failures;
  const char *t = getenv("TMPDIR");

  snprintf(tmpdir, sizeof(tmpdir), "%s/kefo-kill-XXXXXX",
           t && t[0] ? t : "/tmp");
  base = event_base_new();
  if (mkdtemp(tmpdir) == NULL || base == NULL ||
      kefo_kl_open(base, getenv("KINESIS_PORT")) != 0) {
    return 1;
  }
  CU_initialize_registry();
  s = CU_add_suite("kefo-reader killed on a file store", NULL, NULL);
  CU_add_test(s, "SIGKILL at random moments, 20 times", test_kills);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  kefo_kl_close();
  event_base_free(base);
  free(w.d);
  return failures ? 1 : 0;
}
