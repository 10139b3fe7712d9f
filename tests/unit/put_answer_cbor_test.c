/*
 * PutRecords answers read straight from CBOR, against the JSON reader:
 * the same random answers written both ways (definite and indefinite
 * lengths, chunked strings, members in any order, members to skip) give
 * the same entries; then every way an answer can be wrong.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "aws/put_answer_cbor.h"
#include "base/cbor.h"
#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"

static uint32_t rng = 12345;

static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 17;
  rng ^= rng << 5;
  return rng % n;
}

/* Both forms of one answer, written side by side. */
typedef struct two {
  kefo_buf c, j;
} two;

static void text(two *t, const char *s) {
  size_t n = strlen(s);
  if (n > 2 && rnd(4) == 0) { /* chunked: an indefinite-length string */
    size_t cut = 1 + rnd((uint32_t)n - 1);
    kefo__buf_append_byte(&t->c, 0x7f);
    kefo__cbor_append_text(&t->c, s, cut);
    kefo__cbor_append_text(&t->c, s + cut, n - cut);
    kefo__buf_append_byte(&t->c, 0xff);
  } else {
    kefo__cbor_append_text(&t->c, s, n);
  }
  kefo__buf_append_byte(&t->j, '"');
  kefo__buf_append_str(&t->j, s);
  kefo__buf_append_byte(&t->j, '"');
}

/* A container's head: definite or not; returns whether it needs a break. */
static int open_c(two *t, unsigned major, size_t n) {
  int indef = rnd(3) == 0;
  if (indef) {
    kefo__buf_append_byte(&t->c, (uint8_t)(major << 5 | 31));
  } else {
    kefo__cbor_append_head(&t->c, major, n);
  }
  kefo__buf_append_byte(&t->j, major == KEFO_CBOR_MAP ? '{' : '[');
  return indef;
}

static void close_c(two *t, unsigned major, int indef) {
  if (indef) {
    kefo__buf_append_byte(&t->c, 0xff);
  }
  kefo__buf_append_byte(&t->j, major == KEFO_CBOR_MAP ? '}' : ']');
}

static void comma(two *t, size_t i) {
  if (i > 0) {
    kefo__buf_append_byte(&t->j, ',');
  }
}

/* A member value to be skipped: a number, null, a float, nested. */
static void junk(two *t, int depth) {
  switch (depth > 2 ? rnd(3) : rnd(5)) {
  case 0:
    kefo__cbor_append_head(&t->c, KEFO_CBOR_UINT, 70000);
    kefo__buf_append_str(&t->j, "70000");
    break;
  case 1:
    kefo__buf_append_byte(&t->c, 0xf6);
    kefo__buf_append_str(&t->j, "null");
    break;
  case 2: {
    static const uint8_t half[] = {0xf9, 0x3e, 0x00}; /* 1.5 */
    kefo__buf_append(&t->c, half, 3);
    kefo__buf_append_str(&t->j, "1.5");
    break;
  }
  case 3: {
    int indef = open_c(t, KEFO_CBOR_ARRAY, 2);
    junk(t, depth + 1);
    comma(t, 1);
    text(t, "x");
    close_c(t, KEFO_CBOR_ARRAY, indef);
    break;
  }
  default: {
    int indef = open_c(t, KEFO_CBOR_MAP, 1);
    text(t, "SequenceNumber"); /* a name that counts only in an entry */
    kefo__buf_append_byte(&t->j, ':');
    junk(t, depth + 1);
    close_c(t, KEFO_CBOR_MAP, indef);
    break;
  }
  }
}

static void member(two *t, size_t i, const char *k, const char *v) {
  comma(t, i);
  text(t, k);
  kefo__buf_append_byte(&t->j, ':');
  if (v) {
    text(t, v);
  } else {
    junk(t, 0);
  }
}

static void write_entry(two *t, size_t k) {
  char seq[64], shard[32], msg[64];
  const char *names[4], *vals[4];
  size_t n = 0, i;
  int indef;

  snprintf(seq, sizeof(seq), "4963%052zu", k * 7919);
  snprintf(shard, sizeof(shard), "shardId-%012zu", k % 7);
  snprintf(msg, sizeof(msg), "Rate exceeded for shard %zu \xc3\xa9", k);
  if (rnd(5) == 0) {
    names[n] = "ErrorCode";
    vals[n++] = "ProvisionedThroughputExceededException";
    names[n] = "ErrorMessage";
    vals[n++] = msg;
  } else {
    names[n] = "SequenceNumber";
    vals[n++] = seq;
    names[n] = "ShardId";
    vals[n++] = shard;
  }
  if (rnd(3) == 0) {
    names[n] = "Other";
    vals[n++] = NULL;
  }
  for (i = n; i > 1; --i) { /* members in any order */
    size_t j = rnd((uint32_t)i);
    const char *a = names[i - 1], *b = vals[i - 1];
    names[i - 1] = names[j];
    vals[i - 1] = vals[j];
    names[j] = a;
    vals[j] = b;
  }
  indef = open_c(t, KEFO_CBOR_MAP, n);
  for (i = 0; i < n; ++i) {
    member(t, i, names[i], vals[i]);
  }
  close_c(t, KEFO_CBOR_MAP, indef);
}

static void write_answer(two *t, size_t entries) {
  int before = rnd(2), after = rnd(3), indef, aindef;
  size_t i, m = 0;

  kefo__buf_reset(&t->c);
  kefo__buf_reset(&t->j);
  indef = open_c(t, KEFO_CBOR_MAP, 1 + (size_t)before + (size_t)after);
  if (before) {
    member(t, m++, "FailedRecordCount", NULL);
  }
  comma(t, m++);
  text(t, "Records");
  kefo__buf_append_byte(&t->j, ':');
  aindef = open_c(t, KEFO_CBOR_ARRAY, entries);
  for (i = 0; i < entries; ++i) {
    comma(t, i);
    write_entry(t, i);
  }
  close_c(t, KEFO_CBOR_ARRAY, aindef);
  if (after) {
    member(t, m++, "EncryptionType", "KMS");
  }
  if (after > 1) {
    member(t, m++, "Other", NULL);
  }
  close_c(t, KEFO_CBOR_MAP, indef);
}

static int same_str(const char *a, const char *b) {
  return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void test_against_json(void) {
  kefo_records_parser pc, pj;
  two t;
  int round;

  kefo__buf_init(&t.c, NULL);
  kefo__buf_init(&t.j, NULL);
  kefo__records_parser_init(&pc, NULL);
  kefo__records_parser_init(&pj, NULL);
  for (round = 0; round < 300; ++round) {
    const kefo_put_answer_entry *ec, *ej;
    size_t n = round < 10 ? (size_t)round : 1 + rnd(500), nc = 0, nj = 0, i;
    int rc, rj;
    write_answer(&t, n);
    rc = kefo__put_answer_parse_any(&pc, t.c.data, t.c.len, 500, &ec, &nc);
    rj = kefo__put_answer_parse_any(&pj, t.j.data, t.j.len, 500, &ej, &nj);
    CU_ASSERT_EQUAL(rc, 0);
    CU_ASSERT_EQUAL(rj, 0);
    if (rc != 0 || rj != 0) {
      fprintf(stderr, "\nround %d: %s / %s at %zu\n", round, rc ? pc.error : "",
              rj ? pj.error : "", pc.error_offset);
      break;
    }
    CU_ASSERT_EQUAL(nc, n);
    CU_ASSERT_EQUAL(nj, n);
    for (i = 0; i < n && i < nc && i < nj; ++i) {
      CU_ASSERT(same_str(ec[i].sequence_number, ej[i].sequence_number));
      CU_ASSERT(same_str(ec[i].shard_id, ej[i].shard_id));
      CU_ASSERT(same_str(ec[i].error_code, ej[i].error_code));
      CU_ASSERT(same_str(ec[i].error_message, ej[i].error_message));
      CU_ASSERT((ec[i].error_code == NULL) != (ec[i].shard_id == NULL));
    }
    /* Every cut short answer is refused, never read past. */
    if (round < 20) {
      size_t cut;
      for (cut = 0; cut < t.c.len; ++cut) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, t.c.data, cut);
        CU_ASSERT_EQUAL(
            kefo__put_answer_parse_cbor(&pc, copy, cut, 500, &ec, &nc),
            KEFO_ERR_BAD_RESPONSE);
        free(copy);
      }
    }
  }
  kefo__records_parser_free(&pc);
  kefo__records_parser_free(&pj);
  kefo__buf_free(&t.c);
  kefo__buf_free(&t.j);
}

/* |hex| is refused, naming |what|. */
static void refused(const char *hex, const char *what) {
  kefo_records_parser p;
  const kefo_put_answer_entry *e;
  uint8_t in[256];
  size_t n = 0, got;
  unsigned v;

  while (hex[0] && hex[1] && sscanf(hex, "%2x", &v) == 1) {
    in[n++] = (uint8_t)v;
    hex += 2;
  }
  kefo__records_parser_init(&p, NULL);
  CU_ASSERT_EQUAL(kefo__put_answer_parse_cbor(&p, in, n, 2, &e, &got),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT_PTR_NOT_NULL(p.error);
  CU_ASSERT(p.error && strstr(p.error, what) != NULL);
  if (p.error == NULL || strstr(p.error, what) == NULL) {
    fprintf(stderr, "\nwant '%s', got '%s'\n", what, p.error);
  }
  kefo__records_parser_free(&p);
}

static void test_malformed(void) {
  refused("", "ends inside an item");
  refused("80", "not a CBOR map");
  refused("a0", "no Records array");
  refused("a1675265636f726473", "ends inside an item"); /* no value */
  refused("a1675265636f72647301", "no Records array");
  refused("a1675265636f7264738101", "not a map");
  /* Three entries where the call sent two (max 2 here). */
  refused("a1675265636f72647383a0a0a0", "more entries than the call sent");
  refused("a1675265636f7264739fa0a0a0ff", "more entries than the call sent");
  refused("a1675265636f72647381a1675368617264496462610062", "NUL");
  refused("a1675265636f72647381a101a0", "map key is not a text string");
  refused("a1675265636f7264739a00ffffff", "more entries than the bytes");
  refused("a1675265636f72647381bb00000000ffffffff", "more members than");
  refused("a1675265636f72647380ff", "bytes after the CBOR map");
  refused("a1675265636f7264738180", "not a map");
  refused("a1675265636f72647381a1675368617264496479", "ends inside a head");
  refused("a1675265636f72647381a16753686172644964650102", "longer than");
  refused("a1675265636f72647381a16753686172644964"
          "7f6161"
          "01"
          "ff",
          "not a definite string of its type");
  refused("a1675265636f72647381bf6753686172644964", "ends inside an item");
  refused("a1675265636f72647381bf61781cff", "reserved additional");
}

/* A NUL anywhere in a string is refused, at every length to 70 (the
   eight-byte steps of the check and their tails) and every position, in
   a definite string and in a chunked one; without it the string is
   read whole. */
static void test_nul_anywhere(void) {
  kefo_records_parser p;
  const kefo_put_answer_entry *e;
  char want[72];
  size_t len, at, n, checked = 0;
  int chunked, nul;

  kefo__records_parser_init(&p, NULL);
  for (chunked = 0; chunked <= 1; chunked++) {
    for (len = 1; len <= 70; len++) {
      for (at = 0; at <= len; at++) {
        kefo_buf c;
        int rv;

        nul = at < len; /* at == len: no NUL */
        memset(want, 'a' + (int)(len % 26), len);
        if (nul) {
          want[at] = '\0';
        }
        kefo__buf_init(&c, NULL);
        kefo__buf_append(&c, (const uint8_t *)"\xa1\x67Records\x81\xa1", 11);
        kefo__cbor_append_text(&c, "ShardId", 7);
        if (chunked && len > 1) {
          kefo__buf_append_byte(&c, 0x7f);
          kefo__cbor_append_text(&c, want, len / 2);
          kefo__cbor_append_text(&c, want + len / 2, len - len / 2);
          kefo__buf_append_byte(&c, 0xff);
        } else {
          kefo__cbor_append_text(&c, want, len);
        }
        rv = kefo__put_answer_parse_cbor(&p, c.data, c.len, 500, &e, &n);
        if (nul) {
          CU_ASSERT_EQUAL(rv, KEFO_ERR_BAD_RESPONSE);
          CU_ASSERT(p.error && strstr(p.error, "NUL") != NULL);
        } else {
          want[len] = '\0';
          CU_ASSERT_EQUAL_FATAL(rv, 0);
          CU_ASSERT_EQUAL(n, 1);
          CU_ASSERT_STRING_EQUAL(e[0].shard_id, want);
        }
        kefo__buf_free(&c);
        checked++;
      }
    }
  }
  CU_ASSERT_EQUAL(checked, 2 * (70 * 71 / 2 + 70));
  kefo__records_parser_free(&p);
}

/* Entry values that are not text are skipped as absent, as in JSON. */
static void test_types(void) {
  static const uint8_t in[] = {0xa1, 0x67, 'R',  'e',  'c', 'o', 'r', 'd', 's',
                               0x81, 0xa2, 0x67, 'S',  'h', 'a', 'r', 'd', 'I',
                               'd',  0x01, 0x69, 'E',  'r', 'r', 'o', 'r', 'C',
                               'o',  'd',  'e',  0x62, 'o', 'k'};
  kefo_records_parser p;
  const kefo_put_answer_entry *e;
  size_t n;

  kefo__records_parser_init(&p, NULL);
  CU_ASSERT_EQUAL_FATAL(
      kefo__put_answer_parse_cbor(&p, in, sizeof(in), 500, &e, &n), 0);
  CU_ASSERT_EQUAL(n, 1);
  CU_ASSERT_PTR_NULL(e[0].shard_id);
  CU_ASSERT_STRING_EQUAL(e[0].error_code, "ok");
  kefo__records_parser_free(&p);
}

/* Out of memory at each allocation: KEFO_ERR_NOMEM, nothing leaked. */
static int failmalloc_scenario(const kefo_mem *mem, void *arg) {
  const two *t = arg;
  kefo_records_parser p;
  const kefo_put_answer_entry *e;
  size_t n = 0;
  int rv;

  kefo__records_parser_init(&p, mem);
  rv = kefo__put_answer_parse_cbor(&p, t->c.data, t->c.len, 500, &e, &n);
  kefo__records_parser_free(&p);
  CU_ASSERT(rv == 0 || rv == KEFO_ERR_NOMEM);
  if (rv == 0) {
    CU_ASSERT_EQUAL(n, 300);
  }
  return rv;
}

static void test_failmalloc(void) {
  two t;

  kefo__buf_init(&t.c, NULL);
  kefo__buf_init(&t.j, NULL);
  write_answer(&t, 300);
  kefo_failmalloc_run(failmalloc_scenario, &t);
  kefo__buf_free(&t.c);
  kefo__buf_free(&t.j);
}

int kefo_add_put_answer_cbor_suite(void) {
  CU_pSuite s = CU_add_suite("put_answer_cbor", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "against_json", test_against_json) ||
      !CU_add_test(s, "malformed", test_malformed) ||
      !CU_add_test(s, "nul_anywhere", test_nul_anywhere) ||
      !CU_add_test(s, "types", test_types) ||
      !CU_add_test(s, "failmalloc", test_failmalloc)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
