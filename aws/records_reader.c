/*
 * SubscribeToShardEvent payloads without a JSON tree (see records_reader.h): a
 * recursive-descent reader over the bytes that keeps what the EFO reader
 * needs and checks, then skips, the rest.
 */
#include "aws/records_reader.h"

#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include "base/cpu.h"
#ifdef KEFO_CPU_X86_DISPATCH
#define KEFO_STS_AVX2 1
#include <immintrin.h>
#endif

#include "base/error.h"
#include "base/json_string.h"

typedef struct scan {
  const uint8_t *p, *start, *end;
  kefo_records_parser *parser;
  int depth;
} scan;

/* A string's bytes between its quotes, and whether it has escapes. */
typedef struct span {
  const uint8_t *s;
  size_t len;
  int escaped;
} span;

static int fail(scan *sc, const char *why) {
  sc->parser->error = why;
  sc->parser->error_offset = (size_t)(sc->p - sc->start);
  return KEFO_ERR_BAD_RESPONSE;
}

static void skip_ws(scan *sc) {
  while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' ||
                             *sc->p == '\n' || *sc->p == '\r')) {
    ++sc->p;
  }
}

/* Skips white space, then takes |c| if it is next. */
static int take(scan *sc, uint8_t c) {
  skip_ws(sc);
  if (sc->p < sc->end && *sc->p == c) {
    ++sc->p;
    return 1;
  }
  return 0;
}

/*
 * The length of the plain run at |p| (before |end|): bytes that are not a
 * quote, a backslash or a control character. Strings are mostly such
 * runs (a record's Data is its whole base64 text), so this goes 16 bytes
 * at a time with SSE2 where there is SSE2 (every x86-64), else 8 at a
 * time with the "has a zero byte" / "has a byte less than n" word tricks
 * (exact as to whether such a byte exists), then byte by byte.
 */
#ifdef KEFO_STS_AVX2
/* 32 bytes a step with AVX2, unrolled to 64. Returns the first stop byte
   (*found set), or where fewer than 32 bytes are left. */
__attribute__((target("avx2"))) static inline uint32_t
stop_mask_avx2(const uint8_t *p) {
  const __m256i quote = _mm256_set1_epi8('"'), bslash = _mm256_set1_epi8('\\');
  const __m256i ctl = _mm256_set1_epi8(0x1F);
  __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)p);
  __m256i hit = _mm256_or_si256(
      _mm256_or_si256(_mm256_cmpeq_epi8(v, quote),
                      _mm256_cmpeq_epi8(v, bslash)),
      _mm256_cmpeq_epi8(_mm256_max_epu8(v, ctl), ctl)); /* v <= 0x1F */
  return (uint32_t)_mm256_movemask_epi8(hit);
}

__attribute__((target("avx2"))) static const uint8_t *
plain_run_avx2(const uint8_t *p, const uint8_t *end, int *found) {
  while (end - p >= 64) {
    uint32_t a = stop_mask_avx2(p), b = stop_mask_avx2(p + 32);
    if ((a | b) != 0) {
      *found = 1;
      return p + (a ? __builtin_ctz(a) : 32 + __builtin_ctz(b));
    }
    p += 64;
  }
  if (end - p >= 32) {
    uint32_t a = stop_mask_avx2(p);
    if (a != 0) {
      *found = 1;
      return p + __builtin_ctz(a);
    }
    p += 32;
  }
  return p;
}

#endif

static const uint8_t *plain_run(const uint8_t *p, const uint8_t *end) {
#ifdef KEFO_STS_AVX2
  if (end - p >= 32 && kefo__cpu_has_avx2()) {
    int found = 0;
    p = plain_run_avx2(p, end, &found);
    if (found) {
      return p;
    }
  }
#endif
#if defined(__SSE2__)
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
  const __m128i ctl = _mm_set1_epi8(0x1F);

  while (end - p >= 16) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i hit = _mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
        _mm_cmpeq_epi8(_mm_max_epu8(v, ctl), ctl)); /* v <= 0x1F */
    int bits = _mm_movemask_epi8(hit);
    if (bits != 0) {
      return p + __builtin_ctz((unsigned)bits);
    }
    p += 16;
  }
#else
  const uint64_t ones = UINT64_C(0x0101010101010101);
  const uint64_t highs = UINT64_C(0x8080808080808080);

  while (end - p >= 8) {
    uint64_t v, q, b;
    memcpy(&v, p, 8);
    q = v ^ (ones * '"');
    b = v ^ (ones * '\\');
    if ((((q - ones) & ~q) | ((b - ones) & ~b) | ((v - ones * 0x20) & ~v)) &
        highs) {
      break;
    }
    p += 8;
  }
#endif
  while (p < end && *p != '"' && *p != '\\' && *p >= 0x20) {
    ++p;
  }
  return p;
}

/*
 * Reads a string at sc->p (its opening quote), checking its escapes: a
 * \u escape of a UTF-16 high surrogate must be followed by one of a low
 * surrogate, and a low one alone is refused. Control characters must be
 * escaped.
 */
static int read_string(scan *sc, span *out) {
  const uint8_t *p, *end = sc->end;
  const char *why;

  if (sc->p >= end || *sc->p != '"') {
    return fail(sc, "expected a string");
  }
  p = ++sc->p;
  out->s = p;
  out->escaped = 0;
  for (;;) {
    p = plain_run(p, end);
    if (p >= end) {
      sc->p = p;
      return fail(sc, "unterminated string");
    }
    if (*p == '"') {
      break;
    }
    if (*p < 0x20) {
      sc->p = p;
      return fail(sc, "control character in a string");
    }
    out->escaped = 1;
    /* Only the escape is decoded out of line: the plain runs around it,
       nearly all of a record, stay in plain_run. */
    if (kefo__json_string_unescape(&p, end, NULL, NULL, &why) != 0) {
      sc->p = p;
      return fail(sc, why);
    }
  }
  out->len = (size_t)(p - out->s);
  sc->p = p + 1;
  return 0;
}

/* Decodes a string checked by read_string into |d| (room for s->len
   bytes: decoding never lengthens). Returns the decoded length. */
static size_t decode(const span *s, uint8_t *d) {
  size_t n = 0;

  if (!s->escaped) {
    memcpy(d, s->s, s->len);
    return s->len;
  }
  /* read_string checked every escape, so this cannot fail. */
  (void)kefo__json_string_decode(d, &n, s->s, s->len, NULL);
  return n;
}

/*
 * Appends the decoded string and a NUL to the scratch, whose room was
 * reserved for the whole payload (a decoded string is never longer than
 * its text, and the NUL takes the place of a quote). Returns where.
 */
static const uint8_t *store(scan *sc, const span *s, size_t *len) {
  kefo_buf *b = &sc->parser->strings;
  uint8_t *d = b->data + b->len;

  *len = decode(s, d);
  d[*len] = '\0';
  b->len += *len + 1;
  return d;
}

/* Past the decimal digits at |p|. */
static const uint8_t *digits(const uint8_t *p, const uint8_t *end) {
  while (p < end && *p >= '0' && *p <= '9') {
    ++p;
  }
  return p;
}

/* Checks a number's grammar and converts it. */
static int read_number(scan *sc, double *out) {
  const uint8_t *p = sc->p, *end = sc->end, *s = p;
  char tmp[64];
  size_t n;

  if (p < end && *p == '-') {
    ++p;
  }
  if (p < end && *p == '0') {
    ++p;
  } else if (p < end && *p >= '1' && *p <= '9') {
    p = digits(p, end);
  } else {
    return fail(sc, "bad number");
  }
  if (p < end && *p == '.') {
    const uint8_t *q = digits(++p, end);
    if (q == p) {
      sc->p = p;
      return fail(sc, "bad number");
    }
    p = q;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    const uint8_t *q;
    ++p;
    if (p < end && (*p == '+' || *p == '-')) {
      ++p;
    }
    q = digits(p, end);
    if (q == p) {
      sc->p = p;
      return fail(sc, "bad number");
    }
    p = q;
  }
  n = (size_t)(p - s);
  if (n >= sizeof(tmp)) {
    return fail(sc, "number longer than 63 characters");
  }
  if (kefo__records_number(s, n, out) != 0) {
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    *out = strtod(tmp, NULL);
  }
  sc->p = p;
  return 0;
}

static int literal(scan *sc, const char *word) {
  size_t n = strlen(word);

  if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, word, n) != 0) {
    return fail(sc, "unexpected character");
  }
  sc->p += n;
  return 0;
}

/* A member's name and the colon after it; then white space is skipped,
   so sc->p is at the value. */
static int read_key(scan *sc, span *key) {
  int rv;

  skip_ws(sc);
  if ((rv = read_string(sc, key)) != 0) {
    return rv;
  }
  if (!take(sc, ':')) {
    return fail(sc, "expected ':'");
  }
  skip_ws(sc);
  return 0;
}

static int skip_value(scan *sc);

/* An object or array at sc->p; |member| skips or reads one element. */
static int skip_container(scan *sc, uint8_t close, int object) {
  int rv;

  if (++sc->depth > KEFO_STS_MAX_DEPTH) {
    return fail(sc, "nested too deep");
  }
  ++sc->p;
  if (take(sc, close)) {
    --sc->depth;
    return 0;
  }
  do {
    if (object) {
      span key;
      if ((rv = read_key(sc, &key)) != 0) {
        return rv;
      }
    }
    if ((rv = skip_value(sc)) != 0) {
      return rv;
    }
  } while (take(sc, ','));
  if (!take(sc, close)) {
    return fail(sc, object ? "expected ',' or '}'" : "expected ',' or ']'");
  }
  --sc->depth;
  return 0;
}

static int skip_value(scan *sc) {
  span s;
  double d;

  skip_ws(sc);
  if (sc->p >= sc->end) {
    return fail(sc, "unexpected end");
  }
  switch (*sc->p) {
  case '{':
    return skip_container(sc, '}', 1);
  case '[':
    return skip_container(sc, ']', 0);
  case '"':
    return read_string(sc, &s);
  case 't':
    return literal(sc, "true");
  case 'f':
    return literal(sc, "false");
  case 'n':
    return literal(sc, "null");
  default:
    if (*sc->p == '-' || (*sc->p >= '0' && *sc->p <= '9')) {
      return read_number(sc, &d);
    }
    return fail(sc, "unexpected character");
  }
}

/* Whether key |k| is |name| (|n| bytes; key_is gives a literal's
   length, so that no strlen runs per key: five keys a record, compared
   with up to four names each, made strlen 5% of reading 100 B records
   on kinesis-local, perf, path 5). */
#define key_is(sc, k, name) key_is_n((sc), (k), (name), sizeof(name) - 1)

static inline int key_is_n(scan *sc, const span *k, const char *name,
                           size_t n) {
  size_t d;
  uint8_t *tmp;

  if (!k->escaped) {
    return k->len == n && memcmp(k->s, name, n) == 0;
  }
  /*
   * An escaped name is compared decoded and as a C string (up to an
   * escaped NUL), as cJSON's lookup compares it. It is decoded into the
   * free end of the scratch, which has room for every byte of the
   * payload not yet stored; what is stored next overwrites it.
   */
  tmp = sc->parser->strings.data + sc->parser->strings.len;
  d = decode(k, tmp);
  return strnlen((const char *)tmp, d) == n && memcmp(tmp, name, n) == 0;
}

/* Reads a string member into the scratch; another type is skipped and
   leaves |*dst| NULL. */
static int string_member(scan *sc, const char **dst, size_t *len) {
  span s;
  size_t n;
  int rv;

  skip_ws(sc);
  if (sc->p >= sc->end || *sc->p != '"') {
    return skip_value(sc);
  }
  if ((rv = read_string(sc, &s)) != 0) {
    return rv;
  }
  *dst = (const char *)store(sc, &s, &n);
  if (len) {
    *len = n;
  }
  return 0;
}

/* Reads a number member (|*is| set to 1); another type is skipped. */
static int number_member(scan *sc, int *is, double *v) {
  skip_ws(sc);
  if (sc->p >= sc->end ||
      !(*sc->p == '-' || (*sc->p >= '0' && *sc->p <= '9'))) {
    return skip_value(sc);
  }
  *is = 1;
  return read_number(sc, v);
}

static int read_record(scan *sc, kefo_wire_record *r) {
  /* The first member of each name counts, whatever its type (as cJSON's
     lookup finds it); later ones are checked and skipped. */
  int rv, seen_data = 0, seen_seq = 0, seen_pk = 0, seen_at = 0, is_at = 0;
  double at = 0;

  memset(r, 0, sizeof(*r));
  skip_ws(sc);
  if (sc->p >= sc->end || *sc->p != '{') {
    return skip_value(sc); /* not an object: a record with nothing */
  }
  if (++sc->depth > KEFO_STS_MAX_DEPTH) {
    return fail(sc, "nested too deep");
  }
  ++sc->p;
  if (!take(sc, '}')) {
    do {
      span key;
      if ((rv = read_key(sc, &key)) != 0) {
        return rv;
      }
      if (key_is(sc, &key, "Data") && !seen_data) {
        seen_data = 1;
        if (sc->p < sc->end && *sc->p == '"') {
          span s;
          if ((rv = read_string(sc, &s)) != 0) {
            return rv;
          }
          if (s.escaped) {
            r->data = store(sc, &s, &r->data_len);
          } else {
            /* The common case: base64 straight from the payload. */
            r->data = s.s;
            r->data_len = s.len;
          }
        } else {
          rv = skip_value(sc);
        }
      } else if (key_is(sc, &key, "SequenceNumber") && !seen_seq) {
        seen_seq = 1;
        rv = string_member(sc, &r->seq, NULL);
      } else if (key_is(sc, &key, "PartitionKey") && !seen_pk) {
        seen_pk = 1;
        rv = string_member(sc, &r->pk, &r->pk_len);
      } else if (key_is(sc, &key, "ApproximateArrivalTimestamp") && !seen_at) {
        seen_at = 1;
        rv = number_member(sc, &is_at, &at);
      } else {
        rv = skip_value(sc);
      }
      if (rv != 0) {
        return rv;
      }
    } while (take(sc, ','));
    if (!take(sc, '}')) {
      return fail(sc, "expected ',' or '}'");
    }
  }
  --sc->depth;
  r->arrival_ms = is_at ? kefo__records_ms(at, 1000) : 0;
  return 0;
}

/*
 * One JSON array of objects at sc->p ('['), each read by |read_one| into
 * slot *n of the array *items (|size| bytes a slot, *cap slots, grown
 * by kefo__mem_grow); at most |max| elements.
 */
typedef int (*read_elem_fn)(scan *sc, void *slot);

static int read_array(kefo_records_parser *p, scan *sc, void **items,
                      size_t *cap, size_t size, size_t max,
                      read_elem_fn read_one, size_t *n) {
  int rv;

  *n = 0;
  if (++sc->depth > KEFO_STS_MAX_DEPTH) {
    return fail(sc, "nested too deep");
  }
  ++sc->p; /* '[' */
  if (take(sc, ']')) {
    --sc->depth;
    return 0;
  }
  do {
    if (*n == max) {
      return fail(sc, "more entries than the answer may carry");
    }
    if ((rv = kefo__mem_grow(p->mem, items, *n, cap, size)) != 0) {
      return rv;
    }
    if ((rv = read_one(sc, (char *)*items + *n * size)) != 0) {
      return rv;
    }
    ++*n;
  } while (take(sc, ','));
  if (!take(sc, ']')) {
    return fail(sc, "expected ',' or ']'");
  }
  --sc->depth;
  return 0;
}

static int read_record_slot(scan *sc, void *slot) {
  return read_record(sc, slot);
}

static int read_records(kefo_records_parser *p, scan *sc, size_t *n) {
  void *items = p->recs;
  int rv = read_array(p, sc, &items, &p->recs_cap, sizeof(*p->recs), SIZE_MAX,
                      read_record_slot, n);

  p->recs = items;
  return rv;
}

void kefo__records_parser_init(kefo_records_parser *p, const kefo_mem *mem) {
  memset(p, 0, sizeof(*p));
  p->mem = kefo__mem_or_default(mem);
  kefo__buf_init(&p->strings, p->mem);
}

void kefo__records_parser_free(kefo_records_parser *p) {
  kefo__buf_free(&p->strings);
  kefo__mem_free(p->mem, p->recs);
  kefo__mem_free(p->mem, p->put);
  p->recs = NULL;
  p->recs_cap = 0;
  p->put = NULL;
  p->put_cap = 0;
}

void kefo__records_parser_trim(kefo_records_parser *p, size_t keep) {
  if (p->strings.cap + p->recs_cap * sizeof(kefo_wire_record) +
          p->put_cap * sizeof(kefo_put_answer_entry) >
      keep) {
    kefo__records_parser_free(p);
    kefo__buf_init(&p->strings, p->mem);
  }
}

/* ContinuationSequenceNumber: a string, or null at the shard's end. */
static int read_continuation(scan *sc, kefo_records_event *out) {
  if (sc->end - sc->p >= 4 && memcmp(sc->p, "null", 4) == 0) {
    out->continuation_null = 1;
    sc->p += 4;
    return 0;
  }
  return string_member(sc, &out->continuation, NULL);
}

/* NextShardIterator (GetRecords): a string, or null; any other value is
   flagged as next_iterator_bad. */
static int read_next_iterator(scan *sc, kefo_records_event *out) {
  if (sc->end - sc->p >= 4 && memcmp(sc->p, "null", 4) == 0) {
    sc->p += 4;
    return 0;
  }
  out->next_iterator_bad = sc->p >= sc->end || *sc->p != '"';
  return string_member(sc, &out->next_iterator, NULL);
}

/* ChildShards: checked, and kept as JSON text when it is an array, for
   the reader to parse with cJSON. */
static int read_child_shards(scan *sc, kefo_records_event *out) {
  const uint8_t *s = sc->p;
  int rv = skip_value(sc);

  if (rv == 0 && *s == '[') {
    out->child_shards = s;
    out->child_shards_len = (size_t)(sc->p - s);
  }
  return rv;
}

/* Sets |sc| over |len| bytes at |text| at nesting |depth|, with no error
   yet and room in the scratch for every string of them decoded, so that
   pointers into it hold. Returns 0 or KEFO_ERR_NOMEM. */
static int begin_scan(kefo_records_parser *p, scan *sc, const uint8_t *text,
                      size_t len, int depth) {
  p->error = NULL;
  p->error_offset = 0;
  kefo__buf_reset(&p->strings);
  if (kefo__buf_reserve(&p->strings, len + 1) != 0) {
    return KEFO_ERR_NOMEM;
  }
  sc->p = sc->start = text;
  sc->end = text + len;
  sc->parser = p;
  sc->depth = depth;
  return 0;
}

int kefo__records_parse(kefo_records_parser *p, const uint8_t *json, size_t len,
                        kefo_records_event *out) {
  scan sc;
  size_t nrecs = 0;
  int rv, seen_records = 0, seen_cont = 0, seen_behind = 0, seen_children = 0;
  int seen_next = 0;
  double behind = 0;

  memset(out, 0, sizeof(*out));
  if (begin_scan(p, &sc, json, len, 1) != 0) {
    return KEFO_ERR_NOMEM;
  }
  if (!take(&sc, '{')) {
    return fail(&sc, "not a JSON object");
  }
  if (!take(&sc, '}')) {
    do {
      span key;
      if ((rv = read_key(&sc, &key)) != 0) {
        return rv;
      }
      if (key_is(&sc, &key, "Records") && !seen_records) {
        seen_records = 1;
        if (sc.p < sc.end && *sc.p == '[') {
          out->has_records = 1;
          rv = read_records(p, &sc, &nrecs);
        } else {
          rv = skip_value(&sc);
        }
      } else if (key_is(&sc, &key, "ContinuationSequenceNumber") &&
                 !seen_cont) {
        seen_cont = 1;
        rv = read_continuation(&sc, out);
      } else if (key_is(&sc, &key, "NextShardIterator") && !seen_next) {
        seen_next = 1;
        rv = read_next_iterator(&sc, out);
      } else if (key_is(&sc, &key, "MillisBehindLatest") && !seen_behind) {
        seen_behind = 1;
        rv = number_member(&sc, &out->has_behind, &behind);
      } else if (key_is(&sc, &key, "ChildShards") && !seen_children) {
        seen_children = 1;
        rv = read_child_shards(&sc, out);
      } else {
        rv = skip_value(&sc);
      }
      if (rv != 0) {
        return rv;
      }
    } while (take(&sc, ','));
    if (!take(&sc, '}')) {
      return fail(&sc, "expected ',' or '}'");
    }
  }
  skip_ws(&sc);
  if (sc.p != sc.end) {
    return fail(&sc, "bytes after the JSON object");
  }
  out->records = p->recs;
  out->nrecords = out->has_records ? nrecs : 0;
  out->behind_ms = out->has_behind ? kefo__records_ms(behind, 1) : 0;
  return 0;
}

int kefo__records_parse_some(kefo_records_parser *p, const uint8_t *text,
                             size_t len, kefo_records_event *out, size_t *used,
                             size_t *close_at) {
  const uint8_t *at;
  void *items;
  scan sc;
  size_t n = 0;
  int rv;

  memset(out, 0, sizeof(*out));
  *used = 0;
  *close_at = SIZE_MAX;
  /* Inside the event's object and its Records array. */
  if (begin_scan(p, &sc, text, len, 2) != 0) {
    return KEFO_ERR_NOMEM;
  }
  if (!take(&sc, ']')) {
    for (;;) {
      items = p->recs;
      rv = kefo__mem_grow(p->mem, &items, n, &p->recs_cap, sizeof(*p->recs));
      p->recs = items;
      if (rv != 0) {
        return rv;
      }
      skip_ws(&sc);
      at = sc.p;
      /* A record that does not read here may be one cut short by the
         end of the bytes: it is read again with more of them, and a bad
         one is refused by the parse of the event's end. */
      if (read_record(&sc, &p->recs[n]) != 0) {
        p->error = NULL;
        p->error_offset = 0;
        break;
      }
      skip_ws(&sc);
      if (*at != '{' && sc.p == sc.end) {
        break; /* not an object: a number may go on in the next bytes */
      }
      ++n;
      *used = (size_t)(sc.p - text);
      if (!take(&sc, ',')) {
        if (take(&sc, ']')) {
          *close_at = (size_t)(sc.p - 1 - text);
        }
        break;
      }
    }
  } else {
    *close_at = (size_t)(sc.p - 1 - text);
  }
  out->has_records = 1;
  out->records = p->recs;
  out->nrecords = n;
  return 0;
}

/* ---- PutRecords answers -------------------------------------------------- */

static int read_put_entry(scan *sc, kefo_put_answer_entry *e) {
  /* As in read_record: the first member of each name counts. */
  int rv, seen_seq = 0, seen_shard = 0, seen_code = 0, seen_msg = 0;

  memset(e, 0, sizeof(*e));
  skip_ws(sc);
  if (sc->p >= sc->end || *sc->p != '{') {
    return fail(sc, "a PutRecords entry is not an object");
  }
  if (++sc->depth > KEFO_STS_MAX_DEPTH) {
    return fail(sc, "nested too deep");
  }
  ++sc->p;
  if (!take(sc, '}')) {
    do {
      span key;
      if ((rv = read_key(sc, &key)) != 0) {
        return rv;
      }
      if (!seen_seq && key_is(sc, &key, "SequenceNumber")) {
        seen_seq = 1;
        rv = string_member(sc, &e->sequence_number, NULL);
      } else if (!seen_shard && key_is(sc, &key, "ShardId")) {
        seen_shard = 1;
        rv = string_member(sc, &e->shard_id, NULL);
      } else if (!seen_code && key_is(sc, &key, "ErrorCode")) {
        seen_code = 1;
        rv = string_member(sc, &e->error_code, NULL);
      } else if (!seen_msg && key_is(sc, &key, "ErrorMessage")) {
        seen_msg = 1;
        rv = string_member(sc, &e->error_message, NULL);
      } else {
        rv = skip_value(sc);
      }
      if (rv != 0) {
        return rv;
      }
    } while (take(sc, ','));
    if (!take(sc, '}')) {
      return fail(sc, "expected ',' or '}'");
    }
  }
  --sc->depth;
  return 0;
}

static int read_put_entry_slot(scan *sc, void *slot) {
  return read_put_entry(sc, slot);
}

static int read_put_entries(kefo_records_parser *p, scan *sc, size_t max,
                            size_t *n) {
  void *items = p->put;
  int rv = read_array(p, sc, &items, &p->put_cap, sizeof(*p->put), max,
                      read_put_entry_slot, n);

  p->put = items;
  return rv;
}

int kefo__records_put_answer_parse(kefo_records_parser *p, const uint8_t *json,
                                   size_t len, size_t max,
                                   const kefo_put_answer_entry **entries,
                                   size_t *n) {
  scan sc;
  int rv, seen_records = 0, has_records = 0;

  *entries = NULL;
  *n = 0;
  if (begin_scan(p, &sc, json, len, 1) != 0) {
    return KEFO_ERR_NOMEM;
  }
  if (!take(&sc, '{')) {
    return fail(&sc, "not a JSON object");
  }
  if (!take(&sc, '}')) {
    do {
      span key;
      if ((rv = read_key(&sc, &key)) != 0) {
        return rv;
      }
      if (!seen_records && key_is(&sc, &key, "Records")) {
        seen_records = 1;
        if (sc.p < sc.end && *sc.p == '[') {
          has_records = 1;
          rv = read_put_entries(p, &sc, max, n);
        } else {
          rv = skip_value(&sc);
        }
      } else {
        rv = skip_value(&sc);
      }
      if (rv != 0) {
        return rv;
      }
    } while (take(&sc, ','));
    if (!take(&sc, '}')) {
      return fail(&sc, "expected ',' or '}'");
    }
  }
  skip_ws(&sc);
  if (sc.p != sc.end) {
    return fail(&sc, "bytes after the JSON object");
  }
  if (!has_records) {
    sc.p = sc.start;
    return fail(&sc, "the PutRecords answer has no Records array");
  }
  *entries = p->put;
  return 0;
}
