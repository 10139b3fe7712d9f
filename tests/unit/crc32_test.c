/*
 * CRC-32 against known values, and piecewise equals whole.
 */
#include <string.h>

#include <CUnit/CUnit.h>
#include <zlib.h>

#include "base/crc32.h"
#include "tests/unit/suites.h"

static void test_known_values(void) {
  /* The standard check value of CRC-32/ISO-HDLC. */
  CU_ASSERT_EQUAL(kefo__crc32(0, (const uint8_t *)"123456789", 9), 0xCBF43926u);
  CU_ASSERT_EQUAL(kefo__crc32(0, (const uint8_t *)"", 0), 0);
  CU_ASSERT_EQUAL(kefo__crc32(0, (const uint8_t *)"a", 1), 0xE8B7BE43u);
  CU_ASSERT_EQUAL(
      kefo__crc32(
          0, (const uint8_t *)"The quick brown fox jumps over the lazy dog",
          43),
      0x414FA339u);
}

static void test_piecewise(void) {
  uint8_t buf[10007];
  size_t i, split;
  uint32_t whole;

  for (i = 0; i < sizeof(buf); ++i) {
    buf[i] = (uint8_t)(i * 131 + 7);
  }
  whole = kefo__crc32(0, buf, sizeof(buf));
  for (split = 0; split <= sizeof(buf); split += 997) {
    uint32_t c = kefo__crc32(0, buf, split);
    c = kefo__crc32(c, buf + split, sizeof(buf) - split);
    CU_ASSERT_EQUAL(c, whole);
  }
}

/* Against zlib's own crc32_z as the reference: every length to 300, long
   inputs, every alignment and several starting values, so the folding path
   (64 bytes and up, where the CPU has it) is checked against an
   independent implementation. */
static void test_matches_zlib(void) {
  static uint8_t buf[70000];
  static const uint32_t starts[] = {0, 1, 0xffffffffu, 0x12345678u};
  static const size_t long_lens[] = {1023, 1024, 4096, 65536, 65537, 69990};
  size_t i, len, off, s;

  for (i = 0; i < sizeof(buf); ++i) {
    buf[i] = (uint8_t)((i * 2654435761u) >> 13);
  }
  for (s = 0; s < 4; ++s) {
    for (off = 0; off < 8; ++off) {
      for (len = 0; len <= 300; ++len) {
        CU_ASSERT_EQUAL(kefo__crc32(starts[s], buf + off, len),
                        (uint32_t)crc32_z(starts[s], buf + off, len));
      }
      for (i = 0; i < 6; ++i) {
        CU_ASSERT_EQUAL(kefo__crc32(starts[s], buf + off, long_lens[i]),
                        (uint32_t)crc32_z(starts[s], buf + off, long_lens[i]));
      }
    }
  }
}

int kefo_add_crc32_suite(void) {
  CU_pSuite s = CU_add_suite("crc32", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "known_values", test_known_values) ||
      !CU_add_test(s, "piecewise", test_piecewise) ||
      !CU_add_test(s, "matches_zlib", test_matches_zlib)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
