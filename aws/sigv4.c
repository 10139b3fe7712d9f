/*
 * AWS Signature Version 4 signer as its callers use it: a request in (read,
 * never changed), and out the headers to add (Authorization, X-Amz-Date, ...)
 * or the presigned query string.
 */
#include "aws/sigv4.h"
#include "aws/sigv4_internal.h"
#include "aws/sigv4_uri.h"

#include <string.h>

static void result_init(kefo_sigv4_result *res, const kefo_mem *mem) {
  memset(res, 0, sizeof(*res));
  kefo__buf_init(&res->storage, mem);
}

void kefo__sigv4_result_free(kefo_sigv4_result *res) {
  const kefo_mem *mem;

  if (res == NULL) {
    return;
  }
  mem = res->storage.mem;
  kefo__buf_free(&res->storage);
  result_init(res, mem);
}

/* Appends |s| and a NUL to the storage and records where it starts. */
static int store(kefo_buf *b, size_t *off, const char *s) {
  int rv;

  *off = b->len;
  rv = kefo__buf_append_str(b, s);
  if (rv == 0) {
    rv = kefo__buf_append_byte(b, '\0');
  }
  return rv;
}

static int output_headers(kefo_sigv4_result *res, const sign_ctx *ctx,
                          const kefo_sigv4_params *params) {
  static const char *const names[] = {"x-amz-date", "x-amz-security-token",
                                      "x-amz-content-sha256", "authorization"};
  kefo_buf *b = &res->storage;
  size_t off[KEFO_SIGV4_MAX_ADDED_HEADERS];
  int present[KEFO_SIGV4_MAX_ADDED_HEADERS] = {1, 0, 0, 1};
  size_t i;
  int rv;

  rv = store(b, &off[0], ctx->sc.amz_date);
  /* The token is sent even when it is left out of the signature. */
  if (rv == 0 && ctx->token) {
    present[1] = 1;
    rv = store(b, &off[1], ctx->token);
  }
  if (rv == 0 && adds_content_sha256(params)) {
    present[2] = 1;
    rv = store(b, &off[2], ctx->payload_hash);
  }
  if (rv == 0) {
    off[3] = b->len;
    rv = kefo__buf_append_str(b, ALGORITHM " Credential=");
  }
  if (rv == 0) {
    rv = kefo__buf_append_str(b, ctx->sc.credential);
  }
  if (rv == 0) {
    rv = kefo__buf_append_str(b, ", SignedHeaders=");
  }
  if (rv == 0) {
    rv = kefo__buf_append(b, ctx->signed_headers.data, ctx->signed_headers.len);
  }
  if (rv == 0) {
    rv = kefo__buf_append_str(b, ", Signature=");
  }
  if (rv == 0) {
    rv = kefo__buf_append(b, res->signature, KEFO_SIGV4_HEX_LEN);
  }
  if (rv == 0) {
    rv = kefo__buf_append_byte(b, '\0');
  }
  if (rv != 0) {
    return rv;
  }
  /* Pointers only now: the storage has stopped moving. */
  for (i = 0; i < KEFO_SIGV4_MAX_ADDED_HEADERS; ++i) {
    kefo_sigv4_header *h = &res->headers[res->nheaders];

    if (!present[i]) {
      continue;
    }
    h->name = names[i];
    h->namelen = strlen(names[i]);
    h->value = (const char *)b->data + off[i];
    h->valuelen = strlen(h->value);
    ++res->nheaders;
  }
  return 0;
}

static int output_query(kefo_sigv4_result *res, const sign_ctx *ctx,
                        const kefo_sigv4_request *req,
                        const kefo_sigv4_params *params) {
  kefo_buf *b = &res->storage;
  int rv = 0;

  if (req->query && req->query[0] != '\0') {
    size_t len = strlen(req->query);
    rv = kefo__buf_append(b, req->query, len);
    /* No empty parameter between the caller's query and ours. */
    if (rv == 0 && req->query[len - 1] != '&') {
      rv = kefo__buf_append_byte(b, '&');
    }
  }
  if (rv == 0) {
    rv = kefo__buf_append(b, ctx->xquery.data, ctx->xquery.len);
  }
  if (rv == 0 && ctx->token && !is_signed_token(params)) {
    rv = kefo__buf_append_str(b, "&X-Amz-Security-Token=");
    if (rv == 0) {
      rv = kefo__sigv4_uri_encode(b, ctx->token, strlen(ctx->token), 0);
    }
  }
  if (rv == 0) {
    rv = kefo__buf_append_str(b, "&X-Amz-Signature=");
  }
  if (rv == 0) {
    rv = kefo__buf_append(b, res->signature, KEFO_SIGV4_HEX_LEN);
  }
  if (rv == 0) {
    rv = kefo__buf_cstr(b) ? 0 : KEFO_ERR_NOMEM;
  }
  if (rv != 0) {
    return rv;
  }
  res->query = (const char *)b->data;
  res->querylen = b->len;
  return 0;
}

int kefo__sigv4_sign(kefo_sigv4_result *res, const kefo_sigv4_request *req,
                     const kefo_sigv4_params *params, kefo_sigv4_key *key_cache,
                     const kefo_mem *mem) {
  sign_ctx ctx;
  kefo_buf creq, sts;
  kefo_sigv4_key local_key;
  kefo_sigv4_key *key = key_cache ? key_cache : &local_key;
  int rv;

  if (res == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__mem_or_default(mem);
  result_init(res, mem);
  kefo__sigv4_ctx_init(&ctx, mem);
  kefo__buf_init(&creq, mem);
  kefo__buf_init(&sts, mem);
  kefo__sigv4_key_init(&local_key);

  rv = kefo__sigv4_ctx_prepare(&ctx, req, params);
  if (rv != 0) {
    goto fail;
  }
  rv = kefo__sigv4_ctx_canonical_request(&ctx, &creq, req, params);
  if (rv != 0) {
    goto fail;
  }
  rv = kefo__sigv4_append_string_to_sign(&sts, &ctx.sc, creq.data, creq.len);
  if (rv != 0) {
    goto fail;
  }
  rv = kefo__sigv4_key_update(key, &ctx.sc, params);
  if (rv != 0) {
    goto fail;
  }
  rv = kefo__sigv4_signature(res->signature, sizeof(res->signature), key,
                             sts.data, sts.len);
  if (rv != 0) {
    goto fail;
  }
  if (params->mode == KEFO_SIGV4_HEADERS) {
    rv = output_headers(res, &ctx, params);
  } else {
    rv = output_query(res, &ctx, req, params);
  }

fail:
  if (rv != 0) {
    kefo__sigv4_result_free(res);
  }
  kefo__sigv4_key_free(&local_key);
  kefo__buf_free(&sts);
  kefo__buf_free(&creq);
  kefo__sigv4_ctx_free(&ctx);
  return rv;
}
