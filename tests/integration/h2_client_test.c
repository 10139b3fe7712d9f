/*
 * HTTP/2 client against real servers on loopback, started by
 * tests/integration/h2_client_test.sh: Node's HTTP/2 server (h2c and TLS with a
 * test CA) and kinesis-local. Ports and files come from the environment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <CUnit/Basic.h>
#include <cjson/cJSON.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "aws/event_stream.h"
#include "aws/h2_client.h"
#include "aws/sigv4.h"
#include "aws/tls.h"

static struct event_base *base;

typedef struct call {
  int status;
  int closed;
  int error;
  char message[512];
  size_t bytes;
  size_t chunks;
  int consume; /* give the window back as bytes arrive */
  size_t unconsumed;
  kefo_http_stream *stream;
  char body[4096];
  uint64_t sum; /* of every byte received, each times its position + 1 */
  kefo_es_decoder *dec; /* feed the body to an event-stream decoder */
  int cancel_after_response;
} call;

static int on_response(kefo_http_stream *s, int status,
                       const kefo_http_header *h, size_t n, void *ud) {
  call *c = ud;
  (void)h;
  (void)n;
  c->status = status;
  if (c->cancel_after_response) {
    kefo__http_stream_cancel(s);
  }
  return 0;
}

static int on_data(kefo_http_stream *s, const uint8_t *data, size_t len,
                   void *ud) {
  call *c = ud;

  if (c->bytes + len < sizeof(c->body)) {
    memcpy(c->body + c->bytes, data, len);
  }
  {
    size_t i;
    for (i = 0; i < len; ++i) {
      c->sum += (uint64_t)data[i] * (c->bytes + i + 1);
    }
  }
  c->bytes += len;
  ++c->chunks;
  if (c->dec) {
    kefo__es_decoder_feed(c->dec, data, len);
  }
  if (c->consume) {
    kefo__http_stream_consume(s, len);
  } else {
    c->unconsumed += len;
  }
  return 0;
}

static void on_close(kefo_http_stream *s, int error,
                     const kefo_error_info *info, void *ud) {
  call *c = ud;
  (void)s;
  c->closed = 1;
  c->error = error;
  if (info) {
    snprintf(c->message, sizeof(c->message), "%s", info->message);
  }
}

static const kefo_http_callbacks callbacks = {on_response, on_data, on_close,
                                              NULL};

static int env_port(const char *name) {
  const char *v = getenv(name);
  return v ? atoi(v) : 0;
}

static void endpoint(kefo_endpoint *ep, const char *scheme_host, int port) {
  char url[300];
  snprintf(url, sizeof(url), "%s:%d", scheme_host, port);
  CU_ASSERT_EQUAL_FATAL(kefo__endpoint_parse(ep, url), 0);
}

static void run_until(int *flag, int ms) {
  struct timeval tv = {0, 10000};
  int i;
  for (i = 0; i < ms / 10 && !*flag; ++i) {
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
  }
}

static void run_for(int ms) {
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
  event_base_loopexit(base, &tv);
  event_base_dispatch(base);
}

static uint32_t ping_interval_ms;

static kefo_h2_client *client_new(const char *ca_file, SSL_CTX **ctx,
                                  uint32_t window) {
  kefo_http_client_options o;
  kefo_h2_client *cl;
  char err[256];

  kefo__http_client_options_init(&o);
  o.stream_window = window;
  o.ping_interval_ms = ping_interval_ms;
  CU_ASSERT_EQUAL_FATAL(kefo__tls_ctx_new(ctx, ca_file, 1, err, sizeof(err)),
                        0);
  CU_ASSERT_EQUAL_FATAL(kefo__h2_client_new(&cl, base, &o, *ctx), 0);
  return cl;
}

static void start(kefo_h2_client *cl, const kefo_endpoint *ep, const char *path,
                  const char *body, uint32_t timeout_ms, call *c) {
  kefo_http_request r;
  memset(&r, 0, sizeof(r));
  r.endpoint = ep;
  r.version = KEFO_HTTP_2;
  r.method = "POST";
  r.path = path;
  r.body = (const uint8_t *)body;
  r.body_len = body ? strlen(body) : 0;
  r.timeout_ms = timeout_ms;
  CU_ASSERT_EQUAL(kefo__h2_client_request(cl, &r, &callbacks, c, &c->stream),
                  0);
}

static void test_h2c_echo_big_goaway(void) {
  SSL_CTX *ctx;
  kefo_h2_client *cl = client_new(NULL, &ctx, 0);
  kefo_endpoint ep;
  call a, b, g, e2, cnt;

  endpoint(&ep, "http://127.0.0.1", env_port("H2_PLAIN_PORT"));
  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  a.consume = b.consume = 1;
  start(cl, &ep, "/echo", "hello, kefo", 0, &a);
  start(cl, &ep, "/big?n=5000000", NULL, 0, &b);
  /* Callbacks never run inside the request call. */
  CU_ASSERT_EQUAL(a.closed + a.status, 0);
  run_until(&b.closed, 10000);
  run_until(&a.closed, 1000);
  CU_ASSERT_EQUAL(a.status, 200);
  CU_ASSERT_EQUAL(a.error, 0);
  CU_ASSERT_EQUAL(a.bytes, 11);
  CU_ASSERT_EQUAL(memcmp(a.body, "hello, kefo", 11), 0);
  CU_ASSERT_EQUAL(b.error, 0);
  CU_ASSERT_EQUAL(b.bytes, 5000000);
  CU_ASSERT(b.chunks > 1);
  CU_ASSERT_EQUAL(kefo__h2_client_connections(cl), 1);
  /* GOAWAY after a response: the next request opens a new connection. */
  memset(&g, 0, sizeof(g));
  g.consume = 1;
  start(cl, &ep, "/goaway", NULL, 0, &g);
  run_until(&g.closed, 3000);
  CU_ASSERT_EQUAL(g.error, 0);
  CU_ASSERT_EQUAL(g.bytes, 3);
  run_for(100);
  memset(&e2, 0, sizeof(e2));
  e2.consume = 1;
  start(cl, &ep, "/echo", "again", 0, &e2);
  run_until(&e2.closed, 3000);
  if (e2.error) {
    printf("\nh2: request after GOAWAY: %s\n", e2.message);
  }
  CU_ASSERT_EQUAL(e2.error, 0);
  CU_ASSERT_EQUAL(e2.bytes, 5);
  memset(&cnt, 0, sizeof(cnt));
  cnt.consume = 1;
  start(cl, &ep, "/count", NULL, 0, &cnt);
  run_until(&cnt.closed, 3000);
  cnt.body[cnt.bytes < sizeof(cnt.body) ? cnt.bytes : 0] = 0;
  /* The server binds its own port and says so (no readiness probe
     connects to it): every connection it counts is the client's. */
  printf("\nh2: after GOAWAY the client holds %zu connection(s); the server "
         "saw %d from it\n",
         kefo__h2_client_connections(cl), atoi(cnt.body));
  CU_ASSERT_EQUAL(atoi(cnt.body), 2);
  CU_ASSERT_EQUAL(kefo__h2_client_connections(cl), 1);
  kefo__h2_client_del(cl);
  SSL_CTX_free(ctx);
}

/* A stream window larger than the connection window: the connection
   window must still come back, or the stream stalls after 16 MiB. */
static void test_window_above_connection(void) {
  SSL_CTX *ctx;
  kefo_h2_client *cl = client_new(NULL, &ctx, 64u << 20);
  kefo_endpoint ep;
  call b;

  endpoint(&ep, "http://127.0.0.1", env_port("H2_PLAIN_PORT"));
  memset(&b, 0, sizeof(b));
  b.consume = 1;
  start(cl, &ep, "/big?n=40000000", NULL, 0, &b);
  run_until(&b.closed, 20000);
  printf("\nh2: 64 MiB stream window, 40 MB response: %zu bytes, error %d\n",
         b.bytes, b.error);
  CU_ASSERT_EQUAL(b.error, 0);
  CU_ASSERT_EQUAL(b.bytes, 40000000);
  kefo__h2_client_del(cl);
  SSL_CTX_free(ctx);
}

static void test_flow_control(void) {
  SSL_CTX *ctx;
  uint32_t window = 256 * 1024;
  kefo_h2_client *cl = client_new(NULL, &ctx, window);
  kefo_endpoint ep;
  call slow, fast;

  endpoint(&ep, "http://127.0.0.1", env_port("H2_PLAIN_PORT"));
  memset(&slow, 0, sizeof(slow));
  memset(&fast, 0, sizeof(fast));
  fast.consume = 1;
  /* The slow owner consumes nothing: its peer must stop at the window,
     while another stream on the same connection goes on. */
  start(cl, &ep, "/big?n=4000000", NULL, 0, &slow);
  start(cl, &ep, "/big?n=3000000", NULL, 0, &fast);
  run_until(&fast.closed, 10000);
  run_for(300);
  printf("h2: unconsumed stream stalled at %zu bytes (window %u); the other "
         "stream on the connection got %zu bytes\n",
         slow.bytes, window, fast.bytes);
  CU_ASSERT_EQUAL(fast.error, 0);
  CU_ASSERT_EQUAL(fast.bytes, 3000000);
  CU_ASSERT(slow.bytes <= window);
  CU_ASSERT(slow.bytes > 0);
  CU_ASSERT_EQUAL(slow.closed, 0);
  /* Handing the bytes on lets the rest come. */
  slow.consume = 1;
  kefo__http_stream_consume(slow.stream, slow.unconsumed);
  run_until(&slow.closed, 10000);
  CU_ASSERT_EQUAL(slow.error, 0);
  CU_ASSERT_EQUAL(slow.bytes, 4000000);
  kefo__h2_client_del(cl);
  SSL_CTX_free(ctx);
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, rss = 0;
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2) {
      rss = 0;
    }
    fclose(f);
  }
  return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

static void test_thousand_streams(void) {
  enum { N = 1000 };
  SSL_CTX *ctx;
  kefo_h2_client *cl = client_new(NULL, &ctx, 64 * 1024);
  kefo_endpoint ep;
  call *calls = calloc(N, sizeof(call));
  long before, after;
  int i, responded = 0, all = 0;

  endpoint(&ep, "http://127.0.0.1", env_port("H2_PLAIN_PORT"));
  before = rss_kib();
  for (i = 0; i < N; ++i) {
    calls[i].consume = 1;
    start(cl, &ep, "/hold", NULL, 0, &calls[i]);
  }
  for (i = 0; i < 500 && !all; ++i) {
    int k;
    run_for(20);
    responded = 0;
    for (k = 0; k < N; ++k) {
      responded += calls[k].status == 200;
    }
    all = responded == N;
  }
  after = rss_kib();
  printf("h2: %d of %d concurrent streams open on %zu connection(s); RSS "
         "grew %ld KiB, %.2f KiB per open stream (client, kefo + nghttp2 + "
         "libevent)\n",
         responded, N, kefo__h2_client_connections(cl), after - before,
         (double)(after - before) / N);
  CU_ASSERT_EQUAL(responded, N);
  CU_ASSERT_EQUAL(kefo__h2_client_connections(cl), 1);
  for (i = 0; i < N; ++i) {
    CU_ASSERT_EQUAL(calls[i].closed, 0);
    if (!calls[i].closed) {
      kefo__http_stream_cancel(calls[i].stream);
    } else if (i == 0) {
      printf("h2: stream 0 closed: %s\n", calls[i].message);
    }
  }
  run_for(100);
  for (i = 0; i < N; ++i) {
    CU_ASSERT_EQUAL(calls[i].closed, 0); /* no callback after cancel */
  }
  kefo__h2_client_del(cl);
  SSL_CTX_free(ctx);
  free(calls);
}

static void test_timeout_refused_cancel(void) {
  SSL_CTX *ctx;
  kefo_h2_client *cl = client_new(NULL, &ctx, 0);
  kefo_endpoint ep, closed_ep;
  call t, r, c;

  endpoint(&ep, "http://127.0.0.1", env_port("H2_PLAIN_PORT"));
  endpoint(&closed_ep, "http://127.0.0.1", env_port("CLOSED_PORT"));
  memset(&t, 0, sizeof(t));
  memset(&r, 0, sizeof(r));
  memset(&c, 0, sizeof(c));
  start(cl, &ep, "/never", NULL, 300, &t);
  start(cl, &closed_ep, "/echo", "x", 0, &r);
  c.cancel_after_response = 1;
  start(cl, &ep, "/hold", NULL, 0, &c);
  run_until(&t.closed, 3000);
  run_until(&r.closed, 3000);
  printf("h2: timeout: %s; refused: %s\n", t.message, r.message);
  CU_ASSERT_EQUAL(t.error, KEFO_ERR_TIMEOUT);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CONNECT);
  CU_ASSERT_EQUAL(c.status, 200);
  CU_ASSERT_EQUAL(c.closed, 0);
  {
    /* An endpoint that just refused: the next connection waits out a
       backoff (100-200 ms after a second failure) instead of hammering
       it. The first refusal above is older than its 100 ms backoff, so
       r2 goes at once. */
    call r2, r3;
    struct timeval t0, t1, t2;
    long ms2, ms3;
    memset(&r2, 0, sizeof(r2));
    memset(&r3, 0, sizeof(r3));
    gettimeofday(&t0, NULL);
    start(cl, &closed_ep, "/echo", "x", 0, &r2);
    run_until(&r2.closed, 3000);
    gettimeofday(&t1, NULL);
    start(cl, &closed_ep, "/echo", "x", 0, &r3);
    run_until(&r3.closed, 3000);
    gettimeofday(&t2, NULL);
    ms2 = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
    ms3 = (t2.tv_sec - t1.tv_sec) * 1000 + (t2.tv_usec - t1.tv_usec) / 1000;
    printf("h2: reconnect backoff after refusals: %ld ms, then %ld ms\n", ms2,
           ms3);
    CU_ASSERT_EQUAL(r2.error, KEFO_ERR_CONNECT);
    CU_ASSERT_EQUAL(r3.error, KEFO_ERR_CONNECT);
    CU_ASSERT(ms2 < 90);
    CU_ASSERT(ms3 >= 90);
  }
  kefo__h2_client_del(cl);
  SSL_CTX_free(ctx);
}

/* A peer that completes the HTTP/2 preface and then goes silent: PINGs
   go unanswered and the connection is dropped, failing its streams, well
   before their own deadline. */
static void test_ping_liveness(void) {
  SSL_CTX *ctx;
  kefo_h2_client *cl;
  kefo_endpoint ep;
  call a;
  struct timeval t0, t1;
  long ms;

  ping_interval_ms = 200;
  cl = client_new(NULL, &ctx, 0);
  ping_interval_ms = 0;
  endpoint(&ep, "http://127.0.0.1", env_port("H2_SILENT_PORT"));
  memset(&a, 0, sizeof(a));
  gettimeofday(&t0, NULL);
  start(cl, &ep, "/echo", "anyone?", 10000, &a);
  run_until(&a.closed, 5000);
  gettimeofday(&t1, NULL);
  ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_usec - t0.tv_usec) / 1000;
  printf("h2: silent peer dropped after %ld ms (PING every 200 ms): %s\n", ms,
         a.message);
  CU_ASSERT_EQUAL(a.error, KEFO_ERR_TIMEOUT);
  CU_ASSERT_PTR_NOT_NULL(strstr(a.message, "PING"));
  CU_ASSERT(ms >= 350 && ms < 2000);
  kefo__h2_client_del(cl);
  SSL_CTX_free(ctx);
}

/* Peers made here, on the test's own loop: one that accepts and never
   writes (its sockets kept open until the end), one that answers as an
   HTTP/1.1 server does and closes. */
static evutil_socket_t held[16];
static int nheld;

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
                      struct sockaddr *sa, int salen, void *arg) {
  static const char page[] = "HTTP/1.1 400 Bad Request\r\n"
                             "Content-Type: text/html\r\n"
                             "Connection: close\r\n\r\n<html></html>\n";
  (void)l;
  (void)sa;
  (void)salen;
  if (arg != NULL) {
    CU_ASSERT(send(fd, page, sizeof(page) - 1, 0) > 0);
    evutil_closesocket(fd);
  } else if (nheld < 16) {
    held[nheld++] = fd;
  } else {
    evutil_closesocket(fd);
  }
}

static struct evconnlistener *peer_new(int junk, int *port) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  struct evconnlistener *l;

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  l = evconnlistener_new_bind(base, on_accept, junk ? (void *)1 : NULL,
                              LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
                              (struct sockaddr *)&a, sizeof(a));
  CU_ASSERT_PTR_NOT_NULL_FATAL(l);
  getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&a, &len);
  *port = ntohs(a.sin_port);
  return l;
}

static long ms_since(const struct timeval *t0) {
  struct timeval t1;
  gettimeofday(&t1, NULL);
  return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_usec - t0->tv_usec) / 1000;
}

/*
 * A peer that accepts and never sends its SETTINGS fails the connection
 * at the handshake deadline (the connect timeout), not the request's, and
 * counts against the endpoint as a refusal does; a request whose own
 * deadline comes first fails the connection too, so that a retry does
 * not wait behind it. A peer that is not HTTP/2 is a protocol error that
 * names what it sent, final, not a connection "closed by the peer".
 */
static void test_not_h2_peers(void) {
  kefo_http_client_options o;
  struct evconnlistener *silent, *junk;
  kefo_h2_client *cl;
  SSL_CTX *ctx;
  kefo_endpoint ep;
  struct timeval t0;
  char err[256];
  int port;
  long ms;
  call a;

  silent = peer_new(0, &port);
  endpoint(&ep, "http://127.0.0.1", port);
  kefo__http_client_options_init(&o);
  o.connect_timeout_ms = 300;
  CU_ASSERT_EQUAL_FATAL(kefo__tls_ctx_new(&ctx, NULL, 1, err, sizeof(err)), 0);
  CU_ASSERT_EQUAL_FATAL(kefo__h2_client_new(&cl, base, &o, ctx), 0);
  memset(&a, 0, sizeof(a));
  gettimeofday(&t0, NULL);
  start(cl, &ep, "/echo", "anyone?", 10000, &a);
  run_until(&a.closed, 5000);
  ms = ms_since(&t0);
  printf("\nh2: silent peer, no SETTINGS: %ld ms: %s\n", ms, a.message);
  CU_ASSERT_EQUAL(a.error, KEFO_ERR_TIMEOUT);
  CU_ASSERT_PTR_NOT_NULL(strstr(a.message, "no HTTP/2 SETTINGS within 300"));
  CU_ASSERT(ms >= 250 && ms < 2000);
  CU_ASSERT(kefo__h2_client_wait_ms(cl, &ep) > 0);
  kefo__h2_client_del(cl);

  o.connect_timeout_ms = 0; /* 10 s: the request's 200 ms comes first */
  CU_ASSERT_EQUAL_FATAL(kefo__h2_client_new(&cl, base, &o, ctx), 0);
  memset(&a, 0, sizeof(a));
  gettimeofday(&t0, NULL);
  start(cl, &ep, "/echo", "anyone?", 200, &a);
  run_until(&a.closed, 5000);
  ms = ms_since(&t0);
  run_for(20);
  printf("h2: silent peer, request deadline first: %ld ms: %s\n", ms,
         a.message);
  CU_ASSERT_EQUAL(a.error, KEFO_ERR_TIMEOUT);
  CU_ASSERT_PTR_NOT_NULL(strstr(a.message, "no HTTP/2 SETTINGS"));
  CU_ASSERT(ms < 1000);
  CU_ASSERT_EQUAL(kefo__h2_client_connections(cl), 0);
  kefo__h2_client_del(cl);
  evconnlistener_free(silent);
  while (nheld > 0) {
    evutil_closesocket(held[--nheld]);
  }

  junk = peer_new(1, &port);
  endpoint(&ep, "http://127.0.0.1", port);
  CU_ASSERT_EQUAL_FATAL(kefo__h2_client_new(&cl, base, &o, ctx), 0);
  memset(&a, 0, sizeof(a));
  start(cl, &ep, "/echo", "anyone?", 5000, &a);
  run_until(&a.closed, 5000);
  printf("h2: HTTP/1.1 peer: %s\n", a.message);
  CU_ASSERT_EQUAL(a.error, KEFO_ERR_HTTP);
  CU_ASSERT_PTR_NOT_NULL(
      strstr(a.message, "not HTTP/2: the server answered 'HTTP/1.1 400 Bad "
                        "Request'"));
  CU_ASSERT_PTR_NULL(strstr(a.message, "closed by the peer"));
  kefo__h2_client_del(cl);
  evconnlistener_free(junk);
  SSL_CTX_free(ctx);
}

static void tls_case(const char *ca, int port, int want, const char *needle) {
  SSL_CTX *ctx;
  kefo_h2_client *cl = client_new(ca, &ctx, 0);
  kefo_endpoint ep;
  call a;

  endpoint(&ep, "https://127.0.0.1", port);
  memset(&a, 0, sizeof(a));
  a.consume = 1;
  start(cl, &ep, "/echo", "over tls", 0, &a);
  run_until(&a.closed, 5000);
  printf("h2 tls (%s): %s %s\n", strrchr(ca, '/') + 1,
         a.error ? kefo_strerror(a.error) : "ok", a.message);
  CU_ASSERT_EQUAL(a.error, want);
  if (want == 0) {
    /* A lent body of 8 MiB: its DATA goes to the TLS bufferevent's
       output by reference, and comes back whole. */
    const size_t n = 8u << 20;
    uint8_t *big = malloc(n);
    kefo_http_request r;
    uint64_t sum = 0;
    size_t i;

    CU_ASSERT_EQUAL(a.bytes, 8);
    CU_ASSERT_PTR_NOT_NULL_FATAL(big);
    for (i = 0; i < n; ++i) {
      big[i] = (uint8_t)(i * 7 % 251);
      sum += (uint64_t)big[i] * (i + 1);
    }
    memset(&a, 0, sizeof(a));
    a.consume = 1;
    memset(&r, 0, sizeof(r));
    r.endpoint = &ep;
    r.version = KEFO_HTTP_2;
    r.method = "POST";
    r.path = "/echo";
    r.body = big;
    r.body_len = n;
    r.body_lent = 1;
    CU_ASSERT_EQUAL(kefo__h2_client_request(cl, &r, &callbacks, &a, &a.stream),
                    0);
    run_until(&a.closed, 20000);
    printf("h2 tls: a lent body of %zu bytes echoed: %zu bytes, %s\n", n,
           a.bytes, a.sum == sum ? "the same" : "DIFFERENT");
    CU_ASSERT_EQUAL(a.error, 0);
    CU_ASSERT_EQUAL(a.bytes, n);
    CU_ASSERT(a.sum == sum);
    free(big);
  } else {
    CU_ASSERT_PTR_NOT_NULL(strstr(a.message, needle));
  }
  kefo__h2_client_del(cl);
  SSL_CTX_free(ctx);
}

static void test_tls(void) {
  const char *dir = getenv("TLS_DIR");
  char ca[512], other[512], ca2[512];

  snprintf(ca, sizeof(ca), "%s/a/ca.pem", dir);
  snprintf(other, sizeof(other), "%s/a/other-ca.pem", dir);
  snprintf(ca2, sizeof(ca2), "%s/b/ca.pem", dir);
  tls_case(ca, env_port("H2_TLS_PORT"), 0, NULL);
  tls_case(other, env_port("H2_TLS_PORT"), KEFO_ERR_TLS,
           "certificate verify failed");
  /* Trusted CA, but the certificate names another host. */
  tls_case(ca2, env_port("H2_TLS_MISMATCH_PORT"), KEFO_ERR_TLS,
           "certificate verify failed");
}

/* ---- kinesis-local: JSON calls and SubscribeToShard over HTTP/2 ---- */

static kefo_endpoint kl_ep;
static kefo_h2_client *kl;

static cJSON *kinesis(const char *op, cJSON *body) {
  char *text = cJSON_PrintUnformatted(body);
  char target[128], date[32];
  kefo_http_header hs[8];
  kefo_sigv4_header sh[4];
  kefo_sigv4_request sreq;
  kefo_sigv4_params sp;
  kefo_sigv4_credentials cr = {"AKIDKEFOTEST", "kefo-test-secret", NULL};
  kefo_sigv4_result res;
  kefo_http_request r;
  call c;
  cJSON *out = NULL;
  size_t i, n = 0;

  snprintf(target, sizeof(target), "Kinesis_20131202.%s", op);
  (void)date;
  memset(&sreq, 0, sizeof(sreq));
  memset(&sp, 0, sizeof(sp));
  sh[0].name = "host";
  sh[0].value = kl_ep.authority;
  sh[1].name = "content-type";
  sh[1].value = "application/x-amz-json-1.1";
  sh[2].name = "x-amz-target";
  sh[2].value = target;
  for (i = 0; i < 3; ++i) {
    sh[i].namelen = strlen(sh[i].name);
    sh[i].valuelen = strlen(sh[i].value);
  }
  sreq.method = "POST";
  sreq.path = "/";
  sreq.query = "";
  sreq.headers = sh;
  sreq.nheaders = 3;
  sreq.body = (const uint8_t *)text;
  sreq.bodylen = strlen(text);
  sp.credentials = &cr;
  sp.region = "us-east-1";
  sp.service = "kinesis";
  sp.time = 1795000000;
  CU_ASSERT_EQUAL_FATAL(kefo__sigv4_sign(&res, &sreq, &sp, NULL, NULL), 0);
  for (i = 1; i < 3; ++i) {
    hs[n].name = sh[i].name;
    hs[n++].value = sh[i].value;
  }
  for (i = 0; i < res.nheaders; ++i) {
    hs[n].name = res.headers[i].name;
    hs[n++].value = res.headers[i].value;
  }
  memset(&r, 0, sizeof(r));
  memset(&c, 0, sizeof(c));
  c.consume = 1;
  r.endpoint = &kl_ep;
  r.version = KEFO_HTTP_2;
  r.method = "POST";
  r.path = "/";
  r.headers = hs;
  r.nheaders = n;
  r.body = (const uint8_t *)text;
  r.body_len = strlen(text);
  CU_ASSERT_EQUAL(kefo__h2_client_request(kl, &r, &callbacks, &c, NULL), 0);
  kefo__sigv4_result_free(&res);
  free(text);
  cJSON_Delete(body);
  run_until(&c.closed, 10000);
  if (c.error == 0 && c.status == 200 && c.bytes == 0) {
    out = cJSON_CreateObject(); /* CreateStream answers with no body */
  } else if (c.error == 0 && c.status == 200 && c.bytes < sizeof(c.body)) {
    out = cJSON_ParseWithLength(c.body, c.bytes);
  } else {
    fprintf(stderr, "%s: error %d status %d %.*s\n", op, c.error, c.status,
            (int)(c.bytes < sizeof(c.body) ? c.bytes : 0), c.body);
  }
  return out;
}

typedef struct sub_state {
  int events;
  int records;
  int exceptions;
} sub_state;

static int on_event(const kefo_es_message *m, void *ud) {
  sub_state *st = ud;
  const kefo_es_header *t = kefo__es_message_header(m, ":event-type");
  cJSON *j;

  if (t && t->value_len == 21 &&
      memcmp(t->value, "SubscribeToShardEvent", 21) == 0) {
    ++st->events;
    j = cJSON_ParseWithLength((const char *)m->payload, m->payload_len);
    st->records += cJSON_GetArraySize(cJSON_GetObjectItem(j, "Records"));
    cJSON_Delete(j);
  } else if (kefo__es_message_header(m, ":exception-type")) {
    ++st->exceptions;
  }
  return 0;
}

static void test_kinesis_local(void) {
  SSL_CTX *ctx;
  cJSON *b, *r, *recs;
  char arn[512], shard[128], consumer[512];
  int i;
  enum { NREC = 25 };

  kl = client_new(NULL, &ctx, 0);
  endpoint(&kl_ep, "http://127.0.0.1", env_port("KINESIS_PORT"));
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "StreamName", "kefo-h2");
  cJSON_AddNumberToObject(b, "ShardCount", 1);
  r = kinesis("CreateStream", b);
  CU_ASSERT_PTR_NOT_NULL(r);
  cJSON_Delete(r);
  run_for(200);
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "StreamName", "kefo-h2");
  r = kinesis("DescribeStreamSummary", b);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  snprintf(arn, sizeof(arn), "%s",
           cJSON_GetObjectItem(
               cJSON_GetObjectItem(r, "StreamDescriptionSummary"), "StreamARN")
               ->valuestring);
  cJSON_Delete(r);
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "StreamName", "kefo-h2");
  recs = cJSON_AddArrayToObject(b, "Records");
  for (i = 0; i < NREC; ++i) {
    cJSON *e = cJSON_CreateObject();
    char pk[16];
    snprintf(pk, sizeof(pk), "pk-%d", i);
    cJSON_AddStringToObject(e, "Data", "aGVsbG8=");
    cJSON_AddStringToObject(e, "PartitionKey", pk);
    cJSON_AddItemToArray(recs, e);
  }
  r = kinesis("PutRecords", b);
  CU_ASSERT_PTR_NOT_NULL(r);
  CU_ASSERT_EQUAL(cJSON_GetObjectItem(r, "FailedRecordCount")->valueint, 0);
  cJSON_Delete(r);
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "StreamName", "kefo-h2");
  r = kinesis("ListShards", b);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  snprintf(
      shard, sizeof(shard), "%s",
      cJSON_GetObjectItem(
          cJSON_GetArrayItem(cJSON_GetObjectItem(r, "Shards"), 0), "ShardId")
          ->valuestring);
  cJSON_Delete(r);
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "StreamARN", arn);
  cJSON_AddStringToObject(b, "ConsumerName", "kefo-h2-consumer");
  r = kinesis("RegisterStreamConsumer", b);
  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  snprintf(
      consumer, sizeof(consumer), "%s",
      cJSON_GetObjectItem(cJSON_GetObjectItem(r, "Consumer"), "ConsumerARN")
          ->valuestring);
  cJSON_Delete(r);
  run_for(300);
  {
    /* SubscribeToShard: the body is an event stream; feed it to the
       decoder as it arrives. */
    kefo_es_decoder dec;
    sub_state st = {0, 0, 0};
    call c;
    kefo_http_request req;
    kefo_http_header hs[4];
    char *text;
    cJSON *sb = cJSON_CreateObject(), *pos;

    cJSON_AddStringToObject(sb, "ConsumerARN", consumer);
    cJSON_AddStringToObject(sb, "ShardId", shard);
    pos = cJSON_AddObjectToObject(sb, "StartingPosition");
    cJSON_AddStringToObject(pos, "Type", "TRIM_HORIZON");
    text = cJSON_PrintUnformatted(sb);
    cJSON_Delete(sb);
    kefo__es_decoder_init(&dec, NULL, 0, 0, on_event, &st);
    hs[0].name = "content-type";
    hs[0].value = "application/x-amz-json-1.1";
    hs[1].name = "x-amz-target";
    hs[1].value = "Kinesis_20131202.SubscribeToShard";
    hs[2].name = "authorization";
    hs[2].value = "AWS4-HMAC-SHA256 Credential=AKIDKEFOTEST/20261122/"
                  "us-east-1/kinesis/aws4_request, SignedHeaders=host, "
                  "Signature=00";
    hs[3].name = "x-amz-date";
    hs[3].value = "20261122T000000Z";
    memset(&req, 0, sizeof(req));
    memset(&c, 0, sizeof(c));
    c.consume = 1;
    c.dec = &dec;
    req.endpoint = &kl_ep;
    req.version = KEFO_HTTP_2;
    req.method = "POST";
    req.path = "/";
    req.headers = hs;
    req.nheaders = 4;
    req.body = (const uint8_t *)text;
    req.body_len = strlen(text);
    CU_ASSERT_EQUAL(
        kefo__h2_client_request(kl, &req, &callbacks, &c, &c.stream), 0);
    free(text);
    for (i = 0; i < 300 && st.records < NREC; ++i) {
      run_for(10);
    }
    printf("h2: SubscribeToShard on kinesis-local: HTTP %d, %d event(s), "
           "%d record(s) of %d written, %d exception(s)\n",
           c.status, st.events, st.records, NREC, st.exceptions);
    CU_ASSERT_EQUAL(c.status, 200);
    CU_ASSERT_EQUAL(st.records, NREC);
    CU_ASSERT_EQUAL(st.exceptions, 0);
    kefo__http_stream_cancel(c.stream);
    run_for(50);
    kefo__es_decoder_free(&dec);
  }
  kefo__h2_client_del(kl);
  SSL_CTX_free(ctx);
}

int main(void) {
  CU_pSuite s;
  unsigned failures;

  base = event_base_new();
  if (CU_initialize_registry() != CUE_SUCCESS) {
    return 1;
  }
  s = CU_add_suite("h2_client", NULL, NULL);
  CU_add_test(s, "h2c echo, big body, GOAWAY", test_h2c_echo_big_goaway);
  CU_add_test(s, "flow control per stream", test_flow_control);
  CU_add_test(s, "stream window above the connection window",
              test_window_above_connection);
  CU_add_test(s, "1000 streams on one connection", test_thousand_streams);
  CU_add_test(s, "timeout, refused, cancel", test_timeout_refused_cancel);
  CU_add_test(s, "TLS verification", test_tls);
  CU_add_test(s, "PING liveness", test_ping_liveness);
  CU_add_test(s, "a silent peer, a peer that is not HTTP/2", test_not_h2_peers);
  CU_add_test(s, "kinesis-local over h2c", test_kinesis_local);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  event_base_free(base);
  return failures ? 1 : 0;
}
