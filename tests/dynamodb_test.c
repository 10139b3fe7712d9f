/*
 * DynamoDB calls through the signed JSON client over HTTP/1.1, against
 * dynalite started by tests/dynamodb_test.sh: the lease table's calls,
 * consistent reads, condition expressions and a failed condition reported
 * as ConditionalCheckFailedException, never retried.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <event2/event.h>

#include "tests/aws_test_util.h"

#include "aws/aws_client.h"

static struct event_base *base;
static kefo_http_client *http;
static kefo_aws_client *aws;
static kefo_aws_service ddb;

typedef struct result {
  int done;
  int error;
  cJSON *json;
  char aws_type[128];
  char message[512];
  int retryable;
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
  }
}

static void run_until(int *flag, int ms) {
  kefo_test_run_until(base, flag, ms);
}

/* Parses |json| as the request body, calls |op|, returns the answer. */
static cJSON *call(const char *op, const char *json, result *r) {
  kefo_retry_strategy rs = {10, 50, 3};
  cJSON *body = cJSON_Parse(json);

  CU_ASSERT_PTR_NOT_NULL_FATAL(body);
  memset(r, 0, sizeof(*r));
  CU_ASSERT_EQUAL(
      kefo_aws_call_start(aws, &ddb, op, body, &rs, on_result, r, NULL), 0);
  cJSON_Delete(body);
  run_until(&r->done, 10000);
  CU_ASSERT(r->done);
  return r->json;
}

static const char *item_s(const cJSON *item, const char *attr) {
  const cJSON *a = cJSON_GetObjectItem(item, attr);
  const cJSON *s = cJSON_GetObjectItem(a, "S");
  return cJSON_IsString(s) ? s->valuestring : NULL;
}

static void test_lease_table_calls(void) {
  result r;
  cJSON *j;
  int i, status_ok = 0;

  j = call("CreateTable",
           "{\"TableName\":\"kefo_leases\",\"BillingMode\":"
           "\"PAY_PER_REQUEST\",\"AttributeDefinitions\":[{\"AttributeName\":"
           "\"leaseKey\",\"AttributeType\":\"S\"}],\"KeySchema\":[{"
           "\"AttributeName\":\"leaseKey\",\"KeyType\":\"HASH\"}]}",
           &r);
  CU_ASSERT_EQUAL(r.error, 0);
  cJSON_Delete(j);
  for (i = 0; i < 20 && !status_ok; ++i) {
    const cJSON *st;
    j = call("DescribeTable", "{\"TableName\":\"kefo_leases\"}", &r);
    st = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "Table"), "TableStatus");
    status_ok = cJSON_IsString(st) && strcmp(st->valuestring, "ACTIVE") == 0;
    cJSON_Delete(j);
  }
  CU_ASSERT(status_ok);
  /* Create a lease only if absent. */
  j = call("PutItem",
           "{\"TableName\":\"kefo_leases\",\"Item\":{\"leaseKey\":{\"S\":"
           "\"shardId-000000000000\"},\"leaseOwner\":{\"S\":\"worker-a\"},"
           "\"leaseCounter\":{\"N\":\"1\"},\"checkpoint\":{\"S\":"
           "\"TRIM_HORIZON\"}},\"ConditionExpression\":"
           "\"attribute_not_exists(leaseKey)\"}",
           &r);
  CU_ASSERT_EQUAL(r.error, 0);
  cJSON_Delete(j);
  /* The same again: the condition fails, reported as such, not retried. */
  j = call("PutItem",
           "{\"TableName\":\"kefo_leases\",\"Item\":{\"leaseKey\":{\"S\":"
           "\"shardId-000000000000\"},\"leaseOwner\":{\"S\":\"worker-b\"}},"
           "\"ConditionExpression\":\"attribute_not_exists(leaseKey)\"}",
           &r);
  printf("\ndynamodb: second create: %s\n", r.message);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(r.aws_type, "ConditionalCheckFailedException");
  CU_ASSERT_EQUAL(r.retryable, 0);
  cJSON_Delete(j);
  /* Compare-and-set on owner and counter, as a lease renewal. */
  j = call("UpdateItem",
           "{\"TableName\":\"kefo_leases\",\"Key\":{\"leaseKey\":{\"S\":"
           "\"shardId-000000000000\"}},\"UpdateExpression\":\"SET "
           "leaseCounter = leaseCounter + :one, checkpoint = :cp\","
           "\"ConditionExpression\":\"leaseOwner = :me AND leaseCounter = "
           ":c\",\"ExpressionAttributeValues\":{\":one\":{\"N\":\"1\"},"
           "\":me\":{\"S\":\"worker-a\"},\":c\":{\"N\":\"1\"},\":cp\":{\"S\":"
           "\"49590338271490256608559692538361571095921575989136588898\"}},"
           "\"ReturnValues\":\"ALL_NEW\"}",
           &r);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT_STRING_EQUAL(
      cJSON_GetObjectItem(
          cJSON_GetObjectItem(cJSON_GetObjectItem(j, "Attributes"),
                              "leaseCounter"),
          "N")
          ->valuestring,
      "2");
  cJSON_Delete(j);
  /* A stale counter loses. */
  j = call("UpdateItem",
           "{\"TableName\":\"kefo_leases\",\"Key\":{\"leaseKey\":{\"S\":"
           "\"shardId-000000000000\"}},\"UpdateExpression\":\"SET leaseOwner "
           "= :b\",\"ConditionExpression\":\"leaseCounter = :c\","
           "\"ExpressionAttributeValues\":{\":b\":{\"S\":\"worker-b\"},\":c\":"
           "{\"N\":\"1\"}}}",
           &r);
  CU_ASSERT_STRING_EQUAL(r.aws_type, "ConditionalCheckFailedException");
  cJSON_Delete(j);
  /* Consistent read sees the checkpoint. */
  j = call("GetItem",
           "{\"TableName\":\"kefo_leases\",\"ConsistentRead\":true,\"Key\":{"
           "\"leaseKey\":{\"S\":\"shardId-000000000000\"}}}",
           &r);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT_STRING_EQUAL(
      item_s(cJSON_GetObjectItem(j, "Item"), "checkpoint"),
      "49590338271490256608559692538361571095921575989136588898");
  cJSON_Delete(j);
  /* More leases, then Scan in pages and Query by key. */
  for (i = 1; i <= 5; ++i) {
    char body[256];
    snprintf(body, sizeof(body),
             "{\"TableName\":\"kefo_leases\",\"Item\":{\"leaseKey\":{\"S\":"
             "\"shardId-00000000000%d\"},\"leaseOwner\":{\"S\":\"worker-a\"}}"
             "}",
             i);
    j = call("PutItem", body, &r);
    CU_ASSERT_EQUAL(r.error, 0);
    cJSON_Delete(j);
  }
  {
    int pages = 0, items = 0;
    char body[512], last[256] = "";
    do {
      const cJSON *lek;
      if (last[0]) {
        snprintf(body, sizeof(body),
                 "{\"TableName\":\"kefo_leases\",\"ConsistentRead\":true,"
                 "\"Limit\":2,\"ExclusiveStartKey\":%s}",
                 last);
      } else {
        snprintf(body, sizeof(body),
                 "{\"TableName\":\"kefo_leases\",\"ConsistentRead\":true,"
                 "\"Limit\":2}");
      }
      j = call("Scan", body, &r);
      CU_ASSERT_EQUAL_FATAL(r.error, 0);
      ++pages;
      items += cJSON_GetArraySize(cJSON_GetObjectItem(j, "Items"));
      lek = cJSON_GetObjectItem(j, "LastEvaluatedKey");
      last[0] = 0;
      if (lek) {
        char *t = cJSON_PrintUnformatted(lek);
        snprintf(last, sizeof(last), "%s", t);
        cJSON_free(t);
      }
      cJSON_Delete(j);
    } while (last[0] && pages < 10);
    printf("dynamodb: Scan with Limit 2: %d items over %d pages\n", items,
           pages);
    CU_ASSERT_EQUAL(items, 6);
    CU_ASSERT(pages >= 3);
  }
  j = call("Query",
           "{\"TableName\":\"kefo_leases\",\"ConsistentRead\":true,"
           "\"KeyConditionExpression\":\"leaseKey = :k\","
           "\"ExpressionAttributeValues\":{\":k\":{\"S\":"
           "\"shardId-000000000003\"}}}",
           &r);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT_EQUAL(cJSON_GetArraySize(cJSON_GetObjectItem(j, "Items")), 1);
  cJSON_Delete(j);
  /* Conditional delete: wrong owner fails, right owner succeeds. */
  j = call("DeleteItem",
           "{\"TableName\":\"kefo_leases\",\"Key\":{\"leaseKey\":{\"S\":"
           "\"shardId-000000000003\"}},\"ConditionExpression\":\"leaseOwner "
           "= :o\",\"ExpressionAttributeValues\":{\":o\":{\"S\":\"nobody\"}}}",
           &r);
  CU_ASSERT_STRING_EQUAL(r.aws_type, "ConditionalCheckFailedException");
  cJSON_Delete(j);
  j = call("DeleteItem",
           "{\"TableName\":\"kefo_leases\",\"Key\":{\"leaseKey\":{\"S\":"
           "\"shardId-000000000003\"}},\"ConditionExpression\":\"leaseOwner "
           "= :o\",\"ExpressionAttributeValues\":{\":o\":{\"S\":"
           "\"worker-a\"}}}",
           &r);
  CU_ASSERT_EQUAL(r.error, 0);
  cJSON_Delete(j);
  /* A missing table: ResourceNotFoundException. */
  j = call("DescribeTable", "{\"TableName\":\"no_such_table\"}", &r);
  CU_ASSERT_STRING_EQUAL(r.aws_type, "ResourceNotFoundException");
  cJSON_Delete(j);
}

int main(void) {
  CU_pSuite s;
  unsigned failures;
  char url[128];

  base = event_base_new();
  if (kefo_http_client_new(&http, base, NULL) != 0 ||
      kefo_aws_client_new(&aws, base, http, kefo_test_credentials(), NULL,
                          NULL) != 0) {
    return 1;
  }
  snprintf(url, sizeof(url), "http://127.0.0.1:%s", getenv("DYNALITE_PORT"));
  if (kefo_aws_service_dynamodb(&ddb, url, "us-east-1") != 0) {
    return 1;
  }
  CU_initialize_registry();
  s = CU_add_suite("dynamodb", NULL, NULL);
  CU_add_test(s, "lease table calls on dynalite", test_lease_table_calls);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  kefo_aws_client_del(aws);
  kefo_http_client_del(http);
  event_base_free(base);
  return failures ? 1 : 0;
}
