/*
 * AWS credentials and the providers that find them, as in the AWS SDKs:
 * static keys, environment, shared config/credentials files with profiles,
 * web identity and assume role through STS, ECS/EKS container credentials
 * and EC2 IMDSv2, tried in that order by the default chain. Temporary
 * credentials are refreshed before they expire, without blocking. Secrets
 * never reach a log or an error message.
 */
#ifndef KEFO_CREDENTIALS_H
#define KEFO_CREDENTIALS_H

#include <stdint.h>

#include <kefo/kefo.h>

#include "runtime/clock.h"
#include "runtime/mem.h"

typedef struct kefo_credentials {
  const char *access_key_id;
  const char *secret_access_key;
  /* NULL for long-term keys. */
  const char *session_token;
  /* Wall-clock milliseconds at which they stop working; 0: never. */
  int64_t expiration_ms;
} kefo_credentials;

/*
 * Receives the outcome of kefo_credentials_provider_get: |error| 0 and
 * |creds| (lent: valid only during the call; copy what must outlive it),
 * or a KEFO_ERR_* code (KEFO_ERR_CREDENTIALS when nothing was found) and
 * |info| saying which provider failed and why, without secrets. Runs on
 * the event loop's thread; may run inside the get call itself when the
 * answer is at hand (cached or static).
 */
typedef void (*kefo_credentials_cb)(int error, const kefo_credentials *creds,
                                    const kefo_error_info *info,
                                    void *user_data);

typedef struct kefo_credentials_provider kefo_credentials_provider;

typedef struct kefo_credentials_provider_ops {
  /* Starts getting credentials; |cb| is called exactly once. Returns 0, or
     an error code and then |cb| is not called. */
  int (*get)(kefo_credentials_provider *p, kefo_credentials_cb cb,
             void *user_data);
  void (*del)(kefo_credentials_provider *p);
} kefo_credentials_provider_ops;

/* Every provider starts with this header; tests plug in their own. */
struct kefo_credentials_provider {
  const kefo_credentials_provider_ops *ops;
  /* A short name for error messages: "environment", "profile default",
     "web identity", "IMDSv2", ... */
  const char *name;
};

/* Calls |p|'s get. Returns what it returns. */
int kefo_credentials_provider_get(kefo_credentials_provider *p,
                                  kefo_credentials_cb cb, void *user_data);

/* Frees |p| (NULL is fine). Callbacks still pending are not called. */
void kefo_credentials_provider_del(kefo_credentials_provider *p);

/*
 * A provider that always answers with the given keys (copied).
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (a key is NULL or empty) or
 * KEFO_ERR_NOMEM.
 */
int kefo_credentials_static_new(kefo_credentials_provider **out,
                                const kefo_mem *mem, const char *access_key_id,
                                const char *secret_access_key,
                                const char *session_token);

#endif /* KEFO_CREDENTIALS_H */
