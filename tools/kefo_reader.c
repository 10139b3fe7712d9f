/*
 * kefo-reader: reads a Kinesis stream (Enhanced Fan-Out, or polling) and
 * prints its records as JSON lines (or raw), with live per-shard progress
 * and shard events on stderr. The first thing a new user runs: see
 * --help and kefo-reader(1).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/event.h>
#include <kefo/kefo.h>

#include "tools/json_line.h"
#include "tools/reader_metrics.h"
#include "tools/reader_log.h"
#include "tools/reader_progress.h"

/* Exit codes, documented in --help. */
enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };
/* parse_args' "no status yet": run. */
enum { CARRY_ON = -1 };

typedef struct reader_state {
  kefo_consumer *consumer;
  struct event_base *base;
  json_line line;
  unsigned long long records, bytes, limit;
  int shards_finished;
  int shards_failed;
  int errors;
  /* Stopped by a signal, --limit or --duration, not by itself. */
  int asked_to_stop;
  /* on_stopped's: KEFO_STOP_ASKED, or why kefo stopped by itself. */
  int stop_reason;
  /* What stderr shows: 0 failures only, 1 every error, 2 shard events
     and progress too, 3 debug; kefo's log hook at the same level. */
  int log_level;
  /* The last warn or error line of the log hook, so that on_error does
     not print again a retry the hook has just told with its cause. */
  char last_warn[1024];
  /* Alignment is on (a max drift): the progress shows paused shards and
     the spread of watermarks. */
  int aligning;
  double stats_interval;
  struct event *stats_timer;
  kefo_progress progress;
  struct timespec t0;
  int signals;
  int format_raw;
  int quiet;
  /* Writing stdout failed (errno), or its pipe's reader went away. */
  int output_errno;
  struct event *output_check;
  int shards_started;
  /* From the command line: the EFO consumer's name unless the
     configuration file gives one, and --duration (0: none). */
  const char *consumer_name;
  double duration;
  struct event *sigint, *sigterm, *duration_timer;
  /* --metrics-listen (NULL: none), and what serves it. */
  const char *metrics_listen;
  reader_metrics *metrics;
} reader_state;

static const char usage_text[] =
    "Usage: kefo-reader --stream NAME [OPTIONS]\n"
    "Read a Kinesis stream with Enhanced Fan-Out (or polling) and print\n"
    "each record as a JSON line: shard, sequence number, sub-sequence,\n"
    "partition key, arrival time, and data (text when UTF-8, else\n"
    "base64).\n"
    "\n"
    "  --stream NAME          the stream (or --stream-arn ARN)\n"
    "  --region R             AWS region (else the ARN's, AWS_REGION,\n"
    "                         profile)\n"
    "  --endpoint URL         Kinesis endpoint (emulators: "
    "http://...)\n"
    "  --reader R             efo (default: SubscribeToShard) or\n"
    "                         polling (GetRecords)\n"
    "  --consumer-name N      EFO consumer name (default kefo-reader)\n"
    "  --lifecycle L          job-managed (default) or self-managed\n"
    "  --consumer-arn ARN     the consumer of a self-managed lifecycle\n"
    "  --start P              latest (default), trim-horizon, or\n"
    "                         at-timestamp=ISO8601\n"
    "  --max-drift-ms N       pause a shard whose records' arrival\n"
    "                         times run more than N ms ahead of the\n"
    "                         slowest shard's (watermark alignment)\n"
    "  --checkpoint-file PATH keep checkpoints in PATH and resume "
    "from\n"
    "                         them (default: none kept)\n"
    "  --lease-table T        share the stream with other workers\n"
    "                         through the DynamoDB lease table T\n"
    "                         (created if missing; KCL layout)\n"
    "  --worker-id ID         this worker in the lease table\n"
    "                         (default: host, pid and a random part)\n"
    "  --limit N              stop after N records (with a\n"
    "                         checkpoint file, a rerun goes on with\n"
    "                         the next one)\n"
    "  --duration S           stop after S seconds\n"
    "  --format F             jsonl (default), raw or none; raw\n"
    "                         writes each record's data and a newline,\n"
    "                         unescaped: data holding newlines cannot\n"
    "                         be told apart (use jsonl)\n"
    "  --stats-interval S     progress on stderr every S seconds\n"
    "                         (default 2; 0: none): a table redrawn\n"
    "                         in place on a terminal, else a line\n"
    "  --log-level L          error (failures only), warn (every\n"
    "                         error and retry) or info (default: also\n"
    "                         subscriptions, leases, shard events,\n"
    "                         alignment and progress); debug adds\n"
    "                         renewals and checkpoints; kefo's events\n"
    "                         are timestamped lines on stderr\n"
    "  --metrics-listen A:P   serve /metrics (Prometheus) and\n"
    "                         /healthz over HTTP on address A, port P\n"
    "                         (such as 127.0.0.1:9464)\n"
    "  --config FILE          kefo configuration keys (key=value);\n"
    "                         flags override it\n"
    "  -h, --help, --version\n"
    "\n"
    "Credentials come from the usual places (environment, shared "
    "files,\nweb identity, container, instance metadata).\n"
    "SIGINT or SIGTERM stops gracefully (a job-managed consumer is\n"
    "deregistered); a second signal stops at once.\n"
    "A record is checkpointed only once it is written out: when\n"
    "writing stdout fails (a closed pipe, a full disk) the reader\n"
    "stops, and a rerun goes on after the last record written.\n"
    "Exit status: 0 stopped as asked (signal, --limit, --duration);\n"
    "1 the consumer stopped by itself, a shard failed, the output\n"
    "could not be written, or nothing was read because of errors;\n"
    "2 usage or configuration error.\n";

static void usage(FILE *f) {
  fputs(usage_text, f);
}

/* A flag --help lists (with its value): "  --flag VALUE". */
static int known_flag(const char *a) {
  char pat[64];

  snprintf(pat, sizeof(pat), "  %s ", a);
  return strncmp(a, "--", 2) == 0 && strstr(usage_text, pat) != NULL;
}

/*
 * Stdout failed (EPIPE: its reader went away; ENOSPC, EIO): nothing of
 * this call counts as written, since a buffered write cannot say which of
 * its records got out, so the stop's checkpoint ends with the last call
 * flushed in full. The run exits 1.
 */
static void output_failed(reader_state *st, kefo_consumer *c, int err) {
  if (!st->output_errno) {
    st->output_errno = err ? err : EIO;
    kefo_progress_clear(&st->progress);
    fprintf(stderr, "kefo-reader: cannot write the records: %s; stopping\n",
            strerror(st->output_errno));
  }
  st->asked_to_stop = 1;
  kefo_consumer_stop_after(c, 0, 1);
}

/*
 * Prints the records, then flushes: a record counts as finished with
 * (and may be checkpointed) only once it is out. --limit inside the call
 * takes the records printed and no more (kefo_consumer_stop_after), so a
 * rerun from the checkpoints starts with the first record not printed.
 */
static int on_records(kefo_consumer *c, const char *shard, const kefo_record *r,
                      size_t n, int64_t behind, void *ud) {
  reader_state *st = ud;
  size_t i, take = n;

  (void)behind;
  if (st->limit && st->limit - st->records < n) {
    take = (size_t)(st->limit - st->records);
  }
  for (i = 0; i < take && !st->quiet; ++i) {
    if (st->format_raw) {
      fwrite(r[i].data, 1, r[i].data_len, stdout);
      fputc('\n', stdout);
      continue;
    }
    if (json_line_record(&st->line, shard, &r[i]) != 0) {
      return -1;
    }
    fwrite(st->line.data, 1, st->line.len, stdout);
  }
  if (!st->quiet && (fflush(stdout) != 0 || ferror(stdout))) {
    output_failed(st, c, errno);
    return 0;
  }
  for (i = 0; i < take; ++i) {
    st->bytes += r[i].data_len;
  }
  st->records += take;
  if (st->limit && st->records >= st->limit) {
    st->asked_to_stop = 1;
    kefo_consumer_stop_after(c, take, 1);
  }
  return 0;
}

/*
 * Stdout a pipe whose reader went away (`| head -1`): seen while the
 * stream is quiet too, not only at the next write, as GNU tail -f does.
 * On Linux poll() reports POLLERR on a pipe's write end once no reader
 * is left.
 */
static void on_output_check(evutil_socket_t fd, short what, void *arg) {
  reader_state *st = arg;
  struct pollfd p = {STDOUT_FILENO, 0, 0};
  struct timeval tv = {0, 250000};

  (void)fd;
  (void)what;
  if (poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP))) {
    if (!st->output_errno) {
      st->output_errno = EPIPE;
      kefo_progress_clear(&st->progress);
      fprintf(stderr, "kefo-reader: the output was closed (%s); stopping\n",
              strerror(EPIPE));
    }
    st->asked_to_stop = 1;
    kefo_consumer_stop(st->consumer, 1);
    return;
  }
  evtimer_add(st->output_check, &tv);
}

static void on_shard_event(kefo_consumer *c, const char *shard,
                           kefo_shard_event ev, void *ud) {
  reader_state *st = ud;

  (void)c;
  (void)shard;
  /* Counted here; told by kefo's log hook (on_log), with its cause. */
  if (ev == KEFO_SHARD_EVENT_FINISHED) {
    ++st->shards_finished;
  }
  if (ev == KEFO_SHARD_EVENT_STARTED) {
    ++st->shards_started;
  }
  if (ev == KEFO_SHARD_EVENT_FAILED) {
    ++st->shards_failed;
  }
}

/* kefo's log hook: one timestamped line per event. */
static void on_log(kefo_log_level level, const char *event, const char *shard,
                   const char *message, void *ud) {
  reader_state *st = ud;

  kefo_progress_clear(&st->progress);
  kefo_reader_log_line(stderr, level, event, shard, message);
  if (level <= KEFO_LOG_WARN) {
    snprintf(st->last_warn, sizeof(st->last_warn), "%s", message);
  }
}

static void on_error(kefo_consumer *c, const kefo_error_info *e, void *ud) {
  reader_state *st = ud;

  (void)c;
  ++st->errors;
  /* At "error", only what kefo will not retry; above, not a retry the
     log hook has just told (kefo calls the hook first, with the same
     message inside). */
  if (e->retryable &&
      (st->log_level < 1 ||
       (e->message[0] && strstr(st->last_warn, e->message) != NULL))) {
    st->last_warn[0] = '\0';
    return;
  }
  kefo_progress_clear(&st->progress);
  fprintf(stderr, "kefo-reader: %s%s%s\n", e->shard_id ? e->shard_id : "",
          e->shard_id ? ": " : "", e->message);
}

static void on_stopped(kefo_consumer *c, kefo_stop_reason reason,
                       const kefo_error_info *err, void *ud) {
  reader_state *st = ud;

  (void)c;
  (void)err; /* on_error showed it as it came */
  st->stop_reason = (int)reason;
}

static double elapsed(const struct timespec *t0) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)(t.tv_sec - t0->tv_sec) +
         (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void on_stats_timer(evutil_socket_t fd, short what, void *arg) {
  reader_state *st = arg;
  kefo_stats stats;
  struct timeval tv;

  (void)fd;
  (void)what;
  if (kefo_consumer_stats(st->consumer, &stats) == 0) {
    kefo_watermarks wm;
    kefo_progress_show(&st->progress, &stats, elapsed(&st->t0));
    if (st->aligning && kefo_consumer_watermarks(st->consumer, &wm) == 0) {
      kefo_progress_watermarks(&st->progress, &wm);
    }
  }
  tv.tv_sec = (time_t)st->stats_interval;
  tv.tv_usec = (suseconds_t)((st->stats_interval - (double)tv.tv_sec) * 1e6);
  evtimer_add(st->stats_timer, &tv);
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  reader_state *st = arg;

  (void)sig;
  (void)what;
  st->asked_to_stop = 1;
  if (++st->signals == 1) {
    fprintf(stderr, "kefo-reader: stopping (again to stop at once)\n");
    kefo_consumer_stop(st->consumer, 1);
  } else {
    kefo_consumer_stop(st->consumer, 0);
  }
}

static void on_duration(evutil_socket_t fd, short what, void *arg) {
  reader_state *st = arg;

  (void)fd;
  (void)what;
  st->asked_to_stop = 1;
  kefo_consumer_stop(st->consumer, 1);
}

/* The flags that set configuration keys, to name them in the library's
   messages, which speak of keys. */
static const char *const flag_keys[][2] = {
    {"source.stream.name", "--stream"},
    {"source.stream.arn", "--stream-arn"},
    {"source.reader.type", "--reader"},
    {"source.efo.consumer.name", "--consumer-name"},
    {"source.efo.lifecycle", "--lifecycle"},
    {"source.efo.consumer.arn", "--consumer-arn"},
    {"source.init.position", "--start"},
    {"source.init.timestamp", "--start at-timestamp="},
    {"source.watermark.alignment.max-drift", "--max-drift-ms"},
    {"source.lease.file", "--checkpoint-file"},
    {"source.lease.table", "--lease-table"},
    {"source.lease.worker-id", "--worker-id"},
    {"aws.region", "--region"},
    {"aws.endpoint", "--endpoint"}};

/* Prints the library's message |err|, then the flags of the keys it
   names: "source.stream.arn: required" is "--stream-arn" on the command
   line. */
static void config_error(const char *err) {
  size_t i;
  int n = 0;

  fprintf(stderr, "kefo-reader: %s", err);
  for (i = 0; i < sizeof(flag_keys) / sizeof(flag_keys[0]); ++i) {
    const char *at = strstr(err, flag_keys[i][0]);
    size_t len = strlen(flag_keys[i][0]);
    /* The whole key, not the head of a longer one. */
    if (at && (at[len] == '\0' || at[len] == ':' || at[len] == ' ' ||
               at[len] == ',' || at[len] == ')' || at[len] == '=')) {
      fprintf(stderr, "%s%s", n++ ? ", " : " (flags: ", flag_keys[i][1]);
    }
  }
  fputs(n ? ")\n" : "\n", stderr);
}

static int set(kefo_config *cfg, const char *key, const char *value) {
  char err[512];

  if (kefo_config_set2(cfg, key, value, err, sizeof(err)) != 0) {
    config_error(err);
    return -1;
  }
  return 0;
}

/* --config first, wherever it stands: the flags override the file. */
static int load_config_flag(kefo_config *cfg, int argc, char **argv) {
  char err[512];
  int i;

  for (i = 1; i + 1 < argc; ++i) {
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") ||
        !strcmp(argv[i], "--version")) {
      continue;
    }
    if (!strcmp(argv[i], "--config") &&
        kefo_config_load_file2(cfg, argv[i + 1], err, sizeof(err)) != 0) {
      fprintf(stderr, "kefo-reader: %s\n", err);
      return -1;
    }
    ++i; /* every other flag takes a value */
  }
  return 0;
}

static int set_start(kefo_config *cfg, const char *v) {
  if (!strcmp(v, "latest")) {
    return set(cfg, "source.init.position", "LATEST");
  }
  if (!strcmp(v, "trim-horizon")) {
    return set(cfg, "source.init.position", "TRIM_HORIZON");
  }
  if (!strncmp(v, "at-timestamp=", 13)) {
    return set(cfg, "source.init.position", "AT_TIMESTAMP") ||
           set(cfg, "source.init.timestamp", v + 13);
  }
  fprintf(stderr, "kefo-reader: --start must be latest, trim-horizon "
                  "or at-timestamp=ISO8601\n");
  return 1;
}

static int set_max_drift(kefo_config *cfg, const char *v) {
  char ms[48], *end;
  long long n = strtoll(v, &end, 10);

  if (*end != '\0' || n < 0) {
    fprintf(stderr, "kefo-reader: --max-drift-ms must be a number of "
                    "milliseconds (0: no alignment)\n");
    return 1;
  }
  snprintf(ms, sizeof(ms), "%lldms", n);
  return set(cfg, "source.watermark.alignment.max-drift", ms);
}

/* The flags that set configuration keys. Returns 0 when |a| is not one
   of them, else 1 with |*bad| set when its value is refused. */
static int config_flag(reader_state *st, kefo_config *cfg, const char *a,
                       const char *v, int *bad) {
  if (!strcmp(a, "--config")) {
    /* loaded by load_config_flag */
  } else if (!strcmp(a, "--stream")) {
    *bad = set(cfg, "source.stream.name", v);
  } else if (!strcmp(a, "--stream-arn")) {
    *bad = set(cfg, "source.stream.arn", v);
  } else if (!strcmp(a, "--region")) {
    *bad = set(cfg, "aws.region", v);
  } else if (!strcmp(a, "--endpoint")) {
    *bad = set(cfg, "aws.endpoint", v);
  } else if (!strcmp(a, "--reader")) {
    *bad = !strcmp(v, "efo")       ? set(cfg, "source.reader.type", "EFO")
           : !strcmp(v, "polling") ? set(cfg, "source.reader.type", "POLLING")
                                   : 1;
    if (*bad) {
      fprintf(stderr, "kefo-reader: --reader must be efo or polling\n");
    }
  } else if (!strcmp(a, "--consumer-name")) {
    st->consumer_name = v;
  } else if (!strcmp(a, "--consumer-arn")) {
    *bad = set(cfg, "source.efo.consumer.arn", v);
  } else if (!strcmp(a, "--lifecycle")) {
    *bad = set(cfg, "source.efo.lifecycle",
               !strcmp(v, "self-managed")  ? "SELF_MANAGED"
               : !strcmp(v, "job-managed") ? "JOB_MANAGED"
                                           : v);
  } else if (!strcmp(a, "--start")) {
    *bad = set_start(cfg, v);
  } else if (!strcmp(a, "--max-drift-ms")) {
    *bad = set_max_drift(cfg, v);
  } else if (!strcmp(a, "--checkpoint-file")) {
    *bad = set(cfg, "source.lease.store", "file") ||
           set(cfg, "source.lease.file", v);
  } else if (!strcmp(a, "--lease-table")) {
    *bad = set(cfg, "source.lease.store", "dynamodb") ||
           set(cfg, "source.lease.table", v);
  } else if (!strcmp(a, "--worker-id")) {
    *bad = set(cfg, "source.lease.worker-id", v);
  } else {
    return 0;
  }
  return 1;
}

/* The flags of the tool itself: how long to read and what to show.
   Returns 0 when |a| is not one of them, else 1 with |*bad| set when its
   value is refused. */
static int tool_flag(reader_state *st, const char *a, const char *v, int *bad) {
  char *end;

  if (!strcmp(a, "--limit")) {
    errno = 0;
    /* strtoull takes "-5" as a huge number: digits only. */
    st->limit = strtoull(v, &end, 10);
    *bad = v[0] < '0' || v[0] > '9' || *end != '\0' || errno != 0 ||
           st->limit == 0;
    if (*bad) {
      fprintf(stderr, "kefo-reader: --limit must be a positive number\n");
    }
  } else if (!strcmp(a, "--duration")) {
    st->duration = strtod(v, &end);
    *bad = *end != '\0' || st->duration <= 0;
    if (*bad) {
      fprintf(stderr, "kefo-reader: --duration must be seconds > 0\n");
    }
  } else if (!strcmp(a, "--stats-interval")) {
    st->stats_interval = strtod(v, &end);
    *bad = end == v || *end || st->stats_interval < 0 ||
           st->stats_interval > 86400;
    if (*bad) {
      fprintf(stderr, "kefo-reader: --stats-interval must be seconds "
                      "(0 for none)\n");
    }
  } else if (!strcmp(a, "--log-level")) {
    st->log_level = !strcmp(v, "error")   ? 0
                    : !strcmp(v, "warn")  ? 1
                    : !strcmp(v, "info")  ? 2
                    : !strcmp(v, "debug") ? 3
                                          : -1;
    *bad = st->log_level < 0;
    if (*bad) {
      fprintf(stderr, "kefo-reader: --log-level must be error, warn, info "
                      "or debug\n");
    }
  } else if (!strcmp(a, "--metrics-listen")) {
    st->metrics_listen = v; /* checked as it is listened on */
  } else if (!strcmp(a, "--format")) {
    st->format_raw = !strcmp(v, "raw");
    st->quiet = !strcmp(v, "none");
    *bad = !st->format_raw && !st->quiet && strcmp(v, "jsonl") != 0;
    if (*bad) {
      fprintf(stderr, "kefo-reader: --format must be jsonl, raw or none\n");
    }
  } else {
    return 0;
  }
  return 1;
}

/* Reads the command line into |st| and |cfg|. Returns CARRY_ON, or the
   status to exit with (--help and --version included). */
static int parse_args(reader_state *st, kefo_config *cfg, int argc,
                      char **argv) {
  int i;

  if (load_config_flag(cfg, argc, argv) != 0) {
    return EXIT_USAGE;
  }
  for (i = 1; i < argc; ++i) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int bad = 0;
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
      usage(stdout);
      return EXIT_OK;
    }
    if (!strcmp(a, "--version")) {
      printf("kefo-reader %s\n", KEFO_VERSION);
      return EXIT_OK;
    }
    if (v == NULL) {
      fprintf(stderr,
              known_flag(a) ? "kefo-reader: %s needs a value (see --help)\n"
                            : "kefo-reader: unknown option %s (see --help)\n",
              a);
      return EXIT_USAGE;
    }
    ++i;
    if (!config_flag(st, cfg, a, v, &bad) && !tool_flag(st, a, v, &bad)) {
      fprintf(stderr, "kefo-reader: unknown option %s (see --help)\n", a);
      bad = 1;
    }
    if (bad) {
      return EXIT_USAGE;
    }
  }
  return CARRY_ON;
}

/* The defaults of a reader run by a person, where the configuration left
   them to the library, then the configuration's own check. */
static int set_defaults(reader_state *st, kefo_config *cfg) {
  char err[512];

  if (kefo_config_get(cfg, "source.efo.consumer.name")[0] == '\0' &&
      set(cfg, "source.efo.consumer.name", st->consumer_name) != 0) {
    return -1;
  }
  /* A person waits at a terminal: give up on an endpoint that cannot be
     reached after 10 attempts (about half a minute with the HTTP
     client's reconnect backoff) rather than the library's 50 (Flink's
     default, minutes). */
  if (!kefo_config_is_set(cfg, "retry-strategy.attempts.max") &&
      set(cfg, "retry-strategy.attempts.max", "10") != 0) {
    return -1;
  }
  /* And a server that accepts but never answers is given 2 s per
     attempt to connect and 5 s per call to answer, not the library's 10
     and 30: about 20 s in all, as for one that refuses. */
  if ((!kefo_config_is_set(cfg, "aws.http.connect-timeout") &&
       set(cfg, "aws.http.connect-timeout", "2s") != 0) ||
      (!kefo_config_is_set(cfg, "aws.http.request-timeout") &&
       set(cfg, "aws.http.request-timeout", "5s") != 0)) {
    return -1;
  }
  /* Alignment on (from --max-drift-ms or the configuration file): the
     progress shows it. */
  st->aligning =
      strtod(kefo_config_get(cfg, "source.watermark.alignment.max-drift"),
             NULL) > 0;
  /* A reader for looking at a stream keeps no checkpoints unless asked:
     a stale file in the working directory would silently skip records. */
  if (!kefo_config_is_set(cfg, "source.lease.store") &&
      set(cfg, "source.lease.store", "memory") != 0) {
    return -1;
  }
  /* The configuration's own words: which key, and why. */
  if (kefo_config_validate(cfg, err, sizeof(err)) != 0) {
    config_error(err);
    return -1;
  }
  return 0;
}

static int new_consumer(reader_state *st, const kefo_config *cfg) {
  kefo_consumer_callbacks *cbs;
  int rv;

  rv = kefo_consumer_callbacks_new(&cbs);
  if (rv == 0) {
    kefo_consumer_callbacks_set_on_records(cbs, on_records);
    kefo_consumer_callbacks_set_on_shard_event(cbs, on_shard_event);
    kefo_consumer_callbacks_set_on_error(cbs, on_error);
    kefo_consumer_callbacks_set_on_stopped(cbs, on_stopped);
    kefo_consumer_callbacks_set_log(cbs, on_log,
                                    (kefo_log_level)(st->log_level + 1));
    rv = kefo_consumer_new2(&st->consumer, cfg, cbs, st, st->base);
    kefo_consumer_callbacks_del(cbs);
  }
  if (rv != 0) {
    /* What is wrong, kefo's log hook printed above (config.invalid). */
    fprintf(stderr, "kefo-reader: cannot set up the consumer: %s\n",
            kefo_strerror(rv));
  }
  return rv;
}

/* --metrics-listen: listens before the consumer starts, so that a
   port in use fails the run at once. Returns 0, -1 (a bad address) or
   -2 (it cannot be listened on). */
static int start_metrics(reader_state *st) {
  char err[256];
  int rv = reader_metrics_start(&st->metrics, st->base, st->consumer,
                                st->metrics_listen, err, sizeof(err));

  if (rv != 0) {
    fprintf(stderr, "kefo-reader: %s\n", err);
    return rv;
  }
  if (st->log_level >= 1) {
    fprintf(stderr, "kefo-reader: metrics on http://%s/metrics\n",
            reader_metrics_address(st->metrics));
  }
  return 0;
}

/* The events around the consumer: signals, --duration, the progress
   line, and a watch on a piped stdout. */
static void add_events(reader_state *st) {
  struct stat sb;

  st->sigint = evsignal_new(st->base, SIGINT, on_signal, st);
  st->sigterm = evsignal_new(st->base, SIGTERM, on_signal, st);
  event_add(st->sigint, NULL);
  event_add(st->sigterm, NULL);
  if (st->duration > 0) {
    struct timeval tv;
    tv.tv_sec = (time_t)st->duration;
    tv.tv_usec = (suseconds_t)((st->duration - (double)tv.tv_sec) * 1e6);
    st->duration_timer = evtimer_new(st->base, on_duration, st);
    evtimer_add(st->duration_timer, &tv);
  }
  clock_gettime(CLOCK_MONOTONIC, &st->t0);
  if (st->stats_interval > 0 && st->log_level >= 2) {
    st->stats_timer = evtimer_new(st->base, on_stats_timer, st);
    on_stats_timer(-1, 0, st);
  }
  if (!st->quiet && fstat(STDOUT_FILENO, &sb) == 0 &&
      (S_ISFIFO(sb.st_mode) || S_ISSOCK(sb.st_mode))) {
    st->output_check = evtimer_new(st->base, on_output_check, st);
    on_output_check(-1, 0, st);
  }
}

static void free_events(reader_state *st) {
  if (st->stats_timer) {
    event_free(st->stats_timer);
  }
  if (st->output_check) {
    event_free(st->output_check);
  }
  kefo_progress_free(&st->progress);
  event_free(st->sigint);
  event_free(st->sigterm);
  if (st->duration_timer) {
    event_free(st->duration_timer);
  }
}

/* Prints the run's totals and returns the status to exit with. */
static int summary(const reader_state *st) {
  fprintf(stderr,
          "kefo-reader: %llu records, %llu bytes in %.1f s, %d shard(s) "
          "finished, %d error(s)\n",
          st->records, st->bytes, elapsed(&st->t0), st->shards_finished,
          st->errors);
  /* Errors kefo recovered from (a subscription refused for a moment, a
     lease moving to another worker) are reported but are no failure:
     the consumer stopping by itself, or a shard given up, is. */
  /* So is output that could not be written, and a run that read nothing
     because nothing could start (an endpoint that cannot be reached, a
     stream that does not exist), even when --duration ended it. */
  return st->shards_failed > 0 || st->stop_reason != KEFO_STOP_ASKED ||
                 !st->asked_to_stop || st->output_errno ||
                 (st->records == 0 && st->shards_started == 0 && st->errors > 0)
             ? EXIT_FAILED
             : EXIT_OK;
}

int main(int argc, char **argv) {
  reader_state st;
  kefo_config *cfg;
  int rv, status;

  memset(&st, 0, sizeof(st));
  st.log_level = 2;
  st.stats_interval = 2;
  st.consumer_name = "kefo-reader";
  signal(SIGPIPE, SIG_IGN);
  if (kefo_config_new(&cfg) != 0) {
    return EXIT_FAILED;
  }
  status = parse_args(&st, cfg, argc, argv);
  if (status == CARRY_ON && set_defaults(&st, cfg) != 0) {
    status = EXIT_USAGE;
  }
  if (status != CARRY_ON) {
    kefo_config_del(cfg);
    return status;
  }
  st.base = event_base_new();
  rv = new_consumer(&st, cfg);
  kefo_config_del(cfg);
  if (rv != 0) {
    event_base_free(st.base);
    return EXIT_USAGE;
  }
  if (st.metrics_listen && (rv = start_metrics(&st)) != 0) {
    kefo_consumer_del(st.consumer);
    event_base_free(st.base);
    return rv == -1 ? EXIT_USAGE : EXIT_FAILED;
  }
  kefo_progress_init(&st.progress, stderr, isatty(2));
  add_events(&st);
  kefo_consumer_start(st.consumer);
  while (!kefo_consumer_stopped(st.consumer)) {
    if (event_base_loop(st.base, EVLOOP_ONCE) < 0) {
      break;
    }
  }
  status = summary(&st);
  reader_metrics_free(st.metrics);
  kefo_consumer_del(st.consumer);
  free_events(&st);
  json_line_free(&st.line);
  event_base_free(st.base);
  return status;
}
