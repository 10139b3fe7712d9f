/*
 * The mock's HTTP/2 server (see mock_server.h). Input goes from the
 * bufferevent to nghttp2_session_mem_recv without copying; output is
 * produced with nghttp2_session_mem_send only while the socket's output
 * buffer is small, so a client that reads slowly holds back the server
 * rather than growing its buffers.
 */
#include "tests/support/mock/mock_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "aws/sigv4.h"
#include "base/clock.h"
#include "tests/support/mock/mock_cbor.h"
#include "tests/support/mock/mock_subscription.h"

/* Stop producing output above this many unsent bytes; go on below LOW. */
#define OUT_HIGH (256 * 1024)
#define OUT_LOW (64 * 1024)
/* Request headers: how many, and their total size. */
#define MAX_HEADERS 64
#define MAX_HEADER_BYTES (64 * 1024)

typedef struct mock_header {
  char *name, *value;
} mock_header;

typedef struct mock_request {
  struct mock_request *prev, *next;
  mock_conn *conn;
  int32_t stream_id;
  mock_header headers[MAX_HEADERS];
  size_t nheaders, header_bytes;
  int bad_headers;
  kefo_buf body;
  int too_large;
  int handled;
  /* The request came in CBOR: its body was read into JSON, and its
     answers go back in CBOR, as Kinesis does (|response| is CBOR once
     |answer_cbor| is set). */
  int cbor;
  int answer_cbor;
  kefo_buf response;
  size_t response_off;
  /* Faults: the body ends (END_STREAM) after |cut| bytes when |cut_set|;
     |endless| sends filler past any limit; |delay_ev| holds the answer
     back (a stall). */
  size_t cut;
  int cut_set;
  int endless;
  struct event *delay_ev;
  int delayed_status;
  mock_subscription *sub;
} mock_request;

struct mock_conn {
  struct mock_conn *prev, *next;
  mock_server *srv;
  struct bufferevent *bev;
  nghttp2_session *session;
  struct event *send_ev;
  mock_request *requests;
  uint64_t request_ids;
  /* Faults: the connection closes once its output is written
     (|closing|), after GOAWAY is out (|close_after_goaway|), or in the
     middle of the next |drop_budget| bytes (-1: no drop armed). */
  int closing;
  int close_after_goaway;
  int64_t drop_budget;
  struct event *slow_ev;
};

struct mock_server {
  struct event_base *base;
  mock_api *api;
  struct evconnlistener *listener;
  SSL_CTX *ssl_ctx;
  /* The "slow" fault's output rate. */
  struct ev_token_bucket_cfg *slow_rate;
  char *secret;
  uint16_t port;
  mock_conn *conns;
};

int64_t mock_now_ms(void) {
  const kefo_clock *clock = kefo__clock_system();

  return clock->wall_ms(clock->user_data);
}

nghttp2_session *mock_conn_session(mock_conn *conn) {
  return conn->session;
}

struct event_base *mock_conn_base(mock_conn *conn) {
  return conn->srv->base;
}

void mock_conn_want_send(mock_conn *conn) {
  event_active(conn->send_ev, 0, 0);
}

void mock_conn_drop_soon(mock_conn *conn, size_t bytes) {
  conn->drop_budget = (int64_t)(bytes ? bytes : 1);
  mock_conn_want_send(conn);
}

void mock_conn_goaway(mock_conn *conn, int32_t last_stream_id) {
  nghttp2_submit_goaway(conn->session, NGHTTP2_FLAG_NONE, last_stream_id,
                        NGHTTP2_NO_ERROR, NULL, 0);
  conn->close_after_goaway = 1;
  mock_conn_want_send(conn);
}

static void slow_end_cb(evutil_socket_t fd, short what, void *arg) {
  mock_conn *c = arg;

  (void)fd;
  (void)what;
  bufferevent_set_rate_limit(c->bev, NULL);
  mock_conn_want_send(c);
}

void mock_conn_slow(mock_conn *conn, int64_t ms) {
  struct timeval tv;

  if (!conn->slow_ev &&
      !(conn->slow_ev = evtimer_new(conn->srv->base, slow_end_cb, conn))) {
    return;
  }
  bufferevent_set_rate_limit(conn->bev, conn->srv->slow_rate);
  kefo__timeval_ms(&tv, ms);
  evtimer_add(conn->slow_ev, &tv);
}

static void request_free(mock_request *r) {
  size_t i;

  for (i = 0; i < r->nheaders; ++i) {
    free(r->headers[i].name);
    free(r->headers[i].value);
  }
  kefo__buf_free(&r->body);
  kefo__buf_free(&r->response);
  if (r->delay_ev) {
    event_free(r->delay_ev);
  }
  mock_subscription_del(r->sub);
  free(r);
}

static void request_unlink(mock_request *r) {
  mock_conn *c = r->conn;

  if (r->prev) {
    r->prev->next = r->next;
  } else {
    c->requests = r->next;
  }
  if (r->next) {
    r->next->prev = r->prev;
  }
}

static void conn_free(mock_conn *c) {
  mock_server *srv = c->srv;

  /* nghttp2_session_del runs no stream close callbacks: the requests
     still open are freed here. */
  nghttp2_session_del(c->session);
  while (c->requests) {
    mock_request *r = c->requests;
    request_unlink(r);
    request_free(r);
  }
  if (c->prev) {
    c->prev->next = c->next;
  } else {
    srv->conns = c->next;
  }
  if (c->next) {
    c->next->prev = c->prev;
  }
  event_free(c->send_ev);
  if (c->slow_ev) {
    event_free(c->slow_ev);
  }
  bufferevent_free(c->bev);
  free(c);
}

/* Starts closing: no more output is produced, and the connection closes
   once what is buffered is written (write_cb at an empty buffer). */
static void conn_close_soon(mock_conn *c) {
  c->closing = 1;
  bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
}

/* Produces output while the socket buffer is small. Returns 0, or -1 when
   the connection is finished or broken (the caller frees it). */
static int conn_send(mock_conn *c) {
  struct evbuffer *out = bufferevent_get_output(c->bev);

  while (!c->closing && evbuffer_get_length(out) < OUT_HIGH) {
    const uint8_t *data;
    ssize_t n = nghttp2_session_mem_send(c->session, &data);
    if (n < 0) {
      return -1;
    }
    if (n == 0) {
      break;
    }
    if (c->drop_budget >= 0 && n >= c->drop_budget) {
      /* The drop fault: what fits, then the connection goes, so the
         peer sees a frame cut short. */
      n = c->drop_budget;
      c->drop_budget = -1;
      conn_close_soon(c);
    } else if (c->drop_budget >= 0) {
      c->drop_budget -= n;
    }
    if (evbuffer_add(out, data, (size_t)n) != 0) {
      return -1;
    }
  }
  if (c->closing) {
    return evbuffer_get_length(out) == 0 ? -1 : 0;
  }
  if (!nghttp2_session_want_read(c->session) &&
      !nghttp2_session_want_write(c->session) &&
      evbuffer_get_length(out) == 0) {
    return -1;
  }
  return 0;
}

static void send_cb(evutil_socket_t fd, short what, void *arg) {
  mock_conn *c = arg;

  (void)fd;
  (void)what;
  if (conn_send(c) != 0) {
    conn_free(c);
  }
}

static void read_cb(struct bufferevent *bev, void *arg) {
  mock_conn *c = arg;
  struct evbuffer *in = bufferevent_get_input(bev);

  while (evbuffer_get_length(in) > 0) {
    struct evbuffer_iovec v[16];
    int n = evbuffer_peek(in, -1, NULL, v, 16), i;
    size_t used = 0;
    for (i = 0; i < n && i < 16; ++i) {
      ssize_t rv =
          nghttp2_session_mem_recv(c->session, v[i].iov_base, v[i].iov_len);
      if (rv < 0) {
        conn_free(c);
        return;
      }
      used += (size_t)rv;
    }
    evbuffer_drain(in, used);
  }
  if (conn_send(c) != 0) {
    conn_free(c);
  }
}

static void write_cb(struct bufferevent *bev, void *arg) {
  mock_conn *c = arg;

  (void)bev;
  if (conn_send(c) != 0) {
    conn_free(c);
  }
}

static void event_cb(struct bufferevent *bev, short what, void *arg) {
  mock_conn *c = arg;

  if (what & BEV_EVENT_CONNECTED) {
    SSL *ssl = bufferevent_openssl_get_ssl(bev);
    const unsigned char *alpn = NULL;
    unsigned int alpnlen = 0;
    if (ssl) {
      SSL_get0_alpn_selected(ssl, &alpn, &alpnlen);
      /* Without ALPN the client may still speak h2 with prior knowledge;
         with ALPN it must have chosen h2 (the only one offered). */
      if (alpn && (alpnlen != 2 || memcmp(alpn, "h2", 2) != 0)) {
        conn_free(c);
      }
    }
    return;
  }
  if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
    conn_free(c);
  }
}

static const char *header(const mock_request *r, const char *name) {
  size_t i;

  for (i = 0; i < r->nheaders; ++i) {
    if (strcasecmp(r->headers[i].name, name) == 0) {
      return r->headers[i].value;
    }
  }
  return NULL;
}

static ssize_t response_read(nghttp2_session *session, int32_t stream_id,
                             uint8_t *buf, size_t length, uint32_t *data_flags,
                             nghttp2_data_source *source, void *user_data) {
  mock_request *r = source->ptr;
  size_t end = r->cut_set ? r->cut : r->response.len;
  size_t n = end - r->response_off;

  (void)session;
  (void)stream_id;
  (void)user_data;
  if (r->endless) {
    /* Past any limit the client has: it must give up, not buffer. */
    memset(buf, ' ', length);
    return (ssize_t)length;
  }
  if (n > length) {
    n = length;
  }
  memcpy(buf, r->response.data + r->response_off, n);
  r->response_off += n;
  if (r->response_off == end) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  }
  return (ssize_t)n;
}

static nghttp2_nv make_nv(const char *name, const char *value) {
  nghttp2_nv nv;

  nv.name = (uint8_t *)(uintptr_t)name;
  nv.value = (uint8_t *)(uintptr_t)value;
  nv.namelen = strlen(name);
  nv.valuelen = strlen(value);
  nv.flags = NGHTTP2_NV_FLAG_NONE;
  return nv;
}

#define JSON_TYPE "application/x-amz-json-1.1"
#define CBOR_TYPE "application/x-amz-cbor-1.1"

/* Sends |r->response| with |status| as a JSON answer (CBOR when the
   request was). */
static void respond(mock_request *r, int status, const char *content_type) {
  char st[8], len[24], id[64];
  nghttp2_nv nv[4];
  nghttp2_data_provider prd;

  if (r->cbor && !r->endless && !r->answer_cbor &&
      strcmp(content_type, JSON_TYPE) == 0 &&
      mock_cbor_answer(&r->response) == 0) {
    r->answer_cbor = 1;
  }
  if (r->answer_cbor) {
    content_type = CBOR_TYPE;
  }
  snprintf(st, sizeof(st), "%d", status);
  snprintf(len, sizeof(len), "%zu", r->response.len);
  if (r->endless) {
    snprintf(len, sizeof(len), "%llu", 1ULL << 40);
  }
  snprintf(id, sizeof(id), "kefomock-%08x-%llu", (unsigned)r->stream_id,
           (unsigned long long)++r->conn->request_ids);
  nv[0] = make_nv(":status", st);
  nv[1] = make_nv("content-type", content_type);
  nv[2] = make_nv("content-length", len);
  nv[3] = make_nv("x-amzn-requestid", id);
  prd.source.ptr = r;
  prd.read_callback = response_read;
  nghttp2_submit_response(r->conn->session, r->stream_id, nv, 4, &prd);
}

static void respond_error(mock_request *r, int status, const char *type,
                          const char *message) {
  mock_api_error(&r->response, type, message);
  respond(r, status, JSON_TYPE);
}

/* Parses "YYYYMMDDTHHMMSSZ" as UTC seconds; -1 when malformed. */
static int64_t parse_amz_date(const char *s) {
  int v[6], i, k = 0;
  static const int widths[6] = {4, 2, 2, 2, 2, 2};
  int64_t y, m, days;

  if (!s || strlen(s) != 16 || s[8] != 'T' || s[15] != 'Z') {
    return -1;
  }
  for (i = 0; i < 6; ++i) {
    int w;
    v[i] = 0;
    if (k == 8) {
      ++k;
    }
    for (w = 0; w < widths[i]; ++w, ++k) {
      if (s[k] < '0' || s[k] > '9') {
        return -1;
      }
      v[i] = v[i] * 10 + (s[k] - '0');
    }
  }
  if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > 31 || v[3] > 23 ||
      v[4] > 59 || v[5] > 60) {
    return -1;
  }
  /* Days from the civil date (proleptic Gregorian). */
  y = v[0] - (v[1] <= 2);
  m = v[1];
  {
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + v[2] - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    days = era * 146097 + doe - 719468;
  }
  return days * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
}

/* Copies the value of "|key|=" from an Authorization header up to ',' or
   the end into |out|. Returns 0 or -1. */
static int auth_part(const char *auth, const char *key, char *out,
                     size_t outlen) {
  const char *p = strstr(auth, key), *e;
  size_t n;

  if (!p) {
    return -1;
  }
  p += strlen(key);
  e = strchr(p, ',');
  n = e ? (size_t)(e - p) : strlen(p);
  while (n > 0 && p[n - 1] == ' ') {
    --n;
  }
  if (n == 0 || n >= outlen) {
    return -1;
  }
  memcpy(out, p, n);
  out[n] = '\0';
  return 0;
}

/*
 * Checks the request's SigV4 signature against the server's secret. On a
 * mismatch writes why to |why| and returns -1.
 */
static int verify_signature(mock_server *srv, mock_request *r, char *why,
                            size_t whylen) {
  const char *auth = header(r, "authorization");
  const char *date = header(r, "x-amz-date");
  char cred[KEFO_SIGV4_CREDENTIAL_MAX], signed_hdrs[1024], sig[128];
  char *scope[5], *p, *save = NULL;
  kefo_sigv4_header hs[MAX_HEADERS];
  size_t nh = 0, i;
  kefo_sigv4_request req;
  kefo_sigv4_params params;
  kefo_sigv4_credentials creds;
  kefo_sigv4_result res;
  int64_t t = parse_amz_date(date);
  uint32_t flags = 0;
  int rv;

  if (strncmp(auth, "AWS4-HMAC-SHA256 ", 17) != 0 ||
      auth_part(auth, "Credential=", cred, sizeof(cred)) != 0 ||
      auth_part(auth, "SignedHeaders=", signed_hdrs, sizeof(signed_hdrs)) !=
          0 ||
      auth_part(auth, "Signature=", sig, sizeof(sig)) != 0 || t < 0) {
    snprintf(why, whylen,
             "Authorization header or X-Amz-Date is malformed: expected "
             "AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., "
             "Signature=... and YYYYMMDDTHHMMSSZ");
    return -1;
  }
  /* Credential=AKID/date/region/service/aws4_request */
  for (i = 0, p = strtok_r(cred, "/", &save); p && i < 5;
       p = strtok_r(NULL, "/", &save)) {
    scope[i++] = p;
  }
  if (i != 5 || p || strcmp(scope[4], "aws4_request") != 0 ||
      strncmp(scope[1], date, 8) != 0) {
    snprintf(why, whylen,
             "Credential should be AKID/%.8s/region/service/aws4_request",
             date);
    return -1;
  }
  save = NULL;
  for (p = strtok_r(signed_hdrs, ";", &save); p && nh < MAX_HEADERS;
       p = strtok_r(NULL, ";", &save)) {
    const char *v;
    /* The signer adds these itself from the parameters. */
    if (strcmp(p, "x-amz-date") == 0 ||
        strcmp(p, "x-amz-security-token") == 0) {
      continue;
    }
    if (strcmp(p, "x-amz-content-sha256") == 0) {
      flags |= KEFO_SIGV4_FLAG_CONTENT_SHA256;
      continue;
    }
    v = strcmp(p, "host") == 0 && !header(r, "host") ? header(r, ":authority")
                                                     : header(r, p);
    if (!v) {
      snprintf(why, whylen, "signed header %s is not in the request", p);
      return -1;
    }
    hs[nh].name = p;
    hs[nh].namelen = strlen(p);
    hs[nh].value = v;
    hs[nh].valuelen = strlen(v);
    ++nh;
  }
  memset(&req, 0, sizeof(req));
  req.method = header(r, ":method");
  req.path = header(r, ":path");
  req.query = "";
  if (req.path && strchr(req.path, '?')) {
    snprintf(why, whylen, "query strings are not supported");
    return -1;
  }
  req.headers = hs;
  req.nheaders = nh;
  req.body = r->body.data;
  req.bodylen = r->body.len;
  memset(&params, 0, sizeof(params));
  creds.access_key_id = scope[0];
  creds.secret_access_key = srv->secret;
  creds.session_token = header(r, "x-amz-security-token");
  params.credentials = &creds;
  params.region = scope[2];
  params.service = scope[3];
  params.time = t;
  params.flags = flags;
  params.mode = KEFO_SIGV4_HEADERS;
  rv = kefo__sigv4_sign(&res, &req, &params, NULL, NULL);
  if (rv != 0) {
    kefo__sigv4_result_free(&res);
    snprintf(why, whylen, "the request cannot be signed as sent (error %d)",
             rv);
    return -1;
  }
  if (strcmp(res.signature, sig) != 0) {
    kefo_buf creq;
    kefo__buf_init(&creq, NULL);
    kefo__sigv4_canonical_request(&creq, &req, &params);
    snprintf(why, whylen,
             "The request signature we calculated does not match the "
             "signature you provided. Check your AWS Secret Access Key and "
             "signing method. The Canonical String for this request should "
             "have been '%s'",
             kefo__buf_cstr(&creq) ? (const char *)creq.data : "");
    kefo__buf_free(&creq);
    kefo__sigv4_result_free(&res);
    return -1;
  }
  kefo__sigv4_result_free(&res);
  return 0;
}

static void delayed_answer_cb(evutil_socket_t fd, short what, void *arg) {
  mock_request *r = arg;

  (void)fd;
  (void)what;
  respond(r, r->delayed_status, JSON_TYPE);
  mock_conn_want_send(r->conn);
}

/*
 * Acts out a fault that strikes the answer to |op| before the operation
 * runs: an error answer, RST_STREAM or GOAWAY. Returns 1 when the request
 * is dealt with, else 0 (|*kind| then says what to do to the answer).
 */
static int fault_before(mock_request *r, const char *op,
                        mock_fault_kind *kind) {
  mock_server *srv = r->conn->srv;
  mock_api *api = srv->api;
  char shard[64];
  const char *type;
  int status, known = 0;

  *kind = MOCK_FAULT_NONE;
  if (api->fault.left <= 0) {
    return 0;
  }
  if (mock_fault_needs_shard(&api->fault)) {
    known = mock_api_request_shard(api, op, r->body.data, r->body.len, shard,
                                   sizeof(shard)) == 0;
  }
  *kind = mock_fault_take(&api->fault, op, known ? shard : NULL,
                          MOCK_FAULT_AT_ANSWER, mock_now_ms());
  if (mock_fault_exception(*kind, op, &type, &status) == 0) {
    respond_error(r, status, type, "injected by kinesis-mock");
    return 1;
  }
  if (*kind == MOCK_FAULT_RST_STREAM) {
    nghttp2_submit_rst_stream(r->conn->session, NGHTTP2_FLAG_NONE, r->stream_id,
                              NGHTTP2_INTERNAL_ERROR);
    return 1;
  }
  if (*kind == MOCK_FAULT_GOAWAY) {
    /* This request was not processed: a client may send it again. */
    mock_conn_goaway(r->conn, r->stream_id > 2 ? r->stream_id - 2 : 0);
    return 1;
  }
  if (*kind == MOCK_FAULT_SLOW) {
    mock_conn_slow(r->conn, api->fault.ms);
  }
  return 0;
}

/* Sends the answer |status| of a call, spoilt as |kind| says. */
static void answer(mock_request *r, int status, mock_fault_kind kind) {
  struct timeval tv;

  /* Spoilt in the protocol it goes in: half of a CBOR answer, a CBOR
     answer cut at half its length. */
  if (r->cbor && !r->answer_cbor && kind != MOCK_FAULT_OVERSIZED &&
      mock_cbor_answer(&r->response) == 0) {
    r->answer_cbor = 1;
  }
  switch (kind) {
  case MOCK_FAULT_DROP:
    /* Past the HEADERS frame, into the body. */
    mock_conn_drop_soon(r->conn, 64 + r->response.len / 2);
    break;
  case MOCK_FAULT_TRUNCATE:
    r->cut_set = 1;
    r->cut = r->response.len / 2;
    break;
  case MOCK_FAULT_MALFORMED_JSON:
    /* Half a JSON object (or CBOR map) never parses. */
    status = 200;
    r->response.len /= 2;
    if (r->response.len == 0) {
      kefo__buf_append_str(&r->response, "{");
    }
    break;
  case MOCK_FAULT_OVERSIZED:
    r->endless = 1;
    break;
  case MOCK_FAULT_STALL:
    r->delayed_status = status;
    r->delay_ev = evtimer_new(r->conn->srv->base, delayed_answer_cb, r);
    if (r->delay_ev) {
      kefo__timeval_ms(&tv, r->conn->srv->api->fault.ms);
      evtimer_add(r->delay_ev, &tv);
      return;
    }
    break;
  default:
    break;
  }
  respond(r, status, JSON_TYPE);
}

static void handle_request(mock_request *r) {
  mock_server *srv = r->conn->srv;
  const char *target = header(r, "x-amz-target");
  const char *method = header(r, ":method"), *path = header(r, ":path");
  const char *ctype = header(r, "content-type"), *op;
  int64_t now = mock_now_ms();
  mock_subscribe_req sreq;
  mock_fault_kind kind;
  nghttp2_data_provider prd;
  nghttp2_nv nv[3];
  int status;
  char why[4096];

  r->handled = 1;
  if (r->bad_headers) {
    respond_error(r, 400, "ValidationException",
                  "too many or too large request headers");
    return;
  }
  if (r->too_large) {
    respond_error(r, 400, "ValidationException",
                  "request body is larger than 10 MB");
    return;
  }
  if (!method || strcmp(method, "POST") != 0 || !path ||
      strcmp(path, "/") != 0) {
    respond_error(r, 400, "UnknownOperationException", "only POST / is served");
    return;
  }
  if (!target) {
    respond_error(r, 400, "UnknownOperationException",
                  "missing x-amz-target header");
    return;
  }
  if (strncmp(target, "KefoMock.", 9) == 0) {
    /* Control operations: no signature, for tests and scripts. */
    status = mock_api_control(srv->api, target + 9, r->body.data, r->body.len,
                              now, &r->response);
    respond(r, status, JSON_TYPE);
    return;
  }
  if (strncmp(target, "Kinesis_20131202.", 17) != 0) {
    respond_error(r, 400, "UnknownOperationException",
                  "x-amz-target must be Kinesis_20131202.<Operation>");
    return;
  }
  op = target + 17;
  r->cbor = ctype && strcmp(ctype, CBOR_TYPE) == 0;
  if (!ctype || (strcmp(ctype, JSON_TYPE) != 0 && !r->cbor)) {
    respond_error(r, 400, "SerializationException",
                  "content-type must be application/x-amz-json-1.1 or "
                  "application/x-amz-cbor-1.1");
    return;
  }
  if (!header(r, "authorization")) {
    respond_error(r, 403, "MissingAuthenticationTokenException",
                  "Missing Authentication Token");
    return;
  }
  if (!header(r, "x-amz-date") && !header(r, "date")) {
    respond_error(r, 403, "IncompleteSignatureException",
                  "Authorization header requires existence of either a "
                  "'X-Amz-Date' or a 'Date' header.");
    return;
  }
  if (srv->secret && verify_signature(srv, r, why, sizeof(why)) != 0) {
    respond_error(r, 403, "InvalidSignatureException", why);
    return;
  }
  srv->api->cbor_requests += (uint64_t)r->cbor;
  if (r->cbor && mock_cbor_request(&r->body, why, sizeof(why)) != 0) {
    respond_error(r, 400, "SerializationException", why);
    return;
  }
  if (fault_before(r, op, &kind)) {
    return;
  }
  if (strcmp(op, "SubscribeToShard") != 0) {
    status = mock_api_call(srv->api, op, r->body.data, r->body.len, now,
                           &r->response);
    if (kind == MOCK_FAULT_NONE && srv->api->cfg.api_latency_ms > 0) {
      /* The answer is ready; it leaves as a distant endpoint's would. */
      struct timeval tv;
      r->delayed_status = status;
      r->delay_ev = evtimer_new(srv->base, delayed_answer_cb, r);
      if (r->delay_ev) {
        kefo__timeval_ms(&tv, srv->api->cfg.api_latency_ms);
        evtimer_add(r->delay_ev, &tv);
        return;
      }
    }
    answer(r, status, kind);
    return;
  }
  status = mock_api_subscribe(srv->api, r->body.data, r->body.len, now, &sreq,
                              &r->response);
  if (status != 200) {
    respond(r, status, JSON_TYPE);
    return;
  }
  if (mock_subscription_new(&r->sub, r->conn, r->stream_id, srv->api, &sreq) !=
      0) {
    respond_error(r, 500, "InternalFailure", "cannot start the subscription");
    return;
  }
  nv[0] = make_nv(":status", "200");
  nv[1] = make_nv("content-type", "application/vnd.amazon.eventstream");
  nv[2] = make_nv("x-amzn-requestid", "kefomock-subscription");
  prd = mock_subscription_provider(r->sub);
  nghttp2_submit_response(r->conn->session, r->stream_id, nv, 3, &prd);
}

static int on_begin_headers(nghttp2_session *session,
                            const nghttp2_frame *frame, void *user_data) {
  mock_conn *c = user_data;
  mock_request *r;

  if (frame->hd.type != NGHTTP2_HEADERS ||
      frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    return 0;
  }
  r = calloc(1, sizeof(*r));
  if (!r) {
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  r->conn = c;
  r->stream_id = frame->hd.stream_id;
  kefo__buf_init(&r->body, NULL);
  kefo__buf_init(&r->response, NULL);
  r->next = c->requests;
  if (c->requests) {
    c->requests->prev = r;
  }
  c->requests = r;
  nghttp2_session_set_stream_user_data(session, r->stream_id, r);
  return 0;
}

static char *dup_bytes(const uint8_t *s, size_t n) {
  char *p = malloc(n + 1);

  if (p) {
    memcpy(p, s, n);
    p[n] = '\0';
  }
  return p;
}

static int on_header(nghttp2_session *session, const nghttp2_frame *frame,
                     const uint8_t *name, size_t namelen, const uint8_t *value,
                     size_t valuelen, uint8_t flags, void *user_data) {
  mock_request *r =
      nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  mock_header *h;

  (void)flags;
  (void)user_data;
  if (!r || frame->hd.type != NGHTTP2_HEADERS) {
    return 0;
  }
  /* Bounded before anything is kept. */
  if (r->nheaders == MAX_HEADERS ||
      r->header_bytes + namelen + valuelen > MAX_HEADER_BYTES) {
    r->bad_headers = 1;
    return 0;
  }
  h = &r->headers[r->nheaders];
  h->name = dup_bytes(name, namelen);
  h->value = dup_bytes(value, valuelen);
  if (!h->name || !h->value) {
    free(h->name);
    free(h->value);
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  ++r->nheaders;
  r->header_bytes += namelen + valuelen;
  return 0;
}

static int on_data_chunk(nghttp2_session *session, uint8_t flags,
                         int32_t stream_id, const uint8_t *data, size_t len,
                         void *user_data) {
  mock_request *r = nghttp2_session_get_stream_user_data(session, stream_id);

  (void)flags;
  (void)user_data;
  if (!r || r->too_large) {
    return 0;
  }
  if (r->body.len + len > MOCK_MAX_BODY) {
    /* Dropped, not kept: answered with a 400 at the end. */
    r->too_large = 1;
    kefo__buf_free(&r->body);
    kefo__buf_init(&r->body, NULL);
    return 0;
  }
  if (kefo__buf_append(&r->body, data, len) != 0) {
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

static int on_frame_recv(nghttp2_session *session, const nghttp2_frame *frame,
                         void *user_data) {
  mock_request *r;

  (void)user_data;
  if ((frame->hd.type != NGHTTP2_HEADERS && frame->hd.type != NGHTTP2_DATA) ||
      !(frame->hd.flags & NGHTTP2_FLAG_END_STREAM)) {
    return 0;
  }
  r = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (r && !r->handled) {
    handle_request(r);
  }
  return 0;
}

static int on_frame_send(nghttp2_session *session, const nghttp2_frame *frame,
                         void *user_data) {
  mock_conn *c = user_data;

  (void)session;
  if (frame->hd.type == NGHTTP2_GOAWAY && c->close_after_goaway) {
    conn_close_soon(c);
  }
  return 0;
}

static int on_stream_close(nghttp2_session *session, int32_t stream_id,
                           uint32_t error_code, void *user_data) {
  mock_request *r = nghttp2_session_get_stream_user_data(session, stream_id);

  (void)error_code;
  (void)user_data;
  if (r) {
    nghttp2_session_set_stream_user_data(session, stream_id, NULL);
    request_unlink(r);
    request_free(r);
  }
  return 0;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int salen, void *arg) {
  mock_server *srv = arg;
  nghttp2_session_callbacks *cbs;
  nghttp2_settings_entry iv[2] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 10000},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 20}};
  mock_conn *c;
  int one = 1;

  (void)l;
  (void)sa;
  (void)salen;
  c = calloc(1, sizeof(*c));
  if (!c) {
    evutil_closesocket(fd);
    return;
  }
  c->srv = srv;
  c->drop_budget = -1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (srv->ssl_ctx) {
    SSL *ssl = SSL_new(srv->ssl_ctx);
    c->bev = ssl ? bufferevent_openssl_socket_new(srv->base, fd, ssl,
                                                  BUFFEREVENT_SSL_ACCEPTING,
                                                  BEV_OPT_CLOSE_ON_FREE)
                 : NULL;
    if (!c->bev && ssl) {
      SSL_free(ssl);
    }
  } else {
    c->bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
  }
  if (!c->bev) {
    evutil_closesocket(fd);
    free(c);
    return;
  }
  c->send_ev = event_new(srv->base, -1, 0, send_cb, c);
  nghttp2_session_callbacks_new(&cbs);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cbs,
                                                          on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs, on_data_chunk);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs, on_stream_close);
  nghttp2_session_callbacks_set_on_frame_send_callback(cbs, on_frame_send);
  if (!c->send_ev || nghttp2_session_server_new(&c->session, cbs, c) != 0) {
    nghttp2_session_callbacks_del(cbs);
    if (c->send_ev) {
      event_free(c->send_ev);
    }
    bufferevent_free(c->bev);
    free(c);
    return;
  }
  nghttp2_session_callbacks_del(cbs);
  c->next = srv->conns;
  if (srv->conns) {
    srv->conns->prev = c;
  }
  srv->conns = c;
  ++srv->api->connections;
  nghttp2_submit_settings(c->session, NGHTTP2_FLAG_NONE, iv, 2);
  /* A large connection window, so many subscriptions on one connection
     are held back by their own stream windows only. */
  nghttp2_session_set_local_window_size(c->session, NGHTTP2_FLAG_NONE, 0,
                                        64 << 20);
  bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
  bufferevent_setwatermark(c->bev, EV_WRITE, OUT_LOW, 0);
  bufferevent_enable(c->bev, EV_READ | EV_WRITE);
  if (conn_send(c) != 0) {
    conn_free(c);
  }
}

static int alpn_select(SSL *ssl, const unsigned char **out,
                       unsigned char *outlen, const unsigned char *in,
                       unsigned int inlen, void *arg) {
  unsigned int i = 0;

  (void)ssl;
  (void)arg;
  while (i < inlen) {
    unsigned int n = in[i];
    if (i + 1 + n > inlen) {
      break;
    }
    if (n == 2 && memcmp(in + i + 1, "h2", 2) == 0) {
      *out = in + i + 1;
      *outlen = 2;
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  return SSL_TLSEXT_ERR_ALERT_FATAL;
}

static SSL_CTX *make_ssl_ctx(const char *cert, const char *key) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

  if (!ctx) {
    return NULL;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
    fprintf(stderr, "kinesis-mock: cannot load %s / %s: %s\n", cert, key, buf);
    SSL_CTX_free(ctx);
    return NULL;
  }
  SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
  return ctx;
}

int mock_server_new(mock_server **out, struct event_base *base, mock_api *api,
                    const mock_server_options *opts) {
  mock_server *srv = calloc(1, sizeof(*srv));
  struct sockaddr_in sin;
  socklen_t len = sizeof(sin);

  if (!srv) {
    return -1;
  }
  srv->base = base;
  srv->api = api;
  {
    /* The slow fault: 8 KB/s out, in bursts of 1 KiB every 125 ms. */
    struct timeval tick = {0, 125000};
    srv->slow_rate = ev_token_bucket_cfg_new(
        EV_RATE_LIMIT_MAX, EV_RATE_LIMIT_MAX, 1024, 1024, &tick);
  }
  if (!srv->slow_rate) {
    mock_server_del(srv);
    return -1;
  }
  if (opts->secret) {
    srv->secret = strdup(opts->secret);
  }
  if (opts->tls_cert &&
      !(srv->ssl_ctx = make_ssl_ctx(opts->tls_cert, opts->tls_key))) {
    mock_server_del(srv);
    return -1;
  }
  memset(&sin, 0, sizeof(sin));
  sin.sin_family = AF_INET;
  sin.sin_port = htons(opts->port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  srv->listener = evconnlistener_new_bind(
      base, on_accept, srv, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 128,
      (struct sockaddr *)&sin, sizeof(sin));
  if (!srv->listener) {
    fprintf(stderr, "kinesis-mock: cannot listen on 127.0.0.1:%u\n",
            (unsigned)opts->port);
    mock_server_del(srv);
    return -1;
  }
  getsockname(evconnlistener_get_fd(srv->listener), (struct sockaddr *)&sin,
              &len);
  srv->port = ntohs(sin.sin_port);
  *out = srv;
  return 0;
}

uint16_t mock_server_port(const mock_server *srv) {
  return srv->port;
}

void mock_server_del(mock_server *srv) {
  if (!srv) {
    return;
  }
  while (srv->conns) {
    conn_free(srv->conns);
  }
  if (srv->listener) {
    evconnlistener_free(srv->listener);
  }
  if (srv->ssl_ctx) {
    SSL_CTX_free(srv->ssl_ctx);
  }
  if (srv->slow_rate) {
    ev_token_bucket_cfg_free(srv->slow_rate);
  }
  free(srv->secret);
  free(srv);
}
