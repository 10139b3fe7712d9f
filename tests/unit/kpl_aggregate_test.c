/*
 * Tests for shard/kpl_aggregate: the aws-kinesis-agg vectors re-encoded
 * byte for byte, exact sizes at every step, round trips through
 * kefo__kpl_deaggregate, key de-duplication, bad arguments and a
 * failing-allocator run over new, add and finish.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <openssl/evp.h>

#include "shard/kpl.h"
#include "shard/kpl_aggregate.h"
#include "tests/support/failmalloc.h"
#include "tests/support/vectors.h"
#include "tests/unit/suites.h"

#define MAX_RECS 10000

static const uint8_t magic[KEFO_KPL_MAGIC_LEN] = {0xF3, 0x89, 0x9A, 0xC2};

/* MD5 of no bytes: the trailer of an empty aggregate. */
static const uint8_t empty_md5[KEFO_KPL_DIGEST_LEN] = {
    0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04,
    0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e};

/* A user record as the tests give it (everything owned elsewhere). */
typedef struct test_rec {
  const char *pk;
  size_t pk_len;
  const char *ehk; /* NULL: none */
  size_t ehk_len;
  const uint8_t *data;
  size_t data_len;
} test_rec;

/* What kefo__kpl_deaggregate handed back, copied out of its callback. */
typedef struct collected {
  kefo_kpl_record recs[MAX_RECS];
  size_t n;
} collected;

static int collect_cb(const kefo_kpl_record *rec, void *user_data) {
  collected *col = user_data;

  if (col->n < MAX_RECS) {
    col->recs[col->n] = *rec;
  }
  ++col->n;
  return 0;
}

static int bytes_eq(const void *a, size_t alen, const void *b, size_t blen) {
  return alen == blen && (alen == 0 || memcmp(a, b, alen) == 0);
}

/* Decodes standard padded base64 (the vectors' "data"). Returns a malloc'ed
   buffer or NULL. */
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
  while (pad < 2 && len > pad && s[len - 1 - pad] == '=') {
    ++pad;
  }
  *outlen = (size_t)n - pad;
  return out;
}

/* How add_all and the failing-allocator scenario add: 0 every record
   copied (kefo__kpl_aggregator_add), 1 every record lent
   (kefo__kpl_aggregator_add_lent), 2 lent and copied in turn. The bytes
   must be the same in every mode. */
static int lent_mode;

static int add_one(kefo_kpl_aggregator *a, const test_rec *r, size_t i) {
  if (lent_mode == 1 || (lent_mode == 2 && i % 2 == 1)) {
    return kefo__kpl_aggregator_add_lent(a, r->pk, r->pk_len, r->ehk,
                                         r->ehk_len, r->data, r->data_len);
  }
  return kefo__kpl_aggregator_add(a, r->pk, r->pk_len, r->ehk, r->ehk_len,
                                  r->data, r->data_len);
}

/*
 * Adds |n| records to |a|, checking before each that size_with predicts
 * the size after it, and that size and count follow. Returns the number
 * added (|n| unless an add failed).
 */
static size_t add_all(kefo_kpl_aggregator *a, const test_rec *recs, size_t n) {
  size_t i, want, before = kefo__kpl_aggregator_count(a);
  int rv;

  for (i = 0; i < n; ++i) {
    const test_rec *r = &recs[i];

    want = kefo__kpl_aggregator_size_with(a, r->pk, r->pk_len, r->ehk,
                                          r->ehk_len, r->data_len);
    rv = add_one(a, r, i);
    CU_ASSERT_EQUAL(rv, 0);
    if (rv != 0) {
      break;
    }
    CU_ASSERT_EQUAL(kefo__kpl_aggregator_size(a), want);
    CU_ASSERT_EQUAL(kefo__kpl_aggregator_count(a), before + i + 1);
  }
  return i;
}

/* Finishes |a| into |out| (emptied first) and checks the length. */
static int finish_into(kefo_kpl_aggregator *a, kefo_buf *out) {
  int rv;

  kefo__buf_reset(out);
  rv = kefo__kpl_aggregator_finish(a, out);
  CU_ASSERT_EQUAL(rv, 0);
  CU_ASSERT_EQUAL(out->len, kefo__kpl_aggregator_size(a));
  return rv;
}

/*
 * De-aggregates |blob| and checks that exactly |recs| come back, in
 * order, as an aggregate (or, for none, as the one pass-through record
 * the KCL makes of an empty aggregate). Returns 1 when they do.
 */
static int check_round_trip(const uint8_t *blob, size_t len,
                            const test_rec *recs, size_t n) {
  static collected col;
  kefo_kpl_options opts = {KEFO_KPL_HASH_KEYS, NULL};
  kefo_kpl_result res;
  size_t i;
  int ok = 1;

  col.n = 0;
  if (kefo__kpl_deaggregate(NULL, blob, len, "outer", 5, &opts, collect_cb,
                            &col, &res) != 0) {
    return 0;
  }
  if (n == 0) {
    return !res.aggregated && col.n == 1 && col.recs[0].data == blob &&
           col.recs[0].data_len == len;
  }
  if (!res.aggregated || res.nrecords != n || col.n != n || n > MAX_RECS) {
    return 0;
  }
  for (i = 0; i < n; ++i) {
    const kefo_kpl_record *got = &col.recs[i];
    const test_rec *r = &recs[i];

    ok &= got->aggregated && got->sub_sequence_number == i &&
          bytes_eq(got->data, got->data_len, r->data, r->data_len) &&
          bytes_eq(got->partition_key, got->partition_key_len, r->pk,
                   r->pk_len) &&
          got->hash_key_valid;
    if (r->ehk == NULL) {
      ok &= got->explicit_hash_key == NULL;
    } else {
      ok &= got->explicit_hash_key != NULL &&
            bytes_eq(got->explicit_hash_key, got->explicit_hash_key_len, r->ehk,
                     r->ehk_len);
    }
  }
  return ok;
}

/* The top-level fields of an aggregate's protobuf, counted. */
typedef struct pb_counts {
  size_t pk;
  size_t ehk;
  size_t rec;
  /* The first 8 partition keys, in table order. */
  const uint8_t *pk_at[8];
  size_t pk_len[8];
} pb_counts;

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
  unsigned shift = 0;

  *v = 0;
  while (*p < end && shift < 64) {
    uint8_t b = *(*p)++;

    *v |= (uint64_t)(b & 0x7F) << shift;
    if ((b & 0x80) == 0) {
      return 0;
    }
    shift += 7;
  }
  return -1;
}

/* Walks the protobuf of |blob|: only length-delimited fields 1-3 are
   expected, tables first. Returns 0 or -1. */
static int count_fields(const uint8_t *blob, size_t len, pb_counts *c) {
  const uint8_t *p = blob + KEFO_KPL_MAGIC_LEN, *end;
  uint64_t tag, n;
  int seen_record = 0;

  memset(c, 0, sizeof(*c));
  if (len < KEFO_KPL_EMPTY_AGGREGATE_LEN) {
    return -1;
  }
  end = blob + len - KEFO_KPL_DIGEST_LEN;
  while (p < end) {
    if (read_varint(&p, end, &tag) != 0 || read_varint(&p, end, &n) != 0 ||
        n > (uint64_t)(end - p)) {
      return -1;
    }
    if (tag == 0x0A && !seen_record) {
      if (c->pk < 8) {
        c->pk_at[c->pk] = p;
        c->pk_len[c->pk] = (size_t)n;
      }
      ++c->pk;
    } else if (tag == 0x12 && !seen_record) {
      ++c->ehk;
    } else if (tag == 0x1A) {
      seen_record = 1;
      ++c->rec;
    } else {
      return -1;
    }
    p += n;
  }
  return 0;
}

/* The records of one vector's userRecords, with their data decoded. */
typedef struct vector_recs {
  cJSON *json;
  test_rec recs[128];
  uint8_t *data[128];
  size_t n;
} vector_recs;

static void vector_recs_free(vector_recs *v) {
  size_t i;

  for (i = 0; i < v->n; ++i) {
    free(v->data[i]);
  }
  cJSON_Delete(v->json);
  memset(v, 0, sizeof(*v));
}

static int vector_recs_load(vector_recs *v, const char *rel) {
  const cJSON *urecs, *u;
  size_t i;

  memset(v, 0, sizeof(*v));
  v->json = kefo_test_read_vector_json(rel);
  urecs = cJSON_GetObjectItemCaseSensitive(v->json, "userRecords");
  if (!cJSON_IsArray(urecs) || cJSON_GetArraySize(urecs) > 128) {
    return -1;
  }
  i = 0;
  cJSON_ArrayForEach(u, urecs) {
    const cJSON *pk = cJSON_GetObjectItemCaseSensitive(u, "partitionKey");
    const cJSON *ehk = cJSON_GetObjectItemCaseSensitive(u, "explicitHashKey");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(u, "data");
    test_rec *r = &v->recs[i];

    if (!cJSON_IsString(pk) || !cJSON_IsString(data) ||
        !(cJSON_IsNull(ehk) || cJSON_IsString(ehk))) {
      return -1;
    }
    r->pk = pk->valuestring;
    r->pk_len = strlen(pk->valuestring);
    r->ehk = cJSON_IsString(ehk) ? ehk->valuestring : NULL;
    r->ehk_len = r->ehk ? strlen(r->ehk) : 0;
    v->data[i] = b64_decode(data->valuestring, &r->data_len);
    if (v->data[i] == NULL) {
      return -1;
    }
    r->data = v->data[i];
    v->n = ++i;
  }
  return 0;
}

/*
 * Re-encodes the userRecords of |json_rel| and checks the bytes are those
 * of |bin_rel|. Both encoders behind the vectors (aws-kinesis-agg for
 * the generated ones, an unnamed one for AWS's sample) write what this
 * one does: each table in first-use order with repeated keys shared,
 * tables before records, field 2 only when a record has a key, and
 * minimal varints. The round trip and the table sizes given in the JSON
 * are checked as well.
 */
static void check_vector(const char *json_rel, const char *bin_rel) {
  vector_recs v;
  kefo_kpl_aggregator *a = NULL;
  kefo_buf out;
  uint8_t *bin = NULL;
  size_t binlen = 0;
  pb_counts c;
  const cJSON *pkt, *ehkt;

  kefo__buf_init(&out, NULL);
  CU_ASSERT_FATAL(vector_recs_load(&v, json_rel) == 0);
  CU_ASSERT_FATAL(kefo_test_read_vector(bin_rel, &bin, &binlen) == 0);
  CU_ASSERT_FATAL(kefo__kpl_aggregator_new(&a, NULL) == 0);
  CU_ASSERT_EQUAL(add_all(a, v.recs, v.n), v.n);
  if (finish_into(a, &out) == 0) {
    CU_ASSERT(bytes_eq(out.data, out.len, bin, binlen));
    if (!bytes_eq(out.data, out.len, bin, binlen)) {
      fprintf(stderr, "kpl_aggregate: %s: %zu bytes, want %zu\n", bin_rel,
              out.len, binlen);
    }
    CU_ASSERT(check_round_trip(out.data, out.len, v.recs, v.n));
    CU_ASSERT(count_fields(out.data, out.len, &c) == 0);
    pkt = cJSON_GetObjectItemCaseSensitive(v.json, "partitionKeyTable");
    ehkt = cJSON_GetObjectItemCaseSensitive(v.json, "explicitHashKeyTable");
    CU_ASSERT_EQUAL(c.pk, (size_t)cJSON_GetArraySize(pkt));
    CU_ASSERT_EQUAL(c.ehk, (size_t)cJSON_GetArraySize(ehkt));
    CU_ASSERT_EQUAL(c.rec, v.n);
  }
  kefo__kpl_aggregator_del(a);
  kefo__buf_free(&out);
  free(bin);
  vector_recs_free(&v);
}

/* Each vector's bytes, with the records copied, lent, and both in turn. */
static void test_vectors(void) {
  for (lent_mode = 0; lent_mode <= 2; ++lent_mode) {
    check_vector("kpl/agg_3_records.json", "kpl/agg_3_records.bin");
    check_vector("kpl/agg_100_records.json", "kpl/agg_100_records.bin");
    check_vector("kpl/aws-sample/sample_100_records.json",
                 "kpl/aws-sample/sample_100_records.bin");
  }
  lent_mode = 0;
}

/* Finished after every record of agg_100_records: each blob is as long
   as size_with foretold and reads back as the records so far. */
static void test_every_step(void) {
  vector_recs v;
  kefo_kpl_aggregator *a = NULL;
  kefo_buf out;
  size_t i, want, bad = 0;

  kefo__buf_init(&out, NULL);
  CU_ASSERT_FATAL(vector_recs_load(&v, "kpl/agg_100_records.json") == 0);
  CU_ASSERT_FATAL(kefo__kpl_aggregator_new(&a, NULL) == 0);
  for (i = 0; i < v.n; ++i) {
    const test_rec *r = &v.recs[i];

    want = kefo__kpl_aggregator_size_with(a, r->pk, r->pk_len, r->ehk,
                                          r->ehk_len, r->data_len);
    CU_ASSERT_EQUAL_FATAL(kefo__kpl_aggregator_add(a, r->pk, r->pk_len, r->ehk,
                                                   r->ehk_len, r->data,
                                                   r->data_len),
                          0);
    kefo__buf_reset(&out);
    CU_ASSERT_EQUAL_FATAL(kefo__kpl_aggregator_finish(a, &out), 0);
    if (out.len != want || kefo__kpl_aggregator_size(a) != want ||
        !check_round_trip(out.data, out.len, v.recs, i + 1)) {
      ++bad;
    }
  }
  CU_ASSERT_EQUAL(v.n, 100);
  CU_ASSERT_EQUAL(bad, 0);
  kefo__kpl_aggregator_del(a);
  kefo__buf_free(&out);
  vector_recs_free(&v);
}

static void test_empty(void) {
  kefo_kpl_aggregator *a = NULL;
  kefo_buf out;
  uint8_t want[KEFO_KPL_EMPTY_AGGREGATE_LEN];

  kefo__buf_init(&out, NULL);
  CU_ASSERT_FATAL(kefo__kpl_aggregator_new(&a, NULL) == 0);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_count(a), 0);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_size(a), 20);
  CU_ASSERT_EQUAL(finish_into(a, &out), 0);
  memcpy(want, magic, sizeof(magic));
  memcpy(want + sizeof(magic), empty_md5, sizeof(empty_md5));
  CU_ASSERT(bytes_eq(out.data, out.len, want, sizeof(want)));
  /* The KCL wants more than 16 bytes after the magic, so an empty
     aggregate reads back as one plain record of its 20 bytes (the
     agg_empty_20_bytes vector), not as no records. */
  CU_ASSERT(check_round_trip(out.data, out.len, NULL, 0));
  kefo__kpl_aggregator_del(a);
  kefo__buf_free(&out);
}

static void test_round_trip(void) {
  /* Keys and data of every varint width that matters: 300 distinct keys
     (2-byte indexes), data of 0, 127, 128, 16383, 16384 and 70000 bytes
     (1 to 3-byte lengths), with and without explicit hash keys. */
  static const size_t sizes[] = {0, 1, 127, 128, 16383, 16384, 70000};
  static test_rec recs[600];
  static char keys[300][16];
  static const char *const ehks[] = {
      "0", "1", "340282366920938463463374607431768211455", "00042"};
  kefo_kpl_aggregator *a = NULL;
  kefo_buf out, out2;
  uint8_t *data = malloc(70000);
  size_t i, n = 0;
  pb_counts c;

  CU_ASSERT_FATAL(data != NULL);
  for (i = 0; i < 70000; ++i) {
    data[i] = (uint8_t)(i * 7 + 3);
  }
  for (i = 0; i < 300; ++i) {
    snprintf(keys[i], sizeof(keys[i]), "key-%zu", i);
  }
  for (i = 0; i < 600; ++i) {
    test_rec *r = &recs[n++];

    r->pk = keys[(i * 7) % 300];
    r->pk_len = strlen(r->pk);
    r->ehk = i % 3 == 0 ? ehks[(i / 3) % 4] : NULL;
    r->ehk_len = r->ehk ? strlen(r->ehk) : 0;
    r->data = data + i;
    r->data_len = i < 560 ? (i % 200) : sizes[i % 7];
    if (r->data_len > 70000 - i) {
      r->data = data;
    }
  }
  kefo__buf_init(&out, NULL);
  kefo__buf_init(&out2, NULL);
  CU_ASSERT_FATAL(kefo__kpl_aggregator_new(&a, NULL) == 0);
  CU_ASSERT_EQUAL(add_all(a, recs, n), n);
  CU_ASSERT_EQUAL(finish_into(a, &out), 0);
  CU_ASSERT(check_round_trip(out.data, out.len, recs, n));
  CU_ASSERT(count_fields(out.data, out.len, &c) == 0);
  CU_ASSERT(c.pk == 300 && c.ehk == 4 && c.rec == n);

  /* Finishing again gives the same bytes, appended after what is there. */
  CU_ASSERT_EQUAL(kefo__buf_append(&out2, "xyz", 3), 0);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_finish(a, &out2), 0);
  CU_ASSERT(out2.len == 3 + out.len && memcmp(out2.data, "xyz", 3) == 0 &&
            memcmp(out2.data + 3, out.data, out.len) == 0);

  /* After a reset the aggregator builds the same bytes again, from the
     first record's key as entry 0. */
  kefo__kpl_aggregator_reset(a);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_count(a), 0);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_size(a), 20);
  CU_ASSERT_EQUAL(add_all(a, recs, n), n);
  CU_ASSERT_EQUAL(finish_into(a, &out2), 0);
  CU_ASSERT(bytes_eq(out.data, out.len, out2.data, out2.len));

  /* A smaller aggregate after the reset: nothing of the old one left. */
  kefo__kpl_aggregator_reset(a);
  CU_ASSERT_EQUAL(add_all(a, recs + 5, 3), 3);
  CU_ASSERT_EQUAL(finish_into(a, &out2), 0);
  CU_ASSERT(check_round_trip(out2.data, out2.len, recs + 5, 3));
  CU_ASSERT(count_fields(out2.data, out2.len, &c) == 0 && c.pk == 3);

  kefo__kpl_aggregator_del(a);
  kefo__buf_free(&out);
  kefo__buf_free(&out2);
  free(data);
}

static void test_dedup(void) {
  static test_rec recs[1000];
  static const char *const pks[] = {"alpha", "beta", "gamma"};
  static const char *const ehks[] = {"7",
                                     "170141183460469231731687303715884105728"};
  kefo_kpl_aggregator *a = NULL;
  kefo_buf out;
  pb_counts c;
  size_t i, s_old, s_new;
  uint8_t d[4];

  /* Keys used first in the order gamma, alpha, beta. */
  for (i = 0; i < 1000; ++i) {
    test_rec *r = &recs[i];

    r->pk = pks[(i + 2) % 3];
    r->pk_len = strlen(r->pk);
    r->ehk = i % 5 == 1 ? ehks[i % 2] : NULL;
    r->ehk_len = r->ehk ? strlen(r->ehk) : 0;
    r->data = d;
    r->data_len = i % 5;
  }
  memset(d, 0xAB, sizeof(d));
  kefo__buf_init(&out, NULL);
  CU_ASSERT_FATAL(kefo__kpl_aggregator_new(&a, NULL) == 0);
  CU_ASSERT_EQUAL(add_all(a, recs, 1000), 1000);
  CU_ASSERT_EQUAL(finish_into(a, &out), 0);
  CU_ASSERT(check_round_trip(out.data, out.len, recs, 1000));
  CU_ASSERT_FATAL(count_fields(out.data, out.len, &c) == 0);
  CU_ASSERT_EQUAL(c.pk, 3);
  CU_ASSERT_EQUAL(c.ehk, 2);
  CU_ASSERT_EQUAL(c.rec, 1000);
  /* First-use order: the first record's key is entry 0. */
  CU_ASSERT(bytes_eq(c.pk_at[0], c.pk_len[0], "gamma", 5));
  CU_ASSERT(bytes_eq(c.pk_at[1], c.pk_len[1], "alpha", 5));
  CU_ASSERT(bytes_eq(c.pk_at[2], c.pk_len[2], "beta", 4));

  /* size_with counts a key only when it is new: "delta" costs its table
     entry (1 tag, 1 length, 5 bytes), "alpha" does not. */
  s_old = kefo__kpl_aggregator_size_with(a, "alpha", 5, NULL, 0, 1);
  s_new = kefo__kpl_aggregator_size_with(a, "delta", 5, NULL, 0, 1);
  CU_ASSERT_EQUAL(s_new, s_old + 7);
  /* The record alone: tag, length, index, data tag, length, 1 byte. A
     new partition key's index, 3, is as short as alpha's 1. */
  CU_ASSERT_EQUAL(s_old, kefo__kpl_aggregator_size(a) + 7);
  s_old = kefo__kpl_aggregator_size_with(a, "alpha", 5, "7", 1, 1);
  s_new = kefo__kpl_aggregator_size_with(a, "alpha", 5, "8", 1, 1);
  CU_ASSERT_EQUAL(s_new, s_old + 3);
  /* Same bytes, different tables: a partition key "7" is new. */
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_size_with(a, "7", 1, NULL, 0, 1),
                  kefo__kpl_aggregator_size(a) + 7 + 3);

  /* Many distinct keys: each lands once, and the index stays right
     across the hash tables' growth. */
  kefo__kpl_aggregator_reset(a);
  {
    static char names[5000][12];
    static test_rec many[10000];

    for (i = 0; i < 5000; ++i) {
      snprintf(names[i], sizeof(names[i]), "k%zu", i);
    }
    for (i = 0; i < 10000; ++i) {
      many[i].pk = names[(i * 7919) % 5000];
      many[i].pk_len = strlen(many[i].pk);
      many[i].ehk = names[i % 5000] + 1; /* the digits after "k" */
      many[i].ehk_len = strlen(many[i].ehk);
      many[i].data = (const uint8_t *)names[i % 5000];
      many[i].data_len = strlen(names[i % 5000]);
    }
    CU_ASSERT_EQUAL(add_all(a, many, 10000), 10000);
    CU_ASSERT_EQUAL(finish_into(a, &out), 0);
    CU_ASSERT(count_fields(out.data, out.len, &c) == 0 && c.pk == 5000 &&
              c.ehk == 5000 && c.rec == 10000);
    CU_ASSERT(check_round_trip(out.data, out.len, many, 10000));
  }
  kefo__kpl_aggregator_del(a);
  kefo__buf_free(&out);
}

static void test_bad_arguments(void) {
  static const char two128[] = "340282366920938463463374607431768211456";
  static const char max[] = "340282366920938463463374607431768211455";
  kefo_kpl_aggregator *a = NULL;
  kefo_buf out, ref;
  char long_pk[KEFO_KPL_MAX_PARTITION_KEY_LEN + 1];
  size_t size;
  const uint8_t d[] = "data";

  memset(long_pk, 'p', sizeof(long_pk));
  kefo__buf_init(&out, NULL);
  kefo__buf_init(&ref, NULL);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_new(NULL, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_FATAL(kefo__kpl_aggregator_new(&a, NULL) == 0);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_add(a, "k", 1, NULL, 0, d, 4), 0);
  CU_ASSERT_EQUAL(finish_into(a, &ref), 0);
  size = kefo__kpl_aggregator_size(a);

  CU_ASSERT_EQUAL(kefo__kpl_aggregator_add(NULL, "k", 1, NULL, 0, d, 4),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_add(a, NULL, 1, NULL, 0, d, 4),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_add(a, "k", 0, NULL, 0, d, 4),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(
      kefo__kpl_aggregator_add(a, long_pk, sizeof(long_pk), NULL, 0, d, 4),
      KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_add(a, "k", 1, NULL, 0, NULL, 4),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_add(a, "k", 1, "", 0, d, 4),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_add(a, "k", 1, "12a", 3, d, 4),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_add(a, "k", 1, "-1", 2, d, 4),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_add(a, "k", 1, " 1", 2, d, 4),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(
      kefo__kpl_aggregator_add(a, "k", 1, two128, sizeof(two128) - 1, d, 4),
      KEFO_ERR_INVALID_ARGUMENT);
  /* Refused records leave no trace. */
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_count(a), 1);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_size(a), size);
  CU_ASSERT_EQUAL(finish_into(a, &out), 0);
  CU_ASSERT(bytes_eq(out.data, out.len, ref.data, ref.len));

  /* The limits themselves are fine: 256 bytes, 2^128 - 1, no data. */
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_add(a, long_pk, sizeof(long_pk) - 1, max,
                                           sizeof(max) - 1, NULL, 0),
                  0);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_count(a), 2);

  /* A size past SIZE_MAX is reported as SIZE_MAX, never wrapped. */
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_size_with(a, "k", 1, NULL, 0, SIZE_MAX),
                  SIZE_MAX);
  CU_ASSERT_EQUAL(
      kefo__kpl_aggregator_size_with(a, "k", 1, NULL, 0, SIZE_MAX - 100),
      SIZE_MAX);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_size_with(NULL, "k", 1, NULL, 0, 1),
                  SIZE_MAX);

  CU_ASSERT_EQUAL(kefo__kpl_aggregator_finish(NULL, &out),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__kpl_aggregator_finish(a, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  kefo__kpl_aggregator_del(a);
  kefo__kpl_aggregator_del(NULL);
  kefo__buf_free(&out);
  kefo__buf_free(&ref);
}

/*
 * The failing-allocator scenario: new, then records with fresh keys (so
 * the tables and their hash indexes grow and rehash) and shared ones,
 * then finish into a buffer on the same allocator. Each failure must be
 * KEFO_ERR_NOMEM and leave the aggregate as it was: the call is retried
 * (failmalloc fails one allocation only) and the final bytes must be
 * those of a run without failures.
 */
typedef struct fm_arg {
  test_rec recs[200];
  char keys[200][12];
  uint8_t data[300];
  size_t n;
  kefo_buf want;
} fm_arg;

static int fm_scenario(const kefo_mem *mem, void *arg) {
  fm_arg *fa = arg;
  kefo_kpl_aggregator *a = NULL;
  kefo_buf out;
  size_t i, size, count;
  int rv, first = 0;

  kefo__buf_init(&out, mem);
  rv = kefo__buf_append(&out, "ab", 2);
  if (rv != 0) {
    return rv;
  }
  rv = kefo__kpl_aggregator_new(&a, mem);
  if (rv != 0) {
    CU_ASSERT_EQUAL(rv, KEFO_ERR_NOMEM);
    CU_ASSERT(a == NULL);
    kefo__buf_free(&out);
    return rv;
  }
  for (i = 0; i < fa->n; ++i) {
    const test_rec *r = &fa->recs[i];

    size = kefo__kpl_aggregator_size(a);
    count = kefo__kpl_aggregator_count(a);
    rv = add_one(a, r, i);
    if (rv != 0) {
      CU_ASSERT_EQUAL(rv, KEFO_ERR_NOMEM);
      CU_ASSERT_EQUAL(kefo__kpl_aggregator_size(a), size);
      CU_ASSERT_EQUAL(kefo__kpl_aggregator_count(a), count);
      first = first ? first : rv;
      --i;
    }
  }
  while ((rv = kefo__kpl_aggregator_finish(a, &out)) != 0) {
    CU_ASSERT_EQUAL(rv, KEFO_ERR_NOMEM);
    if (rv != KEFO_ERR_NOMEM) {
      break; /* a failure that retrying cannot cure */
    }
    CU_ASSERT_EQUAL(out.len, 2);
    first = first ? first : rv;
  }
  CU_ASSERT(out.len == 2 + fa->want.len &&
            memcmp(out.data + 2, fa->want.data, fa->want.len) == 0);
  kefo__kpl_aggregator_del(a);
  kefo__buf_free(&out);
  return first;
}

static void test_failmalloc(void) {
  static fm_arg fa;
  kefo_kpl_aggregator *a = NULL;
  size_t i;

  for (i = 0; i < 200; ++i) {
    test_rec *r = &fa.recs[i];

    snprintf(fa.keys[i], sizeof(fa.keys[i]), "%zu", i * 31 % 70);
    r->pk = fa.keys[i];
    r->pk_len = strlen(r->pk);
    r->ehk = i % 4 == 0 ? fa.keys[i] : NULL;
    r->ehk_len = r->ehk ? r->pk_len : 0;
    r->data = fa.data;
    r->data_len = i % 3 == 0 ? 300 : i;
  }
  fa.n = 200;
  memset(fa.data, 'd', sizeof(fa.data));
  kefo__buf_init(&fa.want, NULL);
  CU_ASSERT_FATAL(kefo__kpl_aggregator_new(&a, NULL) == 0);
  CU_ASSERT_EQUAL(add_all(a, fa.recs, fa.n), fa.n);
  CU_ASSERT_EQUAL(finish_into(a, &fa.want), 0);
  CU_ASSERT(check_round_trip(fa.want.data, fa.want.len, fa.recs, fa.n));
  kefo__kpl_aggregator_del(a);

  /* Copied, then lent and copied in turn (the lent records' table grows
     and can fail too): the same bytes, and a failed add changes
     nothing. */
  kefo_failmalloc_run(fm_scenario, &fa);
  lent_mode = 2;
  kefo_failmalloc_run(fm_scenario, &fa);
  lent_mode = 0;
  kefo__buf_free(&fa.want);
}

int kefo_add_kpl_aggregate_suite(void) {
  CU_pSuite s = CU_add_suite("kpl_aggregate", NULL, NULL);

  if (s == NULL || CU_add_test(s, "vectors", test_vectors) == NULL ||
      CU_add_test(s, "every_step", test_every_step) == NULL ||
      CU_add_test(s, "empty", test_empty) == NULL ||
      CU_add_test(s, "round_trip", test_round_trip) == NULL ||
      CU_add_test(s, "dedup", test_dedup) == NULL ||
      CU_add_test(s, "bad_arguments", test_bad_arguments) == NULL ||
      CU_add_test(s, "failmalloc", test_failmalloc) == NULL) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
