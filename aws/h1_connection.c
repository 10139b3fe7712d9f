/*
 * One HTTP/1.1 connection's life: its host resolved without blocking, the
 * connect and TLS deadlines, why connecting failed (read before evhttp
 * resets the connection), and a request handed to evhttp.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* struct addrinfo under -std=c99 */
#endif

#include "aws/h1_client_internal.h"

#include <errno.h>
#include <stdio.h>
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
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "aws/tls.h"

/* evhttp's own socket timeouts are pushed out of the way: the deadlines
   are this file's timers, and a body has none once its head is in. */
#define EVHTTP_TIMEOUT_S (24 * 3600)

/* --- connections ------------------------------------------------------- */

void kefo__h1_connection_mark_dead(h1_conn *c) {
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

void kefo__h1_connection_free(h1_conn *c) {
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

  kefo__h1_connection_mark_dead(c);
  if (s != NULL) {
    kefo__h1_stream_detach_request(s);
    kefo__h1_stream_finish(s, code, msg, retryable);
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
    kefo__h1_connection_mark_dead(c);
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
  kefo__h1_connection_mark_dead(arg);
}

static void conn_start_evhttp(h1_conn *c);

void kefo__h1_connection_dns_free(h1_dns *dns) {
  evdns_base_free(dns->evdns, 0);
  kefo__mem_free(dns->mem, dns);
}

static void dns_free_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  kefo__h1_connection_dns_free(arg);
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
void kefo__h1_connection_resolve(h1_conn *c) {
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
    SSL_CTX *ctx =
        kefo__tls_ctx_get(&client->tls_ctx, 0, &client->tls_ctx_made);
    SSL *ssl = ctx ? kefo__tls_new_ssl(ctx, ep->host) : NULL;
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
    kefo__h1_connection_mark_dead(c);
    return;
  }
  kefo__h1_connection_send(c);
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
void kefo__h1_connection_send(h1_conn *c) {
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

h1_conn *kefo__h1_connection_new(kefo_h1_client *client, h1_pool *pool) {
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
