/*
 * A PutRecords answer in CBOR, read in one pass (see put_answer_cbor.h).
 * Every length is checked against the bytes left before it is used;
 * strings go to the parser's scratch, reserved once at the answer's
 * length (a string takes no more bytes there, with its NUL, than its
 * head and bytes took in the answer), so entries' pointers stay valid.
 */
#include "aws/put_answer_cbor.h"

#include <string.h>

#include "base/cbor.h"
#include "base/mem.h"
#include "kefo/kefo.h"

/* Answers nest 3 deep; what is skipped may nest (tags count as levels)
   as deep as kefo__cbor_to_json reads, so that no answer the JSON route
   would take is refused here (the fuzzer's second finding). */
#define SKIP_DEPTH KEFO_CBOR_MAX_DEPTH

typedef struct rd {
  kefo_records_parser *parser;
  const uint8_t *start, *p, *end;
} rd;

static int fail(rd *r, const uint8_t *at, const char *why) {
  r->parser->error = why;
  r->parser->error_offset = (size_t)(at - r->start);
  return KEFO_ERR_BAD_RESPONSE;
}

/* Whether |n| bytes at |p| hold a 0, eight at a time: (w - 0x01..) & ~w
   & 0x80.. is non-zero exactly when a byte of w is 0 (a borrow starts
   only at a 0 byte). The strings of an answer are 20 to 56 bytes, and
   memchr's call for each was 1.4% of a 1 KiB record's CPU (perf). */
static inline int has_nul(const uint8_t *p, size_t n) {
  const uint64_t ones = 0x0101010101010101u, highs = 0x8080808080808080u;
  uint64_t w;
  size_t i = 0;

  for (; i + 8 <= n; i += 8) {
    memcpy(&w, p + i, 8);
    if ((w - ones) & ~w & highs) {
      return 1;
    }
  }
  for (; i < n; i++) {
    if (p[i] == 0) {
      return 1;
    }
  }
  return 0;
}

/* The next item's head. One with its argument in its first byte, or in
   one byte after it (every head of an answer of 500 entries but the
   array's), is read here, as kefo__cbor_read_head reads it: that call
   per head, and the ones below per string and per tag, were half of the
   parse's 850 instructions an entry (callgrind, 1 KiB records). */
static inline int head(rd *r, kefo_cbor_head *h) {
  const uint8_t *at = r->p;
  const char *why;

  if (at < r->end && (*at & 31) <= 24 && ((*at & 31) < 24 || r->end - at > 1)) {
    h->major = *at >> 5;
    h->ai = *at & 31;
    h->indefinite = 0;
    if (h->ai < 24) {
      h->arg = h->ai;
      r->p = at + 1;
    } else {
      h->arg = at[1];
      r->p = at + 2;
    }
    return 0;
  }
  why = kefo__cbor_read_head(&r->p, r->end, h);
  return why ? fail(r, at, why) : 0;
}

static int skip(rd *r) {
  const uint8_t *at = r->p;
  const char *why = kefo__cbor_skip(&r->p, r->end, SKIP_DEPTH);

  return why ? fail(r, at, why) : 0;
}

/* Whether an indefinite-length array or map ends here (and consumes its
   break). */
static int at_break(rd *r) {
  if (r->p < r->end && *r->p == 0xff) {
    ++r->p;
    return 1;
  }
  return 0;
}

/* Passes over tags before an item: as kefo__cbor_to_json drops them, a
   tagged value reads as the value (found by the fuzzer, which tagged
   Records' array). */
static inline int untag(rd *r) {
  while (r->p < r->end && *r->p >> 5 == 6) {
    kefo_cbor_head h;
    int rv = head(r, &h);
    if (rv != 0) {
      return rv;
    }
  }
  return 0;
}

/* Reads the text string (head |h|, already read) into the scratch, NUL
   ended; |*out| points at it there. */
static int text(rd *r, const kefo_cbor_head *h, const uint8_t *at,
                const char **out) {
  kefo_buf *s = &r->parser->strings;
  size_t from = s->len, len;
  const uint8_t *data;
  const char *why;

  /* The scratch has room (see the top of the file): gathering into it
     does not move it, and a definite string is copied in (its bounds
     checked here, as kefo__cbor_read_string checks them). */
  if (!h->indefinite) {
    if (h->arg > (uint64_t)(r->end - r->p)) {
      return fail(r, at, "a string longer than the bytes left");
    }
    data = r->p;
    len = (size_t)h->arg;
    r->p += len;
    memcpy(s->data + s->len, data, len);
    s->len += len;
  } else if (kefo__cbor_read_string(&r->p, r->end, h, s, &data, &len, &why) !=
             0) {
    return fail(r, at, why);
  }
  if (has_nul(s->data + from, s->len - from)) {
    return fail(r, at, "a string holds a NUL byte");
  }
  s->data[s->len++] = '\0';
  *out = (const char *)s->data + from;
  return 0;
}

/* A map key: its bytes in the answer, or (a key of indefinite length,
   gathered from its chunks) at the free end of the scratch, where the
   next string stored overwrites it. Compared in place: copying each key
   and comparing it with strcmp was 9% of the CPU of plain 100 B records
   (memchr and strcmp, perf, path 6). */
typedef struct kview {
  const char *s;
  size_t len;
} kview;

#define KEY_IS(k, lit)                                                         \
  ((k).len == sizeof(lit) - 1 && memcmp((k).s, (lit), sizeof(lit) - 1) == 0)

static int key(rd *r, kview *k) {
  kefo_buf *s = &r->parser->strings;
  const uint8_t *at = r->p;
  kefo_cbor_head h;
  size_t mark = s->len;
  const char *copy;
  int rv = head(r, &h);

  if (rv != 0) {
    return rv;
  }
  if (h.major != KEFO_CBOR_TEXT) {
    return fail(r, at, "a map key is not a text string");
  }
  if (!h.indefinite) {
    if (h.arg > (uint64_t)(r->end - r->p)) {
      return fail(r, at, "a string longer than the bytes left");
    }
    k->s = (const char *)r->p;
    k->len = (size_t)h.arg;
    r->p += h.arg;
    return 0;
  }
  if ((rv = text(r, &h, at, &copy)) != 0) {
    return rv;
  }
  k->s = copy;
  k->len = s->len - mark - 1;
  s->len = mark; /* not kept */
  return 0;
}

/* Reads the value of a member named |name| into |*slot| when it is text
   and the first of its name (|*seen|); skips it otherwise. */
static int member(rd *r, const char **slot, int *seen) {
  kefo_cbor_head h;
  const uint8_t *at = r->p;
  int rv;

  if ((rv = untag(r)) != 0) {
    return rv;
  }
  at = r->p;
  if (*seen || r->p >= r->end || *r->p >> 5 != KEFO_CBOR_TEXT) {
    return skip(r);
  }
  *seen = 1;
  if ((rv = head(r, &h)) != 0) {
    return rv;
  }
  return text(r, &h, at, slot);
}

static int entry(rd *r, kefo_put_answer_entry *e) {
  int seen_seq = 0, seen_shard = 0, seen_code = 0, seen_msg = 0, rv;
  const uint8_t *at = r->p;
  kefo_cbor_head h;
  uint64_t i;

  memset(e, 0, sizeof(*e));
  if ((rv = untag(r)) != 0) {
    return rv;
  }
  at = r->p;
  if ((rv = head(r, &h)) != 0) {
    return rv;
  }
  if (h.major != KEFO_CBOR_MAP) {
    return fail(r, at, "a PutRecords entry is not a map");
  }
  if (!h.indefinite && h.arg > (uint64_t)(r->end - r->p) / 2) {
    return fail(r, at, "more members than the bytes left");
  }
  for (i = 0; h.indefinite ? !at_break(r) : i < h.arg; ++i) {
    kview k;
    if ((rv = key(r, &k)) != 0) {
      return rv;
    }
    if (KEY_IS(k, "SequenceNumber")) {
      rv = member(r, &e->sequence_number, &seen_seq);
    } else if (KEY_IS(k, "ShardId")) {
      rv = member(r, &e->shard_id, &seen_shard);
    } else if (KEY_IS(k, "ErrorCode")) {
      rv = member(r, &e->error_code, &seen_code);
    } else if (KEY_IS(k, "ErrorMessage")) {
      rv = member(r, &e->error_message, &seen_msg);
    } else {
      rv = skip(r);
    }
    if (rv != 0) {
      return rv;
    }
  }
  return 0;
}

static int records(rd *r, size_t max, size_t *n) {
  kefo_records_parser *p = r->parser;
  const uint8_t *at = r->p;
  kefo_cbor_head h;
  uint64_t i;
  int rv;

  if ((rv = head(r, &h)) != 0) {
    return rv;
  }
  if (!h.indefinite && h.arg > (uint64_t)(r->end - r->p)) {
    return fail(r, at, "more entries than the bytes left");
  }
  for (i = 0; h.indefinite ? !at_break(r) : i < h.arg; ++i) {
    void *v = p->put;
    if (i >= max) {
      return fail(r, r->p, "more entries than the call sent");
    }
    if (kefo__mem_grow(p->mem, &v, (size_t)i + 1, &p->put_cap,
                       sizeof(*p->put)) != 0) {
      return KEFO_ERR_NOMEM;
    }
    p->put = v;
    if ((rv = entry(r, &p->put[i])) != 0) {
      return rv;
    }
  }
  *n = (size_t)i;
  return 0;
}

int kefo__put_answer_parse_cbor(kefo_records_parser *p, const uint8_t *cbor,
                                size_t len, size_t max,
                                const kefo_put_answer_entry **entries,
                                size_t *n) {
  int rv, seen_records = 0, has_records = 0;
  kefo_cbor_head h;
  uint64_t i;
  rd r;

  *entries = NULL;
  *n = 0;
  p->error = NULL;
  p->error_offset = 0;
  kefo__buf_reset(&p->strings);
  if (kefo__buf_reserve(&p->strings, len + 1) != 0) {
    return KEFO_ERR_NOMEM;
  }
  r.parser = p;
  r.start = r.p = cbor;
  r.end = cbor + len;
  if ((rv = untag(&r)) != 0 || (rv = head(&r, &h)) != 0) {
    return rv;
  }
  if (h.major != KEFO_CBOR_MAP) {
    return fail(&r, cbor, "not a CBOR map");
  }
  if (!h.indefinite && h.arg > len / 2) {
    return fail(&r, cbor, "more members than the bytes left");
  }
  for (i = 0; h.indefinite ? !at_break(&r) : i < h.arg; ++i) {
    kview k;
    if ((rv = key(&r, &k)) != 0) {
      return rv;
    }
    if (!seen_records && KEY_IS(k, "Records")) {
      seen_records = 1;
      if ((rv = untag(&r)) != 0) {
        return rv;
      }
      if (r.p < r.end && *r.p >> 5 == KEFO_CBOR_ARRAY) {
        has_records = 1;
        rv = records(&r, max, n);
      } else {
        rv = skip(&r);
      }
    } else {
      rv = skip(&r);
    }
    if (rv != 0) {
      return rv;
    }
  }
  if (r.p != r.end) {
    return fail(&r, r.p, "bytes after the CBOR map");
  }
  if (!has_records) {
    return fail(&r, cbor, "the PutRecords answer has no Records array");
  }
  *entries = p->put;
  return 0;
}

int kefo__put_answer_parse_any(kefo_records_parser *p, const uint8_t *body,
                               size_t len, size_t max,
                               const kefo_put_answer_entry **entries,
                               size_t *n) {
  if (len > 0 && (*body >> 5 == KEFO_CBOR_MAP || *body >> 5 == 6)) {
    return kefo__put_answer_parse_cbor(p, body, len, max, entries, n);
  }
  return kefo__records_put_answer_parse(p, body, len, max, entries, n);
}
