/*
 * Kinesis API calls through the signed JSON client, against kinesis-local
 * (every operation kefo uses, SubscribeToShard over HTTP/2 included) and a
 * local HTTP/2 server for what the emulator cannot do (throttling,
 * malformed answers). Servers come from tests/integration/kinesis_test.sh.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <event2/event.h>

#include "tests/support/aws_test_util.h"

#include "aws/aws_client.h"
#include "aws/kinesis.h"

static struct event_base *base;
static kefo_http_client *http;
static kefo_aws_client *aws;
static kefo_aws_service kinesis, fake;

typedef struct result {
  int done;
  int error;
  cJSON *json;
  char aws_type[128];
  char message[512];
  int retryable;
  int status;
} result;

static void on_result(int error, const cJSON *resp, const kefo_error_info *info,
                      void *ud) {
  result *r = ud;
  r->done = 1;
  r->error = error;
  r->json = resp ? cJSON_Duplicate(resp, 1) : NULL;
  if (info) {
    snprintf(r->aws_type, sizeof(r->aws_type), "%s",
             info->aws_type ? info->aws_type : "");
    snprintf(r->message, sizeof(r->message), "%s", info->message);
    r->retryable = info->retryable;
    r->status = info->http_status;
  }
}

static void run_until(int *flag, int ms) {
  kefo_test_run_until(base, flag, ms);
}

static cJSON *call(const kefo_aws_service *svc, const char *op, cJSON *body,
                   result *r) {
  kefo_retry_strategy rs = {10, 50, 5};
  memset(r, 0, sizeof(*r));
  CU_ASSERT_EQUAL(
      kefo__aws_call_start(aws, svc, op, body, &rs, on_result, r, NULL), 0);
  cJSON_Delete(body);
  run_until(&r->done, 10000);
  CU_ASSERT(r->done);
  if (r->error) {
    printf("  %s: %s\n", op, r->message);
  }
  return r->json;
}

static cJSON *obj(const char *k1, const char *v1, const char *k2,
                  const char *v2) {
  cJSON *o = cJSON_CreateObject();
  if (k1) {
    cJSON_AddStringToObject(o, k1, v1);
  }
  if (k2) {
    cJSON_AddStringToObject(o, k2, v2);
  }
  return o;
}

static void test_errors(void) {
  result r;

  /* A real AWS error from the emulator: not retryable, named. */
  call(&kinesis, "DescribeStreamSummary", obj("StreamName", "nope", NULL, NULL),
       &r);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(r.aws_type, "ResourceNotFoundException");
  CU_ASSERT_EQUAL(r.retryable, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.message, "DescribeStreamSummary"));
  printf("\nkinesis: error from kinesis-local: %s\n", r.message);
  /* Throttled twice, then served: retried with backoff. */
  call(&fake, "Throttled", NULL, &r);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(r.json, "attempts")
                      ? cJSON_GetObjectItem(r.json, "attempts")->valueint
                      : 0,
                  3);
  cJSON_Delete(r.json);
  printf("kinesis: throttled twice (ProvisionedThroughputExceededException), "
         "answered on attempt 3\n");
  /* Namespace removed from __type; 4xx not retried. */
  call(&fake, "Missing", NULL, &r);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(r.aws_type, "ResourceNotFoundException");
  CU_ASSERT_EQUAL(r.status, 400);
  /* Not JSON: a clear error, not a crash. */
  call(&fake, "Malformed", NULL, &r);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_BAD_RESPONSE);
  printf("kinesis: malformed answer: %s\n", r.message);
  /* No secret in any message. */
  CU_ASSERT_PTR_NULL(strstr(r.message, KEFO_TEST_SECRET));
}

/* The client's retry callback: each report kept, and the call cancelled
   from inside it when asked. */
typedef struct retry_log {
  int n;
  int retryable;
  char first[512];
  char last[512];
  const char *operation;
  kefo_aws_call *cancel; /* cancelled at the first report */
} retry_log;

static void on_retry(const kefo_error_info *info, void *ud) {
  retry_log *l = ud;
  if (l->n == 0) {
    snprintf(l->first, sizeof(l->first), "%s", info->message);
  }
  snprintf(l->last, sizeof(l->last), "%s", info->message);
  ++l->n;
  l->retryable &= info->retryable;
  l->operation = info->operation;
  if (l->cancel) {
    kefo__aws_call_cancel(l->cancel);
    l->cancel = NULL;
  }
}

/* A port nobody listens on: bound, then closed. */
static int closed_port(void) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port;

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  CU_ASSERT_EQUAL(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  CU_ASSERT_EQUAL(getsockname(fd, (struct sockaddr *)&a, &len), 0);
  port = ntohs(a.sin_port);
  close(fd);
  return port;
}

/* Every retry is told as it happens, with its cause, wait and attempt;
   the last failure is final, and says the budget is spent. A call of
   one attempt keeps the failure's flag for its owner and tells nothing;
   a call cancelled from the report ends quietly. */
static void test_retry_reports(void) {
  kefo_retry_strategy three = {10, 20, 3}, one = {1, 1, 1};
  kefo_aws_service down;
  kefo_http_client *h;
  kefo_aws_client *a;
  kefo_aws_call *call;
  retry_log log;
  result r;
  char url[64];

  snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
  CU_ASSERT_EQUAL_FATAL(kefo__aws_service_kinesis(&down, url, "us-east-1"), 0);
  CU_ASSERT_EQUAL_FATAL(kefo__http_client_new(&h, base, NULL), 0);
  CU_ASSERT_EQUAL_FATAL(
      kefo__aws_client_new(&a, base, h, kefo_test_credentials(), NULL, NULL),
      0);
  memset(&log, 0, sizeof(log));
  log.retryable = 1;
  kefo__aws_client_set_retry_cb(a, on_retry, &log);

  memset(&r, 0, sizeof(r));
  CU_ASSERT_EQUAL(kefo__aws_call_start(a, &down, "ListStreams", NULL, &three,
                                       on_result, &r, NULL),
                  0);
  run_until(&r.done, 10000);
  printf("\nkinesis: retry reported: %s\nkinesis: final: %s\n", log.first,
         r.message);
  CU_ASSERT_EQUAL(log.n, 2);
  CU_ASSERT_EQUAL(log.retryable, 1);
  CU_ASSERT_PTR_NOT_NULL(log.operation);
  CU_ASSERT_PTR_NOT_NULL(strstr(log.first, "ListStreams: cannot connect"));
  CU_ASSERT_PTR_NOT_NULL(strstr(log.first, ", retrying in 0."));
  CU_ASSERT_PTR_NOT_NULL(strstr(log.first, "(attempt 2 of 3)"));
  CU_ASSERT_PTR_NOT_NULL(strstr(log.last, "(attempt 3 of 3)"));
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CONNECT);
  CU_ASSERT_EQUAL(r.retryable, 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(r.message, "ListStreams: cannot connect"));
  CU_ASSERT_PTR_NOT_NULL(strstr(r.message, "(gave up after 3 attempts)"));

  memset(&log, 0, sizeof(log));
  memset(&r, 0, sizeof(r));
  CU_ASSERT_EQUAL(kefo__aws_call_start(a, &down, "ListStreams", NULL, &one,
                                       on_result, &r, NULL),
                  0);
  run_until(&r.done, 10000);
  CU_ASSERT_EQUAL(log.n, 0);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CONNECT);
  CU_ASSERT_EQUAL(r.retryable, 1);
  CU_ASSERT_PTR_NULL(strstr(r.message, "gave up"));

  memset(&log, 0, sizeof(log));
  memset(&r, 0, sizeof(r));
  CU_ASSERT_EQUAL(kefo__aws_call_start(a, &down, "ListStreams", NULL, &three,
                                       on_result, &r, &call),
                  0);
  log.cancel = call;
  run_until(&log.n, 10000);
  run_until(&r.done, 500);
  CU_ASSERT_EQUAL(log.n, 1);
  CU_ASSERT_EQUAL(r.done, 0);

  kefo__aws_client_del(a);
  kefo__http_client_del(h);
}

typedef struct shards_result {
  int done;
  int error;
  int count;
} shards_result;

static void on_shards(int error, const cJSON *shards,
                      const kefo_error_info *info, void *ud) {
  shards_result *r = ud;
  (void)info;
  r->done = 1;
  r->error = error;
  r->count = shards ? cJSON_GetArraySize(shards) : -1;
}

typedef struct sub_result {
  int events;
  int records;
  int initial;
  int ended;
  int end_error;
  char aws_type[128];
  int retryable;
  char last_seq[128];
} sub_result;

static int on_event(kefo_kinesis_subscription *sub,
                    const kefo_records_event *ev, void *ud) {
  sub_result *r = ud;
  (void)sub;
  ++r->events;
  r->records += (int)ev->nrecords;
  if (ev->continuation) {
    snprintf(r->last_seq, sizeof(r->last_seq), "%s", ev->continuation);
  }
  return 0;
}

static void on_initial(kefo_kinesis_subscription *sub, void *ud) {
  (void)sub;
  ++((sub_result *)ud)->initial;
}

static void on_end(kefo_kinesis_subscription *sub, int error,
                   const kefo_error_info *info, void *ud) {
  sub_result *r = ud;
  (void)sub;
  r->ended = 1;
  r->end_error = error;
  if (info) {
    snprintf(r->aws_type, sizeof(r->aws_type), "%s",
             info->aws_type ? info->aws_type : "");
    r->retryable = info->retryable;
  }
}

static const kefo_kinesis_subscribe_callbacks sub_cb = {on_initial, on_event,
                                                        on_end};

/* What kinesis-local cannot do, from the local HTTP/2 server speaking
   real event streams: initial-response, shard end with ChildShards,
   an exception event, a corrupt frame. */
typedef struct fake_sub {
  sub_result r;
  int child_shards;
  int null_continuation;
} fake_sub;

static int fake_on_event(kefo_kinesis_subscription *sub,
                         const kefo_records_event *ev, void *ud) {
  fake_sub *f = ud;
  cJSON *children = ev->child_shards
                        ? cJSON_ParseWithLength((const char *)ev->child_shards,
                                                ev->child_shards_len)
                        : NULL;
  f->child_shards += cJSON_GetArraySize(children);
  cJSON_Delete(children);
  f->null_continuation += ev->continuation_null;
  return on_event(sub, ev, &f->r);
}

static void fake_on_initial(kefo_kinesis_subscription *sub, void *ud) {
  on_initial(sub, &((fake_sub *)ud)->r);
}

static void fake_on_end(kefo_kinesis_subscription *sub, int error,
                        const kefo_error_info *info, void *ud) {
  on_end(sub, error, info, &((fake_sub *)ud)->r);
}

static const kefo_kinesis_subscribe_callbacks fake_cb = {
    fake_on_initial, fake_on_event, fake_on_end};

static void fake_subscribe(const char *shard, fake_sub *f) {
  memset(f, 0, sizeof(*f));
  CU_ASSERT_EQUAL(kefo__kinesis_subscribe(aws, &fake, "arn:consumer", shard,
                                          "AFTER_SEQUENCE_NUMBER", "999",
                                          &fake_cb, f, NULL),
                  0);
  run_until(&f->r.ended, 5000);
}

static void test_event_stream_paths(void) {
  fake_sub f;

  fake_subscribe("shardId-end", &f);
  printf("\nkinesis: shard end: initial-response %d, %d events, %d records, "
         "%d child shard(s), end %d\n",
         f.r.initial, f.r.events, f.r.records, f.child_shards, f.r.end_error);
  CU_ASSERT_EQUAL(f.r.initial, 1);
  CU_ASSERT_EQUAL(f.r.events, 3);
  CU_ASSERT_EQUAL(f.r.records, 3);
  CU_ASSERT_EQUAL(f.child_shards, 1);
  CU_ASSERT_EQUAL(f.null_continuation, 1);
  CU_ASSERT_EQUAL(f.r.ended, 1);
  CU_ASSERT_EQUAL(f.r.end_error, 0);

  fake_subscribe("shardId-exception", &f);
  printf("kinesis: exception event: %s, retryable %d, after %d records\n",
         f.r.aws_type, f.r.retryable, f.r.records);
  CU_ASSERT_EQUAL(f.r.records, 3);
  CU_ASSERT_EQUAL(f.r.end_error, KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(f.r.aws_type, "ResourceInUseException");
  CU_ASSERT_EQUAL(f.r.retryable, 1);

  fake_subscribe("shardId-corrupt", &f);
  printf("kinesis: corrupt frame: %s, retryable %d, after %d records\n",
         kefo_strerror(f.r.end_error), f.r.retryable, f.r.records);
  CU_ASSERT_EQUAL(f.r.records, 3); /* nothing from the bad frame */
  CU_ASSERT_EQUAL(f.r.end_error, KEFO_ERR_ES_MESSAGE_CRC);
  CU_ASSERT_EQUAL(f.r.retryable, 1);
}

static void test_kinesis_local(void) {
  enum { NREC = 40, NSHARDS = 4 };
  result r;
  cJSON *b, *recs, *j;
  char arn[512], consumer[512], shard_ids[NSHARDS][64], iter[1024];
  shards_result sr;
  sub_result subs[NSHARDS], dup;
  kefo_kinesis_subscription *handles[NSHARDS], *dup_handle;
  int i, total = 0, got = 0;

  b = obj("StreamName", "kefo-kinesis-test", NULL, NULL);
  cJSON_AddNumberToObject(b, "ShardCount", NSHARDS);
  call(&kinesis, "CreateStream", b, &r);
  CU_ASSERT_EQUAL(r.error, 0);
  cJSON_Delete(r.json);
  j = call(&kinesis, "DescribeStreamSummary",
           obj("StreamName", "kefo-kinesis-test", NULL, NULL), &r);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  snprintf(arn, sizeof(arn), "%s",
           cJSON_GetObjectItem(
               cJSON_GetObjectItem(j, "StreamDescriptionSummary"), "StreamARN")
               ->valuestring);
  cJSON_Delete(j);
  /* PutRecords, spread over the shards; then one PutRecord. */
  b = obj("StreamName", "kefo-kinesis-test", NULL, NULL);
  recs = cJSON_AddArrayToObject(b, "Records");
  for (i = 0; i < NREC - 1; ++i) {
    char pk[32];
    cJSON *e = cJSON_CreateObject();
    snprintf(pk, sizeof(pk), "partition-%d", i);
    cJSON_AddStringToObject(e, "PartitionKey", pk);
    cJSON_AddStringToObject(e, "Data", "a2Vmbw==");
    cJSON_AddItemToArray(recs, e);
  }
  j = call(&kinesis, "PutRecords", b, &r);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(j, "FailedRecordCount")->valueint, 0);
  cJSON_Delete(j);
  b = obj("StreamName", "kefo-kinesis-test", "PartitionKey", "single");
  cJSON_AddStringToObject(b, "Data", "b25l");
  j = call(&kinesis, "PutRecord", b, &r);
  CU_ASSERT_PTR_NOT_NULL(cJSON_GetObjectItem(j, "SequenceNumber"));
  cJSON_Delete(j);
  /* ListShards one shard a page: NextToken paging to the end. */
  memset(&sr, 0, sizeof(sr));
  CU_ASSERT_EQUAL(kefo__kinesis_list_shards(aws, &kinesis, NULL, arn, NULL, 1,
                                            NULL, on_shards, &sr, NULL),
                  0);
  run_until(&sr.done, 10000);
  CU_ASSERT_EQUAL(sr.error, 0);
  CU_ASSERT_EQUAL(sr.count, NSHARDS);
  printf("kinesis: ListShards with MaxResults 1: %d shards over the pages\n",
         sr.count);
  j = call(&kinesis, "ListShards",
           obj("StreamName", "kefo-kinesis-test", NULL, NULL), &r);
  for (i = 0; i < NSHARDS; ++i) {
    snprintf(
        shard_ids[i], sizeof(shard_ids[i]), "%s",
        cJSON_GetObjectItem(
            cJSON_GetArrayItem(cJSON_GetObjectItem(j, "Shards"), i), "ShardId")
            ->valuestring);
  }
  cJSON_Delete(j);
  /* GetShardIterator + GetRecords on each shard: every record once. */
  for (i = 0; i < NSHARDS; ++i) {
    b = obj("StreamName", "kefo-kinesis-test", "ShardId", shard_ids[i]);
    cJSON_AddStringToObject(b, "ShardIteratorType", "TRIM_HORIZON");
    j = call(&kinesis, "GetShardIterator", b, &r);
    snprintf(iter, sizeof(iter), "%s",
             cJSON_GetObjectItem(j, "ShardIterator")->valuestring);
    cJSON_Delete(j);
    b = obj("ShardIterator", iter, NULL, NULL);
    cJSON_AddNumberToObject(b, "Limit", 10000);
    j = call(&kinesis, "GetRecords", b, &r);
    total += cJSON_GetArraySize(cJSON_GetObjectItem(j, "Records"));
    cJSON_Delete(j);
  }
  CU_ASSERT_EQUAL(total, NREC);
  printf("kinesis: GetRecords over %d shards: %d of %d records\n", NSHARDS,
         total, NREC);
  /* Consumers: register, describe until ACTIVE, list. */
  j = call(&kinesis, "RegisterStreamConsumer",
           obj("StreamARN", arn, "ConsumerName", "kefo-kinesis-consumer"), &r);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  snprintf(
      consumer, sizeof(consumer), "%s",
      cJSON_GetObjectItem(cJSON_GetObjectItem(j, "Consumer"), "ConsumerARN")
          ->valuestring);
  cJSON_Delete(j);
  for (i = 0; i < 50; ++i) {
    const cJSON *st;
    j = call(&kinesis, "DescribeStreamConsumer",
             obj("ConsumerARN", consumer, NULL, NULL), &r);
    st = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "ConsumerDescription"),
                             "ConsumerStatus");
    got = cJSON_IsString(st) && strcmp(st->valuestring, "ACTIVE") == 0;
    cJSON_Delete(j);
    if (got) {
      break;
    }
    run_until(&r.retryable, 100);
  }
  CU_ASSERT(got);
  j = call(&kinesis, "ListStreamConsumers", obj("StreamARN", arn, NULL, NULL),
           &r);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "Consumers")), 1);
  cJSON_Delete(j);
  /* SubscribeToShard on every shard over HTTP/2 (one connection). */
  memset(subs, 0, sizeof(subs));
  for (i = 0; i < NSHARDS; ++i) {
    CU_ASSERT_EQUAL(kefo__kinesis_subscribe(aws, &kinesis, consumer,
                                            shard_ids[i], "TRIM_HORIZON", NULL,
                                            &sub_cb, &subs[i], &handles[i]),
                    0);
  }
  for (i = 0; i < 400; ++i) {
    int k;
    total = 0;
    for (k = 0; k < NSHARDS; ++k) {
      total += subs[k].records;
    }
    if (total >= NREC) {
      break;
    }
    run_until(&subs[0].ended, 10);
  }
  printf("kinesis: SubscribeToShard on %d shards: %d of %d records "
         "(initial-response events: %d, as kinesis-local sends none)\n",
         NSHARDS, total, NREC, subs[0].initial);
  CU_ASSERT_EQUAL(total, NREC);
  /* A second subscription to the same shard: ResourceInUseException, an
     exception event, retryable. */
  memset(&dup, 0, sizeof(dup));
  CU_ASSERT_EQUAL(kefo__kinesis_subscribe(aws, &kinesis, consumer, shard_ids[0],
                                          "LATEST", NULL, &sub_cb, &dup,
                                          &dup_handle),
                  0);
  run_until(&dup.ended, 5000);
  printf("kinesis: second subscription to %s: %s (retryable %d)\n",
         shard_ids[0], dup.aws_type, dup.retryable);
  CU_ASSERT_EQUAL(dup.end_error, KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(dup.aws_type, "ResourceInUseException");
  CU_ASSERT_EQUAL(dup.retryable, 1);
  for (i = 0; i < NSHARDS; ++i) {
    CU_ASSERT_EQUAL(subs[i].ended, 0);
    kefo__kinesis_subscription_cancel(handles[i]);
  }
  run_until(&subs[0].ended, 100);
  CU_ASSERT_EQUAL(subs[0].ended, 0); /* no callback after cancel */
  j = call(&kinesis, "DeregisterStreamConsumer",
           obj("ConsumerARN", consumer, NULL, NULL), &r);
  CU_ASSERT_EQUAL(r.error, 0);
  cJSON_Delete(j);
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
  snprintf(url, sizeof(url), "http://127.0.0.1:%s", getenv("H2_PLAIN_PORT"));
  kefo__aws_service_kinesis(&fake, url, "us-east-1");
  CU_initialize_registry();
  s = CU_add_suite("kinesis", NULL, NULL);
  CU_add_test(s, "errors and retries", test_errors);
  CU_add_test(s, "retries reported, the last one final", test_retry_reports);
  CU_add_test(s, "event-stream paths", test_event_stream_paths);
  CU_add_test(s, "every call against kinesis-local", test_kinesis_local);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  kefo__aws_client_del(aws);
  kefo__http_client_del(http);
  event_base_free(base);
  return failures ? 1 : 0;
}
