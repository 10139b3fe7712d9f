/*
 * DynamoDB calls through the signed JSON client over HTTP/1.1, against
 * dynalite started by tests/integration/dynamodb_test.sh: the lease table's
 * calls, consistent reads, condition expressions and a failed condition
 * reported as ConditionalCheckFailedException, never retried.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <event2/event.h>

#include "tests/support/aws_test_util.h"

#include "aws/aws_client.h"
#include "efo/subscription.h"
#include "lease/lease_store.h"

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
      kefo__aws_call_start(aws, &ddb, op, body, &rs, on_result, r, NULL), 0);
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

/* ---- the lease store on the table ---------------------------------------- */

typedef struct outcome {
  int done;
  int error;
  char message[512];
  char owner[64];
  int64_t counter;
  char checkpoint[KEFO_SEQ_MAX];
  uint64_t sub;
  int nparents;
  size_t n; /* leases listed, checkpoints read */
} outcome;

static void on_done(int error, const char *message, void *ud) {
  outcome *o = ud;
  o->done = 1;
  o->error = error;
  snprintf(o->message, sizeof(o->message), "%s", message);
}

static void keep_lease(outcome *o, const kefo_lease *l) {
  snprintf(o->owner, sizeof(o->owner), "%s", l->owner);
  o->counter = l->counter;
  snprintf(o->checkpoint, sizeof(o->checkpoint), "%s", l->checkpoint);
  o->sub = l->sub_sequence_number;
  o->nparents = l->nparents;
}

static void on_change(int error, const char *message, const kefo_lease *l,
                      void *ud) {
  outcome *o = ud;
  on_done(error, message, ud);
  if (l) {
    keep_lease(o, l);
  }
}

/* The lease of "shardId-000000000001" in a listing. */
static void on_list(int error, const char *message, const kefo_lease *l,
                    size_t n, void *ud) {
  outcome *o = ud;
  size_t i;
  on_done(error, message, ud);
  o->n = n;
  for (i = 0; i < n; ++i) {
    if (strcmp(l[i].shard_id, "shardId-000000000001") == 0) {
      keep_lease(o, &l[i]);
    }
  }
}

static void on_read(int error, const char *message,
                    const kefo_checkpoint_entry *e, size_t n, void *ud) {
  outcome *o = ud;
  on_done(error, message, ud);
  o->n = n;
  if (n > 0) {
    snprintf(o->checkpoint, sizeof(o->checkpoint), "%s", e[0].sequence_number);
  }
}

#define WAIT(o)                                                                \
  do {                                                                         \
    run_until(&(o).done, 10000);                                               \
    CU_ASSERT((o).done);                                                       \
  } while (0)
#define SEQ1 "49590338271490256608559692538361571095921575989136588801"
#define SEQ2 "49590338271490256608559692538361571095921575989136588899"

/*
 * Two workers on one table through kefo_dynamodb_store: the table is
 * created on first open; a lease is taken once at a counter, never twice;
 * renewal and checkpoint need ownership; after a steal the old owner's
 * checkpoint fails with KEFO_ERR_LEASE_LOST and leaves the new owner's.
 */
static void test_store(void) {
  kefo_lease_store *a = NULL, *b = NULL;
  kefo_lease l = {"shardId-000000000001",         "", 0, "TRIM_HORIZON", 0,
                  {"shardId-000000000000", NULL}, 1};
  kefo_checkpoint_entry cp = {"shardId-000000000001", SEQ1, 3};
  outcome o, o2;
  int64_t c;

  CU_ASSERT_EQUAL_FATAL(kefo__dynamodb_store_new(&a, base, aws, &ddb, NULL,
                                                 "kefo_store_t", "worker-a",
                                                 NULL),
                        0);
  CU_ASSERT_EQUAL_FATAL(kefo__dynamodb_store_new(&b, base, aws, &ddb, NULL,
                                                 "kefo_store_t", "worker-b",
                                                 NULL),
                        0);
  /* Both open at once: one creates the table, both find it ACTIVE. */
  memset(&o, 0, sizeof(o));
  memset(&o2, 0, sizeof(o2));
  CU_ASSERT_EQUAL(a->ops->open(a, "arn", "app", on_done, &o), 0);
  CU_ASSERT_EQUAL(b->ops->open(b, "arn", "app", on_done, &o2), 0);
  WAIT(o);
  WAIT(o2);
  CU_ASSERT_EQUAL(o.error, 0);
  CU_ASSERT_EQUAL(o2.error, 0);
  /* Created twice: the second changes nothing and is no error. */
  memset(&o, 0, sizeof(o));
  CU_ASSERT_EQUAL(a->ops->create(a, &l, on_done, &o), 0);
  WAIT(o);
  CU_ASSERT_EQUAL(o.error, 0);
  memset(&o, 0, sizeof(o));
  CU_ASSERT_EQUAL(b->ops->create(b, &l, on_done, &o), 0);
  WAIT(o);
  CU_ASSERT_EQUAL(o.error, 0);
  memset(&o, 0, sizeof(o));
  CU_ASSERT_EQUAL(b->ops->list(b, on_list, &o), 0);
  WAIT(o);
  CU_ASSERT_EQUAL(o.n, 1);
  CU_ASSERT_STRING_EQUAL(o.owner, "");
  CU_ASSERT_EQUAL(o.counter, 0);
  CU_ASSERT_STRING_EQUAL(o.checkpoint, "TRIM_HORIZON");
  CU_ASSERT_EQUAL(o.nparents, 1);
  /* Both take it at counter 0: exactly one wins. */
  memset(&o, 0, sizeof(o));
  memset(&o2, 0, sizeof(o2));
  CU_ASSERT_EQUAL(a->ops->take(a, l.shard_id, 0, on_change, &o), 0);
  CU_ASSERT_EQUAL(b->ops->take(b, l.shard_id, 0, on_change, &o2), 0);
  WAIT(o);
  WAIT(o2);
  CU_ASSERT_EQUAL((o.error == 0) + (o2.error == 0), 1);
  CU_ASSERT_EQUAL(o.error == 0 ? o2.error : o.error, KEFO_ERR_LEASE_LOST);
  if (o2.error == 0) { /* make a the owner for what follows */
    kefo_lease_store *t = a;
    a = b;
    b = t;
    o = o2;
  }
  CU_ASSERT_EQUAL(o.counter, 1);
  c = o.counter;
  /* Renewal: the owner at the counter it holds; not the other worker. */
  memset(&o, 0, sizeof(o));
  CU_ASSERT_EQUAL(b->ops->renew(b, l.shard_id, c, on_change, &o), 0);
  WAIT(o);
  CU_ASSERT_EQUAL(o.error, KEFO_ERR_LEASE_LOST);
  memset(&o, 0, sizeof(o));
  CU_ASSERT_EQUAL(a->ops->renew(a, l.shard_id, c, on_change, &o), 0);
  WAIT(o);
  CU_ASSERT_EQUAL(o.error, 0);
  CU_ASSERT_EQUAL(o.counter, c + 1);
  c = o.counter;
  /* Checkpoints: the owner's is written, the other's refused. */
  memset(&o, 0, sizeof(o));
  CU_ASSERT_EQUAL(a->ops->checkpoint(a, &cp, 1, on_done, &o), 0);
  WAIT(o);
  CU_ASSERT_EQUAL(o.error, 0);
  memset(&o, 0, sizeof(o));
  cp.sequence_number = SEQ2;
  CU_ASSERT_EQUAL(b->ops->checkpoint(b, &cp, 1, on_done, &o), 0);
  WAIT(o);
  CU_ASSERT_EQUAL(o.error, KEFO_ERR_LEASE_LOST);
  CU_ASSERT_PTR_NOT_NULL(strstr(o.message, "shardId-000000000001"));
  /* b steals it at the counter it sees; a's renewal and checkpoint now
     fail, and b's checkpoint stands. */
  memset(&o, 0, sizeof(o));
  CU_ASSERT_EQUAL(b->ops->take(b, l.shard_id, c, on_change, &o), 0);
  WAIT(o);
  CU_ASSERT_EQUAL(o.error, 0);
  CU_ASSERT_STRING_EQUAL(o.checkpoint, SEQ1);
  CU_ASSERT_EQUAL(o.sub, 3);
  c = o.counter;
  memset(&o, 0, sizeof(o));
  CU_ASSERT_EQUAL(a->ops->renew(a, l.shard_id, c - 1, on_change, &o), 0);
  WAIT(o);
  CU_ASSERT_EQUAL(o.error, KEFO_ERR_LEASE_LOST);
  memset(&o, 0, sizeof(o));
  cp.sequence_number = SEQ2;
  CU_ASSERT_EQUAL(b->ops->checkpoint(b, &cp, 1, on_done, &o), 0);
  WAIT(o);
  CU_ASSERT_EQUAL(o.error, 0);
  memset(&o, 0, sizeof(o));
  cp.sequence_number = SEQ1;
  CU_ASSERT_EQUAL(a->ops->checkpoint(a, &cp, 1, on_done, &o), 0);
  WAIT(o);
  CU_ASSERT_EQUAL(o.error, KEFO_ERR_LEASE_LOST);
  memset(&o, 0, sizeof(o));
  CU_ASSERT_EQUAL(a->ops->read(a, on_read, &o), 0);
  WAIT(o);
  CU_ASSERT_EQUAL(o.n, 1);
  CU_ASSERT_STRING_EQUAL(o.checkpoint, SEQ2);
  /* Release: only the owner; then nobody holds it. */
  memset(&o, 0, sizeof(o));
  CU_ASSERT_EQUAL(a->ops->release(a, l.shard_id, c, on_done, &o), 0);
  WAIT(o);
  CU_ASSERT_EQUAL(o.error, KEFO_ERR_LEASE_LOST);
  memset(&o, 0, sizeof(o));
  CU_ASSERT_EQUAL(b->ops->release(b, l.shard_id, c, on_done, &o), 0);
  WAIT(o);
  CU_ASSERT_EQUAL(o.error, 0);
  memset(&o, 0, sizeof(o));
  CU_ASSERT_EQUAL(a->ops->list(a, on_list, &o), 0);
  WAIT(o);
  CU_ASSERT_STRING_EQUAL(o.owner, "");
  CU_ASSERT_EQUAL(o.counter, c + 1);
  /* A call in flight when the store goes is cancelled, never answered. */
  memset(&o, 0, sizeof(o));
  CU_ASSERT_EQUAL(a->ops->list(a, on_list, &o), 0);
  kefo__lease_store_del(a);
  kefo__lease_store_del(b);
  {
    int never = 0;
    run_until(&never, 200);
  }
  CU_ASSERT_EQUAL(o.done, 0);
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
  snprintf(url, sizeof(url), "http://127.0.0.1:%s", getenv("DYNALITE_PORT"));
  if (kefo__aws_service_dynamodb(&ddb, url, "us-east-1") != 0) {
    return 1;
  }
  CU_initialize_registry();
  s = CU_add_suite("dynamodb", NULL, NULL);
  CU_add_test(s, "lease table calls on dynalite", test_lease_table_calls);
  CU_add_test(s, "lease store: two workers on one table", test_store);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  kefo__aws_client_del(aws);
  kefo__http_client_del(http);
  event_base_free(base);
  return failures ? 1 : 0;
}
