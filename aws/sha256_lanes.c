/*
 * SHA-256 (FIPS 180-4) of sixteen messages at once, one in each 32-bit
 * lane of the AVX-512 registers (see sha256_lanes.h).
 *
 * Register v of the state holds working variable v (A to H) of all
 * sixteen messages; a round is the same instructions for all of them,
 * with no shuffles: the sigma functions are three rotates (or two and a
 * shift) joined by one three-way XOR (VPTERNLOGD), and Ch and Maj are one
 * VPTERNLOGD each. A block's sixteen words come in as sixteen rows of 64
 * bytes (one per message) and are transposed into sixteen registers, word
 * t of every message in register t; the schedule keeps them there.
 */
#include "config.h"

#include "aws/sha256_lanes.h"

#include <string.h>

#include "aws/sha256_k.h"
#include "base/cpu.h"

#ifdef KEFO_CPU_X86_DISPATCH
#include <immintrin.h>

#define LANES_TARGET __attribute__((target("avx512f,avx512bw")))

/* Each constant in all sixteen lanes: the round adds it from memory. */
#define SIXTEEN(k) {k, k, k, k, k, k, k, k, k, k, k, k, k, k, k, k},
static const uint32_t K16[64][16]
    __attribute__((aligned(64))) = {KEFO_SHA256_K(SIXTEEN)};
#undef SIXTEEN
#define WORD(k) k,
static const uint32_t IV[8] = {KEFO_SHA256_IV(WORD)};
#undef WORD

#define ROR(x, n) _mm512_ror_epi32((x), (n))
/* 0x96: a ^ b ^ c; 0xca: a ? b : c (Ch); 0xe8: majority (Maj). */
#define XOR3(a, b, c) _mm512_ternarylogic_epi32((a), (b), (c), 0x96)
#define ADD(a, b) _mm512_add_epi32((a), (b))
/* Sections 4.1.2 (4.4) to (4.7). */
#define BSIG0(x) XOR3(ROR(x, 2), ROR(x, 13), ROR(x, 22))
#define BSIG1(x) XOR3(ROR(x, 6), ROR(x, 11), ROR(x, 25))
#define SSIG0(x) XOR3(ROR(x, 7), ROR(x, 18), _mm512_srli_epi32(x, 3))
#define SSIG1(x) XOR3(ROR(x, 17), ROR(x, 19), _mm512_srli_epi32(x, 10))

/* Round t with message word w: section 6.2.2 step 3, the variables
   renamed instead of moved (the caller rotates their names), so d and h
   take the new e and a. */
#define ROUND(t, w, a, b, c, d, e, f, g, h)                                    \
  do {                                                                         \
    __m512i t1_ =                                                              \
        ADD(ADD(h, ADD(w, _mm512_load_si512(K16[t]))),                         \
            ADD(BSIG1(e), _mm512_ternarylogic_epi32(e, f, g, 0xca)));          \
    d = ADD(d, t1_);                                                           \
    h = ADD(t1_, ADD(BSIG0(a), _mm512_ternarylogic_epi32(a, b, c, 0xe8)));     \
  } while (0)

/* Eight rounds from t, with words w0 to w7. */
#define ROUNDS8(t, w0, w1, w2, w3, w4, w5, w6, w7)                             \
  ROUND(t, w0, a, b, c, d, e, f, g, h);                                        \
  ROUND(t + 1, w1, h, a, b, c, d, e, f, g);                                    \
  ROUND(t + 2, w2, g, h, a, b, c, d, e, f);                                    \
  ROUND(t + 3, w3, f, g, h, a, b, c, d, e);                                    \
  ROUND(t + 4, w4, e, f, g, h, a, b, c, d);                                    \
  ROUND(t + 5, w5, d, e, f, g, h, a, b, c);                                    \
  ROUND(t + 6, w6, c, d, e, f, g, h, a, b);                                    \
  ROUND(t + 7, w7, b, c, d, e, f, g, h, a)

/* Section 6.2.2 step 1 in place: w0 holds W[t-16] and becomes W[t]; w1,
   w9 and w14 hold W[t-15], W[t-7] and W[t-2]. */
#define SCHEDULE(w0, w1, w9, w14)                                              \
  w0 = ADD(ADD(w0, SSIG0(w1)), ADD(w9, SSIG1(w14)))

/* Sixteen more words (of rounds t to t + 15), then their rounds. */
#define ROUNDS16(t)                                                            \
  SCHEDULE(w0, w1, w9, w14);                                                   \
  SCHEDULE(w1, w2, w10, w15);                                                  \
  SCHEDULE(w2, w3, w11, w0);                                                   \
  SCHEDULE(w3, w4, w12, w1);                                                   \
  SCHEDULE(w4, w5, w13, w2);                                                   \
  SCHEDULE(w5, w6, w14, w3);                                                   \
  SCHEDULE(w6, w7, w15, w4);                                                   \
  SCHEDULE(w7, w8, w0, w5);                                                    \
  ROUNDS8(t, w0, w1, w2, w3, w4, w5, w6, w7);                                  \
  SCHEDULE(w8, w9, w1, w6);                                                    \
  SCHEDULE(w9, w10, w2, w7);                                                   \
  SCHEDULE(w10, w11, w3, w8);                                                  \
  SCHEDULE(w11, w12, w4, w9);                                                  \
  SCHEDULE(w12, w13, w5, w10);                                                 \
  SCHEDULE(w13, w14, w6, w11);                                                 \
  SCHEDULE(w14, w15, w7, w12);                                                 \
  SCHEDULE(w15, w0, w8, w13);                                                  \
  ROUNDS8(t + 8, w8, w9, w10, w11, w12, w13, w14, w15)

/* Rows r[0..15] (row i: the 16 words of message i) into columns (r[t]:
   word t of every message), in four steps of unpacks and 128-bit
   shuffles. */
LANES_TARGET static inline __attribute__((always_inline)) void
transpose(__m512i r[16]) {
  __m512i t[16], u[16];
  int i;

#pragma GCC unroll 16
  for (i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
  }
#pragma GCC unroll 16
  for (i = 0; i < 16; i += 4) {
    u[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
    u[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
    u[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
    u[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
  }
  /* u[4q + j], 128-bit part L: word 4L + j of messages 4q to 4q + 3. */
#pragma GCC unroll 4
  for (i = 0; i < 4; i++) {
    __m512i lo01 = _mm512_shuffle_i32x4(u[i], u[4 + i], 0x44);
    __m512i hi01 = _mm512_shuffle_i32x4(u[i], u[4 + i], 0xee);
    __m512i lo23 = _mm512_shuffle_i32x4(u[8 + i], u[12 + i], 0x44);
    __m512i hi23 = _mm512_shuffle_i32x4(u[8 + i], u[12 + i], 0xee);

    r[i] = _mm512_shuffle_i32x4(lo01, lo23, 0x88);
    r[4 + i] = _mm512_shuffle_i32x4(lo01, lo23, 0xdd);
    r[8 + i] = _mm512_shuffle_i32x4(hi01, hi23, 0x88);
    r[12 + i] = _mm512_shuffle_i32x4(hi01, hi23, 0xdd);
  }
}

/* |nblocks| blocks of each of the sixteen messages, lane l's from p[l]
   on; st[v][l] is variable v of lane l. */
LANES_TARGET static void blocks16(const uint8_t *const p[16], size_t nblocks,
                                  uint32_t st[8][16]) {
  /* Big-endian words: each 4-byte group reversed. */
  const __m512i bswap = _mm512_broadcast_i32x4(
      _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11, 4, 5, 6, 7, 0, 1, 2, 3));
  __m512i s[8];
  size_t blk;
  int i;

  for (i = 0; i < 8; i++) {
    s[i] = _mm512_load_si512(st[i]);
  }
  for (blk = 0; blk < nblocks; blk++) {
    __m512i r[16], w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10, w11, w12, w13,
        w14, w15;
    __m512i a = s[0], b = s[1], c = s[2], d = s[3], e = s[4], f = s[5],
            g = s[6], h = s[7];

#pragma GCC unroll 16
    for (i = 0; i < 16; i++) {
      r[i] = _mm512_loadu_si512(p[i] + 64 * blk);
    }
    transpose(r);
#pragma GCC unroll 16
    for (i = 0; i < 16; i++) {
      r[i] = _mm512_shuffle_epi8(r[i], bswap);
    }
    w0 = r[0], w1 = r[1], w2 = r[2], w3 = r[3], w4 = r[4], w5 = r[5];
    w6 = r[6], w7 = r[7], w8 = r[8], w9 = r[9], w10 = r[10], w11 = r[11];
    w12 = r[12], w13 = r[13], w14 = r[14], w15 = r[15];
    ROUNDS8(0, w0, w1, w2, w3, w4, w5, w6, w7);
    ROUNDS8(8, w8, w9, w10, w11, w12, w13, w14, w15);
    ROUNDS16(16);
    ROUNDS16(32);
    ROUNDS16(48);
    s[0] = ADD(s[0], a);
    s[1] = ADD(s[1], b);
    s[2] = ADD(s[2], c);
    s[3] = ADD(s[3], d);
    s[4] = ADD(s[4], e);
    s[5] = ADD(s[5], f);
    s[6] = ADD(s[6], g);
    s[7] = ADD(s[7], h);
  }
  for (i = 0; i < 8; i++) {
    _mm512_store_si512(st[i], s[i]);
  }
}

/* One lane's message: the whole blocks of its data, then the one or two
   blocks of its end (the bytes after the whole blocks, 0x80, zeros, the
   length in bits) from |tail|. */
typedef struct lane {
  const kefo_sha256_job *job; /* NULL: idle */
  const uint8_t *p;           /* the next block */
  size_t left;                /* blocks left in this part */
  int in_tail;
  uint8_t tail[128];
} lane;

/* Moves |ln| on to its message's end blocks. */
static void start_tail(lane *ln) {
  const kefo_sha256_job *j = ln->job;
  size_t r = j->len % 64, nb = r < 56 ? 1 : 2, i;
  uint64_t bits = (uint64_t)j->len << 3;

  memset(ln->tail, 0, sizeof(ln->tail));
  if (r > 0) {
    memcpy(ln->tail, j->data + (j->len - r), r);
  }
  ln->tail[r] = 0x80;
  for (i = 0; i < 8; i++) {
    ln->tail[nb * 64 - 1 - i] = (uint8_t)(bits >> (8 * i));
  }
  ln->p = ln->tail;
  ln->left = nb;
  ln->in_tail = 1;
}

static void start(lane *ln, int l, const kefo_sha256_job *j,
                  uint32_t st[8][16]) {
  int v;

  for (v = 0; v < 8; v++) {
    st[v][l] = IV[v];
  }
  ln->job = j;
  ln->p = j->data;
  ln->left = j->len / 64;
  ln->in_tail = 0;
  if (ln->left == 0) {
    start_tail(ln);
  }
}

/* H0..H7 of lane |l|, big-endian, to its job's |out|; the lane idles. */
static void finish(lane *ln, int l, uint32_t st[8][16]) {
  int v;

  for (v = 0; v < 8; v++) {
    ln->job->out[4 * v] = (uint8_t)(st[v][l] >> 24);
    ln->job->out[4 * v + 1] = (uint8_t)(st[v][l] >> 16);
    ln->job->out[4 * v + 2] = (uint8_t)(st[v][l] >> 8);
    ln->job->out[4 * v + 3] = (uint8_t)st[v][l];
  }
  ln->job = NULL;
}

void kefo__sha256_lanes(const kefo_sha256_job *jobs, size_t n) {
  uint32_t st[8][16] __attribute__((aligned(64)));
  lane lanes[KEFO_SHA256_LANES];
  const uint8_t *p[KEFO_SHA256_LANES];
  size_t next = 0, run;
  int l, any;

  for (l = 0; l < KEFO_SHA256_LANES; l++) {
    lanes[l].job = NULL;
  }
  for (;;) {
    /* Idle lanes take the next messages; then all go on together for as
       many blocks as the part that ends first has. */
    run = SIZE_MAX;
    any = -1;
    for (l = 0; l < KEFO_SHA256_LANES; l++) {
      if (lanes[l].job == NULL && next < n) {
        start(&lanes[l], l, &jobs[next++], st);
      }
      if (lanes[l].job != NULL) {
        run = lanes[l].left < run ? lanes[l].left : run;
        any = l;
      }
    }
    if (any < 0) {
      return;
    }
    /* An idle lane hashes a busy one's blocks again, into a state that
       nobody reads: the loads stay inside memory that is there. */
    for (l = 0; l < KEFO_SHA256_LANES; l++) {
      p[l] = lanes[lanes[l].job != NULL ? l : any].p;
    }
    blocks16(p, run, st);
    for (l = 0; l < KEFO_SHA256_LANES; l++) {
      lane *ln = &lanes[l];

      if (ln->job == NULL) {
        continue;
      }
      ln->p += 64 * run;
      ln->left -= run;
      if (ln->left == 0) {
        if (ln->in_tail) {
          finish(ln, l, st);
        } else {
          start_tail(ln);
        }
      }
    }
  }
}

int kefo__sha256_lanes_usable(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") &&
         __builtin_cpu_supports("avx512bw");
}
#else
void kefo__sha256_lanes(const kefo_sha256_job *jobs, size_t n) {
  (void)jobs;
  (void)n;
}

int kefo__sha256_lanes_usable(void) {
  return 0;
}
#endif /* KEFO_CPU_X86_DISPATCH */
