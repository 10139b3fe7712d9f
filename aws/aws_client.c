/*
 * AWS JSON calls: get credentials, sign, send, collect a bounded body,
 * parse it, classify errors, retry with backoff. Each attempt starts from
 * a timer, so no callback ever runs inside kefo__aws_call_start.
 */
#include "aws/aws_client.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "aws/region.h"
#include "base/cbor.h"
#include "base/log.h"
#include "base/buf.h"
#include "base/clock.h"

/* GetRecords returns up to 10 MB of data, base64 in JSON: about 14 MB. */
#define MAX_RESPONSE (32u << 20)

struct kefo_aws_client {
  const kefo_mem *mem;
  struct event_base *base;
  kefo_http_client *http;
  kefo_credentials_provider *creds;
  const kefo_clock *clock;
  kefo_sigv4_key key_cache;
  kefo_aws_retry_cb retry_cb;
  void *retry_ud;
};

struct kefo_aws_call {
  kefo_aws_client *client;
  const kefo_aws_service *svc;
  char operation[64];
  char *body;
  size_t body_len;
  int body_lent; /* |body| is the caller's (kefo__aws_call_start_lent) */
  /* Told once the body is in the transport's hands; then |body| is
     NULL: its owner may have reused it. */
  kefo_aws_sent_cb sent_cb;
  /* The hex SHA-256 of |body|, given or made at the first attempt: every
     attempt signs the same bytes, so a retry does not hash them again.
     Empty until then. */
  char payload_hash[KEFO_SIGV4_HEX_LEN + 1];
  kefo_retry_strategy retry;
  uint32_t attempts;
  kefo_aws_cb cb;
  kefo_aws_raw_cb raw_cb; /* instead of cb: the answer without a tree */
  void *user_data;
  struct event *timer;
  kefo_http_stream *stream;
  int status;
  kefo_buf response;
  /* The answer is CBOR (its content-type said so): it is read into JSON
     before anything parses it. */
  int cbor_answer;
  /* Why on_data stopped the stream: too large, or out of memory. */
  int data_error;
  int waiting_credentials;
  int cancelled;
  /* Inside the client's retry callback: a cancel there only marks the
     call, which is freed once the callback returns. */
  int reporting;
};

static int set_service(kefo_aws_service *svc, const char *url,
                       const char *region) {
  if (svc == NULL || url == NULL || region == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (!kefo__region_valid(region)) {
    return KEFO_ERR_CONFIG;
  }
  memcpy(svc->region, region, strlen(region) + 1);
  return kefo__endpoint_parse(&svc->endpoint, url);
}

int kefo__aws_service_kinesis(kefo_aws_service *svc, const char *url,
                              const char *region) {
  int rv = set_service(svc, url, region);

  if (rv == 0) {
    svc->signing_name = "kinesis";
    svc->target_prefix = "Kinesis_20131202";
    svc->content_type = "application/x-amz-json-1.1";
    svc->version = KEFO_HTTP_2;
  }
  return rv;
}

int kefo__aws_service_dynamodb(kefo_aws_service *svc, const char *url,
                               const char *region) {
  int rv = set_service(svc, url, region);

  if (rv == 0) {
    svc->signing_name = "dynamodb";
    svc->target_prefix = "DynamoDB_20120810";
    svc->content_type = "application/x-amz-json-1.0";
    svc->version = KEFO_HTTP_1_1;
  }
  return rv;
}

int kefo__aws_client_new(kefo_aws_client **out, struct event_base *base,
                         kefo_http_client *http,
                         kefo_credentials_provider *creds,
                         const kefo_clock *clock, const kefo_mem *mem) {
  kefo_aws_client *c;

  if (out == NULL || base == NULL || http == NULL || creds == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__mem_or_default(mem);
  c = kefo__mem_calloc(mem, 1, sizeof(*c));
  if (c == NULL) {
    return KEFO_ERR_NOMEM;
  }
  c->mem = mem;
  c->base = base;
  c->http = http;
  c->creds = creds;
  c->clock = kefo__clock_or_system(clock);
  kefo__sigv4_key_init(&c->key_cache);
  *out = c;
  return 0;
}

void kefo__aws_client_del(kefo_aws_client *c) {
  if (c == NULL) {
    return;
  }
  kefo__sigv4_key_free(&c->key_cache);
  kefo__mem_free(c->mem, c);
}

void kefo__aws_client_set_retry_cb(kefo_aws_client *c, kefo_aws_retry_cb cb,
                                   void *user_data) {
  c->retry_cb = cb;
  c->retry_ud = user_data;
}

int64_t kefo__aws_client_now_ms(const kefo_aws_client *c) {
  return c->clock->wall_ms(c->clock->user_data);
}

kefo_credentials_provider *kefo__aws_client_credentials(kefo_aws_client *c) {
  return c->creds;
}

kefo_http_client *kefo__aws_client_http(kefo_aws_client *c) {
  return c->http;
}

const kefo_mem *kefo__aws_client_mem(const kefo_aws_client *c) {
  return c->mem;
}

struct event_base *kefo__aws_client_base(const kefo_aws_client *c) {
  return c->base;
}

const kefo_clock *kefo__aws_client_clock(const kefo_aws_client *c) {
  return c->clock;
}

int kefo__aws_error_credentials(const char *type) {
  static const char *const refused[] = {
      "ExpiredTokenException",     "ExpiredToken",          "RequestExpired",
      "InvalidSignatureException", "SignatureDoesNotMatch",
  };
  size_t i;

  for (i = 0; type != NULL && i < sizeof(refused) / sizeof(refused[0]); ++i) {
    if (strcmp(type, refused[i]) == 0) {
      return 1;
    }
  }
  return 0;
}

int kefo__aws_error_retryable(const char *type, int status) {
  static const char *const retryable[] = {
      "ProvisionedThroughputExceededException",
      "LimitExceededException",
      "ThrottlingException",
      "Throttling",
      "ThrottledException",
      "RequestLimitExceeded",
      "TooManyRequestsException",
      "RequestThrottled",
      "RequestThrottledException",
      "KMSThrottlingException",
      "InternalFailure",
      "InternalFailureException",
      "InternalServerError",
      "ServiceUnavailable",
      "ServiceUnavailableException",
      "TransactionInProgressException",
  };
  size_t i;

  if (status >= 500 || status == 429) {
    return 1;
  }
  if (type == NULL) {
    return 0;
  }
  if (kefo__aws_error_credentials(type)) {
    return 1;
  }
  for (i = 0; i < sizeof(retryable) / sizeof(retryable[0]); ++i) {
    if (strcmp(type, retryable[i]) == 0) {
      return 1;
    }
  }
  return 0;
}

/* The signed headers of a POST of |body| to |svc| for |operation|: |res|
   and |target| hold the strings, |hs| (room for 8) gets them, |*n| counts
   them. */
static int sign_json(kefo_aws_client *c, const kefo_aws_service *svc,
                     const char *operation, const kefo_credentials *creds,
                     const uint8_t *body, size_t body_len,
                     const char *payload_hash, kefo_sigv4_result *res,
                     char *target, size_t targetlen, kefo_http_header *hs,
                     size_t *n) {
  kefo_sigv4_header sh[3];
  kefo_sigv4_request req;
  kefo_sigv4_params params;
  kefo_sigv4_credentials sc;
  size_t i, k = 0;
  int rv;

  snprintf(target, targetlen, "%s.%s", svc->target_prefix, operation);
  sh[0].name = "content-type";
  sh[0].value = svc->content_type;
  sh[1].name = "host";
  sh[1].value = svc->endpoint.authority;
  sh[2].name = "x-amz-target";
  sh[2].value = target;
  for (i = 0; i < 3; ++i) {
    sh[i].namelen = strlen(sh[i].name);
    sh[i].valuelen = strlen(sh[i].value);
  }
  memset(&req, 0, sizeof(req));
  req.method = "POST";
  req.path = "/";
  req.query = "";
  req.headers = sh;
  req.nheaders = 3;
  req.body = body;
  req.bodylen = body_len;
  req.payload_hash = payload_hash;
  memset(&params, 0, sizeof(params));
  sc.access_key_id = creds->access_key_id;
  sc.secret_access_key = creds->secret_access_key;
  sc.session_token = creds->session_token;
  params.credentials = &sc;
  params.region = svc->region;
  params.service = svc->signing_name;
  params.time = kefo__aws_client_now_ms(c) / 1000;
  rv = kefo__sigv4_sign(res, &req, &params, &c->key_cache, c->mem);
  if (rv != 0) {
    return rv;
  }
  hs[k].name = "content-type";
  hs[k++].value = svc->content_type;
  hs[k].name = "x-amz-target";
  hs[k++].value = target;
  for (i = 0; i < res->nheaders; ++i) {
    hs[k].name = res->headers[i].name;
    hs[k++].value = res->headers[i].value;
  }
  *n = k;
  return 0;
}

/* kefo__aws_send_json, with the body lent to the stream (|lent|: it
   outlives the stream) or copied by it, and its hex SHA-256 given
   (|payload_hash|) or NULL: made here. */
static int send_json(kefo_aws_client *c, const kefo_aws_service *svc,
                     const char *operation, const kefo_credentials *creds,
                     const uint8_t *body, size_t body_len,
                     const char *payload_hash, int lent,
                     const kefo_http_callbacks *cb, void *user_data,
                     kefo_http_stream **stream, const char **why) {
  kefo_sigv4_result res;
  kefo_http_header hs[8];
  kefo_http_request req;
  char target[128];
  size_t n;
  int rv;

  rv = sign_json(c, svc, operation, creds, body, body_len, payload_hash, &res,
                 target, sizeof(target), hs, &n);
  if (rv != 0) {
    *why = "the request cannot be signed";
    return rv;
  }
  memset(&req, 0, sizeof(req));
  req.endpoint = &svc->endpoint;
  req.version = svc->version;
  req.method = "POST";
  req.path = "/";
  req.headers = hs;
  req.nheaders = n;
  req.body = body;
  req.body_len = body_len;
  req.body_lent = lent;
  rv = kefo__http_client_request(c->http, &req, cb, user_data, stream);
  kefo__sigv4_result_free(&res);
  if (rv != 0) {
    *why = "cannot start the request";
  }
  return rv;
}

int kefo__aws_send_json(kefo_aws_client *c, const kefo_aws_service *svc,
                        const char *operation, const kefo_credentials *creds,
                        const uint8_t *body, size_t body_len,
                        const kefo_http_callbacks *cb, void *user_data,
                        kefo_http_stream **stream, const char **why) {
  return send_json(c, svc, operation, creds, body, body_len, NULL, 0, cb,
                   user_data, stream, why);
}

void kefo__aws_printable(char *s) {
  for (; *s; ++s) {
    if ((unsigned char)*s < 0x20 || *s == 0x7f) {
      *s = '?';
    }
  }
}

void kefo__aws_error_from_json(kefo_error_info *info, char *msg, size_t msglen,
                               const char *operation, int status,
                               const cJSON *j) {
  const char *text = kefo__aws_json_error_message(j);

  info->code = KEFO_ERR_AWS;
  info->http_status = status;
  info->aws_type = kefo__aws_json_error_type(j);
  info->retryable = kefo__aws_error_retryable(info->aws_type, status);
  snprintf(msg, msglen, "%s failed: HTTP %d %s: %s", operation, status,
           info->aws_type ? info->aws_type : "(no error type)",
           text ? text : "(no message)");
  /* AWS's answer to a bad signature quotes the canonical request, the
     session token's value among its headers: never handed on. */
  kefo__log_redact_values(msg, msglen);
  kefo__aws_printable(msg);
  info->message = msg;
}

static void call_free(kefo_aws_call *call) {
  kefo_aws_client *c = call->client;

  if (call->timer) {
    event_free(call->timer);
  }
  kefo__buf_free(&call->response);
  if (!call->body_lent) {
    kefo__mem_free(c->mem, call->body);
  }
  kefo__mem_free(c->mem, call);
}

static void schedule(kefo_aws_call *call, int64_t delay_ms) {
  struct timeval tv;

  kefo__timeval_ms(&tv, delay_ms);
  event_add(call->timer, &tv);
}

/* Ends the call for good: the owner hears once, and the call is freed. */
static void finish(kefo_aws_call *call, int error, const cJSON *json,
                   const kefo_error_info *info) {
  if (!call->cancelled) {
    if (call->raw_cb) {
      call->raw_cb(error, NULL, 0, info, call->user_data);
    } else {
      call->cb(error, json, info, call->user_data);
    }
  }
  call_free(call);
}

/* |info|'s message led by the call's operation, unless it names it
   already (AWS errors do): a transport error alone ("cannot connect to
   ...") does not say which call failed. */
static void name_call(const kefo_aws_call *call, const kefo_error_info *info,
                      char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void name_call(const kefo_aws_call *call, const kefo_error_info *info,
                      char *out, size_t cap, const char *fmt, ...) {
  const char *text = info->message ? info->message : "";
  size_t oplen = strlen(call->operation);
  int named = strncmp(text, call->operation, oplen) == 0;
  int n;
  va_list ap;

  n = snprintf(out, cap, "%s%s%s", named ? "" : call->operation,
               named ? "" : ": ", text);
  if (n >= 0 && (size_t)n < cap) {
    va_start(ap, fmt);
    vsnprintf(out + n, cap - (size_t)n, fmt, ap);
    va_end(ap);
  }
  kefo__aws_printable(out);
}

/*
 * Retries when the error allows and attempts remain, telling the client's
 * retry callback first; else ends. The wait is the strategy's, or the
 * HTTP client's own reconnect backoff for the endpoint when that is
 * longer, so that "retrying in" says when the next attempt really goes.
 */
static void fail_or_retry(kefo_aws_call *call, int error,
                          kefo_error_info *info) {
  kefo_aws_client *c = call->client;
  int64_t delay = -1, wait;
  char msg[900];

  if (kefo__aws_error_credentials(info->aws_type)) {
    kefo__credentials_provider_invalidate(c->creds);
  }
  if (info->retryable) {
    delay = kefo__retry_delay_ms(&call->retry, call->attempts, c->clock);
  }
  if (delay >= 0) {
    wait = kefo__http_client_wait_ms(c->http, &call->svc->endpoint,
                                     call->svc->version);
    if (wait > delay) {
      delay = wait;
    }
    if (c->retry_cb) {
      if (call->retry.max_attempts) {
        name_call(call, info, msg, sizeof(msg),
                  ", retrying in %.1f s (attempt %u of %u)",
                  (double)delay / 1000, call->attempts + 1,
                  call->retry.max_attempts);
      } else {
        name_call(call, info, msg, sizeof(msg),
                  ", retrying in %.1f s (attempt %u)", (double)delay / 1000,
                  call->attempts + 1);
      }
      info->message = msg;
      info->operation = call->operation;
      call->reporting = 1;
      c->retry_cb(info, c->retry_ud);
      call->reporting = 0;
      if (call->cancelled) {
        call_free(call);
        return;
      }
    }
    kefo__buf_reset(&call->response);
    call->status = 0;
    schedule(call, delay);
    return;
  }
  if (info->retryable && call->retry.max_attempts != 1) {
    /* Retried here until the budget ran out: final for the owner, which
       must not take the transport's "worth retrying" for an invitation
       to start the whole budget again. */
    name_call(call, info, msg, sizeof(msg), " (gave up after %u attempts)",
              call->attempts);
    info->message = msg;
    info->retryable = 0;
  }
  finish(call, error, NULL, info);
}

static int on_response(kefo_http_stream *s, int status,
                       const kefo_http_header *h, size_t n, void *ud) {
  kefo_aws_call *call = ud;
  size_t i;

  (void)s;
  call->status = status;
  call->cbor_answer = 0;
  for (i = 0; i < n; ++i) {
    const char *v = h[i].value;
    unsigned long long len = 0;

    if (v && strcasecmp(h[i].name, "content-type") == 0 &&
        strncasecmp(v, KEFO_AWS_CBOR, strlen(KEFO_AWS_CBOR)) == 0) {
      call->cbor_answer = 1;
    }
    if (strcasecmp(h[i].name, "content-length") != 0 || !v || !*v) {
      continue;
    }
    for (; *v >= '0' && *v <= '9' && len <= MAX_RESPONSE; ++v) {
      len = len * 10 + (unsigned)(*v - '0');
    }
    /* An answer announced past the cap is refused before a byte of it is
       kept: reading up to the cap first would make a transient buffer of
       32 MiB out of what is garbage, and the allocator may keep it. One
       within the cap gets its buffer once, at its size, instead of a
       chain of doublings. */
    if (len > MAX_RESPONSE) {
      call->data_error = KEFO_ERR_RESPONSE_TOO_LARGE;
      return -1;
    }
    if (*v == '\0' && kefo__buf_reserve(&call->response, (size_t)len) != 0) {
      call->data_error = KEFO_ERR_NOMEM;
      return -1;
    }
  }
  return 0;
}

static int on_data(kefo_http_stream *s, const uint8_t *data, size_t len,
                   void *ud) {
  kefo_aws_call *call = ud;

  kefo__http_stream_consume(s, len);
  if (len > MAX_RESPONSE - call->response.len) {
    call->data_error = KEFO_ERR_RESPONSE_TOO_LARGE;
    return -1;
  }
  if (kefo__buf_append(&call->response, data, len) != 0) {
    call->data_error = KEFO_ERR_NOMEM;
    return -1;
  }
  return 0;
}

const char *kefo__aws_json_error_type(const cJSON *j) {
  const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "__type");
  const char *hash;

  if (!cJSON_IsString(t)) {
    return NULL;
  }
  hash = strrchr(t->valuestring, '#');
  return hash ? hash + 1 : t->valuestring;
}

const char *kefo__aws_json_error_message(const cJSON *j) {
  const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");

  if (!cJSON_IsString(m)) {
    m = cJSON_GetObjectItemCaseSensitive(j, "Message");
  }
  return cJSON_IsString(m) ? m->valuestring : NULL;
}

/* Replaces a CBOR answer with its JSON text. Returns 0, or the error
   with |msg| saying what was wrong. */
static int cbor_answer_to_json(kefo_aws_call *call, char *msg, size_t msglen) {
  char why[200];
  kefo_buf json;
  int rv;

  kefo__buf_init(&json, call->response.mem);
  rv = kefo__cbor_to_json(call->response.data, call->response.len, MAX_RESPONSE,
                          &json, why, sizeof(why));
  if (rv != 0) {
    kefo__buf_free(&json);
    snprintf(msg, msglen, "%s answered with malformed CBOR (%zu bytes): %s",
             call->operation, call->response.len, why);
    return rv;
  }
  kefo__buf_free(&call->response);
  call->response = json;
  return 0;
}

static void on_close(kefo_http_stream *s, int error,
                     const kefo_error_info *tinfo, void *ud) {
  kefo_aws_call *call = ud;
  kefo_error_info info;
  cJSON *j = NULL;
  char msg[512];

  (void)s;
  call->stream = NULL;
  memset(&info, 0, sizeof(info));
  info.operation = call->operation;
  info.http_status = call->status;
  if (error != 0) {
    info.code = error;
    info.message = tinfo && tinfo->message ? tinfo->message : "";
    /* Out of memory in the transport passes as a dropped connection
       does: worth another attempt. */
    info.retryable = (tinfo && tinfo->retryable) || error == KEFO_ERR_NOMEM;
    if (error == KEFO_ERR_CALLBACK_FAILURE &&
        call->data_error == KEFO_ERR_RESPONSE_TOO_LARGE) {
      snprintf(msg, sizeof(msg), "response of %s larger than %u bytes",
               call->operation, MAX_RESPONSE);
      info.code = error = KEFO_ERR_RESPONSE_TOO_LARGE;
      info.message = msg;
      /* No answer of the APIs kefo calls comes near the limit (GetRecords
         returns at most 10 MiB of data): one that passes it was garbled
         on the way or by the server, and is asked for again within the
         retry budget. */
      info.retryable = 1;
    } else if (error == KEFO_ERR_CALLBACK_FAILURE &&
               call->data_error == KEFO_ERR_NOMEM) {
      snprintf(msg, sizeof(msg), "out of memory reading the response of %s",
               call->operation);
      info.code = error = KEFO_ERR_NOMEM;
      info.message = msg;
      /* Memory may come back: asked again within the retry budget, then
         left to the owner as worth retrying (the producer keeps the
         records until their TTL), as after a lost answer. */
      info.retryable = 1;
    }
    call->data_error = 0;
    fail_or_retry(call, error, &info);
    return;
  }
  /* A 200 answer to a raw call goes to its owner as it came (the
     producer reads CBOR answers without JSON); the rest is read as
     JSON. */
  if (call->cbor_answer && call->response.len > 0 &&
      !(call->status == 200 && call->raw_cb) &&
      (error = cbor_answer_to_json(call, msg, sizeof(msg))) != 0) {
    if (call->status == 200 || error == KEFO_ERR_NOMEM) {
      /* Retried as malformed JSON is (below); out of memory is not. */
      info.code = error == KEFO_ERR_NOMEM ? error : KEFO_ERR_BAD_RESPONSE;
      info.message = msg;
      info.retryable = error != KEFO_ERR_NOMEM;
      fail_or_retry(call, info.code, &info);
      return;
    }
    /* An error answer that cannot be read is classified by its status
       alone, as one that is not JSON. */
    kefo__buf_reset(&call->response);
  }
  error = 0;
  if (call->status == 200 && call->raw_cb) {
    /* The owner reads it: no tree is built. */
    if (!call->cancelled) {
      call->raw_cb(0, call->response.data, call->response.len, NULL,
                   call->user_data);
    }
    call_free(call);
    return;
  }
  if (call->response.len > 0) {
    j = cJSON_ParseWithLength((const char *)call->response.data,
                              call->response.len);
  } else if (call->status == 200) {
    j = cJSON_CreateObject(); /* some calls answer with no body */
  }
  if (call->status == 200 && j != NULL) {
    finish(call, 0, j, NULL);
    cJSON_Delete(j);
    return;
  }
  if (call->status == 200) {
    /* Retried within the budget: a body cut or garbled on the way (a
       proxy, a broken connection the server did not notice) is gone on
       the next try; a server that always answers so fails in the end. */
    info.code = KEFO_ERR_BAD_RESPONSE;
    snprintf(msg, sizeof(msg), "%s answered with malformed JSON (%zu bytes)",
             call->operation, call->response.len);
    info.message = msg;
    info.retryable = 1;
    fail_or_retry(call, KEFO_ERR_BAD_RESPONSE, &info);
    return;
  }
  kefo__aws_error_from_json(&info, msg, sizeof(msg), call->operation,
                            call->status, j);
  fail_or_retry(call, KEFO_ERR_AWS, &info);
  cJSON_Delete(j);
}

/* The body of a call of one attempt is no longer needed: nothing sends
   it again (fail_or_retry gives up after the first attempt). */
static void on_body_sent(kefo_http_stream *s, void *ud) {
  kefo_aws_call *call = ud;
  kefo_aws_sent_cb cb = call->sent_cb;

  (void)s;
  if (cb == NULL || call->cancelled) {
    return;
  }
  call->sent_cb = NULL;
  call->body = NULL;
  cb(call->user_data);
}

static const kefo_http_callbacks http_callbacks = {on_response, on_data,
                                                   on_close, on_body_sent};

static void on_credentials(int error, const kefo_credentials *creds,
                           const kefo_error_info *cinfo, void *ud) {
  kefo_aws_call *call = ud;
  kefo_error_info info;
  const char *why = NULL;
  int rv;

  call->waiting_credentials = 0;
  if (call->cancelled) {
    call_free(call);
    return;
  }
  memset(&info, 0, sizeof(info));
  info.operation = call->operation;
  if (error != 0) {
    info.code = error;
    info.message = cinfo && cinfo->message ? cinfo->message : "";
    info.retryable = cinfo ? cinfo->retryable : 0;
    fail_or_retry(call, error, &info);
    return;
  }
  if (call->body == NULL) {
    /* Given back after it was sent (on_body_sent): a call of one attempt
       never comes here again; should it, it fails rather than read what
       its owner reused. */
    info.code = KEFO_ERR_INVALID_STATE;
    info.message = "the request's body was given back after it was sent";
    finish(call, info.code, NULL, &info);
    return;
  }
  if (call->payload_hash[0] == '\0') {
    rv = kefo__sigv4_sha256_hex(call->payload_hash, sizeof(call->payload_hash),
                                (const uint8_t *)call->body, call->body_len);
    if (rv != 0) {
      call->payload_hash[0] = '\0';
      info.code = rv;
      info.message = "the request's body cannot be hashed";
      finish(call, rv, NULL, &info);
      return;
    }
  }
  /* The call's body outlives each attempt's stream (call_free cancels
     the stream first): lent, not copied. */
  rv =
      send_json(call->client, call->svc, call->operation, creds,
                (const uint8_t *)call->body, call->body_len, call->payload_hash,
                1, &http_callbacks, call, &call->stream, &why);
  if (rv != 0) {
    info.code = rv;
    info.message = why;
    /* Out of memory passes: the call goes the way of a transport error
       (retried while its budget lasts, then "worth retrying" for its
       owner; the producer retries until the records' TTL). A request
       that cannot be signed would fail the same way again. */
    info.retryable = rv == KEFO_ERR_NOMEM;
    fail_or_retry(call, rv, &info);
  }
}

static void attempt_cb(evutil_socket_t fd, short what, void *arg) {
  kefo_aws_call *call = arg;
  kefo_error_info info;
  int rv;

  (void)fd;
  (void)what;
  ++call->attempts;
  call->waiting_credentials = 1;
  rv =
      kefo__credentials_provider_get(call->client->creds, on_credentials, call);
  if (rv != 0) {
    call->waiting_credentials = 0;
    memset(&info, 0, sizeof(info));
    info.code = rv;
    info.operation = call->operation;
    info.message = "the credentials provider failed";
    finish(call, rv, NULL, &info);
  }
}

/* Starts a call whose body is the |len| bytes at |text|: copied, or lent
   when |lent| (then the caller keeps them until the call ends); its hex
   SHA-256 is |payload_hash|, checked by the caller, or NULL: made at the
   first attempt. */
static int call_start(kefo_aws_client *c, const kefo_aws_service *svc,
                      const char *operation, const char *text, size_t len,
                      int lent, const char *payload_hash,
                      const kefo_retry_strategy *retry, kefo_aws_cb cb,
                      kefo_aws_raw_cb raw_cb, void *user_data,
                      kefo_aws_call **out) {
  kefo_aws_call *call;

  if (c == NULL || svc == NULL || operation == NULL ||
      (cb == NULL && raw_cb == NULL) ||
      strlen(operation) >= sizeof(call->operation)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  call = kefo__mem_calloc(c->mem, 1, sizeof(*call));
  if (call == NULL) {
    return KEFO_ERR_NOMEM;
  }
  call->client = c;
  call->svc = svc;
  strcpy(call->operation, operation);
  call->cb = cb;
  call->raw_cb = raw_cb;
  call->user_data = user_data;
  kefo__buf_init(&call->response, c->mem);
  if (retry) {
    call->retry = *retry;
  } else {
    kefo__retry_default(&call->retry);
  }
  call->body_len = len;
  call->body_lent = lent;
  if (payload_hash != NULL) {
    memcpy(call->payload_hash, payload_hash, KEFO_SIGV4_HEX_LEN);
  }
  call->body =
      lent ? (char *)(uintptr_t)text : kefo__mem_malloc(c->mem, len + 1);
  call->timer = event_new(c->base, -1, 0, attempt_cb, call);
  if (call->body == NULL || call->timer == NULL) {
    call_free(call);
    return KEFO_ERR_NOMEM;
  }
  if (!lent) {
    memcpy(call->body, text, len);
    call->body[len] = 0;
  }
  schedule(call, 0);
  if (out) {
    *out = call;
  }
  return 0;
}

/* call_start with |body| serialised (NULL: {}). */
static int call_start_json(kefo_aws_client *c, const kefo_aws_service *svc,
                           const char *operation, const cJSON *body,
                           const kefo_retry_strategy *retry, kefo_aws_cb cb,
                           kefo_aws_raw_cb raw_cb, void *user_data,
                           kefo_aws_call **out) {
  char *text = body ? cJSON_PrintUnformatted(body) : NULL;
  int rv;

  if (body && text == NULL) {
    return KEFO_ERR_NOMEM;
  }
  rv =
      call_start(c, svc, operation, text ? text : "{}", text ? strlen(text) : 2,
                 0, NULL, retry, cb, raw_cb, user_data, out);
  cJSON_free(text);
  return rv;
}

int kefo__aws_call_start(kefo_aws_client *c, const kefo_aws_service *svc,
                         const char *operation, const cJSON *body,
                         const kefo_retry_strategy *retry, kefo_aws_cb cb,
                         void *user_data, kefo_aws_call **out) {
  return call_start_json(c, svc, operation, body, retry, cb, NULL, user_data,
                         out);
}

int kefo__aws_call_start_raw(kefo_aws_client *c, const kefo_aws_service *svc,
                             const char *operation, const cJSON *body,
                             const kefo_retry_strategy *retry,
                             kefo_aws_raw_cb cb, void *user_data,
                             kefo_aws_call **out) {
  return call_start_json(c, svc, operation, body, retry, NULL, cb, user_data,
                         out);
}

int kefo__aws_call_start_lent(kefo_aws_client *c, const kefo_aws_service *svc,
                              const char *operation, const uint8_t *body,
                              size_t len, const char *payload_hash,
                              const kefo_retry_strategy *retry,
                              kefo_aws_raw_cb cb, kefo_aws_sent_cb sent,
                              void *user_data, kefo_aws_call **out) {
  kefo_aws_call *call = NULL;
  size_t i;
  int rv;

  if (body == NULL || len == 0 ||
      (sent != NULL && (retry == NULL || retry->max_attempts != 1))) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  for (i = 0; payload_hash != NULL && i < KEFO_SIGV4_HEX_LEN; ++i) {
    char h = payload_hash[i];
    if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f'))) {
      return KEFO_ERR_INVALID_ARGUMENT;
    }
  }
  if (payload_hash != NULL && payload_hash[KEFO_SIGV4_HEX_LEN] != '\0') {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  rv = call_start(c, svc, operation, (const char *)body, len, 1, payload_hash,
                  retry, NULL, cb, user_data, &call);
  if (rv == 0) {
    /* Set before the first attempt, which runs from the loop. */
    call->sent_cb = sent;
    if (out) {
      *out = call;
    }
  }
  return rv;
}

void kefo__aws_call_cancel(kefo_aws_call *call) {
  if (call == NULL || call->cancelled) {
    return;
  }
  call->cancelled = 1;
  if (call->waiting_credentials || call->reporting) {
    return; /* on_credentials frees it */
  }
  if (call->stream) {
    kefo__http_stream_cancel(call->stream);
    call->stream = NULL;
  }
  call_free(call);
}
