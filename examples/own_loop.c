/*
 * own_loop: the consumer on the application's own libevent loop, beside a
 * timer of the application's. Every second the timer prints each shard's
 * records and watermark; at 2 s it pauses the first shard for 2 s (as an
 * application's own flow control would) and at 4 s resumes it; a max
 * watermark holds every shard below a bound (as Flink's split alignment
 * does for an external coordinator) until it is lifted. Stops after
 * SECONDS and prints "SHARD RECORDS" per shard.
 *
 *   cc own_loop.c $(pkg-config --cflags --libs libkefo) -o own_loop
 *   ./own_loop STREAM SECONDS
 */
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <kefo/kefo.h>

typedef struct app {
  kefo_consumer *consumer;
  struct event_base *base;
  struct event *tick;
  int seconds, elapsed;
  char paused[128]; /* the shard this application pauses */
  int is_paused;
  uint64_t records_while_paused;
} app;

static int on_records(kefo_consumer *c, const char *shard_id,
                      const kefo_record *records, size_t n,
                      int64_t millis_behind_latest, void *user_data) {
  app *a = user_data;

  (void)c;
  (void)records;
  (void)millis_behind_latest;
  /* kefo hands nothing on for a paused shard: this stays 0. */
  if (a->is_paused && strcmp(shard_id, a->paused) == 0) {
    a->records_while_paused += n;
  }
  return 0;
}

static void on_shard_event(kefo_consumer *c, const char *shard_id,
                           kefo_shard_event ev, void *user_data) {
  (void)c;
  (void)user_data;
  if (ev == KEFO_SHARD_EVENT_PAUSED || ev == KEFO_SHARD_EVENT_RESUMED) {
    printf("%s %s\n", shard_id,
           ev == KEFO_SHARD_EVENT_PAUSED ? "paused" : "resumed");
  }
}

static void on_error(kefo_consumer *c, const kefo_error_info *err,
                     void *user_data) {
  (void)c;
  (void)user_data;
  fprintf(stderr, "own_loop: %s\n", err->message);
}

/* The application's own timer, on the same loop as the consumer. */
static void on_tick(evutil_socket_t fd, short what, void *arg) {
  app *a = arg;
  struct timeval one = {1, 0};
  kefo_stats st;

  (void)fd;
  (void)what;
  ++a->elapsed;
  if (a->elapsed == 1) {
    /* A bound far in the past holds every shard that has a record. */
    kefo_set_max_watermark(a->consumer, 0);
  } else if (a->elapsed == 2) {
    kefo_set_max_watermark(a->consumer, INT64_MAX); /* lifted */
    if (kefo_consumer_stats(a->consumer, &st) == 0 && st.nshards > 0) {
      snprintf(a->paused, sizeof(a->paused), "%s", st.shards[0].shard_id);
      a->is_paused = kefo_shard_pause(a->consumer, a->paused) == 0;
    }
  } else if (a->elapsed == 4 && a->is_paused) {
    kefo_shard_resume(a->consumer, a->paused);
    a->is_paused = 0;
  }
  if (a->elapsed >= a->seconds) {
    kefo_consumer_stop(a->consumer, 1);
    return; /* the loop ends once nothing is left on it */
  }
  event_add(a->tick, &one);
}

int main(int argc, char **argv) {
  app a;
  kefo_config *cfg;
  kefo_callbacks cb;
  struct timeval one = {1, 0};
  kefo_stats st;
  char err[512];
  size_t i;
  int rv;

  if (argc != 3) {
    fprintf(stderr, "usage: %s STREAM SECONDS\n", argv[0]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  memset(&a, 0, sizeof(a));
  a.seconds = atoi(argv[2]);
  a.base = event_base_new();
  if (a.base == NULL || kefo_config_new(&cfg) != 0) {
    return 1;
  }
  if (kefo_config_set2(cfg, "source.stream.name", argv[1], err, sizeof(err)) !=
          0 ||
      kefo_config_set2(cfg, "source.efo.consumer.name", "own-loop-example", err,
                       sizeof(err)) != 0 ||
      kefo_config_set2(cfg, "source.init.position", "TRIM_HORIZON", err,
                       sizeof(err)) != 0 ||
      kefo_config_set2(cfg, "source.lease.store", "memory", err, sizeof(err)) !=
          0) {
    fprintf(stderr, "own_loop: %s\n", err);
    return 2;
  }
  memset(&cb, 0, sizeof(cb));
  cb.on_records = on_records;
  cb.on_shard_event = on_shard_event;
  cb.on_error = on_error;
  rv = kefo_consumer_new(&a.consumer, cfg, &cb, &a, a.base);
  kefo_config_del(cfg);
  if (rv != 0) {
    fprintf(stderr, "own_loop: %s\n", kefo_strerror(rv));
    return 1;
  }
  a.tick = evtimer_new(a.base, on_tick, &a);
  event_add(a.tick, &one);
  kefo_consumer_start(a.consumer);
  /* The application's loop: it runs kefo's events and its own alike. */
  while (!kefo_consumer_stopped(a.consumer)) {
    event_base_loop(a.base, EVLOOP_ONCE);
  }
  if (kefo_consumer_stats(a.consumer, &st) == 0) {
    for (i = 0; i < st.nshards; ++i) {
      printf("%s %" PRIu64 "\n", st.shards[i].shard_id, st.shards[i].records);
    }
  }
  printf("records while paused: %" PRIu64 "\n", a.records_while_paused);
  kefo_consumer_del(a.consumer);
  event_free(a.tick);
  event_base_free(a.base);
  return 0;
}
