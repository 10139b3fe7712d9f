/*
 * The subscription state machine, driven with a fake clock: continuation,
 * the one-call-a-second limit, backoff, failure, deduplication, shard end,
 * the inactivity deadline, and a long run over many 5-minute lifetimes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "efo/subscription.h"
#include "tests/support/fake_clock.h"
#include "tests/unit/suites.h"

static void test_init(void) {
  kefo_subscription_core c;
  char long_id[200];

  memset(long_id, 'x', sizeof(long_id) - 1);
  long_id[sizeof(long_id) - 1] = 0;
  CU_ASSERT_EQUAL(kefo__subcore_init(&c, "shardId-0", "LATEST", NULL, NULL, 0),
                  0);
  CU_ASSERT_STRING_EQUAL(c.position_type, "LATEST");
  CU_ASSERT_EQUAL(kefo__subcore_init(&c, "shardId-0", "AFTER_SEQUENCE_NUMBER",
                                     "12", NULL, 0),
                  0);
  CU_ASSERT_EQUAL(
      kefo__subcore_init(&c, "shardId-0", "SOMEWHERE", NULL, NULL, 0),
      KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(
      kefo__subcore_init(&c, "shardId-0", "AT_SEQUENCE_NUMBER", NULL, NULL, 0),
      KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(
      kefo__subcore_init(&c, "shardId-0", "AT_SEQUENCE_NUMBER", "12a", NULL, 0),
      KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__subcore_init(&c, long_id, "LATEST", NULL, NULL, 0),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__subcore_init(&c, "", "LATEST", NULL, NULL, 0),
                  KEFO_ERR_INVALID_ARGUMENT);
}

static void test_seq(void) {
  char big[200];

  CU_ASSERT(kefo__seq_cmp("9", "10") < 0);
  CU_ASSERT(kefo__seq_cmp("10", "9") > 0);
  CU_ASSERT_EQUAL(kefo__seq_cmp("49590338271490256608559692538361571095921575",
                                "49590338271490256608559692538361571095921575"),
                  0);
  CU_ASSERT(kefo__seq_cmp("49590338271490256608559692538361571095921575",
                          "49590338271490256608559692538361571095921576") < 0);
  CU_ASSERT_EQUAL(kefo__seq_cmp("007", "7"), 0);
  CU_ASSERT(kefo__seq_valid("0"));
  CU_ASSERT(!kefo__seq_valid(""));
  CU_ASSERT(!kefo__seq_valid("-1"));
  CU_ASSERT(!kefo__seq_valid("1.5"));
  CU_ASSERT(!kefo__seq_valid(NULL));
  memset(big, '1', 129);
  big[129] = 0;
  CU_ASSERT(!kefo__seq_valid(big));
  big[128] = 0;
  CU_ASSERT(kefo__seq_valid(big));
}

/* kefo__seq_len checks eight bytes a step: every byte value at every
   place of every length up to 40 (so each place of a word, and the
   tail) must be judged as a byte-by-byte check would. */
static void test_seq_every_byte(void) {
  char s[41];
  size_t n, at, len_ok = 0, bad_ok = 0, cases = 0;
  int b;

  for (n = 1; n <= 40; ++n) {
    memset(s, '7', n);
    s[n] = 0;
    len_ok += kefo__seq_len(s) == n;
    for (at = 0; at < n; ++at) {
      for (b = 1; b < 256; ++b) {
        int digit = b >= '0' && b <= '9';
        s[at] = (char)b;
        ++cases;
        bad_ok += digit ? kefo__seq_len(s) == n : kefo__seq_len(s) == 0;
      }
      s[at] = '7';
    }
  }
  CU_ASSERT_EQUAL(len_ok, 40);
  CU_ASSERT_EQUAL(bad_ok, cases);
  /* Bytes that carry into the next byte when 6 is added. */
  CU_ASSERT_EQUAL(kefo__seq_len("1234567\xff"), 0);
  CU_ASSERT_EQUAL(kefo__seq_len("\xfa"
                                "2345678"),
                  0);
  CU_ASSERT_EQUAL(kefo__seq_len("123456789"), 9);
  /* Known lengths. */
  CU_ASSERT(kefo__seq_cmp_len("0099", 4, "100", 3) < 0);
  CU_ASSERT_EQUAL(kefo__seq_cmp_len("00", 2, "0", 1), 0);
  CU_ASSERT(kefo__seq_cmp_len("123", 3, "122", 3) > 0);
}

/* Dedup across lengths: the numbers Kinesis gives run to 56 digits, and
   one with more digits is larger whatever its digits. */
static void test_dedupe_long_numbers(void) {
  kefo_subscription_core c;
  const char *first[] = {
      "49590338271490256608559692538361571095921575989136588898",
      "49590338271490256608559692538361571095921575989136588899"};
  const char *again[] = {
      "49590338271490256608559692538361571095921575989136588899",
      "49590338271490256608559692538361571095921575989136588900",
      "149590338271490256608559692538361571095921575989136588900"};

  kefo__subcore_init(&c, "shardId-0", "TRIM_HORIZON", NULL, NULL, 0);
  kefo__subcore_on_subscribe(&c, 0);
  CU_ASSERT_EQUAL(kefo__subcore_on_event(&c, 1, first, 2, first[1]), 0);
  kefo__subcore_on_delivered(&c, first[1]);
  CU_ASSERT_EQUAL(kefo__subcore_on_event(&c, 2, again, 3, again[2]), 1);
  kefo__subcore_on_delivered(&c, again[2]);
  CU_ASSERT_STRING_EQUAL(c.last_delivered, again[2]);
  CU_ASSERT_STRING_EQUAL(c.position_value, again[2]);
  /* A smaller number delivered later does not move it back. */
  kefo__subcore_on_delivered(&c, first[0]);
  CU_ASSERT_STRING_EQUAL(c.last_delivered, again[2]);
}

static void test_rate_limit_and_continuation(void) {
  kefo_subscription_core c;
  int64_t wait;
  const char *seqs[] = {"100", "101"};

  kefo__subcore_init(&c, "shardId-0", "TRIM_HORIZON", NULL, NULL, 0);
  CU_ASSERT(kefo__subcore_should_subscribe(&c, 0, &wait));
  kefo__subcore_on_subscribe(&c, 0);
  CU_ASSERT(!kefo__subcore_should_subscribe(&c, 10, &wait));
  CU_ASSERT_EQUAL(wait, -1);
  CU_ASSERT_EQUAL(kefo__subcore_on_event(&c, 100, seqs, 2, "101"), 0);
  kefo__subcore_on_delivered(&c, "101");
  CU_ASSERT_EQUAL(c.state, KEFO_SUB_STREAMING);
  CU_ASSERT_STRING_EQUAL(c.position_type, "AFTER_SEQUENCE_NUMBER");
  CU_ASSERT_STRING_EQUAL(c.position_value, "101");
  /* An empty event still moves the continuation on. */
  CU_ASSERT_EQUAL(kefo__subcore_on_event(&c, 200, NULL, 0, "150"), 0);
  CU_ASSERT_STRING_EQUAL(c.position_value, "101"); /* not yet handled */
  kefo__subcore_on_delivered(&c, NULL);
  CU_ASSERT_STRING_EQUAL(c.position_value, "150");
  /* The server ends the subscription 300 ms after it began: the next may
     not come before a second has passed since the last call. */
  kefo__subcore_on_end(&c, 300, 0, 1, &kefo_fake_clock);
  CU_ASSERT(!kefo__subcore_should_subscribe(&c, 300, &wait));
  CU_ASSERT_EQUAL(wait, 700);
  CU_ASSERT(kefo__subcore_should_subscribe(&c, 1000, &wait));
  CU_ASSERT_STRING_EQUAL(c.position_value, "150");

  /* A call answered 250 ms after it was sent (it waited for a
     connection): the next second counts from the answer. */
  kefo__subcore_on_subscribe(&c, 1000);
  kefo__subcore_on_answer(&c, 1250);
  CU_ASSERT_EQUAL(kefo__subcore_on_event(&c, 1260, NULL, 0, "160"), 0);
  kefo__subcore_on_delivered(&c, NULL);
  /* Only an answer to a call in flight counts. */
  kefo__subcore_on_answer(&c, 1900);
  kefo__subcore_on_end(&c, 1300, KEFO_ERR_HTTP, 1, &kefo_fake_clock);
  CU_ASSERT(!kefo__subcore_should_subscribe(&c, 2000, &wait));
  CU_ASSERT(wait >= 250);
}

static void test_backoff_and_failure(void) {
  kefo_subscription_core c;
  kefo_retry_strategy rs = {200, 5000, 4};
  int64_t wait;

  kefo__subcore_init(&c, "shardId-0", "LATEST", NULL, &rs, 0);
  kefo__subcore_on_subscribe(&c, 0);
  /* ResourceInUseException right away: backoff 200 ms, but the rate
     limit keeps it at a second from the last call. */
  kefo_fake_random_value = 0;
  kefo__subcore_on_end(&c, 50, KEFO_ERR_AWS, 1, &kefo_fake_clock);
  CU_ASSERT(!kefo__subcore_should_subscribe(&c, 50, &wait));
  CU_ASSERT_EQUAL(wait, 950);
  kefo__subcore_on_subscribe(&c, 1000);
  /* Second failure, long after: up to 400 ms of jitter. */
  kefo_fake_random_value = 200;
  kefo__subcore_on_end(&c, 5000, KEFO_ERR_HTTP, 1, &kefo_fake_clock);
  CU_ASSERT(!kefo__subcore_should_subscribe(&c, 5000, &wait));
  CU_ASSERT_EQUAL(wait, 400);
  kefo__subcore_on_subscribe(&c, 5400);
  kefo__subcore_on_end(&c, 9000, KEFO_ERR_HTTP, 1, &kefo_fake_clock);
  CU_ASSERT_EQUAL(c.failures, 3);
  kefo__subcore_on_subscribe(&c, 20000);
  /* The fourth failure spends the strategy's attempts: FAILED. */
  kefo__subcore_on_end(&c, 21000, KEFO_ERR_HTTP, 1, &kefo_fake_clock);
  CU_ASSERT_EQUAL(c.state, KEFO_SUB_FAILED);
  CU_ASSERT(!kefo__subcore_should_subscribe(&c, 99999, &wait));
  CU_ASSERT_EQUAL(wait, -1);
  /* A non-retryable error fails at once. */
  kefo__subcore_init(&c, "shardId-0", "LATEST", NULL, &rs, 0);
  kefo__subcore_on_subscribe(&c, 0);
  kefo__subcore_on_end(&c, 10, KEFO_ERR_AWS, 0, &kefo_fake_clock);
  CU_ASSERT_EQUAL(c.state, KEFO_SUB_FAILED);
  /* An event resets the failure count. */
  kefo__subcore_init(&c, "shardId-0", "LATEST", NULL, &rs, 0);
  kefo__subcore_on_subscribe(&c, 0);
  kefo__subcore_on_end(&c, 10, KEFO_ERR_HTTP, 1, &kefo_fake_clock);
  kefo__subcore_on_subscribe(&c, 2000);
  kefo__subcore_on_event(&c, 2100, NULL, 0, "5");
  CU_ASSERT_EQUAL(c.failures, 0);
}

static void test_dedupe_and_end(void) {
  kefo_subscription_core c;
  const char *first[] = {"103", "105"};
  const char *again[] = {"103", "105", "106", "107"};
  const char *bad[] = {"200", "199"};
  const char *junk[] = {"12x"};

  kefo__subcore_init(&c, "shardId-0", "TRIM_HORIZON", NULL, NULL, 0);
  kefo__subcore_on_subscribe(&c, 0);
  CU_ASSERT_EQUAL(kefo__subcore_on_event(&c, 1, first, 2, "105"), 0);
  kefo__subcore_on_delivered(&c, "105");
  /* The same records again after a resubscription: 2 skipped. */
  CU_ASSERT_EQUAL(kefo__subcore_on_event(&c, 2, again, 4, "107"), 2);
  kefo__subcore_on_delivered(&c, "107");
  CU_ASSERT_STRING_EQUAL(c.last_delivered, "107");
  /* Malformed events are refused and change nothing. */
  CU_ASSERT_EQUAL(kefo__subcore_on_event(&c, 3, bad, 2, "200"),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__subcore_on_event(&c, 3, junk, 1, "200"),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__subcore_on_event(&c, 3, NULL, 0, "x"),
                  KEFO_ERR_INVALID_ARGUMENT);
  {
    /* Each record of a shard has its own sequence number. */
    const char *twice[] = {"300", "300"};
    CU_ASSERT_EQUAL(kefo__subcore_on_event(&c, 3, twice, 2, "300"),
                    KEFO_ERR_INVALID_ARGUMENT);
  }
  CU_ASSERT_STRING_EQUAL(c.position_value, "107");
  /* Shard end: no continuation; finished once handled. */
  CU_ASSERT_EQUAL(kefo__subcore_on_event(&c, 4, NULL, 0, NULL), 0);
  CU_ASSERT_EQUAL(c.state, KEFO_SUB_STREAMING);
  kefo__subcore_on_delivered(&c, NULL);
  CU_ASSERT_EQUAL(c.state, KEFO_SUB_FINISHED);
  /* The end that follows changes nothing. */
  kefo__subcore_on_end(&c, 5, 0, 1, &kefo_fake_clock);
  CU_ASSERT_EQUAL(c.state, KEFO_SUB_FINISHED);
  CU_ASSERT(!kefo__subcore_should_subscribe(&c, 10000, NULL));
}

/* An event whose records could not be handed on leaves the position
   where it was: the next subscription fetches them again. */
static void test_undelivered_event(void) {
  kefo_subscription_core c;
  const char *seqs[] = {"300", "301"};

  kefo__subcore_init(&c, "shardId-0", "AFTER_SEQUENCE_NUMBER", "299", NULL, 0);
  kefo__subcore_on_subscribe(&c, 0);
  CU_ASSERT_EQUAL(kefo__subcore_on_event(&c, 10, seqs, 2, "301"), 0);
  kefo__subcore_on_end(&c, 20, KEFO_ERR_BAD_RESPONSE, 1, &kefo_fake_clock);
  CU_ASSERT_STRING_EQUAL(c.position_value, "299");
  CU_ASSERT_EQUAL(c.last_delivered[0], 0);
  /* A late on_delivered after the end commits nothing. */
  kefo__subcore_on_delivered(&c, NULL);
  CU_ASSERT_STRING_EQUAL(c.position_value, "299");
  /* Shard end that was not handled is not a finish either. */
  kefo__subcore_on_subscribe(&c, 2000);
  kefo__subcore_on_event(&c, 2010, NULL, 0, NULL);
  kefo__subcore_on_end(&c, 2020, KEFO_ERR_HTTP, 1, &kefo_fake_clock);
  CU_ASSERT_EQUAL(c.state, KEFO_SUB_IDLE);
}

/* Runs of an event (its records handed on before its end): each run is
   checked and de-duplicated, but only the event's end moves the
   position; an event that breaks after some runs is fetched again from
   the last continuation and its runs' records are skipped. */
static void test_runs(void) {
  kefo_subscription_core c;
  const char *run1[] = {"400", "401"};
  const char *run2[] = {"402", "403"};
  const char *again[] = {"400", "401", "402", "403", "404"};
  const char *end[] = {"405"};
  const char *bad[] = {"407", "406"};

  kefo__subcore_init(&c, "shardId-0", "AFTER_SEQUENCE_NUMBER", "399", NULL, 0);
  kefo__subcore_on_subscribe(&c, 0);
  CU_ASSERT_EQUAL(kefo__subcore_on_run(&c, 10, run1, 2), 0);
  CU_ASSERT_EQUAL(c.state, KEFO_SUB_STREAMING);
  kefo__subcore_on_delivered(&c, "401");
  CU_ASSERT_STRING_EQUAL(c.last_delivered, "401");
  CU_ASSERT_STRING_EQUAL(c.position_value, "399");
  CU_ASSERT_EQUAL(kefo__subcore_on_run(&c, 11, run2, 2), 0);
  kefo__subcore_on_delivered(&c, "403");
  CU_ASSERT_STRING_EQUAL(c.position_value, "399");
  /* The event breaks (a bad CRC at its end): resubscribed from 399. */
  kefo__subcore_on_end(&c, 12, KEFO_ERR_ES_MESSAGE_CRC, 1, &kefo_fake_clock);
  CU_ASSERT_STRING_EQUAL(c.position_value, "399");
  kefo__subcore_on_subscribe(&c, 2000);
  /* The same event again, in runs cut elsewhere: 4 skipped. */
  CU_ASSERT_EQUAL(kefo__subcore_on_run(&c, 2010, again, 5), 4);
  kefo__subcore_on_delivered(&c, "404");
  CU_ASSERT_STRING_EQUAL(c.position_value, "399");
  /* Its end: the rest, and the continuation, which now counts. */
  CU_ASSERT_EQUAL(kefo__subcore_on_event(&c, 2011, end, 1, "405"), 0);
  kefo__subcore_on_delivered(&c, "405");
  CU_ASSERT_STRING_EQUAL(c.position_value, "405");
  CU_ASSERT_STRING_EQUAL(c.last_delivered, "405");
  /* A run of numbers out of order is refused. */
  CU_ASSERT_EQUAL(kefo__subcore_on_run(&c, 2012, bad, 2),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__subcore_on_run(&c, 2012, NULL, 1),
                  KEFO_ERR_INVALID_ARGUMENT);
  /* A run between an event and its handling does not commit the
     event's continuation early: the pending one is dropped. */
  CU_ASSERT_EQUAL(kefo__subcore_on_run(&c, 2013, end, 0), 0);
  kefo__subcore_on_delivered(&c, NULL);
  CU_ASSERT_STRING_EQUAL(c.position_value, "405");
}

static void test_inactivity(void) {
  kefo_subscription_core c;

  kefo__subcore_init(&c, "shardId-0", "LATEST", NULL, NULL, 30000);
  CU_ASSERT(!kefo__subcore_inactive(&c, 100000)); /* idle: not streaming */
  kefo__subcore_on_subscribe(&c, 0);
  CU_ASSERT(!kefo__subcore_inactive(&c, 29999));
  CU_ASSERT(kefo__subcore_inactive(&c, 30000));
  kefo__subcore_on_event(&c, 31000, NULL, 0, "9");
  CU_ASSERT(!kefo__subcore_inactive(&c, 60999));
  CU_ASSERT(kefo__subcore_inactive(&c, 61000));
  kefo__subcore_init(&c, "shardId-0", "LATEST", NULL, NULL, 0);
  kefo__subcore_on_subscribe(&c, 0);
  CU_ASSERT(!kefo__subcore_inactive(&c, 1000000000));
}

/* A shard read for an hour: a subscription every ~5 minutes, each ending
   where the server says; a resubscription repeats the last two records
   each time. Every record is delivered exactly once, in order. */
static void test_many_lifetimes(void) {
  kefo_subscription_core c;
  int64_t now = 0, wait;
  unsigned long next = 1000, delivered = 0, expected = 1000;
  int lifetimes = 0, ok = 1;

  kefo__subcore_init(&c, "shardId-0", "TRIM_HORIZON", NULL, NULL, 60000);
  while (now < 3600 * 1000) {
    int64_t end = now + 300000;
    CU_ASSERT_FATAL(kefo__subcore_should_subscribe(&c, now, &wait));
    kefo__subcore_on_subscribe(&c, now);
    ++lifetimes;
    if (lifetimes > 1) {
      next -= 2; /* the server repeats two records */
    }
    for (; now < end; now += 1000) {
      char s[3][32];
      const char *seqs[3];
      int k, skip;
      for (k = 0; k < 3; ++k) {
        snprintf(s[k], sizeof(s[k]), "%lu", next + (unsigned long)k);
        seqs[k] = s[k];
      }
      next += 3;
      skip = kefo__subcore_on_event(&c, now, seqs, 3, s[2]);
      for (k = skip; k < 3; ++k) {
        ok &= strtoul(seqs[k], NULL, 10) == expected ? 1 : 0;
        ++expected;
        ++delivered;
      }
      kefo__subcore_on_delivered(&c, s[2]);
      CU_ASSERT(!kefo__subcore_inactive(&c, now));
    }
    kefo__subcore_on_end(&c, now, 0, 1, &kefo_fake_clock);
  }
  printf("\nsubscription: %d lifetimes, %lu records, in order and once: %s\n",
         lifetimes, delivered, ok ? "yes" : "NO");
  CU_ASSERT(ok);
  CU_ASSERT_EQUAL(lifetimes, 12);
  CU_ASSERT_EQUAL(delivered, expected - 1000);
  /* 12 lifetimes of 900 records, 11 of them repeating two: 10,778. */
  CU_ASSERT_EQUAL(delivered, 12ul * 900 - 11 * 2);
}

int kefo_add_subscription_suite(void) {
  CU_pSuite s = CU_add_suite("subscription", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "init", test_init) ||
      !CU_add_test(s, "sequence numbers", test_seq) ||
      !CU_add_test(s, "sequence number digits, every byte",
                   test_seq_every_byte) ||
      !CU_add_test(s, "dedupe of 56-digit numbers", test_dedupe_long_numbers) ||
      !CU_add_test(s, "rate limit and continuation",
                   test_rate_limit_and_continuation) ||
      !CU_add_test(s, "backoff and failure", test_backoff_and_failure) ||
      !CU_add_test(s, "dedupe and shard end", test_dedupe_and_end) ||
      !CU_add_test(s, "undelivered event", test_undelivered_event) ||
      !CU_add_test(s, "runs of an event", test_runs) ||
      !CU_add_test(s, "inactivity", test_inactivity) ||
      !CU_add_test(s, "many lifetimes", test_many_lifetimes)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
