/*
 * Base64 codec. The decoder's inner loop has no branch per byte or per
 * group: invalid characters carry a flag bit that is ORed into one word and
 * tested once at the end. On little-endian hosts four pre-shifted tables
 * turn a group of four characters into its three bytes with four loads and
 * one 4-byte store, and the encoder writes two characters per 12 bits of
 * input; bench/bench_wire compares both with OpenSSL's.
 */
#include "config.h"

#include "base/base64.h"

#include <string.h>

#include <kefo/kefo.h>

#ifndef WORDS_BIGENDIAN
#include "base/base64_tables.h"
#endif

#include "base/cpu.h"
#ifdef KEFO_CPU_X86_DISPATCH
#define KEFO_BASE64_AVX2 1
#include <immintrin.h>
#endif

static const char enc_table[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

#define XX 0x80
static const uint8_t dec_table[256] = {
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, /* 0 */
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, /* 16 */
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, 62, XX, XX, XX, 63, /* 32 */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, XX, XX, XX, XX, XX, XX, /* 48 */
    XX, 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, /* 64 */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, XX, XX, XX, XX, XX, /* 80 */
    XX, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* 96 */
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, XX, XX, XX, XX, XX, /* 112 */
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, /* 128 */
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
    XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX, XX,
};
#undef XX

size_t kefo__base64_encoded_len(size_t n) {
  return (n + 2) / 3 * 4;
}

size_t kefo__base64_decoded_max(size_t n) {
  return n / 4 * 3;
}

#ifdef KEFO_BASE64_AVX2
/*
 * 24 bytes to 32 characters per step, by the method of Muła and Lemire
 * (see decode_avx2): each 128-bit lane takes 12 bytes, a shuffle puts the
 * three bytes of each group into a 32-bit word as [b a c b], two
 * multiplies move the four 6-bit fields each to its own byte, and a
 * 16-entry table indexed by a value derived from the field (0 for
 * a-z, 1-10 for digits, 11 '+', 12 '/', 13 A-Z) holds what to add to
 * the field to make its character. Reads 28 bytes per step, 4 past the
 * 24 it encodes, so it stops 4 bytes early. Returns how many bytes it
 * encoded (a multiple of 24); the characters are at |out|.
 */
__attribute__((target("avx2"))) static size_t
encode_avx2(uint8_t *out, const uint8_t *in, size_t n) {
  const __m256i groups =
      _mm256_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10, 1, 0,
                       2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10);
  const __m256i shift = _mm256_setr_epi8(
      'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
      '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0,
      'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
      '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0);
  size_t i = 0, o = 0;

  while (i + 28 <= n) {
    __m256i v = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(in + i))),
        _mm_loadu_si128((const __m128i *)(in + i + 12)), 1);
    __m256i hi, lo, idx, r;

    v = _mm256_shuffle_epi8(v, groups);
    /* Fields 0 and 2 (bits 10-15 and 22-27 of [b a c b] read little-end
       first) go to bytes 0 and 2; fields 1 and 3 to bytes 1 and 3. */
    hi = _mm256_mulhi_epu16(_mm256_and_si256(v, _mm256_set1_epi32(0x0fc0fc00)),
                            _mm256_set1_epi32(0x04000040));
    lo = _mm256_mullo_epi16(_mm256_and_si256(v, _mm256_set1_epi32(0x003f03f0)),
                            _mm256_set1_epi32(0x01000010));
    idx = _mm256_or_si256(hi, lo);
    r = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
    r = _mm256_or_si256(
        r, _mm256_and_si256(_mm256_cmpgt_epi8(_mm256_set1_epi8(26), idx),
                            _mm256_set1_epi8(13)));
    r = _mm256_add_epi8(_mm256_shuffle_epi8(shift, r), idx);
    _mm256_storeu_si256((__m256i *)(out + o), r);
    i += 24;
    o += 32;
  }
  return i;
}
#endif /* KEFO_BASE64_AVX2 */

int kefo__base64_encode(uint8_t *out, size_t outcap, const uint8_t *in,
                        size_t n, size_t *outlen) {
  return kefo__base64_encode_simd(out, outcap, in, n, outlen, 1);
}

int kefo__base64_encode_simd(uint8_t *out, size_t outcap, const uint8_t *in,
                             size_t n, size_t *outlen, int simd) {
  size_t i, o = 0;

  if (n > (SIZE_MAX - 2) / 4 * 3 || outcap < kefo__base64_encoded_len(n)) {
    return KEFO_ERR_BUFFER_TOO_SMALL;
  }
  i = 0;
#ifdef KEFO_BASE64_AVX2
  if (simd && n >= 28 && kefo__cpu_has_avx2()) {
    i = encode_avx2(out, in, n);
    o = i / 3 * 4;
  }
#else
  (void)simd;
#endif
#ifndef WORDS_BIGENDIAN
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    uint16_t hi = enc_pair_le[v >> 12], lo = enc_pair_le[v & 0xfff];
    memcpy(out + o, &hi, 2);
    memcpy(out + o + 2, &lo, 2);
    o += 4;
  }
#endif
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
    out[o++] = (uint8_t)enc_table[v >> 18];
    out[o++] = (uint8_t)enc_table[(v >> 12) & 63];
    out[o++] = (uint8_t)enc_table[(v >> 6) & 63];
    out[o++] = (uint8_t)enc_table[v & 63];
  }
  if (n - i == 1) {
    uint32_t v = (uint32_t)in[i] << 16;
    out[o++] = (uint8_t)enc_table[v >> 18];
    out[o++] = (uint8_t)enc_table[(v >> 12) & 63];
    out[o++] = '=';
    out[o++] = '=';
  } else if (n - i == 2) {
    uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
    out[o++] = (uint8_t)enc_table[v >> 18];
    out[o++] = (uint8_t)enc_table[(v >> 12) & 63];
    out[o++] = (uint8_t)enc_table[(v >> 6) & 63];
    out[o++] = '=';
  }
  *outlen = o;
  return 0;
}

#ifdef KEFO_BASE64_AVX2
/*
 * 32 characters to 24 bytes per step, by the method of Muła and Lemire,
 * "Faster Base64 Encoding and Decoding Using AVX2 Instructions" (2018):
 * two 16-entry tables indexed by each character's low and high nibble
 * have a common bit exactly when the character is outside the alphabet;
 * a third, indexed by the high nibble ('/' moved to its own entry), holds
 * what to add to turn the character into its 6-bit value; two
 * multiply-adds pack four 6-bit values into 24 bits. Returns how many
 * characters it decoded (a multiple of 32) and ORs a nonzero byte into
 * |*bad| if any was invalid. Each step stores 32 bytes, 8 past its 24:
 * the caller's bounds keep them inside |out|, and in place they land on
 * characters already read.
 */
__attribute__((target("avx2"))) static size_t
decode_avx2(uint8_t *out, const uint8_t *in, size_t n, size_t outcap,
            uint8_t *bad) {
  /* Bit 0x10: high nibble 0-1 or 8-F, never valid. 0x01: high nibble 2,
     where only '+' (B) and '/' (F) are. 0x02: 3, digits 0-9. 0x04: 4 and
     6, letters from 1. 0x08: 5 and 7, letters to A. */
  const __m256i lut_lo = _mm256_setr_epi8(
      0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x13, 0x1a,
      0x1b, 0x1b, 0x1b, 0x1a, 0x15, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
      0x11, 0x11, 0x13, 0x1a, 0x1b, 0x1b, 0x1b, 0x1a);
  const __m256i lut_hi = _mm256_setr_epi8(
      0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08, 0x10, 0x10, 0x10, 0x10,
      0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x01, 0x02, 0x04, 0x08, 0x04, 0x08,
      0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10, 0x10);
  /* Added by high nibble; entry 1 is '/' (high nibble 2, minus one). */
  const __m256i lut_roll = _mm256_setr_epi8(
      0, 16, 19, 4, -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0, 0, 16, 19, 4,
      -65, -65, -71, -71, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m256i nib = _mm256_set1_epi8(0x0f);
  const __m256i slash = _mm256_set1_epi8('/');
  /* Per 128-bit lane: bytes 2, 1, 0 of each 32-bit group, in order. */
  const __m256i pack =
      _mm256_setr_epi8(2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1,
                       2, 1, 0, 6, 5, 4, 10, 9, 8, 14, 13, 12, -1, -1, -1, -1);
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 4, 5, 6, 7, 7);
  __m256i err = _mm256_setzero_si256();
  size_t i = 0, o = 0;

  while (i + 32 <= n && o + 32 <= outcap) {
    __m256i v = _mm256_loadu_si256((const __m256i *)(in + i));
    __m256i hi = _mm256_and_si256(_mm256_srli_epi32(v, 4), nib);
    __m256i lo = _mm256_and_si256(v, nib);
    __m256i roll;

    err =
        _mm256_or_si256(err, _mm256_and_si256(_mm256_shuffle_epi8(lut_lo, lo),
                                              _mm256_shuffle_epi8(lut_hi, hi)));
    roll = _mm256_shuffle_epi8(
        lut_roll, _mm256_add_epi8(_mm256_cmpeq_epi8(v, slash), hi));
    v = _mm256_add_epi8(v, roll);
    /* [a b c d] -> a<<6|b, c<<6|d -> a<<18|b<<12|c<<6|d per 32 bits. */
    v = _mm256_maddubs_epi16(v, _mm256_set1_epi32(0x01400140));
    v = _mm256_madd_epi16(v, _mm256_set1_epi32(0x00011000));
    v = _mm256_shuffle_epi8(v, pack);
    v = _mm256_permutevar8x32_epi32(v, lanes);
    _mm256_storeu_si256((__m256i *)(out + o), v);
    i += 32;
    o += 24;
  }
  if (!_mm256_testz_si256(err, err)) {
    *bad |= 0x80;
  }
  return i;
}

#endif /* KEFO_BASE64_AVX2 */

int kefo__base64_decode(uint8_t *out, size_t outcap, const uint8_t *in,
                        size_t n, size_t *outlen) {
  return kefo__base64_decode_simd(out, outcap, in, n, outlen, 1);
}

int kefo__base64_decode_simd(uint8_t *out, size_t outcap, const uint8_t *in,
                             size_t n, size_t *outlen, int simd) {
  size_t i, o = 0, full;
  uint8_t bad = 0;
  uint8_t a, b, c, d;

  *outlen = 0;
  if (n % 4 != 0) {
    return KEFO_ERR_BASE64;
  }
  if (outcap < kefo__base64_decoded_max(n)) {
    return KEFO_ERR_BUFFER_TOO_SMALL;
  }
  if (n == 0) {
    return 0;
  }
  /* Every group but the last cannot hold padding: decode them flat. */
  full = n - 4;
  i = 0;
#ifdef KEFO_BASE64_AVX2
  if (simd && full >= 32 && kefo__cpu_has_avx2()) {
    i = decode_avx2(out, in, full, outcap, &bad);
    o = i / 4 * 3;
  }
#else
  (void)simd;
#endif
#ifndef WORDS_BIGENDIAN
  {
    uint32_t flag = (uint32_t)bad << 24;
    /* The 4-byte store's last byte is overwritten by the next group, and
       the last group is left to the code below, so no store passes the
       decoded length; in place, the store stays behind the input read. */
    for (; i < full; i += 4) {
      uint32_t w = dec_le0[in[i]] | dec_le1[in[i + 1]] | dec_le2[in[i + 2]] |
                   dec_le3[in[i + 3]];
      flag |= w;
      memcpy(out + o, &w, 4);
      o += 3;
    }
    bad = (uint8_t)(flag >> 24 ? 0x80 : 0);
  }
#endif
  for (; i < full; i += 4) {
    uint32_t v;
    a = dec_table[in[i]];
    b = dec_table[in[i + 1]];
    c = dec_table[in[i + 2]];
    d = dec_table[in[i + 3]];
    bad |= a | b | c | d;
    v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | d;
    out[o] = (uint8_t)(v >> 16);
    out[o + 1] = (uint8_t)(v >> 8);
    out[o + 2] = (uint8_t)v;
    o += 3;
  }
  a = dec_table[in[i]];
  b = dec_table[in[i + 1]];
  bad |= a | b;
  if (in[i + 2] == '=') {
    if (in[i + 3] != '=') {
      return KEFO_ERR_BASE64;
    }
    out[o++] = (uint8_t)(a << 2 | (b & 0x3f) >> 4);
  } else {
    c = dec_table[in[i + 2]];
    bad |= c;
    if (in[i + 3] == '=') {
      out[o++] = (uint8_t)(a << 2 | (b & 0x3f) >> 4);
      out[o++] = (uint8_t)((b & 0x0f) << 4 | (c & 0x3f) >> 2);
    } else {
      d = dec_table[in[i + 3]];
      bad |= d;
      out[o++] = (uint8_t)(a << 2 | (b & 0x3f) >> 4);
      out[o++] = (uint8_t)((b & 0x0f) << 4 | (c & 0x3f) >> 2);
      out[o++] = (uint8_t)((c & 0x03) << 6 | (d & 0x3f));
    }
  }
  if (bad & 0x80) {
    return KEFO_ERR_BASE64;
  }
  *outlen = o;
  return 0;
}
