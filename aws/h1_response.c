/*
 * evhttp's callbacks for a request: the response head (and its Keep-Alive)
 * handed to the owner, the body lent as it arrives, and the end, its
 * failures named and classified.
 */
#include "aws/h1_client_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

/* "timeout=5, max=100" -> how long this connection may stay idle. */
static uint32_t keep_alive_idle_ms(const char *v) {
  const char *p = strstr(v, "timeout=");
  unsigned long secs;

  if (p == NULL) {
    return IDLE_TIMEOUT_MS;
  }
  p += 8;
  if (*p < '0' || *p > '9') {
    return IDLE_TIMEOUT_MS;
  }
  secs = strtoul(p, NULL, 10);
  if (secs == 0) {
    return 0;
  }
  /* A second early: the server's clock started when it wrote. */
  if (secs == 1) {
    return 500;
  }
  if (secs - 1 >= IDLE_TIMEOUT_MS / 1000) {
    return IDLE_TIMEOUT_MS;
  }
  return (uint32_t)((secs - 1) * 1000);
}

static int deliver_head(h1_stream *s, struct evhttp_request *req) {
  struct evkeyvalq *in = evhttp_request_get_input_headers(req);
  struct evkeyval *kv;
  kefo_http_header *hdrs = NULL;
  char *names = NULL, *p;
  size_t n = 0, namelen = 0, i;
  int rv;

  for (kv = in->tqh_first; kv != NULL; kv = kv->next.tqe_next) {
    ++n;
    namelen += strlen(kv->key) + 1;
    if (name_is(kv->key, "keep-alive") && s->conn != NULL) {
      s->conn->idle_ms = keep_alive_idle_ms(kv->value);
    } else if (name_is(kv->key, "content-length")) {
      unsigned long long len = strtoull(kv->value, NULL, 10);
      if (len > MAX_BODY_BYTES) {
        s->err_code = KEFO_ERR_RESPONSE_TOO_LARGE;
        snprintf(s->err_msg, sizeof(s->err_msg),
                 "response body of %llu bytes is over the %u byte limit", len,
                 (unsigned)MAX_BODY_BYTES);
        return -1;
      }
    }
  }
  if (n > 0) {
    hdrs = kefo__mem_malloc(s->client->mem, n * sizeof(*hdrs));
    names = kefo__mem_malloc(s->client->mem, namelen);
    if (hdrs == NULL || names == NULL) {
      kefo__mem_free(s->client->mem, hdrs);
      kefo__mem_free(s->client->mem, names);
      s->err_code = KEFO_ERR_NOMEM;
      snprintf(s->err_msg, sizeof(s->err_msg), "out of memory");
      return -1;
    }
  }
  p = names;
  for (kv = in->tqh_first, i = 0; kv != NULL; kv = kv->next.tqe_next, ++i) {
    const char *k = kv->key;
    hdrs[i].name = p;
    hdrs[i].value = kv->value;
    while (*k) {
      *p++ = (char)ascii_lower((unsigned char)*k++);
    }
    *p++ = '\0';
  }
  s->in_callback = 1;
  rv = s->cb.on_response != NULL
           ? s->cb.on_response(&s->base, s->status, hdrs, n, s->user_data)
           : 0;
  s->in_callback = 0;
  kefo__mem_free(s->client->mem, hdrs);
  kefo__mem_free(s->client->mem, names);
  if (rv != 0 && !s->cancelled) {
    s->err_code = KEFO_ERR_CALLBACK_FAILURE;
    snprintf(s->err_msg, sizeof(s->err_msg), "on_response returned %d", rv);
  }
  return rv != 0 || s->cancelled ? -1 : 0;
}

int kefo__h1_response_header_cb(struct evhttp_request *req, void *arg) {
  h1_stream *s = arg;

  s->status = evhttp_request_get_response_code(req);
  if (s->status == 100) {
    return 0; /* evhttp skips it and reads the real head */
  }
  s->head_received = 1;
  /* The head is in: no deadline any more. */
  event_del(s->deadline);
  /* -1 makes evhttp fail the request (EVREQ_HTTP_EOF): it must not be
     cancelled from inside this callback, which evhttp does not guard. */
  return deliver_head(s, req);
}

void kefo__h1_response_chunk_cb(struct evhttp_request *req, void *arg) {
  h1_stream *s = arg;
  struct evbuffer *in = evhttp_request_get_input_buffer(req);
  struct evbuffer_ptr pos;
  struct evbuffer_iovec v;
  size_t total = evbuffer_get_length(in), off = 0;
  int rv = 0;

  if (s->cb.on_data == NULL) {
    return;
  }
  /* Lend evhttp's buffer segment by segment: no copy. */
  evbuffer_ptr_set(in, &pos, 0, EVBUFFER_PTR_SET);
  while (off < total) {
    if (evbuffer_peek(in, -1, &pos, &v, 1) < 1 || v.iov_len == 0) {
      break;
    }
    if (v.iov_len > total - off) {
      v.iov_len = total - off;
    }
    s->in_callback = 1;
    rv = s->cb.on_data(&s->base, v.iov_base, v.iov_len, s->user_data);
    s->in_callback = 0;
    if (rv != 0 || s->cancelled) {
      break;
    }
    off += v.iov_len;
    if (off < total &&
        evbuffer_ptr_set(in, &pos, v.iov_len, EVBUFFER_PTR_ADD) != 0) {
      break;
    }
  }
  if (rv == 0 && !s->cancelled) {
    return;
  }
  /* evhttp defers freeing the request while this callback runs, so a
     cancel is safe here. */
  kefo__h1_stream_detach_request(s);
  if (s->cancelled) {
    kefo__h1_stream_finish(s, KEFO_ERR_CANCELLED, "cancelled", 0);
  } else {
    char msg[64];
    snprintf(msg, sizeof(msg), "on_data returned %d", rv);
    kefo__h1_stream_finish(s, KEFO_ERR_CALLBACK_FAILURE, msg, 0);
  }
}

void kefo__h1_response_error_cb(enum evhttp_request_error error, void *arg) {
  h1_stream *s = arg;

  /* evhttp has freed the request already; kefo__h1_response_done_cb(NULL)
   * follows. */
  s->req = NULL;
  s->ev_error = (int)error;
}

static void finish_failed(h1_stream *s) {
  h1_conn *c = s->conn;
  const char *ep = s->pool->ep.authority;
  char msg[512];

  if (c != NULL) {
    kefo__h1_connection_mark_dead(c);
  }
  if (s->cancelled) {
    kefo__h1_stream_finish(s, KEFO_ERR_CANCELLED, "cancelled", 0);
    return;
  }
  /* Both messages outlive on_close: the stream is freed after it, the
     connection later, from the pump. */
  if (s->err_code != 0) {
    kefo__h1_stream_finish(s, s->err_code, s->err_msg, 0);
    return;
  }
  if (!s->head_received && c != NULL && c->fail_code != 0) {
    kefo__h1_stream_finish(s, c->fail_code, c->fail_msg, c->fail_retryable);
    return;
  }
  switch (s->ev_error) {
  case EVREQ_HTTP_INVALID_HEADER:
    snprintf(msg, sizeof(msg),
             "malformed response head from %s (or over %d bytes)", ep,
             MAX_HEAD_BYTES);
    kefo__h1_stream_finish(s, KEFO_ERR_HTTP, msg, 0);
    return;
  case EVREQ_HTTP_DATA_TOO_LONG:
    snprintf(msg, sizeof(msg),
             "malformed response body from %s (or over %d bytes)", ep,
             MAX_BODY_BYTES);
    kefo__h1_stream_finish(s, KEFO_ERR_HTTP, msg, 0);
    return;
  default:
    break;
  }
  if (s->head_received) {
    snprintf(msg, sizeof(msg), "connection to %s lost during the response", ep);
  } else {
    snprintf(msg, sizeof(msg), "connection to %s closed before the response",
             ep);
  }
  kefo__h1_stream_finish(s, KEFO_ERR_HTTP, msg, 1);
}

void kefo__h1_response_done_cb(struct evhttp_request *req, void *arg) {
  h1_stream *s = arg;
  h1_conn *c = s->conn;

  /* evhttp frees |req| when this returns. */
  s->req = NULL;
  if (req == NULL || evhttp_request_get_response_code(req) == 0 ||
      s->ev_error >= 0 || s->cancelled || s->err_code != 0) {
    finish_failed(s);
    return;
  }
  if (c != NULL) {
    c->stream = NULL;
    if (c->state != CONN_DEAD) {
      if (c->idle_ms == 0) {
        kefo__h1_connection_mark_dead(c);
      } else {
        c->state = CONN_READY;
        timer_arm(c->timer, c->idle_ms);
      }
    }
    schedule_pump(c->client);
  }
  kefo__h1_stream_finish(s, 0, "", 0);
}
