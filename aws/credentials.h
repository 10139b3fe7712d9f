/*
 * AWS credentials and the providers that find them, as in the AWS SDKs:
 * static keys, environment, shared config/credentials files with profiles,
 * web identity and assume role through STS, ECS/EKS container credentials
 * and EC2 IMDSv2, tried in that order by the default chain. Temporary
 * credentials are refreshed before they expire, without blocking. Secrets
 * never reach a log or an error message. One file a job: credentials.c
 * (the interface, copies, static keys), credentials_json.c,
 * credentials_io.c, credentials_chain.c, credentials_cache.c, one per
 * provider that looks outside (env, profile, sts, imds, container) and
 * credentials_sts_wire.c (STS's form body and XML response, no I/O).
 */
#ifndef KEFO_CREDENTIALS_H
#define KEFO_CREDENTIALS_H

#include <stdint.h>

#include <kefo/kefo.h>

#include <event2/event.h>

#include "aws/http.h"
#include "aws/profile_file.h"
#include "base/log.h"
#include "base/buf.h"
#include "base/clock.h"
#include "base/mem.h"

typedef struct kefo_credentials {
  const char *access_key_id;
  const char *secret_access_key;
  /* NULL for long-term keys. */
  const char *session_token;
  /* Wall-clock milliseconds at which they stop working; 0: never. */
  int64_t expiration_ms;
} kefo_credentials;

/*
 * Receives the outcome of kefo__credentials_provider_get: |error| 0 and
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
  /* Optional (NULL: nothing is kept): a service refused what |p| gave
     (an expired token, a signature that does not match), so the next get
     must not answer with the same credentials from a cache. */
  void (*invalidate)(kefo_credentials_provider *p);
} kefo_credentials_provider_ops;

/* Every provider starts with this header; tests plug in their own. */
struct kefo_credentials_provider {
  const kefo_credentials_provider_ops *ops;
  /* A short name for error messages: "environment", "profile default",
     "web identity", "IMDSv2", ... */
  const char *name;
};

/* Calls |p|'s get. Returns what it returns. */
int kefo__credentials_provider_get(kefo_credentials_provider *p,
                                   kefo_credentials_cb cb, void *user_data);

/* Frees |p| (NULL is fine). Callbacks still pending are not called. */
void kefo__credentials_provider_del(kefo_credentials_provider *p);

/* Calls |p|'s invalidate when it has one (NULL is fine). */
void kefo__credentials_provider_invalidate(kefo_credentials_provider *p);

/*
 * A provider that always answers with the given keys (copied).
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (a key is NULL or empty) or
 * KEFO_ERR_NOMEM.
 */
int kefo__credentials_static_new(kefo_credentials_provider **out,
                                 const kefo_mem *mem, const char *access_key_id,
                                 const char *secret_access_key,
                                 const char *session_token);

/* ---------------------------------------------------------------------
 * Everything below was added with the providers. Every provider in kefo
 * calls its callback as the last thing it does, so a callback may delete
 * the provider that called it.
 * ------------------------------------------------------------------- */

/* Credentials with their own storage, one block allocated through |mem|
   and wiped when freed or replaced. */
typedef struct kefo_credentials_copy {
  /* Point into |storage|; all NULL (and expiration_ms 0) while empty. */
  kefo_credentials creds;
  char *storage;
  size_t storage_len;
  const kefo_mem *mem;
} kefo_credentials_copy;

/* Starts an empty copy allocating through |mem| (NULL: default). */
void kefo__credentials_copy_init(kefo_credentials_copy *c, const kefo_mem *mem);

/*
 * Replaces the contents of |c| with a copy of |src|. On error |c| keeps
 * what it held.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (the key id or secret is NULL or
 * empty) or KEFO_ERR_NOMEM.
 */
int kefo__credentials_copy_set(kefo_credentials_copy *c,
                               const kefo_credentials *src);

/* Wipes and frees what |c| holds; it is empty again. */
void kefo__credentials_copy_free(kefo_credentials_copy *c);

/*
 * Checks that |c| can be used to sign: an access key id of 1 to 128 of
 * [A-Za-z0-9._-], a secret of 1 to 256 printable ASCII characters and a
 * session token (if any) of at most 16 KiB printable ASCII, so nothing
 * can break a header. |err| never quotes a value.
 *
 * Returns 0 or KEFO_ERR_CREDENTIALS.
 */
int kefo__credentials_check(const kefo_credentials *c, char *err,
                            size_t errlen);

/* Overwrites every occurrence of |secret| (when 8 bytes or longer) in the
   NUL-terminated |msg| with '*': a last guard on text that quotes a
   server. */
void kefo__credentials_redact(char *msg, const char *secret);

/*
 * Parses an ISO 8601 / RFC 3339 UTC time as AWS writes them
 * ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00.123Z", an offset such as
 * "+02:00") from the |len| bytes at |s| into milliseconds since the
 * epoch: kefo__time_parse_iso8601 with a leap second and a fraction of any
 * length allowed, the 'T' required and years from 1970.
 *
 * Returns 0 or KEFO_ERR_BAD_RESPONSE.
 */
int kefo__credentials_parse_time(const char *s, size_t len, int64_t *ms);

/*
 * Parses the JSON credentials document of the EC2 metadata service and
 * of the ECS/EKS container endpoint ({"AccessKeyId", "SecretAccessKey",
 * "Token", "Expiration", and for IMDS "Code": "Success"}) from the |len|
 * bytes at |body| into |out|. Temporary memory comes from |out|'s
 * allocator. |err| says what was wrong, never quoting a secret.
 *
 * Returns 0, KEFO_ERR_BAD_RESPONSE (not such a document, or Code is not
 * Success), KEFO_ERR_CREDENTIALS (a value cannot be used: see
 * kefo__credentials_check) or KEFO_ERR_NOMEM.
 */
int kefo__credentials_parse_json(kefo_credentials_copy *out,
                                 const uint8_t *body, size_t len, char *err,
                                 size_t errlen);

/* An STS request (query protocol, Version=2011-06-15). */
typedef struct kefo_sts_params {
  /* "AssumeRole" or "AssumeRoleWithWebIdentity". */
  const char *action;
  const char *role_arn;
  const char *session_name;
  /* AssumeRole only; NULL: none. */
  const char *external_id;
  /* AssumeRoleWithWebIdentity only. */
  const char *web_identity_token;
  /* 0: omitted (STS's default, one hour). */
  uint32_t duration_s;
} kefo_sts_params;

/*
 * Appends the form-encoded body of |p| to |out|:
 * "Action=...&Version=2011-06-15&RoleArn=...&RoleSessionName=...".
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (no action, role or session name,
 * or no token for web identity) or KEFO_ERR_NOMEM.
 */
int kefo__sts_build_body(kefo_buf *out, const kefo_sts_params *p);

/*
 * Parses an STS response of HTTP status |status|: for 200, the
 * <Credentials> of an AssumeRole or AssumeRoleWithWebIdentity result into
 * |out|; otherwise the <Error> document, whose <Code> goes to |aws_type|
 * (|typelen| bytes) and whose <Message> to |err|. A small bounded scanner
 * reads the few elements needed; entities are decoded.
 *
 * Returns 0, KEFO_ERR_AWS (an error document, or any status but 200),
 * KEFO_ERR_BAD_RESPONSE (a 200 without usable credentials),
 * KEFO_ERR_CREDENTIALS (see kefo__credentials_check) or KEFO_ERR_NOMEM.
 */
int kefo__sts_parse_response(kefo_credentials_copy *out, int status,
                             const uint8_t *body, size_t len, char *aws_type,
                             size_t typelen, char *err, size_t errlen);

/* HTTP requests through a replaceable function, kefo__http_client_request
   in production and a scripted fake in unit tests. */
typedef struct kefo_credentials_transport {
  int (*request)(void *ctx, const kefo_http_request *req,
                 const kefo_http_callbacks *cb, void *user_data,
                 kefo_http_stream **out);
  void *ctx;
} kefo_credentials_transport;

/* Makes |t| send through |client| (not owned). */
void kefo__credentials_transport_client(kefo_credentials_transport *t,
                                        kefo_http_client *client);

/* What the providers are built with. Strings are copied by each
   constructor; |env|, |clock|, |mem|, |base| and the transport's context
   are lent and must outlive the providers. */
typedef struct kefo_credentials_options {
  const kefo_mem *mem;
  /* Expiry and refresh; NULL: the system clock. */
  const kefo_clock *clock;
  /* Environment lookups; NULL: the process environment. */
  const kefo_env *env;
  /* STS, IMDS and container requests; |request| NULL: those providers
     fail with "no HTTP client". */
  kefo_credentials_transport transport;
  /* The cache's refresh timer; NULL: refreshes start only from gets. */
  struct event_base *base;
  /* Region of the STS endpoint; NULL: AWS_REGION, AWS_DEFAULT_REGION,
     the profile's region, else the global endpoint. */
  const char *region;
  /* STS endpoint URL; NULL: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, or
     the region's. */
  const char *sts_endpoint;
  /* Profile of the shared files; NULL: AWS_PROFILE, else "default". */
  const char *profile;
  /* Static keys, first in the default chain when both are set. */
  const char *access_key_id;
  const char *secret_access_key;
  const char *session_token;
  /* The log hook the cache reports refreshes through (lent; NULL:
     none). */
  const kefo_log *log;
} kefo_credentials_options;

/* Fills |opts| with the defaults: all NULL. */
void kefo__credentials_options_init(kefo_credentials_options *opts);

/*
 * The environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN, read at each get.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
int kefo__credentials_env_new(kefo_credentials_provider **out,
                              const kefo_credentials_options *opts);

/*
 * The shared files' profile (|opts->profile|, AWS_PROFILE or "default"),
 * read at each get: static keys, role_arn with source_profile (chains of
 * them, loops refused) or credential_source (Environment,
 * Ec2InstanceMetadata, EcsContainer) through STS AssumeRole, or role_arn
 * with web_identity_token_file.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
int kefo__credentials_profile_new(kefo_credentials_provider **out,
                                  const kefo_credentials_options *opts);

/*
 * STS AssumeRole for |role_arn|, signed with the credentials |source|
 * gives. |source| is owned from the call on, even when it fails.
 * |session_name| NULL: "kefo-<milliseconds>"; |external_id| may be NULL;
 * |duration_s| 0: STS's default.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (no source or role) or
 * KEFO_ERR_NOMEM.
 */
int kefo__credentials_assume_role_new(
    kefo_credentials_provider **out, const kefo_credentials_options *opts,
    kefo_credentials_provider *source, const char *role_arn,
    const char *session_name, const char *external_id, uint32_t duration_s);

/*
 * STS AssumeRoleWithWebIdentity (unsigned) with the token in
 * |token_file|, read at each get. With |role_arn| and |token_file| both
 * NULL the settings come from AWS_ROLE_ARN, AWS_WEB_IDENTITY_TOKEN_FILE
 * and AWS_ROLE_SESSION_NAME at each get (the default chain's step).
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (only one of the two given) or
 * KEFO_ERR_NOMEM.
 */
int kefo__credentials_web_identity_new(kefo_credentials_provider **out,
                                       const kefo_credentials_options *opts,
                                       const char *role_arn,
                                       const char *session_name,
                                       const char *token_file);

/*
 * EC2 instance metadata, IMDSv2 only: a session token (PUT
 * /latest/api/token), then the role and its credentials. The endpoint is
 * AWS_EC2_METADATA_SERVICE_ENDPOINT, else http://169.254.169.254 (or
 * http://[fd00:ec2::254] with AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE
 * IPv6); AWS_EC2_METADATA_DISABLED=true turns it off;
 * AWS_METADATA_SERVICE_TIMEOUT (seconds, default 1) bounds each request.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
int kefo__credentials_imds_new(kefo_credentials_provider **out,
                               const kefo_credentials_options *opts);

/*
 * ECS / EKS container credentials: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
 * on http://169.254.170.2, or AWS_CONTAINER_CREDENTIALS_FULL_URI (https,
 * or http to a loopback or container-metadata address only), with the
 * Authorization header from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (read
 * at each get) or AWS_CONTAINER_AUTHORIZATION_TOKEN.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
int kefo__credentials_container_new(kefo_credentials_provider **out,
                                    const kefo_credentials_options *opts);

/*
 * Works out the container endpoint from the environment: |ep| and the
 * path and query to GET (|path|, |pathlen| bytes).
 *
 * Returns 0 or KEFO_ERR_CREDENTIALS (not set, or not allowed: |err| says
 * which variable and why).
 */
int kefo__credentials_container_endpoint(const kefo_env *env, kefo_endpoint *ep,
                                         char *path, size_t pathlen, char *err,
                                         size_t errlen);

/*
 * Tries |providers| (|n| of them, owned from the call on, even when it
 * fails) in order until one answers, then starts with that one next time.
 * When none does, the error is KEFO_ERR_CREDENTIALS and the message lists
 * each provider's reason.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
int kefo__credentials_chain_new(kefo_credentials_provider **out,
                                const kefo_mem *mem,
                                kefo_credentials_provider **providers,
                                size_t n);

/*
 * The AWS SDKs' default chain, uncached: static keys (when both are set
 * in |opts|), environment, web identity from the environment, profile,
 * container, IMDSv2.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
int kefo__credentials_default_chain_new(kefo_credentials_provider **out,
                                        const kefo_credentials_options *opts);

/* Cache timing, for temporary credentials living L milliseconds from
   when they arrive: a background refresh starts min(5 min, L/2) (minus up
   to a tenth of that, random) before expiry; they are no longer handed
   out min(1 min, L/10) before expiry. */
#define KEFO_CREDENTIALS_REFRESH_MS (5 * 60 * 1000)
#define KEFO_CREDENTIALS_STALE_MS (60 * 1000)
#define KEFO_CREDENTIALS_MIN_HOLD_MS (5 * 1000)

/*
 * Caches what |inner| (owned from the call on, even when it fails) gives.
 * A get is answered at once from the cache while the credentials are
 * fresh; one in the refresh window also starts a background refresh (one
 * at a time), and gets meanwhile still get the cached ones. Only when
 * there are none, or they are stale, do callers wait for |inner|. A
 * failed background refresh keeps the cached credentials and is tried
 * again later. With |opts->base|, a timer refreshes even without gets.
 * Invalidating drops the cached credentials unless they arrived less than
 * KEFO_CREDENTIALS_MIN_HOLD_MS ago: many calls refused at once then cause
 * one fetch, and credentials fetched after a refused call was signed are
 * not dropped for it.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
int kefo__credentials_cache_new(kefo_credentials_provider **out,
                                const kefo_credentials_options *opts,
                                kefo_credentials_provider *inner);

/*
 * What the consumer uses: the default chain behind the cache.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
int kefo__credentials_default_new(kefo_credentials_provider **out,
                                  const kefo_credentials_options *opts);

/* ---- Internal helpers shared by the provider modules. ---- */

/* Builds an error info and calls |cb| with it. |message| is lent. */
void kefo__credentials_fail(kefo_credentials_cb cb, void *user_data, int code,
                            const char *message, const char *operation,
                            int http_status, int retryable);

/*
 * A provider's requests in flight, kept on a list so that deleting the
 * provider can end them. Each request struct starts with one, so the
 * list's entries cast back to the request.
 */
typedef struct kefo_credentials_pending {
  struct kefo_credentials_pending *prev, *next;
  /* The list head while on a list, else NULL. */
  struct kefo_credentials_pending **head;
} kefo_credentials_pending;

/* Puts |p| at the front of the list at |*head|. */
void kefo__credentials_pending_add(kefo_credentials_pending **head,
                                   kefo_credentials_pending *p);

/* Takes |p| off its list; nothing when it is on none. */
void kefo__credentials_pending_remove(kefo_credentials_pending *p);

/* Wipes |len| bytes at |p| in a way the compiler keeps. */
void kefo__credentials_wipe(void *p, size_t len);

/* Reads a small secret file (a token) whole into |out|, through |mem|,
   without trailing whitespace. Returns 0 or KEFO_ERR_CREDENTIALS (|err|
   names the path and the reason: missing, empty, larger than |max|) or
   KEFO_ERR_NOMEM. */
int kefo__credentials_read_token_file(const kefo_mem *mem, const char *path,
                                      size_t max, char **out, size_t *outlen,
                                      char *err, size_t errlen);

/* One bounded HTTP exchange: the whole body (up to a limit) handed to a
   callback with the status. */
typedef struct kefo_credentials_fetch kefo_credentials_fetch;

/* |error| 0: a whole response of |status| with |body| (lent, |len| bytes,
   NUL-terminated); else a transport error (KEFO_ERR_RESPONSE_TOO_LARGE
   for a body over the limit) and |info|. The fetch is gone once this
   returns. */
typedef void (*kefo_credentials_fetch_cb)(int error,
                                          const kefo_error_info *info,
                                          int status, const uint8_t *body,
                                          size_t len, void *user_data);

/* Starts |req|; |cb| is called once, later, unless cancelled. Returns 0,
   KEFO_ERR_INVALID_ARGUMENT (no transport), KEFO_ERR_NOMEM or what the
   transport returns. */
int kefo__credentials_fetch_start(kefo_credentials_fetch **out,
                                  const kefo_mem *mem,
                                  const kefo_credentials_transport *t,
                                  const kefo_http_request *req, size_t max_body,
                                  kefo_credentials_fetch_cb cb,
                                  void *user_data);

/* Cancels |f| (NULL is fine): no callback afterwards. */
void kefo__credentials_fetch_cancel(kefo_credentials_fetch *f);

#endif /* KEFO_CREDENTIALS_H */
