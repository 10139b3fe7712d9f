/*
 * The log hook's core: a sink (the application's function, its level,
 * its user pointer) carried down to every layer that reports, and one
 * call that formats only when the sink wants the level. Kept in base/
 * so that credentials, readers and lease stores report without knowing
 * the consumer or the producer.
 */
#ifndef KEFO_LOG_H
#define KEFO_LOG_H

#include <stddef.h>

#include <kefo/kefo.h>

/* The application's hook; |fn| NULL: none. */
typedef struct kefo_log {
  kefo_log_cb fn;
  int level; /* the most detailed kefo_log_level handed on */
  void *user_data;
} kefo_log;

/* The longest message handed to a hook, its NUL included: longer ones
   are cut (a log line, not a dump). */
#define KEFO_LOG_MESSAGE_MAX 512

/* 1 when |l| (may be NULL) wants |lvl|. */
#define KEFO_LOG_ON(l, lvl)                                                    \
  ((l) != NULL && (l)->fn != NULL && (int)(lvl) <= (l)->level)

/*
 * Logs through |l| when it wants |lvl|: the arguments are not even
 * evaluated otherwise, so a consumer without a hook pays one test.
 */
#define KEFO_LOG(l, lvl, event, shard, ...)                                    \
  do {                                                                         \
    if (KEFO_LOG_ON(l, lvl)) {                                                 \
      kefo__log_emit((l), (lvl), (event), (shard), __VA_ARGS__);               \
    }                                                                          \
  } while (0)

/*
 * Formats |fmt| into a stack buffer (no allocation), scrubs it
 * (kefo__log_scrub) and hands it to |l|'s hook, if it wants |lvl|.
 * Returns no error code.
 */
void kefo__log_emit(const kefo_log *l, kefo_log_level lvl, const char *event,
                    const char *shard, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * Makes |msg| fit for a log line: cut at the first line break (AWS
 * answers a bad signature with the canonical request on the next
 * lines, which may carry the session token) and at anything that names
 * a credential or a signature ("Authorization", "X-Amz-Security-Token",
 * "Signature=", "Credential=", "SecretAccessKey", "SessionToken"), which
 * is replaced by "[redacted]"; other control characters become spaces.
 * |cap| is the buffer's size, for the marker. Returns no error code.
 */
void kefo__log_scrub(char *msg, size_t cap);

/*
 * Replaces, in |msg| (a buffer of |cap| bytes), the value after every
 * header or parameter that carries a credential ("x-amz-security-token",
 * "Signature=", "Credential=", "Authorization:") with "[redacted]",
 * keeping the rest: for error text that must stay whole (an AWS
 * answer's canonical request names what was signed, and the session
 * token's value among it). Returns no error code.
 */
void kefo__log_redact_values(char *msg, size_t cap);

/*
 * Writes the cause of a failure into |buf| (|cap| bytes): the AWS type
 * or the code's name, the operation, the HTTP status and the message,
 * from |info| (may be NULL: |code| alone). Returns |buf|.
 */
const char *kefo__log_cause(char *buf, size_t cap, int code,
                            const kefo_error_info *info);

#endif /* KEFO_LOG_H */
