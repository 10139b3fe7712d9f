/*
 * SigV4's canonical request: the request checked before anything is
 * allocated, its headers canonicalized (lowercase, sorted, trimmed) and, for
 * query signing, the X-Amz-* parameters; its URI and query by sigv4_uri.c.
 */
#include "aws/sigv4_internal.h"
#include "aws/sigv4_uri.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAYLOAD_HASH_LEN 128

typedef struct hdr_entry {
  const char *name;
  const char *value;
  size_t namelen;
  size_t valuelen;
  /* Position in the input: duplicate names keep their order. */
  size_t order;
} hdr_entry;

/* RFC 7230 tchar: what a method or header name may hold. A ':' (HTTP/2
   pseudo-headers) or a space would make the canonical form ambiguous. */
static int is_tchar(uint8_t c) {
  return is_alnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* CR and LF would let a value inject headers; the other controls cannot
   appear in a field value either. HTAB is allowed whitespace. */
static int is_value_byte(uint8_t c) {
  return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static uint8_t ascii_lower(uint8_t c) {
  return c >= 'A' && c <= 'Z' ? (uint8_t)(c | 0x20) : c;
}

static int name_equals(const char *name, size_t namelen, const char *lower) {
  size_t i;

  if (namelen != strlen(lower)) {
    return 0;
  }
  for (i = 0; i < namelen; ++i) {
    if (ascii_lower((uint8_t)name[i]) != (uint8_t)lower[i]) {
      return 0;
    }
  }
  return 1;
}

static int check_options(const kefo_sigv4_params *params) {
  const uint32_t known = KEFO_SIGV4_FLAG_NO_NORMALIZE_PATH |
                         KEFO_SIGV4_FLAG_OMIT_SESSION_TOKEN |
                         KEFO_SIGV4_FLAG_CONTENT_SHA256;

  if ((params->flags & ~known) != 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  switch (params->mode) {
  case KEFO_SIGV4_HEADERS:
    return 0;
  case KEFO_SIGV4_QUERY:
    if (params->expires == 0 || params->expires > KEFO_SIGV4_MAX_EXPIRES) {
      return KEFO_ERR_INVALID_ARGUMENT;
    }
    return 0;
  default:
    return KEFO_ERR_INVALID_ARGUMENT;
  }
}

static int check_request_line(const char *s, int allow_space) {
  for (; *s != '\0'; ++s) {
    uint8_t c = (uint8_t)*s;
    if (c < 0x20 || c == 0x7f || (c == ' ' && !allow_space)) {
      return KEFO_ERR_SIGV4;
    }
  }
  return 0;
}

/* Everything about the request that can be checked before allocating. */
static int check_request(const kefo_sigv4_request *req,
                         const kefo_sigv4_params *params) {
  size_t i, j;
  int have_host = 0;
  const char *m;

  if (req == NULL || req->method == NULL || req->path == NULL ||
      (req->headers == NULL && req->nheaders > 0) ||
      (req->body == NULL && req->bodylen > 0)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (req->method[0] == '\0') {
    return KEFO_ERR_SIGV4;
  }
  for (m = req->method; *m != '\0'; ++m) {
    if (!is_tchar((uint8_t)*m)) {
      return KEFO_ERR_SIGV4;
    }
  }
  /* Spaces are encoded (%20), so a raw one in the path or query is
     signable; controls cannot appear on a request line at all. */
  if (req->path[0] != '/' || check_request_line(req->path, 1) != 0 ||
      (req->query && check_request_line(req->query, 1) != 0)) {
    return KEFO_ERR_SIGV4;
  }
  for (i = 0; i < req->nheaders; ++i) {
    const kefo_sigv4_header *h = &req->headers[i];

    if (h->name == NULL || (h->value == NULL && h->valuelen > 0)) {
      return KEFO_ERR_INVALID_ARGUMENT;
    }
    if (h->namelen == 0) {
      return KEFO_ERR_SIGV4;
    }
    for (j = 0; j < h->namelen; ++j) {
      if (!is_tchar((uint8_t)h->name[j])) {
        return KEFO_ERR_SIGV4;
      }
    }
    for (j = 0; j < h->valuelen; ++j) {
      if (!is_value_byte((uint8_t)h->value[j])) {
        return KEFO_ERR_SIGV4;
      }
    }
    /* The signer adds these itself; a second copy would be sent twice or
       signed with a value other than the one it adds. */
    if (name_equals(h->name, h->namelen, "authorization") ||
        name_equals(h->name, h->namelen, "x-amz-date") ||
        name_equals(h->name, h->namelen, "x-amz-security-token") ||
        (adds_content_sha256(params) &&
         name_equals(h->name, h->namelen, "x-amz-content-sha256"))) {
      return KEFO_ERR_SIGV4;
    }
    if (name_equals(h->name, h->namelen, "host")) {
      have_host = 1;
    }
  }
  /* AWS rejects a signature that does not cover the host. */
  if (!have_host) {
    return KEFO_ERR_SIGV4;
  }
  if (req->payload_hash) {
    size_t len = strlen(req->payload_hash);
    if (len == 0 || len > MAX_PAYLOAD_HASH_LEN) {
      return KEFO_ERR_SIGV4;
    }
    for (i = 0; i < len; ++i) {
      uint8_t c = (uint8_t)req->payload_hash[i];
      if (c <= 0x20 || c >= 0x7f) {
        return KEFO_ERR_SIGV4;
      }
    }
  }
  return 0;
}

/* Header names compared case-insensitively, as the canonical form sorts
   their lowercase. */
static int name_cmp(const hdr_entry *x, const hdr_entry *y) {
  size_t i, n = x->namelen < y->namelen ? x->namelen : y->namelen;

  for (i = 0; i < n; ++i) {
    uint8_t cx = ascii_lower((uint8_t)x->name[i]);
    uint8_t cy = ascii_lower((uint8_t)y->name[i]);
    if (cx != cy) {
      return cx < cy ? -1 : 1;
    }
  }
  return x->namelen < y->namelen ? -1 : x->namelen > y->namelen;
}

static int hdr_entry_cmp(const void *a, const void *b) {
  const hdr_entry *x = a, *y = b;
  int c = name_cmp(x, y);

  if (c != 0) {
    return c;
  }
  /* qsort is not stable; the input order breaks ties, so repeated names
     keep their values in the order given. */
  return x->order < y->order ? -1 : x->order > y->order;
}

static int append_lower(kefo_buf *b, const char *s, size_t len) {
  size_t i;
  int rv = kefo__buf_reserve(b, len);

  if (rv != 0) {
    return rv;
  }
  for (i = 0; i < len; ++i) {
    b->data[b->len++] = ascii_lower((uint8_t)s[i]);
  }
  return 0;
}

/* Trims the value and collapses each run of spaces and tabs into one
   space; quoted strings get no special treatment (AWS does the same). */
static int append_trimmed(kefo_buf *b, const char *s, size_t len) {
  size_t i;
  int pending = 0, started = 0, rv;

  rv = kefo__buf_reserve(b, len);
  if (rv != 0) {
    return rv;
  }
  for (i = 0; i < len; ++i) {
    if (s[i] == ' ' || s[i] == '\t') {
      pending = started;
      continue;
    }
    if (pending) {
      b->data[b->len++] = ' ';
      pending = 0;
    }
    b->data[b->len++] = (uint8_t)s[i];
    started = 1;
  }
  return 0;
}

static void add_entry(hdr_entry *e, size_t *n, const char *name,
                      const char *value) {
  e[*n].name = name;
  e[*n].namelen = strlen(name);
  e[*n].value = value;
  e[*n].valuelen = strlen(value);
  e[*n].order = *n;
  ++*n;
}

static int build_headers(sign_ctx *ctx, const kefo_sigv4_request *req,
                         const kefo_sigv4_params *params) {
  const kefo_mem *mem = ctx->headers.mem;
  hdr_entry *e;
  size_t n = 0, i;
  int rv = 0;

  if (req->nheaders > SIZE_MAX / sizeof(*e) - 3) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  e = kefo__mem_malloc(mem, (req->nheaders + 3) * sizeof(*e));
  if (e == NULL) {
    return KEFO_ERR_NOMEM;
  }
  for (i = 0; i < req->nheaders; ++i) {
    e[n].name = req->headers[i].name;
    e[n].namelen = req->headers[i].namelen;
    e[n].value = req->headers[i].valuelen ? req->headers[i].value : "";
    e[n].valuelen = req->headers[i].valuelen;
    e[n].order = n;
    ++n;
  }
  if (params->mode == KEFO_SIGV4_HEADERS) {
    add_entry(e, &n, "x-amz-date", ctx->sc.amz_date);
    if (is_signed_token(params)) {
      add_entry(e, &n, "x-amz-security-token", ctx->token);
    }
    if (adds_content_sha256(params)) {
      add_entry(e, &n, "x-amz-content-sha256", ctx->payload_hash);
    }
  }
  qsort(e, n, sizeof(*e), hdr_entry_cmp);

  for (i = 0; i < n; ++i) {
    int dup = i > 0 && name_cmp(&e[i], &e[i - 1]) == 0;

    if (dup) {
      rv = kefo__buf_append_byte(&ctx->headers, ',');
    } else {
      if (i > 0) {
        rv = kefo__buf_append_byte(&ctx->headers, '\n');
        if (rv == 0) {
          rv = kefo__buf_append_byte(&ctx->signed_headers, ';');
        }
      }
      if (rv == 0) {
        rv = append_lower(&ctx->headers, e[i].name, e[i].namelen);
      }
      if (rv == 0) {
        rv = append_lower(&ctx->signed_headers, e[i].name, e[i].namelen);
      }
      if (rv == 0) {
        rv = kefo__buf_append_byte(&ctx->headers, ':');
      }
    }
    if (rv == 0) {
      rv = append_trimmed(&ctx->headers, e[i].value, e[i].valuelen);
    }
    if (rv != 0) {
      break;
    }
  }
  if (rv == 0) {
    rv = kefo__buf_append_byte(&ctx->headers, '\n');
  }
  kefo__mem_free(mem, e);
  return rv;
}

/* Query signing: the X-Amz-* parameters that are signed, as sent. */
static int build_xquery(sign_ctx *ctx, const kefo_sigv4_params *params) {
  kefo_buf *b = &ctx->xquery;
  char expires[16];
  int rv;

  snprintf(expires, sizeof(expires), "%u", (unsigned)params->expires);
  rv = kefo__buf_append_str(b,
                            "X-Amz-Algorithm=" ALGORITHM "&X-Amz-Credential=");
  if (rv == 0) {
    rv = kefo__sigv4_uri_encode(b, ctx->sc.credential,
                                strlen(ctx->sc.credential), 0);
  }
  if (rv == 0) {
    rv = kefo__buf_append_str(b, "&X-Amz-Date=");
  }
  if (rv == 0) {
    rv = kefo__buf_append_str(b, ctx->sc.amz_date);
  }
  if (rv == 0) {
    rv = kefo__buf_append_str(b, "&X-Amz-SignedHeaders=");
  }
  if (rv == 0) {
    rv = kefo__sigv4_uri_encode(b, (const char *)ctx->signed_headers.data,
                                ctx->signed_headers.len, 0);
  }
  if (rv == 0) {
    rv = kefo__buf_append_str(b, "&X-Amz-Expires=");
  }
  if (rv == 0) {
    rv = kefo__buf_append_str(b, expires);
  }
  if (rv == 0 && is_signed_token(params)) {
    rv = kefo__buf_append_str(b, "&X-Amz-Security-Token=");
    if (rv == 0) {
      rv = kefo__sigv4_uri_encode(b, ctx->token, strlen(ctx->token), 0);
    }
  }
  if (rv == 0) {
    /* A NUL, so the parameters can be parsed as a C string. */
    rv = kefo__buf_cstr(b) ? 0 : KEFO_ERR_NOMEM;
  }
  return rv;
}

void kefo__sigv4_ctx_init(sign_ctx *ctx, const kefo_mem *mem) {
  memset(ctx, 0, sizeof(*ctx));
  kefo__buf_init(&ctx->headers, mem);
  kefo__buf_init(&ctx->signed_headers, mem);
  kefo__buf_init(&ctx->xquery, mem);
}

void kefo__sigv4_ctx_free(sign_ctx *ctx) {
  kefo__buf_free(&ctx->headers);
  kefo__buf_free(&ctx->signed_headers);
  kefo__buf_free(&ctx->xquery);
}

/* Checks everything and builds the parts the canonical request and the
   signed output share. */
int kefo__sigv4_ctx_prepare(sign_ctx *ctx, const kefo_sigv4_request *req,
                            const kefo_sigv4_params *params) {
  int rv;

  rv = kefo__sigv4_scope_init(&ctx->sc, params);
  if (rv != 0) {
    return rv;
  }
  rv = kefo__sigv4_scope_set_credentials(&ctx->sc, params->credentials);
  if (rv != 0) {
    return rv;
  }
  rv = check_options(params);
  if (rv != 0) {
    return rv;
  }
  rv = check_request(req, params);
  if (rv != 0) {
    return rv;
  }
  ctx->token = session_token(params);
  if (req->payload_hash) {
    ctx->payload_hash = req->payload_hash;
  } else {
    rv = kefo__sigv4_sha256_hex(ctx->body_hash, sizeof(ctx->body_hash),
                                req->body, req->bodylen);
    if (rv != 0) {
      return rv;
    }
    ctx->payload_hash = ctx->body_hash;
  }
  rv = build_headers(ctx, req, params);
  if (rv != 0) {
    return rv;
  }
  /* The signed headers go into the query, so they come first. */
  if (params->mode == KEFO_SIGV4_QUERY) {
    rv = build_xquery(ctx, params);
  }
  return rv;
}

int kefo__sigv4_ctx_canonical_request(sign_ctx *ctx, kefo_buf *out,
                                      const kefo_sigv4_request *req,
                                      const kefo_sigv4_params *params) {
  int rv;

  rv = kefo__buf_append_str(out, req->method);
  if (rv == 0) {
    rv = kefo__buf_append_byte(out, '\n');
  }
  if (rv == 0) {
    rv = kefo__sigv4_uri_path(
        out, req->path, !(params->flags & KEFO_SIGV4_FLAG_NO_NORMALIZE_PATH));
  }
  if (rv == 0) {
    rv = kefo__buf_append_byte(out, '\n');
  }
  if (rv == 0) {
    rv = kefo__sigv4_uri_query(out, req->query,
                               params->mode == KEFO_SIGV4_QUERY
                                   ? (const char *)ctx->xquery.data
                                   : NULL,
                               params->mode == KEFO_SIGV4_QUERY);
  }
  if (rv == 0) {
    rv = kefo__buf_append_byte(out, '\n');
  }
  if (rv == 0) {
    rv = kefo__buf_append(out, ctx->headers.data, ctx->headers.len);
  }
  if (rv == 0) {
    rv = kefo__buf_append_byte(out, '\n');
  }
  if (rv == 0) {
    rv = kefo__buf_append(out, ctx->signed_headers.data,
                          ctx->signed_headers.len);
  }
  if (rv == 0) {
    rv = kefo__buf_append_byte(out, '\n');
  }
  if (rv == 0) {
    rv = kefo__buf_append_str(out, ctx->payload_hash);
  }
  return rv;
}

int kefo__sigv4_canonical_request(kefo_buf *out, const kefo_sigv4_request *req,
                                  const kefo_sigv4_params *params) {
  sign_ctx ctx;
  size_t mark;
  int rv;

  if (out == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mark = out->len;
  kefo__sigv4_ctx_init(&ctx, out->mem);
  rv = kefo__sigv4_ctx_prepare(&ctx, req, params);
  if (rv == 0) {
    rv = kefo__sigv4_ctx_canonical_request(&ctx, out, req, params);
  }
  if (rv != 0) {
    out->len = mark;
  }
  kefo__sigv4_ctx_free(&ctx);
  return rv;
}
