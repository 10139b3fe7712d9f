/*
 * The growable buffer: appends, C strings, and allocation failure.
 */
#include <stdint.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "base/buf.h"
#include "base/mem.h"
#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"

static void test_append(void) {
  kefo_buf b;
  size_t i;

  kefo__buf_init(&b, NULL);
  CU_ASSERT_EQUAL(kefo__buf_append_str(&b, "abc"), 0);
  CU_ASSERT_EQUAL(kefo__buf_append_byte(&b, 'd'), 0);
  for (i = 0; i < 1000; ++i) {
    CU_ASSERT_EQUAL(kefo__buf_append(&b, "xy", 2), 0);
  }
  CU_ASSERT_EQUAL(b.len, 2004);
  CU_ASSERT_EQUAL(strncmp(kefo__buf_cstr(&b), "abcdxyxy", 8), 0);
  CU_ASSERT_EQUAL(strlen(kefo__buf_cstr(&b)), 2004);
  kefo__buf_reset(&b);
  CU_ASSERT_STRING_EQUAL(kefo__buf_cstr(&b), "");
  kefo__buf_free(&b);
}

static int scenario(const kefo_mem *mem, void *arg) {
  kefo_buf b;
  int rv = 0, i;

  (void)arg;
  kefo__buf_init(&b, mem);
  for (i = 0; i < 200 && rv == 0; ++i) {
    rv = kefo__buf_append_str(&b, "0123456789");
  }
  if (rv == 0 && kefo__buf_cstr(&b) == NULL) {
    rv = KEFO_ERR_NOMEM;
  }
  if (rv != 0) {
    CU_ASSERT_EQUAL(rv, KEFO_ERR_NOMEM);
  }
  kefo__buf_free(&b);
  return rv;
}

static void test_failmalloc(void) {
  kefo_failmalloc_run(scenario, NULL);
}

/* Big blocks: the default allocator's are whole huge pages on Linux
   (mapped apart); another allocator's come from it, as asked. */
static void test_big_alloc(void) {
  const kefo_mem *mem = kefo__mem_default();
  kefo_failmalloc fm;
  size_t cap = 0;
  uint8_t *p;

  p = kefo__mem_big_alloc(mem, 3 * KEFO_MEM_BIG_MIN + 1, &cap);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT(cap >= 3 * KEFO_MEM_BIG_MIN + 1);
#ifdef __linux__
  CU_ASSERT_EQUAL(cap, 4 * KEFO_MEM_BIG_MIN);
  CU_ASSERT_EQUAL((uintptr_t)p % KEFO_MEM_BIG_MIN, 0);
#endif
  memset(p, 0xa5, cap);
  kefo__mem_big_free(mem, p, cap);
  p = kefo__mem_big_alloc(mem, 100, &cap);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT_EQUAL(cap, 100);
  kefo__mem_big_free(mem, p, cap);
  kefo__mem_big_free(mem, NULL, 0);
  kefo_failmalloc_init(&fm, -1);
  p = kefo__mem_big_alloc(&fm.mem, 3 * KEFO_MEM_BIG_MIN, &cap);
  CU_ASSERT_PTR_NOT_NULL_FATAL(p);
  CU_ASSERT_EQUAL(cap, 3 * KEFO_MEM_BIG_MIN);
  CU_ASSERT_EQUAL(fm.live, 1);
  kefo__mem_big_free(&fm.mem, p, cap);
  CU_ASSERT_EQUAL(fm.live, 0);
  kefo_failmalloc_init(&fm, 0);
  CU_ASSERT_PTR_NULL(kefo__mem_big_alloc(&fm.mem, 3 * KEFO_MEM_BIG_MIN, &cap));
}

int kefo_add_buf_suite(void) {
  CU_pSuite s = CU_add_suite("buf", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "append", test_append) ||
      !CU_add_test(s, "failmalloc", test_failmalloc) ||
      !CU_add_test(s, "big blocks", test_big_alloc)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
