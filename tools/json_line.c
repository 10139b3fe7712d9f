/*
 * json_line: kefo-reader's JSON line for one record (see json_line.h).
 * Plain and byte by byte: a line costs far less than writing it out.
 */
#include "tools/json_line.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Room for |n| more bytes. Returns 0, or -1 when out of memory. */
static int reserve(json_line *o, size_t n) {
  size_t cap;
  char *nd;

  if (o->cap - o->len >= n) {
    return 0;
  }
  cap = o->cap ? o->cap : 256;
  while (cap - o->len < n) {
    if (cap > SIZE_MAX / 2) {
      return -1;
    }
    cap *= 2;
  }
  nd = realloc(o->data, cap);
  if (nd == NULL) {
    return -1;
  }
  o->data = nd;
  o->cap = cap;
  return 0;
}

static int put(json_line *o, const char *s, size_t n) {
  if (reserve(o, n) != 0) {
    return -1;
  }
  memcpy(o->data + o->len, s, n);
  o->len += n;
  return 0;
}

static int puts_(json_line *o, const char *s) {
  return put(o, s, strlen(s));
}

/* |s| as a JSON string: quotes, backslash and control characters
   escaped (RFC 8259 section 7: \n \r \t short, others \u00XX);
   other bytes as they are (the caller checked them as UTF-8). */
static int string(json_line *o, const uint8_t *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  size_t i;

  /* At most 6 bytes an input byte (\u00XX), and the quotes. */
  if (n > (SIZE_MAX - 2) / 6 || reserve(o, n * 6 + 2) != 0) {
    return -1;
  }
  o->data[o->len++] = '"';
  for (i = 0; i < n; ++i) {
    uint8_t c = s[i];
    char *p = o->data + o->len;
    if (c == '"' || c == '\\') {
      p[0] = '\\';
      p[1] = (char)c;
      o->len += 2;
    } else if (c == '\n' || c == '\r' || c == '\t') {
      p[0] = '\\';
      p[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
      o->len += 2;
    } else if (c < 0x20) {
      memcpy(p, "\\u00", 4);
      p[4] = hex[c >> 4];
      p[5] = hex[c & 15];
      o->len += 6;
    } else {
      *p = (char)c;
      ++o->len;
    }
  }
  o->data[o->len++] = '"';
  return 0;
}

static int base64(json_line *o, const uint8_t *s, size_t n) {
  static const char a[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i;
  char *p;

  if (n > SIZE_MAX / 2 || reserve(o, (n + 2) / 3 * 4 + 2) != 0) {
    return -1;
  }
  p = o->data + o->len;
  *p++ = '"';
  for (i = 0; i + 2 < n; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    *p++ = a[v >> 18];
    *p++ = a[(v >> 12) & 63];
    *p++ = a[(v >> 6) & 63];
    *p++ = a[v & 63];
  }
  if (i < n) {
    uint32_t v =
        (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
    *p++ = a[v >> 18];
    *p++ = a[(v >> 12) & 63];
    *p++ = i + 1 < n ? a[(v >> 6) & 63] : '=';
    *p++ = '=';
  }
  *p++ = '"';
  o->len = (size_t)(p - o->data);
  return 0;
}

int json_line_utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;

  while (i < n) {
    uint8_t c = s[i];
    size_t k;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      k = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      k = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      k = 3;
      cp = c & 0x07;
    } else {
      return 0;
    }
    if (n - i <= k) {
      return 0;
    }
    for (size_t j = 1; j <= k; ++j) {
      if ((s[i + j] & 0xc0) != 0x80) {
        return 0;
      }
      cp = cp << 6 | (s[i + j] & 0x3f);
    }
    /* Overlong forms, surrogates, past U+10FFFF. */
    if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
        (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) {
      return 0;
    }
    i += k + 1;
  }
  return 1;
}

static void iso8601(char *out, size_t n, int64_t ms) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;

  /* A year past 9999 (a bogus arrival time) would not fit: print none
     rather than a cut one. */
  if (gmtime_r(&t, &tm) == NULL ||
      snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
               tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
               (int)(ms % 1000)) >= (int)n) {
    out[0] = '\0';
  }
}

int json_line_record(json_line *out, const char *shard, const kefo_record *r) {
  char head[512], when[40];
  int rv = 0;

  out->len = 0;
  iso8601(when, sizeof(when), r->approximate_arrival_ms);
  /* Shard ids and sequence numbers are checked by kefo: digits and
     [A-Za-z0-9_.-], nothing to escape. */
  snprintf(head, sizeof(head),
           "{\"shard\":\"%s\",\"sequence_number\":\"%s\","
           "\"sub_sequence_number\":%llu,\"arrival\":\"%s\","
           "\"partition_key\":",
           shard, r->sequence_number,
           (unsigned long long)r->sub_sequence_number, when);
  rv |= puts_(out, head);
  rv |=
      string(out, (const uint8_t *)r->partition_key, strlen(r->partition_key));
  if (json_line_utf8_valid(r->data, r->data_len)) {
    rv |= puts_(out, ",\"data\":");
    rv |= string(out, r->data, r->data_len);
  } else {
    rv |= puts_(out, ",\"data_base64\":");
    rv |= base64(out, r->data, r->data_len);
  }
  rv |= puts_(out, "}\n");
  return rv ? -1 : 0;
}

void json_line_free(json_line *out) {
  free(out->data);
  out->data = NULL;
  out->len = out->cap = 0;
}
