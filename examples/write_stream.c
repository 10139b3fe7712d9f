/*
 * write_stream: the producer on the application's own libevent loop.
 * Writes COUNT records ("record N", under sixteen partition keys) as fast
 * as the producer takes them: when kefo_producer_put says the buffer is
 * full, the application stops putting until on_writable (backpressure);
 * every EVERY records it asks for a flush, as a stream processor does at a
 * checkpoint, and reports it once every record before it is written or
 * failed; at the end it stops gracefully. Prints each acknowledged record
 * as "SHARD SEQUENCE-NUMBER DATA", as read_stream prints it when it reads
 * it back (records packed into one KPL aggregate, the default, share its
 * sequence number), each checkpoint on stderr, and a summary; exits 1 if
 * a record failed.
 *
 *   cc write_stream.c $(pkg-config --cflags --libs libkefo) -o write_stream
 *   AWS_REGION=us-east-1 ./write_stream my-stream 1000 250
 *
 * Credentials, region and endpoint come from the usual AWS places, as for
 * the consumer.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <kefo/kefo.h>

typedef struct app {
  struct event_base *base;
  struct event *pump; /* puts records until the producer is full */
  kefo_producer *producer;
  long count, every, next;
  long acked, failed, would_block, checkpoints;
  /* The data of each record, kept for printing it when acknowledged: kefo
     copies what it is given, so the application needs it only for this. */
  char (*data)[32];
} app;

/* The one application state: a flush's callback gets only its own
   flush_data (here the count of records it covers). */
static app the_app;

static void on_ack(kefo_producer *p, void *record_ctx,
                   const kefo_put_result *res, void *user_data) {
  app *a = user_data;
  long i = (long)(intptr_t)record_ctx;

  (void)p;
  ++a->acked;
  printf("%s %s %s\n", res->shard_id, res->sequence_number, a->data[i]);
}

static void on_failure(kefo_producer *p, void *record_ctx,
                       const kefo_error_info *err, void *user_data) {
  app *a = user_data;

  (void)p;
  ++a->failed;
  fprintf(stderr, "write_stream: record %ld failed: %s\n",
          (long)(intptr_t)record_ctx,
          err->message ? err->message : kefo_strerror((int)err->code));
}

/* The buffer has room again: put on from where it stopped. */
static void on_writable(kefo_producer *p, void *user_data) {
  app *a = user_data;

  (void)p;
  event_active(a->pump, 0, 0);
}

static void on_stopped(kefo_producer *p, const kefo_error_info *err,
                       void *user_data) {
  app *a = user_data;

  (void)p;
  if (err) {
    fprintf(stderr, "write_stream: stopped: %s\n",
            err->message ? err->message : kefo_strerror((int)err->code));
  }
  event_base_loopexit(a->base, NULL);
}

/* A checkpoint is done: every record put before its flush is written or
   failed. |flush_data| is the count of records put before it. */
static void on_flushed(kefo_producer *p, void *flush_data) {
  app *a = &the_app;
  long upto = (long)(intptr_t)flush_data;

  (void)p;
  ++a->checkpoints;
  fprintf(stderr,
          "checkpoint %ld: the first %ld records done (%ld "
          "acknowledged, %ld failed so far)\n",
          a->checkpoints, upto, a->acked, a->failed);
}

static void pump_cb(evutil_socket_t fd, short what, void *arg) {
  app *a = arg;

  (void)fd;
  (void)what;
  while (a->next < a->count) {
    char key[16];
    int rv;

    snprintf(key, sizeof(key), "key-%ld", a->next % 16);
    rv = kefo_producer_put(a->producer, key, NULL, a->data[a->next],
                           strlen(a->data[a->next]), (void *)(intptr_t)a->next);
    if (rv == KEFO_ERR_WOULD_BLOCK) {
      ++a->would_block; /* on_writable comes back here */
      return;
    }
    if (rv != 0) {
      fprintf(stderr, "write_stream: put: %s\n", kefo_strerror(rv));
      kefo_producer_stop(a->producer, 0);
      return;
    }
    if (++a->next % a->every == 0 || a->next == a->count) {
      kefo_producer_flush(a->producer, on_flushed, (void *)(intptr_t)a->next);
    }
  }
  /* Everything put: stop once it is written (or sink.stop.timeout). */
  kefo_producer_stop(a->producer, 1);
}

static void on_sigint(evutil_socket_t sig, short what, void *arg) {
  app *a = arg;

  (void)sig;
  (void)what;
  a->count = a->next; /* put no more */
  kefo_producer_stop(a->producer, 1);
}

int main(int argc, char **argv) {
  app *a = &the_app;
  kefo_producer_callbacks *cbs;
  kefo_config *cfg;
  struct event *sig;
  char err[256];
  long i;
  int rv;

  if (argc != 4 || (a->count = atol(argv[2])) <= 0 ||
      (a->every = atol(argv[3])) <= 0) {
    fprintf(stderr, "usage: %s STREAM COUNT EVERY\n", argv[0]);
    return 2;
  }
  /* Writes to a closed connection must fail, not kill: kefo.h asks this of
     every application. */
  signal(SIGPIPE, SIG_IGN);
  a->data = calloc((size_t)a->count, sizeof(*a->data));
  a->base = event_base_new();
  if (a->data == NULL || a->base == NULL || kefo_config_new(&cfg) != 0) {
    return 1;
  }
  for (i = 0; i < a->count; ++i) {
    snprintf(a->data[i], sizeof(a->data[i]), "record-%ld", i);
  }
  /* A small buffer, so that this example meets its limit and shows
     backpressure: at most 64 records held (the default is 10,000). */
  if (kefo_config_set2(cfg, "sink.stream.name", argv[1], err, sizeof(err)) !=
          0 ||
      kefo_config_set2(cfg, "sink.requests.max-buffered", "64", err,
                       sizeof(err)) != 0) {
    fprintf(stderr, "write_stream: %s\n", err);
    return 2;
  }
  if (kefo_producer_callbacks_new(&cbs) != 0) {
    return 1;
  }
  kefo_producer_callbacks_set_on_ack(cbs, on_ack);
  kefo_producer_callbacks_set_on_failure(cbs, on_failure);
  kefo_producer_callbacks_set_on_writable(cbs, on_writable);
  kefo_producer_callbacks_set_on_stopped(cbs, on_stopped);
  rv = kefo_producer_new(&a->producer, cfg, cbs, a, a->base);
  kefo_producer_callbacks_del(cbs);
  kefo_config_del(cfg);
  if (rv != 0) {
    fprintf(stderr, "write_stream: %s\n", kefo_strerror(rv));
    return 1;
  }
  a->pump = event_new(a->base, -1, 0, pump_cb, a);
  sig = evsignal_new(a->base, SIGINT, on_sigint, a);
  if (a->pump == NULL || sig == NULL || event_add(sig, NULL) != 0) {
    return 1;
  }
  event_active(a->pump, 0, 0);
  event_base_dispatch(a->base);
  fprintf(stderr,
          "write_stream: %ld put, %ld acknowledged, %ld failed, %ld "
          "checkpoints, would-block %ld times\n",
          a->next, a->acked, a->failed, a->checkpoints, a->would_block);
  kefo_producer_del(a->producer);
  event_free(sig);
  event_free(a->pump);
  event_base_free(a->base);
  free(a->data);
  return a->failed > 0 || a->acked != a->next ? 1 : 0;
}
