/*
 * Tests for runtime/kpl: the generated and AWS-published KPL vectors,
 * hand-made malformed aggregates, 128-bit hash keys, the KCL's
 * hash-range rule, and a failing-allocator run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <openssl/evp.h>

#include "shard/kpl.h"
#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"
#include "tests/support/vectors.h"

/* Generated cases in kpl/ plus the one in kpl/aws-sample/. */
#define KPL_VECTOR_CASES 7
#define MAX_COLLECTED 256

/* CU_ASSERT that also remembers a failure in |ok| and says which. */
#define CHECK(cond)                                                            \
  do {                                                                         \
    int check_ = (cond) ? 1 : 0;                                               \
    CU_assertImplementation(check_ ? CU_TRUE : CU_FALSE, __LINE__, #cond,      \
                            __FILE__, "", CU_FALSE);                           \
    if (!check_) {                                                             \
      ok = 0;                                                                  \
    }                                                                          \
  } while (0)

typedef struct collected {
  kefo_kpl_record recs[MAX_COLLECTED];
  size_t n;
  /* Callback number (0-based) that returns non-zero; -1 for none. */
  long fail_at;
  size_t calls;
} collected;

static const uint8_t magic[KEFO_KPL_MAGIC_LEN] = {0xF3, 0x89, 0x9A, 0xC2};

static void collected_init(collected *col) {
  memset(col, 0, sizeof(*col));
  col->fail_at = -1;
}

static int collect_cb(const kefo_kpl_record *rec, void *user_data) {
  collected *col = user_data;

  if ((long)col->calls++ == col->fail_at) {
    return 1;
  }
  if (col->n < MAX_COLLECTED) {
    col->recs[col->n++] = *rec;
  }
  return 0;
}

/* Decodes standard padded base64 with OpenSSL, which the vectors use.
   Returns a malloc'ed buffer (never NULL on success) or NULL. */
static uint8_t *b64_decode(const char *s, size_t *outlen) {
  size_t len = strlen(s), pad = 0;
  uint8_t *out = malloc(len / 4 * 3 + 1);
  int n;

  if (out == NULL || len % 4 != 0) {
    free(out);
    return NULL;
  }
  n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len);
  if (n < 0) {
    free(out);
    return NULL;
  }
  /* EVP_DecodeBlock counts the bytes the padding stands for. */
  while (pad < 2 && len > pad && s[len - 1 - pad] == '=') {
    ++pad;
  }
  *outlen = (size_t)n - pad;
  return out;
}

static int bytes_eq(const void *a, size_t alen, const void *b, size_t blen) {
  return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

static int str_eq(const char *a, size_t alen, const char *b) {
  return a != NULL && bytes_eq(a, alen, b, strlen(b));
}

static int within(const void *p, size_t len, const uint8_t *blob,
                  size_t bloblen) {
  const uint8_t *q = p;
  return len == 0 || (q >= blob && q + len <= blob + bloblen);
}

static const char *json_str(const cJSON *obj, const char *name) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
  return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Compares one delivered record with one `userRecords` entry. */
static int check_user_record(const char *name, const kefo_kpl_record *rec,
                             const cJSON *exp, const uint8_t *blob,
                             size_t bloblen, int aggregated) {
  const cJSON *ehk = cJSON_GetObjectItemCaseSensitive(exp, "explicitHashKey");
  const cJSON *sub = cJSON_GetObjectItemCaseSensitive(exp, "subSequenceNumber");
  const char *pk = json_str(exp, "partitionKey");
  const char *effective = json_str(exp, "effectiveHashKey");
  const char *data64 = json_str(exp, "data");
  char dec[KEFO_HASH_KEY_DEC_LEN];
  uint8_t *data = NULL;
  size_t datalen = 0;
  int ok = 1;

  CHECK(cJSON_IsNumber(sub) &&
        rec->sub_sequence_number == (uint64_t)sub->valuedouble);
  CHECK(pk != NULL && str_eq(rec->partition_key, rec->partition_key_len, pk));
  if (cJSON_IsNull(ehk)) {
    CHECK(rec->explicit_hash_key == NULL);
  } else {
    CHECK(cJSON_IsString(ehk) &&
          str_eq(rec->explicit_hash_key, rec->explicit_hash_key_len,
                 ehk->valuestring));
  }
  CHECK(rec->hash_key_valid);
  kefo__hash_key_format(dec, &rec->hash_key);
  CHECK(effective != NULL && strcmp(dec, effective) == 0);
  CHECK(data64 != NULL && (data = b64_decode(data64, &datalen)) != NULL);
  CHECK(data != NULL && bytes_eq(rec->data, rec->data_len, data, datalen));
  /* Zero-copy: data (and keys of an aggregate) point into the blob. */
  CHECK(within(rec->data, rec->data_len, blob, bloblen));
  if (aggregated) {
    CHECK(within(rec->partition_key, rec->partition_key_len, blob, bloblen));
  }
  CHECK(rec->aggregated == aggregated);
  free(data);
  if (!ok) {
    fprintf(stderr, "kpl: %s: user record %llu differs\n", name,
            (unsigned long long)rec->sub_sequence_number);
  }
  return ok;
}

/* Runs one `X.json` case against its `X.bin`. Returns 1 when it passes. */
static int run_vector_case(const char *json_rel) {
  static const char all_lo[] = "0";
  static const char all_hi[] = "340282366920938463463374607431768211455";
  cJSON *j = kefo_test_read_vector_json(json_rel);
  const cJSON *outer, *urecs, *agg;
  const char *file, *pk, *slash;
  char bin_rel[512];
  uint8_t *blob = NULL;
  size_t bloblen = 0, i, nexp;
  collected *col = malloc(sizeof(*col));
  kefo_kpl_options opts;
  kefo_hash_range all;
  kefo_kpl_result res;
  int ok = 1, rv, aggregated;

  CHECK(j != NULL && col != NULL);
  if (j == NULL || col == NULL) {
    goto done;
  }
  file = json_str(j, "file");
  outer = cJSON_GetObjectItemCaseSensitive(j, "kinesisRecord");
  pk = json_str(outer, "partitionKey");
  urecs = cJSON_GetObjectItemCaseSensitive(j, "userRecords");
  agg = cJSON_GetObjectItemCaseSensitive(j, "aggregated");
  CHECK(file != NULL && pk != NULL && cJSON_IsArray(urecs) &&
        cJSON_IsBool(agg));
  if (!ok) {
    goto done;
  }
  aggregated = cJSON_IsTrue(agg);
  slash = strrchr(json_rel, '/');
  snprintf(bin_rel, sizeof(bin_rel), "%.*s/%s",
           slash ? (int)(slash - json_rel) : 0, json_rel, file);
  CHECK(kefo_test_read_vector(bin_rel, &blob, &bloblen) == 0);
  if (!ok) {
    goto done;
  }

  collected_init(col);
  memset(&opts, 0, sizeof(opts));
  opts.flags = KEFO_KPL_HASH_KEYS;
  rv = kefo__kpl_deaggregate(NULL, blob, bloblen, pk, strlen(pk), &opts,
                             collect_cb, col, &res);
  nexp = (size_t)cJSON_GetArraySize(urecs);
  CHECK(rv == 0);
  CHECK(res.aggregated == aggregated);
  CHECK(res.nrecords == nexp && res.delivered == nexp && res.dropped == 0);
  CHECK(col->n == nexp);
  for (i = 0; ok && i < nexp && i < col->n; ++i) {
    ok &= check_user_record(json_rel, &col->recs[i],
                            cJSON_GetArrayItem(urecs, (int)i), blob, bloblen,
                            aggregated);
  }

  /* A range that holds every key changes nothing. */
  CHECK(kefo__hash_range_init(&all, all_lo, strlen(all_lo), all_hi,
                              strlen(all_hi)) == 0);
  opts.range = &all;
  opts.flags = 0;
  collected_init(col);
  rv = kefo__kpl_deaggregate(NULL, blob, bloblen, pk, strlen(pk), &opts,
                             collect_cb, col, &res);
  CHECK(rv == 0 && col->n == nexp && res.dropped == 0);

done:
  if (!ok) {
    fprintf(stderr, "kpl: vector case %s failed\n", json_rel);
  }
  free(blob);
  free(col);
  cJSON_Delete(j);
  return ok;
}

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void test_kpl_vectors(void) {
  char **names = NULL;
  size_t n, i, cases = 0, passed = 0;
  char rel[512];

  n = kefo_test_list_vectors("kpl", &names);
  for (i = 0; i < n; ++i) {
    if (!ends_with(names[i], ".json")) {
      continue;
    }
    snprintf(rel, sizeof(rel), "kpl/%s", names[i]);
    ++cases;
    passed += (size_t)run_vector_case(rel);
  }
  kefo_test_free_list(names, n);
  /* Only when the folder is there, so a missing one fails the count
     without a second message. */
  if (cases > 0) {
    ++cases;
    passed += (size_t)run_vector_case("kpl/aws-sample/sample_100_records.json");
  }
  CU_ASSERT_EQUAL(cases, KPL_VECTOR_CASES);
  CU_ASSERT_EQUAL(passed, cases);
  printf("kpl: %zu/%zu vector cases passed\n", passed, cases);
}

/*
 * Hand-made aggregates. wrap() adds the magic and a correct MD5, so each
 * case tests the protobuf reader rather than the checksum.
 */

static size_t wrap(uint8_t *out, const uint8_t *pb, size_t pblen) {
  unsigned int mdlen = 0;

  memcpy(out, magic, sizeof(magic));
  memcpy(out + sizeof(magic), pb, pblen);
  EVP_Digest(pb, pblen, out + sizeof(magic) + pblen, &mdlen, EVP_md5(), NULL);
  CU_ASSERT_EQUAL(mdlen, KEFO_KPL_DIGEST_LEN);
  return sizeof(magic) + pblen + KEFO_KPL_DIGEST_LEN;
}

/* De-aggregates |pb| wrapped as an aggregate; returns the call's code. */
static int run_pb(const uint8_t *pb, size_t pblen, const kefo_kpl_options *opts,
                  collected *col, kefo_kpl_result *res, uint8_t *blob,
                  size_t *bloblen) {
  *bloblen = wrap(blob, pb, pblen);
  collected_init(col);
  return kefo__kpl_deaggregate(NULL, blob, *bloblen, "outer", 5, opts,
                               collect_cb, col, res);
}

/* |pb| must come out as one pass-through record: the blob unchanged. */
static void expect_pass_through(const uint8_t *pb, size_t pblen) {
  static collected col;
  uint8_t blob[512];
  size_t bloblen;
  kefo_kpl_result res;
  int rv;

  rv = run_pb(pb, pblen, NULL, &col, &res, blob, &bloblen);
  CU_ASSERT_EQUAL(rv, 0);
  CU_ASSERT_EQUAL(res.aggregated, 0);
  CU_ASSERT_EQUAL(res.nrecords, 1);
  CU_ASSERT_EQUAL(res.delivered, 1);
  CU_ASSERT_EQUAL_FATAL(col.n, 1);
  CU_ASSERT(col.recs[0].data == blob);
  CU_ASSERT_EQUAL(col.recs[0].data_len, bloblen);
  CU_ASSERT_EQUAL(col.recs[0].aggregated, 0);
  CU_ASSERT_EQUAL(col.recs[0].sub_sequence_number, 0);
  CU_ASSERT(str_eq(col.recs[0].partition_key, col.recs[0].partition_key_len,
                   "outer"));
  CU_ASSERT(col.recs[0].explicit_hash_key == NULL);
}

/* |pb| must be an aggregate of |n| records with data "x", "y", ... */
static void expect_aggregate(const uint8_t *pb, size_t pblen, size_t n) {
  static collected col;
  uint8_t blob[512];
  size_t bloblen, i;
  kefo_kpl_result res;
  int rv;

  rv = run_pb(pb, pblen, NULL, &col, &res, blob, &bloblen);
  CU_ASSERT_EQUAL(rv, 0);
  CU_ASSERT_EQUAL(res.aggregated, 1);
  CU_ASSERT_EQUAL(res.nrecords, n);
  CU_ASSERT_EQUAL(res.delivered, n);
  CU_ASSERT_EQUAL_FATAL(col.n, n);
  for (i = 0; i < n; ++i) {
    CU_ASSERT_EQUAL(col.recs[i].aggregated, 1);
    CU_ASSERT_EQUAL(col.recs[i].sub_sequence_number, i);
    CU_ASSERT_EQUAL(col.recs[i].data_len, 1);
    CU_ASSERT_EQUAL(col.recs[i].data[0], (uint8_t)('x' + i));
  }
}

/* Two partition keys, one explicit hash key, two records; the first has
   no field 2 although the table has an entry. */
static const uint8_t pb_ok[] = {
    0x0A, 0x01, 'a',                                    /* pk table "a" */
    0x0A, 0x01, 'b',                                    /* pk table "b" */
    0x12, 0x01, '5',                                    /* ehk table "5" */
    0x1A, 0x05, 0x08, 0x00, 0x1A, 0x01, 'x',            /* pk 0, "x" */
    0x1A, 0x07, 0x08, 0x01, 0x10, 0x00, 0x1A, 0x01, 'y' /* pk 1, ehk 0 */
};

static void test_kpl_valid(void) {
  static collected col;
  uint8_t blob[512];
  size_t bloblen;
  kefo_kpl_result res;
  kefo_kpl_options opts = {KEFO_KPL_HASH_KEYS, NULL};
  kefo_hash_key k;

  CU_ASSERT_EQUAL(
      run_pb(pb_ok, sizeof(pb_ok), &opts, &col, &res, blob, &bloblen), 0);
  CU_ASSERT_EQUAL(res.aggregated, 1);
  CU_ASSERT_EQUAL_FATAL(col.n, 2);
  CU_ASSERT(
      str_eq(col.recs[0].partition_key, col.recs[0].partition_key_len, "a"));
  /* Field 2 absent: no explicit hash key, not entry 0. */
  CU_ASSERT(col.recs[0].explicit_hash_key == NULL);
  kefo__hash_key_from_partition_key(&k, "a", 1);
  CU_ASSERT(col.recs[0].hash_key_valid);
  CU_ASSERT(kefo__hash_key_cmp(&col.recs[0].hash_key, &k) == 0);
  CU_ASSERT(
      str_eq(col.recs[1].partition_key, col.recs[1].partition_key_len, "b"));
  CU_ASSERT(str_eq(col.recs[1].explicit_hash_key,
                   col.recs[1].explicit_hash_key_len, "5"));
  CU_ASSERT(col.recs[1].hash_key.hi == 0 && col.recs[1].hash_key.lo == 5);
  CU_ASSERT(col.recs[1].data == blob + KEFO_KPL_MAGIC_LEN + 24);
  expect_aggregate(pb_ok, sizeof(pb_ok), 2);
}

static void test_kpl_truncated_varint(void) {
  /* Inside a record: the index varint runs past the record's end. */
  static const uint8_t in_record[] = {0x0A, 0x01, 'a',  0x1A,
                                      0x03, 0x08, 0x80, 0x80};
  /* At the top level: a record's length varint is cut off. */
  static const uint8_t top_len[] = {0x0A, 0x01, 'a', 0x1A, 0x80};
  /* A tag with no value after it. */
  static const uint8_t top_tag[] = {0x0A, 0x01, 'a', 0x28};
  /* A tag varint cut off. */
  static const uint8_t tag_cut[] = {0x0A, 0x01, 'a', 0x80};

  expect_pass_through(in_record, sizeof(in_record));
  expect_pass_through(top_len, sizeof(top_len));
  expect_pass_through(top_tag, sizeof(top_tag));
  expect_pass_through(tag_cut, sizeof(tag_cut));
}

static void test_kpl_long_varint(void) {
  /* 11 bytes: one more than a 64-bit varint can take. */
  static const uint8_t eleven[] = {0x0A, 0x01, 'a',  0x1A, 0x0F, 0x08, 0x80,
                                   0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                   0x80, 0x80, 0x00, 0x1A, 0x01, 'x'};
  /* 10 bytes whose last carries bits past 64. */
  static const uint8_t overflow[] = {0x0A, 0x01, 'a',  0x1A, 0x0E, 0x08, 0xFF,
                                     0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                     0xFF, 0x02, 0x1A, 0x01, 'x'};
  /* 10 bytes, UINT64_MAX, in an unknown field: fine, and skipped. */
  static const uint8_t ten[] = {0x0A, 0x01, 'a',  0x28, 0xFF, 0xFF, 0xFF,
                                0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
                                0x1A, 0x05, 0x08, 0x00, 0x1A, 0x01, 'x'};
  /* A zero index written in 10 bytes is still index 0. */
  static const uint8_t padded[] = {0x0A, 0x01, 'a',  0x1A, 0x0E, 0x08, 0x80,
                                   0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                   0x80, 0x00, 0x1A, 0x01, 'x'};

  expect_pass_through(eleven, sizeof(eleven));
  expect_pass_through(overflow, sizeof(overflow));
  expect_aggregate(ten, sizeof(ten), 1);
  expect_aggregate(padded, sizeof(padded), 1);
}

static void test_kpl_length_past_end(void) {
  /* The data field claims 9 bytes inside a 5-byte record. */
  static const uint8_t in_record[] = {0x0A, 0x01, 'a',  0x1A, 0x05,
                                      0x08, 0x00, 0x1A, 0x09, 'x'};
  /* The record claims 127 bytes. */
  static const uint8_t top[] = {0x0A, 0x01, 'a',  0x1A, 0x7F,
                                0x08, 0x00, 0x1A, 0x01, 'x'};
  /* A length of 2^64 - 1 must not wrap the bounds check. */
  static const uint8_t huge[] = {0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                 0xFF, 0xFF, 0xFF, 0xFF, 0x01, 'a'};
  /* Fixed-width unknown fields cut short. */
  static const uint8_t i64[] = {0x0A, 0x01, 'a', 0x31, 1, 2, 3, 4, 5, 6, 7};
  static const uint8_t i32[] = {0x0A, 0x01, 'a', 0x45, 1, 2, 3};

  expect_pass_through(in_record, sizeof(in_record));
  expect_pass_through(top, sizeof(top));
  expect_pass_through(huge, sizeof(huge));
  expect_pass_through(i64, sizeof(i64));
  expect_pass_through(i32, sizeof(i32));
}

static void test_kpl_index_out_of_range(void) {
  static const uint8_t pk_index[] = {0x0A, 0x01, 'a',  0x1A, 0x05,
                                     0x08, 0x01, 0x1A, 0x01, 'x'};
  static const uint8_t ehk_index[] = {0x0A, 0x01, 'a',  0x12, 0x01,
                                      '1',  0x1A, 0x07, 0x08, 0x00,
                                      0x10, 0x01, 0x1A, 0x01, 'x'};
  static const uint8_t no_ehk_table[] = {0x0A, 0x01, 'a',  0x1A, 0x07, 0x08,
                                         0x00, 0x10, 0x00, 0x1A, 0x01, 'x'};
  /* 2^32: index 0 only if truncated to 32 bits, which we do not. */
  static const uint8_t big[] = {0x0A, 0x01, 'a',  0x1A, 0x09, 0x08, 0x80,
                                0x80, 0x80, 0x80, 0x10, 0x1A, 0x01, 'x'};
  /* A record but no tables at all. */
  static const uint8_t no_tables[] = {0x1A, 0x05, 0x08, 0x00, 0x1A, 0x01, 'x'};

  expect_pass_through(pk_index, sizeof(pk_index));
  expect_pass_through(ehk_index, sizeof(ehk_index));
  expect_pass_through(no_ehk_table, sizeof(no_ehk_table));
  expect_pass_through(big, sizeof(big));
  expect_pass_through(no_tables, sizeof(no_tables));
}

static void test_kpl_missing_required(void) {
  static const uint8_t no_data[] = {0x0A, 0x01, 'a', 0x1A, 0x02, 0x08, 0x00};
  static const uint8_t no_pk_index[] = {0x0A, 0x01, 'a',  0x1A,
                                        0x03, 0x1A, 0x01, 'x'};
  static const uint8_t empty_record[] = {0x0A, 0x01, 'a', 0x1A, 0x00};
  /* A Tag with a value but no key. */
  static const uint8_t tag_no_key[] = {0x0A, 0x01, 'a', 0x1A, 0x09, 0x08, 0x00,
                                       0x1A, 0x01, 'x', 0x22, 0x02, 0x12, 0x00};
  /* The same Tag with its key is fine. */
  static const uint8_t tag_key[] = {0x0A, 0x01, 'a',  0x1A, 0x0B, 0x08,
                                    0x00, 0x1A, 0x01, 'x',  0x22, 0x04,
                                    0x0A, 0x00, 0x12, 0x00};
  /* Tag fields themselves must parse. */
  static const uint8_t tag_bad[] = {0x0A, 0x01, 'a', 0x1A, 0x09, 0x08, 0x00,
                                    0x1A, 0x01, 'x', 0x22, 0x02, 0x0A, 0x05};

  expect_pass_through(no_data, sizeof(no_data));
  expect_pass_through(no_pk_index, sizeof(no_pk_index));
  expect_pass_through(empty_record, sizeof(empty_record));
  expect_pass_through(tag_no_key, sizeof(tag_no_key));
  expect_aggregate(tag_key, sizeof(tag_key), 1);
  expect_pass_through(tag_bad, sizeof(tag_bad));
}

static void test_kpl_unknown_fields(void) {
  static const uint8_t pb[] = {
      0x28, 0x05,                                   /* 5: varint */
      0x31, 1,    2,    3,    4,    5,    6,  7, 8, /* 6: fixed64 */
      0x3A, 0x02, 'z',  'z',                        /* 7: bytes */
      0x45, 1,    2,    3,    4,                    /* 8: fixed32 */
      0xC0, 0x3E, 0x00,                             /* 1000: varint */
      0x08, 0x01,      /* field 1 with the wrong wire type: unknown */
      0x0A, 0x01, 'a', /* pk table "a" */
      0x1A, 0x1A,      /* record, 26 bytes: */
      0x28, 0x07,      /*   5: varint */
      0x08, 0x00,      /*   pk 0 */
      0x31, 1,    2,    3,    4,    5,    6,  7, 8, /*   6: fixed64 */
      0x3A, 0x00,                                   /*   7: empty bytes */
      0x45, 1,    2,    3,    4,                    /*   8: fixed32 */
      0x12, 0x01, 'q', /*   field 2 as bytes: unknown, not an index */
      0x1A, 0x01, 'x', /*   data */
      0x1A, 0x05, 0x08, 0x00, 0x1A, 0x01, 'y'};

  expect_aggregate(pb, sizeof(pb), 2);
}

static void test_kpl_bad_wire_types(void) {
  static const uint8_t group_start[] = {0x0A, 0x01, 'a', 0x0B, 0x0C};
  static const uint8_t group_end[] = {0x0A, 0x01, 'a', 0x0C};
  static const uint8_t wire6[] = {0x0A, 0x01, 'a', 0x0E, 0x00};
  static const uint8_t wire7[] = {0x0A, 0x01, 'a', 0x0F, 0x00};
  static const uint8_t field0[] = {0x0A, 0x01, 'a', 0x00, 0x00};
  static const uint8_t group_in_record[] = {0x0A, 0x01, 'a',  0x1A, 0x07, 0x08,
                                            0x00, 0x1A, 0x01, 'x',  0x2B, 0x2C};

  expect_pass_through(group_start, sizeof(group_start));
  expect_pass_through(group_end, sizeof(group_end));
  expect_pass_through(wire6, sizeof(wire6));
  expect_pass_through(wire7, sizeof(wire7));
  expect_pass_through(field0, sizeof(field0));
  expect_pass_through(group_in_record, sizeof(group_in_record));
}

static void test_kpl_field_order(void) {
  /* Records before the tables, tables interleaved, a repeated index
     (the last one counts). */
  static const uint8_t pb[] = {0x1A, 0x07, 0x08, 0x05, 0x08, 0x01, 0x1A, 0x01,
                               'x',  0x0A, 0x01, 'a',  0x1A, 0x05, 0x08, 0x00,
                               0x1A, 0x01, 'y',  0x0A, 0x01, 'b'};
  static collected col;
  uint8_t blob[512];
  size_t bloblen;
  kefo_kpl_result res;

  expect_aggregate(pb, sizeof(pb), 2);
  CU_ASSERT_EQUAL(run_pb(pb, sizeof(pb), NULL, &col, &res, blob, &bloblen), 0);
  CU_ASSERT_EQUAL_FATAL(col.n, 2);
  CU_ASSERT(
      str_eq(col.recs[0].partition_key, col.recs[0].partition_key_len, "b"));
  CU_ASSERT(
      str_eq(col.recs[1].partition_key, col.recs[1].partition_key_len, "a"));
}

static void test_kpl_short_blobs(void) {
  static const uint8_t empty_md5[] = {0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00,
                                      0xb2, 0x04, 0xe9, 0x80, 0x09, 0x98,
                                      0xec, 0xf8, 0x42, 0x7e};
  /* An unknown field: the smallest protobuf that parses. */
  static const uint8_t two[] = {0x28, 0x00};
  static collected col;
  uint8_t blob[64];
  size_t bloblen, len;
  kefo_kpl_result res;

  /* Empty, with and without a pointer. */
  collected_init(&col);
  CU_ASSERT_EQUAL(kefo__kpl_deaggregate(NULL, NULL, 0, NULL, 0, NULL,
                                        collect_cb, &col, &res),
                  0);
  CU_ASSERT(res.aggregated == 0 && res.delivered == 1 && col.n == 1);
  CU_ASSERT(col.recs[0].data_len == 0 && col.recs[0].partition_key == NULL);
  collected_init(&col);
  CU_ASSERT_EQUAL(kefo__kpl_deaggregate(NULL, blob, 0, "k", 1, NULL, collect_cb,
                                        &col, &res),
                  0);
  CU_ASSERT(res.aggregated == 0 && col.n == 1 && col.recs[0].data_len == 0);

  /* Shorter than the magic, and the bare magic. */
  for (len = 1; len <= KEFO_KPL_MAGIC_LEN; ++len) {
    collected_init(&col);
    CU_ASSERT_EQUAL(kefo__kpl_deaggregate(NULL, magic, len, NULL, 0, NULL,
                                          collect_cb, &col, &res),
                    0);
    CU_ASSERT(res.aggregated == 0 && col.n == 1 && col.recs[0].data == magic &&
              col.recs[0].data_len == len);
  }

  /* Exactly the magic and 16 bytes (here MD5 of the empty protobuf): the
     KCL wants more than 16, so this passes through. */
  memcpy(blob, magic, sizeof(magic));
  memcpy(blob + sizeof(magic), empty_md5, sizeof(empty_md5));
  collected_init(&col);
  CU_ASSERT_EQUAL(kefo__kpl_deaggregate(NULL, blob, 20, NULL, 0, NULL,
                                        collect_cb, &col, &res),
                  0);
  CU_ASSERT(res.aggregated == 0 && col.n == 1 && col.recs[0].data_len == 20);

  /* Any one-byte protobuf is a tag without its value. */
  expect_pass_through(two, 1);

  /* Two bytes that parse: an aggregate with no records. */
  bloblen = wrap(blob, two, sizeof(two));
  collected_init(&col);
  CU_ASSERT_EQUAL(kefo__kpl_deaggregate(NULL, blob, bloblen, NULL, 0, NULL,
                                        collect_cb, &col, &res),
                  0);
  CU_ASSERT(res.aggregated == 1 && res.nrecords == 0 && col.calls == 0);
}

static void test_kpl_bad_md5(void) {
  static collected col;
  uint8_t blob[512];
  size_t bloblen;
  kefo_kpl_result res;

  bloblen = wrap(blob, pb_ok, sizeof(pb_ok));
  blob[bloblen - 1] ^= 0xFF;
  collected_init(&col);
  CU_ASSERT_EQUAL(kefo__kpl_deaggregate(NULL, blob, bloblen, NULL, 0, NULL,
                                        collect_cb, &col, &res),
                  0);
  CU_ASSERT(res.aggregated == 0 && col.n == 1 && col.recs[0].data == blob &&
            col.recs[0].data_len == bloblen);
  /* A bad magic byte likewise. */
  bloblen = wrap(blob, pb_ok, sizeof(pb_ok));
  blob[3] ^= 1;
  collected_init(&col);
  CU_ASSERT_EQUAL(kefo__kpl_deaggregate(NULL, blob, bloblen, NULL, 0, NULL,
                                        collect_cb, &col, &res),
                  0);
  CU_ASSERT(res.aggregated == 0 && col.n == 1);
}

static void test_kpl_callback_failure(void) {
  static collected col;
  uint8_t blob[512];
  size_t bloblen;
  kefo_kpl_result res;

  bloblen = wrap(blob, pb_ok, sizeof(pb_ok));
  collected_init(&col);
  col.fail_at = 1;
  CU_ASSERT_EQUAL(kefo__kpl_deaggregate(NULL, blob, bloblen, NULL, 0, NULL,
                                        collect_cb, &col, &res),
                  KEFO_ERR_CALLBACK_FAILURE);
  CU_ASSERT(res.aggregated == 1 && res.delivered == 1 && col.n == 1);

  collected_init(&col);
  col.fail_at = 0;
  CU_ASSERT_EQUAL(kefo__kpl_deaggregate(NULL, blob, 3, NULL, 0, NULL,
                                        collect_cb, &col, &res),
                  KEFO_ERR_CALLBACK_FAILURE);
  CU_ASSERT(res.aggregated == 0 && res.delivered == 0);

  CU_ASSERT_EQUAL(kefo__kpl_deaggregate(NULL, blob, bloblen, NULL, 0, NULL,
                                        NULL, NULL, &res),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__kpl_deaggregate(NULL, NULL, 1, NULL, 0, NULL,
                                        collect_cb, &col, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
}

static int parse_str(kefo_hash_key *k, const char *s) {
  return kefo__hash_key_parse(k, s, strlen(s));
}

static void test_kpl_hash_keys(void) {
  static const char *const good[] = {"0",
                                     "1",
                                     "18446744073709551615",
                                     "18446744073709551616",
                                     "170141183460469231731687303715884105728",
                                     "340282366920938463463374607431768211455"};
  kefo_hash_key k, k2;
  char dec[KEFO_HASH_KEY_DEC_LEN];
  kefo_hash_range r;
  size_t i;

  for (i = 0; i < sizeof(good) / sizeof(good[0]); ++i) {
    CU_ASSERT_EQUAL(parse_str(&k, good[i]), 0);
    CU_ASSERT_EQUAL(kefo__hash_key_format(dec, &k), strlen(good[i]));
    CU_ASSERT_STRING_EQUAL(dec, good[i]);
  }
  CU_ASSERT(parse_str(&k, "18446744073709551616") == 0 && k.hi == 1 &&
            k.lo == 0);
  CU_ASSERT(parse_str(&k, "340282366920938463463374607431768211455") == 0 &&
            k.hi == UINT64_MAX && k.lo == UINT64_MAX);
  CU_ASSERT(parse_str(&k, "000123") == 0 && k.hi == 0 && k.lo == 123);

  /* 2^128, far above, empty, signs, spaces, other characters. */
  k.hi = 7;
  k.lo = 7;
  CU_ASSERT_EQUAL(parse_str(&k, "340282366920938463463374607431768211456"),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(parse_str(&k, "3402823669209384634633746074317682114550"),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(parse_str(&k, "999999999999999999999999999999999999999"),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(parse_str(&k, ""), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(parse_str(&k, "-1"), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(parse_str(&k, "+1"), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(parse_str(&k, " 1"), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(parse_str(&k, "12a"), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(parse_str(&k, "1/"), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(parse_str(&k, "1:"), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__hash_key_parse(&k, "12", 1), 0);
  CU_ASSERT(k.hi == 0 && k.lo == 1);
  CU_ASSERT_EQUAL(kefo__hash_key_parse(&k, NULL, 0), KEFO_ERR_INVALID_ARGUMENT);

  CU_ASSERT(parse_str(&k, "18446744073709551615") == 0);
  CU_ASSERT(parse_str(&k2, "18446744073709551616") == 0);
  CU_ASSERT(kefo__hash_key_cmp(&k, &k2) < 0);
  CU_ASSERT(kefo__hash_key_cmp(&k2, &k) > 0);
  CU_ASSERT(kefo__hash_key_cmp(&k, &k) == 0);

  /* MD5("pk-alpha"), from agg_3_records.json. */
  kefo__hash_key_from_partition_key(&k, "pk-alpha", 8);
  kefo__hash_key_format(dec, &k);
  CU_ASSERT_STRING_EQUAL(dec, "130540775147049671034908793074126522806");

  CU_ASSERT_EQUAL(kefo__hash_range_init(&r, "5", 1, "100", 3), 0);
  CU_ASSERT(parse_str(&k, "5") == 0 && kefo__hash_range_contains(&r, &k));
  CU_ASSERT(parse_str(&k, "100") == 0 && kefo__hash_range_contains(&r, &k));
  CU_ASSERT(parse_str(&k, "4") == 0 && !kefo__hash_range_contains(&r, &k));
  CU_ASSERT(parse_str(&k, "101") == 0 && !kefo__hash_range_contains(&r, &k));
  CU_ASSERT_EQUAL(kefo__hash_range_init(&r, "7", 1, "7", 1), 0);
  CU_ASSERT_EQUAL(kefo__hash_range_init(&r, "8", 1, "7", 1),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__hash_range_init(&r, "x", 1, "7", 1),
                  KEFO_ERR_INVALID_ARGUMENT);
}

/* Records with explicit hash keys 5 and 100, then one with "abc". */
static const uint8_t pb_range[] = {
    0x0A, 0x01, 'a',                                     /* pk "a" */
    0x12, 0x01, '5',                                     /* ehk 0: 5 */
    0x12, 0x03, '1',  '0',  '0',                         /* ehk 1: 100 */
    0x12, 0x03, 'a',  'b',  'c',                         /* ehk 2: bad */
    0x1A, 0x07, 0x08, 0x00, 0x10, 0x00, 0x1A, 0x01, 'x', /* ehk 5 */
    0x1A, 0x07, 0x08, 0x00, 0x10, 0x01, 0x1A, 0x01, 'y'  /* ehk 100 */
};

static void run_range(const uint8_t *pb, size_t pblen, const char *lo,
                      const char *hi, uint32_t flags, size_t want_delivered,
                      size_t want_dropped) {
  static collected col;
  uint8_t blob[512];
  size_t bloblen;
  kefo_hash_range r;
  kefo_kpl_options opts;
  kefo_kpl_result res;

  CU_ASSERT_EQUAL_FATAL(
      kefo__hash_range_init(&r, lo, strlen(lo), hi, strlen(hi)), 0);
  opts.flags = flags;
  opts.range = &r;
  CU_ASSERT_EQUAL(run_pb(pb, pblen, &opts, &col, &res, blob, &bloblen), 0);
  CU_ASSERT_EQUAL(res.aggregated, 1);
  CU_ASSERT_EQUAL(res.delivered, want_delivered);
  CU_ASSERT_EQUAL(col.n, want_delivered);
  CU_ASSERT_EQUAL(res.dropped, want_dropped);
}

static void test_kpl_hash_range(void) {
  /* A third record with an unparsable explicit hash key. */
  static const uint8_t pb_bad[] = {
      0x0A, 0x01, 'a',  0x12, 0x01, '5',  0x12, 0x03, '1',  '0',  '0',
      0x12, 0x03, 'a',  'b',  'c',  0x1A, 0x07, 0x08, 0x00, 0x10, 0x00,
      0x1A, 0x01, 'x',  0x1A, 0x07, 0x08, 0x00, 0x10, 0x01, 0x1A, 0x01,
      'y',  0x1A, 0x07, 0x08, 0x00, 0x10, 0x02, 0x1A, 0x01, 'z'};
  /* Out of range first, then a protobuf error: pass-through wins. */
  static const uint8_t pb_late_error[] = {
      0x0A, 0x01, 'a',  0x12, 0x01, '5',  0x1A, 0x07, 0x08, 0x00,
      0x10, 0x00, 0x1A, 0x01, 'x',  0x1A, 0x02, 0x08, 0x00};
  static collected col;
  uint8_t blob[512];
  size_t bloblen;
  kefo_hash_range r;
  kefo_kpl_options opts;
  kefo_kpl_result res;
  uint8_t *vec = NULL;
  size_t veclen = 0;

  run_range(pb_range, sizeof(pb_range), "0", "1000", 0, 2, 0);
  run_range(pb_range, sizeof(pb_range), "5", "100", KEFO_KPL_HASH_KEYS, 2, 0);
  /* One record outside: both withheld, whichever end. */
  run_range(pb_range, sizeof(pb_range), "0", "99", 0, 0, 2);
  run_range(pb_range, sizeof(pb_range), "6", "1000", KEFO_KPL_HASH_KEYS, 0, 2);
  run_range(pb_range, sizeof(pb_range), "101", "1000", 0, 0, 2);
  /* An explicit hash key that is no number counts as outside. */
  run_range(pb_bad, sizeof(pb_bad), "0",
            "340282366920938463463374607431768211455", 0, 0, 3);

  /* Without a range it is delivered, with no hash key. */
  opts.flags = KEFO_KPL_HASH_KEYS;
  opts.range = NULL;
  CU_ASSERT_EQUAL(
      run_pb(pb_bad, sizeof(pb_bad), &opts, &col, &res, blob, &bloblen), 0);
  CU_ASSERT_EQUAL_FATAL(col.n, 3);
  CU_ASSERT(col.recs[0].hash_key_valid && col.recs[1].hash_key_valid);
  CU_ASSERT(!col.recs[2].hash_key_valid);

  CU_ASSERT_EQUAL(kefo__hash_range_init(&r, "0", 1, "1", 1), 0);
  opts.flags = 0;
  opts.range = &r;
  expect_pass_through(pb_late_error, sizeof(pb_late_error));
  CU_ASSERT_EQUAL(run_pb(pb_late_error, sizeof(pb_late_error), &opts, &col,
                         &res, blob, &bloblen),
                  0);
  CU_ASSERT(res.aggregated == 0 && res.dropped == 0 && col.n == 1);

  /* A pass-through record is never checked against the range. */
  collected_init(&col);
  CU_ASSERT_EQUAL(kefo__kpl_deaggregate(NULL, (const uint8_t *)"plain", 5, "pk",
                                        2, &opts, collect_cb, &col, &res),
                  0);
  CU_ASSERT(res.aggregated == 0 && col.n == 1 && res.dropped == 0);

  /* agg_3_records after a split at 2^127: its records hash to about
     1.3e38, 2^127 and 3.4e38, so the lower child drops all three. */
  CU_ASSERT_EQUAL_FATAL(
      kefo_test_read_vector("kpl/agg_3_records.bin", &vec, &veclen), 0);
  CU_ASSERT_EQUAL(
      kefo__hash_range_init(&r, "0", 1,
                            "170141183460469231731687303715884105727", 39),
      0);
  collected_init(&col);
  CU_ASSERT_EQUAL(kefo__kpl_deaggregate(NULL, vec, veclen, NULL, 0, &opts,
                                        collect_cb, &col, &res),
                  0);
  CU_ASSERT(res.aggregated == 1 && res.nrecords == 3 && res.dropped == 3 &&
            col.n == 0);
  free(vec);
}

typedef struct fm_arg {
  const uint8_t *blob;
  size_t len;
  size_t want;
} fm_arg;

static int fm_scenario(const kefo_mem *mem, void *arg) {
  static collected col;
  static const char lo[] = "0";
  static const char hi[] = "340282366920938463463374607431768211455";
  fm_arg *a = arg;
  kefo_hash_range r;
  kefo_kpl_options opts;
  kefo_kpl_result res;
  int rv;

  kefo__hash_range_init(&r, lo, strlen(lo), hi, strlen(hi));
  opts.flags = KEFO_KPL_HASH_KEYS;
  opts.range = &r;
  collected_init(&col);
  rv = kefo__kpl_deaggregate(mem, a->blob, a->len, NULL, 0, &opts, collect_cb,
                             &col, &res);
  if (rv == 0) {
    CU_ASSERT_EQUAL(col.n, a->want);
  } else {
    /* Out of memory means nothing was delivered. */
    CU_ASSERT_EQUAL(rv, KEFO_ERR_NOMEM);
    CU_ASSERT_EQUAL(col.calls, 0);
  }
  return rv;
}

static void test_kpl_failmalloc(void) {
  fm_arg a;
  uint8_t *vec = NULL;
  size_t veclen = 0;
  kefo_failmalloc fm;
  static collected col;
  uint8_t blob[64];
  static const uint8_t two[] = {0x28, 0x00};

  CU_ASSERT_EQUAL_FATAL(
      kefo_test_read_vector("kpl/agg_100_records.bin", &vec, &veclen), 0);
  a.blob = vec;
  a.len = veclen;
  a.want = 100;
  kefo_failmalloc_run(fm_scenario, &a);
  free(vec);

  /* Pass-through and table-less aggregates allocate nothing. */
  kefo_failmalloc_init(&fm, 0);
  collected_init(&col);
  CU_ASSERT_EQUAL(kefo__kpl_deaggregate(&fm.mem, (const uint8_t *)"plain", 5,
                                        NULL, 0, NULL, collect_cb, &col, NULL),
                  0);
  CU_ASSERT_EQUAL(kefo__kpl_deaggregate(&fm.mem, blob, wrap(blob, two, 2), NULL,
                                        0, NULL, collect_cb, &col, NULL),
                  0);
  CU_ASSERT_EQUAL(fm.count, 0);
}

int kefo_add_kpl_suite(void) {
  CU_pSuite s = CU_add_suite("kpl", NULL, NULL);

  if (s == NULL || CU_add_test(s, "vectors", test_kpl_vectors) == NULL ||
      CU_add_test(s, "valid", test_kpl_valid) == NULL ||
      CU_add_test(s, "truncated_varint", test_kpl_truncated_varint) == NULL ||
      CU_add_test(s, "long_varint", test_kpl_long_varint) == NULL ||
      CU_add_test(s, "length_past_end", test_kpl_length_past_end) == NULL ||
      CU_add_test(s, "index_out_of_range", test_kpl_index_out_of_range) ==
          NULL ||
      CU_add_test(s, "missing_required", test_kpl_missing_required) == NULL ||
      CU_add_test(s, "unknown_fields", test_kpl_unknown_fields) == NULL ||
      CU_add_test(s, "bad_wire_types", test_kpl_bad_wire_types) == NULL ||
      CU_add_test(s, "field_order", test_kpl_field_order) == NULL ||
      CU_add_test(s, "short_blobs", test_kpl_short_blobs) == NULL ||
      CU_add_test(s, "bad_md5", test_kpl_bad_md5) == NULL ||
      CU_add_test(s, "callback_failure", test_kpl_callback_failure) == NULL ||
      CU_add_test(s, "hash_keys", test_kpl_hash_keys) == NULL ||
      CU_add_test(s, "hash_range", test_kpl_hash_range) == NULL ||
      CU_add_test(s, "failmalloc", test_kpl_failmalloc) == NULL) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
