/*
 * Event-stream codec tests: the aws-sdk-go vectors at three chunk sizes,
 * a round trip over random messages, limits, malformed headers, truncation
 * and allocation failure.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "base/base64.h"
#include "base/crc32.h"
#include "aws/event_stream.h"
#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"
#include "tests/support/vectors.h"

/* Chunk sizes every vector is fed at; 0 means the whole file at once. */
static const size_t chunk_sizes[] = {1, 7, 0};
#define NCHUNKS (sizeof(chunk_sizes) / sizeof(chunk_sizes[0]))

/* A deep copy of what the callback saw, so it can be checked afterwards. */
typedef struct copied_header {
  char name[256];
  size_t name_len;
  int type;
  int64_t int_value;
  uint8_t value[65536];
  size_t value_len;
} copied_header;

typedef struct capture {
  int calls;
  uint32_t total_length, headers_length, prelude_crc, message_crc;
  size_t nheaders;
  copied_header *headers;
  uint8_t *payload;
  size_t payload_len;
  const uint8_t *payload_ptr;
  int fail_callback;
} capture;

static void capture_free(capture *c) {
  free(c->headers);
  free(c->payload);
  memset(c, 0, sizeof(*c));
}

static int on_message(const kefo_es_message *m, void *ud) {
  capture *c = ud;
  size_t i;

  if (c->fail_callback) {
    return -1;
  }
  ++c->calls;
  free(c->headers);
  free(c->payload);
  c->total_length = m->total_length;
  c->headers_length = m->headers_length;
  c->prelude_crc = m->prelude_crc;
  c->message_crc = m->message_crc;
  c->nheaders = m->nheaders;
  c->headers = calloc(m->nheaders + 1, sizeof(copied_header));
  for (i = 0; i < m->nheaders; ++i) {
    copied_header *h = &c->headers[i];
    memcpy(h->name, m->headers[i].name, m->headers[i].name_len);
    h->name_len = m->headers[i].name_len;
    h->type = (int)m->headers[i].type;
    h->int_value = m->headers[i].int_value;
    h->value_len = m->headers[i].value_len;
    if (h->value_len) {
      memcpy(h->value, m->headers[i].value, h->value_len);
    }
  }
  c->payload = malloc(m->payload_len + 1);
  if (m->payload_len) {
    memcpy(c->payload, m->payload, m->payload_len);
  }
  c->payload_len = m->payload_len;
  c->payload_ptr = m->payload;
  return 0;
}

/* Feeds |len| bytes in chunks of |chunk| (0: whole) then finishes. */
static int feed_chunked(kefo_es_decoder *dec, const uint8_t *data, size_t len,
                        size_t chunk) {
  size_t off = 0;
  int rv;

  if (chunk == 0) {
    chunk = len ? len : 1;
  }
  while (off < len) {
    size_t n = len - off < chunk ? len - off : chunk;
    rv = kefo__es_decoder_feed(dec, data + off, n);
    if (rv != 0) {
      return rv;
    }
    off += n;
  }
  return kefo__es_decoder_finish(dec);
}

/* Decodes base64 text from the vector JSON into a malloc'ed buffer. */
static uint8_t *b64(const char *s, size_t *outlen) {
  size_t n = strlen(s);
  uint8_t *out = malloc(kefo__base64_decoded_max(n) + 1);

  if (kefo__base64_decode(out, kefo__base64_decoded_max(n), (const uint8_t *)s,
                          n, outlen) != 0) {
    free(out);
    return NULL;
  }
  return out;
}

static int header_matches(const copied_header *h, const cJSON *jh) {
  const cJSON *name = cJSON_GetObjectItem(jh, "name");
  const cJSON *type = cJSON_GetObjectItem(jh, "type");
  const cJSON *value = cJSON_GetObjectItem(jh, "value");
  int ok = 1;

  if (!cJSON_IsString(name) || !cJSON_IsNumber(type) || value == NULL) {
    return 0;
  }
  if (strlen(name->valuestring) != h->name_len ||
      memcmp(name->valuestring, h->name, h->name_len) != 0 ||
      type->valueint != h->type) {
    return 0;
  }
  switch (h->type) {
  case KEFO_ES_BOOL_TRUE:
    ok = cJSON_IsTrue(value) && h->int_value == 1 && h->value_len == 0;
    break;
  case KEFO_ES_BOOL_FALSE:
    ok = cJSON_IsFalse(value) && h->int_value == 0 && h->value_len == 0;
    break;
  case KEFO_ES_BYTE:
  case KEFO_ES_INT16:
  case KEFO_ES_INT32:
  case KEFO_ES_INT64:
  case KEFO_ES_TIMESTAMP:
    ok = cJSON_IsNumber(value) && (double)h->int_value == value->valuedouble;
    break;
  default: {
    size_t n;
    uint8_t *want = b64(value->valuestring, &n);
    ok = want && n == h->value_len && memcmp(want, h->value, n) == 0;
    free(want);
  }
  }
  return ok;
}

static uint32_t json_crc(const cJSON *j, const char *key) {
  return (uint32_t)(int32_t)cJSON_GetObjectItem(j, key)->valuedouble;
}

static int check_positive(const char *name, size_t chunk) {
  char rel[512];
  uint8_t *data = NULL, *payload = NULL;
  size_t len, plen, i;
  cJSON *want;
  const cJSON *jh;
  kefo_es_decoder dec;
  capture cap;
  int ok = 0;

  memset(&cap, 0, sizeof(cap));
  snprintf(rel, sizeof(rel), "eventstream/encoded/positive/%s", name);
  if (kefo_test_read_vector(rel, &data, &len) != 0) {
    return 0;
  }
  snprintf(rel, sizeof(rel), "eventstream/decoded/positive/%s", name);
  want = kefo_test_read_vector_json(rel);
  if (want == NULL) {
    free(data);
    return 0;
  }
  kefo__es_decoder_init(&dec, NULL, 0, 0, on_message, &cap);
  if (feed_chunked(&dec, data, len, chunk) != 0 || cap.calls != 1) {
    goto out;
  }
  if (cap.total_length !=
          (uint32_t)cJSON_GetObjectItem(want, "total_length")->valueint ||
      cap.headers_length !=
          (uint32_t)cJSON_GetObjectItem(want, "headers_length")->valueint ||
      cap.prelude_crc != json_crc(want, "prelude_crc") ||
      cap.message_crc != json_crc(want, "message_crc")) {
    goto out;
  }
  jh = cJSON_GetObjectItem(want, "headers");
  if ((size_t)cJSON_GetArraySize(jh) != cap.nheaders) {
    goto out;
  }
  for (i = 0; i < cap.nheaders; ++i) {
    if (!header_matches(&cap.headers[i], cJSON_GetArrayItem(jh, (int)i))) {
      goto out;
    }
  }
  payload = b64(cJSON_GetObjectItem(want, "payload")->valuestring, &plen);
  ok = payload && plen == cap.payload_len &&
       (plen == 0 || memcmp(payload, cap.payload, plen) == 0);
out:
  if (!ok) {
    fprintf(stderr, "eventstream positive %s failed at chunk %zu\n", name,
            chunk);
  }
  free(payload);
  kefo__es_decoder_free(&dec);
  capture_free(&cap);
  cJSON_Delete(want);
  free(data);
  return ok;
}

static int expected_error(const char *text) {
  if (strstr(text, "Prelude checksum mismatch")) {
    return KEFO_ERR_ES_PRELUDE_CRC;
  }
  if (strstr(text, "Message checksum mismatch")) {
    return KEFO_ERR_ES_MESSAGE_CRC;
  }
  return 0;
}

static int check_negative(const char *name, size_t chunk) {
  char rel[512];
  uint8_t *data = NULL, *text = NULL;
  size_t len, tlen;
  kefo_es_decoder dec;
  capture cap;
  int want, rv, ok = 0;

  memset(&cap, 0, sizeof(cap));
  snprintf(rel, sizeof(rel), "eventstream/encoded/negative/%s", name);
  if (kefo_test_read_vector(rel, &data, &len) != 0) {
    return 0;
  }
  snprintf(rel, sizeof(rel), "eventstream/decoded/negative/%s", name);
  if (kefo_test_read_vector(rel, &text, &tlen) != 0) {
    free(data);
    return 0;
  }
  want = expected_error((const char *)text);
  kefo__es_decoder_init(&dec, NULL, 0, 0, on_message, &cap);
  rv = feed_chunked(&dec, data, len, chunk);
  /* The right check, no message delivered, and the decoder refuses more
     input until reset. */
  ok = want != 0 && rv == want && cap.calls == 0 &&
       kefo__es_decoder_feed(&dec, data, 1) == KEFO_ERR_INVALID_STATE;
  if (!ok) {
    fprintf(stderr, "eventstream negative %s: got %d (%s), want %d\n", name, rv,
            kefo_strerror(rv), want);
  }
  kefo__es_decoder_free(&dec);
  capture_free(&cap);
  free(text);
  free(data);
  return ok;
}

static void test_vectors(void) {
  char **pos, **neg;
  size_t npos = kefo_test_list_vectors("eventstream/encoded/positive", &pos);
  size_t nneg = kefo_test_list_vectors("eventstream/encoded/negative", &neg);
  size_t i, c, passed = 0, runs = 0, cases_passed = 0;

  CU_ASSERT_EQUAL(npos, 5);
  CU_ASSERT_EQUAL(nneg, 4);
  for (i = 0; i < npos + nneg; ++i) {
    int all = 1;
    for (c = 0; c < NCHUNKS; ++c) {
      int ok = i < npos ? check_positive(pos[i], chunk_sizes[c])
                        : check_negative(neg[i - npos], chunk_sizes[c]);
      CU_ASSERT(ok);
      passed += (size_t)ok;
      all &= ok;
      ++runs;
    }
    cases_passed += (size_t)all;
  }
  printf("\neventstream: %zu/9 vectors passed at chunk sizes 1, 7 and whole "
         "(%zu/%zu runs)\n",
         cases_passed, passed, runs);
  CU_ASSERT_EQUAL(cases_passed, 9);
  kefo_test_free_list(pos, npos);
  kefo_test_free_list(neg, nneg);
}

/* A deterministic generator so a failure can be replayed. */
static uint64_t rng_state;

static uint32_t rnd(void) {
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (uint32_t)(rng_state >> 33);
}

typedef struct gen_message {
  kefo_es_header headers[40];
  char names[40][32];
  uint8_t values[40][300];
  size_t nheaders;
  uint8_t payload[6000];
  size_t payload_len;
} gen_message;

static void gen(gen_message *g) {
  size_t i, j;

  g->nheaders = rnd() % 40; /* past the 8 parsed on the stack */
  for (i = 0; i < g->nheaders; ++i) {
    kefo_es_header *h = &g->headers[i];
    size_t nl = 1 + rnd() % 31;
    for (j = 0; j < nl; ++j) {
      g->names[i][j] = (char)('a' + rnd() % 26);
    }
    memset(h, 0, sizeof(*h));
    h->name = g->names[i];
    h->name_len = nl;
    h->type = (kefo_es_header_type)(rnd() % 10);
    switch (h->type) {
    case KEFO_ES_BOOL_TRUE:
      h->int_value = 1;
      break;
    case KEFO_ES_BOOL_FALSE:
      h->int_value = 0;
      break;
    case KEFO_ES_BYTE:
      h->int_value = (int8_t)rnd();
      break;
    case KEFO_ES_INT16:
      h->int_value = (int16_t)rnd();
      break;
    case KEFO_ES_INT32:
      h->int_value = (int32_t)rnd();
      break;
    case KEFO_ES_INT64:
    case KEFO_ES_TIMESTAMP:
      h->int_value = (int64_t)((uint64_t)rnd() << 32 | rnd());
      break;
    case KEFO_ES_UUID:
      h->value_len = 16;
      for (j = 0; j < 16; ++j) {
        g->values[i][j] = (uint8_t)rnd();
      }
      h->value = g->values[i];
      break;
    default:
      h->value_len = rnd() % 300;
      for (j = 0; j < h->value_len; ++j) {
        g->values[i][j] = (uint8_t)rnd();
      }
      h->value = g->values[i];
    }
  }
  g->payload_len = rnd() % 3 == 0 ? 0 : rnd() % sizeof(g->payload);
  for (j = 0; j < g->payload_len; ++j) {
    g->payload[j] = (uint8_t)rnd();
  }
}

typedef struct rt_check {
  gen_message *msgs;
  size_t next;
  size_t n;
  int mismatches;
} rt_check;

static int rt_on_message(const kefo_es_message *m, void *ud) {
  rt_check *rc = ud;
  gen_message *g;
  size_t i;

  if (rc->next >= rc->n) {
    ++rc->mismatches;
    return 0;
  }
  g = &rc->msgs[rc->next++];
  if (m->nheaders != g->nheaders || m->payload_len != g->payload_len ||
      (g->payload_len && memcmp(m->payload, g->payload, g->payload_len) != 0)) {
    ++rc->mismatches;
    return 0;
  }
  for (i = 0; i < g->nheaders; ++i) {
    const kefo_es_header *a = &m->headers[i], *b = &g->headers[i];
    int vals = b->type == KEFO_ES_BYTES || b->type == KEFO_ES_STRING ||
               b->type == KEFO_ES_UUID;
    if (a->name_len != b->name_len ||
        memcmp(a->name, b->name, a->name_len) != 0 || a->type != b->type ||
        (!vals && a->int_value != b->int_value) ||
        (vals &&
         (a->value_len != b->value_len ||
          (a->value_len && memcmp(a->value, b->value, a->value_len) != 0)))) {
      ++rc->mismatches;
    }
  }
  return 0;
}

/* Random messages, concatenated, fed at random chunk sizes. */
static void test_round_trip(void) {
  enum { ROUNDS = 60, PER = 8 };
  gen_message *msgs = malloc(sizeof(gen_message) * PER);
  uint8_t *stream = malloc(PER * (sizeof(gen_message) + 64));
  size_t r, i, total_msgs = 0;

  rng_state = 0x6b65666f; /* fixed seed: "kefo" */
  for (r = 0; r < ROUNDS; ++r) {
    size_t len = 0, off = 0;
    kefo_es_decoder dec;
    rt_check rc = {msgs, 0, PER, 0};

    for (i = 0; i < PER; ++i) {
      size_t n;
      gen(&msgs[i]);
      CU_ASSERT_EQUAL_FATAL(kefo__es_encode(stream + len, 1 << 20,
                                            msgs[i].headers, msgs[i].nheaders,
                                            msgs[i].payload,
                                            msgs[i].payload_len, &n),
                            0);
      CU_ASSERT_EQUAL(n, kefo__es_encoded_len(msgs[i].headers, msgs[i].nheaders,
                                              msgs[i].payload_len));
      len += n;
    }
    kefo__es_decoder_init(&dec, NULL, 0, 0, rt_on_message, &rc);
    while (off < len) {
      size_t n = 1 + rnd() % (r % 3 == 0 ? 16 : 9000);
      if (n > len - off) {
        n = len - off;
      }
      CU_ASSERT_EQUAL_FATAL(kefo__es_decoder_feed(&dec, stream + off, n), 0);
      off += n;
    }
    CU_ASSERT_EQUAL(kefo__es_decoder_finish(&dec), 0);
    CU_ASSERT_EQUAL(rc.next, PER);
    CU_ASSERT_EQUAL(rc.mismatches, 0);
    total_msgs += rc.next;
    kefo__es_decoder_free(&dec);
  }
  CU_ASSERT_EQUAL(total_msgs, ROUNDS * PER);
  free(stream);
  free(msgs);
}

/* Writes a prelude with a correct CRC. */
static void make_prelude(uint8_t *p, uint32_t total, uint32_t hl) {
  uint32_t crc;
  p[0] = (uint8_t)(total >> 24);
  p[1] = (uint8_t)(total >> 16);
  p[2] = (uint8_t)(total >> 8);
  p[3] = (uint8_t)total;
  p[4] = (uint8_t)(hl >> 24);
  p[5] = (uint8_t)(hl >> 16);
  p[6] = (uint8_t)(hl >> 8);
  p[7] = (uint8_t)hl;
  crc = kefo__crc32(0, p, 8);
  p[8] = (uint8_t)(crc >> 24);
  p[9] = (uint8_t)(crc >> 16);
  p[10] = (uint8_t)(crc >> 8);
  p[11] = (uint8_t)crc;
}

static int prelude_error(uint32_t total, uint32_t hl, uint32_t max_msg,
                         uint32_t max_hdr, long *allocs) {
  uint8_t p[12];
  kefo_es_decoder dec;
  kefo_failmalloc fm;
  capture cap;
  int rv;

  memset(&cap, 0, sizeof(cap));
  kefo_failmalloc_init(&fm, -1);
  make_prelude(p, total, hl);
  kefo__es_decoder_init(&dec, &fm.mem, max_msg, max_hdr, on_message, &cap);
  rv = kefo__es_decoder_feed(&dec, p, sizeof(p));
  kefo__es_decoder_free(&dec);
  *allocs = fm.count;
  return rv;
}

static void test_limits(void) {
  long allocs;

  /* Too large: refused from the prelude alone, before any allocation. */
  CU_ASSERT_EQUAL(prelude_error(0xfffffff0u, 0, 0, 0, &allocs),
                  KEFO_ERR_ES_TOO_LARGE);
  CU_ASSERT_EQUAL(allocs, 0);
  CU_ASSERT_EQUAL(prelude_error(1025, 0, 1024, 0, &allocs),
                  KEFO_ERR_ES_TOO_LARGE);
  CU_ASSERT_EQUAL(allocs, 0);
  CU_ASSERT_EQUAL(prelude_error(1000, 600, 0, 512, &allocs),
                  KEFO_ERR_ES_TOO_LARGE);
  CU_ASSERT_EQUAL(allocs, 0);
  /* Lengths that contradict each other. */
  CU_ASSERT_EQUAL(prelude_error(15, 0, 0, 0, &allocs), KEFO_ERR_ES_BAD_LENGTH);
  CU_ASSERT_EQUAL(prelude_error(100, 85, 0, 0, &allocs),
                  KEFO_ERR_ES_BAD_LENGTH);
  CU_ASSERT_EQUAL(allocs, 0);
  /* The size refused is told, for the error message. */
  {
    kefo_es_decoder dec;
    uint8_t p[KEFO_ES_PRELUDE_LEN];
    capture cap;

    memset(&cap, 0, sizeof(cap));
    make_prelude(p, 1025, 0);
    kefo__es_decoder_init(&dec, NULL, 1024, 0, on_message, &cap);
    CU_ASSERT_EQUAL(kefo__es_decoder_feed(&dec, p, sizeof(p)),
                    KEFO_ERR_ES_TOO_LARGE);
    CU_ASSERT_EQUAL(kefo__es_decoder_message_length(&dec), 1025);
    kefo__es_decoder_free(&dec);
  }
  /* At the limit is fine. */
  CU_ASSERT_EQUAL(prelude_error(1024, 0, 1024, 0, &allocs), 0);
  /* Limits above the format's are refused. */
  {
    kefo_es_decoder dec;
    CU_ASSERT_EQUAL(kefo__es_decoder_init(&dec, NULL,
                                          KEFO_ES_MAX_MESSAGE_LEN + 1, 0,
                                          on_message, NULL),
                    KEFO_ERR_INVALID_ARGUMENT);
    CU_ASSERT_EQUAL(kefo__es_decoder_init(&dec, NULL, 0, 0, NULL, NULL),
                    KEFO_ERR_INVALID_ARGUMENT);
  }
}

/* Builds a message whose headers section is |hdr| (taken as is) with both
   CRCs right, so only the header parser can object. */
static size_t raw_message(uint8_t *out, const uint8_t *hdr, size_t hl) {
  size_t total = 16 + hl + 2;
  uint32_t crc;

  make_prelude(out, (uint32_t)total, (uint32_t)hl);
  memcpy(out + 12, hdr, hl);
  out[12 + hl] = '{';
  out[13 + hl] = '}';
  crc = kefo__crc32(0, out, total - 4);
  out[total - 4] = (uint8_t)(crc >> 24);
  out[total - 3] = (uint8_t)(crc >> 16);
  out[total - 2] = (uint8_t)(crc >> 8);
  out[total - 1] = (uint8_t)crc;
  return total;
}

static void check_bad_header(const uint8_t *hdr, size_t hl,
                             uint64_t want_offset) {
  uint8_t msg[256];
  size_t n = raw_message(msg, hdr, hl), c;

  for (c = 0; c < NCHUNKS; ++c) {
    kefo_es_decoder dec;
    capture cap;
    memset(&cap, 0, sizeof(cap));
    kefo__es_decoder_init(&dec, NULL, 0, 0, on_message, &cap);
    CU_ASSERT_EQUAL(feed_chunked(&dec, msg, n, chunk_sizes[c]),
                    KEFO_ERR_ES_BAD_HEADER);
    CU_ASSERT_EQUAL(kefo__es_decoder_error_offset(&dec), want_offset);
    CU_ASSERT_STRING_EQUAL(kefo__es_decoder_error_check(&dec), "header");
    CU_ASSERT_EQUAL(cap.calls, 0);
    kefo__es_decoder_free(&dec);
  }
}

static void test_bad_headers(void) {
  /* Empty name. */
  static const uint8_t empty_name[] = {0, 7, 0, 0};
  /* Unknown type 10, after a good header "a" bool true. */
  static const uint8_t bad_type[] = {1, 'a', 0, 1, 'b', 10};
  /* A string that claims more bytes than the section holds. */
  static const uint8_t long_string[] = {1, 's', 7, 0, 9, 'x', 'y'};
  /* A name that runs past the section. */
  static const uint8_t long_name[] = {9, 'a', 'b'};
  /* An int32 cut short. */
  static const uint8_t short_int[] = {1, 'i', 4, 0, 0};
  /* A string length cut short. */
  static const uint8_t short_len[] = {1, 's', 7, 0};

  check_bad_header(empty_name, sizeof(empty_name), 12);
  check_bad_header(bad_type, sizeof(bad_type), 12 + 3);
  check_bad_header(long_string, sizeof(long_string), 12);
  check_bad_header(long_name, sizeof(long_name), 12);
  check_bad_header(short_int, sizeof(short_int), 12);
  check_bad_header(short_len, sizeof(short_len), 12);
}

static void test_truncated_and_reset(void) {
  static const uint8_t hdr[] = {4, 't', 'y', 'p', 'e', 7, 0, 2, 'o', 'k'};
  uint8_t msg[128];
  size_t n = raw_message(msg, hdr, sizeof(hdr)), cut;
  kefo_es_decoder dec;
  capture cap;

  memset(&cap, 0, sizeof(cap));
  kefo__es_decoder_init(&dec, NULL, 0, 0, on_message, &cap);
  /* Every cut point inside the message is reported at finish. */
  for (cut = 1; cut < n; ++cut) {
    kefo__es_decoder_reset(&dec);
    CU_ASSERT_EQUAL(kefo__es_decoder_feed(&dec, msg, cut), 0);
    CU_ASSERT_EQUAL(kefo__es_decoder_finish(&dec), KEFO_ERR_ES_TRUNCATED);
    CU_ASSERT_EQUAL(kefo__es_decoder_feed(&dec, msg + cut, n - cut),
                    KEFO_ERR_INVALID_STATE);
  }
  CU_ASSERT_EQUAL(cap.calls, 0);
  /* After a reset the same decoder reads a good message. */
  kefo__es_decoder_reset(&dec);
  CU_ASSERT_EQUAL(feed_chunked(&dec, msg, n, 0), 0);
  CU_ASSERT_EQUAL(cap.calls, 1);
  CU_ASSERT_EQUAL(cap.nheaders, 1);
  CU_ASSERT_EQUAL(cap.payload_len, 2);
  /* Zero copy: a whole message in one chunk is lent in place. */
  CU_ASSERT_PTR_EQUAL(cap.payload_ptr, msg + 12 + sizeof(hdr));
  /* An empty input ends cleanly. */
  CU_ASSERT_EQUAL(kefo__es_decoder_finish(&dec), 0);
  /* A failing callback stops the decoder. */
  cap.fail_callback = 1;
  CU_ASSERT_EQUAL(kefo__es_decoder_feed(&dec, msg, n),
                  KEFO_ERR_CALLBACK_FAILURE);
  CU_ASSERT(kefo_is_fatal(KEFO_ERR_CALLBACK_FAILURE));
  kefo__es_decoder_free(&dec);
  capture_free(&cap);
}

static void test_big_buffer_kept_while_big_messages_come(void) {
  enum { PAYLOAD = 200 * 1024 };
  uint8_t *payload = calloc(1, PAYLOAD), *out = malloc(PAYLOAD + 64);
  kefo_es_header h = {":event-type",
                      11,
                      KEFO_ES_STRING,
                      0,
                      (const uint8_t *)"SubscribeToShardEvent",
                      21};
  size_t n, off;
  kefo_es_decoder dec;
  capture cap;
  const uint8_t *body;

  memset(&cap, 0, sizeof(cap));
  CU_ASSERT_EQUAL_FATAL(
      kefo__es_encode(out, PAYLOAD + 64, &h, 1, payload, PAYLOAD, &n), 0);
  kefo__es_decoder_init(&dec, NULL, 0, 0, on_message, &cap);
  /* HTTP/2-sized pieces: the message straddles chunks and is buffered. */
  for (off = 0; off < n; off += 16384) {
    size_t k = n - off < 16384 ? n - off : 16384;
    CU_ASSERT_EQUAL(kefo__es_decoder_feed(&dec, out + off, k), 0);
  }
  CU_ASSERT_EQUAL(cap.calls, 1);
  CU_ASSERT_EQUAL(cap.payload_len, PAYLOAD);
  /* Kept, with room to spare, while big events come ... */
  CU_ASSERT(dec.body_cap > PAYLOAD);
  body = dec.body;
  for (off = 0; off < n; off += 16384) {
    size_t k = n - off < 16384 ? n - off : 16384;
    CU_ASSERT_EQUAL(kefo__es_decoder_feed(&dec, out + off, k), 0);
  }
  CU_ASSERT_EQUAL(cap.calls, 2);
  CU_ASSERT_PTR_EQUAL(dec.body, body);
  /* ... and freed after the first small one, buffered or not. */
  CU_ASSERT_EQUAL_FATAL(
      kefo__es_encode(out, PAYLOAD + 64, &h, 1, payload, 1000, &n), 0);
  CU_ASSERT_EQUAL(kefo__es_decoder_feed(&dec, out, 500), 0);
  CU_ASSERT(dec.body_cap > PAYLOAD);
  CU_ASSERT_EQUAL(kefo__es_decoder_feed(&dec, out + 500, n - 500), 0);
  CU_ASSERT_EQUAL(cap.calls, 3);
  CU_ASSERT_EQUAL(cap.payload_len, 1000);
  CU_ASSERT_EQUAL(dec.body_cap, 0);
  for (off = 0; off < 2; ++off) {
    CU_ASSERT_EQUAL_FATAL(
        kefo__es_encode(out, PAYLOAD + 64, &h, 1, payload, PAYLOAD, &n), 0);
    CU_ASSERT_EQUAL(kefo__es_decoder_feed(&dec, out, n - 1), 0);
    CU_ASSERT_EQUAL(kefo__es_decoder_feed(&dec, out + n - 1, 1), 0);
    CU_ASSERT(dec.body_cap > PAYLOAD);
    CU_ASSERT_EQUAL_FATAL(
        kefo__es_encode(out, PAYLOAD + 64, &h, 1, payload, 10, &n), 0);
    CU_ASSERT_EQUAL(kefo__es_decoder_feed(&dec, out, n), 0);
    CU_ASSERT_EQUAL(dec.body_cap, 0);
  }
  CU_ASSERT_EQUAL(cap.calls, 7);
  kefo__es_decoder_free(&dec);
  capture_free(&cap);
  free(payload);
  free(out);
}

/* What the part callbacks saw. */
typedef struct parts_capture {
  int begins, ends, take, fail_at_part;
  size_t parts, len, announced;
  int saw_event_type; /* on_begin had the :event-type header */
  uint8_t *got;
} parts_capture;

/* The decoder's user data in test_parts: on_message sees |cap|, the part
   callbacks |pc|. */
typedef struct both_capture {
  capture cap; /* first: on_message casts the pointer */
  parts_capture pc;
} both_capture;

static int parts_begin(const kefo_es_message *m, void *ud) {
  parts_capture *pc = &((both_capture *)ud)->pc;
  size_t i;

  ++pc->begins;
  pc->announced = m->payload_len;
  CU_ASSERT_PTR_NULL(m->payload);
  for (i = 0; i < m->nheaders; ++i) {
    if (m->headers[i].name_len == 11 &&
        memcmp(m->headers[i].name, ":event-type", 11) == 0 &&
        m->headers[i].value_len == 21 &&
        memcmp(m->headers[i].value, "SubscribeToShardEvent", 21) == 0) {
      pc->saw_event_type = 1;
    }
  }
  return pc->take;
}

static int parts_part(const uint8_t *p, size_t n, void *ud) {
  parts_capture *pc = &((both_capture *)ud)->pc;

  if (pc->fail_at_part && (int)pc->parts + 1 == pc->fail_at_part) {
    return -1;
  }
  ++pc->parts;
  memcpy(pc->got + pc->len, p, n);
  pc->len += n;
  return 0;
}

static int parts_end(void *ud) {
  parts_capture *pc = &((both_capture *)ud)->pc;

  ++pc->ends;
  return 0;
}

static const kefo_es_part_callbacks parts_cb = {parts_begin, parts_part,
                                                parts_end};

/*
 * A message above the parts limit goes to the part callbacks as it
 * arrives, in order, whole, with on_end only once its CRC matched; one
 * that arrives in one chunk, or one below the limit, or one whose
 * on_begin declines, goes whole to on_message; a corrupt one ends in
 * KEFO_ERR_ES_MESSAGE_CRC without on_end.
 */
static void test_parts(void) {
  enum { PAYLOAD = 300 * 1024 };
  static const size_t chunks[] = {1, 7, 16384, 100000};
  uint8_t *payload = malloc(PAYLOAD), *out = malloc(PAYLOAD + 64);
  kefo_es_header h = {":event-type",
                      11,
                      KEFO_ES_STRING,
                      0,
                      (const uint8_t *)"SubscribeToShardEvent",
                      21};
  size_t n, i, k, off;
  kefo_es_decoder dec;
  both_capture both;
  capture *capp = &both.cap;
  parts_capture *pcp = &both.pc;
#define cap (*capp)
#define pc (*pcp)

  for (i = 0; i < PAYLOAD; ++i) {
    payload[i] = (uint8_t)(i * 7 + (i >> 9));
  }
  CU_ASSERT_EQUAL_FATAL(
      kefo__es_encode(out, PAYLOAD + 64, &h, 1, payload, PAYLOAD, &n), 0);
  for (k = 0; k < sizeof(chunks) / sizeof(chunks[0]); ++k) {
    memset(&cap, 0, sizeof(cap));
    memset(&pc, 0, sizeof(pc));
    pc.take = KEFO_ES_TAKE_PARTS;
    pc.got = malloc(PAYLOAD);
    kefo__es_decoder_init(&dec, NULL, 0, 0, on_message, &both);
    kefo__es_decoder_set_parts(&dec, 64 * 1024, &parts_cb);
    CU_ASSERT_EQUAL(feed_chunked(&dec, out, n, chunks[k]), 0);
    CU_ASSERT_EQUAL(cap.calls, 0);
    CU_ASSERT_EQUAL(pc.begins, 1);
    CU_ASSERT(pc.saw_event_type);
    CU_ASSERT_EQUAL(pc.announced, PAYLOAD);
    CU_ASSERT_EQUAL(pc.ends, 1);
    CU_ASSERT_EQUAL(pc.len, PAYLOAD);
    CU_ASSERT(memcmp(pc.got, payload, PAYLOAD) == 0);
    CU_ASSERT(pc.parts >= PAYLOAD / chunks[k]);
    /* Only the headers were held. */
    CU_ASSERT(dec.body_cap < 1024);
    kefo__es_decoder_free(&dec);
    free(pc.got);

    /* Declined: held whole, headers kept, handed to on_message. */
    memset(&pc, 0, sizeof(pc));
    kefo__es_decoder_init(&dec, NULL, 0, 0, on_message, &both);
    kefo__es_decoder_set_parts(&dec, 64 * 1024, &parts_cb);
    CU_ASSERT_EQUAL(feed_chunked(&dec, out, n, chunks[k]), 0);
    CU_ASSERT_EQUAL(pc.begins, 1);
    CU_ASSERT_EQUAL(pc.parts, 0);
    CU_ASSERT_EQUAL(cap.calls, 1);
    CU_ASSERT_EQUAL(cap.nheaders, 1);
    CU_ASSERT(cap.nheaders == 1 && cap.headers[0].name_len == 11 &&
              memcmp(cap.headers[0].value, "SubscribeToShardEvent", 21) == 0);
    CU_ASSERT_EQUAL(cap.payload_len, PAYLOAD);
    CU_ASSERT(cap.payload && memcmp(cap.payload, payload, PAYLOAD) == 0);
    kefo__es_decoder_free(&dec);
    capture_free(&cap);
  }

  /* Above the limit, but whole in one chunk: verified and lent whole. */
  memset(&cap, 0, sizeof(cap));
  memset(&pc, 0, sizeof(pc));
  pc.take = KEFO_ES_TAKE_PARTS;
  kefo__es_decoder_init(&dec, NULL, 0, 0, on_message, &both);
  kefo__es_decoder_set_parts(&dec, 64 * 1024, &parts_cb);
  CU_ASSERT_EQUAL(kefo__es_decoder_feed(&dec, out, n), 0);
  CU_ASSERT_EQUAL(pc.begins, 0);
  CU_ASSERT_EQUAL(cap.calls, 1);
  kefo__es_decoder_free(&dec);
  capture_free(&cap);

  /* A corrupt byte of the payload: every part handed on, no on_end, the
     message CRC error at the CRC's offset. */
  memset(&cap, 0, sizeof(cap));
  memset(&pc, 0, sizeof(pc));
  pc.take = KEFO_ES_TAKE_PARTS;
  pc.got = malloc(PAYLOAD);
  out[n / 2] ^= 0x10;
  kefo__es_decoder_init(&dec, NULL, 0, 0, on_message, &both);
  kefo__es_decoder_set_parts(&dec, 64 * 1024, &parts_cb);
  CU_ASSERT_EQUAL(feed_chunked(&dec, out, n, 16384), KEFO_ERR_ES_MESSAGE_CRC);
  CU_ASSERT_EQUAL(pc.ends, 0);
  CU_ASSERT_EQUAL(pc.len, PAYLOAD);
  CU_ASSERT_EQUAL(kefo__es_decoder_error_offset(&dec), n - 4);
  kefo__es_decoder_free(&dec);
  free(pc.got);
  out[n / 2] ^= 0x10;

  /* A part callback that fails stops the decoder there. */
  memset(&pc, 0, sizeof(pc));
  pc.take = KEFO_ES_TAKE_PARTS;
  pc.fail_at_part = 3;
  pc.got = malloc(PAYLOAD);
  kefo__es_decoder_init(&dec, NULL, 0, 0, on_message, &both);
  kefo__es_decoder_set_parts(&dec, 64 * 1024, &parts_cb);
  CU_ASSERT_EQUAL(feed_chunked(&dec, out, n, 16384), KEFO_ERR_CALLBACK_FAILURE);
  CU_ASSERT_EQUAL(pc.parts, 2);
  CU_ASSERT_EQUAL(kefo__es_decoder_feed(&dec, out, 1), KEFO_ERR_INVALID_STATE);
  /* A reset starts over at a prelude, in parts again. */
  kefo__es_decoder_reset(&dec);
  pc.fail_at_part = 0;
  pc.parts = pc.len = 0;
  CU_ASSERT_EQUAL(feed_chunked(&dec, out, n, 16384), 0);
  CU_ASSERT_EQUAL(pc.ends, 1);
  CU_ASSERT_EQUAL(pc.len, PAYLOAD);
  kefo__es_decoder_free(&dec);
  free(pc.got);

  /* Below the limit: whole, the part callbacks never asked. */
  memset(&pc, 0, sizeof(pc));
  pc.take = KEFO_ES_TAKE_PARTS;
  kefo__es_decoder_init(&dec, NULL, 0, 0, on_message, &both);
  kefo__es_decoder_set_parts(&dec, (uint32_t)n, &parts_cb);
  for (off = 0; off < n; off += 16384) {
    CU_ASSERT_EQUAL(kefo__es_decoder_feed(&dec, out + off,
                                          n - off < 16384 ? n - off : 16384),
                    0);
  }
  CU_ASSERT_EQUAL(pc.begins, 0);
  CU_ASSERT_EQUAL(cap.calls, 1);
  kefo__es_decoder_free(&dec);
  capture_free(&cap);
  free(payload);
  free(out);
#undef cap
#undef pc
}

static void test_encoder_errors(void) {
  uint8_t out[64];
  size_t n;
  kefo_es_header empty = {"", 0, KEFO_ES_BOOL_TRUE, 1, NULL, 0};
  kefo_es_header bad_type = {"x", 1, (kefo_es_header_type)10, 0, NULL, 0};
  kefo_es_header ok = {"x", 1, KEFO_ES_INT32, 7, NULL, 0};

  CU_ASSERT_EQUAL(kefo__es_encode(out, sizeof(out), &empty, 1, NULL, 0, &n),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__es_encode(out, sizeof(out), &bad_type, 1, NULL, 0, &n),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__es_encode(out, 20, &ok, 1, NULL, 0, &n),
                  KEFO_ERR_BUFFER_TOO_SMALL);
  CU_ASSERT_EQUAL(kefo__es_encode(out, sizeof(out), &ok, 1, NULL, 0, &n), 0);
  CU_ASSERT_EQUAL(n, 16 + 3 + 4);
  CU_ASSERT_EQUAL(kefo__es_encoded_len(NULL, 0, KEFO_ES_MAX_MESSAGE_LEN), 0);
}

/* Three messages through a failing allocator, fed 7 bytes at a time so
   that every one is buffered: a small one, one with 40 headers, and one
   whose 70 KB payload makes the buffer grow. */
static int failmalloc_scenario(const kefo_mem *mem, void *arg) {
  static uint8_t stream[80 * 1024];
  static size_t len;
  static const size_t payloads[] = {2, 300, 70 * 1024};
  kefo_es_decoder dec;
  capture cap;
  int rv;

  (void)arg;
  if (len == 0) {
    static uint8_t payload[70 * 1024];
    kefo_es_header h[40];
    char names[40][8];
    size_t i, k, n;

    memset(payload, 'x', sizeof(payload));
    for (k = 0; k < 3; ++k) {
      size_t nh = k == 1 ? 40 : 2;
      for (i = 0; i < nh; ++i) {
        memset(&h[i], 0, sizeof(h[i]));
        snprintf(names[i], sizeof(names[i]), "h%zu", i);
        h[i].name = names[i];
        h[i].name_len = strlen(names[i]);
        h[i].type = KEFO_ES_STRING;
        h[i].value = (const uint8_t *)"value";
        h[i].value_len = 5;
      }
      CU_ASSERT_EQUAL_FATAL(kefo__es_encode(stream + len, sizeof(stream) - len,
                                            h, nh, payload, payloads[k], &n),
                            0);
      len += n;
    }
  }
  memset(&cap, 0, sizeof(cap));
  kefo__es_decoder_init(&dec, mem, 0, 0, on_message, &cap);
  rv = feed_chunked(&dec, stream, len, 7);
  if (rv == 0) {
    CU_ASSERT_EQUAL(cap.calls, 3);
    CU_ASSERT_EQUAL(cap.payload_len, payloads[2]);
  } else {
    /* Under a failing allocator the only acceptable error is NOMEM. */
    CU_ASSERT_EQUAL(rv, KEFO_ERR_NOMEM);
  }
  kefo__es_decoder_free(&dec);
  capture_free(&cap);
  return rv;
}

static void test_failmalloc(void) {
  kefo_failmalloc_run(failmalloc_scenario, NULL);
}

int kefo_add_event_stream_suite(void) {
  CU_pSuite s = CU_add_suite("event_stream", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "vectors", test_vectors) ||
      !CU_add_test(s, "round_trip", test_round_trip) ||
      !CU_add_test(s, "limits", test_limits) ||
      !CU_add_test(s, "bad_headers", test_bad_headers) ||
      !CU_add_test(s, "truncated_and_reset", test_truncated_and_reset) ||
      !CU_add_test(s, "big_buffer_kept_while_big_messages_come",
                   test_big_buffer_kept_while_big_messages_come) ||
      !CU_add_test(s, "parts", test_parts) ||
      !CU_add_test(s, "encoder_errors", test_encoder_errors) ||
      !CU_add_test(s, "failmalloc", test_failmalloc)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
