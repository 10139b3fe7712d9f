/*
 * The SubscribeToShardEvent reader (aws/records_reader.c): the fields an event
 * carries, JSON escapes and surrogates, the members it must skip, the
 * input it must refuse (with what was wrong and where), agreement with
 * cJSON on documents cJSON writes, and allocation failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>

#include "aws/records_reader.h"
#include "base/error.h"
#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"

static int parse(kefo_records_parser *p, const char *json,
                 kefo_records_event *ev) {
  return kefo__records_parse(p, (const uint8_t *)json, strlen(json), ev);
}

static void test_fields(void) {
  kefo_records_parser p;
  kefo_records_event ev;
  const char *json =
      "{\"Records\":[{\"SequenceNumber\":\"4959\",\"Data\":\"aGVsbG8=\","
      "\"PartitionKey\":\"pk-1\",\"ApproximateArrivalTimestamp\":"
      "1700000000.123,\"EncryptionType\":\"NONE\"},"
      "{\"Data\":\"\",\"PartitionKey\":\"\",\"SequenceNumber\":\"4960\"}],"
      "\"ContinuationSequenceNumber\":\"4961\",\"MillisBehindLatest\":42,"
      "\"ChildShards\":[ {\"ShardId\":\"shardId-1\"} ]}";

  kefo__records_parser_init(&p, NULL);
  CU_ASSERT_EQUAL_FATAL(parse(&p, json, &ev), 0);
  CU_ASSERT_TRUE(ev.has_records);
  CU_ASSERT_EQUAL_FATAL(ev.nrecords, 2);
  CU_ASSERT_STRING_EQUAL(ev.records[0].seq, "4959");
  CU_ASSERT_STRING_EQUAL(ev.records[0].pk, "pk-1");
  CU_ASSERT_EQUAL(ev.records[0].pk_len, 4);
  CU_ASSERT_EQUAL(ev.records[0].data_len, 8);
  CU_ASSERT_EQUAL(memcmp(ev.records[0].data, "aGVsbG8=", 8), 0);
  CU_ASSERT_EQUAL(ev.records[0].arrival_ms, INT64_C(1700000000123));
  CU_ASSERT_STRING_EQUAL(ev.records[1].seq, "4960");
  CU_ASSERT_PTR_NOT_NULL(ev.records[1].data);
  CU_ASSERT_EQUAL(ev.records[1].data_len, 0);
  CU_ASSERT_EQUAL(ev.records[1].pk_len, 0);
  CU_ASSERT_EQUAL(ev.records[1].arrival_ms, 0);
  CU_ASSERT_STRING_EQUAL(ev.continuation, "4961");
  CU_ASSERT_FALSE(ev.continuation_null);
  CU_ASSERT_TRUE(ev.has_behind);
  CU_ASSERT_EQUAL(ev.behind_ms, 42);
  CU_ASSERT_EQUAL_FATAL(ev.child_shards_len, 27);
  CU_ASSERT_EQUAL(memcmp(ev.child_shards, "[ {\"ShardId\":\"shardId-1\"} ]",
                         ev.child_shards_len),
                  0);

  /* The shard's end: a null continuation, no records member. */
  CU_ASSERT_EQUAL(parse(&p,
                        " {\"ContinuationSequenceNumber\" : null ,"
                        "\"MillisBehindLatest\":-5}\r\n",
                        &ev),
                  0);
  CU_ASSERT_FALSE(ev.has_records);
  CU_ASSERT_EQUAL(ev.nrecords, 0);
  CU_ASSERT_PTR_NULL(ev.continuation);
  CU_ASSERT_TRUE(ev.continuation_null);
  CU_ASSERT_TRUE(ev.has_behind);
  CU_ASSERT_EQUAL(ev.behind_ms, 0); /* negative clamps to 0 */
  CU_ASSERT_PTR_NULL(ev.child_shards);

  /* Members of unexpected types are skipped, not taken. */
  CU_ASSERT_EQUAL(parse(&p,
                        "{\"Records\":{\"a\":[1,2,{}]},\"MillisBehindLatest\":"
                        "\"7\",\"ContinuationSequenceNumber\":12,"
                        "\"ChildShards\":{}}",
                        &ev),
                  0);
  CU_ASSERT_FALSE(ev.has_records);
  CU_ASSERT_FALSE(ev.has_behind);
  CU_ASSERT_PTR_NULL(ev.continuation);
  CU_ASSERT_FALSE(ev.continuation_null);
  CU_ASSERT_PTR_NULL(ev.next_iterator);
  CU_ASSERT_FALSE(ev.next_iterator_bad);

  /* A GetRecords answer: NextShardIterator, a string or null; of another
     type it is flagged for the polling reader to refuse. */
  CU_ASSERT_EQUAL(parse(&p,
                        "{\"Records\":[],\"NextShardIterator\":\"AAAA/b+c=\","
                        "\"MillisBehindLatest\":0}",
                        &ev),
                  0);
  CU_ASSERT_TRUE(ev.has_records);
  CU_ASSERT_STRING_EQUAL(ev.next_iterator, "AAAA/b+c=");
  CU_ASSERT_FALSE(ev.next_iterator_bad);
  CU_ASSERT_EQUAL(parse(&p, "{\"Records\":[],\"NextShardIterator\":null}", &ev),
                  0);
  CU_ASSERT_PTR_NULL(ev.next_iterator);
  CU_ASSERT_FALSE(ev.next_iterator_bad);
  CU_ASSERT_EQUAL(parse(&p,
                        "{\"Records\":[],\"NextShardIterator\":7,"
                        "\"NextShardIterator\":\"second\"}",
                        &ev),
                  0);
  CU_ASSERT_PTR_NULL(ev.next_iterator);
  CU_ASSERT_TRUE(ev.next_iterator_bad);
  CU_ASSERT_PTR_NULL(ev.child_shards);

  /* A record that is not an object is a record with nothing in it. */
  CU_ASSERT_EQUAL(parse(&p, "{\"Records\":[true,{\"Data\":5}]}", &ev), 0);
  CU_ASSERT_EQUAL_FATAL(ev.nrecords, 2);
  CU_ASSERT_PTR_NULL(ev.records[0].seq);
  CU_ASSERT_PTR_NULL(ev.records[0].data);
  CU_ASSERT_PTR_NULL(ev.records[1].data);

  /* A repeated name: the first counts, as cJSON's lookup finds it. */
  CU_ASSERT_EQUAL(parse(&p,
                        "{\"MillisBehindLatest\":1,\"MillisBehindLatest\":2,"
                        "\"Records\":[{\"SequenceNumber\":\"a\","
                        "\"SequenceNumber\":\"b\"}]}",
                        &ev),
                  0);
  CU_ASSERT_EQUAL(ev.behind_ms, 1);
  CU_ASSERT_STRING_EQUAL(ev.records[0].seq, "a");
  kefo__records_parser_free(&p);
}

static void test_escapes(void) {
  kefo_records_parser p;
  kefo_records_event ev;
  /* é (2 bytes), € (3), U+1F600 as a surrogate pair (4), escapes of
     every kind, and an escaped key that still names PartitionKey. */
  const char *json =
      "{\"Records\":[{\"SequenceNumber\":\"1\",\"Data\":\"YQ\\u003d\\u003d\","
      "\"Partition\\u004bey\":\"\\u00e9\\u20ac\\ud83d\\ude00\\\"\\\\\\/"
      "\\b\\f\\n\\r\\t\"}],\"Continuation\\u0053equenceNumber\":\"\\u0032\"}";
  const char want[] = "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"\\/\b\f\n\r\t";

  kefo__records_parser_init(&p, NULL);
  CU_ASSERT_EQUAL_FATAL(parse(&p, json, &ev), 0);
  CU_ASSERT_EQUAL_FATAL(ev.nrecords, 1);
  CU_ASSERT_EQUAL(ev.records[0].data_len, 4);
  CU_ASSERT_EQUAL(memcmp(ev.records[0].data, "YQ==", 4), 0);
  CU_ASSERT_EQUAL(ev.records[0].pk_len, sizeof(want) - 1);
  CU_ASSERT_STRING_EQUAL(ev.records[0].pk, want);
  CU_ASSERT_STRING_EQUAL(ev.continuation, "2");

  /* An escaped NUL in a key ends it, as in a C string compare. */
  CU_ASSERT_EQUAL(parse(&p, "{\"MillisBehindLatest\\u0000x\":3}", &ev), 0);
  CU_ASSERT_TRUE(ev.has_behind);
  CU_ASSERT_EQUAL(ev.behind_ms, 3);
  kefo__records_parser_free(&p);
}

static void test_refused(void) {
  static const struct {
    const char *json;
    const char *why;
    size_t at;
  } cases[] = {
      {"", "not a JSON object", 0},
      {"[]", "not a JSON object", 0},
      {"{\"a\":1", "expected ',' or '}'", 6},
      {"{\"a\":1} x", "bytes after the JSON object", 8},
      {"{\"a\":1,}", "expected a string", 7},
      {"{\"a\" 1}", "expected ':'", 5},
      {"{\"a\":\"x", "unterminated string", 7},
      {"{\"a\":\"\x01\"}", "control character in a string", 6},
      {"{\"a\":\"\\x\"}", "bad escape in a string", 6},
      {"{\"a\":\"\\u12g4\"}", "bad \\u escape", 6},
      {"{\"a\":\"\\udc00\"}", "lone low surrogate", 6},
      {"{\"a\":\"\\ud800x\"}", "high surrogate without a low one", 6},
      {"{\"a\":\"\\ud800\\u0041\"}", "high surrogate without a low one", 6},
      {"{\"a\":01}", "expected ',' or '}'", 6},
      {"{\"a\":1.}", "bad number", 7},
      {"{\"a\":1e}", "bad number", 7},
      {"{\"a\":-}", "bad number", 5},
      {"{\"a\":tru}", "unexpected character", 5},
      {"{\"a\":[1 2]}", "expected ',' or ']'", 8},
      {"{\"Records\":[{\"Data\":\"x\"},]}", "unexpected character", 25},
      {"{\"MillisBehindLatest\":"
       "1234567890123456789012345678901234567890123456789012345678901234}",
       "number longer than 63 characters", 22},
  };
  kefo_records_parser p;
  kefo_records_event ev;
  char deep[200];
  size_t i;

  kefo__records_parser_init(&p, NULL);
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    int rv = parse(&p, cases[i].json, &ev);
    CU_ASSERT_EQUAL(rv, KEFO_ERR_BAD_RESPONSE);
    if (rv != KEFO_ERR_BAD_RESPONSE || p.error == NULL ||
        strcmp(p.error, cases[i].why) != 0 || p.error_offset != cases[i].at) {
      printf("\n  case %zu %s: got %d \"%s\" at %zu\n", i, cases[i].json, rv,
             p.error ? p.error : "(none)", p.error_offset);
      CU_FAIL("refused with the wrong reason or offset");
    }
  }
  /* 64 levels deep in all is allowed, 65 is not. */
  for (i = 0; i < 2; ++i) {
    size_t levels = 63 + i, k, n = 0;
    n += (size_t)snprintf(deep + n, sizeof(deep) - n, "{\"a\":");
    for (k = 0; k < levels; ++k) {
      deep[n++] = '[';
    }
    for (k = 0; k < levels; ++k) {
      deep[n++] = ']';
    }
    deep[n++] = '}';
    deep[n] = '\0';
    CU_ASSERT_EQUAL(parse(&p, deep, &ev), i == 0 ? 0 : KEFO_ERR_BAD_RESPONSE);
  }
  CU_ASSERT_STRING_EQUAL(p.error, "nested too deep");
  kefo__records_parser_free(&p);
}

/*
 * Plain runs are scanned 8, 16, 32 or 64 bytes at a time (by the CPU): an
 * escape or a control character at every position of strings up to 140
 * bytes long, which spans two 64-byte AVX2 steps, a 32-byte one and the
 * shorter tails, is found exactly where it is.
 */
static void test_runs(void) {
  kefo_records_parser p;
  kefo_records_event ev;
  char json[256], want[160];
  size_t len, at;
  int bad = 0;

  kefo__records_parser_init(&p, NULL);
  for (len = 1; len <= 140; ++len) {
    for (at = 0; at < len; ++at) {
      size_t n;
      memset(want, 'A', len);
      want[at] = '\n';
      want[len] = '\0';
      n = (size_t)snprintf(json, sizeof(json),
                           "{\"Records\":[{\"PartitionKey\":\"%.*s\\n%s\"}]}",
                           (int)at, want, want + at + 1);
      if (kefo__records_parse(&p, (uint8_t *)json, n, &ev) != 0 ||
          ev.nrecords != 1 || ev.records[0].pk_len != len ||
          memcmp(ev.records[0].pk, want, len) != 0) {
        ++bad;
      }
      /* The same with the raw control character: refused at its byte. */
      n = (size_t)snprintf(json, sizeof(json),
                           "{\"Records\":[{\"PartitionKey\":\"%s\"}]}", want);
      if (kefo__records_parse(&p, (uint8_t *)json, n, &ev) !=
              KEFO_ERR_BAD_RESPONSE ||
          p.error_offset != 29 + at) {
        ++bad;
      }
    }
  }
  CU_ASSERT_EQUAL(bad, 0);
  kefo__records_parser_free(&p);
}

/*
 * Events written by cJSON from random records (random bytes in the keys,
 * so escapes of every kind) read the same through both parsers.
 */
static void test_agrees_with_cjson(void) {
  kefo_records_parser p;
  kefo_records_event ev;
  unsigned seed = 12345;
  int round, mismatches = 0;

  kefo__records_parser_init(&p, NULL);
  for (round = 0; round < 200; ++round) {
    cJSON *root = cJSON_CreateObject(), *recs = cJSON_CreateArray(), *back;
    int n = (int)(rand_r(&seed) % 20), i;
    char *text;

    cJSON_AddItemToObject(root, "Records", recs);
    for (i = 0; i < n; ++i) {
      cJSON *r = cJSON_CreateObject();
      char key[40], seq[32];
      int k, klen = 1 + (int)(rand_r(&seed) % 38);
      for (k = 0; k < klen; ++k) {
        key[k] = (char)(1 + rand_r(&seed) % 255); /* any byte but NUL */
      }
      key[klen] = '\0';
      snprintf(seq, sizeof(seq), "%u%u", rand_r(&seed), rand_r(&seed));
      cJSON_AddStringToObject(r, "SequenceNumber", seq);
      cJSON_AddStringToObject(r, "Data", "AAECAwQ=");
      cJSON_AddStringToObject(r, "PartitionKey", key);
      cJSON_AddNumberToObject(r, "ApproximateArrivalTimestamp",
                              1.6e9 + rand_r(&seed) % 100000 / 1000.0);
      cJSON_AddItemToArray(recs, r);
    }
    cJSON_AddStringToObject(root, "ContinuationSequenceNumber", "99");
    cJSON_AddNumberToObject(root, "MillisBehindLatest", rand_r(&seed) % 5000);
    text = round % 2 ? cJSON_Print(root) : cJSON_PrintUnformatted(root);
    back = cJSON_Parse(text);
    if (parse(&p, text, &ev) != 0 || back == NULL || ev.nrecords != (size_t)n) {
      ++mismatches;
    } else {
      const cJSON *r;
      i = 0;
      cJSON_ArrayForEach(r, cJSON_GetObjectItem(back, "Records")) {
        const kefo_wire_record *w = &ev.records[i++];
        if (strcmp(w->pk,
                   cJSON_GetObjectItem(r, "PartitionKey")->valuestring) ||
            strcmp(w->seq,
                   cJSON_GetObjectItem(r, "SequenceNumber")->valuestring) ||
            w->arrival_ms !=
                (int64_t)(cJSON_GetObjectItem(r, "ApproximateArrivalTimestamp")
                              ->valuedouble *
                          1000)) {
          ++mismatches;
        }
      }
      if (ev.behind_ms !=
          (int64_t)cJSON_GetObjectItem(back, "MillisBehindLatest")->valueint) {
        ++mismatches;
      }
    }
    cJSON_free(text);
    cJSON_Delete(root);
    cJSON_Delete(back);
  }
  CU_ASSERT_EQUAL(mismatches, 0);
  kefo__records_parser_free(&p);
}

/* A PutRecords answer: entries in order, failed ones with their code and
   message (escapes decoded), other members and types skipped, the first
   of a repeated name counting; and what is refused. */
static int put_answer(kefo_records_parser *p, const char *json, size_t max,
                      const kefo_put_answer_entry **e, size_t *n) {
  return kefo__records_put_answer_parse(p, (const uint8_t *)json, strlen(json),
                                        max, e, n);
}

static void test_put_answer(void) {
  kefo_records_parser p;
  const kefo_put_answer_entry *e;
  size_t n;

  kefo__records_parser_init(&p, NULL);
  CU_ASSERT_EQUAL(
      put_answer(
          &p,
          " {\"FailedRecordCount\": 1, \"Records\": [\n"
          "  {\"SequenceNumber\": \"4960\", \"ShardId\": "
          "\"shardId-000000000001\", \"Extra\": {\"a\": [1, null]}},\n"
          "  {\"ErrorCode\": \"ProvisionedThroughputExceededException\","
          " \"ErrorMessage\": \"Rate exceeded for shard \\\"s\\\" "
          "\\u00e9\", \"ErrorCode\": \"Second\"},\n"
          "  {\"Shard\\u0049d\": \"escaped-name\", \"SequenceNumber\": 7}"
          "], \"EncryptionType\": \"NONE\"} ",
          3, &e, &n),
      0);
  CU_ASSERT_EQUAL(n, 3);
  if (n == 3) {
    CU_ASSERT_STRING_EQUAL(e[0].sequence_number, "4960");
    CU_ASSERT_STRING_EQUAL(e[0].shard_id, "shardId-000000000001");
    CU_ASSERT_PTR_NULL(e[0].error_code);
    CU_ASSERT_PTR_NULL(e[1].sequence_number);
    CU_ASSERT_STRING_EQUAL(e[1].error_code,
                           "ProvisionedThroughputExceededException");
    CU_ASSERT_STRING_EQUAL(e[1].error_message,
                           "Rate exceeded for shard \"s\" \xc3\xa9");
    CU_ASSERT_STRING_EQUAL(e[2].shard_id, "escaped-name");
    CU_ASSERT_PTR_NULL(e[2].sequence_number); /* a number, not a string */
  }
  CU_ASSERT_EQUAL(put_answer(&p, "{\"Records\":[]}", 3, &e, &n), 0);
  CU_ASSERT_EQUAL(n, 0);
  /* Refused, each with a reason. */
  CU_ASSERT_EQUAL(put_answer(&p, "{\"FailedRecordCount\":0}", 3, &e, &n),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT_PTR_NOT_NULL(p.error);
  CU_ASSERT_EQUAL(put_answer(&p, "{\"Records\":{}}", 3, &e, &n),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT_EQUAL(put_answer(&p, "{\"Records\":[{},\"x\"]}", 3, &e, &n),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT_EQUAL(put_answer(&p, "{\"Records\":[{},{}]}", 1, &e, &n),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT_EQUAL(put_answer(&p, "{\"Records\":[{}]} x", 3, &e, &n),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT_EQUAL(
      put_answer(&p, "{\"Records\":[{\"ShardId\":\"a\x01\"}]}", 3, &e, &n),
      KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT_EQUAL(put_answer(&p, "[]", 3, &e, &n), KEFO_ERR_BAD_RESPONSE);
  kefo__records_parser_free(&p);
}

/* The scratch stays between events, and trim gives a large one back. */
static void test_scratch(void) {
  kefo_records_parser p;
  kefo_records_event ev;
  char *big = malloc(200000);
  size_t n = 0;
  int i;

  CU_ASSERT_PTR_NOT_NULL_FATAL(big);
  n += (size_t)sprintf(big, "{\"Records\":[");
  for (i = 0; i < 1000; ++i) {
    n += (size_t)sprintf(big + n,
                         "%s{\"SequenceNumber\":\"%d\",\"Data\":\"QQ==\","
                         "\"PartitionKey\":\"k\\n%d\"}",
                         i ? "," : "", i, i);
  }
  n += (size_t)sprintf(big + n, "]}");
  kefo__records_parser_init(&p, NULL);
  CU_ASSERT_EQUAL_FATAL(kefo__records_parse(&p, (uint8_t *)big, n, &ev), 0);
  CU_ASSERT_EQUAL(ev.nrecords, 1000);
  CU_ASSERT_STRING_EQUAL(ev.records[999].seq, "999");
  CU_ASSERT_STRING_EQUAL(ev.records[999].pk, "k\n999");
  CU_ASSERT_STRING_EQUAL(ev.records[0].pk, "k\n0"); /* not overwritten */
  CU_ASSERT_TRUE(p.recs_cap >= 1000);
  kefo__records_parser_trim(&p, 1024 * 1024); /* under the bound: kept */
  CU_ASSERT_TRUE(p.recs_cap >= 1000);
  kefo__records_parser_trim(&p, 1024);
  CU_ASSERT_EQUAL(p.recs_cap, 0);
  CU_ASSERT_EQUAL(p.strings.cap, 0);
  CU_ASSERT_EQUAL(parse(&p, "{}", &ev), 0); /* usable after a trim */
  kefo__records_parser_free(&p);
  free(big);
}

static int scenario(const kefo_mem *mem, void *arg) {
  kefo_records_parser p;
  kefo_records_event ev;
  char json[8192];
  size_t n = 0;
  int i, rv;

  (void)arg;
  n += (size_t)sprintf(json, "{\"Records\":[");
  for (i = 0; i < 100; ++i) {
    n += (size_t)sprintf(json + n, "%s{\"SequenceNumber\":\"%d\"}",
                         i ? "," : "", i);
  }
  n += (size_t)sprintf(json + n, "]}");
  kefo__records_parser_init(&p, mem);
  rv = kefo__records_parse(&p, (uint8_t *)json, n, &ev);
  if (rv == 0 && (ev.nrecords != 100 || strcmp(ev.records[99].seq, "99"))) {
    rv = -1;
  }
  CU_ASSERT(rv == 0 || rv == KEFO_ERR_NOMEM);
  kefo__records_parser_free(&p);
  return rv;
}

/* A 100-entry PutRecords answer (the entries' array grows past its first
   64) under the failing allocator. */
static int put_scenario(const kefo_mem *mem, void *arg) {
  kefo_records_parser p;
  const kefo_put_answer_entry *e;
  char json[8192];
  size_t n = 0, got = 0;
  int i, rv;

  (void)arg;
  n += (size_t)sprintf(json, "{\"Records\":[");
  for (i = 0; i < 100; ++i) {
    n += (size_t)sprintf(json + n, "%s{\"ShardId\":\"s%d\"}", i ? "," : "", i);
  }
  n += (size_t)sprintf(json + n, "]}");
  kefo__records_parser_init(&p, mem);
  rv = kefo__records_put_answer_parse(&p, (uint8_t *)json, n, 500, &e, &got);
  if (rv == 0 && (got != 100 || strcmp(e[99].shard_id, "s99"))) {
    rv = -1;
  }
  CU_ASSERT(rv == 0 || rv == KEFO_ERR_NOMEM);
  kefo__records_parser_free(&p);
  return rv;
}

static void test_failmalloc(void) {
  kefo_failmalloc_run(scenario, NULL);
  kefo_failmalloc_run(put_scenario, NULL);
}

/*
 * Numbers converted without strtod are the same doubles, bit for bit, as
 * strtod's: 200,000 random values written as %.Ng, %.Ne and %.Nf with 1
 * to 17 digits, plus the shapes Kinesis sends; and the fast path is taken
 * for those shapes (else this would test nothing).
 */
static void test_numbers_as_strtod(void) {
  static const char *const kinesis[] = {
      "1764758400.123",   "1.764758400123E9", "1764758400", "0", "-0", "0.5",
      "12345678901234.5", "86400000"};
  unsigned seed = 777;
  size_t i, fast = 0, slow = 0, wrong = 0;
  char buf[80];

  for (i = 0; i < sizeof(kinesis) / sizeof(kinesis[0]); ++i) {
    double a = 0, b = strtod(kinesis[i], NULL);
    CU_ASSERT_EQUAL(kefo__records_number((const uint8_t *)kinesis[i],
                                         strlen(kinesis[i]), &a),
                    0);
    CU_ASSERT_EQUAL(memcmp(&a, &b, sizeof(a)), 0);
  }
  for (i = 0; i < 200000; ++i) {
    double v, a, b;
    int digits, n;
    seed = seed * 1103515245u + 12345u;
    v = (double)(seed >> 8) / (double)(1u << 24);
    seed = seed * 1103515245u + 12345u;
    /* From 1e-12 to 1e14, either sign. */
    for (n = (int)((seed >> 8) % 27); n > 0; --n) {
      v *= 10;
    }
    v /= 1e12;
    if (seed & 1u) {
      v = -v;
    }
    seed = seed * 1103515245u + 12345u;
    digits = 1 + (int)((seed >> 8) % 17);
    switch ((seed >> 4) % 3) {
    case 0:
      n = snprintf(buf, sizeof(buf), "%.*g", digits, v);
      break;
    case 1:
      n = snprintf(buf, sizeof(buf), "%.*e", digits, v);
      break;
    default:
      n = snprintf(buf, sizeof(buf), "%.*f", digits, v);
      break;
    }
    b = strtod(buf, NULL);
    if (kefo__records_number((const uint8_t *)buf, (size_t)n, &a) == 0) {
      ++fast;
      wrong += memcmp(&a, &b, sizeof(a)) != 0;
    } else {
      ++slow;
    }
  }
  CU_ASSERT_EQUAL(wrong, 0);
  CU_ASSERT(fast > 100000);
  CU_ASSERT(slow > 1000);
  /* Past the fast path: 16 digits, or 10^23. */
  {
    double a = 42;
    CU_ASSERT_EQUAL(
        kefo__records_number((const uint8_t *)"1234567890123456", 16, &a), -1);
    CU_ASSERT_EQUAL(kefo__records_number((const uint8_t *)"1e23", 4, &a), -1);
    CU_ASSERT_EQUAL(kefo__records_number((const uint8_t *)"1e-23", 5, &a), -1);
    CU_ASSERT(a == 42);
  }
}

int kefo_add_records_reader_suite(void) {
  CU_pSuite s = CU_add_suite("sts_event", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "fields", test_fields) ||
      !CU_add_test(s, "escapes", test_escapes) ||
      !CU_add_test(s, "refused", test_refused) ||
      !CU_add_test(s, "runs", test_runs) ||
      !CU_add_test(s, "numbers_as_strtod", test_numbers_as_strtod) ||
      !CU_add_test(s, "agrees_with_cjson", test_agrees_with_cjson) ||
      !CU_add_test(s, "scratch", test_scratch) ||
      !CU_add_test(s, "put answer", test_put_answer) ||
      !CU_add_test(s, "failmalloc", test_failmalloc)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
