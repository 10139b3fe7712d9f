/* The unit tests' fixed clock (see fake_clock.h). */
#include "tests/support/fake_clock.h"

#include <stddef.h>

uint32_t kefo_fake_random_value;

static int64_t zero_ms(void *ud) {
  (void)ud;
  return 0;
}

static uint32_t fake_random(void *ud) {
  (void)ud;
  return kefo_fake_random_value;
}

const kefo_clock kefo_fake_clock = {zero_ms, zero_ms, fake_random, NULL};
