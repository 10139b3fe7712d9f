/*
 * kefo's MD5 against RFC 1321's test suite and against OpenSSL's MD5 as
 * an independent reference: every length to 300 and every alignment one
 * message at a time, and batches of mixed lengths through each lane width
 * this CPU has (1, 8 with AVX2, 16 and 32 with AVX-512F).
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <openssl/evp.h>

#include <kefo/kefo.h>

#include "base/md5.h"
#include "tests/unit/suites.h"

static void hex(const uint8_t d[KEFO_MD5_LEN], char out[33]) {
  size_t i;

  for (i = 0; i < KEFO_MD5_LEN; i++) {
    snprintf(out + 2 * i, 3, "%02x", d[i]);
  }
}

static void openssl_md5(const uint8_t *p, size_t len, uint8_t out[16]) {
  unsigned int n = 0;

  CU_ASSERT_FATAL(EVP_Digest(p, len, out, &n, EVP_md5(), NULL) == 1);
  CU_ASSERT_FATAL(n == 16);
}

/* RFC 1321, appendix A.5. */
static void test_rfc1321_suite(void) {
  static const struct {
    const char *in, *md5;
  } v[] = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"a", "0cc175b9c0f1b6a831c399e269772661"},
      {"abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
      {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
       "d174ab98d277d9f5a5611c2c9f419d9f"},
      {"1234567890123456789012345678901234567890123456789012345678901234567890"
       "1234567890",
       "57edf4a22be3c955ac49da2e2107b67a"},
  };
  kefo_md5_job jobs[7];
  uint8_t d[7][KEFO_MD5_LEN];
  char h[33];
  size_t i;
  int lanes;

  for (i = 0; i < 7; i++) {
    kefo__md5(v[i].in, strlen(v[i].in), d[i]);
    hex(d[i], h);
    CU_ASSERT_STRING_EQUAL(h, v[i].md5);
  }
  for (lanes = 0; lanes <= 32; lanes++) {
    memset(d, 0, sizeof(d));
    for (i = 0; i < 7; i++) {
      jobs[i].data = (const uint8_t *)v[i].in;
      jobs[i].len = strlen(v[i].in);
      jobs[i].out = d[i];
    }
    if (kefo__md5_many_lanes(jobs, 7, lanes) != 0) {
      continue;
    }
    for (i = 0; i < 7; i++) {
      hex(d[i], h);
      CU_ASSERT_STRING_EQUAL(h, v[i].md5);
    }
  }
}

static uint8_t buf[80000];

static void fill(void) {
  size_t i;

  for (i = 0; i < sizeof(buf); i++) {
    buf[i] = (uint8_t)((i * 2654435761u) >> 11);
  }
}

static void test_matches_openssl(void) {
  static const size_t long_lens[] = {1023, 1024, 4096, 65536, 65537, 79990};
  uint8_t a[KEFO_MD5_LEN], b[KEFO_MD5_LEN];
  size_t off, len, i;

  fill();
  for (off = 0; off < 8; off++) {
    /* 55, 56, 63, 64 and 119-120 are where the padding takes a second
       block. */
    for (len = 0; len <= 300; len++) {
      kefo__md5(buf + off, len, a);
      openssl_md5(buf + off, len, b);
      CU_ASSERT(memcmp(a, b, KEFO_MD5_LEN) == 0);
    }
    for (i = 0; i < 6; i++) {
      kefo__md5(buf + off, long_lens[i], a);
      openssl_md5(buf + off, long_lens[i], b);
      CU_ASSERT(memcmp(a, b, KEFO_MD5_LEN) == 0);
    }
  }
}

/* A cheap deterministic generator, so a failure repeats. */
static uint32_t next_rand(uint32_t *s) {
  *s = *s * 1103515245u + 12345u;
  return *s >> 8;
}

/* Batches of 0 to 200 messages of mixed lengths (some empty, some of many
   blocks, so lanes finish at different times and take the next one) through
   every lane width this CPU has, each digest against OpenSSL's. */
static void test_lanes_match(void) {
  enum { MAX = 200 };
  static kefo_md5_job jobs[MAX];
  static uint8_t outs[MAX][KEFO_MD5_LEN];
  static const int widths[] = {0, 1, 8, 16, 32};
  uint8_t b[KEFO_MD5_LEN];
  uint32_t seed = 7;
  size_t round, i, n, checked = 0;
  int w, tried = 0;

  fill();
  for (w = 0; w < 5; w++) {
    for (round = 0; round < 60; round++) {
      n = round == 0 ? 0 : next_rand(&seed) % MAX;
      for (i = 0; i < n; i++) {
        size_t maxlen = round % 3 == 0 ? 300 : round % 3 == 1 ? 5000 : 70000;
        jobs[i].len = next_rand(&seed) % maxlen;
        jobs[i].data = buf + next_rand(&seed) % (sizeof(buf) - jobs[i].len);
        jobs[i].out = outs[i];
        memset(outs[i], 0, KEFO_MD5_LEN);
      }
      if (kefo__md5_many_lanes(jobs, n, widths[w]) != 0) {
        /* Only a width this CPU lacks may be refused. */
        CU_ASSERT(widths[w] > kefo__md5_lanes());
        break;
      }
      tried += round == 0;
      for (i = 0; i < n; i++) {
        openssl_md5(jobs[i].data, jobs[i].len, b);
        CU_ASSERT(memcmp(outs[i], b, KEFO_MD5_LEN) == 0);
        checked++;
      }
    }
  }
  /* 0 (the default), 1, and what the CPU has. */
  CU_ASSERT(tried >= 2);
  CU_ASSERT(checked > 1000);
  /* kefo__md5_many itself, below and above its lane threshold. */
  for (n = 0; n < 40; n++) {
    for (i = 0; i < n; i++) {
      jobs[i].len = i * 37 % 300;
      jobs[i].data = buf + i;
      jobs[i].out = outs[i];
    }
    kefo__md5_many(jobs, n);
    for (i = 0; i < n; i++) {
      openssl_md5(jobs[i].data, jobs[i].len, b);
      CU_ASSERT(memcmp(outs[i], b, KEFO_MD5_LEN) == 0);
    }
  }
}

static void test_bad_widths(void) {
  kefo_md5_job j;
  uint8_t d[KEFO_MD5_LEN];

  j.data = (const uint8_t *)"a";
  j.len = 1;
  j.out = d;
  CU_ASSERT_EQUAL(kefo__md5_many_lanes(&j, 1, 2), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__md5_many_lanes(&j, 1, 64), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__md5_many_lanes(&j, 1, -1), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT(kefo__md5_lanes() == 1 || kefo__md5_lanes() == 8 ||
            kefo__md5_lanes() == 32);
}

int kefo_add_md5_suite(void) {
  CU_pSuite s = CU_add_suite("md5", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "rfc1321_suite", test_rfc1321_suite) ||
      !CU_add_test(s, "matches_openssl", test_matches_openssl) ||
      !CU_add_test(s, "lanes_match", test_lanes_match) ||
      !CU_add_test(s, "bad_widths", test_bad_widths)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
