/*
 * CBOR (RFC 8949): the writer's heads and strings, and an answer read
 * into JSON text (see cbor.h). The reader checks every length against
 * the bytes left before it uses it, and nesting against
 * KEFO_CBOR_MAX_DEPTH before it recurses.
 */
#include "base/cbor.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/json_writer.h"
#include "kefo/kefo.h"

size_t kefo__cbor_head_len(uint64_t n) {
  if (n < 24) {
    return 1;
  }
  if (n <= UINT8_MAX) {
    return 2;
  }
  if (n <= UINT16_MAX) {
    return 3;
  }
  if (n <= UINT32_MAX) {
    return 5;
  }
  return 9;
}

size_t kefo__cbor_write_head(uint8_t *out, unsigned major, uint64_t n) {
  size_t len = kefo__cbor_head_len(n), i;
  /* Argument bytes 0, 1, 2, 4, 8 are additional information n, 24-27. */
  static const uint8_t ai[10] = {0, 0, 24, 25, 0, 26, 0, 0, 0, 27};

  if (len == 1) {
    out[0] = (uint8_t)(major << 5 | n);
    return 1;
  }
  out[0] = (uint8_t)(major << 5 | ai[len]);
  for (i = len - 1; i >= 1; --i) {
    out[i] = (uint8_t)n;
    n >>= 8;
  }
  return len;
}

int kefo__cbor_append_head(kefo_buf *b, unsigned major, uint64_t n) {
  int rv = kefo__buf_reserve(b, 9);

  if (rv == 0) {
    b->len += kefo__cbor_write_head(b->data + b->len, major, n);
  }
  return rv;
}

static int append_string(kefo_buf *b, unsigned major, const void *s,
                         size_t len) {
  int rv = kefo__buf_reserve(b, 9 + len);

  if (rv == 0) {
    b->len += kefo__cbor_write_head(b->data + b->len, major, len);
    if (len > 0) {
      memcpy(b->data + b->len, s, len);
    }
    b->len += len;
  }
  return rv;
}

int kefo__cbor_append_text(kefo_buf *b, const char *s, size_t len) {
  return append_string(b, KEFO_CBOR_TEXT, s, len);
}

int kefo__cbor_append_bytes(kefo_buf *b, const uint8_t *s, size_t len) {
  return append_string(b, KEFO_CBOR_BYTES, s, len);
}

/* ---- reading into JSON ------------------------------------------------- */

typedef struct cvt {
  const uint8_t *start, *p, *end;
  kefo_buf *out;
  size_t max_out;
  kefo_buf scratch; /* an indefinite-length string's chunks */
  char *err;
  size_t errlen;
} cvt;

typedef kefo_cbor_head head;

/* Records what was wrong at |at| (the item's first byte). */
static int fail(cvt *c, const uint8_t *at, int code, const char *fmt, ...) {
  char what[160];
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(what, sizeof(what), fmt, ap);
  va_end(ap);
  if (c->errlen > 0) {
    snprintf(c->err, c->errlen, "CBOR: %s at byte %zu", what,
             (size_t)(at - c->start));
  }
  return code;
}

static size_t left(const cvt *c) {
  return (size_t)(c->end - c->p);
}

const char *kefo__cbor_read_head(const uint8_t **pp, const uint8_t *end,
                                 kefo_cbor_head *h) {
  const uint8_t *p = *pp;
  size_t n, i;

  if (p >= end) {
    return "the answer ends inside an item";
  }
  h->major = *p >> 5;
  h->ai = *p & 31;
  h->arg = h->ai;
  h->indefinite = 0;
  ++p;
  if (h->ai == 31) {
    if (h->major == 0 || h->major == 1 || h->major == 6) {
      return "an integer or a tag cannot have an indefinite length";
    }
    h->indefinite = 1;
  } else if (h->ai > 27) {
    return "reserved additional information (28-30)";
  } else if (h->ai >= 24) {
    n = (size_t)1 << (h->ai - 24);
    if ((size_t)(end - p) < n) {
      return "the answer ends inside a head";
    }
    h->arg = 0;
    for (i = 0; i < n; ++i) {
      h->arg = h->arg << 8 | *p++;
    }
  }
  *pp = p;
  return NULL;
}

int kefo__cbor_read_string(const uint8_t **pp, const uint8_t *end,
                           const kefo_cbor_head *h, kefo_buf *gather,
                           const uint8_t **data, size_t *len,
                           const char **why) {
  const uint8_t *p = *pp;
  size_t from = gather ? gather->len : 0;

  *data = NULL;
  *len = 0;
  if (!h->indefinite) {
    if (h->arg > (uint64_t)(end - p)) {
      *why = "a string longer than the bytes left";
      return KEFO_ERR_BAD_RESPONSE;
    }
    *data = p;
    *len = (size_t)h->arg;
    *pp = p + h->arg;
    return 0;
  }
  for (;;) {
    kefo_cbor_head ch;
    if (p < end && *p == 0xff) {
      ++p;
      break;
    }
    if ((*why = kefo__cbor_read_head(&p, end, &ch)) != NULL) {
      return KEFO_ERR_BAD_RESPONSE;
    }
    if (ch.major != h->major || ch.indefinite) {
      *why = "a chunk of an indefinite-length string is not a definite "
             "string of its type";
      return KEFO_ERR_BAD_RESPONSE;
    }
    if (ch.arg > (uint64_t)(end - p)) {
      *why = "a string longer than the bytes left";
      return KEFO_ERR_BAD_RESPONSE;
    }
    if (gather && kefo__buf_append(gather, p, (size_t)ch.arg) != 0) {
      *why = "out of memory";
      return KEFO_ERR_NOMEM;
    }
    p += ch.arg;
  }
  if (gather) {
    *data = gather->data ? gather->data + from : p; /* p: nothing gathered */
    *len = gather->len - from;
  }
  *pp = p;
  return 0;
}

const char *kefo__cbor_skip(const uint8_t **pp, const uint8_t *end,
                            int max_depth) {
  const uint8_t *p = *pp;
  const char *why;
  kefo_cbor_head h;
  uint64_t i, n;

  if (max_depth < 0) {
    return "nested too deep";
  }
  if ((why = kefo__cbor_read_head(&p, end, &h)) != NULL) {
    return why;
  }
  switch (h.major) {
  case 2:
  case 3: {
    const uint8_t *data;
    size_t len;
    if (kefo__cbor_read_string(&p, end, &h, NULL, &data, &len, &why) != 0) {
      return why;
    }
    break;
  }
  case 4:
  case 5:
    n = h.major == 5 ? 2 : 1;
    if (!h.indefinite && h.arg > (uint64_t)(end - p) / n) {
      return "more items than the bytes left";
    }
    for (i = 0; h.indefinite || i < h.arg * n; ++i) {
      if (h.indefinite && p < end && *p == 0xff) {
        if (i % n != 0) {
          return "a map ends between a key and its value";
        }
        ++p;
        break;
      }
      if ((why = kefo__cbor_skip(&p, end, max_depth - 1)) != NULL) {
        return why;
      }
    }
    break;
  case 6:
    if ((why = kefo__cbor_skip(&p, end, max_depth - 1)) != NULL) {
      return why;
    }
    break;
  case 7:
    if (h.indefinite) {
      return "a break outside an indefinite-length item";
    }
    if (h.ai == 24 && h.arg < 32) {
      return "a simple value in two bytes below 32";
    }
    break;
  default:
    break;
  }
  *pp = p;
  return NULL;
}

static int read_head(cvt *c, head *h) {
  const uint8_t *at = c->p;
  const char *why = kefo__cbor_read_head(&c->p, c->end, h);

  return why ? fail(c, at, KEFO_ERR_BAD_RESPONSE, "%s", why) : 0;
}

static int emit(cvt *c, const uint8_t *at, const void *s, size_t len) {
  if (len > c->max_out - c->out->len) {
    return fail(c, at, KEFO_ERR_RESPONSE_TOO_LARGE,
                "the answer's JSON would pass %zu bytes", c->max_out);
  }
  return kefo__buf_append(c->out, s, len);
}

static int emit_str(cvt *c, const uint8_t *at, const char *s) {
  return emit(c, at, s, strlen(s));
}

/* A byte or text string's bytes: in place when definite, else gathered
   from its chunks into c->scratch. */
static int string_bytes(cvt *c, const head *h, const uint8_t *at,
                        const uint8_t **data, size_t *len) {
  const char *why;
  int rv;

  kefo__buf_reset(&c->scratch);
  rv = kefo__cbor_read_string(&c->p, c->end, h, &c->scratch, data, len, &why);
  return rv == KEFO_ERR_BAD_RESPONSE ? fail(c, at, rv, "%s", why) : rv;
}

static int string_item(cvt *c, const head *h, const uint8_t *at) {
  const uint8_t *data = NULL;
  size_t len = 0, before = c->out->len;
  int rv = string_bytes(c, h, at, &data, &len);

  if (rv != 0) {
    return rv;
  }
  /* Checked before the text is written: base64 is exactly 4/3, text at
     most 6 bytes a byte (\u00XX). */
  if (h->major == KEFO_CBOR_BYTES ? len / 3 * 4 + 8 > c->max_out - c->out->len
                                  : len > (c->max_out - c->out->len) / 6) {
    return fail(c, at, KEFO_ERR_RESPONSE_TOO_LARGE,
                "the answer's JSON would pass %zu bytes", c->max_out);
  }
  if (h->major == KEFO_CBOR_TEXT) {
    if (!kefo__utf8_valid(data, len)) {
      return fail(c, at, KEFO_ERR_BAD_RESPONSE, "a text string is not UTF-8");
    }
    rv = kefo__json_append_string(c->out, data, len);
  } else {
    rv = kefo__json_append_base64(c->out, data, len);
  }
  if (rv == 0 && c->out->len > c->max_out) {
    c->out->len = before;
    return fail(c, at, KEFO_ERR_RESPONSE_TOO_LARGE,
                "the answer's JSON would pass %zu bytes", c->max_out);
  }
  return rv;
}

/* A half-precision float (RFC 8949, appendix D). */
static double half_to_double(unsigned h) {
  unsigned e = (h >> 10) & 0x1f, m = h & 0x3ff;
  double v;

  if (e == 0) {
    v = ldexp(m, -24);
  } else if (e != 31) {
    v = ldexp(m + 1024, (int)e - 25);
  } else {
    v = m == 0 ? INFINITY : NAN;
  }
  return (h & 0x8000) ? -v : v;
}

static int simple_item(cvt *c, const head *h, const uint8_t *at) {
  char num[40];
  double v;

  switch (h->ai) {
  case 20:
    return emit_str(c, at, "false");
  case 21:
    return emit_str(c, at, "true");
  case 22:
  case 23: /* undefined */
    return emit_str(c, at, "null");
  case 25:
    v = half_to_double((unsigned)h->arg);
    break;
  case 26: {
    uint32_t bits = (uint32_t)h->arg;
    float f;
    memcpy(&f, &bits, sizeof(f));
    v = f;
    break;
  }
  case 27: {
    uint64_t bits = h->arg;
    memcpy(&v, &bits, sizeof(v));
    break;
  }
  default:
    if (h->indefinite) {
      return fail(c, at, KEFO_ERR_BAD_RESPONSE,
                  "a break outside an indefinite-length item");
    }
    return fail(c, at, KEFO_ERR_BAD_RESPONSE, "simple value %llu",
                (unsigned long long)h->arg);
  }
  if (!isfinite(v)) {
    return emit_str(c, at, "null"); /* JSON has no NaN or infinity */
  }
  snprintf(num, sizeof(num), "%.17g", v);
  return emit_str(c, at, num);
}

static int item(cvt *c, int depth);

/* The items of an array (|pairs| 0) or the pairs of a map (1). */
static int container(cvt *c, const head *h, const uint8_t *at, int pairs,
                     int depth) {
  uint64_t i;
  int rv = emit(c, at, pairs ? "{" : "[", 1);

  if (!h->indefinite && (h->arg > left(c) || (pairs && h->arg > left(c) / 2))) {
    return fail(c, at, KEFO_ERR_BAD_RESPONSE, "%llu %s in %zu bytes",
                (unsigned long long)h->arg, pairs ? "pairs" : "items", left(c));
  }
  for (i = 0; rv == 0; ++i) {
    if (h->indefinite) {
      if (c->p < c->end && *c->p == 0xff) {
        ++c->p;
        break;
      }
    } else if (i == h->arg) {
      break;
    }
    if (i > 0 && (rv = emit(c, at, ",", 1)) != 0) {
      break;
    }
    if (pairs) {
      if (c->p < c->end && *c->p >> 5 != KEFO_CBOR_TEXT) {
        return fail(c, c->p, KEFO_ERR_BAD_RESPONSE,
                    "a map key is not a text string");
      }
      if ((rv = item(c, depth + 1)) != 0 || (rv = emit(c, at, ":", 1)) != 0) {
        break;
      }
    }
    rv = item(c, depth + 1);
  }
  return rv != 0 ? rv : emit(c, at, pairs ? "}" : "]", 1);
}

static int item(cvt *c, int depth) {
  const uint8_t *at = c->p;
  char num[32];
  head h;
  int rv;

  if (depth > KEFO_CBOR_MAX_DEPTH) {
    return fail(c, at, KEFO_ERR_BAD_RESPONSE, "nesting deeper than %d",
                KEFO_CBOR_MAX_DEPTH);
  }
  if ((rv = read_head(c, &h)) != 0) {
    return rv;
  }
  switch (h.major) {
  case 0:
    snprintf(num, sizeof(num), "%llu", (unsigned long long)h.arg);
    return emit_str(c, at, num);
  case 1:
    /* -1 - arg; for arg 2^64-1 that is -2^64, past every C integer. */
    if (h.arg == UINT64_MAX) {
      return emit_str(c, at, "-18446744073709551616");
    }
    snprintf(num, sizeof(num), "-%llu", (unsigned long long)h.arg + 1);
    return emit_str(c, at, num);
  case 2:
  case 3:
    return string_item(c, &h, at);
  case 4:
  case 5:
    return container(c, &h, at, h.major == 5, depth);
  case 6:
    return item(c, depth + 1); /* the tag's item, without the tag */
  default:
    return simple_item(c, &h, at);
  }
}

int kefo__cbor_to_json(const uint8_t *in, size_t len, size_t max_out,
                       kefo_buf *out, char *err, size_t errlen) {
  cvt c;
  size_t before = out->len;
  int rv;

  memset(&c, 0, sizeof(c));
  c.start = c.p = in;
  c.end = in + len;
  c.out = out;
  c.max_out = max_out > SIZE_MAX - before ? SIZE_MAX : before + max_out;
  c.err = err;
  c.errlen = errlen;
  kefo__buf_init(&c.scratch, out->mem);
  if (errlen > 0) {
    err[0] = '\0';
  }
  rv = item(&c, 0);
  if (rv == 0 && c.p != c.end) {
    rv = fail(&c, c.p, KEFO_ERR_BAD_RESPONSE, "%zu bytes after the item",
              left(&c));
  }
  if (rv == KEFO_ERR_NOMEM && errlen > 0) {
    snprintf(err, errlen, "CBOR: out of memory");
  }
  kefo__buf_free(&c.scratch);
  if (rv != 0) {
    out->len = before;
  }
  return rv;
}
