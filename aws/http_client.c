/*
 * The HTTP client front: endpoint parsing, and dispatch of each request to
 * the HTTP/2 or HTTP/1.1 pool by the version it asks for. The TLS contexts
 * (one offering ALPN h2, one http/1.1) are shared by each pool's
 * connections.
 */
#include "aws/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/h1_client.h"
#include "aws/h2_client.h"
#include "aws/tls.h"

struct kefo_http_client {
  const kefo_mem *mem;
  SSL_CTX *tls_h2;
  SSL_CTX *tls_h1;
  kefo_h2_client *h2;
  kefo_h1_client *h1;
};

void kefo__http_client_options_init(kefo_http_client_options *opts) {
  memset(opts, 0, sizeof(*opts));
}

int kefo__endpoint_parse(kefo_endpoint *ep, const char *url) {
  const char *p, *host, *host_end, *port_s = NULL;
  size_t hlen;
  unsigned long port;

  if (url == NULL) {
    return KEFO_ERR_CONFIG;
  }
  memset(ep, 0, sizeof(*ep));
  if (strncmp(url, "https://", 8) == 0) {
    ep->tls = 1;
    p = url + 8;
  } else if (strncmp(url, "http://", 7) == 0) {
    p = url + 7;
  } else {
    return KEFO_ERR_CONFIG;
  }
  host = p;
  if (*p == '[') {
    /* Bracketed IPv6 literal. */
    host_end = strchr(p, ']');
    if (host_end == NULL) {
      return KEFO_ERR_CONFIG;
    }
    ++host;
    p = host_end + 1;
  } else {
    while (*p && *p != ':' && *p != '/') {
      char c = *p;
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_')) {
        return KEFO_ERR_CONFIG;
      }
      ++p;
    }
    host_end = p;
  }
  hlen = (size_t)(host_end - host);
  if (hlen == 0 || hlen >= sizeof(ep->host)) {
    return KEFO_ERR_CONFIG;
  }
  memcpy(ep->host, host, hlen);
  ep->host[hlen] = '\0';
  port = ep->tls ? 443 : 80;
  if (*p == ':') {
    char *end;
    port_s = ++p;
    if (*p < '0' || *p > '9') {
      return KEFO_ERR_CONFIG;
    }
    port = strtoul(p, &end, 10);
    if (port == 0 || port > 65535) {
      return KEFO_ERR_CONFIG;
    }
    p = end;
  }
  if (*p == '/') {
    ++p;
  }
  if (*p != '\0') {
    return KEFO_ERR_CONFIG;
  }
  ep->port = (uint16_t)port;
  if (port_s == NULL || port == (ep->tls ? 443u : 80u)) {
    snprintf(ep->authority, sizeof(ep->authority),
             host != url && host[-1] == '[' ? "[%s]" : "%s", ep->host);
  } else {
    snprintf(ep->authority, sizeof(ep->authority),
             host[-1] == '[' ? "[%s]:%u" : "%s:%u", ep->host, (unsigned)port);
  }
  return 0;
}

int kefo__http_client_new(kefo_http_client **out, struct event_base *base,
                          const kefo_http_client_options *opts) {
  kefo_http_client_options defaults;
  kefo_http_client *c;
  char err[512];
  int rv;

  if (out == NULL || base == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (opts == NULL) {
    kefo__http_client_options_init(&defaults);
    opts = &defaults;
  }
  c = kefo__mem_calloc(kefo__mem_or_default(opts->mem), 1, sizeof(*c));
  if (c == NULL) {
    return KEFO_ERR_NOMEM;
  }
  c->mem = kefo__mem_or_default(opts->mem);
  /* With a CA file the contexts are made now, so that a file that cannot
     be read is refused at once; without, each client makes its own at
     its first TLS connection, and a reader of a plain-HTTP endpoint never
     does (kefo__tls_ctx_get). */
  if (opts->ca_file != NULL) {
    rv = kefo__tls_ctx_new(&c->tls_h2, opts->ca_file, 1, err, sizeof(err));
    if (rv != 0) {
      goto fail;
    }
    rv = kefo__tls_ctx_new(&c->tls_h1, opts->ca_file, 0, err, sizeof(err));
    if (rv != 0) {
      goto fail;
    }
  }
  rv = kefo__h2_client_new(&c->h2, base, opts, c->tls_h2);
  if (rv != 0) {
    goto fail;
  }
  rv = kefo__h1_client_new(&c->h1, base, opts, c->tls_h1);
  if (rv != 0) {
    goto fail;
  }
  *out = c;
  return 0;

fail:
  kefo__http_client_del(c);
  return rv;
}

void kefo__http_client_del(kefo_http_client *c) {
  if (c == NULL) {
    return;
  }
  kefo__h2_client_del(c->h2);
  kefo__h1_client_del(c->h1);
  SSL_CTX_free(c->tls_h2);
  SSL_CTX_free(c->tls_h1);
  kefo__mem_free(c->mem, c);
}

int kefo__http_client_request(kefo_http_client *c, const kefo_http_request *req,
                              const kefo_http_callbacks *cb, void *user_data,
                              kefo_http_stream **out) {
  if (c == NULL || req == NULL || cb == NULL || cb->on_close == NULL ||
      req->endpoint == NULL || req->method == NULL || req->path == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  switch (req->version) {
  case KEFO_HTTP_2:
    return kefo__h2_client_request(c->h2, req, cb, user_data, out);
  case KEFO_HTTP_1_1:
    return kefo__h1_client_request(c->h1, req, cb, user_data, out);
  default:
    return KEFO_ERR_INVALID_ARGUMENT;
  }
}

int64_t kefo__http_client_wait_ms(kefo_http_client *c, const kefo_endpoint *ep,
                                  kefo_http_version version) {
  if (c == NULL || ep == NULL || version != KEFO_HTTP_2) {
    return 0; /* HTTP/1.1 connects at once */
  }
  return kefo__h2_client_wait_ms(c->h2, ep);
}

void kefo__http_stream_consume(kefo_http_stream *stream, size_t n) {
  if (stream != NULL && n > 0) {
    stream->ops->consume(stream, n);
  }
}

void kefo__http_stream_prefetch(kefo_http_stream *stream,
                                const void *const *addrs, size_t n) {
  if (stream != NULL && stream->ops->prefetch != NULL) {
    stream->ops->prefetch(stream, addrs, n);
  }
}

void kefo__http_stream_cancel(kefo_http_stream *stream) {
  if (stream != NULL) {
    stream->ops->cancel(stream);
  }
}

void kefo__http_client_h2_counts(const kefo_http_client *client,
                                 size_t *connections, size_t *streams) {
  *connections = client->h2 ? kefo__h2_client_connections(client->h2) : 0;
  *streams = client->h2 ? kefo__h2_client_streams(client->h2) : 0;
}
