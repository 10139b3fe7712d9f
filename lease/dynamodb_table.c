/*
 * The DynamoDB lease table made ready for a store's open: DescribeTable,
 * CreateTable (PAY_PER_REQUEST) when it is missing, then DescribeTable again
 * until the table is ACTIVE.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <kefo/kefo.h>

#include "aws/aws_client.h"
#include "lease/dynamodb_internal.h"

/* How long to wait for a table being created to become ACTIVE. */
#define TABLE_WAIT_TRIES 120
#define TABLE_WAIT_MS 250

int kefo__dynamodb_table_describe(op *o) {
  cJSON *b = cJSON_CreateObject();
  int rv;

  o->kind = OP_DESCRIBE;
  if (b == NULL) {
    return KEFO_ERR_NOMEM;
  }
  cJSON_AddStringToObject(b, "TableName", o->s->table);
  rv = kefo__aws_call_start(o->s->aws, o->s->svc, "DescribeTable", b,
                            &o->s->retry, kefo__dynamodb_store_on_answer, o,
                            &o->call);
  cJSON_Delete(b);
  return rv;
}

static int create_table(op *o) {
  cJSON *b = cJSON_CreateObject(), *a, *k;
  int rv;

  o->kind = OP_CREATE_TABLE;
  if (b == NULL) {
    return KEFO_ERR_NOMEM;
  }
  cJSON_AddStringToObject(b, "TableName", o->s->table);
  a = cJSON_AddArrayToObject(b, "AttributeDefinitions");
  k = cJSON_CreateObject();
  cJSON_AddItemToArray(a, k);
  cJSON_AddStringToObject(k, "AttributeName", "leaseKey");
  cJSON_AddStringToObject(k, "AttributeType", "S");
  a = cJSON_AddArrayToObject(b, "KeySchema");
  k = cJSON_CreateObject();
  cJSON_AddItemToArray(a, k);
  cJSON_AddStringToObject(k, "AttributeName", "leaseKey");
  cJSON_AddStringToObject(k, "KeyType", "HASH");
  cJSON_AddStringToObject(b, "BillingMode", "PAY_PER_REQUEST");
  rv =
      kefo__aws_call_start(o->s->aws, o->s->svc, "CreateTable", b, &o->s->retry,
                           kefo__dynamodb_store_on_answer, o, &o->call);
  cJSON_Delete(b);
  return rv;
}

void kefo__dynamodb_table_opened(op *o, int error) {
  kefo_lease_done_cb cb = o->cb.done;
  void *ud = o->ud;
  ddb_store *s = o->s;

  kefo__dynamodb_store_op_free(o);
  cb(error, error ? s->msg : "", ud);
}

static void wait_cb(evutil_socket_t fd, short what, void *arg) {
  op *o = arg;
  ddb_store *s = o->s;

  (void)fd;
  (void)what;
  if (kefo__dynamodb_table_describe(o) != 0) {
    kefo_lease_done_cb cb = o->cb.done;
    void *ud = o->ud;
    snprintf(s->msg, sizeof(s->msg), "lease table %s: out of memory", s->table);
    kefo__dynamodb_store_op_free(o);
    cb(KEFO_ERR_NOMEM, s->msg, ud);
  }
}

/* DescribeTable or CreateTable answered. Returns 1 while |o| goes on. */
int kefo__dynamodb_table_open_step(op *o, int error, const cJSON *resp,
                                   const kefo_error_info *info,
                                   const char *type) {
  ddb_store *s = o->s;
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(
          resp, o->kind == OP_DESCRIBE ? "Table" : "TableDescription"),
      "TableStatus");
  struct timeval tv = {0, TABLE_WAIT_MS * 1000};

  if (o->kind == OP_DESCRIBE && error &&
      strcmp(type, "ResourceNotFoundException") == 0) {
    return create_table(o) == 0;
  }
  /* Another worker creating it at the same moment is no failure. */
  if (o->kind == OP_CREATE_TABLE && error &&
      strcmp(type, "ResourceInUseException") == 0) {
    error = 0;
    st = NULL;
  }
  if (error) {
    snprintf(s->msg, sizeof(s->msg), "lease table %s: %s", s->table,
             info ? info->message : kefo_strerror(error));
    return 0;
  }
  if (cJSON_IsString(st) && strcmp(st->valuestring, "ACTIVE") == 0) {
    s->open = 1;
    return 0;
  }
  if (++o->tries > TABLE_WAIT_TRIES) {
    snprintf(s->msg, sizeof(s->msg), "lease table %s: not ACTIVE after %d s",
             s->table, TABLE_WAIT_TRIES * TABLE_WAIT_MS / 1000);
    return 0;
  }
  if (o->timer == NULL) {
    o->timer = evtimer_new(s->evbase, wait_cb, o);
  }
  return o->timer != NULL && evtimer_add(o->timer, &tv) == 0;
}
