/*
 * Time and randomness, injected: lease expiry, backoff, credential refresh
 * and subscription renewal read the clock through this table so tests can
 * drive them without sleeping, and jitter draws from a replaceable source.
 */
#ifndef KEFO_CLOCK_H
#define KEFO_CLOCK_H

#include <stdint.h>

struct timeval;

typedef struct kefo_clock {
  /* Milliseconds since the Unix epoch (wall clock: signing, expiry). */
  int64_t (*wall_ms)(void *user_data);
  /* Milliseconds from an arbitrary origin that never goes back (deadlines,
     intervals). */
  int64_t (*mono_ms)(void *user_data);
  /* A uniformly distributed 32-bit random number (jitter; not for
     secrets). */
  uint32_t (*random32)(void *user_data);
  void *user_data;
} kefo_clock;

/* The system clock (CLOCK_REALTIME, CLOCK_MONOTONIC) and a xorshift
   generator seeded from the time and the process id. Never NULL. */
const kefo_clock *kefo__clock_system(void);

/* Returns |clock|, or the system clock when |clock| is NULL. */
const kefo_clock *kefo__clock_or_system(const kefo_clock *clock);

/* Fills |tv| with |ms| milliseconds (a negative |ms| counts as 0), for
   libevent timers. */
void kefo__timeval_ms(struct timeval *tv, int64_t ms);

#endif /* KEFO_CLOCK_H */
