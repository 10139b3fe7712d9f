/*
 * Records split into runs as an event arrives (aws/records_split.h): the
 * runs (as read while cut, and as their texts read again) and the end
 * give exactly the records and members of the whole payload read at
 * once, in order, for any chunking and any member order; runs are large
 * enough and memory stays near one run; a record larger than a run is
 * not read again for every piece of it; what is not a Records array is
 * kept whole, and two records with no ',' between them where a run was
 * cut are refused with where.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <kefo/kefo.h>

#include "aws/records_reader.h"
#include "aws/records_split.h"
#include "base/buf.h"
#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"

static uint32_t rng = 0x5eed;

static uint32_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng;
}

/* Partition keys that a structure scanner could trip on. */
static const char *const tricky[] = {
    "plain", "}", "]", "{\\\"", "\\\\", "a\\\\\\\"b", ",{", "\\u007d", "x]}"};

/* A payload of |n| records (Data of up to |max_data| base64 bytes) with
   the Records member at |where| (0 first, 1 middle, 2 last). */
static void make_payload(kefo_buf *b, size_t n, size_t max_data, int where) {
  static const char b64[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const char *cont = "\"ContinuationSequenceNumber\":"
                     "\"49590338271490256608559692538361571095921575989136588"
                     "898\"";
  const char *behind = "\"MillisBehindLatest\": 1234";
  const char *child = "\"ChildShards\":[{\"ShardId\":\"shardId-1\","
                      "\"ParentShards\":[\"shardId-0\"],\"HashKeyRange\":{"
                      "\"StartingHashKey\":\"0\",\"EndingHashKey\":\"9\"}}]";
  char tmp[256];
  size_t i, k;

  kefo__buf_reset(b);
  kefo__buf_append_str(b, " {");
  if (where == 0) {
    kefo__buf_append_str(b, "\"Records\" : [\n");
  } else {
    kefo__buf_append_str(b, cont);
    kefo__buf_append_str(b, ",");
    kefo__buf_append_str(b, child);
    kefo__buf_append_str(b, ",");
    if (where == 1) {
      kefo__buf_append_str(b, "\"Records\":[");
    } else {
      kefo__buf_append_str(b, behind);
      kefo__buf_append_str(b, ", \"Records\":[");
    }
  }
  for (i = 0; i < n; ++i) {
    size_t dlen = (rnd() % (max_data / 4 + 1)) * 4;
    snprintf(tmp, sizeof(tmp),
             "%s{\"SequenceNumber\":\"%05zu\",\"ApproximateArrivalTimestamp\""
             ":1.6e9,\"PartitionKey\":\"%s\",\"Nested\":{\"a\":[1,{\"b\":"
             "\"}\"}]},\"Data\":\"",
             i ? (i % 3 ? "," : " ,\n ") : "", i + 10000,
             tricky[i % (sizeof(tricky) / sizeof(tricky[0]))]);
    kefo__buf_append_str(b, tmp);
    for (k = 0; k < dlen; ++k) {
      kefo__buf_append_byte(b, (uint8_t)b64[rnd() % 64]);
    }
    kefo__buf_append_str(b, "\",\"EncryptionType\":\"NONE\"}");
  }
  kefo__buf_append_str(b, " ]");
  if (where != 2) {
    kefo__buf_append_str(b, ",");
    kefo__buf_append_str(b, behind);
  }
  if (where == 0) {
    kefo__buf_append_str(b, ",");
    kefo__buf_append_str(b, cont);
    kefo__buf_append_str(b, ",");
    kefo__buf_append_str(b, child);
  }
  kefo__buf_append_str(b, "}\n");
}

/* One record as read, kept to compare. */
typedef struct seen {
  char seq[16];
  char pk[32];
  size_t pk_len;
  size_t data_len;
  uint32_t data_sum;
} seen;

static void keep(seen *out, size_t *n, const kefo_records_event *ev) {
  size_t i, k;

  for (i = 0; i < ev->nrecords; ++i) {
    const kefo_wire_record *r = &ev->records[i];
    seen *s = &out[(*n)++];
    memset(s, 0, sizeof(*s));
    snprintf(s->seq, sizeof(s->seq), "%s", r->seq ? r->seq : "?");
    s->pk_len = r->pk_len < sizeof(s->pk) ? r->pk_len : sizeof(s->pk);
    memcpy(s->pk, r->pk, s->pk_len);
    s->data_len = r->data_len;
    s->data_sum = 0;
    for (k = 0; k < r->data_len; ++k) {
      s->data_sum = s->data_sum * 31 + r->data[k];
    }
  }
}

static void test_runs_equal_whole(void) {
  enum { N = 3000, RUN = 32 * 1024 };
  kefo_buf payload;
  kefo_records_parser whole_p, p, q;
  kefo_records_event whole, ev, again;
  kefo_records_split s;
  /* a: the whole parse's, then room for one run's texts read again. */
  seen *a = calloc(2 * N, sizeof(seen)), *b = calloc(N, sizeof(seen));
  int where, round;

  kefo__buf_init(&payload, NULL);
  kefo__records_parser_init(&whole_p, NULL);
  kefo__records_parser_init(&p, NULL);
  kefo__records_parser_init(&q, NULL);
  kefo__records_split_init(&s, NULL, RUN);
  for (round = 0; round < 6; ++round) {
    for (where = 0; where < 3; ++where) {
      size_t na = 0, nb = 0, nc = 0, off = 0, len, runs = 0, max_cap = 0;
      const uint8_t *json;

      make_payload(&payload, N, round % 2 ? 400 : 40, where);
      CU_ASSERT_EQUAL_FATAL(
          kefo__records_parse(&whole_p, payload.data, payload.len, &whole), 0);
      CU_ASSERT_EQUAL(whole.nrecords, N);
      keep(a, &na, &whole);
      kefo__records_split_begin(&s);
      while (off < payload.len) {
        size_t n = round < 2 ? 1 + rnd() % 7 : 1 + rnd() % 20000;
        if (n > payload.len - off) {
          n = payload.len - off;
        }
        CU_ASSERT_EQUAL_FATAL(
            kefo__records_split_feed(&s, payload.data + off, n), 0);
        off += n;
        if (kefo__records_split_run(&s, &p, &json, &len, &ev) == 1) {
          /* At least a run, but for the record it stopped in (< 700 B). */
          CU_ASSERT(len + 700 >= RUN);
          CU_ASSERT(ev.has_records);
          CU_ASSERT_PTR_NULL(ev.continuation);
          CU_ASSERT(!ev.has_behind);
          keep(b, &nb, &ev);
          /* Its text (what a held shard keeps) reads to the same. */
          CU_ASSERT_EQUAL_FATAL(kefo__records_parse(&q, json, len, &again), 0);
          CU_ASSERT_EQUAL(again.nrecords, ev.nrecords);
          CU_ASSERT(again.has_records && !again.continuation &&
                    !again.has_behind);
          keep(a + N, &nc, &again);
          CU_ASSERT(memcmp(a + N + nc - again.nrecords, b + nb - ev.nrecords,
                           sizeof(seen) * ev.nrecords) == 0);
          nc = 0;
          kefo__records_split_taken(&s);
          ++runs;
        }
        max_cap = s.buf.cap > max_cap ? s.buf.cap : max_cap;
      }
      CU_ASSERT_EQUAL_FATAL(kefo__records_split_end(&s, &json, &len), 0);
      CU_ASSERT_EQUAL_FATAL(kefo__records_parse(&p, json, len, &ev), 0);
      keep(b, &nb, &ev);
      /* The end has every member but the records handed on. */
      CU_ASSERT(ev.has_records);
      CU_ASSERT(ev.continuation &&
                strcmp(ev.continuation, whole.continuation) == 0);
      CU_ASSERT(ev.has_behind && ev.behind_ms == 1234);
      CU_ASSERT_EQUAL(ev.child_shards_len, whole.child_shards_len);
      /* Every record once, in order, equal. */
      CU_ASSERT_EQUAL(nb, N);
      CU_ASSERT(memcmp(a, b, sizeof(seen) * N) == 0);
      CU_ASSERT(runs >= payload.len / (RUN * 2));
      /* Memory: about a run and a chunk, not the payload. */
      CU_ASSERT(max_cap < 4 * RUN + 40000);
      CU_ASSERT(payload.len > 10 * RUN);
    }
  }
  kefo__records_split_free(&s);
  kefo__records_parser_free(&q);
  kefo__records_parser_free(&p);
  kefo__records_parser_free(&whole_p);
  kefo__buf_free(&payload);
  free(a);
  free(b);
}

/* Feeds |text| in chunks of |chunk| and returns the end's text and how
   many runs came (each taken). */
static int split_all(kefo_records_split *s, const char *text, size_t chunk,
                     const uint8_t **json, size_t *len, size_t *runs,
                     size_t *records) {
  kefo_records_parser p;
  kefo_records_event ev;
  size_t off = 0, n = strlen(text);
  const uint8_t *r;
  size_t rlen;
  int rv = 0;

  *runs = *records = 0;
  kefo__records_parser_init(&p, NULL);
  kefo__records_split_begin(s);
  while (off < n && rv == 0) {
    size_t k = n - off < chunk ? n - off : chunk;
    rv = kefo__records_split_feed(s, (const uint8_t *)text + off, k);
    off += k;
    if (rv == 0) {
      rv = kefo__records_split_run(s, &p, &r, &rlen, &ev);
    }
    if (rv == 1) {
      *records += ev.nrecords;
      kefo__records_split_taken(s);
      ++*runs;
      rv = 0;
    }
  }
  kefo__records_parser_free(&p);
  return rv != 0 ? rv : kefo__records_split_end(s, json, len);
}

static void test_kept_whole_or_refused(void) {
  static const char *const whole[] = {
      /* No Records, an escaped name, Records not an array, not JSON. */
      "{\"ContinuationSequenceNumber\":\"1\",\"MillisBehindLatest\":0}",
      "{\"Rec\\u006frds\":[{\"SequenceNumber\":\"1\"}]}",
      "{\"Records\":null,\"x\":[{},{}]}",
      "[{\"Records\":[{},{}]}]",
      "{\"a\":{\"Records\":[{},{}]},\"b\":\"\\\"Records\\\":[\"}",
      "",
  };
  kefo_records_split s;
  kefo_records_parser p;
  kefo_records_event ev;
  const uint8_t *json;
  size_t len, runs, records, i, chunk;

  kefo__records_split_init(&s, NULL, 1);
  kefo__records_parser_init(&p, NULL);
  for (i = 0; i < sizeof(whole) / sizeof(whole[0]); ++i) {
    for (chunk = 1; chunk < 40; chunk += 13) {
      CU_ASSERT_EQUAL(
          split_all(&s, whole[i], chunk, &json, &len, &runs, &records), 0);
      CU_ASSERT_EQUAL(runs, 0);
      CU_ASSERT_EQUAL(len, strlen(whole[i]));
      CU_ASSERT(len == 0 || memcmp(json, whole[i], len) == 0);
    }
  }
  /* A record that is not an object reads as one with nothing, as in the
     whole parse (and no reader hands such an event on). */
  for (chunk = 1; chunk < 30; chunk += 7) {
    CU_ASSERT_EQUAL(split_all(&s, "{\"Records\":[{\"a\":1}, 7 ,{\"b\":2}]}",
                              chunk, &json, &len, &runs, &records),
                    0);
    CU_ASSERT_EQUAL_FATAL(kefo__records_parse(&p, json, len, &ev), 0);
    CU_ASSERT_EQUAL(records + ev.nrecords, 3);
    /* A number is not cut where the bytes end (the fuzzer's find). */
    CU_ASSERT_EQUAL(split_all(&s, "{\"Records\":[12345,678,9]}", chunk % 4 + 1,
                              &json, &len, &runs, &records),
                    0);
    CU_ASSERT_EQUAL_FATAL(kefo__records_parse(&p, json, len, &ev), 0);
    CU_ASSERT_EQUAL(records + ev.nrecords, 3);
  }
  /* Two records with no ',' between them, where a run was cut: refused,
     with where, and so is what is fed after. */
  CU_ASSERT_EQUAL(split_all(&s, "{\"Records\":[{\"a\":1} {\"b\":2}]}", 3, &json,
                            &len, &runs, &records),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT_EQUAL(runs, 1);
  CU_ASSERT_STRING_EQUAL(s.error, "Records with no ',' between two records");
  CU_ASSERT_EQUAL(s.error_offset, 20);
  CU_ASSERT_EQUAL(kefo__records_split_feed(&s, (const uint8_t *)"{", 1),
                  KEFO_ERR_BAD_RESPONSE);
  /* Where no run was cut there (runs of 4 KiB), the end's parse refuses
     it. */
  kefo__records_split_free(&s);
  kefo__records_split_init(&s, NULL, 4096);
  CU_ASSERT_EQUAL(split_all(&s, "{\"Records\":[{\"a\":1} {\"b\":2}]}", 3, &json,
                            &len, &runs, &records),
                  0);
  CU_ASSERT_EQUAL(runs, 0);
  CU_ASSERT_EQUAL(kefo__records_parse(&p, json, len, &ev),
                  KEFO_ERR_BAD_RESPONSE);
  kefo__records_split_free(&s);
  kefo__records_split_init(&s, NULL, 1);
  /* Runs of one record each (run_min 1): the end has the rest. */
  CU_ASSERT_EQUAL(split_all(&s,
                            "{\"Records\":[{\"a\":\"}\"},{\"b\":2} , {\"c\":3}"
                            "],\"ContinuationSequenceNumber\":\"5\"}",
                            1, &json, &len, &runs, &records),
                  0);
  CU_ASSERT_EQUAL(runs, 3);
  CU_ASSERT_EQUAL(records, 3);
  {
    const char *want = "{\"Records\":[],\"ContinuationSequenceNumber\":\"5\"}";
    CU_ASSERT(len == strlen(want) && memcmp(json, want, len) == 0);
  }
  kefo__records_parser_free(&p);
  kefo__records_split_free(&s);
}

/* A record far larger than a run, fed in small pieces: the parser reads
   it again only as the bytes double, not for every piece (that would be
   quadratic: a 16 MB event in 16 KiB frames, a thousand reads of it). */
static void test_large_record_read_few_times(void) {
  enum { DATA = 1 << 20, RUN = 4096, PIECE = 100 };
  kefo_records_split s;
  kefo_records_parser p;
  kefo_records_event ev;
  kefo_buf payload;
  const uint8_t *json;
  size_t off = 0, len, tries = 0, last_try, records = 0, k;
  int rv;

  kefo__buf_init(&payload, NULL);
  kefo__buf_append_str(&payload, "{\"Records\":[{\"SequenceNumber\":\"1\","
                                 "\"Data\":\"");
  for (k = 0; k < DATA; ++k) {
    kefo__buf_append_byte(&payload, 'A');
  }
  kefo__buf_append_str(&payload, "\"},{\"SequenceNumber\":\"2\"}]}");
  kefo__records_split_init(&s, NULL, RUN);
  kefo__records_parser_init(&p, NULL);
  kefo__records_split_begin(&s);
  last_try = s.next_try;
  while (off < payload.len) {
    size_t n = payload.len - off < PIECE ? payload.len - off : PIECE;
    CU_ASSERT_EQUAL_FATAL(kefo__records_split_feed(&s, payload.data + off, n),
                          0);
    off += n;
    rv = kefo__records_split_run(&s, &p, &json, &len, &ev);
    CU_ASSERT_FATAL(rv == 0 || rv == 1);
    if (rv == 1) {
      records += ev.nrecords;
      CU_ASSERT_STRING_EQUAL(ev.records[0].seq, "1");
      CU_ASSERT_EQUAL(ev.records[0].data_len, DATA);
      kefo__records_split_taken(&s);
    }
    if (s.next_try != last_try) {
      ++tries; /* a read that found no whole record */
      last_try = s.next_try;
    }
  }
  CU_ASSERT_EQUAL(kefo__records_split_end(&s, &json, &len), 0);
  CU_ASSERT_EQUAL_FATAL(kefo__records_parse(&p, json, len, &ev), 0);
  records += ev.nrecords;
  CU_ASSERT_EQUAL(records, 2);
  /* log2(1 MiB / 4 KiB) = 8 doublings, and the return to a run's size. */
  CU_ASSERT(tries >= 8 && tries <= 10);
  kefo__records_parser_free(&p);
  kefo__records_split_free(&s);
  kefo__buf_free(&payload);
}

/* Under a failing allocator: KEFO_ERR_NOMEM from feed or end, never a
   crash, every block freed; without failures, every record. */
static int failmalloc_scenario(const kefo_mem *mem, void *arg) {
  const kefo_buf *payload = arg;
  kefo_records_split s;
  kefo_records_parser p;
  kefo_records_event ev;
  const uint8_t *json;
  size_t off = 0, len, n = 0;
  int rv = 0;

  kefo__records_split_init(&s, mem, 4096);
  kefo__records_parser_init(&p, NULL);
  kefo__records_split_begin(&s);
  while (off < payload->len && rv == 0) {
    size_t k = payload->len - off < 1500 ? payload->len - off : 1500;
    rv = kefo__records_split_feed(&s, payload->data + off, k);
    off += k;
    if (rv == 0) {
      rv = kefo__records_split_run(&s, &p, &json, &len, &ev);
    }
    if (rv == 1) {
      n += ev.nrecords;
      kefo__records_split_taken(&s);
      rv = 0;
    }
  }
  if (rv == 0) {
    rv = kefo__records_split_end(&s, &json, &len);
  }
  if (rv == 0) {
    CU_ASSERT_EQUAL(kefo__records_parse(&p, json, len, &ev), 0);
    n += ev.nrecords;
    CU_ASSERT_EQUAL(n, 200);
  } else {
    CU_ASSERT_EQUAL(rv, KEFO_ERR_NOMEM);
  }
  kefo__records_parser_free(&p);
  kefo__records_split_free(&s);
  return rv;
}

static void test_failmalloc(void) {
  kefo_buf payload;

  kefo__buf_init(&payload, NULL);
  make_payload(&payload, 200, 40, 1);
  kefo_failmalloc_run(failmalloc_scenario, &payload);
  kefo__buf_free(&payload);
}

int kefo_add_records_split_suite(void) {
  CU_pSuite s = CU_add_suite("records_split", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "runs_equal_whole", test_runs_equal_whole) ||
      !CU_add_test(s, "kept_whole_or_refused", test_kept_whole_or_refused) ||
      !CU_add_test(s, "large_record_read_few_times",
                   test_large_record_read_few_times) ||
      !CU_add_test(s, "failmalloc", test_failmalloc)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
