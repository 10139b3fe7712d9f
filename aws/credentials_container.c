/*
 * ECS and EKS (Pod Identity) container credentials: one GET to the
 * container credentials endpoint named by the environment, with an
 * authorization token when one is given, answered by the same JSON
 * document as IMDS.
 */
#include "aws/credentials.h"
#include "aws/region.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"

#define ECS_ENDPOINT "http://169.254.170.2"
#define MAX_BODY (16 * 1024)
#define MAX_AUTH_TOKEN (16 * 1024)
#define TIMEOUT_MS 2000
#define PATH_MAX_LEN 1024
#define MSG_MAX 512

/* A path and query fit for a request line: '/' then visible ASCII. */
static int valid_path(const char *p) {
  if (p[0] != '/') {
    return 0;
  }
  for (; *p; ++p) {
    if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
      return 0;
    }
  }
  return 1;
}

static int is_loopback_v4(const char *h) {
  unsigned a, b, c, d;
  char tail;

  return sscanf(h, "%u.%u.%u.%u%c", &a, &b, &c, &d, &tail) == 4 && a == 127 &&
         b < 256 && c < 256 && d < 256;
}

/* Plain http is allowed only where nobody else can listen: the host
   itself and the container metadata addresses of ECS and EKS. */
static int http_allowed(const char *host) {
  return strcmp(host, "localhost") == 0 || is_loopback_v4(host) ||
         strcmp(host, "::1") == 0 || strcmp(host, "169.254.170.2") == 0 ||
         strcmp(host, "169.254.170.23") == 0 ||
         strcmp(host, "fd00:ec2::23") == 0;
}

/* AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: a path on the ECS endpoint. */
static int relative_endpoint(const char *rel, kefo_endpoint *ep, char *path,
                             size_t pathlen, char *err, size_t errlen) {
  if (!valid_path(rel) || strlen(rel) >= pathlen) {
    kefo__set_err(
        err, errlen,
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not a path starting "
        "with '/'");
    return KEFO_ERR_CREDENTIALS;
  }
  kefo__endpoint_parse(ep, ECS_ENDPOINT);
  memcpy(path, rel, strlen(rel) + 1);
  return 0;
}

/* AWS_CONTAINER_CREDENTIALS_FULL_URI: a whole URL, split into the endpoint
   (scheme, host and port) and the path with its query. */
static int full_endpoint(const char *full, kefo_endpoint *ep, char *path,
                         size_t pathlen, char *err, size_t errlen) {
  char base[KEFO_ENDPOINT_URL_MAX];
  const char *rest, *p;
  size_t blen;

  p = strstr(full, "://");
  rest = p != NULL ? p + 3 : full;
  while (*rest && *rest != '/' && *rest != '?') {
    if (*rest == '[') {
      const char *close = strchr(rest, ']');
      rest = close != NULL ? close : rest + strlen(rest) - 1;
    }
    ++rest;
  }
  blen = (size_t)(rest - full);
  if (p == NULL || blen >= sizeof(base)) {
    goto bad_url;
  }
  memcpy(base, full, blen);
  base[blen] = '\0';
  if (kefo__endpoint_parse(ep, base) != 0) {
    goto bad_url;
  }
  if (*rest == '\0') {
    rest = "/";
  }
  if (*rest == '?') {
    if (strlen(rest) + 2 > pathlen) {
      goto bad_url;
    }
    path[0] = '/';
    memcpy(path + 1, rest, strlen(rest) + 1);
  } else {
    if (strlen(rest) + 1 > pathlen) {
      goto bad_url;
    }
    memcpy(path, rest, strlen(rest) + 1);
  }
  if (!valid_path(path)) {
    goto bad_url;
  }
  return 0;

bad_url:
  kefo__set_err(
      err, errlen,
      "AWS_CONTAINER_CREDENTIALS_FULL_URI is not an http:// or https:// "
      "URL");
  return KEFO_ERR_CREDENTIALS;
}

int kefo__credentials_container_endpoint(const kefo_env *env, kefo_endpoint *ep,
                                         char *path, size_t pathlen, char *err,
                                         size_t errlen) {
  const char *rel =
      kefo__env_get(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  const char *full = kefo__env_get(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI");
  int rv;

  if (rel != NULL) {
    return relative_endpoint(rel, ep, path, pathlen, err, errlen);
  }
  if (full == NULL) {
    kefo__set_err(err, errlen,
                  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
                  "AWS_CONTAINER_CREDENTIALS_FULL_URI are not set");
    return KEFO_ERR_CREDENTIALS;
  }
  rv = full_endpoint(full, ep, path, pathlen, err, errlen);
  if (rv != 0) {
    return rv;
  }
  if (!ep->tls && !http_allowed(ep->host)) {
    kefo__set_err(
        err, errlen,
        "AWS_CONTAINER_CREDENTIALS_FULL_URI uses http to '%.255s', which "
        "is allowed only for loopback, 169.254.170.2, 169.254.170.23 "
        "and fd00:ec2::23 (use https)",
        ep->host);
    return KEFO_ERR_CREDENTIALS;
  }
  return 0;
}

typedef struct container_provider container_provider;

typedef struct container_req {
  kefo_credentials_pending link; /* first: the list's entries cast back */
  const kefo_mem *mem;
  kefo_credentials_cb cb;
  void *user_data;
  kefo_credentials_fetch *fetch;
  char url[KEFO_ENDPOINT_URL_MAX + PATH_MAX_LEN];
  /* To redact from messages. */
  char *auth;
  size_t auth_len;
  kefo_credentials_copy result;
} container_req;

struct container_provider {
  kefo_credentials_provider base;
  const kefo_mem *mem;
  const kefo_env *env;
  kefo_credentials_transport transport;
  kefo_credentials_pending *reqs;
};

static void req_free(container_req *r) {
  kefo__credentials_copy_free(&r->result);
  if (r->auth != NULL) {
    kefo__credentials_wipe(r->auth, r->auth_len);
    kefo__mem_free(r->mem, r->auth);
  }
  kefo__mem_free(r->mem, r);
}

static void req_finish(container_req *r, int error, const char *message,
                       int status, int retryable) {
  kefo_credentials_cb cb = r->cb;
  void *ud = r->user_data;
  char msg[MSG_MAX + sizeof(r->url) + 16];

  kefo__credentials_pending_remove(&r->link);
  if (error == 0) {
    kefo_credentials creds = r->result.creds;
    cb(0, &creds, NULL, ud);
    req_free(r);
    return;
  }
  snprintf(msg, sizeof(msg), "%s (at %s)", message, r->url);
  kefo__credentials_redact(msg, r->auth);
  req_free(r);
  kefo__credentials_fail(cb, ud, error, msg, NULL, status, retryable);
}

static void container_on_fetch(int error, const kefo_error_info *info,
                               int status, const uint8_t *body, size_t len,
                               void *user_data) {
  container_req *r = user_data;
  char msg[MSG_MAX], why[256];
  int rv;

  r->fetch = NULL;
  if (error != 0) {
    snprintf(msg, sizeof(msg), "container endpoint request failed: %s",
             info && info->message ? info->message : kefo_strerror(error));
    req_finish(r, error, msg, info ? info->http_status : 0,
               info ? info->retryable : 0);
    return;
  }
  if (status != 200) {
    snprintf(msg, sizeof(msg), "container endpoint returned HTTP %d%s", status,
             status == 401 || status == 403
                 ? " (is the authorization token right?)"
                 : "");
    req_finish(r, KEFO_ERR_CREDENTIALS, msg, status,
               status >= 500 || status == 429);
    return;
  }
  rv = kefo__credentials_parse_json(&r->result, body, len, why, sizeof(why));
  if (rv != 0) {
    snprintf(msg, sizeof(msg), "container endpoint: %s", why);
    req_finish(r, rv, msg, status, 0);
    return;
  }
  req_finish(r, 0, NULL, status, 0);
}

/* Header values: no line breaks or other controls. */
static int valid_header_value(const char *s, size_t len) {
  size_t i;

  for (i = 0; i < len; ++i) {
    unsigned char c = (unsigned char)s[i];
    if ((c < 0x20 && c != '\t') || c == 0x7f) {
      return 0;
    }
  }
  return len > 0;
}

/* A request for |cb|, to the container endpoint |ep| and |path|, on the
   provider's list of requests in flight. */
static container_req *req_new(container_provider *cp, kefo_credentials_cb cb,
                              void *user_data, const kefo_endpoint *ep,
                              const char *path) {
  container_req *r = kefo__mem_calloc(cp->mem, 1, sizeof(*r));

  if (r == NULL) {
    return NULL;
  }
  r->mem = cp->mem;
  r->cb = cb;
  r->user_data = user_data;
  kefo__credentials_copy_init(&r->result, cp->mem);
  snprintf(r->url, sizeof(r->url), "%s://%s%s", ep->tls ? "https" : "http",
           ep->authority, path);
  kefo__credentials_pending_add(&cp->reqs, &r->link);
  return r;
}

/* Starts the GET of |path|, with the authorization token if there is one;
   its answer goes to container_on_fetch. */
static void req_send(container_provider *cp, container_req *r,
                     const kefo_endpoint *ep, const char *path) {
  kefo_http_header h[2];
  kefo_http_request req;
  int rv;

  memset(&req, 0, sizeof(req));
  req.endpoint = ep;
  req.version = KEFO_HTTP_1_1;
  req.method = "GET";
  req.path = path;
  req.headers = h;
  req.timeout_ms = TIMEOUT_MS;
  h[0].name = "user-agent";
  h[0].value = "kefo/" KEFO_VERSION;
  req.nheaders = 1;
  if (r->auth != NULL) {
    h[1].name = "authorization";
    h[1].value = r->auth;
    req.nheaders = 2;
  }
  rv = kefo__credentials_fetch_start(&r->fetch, cp->mem, &cp->transport, &req,
                                     MAX_BODY, container_on_fetch, r);
  if (rv != 0) {
    r->fetch = NULL;
    req_finish(r, rv, kefo_strerror(rv), 0, 0);
  }
}

static int container_get(kefo_credentials_provider *p, kefo_credentials_cb cb,
                         void *user_data) {
  container_provider *cp = (container_provider *)p;
  const char *token_file, *token;
  char path[PATH_MAX_LEN], msg[MSG_MAX];
  kefo_endpoint ep;
  container_req *r;
  int rv;

  rv = kefo__credentials_container_endpoint(cp->env, &ep, path, sizeof(path),
                                            msg, sizeof(msg));
  if (rv != 0) {
    kefo__credentials_fail(cb, user_data, rv, msg, NULL, 0, 0);
    return 0;
  }
  if (cp->transport.request == NULL) {
    kefo__credentials_fail(cb, user_data, KEFO_ERR_CREDENTIALS,
                           "no HTTP client", NULL, 0, 0);
    return 0;
  }
  r = req_new(cp, cb, user_data, &ep, path);
  if (r == NULL) {
    return KEFO_ERR_NOMEM;
  }

  token_file = kefo__env_get(cp->env, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
  token = kefo__env_get(cp->env, "AWS_CONTAINER_AUTHORIZATION_TOKEN");
  if (token_file != NULL) {
    rv = kefo__credentials_read_token_file(cp->mem, token_file, MAX_AUTH_TOKEN,
                                           &r->auth, &r->auth_len, msg,
                                           sizeof(msg));
    if (rv != 0) {
      char full[MSG_MAX + 64];
      snprintf(full, sizeof(full), "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %s",
               msg);
      req_finish(r, rv, full, 0, 0);
      return 0;
    }
  } else if (token != NULL) {
    r->auth_len = strlen(token);
    if (r->auth_len > MAX_AUTH_TOKEN) {
      req_finish(r, KEFO_ERR_CREDENTIALS,
                 "AWS_CONTAINER_AUTHORIZATION_TOKEN is too long", 0, 0);
      return 0;
    }
    r->auth = kefo__mem_malloc(cp->mem, r->auth_len + 1);
    if (r->auth == NULL) {
      r->auth_len = 0;
      kefo__credentials_pending_remove(&r->link);
      req_free(r);
      return KEFO_ERR_NOMEM;
    }
    memcpy(r->auth, token, r->auth_len + 1);
  }
  if (r->auth != NULL && !valid_header_value(r->auth, r->auth_len)) {
    req_finish(r, KEFO_ERR_CREDENTIALS,
               token_file != NULL
                   ? "the token in AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE "
                     "holds a line break or control character"
                   : "AWS_CONTAINER_AUTHORIZATION_TOKEN holds a line break "
                     "or control character",
               0, 0);
    return 0;
  }
  req_send(cp, r, &ep, path);
  return 0;
}

static void container_del(kefo_credentials_provider *p) {
  container_provider *cp = (container_provider *)p;

  while (cp->reqs != NULL) {
    container_req *r = (container_req *)cp->reqs;
    kefo__credentials_pending_remove(&r->link);
    kefo__credentials_fetch_cancel(r->fetch);
    req_free(r);
  }
  kefo__mem_free(cp->mem, cp);
}

static const kefo_credentials_provider_ops container_ops = {
    container_get, container_del, NULL};

int kefo__credentials_container_new(kefo_credentials_provider **out,
                                    const kefo_credentials_options *opts) {
  const kefo_mem *mem;
  container_provider *cp;

  if (out == NULL || opts == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__mem_or_default(opts->mem);
  cp = kefo__mem_calloc(mem, 1, sizeof(*cp));
  if (cp == NULL) {
    return KEFO_ERR_NOMEM;
  }
  cp->base.ops = &container_ops;
  cp->base.name = "container";
  cp->mem = mem;
  cp->env = opts->env;
  cp->transport = opts->transport;
  *out = &cp->base;
  return 0;
}
