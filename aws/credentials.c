/*
 * The provider interface, owned credential copies, the I/O-free parsers
 * shared by the network providers (times, the metadata JSON document),
 * the bounded HTTP exchange they use, and the three providers that hold
 * others: static keys, the chain and the refreshing cache.
 */
#include "aws/credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "base/error.h"

#define MAX_ACCESS_KEY_ID 128
#define MAX_SECRET 256
#define MAX_TOKEN (16 * 1024)
/* Nesting the JSON skipper accepts in values it does not want. */
#define JSON_MAX_DEPTH 16
/* Room for the chain's message listing every provider's reason. */
#define CHAIN_MSG_MAX 2048

void kefo_credentials_wipe(void *p, size_t len) {
  volatile unsigned char *q = p;

  while (len--) {
    *q++ = 0;
  }
}

int kefo_credentials_provider_get(kefo_credentials_provider *p,
                                  kefo_credentials_cb cb, void *user_data) {
  if (p == NULL || cb == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  return p->ops->get(p, cb, user_data);
}

void kefo_credentials_provider_del(kefo_credentials_provider *p) {
  if (p != NULL) {
    p->ops->del(p);
  }
}

void kefo_credentials_provider_invalidate(kefo_credentials_provider *p) {
  if (p != NULL && p->ops->invalidate != NULL) {
    p->ops->invalidate(p);
  }
}

void kefo_credentials_pending_add(kefo_credentials_pending **head,
                                  kefo_credentials_pending *p) {
  p->prev = NULL;
  p->next = *head;
  p->head = head;
  if (*head != NULL) {
    (*head)->prev = p;
  }
  *head = p;
}

void kefo_credentials_pending_remove(kefo_credentials_pending *p) {
  if (p->head == NULL) {
    return;
  }
  if (p->prev != NULL) {
    p->prev->next = p->next;
  } else {
    *p->head = p->next;
  }
  if (p->next != NULL) {
    p->next->prev = p->prev;
  }
  p->prev = p->next = NULL;
  p->head = NULL;
}

void kefo_credentials_fail(kefo_credentials_cb cb, void *user_data, int code,
                           const char *message, const char *operation,
                           int http_status, int retryable) {
  kefo_error_info info;

  memset(&info, 0, sizeof(info));
  info.code = code;
  info.message = message ? message : "";
  info.operation = operation;
  info.http_status = http_status;
  info.retryable = retryable;
  cb(code, NULL, &info, user_data);
}

/* ---- Owned copies ---- */

void kefo_credentials_copy_init(kefo_credentials_copy *c, const kefo_mem *mem) {
  memset(c, 0, sizeof(*c));
  c->mem = kefo_mem_or_default(mem);
}

int kefo_credentials_copy_set(kefo_credentials_copy *c,
                              const kefo_credentials *src) {
  size_t alen, slen, tlen, total;
  char *s;

  if (src == NULL || src->access_key_id == NULL ||
      src->access_key_id[0] == '\0' || src->secret_access_key == NULL ||
      src->secret_access_key[0] == '\0') {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  alen = strlen(src->access_key_id);
  slen = strlen(src->secret_access_key);
  tlen = src->session_token ? strlen(src->session_token) : 0;
  total = alen + 1 + slen + 1 + tlen + 1;
  s = kefo_mem_malloc(c->mem, total);
  if (s == NULL) {
    return KEFO_ERR_NOMEM;
  }
  memcpy(s, src->access_key_id, alen + 1);
  memcpy(s + alen + 1, src->secret_access_key, slen + 1);
  if (src->session_token != NULL) {
    memcpy(s + alen + 1 + slen + 1, src->session_token, tlen + 1);
  } else {
    s[total - 1] = '\0';
  }
  kefo_credentials_copy_free(c);
  c->storage = s;
  c->storage_len = total;
  c->creds.access_key_id = s;
  c->creds.secret_access_key = s + alen + 1;
  c->creds.session_token =
      src->session_token != NULL && tlen > 0 ? s + alen + 1 + slen + 1 : NULL;
  c->creds.expiration_ms = src->expiration_ms;
  return 0;
}

void kefo_credentials_copy_free(kefo_credentials_copy *c) {
  if (c->storage != NULL) {
    kefo_credentials_wipe(c->storage, c->storage_len);
    kefo_mem_free(c->mem, c->storage);
  }
  c->storage = NULL;
  c->storage_len = 0;
  memset(&c->creds, 0, sizeof(c->creds));
}

static int printable(const char *s, size_t max, size_t *len) {
  size_t i;

  for (i = 0; s[i] != '\0'; ++i) {
    if (i == max || (unsigned char)s[i] <= 0x20 ||
        (unsigned char)s[i] >= 0x7f) {
      return 0;
    }
  }
  *len = i;
  return 1;
}

int kefo_credentials_check(const kefo_credentials *c, char *err,
                           size_t errlen) {
  const char *a;
  size_t len;

  if (c == NULL || c->access_key_id == NULL || c->access_key_id[0] == '\0') {
    kefo_set_err(err, errlen, "the access key id is empty");
    return KEFO_ERR_CREDENTIALS;
  }
  for (a = c->access_key_id; *a; ++a) {
    char ch = *a;
    if (a - c->access_key_id == MAX_ACCESS_KEY_ID ||
        !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
          (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-')) {
      kefo_set_err(err, errlen,
                   "the access key id is longer than %d characters or holds "
                   "one outside [A-Za-z0-9._-]",
                   MAX_ACCESS_KEY_ID);
      return KEFO_ERR_CREDENTIALS;
    }
  }
  if (c->secret_access_key == NULL || c->secret_access_key[0] == '\0') {
    kefo_set_err(err, errlen, "the secret access key is empty");
    return KEFO_ERR_CREDENTIALS;
  }
  if (!printable(c->secret_access_key, MAX_SECRET, &len)) {
    kefo_set_err(err, errlen,
                 "the secret access key is longer than %d characters or holds "
                 "one that is not printable ASCII",
                 MAX_SECRET);
    return KEFO_ERR_CREDENTIALS;
  }
  if (c->session_token != NULL &&
      !printable(c->session_token, MAX_TOKEN, &len)) {
    kefo_set_err(err, errlen,
                 "the session token is longer than %d characters or holds one "
                 "that is not printable ASCII",
                 MAX_TOKEN);
    return KEFO_ERR_CREDENTIALS;
  }
  return 0;
}

void kefo_credentials_redact(char *msg, const char *secret) {
  size_t slen;
  char *p;

  if (msg == NULL || secret == NULL) {
    return;
  }
  slen = strlen(secret);
  if (slen < 8) {
    return;
  }
  while ((p = strstr(msg, secret)) != NULL) {
    memset(p, '*', slen);
    msg = p + slen;
  }
}

/* ---- Times ---- */

static int digits(const char *s, size_t n, int *out) {
  int v = 0;
  size_t i;

  for (i = 0; i < n; ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return -1;
    }
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return 0;
}

/* Days from 1970-01-01 to the given proleptic Gregorian date. */
static int64_t days_from_civil(int y, int m, int d) {
  int64_t era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m) {
  static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

  return m == 2 && leap ? 29 : dm[m - 1];
}

int kefo_credentials_parse_time(const char *s, size_t len, int64_t *ms) {
  int y, mo, d, h, mi, sec, frac = 0, oh = 0, om = 0, sign = 0;
  size_t i = 19, nfrac = 0;

  if (s == NULL || ms == NULL || len < 20 || digits(s, 4, &y) || s[4] != '-' ||
      digits(s + 5, 2, &mo) || s[7] != '-' || digits(s + 8, 2, &d) ||
      (s[10] != 'T' && s[10] != 't') || digits(s + 11, 2, &h) || s[13] != ':' ||
      digits(s + 14, 2, &mi) || s[16] != ':' || digits(s + 17, 2, &sec)) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
      h > 23 || mi > 59 || sec > 60) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  if (s[i] == '.') {
    for (++i; i < len && s[i] >= '0' && s[i] <= '9'; ++i, ++nfrac) {
      if (nfrac < 3) {
        frac = frac * 10 + (s[i] - '0');
      }
    }
    if (nfrac == 0) {
      return KEFO_ERR_BAD_RESPONSE;
    }
    for (; nfrac < 3; ++nfrac) {
      frac *= 10;
    }
  }
  if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i < len && (s[i] == '+' || s[i] == '-')) {
    sign = s[i] == '-' ? -1 : 1;
    if (i + 6 == len && s[i + 3] == ':' && !digits(s + i + 1, 2, &oh) &&
        !digits(s + i + 4, 2, &om)) {
      i += 6;
    } else if (i + 5 == len && !digits(s + i + 1, 2, &oh) &&
               !digits(s + i + 3, 2, &om)) {
      i += 5;
    } else {
      return KEFO_ERR_BAD_RESPONSE;
    }
    if (oh > 23 || om > 59) {
      return KEFO_ERR_BAD_RESPONSE;
    }
  } else {
    return KEFO_ERR_BAD_RESPONSE;
  }
  if (i != len) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  /* A leap second ends a minute; ":60" anywhere else is garbage. */
  if (sec == 60 && mi != 59) {
    return KEFO_ERR_BAD_RESPONSE;
  }
  if (sec == 60) {
    sec = 59;
  }
  *ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
         (int64_t)sign * (oh * 3600 + om * 60)) *
            1000 +
        frac;
  return 0;
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

static int hex4(const uint8_t *p, unsigned *v) {
  int i;

  *v = 0;
  for (i = 0; i < 4; ++i) {
    uint8_t c = p[i];
    *v <<= 4;
    if (c >= '0' && c <= '9') {
      *v |= (unsigned)(c - '0');
    } else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f') {
      *v |= (unsigned)((c | 0x20) - 'a' + 10);
    } else {
      return -1;
    }
  }
  return 0;
}

/* Decodes the string at r->p (after its opening quote) to r->out at
   r->pos when |keep|, NUL-terminated; |*len| gets its length. */
static int json_string(json_reader *r, int keep, size_t *len) {
  size_t start = r->pos, n = 0;
  char *o = r->out + r->pos;

  for (;;) {
    uint8_t c;
    unsigned cp;

    if (r->p >= r->end) {
      return -1;
    }
    c = *r->p++;
    if (c == '"') {
      break;
    }
    if (c < 0x20) {
      return -1;
    }
    if (c != '\\') {
      if (keep) {
        o[n] = (char)c;
      }
      ++n;
      continue;
    }
    if (r->p >= r->end) {
      return -1;
    }
    c = *r->p++;
    switch (c) {
    case '"':
    case '\\':
    case '/':
      break;
    case 'b':
      c = '\b';
      break;
    case 'f':
      c = '\f';
      break;
    case 'n':
      c = '\n';
      break;
    case 'r':
      c = '\r';
      break;
    case 't':
      c = '\t';
      break;
    case 'u':
      if (r->end - r->p < 4 || hex4(r->p, &cp)) {
        return -1;
      }
      r->p += 4;
      if (cp >= 0xd800 && cp <= 0xdbff) {
        unsigned lo;
        if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' ||
            hex4(r->p + 2, &lo) || lo < 0xdc00 || lo > 0xdfff) {
          return -1;
        }
        r->p += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
      } else if (cp >= 0xdc00 && cp <= 0xdfff) {
        return -1;
      }
      /* UTF-8 is never longer than the escape it came from. */
      if (cp < 0x80) {
        if (keep) {
          o[n] = (char)cp;
        }
        n += 1;
      } else if (cp < 0x800) {
        if (keep) {
          o[n] = (char)(0xc0 | cp >> 6);
          o[n + 1] = (char)(0x80 | (cp & 0x3f));
        }
        n += 2;
      } else if (cp < 0x10000) {
        if (keep) {
          o[n] = (char)(0xe0 | cp >> 12);
          o[n + 1] = (char)(0x80 | ((cp >> 6) & 0x3f));
          o[n + 2] = (char)(0x80 | (cp & 0x3f));
        }
        n += 3;
      } else {
        if (keep) {
          o[n] = (char)(0xf0 | cp >> 18);
          o[n + 1] = (char)(0x80 | ((cp >> 12) & 0x3f));
          o[n + 2] = (char)(0x80 | ((cp >> 6) & 0x3f));
          o[n + 3] = (char)(0x80 | (cp & 0x3f));
        }
        n += 4;
      }
      continue;
    default:
      return -1;
    }
    if (keep) {
      o[n] = (char)c;
    }
    ++n;
  }
  if (keep) {
    o[n] = '\0';
  }
  (void)start;
  *len = n;
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

int kefo_credentials_parse_json(kefo_credentials_copy *out, const uint8_t *body,
                                size_t len, char *err, size_t errlen) {
  json_reader r;
  size_t off[F_COUNT], flen[F_COUNT];
  int found[F_COUNT] = {0, 0, 0, 0, 0};
  kefo_credentials c;
  int rv = KEFO_ERR_BAD_RESPONSE, i, first = 1;

  if (out == NULL || (body == NULL && len > 0)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  memset(&r, 0, sizeof(r));
  r.p = body;
  r.end = body + len;
  r.out = kefo_mem_malloc(out->mem, len + 1);
  if (r.out == NULL) {
    kefo_set_err(err, errlen, "out of memory");
    return KEFO_ERR_NOMEM;
  }
  json_ws(&r);
  if (r.p >= r.end || *r.p != '{') {
    kefo_set_err(err, errlen, "the response is not a JSON object");
    goto done;
  }
  ++r.p;
  for (;;) {
    size_t klen, vlen, kpos = r.pos;
    int which = -1;

    json_ws(&r);
    if (first && r.p < r.end && *r.p == '}') {
      ++r.p;
      break;
    }
    if (r.p >= r.end || *r.p != '"') {
      goto syntax;
    }
    ++r.p;
    /* The key is decoded where the value will go, then overwritten. */
    if (json_string(&r, 1, &klen) != 0) {
      goto syntax;
    }
    for (i = 0; i < F_COUNT; ++i) {
      if (strcmp(r.out + kpos, json_names[i]) == 0) {
        which = i;
      }
    }
    json_ws(&r);
    if (r.p >= r.end || *r.p != ':') {
      goto syntax;
    }
    ++r.p;
    json_ws(&r);
    if (which >= 0 && r.p < r.end && *r.p == '"') {
      ++r.p;
      if (json_string(&r, 1, &vlen) != 0) {
        goto syntax;
      }
      if (memchr(r.out + r.pos, '\0', vlen) != NULL) {
        kefo_set_err(err, errlen, "%s holds a NUL character",
                     json_names[which]);
        goto done;
      }
      off[which] = r.pos;
      flen[which] = vlen;
      found[which] = 1;
      r.pos += vlen + 1;
    } else if (json_skip(&r, 1) != 0) {
      goto syntax;
    }
    first = 0;
    json_ws(&r);
    if (r.p < r.end && *r.p == ',') {
      ++r.p;
      continue;
    }
    if (r.p < r.end && *r.p == '}') {
      ++r.p;
      break;
    }
    goto syntax;
  }
  json_ws(&r);
  if (r.p != r.end) {
    goto syntax;
  }
  if (found[F_CODE] && strcmp(r.out + off[F_CODE], "Success") != 0) {
    char code[128];
    quote_text(code, sizeof(code), r.out + off[F_CODE]);
    kefo_set_err(err, errlen, "the document's Code is '%s', not 'Success'",
                 code);
    goto done;
  }
  if (!found[F_AKID] || flen[F_AKID] == 0) {
    kefo_set_err(err, errlen, "the document has no AccessKeyId");
    goto done;
  }
  if (!found[F_SECRET] || flen[F_SECRET] == 0) {
    kefo_set_err(err, errlen, "the document has no SecretAccessKey");
    goto done;
  }
  memset(&c, 0, sizeof(c));
  c.access_key_id = r.out + off[F_AKID];
  c.secret_access_key = r.out + off[F_SECRET];
  c.session_token =
      found[F_TOKEN] && flen[F_TOKEN] > 0 ? r.out + off[F_TOKEN] : NULL;
  /* An Expiration at the epoch would read as 0, "never expires". */
  if (found[F_EXPIRATION] &&
      (kefo_credentials_parse_time(r.out + off[F_EXPIRATION],
                                   flen[F_EXPIRATION], &c.expiration_ms) != 0 ||
       c.expiration_ms <= 0)) {
    kefo_set_err(err, errlen,
                 "the document's Expiration is not an ISO 8601 time after "
                 "1970");
    goto done;
  }
  rv = kefo_credentials_check(&c, err, errlen);
  if (rv != 0) {
    goto done;
  }
  rv = kefo_credentials_copy_set(out, &c);
  if (rv != 0) {
    kefo_set_err(err, errlen, "out of memory");
  }
  goto done;

syntax:
  kefo_set_err(err, errlen, "the response is not valid JSON (at byte %ld)",
               (long)(r.p - body));
  rv = KEFO_ERR_BAD_RESPONSE;

done:
  kefo_credentials_wipe(r.out, len + 1);
  kefo_mem_free(out->mem, r.out);
  return rv;
}

/* ---- Token files ---- */

int kefo_credentials_read_token_file(const kefo_mem *mem, const char *path,
                                     size_t max, char **out, size_t *outlen,
                                     char *err, size_t errlen) {
  struct stat st;
  char *buf = NULL;
  size_t n = 0;
  int fd, rv = KEFO_ERR_CREDENTIALS;

  *out = NULL;
  *outlen = 0;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    kefo_set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
    return KEFO_ERR_CREDENTIALS;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    kefo_set_err(err, errlen, "cannot read %s: not a regular file", path);
    goto fail;
  }
  if ((uint64_t)st.st_size > max) {
    kefo_set_err(err, errlen, "%s is larger than %lu bytes", path,
                 (unsigned long)max);
    goto fail;
  }
  buf = kefo_mem_malloc(mem, max + 2);
  if (buf == NULL) {
    kefo_set_err(err, errlen, "out of memory");
    rv = KEFO_ERR_NOMEM;
    goto fail;
  }
  while (n <= max) {
    ssize_t r = read(fd, buf + n, max + 1 - n);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r < 0) {
      kefo_set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
      goto fail;
    }
    if (r == 0) {
      break;
    }
    n += (size_t)r;
  }
  if (n > max) {
    kefo_set_err(err, errlen, "%s is larger than %lu bytes", path,
                 (unsigned long)max);
    goto fail;
  }
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                   buf[n - 1] == ' ' || buf[n - 1] == '\t')) {
    --n;
  }
  if (n == 0) {
    kefo_set_err(err, errlen, "%s is empty", path);
    goto fail;
  }
  buf[n] = '\0';
  close(fd);
  *out = buf;
  *outlen = n;
  return 0;

fail:
  if (buf != NULL) {
    kefo_credentials_wipe(buf, max + 2);
    kefo_mem_free(mem, buf);
  }
  close(fd);
  return rv;
}

/* ---- One bounded HTTP exchange ---- */

struct kefo_credentials_fetch {
  const kefo_mem *mem;
  kefo_http_stream *stream;
  kefo_credentials_fetch_cb cb;
  void *user_data;
  int status;
  int too_large;
  uint8_t *body;
  size_t len;
  size_t cap;
  size_t max;
};

static void fetch_free(kefo_credentials_fetch *f) {
  if (f->body != NULL) {
    kefo_credentials_wipe(f->body, f->cap);
    kefo_mem_free(f->mem, f->body);
  }
  kefo_mem_free(f->mem, f);
}

/* Grows the body to hold |need| bytes. A new block each time, so the old
   one (it may hold secrets) is wiped rather than left to realloc. */
static int fetch_reserve(kefo_credentials_fetch *f, size_t need) {
  size_t cap = f->cap ? f->cap : 256;
  uint8_t *nb;

  if (need <= f->cap) {
    return 0;
  }
  while (cap < need) {
    cap *= 2;
  }
  if (cap > f->max + 1) {
    cap = f->max + 1;
  }
  nb = kefo_mem_malloc(f->mem, cap);
  if (nb == NULL) {
    return KEFO_ERR_NOMEM;
  }
  if (f->body != NULL) {
    memcpy(nb, f->body, f->len);
    kefo_credentials_wipe(f->body, f->cap);
    kefo_mem_free(f->mem, f->body);
  }
  f->body = nb;
  f->cap = cap;
  return 0;
}

static int fetch_on_response(kefo_http_stream *stream, int status,
                             const kefo_http_header *headers, size_t nheaders,
                             void *user_data) {
  kefo_credentials_fetch *f = user_data;

  (void)stream;
  (void)headers;
  (void)nheaders;
  f->status = status;
  return 0;
}

static int fetch_on_data(kefo_http_stream *stream, const uint8_t *data,
                         size_t len, void *user_data) {
  kefo_credentials_fetch *f = user_data;

  (void)stream;
  if (len > f->max - f->len) {
    f->too_large = 1;
    return 1;
  }
  if (fetch_reserve(f, f->len + len + 1) != 0) {
    f->too_large = -1;
    return 1;
  }
  memcpy(f->body + f->len, data, len);
  f->len += len;
  return 0;
}

static void fetch_on_close(kefo_http_stream *stream, int error,
                           const kefo_error_info *info, void *user_data) {
  kefo_credentials_fetch *f = user_data;
  kefo_error_info mine;
  char msg[96];

  (void)stream;
  f->stream = NULL;
  memset(&mine, 0, sizeof(mine));
  if (f->too_large != 0) {
    error = f->too_large > 0 ? KEFO_ERR_RESPONSE_TOO_LARGE : KEFO_ERR_NOMEM;
    snprintf(msg, sizeof(msg),
             f->too_large > 0 ? "response body larger than %lu bytes"
                              : "out of memory reading a response of %lu "
                                "bytes at most",
             (unsigned long)f->max);
    mine.code = error;
    mine.message = msg;
    mine.http_status = f->status;
    info = &mine;
  } else if (error == 0 && fetch_reserve(f, f->len + 1) != 0) {
    error = KEFO_ERR_NOMEM;
    mine.code = error;
    mine.message = "out of memory";
    info = &mine;
  } else if (error != 0 && info == NULL) {
    mine.code = error;
    mine.message = kefo_strerror(error);
    info = &mine;
  }
  if (error == 0) {
    f->body[f->len] = 0;
  }
  f->cb(error, error ? info : NULL, f->status, error ? NULL : f->body,
        error ? 0 : f->len, f->user_data);
  fetch_free(f);
}

int kefo_credentials_fetch_start(kefo_credentials_fetch **out,
                                 const kefo_mem *mem,
                                 const kefo_credentials_transport *t,
                                 const kefo_http_request *req, size_t max_body,
                                 kefo_credentials_fetch_cb cb,
                                 void *user_data) {
  static const kefo_http_callbacks callbacks = {fetch_on_response,
                                                fetch_on_data, fetch_on_close};
  kefo_credentials_fetch *f;
  int rv;

  if (out == NULL || t == NULL || t->request == NULL || req == NULL ||
      cb == NULL || max_body == 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo_mem_or_default(mem);
  f = kefo_mem_calloc(mem, 1, sizeof(*f));
  if (f == NULL) {
    return KEFO_ERR_NOMEM;
  }
  f->mem = mem;
  f->cb = cb;
  f->user_data = user_data;
  f->max = max_body;
  rv = t->request(t->ctx, req, &callbacks, f, &f->stream);
  if (rv != 0) {
    fetch_free(f);
    return rv;
  }
  *out = f;
  return 0;
}

void kefo_credentials_fetch_cancel(kefo_credentials_fetch *f) {
  if (f == NULL) {
    return;
  }
  if (f->stream != NULL) {
    kefo_http_stream_cancel(f->stream);
  }
  fetch_free(f);
}

static int client_request(void *ctx, const kefo_http_request *req,
                          const kefo_http_callbacks *cb, void *user_data,
                          kefo_http_stream **out) {
  return kefo_http_client_request(ctx, req, cb, user_data, out);
}

void kefo_credentials_transport_client(kefo_credentials_transport *t,
                                       kefo_http_client *client) {
  t->request = client != NULL ? client_request : NULL;
  t->ctx = client;
}

void kefo_credentials_options_init(kefo_credentials_options *opts) {
  memset(opts, 0, sizeof(*opts));
}

/* ---- Static keys ---- */

typedef struct static_provider {
  kefo_credentials_provider base;
  const kefo_mem *mem;
  kefo_credentials_copy copy;
} static_provider;

static int static_get(kefo_credentials_provider *p, kefo_credentials_cb cb,
                      void *user_data) {
  static_provider *sp = (static_provider *)p;

  cb(0, &sp->copy.creds, NULL, user_data);
  return 0;
}

static void static_del(kefo_credentials_provider *p) {
  static_provider *sp = (static_provider *)p;

  kefo_credentials_copy_free(&sp->copy);
  kefo_mem_free(sp->mem, sp);
}

static const kefo_credentials_provider_ops static_ops = {static_get, static_del,
                                                         NULL};

int kefo_credentials_static_new(kefo_credentials_provider **out,
                                const kefo_mem *mem, const char *access_key_id,
                                const char *secret_access_key,
                                const char *session_token) {
  kefo_credentials c;
  static_provider *sp;
  int rv;

  if (out == NULL || access_key_id == NULL || access_key_id[0] == '\0' ||
      secret_access_key == NULL || secret_access_key[0] == '\0') {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo_mem_or_default(mem);
  sp = kefo_mem_calloc(mem, 1, sizeof(*sp));
  if (sp == NULL) {
    return KEFO_ERR_NOMEM;
  }
  sp->base.ops = &static_ops;
  sp->base.name = "static";
  sp->mem = mem;
  kefo_credentials_copy_init(&sp->copy, mem);
  c.access_key_id = access_key_id;
  c.secret_access_key = secret_access_key;
  c.session_token = session_token;
  c.expiration_ms = 0;
  rv = kefo_credentials_copy_set(&sp->copy, &c);
  if (rv != 0) {
    kefo_mem_free(mem, sp);
    return rv;
  }
  *out = &sp->base;
  return 0;
}

/* ---- The chain ---- */

typedef struct chain_provider chain_provider;

typedef struct chain_req {
  kefo_credentials_pending link; /* first: the list's entries cast back */
  chain_provider *chain;
  const kefo_mem *mem;
  kefo_credentials_cb cb;
  void *user_data;
  size_t index;
  /* The remembered provider tried first; skipped on the full pass. */
  size_t skip;
  int retryable;
  int nomem;
  size_t msglen;
  char msg[CHAIN_MSG_MAX];
} chain_req;

struct chain_provider {
  kefo_credentials_provider base;
  const kefo_mem *mem;
  kefo_credentials_provider **providers;
  size_t n;
  /* The provider that answered last, or n. */
  size_t last;
  kefo_credentials_pending *reqs;
};

static void chain_note(chain_req *r, const char *name, const char *why) {
  int n;

  if (r->msglen + 1 >= sizeof(r->msg)) {
    return;
  }
  n = snprintf(r->msg + r->msglen, sizeof(r->msg) - r->msglen, "%s%s: %s",
               r->msglen > 0 ? "; " : "", name, why);
  if (n > 0) {
    r->msglen += (size_t)n;
    if (r->msglen >= sizeof(r->msg)) {
      r->msglen = sizeof(r->msg) - 1;
    }
  }
}

static void chain_next(chain_req *r);

static void chain_on_link(int error, const kefo_credentials *creds,
                          const kefo_error_info *info, void *user_data) {
  chain_req *r = user_data;
  chain_provider *c = r->chain;

  if (error == 0) {
    kefo_credentials_cb cb = r->cb;
    void *ud = r->user_data;
    const kefo_mem *mem = r->mem;

    c->last = r->index;
    kefo_credentials_pending_remove(&r->link);
    kefo_mem_free(mem, r);
    cb(0, creds, NULL, ud);
    return;
  }
  chain_note(r, c->providers[r->index]->name,
             info != NULL && info->message != NULL && info->message[0]
                 ? info->message
                 : kefo_strerror(error));
  if (info != NULL && info->retryable) {
    r->retryable = 1;
  }
  if (error == KEFO_ERR_NOMEM) {
    r->nomem = 1;
    r->index = c->n;
  } else if (r->skip == c->n && r->index == c->last) {
    /* The remembered provider failed: try them all, from the first. */
    r->skip = r->index;
    r->index = 0;
    chain_next(r);
    return;
  } else {
    ++r->index;
  }
  chain_next(r);
}

static void chain_next(chain_req *r) {
  chain_provider *c = r->chain;

  for (;;) {
    int rv;

    if (r->index == r->skip && r->index < c->n) {
      ++r->index;
    }
    if (r->index >= c->n) {
      kefo_credentials_cb cb = r->cb;
      void *ud = r->user_data;
      kefo_error_info info;
      char msg[CHAIN_MSG_MAX + 64];

      kefo_credentials_pending_remove(&r->link);
      memset(&info, 0, sizeof(info));
      info.code = r->nomem ? KEFO_ERR_NOMEM : KEFO_ERR_CREDENTIALS;
      snprintf(msg, sizeof(msg), "no AWS credentials found: %s", r->msg);
      info.message = msg;
      info.retryable = r->retryable;
      kefo_mem_free(r->mem, r);
      cb(info.code, NULL, &info, ud);
      return;
    }
    rv =
        kefo_credentials_provider_get(c->providers[r->index], chain_on_link, r);
    if (rv == 0) {
      /* The link answers, maybe already has: |r| may be gone. */
      return;
    }
    chain_note(r, c->providers[r->index]->name, kefo_strerror(rv));
    if (rv == KEFO_ERR_NOMEM) {
      r->nomem = 1;
      r->index = c->n;
      continue;
    }
    ++r->index;
  }
}

static int chain_get(kefo_credentials_provider *p, kefo_credentials_cb cb,
                     void *user_data) {
  chain_provider *c = (chain_provider *)p;
  chain_req *r;

  r = kefo_mem_calloc(c->mem, 1, sizeof(*r));
  if (r == NULL) {
    return KEFO_ERR_NOMEM;
  }
  r->chain = c;
  r->mem = c->mem;
  r->cb = cb;
  r->user_data = user_data;
  r->skip = c->n;
  r->index = c->last < c->n ? c->last : 0;
  kefo_credentials_pending_add(&c->reqs, &r->link);
  chain_next(r);
  return 0;
}

static void chain_del(kefo_credentials_provider *p) {
  chain_provider *c = (chain_provider *)p;
  size_t i;

  /* Providers first: they call back no more once deleted. */
  for (i = 0; i < c->n; ++i) {
    kefo_credentials_provider_del(c->providers[i]);
  }
  while (c->reqs != NULL) {
    chain_req *r = (chain_req *)c->reqs;
    kefo_credentials_pending_remove(&r->link);
    kefo_mem_free(c->mem, r);
  }
  kefo_mem_free(c->mem, c->providers);
  kefo_mem_free(c->mem, c);
}

static const kefo_credentials_provider_ops chain_ops = {chain_get, chain_del,
                                                        NULL};

int kefo_credentials_chain_new(kefo_credentials_provider **out,
                               const kefo_mem *mem,
                               kefo_credentials_provider **providers,
                               size_t n) {
  chain_provider *c = NULL;
  size_t i;

  mem = kefo_mem_or_default(mem);
  if (out == NULL || providers == NULL || n == 0) {
    goto fail;
  }
  for (i = 0; i < n; ++i) {
    if (providers[i] == NULL) {
      goto fail;
    }
  }
  c = kefo_mem_calloc(mem, 1, sizeof(*c));
  if (c == NULL) {
    goto fail_nomem;
  }
  c->providers = kefo_mem_calloc(mem, n, sizeof(*c->providers));
  if (c->providers == NULL) {
    kefo_mem_free(mem, c);
    goto fail_nomem;
  }
  memcpy(c->providers, providers, n * sizeof(*providers));
  c->base.ops = &chain_ops;
  c->base.name = "default chain";
  c->mem = mem;
  c->n = n;
  c->last = n;
  *out = &c->base;
  return 0;

fail_nomem:
  for (i = 0; i < n; ++i) {
    kefo_credentials_provider_del(providers[i]);
  }
  return KEFO_ERR_NOMEM;

fail:
  if (providers != NULL) {
    for (i = 0; i < n; ++i) {
      kefo_credentials_provider_del(providers[i]);
    }
  }
  return KEFO_ERR_INVALID_ARGUMENT;
}

int kefo_credentials_default_chain_new(kefo_credentials_provider **out,
                                       const kefo_credentials_options *opts) {
  kefo_credentials_provider *list[6];
  size_t n = 0, i;
  int rv;

  if (out == NULL || opts == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (opts->access_key_id != NULL && opts->access_key_id[0] != '\0' &&
      opts->secret_access_key != NULL && opts->secret_access_key[0] != '\0') {
    rv = kefo_credentials_static_new(&list[n], opts->mem, opts->access_key_id,
                                     opts->secret_access_key,
                                     opts->session_token);
    if (rv != 0) {
      goto fail;
    }
    ++n;
  }
  rv = kefo_credentials_env_new(&list[n], opts);
  if (rv != 0) {
    goto fail;
  }
  ++n;
  rv = kefo_credentials_web_identity_new(&list[n], opts, NULL, NULL, NULL);
  if (rv != 0) {
    goto fail;
  }
  ++n;
  rv = kefo_credentials_profile_new(&list[n], opts);
  if (rv != 0) {
    goto fail;
  }
  ++n;
  rv = kefo_credentials_container_new(&list[n], opts);
  if (rv != 0) {
    goto fail;
  }
  ++n;
  rv = kefo_credentials_imds_new(&list[n], opts);
  if (rv != 0) {
    goto fail;
  }
  ++n;
  return kefo_credentials_chain_new(out, opts->mem, list, n);

fail:
  for (i = 0; i < n; ++i) {
    kefo_credentials_provider_del(list[i]);
  }
  return rv;
}

/* ---- The refreshing cache ---- */

typedef struct cache_waiter {
  struct cache_waiter *next;
  kefo_credentials_cb cb;
  void *user_data;
} cache_waiter;

/* Marks a stack frame that calls out: del clears |alive| of every frame
   still on the stack, so they stop touching the cache. */
typedef struct cache_guard {
  int alive;
  struct cache_guard *prev;
} cache_guard;

typedef struct cache_provider {
  kefo_credentials_provider base;
  const kefo_mem *mem;
  const kefo_clock *clock;
  kefo_credentials_provider *inner;
  kefo_credentials_copy creds;
  /* Credentials replaced while a get's callback still had them lent;
     freed once no callback runs. */
  kefo_credentials_copy retired;
  int lending;
  int have;
  /* Wall-clock milliseconds: start refreshing; stop handing out. */
  int64_t refresh_at;
  int64_t stale_at;
  /* When the cached credentials arrived. */
  int64_t got_at;
  /* After a failed background refresh: not before this. */
  int64_t retry_at;
  int in_flight;
  cache_waiter *waiters;
  cache_waiter **tail;
  struct event *timer;
  cache_guard *guards;
} cache_provider;

/* A guard lives on its caller's stack and is popped before that caller
   returns; GCC 12 cannot see the pop once this is inlined and warns of a
   dangling pointer that never outlives the frame. */
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#endif
static void guard_push(cache_provider *c, cache_guard *g) {
  g->alive = 1;
  g->prev = c->guards;
  c->guards = g;
}
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 12
#pragma GCC diagnostic pop
#endif

/* Returns 1 when the cache still exists (and pops |g|). */
static int guard_pop(cache_provider *c, cache_guard *g) {
  if (!g->alive) {
    return 0;
  }
  c->guards = g->prev;
  return 1;
}

/* Lends the current credentials to callbacks. */
static void lend_begin(cache_provider *c) {
  ++c->lending;
}

static void lend_end(cache_provider *c) {
  if (--c->lending == 0 && c->retired.storage != NULL) {
    kefo_credentials_copy_free(&c->retired);
  }
}

static int64_t cache_now(cache_provider *c) {
  return c->clock->wall_ms(c->clock->user_data);
}

static void cache_arm(cache_provider *c, int64_t at) {
  struct timeval tv;
  int64_t delay;

  if (c->timer == NULL || at == INT64_MAX) {
    return;
  }
  delay = at - cache_now(c);
  kefo_timeval_ms(&tv, delay);
  evtimer_add(c->timer, &tv);
}

static void cache_on_inner(int error, const kefo_credentials *creds,
                           const kefo_error_info *info, void *user_data);

static void cache_refresh(cache_provider *c) {
  int rv;

  c->in_flight = 1;
  rv = kefo_credentials_provider_get(c->inner, cache_on_inner, c);
  if (rv != 0) {
    kefo_error_info info;
    char msg[128];

    memset(&info, 0, sizeof(info));
    info.code = rv;
    snprintf(msg, sizeof(msg), "%s: %s", c->inner->name, kefo_strerror(rv));
    info.message = msg;
    cache_on_inner(rv, NULL, &info, c);
  }
}

/* Calls every waiter with the outcome; stops if one deletes the cache. */
static void cache_dispatch(cache_provider *c, int error,
                           const kefo_credentials *creds,
                           const kefo_error_info *info) {
  cache_waiter *w = c->waiters;
  const kefo_mem *mem = c->mem;
  cache_guard g;

  c->waiters = NULL;
  c->tail = &c->waiters;
  guard_push(c, &g);
  if (error == 0) {
    lend_begin(c);
  }
  while (w != NULL) {
    cache_waiter *next = w->next;
    kefo_credentials_cb cb = w->cb;
    void *ud = w->user_data;

    kefo_mem_free(mem, w);
    w = next;
    cb(error, creds, info, ud);
    if (!g.alive) {
      /* Deleted by that callback: the rest are not called. */
      while (w != NULL) {
        next = w->next;
        kefo_mem_free(mem, w);
        w = next;
      }
      return;
    }
  }
  guard_pop(c, &g);
  if (error == 0) {
    lend_end(c);
  }
}

static void cache_on_inner(int error, const kefo_credentials *creds,
                           const kefo_error_info *info, void *user_data) {
  cache_provider *c = user_data;
  int64_t now = cache_now(c);
  kefo_error_info mine;
  char msg[256];

  c->in_flight = 0;
  memset(&mine, 0, sizeof(mine));
  if (error == 0 && creds != NULL && creds->expiration_ms != 0 &&
      creds->expiration_ms <= now) {
    error = KEFO_ERR_CREDENTIALS;
    snprintf(msg, sizeof(msg),
             "%s gave credentials that have already expired (%lld ms ago)",
             c->inner->name, (long long)(now - creds->expiration_ms));
    mine.code = error;
    mine.message = msg;
    info = &mine;
  }
  if (error == 0) {
    kefo_credentials_copy fresh;

    kefo_credentials_copy_init(&fresh, c->mem);
    error = kefo_credentials_copy_set(&fresh, creds);
    if (error != 0) {
      mine.code = error;
      mine.message = error == KEFO_ERR_NOMEM ? "out of memory"
                                             : "the credentials are empty";
      info = &mine;
    } else {
      if (c->lending > 0) {
        kefo_credentials_copy_free(&c->retired);
        c->retired = c->creds;
      } else {
        kefo_credentials_copy_free(&c->creds);
      }
      c->creds = fresh;
      c->have = 1;
      c->got_at = now;
      c->retry_at = 0;
      if (creds->expiration_ms == 0) {
        c->refresh_at = c->stale_at = INT64_MAX;
      } else {
        int64_t life = creds->expiration_ms - now;
        int64_t ahead = life / 2 < KEFO_CREDENTIALS_REFRESH_MS
                            ? life / 2
                            : KEFO_CREDENTIALS_REFRESH_MS;
        int64_t stale = life / 10 < KEFO_CREDENTIALS_STALE_MS
                            ? life / 10
                            : KEFO_CREDENTIALS_STALE_MS;
        /* Spread many consumers' refreshes over a tenth of the window. */
        if (ahead / 10 > 0) {
          ahead += (int64_t)(c->clock->random32(c->clock->user_data) %
                             (uint32_t)(ahead / 10 + 1));
        }
        c->refresh_at = creds->expiration_ms - ahead;
        c->stale_at = creds->expiration_ms - stale;
      }
      cache_arm(c, c->refresh_at);
      cache_dispatch(c, 0, &c->creds.creds, NULL);
      return;
    }
  }
  if (c->have && now < c->stale_at) {
    /* Still usable: keep them and try again later, sooner as expiry
       nears. */
    int64_t wait = (c->stale_at - now) / 4;
    if (wait < 1000) {
      wait = 1000;
    } else if (wait > 60000) {
      wait = 60000;
    }
    c->retry_at = now + wait;
    cache_arm(c, c->retry_at);
  }
  if (info == NULL) {
    mine.code = error;
    mine.message = kefo_strerror(error);
    info = &mine;
  }
  cache_dispatch(c, error, NULL, info);
}

static void cache_on_timer(evutil_socket_t fd, short what, void *arg) {
  cache_provider *c = arg;

  (void)fd;
  (void)what;
  if (c->in_flight) {
    return;
  }
  if (c->have && cache_now(c) < c->refresh_at) {
    /* The clock moved differently from the timer: wait some more. */
    cache_arm(c, c->refresh_at);
    return;
  }
  cache_refresh(c);
}

static int cache_get(kefo_credentials_provider *p, kefo_credentials_cb cb,
                     void *user_data) {
  cache_provider *c = (cache_provider *)p;
  int64_t now = cache_now(c);
  cache_waiter *w;

  if (c->have && now < c->stale_at) {
    if (now >= c->refresh_at && !c->in_flight && now >= c->retry_at) {
      cache_refresh(c);
    }
    if (c->have && now < c->stale_at) {
      cache_guard g;

      guard_push(c, &g);
      lend_begin(c);
      cb(0, &c->creds.creds, NULL, user_data);
      if (guard_pop(c, &g)) {
        lend_end(c);
      }
      return 0;
    }
  }
  w = kefo_mem_malloc(c->mem, sizeof(*w));
  if (w == NULL) {
    return KEFO_ERR_NOMEM;
  }
  w->next = NULL;
  w->cb = cb;
  w->user_data = user_data;
  *c->tail = w;
  c->tail = &w->next;
  if (!c->in_flight) {
    cache_refresh(c);
  }
  return 0;
}

static void cache_del(kefo_credentials_provider *p) {
  cache_provider *c = (cache_provider *)p;
  cache_waiter *w = c->waiters;
  cache_guard *g;

  for (g = c->guards; g != NULL; g = g->prev) {
    g->alive = 0;
  }
  if (c->timer != NULL) {
    event_free(c->timer);
  }
  kefo_credentials_provider_del(c->inner);
  while (w != NULL) {
    cache_waiter *next = w->next;
    kefo_mem_free(c->mem, w);
    w = next;
  }
  kefo_credentials_copy_free(&c->creds);
  kefo_credentials_copy_free(&c->retired);
  kefo_mem_free(c->mem, c);
}

static void cache_invalidate(kefo_credentials_provider *p) {
  cache_provider *c = (cache_provider *)p;

  if (!c->have || cache_now(c) - c->got_at < KEFO_CREDENTIALS_MIN_HOLD_MS) {
    return;
  }
  /* Still lent or not, the copy stays until replaced: only stop handing
     it out, so that the next get waits for |inner|. */
  c->have = 0;
  c->retry_at = 0;
  kefo_credentials_provider_invalidate(c->inner);
}

static const kefo_credentials_provider_ops cache_ops = {cache_get, cache_del,
                                                        cache_invalidate};

int kefo_credentials_cache_new(kefo_credentials_provider **out,
                               const kefo_credentials_options *opts,
                               kefo_credentials_provider *inner) {
  const kefo_mem *mem;
  cache_provider *c;

  if (out == NULL || opts == NULL || inner == NULL) {
    kefo_credentials_provider_del(inner);
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo_mem_or_default(opts->mem);
  c = kefo_mem_calloc(mem, 1, sizeof(*c));
  if (c == NULL) {
    kefo_credentials_provider_del(inner);
    return KEFO_ERR_NOMEM;
  }
  c->base.ops = &cache_ops;
  c->base.name = inner->name;
  c->mem = mem;
  c->clock = kefo_clock_or_system(opts->clock);
  c->inner = inner;
  c->tail = &c->waiters;
  kefo_credentials_copy_init(&c->creds, mem);
  kefo_credentials_copy_init(&c->retired, mem);
  if (opts->base != NULL) {
    c->timer = evtimer_new(opts->base, cache_on_timer, c);
    if (c->timer == NULL) {
      kefo_credentials_provider_del(inner);
      kefo_mem_free(mem, c);
      return KEFO_ERR_NOMEM;
    }
  }
  *out = &c->base;
  return 0;
}

int kefo_credentials_default_new(kefo_credentials_provider **out,
                                 const kefo_credentials_options *opts) {
  kefo_credentials_provider *chain;
  int rv;

  if (out == NULL || opts == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  rv = kefo_credentials_default_chain_new(&chain, opts);
  if (rv != 0) {
    return rv;
  }
  return kefo_credentials_cache_new(out, opts, chain);
}
