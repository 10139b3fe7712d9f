/*
 * Raw Kinesis calls on kinesis-local, shared by the test programs.
 */
#include "tests/support/kl_calls.h"

#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "aws/aws_client.h"
#include "base/base64.h"
#include "tests/support/aws_test_util.h"

static struct event_base *base;
static kefo_http_client *http;
static kefo_aws_client *aws;
static kefo_aws_service kinesis;

int kefo_kl_open(struct event_base *b, const char *port) {
  char url[128];

  base = b;
  if (port == NULL || kefo__http_client_new(&http, base, NULL) != 0 ||
      kefo__aws_client_new(&aws, base, http, kefo_test_credentials(), NULL,
                           NULL) != 0) {
    return -1;
  }
  snprintf(url, sizeof(url), "http://127.0.0.1:%s", port);
  return kefo__aws_service_kinesis(&kinesis, url, "us-east-1") == 0 ? 0 : -1;
}

void kefo_kl_close(void) {
  kefo__aws_client_del(aws);
  kefo__http_client_del(http);
  aws = NULL;
  http = NULL;
}

static void on_answer(int error, const cJSON *resp, const kefo_error_info *info,
                      void *ud) {
  kefo_kl_answer *a = ud;
  a->done = 1;
  a->error = error;
  if (resp) {
    a->resp = cJSON_Duplicate(resp, 1);
  }
  if (info && info->aws_type) {
    snprintf(a->aws_type, sizeof(a->aws_type), "%s", info->aws_type);
  }
}

void kefo_kl_call(const char *op, cJSON *body, kefo_kl_answer *a) {
  memset(a, 0, sizeof(*a));
  kefo__aws_call_start(aws, &kinesis, op, body, NULL, on_answer, a, NULL);
  cJSON_Delete(body);
  kefo_test_run_until(base, &a->done, 30000);
}

void kefo_kl_create_stream(const char *name, int shards) {
  cJSON *b = cJSON_CreateObject();
  kefo_kl_answer a;
  int never = 0;

  cJSON_AddStringToObject(b, "StreamName", name);
  cJSON_AddNumberToObject(b, "ShardCount", shards);
  kefo_kl_call("CreateStream", b, &a);
  CU_ASSERT_EQUAL_FATAL(a.error, 0);
  cJSON_Delete(a.resp);
  /* kinesis-local makes a stream ACTIVE after a short delay. */
  kefo_test_run_until(base, &never, 300);
}

char *kefo_kl_stream_arn(const char *name) {
  cJSON *b = cJSON_CreateObject();
  const cJSON *arn;
  kefo_kl_answer a;
  char *out = NULL;

  cJSON_AddStringToObject(b, "StreamName", name);
  kefo_kl_call("DescribeStreamSummary", b, &a);
  arn = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(a.resp, "StreamDescriptionSummary"),
      "StreamARN");
  if (cJSON_IsString(arn)) {
    out = strdup(arn->valuestring);
  }
  cJSON_Delete(a.resp);
  return out;
}

void kefo_kl_put_range(const char *stream, int first, int n,
                       kefo_kl_expected *ex) {
  int i = first;

  while (i < first + n) {
    cJSON *b = cJSON_CreateObject(), *recs;
    const cJSON *r;
    kefo_kl_answer a;
    int k, batch = first + n - i < 500 ? first + n - i : 500;
    cJSON_AddStringToObject(b, "StreamName", stream);
    recs = cJSON_AddArrayToObject(b, "Records");
    for (k = 0; k < batch; ++k) {
      char pk[32], data[32], b64[64];
      size_t len;
      cJSON *e = cJSON_CreateObject();
      snprintf(pk, sizeof(pk), "pk-%d", i + k);
      snprintf(data, sizeof(data), "rec-%d", i + k);
      kefo__base64_encode((uint8_t *)b64, sizeof(b64), (const uint8_t *)data,
                          strlen(data), &len);
      b64[len] = 0;
      cJSON_AddStringToObject(e, "PartitionKey", pk);
      cJSON_AddStringToObject(e, "Data", b64);
      cJSON_AddItemToArray(recs, e);
    }
    kefo_kl_call("PutRecords", b, &a);
    CU_ASSERT_EQUAL_FATAL(a.error, 0);
    k = 0;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(a.resp, "Records")) {
      const cJSON *sh = cJSON_GetObjectItemCaseSensitive(r, "ShardId");
      const cJSON *sq = cJSON_GetObjectItemCaseSensitive(r, "SequenceNumber");
      CU_ASSERT_FATAL(cJSON_IsString(sh) && cJSON_IsString(sq) && k < batch);
      snprintf(ex[i + k].shard, sizeof(ex[i + k].shard), "%s", sh->valuestring);
      snprintf(ex[i + k].seq, sizeof(ex[i + k].seq), "%s", sq->valuestring);
      ++k;
    }
    CU_ASSERT_EQUAL_FATAL(k, batch);
    cJSON_Delete(a.resp);
    i += batch;
  }
}
