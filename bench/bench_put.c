/*
 * bench_put: kefo's producer writing a stream over loopback, through the
 * public API only, as an application would: RECORDS records of BYTES
 * bytes with random partition keys, put as fast as the producer takes
 * them, then a flush. bench/put.sh runs it beside the AWS SDK for
 * JavaScript v3 (bench/peer/sdk_put.mjs) against the same mock server;
 * both print one JSON line of the same shape.
 *
 * With --warmup W, W records are put and flushed first, off the clock:
 * what is measured is then a producer whose buffers are already in
 * memory, as they are in a long-running application (sdk_put.mjs takes
 * the same option, so that both writers are measured warm).
 *
 * With --lent 1, records are put with kefo_producer_put_lent: the
 * producer reads them from the pool, as the SDK's writer does (its
 * records are views into its pool), instead of copying them.
 *
 * usage: bench_put --endpoint URL --stream NAME --records N --bytes B
 *          [--warmup W] [--lent 0|1] [--aggregate 0|1] [--set KEY=VALUE]...
 */
#include "config.h"

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <event2/event.h>

#include <kefo/kefo.h>

#define MAX_SETS 16
/* Partition keys: 16 hex digits, as random as a UUID's for routing. */
#define KEY_LEN 16
/* Each record's data starts at a different offset of a random pool, so
   that no two neighbours are the same bytes. */
#define POOL_SPREAD 4096

typedef struct state {
  struct event_base *base;
  unsigned long long acked, failed, writable;
  int flushed, stopped;
  int64_t fail_code;
} state;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void cpu_s(double *user, double *sys) {
  struct rusage ru;

  getrusage(RUSAGE_SELF, &ru);
  *user = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
  *sys = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static uint64_t xorshift(uint64_t *x) {
  *x ^= *x << 13;
  *x ^= *x >> 7;
  *x ^= *x << 17;
  return *x;
}

static void on_ack(kefo_producer *p, void *ctx, const kefo_put_result *res,
                   void *ud) {
  state *st = ud;

  (void)p;
  (void)ctx;
  (void)res;
  ++st->acked;
}

static void on_failure(kefo_producer *p, void *ctx, const kefo_error_info *err,
                       void *ud) {
  state *st = ud;

  (void)p;
  (void)ctx;
  if (st->failed++ == 0) {
    fprintf(stderr, "bench_put: a record failed: %s: %s\n",
            kefo_strerror((int)err->code), err->message ? err->message : "");
  }
  st->fail_code = err->code;
}

static void on_writable(kefo_producer *p, void *ud) {
  state *st = ud;

  (void)p;
  ++st->writable;
}

static void on_stopped(kefo_producer *p, const kefo_error_info *err, void *ud) {
  state *st = ud;

  (void)p;
  if (err) {
    fprintf(stderr, "bench_put: stopped: %s\n",
            err->message ? err->message : kefo_strerror((int)err->code));
  }
  st->stopped = 1;
  event_base_loopbreak(st->base);
}

static void on_flushed(kefo_producer *p, void *data) {
  state *st = data;

  (void)p;
  st->flushed = 1;
  event_base_loopbreak(st->base);
}

/* --lent: records put with kefo_producer_put_lent. */
static int lent;

/* Puts records |first| to |first| + |n| - 1 as fast as the producer
   takes them (on a full buffer, runs the loop until on_writable says
   there is room again), then flushes. Returns 0 once the flush is done
   with every record of the run acknowledged, else -1. */
static int put_all(kefo_producer *p, state *st, const char *keys,
                   unsigned long long first, unsigned long long n,
                   const uint8_t *pool, size_t bytes,
                   unsigned long long *would_block) {
  unsigned long long i, acked = st->acked;
  int rv;

  for (i = first; i < first + n && !st->stopped;) {
    rv = (lent ? kefo_producer_put_lent
               : kefo_producer_put)(p, keys + i * (KEY_LEN + 1), NULL,
                                    pool + (i * 61) % POOL_SPREAD, bytes, NULL);
    if (rv == KEFO_ERR_WOULD_BLOCK) {
      unsigned long long w = st->writable;
      ++*would_block;
      while (st->writable == w && !st->stopped) {
        event_base_loop(st->base, EVLOOP_ONCE);
      }
      continue;
    }
    if (rv != 0) {
      fprintf(stderr, "bench_put: put: %s\n", kefo_strerror(rv));
      return -1;
    }
    ++i;
  }
  st->flushed = 0;
  if (i == first + n && kefo_producer_flush(p, on_flushed, st) == 0) {
    while (!st->flushed && !st->stopped) {
      event_base_loop(st->base, EVLOOP_ONCE);
    }
  }
  return st->flushed && st->acked - acked == n && st->failed == 0 ? 0 : -1;
}

/* Sets |key| from "KEY=VALUE" or a plain pair; 0 or -1 (printed). */
static int set(kefo_config *cfg, const char *key, const char *value) {
  char err[256];

  if (kefo_config_set2(cfg, key, value, err, sizeof(err)) != 0) {
    fprintf(stderr, "bench_put: %s\n", err);
    return -1;
  }
  return 0;
}

static int set_kv(kefo_config *cfg, const char *kv) {
  char key[128];
  const char *eq = strchr(kv, '=');

  if (eq == NULL || (size_t)(eq - kv) >= sizeof(key)) {
    fprintf(stderr, "bench_put: --set wants KEY=VALUE: %s\n", kv);
    return -1;
  }
  memcpy(key, kv, (size_t)(eq - kv));
  key[eq - kv] = '\0';
  return set(cfg, key, eq + 1);
}

int main(int argc, char **argv) {
  const char *endpoint = NULL, *stream = NULL, *sets[MAX_SETS];
  unsigned long long records = 0, warmup = 0, i, would_block = 0, acked0;
  size_t bytes = 0;
  int aggregate = 0, nsets = 0, k, rv, ok;
  kefo_producer_callbacks *cbs;
  kefo_producer *p;
  kefo_config *cfg;
  kefo_put_stats ps, ps0;
  struct event_base *base;
  struct rusage ru;
  state st;
  char *keys;
  uint8_t *pool;
  uint64_t x = 0x9e3779b97f4a7c15ull;
  double t0, t1, u0, s0, u1, s1;

  for (k = 1; k + 1 < argc; k += 2) {
    if (strcmp(argv[k], "--endpoint") == 0) {
      endpoint = argv[k + 1];
    } else if (strcmp(argv[k], "--stream") == 0) {
      stream = argv[k + 1];
    } else if (strcmp(argv[k], "--records") == 0) {
      records = strtoull(argv[k + 1], NULL, 10);
    } else if (strcmp(argv[k], "--warmup") == 0) {
      warmup = strtoull(argv[k + 1], NULL, 10);
    } else if (strcmp(argv[k], "--lent") == 0) {
      lent = atoi(argv[k + 1]) != 0;
    } else if (strcmp(argv[k], "--bytes") == 0) {
      bytes = (size_t)strtoull(argv[k + 1], NULL, 10);
    } else if (strcmp(argv[k], "--aggregate") == 0) {
      aggregate = atoi(argv[k + 1]) != 0;
    } else if (strcmp(argv[k], "--set") == 0 && nsets < MAX_SETS) {
      sets[nsets++] = argv[k + 1];
    } else {
      break;
    }
  }
  if (k != argc || !endpoint || !stream || records == 0 ||
      bytes > (1u << 20) - KEY_LEN) {
    fprintf(stderr, "usage: bench_put --endpoint URL --stream NAME --records "
                    "N --bytes B [--warmup W] [--lent 0|1] [--aggregate 0|1] "
                    "[--set KEY=VALUE]...\n");
    return 2;
  }
  /* As kefo.h asks of an application. */
  signal(SIGPIPE, SIG_IGN);
  memset(&st, 0, sizeof(st));
  base = event_base_new();
  st.base = base;

  /* The keys and the data are made before the clock starts: what is
     measured is the writer, not the application's making of records. */
  keys = malloc((warmup + records) * (KEY_LEN + 1));
  pool = malloc(bytes + POOL_SPREAD);
  if (base == NULL || keys == NULL || pool == NULL) {
    return 1;
  }
  for (i = 0; i < warmup + records; ++i) {
    static const char hex[] = "0123456789abcdef";
    uint64_t v = xorshift(&x);
    char *key = keys + i * (KEY_LEN + 1);
    for (k = 0; k < KEY_LEN; ++k) {
      key[k] = hex[(v >> (4 * k)) & 15];
    }
    key[KEY_LEN] = '\0';
  }
  for (i = 0; i < bytes + POOL_SPREAD; ++i) {
    pool[i] = (uint8_t)(xorshift(&x) >> 32);
  }

  if (kefo_config_new(&cfg) != 0) {
    return 1;
  }
  {
    const char *const kv[] = {"sink.stream.name",
                              stream,
                              "aws.region",
                              "us-east-1",
                              "aws.endpoint",
                              endpoint,
                              "aws.credentials.provider",
                              "BASIC",
                              "aws.credentials.provider.basic.accesskeyid",
                              "AKIDKEFOTEST",
                              "aws.credentials.provider.basic.secretkey",
                              "kefo-test-secret-key",
                              "sink.aggregation.enabled",
                              aggregate ? "true" : "false",
                              NULL};
    size_t j;

    for (j = 0; kv[j]; j += 2) {
      if (set(cfg, kv[j], kv[j + 1]) != 0) {
        return 2;
      }
    }
    for (k = 0; k < nsets; ++k) {
      if (set_kv(cfg, sets[k]) != 0) {
        return 2;
      }
    }
  }
  if (kefo_producer_callbacks_new(&cbs) != 0) {
    return 1;
  }
  kefo_producer_callbacks_set_on_ack(cbs, on_ack);
  kefo_producer_callbacks_set_on_failure(cbs, on_failure);
  kefo_producer_callbacks_set_on_writable(cbs, on_writable);
  kefo_producer_callbacks_set_on_stopped(cbs, on_stopped);
  rv = kefo_producer_new(&p, cfg, cbs, &st, base);
  kefo_producer_callbacks_del(cbs);
  kefo_config_del(cfg);
  if (rv != 0) {
    fprintf(stderr, "bench_put: %s\n", kefo_strerror(rv));
    return 1;
  }

  if (warmup > 0 &&
      put_all(p, &st, keys, 0, warmup, pool, bytes, &would_block) != 0) {
    fprintf(stderr, "bench_put: the warm-up was not all acknowledged\n");
    return 1;
  }
  kefo_producer_stats(p, &ps0);
  acked0 = st.acked;
  would_block = 0;
  t0 = now_s();
  cpu_s(&u0, &s0);
  (void)put_all(p, &st, keys, warmup, records, pool, bytes, &would_block);
  t1 = now_s();
  cpu_s(&u1, &s1);
  kefo_producer_stats(p, &ps);
  getrusage(RUSAGE_SELF, &ru);
  /* The measured run's counts: the warm-up's taken off. */
  ps.put -= ps0.put;
  ps.acknowledged -= ps0.acknowledged;
  ps.retried -= ps0.retried;
  ps.calls -= ps0.calls;
  ps.kinesis_records -= ps0.kinesis_records;
  ps.bytes_sent -= ps0.bytes_sent;
  st.acked -= acked0;

  ok = st.flushed && st.acked == records && st.failed == 0;
  {
    double cpu = u1 - u0 + s1 - s0;
    printf("{\"peer\":\"kefo\",\"aggregation\":%s,\"records\":%llu,"
           "\"warmup\":%llu,\"lent\":%s,"
           "\"bytes\":%zu,\"seconds\":%.3f,\"cpu_user_s\":%.3f,"
           "\"cpu_system_s\":%.3f,\"cpu_us_per_record\":%.3f,"
           "\"records_per_s\":%.0f,\"calls\":%llu,\"records_per_call\":%.1f,"
           "\"kinesis_records\":%llu,\"entries_per_call\":%.1f,"
           "\"bytes_sent_per_record\":%.1f,\"acknowledged\":%llu,"
           "\"failed\":%llu,\"retried\":%llu,\"would_block\":%llu,"
           "\"rss_mib\":%.1f}\n",
           aggregate ? "true" : "false", records, warmup,
           lent ? "true" : "false", bytes, t1 - t0, u1 - u0, s1 - s0,
           cpu * 1e6 / (double)records, (double)records / (t1 - t0),
           (unsigned long long)ps.calls,
           ps.calls ? (double)ps.acknowledged / (double)ps.calls : 0.0,
           (unsigned long long)ps.kinesis_records,
           ps.calls ? (double)ps.kinesis_records / (double)ps.calls : 0.0,
           ps.put ? (double)ps.bytes_sent / (double)ps.put : 0.0, st.acked,
           st.failed, (unsigned long long)ps.retried, would_block,
           ru.ru_maxrss / 1024.0);
  }
  if (!ok) {
    fprintf(stderr,
            "bench_put: %llu of %llu records acknowledged, %llu failed\n",
            st.acked, records, st.failed);
  }
  kefo_producer_stop(p, 0);
  while (!st.stopped) {
    event_base_loop(base, EVLOOP_ONCE);
  }
  kefo_producer_del(p);
  event_base_free(base);
  free(keys);
  free(pool);
  return ok ? 0 : 1;
}
