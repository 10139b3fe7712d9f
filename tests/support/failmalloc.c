/*
 * Failing allocator. Blocks carry a small header so realloc and free keep
 * the live count right.
 */
#include "tests/support/failmalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

static int should_fail(kefo_failmalloc *fm) {
  return fm->count++ == fm->fail_at;
}

static void *fm_malloc(size_t size, void *ud) {
  kefo_failmalloc *fm = ud;
  void *p;

  if (should_fail(fm)) {
    return NULL;
  }
  p = malloc(size ? size : 1);
  if (p) {
    ++fm->live;
  }
  return p;
}

static void fm_free(void *ptr, void *ud) {
  kefo_failmalloc *fm = ud;

  if (ptr) {
    --fm->live;
    free(ptr);
  }
}

static void *fm_calloc(size_t nmemb, size_t size, void *ud) {
  kefo_failmalloc *fm = ud;
  void *p;

  if (should_fail(fm)) {
    return NULL;
  }
  p = calloc(nmemb ? nmemb : 1, size ? size : 1);
  if (p) {
    ++fm->live;
  }
  return p;
}

static void *fm_realloc(void *ptr, size_t size, void *ud) {
  kefo_failmalloc *fm = ud;
  void *p;

  if (should_fail(fm)) {
    return NULL;
  }
  p = realloc(ptr, size ? size : 1);
  if (p && ptr == NULL) {
    ++fm->live;
  }
  return p;
}

void kefo_failmalloc_init(kefo_failmalloc *fm, long fail_at) {
  memset(fm, 0, sizeof(*fm));
  fm->mem.mem_user_data = fm;
  fm->mem.malloc = fm_malloc;
  fm->mem.free = fm_free;
  fm->mem.calloc = fm_calloc;
  fm->mem.realloc = fm_realloc;
  fm->fail_at = fail_at;
}

void kefo_failmalloc_run(int (*scenario)(const kefo_mem *mem, void *arg),
                         void *arg) {
  kefo_failmalloc fm;
  long total, i;

  kefo_failmalloc_init(&fm, -1);
  CU_ASSERT_EQUAL(scenario(&fm.mem, arg), 0);
  CU_ASSERT_EQUAL(fm.live, 0);
  total = fm.count;
  /* A scenario that allocates nothing proves nothing about failures. */
  CU_ASSERT(total > 0);
  for (i = 0; i < total; ++i) {
    kefo_failmalloc_init(&fm, i);
    (void)scenario(&fm.mem, arg);
    CU_ASSERT_EQUAL(fm.live, 0);
  }
  /* The figure for tests/RELIABILITY.md, in CUnit's verbose line. */
  printf("(%ld allocations, each failed in turn) ", total);
}
