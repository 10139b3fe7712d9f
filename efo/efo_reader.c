/*
 * The Enhanced Fan-Out shard reader: one SubscribeToShard stream at a
 * time per shard, driven by the subscription core (efo/subscription.h),
 * its events handed to the consumer's delivery.
 */
#include "config.h"

#include <string.h>

#include "base/clock.h"
#include "runtime/consumer_internal.h"

static void efo_kick(kefo_reader *r);

static const kefo_clock *clock_of(kefo_reader *r) {
  return kefo_aws_client_clock(r->c->aws);
}

/* The subscription is gone (ended, or dropped by us): the core decides
   when the next one goes. */
static void ended(kefo_reader *r, int error, int retryable) {
  r->u.efo.sub = NULL;
  kefo_subcore_on_end(&r->u.efo.core, kefo_consumer_now_ms(r->c), error,
                      retryable, clock_of(r));
  if (r->u.efo.core.state == KEFO_SUB_FAILED) {
    kefo_reader_failed(r);
  }
}

static int on_event(kefo_kinesis_subscription *sub, const kefo_sts_event *ev,
                    void *ud) {
  kefo_reader *r = ud;
  kefo_consumer *c = r->c;
  const char *const *seqs;
  const char *last = NULL;
  size_t n = 0;
  int skip, rv = 0;

  (void)sub;
  if (ev->has_behind) {
    r->stats.millis_behind_latest = ev->behind_ms;
  }
  if (!ev->has_records) {
    /* Required by the API: an event without it is as bad as one with
       malformed sequence numbers. */
    seqs = NULL;
    skip = -1;
  } else {
    n = ev->nrecords;
    seqs = kefo_consumer_sequence_numbers(c, ev->records, n);
    if (seqs == NULL) {
      return -1;
    }
    skip = kefo_subcore_on_event(&r->u.efo.core, kefo_consumer_now_ms(c), seqs,
                                 n, ev->continuation);
  }
  if (n > 0) {
    last = seqs[n - 1];
  }
  if (skip < 0) {
    kefo_consumer_report(
        c, KEFO_ERR_BAD_RESPONSE, r->shard_id, NULL,
        "a SubscribeToShardEvent has no Records array, or malformed "
        "sequence numbers");
    rv = KEFO_DELIVER_BAD;
  } else if ((size_t)skip < n) {
    rv = kefo_consumer_deliver(c, r, ev->records, n, skip, ev->behind_ms);
  }
  if (rv == 0) {
    /* Handled: the continuation (or shard end) counts from now on. */
    kefo_subcore_on_delivered(&r->u.efo.core, (size_t)skip < n ? last : NULL);
  }
  if (rv == KEFO_DELIVER_STOP) {
    kefo_consumer_stop(c, 0);
    return -1;
  }
  if (rv != 0) {
    /* A bad event: drop this subscription (it frees itself once the
       stream is reset) and fetch the event again after a backoff; a
       shard whose events stay bad ends FAILED when the attempts run
       out. */
    ended(r, KEFO_ERR_BAD_RESPONSE, 1);
    if (r->state == R_READING) {
      event_active(r->timer, 0, 0);
    }
    return -1;
  }
  if (r->u.efo.core.state == KEFO_SUB_FINISHED) {
    /* Once per shard: the tree is worth building here. */
    cJSON *children =
        ev->child_shards ? cJSON_ParseWithLength((const char *)ev->child_shards,
                                                 ev->child_shards_len)
                         : NULL;
    kefo_reader_finished(r, cJSON_IsArray(children) ? children : NULL);
    cJSON_Delete(children);
  }
  return 0;
}

static void on_end(kefo_kinesis_subscription *sub, int error,
                   const kefo_error_info *info, void *ud) {
  kefo_reader *r = ud;
  kefo_consumer *c = r->c;

  (void)sub;
  r->u.efo.sub = NULL;
  if (c->state != C_RUNNING) {
    return;
  }
  if (!error) {
    ended(r, 0, 1);
    efo_kick(r);
    return;
  }
  ++r->stats.errors;
  /* The core decides first, so that the failure after which the shard
     gives up is reported as final, and every other one as retried. */
  kefo_subcore_on_end(&r->u.efo.core, kefo_consumer_now_ms(c), error,
                      info ? info->retryable : 1, clock_of(r));
  kefo_consumer_report_failure(c, error, r->shard_id, info,
                               r->u.efo.core.state != KEFO_SUB_FAILED);
  if (r->u.efo.core.state == KEFO_SUB_FAILED) {
    kefo_reader_failed(r);
  }
  efo_kick(r);
}

static void on_initial_response(kefo_kinesis_subscription *sub, void *ud) {
  kefo_reader *r = ud;

  (void)sub;
  kefo_subcore_on_answer(&r->u.efo.core, kefo_consumer_now_ms(r->c));
}

static const kefo_kinesis_subscribe_callbacks callbacks = {on_initial_response,
                                                           on_event, on_end};

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
  kefo_reader *r = arg;

  (void)fd;
  (void)what;
  if (r->u.efo.sub && !r->paused &&
      kefo_subcore_inactive(&r->u.efo.core, kefo_consumer_now_ms(r->c))) {
    /* A silent stream: drop it and resubscribe from where it was. */
    kefo_kinesis_subscription_cancel(r->u.efo.sub);
    ended(r, KEFO_ERR_TIMEOUT, 1);
  }
  efo_kick(r);
}

static int efo_init(kefo_reader *r, const char *type, const char *value) {
  kefo_consumer *c = r->c;

  r->timer = event_new(c->base, -1, 0, timer_cb, r);
  if (r->timer == NULL) {
    return KEFO_ERR_NOMEM;
  }
  return kefo_subcore_init(&r->u.efo.core, r->shard_id, type, value, &c->retry,
                           c->inactivity_ms);
}

static void efo_kick(kefo_reader *r) {
  kefo_consumer *c = r->c;
  kefo_subscription_core *core = &r->u.efo.core;
  int64_t wait = -1;
  struct timeval tv;
  int rv;

  if (c->state != C_RUNNING || r->state != R_READING || r->paused) {
    return; /* paused: no new subscription, no inactivity deadline */
  }
  if (r->u.efo.sub == NULL &&
      kefo_subcore_should_subscribe(core, kefo_consumer_now_ms(c), &wait)) {
    rv = kefo_kinesis_subscribe(
        c->aws, &c->svc, c->consumer_arn, r->shard_id, core->position_type,
        core->position_value[0] ? core->position_value : NULL, &callbacks, r,
        &r->u.efo.sub);
    if (rv != 0) {
      kefo_consumer_report(c, rv, r->shard_id, NULL, "cannot subscribe");
      return;
    }
    kefo_kinesis_subscription_set_parser(r->u.efo.sub, &c->sts);
    {
      /* The shard state each event reads and writes (on_event, the
         subscription core, the consumer's delivery). */
      const void *touch[] = {r,
                             &r->delivered,
                             &r->resume_filter,
                             &core->state,
                             &core->position_value,
                             &core->last_delivered,
                             &core->pending,
                             &core->pending_set};
      kefo_kinesis_subscription_prefetch(r->u.efo.sub, touch,
                                         sizeof(touch) / sizeof(touch[0]));
    }
    kefo_subcore_on_subscribe(core, kefo_consumer_now_ms(c));
    if (r->started_before) {
      ++r->stats.resubscribes;
      kefo_consumer_shard_event(c, r->shard_id, KEFO_SHARD_EVENT_RESUBSCRIBED);
    }
    r->started_before = 1;
    wait = core->inactivity_ms ? (int64_t)core->inactivity_ms : -1;
  } else if (r->u.efo.sub != NULL) {
    wait = core->inactivity_ms ? (int64_t)core->inactivity_ms / 2 + 1 : -1;
  }
  if (wait >= 0) {
    kefo_timeval_ms(&tv, wait);
    event_add(r->timer, &tv);
  }
}

static void efo_cancel(kefo_reader *r) {
  if (r->timer) {
    event_del(r->timer);
  }
  kefo_kinesis_subscription_cancel(r->u.efo.sub);
  r->u.efo.sub = NULL;
}

/* Paused: the subscription (if any) keeps its events and stops giving
   bytes back to flow control; a subscription that ends meanwhile is not
   renewed. Resumed: its kept events are handed on first, or a new one
   starts after the last delivered event. */
static void efo_paused(kefo_reader *r) {
  if (r->u.efo.sub &&
      kefo_kinesis_subscription_hold(r->u.efo.sub, r->paused) != 0) {
    kefo_consumer_report(r->c, KEFO_ERR_NOMEM, r->shard_id, NULL,
                         "cannot resume the shard's subscription");
  }
  if (!r->paused) {
    kefo_subcore_touch(&r->u.efo.core, kefo_consumer_now_ms(r->c));
    efo_kick(r);
  }
}

const kefo_reader_ops kefo_efo_reader_ops = {efo_init, efo_kick, efo_cancel,
                                             efo_paused};
