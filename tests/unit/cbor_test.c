/*
 * CBOR: the writer's heads at every width boundary, and the reader
 * against the examples of RFC 8949 appendix A (the encodings and their
 * values are the RFC's; the JSON each should become is kefo's mapping),
 * then every way an answer can be malformed.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>

#include "base/cbor.h"
#include "kefo/kefo.h"
#include "tests/unit/suites.h"

/* Hex text to bytes; returns the length. */
static size_t unhex(const char *hex, uint8_t *out) {
  size_t n = 0;
  unsigned v;

  while (hex[0] && hex[1] && sscanf(hex, "%2x", &v) == 1) {
    out[n++] = (uint8_t)v;
    hex += 2;
  }
  return n;
}

/* Converts |hex| and compares the JSON with |want| as parsed values
   (numbers with cJSON's tolerance, so 1.1 may be printed in full). */
static void check(const char *hex, const char *want) {
  uint8_t in[256];
  size_t n = unhex(hex, in);
  char err[200];
  kefo_buf out;
  cJSON *got_j, *want_j;
  int rv;

  const uint8_t *p = in;

  /* The skipper passes over exactly the item. */
  CU_ASSERT_PTR_NULL(kefo__cbor_skip(&p, in + n, KEFO_CBOR_MAX_DEPTH));
  CU_ASSERT_PTR_EQUAL(p, in + n);
  kefo__buf_init(&out, NULL);
  rv = kefo__cbor_to_json(in, n, 1 << 20, &out, err, sizeof(err));
  CU_ASSERT_EQUAL(rv, 0);
  if (rv != 0) {
    fprintf(stderr, "\n%s: %s\n", hex, err);
    kefo__buf_free(&out);
    return;
  }
  got_j = cJSON_ParseWithLength((const char *)out.data, out.len);
  want_j = cJSON_Parse(want);
  CU_ASSERT_PTR_NOT_NULL(got_j);
  CU_ASSERT_PTR_NOT_NULL(want_j);
  CU_ASSERT(cJSON_Compare(got_j, want_j, 1));
  if (got_j == NULL || !cJSON_Compare(got_j, want_j, 1)) {
    fprintf(stderr, "\n%s: got %.*s, want %s\n", hex, (int)out.len, out.data,
            want);
  }
  cJSON_Delete(got_j);
  cJSON_Delete(want_j);
  kefo__buf_free(&out);
}

/* |hex| is refused with |code| and a message containing |what|; |out|
   keeps what it had. */
static void refused(const char *hex, int code, const char *what) {
  uint8_t in[256];
  size_t n = unhex(hex, in);
  char err[200];
  kefo_buf out;
  int rv;

  const uint8_t *p = in;

  /* Not well-formed is not well-formed to the skipper either; a key that
     is not text, text that is not UTF-8 and deep nesting are
     well-formed CBOR that only JSON cannot take. */
  if (strstr(what, "map key") == NULL && strstr(what, "UTF-8") == NULL &&
      strstr(what, "simple value") == NULL && strstr(what, "nesting") == NULL) {
    CU_ASSERT(kefo__cbor_skip(&p, in + n, KEFO_CBOR_MAX_DEPTH) != NULL ||
              p != in + n);
  }
  kefo__buf_init(&out, NULL);
  kefo__buf_append_str(&out, "kept");
  rv = kefo__cbor_to_json(in, n, 1 << 20, &out, err, sizeof(err));
  CU_ASSERT_EQUAL(rv, code);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, what));
  CU_ASSERT_EQUAL(out.len, 4);
  if (rv != code || strstr(err, what) == NULL) {
    fprintf(stderr, "\n%s: rv %d, err '%s', want '%s'\n", hex, rv, err, what);
  }
  kefo__buf_free(&out);
}

static void test_rfc_examples(void) {
  check("00", "0");
  check("17", "23");
  check("1818", "24");
  check("1903e8", "1000");
  check("1a000f4240", "1000000");
  check("1b000000e8d4a51000", "1000000000000");
  check("1bffffffffffffffff", "18446744073709551615");
  check("20", "-1");
  check("3903e7", "-1000");
  check("3bffffffffffffffff", "-18446744073709551616");
  check("f90000", "0.0");
  check("f98000", "-0.0");
  check("f93c00", "1.0");
  check("fb3ff199999999999a", "1.1");
  check("f93e00", "1.5");
  check("f97bff", "65504.0");
  check("fa47c35000", "100000.0");
  check("fb7e37e43c8800759c", "1.0e+300");
  check("f90001", "5.960464477539063e-8");
  check("f90400", "0.00006103515625");
  check("f9c400", "-4.0");
  check("fbc010666666666666", "-4.1");
  /* JSON has no infinity or NaN: they become null. */
  check("f97c00", "null");
  check("f97e00", "null");
  check("f9fc00", "null");
  check("fa7f800000", "null");
  check("fbfff0000000000000", "null");
  check("f4", "false");
  check("f5", "true");
  check("f6", "null");
  check("f7", "null");
  /* Tags are dropped: an epoch timestamp is its number. */
  check("c11a514b67b0", "1363896240");
  check("c1fb41d452d9ec200000", "1363896240.5");
  check("d74401020304", "\"AQIDBA==\"");
  check("40", "\"\"");
  check("4401020304", "\"AQIDBA==\"");
  check("60", "\"\"");
  check("6161", "\"a\"");
  check("6449455446", "\"IETF\"");
  check("62225c", "\"\\\"\\\\\"");
  check("62c3bc", "\"\\u00fc\"");
  check("63e6b0b4", "\"\\u6c34\"");
  check("64f0908591", "\"\\ud800\\udd51\"");
  check("80", "[]");
  check("83010203", "[1,2,3]");
  check("8301820203820405", "[1,[2,3],[4,5]]");
  check("98190102030405060708090a0b0c0d0e0f101112131415161718181819",
        "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,"
        "25]");
  check("a0", "{}");
  check("a26161016162820203", "{\"a\":1,\"b\":[2,3]}");
  check("826161a161626163", "[\"a\",{\"b\":\"c\"}]");
  check("a56161614161626142616361436164614461656145",
        "{\"a\":\"A\",\"b\":\"B\",\"c\":\"C\",\"d\":\"D\",\"e\":\"E\"}");
  check("5f42010243030405ff", "\"AQIDBAU=\"");
  check("7f657374726561646d696e67ff", "\"streaming\"");
  check("9fff", "[]");
  check("9f018202039f0405ffff", "[1,[2,3],[4,5]]");
  check("9f01820203820405ff", "[1,[2,3],[4,5]]");
  check("83018202039f0405ff", "[1,[2,3],[4,5]]");
  check("83019f0203ff820405", "[1,[2,3],[4,5]]");
  check("9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff",
        "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,"
        "25]");
  check("bf61610161629f0203ffff", "{\"a\":1,\"b\":[2,3]}");
  check("826161bf61626163ff", "[\"a\",{\"b\":\"c\"}]");
  check("bf6346756ef563416d7421ff", "{\"Fun\":true,\"Amt\":-2}");
  /* Longer heads than needed are well-formed (RFC 8949 section 4.1 asks
     encoders for the shortest; decoders take any). */
  check("1800", "0");
  check("9900020102", "[1,2]");
}

/* The writer's heads at each width's edges, read back. */
static void test_writer_heads(void) {
  static const uint64_t args[] = {
      0,     23,    24,          255,           256,
      65535, 65536, 4294967295u, 4294967296ull, UINT64_MAX};
  static const size_t lens[] = {1, 1, 2, 2, 3, 3, 5, 5, 9, 9};
  size_t i;

  for (i = 0; i < sizeof(args) / sizeof(args[0]); ++i) {
    kefo_buf b, out;
    char want[32], err[100];
    kefo__buf_init(&b, NULL);
    kefo__buf_init(&out, NULL);
    CU_ASSERT_EQUAL(kefo__cbor_head_len(args[i]), lens[i]);
    CU_ASSERT_EQUAL(kefo__cbor_append_head(&b, KEFO_CBOR_UINT, args[i]), 0);
    CU_ASSERT_EQUAL(b.len, lens[i]);
    CU_ASSERT_EQUAL(kefo__cbor_to_json(b.data, b.len, 100, &out, err, 100), 0);
    snprintf(want, sizeof(want), "%llu", (unsigned long long)args[i]);
    CU_ASSERT_EQUAL(out.len, strlen(want));
    CU_ASSERT(memcmp(out.data, want, out.len) == 0);
    kefo__buf_free(&b);
    kefo__buf_free(&out);
  }
}

/* A PutRecords body as the producer writes it, read back. */
static void test_writer_body(void) {
  static const uint8_t data[] = {0x00, 0xff, 0x10, '"', '\\'};
  uint8_t big[300];
  kefo_buf b, out;
  char err[100];
  cJSON *j, *recs;

  memset(big, 0xab, sizeof(big));
  kefo__buf_init(&b, NULL);
  kefo__buf_init(&out, NULL);
  kefo__cbor_append_head(&b, KEFO_CBOR_MAP, 2);
  kefo__cbor_append_text(&b, "StreamName", 10);
  kefo__cbor_append_text(&b, "s\xc3\xa9", 3);
  kefo__cbor_append_text(&b, "Records", 7);
  kefo__cbor_append_head(&b, KEFO_CBOR_ARRAY, 2);
  kefo__cbor_append_head(&b, KEFO_CBOR_MAP, 2);
  kefo__cbor_append_text(&b, "Data", 4);
  kefo__cbor_append_bytes(&b, data, sizeof(data));
  kefo__cbor_append_text(&b, "PartitionKey", 12);
  kefo__cbor_append_text(&b, "k\"1", 3);
  kefo__cbor_append_head(&b, KEFO_CBOR_MAP, 1);
  kefo__cbor_append_text(&b, "Data", 4);
  kefo__cbor_append_bytes(&b, big, sizeof(big));
  CU_ASSERT_EQUAL_FATAL(
      kefo__cbor_to_json(b.data, b.len, 1 << 20, &out, err, sizeof(err)), 0);
  j = cJSON_ParseWithLength((const char *)out.data, out.len);
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  CU_ASSERT_STRING_EQUAL(cJSON_GetObjectItem(j, "StreamName")->valuestring,
                         "s\xc3\xa9");
  recs = cJSON_GetObjectItem(j, "Records");
  CU_ASSERT_EQUAL(cJSON_GetArraySize(recs), 2);
  CU_ASSERT_STRING_EQUAL(
      cJSON_GetObjectItem(cJSON_GetArrayItem(recs, 0), "Data")->valuestring,
      "AP8QIlw=");
  CU_ASSERT_STRING_EQUAL(
      cJSON_GetObjectItem(cJSON_GetArrayItem(recs, 0), "PartitionKey")
          ->valuestring,
      "k\"1");
  CU_ASSERT_EQUAL(
      strlen(cJSON_GetObjectItem(cJSON_GetArrayItem(recs, 1), "Data")
                 ->valuestring),
      400);
  cJSON_Delete(j);
  kefo__buf_free(&b);
  kefo__buf_free(&out);
}

static void test_malformed(void) {
  const int bad = KEFO_ERR_BAD_RESPONSE;

  refused("", bad, "ends inside an item");
  refused("18", bad, "ends inside a head");
  refused("1b00000000", bad, "ends inside a head");
  refused("1c", bad, "reserved additional information");
  refused("5e", bad, "reserved additional information");
  refused("1f", bad, "an integer or a tag cannot have an indefinite");
  refused("3f", bad, "an integer or a tag cannot");
  refused("df00", bad, "an integer or a tag cannot");
  refused("ff", bad, "a break outside");
  refused("8201ff", bad, "a break outside");
  refused("f800", bad, "simple value 0");
  refused("f0", bad, "simple value 16");
  refused("0001", bad, "1 bytes after the item");
  refused("440102", bad, "a string longer than the bytes left");
  refused("7b0000000100000000", bad, "a string longer than the bytes left");
  refused("9b00000001000000000000", bad, "items in");
  refused("bb00000000ffffffff", bad, "pairs in");
  refused("a201020304", bad, "a map key is not a text string");
  refused("a1f601", bad, "a map key is not a text string");
  refused("a16161", bad, "ends inside an item");
  refused("62c328", bad, "not UTF-8");
  refused("63eda080", bad, "not UTF-8"); /* a surrogate */
  refused("5f4101610262ff", bad, "not a definite string of its type");
  refused("5f5f4101ffff", bad, "not a definite string of its type");
  refused("5f4101", bad, "ends inside an item");
  refused("9f01", bad, "ends inside an item");
  refused("bf616101", bad, "ends inside an item");
  refused("c1", bad, "ends inside an item");
}

/* Nesting: 64 deep is read, 65 refused, and a long chain of tags (each
   a level) cannot run the stack out. */
static void test_depth(void) {
  char hex[2 * 200 + 4];
  size_t i;

  for (i = 0; i < KEFO_CBOR_MAX_DEPTH; ++i) {
    memcpy(hex + 2 * i, "81", 2);
  }
  memcpy(hex + 2 * i, "00", 3);
  check(hex,
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[0"
        "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
  memcpy(hex, "81", 2);
  for (i = 0; i <= KEFO_CBOR_MAX_DEPTH; ++i) {
    memcpy(hex + 2 * i, "81", 2);
  }
  memcpy(hex + 2 * i, "00", 3);
  refused(hex, KEFO_ERR_BAD_RESPONSE, "nesting deeper than 64");
  for (i = 0; i < 120; ++i) {
    memcpy(hex + 2 * i, "c1", 2);
  }
  memcpy(hex + 2 * i, "00", 3);
  refused(hex, KEFO_ERR_BAD_RESPONSE, "nesting deeper than 64");
}

/* The JSON's size is bounded before it is written. */
static void test_max_out(void) {
  uint8_t in[1 + 2 + 3000];
  kefo_buf out;
  char err[200];

  in[0] = 0x59; /* a byte string of 3,000 bytes: 4,000 of base64 */
  in[1] = 3000 >> 8;
  in[2] = 3000 & 0xff;
  memset(in + 3, 1, 3000);
  kefo__buf_init(&out, NULL);
  CU_ASSERT_EQUAL(kefo__cbor_to_json(in, sizeof(in), 3000, &out, err, 200),
                  KEFO_ERR_RESPONSE_TOO_LARGE);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "would pass 3000 bytes"));
  CU_ASSERT_EQUAL(out.len, 0);
  CU_ASSERT_EQUAL(kefo__cbor_to_json(in, sizeof(in), 4010, &out, err, 200), 0);
  CU_ASSERT_EQUAL(out.len, 4002);
  /* 1,000 small integers: 1,003 input bytes, 2,001 of JSON. */
  kefo__buf_reset(&out);
  {
    uint8_t arr[3 + 1000];
    arr[0] = 0x99;
    arr[1] = 1000 >> 8;
    arr[2] = 1000 & 0xff;
    memset(arr + 3, 7, 1000);
    CU_ASSERT_EQUAL(kefo__cbor_to_json(arr, sizeof(arr), 1500, &out, err, 200),
                    KEFO_ERR_RESPONSE_TOO_LARGE);
    CU_ASSERT_EQUAL(out.len, 0);
    CU_ASSERT_EQUAL(kefo__cbor_to_json(arr, sizeof(arr), 2001, &out, err, 200),
                    0);
    CU_ASSERT_EQUAL(out.len, 2001);
  }
  kefo__buf_free(&out);
}

int kefo_add_cbor_suite(void) {
  CU_pSuite s = CU_add_suite("cbor", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "rfc_examples", test_rfc_examples) ||
      !CU_add_test(s, "writer_heads", test_writer_heads) ||
      !CU_add_test(s, "writer_body", test_writer_body) ||
      !CU_add_test(s, "malformed", test_malformed) ||
      !CU_add_test(s, "depth", test_depth) ||
      !CU_add_test(s, "max_out", test_max_out)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
