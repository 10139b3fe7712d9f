/*
 * The region a consumer or producer calls (runtime/aws_setup.c): an
 * ARN's region when aws.region is unset, and what is wrong told through
 * the log hook when kefo_producer_new or kefo_consumer_new refuses a
 * configuration. No call is made: the loops are never run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <event2/event.h>

#include "runtime/aws_setup.h"
#include "runtime/config.h"
#include "runtime/producer_glue.h"
#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"

/* The region's sources the tests set, saved and restored around each. */
static const char *const region_env[] = {"AWS_REGION",
                                         "AWS_DEFAULT_REGION",
                                         "AWS_PROFILE",
                                         "AWS_CONFIG_FILE",
                                         "AWS_SHARED_CREDENTIALS_FILE",
                                         "AWS_ENDPOINT_URL",
                                         "AWS_ENDPOINT_URL_KINESIS"};
#define NENV (sizeof(region_env) / sizeof(region_env[0]))
static char *saved_env[NENV];

/* No region anywhere but what a test sets: no variable, no shared file. */
static void env_clear(void) {
  size_t i;

  for (i = 0; i < NENV; ++i) {
    const char *v = getenv(region_env[i]);
    saved_env[i] = v ? strdup(v) : NULL;
    unsetenv(region_env[i]);
  }
  setenv("AWS_CONFIG_FILE", "/nonexistent/kefo-test/config", 1);
  setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/kefo-test/credentials",
         1);
}

static void env_restore(void) {
  size_t i;

  for (i = 0; i < NENV; ++i) {
    if (saved_env[i]) {
      setenv(region_env[i], saved_env[i], 1);
      free(saved_env[i]);
      saved_env[i] = NULL;
    } else {
      unsetenv(region_env[i]);
    }
  }
}

/* A config of |kv| pairs (NULL ended) with BASIC credentials. */
static kefo_config *config_of(const char *const *kv) {
  kefo_config *cfg = NULL;
  size_t i;

  CU_ASSERT_EQUAL_FATAL(kefo_config_new(&cfg), 0);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, "aws.credentials.provider", "BASIC"), 0);
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, "aws.credentials.provider.basic.accesskeyid", "AK"),
      0);
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, "aws.credentials.provider.basic.secretkey", "SK"),
      0);
  for (i = 0; kv[i]; i += 2) {
    CU_ASSERT_EQUAL(kefo_config_set(cfg, kv[i], kv[i + 1]), 0);
  }
  return cfg;
}

/* Sets up the Kinesis stack for |arn| with |kv|; its region, and its
   endpoint's host into |host|, or "" and the error. */
static int setup_region(const char *const *kv, const char *arn, char *region,
                        char *host, char *err, size_t errlen) {
  struct event_base *base = event_base_new();
  kefo_config *cfg = config_of(kv);
  kefo_aws_setup s;
  int rv;

  rv = kefo__aws_setup_kinesis(&s, cfg, arn, base, NULL, 1u << 20, NULL, err,
                               errlen);
  region[0] = host[0] = '\0';
  if (rv == 0) {
    strcpy(region, s.region);
    strcpy(host, s.svc.endpoint.host);
    kefo__aws_setup_free(&s);
  }
  kefo_config_del(cfg);
  event_base_free(base);
  return rv;
}

static void test_region_of_arn(void) {
  static const char *const none[] = {NULL};
  static const char *const set[] = {"aws.region", "eu-west-1", NULL};
  static const char *const emulator[] = {"aws.endpoint",
                                         "http://127.0.0.1:4567", NULL};
  const char *arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/s";
  char region[KEFO_REGION_MAX], host[256], err[512];

  env_clear();
  /* aws.region unset: the ARN's region, before AWS_REGION's. */
  setenv("AWS_REGION", "us-east-1", 1);
  CU_ASSERT_EQUAL(setup_region(none, arn, region, host, err, sizeof(err)), 0);
  CU_ASSERT_STRING_EQUAL(region, "eu-west-1");
  CU_ASSERT_STRING_EQUAL(host, "kinesis.eu-west-1.amazonaws.com");
  CU_ASSERT_STRING_EQUAL(err, "");
  /* Without an ARN (a stream by name), AWS_REGION's. */
  CU_ASSERT_EQUAL(setup_region(none, NULL, region, host, err, sizeof(err)), 0);
  CU_ASSERT_STRING_EQUAL(region, "us-east-1");
  CU_ASSERT_STRING_EQUAL(host, "kinesis.us-east-1.amazonaws.com");
  /* aws.region given (the config's rules refused any other). */
  CU_ASSERT_EQUAL(setup_region(set, arn, region, host, err, sizeof(err)), 0);
  CU_ASSERT_STRING_EQUAL(region, "eu-west-1");
  /* An emulator's endpoint: the calls are signed for the ARN's region. */
  CU_ASSERT_EQUAL(setup_region(emulator, arn, region, host, err, sizeof(err)),
                  0);
  CU_ASSERT_STRING_EQUAL(region, "eu-west-1");
  CU_ASSERT_STRING_EQUAL(host, "127.0.0.1");
  /* No region anywhere: the error says where it was looked for. */
  unsetenv("AWS_REGION");
  CU_ASSERT_EQUAL(setup_region(none, NULL, region, host, err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT(strncmp(err, "no region: set aws.region, AWS_REGION", 37) == 0);
  /* An ARN without a usable region field does not stand for one. */
  CU_ASSERT_EQUAL(setup_region(none, "arn:aws:kinesis::1:stream/s", region,
                               host, err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  env_restore();
}

/* The log lines a refused kefo_*_new gave. */
typedef struct heard {
  int n;
  kefo_log_level level;
  char event[64], message[512];
} heard;

static void hear(kefo_log_level level, const char *event, const char *shard,
                 const char *message, void *ud) {
  heard *h = ud;

  (void)shard;
  ++h->n;
  h->level = level;
  snprintf(h->event, sizeof(h->event), "%s", event);
  snprintf(h->message, sizeof(h->message), "%s", message);
}

static int producer_new_heard(const char *const *kv, heard *h) {
  struct event_base *base = event_base_new();
  kefo_config *cfg = config_of(kv);
  kefo_producer_callbacks *cbs = NULL;
  kefo_producer *p = NULL;
  int rv;

  memset(h, 0, sizeof(*h));
  CU_ASSERT_EQUAL_FATAL(kefo_producer_callbacks_new(&cbs), 0);
  kefo_producer_callbacks_set_log(cbs, hear, KEFO_LOG_ERROR);
  rv = kefo_producer_new(&p, cfg, cbs, h, base);
  CU_ASSERT(rv != 0 || p != NULL);
  kefo_producer_del(p);
  kefo_producer_callbacks_del(cbs);
  kefo_config_del(cfg);
  event_base_free(base);
  return rv;
}

static void test_producer_says_why(void) {
  static const char *const no_region[] = {"sink.stream.name", "s", NULL};
  static const char *const other_region[] = {
      "sink.stream.arn", "arn:aws:kinesis:eu-west-1:1:stream/s", "aws.region",
      "us-east-1", NULL};
  static const char *const not_a_stream[] = {
      "sink.stream.arn", "arn:aws:kinesis:eu-west-1:1:s", NULL};
  static const char *const fine[] = {
      "sink.stream.name",   "s", "aws.region", "us-east-1", "aws.endpoint",
      "http://127.0.0.1:1", NULL};
  heard h;

  env_clear();
  CU_ASSERT_EQUAL(producer_new_heard(no_region, &h), KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(h.n, 1);
  CU_ASSERT_EQUAL(h.level, KEFO_LOG_ERROR);
  CU_ASSERT_STRING_EQUAL(h.event, "config.invalid");
  CU_ASSERT(strncmp(h.message, "no region: set aws.region", 25) == 0);

  CU_ASSERT_EQUAL(producer_new_heard(other_region, &h), KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(h.n, 1);
  CU_ASSERT_STRING_EQUAL(h.event, "config.invalid");
  CU_ASSERT(strncmp(h.message,
                    "sink.stream.arn: the ARN is in region eu-west-1, but "
                    "aws.region is us-east-1",
                    76) == 0);

  CU_ASSERT_EQUAL(producer_new_heard(not_a_stream, &h), KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(h.n, 1);
  CU_ASSERT(strstr(h.message, "is not a stream's ARN") != NULL);

  /* A producer made: nothing to say at creation. */
  CU_ASSERT_EQUAL(producer_new_heard(fine, &h), 0);
  CU_ASSERT_EQUAL(h.n, 0);
  env_restore();
}

static int dummy_records(kefo_consumer *c, const char *shard_id,
                         const kefo_record *records, size_t n,
                         int64_t millis_behind_latest, void *ud) {
  (void)c;
  (void)shard_id;
  (void)records;
  (void)n;
  (void)millis_behind_latest;
  (void)ud;
  return 0;
}

static void test_consumer_says_why(void) {
  static const char *const mismatch[] = {"source.stream.arn",
                                         "arn:aws:kinesis:eu-west-1:1:stream/s",
                                         "source.reader.type",
                                         "POLLING",
                                         "aws.region",
                                         "us-east-1",
                                         NULL};
  static const char *const no_region[] = {
      "source.stream.name", "s", "source.reader.type", "POLLING", NULL};
  const char *const *cases[] = {mismatch, no_region};
  static const char *const want[] = {
      "source.stream.arn: the ARN is in region eu-west-1, but aws.region is "
      "us-east-1",
      "no region: set aws.region"};
  size_t i;

  env_clear();
  for (i = 0; i < 2; ++i) {
    struct event_base *base = event_base_new();
    kefo_config *cfg = config_of(cases[i]);
    kefo_consumer_callbacks *cbs = NULL;
    kefo_consumer *c = NULL;
    heard h;

    memset(&h, 0, sizeof(h));
    CU_ASSERT_EQUAL_FATAL(kefo_consumer_callbacks_new(&cbs), 0);
    kefo_consumer_callbacks_set_on_records(cbs, dummy_records);
    kefo_consumer_callbacks_set_log(cbs, hear, KEFO_LOG_ERROR);
    CU_ASSERT_EQUAL(kefo_consumer_new2(&c, cfg, cbs, &h, base),
                    KEFO_ERR_CONFIG);
    CU_ASSERT_PTR_NULL(c);
    CU_ASSERT_EQUAL(h.n, 1);
    CU_ASSERT_STRING_EQUAL(h.event, "config.invalid");
    CU_ASSERT(strncmp(h.message, want[i], strlen(want[i])) == 0);
    kefo_consumer_callbacks_del(cbs);
    kefo_config_del(cfg);
    event_base_free(base);
  }
  env_restore();
}

/* kefo_producer_put_to: a stream of the producer's region is written
   through the producer's own connections and credentials; a stream ARN
   of another region through one set for that region (at the same
   endpoint, here an emulator's), shared by every stream there. */
static void test_put_to_region(void) {
  static const char *const kv[] = {
      "sink.stream.name",   "s", "aws.region", "us-east-1", "aws.endpoint",
      "http://127.0.0.1:1", NULL};
  struct event_base *base = event_base_new();
  kefo_config *cfg = config_of(kv);
  kefo_producer *p = NULL;
  static const char *const arns[] = {"arn:aws:kinesis:us-east-1:1:stream/t",
                                     "arn:aws:kinesis:eu-west-1:1:stream/t",
                                     "arn:aws:kinesis:eu-west-1:1:stream/u",
                                     "arn:aws:kinesis:ap-south-1:1:stream/t"};
  const kefo_producer *near, *far, *far2, *farther;
  size_t i;

  env_clear();
  CU_ASSERT_EQUAL_FATAL(kefo_producer_new(&p, cfg, NULL, NULL, base), 0);
  /* One of its own region, two of eu-west-1, one of a third region. */
  for (i = 0; i < sizeof(arns) / sizeof(arns[0]); ++i) {
    CU_ASSERT_EQUAL(kefo_producer_put_to(p, arns[i], "k", NULL, "x", 1, NULL),
                    0);
  }
  CU_ASSERT_EQUAL_FATAL(p->nstreams, 4);
  near = p->streams[0].kid;
  far = p->streams[1].kid;
  far2 = p->streams[2].kid;
  farther = p->streams[3].kid;
  CU_ASSERT_FATAL(near != NULL && far != NULL && far2 != NULL &&
                  farther != NULL);
  CU_ASSERT(!near->own_aws);
  CU_ASSERT_PTR_EQUAL(near->aws.http, p->aws.http);
  CU_ASSERT_STRING_EQUAL(near->aws.region, "us-east-1");
  /* The parent holds one setup a region other than its own; kids lend. */
  CU_ASSERT(!far->own_aws && !far2->own_aws && !farther->own_aws);
  CU_ASSERT_EQUAL(p->nfar, 2);
  CU_ASSERT(far->aws.http != p->aws.http && far->aws.creds != p->aws.creds);
  CU_ASSERT_STRING_EQUAL(far->aws.region, "eu-west-1");
  CU_ASSERT_STRING_EQUAL(far->aws.svc.endpoint.host, "127.0.0.1");
  CU_ASSERT_PTR_EQUAL(far2->aws.http, far->aws.http);
  CU_ASSERT_PTR_EQUAL(far2->aws.creds, far->aws.creds);
  CU_ASSERT_PTR_EQUAL(far2->aws.aws, far->aws.aws);
  CU_ASSERT(farther->aws.http != far->aws.http &&
            farther->aws.http != p->aws.http);
  CU_ASSERT_STRING_EQUAL(farther->aws.region, "ap-south-1");
  /* An ARN of another region that is not a stream's makes nothing. */
  CU_ASSERT_EQUAL(kefo_producer_put_to(p, "arn:aws:kinesis:sa-east-1:1:bad",
                                       "k", NULL, "x", 1, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(p->nfar, 2);
  /* A name with a character no stream name has is still refused. */
  CU_ASSERT_EQUAL(kefo_producer_put_to(p, "has space", "k", NULL, "x", 1, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  kefo_producer_del(p);
  kefo_config_del(cfg);
  event_base_free(base);
  env_restore();
}

/* A producer through |mem| whose first records go to two streams of
   another region: every allocation of that region's connections and
   credentials and of the kids may fail, and each failure frees all
   (kefo_failmalloc_run counts the blocks). */
static int far_scenario(const kefo_mem *mem, void *arg) {
  struct event_base *base = event_base_new();
  kefo_config *cfg = NULL;
  kefo_producer *p = NULL;
  int rv;

  (void)arg;
  rv = kefo_config_new2(&cfg, mem);
  if (rv == 0) {
    static const char *const kv[] = {"sink.stream.name",
                                     "s",
                                     "aws.region",
                                     "us-east-1",
                                     "aws.endpoint",
                                     "http://127.0.0.1:1",
                                     "aws.credentials.provider",
                                     "BASIC",
                                     "aws.credentials.provider.basic."
                                     "accesskeyid",
                                     "AK",
                                     "aws.credentials.provider.basic.secretkey",
                                     "SK",
                                     NULL};
    size_t i;
    for (i = 0; kv[i] && rv == 0; i += 2) {
      rv = kefo_config_set(cfg, kv[i], kv[i + 1]);
    }
  }
  if (rv == 0) {
    rv = kefo_producer_new(&p, cfg, NULL, NULL, base);
  }
  if (rv == 0) {
    rv = kefo_producer_put_to(p, "arn:aws:kinesis:eu-west-1:1:stream/t", "k",
                              NULL, "x", 1, NULL);
    CU_ASSERT(rv == 0 || rv == KEFO_ERR_NOMEM);
    /* The second stream there borrows what the first made. */
    rv = kefo_producer_put_to(p, "arn:aws:kinesis:eu-west-1:1:stream/u", "k",
                              NULL, "x", 1, NULL);
    CU_ASSERT(rv == 0 || rv == KEFO_ERR_NOMEM);
  }
  kefo_producer_del(p);
  kefo_config_del(cfg);
  event_base_free(base);
  return rv;
}

static void test_put_to_region_failmalloc(void) {
  env_clear();
  kefo_failmalloc_run(far_scenario, NULL);
  env_restore();
}

int kefo_add_aws_setup_suite(void) {
  CU_pSuite s = CU_add_suite("aws_setup", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "region_of_arn", test_region_of_arn) ||
      !CU_add_test(s, "producer_says_why", test_producer_says_why) ||
      !CU_add_test(s, "consumer_says_why", test_consumer_says_why) ||
      !CU_add_test(s, "put_to_region", test_put_to_region) ||
      !CU_add_test(s, "put_to_region_failmalloc",
                   test_put_to_region_failmalloc)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
