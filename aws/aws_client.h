/*
 * AWS JSON API calls (Kinesis: application/x-amz-json-1.1, DynamoDB:
 * 1.0): credentials, SigV4, the request over the right HTTP version, the
 * JSON answer, AWS errors classified retryable or not, and retries with
 * backoff and full jitter. Asynchronous on the client's event loop.
 */
#ifndef KEFO_AWS_CLIENT_H
#define KEFO_AWS_CLIENT_H

#include <cjson/cJSON.h>

#include "aws/credentials.h"
#include "aws/http.h"
#include "aws/region.h"
#include "base/buf.h"
#include "base/retry.h"
#include "aws/sigv4.h"

/* The content type of AWS's CBOR protocol: a call sent with it is
   answered in CBOR, which the client reads into JSON for its owner. */
#define KEFO_AWS_CBOR "application/x-amz-cbor-1.1"

/* One AWS service as kefo talks to it. */
typedef struct kefo_aws_service {
  /* The SigV4 service name: "kinesis", "dynamodb". */
  const char *signing_name;
  /* X-Amz-Target prefix: "Kinesis_20131202", "DynamoDB_20120810". */
  const char *target_prefix;
  /* "application/x-amz-json-1.1" (Kinesis) or "...-1.0" (DynamoDB), or
     KEFO_AWS_CBOR for a Kinesis call whose body is CBOR. */
  const char *content_type;
  kefo_http_version version;
  kefo_endpoint endpoint;
  char region[KEFO_REGION_MAX];
} kefo_aws_service;

/*
 * Fills |svc| for Kinesis (HTTP/2) or DynamoDB (HTTP/1.1) at |endpoint_url|
 * in |region|.
 *
 * Returns 0, KEFO_ERR_CONFIG (bad URL or region) or
 * KEFO_ERR_INVALID_ARGUMENT.
 */
int kefo__aws_service_kinesis(kefo_aws_service *svc, const char *endpoint_url,
                              const char *region);
int kefo__aws_service_dynamodb(kefo_aws_service *svc, const char *endpoint_url,
                               const char *region);

typedef struct kefo_aws_client kefo_aws_client;

/*
 * Creates a client that sends through |http| with credentials from
 * |creds| (neither owned; both must outlive it). |clock| and |mem| may be
 * NULL.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
int kefo__aws_client_new(kefo_aws_client **out, struct event_base *base,
                         kefo_http_client *http,
                         kefo_credentials_provider *creds,
                         const kefo_clock *clock, const kefo_mem *mem);

/* Frees |client|; calls in flight must have been cancelled or ended. */
void kefo__aws_client_del(kefo_aws_client *client);

/*
 * Hears of every failed attempt that a call will make again, before the
 * retry waits: |info| (lent: valid only during the call) is that failure,
 * retryable 1, its message naming the operation, the cause, the wait and
 * the attempt to come ("ListShards: cannot connect to 127.0.0.1:4568:
 * Connection refused, retrying in 1.2 s (attempt 3 of 10)"). The owner
 * may cancel calls, that one included, from inside it.
 */
typedef void (*kefo_aws_retry_cb)(const kefo_error_info *info, void *user_data);

/*
 * Sets the client's |cb| (NULL: none) for every call's retries: an
 * endpoint that cannot be reached is then seen at the first refusal, not
 * once the whole retry budget is spent. Calls of one attempt (their owner
 * paces its own retries: the polling reader) never call it.
 */
void kefo__aws_client_set_retry_cb(kefo_aws_client *client,
                                   kefo_aws_retry_cb cb, void *user_data);

/*
 * The outcome of a call, once: |error| 0 and |response| (the parsed JSON,
 * lent: valid only during the callback), or a KEFO_ERR_* code with |info|:
 * for AWS errors KEFO_ERR_AWS, info->aws_type (namespace removed, such as
 * "ResourceNotFoundException"), info->message, info->http_status, and
 * info->retryable. DynamoDB's failed conditions come as KEFO_ERR_AWS with
 * aws_type "ConditionalCheckFailedException", never retried. A call whose
 * strategy allows more than one attempt and has spent them all ends with
 * retryable 0 and a message saying so ("... (gave up after 10
 * attempts)"): retrying was done here. A call of one attempt keeps the
 * failure's own flag, for its owner to retry.
 */
typedef void (*kefo_aws_cb)(int error, const cJSON *response,
                            const kefo_error_info *info, void *user_data);

typedef struct kefo_aws_call kefo_aws_call;

/*
 * Calls |operation| of |svc| (which must outlive the call) with |body|
 * (serialised at once; NULL means {}), retrying what is retryable under
 * |retry| (NULL: the default strategy). |cb| runs from the loop, never
 * inside this call. |out| may be NULL.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM (then |cb| is
 * never called).
 */
int kefo__aws_call_start(kefo_aws_client *client, const kefo_aws_service *svc,
                         const char *operation, const cJSON *body,
                         const kefo_retry_strategy *retry, kefo_aws_cb cb,
                         void *user_data, kefo_aws_call **out);

/*
 * The outcome of a call started with kefo__aws_call_start_raw, once: |error|
 * 0 and the HTTP 200 answer's |body| of |len| bytes (lent: valid only
 * during the callback), not parsed nor checked, for the owner to read
 * without a JSON tree (JSON, or CBOR for a call sent as KEFO_AWS_CBOR:
 * its first byte tells); or the failure, as for kefo_aws_cb (|body|
 * NULL).
 */
typedef void (*kefo_aws_raw_cb)(int error, const uint8_t *body, size_t len,
                                const kefo_error_info *info, void *user_data);

/*
 * kefo__aws_call_start with the answer handed on as bytes (|cb| above):
 * for GetRecords, whose answers the polling reader reads with the same
 * tree-less reader as SubscribeToShard events. A 200 answer that is not
 * JSON is then the owner's to refuse (it is not retried here). Errors are
 * read and retried as kefo__aws_call_start's.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM (then |cb| is
 * never called).
 */
int kefo__aws_call_start_raw(kefo_aws_client *client,
                             const kefo_aws_service *svc, const char *operation,
                             const cJSON *body,
                             const kefo_retry_strategy *retry,
                             kefo_aws_raw_cb cb, void *user_data,
                             kefo_aws_call **out);

/*
 * kefo__aws_call_start_raw with a body already written (JSON text, or
 * CBOR): the |len| bytes at |body|, lent (neither copied nor freed here)
 * until |cb| has run or the call is cancelled. For PutRecords: the
 * producer writes each call's body into a buffer it keeps and reuses, so
 * that a call neither copies megabytes nor maps and faults in fresh pages
 * for them. |payload_hash| is the body's SHA-256 in 64 lowercase hex
 * digits, which the producer makes for all the calls of a pass at once
 * (aws/sha256_many.h), or NULL: made at the first attempt. Either way a
 * retry signs with it and does not hash the body again.
 *
 * |sent| (NULL: not told), for a call of one attempt only (|retry|'s
 * max_attempts 1, which nothing sends again): called with |user_data|
 * once the body is wholly in the transport's hands
 * (kefo_http_callbacks.on_body_sent), after which the call never reads
 * it and its owner may reuse it before |cb| runs. It may run while the
 * HTTP client writes: it must not call into the client. Never after a
 * cancel.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (an empty body, |payload_hash|
 * not 64 lowercase hex digits, or |sent| with more than one attempt) or
 * KEFO_ERR_NOMEM (then |cb| is never called).
 */
typedef void (*kefo_aws_sent_cb)(void *user_data);

int kefo__aws_call_start_lent(kefo_aws_client *client,
                              const kefo_aws_service *svc,
                              const char *operation, const uint8_t *body,
                              size_t len, const char *payload_hash,
                              const kefo_retry_strategy *retry,
                              kefo_aws_raw_cb cb, kefo_aws_sent_cb sent,
                              void *user_data, kefo_aws_call **out);
/* Cancels a call: |cb| will not be called. */
void kefo__aws_call_cancel(kefo_aws_call *call);

/*
 * Signs a POST of |body| (|body_len| bytes, lent until the stream closes)
 * to |svc| for |operation| with |creds| (content-type, x-amz-target,
 * x-amz-date, x-amz-security-token when a session token, authorization)
 * and starts it on the client's HTTP client with |cb| and |user_data|,
 * storing the stream in |*stream|. On failure |*why| says which step
 * failed. Used by calls and by SubscribeToShard.
 *
 * Returns 0, the error of kefo__sigv4_sign or that of
 * kefo__http_client_request.
 */
int kefo__aws_send_json(kefo_aws_client *client, const kefo_aws_service *svc,
                        const char *operation, const kefo_credentials *creds,
                        const uint8_t *body, size_t body_len,
                        const kefo_http_callbacks *cb, void *user_data,
                        kefo_http_stream **stream, const char **why);

/*
 * Fills |info| for an AWS error answer |j| (NULL when not JSON) with HTTP
 * |status| to |operation|: KEFO_ERR_AWS, aws_type (points into |j|),
 * retryable, and a message written to |msg| naming the operation, status,
 * type and AWS's message.
 */
void kefo__aws_error_from_json(kefo_error_info *info, char *msg, size_t msglen,
                               const char *operation, int status,
                               const cJSON *j);

/* Replaces every control byte of the NUL-terminated |s| by '?': a
   server's words go to logs, where a newline could forge a line and an
   escape sequence drive a terminal. */
void kefo__aws_printable(char *s);

/* The type of an AWS JSON error body ("__type" without its namespace:
   "com.amazonaws.kinesis.v20131202#ResourceNotFoundException" gives
   "ResourceNotFoundException"), or NULL; points into |j|. */
const char *kefo__aws_json_error_type(const cJSON *j);

/* The "message" (or "Message") of an AWS JSON error body, or NULL. */
const char *kefo__aws_json_error_message(const cJSON *j);

/* Returns 1 when an AWS error of |type| with HTTP |status| is worth
   retrying (throttling, internal failures, 5xx, and the credential
   refusals of kefo__aws_error_credentials), else 0. */
int kefo__aws_error_retryable(const char *type, int status);

/* Returns 1 when |type| says the request's credentials or signature were
   refused in a way new credentials or a new signature may cure (an
   expired token, a request signed too long ago, a signature that does
   not match): the caller invalidates its credentials and retries, within
   its retry budget, so that a wrong secret still fails in the end. */
int kefo__aws_error_credentials(const char *type);

/* Milliseconds of wall-clock time from the client's clock. */
int64_t kefo__aws_client_now_ms(const kefo_aws_client *client);

/* The client's credentials provider, HTTP client and allocator. */
kefo_credentials_provider *kefo__aws_client_credentials(kefo_aws_client *c);
kefo_http_client *kefo__aws_client_http(kefo_aws_client *c);
const kefo_mem *kefo__aws_client_mem(const kefo_aws_client *c);
struct event_base *kefo__aws_client_base(const kefo_aws_client *c);
const kefo_clock *kefo__aws_client_clock(const kefo_aws_client *c);

#endif /* KEFO_AWS_CLIENT_H */
