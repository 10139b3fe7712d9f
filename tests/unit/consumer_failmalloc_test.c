/*
 * The consumer under a failing allocator (issue 24): the allocator given
 * to kefo_config_new2 is the consumer's, so every allocation kefo makes
 * while a consumer is created, started (its first calls go out to a
 * loopback port nobody listens on), stopped and freed can be failed in
 * turn. Each run must end with an error or success, never a crash, and
 * free every block.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CUnit/CUnit.h>
#include <event2/event.h>
#include <kefo/kefo.h>

#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"

/* A loopback port nobody listens on: connections are refused at once. */
static int closed_port(void) {
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port = 1;

  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
      getsockname(fd, (struct sockaddr *)&sa, &len) == 0) {
    port = ntohs(sa.sin_port);
  }
  if (fd >= 0) {
    close(fd);
  }
  return port;
}

static int on_records(kefo_consumer *c, const char *shard_id,
                      const kefo_record *records, size_t n,
                      int64_t millis_behind_latest, void *user_data) {
  (void)c;
  (void)shard_id;
  (void)records;
  (void)n;
  (void)millis_behind_latest;
  (void)user_data;
  return 0;
}

typedef struct fm_counts {
  long runs, created, started;
} fm_counts;

static fm_counts counts;
static char endpoint[64];

/* The metrics under the same allocator (issue 27): the text, or
   KEFO_ERR_NOMEM and no text. */
static void metrics_check(int rv, const char *text, size_t len,
                          const char *want) {
  if (rv == 0) {
    CU_ASSERT_PTR_NOT_NULL(strstr(text, want));
    CU_ASSERT_EQUAL(strlen(text), len);
  } else {
    CU_ASSERT_EQUAL(rv, KEFO_ERR_NOMEM);
    CU_ASSERT_PTR_NULL(text);
  }
}

static int scenario(const kefo_mem *mem, void *arg) {
  static const char *const keys[][2] = {
      {"source.stream.name", "fm"},
      {"source.efo.consumer.name", "fm-app"},
      {"aws.region", "us-east-1"},
      {"aws.endpoint", endpoint},
      /* Credentials from the config: no environment or instance
         metadata looked up. */
      {"aws.credentials.provider", "BASIC"},
      {"aws.credentials.provider.basic.accesskeyid", "AKIDFAILMALLOC"},
      {"aws.credentials.provider.basic.secretkey", "failmalloc-secret"},
      {"source.lease.store", "memory"},
      {"retry-strategy.delay.min", "1ms"},
      {"retry-strategy.delay.max", "2ms"},
      {"retry-strategy.attempts.max", "2"}};
  kefo_callbacks cb = {on_records, NULL, NULL};
  kefo_config *cfg;
  kefo_consumer *c = NULL;
  struct event_base *base;
  const char *text = "unset";
  size_t i, tlen;
  int rv, k, mrv;

  (void)arg;
  ++counts.runs;
  rv = kefo_config_new2(&cfg, mem);
  if (rv != 0) {
    return rv;
  }
  for (i = 0; i < sizeof(keys) / sizeof(keys[0]) && rv == 0; ++i) {
    rv = kefo_config_set(cfg, keys[i][0], keys[i][1]);
  }
  base = event_base_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(base);
  if (rv == 0) {
    rv = kefo_consumer_new(&c, cfg, &cb, NULL, base);
  }
  kefo_config_del(cfg); /* the consumer keeps a copy */
  if (rv == 0) {
    ++counts.created;
    rv = kefo_consumer_start(c);
    counts.started += rv == 0;
    /* Its first calls: connect, refused, retried, given up. */
    for (k = 0; k < 50 && !kefo_consumer_stopped(c); ++k) {
      event_base_loop(base, EVLOOP_NONBLOCK);
      usleep(200);
    }
    mrv = kefo_consumer_metrics(c, &text, &tlen);
    metrics_check(mrv, text, tlen, "kefo_build_info{version=\"");
    kefo_consumer_stop(c, 1);
    for (k = 0; k < 50 && !kefo_consumer_stopped(c); ++k) {
      event_base_loop(base, EVLOOP_NONBLOCK);
    }
    kefo_consumer_stop(c, 0);
    CU_ASSERT(kefo_consumer_stopped(c));
    kefo_consumer_del(c);
  }
  event_base_free(base);
  return rv;
}

static void test_consumer_failmalloc(void) {
  snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", closed_port());
  memset(&counts, 0, sizeof(counts));
  kefo_failmalloc_run(scenario, NULL);
  printf("\nconsumer failmalloc: %ld runs (one per allocation, and the "
         "counting run): %ld consumers created, %ld started\n",
         counts.runs, counts.created, counts.started);
  CU_ASSERT(counts.runs > 50);
  CU_ASSERT(counts.created > 0 && counts.created < counts.runs);
}

/* The producer the same way: created, twenty records put, a flush, its
   ListShards refused and given up (which stops it, failing the records),
   a graceful stop, freed. */
typedef struct pfm {
  int acked, failed, flushed, stopped;
} pfm;

static void p_ack(kefo_producer *p, void *ctx, const kefo_put_result *res,
                  void *ud) {
  (void)p;
  (void)ctx;
  (void)res;
  ++((pfm *)ud)->acked;
}

static void p_fail(kefo_producer *p, void *ctx, const kefo_error_info *err,
                   void *ud) {
  (void)p;
  (void)ctx;
  (void)err;
  ++((pfm *)ud)->failed;
}

static void p_stopped(kefo_producer *p, const kefo_error_info *err, void *ud) {
  (void)p;
  (void)err;
  ((pfm *)ud)->stopped = 1;
}

static void p_flushed(kefo_producer *p, void *data) {
  (void)p;
  ((pfm *)data)->flushed = 1;
}

static long producers_created, records_put;

static int producer_scenario(const kefo_mem *mem, void *arg) {
  static const char *const keys[][2] = {
      {"sink.stream.name", "fm"},
      {"aws.region", "us-east-1"},
      {"aws.endpoint", endpoint},
      {"aws.credentials.provider", "BASIC"},
      {"aws.credentials.provider.basic.accesskeyid", "AKIDFAILMALLOC"},
      {"aws.credentials.provider.basic.secretkey", "failmalloc-secret"},
      {"retry-strategy.delay.min", "1ms"},
      {"retry-strategy.delay.max", "2ms"},
      {"retry-strategy.attempts.max", "2"},
      {"sink.flush-buffer.timeout", "1ms"}};
  kefo_producer_callbacks *cbs = NULL;
  kefo_producer *p = NULL;
  struct event_base *base;
  kefo_config *cfg;
  const char *text = "unset";
  pfm st;
  size_t i, tlen;
  int rv, k, mrv;

  (void)arg;
  memset(&st, 0, sizeof(st));
  rv = kefo_config_new2(&cfg, mem);
  if (rv != 0) {
    return rv;
  }
  for (i = 0; i < sizeof(keys) / sizeof(keys[0]) && rv == 0; ++i) {
    rv = kefo_config_set(cfg, keys[i][0], keys[i][1]);
  }
  base = event_base_new();
  CU_ASSERT_PTR_NOT_NULL_FATAL(base);
  if (rv == 0 && (rv = kefo_producer_callbacks_new(&cbs)) == 0) {
    kefo_producer_callbacks_set_on_ack(cbs, p_ack);
    kefo_producer_callbacks_set_on_failure(cbs, p_fail);
    kefo_producer_callbacks_set_on_stopped(cbs, p_stopped);
    rv = kefo_producer_new(&p, cfg, cbs, &st, base);
  }
  kefo_producer_callbacks_del(cbs);
  kefo_config_del(cfg);
  if (rv == 0) {
    int put = 0;
    ++producers_created;
    for (k = 0; k < 20; ++k) {
      char key[16];
      snprintf(key, sizeof(key), "key-%d", k);
      put += kefo_producer_put(p, key, NULL, "data", 4, NULL) == 0;
    }
    records_put += put;
    mrv = kefo_producer_metrics(p, &text, &tlen);
    metrics_check(mrv, text, tlen,
                  "kefo_producer_records_put_total{stream=\"fm\"} ");
    kefo_producer_flush(p, p_flushed, &st);
    for (k = 0; k < 50 && !kefo_producer_stopped(p); ++k) {
      event_base_loop(base, EVLOOP_NONBLOCK);
      usleep(200);
    }
    kefo_producer_stop(p, 1);
    for (k = 0; k < 50 && !st.stopped; ++k) {
      event_base_loop(base, EVLOOP_NONBLOCK);
    }
    kefo_producer_stop(p, 0);
    event_base_loop(base, EVLOOP_NONBLOCK);
    CU_ASSERT(kefo_producer_stopped(p));
    /* Every record put is reported once: nothing was written. */
    CU_ASSERT_EQUAL(st.acked, 0);
    CU_ASSERT_EQUAL(st.failed, put);
    kefo_producer_del(p);
  }
  event_base_free(base);
  return rv;
}

static void test_producer_failmalloc(void) {
  snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", closed_port());
  producers_created = records_put = 0;
  kefo_failmalloc_run(producer_scenario, NULL);
  printf("\nproducer failmalloc: %ld producers created, %ld records put "
         "(and failed once each)\n",
         producers_created, records_put);
  CU_ASSERT(producers_created > 0);
}

int kefo_add_consumer_failmalloc_suite(void) {
  CU_pSuite s = CU_add_suite("consumer failmalloc", NULL, NULL);
  if (s == NULL ||
      !CU_add_test(s,
                   "create, start, stop, free: every allocation fails "
                   "once",
                   test_consumer_failmalloc) ||
      !CU_add_test(s,
                   "producer: create, put, flush, stop, free: every "
                   "allocation fails once",
                   test_producer_failmalloc)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
