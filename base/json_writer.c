/*
 * JSON string output. Escaping walks runs of plain bytes and copies each
 * run at once, since record data is mostly plain text.
 */
#include "base/json_writer.h"

#include <kefo/kefo.h>

#include "base/base64.h"

int kefo__utf8_valid(const uint8_t *s, size_t len) {
  size_t i = 0;

  while (i < len) {
    uint8_t c = s[i];
    size_t n;
    uint32_t cp;

    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (len - i - 1 < n) {
      return 0;
    }
    for (size_t k = 1; k <= n; ++k) {
      if ((s[i + k] & 0xc0) != 0x80) {
        return 0;
      }
      cp = cp << 6 | (s[i + k] & 0x3f);
    }
    /* Overlongs, surrogates and values past U+10FFFF. */
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      return 0;
    }
    i += n + 1;
  }
  return 1;
}

int kefo__json_append_string(kefo_buf *b, const uint8_t *s, size_t len) {
  static const char hex[] = "0123456789abcdef";
  size_t i = 0, run = 0;
  int rv;

  rv = kefo__buf_append_byte(b, '"');
  while (rv == 0 && i < len) {
    uint8_t c = s[i];
    if (c >= 0x20 && c != '"' && c != '\\') {
      ++i;
      continue;
    }
    rv = kefo__buf_append(b, s + run, i - run);
    if (rv != 0) {
      break;
    }
    switch (c) {
    case '"':
      rv = kefo__buf_append(b, "\\\"", 2);
      break;
    case '\\':
      rv = kefo__buf_append(b, "\\\\", 2);
      break;
    case '\n':
      rv = kefo__buf_append(b, "\\n", 2);
      break;
    case '\r':
      rv = kefo__buf_append(b, "\\r", 2);
      break;
    case '\t':
      rv = kefo__buf_append(b, "\\t", 2);
      break;
    default: {
      char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      rv = kefo__buf_append(b, u, 6);
    }
    }
    run = ++i;
  }
  if (rv == 0) {
    rv = kefo__buf_append(b, s + run, len - run);
  }
  if (rv == 0) {
    rv = kefo__buf_append_byte(b, '"');
  }
  return rv;
}

int kefo__json_append_base64(kefo_buf *b, const uint8_t *s, size_t len) {
  size_t n = kefo__base64_encoded_len(len), w;
  int rv = kefo__buf_reserve(b, n + 2);

  if (rv != 0) {
    return rv;
  }
  b->data[b->len++] = '"';
  kefo__base64_encode(b->data + b->len, n, s, len, &w);
  b->len += w;
  b->data[b->len++] = '"';
  return 0;
}
