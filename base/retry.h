/*
 * Retry strategy: exponential backoff with full jitter between a minimum
 * and a maximum delay, for a bounded number of attempts (Flink's
 * AWSConfigOptions retry strategy). I/O-free: it only says how long to
 * wait; the caller owns the timer.
 */
#ifndef KEFO_RETRY_H
#define KEFO_RETRY_H

#include <stdint.h>

#include "base/clock.h"

typedef struct kefo_retry_strategy {
  uint32_t min_delay_ms;
  uint32_t max_delay_ms;
  /* Attempts in all, the first included; 0 means no limit. */
  uint32_t max_attempts;
} kefo_retry_strategy;

/* Defaults as in Flink: 300 ms to 1 s, 50 attempts. */
#define KEFO_RETRY_DEFAULT_MIN_MS 300u
#define KEFO_RETRY_DEFAULT_MAX_MS 1000u
#define KEFO_RETRY_DEFAULT_ATTEMPTS 50u

/* Fills |rs| with the defaults. */
void kefo__retry_default(kefo_retry_strategy *rs);

/*
 * Returns the delay before attempt |attempt| + 1, after |attempt| (1 or
 * more) attempts have failed: a uniform random value in
 * [min, min(max, min * 2^(attempt-1))], full jitter keeping retries of many
 * shards from moving in step. Returns -1 when no attempt is left.
 */
int64_t kefo__retry_delay_ms(const kefo_retry_strategy *rs, uint32_t attempt,
                             const kefo_clock *clock);

#endif /* KEFO_RETRY_H */
