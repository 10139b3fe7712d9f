/*
 * OpenSSL contexts for kefo's clients. Verification is always on: the
 * only way to reach a server with a private certificate is to trust its CA
 * (kefo_http_client_options.ca_file), as the tests do.
 */
#include "aws/tls.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <kefo/kefo.h>

/* A context's app data while the system trust store is still to be
   loaded (see kefo__tls_new_ssl). */
static char store_pending;

static const unsigned char alpn_h2[] = "\x02h2";
static const unsigned char alpn_h1[] = "\x08http/1.1";

int kefo__tls_ctx_new(SSL_CTX **out, const char *ca_file, int want_h2,
                      char *err, size_t errlen) {
  SSL_CTX *ctx;

  *out = NULL;
  ctx = SSL_CTX_new(TLS_client_method());
  if (ctx == NULL) {
    snprintf(err, errlen, "cannot create a TLS context");
    return KEFO_ERR_NOMEM;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  /* HTTP/2 forbids renegotiation and compression (RFC 9113, 9.2). */
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
  /* The system trust store is loaded at the first TLS connection, not
     here: parsing Debian's bundle of 140-odd certificates took 0.12 s of
     CPU for each of the two contexts, a fifth of kefo-reader's whole run
     over 20,000 records of a plain-HTTP emulator that never uses TLS. */
  SSL_CTX_set_app_data(ctx, &store_pending);
  if (ca_file != NULL &&
      SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
    unsigned long e = ERR_get_error();
    snprintf(err, errlen, "cannot load CA file %s: %s", ca_file,
             e ? ERR_reason_error_string(e) : "unknown reason");
    ERR_clear_error();
    goto fail;
  }
  if (want_h2) {
    SSL_CTX_set_alpn_protos(ctx, alpn_h2, sizeof(alpn_h2) - 1);
  } else {
    SSL_CTX_set_alpn_protos(ctx, alpn_h1, sizeof(alpn_h1) - 1);
  }
  *out = ctx;
  return 0;

fail:
  SSL_CTX_free(ctx);
  return KEFO_ERR_TLS;
}

static int is_ip_address(const char *host) {
  ASN1_OCTET_STRING *ip = a2i_IPADDRESS(host);

  if (ip == NULL) {
    return 0;
  }
  ASN1_OCTET_STRING_free(ip);
  return 1;
}

SSL_CTX *kefo__tls_ctx_get(SSL_CTX **ctx, int want_h2, int *made) {
  char err[256];

  if (*ctx == NULL &&
      kefo__tls_ctx_new(ctx, NULL, want_h2, err, sizeof(err)) == 0) {
    *made = 1;
  }
  return *ctx;
}

SSL *kefo__tls_new_ssl(SSL_CTX *ctx, const char *host) {
  SSL *ssl;

  if (SSL_CTX_get_app_data(ctx) == &store_pending) {
    /* A store that cannot be loaded fails each handshake instead, with
       the verification error ("unable to get local issuer
       certificate") naming why. */
    SSL_CTX_set_app_data(ctx, NULL);
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      ERR_clear_error();
    }
  }
  ssl = SSL_new(ctx);
  if (ssl == NULL) {
    return NULL;
  }
  /* A write that must be retried may find its bytes moved: the HTTP/2
     client copies a lent body's bytes out of the output before the body
     goes back to its owner (h2_connection.c own_output). */
  SSL_set_mode(ssl, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  if (is_ip_address(host)) {
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host) != 1) {
      SSL_free(ssl);
      return NULL;
    }
  } else {
    /* SNI, and the name the certificate must carry. */
    if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
        SSL_set1_host(ssl, host) != 1) {
      SSL_free(ssl);
      return NULL;
    }
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  }
  return ssl;
}

void kefo__tls_describe_error(SSL *ssl, char *out, size_t outlen) {
  unsigned long e;
  long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;

  if (vr != X509_V_OK) {
    snprintf(out, outlen, "certificate verify failed: %s",
             X509_verify_cert_error_string(vr));
    ERR_clear_error();
    return;
  }
  e = ERR_get_error();
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    snprintf(out, outlen, "%s", buf);
  } else {
    snprintf(out, outlen, "connection closed during the TLS handshake");
  }
  ERR_clear_error();
}

int kefo__tls_alpn_is_h2(SSL *ssl) {
  const unsigned char *p = NULL;
  unsigned int n = 0;

  SSL_get0_alpn_selected(ssl, &p, &n);
  return n == 2 && memcmp(p, "h2", 2) == 0;
}
