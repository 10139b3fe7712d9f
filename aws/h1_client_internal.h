/*
 * The HTTP/1.1 client's insides (aws/h1_client.h is its interface), shared
 * by its four files: h1_client.c (the pools and their pump),
 * h1_connection.c (one connection), h1_stream.c (one request) and
 * h1_response.c (evhttp's callbacks for it). evhttp parses the protocol;
 * these files own the deadlines, the error classification and the
 * lifetimes evhttp leaves to its callers. Private to aws/h1_*.c.
 */
#ifndef KEFO_H1_CLIENT_INTERNAL_H
#define KEFO_H1_CLIENT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>
#include <openssl/ssl.h>

#include "aws/h1_client.h"
#include "base/clock.h"

/* An idle connection is closed after this long, or earlier when the
   server's Keep-Alive header says it will close it sooner. */
#define IDLE_TIMEOUT_MS 50000u
/* Limits on what evhttp buffers: the response head, and the body (evhttp
   holds a whole chunk of a chunked body before handing it on). */
#define MAX_HEAD_BYTES (64 * 1024)
#define MAX_BODY_BYTES (64 * 1024 * 1024)

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
  int tls_ctx_made; /* made at the first TLS connection: ours to free */
  uint32_t connect_timeout_ms;
  uint32_t tls_timeout_ms;
  uint32_t request_timeout_ms;
  struct event *pump;
  h1_pool *pools;
  h1_dns *dns;
};

/* Events live in memory from the client's allocator. */
static inline struct event *event_alloc(const kefo_mem *mem) {
  return kefo__mem_calloc(mem, 1, event_get_struct_event_size());
}

static inline void event_release(const kefo_mem *mem, struct event *ev) {
  if (ev == NULL) {
    return;
  }
  if (event_initialized(ev)) {
    event_del(ev);
  }
  kefo__mem_free(mem, ev);
}

static inline void timer_arm(struct event *ev, uint32_t ms) {
  struct timeval tv;

  kefo__timeval_ms(&tv, ms);
  event_add(ev, &tv);
}

static inline void schedule_pump(kefo_h1_client *client) {
  event_active(client->pump, EV_TIMEOUT, 0);
}

static inline int ascii_lower(int ch) {
  return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

static inline int name_is(const char *name, const char *lower) {
  for (; *name && *lower; ++name, ++lower) {
    if (ascii_lower((unsigned char)*name) != *lower) {
      return 0;
    }
  }
  return *name == '\0' && *lower == '\0';
}

/* ---- h1_client.c: the pools and their pump ----------------------------- */

/* Takes |s| off |pool|'s queue of requests waiting for a connection. */
void kefo__h1_client_wait_queue_remove(h1_pool *pool, h1_stream *s);
/* The pool of |ep|, made on first use. Returns it, or NULL when out of
   memory. */
h1_pool *kefo__h1_client_pool_get(kefo_h1_client *client,
                                  const kefo_endpoint *ep);

/* ---- h1_connection.c: one connection ------------------------------------ */

/* A new connection in |pool|, not yet resolving; NULL when out of memory. */
h1_conn *kefo__h1_connection_new(kefo_h1_client *client, h1_pool *pool);
/* Marks |c| dead: the pump frees it once no stream is attached. */
void kefo__h1_connection_mark_dead(h1_conn *c);
/* Frees |c| and what evhttp holds for it (its socket, SSL and request). */
void kefo__h1_connection_free(h1_conn *c);
/* Resolves the endpoint's host, then connects and sends the attached
   stream's request. */
void kefo__h1_connection_resolve(h1_conn *c);
/* Hands the attached stream's request to evhttp. */
void kefo__h1_connection_send(h1_conn *c);
/* Frees the resolver (once no lookup it started is pending). */
void kefo__h1_connection_dns_free(h1_dns *dns);

/* ---- h1_stream.c: one request ------------------------------------------- */

/* Frees |s|, its request when evhttp never had it, and its deadline. */
void kefo__h1_stream_free(h1_stream *s);
/* Ends |s|: detaches it, calls on_close unless it was cancelled, frees it.
   evhttp must no longer call back for it (s->req is NULL or never made). */
void kefo__h1_stream_finish(h1_stream *s, int code, const char *msg,
                            int retryable);
/* Takes |s|'s request back from evhttp so that no evhttp callback comes
   for it any more; its connection is done. */
void kefo__h1_stream_detach_request(h1_stream *s);

/* ---- h1_response.c: evhttp's callbacks for a request --------------------- */

/* The response head is in: returns 0 to read on, -1 to fail the request. */
int kefo__h1_response_header_cb(struct evhttp_request *req, void *arg);
/* Body bytes arrived: lent to the owner. */
void kefo__h1_response_chunk_cb(struct evhttp_request *req, void *arg);
/* evhttp failed the request (and freed it). */
void kefo__h1_response_error_cb(enum evhttp_request_error error, void *arg);
/* The request is over, answered or not: the stream ends. */
void kefo__h1_response_done_cb(struct evhttp_request *req, void *arg);

#endif /* KEFO_H1_CLIENT_INTERNAL_H */
