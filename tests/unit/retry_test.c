/*
 * Retry strategy: full jitter within [min, min(max, min * 2^(n-1))], the
 * attempt limit, and an injected random source.
 */
#include <CUnit/CUnit.h>

#include "base/retry.h"
#include "tests/support/fake_clock.h"
#include "tests/unit/suites.h"

static void test_bounds(void) {
  kefo_retry_strategy rs = {100, 1000, 10};
  uint32_t attempt, k;

  for (attempt = 1; attempt < 10; ++attempt) {
    int64_t ceil = 100LL << (attempt - 1);
    if (ceil > 1000) {
      ceil = 1000;
    }
    for (k = 0; k < 2000; ++k) {
      int64_t d;
      kefo_fake_random_value = k * 2654435761u;
      d = kefo__retry_delay_ms(&rs, attempt, &kefo_fake_clock);
      CU_ASSERT(d >= 100 && d <= ceil);
    }
    /* The top of the range is reachable: the jitter is full. */
    kefo_fake_random_value = (uint32_t)(ceil - 100);
    CU_ASSERT_EQUAL(kefo__retry_delay_ms(&rs, attempt, &kefo_fake_clock), ceil);
  }
}

static void test_attempts(void) {
  kefo_retry_strategy rs = {10, 20, 3};
  kefo_retry_strategy unlimited = {10, 20, 0};

  CU_ASSERT(kefo__retry_delay_ms(&rs, 1, &kefo_fake_clock) >= 10);
  CU_ASSERT(kefo__retry_delay_ms(&rs, 2, &kefo_fake_clock) >= 10);
  /* Three attempts made: none left. */
  CU_ASSERT_EQUAL(kefo__retry_delay_ms(&rs, 3, &kefo_fake_clock), -1);
  CU_ASSERT_EQUAL(kefo__retry_delay_ms(&rs, 0, &kefo_fake_clock), -1);
  CU_ASSERT(kefo__retry_delay_ms(&unlimited, 1000000, &kefo_fake_clock) <= 20);
  /* The system clock's random source works too. */
  CU_ASSERT(kefo__retry_delay_ms(&rs, 1, NULL) >= 10);
}

static void test_defaults(void) {
  kefo_retry_strategy rs;

  kefo__retry_default(&rs);
  CU_ASSERT_EQUAL(rs.min_delay_ms, KEFO_RETRY_DEFAULT_MIN_MS);
  CU_ASSERT_EQUAL(rs.max_delay_ms, KEFO_RETRY_DEFAULT_MAX_MS);
  CU_ASSERT_EQUAL(rs.max_attempts, KEFO_RETRY_DEFAULT_ATTEMPTS);
}

int kefo_add_retry_suite(void) {
  CU_pSuite s = CU_add_suite("retry", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "bounds", test_bounds) ||
      !CU_add_test(s, "attempts", test_attempts) ||
      !CU_add_test(s, "defaults", test_defaults)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
