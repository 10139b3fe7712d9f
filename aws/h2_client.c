/*
 * HTTP/2 client: nghttp2 sessions over libevent bufferevents, TLS with
 * ALPN h2 or h2c with prior knowledge, pooled per endpoint. Each connection
 * carries streams up to the peer's SETTINGS_MAX_CONCURRENT_STREAMS; the
 * pool opens another when all are full. Flow control is manual: the
 * connection window is given back as soon as bytes reach a stream's owner,
 * the stream window only when the owner says it has handed them on, so one
 * slow stream stops its peer without starving the others.
 */
#include "aws/h2_client.h"
#include "aws/h2_frame_scan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>

#include "base/retry.h"
#include "aws/tls.h"
#include "base/buf.h"
#include "base/clock.h"

#define DEFAULT_CONNECT_MS 10000u
#define DEFAULT_TLS_MS 10000u
#define DEFAULT_REQUEST_MS 30000u
#define DEFAULT_PING_MS 30000u
#define DEFAULT_STREAM_WINDOW (1u << 20)
/* The connection window is given back as bytes arrive, so it only needs
   to cover what is in flight on the wire. */
#define CONNECTION_WINDOW (16u << 20)
/* Until the peer's SETTINGS say otherwise (RFC 9113 suggests assuming at
   least 100). */
#define INITIAL_MAX_STREAMS 100u
/* Response headers beyond this are refused (bounded memory). */
#define MAX_RESPONSE_HEADER_BYTES (64u * 1024)
#define MAX_RESPONSE_HEADERS 128u

typedef struct h2_conn h2_conn;
typedef struct h2_stream h2_stream;

typedef enum {
  CONN_CONNECTING,
  CONN_READY,
  CONN_DRAINING, /* GOAWAY received or sent: no new streams */
  CONN_DEAD
} conn_state;

struct h2_stream {
  /* What a DATA frame reads first, together: one cache line, then the
     owner's addresses to prefetch (kefo__http_stream_prefetch). */
  kefo_http_stream base;
  kefo_http_callbacks cb;
  void *user_data;
  int cancelled;
  int in_callback;
  int ntouch;
  const void *touch[KEFO_HTTP_PREFETCH_MAX];
  kefo_h2_client *client;
  h2_conn *conn;
  h2_stream *prev, *next; /* the connection's list */
  int32_t id;             /* 0 until submitted */
  /* The request, kept until submitted (headers) or sent (body). */
  kefo_buf req_strings;
  nghttp2_nv *nva;
  size_t nnv;
  uint8_t *body;
  size_t body_len, body_off;
  /* |body| is the caller's (kefo_http_request.body_lent), not a copy. */
  int body_lent;
  uint32_t timeout_ms;
  struct event *timer;
  /* Response head, collected until END_HEADERS. */
  kefo_buf resp_strings; /* name\0value\0 pairs */
  size_t nresp;
  int status;
  int got_response;
  int retried;
};

struct h2_conn {
  kefo_h2_client *client;
  h2_conn *prev, *next;
  kefo_endpoint ep;
  conn_state state;
  struct bufferevent *bev;
  SSL *ssl;
  nghttp2_session *session;
  uint32_t max_streams;
  size_t nstreams; /* submitted or waiting to be */
  h2_stream *streams;
  struct event *flush_ev;
  struct event *timer;   /* connect deadline, then PING liveness */
  struct event *read_ev; /* h2c: the socket read here, not by bev */
  int read_since_tick;
  int ping_outstanding;
  int started;         /* connect begun (from the loop, never in a request) */
  int got_settings;    /* the peer's stream limit is known */
  int connecting;      /* the socket connect has begun */
  size_t conn_unacked; /* connection-level bytes not yet given back */
  kefo_h2_frame_scan scan; /* the frames received, a step ahead */
  /* The peer's first bytes, until they are known to start with a
     SETTINGS frame (preface_ok): what a server that is no HTTP/2 server
     said, for the error that names it. */
  uint8_t first[64];
  size_t nfirst;
  int preface_ok;
};

/* Connection failures per endpoint: new connections to an endpoint that
   just refused or timed out wait, with exponential backoff and jitter,
   instead of hammering it. */
typedef struct ep_backoff {
  struct ep_backoff *next;
  kefo_endpoint ep;
  uint32_t failures;
  int64_t next_ms;
} ep_backoff;

/* 100 ms after the first failure, doubling up to 10 s, full jitter. */
static const kefo_retry_strategy reconnect_backoff = {100, 10000, 0};

/*
 * Prefetching ahead of nghttp2. With thousands of streams on a connection,
 * each DATA frame is for a stream whose state (nghttp2's, ours, the
 * owner's: kefo__http_stream_prefetch) has left the cache since its last
 * frame, and reading it took one cache miss after another. The frames of
 * each piece of received bytes are found before nghttp2 parses them
 * (aws/h2_frame_scan.h); while frame k is handled, nghttp2's stream of
 * frame k + AHEAD_FAR is prefetched, our h2_stream of frame k + AHEAD_MID
 * (nghttp2's stream, in cache by then, points to it) and the owner's
 * addresses of frame k + AHEAD_NEAR (which our h2_stream names), so each
 * stage reads only what an earlier one brought in. Hints only: streams
 * are looked up again at each stage, never kept.
 */
#define AHEAD_MAX 1024
#define AHEAD_FAR 6
#define AHEAD_MID 4
#define AHEAD_NEAR 2

struct kefo_h2_client {
  const kefo_mem *mem;
  ep_backoff *backoffs;
  struct event_base *base;
  struct evdns_base *dns;
  SSL_CTX *tls_ctx;
  kefo_http_client_options opts;
  h2_conn *conns;
  nghttp2_session_callbacks *callbacks;
  nghttp2_option *option;
  nghttp2_mem nmem;
  /* Connections to free from the loop, after the callback that killed
     them has unwound. */
  struct event *reap_ev;
  h2_conn *dead;
  /* h2c reads land here, one connection at a time (READ_BUF). */
  uint8_t *rbuf;
  /* The DATA frames of the piece being fed to nghttp2, found ahead of it
     (look_ahead): the next one to come, and how far stages 1 and 2 of
     the prefetch have gone. */
  nghttp2_session *feed_session;
  const uint8_t *feed_base;
  size_t feed_len;
  size_t nahead, ahead_next, ahead_s1, ahead_s2, ahead_s3;
  kefo_h2_data_frame ahead[AHEAD_MAX];
};

/*
 * Bytes read from an h2c socket at once. libevent 2.1's socket
 * bufferevent reads at most 4,096 bytes a call (EVBUFFER_MAX_READ, which
 * bufferevent_set_max_single_read does not lift): at full speed that was
 * 373,000 rounds of epoll_wait, FIONREAD and readv per GB. TLS
 * connections read through OpenSSL's bufferevent, which has no such cap.
 */
#define READ_BUF (256u * 1024)

static void stream_consume(kefo_http_stream *s, size_t n);
static void stream_cancel(kefo_http_stream *s);
static void stream_prefetch(kefo_http_stream *s, const void *const *addrs,
                            size_t n);
static const kefo_http_stream_ops stream_ops = {stream_consume, stream_cancel,
                                                stream_prefetch};

static void conn_fail(h2_conn *conn, int error, const char *message,
                      int retryable);
static void conn_schedule_flush(h2_conn *conn);
static void raw_read_cb(evutil_socket_t fd, short what, void *arg);

/* ---- streams ---------------------------------------------------------- */

static void stream_free(h2_stream *s) {
  kefo_h2_client *c = s->client;

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

static void stream_unlink(h2_stream *s) {
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

static void stream_link(h2_conn *conn, h2_stream *s) {
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
static void stream_finish(h2_stream *s, int error, const char *message,
                          int retryable) {
  kefo_error_info info;

  stream_unlink(s);
  if (!s->cancelled) {
    memset(&info, 0, sizeof(info));
    info.code = error;
    info.message = message ? message : "";
    info.http_status = s->status;
    info.retryable = retryable;
    s->cancelled = 1; /* no callback after this one */
    s->cb.on_close(&s->base, error, error ? &info : NULL, s->user_data);
  }
  stream_free(s);
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
    conn_fail(conn, KEFO_ERR_TIMEOUT, msg, 1);
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
    if (!s->cancelled) {
      s->cancelled = 1;
      s->cb.on_close(&s->base, KEFO_ERR_TIMEOUT, &info, s->user_data);
    }
    nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, s->id,
                              NGHTTP2_CANCEL);
    conn_schedule_flush(conn);
    return;
  }
  stream_finish(s, KEFO_ERR_TIMEOUT, msg, 1);
}

static void stream_consume(kefo_http_stream *base, size_t n) {
  h2_stream *s = (h2_stream *)base;
  h2_conn *conn = s->conn;

  if (conn && conn->session && s->id > 0) {
    nghttp2_session_consume_stream(conn->session, s->id, n);
    conn_schedule_flush(conn);
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
  if (conn && conn->session && s->id > 0) {
    /* nghttp2 calls on_stream_close once the RST_STREAM is out; the
       stream is freed there. */
    nghttp2_submit_rst_stream(conn->session, NGHTTP2_FLAG_NONE, s->id,
                              NGHTTP2_CANCEL);
    conn_schedule_flush(conn);
    return;
  }
  if (!s->in_callback) {
    stream_unlink(s);
    stream_free(s);
  }
}

/* ---- nghttp2 callbacks -------------------------------------------------- */

/*
 * What the socket's output buffer may hold before nghttp2 is told to wait
 * (NGHTTP2_ERR_WOULDBLOCK), and the level at which write_cb lets it go on.
 * Without a bound a 5 MiB PutRecords body was framed and copied into the
 * buffer whole, in fresh memory each call, while the socket took it 200
 * KiB at a time.
 */
#define H2_OUTPUT_HIGH (256 * 1024)
#define H2_OUTPUT_LOW (64 * 1024)

static void read_cb(struct bufferevent *bev, void *arg);
static void write_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short events, void *arg);

static ssize_t send_cb(nghttp2_session *session, const uint8_t *data,
                       size_t len, int flags, void *ud) {
  h2_conn *conn = ud;

  (void)session;
  (void)flags;
  if (evbuffer_get_length(bufferevent_get_output(conn->bev)) >=
      H2_OUTPUT_HIGH) {
    /* Armed only while held back: a write callback pending when the
       loop is freed would keep the bufferevent alive (leaked). */
    bufferevent_setcb(conn->bev, read_cb, write_cb, event_cb, conn);
    return NGHTTP2_ERR_WOULDBLOCK;
  }
  if (bufferevent_write(conn->bev, data, len) != 0) {
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  return (ssize_t)len;
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
  if (n > length) {
    n = length;
  }
  if (n) {
    memcpy(buf, s->body + s->body_off, n);
  }
  s->body_off += n;
  if (s->body_off == s->body_len) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
  }
  return (ssize_t)n;
}

static int on_header_cb(nghttp2_session *session, const nghttp2_frame *frame,
                        const uint8_t *name, size_t namelen,
                        const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *ud) {
  h2_stream *s;

  (void)flags;
  (void)ud;
  if (frame->hd.type != NGHTTP2_HEADERS) {
    return 0;
  }
  s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (s == NULL || s->got_response) {
    return 0; /* trailers, or a stream we no longer track */
  }
  if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
    int st = 0;
    size_t i;
    for (i = 0; i < valuelen && i < 3; ++i) {
      st = st * 10 + (value[i] - '0');
    }
    s->status = st;
    return 0;
  }
  if (s->nresp == MAX_RESPONSE_HEADERS ||
      s->resp_strings.len + namelen + valuelen + 2 >
          MAX_RESPONSE_HEADER_BYTES) {
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
  }
  if (kefo__buf_append(&s->resp_strings, name, namelen) != 0 ||
      kefo__buf_append_byte(&s->resp_strings, 0) != 0 ||
      kefo__buf_append(&s->resp_strings, value, valuelen) != 0 ||
      kefo__buf_append_byte(&s->resp_strings, 0) != 0) {
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  ++s->nresp;
  return 0;
}

static int deliver_response(h2_stream *s) {
  kefo_http_header hs[MAX_RESPONSE_HEADERS];
  const char *p = (const char *)s->resp_strings.data;
  size_t i;
  int rv;

  for (i = 0; i < s->nresp; ++i) {
    hs[i].name = p;
    p += strlen(p) + 1;
    hs[i].value = p;
    p += strlen(p) + 1;
  }
  s->got_response = 1;
  if (s->timer) {
    event_del(s->timer);
  }
  if (s->cancelled || s->cb.on_response == NULL) {
    return 0;
  }
  s->in_callback = 1;
  rv = s->cb.on_response(&s->base, s->status, hs, s->nresp, s->user_data);
  s->in_callback = 0;
  kefo__buf_free(&s->resp_strings);
  return rv;
}

static void conn_settle(h2_conn *conn);
static void backoff_succeeded(kefo_h2_client *c, const kefo_endpoint *ep);

static int on_frame_recv_cb(nghttp2_session *session,
                            const nghttp2_frame *frame, void *ud) {
  h2_conn *conn = ud;
  h2_stream *s;

  switch (frame->hd.type) {
  case NGHTTP2_SETTINGS:
    if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
      conn->max_streams = nghttp2_session_get_remote_settings(
          session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
      if (!conn->got_settings) {
        struct timeval tv;
        conn->got_settings = 1;
        /* Only now is the connection made: a peer that accepts and says
           nothing must keep counting as a failure of the endpoint. */
        backoff_succeeded(conn->client, &conn->ep);
        /* From the handshake deadline to the liveness check. */
        kefo__timeval_ms(&tv, conn->client->opts.ping_interval_ms);
        event_add(conn->timer, &tv);
        conn_settle(conn);
      }
    }
    break;
  case NGHTTP2_GOAWAY:
    /* Streams in flight below last_stream_id finish; new ones go to a
       new connection. */
    if (conn->state == CONN_READY) {
      conn->state = CONN_DRAINING;
    }
    break;
  case NGHTTP2_HEADERS:
    s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s == NULL || s->got_response ||
        frame->headers.cat != NGHTTP2_HCAT_RESPONSE) {
      break;
    }
    if (s->status >= 100 && s->status < 200) {
      s->status = 0; /* interim response: wait for the final one */
      s->nresp = 0;
      kefo__buf_reset(&s->resp_strings);
      break;
    }
    if (deliver_response(s) != 0 && !s->cancelled) {
      s->cancelled = 1;
      {
        kefo_error_info info;
        memset(&info, 0, sizeof(info));
        info.code = KEFO_ERR_CALLBACK_FAILURE;
        info.message = "on_response returned non-zero";
        info.http_status = s->status;
        s->cb.on_close(&s->base, KEFO_ERR_CALLBACK_FAILURE, &info,
                       s->user_data);
      }
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id,
                                NGHTTP2_CANCEL);
    }
    break;
  default:
    break;
  }
  return 0;
}

static void conn_update(nghttp2_session *session, h2_conn *conn, size_t len) {
  uint32_t window = conn->client->opts.stream_window;

  /* Half the smaller window: with a stream window above the connection
     window, half the stream window would never be reached. */
  if (window > CONNECTION_WINDOW) {
    window = CONNECTION_WINDOW;
  }
  conn->conn_unacked += len;
  if (conn->conn_unacked >= window / 2) {
    /* Below what was received, this only sends the WINDOW_UPDATE: the
       local window keeps its size (nghttp2_adjust_local_window_size). */
    nghttp2_submit_window_update(session, NGHTTP2_FLAG_NONE, 0,
                                 (int32_t)conn->conn_unacked);
    conn->conn_unacked = 0;
  }
}

/* The piece being fed is at |cur|: prefetch for the frames ahead, in
   three stages so that no stage reads what is not in cache yet. */
static void look_ahead(kefo_h2_client *c, size_t cur) {
  h2_stream *s;
  int i;

  while (c->ahead_next < c->nahead && c->ahead[c->ahead_next].offset <= cur) {
    ++c->ahead_next;
  }
  /* 1: nghttp2's stream (finding it reads only nghttp2's map). */
  while (c->ahead_s1 < c->nahead && c->ahead_s1 < c->ahead_next + AHEAD_FAR) {
    __builtin_prefetch(nghttp2_session_find_stream(
                           c->feed_session, c->ahead[c->ahead_s1++].stream_id),
                       1);
  }
  /* 2: ours, which nghttp2's stream points to. */
  while (c->ahead_s2 < c->nahead && c->ahead_s2 < c->ahead_next + AHEAD_MID) {
    s = nghttp2_session_get_stream_user_data(c->feed_session,
                                             c->ahead[c->ahead_s2++].stream_id);
    if (s != NULL) {
      __builtin_prefetch(s, 1);
    }
  }
  /* 3: the owner's, which ours names. */
  while (c->ahead_s3 < c->nahead && c->ahead_s3 < c->ahead_next + AHEAD_NEAR) {
    s = nghttp2_session_get_stream_user_data(c->feed_session,
                                             c->ahead[c->ahead_s3++].stream_id);
    if (s != NULL) {
      for (i = 0; i < s->ntouch; ++i) {
        __builtin_prefetch(s->touch[i], 1);
      }
    }
  }
}

static int on_data_chunk_cb(nghttp2_session *session, uint8_t flags, int32_t id,
                            const uint8_t *data, size_t len, void *ud) {
  h2_stream *s = nghttp2_session_get_stream_user_data(session, id);
  kefo_h2_client *c = ((h2_conn *)ud)->client;

  (void)flags;
  if (session == c->feed_session && data >= c->feed_base &&
      data < c->feed_base + c->feed_len) {
    look_ahead(c, (size_t)(data - c->feed_base));
  }
  /* The connection window goes back at once: the bytes now sit with one
     stream, whose own window is what holds its peer back. It goes back
     every half stream window, not every half connection window as
     nghttp2 would: kinesis-local's server takes our
     SETTINGS_INITIAL_WINDOW_SIZE as its connection window too and never
     sees the larger connection WINDOW_UPDATE, so two streams stalled for
     good once they had received one stream window between them. */
  conn_update(session, ud, len);
  if (s == NULL || s->cancelled) {
    nghttp2_session_consume_stream(session, id, len);
    return 0;
  }
  if (s->cb.on_data == NULL) {
    nghttp2_session_consume_stream(session, id, len);
    return 0;
  }
  s->in_callback = 1;
  if (s->cb.on_data(&s->base, data, len, s->user_data) != 0 && !s->cancelled) {
    kefo_error_info info;
    memset(&info, 0, sizeof(info));
    info.code = KEFO_ERR_CALLBACK_FAILURE;
    info.message = "on_data returned non-zero";
    info.http_status = s->status;
    s->cancelled = 1;
    s->cb.on_close(&s->base, KEFO_ERR_CALLBACK_FAILURE, &info, s->user_data);
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  }
  s->in_callback = 0;
  return 0;
}

static int on_stream_close_cb(nghttp2_session *session, int32_t id,
                              uint32_t error_code, void *ud) {
  h2_stream *s = nghttp2_session_get_stream_user_data(session, id);
  char msg[400];

  (void)ud;
  if (s == NULL) {
    return 0;
  }
  nghttp2_session_set_stream_user_data(session, id, NULL);
  if (error_code == NGHTTP2_NO_ERROR && s->got_response) {
    stream_finish(s, 0, NULL, 0);
    return 0;
  }
  if (error_code == NGHTTP2_NO_ERROR) {
    stream_finish(s, KEFO_ERR_HTTP, "stream ended without a response", 1);
    return 0;
  }
  snprintf(msg, sizeof(msg), "HTTP/2 stream reset: %s",
           nghttp2_http2_strerror(error_code));
  /* Every reset is retryable: REFUSED_STREAM (a GOAWAY below us, the
     peer's stream limit) says the server did not process the request,
     and the others (PROTOCOL_ERROR from a body that does not match its
     content-length, INTERNAL_ERROR, CANCEL) lost a read that is safe to
     send again; the caller's retry budget bounds a server that always
     resets. */
  stream_finish(s, KEFO_ERR_STREAM_RESET, msg, 1);
  return 0;
}

/* ---- connections -------------------------------------------------------- */

static void conn_reap_cb(evutil_socket_t fd, short what, void *arg);
static int endpoint_equal(const kefo_endpoint *a, const kefo_endpoint *b);

static ep_backoff *backoff_find(kefo_h2_client *c, const kefo_endpoint *ep) {
  ep_backoff *b;

  for (b = c->backoffs; b; b = b->next) {
    if (endpoint_equal(&b->ep, ep)) {
      return b;
    }
  }
  return NULL;
}

static void backoff_failed(kefo_h2_client *c, const kefo_endpoint *ep) {
  ep_backoff *b = backoff_find(c, ep);
  const kefo_clock *clock = kefo__clock_system();

  if (b == NULL) {
    b = kefo__mem_calloc(c->mem, 1, sizeof(*b));
    if (b == NULL) {
      return; /* no backoff is only less polite */
    }
    b->ep = *ep;
    b->next = c->backoffs;
    c->backoffs = b;
  }
  if (b->failures < 32) {
    ++b->failures;
  }
  b->next_ms = clock->mono_ms(clock->user_data) +
               kefo__retry_delay_ms(&reconnect_backoff, b->failures, clock);
}

static void backoff_succeeded(kefo_h2_client *c, const kefo_endpoint *ep) {
  ep_backoff **pp, *b;

  for (pp = &c->backoffs; (b = *pp) != NULL; pp = &b->next) {
    if (endpoint_equal(&b->ep, ep)) {
      *pp = b->next;
      kefo__mem_free(c->mem, b);
      return;
    }
  }
}

static void conn_unlink(h2_conn *conn) {
  kefo_h2_client *c = conn->client;

  if (conn->prev) {
    conn->prev->next = conn->next;
  } else if (c->conns == conn) {
    c->conns = conn->next;
  }
  if (conn->next) {
    conn->next->prev = conn->prev;
  }
  conn->prev = conn->next = NULL;
}

static void conn_free(h2_conn *conn) {
  kefo_h2_client *c = conn->client;

  if (conn->session) {
    nghttp2_session_del(conn->session);
  }
  if (conn->read_ev) {
    /* Before the socket closes with the bufferevent. */
    event_free(conn->read_ev);
    conn->read_ev = NULL;
  }
  if (conn->bev) {
    bufferevent_free(conn->bev); /* frees the SSL too (CLOSE_ON_FREE) */
  } else if (conn->ssl) {
    SSL_free(conn->ssl);
  }
  if (conn->flush_ev) {
    event_free(conn->flush_ev);
  }
  if (conn->timer) {
    event_free(conn->timer);
  }
  kefo__mem_free(c->mem, conn);
}

/*
 * Kills a connection: every stream on it ends with |error|, and the
 * connection is freed from the loop (never under the caller's feet).
 */
static void conn_fail(h2_conn *conn, int error, const char *message,
                      int retryable) {
  kefo_h2_client *c = conn->client;

  if (conn->state == CONN_DEAD) {
    return;
  }
  /* Until the peer's SETTINGS the connection is still being made: a
     silent peer backs off as a refusing one does. */
  if (conn->connecting && !conn->got_settings && retryable) {
    backoff_failed(c, &conn->ep);
  }
  conn->state = CONN_DEAD;
  if (conn->bev) {
    bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
  }
  if (conn->read_ev) {
    event_del(conn->read_ev);
  }
  if (conn->timer) {
    event_del(conn->timer);
  }
  if (conn->flush_ev) {
    event_del(conn->flush_ev);
  }
  while (conn->streams) {
    h2_stream *s = conn->streams;
    if (conn->session && s->id > 0) {
      nghttp2_session_set_stream_user_data(conn->session, s->id, NULL);
    }
    stream_finish(s, error, message, retryable);
  }
  conn_unlink(conn);
  conn->next = c->dead;
  c->dead = conn;
  event_active(c->reap_ev, 0, 0);
}

static void conn_reap_cb(evutil_socket_t fd, short what, void *arg) {
  kefo_h2_client *c = arg;

  (void)fd;
  (void)what;
  while (c->dead) {
    h2_conn *conn = c->dead;
    c->dead = conn->next;
    conn_free(conn);
  }
}

/* Sends what nghttp2 has queued; closes the connection when both sides
   are done. */
static void conn_flush(h2_conn *conn) {
  int rv;

  if (conn->state == CONN_DEAD || conn->session == NULL) {
    return;
  }
  rv = nghttp2_session_send(conn->session);
  if (rv != 0) {
    conn_fail(conn, KEFO_ERR_HTTP, nghttp2_strerror(rv), 1);
    return;
  }
  if (!nghttp2_session_want_read(conn->session) &&
      !nghttp2_session_want_write(conn->session) &&
      evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0) {
    conn_fail(conn, KEFO_ERR_HTTP, "connection closed", 1);
  }
}

static void conn_start(h2_conn *conn);

static void flush_cb(evutil_socket_t fd, short what, void *arg) {
  h2_conn *conn = arg;

  (void)fd;
  (void)what;
  if (!conn->started) {
    conn_start(conn);
    return;
  }
  conn_flush(conn);
}

/* The output buffer has drained to H2_OUTPUT_LOW: what send_cb held back
   goes on. */
static void write_cb(struct bufferevent *bev, void *arg) {
  h2_conn *conn = arg;

  bufferevent_setcb(bev, read_cb, NULL, event_cb, conn);
  if (conn->started && conn->session &&
      nghttp2_session_want_write(conn->session)) {
    conn_flush(conn);
  }
}

static void conn_schedule_flush(h2_conn *conn) {
  if (conn->flush_ev && conn->state != CONN_DEAD) {
    event_active(conn->flush_ev, 0, 0);
  }
}

static int submit_stream(h2_conn *conn, h2_stream *s) {
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

static void submit_pending(h2_conn *conn) {
  h2_stream *s;
  int rv;

  for (s = conn->streams; s; s = s->next) {
    if (s->id == 0 && !s->cancelled) {
      rv = submit_stream(conn, s);
      if (rv != 0) {
        conn_fail(conn, KEFO_ERR_HTTP, nghttp2_strerror(rv), 1);
        return;
      }
    }
  }
  conn_schedule_flush(conn);
}

static h2_conn *find_conn(kefo_h2_client *c, const kefo_endpoint *ep);
static h2_conn *conn_new(kefo_h2_client *c, const kefo_endpoint *ep);

/*
 * The peer's limit is known: keep as many waiting requests as it allows
 * and move the rest to connections with room, opening them as needed.
 */
static void conn_settle(h2_conn *conn) {
  kefo_h2_client *c = conn->client;
  h2_stream *s, *next;
  size_t open = 0;

  for (s = conn->streams; s; s = s->next) {
    open += s->id > 0;
  }
  for (s = conn->streams; s; s = next) {
    h2_conn *other;
    next = s->next;
    if (s->id > 0 || s->cancelled) {
      continue;
    }
    if (open < conn->max_streams) {
      ++open;
      continue;
    }
    stream_unlink(s);
    other = find_conn(c, &conn->ep);
    if (other == NULL || other == conn) {
      other = conn_new(c, &conn->ep);
    }
    if (other == NULL) {
      stream_finish(s, KEFO_ERR_NOMEM, "no memory for a new connection", 1);
      continue;
    }
    stream_link(other, s);
    if (other->state == CONN_READY && other->got_settings) {
      if (submit_stream(other, s) != 0) {
        stream_finish(s, KEFO_ERR_HTTP, "cannot submit the request", 1);
      }
      conn_schedule_flush(other);
    }
  }
  submit_pending(conn);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg) {
  h2_conn *conn = arg;
  kefo_h2_client *c = conn->client;
  char msg[400];

  (void)fd;
  (void)what;
  if (conn->state == CONN_CONNECTING) {
    snprintf(msg, sizeof(msg), "connecting to %s took longer than %u ms",
             conn->ep.authority,
             c->opts.connect_timeout_ms + c->opts.tls_timeout_ms);
    conn_fail(conn, KEFO_ERR_TIMEOUT, msg, 1);
    return;
  }
  if (!conn->got_settings) {
    snprintf(msg, sizeof(msg),
             "%s accepted the connection but sent no HTTP/2 SETTINGS within "
             "%u ms",
             conn->ep.authority, c->opts.connect_timeout_ms);
    conn_fail(conn, KEFO_ERR_TIMEOUT, msg, 1);
    return;
  }
  if (conn->read_since_tick) {
    conn->read_since_tick = 0;
    conn->ping_outstanding = 0;
    return;
  }
  if (conn->ping_outstanding) {
    snprintf(msg, sizeof(msg), "no answer to PING from %s within %u ms",
             conn->ep.authority, c->opts.ping_interval_ms);
    conn_fail(conn, KEFO_ERR_TIMEOUT, msg, 1);
    return;
  }
  nghttp2_submit_ping(conn->session, NGHTTP2_FLAG_NONE, NULL);
  conn->ping_outstanding = 1;
  conn_schedule_flush(conn);
}

static void conn_ready(h2_conn *conn) {
  kefo_h2_client *c = conn->client;
  nghttp2_settings_entry iv[2];
  struct timeval tv;
  int rv;

  if (conn->ssl && !kefo__tls_alpn_is_h2(conn->ssl)) {
    char msg[300];
    snprintf(msg, sizeof(msg), "%s did not agree to HTTP/2 (ALPN h2)",
             conn->ep.authority);
    conn_fail(conn, KEFO_ERR_TLS, msg, 0);
    return;
  }
  rv = nghttp2_session_client_new3(&conn->session, c->callbacks, conn,
                                   c->option, &c->nmem);
  if (rv != 0) {
    conn_fail(conn, KEFO_ERR_NOMEM, nghttp2_strerror(rv), 0);
    return;
  }
  iv[0].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
  iv[0].value = c->opts.stream_window;
  iv[1].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
  iv[1].value = 0;
  nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, iv, 2);
  nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0,
                                        CONNECTION_WINDOW);
  if (!conn->ssl) {
    /* h2c: the socket is read here, in reads of READ_BUF; the
       bufferevent keeps writing (and reports write errors). */
    if (c->rbuf == NULL) {
      c->rbuf = kefo__mem_malloc(c->mem, READ_BUF);
    }
    conn->read_ev = c->rbuf ? event_new(c->base, bufferevent_getfd(conn->bev),
                                        EV_READ | EV_PERSIST, raw_read_cb, conn)
                            : NULL;
    if (conn->read_ev == NULL) {
      conn_fail(conn, KEFO_ERR_NOMEM, "no memory for a connection", 0);
      return;
    }
    bufferevent_disable(conn->bev, EV_READ);
    event_add(conn->read_ev, NULL);
  }
  conn->state = CONN_READY;
  /* The timer becomes the liveness check, after a handshake deadline: a
     server's first frame is its SETTINGS, sent as soon as it accepts, so
     one that accepts and says nothing is found within the connect
     timeout, not the request's (30 s a call, each retry again on the
     same silent connection: five minutes in all). */
  event_del(conn->timer);
  event_free(conn->timer);
  conn->timer = event_new(c->base, -1, EV_PERSIST, tick_cb, conn);
  if (conn->timer) {
    kefo__timeval_ms(&tv, c->opts.connect_timeout_ms);
    event_add(conn->timer, &tv);
  }
  /* Requests wait for the peer's SETTINGS (the first frame it sends):
     only then is its stream limit known. */
}

static int check_preface(h2_conn *conn, const uint8_t *data, size_t len);

/* Hands |len| received bytes to nghttp2. Returns 0, or -1 when the
   connection died (failed here, or by what a callback did). */
static int feed(h2_conn *conn, const uint8_t *data, size_t len) {
  kefo_h2_client *c = conn->client;
  ssize_t rv;

  if (!conn->preface_ok && check_preface(conn, data, len) != 0) {
    return -1;
  }
  c->nahead =
      kefo__h2_frame_scan_feed(&conn->scan, data, len, c->ahead, AHEAD_MAX);
  c->ahead_next = c->ahead_s1 = c->ahead_s2 = c->ahead_s3 = 0;
  c->feed_session = conn->session;
  c->feed_base = data;
  c->feed_len = len;
  rv = nghttp2_session_mem_recv(conn->session, data, len);
  c->feed_session = NULL;
  c->nahead = 0;

  if (rv < 0) {
    conn_fail(conn, KEFO_ERR_HTTP, nghttp2_strerror((int)rv), 1);
    return -1;
  }
  return conn->state == CONN_DEAD ? -1 : 0;
}

/* The peer's first bytes, for an error: its first line when it is text
   ("HTTP/1.1 400 Bad Request"), else the bytes in hex. */
static void describe_first(const h2_conn *conn, char *out, size_t cap) {
  size_t i, n = 0, len = conn->nfirst;
  int text = 1;

  for (i = 0; i < len && conn->first[i] != '\r' && conn->first[i] != '\n';
       ++i) {
    text = text && conn->first[i] >= 0x20 && conn->first[i] < 0x7f &&
           conn->first[i] != '\'';
  }
  if (text && i > 0) {
    snprintf(out, cap, "'%.*s'", (int)i, (const char *)conn->first);
    return;
  }
  if (len > 16) {
    len = 16;
  }
  for (i = 0; i < len && n + 4 < cap; ++i) {
    n += (size_t)snprintf(out + n, cap - n, "%s%02x", i ? " " : "bytes ",
                          conn->first[i]);
  }
  if (conn->nfirst > len && n + 4 < cap) {
    snprintf(out + n, cap - n, " ...");
  }
}

/* The peer is no HTTP/2 server (an HTTP/1.1 server, a web page, TLS on
   a plain port, noise): fails the connection naming what it sent, as a
   protocol error and for good, since asking again gets the same. */
static void fail_not_h2(h2_conn *conn, const char *how) {
  char seen[200], msg[600];

  describe_first(conn, seen, sizeof(seen));
  snprintf(msg, sizeof(msg),
           "HTTP/2 protocol error from %s: not HTTP/2: the server answered "
           "%s%s",
           conn->ep.authority, seen, how);
  conn_fail(conn, KEFO_ERR_HTTP, msg, 0);
}

/*
 * An HTTP/2 server's first frame is SETTINGS (RFC 9113, 3.4). Until the
 * first 9 bytes are known to be such a frame's header they are kept, and
 * anything else fails the connection with what was received; nghttp2
 * would only end the session, and the peer's close read as "closed by
 * the peer". Returns 0, or -1 when the connection failed.
 */
static int check_preface(h2_conn *conn, const uint8_t *data, size_t len) {
  size_t n = sizeof(conn->first) - conn->nfirst;

  if (n > len) {
    n = len;
  }
  memcpy(conn->first + conn->nfirst, data, n);
  conn->nfirst += n;
  if (conn->nfirst < 9) {
    return 0;
  }
  if (conn->first[3] == NGHTTP2_SETTINGS && !(conn->first[4] & 1) &&
      conn->first[5] == 0 && conn->first[6] == 0 && conn->first[7] == 0 &&
      conn->first[8] == 0) {
    conn->preface_ok = 1;
    return 0;
  }
  fail_not_h2(conn, "");
  return -1;
}

/* The connection is lost: named as a protocol error when the peer had
   sent a few bytes that are not an HTTP/2 server's, else as lost. */
static void conn_lost(h2_conn *conn, int eof) {
  char msg[600];

  if (!conn->preface_ok && conn->nfirst > 0) {
    fail_not_h2(conn, " and closed the connection");
    return;
  }
  snprintf(msg, sizeof(msg), "connection to %s %s", conn->ep.authority,
           eof ? "closed by the peer" : "lost");
  conn_fail(conn, KEFO_ERR_HTTP, msg, 1);
}

/* An h2c connection's socket is readable: one read of up to READ_BUF. */
static void raw_read_cb(evutil_socket_t fd, short what, void *arg) {
  h2_conn *conn = arg;
  kefo_h2_client *c = conn->client;
  ssize_t n;

  (void)what;
  n = recv(fd, c->rbuf, READ_BUF, 0);
  if (n > 0) {
    conn->read_since_tick = 1;
    if (feed(conn, c->rbuf, (size_t)n) == 0) {
      conn_flush(conn);
    }
    return;
  }
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    return;
  }
  conn_lost(conn, n == 0);
}

static void read_cb(struct bufferevent *bev, void *arg) {
  h2_conn *conn = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  struct evbuffer_iovec v[16];
  int n, i;

  conn->read_since_tick = 1;
  /* Hand nghttp2 the socket buffer's own chunks: no copy into one
     block. */
  while (conn->state != CONN_DEAD && evbuffer_get_length(in) > 0) {
    size_t used = 0;
    n = evbuffer_peek(in, -1, NULL, v, 16);
    if (n > 16) {
      n = 16;
    }
    for (i = 0; i < n; ++i) {
      if (feed(conn, v[i].iov_base, v[i].iov_len) != 0) {
        return;
      }
      used += v[i].iov_len;
    }
    evbuffer_drain(in, used);
  }
  conn_flush(conn);
}

static void event_cb(struct bufferevent *bev, short events, void *arg) {
  h2_conn *conn = arg;
  char msg[800];

  if (events & BEV_EVENT_CONNECTED) {
    conn_ready(conn);
    if (conn->state != CONN_DEAD) {
      conn_flush(conn);
    }
    return;
  }
  if (!(events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))) {
    return;
  }
  if (conn->state == CONN_CONNECTING) {
    int dns_err = bufferevent_socket_get_dns_error(bev);
    unsigned long ssl_err = conn->ssl ? bufferevent_get_openssl_error(bev) : 0;
    if (dns_err) {
      snprintf(msg, sizeof(msg), "cannot resolve %s: %s", conn->ep.host,
               evutil_gai_strerror(dns_err));
      conn_fail(conn, KEFO_ERR_CONNECT, msg, 1);
    } else if (conn->ssl &&
               (ssl_err || SSL_get_verify_result(conn->ssl) != X509_V_OK ||
                (events & BEV_EVENT_EOF))) {
      char why[300];
      if (SSL_get_verify_result(conn->ssl) == X509_V_OK && ssl_err) {
        ERR_error_string_n(ssl_err, why, sizeof(why));
      } else {
        kefo__tls_describe_error(conn->ssl, why, sizeof(why));
      }
      while (bufferevent_get_openssl_error(bev)) {
      }
      snprintf(msg, sizeof(msg), "TLS with %s failed: %s", conn->ep.authority,
               why);
      conn_fail(conn, KEFO_ERR_TLS, msg, 0);
    } else {
      snprintf(msg, sizeof(msg), "cannot connect to %s: %s", conn->ep.authority,
               evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
      conn_fail(conn, KEFO_ERR_CONNECT, msg, 1);
    }
    return;
  }
  if (conn->ssl) {
    while (bufferevent_get_openssl_error(bev)) {
    }
  }
  conn_lost(conn, (events & BEV_EVENT_EOF) != 0);
}

static h2_conn *conn_new(kefo_h2_client *c, const kefo_endpoint *ep) {
  h2_conn *conn = kefo__mem_calloc(c->mem, 1, sizeof(*conn));

  if (conn == NULL) {
    return NULL;
  }
  kefo__h2_frame_scan_init(&conn->scan);
  conn->client = c;
  conn->ep = *ep;
  conn->state = CONN_CONNECTING;
  conn->max_streams = INITIAL_MAX_STREAMS;
  conn->flush_ev = event_new(c->base, -1, 0, flush_cb, conn);
  conn->timer = event_new(c->base, -1, 0, tick_cb, conn);
  if (conn->flush_ev == NULL || conn->timer == NULL) {
    goto fail;
  }
  if (ep->tls) {
    conn->ssl = kefo__tls_new_ssl(c->tls_ctx, ep->host);
    if (conn->ssl == NULL) {
      goto fail;
    }
    conn->bev = bufferevent_openssl_socket_new(
        c->base, -1, conn->ssl, BUFFEREVENT_SSL_CONNECTING,
        BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
  } else {
    conn->bev = bufferevent_socket_new(
        c->base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
  }
  if (conn->bev == NULL) {
    goto fail;
  }
  bufferevent_setcb(conn->bev, read_cb, NULL, event_cb, conn);
  bufferevent_setwatermark(conn->bev, EV_WRITE, H2_OUTPUT_LOW, 0);
  bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
  conn->next = c->conns;
  if (c->conns) {
    c->conns->prev = conn;
  }
  c->conns = conn;
  /* Connecting starts from the loop, so even a failure at once reaches
     the requests' owners from the loop. */
  event_active(conn->flush_ev, 0, 0);
  return conn;

fail:
  conn_free(conn);
  return NULL;
}

static void conn_start(h2_conn *conn) {
  kefo_h2_client *c = conn->client;
  ep_backoff *b = backoff_find(c, &conn->ep);
  uint32_t ms = c->opts.connect_timeout_ms + c->opts.tls_timeout_ms;
  struct timeval tv;

  if (b != NULL) {
    int64_t wait = b->next_ms - kefo__clock_system()->mono_ms(NULL);
    if (wait > 0) {
      /* The endpoint failed lately: try again when its backoff ends. */
      kefo__timeval_ms(&tv, wait);
      event_add(conn->flush_ev, &tv);
      return;
    }
  }
  conn->started = 1;
  conn->connecting = 1;
  /* The deadline covers resolving, connecting and the TLS handshake. */
  kefo__timeval_ms(&tv, ms);
  event_add(conn->timer, &tv);
  /* A name is resolved by evdns, asynchronously; an address needs none.
     Errors come back through event_cb. */
  if (bufferevent_socket_connect_hostname(conn->bev, conn->client->dns,
                                          AF_UNSPEC, conn->ep.host,
                                          conn->ep.port) != 0 &&
      conn->state != CONN_DEAD) {
    conn_fail(conn, KEFO_ERR_CONNECT, "cannot start connecting", 1);
  }
}

static int endpoint_equal(const kefo_endpoint *a, const kefo_endpoint *b) {
  return a->tls == b->tls && a->port == b->port &&
         strcmp(a->host, b->host) == 0;
}

/* A live connection to |ep| with room for one more stream, or NULL. */
static h2_conn *find_conn(kefo_h2_client *c, const kefo_endpoint *ep) {
  h2_conn *conn;

  for (conn = c->conns; conn; conn = conn->next) {
    /* Before the peer's SETTINGS its limit is unknown: requests queue and
       are spread out when it arrives (conn_settle). */
    if ((conn->state == CONN_READY || conn->state == CONN_CONNECTING) &&
        endpoint_equal(&conn->ep, ep) &&
        (!conn->got_settings || conn->nstreams < conn->max_streams)) {
      return conn;
    }
  }
  return NULL;
}

/* ---- the client ---------------------------------------------------------- */

static void *nmem_malloc(size_t size, void *ud) {
  return kefo__mem_malloc(ud, size);
}
static void nmem_free(void *p, void *ud) {
  kefo__mem_free(ud, p);
}
static void *nmem_calloc(size_t n, size_t size, void *ud) {
  return kefo__mem_calloc(ud, n, size);
}
static void *nmem_realloc(void *p, size_t size, void *ud) {
  return kefo__mem_realloc(ud, p, size);
}

int kefo__h2_client_new(kefo_h2_client **out, struct event_base *base,
                        const kefo_http_client_options *opts,
                        SSL_CTX *tls_ctx) {
  const kefo_mem *mem = kefo__mem_or_default(opts ? opts->mem : NULL);
  kefo_h2_client *c = kefo__mem_calloc(mem, 1, sizeof(*c));

  if (c == NULL) {
    return KEFO_ERR_NOMEM;
  }
  c->mem = mem;
  c->base = base;
  c->tls_ctx = tls_ctx;
  if (opts) {
    c->opts = *opts;
  }
  if (!c->opts.connect_timeout_ms) {
    c->opts.connect_timeout_ms = DEFAULT_CONNECT_MS;
  }
  if (!c->opts.tls_timeout_ms) {
    c->opts.tls_timeout_ms = DEFAULT_TLS_MS;
  }
  if (!c->opts.request_timeout_ms) {
    c->opts.request_timeout_ms = DEFAULT_REQUEST_MS;
  }
  if (!c->opts.ping_interval_ms) {
    c->opts.ping_interval_ms = DEFAULT_PING_MS;
  }
  if (!c->opts.stream_window) {
    c->opts.stream_window = DEFAULT_STREAM_WINDOW;
  }
  c->nmem.mem_user_data = (void *)mem;
  c->nmem.malloc = nmem_malloc;
  c->nmem.free = nmem_free;
  c->nmem.calloc = nmem_calloc;
  c->nmem.realloc = nmem_realloc;
  c->reap_ev = event_new(base, -1, 0, conn_reap_cb, c);
  c->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                    EVDNS_BASE_DISABLE_WHEN_INACTIVE);
  if (c->reap_ev == NULL || c->dns == NULL ||
      nghttp2_session_callbacks_new(&c->callbacks) != 0 ||
      nghttp2_option_new(&c->option) != 0) {
    kefo__h2_client_del(c);
    return KEFO_ERR_NOMEM;
  }
  nghttp2_session_callbacks_set_send_callback(c->callbacks, send_cb);
  nghttp2_session_callbacks_set_on_header_callback(c->callbacks, on_header_cb);
  nghttp2_session_callbacks_set_on_frame_recv_callback(c->callbacks,
                                                       on_frame_recv_cb);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(c->callbacks,
                                                            on_data_chunk_cb);
  nghttp2_session_callbacks_set_on_stream_close_callback(c->callbacks,
                                                         on_stream_close_cb);
  /* The owner gives the stream window back (kefo__http_stream_consume). */
  nghttp2_option_set_no_auto_window_update(c->option, 1);
  *out = c;
  return 0;
}

void kefo__h2_client_del(kefo_h2_client *c) {
  if (c == NULL) {
    return;
  }
  while (c->conns) {
    h2_conn *conn = c->conns;
    conn_unlink(conn);
    /* No callbacks on deletion: free the streams quietly. */
    while (conn->streams) {
      h2_stream *s = conn->streams;
      stream_unlink(s);
      stream_free(s);
    }
    conn_free(conn);
  }
  conn_reap_cb(-1, 0, c);
  while (c->backoffs) {
    ep_backoff *b = c->backoffs;
    c->backoffs = b->next;
    kefo__mem_free(c->mem, b);
  }
  if (c->reap_ev) {
    event_free(c->reap_ev);
  }
  if (c->dns) {
    evdns_base_free(c->dns, 0);
  }
  nghttp2_session_callbacks_del(c->callbacks);
  nghttp2_option_del(c->option);
  kefo__mem_free(c->mem, c->rbuf);
  kefo__mem_free(c->mem, c);
}

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
    stream_free(s);
    return rv;
  }
  s->timer = event_new(c->base, -1, 0, stream_timeout_cb, s);
  if (s->timer == NULL) {
    stream_free(s);
    return KEFO_ERR_NOMEM;
  }
  conn = find_conn(c, req->endpoint);
  if (conn == NULL) {
    conn = conn_new(c, req->endpoint);
    if (conn == NULL) {
      stream_free(s);
      return KEFO_ERR_NOMEM;
    }
  }
  kefo__timeval_ms(&tv, s->timeout_ms);
  event_add(s->timer, &tv);
  stream_link(conn, s);
  if (conn->state == CONN_READY && conn->got_settings) {
    rv = submit_stream(conn, s);
    if (rv != 0) {
      stream_unlink(s);
      stream_free(s);
      return rv == NGHTTP2_ERR_NOMEM ? KEFO_ERR_NOMEM : KEFO_ERR_HTTP;
    }
    conn_schedule_flush(conn);
  }
  if (out) {
    *out = &s->base;
  }
  return 0;
}

int64_t kefo__h2_client_wait_ms(kefo_h2_client *c, const kefo_endpoint *ep) {
  ep_backoff *b = c ? backoff_find(c, ep) : NULL;
  int64_t wait;

  if (b == NULL) {
    return 0;
  }
  wait = b->next_ms - kefo__clock_system()->mono_ms(NULL);
  return wait > 0 ? wait : 0;
}

size_t kefo__h2_client_connections(const kefo_h2_client *c) {
  size_t n = 0;
  const h2_conn *conn;

  for (conn = c->conns; conn; conn = conn->next) {
    ++n;
  }
  return n;
}
