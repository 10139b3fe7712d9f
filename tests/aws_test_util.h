/*
 * Shared pieces of the programs that test AWS calls on a real event loop:
 * fixed test credentials and running the loop until a flag is set.
 */
#ifndef KEFO_TESTS_AWS_TEST_UTIL_H
#define KEFO_TESTS_AWS_TEST_UTIL_H

#include <event2/event.h>

#include "aws/credentials.h"

/* A provider that always answers with fixed test keys (the emulators do
   not check signatures; the fake servers check they are present). */
kefo_credentials_provider *kefo_test_credentials(void);

/* The secret of kefo_test_credentials, to assert it never leaks. */
#define KEFO_TEST_SECRET "kefo-test-secret-key"

/* Runs |base| until *|flag| is non-zero or |ms| milliseconds pass. */
void kefo_test_run_until(struct event_base *base, int *flag, int ms);

#endif /* KEFO_TESTS_AWS_TEST_UTIL_H */
