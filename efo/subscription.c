/*
 * One shard's subscription state machine.
 */
#include "efo/subscription.h"

#include "shard/position.h"
#include "shard/seq.h"

#include <stdint.h>
#include <string.h>

int kefo__subcore_init(kefo_subscription_core *core, const char *shard_id,
                       const char *position_type, const char *position_value,
                       const kefo_retry_strategy *retry,
                       uint32_t inactivity_ms) {
  int needs_value;

  if (core == NULL || shard_id == NULL ||
      strlen(shard_id) >= KEFO_SHARD_ID_CAP || shard_id[0] == '\0' ||
      !kefo__position_valid(position_type, position_value)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  needs_value = kefo__position_needs_value(position_type);
  memset(core, 0, sizeof(*core));
  strcpy(core->shard_id, shard_id);
  strcpy(core->position_type, position_type);
  if (needs_value) {
    strcpy(core->position_value, position_value);
  }
  core->state = KEFO_SUB_IDLE;
  core->inactivity_ms = inactivity_ms;
  core->last_subscribe_ms = INT64_MIN / 2;
  if (retry) {
    core->retry = *retry;
  } else {
    kefo__retry_default(&core->retry);
  }
  return 0;
}

int kefo__subcore_should_subscribe(const kefo_subscription_core *core,
                                   int64_t now_ms, int64_t *wait_ms) {
  int64_t at;

  if (core->state != KEFO_SUB_IDLE) {
    if (wait_ms) {
      *wait_ms = -1;
    }
    return 0;
  }
  at = core->not_before_ms;
  if (at < core->last_subscribe_ms + KEFO_SUB_MIN_INTERVAL_MS) {
    at = core->last_subscribe_ms + KEFO_SUB_MIN_INTERVAL_MS;
  }
  if (now_ms >= at) {
    if (wait_ms) {
      *wait_ms = 0;
    }
    return 1;
  }
  if (wait_ms) {
    *wait_ms = at - now_ms;
  }
  return 0;
}

void kefo__subcore_on_subscribe(kefo_subscription_core *core, int64_t now_ms) {
  core->state = KEFO_SUB_SUBSCRIBING;
  core->last_subscribe_ms = now_ms;
  core->last_activity_ms = now_ms;
  ++core->subscriptions;
}

void kefo__subcore_on_answer(kefo_subscription_core *core, int64_t now_ms) {
  if (core->state != KEFO_SUB_SUBSCRIBING) {
    return;
  }
  if (now_ms > core->last_subscribe_ms) {
    core->last_subscribe_ms = now_ms;
  }
  core->last_activity_ms = now_ms;
}

/*
 * Checks |n| sequence numbers (each well formed, each above the one
 * before) and counts the leading ones at or before the last delivered
 * one: one pass, each number measured and compared once. Returns the
 * count or KEFO_ERR_INVALID_ARGUMENT.
 */
static int count_seen(const kefo_subscription_core *core,
                      const char *const *seqs, size_t n) {
  size_t i, skip = 0, len, prev_len = 0;
  size_t last_len = strlen(core->last_delivered);

  if (n > 0 && seqs == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  for (i = 0; i < n; ++i) {
    len = kefo__seq_len(seqs[i]);
    if (len == 0 || (i > 0 && kefo__seq_cmp_len(seqs[i - 1], prev_len, seqs[i],
                                                len) >= 0)) {
      return KEFO_ERR_INVALID_ARGUMENT;
    }
    /* Seen already: a resubscription, or a server that repeats itself. */
    if (skip == i && last_len > 0 &&
        kefo__seq_cmp_len(seqs[i], len, core->last_delivered, last_len) <= 0) {
      ++skip;
    }
    prev_len = len;
  }
  return (int)skip;
}

/* An event (or a run of one) came at |now_ms|: the stream is alive. */
static void streaming(kefo_subscription_core *core, int64_t now_ms) {
  core->state = KEFO_SUB_STREAMING;
  core->last_activity_ms = now_ms;
  core->failures = 0;
}

int kefo__subcore_on_event(kefo_subscription_core *core, int64_t now_ms,
                           const char *const *seqs, size_t n,
                           const char *continuation) {
  size_t cont_len = 0;
  int skip;

  if (continuation && (cont_len = kefo__seq_len(continuation)) == 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  skip = count_seen(core, seqs, n);
  if (skip < 0) {
    return skip;
  }
  streaming(core, now_ms);
  core->pending_set = 1;
  core->pending_end = continuation == NULL;
  if (continuation) {
    memcpy(core->pending, continuation, cont_len + 1);
  }
  return skip;
}

int kefo__subcore_on_run(kefo_subscription_core *core, int64_t now_ms,
                         const char *const *seqs, size_t n) {
  int skip = count_seen(core, seqs, n);

  if (skip < 0) {
    return skip;
  }
  streaming(core, now_ms);
  core->pending_set = 0;
  return skip;
}

void kefo__subcore_on_delivered(kefo_subscription_core *core,
                                const char *last_seq) {
  size_t len = kefo__seq_len(last_seq);

  if (len > 0 && (core->last_delivered[0] == '\0' ||
                  kefo__seq_cmp_len(last_seq, len, core->last_delivered,
                                    strlen(core->last_delivered)) > 0)) {
    memcpy(core->last_delivered, last_seq, len + 1);
  }
  if (!core->pending_set) {
    return;
  }
  core->pending_set = 0;
  if (core->pending_end) {
    core->state = KEFO_SUB_FINISHED;
  } else {
    strcpy(core->position_type, "AFTER_SEQUENCE_NUMBER");
    strcpy(core->position_value, core->pending);
  }
}

void kefo__subcore_on_end(kefo_subscription_core *core, int64_t now_ms,
                          int error, int retryable, const kefo_clock *clock) {
  int64_t delay;

  if (core->state == KEFO_SUB_FINISHED || core->state == KEFO_SUB_FAILED) {
    return;
  }
  /* An event not handed on is fetched again. */
  core->pending_set = 0;
  if (error == 0) {
    /* The normal end of a subscription's life: go on at once (the rate
       limit still applies). */
    core->state = KEFO_SUB_IDLE;
    core->not_before_ms = now_ms;
    return;
  }
  if (!retryable) {
    core->state = KEFO_SUB_FAILED;
    return;
  }
  ++core->failures;
  delay = kefo__retry_delay_ms(&core->retry, core->failures, clock);
  if (delay < 0) {
    core->state = KEFO_SUB_FAILED;
    return;
  }
  core->state = KEFO_SUB_IDLE;
  core->not_before_ms = now_ms + delay;
}

void kefo__subcore_touch(kefo_subscription_core *core, int64_t now_ms) {
  core->last_activity_ms = now_ms;
}

int kefo__subcore_inactive(const kefo_subscription_core *core, int64_t now_ms) {
  return core->inactivity_ms > 0 &&
         (core->state == KEFO_SUB_SUBSCRIBING ||
          core->state == KEFO_SUB_STREAMING) &&
         now_ms - core->last_activity_ms >= (int64_t)core->inactivity_ms;
}
