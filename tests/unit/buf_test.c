/*
 * The growable buffer: appends, C strings, and allocation failure.
 */
#include <string.h>

#include <CUnit/CUnit.h>

#include "base/buf.h"
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

int kefo_add_buf_suite(void) {
  CU_pSuite s = CU_add_suite("buf", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "append", test_append) ||
      !CU_add_test(s, "failmalloc", test_failmalloc)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
