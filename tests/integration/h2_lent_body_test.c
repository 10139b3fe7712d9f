/*
 * A lent request body goes to the connection's output by reference, not
 * copied: these tests check that none of its bytes are read from the
 * owner's memory once the owner has it back. The peer is a raw HTTP/2
 * server written here (a fault no real server makes on demand): it opens
 * the windows, reads a few bytes and then nothing, so that the client's
 * output holds references; then it answers early (a complete response
 * and RST_STREAM NO_ERROR, RFC 9113 section 8.1) or the client cancels.
 * The owner overwrites its body with 'X' at once; everything the server
 * then reads must still be the body's 'A's. In the last case the server
 * reads the whole body before it answers: the owner is told the body is
 * sent (on_body_sent) before the answer, overwrites it then, and the
 * server still reads nothing but 'A's.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <CUnit/Basic.h>
#include <event2/event.h>

#include "aws/h2_client.h"
#include "aws/h2_client_internal.h"
#include "aws/tls.h"

#define BODY_LEN (16u << 20)

static struct event_base *base;

/* kefo's allocator, failing every block of 64 KiB or more while set:
   the copy of a backed-up output is such a block. */
static int fail_big;

static void *t_malloc(size_t n, void *ud) {
  (void)ud;
  return fail_big && n >= 65536 ? NULL : malloc(n);
}

static void t_free(void *p, void *ud) {
  (void)ud;
  free(p);
}

static void *t_calloc(size_t m, size_t n, void *ud) {
  (void)ud;
  return fail_big && m * n >= 65536 ? NULL : calloc(m, n);
}

static void *t_realloc(void *p, size_t n, void *ud) {
  (void)ud;
  return fail_big && n >= 65536 ? NULL : realloc(p, n);
}

static const kefo_mem t_mem = {NULL, t_malloc, t_free, t_calloc, t_realloc};

typedef struct peer {
  int lfd, fd;
  int early; /* 1: answer before reading the body; 3: after all of it */
  int go[2]; /* main -> peer: 1st byte: answer/cancel done; 2nd: drain */
  size_t a_bytes, longest_x;
  size_t read_total;
} peer;

typedef struct call {
  int closed, error, status;
  /* on_body_sent: how many times, and how many before on_close. */
  int sent, sent_open;
  int refuse;    /* on_response refuses the answer */
  uint8_t *body; /* the owner's: overwritten as soon as it is back */
} call;

static void put_frame(int fd, uint32_t len, uint8_t type, uint8_t flags,
                      uint32_t stream, const uint8_t *payload) {
  uint8_t h[9 + 64];

  h[0] = (uint8_t)(len >> 16);
  h[1] = (uint8_t)(len >> 8);
  h[2] = (uint8_t)len;
  h[3] = type;
  h[4] = flags;
  h[5] = (uint8_t)(stream >> 24);
  h[6] = (uint8_t)(stream >> 16);
  h[7] = (uint8_t)(stream >> 8);
  h[8] = (uint8_t)stream;
  if (len > 0) {
    memcpy(h + 9, payload, len);
  }
  if (write(fd, h, 9 + len) != (ssize_t)(9 + len)) {
    perror("h2_lent_body_test: peer write");
  }
}

static void wait_go(peer *p) {
  char b;

  if (read(p->go[0], &b, 1) != 1) {
    perror("h2_lent_body_test: peer go");
  }
}

/* Reads until the client has been quiet for half a second, counting the
   body's bytes and the longest run of the owner's 'X'. */
static void drain(peer *p) {
  uint8_t buf[65536];
  size_t run = 0;
  struct pollfd pfd = {p->fd, POLLIN, 0};

  while (poll(&pfd, 1, 500) > 0) {
    ssize_t n = read(p->fd, buf, sizeof(buf));
    ssize_t i;

    if (n <= 0) {
      break;
    }
    p->read_total += (size_t)n;
    for (i = 0; i < n; ++i) {
      if (buf[i] == 'X') {
        if (++run > p->longest_x) {
          p->longest_x = run;
        }
      } else {
        run = 0;
        p->a_bytes += buf[i] == 'A';
      }
    }
  }
}

static void *peer_main(void *arg) {
  peer *p = arg;
  uint8_t buf[4096];
  /* INITIAL_WINDOW_SIZE 2^31-1; the connection's window lifted to it. */
  const uint8_t settings[6] = {0, 4, 0x7f, 0xff, 0xff, 0xff};
  const uint8_t window[4] = {0x7f, 0xff, 0x00, 0x00};
  /* :status 200, the static table's 8th entry. */
  const uint8_t status_200[1] = {0x88};
  const uint8_t no_error[4] = {0, 0, 0, 0};
  ssize_t n;

  p->fd = accept(p->lfd, NULL, NULL);
  if (p->fd < 0) {
    return NULL;
  }
  n = read(p->fd, buf, sizeof(buf));
  if (n <= 0) {
    return NULL;
  }
  p->read_total += (size_t)n;
  put_frame(p->fd, 6, 4, 0, 0, settings);
  put_frame(p->fd, 0, 4, 1, 0, NULL); /* the client's SETTINGS, acked */
  put_frame(p->fd, 4, 8, 0, 0, window);
  if (p->early == 3) {
    drain(p); /* the whole body, then the answer */
    put_frame(p->fd, 1, 1, 0x5, 1, status_200);
    wait_go(p);
    drain(p);
    close(p->fd);
    return NULL;
  }
  wait_go(p);
  if (p->early) {
    put_frame(p->fd, 1, 1, 0x5, 1, status_200); /* END_STREAM|END_HEADERS */
    put_frame(p->fd, 4, 3, 0, 1, no_error);
  }
  wait_go(p);
  drain(p);
  close(p->fd);
  return NULL;
}

static int peer_start(peer *p, int early, pthread_t *t) {
  struct sockaddr_in a;
  socklen_t alen = sizeof(a);
  int small = 4096;

  memset(p, 0, sizeof(*p));
  p->early = early;
  p->lfd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* A small receive buffer, so that the client's output backs up. */
  if (p->lfd < 0 ||
      setsockopt(p->lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) != 0 ||
      bind(p->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
      listen(p->lfd, 1) != 0 ||
      getsockname(p->lfd, (struct sockaddr *)&a, &alen) != 0 ||
      pipe(p->go) != 0 || pthread_create(t, NULL, peer_main, p) != 0) {
    return -1;
  }
  return ntohs(a.sin_port);
}

static void go(peer *p) {
  if (write(p->go[1], "g", 1) != 1) {
    perror("h2_lent_body_test: go");
  }
}

static int on_response(kefo_http_stream *s, int status,
                       const kefo_http_header *h, size_t n, void *ud) {
  call *c = ud;

  (void)s;
  (void)h;
  (void)n;
  c->status = status;
  return c->refuse;
}

static int on_data(kefo_http_stream *s, const uint8_t *data, size_t len,
                   void *ud) {
  (void)s;
  (void)data;
  (void)len;
  (void)ud;
  return 0;
}

static void on_close(kefo_http_stream *s, int error,
                     const kefo_error_info *info, void *ud) {
  call *c = ud;

  (void)s;
  (void)info;
  c->closed = 1;
  c->error = error;
  memset(c->body, 'X', BODY_LEN); /* the owner has its body back */
}

static void on_body_sent(kefo_http_stream *s, void *ud) {
  call *c = ud;

  (void)s;
  ++c->sent;
  c->sent_open += !c->closed;
  memset(c->body, 'X', BODY_LEN); /* the owner reuses its body at once */
}

static const kefo_http_callbacks callbacks = {on_response, on_data, on_close,
                                              on_body_sent};

static void run_for(int ms) {
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

  event_base_loopexit(base, &tv);
  event_base_dispatch(base);
}

/* A client of its own POSTing a BODY_LEN body of 'A's, lent, to the
   peer on |port| (|ep| is the caller's, for the client's life), with |c|
   for its callbacks. */
static kefo_h2_client *post_body(int port, kefo_endpoint *ep, call *c,
                                 kefo_http_stream **stream) {
  kefo_http_client_options o;
  kefo_h2_client *cl = NULL;
  kefo_http_request r;
  char url[64];

  c->body = malloc(BODY_LEN);
  CU_ASSERT_FATAL(c->body != NULL);
  memset(c->body, 'A', BODY_LEN);
  kefo__http_client_options_init(&o);
  o.mem = &t_mem;
  CU_ASSERT_EQUAL_FATAL(kefo__h2_client_new(&cl, base, &o, NULL), 0);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
  CU_ASSERT_EQUAL_FATAL(kefo__endpoint_parse(ep, url), 0);
  memset(&r, 0, sizeof(r));
  r.endpoint = ep;
  r.version = KEFO_HTTP_2;
  r.method = "POST";
  r.path = "/";
  r.body = c->body;
  r.body_len = BODY_LEN;
  r.body_lent = 1;
  CU_ASSERT_EQUAL_FATAL(kefo__h2_client_request(cl, &r, &callbacks, c, stream),
                        0);
  return cl;
}

/* The peer reads the whole body, then answers: the owner is told the
   body is sent before the answer, and overwrites it then. */
static void test_sent(void) {
  peer p;
  pthread_t t;
  int port = peer_start(&p, 3, &t);
  kefo_h2_client *cl;
  kefo_http_stream *stream = NULL;
  kefo_endpoint ep;
  call c;
  int i;

  CU_ASSERT_FATAL(port > 0);
  memset(&c, 0, sizeof(c));
  cl = post_body(port, &ep, &c, &stream);
  for (i = 0; i < 1000 && !c.closed; ++i) {
    run_for(10);
  }
  go(&p);
  run_for(700);
  pthread_join(t, NULL);
  printf("\nh2 lent body (sent): told %d time(s), %d before the answer; the "
         "peer read %zu bytes, %zu of them 'A', the longest run of 'X' %zu\n",
         c.sent, c.sent_open, p.read_total, p.a_bytes, p.longest_x);
  CU_ASSERT_EQUAL(c.closed, 1);
  CU_ASSERT_EQUAL(c.status, 200);
  CU_ASSERT_EQUAL(c.sent, 1);
  CU_ASSERT_EQUAL(c.sent_open, 1);
  CU_ASSERT(p.a_bytes >= BODY_LEN);
  CU_ASSERT_EQUAL(p.longest_x, 0);
  kefo__h2_client_del(cl);
  close(p.lfd);
  close(p.go[0]);
  close(p.go[1]);
  free(c.body);
}

/* early: 1 the peer answers early; 0 the owner cancels; 2 it cancels
   with no memory to copy the output. */
static void run_case(int early) {
  peer p;
  pthread_t t;
  int port = peer_start(&p, early == 1 || early == 4, &t);
  const char *what = early == 1   ? "early answer"
                     : early == 4 ? "early answer refused"
                     : early == 0 ? "cancel"
                                  : "cancel, out of memory";
  kefo_h2_client *cl;
  kefo_http_stream *stream = NULL;
  kefo_endpoint ep;
  call c;
  size_t pending;
  int i;

  CU_ASSERT_FATAL(port > 0);
  memset(&c, 0, sizeof(c));
  c.refuse = early == 4;
  cl = post_body(port, &ep, &c, &stream);
  /* Until the kernel's buffers are full and the output holds pieces of
     the body by reference: without that the case tests nothing. */
  for (i = 0; i < 100 && ((h2_stream *)stream)->out_refs == 0; ++i) {
    run_for(20);
  }
  run_for(200);
  pending = ((h2_stream *)stream)->out_refs;
  printf("\nh2 lent body (%s): %zu pieces of it in the output by reference\n",
         what, pending);
  CU_ASSERT(pending > 0);
  if (early == 1 || early == 4) {
    go(&p);
    for (i = 0; i < 300 && !c.closed; ++i) {
      run_for(10);
    }
    CU_ASSERT_EQUAL(c.closed, 1);
    CU_ASSERT_EQUAL(c.status, 200);
  } else {
    fail_big = early == 2;
    kefo__http_stream_cancel(stream);
    fail_big = 0;
    memset(c.body, 'X', BODY_LEN);
    go(&p);
    /* Out of memory the output was dropped: the connection must go (its
       frames were cut), never send on; otherwise it stays. */
    run_for(100);
    CU_ASSERT_EQUAL(kefo__h2_client_connections(cl), early == 2 ? 0u : 1u);
    CU_ASSERT_EQUAL(c.sent, 0); /* never after a cancel */
  }
  go(&p); /* the peer reads everything now */
  run_for(1500);
  pthread_join(t, NULL);

  printf("h2 lent body (%s): the peer read %zu bytes, %zu of them 'A', the "
         "longest run of 'X' %zu\n",
         what, p.read_total, p.a_bytes, p.longest_x);
  CU_ASSERT(p.a_bytes > 0);
  CU_ASSERT(p.longest_x < 16);
  kefo__h2_client_del(cl);
  close(p.lfd);
  close(p.go[0]);
  close(p.go[1]);
  free(c.body);
}

static void test_early_answer(void) {
  run_case(1);
}

/* The owner refuses the early answer (on_response non-zero): it has its
   body back at that on_close, as at any other. */
static void test_early_answer_refused(void) {
  run_case(4);
}

static void test_cancel(void) {
  run_case(0);
}

static void test_cancel_nomem(void) {
  run_case(2);
}

int main(void) {
  CU_pSuite s;
  unsigned failures;

  base = event_base_new();
  if (CU_initialize_registry() != CUE_SUCCESS) {
    return 1;
  }
  s = CU_add_suite("h2_lent_body", NULL, NULL);
  CU_add_test(s, "an early answer while the body is referred to",
              test_early_answer);
  CU_add_test(s, "an early answer refused while the body is referred to",
              test_early_answer_refused);
  CU_add_test(s, "a cancel while the body is referred to", test_cancel);
  CU_add_test(s, "the same with no memory to copy the output",
              test_cancel_nomem);
  CU_add_test(s, "the owner told once the body is sent, before the answer",
              test_sent);
  CU_basic_set_mode(CU_BRM_VERBOSE);
  CU_basic_run_tests();
  failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  event_base_free(base);
  return failures ? 1 : 0;
}
