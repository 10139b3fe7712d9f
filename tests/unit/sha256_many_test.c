/*
 * kefo__sha256_many against the examples of FIPS 180-2 (appendix B) and
 * against OpenSSL's SHA-256 as an independent reference: every length to
 * 300 (where padding takes one block or two) at every alignment, long
 * messages, and batches of mixed lengths through every number of ways
 * this CPU has (0: OpenSSL one by one; 1 to 6 with the SHA extensions;
 * 16 in AVX-512's lanes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <openssl/evp.h>

#include <kefo/kefo.h>

#include "aws/sha256_lanes.h"
#include "aws/sha256_many.h"
#include "tests/unit/suites.h"

static void hex(const uint8_t d[KEFO_SHA256_LEN], char out[65]) {
  size_t i;

  for (i = 0; i < KEFO_SHA256_LEN; i++) {
    snprintf(out + 2 * i, 3, "%02x", d[i]);
  }
}

/* Every value of |ways| kefo__sha256_many_ways takes somewhere. */
static const int all_ways[] = {0, 1, 2, 3, 4, 5, 6, KEFO_SHA256_LANES};
#define N_WAYS (sizeof(all_ways) / sizeof(all_ways[0]))

/* Whether |ways| should work here, from the CPU's flags as the compiler's
   runtime reads them (not from the code under test). */
static int usable(int ways) {
  if (ways == 0) {
    return 1;
  }
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (ways == KEFO_SHA256_LANES) {
    return __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512bw");
  }
  return ways >= 1 && ways <= 6 && __builtin_cpu_supports("sha") &&
         __builtin_cpu_supports("ssse3") && __builtin_cpu_supports("sse4.1");
#else
  return 0;
#endif
}

static void openssl_sha256(const uint8_t *p, size_t len, uint8_t out[32]) {
  unsigned int n = 0;

  CU_ASSERT_FATAL(EVP_Digest(len ? (const void *)p : "", len, out, &n,
                             EVP_sha256(), NULL) == 1);
  CU_ASSERT_FATAL(n == 32);
}

static uint8_t buf[140000];

static void fill(void) {
  size_t i;

  for (i = 0; i < sizeof(buf); i++) {
    buf[i] = (uint8_t)((i * 2654435761u) >> 11);
  }
}

/* FIPS 180-2 appendix B.1-B.3 (one block, two blocks, a million 'a'),
   and the empty message. */
static void test_fips_examples(void) {
  static const char *const md[4] = {
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
      "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"};
  static uint8_t million[1000000];
  kefo_sha256_job jobs[4];
  uint8_t d[4][KEFO_SHA256_LEN];
  char h[65];
  size_t w;
  int ways, i, ran = 0, expected = 0;

  memset(million, 'a', sizeof(million));
  for (w = 0; w < N_WAYS; w++) {
    ways = all_ways[w];
    expected += usable(ways);
    memset(d, 0, sizeof(d));
    jobs[0].data = NULL;
    jobs[0].len = 0;
    jobs[1].data = (const uint8_t *)"abc";
    jobs[1].len = 3;
    jobs[2].data = (const uint8_t *)"abcdbcdecdefdefgefghfghighijhijkijkljklm"
                                    "klmnlmnomnopnopq";
    jobs[2].len = 56;
    jobs[3].data = million;
    jobs[3].len = sizeof(million);
    for (i = 0; i < 4; i++) {
      jobs[i].out = d[i];
    }
    if (kefo__sha256_many_ways(jobs, 4, ways) != 0) {
      CU_ASSERT(!usable(ways));
      continue;
    }
    CU_ASSERT(usable(ways));
    ran++;
    for (i = 0; i < 4; i++) {
      hex(d[i], h);
      CU_ASSERT_STRING_EQUAL(h, md[i]);
    }
  }
  CU_ASSERT(ran == expected);
}

/* One message at a time, through every way count, each length at each
   alignment: the padding's one- and two-block ends (55, 56, 63, 64,
   119, 120) and messages of many blocks. */
static void test_lengths_match_openssl(void) {
  static const size_t long_lens[] = {1023, 1024, 4096, 65536, 65537, 139990};
  uint8_t a[KEFO_SHA256_LEN], b[KEFO_SHA256_LEN];
  kefo_sha256_job j;
  size_t off, len, w;
  int ways;

  fill();
  for (w = 0; w < N_WAYS; w++) {
    ways = all_ways[w];
    if (!usable(ways)) {
      continue;
    }
    for (off = 0; off < 8; off++) {
      for (len = 0; len <= 300 + 6; len++) {
        j.len = len <= 300 ? len : long_lens[len - 301];
        j.data = buf + off;
        j.out = a;
        memset(a, 0, sizeof(a));
        CU_ASSERT_FATAL(kefo__sha256_many_ways(&j, 1, ways) == 0);
        openssl_sha256(j.data, j.len, b);
        CU_ASSERT(memcmp(a, b, sizeof(a)) == 0);
      }
    }
  }
}

/* A cheap deterministic generator, so a failure repeats. */
static uint32_t next_rand(uint32_t *s) {
  *s = *s * 1103515245u + 12345u;
  return *s >> 8;
}

/* Batches of 0 to 60 messages of mixed lengths (some empty, some of many
   blocks, so ways finish at different times and take the next message)
   through every way count, and through kefo__sha256_many itself. */
static void test_batches_match_openssl(void) {
  enum { MAX = 60 };
  static kefo_sha256_job jobs[MAX];
  static uint8_t outs[MAX][KEFO_SHA256_LEN];
  uint8_t b[KEFO_SHA256_LEN];
  uint32_t seed = 11;
  size_t round, i, n, checked = 0, w;
  int ways;

  fill();
  for (w = 0; w <= N_WAYS; w++) {
    ways = w == N_WAYS ? -1 : all_ways[w];
    if (ways >= 0 && !usable(ways)) {
      continue;
    }
    for (round = 0; round < 40; round++) {
      n = round == 0 ? 0 : round < 4 ? round : next_rand(&seed) % MAX;
      for (i = 0; i < n; i++) {
        size_t maxlen = round % 3 == 0 ? 300 : round % 3 == 1 ? 5000 : 130000;
        jobs[i].len = next_rand(&seed) % maxlen;
        jobs[i].data = buf + next_rand(&seed) % (sizeof(buf) - jobs[i].len);
        jobs[i].out = outs[i];
        memset(outs[i], 0, KEFO_SHA256_LEN);
      }
      if (ways < 0) {
        CU_ASSERT_FATAL(kefo__sha256_many(jobs, n) == 0);
      } else {
        CU_ASSERT_FATAL(kefo__sha256_many_ways(jobs, n, ways) == 0);
      }
      for (i = 0; i < n; i++) {
        openssl_sha256(jobs[i].data, jobs[i].len, b);
        CU_ASSERT(memcmp(outs[i], b, KEFO_SHA256_LEN) == 0);
        checked++;
      }
    }
  }
  CU_ASSERT(checked > 1000);
}

static void test_bad_ways(void) {
  kefo_sha256_job j;
  uint8_t d[KEFO_SHA256_LEN];

  j.data = (const uint8_t *)"a";
  j.len = 1;
  j.out = d;
  CU_ASSERT_EQUAL(kefo__sha256_many_ways(&j, 1, 7), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__sha256_many_ways(&j, 1, -1), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__sha256_many_ways(&j, 1, 15), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__sha256_many_ways(&j, 1, 17), KEFO_ERR_INVALID_ARGUMENT);
  /* The SHA extensions' six where they are, else the lanes. */
  CU_ASSERT_EQUAL(kefo__sha256_ways(), usable(6)                   ? 6
                                       : usable(KEFO_SHA256_LANES) ? 16
                                                                   : 0);
  if (!usable(1)) {
    CU_ASSERT_EQUAL(kefo__sha256_many_ways(&j, 1, 1),
                    KEFO_ERR_INVALID_ARGUMENT);
  }
}

/* Messages each in a heap block of exactly its length (so that a read
   past one is a fault under ASan and valgrind), as many as fill the
   lanes and more, so that lanes finish at different blocks and take the
   next message, or idle while others go on. */
static void test_exact_blocks(void) {
  enum { N = 37 };
  kefo_sha256_job jobs[N];
  uint8_t outs[N][KEFO_SHA256_LEN], b[KEFO_SHA256_LEN], *data[N];
  uint32_t seed = 5;
  size_t i, w, k;

  for (i = 0; i < N; i++) {
    jobs[i].len = i < 4 ? i * 55 : next_rand(&seed) % 9000;
    data[i] = malloc(jobs[i].len ? jobs[i].len : 1);
    CU_ASSERT_FATAL(data[i] != NULL);
    for (k = 0; k < jobs[i].len; k++) {
      data[i][k] = (uint8_t)next_rand(&seed);
    }
    jobs[i].data = data[i];
    jobs[i].out = outs[i];
  }
  for (w = 0; w <= N_WAYS; w++) {
    int ways = w == N_WAYS ? -1 : all_ways[w];

    if (ways >= 0 && !usable(ways)) {
      continue;
    }
    memset(outs, 0, sizeof(outs));
    CU_ASSERT_FATAL((ways < 0 ? kefo__sha256_many(jobs, N)
                              : kefo__sha256_many_ways(jobs, N, ways)) == 0);
    for (i = 0; i < N; i++) {
      openssl_sha256(jobs[i].data, jobs[i].len, b);
      CU_ASSERT(memcmp(outs[i], b, KEFO_SHA256_LEN) == 0);
    }
  }
  for (i = 0; i < N; i++) {
    free(data[i]);
  }
}

/* With OpenSSL's default properties set to FIPS, kefo's own rounds step
   aside: every message goes to OpenSSL, which here (no FIPS provider
   installed) cannot fetch SHA-256 and says so. */
static void test_fips_goes_to_openssl(void) {
  kefo_sha256_job j[3];
  uint8_t d[3][KEFO_SHA256_LEN];
  int ways = kefo__sha256_ways(), i;

  for (i = 0; i < 3; i++) {
    j[i].data = (const uint8_t *)"abc";
    j[i].len = 3;
    j[i].out = d[i];
  }
  CU_ASSERT_FATAL(EVP_default_properties_enable_fips(NULL, 1) == 1);
  CU_ASSERT_EQUAL(kefo__sha256_ways(), 0);
  CU_ASSERT_EQUAL(kefo__sha256_many(j, 3), KEFO_ERR_CRYPTO);
  CU_ASSERT_EQUAL(kefo__sha256_many_ways(j, 3, KEFO_SHA256_LANES),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__sha256_many_ways(j, 3, 1), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_FATAL(EVP_default_properties_enable_fips(NULL, 0) == 1);
  CU_ASSERT_EQUAL(kefo__sha256_ways(), ways);
  CU_ASSERT_EQUAL(kefo__sha256_many(j, 3), 0);
}

int kefo_add_sha256_many_suite(void) {
  CU_pSuite s = CU_add_suite("sha256_many", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "fips_examples", test_fips_examples) ||
      !CU_add_test(s, "lengths_match_openssl", test_lengths_match_openssl) ||
      !CU_add_test(s, "batches_match_openssl", test_batches_match_openssl) ||
      !CU_add_test(s, "bad_ways", test_bad_ways) ||
      !CU_add_test(s, "exact_blocks", test_exact_blocks) ||
      !CU_add_test(s, "fips_goes_to_openssl", test_fips_goes_to_openssl)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
