/*
 * HTTP/2 client: a pool of nghttp2 connections per endpoint, each carrying
 * streams up to the peer's SETTINGS_MAX_CONCURRENT_STREAMS; the pool opens
 * another when all are full, and backs off from an endpoint that failed.
 */
#include "aws/h2_client.h"
#include "aws/h2_client_internal.h"

#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "base/retry.h"
#include "base/clock.h"

#define DEFAULT_CONNECT_MS 10000u
#define DEFAULT_TLS_MS 10000u
#define DEFAULT_REQUEST_MS 30000u
#define DEFAULT_PING_MS 30000u
#define DEFAULT_STREAM_WINDOW (1u << 20)

/* 100 ms after the first failure, doubling up to 10 s, full jitter. */
static const kefo_retry_strategy reconnect_backoff = {100, 10000, 0};

/* ---- endpoints and their backoff ---------------------------------------- */

static int endpoint_equal(const kefo_endpoint *a, const kefo_endpoint *b) {
  return a->tls == b->tls && a->port == b->port &&
         strcmp(a->host, b->host) == 0;
}

ep_backoff *kefo__h2_client_backoff_find(kefo_h2_client *c,
                                         const kefo_endpoint *ep) {
  ep_backoff *b;

  for (b = c->backoffs; b; b = b->next) {
    if (endpoint_equal(&b->ep, ep)) {
      return b;
    }
  }
  return NULL;
}

void kefo__h2_client_backoff_failed(kefo_h2_client *c,
                                    const kefo_endpoint *ep) {
  ep_backoff *b = kefo__h2_client_backoff_find(c, ep);
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

void kefo__h2_client_backoff_succeeded(kefo_h2_client *c,
                                       const kefo_endpoint *ep) {
  ep_backoff **pp, *b;

  for (pp = &c->backoffs; (b = *pp) != NULL; pp = &b->next) {
    if (endpoint_equal(&b->ep, ep)) {
      *pp = b->next;
      kefo__mem_free(c->mem, b);
      return;
    }
  }
}

/* A live connection to |ep| with room for one more stream, or NULL. */
h2_conn *kefo__h2_client_find_conn(kefo_h2_client *c, const kefo_endpoint *ep) {
  h2_conn *conn;

  for (conn = c->conns; conn; conn = conn->next) {
    /* Before the peer's SETTINGS its limit is unknown: requests queue and
       are spread out when it arrives (kefo__h2_client_settle). */
    if ((conn->state == CONN_READY || conn->state == CONN_CONNECTING) &&
        endpoint_equal(&conn->ep, ep) &&
        (!conn->got_settings || conn->nstreams < conn->max_streams)) {
      return conn;
    }
  }
  return NULL;
}

/* ---- spreading streams over connections --------------------------------- */

static void submit_pending(h2_conn *conn) {
  h2_stream *s;
  int rv;

  for (s = conn->streams; s; s = s->next) {
    if (s->id == 0 && !s->cancelled) {
      rv = kefo__h2_stream_submit(conn, s);
      if (rv != 0) {
        kefo__h2_connection_fail(conn, KEFO_ERR_HTTP, nghttp2_strerror(rv), 1);
        return;
      }
    }
  }
  kefo__h2_connection_schedule_flush(conn);
}

/*
 * The peer's limit is known: keep as many waiting requests as it allows
 * and move the rest to connections with room, opening them as needed.
 */
void kefo__h2_client_settle(h2_conn *conn) {
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
    kefo__h2_stream_unlink(s);
    other = kefo__h2_client_find_conn(c, &conn->ep);
    if (other == NULL || other == conn) {
      other = kefo__h2_connection_new(c, &conn->ep);
    }
    if (other == NULL) {
      kefo__h2_stream_finish(s, KEFO_ERR_NOMEM,
                             "no memory for a new connection", 1);
      continue;
    }
    kefo__h2_stream_link(other, s);
    if (other->state == CONN_READY && other->got_settings) {
      if (kefo__h2_stream_submit(other, s) != 0) {
        kefo__h2_stream_finish(s, KEFO_ERR_HTTP, "cannot submit the request",
                               1);
      }
      kefo__h2_connection_schedule_flush(other);
    }
  }
  submit_pending(conn);
}

static void conn_reap_cb(evutil_socket_t fd, short what, void *arg) {
  kefo_h2_client *c = arg;

  (void)fd;
  (void)what;
  while (c->dead) {
    h2_conn *conn = c->dead;
    c->dead = conn->next;
    kefo__h2_connection_free(conn);
  }
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
  kefo__h2_session_callbacks_set(c->callbacks);
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
    kefo__h2_connection_unlink(conn);
    /* Dead: its output, with any lent body's bytes referred to, is
       dropped before the streams go. */
    conn->state = CONN_DEAD;
    kefo__h2_connection_own_output(conn);
    /* No callbacks on deletion: free the streams quietly. */
    while (conn->streams) {
      h2_stream *s = conn->streams;
      kefo__h2_stream_unlink(s);
      kefo__h2_stream_free(s);
    }
    kefo__h2_connection_free(conn);
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
  if (c->tls_ctx_made) {
    SSL_CTX_free(c->tls_ctx);
  }
  kefo__mem_free(c->mem, c);
}

int64_t kefo__h2_client_wait_ms(kefo_h2_client *c, const kefo_endpoint *ep) {
  ep_backoff *b = c ? kefo__h2_client_backoff_find(c, ep) : NULL;
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

size_t kefo__h2_client_streams(const kefo_h2_client *c) {
  size_t n = 0;
  const h2_conn *conn;

  for (conn = c->conns; conn; conn = conn->next) {
    n += conn->nstreams;
  }
  return n;
}
