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

/*
 * |clock|'s mono_ms, or for the system clock CLOCK_MONOTONIC_COARSE: the
 * same origin, read from the last tick (behind CLOCK_MONOTONIC by less
 * than the tick, 4 ms here). For stamps taken once a record, where a
 * tick does not matter: 2.9 ns a read against 20.4 for CLOCK_MONOTONIC
 * on the benchmark VM, whose clock is a paravirtual one.
 */
int64_t kefo__clock_mono_ms_coarse(const kefo_clock *clock);

/* Returns |clock|, or the system clock when |clock| is NULL. */
const kefo_clock *kefo__clock_or_system(const kefo_clock *clock);

/* Fills |tv| with |ms| milliseconds (a negative |ms| counts as 0), for
   libevent timers. */
void kefo__timeval_ms(struct timeval *tv, int64_t ms);

#endif /* KEFO_CLOCK_H */
