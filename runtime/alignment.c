/*
 * Pause and resume, watermarks and alignment. A shard reads only when
 * neither the application (kefo_shard_pause) nor alignment holds it: the
 * two are kept apart so that alignment resuming a shard never undoes the
 * application's pause. Alignment is decided from per-shard watermarks
 * (largest event time delivered, minus the out-of-orderness) against a
 * limit: the external maximum (kefo_set_max_watermark), and with a max
 * drift, the slowest active shard's watermark plus that drift. A shard
 * is paused as soon as a delivery takes it past the limit; the limit is
 * worked out again every ALIGN_PERIOD_MS, which is when shards resume.
 */
#include "config.h"

#include <string.h>

#include "base/clock.h"
#include "runtime/consumer_internal.h"

#define ALIGN_PERIOD_MS 100

static int64_t watermark_of(const kefo_consumer *c, const kefo_reader *r) {
  if (r->max_event_ms == KEFO_WATERMARK_NONE) {
    return KEFO_WATERMARK_NONE;
  }
  /* Saturating: an event time near INT64_MIN stays a watermark. */
  return r->max_event_ms < INT64_MIN + 1 + c->out_of_orderness_ms
             ? INT64_MIN + 1
             : r->max_event_ms - c->out_of_orderness_ms;
}

static int idle(const kefo_consumer *c, const kefo_reader *r, int64_t now) {
  return c->idle_timeout_ms > 0 && !r->paused &&
         now - r->last_record_ms >= c->idle_timeout_ms;
}

/* Pauses or resumes |r| when what holds it changed. */
static void apply(kefo_reader *r) {
  kefo_consumer *c = r->c;
  int paused = r->user_paused || r->align_paused;

  if (paused == r->paused || r->state != R_READING) {
    return;
  }
  r->paused = paused;
  if (paused) {
    r->paused_at_ms = kefo_consumer_now_ms(c);
  } else {
    /* Idle counts from the resume, not from the last record. */
    r->last_record_ms = kefo_consumer_now_ms(c);
  }
  kefo_consumer_reader_paused(r);
  kefo_consumer_shard_event(c, r->shard_id,
                            paused ? KEFO_SHARD_EVENT_PAUSED
                                   : KEFO_SHARD_EVENT_RESUMED);
}

static int aligning(const kefo_consumer *c) {
  return c->max_drift_ms > 0 || c->max_watermark != INT64_MAX;
}

/* Works out the limit in force and pauses or resumes every shard by it. */
static void evaluate(kefo_consumer *c) {
  int64_t now = kefo_consumer_now_ms(c), allowed = c->max_watermark;
  kefo_reader *r;

  if (c->max_drift_ms > 0) {
    int64_t slowest = INT64_MAX;
    for (r = c->readers; r; r = r->next) {
      int64_t w = watermark_of(c, r);
      if (r->state == R_READING && w != KEFO_WATERMARK_NONE &&
          !idle(c, r, now) && w < slowest) {
        slowest = w;
      }
    }
    if (slowest != INT64_MAX && slowest <= INT64_MAX - c->max_drift_ms &&
        slowest + c->max_drift_ms < allowed) {
      allowed = slowest + c->max_drift_ms;
    }
  }
  c->allowed = allowed;
  for (r = c->readers; r; r = r->next) {
    int64_t w = watermark_of(c, r);
    int want = w != KEFO_WATERMARK_NONE && w > allowed;
    if (r->state == R_READING && want != r->align_paused) {
      r->align_paused = want;
      apply(r);
    }
  }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
  kefo_consumer *c = arg;
  struct timeval tv;

  (void)fd;
  (void)what;
  if (c->state != C_RUNNING) {
    return;
  }
  evaluate(c);
  if (aligning(c)) {
    /* Not once the limit is lifted: evaluate has resumed every shard. */
    kefo_timeval_ms(&tv, ALIGN_PERIOD_MS);
    event_add(c->align_timer, &tv);
  }
}

int kefo_alignment_init(kefo_consumer *c) {
  c->out_of_orderness_ms =
      kefo_config_get_ms(c->cfg, KEFO_CFG_WATERMARK_OUT_OF_ORDERNESS);
  c->idle_timeout_ms =
      kefo_config_get_ms(c->cfg, KEFO_CFG_WATERMARK_IDLE_TIMEOUT);
  c->max_drift_ms = kefo_config_get_ms(c->cfg, KEFO_CFG_WATERMARK_MAX_DRIFT);
  c->max_watermark = INT64_MAX;
  c->allowed = INT64_MAX;
  c->align_timer = event_new(c->base, -1, 0, timer_cb, c);
  return c->align_timer ? 0 : KEFO_ERR_NOMEM;
}

void kefo_alignment_start(kefo_consumer *c) {
  struct timeval tv;

  if (c->state == C_RUNNING && aligning(c) &&
      !event_pending(c->align_timer, EV_TIMEOUT, NULL)) {
    kefo_timeval_ms(&tv, ALIGN_PERIOD_MS);
    event_add(c->align_timer, &tv);
  }
}

void kefo_alignment_stop(kefo_consumer *c) {
  if (c->align_timer) {
    event_del(c->align_timer);
  }
}

void kefo_alignment_free(kefo_consumer *c) {
  if (c->align_timer) {
    event_free(c->align_timer);
    c->align_timer = NULL;
  }
  kefo_mem_free(c->mem, c->wms);
}

void kefo_alignment_reader_started(kefo_reader *r) {
  r->max_event_ms = KEFO_WATERMARK_NONE;
  r->last_record_ms = kefo_consumer_now_ms(r->c);
}

int64_t kefo_alignment_event_time(kefo_consumer *c, kefo_reader *r,
                                  const kefo_record *rec) {
  return c->event_time ? c->event_time(c, r->shard_id, rec, c->user_data)
                       : rec->approximate_arrival_ms;
}

void kefo_alignment_delivered(kefo_reader *r, int64_t newest_ms) {
  kefo_consumer *c = r->c;
  int64_t w;

  r->last_record_ms = kefo_consumer_now_ms(c);
  if (newest_ms > r->max_event_ms) {
    r->max_event_ms = newest_ms;
  }
  w = watermark_of(c, r);
  if (aligning(c) && w != KEFO_WATERMARK_NONE && w > c->allowed &&
      !r->align_paused) {
    /* Past the limit: no more until the others catch up. */
    r->align_paused = 1;
    apply(r);
  }
}

void kefo_alignment_reader_done(kefo_reader *r) {
  r->align_paused = 0;
  r->user_paused = 0;
  r->paused = 0;
}

/* ---- the public hooks ---------------------------------------------- */

static kefo_reader *find(kefo_consumer *c, const char *shard_id) {
  kefo_reader *r;

  for (r = c->readers; r; r = r->next) {
    if (strcmp(r->shard_id, shard_id) == 0) {
      return r;
    }
  }
  return NULL;
}

static int set_user_paused(kefo_consumer *c, const char *shard_id, int paused) {
  kefo_reader *r;

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
    apply(r);
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
  if (c == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  c->max_watermark = max_ms;
  if (c->state == C_RUNNING) {
    evaluate(c);
    kefo_alignment_start(c);
  }
  return 0;
}

int kefo_consumer_watermarks(kefo_consumer *c, kefo_watermarks *out) {
  int64_t now, global = INT64_MAX;
  kefo_reader *r;
  size_t n = 0;
  int none = 0;

  if (c == NULL || out == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  memset(out, 0, sizeof(*out));
  if (kefo_consumer_reader_array(c, (void **)&c->wms, &c->wms_cap,
                                 sizeof(*c->wms)) != 0) {
    return KEFO_ERR_NOMEM;
  }
  now = kefo_consumer_now_ms(c);
  for (r = c->readers; r; r = r->next) {
    kefo_shard_watermark *w = &c->wms[n++];
    w->shard_id = r->shard_id;
    w->watermark = watermark_of(c, r);
    w->finished = r->state != R_READING;
    w->paused = r->paused;
    w->idle = !w->finished && idle(c, r, now);
    if (w->finished || w->idle) {
      continue;
    }
    if (w->watermark == KEFO_WATERMARK_NONE) {
      none = 1;
    } else if (w->watermark < global) {
      global = w->watermark;
    }
  }
  out->global = none || global == INT64_MAX ? KEFO_WATERMARK_NONE : global;
  out->shards = c->wms;
  out->nshards = n;
  return 0;
}
