/*
 * The JSON credentials document of the EC2 metadata service and the
 * ECS/EKS container endpoint, read by a small bounded scanner that keeps
 * the five members it wants and skips the rest, and the time format of
 * its Expiration (shared with STS).
 */
#include "aws/credentials.h"

#include <string.h>

#include "base/error.h"
#include "base/json_string.h"
#include "base/time.h"

/* Nesting the JSON skipper accepts in values it does not want. */
#define JSON_MAX_DEPTH 16

/* ---- Times ---- */

int kefo__credentials_parse_time(const char *s, size_t len, int64_t *ms) {
  /* What AWS has been seen to write, and all this parser took before
     base/time.c: leap seconds, fractions of any length; no space for the
     'T' and nothing before 1970, which no expiry can be. */
  return kefo__time_parse_iso8601(
             s, len, KEFO_TIME_LEAP_SECOND | KEFO_TIME_LONG_FRACTION, ms) == 0
             ? 0
             : KEFO_ERR_BAD_RESPONSE;
}

/* ---- The metadata JSON document ---- */

typedef struct json_reader {
  const uint8_t *p;
  const uint8_t *end;
  /* Decoded strings go here; never longer than their encoding. */
  char *out;
  size_t pos;
} json_reader;

static void json_ws(json_reader *r) {
  while (r->p < r->end &&
         (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r')) {
    ++r->p;
  }
}

/*
 * Reads the string at r->p (after its opening quote) and, when |keep|,
 * decodes it to r->out at r->pos, NUL-terminated; |*len| gets its decoded
 * length (0 when not kept). Escapes are checked while finding the closing
 * quote, so the decoding cannot fail.
 */
static int json_string(json_reader *r, int keep, size_t *len) {
  const uint8_t *s = r->p;

  for (;;) {
    if (r->p >= r->end || *r->p < 0x20) {
      return -1;
    }
    if (*r->p == '"') {
      break;
    }
    if (*r->p != '\\') {
      ++r->p;
    } else if (kefo__json_string_unescape(&r->p, r->end, NULL, NULL, NULL) !=
               0) {
      return -1;
    }
  }
  ++r->p;
  *len = 0;
  if (keep) {
    uint8_t *o = (uint8_t *)r->out + r->pos;
    (void)kefo__json_string_decode(o, len, s, (size_t)(r->p - 1 - s), NULL);
    o[*len] = '\0';
  }
  return 0;
}

static int json_skip(json_reader *r, int depth);

static int json_skip_container(json_reader *r, int depth, uint8_t close) {
  size_t len;
  int first = 1;

  if (depth > JSON_MAX_DEPTH) {
    return -1;
  }
  for (;;) {
    json_ws(r);
    if (r->p < r->end && *r->p == close && first) {
      ++r->p;
      return 0;
    }
    if (close == '}') {
      if (r->p >= r->end || *r->p != '"') {
        return -1;
      }
      ++r->p;
      if (json_string(r, 0, &len) != 0) {
        return -1;
      }
      json_ws(r);
      if (r->p >= r->end || *r->p != ':') {
        return -1;
      }
      ++r->p;
    }
    if (json_skip(r, depth + 1) != 0) {
      return -1;
    }
    json_ws(r);
    if (r->p >= r->end) {
      return -1;
    }
    if (*r->p == ',') {
      ++r->p;
      first = 0;
      continue;
    }
    if (*r->p == close) {
      ++r->p;
      return 0;
    }
    return -1;
  }
}

static int json_skip(json_reader *r, int depth) {
  size_t len;
  const uint8_t *start;

  json_ws(r);
  if (r->p >= r->end) {
    return -1;
  }
  switch (*r->p) {
  case '"':
    ++r->p;
    return json_string(r, 0, &len);
  case '{':
    ++r->p;
    return json_skip_container(r, depth, '}');
  case '[':
    ++r->p;
    return json_skip_container(r, depth, ']');
  default:
    break;
  }
  if ((size_t)(r->end - r->p) >= 4 &&
      (memcmp(r->p, "true", 4) == 0 || memcmp(r->p, "null", 4) == 0)) {
    r->p += 4;
    return 0;
  }
  if ((size_t)(r->end - r->p) >= 5 && memcmp(r->p, "false", 5) == 0) {
    r->p += 5;
    return 0;
  }
  start = r->p;
  while (r->p < r->end &&
         ((*r->p >= '0' && *r->p <= '9') || *r->p == '-' || *r->p == '+' ||
          *r->p == '.' || *r->p == 'e' || *r->p == 'E')) {
    ++r->p;
  }
  return r->p > start ? 0 : -1;
}

enum { F_AKID, F_SECRET, F_TOKEN, F_EXPIRATION, F_CODE, F_COUNT };

static const char *const json_names[F_COUNT] = {
    "AccessKeyId", "SecretAccessKey", "Token", "Expiration", "Code"};

/* Printable ASCII of |s| into |out|, others as '?', bounded: for server
   text that is not secret but may be anything. */
static void quote_text(char *out, size_t outlen, const char *s) {
  size_t i;

  for (i = 0; s[i] != '\0' && i + 1 < outlen && i < 100; ++i) {
    unsigned char c = (unsigned char)s[i];
    out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
  }
  out[i] = '\0';
}

/* Where each wanted member's decoded value sits in the reader's output. */
typedef struct doc_members {
  size_t off[F_COUNT];
  size_t len[F_COUNT];
  int found[F_COUNT];
} doc_members;

/* Reads one "key": value member, keeping the value of a wanted key as a
   string. Returns 0, -1 (a syntax error) or KEFO_ERR_BAD_RESPONSE (|err|
   set). */
static int read_member(json_reader *r, doc_members *m, char *err,
                       size_t errlen) {
  size_t klen, vlen, kpos = r->pos;
  int which = -1, i;

  if (r->p >= r->end || *r->p != '"') {
    return -1;
  }
  ++r->p;
  /* The key is decoded where the value will go, then overwritten. */
  if (json_string(r, 1, &klen) != 0) {
    return -1;
  }
  for (i = 0; i < F_COUNT; ++i) {
    if (strcmp(r->out + kpos, json_names[i]) == 0) {
      which = i;
    }
  }
  json_ws(r);
  if (r->p >= r->end || *r->p != ':') {
    return -1;
  }
  ++r->p;
  json_ws(r);
  if (which < 0 || r->p >= r->end || *r->p != '"') {
    return json_skip(r, 1);
  }
  ++r->p;
  if (json_string(r, 1, &vlen) != 0) {
    return -1;
  }
  if (memchr(r->out + r->pos, '\0', vlen) != NULL) {
    kefo__set_err(err, errlen, "%s holds a NUL character", json_names[which]);
    return KEFO_ERR_BAD_RESPONSE;
  }
  m->off[which] = r->pos;
  m->len[which] = vlen;
  m->found[which] = 1;
  r->pos += vlen + 1;
  return 0;
}

/* Reads the whole document, an object and nothing after it, into |m|.
   Returns 0 or KEFO_ERR_BAD_RESPONSE (|err| set). */
static int read_document(json_reader *r, doc_members *m, char *err,
                         size_t errlen) {
  const uint8_t *start = r->p;
  int rv, first = 1;

  json_ws(r);
  if (r->p >= r->end || *r->p != '{') {
    kefo__set_err(err, errlen, "the response is not a JSON object");
    return KEFO_ERR_BAD_RESPONSE;
  }
  ++r->p;
  for (;;) {
    json_ws(r);
    if (first && r->p < r->end && *r->p == '}') {
      ++r->p;
      break;
    }
    rv = read_member(r, m, err, errlen);
    if (rv == KEFO_ERR_BAD_RESPONSE) {
      return rv;
    }
    if (rv != 0) {
      goto syntax;
    }
    first = 0;
    json_ws(r);
    if (r->p < r->end && *r->p == ',') {
      ++r->p;
      continue;
    }
    if (r->p < r->end && *r->p == '}') {
      ++r->p;
      break;
    }
    goto syntax;
  }
  json_ws(r);
  if (r->p == r->end) {
    return 0;
  }

syntax:
  kefo__set_err(err, errlen, "the response is not valid JSON (at byte %ld)",
                (long)(r->p - start));
  return KEFO_ERR_BAD_RESPONSE;
}

/* Turns the members read (decoded in |text|) into credentials in |out|.
   Returns what kefo__credentials_parse_json returns. */
static int take_credentials(kefo_credentials_copy *out, const char *text,
                            const doc_members *m, char *err, size_t errlen) {
  kefo_credentials c;
  int rv;

  if (m->found[F_CODE] && strcmp(text + m->off[F_CODE], "Success") != 0) {
    char code[128];
    quote_text(code, sizeof(code), text + m->off[F_CODE]);
    kefo__set_err(err, errlen, "the document's Code is '%s', not 'Success'",
                  code);
    return KEFO_ERR_BAD_RESPONSE;
  }
  if (!m->found[F_AKID] || m->len[F_AKID] == 0) {
    kefo__set_err(err, errlen, "the document has no AccessKeyId");
    return KEFO_ERR_BAD_RESPONSE;
  }
  if (!m->found[F_SECRET] || m->len[F_SECRET] == 0) {
    kefo__set_err(err, errlen, "the document has no SecretAccessKey");
    return KEFO_ERR_BAD_RESPONSE;
  }
  memset(&c, 0, sizeof(c));
  c.access_key_id = text + m->off[F_AKID];
  c.secret_access_key = text + m->off[F_SECRET];
  c.session_token =
      m->found[F_TOKEN] && m->len[F_TOKEN] > 0 ? text + m->off[F_TOKEN] : NULL;
  /* An Expiration at the epoch would read as 0, "never expires". */
  if (m->found[F_EXPIRATION] &&
      (kefo__credentials_parse_time(text + m->off[F_EXPIRATION],
                                    m->len[F_EXPIRATION],
                                    &c.expiration_ms) != 0 ||
       c.expiration_ms <= 0)) {
    kefo__set_err(err, errlen,
                  "the document's Expiration is not an ISO 8601 time after "
                  "1970");
    return KEFO_ERR_BAD_RESPONSE;
  }
  rv = kefo__credentials_check(&c, err, errlen);
  if (rv != 0) {
    return rv;
  }
  rv = kefo__credentials_copy_set(out, &c);
  if (rv != 0) {
    kefo__set_err(err, errlen, "out of memory");
  }
  return rv;
}

int kefo__credentials_parse_json(kefo_credentials_copy *out,
                                 const uint8_t *body, size_t len, char *err,
                                 size_t errlen) {
  json_reader r;
  doc_members m;
  int rv;

  if (out == NULL || (body == NULL && len > 0)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  memset(&r, 0, sizeof(r));
  memset(&m, 0, sizeof(m));
  r.p = body;
  r.end = body + len;
  r.out = kefo__mem_malloc(out->mem, len + 1);
  if (r.out == NULL) {
    kefo__set_err(err, errlen, "out of memory");
    return KEFO_ERR_NOMEM;
  }
  rv = read_document(&r, &m, err, errlen);
  if (rv == 0) {
    rv = take_credentials(out, r.out, &m, err, errlen);
  }
  kefo__credentials_wipe(r.out, len + 1);
  kefo__mem_free(out->mem, r.out);
  return rv;
}
