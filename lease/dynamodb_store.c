/*
 * The lease store on a DynamoDB lease table in the KCL's layout, so a
 * stream's progress can move between kefo and the KCL: its operations as
 * Scan, PutItem and UpdateItem calls, and their answers.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <kefo/kefo.h>

#include "aws/aws_client.h"
#include "shard/position.h"
#include "shard/seq.h"
#include "lease/checkpoint_table.h"
#include "lease/dynamodb_internal.h"
#include "lease/lease_store.h"

static op *op_new(ddb_store *s, op_kind kind, void *ud) {
  op *o = kefo__mem_calloc(s->mem, 1, sizeof(*o));

  if (o == NULL) {
    return NULL;
  }
  o->s = s;
  o->kind = kind;
  o->ud = ud;
  o->next = s->ops;
  if (s->ops) {
    s->ops->prev = o;
  }
  s->ops = o;
  return o;
}

void kefo__dynamodb_store_op_free(op *o) {
  ddb_store *s = o->s;

  if (o->prev) {
    o->prev->next = o->next;
  } else {
    s->ops = o->next;
  }
  if (o->next) {
    o->next->prev = o->prev;
  }
  if (o->timer) {
    event_free(o->timer);
  }
  cJSON_Delete(o->items);
  kefo__mem_free(s->mem, o);
}

/* ---- scanning the table -------------------------------------------------- */

static int grow_scratch(ddb_store *s, size_t n) {
  kefo_lease *nl;
  kefo_checkpoint_entry *ne;

  if (n <= s->cap) {
    return 0;
  }
  nl = kefo__mem_realloc(s->mem, s->leases, n * sizeof(*nl));
  if (nl == NULL) {
    return KEFO_ERR_NOMEM;
  }
  s->leases = nl;
  ne = kefo__mem_realloc(s->mem, s->entries, n * sizeof(*ne));
  if (ne == NULL) {
    return KEFO_ERR_NOMEM;
  }
  s->entries = ne;
  s->cap = n;
  return 0;
}

/* The scan is complete: answers a list or a read. */
static void scanned(op *o) {
  ddb_store *s = o->s;
  size_t n = (size_t)cJSON_GetArraySize(o->items), i = 0, ne = 0;
  const cJSON *item;

  if (grow_scratch(s, n ? n : 1) != 0) {
    snprintf(s->msg, sizeof(s->msg), "lease table %s: out of memory", s->table);
    goto fail;
  }
  cJSON_ArrayForEach(item, o->items) {
    if (kefo__dynamodb_item_to_lease(s, item, &s->leases[i]) != 0) {
      goto fail;
    }
    ++i;
  }
  if (o->kind == OP_SCAN_LIST) {
    o->cb.list(0, "", s->leases, n, o->ud);
    return;
  }
  for (i = 0; i < n; ++i) {
    /* Only real checkpoints: a starting sentinel is no progress. */
    if (kefo__checkpoint_valid(s->leases[i].checkpoint)) {
      s->entries[ne].shard_id = s->leases[i].shard_id;
      s->entries[ne].sequence_number = s->leases[i].checkpoint;
      s->entries[ne].sub_sequence_number = s->leases[i].sub_sequence_number;
      ++ne;
    }
  }
  o->cb.read(0, "", s->entries, ne, o->ud);
  return;

fail:
  if (o->kind == OP_SCAN_LIST) {
    o->cb.list(KEFO_ERR_LEASE_STORE, s->msg, NULL, 0, o->ud);
  } else {
    o->cb.read(KEFO_ERR_LEASE_STORE, s->msg, NULL, 0, o->ud);
  }
}

/* Asks for a page of the scan of |o| from |start| (the LastEvaluatedKey,
   or NULL for the first). Returns 0 or an error of kefo__aws_call_start. */
static int scan_page(op *o, const cJSON *start) {
  cJSON *b = cJSON_CreateObject();
  int rv;

  if (b == NULL) {
    return KEFO_ERR_NOMEM;
  }
  cJSON_AddStringToObject(b, "TableName", o->s->table);
  cJSON_AddBoolToObject(b, "ConsistentRead", 1);
  if (start) {
    cJSON_AddItemToObject(b, "ExclusiveStartKey", cJSON_Duplicate(start, 1));
  }
  rv = kefo__aws_call_start(o->s->aws, o->s->svc, "Scan", b, &o->s->retry,
                            kefo__dynamodb_store_on_answer, o, &o->call);
  cJSON_Delete(b);
  return rv;
}

/* ---- answers ------------------------------------------------------------ */

static void batch_one(ddb_store *s, batch *b, int error, const char *message) {
  if (error && b->error == 0) {
    b->error = error;
    /* The first error's words, cut to fit: the code says the rest. */
    if (snprintf(b->message, sizeof(b->message), "%s", message) < 0) {
      b->message[0] = '\0';
    }
  }
  if (--b->left == 0) {
    kefo_lease_done_cb cb = b->cb;
    void *ud = b->ud;
    int err = b->error;
    snprintf(s->msg, sizeof(s->msg), "%s", b->message);
    kefo__mem_free(s->mem, b);
    cb(err, err ? s->msg : "", ud);
  }
}

/* A page of a Scan: gathers its items, then asks for the next page or
   hands the whole table over. */
static void on_scan_page(op *o, int error, const cJSON *resp,
                         const kefo_error_info *info) {
  ddb_store *s = o->s;
  void *app = o->ud;

  if (!error) {
    const cJSON *it, *last;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(resp, "Items")) {
      cJSON_AddItemToArray(o->items, cJSON_Duplicate(it, 1));
    }
    last = cJSON_GetObjectItemCaseSensitive(resp, "LastEvaluatedKey");
    if (!(cJSON_IsObject(last) && last->child)) {
      scanned(o);
      kefo__dynamodb_store_op_free(o);
      return;
    }
    error = scan_page(o, last);
    if (error == 0) {
      return;
    }
  }
  snprintf(s->msg, sizeof(s->msg), "lease table %s: cannot scan it: %s",
           s->table, info ? info->message : kefo_strerror(error));
  if (o->kind == OP_SCAN_LIST) {
    o->cb.list(KEFO_ERR_LEASE_STORE, s->msg, NULL, 0, app);
  } else {
    o->cb.read(KEFO_ERR_LEASE_STORE, s->msg, NULL, 0, app);
  }
  kefo__dynamodb_store_op_free(o);
}

/* The answer to a change of one lease: create, release, checkpoint, take
   or renew. A failed condition means another worker holds or changed it. */
static void on_lease_changed(op *o, int error, const cJSON *resp,
                             const kefo_error_info *info, const char *type) {
  ddb_store *s = o->s;
  void *app = o->ud;
  kefo_lease l;

  if (error == KEFO_ERR_AWS &&
      strcmp(type, "ConditionalCheckFailedException") == 0) {
    error = KEFO_ERR_LEASE_LOST;
    snprintf(s->msg, sizeof(s->msg),
             "lease table %s, lease %s: held or changed by another worker",
             s->table, o->shard);
  } else if (error) {
    snprintf(s->msg, sizeof(s->msg), "lease table %s, lease %s: %s", s->table,
             o->shard, info ? info->message : kefo_strerror(error));
    error = KEFO_ERR_LEASE_STORE;
  }
  switch (o->kind) {
  case OP_CREATE: {
    kefo_lease_done_cb cb = o->cb.done;
    kefo__dynamodb_store_op_free(o);
    /* A lease that exists already is what create wants. */
    error = error == KEFO_ERR_LEASE_LOST ? 0 : error;
    cb(error, error ? s->msg : "", app);
    return;
  }
  case OP_RELEASE: {
    kefo_lease_done_cb cb = o->cb.done;
    kefo__dynamodb_store_op_free(o);
    cb(error, error ? s->msg : "", app);
    return;
  }
  case OP_CHECKPOINT: {
    batch *b = o->batch;
    kefo__dynamodb_store_op_free(o);
    batch_one(s, b, error, s->msg);
    return;
  }
  default: { /* OP_TAKE, OP_RENEW: the item after the change */
    kefo_lease_change_cb cb = o->cb.change;
    if (error == 0 &&
        kefo__dynamodb_item_to_lease(
            s, cJSON_GetObjectItemCaseSensitive(resp, "Attributes"), &l) != 0) {
      error = KEFO_ERR_BAD_RESPONSE;
    }
    /* |l| lends from |resp|, which lives until this returns. */
    kefo__dynamodb_store_op_free(o);
    cb(error, error ? s->msg : "", error ? NULL : &l, app);
    return;
  }
  }
}

void kefo__dynamodb_store_on_answer(int error, const cJSON *resp,
                                    const kefo_error_info *info, void *ud) {
  op *o = ud;
  ddb_store *s = o->s;
  const char *type = info && info->aws_type ? info->aws_type : "";

  o->call = NULL;
  switch (o->kind) {
  case OP_DESCRIBE:
  case OP_CREATE_TABLE:
    if (!kefo__dynamodb_table_open_step(o, error, resp, info, type)) {
      kefo__dynamodb_table_opened(o, s->open ? 0 : KEFO_ERR_LEASE_STORE);
    }
    return;
  case OP_SCAN_LIST:
  case OP_SCAN_READ:
    on_scan_page(o, error, resp, info);
    return;
  default:
    on_lease_changed(o, error, resp, info, type);
    return;
  }
}

/* ---- operations ------------------------------------------------------- */

/*
 * Every change of ownership is an UpdateItem conditional on leaseCounter
 * (and, for a renewal or release, leaseOwner), so two workers never both
 * succeed; a checkpoint is conditional on leaseOwner being this worker,
 * so a worker that lost its lease gets KEFO_ERR_LEASE_LOST and never
 * overwrites the new owner's checkpoint.
 */

/* The table holds no stream ARN (nor does the KCL's single-stream table):
   its name stands for the application, as the KCL's does. */
static int d_open(kefo_lease_store *base, const char *stream_arn,
                  const char *application, kefo_lease_done_cb cb, void *ud) {
  ddb_store *s = (ddb_store *)base;
  op *o = op_new(s, OP_DESCRIBE, ud);
  int rv;

  (void)stream_arn;
  (void)application;
  if (o == NULL) {
    return KEFO_ERR_NOMEM;
  }
  o->cb.done = cb;
  rv = kefo__dynamodb_table_describe(o);
  if (rv != 0) {
    kefo__dynamodb_store_op_free(o);
  }
  return rv;
}

static int start_scan(ddb_store *s, op_kind kind, void *cb, void *ud) {
  op *o;
  int rv;

  if (!s->open) {
    return KEFO_ERR_INVALID_STATE;
  }
  o = op_new(s, kind, ud);
  if (o == NULL) {
    return KEFO_ERR_NOMEM;
  }
  if (kind == OP_SCAN_LIST) {
    o->cb.list = (kefo_lease_list_cb)cb;
  } else {
    o->cb.read = (kefo_lease_read_cb)cb;
  }
  o->items = cJSON_CreateArray();
  rv = o->items ? scan_page(o, NULL) : KEFO_ERR_NOMEM;
  if (rv != 0) {
    kefo__dynamodb_store_op_free(o);
  }
  return rv;
}

static int d_read(kefo_lease_store *base, kefo_lease_read_cb cb, void *ud) {
  return start_scan((ddb_store *)base, OP_SCAN_READ, (void *)cb, ud);
}

static int d_list(kefo_lease_store *base, kefo_lease_list_cb cb, void *ud) {
  return start_scan((ddb_store *)base, OP_SCAN_LIST, (void *)cb, ud);
}

/* An UpdateItem or PutItem of |shard| for |o|: |body| gets the table and
   the key; consumed. */
static int send_update(op *o, const char *operation, const char *shard,
                       cJSON *body) {
  cJSON *k;
  int rv;

  snprintf(o->shard, sizeof(o->shard), "%s", shard);
  if (body == NULL) {
    kefo__dynamodb_store_op_free(o);
    return KEFO_ERR_NOMEM;
  }
  cJSON_AddStringToObject(body, "TableName", o->s->table);
  if (strcmp(operation, "UpdateItem") == 0) {
    k = cJSON_AddObjectToObject(body, "Key");
    kefo__dynamodb_item_put_s(k, "leaseKey", shard);
  }
  rv = kefo__aws_call_start(o->s->aws, o->s->svc, operation, body, &o->s->retry,
                            kefo__dynamodb_store_on_answer, o, &o->call);
  cJSON_Delete(body);
  if (rv != 0) {
    kefo__dynamodb_store_op_free(o);
  }
  return rv;
}

static int shard_ok(const char *shard) {
  return shard && shard[0] && strlen(shard) < KEFO_SHARD_ID_CAP;
}

static int d_create(kefo_lease_store *base, const kefo_lease *l,
                    kefo_lease_done_cb cb, void *ud) {
  ddb_store *s = (ddb_store *)base;
  cJSON *b, *item, *ss;
  op *o;
  int i;

  if (!s->open) {
    return KEFO_ERR_INVALID_STATE;
  }
  if (l == NULL || !shard_ok(l->shard_id) || l->checkpoint == NULL ||
      l->nparents < 0 || l->nparents > 2) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  o = op_new(s, OP_CREATE, ud);
  if (o == NULL) {
    return KEFO_ERR_NOMEM;
  }
  o->cb.done = cb;
  b = cJSON_CreateObject();
  item = cJSON_AddObjectToObject(b, "Item");
  kefo__dynamodb_item_put_s(item, "leaseKey", l->shard_id);
  kefo__dynamodb_item_put_n(item, "leaseCounter", 0);
  kefo__dynamodb_item_put_s(item, "checkpoint", l->checkpoint);
  kefo__dynamodb_item_put_n(item, "checkpointSubSequenceNumber",
                            (int64_t)l->sub_sequence_number);
  kefo__dynamodb_item_put_n(item, "ownerSwitchesSinceCheckpoint", 0);
  if (l->nparents > 0) {
    ss = cJSON_AddArrayToObject(cJSON_AddObjectToObject(item, "parentShardId"),
                                "SS");
    for (i = 0; i < l->nparents; ++i) {
      cJSON_AddItemToArray(ss, cJSON_CreateString(l->parents[i]));
    }
  }
  cJSON_AddStringToObject(b, "ConditionExpression",
                          "attribute_not_exists(leaseKey)");
  return send_update(o, "PutItem", l->shard_id, b);
}

/* An ownership change of |shard| at |counter|: SET |set| under
   |condition|, answering the item after it. */
static int change(ddb_store *s, op_kind kind, const char *shard,
                  int64_t counter, const char *set, const char *condition,
                  int with_owner, void *cb, void *ud) {
  cJSON *b, *v;
  op *o;

  if (!s->open) {
    return KEFO_ERR_INVALID_STATE;
  }
  if (!shard_ok(shard) || counter < 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  o = op_new(s, kind, ud);
  if (o == NULL) {
    return KEFO_ERR_NOMEM;
  }
  if (kind == OP_RELEASE) {
    o->cb.done = (kefo_lease_done_cb)cb;
  } else {
    o->cb.change = (kefo_lease_change_cb)cb;
  }
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "UpdateExpression", set);
  cJSON_AddStringToObject(b, "ConditionExpression", condition);
  v = cJSON_AddObjectToObject(b, "ExpressionAttributeValues");
  kefo__dynamodb_item_put_n(v, ":c", counter);
  kefo__dynamodb_item_put_n(v, ":one", 1);
  if (kind == OP_TAKE) {
    /* Only where the expression uses it: DynamoDB refuses unused
       values. */
    kefo__dynamodb_item_put_n(v, ":zero", 0);
  }
  if (with_owner) {
    kefo__dynamodb_item_put_s(v, ":me", s->worker);
  }
  if (kind != OP_RELEASE) {
    cJSON_AddStringToObject(b, "ReturnValues", "ALL_NEW");
  }
  return send_update(o, "UpdateItem", shard, b);
}

static int d_take(kefo_lease_store *base, const char *shard, int64_t counter,
                  kefo_lease_change_cb cb, void *ud) {
  return change((ddb_store *)base, OP_TAKE, shard, counter,
                "SET leaseOwner = :me, leaseCounter = leaseCounter + :one, "
                "ownerSwitchesSinceCheckpoint = "
                "if_not_exists(ownerSwitchesSinceCheckpoint, :zero) + :one",
                "leaseCounter = :c", 1, (void *)cb, ud);
}

static int d_renew(kefo_lease_store *base, const char *shard, int64_t counter,
                   kefo_lease_change_cb cb, void *ud) {
  return change((ddb_store *)base, OP_RENEW, shard, counter,
                "SET leaseCounter = leaseCounter + :one",
                "leaseCounter = :c AND leaseOwner = :me", 1, (void *)cb, ud);
}

static int d_release(kefo_lease_store *base, const char *shard, int64_t counter,
                     kefo_lease_done_cb cb, void *ud) {
  return change((ddb_store *)base, OP_RELEASE, shard, counter,
                "SET leaseCounter = leaseCounter + :one REMOVE leaseOwner",
                "leaseCounter = :c AND leaseOwner = :me", 1, (void *)cb, ud);
}

static int d_checkpoint(kefo_lease_store *base, const kefo_checkpoint_entry *e,
                        size_t n, kefo_lease_done_cb cb, void *ud) {
  ddb_store *s = (ddb_store *)base;
  batch *bt;
  size_t i;

  if (!s->open) {
    return KEFO_ERR_INVALID_STATE;
  }
  if (n == 0 || kefo__checkpoint_entries_valid(e, n) != 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  bt = kefo__mem_calloc(s->mem, 1, sizeof(*bt));
  if (bt == NULL) {
    return KEFO_ERR_NOMEM;
  }
  bt->cb = cb;
  bt->ud = ud;
  /* One more than the calls, dropped at the end, so a call failing to
     start cannot complete the batch before every call is out. */
  bt->left = n + 1;
  for (i = 0; i < n; ++i) {
    cJSON *b = cJSON_CreateObject(), *v;
    op *o = op_new(s, OP_CHECKPOINT, NULL);
    if (o == NULL || b == NULL) {
      cJSON_Delete(b);
      if (o) {
        kefo__dynamodb_store_op_free(o);
      }
      bt->left -= n - i;
      if (bt->error == 0) {
        bt->error = KEFO_ERR_NOMEM;
        snprintf(bt->message, sizeof(bt->message), "out of memory");
      }
      break;
    }
    o->batch = bt;
    cJSON_AddStringToObject(
        b, "UpdateExpression",
        "SET checkpoint = :cp, checkpointSubSequenceNumber = :sub, "
        "ownerSwitchesSinceCheckpoint = :zero");
    cJSON_AddStringToObject(b, "ConditionExpression", "leaseOwner = :me");
    v = cJSON_AddObjectToObject(b, "ExpressionAttributeValues");
    kefo__dynamodb_item_put_s(v, ":cp", e[i].sequence_number);
    kefo__dynamodb_item_put_n(v, ":sub", (int64_t)e[i].sub_sequence_number);
    kefo__dynamodb_item_put_n(v, ":zero", 0);
    kefo__dynamodb_item_put_s(v, ":me", s->worker);
    if (send_update(o, "UpdateItem", e[i].shard_id, b) != 0) {
      batch_one(s, bt, KEFO_ERR_NOMEM, "cannot send a checkpoint");
    }
  }
  batch_one(s, bt, 0, "");
  return 0;
}

static void d_del(kefo_lease_store *base) {
  ddb_store *s = (ddb_store *)base;

  while (s->ops) {
    op *o = s->ops;
    kefo__aws_call_cancel(o->call);
    if (o->kind == OP_CHECKPOINT && o->batch && --o->batch->left == 0) {
      kefo__mem_free(s->mem, o->batch);
    }
    kefo__dynamodb_store_op_free(o);
  }
  kefo__mem_free(s->mem, s->leases);
  kefo__mem_free(s->mem, s->entries);
  kefo__mem_free(s->mem, s);
}

static const kefo_lease_store_ops ddb_ops = {
    "dynamodb", d_open,   d_read, d_checkpoint, d_del,
    d_list,     d_create, d_take, d_renew,      d_release};

int kefo__dynamodb_store_new(kefo_lease_store **out, struct event_base *base,
                             kefo_aws_client *aws, const kefo_aws_service *svc,
                             const kefo_retry_strategy *retry,
                             const char *table, const char *worker_id,
                             const kefo_mem *mem) {
  ddb_store *s;

  if (out == NULL || base == NULL || aws == NULL || svc == NULL ||
      table == NULL || !table[0] || strlen(table) > 255 || worker_id == NULL ||
      !worker_id[0] || strlen(worker_id) > 256) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = mem ? mem : kefo__mem_default();
  s = kefo__mem_calloc(mem, 1, sizeof(*s));
  if (s == NULL) {
    return KEFO_ERR_NOMEM;
  }
  s->base.ops = &ddb_ops;
  s->mem = mem;
  s->evbase = base;
  s->aws = aws;
  s->svc = svc;
  if (retry) {
    s->retry = *retry;
  } else {
    kefo__retry_default(&s->retry);
  }
  snprintf(s->table, sizeof(s->table), "%s", table);
  snprintf(s->worker, sizeof(s->worker), "%s", worker_id);
  *out = &s->base;
  return 0;
}
