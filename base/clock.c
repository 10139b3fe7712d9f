/*
 * The system clock and random source behind kefo_clock.
 */
#include "base/clock.h"

#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int64_t read_clock(clockid_t id) {
  struct timespec ts;

  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t system_wall_ms(void *ud) {
  (void)ud;
  return read_clock(CLOCK_REALTIME);
}

static int64_t system_mono_ms(void *ud) {
  (void)ud;
  return read_clock(CLOCK_MONOTONIC);
}

/* xorshift64*: jitter only needs to spread retries, not to be secret. The
   state is per process; a data race between threads would at worst repeat
   a value. */
static uint64_t rng_state;

static uint32_t system_random32(void *ud) {
  uint64_t x = rng_state;

  (void)ud;
  if (x == 0) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    x = (uint64_t)ts.tv_nsec << 20 ^ (uint64_t)ts.tv_sec ^
        (uint64_t)getpid() << 40 ^ 0x9e3779b97f4a7c15ULL;
  }
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_state = x;
  return (uint32_t)((x * 0x2545f4914f6cdd1dULL) >> 32);
}

static const kefo_clock system_clock = {system_wall_ms, system_mono_ms,
                                        system_random32, NULL};

const kefo_clock *kefo__clock_system(void) {
  return &system_clock;
}

const kefo_clock *kefo__clock_or_system(const kefo_clock *clock) {
  return clock ? clock : &system_clock;
}

void kefo__timeval_ms(struct timeval *tv, int64_t ms) {
  if (ms < 0) {
    ms = 0;
  }
  tv->tv_sec = (time_t)(ms / 1000);
  tv->tv_usec = (suseconds_t)((ms % 1000) * 1000);
}
