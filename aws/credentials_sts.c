/*
 * The STS providers: AssumeRole (SigV4-signed with a source provider's
 * credentials) and AssumeRoleWithWebIdentity (unsigned, with a token
 * file). The form body they send and the response they read are
 * aws/credentials_sts_wire.c's.
 */
#include "aws/credentials.h"

#include <stdio.h>
#include <string.h>

#include "aws/region.h"
#include "aws/sigv4.h"
#include "base/error.h"

#define STS_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define STS_MAX_BODY (64 * 1024)
#define STS_TIMEOUT_MS 10000
/* STS accepts web identity tokens of up to 20000 characters. */
#define WEB_IDENTITY_TOKEN_MAX 20000
#define MSG_MAX 640

typedef struct sts_provider sts_provider;

typedef struct sts_req {
  kefo_credentials_pending link; /* first: the list's entries cast back */
  sts_provider *sp;
  const kefo_mem *mem;
  kefo_credentials_cb cb;
  void *user_data;
  /* Non-zero while waiting for the source provider. */
  int waiting_source;
  kefo_credentials_fetch *fetch;
  /* Secrets this request has seen, to redact from any message. */
  kefo_credentials_copy source;
  char *token;
  size_t token_len;
  /* The role, for messages. */
  char role[256];
  char url[KEFO_ENDPOINT_URL_MAX];
  kefo_credentials_copy result;
} sts_req;

struct sts_provider {
  kefo_credentials_provider base;
  const kefo_mem *mem;
  const kefo_clock *clock;
  const kefo_env *env;
  kefo_credentials_transport transport;
  int web_identity;
  /* Web identity: settings from the environment at each get. */
  int from_env;
  kefo_credentials_provider *source;
  char *role_arn;
  char *session_name;
  char *external_id;
  char *token_file;
  char *region;
  char *endpoint;
  uint32_t duration_s;
  kefo_credentials_pending *reqs;
};

static const char *sts_action(const sts_provider *sp) {
  return sp->web_identity ? "AssumeRoleWithWebIdentity" : "AssumeRole";
}

static void req_free(sts_req *r) {
  kefo__credentials_copy_free(&r->source);
  kefo__credentials_copy_free(&r->result);
  if (r->token != NULL) {
    kefo__credentials_wipe(r->token, r->token_len);
    kefo__mem_free(r->mem, r->token);
  }
  kefo__mem_free(r->mem, r);
}

/* Ends |r|: the callback is the last thing that happens. */
static void req_finish(sts_req *r, int error, const char *message,
                       const char *aws_type, int status, int retryable) {
  kefo_credentials_cb cb = r->cb;
  void *ud = r->user_data;
  const char *operation = sts_action(r->sp);
  kefo_error_info info;
  char msg[MSG_MAX + 512];
  char type[128];

  kefo__credentials_pending_remove(&r->link);
  if (error == 0) {
    kefo_credentials creds = r->result.creds;
    /* The copy stays alive until after the callback. */
    r->sp = NULL;
    cb(0, &creds, NULL, ud);
    req_free(r);
    return;
  }
  snprintf(msg, sizeof(msg), "STS %s for %s%s%s: %s", operation,
           r->role[0] ? r->role : "(no role)", r->url[0] ? " at " : "", r->url,
           message);
  kefo__credentials_redact(msg, r->source.creds.secret_access_key);
  kefo__credentials_redact(msg, r->source.creds.session_token);
  kefo__credentials_redact(msg, r->token);
  snprintf(type, sizeof(type), "%s", aws_type ? aws_type : "");
  kefo__credentials_redact(type, r->source.creds.secret_access_key);
  kefo__credentials_redact(type, r->source.creds.session_token);
  kefo__credentials_redact(type, r->token);
  req_free(r);
  memset(&info, 0, sizeof(info));
  info.code = error;
  info.message = msg;
  info.aws_type = type[0] ? type : NULL;
  info.operation = operation;
  info.http_status = status;
  info.retryable = retryable;
  cb(error, NULL, &info, ud);
}

static int retryable_code(const char *type, int status) {
  return status >= 500 || status == 429 || strcmp(type, "Throttling") == 0 ||
         strcmp(type, "IDPCommunicationError") == 0 ||
         strcmp(type, "RequestLimitExceeded") == 0;
}

static void sts_on_fetch(int error, const kefo_error_info *info, int status,
                         const uint8_t *body, size_t len, void *user_data) {
  sts_req *r = user_data;
  char msg[MSG_MAX], type[128];
  int rv;

  r->fetch = NULL;
  if (error != 0) {
    req_finish(r, error,
               info && info->message ? info->message : kefo_strerror(error),
               NULL, info ? info->http_status : 0, info ? info->retryable : 0);
    return;
  }
  rv = kefo__sts_parse_response(&r->result, status, body, len, type,
                                sizeof(type), msg, sizeof(msg));
  if (rv != 0) {
    req_finish(r, rv, msg, type, status,
               rv == KEFO_ERR_AWS && retryable_code(type, status));
    return;
  }
  req_finish(r, 0, NULL, NULL, status, 0);
}

/* Works out the endpoint and signing region. */
static int sts_endpoint(sts_provider *sp, sts_req *r, kefo_endpoint *ep,
                        char *region, char *err, size_t errlen) {
  int rv = 0;

  region[0] = '\0';
  if ((sp->region != NULL && sp->region[0] != '\0') ||
      kefo__env_get(sp->env, "AWS_REGION") != NULL ||
      kefo__env_get(sp->env, "AWS_DEFAULT_REGION") != NULL) {
    rv = kefo__region_resolve(region, sp->region, sp->env, NULL, NULL, err,
                              errlen);
    if (rv != 0) {
      return rv;
    }
  }
  rv = kefo__endpoint_resolve(r->url, ep, KEFO_SERVICE_STS, region,
                              sp->endpoint, sp->env, err, errlen);
  if (rv != 0) {
    return rv;
  }
  if (region[0] == '\0' || strcmp(region, "aws-global") == 0) {
    /* The global endpoint signs as us-east-1. */
    snprintf(region, KEFO_REGION_MAX, "us-east-1");
  }
  return 0;
}

static void default_session_name(sts_provider *sp, char *out, size_t outlen) {
  snprintf(out, outlen, "kefo-%lld",
           (long long)sp->clock->wall_ms(sp->clock->user_data));
}

/* Role session names: 2 to 64 of [A-Za-z0-9+=,.@_-]. */
static int valid_session_name(const char *s) {
  size_t n = 0;

  for (; s[n]; ++n) {
    char c = s[n];
    if (n == 64 || !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                     (c >= '0' && c <= '9') || strchr("+=,.@_-", c))) {
      return 0;
    }
  }
  return n >= 2;
}

/* The form body of |r|'s call, session |session_name|. */
static int sts_body(sts_req *r, const char *session_name, kefo_buf *body) {
  sts_provider *sp = r->sp;
  kefo_sts_params params;

  memset(&params, 0, sizeof(params));
  params.action = sts_action(sp);
  params.role_arn = r->role;
  params.session_name = session_name;
  params.external_id = sp->external_id;
  params.web_identity_token = r->token;
  params.duration_s = sp->duration_s;
  return kefo__sts_build_body(body, &params);
}

/* Signs the POST of |body| to |ep| with the source credentials |src|, for
   |region|: the headers to add are in |res|, which the caller frees
   whatever this returns. */
static int sts_sign(sts_provider *sp, const kefo_credentials *src,
                    const kefo_endpoint *ep, const char *region,
                    const kefo_buf *body, kefo_sigv4_result *res) {
  kefo_sigv4_header sh[2];
  kefo_sigv4_request sreq;
  kefo_sigv4_credentials sc;
  kefo_sigv4_params sparams;

  sh[0].name = "host";
  sh[0].namelen = 4;
  sh[0].value = ep->authority;
  sh[0].valuelen = strlen(ep->authority);
  sh[1].name = "content-type";
  sh[1].namelen = strlen(sh[1].name);
  sh[1].value = STS_CONTENT_TYPE;
  sh[1].valuelen = strlen(STS_CONTENT_TYPE);
  memset(&sreq, 0, sizeof(sreq));
  sreq.method = "POST";
  sreq.path = "/";
  sreq.headers = sh;
  sreq.nheaders = 2;
  sreq.body = body->data;
  sreq.bodylen = body->len;
  sc.access_key_id = src->access_key_id;
  sc.secret_access_key = src->secret_access_key;
  sc.session_token = src->session_token;
  memset(&sparams, 0, sizeof(sparams));
  sparams.credentials = &sc;
  sparams.region = region;
  sparams.service = "sts";
  sparams.time = sp->clock->wall_ms(sp->clock->user_data) / 1000;
  sparams.mode = KEFO_SIGV4_HEADERS;
  return kefo__sigv4_sign(res, &sreq, &sparams, NULL, sp->mem);
}

/* Starts the POST of |body| with |headers|; its answer goes to
   sts_on_fetch. */
static void sts_post(sts_req *r, const kefo_endpoint *ep,
                     const kefo_http_header *headers, size_t nh,
                     const kefo_buf *body) {
  sts_provider *sp = r->sp;
  kefo_http_request req;
  int rv;

  memset(&req, 0, sizeof(req));
  req.endpoint = ep;
  req.version = KEFO_HTTP_1_1;
  req.method = "POST";
  req.path = "/";
  req.headers = headers;
  req.nheaders = nh;
  req.body = body->data;
  req.body_len = body->len;
  req.timeout_ms = STS_TIMEOUT_MS;
  rv = kefo__credentials_fetch_start(&r->fetch, sp->mem, &sp->transport, &req,
                                     STS_MAX_BODY, sts_on_fetch, r);
  if (rv != 0) {
    r->fetch = NULL;
    req_finish(r, rv, kefo_strerror(rv), NULL, 0, 0);
  }
}

/* Builds, signs when |src| is given, and sends the request. */
static void sts_send(sts_req *r, const kefo_credentials *src,
                     const char *session_name) {
  sts_provider *sp = r->sp;
  kefo_endpoint ep;
  kefo_buf body;
  kefo_sigv4_result res;
  kefo_http_header headers[2 + KEFO_SIGV4_MAX_ADDED_HEADERS];
  char region[KEFO_REGION_MAX], msg[MSG_MAX];
  size_t nh = 0, i;
  int rv, signed_ = 0;

  kefo__buf_init(&body, sp->mem);
  memset(&res, 0, sizeof(res));
  rv = sts_endpoint(sp, r, &ep, region, msg, sizeof(msg));
  if (rv != 0) {
    req_finish(r, KEFO_ERR_CREDENTIALS, msg, NULL, 0, 0);
    return;
  }
  if (sp->transport.request == NULL) {
    req_finish(r, KEFO_ERR_CREDENTIALS, "no HTTP client", NULL, 0, 0);
    return;
  }
  rv = sts_body(r, session_name, &body);
  if (rv != 0) {
    req_finish(r, rv, kefo_strerror(rv), NULL, 0, 0);
    goto done;
  }
  headers[nh].name = "content-type";
  headers[nh++].value = STS_CONTENT_TYPE;
  headers[nh].name = "user-agent";
  headers[nh++].value = "kefo/" KEFO_VERSION;
  if (src != NULL) {
    rv = sts_sign(sp, src, &ep, region, &body, &res);
    signed_ = 1;
    if (rv != 0) {
      snprintf(msg, sizeof(msg), "cannot sign the request: %s",
               kefo_strerror(rv));
      req_finish(r, rv == KEFO_ERR_NOMEM ? rv : KEFO_ERR_CREDENTIALS, msg, NULL,
                 0, 0);
      goto done;
    }
    for (i = 0; i < res.nheaders; ++i) {
      headers[nh].name = res.headers[i].name;
      headers[nh++].value = res.headers[i].value;
    }
  }
  sts_post(r, &ep, headers, nh, &body);

done:
  if (signed_) {
    kefo__sigv4_result_free(&res);
  }
  if (body.data != NULL) {
    kefo__credentials_wipe(body.data, body.cap);
  }
  kefo__buf_free(&body);
}

static void sts_on_source(int error, const kefo_credentials *creds,
                          const kefo_error_info *info, void *user_data) {
  sts_req *r = user_data;
  char msg[MSG_MAX], name[80];
  int rv;

  r->waiting_source = 0;
  if (error != 0) {
    snprintf(msg, sizeof(msg), "source credentials (%s): %s",
             r->sp->source->name,
             info && info->message ? info->message : kefo_strerror(error));
    req_finish(r, error == KEFO_ERR_NOMEM ? error : KEFO_ERR_CREDENTIALS, msg,
               NULL, 0, info ? info->retryable : 0);
    return;
  }
  rv = kefo__credentials_copy_set(&r->source, creds);
  if (rv != 0) {
    req_finish(r, rv, "source credentials: empty or out of memory", NULL, 0, 0);
    return;
  }
  if (r->sp->session_name != NULL) {
    snprintf(name, sizeof(name), "%s", r->sp->session_name);
  } else {
    default_session_name(r->sp, name, sizeof(name));
  }
  sts_send(r, &r->source.creds, name);
}

static sts_req *req_new(sts_provider *sp, kefo_credentials_cb cb,
                        void *user_data) {
  sts_req *r = kefo__mem_calloc(sp->mem, 1, sizeof(*r));

  if (r == NULL) {
    return NULL;
  }
  r->sp = sp;
  r->mem = sp->mem;
  r->cb = cb;
  r->user_data = user_data;
  kefo__credentials_copy_init(&r->source, sp->mem);
  kefo__credentials_copy_init(&r->result, sp->mem);
  kefo__credentials_pending_add(&sp->reqs, &r->link);
  return r;
}

static int assume_role_get(kefo_credentials_provider *p, kefo_credentials_cb cb,
                           void *user_data) {
  sts_provider *sp = (sts_provider *)p;
  sts_req *r = req_new(sp, cb, user_data);
  int rv;

  if (r == NULL) {
    return KEFO_ERR_NOMEM;
  }
  snprintf(r->role, sizeof(r->role), "%s", sp->role_arn);
  r->waiting_source = 1;
  rv = kefo__credentials_provider_get(sp->source, sts_on_source, r);
  if (rv != 0) {
    kefo__credentials_pending_remove(&r->link);
    req_free(r);
  }
  return rv;
}

static int web_identity_get(kefo_credentials_provider *p,
                            kefo_credentials_cb cb, void *user_data) {
  sts_provider *sp = (sts_provider *)p;
  const char *role = sp->role_arn, *file = sp->token_file,
             *session = sp->session_name;
  char msg[MSG_MAX], name[80];
  sts_req *r;
  int rv;

  if (sp->from_env) {
    role = kefo__env_get(sp->env, "AWS_ROLE_ARN");
    file = kefo__env_get(sp->env, "AWS_WEB_IDENTITY_TOKEN_FILE");
    session = kefo__env_get(sp->env, "AWS_ROLE_SESSION_NAME");
    if (role == NULL || file == NULL) {
      kefo__credentials_fail(
          cb, user_data, KEFO_ERR_CREDENTIALS,
          role == NULL && file == NULL
              ? "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set"
          : role != NULL
              ? "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not"
              : "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not",
          NULL, 0, 0);
      return 0;
    }
  }
  r = req_new(sp, cb, user_data);
  if (r == NULL) {
    return KEFO_ERR_NOMEM;
  }
  snprintf(r->role, sizeof(r->role), "%s", role);
  if (session != NULL && !valid_session_name(session)) {
    snprintf(msg, sizeof(msg),
             "%s is not a role session name (2 to 64 of "
             "[A-Za-z0-9+=,.@_-])",
             sp->from_env ? "AWS_ROLE_SESSION_NAME" : "the session name");
    req_finish(r, KEFO_ERR_CREDENTIALS, msg, NULL, 0, 0);
    return 0;
  }
  rv = kefo__credentials_read_token_file(sp->mem, file, WEB_IDENTITY_TOKEN_MAX,
                                         &r->token, &r->token_len, msg,
                                         sizeof(msg));
  if (rv != 0) {
    char full[MSG_MAX + 32];
    snprintf(full, sizeof(full), "web identity token: %s", msg);
    req_finish(r, rv, full, NULL, 0, 0);
    return 0;
  }
  if (session != NULL) {
    snprintf(name, sizeof(name), "%s", session);
  } else {
    default_session_name(sp, name, sizeof(name));
  }
  sts_send(r, NULL, name);
  return 0;
}

static void sts_del(kefo_credentials_provider *p) {
  sts_provider *sp = (sts_provider *)p;

  /* The source first: it calls back no more. */
  kefo__credentials_provider_del(sp->source);
  while (sp->reqs != NULL) {
    sts_req *r = (sts_req *)sp->reqs;
    kefo__credentials_pending_remove(&r->link);
    kefo__credentials_fetch_cancel(r->fetch);
    req_free(r);
  }
  kefo__mem_free(sp->mem, sp->role_arn);
  kefo__mem_free(sp->mem, sp->session_name);
  kefo__mem_free(sp->mem, sp->external_id);
  kefo__mem_free(sp->mem, sp->token_file);
  kefo__mem_free(sp->mem, sp->region);
  kefo__mem_free(sp->mem, sp->endpoint);
  kefo__mem_free(sp->mem, sp);
}

static const kefo_credentials_provider_ops assume_role_ops = {assume_role_get,
                                                              sts_del, NULL};
static const kefo_credentials_provider_ops web_identity_ops = {web_identity_get,
                                                               sts_del, NULL};

static int dup_opt(const kefo_mem *mem, const char *s, char **out) {
  size_t n;

  *out = NULL;
  if (s == NULL || s[0] == '\0') {
    return 0;
  }
  n = strlen(s) + 1;
  *out = kefo__mem_malloc(mem, n);
  if (*out == NULL) {
    return KEFO_ERR_NOMEM;
  }
  memcpy(*out, s, n);
  return 0;
}

static int sts_new(sts_provider **out, const kefo_credentials_options *opts,
                   const char *role_arn, const char *session_name) {
  const kefo_mem *mem = kefo__mem_or_default(opts->mem);
  sts_provider *sp = kefo__mem_calloc(mem, 1, sizeof(*sp));

  if (sp == NULL) {
    return KEFO_ERR_NOMEM;
  }
  sp->mem = mem;
  sp->clock = kefo__clock_or_system(opts->clock);
  sp->env = opts->env;
  sp->transport = opts->transport;
  if (dup_opt(mem, role_arn, &sp->role_arn) != 0 ||
      dup_opt(mem, session_name, &sp->session_name) != 0 ||
      dup_opt(mem, opts->region, &sp->region) != 0 ||
      dup_opt(mem, opts->sts_endpoint, &sp->endpoint) != 0) {
    sts_del(&sp->base);
    return KEFO_ERR_NOMEM;
  }
  *out = sp;
  return 0;
}

int kefo__credentials_assume_role_new(
    kefo_credentials_provider **out, const kefo_credentials_options *opts,
    kefo_credentials_provider *source, const char *role_arn,
    const char *session_name, const char *external_id, uint32_t duration_s) {
  sts_provider *sp;
  int rv;

  if (out == NULL || opts == NULL || source == NULL || role_arn == NULL ||
      role_arn[0] == '\0') {
    kefo__credentials_provider_del(source);
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  rv = sts_new(&sp, opts, role_arn, session_name);
  if (rv != 0) {
    kefo__credentials_provider_del(source);
    return rv;
  }
  sp->base.ops = &assume_role_ops;
  sp->base.name = "assume role";
  sp->source = source;
  sp->duration_s = duration_s;
  if (dup_opt(sp->mem, external_id, &sp->external_id) != 0) {
    sts_del(&sp->base);
    return KEFO_ERR_NOMEM;
  }
  *out = &sp->base;
  return 0;
}

int kefo__credentials_web_identity_new(kefo_credentials_provider **out,
                                       const kefo_credentials_options *opts,
                                       const char *role_arn,
                                       const char *session_name,
                                       const char *token_file) {
  sts_provider *sp;
  int rv;

  if (out == NULL || opts == NULL ||
      (role_arn == NULL) != (token_file == NULL)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  rv = sts_new(&sp, opts, role_arn, session_name);
  if (rv != 0) {
    return rv;
  }
  sp->base.ops = &web_identity_ops;
  sp->base.name = "web identity";
  sp->web_identity = 1;
  sp->from_env = role_arn == NULL;
  if (dup_opt(sp->mem, token_file, &sp->token_file) != 0) {
    sts_del(&sp->base);
    return KEFO_ERR_NOMEM;
  }
  *out = &sp->base;
  return 0;
}
