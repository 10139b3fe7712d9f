/*
 * The watermark alignment decision, without I/O, time source or memory of
 * its own: from each shard's largest event time, last record and pause
 * state, the settings and the time given, it works out the watermarks,
 * the limit a shard may run to and which shards alignment pauses or
 * resumes. runtime/alignment.c keeps the timer and applies the answers
 * to the consumer's readers.
 */
#ifndef KEFO_ALIGN_POLICY_H
#define KEFO_ALIGN_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include <kefo/kefo.h>

typedef struct kefo_align_policy_settings {
  /* source.watermark.out-of-orderness; below 0 counts as 0. */
  int64_t out_of_orderness_ms;
  /* source.watermark.idle-timeout; 0 or below: no shard is ever idle. */
  int64_t idle_timeout_ms;
  /* source.watermark.alignment.max-drift; 0 or below: no built-in
     aligner. */
  int64_t max_drift_ms;
  /* kefo_set_max_watermark; INT64_MAX: no limit. */
  int64_t max_watermark;
} kefo_align_policy_settings;

/* What the policy needs to know of one shard (one started reader). */
typedef struct kefo_align_policy_shard {
  /* The largest event time delivered; KEFO_WATERMARK_NONE before the
     first record. */
  int64_t max_event_ms;
  /* When the last record came, or the reader started or last resumed
     (the same clock as the |now_ms| given). */
  int64_t last_record_ms;
  /* 1 while being read; 0 once read to its end or failed. */
  int reading;
  /* Paused, by the application or by alignment. */
  int paused;
  /* Paused by alignment. */
  int align_paused;
  /* The oldest event time of a batch held back undelivered, because it
     started above the limit (kefo__align_policy_admits);
     KEFO_WATERMARK_NONE when none is. The shard resumes once that batch
     would be admitted. */
  int64_t held_event_ms;
} kefo_align_policy_shard;

typedef enum {
  KEFO_ALIGN_POLICY_KEEP = 0, /* alignment leaves the shard as it is */
  KEFO_ALIGN_POLICY_PAUSE,    /* alignment holds the shard from now */
  KEFO_ALIGN_POLICY_RESUME    /* alignment lets the shard go on */
} kefo_align_policy_action;

/*
 * 1 when |s| limits shards at all (a max drift, or a max watermark below
 * INT64_MAX), else 0. Returns no error code.
 */
int kefo__align_policy_aligning(const kefo_align_policy_settings *s);

/*
 * The watermark of a shard whose largest event time is |max_event_ms|:
 * that time minus the out-of-orderness, never below INT64_MIN + 1 (so
 * that it never reads as KEFO_WATERMARK_NONE), or KEFO_WATERMARK_NONE
 * when |max_event_ms| is. Returns no error code.
 */
int64_t kefo__align_policy_watermark(const kefo_align_policy_settings *s,
                                     int64_t max_event_ms);

/*
 * 1 when |sh| is idle at |now_ms|: an idle timeout is set, the shard is
 * not paused, and no record came for at least the timeout; else 0. Does
 * not look at |sh->reading|. Returns no error code.
 */
int kefo__align_policy_idle(const kefo_align_policy_settings *s,
                            const kefo_align_policy_shard *sh, int64_t now_ms);

/*
 * The global watermark of the |n| shards of |shards| at |now_ms|, as
 * kefo_consumer_watermarks reports it: the smallest watermark of the
 * shards being read that are not idle, KEFO_WATERMARK_NONE while one of
 * them has none yet or when none of them counts. When |out| is not NULL,
 * out[i] gets the watermark, idle, paused and finished fields of
 * shards[i] (its shard_id is left alone). Returns no error code.
 */
int64_t kefo__align_policy_global(const kefo_align_policy_settings *s,
                                  const kefo_align_policy_shard *shards,
                                  size_t n, int64_t now_ms,
                                  kefo_shard_watermark *out);

/*
 * The limit in force at |now_ms|: the max watermark and, with a max
 * drift, the slowest watermark of the shards being read that are not
 * idle and have a watermark (a batch held back counting as delivered),
 * plus the drift (when that does not
 * overflow), whichever is lower. INT64_MAX is no limit. Returns no error
 * code.
 */
int64_t kefo__align_policy_limit(const kefo_align_policy_settings *s,
                                 const kefo_align_policy_shard *shards,
                                 size_t n, int64_t now_ms);

/*
 * The limit |allowed| once a shard's largest event time became
 * |max_event_ms|: lower when that watermark plus the drift is below it
 * (the shard is the slowest now: a first delivery, or one after being
 * idle), else unchanged. Raising it waits for kefo__align_policy_limit,
 * which sees every shard. Returns the limit, no error code.
 */
int64_t kefo__align_policy_lowered(const kefo_align_policy_settings *s,
                                   int64_t allowed, int64_t max_event_ms);

/*
 * The limit for shards[|except|]'s next batch: as
 * kefo__align_policy_limit without that shard (|except| >= |n|: none).
 * A shard's own watermark never holds its batches back: the slowest
 * shard goes on whatever its next event time. Returns no error code.
 */
int64_t kefo__align_policy_limit_except(const kefo_align_policy_settings *s,
                                        const kefo_align_policy_shard *shards,
                                        size_t n, int64_t now_ms,
                                        size_t except);

/*
 * What alignment does with |sh| under the limit |allowed| (from
 * kefo__align_policy_limit): a shard being read whose watermark, or that
 * of the batch it holds back, is above the limit is held, one at or below
 * it (or without a watermark) goes on; KEFO_ALIGN_POLICY_KEEP when that is
 * already so, or when the shard is no longer read. Returns the action, no error
 * code.
 */
kefo_align_policy_action
kefo__align_policy_decide(const kefo_align_policy_settings *s,
                          const kefo_align_policy_shard *sh, int64_t allowed);

/*
 * 1 when a batch whose oldest event time is |oldest_event_ms| may be
 * delivered under |allowed|: |s| does not align, or that time's watermark
 * is at or below the limit (or there is none). 0 means the batch is held
 * back whole and its shard paused: delivered and then paused, a batch
 * starting past the limit would lead the slowest shard by more than the
 * drift and the batch's own span. Returns no error code.
 */
int kefo__align_policy_admits(const kefo_align_policy_settings *s,
                              int64_t oldest_event_ms, int64_t allowed);

/*
 * 1 when |sh|, which just delivered (its max_event_ms updated), is to be
 * paused at once: |s| aligns, the shard is not held by alignment yet and
 * its watermark is above |allowed|, the limit worked out last. Does not
 * look at |sh->reading|: only a reader being read delivers. Returns no
 * error code.
 */
int kefo__align_policy_pause_on_delivery(const kefo_align_policy_settings *s,
                                         const kefo_align_policy_shard *sh,
                                         int64_t allowed);

#endif /* KEFO_ALIGN_POLICY_H */
