/*
 * MD5 (RFC 1321), one message at a time and one message per vector lane
 * (see md5.h). The 64 steps are written once, as a macro over the type of
 * a, b, c and d: uint32_t for one message, a GCC vector of 8 or 16
 * uint32_t for as many (base/md5_lanes.inc, compiled once per width with
 * the target attribute, chosen at run time as base64.c chooses AVX2).
 */
#include "config.h"

#include "base/md5.h"

#include <string.h>

#include <kefo/kefo.h>

#include "base/cpu.h"

#ifdef KEFO_CPU_X86_DISPATCH
#include <immintrin.h>
#endif

#define ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
/* RFC 1321's F, G, H and I, with F and G in their three-operation forms. */
#define F(b, c, d) ((d) ^ ((b) & ((c) ^ (d))))
#define G(b, c, d) ((c) ^ ((d) & ((b) ^ (c))))
#define H(b, c, d) ((b) ^ (c) ^ (d))
#define I(b, c, d) ((c) ^ ((b) | ~(d)))
#define STEP(f, a, b, c, d, m, k, s)                                           \
  (a) = (b) + ROTL((a) + f((b), (c), (d)) + (m) + (k), (s))

/* The 64 steps: function, message word, sine constant and shift of each,
   as RFC 1321 section 3.4 lists them. */
/* clang-format off */
#define MD5_STEPS(M) \
  do { \
  STEP(F, a, b, c, d, M(0), 0xd76aa478u, 7); \
  STEP(F, d, a, b, c, M(1), 0xe8c7b756u, 12); \
  STEP(F, c, d, a, b, M(2), 0x242070dbu, 17); \
  STEP(F, b, c, d, a, M(3), 0xc1bdceeeu, 22); \
  STEP(F, a, b, c, d, M(4), 0xf57c0fafu, 7); \
  STEP(F, d, a, b, c, M(5), 0x4787c62au, 12); \
  STEP(F, c, d, a, b, M(6), 0xa8304613u, 17); \
  STEP(F, b, c, d, a, M(7), 0xfd469501u, 22); \
  STEP(F, a, b, c, d, M(8), 0x698098d8u, 7); \
  STEP(F, d, a, b, c, M(9), 0x8b44f7afu, 12); \
  STEP(F, c, d, a, b, M(10), 0xffff5bb1u, 17); \
  STEP(F, b, c, d, a, M(11), 0x895cd7beu, 22); \
  STEP(F, a, b, c, d, M(12), 0x6b901122u, 7); \
  STEP(F, d, a, b, c, M(13), 0xfd987193u, 12); \
  STEP(F, c, d, a, b, M(14), 0xa679438eu, 17); \
  STEP(F, b, c, d, a, M(15), 0x49b40821u, 22); \
  STEP(G, a, b, c, d, M(1), 0xf61e2562u, 5); \
  STEP(G, d, a, b, c, M(6), 0xc040b340u, 9); \
  STEP(G, c, d, a, b, M(11), 0x265e5a51u, 14); \
  STEP(G, b, c, d, a, M(0), 0xe9b6c7aau, 20); \
  STEP(G, a, b, c, d, M(5), 0xd62f105du, 5); \
  STEP(G, d, a, b, c, M(10), 0x02441453u, 9); \
  STEP(G, c, d, a, b, M(15), 0xd8a1e681u, 14); \
  STEP(G, b, c, d, a, M(4), 0xe7d3fbc8u, 20); \
  STEP(G, a, b, c, d, M(9), 0x21e1cde6u, 5); \
  STEP(G, d, a, b, c, M(14), 0xc33707d6u, 9); \
  STEP(G, c, d, a, b, M(3), 0xf4d50d87u, 14); \
  STEP(G, b, c, d, a, M(8), 0x455a14edu, 20); \
  STEP(G, a, b, c, d, M(13), 0xa9e3e905u, 5); \
  STEP(G, d, a, b, c, M(2), 0xfcefa3f8u, 9); \
  STEP(G, c, d, a, b, M(7), 0x676f02d9u, 14); \
  STEP(G, b, c, d, a, M(12), 0x8d2a4c8au, 20); \
  STEP(H, a, b, c, d, M(5), 0xfffa3942u, 4); \
  STEP(H, d, a, b, c, M(8), 0x8771f681u, 11); \
  STEP(H, c, d, a, b, M(11), 0x6d9d6122u, 16); \
  STEP(H, b, c, d, a, M(14), 0xfde5380cu, 23); \
  STEP(H, a, b, c, d, M(1), 0xa4beea44u, 4); \
  STEP(H, d, a, b, c, M(4), 0x4bdecfa9u, 11); \
  STEP(H, c, d, a, b, M(7), 0xf6bb4b60u, 16); \
  STEP(H, b, c, d, a, M(10), 0xbebfbc70u, 23); \
  STEP(H, a, b, c, d, M(13), 0x289b7ec6u, 4); \
  STEP(H, d, a, b, c, M(0), 0xeaa127fau, 11); \
  STEP(H, c, d, a, b, M(3), 0xd4ef3085u, 16); \
  STEP(H, b, c, d, a, M(6), 0x04881d05u, 23); \
  STEP(H, a, b, c, d, M(9), 0xd9d4d039u, 4); \
  STEP(H, d, a, b, c, M(12), 0xe6db99e5u, 11); \
  STEP(H, c, d, a, b, M(15), 0x1fa27cf8u, 16); \
  STEP(H, b, c, d, a, M(2), 0xc4ac5665u, 23); \
  STEP(I, a, b, c, d, M(0), 0xf4292244u, 6); \
  STEP(I, d, a, b, c, M(7), 0x432aff97u, 10); \
  STEP(I, c, d, a, b, M(14), 0xab9423a7u, 15); \
  STEP(I, b, c, d, a, M(5), 0xfc93a039u, 21); \
  STEP(I, a, b, c, d, M(12), 0x655b59c3u, 6); \
  STEP(I, d, a, b, c, M(3), 0x8f0ccc92u, 10); \
  STEP(I, c, d, a, b, M(10), 0xffeff47du, 15); \
  STEP(I, b, c, d, a, M(1), 0x85845dd1u, 21); \
  STEP(I, a, b, c, d, M(8), 0x6fa87e4fu, 6); \
  STEP(I, d, a, b, c, M(15), 0xfe2ce6e0u, 10); \
  STEP(I, c, d, a, b, M(6), 0xa3014314u, 15); \
  STEP(I, b, c, d, a, M(13), 0x4e0811a1u, 21); \
  STEP(I, a, b, c, d, M(4), 0xf7537e82u, 6); \
  STEP(I, d, a, b, c, M(11), 0xbd3af235u, 10); \
  STEP(I, c, d, a, b, M(2), 0x2ad7d2bbu, 15); \
  STEP(I, b, c, d, a, M(9), 0xeb86d391u, 21); \
  } while (0)
/* clang-format on */

#define IV_A 0x67452301u
#define IV_B 0xefcdab89u
#define IV_C 0x98badcfeu
#define IV_D 0x10325476u

static inline uint32_t load_le32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}

static inline void store_le32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

/*
 * The last one or two blocks of a message of |len| bytes whose last
 * |len| % 64 bytes are |rest|: those bytes, 0x80, zeros and the length in
 * bits, little-endian. Returns how many blocks it wrote to |tail|.
 */
static size_t pad_tail(uint8_t tail[128], const uint8_t *rest, size_t len) {
  size_t r = len % 64, nb = r < 56 ? 1 : 2;
  uint64_t bits = (uint64_t)len << 3;
  size_t i;

  memset(tail, 0, nb * 64);
  if (r > 0) {
    memcpy(tail, rest, r);
  }
  tail[r] = 0x80;
  for (i = 0; i < 8; i++) {
    tail[nb * 64 - 8 + i] = (uint8_t)(bits >> (8 * i));
  }
  return nb;
}

static void blocks(uint32_t st[4], const uint8_t *p, size_t nblocks) {
  uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
  uint32_t w[16];
  size_t i;

  while (nblocks-- > 0) {
    uint32_t aa = a, bb = b, cc = c, dd = d;
    for (i = 0; i < 16; i++) {
      w[i] = load_le32(p + 4 * i);
    }
#define M(i) w[i]
    MD5_STEPS(M);
#undef M
    a += aa;
    b += bb;
    c += cc;
    d += dd;
    p += 64;
  }
  st[0] = a;
  st[1] = b;
  st[2] = c;
  st[3] = d;
}

void kefo__md5(const void *data, size_t len, uint8_t out[KEFO_MD5_LEN]) {
  uint32_t st[4] = {IV_A, IV_B, IV_C, IV_D};
  uint8_t tail[128];
  size_t full = len / 64, nb;

  blocks(st, data, full);
  nb = pad_tail(tail, len % 64 ? (const uint8_t *)data + full * 64 : NULL, len);
  blocks(st, tail, nb);
  store_le32(out, st[0]);
  store_le32(out + 4, st[1]);
  store_le32(out + 8, st[2]);
  store_le32(out + 12, st[3]);
}

static void many_one_by_one(const kefo_md5_job *jobs, size_t n) {
  size_t i;

  for (i = 0; i < n; i++) {
    kefo__md5(jobs[i].data, jobs[i].len, jobs[i].out);
  }
}

#ifdef KEFO_CPU_X86_DISPATCH
#define LANES 8
#define LANES_FN many_avx2
#define LANES_V lanes8
#define LANES_TARGET __attribute__((target("avx2")))
#include "base/md5_lanes.inc"
#undef LANES
#undef LANES_FN
#undef LANES_V
#undef LANES_TARGET

/* Word i of 16 blocks: the 16 blocks loaded as rows and transposed, 32
   bits at a time, in four steps of 16 shuffles (pairs of words, of
   64-bit pairs, of 128-bit quarters, of halves). It replaced two gathers
   of 8 per word, which were about a third of the time of 16 aggregates
   hashed at once (bench_wire: 3.6 -> 4.7 GB/s on the AMD EPYC VM); the
   gathers had replaced a copy through w, a store per word and lane. */
__attribute__((target("avx512f"))) static inline void
transpose16(__m512i *m, size_t stride, const uint8_t *const ptr[16]) {
  __m512i r[16], t[16];
  int i, k;

  for (i = 0; i < 16; i++) {
    r[i] = _mm512_loadu_si512((const void *)ptr[i]);
  }
  for (i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  for (i = 0; i < 4; i++) {
    r[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    r[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    r[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (i = 0; i < 2; i++) {
    for (k = 0; k < 4; k++) {
      t[8 * i + k] = _mm512_shuffle_i32x4(r[8 * i + k], r[8 * i + 4 + k], 0x88);
      t[8 * i + 4 + k] =
          _mm512_shuffle_i32x4(r[8 * i + k], r[8 * i + 4 + k], 0xdd);
    }
  }
  for (k = 0; k < 8; k++) {
    m[k * stride] = _mm512_shuffle_i32x4(t[k], t[8 + k], 0x88);
    m[(8 + k) * stride] = _mm512_shuffle_i32x4(t[k], t[8 + k], 0xdd);
  }
}

/* __m512i may alias the lanes' vector type. Word i of 16 lanes is m[i];
   of 32, lanes 0-15 are the first half of m[i], 16-31 the second. */
#define TRANSPOSE16(m, ptr) transpose16((__m512i *)(m), 1, (ptr))
#define TRANSPOSE32(m, ptr)                                                    \
  do {                                                                         \
    transpose16((__m512i *)(m), 2, (ptr));                                     \
    transpose16((__m512i *)(m) + 1, 2, (ptr) + 16);                            \
  } while (0)

#define LANES 16
#define LANES_FN many_avx512
#define LANES_V lanes16
#define LANES_TARGET __attribute__((target("avx512f")))
#define LANES_GATHER TRANSPOSE16
#include "base/md5_lanes.inc"
#undef LANES
#undef LANES_FN
#undef LANES_V
#undef LANES_TARGET
#undef LANES_GATHER

/* 32 lanes: vectors of 1,024 bits, which the compiler does as two of
   512 side by side. One 16-lane step waits on the one before it (each
   MD5 step needs the last one's result), so two independent groups keep
   the vector units busier: bench_wire's 64 x 16 KiB went 4.7 -> 7.6
   GB/s on the AMD EPYC VM. */
#define LANES 32
#define LANES_FN many_avx512x2
#define LANES_V lanes32
#define LANES_TARGET __attribute__((target("avx512f")))
#define LANES_GATHER TRANSPOSE32
#include "base/md5_lanes.inc"
#undef LANES
#undef LANES_FN
#undef LANES_V
#undef LANES_TARGET
#undef LANES_GATHER

static int has_avx512f(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}
#endif

int kefo__md5_lanes(void) {
#ifdef KEFO_CPU_X86_DISPATCH
  if (has_avx512f()) {
    return 32;
  }
  if (kefo__cpu_has_avx2()) {
    return 8;
  }
#endif
  return 1;
}

int kefo__md5_many_lanes(const kefo_md5_job *jobs, size_t n, int lanes) {
  int have = kefo__md5_lanes();

  if (lanes == 0) {
    lanes = have;
  }
  if (lanes == 1) {
    many_one_by_one(jobs, n);
    return 0;
  }
#ifdef KEFO_CPU_X86_DISPATCH
  if (lanes == 8 && have >= 8) {
    many_avx2(jobs, n);
    return 0;
  }
  if (lanes == 16 && have >= 16) {
    many_avx512(jobs, n);
    return 0;
  }
  if (lanes == 32 && have >= 32) {
    many_avx512x2(jobs, n);
    return 0;
  }
#endif
  return KEFO_ERR_INVALID_ARGUMENT;
}

void kefo__md5_many(const kefo_md5_job *jobs, size_t n) {
  int lanes = kefo__md5_lanes();

  /* Below three messages one lane at a time is as fast (bench_wire); up
     to 16, 32 lanes would hash as many blocks of zeros as of messages. */
  if (n < 3) {
    lanes = 1;
  } else if (lanes == 32 && n <= 16) {
    lanes = 16;
  }
  (void)kefo__md5_many_lanes(jobs, n, lanes);
}
