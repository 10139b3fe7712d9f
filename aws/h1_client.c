/*
 * HTTP/1.1 client over libevent's evhttp: a small keep-alive pool per
 * endpoint, one request at a time per connection, and the pump that reaps
 * dead connections and gives waiting requests free ones, from the loop.
 */
#include "aws/h1_client.h"
#include "aws/h1_client_internal.h"

#include <string.h>

#include <event2/dns.h>
#include <event2/event.h>

/* Connections per endpoint; further requests wait for one to be free. */
#define MAX_CONNS_PER_ENDPOINT 8

/* --- the pools ----------------------------------------------------------- */

void kefo__h1_client_wait_queue_remove(h1_pool *pool, h1_stream *s) {
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

h1_pool *kefo__h1_client_pool_get(kefo_h1_client *client,
                                  const kefo_endpoint *ep) {
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

/* --- the pump: reaping and dispatching, always from the loop ------------ */

static void pool_reap(h1_pool *pool) {
  h1_conn **pp = &pool->conns;

  while (*pp != NULL) {
    h1_conn *c = *pp;
    if (c->state == CONN_DEAD && c->stream == NULL) {
      *pp = c->next;
      --pool->nconns;
      kefo__h1_connection_free(c);
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
      c = kefo__h1_connection_new(client, pool);
      if (c == NULL) {
        kefo__h1_stream_finish(s, KEFO_ERR_NOMEM, "out of memory", 0);
        continue;
      }
    }
    kefo__h1_client_wait_queue_remove(pool, s);
    s->state = STREAM_ATTACHED;
    s->conn = c;
    c->stream = s;
    if (c->state == CONN_READY) {
      kefo__h1_connection_send(c);
    } else {
      timer_arm(c->timer, client->connect_timeout_ms);
      kefo__h1_connection_resolve(c);
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
      kefo__h1_stream_free(s);
    }
    for (c = pool->conns; c != NULL; c = next_conn) {
      next_conn = c->next;
      s = c->stream;
      /* The connection frees a request evhttp holds; no callback. */
      kefo__h1_connection_free(c);
      if (s != NULL) {
        if (s->req_made) {
          s->req = NULL;
        }
        kefo__h1_stream_free(s);
      }
    }
    kefo__mem_free(client->mem, pool);
  }
  if (client->dns != NULL) {
    if (client->dns->pending == 0) {
      kefo__h1_connection_dns_free(client->dns);
    } else {
      client->dns->orphaned = 1;
    }
  }
  if (client->tls_ctx_made) {
    SSL_CTX_free(client->tls_ctx);
  }
  kefo__mem_free(client->mem, client);
}
