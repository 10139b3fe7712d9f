/*
 * The polling shard reader: GetShardIterator, then GetRecords again and
 * again, paced by the polling core (polling/poll_core.h), its answers
 * handed to the consumer's delivery, exactly as the EFO reader's events.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/aws_client.h"
#include "base/clock.h"
#include "base/log.h"
#include "polling/poll_core.h"
#include "shard/reader.h"

typedef struct poll_reader {
  kefo_shard_reader base; /* first: the consumer holds a pointer to it */
  kefo_poll_core core;
  kefo_aws_call *call;
  struct event *timer;
  int started_before; /* an iterator was asked before: the next one is a
                         resubscription */
  int paused;
} poll_reader;

static void poll_kick(kefo_shard_reader *base);

/* The core paces and backs off itself: one attempt per call, so that a
   retry never goes out sooner than the rate limit allows. */
static const kefo_retry_strategy one_attempt = {1, 1, 1};

static int64_t now_ms(poll_reader *r) {
  return kefo__shard_reader_now_ms(&r->base);
}

/* The core gave up: no timer of this reader fires again. */
static void gave_up(poll_reader *r) {
  event_del(r->timer);
  r->base.host->failed(r->base.slot);
}

/* After a failure the core decides: a new iterator, a backoff, or giving
   up. */
static void after_failure(poll_reader *r, int error, const char *aws_type,
                          int retryable) {
  kefo__pollcore_on_error(&r->core, now_ms(r), error, aws_type, retryable,
                          r->base.env->clock);
  if (r->core.state == KEFO_POLL_FAILED) {
    gave_up(r);
    return;
  }
  poll_kick(&r->base);
}

/* Tells the log hook of a failed call that will be tried again (the
   core has decided), with its cause and the wait. */
static void log_retry(poll_reader *r, int error, const kefo_error_info *info) {
  const kefo_log *log = r->base.env->log;
  int64_t now = now_ms(r);
  char cause[256];

  if (r->core.state == KEFO_POLL_FAILED || !KEFO_LOG_ON(log, KEFO_LOG_WARN)) {
    return; /* a final failure is the consumer's to tell */
  }
  kefo__log_cause(cause, sizeof(cause), error, info);
  KEFO_LOG(log, KEFO_LOG_WARN, "retry", r->base.shard_id,
           "polling call failed (attempt %u): %s; next call in %lld ms",
           (unsigned)r->core.failures, cause,
           (long long)(r->core.not_before_ms > now ? r->core.not_before_ms - now
                                                   : 0));
}

/* A failed call, reported (an expired iterator is routine after a long
   pause, not an error) once the core has decided: the failure that makes
   it give up is reported final, the shard failing with it. */
static void failed_call(poll_reader *r, int error,
                        const kefo_error_info *info) {
  const char *type = info ? info->aws_type : NULL;
  kefo_poll_core *core = &r->core;

  kefo__pollcore_on_error(core, now_ms(r), error, type,
                          info ? info->retryable : 1, r->base.env->clock);
  if (!type || strcmp(type, "ExpiredIteratorException") != 0) {
    log_retry(r, error, info);
    ++r->base.stats->errors;
    r->base.host->report_failure(r->base.slot, error, info,
                                 core->state != KEFO_POLL_FAILED);
  }
  if (core->state == KEFO_POLL_FAILED) {
    gave_up(r);
    return;
  }
  poll_kick(&r->base);
}

/* A malformed answer: fetched again after a backoff. */
static void bad_answer(poll_reader *r, const char *message) {
  kefo_error_info info;

  memset(&info, 0, sizeof(info));
  info.code = KEFO_ERR_BAD_RESPONSE;
  info.message = message;
  info.retryable = 1;
  failed_call(r, KEFO_ERR_BAD_RESPONSE, &info);
}

static void on_iterator(int error, const cJSON *resp,
                        const kefo_error_info *info, void *ud) {
  poll_reader *r = ud;
  const cJSON *it = cJSON_GetObjectItemCaseSensitive(resp, "ShardIterator");

  r->call = NULL;
  if (error) {
    failed_call(r, error, info);
    return;
  }
  if (!cJSON_IsString(it) || it->valuestring[0] == '\0' ||
      strlen(it->valuestring) >= KEFO_ITERATOR_MAX) {
    bad_answer(r, "GetShardIterator returned no usable ShardIterator");
    return;
  }
  kefo__pollcore_on_iterator(&r->core, now_ms(r), it->valuestring,
                             r->base.env->clock);
  poll_kick(&r->base);
}

/* Hands an answer read by |p| on: checked, then delivered. */
static void got_records(poll_reader *r, const kefo_records_event *ev) {
  const kefo_reader_host *host = r->base.host;
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
    r->base.stats->millis_behind_latest = ev->behind_ms;
  }
  seqs = host->sequence_numbers(r->base.slot, ev->records, n);
  if (seqs == NULL) {
    bad_answer(r, "no memory for a GetRecords answer");
    return;
  }
  if (n > 0) {
    last = seqs[n - 1];
  }
  /* No NextShardIterator: the shard's end (its ChildShards say where to
     go next). */
  skip = kefo__pollcore_on_records(&r->core, now_ms(r), seqs, n,
                                   ev->next_iterator, ev->behind_ms,
                                   n >= (size_t)r->base.env->get_records_max);
  if (skip < 0) {
    bad_answer(r, "GetRecords returned malformed or unordered sequence "
                  "numbers, or a malformed NextShardIterator");
    return;
  }
  if ((size_t)skip < n) {
    rv = host->deliver(r->base.slot, ev->records, n, skip, ev->behind_ms);
  }
  if (rv == KEFO_DELIVER_HELD) {
    /* Paused by alignment: the same call goes again after the resume
       (its iterator kept, or renewed after the last delivered record). */
    kefo__pollcore_on_dropped(&r->core, now_ms(r));
    return;
  }
  if (rv == 0) {
    kefo__pollcore_on_delivered(&r->core, (size_t)skip < n ? last : NULL);
  }
  if (rv == KEFO_DELIVER_STOP) {
    host->stop(r->base.slot);
    return;
  }
  if (rv != 0) {
    /* Reported already; fetched again after a backoff. */
    ++r->base.stats->errors;
    after_failure(r, KEFO_ERR_BAD_RESPONSE, NULL, 1);
    return;
  }
  if (r->core.state == KEFO_POLL_FINISHED) {
    cJSON *children =
        ev->child_shards ? cJSON_ParseWithLength((const char *)ev->child_shards,
                                                 ev->child_shards_len)
                         : NULL;
    host->finished(r->base.slot, children);
    cJSON_Delete(children);
    return;
  }
  poll_kick(&r->base);
}

/*
 * A GetRecords answer, read without a JSON tree by the consumer's
 * SubscribeToShardEvent reader (aws/records_reader.h), as the EFO reader reads
 * its events: cJSON was a third of the polling reader's CPU.
 */
static void on_records(int error, const uint8_t *body, size_t len,
                       const kefo_error_info *info, void *ud) {
  poll_reader *r = ud;
  kefo_records_parser own, *p = r->base.env->parser;
  kefo_records_event ev;
  int rv;

  r->call = NULL;
  if (error) {
    failed_call(r, error, info);
    return;
  }
  if (r->paused) {
    /* Paused while the call was out: fetched again on resume. */
    kefo__pollcore_on_dropped(&r->core, now_ms(r));
    return;
  }
  /* The shared reader is in use only if this runs inside another
     owner's callback; then a parser of its own. */
  if (p->busy) {
    kefo__records_parser_init(&own, r->base.env->mem);
    p = &own;
  }
  rv = kefo__records_parse(p, body, len, &ev);
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
    kefo__records_parser_free(&own);
  }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  poll_kick(arg);
}

static void poll_del(kefo_shard_reader *base);

static int poll_create(kefo_shard_reader **out, const kefo_shard_reader *base,
                       const char *type, const char *value) {
  const kefo_reader_env *env = base->env;
  poll_reader *r = kefo__mem_calloc(env->mem, 1, sizeof(*r));
  int rv;

  if (r == NULL) {
    return KEFO_ERR_NOMEM;
  }
  r->base = *base;
  r->timer = event_new(env->base, -1, 0, timer_cb, r);
  if (r->timer == NULL) {
    poll_del(&r->base);
    return KEFO_ERR_NOMEM;
  }
  rv = kefo__pollcore_init(&r->core, base->shard_id, type, value, env->retry,
                           env->busy_ms, env->idle_ms);
  if (rv != 0) {
    poll_del(&r->base);
    return rv;
  }
  *out = &r->base;
  return 0;
}

/* The body of the call the core asks for; NULL when out of memory. */
static cJSON *request(poll_reader *r, kefo_poll_action act) {
  const kefo_reader_env *env = r->base.env;
  kefo_poll_core *core = &r->core;
  cJSON *body = cJSON_CreateObject();
  int ok = body != NULL;

  if (act == KEFO_POLL_DO_GET_RECORDS) {
    ok = ok && cJSON_AddStringToObject(body, "ShardIterator", core->iterator) &&
         cJSON_AddNumberToObject(body, "Limit", env->get_records_max);
  } else {
    ok =
        ok && cJSON_AddStringToObject(body, "StreamARN", env->stream_arn) &&
        cJSON_AddStringToObject(body, "ShardId", r->base.shard_id) &&
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

static void poll_kick(kefo_shard_reader *base) {
  poll_reader *r = (poll_reader *)base;
  const kefo_reader_env *env = base->env;
  kefo_poll_core *core = &r->core;
  kefo_poll_action act;
  int64_t wait;
  struct timeval tv;
  cJSON *body;
  int rv;

  if (r->call || r->paused || !base->host->reading(base->slot)) {
    return;
  }
  act = kefo__pollcore_next(core, now_ms(r), &wait);
  if (act == KEFO_POLL_DO_WAIT) {
    if (wait >= 0) {
      kefo__timeval_ms(&tv, wait);
      event_add(r->timer, &tv);
    }
    return;
  }
  body = request(r, act);
  if (body == NULL) {
    rv = KEFO_ERR_NOMEM;
  } else if (act == KEFO_POLL_DO_GET_RECORDS) {
    rv = kefo__aws_call_start_raw(env->aws, env->svc, "GetRecords", body,
                                  &one_attempt, on_records, r, &r->call);
  } else {
    rv = kefo__aws_call_start(env->aws, env->svc, "GetShardIterator", body,
                              &one_attempt, on_iterator, r, &r->call);
  }
  cJSON_Delete(body);
  kefo__pollcore_on_call(core, now_ms(r));
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
    KEFO_LOG(env->log, KEFO_LOG_INFO,
             r->started_before ? "iterator.renewed" : "iterator.opened",
             base->shard_id, "GetShardIterator from %s %s", core->position_type,
             core->position_value);
    if (r->started_before) {
      base->host->resubscribed(base->slot);
    }
    r->started_before = 1;
  }
}

static void poll_cancel(kefo_shard_reader *base) {
  poll_reader *r = (poll_reader *)base;

  if (r->timer) {
    event_del(r->timer);
  }
  kefo__aws_call_cancel(r->call);
  r->call = NULL;
}

/* Paused: no GetRecords goes out (an answer already on its way is
   dropped and fetched again). Resumed: an iterator that may have expired
   meanwhile is renewed after the last delivered record first. */
static void poll_set_paused(kefo_shard_reader *base, int paused,
                            int64_t paused_for_ms) {
  poll_reader *r = (poll_reader *)base;

  r->paused = paused;
  if (paused) {
    return;
  }
  if (r->call == NULL && paused_for_ms >= KEFO_POLL_ITERATOR_SAFE_MS) {
    kefo__pollcore_renew(&r->core);
  }
  poll_kick(base);
}

static void poll_del(kefo_shard_reader *base) {
  poll_reader *r = (poll_reader *)base;

  if (r == NULL) {
    return;
  }
  poll_cancel(base);
  if (r->timer) {
    event_free(r->timer);
  }
  kefo__mem_free(base->env->mem, r);
}

const kefo_reader_ops kefo__polling_reader_ops = {
    poll_create, poll_kick, poll_cancel, poll_set_paused, poll_del};
