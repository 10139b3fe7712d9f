/*
 * kefo-reader's metrics endpoint. The socket is made here rather than by
 * evhttp_bind_socket so that a bad address and a port in use each get
 * their own message (evhttp's bind only says that it failed), and so
 * that port 0 can be reported as the port the kernel chose.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/util.h>

#include "tools/reader_metrics.h"

struct reader_metrics {
  kefo_consumer *c;
  struct evhttp *http;
  char address[80];
};

/* 1 while the consumer runs and none of its shards failed. */
static int healthy(kefo_consumer *c) {
  kefo_stats st;
  size_t i;

  if (kefo_consumer_stopped(c) || kefo_consumer_stats(c, &st) != 0) {
    return 0;
  }
  for (i = 0; i < st.nshards; ++i) {
    if (st.shards[i].state == KEFO_SHARD_STATE_FAILED ||
        st.shards[i].state == KEFO_SHARD_STATE_STOPPED) {
      return 0;
    }
  }
  return 1;
}

static void reply(struct evhttp_request *req, int code, const char *reason,
                  const char *type, const char *body, size_t len) {
  struct evbuffer *b = evbuffer_new();

  evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                    type);
  if (b && evbuffer_add(b, body, len) == 0) {
    evhttp_send_reply(req, code, reason, b);
  } else {
    evhttp_send_error(req, HTTP_INTERNAL, NULL);
  }
  if (b) {
    evbuffer_free(b);
  }
}

static void on_request(struct evhttp_request *req, void *arg) {
  reader_metrics *m = arg;
  const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
  const char *text;
  size_t len;

  if (path && strcmp(path, "/metrics") == 0) {
    if (kefo_consumer_metrics(m->c, &text, &len) != 0) {
      evhttp_send_error(req, HTTP_SERVUNAVAIL, "out of memory");
      return;
    }
    reply(req, HTTP_OK, "OK", KEFO_METRICS_CONTENT_TYPE, text, len);
  } else if (path && strcmp(path, "/healthz") == 0) {
    if (healthy(m->c)) {
      reply(req, HTTP_OK, "OK", "text/plain; charset=utf-8", "ok\n", 3);
    } else {
      reply(req, HTTP_SERVUNAVAIL, "Service Unavailable",
            "text/plain; charset=utf-8", "unhealthy\n", 10);
    }
  } else {
    evhttp_send_error(req, HTTP_NOTFOUND, NULL);
  }
}

/* A listening socket on |sa|. Returns it, or -1 with |err| filled. */
static evutil_socket_t listen_on(const struct sockaddr *sa, socklen_t salen,
                                 const char *what, char *err, size_t errlen) {
  evutil_socket_t fd = socket(sa->sa_family, SOCK_STREAM, 0);
  int one = 1;

  if (fd < 0) {
    snprintf(err, errlen, "cannot listen on %s: %s", what, strerror(errno));
    return -1;
  }
  /* SO_REUSEADDR (as every server): a restart need not wait out
     TIME_WAIT; a port another socket listens on is still refused. */
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
      bind(fd, sa, salen) != 0 || listen(fd, 64) != 0 ||
      evutil_make_socket_nonblocking(fd) != 0 ||
      evutil_make_socket_closeonexec(fd) != 0) {
    snprintf(err, errlen, "cannot listen on %s: %s%s", what, strerror(errno),
             errno == EADDRINUSE ? " (another program has the port)" : "");
    close(fd);
    return -1;
  }
  return fd;
}

/* Writes "addr:port" of |fd|'s bound address into |m|. */
static void name_address(reader_metrics *m, evutil_socket_t fd) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  char host[INET6_ADDRSTRLEN] = "?";
  int port = 0;

  if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
    if (ss.ss_family == AF_INET6) {
      struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
      evutil_inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
      port = ntohs(s6->sin6_port);
    } else {
      struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
      evutil_inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
      port = ntohs(s4->sin_port);
    }
  }
  snprintf(m->address, sizeof(m->address),
           ss.ss_family == AF_INET6 ? "[%s]:%d" : "%s:%d", host, port);
}

/* "1.2.3.4:P" or "[::1]:P" into |ss|. Returns 0 or -1. (libevent's
   evutil_parse_sockaddr_port refuses port 0, which tests use.) */
static int parse_address(const char *s, struct sockaddr_storage *ss,
                         socklen_t *len) {
  const char *colon = strrchr(s, ':');
  char host[INET6_ADDRSTRLEN + 2], *end;
  size_t hlen = colon ? (size_t)(colon - s) : 0;
  long port;

  memset(ss, 0, sizeof(*ss));
  if (colon == NULL || hlen == 0 || hlen >= sizeof(host) || colon[1] < '0' ||
      colon[1] > '9') {
    return -1;
  }
  port = strtol(colon + 1, &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) {
    return -1;
  }
  if (s[0] == '[' && s[hlen - 1] == ']') {
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
    memcpy(host, s + 1, hlen - 2);
    host[hlen - 2] = '\0';
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons((uint16_t)port);
    *len = sizeof(*s6);
    return evutil_inet_pton(AF_INET6, host, &s6->sin6_addr) == 1 ? 0 : -1;
  } else {
    struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    s4->sin_family = AF_INET;
    s4->sin_port = htons((uint16_t)port);
    *len = sizeof(*s4);
    return evutil_inet_pton(AF_INET, host, &s4->sin_addr) == 1 ? 0 : -1;
  }
}

int reader_metrics_start(reader_metrics **out, struct event_base *base,
                         kefo_consumer *c, const char *addr_port, char *err,
                         size_t errlen) {
  struct sockaddr_storage ss;
  socklen_t sslen;
  evutil_socket_t fd;
  reader_metrics *m;

  /* A numeric address and a port, both required: a host name could
     resolve to several addresses, and "only the given address" would
     mean none of them in particular. */
  if (parse_address(addr_port, &ss, &sslen) != 0) {
    snprintf(err, errlen,
             "--metrics-listen %s: not ADDRESS:PORT with a numeric address "
             "and a port from 0 to 65535 (such as 127.0.0.1:9464 or "
             "[::1]:9464)",
             addr_port);
    return -1;
  }
  fd = listen_on((struct sockaddr *)&ss, sslen, addr_port, err, errlen);
  if (fd < 0) {
    return -2;
  }
  m = calloc(1, sizeof(*m));
  if (m == NULL || (m->http = evhttp_new(base)) == NULL ||
      evhttp_accept_socket_with_handle(m->http, fd) == NULL) {
    snprintf(err, errlen, "cannot serve metrics on %s", addr_port);
    if (m && m->http) {
      evhttp_free(m->http);
    }
    free(m);
    close(fd);
    return -2;
  }
  m->c = c;
  evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
  evhttp_set_timeout(m->http, 10);
  evhttp_set_max_headers_size(m->http, 16384);
  evhttp_set_max_body_size(m->http, 0);
  evhttp_set_gencb(m->http, on_request, m);
  name_address(m, fd);
  *out = m;
  return 0;
}

const char *reader_metrics_address(const reader_metrics *m) {
  return m->address;
}

void reader_metrics_free(reader_metrics *m) {
  if (m == NULL) {
    return;
  }
  evhttp_free(m->http); /* closes the listening socket too */
  free(m);
}
