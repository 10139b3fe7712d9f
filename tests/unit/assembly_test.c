/*
 * Record assembly (shard/assembly.h): wire records in, the application's
 * records out. Aggregates come from the KPL vectors in ../shared/vectors
 * (base64-encoded here as Kinesis sends them); the resume filter is
 * checked at the edges a restart meets: a checkpoint inside an
 * aggregate, at a plain record, and before the first one.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "base/base64.h"
#include "tests/support/failmalloc.h"
#include "shard/assembly.h"
#include "suites.h"
#include "tests/support/vectors.h"

#define SEQ_A "49590338271490256608559692538361571095921575989136588898"
#define SEQ_B "49590338271490256608559692538361571095921575989136588899"
#define SEQ_C "49590338271490256608559692538361571095921575989136588900"

/* A wire record whose Data is the base64 of |data| (|len| bytes); the
   text is kept in |text| (room for 18,000 bytes of data). */
typedef struct wire {
  kefo_wire_record w;
  uint8_t text[24000];
} wire;

static void wire_set(wire *out, const char *pk, const char *seq,
                     const void *data, size_t len, int64_t arrival) {
  size_t tlen = 0;

  CU_ASSERT_EQUAL_FATAL(
      kefo__base64_encode(out->text, sizeof(out->text), data, len, &tlen), 0);
  out->w.seq = seq;
  out->w.pk = pk;
  out->w.pk_len = pk ? strlen(pk) : 0;
  out->w.data = out->text;
  out->w.data_len = tlen;
  out->w.arrival_ms = arrival;
}

static int data_is(const kefo_record *r, const char *s) {
  return r->data_len == strlen(s) && memcmp(r->data, s, r->data_len) == 0;
}

/* Reads a KPL vector into |w| as the record |seq| of key |pk|. */
static void wire_vector(wire *w, const char *rel, const char *pk,
                        const char *seq) {
  uint8_t *bin = NULL;
  size_t len = 0;

  CU_ASSERT_EQUAL_FATAL(kefo_test_read_vector(rel, &bin, &len), 0);
  CU_ASSERT_FATAL(len <= 18000);
  wire_set(w, pk, seq, bin, len, 7000);
  free(bin);
}

static void test_plain_records(void) {
  kefo_assembly a;
  wire w[3];
  kefo_wire_record in[3];
  kefo_record *out;
  size_t n, i;
  uint64_t bytes = 0;

  kefo__assembly_init(&a, NULL);
  wire_set(&w[0], "k0", SEQ_A, "zero", 4, 1000);
  wire_set(&w[1], "k1", SEQ_B, "one!", 4, 2000);
  wire_set(&w[2], "k2", SEQ_C, "", 0, 3000);
  for (i = 0; i < 3; ++i) {
    in[i] = w[i].w;
  }
  /* The first was delivered before (the cores said skip 1). */
  CU_ASSERT_EQUAL_FATAL(
      kefo__assembly_run(&a, in, 3, 1, NULL, &out, &n, &bytes), 0);
  CU_ASSERT_EQUAL_FATAL(n, 2);
  CU_ASSERT_STRING_EQUAL(out[0].partition_key, "k1");
  CU_ASSERT_STRING_EQUAL(out[0].sequence_number, SEQ_B);
  CU_ASSERT_EQUAL(out[0].sub_sequence_number, 0);
  CU_ASSERT(out[0].explicit_hash_key == NULL);
  CU_ASSERT_EQUAL(out[0].approximate_arrival_ms, 2000);
  CU_ASSERT(data_is(&out[0], "one!"));
  CU_ASSERT_STRING_EQUAL(out[1].partition_key, "k2");
  CU_ASSERT_EQUAL(out[1].data_len, 0);
  CU_ASSERT_EQUAL(bytes, 4);
  /* Nothing after the skip: no records, no error. */
  CU_ASSERT_EQUAL(kefo__assembly_run(&a, in, 3, 3, NULL, &out, &n, &bytes), 0);
  CU_ASSERT_EQUAL(n, 0);
  CU_ASSERT_EQUAL(kefo__assembly_run(&a, in, 0, 0, NULL, &out, &n, NULL), 0);
  CU_ASSERT_EQUAL(n, 0);
  kefo__assembly_free(&a);
}

static void test_bad_records(void) {
  kefo_assembly a;
  wire w;
  kefo_wire_record bad;
  kefo_record *out;
  size_t n = 99;

  kefo__assembly_init(&a, NULL);
  wire_set(&w, "k", SEQ_A, "data", 4, 0);
  bad = w.w;
  bad.data = NULL;
  CU_ASSERT_EQUAL(kefo__assembly_run(&a, &bad, 1, 0, NULL, &out, &n, NULL),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT_PTR_NOT_NULL_FATAL(a.error);
  CU_ASSERT(strstr(a.error, "lacks Data") != NULL);
  CU_ASSERT_EQUAL(n, 0);
  bad = w.w;
  bad.pk = NULL;
  CU_ASSERT_EQUAL(kefo__assembly_run(&a, &bad, 1, 0, NULL, &out, &n, NULL),
                  KEFO_ERR_BAD_RESPONSE);
  bad = w.w;
  bad.seq = NULL;
  CU_ASSERT_EQUAL(kefo__assembly_run(&a, &bad, 1, 0, NULL, &out, &n, NULL),
                  KEFO_ERR_BAD_RESPONSE);
  /* A bad record after the skip fails the event; before it, it is not
     looked at. */
  bad = w.w;
  bad.data = (const uint8_t *)"no base64!";
  bad.data_len = 10;
  CU_ASSERT_EQUAL(kefo__assembly_run(&a, &bad, 1, 0, NULL, &out, &n, NULL),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT(strstr(a.error, "not base64") != NULL);
  CU_ASSERT_EQUAL(kefo__assembly_run(&a, &bad, 1, 1, NULL, &out, &n, NULL), 0);
  CU_ASSERT_PTR_NULL(a.error);
  kefo__assembly_free(&a);
}

static void test_aggregates(void) {
  kefo_assembly a;
  static wire w[2];
  kefo_wire_record in[2];
  kefo_record *out;
  size_t n, i;
  uint64_t bytes = 0;

  kefo__assembly_init(&a, NULL);
  wire_vector(&w[0], "kpl/agg_3_records.bin", "pk-alpha", SEQ_A);
  wire_set(&w[1], "plain", SEQ_B, "after", 5, 8000);
  in[0] = w[0].w;
  in[1] = w[1].w;
  CU_ASSERT_EQUAL_FATAL(
      kefo__assembly_run(&a, in, 2, 0, NULL, &out, &n, &bytes), 0);
  CU_ASSERT_EQUAL_FATAL(n, 4);
  CU_ASSERT_STRING_EQUAL(out[0].partition_key, "pk-alpha");
  CU_ASSERT_STRING_EQUAL(out[1].partition_key, "pk-beta");
  CU_ASSERT_STRING_EQUAL(out[2].partition_key, "pk-gamma-\xc3\xbcnic\xc3\xb8"
                                               "de");
  CU_ASSERT(data_is(&out[0], "hello, kinesis"));
  CU_ASSERT_EQUAL(out[1].data_len, 7);
  CU_ASSERT(memcmp(out[1].data, "\x00\x01\x02\x7f\x80\xfe\xff", 7) == 0);
  CU_ASSERT_PTR_NULL(out[0].explicit_hash_key);
  CU_ASSERT_PTR_NOT_NULL_FATAL(out[1].explicit_hash_key);
  CU_ASSERT_STRING_EQUAL(out[1].explicit_hash_key,
                         "170141183460469231731687303715884105728");
  for (i = 0; i < 3; ++i) {
    CU_ASSERT_STRING_EQUAL(out[i].sequence_number, SEQ_A);
    CU_ASSERT_EQUAL(out[i].sub_sequence_number, i);
    CU_ASSERT_EQUAL(out[i].approximate_arrival_ms, 7000);
  }
  CU_ASSERT_STRING_EQUAL(out[3].partition_key, "plain");
  CU_ASSERT_EQUAL(out[3].sub_sequence_number, 0);
  CU_ASSERT_EQUAL(bytes,
                  out[0].data_len + out[1].data_len + out[2].data_len + 5);

  /* 100 user records in one aggregate. */
  wire_vector(&w[0], "kpl/agg_100_records.bin", "outer", SEQ_C);
  CU_ASSERT_EQUAL_FATAL(
      kefo__assembly_run(&a, &w[0].w, 1, 0, NULL, &out, &n, NULL), 0);
  CU_ASSERT_EQUAL_FATAL(n, 100);
  for (i = 0; i < 100; ++i) {
    CU_ASSERT_EQUAL(out[i].sub_sequence_number, i);
  }
  /* A truncated protobuf is handed on whole, as the KCL does. */
  wire_vector(&w[0], "kpl/agg_bad_protobuf.bin", "badproto-pk", SEQ_A);
  CU_ASSERT_EQUAL_FATAL(
      kefo__assembly_run(&a, &w[0].w, 1, 0, NULL, &out, &n, NULL), 0);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT_EQUAL(out[0].data_len, 24);
  CU_ASSERT_STRING_EQUAL(out[0].partition_key, "badproto-pk");
  kefo__assembly_free(&a);
}

static void test_resume_in_aggregate(void) {
  kefo_assembly a;
  static wire w[2];
  kefo_wire_record in[2];
  kefo_record *out;
  size_t n;
  kefo_resume_filter f;

  kefo__assembly_init(&a, NULL);
  wire_vector(&w[0], "kpl/agg_3_records.bin", "pk-alpha", SEQ_A);
  wire_set(&w[1], "plain", SEQ_B, "after", 5, 0);
  in[0] = w[0].w;
  in[1] = w[1].w;
  /* Checkpointed at user record 1 of the aggregate: only 2 and the plain
     record after it are new. */
  f.active = 1;
  f.seq = SEQ_A;
  f.sub = 1;
  CU_ASSERT_EQUAL_FATAL(kefo__assembly_run(&a, in, 2, 0, &f, &out, &n, NULL),
                        0);
  CU_ASSERT_EQUAL_FATAL(n, 2);
  CU_ASSERT_EQUAL(out[0].sub_sequence_number, 2);
  CU_ASSERT_STRING_EQUAL(out[0].sequence_number, SEQ_A);
  CU_ASSERT_STRING_EQUAL(out[1].sequence_number, SEQ_B);
  CU_ASSERT_EQUAL(f.active, 0);
  /* Checkpointed at the aggregate's last user record: it is all old. */
  f.active = 1;
  f.sub = 2;
  CU_ASSERT_EQUAL_FATAL(kefo__assembly_run(&a, in, 2, 0, &f, &out, &n, NULL),
                        0);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT_STRING_EQUAL(out[0].sequence_number, SEQ_B);
  CU_ASSERT_EQUAL(f.active, 0);
  /* The filter stays on while everything is old, for the next event. */
  f.active = 1;
  f.seq = SEQ_B;
  f.sub = 0;
  CU_ASSERT_EQUAL(kefo__assembly_run(&a, in, 2, 0, &f, &out, &n, NULL), 0);
  CU_ASSERT_EQUAL(n, 0);
  CU_ASSERT_EQUAL(f.active, 1);
  kefo__assembly_free(&a);
}

static void test_resume_plain(void) {
  kefo_assembly a;
  wire w[3];
  kefo_wire_record in[3];
  kefo_record *out;
  size_t n, i;
  kefo_resume_filter f = {1, SEQ_B, 0};

  kefo__assembly_init(&a, NULL);
  wire_set(&w[0], "k", SEQ_A, "a", 1, 0);
  wire_set(&w[1], "k", SEQ_B, "b", 1, 0);
  wire_set(&w[2], "k", SEQ_C, "c", 1, 0);
  for (i = 0; i < 3; ++i) {
    in[i] = w[i].w;
  }
  /* Reading starts AT the checkpoint: it and anything before are old. */
  CU_ASSERT_EQUAL_FATAL(kefo__assembly_run(&a, in, 3, 0, &f, &out, &n, NULL),
                        0);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT(data_is(&out[0], "c"));
  CU_ASSERT_EQUAL(f.active, 0);
  /* Once off, the filter drops nothing, even records before it (a
     resharded parent's order is the cores' business, not this one's). */
  CU_ASSERT_EQUAL(kefo__assembly_run(&a, in, 3, 0, &f, &out, &n, NULL), 0);
  CU_ASSERT_EQUAL(n, 3);
  /* No filter at all. */
  CU_ASSERT_EQUAL(kefo__assembly_run(&a, in, 3, 0, NULL, &out, &n, NULL), 0);
  CU_ASSERT_EQUAL(n, 3);
  kefo__assembly_free(&a);
}

static void test_long_key(void) {
  kefo_assembly a;
  wire w;
  kefo_record *out;
  size_t n;
  char pk[300];

  /* Longer than the 256-byte copy kept on the stack while a blob is
     de-aggregated. */
  memset(pk, 'p', sizeof(pk) - 1);
  pk[sizeof(pk) - 1] = '\0';
  kefo__assembly_init(&a, NULL);
  wire_set(&w, pk, SEQ_A, "x", 1, 0);
  CU_ASSERT_EQUAL_FATAL(
      kefo__assembly_run(&a, &w.w, 1, 0, NULL, &out, &n, NULL), 0);
  CU_ASSERT_EQUAL_FATAL(n, 1);
  CU_ASSERT_STRING_EQUAL(out[0].partition_key, pk);
  kefo__assembly_free(&a);
}

typedef struct fm_arg {
  kefo_wire_record in[3];
} fm_arg;

/* Every allocation failing in turn: the call fails cleanly (no memory,
   or a record it could not de-aggregate, said so) or succeeds whole;
   failmalloc_run checks that nothing leaks. */
static int fm_scenario(const kefo_mem *mem, void *arg) {
  fm_arg *fa = arg;
  kefo_assembly a;
  kefo_record *out;
  size_t n = 0;
  kefo_resume_filter f = {1, SEQ_A, 0};
  int rv;

  kefo__assembly_init(&a, mem);
  rv = kefo__assembly_run(&a, fa->in, 3, 0, &f, &out, &n, NULL);
  if (rv == 0) {
    CU_ASSERT_EQUAL(n, 2 + 100 + 1);
    CU_ASSERT_EQUAL(f.active, 0);
  } else if (a.error == NULL) {
    CU_ASSERT_EQUAL(rv, KEFO_ERR_NOMEM);
  } else {
    /* Memory that KPL de-aggregation could not get is reported as a
       record that could not be de-aggregated (the consumer says so). */
    CU_ASSERT(strstr(a.error, "de-aggregate") != NULL);
    CU_ASSERT(rv == KEFO_ERR_NOMEM || rv == KEFO_ERR_CALLBACK_FAILURE);
  }
  kefo__assembly_free(&a);
  return rv;
}

static void test_failmalloc(void) {
  static wire w[3];
  fm_arg fa;
  size_t i;

  wire_vector(&w[0], "kpl/agg_3_records.bin", "pk-alpha", SEQ_A);
  wire_vector(&w[1], "kpl/agg_100_records.bin", "outer", SEQ_B);
  wire_set(&w[2], "k", SEQ_C, "plain", 5, 0);
  for (i = 0; i < 3; ++i) {
    fa.in[i] = w[i].w;
  }
  kefo_failmalloc_run(fm_scenario, &fa);
}

int kefo_add_assembly_suite(void) {
  CU_pSuite s = CU_add_suite("assembly", NULL, NULL);

  if (s == NULL ||
      !CU_add_test(s, "plain records, skip, bytes", test_plain_records) ||
      !CU_add_test(s, "records lacking fields, or not base64",
                   test_bad_records) ||
      !CU_add_test(s, "KPL aggregates among plain records", test_aggregates) ||
      !CU_add_test(s, "resume inside an aggregate", test_resume_in_aggregate) ||
      !CU_add_test(s, "resume at a plain record", test_resume_plain) ||
      !CU_add_test(s, "a partition key over 256 bytes", test_long_key) ||
      !CU_add_test(s, "every allocation failing in turn", test_failmalloc)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
