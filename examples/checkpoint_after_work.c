/*
 * checkpoint_after_work: checkpoints only once the application's work on
 * a record is done (source.checkpoint.interval=0, kefo_checkpoint after
 * the work), in a checkpoint file, and stops after LIMIT records. Run it
 * again with the same file: it goes on with the record after the last one
 * worked on, none skipped and none twice.
 *
 *   cc checkpoint_after_work.c $(pkg-config --cflags --libs libkefo) \
 *      -o checkpoint_after_work
 *   ./checkpoint_after_work STREAM FILE LIMIT
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <kefo/kefo.h>

typedef struct app {
  unsigned long done, limit;
  int failed;
} app;

/* The application's work: here, printing the record. */
static int work(const char *shard_id, const kefo_record *r) {
  printf("%s %s %.*s\n", shard_id, r->sequence_number, (int)r->data_len,
         (const char *)r->data);
  return fflush(stdout);
}

static int on_records(kefo_consumer *c, const char *shard_id,
                      const kefo_record *records, size_t n,
                      int64_t millis_behind_latest, void *user_data) {
  app *a = user_data;
  size_t i;

  (void)millis_behind_latest;
  for (i = 0; i < n; ++i) {
    if (work(shard_id, &records[i]) != 0) {
      /* The first i records are done: the rest of this call is read
         again by the next run. */
      a->failed = 1;
      kefo_consumer_stop_after(c, i, 1);
      return 0;
    }
    ++a->done;
    /* Done with this record: a restart begins after it. The file store
       writes before kefo_checkpoint returns. */
    if (kefo_checkpoint(c, shard_id, records[i].sequence_number,
                        records[i].sub_sequence_number) != 0) {
      a->failed = 1;
      kefo_consumer_stop_after(c, i + 1, 0);
      return 0;
    }
    if (a->done == a->limit) {
      kefo_consumer_stop_after(c, i + 1, 1);
      return 0;
    }
  }
  return 0;
}

static void on_error(kefo_consumer *c, const kefo_error_info *err,
                     void *user_data) {
  app *a = user_data;

  (void)c;
  a->failed |= !err->retryable;
  fprintf(stderr, "checkpoint_after_work: %s\n", err->message);
}

int main(int argc, char **argv) {
  app a;
  kefo_config *cfg;
  kefo_callbacks cb;
  kefo_consumer *c;
  char err[512];
  int rv;

  if (argc != 4) {
    fprintf(stderr, "usage: %s STREAM FILE LIMIT\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  memset(&a, 0, sizeof(a));
  a.limit = strtoul(argv[3], NULL, 10);
  if (kefo_config_new(&cfg) != 0) {
    return 1;
  }
  if (kefo_config_set2(cfg, "source.stream.name", argv[1], err, sizeof(err)) !=
          0 ||
      kefo_config_set2(cfg, "source.efo.consumer.name", "checkpoint-example",
                       err, sizeof(err)) != 0 ||
      kefo_config_set2(cfg, "source.init.position", "TRIM_HORIZON", err,
                       sizeof(err)) != 0 ||
      kefo_config_set2(cfg, "source.lease.store", "file", err, sizeof(err)) !=
          0 ||
      kefo_config_set2(cfg, "source.lease.file", argv[2], err, sizeof(err)) !=
          0 ||
      /* No automatic checkpoints: only kefo_checkpoint above. */
      kefo_config_set2(cfg, "source.checkpoint.interval", "0", err,
                       sizeof(err)) != 0) {
    fprintf(stderr, "checkpoint_after_work: %s\n", err);
    return 2;
  }
  memset(&cb, 0, sizeof(cb));
  cb.on_records = on_records;
  cb.on_error = on_error;
  rv = kefo_consumer_new(&c, cfg, &cb, &a, NULL);
  kefo_config_del(cfg);
  if (rv != 0) {
    fprintf(stderr, "checkpoint_after_work: %s\n", kefo_strerror(rv));
    return 1;
  }
  rv = kefo_consumer_start(c);
  if (rv == 0) {
    rv = kefo_consumer_run(c);
  }
  kefo_consumer_del(c);
  fprintf(stderr, "checkpoint_after_work: %lu records worked on\n", a.done);
  return rv == 0 && !a.failed ? 0 : 1;
}
