/*
 * kefo-put: writes records to a Kinesis stream with PutRecords, up to 500
 * records and 5 MiB a call, retrying only the entries a call reports as
 * failed (throttled, internal failure) with backoff. Records are stdin's
 * lines, or generated (--count, --rate, --duration) with a given size and
 * partition keys spread over many values or fixed. Used by the
 * quickstart, the tests and the benchmarks.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <openssl/rand.h>

#include <kefo/kefo.h>
#include <kefo/kefover.h>

#include "aws/aws_client.h"
#include "base/base64.h"
#include "aws/region.h"

#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
/* parse_args' and set_up_aws' "no status yet": go on. */
#define CARRY_ON (-1)

/* PutRecords' limits. */
#define MAX_BATCH_RECORDS 500
#define MAX_BATCH_BYTES (5u << 20)
#define MAX_RECORD_BYTES (1u << 20)
/* How often an entry is sent again before kefo-put gives up on it. */
#define MAX_ENTRY_ATTEMPTS 10
/* A person waits at a terminal: a call that fails as a whole (refused
   connections, 5xx answers, timeouts) is tried 10 times, as kefo-reader's
   calls are, not the library's 50 (Flink's default: minutes against a
   closed port with the HTTP client's reconnect backoff). */
#define MAX_CALL_ATTEMPTS 10
/* And whatever its attempts meet, a call has this long to succeed: a
   server that accepts and never answers costs 30 s an attempt (the HTTP
   client's response deadline), so attempts alone bound nothing useful.
   No single attempt may take longer anyway. */
#define CALL_DEADLINE_S 30
#define TICK_MS 100

typedef struct entry {
  char *pk;
  uint8_t *data;
  size_t len;
  int attempts;
} entry;

typedef struct put_state {
  struct event_base *base;
  kefo_aws_client *aws;
  kefo_aws_service svc;
  kefo_retry_strategy retry;
  const char *url;
  /* From the command line (NULL: the defaults), and what they resolve
     to. */
  const char *region_arg, *endpoint_arg;
  char region[KEFO_REGION_MAX], url_buf[KEFO_ENDPOINT_URL_MAX];
  kefo_http_client *http;
  kefo_credentials_provider *creds;
  struct event *sigint, *sigterm;
  /* The call in flight, and the timer that gives up on it. */
  kefo_aws_call *call;
  struct event *deadline;
  const char *stream, *stream_arn;
  /* Waiting to be sent (failed entries first), and the batch in flight. */
  entry *queue;
  size_t nqueue, cap;
  size_t inflight;
  int busy;
  /* Input. */
  int from_stdin, stdin_eof;
  char *line;
  size_t line_len, line_cap;
  /* Generation. */
  long long count; /* records to generate; -1: until the duration ends */
  double rate;     /* records a second; 0: as fast as calls go */
  size_t size;     /* bytes a generated record */
  double duration; /* seconds; 0: none */
  const char *fixed_key;
  long long generated;
  double credit;
  struct timespec t0;
  struct event *tick;
  /* Outcome. */
  long long sent, bytes, failed, retried, calls;
  int stop, error;
  /* Signals received; the second one's number once it stopped us at
     once (the exit status is 128 + it). */
  int signals, killed_by;
  /* The last call was dropped unanswered: its records (the queue's first
     |inflight|) may have been written. */
  int abandoned;
  int quiet;
} put_state;

static double since(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) +
         (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void usage(FILE *f) {
  fprintf(f,
          "Usage: kefo-put --stream NAME [OPTIONS] [< lines]\n"
          "Write records to a Kinesis stream with PutRecords (up to 500\n"
          "records and 5 MiB a call; only failed entries are sent again).\n"
          "Records are stdin's lines, or generated when --count, --rate or\n"
          "--duration is given.\n"
          "\n"
          "  --stream NAME        the stream (or --stream-arn ARN)\n"
          "  --region R           AWS region (else AWS_REGION, profile)\n"
          "  --endpoint URL       Kinesis endpoint (emulators: http://...)\n"
          "  --count N            generate N records\n"
          "  --rate R             at most R records a second\n"
          "  --duration S         generate for S seconds\n"
          "  --size B             bytes a generated record (default 100)\n"
          "  --partition-key K    every record's key (default: a random key\n"
          "                       a record, spreading over every shard)\n"
          "  --quiet              no summary on stderr\n"
          "  -h, --help, --version\n"
          "\n"
          "Credentials come from the usual places (environment, shared "
          "files,\nweb identity, container, instance metadata).\n"
          "A call that fails as a whole (endpoint refusing connections,\n"
          "server errors) is tried %d times, and given up after %d s in\n"
          "all, answer or not: an endpoint nobody listens on, or one that\n"
          "never answers, fails within about %d s, naming it.\n"
          "SIGINT or SIGTERM stops after the call in flight (which may\n"
          "take up to %d s); a second one stops at once, leaving that\n"
          "call's records perhaps written, perhaps not.\n"
          "Exit status: 0 every record written (generating: or stopped by\n"
          "one signal); 1 some could not be written (after %d attempts\n"
          "each) or a call failed; 2 usage error; 128+N stopped at once by\n"
          "a second signal N (130: SIGINT).\n",
          MAX_CALL_ATTEMPTS, CALL_DEADLINE_S, CALL_DEADLINE_S, CALL_DEADLINE_S,
          MAX_ENTRY_ATTEMPTS);
}

static int push(put_state *st, const char *pk, const uint8_t *data,
                size_t len) {
  entry *e;

  if (st->nqueue == st->cap) {
    size_t cap = st->cap * 2 + 1024;
    entry *nq = realloc(st->queue, cap * sizeof(*nq));
    if (nq == NULL) {
      return -1;
    }
    st->queue = nq;
    st->cap = cap;
  }
  e = &st->queue[st->nqueue];
  e->pk = strdup(pk);
  e->data = malloc(len ? len : 1);
  if (e->pk == NULL || e->data == NULL) {
    free(e->pk);
    free(e->data);
    return -1;
  }
  memcpy(e->data, data, len);
  e->len = len;
  e->attempts = 0;
  ++st->nqueue;
  return 0;
}

static void entry_free(entry *e) {
  free(e->pk);
  free(e->data);
}

/* A random partition key: 128 bits in hex, so records spread over every
   shard's hash range. */
static void random_key(char *out) {
  unsigned char r[16];
  int i;

  RAND_bytes(r, sizeof(r));
  for (i = 0; i < 16; ++i) {
    snprintf(out + 2 * i, 3, "%02x", r[i]);
  }
}

static int generate(put_state *st, long long n) {
  char pk[64];
  uint8_t *buf = malloc(st->size ? st->size : 1);
  long long i;
  int rv = 0;

  if (buf == NULL) {
    return -1;
  }
  for (i = 0; i < n && rv == 0; ++i) {
    int head;
    /* "kefo-put <n> " then filler, so a reader can check numbering. */
    head = snprintf((char *)buf, st->size, "kefo-put %lld ", st->generated);
    if (head > 0 && (size_t)head < st->size) {
      memset(buf + head, 'x', st->size - (size_t)head);
    }
    if (st->fixed_key) {
      snprintf(pk, sizeof(pk), "%s", st->fixed_key);
    } else {
      random_key(pk);
    }
    rv = push(st, pk, buf, st->size);
    ++st->generated;
  }
  free(buf);
  return rv;
}

static void send_batch(put_state *st);
static void read_stdin(put_state *st);

static void on_put(int error, const cJSON *resp, const kefo_error_info *info,
                   void *ud) {
  put_state *st = ud;
  const cJSON *r;
  size_t i = 0, keep = 0;

  st->busy = 0;
  st->call = NULL;
  evtimer_del(st->deadline);
  ++st->calls;
  if (error) {
    fprintf(stderr, "kefo-put: %s: %s\n", st->url,
            info && info->message && info->message[0] ? info->message
                                                      : kefo_strerror(error));
    st->error = 1;
    st->stop = 1;
    event_base_loopbreak(st->base);
    return;
  }
  /* Entries answer in order; those with an ErrorCode go back to the
     front of the queue, the rest are done. */
  cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(resp, "Records")) {
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(r, "ErrorCode");
    entry *e = &st->queue[i];
    if (i >= st->inflight) {
      break;
    }
    if (cJSON_IsString(code)) {
      if (++e->attempts >= MAX_ENTRY_ATTEMPTS) {
        fprintf(stderr, "kefo-put: a record failed %d times (%s); giving up\n",
                e->attempts, code->valuestring);
        ++st->failed;
        entry_free(e);
      } else {
        st->queue[keep++] = *e;
        ++st->retried;
      }
    } else {
      ++st->sent;
      st->bytes += (long long)e->len;
      entry_free(e);
    }
    ++i;
  }
  if (i != st->inflight) {
    fprintf(stderr, "kefo-put: PutRecords answered %zu of %zu entries\n", i,
            st->inflight);
    st->error = 1;
    st->stop = 1;
    event_base_loopbreak(st->base);
    return;
  }
  memmove(st->queue + keep, st->queue + st->inflight,
          (st->nqueue - st->inflight) * sizeof(*st->queue));
  st->nqueue -= st->inflight - keep;
  st->inflight = 0;
  if (keep > 0) {
    /* Throttled: wait a little before the retry (the tick sends). */
    return;
  }
  if (st->from_stdin) {
    read_stdin(st);
  }
  send_batch(st);
}

/* Sends the front of the queue, within PutRecords' limits. */
static void send_batch(put_state *st) {
  cJSON *body, *recs;
  size_t n = 0, bytes = 0;
  char *b64 = NULL;
  size_t b64cap = 0;

  if (st->busy || st->nqueue == 0) {
    return;
  }
  body = cJSON_CreateObject();
  if (st->stream_arn) {
    cJSON_AddStringToObject(body, "StreamARN", st->stream_arn);
  } else {
    cJSON_AddStringToObject(body, "StreamName", st->stream);
  }
  recs = cJSON_AddArrayToObject(body, "Records");
  while (n < st->nqueue && n < MAX_BATCH_RECORDS) {
    entry *e = &st->queue[n];
    size_t sz = e->len + strlen(e->pk), olen;
    cJSON *o;
    if (n > 0 && bytes + sz > MAX_BATCH_BYTES) {
      break;
    }
    if (b64cap < e->len / 3 * 4 + 8) {
      b64cap = e->len / 3 * 4 + 8;
      free(b64);
      b64 = malloc(b64cap);
    }
    kefo_base64_encode((uint8_t *)b64, b64cap, e->data, e->len, &olen);
    b64[olen] = 0;
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "PartitionKey", e->pk);
    cJSON_AddStringToObject(o, "Data", b64);
    cJSON_AddItemToArray(recs, o);
    bytes += sz;
    ++n;
  }
  free(b64);
  st->inflight = n;
  st->busy = 1;
  if (kefo_aws_call_start(st->aws, &st->svc, "PutRecords", body, &st->retry,
                          on_put, st, &st->call) != 0) {
    st->busy = 0;
    st->inflight = 0;
    st->call = NULL;
    st->error = 1;
    st->stop = 1;
    event_base_loopbreak(st->base);
  } else {
    struct timeval tv = {CALL_DEADLINE_S, 0};
    evtimer_add(st->deadline, &tv);
  }
  cJSON_Delete(body);
}

static int generating(const put_state *st) {
  return !st->from_stdin;
}

/* Nothing more will come: stdin ended, the count is reached, or the
   duration passed. */
static int input_done(put_state *st) {
  if (st->from_stdin) {
    return st->stdin_eof;
  }
  if (st->count >= 0 && st->generated >= st->count) {
    return 1;
  }
  return st->duration > 0 && since(&st->t0) >= st->duration;
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  put_state *st = arg;
  struct timeval tv = {0, TICK_MS * 1000};

  (void)fd;
  (void)what;
  if (st->from_stdin) {
    read_stdin(st);
  }
  if (generating(st) && !input_done(st) && !st->stop) {
    long long n;
    if (st->rate > 0) {
      st->credit += st->rate * TICK_MS / 1000.0;
      n = (long long)st->credit;
      st->credit -= (double)n;
    } else {
      /* As fast as calls go: keep two batches queued. */
      n = st->nqueue < 2 * MAX_BATCH_RECORDS
              ? 2 * MAX_BATCH_RECORDS - (long long)st->nqueue
              : 0;
    }
    if (st->count >= 0 && st->generated + n > st->count) {
      n = st->count - st->generated;
    }
    if (n > 0 && generate(st, n) != 0) {
      fprintf(stderr, "kefo-put: out of memory\n");
      st->error = 1;
      st->stop = 1;
    }
  }
  send_batch(st);
  if ((st->stop || input_done(st)) && st->nqueue == 0 && !st->busy) {
    event_base_loopbreak(st->base);
    return;
  }
  if (st->stop && !st->busy) {
    event_base_loopbreak(st->base);
    return;
  }
  evtimer_add(st->tick, &tv);
}

/* Takes |len| bytes of |buf| as a line's continuation; a newline ends
   the record. Returns 0 or -1 (reported). */
static int take_bytes(put_state *st, const char *buf, size_t len, int end) {
  char pk[64];

  if (st->line_len + len > MAX_RECORD_BYTES) {
    fprintf(stderr, "kefo-put: a line is longer than 1 MiB, the largest "
                    "Kinesis record\n");
    return -1;
  }
  if (st->line_len + len > st->line_cap) {
    char *nl = realloc(st->line, (st->line_len + len) * 2 + 64);
    if (nl == NULL) {
      return -1;
    }
    st->line = nl;
    st->line_cap = (st->line_len + len) * 2 + 64;
  }
  memcpy(st->line + st->line_len, buf, len);
  st->line_len += len;
  if (!end) {
    return 0;
  }
  if (st->fixed_key) {
    snprintf(pk, sizeof(pk), "%s", st->fixed_key);
  } else {
    random_key(pk);
  }
  {
    size_t n = st->line_len;
    st->line_len = 0;
    return push(st, pk, (uint8_t *)st->line, n) == 0 ? 0 : -1;
  }
}

/* Reads stdin (non-blocking) until two batches are queued, it would
   block, or it ends. */
static void read_stdin(put_state *st) {
  char buf[65536];

  while (!st->stdin_eof && !st->stop && st->nqueue < 2 * MAX_BATCH_RECORDS) {
    ssize_t got = read(0, buf, sizeof(buf));
    size_t i, start = 0;
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0 && errno == EAGAIN) {
      return;
    }
    if (got <= 0) {
      /* A last line without a newline is a record too. */
      if (st->line_len > 0 && take_bytes(st, "", 0, 1) != 0) {
        st->error = st->stop = 1;
      }
      st->stdin_eof = 1;
      return;
    }
    for (i = 0; i < (size_t)got; ++i) {
      if (buf[i] == '\n') {
        if (take_bytes(st, buf + start, i - start, 1) != 0) {
          st->error = st->stop = 1;
          return;
        }
        start = i + 1;
      }
    }
    if (take_bytes(st, buf + start, (size_t)got - start, 0) != 0) {
      st->error = st->stop = 1;
      return;
    }
  }
}

/* Ends the call in flight without its answer: its records stay at the
   front of the queue, written or not. */
static void abandon_call(put_state *st) {
  if (st->call != NULL) {
    kefo_aws_call_cancel(st->call);
    st->call = NULL;
    st->abandoned = 1;
  }
  evtimer_del(st->deadline);
  st->busy = 0;
}

static void on_deadline(evutil_socket_t fd, short what, void *arg) {
  put_state *st = arg;

  (void)fd;
  (void)what;
  abandon_call(st);
  fprintf(stderr,
          "kefo-put: %s: PutRecords: no success within %d s (every "
          "attempt failed or went unanswered); giving up\n",
          st->url, CALL_DEADLINE_S);
  st->error = 1;
  st->stop = 1;
  event_base_loopbreak(st->base);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  put_state *st = arg;

  (void)what;
  st->stop = 1;
  if (++st->signals == 1) {
    if (st->busy) {
      fprintf(stderr, "kefo-put: stopping after the call in flight (again "
                      "to stop at once)\n");
    }
    return;
  }
  /* Whatever the call waits for (a connection, a backoff, an answer),
     the person asked twice: drop it and leave the loop now. */
  st->killed_by = (int)sig;
  abandon_call(st);
  event_base_loopbreak(st->base);
}

static int number(const char *s, double *out) {
  char *end;

  errno = 0;
  *out = strtod(s, &end);
  return errno == 0 && end != s && *end == 0 && *out >= 0 ? 0 : -1;
}

/* --count, --rate, --duration and --size: numbers >= 0. */
static int number_flag(put_state *st, const char *a, const char *val) {
  double v;

  if (number(val, &v) != 0) {
    fprintf(stderr, "kefo-put: %s must be a number >= 0, not %s\n", a, val);
    return -1;
  }
  if (!strcmp(a, "--count")) {
    st->count = (long long)v;
  } else if (!strcmp(a, "--rate")) {
    st->rate = v;
  } else if (!strcmp(a, "--duration")) {
    st->duration = v;
  } else if (v < 1 || v > MAX_RECORD_BYTES) {
    fprintf(stderr, "kefo-put: --size must be 1 to %u bytes\n",
            MAX_RECORD_BYTES);
    return -1;
  } else {
    st->size = (size_t)v;
  }
  return 0;
}

/* Reads the command line into |st|. Returns CARRY_ON, or the status to
   exit with (--help and --version included). */
static int parse_args(put_state *st, int argc, char **argv) {
  int i;

  for (i = 1; i < argc; ++i) {
    const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return EXIT_OK;
    }
    if (!strcmp(a, "--version")) {
      printf("kefo-put %s\n", KEFO_VERSION);
      return EXIT_OK;
    }
    if (!strcmp(a, "--quiet")) {
      st->quiet = 1;
      continue;
    }
    if (strcmp(a, "--stream") && strcmp(a, "--stream-arn") &&
        strcmp(a, "--region") && strcmp(a, "--endpoint") &&
        strcmp(a, "--partition-key") && strcmp(a, "--count") &&
        strcmp(a, "--rate") && strcmp(a, "--duration") && strcmp(a, "--size")) {
      fprintf(stderr, "kefo-put: unknown option %s (see --help)\n", a);
      return EXIT_USAGE;
    }
    if (val == NULL) {
      fprintf(stderr, "kefo-put: %s needs a value (see --help)\n", a);
      return EXIT_USAGE;
    }
    ++i;
    if (!strcmp(a, "--stream")) {
      st->stream = val;
    } else if (!strcmp(a, "--stream-arn")) {
      st->stream_arn = val;
    } else if (!strcmp(a, "--region")) {
      st->region_arg = val;
    } else if (!strcmp(a, "--endpoint")) {
      st->endpoint_arg = val;
    } else if (!strcmp(a, "--partition-key")) {
      if (!val[0] || strlen(val) > 256) {
        fprintf(stderr, "kefo-put: --partition-key must have 1 to 256 "
                        "characters\n");
        return EXIT_USAGE;
      }
      st->fixed_key = val;
    } else if (number_flag(st, a, val) != 0) {
      return EXIT_USAGE;
    }
  }
  return CARRY_ON;
}

/* What the flags mean together: a stream, and where records come from. */
static int check_args(put_state *st) {
  if (!st->stream && !st->stream_arn) {
    fprintf(stderr, "kefo-put: name a stream with --stream (see --help)\n");
    return EXIT_USAGE;
  }
  st->from_stdin = st->count < 0 && st->rate == 0 && st->duration == 0;
  if (!st->from_stdin && st->count < 0 && st->duration == 0) {
    fprintf(stderr, "kefo-put: --rate needs --count or --duration\n");
    return EXIT_USAGE;
  }
  return CARRY_ON;
}

/* The region and endpoint, then the event loop, HTTP, credentials and
   the AWS client. Returns CARRY_ON, or the status to exit with. */
static int set_up_aws(put_state *st) {
  kefo_http_client_options hopts;
  kefo_credentials_options copts;
  kefo_credentials_transport transport;
  char err[512];

  if (kefo_region_resolve_default(st->region, st->region_arg, NULL, NULL, NULL,
                                  err, sizeof(err)) != 0 ||
      kefo_endpoint_resolve(st->url_buf, NULL, KEFO_SERVICE_KINESIS, st->region,
                            st->endpoint_arg, NULL, err, sizeof(err)) != 0 ||
      kefo_aws_service_kinesis(&st->svc, st->url_buf, st->region) != 0) {
    fprintf(stderr, "kefo-put: %s\n", err);
    return EXIT_USAGE;
  }
  st->url = st->url_buf;
  kefo_retry_default(&st->retry);
  st->retry.max_attempts = MAX_CALL_ATTEMPTS;
  st->base = event_base_new();
  kefo_http_client_options_init(&hopts);
  memset(&copts, 0, sizeof(copts));
  copts.base = st->base;
  copts.region = st->region;
  if (st->base == NULL ||
      kefo_http_client_new(&st->http, st->base, &hopts) != 0) {
    fprintf(stderr, "kefo-put: cannot set up HTTP\n");
    return EXIT_FAILED;
  }
  kefo_credentials_transport_client(&transport, st->http);
  copts.transport = transport;
  if (kefo_credentials_default_new(&st->creds, &copts) != 0 ||
      kefo_aws_client_new(&st->aws, st->base, st->http, st->creds, NULL,
                          NULL) != 0) {
    fprintf(stderr, "kefo-put: cannot set up the AWS client\n");
    return EXIT_FAILED;
  }
  return CARRY_ON;
}

/* Prints the run's totals and what may be lost, and returns the status
   to exit with. */
static int summary(const put_state *st) {
  int status;

  if (!st->quiet) {
    double secs = since(&st->t0);
    fprintf(stderr,
            "kefo-put: %lld records, %lld bytes in %.1f s (%.0f records/s) "
            "over %lld calls; %lld entries sent again, %lld given up\n",
            st->sent, st->bytes, secs, secs > 0 ? (double)st->sent / secs : 0.0,
            st->calls, st->retried, st->failed);
  }
  /* Interrupted: generated records not sent were never wanted; lines
     from stdin not sent are lost, and say so. A call dropped unanswered
     may have been written: say that too, rather than guess. */
  status = st->error || st->failed || (st->from_stdin && st->nqueue)
               ? EXIT_FAILED
               : EXIT_OK;
  if (st->killed_by) {
    status = 128 + st->killed_by;
  }
  if (st->abandoned && st->inflight) {
    fprintf(stderr,
            "kefo-put: a call dropped without its answer: its %zu %s%s "
            "may or may not have been written\n",
            st->inflight, st->from_stdin ? "line" : "record",
            st->inflight == 1 ? "" : "s");
  }
  if (st->from_stdin && st->nqueue > (st->abandoned ? st->inflight : 0)) {
    fprintf(stderr, "kefo-put: %zu lines not written\n",
            st->nqueue - (st->abandoned ? st->inflight : 0));
  }
  return status;
}

static void free_state(put_state *st) {
  size_t i;

  for (i = 0; i < st->nqueue; ++i) {
    entry_free(&st->queue[i]);
  }
  free(st->queue);
  free(st->line);
  event_free(st->tick);
  event_free(st->deadline);
  event_free(st->sigint);
  event_free(st->sigterm);
  kefo_aws_client_del(st->aws);
  kefo_credentials_provider_del(st->creds);
  kefo_http_client_del(st->http);
  event_base_free(st->base);
}

int main(int argc, char **argv) {
  put_state st;
  int status;

  memset(&st, 0, sizeof(st));
  st.count = -1;
  st.size = 100;
  signal(SIGPIPE, SIG_IGN);
  status = parse_args(&st, argc, argv);
  if (status == CARRY_ON) {
    status = check_args(&st);
  }
  if (status == CARRY_ON) {
    status = set_up_aws(&st);
  }
  if (status != CARRY_ON) {
    return status;
  }
  st.sigint = evsignal_new(st.base, SIGINT, on_signal, &st);
  st.sigterm = evsignal_new(st.base, SIGTERM, on_signal, &st);
  event_add(st.sigint, NULL);
  event_add(st.sigterm, NULL);
  if (st.from_stdin) {
    /* Read in the ticks, a pipe, a terminal or a file alike. */
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  }
  clock_gettime(CLOCK_MONOTONIC, &st.t0);
  st.tick = evtimer_new(st.base, on_tick, &st);
  st.deadline = evtimer_new(st.base, on_deadline, &st);
  event_active(st.tick, 0, 0);
  event_base_dispatch(st.base);
  status = summary(&st);
  free_state(&st);
  return status;
}
