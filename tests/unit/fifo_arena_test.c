/*
 * The FIFO arena: objects cut from chunks in order, chunks given back when
 * their last object goes (kept as spares up to the limit), large objects
 * alone, the footprint counting all of it, and allocation failure.
 */
#include <stdint.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "base/fifo_arena.h"
#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"

#define CHUNK 4096

/* Objects are aligned, distinct, and keep what was written to them. */
static void test_alloc_in_order(void) {
  kefo_fifo_arena a;
  uint8_t *p[100];
  size_t i;

  kefo__fifo_arena_init(&a, NULL, CHUNK);
  for (i = 0; i < 100; ++i) {
    p[i] = kefo__fifo_arena_alloc(&a, 1 + i % 50);
    CU_ASSERT_PTR_NOT_NULL_FATAL(p[i]);
    CU_ASSERT_EQUAL((uintptr_t)p[i] % 16, 0);
    memset(p[i], (int)i, 1 + i % 50);
  }
  for (i = 0; i < 100; ++i) {
    CU_ASSERT_EQUAL(p[i][0], (uint8_t)i);
    CU_ASSERT_EQUAL(p[i][i % 50], (uint8_t)i);
  }
  CU_ASSERT_EQUAL(a.live, 100);
  /* 100 objects of 16 + up to 64 bytes: more than one 4 KiB chunk. */
  CU_ASSERT(a.footprint >= 2 * CHUNK);
  CU_ASSERT_EQUAL(a.footprint % CHUNK, 0);
  for (i = 0; i < 100; ++i) {
    kefo__fifo_arena_free(&a, p[i]);
  }
  CU_ASSERT_EQUAL(a.live, 0);
  kefo__fifo_arena_trim(&a);
  CU_ASSERT_EQUAL(a.footprint, 0);
  CU_ASSERT_PTR_NULL(a.cur);
}

/* A steady stream, freed in order with a lag, reuses its chunks: the
   footprint stops growing, and nothing goes back to malloc after the
   first rounds. */
static void test_steady_stream_reuses(void) {
  kefo_failmalloc fm;
  kefo_fifo_arena a;
  void *ring[64];
  size_t i, peak = 0;
  long allocs_after_warmup = -1;

  kefo_failmalloc_init(&fm, -1);
  kefo__fifo_arena_init(&a, &fm.mem, CHUNK);
  memset(ring, 0, sizeof(ring));
  for (i = 0; i < 100000; ++i) {
    kefo__fifo_arena_free(&a, ring[i % 64]);
    ring[i % 64] = kefo__fifo_arena_alloc(&a, 100);
    CU_ASSERT_PTR_NOT_NULL_FATAL(ring[i % 64]);
    if (a.footprint > peak) {
      peak = a.footprint;
    }
    if (i == 1000) {
      allocs_after_warmup = fm.count;
    }
  }
  /* 64 live objects of 128 bytes: 8 KiB, in at most 3 chunks being cut
     or drained, plus the spares. */
  CU_ASSERT(peak <= (3 + KEFO_FIFO_ARENA_SPARES) * CHUNK);
  CU_ASSERT_EQUAL(fm.count, allocs_after_warmup);
  for (i = 0; i < 64; ++i) {
    kefo__fifo_arena_free(&a, ring[i]);
  }
  kefo__fifo_arena_trim(&a);
  CU_ASSERT_EQUAL(a.footprint, 0);
  CU_ASSERT_EQUAL(fm.live, 0);
}

/* One late object keeps its chunk, and the footprint says so; freeing it
   gives the chunk back. */
static void test_late_object_pins_chunk(void) {
  kefo_fifo_arena a;
  void *late, *p[200];
  size_t i, before;

  kefo__fifo_arena_init(&a, NULL, CHUNK);
  late = kefo__fifo_arena_alloc(&a, 10);
  for (i = 0; i < 200; ++i) {
    p[i] = kefo__fifo_arena_alloc(&a, 100);
  }
  for (i = 0; i < 200; ++i) {
    kefo__fifo_arena_free(&a, p[i]);
  }
  kefo__fifo_arena_trim(&a);
  /* The first chunk stays, held by |late|. */
  CU_ASSERT_EQUAL(a.footprint, CHUNK);
  before = a.footprint;
  kefo__fifo_arena_free(&a, late);
  kefo__fifo_arena_trim(&a);
  CU_ASSERT(a.footprint < before);
  CU_ASSERT_EQUAL(a.footprint, 0);
}

/* Large objects are allocated alone and counted by their size; the cost
   says what an allocation would add. */
static void test_alone_and_cost(void) {
  kefo_fifo_arena a;
  void *big, *small;

  kefo__fifo_arena_init(&a, NULL, CHUNK);
  CU_ASSERT_EQUAL(kefo__fifo_arena_cost(&a, 100), CHUNK);
  CU_ASSERT_EQUAL(kefo__fifo_arena_cost(&a, 3000), 16 + 3008);
  big = kefo__fifo_arena_alloc(&a, 3000);
  CU_ASSERT_PTR_NOT_NULL_FATAL(big);
  CU_ASSERT_EQUAL(a.footprint, 16 + 3008);
  memset(big, 7, 3000);
  small = kefo__fifo_arena_alloc(&a, 100);
  CU_ASSERT_EQUAL(a.footprint, 16 + 3008 + CHUNK);
  CU_ASSERT_EQUAL(kefo__fifo_arena_cost(&a, 100), 0);
  CU_ASSERT_EQUAL(kefo__fifo_arena_cost(&a, SIZE_MAX), SIZE_MAX);
  CU_ASSERT_PTR_NULL(kefo__fifo_arena_alloc(&a, SIZE_MAX));
  kefo__fifo_arena_free(&a, big);
  CU_ASSERT_EQUAL(a.footprint, CHUNK);
  kefo__fifo_arena_free(&a, small);
  kefo__fifo_arena_free(&a, NULL);
  kefo__fifo_arena_trim(&a);
  CU_ASSERT_EQUAL(a.footprint, 0);
}

static int scenario(const kefo_mem *mem, void *arg) {
  kefo_fifo_arena a;
  void *p[300];
  size_t i, n = 0;
  int rv = 0;

  (void)arg;
  kefo__fifo_arena_init(&a, mem, CHUNK);
  for (i = 0; i < 300; ++i) {
    /* Mostly small, every 50th alone. */
    p[n] = kefo__fifo_arena_alloc(&a, i % 50 == 0 ? 2000 : 90);
    if (p[n] == NULL) {
      rv = KEFO_ERR_NOMEM;
      continue;
    }
    ++n;
    if (i % 3 == 0) {
      kefo__fifo_arena_free(&a, p[--n]);
    }
  }
  for (i = 0; i < n; ++i) {
    kefo__fifo_arena_free(&a, p[i]);
  }
  CU_ASSERT_EQUAL(a.live, 0);
  kefo__fifo_arena_trim(&a);
  CU_ASSERT_EQUAL(a.footprint, 0);
  return rv;
}

static void test_failmalloc(void) {
  kefo_failmalloc_run(scenario, NULL);
}

int kefo_add_fifo_arena_suite(void) {
  CU_pSuite s = CU_add_suite("fifo_arena", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "alloc in order", test_alloc_in_order) ||
      !CU_add_test(s, "steady stream reuses", test_steady_stream_reuses) ||
      !CU_add_test(s, "late object pins chunk", test_late_object_pins_chunk) ||
      !CU_add_test(s, "alone and cost", test_alone_and_cost) ||
      !CU_add_test(s, "failmalloc", test_failmalloc)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
