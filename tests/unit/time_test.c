/*
 * base/time.c: the ISO 8601 reader, its strict core and each widening
 * flag, every day of 24 centuries against a day counter, and the flag
 * sets the two callers (credentials, config) pass.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include <kefo/kefo.h>

#include "aws/credentials.h"
#include "base/time.h"
#include "runtime/config.h"
#include "tests/unit/suites.h"

#define DAY_MS INT64_C(86400000)
/* 2025-07-09T22:13:20Z. */
#define T0 INT64_C(1752099200000)

static int parse(const char *s, unsigned flags, int64_t *ms) {
  return kefo__time_parse_iso8601(s, strlen(s), flags, ms);
}

static void test_core(void) {
  static const struct {
    const char *s;
    int64_t ms;
  } good[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"2025-07-09T22:13:20Z", T0},
      {"2025-07-09t22:13:20z", T0},
      {"2025-07-09T22:13:20.5Z", T0 + 500},
      {"2025-07-09T22:13:20.05Z", T0 + 50},
      {"2025-07-09T22:13:20.123Z", T0 + 123},
      {"2025-07-09T22:13:20.123456789Z", T0 + 123},
      {"2025-07-09T22:13:20.999999Z", T0 + 999},
      {"2025-07-10T00:13:20+02:00", T0},
      {"2025-07-10T00:13:20+0200", T0},
      {"2025-07-09T20:13:20-02:00", T0},
      {"2025-07-09T20:13:20-0200", T0},
      {"2025-07-10T03:43:20+05:30", T0},
      {"2025-07-09T22:13:20+00:00", T0},
      {"2025-07-09T22:13:20-00:00", T0},
      {"2025-07-09T22:13:20.250+02:00", T0 - 2 * 3600000 + 250},
      {"2025-07-09T22:13:20+23:59", T0 - (23 * 60 + 59) * 60000},
      {"9999-12-31T23:59:59.999Z", INT64_C(253402300799999)},
      {"2000-02-29T00:00:00Z", INT64_C(951782400000)},
      {"2024-02-29T00:00:00Z", INT64_C(1709164800000)},
  };
  static const char *const bad[] = {
      "",
      "2023",
      "2025-07-09",
      "2025-07-09T",
      "2025-07-09T22:13",
      "2025-07-09T22:13:20",   /* no zone */
      "2025-07-09T22:13:20.5", /* no zone */
      "2025-07-09 22:13:20Z",  /* space: a flag */
      "2025-07-09_22:13:20Z",
      "2025-07-09T22:13:20.Z",           /* fraction without digits */
      "2025-07-09T22:13:20.1234567890Z", /* 10 digits: a flag */
      "2025-07-09T22:13:20,5Z",
      "2025-07-09T22:13:20Zjunk",
      "2025-07-09T22:13:20ZZ",
      "2025-07-09T22:13:20+2:00",
      "2025-07-09T22:13:20+02",
      "2025-07-09T22:13:20+02:0",
      "2025-07-09T22:13:20+02:000",
      "2025-07-09T22:13:20+02::00",
      "2025-07-09T22:13:20+24:00",
      "2025-07-09T22:13:20+02:60",
      "2025-07-09T22:13:20 Z",
      "2023-00-14T22:13:20Z",
      "2023-13-14T22:13:20Z",
      "2023-11-00T22:13:20Z",
      "2023-11-31T22:13:20Z",
      "2025-07-09T24:00:00Z",
      "2025-07-09T22:60:20Z",
      "2025-07-09T22:13:60Z", /* not at minute 59 */
      "2016-12-31T23:59:60Z", /* a leap second: a flag */
      "2025-07-09T22:13:61Z",
      "1969-12-31T23:59:59Z", /* before 1970: a flag */
      "2O23-11-14T22:13:20Z",
      "+2025-07-09T22:13:20Z",
      "-2025-07-09T22:13:20Z",
      "23-11-14T22:13:20Z",
      "2023-1-14T22:13:20Z",
      "2023-11-4T22:13:20Z",
      "2025-07-09T2:13:20Z",
      "2023/11/14T22:13:20Z",
      "2025-07-09T22-13-20Z",
      " 2025-07-09T22:13:20Z",
  };
  size_t i;
  int64_t ms;

  for (i = 0; i < sizeof(good) / sizeof(good[0]); ++i) {
    ms = -1;
    CU_ASSERT_EQUAL(parse(good[i].s, 0, &ms), 0);
    if (ms != good[i].ms) {
      fprintf(stderr, "%s: %lld\n", good[i].s, (long long)ms);
    }
    CU_ASSERT_EQUAL(ms, good[i].ms);
  }
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    ms = 42;
    if (parse(bad[i], 0, &ms) != KEFO_ERR_INVALID_ARGUMENT) {
      fprintf(stderr, "accepted: %s\n", bad[i]);
      CU_FAIL("a bad time was accepted");
    }
    /* Left as it was. */
    CU_ASSERT_EQUAL(ms, 42);
  }
}

static void test_bounds(void) {
  int64_t ms = 0;

  CU_ASSERT_EQUAL(kefo__time_parse_iso8601(NULL, 20, 0, &ms),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__time_parse_iso8601("2025-07-09T22:13:20Z", 20, 0, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  /* The length bounds the read: no NUL needed, and nothing past it. */
  CU_ASSERT_EQUAL(
      kefo__time_parse_iso8601("2025-07-09T22:13:20Zxyz", 20, 0, &ms), 0);
  CU_ASSERT_EQUAL(ms, T0);
  CU_ASSERT_EQUAL(
      kefo__time_parse_iso8601("2025-07-09T22:13:20.5Z", 21, 0, &ms),
      KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(
      kefo__time_parse_iso8601("2025-07-09T22:13:20+02:00", 24, 0, &ms),
      KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__time_parse_iso8601("2025-07-09T22:13:20Z", 0, 0, &ms),
                  KEFO_ERR_INVALID_ARGUMENT);
}

static void test_flags(void) {
  int64_t ms;

  CU_ASSERT_EQUAL(parse("2025-07-09 22:13:20Z", KEFO_TIME_SPACE, &ms), 0);
  CU_ASSERT_EQUAL(ms, T0);
  CU_ASSERT_EQUAL(parse("2025-07-09  22:13:20Z", KEFO_TIME_SPACE, &ms),
                  KEFO_ERR_INVALID_ARGUMENT);

  CU_ASSERT_EQUAL(parse("2016-12-31T23:59:60Z", KEFO_TIME_LEAP_SECOND, &ms), 0);
  CU_ASSERT_EQUAL(ms, INT64_C(1483228799000));
  CU_ASSERT_EQUAL(parse("2016-12-31T23:59:60.5Z", KEFO_TIME_LEAP_SECOND, &ms),
                  0);
  CU_ASSERT_EQUAL(ms, INT64_C(1483228799500));
  /* A leap second in another zone still ends a minute. */
  CU_ASSERT_EQUAL(
      parse("2017-01-01T01:59:60+02:00", KEFO_TIME_LEAP_SECOND, &ms), 0);
  CU_ASSERT_EQUAL(ms, INT64_C(1483228799000));
  CU_ASSERT_EQUAL(parse("2016-12-31T23:58:60Z", KEFO_TIME_LEAP_SECOND, &ms),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(parse("2016-12-31T23:59:61Z", KEFO_TIME_LEAP_SECOND, &ms),
                  KEFO_ERR_INVALID_ARGUMENT);

  CU_ASSERT_EQUAL(
      parse("2025-07-09T22:13:20.1234567890123Z", KEFO_TIME_LONG_FRACTION, &ms),
      0);
  CU_ASSERT_EQUAL(ms, T0 + 123);
  CU_ASSERT_EQUAL(parse("2025-07-09T22:13:20.Z", KEFO_TIME_LONG_FRACTION, &ms),
                  KEFO_ERR_INVALID_ARGUMENT);

  CU_ASSERT_EQUAL(parse("1969-12-31T23:59:59Z", KEFO_TIME_BEFORE_1970, &ms), 0);
  CU_ASSERT_EQUAL(ms, -1000);
  CU_ASSERT_EQUAL(parse("0000-01-01T00:00:00Z", KEFO_TIME_BEFORE_1970, &ms), 0);
  CU_ASSERT_EQUAL(ms, INT64_C(-719528) * DAY_MS);
  /* Year 0 is a leap year (proleptic Gregorian), 1900 is not. */
  CU_ASSERT_EQUAL(parse("0000-02-29T00:00:00Z", KEFO_TIME_BEFORE_1970, &ms), 0);
  CU_ASSERT_EQUAL(parse("1900-02-29T00:00:00Z", KEFO_TIME_BEFORE_1970, &ms),
                  KEFO_ERR_INVALID_ARGUMENT);
  /* The year is checked as written, not after the offset. */
  CU_ASSERT_EQUAL(parse("1969-12-31T23:30:00-01:00", 0, &ms),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(
      parse("1969-12-31T23:30:00-01:00", KEFO_TIME_BEFORE_1970, &ms), 0);
  CU_ASSERT_EQUAL(ms, 30 * 60000);

  /* The union accepts each. */
  CU_ASSERT_EQUAL(parse("1969-12-31 23:59:60.1234567890Z", KEFO_TIME_ANY, &ms),
                  0);
  CU_ASSERT_EQUAL(ms, -1000 + 123);
}

/* Every day from 0000-01-01 to 2400-12-31, written out by a day counter
   that knows nothing of days_from_civil, at midnight and at 23:59:59.999
   in a zone, and the day after each month's last refused. */
static void test_every_day(void) {
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int64_t day = INT64_C(-719528), ms;
  int y, m, d, bad = 0;
  char s[64];

  for (y = 0; y <= 2400 && bad < 10; ++y) {
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    for (m = 1; m <= 12; ++m) {
      int last = mdays[m - 1] + (m == 2 && leap);
      for (d = 1; d <= last; ++d, ++day) {
        snprintf(s, sizeof(s), "%04d-%02d-%02dT00:00:00Z", y, m, d);
        if (parse(s, KEFO_TIME_BEFORE_1970, &ms) != 0 || ms != day * DAY_MS) {
          fprintf(stderr, "%s\n", s);
          ++bad;
        }
        snprintf(s, sizeof(s), "%04d-%02d-%02dT23:59:59.999-01:30", y, m, d);
        if (parse(s, KEFO_TIME_BEFORE_1970, &ms) != 0 ||
            ms != (day + 1) * DAY_MS + 90 * 60000 - 1) {
          fprintf(stderr, "%s\n", s);
          ++bad;
        }
      }
      snprintf(s, sizeof(s), "%04d-%02d-%02dT00:00:00Z", y, m, last + 1);
      if (parse(s, KEFO_TIME_ANY, &ms) == 0) {
        fprintf(stderr, "accepted %s\n", s);
        ++bad;
      }
    }
  }
  CU_ASSERT_EQUAL(bad, 0);
}

/* The flag sets of the two callers keep what each took before base/time.c:
   the credential documents a leap second and long fractions, the config a
   space and early years (then refused by the key's range). */
static void test_callers(void) {
  kefo_config *cfg = NULL;
  int64_t ms;
  char err[256];

  CU_ASSERT_EQUAL(kefo__credentials_parse_time("2016-12-31T23:59:60Z", 20, &ms),
                  0);
  CU_ASSERT_EQUAL(
      kefo__credentials_parse_time("2025-07-09T22:13:20.1234567890Z", 31, &ms),
      0);
  CU_ASSERT_EQUAL(kefo__credentials_parse_time("2025-07-09 22:13:20Z", 20, &ms),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT_EQUAL(
      kefo__credentials_parse_time("1969-12-31T23:30:00-01:00", 25, &ms),
      KEFO_ERR_BAD_RESPONSE);

  CU_ASSERT_EQUAL_FATAL(kefo_config_new(&cfg), 0);
  CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_INIT_TIMESTAMP,
                                   "2025-07-09 22:13:20Z", err, sizeof(err)),
                  0);
  CU_ASSERT_EQUAL(kefo__config_get_time_ms(cfg, KEFO_CFG_INIT_TIMESTAMP), T0);
  CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_INIT_TIMESTAMP,
                                   "1969-12-31T23:30:00-01:00", err,
                                   sizeof(err)),
                  0);
  CU_ASSERT_EQUAL(kefo__config_get_time_ms(cfg, KEFO_CFG_INIT_TIMESTAMP),
                  30 * 60000);
  CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_INIT_TIMESTAMP,
                                   "2016-12-31T23:59:60Z", err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_INIT_TIMESTAMP,
                                   "2025-07-09T22:13:20.1234567890Z", err,
                                   sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_INIT_TIMESTAMP,
                                   "1969-12-31T23:59:59Z", err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT(strstr(err, "between 1970 and 9999") != NULL);
  kefo_config_del(cfg);
}

int kefo_add_time_suite(void) {
  CU_pSuite s = CU_add_suite("time", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "core", test_core) ||
      !CU_add_test(s, "bounds", test_bounds) ||
      !CU_add_test(s, "flags", test_flags) ||
      !CU_add_test(s, "every_day", test_every_day) ||
      !CU_add_test(s, "callers", test_callers)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
