/*
 * One HTTP/1.1 request's stream: the caller's request checked and built as
 * an evhttp request, queued on its endpoint's pool, and its deadline, cancel
 * and one end for the owner.
 */
#include "aws/h1_client_internal.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

static void stream_consume(kefo_http_stream *stream, size_t n);
static void stream_cancel(kefo_http_stream *stream);

static const kefo_http_stream_ops h1_stream_ops = {stream_consume,
                                                   stream_cancel, NULL};

/* --- streams ----------------------------------------------------------- */

void kefo__h1_stream_free(h1_stream *s) {
  const kefo_mem *mem = s->client->mem;

  if (s->req != NULL && !s->req_made) {
    evhttp_request_free(s->req);
  }
  event_release(mem, s->deadline);
  kefo__mem_free(mem, s->path);
  kefo__mem_free(mem, s);
}

/*
 * Ends |s|: detaches it, calls on_close unless it was cancelled, frees it.
 * evhttp must no longer call back for it (s->req is NULL or never made).
 */
void kefo__h1_stream_finish(h1_stream *s, int code, const char *msg,
                            int retryable) {
  kefo_error_info info;

  if (s->state == STREAM_QUEUED) {
    kefo__h1_client_wait_queue_remove(s->pool, s);
  }
  if (s->conn != NULL && s->conn->stream == s) {
    s->conn->stream = NULL;
  }
  s->conn = NULL;
  s->state = STREAM_DONE;
  event_del(s->deadline);
  if (!s->cancelled && s->cb.on_close != NULL) {
    memset(&info, 0, sizeof(info));
    info.code = code;
    info.message = msg ? msg : "";
    info.http_status = s->head_received ? s->status : 0;
    info.retryable = retryable;
    s->in_callback = 1;
    s->cb.on_close(&s->base, code, &info, s->user_data);
  }
  kefo__h1_stream_free(s);
}

/*
 * Takes |s|'s request back from evhttp so that no evhttp callback comes
 * for it any more. The connection cannot carry another request after a
 * cancel: evhttp resets it.
 */
void kefo__h1_stream_detach_request(h1_stream *s) {
  struct evhttp_request *req = s->req;

  if (s->conn != NULL) {
    kefo__h1_connection_mark_dead(s->conn);
  }
  if (req == NULL || !s->req_made) {
    return;
  }
  s->req = NULL;
  /* evhttp reports a cancel to the error callback, synchronously. */
  evhttp_request_set_error_cb(req, NULL);
  evhttp_cancel_request(req);
}

static void stream_consume(kefo_http_stream *stream, size_t n) {
  /* HTTP/1.1 has no flow control but TCP's. */
  (void)stream;
  (void)n;
}

static void stream_cancel(kefo_http_stream *stream) {
  h1_stream *s = (h1_stream *)stream;

  if (s == NULL || s->cancelled || s->state == STREAM_DONE) {
    return;
  }
  s->cancelled = 1;
  if (s->in_callback) {
    /* The callback's caller finishes the stream once it returns. */
    return;
  }
  kefo__h1_stream_detach_request(s);
  kefo__h1_stream_finish(s, KEFO_ERR_CANCELLED, "cancelled", 0);
}

static void stream_deadline_cb(evutil_socket_t fd, short what, void *arg) {
  h1_stream *s = arg;
  char msg[512];

  (void)fd;
  (void)what;
  if (s->state == STREAM_QUEUED) {
    snprintf(msg, sizeof(msg), "no connection to %s became free within %u ms",
             s->pool->ep.authority, (unsigned)s->timeout_ms);
  } else {
    snprintf(msg, sizeof(msg), "no response from %s within %u ms",
             s->pool->ep.authority, (unsigned)s->timeout_ms);
  }
  kefo__h1_stream_detach_request(s);
  kefo__h1_stream_finish(s, KEFO_ERR_TIMEOUT, msg, 1);
}

/* --- the request -----------------------------------------------------------
 */

static int method_cmd(const char *m, enum evhttp_cmd_type *cmd) {
  static const struct {
    const char *name;
    enum evhttp_cmd_type cmd;
  } methods[] = {{"GET", EVHTTP_REQ_GET},        {"POST", EVHTTP_REQ_POST},
                 {"PUT", EVHTTP_REQ_PUT},        {"DELETE", EVHTTP_REQ_DELETE},
                 {"HEAD", EVHTTP_REQ_HEAD},      {"PATCH", EVHTTP_REQ_PATCH},
                 {"OPTIONS", EVHTTP_REQ_OPTIONS}};
  size_t i;

  for (i = 0; i < sizeof(methods) / sizeof(methods[0]); ++i) {
    if (strcmp(m, methods[i].name) == 0) {
      *cmd = methods[i].cmd;
      return 0;
    }
  }
  return -1;
}

static int valid_token(const char *s) {
  static const char extra[] = "!#$%&'*+-.^_`|~";

  if (*s == '\0') {
    return 0;
  }
  for (; *s; ++s) {
    unsigned char ch = (unsigned char)*s;
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
          (ch >= '0' && ch <= '9') || (ch != '\0' && strchr(extra, ch)))) {
      return 0;
    }
  }
  return 1;
}

static int valid_value(const char *s) {
  for (; *s; ++s) {
    unsigned char ch = (unsigned char)*s;
    if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
      return 0;
    }
  }
  return 1;
}

static int valid_path(const char *s) {
  if (*s != '/') {
    return 0;
  }
  for (; *s; ++s) {
    unsigned char ch = (unsigned char)*s;
    if (ch <= 0x20 || ch == 0x7f) {
      return 0;
    }
  }
  return 1;
}

/* Checks the caller's headers; finds a Host and Content-Length it gave. */
static int check_headers(const kefo_http_request *req, const char **host,
                         const char **content_length) {
  size_t i;

  *host = NULL;
  *content_length = NULL;
  if (req->nheaders > 0 && req->headers == NULL) {
    return -1;
  }
  for (i = 0; i < req->nheaders; ++i) {
    const kefo_http_header *h = &req->headers[i];
    if (h->name == NULL || h->value == NULL || !valid_token(h->name) ||
        !valid_value(h->value)) {
      return -1;
    }
    if (name_is(h->name, "host")) {
      *host = h->value;
    } else if (name_is(h->name, "content-length")) {
      *content_length = h->value;
    } else if (name_is(h->name, "connection") ||
               name_is(h->name, "transfer-encoding") ||
               name_is(h->name, "upgrade")) {
      /* The client owns the connection and the framing. */
      return -1;
    }
  }
  return 0;
}

static int build_request(h1_stream *s, const kefo_http_request *r,
                         const char *host) {
  struct evkeyvalq *out;
  char len[32];
  size_t i;
  int has_body_method = s->cmd == EVHTTP_REQ_POST || s->cmd == EVHTTP_REQ_PUT ||
                        s->cmd == EVHTTP_REQ_PATCH;

  s->req = evhttp_request_new(kefo__h1_response_done_cb, s);
  if (s->req == NULL) {
    return KEFO_ERR_NOMEM;
  }
  evhttp_request_set_header_cb(s->req, kefo__h1_response_header_cb);
  evhttp_request_set_chunked_cb(s->req, kefo__h1_response_chunk_cb);
  evhttp_request_set_error_cb(s->req, kefo__h1_response_error_cb);
  out = evhttp_request_get_output_headers(s->req);
  if (evhttp_add_header(out, "Host", host ? host : r->endpoint->authority)) {
    return KEFO_ERR_NOMEM;
  }
  for (i = 0; i < r->nheaders; ++i) {
    const kefo_http_header *h = &r->headers[i];
    if (name_is(h->name, "host") || name_is(h->name, "content-length")) {
      continue;
    }
    if (evhttp_add_header(out, h->name, h->value) != 0) {
      return KEFO_ERR_NOMEM;
    }
  }
  if (r->body_len > 0 || has_body_method) {
    snprintf(len, sizeof(len), "%zu", r->body_len);
    if (evhttp_add_header(out, "Content-Length", len) != 0) {
      return KEFO_ERR_NOMEM;
    }
  }
  if (evhttp_add_header(out, "Connection", "keep-alive") != 0) {
    return KEFO_ERR_NOMEM;
  }
  if (r->body_len > 0 && evbuffer_add(evhttp_request_get_output_buffer(s->req),
                                      r->body, r->body_len) != 0) {
    return KEFO_ERR_NOMEM;
  }
  return 0;
}

int kefo__h1_client_request(kefo_h1_client *client,
                            const kefo_http_request *req,
                            const kefo_http_callbacks *cb, void *user_data,
                            kefo_http_stream **out) {
  enum evhttp_cmd_type cmd;
  const char *host, *content_length;
  h1_pool *pool;
  h1_stream *s;
  size_t pathlen;
  int rv;

  if (out != NULL) {
    *out = NULL;
  }
  if (client == NULL || req == NULL || cb == NULL || cb->on_close == NULL ||
      req->endpoint == NULL || req->method == NULL || req->path == NULL ||
      (req->body == NULL && req->body_len > 0) ||
      method_cmd(req->method, &cmd) != 0 || !valid_path(req->path) ||
      req->endpoint->host[0] == '\0' || req->endpoint->port == 0 ||
      check_headers(req, &host, &content_length) != 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (content_length != NULL) {
    char buf[32];
    snprintf(buf, sizeof(buf), "%zu", req->body_len);
    if (strcmp(buf, content_length) != 0) {
      return KEFO_ERR_INVALID_ARGUMENT;
    }
  }
  if (req->endpoint->tls && client->tls_ctx == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  pool = kefo__h1_client_pool_get(client, req->endpoint);
  if (pool == NULL) {
    return KEFO_ERR_NOMEM;
  }
  s = kefo__mem_calloc(client->mem, 1, sizeof(*s));
  if (s == NULL) {
    return KEFO_ERR_NOMEM;
  }
  s->base.ops = &h1_stream_ops;
  s->client = client;
  s->pool = pool;
  s->cmd = cmd;
  s->cb = *cb;
  s->user_data = user_data;
  s->ev_error = -1;
  s->state = STREAM_QUEUED;
  s->timeout_ms =
      req->timeout_ms ? req->timeout_ms : client->request_timeout_ms;
  pathlen = strlen(req->path);
  s->path = kefo__mem_malloc(client->mem, pathlen + 1);
  s->deadline = event_alloc(client->mem);
  if (s->path == NULL || s->deadline == NULL) {
    rv = KEFO_ERR_NOMEM;
    goto fail;
  }
  memcpy(s->path, req->path, pathlen + 1);
  rv = build_request(s, req, host);
  if (rv != 0) {
    goto fail;
  }
  evtimer_assign(s->deadline, client->base, stream_deadline_cb, s);
  timer_arm(s->deadline, s->timeout_ms);
  if (pool->wait_tail != NULL) {
    pool->wait_tail->next = s;
  } else {
    pool->wait_head = s;
  }
  pool->wait_tail = s;
  schedule_pump(client);
  if (out != NULL) {
    *out = &s->base;
  }
  return 0;

fail:
  kefo__h1_stream_free(s);
  return rv;
}
