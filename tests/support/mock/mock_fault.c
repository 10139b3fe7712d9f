/*
 * The fault table and its matching (see mock_fault.h).
 */
#include "tests/support/mock/mock_fault.h"

#include <stdio.h>
#include <string.h>

#define A MOCK_FAULT_AT_ANSWER
#define E MOCK_FAULT_AT_EVENT

static const struct {
  const char *name;
  unsigned where;
} kinds[MOCK_FAULT_KINDS] = {
    [MOCK_FAULT_NONE] = {"none", 0},
    [MOCK_FAULT_DROP] = {"drop", A | E},
    [MOCK_FAULT_RST_STREAM] = {"rst-stream", A | E},
    [MOCK_FAULT_GOAWAY] = {"goaway", A | E},
    [MOCK_FAULT_STALL] = {"stall", A | E},
    [MOCK_FAULT_SLOW] = {"slow", A | E},
    [MOCK_FAULT_TRUNCATE] = {"truncate", A | E},
    [MOCK_FAULT_MALFORMED_JSON] = {"malformed-json", A | E},
    [MOCK_FAULT_OVERSIZED] = {"oversized", A | E},
    [MOCK_FAULT_BAD_MESSAGE_CRC] = {"bad-message-crc", E},
    [MOCK_FAULT_BAD_PRELUDE_CRC] = {"bad-prelude-crc", E},
    [MOCK_FAULT_UNKNOWN_EVENT] = {"unknown-event", E},
    [MOCK_FAULT_EXPIRE] = {"expire", E},
    [MOCK_FAULT_IN_USE] = {"resource-in-use", A | E},
    [MOCK_FAULT_LIMIT_EXCEEDED] = {"limit-exceeded", A | E},
    [MOCK_FAULT_INTERNAL_FAILURE] = {"internal-failure", A | E},
    [MOCK_FAULT_KMS_THROTTLING] = {"kms-throttling", A | E},
    [MOCK_FAULT_THROTTLE] = {"throttle", A},
    [MOCK_FAULT_UNAVAILABLE] = {"service-unavailable", A},
    [MOCK_FAULT_BAD_SIGNATURE] = {"bad-signature", A},
    [MOCK_FAULT_EXPIRED_TOKEN] = {"expired-token", A},
    [MOCK_FAULT_EXPIRED_ITERATOR] = {"expired-iterator", A},
    [MOCK_FAULT_ACCESS_DENIED] = {"access-denied", A},
};

const char *mock_fault_name(mock_fault_kind kind) {
  return kind < MOCK_FAULT_KINDS ? kinds[kind].name : NULL;
}

unsigned mock_fault_where(mock_fault_kind kind) {
  return kind < MOCK_FAULT_KINDS ? kinds[kind].where : 0;
}

static int kind_of(const cJSON *v, char *err, size_t errlen) {
  int k;

  if (!cJSON_IsString(v)) {
    snprintf(err, errlen, "Kind and Then must be strings");
    return -1;
  }
  for (k = 0; k < MOCK_FAULT_KINDS && strcmp(kinds[k].name, v->valuestring);
       ++k) {
  }
  if (k == MOCK_FAULT_KINDS) {
    snprintf(err, errlen, "unknown fault kind %.64s", v->valuestring);
    return -1;
  }
  return k;
}

static int copy_str(char *dst, size_t cap, const cJSON *v, const char *what,
                    char *err, size_t errlen) {
  if (!v) {
    dst[0] = '\0';
    return 0;
  }
  if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap) {
    snprintf(err, errlen, "%s must be a string of fewer than %zu characters",
             what, cap);
    return -1;
  }
  strcpy(dst, v->valuestring);
  return 0;
}

int mock_fault_arm(mock_fault *f, const cJSON *req, char *err, size_t errlen) {
  mock_fault next;
  const cJSON *kind = cJSON_GetObjectItemCaseSensitive(req, "Kind");
  const cJSON *count = cJSON_GetObjectItemCaseSensitive(req, "Count");
  const cJSON *ms = cJSON_GetObjectItemCaseSensitive(req, "Ms");
  const cJSON *it, *then;
  int k;

  cJSON_ArrayForEach(it, req) {
    if (strcmp(it->string, "Kind") && strcmp(it->string, "Count") &&
        strcmp(it->string, "Ms") && strcmp(it->string, "Operation") &&
        strcmp(it->string, "Shard") && strcmp(it->string, "Then") &&
        strcmp(it->string, "ThenCount") &&
        strcmp(it->string, "ThenOperation")) {
      snprintf(err, errlen, "unknown member %s", it->string);
      return -1;
    }
  }
  memset(&next, 0, sizeof(next));
  if ((k = kind_of(kind, err, errlen)) < 0) {
    return -1;
  }
  next.kind = (mock_fault_kind)k;
  then = cJSON_GetObjectItemCaseSensitive(req, "Then");
  if (then && (k = kind_of(then, err, errlen)) < 0) {
    return -1;
  }
  next.then = then ? (mock_fault_kind)k : MOCK_FAULT_NONE;
  then = cJSON_GetObjectItemCaseSensitive(req, "ThenCount");
  next.then_count = 1;
  if (then && (!cJSON_IsNumber(then) || then->valuedouble < 1 ||
               then->valuedouble > 1e9)) {
    snprintf(err, errlen, "ThenCount must be a number from 1 to 10^9");
    return -1;
  }
  if (then) {
    next.then_count = (int64_t)then->valuedouble;
  }
  if (copy_str(next.then_op, sizeof(next.then_op),
               cJSON_GetObjectItemCaseSensitive(req, "ThenOperation"),
               "ThenOperation", err, errlen) != 0) {
    return -1;
  }
  next.left = 1;
  next.ms = 10000;
  if (count && (!cJSON_IsNumber(count) || count->valuedouble < 0 ||
                count->valuedouble > 1e9)) {
    snprintf(err, errlen, "Count must be a number from 0 to 10^9");
    return -1;
  }
  if (count) {
    next.left = (int64_t)count->valuedouble;
  }
  if (ms && (!cJSON_IsNumber(ms) || ms->valuedouble < 1 ||
             ms->valuedouble > 3600000)) {
    snprintf(err, errlen, "Ms must be a number from 1 to 3600000");
    return -1;
  }
  if (ms) {
    next.ms = (int64_t)ms->valuedouble;
  }
  if (copy_str(next.op, sizeof(next.op),
               cJSON_GetObjectItemCaseSensitive(req, "Operation"), "Operation",
               err, errlen) != 0 ||
      copy_str(next.shard, sizeof(next.shard),
               cJSON_GetObjectItemCaseSensitive(req, "Shard"), "Shard", err,
               errlen) != 0) {
    return -1;
  }
  if (next.kind == MOCK_FAULT_NONE) {
    next.left = 0;
  }
  /* The strikes count over every fault armed, so that a test can arm
     one after another and add up. */
  next.fired = f->fired;
  next.fired_ms = f->fired_ms;
  *f = next;
  return 0;
}

int mock_fault_needs_shard(const mock_fault *f) {
  return f->left > 0 && f->shard[0] != '\0';
}

static int op_matches(const mock_fault *f, const char *op) {
  if (f->op[0]) {
    return strcmp(f->op, op) == 0;
  }
  return strcmp(op, "GetRecords") == 0 || strcmp(op, "SubscribeToShard") == 0;
}

mock_fault_kind mock_fault_take(mock_fault *f, const char *op,
                                const char *shard, unsigned where,
                                int64_t now_ms) {
  unsigned w = mock_fault_where(f->kind);

  if (f->left <= 0 || !(w & where) || !op_matches(f, op)) {
    return MOCK_FAULT_NONE;
  }
  if (f->shard[0] && (!shard || strcmp(f->shard, shard) != 0)) {
    return MOCK_FAULT_NONE;
  }
  /* A kind that can strike a subscription's events waits for them rather
     than failing the SubscribeToShard answer. */
  if (where == MOCK_FAULT_AT_ANSWER && (w & MOCK_FAULT_AT_EVENT) &&
      strcmp(op, "SubscribeToShard") == 0) {
    return MOCK_FAULT_NONE;
  }
  if (f->kind == MOCK_FAULT_EXPIRED_ITERATOR && strcmp(op, "GetRecords")) {
    return MOCK_FAULT_NONE;
  }
  --f->left;
  ++f->fired;
  f->fired_ms = now_ms;
  if (f->left == 0 && f->then != MOCK_FAULT_NONE) {
    mock_fault_kind k = f->kind;
    f->kind = f->then;
    f->left = f->then_count;
    f->then = MOCK_FAULT_NONE;
    memcpy(f->op, f->then_op, sizeof(f->op));
    return k;
  }
  return f->kind;
}

int mock_fault_exception(mock_fault_kind kind, const char *op,
                         const char **type, int *status) {
  *status = 400;
  switch (kind) {
  case MOCK_FAULT_IN_USE:
    *type = "ResourceInUseException";
    return 0;
  case MOCK_FAULT_LIMIT_EXCEEDED:
    *type = "LimitExceededException";
    return 0;
  case MOCK_FAULT_INTERNAL_FAILURE:
    *type = "InternalFailure";
    *status = 500;
    return 0;
  case MOCK_FAULT_KMS_THROTTLING:
    *type = "KMSThrottlingException";
    return 0;
  case MOCK_FAULT_THROTTLE:
    *type = strcmp(op, "GetRecords") == 0
                ? "ProvisionedThroughputExceededException"
                : "LimitExceededException";
    return 0;
  case MOCK_FAULT_UNAVAILABLE:
    *type = "ServiceUnavailable";
    *status = 503;
    return 0;
  case MOCK_FAULT_BAD_SIGNATURE:
    *type = "InvalidSignatureException";
    *status = 403;
    return 0;
  case MOCK_FAULT_EXPIRED_TOKEN:
    *type = "ExpiredTokenException";
    return 0;
  case MOCK_FAULT_EXPIRED_ITERATOR:
    *type = "ExpiredIteratorException";
    return 0;
  case MOCK_FAULT_ACCESS_DENIED:
    *type = "AccessDeniedException";
    return 0;
  default:
    return -1;
  }
}

cJSON *mock_fault_json(const mock_fault *f) {
  cJSON *o = cJSON_CreateObject();

  cJSON_AddStringToObject(o, "Kind", mock_fault_name(f->kind));
  cJSON_AddStringToObject(o, "Operation", f->op);
  cJSON_AddStringToObject(o, "Shard", f->shard);
  cJSON_AddNumberToObject(o, "Left", (double)f->left);
  cJSON_AddNumberToObject(o, "Fired", (double)f->fired);
  cJSON_AddNumberToObject(o, "FiredMs", (double)f->fired_ms);
  return o;
}
