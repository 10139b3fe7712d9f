/*
 * TLS set-up shared by both HTTP clients: an OpenSSL context that verifies
 * certificates against the system store (plus an optional CA file), and
 * per-connection objects with SNI and host name verification on. There is
 * no switch to turn verification off.
 */
#ifndef KEFO_TLS_H
#define KEFO_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

/*
 * Creates a client context: TLS 1.2 or later, peer verification against
 * the default trust store (loaded by the first kefo__tls_new_ssl) and
 * |ca_file| when not NULL, ALPN offering "h2" when |alpn_h2| is non-zero
 * (else "http/1.1").
 *
 * Returns 0 or KEFO_ERR_TLS (with the reason in |err|, |errlen| bytes,
 * e.g. the CA file cannot be read) or KEFO_ERR_NOMEM.
 */
int kefo__tls_ctx_new(SSL_CTX **out, const char *ca_file, int alpn_h2,
                      char *err, size_t errlen);

/*
 * Returns |*ctx|, first made (as kefo__tls_ctx_new without a CA file)
 * when it is NULL, in which case |*made| is set and the caller frees it;
 * NULL when it cannot be made. A client given no context makes its own
 * so at its first TLS connection: two contexts cost 2 ms of CPU, a tenth
 * of kefo-reader's start, for nothing when every endpoint is plain HTTP
 * (the emulators).
 */
SSL_CTX *kefo__tls_ctx_get(SSL_CTX **ctx, int alpn_h2, int *made);

/*
 * Creates a connection's SSL for |host|: SNI (unless |host| is an IP
 * address) and host name or IP address verification. The first one of
 * |ctx| loads the system trust store into it.
 *
 * Returns the SSL, or NULL when out of memory.
 */
SSL *kefo__tls_new_ssl(SSL_CTX *ctx, const char *host);

/*
 * Writes why the handshake on |ssl| failed into |out|: the certificate
 * verification result when that is the cause ("certificate verify failed:
 * unable to get local issuer certificate", "... Hostname mismatch"), else
 * the first OpenSSL error queued, which it clears. |ssl| may be NULL.
 */
void kefo__tls_describe_error(SSL *ssl, char *out, size_t outlen);

/* Returns 1 when ALPN on |ssl| chose "h2". */
int kefo__tls_alpn_is_h2(SSL *ssl);

#endif /* KEFO_TLS_H */
