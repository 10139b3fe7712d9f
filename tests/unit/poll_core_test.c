/*
 * The polling state machine, driven with a fake clock: pacing (at most
 * five GetRecords a second, at once while behind, a growing wait when
 * caught up), expired iterators renewed after the last delivered record,
 * throttling backoff, failure, deduplication, shard end, and an answer
 * that could not be delivered being fetched again.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "polling/poll_core.h"
#include "tests/support/fake_clock.h"
#include "tests/unit/suites.h"

/* Drives |c| from an iterator at |now| until it asks for GetRecords. */
static void with_iterator(kefo_poll_core *c, int64_t now, const char *it) {
  CU_ASSERT_EQUAL(kefo__pollcore_next(c, now, NULL), KEFO_POLL_DO_GET_ITERATOR);
  kefo__pollcore_on_call(c, now);
  CU_ASSERT_EQUAL(kefo__pollcore_on_iterator(c, now, it, &kefo_fake_clock), 0);
}

static void test_init(void) {
  kefo_poll_core c;
  char long_id[200];

  memset(long_id, 'x', sizeof(long_id) - 1);
  long_id[sizeof(long_id) - 1] = '\0';
  CU_ASSERT_EQUAL(
      kefo__pollcore_init(&c, "shardId-0", "LATEST", NULL, NULL, 0, 0), 0);
  /* Intervals below the rate limit are raised to it. */
  CU_ASSERT_EQUAL(c.busy_ms, KEFO_POLL_MIN_INTERVAL_MS);
  CU_ASSERT_EQUAL(c.idle_ms, KEFO_POLL_MIN_INTERVAL_MS);
  CU_ASSERT_EQUAL(kefo__pollcore_init(&c, "shardId-0", "AT_SEQUENCE_NUMBER",
                                      "49590338271490256608559692538361571095",
                                      NULL, 200, 5000),
                  0);
  CU_ASSERT_STRING_EQUAL(c.position_value,
                         "49590338271490256608559692538361571095");
  CU_ASSERT_EQUAL(
      kefo__pollcore_init(&c, "shardId-0", "SOMEWHERE", NULL, NULL, 200, 250),
      KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__pollcore_init(&c, "shardId-0", "AFTER_SEQUENCE_NUMBER",
                                      NULL, NULL, 200, 250),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(
      kefo__pollcore_init(&c, long_id, "LATEST", NULL, NULL, 200, 250),
      KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__pollcore_init(&c, "", "LATEST", NULL, NULL, 200, 250),
                  KEFO_ERR_INVALID_ARGUMENT);
}

static void test_pacing(void) {
  kefo_poll_core c;
  const char *full[2] = {"100", "101"};
  int64_t wait, now = 0;
  int i;

  kefo__pollcore_init(&c, "shardId-0", "TRIM_HORIZON", NULL, NULL, 200, 1000);
  with_iterator(&c, now, "it-1");
  CU_ASSERT_EQUAL(kefo__pollcore_next(&c, now, &wait),
                  KEFO_POLL_DO_GET_RECORDS);
  kefo__pollcore_on_call(&c, now);
  /* A call is out: nothing else until it answers. */
  CU_ASSERT_EQUAL(kefo__pollcore_next(&c, now, &wait), KEFO_POLL_DO_WAIT);
  CU_ASSERT_EQUAL(wait, -1);
  /* Behind (a full answer): again as soon as the rate limit allows, and
     not one millisecond sooner, even if the answer took no time. */
  CU_ASSERT_EQUAL(kefo__pollcore_on_records(&c, 5, full, 2, "it-2", 0, 1), 0);
  kefo__pollcore_on_delivered(&c, "101");
  CU_ASSERT_STRING_EQUAL(c.iterator, "it-2");
  CU_ASSERT_EQUAL(kefo__pollcore_next(&c, 5, &wait), KEFO_POLL_DO_WAIT);
  CU_ASSERT_EQUAL(wait, 195);
  CU_ASSERT_EQUAL(kefo__pollcore_next(&c, 199, NULL), KEFO_POLL_DO_WAIT);
  CU_ASSERT_EQUAL(kefo__pollcore_next(&c, 200, NULL), KEFO_POLL_DO_GET_RECORDS);
  /* Caught up (not full, 0 ms behind): 400, 800, then 1000 ms between
     calls, the idle interval. */
  now = 200;
  for (i = 0; i < 4; ++i) {
    static const int64_t expect[4] = {400, 800, 1000, 1000};
    kefo__pollcore_on_call(&c, now);
    CU_ASSERT_EQUAL(
        kefo__pollcore_on_records(&c, now + 3, NULL, 0, "it-3", 0, 0), 0);
    kefo__pollcore_on_delivered(&c, NULL);
    CU_ASSERT_EQUAL(kefo__pollcore_next(&c, now + 3, &wait), KEFO_POLL_DO_WAIT);
    CU_ASSERT_EQUAL(wait + 3, expect[i]);
    now += expect[i];
    CU_ASSERT_EQUAL(kefo__pollcore_next(&c, now, NULL),
                    KEFO_POLL_DO_GET_RECORDS);
  }
  /* Behind again (MillisBehindLatest > 0, not full): back to 200 ms. */
  kefo__pollcore_on_call(&c, now);
  kefo__pollcore_on_records(&c, now, NULL, 0, "it-4", 1500, 0);
  kefo__pollcore_on_delivered(&c, NULL);
  CU_ASSERT_EQUAL(kefo__pollcore_next(&c, now, &wait), KEFO_POLL_DO_WAIT);
  CU_ASSERT_EQUAL(wait, 200);
  CU_ASSERT_EQUAL(c.calls, 6u);
}

/* However answers and errors interleave, two GetRecords calls are never
   less than 200 ms apart: a simulated minute of a behind shard with every
   third call throttled. */
static void test_rate_never_exceeded(void) {
  kefo_poll_core c;
  kefo_retry_strategy rs = {10, 50, 0};
  const char *one[1];
  char seq[32];
  int64_t now = 0, last = -1000, min_gap = 1000000, wait;
  unsigned n = 0, calls = 0;

  kefo_fake_random_value = 0;
  kefo__pollcore_init(&c, "shardId-0", "TRIM_HORIZON", NULL, &rs, 0, 0);
  while (now < 60000) {
    kefo_poll_action a = kefo__pollcore_next(&c, now, &wait);
    if (a == KEFO_POLL_DO_WAIT) {
      CU_ASSERT(wait > 0);
      now += wait > 0 ? wait : 1;
      continue;
    }
    kefo__pollcore_on_call(&c, now);
    if (a == KEFO_POLL_DO_GET_ITERATOR) {
      kefo__pollcore_on_iterator(&c, now + 1, "it", &kefo_fake_clock);
      continue;
    }
    if (now - last < min_gap) {
      min_gap = now - last;
    }
    last = now;
    ++calls;
    if (calls % 3 == 0) {
      kefo__pollcore_on_error(&c, now + 2, KEFO_ERR_AWS,
                              "ProvisionedThroughputExceededException", 1,
                              &kefo_fake_clock);
      continue;
    }
    snprintf(seq, sizeof(seq), "%u", 1000 + n++);
    one[0] = seq;
    kefo__pollcore_on_records(&c, now + 2, one, 1, "it", 100, 0);
    kefo__pollcore_on_delivered(&c, seq);
  }
  printf("\npoll_core: %u GetRecords calls in a simulated minute, closest two "
         "%lld ms apart\n",
         calls, (long long)min_gap);
  CU_ASSERT(min_gap >= KEFO_POLL_MIN_INTERVAL_MS);
  CU_ASSERT(calls <= 60 * 5);
  CU_ASSERT(calls >= 60 * 5 - 1);
}

static void test_expired_iterator(void) {
  kefo_poll_core c;
  const char *seqs[2] = {"500", "501"};

  kefo__pollcore_init(&c, "shardId-0", "LATEST", NULL, NULL, 200, 250);
  /* Expired before anything was delivered: the same starting position. */
  with_iterator(&c, 0, "it-1");
  kefo__pollcore_on_call(&c, 0);
  kefo__pollcore_on_error(&c, 10, KEFO_ERR_AWS, "ExpiredIteratorException", 0,
                          &kefo_fake_clock);
  CU_ASSERT_EQUAL(c.state, KEFO_POLL_NEED_ITERATOR);
  CU_ASSERT_STRING_EQUAL(c.position_type, "LATEST");
  /* At once: no backoff for a routine renewal. */
  CU_ASSERT_EQUAL(kefo__pollcore_next(&c, 10, NULL), KEFO_POLL_DO_GET_ITERATOR);
  with_iterator(&c, 10, "it-2");
  kefo__pollcore_on_call(&c, 300);
  kefo__pollcore_on_records(&c, 300, seqs, 2, "it-3", 0, 0);
  kefo__pollcore_on_delivered(&c, "501");
  kefo__pollcore_on_call(&c, 700);
  kefo__pollcore_on_error(&c, 700, KEFO_ERR_AWS, "ExpiredIteratorException", 0,
                          &kefo_fake_clock);
  CU_ASSERT_STRING_EQUAL(c.position_type, "AFTER_SEQUENCE_NUMBER");
  CU_ASSERT_STRING_EQUAL(c.position_value, "501");
  /* A resume after a long pause renews the same way. */
  with_iterator(&c, 700, "it-4");
  kefo__pollcore_renew(&c);
  CU_ASSERT_EQUAL(c.state, KEFO_POLL_NEED_ITERATOR);
  CU_ASSERT_STRING_EQUAL(c.position_value, "501");
}

static void test_backoff_and_failure(void) {
  kefo_poll_core c;
  kefo_retry_strategy rs = {100, 400, 3};
  int64_t wait;

  kefo_fake_random_value = UINT32_MAX;
  kefo__pollcore_init(&c, "shardId-0", "TRIM_HORIZON", NULL, &rs, 200, 250);
  with_iterator(&c, 0, "it-1");
  kefo__pollcore_on_call(&c, 0);
  kefo__pollcore_on_error(&c, 50, KEFO_ERR_AWS,
                          "ProvisionedThroughputExceededException", 1,
                          &kefo_fake_clock);
  /* The iterator is kept; the wait is the backoff's (at most 100 ms for
     the first failure), and never under the rate limit. */
  CU_ASSERT_EQUAL(c.state, KEFO_POLL_READY);
  CU_ASSERT_STRING_EQUAL(c.iterator, "it-1");
  CU_ASSERT_EQUAL(kefo__pollcore_next(&c, 50, &wait), KEFO_POLL_DO_WAIT);
  CU_ASSERT_EQUAL(wait, 150);
  kefo__pollcore_on_call(&c, 200);
  kefo__pollcore_on_error(&c, 200, KEFO_ERR_TIMEOUT, NULL, 1, &kefo_fake_clock);
  CU_ASSERT_EQUAL(kefo__pollcore_next(&c, 200, &wait), KEFO_POLL_DO_WAIT);
  CU_ASSERT(wait > 0 && wait <= 200);
  /* The third failure in a row spends the three attempts. */
  kefo__pollcore_on_call(&c, 600);
  kefo__pollcore_on_error(&c, 600, KEFO_ERR_TIMEOUT, NULL, 1, &kefo_fake_clock);
  CU_ASSERT_EQUAL(c.state, KEFO_POLL_FAILED);
  CU_ASSERT_EQUAL(kefo__pollcore_next(&c, 10000, &wait), KEFO_POLL_DO_WAIT);
  CU_ASSERT_EQUAL(wait, -1);
  /* Not retryable: failed at once. */
  kefo__pollcore_init(&c, "shardId-0", "TRIM_HORIZON", NULL, &rs, 200, 250);
  kefo__pollcore_on_call(&c, 0);
  kefo__pollcore_on_error(&c, 0, KEFO_ERR_AWS, "AccessDeniedException", 0,
                          &kefo_fake_clock);
  CU_ASSERT_EQUAL(c.state, KEFO_POLL_FAILED);
  /* A success resets the count. */
  kefo__pollcore_init(&c, "shardId-0", "TRIM_HORIZON", NULL, &rs, 200, 250);
  with_iterator(&c, 0, "it");
  kefo__pollcore_on_call(&c, 0);
  kefo__pollcore_on_error(&c, 0, KEFO_ERR_TIMEOUT, NULL, 1, &kefo_fake_clock);
  kefo__pollcore_on_call(&c, 1000);
  kefo__pollcore_on_error(&c, 1000, KEFO_ERR_TIMEOUT, NULL, 1,
                          &kefo_fake_clock);
  kefo__pollcore_on_call(&c, 2000);
  kefo__pollcore_on_records(&c, 2000, NULL, 0, "it", 0, 0);
  kefo__pollcore_on_delivered(&c, NULL);
  CU_ASSERT_EQUAL(c.failures, 0u);
  kefo__pollcore_on_call(&c, 3000);
  kefo__pollcore_on_error(&c, 3000, KEFO_ERR_TIMEOUT, NULL, 1,
                          &kefo_fake_clock);
  CU_ASSERT_EQUAL(c.state, KEFO_POLL_READY);
}

static void test_dedupe_end_and_redelivery(void) {
  kefo_poll_core c;
  const char *a[3] = {"10", "11", "12"};
  const char *again[4] = {"11", "12", "13", "14"};
  const char *bad[2] = {"20", "19"};
  const char *junk[1] = {"1x"};

  kefo__pollcore_init(&c, "shardId-0", "TRIM_HORIZON", NULL, NULL, 200, 250);
  with_iterator(&c, 0, "it-1");
  kefo__pollcore_on_call(&c, 0);
  CU_ASSERT_EQUAL(kefo__pollcore_on_records(&c, 0, a, 3, "it-2", 0, 0), 0);
  /* Not delivered (the application's records were malformed, or no
     memory): the iterator stays, the answer is fetched again. */
  kefo__pollcore_on_error(&c, 0, KEFO_ERR_BAD_RESPONSE, NULL, 1,
                          &kefo_fake_clock);
  CU_ASSERT_STRING_EQUAL(c.iterator, "it-1");
  CU_ASSERT_EQUAL(c.last_delivered[0], '\0');
  kefo__pollcore_on_call(&c, 1000);
  CU_ASSERT_EQUAL(kefo__pollcore_on_records(&c, 1000, a, 3, "it-2", 0, 0), 0);
  kefo__pollcore_on_delivered(&c, "12");
  /* The same records again (a retried call): only the new ones count. */
  kefo__pollcore_on_call(&c, 2000);
  CU_ASSERT_EQUAL(kefo__pollcore_on_records(&c, 2000, again, 4, "it-3", 0, 0),
                  2);
  kefo__pollcore_on_delivered(&c, "14");
  CU_ASSERT_STRING_EQUAL(c.last_delivered, "14");
  /* Malformed or unordered sequence numbers, or an iterator too long, are
     not trusted. */
  kefo__pollcore_on_call(&c, 3000);
  CU_ASSERT_EQUAL(kefo__pollcore_on_records(&c, 3000, bad, 2, "it-4", 0, 0),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__pollcore_on_records(&c, 3000, junk, 1, "it-4", 0, 0),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__pollcore_on_records(&c, 3000, NULL, 0, "", 0, 0),
                  KEFO_ERR_INVALID_ARGUMENT);
  /* No NextShardIterator: the shard's end, once its records are handed
     on. */
  CU_ASSERT_EQUAL(kefo__pollcore_on_records(&c, 3000, NULL, 0, NULL, 0, 0), 0);
  CU_ASSERT_EQUAL(c.state, KEFO_POLL_IN_FLIGHT);
  kefo__pollcore_on_delivered(&c, NULL);
  CU_ASSERT_EQUAL(c.state, KEFO_POLL_FINISHED);
  CU_ASSERT_EQUAL(kefo__pollcore_next(&c, 9000, NULL), KEFO_POLL_DO_WAIT);
  /* Errors after the end change nothing. */
  kefo__pollcore_on_error(&c, 9000, KEFO_ERR_TIMEOUT, NULL, 1,
                          &kefo_fake_clock);
  CU_ASSERT_EQUAL(c.state, KEFO_POLL_FINISHED);
  /* An empty or oversized iterator from GetShardIterator is a failure. */
  kefo__pollcore_init(&c, "shardId-0", "TRIM_HORIZON", NULL, NULL, 200, 250);
  kefo__pollcore_on_call(&c, 0);
  CU_ASSERT_EQUAL(kefo__pollcore_on_iterator(&c, 0, "", &kefo_fake_clock),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT_EQUAL(c.state, KEFO_POLL_NEED_ITERATOR);
  CU_ASSERT_EQUAL(c.failures, 1u);
}

int kefo_add_poll_core_suite(void) {
  CU_pSuite s = CU_add_suite("poll_core", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "init", test_init) ||
      !CU_add_test(s, "pacing", test_pacing) ||
      !CU_add_test(s, "rate never exceeded", test_rate_never_exceeded) ||
      !CU_add_test(s, "expired iterator", test_expired_iterator) ||
      !CU_add_test(s, "backoff and failure", test_backoff_and_failure) ||
      !CU_add_test(s, "dedupe, end and redelivery",
                   test_dedupe_end_and_redelivery)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
