/*
 * The mock's JSON operations on the stream model (see mock_api.h). Errors
 * carry the exception names and, where it helps a reader of a test log,
 * messages shaped like the real service's.
 */
#include "tests/support/mock/mock_api.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/json_writer.h"

#define ACCOUNT "123456789012"
/* An event or GetRecords answer holds about this much record data. */
#define BATCH_DATA_MAX (1024 * 1024)
#define ITERATOR_PREFIX "kefomock2:"
#define LIST_TOKEN_PREFIX "kefomocklist1:"
#define CONSUMER_TOKEN_PREFIX "kefomockcons1:"

typedef struct op_ctx {
  mock_api *api;
  cJSON *req;
  int64_t now;
  kefo_buf *out;
} op_ctx;

void mock_api_init(mock_api *api) {
  memset(api, 0, sizeof(*api));
  mock_world_init(&api->world);
  api->cfg.subscription_lifetime_ms = 300000;
  api->cfg.idle_event_ms = 1000;
  api->cfg.iterator_lifetime_ms = 300000;
}

void mock_api_free(mock_api *api) {
  mock_world_free(&api->world);
}

int mock_api_error(kefo_buf *out, const char *type, const char *message) {
  cJSON *o = cJSON_CreateObject();
  char *s;
  int rv;

  kefo__buf_reset(out);
  cJSON_AddStringToObject(o, "__type", type);
  cJSON_AddStringToObject(o, "message", message);
  s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (!s) {
    return -1;
  }
  rv = kefo__buf_append_str(out, s);
  cJSON_free(s);
  return rv;
}

static int fail(op_ctx *c, int status, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(op_ctx *c, int status, const char *type, const char *fmt, ...) {
  char msg[1024];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  mock_api_error(c->out, type, msg);
  return status;
}

static int reply(op_ctx *c, cJSON *o) {
  char *s = cJSON_PrintUnformatted(o);
  int rv;

  cJSON_Delete(o);
  if (!s) {
    return fail(c, 500, "InternalFailure", "out of memory");
  }
  kefo__buf_reset(c->out);
  rv = kefo__buf_append_str(c->out, s);
  cJSON_free(s);
  return rv == 0 ? 200 : 500;
}

/* A string member: 1 when present and a string, 0 when absent, -1 when
   present with another type (a validation error is written). */
static int get_str(op_ctx *c, const char *name, const char **out, int *status) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->req, name);

  *out = NULL;
  if (!v || cJSON_IsNull(v)) {
    return 0;
  }
  if (!cJSON_IsString(v)) {
    *status =
        fail(c, 400, "SerializationException", "%s must be a string", name);
    return -1;
  }
  *out = v->valuestring;
  return 1;
}

static int need_str(op_ctx *c, const char *name, const char **out,
                    int *status) {
  int rv = get_str(c, name, out, status);

  if (rv == 0) {
    *status = fail(c, 400, "ValidationException",
                   "1 validation error detected: Value null at '%s' failed to "
                   "satisfy constraint: Member must not be null",
                   name);
    return -1;
  }
  return rv;
}

/* An integer member within [min, max]; |*out| keeps its default when
   absent. Returns 0 or -1 (error written). */
static int get_int(op_ctx *c, const char *name, int64_t min, int64_t max,
                   int64_t *out, int *status) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(c->req, name);

  if (!v || cJSON_IsNull(v)) {
    return 0;
  }
  /* The range first: casting a double outside int64_t is undefined. */
  if (!cJSON_IsNumber(v) || !(v->valuedouble >= (double)min) ||
      !(v->valuedouble <= (double)max) ||
      v->valuedouble != (double)(int64_t)v->valuedouble) {
    *status = fail(c, 400, "ValidationException",
                   "1 validation error detected: Value at '%s' failed to "
                   "satisfy constraint: Member must be an integer from %lld "
                   "to %lld",
                   name, (long long)min, (long long)max);
    return -1;
  }
  *out = (int64_t)v->valuedouble;
  return 0;
}

/* The stream named by StreamName or StreamARN. */
static mock_stream *get_stream(op_ctx *c, int *status) {
  const char *name, *arn;
  mock_stream *s;

  if (get_str(c, "StreamName", &name, status) < 0 ||
      get_str(c, "StreamARN", &arn, status) < 0) {
    return NULL;
  }
  if (!name && !arn) {
    *status = fail(c, 400, "InvalidArgumentException",
                   "Either StreamName or StreamARN should be provided.");
    return NULL;
  }
  s = arn ? mock_stream_find_arn(&c->api->world, arn)
          : mock_stream_find(&c->api->world, name);
  if (!s || (name && arn && strcmp(s->name, name) != 0)) {
    *status = fail(c, 400, "ResourceNotFoundException",
                   "Stream %s under account " ACCOUNT " not found.",
                   arn ? arn : name);
    return NULL;
  }
  return s;
}

static mock_shard *get_shard(op_ctx *c, mock_stream *s, const char *member,
                             int *status) {
  const char *id;
  mock_shard *sh;

  if (need_str(c, member, &id, status) < 0) {
    return NULL;
  }
  sh = mock_shard_find(s, id);
  if (!sh) {
    *status =
        fail(c, 400, "ResourceNotFoundException",
             "Could not find shard %s in stream %s under account " ACCOUNT ".",
             id, s->name);
  }
  return sh;
}

static void add_u128(cJSON *o, const char *name, mock_u128 v) {
  char buf[40];

  mock_u128_format(v, buf);
  cJSON_AddStringToObject(o, name, buf);
}

static void add_seq(cJSON *o, const char *name, const mock_shard *sh,
                    uint64_t counter) {
  char buf[MOCK_SEQ_LEN + 1];

  mock_seq_format(sh->stream, counter, sh->index, buf);
  cJSON_AddStringToObject(o, name, buf);
}

static cJSON *shard_json(const mock_shard *sh) {
  const mock_stream *s = sh->stream;
  cJSON *o = cJSON_CreateObject(), *r;

  cJSON_AddStringToObject(o, "ShardId", sh->id);
  if (sh->parent >= 0) {
    cJSON_AddStringToObject(o, "ParentShardId", s->shards[sh->parent]->id);
  }
  if (sh->adjacent_parent >= 0) {
    cJSON_AddStringToObject(o, "AdjacentParentShardId",
                            s->shards[sh->adjacent_parent]->id);
  }
  r = cJSON_AddObjectToObject(o, "HashKeyRange");
  add_u128(r, "StartingHashKey", sh->start_hash);
  add_u128(r, "EndingHashKey", sh->end_hash);
  r = cJSON_AddObjectToObject(o, "SequenceNumberRange");
  add_seq(r, "StartingSequenceNumber", sh, sh->start_counter);
  if (sh->closed) {
    add_seq(r, "EndingSequenceNumber", sh, sh->end_counter);
  }
  return o;
}

static int op_create_stream(op_ctx *c) {
  const char *name;
  int64_t count = 4;
  int status = 400, rv;

  if (need_str(c, "StreamName", &name, &status) < 0 ||
      get_int(c, "ShardCount", 1, 10000, &count, &status) < 0) {
    return status;
  }
  if (!mock_valid_name(name)) {
    return fail(c, 400, "ValidationException",
                "1 validation error detected: Value '%s' at 'streamName' "
                "failed to satisfy constraint: Member must satisfy regular "
                "expression pattern: [a-zA-Z0-9_.-]+",
                name);
  }
  rv = mock_stream_create(&c->api->world, name, (uint32_t)count, c->now, NULL);
  if (rv == MOCK_EINUSE) {
    return fail(c, 400, "ResourceInUseException",
                "Stream %s under account " ACCOUNT " already exists.", name);
  }
  if (rv != 0) {
    return fail(c, 500, "InternalFailure", "cannot create stream %s", name);
  }
  return reply(c, cJSON_CreateObject());
}

static int op_describe_stream_summary(op_ctx *c) {
  int status = 400;
  mock_stream *s = get_stream(c, &status);
  cJSON *o, *d, *m;
  mock_consumer *k;
  int nconsumers = 0;

  if (!s) {
    return status;
  }
  for (k = s->consumers; k; k = k->next) {
    ++nconsumers;
  }
  o = cJSON_CreateObject();
  d = cJSON_AddObjectToObject(o, "StreamDescriptionSummary");
  cJSON_AddStringToObject(d, "StreamName", s->name);
  cJSON_AddStringToObject(d, "StreamARN", s->arn);
  cJSON_AddStringToObject(d, "StreamStatus", "ACTIVE");
  m = cJSON_AddObjectToObject(d, "StreamModeDetails");
  cJSON_AddStringToObject(m, "StreamMode", "PROVISIONED");
  cJSON_AddNumberToObject(d, "RetentionPeriodHours", 24);
  cJSON_AddNumberToObject(d, "StreamCreationTimestamp",
                          (double)s->created_ms / 1000.0);
  m = cJSON_AddArrayToObject(d, "EnhancedMonitoring");
  cJSON_AddItemToArray(m, cJSON_CreateObject());
  cJSON_AddArrayToObject(cJSON_GetArrayItem(m, 0), "ShardLevelMetrics");
  cJSON_AddStringToObject(d, "EncryptionType", "NONE");
  cJSON_AddNumberToObject(d, "OpenShardCount",
                          (double)mock_stream_open_shards(s));
  cJSON_AddNumberToObject(d, "ConsumerCount", nconsumers);
  return reply(c, o);
}

/* Reads a decimal of at most 15 digits ending at |stop|; -1 if not. */
static int parse_num(const char **p, char stop, size_t *out) {
  size_t v = 0;
  int n = 0;

  while (**p >= '0' && **p <= '9' && n < 15) {
    v = v * 10 + (size_t)(**p - '0');
    ++*p;
    ++n;
  }
  if (n == 0 || **p != stop) {
    return -1;
  }
  ++*p;
  *out = v;
  return 0;
}

static int op_list_shards(op_ctx *c) {
  const char *token, *name, *arn;
  int64_t max = 1000;
  int status = 400;
  mock_stream *s;
  cJSON *o, *a;
  size_t i, end, start = 0;

  if (get_str(c, "NextToken", &token, &status) < 0 ||
      get_int(c, "MaxResults", 1, 10000, &max, &status) < 0) {
    return status;
  }
  if (token) {
    const char *p;
    if (get_str(c, "StreamName", &name, &status) < 0 ||
        get_str(c, "StreamARN", &arn, &status) < 0) {
      return status;
    }
    if (name || arn) {
      return fail(c, 400, "InvalidArgumentException",
                  "NextToken and StreamName or StreamARN cannot be provided "
                  "together.");
    }
    if (strncmp(token, LIST_TOKEN_PREFIX, strlen(LIST_TOKEN_PREFIX)) != 0) {
      return fail(c, 400, "InvalidArgumentException", "Invalid NextToken.");
    }
    p = token + strlen(LIST_TOKEN_PREFIX);
    if (parse_num(&p, ':', &start) != 0 ||
        !(s = mock_stream_find(&c->api->world, p)) || start > s->nshards) {
      return fail(c, 400, "InvalidArgumentException", "Invalid NextToken.");
    }
  } else if (!(s = get_stream(c, &status))) {
    return status;
  }
  o = cJSON_CreateObject();
  a = cJSON_AddArrayToObject(o, "Shards");
  end = start + (size_t)max;
  if (end > s->nshards) {
    end = s->nshards;
  }
  for (i = start; i < end; ++i) {
    cJSON_AddItemToArray(a, shard_json(s->shards[i]));
  }
  if (end < s->nshards) {
    char buf[MOCK_MAX_NAME + 64];
    snprintf(buf, sizeof(buf), LIST_TOKEN_PREFIX "%zu:%s", end, s->name);
    cJSON_AddStringToObject(o, "NextToken", buf);
  }
  return reply(c, o);
}

/* Decodes a record's Data (base64) in place, in the request's own copy
   of the string, so a record costs no allocation. */
static int get_data(op_ctx *c, cJSON *rec, uint8_t **data, size_t *len,
                    int *status) {
  cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "Data");
  size_t n;

  if (!cJSON_IsString(v)) {
    *status = fail(c, 400, "ValidationException",
                   "1 validation error detected: Value null at 'data' failed "
                   "to satisfy constraint: Member must not be null");
    return -1;
  }
  n = strlen(v->valuestring);
  if (n > kefo__base64_encoded_len(MOCK_MAX_DATA)) {
    *status = fail(c, 400, "ValidationException",
                   "1 validation error detected: Value at 'data' failed to "
                   "satisfy constraint: Member must have length less than or "
                   "equal to 1048576");
    return -1;
  }
  *data = (uint8_t *)v->valuestring;
  if (kefo__base64_decode(*data, n, *data, n, len) != 0) {
    *status =
        fail(c, 400, "SerializationException", "Data is not valid base64");
    return -1;
  }
  /* Text of the largest length may still hold 2 bytes too many. */
  if (*len > MOCK_MAX_DATA) {
    *status = fail(c, 400, "ValidationException",
                   "1 validation error detected: Value at 'data' failed to "
                   "satisfy constraint: Member must have length less than or "
                   "equal to 1048576");
    return -1;
  }
  return 0;
}

/* Routes one record (an object with PartitionKey, ExplicitHashKey, Data)
   and appends it. */
static mock_shard *put_one(op_ctx *c, mock_stream *s, cJSON *rec,
                           mock_record **out, int *status) {
  const cJSON *pk = cJSON_GetObjectItemCaseSensitive(rec, "PartitionKey");
  const cJSON *ehk = cJSON_GetObjectItemCaseSensitive(rec, "ExplicitHashKey");
  mock_u128 hash;
  mock_shard *sh;
  uint8_t *data;
  size_t len, pklen;

  if (!cJSON_IsString(pk) || (pklen = strlen(pk->valuestring)) == 0 ||
      pklen > MOCK_MAX_PK) {
    *status = fail(c, 400, "ValidationException",
                   "1 validation error detected: Value at 'partitionKey' "
                   "failed to satisfy constraint: Member must have length "
                   "between 1 and 256");
    return NULL;
  }
  if (ehk && !cJSON_IsNull(ehk)) {
    if (!cJSON_IsString(ehk) || mock_u128_parse(ehk->valuestring, &hash)) {
      *status = fail(c, 400, "InvalidArgumentException",
                     "ExplicitHashKey must be a decimal number from 0 to "
                     "2^128-1");
      return NULL;
    }
  } else {
    hash = mock_hash_key(pk->valuestring, pklen);
  }
  if (get_data(c, rec, &data, &len, status) != 0) {
    return NULL;
  }
  sh = mock_stream_route(s, hash);
  if (!sh ||
      mock_shard_append(sh, pk->valuestring, pklen, data, len, c->now, out)) {
    *status = fail(c, 500, "InternalFailure", "cannot store the record");
    return NULL;
  }
  return sh;
}

static int op_put_record(op_ctx *c) {
  int status = 400;
  mock_stream *s = get_stream(c, &status);
  mock_shard *sh;
  mock_record *r;
  cJSON *o;

  if (!s || !(sh = put_one(c, s, c->req, &r, &status))) {
    return status;
  }
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "ShardId", sh->id);
  add_seq(o, "SequenceNumber", sh, r->counter);
  cJSON_AddStringToObject(o, "EncryptionType", "NONE");
  return reply(c, o);
}

/* Whether the next PutRecords entry fails (put_fail_pct): xorshift64,
   the same sequence every run. */
static int put_fails(mock_api *api) {
  uint64_t x = api->put_rng ? api->put_rng : 0x9e3779b97f4a7c15ull;

  if (api->cfg.put_fail_pct <= 0) {
    return 0;
  }
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  api->put_rng = x;
  if ((int64_t)(x % 100) < api->cfg.put_fail_pct) {
    ++api->put_failed;
    return 1;
  }
  return 0;
}

static int op_put_records(op_ctx *c) {
  int status = 400, n, i;
  mock_stream *s = get_stream(c, &status);
  cJSON *recs = cJSON_GetObjectItemCaseSensitive(c->req, "Records");
  cJSON *o, *a, *failed;

  if (!s) {
    return status;
  }
  if (!cJSON_IsArray(recs) || (n = cJSON_GetArraySize(recs)) < 1 || n > 500) {
    return fail(c, 400, "ValidationException",
                "1 validation error detected: Value at 'records' failed to "
                "satisfy constraint: Member must have length between 1 and "
                "500");
  }
  /* Check every entry first, so a bad one stores nothing. */
  for (i = 0; i < n; ++i) {
    const cJSON *r = cJSON_GetArrayItem(recs, i);
    if (!cJSON_IsObject(r) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "PartitionKey")) ||
        !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(r, "Data"))) {
      return fail(c, 400, "ValidationException",
                  "Records[%d] needs a PartitionKey and Data", i);
    }
  }
  o = cJSON_CreateObject();
  failed = cJSON_AddNumberToObject(o, "FailedRecordCount", 0);
  a = cJSON_AddArrayToObject(o, "Records");
  for (i = 0; i < n; ++i) {
    mock_record *r;
    mock_shard *sh;
    cJSON *e;
    if (put_fails(c->api)) {
      e = cJSON_CreateObject();
      cJSON_AddStringToObject(e, "ErrorCode",
                              "ProvisionedThroughputExceededException");
      cJSON_AddStringToObject(e, "ErrorMessage",
                              "Rate exceeded for the shard (mock)");
      cJSON_AddItemToArray(a, e);
      cJSON_SetNumberValue(failed, failed->valuedouble + 1);
      continue;
    }
    sh = put_one(c, s, cJSON_GetArrayItem(recs, i), &r, &status);
    if (!sh) {
      cJSON_Delete(o);
      return status;
    }
    e = cJSON_CreateObject();
    add_seq(e, "SequenceNumber", sh, r->counter);
    cJSON_AddStringToObject(e, "ShardId", sh->id);
    cJSON_AddItemToArray(a, e);
  }
  cJSON_AddStringToObject(o, "EncryptionType", "NONE");
  return reply(c, o);
}

static int op_split_shard(op_ctx *c) {
  int status = 400, rv;
  mock_stream *s = get_stream(c, &status);
  mock_shard *sh;
  const char *key;
  mock_u128 k;

  if (!s || !(sh = get_shard(c, s, "ShardToSplit", &status)) ||
      need_str(c, "NewStartingHashKey", &key, &status) < 0) {
    return status;
  }
  if (mock_u128_parse(key, &k) != 0) {
    return fail(c, 400, "InvalidArgumentException",
                "NewStartingHashKey %s is not a number from 0 to 2^128-1", key);
  }
  rv = mock_split_shard(s, sh, k, c->now);
  if (rv == MOCK_EINUSE) {
    return fail(c, 400, "ResourceInUseException",
                "Shard %s in stream %s under account " ACCOUNT
                " has already been merged or split, and thus is not eligible "
                "for merging or splitting.",
                sh->id, s->name);
  }
  if (rv == MOCK_EINVAL) {
    return fail(c, 400, "InvalidArgumentException",
                "NewStartingHashKey %s used in SplitShard() on shard %s in "
                "stream %s under account " ACCOUNT
                " is not both greater than one plus the shard's "
                "StartingHashKey and less than the shard's EndingHashKey.",
                key, sh->id, s->name);
  }
  if (rv != 0) {
    return fail(c, 500, "InternalFailure", "cannot split");
  }
  return reply(c, cJSON_CreateObject());
}

static int op_merge_shards(op_ctx *c) {
  int status = 400, rv;
  mock_stream *s = get_stream(c, &status);
  mock_shard *a, *b;

  if (!s || !(a = get_shard(c, s, "ShardToMerge", &status)) ||
      !(b = get_shard(c, s, "AdjacentShardToMerge", &status))) {
    return status;
  }
  rv = mock_merge_shards(s, a, b, c->now);
  if (rv == MOCK_EINUSE) {
    return fail(c, 400, "ResourceInUseException",
                "Shards %s and %s in stream %s under account " ACCOUNT
                " must both be open to be merged.",
                a->id, b->id, s->name);
  }
  if (rv == MOCK_EINVAL) {
    return fail(c, 400, "InvalidArgumentException",
                "Shards %s and %s in stream %s under account " ACCOUNT
                " are not an adjacent pair of shards eligible for merging",
                a->id, b->id, s->name);
  }
  if (rv != 0) {
    return fail(c, 500, "InternalFailure", "cannot merge");
  }
  return reply(c, cJSON_CreateObject());
}

static const char *status_name(mock_consumer_status st) {
  return st == MOCK_CONSUMER_ACTIVE ? "ACTIVE" : "CREATING";
}

static cJSON *consumer_json(const mock_consumer *k, int64_t now, int with_arn) {
  cJSON *o = cJSON_CreateObject();

  cJSON_AddStringToObject(o, "ConsumerName", k->name);
  cJSON_AddStringToObject(o, "ConsumerARN", k->arn);
  cJSON_AddStringToObject(o, "ConsumerStatus",
                          status_name(mock_consumer_status_at(k, now)));
  cJSON_AddNumberToObject(o, "ConsumerCreationTimestamp",
                          (double)k->created_ms / 1000.0);
  if (with_arn) {
    cJSON_AddStringToObject(o, "StreamARN", k->stream->arn);
  }
  return o;
}

/* The consumer given by ConsumerARN, or StreamARN and ConsumerName. */
static mock_consumer *get_consumer(op_ctx *c, int *status) {
  const char *arn, *sarn, *name;
  mock_consumer *k = NULL;
  mock_stream *s;

  if (get_str(c, "ConsumerARN", &arn, status) < 0 ||
      get_str(c, "StreamARN", &sarn, status) < 0 ||
      get_str(c, "ConsumerName", &name, status) < 0) {
    return NULL;
  }
  if (arn) {
    k = mock_consumer_find_arn(&c->api->world, arn);
  } else if (sarn && name) {
    s = mock_stream_find_arn(&c->api->world, sarn);
    k = s ? mock_consumer_find(s, name) : NULL;
  } else {
    *status = fail(c, 400, "InvalidArgumentException",
                   "Either ConsumerARN or both StreamARN and ConsumerName "
                   "should be provided.");
    return NULL;
  }
  if (!k) {
    *status = fail(c, 400, "ResourceNotFoundException",
                   "Consumer %s under account " ACCOUNT " not found.",
                   arn ? arn : name);
  }
  return k;
}

static int op_register_consumer(op_ctx *c) {
  int status = 400, rv;
  const char *sarn, *name;
  mock_stream *s;
  mock_consumer *k;
  cJSON *o;

  if (need_str(c, "StreamARN", &sarn, &status) < 0 ||
      need_str(c, "ConsumerName", &name, &status) < 0) {
    return status;
  }
  if (!(s = mock_stream_find_arn(&c->api->world, sarn))) {
    return fail(c, 400, "ResourceNotFoundException",
                "Stream %s under account " ACCOUNT " not found.", sarn);
  }
  rv = mock_consumer_register(s, name, c->now, c->api->cfg.consumer_delay_ms,
                              &k);
  if (rv == MOCK_EINUSE) {
    return fail(
        c, 400, "ResourceInUseException",
        "Consumer %s under stream %s already exists for account " ACCOUNT ".",
        name, s->name);
  }
  if (rv == MOCK_EINVAL) {
    return fail(c, 400, "ValidationException",
                "1 validation error detected: Value '%s' at 'consumerName' "
                "failed to satisfy constraint: Member must satisfy regular "
                "expression pattern: [a-zA-Z0-9_.-]+",
                name);
  }
  if (rv != 0) {
    return fail(c, 500, "InternalFailure", "cannot register");
  }
  o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "Consumer", consumer_json(k, c->now, 0));
  return reply(c, o);
}

static int op_describe_consumer(op_ctx *c) {
  int status = 400;
  mock_consumer *k = get_consumer(c, &status);
  cJSON *o;

  if (!k) {
    return status;
  }
  o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "ConsumerDescription", consumer_json(k, c->now, 1));
  return reply(c, o);
}

static int op_deregister_consumer(op_ctx *c) {
  int status = 400;
  mock_consumer *k = get_consumer(c, &status);

  if (!k) {
    return status;
  }
  mock_consumer_deregister(k);
  return reply(c, cJSON_CreateObject());
}

static int op_list_consumers(op_ctx *c) {
  int status = 400;
  const char *sarn, *token;
  int64_t max = 100;
  size_t start = 0, i = 0;
  mock_stream *s;
  mock_consumer *k;
  cJSON *o, *a;

  if (need_str(c, "StreamARN", &sarn, &status) < 0 ||
      get_str(c, "NextToken", &token, &status) < 0 ||
      get_int(c, "MaxResults", 1, 10000, &max, &status) < 0) {
    return status;
  }
  if (!(s = mock_stream_find_arn(&c->api->world, sarn))) {
    return fail(c, 400, "ResourceNotFoundException",
                "Stream %s under account " ACCOUNT " not found.", sarn);
  }
  if (token) {
    const char *p = token + strlen(CONSUMER_TOKEN_PREFIX);
    if (strncmp(token, CONSUMER_TOKEN_PREFIX, strlen(CONSUMER_TOKEN_PREFIX)) !=
            0 ||
        parse_num(&p, '\0', &start) != 0) {
      return fail(c, 400, "InvalidArgumentException", "Invalid NextToken.");
    }
  }
  o = cJSON_CreateObject();
  a = cJSON_AddArrayToObject(o, "Consumers");
  for (k = s->consumers; k; k = k->next, ++i) {
    if (i < start) {
      continue;
    }
    if (i >= start + (size_t)max) {
      char buf[64];
      snprintf(buf, sizeof(buf), CONSUMER_TOKEN_PREFIX "%zu", i);
      cJSON_AddStringToObject(o, "NextToken", buf);
      break;
    }
    cJSON_AddItemToArray(a, consumer_json(k, c->now, 0));
  }
  return reply(c, o);
}

/* Resolves a starting position (ShardIteratorType or StartingPosition.Type
   with its sequence number or timestamp) to a record index of |sh|. */
static int resolve_position(op_ctx *c, mock_shard *sh, const char *type,
                            const cJSON *seq, const cJSON *ts, size_t *index) {
  uint64_t counter;
  uint32_t shard_index;

  if (strcmp(type, "TRIM_HORIZON") == 0) {
    *index = 0;
  } else if (strcmp(type, "LATEST") == 0) {
    *index = sh->nrecords;
  } else if (strcmp(type, "AT_SEQUENCE_NUMBER") == 0 ||
             strcmp(type, "AFTER_SEQUENCE_NUMBER") == 0) {
    if (!cJSON_IsString(seq)) {
      return fail(c, 400, "InvalidArgumentException",
                  "A sequence number is required for %s.", type);
    }
    if (mock_seq_parse(sh->stream, seq->valuestring, &counter, &shard_index) !=
            0 ||
        shard_index != sh->index) {
      return fail(c, 400, "InvalidArgumentException",
                  "Invalid StartingSequenceNumber. It encodes %s, while it "
                  "was used in a call to a shard with %s",
                  seq->valuestring, sh->id);
    }
    *index = mock_shard_lower_bound(sh, type[1] == 'T' ? counter : counter + 1);
  } else if (strcmp(type, "AT_TIMESTAMP") == 0) {
    double t;
    if (cJSON_IsNumber(ts)) {
      t = ts->valuedouble;
    } else if (cJSON_IsString(ts)) {
      t = strtod(ts->valuestring, NULL);
    } else {
      return fail(c, 400, "InvalidArgumentException",
                  "A timestamp is required for AT_TIMESTAMP.");
    }
    /* Clamped before the cast, which is undefined outside int64_t; NaN
       goes to 0. Any time past every record gives the shard's end. */
    if (!(t > 0)) {
      t = 0;
    } else if (t > 1e15) {
      t = 1e15;
    }
    *index = mock_shard_at_time(sh, (int64_t)(t * 1000.0 + 0.5));
  } else {
    return fail(c, 400, "ValidationException",
                "1 validation error detected: Value '%s' at "
                "'shardIteratorType' failed to satisfy constraint: Member "
                "must satisfy enum value set: [AFTER_SEQUENCE_NUMBER, "
                "AT_SEQUENCE_NUMBER, AT_TIMESTAMP, TRIM_HORIZON, LATEST]",
                type);
  }
  return 0;
}

static int op_get_shard_iterator(op_ctx *c) {
  int status = 400;
  mock_stream *s = get_stream(c, &status);
  mock_shard *sh;
  const char *type;
  size_t index;
  char buf[MOCK_MAX_NAME + 96];
  cJSON *o;

  if (!s || !(sh = get_shard(c, s, "ShardId", &status)) ||
      need_str(c, "ShardIteratorType", &type, &status) < 0) {
    return status;
  }
  ++sh->stats.get_iterator_calls;
  status = resolve_position(
      c, sh, type,
      cJSON_GetObjectItemCaseSensitive(c->req, "StartingSequenceNumber"),
      cJSON_GetObjectItemCaseSensitive(c->req, "Timestamp"), &index);
  if (status != 0) {
    return status;
  }
  snprintf(buf, sizeof(buf), ITERATOR_PREFIX "%u:%zu:%lld:%s",
           (unsigned)sh->index, index, (long long)c->now, s->name);
  o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "ShardIterator", buf);
  return reply(c, o);
}

size_t mock_api_batch_end(const mock_shard *sh, size_t from,
                          size_t max_records) {
  size_t i = from, bytes = 0;

  while (i < sh->nrecords && i - from < max_records) {
    /* Keys count too, so that escaping them cannot push an event past the
       event-stream limit of 16 MiB. */
    bytes += sh->records[i].data_len + sh->records[i].pk_len;
    if (bytes > BATCH_DATA_MAX && i > from) {
      break;
    }
    ++i;
  }
  return i;
}

int mock_api_write_records(kefo_buf *out, const mock_shard *sh, size_t from,
                           size_t to) {
  size_t i;

  for (i = from; i < to; ++i) {
    const mock_record *r = &sh->records[i];
    static const char k_seq[] = "{\"SequenceNumber\":\"";
    static const char k_ts[] = "\",\"ApproximateArrivalTimestamp\":";
    static const char k_data[] = ",\"Data\":";
    char head[MOCK_SEQ_LEN + 96], num[24];
    size_t n = 0, k = sizeof(num);
    uint64_t secs = (uint64_t)(r->arrival_ms / 1000);

    /* By hand, not snprintf: at 500,000 records a second (bench/live.sh
       at 5,000 shards) the server's formatting was its largest cost. */
    if (i > from) {
      head[n++] = ',';
    }
    memcpy(head + n, k_seq, sizeof(k_seq) - 1);
    n += sizeof(k_seq) - 1;
    mock_seq_format(sh->stream, r->counter, sh->index, head + n);
    n += MOCK_SEQ_LEN;
    memcpy(head + n, k_ts, sizeof(k_ts) - 1);
    n += sizeof(k_ts) - 1;
    do {
      num[--k] = (char)('0' + secs % 10);
      secs /= 10;
    } while (secs > 0);
    memcpy(head + n, num + k, sizeof(num) - k);
    n += sizeof(num) - k;
    head[n++] = '.';
    head[n++] = (char)('0' + (int)(r->arrival_ms % 1000 / 100));
    head[n++] = (char)('0' + (int)(r->arrival_ms % 100 / 10));
    head[n++] = (char)('0' + (int)(r->arrival_ms % 10));
    memcpy(head + n, k_data, sizeof(k_data) - 1);
    n += sizeof(k_data) - 1;
    if (kefo__buf_append(out, head, n) != 0 ||
        kefo__json_append_base64(out, mock_record_data(sh, r), r->data_len) !=
            0 ||
        kefo__buf_append_str(out, ",\"PartitionKey\":") != 0 ||
        kefo__json_append_string(out, mock_record_pk(sh, r), r->pk_len) != 0 ||
        kefo__buf_append_byte(out, '}') != 0) {
      return -1;
    }
  }
  return 0;
}

int mock_api_write_child_shards(kefo_buf *out, const mock_shard *sh) {
  uint32_t kids[2];
  size_t n = sh->closed ? mock_shard_children(sh, kids) : 0, i;
  cJSON *a = cJSON_CreateArray();
  char *s;
  int rv;

  for (i = 0; i < n; ++i) {
    const mock_shard *k = sh->stream->shards[kids[i]];
    cJSON *o = cJSON_CreateObject(), *p, *r;
    cJSON_AddStringToObject(o, "ShardId", k->id);
    p = cJSON_AddArrayToObject(o, "ParentShards");
    cJSON_AddItemToArray(p,
                         cJSON_CreateString(sh->stream->shards[k->parent]->id));
    if (k->adjacent_parent >= 0) {
      cJSON_AddItemToArray(
          p, cJSON_CreateString(sh->stream->shards[k->adjacent_parent]->id));
    }
    r = cJSON_AddObjectToObject(o, "HashKeyRange");
    add_u128(r, "StartingHashKey", k->start_hash);
    add_u128(r, "EndingHashKey", k->end_hash);
    cJSON_AddItemToArray(a, o);
  }
  s = cJSON_PrintUnformatted(a);
  cJSON_Delete(a);
  if (!s) {
    return -1;
  }
  rv = kefo__buf_append_str(out, s);
  cJSON_free(s);
  return rv;
}

/* "kefomock2:<shard index>:<record index>:<issued, epoch ms>:<stream>",
   every part checked against the model before use. */
static int parse_iterator(mock_api *api, const char *it, mock_stream **s,
                          size_t *idx, size_t *pos, size_t *issued) {
  const char *p;

  if (strncmp(it, ITERATOR_PREFIX, strlen(ITERATOR_PREFIX)) != 0) {
    return -1;
  }
  p = it + strlen(ITERATOR_PREFIX);
  if (parse_num(&p, ':', idx) != 0 || parse_num(&p, ':', pos) != 0 ||
      parse_num(&p, ':', issued) != 0 ||
      !(*s = mock_stream_find(&api->world, p)) || *idx >= (*s)->nshards ||
      *pos > (*s)->shards[*idx]->nrecords) {
    return -1;
  }
  return 0;
}

int mock_api_request_shard(mock_api *api, const char *op, const uint8_t *body,
                           size_t len, char *id, size_t cap) {
  cJSON *j = cJSON_ParseWithLength((const char *)body, len);
  const cJSON *v;
  mock_stream *s;
  size_t idx, pos, issued;
  int rv = -1;

  if (strcmp(op, "GetRecords") == 0) {
    v = cJSON_GetObjectItemCaseSensitive(j, "ShardIterator");
    if (cJSON_IsString(v) &&
        parse_iterator(api, v->valuestring, &s, &idx, &pos, &issued) == 0 &&
        strlen(s->shards[idx]->id) < cap) {
      strcpy(id, s->shards[idx]->id);
      rv = 0;
    }
  } else {
    v = cJSON_GetObjectItemCaseSensitive(j, "ShardId");
    if (cJSON_IsString(v) && strlen(v->valuestring) < cap) {
      strcpy(id, v->valuestring);
      rv = 0;
    }
  }
  cJSON_Delete(j);
  return rv;
}

static int op_get_records(op_ctx *c) {
  int status = 400;
  const char *it;
  int64_t limit = 10000;
  size_t idx, pos, issued;
  mock_stream *s;
  mock_shard *sh;
  size_t end;
  int64_t behind = 0;
  char num[32];

  if (need_str(c, "ShardIterator", &it, &status) < 0 ||
      get_int(c, "Limit", 1, 10000, &limit, &status) < 0) {
    return status;
  }
  if (parse_iterator(c->api, it, &s, &idx, &pos, &issued) != 0) {
    return fail(c, 400, "InvalidArgumentException", "Invalid ShardIterator.");
  }
  if (c->now - (int64_t)issued > c->api->cfg.iterator_lifetime_ms) {
    /* As Kinesis: an iterator is good for 5 minutes after it is issued. */
    return fail(c, 400, "ExpiredIteratorException",
                "Iterator expired. The iterator was created at time %lld "
                "while right now it is %lld which is further in the future "
                "than the tolerated delay of %lld milliseconds.",
                (long long)issued, (long long)c->now,
                (long long)c->api->cfg.iterator_lifetime_ms);
  }
  sh = s->shards[idx];
  ++sh->stats.get_records_calls;
  mock_stats_time(&sh->stats.get_records_times, &sh->stats.nget_records_times,
                  c->now);
  {
    /* The oldest of the last five calls less than a second ago: a sixth
       call within a second. */
    int64_t *oldest = &sh->stats.get_records_recent[sh->stats.get_records_next];
    if (c->now - *oldest < 1000) {
      ++sh->stats.get_records_throttled;
      return fail(
          c, 400, "ProvisionedThroughputExceededException",
          "Rate exceeded for shard %s in stream %s under account " ACCOUNT ".",
          sh->id, s->name);
    }
    *oldest = c->now;
    sh->stats.get_records_next = (sh->stats.get_records_next + 1) % 5;
  }
  end = mock_api_batch_end(sh, (size_t)pos, (size_t)limit);
  sh->stats.records_sent += end - (size_t)pos;
  if (end < sh->nrecords) {
    behind = c->now - sh->records[sh->nrecords - 1].arrival_ms;
    behind = behind < 0 ? 0 : behind;
  }
  kefo__buf_reset(c->out);
  if (kefo__buf_append_str(c->out, "{\"Records\":[") != 0 ||
      mock_api_write_records(c->out, sh, (size_t)pos, end) != 0) {
    return fail(c, 500, "InternalFailure", "out of memory");
  }
  snprintf(num, sizeof(num), "%lld", (long long)behind);
  kefo__buf_append_str(c->out, "],\"MillisBehindLatest\":");
  kefo__buf_append_str(c->out, num);
  if (sh->closed && end == sh->nrecords) {
    /* The shard's end: no more iterator, and where to go next. */
    kefo__buf_append_str(c->out,
                         ",\"NextShardIterator\":null,\"ChildShards\":");
    if (mock_api_write_child_shards(c->out, sh) != 0) {
      return fail(c, 500, "InternalFailure", "out of memory");
    }
  } else {
    char next[MOCK_MAX_NAME + 96];
    snprintf(next, sizeof(next), ITERATOR_PREFIX "%u:%zu:%lld:%s",
             (unsigned)sh->index, end, (long long)c->now, s->name);
    kefo__buf_append_str(c->out, ",\"NextShardIterator\":\"");
    kefo__buf_append_str(c->out, next);
    kefo__buf_append_str(c->out, "\"");
  }
  if (kefo__buf_append_str(c->out, "}") != 0) {
    return fail(c, 500, "InternalFailure", "out of memory");
  }
  return 200;
}

int mock_api_subscribe(mock_api *api, const uint8_t *body, size_t len,
                       int64_t now_ms, mock_subscribe_req *req, kefo_buf *out) {
  op_ctx ctx = {api, NULL, now_ms, out};
  op_ctx *c = &ctx;
  const char *arn, *shard_id;
  const cJSON *pos, *type;
  mock_consumer *k;
  mock_stream *s;
  mock_shard *sh;
  int status = 400;

  memset(req, 0, sizeof(*req));
  c->req = cJSON_ParseWithLength((const char *)body, len);
  if (!cJSON_IsObject(c->req)) {
    status = fail(c, 400, "SerializationException",
                  "the request body is not a JSON object");
    goto done;
  }
  if (need_str(c, "ConsumerARN", &arn, &status) < 0 ||
      need_str(c, "ShardId", &shard_id, &status) < 0) {
    goto done;
  }
  pos = cJSON_GetObjectItemCaseSensitive(c->req, "StartingPosition");
  type = cJSON_GetObjectItemCaseSensitive(pos, "Type");
  if (!cJSON_IsObject(pos) || !cJSON_IsString(type)) {
    status = fail(c, 400, "ValidationException",
                  "1 validation error detected: Value null at "
                  "'startingPosition.type' failed to satisfy constraint: "
                  "Member must not be null");
    goto done;
  }
  status = 200;
  k = mock_consumer_find_arn(&api->world, arn);
  if (!k) {
    req->exception = "ResourceNotFoundException";
    snprintf(req->message, sizeof(req->message),
             "Consumer %s under account " ACCOUNT " not found.", arn);
    goto done;
  }
  s = k->stream;
  sh = mock_shard_find(s, shard_id);
  if (!sh) {
    req->exception = "ResourceNotFoundException";
    snprintf(req->message, sizeof(req->message),
             "Shard %s in stream %s under account " ACCOUNT " does not exist",
             shard_id, s->name);
    goto done;
  }
  status = resolve_position(
      c, sh, type->valuestring,
      cJSON_GetObjectItemCaseSensitive(pos, "SequenceNumber"),
      cJSON_GetObjectItemCaseSensitive(pos, "Timestamp"), &req->start);
  if (status != 0) {
    goto done;
  }
  status = 200;
  if (mock_consumer_slots(k) != 0) {
    status = fail(c, 500, "InternalFailure", "out of memory");
    goto done;
  }
  ++sh->stats.subscribe_calls;
  mock_stats_time(&sh->stats.subscribe_times, &sh->stats.nsubscribe_times,
                  now_ms);
  if (mock_consumer_status_at(k, now_ms) != MOCK_CONSUMER_ACTIVE) {
    req->exception = "ResourceInUseException";
    snprintf(req->message, sizeof(req->message),
             "Consumer %s is not in ACTIVE state.", k->arn);
    goto done;
  }
  if (k->last_call_ms[sh->index] != 0 &&
      now_ms - k->last_call_ms[sh->index] < 1000) {
    ++sh->stats.limit_exceeded;
    req->exception = "LimitExceededException";
    snprintf(req->message, sizeof(req->message),
             "Subscribe to shard %s of consumer %s is rate limited: at most "
             "one call a second per consumer and shard.",
             sh->id, k->arn);
    goto done;
  }
  k->last_call_ms[sh->index] = now_ms;
  if (k->live[sh->index] > 0) {
    ++sh->stats.in_use;
    req->exception = "ResourceInUseException";
    snprintf(req->message, sizeof(req->message),
             "Another active subscription exists for consumer %s on shard "
             "%s.",
             k->arn, sh->id);
    goto done;
  }
  ++k->live[sh->index];
  req->consumer = k;
  req->shard = sh;
done:
  cJSON_Delete(c->req);
  return status;
}

typedef struct op_entry {
  const char *name;
  int (*fn)(op_ctx *c);
} op_entry;

static const op_entry ops[] = {
    {"CreateStream", op_create_stream},
    {"DescribeStreamSummary", op_describe_stream_summary},
    {"ListShards", op_list_shards},
    {"PutRecord", op_put_record},
    {"PutRecords", op_put_records},
    {"SplitShard", op_split_shard},
    {"MergeShards", op_merge_shards},
    {"RegisterStreamConsumer", op_register_consumer},
    {"DescribeStreamConsumer", op_describe_consumer},
    {"DeregisterStreamConsumer", op_deregister_consumer},
    {"ListStreamConsumers", op_list_consumers},
    {"GetShardIterator", op_get_shard_iterator},
    {"GetRecords", op_get_records},
};

static int run_op(mock_api *api, const op_entry *table, size_t n,
                  const char *op, const uint8_t *body, size_t len,
                  int64_t now_ms, kefo_buf *out) {
  op_ctx c = {api, NULL, now_ms, out};
  size_t i;
  int status;

  ++api->requests;
  for (i = 0; i < n && strcmp(table[i].name, op) != 0; ++i) {
  }
  if (i == n) {
    return fail(&c, 400, "UnknownOperationException", "unknown operation %s",
                op);
  }
  c.req = len ? cJSON_ParseWithLength((const char *)body, len)
              : cJSON_CreateObject();
  if (!cJSON_IsObject(c.req)) {
    cJSON_Delete(c.req);
    return fail(&c, 400, "SerializationException",
                "the request body of %s is not a JSON object", op);
  }
  status = table[i].fn(&c);
  cJSON_Delete(c.req);
  return status;
}

int mock_api_call(mock_api *api, const char *op, const uint8_t *body,
                  size_t len, int64_t now_ms, kefo_buf *out) {
  return run_op(api, ops, sizeof(ops) / sizeof(ops[0]), op, body, len, now_ms,
                out);
}

/* The settings KefoMock.Configure may change, with their bounds. Fault
   injection adds rows here. */
typedef struct config_field {
  const char *name;
  size_t offset;
  int64_t min, max;
} config_field;

static const config_field config_fields[] = {
    {"SubscriptionLifetimeMs", offsetof(mock_config, subscription_lifetime_ms),
     1, 86400000},
    {"IdleEventMs", offsetof(mock_config, idle_event_ms), 1, 3600000},
    {"ConsumerDelayMs", offsetof(mock_config, consumer_delay_ms), 0, 86400000},
    {"IteratorLifetimeMs", offsetof(mock_config, iterator_lifetime_ms), 1,
     86400000},
    {"PutRecordsFailPercent", offsetof(mock_config, put_fail_pct), 0, 100},
};
#define NCONFIG (sizeof(config_fields) / sizeof(config_fields[0]))

static int64_t *config_slot(mock_config *cfg, const config_field *f) {
  return (int64_t *)(void *)((char *)cfg + f->offset);
}

static cJSON *config_json(mock_api *api) {
  cJSON *o = cJSON_CreateObject();
  size_t i;

  for (i = 0; i < NCONFIG; ++i) {
    cJSON_AddNumberToObject(o, config_fields[i].name,
                            (double)*config_slot(&api->cfg, &config_fields[i]));
  }
  return o;
}

static int op_configure(op_ctx *c) {
  mock_config next = c->api->cfg;
  const cJSON *it;
  size_t i;
  cJSON *o;

  /* All or nothing: check every member before changing anything. */
  cJSON_ArrayForEach(it, c->req) {
    for (i = 0; i < NCONFIG && strcmp(config_fields[i].name, it->string); ++i) {
    }
    if (i == NCONFIG) {
      return fail(c, 400, "ValidationException", "unknown setting %s",
                  it->string);
    }
    if (!cJSON_IsNumber(it) || it->valuedouble < (double)config_fields[i].min ||
        it->valuedouble > (double)config_fields[i].max) {
      return fail(c, 400, "ValidationException",
                  "%s must be a number from %lld to %lld", it->string,
                  (long long)config_fields[i].min,
                  (long long)config_fields[i].max);
    }
    *config_slot(&next, &config_fields[i]) = (int64_t)it->valuedouble;
  }
  c->api->cfg = next;
  o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "Config", config_json(c->api));
  return reply(c, o);
}

static cJSON *times_json(const int64_t *t, size_t n) {
  cJSON *a = cJSON_CreateArray();
  size_t i;

  for (i = 0; i < n; ++i) {
    cJSON_AddItemToArray(a, cJSON_CreateNumber((double)t[i]));
  }
  return a;
}

static int op_stats(op_ctx *c) {
  cJSON *o = cJSON_CreateObject(), *streams, *so, *shards, *sho, *x;
  mock_stream *s;
  size_t i;

  streams = cJSON_AddObjectToObject(o, "Streams");
  for (s = c->api->world.streams; s; s = s->next) {
    so = cJSON_AddObjectToObject(streams, s->name);
    cJSON_AddStringToObject(so, "StreamARN", s->arn);
    cJSON_AddNumberToObject(so, "Records", (double)s->nrecords);
    shards = cJSON_AddObjectToObject(so, "Shards");
    for (i = 0; i < s->nshards; ++i) {
      const mock_shard *sh = s->shards[i];
      sho = cJSON_AddObjectToObject(shards, sh->id);
      cJSON_AddNumberToObject(sho, "Records", (double)sh->nrecords);
      cJSON_AddBoolToObject(sho, "Closed", sh->closed);
      x = cJSON_AddObjectToObject(sho, "SubscribeToShard");
      cJSON_AddNumberToObject(x, "Calls", (double)sh->stats.subscribe_calls);
      cJSON_AddItemToObject(
          x, "TimesMs",
          times_json(sh->stats.subscribe_times, sh->stats.nsubscribe_times));
      cJSON_AddNumberToObject(x, "LimitExceeded",
                              (double)sh->stats.limit_exceeded);
      cJSON_AddNumberToObject(x, "ResourceInUse", (double)sh->stats.in_use);
      x = cJSON_AddObjectToObject(sho, "GetRecords");
      cJSON_AddNumberToObject(x, "Calls", (double)sh->stats.get_records_calls);
      cJSON_AddNumberToObject(x, "Throttled",
                              (double)sh->stats.get_records_throttled);
      cJSON_AddNumberToObject(sho, "GetShardIteratorCalls",
                              (double)sh->stats.get_iterator_calls);
      cJSON_AddNumberToObject(sho, "RecordsSent",
                              (double)sh->stats.records_sent);
      cJSON_AddItemToObject(x, "TimesMs",
                            times_json(sh->stats.get_records_times,
                                       sh->stats.nget_records_times));
    }
  }
  cJSON_AddItemToObject(o, "Config", config_json(c->api));
  cJSON_AddItemToObject(o, "Fault", mock_fault_json(&c->api->fault));
  cJSON_AddNumberToObject(o, "Connections", (double)c->api->connections);
  cJSON_AddNumberToObject(o, "Requests", (double)c->api->requests);
  cJSON_AddNumberToObject(o, "PutRecordsFailed", (double)c->api->put_failed);
  cJSON_AddNumberToObject(o, "CborRequests", (double)c->api->cbor_requests);
  return reply(c, o);
}

/* Arms a fault (see mock_fault.h); {"Kind":"none"} disarms. */
static int op_fault(op_ctx *c) {
  char err[256];
  cJSON *o;

  if (mock_fault_arm(&c->api->fault, c->req, err, sizeof(err)) != 0) {
    return fail(c, 400, "ValidationException", "%s", err);
  }
  o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "Fault", mock_fault_json(&c->api->fault));
  return reply(c, o);
}

static const op_entry control_ops[] = {
    {"Stats", op_stats},
    {"Configure", op_configure},
    {"Fault", op_fault},
};

int mock_api_control(mock_api *api, const char *op, const uint8_t *body,
                     size_t len, int64_t now_ms, kefo_buf *out) {
  return run_op(api, control_ops, sizeof(control_ops) / sizeof(control_ops[0]),
                op, body, len, now_ms, out);
}
