/*
 * SHA-256 (FIPS 180-4) of several messages with their rounds interleaved
 * on the SHA extensions (see sha256_many.h), sixteen at a time in the
 * AVX-512 lanes of sha256_lanes.c when there are enough, else OpenSSL's,
 * one message at a time.
 *
 * The SHA extensions hold the eight working words in two registers,
 * ABEF and CDGH, and do two rounds per SHA256RNDS2 and four message
 * words per SHA256MSG1/MSG2 pair. A block is 16 groups of four rounds;
 * group g's words are the message's for g < 4 and, after, the schedule
 * W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16] four at a time.
 * Each group is written once, for |ways| messages side by side, so that
 * the CPU has independent rounds to start while one message's wait.
 */
#include "config.h"

#include "aws/sha256_many.h"

#include <string.h>

#include <openssl/evp.h>

#include <kefo/kefo.h>

#include "aws/sha256_k.h"
#include "aws/sha256_lanes.h"
#include "base/cpu.h"

/* Four ways give 3.5 GB/s on the AMD EPYC VM, five and six a little more:
   what counts is that the five bodies of a pass go side by side, not four
   and then one alone at a third of the speed. */
#define MAX_WAYS 6

/* The fewest messages hashed in the AVX-512 lanes (of sixteen) rather
   than on the SHA extensions: below, the lanes left idle cost more than
   the extensions' smaller width (bench_wire: sixteen in the lanes 4.5
   GB/s, twelve 3.3, six ways 3.4-3.7). */
#define LANES_MIN 14

static int sha256_openssl(const uint8_t *data, size_t len, uint8_t *out) {
  unsigned int outlen = 0;

  if (EVP_Digest(len ? (const void *)data : "", len, out, &outlen, EVP_sha256(),
                 NULL) != 1 ||
      outlen != KEFO_SHA256_LEN) {
    return KEFO_ERR_CRYPTO;
  }
  return 0;
}

static int one_by_one(const kefo_sha256_job *jobs, size_t n) {
  size_t i;
  int rv;

  for (i = 0; i < n; i++) {
    rv = sha256_openssl(jobs[i].data, jobs[i].len, jobs[i].out);
    if (rv != 0) {
      return rv;
    }
  }
  return 0;
}

#ifdef KEFO_CPU_X86_DISPATCH
#include <cpuid.h>
#include <immintrin.h>

#define SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))

#define WORD(k) k,
static const uint32_t K[64]
    __attribute__((aligned(16))) = {KEFO_SHA256_K(WORD)};
static const uint32_t IV[8] = {KEFO_SHA256_IV(WORD)};
#undef WORD

/* A message's state: ABEF and CDGH, each word's lane from high to low. */
typedef struct sha_state {
  __m128i abef, cdgh;
} sha_state;

/* |nblocks| blocks of each of |ways| messages, way l's at p[l]. Inlined
   into one function per number of ways, so that the loops over ways are
   unrolled and their rounds interleaved. */
SHA_TARGET static inline __attribute__((always_inline)) void
blocks_ways(const uint8_t *const *p, size_t nblocks, sha_state *st,
            const int ways) {
  /* Big-endian words: each 4-byte group reversed. */
  const __m128i bswap =
      _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
  size_t b;
  int g, l;

  for (b = 0; b < nblocks; b++) {
    __m128i s0[MAX_WAYS], s1[MAX_WAYS], w[MAX_WAYS][4];

    for (l = 0; l < ways; l++) {
      s0[l] = st[l].abef;
      s1[l] = st[l].cdgh;
    }
#pragma GCC unroll 16
    for (g = 0; g < 16; g++) {
      const __m128i k = _mm_load_si128((const __m128i *)(K + 4 * g));
#pragma GCC unroll 6
      for (l = 0; l < ways; l++) {
        __m128i m;
        if (g < 4) {
          m = _mm_loadu_si128((const __m128i *)(p[l] + 64 * b + 16 * g));
          m = w[l][g] = _mm_shuffle_epi8(m, bswap);
        } else {
          /* W[t-16] + s0(W[t-15]), plus W[t-7]; then s1(W[t-2]) added
             word by word (each needs the one two before). */
          __m128i t = _mm_sha256msg1_epu32(w[l][g & 3], w[l][(g + 1) & 3]);
          t = _mm_add_epi32(
              t, _mm_alignr_epi8(w[l][(g + 3) & 3], w[l][(g + 2) & 3], 4));
          m = w[l][g & 3] = _mm_sha256msg2_epu32(t, w[l][(g + 3) & 3]);
        }
        m = _mm_add_epi32(m, k);
        s1[l] = _mm_sha256rnds2_epu32(s1[l], s0[l], m);
        s0[l] = _mm_sha256rnds2_epu32(s0[l], s1[l], _mm_shuffle_epi32(m, 0x0e));
      }
    }
    for (l = 0; l < ways; l++) {
      st[l].abef = _mm_add_epi32(st[l].abef, s0[l]);
      st[l].cdgh = _mm_add_epi32(st[l].cdgh, s1[l]);
    }
  }
}

/* blocks_ways for a fixed number of ways, one function each. */
#define BLOCKS_FN(n)                                                           \
  SHA_TARGET static void blocks##n(const uint8_t *const *p, size_t nblocks,    \
                                   sha_state *st) {                            \
    blocks_ways(p, nblocks, st, n);                                            \
  }
BLOCKS_FN(1)
BLOCKS_FN(2)
BLOCKS_FN(3)
BLOCKS_FN(4)
BLOCKS_FN(5)
BLOCKS_FN(6)

typedef void (*blocks_fn)(const uint8_t *const *, size_t, sha_state *);
static const blocks_fn blocks_of[MAX_WAYS + 1] = {
    NULL, blocks1, blocks2, blocks3, blocks4, blocks5, blocks6};

SHA_TARGET static void state_init(sha_state *st) {
  st->abef = _mm_set_epi32((int)IV[0], (int)IV[1], (int)IV[4], (int)IV[5]);
  st->cdgh = _mm_set_epi32((int)IV[2], (int)IV[3], (int)IV[6], (int)IV[7]);
}

/* H0..H7 of |st|, big-endian. */
static void state_out(const sha_state *st, uint8_t out[KEFO_SHA256_LEN]) {
  uint32_t abef[4], cdgh[4], h[8];
  int i;

  memcpy(abef, &st->abef, sizeof(abef));
  memcpy(cdgh, &st->cdgh, sizeof(cdgh));
  h[0] = abef[3];
  h[1] = abef[2];
  h[2] = cdgh[3];
  h[3] = cdgh[2];
  h[4] = abef[1];
  h[5] = abef[0];
  h[6] = cdgh[1];
  h[7] = cdgh[0];
  for (i = 0; i < 8; i++) {
    out[4 * i] = (uint8_t)(h[i] >> 24);
    out[4 * i + 1] = (uint8_t)(h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(h[i] >> 8);
    out[4 * i + 3] = (uint8_t)h[i];
  }
}

/* One way's message: where it is, and its last one or two blocks (the
   bytes after the whole blocks, 0x80, zeros, the length in bits). */
typedef struct way {
  const kefo_sha256_job *job;
  size_t block, full;
  sha_state st;
} way;

/* Hashes the padded end of |w|'s message and writes its digest. */
static void finish_way(way *w) {
  uint8_t tail[128];
  const uint8_t *tp = tail;
  const kefo_sha256_job *j = w->job;
  size_t r = j->len % 64, nb = r < 56 ? 1 : 2, i;
  uint64_t bits = (uint64_t)j->len << 3;

  memset(tail, 0, sizeof(tail));
  if (r > 0) {
    memcpy(tail, j->data + w->full * 64, r);
  }
  tail[r] = 0x80;
  for (i = 0; i < 8; i++) {
    tail[nb * 64 - 1 - i] = (uint8_t)(bits >> (8 * i));
  }
  blocks1(&tp, nb, &w->st);
  state_out(&w->st, j->out);
  w->job = NULL;
}

/* kefo__sha256_many with up to |ways| messages side by side: the whole
   blocks of the messages in hand go together, as many as the shortest
   has left; a message whose whole blocks are done is finished on its own
   (one or two blocks) and its way takes the next message. */
static void interleaved(const kefo_sha256_job *jobs, size_t n, int ways) {
  way w[MAX_WAYS];
  const uint8_t *p[MAX_WAYS];
  sha_state st[MAX_WAYS];
  size_t next = 0, run;
  int l, k;

  for (l = 0; l < ways; l++) {
    w[l].job = NULL;
  }
  for (;;) {
    for (l = 0; l < ways; l++) {
      while (w[l].job == NULL && next < n) {
        w[l].job = &jobs[next++];
        w[l].block = 0;
        w[l].full = w[l].job->len / 64;
        state_init(&w[l].st);
        if (w[l].full == 0) {
          finish_way(&w[l]);
        }
      }
    }
    /* The ways in hand, side by side, for as many blocks as all have. */
    run = SIZE_MAX;
    for (l = 0, k = 0; l < ways; l++) {
      if (w[l].job != NULL) {
        size_t left = w[l].full - w[l].block;
        p[k] = w[l].job->data + 64 * w[l].block;
        st[k++] = w[l].st;
        run = left < run ? left : run;
      }
    }
    if (k == 0) {
      return;
    }
    blocks_of[k](p, run, st);
    for (l = 0, k = 0; l < ways; l++) {
      if (w[l].job != NULL) {
        w[l].st = st[k++];
        w[l].block += run;
        if (w[l].block == w[l].full) {
          finish_way(&w[l]);
        }
      }
    }
  }
}

/* SHA, SSSE3 and SSE4.1, from CPUID once: a leaf asked of a hypervisor
   can cost microseconds. 0: not asked yet, 1: no, 2: yes. Threads that
   race write the same answer. */
static int has_sha_ext(void) {
  static int known;
  int v = __atomic_load_n(&known, __ATOMIC_RELAXED);
  unsigned a, b, c, d, c1;

  if (v == 0) {
    v = 1;
    if (__get_cpuid(1, &a, &b, &c1, &d) && (c1 & bit_SSSE3) &&
        (c1 & bit_SSE4_1) && __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
        (b & bit_SHA)) {
      v = 2;
    }
    __atomic_store_n(&known, v, __ATOMIC_RELAXED);
  }
  return v == 2;
}
#endif /* KEFO_CPU_X86_DISPATCH */

void kefo__sha256_hex(const uint8_t md[KEFO_SHA256_LEN], char out[65]) {
  static const char digits[] = "0123456789abcdef";
  size_t i;

  for (i = 0; i < KEFO_SHA256_LEN; i++) {
    out[2 * i] = digits[md[i] >> 4];
    out[2 * i + 1] = digits[md[i] & 0xf];
  }
  out[2 * KEFO_SHA256_LEN] = '\0';
}

/* Whether kefo's own rounds may hash: not where the application asked
   OpenSSL for FIPS-approved algorithms only; every hash then stays
   OpenSSL's (its provider's), as SigV4's HMACs do. Asked each time: an
   application may turn it on at run time. */
static int own_rounds_allowed(void) {
  return !EVP_default_properties_is_fips_enabled(NULL);
}

int kefo__sha256_ways(void) {
  if (!own_rounds_allowed()) {
    return 0;
  }
#ifdef KEFO_CPU_X86_DISPATCH
  /* Six on the SHA extensions even where the lanes are there: a
     producer's pass has about 2.8 MB to send, and sixteen calls of it
     cost more each than the lanes save (bench/RESULTS.md). */
  if (has_sha_ext()) {
    return MAX_WAYS;
  }
#endif
  return kefo__sha256_lanes_usable() ? KEFO_SHA256_LANES : 0;
}

int kefo__sha256_many_ways(const kefo_sha256_job *jobs, size_t n, int ways) {
  if (ways == 0) {
    return one_by_one(jobs, n);
  }
  if (!own_rounds_allowed()) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (ways == KEFO_SHA256_LANES && kefo__sha256_lanes_usable()) {
    kefo__sha256_lanes(jobs, n);
    return 0;
  }
#ifdef KEFO_CPU_X86_DISPATCH
  if (ways >= 1 && ways <= MAX_WAYS && has_sha_ext()) {
    interleaved(jobs, n, ways);
    return 0;
  }
#endif
  return KEFO_ERR_INVALID_ARGUMENT;
}

int kefo__sha256_many(const kefo_sha256_job *jobs, size_t n) {
  size_t k;

  if (n < 2 || !own_rounds_allowed()) {
    return one_by_one(jobs, n);
  }
  if (kefo__sha256_lanes_usable()) {
    /* Sixteen at a time while they fill most of the lanes: with fewer,
       the idle lanes' work is lost and the SHA extensions go faster. */
    while (n >= LANES_MIN) {
      k = n < KEFO_SHA256_LANES ? n : KEFO_SHA256_LANES;
      kefo__sha256_lanes(jobs, k);
      jobs += k;
      n -= k;
    }
    if (n == 0) {
      return 0;
    }
  }
#ifdef KEFO_CPU_X86_DISPATCH
  if (n >= 2 && has_sha_ext()) {
    /* As few rounds as the ways allow, the messages shared evenly
       between them: seven go four and three, not six and one alone. */
    size_t rounds = (n + MAX_WAYS - 1) / MAX_WAYS;

    interleaved(jobs, n, (int)((n + rounds - 1) / rounds));
    return 0;
  }
#endif
  if (n >= 2 && kefo__sha256_lanes_usable()) {
    kefo__sha256_lanes(jobs, n); /* still faster than one by one */
    return 0;
  }
  return one_by_one(jobs, n);
}
