/*
 * The Enhanced Fan-Out shard reader: one SubscribeToShard stream at a
 * time per shard, driven by the subscription core (efo/subscription.h),
 * its events handed to the consumer's delivery.
 */
#include "config.h"

#include <string.h>

#include "aws/kinesis.h"
#include "base/clock.h"
#include "base/log.h"
#include "efo/subscription.h"
#include "shard/reader.h"

typedef struct efo_reader {
  kefo_shard_reader base; /* first: the consumer holds a pointer to it */
  kefo_subscription_core core;
  kefo_kinesis_subscription *sub;
  struct event *timer;
  int started_before; /* a subscription went out before: the next is a
                         resubscription */
  int paused;
  /* Why the last subscription ended, for the next one's log line:
     0 the server's normal end, else the error. */
  int last_end;
} efo_reader;

static void efo_kick(kefo_shard_reader *base);

static int64_t now_ms(efo_reader *r) {
  return kefo__shard_reader_now_ms(&r->base);
}

/* Tells the log hook that |error| (|info| may be NULL) ended a
   subscription and when the next one goes (the core has decided). */
static void log_retry(efo_reader *r, int error, const kefo_error_info *info) {
  const kefo_log *log = r->base.env->log;
  char cause[256];

  r->last_end = error;
  if (r->core.state == KEFO_SUB_FAILED || !KEFO_LOG_ON(log, KEFO_LOG_WARN)) {
    return; /* a final failure is the consumer's to tell */
  }
  kefo__log_cause(cause, sizeof(cause), error, info);
  KEFO_LOG(log, KEFO_LOG_WARN, "retry", r->base.shard_id,
           "SubscribeToShard failed (attempt %u): %s; resubscribing in %lld "
           "ms",
           (unsigned)r->core.failures, cause,
           (long long)(r->core.not_before_ms > now_ms(r)
                           ? r->core.not_before_ms - now_ms(r)
                           : 0));
}

/* The core gave up: no timer of this reader fires again. */
static void gave_up(efo_reader *r) {
  event_del(r->timer);
  r->base.host->failed(r->base.slot);
}

/* The subscription is gone (ended, or dropped by us): the core decides
   when the next one goes. */
static void ended(efo_reader *r, int error, int retryable) {
  r->sub = NULL;
  kefo__subcore_on_end(&r->core, now_ms(r), error, retryable,
                       r->base.env->clock);
  if (r->core.state == KEFO_SUB_FAILED) {
    gave_up(r);
  }
}

static int on_event(kefo_kinesis_subscription *sub,
                    const kefo_records_event *ev, void *ud) {
  efo_reader *r = ud;
  const kefo_reader_host *host = r->base.host;
  const char *const *seqs;
  const char *last = NULL;
  size_t n = 0;
  int skip, rv = 0;

  (void)sub;
  if (ev->has_behind) {
    r->base.stats->millis_behind_latest = ev->behind_ms;
  }
  if (!ev->has_records) {
    /* Required by the API: an event without it is as bad as one with
       malformed sequence numbers. */
    seqs = NULL;
    skip = -1;
  } else {
    n = ev->nrecords;
    seqs = host->sequence_numbers(r->base.slot, ev->records, n);
    if (seqs == NULL) {
      return -1;
    }
    skip = ev->partial ? kefo__subcore_on_run(&r->core, now_ms(r), seqs, n)
                       : kefo__subcore_on_event(&r->core, now_ms(r), seqs, n,
                                                ev->continuation);
  }
  if (n > 0) {
    last = seqs[n - 1];
  }
  if (skip < 0) {
    host->report(r->base.slot, KEFO_ERR_BAD_RESPONSE, NULL,
                 "a SubscribeToShardEvent has no Records array, or malformed "
                 "sequence numbers");
    rv = KEFO_DELIVER_BAD;
  } else if ((size_t)skip < n) {
    /* A run of an event has no MillisBehindLatest of its own: the last
       event's stands until the event's end brings one. */
    rv = host->deliver(r->base.slot, ev->records, n, skip,
                       ev->partial ? r->base.stats->millis_behind_latest
                                   : ev->behind_ms);
  }
  if (rv == KEFO_DELIVER_HELD) {
    /* Paused by alignment: the subscription keeps the event and hands it
       on again first after the resume (the core's pending continuation
       is set again then). */
    return KEFO_SUB_EVENT_HELD;
  }
  if (rv == 0) {
    /* Handled: the continuation (or shard end) counts from now on. */
    kefo__subcore_on_delivered(&r->core, (size_t)skip < n ? last : NULL);
  }
  if (rv == KEFO_DELIVER_STOP) {
    host->stop(r->base.slot);
    return -1;
  }
  if (rv != 0) {
    /* A bad event: drop this subscription (it frees itself once the
       stream is reset) and fetch the event again after a backoff; a
       shard whose events stay bad ends FAILED when the attempts run
       out. */
    ended(r, KEFO_ERR_BAD_RESPONSE, 1);
    log_retry(r, KEFO_ERR_BAD_RESPONSE, NULL);
    if (host->reading(r->base.slot)) {
      event_active(r->timer, 0, 0);
    }
    return -1;
  }
  if (r->core.state == KEFO_SUB_FINISHED) {
    /* Once per shard: the tree is worth building here. */
    cJSON *children =
        ev->child_shards ? cJSON_ParseWithLength((const char *)ev->child_shards,
                                                 ev->child_shards_len)
                         : NULL;
    host->finished(r->base.slot, cJSON_IsArray(children) ? children : NULL);
    cJSON_Delete(children);
  }
  return 0;
}

static void on_end(kefo_kinesis_subscription *sub, int error,
                   const kefo_error_info *info, void *ud) {
  efo_reader *r = ud;
  const kefo_reader_host *host = r->base.host;

  (void)sub;
  r->sub = NULL;
  if (!host->running(r->base.slot)) {
    return;
  }
  if (!error) {
    ended(r, 0, 1);
    r->last_end = 0;
    efo_kick(&r->base);
    return;
  }
  ++r->base.stats->errors;
  /* The core decides first, so that the failure after which the shard
     gives up is reported as final, and every other one as retried. */
  kefo__subcore_on_end(&r->core, now_ms(r), error, info ? info->retryable : 1,
                       r->base.env->clock);
  log_retry(r, error, info);
  host->report_failure(r->base.slot, error, info,
                       r->core.state != KEFO_SUB_FAILED);
  if (r->core.state == KEFO_SUB_FAILED) {
    gave_up(r);
  }
  efo_kick(&r->base);
}

static void on_initial_response(kefo_kinesis_subscription *sub, void *ud) {
  efo_reader *r = ud;

  (void)sub;
  kefo__subcore_on_answer(&r->core, now_ms(r));
}

static const kefo_kinesis_subscribe_callbacks callbacks = {on_initial_response,
                                                           on_event, on_end};

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
  efo_reader *r = arg;

  (void)fd;
  (void)what;
  if (r->sub && !r->paused && kefo__subcore_inactive(&r->core, now_ms(r))) {
    /* A silent stream: drop it and resubscribe from where it was. */
    kefo__kinesis_subscription_cancel(r->sub);
    ended(r, KEFO_ERR_TIMEOUT, 1);
    r->last_end = KEFO_ERR_TIMEOUT;
    KEFO_LOG(r->base.env->log, KEFO_LOG_WARN, "subscription.inactive",
             r->base.shard_id,
             "no event for %u ms: the subscription is dropped and renewed",
             (unsigned)r->core.inactivity_ms);
  }
  efo_kick(&r->base);
}

static void efo_del(kefo_shard_reader *base);

static int efo_create(kefo_shard_reader **out, const kefo_shard_reader *base,
                      const char *type, const char *value) {
  const kefo_reader_env *env = base->env;
  efo_reader *r = kefo__mem_calloc(env->mem, 1, sizeof(*r));
  int rv;

  if (r == NULL) {
    return KEFO_ERR_NOMEM;
  }
  r->base = *base;
  r->timer = event_new(env->base, -1, 0, timer_cb, r);
  if (r->timer == NULL) {
    efo_del(&r->base);
    return KEFO_ERR_NOMEM;
  }
  rv = kefo__subcore_init(&r->core, base->shard_id, type, value, env->retry,
                          env->inactivity_ms);
  if (rv != 0) {
    efo_del(&r->base);
    return rv;
  }
  *out = &r->base;
  return 0;
}

/* Tells the log hook of a new subscription: the first, a renewal after
   the server's normal end, or a resubscription after an error. */
static void log_subscribed(efo_reader *r) {
  const kefo_subscription_core *core = &r->core;
  const char *pos = core->position_value;
  const char *sep = pos[0] ? " " : "";
  const char *event = !r->started_before ? "subscription.opened"
                      : r->last_end == 0 ? "subscription.renewed"
                                         : "subscription.resubscribed";

  if (r->last_end != 0 && r->started_before) {
    KEFO_LOG(r->base.env->log, KEFO_LOG_INFO, event, r->base.shard_id,
             "SubscribeToShard from %s%s%s (subscription %u) after %s",
             core->position_type, sep, pos, (unsigned)core->subscriptions,
             kefo_strerror(r->last_end));
  } else {
    KEFO_LOG(r->base.env->log, KEFO_LOG_INFO, event, r->base.shard_id,
             "SubscribeToShard from %s%s%s (subscription %u)",
             core->position_type, sep, pos, (unsigned)core->subscriptions);
  }
}

/* Subscribes as the core says: the consumer's and this reader's hot
   state is prefetched as each event's bytes arrive. */
static void subscribe(efo_reader *r) {
  const kefo_reader_env *env = r->base.env;
  const kefo_reader_host *host = r->base.host;
  kefo_subscription_core *core = &r->core;
  const void *touch[16];
  size_t n;
  int rv;

  rv = kefo__kinesis_subscribe(env->aws, env->svc, env->consumer_arn,
                               r->base.shard_id, core->position_type,
                               core->position_value[0] ? core->position_value
                                                       : NULL,
                               &callbacks, r, &r->sub);
  if (rv != 0) {
    host->report(r->base.slot, rv, NULL, "cannot subscribe");
    return;
  }
  if (env->max_event_bytes) {
    kefo__kinesis_subscription_set_max_event(r->sub, env->max_event_bytes);
  }
  kefo__kinesis_subscription_set_whole_max(r->sub, env->whole_event_bytes);
  kefo__kinesis_subscription_set_parser(r->sub, env->parser);
  /* The shard state each event reads and writes (on_event, the
     subscription core, the consumer's delivery). */
  n = host->hot_state(r->base.slot, touch, 8);
  touch[n++] = r;
  touch[n++] = &core->state;
  touch[n++] = &core->position_value;
  touch[n++] = &core->last_delivered;
  touch[n++] = &core->pending;
  touch[n++] = &core->pending_set;
  kefo__kinesis_subscription_prefetch(r->sub, touch, n);
  kefo__subcore_on_subscribe(core, now_ms(r));
  log_subscribed(r);
  if (r->started_before) {
    host->resubscribed(r->base.slot);
  }
  r->started_before = 1;
}

static void efo_kick(kefo_shard_reader *base) {
  efo_reader *r = (efo_reader *)base;
  kefo_subscription_core *core = &r->core;
  int64_t wait = -1;
  struct timeval tv;

  if (r->paused || !base->host->reading(base->slot)) {
    return; /* paused: no new subscription, no inactivity deadline */
  }
  if (r->sub == NULL &&
      kefo__subcore_should_subscribe(core, now_ms(r), &wait)) {
    subscribe(r);
    if (r->sub == NULL) {
      return;
    }
    wait = core->inactivity_ms ? (int64_t)core->inactivity_ms : -1;
  } else if (r->sub != NULL) {
    wait = core->inactivity_ms ? (int64_t)core->inactivity_ms / 2 + 1 : -1;
  }
  if (wait >= 0) {
    kefo__timeval_ms(&tv, wait);
    event_add(r->timer, &tv);
  }
}

static void efo_cancel(kefo_shard_reader *base) {
  efo_reader *r = (efo_reader *)base;

  if (r->timer) {
    event_del(r->timer);
  }
  kefo__kinesis_subscription_cancel(r->sub);
  r->sub = NULL;
}

/* Paused: the subscription (if any) keeps its events and stops giving
   bytes back to flow control; a subscription that ends meanwhile is not
   renewed. Resumed: its kept events are handed on first, or a new one
   starts after the last delivered event. */
static void efo_set_paused(kefo_shard_reader *base, int paused,
                           int64_t paused_for_ms) {
  efo_reader *r = (efo_reader *)base;

  (void)paused_for_ms;
  r->paused = paused;
  if (r->sub && kefo__kinesis_subscription_hold(r->sub, paused) != 0) {
    base->host->report(base->slot, KEFO_ERR_NOMEM, NULL,
                       "cannot resume the shard's subscription");
  }
  if (!paused) {
    kefo__subcore_touch(&r->core, now_ms(r));
    efo_kick(base);
  }
}

static void efo_del(kefo_shard_reader *base) {
  efo_reader *r = (efo_reader *)base;

  if (r == NULL) {
    return;
  }
  efo_cancel(base);
  if (r->timer) {
    event_free(r->timer);
  }
  kefo__mem_free(base->env->mem, r);
}

const kefo_reader_ops kefo__efo_reader_ops = {efo_create, efo_kick, efo_cancel,
                                              efo_set_paused, efo_del};
