/*
 * bench_machine: the bounds of the machine the producer's figures are
 * taken on, each against its peer in the same run, so that a session
 * can tell a slow phase of the VM from a change of kefo's and knows
 * which costs are the hardware's (bench/RESULTS.md, path 6):
 *
 * - a page fault: 64 MiB mapped and touched once a page, in 4 KiB pages
 *   and then advised to huge pages (MADV_HUGEPAGE), CPU time a 4 KiB
 *   page's worth, three times each (the first touch of fresh memory
 *   costs more);
 * - the SHA extensions: sha256rnds2's latency (one chain) and its
 *   throughput (eight chains), in TSC cycles and in core cycles (a
 *   dependent add is one core cycle), and the bound they set on SHA-256
 *   (32 of them a 64-byte block);
 * - whether AVX-512 work overlaps them: six sha256rnds2 and 24 AVX-512
 *   operations (rotates, ternary logic, adds, as a 16-lane SHA-256
 *   round has) in one loop, against each alone.
 *
 * x86-64 Linux; the SHA parts need the SHA extensions and AVX-512F.
 * usage: bench_machine
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#define FAULT_BYTES ((size_t)64 << 20)
#define LOOPS 50000000L

static double cpu_s(void) {
  struct rusage ru;

  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* CPU us per 4 KiB page to touch a fresh mapping once a page. */
static double fault_us(int huge) {
  uint8_t *p = mmap(NULL, FAULT_BYTES, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  double t0, t1;
  size_t i;

  if (p == MAP_FAILED) {
    return -1;
  }
#ifdef MADV_HUGEPAGE
  if (huge) {
    madvise(p, FAULT_BYTES, MADV_HUGEPAGE);
  }
#endif
  t0 = cpu_s();
  for (i = 0; i < FAULT_BYTES; i += 4096) {
    ((volatile uint8_t *)p)[i] = 1;
  }
  t1 = cpu_s();
  munmap(p, FAULT_BYTES);
  return (t1 - t0) * 1e6 / (double)(FAULT_BYTES / 4096);
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <x86intrin.h>

#define SHA_AVX __attribute__((target("sha,sse4.1,avx512f")))

/* The TSC's rate in GHz, over 100 ms of the monotonic clock. */
static double tsc_ghz(void) {
  struct timespec a, b;
  uint64_t t0, t1;
  double ns;

  clock_gettime(CLOCK_MONOTONIC, &a);
  t0 = __rdtsc();
  do {
    clock_gettime(CLOCK_MONOTONIC, &b);
    ns = (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
  } while (ns < 1e8);
  t1 = __rdtsc();
  return (double)(t1 - t0) / ns;
}

/* TSC cycles a dependent add takes: one core cycle. */
static double add_cycle(void) {
  uint64_t t0 = __rdtsc(), t1;
  long i, x = 0;

  for (i = 0; i < LOOPS; i++) {
    __asm__ volatile("add $1, %0" : "+r"(x));
  }
  t1 = __rdtsc();
  return (double)(t1 - t0) / LOOPS;
}

/* TSC cycles a sha256rnds2 takes in one chain (its latency). */
SHA_AVX static double rnds_latency(void) {
  __m128i a = _mm_set1_epi32(1), b = _mm_set1_epi32(2), k = _mm_set1_epi32(3);
  uint64_t t0 = __rdtsc(), t1;
  long i;

  for (i = 0; i < LOOPS; i++) {
    a = _mm_sha256rnds2_epu32(a, b, k);
    __asm__("" : "+x"(a));
  }
  t1 = __rdtsc();
  __asm__ volatile("" ::"x"(a));
  return (double)(t1 - t0) / LOOPS;
}

#define RNDS(a) a = _mm_sha256rnds2_epu32(a, b, k)
/* One step of a 16-lane round's kind of work: six dependent operations
   on four registers. */
#define ZSTEP(z0, z1, z2, z3)                                                  \
  z0 = _mm512_ror_epi32(z1, 6);                                                \
  z2 = _mm512_ternarylogic_epi32(z0, z1, z3, 0x96);                            \
  z3 = _mm512_add_epi32(z3, z2);                                               \
  z1 = _mm512_ror_epi32(z2, 11);                                               \
  z0 = _mm512_add_epi32(z0, z1);                                               \
  z2 = _mm512_ternarylogic_epi32(z2, z3, z0, 0xe8)

/* TSC cycles a loop of |rnds| independent sha256rnds2 (0, 6 or 8) and,
   with |zmm|, 24 AVX-512 operations in four chains takes. */
SHA_AVX static double mixed(int rnds, int zmm) {
  __m128i a0 = _mm_set1_epi32(1), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0,
          a6 = a0, a7 = a0, b = _mm_set1_epi32(2), k = _mm_set1_epi32(3);
  __m512i z0 = _mm512_set1_epi32(1), z1 = _mm512_set1_epi32(2), z2 = z0,
          z3 = z1, y0 = z0, y1 = z1, y2 = z0, y3 = z1, w0 = z0, w1 = z1,
          w2 = z0, w3 = z1, v0 = z0, v1 = z1, v2 = z0, v3 = z1;
  uint64_t t0 = __rdtsc(), t1;
  long i;

  for (i = 0; i < LOOPS; i++) {
    if (rnds >= 6) {
      RNDS(a0);
      RNDS(a1);
      RNDS(a2);
      RNDS(a3);
      RNDS(a4);
      RNDS(a5);
    }
    if (rnds == 8) {
      RNDS(a6);
      RNDS(a7);
    }
    if (zmm) {
      ZSTEP(z0, z1, z2, z3);
      ZSTEP(y0, y1, y2, y3);
      ZSTEP(w0, w1, w2, w3);
      ZSTEP(v0, v1, v2, v3);
    }
    /* Kept in registers, and no loop-invariant work hoisted. */
    __asm__(""
            : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5),
              "+x"(a6), "+x"(a7));
    __asm__(""
            : "+v"(z0), "+v"(z1), "+v"(z2), "+v"(z3), "+v"(y0), "+v"(y1),
              "+v"(y2), "+v"(y3));
    __asm__(""
            : "+v"(w0), "+v"(w1), "+v"(w2), "+v"(w3), "+v"(v0), "+v"(v1),
              "+v"(v2), "+v"(v3));
  }
  t1 = __rdtsc();
  __asm__ volatile("" ::"x"(a0), "x"(a1), "x"(a2), "x"(a3), "x"(a4), "x"(a5),
                   "x"(a6), "x"(a7));
  __asm__ volatile("" ::"v"(z0), "v"(y1), "v"(w2), "v"(v3), "v"(z2), "v"(y3),
                   "v"(w0), "v"(v1));
  return (double)(t1 - t0) / LOOPS;
}

static void sha_bounds(void) {
  double ghz, add, lat, thr, sha6, zmm, both;

  __builtin_cpu_init();
  if (!__builtin_cpu_supports("sha") || !__builtin_cpu_supports("avx512f")) {
    printf("SHA extensions or AVX-512F missing: no SHA figures\n");
    return;
  }
  ghz = tsc_ghz();
  add = add_cycle();
  lat = rnds_latency();
  thr = mixed(8, 0) / 8;
  printf("TSC %.3f GHz; core cycle %.2f TSC cycles (a dependent add): core "
         "about %.2f GHz\n",
         ghz, add, ghz / add);
  printf("sha256rnds2: latency %.2f TSC cycles (%.1f core), throughput one "
         "every %.2f (%.1f core)\n",
         lat, lat / add, thr, thr / add);
  printf("SHA-256 bound on the SHA extensions (32 a 64-byte block): %.0f "
         "core cycles, %.1f ns a block, %.2f GB/s a core\n",
         32 * thr / add, 32 * thr / ghz, 64 / (32 * thr / ghz));
  sha6 = mixed(6, 0);
  zmm = mixed(0, 1);
  both = mixed(6, 1);
  printf("6 sha256rnds2 alone %.2f TSC cycles, 24 AVX-512 operations alone "
         "%.2f, both in one loop %.2f (%.0f%% of the two in turn)\n",
         sha6, zmm, both, 100 * both / (sha6 + zmm));
}
#else
static void sha_bounds(void) {
  printf("not x86-64: no SHA figures\n");
}
#endif

int main(void) {
  int i;

  setvbuf(stdout, NULL, _IONBF, 0);
  for (i = 0; i < 3; i++) {
    printf("page fault, CPU us a 4 KiB page: 4 KiB pages %.2f", fault_us(0));
    printf(", huge pages %.2f\n", fault_us(1));
  }
  sha_bounds();
  return 0;
}
