/*
 * The mock's JSON operations: a Kinesis_20131202.<Op> request body in, an
 * HTTP status and a JSON body out, applied to the model in mock_stream.h.
 * Also the KefoMock.* control operations (counters and runtime settings)
 * and the record encoder that GetRecords and SubscribeToShard share.
 */
#ifndef KEFO_MOCK_API_H
#define KEFO_MOCK_API_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "tests/support/mock/mock_fault.h"
#include "tests/support/mock/mock_stream.h"

/* Settings that tests may change at runtime through KefoMock.Configure.
   Fault injection will add its fields here and to the table in
   mock_api.c; nothing else needs to change to accept them. */
typedef struct mock_config {
  int64_t subscription_lifetime_ms;
  int64_t idle_event_ms;
  /* How long a new consumer stays CREATING. */
  int64_t consumer_delay_ms;
  /* How long a shard iterator is good for (Kinesis: 5 minutes). */
  int64_t iterator_lifetime_ms;
  /* How long every answer but SubscribeToShard's waits (0: none), as the
     round trip to a region's endpoint would (benchmarks' start-up). */
  int64_t api_latency_ms;
  /* Records whose data begin "t=" and 19 digits get CLOCK_MONOTONIC in
     nanoseconds there as their SubscribeToShardEvent is built, just
     before it goes to the socket (benchmarks' latency). */
  int stamp;
  /* Percent of PutRecords entries answered
     ProvisionedThroughputExceededException (and not stored), chosen by
     a fixed pseudo-random sequence: the partial failures a producer
     must retry alone. */
  int64_t put_fail_pct;
} mock_config;

typedef struct mock_api {
  mock_world world;
  mock_config cfg;
  /* The armed fault (KefoMock.Fault). */
  mock_fault fault;
  uint64_t connections;
  uint64_t requests;
  /* The state of put_fail_pct's pseudo-random sequence. */
  uint64_t put_rng;
  /* PutRecords entries failed that way. */
  uint64_t put_failed;
  /* Requests that came in CBOR (application/x-amz-cbor-1.1). */
  uint64_t cbor_requests;
} mock_api;

/* What SubscribeToShard asks for, once checked. */
typedef struct mock_subscribe_req {
  mock_consumer *consumer;
  mock_shard *shard;
  size_t start; /* record index the subscription starts at */
  /* Set when the answer is an exception event rather than a stream. */
  const char *exception;
  char message[1024];
} mock_subscribe_req;

void mock_api_init(mock_api *api);
void mock_api_free(mock_api *api);

/*
 * Runs the operation |op| (the part of x-amz-target after the dot) with
 * the JSON request |body|. Writes the response body to |out| and returns
 * the HTTP status (200, 400 or 500). |body| need not be NUL-terminated.
 */
int mock_api_call(mock_api *api, const char *op, const uint8_t *body,
                  size_t len, int64_t now_ms, kefo_buf *out);

/* The control operations (x-amz-target KefoMock.<op>): Stats, Configure,
   Fault. */
int mock_api_control(mock_api *api, const char *op, const uint8_t *body,
                     size_t len, int64_t now_ms, kefo_buf *out);

/*
 * Checks a SubscribeToShard request. Returns 400 with an error body in
 * |out| when the request itself is malformed; otherwise 200, with
 * |req->exception| NULL for a subscription to start (the consumer's live
 * count is already raised) or naming the exception event to send.
 */
int mock_api_subscribe(mock_api *api, const uint8_t *body, size_t len,
                       int64_t now_ms, mock_subscribe_req *req, kefo_buf *out);

/*
 * The shard a request to |op| names (its ShardId, or for GetRecords its
 * iterator's shard) into |id| (|cap| bytes). Returns 0, or -1 when it
 * names none that the model knows.
 */
int mock_api_request_shard(mock_api *api, const char *op, const uint8_t *body,
                           size_t len, char *id, size_t cap);

/* An AWS JSON error body: {"__type":type,"message":message}. */
int mock_api_error(kefo_buf *out, const char *type, const char *message);

/*
 * Appends records [from, to) of |sh| to |out| as JSON objects separated by
 * commas (no brackets), Data in base64.
 */
int mock_api_write_records(kefo_buf *out, const mock_shard *sh, size_t from,
                           size_t to);
/* Appends the ChildShards array of |sh| ("[]" while it is open). */
int mock_api_write_child_shards(kefo_buf *out, const mock_shard *sh);

/* The last record index of an event or GetRecords answer starting at
   |from|: at most |max_records| records and about 1 MiB of data. */
size_t mock_api_batch_end(const mock_shard *sh, size_t from,
                          size_t max_records);

#endif /* KEFO_MOCK_API_H */
