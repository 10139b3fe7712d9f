/*
 * A failing allocator for tests, after nghttp2's failmalloc: count the
 * allocations a scenario makes, then run it again failing allocation i for
 * every i. The scenario must return an error, not crash, and free all.
 */
#ifndef KEFO_TESTS_FAILMALLOC_H
#define KEFO_TESTS_FAILMALLOC_H

#include <stddef.h>

#include <kefo/kefo.h>

typedef struct kefo_failmalloc {
  kefo_mem mem;
  /* Allocation number (0-based) to fail; -1 never fails. */
  long fail_at;
  /* Allocations attempted so far (including the failed one). */
  long count;
  /* Blocks allocated and not yet freed. */
  long live;
} kefo_failmalloc;

/* Starts a failing allocator that fails allocation |fail_at| (-1: none). */
void kefo_failmalloc_init(kefo_failmalloc *fm, long fail_at);

/*
 * Runs |scenario| once to count its allocations, then once per allocation
 * failing that one. Asserts (CUnit) that every run frees every block.
 * |scenario| gets the allocator and |arg|; its return value is ignored
 * except that a run with no failure must return 0.
 */
void kefo_failmalloc_run(int (*scenario)(const kefo_mem *mem, void *arg),
                         void *arg);

#endif /* KEFO_TESTS_FAILMALLOC_H */
