/*
 * bench_e2e: kefo reading a stream end to end over loopback, through the
 * public API only, as an application would: a JOB_MANAGED EFO consumer
 * from TRIM_HORIZON until it has received the number of records asked for.
 * bench/e2e.sh starts the server (the project's mock, preloaded) and runs
 * this beside the AWS SDK for JavaScript v3 (bench/peer/sdk_reader.mjs)
 * on the same data; both print one JSON line of the same shape.
 *
 * usage: bench_e2e --endpoint URL --stream NAME --expect RECORDS
 *          [--reader EFO|POLLING] [--consumer NAME]
 *          (throughput, path 2; time to first record, path 5)
 *        bench_e2e --endpoint URL --stream NAME --live SECONDS --shards N
 *          [--consumer NAME] [--scrape-ms MS]
 *          (paths 3 and 4: subscribe to every shard, let the backlog
 *          drain, then measure RSS per subscribed shard, CPU, the rate of
 *          records and, for records the server stamped, the latency from
 *          the server's writing of an event to on_records; with
 *          --scrape-ms, the metrics rendered every MS ms as a Prometheus
 *          scrape would have them, and the CPU that took, issue 27)
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

typedef struct state {
  unsigned long long records, bytes, expect;
  double first_s, first_record_s, last_s;
  int failed;
  kefo_consumer *c;
  struct event_base *base;
  /* Live mode: shards expected, and the phase (0: waiting until every
     shard has had an event, 1: letting the backlog drain for WARM_S,
     2: measuring for |live_s|, 3: done). */
  long shards;
  double live_s, phase_s, rss0_kib, rss1_kib, u1, s1;
  unsigned long long records1;
  int phase;
  /* --scrape-ms: kefo_consumer_metrics every scrape_ms; while measuring,
     how many, the CPU they took and the text's size. */
  double scrape_ms, scrape_cpu_s;
  unsigned long scrapes;
  size_t scrape_bytes;
} state;

#define WARM_S 3.0
#define MAX_SETS 16

/* Latency, in microseconds: one bucket per microsecond up to 100 ms, the
   last one for everything above. Static, so that its pages are touched
   only by samples, after RSS has been read. */
#define LAT_BUCKETS 100001
static uint32_t lat_hist[LAT_BUCKETS];
static unsigned long long lat_n;

static int64_t mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* A record the server stamped ("t=" and CLOCK_MONOTONIC in nanoseconds
   as it wrote the event, tests/support/mock --stamp): counts its latency. */
static void sample(const kefo_record *r, int64_t now) {
  int64_t t = 0, us;
  size_t i;

  if (r->data_len < 21 || r->data[0] != 't' || r->data[1] != '=') {
    return;
  }
  for (i = 2; i < 21; ++i) {
    if (r->data[i] < '0' || r->data[i] > '9') {
      return;
    }
    t = t * 10 + (r->data[i] - '0');
  }
  us = (now - t) / 1000;
  us = us < 0 ? 0 : us >= LAT_BUCKETS ? LAT_BUCKETS - 1 : us;
  ++lat_hist[us];
  ++lat_n;
}

/* The |q| quantile in microseconds (0 <= q <= 1). */
static long quantile(double q) {
  unsigned long long want = (unsigned long long)(q * (double)lat_n), seen = 0;
  long i;

  for (i = 0; i < LAT_BUCKETS; ++i) {
    seen += lat_hist[i];
    if (seen > want || (seen == lat_n && seen > 0)) {
      return i;
    }
  }
  return -1;
}

static double rss_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double kb = -1;

  while (f && fgets(line, sizeof(line), f)) {
    if (sscanf(line, "VmRSS: %lf", &kb) == 1) {
      break;
    }
  }
  if (f) {
    fclose(f);
  }
  return kb;
}

/* Scale mode: every shard subscribed once each has had an event (the
   server sends empty ones to idle subscriptions). */
static long subscribed(kefo_consumer *c) {
  kefo_stats s;
  size_t i;
  long n = 0;

  if (kefo_consumer_stats(c, &s) != 0) {
    return 0;
  }
  for (i = 0; i < s.nshards; ++i) {
    n += s.shards[i].millis_behind_latest >= 0;
  }
  return n;
}

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(int which) {
  struct rusage ru;
  const struct timeval *tv = which ? &ru.ru_stime : &ru.ru_utime;

  getrusage(RUSAGE_SELF, &ru);
  return (double)tv->tv_sec + tv->tv_usec / 1e6;
}

static int on_records(kefo_consumer *c, const char *shard, const kefo_record *r,
                      size_t n, int64_t behind, void *ud) {
  state *st = ud;
  size_t i;

  (void)c;
  (void)shard;
  (void)behind;
  st->records += n;
  for (i = 0; i < n; ++i) {
    st->bytes += r[i].data_len;
  }
  if (st->phase == 2) {
    int64_t now = mono_ns();
    for (i = 0; i < n; ++i) {
      sample(&r[i], now);
    }
  }
  /* The clock is read for the first and the last record only: reading it
     on every call would charge the harness's time to the reader. */
  if (st->first_record_s == 0) {
    st->first_record_s = now_s();
  }
  /* Enough: a non-zero return stops the consumer. */
  if (st->expect > 0 && st->records >= st->expect) {
    st->last_s = now_s();
    return 1;
  }
  return 0;
}

static void on_shard_event(kefo_consumer *c, const char *shard,
                           kefo_shard_event ev, void *ud) {
  state *st = ud;

  (void)c;
  if (ev == KEFO_SHARD_EVENT_FAILED) {
    fprintf(stderr, "bench_e2e: shard %s failed\n", shard);
    st->failed = 1;
  }
}

static void on_error(kefo_consumer *c, const kefo_error_info *e, void *ud) {
  (void)c;
  (void)ud;
  fprintf(stderr, "bench_e2e: %s\n", e->message);
}

static double thread_cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void on_scrape(evutil_socket_t fd, short what, void *arg) {
  state *st = arg;
  const char *text;
  size_t len = 0;
  double t0 = thread_cpu_s();

  (void)fd;
  (void)what;
  if (kefo_consumer_metrics(st->c, &text, &len) != 0) {
    fprintf(stderr, "bench_e2e: kefo_consumer_metrics failed\n");
    st->failed = 1;
    return;
  }
  if (st->phase == 2) {
    st->scrape_cpu_s += thread_cpu_s() - t0;
    ++st->scrapes;
    st->scrape_bytes = len;
  }
}

static void tick(evutil_socket_t fd, short what, void *arg) {
  state *st = arg;

  (void)fd;
  (void)what;
  if (st->failed || kefo_consumer_stopped(st->c)) {
    event_base_loopbreak(st->base);
  }
  if (st->shards > 0 && st->phase == 0 && subscribed(st->c) >= st->shards) {
    st->phase = 1;
    st->phase_s = now_s();
    /* RSS with every shard subscribed: what the subscriptions hold. */
    st->rss1_kib = rss_kib();
  } else if (st->phase == 1 && now_s() - st->phase_s >= WARM_S) {
    st->phase = 2;
    st->phase_s = now_s();
    st->records1 = st->records;
    st->u1 = cpu_s(0);
    st->s1 = cpu_s(1);
  } else if (st->phase == 2 && now_s() - st->phase_s >= st->live_s) {
    double secs = now_s() - st->phase_s;
    double cpu = cpu_s(0) - st->u1 + cpu_s(1) - st->s1;
    printf("{\"peer\":\"kefo\",\"shards\":%ld,\"subscribe_s\":%.1f,"
           "\"rss_mib\":%.1f,\"rss_per_shard_kib\":%.1f,"
           "\"cpu_pct\":%.2f,\"records_per_s\":%.0f,\"stamped\":%llu",
           st->shards, st->phase_s - WARM_S - st->first_s, st->rss1_kib / 1024,
           (st->rss1_kib - st->rss0_kib) / (double)st->shards, 100 * cpu / secs,
           (double)(st->records - st->records1) / secs, lat_n);
    if (st->scrape_ms > 0) {
      printf(",\"scrape_ms\":%.0f,\"scrapes\":%lu,\"scrape_bytes\":%zu,"
             "\"scrape_cpu_pct\":%.3f",
             st->scrape_ms, st->scrapes, st->scrape_bytes,
             100 * st->scrape_cpu_s / secs);
    }
    if (lat_n > 0) {
      printf(",\"latency_us\":{\"p50\":%ld,\"p99\":%ld,\"p999\":%ld,"
             "\"max\":%ld}",
             quantile(0.5), quantile(0.99), quantile(0.999), quantile(1.0));
    }
    printf("}\n");
    st->phase = 3;
    event_base_loopbreak(st->base);
  }
}

int main(int argc, char **argv) {
  static const kefo_callbacks cb = {on_records, on_shard_event, on_error};
  const char *endpoint = NULL, *stream = NULL, *reader = "EFO";
  const char *consumer = "kefo-bench";
  struct event_base *base;
  struct event *timer, *scrape = NULL;
  struct timeval tv = {0, 50000};
  kefo_config *cfg;
  state st;
  double u0, s0, t0;
  /* --set KEY=VALUE: any other configuration key, to see what it costs. */
  const char *sets[MAX_SETS];
  int nsets = 0;
  int i, rv;

  memset(&st, 0, sizeof(st));
  for (i = 1; i + 1 < argc; i += 2) {
    if (strcmp(argv[i], "--endpoint") == 0) {
      endpoint = argv[i + 1];
    } else if (strcmp(argv[i], "--stream") == 0) {
      stream = argv[i + 1];
    } else if (strcmp(argv[i], "--expect") == 0) {
      st.expect = strtoull(argv[i + 1], NULL, 10);
    } else if (strcmp(argv[i], "--reader") == 0) {
      reader = argv[i + 1];
    } else if (strcmp(argv[i], "--consumer") == 0) {
      consumer = argv[i + 1];
    } else if (strcmp(argv[i], "--live") == 0) {
      st.live_s = atof(argv[i + 1]);
    } else if (strcmp(argv[i], "--shards") == 0) {
      st.shards = atol(argv[i + 1]);
    } else if (strcmp(argv[i], "--scrape-ms") == 0) {
      st.scrape_ms = atof(argv[i + 1]);
    } else if (strcmp(argv[i], "--set") == 0 && nsets < MAX_SETS) {
      sets[nsets++] = argv[i + 1];
    } else {
      break;
    }
  }
  if (i != argc || !endpoint || !stream ||
      (st.expect == 0) == (st.shards == 0)) {
    fprintf(stderr, "usage: bench_e2e --endpoint URL --stream NAME --expect "
                    "RECORDS [--reader EFO|POLLING] [--consumer NAME]\n"
                    "       bench_e2e --endpoint URL --stream NAME --live "
                    "SECONDS --shards N [--consumer NAME] [--scrape-ms MS]\n"
                    "       (either: [--set KEY=VALUE]...)\n");
    return 2;
  }
  /* As kefo.h asks of an application. */
  signal(SIGPIPE, SIG_IGN);
  base = event_base_new();
  st.base = base;
  {
    const char *const kv[] = {
        "source.stream.name", stream, "source.reader.type", reader,
        "source.efo.consumer.name", consumer, "source.init.position",
        /* Live mode reads what is written from now
           on; the backlog would only delay it. */
        st.live_s > 0 ? "LATEST" : "TRIM_HORIZON", "aws.region", "us-east-1",
        "aws.endpoint", endpoint, "aws.credentials.provider", "BASIC",
        "aws.credentials.provider.basic.accesskeyid", "AKIDKEFOTEST",
        "aws.credentials.provider.basic.secretkey", "kefo-test-secret-key",
        "source.lease.store", "memory", NULL};
    char err[256];
    size_t k;

    if (kefo_config_new(&cfg) != 0) {
      return 1;
    }
    for (k = 0; kv[k]; k += 2) {
      if (kefo_config_set2(cfg, kv[k], kv[k + 1], err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_e2e: %s\n", err);
        return 2;
      }
    }
    for (k = 0; k < (size_t)nsets; ++k) {
      char key[128];
      const char *eq = strchr(sets[k], '=');
      if (eq == NULL || (size_t)(eq - sets[k]) >= sizeof(key)) {
        fprintf(stderr, "bench_e2e: --set wants KEY=VALUE: %s\n", sets[k]);
        return 2;
      }
      memcpy(key, sets[k], (size_t)(eq - sets[k]));
      key[eq - sets[k]] = '\0';
      if (kefo_config_set2(cfg, key, eq + 1, err, sizeof(err)) != 0) {
        fprintf(stderr, "bench_e2e: %s\n", err);
        return 2;
      }
    }
  }
  rv = kefo_consumer_new(&st.c, cfg, &cb, &st, base);
  kefo_config_del(cfg);
  if (rv != 0) {
    fprintf(stderr, "bench_e2e: %s\n", kefo_strerror(rv));
    return 1;
  }
  timer = event_new(base, -1, EV_PERSIST, tick, &st);
  event_add(timer, &tv);
  if (st.scrape_ms > 0) {
    struct timeval every = {(time_t)(st.scrape_ms / 1000),
                            (suseconds_t)((long)st.scrape_ms % 1000 * 1000)};
    scrape = event_new(base, -1, EV_PERSIST, on_scrape, &st);
    event_add(scrape, &every);
  }
  st.rss0_kib = rss_kib();
  t0 = st.first_s = now_s();
  u0 = cpu_s(0);
  s0 = cpu_s(1);
  rv = kefo_consumer_start(st.c);
  if (rv != 0) {
    fprintf(stderr, "bench_e2e: cannot start: %s\n", kefo_strerror(rv));
    return 1;
  }
  event_base_dispatch(base);
  if (scrape) {
    event_free(scrape);
  }
  if (st.shards > 0) {
    kefo_consumer_stop(st.c, 0);
    event_free(timer);
    kefo_consumer_del(st.c);
    event_base_free(base);
    if (st.phase != 3) {
      fprintf(stderr, "bench_e2e: stopped with %ld of %ld shards subscribed\n",
              st.phase ? st.shards : 0, st.shards);
    }
    return st.phase == 3 ? 0 : 1;
  }
  {
    double user = cpu_s(0) - u0, sys = cpu_s(1) - s0;
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    printf("{\"peer\":\"kefo\",\"records\":%llu,\"bytes\":%llu,"
           "\"seconds\":%.3f,\"first_record_s\":%.3f,\"cpu_user_s\":%.3f,"
           "\"cpu_system_s\":%.3f,\"rss_mib\":%.1f}\n",
           st.records, st.bytes, (st.last_s > 0 ? st.last_s : now_s()) - t0,
           st.first_record_s > 0 ? st.first_record_s - t0 : -1.0, user, sys,
           ru.ru_maxrss / 1024.0);
  }
  kefo_consumer_stop(st.c, 1);
  event_free(timer);
  kefo_consumer_del(st.c);
  event_base_free(base);
  return st.failed || st.records < st.expect ? 1 : 0;
}
