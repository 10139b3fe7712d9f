/*
 * The lease item in the KCL's lease table layout: attribute values written
 * as DynamoDB's {"S": ...} and {"N": ...}, and an item read back as a lease.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "lease/dynamodb_internal.h"

/*
 * One item per shard, key leaseKey:
 *
 *   leaseKey                      S   the shard id
 *   leaseOwner                    S   the worker holding it (absent: none)
 *   leaseCounter                  N   +1 at every renewal and owner change
 *   checkpoint                    S   a sequence number, SHARD_END, or the
 *                                     starting sentinel (TRIM_HORIZON, ...)
 *   checkpointSubSequenceNumber   N   the KPL user record within it
 *   ownerSwitchesSinceCheckpoint  N   owner changes since the checkpoint
 *   parentShardId                 SS  the shard's parents (absent: none)
 *   startingHashKey, endingHashKey S  not written by kefo, kept as found
 */

/* ---- writing items ---------------------------------------------------- */

/* {"S": v} under |name| of |obj|. */
void kefo__dynamodb_item_put_s(cJSON *obj, const char *name, const char *v) {
  cJSON *a = cJSON_AddObjectToObject(obj, name);
  if (a) {
    cJSON_AddStringToObject(a, "S", v);
  }
}

void kefo__dynamodb_item_put_n(cJSON *obj, const char *name, int64_t v) {
  char n[32];
  snprintf(n, sizeof(n), "%" PRId64, v);
  cJSON *a = cJSON_AddObjectToObject(obj, name);
  if (a) {
    cJSON_AddStringToObject(a, "N", n);
  }
}

/* ---- reading items ---------------------------------------------------- */

static const char *get_s(const cJSON *item, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(item, name), "S");
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int get_n(const cJSON *item, const char *name, int64_t *out) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(item, name), "N");
  char *end;
  long long n;

  if (!cJSON_IsString(v)) {
    return -1;
  }
  n = strtoll(v->valuestring, &end, 10);
  if (end == v->valuestring || *end != 0 || n < 0) {
    return -1;
  }
  *out = n;
  return 0;
}

/* Fills |l| from |item| (strings lent from it). Returns 0, or -1 when the
   item is not a lease kefo can use (message in s->msg). */
int kefo__dynamodb_item_to_lease(ddb_store *s, const cJSON *item,
                                 kefo_lease *l) {
  const cJSON *ss, *p;
  int64_t sub = 0;

  memset(l, 0, sizeof(*l));
  l->shard_id = get_s(item, "leaseKey");
  if (l->shard_id == NULL || strlen(l->shard_id) >= KEFO_SHARD_ID_CAP) {
    snprintf(s->msg, sizeof(s->msg),
             "lease table %s: an item without a usable leaseKey", s->table);
    return -1;
  }
  l->owner = get_s(item, "leaseOwner");
  l->owner = l->owner ? l->owner : "";
  l->checkpoint = get_s(item, "checkpoint");
  if (get_n(item, "leaseCounter", &l->counter) != 0 || l->checkpoint == NULL ||
      (cJSON_GetObjectItemCaseSensitive(item, "checkpointSubSequenceNumber") &&
       get_n(item, "checkpointSubSequenceNumber", &sub) != 0)) {
    snprintf(s->msg, sizeof(s->msg),
             "lease table %s: lease %s has no valid leaseCounter or "
             "checkpoint",
             s->table, l->shard_id);
    return -1;
  }
  l->sub_sequence_number = (uint64_t)sub;
  ss = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(item, "parentShardId"), "SS");
  cJSON_ArrayForEach(p, ss) {
    if (!cJSON_IsString(p) || l->nparents == 2) {
      snprintf(s->msg, sizeof(s->msg),
               "lease table %s: lease %s has a bad parentShardId", s->table,
               l->shard_id);
      return -1;
    }
    l->parents[l->nparents++] = p->valuestring;
  }
  return 0;
}
