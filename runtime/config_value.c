/*
 * Configuration values: the syntax of each type of key (durations and
 * sizes with units, ISO 8601 times, URLs, names and ARNs) and its limits.
 * Kept apart from the key table (runtime/config_keys.c) and the file
 * reader (runtime/config.c), which only hand it one trimmed value and the
 * key it is for.
 */
#include "runtime/config_value.h"

#include <stdio.h>
#include <string.h>

#include <kefo/kefo.h>

#include "base/error.h"
#include "base/time.h"

static int is_digit(int c) {
  return c >= '0' && c <= '9';
}

/* Equal ignoring ASCII case; |b| is NUL-terminated. */
int kefo__config_value_eq_nocase(const char *a, size_t alen, const char *b) {
  size_t i;

  for (i = 0; i < alen; ++i) {
    if (b[i] == '\0' || kefo__config_lower((unsigned char)a[i]) !=
                            kefo__config_lower((unsigned char)b[i])) {
      return 0;
    }
  }
  return b[alen] == '\0';
}

/* Writes |s| quoted, cut and with unprintable bytes as '?', into |out|
   (at least SHOW_MAX + 6 bytes), for error messages. */
void kefo__config_value_show(char *out, const char *s, size_t len) {
  size_t i, n = len > SHOW_MAX ? SHOW_MAX : len;

  *out++ = '"';
  for (i = 0; i < n; ++i) {
    unsigned char c = (unsigned char)s[i];
    *out++ = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
  }
  if (n < len) {
    memcpy(out, "...", 3);
    out += 3;
  }
  *out++ = '"';
  *out = '\0';
}

/* Levenshtein distance ignoring ASCII case, both at most 128 bytes; any
   answer above |limit| comes back as limit + 1, found early. */
void kefo__config_value_fmt_duration(char *out, size_t outlen, int64_t ms) {
  static const struct {
    int64_t ms;
    const char *unit;
  } units[] = {{MS_DAY, "d"}, {MS_HOUR, "h"}, {MS_MIN, "min"}, {MS_SEC, "s"}};
  size_t i;

  for (i = 0; ms != 0 && i < sizeof(units) / sizeof(units[0]); ++i) {
    if (ms % units[i].ms == 0) {
      snprintf(out, outlen, "%lld%s", (long long)(ms / units[i].ms),
               units[i].unit);
      return;
    }
  }
  snprintf(out, outlen, "%lldms", (long long)ms);
}

void kefo__config_value_fmt_size(char *out, size_t outlen, int64_t n) {
  if (n != 0 && n % MIB == 0) {
    snprintf(out, outlen, "%lldMiB", (long long)(n / MIB));
  } else if (n != 0 && n % KIB == 0) {
    snprintf(out, outlen, "%lldKiB", (long long)(n / KIB));
  } else {
    snprintf(out, outlen, "%lld", (long long)n);
  }
}

/* Reads decimal digits at |*p| into |*out|. Returns 0, -1 (no digit) or
   -2 (above INT64_MAX). */
static int read_uint(const char **p, const char *end, int64_t *out) {
  int64_t v = 0;
  const char *s = *p;

  if (s == end || !is_digit((unsigned char)*s)) {
    return -1;
  }
  for (; s < end && is_digit((unsigned char)*s); ++s) {
    int d = *s - '0';
    if (v > (INT64_MAX - d) / 10) {
      return -2;
    }
    v = v * 10 + d;
  }
  *p = s;
  *out = v;
  return 0;
}

typedef struct unit_def {
  const char *name;
  int64_t mult;
} unit_def;

static const unit_def duration_units[] = {{"", 1},
                                          {"ms", 1},
                                          {"milli", 1},
                                          {"millis", 1},
                                          {"millisecond", 1},
                                          {"milliseconds", 1},
                                          {"s", MS_SEC},
                                          {"sec", MS_SEC},
                                          {"secs", MS_SEC},
                                          {"second", MS_SEC},
                                          {"seconds", MS_SEC},
                                          {"m", MS_MIN},
                                          {"min", MS_MIN},
                                          {"mins", MS_MIN},
                                          {"minute", MS_MIN},
                                          {"minutes", MS_MIN},
                                          {"h", MS_HOUR},
                                          {"hour", MS_HOUR},
                                          {"hours", MS_HOUR},
                                          {"d", MS_DAY},
                                          {"day", MS_DAY},
                                          {"days", MS_DAY},
                                          {NULL, 0}};

/* Flink's MemorySize: every unit is a power of 1024. */
static const unit_def size_units[] = {{"", 1},
                                      {"b", 1},
                                      {"bytes", 1},
                                      {"k", KIB},
                                      {"kb", KIB},
                                      {"kib", KIB},
                                      {"kibibytes", KIB},
                                      {"m", MIB},
                                      {"mb", MIB},
                                      {"mib", MIB},
                                      {"mebibytes", MIB},
                                      {"g", 1024 * MIB},
                                      {"gb", 1024 * MIB},
                                      {"gib", 1024 * MIB},
                                      {"gibibytes", 1024 * MIB},
                                      {NULL, 0}};

/* Returns the multiplier of unit |u| (|ulen| bytes, any case), or -1. */
static int64_t find_unit(const unit_def *units, const char *u, size_t ulen) {
  for (; units->name != NULL; ++units) {
    if (kefo__config_value_eq_nocase(u, ulen, units->name)) {
      return units->mult;
    }
  }
  return -1;
}

/* A number, optional spaces, an optional unit. Returns 0 or -1 (not of
   that form), -2 (overflow), -3 (negative). */
static int parse_with_unit(const char *s, size_t len, const unit_def *units,
                           int64_t *out) {
  const char *p = s, *end = s + len;
  int64_t n, mult;
  int rv;

  if (len > 0 && *s == '-') {
    p = s + 1;
    return read_uint(&p, end, &n) == 0 ? -3 : -1;
  }
  rv = read_uint(&p, end, &n);
  if (rv != 0) {
    return rv;
  }
  while (p < end && (*p == ' ' || *p == '\t')) {
    ++p;
  }
  mult = find_unit(units, p, (size_t)(end - p));
  if (mult < 0) {
    return -1;
  }
  if (n > INT64_MAX / mult) {
    return -2;
  }
  *out = n * mult;
  return 0;
}

/* Reads ".digits" (up to 9) as milliseconds, truncating. */
static int read_fraction(const char **p, const char *end, int64_t *ms) {
  const char *s = *p;
  int n = 0;

  *ms = 0;
  if (s == end || *s != '.') {
    return 0;
  }
  ++s;
  while (s < end && is_digit((unsigned char)*s)) {
    if (n < 3) {
      *ms = *ms * 10 + (*s - '0');
    }
    ++n;
    ++s;
  }
  if (n == 0 || n > 9) {
    return -1;
  }
  for (; n < 3; ++n) {
    *ms *= 10;
  }
  *p = s;
  return 0;
}

/* ISO 8601 with a zone ("2024-05-01T12:00:00.250+02:00", "...Z") or
   epoch seconds with a fraction. Returns 0 or -1. */
static int parse_time(const char *s, size_t len, int64_t *out) {
  const char *p = s, *end = s + len;
  int64_t sec, frac;

  if (len >= 5 && s[4] == '-') {
    /* A space for the 'T' as people write it; years before 1970 parse
       and then fail the key's range with a clearer message. */
    return kefo__time_parse_iso8601(
               s, len, KEFO_TIME_SPACE | KEFO_TIME_BEFORE_1970, out) == 0
               ? 0
               : -1;
  }
  if (read_uint(&p, end, &sec) != 0 || sec > TIME_MAX_MS / MS_SEC ||
      read_fraction(&p, end, &frac) || p != end) {
    return -1;
  }
  *out = sec * MS_SEC + frac;
  return 0;
}

/* The "scheme://authority[/...]" of an endpoint. */
static int check_url(const char *s, size_t len, const char **why) {
  const char *p, *end = s + len, *host_end, *colon = NULL;
  size_t skip;

  if (len >= 8 && kefo__config_value_eq_nocase(s, 8, "https://")) {
    skip = 8;
  } else if (len >= 7 && kefo__config_value_eq_nocase(s, 7, "http://")) {
    skip = 7;
  } else {
    *why = "is not an http:// or https:// URL";
    return -1;
  }
  if (memchr(s, ' ', len) != NULL) {
    *why = "must not contain spaces";
    return -1;
  }
  p = s + skip;
  for (host_end = p; host_end < end && *host_end != '/' && *host_end != '?' &&
                     *host_end != '#';
       ++host_end) {
    if (*host_end == '@') {
      *why = "must not hold user information";
      return -1;
    }
    if (*host_end == ':') {
      colon = host_end;
    } else if (*host_end == ']') {
      colon = NULL;
    }
  }
  if (host_end == p || colon == p) {
    *why = "has no host";
    return -1;
  }
  if (colon != NULL) {
    const char *q = colon + 1;
    int64_t port;
    if (read_uint(&q, host_end, &port) != 0 || q != host_end || port < 1 ||
        port > 65535) {
      *why = "has an invalid port";
      return -1;
    }
  }
  return 0;
}

static int name_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) ||
         c == '_' || c == '.' || c == '-';
}

/* Checks text |s| against |k|'s rule; returns 0 or -1 with |*why|. */
static int check_str(const kefo_config_key_def *k, const char *s, size_t len,
                     const char **why) {
  size_t i, colons = 0;

  for (i = 0; i < len; ++i) {
    unsigned char c = (unsigned char)s[i];
    int ok;
    switch (k->rule) {
    case S_PATH:
      ok = 1;
      break;
    case S_TOKEN:
    case S_ARN:
      ok = c != ' ';
      colons += c == ':';
      break;
    case S_NAME:
    case S_TABLE:
      ok = name_char(c);
      break;
    case S_REGION:
      ok = (c >= 'a' && c <= 'z') || is_digit(c) || c == '-';
      break;
    case S_SESSION:
    default:
      ok = name_char(c) || c == '+' || c == '=' || c == ',' || c == '@';
      break;
    }
    if (!ok) {
      switch (k->rule) {
      case S_NAME:
      case S_TABLE:
        *why = "may hold only letters, digits, '_', '.' and '-'";
        break;
      case S_REGION:
        *why = "may hold only lowercase letters, digits and '-'";
        break;
      case S_SESSION:
        *why = "may hold only letters, digits and _+=,.@-";
        break;
      case S_PATH:
      case S_TOKEN:
      case S_ARN:
      default:
        *why = "must not contain spaces";
        break;
      }
      return -1;
    }
  }
  if (k->rule == S_ARN &&
      (len < 4 || memcmp(s, "arn:", 4) != 0 || colons < 5)) {
    *why = "is not an ARN (arn:partition:service:region:account:resource)";
    return -1;
  }
  return 0;
}

/* An enum or boolean: one of |k|'s choices, in any case. */
static int parse_choice(const kefo_config_key_def *k, const char *v, size_t len,
                        const char *shown, int64_t *num, const char **canon,
                        char *why, size_t whylen) {
  char list[160];
  size_t i, n = 0;

  for (i = 0; k->choices[i] != NULL; ++i) {
    if (kefo__config_value_eq_nocase(v, len, k->choices[i])) {
      *num = (int64_t)i;
      *canon = k->choices[i];
      return 0;
    }
  }
  list[0] = '\0';
  for (i = 0; k->choices[i] != NULL; ++i) {
    n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
                          k->choices[i]);
  }
  kefo__set_err(why, whylen, "%s is not one of %s", shown, list);
  return KEFO_ERR_CONFIG;
}

static int parse_duration(const kefo_config_key_def *k, const char *v,
                          size_t len, const char *shown, int64_t *num,
                          char *why, size_t whylen) {
  char lo[32], hi[32];
  int rv;

  rv = parse_with_unit(v, len, duration_units, num);
  kefo__config_value_fmt_duration(lo, sizeof(lo), k->min);
  kefo__config_value_fmt_duration(hi, sizeof(hi), k->max);
  if (rv == -3) {
    kefo__set_err(why, whylen, "%s must not be negative", shown);
  } else if (rv == -1) {
    kefo__set_err(why, whylen,
                  "%s is not a duration (such as 500ms, 10s, 5min, 1h, or "
                  "milliseconds)",
                  shown);
  } else if (rv == -2 || *num > k->max) {
    kefo__set_err(why, whylen, "%s is more than %s", shown, hi);
  } else if (*num < k->min) {
    kefo__set_err(why, whylen, "%s is less than %s", shown, lo);
  } else {
    return 0;
  }
  return KEFO_ERR_CONFIG;
}

static int parse_size(const kefo_config_key_def *k, const char *v, size_t len,
                      const char *shown, int64_t *num, char *why,
                      size_t whylen) {
  char lo[32], hi[32];
  int rv;

  rv = parse_with_unit(v, len, size_units, num);
  kefo__config_value_fmt_size(lo, sizeof(lo), k->min);
  kefo__config_value_fmt_size(hi, sizeof(hi), k->max);
  if (rv == -3) {
    kefo__set_err(why, whylen, "%s must not be negative", shown);
  } else if (rv == -1) {
    kefo__set_err(why, whylen,
                  "%s is not a size (such as 1048576, 64KiB or 1MiB)", shown);
  } else if (rv == -2 || *num > k->max) {
    kefo__set_err(why, whylen, "%s is more than %s bytes", shown, hi);
  } else if (*num < k->min) {
    kefo__set_err(why, whylen, "%s is less than %s", shown, lo);
  } else {
    return 0;
  }
  return KEFO_ERR_CONFIG;
}

static int parse_timestamp(const kefo_config_key_def *k, const char *v,
                           size_t len, const char *shown, int64_t *num,
                           char *why, size_t whylen) {
  if (parse_time(v, len, num) != 0) {
    kefo__set_err(why, whylen,
                  "%s is not a timestamp (ISO 8601 with a zone, such as "
                  "2024-05-01T12:00:00.250Z, or epoch seconds such as "
                  "1714564800.25)",
                  shown);
    return KEFO_ERR_CONFIG;
  }
  if (*num < k->min || *num > k->max) {
    kefo__set_err(why, whylen, "%s is not between 1970 and 9999", shown);
    return KEFO_ERR_CONFIG;
  }
  return 0;
}

int kefo__config_value_parse(const kefo_config_key_def *k, const char *v,
                             size_t len, int64_t *num, const char **canon,
                             char *why, size_t whylen) {
  char shown[SHOW_MAX + 8];
  const char *reason = NULL;
  size_t i;

  *num = 0;
  *canon = NULL;
  /* A secret is never shown, not even in part. */
  if (k->flags & F_SECRET) {
    strcpy(shown, "the value");
  } else {
    kefo__config_value_show(shown, v, len);
  }
  if (len == 0) {
    kefo__set_err(why, whylen, "the value must not be empty");
    return KEFO_ERR_CONFIG;
  }
  for (i = 0; i < len; ++i) {
    unsigned char c = (unsigned char)v[i];
    if (c < 0x20 || c == 0x7f) {
      kefo__set_err(why, whylen, "%s contains a control character", shown);
      return KEFO_ERR_CONFIG;
    }
  }
  switch (k->type) {
  case T_STR:
  case T_URL:
    if ((int64_t)len < k->min || (int64_t)len > k->max) {
      kefo__set_err(why, whylen, "%s must be %lld to %lld bytes long", shown,
                    (long long)k->min, (long long)k->max);
      return KEFO_ERR_CONFIG;
    }
    if (k->type == T_URL ? check_url(v, len, &reason)
                         : check_str(k, v, len, &reason)) {
      kefo__set_err(why, whylen, "%s %s", shown, reason);
      return KEFO_ERR_CONFIG;
    }
    return 0;
  case T_ENUM:
  case T_BOOL:
    return parse_choice(k, v, len, shown, num, canon, why, whylen);
  case T_DURATION:
    return parse_duration(k, v, len, shown, num, why, whylen);
  case T_SIZE:
    return parse_size(k, v, len, shown, num, why, whylen);
  case T_INT: {
    const char *p = v;
    if (read_uint(&p, v + len, num) != 0 || p != v + len || *num < k->min ||
        *num > k->max) {
      kefo__set_err(why, whylen, "%s is not an integer from %lld to %lld",
                    shown, (long long)k->min, (long long)k->max);
      return KEFO_ERR_CONFIG;
    }
    return 0;
  }
  case T_TIME:
  default:
    return parse_timestamp(k, v, len, shown, num, why, whylen);
  }
}
