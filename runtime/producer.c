/*
 * kefo_producer: the producer core (producer_core.c) on an event loop.
 * This file only carries things between the core and the world: the
 * shard map from ListShards, the core's batches to PutRecords calls and
 * their answers back, the time into the core's timer, the core's reports
 * to the application's callbacks, flushes and the stop. The other
 * streams a record may name are in producer_streams.c.
 */
#include <string.h>

#include <event2/event.h>
#include <kefo/kefo.h>

#include "aws/kinesis.h"
#include "aws/records_reader.h"
#include "aws/sha256_many.h"
#include "base/clock.h"
#include "base/mem.h"
#include "aws/put_answer_cbor.h"
#include "runtime/aws_setup.h"
#include "runtime/config.h"
#include "runtime/producer_glue.h"

/* Finished calls kept for the next (without their body): as many as a
   pass builds at once. */
#define PCALL_SPARES 16

static int64_t now_ms(const kefo_producer *p) {
  const kefo_clock *clock = kefo__aws_client_clock(p->aws.aws);
  return clock->mono_ms(clock->user_data);
}

/* A pass at the next turn of the loop; once, however many puts ask for
   it before (an event_active per put was 87 instructions, callgrind). */
void kefo__producer_soon(kefo_producer *p) {
  if (p->soon && !p->soon_armed && p->state != P_STOPPED) {
    event_active(p->soon, 0, 0);
    p->soon_armed = 1;
  }
}

/* ---- reports ------------------------------------------------------------ */

static void core_ack(void *ctx, const kefo_put_result *res, void *ud) {
  kefo_producer *p = ud;
  if (p->cb.on_ack) {
    p->cb.on_ack(p, ctx, res, p->user_data);
  }
}

/* Keeps |info| (lent) as the error that stops the producer. */
void kefo__producer_keep_fatal(kefo_producer *p, const kefo_error_info *info) {
  if (p->fatal) {
    return;
  }
  p->fatal = 1;
  p->fatal_info = *info;
  snprintf(p->fatal_msg, sizeof(p->fatal_msg), "%s",
           info->message ? info->message : "");
  p->fatal_info.message = p->fatal_msg;
  if (info->aws_type) {
    snprintf(p->fatal_type, sizeof(p->fatal_type), "%s", info->aws_type);
    p->fatal_info.aws_type = p->fatal_type;
  }
  /* Lent pointers of the moment are not kept. */
  p->fatal_info.operation = "PutRecords";
  p->fatal_info.shard_id = NULL;
}

static void core_fail(void *ctx, const kefo_error_info *err, void *ud) {
  kefo_producer *p = ud;
  if (p->state == P_RUNNING &&
      kefo__config_get_bool(p->cfg, KEFO_CFG_SINK_FAIL_ON_ERROR)) {
    kefo__producer_keep_fatal(p, err);
  }
  if (p->cb.on_failure) {
    p->cb.on_failure(p, ctx, err, p->user_data);
  }
}

static const kefo_producer_core_callbacks core_cbs = {core_ack, core_fail};

/* ---- the shard map ------------------------------------------------------ */

static void stop_now(kefo_producer *p);

/* The open shards of a ListShards answer: those without an ending
   sequence number. */
static int map_from(kefo_producer *p, const cJSON *shards) {
  kefo_producer_shard_info *info;
  const cJSON *sh;
  size_t n = 0;
  int rv;

  info = kefo__mem_calloc(p->mem, (size_t)cJSON_GetArraySize(shards) + 1,
                          sizeof(*info));
  if (info == NULL) {
    return KEFO_ERR_NOMEM;
  }
  cJSON_ArrayForEach(sh, shards) {
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(sh, "ShardId");
    const cJSON *hk = cJSON_GetObjectItemCaseSensitive(sh, "HashKeyRange");
    const cJSON *sr =
        cJSON_GetObjectItemCaseSensitive(sh, "SequenceNumberRange");
    const cJSON *lo = cJSON_GetObjectItemCaseSensitive(hk, "StartingHashKey");
    const cJSON *hi = cJSON_GetObjectItemCaseSensitive(hk, "EndingHashKey");
    const cJSON *end =
        cJSON_GetObjectItemCaseSensitive(sr, "EndingSequenceNumber");
    if (cJSON_IsString(end)) {
      continue; /* closed */
    }
    if (!cJSON_IsString(id) || !cJSON_IsString(lo) || !cJSON_IsString(hi) ||
        kefo__hash_range_init(&info[n].range, lo->valuestring,
                              strlen(lo->valuestring), hi->valuestring,
                              strlen(hi->valuestring)) != 0) {
      kefo__mem_free(p->mem, info);
      return KEFO_ERR_BAD_RESPONSE;
    }
    info[n++].shard_id = id->valuestring;
  }
  rv = n ? kefo__producer_core_set_shards(p->core, info, n, now_ms(p))
         : KEFO_ERR_BAD_RESPONSE;
  kefo__mem_free(p->mem, info);
  return rv == KEFO_ERR_INVALID_ARGUMENT ? KEFO_ERR_BAD_RESPONSE : rv;
}

/* ListShards again after RELIST_MS: it met out of memory. The pass
   asks when it is due; the records wait (their TTL runs). */
#define RELIST_MS 100

static void relist_later(kefo_producer *p) {
  p->relist_at = now_ms(p) + RELIST_MS;
  kefo__producer_soon(p);
}

static void on_shards(int error, const cJSON *shards,
                      const kefo_error_info *info, void *ud) {
  kefo_producer *p = ud;
  kefo_error_info bad;

  p->listing = NULL;
  if (error == 0 && (error = map_from(p, shards)) == 0) {
    p->have_map = 1;
    kefo__producer_soon(p);
    return;
  }
  if (error == KEFO_ERR_NOMEM && p->state == P_RUNNING) {
    relist_later(p);
    return;
  }
  if (info == NULL) {
    memset(&bad, 0, sizeof(bad));
    bad.code = error;
    bad.operation = "ListShards";
    bad.message = "ListShards returned no open shard kefo can use";
    info = &bad;
  }
  if (p->have_map && info->retryable) {
    return; /* the old map still serves; the next stale answer asks again */
  }
  /* Without a map nothing can be written: stop, failing every record. */
  kefo__producer_keep_fatal(p, info);
  p->fatal_info.operation = "ListShards";
  stop_now(p);
}

void kefo__producer_list_shards(kefo_producer *p) {
  if (p->listing || p->state == P_STOPPED) {
    return;
  }
  p->relist_at = 0;
  if (kefo__kinesis_list_shards(p->aws.aws, &p->aws.svc, p->stream_name,
                                p->stream_arn, NULL, 0, &p->list_retry,
                                on_shards, p, &p->listing) != 0) {
    relist_later(p); /* out of memory: the only way it fails */
  }
}

/* ---- calls -------------------------------------------------------------- */

static void pass(kefo_producer *p);

static void unlink_call(kefo_producer *p, pcall *pc) {
  if (pc->prev) {
    pc->prev->next = pc->next;
  } else {
    p->calls = pc->next;
  }
  if (pc->next) {
    pc->next->prev = pc->prev;
  }
}

static void pcall_free(kefo_producer *p, pcall *pc) {
  kefo__buf_free(&pc->body);
  kefo__mem_free(p->mem, pc);
}

/* |body|'s room back to the spare bodies, or freed past PBODY_SPARES
   or p->bodies_max; |body| is left empty. */
static void body_back(kefo_producer *p, kefo_buf *body) {
  if (body->cap == 0) {
    return;
  }
  if (p->nbodies < PBODY_SPARES && p->state != P_STOPPED &&
      body->cap <= p->bodies_max - p->bodies_room) {
    kefo__buf_reset(body);
    p->bodies_room += body->cap;
    p->bodies[p->nbodies++] = *body;
  } else {
    kefo__buf_free(body);
  }
  kefo__buf_init(body, p->mem);
}

/* A finished call back to the spares, or freed past PCALL_SPARES. */
static void pcall_done(kefo_producer *p, pcall *pc) {
  body_back(p, &pc->body);
  if (p->nspares >= PCALL_SPARES || p->state == P_STOPPED) {
    pcall_free(p, pc);
    return;
  }
  pc->call = NULL;
  pc->batch = NULL;
  pc->prev = NULL;
  pc->next = p->spares;
  p->spares = pc;
  ++p->nspares;
}

static pcall *pcall_get(kefo_producer *p) {
  pcall *pc = p->spares;

  if (pc) {
    p->spares = pc->next;
    --p->nspares;
    pc->next = NULL;
  } else if ((pc = kefo__mem_calloc(p->mem, 1, sizeof(*pc))) != NULL) {
    pc->p = p;
    kefo__buf_init(&pc->body, p->mem);
  }
  if (pc && p->nbodies > 0) {
    pc->body = p->bodies[--p->nbodies];
    p->bodies_room -= pc->body.cap;
  }
  return pc;
}

/* Reads a PutRecords answer into |*res|; returns how many entries, or -1
   with |bad| filled when it is not the documented shape. */
static int read_results(kefo_producer *p, const uint8_t *body, size_t len,
                        const kefo_producer_entry_result **res,
                        kefo_error_info *bad) {
  size_t n;
  int rv = kefo__put_answer_parse_any(&p->answers, body, len,
                                      KEFO_PRODUCER_MAX_ENTRIES, res, &n);

  if (rv != 0) {
    memset(bad, 0, sizeof(*bad));
    bad->code = rv == KEFO_ERR_NOMEM ? KEFO_ERR_NOMEM : KEFO_ERR_BAD_RESPONSE;
    bad->operation = "PutRecords";
    bad->message = rv == KEFO_ERR_NOMEM
                       ? "out of memory reading a PutRecords answer"
                       : p->answers.error;
    bad->retryable = 1;
    return -1;
  }
  return (int)n;
}

static void on_put(int error, const uint8_t *body, size_t len,
                   const kefo_error_info *info, void *ud) {
  pcall *pc = ud;
  kefo_producer *p = pc->p;
  const kefo_producer_entry_result *res = NULL;
  kefo_error_info bad;
  int n = 0;

  unlink_call(p, pc);
  if (error == 0) {
    n = read_results(p, body, len, &res, &bad);
    if (n < 0) {
      error = bad.code;
      info = &bad;
    }
  }
  kefo__producer_core_done(p->core, pc->batch, res, n < 0 ? 0 : (size_t)n,
                           error, info, now_ms(p));
  pcall_done(p, pc);
  if (kefo__producer_core_map_stale(p->core)) {
    kefo__producer_list_shards(p);
  }
  pass(p);
}

/* The call's body is in the socket (or TLS): its room serves the next
   calls, while the call waits for its answer. Only bookkeeping here: the
   HTTP client may be writing. */
static void on_body_sent(void *ud) {
  pcall *pc = ud;

  body_back(pc->p, &pc->body);
}

/* Calls built before their bodies are hashed together for SigV4: as many
   as kefo__sha256_many can take at once (sixteen in AVX-512's lanes). A
   pass usually has fewer; a backlog of full calls fills them. */
#define SIGN_TOGETHER 16

/* Starts the call of |pc| for batch |b|, with its body's hex SHA-256
   |hash| (NULL: the call makes it). Returns 0, or -1 when it could not
   start: the batch is then given back to the core as failed. */
static int start_call(kefo_producer *p, pcall *pc, kefo_producer_batch *b,
                      const char *hash) {
  kefo_error_info info;
  int rv;

  /* The body stays in |pc| (lent to the call) until it is in the socket
     (on_body_sent) or the call ends (on_put). */
  rv = kefo__aws_call_start_lent(
      p->aws.aws, &p->put_svc, "PutRecords", pc->body.data, pc->body.len, hash,
      &p->put_retry, on_put, on_body_sent, pc, &pc->call);
  if (rv != 0) {
    memset(&info, 0, sizeof(info));
    info.code = rv;
    info.operation = "PutRecords";
    info.message = "cannot start a PutRecords call";
    info.retryable = 1;
    pcall_done(p, pc);
    kefo__producer_core_done(p->core, b, NULL, 0, rv, &info, now_ms(p));
    return -1;
  }
  pc->batch = b;
  pc->next = p->calls;
  if (p->calls) {
    p->calls->prev = pc;
  }
  p->calls = pc;
  return 0;
}

/* Sends every batch the core has ready, up to SIGN_TOGETHER at a time:
   built, their bodies hashed together, then started. */
static void send_batches(kefo_producer *p) {
  size_t ways = (size_t)kefo__sha256_ways();
  int more = 1;

  /* A pass's calls are sized to be signed together: aggregated 1 KiB
     records filled one or two calls of 3.4 MB a pass, whose SHA-256 ran
     as one chain at 2.1 GB/s where five go at 3.6 (bench_wire). */
  kefo__producer_core_split_calls(p->core,
                                  ways < SIGN_TOGETHER ? ways : SIGN_TOGETHER);

  while (more) {
    pcall *pcs[SIGN_TOGETHER];
    kefo_producer_batch *bs[SIGN_TOGETHER];
    kefo_buf *bodies[SIGN_TOGETHER];
    kefo_sha256_job jobs[SIGN_TOGETHER];
    uint8_t md[SIGN_TOGETHER][KEFO_SHA256_LEN];
    char hex[2 * KEFO_SHA256_LEN + 1];
    size_t n = 0, i;
    int hashed;

    while (n < SIGN_TOGETHER) {
      kefo_producer_batch *b = NULL;
      pcall *pc = pcall_get(p);
      int rv;

      if (pc == NULL) {
        more = 0; /* out of memory: the records wait for the next pass */
        break;
      }
      kefo__buf_reset(&pc->body);
      rv = kefo__producer_core_next_batch(p->core, now_ms(p), p->stream_name,
                                          p->stream_arn, &b, &pc->body);
      if (rv != 0 || b == NULL) {
        pcall_done(p, pc);
        more = 0; /* nothing due, or out of memory: the records wait */
        break;
      }
      pcs[n] = pc;
      bs[n] = b;
      bodies[n] = &pc->body;
      jobs[n].data = pc->body.data;
      jobs[n].len = pc->body.len;
      jobs[n].out = md[n];
      ++n;
    }
    /* The aggregates' trailers of all n calls in the lanes together,
       before the bodies are hashed. Should OpenSSL fail here, each call
       hashes its own body (and reports the failure). */
    kefo__producer_core_seal(p->core, bs, bodies, n);
    hashed = kefo__sha256_many(jobs, n) == 0;
    for (i = 0; i < n; ++i) {
      if (hashed) {
        kefo__sha256_hex(md[i], hex);
      }
      if (start_call(p, pcs[i], bs[i], hashed ? hex : NULL) != 0) {
        more = 0;
      }
    }
  }
}

/* ---- the pass: everything the core wants done now ------------------------ */

static void finish_stop(kefo_producer *p);

static void flushes_done(kefo_producer *p) {
  int64_t t;

  while ((t = kefo__producer_core_flushed(p->core)) > 0) {
    size_t i;
    for (i = 0; i < p->nwaiters; ++i) {
      if (p->waiters[i].token == t) {
        p->waiters[i].token = 0;
      }
    }
  }
  /* Token 0: done. Called in the order asked; a callback may flush again
     (appending) or stop. */
  while (p->nwaiters > 0 && p->waiters[0].token == 0) {
    pwaiter w = p->waiters[0];
    memmove(p->waiters, p->waiters + 1,
            (p->nwaiters - 1) * sizeof(*p->waiters));
    --p->nwaiters;
    w.cb(p, w.data);
  }
}

static void pass(kefo_producer *p) {
  struct timeval tv;
  int64_t wake;

  p->soon_armed = 0;
  if (p->state == P_STOPPED) {
    return;
  }
  kefo__producer_reap_dead(p);
  kefo__producer_core_expire(p->core, now_ms(p));
  if (p->fatal) {
    stop_now(p);
    return;
  }
  if (p->relist_at > 0 && now_ms(p) >= p->relist_at) {
    kefo__producer_list_shards(p);
  }
  if (p->have_map) {
    send_batches(p);
  }
  flushes_done(p);
  if (p->state == P_RUNNING && kefo__producer_core_room_again(p->core) &&
      p->cb.on_writable) {
    p->cb.on_writable(p, p->user_data);
  }
  if (p->state == P_STOPPING && kefo__producer_core_outstanding(p->core) == 0) {
    finish_stop(p);
    return;
  }
  if (p->calls == NULL && kefo__producer_core_outstanding(p->core) == 0) {
    /* Idle: the spare bodies' room back to the allocator, but two. */
    while (p->nbodies > 2) {
      p->bodies_room -= p->bodies[--p->nbodies].cap;
      kefo__buf_free(&p->bodies[p->nbodies]);
    }
  }
  if (p->state == P_STOPPED) {
    return;
  }
  wake = kefo__producer_core_next_wake(p->core, now_ms(p));
  if (p->relist_at > 0 && p->state == P_RUNNING) {
    int64_t in = p->relist_at - now_ms(p);
    in = in > 0 ? in : 0;
    wake = wake < 0 || in < wake ? in : wake;
  }
  event_del(p->timer);
  if (wake >= 0) {
    kefo__timeval_ms(&tv, wake);
    event_add(p->timer, &tv);
  }
}

static void pass_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  pass(arg);
}

/* ---- stop --------------------------------------------------------------- */

static void stopped_cb(evutil_socket_t fd, short what, void *arg) {
  kefo_producer *p = arg;
  (void)fd;
  (void)what;
  /* Reported once, and once every stream's producer has stopped too (the
     last kid to stop calls this again). */
  if (p->stop_reported || !kefo__producer_kids_stopped(p)) {
    return;
  }
  p->stop_reported = 1;
  if (p->cb.on_stopped) {
    p->cb.on_stopped(p, p->fatal ? &p->fatal_info : NULL, p->user_data);
  }
}

static void cancel_calls(kefo_producer *p) {
  pcall *pc, *next;
  for (pc = p->calls; pc; pc = next) {
    next = pc->next;
    kefo__aws_call_cancel(pc->call);
    pcall_free(p, pc);
  }
  p->calls = NULL;
}

/* Fails what is left, cancels what runs, and reports the stop. */
static void finish_stop(kefo_producer *p) {
  size_t i;

  if (p->state == P_STOPPED) {
    return;
  }
  p->state = P_STOPPED;
  cancel_calls(p);
  if (p->listing) {
    kefo__kinesis_list_cancel(p->listing);
    p->listing = NULL;
  }
  /* A fatal error goes to each record whole (its AWS type and
     operation too); a stop asked for is a cancellation. */
  if (p->fatal) {
    kefo__producer_core_fail_all_info(p->core, &p->fatal_info, 1);
  } else {
    kefo__producer_core_fail_all(p->core, KEFO_ERR_CANCELLED,
                                 "the producer stopped before the record was "
                                 "written",
                                 1);
  }
  /* Flushes end too: every record they wait for is now reported. */
  for (i = 0; i < p->nwaiters; ++i) {
    p->waiters[i].token = 0;
  }
  flushes_done(p);
  event_del(p->timer);
  event_del(p->stop_timer);
  if (p->keepalive) {
    event_del(p->keepalive);
  }
  event_active(p->stopped_ev, 0, 0);
}

/* A stop at once: this producer's, and its kids'. (A graceful stop ends
   with finish_stop once this producer's own records are done, while its
   kids may still be writing theirs.) */
static void stop_now(kefo_producer *p) {
  finish_stop(p);
  kefo__producer_stop_kids(p, 0);
}

static void stop_timer_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  stop_now(arg);
}

int kefo_producer_stop(kefo_producer *p, int graceful) {
  struct timeval tv;

  if (p == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  kefo__producer_stop_kids(p, graceful);
  if (p->state == P_STOPPED) {
    return 0;
  }
  if (!graceful) {
    finish_stop(p);
    return 0;
  }
  if (p->state == P_RUNNING) {
    p->state = P_STOPPING;
    if (kefo__producer_core_flush(p->core) < 0) {
      finish_stop(p);
      return 0;
    }
    kefo__timeval_ms(&tv,
                     kefo__config_get_ms(p->cfg, KEFO_CFG_SINK_STOP_TIMEOUT));
    event_add(p->stop_timer, &tv);
    kefo__producer_soon(p);
  }
  return 0;
}

/* ---- the public calls --------------------------------------------------- */

/* The core's settings from the sink.* keys. */
static void read_settings(const kefo_config *cfg, kefo_producer_settings *s) {
  kefo__producer_settings_default(s);
  s->batch_max_records =
      (size_t)kefo__config_get_int(cfg, KEFO_CFG_SINK_BATCH_MAX_SIZE);
  s->batch_max_bytes =
      (size_t)kefo__config_get_size(cfg, KEFO_CFG_SINK_FLUSH_SIZE);
  s->max_inflight =
      (size_t)kefo__config_get_int(cfg, KEFO_CFG_SINK_MAX_INFLIGHT);
  s->max_buffered_records =
      (size_t)kefo__config_get_int(cfg, KEFO_CFG_SINK_MAX_BUFFERED);
  s->max_buffered_bytes =
      (size_t)kefo__config_get_size(cfg, KEFO_CFG_SINK_BUFFER_MAX_BYTES);
  s->linger_ms = kefo__config_get_ms(cfg, KEFO_CFG_SINK_FLUSH_TIMEOUT);
  s->aggregate = kefo__config_get_bool(cfg, KEFO_CFG_SINK_AGGREGATION);
  s->aggregate_max_bytes =
      (size_t)kefo__config_get_size(cfg, KEFO_CFG_SINK_AGGREGATION_MAX_SIZE);
  s->aggregate_max_count =
      (size_t)kefo__config_get_int(cfg, KEFO_CFG_SINK_AGGREGATION_MAX_COUNT);
  s->record_ttl_ms = kefo__config_get_ms(cfg, KEFO_CFG_SINK_RECORD_TTL);
  s->rate_limit_pct =
      (uint32_t)kefo__config_get_int(cfg, KEFO_CFG_SINK_RATE_LIMIT);
  s->ordered = kefo__config_get_bool(cfg, KEFO_CFG_SINK_ORDERED);
  s->cbor =
      kefo__config_get_enum(cfg, KEFO_CFG_SINK_PROTOCOL) == KEFO_PROTOCOL_CBOR;
  s->fail_on_error = kefo__config_get_bool(cfg, KEFO_CFG_SINK_FAIL_ON_ERROR);
  s->retry_min_ms =
      (uint32_t)kefo__config_get_ms(cfg, KEFO_CFG_RETRY_MIN_DELAY);
  s->retry_max_ms =
      (uint32_t)kefo__config_get_ms(cfg, KEFO_CFG_RETRY_MAX_DELAY);
}

static int loop_events_new(kefo_producer *p) {
  struct timeval tv = {1, 0};

  p->timer = event_new(p->base, -1, 0, pass_cb, p);
  p->soon = event_new(p->base, -1, 0, pass_cb, p);
  p->stop_timer = event_new(p->base, -1, 0, stop_timer_cb, p);
  p->stopped_ev = event_new(p->base, -1, 0, stopped_cb, p);
  if (p->own_base) {
    /* kefo_producer_run's loop must not find itself with nothing to
       wait for while the producer runs. */
    p->keepalive = event_new(p->base, -1, EV_PERSIST, pass_cb, p);
    if (p->keepalive == NULL || event_add(p->keepalive, &tv) != 0) {
      return KEFO_ERR_NOMEM;
    }
  }
  return p->timer && p->soon && p->stop_timer && p->stopped_ev ? 0
                                                               : KEFO_ERR_NOMEM;
}

int kefo__producer_init(kefo_producer *p, const kefo_config *cfg,
                        struct event_base *base) {
  kefo_producer_settings s;
  char err[512];
  int rv;

  if ((rv = kefo__config_dup(&p->cfg, cfg, p->mem)) != 0) {
    return rv;
  }
  p->stream_name = kefo__config_get_str(p->cfg, KEFO_CFG_SINK_STREAM_NAME);
  p->stream_arn = kefo__config_get_str(p->cfg, KEFO_CFG_SINK_STREAM_ARN);
  if (kefo__config_validate_sink(p->cfg, err, sizeof(err)) != 0) {
    /* The rule broken, to the application's log: KEFO_ERR_CONFIG alone
       does not say which. */
    KEFO_LOG(&p->cb.log, KEFO_LOG_ERROR, "config.invalid", NULL, "%s", err);
    return KEFO_ERR_CONFIG;
  }
  read_settings(p->cfg, &s);
  p->bodies_max = s.max_buffered_bytes < PBODY_SPARE_BYTES
                      ? s.max_buffered_bytes
                      : PBODY_SPARE_BYTES;
  p->list_retry.min_delay_ms = s.retry_min_ms;
  p->list_retry.max_delay_ms = s.retry_max_ms;
  p->list_retry.max_attempts =
      (uint32_t)kefo__config_get_int(p->cfg, KEFO_CFG_RETRY_MAX_ATTEMPTS);
  /* The core retries PutRecords itself, record by record, until their
     TTL: each call is one attempt. */
  p->put_retry = p->list_retry;
  p->put_retry.max_attempts = 1;
  if (base == NULL) {
    base = event_base_new();
    p->own_base = 1;
    if (base == NULL) {
      return KEFO_ERR_NOMEM;
    }
  }
  p->base = base;
  /* A kid writes through its parent's HTTP client, credentials and
     signed-call client: one connection pool and one credentials cache
     for every stream of a region. A kid of another region than its
     parent's gets the parent's setup for that region (kid_start), made
     by the first stream there. */
  if (p->parent) {
    p->aws = p->aws_lent ? *p->aws_lent : p->parent->aws;
    /* It pointed into the parent's array of setups, which a later region
       may move: the copy above is what the kid uses. */
    p->aws_lent = NULL;
  } else if ((rv = kefo__aws_setup_kinesis(&p->aws, p->cfg, p->stream_arn, base,
                                           p->mem, 1u << 20, &p->cb.log, err,
                                           sizeof(err))) != 0) {
    if (rv == KEFO_ERR_CONFIG) {
      KEFO_LOG(&p->cb.log, KEFO_LOG_ERROR, "config.invalid", NULL, "%s", err);
    }
    return rv;
  } else {
    p->own_aws = 1;
  }
  if ((rv = kefo__producer_core_new(&p->core, &s, &core_cbs, p, NULL,
                                    p->mem)) != 0 ||
      (rv = loop_events_new(p)) != 0) {
    return rv;
  }
  p->put_svc = p->aws.svc;
  if (s.cbor) {
    p->put_svc.content_type = KEFO_AWS_CBOR;
  }
  kefo__producer_core_set_log(p->core, &p->cb.log);
  kefo__producer_core_defer_digests(p->core, 1); /* send_batches seals */
  return 0;
}

/* A producer with its callbacks and user data, before producer_init. */
kefo_producer *kefo__producer_alloc(const kefo_mem *mem,
                                    const kefo_producer_callbacks *cbs,
                                    void *user_data) {
  kefo_producer *p = kefo__mem_calloc(mem, 1, sizeof(*p));

  if (p == NULL) {
    return NULL;
  }
  p->mem_copy = *mem;
  p->mem = &p->mem_copy;
  p->user_data = user_data;
  if (cbs) {
    p->cb = *cbs;
    p->cb.log.user_data = user_data;
  }
  kefo__records_parser_init(&p->answers, p->mem);
  return p;
}

int kefo_producer_new(kefo_producer **out, const kefo_config *cfg,
                      const kefo_producer_callbacks *cbs, void *user_data,
                      struct event_base *base) {
  kefo_producer *p;
  int rv;

  if (out == NULL || cfg == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  p = kefo__producer_alloc(kefo__mem_or_default(kefo__config_mem(cfg)), cbs,
                           user_data);
  if (p == NULL) {
    return KEFO_ERR_NOMEM;
  }
  rv = kefo__producer_init(p, cfg, base);
  if (rv != 0) {
    kefo_producer_del(p);
    return rv;
  }
  kefo__producer_list_shards(p);
  *out = p;
  return 0;
}

/* kefo_producer_put, and with |lent| kefo_producer_put_lent. */
static int put_one(kefo_producer *p, const char *partition_key,
                   const char *explicit_hash_key, const void *data, size_t len,
                   int lent, void *record_ctx) {
  size_t pk_len, ehk_len;
  int rv;

  if (p == NULL || partition_key == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (p->state != P_RUNNING) {
    return KEFO_ERR_INVALID_STATE;
  }
  pk_len = strlen(partition_key);
  ehk_len = explicit_hash_key ? strlen(explicit_hash_key) : 0;
  rv = lent ? kefo__producer_core_put_lent(p->core, partition_key, pk_len,
                                           explicit_hash_key, ehk_len, data,
                                           len, record_ctx)
            : kefo__producer_core_put(p->core, partition_key, pk_len,
                                      explicit_hash_key, ehk_len, data, len,
                                      record_ctx);
  if (rv == 0 && kefo__producer_core_staged_full(p->core)) {
    kefo__producer_core_route(p->core, now_ms(p));
  }
  if (rv == 0) {
    /* The linger timer, or a call at once when this one filled it. */
    kefo__producer_soon(p);
  }
  return rv;
}

int kefo_producer_put(kefo_producer *p, const char *partition_key,
                      const char *explicit_hash_key, const void *data,
                      size_t len, void *record_ctx) {
  return put_one(p, partition_key, explicit_hash_key, data, len, 0, record_ctx);
}

int kefo_producer_put_lent(kefo_producer *p, const char *partition_key,
                           const char *explicit_hash_key, const void *data,
                           size_t len, void *record_ctx) {
  return put_one(p, partition_key, explicit_hash_key, data, len, 1, record_ctx);
}

int kefo__producer_flush_reserve(kefo_producer *p) {
  if (kefo__mem_grow(p->mem, (void **)&p->waiters, p->nwaiters + 1,
                     &p->waiters_cap, sizeof(*p->waiters)) != 0) {
    return KEFO_ERR_NOMEM;
  }
  return kefo__producer_core_flush_reserve(p->core);
}

int kefo__producer_flush_own(kefo_producer *p, kefo_producer_flush_cb cb,
                             void *flush_data) {
  int64_t token;
  int rv;

  if ((rv = kefo__producer_flush_reserve(p)) != 0) {
    return rv;
  }
  token = kefo__producer_core_flush(p->core);
  if (token < 0) {
    return (int)token;
  }
  p->waiters[p->nwaiters].token = token; /* 0: nothing to wait for */
  p->waiters[p->nwaiters].cb = cb;
  p->waiters[p->nwaiters].data = flush_data;
  ++p->nwaiters;
  kefo__producer_soon(p);
  return 0;
}

int kefo_producer_flush(kefo_producer *p, kefo_producer_flush_cb cb,
                        void *flush_data) {
  if (p == NULL || cb == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (p->state == P_STOPPED) {
    return KEFO_ERR_INVALID_STATE;
  }
  return p->nstreams == 0 ? kefo__producer_flush_own(p, cb, flush_data)
                          : kefo__producer_flush_streams(p, cb, flush_data);
}

int kefo_producer_run(kefo_producer *p) {
  if (p == NULL || !p->own_base) {
    return KEFO_ERR_INVALID_STATE;
  }
  while (!kefo_producer_stopped(p)) {
    if (event_base_loop(p->base, EVLOOP_ONCE) < 0) {
      break;
    }
  }
  /* The on_stopped report, if the stop came last in a pass. */
  event_base_loop(p->base, EVLOOP_NONBLOCK);
  return 0;
}

int kefo_producer_stopped(const kefo_producer *p) {
  return p && p->state == P_STOPPED && kefo__producer_kids_stopped(p);
}

void kefo_producer_del(kefo_producer *p) {
  if (p == NULL) {
    return;
  }
  kefo__producer_streams_free(p);
  if (p->metrics_text.mem) { /* set up by the first render */
    kefo__buf_free(&p->metrics_text);
  }
  cancel_calls(p);
  if (p->listing) {
    kefo__kinesis_list_cancel(p->listing);
  }
  if (p->timer) {
    event_free(p->timer);
  }
  if (p->soon) {
    event_free(p->soon);
  }
  if (p->stop_timer) {
    event_free(p->stop_timer);
  }
  if (p->stopped_ev) {
    event_free(p->stopped_ev);
  }
  if (p->keepalive) {
    event_free(p->keepalive);
  }
  kefo__producer_core_del(p->core);
  if (p->own_aws) { /* else its parent's, freed after it */
    kefo__aws_setup_free(&p->aws);
  }
  while (p->nfar > 0) { /* every kid that borrowed one is gone */
    kefo__aws_setup_free(&p->far[--p->nfar]);
  }
  kefo__mem_free(p->mem, p->far);
  kefo_config_del(p->cfg);
  while (p->spares) {
    pcall *pc = p->spares;
    p->spares = pc->next;
    pcall_free(p, pc);
  }
  while (p->nbodies > 0) {
    kefo__buf_free(&p->bodies[--p->nbodies]);
  }
  kefo__records_parser_free(&p->answers);
  kefo__mem_free(p->mem, p->waiters);
  if (p->own_base && p->base) {
    event_base_free(p->base);
  }
  kefo__mem_free(p->mem, p);
}
