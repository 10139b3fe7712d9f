/*
 * The state machine of one shard's Enhanced Fan-Out subscription, I/O-free:
 * it is told what happened (subscribed, an event, the end, the time) and
 * says what to do next (subscribe from where and when, deliver which
 * records, stop). It keeps the guarantees: resubscribe after the last
 * delivered event's ContinuationSequenceNumber, never two SubscribeToShard
 * calls within a second, backoff with jitter after failures, a silent
 * stream resubscribed after the inactivity deadline, and no record
 * delivered twice even if the server sends it again.
 */
#ifndef KEFO_SUBSCRIPTION_H
#define KEFO_SUBSCRIPTION_H

#include <stddef.h>
#include <stdint.h>

#include <kefo/kefo.h>

#include "base/retry.h"
#include "shard/position.h"
#include "shard/seq.h"

typedef enum {
  KEFO_SUB_IDLE,        /* waiting to subscribe (backoff or rate limit) */
  KEFO_SUB_SUBSCRIBING, /* SubscribeToShard sent, no event yet */
  KEFO_SUB_STREAMING,   /* events flowing */
  KEFO_SUB_FINISHED,    /* shard end reached: children may start */
  KEFO_SUB_FAILED       /* a non-retryable error: the owner decides */
} kefo_sub_state;

typedef struct kefo_subscription_core {
  char shard_id[KEFO_SHARD_ID_CAP];
  kefo_sub_state state;
  /* Where the next subscription starts. */
  char position_type[32];
  char position_value[KEFO_SEQ_MAX];
  /* The last record handed to the application (dedup across
     resubscriptions). */
  char last_delivered[KEFO_SEQ_MAX];
  /* The last event's continuation (or its shard end), committed to the
     position only once its records were handed on. */
  char pending[KEFO_SEQ_MAX];
  int pending_set;
  int pending_end;
  int64_t last_subscribe_ms;
  int64_t last_activity_ms;
  int64_t not_before_ms;
  uint32_t failures;
  uint32_t subscriptions;
  uint32_t inactivity_ms;
  kefo_retry_strategy retry;
} kefo_subscription_core;

/* SubscribeToShard's limit: one call a second per shard and consumer. */
#define KEFO_SUB_MIN_INTERVAL_MS 1000

/*
 * Sets up |core| for |shard_id| starting at |position_type| (TRIM_HORIZON,
 * LATEST, AT_TIMESTAMP, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER) with
 * |position_value| (a sequence number or epoch seconds, else NULL).
 * |inactivity_ms| 0 disables the inactivity deadline.
 *
 * Returns 0 or KEFO_ERR_INVALID_ARGUMENT (unknown type, a value missing or
 * too long, an id too long).
 */
int kefo__subcore_init(kefo_subscription_core *core, const char *shard_id,
                       const char *position_type, const char *position_value,
                       const kefo_retry_strategy *retry,
                       uint32_t inactivity_ms);

/*
 * Asks whether to subscribe now. Returns 1 when the owner should call
 * SubscribeToShard from core->position_type / position_value now (then
 * it must call kefo__subcore_on_subscribe), 0 when not yet: |*wait_ms|
 * (may be NULL) is how long until it may (-1: never, finished or failed).
 */
int kefo__subcore_should_subscribe(const kefo_subscription_core *core,
                                   int64_t now_ms, int64_t *wait_ms);

/* The owner sent SubscribeToShard at |now_ms|. */
void kefo__subcore_on_subscribe(kefo_subscription_core *core, int64_t now_ms);

/*
 * The server answered the call (its initial-response) at |now_ms|. The
 * rate limit counts from here when it is later than the send: a call that
 * waited for a connection reached the server late, and a second counted
 * from its send could be less than a second at the server, which refuses
 * it with LimitExceededException. Nothing changes in a state other than
 * SUBSCRIBING.
 */
void kefo__subcore_on_answer(kefo_subscription_core *core, int64_t now_ms);

/*
 * A SubscribeToShardEvent arrived. |seqs| are its records' sequence
 * numbers in order (NULL entries are invalid), |continuation| its
 * ContinuationSequenceNumber (NULL: shard end). Returns how many leading
 * records the owner must skip because they were delivered before; the
 * rest are new and, once handed to the application, the owner calls
 * kefo__subcore_on_delivered; only then does the position move to the
 * continuation (or, at shard end, the state become FINISHED), so an event
 * that could not be delivered is fetched again by the next subscription.
 *
 * Returns the count to skip (0..n) or KEFO_ERR_INVALID_ARGUMENT (a
 * malformed sequence number: the event must not be trusted).
 */
int kefo__subcore_on_event(kefo_subscription_core *core, int64_t now_ms,
                           const char *const *seqs, size_t n,
                           const char *continuation);

/*
 * A run of an event's records arrived before the event's end (its
 * continuation comes with its last part: kinesis.h's set_whole_max).
 * As kefo__subcore_on_event, but kefo__subcore_on_delivered then only
 * notes the last record: the position moves at the event's end.
 *
 * Returns the count to skip (0..n) or KEFO_ERR_INVALID_ARGUMENT.
 */
int kefo__subcore_on_run(kefo_subscription_core *core, int64_t now_ms,
                         const char *const *seqs, size_t n);

/* The last event was handled: its new records (if any) were handed on,
   |last_seq| being the last one's sequence number (NULL when it had no new
   record). Commits the event's continuation or shard end. */
void kefo__subcore_on_delivered(kefo_subscription_core *core,
                                const char *last_seq);

/*
 * The subscription ended at |now_ms|: |error| 0 for the server's normal
 * end (about every 5 minutes), else the error and |retryable|. The core
 * goes back to IDLE with the next attempt's time set (at once, but not
 * within a second of the last call; after failures, backoff with jitter
 * from |clock|) or to FAILED when not retryable.
 */
void kefo__subcore_on_end(kefo_subscription_core *core, int64_t now_ms,
                          int error, int retryable, const kefo_clock *clock);

/* The stream was held back on purpose (a paused shard) until |now_ms|:
   the inactivity deadline counts from now. */
void kefo__subcore_touch(kefo_subscription_core *core, int64_t now_ms);

/* Returns 1 when the stream has been silent past the inactivity deadline:
   the owner should cancel it and call kefo__subcore_on_end with
   KEFO_ERR_TIMEOUT, retryable. */
int kefo__subcore_inactive(const kefo_subscription_core *core, int64_t now_ms);

#endif /* KEFO_SUBSCRIPTION_H */
