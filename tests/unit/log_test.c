/*
 * The log hook's core: the level filter, no argument evaluated and
 * nothing formatted without a hook, the message cut to one line and
 * scrubbed of anything that could carry a secret, and the cause line.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "base/log.h"
#include "tests/unit/suites.h"

static int calls;
static kefo_log_level got_level;
static char got_event[64], got_shard[64], got_msg[KEFO_LOG_MESSAGE_MAX + 8];
static int got_null_shard;

static void hook(kefo_log_level level, const char *event, const char *shard,
                 const char *message, void *ud) {
  ++calls;
  CU_ASSERT_PTR_EQUAL(ud, &calls);
  got_level = level;
  snprintf(got_event, sizeof(got_event), "%s", event);
  got_null_shard = shard == NULL;
  snprintf(got_shard, sizeof(got_shard), "%s", shard ? shard : "");
  snprintf(got_msg, sizeof(got_msg), "%s", message);
}

static int evaluated;

/* An argument with a side effect: it shows whether KEFO_LOG evaluated
   (and so formatted) its arguments. */
static int touch(void) {
  return ++evaluated;
}

static void test_levels(void) {
  kefo_log l = {hook, KEFO_LOG_WARN, &calls};

  calls = evaluated = 0;
  KEFO_LOG(&l, KEFO_LOG_ERROR, "e", "shardId-1", "n=%d", touch());
  CU_ASSERT_EQUAL(calls, 1);
  CU_ASSERT_EQUAL(got_level, KEFO_LOG_ERROR);
  CU_ASSERT_STRING_EQUAL(got_event, "e");
  CU_ASSERT_STRING_EQUAL(got_shard, "shardId-1");
  CU_ASSERT_STRING_EQUAL(got_msg, "n=1");
  KEFO_LOG(&l, KEFO_LOG_WARN, "w", NULL, "n=%d", touch());
  CU_ASSERT_EQUAL(calls, 2);
  CU_ASSERT(got_null_shard);
  CU_ASSERT_STRING_EQUAL(got_msg, "n=2");
  /* Above the level: not called, the argument not even evaluated. */
  KEFO_LOG(&l, KEFO_LOG_INFO, "i", NULL, "n=%d", touch());
  KEFO_LOG(&l, KEFO_LOG_DEBUG, "d", NULL, "n=%d", touch());
  CU_ASSERT_EQUAL(calls, 2);
  CU_ASSERT_EQUAL(evaluated, 2);
  /* kefo__log_emit filters too, for callers that skip the macro. */
  kefo__log_emit(&l, KEFO_LOG_INFO, "i", NULL, "x");
  CU_ASSERT_EQUAL(calls, 2);
  l.level = KEFO_LOG_DEBUG;
  KEFO_LOG(&l, KEFO_LOG_DEBUG, "d", NULL, "n=%d", touch());
  CU_ASSERT_EQUAL(calls, 3);
}

static void test_no_hook(void) {
  kefo_log none = {NULL, KEFO_LOG_DEBUG, NULL};
  const kefo_log *null_log = NULL;

  evaluated = 0;
  KEFO_LOG(&none, KEFO_LOG_ERROR, "e", NULL, "%d", touch());
  KEFO_LOG(null_log, KEFO_LOG_ERROR, "e", NULL, "%d", touch());
  kefo__log_emit(&none, KEFO_LOG_ERROR, "e", NULL, "x");
  kefo__log_emit(NULL, KEFO_LOG_ERROR, "e", NULL, "x");
  CU_ASSERT_EQUAL(evaluated, 0);
  CU_ASSERT(!KEFO_LOG_ON(&none, KEFO_LOG_ERROR));
  CU_ASSERT(!KEFO_LOG_ON(null_log, KEFO_LOG_ERROR));
}

static void test_scrub(void) {
  kefo_log l = {hook, KEFO_LOG_DEBUG, &calls};
  char buf[64];

  /* AWS's answer to a bad signature: the canonical request follows on
     the next lines, the session token among its headers. */
  KEFO_LOG(&l, KEFO_LOG_WARN, "retry", NULL, "%s",
           "The request signature we calculated does not match.\n\n"
           "x-amz-security-token:FQoGZXIvYXdzEXAMPLETOKEN\n");
  CU_ASSERT_STRING_EQUAL(got_msg,
                         "The request signature we calculated does not "
                         "match.");
  KEFO_LOG(&l, KEFO_LOG_WARN, "retry", NULL, "bad header Authorization: %s",
           "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/x, Signature=abc");
  CU_ASSERT_STRING_EQUAL(got_msg, "bad header [redacted]");
  KEFO_LOG(&l, KEFO_LOG_WARN, "retry", NULL, "q?X-Amz-Security-Token=%s",
           "SECRET");
  CU_ASSERT_STRING_EQUAL(got_msg, "q?[redacted]");
  CU_ASSERT(strstr(got_msg, "SECRET") == NULL);
  /* Case does not matter; tabs become spaces. */
  snprintf(buf, sizeof(buf), "a\tb sessionToken=xyz");
  kefo__log_scrub(buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "a b [redacted]");
  /* The marker fits even when the cut is at the very end of a full
     buffer. */
  memset(buf, 'a', sizeof(buf) - 1);
  memcpy(buf + sizeof(buf) - 6, "Signa", 5);
  buf[sizeof(buf) - 1] = '\0';
  kefo__log_scrub(buf, sizeof(buf));
  CU_ASSERT_EQUAL(strlen(buf), sizeof(buf) - 1);
  /* "Signa" is no marker: untouched. */
  CU_ASSERT(strstr(buf, "[redacted]") == NULL);
  memset(buf, 'a', sizeof(buf) - 1);
  memcpy(buf + sizeof(buf) - 12, "signature=", 10);
  buf[sizeof(buf) - 1] = '\0';
  kefo__log_scrub(buf, sizeof(buf));
  CU_ASSERT(strlen(buf) < sizeof(buf));
  CU_ASSERT(strstr(buf, "[redacted]") != NULL);
  CU_ASSERT(strstr(buf, "signature=") == NULL);
}

static void test_redact_values(void) {
  char buf[256], tiny[24];

  snprintf(buf, sizeof(buf),
           "Canonical String 'POST\n/\n\nhost:h\nx-amz-security-token:"
           "TOKEN123\nx-amz-date:d\n' rest");
  kefo__log_redact_values(buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "Canonical String 'POST\n/\n\nhost:h\n"
                              "x-amz-security-token:[redacted]\nx-amz-date:"
                              "d\n' rest");
  snprintf(buf, sizeof(buf),
           "GET /?X-Amz-Security-Token=T1&X-Amz-Signature=S2"
           "&X-Amz-Credential=AKID%%2F1 x");
  kefo__log_redact_values(buf, sizeof(buf));
  CU_ASSERT_STRING_EQUAL(buf, "GET /?X-Amz-Security-Token=[redacted]&X-Amz-"
                              "Signature=[redacted]&X-Amz-Credential=[redacted]"
                              " x");
  snprintf(buf, sizeof(buf),
           "h\nAuthorization: AWS4-HMAC-SHA256 Credential=A/B, Signature=C\nz");
  kefo__log_redact_values(buf, sizeof(buf));
  CU_ASSERT(strstr(buf, "A/B") == NULL && strstr(buf, "=C") == NULL);
  CU_ASSERT(strstr(buf, "\nz") != NULL);
  /* A short buffer: the text ends with (part of) the marker. */
  snprintf(tiny, sizeof(tiny), "Signature=ab cdefghijk");
  kefo__log_redact_values(tiny, 16);
  CU_ASSERT_STRING_EQUAL(tiny, "Signature=[reda");
}

static void test_long(void) {
  kefo_log l = {hook, KEFO_LOG_DEBUG, &calls};
  char big[2000];

  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  KEFO_LOG(&l, KEFO_LOG_INFO, "e", NULL, "%s", big);
  CU_ASSERT_EQUAL(strlen(got_msg), KEFO_LOG_MESSAGE_MAX - 1);
}

static void test_cause(void) {
  kefo_error_info info;
  char buf[256];

  memset(&info, 0, sizeof(info));
  info.code = KEFO_ERR_AWS;
  info.aws_type = "LimitExceededException";
  info.operation = "SubscribeToShard";
  info.http_status = 400;
  info.message = "Rate exceeded";
  CU_ASSERT_STRING_EQUAL(
      kefo__log_cause(buf, sizeof(buf), 0, &info),
      "LimitExceededException on SubscribeToShard (HTTP 400): Rate exceeded");
  /* No info: the code's name. */
  CU_ASSERT_STRING_EQUAL(
      kefo__log_cause(buf, sizeof(buf), KEFO_ERR_TIMEOUT, NULL),
      kefo_strerror(KEFO_ERR_TIMEOUT));
  /* A message that carries a signature is scrubbed. */
  info.message = "Signature=deadbeef expired";
  kefo__log_cause(buf, sizeof(buf), 0, &info);
  CU_ASSERT(strstr(buf, "deadbeef") == NULL);
  /* Cut short, still terminated. */
  info.message = "Rate exceeded";
  kefo__log_cause(buf, 12, 0, &info);
  CU_ASSERT_EQUAL(strlen(buf), 11);
}

static void test_level_names(void) {
  CU_ASSERT_STRING_EQUAL(kefo_log_level_name(KEFO_LOG_ERROR), "error");
  CU_ASSERT_STRING_EQUAL(kefo_log_level_name(KEFO_LOG_WARN), "warn");
  CU_ASSERT_STRING_EQUAL(kefo_log_level_name(KEFO_LOG_INFO), "info");
  CU_ASSERT_STRING_EQUAL(kefo_log_level_name(KEFO_LOG_DEBUG), "debug");
  CU_ASSERT_STRING_EQUAL(kefo_log_level_name((kefo_log_level)0), "?");
  CU_ASSERT_STRING_EQUAL(kefo_log_level_name((kefo_log_level)9), "?");
}

int kefo_add_log_suite(void) {
  CU_pSuite s = CU_add_suite("log", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "levels", test_levels) ||
      !CU_add_test(s, "no hook", test_no_hook) ||
      !CU_add_test(s, "scrub", test_scrub) ||
      !CU_add_test(s, "long", test_long) ||
      !CU_add_test(s, "redact values", test_redact_values) ||
      !CU_add_test(s, "cause", test_cause) ||
      !CU_add_test(s, "level names", test_level_names)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
