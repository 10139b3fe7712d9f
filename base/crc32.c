/*
 * CRC-32. On x86-64 CPUs with PCLMULQDQ, inputs of 64 bytes or more are
 * folded 64 bytes at a time with carry-less multiplication (the method of
 * Intel's "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ"),
 * about three times zlib's table method; the last 16 folded bytes and the
 * tail go through zlib's crc32_z, which also serves every other CPU.
 */
#include "base/crc32.h"

#include <zlib.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define KEFO_CRC32_PCLMUL 1
#include <immintrin.h>
#endif

static uint32_t crc32_table(uint32_t crc, const uint8_t *data, size_t len) {
  return (uint32_t)crc32_z(crc, data, len);
}

#ifdef KEFO_CRC32_PCLMUL
/* Folds |x| forward by the distance whose constants are in |k| (low
   quadword for the low half of |x|, high for the high half) and adds
   |next|. */
__attribute__((target("pclmul,sse2"))) static inline __m128i
fold(__m128i x, __m128i k, __m128i next) {
  __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
  __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
  return _mm_xor_si128(_mm_xor_si128(lo, hi), next);
}

/* |len| >= 64. */
__attribute__((target("pclmul,sse2"))) static uint32_t
crc32_pclmul(uint32_t crc, const uint8_t *p, size_t len) {
  /* x^(4*128+32) and x^(4*128-32) mod P, bit-reflected: fold by 64 bytes;
     x^(128+32) and x^(128-32): fold by 16 bytes. */
  const __m128i k64 = _mm_set_epi64x(0x1c6e41596, 0x154442bd4);
  const __m128i k16 = _mm_set_epi64x(0x0ccaa009e, 0x1751997d0);
  __m128i x0, x1, x2, x3;
  uint8_t rest[16];

  /* A CRC that starts from state s equals one that starts from 0 over the
     message with s added to its first four bytes (zlib's state is the
     complement of the CRC it returns). */
  x0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)p),
                     _mm_cvtsi32_si128((int)~crc));
  x1 = _mm_loadu_si128((const __m128i *)(p + 16));
  x2 = _mm_loadu_si128((const __m128i *)(p + 32));
  x3 = _mm_loadu_si128((const __m128i *)(p + 48));
  p += 64;
  len -= 64;
  while (len >= 64) {
    x0 = fold(x0, k64, _mm_loadu_si128((const __m128i *)p));
    x1 = fold(x1, k64, _mm_loadu_si128((const __m128i *)(p + 16)));
    x2 = fold(x2, k64, _mm_loadu_si128((const __m128i *)(p + 32)));
    x3 = fold(x3, k64, _mm_loadu_si128((const __m128i *)(p + 48)));
    p += 64;
    len -= 64;
  }
  x0 = fold(x0, k16, x1);
  x0 = fold(x0, k16, x2);
  x0 = fold(x0, k16, x3);
  while (len >= 16) {
    x0 = fold(x0, k16, _mm_loadu_si128((const __m128i *)p));
    p += 16;
    len -= 16;
  }
  /* The folded 16 bytes have the same remainder as everything read so
     far; zlib finishes them from state 0 and goes on with the tail. */
  _mm_storeu_si128((__m128i *)rest, x0);
  crc = crc32_table(0xffffffffu, rest, sizeof(rest));
  return crc32_table(crc, p, len);
}
#endif /* KEFO_CRC32_PCLMUL */

uint32_t kefo__crc32(uint32_t crc, const uint8_t *data, size_t len) {
  if (len == 0) {
    return crc;
  }
#ifdef KEFO_CRC32_PCLMUL
  if (len >= 64 && __builtin_cpu_supports("pclmul")) {
    return crc32_pclmul(crc, data, len);
  }
#endif
  return crc32_table(crc, data, len);
}
