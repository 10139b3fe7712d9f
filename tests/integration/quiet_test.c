/*
 * The library never writes to stdout or stderr itself (issue 24, item 5).
 * With descriptors 1 and 2 (and so the C streams stdout and stderr) sent
 * to a temporary file, consumers run through every error path of the
 * project's mock Kinesis server (started by tests/integration/quiet_test.sh):
 * each fault kind of the fault matrix, for both readers, and beside them an
 * unreachable endpoint, TLS to a plain port, a refused signature, an
 * unknown stream, configs that fail, a lease file that is a directory and
 * an on_records that fails. Nothing is printed while captured: what each
 * case saw (on_error, on_stopped) is kept in memory and printed once the
 * descriptors are back, with the bytes the capture received in that case,
 * which must be 0. A deliberate write to fd 2 first proves the capture
 * sees what it should. The consumers use only <kefo/kefo.h>; the test's
 * own calls to the mock (CreateStream, resharding, KefoMock.Fault and
 * Stats) go through kefo's internal AWS client, as the fault matrix's do.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include <kefo/kefo.h>

#include "aws/aws_client.h"
#include "tests/support/aws_test_util.h"

#define MAX_CASES 96
#define TARGET "shardId-000000000003"

static struct event_base *base;
static kefo_http_client *http;
static kefo_aws_client *aws;
static kefo_aws_service svc, ctl_svc;
static char mock_url[128];
static char stream[32];

/* ---- the capture -------------------------------------------------------- */

static int saved_out = -1, saved_err = -1, cap_fd = -1;
static char cap_path[] = "/tmp/kefo-quiet.XXXXXX";

static int capture_begin(void) {
  int fd;

  fflush(stdout);
  fflush(stderr);
  fd = mkstemp(cap_path);
  if (fd < 0) {
    return -1;
  }
  close(fd);
  /* O_APPEND: both descriptors share one offset at the end, so nothing
     one writes hides what the other wrote. */
  cap_fd = open(cap_path, O_WRONLY | O_APPEND);
  saved_out = dup(1);
  saved_err = dup(2);
  if (cap_fd < 0 || saved_out < 0 || saved_err < 0 || dup2(cap_fd, 1) < 0 ||
      dup2(cap_fd, 2) < 0) {
    return -1;
  }
  return 0;
}

/* Bytes written to fds 1 and 2 since the last reset. */
static long captured(char *text, size_t textlen) {
  struct stat sb;
  int rfd;
  ssize_t n = 0;

  /* Anything left in the C streams' buffers counts too. */
  fflush(stdout);
  fflush(stderr);
  if (fstat(cap_fd, &sb) != 0) {
    return -1;
  }
  if (text && textlen > 0) {
    rfd = open(cap_path, O_RDONLY);
    if (rfd >= 0) {
      n = read(rfd, text, textlen - 1);
      close(rfd);
    }
    text[n > 0 ? n : 0] = '\0';
  }
  return (long)sb.st_size;
}

static void capture_reset(void) {
  fflush(stdout);
  fflush(stderr);
  if (ftruncate(cap_fd, 0) != 0) {
    /* Seen as bytes left over in the next case. */
  }
}

static void capture_end(void) {
  fflush(stdout);
  fflush(stderr);
  dup2(saved_out, 1);
  dup2(saved_err, 2);
  close(saved_out);
  close(saved_err);
  close(cap_fd);
  unlink(cap_path);
}

/* ---- what each case saw ---------------------------------------------------
 */

typedef struct result {
  char name[96];
  char seen[1024]; /* what was exercised, in words */
  long bytes;      /* written to fds 1 and 2 during the case */
  char text[160];  /* the start of it */
  int exercised;   /* the error path was reached */
} result;

static result results[MAX_CASES];
static int nresults;
static int checks, failed_checks;
/* Failures are kept, never printed while captured. */
static char failures[8192];

#define CHECK(cond)                                                            \
  do {                                                                         \
    ++checks;                                                                  \
    if (!(cond)) {                                                             \
      size_t l_ = strlen(failures);                                            \
      ++failed_checks;                                                         \
      snprintf(failures + l_, sizeof(failures) - l_, "  line %d: %s\n",        \
               __LINE__, #cond);                                               \
    }                                                                          \
  } while (0)

static result *case_begin(const char *name) {
  result *r = &results[nresults < MAX_CASES - 1 ? nresults++ : nresults];
  memset(r, 0, sizeof(*r));
  snprintf(r->name, sizeof(r->name), "%s", name);
  capture_reset();
  return r;
}

static void case_end(result *r) {
  r->bytes = captured(r->text, sizeof(r->text));
  CHECK(r->bytes == 0);
  CHECK(r->exercised);
  capture_reset();
}

/* ---- a consumer's observer --------------------------------------------- */

typedef struct observer {
  long records;
  long target_records; /* from the shard the faults strike */
  int errors;
  int last_code;
  char last_error[200];
  char last_type[64];
  int resubscribed, finished, failed;
  int stopped;
  kefo_stop_reason reason;
  int stop_code;
  char stop_error[200];
  int fail_records; /* on_records returns non-zero */
  int want_code;    /* the error the running cell names, or 0 */
  int want_seen;    /* on_error calls with |want_code| */
} observer;

static int on_records(kefo_consumer *c, const char *shard, const kefo_record *r,
                      size_t n, int64_t behind, void *ud) {
  observer *o = ud;
  (void)c;
  (void)r;
  (void)behind;
  o->records += (long)n;
  if (strcmp(shard, TARGET) == 0) {
    o->target_records += (long)n;
  }
  return o->fail_records ? 1 : 0;
}

static void on_shard_event(kefo_consumer *c, const char *shard,
                           kefo_shard_event ev, void *ud) {
  observer *o = ud;
  (void)c;
  if (ev == KEFO_SHARD_EVENT_RESUBSCRIBED && strcmp(shard, TARGET) == 0) {
    ++o->resubscribed;
  } else if (ev == KEFO_SHARD_EVENT_FINISHED) {
    ++o->finished;
  } else if (ev == KEFO_SHARD_EVENT_FAILED) {
    ++o->failed;
  }
}

static void on_error(kefo_consumer *c, const kefo_error_info *e, void *ud) {
  observer *o = ud;
  (void)c;
  ++o->errors;
  if (o->want_code != 0 && e->code == o->want_code) {
    ++o->want_seen;
  }
  o->last_code = e->code;
  snprintf(o->last_error, sizeof(o->last_error), "%s", e->message);
  snprintf(o->last_type, sizeof(o->last_type), "%s",
           e->aws_type ? e->aws_type : "");
}

static void on_stopped(kefo_consumer *c, kefo_stop_reason reason,
                       const kefo_error_info *err, void *ud) {
  observer *o = ud;
  (void)c;
  ++o->stopped;
  o->reason = reason;
  if (err) {
    o->stop_code = err->code;
    snprintf(o->stop_error, sizeof(o->stop_error), "%s", err->message);
  }
}

static const char *reason_name(kefo_stop_reason r) {
  return r == KEFO_STOP_ASKED      ? "ASKED"
         : r == KEFO_STOP_ERROR    ? "ERROR"
         : r == KEFO_STOP_CALLBACK ? "CALLBACK"
                                   : "?";
}

/* A consumer of |cfg| on the test's loop, started. Returns 0 or the
   error of kefo_consumer_new2 / start. */
static int consumer_start(kefo_consumer **out, const kefo_config *cfg,
                          observer *o) {
  kefo_consumer_callbacks *cbs;
  int rv;

  if (kefo_consumer_callbacks_new(&cbs) != 0) {
    return KEFO_ERR_NOMEM;
  }
  kefo_consumer_callbacks_set_on_records(cbs, on_records);
  kefo_consumer_callbacks_set_on_shard_event(cbs, on_shard_event);
  kefo_consumer_callbacks_set_on_error(cbs, on_error);
  kefo_consumer_callbacks_set_on_stopped(cbs, on_stopped);
  rv = kefo_consumer_new2(out, cfg, cbs, o, base);
  kefo_consumer_callbacks_del(cbs);
  if (rv != 0) {
    *out = NULL;
    return rv;
  }
  rv = kefo_consumer_start(*out);
  return rv;
}

/* Sets |kv| (NULL-terminated pairs) on top of the test's usual config.
   Returns the config or NULL. */
static kefo_config *make_config(const char *url, const char *strm,
                                const char *reader, const char *const *kv) {
  kefo_config *cfg;
  size_t i;

  if (kefo_config_new(&cfg) != 0) {
    return NULL;
  }
  if (kefo_test_consumer_config(cfg, url, strm, reader, "kefo-quiet") != 0) {
    kefo_config_del(cfg);
    return NULL;
  }
  for (i = 0; kv && kv[i]; i += 2) {
    if (kefo_config_set(cfg, kv[i], kv[i + 1]) != 0) {
      CHECK(!"a config key of the test was refused");
      kefo_config_del(cfg);
      return NULL;
    }
  }
  return cfg;
}

static void run_ms(int ms) {
  int never = 0;
  kefo_test_run_until(base, &never, ms);
}

/* Stops |c| gracefully if it is not stopped, runs until on_stopped (at most
   |ms|), and frees it. */
static void consumer_finish(kefo_consumer *c, observer *o, int ms) {
  int i;

  if (!c) {
    return;
  }
  if (!kefo_consumer_stopped(c)) {
    kefo_consumer_stop(c, 1);
  }
  for (i = 0; i < ms / 10 && !o->stopped; ++i) {
    run_ms(10);
  }
  kefo_consumer_del(c);
}

/* ---- calls to the mock ------------------------------------------------ */

typedef struct answer {
  int done, error;
  cJSON *resp;
} answer;

static void on_answer(int error, const cJSON *resp, const kefo_error_info *info,
                      void *ud) {
  answer *a = ud;
  (void)info;
  a->done = 1;
  a->error = error;
  if (resp) {
    a->resp = cJSON_Duplicate(resp, 1);
  }
}

static cJSON *call_on(const kefo_aws_service *to, const char *op, cJSON *body) {
  answer a;

  memset(&a, 0, sizeof(a));
  kefo__aws_call_start(aws, to, op, body, NULL, on_answer, &a, NULL);
  cJSON_Delete(body);
  kefo_test_run_until(base, &a.done, 30000);
  if (a.error) {
    cJSON_Delete(a.resp);
    return NULL;
  }
  return a.resp;
}

/* The number of strikes the mock counted, or -1. */
static double fired(void) {
  cJSON *r = call_on(&ctl_svc, "Stats", cJSON_CreateObject());
  double n;

  if (!r) {
    return -1;
  }
  n = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(
      cJSON_GetObjectItemCaseSensitive(r, "Fault"), "Fired"));
  cJSON_Delete(r);
  return n;
}

/* ---- the fault cells ----------------------------------------------------- */

/* What shows that a cell's error path was taken. */
#define X_ERROR 1u  /* on_error fired */
#define X_RESUB 2u  /* the struck shard resubscribed (a new iterator) */
#define X_FINISH 4u /* a parent shard was read to its end */
#define X_STRUCK 8u /* only the server's count: the path reports nothing */

#define EFO 1u
#define POLL 2u

typedef struct cell {
  const char *name;
  const char *kind; /* NULL: resharding, |op| says which */
  const char *op;
  const char *then;
  const char *then_op;
  int count;
  int ms;
  unsigned expect;
  unsigned readers;
} cell;

static const cell cells[] = {
    {"drop mid-frame", "drop", NULL, NULL, NULL, 0, 0, X_ERROR, EFO | POLL},
    {"RST_STREAM", "rst-stream", NULL, NULL, NULL, 0, 0, X_ERROR, EFO | POLL},
    {"GOAWAY", "goaway", NULL, NULL, NULL, 0, 0, X_ERROR, EFO | POLL},
    {"stall 3 s", "stall", NULL, NULL, NULL, 0, 3000, X_ERROR | X_RESUB,
     EFO | POLL},
    {"slow 8 KB/s 2 s", "slow", NULL, NULL, NULL, 0, 2000, X_STRUCK,
     EFO | POLL},
    {"truncated", "truncate", NULL, NULL, NULL, 0, 0, X_ERROR, EFO | POLL},
    {"malformed JSON", "malformed-json", NULL, NULL, NULL, 0, 0, X_ERROR,
     EFO | POLL},
    {"oversized length", "oversized", NULL, NULL, NULL, 0, 0, X_ERROR,
     EFO | POLL},
    {"bad message CRC", "bad-message-crc", NULL, NULL, NULL, 0, 0, X_ERROR,
     EFO},
    {"bad prelude CRC", "bad-prelude-crc", NULL, NULL, NULL, 0, 0, X_ERROR,
     EFO},
    {"unknown event type", "unknown-event", NULL, NULL, NULL, 0, 0, X_STRUCK,
     EFO},
    {"subscription expires", "expire", NULL, NULL, NULL, 0, 0, X_RESUB, EFO},
    {"ResourceInUseException", "resource-in-use", NULL, NULL, NULL, 0, 0,
     X_ERROR, EFO},
    {"LimitExceededException", "limit-exceeded", NULL, NULL, NULL, 0, 0,
     X_ERROR, EFO | POLL},
    {"InternalFailure", "internal-failure", NULL, NULL, NULL, 0, 0, X_ERROR,
     EFO | POLL},
    {"KMSThrottlingException", "kms-throttling", NULL, NULL, NULL, 0, 0,
     X_ERROR, EFO | POLL},
    {"throttled x3", "expire", NULL, "throttle", NULL, 3, 0, X_ERROR, EFO},
    {"throttled x3", "throttle", NULL, NULL, NULL, 3, 0, X_ERROR, POLL},
    {"HTTP 503", "expire", NULL, "service-unavailable", NULL, 0, 0, X_ERROR,
     EFO},
    {"HTTP 503", "service-unavailable", NULL, NULL, NULL, 0, 0, X_ERROR, POLL},
    {"signature rejected", "expire", NULL, "bad-signature", NULL, 0, 0, X_ERROR,
     EFO},
    {"signature rejected", "bad-signature", NULL, NULL, NULL, 0, 0, X_ERROR,
     POLL},
    {"ExpiredTokenException", "expire", NULL, "expired-token", NULL, 0, 0,
     X_ERROR, EFO},
    {"ExpiredTokenException", "expired-token", NULL, NULL, NULL, 0, 0, X_ERROR,
     POLL},
    {"ExpiredIteratorException", "expired-iterator", NULL, NULL, NULL, 0, 0,
     X_RESUB, POLL},
    {"GetShardIterator fails after expiry", "expired-iterator", NULL,
     "internal-failure", "GetShardIterator", 0, 0, X_ERROR, POLL},
    {"ListShards throttled x3", "throttle", "ListShards", NULL, NULL, 3, 0,
     X_ERROR | X_STRUCK, EFO | POLL},
    {"ListShards malformed JSON", "malformed-json", "ListShards", NULL, NULL, 0,
     0, X_ERROR | X_STRUCK, EFO | POLL},
    {"shard split", NULL, "SplitShard", NULL, NULL, 0, 0, X_FINISH, EFO | POLL},
    {"shards merged", NULL, "MergeShards", NULL, NULL, 0, 0, X_FINISH,
     EFO | POLL},
};
#define NCELLS (sizeof(cells) / sizeof(cells[0]))

static int arm(const cell *c) {
  cJSON *b = cJSON_CreateObject(), *r;

  cJSON_AddStringToObject(b, "Kind", c->kind);
  cJSON_AddNumberToObject(b, "Count", c->then ? 1 : c->count ? c->count : 1);
  if (c->op) {
    cJSON_AddStringToObject(b, "Operation", c->op);
  } else {
    cJSON_AddStringToObject(b, "Shard", TARGET);
  }
  if (c->ms) {
    cJSON_AddNumberToObject(b, "Ms", c->ms);
  }
  if (c->then) {
    cJSON_AddStringToObject(b, "Then", c->then);
    cJSON_AddNumberToObject(b, "ThenCount", c->count ? c->count : 1);
    if (c->then_op) {
      cJSON_AddStringToObject(b, "ThenOperation", c->then_op);
    }
  }
  r = call_on(&ctl_svc, "Fault", b);
  cJSON_Delete(r);
  return r ? 0 : -1;
}

static void disarm(void) {
  cJSON *b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "Kind", "none");
  cJSON_Delete(call_on(&ctl_svc, "Fault", b));
}

static int reshard(const char *op) {
  cJSON *b = cJSON_CreateObject(), *r;

  cJSON_AddStringToObject(b, "StreamName", stream);
  if (strcmp(op, "SplitShard") == 0) {
    cJSON_AddStringToObject(b, "ShardToSplit", "shardId-000000000000");
    cJSON_AddStringToObject(b, "NewStartingHashKey",
                            "42535295865117307932921825928971026432");
  } else {
    cJSON_AddStringToObject(b, "ShardToMerge", "shardId-000000000001");
    cJSON_AddStringToObject(b, "AdjacentShardToMerge", "shardId-000000000002");
  }
  r = call_on(&svc, op, b);
  cJSON_Delete(r);
  return r ? 0 : -1;
}

static int64_t mono_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The error a cell must see reported, where "an error" is not enough: a
   truncated event-stream message (EFO) is reported as such, and a
   GetRecords body short of its content-length makes nghttp2 reset the
   stream. Any other error (a timeout, say) would be another path. */
static int want_code(const cell *c, unsigned me) {
  if (c->kind && strcmp(c->kind, "truncate") == 0) {
    return me == EFO ? KEFO_ERR_ES_TRUNCATED : KEFO_ERR_STREAM_RESET;
  }
  return 0;
}

/*
 * A fault with a duration outlives its cell, which ends once its effect
 * is seen: "slow" throttles the whole connection for |ms|, and the next
 * cell's subscription shares it. A fault struck there queues behind the
 * throttle, and the 2 s inactivity deadline (counted in whole events,
 * source.efo.subscription.timeout) drops the stream, as documented and
 * without an error, before the fault arrives: the next cell then sees
 * only the resubscription ("EFO: truncated" failed so, now and then).
 * So the window is waited out from |struck_ms|, then a record of the
 * struck shard, which shows its stream healthy again. Returns the ms from
 * the window's end to that record, or -1 if none came within 10 s.
 */
static int64_t settle(observer *o, int64_t struck_ms, int ms) {
  int64_t end = struck_ms + ms, t;
  long before;
  int i;

  while (mono_ms() < end) {
    run_ms(20);
  }
  before = o->target_records;
  for (i = 0; i < 500 && o->target_records == before; ++i) {
    run_ms(20);
  }
  t = mono_ms() - end;
  return o->target_records > before ? t : -1;
}

static void run_cell(const cell *c, const char *reader, unsigned me,
                     observer *o) {
  char name[96], after[64] = "";
  result *r;
  int errors0 = o->errors, resub0 = o->resubscribed, fin0 = o->finished, i;
  int strikes = (c->then ? 1 : 0) + (c->count ? c->count : 1), seen0;
  double f0, f = 0;
  int64_t struck_ms = 0, healthy_ms;
  unsigned got = 0;

  snprintf(name, sizeof(name), "%s: %s", reader, c->name);
  r = case_begin(name);
  o->last_error[0] = '\0';
  o->want_code = want_code(c, me);
  seen0 = o->want_seen;
  f0 = fired();
  if (c->kind) {
    CHECK(arm(c) == 0);
    for (i = 0; i < 300; ++i) {
      f = fired();
      if (f >= f0 + strikes) {
        break;
      }
      run_ms(50);
    }
    if (f >= f0 + strikes) {
      got |= X_STRUCK;
      struck_ms = mono_ms(); /* the strike was at or before this */
    }
  } else {
    CHECK(reshard(c->op) == 0);
  }
  /* What the consumer did about it, within 15 s. */
  for (i = 0; i < 750; ++i) {
    if (o->errors > errors0 && (!o->want_code || o->want_seen > seen0)) {
      got |= X_ERROR;
    }
    if (o->resubscribed > resub0) {
      got |= X_RESUB;
    }
    if (o->finished > fin0) {
      got |= X_FINISH;
    }
    if ((got & c->expect & ~X_STRUCK) ||
        ((c->expect & X_STRUCK) && (got & X_STRUCK) && i >= 50)) {
      break;
    }
    run_ms(20);
  }
  /* The rest of the recovery happens inside the capture too. */
  run_ms(300);
  disarm();
  if (c->ms && (got & X_STRUCK)) {
    healthy_ms = settle(o, struck_ms, c->ms);
    if (healthy_ms >= 0) {
      snprintf(after, sizeof(after), "; shard read again %lld ms after",
               (long long)healthy_ms);
    } else {
      snprintf(after, sizeof(after), "; shard not read again within 10 s");
    }
  }
  o->want_code = 0;
  r->exercised = (got & c->expect) != 0 && (!c->kind || (got & X_STRUCK));
  snprintf(r->seen, sizeof(r->seen),
           "struck %.0f/%d; on_error x%d%s%s; resubscribed %d; finished %d%s%s",
           c->kind ? f - f0 : 0, c->kind ? strikes : 0, o->errors - errors0,
           o->last_error[0] ? ", last: " : "", o->last_error,
           o->resubscribed - resub0, o->finished - fin0,
           o->failed ? "; a shard FAILED" : "", after);
  case_end(r);
}

static void fault_cells(const char *reader, unsigned me) {
  kefo_consumer *c = NULL;
  kefo_config *cfg;
  observer o;
  result *r;
  char name[96];
  cJSON *b;
  size_t i;
  int rv;
  const char *const extra[] = {"source.shard.discovery.interval",
                               "1s",
                               "source.efo.subscription.timeout",
                               "2s",
                               "aws.http.request-timeout",
                               "2s",
                               NULL};

  memset(&o, 0, sizeof(o));
  snprintf(stream, sizeof(stream), "quiet-%s", me == EFO ? "efo" : "polling");
  b = cJSON_CreateObject();
  cJSON_AddStringToObject(b, "StreamName", stream);
  cJSON_AddNumberToObject(b, "ShardCount", 4);
  cJSON_Delete(call_on(&svc, "CreateStream", b));

  snprintf(name, sizeof(name), "%s: start and read", reader);
  r = case_begin(name);
  cfg = make_config(mock_url, stream, reader, extra);
  rv = cfg ? consumer_start(&c, cfg, &o) : -1;
  kefo_config_del(cfg);
  CHECK(rv == 0);
  for (i = 0; rv == 0 && i < 1000 && o.records < 100; ++i) {
    run_ms(20);
  }
  r->exercised = o.records >= 100;
  snprintf(r->seen, sizeof(r->seen), "%ld records read", o.records);
  case_end(r);
  if (!r->exercised) {
    consumer_finish(c, &o, 5000);
    return;
  }
  for (i = 0; i < NCELLS; ++i) {
    if (cells[i].readers & me) {
      run_cell(&cells[i], reader, me, &o);
    }
  }
  snprintf(name, sizeof(name), "%s: graceful stop after the faults", reader);
  r = case_begin(name);
  consumer_finish(c, &o, 20000);
  r->exercised = o.stopped == 1 && o.reason == KEFO_STOP_ASKED;
  snprintf(r->seen, sizeof(r->seen),
           "on_stopped x%d %s; %ld records in all, %d errors in all, %d "
           "shards failed",
           o.stopped, reason_name(o.reason), o.records, o.errors, o.failed);
  case_end(r);
}

/* ---- the other error paths --------------------------------------------- */

/* Runs a consumer of |cfg| until it stops by itself (at most |ms|). */
static void run_to_stop(const char *name, kefo_config *cfg, int fail_records,
                        kefo_stop_reason want, int want_code, int ms) {
  kefo_consumer *c = NULL;
  observer o;
  result *r = case_begin(name);
  int rv, i;

  memset(&o, 0, sizeof(o));
  o.fail_records = fail_records;
  rv = cfg ? consumer_start(&c, cfg, &o) : -1;
  kefo_config_del(cfg);
  CHECK(rv == 0);
  for (i = 0; rv == 0 && i < ms / 20 && !o.stopped; ++i) {
    run_ms(20);
  }
  r->exercised = o.stopped == 1 && o.reason == want &&
                 (want_code == 0 || o.stop_code == want_code ||
                  o.last_code == want_code) &&
                 (want == KEFO_STOP_CALLBACK || o.errors > 0);
  snprintf(r->seen, sizeof(r->seen),
           "on_error x%d (last %s%s%.60s: %.200s); on_stopped x%d %s %.200s",
           o.errors, kefo_strerror(o.last_code), o.last_type[0] ? " " : "",
           o.last_type, o.last_error, o.stopped,
           o.stopped ? reason_name(o.reason) : "-", o.stop_error);
  consumer_finish(c, &o, 5000);
  case_end(r);
}

/* A loopback port nothing listens on. */
static int closed_port(void) {
  struct sockaddr_in a;
  socklen_t len = sizeof(a);
  int s = socket(AF_INET, SOCK_STREAM, 0), port = 1;

  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s >= 0 && bind(s, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      getsockname(s, (struct sockaddr *)&a, &len) == 0) {
    port = ntohs(a.sin_port);
  }
  if (s >= 0) {
    close(s);
  }
  return port;
}

static const char *const quick_retry[] = {"retry-strategy.attempts.max",
                                          "2",
                                          "retry-strategy.delay.min",
                                          "10ms",
                                          "retry-strategy.delay.max",
                                          "50ms",
                                          "aws.http.connect-timeout",
                                          "1s",
                                          "aws.http.request-timeout",
                                          "2s",
                                          NULL};

static void config_errors(void) {
  result *r = case_begin("config: invalid keys, values, files, rules");
  kefo_config *cfg = NULL;
  kefo_consumer *c = NULL;
  observer o;
  kefo_callbacks cb = {on_records, on_shard_event, on_error};
  char err[256];
  int a, b, d, e, f, g, h;

  memset(&o, 0, sizeof(o));
  kefo_config_new(&cfg);
  a = kefo_config_set(cfg, "source.reader.typ", "EFO");
  b = kefo_config_set2(cfg, "source.efo.lifecycle", "JOBMANAGED", err,
                       sizeof(err));
  d = kefo_config_load_file(cfg, "/nonexistent/kefo.conf");
  kefo_config_set(cfg, "source.stream.name", "quiet-efo");
  kefo_config_set(cfg, "source.stream.arn",
                  "arn:aws:kinesis:us-east-1:123456789012:stream/quiet-efo");
  e = kefo_config_validate(cfg, err, sizeof(err));
  /* Both a name and an ARN: kefo_consumer_new refuses the config. */
  f = kefo_consumer_new(&c, cfg, &cb, &o, base);
  {
    kefo_consumer_callbacks *cbs;
    kefo_consumer *c2 = NULL;
    kefo_consumer_callbacks_new(&cbs);
    kefo_consumer_callbacks_set_on_records(cbs, on_records);
    kefo_consumer_callbacks_set_on_error(cbs, on_error);
    g = kefo_consumer_new2(&c2, cfg, cbs, &o, base);
    kefo_consumer_callbacks_del(cbs);
    if (g == 0) {
      kefo_consumer_del(c2);
    }
  }
  kefo_config_del(cfg);
  /* A CA file that does not exist. */
  cfg = make_config("https://127.0.0.1:1", "quiet-efo", "EFO", NULL);
  kefo_config_set(cfg, "aws.ca.file", "/nonexistent/ca.pem");
  h = kefo_consumer_new(&c, cfg, &cb, &o, base);
  if (h == 0) {
    kefo_consumer_del(c);
  }
  kefo_config_del(cfg);
  r->exercised = a == KEFO_ERR_CONFIG && b == KEFO_ERR_CONFIG &&
                 d == KEFO_ERR_CONFIG && e == KEFO_ERR_CONFIG &&
                 f == KEFO_ERR_CONFIG && g == KEFO_ERR_CONFIG && h != 0;
  snprintf(
      r->seen, sizeof(r->seen),
      "set %d, set2 %d, load_file %d, validate %d (%.200s), consumer_new %d, "
      "consumer_new2 %d, missing CA file %d (%s)",
      a, b, d, e, err, f, g, h, kefo_strerror(h));
  case_end(r);
}

static void misuse(void) {
  result *r = case_begin("API misuse: start twice, bad checkpoint, pause");
  kefo_consumer *c = NULL;
  kefo_config *cfg = make_config(mock_url, "quiet-efo", "EFO", NULL);
  observer o;
  int a = -1, b = -1, d = -1, e = -1, i;

  memset(&o, 0, sizeof(o));
  if (cfg && consumer_start(&c, cfg, &o) == 0) {
    for (i = 0; i < 500 && o.records == 0; ++i) {
      run_ms(20);
    }
    a = kefo_consumer_start(c);
    b = kefo_checkpoint(c, "shardId-000000000000", "not-a-number", 0);
    d = kefo_checkpoint(c, "shardId-000000009999", "1", 0);
    e = kefo_shard_pause(c, "shardId-000000009999");
  }
  kefo_config_del(cfg);
  consumer_finish(c, &o, 10000);
  r->exercised = a == KEFO_ERR_INVALID_STATE &&
                 b == KEFO_ERR_INVALID_ARGUMENT &&
                 d == KEFO_ERR_INVALID_ARGUMENT &&
                 e == KEFO_ERR_INVALID_ARGUMENT && o.reason == KEFO_STOP_ASKED;
  snprintf(r->seen, sizeof(r->seen),
           "start again %d, malformed checkpoint %d, unknown shard checkpoint "
           "%d, pause unknown shard %d; %ld records; on_stopped %s",
           a, b, d, e, o.records, reason_name(o.reason));
  case_end(r);
}

static void other_cases(void) {
  char url[160], dir[] = "/tmp/kefo-quiet-lease.XXXXXX", file[160];
  kefo_config *cfg;

  snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
  run_to_stop("unreachable endpoint (connection refused)",
              make_config(url, "quiet-efo", "EFO", quick_retry), 0,
              KEFO_STOP_ERROR, 0, 30000);
  run_to_stop("unreachable endpoint, polling",
              make_config(url, "quiet-efo", "POLLING", quick_retry), 0,
              KEFO_STOP_ERROR, 0, 30000);
  run_to_stop("unknown stream",
              make_config(mock_url, "no-such-stream", "EFO", quick_retry), 0,
              KEFO_STOP_ERROR, 0, 30000);
  run_to_stop("unknown stream, polling",
              make_config(mock_url, "no-such-stream", "POLLING", quick_retry),
              0, KEFO_STOP_ERROR, 0, 30000);
  /* TLS spoken to the mock's plain HTTP/2 port. */
  snprintf(url, sizeof(url), "https://%s", mock_url + strlen("http://"));
  cfg = make_config(url, "quiet-efo", "EFO", quick_retry);
  run_to_stop("TLS to a plain HTTP port", cfg, 0, KEFO_STOP_ERROR, 0, 30000);
  /* The mock checks signatures with the test secret. */
  cfg = make_config(mock_url, "quiet-efo", "EFO", quick_retry);
  if (cfg) {
    kefo_config_set(cfg, "aws.credentials.provider.basic.secretkey",
                    "not-the-secret");
  }
  run_to_stop("signature refused (wrong secret)", cfg, 0, KEFO_STOP_ERROR, 0,
              30000);
  /* The lease file is a directory. */
  if (mkdtemp(dir)) {
    snprintf(file, sizeof(file), "%s/leases", dir);
    mkdir(file, 0700);
    cfg = make_config(mock_url, "quiet-efo", "EFO", quick_retry);
    if (cfg) {
      kefo_config_set(cfg, "source.lease.store", "file");
      kefo_config_set(cfg, "source.lease.file", file);
      kefo_config_set(cfg, "source.checkpoint.interval", "200ms");
    }
    run_to_stop("lease file is a directory", cfg, 0, KEFO_STOP_ERROR,
                KEFO_ERR_LEASE_STORE, 30000);
    rmdir(file);
    snprintf(file, sizeof(file), "%s/leases.lock", dir);
    unlink(file);
    rmdir(dir);
  }
  run_to_stop("on_records fails",
              make_config(mock_url, "quiet-efo", "EFO", NULL), 1,
              KEFO_STOP_CALLBACK, 0, 30000);
  config_errors();
  misuse();
}

int main(void) {
  result *self;
  char text[64];
  int i, rc;

  /* As kefo.h asks of an application. */
  signal(SIGPIPE, SIG_IGN);
  if (!getenv("MOCK_QUIET_PORT")) {
    printf("MOCK_QUIET_PORT is not set: run tests/integration/quiet_test.sh\n");
    return 77;
  }
  snprintf(mock_url, sizeof(mock_url), "http://127.0.0.1:%s",
           getenv("MOCK_QUIET_PORT"));
  base = event_base_new();
  kefo__aws_service_kinesis(&svc, mock_url, "us-east-1");
  ctl_svc = svc;
  ctl_svc.target_prefix = "KefoMock";
  if (!base || kefo__http_client_new(&http, base, NULL) != 0 ||
      kefo__aws_client_new(&aws, base, http, kefo_test_credentials(), NULL,
                           NULL) != 0) {
    printf("cannot set up the test's client\n");
    return 1;
  }
  if (capture_begin() != 0) {
    printf("cannot capture fds 1 and 2: %s\n", strerror(errno));
    return 1;
  }
  /* The self-check: a write to fd 2 inside the capture is seen. */
  self = case_begin("self-check: 17 bytes written to fd 2 on purpose");
  rc = (int)write(2, "kefo quiet check\n", 17);
  (void)rc;
  self->bytes = captured(text, sizeof(text));
  self->exercised =
      self->bytes == 17 && strcmp(text, "kefo quiet check\n") == 0;
  CHECK(self->exercised);
  snprintf(self->seen, sizeof(self->seen), "capture read back \"%.16s\"", text);
  capture_reset();
  CHECK(captured(NULL, 0) == 0);

  fault_cells("EFO", EFO);
  fault_cells("POLLING", POLL);
  other_cases();

  capture_end();
  for (i = 0; i < nresults; ++i) {
    const result *r = &results[i];
    int self_case = r == self;
    printf("%-4s %-55s bytes written: %ld%s%s%s\n     %s\n",
           (self_case ? r->exercised : r->exercised && r->bytes == 0) ? "ok"
                                                                      : "FAIL",
           r->name, r->bytes, r->bytes && !self_case ? " (\"" : "",
           r->bytes && !self_case ? r->text : "",
           r->bytes && !self_case ? "\")" : "", r->seen);
  }
  if (failed_checks) {
    printf("failed checks:\n%s", failures);
  }
  printf("%d cases; %d checks: %d passed, %d failed\n", nresults, checks,
         checks - failed_checks, failed_checks);
  kefo__aws_client_del(aws);
  kefo__http_client_del(http);
  event_base_free(base);
  return failed_checks ? 1 : 0;
}
