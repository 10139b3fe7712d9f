/*
 * SigV4's string to sign, signing key and signature: the credential scope
 * from time, region and service, and the HMAC-SHA256 key chain (every step
 * wiped); OpenSSL only computes SHA-256 and HMAC-SHA256.
 */
#include "aws/sigv4_internal.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define SCOPE_TERMINATOR "aws4_request"
#define MAX_ACCESS_KEY_ID_LEN 128
#define MAX_SECRET_LEN 256

static const char lower_hex[] = "0123456789abcdef";

static void hex_encode(char *out, const uint8_t *in, size_t len) {
  size_t i;

  for (i = 0; i < len; ++i) {
    out[2 * i] = lower_hex[in[i] >> 4];
    out[2 * i + 1] = lower_hex[in[i] & 0xf];
  }
  out[2 * len] = '\0';
}

static int sha256(uint8_t out[32], const void *data, size_t len) {
  unsigned int outlen = 0;

  if (EVP_Digest(data, len, out, &outlen, EVP_sha256(), NULL) != 1 ||
      outlen != 32) {
    return KEFO_ERR_CRYPTO;
  }
  return 0;
}

static int hmac_sha256(uint8_t out[32], const void *key, size_t keylen,
                       const void *data, size_t len) {
  unsigned int outlen = 0;

  /* One-shot HMAC() is not deprecated in OpenSSL 3, unlike HMAC_CTX. */
  if (HMAC(EVP_sha256(), key, (int)keylen, data, len, out, &outlen) == NULL ||
      outlen != 32) {
    return KEFO_ERR_CRYPTO;
  }
  return 0;
}

/* Scope parts and access key ids go unencoded into Credential= and the
   scope line, so they must not hold '/', ',', '=' or whitespace. */
static int check_scope_part(const char *s, size_t maxlen) {
  size_t i;

  if (s == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  for (i = 0; s[i] != '\0'; ++i) {
    uint8_t c = (uint8_t)s[i];
    if (i == maxlen || !(is_alnum(c) || c == '-' || c == '.' || c == '_')) {
      return KEFO_ERR_INVALID_ARGUMENT;
    }
  }
  return i == 0 ? KEFO_ERR_INVALID_ARGUMENT : 0;
}

static void put_digits(char *p, unsigned v, int n) {
  while (n-- > 0) {
    p[n] = (char)('0' + v % 10);
    v /= 10;
  }
}

int kefo__sigv4_amz_date(char *out, size_t outlen, int64_t time) {
  int64_t days, z, era, doe, yoe, doy, mp, year;
  unsigned month, day, secs;

  if (out == NULL || time < 0 || time > KEFO_SIGV4_MAX_TIME) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (outlen < KEFO_SIGV4_DATE_LEN + 1) {
    return KEFO_ERR_BUFFER_TOO_SMALL;
  }
  days = time / 86400;
  secs = (unsigned)(time % 86400);
  /* Civil date from a day count, in 400-year eras starting on 1 March so
     the leap day falls at the end of each year: no table, no gmtime, no
     time zone. */
  z = days + 719468;
  era = z / 146097;
  doe = z - era * 146097;
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  day = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  year = yoe + era * 400 + (month <= 2);

  put_digits(out, (unsigned)year, 4);
  put_digits(out + 4, month, 2);
  put_digits(out + 6, day, 2);
  out[8] = 'T';
  put_digits(out + 9, secs / 3600, 2);
  put_digits(out + 11, secs / 60 % 60, 2);
  put_digits(out + 13, secs % 60, 2);
  out[15] = 'Z';
  out[16] = '\0';
  return 0;
}

int kefo__sigv4_sha256_hex(char *out, size_t outlen, const uint8_t *data,
                           size_t len) {
  uint8_t md[32];
  int rv;

  if (out == NULL || (data == NULL && len > 0)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (outlen < KEFO_SIGV4_HEX_LEN + 1) {
    return KEFO_ERR_BUFFER_TOO_SMALL;
  }
  rv = sha256(md, data ? (const void *)data : "", len);
  if (rv != 0) {
    return rv;
  }
  hex_encode(out, md, sizeof(md));
  return 0;
}

/* Time, region and service: all the string to sign needs. */
int kefo__sigv4_scope_init(scope *sc, const kefo_sigv4_params *params) {
  int rv;

  if (params == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  rv = kefo__sigv4_amz_date(sc->amz_date, sizeof(sc->amz_date), params->time);
  if (rv != 0) {
    return rv;
  }
  if (check_scope_part(params->region, MAX_SCOPE_PART_LEN) != 0 ||
      check_scope_part(params->service, MAX_SCOPE_PART_LEN) != 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  snprintf(sc->scope, sizeof(sc->scope), "%.8s/%s/%s/" SCOPE_TERMINATOR,
           sc->amz_date, params->region, params->service);
  sc->credential[0] = '\0';
  return 0;
}

/* Needs kefo__sigv4_scope_init first. Fills sc->credential. */
int kefo__sigv4_scope_set_credentials(scope *sc,
                                      const kefo_sigv4_credentials *creds) {
  size_t i, secretlen;

  if (creds == NULL || creds->secret_access_key == NULL ||
      check_scope_part(creds->access_key_id, MAX_ACCESS_KEY_ID_LEN) != 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  secretlen = strlen(creds->secret_access_key);
  if (secretlen == 0 || secretlen > MAX_SECRET_LEN) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  /* The token goes into a header or a query parameter as is: printable
     ASCII without spaces covers what STS issues (base64). */
  if (creds->session_token) {
    for (i = 0; creds->session_token[i] != '\0'; ++i) {
      uint8_t c = (uint8_t)creds->session_token[i];
      if (c <= 0x20 || c >= 0x7f) {
        return KEFO_ERR_INVALID_ARGUMENT;
      }
    }
  }
  snprintf(sc->credential, sizeof(sc->credential), "%s/%s",
           creds->access_key_id, sc->scope);
  return 0;
}

int kefo__sigv4_append_string_to_sign(kefo_buf *out, const scope *sc,
                                      const uint8_t *creq, size_t creqlen) {
  uint8_t md[32];
  char hex[KEFO_SIGV4_HEX_LEN + 1];
  int rv;

  rv = sha256(md, creqlen ? (const void *)creq : "", creqlen);
  if (rv != 0) {
    return rv;
  }
  hex_encode(hex, md, sizeof(md));
  rv = kefo__buf_append_str(out, ALGORITHM "\n");
  if (rv == 0) {
    rv = kefo__buf_append_str(out, sc->amz_date);
  }
  if (rv == 0) {
    rv = kefo__buf_append_byte(out, '\n');
  }
  if (rv == 0) {
    rv = kefo__buf_append_str(out, sc->scope);
  }
  if (rv == 0) {
    rv = kefo__buf_append_byte(out, '\n');
  }
  if (rv == 0) {
    rv = kefo__buf_append(out, hex, KEFO_SIGV4_HEX_LEN);
  }
  return rv;
}

int kefo__sigv4_string_to_sign(kefo_buf *out, const uint8_t *creq,
                               size_t creqlen,
                               const kefo_sigv4_params *params) {
  scope sc;
  size_t mark;
  int rv;

  if (out == NULL || (creq == NULL && creqlen > 0)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  rv = kefo__sigv4_scope_init(&sc, params);
  if (rv != 0) {
    return rv;
  }
  mark = out->len;
  rv = kefo__sigv4_append_string_to_sign(out, &sc, creq, creqlen);
  if (rv != 0) {
    out->len = mark;
  }
  return rv;
}

void kefo__sigv4_key_init(kefo_sigv4_key *key) {
  memset(key, 0, sizeof(*key));
}

void kefo__sigv4_key_free(kefo_sigv4_key *key) {
  OPENSSL_cleanse(key, sizeof(*key));
}

/* HMAC chain "AWS4"+secret -> date -> region -> service -> aws4_request.
   Every intermediate key is wiped, on success or not. */
static int derive_key(uint8_t out[KEFO_SIGV4_KEY_LEN], const char *secret,
                      const char *amz_date, const char *region,
                      const char *service) {
  uint8_t seed[4 + MAX_SECRET_LEN];
  uint8_t k1[32], k2[32];
  size_t secretlen = strlen(secret);
  int rv;

  memcpy(seed, "AWS4", 4);
  memcpy(seed + 4, secret, secretlen);
  rv = hmac_sha256(k1, seed, 4 + secretlen, amz_date, 8);
  if (rv != 0) {
    goto fail;
  }
  rv = hmac_sha256(k2, k1, sizeof(k1), region, strlen(region));
  if (rv != 0) {
    goto fail;
  }
  rv = hmac_sha256(k1, k2, sizeof(k2), service, strlen(service));
  if (rv != 0) {
    goto fail;
  }
  rv = hmac_sha256(out, k1, sizeof(k1), SCOPE_TERMINATOR,
                   sizeof(SCOPE_TERMINATOR) - 1);

fail:
  OPENSSL_cleanse(seed, sizeof(seed));
  OPENSSL_cleanse(k1, sizeof(k1));
  OPENSSL_cleanse(k2, sizeof(k2));
  return rv;
}

/* Needs a scope with the credentials set. */
int kefo__sigv4_key_update(kefo_sigv4_key *key, const scope *sc,
                           const kefo_sigv4_params *params) {
  int rv;

  if (strcmp(key->credential, sc->credential) == 0) {
    return 0;
  }
  /* Empty while deriving, so a failure never leaves a key that claims a
     scope it was not derived for. */
  key->credential[0] = '\0';
  rv = derive_key(key->key, params->credentials->secret_access_key,
                  sc->amz_date, params->region, params->service);
  if (rv != 0) {
    kefo__sigv4_key_free(key);
    return rv;
  }
  memcpy(key->credential, sc->credential, strlen(sc->credential) + 1);
  return 0;
}

int kefo__sigv4_signing_key(kefo_sigv4_key *key,
                            const kefo_sigv4_params *params) {
  scope sc;
  int rv;

  if (key == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  rv = kefo__sigv4_scope_init(&sc, params);
  if (rv == 0) {
    rv = kefo__sigv4_scope_set_credentials(&sc, params->credentials);
  }
  if (rv == 0) {
    rv = kefo__sigv4_key_update(key, &sc, params);
  }
  if (rv != 0) {
    kefo__sigv4_key_free(key);
  }
  return rv;
}

int kefo__sigv4_signature(char *out, size_t outlen, const kefo_sigv4_key *key,
                          const uint8_t *sts, size_t stslen) {
  uint8_t mac[32];
  int rv;

  if (out == NULL || key == NULL || (sts == NULL && stslen > 0)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (key->credential[0] == '\0') {
    return KEFO_ERR_INVALID_STATE;
  }
  if (outlen < KEFO_SIGV4_HEX_LEN + 1) {
    return KEFO_ERR_BUFFER_TOO_SMALL;
  }
  rv = hmac_sha256(mac, key->key, sizeof(key->key),
                   sts ? (const void *)sts : "", stslen);
  if (rv != 0) {
    return rv;
  }
  hex_encode(out, mac, sizeof(mac));
  return 0;
}
