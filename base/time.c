/*
 * The ISO 8601 reader of base/time.h: a left-to-right scan over fixed
 * fields, then range checks and a day count without gmtime, timegm or the
 * process's time zone.
 */
#include "base/time.h"

#include <kefo/kefo.h>

#define MAX_FRACTION_DIGITS 9

/* Reads exactly |n| decimal digits at |*p| and moves past them. */
static int fixed(const char **p, const char *end, int n, int *out) {
  int v = 0, i;

  if (end - *p < n) {
    return -1;
  }
  for (i = 0; i < n; ++i) {
    char c = (*p)[i];
    if (c < '0' || c > '9') {
      return -1;
    }
    v = v * 10 + (c - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

/* Takes |c| when it is next. */
static int take(const char **p, const char *end, char c) {
  if (*p < end && **p == c) {
    ++*p;
    return 1;
  }
  return 0;
}

/* An optional ".digits" as milliseconds, truncated: AWS writes 3 or 6
   digits and nothing here is finer than a millisecond. */
static int fraction(const char **p, const char *end, unsigned flags, int *ms) {
  int n = 0;

  *ms = 0;
  if (!take(p, end, '.')) {
    return 0;
  }
  for (; *p < end && **p >= '0' && **p <= '9'; ++*p, ++n) {
    if (n < 3) {
      *ms = *ms * 10 + (**p - '0');
    }
  }
  if (n == 0 ||
      (n > MAX_FRACTION_DIGITS && !(flags & KEFO_TIME_LONG_FRACTION))) {
    return -1;
  }
  for (; n < 3; ++n) {
    *ms *= 10;
  }
  return 0;
}

/* "Z", or "+hh:mm" / "+hhmm" with either sign, as seconds east of UTC. */
static int zone(const char **p, const char *end, int *east_s) {
  int neg, oh, om;

  if (take(p, end, 'Z') || take(p, end, 'z')) {
    *east_s = 0;
    return 0;
  }
  if (*p >= end || (**p != '+' && **p != '-')) {
    return -1;
  }
  neg = **p == '-';
  ++*p;
  if (fixed(p, end, 2, &oh)) {
    return -1;
  }
  (void)take(p, end, ':');
  if (fixed(p, end, 2, &om) || oh > 23 || om > 59) {
    return -1;
  }
  *east_s = (oh * 60 + om) * 60 * (neg ? -1 : 1);
  return 0;
}

static int days_in_month(int y, int m) {
  static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

  return m == 2 && leap ? 29 : dm[m - 1];
}

/* Days from 1970-01-01 to a proleptic Gregorian date, counted in 400-year
   eras that start on 1 March, so the leap day ends each year and no
   month table is needed. */
static int64_t days_from_civil(int64_t y, int m, int d) {
  int64_t era, yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = y - era * 400;
  doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int kefo__time_parse_iso8601(const char *s, size_t len, unsigned flags,
                             int64_t *epoch_ms) {
  const char *p = s, *end;
  int y, mo, d, h, mi, sec, ms, east_s;

  if (s == NULL || epoch_ms == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  end = s + len;
  if (fixed(&p, end, 4, &y) || !take(&p, end, '-') || fixed(&p, end, 2, &mo) ||
      !take(&p, end, '-') || fixed(&p, end, 2, &d) ||
      !(take(&p, end, 'T') || take(&p, end, 't') ||
        ((flags & KEFO_TIME_SPACE) && take(&p, end, ' '))) ||
      fixed(&p, end, 2, &h) || !take(&p, end, ':') || fixed(&p, end, 2, &mi) ||
      !take(&p, end, ':') || fixed(&p, end, 2, &sec) ||
      fraction(&p, end, flags, &ms) || zone(&p, end, &east_s) || p != end) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if ((y < 1970 && !(flags & KEFO_TIME_BEFORE_1970)) || mo < 1 || mo > 12 ||
      d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  /* A leap second ends a minute; ":60" anywhere else is garbage. Epoch
     time has no room for it, so it counts as the second before. */
  if (sec == 60 && mi == 59 && (flags & KEFO_TIME_LEAP_SECOND)) {
    sec = 59;
  } else if (sec > 59) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  *epoch_ms = ((days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) -
               east_s) *
                  1000 +
              ms;
  return 0;
}
