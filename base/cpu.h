/*
 * What the CPU can do, for the vector paths chosen at run time (the
 * AVX2 base64 decoder and string scan): the build targets plain x86-64,
 * so that one binary runs on every such CPU.
 */
#ifndef KEFO_BASE_CPU_H
#define KEFO_BASE_CPU_H

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define KEFO_CPU_X86_DISPATCH 1

/* Whether the CPU has AVX2. __builtin_cpu_init returns at once once the
   CPU is known; no state of ours, so no race between threads. */
static inline int kefo__cpu_has_avx2(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2");
}
#endif

#endif /* KEFO_BASE_CPU_H */
