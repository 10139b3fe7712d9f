/*
 * Configuration tests: every key's default, good and bad values of each
 * type, unknown keys and their suggestions, the key=value file grammar and
 * its file:line errors, secrets kept out of every text, the rules between
 * keys, and a failing-allocator run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "runtime/config.h"
#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"

/* Also declared in tests/unit/suites.h once the suite is registered there. */
int kefo_add_config_suite(void);

#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

static kefo_config *new_config(void) {
  kefo_config *cfg = NULL;

  CU_ASSERT_FATAL(kefo_config_new(&cfg) == 0 && cfg != NULL);
  return cfg;
}

static int load_text(kefo_config *cfg, const char *text, char *err,
                     size_t errlen) {
  return kefo__config_load_buffer(cfg, (const uint8_t *)text, strlen(text),
                                  "test.conf", err, errlen);
}

static void test_defaults(void) {
  static const struct {
    const char *key, *text;
  } expect[] = {
      {KEFO_CFG_READER_TYPE, "EFO"},
      {KEFO_CFG_EFO_LIFECYCLE, "JOB_MANAGED"},
      {KEFO_CFG_EFO_SUBSCRIPTION_TIMEOUT, "60s"},
      {KEFO_CFG_EFO_EVENT_MAX_BYTES, "16MiB"},
      {KEFO_CFG_EFO_EVENT_WHOLE_MAX_BYTES, "128KiB"},
      {KEFO_CFG_EFO_DEREGISTER_TIMEOUT, "10s"},
      {KEFO_CFG_EFO_DESCRIBE_MIN_DELAY, "1s"},
      {KEFO_CFG_EFO_DESCRIBE_MAX_DELAY, "60s"},
      {KEFO_CFG_EFO_DESCRIBE_MAX_ATTEMPTS, "100"},
      {KEFO_CFG_INIT_POSITION, "LATEST"},
      {KEFO_CFG_SHARD_DISCOVERY_INTERVAL, "10s"},
      {KEFO_CFG_GET_RECORDS_MAX, "10000"},
      {KEFO_CFG_EMPTY_FETCH_INTERVAL, "250ms"},
      {KEFO_CFG_NONEMPTY_FETCH_INTERVAL, "200ms"},
      {KEFO_CFG_SHARD_BUFFER_MAX_BYTES, "4MiB"},
      {KEFO_CFG_KPL_DEAGGREGATE, "true"},
      {KEFO_CFG_LEASE_STORE, "file"},
      {KEFO_CFG_LEASE_FILE, "kefo.leases"},
      {KEFO_CFG_LEASE_DURATION, "10s"},
      {KEFO_CFG_LEASE_MAX_PER_WORKER, "2147483647"},
      {KEFO_CFG_CHECKPOINT_INTERVAL, "5s"},
      {KEFO_CFG_WATERMARK_OUT_OF_ORDERNESS, "0ms"},
      {KEFO_CFG_WATERMARK_IDLE_TIMEOUT, "0ms"},
      {KEFO_CFG_WATERMARK_MAX_DRIFT, "0ms"},
      {KEFO_CFG_HTTP_REQUEST_TIMEOUT, "30s"},
      {KEFO_CFG_HTTP_CONNECT_TIMEOUT, "10s"},
      {KEFO_CFG_CREDENTIALS_PROVIDER, "AUTO"},
      {KEFO_CFG_RETRY_MIN_DELAY, "300ms"},
      {KEFO_CFG_RETRY_MAX_DELAY, "1s"},
      {KEFO_CFG_RETRY_MAX_ATTEMPTS, "50"},
      {KEFO_CFG_SINK_BATCH_MAX_SIZE, "500"},
      {KEFO_CFG_SINK_MAX_INFLIGHT, "50"},
      {KEFO_CFG_SINK_MAX_BUFFERED, "10000"},
      {KEFO_CFG_SINK_BUFFER_MAX_BYTES, "64MiB"},
      {KEFO_CFG_SINK_FLUSH_SIZE, "5MiB"},
      {KEFO_CFG_SINK_FLUSH_TIMEOUT, "5s"},
      {KEFO_CFG_SINK_FAIL_ON_ERROR, "false"},
      {KEFO_CFG_SINK_AGGREGATION, "true"},
      {KEFO_CFG_SINK_AGGREGATION_MAX_SIZE, "51200"},
      {KEFO_CFG_SINK_AGGREGATION_MAX_COUNT, "4294967295"},
      {KEFO_CFG_SINK_RECORD_TTL, "30s"},
      {KEFO_CFG_SINK_RATE_LIMIT, "150"},
      {KEFO_CFG_SINK_ORDERED, "false"},
      {KEFO_CFG_SINK_PROTOCOL, "cbor"},
      {KEFO_CFG_SINK_STOP_TIMEOUT, "30s"},
  };
  kefo_config *cfg = new_config();
  size_t i, j, with_default = 0;

  for (i = 0; i < sizeof(expect) / sizeof(expect[0]); ++i) {
    const char *v = kefo_config_get(cfg, expect[i].key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT_STRING_EQUAL(v, expect[i].text);
  }
  /* Every key is listed, readable, unset, and its default (if any) is a
     value the key itself accepts. */
  CU_ASSERT(kefo__config_key_count() >= 40);
  CU_ASSERT_PTR_NULL(kefo__config_key_name(kefo__config_key_count()));
  for (i = 0; i < kefo__config_key_count(); ++i) {
    const char *key = kefo__config_key_name(i);
    const char *v = kefo_config_get(cfg, key);
    CU_ASSERT_PTR_NOT_NULL_FATAL(v);
    CU_ASSERT(!kefo_config_is_set(cfg, key));
    if (*v != '\0') {
      char copy[64];
      ++with_default;
      snprintf(copy, sizeof(copy), "%s", v);
      CU_ASSERT_EQUAL(kefo_config_set(cfg, key, copy), 0);
      CU_ASSERT_STRING_EQUAL(kefo_config_get(cfg, key), v);
      CU_ASSERT_EQUAL(kefo_config_set(cfg, key, NULL), 0);
    }
    for (j = 0; j < i; ++j) {
      CU_ASSERT(strcmp(key, kefo__config_key_name(j)) != 0);
    }
  }
  CU_ASSERT_EQUAL(with_default, sizeof(expect) / sizeof(expect[0]));
  /* Keys without a default read "" and NULL from the typed getter. */
  CU_ASSERT_STRING_EQUAL(kefo_config_get(cfg, KEFO_CFG_AWS_REGION), "");
  CU_ASSERT_PTR_NULL(kefo__config_get_str(cfg, KEFO_CFG_AWS_REGION));
  CU_ASSERT_STRING_EQUAL(kefo_config_get(cfg, KEFO_CFG_SECRET_KEY), "");
  CU_ASSERT_PTR_NULL(kefo_config_get(cfg, "no.such.key"));

  /* Typed defaults. */
  CU_ASSERT_EQUAL(kefo__config_get_enum(cfg, KEFO_CFG_READER_TYPE),
                  KEFO_READER_EFO);
  CU_ASSERT_EQUAL(kefo__config_get_enum(cfg, KEFO_CFG_EFO_LIFECYCLE),
                  KEFO_LIFECYCLE_JOB_MANAGED);
  CU_ASSERT_EQUAL(kefo__config_get_enum(cfg, KEFO_CFG_INIT_POSITION),
                  KEFO_POSITION_LATEST);
  CU_ASSERT_EQUAL(kefo__config_get_enum(cfg, KEFO_CFG_LEASE_STORE),
                  KEFO_LEASE_STORE_FILE);
  CU_ASSERT_EQUAL(kefo__config_get_enum(cfg, KEFO_CFG_CREDENTIALS_PROVIDER),
                  KEFO_CREDENTIALS_AUTO);
  CU_ASSERT_EQUAL(kefo__config_get_ms(cfg, KEFO_CFG_EFO_SUBSCRIPTION_TIMEOUT),
                  60000);
  CU_ASSERT_EQUAL(kefo__config_get_ms(cfg, KEFO_CFG_EFO_DEREGISTER_TIMEOUT),
                  10000);
  CU_ASSERT_EQUAL(kefo__config_get_ms(cfg, KEFO_CFG_EFO_DESCRIBE_MIN_DELAY),
                  1000);
  CU_ASSERT_EQUAL(kefo__config_get_ms(cfg, KEFO_CFG_EFO_DESCRIBE_MAX_DELAY),
                  60000);
  CU_ASSERT_EQUAL(kefo__config_get_int(cfg, KEFO_CFG_EFO_DESCRIBE_MAX_ATTEMPTS),
                  100);
  CU_ASSERT_EQUAL(kefo__config_get_ms(cfg, KEFO_CFG_SHARD_DISCOVERY_INTERVAL),
                  10000);
  CU_ASSERT_EQUAL(kefo__config_get_int(cfg, KEFO_CFG_GET_RECORDS_MAX), 10000);
  CU_ASSERT_EQUAL(kefo__config_get_ms(cfg, KEFO_CFG_EMPTY_FETCH_INTERVAL), 250);
  CU_ASSERT_EQUAL(kefo__config_get_ms(cfg, KEFO_CFG_NONEMPTY_FETCH_INTERVAL),
                  200);
  CU_ASSERT_EQUAL(kefo__config_get_size(cfg, KEFO_CFG_SHARD_BUFFER_MAX_BYTES),
                  4u * 1024 * 1024);
  CU_ASSERT_EQUAL(kefo__config_get_bool(cfg, KEFO_CFG_KPL_DEAGGREGATE), 1);
  CU_ASSERT_STRING_EQUAL(kefo__config_get_str(cfg, KEFO_CFG_LEASE_FILE),
                         "kefo.leases");
  CU_ASSERT_EQUAL(kefo__config_get_ms(cfg, KEFO_CFG_LEASE_DURATION), 10000);
  CU_ASSERT_EQUAL(kefo__config_get_ms(cfg, KEFO_CFG_CHECKPOINT_INTERVAL), 5000);
  CU_ASSERT_EQUAL(kefo__config_get_ms(cfg, KEFO_CFG_WATERMARK_MAX_DRIFT), 0);
  CU_ASSERT_EQUAL(kefo__config_get_ms(cfg, KEFO_CFG_RETRY_MIN_DELAY), 300);
  CU_ASSERT_EQUAL(kefo__config_get_ms(cfg, KEFO_CFG_RETRY_MAX_DELAY), 1000);
  CU_ASSERT_EQUAL(kefo__config_get_int(cfg, KEFO_CFG_RETRY_MAX_ATTEMPTS), 50);
  CU_ASSERT_EQUAL(kefo__config_get_time_ms(cfg, KEFO_CFG_INIT_TIMESTAMP), -1);

  /* A getter asked about an unknown key gives 0 or NULL. (Asking about a
     key of another type is a bug in kefo and stops on an assertion.) */
  CU_ASSERT_EQUAL(kefo__config_get_int(cfg, "source.nope"), 0);
  CU_ASSERT_PTR_NULL(kefo__config_get_str(cfg, "source.nope"));
  CU_ASSERT_EQUAL(kefo__config_get_enum(NULL, KEFO_CFG_READER_TYPE), 0);
  kefo_config_del(cfg);
}

static void test_durations(void) {
  static const struct {
    const char *text;
    int64_t ms;
  } good[] = {
      {"500ms", 500},        {"10s", 10000},    {"5min", 300000},
      {"1h", 3600000},       {"2d", 172800000}, {"1500", 1500},
      {"10 s", 10000},       {"3m", 180000},    {"  7S  ", 7000},
      {"2 minutes", 120000}, {"0", 0},          {"1 second", 1000},
  };
  static const char *const bad[] = {"",
                                    "-5s",
                                    "ten",
                                    "1.5s",
                                    "5 parsecs",
                                    "s",
                                    "10s5",
                                    "1e3",
                                    "+5s",
                                    "99999999999999999999ms",
                                    "9223372036854775807d"};
  kefo_config *cfg = new_config();
  char err[256];
  size_t i;

  for (i = 0; i < sizeof(good) / sizeof(good[0]); ++i) {
    CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_WATERMARK_OUT_OF_ORDERNESS,
                                     good[i].text, err, sizeof(err)),
                    0);
    CU_ASSERT_STRING_EQUAL(err, "");
    CU_ASSERT_EQUAL(
        kefo__config_get_ms(cfg, KEFO_CFG_WATERMARK_OUT_OF_ORDERNESS),
        good[i].ms);
  }
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, KEFO_CFG_EFO_DEREGISTER_TIMEOUT, "1 second"), 0);
  /* The text reads back as set (trimmed). */
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_CHECKPOINT_INTERVAL, " 2min "),
                  0);
  CU_ASSERT_STRING_EQUAL(kefo_config_get(cfg, KEFO_CFG_CHECKPOINT_INTERVAL),
                         "2min");
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_EFO_DEREGISTER_TIMEOUT,
                                     bad[i], err, sizeof(err)),
                    KEFO_ERR_CONFIG);
    CU_ASSERT(strncmp(err, KEFO_CFG_EFO_DEREGISTER_TIMEOUT ": ",
                      strlen(KEFO_CFG_EFO_DEREGISTER_TIMEOUT) + 2) == 0);
    /* A failed set leaves the earlier value. */
    CU_ASSERT_EQUAL(kefo__config_get_ms(cfg, KEFO_CFG_EFO_DEREGISTER_TIMEOUT),
                    1000);
  }
  kefo_config_set2(cfg, KEFO_CFG_EFO_DEREGISTER_TIMEOUT, "-5s", err,
                   sizeof(err));
  CU_ASSERT_STRING_EQUAL(err, "source.efo.deregister.timeout: \"-5s\" must "
                              "not be negative");
  kefo_config_set2(cfg, KEFO_CFG_EFO_DEREGISTER_TIMEOUT, "", err, sizeof(err));
  CU_ASSERT_STRING_EQUAL(err, "source.efo.deregister.timeout: the value "
                              "must not be empty");
  kefo_config_set2(cfg, KEFO_CFG_EFO_DEREGISTER_TIMEOUT,
                   "99999999999999999999ms", err, sizeof(err));
  CU_ASSERT_STRING_EQUAL(err, "source.efo.deregister.timeout: "
                              "\"99999999999999999999ms\" is more than 10min");
  /* Limits per key. */
  CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_SHARD_DISCOVERY_INTERVAL,
                                   "50ms", err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "source.shard.discovery.interval: \"50ms\" is "
                              "less than 100ms");
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_RETRY_MIN_DELAY, "0"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, KEFO_CFG_EFO_SUBSCRIPTION_TIMEOUT, "11min"),
      KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, KEFO_CFG_EFO_SUBSCRIPTION_TIMEOUT, "10min"), 0);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_WATERMARK_MAX_DRIFT, "7d"), 0);
  CU_ASSERT_EQUAL(kefo__config_get_ms(cfg, KEFO_CFG_WATERMARK_MAX_DRIFT),
                  7 * 86400000LL);
  /* NULL puts the default back. */
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_WATERMARK_MAX_DRIFT, NULL), 0);
  CU_ASSERT_EQUAL(kefo__config_get_ms(cfg, KEFO_CFG_WATERMARK_MAX_DRIFT), 0);
  CU_ASSERT(!kefo_config_is_set(cfg, KEFO_CFG_WATERMARK_MAX_DRIFT));
  kefo_config_del(cfg);
}

static void test_numbers(void) {
  kefo_config *cfg = new_config();
  char err[256];

  /* Integers. */
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_GET_RECORDS_MAX, "1"), 0);
  CU_ASSERT_EQUAL(kefo__config_get_int(cfg, KEFO_CFG_GET_RECORDS_MAX), 1);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_GET_RECORDS_MAX, "10000"), 0);
  CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_GET_RECORDS_MAX, "10001", err,
                                   sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "source.shard.get-records.max-record-count: "
                              "\"10001\" is not an integer from 1 to 10000");
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_GET_RECORDS_MAX, "0"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_GET_RECORDS_MAX, "-1"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_GET_RECORDS_MAX, "12abc"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_RETRY_MAX_ATTEMPTS,
                                  "99999999999999999999999"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, KEFO_CFG_RETRY_MAX_ATTEMPTS, "2147483648"),
      KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, KEFO_CFG_RETRY_MAX_ATTEMPTS, "2147483647"), 0);
  CU_ASSERT_EQUAL(kefo__config_get_int(cfg, KEFO_CFG_GET_RECORDS_MAX), 10000);

  /* Sizes. */
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, KEFO_CFG_SHARD_BUFFER_MAX_BYTES, "1048576"), 0);
  CU_ASSERT_EQUAL(kefo__config_get_size(cfg, KEFO_CFG_SHARD_BUFFER_MAX_BYTES),
                  1048576u);
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, KEFO_CFG_SHARD_BUFFER_MAX_BYTES, "64KiB"), 0);
  CU_ASSERT_EQUAL(kefo__config_get_size(cfg, KEFO_CFG_SHARD_BUFFER_MAX_BYTES),
                  65536u);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_SHARD_BUFFER_MAX_BYTES, "8 mb"),
                  0);
  CU_ASSERT_EQUAL(kefo__config_get_size(cfg, KEFO_CFG_SHARD_BUFFER_MAX_BYTES),
                  8u << 20);
  CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_SHARD_BUFFER_MAX_BYTES, "1KiB",
                                   err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "source.shard.buffer.max-bytes: \"1KiB\" is "
                              "less than 64KiB");
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_SHARD_BUFFER_MAX_BYTES, "2GiB"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, KEFO_CFG_SHARD_BUFFER_MAX_BYTES, "1.5MiB"),
      KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, KEFO_CFG_SHARD_BUFFER_MAX_BYTES, "1 parsec"),
      KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, KEFO_CFG_SHARD_BUFFER_MAX_BYTES, "-64KiB"),
      KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_SHARD_BUFFER_MAX_BYTES,
                                  "99999999999999999GiB"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo__config_get_size(cfg, KEFO_CFG_SHARD_BUFFER_MAX_BYTES),
                  8u << 20);

  /* Booleans, any case, read back canonical. */
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_KPL_DEAGGREGATE, "FALSE"), 0);
  CU_ASSERT_EQUAL(kefo__config_get_bool(cfg, KEFO_CFG_KPL_DEAGGREGATE), 0);
  CU_ASSERT_STRING_EQUAL(kefo_config_get(cfg, KEFO_CFG_KPL_DEAGGREGATE),
                         "false");
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_KPL_DEAGGREGATE, "True"), 0);
  CU_ASSERT_EQUAL(kefo__config_get_bool(cfg, KEFO_CFG_KPL_DEAGGREGATE), 1);
  CU_ASSERT_EQUAL(
      kefo_config_set2(cfg, KEFO_CFG_KPL_DEAGGREGATE, "yes", err, sizeof(err)),
      KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "source.kpl.deaggregate: \"yes\" is not one "
                              "of false, true");
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_KPL_DEAGGREGATE, "1"),
                  KEFO_ERR_CONFIG);
  kefo_config_del(cfg);
}

static void test_enums(void) {
  kefo_config *cfg = new_config();
  char err[256];

  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_READER_TYPE, "POLLING"), 0);
  CU_ASSERT_EQUAL(kefo__config_get_enum(cfg, KEFO_CFG_READER_TYPE),
                  KEFO_READER_POLLING);
  /* Case is ignored, as in Flink; the canonical spelling reads back. */
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_EFO_LIFECYCLE, "self_managed"),
                  0);
  CU_ASSERT_EQUAL(kefo__config_get_enum(cfg, KEFO_CFG_EFO_LIFECYCLE),
                  KEFO_LIFECYCLE_SELF_MANAGED);
  CU_ASSERT_STRING_EQUAL(kefo_config_get(cfg, KEFO_CFG_EFO_LIFECYCLE),
                         "SELF_MANAGED");
  CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_EFO_LIFECYCLE, "JOBMANAGED",
                                   err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "source.efo.lifecycle: \"JOBMANAGED\" is not "
                              "one of JOB_MANAGED, SELF_MANAGED");
  CU_ASSERT_EQUAL(kefo__config_get_enum(cfg, KEFO_CFG_EFO_LIFECYCLE),
                  KEFO_LIFECYCLE_SELF_MANAGED);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_INIT_POSITION, "TRIM_HORIZON"),
                  0);
  CU_ASSERT_EQUAL(kefo__config_get_enum(cfg, KEFO_CFG_INIT_POSITION),
                  KEFO_POSITION_TRIM_HORIZON);
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, KEFO_CFG_INIT_POSITION, "AT_SEQUENCE_NUMBER"),
      KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_LEASE_STORE, "DynamoDB"), 0);
  CU_ASSERT_EQUAL(kefo__config_get_enum(cfg, KEFO_CFG_LEASE_STORE),
                  KEFO_LEASE_STORE_DYNAMODB);
  CU_ASSERT_STRING_EQUAL(kefo_config_get(cfg, KEFO_CFG_LEASE_STORE),
                         "dynamodb");
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, KEFO_CFG_CREDENTIALS_PROVIDER, "WEB_IDENTITY_TOKEN"),
      0);
  CU_ASSERT_EQUAL(kefo__config_get_enum(cfg, KEFO_CFG_CREDENTIALS_PROVIDER),
                  KEFO_CREDENTIALS_WEB_IDENTITY_TOKEN);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_CREDENTIALS_PROVIDER, "CUSTOM"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_READER_TYPE, "EFO "), 0);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_READER_TYPE, "EF"),
                  KEFO_ERR_CONFIG);
  kefo_config_del(cfg);
}

static void test_timestamps(void) {
  static const struct {
    const char *text;
    int64_t ms;
  } good[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"2024-05-01T12:00:00Z", 1714564800000LL},
      {"2024-05-01T12:00:00.250Z", 1714564800250LL},
      {"2024-05-01T14:00:00.25+02:00", 1714564800250LL},
      {"2024-05-01T07:30:00-0430", 1714564800000LL},
      {"2024-05-01 12:00:00.123456789z", 1714564800123LL},
      {"2024-02-29T00:00:00Z", 1709164800000LL},
      {"2000-02-29T00:00:00Z", 951782400000LL},
      {"1714564800", 1714564800000LL},
      {"1714564800.25", 1714564800250LL},
      {"1714564800.999999", 1714564800999LL},
      {"9999-12-31T23:59:59.999Z", 253402300799999LL},
  };
  static const char *const bad[] = {
      "2024-05-01T12:00:00", /* no zone */
      "2024-05-01",          /* no time */
      "2024-13-01T00:00:00Z",
      "2024-04-31T00:00:00Z",
      "2023-02-29T00:00:00Z",
      "1900-02-29T00:00:00Z",
      "2024-05-01T24:00:00Z",
      "2024-05-01T12:60:00Z",
      "2024-05-01T12:00:60Z",
      "2024-05-01T12:00:00.Z",
      "2024-05-01T12:00:00+25:00",
      "2024-05-01T12:00:00Zjunk",
      "1969-12-31T23:59:59Z",
      "-1",
      "1714564800.",
      "17145648OO",
      "99999999999999",
      "1.1234567890",
      "yesterday",
      "1970-01-01T00:00:00+00:01",
  };
  kefo_config *cfg = new_config();
  char err[512];
  size_t i;

  for (i = 0; i < sizeof(good) / sizeof(good[0]); ++i) {
    CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_INIT_TIMESTAMP, good[i].text,
                                     err, sizeof(err)),
                    0);
    CU_ASSERT_EQUAL(kefo__config_get_time_ms(cfg, KEFO_CFG_INIT_TIMESTAMP),
                    good[i].ms);
  }
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_INIT_TIMESTAMP, bad[i], err,
                                     sizeof(err)),
                    KEFO_ERR_CONFIG);
    CU_ASSERT(strncmp(err, "source.init.timestamp: \"", 24) == 0);
  }
  CU_ASSERT_EQUAL(kefo__config_get_time_ms(cfg, KEFO_CFG_INIT_TIMESTAMP),
                  253402300799999LL);
  kefo_config_del(cfg);
}

static void test_text(void) {
  kefo_config *cfg = new_config();
  char err[512];

  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_AWS_REGION, "eu-west-1"), 0);
  CU_ASSERT_STRING_EQUAL(kefo__config_get_str(cfg, KEFO_CFG_AWS_REGION),
                         "eu-west-1");
  CU_ASSERT_EQUAL(
      kefo_config_set2(cfg, KEFO_CFG_AWS_REGION, "EU West", err, sizeof(err)),
      KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "aws.region: \"EU West\" may hold only "
                              "lowercase letters, digits and '-'");
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_STREAM_NAME, "orders_v2.x-1"),
                  0);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_STREAM_NAME, "orders/v2"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_EFO_CONSUMER_NAME, "    ", err,
                                   sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "source.efo.consumer.name: the value must not "
                              "be empty");
  {
    char longname[200];
    memset(longname, 'a', 129);
    longname[129] = '\0';
    CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_EFO_CONSUMER_NAME, longname,
                                     err, sizeof(err)),
                    KEFO_ERR_CONFIG);
    /* The value shown is cut. */
    CU_ASSERT_PTR_NOT_NULL(strstr(err, "...\" must be 1 to 128 bytes long"));
  }
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_EFO_CONSUMER_ARN,
                                  "arn:aws:kinesis:us-east-1:123456789012:"
                                  "stream/s/consumer/c:1700000000"),
                  0);
  CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_EFO_CONSUMER_ARN, "consumer/c",
                                   err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "is not an ARN"));
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_ROLE_ARN, "arn:aws:iam"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_ROLE_SESSION_NAME, "kefo@x"),
                  0);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_ROLE_SESSION_NAME, "k"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_ROLE_SESSION_NAME, "a b"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_LEASE_TABLE, "ab"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_LEASE_TABLE, "kefo-leases"), 0);
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, KEFO_CFG_LEASE_FILE, "/var/lib/kefo/my leases"), 0);
  CU_ASSERT_EQUAL(
      kefo_config_set2(cfg, KEFO_CFG_LEASE_FILE, "a\tb\x01", err, sizeof(err)),
      KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "source.lease.file: \"a?b?\" contains a "
                              "control character");
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_LEASE_WORKER_ID, "host-1:42"),
                  0);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_LEASE_WORKER_ID, "host 1"),
                  KEFO_ERR_CONFIG);

  /* Endpoints. */
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_AWS_ENDPOINT,
                                  "https://kinesis.us-east-1.amazonaws.com"),
                  0);
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, KEFO_CFG_AWS_ENDPOINT, "http://127.0.0.1:4567/"), 0);
  CU_ASSERT_STRING_EQUAL(kefo__config_get_str(cfg, KEFO_CFG_AWS_ENDPOINT),
                         "http://127.0.0.1:4567/");
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, KEFO_CFG_AWS_ENDPOINT, "http://[::1]:80"), 0);
  CU_ASSERT_EQUAL(kefo_config_set2(cfg, KEFO_CFG_AWS_ENDPOINT,
                                   "kinesis.local:4567", err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "aws.endpoint: \"kinesis.local:4567\" is not "
                              "an http:// or https:// URL");
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_AWS_ENDPOINT, "https://"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(
      kefo_config_set(cfg, KEFO_CFG_AWS_ENDPOINT, "https://h:99999"),
      KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_AWS_ENDPOINT, "https://h:"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_AWS_ENDPOINT, "https://u:p@h/"),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, KEFO_CFG_AWS_ENDPOINT, "https://a b/"),
                  KEFO_ERR_CONFIG);
  kefo_config_del(cfg);
}

static void test_unknown_keys(void) {
  kefo_config *cfg = new_config();
  char err[256];

  CU_ASSERT_EQUAL(
      kefo_config_set2(cfg, "source.reader.typ", "EFO", err, sizeof(err)),
      KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "unknown key \"source.reader.typ\" (did you "
                              "mean \"source.reader.type\"?)");
  CU_ASSERT_EQUAL(kefo_config_set2(cfg, "AWS.Region", "x", err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "unknown key \"AWS.Region\" (did you mean "
                              "\"aws.region\"?)");
  CU_ASSERT_EQUAL(
      kefo_config_set2(cfg, "aws.retry.min-delay", "1s", err, sizeof(err)),
      KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "unknown key \"aws.retry.min-delay\" (did you "
                              "mean \"retry-strategy.delay.min\"?)");
  CU_ASSERT_EQUAL(
      kefo_config_set2(cfg, "source.efo.consumer.nmae", "c", err, sizeof(err)),
      KEFO_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "\"source.efo.consumer.name\"?"));
  CU_ASSERT_EQUAL(kefo_config_set2(cfg, "foo", "1", err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "unknown key \"foo\"");
  CU_ASSERT_EQUAL(kefo_config_set2(cfg, "", "1", err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_set2(NULL, "aws.region", "x", err, sizeof(err)),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo_config_set(cfg, NULL, "x"), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo_config_new(NULL), KEFO_ERR_INVALID_ARGUMENT);
  {
    /* A very long key: no suggestion, cut in the message. */
    char key[300];
    memset(key, 'x', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    CU_ASSERT_EQUAL(kefo_config_set2(cfg, key, "1", err, sizeof(err)),
                    KEFO_ERR_CONFIG);
    CU_ASSERT(strlen(err) < 80);
  }
  /* A tiny error buffer is still terminated. */
  CU_ASSERT_EQUAL(kefo_config_set2(cfg, "foo", "1", err, 5), KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "unkn");
  kefo_config_del(cfg);
}

static void test_file_grammar(void) {
  static const char text[] = "\xef\xbb\xbf# kefo settings\r\n"
                             "\r\n"
                             "   source.reader.type   =   POLLING   \r\n"
                             "\t# indented comment\n"
                             "aws.region=us-east-1\n"
                             "aws.endpoint = http://localhost:4567/a=b\n"
                             "source.lease.worker-id = w1\n"
                             "source.lease.worker-id = w2\n"
                             "source.polling.max-records = 1\n";
  kefo_config *cfg = new_config();
  char err[512];

  /* The last line is an unknown key: nothing is applied. */
  CU_ASSERT_EQUAL(load_text(cfg, text, err, sizeof(err)), KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err,
                         "test.conf:9: unknown key "
                         "\"source.polling.max-records\" (did you mean "
                         "\"source.shard.get-records.max-record-count\"?)");
  CU_ASSERT(!kefo_config_is_set(cfg, KEFO_CFG_READER_TYPE));
  CU_ASSERT(!kefo_config_is_set(cfg, KEFO_CFG_AWS_REGION));
  /* The value is the rest of the line: no comment after a value. */
  CU_ASSERT_EQUAL(
      load_text(cfg, "aws.endpoint = http://h/ # local\n", err, sizeof(err)),
      KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "test.conf:1: aws.endpoint: \"http://h/ # "
                              "local\" must not contain spaces");

  /* Without the last line everything lands; a later duplicate wins. */
  {
    char copy[sizeof(text)];
    memcpy(copy, text, sizeof(text));
    *strstr(copy, "source.polling") = '\0';
    CU_ASSERT_EQUAL(load_text(cfg, copy, err, sizeof(err)), 0);
    CU_ASSERT_STRING_EQUAL(err, "");
  }
  CU_ASSERT_EQUAL(kefo__config_get_enum(cfg, KEFO_CFG_READER_TYPE),
                  KEFO_READER_POLLING);
  CU_ASSERT_STRING_EQUAL(kefo_config_get(cfg, KEFO_CFG_AWS_REGION),
                         "us-east-1");
  CU_ASSERT_STRING_EQUAL(kefo_config_get(cfg, KEFO_CFG_AWS_ENDPOINT),
                         "http://localhost:4567/a=b");
  CU_ASSERT_STRING_EQUAL(kefo_config_get(cfg, KEFO_CFG_LEASE_WORKER_ID), "w2");

  /* Empty input, comments only, no final newline. */
  CU_ASSERT_EQUAL(load_text(cfg, "", err, sizeof(err)), 0);
  CU_ASSERT_EQUAL(load_text(cfg, "#a\n\n  \n#b", err, sizeof(err)), 0);
  CU_ASSERT_EQUAL(load_text(cfg, "aws.region=eu-west-2", err, sizeof(err)), 0);
  CU_ASSERT_STRING_EQUAL(kefo_config_get(cfg, KEFO_CFG_AWS_REGION),
                         "eu-west-2");
  CU_ASSERT_EQUAL(
      kefo__config_load_buffer(cfg, NULL, 0, NULL, err, sizeof(err)), 0);
  CU_ASSERT_EQUAL(
      kefo__config_load_buffer(cfg, NULL, 3, NULL, err, sizeof(err)),
      KEFO_ERR_INVALID_ARGUMENT);
  kefo_config_del(cfg);
}

static void test_file_errors(void) {
  kefo_config *cfg = new_config();
  char err[512], *big;
  size_t n;

  CU_ASSERT_EQUAL(
      load_text(cfg, "# x\naws.region us-east-1\n", err, sizeof(err)),
      KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "test.conf:2: missing '=' (expected key=value)");
  CU_ASSERT_EQUAL(load_text(cfg, "\r\n\r\n = x\r\n", err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "test.conf:3: missing key before '='");
  CU_ASSERT_EQUAL(load_text(cfg, "aws.region=\n", err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "test.conf:1: aws.region: the value must not "
                              "be empty");
  CU_ASSERT_EQUAL(load_text(cfg,
                            "aws.region=us-east-1\n\n"
                            "source.efo.lifecycle=JOBMANAGED\n",
                            err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "test.conf:3: source.efo.lifecycle: "
                              "\"JOBMANAGED\" is not one of JOB_MANAGED, "
                              "SELF_MANAGED");
  CU_ASSERT_EQUAL(load_text(cfg, "source.reader.typ=EFO\n", err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "test.conf:1: unknown key \"source.reader.typ\" "
                              "(did you mean \"source.reader.type\"?)");
  /* A NUL byte. */
  CU_ASSERT_EQUAL(kefo__config_load_buffer(cfg, (const uint8_t *)"a\0=b\n", 5,
                                           "nul.conf", err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "nul.conf:1: NUL byte in the line");

  /* A line at the limit passes the length check; one byte more fails. */
  big = malloc(KEFO_CONFIG_FILE_MAX + 2);
  CU_ASSERT_PTR_NOT_NULL_FATAL(big);
  n = strlen("source.lease.file=");
  memcpy(big, "source.lease.file=", n);
  memset(big + n, 'p', KEFO_CONFIG_LINE_MAX - n);
  big[KEFO_CONFIG_LINE_MAX] = '\n';
  big[KEFO_CONFIG_LINE_MAX + 1] = '\0';
  CU_ASSERT_EQUAL(load_text(cfg, big, err, sizeof(err)), 0);
  CU_ASSERT_EQUAL(strlen(kefo_config_get(cfg, KEFO_CFG_LEASE_FILE)), 4096 - n);
  memcpy(big, "#", 1);
  big[KEFO_CONFIG_LINE_MAX] = 'x';
  strcpy(big + KEFO_CONFIG_LINE_MAX + 1, "\n");
  CU_ASSERT_EQUAL(load_text(cfg, big, err, sizeof(err)), KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "test.conf:1: line longer than 4096 bytes");
  /* CRLF does not count toward the line. */
  big[KEFO_CONFIG_LINE_MAX] = '\r';
  CU_ASSERT_EQUAL(load_text(cfg, big, err, sizeof(err)), 0);

  /* Whole input too large. */
  memset(big, '\n', KEFO_CONFIG_FILE_MAX + 1);
  CU_ASSERT_EQUAL(kefo__config_load_buffer(cfg, (const uint8_t *)big,
                                           KEFO_CONFIG_FILE_MAX, "big.conf",
                                           err, sizeof(err)),
                  0);
  CU_ASSERT_EQUAL(kefo__config_load_buffer(cfg, (const uint8_t *)big,
                                           KEFO_CONFIG_FILE_MAX + 1, "big.conf",
                                           err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "big.conf: larger than 65536 bytes");
  free(big);
  kefo_config_del(cfg);
}

static void write_file(const char *path, const char *text, size_t len) {
  FILE *f = fopen(path, "wb");

  CU_ASSERT_PTR_NOT_NULL_FATAL(f);
  CU_ASSERT_EQUAL(fwrite(text, 1, len, f), len);
  fclose(f);
}

static void test_load_file(void) {
  char dir[] = "/tmp/kefo-config-XXXXXX", path[128], err[512], *big;
  kefo_config *cfg = new_config();

  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/kefo.conf", dir);
  write_file(path,
             "source.stream.name = orders\n"
             "source.efo.consumer.name = kefo-app\n"
             "source.init.position = AT_TIMESTAMP\n"
             "source.init.timestamp = 2024-05-01T12:00:00Z\n",
             strlen("source.stream.name = orders\n"
                    "source.efo.consumer.name = kefo-app\n"
                    "source.init.position = AT_TIMESTAMP\n"
                    "source.init.timestamp = 2024-05-01T12:00:00Z\n"));
  CU_ASSERT_EQUAL(kefo_config_load_file(cfg, path), 0);
  CU_ASSERT_EQUAL(kefo_config_load_file2(cfg, path, err, sizeof(err)), 0);
  CU_ASSERT_STRING_EQUAL(err, "");
  CU_ASSERT_EQUAL(kefo__config_get_time_ms(cfg, KEFO_CFG_INIT_TIMESTAMP),
                  1714564800000LL);
  CU_ASSERT_EQUAL(kefo_config_validate(cfg, err, sizeof(err)), 0);

  write_file(path, "a=1\nsource.efo.lifecycle = JOBMANAGED\n",
             strlen("a=1\nsource.efo.lifecycle = JOBMANAGED\n"));
  CU_ASSERT_EQUAL(kefo_config_load_file2(cfg, path, err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  {
    char expect[256];
    snprintf(expect, sizeof(expect), "%s:1: unknown key \"a\"", path);
    CU_ASSERT_STRING_EQUAL(err, expect);
  }
  CU_ASSERT_EQUAL(kefo_config_load_file(cfg, path), KEFO_ERR_CONFIG);

  big = malloc(KEFO_CONFIG_FILE_MAX + 1);
  CU_ASSERT_PTR_NOT_NULL_FATAL(big);
  memset(big, '#', KEFO_CONFIG_FILE_MAX + 1);
  write_file(path, big, KEFO_CONFIG_FILE_MAX + 1);
  free(big);
  CU_ASSERT_EQUAL(kefo_config_load_file2(cfg, path, err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, ": larger than 65536 bytes"));
  unlink(path);

  CU_ASSERT_EQUAL(kefo_config_load_file2(cfg, path, err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT(strncmp(err, "cannot open ", 12) == 0);
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "No such file"));
  /* A directory opens but cannot be read. */
  CU_ASSERT_EQUAL(kefo_config_load_file2(cfg, dir, err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo_config_load_file2(cfg, NULL, err, sizeof(err)),
                  KEFO_ERR_INVALID_ARGUMENT);
  rmdir(dir);
  /* Nothing from the failed loads stuck. */
  CU_ASSERT_STRING_EQUAL(kefo_config_get(cfg, KEFO_CFG_EFO_LIFECYCLE),
                         "JOB_MANAGED");
  kefo_config_del(cfg);
}

static void test_secret(void) {
  static const char *const bad[] = {"", "has space " SECRET, SECRET "\x01"};
  kefo_config *cfg = new_config(), *copy = NULL;
  char err[512];
  size_t i;

  CU_ASSERT_EQUAL(
      kefo_config_set2(cfg, KEFO_CFG_SECRET_KEY, SECRET, err, sizeof(err)), 0);
  CU_ASSERT_STRING_EQUAL(kefo_config_get(cfg, KEFO_CFG_SECRET_KEY), "****");
  /* Only the internal getter hands it out, to the credentials provider. */
  CU_ASSERT_STRING_EQUAL(kefo__config_get_str(cfg, KEFO_CFG_SECRET_KEY),
                         SECRET);
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    CU_ASSERT_EQUAL(
        kefo_config_set2(cfg, KEFO_CFG_SECRET_KEY, bad[i], err, sizeof(err)),
        KEFO_ERR_CONFIG);
    CU_ASSERT(strncmp(err, KEFO_CFG_SECRET_KEY ": ",
                      strlen(KEFO_CFG_SECRET_KEY) + 2) == 0);
    CU_ASSERT_PTR_NULL(strstr(err, "wJalr"));
    CU_ASSERT_PTR_NULL(strstr(err, "EXAMPLE"));
  }
  /* Too long: the length error does not show it either. */
  {
    char *huge = malloc(2000);
    CU_ASSERT_PTR_NOT_NULL_FATAL(huge);
    memset(huge, 'S', 1999);
    huge[1999] = '\0';
    CU_ASSERT_EQUAL(
        kefo_config_set2(cfg, KEFO_CFG_SECRET_KEY, huge, err, sizeof(err)),
        KEFO_ERR_CONFIG);
    CU_ASSERT_PTR_NULL(strstr(err, "SSS"));
    free(huge);
  }
  /* In a file: errors on the secret's line or others never show it. */
  CU_ASSERT_EQUAL(load_text(cfg,
                            "aws.credentials.provider.basic.secretkey = " SECRET
                            " x\n",
                            err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_PTR_NULL(strstr(err, "wJalr"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "test.conf:1: "));
  CU_ASSERT_EQUAL(load_text(cfg, SECRET "\n", err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_PTR_NULL(strstr(err, "wJalr"));
  CU_ASSERT_EQUAL(
      load_text(cfg, "aws.credentials.provider.basic.secretky=" SECRET "\n",
                err, sizeof(err)),
      KEFO_ERR_CONFIG);
  CU_ASSERT_PTR_NULL(strstr(err, "wJalr"));
  CU_ASSERT_PTR_NOT_NULL(strstr(err, "did you mean"));
  /* Every key read back: the secret is masked. */
  for (i = 0; i < kefo__config_key_count(); ++i) {
    const char *v = kefo_config_get(cfg, kefo__config_key_name(i));
    CU_ASSERT_PTR_NULL(strstr(v, "wJalr"));
  }
  /* A copy masks it too, and still holds it. */
  CU_ASSERT_EQUAL(kefo__config_dup(&copy, cfg, NULL), 0);
  CU_ASSERT_STRING_EQUAL(kefo_config_get(copy, KEFO_CFG_SECRET_KEY), "****");
  CU_ASSERT_STRING_EQUAL(kefo__config_get_str(copy, KEFO_CFG_SECRET_KEY),
                         SECRET);
  /* Validation messages never show it. */
  CU_ASSERT_EQUAL(kefo_config_set(copy, KEFO_CFG_CREDENTIALS_PROVIDER, "BASIC"),
                  0);
  CU_ASSERT_EQUAL(kefo_config_set(copy, KEFO_CFG_STREAM_NAME, "s"), 0);
  CU_ASSERT_EQUAL(kefo_config_set(copy, KEFO_CFG_EFO_CONSUMER_NAME, "c"), 0);
  CU_ASSERT_EQUAL(kefo_config_validate(copy, err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "aws.credentials.provider.basic.accesskeyid: "
                              "required when aws.credentials.provider is "
                              "BASIC");
  kefo_config_del(copy);
  kefo_config_del(cfg);
}

/* A config's text, and the broken rule a check names (NULL: none). */
typedef struct rule_case {
  const char *text, *err;
} rule_case;

typedef int (*rules_fn)(const kefo_config *cfg, char *err, size_t errlen);

/* Each case's text loaded and checked by |check|: its error, or none. */
static void check_rules(const rule_case *cases, size_t n, rules_fn check) {
  char err[512];
  size_t i;

  for (i = 0; i < n; ++i) {
    kefo_config *cfg = new_config();
    int rv = load_text(cfg, cases[i].text, err, sizeof(err));

    CU_ASSERT_EQUAL(rv, 0);
    if (rv == 0) {
      rv = check(cfg, err, sizeof(err));
    }
    kefo_config_del(cfg);
    if (cases[i].err == NULL) {
      CU_ASSERT_EQUAL(rv, 0);
      CU_ASSERT_STRING_EQUAL(err, "");
    } else {
      CU_ASSERT_EQUAL(rv, KEFO_ERR_CONFIG);
      CU_ASSERT_STRING_EQUAL(err, cases[i].err);
    }
  }
}

static void test_validate(void) {
  static const rule_case cases[] = {
      {"", "source.stream.arn: required (or source.stream.name)"},
      {"source.stream.name=s\n",
       "source.efo.consumer.name: required when source.reader.type is EFO "
       "and source.efo.lifecycle is JOB_MANAGED"},
      {"source.stream.name=s\nsource.reader.type=POLLING\n", NULL},
      {"source.stream.arn=arn:aws:kinesis:us-east-1:1:stream/s\n"
       "source.efo.lifecycle=SELF_MANAGED\n",
       "source.efo.consumer.arn: required when source.reader.type is EFO and "
       "source.efo.lifecycle is SELF_MANAGED"},
      {"source.stream.name=s\nsource.efo.lifecycle=SELF_MANAGED\n"
       "source.efo.consumer.arn=arn:aws:kinesis:r:1:stream/s/consumer/c:1\n",
       NULL},
      {"source.stream.name=s\nsource.efo.consumer.name=c\n"
       "source.init.position=AT_TIMESTAMP\n",
       "source.init.timestamp: required when source.init.position is "
       "AT_TIMESTAMP"},
      {"source.stream.name=s\nsource.efo.consumer.name=c\n"
       "source.init.position=AT_TIMESTAMP\nsource.init.timestamp=0\n",
       NULL},
      /* A timestamp with another position is ignored, as in Flink. */
      {"source.stream.name=s\nsource.efo.consumer.name=c\n"
       "source.init.timestamp=0\n",
       NULL},
      {"source.stream.name=s\nsource.reader.type=POLLING\n"
       "source.lease.store=dynamodb\n",
       "source.lease.table: required when source.lease.store is dynamodb"},
      {"source.stream.name=s\nsource.reader.type=POLLING\n"
       "source.lease.store=dynamodb\nsource.lease.table=leases\n",
       NULL},
      {"source.stream.name=s\nsource.reader.type=POLLING\n"
       "aws.credentials.provider=BASIC\n"
       "aws.credentials.provider.basic.accesskeyid=AKID\n",
       "aws.credentials.provider.basic.secretkey: required when "
       "aws.credentials.provider is BASIC"},
      {"source.stream.name=s\nsource.reader.type=POLLING\n"
       "aws.credentials.provider=ASSUME_ROLE\n",
       "aws.credentials.provider.role.arn: required when "
       "aws.credentials.provider is ASSUME_ROLE"},
      {"source.stream.name=s\nsource.reader.type=POLLING\n"
       "retry-strategy.delay.min=5s\n",
       "retry-strategy.delay.min: 5s is more than retry-strategy.delay.max "
       "(1s)"},
      /* An ARN names the region whose endpoint serves its stream. */
      {"source.stream.arn=arn:aws:kinesis:eu-west-1:1:stream/s\n"
       "source.reader.type=POLLING\naws.region=us-east-1\n",
       "source.stream.arn: the ARN is in region eu-west-1, but aws.region is "
       "us-east-1 (calls for a stream go to its own region; leave aws.region "
       "unset to take the ARN's)"},
      {"source.stream.arn=arn:aws:kinesis:eu-west-1:1:stream/s\n"
       "source.reader.type=POLLING\naws.region=eu-west-1\n",
       NULL},
      {"source.stream.arn=arn:aws:kinesis:eu-west-1:1:stream/s\n"
       "source.reader.type=POLLING\n",
       NULL},
      {"source.stream.arn=arn:aws:kinesis::1:stream/s\n"
       "source.reader.type=POLLING\naws.region=us-east-1\n",
       "source.stream.arn: \"arn:aws:kinesis::1:stream/s\" is not a stream's "
       "ARN (arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME)"},
      {"source.stream.name=s\nsource.efo.lifecycle=SELF_MANAGED\n"
       "source.efo.consumer.arn=arn:aws:kinesis::1:stream/s/consumer/c:1\n",
       "source.efo.consumer.arn: \"arn:aws:kinesis::1:stream/s/consumer/c:1\" "
       "is not a stream consumer's ARN (arn:PARTITION:kinesis:REGION:ACCOUNT:"
       "stream/NAME/consumer/NAME:EPOCH)"},
      {"source.stream.arn=arn:aws:kinesis:eu-west-1:1:stream/s\n"
       "source.efo.lifecycle=SELF_MANAGED\n"
       "source.efo.consumer.arn=arn:aws:kinesis:us-west-2:1:stream/s/"
       "consumer/c:1\n",
       "source.efo.consumer.arn: the ARN is in region us-west-2, but "
       "source.stream.arn is in eu-west-1 (a consumer is in its stream's "
       "region)"},
      {"source.stream.name=s\nsource.efo.lifecycle=SELF_MANAGED\n"
       "source.efo.consumer.arn=arn:aws:kinesis:r:1:stream/s/consumer/c:1\n"
       "aws.region=us-east-1\n",
       "source.efo.consumer.arn: the ARN is in region r, but aws.region is "
       "us-east-1 (calls for a stream go to its own region; leave aws.region "
       "unset to take the ARN's)"},
      {"source.stream.name=s\nsource.reader.type=POLLING\n"
       "source.efo.describe.retry-strategy.delay.max=500ms\n",
       "source.efo.describe.retry-strategy.delay.min: 1s is more than "
       "source.efo.describe.retry-strategy.delay.max (500ms)"},
  };
  char err[512];

  check_rules(cases, sizeof(cases) / sizeof(cases[0]), kefo_config_validate);
  CU_ASSERT_EQUAL(kefo_config_validate(NULL, err, sizeof(err)),
                  KEFO_ERR_INVALID_ARGUMENT);
}

/* The producer's rules: its stream named once, a stream's ARN, in
   aws.region's region when that is set. */
static void test_validate_sink(void) {
  static const rule_case cases[] = {
      {"", "sink.stream.arn: required (or sink.stream.name)"},
      {"sink.stream.name=s\n", NULL},
      {"sink.stream.name=s\nsink.stream.arn=arn:aws:kinesis:r:1:stream/s\n",
       "sink.stream.name and sink.stream.arn: give one, not both (the ARN "
       "names the stream already)"},
      {"sink.stream.arn=arn:aws:kinesis:r:1:table/s\n",
       "sink.stream.arn: \"arn:aws:kinesis:r:1:table/s\" is not a stream's "
       "ARN (arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME)"},
      {"sink.stream.arn=arn:aws:kinesis:eu-west-1:1:stream/s\n", NULL},
      /* Without its region field an ARN is not a stream's. */
      {"sink.stream.arn=arn:aws:kinesis::1:stream/s\n",
       "sink.stream.arn: \"arn:aws:kinesis::1:stream/s\" is not a stream's "
       "ARN (arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME)"},
      {"sink.stream.arn=arn:aws:kinesis:Bad_Region:1:stream/s\n",
       "sink.stream.arn: \"arn:aws:kinesis:Bad_Region:1:stream/s\" is not a "
       "stream's ARN (arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME)"},
      {"sink.stream.arn=arn:aws:kinesis:eu-west-1:1:stream/s\n"
       "aws.region=eu-west-1\n",
       NULL},
      {"sink.stream.arn=arn:aws:kinesis:eu-west-1:1:stream/s\n"
       "aws.region=us-east-1\n",
       "sink.stream.arn: the ARN is in region eu-west-1, but aws.region is "
       "us-east-1 (calls for a stream go to its own region; leave aws.region "
       "unset to take the ARN's)"},
      /* The consumer's stream is not the producer's business. */
      {"sink.stream.name=s\n"
       "source.stream.arn=arn:aws:kinesis:eu-west-1:1:stream/s\n"
       "aws.region=us-east-1\n",
       NULL},
  };
  check_rules(cases, sizeof(cases) / sizeof(cases[0]),
              kefo__config_validate_sink);
}

static const char fm_text[] =
    "source.stream.name = orders\n"
    "source.efo.consumer.name = app\n"
    "aws.region = us-east-1\n"
    "aws.region = us-west-2\n"
    "aws.credentials.provider.basic.secretkey = " SECRET "\n";

static int fm_scenario(const kefo_mem *mem, void *arg) {
  kefo_config *cfg = NULL, *copy = NULL;
  const char *path = arg;
  char err[256];
  int rv;

  rv = kefo_config_new2(&cfg, mem);
  if (rv != 0) {
    return rv;
  }
  rv = kefo_config_set2(cfg, KEFO_CFG_LEASE_FILE, "/tmp/x", err, sizeof(err));
  if (rv == 0) {
    rv = kefo__config_load_buffer(cfg, (const uint8_t *)fm_text,
                                  strlen(fm_text), "fm", err, sizeof(err));
  }
  if (rv == 0) {
    rv = kefo_config_load_file2(cfg, path, err, sizeof(err));
  }
  if (rv == 0) {
    rv = kefo__config_dup(&copy, cfg, mem);
  }
  if (rv == 0 && (strcmp(kefo_config_get(copy, KEFO_CFG_AWS_REGION),
                         "eu-central-1") != 0 ||
                  kefo_config_validate(copy, err, sizeof(err)) != 0)) {
    rv = -1;
  }
  if (rv == KEFO_ERR_NOMEM && strcmp(err, "out of memory") != 0) {
    rv = -2;
  }
  kefo_config_del(copy);
  kefo_config_del(cfg);
  return rv;
}

static void test_failmalloc(void) {
  char dir[] = "/tmp/kefo-config-XXXXXX", path[128];
  static const char text[] = "aws.region = eu-central-1\n";

  CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/fm.conf", dir);
  write_file(path, text, strlen(text));
  kefo_failmalloc_run(fm_scenario, path);
  unlink(path);
  rmdir(dir);
}

/* Reads the committed kefo-config(5) into a new string, or NULL. make
   check runs tests in the build tree with $srcdir set; by hand, the
   build tree is the source tree or one of its folders. */
static char *read_config_page(void) {
  const char *dirs[] = {getenv("srcdir"), ".", ".."};
  size_t i;

  for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); ++i) {
    char path[4096];
    FILE *f;
    long n;
    char *text;
    if (dirs[i] == NULL) {
      continue;
    }
    snprintf(path, sizeof(path), "%s/tools/kefo-config.5", dirs[i]);
    f = fopen(path, "rb");
    if (f == NULL) {
      continue;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0 || (text = malloc((size_t)n + 1)) == NULL) {
      fclose(f);
      return NULL;
    }
    text[fread(text, 1, (size_t)n, f)] = '\0';
    fclose(f);
    return text;
  }
  return NULL;
}

/* Every key says what it does, in text the man page can hold as one
   line, and the committed page has every key (tests/unit/config_man_test.sh
   checks that the page is what the table gives). */
static void test_docs(void) {
  char *page = read_config_page();
  size_t i, j;

  CU_ASSERT_PTR_NOT_NULL(page);
  CU_ASSERT_PTR_NULL(kefo__config_key_doc(kefo__config_key_count()));
  CU_ASSERT_PTR_NULL(kefo__config_key_type(kefo__config_key_count()));
  for (i = 0; i < kefo__config_key_count(); ++i) {
    const char *name = kefo__config_key_name(i);
    const char *doc = kefo__config_key_doc(i);
    const char *const *choices = kefo__config_key_choices(i);
    const char *def = kefo__config_key_default(i);
    char limits[256], want[256];
    size_t n = 0;

    CU_ASSERT_PTR_NOT_NULL_FATAL(doc);
    if (doc[0] == '\0' || doc[strlen(doc) - 1] != '.' || doc[0] == '.' ||
        doc[0] == '\'' || strchr(doc, '\n') != NULL ||
        strchr(doc, '\\') != NULL) {
      /* Name the key: a bare assertion would not say which. */
      fprintf(stderr, "\n%s: no doc, or not one line of sentences\n", name);
      CU_FAIL("a key's doc is missing or malformed");
    }
    CU_ASSERT_PTR_NOT_NULL(kefo__config_key_type(i));
    kefo__config_key_limits(i, limits, sizeof(limits));
    CU_ASSERT(limits[0] != '\0');
    if (choices != NULL && def != NULL) {
      for (j = 0; choices[j] != NULL && strcmp(choices[j], def) != 0; ++j) {
      }
      CU_ASSERT_PTR_NOT_NULL(choices[j]);
    }
    /* groff's minus is \-: that is how the page spells the name. */
    n += (size_t)snprintf(want, sizeof(want), "\n.B ");
    for (j = 0; name[j] != '\0' && n + 3 < sizeof(want); ++j) {
      if (name[j] == '-') {
        want[n++] = '\\';
      }
      want[n++] = name[j];
    }
    want[n++] = '\n';
    want[n] = '\0';
    if (page != NULL && strstr(page, want) == NULL) {
      fprintf(stderr, "\n%s: not in tools/kefo-config.5\n", name);
      CU_FAIL("a key is missing from kefo-config(5)");
    }
  }
  CU_ASSERT(kefo__config_key_secret(0) == 0);
  for (i = 0, j = 0; i < kefo__config_key_count(); ++i) {
    j += (size_t)kefo__config_key_secret(i);
  }
  CU_ASSERT_EQUAL(j, 1);
  free(page);
}

int kefo_add_config_suite(void) {
  CU_pSuite s = CU_add_suite("config", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "defaults", test_defaults) ||
      !CU_add_test(s, "durations", test_durations) ||
      !CU_add_test(s, "numbers", test_numbers) ||
      !CU_add_test(s, "enums", test_enums) ||
      !CU_add_test(s, "timestamps", test_timestamps) ||
      !CU_add_test(s, "text", test_text) ||
      !CU_add_test(s, "unknown_keys", test_unknown_keys) ||
      !CU_add_test(s, "file_grammar", test_file_grammar) ||
      !CU_add_test(s, "file_errors", test_file_errors) ||
      !CU_add_test(s, "load_file", test_load_file) ||
      !CU_add_test(s, "secret", test_secret) ||
      !CU_add_test(s, "validate", test_validate) ||
      !CU_add_test(s, "validate_sink", test_validate_sink) ||
      !CU_add_test(s, "docs", test_docs) ||
      !CU_add_test(s, "failmalloc", test_failmalloc)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
