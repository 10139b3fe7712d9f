/*
 * AWS Signature Version 4 (AWS4-HMAC-SHA256), without I/O: the caller
 * passes the request, the credentials and the signing time, and gets the
 * headers (or the query string) to send. Each step is a function of its
 * own so the AWS signing test suite can check it byte for byte.
 */
#ifndef KEFO_SIGV4_H
#define KEFO_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include <kefo/kefo.h>

#include "base/buf.h"

/* Length of a derived signing key (an HMAC-SHA256 output). */
#define KEFO_SIGV4_KEY_LEN 32
/* Length of a hex SHA-256 or signature, without the NUL. */
#define KEFO_SIGV4_HEX_LEN 64
/* Length of an X-Amz-Date value ("20150830T123600Z"), without the NUL. */
#define KEFO_SIGV4_DATE_LEN 16
/* Room for "AKID/YYYYMMDD/region/service/aws4_request" and its NUL. The
   limits checked on each part (access key id 128 bytes, region and
   service 63 each) keep it below this. */
#define KEFO_SIGV4_CREDENTIAL_MAX 320
/* Most headers kefo__sigv4_sign adds: X-Amz-Date, X-Amz-Security-Token,
   x-amz-content-sha256 and Authorization. */
#define KEFO_SIGV4_MAX_ADDED_HEADERS 4
/* Longest presigned URL lifetime AWS accepts: 7 days. */
#define KEFO_SIGV4_MAX_EXPIRES 604800
/* Last second that fits the 4-digit year of X-Amz-Date:
   9999-12-31T23:59:59Z. */
#define KEFO_SIGV4_MAX_TIME INT64_C(253402300799)

/* A header, as nghttp2_nv: neither string needs a NUL terminator. */
typedef struct kefo_sigv4_header {
  const char *name;
  const char *value;
  size_t namelen;
  size_t valuelen;
} kefo_sigv4_header;

/*
 * The request to sign. Everything is lent: the signer reads it during the
 * call and keeps no pointer into it.
 */
typedef struct kefo_sigv4_request {
  /* "GET", "POST", ...: an HTTP token, used as given. */
  const char *method;
  /* The absolute path, starting with '/', as it is sent. Every byte but
     the unreserved ones and '/' is percent-encoded for the canonical
     request, so a path already percent-encoded is encoded a second time,
     which is what SigV4 asks of every service but S3. */
  const char *path;
  /* The query string without '?', raw or percent-encoded (both give the
     same canonical form); NULL or "" for none. '+' is a literal plus. */
  const char *query;
  /* The headers to sign; "host" must be one of them (for HTTP/2, the
     value of :authority). Names are case-insensitive; repeated names are
     joined in the order given. Only these headers are signed: leave out
     any that a proxy may rewrite, such as User-Agent. */
  const kefo_sigv4_header *headers;
  size_t nheaders;
  /* The payload hash for the last line of the canonical request: 64
     lowercase hex digits, or a marker such as "UNSIGNED-PAYLOAD". NULL:
     the hex SHA-256 of |body|. */
  const char *payload_hash;
  /* The payload, hashed when |payload_hash| is NULL; NULL with |bodylen|
     0 for none. */
  const uint8_t *body;
  size_t bodylen;
} kefo_sigv4_request;

/* Credentials, lent. The secret is used only as an HMAC key: it is never
   copied into any output, and copies on the stack are wiped. */
typedef struct kefo_sigv4_credentials {
  /* [A-Za-z0-9._-], 1 to 128 bytes. */
  const char *access_key_id;
  /* 1 to 256 bytes. */
  const char *secret_access_key;
  /* The STS session token, or NULL (or "") for long-term credentials. */
  const char *session_token;
} kefo_sigv4_credentials;

typedef enum {
  KEFO_SIGV4_FLAG_NONE = 0,
  /* Sign the path as given, without removing "." and ".." segments and
     repeated '/' (S3 wants this; other services want normalising). */
  KEFO_SIGV4_FLAG_NO_NORMALIZE_PATH = 0x01,
  /* Add the session token to the request after signing instead of
     before, so it is not part of the signature. A few services (IoT)
     want this; most reject it. */
  KEFO_SIGV4_FLAG_OMIT_SESSION_TOKEN = 0x02,
  /* Header signing: also add and sign x-amz-content-sha256 carrying the
     payload hash. Ignored by query signing. */
  KEFO_SIGV4_FLAG_CONTENT_SHA256 = 0x04
} kefo_sigv4_flag;

typedef enum {
  /* Add X-Amz-Date and Authorization headers. */
  KEFO_SIGV4_HEADERS = 0,
  /* Add X-Amz-* query parameters (a presigned URL). */
  KEFO_SIGV4_QUERY = 1
} kefo_sigv4_mode;

/* What to sign with. Lent, like the request. */
typedef struct kefo_sigv4_params {
  const kefo_sigv4_credentials *credentials;
  /* Credential scope: [A-Za-z0-9._-], 1 to 63 bytes each ("us-east-1",
     "kinesis"). */
  const char *region;
  const char *service;
  /* Signing time, seconds since the epoch (UTC), 0 to
     KEFO_SIGV4_MAX_TIME. The signer never reads the clock. */
  int64_t time;
  /* Bitwise OR of kefo_sigv4_flag values. */
  uint32_t flags;
  kefo_sigv4_mode mode;
  /* Query signing: X-Amz-Expires, 1 to KEFO_SIGV4_MAX_EXPIRES seconds.
     Ignored by header signing. */
  uint32_t expires;
} kefo_sigv4_params;

/*
 * A derived signing key and the credential scope it was derived for. The
 * key depends on the secret, the day, the region and the service only, so
 * a caller that keeps one and hands it to every kefo__sigv4_sign call
 * derives it once a day instead of once a request. It is keyed on the
 * access key id rather than the secret: AWS never gives one access key id
 * two secrets (rotation and STS refresh issue a new id). Not thread-safe:
 * one per thread, or a lock.
 */
typedef struct kefo_sigv4_key {
  uint8_t key[KEFO_SIGV4_KEY_LEN];
  /* "AKID/YYYYMMDD/region/service/aws4_request"; "" while empty. */
  char credential[KEFO_SIGV4_CREDENTIAL_MAX];
} kefo_sigv4_key;

/*
 * The output of kefo__sigv4_sign. All strings live in |storage| and stay
 * valid until kefo__sigv4_result_free.
 */
typedef struct kefo_sigv4_result {
  /* Header signing: the headers to add, names in lowercase (HTTP/2
     requires it; HTTP/1.1 does not care): x-amz-date, then
     x-amz-security-token when there is a token, x-amz-content-sha256
     when asked, and authorization. Query signing: none. Values are
     NUL-terminated as well as counted. */
  kefo_sigv4_header headers[KEFO_SIGV4_MAX_ADDED_HEADERS];
  size_t nheaders;
  /* Query signing: the query string to send, without '?': the request's
     own query unchanged, then the X-Amz-* parameters, percent-encoded.
     NUL-terminated. Header signing: NULL. */
  const char *query;
  size_t querylen;
  /* The signature: 64 lowercase hex digits and a NUL. */
  char signature[KEFO_SIGV4_HEX_LEN + 1];
  /* Private. */
  kefo_buf storage;
} kefo_sigv4_result;

/* Makes |key| empty, so its first use derives the key. */
void kefo__sigv4_key_init(kefo_sigv4_key *key);

/* Wipes |key|; it may be initialised again. */
void kefo__sigv4_key_free(kefo_sigv4_key *key);

/* Frees what |res| holds; |res| must have been passed to kefo__sigv4_sign
   (which initialises it whatever it returns). */
void kefo__sigv4_result_free(kefo_sigv4_result *res);

/*
 * Writes the X-Amz-Date form of |time| ("20150830T123600Z") and a NUL to
 * |out|, which holds |outlen| bytes. Pure arithmetic: no locale, no time
 * zone, no clock.
 *
 * Returns 0 or:
 * KEFO_ERR_INVALID_ARGUMENT: |out| is NULL, or |time| is outside 0 to
 *   KEFO_SIGV4_MAX_TIME.
 * KEFO_ERR_BUFFER_TOO_SMALL: |outlen| < KEFO_SIGV4_DATE_LEN + 1.
 */
int kefo__sigv4_amz_date(char *out, size_t outlen, int64_t time);

/*
 * Writes the lowercase hex SHA-256 of the |len| bytes at |data| and a NUL
 * to |out|, which holds |outlen| bytes. |data| may be NULL when |len| is
 * 0.
 *
 * Returns 0 or:
 * KEFO_ERR_INVALID_ARGUMENT: |out| is NULL, or |data| is NULL with |len|
 *   > 0.
 * KEFO_ERR_BUFFER_TOO_SMALL: |outlen| < KEFO_SIGV4_HEX_LEN + 1.
 * KEFO_ERR_CRYPTO: OpenSSL failed.
 */
int kefo__sigv4_sha256_hex(char *out, size_t outlen, const uint8_t *data,
                           size_t len);

/*
 * Appends the canonical request for |req| signed with |params| to |out|,
 * with no trailing newline. It covers the headers and query parameters
 * the signer adds, as given by |params->mode| and |params->flags|.
 * Temporary memory comes from |out|'s allocator. On error, |out| keeps
 * its former length.
 *
 * Returns 0 or:
 * KEFO_ERR_INVALID_ARGUMENT: a pointer is NULL, or |params| is invalid
 *   (credentials, region, service, time or expires out of range).
 * KEFO_ERR_SIGV4: the request cannot be signed as given: a method or
 *   header name that is not an HTTP token, a control character in the
 *   path, query or a header value, a path not starting with '/', no host
 *   header, an Authorization, X-Amz-Date or X-Amz-Security-Token header
 *   (or X-Amz-Content-Sha256 with KEFO_SIGV4_FLAG_CONTENT_SHA256), an
 *   X-Amz-* signing parameter in the query when query signing, or a
 *   malformed payload hash.
 * KEFO_ERR_NOMEM: out of memory.
 */
int kefo__sigv4_canonical_request(kefo_buf *out, const kefo_sigv4_request *req,
                                  const kefo_sigv4_params *params);

/*
 * Appends the string to sign for the canonical request |creq| of
 * |creqlen| bytes to |out|: the algorithm, the X-Amz-Date, the credential
 * scope and the hex SHA-256 of |creq|, one per line. Only the time,
 * region and service of |params| are used. On error, |out| keeps its
 * former length.
 *
 * Returns 0 or:
 * KEFO_ERR_INVALID_ARGUMENT: a pointer is NULL, or the time, region or
 *   service is invalid.
 * KEFO_ERR_NOMEM: out of memory.
 * KEFO_ERR_CRYPTO: OpenSSL failed.
 */
int kefo__sigv4_string_to_sign(kefo_buf *out, const uint8_t *creq,
                               size_t creqlen, const kefo_sigv4_params *params);

/*
 * Makes |key| hold the signing key for the credentials, day, region and
 * service of |params|. When |key| already holds the key for the same
 * access key id and scope it is left as is and no HMAC is computed. On
 * error |key| is left empty.
 *
 * Returns 0 or:
 * KEFO_ERR_INVALID_ARGUMENT: a pointer is NULL, or |params| is invalid.
 * KEFO_ERR_CRYPTO: OpenSSL failed.
 */
int kefo__sigv4_signing_key(kefo_sigv4_key *key,
                            const kefo_sigv4_params *params);

/*
 * Writes the signature of the string to sign |sts| of |stslen| bytes
 * with |key| (64 lowercase hex digits and a NUL) to |out|, which holds
 * |outlen| bytes.
 *
 * Returns 0 or:
 * KEFO_ERR_INVALID_ARGUMENT: a pointer is NULL.
 * KEFO_ERR_INVALID_STATE: |key| is empty (never derived).
 * KEFO_ERR_BUFFER_TOO_SMALL: |outlen| < KEFO_SIGV4_HEX_LEN + 1.
 * KEFO_ERR_CRYPTO: OpenSSL failed.
 */
int kefo__sigv4_signature(char *out, size_t outlen, const kefo_sigv4_key *key,
                          const uint8_t *sts, size_t stslen);

/*
 * Signs |req| with |params| and fills |res| with what to add to the
 * request: headers (KEFO_SIGV4_HEADERS) or the query string to send
 * (KEFO_SIGV4_QUERY). |key_cache|, when not NULL, is used and updated as
 * kefo__sigv4_signing_key does, so a caller keeping one derives the key
 * only when the day or the credentials change; NULL derives a key for
 * this call only. |res| is allocated through |mem| (NULL: default). |res|
 * is initialised first, whatever the outcome: on error it holds nothing,
 * and kefo__sigv4_result_free is harmless.
 *
 * Returns 0 or:
 * KEFO_ERR_INVALID_ARGUMENT: a pointer is NULL, or |params| is invalid.
 * KEFO_ERR_SIGV4: the request cannot be signed as given (see
 *   kefo__sigv4_canonical_request).
 * KEFO_ERR_CRYPTO: OpenSSL failed.
 * KEFO_ERR_NOMEM: out of memory.
 */
int kefo__sigv4_sign(kefo_sigv4_result *res, const kefo_sigv4_request *req,
                     const kefo_sigv4_params *params, kefo_sigv4_key *key_cache,
                     const kefo_mem *mem);

#endif /* KEFO_SIGV4_H */
