/*
 * SigV4's canonical URI and canonical query string: RFC 3986 encoding
 * with AWS's rules (the path normalized and encoded twice, the query's
 * parameters decoded, re-encoded and sorted by bytes). Apart from the
 * signer (aws/sigv4_canonical.c), which only appends what these build.
 */
#include "aws/sigv4_uri.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

static const char upper_hex[] = "0123456789ABCDEF";

typedef struct query_param {
  /* Offsets into the encoding buffer until it stops growing, then the
     pointers qsort compares (qsort passes no context). */
  size_t keyoff, keylen, valoff, vallen;
  const uint8_t *key, *val;
} query_param;

static int is_unreserved(uint8_t c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
}

static int is_hex(uint8_t c) {
  return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') ||
         (c >= 'a' && c <= 'f');
}

static uint8_t hex_value(uint8_t c) {
  if (c <= '9') {
    return (uint8_t)(c - '0');
  }
  return (uint8_t)((c | 0x20) - 'a' + 10);
}

static int append_encoded(kefo_buf *b, uint8_t c, int keep_slash) {
  uint8_t esc[3];

  if (is_unreserved(c) || (keep_slash && c == '/')) {
    return kefo__buf_append_byte(b, c);
  }
  esc[0] = '%';
  esc[1] = (uint8_t)upper_hex[c >> 4];
  esc[2] = (uint8_t)upper_hex[c & 0xf];
  return kefo__buf_append(b, esc, 3);
}

int kefo__sigv4_uri_encode(kefo_buf *b, const char *s, size_t len,
                           int keep_slash) {
  size_t i;
  int rv;

  for (i = 0; i < len; ++i) {
    rv = append_encoded(b, (uint8_t)s[i], keep_slash);
    if (rv != 0) {
      return rv;
    }
  }
  return 0;
}

/* Query components may come raw or already percent-encoded: decoding the
   valid %XX escapes first makes both give the same canonical form, and a
   '%' not followed by two hex digits is taken literally (%25). */
static int append_query_component(kefo_buf *b, const char *s, size_t len) {
  size_t i;
  int rv;

  for (i = 0; i < len; ++i) {
    uint8_t c = (uint8_t)s[i];
    if (c == '%' && len - i >= 3 && is_hex((uint8_t)s[i + 1]) &&
        is_hex((uint8_t)s[i + 2])) {
      c = (uint8_t)(hex_value((uint8_t)s[i + 1]) << 4 |
                    hex_value((uint8_t)s[i + 2]));
      i += 2;
    }
    rv = append_encoded(b, c, 0);
    if (rv != 0) {
      return rv;
    }
  }
  return 0;
}

int kefo__sigv4_uri_path(kefo_buf *out, const char *path, int normalize) {
  size_t base = out->len, pathlen = strlen(path);
  const char *p = path, *end = path + pathlen;
  int rv;

  if (!normalize) {
    return kefo__sigv4_uri_encode(out, path, pathlen, 1);
  }
  /* Each kept segment is written as "/" and its encoded bytes; an encoded
     segment holds no '/', so ".." drops back to the last '/' written. */
  while (p < end) {
    const char *seg, *slash;
    size_t seglen;

    while (p < end && *p == '/') {
      ++p;
    }
    seg = p;
    slash = memchr(p, '/', (size_t)(end - p));
    p = slash ? slash : end;
    seglen = (size_t)(p - seg);
    if (seglen == 0 || (seglen == 1 && seg[0] == '.')) {
      continue;
    }
    if (seglen == 2 && seg[0] == '.' && seg[1] == '.') {
      while (out->len > base && out->data[out->len - 1] != '/') {
        --out->len;
      }
      if (out->len > base) {
        --out->len;
      }
      continue;
    }
    rv = kefo__buf_append_byte(out, '/');
    if (rv == 0) {
      rv = kefo__sigv4_uri_encode(out, seg, seglen, 0);
    }
    if (rv != 0) {
      return rv;
    }
  }
  /* Keep a trailing slash ("//example//" -> "/example/"), as the AWS SDKs
     do; an empty result is the root. */
  if (out->len == base || end[-1] == '/') {
    return kefo__buf_append_byte(out, '/');
  }
  return 0;
}

static int bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b,
                     size_t blen) {
  size_t n = alen < blen ? alen : blen;
  int c = n ? memcmp(a, b, n) : 0;

  if (c != 0) {
    return c;
  }
  return alen < blen ? -1 : alen > blen;
}

static int query_param_cmp(const void *a, const void *b) {
  const query_param *x = a, *y = b;
  int c = bytes_cmp(x->key, x->keylen, y->key, y->keylen);

  return c != 0 ? c : bytes_cmp(x->val, x->vallen, y->val, y->vallen);
}

static size_t count_params(const char *q) {
  size_t n = 1;

  for (; *q != '\0'; ++q) {
    n += *q == '&';
  }
  return n;
}

static int is_signing_param(const uint8_t *key, size_t keylen) {
  static const char *const names[] = {
      "X-Amz-Algorithm", "X-Amz-Credential",    "X-Amz-Date",
      "X-Amz-Expires",   "X-Amz-SignedHeaders", "X-Amz-Security-Token",
      "X-Amz-Signature"};
  size_t i;

  for (i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
    if (keylen == strlen(names[i]) && memcmp(key, names[i], keylen) == 0) {
      return 1;
    }
  }
  return 0;
}

/* Encodes each "key=value" of |q| into |enc| and records it in |params|. */
static int encode_params(kefo_buf *enc, query_param *params, size_t *n,
                         const char *q, int reject_signing) {
  const char *p = q;
  int rv;

  while (*p != '\0') {
    const char *amp = strchr(p, '&');
    size_t len = amp ? (size_t)(amp - p) : strlen(p);
    const char *eq = memchr(p, '=', len);
    size_t keylen = eq ? (size_t)(eq - p) : len;
    query_param *qp = &params[*n];

    if (len > 0) {
      qp->keyoff = enc->len;
      rv = append_query_component(enc, p, keylen);
      if (rv != 0) {
        return rv;
      }
      qp->keylen = enc->len - qp->keyoff;
      /* The parameters the signature itself travels in cannot also come
         from the caller. */
      if (reject_signing &&
          is_signing_param(enc->data + qp->keyoff, qp->keylen)) {
        return KEFO_ERR_SIGV4;
      }
      qp->valoff = enc->len;
      if (eq) {
        rv = append_query_component(enc, eq + 1, len - keylen - 1);
        if (rv != 0) {
          return rv;
        }
      }
      qp->vallen = enc->len - qp->valoff;
      ++*n;
    }
    p += len;
    if (*p == '&') {
      ++p;
    }
  }
  return 0;
}

int kefo__sigv4_uri_query(kefo_buf *out, const char *query, const char *xquery,
                          int reject_signing) {
  kefo_buf enc;
  query_param *params = NULL;
  const uint8_t *base;
  size_t cap = 0, n = 0, i;
  int rv = 0;

  if (query) {
    cap += count_params(query);
  }
  if (xquery) {
    cap += count_params(xquery);
  }
  if (cap == 0) {
    return 0;
  }
  kefo__buf_init(&enc, out->mem);
  params = kefo__mem_malloc(out->mem, cap * sizeof(*params));
  if (params == NULL) {
    rv = KEFO_ERR_NOMEM;
    goto fail_params;
  }
  if (query) {
    rv = encode_params(&enc, params, &n, query, reject_signing);
    if (rv != 0) {
      goto fail_encode;
    }
  }
  if (xquery) {
    rv = encode_params(&enc, params, &n, xquery, 0);
    if (rv != 0) {
      goto fail_encode;
    }
  }
  /* Every component may have encoded to nothing ("=&="), leaving no
     storage to point into. */
  base = enc.data ? enc.data : (const uint8_t *)"";
  for (i = 0; i < n; ++i) {
    params[i].key = base + params[i].keyoff;
    params[i].val = base + params[i].valoff;
  }
  if (n > 1) {
    qsort(params, n, sizeof(*params), query_param_cmp);
  }
  for (i = 0; i < n && rv == 0; ++i) {
    if (i > 0) {
      rv = kefo__buf_append_byte(out, '&');
    }
    if (rv == 0) {
      rv = kefo__buf_append(out, params[i].key, params[i].keylen);
    }
    if (rv == 0) {
      rv = kefo__buf_append_byte(out, '=');
    }
    if (rv == 0) {
      rv = kefo__buf_append(out, params[i].val, params[i].vallen);
    }
  }

fail_encode:
  kefo__mem_free(out->mem, params);
fail_params:
  kefo__buf_free(&enc);
  return rv;
}
