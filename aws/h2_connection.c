/*
 * One HTTP/2 connection's life: connecting (TLS with ALPN h2, or h2c with
 * prior knowledge), the SETTINGS deadline then PING liveness, reading the
 * socket, sending what nghttp2 queued, and failing it with all its streams.
 */
#include "aws/h2_client_internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>

#include "aws/tls.h"
#include "base/clock.h"

/* Until the peer's SETTINGS say otherwise (RFC 9113 suggests assuming at
   least 100). */
#define INITIAL_MAX_STREAMS 100u

/*
 * Bytes read from an h2c socket at once. libevent 2.1's socket
 * bufferevent reads at most 4,096 bytes a call (EVBUFFER_MAX_READ, which
 * bufferevent_set_max_single_read does not lift): at full speed that was
 * 373,000 rounds of epoll_wait, FIONREAD and readv per GB. TLS
 * connections read through OpenSSL's bufferevent, which has no such cap.
 */
#define READ_BUF (256u * 1024)

/* The most written to the socket at once (see conn_new). */
#define WRITE_MAX KEFO_H2_OUTPUT_HIGH

static void raw_read_cb(evutil_socket_t fd, short what, void *arg);
static void conn_start(h2_conn *conn);

void kefo__h2_connection_unlink(h2_conn *conn) {
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

void kefo__h2_connection_free(h2_conn *conn) {
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
void kefo__h2_connection_fail(h2_conn *conn, int error, const char *message,
                              int retryable) {
  kefo_h2_client *c = conn->client;

  if (conn->state == CONN_DEAD) {
    return;
  }
  /* Until the peer's SETTINGS the connection is still being made: a
     silent peer backs off as a refusing one does. */
  if (conn->connecting && !conn->got_settings && retryable) {
    kefo__h2_client_backoff_failed(c, &conn->ep);
  }
  conn->state = CONN_DEAD;
  if (conn->bev) {
    bufferevent_disable(conn->bev, EV_READ | EV_WRITE);
    /* Never written now: dropped before the streams end, so that no
       lent body is referred to once its owner has it back. */
    kefo__h2_connection_own_output(conn);
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
    kefo__h2_stream_finish(s, error, message, retryable);
  }
  kefo__h2_connection_unlink(conn);
  conn->next = c->dead;
  c->dead = conn;
  event_active(c->reap_ev, 0, 0);
}

/* Sends what nghttp2 has queued; closes the connection when both sides
   are done. */
static void conn_flush(h2_conn *conn) {
  int rv;

  if (conn->state == CONN_DEAD || conn->session == NULL) {
    return;
  }
  if (conn->output_lost) {
    kefo__h2_connection_fail(conn, KEFO_ERR_NOMEM,
                             "out of memory copying a request body out of "
                             "the connection's output",
                             1);
    return;
  }
  rv = nghttp2_session_send(conn->session);
  if (rv != 0) {
    kefo__h2_connection_fail(conn, KEFO_ERR_HTTP, nghttp2_strerror(rv), 1);
    return;
  }
  if (!nghttp2_session_want_read(conn->session) &&
      !nghttp2_session_want_write(conn->session) &&
      evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0) {
    kefo__h2_connection_fail(conn, KEFO_ERR_HTTP, "connection closed", 1);
  }
}

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

static void read_cb(struct bufferevent *bev, void *arg);
static void event_cb(struct bufferevent *bev, short events, void *arg);

/* The output buffer has drained to KEFO_H2_OUTPUT_LOW: what send_cb held
   back goes on. Disarmed first; send_cb arms it again if need be. */
static void write_cb(struct bufferevent *bev, void *arg) {
  h2_conn *conn = arg;

  bufferevent_setcb(bev, read_cb, NULL, event_cb, conn);
  if (conn->started && conn->session &&
      nghttp2_session_want_write(conn->session)) {
    conn_flush(conn);
  }
}

void kefo__h2_connection_hold_output(h2_conn *conn) {
  /* Armed only while held back: a write callback pending when the loop
     is freed would keep the bufferevent alive (leaked). */
  bufferevent_setcb(conn->bev, read_cb, write_cb, event_cb, conn);
}

/* The output's bytes, owned: freed with the chain that refers to them. */
typedef struct owned_output {
  const kefo_mem *mem;
  uint8_t bytes[];
} owned_output;

static void owned_output_free(const void *data, size_t len, void *extra) {
  owned_output *o = extra;

  (void)data;
  (void)len;
  kefo__mem_free(o->mem, o);
}

/* Takes |len| bytes off the front of |out| (copied into |to| unless
   NULL). A socket bufferevent keeps its output's front frozen, drained
   only by its own writes: thawed for this one step. */
static int take_front(struct evbuffer *out, void *to, size_t len) {
  int rv = to ? (evbuffer_remove(out, to, len) == (int)len ? 0 : -1)
              : evbuffer_drain(out, len);

  if (rv != 0 && evbuffer_get_length(out) > 0) {
    evbuffer_unfreeze(out, 1);
    rv = to ? (evbuffer_remove(out, to, len) == (int)len ? 0 : -1)
            : evbuffer_drain(out, len);
    evbuffer_freeze(out, 1);
  }
  return rv;
}

void kefo__h2_connection_own_output(h2_conn *conn) {
  struct evbuffer *out;
  owned_output *o = NULL;
  size_t len;

  if (conn->bev == NULL) {
    return;
  }
  out = bufferevent_get_output(conn->bev);
  len = evbuffer_get_length(out);
  if (len == 0) {
    return;
  }
  /* The bytes moved into one block of kefo's own (the references'
     chains are freed, which tells their streams: h2_session.c
     body_ref_done) and put back by reference to it: one copy, and no
     allocation by libevent that would log its failure. */
  if (conn->state != CONN_DEAD && !conn->output_lost && len <= INT_MAX &&
      (o = kefo__mem_malloc(conn->client->mem, sizeof(*o) + len)) != NULL) {
    o->mem = conn->client->mem;
    if (take_front(out, o->bytes, len) == 0 &&
        evbuffer_add_reference(out, o->bytes, len, owned_output_free, o) == 0) {
      return;
    }
    kefo__mem_free(conn->client->mem, o);
  }
  (void)take_front(out, NULL, evbuffer_get_length(out));
  if (conn->state != CONN_DEAD) {
    conn->output_lost = 1;
    kefo__h2_connection_schedule_flush(conn);
  }
}

void kefo__h2_connection_schedule_flush(h2_conn *conn) {
  if (conn->flush_ev && conn->state != CONN_DEAD) {
    event_active(conn->flush_ev, 0, 0);
  }
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
    kefo__h2_connection_fail(conn, KEFO_ERR_TIMEOUT, msg, 1);
    return;
  }
  if (!conn->got_settings) {
    snprintf(msg, sizeof(msg),
             "%s accepted the connection but sent no HTTP/2 SETTINGS within "
             "%u ms",
             conn->ep.authority, c->opts.connect_timeout_ms);
    kefo__h2_connection_fail(conn, KEFO_ERR_TIMEOUT, msg, 1);
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
    kefo__h2_connection_fail(conn, KEFO_ERR_TIMEOUT, msg, 1);
    return;
  }
  nghttp2_submit_ping(conn->session, NGHTTP2_FLAG_NONE, NULL);
  conn->ping_outstanding = 1;
  kefo__h2_connection_schedule_flush(conn);
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
    kefo__h2_connection_fail(conn, KEFO_ERR_TLS, msg, 0);
    return;
  }
  rv = nghttp2_session_client_new3(&conn->session, c->callbacks, conn,
                                   c->option, &c->nmem);
  if (rv != 0) {
    kefo__h2_connection_fail(conn, KEFO_ERR_NOMEM, nghttp2_strerror(rv), 0);
    return;
  }
  iv[0].settings_id = NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE;
  iv[0].value = c->opts.stream_window;
  iv[1].settings_id = NGHTTP2_SETTINGS_ENABLE_PUSH;
  iv[1].value = 0;
  /* Both queue a frame, which needs memory. Without them the peer keeps
     the protocol's 65,535-byte windows while kefo counts on its own, and
     the connection stalls once that much has come: every call on it
     waited (producer_mock_test's allocation failures found it). */
  if (nghttp2_submit_settings(conn->session, NGHTTP2_FLAG_NONE, iv, 2) != 0 ||
      nghttp2_session_set_local_window_size(conn->session, NGHTTP2_FLAG_NONE, 0,
                                            CONNECTION_WINDOW) != 0) {
    kefo__h2_connection_fail(conn, KEFO_ERR_NOMEM,
                             "no memory for a connection's settings", 0);
    return;
  }
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
      kefo__h2_connection_fail(conn, KEFO_ERR_NOMEM,
                               "no memory for a connection", 0);
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
  kefo__h2_connection_fail(conn, KEFO_ERR_HTTP, msg, 0);
}

/*
 * An HTTP/2 server's first frame is SETTINGS (RFC 9113, 3.4). Until the
 * first 9 bytes are known to be such a frame's header they are kept, and
 * anything else fails the connection with what was received; nghttp2
 * would only end the session, and the peer's close read as "closed by
 * the peer". Returns 0, or -1 when the connection failed.
 */
int kefo__h2_connection_check_preface(h2_conn *conn, const uint8_t *data,
                                      size_t len) {
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
  kefo__h2_connection_fail(conn, KEFO_ERR_HTTP, msg, 1);
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
    if (kefo__h2_session_feed(conn, c->rbuf, (size_t)n) == 0) {
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
      if (kefo__h2_session_feed(conn, v[i].iov_base, v[i].iov_len) != 0) {
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
      kefo__h2_connection_fail(conn, KEFO_ERR_CONNECT, msg, 1);
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
      kefo__h2_connection_fail(conn, KEFO_ERR_TLS, msg, 0);
    } else {
      snprintf(msg, sizeof(msg), "cannot connect to %s: %s", conn->ep.authority,
               evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
      kefo__h2_connection_fail(conn, KEFO_ERR_CONNECT, msg, 1);
    }
    return;
  }
  if (conn->ssl) {
    while (bufferevent_get_openssl_error(bev)) {
    }
  }
  conn_lost(conn, (events & BEV_EVENT_EOF) != 0);
}

h2_conn *kefo__h2_connection_new(kefo_h2_client *c, const kefo_endpoint *ep) {
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
    SSL_CTX *ctx = kefo__tls_ctx_get(&c->tls_ctx, 1, &c->tls_ctx_made);

    conn->ssl = ctx ? kefo__tls_new_ssl(ctx, ep->host) : NULL;
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
  bufferevent_setwatermark(conn->bev, EV_WRITE, KEFO_H2_OUTPUT_LOW, 0);
  /* libevent writes at most 16 KiB a call by default: a producer's 5 MiB
     PutRecords took 320 rounds of writev and epoll_wait (strace: 3,061 of
     each for 30 calls). As much as the output may hold goes at once. */
  (void)bufferevent_set_max_single_write(conn->bev, WRITE_MAX);
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
  kefo__h2_connection_free(conn);
  return NULL;
}

static void conn_start(h2_conn *conn) {
  kefo_h2_client *c = conn->client;
  ep_backoff *b = kefo__h2_client_backoff_find(c, &conn->ep);
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
    kefo__h2_connection_fail(conn, KEFO_ERR_CONNECT, "cannot start connecting",
                             1);
  }
}
