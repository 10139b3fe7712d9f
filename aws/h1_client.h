/*
 * HTTP/1.1 client over libevent's evhttp (bufferevent_openssl for https),
 * behind the kefo_http_* request interface: DynamoDB, STS and the metadata
 * endpoints speak HTTP/1.1.
 */
#ifndef KEFO_H1_CLIENT_H
#define KEFO_H1_CLIENT_H

#include <openssl/ssl.h>

#include "aws/http.h"

typedef struct kefo_h1_client kefo_h1_client;

/*
 * Creates a client on |base|. |tls_ctx| (from kefo__tls_ctx_new with ALPN
 * http/1.1; not owned, must outlive the client) serves https endpoints;
 * NULL: the client makes one (the system trust store) at its first TLS
 * connection.
 *
 * Returns 0 or KEFO_ERR_NOMEM.
 */
int kefo__h1_client_new(kefo_h1_client **out, struct event_base *base,
                        const kefo_http_client_options *opts, SSL_CTX *tls_ctx);

/* Closes every connection; requests in flight get no more callbacks. */
void kefo__h1_client_del(kefo_h1_client *client);

/* As kefo__http_client_request, for an HTTP/1.1 request. */
int kefo__h1_client_request(kefo_h1_client *client,
                            const kefo_http_request *req,
                            const kefo_http_callbacks *cb, void *user_data,
                            kefo_http_stream **out);

#endif /* KEFO_H1_CLIENT_H */
