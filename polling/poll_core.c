/*
 * One shard's polling state machine. The pacing follows what Flink's and
 * the KCL's pollers do: again as soon as the rate limit allows while the
 * shard is behind, a growing wait while it is caught up.
 */
#include "polling/poll_core.h"

#include <string.h>

int kefo__pollcore_init(kefo_poll_core *core, const char *shard_id,
                        const char *position_type, const char *position_value,
                        const kefo_retry_strategy *retry, uint32_t busy_ms,
                        uint32_t idle_ms) {
  if (core == NULL || shard_id == NULL || shard_id[0] == '\0' ||
      strlen(shard_id) >= KEFO_SHARD_ID_CAP ||
      !kefo__position_valid(position_type, position_value)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  memset(core, 0, sizeof(*core));
  strcpy(core->shard_id, shard_id);
  strcpy(core->position_type, position_type);
  if (kefo__position_needs_value(position_type)) {
    strcpy(core->position_value, position_value);
  }
  core->state = KEFO_POLL_NEED_ITERATOR;
  core->busy_ms =
      busy_ms < KEFO_POLL_MIN_INTERVAL_MS ? KEFO_POLL_MIN_INTERVAL_MS : busy_ms;
  core->idle_ms = idle_ms < core->busy_ms ? core->busy_ms : idle_ms;
  core->delay_ms = core->busy_ms;
  core->last_get_ms = -1;
  if (retry) {
    core->retry = *retry;
  } else {
    kefo__retry_default(&core->retry);
  }
  return 0;
}

kefo_poll_action kefo__pollcore_next(const kefo_poll_core *core, int64_t now_ms,
                                     int64_t *wait_ms) {
  int64_t due = core->not_before_ms;
  int64_t dummy;

  if (wait_ms == NULL) {
    wait_ms = &dummy;
  }
  *wait_ms = -1;
  switch (core->state) {
  case KEFO_POLL_NEED_ITERATOR:
    break;
  case KEFO_POLL_READY:
    /* The rate limit holds whatever the backoff says. */
    if (core->last_get_ms >= 0 &&
        core->last_get_ms + KEFO_POLL_MIN_INTERVAL_MS > due) {
      due = core->last_get_ms + KEFO_POLL_MIN_INTERVAL_MS;
    }
    break;
  default:
    return KEFO_POLL_DO_WAIT;
  }
  if (now_ms < due) {
    *wait_ms = due - now_ms;
    return KEFO_POLL_DO_WAIT;
  }
  *wait_ms = 0;
  return core->state == KEFO_POLL_NEED_ITERATOR ? KEFO_POLL_DO_GET_ITERATOR
                                                : KEFO_POLL_DO_GET_RECORDS;
}

void kefo__pollcore_on_call(kefo_poll_core *core, int64_t now_ms) {
  if (core->state == KEFO_POLL_READY) {
    /* GetRecords (an iterator call does not count against its limit). */
    core->last_get_ms = now_ms;
    ++core->calls;
  }
  core->state = KEFO_POLL_IN_FLIGHT;
}

int kefo__pollcore_on_iterator(kefo_poll_core *core, int64_t now_ms,
                               const char *iterator, const kefo_clock *clock) {
  if (core->state != KEFO_POLL_IN_FLIGHT) {
    return 0;
  }
  if (iterator == NULL || iterator[0] == '\0' ||
      strlen(iterator) >= sizeof(core->iterator)) {
    kefo__pollcore_on_error(core, now_ms, KEFO_ERR_BAD_RESPONSE, NULL, 1,
                            clock);
    return KEFO_ERR_BAD_RESPONSE;
  }
  strcpy(core->iterator, iterator);
  core->state = KEFO_POLL_READY;
  core->failures = 0;
  core->not_before_ms = now_ms;
  return 0;
}

int kefo__pollcore_on_records(kefo_poll_core *core, int64_t now_ms,
                              const char *const *seqs, size_t n,
                              const char *next, int64_t behind, int full) {
  size_t i, skip = 0;

  (void)now_ms;
  if (next != NULL && (next[0] == '\0' || strlen(next) >= KEFO_ITERATOR_MAX)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  for (i = 0; i < n; ++i) {
    if (!kefo__seq_valid(seqs[i]) ||
        (i > 0 && kefo__seq_cmp(seqs[i - 1], seqs[i]) >= 0)) {
      return KEFO_ERR_INVALID_ARGUMENT;
    }
  }
  /* An answer fetched again (a retried call, an iterator renewed from an
     older position) repeats records already handed on. */
  while (skip < n && core->last_delivered[0] &&
         kefo__seq_cmp(seqs[skip], core->last_delivered) <= 0) {
    ++skip;
  }
  core->pending_end = next == NULL;
  core->pending[0] = '\0';
  if (next) {
    strcpy(core->pending, next);
  }
  core->pending_busy = full || behind > 0;
  return (int)skip;
}

void kefo__pollcore_on_delivered(kefo_poll_core *core, const char *last_seq) {
  if (core->state != KEFO_POLL_IN_FLIGHT) {
    return;
  }
  if (last_seq && kefo__seq_valid(last_seq)) {
    strcpy(core->last_delivered, last_seq);
  }
  core->failures = 0;
  if (core->pending_end) {
    core->state = KEFO_POLL_FINISHED;
    return;
  }
  strcpy(core->iterator, core->pending);
  core->state = KEFO_POLL_READY;
  if (core->pending_busy) {
    core->delay_ms = core->busy_ms;
  } else {
    /* Caught up: wait longer each time, up to the idle interval. */
    core->delay_ms = core->delay_ms >= core->idle_ms / 2 ? core->idle_ms
                                                         : core->delay_ms * 2;
  }
  core->not_before_ms = core->last_get_ms + core->delay_ms;
}

/* Where a new iterator starts: after the last delivered record, else
   where the shard started (nothing was handed on since). */
static void from_last_delivered(kefo_poll_core *core) {
  if (core->last_delivered[0]) {
    strcpy(core->position_type, "AFTER_SEQUENCE_NUMBER");
    strcpy(core->position_value, core->last_delivered);
  }
  core->iterator[0] = '\0';
  core->state = KEFO_POLL_NEED_ITERATOR;
}

void kefo__pollcore_on_error(kefo_poll_core *core, int64_t now_ms, int error,
                             const char *aws_type, int retryable,
                             const kefo_clock *clock) {
  int64_t delay;
  int had_iterator = core->iterator[0] != '\0';

  (void)error;
  if (core->state == KEFO_POLL_FINISHED || core->state == KEFO_POLL_FAILED) {
    return;
  }
  if (aws_type && strcmp(aws_type, "ExpiredIteratorException") == 0) {
    from_last_delivered(core);
    core->not_before_ms = now_ms;
    return;
  }
  if (!retryable) {
    core->state = KEFO_POLL_FAILED;
    return;
  }
  ++core->failures;
  delay = kefo__retry_delay_ms(&core->retry, core->failures, clock);
  if (delay < 0) {
    core->state = KEFO_POLL_FAILED;
    return;
  }
  core->state = had_iterator ? KEFO_POLL_READY : KEFO_POLL_NEED_ITERATOR;
  core->not_before_ms = now_ms + delay;
}

void kefo__pollcore_on_dropped(kefo_poll_core *core, int64_t now_ms) {
  if (core->state != KEFO_POLL_IN_FLIGHT) {
    return;
  }
  core->state = core->iterator[0] ? KEFO_POLL_READY : KEFO_POLL_NEED_ITERATOR;
  core->not_before_ms = now_ms;
}

void kefo__pollcore_renew(kefo_poll_core *core) {
  if (core->state == KEFO_POLL_FINISHED || core->state == KEFO_POLL_FAILED) {
    return;
  }
  from_last_delivered(core);
}
