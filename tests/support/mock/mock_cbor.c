/*
 * The mock's CBOR (see mock_cbor.h). Answers are written from a cJSON
 * tree: the mock's answers are small and its speed is not measured.
 */
#include "tests/support/mock/mock_cbor.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/cbor.h"

/* Requests are at most 10 MB; their JSON at most 4/3 of that and some. */
#define MAX_JSON (64u << 20)

int mock_cbor_request(kefo_buf *body, char *why, size_t whylen) {
  kefo_buf json;

  kefo__buf_init(&json, body->mem);
  if (kefo__cbor_to_json(body->data, body->len, MAX_JSON, &json, why, whylen) !=
      0) {
    kefo__buf_free(&json);
    return -1;
  }
  kefo__buf_free(body);
  *body = json;
  return 0;
}

static int put_double(kefo_buf *b, double v) {
  uint64_t bits;
  uint8_t out[9];
  int i;

  memcpy(&bits, &v, sizeof(bits));
  out[0] = 0xfb;
  for (i = 8; i >= 1; --i) {
    out[i] = (uint8_t)bits;
    bits >>= 8;
  }
  return kefo__buf_append(b, out, sizeof(out));
}

static int put_item(kefo_buf *b, const cJSON *j) {
  const cJSON *c;
  int rv = 0;

  if (cJSON_IsObject(j) || cJSON_IsArray(j)) {
    rv = kefo__cbor_append_head(b, cJSON_IsObject(j) ? 5 : 4,
                                (uint64_t)cJSON_GetArraySize(j));
    for (c = j->child; rv == 0 && c != NULL; c = c->next) {
      if (cJSON_IsObject(j)) {
        rv = kefo__cbor_append_text(b, c->string, strlen(c->string));
      }
      if (rv == 0) {
        rv = put_item(b, c);
      }
    }
    return rv;
  }
  if (cJSON_IsString(j)) {
    return kefo__cbor_append_text(b, j->valuestring, strlen(j->valuestring));
  }
  if (cJSON_IsNumber(j)) {
    double v = j->valuedouble;
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
      return v >= 0 ? kefo__cbor_append_head(b, 0, (uint64_t)v)
                    : kefo__cbor_append_head(b, 1, (uint64_t)(-v - 1));
    }
    return put_double(b, v);
  }
  if (cJSON_IsBool(j)) {
    return kefo__buf_append_byte(b, cJSON_IsTrue(j) ? 0xf5 : 0xf4);
  }
  return kefo__buf_append_byte(b, 0xf6); /* null */
}

int mock_cbor_answer(kefo_buf *answer) {
  cJSON *j;
  kefo_buf out;
  int rv;

  if (answer->len == 0) {
    return 0;
  }
  j = cJSON_ParseWithLength((const char *)answer->data, answer->len);
  if (j == NULL) {
    return -1;
  }
  kefo__buf_init(&out, answer->mem);
  rv = put_item(&out, j);
  cJSON_Delete(j);
  if (rv != 0) {
    kefo__buf_free(&out);
    return -1;
  }
  kefo__buf_free(answer);
  *answer = out;
  return 0;
}
