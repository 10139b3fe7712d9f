/*
 * JSON string output and UTF-8 validation, checked by parsing the output
 * back with cJSON.
 */
#include <string.h>

#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>

#include "base/json_writer.h"
#include "tests/unit/suites.h"

static int valid(const char *s) {
  return kefo__utf8_valid((const uint8_t *)s, strlen(s));
}

static void test_utf8(void) {
  CU_ASSERT(valid(""));
  CU_ASSERT(valid("plain ascii"));
  CU_ASSERT(valid("pk-gamma-\xc3\xbcnic\xc3\xb8"
                  "de"));
  CU_ASSERT(valid("\xe2\x82\xac"));      /* U+20AC */
  CU_ASSERT(valid("\xf0\x9f\x98\x80"));  /* U+1F600 */
  CU_ASSERT(valid("\xf4\x8f\xbf\xbf"));  /* U+10FFFF */
  CU_ASSERT(!valid("\xc0\xaf"));         /* overlong '/' */
  CU_ASSERT(!valid("\xe0\x80\xaf"));     /* overlong */
  CU_ASSERT(!valid("\xed\xa0\x80"));     /* surrogate */
  CU_ASSERT(!valid("\xf4\x90\x80\x80")); /* above U+10FFFF */
  CU_ASSERT(!valid("\xe2\x82"));         /* cut short */
  CU_ASSERT(!valid("\x80"));             /* lone continuation */
  CU_ASSERT(!valid("\xff"));
}

static void test_escape_round_trip(void) {
  static const uint8_t text[] = "q\"b\\n\nr\rt\tc\x01\x1f end \xc3\xa9";
  kefo_buf b;
  cJSON *j;

  kefo__buf_init(&b, NULL);
  CU_ASSERT_EQUAL(kefo__json_append_string(&b, text, sizeof(text) - 1), 0);
  j = cJSON_Parse(kefo__buf_cstr(&b));
  CU_ASSERT_PTR_NOT_NULL_FATAL(j);
  CU_ASSERT(cJSON_IsString(j));
  CU_ASSERT_STRING_EQUAL(j->valuestring, (const char *)text);
  /* No raw control character may reach a JSON line. */
  CU_ASSERT_PTR_NULL(memchr(b.data, '\n', b.len));
  cJSON_Delete(j);
  kefo__buf_reset(&b);
  CU_ASSERT_EQUAL(kefo__json_append_base64(&b, (const uint8_t *)"\xff\x00", 2),
                  0);
  CU_ASSERT_STRING_EQUAL(kefo__buf_cstr(&b), "\"/wA=\"");
  kefo__buf_free(&b);
}

int kefo_add_json_writer_suite(void) {
  CU_pSuite s = CU_add_suite("json_writer", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "utf8", test_utf8) ||
      !CU_add_test(s, "escape_round_trip", test_escape_round_trip)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
