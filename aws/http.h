/*
 * The one request interface in front of kefo's two HTTP clients: HTTP/2
 * (nghttp2, for Kinesis) and HTTP/1.1 (libevent's evhttp, for DynamoDB,
 * STS and the metadata endpoints). Callers build a request, get the
 * response head, its body in lent chunks, and one close; they do not care
 * which protocol carries it. Everything runs on one libevent event_base and
 * never blocks; every callback runs on that loop's thread.
 */
#ifndef KEFO_HTTP_H
#define KEFO_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <kefo/kefo.h>

#include "base/mem.h"

/* An endpoint: scheme, host and port of a URL such as
   "https://kinesis.us-east-1.amazonaws.com" or "http://127.0.0.1:4568". */
typedef struct kefo_endpoint {
  /* 1 for https (TLS, certificate and host name verified), 0 for http
     (plain, only when given explicitly: emulators). */
  int tls;
  char host[256];
  uint16_t port;
  /* "host" or "host:port" when the port is not the scheme's default: the
     Host / :authority value, and what SigV4 signs as host. */
  char authority[264];
} kefo_endpoint;

/*
 * Parses |url|: "http://" or "https://", a host name, IPv4 address or
 * bracketed IPv6 address, an optional port, and nothing after but an
 * optional "/".
 *
 * Returns 0 or KEFO_ERR_CONFIG (the URL is not of that form).
 */
int kefo__endpoint_parse(kefo_endpoint *ep, const char *url);

typedef enum { KEFO_HTTP_1_1 = 1, KEFO_HTTP_2 = 2 } kefo_http_version;

typedef struct kefo_http_header {
  const char *name;
  const char *value;
} kefo_http_header;

typedef struct kefo_http_request {
  const kefo_endpoint *endpoint;
  kefo_http_version version;
  const char *method;
  /* Path and query, already encoded: "/" for every AWS JSON API. */
  const char *path;
  /* Headers to send, signature included; the client adds Host (or
     :authority), Content-Length and, for HTTP/1.1, Connection. Names in
     lower case (HTTP/2 requires it). Over HTTP/1.1 a caller's host
     replaces the endpoint's authority; connection, transfer-encoding and
     upgrade are refused (KEFO_ERR_INVALID_ARGUMENT). */
  const kefo_http_header *headers;
  size_t nheaders;
  /* Copied at the call: the caller may free it once the call returns;
     unless |body_lent| is set. */
  const uint8_t *body;
  size_t body_len;
  /* Non-zero: |body| stays valid until on_close (or until the stream is
     cancelled), so an HTTP/2 stream sends it from there rather than
     from a copy of its own (a PutRecords body is megabytes). HTTP/1.1
     copies it whatever this says. */
  int body_lent;
  /* Milliseconds from the request call (queueing and connecting
     included) until the response head must have arrived; 0: the
     client's default. A streaming response has no deadline after that:
     its owner watches for silence (SubscribeToShard's inactivity
     timeout). */
  uint32_t timeout_ms;
} kefo_http_request;

typedef struct kefo_http_stream kefo_http_stream;

typedef struct kefo_http_callbacks {
  /*
   * The response head: status and headers (lent, valid only during the
   * call). Non-zero return cancels the request (then on_close gets
   * KEFO_ERR_CALLBACK_FAILURE).
   */
  int (*on_response)(kefo_http_stream *stream, int status,
                     const kefo_http_header *headers, size_t nheaders,
                     void *user_data);
  /*
   * A piece of the body, lent: valid only during the call. Flow control
   * is the owner's: over HTTP/2 the peer may send no more than the
   * stream's window until the owner calls kefo__http_stream_consume for
   * bytes it has handed on (from here or later), so an owner that stops
   * consuming stops the peer. Non-zero return cancels the request.
   */
  int (*on_data)(kefo_http_stream *stream, const uint8_t *data, size_t len,
                 void *user_data);
  /*
   * Called exactly once, last: |error| is 0 when the whole response was
   * received, else a KEFO_ERR_* code with |info| saying more (lent).
   * The stream handle is invalid once this returns.
   */
  void (*on_close)(kefo_http_stream *stream, int error,
                   const kefo_error_info *info, void *user_data);
  /*
   * Optional (NULL: not told). A lent body (kefo_http_request.body_lent)
   * will not be read again: every byte of it is in the transport's hands
   * (written to the socket, or to TLS), or, should the connection end
   * first, copied out or dropped. Its owner may reuse it from here, so
   * that a body is held while it waits for the socket, not for the
   * answer. At most once, before on_close; never after a cancel, and
   * never over HTTP/1.1, which copies the body at the request. It may run
   * while the client writes: it must not call into the client (no
   * cancel, no request).
   */
  void (*on_body_sent)(kefo_http_stream *stream, void *user_data);
} kefo_http_callbacks;

typedef struct kefo_http_client_options {
  const kefo_mem *mem;
  /* Extra PEM CA file to trust besides the system store; NULL: none. */
  const char *ca_file;
  /* Defaults: 10 s connect, 10 s TLS handshake, 30 s response head. */
  uint32_t connect_timeout_ms;
  uint32_t tls_timeout_ms;
  uint32_t request_timeout_ms;
  /* HTTP/2: a PING after this much silence on a connection, and the
     connection dropped when no answer comes within the same time; 0: 30 s.
   */
  uint32_t ping_interval_ms;
  /* HTTP/2: each stream's receive window, the most a stream's owner can
     leave unconsumed; 0: 1 MiB. */
  uint32_t stream_window;
} kefo_http_client_options;

/* Fills |opts| with the defaults (all zero: the defaults above). */
void kefo__http_client_options_init(kefo_http_client_options *opts);

/* Stream operations, one table per protocol. */
typedef struct kefo_http_stream_ops {
  void (*consume)(kefo_http_stream *stream, size_t n);
  void (*cancel)(kefo_http_stream *stream);
  void (*prefetch)(kefo_http_stream *stream, const void *const *addrs,
                   size_t n); /* NULL: nothing to gain */
} kefo_http_stream_ops;

/* Each protocol's stream starts with this header. */
struct kefo_http_stream {
  const kefo_http_stream_ops *ops;
};

/*
 * Tells the client the owner has handed on |n| more bytes of this stream's
 * body, so the peer may send that many more (HTTP/2 WINDOW_UPDATE). A
 * no-op over HTTP/1.1, where reading stops only when the socket buffer is
 * full.
 */
void kefo__http_stream_consume(kefo_http_stream *stream, size_t n);

/* The most addresses kefo__http_stream_prefetch keeps. */
#define KEFO_HTTP_PREFETCH_MAX 12

/*
 * Names up to KEFO_HTTP_PREFETCH_MAX addresses (cache lines) the owner's
 * on_data reads: the client asks the CPU for them as soon as a piece of
 * this stream's body arrives, before calling on_data, so that their cache
 * misses overlap instead of coming one after the other. With thousands of
 * streams each one's state has left the cache by the time its next event
 * comes. Replaces the previous list (extra addresses are ignored). The
 * addresses are only prefetched, never dereferenced, so a stale one costs
 * a wasted prefetch and nothing else. A no-op over HTTP/1.1.
 */
void kefo__http_stream_prefetch(kefo_http_stream *stream,
                                const void *const *addrs, size_t n);

/*
 * Cancels the request (HTTP/2: RST_STREAM CANCEL; HTTP/1.1: the
 * connection is closed). No callback runs for it afterwards, not even
 * on_close; the handle is invalid on return. Safe from inside the
 * stream's own callbacks.
 */
void kefo__http_stream_cancel(kefo_http_stream *stream);

/* The client: one per consumer, owning an HTTP/2 and an HTTP/1.1
   connection pool on |base|. */
typedef struct kefo_http_client kefo_http_client;

/*
 * Creates a client on |base| (not owned). |opts| may be NULL.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT, KEFO_ERR_TLS (the CA file cannot
 * be loaded: the message says why) or KEFO_ERR_NOMEM.
 */
int kefo__http_client_new(kefo_http_client **out, struct event_base *base,
                          const kefo_http_client_options *opts);

/* Closes every connection; requests in flight get no more callbacks.
   Never call it from inside a stream's callback. */
void kefo__http_client_del(kefo_http_client *client);

/*
 * Starts |req| (copied: the caller's memory may go once this returns) over
 * a pooled connection of the request's version, opening one if needed.
 * Callbacks run later, from the loop, never from inside this call. |out|
 * may be NULL when the caller never cancels or consumes.
 *
 * Returns 0 (on_close will be called exactly once), or
 * KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM (no callback will be).
 */
int kefo__http_client_request(kefo_http_client *client,
                              const kefo_http_request *req,
                              const kefo_http_callbacks *cb, void *user_data,
                              kefo_http_stream **out);

/*
 * Milliseconds until the client will next try to connect to |ep| over
 * |version|: 0 unless connections to it failed lately and it waits out
 * its reconnect backoff. A caller about to retry waits at least this
 * long, so that the wait it reports is the one that happens.
 */
int64_t kefo__http_client_wait_ms(kefo_http_client *client,
                                  const kefo_endpoint *ep,
                                  kefo_http_version version);

/* The HTTP/2 connections the client holds and the streams they carry
   (0 and 0 before the first HTTP/2 request). */
void kefo__http_client_h2_counts(const kefo_http_client *client,
                                 size_t *connections, size_t *streams);

#endif /* KEFO_HTTP_H */
