/*
 * HTTP/2 client over nghttp2 and libevent bufferevents (OpenSSL for https,
 * h2c with prior knowledge for http), a pool of connections multiplexing
 * many streams each, behind the kefo_http_* request interface (Kinesis).
 */
#ifndef KEFO_H2_CLIENT_H
#define KEFO_H2_CLIENT_H

#include <openssl/ssl.h>

#include "aws/http.h"

typedef struct kefo_h2_client kefo_h2_client;

/*
 * Creates a client on |base|. |tls_ctx| (from kefo__tls_ctx_new with ALPN
 * h2; not owned, must outlive the client) serves https endpoints; NULL:
 * the client makes one (the system trust store) at its first TLS
 * connection.
 *
 * Returns 0 or KEFO_ERR_NOMEM.
 */
int kefo__h2_client_new(kefo_h2_client **out, struct event_base *base,
                        const kefo_http_client_options *opts, SSL_CTX *tls_ctx);

/* Closes every connection; requests in flight get no more callbacks. */
void kefo__h2_client_del(kefo_h2_client *client);

/* As kefo__http_client_request, for an HTTP/2 request. */
int kefo__h2_client_request(kefo_h2_client *client,
                            const kefo_http_request *req,
                            const kefo_http_callbacks *cb, void *user_data,
                            kefo_http_stream **out);

/* As kefo__http_client_wait_ms: the reconnect backoff left for |ep|. */
int64_t kefo__h2_client_wait_ms(kefo_h2_client *client,
                                const kefo_endpoint *ep);

/* Returns how many connections the client holds (tests, stats). */
size_t kefo__h2_client_connections(const kefo_h2_client *client);

/* Returns how many streams its connections carry (submitted or waiting
   to be): the metrics' kefo_http2_streams. */
size_t kefo__h2_client_streams(const kefo_h2_client *client);

#endif /* KEFO_H2_CLIENT_H */
