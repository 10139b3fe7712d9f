/*
 * The HTTP/2 client's insides (aws/h2_client.h is its interface), shared by
 * its four files: h2_client.c (the pool of connections per endpoint),
 * h2_connection.c (one connection's life), h2_session.c (its nghttp2
 * session) and h2_stream.c (one request's stream). Flow control is manual:
 * the connection window is given back as soon as bytes reach a stream's
 * owner, the stream window only when the owner says it has handed them on,
 * so one slow stream stops its peer without starving the others.
 * Private to aws/h2_*.c.
 */
#ifndef KEFO_H2_CLIENT_INTERNAL_H
#define KEFO_H2_CLIENT_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>
#include <openssl/ssl.h>

#include "aws/h2_client.h"
#include "aws/h2_frame_scan.h"
#include "base/buf.h"

/* The connection window is given back as bytes arrive, so it only needs
   to cover what is in flight on the wire. */
#define CONNECTION_WINDOW (16u << 20)

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
  /* |body_off|: what DATA frames have been made of; |body_sent|: what
     has gone to the connection's output (h2_session.c send_data_cb). */
  size_t body_len, body_off, body_sent;
  /* |body| is the caller's (kefo_http_request.body_lent), not a copy. */
  int body_lent;
  /* A lent body's DATA goes to the connection's output by reference
     (send_data_cb): |out_refs| pieces not yet written, in |ref_conn|'s
     output. Before the body goes back to its owner (on_close, cancel)
     they become copies (kefo__h2_connection_own_output). */
  size_t out_refs;
  h2_conn *ref_conn;
  /* on_body_sent has been called. */
  int body_told;
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
  /* Its output was dropped (no memory to copy lent bytes out of it): the
     next flush fails the connection instead of sending. */
  int output_lost;
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
  int tls_ctx_made; /* made at the first TLS connection: ours to free */
  kefo_http_client_options opts;
  h2_conn *conns;
  nghttp2_session_callbacks *callbacks;
  nghttp2_option *option;
  nghttp2_mem nmem;
  /* Connections to free from the loop, after the callback that killed
     them has unwound. */
  struct event *reap_ev;
  h2_conn *dead;
  /* h2c reads land here, one connection at a time (READ_BUF,
     h2_connection.c). */
  uint8_t *rbuf;
  /* The DATA frames of the piece being fed to nghttp2, found ahead of it
     (look_ahead, h2_session.c): the next one to come, and how far stages 1 and
     2 of the prefetch have gone. */
  nghttp2_session *feed_session;
  const uint8_t *feed_base;
  size_t feed_len;
  size_t nahead, ahead_next, ahead_s1, ahead_s2, ahead_s3;
  kefo_h2_data_frame ahead[AHEAD_MAX];
};

/* ---- h2_stream.c: one request's stream ---------------------------------- */

/* Frees a stream no connection holds: its timer, its copy of the request
   (the body unless lent) and of the response head. */
void kefo__h2_stream_free(h2_stream *s);
/* Takes |s| off its connection's list, if it is on one. */
void kefo__h2_stream_unlink(h2_stream *s);

/* A lent body goes back to its owner (before on_close, or a cancel
   returns): none of its bytes may be left in a connection's output by
   reference, so they are copied out (kefo__h2_connection_own_output). */
void kefo__h2_stream_give_back_body(h2_stream *s);
/* Puts |s| on |conn|'s list of streams. */
void kefo__h2_stream_link(h2_conn *conn, h2_stream *s);
/* Ends a stream for its owner: on_close once, unless cancelled; then
   unlinks and frees it. */
void kefo__h2_stream_finish(h2_stream *s, int error, const char *message,
                            int retryable);
/* Submits |s|'s request (and body) on |conn|'s session.
   Returns 0 or a negative nghttp2 error code (NGHTTP2_ERR_*). */
int kefo__h2_stream_submit(h2_conn *conn, h2_stream *s);

/* ---- h2_connection.c: one connection's life ----------------------------- */

/* A new connection to |ep| in |c|'s pool; it starts connecting from the
   loop. Returns it, or NULL when out of memory. */
h2_conn *kefo__h2_connection_new(kefo_h2_client *c, const kefo_endpoint *ep);
/* Frees a connection off the pool's list, its session and socket too. */
void kefo__h2_connection_free(h2_conn *conn);
/* Takes |conn| off the pool's list of live connections. */
void kefo__h2_connection_unlink(h2_conn *conn);
/* Kills a connection: every stream on it ends with |error|, and the
   connection is freed from the loop (never under the caller's feet). */
void kefo__h2_connection_fail(h2_conn *conn, int error, const char *message,
                              int retryable);
/* Has what nghttp2 queued sent from the loop. */
void kefo__h2_connection_schedule_flush(h2_conn *conn);

/*
 * What the socket's output buffer may hold before nghttp2 is told to wait
 * (NGHTTP2_ERR_WOULDBLOCK from send_cb), and the level at which the
 * connection lets it go on. Without a bound a 5 MiB PutRecords body was
 * framed and copied into the buffer whole, in fresh memory each call,
 * while the socket took it 200 KiB at a time.
 */
#define KEFO_H2_OUTPUT_HIGH (256 * 1024)
#define KEFO_H2_OUTPUT_LOW (64 * 1024)

/* Arms the write callback that sends more once the output buffer has
   drained to KEFO_H2_OUTPUT_LOW (send_cb held nghttp2 back). */
void kefo__h2_connection_hold_output(h2_conn *conn);

/*
 * Makes |conn|'s output its own: every piece of a lent body still in it
 * by reference is copied (a dead connection's output is dropped), so
 * that the body may go back to its owner. Out of memory, the output is
 * dropped and the connection fails at its next flush, from the loop:
 * never under the caller's feet.
 */
void kefo__h2_connection_own_output(h2_conn *conn);
/* Holds the peer's first bytes to an HTTP/2 server's SETTINGS frame.
   Returns 0, or -1 when the connection failed. */
int kefo__h2_connection_check_preface(h2_conn *conn, const uint8_t *data,
                                      size_t len);

/* ---- h2_session.c: the connection's nghttp2 session --------------------- */

/* Sets the session callbacks every connection's session is made with. */
void kefo__h2_session_callbacks_set(nghttp2_session_callbacks *cbs);
/* Hands |len| received bytes to nghttp2. Returns 0, or -1 when the
   connection died (failed here, or by what a callback did). */
int kefo__h2_session_feed(h2_conn *conn, const uint8_t *data, size_t len);

/* ---- h2_client.c: the pool ---------------------------------------------- */

/* The backoff of |ep|, or NULL when it has not failed lately. */
ep_backoff *kefo__h2_client_backoff_find(kefo_h2_client *c,
                                         const kefo_endpoint *ep);
/* A connection to |ep| failed: the next waits longer. */
void kefo__h2_client_backoff_failed(kefo_h2_client *c, const kefo_endpoint *ep);
/* A connection to |ep| was made: its backoff ends. */
void kefo__h2_client_backoff_succeeded(kefo_h2_client *c,
                                       const kefo_endpoint *ep);
/* A live connection to |ep| with room for one more stream, or NULL. */
h2_conn *kefo__h2_client_find_conn(kefo_h2_client *c, const kefo_endpoint *ep);
/* The peer's limit is known: spreads |conn|'s waiting streams. */
void kefo__h2_client_settle(h2_conn *conn);

#endif /* KEFO_H2_CLIENT_INTERNAL_H */
