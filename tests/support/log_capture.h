/*
 * A log hook for tests: keeps every line kefo hands it ("LEVEL EVENT
 * SHARD MESSAGE", one a line) so a test can ask whether an event came,
 * for which shard, with which cause, and grep the whole for secrets.
 */
#ifndef KEFO_TESTS_LOG_CAPTURE_H
#define KEFO_TESTS_LOG_CAPTURE_H

#include <stddef.h>

#include <kefo/kefo.h>

typedef struct kefo_log_capture {
  char *text; /* every line since the last reset, NUL-terminated */
  size_t len, cap;
  size_t lines;
} kefo_log_capture;

/* The hook: |user_data| must be a kefo_log_capture * (so a test whose
   user_data is its own passes this from a hook of its own). */
void kefo_log_capture_hook(kefo_log_level level, const char *event,
                           const char *shard, const char *message,
                           void *user_data);

/* Forgets the lines kept. */
void kefo_log_capture_reset(kefo_log_capture *lc);

/*
 * The first line kept of |event| for |shard| (NULL: any) whose message
 * holds every one of the |n| strings of |needles| (case-sensitive), as a
 * copy in |out| (|cap| bytes) without its newline; returns 1, or 0 when
 * there is none.
 */
int kefo_log_capture_find(const kefo_log_capture *lc, const char *event,
                          const char *shard, const char *const *needles,
                          size_t n, char *out, size_t cap);

void kefo_log_capture_free(kefo_log_capture *lc);

#endif /* KEFO_TESTS_LOG_CAPTURE_H */
