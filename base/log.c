/*
 * The log hook's core (see log.h): level filter, formatting into a stack
 * buffer, and scrubbing of anything that could carry a secret.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

static const char redacted[] = "[redacted]";

/* What may be followed by a secret in text kefo did not write (an AWS
   message, a server's error): cut there. Lower case. */
static const char *const markers[] = {
    "authorization",         "x-amz-security-token", "signature=",
    "credential=",           "secretaccesskey",      "sessiontoken",
    "aws_secret_access_key", "aws_session_token"};

static int lower(int ch) {
  return ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch;
}

/* The first case-insensitive occurrence of |lc| (lower case) in |s|, or
   NULL. */
static char *find_ci(char *s, const char *lc) {
  size_t n = strlen(lc), i;

  for (; *s; ++s) {
    for (i = 0; i < n && s[i] && lower((unsigned char)s[i]) == lc[i]; ++i) {
    }
    if (i == n) {
      return s;
    }
  }
  return NULL;
}

void kefo__log_scrub(char *msg, size_t cap) {
  char *cut = NULL, *p;
  size_t i, at;

  if (msg == NULL || cap == 0) {
    return;
  }
  p = strpbrk(msg, "\r\n");
  if (p) {
    *p = '\0';
  }
  for (i = 0; i < sizeof(markers) / sizeof(markers[0]); ++i) {
    p = find_ci(msg, markers[i]);
    if (p && (cut == NULL || p < cut)) {
      cut = p;
    }
  }
  if (cut) {
    /* The marker goes too: "[redacted]" in its place, as room allows. */
    at = (size_t)(cut - msg);
    if (at + sizeof(redacted) > cap) {
      at = cap >= sizeof(redacted) ? cap - sizeof(redacted) : 0;
    }
    snprintf(msg + at, cap - at, "%s", redacted);
  }
  for (p = msg; *p; ++p) {
    if ((unsigned char)*p < 0x20 || *p == 0x7f) {
      *p = ' ';
    }
  }
}

/* Where the value after the marker at |p| ends: the next line break,
   quote, ampersand, comma or space after it. */
static char *value_end(char *p) {
  return p + strcspn(p, "\r\n'\"&, ");
}

void kefo__log_redact_values(char *msg, size_t cap) {
  static const char *const keys[] = {
      "x-amz-security-token", "signature=", "credential=", "authorization:"};
  size_t i, len, rl = sizeof(redacted) - 1;
  char *p, *v, *e;

  if (msg == NULL || cap == 0) {
    return;
  }
  for (i = 0; i < sizeof(keys) / sizeof(keys[0]); ++i) {
    for (p = find_ci(msg, keys[i]); p; p = find_ci(v + rl, keys[i])) {
      v = p + strlen(keys[i]);
      v += strspn(v, ":= ");
      if (i == 3) {
        /* "Authorization: AWS4-HMAC-SHA256 Credential=..., ...": the
           whole header value, to its line's end. */
        e = v + strcspn(v, "\r\n");
      } else {
        e = value_end(v);
      }
      len = strlen(e);
      if ((size_t)(v - msg) + rl + len + 1 > cap) {
        /* No room to keep what follows: the text ends with the marker
           (as much of it as fits). */
        snprintf(v, cap - (size_t)(v - msg), "%s", redacted);
        return;
      }
      memmove(v + rl, e, len + 1);
      memcpy(v, redacted, rl);
    }
  }
}

void kefo__log_emit(const kefo_log *l, kefo_log_level lvl, const char *event,
                    const char *shard, const char *fmt, ...) {
  char msg[KEFO_LOG_MESSAGE_MAX];
  va_list ap;

  if (!KEFO_LOG_ON(l, lvl)) {
    return;
  }
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  kefo__log_scrub(msg, sizeof(msg));
  l->fn(lvl, event, shard, msg, l->user_data);
}

const char *kefo__log_cause(char *buf, size_t cap, int code,
                            const kefo_error_info *info) {
  const char *type, *msg = "";
  size_t n;

  if (info) {
    code = info->code ? info->code : code;
    msg = info->message ? info->message : "";
  }
  type = info && info->aws_type ? info->aws_type : kefo_strerror(code);
  n = (size_t)snprintf(buf, cap, "%s", type);
  if (info && info->operation && n < cap) {
    n += (size_t)snprintf(buf + n, cap - n, " on %s", info->operation);
  }
  if (info && info->http_status && n < cap) {
    n += (size_t)snprintf(buf + n, cap - n, " (HTTP %d)", info->http_status);
  }
  if (msg[0] && n < cap) {
    snprintf(buf + n, cap - n, ": %s", msg);
  }
  /* Scrubbed here too: a cause may be copied into a message that is
     longer than a line's cut would catch. */
  kefo__log_scrub(buf, cap);
  return buf;
}

const char *kefo_log_level_name(kefo_log_level level) {
  static const char *const names[] = {"?", "error", "warn", "info", "debug"};

  return (int)level >= 1 && (int)level <= 4 ? names[level] : "?";
}
