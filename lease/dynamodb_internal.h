/*
 * The DynamoDB lease store's insides, shared by its three files:
 * dynamodb_store.c (the store's operations and their answers),
 * dynamodb_table.c (the table made ready) and dynamodb_item.c (the lease
 * item in the KCL's layout). Private to lease/dynamodb_*.c.
 */
#ifndef KEFO_DYNAMODB_INTERNAL_H
#define KEFO_DYNAMODB_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <kefo/kefo.h>

#include "aws/aws_client.h"
#include "shard/position.h"
#include "lease/checkpoint_table.h"
#include "lease/lease_store.h"

typedef struct ddb_store ddb_store;

typedef enum {
  OP_DESCRIBE,
  OP_CREATE_TABLE,
  OP_SCAN_LIST,
  OP_SCAN_READ,
  OP_CREATE,
  OP_TAKE,
  OP_RENEW,
  OP_RELEASE,
  OP_CHECKPOINT
} op_kind;

/* One call in flight, linked in the store so del can cancel it. */
typedef struct op {
  struct op *next, *prev;
  ddb_store *s;
  op_kind kind;
  kefo_aws_call *call;
  struct event *timer; /* waiting for the table to become ACTIVE */
  int tries;
  union {
    kefo_lease_done_cb done;
    kefo_lease_list_cb list;
    kefo_lease_read_cb read;
    kefo_lease_change_cb change;
  } cb;
  void *ud;
  /* A checkpoint batch: the calls still out, the first error. */
  struct batch *batch;
  char shard[KEFO_SHARD_ID_CAP];
  /* Scan pages gathered so far. */
  cJSON *items;
} op;

typedef struct batch {
  size_t left;
  int error;
  char message[512];
  kefo_lease_done_cb cb;
  void *ud;
} batch;

struct ddb_store {
  kefo_lease_store base;
  const kefo_mem *mem;
  struct event_base *evbase;
  kefo_aws_client *aws;
  const kefo_aws_service *svc;
  kefo_retry_strategy retry;
  char table[256];
  char worker[257];
  int open;
  op *ops;
  char msg[1024];
  /* Scratch of list and read answers. */
  kefo_lease *leases;
  kefo_checkpoint_entry *entries;
  size_t cap;
};

/* ---- dynamodb_store.c: the operations ----------------------------------- */

/* Unlinks |o| from its store and frees it. */
void kefo__dynamodb_store_op_free(op *o);
/* The answer to any call of an op: handed to what the op is doing. */
void kefo__dynamodb_store_on_answer(int error, const cJSON *resp,
                                    const kefo_error_info *info, void *ud);

/* ---- dynamodb_table.c: the table made ready ------------------------------ */

/* Asks DescribeTable for |o| (an open). Returns 0 or an error of
   kefo__aws_call_start. */
int kefo__dynamodb_table_describe(op *o);
/* DescribeTable or CreateTable answered. Returns 1 while |o| goes on. */
int kefo__dynamodb_table_open_step(op *o, int error, const cJSON *resp,
                                   const kefo_error_info *info,
                                   const char *type);
/* The open is over: frees |o| and answers its callback. */
void kefo__dynamodb_table_opened(op *o, int error);

/* ---- dynamodb_item.c: the lease item ------------------------------------ */

/* {"S": v} under |name| of |obj|. */
void kefo__dynamodb_item_put_s(cJSON *obj, const char *name, const char *v);
/* {"N": "v"} under |name| of |obj|. */
void kefo__dynamodb_item_put_n(cJSON *obj, const char *name, int64_t v);
/* Fills |l| from |item| (strings lent from it). Returns 0, or -1 when the
   item is not a lease kefo can use (message in s->msg). */
int kefo__dynamodb_item_to_lease(ddb_store *s, const cJSON *item,
                                 kefo_lease *l);

#endif /* KEFO_DYNAMODB_INTERNAL_H */
