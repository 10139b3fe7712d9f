/*
 * The state machine of one shard's polling reader, I/O-free: it is told
 * what happened (an iterator, a GetRecords answer, an error, the time) and
 * says what to do next (get an iterator from where, call GetRecords with
 * which iterator, wait how long). It keeps the guarantees: never more than
 * five GetRecords calls a second, at once again while the shard is behind,
 * backing off towards the idle interval while it is not, backoff with
 * jitter after throttling or failures, an expired iterator renewed after
 * the last delivered record, and no record delivered twice even if an
 * answer is fetched again.
 */
#ifndef KEFO_POLL_CORE_H
#define KEFO_POLL_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/retry.h"
#include <kefo/kefo.h>

#include "shard/position.h"
#include "shard/seq.h"

/* GetRecords allows five calls a second per shard. */
#define KEFO_POLL_MIN_INTERVAL_MS 200
/* A shard iterator lives 5 minutes: one older than this is renewed
   before use (after a long pause). */
#define KEFO_POLL_ITERATOR_SAFE_MS (270 * 1000)
/* A ShardIterator is 1 to 512 characters. */
#define KEFO_ITERATOR_MAX 513

typedef enum {
  KEFO_POLL_NEED_ITERATOR, /* GetShardIterator from the position */
  KEFO_POLL_READY,         /* an iterator: GetRecords when the time comes */
  KEFO_POLL_IN_FLIGHT,     /* a call is out */
  KEFO_POLL_FINISHED,      /* shard end reached: children may start */
  KEFO_POLL_FAILED         /* a non-retryable error: the owner decides */
} kefo_poll_state;

/* What the owner should do now. */
typedef enum {
  KEFO_POLL_DO_WAIT,         /* nothing yet: see *wait_ms */
  KEFO_POLL_DO_GET_ITERATOR, /* GetShardIterator from position_type/value */
  KEFO_POLL_DO_GET_RECORDS   /* GetRecords with core->iterator */
} kefo_poll_action;

typedef struct kefo_poll_core {
  char shard_id[KEFO_SHARD_ID_CAP];
  kefo_poll_state state;
  /* Where the next iterator starts. */
  char position_type[32];
  char position_value[KEFO_SEQ_MAX];
  char iterator[KEFO_ITERATOR_MAX];
  /* The answer being handed on: its NextShardIterator (or its shard end),
     committed only once its records were delivered. */
  char pending[KEFO_ITERATOR_MAX];
  int pending_end;
  int pending_busy;
  /* The last record handed to the application. */
  char last_delivered[KEFO_SEQ_MAX];
  int64_t last_get_ms; /* the last GetRecords call, -1 before the first */
  int64_t not_before_ms;
  uint32_t busy_ms;  /* between calls while behind (200 ms at least) */
  uint32_t idle_ms;  /* the longest wait when caught up */
  uint32_t delay_ms; /* the current wait between calls */
  uint32_t failures;
  uint32_t calls;
  kefo_retry_strategy retry;
} kefo_poll_core;

/*
 * Sets up |core| for |shard_id| starting at |position_type| (TRIM_HORIZON,
 * LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER) with
 * |position_value| (a sequence number or epoch seconds, else NULL).
 * |busy_ms| is the wait between calls while the shard is behind (raised to
 * KEFO_POLL_MIN_INTERVAL_MS), |idle_ms| the longest wait once caught up
 * (raised to |busy_ms|); the wait doubles from one to the other while
 * answers come back caught up.
 *
 * Returns 0 or KEFO_ERR_INVALID_ARGUMENT (unknown type, a value missing or
 * too long, an id too long).
 */
int kefo__pollcore_init(kefo_poll_core *core, const char *shard_id,
                        const char *position_type, const char *position_value,
                        const kefo_retry_strategy *retry, uint32_t busy_ms,
                        uint32_t idle_ms);

/*
 * Says what to do at |now_ms|. For KEFO_POLL_DO_WAIT, |*wait_ms| (may be
 * NULL) is how long until something is due (-1: never: a call is out, or
 * the shard finished or failed). For the two calls, the owner sends the
 * call and then calls kefo__pollcore_on_call.
 */
kefo_poll_action kefo__pollcore_next(const kefo_poll_core *core, int64_t now_ms,
                                     int64_t *wait_ms);

/* The owner sent the call kefo__pollcore_next asked for, at |now_ms|. */
void kefo__pollcore_on_call(kefo_poll_core *core, int64_t now_ms);

/* GetShardIterator answered |iterator|. Returns 0, or
   KEFO_ERR_BAD_RESPONSE (empty or too long: the core backs off as after a
   retryable failure; see kefo__pollcore_on_error). */
int kefo__pollcore_on_iterator(kefo_poll_core *core, int64_t now_ms,
                               const char *iterator, const kefo_clock *clock);

/*
 * GetRecords answered: |seqs| are its records' sequence numbers in order,
 * |next| its NextShardIterator (NULL: shard end), |behind| its
 * MillisBehindLatest, |full| whether it returned as many records as asked.
 * Returns how many leading records the owner must skip (delivered before);
 * once the rest are handed on, the owner calls kefo__pollcore_on_delivered,
 * and only then does the core move to |next| (or finish), so an answer
 * that could not be delivered is fetched again.
 *
 * Returns the count to skip (0..n) or KEFO_ERR_INVALID_ARGUMENT (a
 * malformed sequence number or iterator: the answer must not be trusted;
 * the owner reports it through kefo__pollcore_on_error).
 */
int kefo__pollcore_on_records(kefo_poll_core *core, int64_t now_ms,
                              const char *const *seqs, size_t n,
                              const char *next, int64_t behind, int full);

/* The answer was handled: its new records (if any) were handed on,
   |last_seq| the last one's sequence number (NULL: none new). */
void kefo__pollcore_on_delivered(kefo_poll_core *core, const char *last_seq);

/*
 * The call failed at |now_ms| with |error| (|aws_type| the AWS error type
 * or NULL, |retryable| as the client judged it). ExpiredIteratorException
 * asks for a new iterator after the last delivered record (at once);
 * retryable errors (throttling, transport) wait with jittered backoff from
 * |clock| and keep the iterator; others, or too many failures in a row,
 * make the core FAILED.
 */
void kefo__pollcore_on_error(kefo_poll_core *core, int64_t now_ms, int error,
                             const char *aws_type, int retryable,
                             const kefo_clock *clock);

/* The answer to the call out was not handed on (the shard is paused):
   the same call goes again when asked (an iterator is kept). */
void kefo__pollcore_on_dropped(kefo_poll_core *core, int64_t now_ms);

/* Forgets the iterator (after a pause longer than its 5-minute life, or
   when the owner cancelled the call): the next step asks for a new one
   after the last delivered record. */
void kefo__pollcore_renew(kefo_poll_core *core);

#endif /* KEFO_POLL_CORE_H */
