/*
 * The polling shard reader: GetShardIterator, then GetRecords again and
 * again, paced by the polling core (polling/poll_core.h), its answers
 * handed to the consumer's delivery, exactly as the EFO reader's events.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "runtime/consumer_internal.h"

static void poll_kick(kefo_reader *r);

/* The core paces and backs off itself: one attempt per call, so that a
   retry never goes out sooner than the rate limit allows. */
static const kefo_retry_strategy one_attempt = {1, 1, 1};

static const kefo_clock *clock_of(kefo_reader *r) {
  return kefo_aws_client_clock(r->c->aws);
}

/* After a failure the core decides: a new iterator, a backoff, or giving
   up. */
static void after_failure(kefo_reader *r, int error, const char *aws_type,
                          int retryable) {
  kefo_pollcore_on_error(&r->u.poll.core, kefo_consumer_now_ms(r->c), error,
                         aws_type, retryable, clock_of(r));
  if (r->u.poll.core.state == KEFO_POLL_FAILED) {
    kefo_reader_failed(r);
    return;
  }
  poll_kick(r);
}

/* A failed call, reported (an expired iterator is routine after a long
   pause, not an error) once the core has decided: the failure that makes
   it give up is reported final, the shard failing with it. */
static void failed_call(kefo_reader *r, int error,
                        const kefo_error_info *info) {
  const char *type = info ? info->aws_type : NULL;
  kefo_poll_core *core = &r->u.poll.core;

  kefo_pollcore_on_error(core, kefo_consumer_now_ms(r->c), error, type,
                         info ? info->retryable : 1, clock_of(r));
  if (!type || strcmp(type, "ExpiredIteratorException") != 0) {
    ++r->stats.errors;
    kefo_consumer_report_failure(r->c, error, r->shard_id, info,
                                 core->state != KEFO_POLL_FAILED);
  }
  if (core->state == KEFO_POLL_FAILED) {
    kefo_reader_failed(r);
    return;
  }
  poll_kick(r);
}

/* A malformed answer: fetched again after a backoff. */
static void bad_answer(kefo_reader *r, const char *message) {
  kefo_error_info info;

  memset(&info, 0, sizeof(info));
  info.code = KEFO_ERR_BAD_RESPONSE;
  info.message = message;
  info.retryable = 1;
  failed_call(r, KEFO_ERR_BAD_RESPONSE, &info);
}

static void on_iterator(int error, const cJSON *resp,
                        const kefo_error_info *info, void *ud) {
  kefo_reader *r = ud;
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(resp, "ShardIterator");

  r->u.poll.call = NULL;
  if (error) {
    failed_call(r, error, info);
    return;
  }
  if (!cJSON_IsString(it) || it->valuestring[0] == '\0' ||
      strlen(it->valuestring) >= KEFO_ITERATOR_MAX) {
    bad_answer(r, "GetShardIterator returned no usable ShardIterator");
    return;
  }
  kefo_pollcore_on_iterator(&r->u.poll.core, kefo_consumer_now_ms(r->c),
                            it->valuestring, clock_of(r));
  poll_kick(r);
}

/* Hands an answer read by |p| on: checked, then delivered. */
static void got_records(kefo_reader *r, const kefo_sts_event *ev) {
  kefo_consumer *c = r->c;
  const char *const *seqs;
  const char *last = NULL;
  size_t n = ev->nrecords;
  int skip, rv = 0;

  if (!ev->has_records || ev->next_iterator_bad) {
    bad_answer(r, "GetRecords returned no Records array, or a "
                  "NextShardIterator that is not a string");
    return;
  }
  if (ev->has_behind) {
    r->stats.millis_behind_latest = ev->behind_ms;
  }
  seqs = kefo_consumer_sequence_numbers(c, ev->records, n);
  if (seqs == NULL) {
    bad_answer(r, "no memory for a GetRecords answer");
    return;
  }
  if (n > 0) {
    last = seqs[n - 1];
  }
  /* No NextShardIterator: the shard's end (its ChildShards say where to
     go next). */
  skip = kefo_pollcore_on_records(&r->u.poll.core, kefo_consumer_now_ms(c),
                                  seqs, n, ev->next_iterator, ev->behind_ms,
                                  n >= (size_t)c->get_records_max);
  if (skip < 0) {
    bad_answer(r, "GetRecords returned malformed or unordered sequence "
                  "numbers, or a malformed NextShardIterator");
    return;
  }
  if ((size_t)skip < n) {
    rv = kefo_consumer_deliver(c, r, ev->records, n, skip, ev->behind_ms);
  }
  if (rv == 0) {
    kefo_pollcore_on_delivered(&r->u.poll.core, (size_t)skip < n ? last : NULL);
  }
  if (rv == KEFO_DELIVER_STOP) {
    kefo_consumer_stop(c, 0);
    return;
  }
  if (rv != 0) {
    /* Reported already; fetched again after a backoff. */
    ++r->stats.errors;
    after_failure(r, KEFO_ERR_BAD_RESPONSE, NULL, 1);
    return;
  }
  if (r->u.poll.core.state == KEFO_POLL_FINISHED) {
    cJSON *children =
        ev->child_shards ? cJSON_ParseWithLength((const char *)ev->child_shards,
                                                 ev->child_shards_len)
                         : NULL;
    kefo_reader_finished(r, children);
    cJSON_Delete(children);
    return;
  }
  poll_kick(r);
}

/*
 * A GetRecords answer, read without a JSON tree by the consumer's
 * SubscribeToShardEvent reader (aws/sts_event.h), as the EFO reader reads
 * its events: cJSON was a third of the polling reader's CPU.
 */
static void on_records(int error, const uint8_t *body, size_t len,
                       const kefo_error_info *info, void *ud) {
  kefo_reader *r = ud;
  kefo_consumer *c = r->c;
  kefo_sts_parser own, *p = &c->sts;
  kefo_sts_event ev;
  int rv;

  r->u.poll.call = NULL;
  if (error) {
    failed_call(r, error, info);
    return;
  }
  if (r->paused) {
    /* Paused while the call was out: fetched again on resume. */
    kefo_pollcore_on_dropped(&r->u.poll.core, kefo_consumer_now_ms(c));
    return;
  }
  /* The shared reader is in use only if this runs inside another
     owner's callback; then a parser of its own. */
  if (p->busy) {
    kefo_sts_parser_init(&own, c->mem);
    p = &own;
  }
  rv = kefo_sts_event_parse(p, body, len, &ev);
  if (rv == 0) {
    p->busy = 1;
    got_records(r, &ev);
    p->busy = 0;
  } else if (rv == KEFO_ERR_NOMEM) {
    bad_answer(r, "no memory for a GetRecords answer");
  } else {
    char msg[160];
    snprintf(msg, sizeof(msg),
             "GetRecords answer refused: %s at byte %zu of %zu", p->error,
             p->error_offset, len);
    bad_answer(r, msg);
  }
  if (p == &own) {
    kefo_sts_parser_free(&own);
  }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  poll_kick(arg);
}

static int poll_init(kefo_reader *r, const char *type, const char *value) {
  kefo_consumer *c = r->c;

  r->timer = event_new(c->base, -1, 0, timer_cb, r);
  if (r->timer == NULL) {
    return KEFO_ERR_NOMEM;
  }
  return kefo_pollcore_init(&r->u.poll.core, r->shard_id, type, value,
                            &c->retry, c->busy_ms, c->idle_ms);
}

/* The body of the call the core asks for; NULL when out of memory. */
static cJSON *request(kefo_reader *r, kefo_poll_action act) {
  kefo_consumer *c = r->c;
  kefo_poll_core *core = &r->u.poll.core;
  cJSON *body = cJSON_CreateObject();
  int ok = body != NULL;

  if (act == KEFO_POLL_DO_GET_RECORDS) {
    ok = ok && cJSON_AddStringToObject(body, "ShardIterator", core->iterator) &&
         cJSON_AddNumberToObject(body, "Limit", c->get_records_max);
  } else {
    ok =
        ok && cJSON_AddStringToObject(body, "StreamARN", c->stream_arn) &&
        cJSON_AddStringToObject(body, "ShardId", r->shard_id) &&
        cJSON_AddStringToObject(body, "ShardIteratorType", core->position_type);
    if (ok && strcmp(core->position_type, "AT_TIMESTAMP") == 0) {
      /* Epoch seconds, a JSON number. */
      ok = cJSON_AddNumberToObject(body, "Timestamp",
                                   strtod(core->position_value, NULL)) != NULL;
    } else if (ok && core->position_value[0]) {
      ok = cJSON_AddStringToObject(body, "StartingSequenceNumber",
                                   core->position_value) != NULL;
    }
  }
  if (!ok) {
    cJSON_Delete(body);
    return NULL;
  }
  return body;
}

static void poll_kick(kefo_reader *r) {
  kefo_consumer *c = r->c;
  kefo_poll_core *core = &r->u.poll.core;
  kefo_poll_action act;
  int64_t wait;
  struct timeval tv;
  cJSON *body;
  int rv;

  if (c->state != C_RUNNING || r->state != R_READING || r->u.poll.call ||
      r->paused) {
    return;
  }
  act = kefo_pollcore_next(core, kefo_consumer_now_ms(c), &wait);
  if (act == KEFO_POLL_DO_WAIT) {
    if (wait >= 0) {
      kefo_timeval_ms(&tv, wait);
      event_add(r->timer, &tv);
    }
    return;
  }
  body = request(r, act);
  if (body == NULL) {
    rv = KEFO_ERR_NOMEM;
  } else if (act == KEFO_POLL_DO_GET_RECORDS) {
    rv = kefo_aws_call_start_raw(c->aws, &c->svc, "GetRecords", body,
                                 &one_attempt, on_records, r, &r->u.poll.call);
  } else {
    rv = kefo_aws_call_start(c->aws, &c->svc, "GetShardIterator", body,
                             &one_attempt, on_iterator, r, &r->u.poll.call);
  }
  cJSON_Delete(body);
  kefo_pollcore_on_call(core, kefo_consumer_now_ms(c));
  if (rv != 0) {
    kefo_error_info info;
    memset(&info, 0, sizeof(info));
    info.code = rv;
    info.message = "cannot start a polling call";
    info.retryable = 1;
    failed_call(r, rv, &info);
    return;
  }
  if (act == KEFO_POLL_DO_GET_ITERATOR) {
    /* A new iterator after the first is the polling reader's
       resubscription (after an expired iterator, or a resume). */
    if (r->started_before) {
      ++r->stats.resubscribes;
      kefo_consumer_shard_event(c, r->shard_id, KEFO_SHARD_EVENT_RESUBSCRIBED);
    }
    r->started_before = 1;
  }
}

static void poll_cancel(kefo_reader *r) {
  if (r->timer) {
    event_del(r->timer);
  }
  kefo_aws_call_cancel(r->u.poll.call);
  r->u.poll.call = NULL;
}

/* Paused: no GetRecords goes out (an answer already on its way is
   dropped and fetched again). Resumed: an iterator that may have expired
   meanwhile is renewed after the last delivered record first. */
static void poll_paused(kefo_reader *r) {
  if (r->paused) {
    return;
  }
  if (r->u.poll.call == NULL && kefo_consumer_now_ms(r->c) - r->paused_at_ms >=
                                    KEFO_POLL_ITERATOR_SAFE_MS) {
    kefo_pollcore_renew(&r->u.poll.core);
  }
  poll_kick(r);
}

const kefo_reader_ops kefo_polling_reader_ops = {poll_init, poll_kick,
                                                 poll_cancel, poll_paused};
