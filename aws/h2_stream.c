/*
 * One HTTP/2 request's stream: its copy of the request, the body handed to
 * nghttp2, its deadline, and its one end for the owner; the kefo_http_stream
 * operations (consume, cancel, prefetch) act on it.
 */
#include "aws/h2_client_internal.h"

#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "base/buf.h"
#include "base/clock.h"

void kefo__h2_stream_give_back_body(h2_stream *s) {
  if (s->out_refs > 0) {
    kefo__h2_connection_own_output(s->ref_conn);
  }
}

void kefo__h2_stream_free(h2_stream *s) {
  kefo_h2_client *c = s->client;

  kefo__h2_stream_give_back_body(s); /* already done on every path */

  if (s->timer) {
    event_free(s->timer);
  }
  kefo__buf_free(&s->req_strings);
  kefo__buf_free(&s->resp_strings);
  kefo__mem_free(c->mem, s->nva);
  if (!s->body_lent) {
    kefo__mem_free(c->mem, s->body);
  }
  kefo__mem_free(c->mem, s);
}

void kefo__h2_stream_unlink(h2_stream *s) {
  h2_conn *conn = s->conn;

  if (conn == NULL) {
    return;
  }
  if (s->prev) {
    s->prev->next = s->next;
  } else {
    conn->streams = s->next;
  }
  if (s->next) {
    s->next->prev = s->prev;
  }
  s->prev = s->next = NULL;
  --conn->nstreams;
  s->conn = NULL;
}

void kefo__h2_stream_link(h2_conn *conn, h2_stream *s) {
  s->conn = conn;
  s->prev = NULL;
  s->next = conn->streams;
  if (conn->streams) {
    conn->streams->prev = s;
  }
  conn->streams = s;
  ++conn->nstreams;
}

/* Ends a stream for its owner: on_close once, unless cancelled. */
void kefo__h2_stream_finish(h2_stream *s, int error, const char *message,
                            int retryable) {
  kefo_error_info info;

  kefo__h2_stream_unlink(s);
  kefo__h2_stream_give_back_body(s);
  if (!s->cancelled) {
    memset(&info, 0, sizeof(info));
    info.code = error;
    info.message = message ? message : "";
    info.http_status = s->status;
    info.retryable = retryable;
    s->cancelled = 1; /* no callback after this one */
    s->cb.on_close(&s->base, error, error ? &info : NULL, s->user_data);
  }
  kefo__h2_stream_free(s);
}

static void stream_timeout_cb(evutil_socket_t fd, short what, void *arg) {
  h2_stream *s = arg;
  h2_conn *conn = s->conn;
  char msg[400];

  (void)fd;
  (void)what;
  if (conn && conn->connecting && !conn->got_settings &&
      conn->state != CONN_DEAD) {
    /* The connection itself never came up: fail it, so that the retry
       opens a new one (after the endpoint's backoff) instead of queueing
       behind the same dead one until its own deadline. */
    if (conn->state == CONN_CONNECTING) {
      snprintf(msg, sizeof(msg), "connecting to %s took longer than %u ms",
               conn->ep.authority, s->timeout_ms);
    } else {
      snprintf(msg, sizeof(msg),
               "%s accepted the connection but sent no HTTP/2 SETTINGS "
               "within %u ms",
               conn->ep.authority, s->timeout_ms);
    }
    kefo__h2_connection_fail(conn, KEFO_ERR_TIMEOUT, msg, 1);
    return;
  }
  snprintf(msg, sizeof(msg), "no response within %u ms", s->timeout_ms);
  if (conn && s->id > 0 && conn->session) {
    /* The owner hears now; the stream's end in nghttp2 frees it. */
    kefo_error_info info;
    memset(&info, 0, sizeof(info));
    info.code = KEFO_ERR_TIMEOUT;
    info.message = msg;
    info.retryable = 1;
    kefo__h2_stream_give_back_body(s);
    if (!s->cancelled) {
      s->cancelled = 1;
      s->cb.on_close(&s->base, KEFO_ERR_TIMEOUT, &info, s->user_data);
    }
    nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, s->id,
                              NGHTTP2_CANCEL);
    kefo__h2_connection_schedule_flush(conn);
    return;
  }
  kefo__h2_stream_finish(s, KEFO_ERR_TIMEOUT, msg, 1);
}

static void stream_consume(kefo_http_stream *base, size_t n) {
  h2_stream *s = (h2_stream *)base;
  h2_conn *conn = s->conn;

  if (conn && conn->session && s->id > 0) {
    nghttp2_session_consume_stream(conn->session, s->id, n);
    kefo__h2_connection_schedule_flush(conn);
  }
}

static void stream_prefetch(kefo_http_stream *base, const void *const *addrs,
                            size_t n) {
  h2_stream *s = (h2_stream *)base;

  if (n > KEFO_HTTP_PREFETCH_MAX) {
    n = KEFO_HTTP_PREFETCH_MAX;
  }
  memcpy(s->touch, addrs, n * sizeof(*addrs));
  s->ntouch = (int)n;
}

static void stream_cancel(kefo_http_stream *base) {
  h2_stream *s = (h2_stream *)base;
  h2_conn *conn = s->conn;

  if (s->cancelled) {
    return;
  }
  s->cancelled = 1;
  kefo__h2_stream_give_back_body(s);
  if (conn && conn->session && s->id > 0) {
    /* nghttp2 calls on_stream_close once the RST_STREAM is out; the
       stream is freed there. */
    nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, s->id,
                              NGHTTP2_CANCEL);
    kefo__h2_connection_schedule_flush(conn);
    return;
  }
  if (!s->in_callback) {
    kefo__h2_stream_unlink(s);
    kefo__h2_stream_free(s);
  }
}

static ssize_t body_read_cb(nghttp2_session *session, int32_t id, uint8_t *buf,
                            size_t length, uint32_t *flags,
                            nghttp2_data_source *source, void *ud) {
  h2_stream *s = source->ptr;
  size_t n = s->body_len - s->body_off;

  (void)session;
  (void)id;
  (void)ud;
  if (s->cancelled && s->body_lent) {
    /* A lent body may be gone once its owner cancelled: send no more
       of it (the RST_STREAM ends the stream anyway). */
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  (void)buf;
  if (n > length) {
    n = length;
  }
  if (n) {
    /* Written from the body by send_data_cb, not copied into nghttp2's
       frame buffer first. */
    *flags |= NGHTTP2_DATA_FLAG_NO_COPY;
  }
  s->body_off += n;
  if (s->body_off == s->body_len) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  }
  return (ssize_t)n;
}

int kefo__h2_stream_submit(h2_conn *conn, h2_stream *s) {
  nghttp2_data_provider prov, *provp = NULL;
  int32_t id;

  if (s->body_len > 0) {
    prov.source.ptr = s;
    prov.read_callback = body_read_cb;
    provp = &prov;
  }
  id = nghttp2_submit_request(conn->session, NULL, s->nva, s->nnv, provp, s);
  if (id < 0) {
    return id;
  }
  s->id = id;
  /* nghttp2 copied the header block; only the body must stay. */
  kefo__mem_free(s->client->mem, s->nva);
  s->nva = NULL;
  kefo__buf_free(&s->req_strings);
  return 0;
}

static const kefo_http_stream_ops stream_ops = {stream_consume, stream_cancel,
                                                stream_prefetch};

/* Copies the request's header block: pseudo-headers first, names as
   given (lower case), into one string buffer. */
static int copy_request(h2_stream *s, const kefo_http_request *req) {
  kefo_h2_client *c = s->client;
  size_t i, n = 4 + req->nheaders + 1, k = 0;
  size_t off[64 * 2 + 16];
  char lenbuf[32];
  const char *names[4] = {":method", ":scheme", ":authority", ":path"};
  const char *values[4];
  int rv = 0;

  if (n * 2 > sizeof(off) / sizeof(off[0])) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  values[0] = req->method;
  values[1] = req->endpoint->tls ? "https" : "http";
  values[2] = req->endpoint->authority;
  values[3] = req->path;
  s->nva = kefo__mem_calloc(c->mem, n, sizeof(nghttp2_nv));
  if (s->nva == NULL) {
    return KEFO_ERR_NOMEM;
  }
  /* Offsets first, pointers after: the buffer may move while growing. */
  for (i = 0; i < 4 && rv == 0; ++i, ++k) {
    off[2 * k] = s->req_strings.len;
    rv = kefo__buf_append(&s->req_strings, names[i], strlen(names[i]) + 1);
    off[2 * k + 1] = s->req_strings.len;
    if (rv == 0) {
      rv = kefo__buf_append(&s->req_strings, values[i], strlen(values[i]) + 1);
    }
  }
  for (i = 0; i < req->nheaders && rv == 0; ++i, ++k) {
    if (req->headers[i].name == NULL || req->headers[i].value == NULL ||
        req->headers[i].name[0] == ':') {
      return KEFO_ERR_INVALID_ARGUMENT;
    }
    off[2 * k] = s->req_strings.len;
    rv = kefo__buf_append(&s->req_strings, req->headers[i].name,
                          strlen(req->headers[i].name) + 1);
    off[2 * k + 1] = s->req_strings.len;
    if (rv == 0) {
      rv = kefo__buf_append(&s->req_strings, req->headers[i].value,
                            strlen(req->headers[i].value) + 1);
    }
  }
  if (rv == 0 && req->body_len > 0) {
    snprintf(lenbuf, sizeof(lenbuf), "%zu", req->body_len);
    off[2 * k] = s->req_strings.len;
    rv = kefo__buf_append(&s->req_strings, "content-length", 15);
    off[2 * k + 1] = s->req_strings.len;
    if (rv == 0) {
      rv = kefo__buf_append(&s->req_strings, lenbuf, strlen(lenbuf) + 1);
    }
    ++k;
  }
  if (rv != 0) {
    return rv;
  }
  for (i = 0; i < k; ++i) {
    nghttp2_nv *nv = &s->nva[i];
    nv->name = s->req_strings.data + off[2 * i];
    nv->value = s->req_strings.data + off[2 * i + 1];
    nv->namelen = strlen((const char *)nv->name);
    nv->valuelen = strlen((const char *)nv->value);
    nv->flags = NGHTTP2_NV_FLAG_NONE;
  }
  s->nnv = k;
  if (req->body_len > 0 && req->body_lent) {
    s->body = (uint8_t *)(uintptr_t)req->body;
    s->body_lent = 1;
    s->body_len = req->body_len;
  } else if (req->body_len > 0) {
    s->body = kefo__mem_malloc(c->mem, req->body_len);
    if (s->body == NULL) {
      return KEFO_ERR_NOMEM;
    }
    memcpy(s->body, req->body, req->body_len);
    s->body_len = req->body_len;
  }
  return 0;
}

int kefo__h2_client_request(kefo_h2_client *c, const kefo_http_request *req,
                            const kefo_http_callbacks *cb, void *user_data,
                            kefo_http_stream **out) {
  h2_stream *s;
  h2_conn *conn;
  struct timeval tv;
  int rv;

  if (c == NULL || req == NULL || cb == NULL || cb->on_close == NULL ||
      req->endpoint == NULL || req->method == NULL || req->path == NULL ||
      (req->body_len > 0 && req->body == NULL)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  s = kefo__mem_calloc(c->mem, 1, sizeof(*s));
  if (s == NULL) {
    return KEFO_ERR_NOMEM;
  }
  s->base.ops = &stream_ops;
  s->client = c;
  s->cb = *cb;
  s->user_data = user_data;
  kefo__buf_init(&s->req_strings, c->mem);
  kefo__buf_init(&s->resp_strings, c->mem);
  s->timeout_ms =
      req->timeout_ms ? req->timeout_ms : c->opts.request_timeout_ms;
  rv = copy_request(s, req);
  if (rv != 0) {
    kefo__h2_stream_free(s);
    return rv;
  }
  s->timer = event_new(c->base, -1, 0, stream_timeout_cb, s);
  if (s->timer == NULL) {
    kefo__h2_stream_free(s);
    return KEFO_ERR_NOMEM;
  }
  conn = kefo__h2_client_find_conn(c, req->endpoint);
  if (conn == NULL) {
    conn = kefo__h2_connection_new(c, req->endpoint);
    if (conn == NULL) {
      kefo__h2_stream_free(s);
      return KEFO_ERR_NOMEM;
    }
  }
  kefo__timeval_ms(&tv, s->timeout_ms);
  event_add(s->timer, &tv);
  kefo__h2_stream_link(conn, s);
  if (conn->state == CONN_READY && conn->got_settings) {
    rv = kefo__h2_stream_submit(conn, s);
    if (rv != 0) {
      kefo__h2_stream_unlink(s);
      kefo__h2_stream_free(s);
      return rv == NGHTTP2_ERR_NOMEM ? KEFO_ERR_NOMEM : KEFO_ERR_HTTP;
    }
    kefo__h2_connection_schedule_flush(conn);
  }
  if (out) {
    *out = &s->base;
  }
  return 0;
}
