/*
 * read_stream: reads every shard of a stream over Enhanced Fan-Out with a
 * job-managed consumer (kefo registers it, and deregisters it at a graceful
 * stop), on kefo's own event loop, printing each record as
 * "SHARD SEQUENCE-NUMBER DATA". SIGINT or SIGTERM stops it gracefully.
 *
 *   cc read_stream.c $(pkg-config --cflags --libs libkefo) -o read_stream
 *   AWS_REGION=us-east-1 ./read_stream my-stream
 *
 * Credentials, region and endpoint come from the usual AWS places
 * (AWS_ACCESS_KEY_ID, AWS_REGION, AWS_ENDPOINT_URL_KINESIS for an
 * emulator, profiles, instance roles).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <kefo/kefo.h>

static kefo_consumer *consumer;
/* An error kefo will not retry: the consumer stops by itself. */
static int failed;

/* A signal handler may not call into kefo, except this one function:
   it only writes a byte to a pipe the consumer's loop watches. */
static void on_signal(int sig) {
  (void)sig;
  kefo_consumer_stop_async(consumer, 1);
}

/* Runs on the loop's thread; |records| are lent for the call only. */
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
  /* Returning 0 marks these records finished with: the automatic
     checkpoints (every 5 s, and at a graceful stop) may cover them. */
  return fflush(stdout) == 0 ? 0 : -1;
}

static void on_error(kefo_consumer *c, const kefo_error_info *err,
                     void *user_data) {
  (void)c;
  (void)user_data;
  failed |= !err->retryable;
  fprintf(stderr, "read_stream: %s%s%s%s\n", err->shard_id ? err->shard_id : "",
          err->shard_id ? ": " : "", err->message,
          err->retryable ? " (retrying)" : "");
}

int main(int argc, char **argv) {
  kefo_config *cfg;
  kefo_callbacks cb;
  char err[512];
  int rv;

  if (argc != 2) {
    fprintf(stderr, "usage: %s STREAM\n", argv[0]);
    return 2;
  }
  /* kefo writes to sockets that a peer may close: never die of it. */
  signal(SIGPIPE, SIG_IGN);
  if (kefo_config_new(&cfg) != 0) {
    return 1;
  }
  if (kefo_config_set2(cfg, "source.stream.name", argv[1], err, sizeof(err)) !=
          0 ||
      kefo_config_set2(cfg, "source.efo.consumer.name", "read-stream-example",
                       err, sizeof(err)) != 0 ||
      kefo_config_set2(cfg, "source.init.position", "TRIM_HORIZON", err,
                       sizeof(err)) != 0 ||
      /* Progress is kept in memory only: a rerun starts again. */
      kefo_config_set2(cfg, "source.lease.store", "memory", err, sizeof(err)) !=
          0) {
    fprintf(stderr, "read_stream: %s\n", err);
    kefo_config_del(cfg);
    return 2;
  }
  memset(&cb, 0, sizeof(cb));
  cb.on_records = on_records;
  cb.on_error = on_error;
  /* NULL: kefo makes and runs its own event loop. */
  rv = kefo_consumer_new(&consumer, cfg, &cb, NULL, NULL);
  kefo_config_del(cfg); /* copied by the consumer */
  if (rv != 0) {
    fprintf(stderr, "read_stream: %s\n", kefo_strerror(rv));
    return 1;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  rv = kefo_consumer_start(consumer);
  if (rv == 0) {
    /* Until the consumer stops: by a signal, or by itself on an error
       it will not retry (on_error said which). */
    rv = kefo_consumer_run(consumer);
  }
  kefo_consumer_del(consumer);
  return rv == 0 && !failed ? 0 : 1;
}
