/*
 * Pause and resume, watermarks and alignment: the consumer's side. A
 * shard reads only when neither the application (kefo_shard_pause) nor
 * alignment holds it: the two are kept apart so that alignment resuming
 * a shard never undoes the application's pause. What alignment decides
 * (watermarks, idleness, the limit, who is past it) is
 * runtime/align_policy.c's; this file describes the readers to it, keeps
 * its timer and carries out its answers. A batch that starts past the
 * limit is not delivered: its shard is paused and its reader hands the
 * batch on again after the resume (KEFO_DELIVER_HELD). A shard is paused
 * as soon as a delivery takes it past the limit; the limit is worked out
 * again every ALIGN_PERIOD_MS, which is when shards resume.
 */
#include "config.h"

#include <string.h>

#include "base/clock.h"
#include "runtime/align_policy.h"
#include "runtime/consumer_internal.h"

#define ALIGN_PERIOD_MS 100

/* What the policy needs to know of |r|, as it is now. */
static void describe(const kefo_shard_slot *r, kefo_align_policy_shard *sh) {
  sh->max_event_ms = r->max_event_ms;
  sh->last_record_ms = r->last_record_ms;
  sh->reading = r->state == R_READING;
  sh->paused = r->paused;
  sh->align_paused = r->align_paused;
  sh->held_event_ms = r->held_event_ms;
}

/* Describes every reader, in list order, in c->align_in; sets |*n|.
   Returns 0 or KEFO_ERR_NOMEM. */
static int describe_all(kefo_consumer *c, size_t *n) {
  const kefo_shard_slot *r;
  size_t i = 0;

  if (kefo__consumer_reader_array(c, (void **)&c->align_in, &c->align_cap,
                                  sizeof(*c->align_in)) != 0) {
    return KEFO_ERR_NOMEM;
  }
  for (r = c->readers; r; r = r->next) {
    describe(r, &c->align_in[i++]);
  }
  *n = i;
  return 0;
}

/* The slowest watermark alignment counts (a shard being read, not idle,
   with a watermark), and its shard in |*who|; KEFO_WATERMARK_NONE when
   none counts. */
static int64_t slowest(kefo_consumer *c, const char **who) {
  int64_t now = kefo__consumer_now_ms(c), low = KEFO_WATERMARK_NONE;
  kefo_align_policy_shard sh;
  const kefo_shard_slot *r;

  *who = "none";
  for (r = c->readers; r; r = r->next) {
    int64_t w = kefo__align_policy_watermark(&c->align, r->max_event_ms);
    describe(r, &sh);
    if (sh.reading && w != KEFO_WATERMARK_NONE &&
        !kefo__align_policy_idle(&c->align, &sh, now) &&
        (low == KEFO_WATERMARK_NONE || w < low)) {
      low = w;
      *who = r->shard_id;
    }
  }
  return low;
}

/* Tells the log hook that |r| was paused or resumed: by alignment with
   its watermark beside the slowest one and the limit, else by the
   application. */
static void log_pause(kefo_shard_slot *r, int by_align) {
  kefo_consumer *c = r->c;
  int64_t wm, low;
  const char *who;

  if (!KEFO_LOG_ON(&c->log, KEFO_LOG_INFO)) {
    return;
  }
  if (!by_align) {
    KEFO_LOG(&c->log, KEFO_LOG_INFO,
             r->paused ? "shard.paused" : "shard.resumed", r->shard_id,
             "%s by the application", r->paused ? "paused" : "resumed");
    return;
  }
  /* Holding a batch back, the shard's watermark is the one that batch
     would give it. */
  wm = kefo__align_policy_watermark(
      &c->align, r->held_event_ms != KEFO_WATERMARK_NONE &&
                         (r->max_event_ms == KEFO_WATERMARK_NONE ||
                          r->held_event_ms > r->max_event_ms)
                     ? r->held_event_ms
                     : r->max_event_ms);
  low = slowest(c, &who);
  KEFO_LOG(&c->log, KEFO_LOG_INFO,
           r->paused ? "alignment.paused" : "alignment.resumed", r->shard_id,
           "watermark=%lld slowest=%lld slowest-shard=%s lead-ms=%lld "
           "max-drift-ms=%lld limit=%lld batch-held=%s",
           (long long)wm, (long long)low, who,
           (long long)(wm != KEFO_WATERMARK_NONE && low != KEFO_WATERMARK_NONE
                           ? wm - low
                           : 0),
           (long long)c->align.max_drift_ms,
           (long long)(c->allowed == INT64_MAX ? -1 : c->allowed),
           r->held_event_ms != KEFO_WATERMARK_NONE ? "yes" : "no");
}

/* Pauses or resumes |r| when what holds it changed (|by_align|: the
   change is alignment's). */
static void apply(kefo_shard_slot *r, int by_align) {
  kefo_consumer *c = r->c;
  int paused = r->user_paused || r->align_paused;

  if (paused == r->paused || r->state != R_READING) {
    return;
  }
  r->paused = paused;
  if (paused) {
    r->paused_at_ms = kefo__consumer_now_ms(c);
  } else {
    /* Idle counts from the resume, not from the last record. */
    r->last_record_ms = kefo__consumer_now_ms(c);
  }
  kefo__consumer_reader_paused(r);
  log_pause(r, by_align);
  kefo__consumer_shard_event(c, r->shard_id,
                             paused ? KEFO_SHARD_EVENT_PAUSED
                                    : KEFO_SHARD_EVENT_RESUMED);
}

/* Works out the limit in force and pauses or resumes every shard by it.
   Returns 0 or KEFO_ERR_NOMEM (nothing changed then). */
static int evaluate(kefo_consumer *c) {
  int64_t now = kefo__consumer_now_ms(c), allowed;
  kefo_align_policy_shard sh;
  kefo_shard_slot *r;
  size_t n;

  if (describe_all(c, &n) != 0) {
    return KEFO_ERR_NOMEM;
  }
  allowed = kefo__align_policy_limit(&c->align, c->align_in, n, now);
  c->allowed = allowed;
  /* Each reader as it is when its turn comes, not as described above:
     apply() tells on_shard_event, whose application may pause or resume
     shards in turn. */
  for (r = c->readers; r; r = r->next) {
    describe(r, &sh);
    switch (kefo__align_policy_decide(&c->align, &sh, allowed)) {
    case KEFO_ALIGN_POLICY_PAUSE:
      r->align_paused = 1;
      apply(r, 1);
      break;
    case KEFO_ALIGN_POLICY_RESUME:
      r->align_paused = 0;
      apply(r, 1);
      break;
    case KEFO_ALIGN_POLICY_KEEP:
      break;
    }
  }
  return 0;
}

/* The next evaluation in a period. */
static void arm(kefo_consumer *c) {
  struct timeval tv;

  kefo__timeval_ms(&tv, ALIGN_PERIOD_MS);
  event_add(c->align_timer, &tv);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
  kefo_consumer *c = arg;

  (void)fd;
  (void)what;
  if (c->state != C_RUNNING) {
    return;
  }
  /* Not once the limit is lifted: evaluate has resumed every shard.
     Unless it ran out of memory: then nothing changed, and the next
     period tries again, limit or not. */
  if (evaluate(c) != 0 || kefo__align_policy_aligning(&c->align)) {
    arm(c);
  }
}

int kefo__alignment_init(kefo_consumer *c) {
  c->align.out_of_orderness_ms =
      kefo__config_get_ms(c->cfg, KEFO_CFG_WATERMARK_OUT_OF_ORDERNESS);
  c->align.idle_timeout_ms =
      kefo__config_get_ms(c->cfg, KEFO_CFG_WATERMARK_IDLE_TIMEOUT);
  c->align.max_drift_ms =
      kefo__config_get_ms(c->cfg, KEFO_CFG_WATERMARK_MAX_DRIFT);
  c->align.max_watermark = INT64_MAX;
  c->allowed = INT64_MAX;
  c->align_timer = event_new(c->base, -1, 0, timer_cb, c);
  return c->align_timer ? 0 : KEFO_ERR_NOMEM;
}

void kefo__alignment_start(kefo_consumer *c) {
  if (c->state == C_RUNNING && kefo__align_policy_aligning(&c->align) &&
      !event_pending(c->align_timer, EV_TIMEOUT, NULL)) {
    arm(c);
  }
}

void kefo__alignment_stop(kefo_consumer *c) {
  if (c->align_timer) {
    event_del(c->align_timer);
  }
}

void kefo__alignment_free(kefo_consumer *c) {
  if (c->align_timer) {
    event_free(c->align_timer);
    c->align_timer = NULL;
  }
  kefo__mem_free(c->mem, c->wms);
  kefo__mem_free(c->mem, c->align_in);
}

void kefo__alignment_reader_started(kefo_shard_slot *r) {
  r->max_event_ms = KEFO_WATERMARK_NONE;
  r->held_event_ms = KEFO_WATERMARK_NONE;
  r->last_record_ms = kefo__consumer_now_ms(r->c);
}

int64_t kefo__alignment_event_time(kefo_consumer *c, kefo_shard_slot *r,
                                   const kefo_record *rec) {
  return c->event_time ? c->event_time(c, r->shard_id, rec, c->user_data)
                       : rec->approximate_arrival_ms;
}

void kefo__alignment_delivered(kefo_shard_slot *r, int64_t newest_ms) {
  kefo_consumer *c = r->c;
  kefo_align_policy_shard sh;

  r->last_record_ms = kefo__consumer_now_ms(c);
  if (newest_ms > r->max_event_ms) {
    r->max_event_ms = newest_ms;
  }
  /* A shard that has just become the slowest (its first records, or its
     first after being idle) lowers the limit now, not at the next
     period: a batch of another shard coming meanwhile would be checked
     against a limit that did not count it (a first batch 59 s ahead went
     out that way). */
  c->allowed =
      kefo__align_policy_lowered(&c->align, c->allowed, r->max_event_ms);
  describe(r, &sh);
  if (kefo__align_policy_pause_on_delivery(&c->align, &sh, c->allowed)) {
    /* Past the limit: no more until the others catch up. */
    r->align_paused = 1;
    apply(r, 1);
  }
}

/* The limit for |r|'s next batch, the other shards' alone, or the one in
   force when that cannot be worked out (no memory). */
static int64_t limit_for(kefo_shard_slot *r) {
  kefo_consumer *c = r->c;
  const kefo_shard_slot *x;
  size_t n, i = 0;

  if (describe_all(c, &n) != 0) {
    return c->allowed;
  }
  for (x = c->readers; x && x != r; x = x->next) {
    ++i;
  }
  return kefo__align_policy_limit_except(&c->align, c->align_in, n,
                                         kefo__consumer_now_ms(c), i);
}

int kefo__alignment_admits(kefo_shard_slot *r, int64_t oldest_ms) {
  kefo_consumer *c = r->c;

  /* The limit in force first, worked out every period with every shard;
     a batch past it is checked against the other shards alone (a walk
     over the readers, only then), so that a shard is never held back by
     its own watermark. */
  if (kefo__align_policy_admits(&c->align, oldest_ms, c->allowed) ||
      kefo__align_policy_admits(&c->align, oldest_ms, limit_for(r))) {
    r->held_event_ms = KEFO_WATERMARK_NONE;
    return 1;
  }
  r->held_event_ms = oldest_ms;
  r->align_paused = 1;
  apply(r, 1);
  return 0;
}

void kefo__alignment_reader_done(kefo_shard_slot *r) {
  r->held_event_ms = KEFO_WATERMARK_NONE;
  r->align_paused = 0;
  r->user_paused = 0;
  r->paused = 0;
}

/* ---- the public hooks ---------------------------------------------- */

static kefo_shard_slot *find(kefo_consumer *c, const char *shard_id) {
  kefo_shard_slot *r;

  for (r = c->readers; r; r = r->next) {
    if (strcmp(r->shard_id, shard_id) == 0) {
      return r;
    }
  }
  return NULL;
}

static int set_user_paused(kefo_consumer *c, const char *shard_id, int paused) {
  kefo_shard_slot *r;

  if (c == NULL || shard_id == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (c->state != C_RUNNING) {
    return KEFO_ERR_INVALID_STATE;
  }
  r = find(c, shard_id);
  if (r == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (r->state == R_READING) {
    r->user_paused = paused;
    apply(r, 0);
  }
  return 0;
}

int kefo_shard_pause(kefo_consumer *c, const char *shard_id) {
  return set_user_paused(c, shard_id, 1);
}

int kefo_shard_resume(kefo_consumer *c, const char *shard_id) {
  return set_user_paused(c, shard_id, 0);
}

int kefo_consumer_set_event_time(kefo_consumer *c, kefo_event_time_cb cb) {
  if (c == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (c->state != C_NEW) {
    return KEFO_ERR_INVALID_STATE;
  }
  c->event_time = cb;
  return 0;
}

int kefo_set_max_watermark(kefo_consumer *c, int64_t max_ms) {
  int rv = 0;

  if (c == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  c->align.max_watermark = max_ms;
  if (c->state == C_RUNNING) {
    rv = evaluate(c);
    if (rv != 0 && !event_pending(c->align_timer, EV_TIMEOUT, NULL)) {
      /* Out of memory: the timer applies the new limit (even a lifted
         one) once it can. */
      arm(c);
    } else {
      kefo__alignment_start(c);
    }
  }
  return rv;
}

int kefo_consumer_watermarks(kefo_consumer *c, kefo_watermarks *out) {
  kefo_shard_slot *r;
  size_t n, i = 0;

  if (c == NULL || out == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  memset(out, 0, sizeof(*out));
  if (kefo__consumer_reader_array(c, (void **)&c->wms, &c->wms_cap,
                                  sizeof(*c->wms)) != 0 ||
      describe_all(c, &n) != 0) {
    return KEFO_ERR_NOMEM;
  }
  out->global = kefo__align_policy_global(&c->align, c->align_in, n,
                                          kefo__consumer_now_ms(c), c->wms);
  for (r = c->readers; r; r = r->next) {
    c->wms[i++].shard_id = r->shard_id;
  }
  out->shards = c->wms;
  out->nshards = n;
  return 0;
}
