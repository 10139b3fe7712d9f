/*
 * bench_decode: the whole decode path of the EFO reader on one core, from
 * the bytes of SubscribeToShardEvent messages to the application's
 * on_records: event-stream framing and CRCs, the JSON payload, the
 * subscription core's sequence checks, base64 of every record's Data, KPL
 * de-aggregation (a pass-through for plain records) and delivery through
 * kefo__consumer_deliver, the function the readers call. Only the socket
 * and HTTP/2 framing are left out (bench_e2e has them).
 *
 * Events are pre-encoded in memory as Kinesis sends them; each size is
 * timed beside memcpy of the same wire bytes. Figures: MB/s of record data
 * handed to on_records and of wire bytes, records/s, all per core.
 */
#include "config.h"

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include <kefo/kefo.h>

#include "base/base64.h"
#include "aws/event_stream.h"
#include "efo/subscription.h"
#include "runtime/consumer_internal.h"

#define MIB (1024u * 1024u)
#define NRUNS 5
/* Wire bytes per case: enough to leave the caches. */
#define TARGET_WIRE (48u * MIB)

typedef struct bench_case {
  const char *name;
  size_t record_bytes;
  size_t per_event; /* records in one event: about 0.5 MiB of data */
  /* Streams whose 16 KiB frames take turns, as 64 shards' do on one
     connection at full speed: each event's bytes are then spread over
     64 times as much traffic, and have left the core's cache by the
     time the event is complete. */
  size_t streams;
} bench_case;

static const bench_case cases[] = {
    {"100 B records", 100, 5000, 1},
    {"1 KiB records", 1024, 500, 1},
    {"25 KiB records", 25 * 1024, 20, 1},
    {"1 KiB x 64 str.", 1024, 500, 64},
};

#define MAX_STREAMS 64

struct run;

/* One shard's subscription: its reader, core and event-stream decoder. */
typedef struct stream {
  struct run *ru;
  kefo_shard_slot *r;
  kefo_subscription_core core;
  kefo_es_decoder dec;
  const uint8_t *wire;
  size_t len, off;
} stream;

typedef struct run {
  kefo_consumer *c;
  stream st[MAX_STREAMS];
  size_t nstreams;
  kefo_records_parser sts; /* the consumer's, as the EFO reader shares it */
  uint64_t records, bytes;
  int bad;
} run;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int on_records(kefo_consumer *c, const char *shard, const kefo_record *r,
                      size_t n, int64_t behind, void *ud) {
  run *ru = ud;
  size_t i;

  (void)c;
  (void)shard;
  (void)behind;
  ru->records += n;
  for (i = 0; i < n; ++i) {
    ru->bytes += r[i].data_len;
  }
  return 0;
}

static void on_shard_event(kefo_consumer *c, const char *shard,
                           kefo_shard_event ev, void *ud) {
  (void)c;
  (void)shard;
  (void)ev;
  (void)ud;
}

static void on_error(kefo_consumer *c, const kefo_error_info *e, void *ud) {
  (void)c;
  (void)ud;
  fprintf(stderr, "bench_decode: %s\n", e->message);
}

/* What efo/efo_reader.c does with an event, kefo_kinesis_subscription's
   checks of the message before it. */
static int on_message(const kefo_es_message *m, void *ud) {
  stream *sm = ud;
  run *ru = sm->ru;
  const kefo_es_header *et = kefo__es_message_header(m, ":event-type");
  const char *const *seqs;
  kefo_records_event ev;
  size_t n;
  int skip;

  if (et == NULL || et->value_len != 21 ||
      memcmp(et->value, "SubscribeToShardEvent", 21) != 0) {
    ru->bad = 1;
    return -1;
  }
  if (kefo__records_parse(&ru->sts, m->payload, m->payload_len, &ev) != 0) {
    ru->bad = 1;
    return -1;
  }
  n = ev.nrecords;
  seqs = kefo__consumer_sequence_numbers(ru->c, ev.records, n);
  skip = seqs ? kefo__subcore_on_event(&sm->core, 0, seqs, n, ev.continuation)
              : -1;
  if (skip < 0 || kefo__consumer_deliver(ru->c, sm->r, ev.records, n, skip,
                                         ev.behind_ms) != 0) {
    ru->bad = 1;
    return -1;
  }
  kefo__subcore_on_delivered(&sm->core, n ? seqs[n - 1] : NULL);
  return 0;
}

/* Appends one encoded event of |nrec| records of |size| bytes, sequence
   numbers from |*seq| on. Returns its length, 0 when |cap| is short. */
static size_t encode_event(uint8_t *out, size_t cap, size_t nrec, size_t size,
                           uint64_t *seq) {
  static const char prefix[] = "4959000000000000000000000000000000000000000";
  size_t b64cap = kefo__base64_encoded_len(size) + 1, i, len, jl;
  uint8_t *data = malloc(size), *b64 = malloc(b64cap);
  char *json, *p;
  kefo_es_header h[3];
  size_t jcap = nrec * (b64cap + 256) + 256;

  json = malloc(jcap);
  p = json;
  p += sprintf(p,
               "{\"ChildShards\":[],\"ContinuationSequenceNumber\":\"%s%015llu"
               "\",\"MillisBehindLatest\":0,\"Records\":[",
               prefix, (unsigned long long)(*seq + nrec - 1));
  for (i = 0; i < nrec; ++i) {
    size_t k;
    for (k = 0; k < size; ++k) {
      data[k] = (uint8_t)(k * 31 + i + *seq);
    }
    kefo__base64_encode(b64, b64cap, data, size, &len);
    b64[len] = 0;
    p += sprintf(p,
                 "%s{\"ApproximateArrivalTimestamp\":1.795e9,\"Data\":\"%s\","
                 "\"EncryptionType\":\"NONE\",\"PartitionKey\":\"pk-%zu\","
                 "\"SequenceNumber\":\"%s%015llu\"}",
                 i ? "," : "", (char *)b64, i, prefix,
                 (unsigned long long)(*seq + i));
  }
  p += sprintf(p, "]}");
  jl = (size_t)(p - json);
  *seq += nrec;
  memset(h, 0, sizeof(h));
  h[0].name = ":event-type";
  h[0].name_len = 11;
  h[0].type = KEFO_ES_STRING;
  h[0].value = (const uint8_t *)"SubscribeToShardEvent";
  h[0].value_len = 21;
  h[1].name = ":content-type";
  h[1].name_len = 13;
  h[1].type = KEFO_ES_STRING;
  h[1].value = (const uint8_t *)"application/json";
  h[1].value_len = 16;
  h[2].name = ":message-type";
  h[2].name_len = 13;
  h[2].type = KEFO_ES_STRING;
  h[2].value = (const uint8_t *)"event";
  h[2].value_len = 5;
  if (kefo__es_encode(out, cap, h, 3, (const uint8_t *)json, jl, &len) != 0) {
    len = 0;
  }
  free(json);
  free(data);
  free(b64);
  return len;
}

static kefo_consumer *make_consumer(struct event_base *base, run *ru) {
  static const kefo_callbacks cb = {on_records, on_shard_event, on_error};
  static const char *const kv[] = {"source.stream.name",
                                   "bench",
                                   "aws.region",
                                   "us-east-1",
                                   "aws.endpoint",
                                   "http://127.0.0.1:9",
                                   "aws.credentials.provider",
                                   "BASIC",
                                   "aws.credentials.provider.basic.accesskeyid",
                                   "AKIDBENCH",
                                   "aws.credentials.provider.basic.secretkey",
                                   "bench-secret",
                                   "source.lease.store",
                                   "memory",
                                   "source.efo.consumer.name",
                                   "bench",
                                   NULL};
  kefo_config *cfg;
  kefo_consumer *c = NULL;
  size_t i;

  if (kefo_config_new(&cfg) != 0) {
    return NULL;
  }
  for (i = 0; kv[i]; i += 2) {
    if (kefo_config_set(cfg, kv[i], kv[i + 1]) != 0) {
      fprintf(stderr, "bench_decode: cannot set %s\n", kv[i]);
    }
  }
  i = (size_t)kefo_consumer_new(&c, cfg, &cb, ru, base);
  if (i != 0) {
    fprintf(stderr, "bench_decode: %s\n", kefo_strerror((int)i));
    c = NULL;
  } else {
    /* Never started (no network here), but delivering: records reach
       on_records only while the consumer runs. */
    c->state = C_RUNNING;
  }
  kefo_config_del(cfg);
  return c;
}

int main(int argc, char **argv) {
  struct event_base *base = event_base_new();
  int quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  size_t ci;

  printf("bench_decode: SubscribeToShardEvent bytes to on_records, one core; "
         "best of %d runs.\nMB = 10^6 bytes; data MB/s counts the records' "
         "bytes handed on, wire MB/s the event-stream bytes.\n\n",
         NRUNS);
  printf("%-16s %9s %10s %10s %12s %12s %9s\n", "case", "wire MB", "data MB/s",
         "wire MB/s", "records/s", "memcpy MB/s", "/memcpy");
  for (ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ++ci) {
    const bench_case *bc = &cases[ci];
    /* Interleaved: two events a stream, so that every stream has one
       in flight for most of the run. */
    size_t target = (quick ? TARGET_WIRE / 16 : TARGET_WIRE);
    size_t per_stream = bc->streams > 1 ? 2 * MIB : target;
    size_t cap = bc->streams * (per_stream + 4 * MIB), len = 0, k;
    uint8_t *wire = malloc(cap), *copy = malloc(cap);
    size_t starts[MAX_STREAMS + 1];
    uint64_t expect = 0;
    double best = 0, best_mc = 0, best_rs = 0, best_data = 0;
    int rep;
    run ru;

    if (bc->streams > 1 && quick) {
      per_stream = MIB / 2;
    }
    for (k = 0; k < bc->streams; ++k) {
      uint64_t seq = 1;
      size_t mine = 0;
      starts[k] = len;
      while (mine < per_stream) {
        size_t n = encode_event(wire + len, cap - len, bc->per_event,
                                bc->record_bytes, &seq);
        if (n == 0) {
          break;
        }
        len += n;
        mine += n;
      }
      expect += seq - 1;
    }
    starts[bc->streams] = len;
    for (rep = 0; rep < NRUNS; ++rep) {
      double t0, t1;
      int live;

      memset(&ru, 0, sizeof(ru));
      ru.c = make_consumer(base, &ru);
      if (ru.c == NULL) {
        fprintf(stderr, "bench_decode: cannot make a consumer\n");
        return 1;
      }
      ru.nstreams = bc->streams;
      for (k = 0; k < ru.nstreams; ++k) {
        stream *sm = &ru.st[k];
        sm->ru = &ru;
        sm->r = calloc(1, sizeof(*sm->r));
        if (sm->r == NULL) {
          fprintf(stderr, "bench_decode: no memory\n");
          return 1;
        }
        sm->r->c = ru.c;
        snprintf(sm->r->shard_id, sizeof(sm->r->shard_id), "shardId-%012zu", k);
        sm->r->max_event_ms = KEFO_WATERMARK_NONE;
        kefo__subcore_init(&sm->core, sm->r->shard_id, "TRIM_HORIZON", NULL,
                           NULL, 0);
        kefo__subcore_on_subscribe(&sm->core, 0);
        kefo__es_decoder_init(&sm->dec, NULL, 0, 0, on_message, sm);
        sm->wire = wire + starts[k];
        sm->len = starts[k + 1] - starts[k];
        sm->off = 0;
      }
      kefo__records_parser_init(&ru.sts, NULL);
      t0 = now_s();
      /* As HTTP/2 hands it on: 16 KiB DATA frames, the streams' in
         turn. */
      do {
        live = 0;
        for (k = 0; k < ru.nstreams && !ru.bad; ++k) {
          stream *sm = &ru.st[k];
          size_t n = sm->len - sm->off < 16384 ? sm->len - sm->off : 16384;
          if (n == 0) {
            continue;
          }
          if (kefo__es_decoder_feed(&sm->dec, sm->wire + sm->off, n) != 0) {
            ru.bad = 1;
          }
          sm->off += n;
          live = 1;
        }
      } while (live && !ru.bad);
      t1 = now_s();
      if (ru.bad || ru.records != expect) {
        fprintf(stderr, "bench_decode: %s: delivered %llu of %llu records\n",
                bc->name, (unsigned long long)ru.records,
                (unsigned long long)expect);
        return 1;
      }
      if (len / (t1 - t0) / 1e6 > best) {
        best = len / (t1 - t0) / 1e6;
        best_data = ru.bytes / (t1 - t0) / 1e6;
        best_rs = ru.records / (t1 - t0);
      }
      for (k = 0; k < ru.nstreams; ++k) {
        kefo__es_decoder_free(&ru.st[k].dec);
        free(ru.st[k].r);
      }
      kefo__records_parser_free(&ru.sts);
      kefo_consumer_del(ru.c);
      t0 = now_s();
      memcpy(copy, wire, len);
      t1 = now_s();
      if (len / (t1 - t0) / 1e6 > best_mc) {
        best_mc = len / (t1 - t0) / 1e6;
      }
    }
    printf("%-16s %9.1f %10.0f %10.0f %12.0f %12.0f %9.3f\n", bc->name,
           len / 1e6, best_data, best, best_rs, best_mc, best / best_mc);
    free(wire);
    free(copy);
  }
  event_base_free(base);
  return 0;
}
