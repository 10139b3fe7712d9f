/*
 * The watermark alignment decision (see align_policy.h): plain arithmetic
 * over the shards the caller describes. Every sum and difference is
 * guarded, so that event times and clocks anywhere in int64_t give an
 * answer rather than undefined behaviour.
 */
#include "runtime/align_policy.h"

int kefo__align_policy_aligning(const kefo_align_policy_settings *s) {
  return s->max_drift_ms > 0 || s->max_watermark != INT64_MAX;
}

int64_t kefo__align_policy_watermark(const kefo_align_policy_settings *s,
                                     int64_t max_event_ms) {
  /* The configuration never gives a negative one; were it to, adding
     instead of subtracting could overflow. */
  int64_t ooo = s->out_of_orderness_ms > 0 ? s->out_of_orderness_ms : 0;

  if (max_event_ms == KEFO_WATERMARK_NONE) {
    return KEFO_WATERMARK_NONE;
  }
  /* Saturating: an event time near INT64_MIN stays a watermark. */
  return max_event_ms < INT64_MIN + 1 + ooo ? INT64_MIN + 1
                                            : max_event_ms - ooo;
}

int kefo__align_policy_idle(const kefo_align_policy_settings *s,
                            const kefo_align_policy_shard *sh, int64_t now_ms) {
  /* A paused shard delivers nothing because it is held, not because its
     stream is quiet: it keeps holding the others back. */
  if (s->idle_timeout_ms <= 0 || sh->paused || now_ms < sh->last_record_ms) {
    return 0;
  }
  /* now_ms >= last_record_ms: the difference fits in uint64_t, where
     the signed one might not. */
  return (uint64_t)now_ms - (uint64_t)sh->last_record_ms >=
         (uint64_t)s->idle_timeout_ms;
}

int64_t kefo__align_policy_global(const kefo_align_policy_settings *s,
                                  const kefo_align_policy_shard *shards,
                                  size_t n, int64_t now_ms,
                                  kefo_shard_watermark *out) {
  int64_t global = INT64_MAX;
  int none = 0;
  size_t i;

  for (i = 0; i < n; ++i) {
    const kefo_align_policy_shard *sh = &shards[i];
    int64_t w = kefo__align_policy_watermark(s, sh->max_event_ms);
    int finished = !sh->reading;
    int idle = !finished && kefo__align_policy_idle(s, sh, now_ms);

    if (out != NULL) {
      out[i].watermark = w;
      out[i].idle = idle;
      out[i].paused = sh->paused;
      out[i].finished = finished;
    }
    if (finished || idle) {
      continue;
    }
    /* A shard that may still deliver an early event time keeps the
       global watermark unknown until it has one. */
    if (w == KEFO_WATERMARK_NONE) {
      none = 1;
    } else if (w < global) {
      global = w;
    }
  }
  return none || global == INT64_MAX ? KEFO_WATERMARK_NONE : global;
}

/* Where a shard stands for alignment: its watermark, or that of the
   batch it holds back when later. The batch counts as delivered: a shard
   holding one is not resumed before the limit reaches it, and it counts
   towards the limit from there, or a shard alone ahead of idle ones, its
   own watermark the slowest, would hold itself back for ever. */
static int64_t position(const kefo_align_policy_settings *s,
                        const kefo_align_policy_shard *sh) {
  int64_t w = kefo__align_policy_watermark(s, sh->max_event_ms);
  int64_t h = kefo__align_policy_watermark(s, sh->held_event_ms);

  return h != KEFO_WATERMARK_NONE && (w == KEFO_WATERMARK_NONE || h > w) ? h
                                                                         : w;
}

int64_t kefo__align_policy_limit(const kefo_align_policy_settings *s,
                                 const kefo_align_policy_shard *shards,
                                 size_t n, int64_t now_ms) {
  return kefo__align_policy_limit_except(s, shards, n, now_ms, n);
}

int64_t kefo__align_policy_limit_except(const kefo_align_policy_settings *s,
                                        const kefo_align_policy_shard *shards,
                                        size_t n, int64_t now_ms,
                                        size_t except) {
  int64_t allowed = s->max_watermark, slowest = INT64_MAX;
  size_t i;

  if (s->max_drift_ms <= 0) {
    return allowed;
  }
  for (i = 0; i < n; ++i) {
    const kefo_align_policy_shard *sh = &shards[i];
    int64_t w = position(s, sh);

    if (i == except) {
      continue;
    }

    /* Unlike the global watermark, a shard without a record yet holds
       no one back here: a new or empty shard would otherwise stop every
       other one. */
    if (sh->reading && w != KEFO_WATERMARK_NONE &&
        !kefo__align_policy_idle(s, sh, now_ms) && w < slowest) {
      slowest = w;
    }
  }
  if (slowest != INT64_MAX && slowest <= INT64_MAX - s->max_drift_ms &&
      slowest + s->max_drift_ms < allowed) {
    allowed = slowest + s->max_drift_ms;
  }
  return allowed;
}

/* Above the limit: a shard exactly at it may go on. */
static int over(const kefo_align_policy_settings *s,
                const kefo_align_policy_shard *sh, int64_t allowed) {
  int64_t w = position(s, sh);

  return w != KEFO_WATERMARK_NONE && w > allowed;
}

int64_t kefo__align_policy_lowered(const kefo_align_policy_settings *s,
                                   int64_t allowed, int64_t max_event_ms) {
  int64_t w = kefo__align_policy_watermark(s, max_event_ms);

  if (s->max_drift_ms <= 0 || w == KEFO_WATERMARK_NONE ||
      w > INT64_MAX - s->max_drift_ms || w + s->max_drift_ms >= allowed) {
    return allowed;
  }
  return w + s->max_drift_ms;
}

int kefo__align_policy_admits(const kefo_align_policy_settings *s,
                              int64_t oldest_event_ms, int64_t allowed) {
  int64_t w = kefo__align_policy_watermark(s, oldest_event_ms);

  return !kefo__align_policy_aligning(s) || w == KEFO_WATERMARK_NONE ||
         w <= allowed;
}

kefo_align_policy_action
kefo__align_policy_decide(const kefo_align_policy_settings *s,
                          const kefo_align_policy_shard *sh, int64_t allowed) {
  int want = over(s, sh, allowed);

  if (!sh->reading || want == (sh->align_paused != 0)) {
    return KEFO_ALIGN_POLICY_KEEP;
  }
  return want ? KEFO_ALIGN_POLICY_PAUSE : KEFO_ALIGN_POLICY_RESUME;
}

int kefo__align_policy_pause_on_delivery(const kefo_align_policy_settings *s,
                                         const kefo_align_policy_shard *sh,
                                         int64_t allowed) {
  /* Only pauses: resuming waits for the periodic limit, which sees every
     shard. */
  return kefo__align_policy_aligning(s) && !sh->align_paused &&
         over(s, sh, allowed);
}
