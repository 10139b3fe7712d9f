/*
 * The SigV4 signer's insides (aws/sigv4.h is its interface), shared by
 * sigv4.c (the signed output), sigv4_canonical.c (the canonical request) and
 * sigv4_signing.c (string to sign, signing key, signature). What is built is
 * built in kefo_buf storage from the caller's allocator.
 * Private to aws/sigv4*.c.
 */
#ifndef KEFO_SIGV4_INTERNAL_H
#define KEFO_SIGV4_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "aws/sigv4.h"
#include "base/buf.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define MAX_SCOPE_PART_LEN 63
/* "YYYYMMDD/" region "/" service "/aws4_request" and a NUL. */
#define SCOPE_MAX (9 + MAX_SCOPE_PART_LEN + 1 + MAX_SCOPE_PART_LEN + 13 + 1)

/* The parts of the credential scope, worked out once from the params. */
typedef struct scope {
  char amz_date[KEFO_SIGV4_DATE_LEN + 1];
  /* "YYYYMMDD/region/service/aws4_request" */
  char scope[SCOPE_MAX];
  /* "AKID/" and the scope; filled only once the credentials are checked. */
  char credential[KEFO_SIGV4_CREDENTIAL_MAX];
} scope;

/* What the canonical request is built from, so kefo__sigv4_sign can reuse
   the signed headers list and the X-Amz-* parameters for its output. */
typedef struct sign_ctx {
  scope sc;
  const char *payload_hash;
  char body_hash[KEFO_SIGV4_HEX_LEN + 1];
  const char *token;
  /* "name:value\n" for each signed header, sorted. */
  kefo_buf headers;
  /* "host;x-amz-date". */
  kefo_buf signed_headers;
  /* Query signing: the signed X-Amz-* parameters, encoded as sent. */
  kefo_buf xquery;
} sign_ctx;

static inline int is_alnum(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9');
}

static inline const char *session_token(const kefo_sigv4_params *params) {
  const char *t = params->credentials->session_token;

  /* An empty token (an empty AWS_SESSION_TOKEN) means none. */
  return t && t[0] != '\0' ? t : NULL;
}

static inline int is_signed_token(const kefo_sigv4_params *params) {
  return session_token(params) != NULL &&
         !(params->flags & KEFO_SIGV4_FLAG_OMIT_SESSION_TOKEN);
}

static inline int adds_content_sha256(const kefo_sigv4_params *params) {
  return params->mode == KEFO_SIGV4_HEADERS &&
         (params->flags & KEFO_SIGV4_FLAG_CONTENT_SHA256);
}

/* ---- sigv4_signing.c: string to sign, signing key, signature ------------ */

/* Time, region and service: all the string to sign needs.
   Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_BUFFER_TOO_SMALL. */
int kefo__sigv4_scope_init(scope *sc, const kefo_sigv4_params *params);
/* Needs kefo__sigv4_scope_init first. Fills sc->credential.
   Returns 0 or KEFO_ERR_INVALID_ARGUMENT. */
int kefo__sigv4_scope_set_credentials(scope *sc,
                                      const kefo_sigv4_credentials *creds);
/* Appends the string to sign of the canonical request |creq|.
   Returns 0, KEFO_ERR_NOMEM or KEFO_ERR_CRYPTO. */
int kefo__sigv4_append_string_to_sign(kefo_buf *out, const scope *sc,
                                      const uint8_t *creq, size_t creqlen);
/* Derives |key| for the scope unless it already holds it. Needs a scope
   with the credentials set. Returns 0 or KEFO_ERR_CRYPTO. */
int kefo__sigv4_key_update(kefo_sigv4_key *key, const scope *sc,
                           const kefo_sigv4_params *params);

/* ---- sigv4_canonical.c: the canonical request --------------------------- */

void kefo__sigv4_ctx_init(sign_ctx *ctx, const kefo_mem *mem);
void kefo__sigv4_ctx_free(sign_ctx *ctx);
/* Checks everything and builds the parts the canonical request and the
   signed output share. Returns 0, KEFO_ERR_INVALID_ARGUMENT,
   KEFO_ERR_SIGV4, KEFO_ERR_BUFFER_TOO_SMALL, KEFO_ERR_NOMEM or
   KEFO_ERR_CRYPTO. */
int kefo__sigv4_ctx_prepare(sign_ctx *ctx, const kefo_sigv4_request *req,
                            const kefo_sigv4_params *params);
/* Appends the canonical request of a prepared |ctx|.
   Returns 0, KEFO_ERR_NOMEM or KEFO_ERR_SIGV4. */
int kefo__sigv4_ctx_canonical_request(sign_ctx *ctx, kefo_buf *out,
                                      const kefo_sigv4_request *req,
                                      const kefo_sigv4_params *params);

#endif /* KEFO_SIGV4_INTERNAL_H */
