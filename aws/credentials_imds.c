/*
 * EC2 instance metadata credentials, IMDSv2 only: a session token from
 * PUT /latest/api/token (kept until shortly before its TTL ends), the
 * instance profile's role from the security-credentials listing, then
 * that role's credentials document.
 */
#include "aws/credentials.h"
#include "aws/region.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define IMDS_DEFAULT_ENDPOINT "http://169.254.169.254"
#define IMDS_IPV6_ENDPOINT "http://[fd00:ec2::254]"
#define TOKEN_PATH "/latest/api/token"
#define ROLE_PATH "/latest/meta-data/iam/security-credentials/"
#define TOKEN_TTL_S 21600
#define TOKEN_TTL_S_STR "21600"
/* A token is dropped this long before IMDS would expire it. */
#define TOKEN_MARGIN_MS (60 * 1000)
#define MAX_TOKEN_BODY 1024
#define MAX_ROLE_BODY 4096
#define MAX_CREDS_BODY (16 * 1024)
#define MAX_ROLE_NAME 128
#define DEFAULT_TIMEOUT_MS 1000
#define MSG_MAX 512

typedef enum { ST_TOKEN, ST_ROLE, ST_CREDS } imds_state;

typedef struct imds_provider imds_provider;

typedef struct imds_req {
  kefo_credentials_pending link; /* first: the list's entries cast back */
  imds_provider *ip;
  const kefo_mem *mem;
  kefo_credentials_cb cb;
  void *user_data;
  imds_state state;
  kefo_credentials_fetch *fetch;
  kefo_endpoint ep;
  char url[KEFO_ENDPOINT_URL_MAX];
  uint32_t timeout_ms;
  /* Asked for a new token once already after a 401. */
  int token_retried;
  char role[MAX_ROLE_NAME + 1];
  char path[sizeof(ROLE_PATH) + MAX_ROLE_NAME];
  kefo_credentials_copy result;
} imds_req;

struct imds_provider {
  kefo_credentials_provider base;
  const kefo_mem *mem;
  const kefo_clock *clock;
  const kefo_env *env;
  kefo_credentials_transport transport;
  /* The session token (a secret) and when to stop using it. */
  char *token;
  size_t token_len;
  int64_t token_until_ms;
  kefo_credentials_pending *reqs;
};

static int64_t now_ms(imds_provider *ip) {
  return ip->clock->wall_ms(ip->clock->user_data);
}

static void drop_token(imds_provider *ip) {
  if (ip->token != NULL) {
    kefo__credentials_wipe(ip->token, ip->token_len);
    kefo__mem_free(ip->mem, ip->token);
  }
  ip->token = NULL;
  ip->token_len = 0;
  ip->token_until_ms = 0;
}

static void req_free(imds_req *r) {
  kefo__credentials_copy_free(&r->result);
  kefo__mem_free(r->mem, r);
}

static void req_finish(imds_req *r, int error, const char *message, int status,
                       int retryable) {
  kefo_credentials_cb cb = r->cb;
  void *ud = r->user_data;
  char msg[MSG_MAX + KEFO_ENDPOINT_URL_MAX + 16];

  kefo__credentials_pending_remove(&r->link);
  if (error == 0) {
    kefo_credentials creds = r->result.creds;
    cb(0, &creds, NULL, ud);
    req_free(r);
    return;
  }
  snprintf(msg, sizeof(msg), "%s (at %s)", message, r->url);
  /* IMDS quoted back in a document: not the session token. */
  kefo__credentials_redact(msg, r->ip->token);
  req_free(r);
  kefo__credentials_fail(cb, ud, error, msg, NULL, status, retryable);
}

static void imds_on_fetch(int error, const kefo_error_info *info, int status,
                          const uint8_t *body, size_t len, void *user_data);

static void req_send(imds_req *r) {
  imds_provider *ip = r->ip;
  kefo_http_header h[2];
  kefo_http_request req;
  size_t max;
  int rv;

  if (r->state != ST_TOKEN && ip->token == NULL) {
    /* Another request dropped the token after a 401: start over. */
    r->state = ST_TOKEN;
  }
  memset(&req, 0, sizeof(req));
  req.endpoint = &r->ep;
  req.version = KEFO_HTTP_1_1;
  req.timeout_ms = r->timeout_ms;
  req.headers = h;
  req.nheaders = 2;
  h[1].name = "user-agent";
  h[1].value = "kefo/" KEFO_VERSION;
  if (r->state == ST_TOKEN) {
    req.method = "PUT";
    req.path = TOKEN_PATH;
    h[0].name = "x-aws-ec2-metadata-token-ttl-seconds";
    h[0].value = TOKEN_TTL_S_STR;
    max = MAX_TOKEN_BODY;
  } else {
    req.method = "GET";
    if (r->state == ST_ROLE) {
      req.path = ROLE_PATH;
      max = MAX_ROLE_BODY;
    } else {
      snprintf(r->path, sizeof(r->path), ROLE_PATH "%s", r->role);
      req.path = r->path;
      max = MAX_CREDS_BODY;
    }
    h[0].name = "x-aws-ec2-metadata-token";
    h[0].value = ip->token;
  }
  rv = kefo__credentials_fetch_start(&r->fetch, ip->mem, &ip->transport, &req,
                                     max, imds_on_fetch, r);
  if (rv != 0) {
    r->fetch = NULL;
    req_finish(r, rv, kefo_strerror(rv), 0, 0);
  }
}

/* Role names: IAM's characters, [A-Za-z0-9+=,.@_-]. */
static int valid_role(const char *s, size_t len) {
  size_t i;

  if (len == 0 || len > MAX_ROLE_NAME) {
    return 0;
  }
  for (i = 0; i < len; ++i) {
    char c = s[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || strchr("+=,.@_-", c))) {
      return 0;
    }
  }
  return 1;
}

static const char *step_name(imds_state st) {
  return st == ST_TOKEN  ? "session token"
         : st == ST_ROLE ? "role list"
                         : "credentials";
}

/* Reports a step's answer other than 200, with the likely cause where
   the status tells it. */
static void fail_status(imds_req *r, int status) {
  char msg[MSG_MAX];

  if (r->state == ST_CREDS) {
    snprintf(msg, sizeof(msg),
             "IMDS returned HTTP %d for credentials of role '%s'", status,
             r->role);
  } else if (r->state == ST_ROLE && status == 404) {
    snprintf(msg, sizeof(msg),
             "IMDS returned HTTP 404 for role list (no instance profile "
             "attached?)");
  } else if (r->state == ST_TOKEN && status == 403) {
    snprintf(msg, sizeof(msg),
             "IMDS returned HTTP 403 for session token (IMDS disabled on "
             "the instance?)");
  } else {
    snprintf(msg, sizeof(msg), "IMDS returned HTTP %d for %s", status,
             step_name(r->state));
  }
  req_finish(r, KEFO_ERR_CREDENTIALS, msg, status,
             status >= 500 || status == 429);
}

/* The session token answered: kept for the provider's later gets (it is
   a secret, wiped when dropped), then on to the role list. */
static void on_token(imds_req *r, const char *s, size_t len, int status) {
  imds_provider *ip = r->ip;
  char *tok;
  size_t n = len, i;
  int bad;

  while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ')) {
    --n;
  }
  bad = n == 0;
  for (i = 0; i < n && !bad; ++i) {
    bad = (unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f;
  }
  if (bad) {
    req_finish(r, KEFO_ERR_BAD_RESPONSE,
               "IMDS session token is empty or not printable ASCII", status, 0);
    return;
  }
  tok = kefo__mem_malloc(ip->mem, n + 1);
  if (tok == NULL) {
    req_finish(r, KEFO_ERR_NOMEM, "out of memory", 0, 0);
    return;
  }
  memcpy(tok, s, n);
  tok[n] = '\0';
  drop_token(ip);
  ip->token = tok;
  ip->token_len = n;
  ip->token_until_ms =
      now_ms(ip) + (int64_t)TOKEN_TTL_S * 1000 - TOKEN_MARGIN_MS;
  r->state = ST_ROLE;
  req_send(r);
}

/* The role list answered: its first line names the instance profile's
   role, whose credentials are asked for next. */
static void on_role(imds_req *r, const char *s, size_t len, int status) {
  const char *start = s, *end;

  while (start < s + len && (*start == ' ' || *start == '\n' ||
                             *start == '\r' || *start == '\t')) {
    ++start;
  }
  end = start;
  while (end < s + len && *end != '\n' && *end != '\r') {
    ++end;
  }
  while (end > start && (end[-1] == ' ' || end[-1] == '\t')) {
    --end;
  }
  if (end == start) {
    req_finish(r, KEFO_ERR_CREDENTIALS,
               "IMDS role list is empty (no instance profile attached?)",
               status, 0);
    return;
  }
  if (!valid_role(start, (size_t)(end - start))) {
    req_finish(r, KEFO_ERR_BAD_RESPONSE,
               "IMDS role list does not start with a role name", status, 0);
    return;
  }
  memcpy(r->role, start, (size_t)(end - start));
  r->role[end - start] = '\0';
  r->state = ST_CREDS;
  req_send(r);
}

/* The role's credentials document answered: the last step. */
static void on_creds(imds_req *r, const uint8_t *body, size_t len, int status) {
  char msg[MSG_MAX], why[256];
  int rv;

  rv = kefo__credentials_parse_json(&r->result, body, len, why, sizeof(why));
  if (rv != 0) {
    snprintf(msg, sizeof(msg), "IMDS credentials of role '%s': %s", r->role,
             why);
    req_finish(r, rv, msg, status, 0);
    return;
  }
  req_finish(r, 0, NULL, status, 0);
}

static void imds_on_fetch(int error, const kefo_error_info *info, int status,
                          const uint8_t *body, size_t len, void *user_data) {
  imds_req *r = user_data;
  char msg[MSG_MAX];

  r->fetch = NULL;
  if (error != 0) {
    snprintf(msg, sizeof(msg), "IMDS request for %s failed: %s",
             step_name(r->state),
             info && info->message ? info->message : kefo_strerror(error));
    req_finish(r, error, msg, info ? info->http_status : 0,
               info ? info->retryable : 0);
    return;
  }
  if (status == 401 && r->state != ST_TOKEN && !r->token_retried) {
    /* The token expired or IMDS restarted: one new token. */
    r->token_retried = 1;
    drop_token(r->ip);
    r->state = ST_TOKEN;
    req_send(r);
    return;
  }
  if (status != 200) {
    fail_status(r, status);
    return;
  }
  switch (r->state) {
  case ST_TOKEN:
    on_token(r, (const char *)body, len, status);
    break;
  case ST_ROLE:
    on_role(r, (const char *)body, len, status);
    break;
  case ST_CREDS:
  default:
    on_creds(r, body, len, status);
    break;
  }
}

static int is_true(const char *v) {
  return v != NULL && strlen(v) == 4 && (v[0] | 0x20) == 't' &&
         (v[1] | 0x20) == 'r' && (v[2] | 0x20) == 'u' && (v[3] | 0x20) == 'e';
}

static int ieq(const char *a, const char *b) {
  for (; *a && *b; ++a, ++b) {
    char x = *a >= 'A' && *a <= 'Z' ? (char)(*a | 0x20) : *a;
    char y = *b >= 'A' && *b <= 'Z' ? (char)(*b | 0x20) : *b;
    if (x != y) {
      return 0;
    }
  }
  return *a == *b;
}

static int imds_get(kefo_credentials_provider *p, kefo_credentials_cb cb,
                    void *user_data) {
  imds_provider *ip = (imds_provider *)p;
  const char *url = kefo__env_get(ip->env, "AWS_EC2_METADATA_SERVICE_ENDPOINT");
  const char *mode =
      kefo__env_get(ip->env, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
  const char *timeout = kefo__env_get(ip->env, "AWS_METADATA_SERVICE_TIMEOUT");
  uint32_t timeout_ms = DEFAULT_TIMEOUT_MS;
  kefo_endpoint ep;
  imds_req *r;

  if (is_true(kefo__env_get(ip->env, "AWS_EC2_METADATA_DISABLED"))) {
    kefo__credentials_fail(cb, user_data, KEFO_ERR_CREDENTIALS,
                           "disabled by AWS_EC2_METADATA_DISABLED", NULL, 0, 0);
    return 0;
  }
  if (url == NULL) {
    if (mode != NULL && !ieq(mode, "IPv4") && !ieq(mode, "IPv6")) {
      kefo__credentials_fail(
          cb, user_data, KEFO_ERR_CREDENTIALS,
          "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE is neither IPv4 nor IPv6",
          NULL, 0, 0);
      return 0;
    }
    url = mode != NULL && ieq(mode, "IPv6") ? IMDS_IPV6_ENDPOINT
                                            : IMDS_DEFAULT_ENDPOINT;
  }
  if (strlen(url) >= KEFO_ENDPOINT_URL_MAX ||
      kefo__endpoint_parse(&ep, url) != 0) {
    kefo__credentials_fail(cb, user_data, KEFO_ERR_CREDENTIALS,
                           "AWS_EC2_METADATA_SERVICE_ENDPOINT is not an "
                           "http:// URL with only a host and port",
                           NULL, 0, 0);
    return 0;
  }
  if (timeout != NULL) {
    char *end;
    unsigned long v = strtoul(timeout, &end, 10);
    if (timeout[0] < '0' || timeout[0] > '9' || *end != '\0' || v == 0 ||
        v > 3600) {
      kefo__credentials_fail(cb, user_data, KEFO_ERR_CREDENTIALS,
                             "AWS_METADATA_SERVICE_TIMEOUT is not a number of "
                             "seconds from 1 to 3600",
                             NULL, 0, 0);
      return 0;
    }
    timeout_ms = (uint32_t)v * 1000;
  }
  if (ip->transport.request == NULL) {
    kefo__credentials_fail(cb, user_data, KEFO_ERR_CREDENTIALS,
                           "no HTTP client", NULL, 0, 0);
    return 0;
  }
  r = kefo__mem_calloc(ip->mem, 1, sizeof(*r));
  if (r == NULL) {
    return KEFO_ERR_NOMEM;
  }
  r->ip = ip;
  r->mem = ip->mem;
  r->cb = cb;
  r->user_data = user_data;
  r->ep = ep;
  r->timeout_ms = timeout_ms;
  snprintf(r->url, sizeof(r->url), "%s", url);
  kefo__credentials_copy_init(&r->result, ip->mem);
  kefo__credentials_pending_add(&ip->reqs, &r->link);
  if (ip->token != NULL && now_ms(ip) >= ip->token_until_ms) {
    drop_token(ip);
  }
  r->state = ip->token != NULL ? ST_ROLE : ST_TOKEN;
  req_send(r);
  return 0;
}

static void imds_del(kefo_credentials_provider *p) {
  imds_provider *ip = (imds_provider *)p;

  while (ip->reqs != NULL) {
    imds_req *r = (imds_req *)ip->reqs;
    kefo__credentials_pending_remove(&r->link);
    kefo__credentials_fetch_cancel(r->fetch);
    req_free(r);
  }
  drop_token(ip);
  kefo__mem_free(ip->mem, ip);
}

static const kefo_credentials_provider_ops imds_ops = {imds_get, imds_del,
                                                       NULL};

int kefo__credentials_imds_new(kefo_credentials_provider **out,
                               const kefo_credentials_options *opts) {
  const kefo_mem *mem;
  imds_provider *ip;

  if (out == NULL || opts == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__mem_or_default(opts->mem);
  ip = kefo__mem_calloc(mem, 1, sizeof(*ip));
  if (ip == NULL) {
    return KEFO_ERR_NOMEM;
  }
  ip->base.ops = &imds_ops;
  ip->base.name = "IMDSv2";
  ip->mem = mem;
  ip->clock = kefo__clock_or_system(opts->clock);
  ip->env = opts->env;
  ip->transport = opts->transport;
  *out = &ip->base;
  return 0;
}
