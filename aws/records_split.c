/*
 * Runs of whole records cut from a SubscribeToShardEvent payload as it
 * arrives. The scanner follows the payload's top level only, up to the
 * '[' of Records; strings there are crossed with memchr. Inside Records
 * the records parser reads the records once, and says where the last
 * whole one ends.
 */
#include "aws/records_split.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <kefo/kefo.h>

/* What each run's text starts with; its end is "]}". */
static const char RUN_PREFIX[] = "{\"Records\":[";
#define RUN_PREFIX_LEN (sizeof(RUN_PREFIX) - 1)

enum {
  S_START,        /* before the top-level '{' */
  S_KEY_OR_END,   /* after '{' or ',': a member's key, or '}' */
  S_KEY,          /* inside a key */
  S_COLON,        /* after a key */
  S_VALUE,        /* before a member's value */
  S_SKIP,         /* inside a member's value that is not Records */
  S_SKIP_STR,     /* inside a string of that value */
  S_SCALAR,       /* inside a number, true, false or null */
  S_AFTER_MEMBER, /* after a value: ',' or '}' */
  S_WHOLE,        /* Records not found as expected: kept whole */
  S_RECORDS,      /* inside Records: read by the records parser */
  S_TAIL          /* after Records: kept as it comes */
};

/* After a run: what must come before the next record (strip_comma). */
enum { STRIP_NONE, STRIP_COMMA, STRIP_RECORD };

/* A buffer that grew past this many runs' worth is freed between
   payloads: one odd event does not pin its size. */
#define RETAIN_RUNS 4

void kefo__records_split_init(kefo_records_split *s, const kefo_mem *mem,
                              size_t run_min) {
  memset(s, 0, sizeof(*s));
  kefo__buf_init(&s->buf, mem);
  kefo__buf_init(&s->head, mem);
  kefo__buf_init(&s->tail, mem);
  kefo__buf_init(&s->out, mem);
  s->run_min = run_min ? run_min : 1;
}

void kefo__records_split_free(kefo_records_split *s) {
  kefo__buf_free(&s->buf);
  kefo__buf_free(&s->head);
  kefo__buf_free(&s->tail);
  kefo__buf_free(&s->out);
}

static void reset_buf(kefo_buf *b, size_t keep) {
  if (b->cap > keep) {
    kefo__buf_free(b);
  }
  kefo__buf_reset(b);
}

void kefo__records_split_begin(kefo_records_split *s) {
  size_t keep = RETAIN_RUNS * s->run_min;

  reset_buf(&s->buf, keep);
  reset_buf(&s->head, 64 * 1024);
  reset_buf(&s->tail, 64 * 1024);
  reset_buf(&s->out, keep);
  s->state = S_START;
  s->depth = 0;
  s->records = 0;
  s->strip = STRIP_NONE;
  s->scan = 0;
  s->run_end = 0;
  s->next_try = s->run_min;
  s->base = 0;
  s->lent = 0;
  s->runs = 0;
  s->error = NULL;
  s->error_offset = 0;
}

static int is_ws(uint8_t c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/*
 * The end of the string whose bytes start at |i| (after its opening
 * quote): the index of its closing quote, or |len| when it has not come
 * yet. A quote after an odd number of backslashes is escaped; the
 * opening quote bounds the count.
 */
static size_t string_end(const uint8_t *d, size_t i, size_t len) {
  while (i < len) {
    const uint8_t *q = NULL;
    size_t k, back = 0;

#if defined(__SSE2__)
    /* Most strings of a record are short (its member names, a sequence
       number, a key): the first 32 bytes are looked at here, without a
       call to memchr (bench_wire's "records split" row: 3,770-3,920 MB/s
       without, 4,170-4,250 with; finding the bytes between strings the
       same way was slower, 3,000-3,270: they are one or two). */
    if (len - i >= 32) {
      const __m128i quote = _mm_set1_epi8('"');
      unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
          _mm_loadu_si128((const __m128i *)(const void *)(d + i)), quote));
      if (m == 0) {
        m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
                _mm_loadu_si128((const __m128i *)(const void *)(d + i + 16)),
                quote))
            << 16;
      }
      if (m != 0) {
        q = d + i + __builtin_ctz(m);
      }
    }
#endif
    if (q == NULL) {
      q = memchr(d + i, '"', len - i);
    }
    if (q == NULL) {
      return len;
    }
    k = (size_t)(q - d);
    while (d[k - 1 - back] == '\\') {
      ++back;
    }
    if (back % 2 == 0) {
      return k;
    }
    i = k + 1;
  }
  return len;
}

/* Records was found: the bytes before its '[' (at |i|) become the head,
   the buffer the first run. */
static int enter_records(kefo_records_split *s, size_t i) {
  kefo_buf *b = &s->buf;
  size_t rest = b->len - (i + 1);

  if (kefo__buf_append(&s->head, b->data, i) != 0 ||
      kefo__buf_reserve(b, RUN_PREFIX_LEN + 2) != 0) {
    return KEFO_ERR_NOMEM;
  }
  memmove(b->data + RUN_PREFIX_LEN, b->data + i + 1, rest);
  memcpy(b->data, RUN_PREFIX, RUN_PREFIX_LEN);
  b->len = RUN_PREFIX_LEN + rest;
  s->base = i + 1;
  s->state = S_RECORDS;
  s->scan = RUN_PREFIX_LEN;
  return 0;
}

/* Records ended at |i| (its ']'): that and what follows is the tail. */
static int enter_tail(kefo_records_split *s, size_t i) {
  kefo_buf *b = &s->buf;

  if (kefo__buf_append(&s->tail, b->data + i, b->len - i) != 0) {
    return KEFO_ERR_NOMEM;
  }
  b->len = i;
  s->state = S_TAIL;
  s->scan = i;
  return 0;
}

/* Scans the top level, before Records: returns at the '[' of Records,
   or when the bytes run out. */
static int scan_top(kefo_records_split *s) {
  const uint8_t *d = s->buf.data;
  size_t len = s->buf.len, i = s->scan;

  while (i < len && s->state < S_WHOLE) {
    uint8_t c = d[i];

    switch (s->state) {
    case S_START:
      if (c == '{') {
        s->state = S_KEY_OR_END;
      } else if (!is_ws(c)) {
        s->state = S_WHOLE;
      }
      ++i;
      break;
    case S_KEY_OR_END:
      if (c == '"') {
        s->state = S_KEY;
        s->key_at = i + 1;
      } else if (!is_ws(c)) {
        s->state = S_WHOLE; /* '}' (no Records) or not JSON */
      }
      ++i;
      break;
    case S_KEY:
      i = string_end(d, i, len);
      if (i < len) {
        s->records =
            i - s->key_at == 7 && memcmp(d + s->key_at, "Records", 7) == 0;
        /* An escaped key may spell Records: the parser would take that
           member (the first of a name counts), so the scanner must not
           take a later one. */
        s->state =
            memchr(d + s->key_at, '\\', i - s->key_at) ? S_WHOLE : S_COLON;
        ++i;
      }
      break;
    case S_COLON:
      if (c == ':') {
        s->state = S_VALUE;
      } else if (!is_ws(c)) {
        s->state = S_WHOLE;
      }
      ++i;
      break;
    case S_VALUE:
      if (is_ws(c)) {
        ++i;
      } else if (c == '[' && s->records) {
        s->scan = i;
        return enter_records(s, i);
      } else if (c == '"') {
        s->depth = 0;
        s->state = S_SKIP_STR;
        ++i;
      } else if (c == '{' || c == '[') {
        s->depth = 1;
        s->state = S_SKIP;
        ++i;
      } else if (s->records) {
        s->state = S_WHOLE; /* Records is not an array */
      } else {
        s->state = S_SCALAR;
      }
      break;
    case S_SKIP:
      if (c == '"') {
        s->state = S_SKIP_STR;
      } else if (c == '{' || c == '[') {
        ++s->depth;
      } else if ((c == '}' || c == ']') && --s->depth == 0) {
        s->state = S_AFTER_MEMBER;
      }
      ++i;
      break;
    case S_SKIP_STR:
      i = string_end(d, i, len);
      if (i < len) {
        s->state = s->depth ? S_SKIP : S_AFTER_MEMBER;
        ++i;
      }
      break;
    case S_SCALAR:
      if (c == ',' || c == '}' || is_ws(c)) {
        s->state = S_AFTER_MEMBER;
      } else {
        ++i;
      }
      break;
    case S_AFTER_MEMBER:
      if (c == ',') {
        s->state = S_KEY_OR_END;
      } else if (!is_ws(c)) {
        s->state = S_WHOLE; /* '}': the end, and no Records */
      }
      ++i;
      break;
    default:
      s->state = S_WHOLE;
      break;
    }
  }
  s->scan = i;
  return 0;
}

int kefo__records_split_feed(kefo_records_split *s, const uint8_t *in,
                             size_t len) {
  if (s->error) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  if (s->state == S_TAIL) {
    return kefo__buf_append(&s->tail, in, len);
  }
  /* Two more for the "]}" a run's text ends with. */
  if (kefo__buf_reserve(&s->buf, len + 2) != 0) {
    return KEFO_ERR_NOMEM;
  }
  memcpy(s->buf.data + s->buf.len, in, len);
  s->buf.len += len;
  return s->state < S_WHOLE ? scan_top(s) : 0;
}

/* A run's first record has no ',' before it: the one after the last
   run's records is blanked once it has come (white space may be before
   it). What the parser, reading each run apart, cannot see is refused
   here: anything but that ',' or the array's ']' after a run, and a ','
   with no record after it. */
static void strip_comma(kefo_records_split *s) {
  kefo_buf *b = &s->buf;
  size_t k;

  for (k = RUN_PREFIX_LEN; s->strip != STRIP_NONE && k < b->len; ++k) {
    uint8_t c = b->data[k];

    if (is_ws(c)) {
      continue;
    }
    if (s->strip == STRIP_COMMA && c == ',') {
      b->data[k] = ' ';
      s->strip = STRIP_RECORD;
      continue;
    }
    if (s->strip == STRIP_COMMA && c != ']') {
      s->error = "Records with no ',' between two records";
    } else if (s->strip == STRIP_RECORD && c == ']') {
      s->error = "Records with a ',' before its ']'";
    }
    if (s->error) {
      s->error_offset = s->base + (k - RUN_PREFIX_LEN);
    }
    s->strip = STRIP_NONE;
  }
}

int kefo__records_split_run(kefo_records_split *s, kefo_records_parser *p,
                            const uint8_t **json, size_t *len,
                            kefo_records_event *ev) {
  kefo_buf *b = &s->buf;
  size_t have, used, close_at;
  uint8_t *end;
  int rv;

  if (s->error) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  if (s->lent || s->state != S_RECORDS) {
    return 0;
  }
  have = b->len - RUN_PREFIX_LEN;
  if (have < s->next_try) {
    return 0;
  }
  strip_comma(s);
  if (s->error) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  rv = kefo__records_parse_some(p, b->data + RUN_PREFIX_LEN, have, ev, &used,
                                &close_at);
  if (rv != 0) {
    return rv;
  }
  if (close_at != SIZE_MAX && enter_tail(s, RUN_PREFIX_LEN + close_at) != 0) {
    return KEFO_ERR_NOMEM;
  }
  if (used == 0) {
    s->next_try = 2 * have > s->run_min ? 2 * have : s->run_min;
    return 0;
  }
  s->next_try = s->run_min;
  s->run_end = RUN_PREFIX_LEN + used;
  /* The records are closed in place: the two bytes after the last one
     (room reserved by feed) are kept and put back by taken. */
  end = b->data + s->run_end;
  memcpy(s->saved, end, 2);
  end[0] = ']';
  end[1] = '}';
  s->lent = 1;
  *json = b->data;
  *len = s->run_end + 2;
  return 1;
}

void kefo__records_split_taken(kefo_records_split *s) {
  kefo_buf *b = &s->buf;
  size_t rest;

  if (!s->lent) {
    return;
  }
  s->lent = 0;
  memcpy(b->data + s->run_end, s->saved, 2);
  rest = b->len - s->run_end;
  memmove(b->data + RUN_PREFIX_LEN, b->data + s->run_end, rest);
  b->len = RUN_PREFIX_LEN + rest;
  s->base += s->run_end - RUN_PREFIX_LEN;
  s->run_end = 0;
  ++s->runs;
  s->strip = STRIP_COMMA;
  strip_comma(s);
}

int kefo__records_split_end(kefo_records_split *s, const uint8_t **json,
                            size_t *len) {
  kefo_buf *o = &s->out;

  kefo__records_split_taken(s);
  strip_comma(s);
  if (s->error) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  if (s->state < S_RECORDS) {
    *json = s->buf.data;
    *len = s->buf.len;
    return 0;
  }
  kefo__buf_reset(o);
  if (kefo__buf_reserve(o, s->head.len + 1 + s->buf.len + s->tail.len) != 0) {
    return KEFO_ERR_NOMEM;
  }
  kefo__buf_append(o, s->head.data, s->head.len);
  kefo__buf_append_byte(o, '[');
  kefo__buf_append(o, s->buf.data + RUN_PREFIX_LEN,
                   s->buf.len - RUN_PREFIX_LEN);
  kefo__buf_append(o, s->tail.data, s->tail.len);
  *json = o->data;
  *len = o->len;
  return 0;
}
