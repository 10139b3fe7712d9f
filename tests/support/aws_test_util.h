/*
 * Shared pieces of the programs that test AWS calls on a real event loop:
 * fixed test credentials and running the loop until a flag is set.
 */
#ifndef KEFO_TESTS_AWS_TEST_UTIL_H
#define KEFO_TESTS_AWS_TEST_UTIL_H

#include <event2/event.h>

#include <kefo/kefo.h>

#include "aws/credentials.h"

/* A provider that always answers with fixed test keys (the emulators do
   not check signatures; the fake servers check they are present). */
kefo_credentials_provider *kefo_test_credentials(void);

/* The secret of kefo_test_credentials, to assert it never leaks. */
#define KEFO_TEST_SECRET "kefo-test-secret-key"

/* Runs |base| until *|flag| is non-zero or |ms| milliseconds pass. */
void kefo_test_run_until(struct event_base *base, int *flag, int ms);

/*
 * Sets what every consumer test sets: |stream| read by |reader| ("EFO" or
 * "POLLING") as consumer |name| from TRIM_HORIZON, through the endpoint
 * |url| in us-east-1 with the test credentials, quick DescribeStreamConsumer
 * retries, and the memory lease store. Returns 0, or the first key's error
 * (printed with its message).
 */
int kefo_test_consumer_config(kefo_config *cfg, const char *url,
                              const char *stream, const char *reader,
                              const char *name);

#endif /* KEFO_TESTS_AWS_TEST_UTIL_H */
