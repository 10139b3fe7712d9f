/*
 * kefo-put: writes records to a Kinesis stream through kefo_producer
 * (the library's public API: batching, KPL aggregation, rate limits and
 * retries are the producer's, none of them this tool's). Records are
 * stdin's lines, or generated (--count, --rate, --duration) with a given
 * size and partition keys spread over many values or fixed. Used by the
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

#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2
/* parse_args' "no status yet": go on. */
#define CARRY_ON (-1)

#define MAX_RECORD_BYTES (1u << 20)
#define MAX_SETS 64
/* A person waits at a terminal: calls that fail as a whole (refused
   connections, 5xx answers) are tried 10 times, as kefo-reader's are, not
   the library's 50. */
#define MAX_CALL_ATTEMPTS "10"
/* And whatever those attempts meet, records held must see progress (an
   acknowledgement) within this long: a server that accepts and never
   answers would otherwise cost 30 s an attempt. */
#define PROGRESS_DEADLINE_S 30
#define TICK_MS 100
/* Failures printed one by one before they are only counted. */
#define MAX_FAILURES_SHOWN 5

typedef struct put_state {
  struct event_base *base;
  kefo_producer *p;
  const char *url;
  const char *stream, *stream_arn, *region_arg, *endpoint_arg;
  const char *sets[MAX_SETS];
  int nsets;
  int aggregate;
  const char *fixed_key, *key_field, *stream_field;
  struct event *sigint, *sigterm, *tick;
  /* Input: stdin's bytes not yet put (a would-block leaves them here). */
  int from_stdin, stdin_eof;
  char *in;
  size_t in_len, in_cap;
  long long lineno;
  /* Generation. */
  long long count;   /* records to generate; -1: until the duration ends */
  double rate;       /* records a second; 0: as fast as the producer takes */
  size_t size;       /* bytes a generated record */
  double duration;   /* seconds; 0: none */
  double progress_s; /* --progress-timeout */
  long long generated;
  double credit;
  /* A generated record refused by a would-block, put again first. */
  int gen_pending;
  struct timespec t0;
  double last_progress;
  /* Outcome. */
  long long put, bytes, acked, failed, bad_lines;
  int blocked, stopping, stopped, error;
  /* Signals received; the second one's number once it stopped us at
     once (the exit status is 128 + it), and the records then in flight. */
  int signals, killed_by;
  unsigned long long in_flight_at_kill;
  int quiet;
  /* The last failure reason printed, and how many were. */
  char last_reason[256];
  int shown;
  /* Why kefo_producer_new failed, from the library's log (its return
     code alone does not say which setting is wrong). */
  char setup_error[512];
} put_state;

static double since(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) +
         (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void usage(FILE *f) {
  fprintf(
      f,
      "Usage: kefo-put --stream NAME [OPTIONS] [< lines]\n"
      "Write records to a Kinesis stream with kefo's producer (PutRecords\n"
      "calls of up to 500 records and 5 MiB; only failed entries are sent\n"
      "again). Records are stdin's lines, or generated when --count,\n"
      "--rate or --duration is given.\n"
      "\n"
      "  --stream NAME        the stream (or --stream-arn ARN)\n"
      "  --region R           AWS region (else the ARN's, AWS_REGION, "
      "profile)\n"
      "  --endpoint URL       Kinesis endpoint (emulators: http://...)\n"
      "  --count N            generate N records\n"
      "  --rate R             at most R records a second\n"
      "  --duration S         generate for S seconds\n"
      "  --size B             bytes a generated record (default 100)\n"
      "  --partition-key K    every record's key (default: a random key\n"
      "                       a record, spreading over every shard)\n"
      "  --partition-key-field F\n"
      "                       stdin's lines are JSON objects: each one's\n"
      "                       key is its top-level field F (a string, or a\n"
      "                       number as written); a line without it is\n"
      "                       reported with its number and skipped\n"
      "  --stream-field F     stdin's lines are JSON objects: each one goes\n"
      "                       to the stream its top-level field F names (a\n"
      "                       name or an ARN), or to --stream without it\n"
      "  --aggregate          pack records into KPL aggregates (kefo-reader,\n"
      "                       the KCL and Flink unpack them; other readers\n"
      "                       see one record holding many)\n"
      "  --set KEY=VALUE      a producer key of kefo-config(5), such as\n"
      "                       sink.ordered=true (repeatable)\n"
      "  --progress-timeout S give up after S seconds without a record\n"
      "                       written (default %d; a slow emulator)\n"
      "  --quiet              no summary on stderr\n"
      "  -h, --help, --version\n"
      "\n"
      "Credentials come from the usual places (environment, shared "
      "files,\nweb identity, container, instance metadata).\n"
      "Calls that fail as a whole (endpoint refusing connections, server\n"
      "errors) are tried %s times; and records held are given up after %d s\n"
      "in all without an acknowledgement, answer or not: an endpoint nobody\n"
      "listens on, or one that never answers, fails within about %d s,\n"
      "naming it.\n"
      "SIGINT or SIGTERM stops once the records held are written; a second\n"
      "one stops at once, leaving the records of calls in flight perhaps\n"
      "written, perhaps not.\n"
      "Exit status: 0 every record written (generating: or stopped by one\n"
      "signal); 1 some could not be written, or lines were skipped; 2 usage\n"
      "error; 128+N stopped at once by a second signal N (130: SIGINT).\n",
      PROGRESS_DEADLINE_S, MAX_CALL_ATTEMPTS, PROGRESS_DEADLINE_S,
      PROGRESS_DEADLINE_S);
}

/* ---- the producer's reports --------------------------------------------- */

static void on_ack(kefo_producer *p, void *ctx, const kefo_put_result *res,
                   void *ud) {
  put_state *st = ud;
  (void)p;
  (void)ctx;
  (void)res;
  ++st->acked;
  st->last_progress = since(&st->t0);
}

static void on_failure(kefo_producer *p, void *ctx, const kefo_error_info *err,
                       void *ud) {
  put_state *st = ud;
  (void)p;
  (void)ctx;
  /* Each different reason once, up to a few: a stream that cannot be
     listed fails every record for one reason. */
  ++st->failed;
  if (!st->killed_by && st->shown < MAX_FAILURES_SHOWN &&
      strncmp(st->last_reason, err->message, sizeof(st->last_reason) - 1)) {
    snprintf(st->last_reason, sizeof(st->last_reason), "%s", err->message);
    ++st->shown;
    fprintf(stderr, "kefo-put: %s: a record was not written: %s\n", st->url,
            err->message);
  }
}

/* kefo's log hook, errors only: what kefo_producer_new says is wrong
   is kept for its message; a running producer's failures come through
   on_failure and on_stopped, with the records they concern. */
static void on_log(kefo_log_level level, const char *event, const char *shard,
                   const char *message, void *ud) {
  put_state *st = ud;

  (void)event;
  (void)shard;
  if (level == KEFO_LOG_ERROR && st->p == NULL) {
    snprintf(st->setup_error, sizeof(st->setup_error), "%s", message);
  }
}

static void on_writable(kefo_producer *p, void *ud) {
  put_state *st = ud;
  (void)p;
  st->blocked = 0;
  event_active(st->tick, 0, 0);
}

static void on_stopped(kefo_producer *p, const kefo_error_info *err, void *ud) {
  put_state *st = ud;
  (void)p;
  st->stopped = 1;
  if (err) {
    fprintf(stderr, "kefo-put: %s: %s\n", st->url,
            err->message && err->message[0] ? err->message
                                            : kefo_strerror(err->code));
    st->error = 1;
  }
  event_base_loopbreak(st->base);
}

/* ---- records --------------------------------------------------------------
 */

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

/* Puts one record; returns 0, 1 when the producer is full (the record
   was not taken), or -1 (reported). */
static int put_one(put_state *st, const char *to, const char *pk,
                   const void *data, size_t len) {
  int rv = kefo_producer_put_to(st->p, to, pk, NULL, data, len, NULL);

  if (rv == KEFO_ERR_WOULD_BLOCK) {
    st->blocked = 1;
    return 1;
  }
  if (rv == KEFO_ERR_INVALID_ARGUMENT && to != NULL) {
    /* A line's own stream the producer refuses: that line is bad, not
       the run (the next lines may name good streams). */
    if (++st->bad_lines <= MAX_FAILURES_SHOWN) {
      fprintf(stderr,
              "kefo-put: line %lld: stream \"%.200s\" refused (not a stream "
              "name or a stream's ARN); skipped\n",
              st->lineno, to);
    }
    return 0;
  }
  if (rv != 0) {
    fprintf(stderr, "kefo-put: cannot put a record: %s\n", kefo_strerror(rv));
    st->error = 1;
    return -1;
  }
  ++st->put;
  st->bytes += (long long)len;
  return 0;
}

/* The partition key of a JSON line |j| (parsed; NULL if it is not JSON):
   its field |st->key_field|, a string or a number as written. Returns 0,
   or -1 (reported: the line is skipped). */
static int key_of_line(put_state *st, const cJSON *j, char *pk, size_t cap) {
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, st->key_field);
  int ok = 0;

  if (cJSON_IsString(f) && f->valuestring[0] && strlen(f->valuestring) < cap) {
    snprintf(pk, cap, "%s", f->valuestring);
    ok = 1;
  } else if (cJSON_IsNumber(f)) {
    char *t = cJSON_PrintUnformatted(f);
    ok = t && strlen(t) < cap;
    if (ok) {
      snprintf(pk, cap, "%s", t);
    }
    cJSON_free(t);
  }
  if (!ok && ++st->bad_lines <= MAX_FAILURES_SHOWN) {
    fprintf(stderr,
            "kefo-put: line %lld: %s \"%s\" (1 to 256 characters); "
            "skipped\n",
            st->lineno,
            cJSON_IsObject(j) ? "no string or number field"
                              : "not a JSON object with a field",
            st->key_field);
  }
  return ok ? 0 : -1;
}

/* The stream of a JSON line |j| (parsed; NULL if it is not JSON): its
   field |st->stream_field|, a string naming a stream or its ARN, into
   |*to|; without the field, --stream's (|*to| NULL). Returns 0, or -1
   (reported: the line is skipped). */
static int stream_of_line(put_state *st, const cJSON *j, const char **to) {
  const cJSON *f = cJSON_GetObjectItemCaseSensitive(j, st->stream_field);

  *to = NULL;
  if (f == NULL && cJSON_IsObject(j)) {
    return 0;
  }
  if (cJSON_IsString(f) && f->valuestring[0] &&
      strlen(f->valuestring) <= 2048) {
    *to = f->valuestring;
    return 0;
  }
  if (++st->bad_lines <= MAX_FAILURES_SHOWN) {
    fprintf(stderr,
            "kefo-put: line %lld: %s \"%s\" (1 to 2048 characters); "
            "skipped\n",
            st->lineno,
            cJSON_IsObject(j) ? "no string in the stream field"
                              : "not a JSON object with a field",
            st->stream_field);
  }
  return -1;
}

/* Puts the line of |len| bytes at |line|; returns as put_one (a skipped
   line counts as put: 0). */
static int put_line(put_state *st, const char *line, size_t len) {
  const char *to = NULL;
  cJSON *j = NULL;
  char pk[300];
  int rv;

  if (len > MAX_RECORD_BYTES) {
    fprintf(stderr,
            "kefo-put: line %lld is longer than 1 MiB, the largest "
            "Kinesis record\n",
            st->lineno);
    st->error = 1;
    return -1;
  }
  /* Parsed once for both fields. */
  if (st->key_field || st->stream_field) {
    j = cJSON_ParseWithLength(line, len);
  }
  if ((st->key_field && key_of_line(st, j, pk, 257) != 0) ||
      (st->stream_field && stream_of_line(st, j, &to) != 0)) {
    cJSON_Delete(j);
    return 0;
  }
  if (st->fixed_key) { /* else pk is the line's field, or random */
    snprintf(pk, sizeof(pk), "%s", st->fixed_key);
  } else if (!st->key_field) {
    random_key(pk);
  }
  rv = put_one(st, to, pk, line, len);
  cJSON_Delete(j);
  return rv;
}

/* Puts the whole lines held in st->in (the last one too at the end of
   stdin), keeping what is left when the producer is full. */
static int put_lines(put_state *st) {
  size_t start = 0;
  int rv = 0;

  while (start < st->in_len) {
    char *nl = memchr(st->in + start, '\n', st->in_len - start);
    size_t end = nl ? (size_t)(nl - st->in) : st->in_len;
    if (nl == NULL && !st->stdin_eof) {
      if (st->in_len - start > MAX_RECORD_BYTES) {
        ++st->lineno;
        rv = put_line(st, st->in + start, st->in_len - start);
      }
      break; /* the rest of the line has yet to come */
    }
    ++st->lineno;
    rv = put_line(st, st->in + start, end - start);
    if (rv != 0) {
      --st->lineno; /* not taken: counted again when it is */
      break;
    }
    start = nl ? end + 1 : st->in_len;
  }
  memmove(st->in, st->in + start, st->in_len - start);
  st->in_len -= start;
  return rv < 0 ? -1 : 0;
}

/* Reads stdin (non-blocking: a pipe, a terminal or a file alike) and
   puts its lines until the producer is full, stdin would block or it
   ends. */
static void read_stdin(put_state *st) {
  while (!st->stdin_eof && !st->blocked && !st->stopping) {
    ssize_t got;
    if (st->in_cap - st->in_len < 65536) {
      size_t cap = st->in_cap * 2 + 65536;
      char *n = realloc(st->in, cap);
      if (n == NULL) {
        fprintf(stderr, "kefo-put: out of memory\n");
        st->error = 1;
        return;
      }
      st->in = n;
      st->in_cap = cap;
    }
    got = read(0, st->in + st->in_len, 65536);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0 && errno == EAGAIN) {
      return;
    }
    if (got <= 0) {
      st->stdin_eof = 1;
    } else {
      st->in_len += (size_t)got;
    }
    if (put_lines(st) != 0) {
      return;
    }
  }
  if (!st->blocked && st->in_len) {
    put_lines(st);
  }
}

/* Generates what is due: at --rate, or as much as the producer takes. */
static void generate(put_state *st) {
  char pk[64];
  uint8_t *buf = malloc(st->size ? st->size : 1);
  long long n;

  if (buf == NULL) {
    st->error = 1;
    return;
  }
  if (st->rate > 0) {
    st->credit += st->rate * TICK_MS / 1000.0;
    n = (long long)st->credit;
    st->credit -= (double)n;
    n += st->gen_pending;
  } else {
    n = 1LL << 40; /* until the producer is full */
  }
  if (st->count >= 0 && st->generated + n > st->count) {
    n = st->count - st->generated;
  }
  for (; n > 0 && !st->blocked; --n) {
    /* "kefo-put <n> " then filler, so a reader can check numbering. */
    int head = snprintf((char *)buf, st->size, "kefo-put %lld ", st->generated);
    if (head > 0 && (size_t)head < st->size) {
      memset(buf + head, 'x', st->size - (size_t)head);
    }
    if (st->fixed_key) {
      snprintf(pk, sizeof(pk), "%s", st->fixed_key);
    } else {
      random_key(pk);
    }
    if (put_one(st, NULL, pk, buf, st->size) != 0) {
      break;
    }
    ++st->generated;
  }
  st->gen_pending =
      st->rate > 0 && n > 0 ? (int)(n > 1000000 ? 1000000 : n) : 0;
  free(buf);
}

/* Nothing more will come: stdin ended and was put, the count is reached,
   or the duration passed. */
static int input_done(put_state *st) {
  if (st->from_stdin) {
    return st->stdin_eof && st->in_len == 0;
  }
  if (st->count >= 0 && st->generated >= st->count) {
    return 1;
  }
  return st->duration > 0 && since(&st->t0) >= st->duration;
}

static void stop_gracefully(put_state *st) {
  if (!st->stopping) {
    st->stopping = 1;
    kefo_producer_stop(st->p, 1);
  }
}

static void on_tick(evutil_socket_t fd, short what, void *arg) {
  put_state *st = arg;
  struct timeval tv = {0, TICK_MS * 1000};
  long long held = st->put - st->acked - st->failed;

  (void)fd;
  (void)what;
  if (st->stopped) {
    return;
  }
  if (!st->stopping && !st->error) {
    if (st->from_stdin) {
      read_stdin(st);
    } else if (!input_done(st)) {
      generate(st);
    }
  }
  if (held > 0 && since(&st->t0) - st->last_progress > st->progress_s) {
    fprintf(stderr,
            "kefo-put: %s: PutRecords: no record written within %g s (every "
            "attempt failed or went unanswered); giving up\n",
            st->url, st->progress_s);
    st->error = 1;
    kefo_producer_stop(st->p, 0);
    return;
  }
  if (held <= 0) {
    st->last_progress = since(&st->t0);
  }
  if (st->error || input_done(st)) {
    stop_gracefully(st);
  }
  evtimer_add(st->tick, &tv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  put_state *st = arg;
  kefo_put_stats s;

  (void)what;
  if (++st->signals == 1) {
    if (st->put > st->acked + st->failed) {
      fprintf(stderr, "kefo-put: stopping once the records held are written "
                      "(again to stop at once)\n");
    }
    stop_gracefully(st);
    return;
  }
  /* Whatever the producer waits for (a connection, a backoff, an answer),
     the person asked twice: stop now. */
  st->killed_by = (int)sig;
  kefo_producer_stats(st->p, &s);
  st->in_flight_at_kill = s.in_flight_records;
  kefo_producer_stop(st->p, 0);
}

/* ---- the command line -----------------------------------------------------
 */

static int number(const char *s, double *out) {
  char *end;

  errno = 0;
  *out = strtod(s, &end);
  return errno == 0 && end != s && *end == 0 && *out >= 0 ? 0 : -1;
}

/* --count, --rate, --duration, --progress-timeout and --size: numbers
   >= 0. */
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
  } else if (!strcmp(a, "--progress-timeout")) {
    if (v < 1) {
      fprintf(stderr, "kefo-put: --progress-timeout must be 1 s or more\n");
      return -1;
    }
    st->progress_s = v;
  } else if (v < 1 || v > MAX_RECORD_BYTES) {
    fprintf(stderr, "kefo-put: --size must be 1 to %u bytes\n",
            MAX_RECORD_BYTES);
    return -1;
  } else {
    st->size = (size_t)v;
  }
  return 0;
}

/* An option with a value; returns 0 or EXIT_USAGE (reported). */
static int value_flag(put_state *st, const char *a, const char *val) {
  if (!strcmp(a, "--stream")) {
    st->stream = val;
  } else if (!strcmp(a, "--stream-arn")) {
    st->stream_arn = val;
  } else if (!strcmp(a, "--region")) {
    st->region_arg = val;
  } else if (!strcmp(a, "--endpoint")) {
    st->endpoint_arg = val;
  } else if (!strcmp(a, "--partition-key-field")) {
    st->key_field = val;
  } else if (!strcmp(a, "--stream-field")) {
    st->stream_field = val;
  } else if (!strcmp(a, "--set")) {
    if (st->nsets == MAX_SETS || strchr(val, '=') == NULL) {
      fprintf(stderr, "kefo-put: --set wants KEY=VALUE (at most %d)\n",
              MAX_SETS);
      return EXIT_USAGE;
    }
    st->sets[st->nsets++] = val;
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
  return 0;
}

static int takes_value(const char *a) {
  static const char *const names[] = {"--stream",
                                      "--stream-arn",
                                      "--region",
                                      "--endpoint",
                                      "--partition-key",
                                      "--partition-key-field",
                                      "--stream-field",
                                      "--count",
                                      "--rate",
                                      "--duration",
                                      "--size",
                                      "--set",
                                      "--progress-timeout",
                                      NULL};
  int i;

  for (i = 0; names[i]; ++i) {
    if (!strcmp(a, names[i])) {
      return 1;
    }
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
    if (!strcmp(a, "--quiet") || !strcmp(a, "--aggregate")) {
      *(a[2] == 'q' ? &st->quiet : &st->aggregate) = 1;
      continue;
    }
    if (!takes_value(a)) {
      fprintf(stderr, "kefo-put: unknown option %s (see --help)\n", a);
      return EXIT_USAGE;
    }
    if (val == NULL) {
      fprintf(stderr, "kefo-put: %s needs a value (see --help)\n", a);
      return EXIT_USAGE;
    }
    ++i;
    if (value_flag(st, a, val) != 0) {
      return EXIT_USAGE;
    }
  }
  return CARRY_ON;
}

/* What the flags mean together: a stream, and where records come from. */
static int check_args(put_state *st) {
  if (!st->stream == !st->stream_arn) {
    fprintf(stderr, "kefo-put: name a stream with --stream or --stream-arn "
                    "(see --help)\n");
    return EXIT_USAGE;
  }
  st->from_stdin = st->count < 0 && st->rate == 0 && st->duration == 0;
  if (!st->from_stdin && st->count < 0 && st->duration == 0) {
    fprintf(stderr, "kefo-put: --rate needs --count or --duration\n");
    return EXIT_USAGE;
  }
  if (st->key_field && (!st->from_stdin || st->fixed_key)) {
    fprintf(stderr, "kefo-put: --partition-key-field reads stdin's lines, "
                    "without --partition-key\n");
    return EXIT_USAGE;
  }
  if (st->stream_field && !st->from_stdin) {
    fprintf(stderr, "kefo-put: --stream-field reads stdin's lines\n");
    return EXIT_USAGE;
  }
  return CARRY_ON;
}

/* The producer's configuration: the tool's own defaults first (a short
   linger for a person at a terminal, its retry budget, a TTL the
   progress deadline bounds anyway), then the flags, then --set. */
static int make_config(put_state *st, kefo_config **out) {
  const char *kv[] = {"sink.flush-buffer.timeout",
                      "100ms",
                      "retry-strategy.attempts.max",
                      MAX_CALL_ATTEMPTS,
                      "sink.record.ttl",
                      "10min",
                      "sink.aggregation.enabled",
                      st->aggregate ? "true" : "false",
                      st->stream ? "sink.stream.name" : "sink.stream.arn",
                      st->stream ? st->stream : st->stream_arn,
                      "aws.region",
                      st->region_arg,
                      "aws.endpoint",
                      st->endpoint_arg};
  char err[512], key[256];
  kefo_config *cfg;
  size_t i;
  int k;

  if (kefo_config_new(&cfg) != 0) {
    return EXIT_FAILED;
  }
  for (i = 0; i < sizeof(kv) / sizeof(kv[0]); i += 2) {
    if (kv[i + 1] &&
        kefo_config_set2(cfg, kv[i], kv[i + 1], err, sizeof(err)) != 0) {
      fprintf(stderr, "kefo-put: %s\n", err);
      goto fail;
    }
  }
  for (k = 0; k < st->nsets; ++k) {
    const char *eq = strchr(st->sets[k], '=');
    snprintf(key, sizeof(key), "%.*s", (int)(eq - st->sets[k]), st->sets[k]);
    if (strncmp(key, "sink.", 5) && strncmp(key, "aws.", 4) &&
        strncmp(key, "retry-strategy.", 15)) {
      fprintf(stderr,
              "kefo-put: --set %s: only sink.*, aws.* and "
              "retry-strategy.* keys apply to writing\n",
              key);
      goto fail;
    }
    if (kefo_config_set2(cfg, key, eq + 1, err, sizeof(err)) != 0) {
      fprintf(stderr, "kefo-put: --set: %s\n", err);
      goto fail;
    }
  }
  *out = cfg;
  return CARRY_ON;
fail:
  kefo_config_del(cfg);
  return EXIT_USAGE;
}

static int start_producer(put_state *st) {
  kefo_producer_callbacks *cbs = NULL;
  kefo_config *cfg = NULL;
  int status = make_config(st, &cfg), rv;

  if (status != CARRY_ON) {
    return status;
  }
  st->url = kefo_config_get(cfg, "aws.endpoint");
  st->url = st->url && st->url[0] ? strdup(st->url) : strdup("Kinesis");
  rv = kefo_producer_callbacks_new(&cbs);
  if (rv == 0) {
    kefo_producer_callbacks_set_on_ack(cbs, on_ack);
    kefo_producer_callbacks_set_on_failure(cbs, on_failure);
    kefo_producer_callbacks_set_on_writable(cbs, on_writable);
    kefo_producer_callbacks_set_on_stopped(cbs, on_stopped);
    kefo_producer_callbacks_set_log(cbs, on_log, KEFO_LOG_ERROR);
    rv = kefo_producer_new(&st->p, cfg, cbs, st, st->base);
  }
  kefo_producer_callbacks_del(cbs);
  kefo_config_del(cfg);
  if (rv != 0) {
    fprintf(stderr, "kefo-put: cannot write to the stream: %s%s%s\n",
            kefo_strerror(rv), st->setup_error[0] ? ": " : "", st->setup_error);
    return rv == KEFO_ERR_CONFIG ? EXIT_USAGE : EXIT_FAILED;
  }
  return CARRY_ON;
}

/* Prints the run's totals and what may be lost, and returns the status
   to exit with. */
static int summary(const put_state *st) {
  kefo_put_stats s;
  long long lost;
  int status;

  memset(&s, 0, sizeof(s));
  if (st->p) {
    kefo_producer_stats(st->p, &s);
  }
  if (!st->quiet) {
    double secs = since(&st->t0);
    fprintf(stderr,
            "kefo-put: %lld records, %lld bytes put in %.1f s: %lld written "
            "(%.0f records/s), %lld failed; %llu calls, %llu Kinesis records "
            "(%.1f records each), %llu sent again, %llu throttled%s\n",
            st->put, st->bytes, secs, st->acked,
            secs > 0 ? (double)st->acked / secs : 0.0, st->failed,
            (unsigned long long)s.calls, (unsigned long long)s.kinesis_records,
            s.kinesis_records ? (double)st->acked / (double)s.kinesis_records
                              : 0.0,
            (unsigned long long)s.retried, (unsigned long long)s.throttled,
            st->aggregate ? ", aggregated" : "");
  }
  if (st->bad_lines) {
    fprintf(stderr, "kefo-put: %lld lines skipped (%s)\n", st->bad_lines,
            !st->stream_field ? "no partition key field"
            : !st->key_field  ? "no stream in the stream field, or one refused"
                              : "no partition key field, or no stream in the "
                                "stream field, or one refused");
  }
  if (st->in_flight_at_kill) {
    fprintf(stderr,
            "kefo-put: stopped with calls in flight: their %llu records may "
            "or may not have been written\n",
            st->in_flight_at_kill);
  }
  lost = st->failed - (long long)st->in_flight_at_kill;
  if (st->killed_by && lost > 0) {
    fprintf(stderr, "kefo-put: %lld %s not written\n", lost,
            st->from_stdin ? "lines" : "records");
  }
  status = st->error || st->failed || st->bad_lines ? EXIT_FAILED : EXIT_OK;
  if (!st->from_stdin && st->signals == 1 && !st->failed && !st->error) {
    status = EXIT_OK; /* generating: what was not generated was not wanted */
  }
  return st->killed_by ? 128 + st->killed_by : status;
}

int main(int argc, char **argv) {
  struct timeval tv = {0, 0};
  put_state st;
  int status;

  memset(&st, 0, sizeof(st));
  st.count = -1;
  st.size = 100;
  st.progress_s = PROGRESS_DEADLINE_S;
  signal(SIGPIPE, SIG_IGN);
  status = parse_args(&st, argc, argv);
  if (status == CARRY_ON) {
    status = check_args(&st);
  }
  if (status == CARRY_ON) {
    st.base = event_base_new();
    status = st.base ? start_producer(&st) : EXIT_FAILED;
  }
  if (status != CARRY_ON) {
    free((void *)st.url); /* set when the producer could not be made */
    if (st.base) {
      event_base_free(st.base);
    }
    return status;
  }
  st.sigint = evsignal_new(st.base, SIGINT, on_signal, &st);
  st.sigterm = evsignal_new(st.base, SIGTERM, on_signal, &st);
  event_add(st.sigint, NULL);
  event_add(st.sigterm, NULL);
  if (st.from_stdin) {
    fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
  }
  clock_gettime(CLOCK_MONOTONIC, &st.t0);
  st.tick = evtimer_new(st.base, on_tick, &st);
  evtimer_add(st.tick, &tv);
  while (!st.stopped) {
    if (event_base_loop(st.base, EVLOOP_ONCE) < 0) {
      break;
    }
  }
  status = summary(&st);
  kefo_producer_del(st.p);
  event_free(st.tick);
  event_free(st.sigint);
  event_free(st.sigterm);
  event_base_free(st.base);
  free(st.in);
  free((void *)st.url);
  return status;
}
