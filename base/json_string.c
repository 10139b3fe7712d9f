/*
 * The JSON escape decoder of base/json_string.h. Escapes are rare in what
 * kefo reads (AWS keys, tokens and base64 data have none), so the decoder
 * copies the runs between them whole.
 */
#include "base/json_string.h"

#include <string.h>

#include <kefo/kefo.h>

static int hex4(const uint8_t *s, uint32_t *out) {
  uint32_t v = 0;
  int i;

  for (i = 0; i < 4; ++i) {
    uint8_t c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9') {
      v |= (uint32_t)(c - '0');
    } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
      v |= (uint32_t)((c | 0x20) - 'a' + 10);
    } else {
      return -1;
    }
  }
  *out = v;
  return 0;
}

static size_t put_utf8(uint8_t *d, uint32_t u) {
  if (u < 0x80) {
    d[0] = (uint8_t)u;
    return 1;
  }
  if (u < 0x800) {
    d[0] = (uint8_t)(0xC0 | (u >> 6));
    d[1] = (uint8_t)(0x80 | (u & 0x3F));
    return 2;
  }
  if (u < 0x10000) {
    d[0] = (uint8_t)(0xE0 | (u >> 12));
    d[1] = (uint8_t)(0x80 | ((u >> 6) & 0x3F));
    d[2] = (uint8_t)(0x80 | (u & 0x3F));
    return 3;
  }
  d[0] = (uint8_t)(0xF0 | (u >> 18));
  d[1] = (uint8_t)(0x80 | ((u >> 12) & 0x3F));
  d[2] = (uint8_t)(0x80 | ((u >> 6) & 0x3F));
  d[3] = (uint8_t)(0x80 | (u & 0x3F));
  return 4;
}

static int bad(const char **why, const char *what) {
  if (why != NULL) {
    *why = what;
  }
  return KEFO_ERR_INVALID_ARGUMENT;
}

int kefo__json_string_unescape(const uint8_t **p, const uint8_t *end,
                               uint8_t *out, size_t *outlen, const char **why) {
  const uint8_t *s = *p;
  uint32_t u, lo;
  size_t used = 2;
  uint8_t c;

  if (end - s < 2) {
    return bad(why, "unterminated string");
  }
  switch (s[1]) {
  case '"':
  case '\\':
  case '/':
    c = s[1];
    break;
  case 'b':
    c = '\b';
    break;
  case 'f':
    c = '\f';
    break;
  case 'n':
    c = '\n';
    break;
  case 'r':
    c = '\r';
    break;
  case 't':
    c = '\t';
    break;
  case 'u':
    if (end - s < 6 || hex4(s + 2, &u) != 0) {
      return bad(why, "bad \\u escape");
    }
    if (u >= 0xDC00 && u <= 0xDFFF) {
      return bad(why, "lone low surrogate");
    }
    used = 6;
    if (u >= 0xD800 && u <= 0xDBFF) {
      if (end - s < 12 || s[6] != '\\' || s[7] != 'u' ||
          hex4(s + 8, &lo) != 0 || lo < 0xDC00 || lo > 0xDFFF) {
        return bad(why, "high surrogate without a low one");
      }
      u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
      used = 12;
    }
    if (out != NULL) {
      *outlen = put_utf8(out, u);
    }
    *p = s + used;
    return 0;
  default:
    return bad(why, "bad escape in a string");
  }
  if (out != NULL) {
    out[0] = c;
    *outlen = 1;
  }
  *p = s + used;
  return 0;
}

int kefo__json_string_decode(uint8_t *out, size_t *outlen, const uint8_t *s,
                             size_t len, const char **why) {
  const uint8_t *p = s, *end = s + len;
  uint8_t *d = out;

  while (p < end) {
    const uint8_t *bs = memchr(p, '\\', (size_t)(end - p));
    size_t run = (size_t)((bs != NULL ? bs : end) - p), n;
    int rv;

    memmove(d, p, run);
    d += run;
    p += run;
    if (p == end) {
      break;
    }
    rv = kefo__json_string_unescape(&p, end, d, &n, why);
    if (rv != 0) {
      return rv;
    }
    d += n;
  }
  *outlen = (size_t)(d - out);
  return 0;
}
