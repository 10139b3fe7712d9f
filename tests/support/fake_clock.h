/*
 * A clock for the I/O-free cores' unit tests: time is whatever the test
 * passes in (both readings are 0), and the "random" value is the one the
 * test sets, so that backoff with jitter gives known delays.
 */
#ifndef KEFO_TESTS_FAKE_CLOCK_H
#define KEFO_TESTS_FAKE_CLOCK_H

#include <stdint.h>

#include "base/clock.h"

/* What the clock's random() returns. */
extern uint32_t kefo_fake_random_value;

extern const kefo_clock kefo_fake_clock;

#endif /* KEFO_TESTS_FAKE_CLOCK_H */
