/*
 * kinesis-mock: the project's own Kinesis server for tests and benchmarks.
 * It behaves as real Kinesis does where kinesis-local does not (shard end
 * over SubscribeToShard, initial-response, SigV4 checks, rate limits),
 * preloads large streams fast and can write steadily while tests read.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "tests/support/mock/mock_api.h"
#include "tests/support/mock/mock_server.h"

#define MAX_JOBS 16

typedef struct producer {
  mock_api *api;
  char stream[MOCK_MAX_NAME + 1];
  uint64_t rate;
  uint64_t bytes; /* 0: data "live-N"; else "t=<19 digits> live-N..." */
  uint64_t written;
  int64_t started_ms;
  struct event *timer;
  uint8_t *data; /* bytes + 64 */
} producer;

static void usage(void) {
  fprintf(stderr,
          "usage: kinesis-mock [--port N] [--tls CERT KEY] [--secret SECRET]\n"
          "         [--consumer-delay-ms N] [--idle-event-ms N]\n"
          "         [--subscription-lifetime-ms N] [--api-latency-ms N]\n"
          "         [--stamp] [--preload STREAM:SHARDS:RECORDS:BYTES]...\n"
          "         [--produce STREAM:RATE[:BYTES[:EVERY_MS]]]...\n"
          "Listens on 127.0.0.1 and prints \"listening <port>\" first.\n");
}

static int parse_i64(const char *s, int64_t min, int64_t max, int64_t *out) {
  char *end;
  long long v;

  if (!s || !*s) {
    return -1;
  }
  v = strtoll(s, &end, 10);
  if (*end || v < min || v > max) {
    return -1;
  }
  *out = v;
  return 0;
}

/* Splits "a:b:c" into at most |max| fields in place. */
static int split(char *s, char **f, int max) {
  int n = 0;

  f[n++] = s;
  while (*s && n <= max) {
    if (*s == ':') {
      *s = '\0';
      if (n == max) {
        return -1;
      }
      f[n++] = s + 1;
    }
    ++s;
  }
  return n;
}

/*
 * Creates STREAM with SHARDS shards and RECORDS records: partition key
 * pk-<i>, data the decimal i padded with '.' to BYTES, routed by the MD5
 * of the key like any record.
 */
static int preload(mock_api *api, char *spec) {
  char *f[4], pk[32];
  int64_t shards, records, bytes, i;
  mock_stream *s;
  uint8_t *data;
  int64_t now = mock_now_ms();

  if (split(spec, f, 4) != 4 || parse_i64(f[1], 1, 10000, &shards) ||
      parse_i64(f[2], 0, 100000000, &records) ||
      parse_i64(f[3], 0, MOCK_MAX_DATA, &bytes)) {
    fprintf(stderr, "kinesis-mock: --preload wants STREAM:SHARDS:RECORDS:BYTES"
                    "\n");
    return -1;
  }
  if (mock_stream_create(&api->world, f[0], (uint32_t)shards, now, &s) != 0) {
    fprintf(stderr, "kinesis-mock: cannot create stream %s\n", f[0]);
    return -1;
  }
  data = malloc((size_t)bytes + 32);
  if (!data) {
    return -1;
  }
  memset(data, '.', (size_t)bytes + 32);
  for (i = 0; i < records; ++i) {
    int pklen = snprintf(pk, sizeof(pk), "pk-%lld", (long long)i);
    int dlen = snprintf((char *)data, 24, "%lld", (long long)i);
    mock_shard *sh;
    data[dlen] = '.';
    sh = mock_stream_route(s, mock_hash_key(pk, (size_t)pklen));
    if (!sh || mock_shard_append(sh, pk, (size_t)pklen, data,
                                 (size_t)(bytes > dlen ? bytes : dlen), now,
                                 NULL) != 0) {
      free(data);
      fprintf(stderr, "kinesis-mock: preload failed at record %lld\n",
              (long long)i);
      return -1;
    }
  }
  free(data);
  return 0;
}

static void produce_tick(evutil_socket_t fd, short what, void *arg) {
  producer *p = arg;
  mock_stream *s = mock_stream_find(&p->api->world, p->stream);
  int64_t now = mock_now_ms();
  uint64_t due, n = 0;

  (void)fd;
  (void)what;
  if (!s) {
    /* The stream may be created later by the test. */
    p->started_ms = now;
    p->written = 0;
    return;
  }
  due = (uint64_t)(now - p->started_ms) * p->rate / 1000;
  while (p->written < due && n < 1000000) {
    char pk[32], num[24];
    size_t k = sizeof(num);
    uint64_t v = p->written;
    int len;
    /* "live-N" by hand: snprintf per record was a tenth of the server at
       500,000 records a second. */
    do {
      num[--k] = (char)('0' + v % 10);
      v /= 10;
    } while (v > 0);
    memcpy(pk, "live-", 5);
    memcpy(pk + 5, num + k, sizeof(num) - k);
    len = (int)(5 + sizeof(num) - k);
    pk[len] = '\0';
    mock_shard *sh = mock_stream_route(s, mock_hash_key(pk, (size_t)len));
    const uint8_t *data = (const uint8_t *)pk;
    size_t dlen = (size_t)len;
    if (p->bytes > 0) {
      /* A stamp for --stamp to fill in, then the key, then padding. */
      int m = 2 + 19 + 1 + len;
      memcpy(p->data, "t=0000000000000000000 ", 22);
      memcpy(p->data + 22, pk, (size_t)len);
      memset(p->data + m, '.', p->bytes > (uint64_t)m ? p->bytes - m : 0);
      data = p->data;
      dlen = p->bytes > (uint64_t)m ? p->bytes : (size_t)m;
    }
    if (!sh ||
        mock_shard_append(sh, pk, (size_t)len, data, dlen, now, NULL) != 0) {
      break;
    }
    ++p->written;
    ++n;
  }
}

static void on_signal(evutil_socket_t sig, short what, void *arg) {
  (void)sig;
  (void)what;
  event_base_loopbreak(arg);
}

int main(int argc, char **argv) {
  mock_server_options opts;
  int64_t delay = 0, idle = 1000, life = 300000, latency = 0, v;
  int stamp = 0;
  char *preloads[MAX_JOBS], *produces[MAX_JOBS];
  int npreloads = 0, nproduces = 0, i, rc = 1;
  producer prods[MAX_JOBS];
  struct event_base *base = NULL;
  struct event *sigterm = NULL, *sigint = NULL;
  mock_server *srv = NULL;
  mock_api api;

  memset(&opts, 0, sizeof(opts));
  memset(prods, 0, sizeof(prods));
  for (i = 1; i < argc; ++i) {
    const char *a = argv[i];
    const char *next = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--port") == 0 && parse_i64(next, 0, 65535, &v) == 0) {
      opts.port = (uint16_t)v;
      ++i;
    } else if (strcmp(a, "--tls") == 0 && i + 2 < argc) {
      opts.tls_cert = argv[++i];
      opts.tls_key = argv[++i];
    } else if (strcmp(a, "--secret") == 0 && next) {
      opts.secret = argv[++i];
    } else if (strcmp(a, "--consumer-delay-ms") == 0 &&
               parse_i64(next, 0, 86400000, &delay) == 0) {
      ++i;
    } else if (strcmp(a, "--idle-event-ms") == 0 &&
               parse_i64(next, 1, 3600000, &idle) == 0) {
      ++i;
    } else if (strcmp(a, "--subscription-lifetime-ms") == 0 &&
               parse_i64(next, 1, 86400000, &life) == 0) {
      ++i;
    } else if (strcmp(a, "--api-latency-ms") == 0 &&
               parse_i64(next, 0, 60000, &latency) == 0) {
      ++i;
    } else if (strcmp(a, "--stamp") == 0) {
      stamp = 1;
    } else if (strcmp(a, "--preload") == 0 && next && npreloads < MAX_JOBS) {
      preloads[npreloads++] = argv[++i];
    } else if (strcmp(a, "--produce") == 0 && next && nproduces < MAX_JOBS) {
      produces[nproduces++] = argv[++i];
    } else {
      fprintf(stderr, "kinesis-mock: bad argument %s\n", a);
      usage();
      return 2;
    }
  }
  /* A client that vanishes must not kill the server. */
  signal(SIGPIPE, SIG_IGN);
  mock_api_init(&api);
  api.cfg.consumer_delay_ms = delay;
  api.cfg.idle_event_ms = idle;
  api.cfg.subscription_lifetime_ms = life;
  api.cfg.api_latency_ms = latency;
  api.cfg.stamp = stamp;
  for (i = 0; i < npreloads; ++i) {
    int64_t t0 = mock_now_ms();
    if (preload(&api, preloads[i]) != 0) {
      goto done;
    }
    fprintf(stderr, "kinesis-mock: preloaded %s in %lld ms\n", preloads[i],
            (long long)(mock_now_ms() - t0));
  }
  base = event_base_new();
  if (!base || mock_server_new(&srv, base, &api, &opts) != 0) {
    goto done;
  }
  for (i = 0; i < nproduces; ++i) {
    char *f[4];
    int64_t rate, bytes = 0, every_ms = 10;
    int nf = split(produces[i], f, 4);
    struct timeval tv;
    /* EVERY_MS: how often the producer writes what is due (10 ms). At
       thousands of shards, writing every 100 ms or more batches several
       records per shard into each event, as Kinesis does under load,
       so that the server's per-event cost does not make it the limit. */
    if (nf < 2 || parse_i64(f[1], 1, 10000000, &rate) ||
        (nf >= 3 && parse_i64(f[2], 1, MOCK_MAX_DATA, &bytes)) ||
        (nf == 4 && parse_i64(f[3], 1, 60000, &every_ms))) {
      fprintf(stderr, "kinesis-mock: --produce wants "
                      "STREAM:RATE[:BYTES[:EVERY_MS]]\n");
      goto done;
    }
    tv.tv_sec = (time_t)(every_ms / 1000);
    tv.tv_usec = (suseconds_t)(every_ms % 1000 * 1000);
    prods[i].bytes = (uint64_t)bytes;
    prods[i].data = malloc((size_t)bytes + 64);
    if (!prods[i].data) {
      goto done;
    }
    prods[i].api = &api;
    snprintf(prods[i].stream, sizeof(prods[i].stream), "%s", f[0]);
    prods[i].rate = (uint64_t)rate;
    prods[i].started_ms = mock_now_ms();
    prods[i].timer = event_new(base, -1, EV_PERSIST, produce_tick, &prods[i]);
    if (!prods[i].timer) {
      goto done;
    }
    event_add(prods[i].timer, &tv);
  }
  sigterm = evsignal_new(base, SIGTERM, on_signal, base);
  sigint = evsignal_new(base, SIGINT, on_signal, base);
  if (!sigterm || !sigint) {
    goto done;
  }
  event_add(sigterm, NULL);
  event_add(sigint, NULL);
  printf("listening %u\n", (unsigned)mock_server_port(srv));
  fflush(stdout);
  event_base_dispatch(base);
  rc = 0;
done:
  for (i = 0; i < nproduces; ++i) {
    if (prods[i].timer) {
      event_free(prods[i].timer);
    }
    free(prods[i].data);
  }
  if (sigterm) {
    event_free(sigterm);
  }
  if (sigint) {
    event_free(sigint);
  }
  mock_server_del(srv);
  mock_api_free(&api);
  if (base) {
    event_base_free(base);
  }
  return rc;
}
