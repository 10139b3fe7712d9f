/*
 * The mock's HTTP/2 server side: a loopback listener, h2c with prior
 * knowledge or TLS with ALPN h2, nghttp2 sessions over libevent
 * bufferevents, request checks (headers, SigV4, body size) and dispatch
 * to mock_api and mock_subscription.
 */
#ifndef KEFO_MOCK_SERVER_H
#define KEFO_MOCK_SERVER_H

#include <stdint.h>

#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "tests/support/mock/mock_api.h"

/* Request bodies above this get a 400 without being parsed. */
#define MOCK_MAX_BODY (10u * 1024 * 1024)

typedef struct mock_server mock_server;
typedef struct mock_conn mock_conn;

typedef struct mock_server_options {
  uint16_t port;                  /* 0: an ephemeral port */
  const char *tls_cert, *tls_key; /* both NULL: h2c */
  const char *secret;             /* NULL: signatures are not checked */
} mock_server_options;

/* Listens on 127.0.0.1. Returns 0 or -1 (a message on stderr). */
int mock_server_new(mock_server **out, struct event_base *base, mock_api *api,
                    const mock_server_options *opts);
uint16_t mock_server_port(const mock_server *srv);
/* Closes every connection and subscription, then the listener. */
void mock_server_del(mock_server *srv);

/* Wall-clock milliseconds since the epoch. */
int64_t mock_now_ms(void);

/* For subscriptions: their connection's session and loop, and a request
   to flush the session's output from the loop (never inline, so it is
   safe inside nghttp2 callbacks and model notifications). */
nghttp2_session *mock_conn_session(mock_conn *conn);
struct event_base *mock_conn_base(mock_conn *conn);
void mock_conn_want_send(mock_conn *conn);

/* Faults on the connection. Drop: it closes within the next |bytes| of
   output, so a frame is cut short. GOAWAY: naming |last_stream_id| as the
   last processed, then it closes once that is written. Slow: its output
   trickles at 8 KB/s for |ms|. */
void mock_conn_drop_soon(mock_conn *conn, size_t bytes);
void mock_conn_goaway(mock_conn *conn, int32_t last_stream_id);
void mock_conn_slow(mock_conn *conn, int64_t ms);

#endif /* KEFO_MOCK_SERVER_H */
