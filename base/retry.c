/*
 * Exponential backoff with full jitter.
 */
#include "base/retry.h"

void kefo__retry_default(kefo_retry_strategy *rs) {
  rs->min_delay_ms = KEFO_RETRY_DEFAULT_MIN_MS;
  rs->max_delay_ms = KEFO_RETRY_DEFAULT_MAX_MS;
  rs->max_attempts = KEFO_RETRY_DEFAULT_ATTEMPTS;
}

int64_t kefo__retry_delay_ms(const kefo_retry_strategy *rs, uint32_t attempt,
                             const kefo_clock *clock) {
  uint64_t ceil, span;
  uint32_t shift;

  if (attempt == 0 || (rs->max_attempts && attempt >= rs->max_attempts)) {
    return -1;
  }
  clock = kefo__clock_or_system(clock);
  shift = attempt - 1 > 32 ? 32 : attempt - 1;
  ceil = (uint64_t)(rs->min_delay_ms ? rs->min_delay_ms : 1) << shift;
  if (ceil > rs->max_delay_ms) {
    ceil = rs->max_delay_ms;
  }
  if (ceil < rs->min_delay_ms) {
    ceil = rs->min_delay_ms;
  }
  span = ceil - rs->min_delay_ms;
  return (int64_t)(rs->min_delay_ms +
                   (span ? clock->random32(clock->user_data) % (span + 1) : 0));
}
