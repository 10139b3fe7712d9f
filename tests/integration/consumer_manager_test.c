/*
 * The EFO consumer manager against kinesis-local (started by
 * tests/integration/consumer_manager_test.sh with consumers taking 300 ms to
 * register and to deregister): JOB_MANAGED registers and waits for ACTIVE,
 * reuses a consumer of the same name, deregisters on stop; SELF_MANAGED only
 * checks, and a consumer that does not exist is a clear error. And
 * against the project's mock server (a consumer CREATING for 1 s): the
 * manager polls for ACTIVE at a steady cadence.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <CUnit/Basic.h>
#include <event2/event.h>

#include "tests/support/aws_test_util.h"

#include "efo/consumer_manager.h"

static struct event_base *base;
static kefo_http_client *http;
static kefo_aws_client *aws;
static kefo_aws_service kinesis;

typedef struct outcome {
  int done;
  int error;
  char consumer_arn[512];
  char aws_type[128];
  char message[512];
} outcome;

static void on_ready(int error, const char *consumer_arn,
                     const char *stream_arn, const kefo_error_info *info,
                     void *ud) {
  outcome *o = ud;
  (void)stream_arn;
  o->done = 1;
  o->error = error;
  if (consumer_arn) {
    snprintf(o->consumer_arn, sizeof(o->consumer_arn), "%s", consumer_arn);
  }
  if (info) {
    snprintf(o->aws_type, sizeof(o->aws_type), "%s",
             info->aws_type ? info->aws_type : "");
    snprintf(o->message, sizeof(o->message), "%s", info->message);
  }
}

static void on_done(int error, const kefo_error_info *info, void *ud) {
  outcome *o = ud;
  o->done = 1;
  o->error = error;
  if (info) {
    snprintf(o->message, sizeof(o->message), "%s", info->message);
  }
}

static void run_until(int *flag, int ms) {
  kefo_test_run_until(base, flag, ms);
}

typedef struct answer {
  int done;
  int error;
  char aws_type[128];
  char status[32];
} answer;

static void on_answer(int error, const cJSON *resp, const kefo_error_info *info,
                      void *ud) {
  answer *a = ud;
  const cJSON *st = cJSON_GetObjectItem(
      cJSON_GetObjectItem(resp, "ConsumerDescription"), "ConsumerStatus");
  a->done = 1;
  a->error = error;
  if (info && info->aws_type) {
    snprintf(a->aws_type, sizeof(a->aws_type), "%s", info->aws_type);
  }
  if (cJSON_IsString(st)) {
    snprintf(a->status, sizeof(a->status), "%s", st->valuestring);
  }
}

static void raw(const char *op, cJSON *body, answer *a) {
  memset(a, 0, sizeof(*a));
  kefo__aws_call_start(aws, &kinesis, op, body, NULL, on_answer, a, NULL);
  cJSON_Delete(body);
  run_until(&a->done, 5000);
}

static void options(kefo_consumer_manager_options *o,
                    kefo_efo_lifecycle lifecycle) {
  memset(o, 0, sizeof(*o));
  o->lifecycle = lifecycle;
  o->stream_name = "kefo-cm";
  o->retry.min_delay_ms = 20;
  o->retry.max_delay_ms = 100;
  o->retry.max_attempts = 5;
  o->describe_retry.min_delay_ms = 50;
  o->describe_retry.max_delay_ms = 200;
  o->describe_retry.max_attempts = 40;
  o->deregister_timeout_ms = 5000;
}

static void test_lifecycles(void) {
  kefo_consumer_manager_options o;
  kefo_consumer_manager *m1, *m2, *m3, *m4;
  outcome r1, r2, r3, r4, s1, s3;
  answer a;
  cJSON *b;

  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "StreamName", "kefo-cm");
  cJSON_AddNumberToObject(b, "ShardCount", 2);
  raw("CreateStream", b, &a);
  CU_ASSERT_EQUAL(a.error, 0);
  run_until(&a.error, 300); /* stream becomes ACTIVE */

  /* JOB_MANAGED, by stream name: registered, then ACTIVE 300 ms later. */
  options(&o, KEFO_EFO_JOB_MANAGED);
  o.consumer_name = "kefo-cm-job";
  memset(&r1, 0, sizeof(r1));
  CU_ASSERT_EQUAL_FATAL(
      kefo__consumer_manager_start(aws, &kinesis, &o, on_ready, &r1, &m1), 0);
  run_until(&r1.done, 10000);
  printf("\nconsumer manager: JOB_MANAGED ready: %s after %u "
         "DescribeStreamConsumer call(s)\n",
         r1.consumer_arn, kefo__consumer_manager_describe_calls(m1));
  CU_ASSERT_EQUAL(r1.error, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r1.consumer_arn, "kefo-cm-job"));
  CU_ASSERT(kefo__consumer_manager_describe_calls(m1) >= 1);

  /* The same name again (another run of the job): reused, not a
     second consumer. */
  memset(&r2, 0, sizeof(r2));
  CU_ASSERT_EQUAL_FATAL(
      kefo__consumer_manager_start(aws, &kinesis, &o, on_ready, &r2, &m2), 0);
  run_until(&r2.done, 10000);
  CU_ASSERT_EQUAL(r2.error, 0);
  CU_ASSERT_STRING_EQUAL(r2.consumer_arn, r1.consumer_arn);
  kefo__consumer_manager_del(m2);

  /* SELF_MANAGED with that ARN: checked, and its stop removes nothing. */
  options(&o, KEFO_EFO_SELF_MANAGED);
  o.consumer_arn = r1.consumer_arn;
  memset(&r3, 0, sizeof(r3));
  CU_ASSERT_EQUAL_FATAL(
      kefo__consumer_manager_start(aws, &kinesis, &o, on_ready, &r3, &m3), 0);
  run_until(&r3.done, 10000);
  CU_ASSERT_EQUAL(r3.error, 0);
  CU_ASSERT_STRING_EQUAL(r3.consumer_arn, r1.consumer_arn);
  memset(&s3, 0, sizeof(s3));
  CU_ASSERT_EQUAL(kefo__consumer_manager_stop(m3, on_done, &s3), 0);
  CU_ASSERT_EQUAL(s3.done, 0); /* answered from the loop */
  run_until(&s3.done, 2000);
  CU_ASSERT_EQUAL(s3.error, 0);
  kefo__consumer_manager_del(m3);
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "ConsumerARN", r1.consumer_arn);
  raw("DescribeStreamConsumer", b, &a);
  CU_ASSERT_STRING_EQUAL(a.status, "ACTIVE");

  /* SELF_MANAGED with a consumer that does not exist: a clear error. */
  o.consumer_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/kefo-cm/"
                   "consumer/nobody:1";
  memset(&r4, 0, sizeof(r4));
  CU_ASSERT_EQUAL_FATAL(
      kefo__consumer_manager_start(aws, &kinesis, &o, on_ready, &r4, &m4), 0);
  run_until(&r4.done, 10000);
  printf("consumer manager: SELF_MANAGED, missing consumer: %s\n", r4.message);
  CU_ASSERT_EQUAL(r4.error, KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(r4.aws_type, "ResourceNotFoundException");
  kefo__consumer_manager_del(m4);

  /* Graceful stop of the JOB_MANAGED one: deregistered and gone. */
  memset(&s1, 0, sizeof(s1));
  CU_ASSERT_EQUAL(kefo__consumer_manager_stop(m1, on_done, &s1), 0);
  run_until(&s1.done, 10000);
  CU_ASSERT_EQUAL(s1.error, 0);
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "ConsumerARN", r1.consumer_arn);
  raw("DescribeStreamConsumer", b, &a);
  printf("consumer manager: after stop, DescribeStreamConsumer: %s\n",
         a.aws_type);
  CU_ASSERT_STRING_EQUAL(a.aws_type, "ResourceNotFoundException");
  kefo__consumer_manager_del(m1);

  /* A stream that does not exist. */
  options(&o, KEFO_EFO_JOB_MANAGED);
  o.stream_name = "no-such-stream";
  o.consumer_name = "kefo-cm-none";
  memset(&r4, 0, sizeof(r4));
  CU_ASSERT_EQUAL_FATAL(
      kefo__consumer_manager_start(aws, &kinesis, &o, on_ready, &r4, &m4), 0);
  run_until(&r4.done, 10000);
  CU_ASSERT_EQUAL(r4.error, KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(r4.aws_type, "ResourceNotFoundException");
  kefo__consumer_manager_del(m4);

  /* Missing options are refused at once. */
  options(&o, KEFO_EFO_SELF_MANAGED);
  CU_ASSERT_EQUAL(
      kefo__consumer_manager_start(aws, &kinesis, &o, on_ready, &r4, &m4),
      KEFO_ERR_INVALID_ARGUMENT);
}

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* The project's mock server (MOCK_PORT) keeps a new consumer CREATING for
   1 s. Polling for ACTIVE keeps a steady cadence of half to all of the
   describe strategy's minimum delay (here 100 ms) however long the wait,
   so the manager is ready within about one poll of the consumer's
   activation; an exponential backoff (the earlier behaviour) waits 1.4 to
   2 s and polls about 5 times. */
static void test_activation_cadence(void) {
  kefo_consumer_manager_options o;
  kefo_consumer_manager *m;
  kefo_aws_service mock;
  outcome r;
  double t0, took;
  char url[128];
  uint32_t calls;

  snprintf(url, sizeof(url), "http://127.0.0.1:%s", getenv("MOCK_PORT"));
  kefo__aws_service_kinesis(&mock, url, "us-east-1");
  options(&o, KEFO_EFO_JOB_MANAGED);
  o.stream_name = "cadence";
  o.consumer_name = "kefo-cm-cadence";
  o.describe_retry.min_delay_ms = 100;
  o.describe_retry.max_delay_ms = 60000;
  o.describe_retry.max_attempts = 100;
  memset(&r, 0, sizeof(r));
  t0 = now_ms();
  CU_ASSERT_EQUAL_FATAL(
      kefo__consumer_manager_start(aws, &mock, &o, on_ready, &r, &m), 0);
  run_until(&r.done, 10000);
  took = now_ms() - t0;
  calls = kefo__consumer_manager_describe_calls(m);
  printf("\nconsumer manager: ACTIVE after 1000 ms, ready after %.0f ms and "
         "%u DescribeStreamConsumer calls\n",
         took, calls);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT(took >= 1000);
  CU_ASSERT(took < 1000 + 100 + 250);
  CU_ASSERT(calls >= 9);
  kefo__consumer_manager_del(m);
}

int main(void) {
  CU_pSuite s;
  unsigned failures;
  char url[128];

  base = event_base_new();
  if (kefo__http_client_new(&http, base, NULL) != 0 ||
      kefo__aws_client_new(&aws, base, http, kefo_test_credentials(), NULL,
                           NULL) != 0) {
    return 1;
  }
  snprintf(url, sizeof(url), "http://127.0.0.1:%s", getenv("KINESIS_PORT"));
  kefo__aws_service_kinesis(&kinesis, url, "us-east-1");
  CU_initialize_registry();
  s = CU_add_suite("consumer_manager", NULL, NULL);
  CU_add_test(s, "JOB_MANAGED and SELF_MANAGED", test_lifecycles);
  CU_add_test(s, "a steady cadence while CREATING", test_activation_cadence);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  kefo__aws_client_del(aws);
  kefo__http_client_del(http);
  event_base_free(base);
  return failures ? 1 : 0;
}
