/*
 * bench_wire: throughput of the wire-format cores (event-stream decoding,
 * base64, CRC-32, KPL aggregation), each printed beside memcpy over the
 * same number of bytes and, where one exists, a peer implementation timed
 * in the same run on the same buffers, so a figure can be judged without
 * another machine's numbers.
 */
#include "config.h"

/* clock_gettime and sysconf are POSIX, not C99. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <zlib.h>

#include <kefo/kefo.h>

#include "base/base64.h"
#include "base/crc32.h"
#include "base/md5.h"
#include "aws/sha256_many.h"
#include "aws/event_stream.h"
#include "aws/records_reader.h"
#include "aws/records_split.h"
#include "base/buf.h"
#include "shard/kpl.h"
#include "shard/kpl_aggregate.h"

#define KIB 1024u
#define MIB (1024u * 1024u)

/* Sizes that SubscribeToShard traffic has: a large event (a busy shard's
   batch), small ones (a trickle of records), and HTTP/2 DATA frames of
   16 KiB, the initial SETTINGS_MAX_FRAME_SIZE. */
#define BIG_PAYLOAD MIB
#define SMALL_PAYLOAD KIB
#define SMALL_STREAM_TARGET MIB
#define CHUNK (16u * KIB)
#define B64_INPUT MIB

/* One KPL aggregate of 100 B records, about the 50 KiB the KPL's
   AggregationMaxSize defaults to. */
#define AGG_RECORDS 500
#define AGG_RECORD_BYTES 100

#define NRUNS 5
#define MAX_ROWS 56

typedef struct options {
  /* Each run repeats the operation until this many seconds have passed. */
  double run_s;
  /* Untimed repetition before the runs: faults pages in, fills caches and
     lets the CPU clock settle. */
  double warm_s;
} options;

/* One timed operation: does its work once and returns the bytes it
   processed, the numerator of MB/s. */
typedef size_t (*bench_op)(void *ctx);

typedef struct result {
  double mb_s;
  double ops_s;
} result;

typedef struct row {
  const char *name;
  const char *input;
  size_t bytes;
  result r;
  /* Messages handed to the callback per operation; 0 for rows that are
     not event-stream decoding. */
  size_t msgs_per_op;
  /* Index of the row this one is compared with, or -1. */
  int peer;
} row;

/* Everything the timed loops produce is folded in here, so the compiler
   cannot prove the work unused and drop it. Printed at the end. */
static volatile uint32_t sink;

static double now_s(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
  fprintf(stderr, "bench_wire: %s\n", what);
  exit(1);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n);

  if (p == NULL) {
    die("out of memory");
  }
  return p;
}

/* One operation under measurement: its batch size and best run so far. */
typedef struct timer {
  bench_op op;
  void *ctx;
  size_t batch;
  result best;
} timer;

/*
 * Sizes |t|'s batch so that one lasts at least a millisecond, which keeps
 * clock reads out of the figure even for sub-microsecond operations, then
 * warms it up.
 */
static void calibrate(const options *opt, timer *t) {
  double t0;
  size_t i;

  t->batch = 1;
  for (;;) {
    t0 = now_s();
    for (i = 0; i < t->batch; ++i) {
      t->op(t->ctx);
    }
    if (now_s() - t0 >= 1e-3 || t->batch >= ((size_t)1 << 30)) {
      break;
    }
    t->batch *= 2;
  }
  t0 = now_s();
  do {
    for (i = 0; i < t->batch; ++i) {
      t->op(t->ctx);
    }
  } while (now_s() - t0 < opt->warm_s);
}

/* One run: batches until opt->run_s has passed; keeps the best rate. */
static void run_once(const options *opt, timer *t) {
  double t0, dt, bytes = 0, ops = 0;
  size_t i;

  t0 = now_s();
  do {
    for (i = 0; i < t->batch; ++i) {
      bytes += (double)t->op(t->ctx);
    }
    ops += (double)t->batch;
    dt = now_s() - t0;
  } while (dt < opt->run_s);
  if (bytes / dt / 1e6 > t->best.mb_s) {
    t->best.mb_s = bytes / dt / 1e6;
    t->best.ops_s = ops / dt;
  }
}

/*
 * Times the |n| operations of one case (the code under test, memcpy over
 * the same bytes, a peer) in turn, NRUNS rounds, so that a spell of load
 * from other processes slows them all rather than one, and their ratios
 * stay fair. The best run of each counts: the others were slowed by
 * something outside the code under test.
 */
static void measure_group(const options *opt, timer *t, int n) {
  int k, run;

  for (k = 0; k < n; ++k) {
    t[k].best.mb_s = 0;
    t[k].best.ops_s = 0;
    calibrate(opt, &t[k]);
  }
  for (run = 0; run < NRUNS; ++run) {
    for (k = 0; k < n; ++k) {
      run_once(opt, &t[k]);
    }
  }
}

/* Deterministic input, so runs on different machines decode the same
   bytes (xorshift32). */
static uint32_t next_rand(uint32_t *s) {
  uint32_t x = *s;

  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  *s = x;
  return x;
}

static void fill_random(uint8_t *p, size_t n, uint32_t seed) {
  size_t i;

  for (i = 0; i < n; ++i) {
    p[i] = (uint8_t)(next_rand(&seed) >> 24);
  }
}

/*
 * Fills |n| bytes with text shaped like a SubscribeToShardEvent payload:
 * records with base64 Data among keys and digits. Only the shape matters
 * (the decoder does not parse it); the bytes are not valid JSON when the
 * last record is cut short.
 */
static void fill_event_json(uint8_t *p, size_t n, uint32_t seed) {
  static const char head[] =
      "{\"ContinuationSequenceNumber\":\"4959033827149025660855969253836157"
      "1095921575989136588898\",\"MillisBehindLatest\":0,\"Records\":[";
  uint8_t data[96];
  char b64[129];
  char rec[512];
  size_t o = 0, b64len, k;
  unsigned int i = 0;
  int len;

  for (k = 0; k < sizeof(head) - 1 && o < n; ++k) {
    p[o++] = (uint8_t)head[k];
  }
  while (o < n) {
    fill_random(data, sizeof(data), seed + i);
    if (kefo__base64_encode((uint8_t *)b64, sizeof(b64) - 1, data, sizeof(data),
                            &b64len) != 0) {
      die("base64 encode of record data failed");
    }
    b64[b64len] = '\0';
    len = snprintf(rec, sizeof(rec),
                   "%s{\"ApproximateArrivalTimestamp\":1.700000%06u"
                   "E9,\"Data\":\"%s\",\"EncryptionType\":\"NONE\","
                   "\"PartitionKey\":\"pk-%u\",\"SequenceNumber\":"
                   "\"49590338271490256608559692538361571095921575989"
                   "%09u\"}",
                   i ? "," : "", i % 1000000u, b64, i * 7919u % 100000u, i);
    if (len < 0) {
      die("snprintf failed");
    }
    for (k = 0; k < (size_t)len && o < n; ++k) {
      p[o++] = (uint8_t)rec[k];
    }
    ++i;
  }
  if (n >= 2) {
    p[n - 2] = ']';
    p[n - 1] = '}';
  }
}

/* The three headers every SubscribeToShardEvent message carries. */
static void event_headers(kefo_es_header h[3]) {
  static const char *const names[3] = {":message-type", ":event-type",
                                       ":content-type"};
  static const char *const values[3] = {"event", "SubscribeToShardEvent",
                                        "application/json"};
  int i;

  memset(h, 0, 3 * sizeof(*h));
  for (i = 0; i < 3; ++i) {
    h[i].name = names[i];
    h[i].name_len = strlen(names[i]);
    h[i].type = KEFO_ES_STRING;
    h[i].value = (const uint8_t *)values[i];
    h[i].value_len = strlen(values[i]);
  }
}

/* Encodes |count| messages carrying |payload| back to back into a new
   buffer and returns it, its length in |*len|. */
static uint8_t *encode_stream(const uint8_t *payload, size_t payload_len,
                              size_t count, size_t *len) {
  kefo_es_header h[3];
  size_t one, i, outlen;
  uint8_t *buf;

  event_headers(h);
  one = kefo__es_encoded_len(h, 3, payload_len);
  if (one == 0) {
    die("kefo__es_encoded_len refused the test message");
  }
  buf = xmalloc(one * count);
  for (i = 0; i < count; ++i) {
    if (kefo__es_encode(buf + i * one, one, h, 3, payload, payload_len,
                        &outlen) != 0 ||
        outlen != one) {
      die("kefo__es_encode failed");
    }
  }
  *len = one * count;
  return buf;
}

/* What the decoder's callback sees. In verify mode every payload and
   header is compared with what was encoded; in timed mode the callback
   only touches the message, as a consumer handing it on would. */
typedef struct es_sink {
  uint64_t messages;
  uint64_t payload_bytes;
  uint32_t fold;
  int verify;
  int bad;
  const uint8_t *expect;
  size_t expect_len;
} es_sink;

static int on_message(const kefo_es_message *msg, void *user_data) {
  es_sink *s = user_data;
  const kefo_es_header *et;

  ++s->messages;
  s->payload_bytes += msg->payload_len;
  if (msg->payload_len) {
    s->fold += msg->payload[msg->payload_len - 1];
  }
  if (s->verify) {
    et = kefo__es_message_header(msg, ":event-type");
    if (msg->nheaders != 3 || et == NULL ||
        et->value_len != strlen("SubscribeToShardEvent") ||
        memcmp(et->value, "SubscribeToShardEvent", et->value_len) != 0 ||
        msg->payload_len != s->expect_len ||
        memcmp(msg->payload, s->expect, s->expect_len) != 0) {
      s->bad = 1;
    }
  }
  return 0;
}

/* An allocator that only counts, handed to the decoders so the output can
   say how many allocations each path makes per message. */
typedef struct alloc_count {
  uint64_t mallocs;
} alloc_count;

static void *count_malloc(size_t size, void *ud) {
  ((alloc_count *)ud)->mallocs++;
  return malloc(size);
}

static void count_free(void *ptr, void *ud) {
  (void)ud;
  free(ptr);
}

static void *count_calloc(size_t nmemb, size_t size, void *ud) {
  ((alloc_count *)ud)->mallocs++;
  return calloc(nmemb, size);
}

static void *count_realloc(void *ptr, size_t size, void *ud) {
  ((alloc_count *)ud)->mallocs++;
  return realloc(ptr, size);
}

typedef struct es_job {
  kefo_es_decoder dec;
  es_sink sink;
  alloc_count allocs;
  kefo_mem mem;
  const uint8_t *in;
  size_t len;
  /* Bytes per feed call; 0 feeds the whole buffer at once. */
  size_t chunk;
} es_job;

static void es_job_init(es_job *j, const uint8_t *in, size_t len,
                        size_t chunk) {
  memset(j, 0, sizeof(*j));
  j->mem.mem_user_data = &j->allocs;
  j->mem.malloc = count_malloc;
  j->mem.free = count_free;
  j->mem.calloc = count_calloc;
  j->mem.realloc = count_realloc;
  j->in = in;
  j->len = len;
  j->chunk = chunk;
  if (kefo__es_decoder_init(&j->dec, &j->mem, 0, 0, on_message, &j->sink) !=
      0) {
    die("kefo__es_decoder_init failed");
  }
}

static void feed(es_job *j, const uint8_t *in, size_t len) {
  if (kefo__es_decoder_feed(&j->dec, in, len) != 0) {
    fprintf(stderr,
            "bench_wire: FAIL: event-stream decoding: %s check at "
            "offset %llu\n",
            kefo__es_decoder_error_check(&j->dec),
            (unsigned long long)kefo__es_decoder_error_offset(&j->dec));
    exit(1);
  }
}

/* One decoder lives across all operations, as one does across a
   subscription's life; every operation ends on a message boundary. */
static size_t op_es_decode(void *ctx) {
  es_job *j = ctx;
  size_t off, n;

  if (j->chunk == 0) {
    feed(j, j->in, j->len);
    return j->len;
  }
  for (off = 0; off < j->len; off += n) {
    n = j->len - off < j->chunk ? j->len - off : j->chunk;
    feed(j, j->in + off, n);
  }
  return j->len;
}

/* An event's payload cut into runs as it arrives in 16 KiB pieces
   (aws/records_split.c), each run's records read as it is cut, and the
   end read: the copy and the reads a large event costs, against the
   parse of the same payload whole (its peer). */
typedef struct split_job {
  const uint8_t *in;
  size_t len;
  kefo_records_split split;
  kefo_records_parser parser;
  size_t runs;
} split_job;

static size_t op_records_split(void *ctx) {
  split_job *j = ctx;
  kefo_records_event ev;
  const uint8_t *json;
  size_t off, n, len;
  int rv;

  kefo__records_split_begin(&j->split);
  for (off = 0; off < j->len; off += n) {
    n = j->len - off < CHUNK ? j->len - off : CHUNK;
    rv = kefo__records_split_feed(&j->split, j->in + off, n);
    if (rv == 0) {
      rv = kefo__records_split_run(&j->split, &j->parser, &json, &len, &ev);
    }
    if (rv < 0) {
      fprintf(stderr, "bench_wire: FAIL: records split: %s at %zu\n",
              j->split.error ? j->split.error : "no memory",
              j->split.error_offset);
      exit(1);
    }
    if (rv == 1) {
      sink += ev.nrecords;
      kefo__records_split_taken(&j->split);
      ++j->runs;
    }
  }
  if (kefo__records_split_end(&j->split, &json, &len) != 0 ||
      kefo__records_parse(&j->parser, json, len, &ev) != 0) {
    die("records split: the end does not read");
  }
  sink += ev.nrecords;
  return j->len;
}

static size_t op_records_parse(void *ctx) {
  split_job *j = ctx;
  kefo_records_event ev;

  if (kefo__records_parse(&j->parser, j->in, j->len, &ev) != 0) {
    fprintf(stderr, "bench_wire: FAIL: records parse: %s at %zu\n",
            j->parser.error, j->parser.error_offset);
    exit(1);
  }
  sink += (uint32_t)ev.nrecords;
  return j->len;
}

typedef struct buf_job {
  const uint8_t *in;
  size_t len;
  uint8_t *out;
  size_t outcap;
} buf_job;

static size_t op_memcpy(void *ctx) {
  buf_job *j = ctx;

  memcpy(j->out, j->in, j->len);
  sink += j->out[j->len - 1];
  return j->len;
}

static size_t op_b64_decode(void *ctx) {
  buf_job *j = ctx;
  size_t outlen;

  if (kefo__base64_decode(j->out, j->outcap, j->in, j->len, &outlen) != 0) {
    die("kefo__base64_decode failed");
  }
  sink += j->out[outlen - 1];
  return j->len;
}

/* The same without the AVX2 path: what CPUs without it get. */
static size_t op_b64_decode_scalar(void *ctx) {
  buf_job *j = ctx;
  size_t outlen;

  if (kefo__base64_decode_simd(j->out, j->outcap, j->in, j->len, &outlen, 0) !=
      0) {
    die("kefo__base64_decode_simd failed");
  }
  sink += j->out[outlen - 1];
  return j->len;
}

static size_t op_evp_decode(void *ctx) {
  buf_job *j = ctx;
  int n = EVP_DecodeBlock(j->out, j->in, (int)j->len);

  if (n <= 0) {
    die("EVP_DecodeBlock failed");
  }
  sink += j->out[n - 1];
  return j->len;
}

static size_t op_b64_encode(void *ctx) {
  buf_job *j = ctx;
  size_t outlen;

  if (kefo__base64_encode(j->out, j->outcap, j->in, j->len, &outlen) != 0) {
    die("kefo__base64_encode failed");
  }
  sink += j->out[outlen - 1];
  return j->len;
}

static size_t op_evp_encode(void *ctx) {
  buf_job *j = ctx;
  int n = EVP_EncodeBlock(j->out, j->in, (int)j->len);

  sink += j->out[n - 1];
  return j->len;
}

static size_t op_crc32(void *ctx) {
  buf_job *j = ctx;

  sink += kefo__crc32(0, j->in, j->len);
  return j->len;
}

/* The textbook byte-at-a-time CRC-32 (reflected, polynomial 0xEDB88320):
   an independent reference for the correctness check. The peer in the
   table is zlib's crc32_z, what a C program would otherwise call. */
static uint32_t crc_table[256];

static void naive_crc32_init(void) {
  uint32_t c, n;
  int k;

  for (n = 0; n < 256; ++n) {
    c = n;
    for (k = 0; k < 8; ++k) {
      c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    crc_table[n] = c;
  }
}

static uint32_t naive_crc32(uint32_t crc, const uint8_t *p, size_t n) {
  size_t i;

  crc = ~crc;
  for (i = 0; i < n; ++i) {
    crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  }
  return ~crc;
}

static size_t op_zlib_crc32(void *ctx) {
  buf_job *j = ctx;

  sink += (uint32_t)crc32_z(0, j->in, j->len);
  return j->len;
}

/* An aggregate built again and again: the producer's work per record
   between put and PutRecords, from the first add to the finished blob. */
typedef struct agg_job {
  kefo_kpl_aggregator *a;
  kefo_buf out;
  const uint8_t *data;
  char keys[AGG_RECORDS][16];
  size_t key_len[AGG_RECORDS];
  /* 1: every record has the same partition key; AGG_RECORDS: each its
     own, the costlier table. */
  size_t nkeys;
  /* Records per aggregate and their size; lent: added with
     kefo__kpl_aggregator_add_lent, as the producer does. */
  size_t nrec, rec_bytes;
  int lent;
  /* 1: finished without the MD5 trailer, which the producer computes
     apart, in lanes: what is left is the adding and the copies. */
  int undigested;
} agg_job;

static void agg_job_init(agg_job *j, const uint8_t *data, size_t nkeys) {
  size_t i;

  memset(j, 0, sizeof(*j));
  if (kefo__kpl_aggregator_new(&j->a, NULL) != 0) {
    die("kefo__kpl_aggregator_new failed");
  }
  kefo__buf_init(&j->out, NULL);
  j->data = data;
  j->nkeys = nkeys;
  j->nrec = AGG_RECORDS;
  j->rec_bytes = AGG_RECORD_BYTES;
  for (i = 0; i < nkeys; ++i) {
    j->key_len[i] =
        (size_t)snprintf(j->keys[i], sizeof(j->keys[i]), "user-%06zu", i * 37);
  }
}

static void agg_job_free(agg_job *j) {
  kefo__kpl_aggregator_del(j->a);
  kefo__buf_free(&j->out);
}

static size_t op_kpl_aggregate(void *ctx) {
  agg_job *j = ctx;
  size_t i, k;

  kefo__kpl_aggregator_reset(j->a);
  for (i = 0; i < j->nrec; ++i) {
    const uint8_t *d = j->data + i * j->rec_bytes;
    int rv;

    k = i % j->nkeys;
    rv = j->lent
             ? kefo__kpl_aggregator_add_lent(j->a, j->keys[k], j->key_len[k],
                                             NULL, 0, d, j->rec_bytes)
             : kefo__kpl_aggregator_add(j->a, j->keys[k], j->key_len[k], NULL,
                                        0, d, j->rec_bytes);
    if (rv != 0) {
      die("kefo__kpl_aggregator_add failed");
    }
  }
  kefo__buf_reset(&j->out);
  if ((j->undigested ? kefo__kpl_aggregator_finish_undigested(j->a, &j->out)
                     : kefo__kpl_aggregator_finish(j->a, &j->out)) != 0) {
    die("kefo__kpl_aggregator_finish failed");
  }
  sink += j->out.data[j->out.len - 1];
  return j->nrec * j->rec_bytes;
}

/* The floor under aggregation: the MD5 over the same aggregate, which
   finishing cannot avoid. Counts the same record bytes. */
static size_t op_md5_aggregate(void *ctx) {
  agg_job *j = ctx;
  uint8_t md[EVP_MAX_MD_SIZE];

  if (!EVP_Digest(j->out.data + KEFO_KPL_MAGIC_LEN,
                  j->out.len - KEFO_KPL_MAGIC_LEN - KEFO_KPL_DIGEST_LEN, md,
                  NULL, EVP_md5(), NULL)) {
    die("EVP_Digest failed");
  }
  sink += md[0];
  return j->nrec * j->rec_bytes;
}

static int count_record(const kefo_kpl_record *rec, void *user_data) {
  (void)rec;
  ++*(size_t *)user_data;
  return 0;
}

/* One aggregate made and read back: all the records, as one aggregate. */
static int verify_aggregate(agg_job *j) {
  kefo_kpl_result res;
  size_t n = 0;

  op_kpl_aggregate(j);
  return kefo__kpl_deaggregate(NULL, j->out.data, j->out.len, NULL, 0, NULL,
                               count_record, &n, &res) == 0 &&
                 res.aggregated && n == j->nrec
             ? 0
             : 1;
}

/* MD5 of MD5_MSGS messages at once, as the producer hashes a call's
   aggregates and a stage of partition keys: kefo__md5_many (one message
   per vector lane) against OpenSSL's MD5 one message at a time. */
#define MD5_MSGS 64

typedef struct md5_job {
  kefo_md5_job jobs[MD5_MSGS];
  uint8_t out[MD5_MSGS][KEFO_MD5_LEN];
} md5_job;

static void md5_job_init(md5_job *j, const uint8_t *data, size_t len) {
  size_t i;

  for (i = 0; i < MD5_MSGS; ++i) {
    j->jobs[i].data = data + i * len;
    j->jobs[i].len = len;
    j->jobs[i].out = j->out[i];
  }
}

static size_t op_md5_many(void *ctx) {
  md5_job *j = ctx;

  kefo__md5_many(j->jobs, MD5_MSGS);
  sink += j->out[MD5_MSGS - 1][0];
  return MD5_MSGS * j->jobs[0].len;
}

static size_t op_md5_openssl(void *ctx) {
  md5_job *j = ctx;
  size_t i;

  for (i = 0; i < MD5_MSGS; ++i) {
    if (!EVP_Digest(j->jobs[i].data, j->jobs[i].len, j->out[i], NULL, EVP_md5(),
                    NULL)) {
      die("EVP_Digest failed");
    }
  }
  sink += j->out[MD5_MSGS - 1][0];
  return MD5_MSGS * j->jobs[0].len;
}

/* The two agree on every message. */
static int verify_md5(md5_job *j) {
  uint8_t md[EVP_MAX_MD_SIZE];
  size_t i;

  op_md5_many(j);
  for (i = 0; i < MD5_MSGS; ++i) {
    if (!EVP_Digest(j->jobs[i].data, j->jobs[i].len, md, NULL, EVP_md5(),
                    NULL) ||
        memcmp(md, j->out[i], KEFO_MD5_LEN) != 0) {
      return 1;
    }
  }
  return 0;
}

/* SHA-256 of PutRecords bodies, as the producer signs the calls of one
   pass: kefo__sha256_many (sixteen messages in AVX-512's lanes, or up to
   six interleaved on the SHA extensions) against OpenSSL's SHA-256 one
   message at a time, and the lanes against six ways. */
#define SHA_MAX_MSGS 16

typedef struct sha_job {
  kefo_sha256_job jobs[SHA_MAX_MSGS];
  uint8_t out[SHA_MAX_MSGS][KEFO_SHA256_LEN];
  size_t n;
} sha_job;

static void sha_job_init(sha_job *j, const uint8_t *data, size_t n,
                         size_t len) {
  size_t i;

  j->n = n;
  for (i = 0; i < n; ++i) {
    j->jobs[i].data = data + i * len;
    j->jobs[i].len = len;
    j->jobs[i].out = j->out[i];
  }
}

static size_t op_sha_many(void *ctx) {
  sha_job *j = ctx;

  if (kefo__sha256_many(j->jobs, j->n) != 0) {
    die("kefo__sha256_many failed");
  }
  sink += j->out[j->n - 1][0];
  return j->n * j->jobs[0].len;
}

static size_t op_sha_openssl(void *ctx) {
  sha_job *j = ctx;
  size_t i;

  for (i = 0; i < j->n; ++i) {
    if (!EVP_Digest(j->jobs[i].data, j->jobs[i].len, j->out[i], NULL,
                    EVP_sha256(), NULL)) {
      die("EVP_Digest failed");
    }
  }
  sink += j->out[j->n - 1][0];
  return j->n * j->jobs[0].len;
}

/* Six ways on the SHA extensions whatever the count (OpenSSL one by one
   on a CPU without them). */
static size_t op_sha_six_ways(void *ctx) {
  sha_job *j = ctx;

  if (kefo__sha256_many_ways(j->jobs, j->n, 6) != 0 &&
      kefo__sha256_many_ways(j->jobs, j->n, 0) != 0) {
    die("kefo__sha256_many_ways failed");
  }
  sink += j->out[j->n - 1][0];
  return j->n * j->jobs[0].len;
}

/* The two agree on every message. */
static int verify_sha(sha_job *j) {
  uint8_t md[EVP_MAX_MD_SIZE];
  size_t i;

  op_sha_many(j);
  for (i = 0; i < j->n; ++i) {
    if (!EVP_Digest(j->jobs[i].data, j->jobs[i].len, md, NULL, EVP_sha256(),
                    NULL) ||
        memcmp(md, j->out[i], KEFO_SHA256_LEN) != 0) {
      return 1;
    }
  }
  return 0;
}

typedef struct bench {
  options opt;
  /* memcpy's destination, as large as the largest input. */
  uint8_t *scratch;
  row rows[MAX_ROWS];
  int nrows;
} bench;

/* One line of the table, and the peer that shares its measurement. */
typedef struct bench_case {
  const char *name;
  const char *input;
  size_t bytes;
  /* The operation's input, which memcpy copies for the ceiling. */
  const uint8_t *src;
  bench_op op;
  void *ctx;
  size_t msgs_per_op;
  const char *peer_name;
  bench_op peer_op;
  void *peer_ctx;
} bench_case;

static int new_row(bench *b, const char *name, const char *input, size_t bytes,
                   size_t msgs_per_op, result r) {
  row *w;

  if (b->nrows == MAX_ROWS) {
    die("too many rows");
  }
  w = &b->rows[b->nrows];
  w->name = name;
  w->input = input;
  w->bytes = bytes;
  w->msgs_per_op = msgs_per_op;
  w->peer = -1;
  w->r = r;
  return b->nrows++;
}

/* Measures |c| beside memcpy and its peer and adds their rows. Cases of
   one size share a memcpy row, which keeps the best of their runs. */
static void run_case(bench *b, const bench_case *c) {
  timer t[3];
  buf_job mj;
  int n = 2, i, k;

  fprintf(stderr, "  %s, %s\n", c->name, c->input);
  memset(t, 0, sizeof(t));
  t[0].op = c->op;
  t[0].ctx = c->ctx;
  mj.in = c->src;
  mj.len = c->bytes;
  mj.out = b->scratch;
  mj.outcap = c->bytes;
  t[1].op = op_memcpy;
  t[1].ctx = &mj;
  if (c->peer_op) {
    t[2].op = c->peer_op;
    t[2].ctx = c->peer_ctx;
    n = 3;
  }
  measure_group(&b->opt, t, n);

  for (i = 0; i < b->nrows; ++i) {
    if (strcmp(b->rows[i].name, "memcpy") == 0 &&
        b->rows[i].bytes == c->bytes) {
      break;
    }
  }
  if (i == b->nrows) {
    new_row(b, "memcpy", "ceiling", c->bytes, 0, t[1].best);
  } else if (t[1].best.mb_s > b->rows[i].r.mb_s) {
    b->rows[i].r = t[1].best;
  }
  k = new_row(b, c->name, c->input, c->bytes, c->msgs_per_op, t[0].best);
  if (c->peer_op) {
    b->rows[k].peer =
        new_row(b, c->peer_name, c->input, c->bytes, 0, t[2].best);
  }
}

static void cpu_model(char *out, size_t cap) {
  FILE *f = fopen("/proc/cpuinfo", "r");
  char line[256];
  char *v;
  size_t n;

  snprintf(out, cap, "unknown");
  if (f == NULL) {
    return;
  }
  while (fgets(line, sizeof(line), f)) {
    if (strncmp(line, "model name", 10) != 0 || (v = strchr(line, ':')) == 0) {
      continue;
    }
    for (++v; *v == ' ' || *v == '\t'; ++v)
      ;
    n = strlen(v);
    while (n > 0 && (v[n - 1] == '\n' || v[n - 1] == ' ')) {
      v[--n] = '\0';
    }
    snprintf(out, cap, "%s", v);
    break;
  }
  fclose(f);
}

/* The 1-minute load average, or -1. On a shared machine it says how far
   other processes may have held the figures down. */
static double load_average(void) {
  FILE *f = fopen("/proc/loadavg", "r");
  double l = -1;

  if (f == NULL) {
    return -1;
  }
  if (fscanf(f, "%lf", &l) != 1) {
    l = -1;
  }
  fclose(f);
  return l;
}

static void usage(FILE *f) {
  fprintf(f,
          "Usage: bench_wire [--quick] [--help]\n"
          "Measure the throughput of kefo's wire-format cores: event-stream\n"
          "decoding, base64 and CRC-32, each beside memcpy over the same\n"
          "number of bytes and beside a peer implementation where there is\n"
          "one. MB = 10^6 bytes. Each figure is the best of %d runs of at\n"
          "least 0.5 s after a warm-up. Exits 1 if any result is wrong.\n"
          "  --quick  runs of 0.05 s, for a smoke test (figures are noisy)\n"
          "  --help   show this and exit\n",
          NRUNS);
}

/* Checks each code path's output once against the original bytes and the
   peers against each other; the timed loops then trust them. */
static int verify_all(const uint8_t *payload, const uint8_t *big,
                      size_t big_len, const uint8_t *small_payload,
                      const uint8_t *small, size_t small_len,
                      size_t small_count, const uint8_t *raw,
                      const uint8_t *text, size_t text_len) {
  static const size_t chunks[] = {0, 1, 7, CHUNK};
  uint8_t *out = xmalloc(text_len + 4);
  size_t i, outlen;
  int fails = 0, n;
  es_job j;

  for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); ++i) {
    es_job_init(&j, big, big_len, chunks[i]);
    j.sink.verify = 1;
    j.sink.expect = payload;
    j.sink.expect_len = BIG_PAYLOAD;
    op_es_decode(&j);
    if (j.sink.bad || j.sink.messages != 1 ||
        kefo__es_decoder_finish(&j.dec) != 0) {
      fprintf(stderr, "FAIL: 1 MiB event, chunk %zu\n", chunks[i]);
      ++fails;
    }
    kefo__es_decoder_free(&j.dec);

    es_job_init(&j, small, small_len, chunks[i]);
    j.sink.verify = 1;
    j.sink.expect = small_payload;
    j.sink.expect_len = SMALL_PAYLOAD;
    op_es_decode(&j);
    if (j.sink.bad || j.sink.messages != small_count ||
        kefo__es_decoder_finish(&j.dec) != 0) {
      fprintf(stderr, "FAIL: 1 KiB events, chunk %zu\n", chunks[i]);
      ++fails;
    }
    kefo__es_decoder_free(&j.dec);
  }

  if (kefo__base64_decode(out, text_len, text, text_len, &outlen) != 0 ||
      outlen != B64_INPUT || memcmp(out, raw, B64_INPUT) != 0) {
    fprintf(stderr, "FAIL: kefo__base64_decode\n");
    ++fails;
  }
  /* EVP_DecodeBlock keeps the bytes that padding stands for, so only the
     first B64_INPUT bytes are compared. */
  n = EVP_DecodeBlock(out, text, (int)text_len);
  if (n < (int)B64_INPUT || memcmp(out, raw, B64_INPUT) != 0) {
    fprintf(stderr, "FAIL: EVP_DecodeBlock\n");
    ++fails;
  }
  n = EVP_EncodeBlock(out, raw, (int)B64_INPUT);
  if (n != (int)text_len || memcmp(out, text, text_len) != 0) {
    fprintf(stderr, "FAIL: kefo__base64_encode differs from EVP_EncodeBlock\n");
    ++fails;
  }

  /* The check value of CRC-32 is that of "123456789". */
  if (kefo__crc32(0, (const uint8_t *)"123456789", 9) != 0xcbf43926u ||
      naive_crc32(0, (const uint8_t *)"123456789", 9) != 0xcbf43926u ||
      kefo__crc32(0, raw, B64_INPUT) != naive_crc32(0, raw, B64_INPUT) ||
      kefo__crc32(kefo__crc32(0, raw, 1000), raw + 1000, B64_INPUT - 1000) !=
          naive_crc32(0, raw, B64_INPUT)) {
    fprintf(stderr, "FAIL: kefo__crc32 and the table CRC-32 disagree\n");
    ++fails;
  }
  free(out);
  return fails;
}

static void print_table(const bench *b) {
  char line[200];
  size_t n;
  int i;

  printf("%-34s %-16s %9s %8s %8s %9s %10s\n", "name", "input", "bytes/op",
         "MB/s", "/memcpy", "kefo/peer", "msgs/s");
  for (i = 0; i < 2 * b->nrows; ++i) {
    /* memcpy rows first, then the rest in the order measured. */
    const row *r = &b->rows[i % b->nrows];
    int is_memcpy = strcmp(r->name, "memcpy") == 0;
    double mc = 0;
    int k;

    if (is_memcpy != (i < b->nrows)) {
      continue;
    }

    for (k = 0; k < b->nrows; ++k) {
      if (strcmp(b->rows[k].name, "memcpy") == 0 &&
          b->rows[k].bytes == r->bytes) {
        mc = b->rows[k].r.mb_s;
      }
    }
    n = (size_t)snprintf(line, sizeof(line), "%-34s %-16s %9zu %8.0f %8.2f",
                         r->name, r->input, r->bytes, r->r.mb_s,
                         mc > 0 ? r->r.mb_s / mc : 0.0);
    if (r->peer >= 0) {
      n += (size_t)snprintf(line + n, sizeof(line) - n, " %9.2f",
                            r->r.mb_s / b->rows[r->peer].r.mb_s);
    } else {
      n += (size_t)snprintf(line + n, sizeof(line) - n, " %9s", "");
    }
    if (r->msgs_per_op) {
      n += (size_t)snprintf(line + n, sizeof(line) - n, " %10.0f",
                            r->r.ops_s * (double)r->msgs_per_op);
    }
    /* No trailing blanks, so the table pastes cleanly into Markdown. */
    while (n > 0 && line[n - 1] == ' ') {
      line[--n] = '\0';
    }
    printf("%s\n", line);
  }
}

int main(int argc, char **argv) {
  bench *b;
  uint8_t *payload, *small_payload, *big, *small, *raw, *text, *out;
  size_t big_len, small_len, small_count, text_len, cap;
  char cpu[200];
  es_job jobs[4];
  kefo_es_header hdrs[3];
  buf_job dec, enc, crc1k;
  static agg_job agg1, aggn, aggnc, aggnl, agg1k, agg1kl;
  static md5_job md5_keys, md5_aggs;
  static sha_job sha1, sha2, sha5, sha12, sha16;
  static split_job split;
  uint8_t *split_in;
  int i, fails, agg_row[2] = {0, 0};
  double big_allocs, big_chunk_allocs, small_chunk_allocs;

  b = calloc(1, sizeof(*b));
  if (b == NULL) {
    die("out of memory");
  }
  b->opt.run_s = 0.5;
  b->opt.warm_s = 0.2;
  for (i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--quick") == 0) {
      b->opt.run_s = 0.05;
      b->opt.warm_s = 0.02;
    } else if (strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      fprintf(stderr, "bench_wire: unknown option %s\n", argv[i]);
      usage(stderr);
      return 2;
    }
  }

  payload = xmalloc(BIG_PAYLOAD);
  fill_event_json(payload, BIG_PAYLOAD, 1);
  big = encode_stream(payload, BIG_PAYLOAD, 1, &big_len);
  small_payload = xmalloc(SMALL_PAYLOAD);
  fill_event_json(small_payload, SMALL_PAYLOAD, 2);
  event_headers(hdrs);
  small_count =
      SMALL_STREAM_TARGET / kefo__es_encoded_len(hdrs, 3, SMALL_PAYLOAD);
  small = encode_stream(small_payload, SMALL_PAYLOAD, small_count, &small_len);
  raw = xmalloc(B64_INPUT);
  fill_random(raw, B64_INPUT, 3);
  text_len = kefo__base64_encoded_len(B64_INPUT);
  text = xmalloc(text_len);
  if (kefo__base64_encode(text, text_len, raw, B64_INPUT, &text_len) != 0) {
    die("kefo__base64_encode failed");
  }
  /* One destination for every row: room for the largest input, plus the
     NUL that EVP_EncodeBlock writes. */
  cap = text_len > big_len ? text_len : big_len;
  cap = cap > small_len ? cap : small_len;
  out = xmalloc(cap + 1);
  memset(out, 0, cap + 1);
  naive_crc32_init();

  fails = verify_all(payload, big, big_len, small_payload, small, small_len,
                     small_count, raw, text, text_len);
  agg_job_init(&agg1, raw, 1);
  agg_job_init(&aggn, raw, AGG_RECORDS);
  /* The producer's way, the data lent (read at the finish), against it
     copied at the add, at 100 B and at 1 KiB (48 records, an aggregate of
     about the KPL's 50 KiB); both timed without the MD5 (below). */
  agg_job_init(&aggnc, raw, AGG_RECORDS);
  agg_job_init(&aggnl, raw, AGG_RECORDS);
  aggnl.lent = 1;
  agg_job_init(&agg1k, raw, AGG_RECORDS);
  agg1k.nrec = 48;
  agg1k.rec_bytes = KIB;
  agg_job_init(&agg1kl, raw, AGG_RECORDS);
  agg1kl.nrec = 48;
  agg1kl.rec_bytes = KIB;
  agg1kl.lent = 1;
  /* 16-byte keys, and 16 KiB aggregates (what 64 shards' aggregates of
     100 B records come to in bench_put). */
  md5_job_init(&md5_keys, raw, 16);
  md5_job_init(&md5_aggs, raw, 16 * KIB);
  if (verify_aggregate(&agg1) || verify_aggregate(&aggn) ||
      verify_aggregate(&aggnl) || verify_aggregate(&agg1k) ||
      verify_aggregate(&agg1kl)) {
    fprintf(stderr, "FAIL: KPL aggregate does not read back\n");
    ++fails;
  }
  aggnc.undigested = aggnl.undigested = 1;
  agg1k.undigested = agg1kl.undigested = 1;
  if (verify_md5(&md5_keys) || verify_md5(&md5_aggs)) {
    fprintf(stderr, "FAIL: kefo__md5_many disagrees with OpenSSL\n");
    ++fails;
  }
  /* One, two and five bodies of PutRecords calls (500 records of 1 KiB
     come to about 520 KiB; a pass of bench_put's producer builds five),
     within the 1 MiB of |raw|. */
  sha_job_init(&sha1, raw, 1, 512 * KIB);
  sha_job_init(&sha2, raw, 2, 512 * KIB);
  sha_job_init(&sha5, raw, 5, 200 * KIB);
  sha_job_init(&sha12, raw, 12, 80 * KIB);
  sha_job_init(&sha16, raw, 16, 64 * KIB);
  if (verify_sha(&sha1) || verify_sha(&sha2) || verify_sha(&sha5) ||
      verify_sha(&sha12) || verify_sha(&sha16)) {
    fprintf(stderr, "FAIL: kefo__sha256_many disagrees with OpenSSL\n");
    ++fails;
  }
  if (fails) {
    fprintf(stderr, "bench_wire: %d correctness check(s) failed\n", fails);
    return 1;
  }

  cpu_model(cpu, sizeof(cpu));
  printf("kefo %s bench_wire%s\n", KEFO_VERSION,
         b->opt.run_s < 0.5 ? " --quick (noisy)" : "");
  printf("cpu:      %s (%ld online)\n", cpu, sysconf(_SC_NPROCESSORS_ONLN));
#if defined(__clang__) || !defined(__GNUC__)
  printf("compiler: %s\n", __VERSION__);
#else
  printf("compiler: gcc %s\n", __VERSION__);
#endif
  printf("zlib:     %s   OpenSSL: %s\n", zlibVersion(),
         OpenSSL_version(OPENSSL_VERSION));
  printf("load:     %.2f (1-minute average at start)\n", load_average());
  printf("MB = 10^6 bytes. Best of %d runs of >= %.2f s, after a %.2f s "
         "warm-up.\n",
         NRUNS, b->opt.run_s, b->opt.warm_s);
  printf("Event-stream MB/s counts wire bytes (prelude, headers, payload, "
         "CRC);\nbase64 decode counts the encoded text, base64 encode the "
         "binary input.\n/memcpy: against memcpy of bytes/op in the same "
         "run. kefo/peer: against\nthe row below it. kefo__crc32 folds with "
         "PCLMULQDQ where the CPU has it.\nKPL aggregate: %d records of %d B "
         "added and finished (MD5 included), MB/s\nof record data, msgs/s "
         "in records; its peer is MD5 alone over the same blob.\n\n",
         AGG_RECORDS, AGG_RECORD_BYTES);
  fflush(stdout);
  fprintf(stderr, "measuring:\n");

  b->scratch = xmalloc(cap);

  /* The split's payload: the event JSON closed after its last whole
     record, so that the parser (its peer) reads it. */
  split_in = xmalloc(BIG_PAYLOAD + 1);
  memcpy(split_in, payload, BIG_PAYLOAD);
  split.len = BIG_PAYLOAD;
  while (split.len > 4 && memcmp(split_in + split.len - 3, "\"},", 3) != 0) {
    --split.len;
  }
  split_in[split.len - 1] = ']';
  split_in[split.len] = '}';
  split.len += 1;
  split.in = split_in;
  kefo__records_split_init(&split.split, NULL, 64 * KIB);
  kefo__records_parser_init(&split.parser, NULL);

  es_job_init(&jobs[0], big, big_len, 0);
  es_job_init(&jobs[1], big, big_len, CHUNK);
  es_job_init(&jobs[2], small, small_len, 0);
  es_job_init(&jobs[3], small, small_len, CHUNK);
  dec.in = text;
  dec.len = text_len;
  dec.out = out;
  dec.outcap = cap;
  enc.in = raw;
  enc.len = B64_INPUT;
  enc.out = out;
  enc.outcap = cap;
  /* At 1 KiB, the size of a small event's body, the fixed cost of each
     CRC call shows; the decoder makes three calls per message. */
  crc1k = enc;
  crc1k.len = KIB;
  {
    const bench_case cases[] = {
        {"es decode, fed whole (zero-copy)", "1 x 1 MiB event", big_len, big,
         op_es_decode, &jobs[0], 1, NULL, NULL, NULL},
        {"es decode, 16 KiB chunks (copy)", "1 x 1 MiB event", big_len, big,
         op_es_decode, &jobs[1], 1, NULL, NULL, NULL},
        {"es decode, fed whole (zero-copy)", "stream of 1 KiB", small_len,
         small, op_es_decode, &jobs[2], small_count, NULL, NULL, NULL},
        {"es decode, 16 KiB chunks", "stream of 1 KiB", small_len, small,
         op_es_decode, &jobs[3], small_count, NULL, NULL, NULL},
        {"base64 decode, kefo", "text of 1 MiB", text_len, text, op_b64_decode,
         &dec, 0, "base64 decode, EVP_DecodeBlock", op_evp_decode, &dec},
        {"base64 decode, kefo scalar", "text of 1 MiB", text_len, text,
         op_b64_decode_scalar, &dec, 0, NULL, NULL, NULL},
        {"base64 encode, kefo", "1 MiB binary", B64_INPUT, raw, op_b64_encode,
         &enc, 0, "base64 encode, EVP_EncodeBlock", op_evp_encode, &enc},
        {"crc32, kefo__crc32", "1 MiB binary", B64_INPUT, raw, op_crc32, &enc,
         0, "crc32, zlib crc32_z", op_zlib_crc32, &enc},
        {"crc32, kefo__crc32", "1 KiB binary", KIB, raw, op_crc32, &crc1k, 0,
         "crc32, zlib crc32_z", op_zlib_crc32, &crc1k},
        {"kpl aggregate, add+finish", "100 B, 1 key",
         AGG_RECORDS * AGG_RECORD_BYTES, raw, op_kpl_aggregate, &agg1,
         AGG_RECORDS, "kpl aggregate, MD5 only", op_md5_aggregate, &agg1},
        {"kpl aggregate, add+finish", "100 B, 500 keys",
         AGG_RECORDS * AGG_RECORD_BYTES, raw, op_kpl_aggregate, &aggn,
         AGG_RECORDS, "kpl aggregate, MD5 only", op_md5_aggregate, &aggn},
        {"kpl aggregate, lent, no MD5", "100 B, 500 keys",
         AGG_RECORDS * AGG_RECORD_BYTES, raw, op_kpl_aggregate, &aggnl,
         AGG_RECORDS, "kpl aggregate, copied, no MD5", op_kpl_aggregate,
         &aggnc},
        {"kpl aggregate, lent, no MD5", "48 x 1 KiB, 48 keys", 48 * KIB, raw,
         op_kpl_aggregate, &agg1kl, 48, "kpl aggregate, copied, no MD5",
         op_kpl_aggregate, &agg1k},
        {"records split+read, 16 KiB pieces", "1 MiB of 100 B", split.len,
         split_in, op_records_split, &split, 0, "records parse, whole",
         op_records_parse, &split},
        {"md5, kefo__md5_many", "64 x 16 B", MD5_MSGS * 16, raw, op_md5_many,
         &md5_keys, MD5_MSGS, "md5, OpenSSL one by one", op_md5_openssl,
         &md5_keys},
        {"md5, kefo__md5_many", "64 x 16 KiB", MD5_MSGS * 16 * KIB, raw,
         op_md5_many, &md5_aggs, MD5_MSGS, "md5, OpenSSL one by one",
         op_md5_openssl, &md5_aggs},
        {"sha256, kefo__sha256_many", "1 x 512 KiB", 512 * KIB, raw,
         op_sha_many, &sha1, 1, "sha256, OpenSSL one by one", op_sha_openssl,
         &sha1},
        {"sha256, kefo__sha256_many", "2 x 512 KiB", 2 * 512 * KIB, raw,
         op_sha_many, &sha2, 2, "sha256, OpenSSL one by one", op_sha_openssl,
         &sha2},
        {"sha256, kefo__sha256_many", "5 x 200 KiB", 5 * 200 * KIB, raw,
         op_sha_many, &sha5, 5, "sha256, OpenSSL one by one", op_sha_openssl,
         &sha5},
        {"sha256, kefo__sha256_many", "12 x 80 KiB", 12 * 80 * KIB, raw,
         op_sha_many, &sha12, 12, "sha256, SHA extensions 6 ways",
         op_sha_six_ways, &sha12},
        {"sha256, kefo__sha256_many", "16 x 64 KiB", 16 * 64 * KIB, raw,
         op_sha_many, &sha16, 16, "sha256, SHA extensions 6 ways",
         op_sha_six_ways, &sha16},
        {"sha256, kefo__sha256_many", "16 x 64 KiB ", 16 * 64 * KIB, raw,
         op_sha_many, &sha16, 16, "sha256, OpenSSL one by one", op_sha_openssl,
         &sha16}};
    size_t c;

    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); ++c) {
      run_case(b, &cases[c]);
      /* The case's row, then its peer's, came last. */
      if (cases[c].op == op_kpl_aggregate &&
          (cases[c].ctx == &agg1 || cases[c].ctx == &aggn)) {
        agg_row[cases[c].ctx == &aggn] = b->nrows - 2;
      }
    }
  }

  print_table(b);

  /* Allocations per message over everything the timed decoders did: the
     zero-copy path should make none once its header array exists. */
  big_allocs = (double)jobs[0].allocs.mallocs / (double)jobs[0].sink.messages;
  big_chunk_allocs =
      (double)jobs[1].allocs.mallocs / (double)jobs[1].sink.messages;
  small_chunk_allocs =
      (double)jobs[3].allocs.mallocs / (double)jobs[3].sink.messages;
  printf("\nallocations per message (mallocs by the decoder over all runs "
         "/ messages):\n  1 MiB fed whole %.3f, 1 MiB in 16 KiB chunks "
         "%.3f, 1 KiB stream in chunks %.4f\n",
         big_allocs, big_chunk_allocs, small_chunk_allocs);
  for (i = 0; i < 2; ++i) {
    const row *r = &b->rows[agg_row[i]];

    printf("KPL aggregation, %s: %.0f ns per record (add + finish)\n", r->input,
           1e9 / (r->r.ops_s * AGG_RECORDS));
  }
  printf("load at end: %.2f\n", load_average());
  printf("sink: %08x\n",
         (unsigned)(sink + jobs[0].sink.fold + jobs[1].sink.fold +
                    jobs[2].sink.fold + jobs[3].sink.fold));

  for (i = 0; i < 4; ++i) {
    kefo__es_decoder_free(&jobs[i].dec);
  }
  kefo__records_split_free(&split.split);
  kefo__records_parser_free(&split.parser);
  free(split_in);
  agg_job_free(&agg1);
  agg_job_free(&aggn);
  agg_job_free(&aggnc);
  agg_job_free(&aggnl);
  agg_job_free(&agg1k);
  agg_job_free(&agg1kl);
  free(b->scratch);
  free(out);
  free(text);
  free(raw);
  free(small);
  free(small_payload);
  free(big);
  free(payload);
  free(b);
  return 0;
}
