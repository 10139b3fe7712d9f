/*
 * self_managed: reads a stream with a consumer the application registered
 * itself (SELF_MANAGED: kefo checks that it is ACTIVE and belongs to the
 * stream, and never registers or deregisters it), or with GetRecords
 * polling when given --polling (no consumer at all). Prints
 * "SHARD SEQUENCE-NUMBER DATA" lines, and stops after SECONDS.
 *
 *   cc self_managed.c $(pkg-config --cflags --libs libkefo) -o self_managed
 *   ./self_managed STREAM-ARN CONSUMER-ARN SECONDS [--polling]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <kefo/kefo.h>

static kefo_consumer *consumer;
static int failed;

static void on_alarm(int sig) {
  (void)sig;
  kefo_consumer_stop_async(consumer, 1);
}

static int on_records(kefo_consumer *c, const char *shard_id,
                      const kefo_record *records, size_t n,
                      int64_t millis_behind_latest, void *user_data) {
  size_t i;

  (void)c;
  (void)millis_behind_latest;
  (void)user_data;
  for (i = 0; i < n; ++i) {
    printf("%s %s %.*s\n", shard_id, records[i].sequence_number,
           (int)records[i].data_len, (const char *)records[i].data);
  }
  return fflush(stdout) == 0 ? 0 : -1;
}

static void on_error(kefo_consumer *c, const kefo_error_info *err,
                     void *user_data) {
  (void)c;
  (void)user_data;
  failed |= !err->retryable;
  fprintf(stderr, "self_managed: %s\n", err->message);
}

int main(int argc, char **argv) {
  kefo_config *cfg;
  kefo_callbacks cb;
  char err[512];
  int rv, polling = argc == 5 && strcmp(argv[4], "--polling") == 0;
  const char *keys[][2] = {
      {"source.stream.arn", argv[1]},
      {"source.init.position", "TRIM_HORIZON"},
      {"source.lease.store", "memory"},
      /* Polling ignores the consumer: GetRecords needs none. */
      {"source.reader.type", polling ? "POLLING" : "EFO"},
      {"source.efo.lifecycle", "SELF_MANAGED"},
      {"source.efo.consumer.arn", polling ? NULL : argv[2]}};
  size_t i;

  if (argc < 4 || argc > 5 || (argc == 5 && !polling)) {
    fprintf(stderr, "usage: %s STREAM-ARN CONSUMER-ARN SECONDS [--polling]\n",
            argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  if (kefo_config_new(&cfg) != 0) {
    return 1;
  }
  for (i = 0; i < sizeof(keys) / sizeof(keys[0]); ++i) {
    /* A NULL value leaves the key at its default. */
    if (kefo_config_set2(cfg, keys[i][0], keys[i][1], err, sizeof(err)) != 0) {
      fprintf(stderr, "self_managed: %s\n", err);
      kefo_config_del(cfg);
      return 2;
    }
  }
  memset(&cb, 0, sizeof(cb));
  cb.on_records = on_records;
  cb.on_error = on_error;
  rv = kefo_consumer_new(&consumer, cfg, &cb, NULL, NULL);
  kefo_config_del(cfg);
  if (rv != 0) {
    fprintf(stderr, "self_managed: %s\n", kefo_strerror(rv));
    return 1;
  }
  signal(SIGALRM, on_alarm);
  alarm((unsigned)atoi(argv[3]));
  rv = kefo_consumer_start(consumer);
  if (rv == 0) {
    rv = kefo_consumer_run(consumer);
  }
  kefo_consumer_del(consumer);
  return rv == 0 && !failed ? 0 : 1;
}
