/*
 * Names of the public error codes, and the version query.
 */
#include "config.h"

#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>

#include <kefo/kefo.h>

const char *kefo_strerror(int code) {
  switch (code) {
  case 0:
    return "Success";
  case KEFO_ERR_INVALID_ARGUMENT:
    return "Invalid argument";
  case KEFO_ERR_BUFFER_TOO_SMALL:
    return "Output buffer too small";
  case KEFO_ERR_INVALID_STATE:
    return "Invalid state for this call";
  case KEFO_ERR_WOULD_BLOCK:
    return "The producer's buffer is full; put again after on_writable";
  case KEFO_ERR_ES_PRELUDE_CRC:
    return "Event-stream prelude CRC mismatch";
  case KEFO_ERR_ES_MESSAGE_CRC:
    return "Event-stream message CRC mismatch";
  case KEFO_ERR_ES_TOO_LARGE:
    return "Event-stream message or headers larger than the limit";
  case KEFO_ERR_ES_BAD_LENGTH:
    return "Event-stream prelude lengths are inconsistent";
  case KEFO_ERR_ES_BAD_HEADER:
    return "Event-stream header is malformed";
  case KEFO_ERR_ES_TRUNCATED:
    return "Event-stream input ended inside a message";
  case KEFO_ERR_BASE64:
    return "Invalid base64 text";
  case KEFO_ERR_SIGV4:
    return "Request cannot be signed with SigV4";
  case KEFO_ERR_CRYPTO:
    return "Cryptographic library failure";
  case KEFO_ERR_CONNECT:
    return "Connection failed";
  case KEFO_ERR_TLS:
    return "TLS failed";
  case KEFO_ERR_TIMEOUT:
    return "Timed out";
  case KEFO_ERR_HTTP:
    return "HTTP protocol error or connection lost";
  case KEFO_ERR_STREAM_RESET:
    return "HTTP/2 stream reset or refused";
  case KEFO_ERR_CANCELLED:
    return "Cancelled";
  case KEFO_ERR_RESPONSE_TOO_LARGE:
    return "Response larger than allowed";
  case KEFO_ERR_AWS:
    return "AWS returned an error";
  case KEFO_ERR_BAD_RESPONSE:
    return "Malformed response";
  case KEFO_ERR_CREDENTIALS:
    return "No usable AWS credentials";
  case KEFO_ERR_CONFIG:
    return "Invalid configuration";
  case KEFO_ERR_LEASE_STORE:
    return "Lease store failure";
  case KEFO_ERR_LEASE_LOST:
    return "Lease lost to another worker";
  case KEFO_ERR_NOMEM:
    return "Out of memory";
  case KEFO_ERR_CALLBACK_FAILURE:
    return "An application callback failed";
  default:
    return "Unknown error code";
  }
}

int kefo_is_fatal(int code) {
  return code <= KEFO_ERR_FATAL;
}

static const kefo_info version_info = {KEFO_VERSION_NUM, KEFO_VERSION};

const kefo_info *kefo_version(int least_version) {
  if (least_version > KEFO_VERSION_NUM) {
    return NULL;
  }
  return &version_info;
}

void kefo__set_err(char *err, size_t errlen, const char *fmt, ...) {
  va_list ap;

  if (err == NULL || errlen == 0) {
    return;
  }
  va_start(ap, fmt);
  vsnprintf(err, errlen, fmt, ap);
  va_end(ap);
}
