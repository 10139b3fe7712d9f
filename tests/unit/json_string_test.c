/*
 * base/json_string.c: each escape, \u escapes and surrogate pairs (every
 * code point, checked by a UTF-8 reader written here), the refusals with
 * their reasons, and whole strings decoded, in place too.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include <kefo/kefo.h>

#include "base/json_string.h"
#include "tests/unit/suites.h"

/* Unescapes the one escape that is all of |text|; returns the outcome and
   the bytes in |out| / |*outlen|. */
static int one(const char *text, uint8_t *out, size_t *outlen,
               const char **why) {
  const uint8_t *p = (const uint8_t *)text, *end = p + strlen(text);
  int rv;

  *why = NULL;
  rv = kefo__json_string_unescape(&p, end, out, outlen, why);
  if (rv == 0) {
    /* The whole text is one escape. */
    CU_ASSERT_PTR_EQUAL(p, end);
  } else {
    /* Left on the backslash. */
    CU_ASSERT_PTR_EQUAL(p, (const uint8_t *)text);
  }
  return rv;
}

static void expect(const char *text, const char *utf8, size_t n) {
  uint8_t out[KEFO_JSON_STRING_UTF8_MAX];
  size_t len = 99;
  const char *why;

  CU_ASSERT_EQUAL_FATAL(one(text, out, &len, &why), 0);
  CU_ASSERT_EQUAL(len, n);
  CU_ASSERT(memcmp(out, utf8, n) == 0);
  /* Checking only gives the same answer. */
  CU_ASSERT_EQUAL(one(text, NULL, NULL, &why), 0);
}

static void refuse(const char *text, const char *reason) {
  uint8_t out[KEFO_JSON_STRING_UTF8_MAX];
  size_t len;
  const char *why;

  CU_ASSERT_EQUAL(one(text, out, &len, &why), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_PTR_NOT_NULL_FATAL(why);
  if (strcmp(why, reason) != 0) {
    fprintf(stderr, "%s: %s\n", text, why);
  }
  CU_ASSERT_STRING_EQUAL(why, reason);
  CU_ASSERT_EQUAL(one(text, NULL, NULL, &why), KEFO_ERR_INVALID_ARGUMENT);
}

static void test_escapes(void) {
  expect("\\\"", "\"", 1);
  expect("\\\\", "\\", 1);
  expect("\\/", "/", 1);
  expect("\\b", "\b", 1);
  expect("\\f", "\f", 1);
  expect("\\n", "\n", 1);
  expect("\\r", "\r", 1);
  expect("\\t", "\t", 1);
  expect("\\u0041", "A", 1);
  expect("\\u0000", "\0", 1);
  expect("\\u007f", "\x7f", 1);
  expect("\\u0080", "\xc2\x80", 2);
  expect("\\u00e9", "\xc3\xa9", 2);
  expect("\\u00E9", "\xc3\xa9", 2);
  expect("\\u07ff", "\xdf\xbf", 2);
  expect("\\u0800", "\xe0\xa0\x80", 3);
  expect("\\u20ac", "\xe2\x82\xac", 3);
  expect("\\uFFFF", "\xef\xbf\xbf", 3);
  expect("\\ud83d\\ude00", "\xf0\x9f\x98\x80", 4);
  expect("\\uD83D\\uDE00", "\xf0\x9f\x98\x80", 4);
  expect("\\uD800\\uDC00", "\xf0\x90\x80\x80", 4);
  expect("\\uDBFF\\uDFFF", "\xf4\x8f\xbf\xbf", 4);
  /* Only the one escape is taken. */
  {
    const uint8_t *s = (const uint8_t *)"\\u0041BC", *p = s;
    uint8_t out[4];
    size_t len;
    CU_ASSERT_EQUAL(kefo__json_string_unescape(&p, s + 8, out, &len, NULL), 0);
    CU_ASSERT_PTR_EQUAL(p, s + 6);
  }
}

static void test_refused(void) {
  refuse("\\", "unterminated string");
  refuse("\\x", "bad escape in a string");
  refuse("\\U0041", "bad escape in a string");
  refuse("\\'", "bad escape in a string");
  refuse("\\0", "bad escape in a string");
  refuse("\\u", "bad \\u escape");
  refuse("\\u12", "bad \\u escape");
  refuse("\\u123", "bad \\u escape");
  refuse("\\u12g4", "bad \\u escape");
  refuse("\\u 123", "bad \\u escape");
  refuse("\\u-123", "bad \\u escape");
  refuse("\\uDC00", "lone low surrogate");
  refuse("\\udfff", "lone low surrogate");
  refuse("\\uD800", "high surrogate without a low one");
  refuse("\\uD800x", "high surrogate without a low one");
  refuse("\\uD800\\u0041", "high surrogate without a low one");
  refuse("\\uD800\\uD800", "high surrogate without a low one");
  refuse("\\uD800\\uDC0", "high surrogate without a low one");
  refuse("\\uD800\\uDCxx", "high surrogate without a low one");
  refuse("\\uD800\\n", "high surrogate without a low one");
  refuse("\\uDBFF\\uE000", "high surrogate without a low one");
  /* No reason wanted: fine too. */
  {
    const uint8_t *s = (const uint8_t *)"\\q", *p = s;
    CU_ASSERT_EQUAL(kefo__json_string_unescape(&p, s + 2, NULL, NULL, NULL),
                    KEFO_ERR_INVALID_ARGUMENT);
  }
}

/* Reads one UTF-8 sequence (not checked for overlong forms: the decoder
   under test writes the shortest). Returns its length, or 0. */
static size_t utf8_read(const uint8_t *s, size_t n, uint32_t *cp) {
  size_t len, i;

  if (n == 0) {
    return 0;
  }
  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  if ((s[0] & 0xe0) == 0xc0) {
    len = 2;
    *cp = s[0] & 0x1f;
  } else if ((s[0] & 0xf0) == 0xe0) {
    len = 3;
    *cp = s[0] & 0x0f;
  } else if ((s[0] & 0xf8) == 0xf0) {
    len = 4;
    *cp = s[0] & 0x07;
  } else {
    return 0;
  }
  if (n < len) {
    return 0;
  }
  for (i = 1; i < len; ++i) {
    if ((s[i] & 0xc0) != 0x80) {
      return 0;
    }
    *cp = *cp << 6 | (s[i] & 0x3f);
  }
  return len;
}

/* Every code point but the surrogates, as \uXXXX or as a pair, decodes
   to the shortest UTF-8 of that code point. */
static void test_every_code_point(void) {
  uint32_t cp, got;
  char text[16];
  uint8_t out[KEFO_JSON_STRING_UTF8_MAX];
  size_t len, want, bad = 0;
  const char *why;

  for (cp = 0; cp <= 0x10FFFF && bad < 10; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      snprintf(text, sizeof(text), "\\u%04x", (unsigned)cp);
      bad += one(text, out, &len, &why) == 0;
      continue;
    }
    if (cp < 0x10000) {
      snprintf(text, sizeof(text), cp & 1 ? "\\u%04X" : "\\u%04x",
               (unsigned)cp);
    } else {
      snprintf(text, sizeof(text), "\\u%04x\\u%04X",
               (unsigned)(0xD800 + ((cp - 0x10000) >> 10)),
               (unsigned)(0xDC00 + ((cp - 0x10000) & 0x3ff)));
    }
    want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (one(text, out, &len, &why) != 0 || len != want ||
        utf8_read(out, len, &got) != len || got != cp) {
      fprintf(stderr, "U+%04X\n", (unsigned)cp);
      ++bad;
    }
  }
  CU_ASSERT_EQUAL(bad, 0);
}

static void decode_ok(const char *text, const char *want, size_t wantlen) {
  uint8_t buf[128];
  size_t n = strlen(text), outlen = 999;
  const char *why = NULL;

  CU_ASSERT_EQUAL(
      kefo__json_string_decode(buf, &outlen, (const uint8_t *)text, n, &why),
      0);
  CU_ASSERT_EQUAL(outlen, wantlen);
  CU_ASSERT(memcmp(buf, want, wantlen) == 0);
  /* In place: decoding never overtakes what it reads. */
  memcpy(buf, text, n);
  CU_ASSERT_EQUAL(kefo__json_string_decode(buf, &outlen, buf, n, &why), 0);
  CU_ASSERT_EQUAL(outlen, wantlen);
  CU_ASSERT(memcmp(buf, want, wantlen) == 0);
}

static void test_decode(void) {
  uint8_t buf[64];
  size_t outlen;
  const char *why = NULL;

  decode_ok("", "", 0);
  decode_ok("plain text, no escapes", "plain text, no escapes", 22);
  decode_ok("a\\nb", "a\nb", 3);
  decode_ok("\\\"quoted\\\"", "\"quoted\"", 8);
  decode_ok("caf\\u00e9 \\u20ac \\ud83d\\ude00!",
            "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80!", 15);
  decode_ok("\\u0000x", "\0x", 2);
  decode_ok("\\\\\\\\\\/", "\\\\/", 3);
  /* Raw bytes of 0x80 and up pass as they are. */
  decode_ok("\xc3\xa9\xff", "\xc3\xa9\xff", 3);

  CU_ASSERT_EQUAL(kefo__json_string_decode(
                      buf, &outlen, (const uint8_t *)"ab\\uDC00", 8, &why),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_STRING_EQUAL(why, "lone low surrogate");
  CU_ASSERT_EQUAL(
      kefo__json_string_decode(buf, &outlen, (const uint8_t *)"ab\\", 3, &why),
      KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_STRING_EQUAL(why, "unterminated string");
  /* The length bounds the read: a pair cut by it is refused. */
  CU_ASSERT_EQUAL(kefo__json_string_decode(buf, &outlen,
                                           (const uint8_t *)"\\ud83d\\ude00",
                                           11, &why),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_STRING_EQUAL(why, "high surrogate without a low one");
}

int kefo_add_json_string_suite(void) {
  CU_pSuite s = CU_add_suite("json_string", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "escapes", test_escapes) ||
      !CU_add_test(s, "refused", test_refused) ||
      !CU_add_test(s, "every_code_point", test_every_code_point) ||
      !CU_add_test(s, "decode", test_decode)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
