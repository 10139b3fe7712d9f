/*
 * AWS Signature Version 4 signer. The request is read, never changed; the
 * canonical request is built in kefo_buf storage from the caller's
 * allocator (its URI and query by aws/sigv4_uri.c), and OpenSSL only
 * computes SHA-256 and HMAC-SHA256.
 */
#include "aws/sigv4.h"
#include "aws/sigv4_uri.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define ALGORITHM "AWS4-HMAC-SHA256"
#define SCOPE_TERMINATOR "aws4_request"
#define MAX_ACCESS_KEY_ID_LEN 128
#define MAX_SCOPE_PART_LEN 63
#define MAX_SECRET_LEN 256
#define MAX_PAYLOAD_HASH_LEN 128
/* "YYYYMMDD/" region "/" service "/aws4_request" and a NUL. */
#define SCOPE_MAX (9 + MAX_SCOPE_PART_LEN + 1 + MAX_SCOPE_PART_LEN + 13 + 1)

static const char lower_hex[] = "0123456789abcdef";

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

typedef struct hdr_entry {
  const char *name;
  const char *value;
  size_t namelen;
  size_t valuelen;
  /* Position in the input: duplicate names keep their order. */
  size_t order;
} hdr_entry;

static void hex_encode(char *out, const uint8_t *in, size_t len) {
  size_t i;

  for (i = 0; i < len; ++i) {
    out[2 * i] = lower_hex[in[i] >> 4];
    out[2 * i + 1] = lower_hex[in[i] & 0xf];
  }
  out[2 * len] = '\0';
}

static int sha256(uint8_t out[32], const void *data, size_t len) {
  unsigned int outlen = 0;

  if (EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) != 1 ||
      outlen != 32) {
    return KEFO_ERR_CRYPTO;
  }
  return 0;
}

static int hmac_sha256(uint8_t out[32], const void *key, size_t keylen,
                       const void *data, size_t len) {
  unsigned int outlen = 0;

  /* One-shot HMAC() is not deprecated in OpenSSL 3, unlike HMAC_CTX. */
  if (HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen) == NULL ||
      outlen != 32) {
    return KEFO_ERR_CRYPTO;
  }
  return 0;
}

static int is_alnum(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9');
}

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

/* Scope parts and access key ids go unencoded into Credential= and the
   scope line, so they must not hold '/', ',', '=' or whitespace. */
static int check_scope_part(const char *s, size_t maxlen) {
  size_t i;

  if (s == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  for (i = 0; s[i] != '\0'; ++i) {
    uint8_t c = (uint8_t)s[i];
    if (i == maxlen || !(is_alnum(c) || c == '-' || c == '.' || c == '_')) {
      return KEFO_ERR_INVALID_ARGUMENT;
    }
  }
  return i == 0 ? KEFO_ERR_INVALID_ARGUMENT : 0;
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

static void put_digits(char *p, unsigned v, int n) {
  while (n-- > 0) {
    p[n] = (char)('0' + v % 10);
    v /= 10;
  }
}

int kefo__sigv4_amz_date(char *out, size_t outlen, int64_t time) {
  int64_t days, z, era, doe, yoe, doy, mp, year;
  unsigned month, day, secs;

  if (out == NULL || time < 0 || time > KEFO_SIGV4_MAX_TIME) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (outlen < KEFO_SIGV4_DATE_LEN + 1) {
    return KEFO_ERR_BUFFER_TOO_SMALL;
  }
  days = time / 86400;
  secs = (unsigned)(time % 86400);
  /* Civil date from a day count, in 400-year eras starting on 1 March so
     the leap day falls at the end of each year: no table, no gmtime, no
     time zone. */
  z = days + 719468;
  era = z / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  year = yoe + era * 400 + (month <= 2);

  put_digits(out, (unsigned)year, 4);
  put_digits(out + 4, month, 2);
  put_digits(out + 6, day, 2);
  out[8] = 'T';
  put_digits(out + 9, secs / 3600, 2);
  put_digits(out + 11, secs / 60 % 60, 2);
  put_digits(out + 13, secs % 60, 2);
  out[15] = 'Z';
  out[16] = '\0';
  return 0;
}

int kefo__sigv4_sha256_hex(char *out, size_t outlen, const uint8_t *data,
                           size_t len) {
  uint8_t md[32];
  int rv;

  if (out == NULL || (data == NULL && len > 0)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (outlen < KEFO_SIGV4_HEX_LEN + 1) {
    return KEFO_ERR_BUFFER_TOO_SMALL;
  }
  rv = sha256(md, data ? (const void *)data : "", len);
  if (rv != 0) {
    return rv;
  }
  hex_encode(out, md, sizeof(md));
  return 0;
}

/* Time, region and service: all the string to sign needs. */
static int scope_init(scope *sc, const kefo_sigv4_params *params) {
  int rv;

  if (params == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  rv = kefo__sigv4_amz_date(sc->amz_date, sizeof(sc->amz_date), params->time);
  if (rv != 0) {
    return rv;
  }
  if (check_scope_part(params->region, MAX_SCOPE_PART_LEN) != 0 ||
      check_scope_part(params->service, MAX_SCOPE_PART_LEN) != 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  snprintf(sc->scope, sizeof(sc->scope), "%.8s/%s/%s/" SCOPE_TERMINATOR,
           sc->amz_date, params->region, params->service);
  sc->credential[0] = '\0';
  return 0;
}

/* Needs scope_init first. Fills sc->credential. */
static int scope_set_credentials(scope *sc,
                                 const kefo_sigv4_credentials *creds) {
  size_t i, secretlen;

  if (creds == NULL || creds->secret_access_key == NULL ||
      check_scope_part(creds->access_key_id, MAX_ACCESS_KEY_ID_LEN) != 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  secretlen = strlen(creds->secret_access_key);
  if (secretlen == 0 || secretlen > MAX_SECRET_LEN) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  /* The token goes into a header or a query parameter as is: printable
     ASCII without spaces covers what STS issues (base64). */
  if (creds->session_token) {
    for (i = 0; creds->session_token[i] != '\0'; ++i) {
      uint8_t c = (uint8_t)creds->session_token[i];
      if (c <= 0x20 || c >= 0x7f) {
        return KEFO_ERR_INVALID_ARGUMENT;
      }
    }
  }
  snprintf(sc->credential, sizeof(sc->credential), "%s/%s",
           creds->access_key_id, sc->scope);
  return 0;
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

static const char *session_token(const kefo_sigv4_params *params) {
  const char *t = params->credentials->session_token;

  /* An empty token (an empty AWS_SESSION_TOKEN) means none. */
  return t && t[0] != '\0' ? t : NULL;
}

static int is_signed_token(const kefo_sigv4_params *params) {
  return session_token(params) != NULL &&
         !(params->flags & KEFO_SIGV4_FLAG_OMIT_SESSION_TOKEN);
}

static int adds_content_sha256(const kefo_sigv4_params *params) {
  return params->mode == KEFO_SIGV4_HEADERS &&
         (params->flags & KEFO_SIGV4_FLAG_CONTENT_SHA256);
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

static void ctx_init(sign_ctx *ctx, const kefo_mem *mem) {
  memset(ctx, 0, sizeof(*ctx));
  kefo__buf_init(&ctx->headers, mem);
  kefo__buf_init(&ctx->signed_headers, mem);
  kefo__buf_init(&ctx->xquery, mem);
}

static void ctx_free(sign_ctx *ctx) {
  kefo__buf_free(&ctx->headers);
  kefo__buf_free(&ctx->signed_headers);
  kefo__buf_free(&ctx->xquery);
}

/* Checks everything and builds the parts the canonical request and the
   signed output share. */
static int ctx_prepare(sign_ctx *ctx, const kefo_sigv4_request *req,
                       const kefo_sigv4_params *params) {
  int rv;

  rv = scope_init(&ctx->sc, params);
  if (rv != 0) {
    return rv;
  }
  rv = scope_set_credentials(&ctx->sc, params->credentials);
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

static int ctx_canonical_request(sign_ctx *ctx, kefo_buf *out,
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
  ctx_init(&ctx, out->mem);
  rv = ctx_prepare(&ctx, req, params);
  if (rv == 0) {
    rv = ctx_canonical_request(&ctx, out, req, params);
  }
  if (rv != 0) {
    out->len = mark;
  }
  ctx_free(&ctx);
  return rv;
}

static int append_string_to_sign(kefo_buf *out, const scope *sc,
                                 const uint8_t *creq, size_t creqlen) {
  uint8_t md[32];
  char hex[KEFO_SIGV4_HEX_LEN + 1];
  int rv;

  rv = sha256(md, creqlen ? (const void *)creq : "", creqlen);
  if (rv != 0) {
    return rv;
  }
  hex_encode(hex, md, sizeof(md));
  rv = kefo__buf_append_str(out, ALGORITHM "\n");
  if (rv == 0) {
    rv = kefo__buf_append_str(out, sc->amz_date);
  }
  if (rv == 0) {
    rv = kefo__buf_append_byte(out, '\n');
  }
  if (rv == 0) {
    rv = kefo__buf_append_str(out, sc->scope);
  }
  if (rv == 0) {
    rv = kefo__buf_append_byte(out, '\n');
  }
  if (rv == 0) {
    rv = kefo__buf_append(out, hex, KEFO_SIGV4_HEX_LEN);
  }
  return rv;
}

int kefo__sigv4_string_to_sign(kefo_buf *out, const uint8_t *creq,
                               size_t creqlen,
                               const kefo_sigv4_params *params) {
  scope sc;
  size_t mark;
  int rv;

  if (out == NULL || (creq == NULL && creqlen > 0)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  rv = scope_init(&sc, params);
  if (rv != 0) {
    return rv;
  }
  mark = out->len;
  rv = append_string_to_sign(out, &sc, creq, creqlen);
  if (rv != 0) {
    out->len = mark;
  }
  return rv;
}

void kefo__sigv4_key_init(kefo_sigv4_key *key) {
  memset(key, 0, sizeof(*key));
}

void kefo__sigv4_key_free(kefo_sigv4_key *key) {
  OPENSSL_cleanse(key, sizeof(*key));
}

/* HMAC chain "AWS4"+secret -> date -> region -> service -> aws4_request.
   Every intermediate key is wiped, on success or not. */
static int derive_key(uint8_t out[KEFO_SIGV4_KEY_LEN], const char *secret,
                      const char *amz_date, const char *region,
                      const char *service) {
  uint8_t seed[4 + MAX_SECRET_LEN];
  uint8_t k1[32], k2[32];
  size_t secretlen = strlen(secret);
  int rv;

  memcpy(seed, "AWS4", 4);
  memcpy(seed + 4, secret, secretlen);
  rv = hmac_sha256(k1, seed, 4 + secretlen, amz_date, 8);
  if (rv != 0) {
    goto fail;
  }
  rv = hmac_sha256(k2, k1, sizeof(k1), region, strlen(region));
  if (rv != 0) {
    goto fail;
  }
  rv = hmac_sha256(k1, k2, sizeof(k2), service, strlen(service));
  if (rv != 0) {
    goto fail;
  }
  rv = hmac_sha256(out, k1, sizeof(k1), SCOPE_TERMINATOR,
                   sizeof(SCOPE_TERMINATOR) - 1);

fail:
  OPENSSL_cleanse(seed, sizeof(seed));
  OPENSSL_cleanse(k1, sizeof(k1));
  OPENSSL_cleanse(k2, sizeof(k2));
  return rv;
}

/* Needs a scope with the credentials set. */
static int key_update(kefo_sigv4_key *key, const scope *sc,
                      const kefo_sigv4_params *params) {
  int rv;

  if (strcmp(key->credential, sc->credential) == 0) {
    return 0;
  }
  /* Empty while deriving, so a failure never leaves a key that claims a
     scope it was not derived for. */
  key->credential[0] = '\0';
  rv = derive_key(key->key, params->credentials->secret_access_key,
                  sc->amz_date, params->region, params->service);
  if (rv != 0) {
    kefo__sigv4_key_free(key);
    return rv;
  }
  memcpy(key->credential, sc->credential, strlen(sc->credential) + 1);
  return 0;
}

int kefo__sigv4_signing_key(kefo_sigv4_key *key,
                            const kefo_sigv4_params *params) {
  scope sc;
  int rv;

  if (key == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  rv = scope_init(&sc, params);
  if (rv == 0) {
    rv = scope_set_credentials(&sc, params->credentials);
  }
  if (rv == 0) {
    rv = key_update(key, &sc, params);
  }
  if (rv != 0) {
    kefo__sigv4_key_free(key);
  }
  return rv;
}

int kefo__sigv4_signature(char *out, size_t outlen, const kefo_sigv4_key *key,
                          const uint8_t *sts, size_t stslen) {
  uint8_t mac[32];
  int rv;

  if (out == NULL || key == NULL || (sts == NULL && stslen > 0)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (key->credential[0] == '\0') {
    return KEFO_ERR_INVALID_STATE;
  }
  if (outlen < KEFO_SIGV4_HEX_LEN + 1) {
    return KEFO_ERR_BUFFER_TOO_SMALL;
  }
  rv = hmac_sha256(mac, key->key, sizeof(key->key),
                   sts ? (const void *)sts : "", stslen);
  if (rv != 0) {
    return rv;
  }
  hex_encode(out, mac, sizeof(mac));
  return 0;
}

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
  ctx_init(&ctx, mem);
  kefo__buf_init(&creq, mem);
  kefo__buf_init(&sts, mem);
  kefo__sigv4_key_init(&local_key);

  rv = ctx_prepare(&ctx, req, params);
  if (rv != 0) {
    goto fail;
  }
  rv = ctx_canonical_request(&ctx, &creq, req, params);
  if (rv != 0) {
    goto fail;
  }
  rv = append_string_to_sign(&sts, &ctx.sc, creq.data, creq.len);
  if (rv != 0) {
    goto fail;
  }
  rv = key_update(key, &ctx.sc, params);
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
  ctx_free(&ctx);
  return rv;
}
