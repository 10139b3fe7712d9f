/*
 * HTTP/1.1 client over libevent's evhttp: a small keep-alive pool per
 * endpoint, one request at a time per connection, bodies handed on as they
 * arrive. evhttp parses the protocol; this file owns the deadlines, the
 * error classification and the lifetimes evhttp leaves to its callers.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* struct addrinfo under -std=c99 */
#endif

#include "aws/h1_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "aws/tls.h"
#include "base/clock.h"

/* Connections per endpoint; further requests wait for one to be free. */
#define MAX_CONNS_PER_ENDPOINT 8
/* An idle connection is closed after this long, or earlier when the
   server's Keep-Alive header says it will close it sooner. */
#define IDLE_TIMEOUT_MS 50000u
/* Limits on what evhttp buffers: the response head, and the body (evhttp
   holds a whole chunk of a chunked body before handing it on). */
#define MAX_HEAD_BYTES (64 * 1024)
#define MAX_BODY_BYTES (64 * 1024 * 1024)
/* evhttp's own socket timeouts are pushed out of the way: the deadlines
   are this file's timers, and a body has none once its head is in. */
#define EVHTTP_TIMEOUT_S (24 * 3600)

typedef struct h1_pool h1_pool;
typedef struct h1_conn h1_conn;
typedef struct h1_stream h1_stream;
typedef struct h1_dns h1_dns;
typedef struct h1_lookup h1_lookup;

/* The resolver outlives the client while lookups it started are pending:
   evdns calls back (if only to say "cancelled") after the client is gone,
   and the evdns_base must still be there then. */
struct h1_dns {
  const kefo_mem *mem;
  struct event_base *base;
  struct evdns_base *evdns;
  unsigned pending;
  int orphaned;
};

struct h1_lookup {
  h1_dns *dns;
  h1_conn *conn; /* NULL once abandoned */
  struct evdns_getaddrinfo_request *req;
};

struct h1_pool {
  h1_pool *next;
  kefo_endpoint ep;
  h1_conn *conns;
  size_t nconns;
  h1_stream *wait_head, *wait_tail;
};

typedef enum {
  CONN_RESOLVING,
  CONN_CONNECTING,
  CONN_READY,
  CONN_DEAD
} conn_state;

struct h1_conn {
  h1_conn *next;
  kefo_h1_client *client;
  h1_pool *pool;
  conn_state state;
  struct evhttp_connection *evcon;
  struct bufferevent *bev;
  h1_lookup *lookup;
  /* Connect and TLS deadline while connecting, idle expiry when idle. */
  struct event *timer;
  /* Write readiness of the socket while connecting: tells when TCP is
     up, so that the TLS deadline starts there. */
  struct event *probe;
  h1_stream *stream;
  int tcp_connected;
  uint32_t idle_ms;
  /* evhttp's event callback while connecting, which ours wraps to see
     errno and the TLS state before evhttp resets the connection. */
  bufferevent_event_cb evhttp_eventcb;
  void *evhttp_eventcb_arg;
  /* Why connecting failed, captured before evhttp resets. */
  int fail_code;
  int fail_retryable;
  char fail_msg[640];
  char addr[INET6_ADDRSTRLEN];
};

typedef enum { STREAM_QUEUED, STREAM_ATTACHED, STREAM_DONE } stream_state;

struct h1_stream {
  kefo_http_stream base; /* first: the handle callers see */
  kefo_h1_client *client;
  h1_pool *pool;
  h1_conn *conn;
  h1_stream *next; /* in the pool's wait queue */
  stream_state state;
  /* Owned by evhttp once made; NULL once evhttp has freed it or will. */
  struct evhttp_request *req;
  int req_made;
  enum evhttp_cmd_type cmd;
  char *path;
  kefo_http_callbacks cb;
  void *user_data;
  struct event *deadline;
  uint32_t timeout_ms;
  int in_callback;
  int cancelled;
  int head_received;
  int status;
  int ev_error; /* the evhttp_request_error reported, or -1 */
  /* An error decided here (callback failure, limit), reported at close. */
  int err_code;
  char err_msg[160];
};

struct kefo_h1_client {
  const kefo_mem *mem;
  struct event_base *base;
  SSL_CTX *tls_ctx;
  uint32_t connect_timeout_ms;
  uint32_t tls_timeout_ms;
  uint32_t request_timeout_ms;
  struct event *pump;
  h1_pool *pools;
  h1_dns *dns;
};

static void stream_consume(kefo_http_stream *stream, size_t n);
static void stream_cancel(kefo_http_stream *stream);

static const kefo_http_stream_ops h1_stream_ops = {stream_consume,
                                                   stream_cancel, NULL};

/* Events live in memory from the client's allocator. */
static struct event *event_alloc(const kefo_mem *mem) {
  return kefo__mem_calloc(mem, 1, event_get_struct_event_size());
}

static void event_release(const kefo_mem *mem, struct event *ev) {
  if (ev == NULL) {
    return;
  }
  if (event_initialized(ev)) {
    event_del(ev);
  }
  kefo__mem_free(mem, ev);
}

static void timer_arm(struct event *ev, uint32_t ms) {
  struct timeval tv;

  kefo__timeval_ms(&tv, ms);
  event_add(ev, &tv);
}

static void schedule_pump(kefo_h1_client *client) {
  event_active(client->pump, EV_TIMEOUT, 0);
}

/* --- streams ----------------------------------------------------------- */

static void wait_queue_remove(h1_pool *pool, h1_stream *s) {
  h1_stream **pp, *prev = NULL;

  for (pp = &pool->wait_head; *pp; prev = *pp, pp = &(*pp)->next) {
    if (*pp == s) {
      *pp = s->next;
      if (pool->wait_tail == s) {
        pool->wait_tail = prev;
      }
      s->next = NULL;
      return;
    }
  }
}

static void stream_free(h1_stream *s) {
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
static void stream_finish(h1_stream *s, int code, const char *msg,
                          int retryable) {
  kefo_error_info info;

  if (s->state == STREAM_QUEUED) {
    wait_queue_remove(s->pool, s);
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
  stream_free(s);
}

static void conn_mark_dead(h1_conn *c);

/*
 * Takes |s|'s request back from evhttp so that no evhttp callback comes
 * for it any more. The connection cannot carry another request after a
 * cancel: evhttp resets it.
 */
static void stream_detach_request(h1_stream *s) {
  struct evhttp_request *req = s->req;

  if (s->conn != NULL) {
    conn_mark_dead(s->conn);
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
  stream_detach_request(s);
  stream_finish(s, KEFO_ERR_CANCELLED, "cancelled", 0);
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
  stream_detach_request(s);
  stream_finish(s, KEFO_ERR_TIMEOUT, msg, 1);
}

/* --- connections ------------------------------------------------------- */

static void conn_mark_dead(h1_conn *c) {
  if (c->state == CONN_DEAD) {
    return;
  }
  c->state = CONN_DEAD;
  event_del(c->timer);
  event_del(c->probe);
  schedule_pump(c->client);
}

static void lookup_abandon(h1_conn *c) {
  h1_lookup *l = c->lookup;

  if (l == NULL) {
    return;
  }
  c->lookup = NULL;
  l->conn = NULL;
  /* The callback still comes, with EVUTIL_EAI_CANCEL, and frees |l|. */
  if (l->req != NULL) {
    evdns_getaddrinfo_cancel(l->req);
  }
}

static void conn_free(h1_conn *c) {
  const kefo_mem *mem = c->client->mem;

  lookup_abandon(c);
  event_release(mem, c->timer);
  event_release(mem, c->probe);
  if (c->evcon != NULL) {
    evhttp_connection_set_closecb(c->evcon, NULL, NULL);
    /* Frees the bufferevent, its SSL and any request still queued. */
    evhttp_connection_free(c->evcon);
  }
  kefo__mem_free(mem, c);
}

/* Fails the connection's request (if any) and the connection. */
static void conn_fail(h1_conn *c, int code, const char *msg, int retryable) {
  h1_stream *s = c->stream;

  conn_mark_dead(c);
  if (s != NULL) {
    stream_detach_request(s);
    stream_finish(s, code, msg, retryable);
  }
}

static void conn_timer_cb(evutil_socket_t fd, short what, void *arg) {
  h1_conn *c = arg;
  const kefo_endpoint *ep = &c->pool->ep;
  char msg[512];

  (void)fd;
  (void)what;
  if (c->state == CONN_READY) {
    /* Idle too long: close before the server does, so no request is
       ever written to a connection the server is closing. */
    conn_mark_dead(c);
    return;
  }
  if (c->state != CONN_RESOLVING && c->state != CONN_CONNECTING) {
    return;
  }
  if (ep->tls && c->tcp_connected) {
    snprintf(msg, sizeof(msg), "TLS handshake with %s timed out after %u ms",
             ep->authority, (unsigned)c->client->tls_timeout_ms);
  } else {
    snprintf(msg, sizeof(msg), "connecting to %s timed out after %u ms",
             ep->authority, (unsigned)c->client->connect_timeout_ms);
  }
  conn_fail(c, KEFO_ERR_TIMEOUT, msg, 1);
}

static void conn_probe_cb(evutil_socket_t fd, short what, void *arg) {
  h1_conn *c = arg;
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);

  (void)what;
  if (c->state != CONN_CONNECTING || c->tcp_connected) {
    return;
  }
  /* getpeername, unlike SO_ERROR, leaves the socket's error for
     libevent to report. */
  if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0) {
    return;
  }
  c->tcp_connected = 1;
  if (c->pool->ep.tls) {
    timer_arm(c->timer, c->client->tls_timeout_ms);
  } else {
    event_del(c->timer);
  }
}

static void describe_tls_failure(h1_conn *c) {
  SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
  unsigned long e;
  char reason[200];

  c->fail_code = KEFO_ERR_TLS;
  c->fail_retryable = 0;
  if (ssl != NULL && SSL_get_verify_result(ssl) != X509_V_OK) {
    kefo__tls_describe_error(ssl, reason, sizeof(reason));
  } else {
    /* The bufferevent took OpenSSL's queue when the handshake failed;
       the first entry with a library is the reason. */
    reason[0] = '\0';
    while ((e = bufferevent_get_openssl_error(c->bev)) != 0) {
      if (ERR_GET_LIB(e) != 0) {
        ERR_error_string_n(e, reason, sizeof(reason));
        break;
      }
    }
    if (reason[0] == '\0') {
      kefo__tls_describe_error(NULL, reason, sizeof(reason));
    }
    /* Not a certificate problem: maybe a passing one. */
    c->fail_retryable = 1;
  }
  snprintf(c->fail_msg, sizeof(c->fail_msg), "TLS with %s: %s",
           c->pool->ep.authority, reason);
}

/*
 * Wraps evhttp's event callback while connecting. evhttp resets the
 * connection (closing the socket and clearing the SSL) before it tells
 * its request anything, so the reason is read here first.
 */
static void conn_event_cb(struct bufferevent *bev, short what, void *arg) {
  h1_conn *c = arg;
  int err = EVUTIL_SOCKET_ERROR();
  bufferevent_event_cb cb = c->evhttp_eventcb;
  void *cbarg = c->evhttp_eventcb_arg;

  event_del(c->probe);
  if (what & BEV_EVENT_CONNECTED) {
    c->tcp_connected = 1;
    event_del(c->timer);
  } else if (c->fail_code == 0) {
    if (c->tcp_connected && c->pool->ep.tls) {
      describe_tls_failure(c);
    } else {
      c->fail_code = KEFO_ERR_CONNECT;
      c->fail_retryable = 1;
      snprintf(c->fail_msg, sizeof(c->fail_msg),
               "cannot connect to %s (%s): %s", c->pool->ep.authority, c->addr,
               err ? evutil_socket_error_to_string(err) : "connection failed");
    }
  }
  EVUTIL_SET_SOCKET_ERROR(err);
  cb(bev, what, cbarg);
}

static void conn_close_cb(struct evhttp_connection *evcon, void *arg) {
  (void)evcon;
  /* Called from inside evhttp's reset: only note it. */
  conn_mark_dead(arg);
}

static void conn_start_evhttp(h1_conn *c);
static void conn_send(h1_conn *c);

static void dns_free(h1_dns *dns) {
  evdns_base_free(dns->evdns, 0);
  kefo__mem_free(dns->mem, dns);
}

static void dns_free_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  dns_free(arg);
}

static void lookup_cb(int result, struct evutil_addrinfo *res, void *arg) {
  h1_lookup *l = arg;
  h1_conn *c = l->conn;
  h1_dns *dns = l->dns;
  struct evutil_addrinfo *ai, *pick = NULL;
  char msg[512];
  const void *src;

  kefo__mem_free(dns->mem, l);
  if (--dns->pending == 0 && dns->orphaned) {
    /* Not from inside evdns's own callback. On failure the resolver
       leaks rather than being freed under evdns. */
    static const struct timeval now = {0, 0};
    (void)event_base_once(dns->base, -1, EV_TIMEOUT, dns_free_cb, dns, &now);
  }
  if (c != NULL) {
    c->lookup = NULL;
  }
  if (c == NULL || c->state == CONN_DEAD) {
    if (res != NULL) {
      evutil_freeaddrinfo(res);
    }
    return;
  }
  if (result != 0 || res == NULL) {
    snprintf(msg, sizeof(msg), "cannot resolve %s: %s", c->pool->ep.host,
             evutil_gai_strerror(result ? result : EVUTIL_EAI_NONAME));
    if (res != NULL) {
      evutil_freeaddrinfo(res);
    }
    conn_fail(c, KEFO_ERR_CONNECT, msg, 1);
    return;
  }
  /* IPv4 first: loopback test servers and most endpoints listen there. */
  for (ai = res; ai != NULL; ai = ai->ai_next) {
    if (ai->ai_family == AF_INET) {
      pick = ai;
      break;
    }
    if (ai->ai_family == AF_INET6 && pick == NULL) {
      pick = ai;
    }
  }
  if (pick == NULL) {
    evutil_freeaddrinfo(res);
    snprintf(msg, sizeof(msg), "cannot resolve %s: no address",
             c->pool->ep.host);
    conn_fail(c, KEFO_ERR_CONNECT, msg, 1);
    return;
  }
  src = pick->ai_family == AF_INET
            ? (const void *)&((struct sockaddr_in *)pick->ai_addr)->sin_addr
            : (const void *)&((struct sockaddr_in6 *)pick->ai_addr)->sin6_addr;
  evutil_inet_ntop(pick->ai_family, src, c->addr, sizeof(c->addr));
  evutil_freeaddrinfo(res);
  conn_start_evhttp(c);
}

static int is_numeric_host(const char *host) {
  unsigned char buf[sizeof(struct in6_addr)];

  return evutil_inet_pton(AF_INET, host, buf) == 1 ||
         evutil_inet_pton(AF_INET6, host, buf) == 1;
}

/* Resolves the endpoint's host without blocking (evdns, with the hosts
   file), or not at all for an address. */
static void conn_resolve(h1_conn *c) {
  kefo_h1_client *client = c->client;
  struct evutil_addrinfo hints;
  struct evdns_getaddrinfo_request *req;
  h1_lookup *l;
  char msg[512];

  if (is_numeric_host(c->pool->ep.host)) {
    /* An address literal fits: inet_pton accepted it. */
    size_t n = strlen(c->pool->ep.host);
    memcpy(c->addr, c->pool->ep.host,
           n < sizeof(c->addr) ? n + 1 : sizeof(c->addr) - 1);
    conn_start_evhttp(c);
    return;
  }
  if (client->dns == NULL) {
    h1_dns *dns = kefo__mem_calloc(client->mem, 1, sizeof(*dns));
    if (dns == NULL) {
      conn_fail(c, KEFO_ERR_NOMEM, "out of memory", 0);
      return;
    }
    dns->mem = client->mem;
    dns->base = client->base;
    dns->evdns =
        evdns_base_new(client->base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                         EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (dns->evdns == NULL) {
      kefo__mem_free(client->mem, dns);
      snprintf(msg, sizeof(msg), "cannot resolve %s: no resolver",
               c->pool->ep.host);
      conn_fail(c, KEFO_ERR_CONNECT, msg, 1);
      return;
    }
    client->dns = dns;
  }
  l = kefo__mem_calloc(client->mem, 1, sizeof(*l));
  if (l == NULL) {
    conn_fail(c, KEFO_ERR_NOMEM, "out of memory", 0);
    return;
  }
  l->dns = client->dns;
  l->conn = c;
  c->lookup = l;
  ++client->dns->pending;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  /* Answers from the hosts file come back at once, from inside. */
  req = evdns_getaddrinfo(client->dns->evdns, c->pool->ep.host, NULL, &hints,
                          lookup_cb, l);
  if (req != NULL) {
    l->req = req;
  }
}

static void conn_start_evhttp(h1_conn *c) {
  kefo_h1_client *client = c->client;
  const kefo_endpoint *ep = &c->pool->ep;
  struct bufferevent *bev;
  struct evhttp_connection *evcon;
  struct timeval tv = {EVHTTP_TIMEOUT_S, 0};
  bufferevent_data_cb rcb, wcb;
  bufferevent_event_cb ecb;
  void *cbarg;
  evutil_socket_t fd;
  h1_stream *s = c->stream;
  int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;

  c->state = CONN_CONNECTING;
  if (ep->tls) {
    SSL *ssl = kefo__tls_new_ssl(client->tls_ctx, ep->host);
    if (ssl == NULL) {
      conn_fail(c, KEFO_ERR_NOMEM, "out of memory", 0);
      return;
    }
    /* Owns |ssl| from here (BEV_OPT_CLOSE_ON_FREE), even on failure. */
    bev = bufferevent_openssl_socket_new(client->base, -1, ssl,
                                         BUFFEREVENT_SSL_CONNECTING, opts);
  } else {
    bev = bufferevent_socket_new(client->base, -1, opts);
  }
  if (bev == NULL) {
    conn_fail(c, KEFO_ERR_NOMEM, "out of memory", 0);
    return;
  }
  evcon = evhttp_connection_base_bufferevent_new(client->base, NULL, bev,
                                                 c->addr, ep->port);
  if (evcon == NULL) {
    bufferevent_free(bev);
    conn_fail(c, KEFO_ERR_NOMEM, "out of memory", 0);
    return;
  }
  c->evcon = evcon;
  c->bev = bev;
  evhttp_connection_set_closecb(evcon, conn_close_cb, c);
  evhttp_connection_set_timeout_tv(evcon, &tv);
  evhttp_connection_set_max_headers_size(evcon, MAX_HEAD_BYTES);
  evhttp_connection_set_max_body_size(evcon, MAX_BODY_BYTES);
  evhttp_connection_set_retries(evcon, 0);
  /* Not EVHTTP_CON_READ_ON_WRITE_ERROR: with it, 2.1.12 waits forever
     for the rest of a chunk the server cut off. */
  if (s == NULL) {
    /* Its request went away while resolving. */
    conn_mark_dead(c);
    return;
  }
  conn_send(c);
  if (c->state != CONN_CONNECTING) {
    return;
  }
  bufferevent_getcb(bev, &rcb, &wcb, &ecb, &cbarg);
  if (ecb != NULL && cbarg == evcon) {
    c->evhttp_eventcb = ecb;
    c->evhttp_eventcb_arg = cbarg;
    bufferevent_setcb(bev, rcb, wcb, conn_event_cb, c);
  }
  fd = bufferevent_getfd(bev);
  if (fd >= 0) {
    event_assign(c->probe, client->base, fd, EV_WRITE, conn_probe_cb, c);
    event_add(c->probe, NULL);
  }
}

/* Hands the attached stream's request to evhttp. */
static void conn_send(h1_conn *c) {
  h1_stream *s = c->stream;

  if (c->state == CONN_READY) {
    event_del(c->timer); /* idle expiry */
  }
  s->req_made = 1;
  if (evhttp_make_request(c->evcon, s->req, s->cmd, s->path) != 0) {
    /* Only its copy of the path can fail, and then evhttp freed the
       request. */
    s->req = NULL;
    conn_fail(c, KEFO_ERR_NOMEM, "out of memory", 0);
  }
}

static h1_conn *conn_new(kefo_h1_client *client, h1_pool *pool) {
  h1_conn *c = kefo__mem_calloc(client->mem, 1, sizeof(*c));

  if (c == NULL) {
    return NULL;
  }
  c->client = client;
  c->pool = pool;
  c->state = CONN_RESOLVING;
  c->idle_ms = IDLE_TIMEOUT_MS;
  c->timer = event_alloc(client->mem);
  c->probe = event_alloc(client->mem);
  if (c->timer == NULL || c->probe == NULL) {
    kefo__mem_free(client->mem, c->timer);
    kefo__mem_free(client->mem, c->probe);
    kefo__mem_free(client->mem, c);
    return NULL;
  }
  evtimer_assign(c->timer, client->base, conn_timer_cb, c);
  /* Assigned for real once the socket exists. */
  event_assign(c->probe, client->base, -1, 0, conn_probe_cb, c);
  c->next = pool->conns;
  pool->conns = c;
  ++pool->nconns;
  return c;
}

/* --- evhttp request callbacks -------------------------------------------- */

static int ascii_lower(int ch) {
  return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

static int name_is(const char *name, const char *lower) {
  for (; *name && *lower; ++name, ++lower) {
    if (ascii_lower((unsigned char)*name) != *lower) {
      return 0;
    }
  }
  return *name == '\0' && *lower == '\0';
}

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

static int req_header_cb(struct evhttp_request *req, void *arg) {
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

static void req_chunk_cb(struct evhttp_request *req, void *arg) {
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
  stream_detach_request(s);
  if (s->cancelled) {
    stream_finish(s, KEFO_ERR_CANCELLED, "cancelled", 0);
  } else {
    char msg[64];
    snprintf(msg, sizeof(msg), "on_data returned %d", rv);
    stream_finish(s, KEFO_ERR_CALLBACK_FAILURE, msg, 0);
  }
}

static void req_error_cb(enum evhttp_request_error error, void *arg) {
  h1_stream *s = arg;

  /* evhttp has freed the request already; req_done_cb(NULL) follows. */
  s->req = NULL;
  s->ev_error = (int)error;
}

static void finish_failed(h1_stream *s) {
  h1_conn *c = s->conn;
  const char *ep = s->pool->ep.authority;
  char msg[512];

  if (c != NULL) {
    conn_mark_dead(c);
  }
  if (s->cancelled) {
    stream_finish(s, KEFO_ERR_CANCELLED, "cancelled", 0);
    return;
  }
  /* Both messages outlive on_close: the stream is freed after it, the
     connection later, from the pump. */
  if (s->err_code != 0) {
    stream_finish(s, s->err_code, s->err_msg, 0);
    return;
  }
  if (!s->head_received && c != NULL && c->fail_code != 0) {
    stream_finish(s, c->fail_code, c->fail_msg, c->fail_retryable);
    return;
  }
  switch (s->ev_error) {
  case EVREQ_HTTP_INVALID_HEADER:
    snprintf(msg, sizeof(msg),
             "malformed response head from %s (or over %d bytes)", ep,
             MAX_HEAD_BYTES);
    stream_finish(s, KEFO_ERR_HTTP, msg, 0);
    return;
  case EVREQ_HTTP_DATA_TOO_LONG:
    snprintf(msg, sizeof(msg),
             "malformed response body from %s (or over %d bytes)", ep,
             MAX_BODY_BYTES);
    stream_finish(s, KEFO_ERR_HTTP, msg, 0);
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
  stream_finish(s, KEFO_ERR_HTTP, msg, 1);
}

static void req_done_cb(struct evhttp_request *req, void *arg) {
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
        conn_mark_dead(c);
      } else {
        c->state = CONN_READY;
        timer_arm(c->timer, c->idle_ms);
      }
    }
    schedule_pump(c->client);
  }
  stream_finish(s, 0, "", 0);
}

/* --- the pump: reaping and dispatching, always from the loop ------------ */

static void pool_reap(h1_pool *pool) {
  h1_conn **pp = &pool->conns;

  while (*pp != NULL) {
    h1_conn *c = *pp;
    if (c->state == CONN_DEAD && c->stream == NULL) {
      *pp = c->next;
      --pool->nconns;
      conn_free(c);
    } else {
      pp = &c->next;
    }
  }
}

static h1_conn *pool_idle_conn(h1_pool *pool) {
  h1_conn *c;

  for (c = pool->conns; c != NULL; c = c->next) {
    if (c->state == CONN_READY && c->stream == NULL) {
      return c;
    }
  }
  return NULL;
}

static void pool_dispatch(kefo_h1_client *client, h1_pool *pool) {
  h1_stream *s;
  h1_conn *c;

  /* Callbacks may run below (a failure found at once): every turn reads
     the queue afresh. */
  while ((s = pool->wait_head) != NULL) {
    c = pool_idle_conn(pool);
    if (c == NULL) {
      if (pool->nconns >= MAX_CONNS_PER_ENDPOINT) {
        return;
      }
      c = conn_new(client, pool);
      if (c == NULL) {
        stream_finish(s, KEFO_ERR_NOMEM, "out of memory", 0);
        continue;
      }
    }
    wait_queue_remove(pool, s);
    s->state = STREAM_ATTACHED;
    s->conn = c;
    c->stream = s;
    if (c->state == CONN_READY) {
      conn_send(c);
    } else {
      timer_arm(c->timer, client->connect_timeout_ms);
      conn_resolve(c);
    }
  }
}

static void pump_cb(evutil_socket_t fd, short what, void *arg) {
  kefo_h1_client *client = arg;
  h1_pool *pool;

  (void)fd;
  (void)what;
  for (pool = client->pools; pool != NULL; pool = pool->next) {
    pool_reap(pool);
  }
  for (pool = client->pools; pool != NULL; pool = pool->next) {
    pool_dispatch(client, pool);
  }
}

/* --- the client ---------------------------------------------------------- */

int kefo__h1_client_new(kefo_h1_client **out, struct event_base *base,
                        const kefo_http_client_options *opts,
                        SSL_CTX *tls_ctx) {
  const kefo_mem *mem = kefo__mem_or_default(opts ? opts->mem : NULL);
  kefo_h1_client *client;

  if (out == NULL || base == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  client = kefo__mem_calloc(mem, 1, sizeof(*client));
  if (client == NULL) {
    return KEFO_ERR_NOMEM;
  }
  client->mem = mem;
  client->base = base;
  client->tls_ctx = tls_ctx;
  client->connect_timeout_ms =
      opts && opts->connect_timeout_ms ? opts->connect_timeout_ms : 10000;
  client->tls_timeout_ms =
      opts && opts->tls_timeout_ms ? opts->tls_timeout_ms : 10000;
  client->request_timeout_ms =
      opts && opts->request_timeout_ms ? opts->request_timeout_ms : 30000;
  client->pump = event_alloc(mem);
  if (client->pump == NULL) {
    kefo__mem_free(mem, client);
    return KEFO_ERR_NOMEM;
  }
  event_assign(client->pump, base, -1, 0, pump_cb, client);
  *out = client;
  return 0;
}

void kefo__h1_client_del(kefo_h1_client *client) {
  h1_pool *pool, *next_pool;
  h1_conn *c, *next_conn;
  h1_stream *s;

  if (client == NULL) {
    return;
  }
  event_release(client->mem, client->pump);
  for (pool = client->pools; pool != NULL; pool = next_pool) {
    next_pool = pool->next;
    while ((s = pool->wait_head) != NULL) {
      pool->wait_head = s->next;
      stream_free(s);
    }
    for (c = pool->conns; c != NULL; c = next_conn) {
      next_conn = c->next;
      s = c->stream;
      /* The connection frees a request evhttp holds; no callback. */
      conn_free(c);
      if (s != NULL) {
        if (s->req_made) {
          s->req = NULL;
        }
        stream_free(s);
      }
    }
    kefo__mem_free(client->mem, pool);
  }
  if (client->dns != NULL) {
    if (client->dns->pending == 0) {
      dns_free(client->dns);
    } else {
      client->dns->orphaned = 1;
    }
  }
  kefo__mem_free(client->mem, client);
}

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

static h1_pool *pool_get(kefo_h1_client *client, const kefo_endpoint *ep) {
  h1_pool *pool, **tail = &client->pools;

  for (pool = client->pools; pool != NULL; pool = pool->next) {
    if (pool->ep.tls == ep->tls && pool->ep.port == ep->port &&
        strcmp(pool->ep.host, ep->host) == 0) {
      return pool;
    }
    tail = &pool->next;
  }
  pool = kefo__mem_calloc(client->mem, 1, sizeof(*pool));
  if (pool == NULL) {
    return NULL;
  }
  pool->ep = *ep;
  *tail = pool;
  return pool;
}

static int build_request(h1_stream *s, const kefo_http_request *r,
                         const char *host) {
  struct evkeyvalq *out;
  char len[32];
  size_t i;
  int has_body_method = s->cmd == EVHTTP_REQ_POST || s->cmd == EVHTTP_REQ_PUT ||
                        s->cmd == EVHTTP_REQ_PATCH;

  s->req = evhttp_request_new(req_done_cb, s);
  if (s->req == NULL) {
    return KEFO_ERR_NOMEM;
  }
  evhttp_request_set_header_cb(s->req, req_header_cb);
  evhttp_request_set_chunked_cb(s->req, req_chunk_cb);
  evhttp_request_set_error_cb(s->req, req_error_cb);
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
  pool = pool_get(client, req->endpoint);
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
  stream_free(s);
  return rv;
}
