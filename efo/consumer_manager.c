/*
 * Consumer manager: a small state machine over DescribeStreamSummary,
 * RegisterStreamConsumer, DescribeStreamConsumer and
 * DeregisterStreamConsumer, one call at a time, polling with the describe
 * retry strategy while the consumer is CREATING or DELETING.
 */
#include "efo/consumer_manager.h"

#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "base/clock.h"

typedef enum {
  STEP_IDLE,
  STEP_RESOLVE_STREAM,
  STEP_REGISTER,
  STEP_DESCRIBE_BY_NAME,
  STEP_POLL_ACTIVE,
  STEP_WAIT_DELETED, /* a consumer of our name is DELETING: wait, then
                        register again */
  STEP_READY,
  STEP_DEREGISTER,
  STEP_WAIT_GONE,
  STEP_DONE
} step;

struct kefo_consumer_manager {
  kefo_aws_client *client;
  const kefo_aws_service *svc;
  kefo_efo_lifecycle lifecycle;
  char stream_arn[512];
  char stream_name[256];
  char consumer_name[256];
  char consumer_arn[512];
  /* RegisterStreamConsumer succeeded in this run (not a reuse): a start
     that fails later deregisters it. */
  int registered;
  kefo_retry_strategy retry;
  kefo_retry_strategy describe_retry;
  uint32_t deregister_timeout_ms;
  step step;
  uint32_t polls;
  uint32_t describe_calls;
  kefo_aws_call *call;
  struct event *timer;
  /* The stop's deadline, whatever the step: a DeregisterStreamConsumer
     retried against an endpoint that is gone must not hold the stop for
     its whole retry budget. */
  struct event *deadline;
  kefo_consumer_manager_ready_cb ready_cb;
  kefo_consumer_manager_done_cb done_cb;
  void *ready_ud;
  void *done_ud;
};

static void next_step(kefo_consumer_manager *m);

/* What follows once the stream's ARN is known. */
static step step_after_stream(const kefo_consumer_manager *m) {
  switch (m->lifecycle) {
  case KEFO_EFO_JOB_MANAGED:
    return STEP_REGISTER;
  case KEFO_EFO_SELF_MANAGED:
    return STEP_POLL_ACTIVE;
  default:
    return STEP_READY; /* no consumer: the polling reader */
  }
}

static int copy(char *dst, size_t cap, const char *src) {
  if (src == NULL) {
    dst[0] = '\0';
    return 0;
  }
  if (strlen(src) >= cap) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  strcpy(dst, src);
  return 0;
}

static void fail_start(kefo_consumer_manager *m, int error,
                       const kefo_error_info *info) {
  m->step = STEP_IDLE;
  if (m->ready_cb) {
    kefo_consumer_manager_ready_cb cb = m->ready_cb;
    m->ready_cb = NULL;
    cb(error, NULL, NULL, info, m->ready_ud);
  }
}

static void ready(kefo_consumer_manager *m) {
  m->step = STEP_READY;
  if (m->ready_cb) {
    kefo_consumer_manager_ready_cb cb = m->ready_cb;
    m->ready_cb = NULL;
    cb(0, m->consumer_arn, m->stream_arn, NULL, m->ready_ud);
  }
}

static void done(kefo_consumer_manager *m, int error,
                 const kefo_error_info *info) {
  m->step = STEP_DONE;
  if (m->done_cb) {
    kefo_consumer_manager_done_cb cb = m->done_cb;
    m->done_cb = NULL;
    cb(error, info, m->done_ud);
  }
}

/*
 * Waits before the next poll; false when the describe strategy's attempts
 * are spent. A status poll waits for a change AWS makes within seconds
 * (CREATING to ACTIVE), not for a fault to clear, so it keeps a steady
 * cadence of half to all of the strategy's minimum delay (jittered, so
 * that a fleet of workers does not poll in step) instead of backing off:
 * backing off from 2 s made a consumer that was ACTIVE after 5 s ready
 * after 10 (bench/startup.sh). Throttling of the polls themselves still
 * backs off, in the call's own retries.
 */
static int poll_later(kefo_consumer_manager *m) {
  const kefo_retry_strategy *rs = &m->describe_retry;
  const kefo_clock *clock =
      kefo__clock_or_system(kefo__aws_client_clock(m->client));
  uint32_t half = rs->min_delay_ms / 2;
  int64_t delay;
  struct timeval tv;

  ++m->polls;
  if (rs->max_attempts && m->polls >= rs->max_attempts) {
    return 0;
  }
  delay = (int64_t)rs->min_delay_ms - half +
          (half ? clock->random32(clock->user_data) % (half + 1) : 0);
  kefo__timeval_ms(&tv, delay);
  event_add(m->timer, &tv);
  return 1;
}

static const char *consumer_status(const cJSON *resp, const char *object) {
  const cJSON *st = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(resp, object), "ConsumerStatus");
  return cJSON_IsString(st) ? st->valuestring : NULL;
}

static int take_consumer_arn(kefo_consumer_manager *m, const cJSON *resp,
                             const char *object) {
  const cJSON *arn = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(resp, object), "ConsumerARN");

  if (!cJSON_IsString(arn) ||
      copy(m->consumer_arn, sizeof(m->consumer_arn), arn->valuestring) != 0) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  return 0;
}

/*
 * SubscribeToShard takes the stream from the consumer's ARN, not from the
 * request: a SELF_MANAGED consumer of another stream would read that
 * stream's records under this one's shard ids and checkpoints. Checks
 * |consumer_stream| (DescribeStreamConsumer's StreamARN), or when NULL the
 * ARN's own prefix ("<stream ARN>/consumer/<name>:<epoch>"), against the
 * stream being read; fails the start naming both when they differ.
 * Returns 0 when they match.
 */
static int check_consumer_stream(kefo_consumer_manager *m,
                                 const char *consumer_stream) {
  static const char tag[] = "/consumer/";
  kefo_error_info info;
  char msg[1400];
  size_t n = strlen(m->stream_arn), len;
  const char *cut;

  if (m->lifecycle != KEFO_EFO_SELF_MANAGED) {
    return 0;
  }
  if (consumer_stream != NULL
          ? strcmp(consumer_stream, m->stream_arn) == 0
          : strncmp(m->consumer_arn, m->stream_arn, n) == 0 &&
                strncmp(m->consumer_arn + n, tag, sizeof(tag) - 1) == 0) {
    return 0;
  }
  if (consumer_stream == NULL) {
    cut = strstr(m->consumer_arn, tag);
    len = cut ? (size_t)(cut - m->consumer_arn) : strlen(m->consumer_arn);
  } else {
    cut = consumer_stream;
    len = strlen(consumer_stream);
  }
  memset(&info, 0, sizeof(info));
  if (consumer_stream == NULL && cut == NULL) {
    snprintf(msg, sizeof(msg),
             "source.efo.consumer.arn: %s is not a stream consumer's ARN "
             "(arn:aws:kinesis:REGION:ACCOUNT:stream/NAME/consumer/NAME:"
             "EPOCH)",
             m->consumer_arn);
  } else {
    snprintf(msg, sizeof(msg),
             "source.efo.consumer.arn: consumer %s belongs to stream %.*s, "
             "not to %s, the stream being read",
             m->consumer_arn, (int)len,
             consumer_stream ? consumer_stream : m->consumer_arn,
             m->stream_arn);
  }
  info.code = KEFO_ERR_CONFIG;
  info.operation = consumer_stream ? "DescribeStreamConsumer" : NULL;
  info.message = msg;
  fail_start(m, KEFO_ERR_CONFIG, &info);
  return -1;
}

static int is_aws(int error, const kefo_error_info *info, const char *type) {
  return error == KEFO_ERR_AWS && info && info->aws_type &&
         strcmp(info->aws_type, type) == 0;
}

static void bad_response(kefo_consumer_manager *m, const char *what) {
  kefo_error_info info;
  char msg[256];

  memset(&info, 0, sizeof(info));
  snprintf(msg, sizeof(msg), "%s answer lacks what kefo needs", what);
  info.code = KEFO_ERR_BAD_RESPONSE;
  info.operation = what;
  info.message = msg;
  fail_start(m, KEFO_ERR_BAD_RESPONSE, &info);
}

/* After a describe: ACTIVE is ready; CREATING / UPDATING polls again;
   DELETING (JOB_MANAGED) waits for it to go and registers anew. */
static void on_status(kefo_consumer_manager *m, const char *status) {
  kefo_error_info info;
  char msg[700];

  if (status && strcmp(status, "ACTIVE") == 0) {
    ready(m);
    return;
  }
  if (status && strcmp(status, "DELETING") == 0 &&
      m->lifecycle == KEFO_EFO_JOB_MANAGED) {
    m->step = STEP_WAIT_DELETED;
  } else {
    m->step = STEP_POLL_ACTIVE;
  }
  if (poll_later(m)) {
    return;
  }
  memset(&info, 0, sizeof(info));
  snprintf(msg, sizeof(msg),
           "consumer %s is still %s after %u DescribeStreamConsumer calls",
           m->consumer_arn[0] ? m->consumer_arn : m->consumer_name,
           status ? status : "(no status)", m->describe_calls);
  info.code = KEFO_ERR_TIMEOUT;
  info.operation = "DescribeStreamConsumer";
  info.message = msg;
  fail_start(m, KEFO_ERR_TIMEOUT, &info);
}

/* DescribeStreamSummary's answer: the stream's ARN. */
static void on_stream_resolved(kefo_consumer_manager *m, int error,
                               const cJSON *resp, const kefo_error_info *info) {
  const cJSON *s;

  if (error) {
    fail_start(m, error, info);
    return;
  }
  s = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(resp, "StreamDescriptionSummary"),
      "StreamARN");
  if (!cJSON_IsString(s) ||
      copy(m->stream_arn, sizeof(m->stream_arn), s->valuestring) != 0) {
    bad_response(m, "DescribeStreamSummary");
    return;
  }
  m->step = step_after_stream(m);
  next_step(m);
}

static void on_registered(kefo_consumer_manager *m, int error,
                          const cJSON *resp, const kefo_error_info *info) {
  if (is_aws(error, info, "ResourceInUseException")) {
    /* The consumer exists already: reuse it. */
    m->step = STEP_DESCRIBE_BY_NAME;
    next_step(m);
    return;
  }
  if (error) {
    fail_start(m, error, info);
    return;
  }
  if (take_consumer_arn(m, resp, "Consumer") != 0) {
    bad_response(m, "RegisterStreamConsumer");
    return;
  }
  m->registered = 1;
  on_status(m, consumer_status(resp, "Consumer"));
}

/* DescribeStreamConsumer's answer, asked by name, while waiting for the
   consumer to be ACTIVE, or for an old one to be gone. */
static void on_described(kefo_consumer_manager *m, int error, const cJSON *resp,
                         const kefo_error_info *info) {
  const cJSON *s;

  if (m->step == STEP_WAIT_DELETED &&
      is_aws(error, info, "ResourceNotFoundException")) {
    m->consumer_arn[0] = '\0';
    m->step = STEP_REGISTER;
    next_step(m);
    return;
  }
  if (error) {
    fail_start(m, error, info);
    return;
  }
  if (m->step == STEP_DESCRIBE_BY_NAME &&
      take_consumer_arn(m, resp, "ConsumerDescription") != 0) {
    bad_response(m, "DescribeStreamConsumer");
    return;
  }
  s = cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(resp, "ConsumerDescription"),
      "StreamARN");
  if (cJSON_IsString(s) && check_consumer_stream(m, s->valuestring) != 0) {
    return;
  }
  on_status(m, consumer_status(resp, "ConsumerDescription"));
}

/* Stopping: DescribeStreamConsumer's answer after the deregistration. */
static void on_wait_gone(kefo_consumer_manager *m, int error,
                         const kefo_error_info *info) {
  struct timeval tv = {0, 200000};

  if (is_aws(error, info, "ResourceNotFoundException")) {
    done(m, 0, NULL);
    return;
  }
  if (error) {
    done(m, error, info);
    return;
  }
  /* Still there: poll again (the stop's deadline timer ends it). */
  event_add(m->timer, &tv);
}

static void on_answer(int error, const cJSON *resp, const kefo_error_info *info,
                      void *ud) {
  kefo_consumer_manager *m = ud;

  m->call = NULL;
  switch (m->step) {
  case STEP_RESOLVE_STREAM:
    on_stream_resolved(m, error, resp, info);
    return;
  case STEP_REGISTER:
    on_registered(m, error, resp, info);
    return;
  case STEP_DESCRIBE_BY_NAME:
  case STEP_POLL_ACTIVE:
  case STEP_WAIT_DELETED:
    on_described(m, error, resp, info);
    return;
  case STEP_DEREGISTER:
    if (error && !is_aws(error, info, "ResourceNotFoundException")) {
      done(m, error, info);
      return;
    }
    m->step = STEP_WAIT_GONE;
    next_step(m);
    return;
  case STEP_WAIT_GONE:
    on_wait_gone(m, error, info);
    return;
  default:
    return;
  }
}

/* Issues the call the current step needs. */
static void next_step(kefo_consumer_manager *m) {
  cJSON *body = cJSON_CreateObject();
  const char *op = NULL;
  const kefo_retry_strategy *rs = &m->retry;
  int ok = body != NULL, rv;

  switch (m->step) {
  case STEP_READY:
    cJSON_Delete(body);
    ready(m);
    return;
  case STEP_RESOLVE_STREAM:
    op = "DescribeStreamSummary";
    ok =
        ok && (m->stream_name[0]
                   ? cJSON_AddStringToObject(body, "StreamName", m->stream_name)
                   : cJSON_AddStringToObject(body, "StreamARN", m->stream_arn));
    break;
  case STEP_REGISTER:
    op = "RegisterStreamConsumer";
    ok = ok && cJSON_AddStringToObject(body, "StreamARN", m->stream_arn) &&
         cJSON_AddStringToObject(body, "ConsumerName", m->consumer_name);
    break;
  case STEP_DESCRIBE_BY_NAME:
    op = "DescribeStreamConsumer";
    rs = &m->describe_retry;
    ok = ok && cJSON_AddStringToObject(body, "StreamARN", m->stream_arn) &&
         cJSON_AddStringToObject(body, "ConsumerName", m->consumer_name);
    break;
  case STEP_POLL_ACTIVE:
  case STEP_WAIT_DELETED:
  case STEP_WAIT_GONE:
    if (m->step == STEP_POLL_ACTIVE && m->describe_calls == 0 &&
        check_consumer_stream(m, NULL) != 0) {
      cJSON_Delete(body);
      return; /* a self-managed consumer of another stream */
    }
    op = "DescribeStreamConsumer";
    rs = &m->describe_retry;
    if (m->consumer_arn[0]) {
      ok = ok && cJSON_AddStringToObject(body, "ConsumerARN", m->consumer_arn);
    } else {
      ok = ok && cJSON_AddStringToObject(body, "StreamARN", m->stream_arn) &&
           cJSON_AddStringToObject(body, "ConsumerName", m->consumer_name);
    }
    break;
  case STEP_DEREGISTER:
    op = "DeregisterStreamConsumer";
    ok = ok && cJSON_AddStringToObject(body, "ConsumerARN", m->consumer_arn);
    break;
  default:
    cJSON_Delete(body);
    return;
  }
  if (strcmp(op, "DescribeStreamConsumer") == 0) {
    ++m->describe_calls;
  }
  rv = ok ? kefo__aws_call_start(m->client, m->svc, op, body, rs, on_answer, m,
                                 &m->call)
          : KEFO_ERR_NOMEM;
  cJSON_Delete(body);
  if (rv != 0) {
    kefo_error_info info;
    memset(&info, 0, sizeof(info));
    info.code = rv;
    info.operation = op;
    info.message = "cannot start the call";
    if (m->step >= STEP_DEREGISTER) {
      done(m, rv, &info);
    } else {
      fail_start(m, rv, &info);
    }
  }
}

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
  kefo_consumer_manager *m = arg;

  (void)fd;
  (void)what;
  if (m->step == STEP_DONE) {
    done(m, 0, NULL);
    return;
  }
  next_step(m);
}

int kefo__consumer_manager_start(kefo_aws_client *client,
                                 const kefo_aws_service *svc,
                                 const kefo_consumer_manager_options *opts,
                                 kefo_consumer_manager_ready_cb cb,
                                 void *user_data, kefo_consumer_manager **out) {
  kefo_consumer_manager *m;
  const kefo_mem *mem;

  if (client == NULL || svc == NULL || opts == NULL || cb == NULL ||
      out == NULL ||
      (opts->stream_arn == NULL) == (opts->stream_name == NULL) ||
      (opts->lifecycle == KEFO_EFO_JOB_MANAGED &&
       (opts->consumer_name == NULL || !opts->consumer_name[0])) ||
      (opts->lifecycle == KEFO_EFO_SELF_MANAGED &&
       (opts->consumer_arn == NULL || !opts->consumer_arn[0]))) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__aws_client_mem(client);
  m = kefo__mem_calloc(mem, 1, sizeof(*m));
  if (m == NULL) {
    return KEFO_ERR_NOMEM;
  }
  m->client = client;
  m->svc = svc;
  m->lifecycle = opts->lifecycle;
  m->retry = opts->retry;
  m->describe_retry = opts->describe_retry;
  m->deregister_timeout_ms = opts->deregister_timeout_ms;
  m->ready_cb = cb;
  m->ready_ud = user_data;
  if (copy(m->stream_arn, sizeof(m->stream_arn), opts->stream_arn) != 0 ||
      copy(m->stream_name, sizeof(m->stream_name), opts->stream_name) != 0 ||
      copy(m->consumer_name, sizeof(m->consumer_name), opts->consumer_name) !=
          0 ||
      copy(m->consumer_arn, sizeof(m->consumer_arn), opts->consumer_arn) != 0) {
    kefo__mem_free(mem, m);
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  m->timer = event_new(kefo__aws_client_base(client), -1, 0, timer_cb, m);
  if (m->timer == NULL) {
    kefo__mem_free(mem, m);
    return KEFO_ERR_NOMEM;
  }
  /* The polling reader, given an ARN, asks for the stream too: no other
     call of its start would find a stream that does not exist, and
     ListShards failing every discovery interval is no way to say so. */
  if (m->stream_name[0] || m->lifecycle == KEFO_EFO_NO_CONSUMER) {
    m->step = STEP_RESOLVE_STREAM;
  } else {
    m->step = step_after_stream(m);
  }
  *out = m;
  {
    /* The first step from the loop, so that |cb| never runs inside this
       call, even for an error found without asking AWS. */
    struct timeval tv = {0, 0};
    event_add(m->timer, &tv);
  }
  return 0;
}

static void on_stop_deadline(evutil_socket_t fd, short what, void *arg) {
  kefo_consumer_manager *m = arg;
  kefo_error_info t;
  char msg[700];

  (void)fd;
  (void)what;
  if (m->step == STEP_DONE || m->done_cb == NULL) {
    return;
  }
  kefo__aws_call_cancel(m->call);
  m->call = NULL;
  event_del(m->timer);
  memset(&t, 0, sizeof(t));
  snprintf(msg, sizeof(msg),
           "consumer %s not deregistered (or not yet gone) within %u ms "
           "(source.efo.deregister.timeout); it may be left registered",
           m->consumer_arn, m->deregister_timeout_ms);
  t.code = KEFO_ERR_TIMEOUT;
  t.operation = "DeregisterStreamConsumer";
  t.message = msg;
  done(m, KEFO_ERR_TIMEOUT, &t);
}

int kefo__consumer_manager_stop(kefo_consumer_manager *m,
                                kefo_consumer_manager_done_cb cb,
                                void *user_data) {
  struct timeval tv = {0, 0};

  kefo__aws_call_cancel(m->call);
  m->call = NULL;
  event_del(m->timer);
  m->ready_cb = NULL;
  m->done_cb = cb;
  m->done_ud = user_data;
  if (m->lifecycle != KEFO_EFO_JOB_MANAGED || !m->consumer_arn[0]) {
    /* Nothing of ours to remove; answer from the loop all the same. */
    m->step = STEP_DONE;
    event_add(m->timer, &tv);
    return 0;
  }
  m->step = STEP_DEREGISTER;
  event_add(m->timer, &tv);
  if (m->deadline == NULL) {
    m->deadline = evtimer_new(event_get_base(m->timer), on_stop_deadline, m);
  }
  if (m->deadline) {
    struct timeval dl;
    kefo__timeval_ms(&dl, m->deregister_timeout_ms);
    event_add(m->deadline, &dl);
  }
  return 0;
}

void kefo__consumer_manager_abort(kefo_consumer_manager *m) {
  if (m == NULL) {
    return;
  }
  kefo__aws_call_cancel(m->call);
  m->call = NULL;
  event_del(m->timer);
  if (m->deadline) {
    event_del(m->deadline);
  }
  m->done_cb = NULL;
  m->step = STEP_DONE;
}

void kefo__consumer_manager_del(kefo_consumer_manager *m) {
  if (m == NULL) {
    return;
  }
  kefo__aws_call_cancel(m->call);
  if (m->timer) {
    event_free(m->timer);
  }
  if (m->deadline) {
    event_free(m->deadline);
  }
  kefo__mem_free(kefo__aws_client_mem(m->client), m);
}

int kefo__consumer_manager_registered(const kefo_consumer_manager *m) {
  return m != NULL && m->registered && m->consumer_arn[0];
}

uint32_t kefo__consumer_manager_describe_calls(const kefo_consumer_manager *m) {
  return m->describe_calls;
}
