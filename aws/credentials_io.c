/*
 * The two ways the providers read what lies outside the process: one
 * bounded HTTP exchange (STS, IMDS, the container endpoint), through a
 * replaceable transport, and small secret token files. Both wipe every
 * buffer that may have held a secret.
 */
#include "aws/credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

/* ---- Token files ---- */

int kefo__credentials_read_token_file(const kefo_mem *mem, const char *path,
                                      size_t max, char **out, size_t *outlen,
                                      char *err, size_t errlen) {
  struct stat st;
  char *buf = NULL;
  size_t n = 0;
  int fd, rv = KEFO_ERR_CREDENTIALS;

  *out = NULL;
  *outlen = 0;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    kefo__set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
    return KEFO_ERR_CREDENTIALS;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    kefo__set_err(err, errlen, "cannot read %s: not a regular file", path);
    goto fail;
  }
  if ((uint64_t)st.st_size > max) {
    kefo__set_err(err, errlen, "%s is larger than %lu bytes", path,
                  (unsigned long)max);
    goto fail;
  }
  buf = kefo__mem_malloc(mem, max + 2);
  if (buf == NULL) {
    kefo__set_err(err, errlen, "out of memory");
    rv = KEFO_ERR_NOMEM;
    goto fail;
  }
  while (n <= max) {
    ssize_t r = read(fd, buf + n, max + 1 - n);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r < 0) {
      kefo__set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
      goto fail;
    }
    if (r == 0) {
      break;
    }
    n += (size_t)r;
  }
  if (n > max) {
    kefo__set_err(err, errlen, "%s is larger than %lu bytes", path,
                  (unsigned long)max);
    goto fail;
  }
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' ||
                   buf[n - 1] == ' ' || buf[n - 1] == '\t')) {
    --n;
  }
  if (n == 0) {
    kefo__set_err(err, errlen, "%s is empty", path);
    goto fail;
  }
  buf[n] = '\0';
  close(fd);
  *out = buf;
  *outlen = n;
  return 0;

fail:
  if (buf != NULL) {
    kefo__credentials_wipe(buf, max + 2);
    kefo__mem_free(mem, buf);
  }
  close(fd);
  return rv;
}

/* ---- One bounded HTTP exchange ---- */

struct kefo_credentials_fetch {
  const kefo_mem *mem;
  kefo_http_stream *stream;
  kefo_credentials_fetch_cb cb;
  void *user_data;
  int status;
  int too_large;
  uint8_t *body;
  size_t len;
  size_t cap;
  size_t max;
};

static void fetch_free(kefo_credentials_fetch *f) {
  if (f->body != NULL) {
    kefo__credentials_wipe(f->body, f->cap);
    kefo__mem_free(f->mem, f->body);
  }
  kefo__mem_free(f->mem, f);
}

/* Grows the body to hold |need| bytes. A new block each time, so the old
   one (it may hold secrets) is wiped rather than left to realloc. */
static int fetch_reserve(kefo_credentials_fetch *f, size_t need) {
  size_t cap = f->cap ? f->cap : 256;
  uint8_t *nb;

  if (need <= f->cap) {
    return 0;
  }
  while (cap < need) {
    cap *= 2;
  }
  if (cap > f->max + 1) {
    cap = f->max + 1;
  }
  nb = kefo__mem_malloc(f->mem, cap);
  if (nb == NULL) {
    return KEFO_ERR_NOMEM;
  }
  if (f->body != NULL) {
    memcpy(nb, f->body, f->len);
    kefo__credentials_wipe(f->body, f->cap);
    kefo__mem_free(f->mem, f->body);
  }
  f->body = nb;
  f->cap = cap;
  return 0;
}

static int fetch_on_response(kefo_http_stream *stream, int status,
                             const kefo_http_header *headers, size_t nheaders,
                             void *user_data) {
  kefo_credentials_fetch *f = user_data;

  (void)stream;
  (void)headers;
  (void)nheaders;
  f->status = status;
  return 0;
}

static int fetch_on_data(kefo_http_stream *stream, const uint8_t *data,
                         size_t len, void *user_data) {
  kefo_credentials_fetch *f = user_data;

  (void)stream;
  if (len > f->max - f->len) {
    f->too_large = 1;
    return 1;
  }
  if (fetch_reserve(f, f->len + len + 1) != 0) {
    f->too_large = -1;
    return 1;
  }
  memcpy(f->body + f->len, data, len);
  f->len += len;
  return 0;
}

static void fetch_on_close(kefo_http_stream *stream, int error,
                           const kefo_error_info *info, void *user_data) {
  kefo_credentials_fetch *f = user_data;
  kefo_error_info mine;
  char msg[96];

  (void)stream;
  f->stream = NULL;
  memset(&mine, 0, sizeof(mine));
  if (f->too_large != 0) {
    error = f->too_large > 0 ? KEFO_ERR_RESPONSE_TOO_LARGE : KEFO_ERR_NOMEM;
    snprintf(msg, sizeof(msg),
             f->too_large > 0 ? "response body larger than %lu bytes"
                              : "out of memory reading a response of %lu "
                                "bytes at most",
             (unsigned long)f->max);
    mine.code = error;
    mine.message = msg;
    mine.http_status = f->status;
    info = &mine;
  } else if (error == 0 && fetch_reserve(f, f->len + 1) != 0) {
    error = KEFO_ERR_NOMEM;
    mine.code = error;
    mine.message = "out of memory";
    info = &mine;
  } else if (error != 0 && info == NULL) {
    mine.code = error;
    mine.message = kefo_strerror(error);
    info = &mine;
  }
  if (error == 0) {
    f->body[f->len] = 0;
  }
  f->cb(error, error ? info : NULL, f->status, error ? NULL : f->body,
        error ? 0 : f->len, f->user_data);
  fetch_free(f);
}

int kefo__credentials_fetch_start(kefo_credentials_fetch **out,
                                  const kefo_mem *mem,
                                  const kefo_credentials_transport *t,
                                  const kefo_http_request *req, size_t max_body,
                                  kefo_credentials_fetch_cb cb,
                                  void *user_data) {
  static const kefo_http_callbacks callbacks = {
      fetch_on_response, fetch_on_data, fetch_on_close, NULL};
  kefo_credentials_fetch *f;
  int rv;

  if (out == NULL || t == NULL || t->request == NULL || req == NULL ||
      cb == NULL || max_body == 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__mem_or_default(mem);
  f = kefo__mem_calloc(mem, 1, sizeof(*f));
  if (f == NULL) {
    return KEFO_ERR_NOMEM;
  }
  f->mem = mem;
  f->cb = cb;
  f->user_data = user_data;
  f->max = max_body;
  rv = t->request(t->ctx, req, &callbacks, f, &f->stream);
  if (rv != 0) {
    fetch_free(f);
    return rv;
  }
  *out = f;
  return 0;
}

void kefo__credentials_fetch_cancel(kefo_credentials_fetch *f) {
  if (f == NULL) {
    return;
  }
  if (f->stream != NULL) {
    kefo__http_stream_cancel(f->stream);
  }
  fetch_free(f);
}

static int client_request(void *ctx, const kefo_http_request *req,
                          const kefo_http_callbacks *cb, void *user_data,
                          kefo_http_stream **out) {
  return kefo__http_client_request(ctx, req, cb, user_data, out);
}

void kefo__credentials_transport_client(kefo_credentials_transport *t,
                                        kefo_http_client *client) {
  t->request = client != NULL ? client_request : NULL;
  t->ctx = client;
}
