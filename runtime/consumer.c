/*
 * The consumer's life: creation from a configuration, the EFO consumer
 * manager, shard discovery into the lineage graph, start, stop and
 * freeing; all on one event loop. The shards it reads are in
 * shard_slots.c, delivery in delivery.c, checkpoints in checkpoints.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include <event2/event.h>
#include <kefo/kefo.h>

#include "aws/region.h"
#include "base/clock.h"
#include "runtime/aws_setup.h"
#include "runtime/consumer_internal.h"

/* The application of a polling consumer given no consumer name. */
#define KEFO_DEFAULT_APPLICATION "kefo"

void kefo__consumer_report(kefo_consumer *c, int code, const char *shard,
                           const kefo_error_info *info, const char *message) {
  kefo_error_info e;

  if (info) {
    e = *info;
  } else {
    memset(&e, 0, sizeof(e));
    e.code = code;
    e.message = message ? message : "";
  }
  e.shard_id = shard;
  /* Kept (copied: |e| is lent) for on_stopped, should this error stop
     the consumer. */
  c->last_error = e;
  snprintf(c->last_error_text, sizeof(c->last_error_text), "%s",
           e.message ? e.message : "");
  snprintf(c->last_error_type, sizeof(c->last_error_type), "%s",
           e.aws_type ? e.aws_type : "");
  snprintf(c->last_error_op, sizeof(c->last_error_op), "%s",
           e.operation ? e.operation : "");
  c->last_error.message = c->last_error_text;
  c->last_error.aws_type = e.aws_type ? c->last_error_type : NULL;
  c->last_error.operation = e.operation ? c->last_error_op : NULL;
  c->last_error.shard_id = NULL;
  kefo__metrics_count_error(c, e.code, &e);
  if (c->cb.on_error) {
    c->cb.on_error(c, &e, c->user_data);
  }
}

void kefo__consumer_report_failure(kefo_consumer *c, int code,
                                   const char *shard,
                                   const kefo_error_info *info, int retryable) {
  kefo_error_info e;

  if (info) {
    e = *info;
  } else {
    memset(&e, 0, sizeof(e));
    e.code = code;
    e.message = "";
  }
  e.retryable = retryable;
  kefo__consumer_report(c, code, shard, &e, NULL);
}

/* A call of the consumer's that will be tried again: reported at once,
   retryable, so that an endpoint that cannot be reached is seen at the
   first refusal rather than once the whole retry budget is spent. */
static void on_call_retry(const kefo_error_info *info, void *ud) {
  kefo__consumer_log_call_retry(ud, info);
  kefo__consumer_report(ud, info->code, NULL, info, NULL);
}

void kefo__consumer_shard_event(kefo_consumer *c, const char *shard,
                                kefo_shard_event ev) {
  kefo__consumer_log_shard_event(c, shard, ev);
  if (c->cb.on_shard_event) {
    c->cb.on_shard_event(c, shard, ev, c->user_data);
  }
}

int64_t kefo__consumer_now_ms(kefo_consumer *c) {
  const kefo_clock *clock = kefo__aws_client_clock(c->aws);
  return clock->mono_ms(clock->user_data);
}

/* ---- discovery ------------------------------------------------------ */

static void on_shards(int error, const cJSON *shards,
                      const kefo_error_info *info, void *ud) {
  kefo_consumer *c = ud;
  struct timeval tv;
  int64_t every =
      kefo__config_get_ms(c->cfg, KEFO_CFG_SHARD_DISCOVERY_INTERVAL);

  c->listing = NULL;
  if (error) {
    kefo__consumer_report(c, error, NULL, info, NULL);
  } else if (kefo__shard_graph_discover(c->graph, shards) != 0) {
    kefo__consumer_report(c, KEFO_ERR_BAD_RESPONSE, NULL, NULL,
                          "ListShards returned shards kefo cannot use");
  } else {
    kefo__consumer_start_ready(c);
    kefo__coord_poke(c);
  }
  if (c->state == C_RUNNING) {
    kefo__timeval_ms(&tv, every);
    event_add(c->discovery, &tv);
  }
}

static void discovery_cb(evutil_socket_t fd, short what, void *arg) {
  kefo_consumer *c = arg;

  (void)fd;
  (void)what;
  if (c->state != C_RUNNING || c->listing) {
    return;
  }
  if (kefo__kinesis_list_shards(c->aws, &c->svc, NULL, c->stream_arn, NULL, 0,
                                &c->retry, on_shards, c, &c->listing) != 0) {
    kefo__consumer_report(c, KEFO_ERR_NOMEM, NULL, NULL, "cannot list shards");
  }
}

static void on_manager_done(int error, const kefo_error_info *info, void *ud);

/*
 * The start failed (the lease store cannot be opened or read, the
 * consumer never became ACTIVE, ...). A consumer this run registered is
 * deregistered first, waiting at most source.efo.deregister.timeout: on
 * AWS each one is billed and counts toward the stream's 20 consumers, so
 * a failed start leaves none behind. A reused one (another run's) stays.
 */
static void start_failed(kefo_consumer *c) {
  if (!c->stop_reason) {
    c->stop_reason = KEFO_STOP_ERROR;
  }
  if (c->state == C_STARTING && kefo__consumer_manager_registered(c->manager) &&
      kefo__consumer_manager_stop(c->manager, on_manager_done, c) == 0) {
    c->state = C_STOPPING;
    return;
  }
  kefo_consumer_stop(c, 0);
}

static void on_checkpoints(int error, const char *message,
                           const kefo_checkpoint_entry *e, size_t n, void *ud) {
  kefo_consumer *c = ud;
  struct timeval tv;
  size_t i;

  if (error) {
    kefo__consumer_report(c, error, NULL, NULL, message);
    start_failed(c);
    return;
  }
  for (i = 0; i < n; ++i) {
    /* A shard read to its end before: finished, its children may start;
       a sequence number: where its reader starts. */
    if (kefo__checkpoint_table_put(&c->initial, &e[i], NULL) != 0 ||
        kefo__shard_graph_apply_checkpoint(c->graph, e[i].shard_id,
                                           e[i].sequence_number) != 0) {
      kefo__consumer_report(c, KEFO_ERR_NOMEM, NULL, NULL,
                            "cannot load the checkpoints");
      start_failed(c);
      return;
    }
  }
  c->state = C_RUNNING;
  event_active(c->discovery, 0, 0);
  kefo__coord_start(c);
  kefo__alignment_start(c);
  if (c->cp_interval_ms > 0) {
    kefo__timeval_ms(&tv, c->cp_interval_ms);
    event_add(c->cp_timer, &tv);
  }
}

static void on_store_open(int error, const char *message, void *ud) {
  kefo_consumer *c = ud;
  int rv;

  if (error) {
    kefo__consumer_report(c, error, NULL, NULL, message);
    start_failed(c);
    return;
  }
  rv = c->store->ops->read(c->store, on_checkpoints, c);
  if (rv != 0) {
    kefo__consumer_report(c, rv, NULL, NULL, "cannot read the lease store");
    start_failed(c);
  }
}

static void on_manager_ready(int error, const char *consumer_arn,
                             const char *stream_arn,
                             const kefo_error_info *info, void *ud) {
  kefo_consumer *c = ud;
  const char *name;
  int rv;

  if (error) {
    kefo__consumer_report(c, error, NULL, info, NULL);
    start_failed(c);
    return;
  }
  snprintf(c->consumer_arn, sizeof(c->consumer_arn), "%s", consumer_arn);
  snprintf(c->stream_arn, sizeof(c->stream_arn), "%s", stream_arn);
  name = kefo__config_get_str(c->cfg, KEFO_CFG_EFO_CONSUMER_NAME);
  /* The store belongs to this stream and application: the consumer name,
     else the ARN of a self-managed consumer, else (polling without a
     name) "kefo". */
  if (!name || !name[0]) {
    name = c->consumer_arn[0] ? c->consumer_arn : KEFO_DEFAULT_APPLICATION;
  }
  rv = c->store->ops->open(c->store, c->stream_arn, name, on_store_open, c);
  if (rv != 0) {
    kefo__consumer_report(c, rv, NULL, NULL, "cannot open the lease store");
    start_failed(c);
  }
}

/* ---- the object ------------------------------------------------------ */

/* The DynamoDB lease table store, and this worker's id: the configured
   one, else host, process id and a random part (unique across restarts
   on one host). */
static int lease_table_new(kefo_consumer *c, const char *region,
                           const kefo_mem *mem) {
  char url[KEFO_ENDPOINT_URL_MAX], err[512], host[128] = "host";
  const char *id = kefo__config_get_str(c->cfg, KEFO_CFG_LEASE_WORKER_ID);
  unsigned char rnd[4] = {0};
  int rv;

  rv = kefo__endpoint_resolve(
      url, NULL, KEFO_SERVICE_DYNAMODB, region,
      kefo__config_get_str(c->cfg, KEFO_CFG_LEASE_ENDPOINT), NULL, err,
      sizeof(err));
  if (rv == 0) {
    rv = kefo__aws_service_dynamodb(&c->lease_svc, url, region);
  }
  if (rv != 0) {
    return rv;
  }
  if (id && id[0]) {
    snprintf(c->worker_id, sizeof(c->worker_id), "%s", id);
  } else {
    gethostname(host, sizeof(host) - 1);
    host[sizeof(host) - 1] = 0;
    RAND_bytes(rnd, sizeof(rnd));
    snprintf(c->worker_id, sizeof(c->worker_id), "%s-%ld-%02x%02x%02x%02x",
             host, (long)getpid(), rnd[0], rnd[1], rnd[2], rnd[3]);
  }
  return kefo__dynamodb_store_new(
      &c->store, c->base, c->aws, &c->lease_svc, &c->retry,
      kefo__config_get_str(c->cfg, KEFO_CFG_LEASE_TABLE), c->worker_id, mem);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg);

/* What every reader of |c| shares (shard/reader.h), besides the settings
   read_settings put there; the ARNs are read when the first reader
   starts, after the manager has found them. */
static void reader_env_init(kefo_consumer *c) {
  kefo_reader_env *env = &c->reader_env;

  env->base = c->base;
  env->aws = c->aws;
  env->svc = &c->svc;
  env->mem = c->mem;
  env->clock = kefo__aws_client_clock(c->aws);
  env->retry = &c->retry;
  env->stream_arn = c->stream_arn;
  env->consumer_arn = c->consumer_arn;
  env->parser = &c->parser;
  env->log = &c->log;
}

/* A non-blocking, close-on-exec pipe (POSIX: pipe2 is not). */
static int wake_pipe(int fd[2]) {
  int i;

  if (pipe(fd) != 0) {
    fd[0] = fd[1] = -1;
    return -1;
  }
  for (i = 0; i < 2; ++i) {
    if (fcntl(fd[i], F_SETFL, fcntl(fd[i], F_GETFL) | O_NONBLOCK) != 0 ||
        fcntl(fd[i], F_SETFD, FD_CLOEXEC) != 0) {
      close(fd[0]);
      close(fd[1]);
      fd[0] = fd[1] = -1;
      return -1;
    }
  }
  return 0;
}

int kefo_consumer_new(kefo_consumer **out, const kefo_config *cfg,
                      const kefo_callbacks *cb, void *user_data,
                      struct event_base *base) {
  kefo_consumer_callbacks all;

  if (cb == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  memset(&all, 0, sizeof(all));
  all.cb = *cb;
  return kefo_consumer_new2(out, cfg, &all, user_data, base);
}

/* The reader settings read from the configuration. */
static void read_settings(kefo_consumer *c) {
  c->retry.min_delay_ms =
      (uint32_t)kefo__config_get_ms(c->cfg, KEFO_CFG_RETRY_MIN_DELAY);
  c->retry.max_delay_ms =
      (uint32_t)kefo__config_get_ms(c->cfg, KEFO_CFG_RETRY_MAX_DELAY);
  c->retry.max_attempts =
      (uint32_t)kefo__config_get_int(c->cfg, KEFO_CFG_RETRY_MAX_ATTEMPTS);
  c->reader_env.inactivity_ms =
      (uint32_t)kefo__config_get_ms(c->cfg, KEFO_CFG_EFO_SUBSCRIPTION_TIMEOUT);
  c->reader_env.max_event_bytes =
      (uint32_t)kefo__config_get_size(c->cfg, KEFO_CFG_EFO_EVENT_MAX_BYTES);
  c->reader_env.whole_event_bytes = (uint32_t)kefo__config_get_size(
      c->cfg, KEFO_CFG_EFO_EVENT_WHOLE_MAX_BYTES);
  c->reader_ops =
      kefo__config_get_enum(c->cfg, KEFO_CFG_READER_TYPE) == KEFO_READER_POLLING
          ? &kefo__polling_reader_ops
          : &kefo__efo_reader_ops;
  c->reader_env.get_records_max =
      (int)kefo__config_get_int(c->cfg, KEFO_CFG_GET_RECORDS_MAX);
  c->reader_env.busy_ms =
      (uint32_t)kefo__config_get_ms(c->cfg, KEFO_CFG_NONEMPTY_FETCH_INTERVAL);
  c->reader_env.idle_ms =
      (uint32_t)kefo__config_get_ms(c->cfg, KEFO_CFG_EMPTY_FETCH_INTERVAL);
  c->cp_interval_ms = kefo__config_get_ms(c->cfg, KEFO_CFG_CHECKPOINT_INTERVAL);
}

/* The Kinesis endpoint of |region| (filled in), the HTTP client, the
   credentials and the signed-call client. */
static int aws_new(kefo_consumer *c, char *region) {
  const char *arn = kefo__config_get_str(c->cfg, KEFO_CFG_STREAM_ARN);
  kefo_aws_setup setup;
  char err[512];
  int rv;

  if (arn == NULL) {
    arn = kefo__config_get_str(c->cfg, KEFO_CFG_EFO_CONSUMER_ARN);
  }
  rv = kefo__aws_setup_kinesis(
      &setup, c->cfg, arn, c->base, c->mem,
      (uint32_t)kefo__config_get_size(c->cfg, KEFO_CFG_SHARD_BUFFER_MAX_BYTES),
      &c->log, err, sizeof(err));
  if (rv != 0) {
    if (rv == KEFO_ERR_CONFIG) {
      KEFO_LOG(&c->log, KEFO_LOG_ERROR, "config.invalid", NULL, "%s", err);
    }
    return rv;
  }
  memcpy(region, setup.region, KEFO_REGION_MAX);
  c->svc = setup.svc;
  c->http = setup.http;
  c->creds = setup.creds;
  c->aws = setup.aws;
  kefo__aws_client_set_retry_cb(c->aws, on_call_retry, c);
  return 0;
}

/* The store of checkpoints (and leases) the configuration names, and the
   lease coordinator when it has leases. */
static int store_new(kefo_consumer *c, const char *region) {
  int rv;

  switch (kefo__config_get_enum(c->cfg, KEFO_CFG_LEASE_STORE)) {
  case KEFO_LEASE_STORE_MEMORY:
    rv = kefo__memory_store_new(&c->store, c->mem);
    break;
  case KEFO_LEASE_STORE_FILE:
    rv = kefo__file_store_new(
        &c->store, kefo__config_get_str(c->cfg, KEFO_CFG_LEASE_FILE), c->mem);
    break;
  default:
    rv = lease_table_new(c, region, c->mem);
    break;
  }
  if (rv == 0) {
    rv = kefo__coord_new(c);
  }
  return rv;
}

/* The consumer's own timers and the wake-up pipe of
   kefo_consumer_stop_async. */
static int loop_events_new(kefo_consumer *c) {
  c->discovery = event_new(c->base, -1, 0, discovery_cb, c);
  c->cp_timer = event_new(c->base, -1, 0, kefo__consumer_cp_timer_cb, c);
  if (c->discovery == NULL || c->cp_timer == NULL) {
    return KEFO_ERR_NOMEM;
  }
  if (wake_pipe(c->wake_fd) != 0) {
    return KEFO_ERR_NOMEM; /* out of descriptors: a resource like memory */
  }
  c->wake = event_new(c->base, c->wake_fd[0], EV_READ | EV_PERSIST, wake_cb, c);
  if (c->wake == NULL || event_add(c->wake, NULL) != 0) {
    return KEFO_ERR_NOMEM;
  }
  return 0;
}

int kefo_consumer_new2(kefo_consumer **out, const kefo_config *cfg,
                       const kefo_consumer_callbacks *cbs, void *user_data,
                       struct event_base *base) {
  const kefo_callbacks *cb = cbs ? &cbs->cb : NULL;
  kefo_consumer *c;
  char err[512], region[KEFO_REGION_MAX];
  const kefo_mem *mem;
  int rv;

  if (out == NULL || cfg == NULL || cb == NULL || cb->on_records == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (kefo_config_validate(cfg, err, sizeof(err)) != 0) {
    /* The rule broken, to the application's log: KEFO_ERR_CONFIG alone
       does not say which. */
    kefo_log l = cbs->log;
    l.user_data = user_data;
    KEFO_LOG(&l, KEFO_LOG_ERROR, "config.invalid", NULL, "%s", err);
    return KEFO_ERR_CONFIG;
  }
  /* The application's allocator, given to kefo_config_new2, for every
     allocation of kefo's own (nghttp2's too; libevent, OpenSSL and cJSON
     have only process-wide hooks, which a library must not set). */
  c = kefo__mem_calloc(kefo__config_mem(cfg), 1, sizeof(*c));
  if (c == NULL) {
    return KEFO_ERR_NOMEM;
  }
  c->mem_copy = *kefo__config_mem(cfg);
  c->mem = mem = &c->mem_copy;
  c->cb = *cb;
  c->event_time = cbs->event_time;
  c->on_stopped = cbs->on_stopped;
  c->user_data = user_data;
  c->log = cbs->log;
  c->log.user_data = user_data;
  c->wake_fd[0] = c->wake_fd[1] = -1;
  kefo__assembly_init(&c->assembly, mem);
  kefo__records_parser_init(&c->parser, mem);
  kefo__checkpoint_table_init(&c->initial, mem);
  rv = kefo__config_dup(&c->cfg, cfg, mem);
  if (rv != 0) {
    goto fail;
  }
  c->base = base;
  if (base == NULL) {
    c->base = event_base_new();
    c->own_base = 1;
    if (c->base == NULL) {
      rv = KEFO_ERR_NOMEM;
      goto fail;
    }
  }
  read_settings(c);
  rv = aws_new(c, region);
  if (rv == 0) {
    rv = kefo__shard_graph_new(&c->graph, mem);
  }
  if (rv == 0) {
    rv = store_new(c, region);
  }
  if (rv == 0) {
    rv = kefo__alignment_init(c);
  }
  if (rv == 0) {
    rv = loop_events_new(c);
  }
  if (rv != 0) {
    goto fail;
  }
  reader_env_init(c);
  c->state = C_NEW;
  *out = c;
  return 0;

fail:
  kefo_consumer_del(c);
  return rv;
}

int kefo_consumer_start(kefo_consumer *c) {
  kefo_consumer_manager_options o;
  const char *name, *arn;

  if (c == NULL || c->state != C_NEW) {
    return KEFO_ERR_INVALID_STATE;
  }
  memset(&o, 0, sizeof(o));
  o.lifecycle = kefo__config_get_enum(c->cfg, KEFO_CFG_EFO_LIFECYCLE) ==
                        KEFO_LIFECYCLE_SELF_MANAGED
                    ? KEFO_EFO_SELF_MANAGED
                    : KEFO_EFO_JOB_MANAGED;
  if (c->reader_ops == &kefo__polling_reader_ops) {
    o.lifecycle = KEFO_EFO_NO_CONSUMER; /* only the stream's ARN */
  }
  name = kefo__config_get_str(c->cfg, KEFO_CFG_STREAM_NAME);
  arn = kefo__config_get_str(c->cfg, KEFO_CFG_STREAM_ARN);
  o.stream_arn = arn && arn[0] ? arn : NULL;
  o.stream_name = o.stream_arn ? NULL : name;
  o.consumer_name = kefo__config_get_str(c->cfg, KEFO_CFG_EFO_CONSUMER_NAME);
  o.consumer_arn = kefo__config_get_str(c->cfg, KEFO_CFG_EFO_CONSUMER_ARN);
  o.retry = c->retry;
  o.describe_retry.min_delay_ms =
      (uint32_t)kefo__config_get_ms(c->cfg, KEFO_CFG_EFO_DESCRIBE_MIN_DELAY);
  o.describe_retry.max_delay_ms =
      (uint32_t)kefo__config_get_ms(c->cfg, KEFO_CFG_EFO_DESCRIBE_MAX_DELAY);
  o.describe_retry.max_attempts = (uint32_t)kefo__config_get_int(
      c->cfg, KEFO_CFG_EFO_DESCRIBE_MAX_ATTEMPTS);
  o.deregister_timeout_ms =
      (uint32_t)kefo__config_get_ms(c->cfg, KEFO_CFG_EFO_DEREGISTER_TIMEOUT);
  c->state = C_STARTING;
  return kefo__consumer_manager_start(c->aws, &c->svc, &o, on_manager_ready, c,
                                      &c->manager) == 0
             ? 0
             : KEFO_ERR_NOMEM;
}

int kefo_consumer_run(kefo_consumer *c) {
  if (c == NULL || !c->own_base) {
    return KEFO_ERR_INVALID_STATE;
  }
  while (c->state != C_STOPPED) {
    if (event_base_loop(c->base, EVLOOP_ONCE) < 0) {
      break;
    }
  }
  return 0;
}

static void stopped(kefo_consumer *c) {
  c->state = C_STOPPED;
  if (c->wake) {
    /* Nothing of the consumer's keeps an application's loop alive. */
    event_del(c->wake);
  }
  if (c->on_stopped) {
    kefo_stop_reason why =
        c->stop_reason ? (kefo_stop_reason)c->stop_reason : KEFO_STOP_ASKED;
    c->on_stopped(c, why, why == KEFO_STOP_ERROR ? &c->last_error : NULL,
                  c->user_data);
  }
  if (c->own_base) {
    event_base_loopbreak(c->base);
  }
}

static void on_manager_done(int error, const kefo_error_info *info, void *ud) {
  kefo_consumer *c = ud;

  if (error) {
    kefo__consumer_report(c, error, NULL, info, NULL);
  }
  stopped(c);
}

/* The leases are released: deregister a job-managed consumer (unless
   other workers still read with it), then stop. */
static void leases_released(kefo_consumer *c) {
  if (c->state == C_STOPPED) {
    return; /* stopped at once meanwhile */
  }
  /* Workers sharing a lease table share the consumer too: only the last
     one to stop deregisters it. */
  if (kefo__coord_others_alive(c)) {
    stopped(c);
    return;
  }
  if (c->manager &&
      kefo__consumer_manager_stop(c->manager, on_manager_done, c) == 0) {
    return;
  }
  stopped(c);
}

int kefo_consumer_stop(kefo_consumer *c, int graceful) {
  kefo_shard_slot *r;

  if (c == NULL || c->state == C_STOPPED) {
    return 0;
  }
  if (!c->stop_reason) {
    c->stop_reason = KEFO_STOP_ASKED; /* else kefo stops itself, and why */
  }
  if (c->in_records != NULL) {
    /* Asked inside on_records: carried out once it returns, when its
       records count as finished with (the stop's checkpoint covers
       them). The stricter of two asks holds. */
    if (!graceful || c->stop_asked == STOP_ASKED_NONE) {
      c->stop_asked = graceful ? STOP_ASKED_GRACEFUL : STOP_ASKED_NOW;
    }
    return 0;
  }
  if (c->state == C_STOPPING) {
    if (!graceful) {
      /* Stop at once, in the middle of a graceful stop: the leases are
         left to expire, a job-managed consumer may stay registered. */
      kefo__coord_stop(c, NULL);
      kefo__consumer_manager_abort(c->manager);
      stopped(c);
    }
    return 0;
  }
  if (graceful && c->state == C_RUNNING && c->cp_interval_ms > 0) {
    /* Every delivered record, before the subscriptions go. */
    kefo__consumer_checkpoint_delivered(c);
  }
  c->state = C_STOPPING;
  event_del(c->discovery);
  kefo__alignment_stop(c);
  if (c->cp_timer) {
    event_del(c->cp_timer);
  }
  kefo__kinesis_list_cancel(c->listing);
  c->listing = NULL;
  for (r = c->readers; r; r = r->next) {
    r->reader->ops->cancel(r->reader);
  }
  if (graceful) {
    /* After the last checkpoint, the leases go (the next owner starts
       from it at once instead of after a lease duration). */
    kefo__coord_stop(c, leases_released);
    return 0;
  }
  kefo__coord_stop(c, NULL);
  stopped(c);
  return 0;
}

/* A stop asked by kefo_consumer_stop_async, on the loop. */
static void wake_cb(evutil_socket_t fd, short what, void *arg) {
  kefo_consumer *c = arg;
  char b[64];
  ssize_t n, i;
  int graceful = 1;

  (void)what;
  while ((n = read(fd, b, sizeof(b))) > 0) {
    for (i = 0; i < n; ++i) {
      graceful &= b[i] == 'g';
    }
  }
  kefo_consumer_stop(c, graceful);
}

int kefo_consumer_stop_async(kefo_consumer *c, int graceful) {
  char b = graceful ? 'g' : 'n';
  int saved = errno;
  ssize_t n;

  if (c == NULL || c->wake_fd[1] < 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  /* write(2) is async-signal-safe; a full pipe already holds a stop. */
  do {
    n = write(c->wake_fd[1], &b, 1);
  } while (n < 0 && errno == EINTR);
  errno = saved;
  return 0;
}

int kefo_consumer_stop_after(kefo_consumer *c, size_t n, int graceful) {
  if (c == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (c->in_records == NULL) {
    return KEFO_ERR_INVALID_STATE;
  }
  if (n > c->nlent) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (n < c->taken) {
    c->taken = n;
  }
  return kefo_consumer_stop(c, graceful);
}

int kefo_consumer_stopped(const kefo_consumer *c) {
  return c->state == C_STOPPED;
}

void kefo_consumer_del(kefo_consumer *c) {
  kefo_shard_slot *r;

  if (c == NULL) {
    return;
  }
  while ((r = c->readers) != NULL) {
    c->readers = r->next;
    kefo__consumer_slot_free(c, r);
  }
  kefo__kinesis_list_cancel(c->listing);
  kefo__consumer_manager_del(c->manager);
  if (c->discovery) {
    event_free(c->discovery);
  }
  if (c->cp_timer) {
    event_free(c->cp_timer);
  }
  if (c->wake) {
    event_free(c->wake);
  }
  if (c->wake_fd[0] >= 0) {
    close(c->wake_fd[0]);
    close(c->wake_fd[1]);
  }
  /* The store first: it cancels its calls, whose requests go next. */
  kefo__lease_store_del(c->store);
  kefo__consumer_checkpoints_free(c);
  kefo__coord_free(c);
  kefo__checkpoint_table_free(&c->initial);
  kefo__mem_free(c->mem, c->batch);
  kefo__mem_free(c->mem, c->stats);
  kefo__mem_free(c->mem, c->seqs);
  if (c->metrics_text.mem) { /* set up by the first render */
    kefo__buf_free(&c->metrics_text);
    kefo__buf_free(&c->metrics_labels);
  }
  kefo__records_parser_free(&c->parser);
  kefo__alignment_free(c);
  kefo__shard_graph_del(c->graph);
  kefo__aws_client_del(c->aws);
  kefo__credentials_provider_del(c->creds);
  kefo__http_client_del(c->http);
  kefo_config_del(c->cfg);
  kefo__assembly_free(&c->assembly);
  if (c->own_base && c->base) {
    event_base_free(c->base);
  }
  {
    /* The allocator lives inside |c|: copied before |c| goes. */
    kefo_mem m = c->mem_copy;
    kefo__mem_free(&m, c);
  }
}

int kefo__consumer_reader_array(kefo_consumer *c, void **array, size_t *cap,
                                size_t size) {
  const kefo_shard_slot *r;
  size_t n = 0;
  void *na;

  for (r = c->readers; r; r = r->next) {
    ++n;
  }
  if (n > *cap) {
    na = kefo__mem_realloc(c->mem, *array, n * size);
    if (na == NULL) {
      return KEFO_ERR_NOMEM;
    }
    *array = na;
    *cap = n;
  }
  return 0;
}

int kefo_consumer_stats(kefo_consumer *c, kefo_stats *out) {
  kefo_shard_slot *r;
  size_t n = 0;

  if (c == NULL || out == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  memset(out, 0, sizeof(*out));
  if (kefo__consumer_reader_array(c, (void **)&c->stats, &c->stats_cap,
                                  sizeof(*c->stats)) != 0) {
    return KEFO_ERR_NOMEM;
  }
  for (r = c->readers; r; r = r->next) {
    c->stats[n] = r->stats;
    c->stats[n++].state = r->state == R_FINISHED   ? KEFO_SHARD_STATE_FINISHED
                          : r->state == R_FAILED   ? KEFO_SHARD_STATE_FAILED
                          : c->state >= C_STOPPING ? KEFO_SHARD_STATE_STOPPED
                          : r->paused              ? KEFO_SHARD_STATE_PAUSED
                                                   : KEFO_SHARD_STATE_READING;
    out->records += r->stats.records;
    out->bytes += r->stats.bytes;
  }
  out->shards = c->stats;
  out->nshards = n;
  return 0;
}
