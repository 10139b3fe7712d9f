/*
 * kefo_consumer_stop_async from another thread and from a signal handler
 * while records flow (issue 24, item 6). The mock (started by
 * tests/integration/stop_async_test.sh) holds a preloaded stream of 4 shards
 * (about 1,000 records an event or GetRecords answer); a first consumer reads
 * it all once for the reference order of each shard. Then, many times, a
 * consumer on its own loop (kefo_consumer_run) with a file lease store is
 * stopped gracefully at a random moment of its reading:
 * - by a pthread that waits for a random number of delivered records
 *   and calls kefo_consumer_stop_async(c, 1);
 * - by a SIGALRM handler (setitimer, every 2 ms while the consumer runs,
 *   so signals also land in the middle of kefo's system calls) that calls
 *   it once that many records were delivered.
 * Each stop must take effect within 2 s of the call (the time is
 * printed), on_stopped must say KEFO_STOP_ASKED exactly once, every shard's
 * records must be a prefix of its reference order (in order, none twice,
 * none skipped), and nothing may be delivered after on_stopped. A second
 * consumer on the same lease file must then start each shard right after
 * the last record the first one saw (at its first record when it saw
 * none): the graceful stop's checkpoint covers exactly what on_records
 * returned for. Only <kefo/kefo.h> is used.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <kefo/kefo.h>

#define SHARDS 4
#define STREAM "stop"
#define BOUND_MS 2000.0

static char mock_url[128];
static long nrecords;
static char tmpdir[] = "/tmp/kefo-stop.XXXXXX";

/* The reference: each shard's record indices in order. */
static long *ref[SHARDS];
static long nref[SHARDS];

static int checks, failed_checks;

#define CHECK(cond)                                                            \
  do {                                                                         \
    ++checks;                                                                  \
    if (!(cond)) {                                                             \
      ++failed_checks;                                                         \
      printf("  FAILED line %d: %s\n", __LINE__, #cond);                       \
    }                                                                          \
  } while (0)

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* "shardId-00000000000K" -> K, or -1. */
static int shard_index(const char *id) {
  const char *p = strrchr(id, '-');
  long k = p ? strtol(p + 1, NULL, 10) : -1;
  return k >= 0 && k < SHARDS ? (int)k : -1;
}

/* The preloaded data is the record index in decimal, padded with '.'. */
static long record_index(const kefo_record *r) {
  long v = 0;
  size_t i;

  for (i = 0; i < r->data_len && r->data[i] >= '0' && r->data[i] <= '9'; ++i) {
    v = v * 10 + (r->data[i] - '0');
  }
  return i > 0 ? v : -1;
}

/* ---- one run of a consumer ---------------------------------------------- */

typedef struct run {
  kefo_consumer *c;
  int mode; /* 0: reference, 1: stopped by a stopper, 2: resumed check */
  atomic_long delivered;
  long target; /* the stopper stops once this many were delivered */
  long pos[SHARDS];
  long calls;
  long mismatches;
  int errors;
  char last_error[256];
  /* mode 2: the first record of each shard, or -2 when none yet. */
  long first[SHARDS];
  long expect_first[SHARDS];
  atomic_int stopped;
  kefo_stop_reason reason;
  double stopped_at;
  long calls_after_stopped;
  /* Set by the stopper. */
  atomic_int asked;
  double asked_at; /* written before |asked| */
} run;

static int on_records(kefo_consumer *c, const char *shard, const kefo_record *r,
                      size_t n, int64_t behind, void *ud) {
  run *u = ud;
  int k = shard_index(shard), all;
  size_t i;

  (void)behind;
  ++u->calls;
  if (u->stopped) {
    ++u->calls_after_stopped;
  }
  if (k < 0) {
    u->mismatches += (long)n;
    return 0;
  }
  if (u->mode == 0) {
    for (i = 0; i < n; ++i) {
      ref[k][nref[k]++] = record_index(&r[i]);
    }
    atomic_fetch_add(&u->delivered, (long)n);
    if (atomic_load(&u->delivered) >= nrecords) {
      kefo_consumer_stop(c, 1);
    }
    return 0;
  }
  if (u->mode == 2) {
    if (u->first[k] == -2 && n > 0) {
      u->first[k] = record_index(&r[0]);
    }
    for (all = 1, k = 0; k < SHARDS; ++k) {
      all &= u->first[k] != -2 || u->expect_first[k] == -1;
    }
    if (all) {
      kefo_consumer_stop(c, 1);
    }
    return 0;
  }
  for (i = 0; i < n; ++i) {
    long idx = record_index(&r[i]);
    if (u->pos[k] >= nref[k] || ref[k][u->pos[k]] != idx) {
      ++u->mismatches;
    }
    ++u->pos[k];
  }
  atomic_fetch_add(&u->delivered, (long)n);
  return 0;
}

static void on_error(kefo_consumer *c, const kefo_error_info *e, void *ud) {
  run *u = ud;
  (void)c;
  ++u->errors;
  snprintf(u->last_error, sizeof(u->last_error), "%s", e->message);
}

static void on_stopped(kefo_consumer *c, kefo_stop_reason reason,
                       const kefo_error_info *err, void *ud) {
  run *u = ud;
  (void)c;
  (void)err;
  ++u->stopped;
  u->reason = reason;
  u->stopped_at = now_ms();
}

/* Stops the second consumer after 20 s should a shard never deliver. */
static void *watchdog_thread(void *arg) {
  run *u = arg;
  struct timespec ts = {0, 10000000}; /* 10 ms */
  int i;

  for (i = 0; i < 2000 && !atomic_load(&u->stopped); ++i) {
    nanosleep(&ts, NULL);
  }
  if (!atomic_load(&u->stopped)) {
    kefo_consumer_stop_async(u->c, 0);
  }
  return NULL;
}

static kefo_consumer *new_consumer(run *u, const char *reader,
                                   const char *lease_file) {
  const char *const kv[] = {
      "source.stream.name", STREAM, "source.reader.type", reader,
      "source.efo.consumer.name", "kefo-stop", "source.init.position",
      "TRIM_HORIZON", "aws.region", "us-east-1", "aws.endpoint", mock_url,
      "aws.credentials.provider", "BASIC",
      "aws.credentials.provider.basic.accesskeyid", "AKIDKEFOTEST",
      "aws.credentials.provider.basic.secretkey", "kefo-test-secret-key",
      "source.efo.describe.retry-strategy.delay.min", "20ms",
      "source.efo.describe.retry-strategy.delay.max", "100ms",
      /* Polling: as many calls as EFO's events. */
      "source.shard.get-records.max-record-count", "1000", "source.lease.store",
      lease_file ? "file" : "memory", "source.lease.file", lease_file, NULL};
  kefo_config *cfg = NULL;
  kefo_consumer_callbacks *cbs = NULL;
  kefo_consumer *c = NULL;
  char err[256];
  size_t i;

  if (kefo_config_new(&cfg) != 0 || kefo_consumer_callbacks_new(&cbs) != 0) {
    goto done;
  }
  for (i = 0; kv[i]; i += 2) {
    if (kv[i + 1] &&
        kefo_config_set2(cfg, kv[i], kv[i + 1], err, sizeof(err)) != 0) {
      printf("config: %s\n", err);
      goto done;
    }
  }
  kefo_consumer_callbacks_set_on_records(cbs, on_records);
  kefo_consumer_callbacks_set_on_error(cbs, on_error);
  kefo_consumer_callbacks_set_on_stopped(cbs, on_stopped);
  if (kefo_consumer_new2(&c, cfg, cbs, u, NULL) != 0) {
    c = NULL;
  }
done:
  kefo_consumer_callbacks_del(cbs);
  kefo_config_del(cfg);
  return c;
}

/* ---- the stoppers ------------------------------------------------------- */

static void *stopper_thread(void *arg) {
  run *u = arg;
  struct timespec ts = {0, 200000}; /* 0.2 ms */

  while (atomic_load(&u->delivered) < u->target && !u->stopped) {
    nanosleep(&ts, NULL);
  }
  u->asked_at = now_ms();
  atomic_store(&u->asked, 1);
  kefo_consumer_stop_async(u->c, 1);
  return NULL;
}

static run *volatile sig_run;
static atomic_long signals;

static void on_alarm(int sig) {
  run *u = sig_run;
  int saved = errno;

  (void)sig;
  atomic_fetch_add(&signals, 1);
  if (u && !atomic_load(&u->asked) && atomic_load(&u->delivered) >= u->target) {
    /* clock_gettime is async-signal-safe. */
    u->asked_at = now_ms();
    atomic_store(&u->asked, 1);
    kefo_consumer_stop_async(u->c, 1);
  }
  errno = saved;
}

static void alarm_every(long usec) {
  struct itimerval it;

  memset(&it, 0, sizeof(it));
  it.it_value.tv_usec = usec;
  it.it_interval.tv_usec = usec;
  setitimer(ITIMER_REAL, &it, NULL);
}

/* ---- the test ------------------------------------------------------------ */

static int reference(void) {
  run *u = calloc(1, sizeof(*u));
  double t0 = now_ms();
  int k, rv = -1;
  long sum = 0;

  for (k = 0; k < SHARDS; ++k) {
    ref[k] = calloc((size_t)nrecords, sizeof(long));
  }
  u->mode = 0;
  u->c = new_consumer(u, "EFO", NULL);
  if (!u->c || kefo_consumer_start(u->c) != 0 || kefo_consumer_run(u->c) != 0) {
    printf("reference: the consumer did not run (%s)\n", u->last_error);
    goto done;
  }
  for (k = 0; k < SHARDS; ++k) {
    sum += nref[k];
  }
  printf("reference: %ld records read in %.0f ms (%ld %ld %ld %ld per "
         "shard)\n",
         sum, now_ms() - t0, nref[0], nref[1], nref[2], nref[3]);
  rv = sum == nrecords ? 0 : -1;
done:
  if (u->c) {
    kefo_consumer_del(u->c);
  }
  free(u);
  return rv;
}

/* One stop at a random moment; |by_signal| picks the stopper. */
static void one_stop(int iter, int by_signal, const char *reader) {
  char lease[256];
  run *u = calloc(1, sizeof(*u)), *v = calloc(1, sizeof(*v));
  pthread_t th, wd;
  double t0 = now_ms(), latency = -1;
  long seen = 0, resumed_ok = 0;
  int k, rv;

  snprintf(lease, sizeof(lease), "%s/leases-%d", tmpdir, iter);
  u->mode = 1;
  /* Somewhere in the first 90% of the stream. */
  u->target = 1 + (long)((double)rand() / RAND_MAX * 0.9 * (double)nrecords);
  u->c = new_consumer(u, reader, lease);
  CHECK(u->c != NULL);
  if (!u->c) {
    goto done;
  }
  CHECK(kefo_consumer_start(u->c) == 0);
  if (by_signal) {
    sig_run = u;
    alarm_every(2000);
  } else {
    CHECK(pthread_create(&th, NULL, stopper_thread, u) == 0);
  }
  rv = kefo_consumer_run(u->c);
  if (by_signal) {
    alarm_every(0);
    sig_run = NULL;
  } else {
    pthread_join(th, NULL);
  }
  CHECK(rv == 0);
  if (atomic_load(&u->asked)) {
    latency = u->stopped_at - u->asked_at;
  }
  for (k = 0; k < SHARDS; ++k) {
    seen += u->pos[k];
  }
  kefo_consumer_del(u->c);

  /* The checkpoint, read back by a second consumer on the same file. */
  v->mode = 2;
  for (k = 0; k < SHARDS; ++k) {
    v->first[k] = -2;
    v->expect_first[k] = u->pos[k] < nref[k] ? ref[k][u->pos[k]] : -1;
  }
  v->c = new_consumer(v, reader, lease);
  CHECK(v->c != NULL);
  if (v->c) {
    CHECK(kefo_consumer_start(v->c) == 0);
    CHECK(pthread_create(&wd, NULL, watchdog_thread, v) == 0);
    CHECK(kefo_consumer_run(v->c) == 0);
    pthread_join(wd, NULL);
    kefo_consumer_del(v->c);
  }
  for (k = 0; k < SHARDS; ++k) {
    resumed_ok += v->first[k] == v->expect_first[k] ||
                  (v->expect_first[k] == -1 && v->first[k] == -2);
  }
  printf("%2d %-6s %-7s target %6ld: %6ld records in %4ld calls, stop took "
         "%6.1f ms, on_stopped x%d %s, %ld out of order or repeated, %ld "
         "calls after on_stopped, resumed right after on %ld/%d shards "
         "(%.0f ms in all)%s%s\n",
         iter, by_signal ? "SIGALRM" : "thread", reader, u->target, seen,
         u->calls, latency, atomic_load(&u->stopped),
         u->reason == KEFO_STOP_ASKED ? "ASKED" : "not ASKED", u->mismatches,
         u->calls_after_stopped, resumed_ok, SHARDS, now_ms() - t0,
         u->errors ? "; last error: " : "", u->errors ? u->last_error : "");
  if (resumed_ok != SHARDS) {
    for (k = 0; k < SHARDS; ++k) {
      printf("   shard %d: first run read %ld, second run began at record "
             "%ld, expected %ld\n",
             k, u->pos[k], v->first[k], v->expect_first[k]);
    }
  }
  CHECK(atomic_load(&u->asked));
  CHECK(latency >= 0 && latency <= BOUND_MS);
  CHECK(u->stopped == 1);
  CHECK(u->reason == KEFO_STOP_ASKED);
  CHECK(u->mismatches == 0);
  CHECK(u->calls_after_stopped == 0);
  CHECK(seen >= u->target);
  CHECK(resumed_ok == SHARDS);
  CHECK(v->stopped == 1 && v->mismatches == 0);
done:
  free(u);
  free(v);
}

int main(void) {
  const char *port = getenv("MOCK_STOP_PORT");
  const char *env;
  struct sigaction sa;
  unsigned seed;
  int i, iterations;

  signal(SIGPIPE, SIG_IGN);
  if (!port) {
    printf("MOCK_STOP_PORT is not set: run "
           "tests/integration/stop_async_test.sh\n");
    return 77;
  }
  setvbuf(stdout, NULL, _IOLBF, 0);
  snprintf(mock_url, sizeof(mock_url), "http://127.0.0.1:%s", port);
  env = getenv("MOCK_STOP_RECORDS");
  nrecords = env ? atol(env) : 100000;
  env = getenv("KEFO_STOP_ITERATIONS");
  iterations = env ? atoi(env) : 12;
  env = getenv("KEFO_STOP_SEED");
  seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL);
  srand(seed);
  printf("seed %u (KEFO_STOP_SEED replays it), %d stops by a thread and %d "
         "by SIGALRM\n",
         seed, iterations, iterations);
  if (!mkdtemp(tmpdir)) {
    return 1;
  }
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_alarm;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGALRM, &sa, NULL);
  if (reference() != 0) {
    printf("the reference read failed\n");
    return 1;
  }
  for (i = 0; i < 2 * iterations; ++i) {
    /* Thread and signal in turn; EFO and polling every other pair. */
    one_stop(i, i % 2, i / 2 % 2 ? "POLLING" : "EFO");
  }
  printf("%ld SIGALRMs handled\n", (long)atomic_load(&signals));
  printf("%d checks: %d passed, %d failed\n", checks, checks - failed_checks,
         failed_checks);
  {
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) {
      printf("could not remove %s\n", tmpdir);
    }
  }
  for (i = 0; i < SHARDS; ++i) {
    free(ref[i]);
  }
  return failed_checks ? 1 : 0;
}
