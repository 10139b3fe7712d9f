/*
 * STS AssumeRole (SigV4-signed with a source provider's credentials) and
 * AssumeRoleWithWebIdentity (unsigned, with a token file): the form body,
 * a small bounded scanner for the few XML elements of the response, and
 * the providers that send them.
 */
#include "aws/credentials.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "aws/region.h"
#include "aws/sigv4.h"
#include "base/error.h"

#define STS_VERSION "2011-06-15"
#define STS_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define STS_MAX_BODY (64 * 1024)
#define STS_TIMEOUT_MS 10000
/* STS accepts web identity tokens of up to 20000 characters. */
#define WEB_IDENTITY_TOKEN_MAX 20000
#define MSG_MAX 640

/* ---- The request body ---- */

static int form_append(kefo_buf *b, const char *key, const char *value) {
  static const char hex[] = "0123456789ABCDEF";
  const unsigned char *v = (const unsigned char *)value;
  int rv;

  if (b->len > 0 && (rv = kefo_buf_append_byte(b, '&')) != 0) {
    return rv;
  }
  if ((rv = kefo_buf_append_str(b, key)) != 0 ||
      (rv = kefo_buf_append_byte(b, '=')) != 0) {
    return rv;
  }
  for (; *v; ++v) {
    unsigned char c = *v;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
        c == '~') {
      rv = kefo_buf_append_byte(b, c);
    } else {
      char enc[3] = {'%', hex[c >> 4], hex[c & 15]};
      rv = kefo_buf_append(b, enc, 3);
    }
    if (rv != 0) {
      return rv;
    }
  }
  return 0;
}

int kefo_sts_build_body(kefo_buf *out, const kefo_sts_params *p) {
  size_t start;
  int rv, web;
  char dur[16];

  if (out == NULL || p == NULL || p->action == NULL || p->role_arn == NULL ||
      p->role_arn[0] == '\0' || p->session_name == NULL ||
      p->session_name[0] == '\0') {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  web = strcmp(p->action, "AssumeRoleWithWebIdentity") == 0;
  if (!web && strcmp(p->action, "AssumeRole") != 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (web && (p->web_identity_token == NULL || !p->web_identity_token[0])) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  start = out->len;
  /* form_append puts '&' before every pair when the buffer is not empty;
     a fresh body must not start with one. */
  if ((rv = form_append(out, "Action", p->action)) != 0 ||
      (rv = form_append(out, "Version", STS_VERSION)) != 0 ||
      (rv = form_append(out, "RoleArn", p->role_arn)) != 0 ||
      (rv = form_append(out, "RoleSessionName", p->session_name)) != 0) {
    goto fail;
  }
  if (p->duration_s > 0) {
    snprintf(dur, sizeof(dur), "%u", (unsigned)p->duration_s);
    if ((rv = form_append(out, "DurationSeconds", dur)) != 0) {
      goto fail;
    }
  }
  if (!web && p->external_id != NULL && p->external_id[0] != '\0' &&
      (rv = form_append(out, "ExternalId", p->external_id)) != 0) {
    goto fail;
  }
  if (web &&
      (rv = form_append(out, "WebIdentityToken", p->web_identity_token)) != 0) {
    goto fail;
  }
  return 0;

fail:
  if (out->data != NULL) {
    kefo_credentials_wipe(out->data + start, out->len - start);
  }
  out->len = start;
  return rv;
}

/* ---- The response ---- */

static int xml_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Finds the first element |name| in [s, s + len) and its content. No
   namespaces prefixes, comments or CDATA: STS writes none. */
static int xml_find(const char *s, size_t len, const char *name,
                    const char **content, size_t *clen) {
  size_t nlen = strlen(name), i = 0;

  while (i < len) {
    const char *lt = memchr(s + i, '<', len - i), *gt;
    size_t start, j;

    if (lt == NULL) {
      return -1;
    }
    i = (size_t)(lt - s) + 1;
    if (len - i <= nlen || memcmp(s + i, name, nlen) != 0 ||
        !(s[i + nlen] == '>' || s[i + nlen] == '/' || xml_space(s[i + nlen]))) {
      continue;
    }
    gt = memchr(s + i + nlen, '>', len - i - nlen);
    if (gt == NULL) {
      return -1;
    }
    if (gt[-1] == '/') {
      *content = gt;
      *clen = 0;
      return 0;
    }
    start = (size_t)(gt - s) + 1;
    for (j = start; j < len;) {
      const char *lt2 = memchr(s + j, '<', len - j);
      size_t k;

      if (lt2 == NULL) {
        return -1;
      }
      j = (size_t)(lt2 - s) + 1;
      if (len - j < nlen + 2 || s[j] != '/' ||
          memcmp(s + j + 1, name, nlen) != 0) {
        continue;
      }
      for (k = j + 1 + nlen; k < len && xml_space(s[k]); ++k) {
      }
      if (k < len && s[k] == '>') {
        *content = s + start;
        *clen = (size_t)(lt2 - (s + start));
        return 0;
      }
    }
    return -1;
  }
  return -1;
}

static int put_utf8(char *out, size_t outlen, size_t *n, unsigned long cp) {
  char b[4];
  size_t k;

  if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
    return -1;
  }
  if (cp < 0x80) {
    b[0] = (char)cp;
    k = 1;
  } else if (cp < 0x800) {
    b[0] = (char)(0xc0 | cp >> 6);
    b[1] = (char)(0x80 | (cp & 0x3f));
    k = 2;
  } else if (cp < 0x10000) {
    b[0] = (char)(0xe0 | cp >> 12);
    b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[2] = (char)(0x80 | (cp & 0x3f));
    k = 3;
  } else {
    b[0] = (char)(0xf0 | cp >> 18);
    b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    b[3] = (char)(0x80 | (cp & 0x3f));
    k = 4;
  }
  /* Truncation keeps whole characters. */
  if (*n + k < outlen) {
    memcpy(out + *n, b, k);
    *n += k;
  }
  return 0;
}

/* Decodes the text [s, s + len) (entities, no markup) into |out|,
   truncated to |outlen| - 1 bytes and NUL-terminated, surrounding
   whitespace trimmed. */
static int xml_text(const char *s, size_t len, char *out, size_t outlen) {
  size_t i = 0, n = 0;

  while (len > 0 && xml_space(s[0])) {
    ++s;
    --len;
  }
  while (len > 0 && xml_space(s[len - 1])) {
    --len;
  }
  while (i < len) {
    char c = s[i];
    if (c == '<' || c == '\0') {
      return -1;
    }
    if (c != '&') {
      if (n + 1 < outlen) {
        out[n++] = c;
      }
      ++i;
      continue;
    }
    {
      const char *semi = memchr(s + i, ';', len - i > 12 ? 12 : len - i);
      size_t elen;
      unsigned long cp = 0;

      if (semi == NULL) {
        return -1;
      }
      elen = (size_t)(semi - (s + i)) + 1;
      if (elen == 4 && memcmp(s + i, "&lt;", 4) == 0) {
        cp = '<';
      } else if (elen == 4 && memcmp(s + i, "&gt;", 4) == 0) {
        cp = '>';
      } else if (elen == 5 && memcmp(s + i, "&amp;", 5) == 0) {
        cp = '&';
      } else if (elen == 6 && memcmp(s + i, "&quot;", 6) == 0) {
        cp = '"';
      } else if (elen == 6 && memcmp(s + i, "&apos;", 6) == 0) {
        cp = '\'';
      } else if (elen > 3 && s[i + 1] == '#') {
        size_t k = i + 2;
        int hexa = s[k] == 'x' || s[k] == 'X';
        if (hexa) {
          ++k;
        }
        if (s + k == semi) {
          return -1;
        }
        for (; s + k < semi; ++k) {
          char d = s[k];
          int v;
          if (d >= '0' && d <= '9') {
            v = d - '0';
          } else if (hexa && (d | 0x20) >= 'a' && (d | 0x20) <= 'f') {
            v = (d | 0x20) - 'a' + 10;
          } else {
            return -1;
          }
          cp = cp * (hexa ? 16u : 10u) + (unsigned long)v;
          if (cp > 0x10ffff) {
            return -1;
          }
        }
      } else {
        return -1;
      }
      if (put_utf8(out, outlen, &n, cp) != 0) {
        return -1;
      }
      i += elen;
    }
  }
  if (outlen > 0) {
    out[n] = '\0';
  }
  return 0;
}

/* Printable ASCII only, others as '?': server text in messages. */
static void sanitize(char *s) {
  for (; *s; ++s) {
    if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f) {
      *s = '?';
    }
  }
}

/* A call that failed: the <Error> document's Code (the AWS error type,
   to |aws_type|) and Message, as the error text. */
static int parse_error(int status, const char *s, size_t len, char *aws_type,
                       size_t typelen, char *err, size_t errlen) {
  char code[128] = "", message[MSG_MAX / 2] = "";
  const char *e, *c;
  size_t elen, clen;

  if (xml_find(s, len, "Error", &e, &elen) == 0) {
    if (xml_find(e, elen, "Code", &c, &clen) == 0 &&
        xml_text(c, clen, code, sizeof(code)) != 0) {
      code[0] = '\0';
    }
    if (xml_find(e, elen, "Message", &c, &clen) == 0 &&
        xml_text(c, clen, message, sizeof(message)) != 0) {
      message[0] = '\0';
    }
  }
  sanitize(code);
  sanitize(message);
  if (aws_type != NULL && typelen > 0) {
    snprintf(aws_type, typelen, "%s", code);
  }
  if (code[0] != '\0') {
    kefo_set_err(err, errlen, "HTTP %d %s%s%s", status, code,
                 message[0] ? ": " : "", message);
  } else {
    kefo_set_err(err, errlen, "HTTP %d with no STS error document", status);
  }
  return KEFO_ERR_AWS;
}

/* Decodes each element |names| of <Credentials> ([creds, creds + clen))
   into |buf|, one NUL-terminated text after the other, the start of the
   i-th at |off|[i]. Each must be there, plain text and not empty. Returns
   0 or -1 (with the reason in |err|). */
static int credentials_texts(const char *creds, size_t clen,
                             const char *const names[4], char *buf,
                             size_t off[4], char *err, size_t errlen) {
  size_t used = 0, n;
  int i;

  for (i = 0; i < 4; ++i) {
    const char *v;
    size_t vlen;

    if (xml_find(creds, clen, names[i], &v, &vlen) != 0) {
      kefo_set_err(err, errlen, "the response's <Credentials> has no <%s>",
                   names[i]);
      return -1;
    }
    /* Decoded text is never longer than the element's content, and the
       contents do not overlap, so |buf| holds them all. */
    if (xml_text(v, vlen, buf + used, vlen + 1) != 0) {
      kefo_set_err(err, errlen, "the response's <%s> is not plain text",
                   names[i]);
      return -1;
    }
    off[i] = used;
    n = strlen(buf + used);
    if (n == 0) {
      kefo_set_err(err, errlen, "the response's <%s> is empty", names[i]);
      return -1;
    }
    used += n + 1;
  }
  return 0;
}

int kefo_sts_parse_response(kefo_credentials_copy *out, int status,
                            const uint8_t *body, size_t len, char *aws_type,
                            size_t typelen, char *err, size_t errlen) {
  static const char *const names[4] = {"AccessKeyId", "SecretAccessKey",
                                       "SessionToken", "Expiration"};
  const char *s = (const char *)body, *creds;
  size_t clen, off[4];
  kefo_credentials k;
  char *buf;
  int rv = KEFO_ERR_BAD_RESPONSE;

  if (aws_type != NULL && typelen > 0) {
    aws_type[0] = '\0';
  }
  if (out == NULL || (body == NULL && len > 0)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (s == NULL) {
    s = "";
  }
  if (status != 200) {
    return parse_error(status, s, len, aws_type, typelen, err, errlen);
  }
  if (xml_find(s, len, "Credentials", &creds, &clen) != 0) {
    kefo_set_err(err, errlen, "the response has no <Credentials>");
    return KEFO_ERR_BAD_RESPONSE;
  }
  buf = kefo_mem_malloc(out->mem, clen + 4);
  if (buf == NULL) {
    kefo_set_err(err, errlen, "out of memory");
    return KEFO_ERR_NOMEM;
  }
  if (credentials_texts(creds, clen, names, buf, off, err, errlen) != 0) {
    goto done;
  }
  memset(&k, 0, sizeof(k));
  k.access_key_id = buf + off[0];
  k.secret_access_key = buf + off[1];
  k.session_token = buf + off[2];
  /* An Expiration at the epoch would read as 0, "never expires". */
  if (kefo_credentials_parse_time(buf + off[3], strlen(buf + off[3]),
                                  &k.expiration_ms) != 0 ||
      k.expiration_ms <= 0) {
    kefo_set_err(err, errlen,
                 "the response's <Expiration> is not an ISO 8601 time after "
                 "1970");
    goto done;
  }
  rv = kefo_credentials_check(&k, err, errlen);
  if (rv == 0) {
    rv = kefo_credentials_copy_set(out, &k);
    if (rv != 0) {
      kefo_set_err(err, errlen, "out of memory");
    }
  }

done:
  kefo_credentials_wipe(buf, clen + 4);
  kefo_mem_free(out->mem, buf);
  return rv;
}

/* ---- The providers ---- */

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
  kefo_credentials_copy_free(&r->source);
  kefo_credentials_copy_free(&r->result);
  if (r->token != NULL) {
    kefo_credentials_wipe(r->token, r->token_len);
    kefo_mem_free(r->mem, r->token);
  }
  kefo_mem_free(r->mem, r);
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

  kefo_credentials_pending_remove(&r->link);
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
  kefo_credentials_redact(msg, r->source.creds.secret_access_key);
  kefo_credentials_redact(msg, r->source.creds.session_token);
  kefo_credentials_redact(msg, r->token);
  snprintf(type, sizeof(type), "%s", aws_type ? aws_type : "");
  kefo_credentials_redact(type, r->source.creds.secret_access_key);
  kefo_credentials_redact(type, r->source.creds.session_token);
  kefo_credentials_redact(type, r->token);
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
  rv = kefo_sts_parse_response(&r->result, status, body, len, type,
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
      kefo_env_get(sp->env, "AWS_REGION") != NULL ||
      kefo_env_get(sp->env, "AWS_DEFAULT_REGION") != NULL) {
    rv = kefo_region_resolve(region, sp->region, sp->env, NULL, NULL, err,
                             errlen);
    if (rv != 0) {
      return rv;
    }
  }
  rv = kefo_endpoint_resolve(r->url, ep, KEFO_SERVICE_STS, region, sp->endpoint,
                             sp->env, err, errlen);
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
  return kefo_sts_build_body(body, &params);
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
  return kefo_sigv4_sign(res, &sreq, &sparams, NULL, sp->mem);
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
  rv = kefo_credentials_fetch_start(&r->fetch, sp->mem, &sp->transport, &req,
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

  kefo_buf_init(&body, sp->mem);
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
    kefo_sigv4_result_free(&res);
  }
  if (body.data != NULL) {
    kefo_credentials_wipe(body.data, body.cap);
  }
  kefo_buf_free(&body);
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
  rv = kefo_credentials_copy_set(&r->source, creds);
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
  sts_req *r = kefo_mem_calloc(sp->mem, 1, sizeof(*r));

  if (r == NULL) {
    return NULL;
  }
  r->sp = sp;
  r->mem = sp->mem;
  r->cb = cb;
  r->user_data = user_data;
  kefo_credentials_copy_init(&r->source, sp->mem);
  kefo_credentials_copy_init(&r->result, sp->mem);
  kefo_credentials_pending_add(&sp->reqs, &r->link);
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
  rv = kefo_credentials_provider_get(sp->source, sts_on_source, r);
  if (rv != 0) {
    kefo_credentials_pending_remove(&r->link);
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
    role = kefo_env_get(sp->env, "AWS_ROLE_ARN");
    file = kefo_env_get(sp->env, "AWS_WEB_IDENTITY_TOKEN_FILE");
    session = kefo_env_get(sp->env, "AWS_ROLE_SESSION_NAME");
    if (role == NULL || file == NULL) {
      kefo_credentials_fail(
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
  rv = kefo_credentials_read_token_file(sp->mem, file, WEB_IDENTITY_TOKEN_MAX,
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
  kefo_credentials_provider_del(sp->source);
  while (sp->reqs != NULL) {
    sts_req *r = (sts_req *)sp->reqs;
    kefo_credentials_pending_remove(&r->link);
    kefo_credentials_fetch_cancel(r->fetch);
    req_free(r);
  }
  kefo_mem_free(sp->mem, sp->role_arn);
  kefo_mem_free(sp->mem, sp->session_name);
  kefo_mem_free(sp->mem, sp->external_id);
  kefo_mem_free(sp->mem, sp->token_file);
  kefo_mem_free(sp->mem, sp->region);
  kefo_mem_free(sp->mem, sp->endpoint);
  kefo_mem_free(sp->mem, sp);
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
  *out = kefo_mem_malloc(mem, n);
  if (*out == NULL) {
    return KEFO_ERR_NOMEM;
  }
  memcpy(*out, s, n);
  return 0;
}

static int sts_new(sts_provider **out, const kefo_credentials_options *opts,
                   const char *role_arn, const char *session_name) {
  const kefo_mem *mem = kefo_mem_or_default(opts->mem);
  sts_provider *sp = kefo_mem_calloc(mem, 1, sizeof(*sp));

  if (sp == NULL) {
    return KEFO_ERR_NOMEM;
  }
  sp->mem = mem;
  sp->clock = kefo_clock_or_system(opts->clock);
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

int kefo_credentials_assume_role_new(
    kefo_credentials_provider **out, const kefo_credentials_options *opts,
    kefo_credentials_provider *source, const char *role_arn,
    const char *session_name, const char *external_id, uint32_t duration_s) {
  sts_provider *sp;
  int rv;

  if (out == NULL || opts == NULL || source == NULL || role_arn == NULL ||
      role_arn[0] == '\0') {
    kefo_credentials_provider_del(source);
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  rv = sts_new(&sp, opts, role_arn, session_name);
  if (rv != 0) {
    kefo_credentials_provider_del(source);
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

int kefo_credentials_web_identity_new(kefo_credentials_provider **out,
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
