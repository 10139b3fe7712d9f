/*
 * Base64 against the RFC 4648 test vectors, bad input, in-place decoding
 * and a round trip over every length up to 300.
 */
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <openssl/evp.h>

#include <kefo/kefo.h>

#include "base/base64.h"
#include "tests/unit/suites.h"

/* RFC 4648, section 10. */
static const char *const rfc_plain[] = {"",     "f",     "fo",    "foo",
                                        "foob", "fooba", "foobar"};
static const char *const rfc_b64[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

static void test_rfc4648(void) {
  size_t i, n;
  uint8_t out[64];

  for (i = 0; i < 7; ++i) {
    const char *p = rfc_plain[i], *e = rfc_b64[i];
    CU_ASSERT_EQUAL(kefo__base64_encode(out, sizeof(out), (const uint8_t *)p,
                                        strlen(p), &n),
                    0);
    CU_ASSERT_EQUAL(n, strlen(e));
    CU_ASSERT_EQUAL(memcmp(out, e, n), 0);
    CU_ASSERT_EQUAL(kefo__base64_decode(out, sizeof(out), (const uint8_t *)e,
                                        strlen(e), &n),
                    0);
    CU_ASSERT_EQUAL(n, strlen(p));
    CU_ASSERT_EQUAL(memcmp(out, p, n), 0);
  }
  /* Both alphabet ends and all 64 symbols. */
  {
    static const char all[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t back[64];
    CU_ASSERT_EQUAL(
        kefo__base64_decode(out, sizeof(out), (const uint8_t *)all, 64, &n), 0);
    CU_ASSERT_EQUAL(n, 48);
    CU_ASSERT_EQUAL(kefo__base64_encode(back, sizeof(back), out, n, &n), 0);
    CU_ASSERT_EQUAL(memcmp(back, all, 64), 0);
  }
}

static int decode_str(const char *s) {
  uint8_t out[64];
  size_t n;

  return kefo__base64_decode(out, sizeof(out), (const uint8_t *)s, strlen(s),
                             &n);
}

static void test_bad_input(void) {
  CU_ASSERT_EQUAL(decode_str("Zm9"), KEFO_ERR_BASE64);        /* length */
  CU_ASSERT_EQUAL(decode_str("Zm9v!A=="), KEFO_ERR_BASE64);   /* char */
  CU_ASSERT_EQUAL(decode_str("Zm=v"), KEFO_ERR_BASE64);       /* pad inside */
  CU_ASSERT_EQUAL(decode_str("Z==="), KEFO_ERR_BASE64);       /* too much */
  CU_ASSERT_EQUAL(decode_str("Zg==Zm9v"), KEFO_ERR_BASE64);   /* pad early */
  CU_ASSERT_EQUAL(decode_str("Zm9v\nZm9v"), KEFO_ERR_BASE64); /* space */
  CU_ASSERT_EQUAL(decode_str("Zm9-"), KEFO_ERR_BASE64);       /* url alpha */
  CU_ASSERT_EQUAL(decode_str("\xc3\xa9\xc3\xa9"), KEFO_ERR_BASE64);
  {
    uint8_t out[2];
    size_t n;
    CU_ASSERT_EQUAL(
        kefo__base64_decode(out, sizeof(out), (const uint8_t *)"Zm9v", 4, &n),
        KEFO_ERR_BUFFER_TOO_SMALL);
    CU_ASSERT_EQUAL(
        kefo__base64_encode(out, sizeof(out), (const uint8_t *)"f", 1, &n),
        KEFO_ERR_BUFFER_TOO_SMALL);
  }
}

static void test_round_trip_in_place(void) {
  uint8_t src[300], enc[400];
  size_t len, i, n, m;

  for (i = 0; i < sizeof(src); ++i) {
    src[i] = (uint8_t)(i * 97 + 13);
  }
  for (len = 0; len <= sizeof(src); ++len) {
    CU_ASSERT_EQUAL_FATAL(kefo__base64_encode(enc, sizeof(enc), src, len, &n),
                          0);
    CU_ASSERT_EQUAL(n, kefo__base64_encoded_len(len));
    /* In place, as the JSON layer decodes a Data string where it lies. */
    CU_ASSERT_EQUAL_FATAL(kefo__base64_decode(enc, n, enc, n, &m), 0);
    CU_ASSERT_EQUAL(m, len);
    CU_ASSERT(m == 0 || memcmp(enc, src, m) == 0);
  }
}

/* A bad character anywhere, in the flat groups or the last one, is caught;
   so is one in every byte position of a group. */
static void test_bad_char_every_position(void) {
  uint8_t src[120], enc[200], out[200];
  size_t i, n, m, pos;
  static const uint8_t bad[] = {'!', '=', '-', '_', ' ', 0x80, 0xff, 0};

  for (i = 0; i < sizeof(src); ++i) {
    src[i] = (uint8_t)(i * 31 + 5);
  }
  CU_ASSERT_EQUAL_FATAL(kefo__base64_encode(enc, sizeof(enc), src, 120, &n), 0);
  for (pos = 0; pos < n; ++pos) {
    for (i = 0; i < sizeof(bad); ++i) {
      uint8_t keep = enc[pos];
      /* '=' is legal in the last two places only when it pads. */
      if (bad[i] == '=' && pos >= n - 2) {
        continue;
      }
      enc[pos] = bad[i];
      CU_ASSERT_EQUAL(kefo__base64_decode(out, sizeof(out), enc, n, &m),
                      KEFO_ERR_BASE64);
      CU_ASSERT_EQUAL(m, 0);
      enc[pos] = keep;
    }
  }
  CU_ASSERT_EQUAL(kefo__base64_decode(out, sizeof(out), enc, n, &m), 0);
  CU_ASSERT_EQUAL(m, 120);
  CU_ASSERT_EQUAL(memcmp(out, src, 120), 0);
}

/* The AVX2 path (32 characters a step, on CPUs that have it) against the
   scalar one: every byte value at every position of a 160-character text,
   which spans several vector steps and the scalar tail, gives the same
   verdict; valid texts of every length to 400 decode the same, into a
   buffer of exactly the decoded size (the vector stores run 8 bytes past
   the 24 they decode, so this checks their bound under ASan). */
static void test_vector_path_agrees(void) {
  uint8_t src[300], enc[400], a[400], *b;
  size_t i, n, na, nb, pos, len;
  int v;

  for (i = 0; i < sizeof(src); ++i) {
    src[i] = (uint8_t)(i * 131 + 7);
  }
  CU_ASSERT_EQUAL_FATAL(kefo__base64_encode(enc, sizeof(enc), src, 120, &n), 0);
  CU_ASSERT_EQUAL_FATAL(n, 160);
  for (pos = 0; pos < n; ++pos) {
    uint8_t keep = enc[pos];
    for (v = 0; v < 256; ++v) {
      int ra, rb;
      enc[pos] = (uint8_t)v;
      ra = kefo__base64_decode_simd(a, sizeof(a), enc, n, &na, 1);
      rb = kefo__base64_decode_simd(a + 200, 200, enc, n, &nb, 0);
      CU_ASSERT_EQUAL(ra, rb);
      CU_ASSERT(ra != 0 || (na == nb && memcmp(a, a + 200, na) == 0));
      if (ra != rb) {
        break;
      }
    }
    enc[pos] = keep;
  }
  for (len = 0; len <= sizeof(src); ++len) {
    size_t cap;
    CU_ASSERT_EQUAL_FATAL(kefo__base64_encode(enc, sizeof(enc), src, len, &n),
                          0);
    cap = kefo__base64_decoded_max(n);
    b = malloc(cap ? cap : 1);
    CU_ASSERT_EQUAL_FATAL(kefo__base64_decode_simd(b, cap, enc, n, &nb, 1), 0);
    CU_ASSERT_EQUAL(nb, len);
    CU_ASSERT(len == 0 || memcmp(b, src, len) == 0);
    free(b);
  }
}

/* The encoder's vector path (AVX2, 24 bytes a step) against its scalar
   path and against OpenSSL's EVP_EncodeBlock as an independent encoder:
   every length to 1,500 at 8 alignments, so every tail after the vector
   steps and the 4 bytes they read ahead are covered. */
static void test_encode_vector_path_agrees(void) {
  static uint8_t src[1600], a[2100], b[2100], c[2100];
  size_t off, len, i, na, nb;
  int nc;

  for (i = 0; i < sizeof(src); ++i) {
    src[i] = (uint8_t)((i * 2654435761u) >> 9);
  }
  for (off = 0; off < 8; ++off) {
    for (len = 0; len <= 1500; ++len) {
      CU_ASSERT_EQUAL_FATAL(
          kefo__base64_encode_simd(a, sizeof(a), src + off, len, &na, 1), 0);
      CU_ASSERT_EQUAL_FATAL(
          kefo__base64_encode_simd(b, sizeof(b), src + off, len, &nb, 0), 0);
      nc = EVP_EncodeBlock(c, src + off, (int)len);
      CU_ASSERT_EQUAL(na, kefo__base64_encoded_len(len));
      CU_ASSERT(na == nb && memcmp(a, b, na) == 0);
      CU_ASSERT((size_t)nc == na && memcmp(a, c, na) == 0);
    }
  }
}

int kefo_add_base64_suite(void) {
  CU_pSuite s = CU_add_suite("base64", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "rfc4648", test_rfc4648) ||
      !CU_add_test(s, "bad_input", test_bad_input) ||
      !CU_add_test(s, "round_trip_in_place", test_round_trip_in_place) ||
      !CU_add_test(s, "bad_char_every_position",
                   test_bad_char_every_position) ||
      !CU_add_test(s, "vector_path_agrees", test_vector_path_agrees) ||
      !CU_add_test(s, "encode_vector_path_agrees",
                   test_encode_vector_path_agrees)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
