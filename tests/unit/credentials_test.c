/*
 * Credentials tests without a network: every provider runs against a
 * scripted fake transport (requests recorded, responses fed in 7-byte
 * pieces), a fake clock and a fake environment. Covers the parsers (ISO
 * times, the metadata JSON, STS XML and form bodies), the chain, the
 * refreshing cache, profiles with assume role, web identity, container
 * and IMDSv2 flows, allocation failures, and that no secret ever reaches
 * an error message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "aws/credentials.h"
#include "aws/region.h"
#include "aws/sigv4.h"
#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"

/* Also declared in tests/unit/suites.h once the suite is registered there. */
int kefo_add_credentials_suite(void);

/* Every secret the tests use: none may appear in any error message. */
#define S_SECRET "wJalrXUtnFEMIK7MDENGbPxRfiCYSECRETKEY"
#define S_TOKEN "AQoDYXdzSESSIONTOKENexampleValue"
#define S_SRC_SECRET "SourceSECRETkeyVALUEforSigning1"
#define S_SRC_TOKEN "SourceSESSIONtokenVALUE"
#define S_WEBID "eyJhbGciWEBIDENTITYtokenSecretPayload"
#define S_CTOKEN "ContainerAuthTOKENsecret123"
#define S_IMDS_TOKEN "IMDSsessionTOKENsecretAQAEA"
#define S_NEW_SECRET "NewTemporarySECRETfromSTSorIMDS"
#define S_NEW_TOKEN "NewTemporarySESSIONtokenFromSTS"

static const char *const secrets[] = {
    S_SECRET, S_TOKEN,      S_SRC_SECRET, S_SRC_TOKEN, S_WEBID,
    S_CTOKEN, S_IMDS_TOKEN, S_NEW_SECRET, S_NEW_TOKEN, NULL};

/* Messages seen, for the summary check at the end. */
static size_t messages_checked;

static void assert_no_secret(const char *msg) {
  size_t i;

  if (msg == NULL) {
    return;
  }
  ++messages_checked;
  for (i = 0; secrets[i] != NULL; ++i) {
    if (strstr(msg, secrets[i]) != NULL) {
      fprintf(stderr, "\n  secret %s in message: %s\n", secrets[i], msg);
    }
    CU_ASSERT(strstr(msg, secrets[i]) == NULL);
  }
}

/* ---- Fake clock ---- */

/* 2023-11-14T22:13:20Z */
#define T0 INT64_C(1700000000000)

static int64_t fake_now = T0;

static int64_t fake_wall(void *ud) {
  (void)ud;
  return fake_now;
}

static uint32_t fake_random(void *ud) {
  (void)ud;
  return 0;
}

static const kefo_clock fake_clock = {fake_wall, fake_wall, fake_random, NULL};

static void iso(char *out, size_t len, int64_t ms) {
  time_t t = (time_t)(ms / 1000);
  struct tm tm;

  gmtime_r(&t, &tm);
  strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- Fake environment ---- */

#define ENV_MAX 32

typedef struct fake_env {
  kefo_env env;
  const char *names[ENV_MAX];
  char *values[ENV_MAX];
  size_t n;
} fake_env;

static const char *fake_getenv(const char *name, void *ud) {
  fake_env *fe = ud;
  size_t i;

  for (i = 0; i < fe->n; ++i) {
    if (strcmp(fe->names[i], name) == 0) {
      return fe->values[i];
    }
  }
  return NULL;
}

static void env_init(fake_env *fe) {
  memset(fe, 0, sizeof(*fe));
  fe->env.get = fake_getenv;
  fe->env.user_data = fe;
}

static void env_set(fake_env *fe, const char *name, const char *value) {
  size_t i;

  for (i = 0; i < fe->n; ++i) {
    if (strcmp(fe->names[i], name) == 0) {
      free(fe->values[i]);
      if (value == NULL) {
        fe->names[i] = fe->names[fe->n - 1];
        fe->values[i] = fe->values[fe->n - 1];
        --fe->n;
      } else {
        fe->values[i] = strdup(value);
      }
      return;
    }
  }
  if (value != NULL && fe->n < ENV_MAX) {
    fe->names[fe->n] = name;
    fe->values[fe->n++] = strdup(value);
  }
}

static void env_free(fake_env *fe) {
  size_t i;

  for (i = 0; i < fe->n; ++i) {
    free(fe->values[i]);
  }
  fe->n = 0;
}

/* ---- Fake transport ---- */

#define LOG_MAX 64

typedef struct fake_rec {
  char method[8];
  char url[300];
  char path[1024];
  /* "name: value\n" for each header. */
  char headers[8192];
  char body[8192];
  uint32_t timeout_ms;
} fake_rec;

typedef struct fake_http fake_http;

typedef struct fake_stream {
  kefo_http_stream base;
  fake_http *fh;
  kefo_http_callbacks cb;
  void *user_data;
  struct fake_stream *next;
} fake_stream;

struct fake_http {
  fake_stream *head;
  fake_rec log[LOG_MAX];
  size_t nlog;
  size_t cancelled;
  /* Non-zero: kefo__http_client_request fails with this. */
  int fail_start;
};

static void fake_consume(kefo_http_stream *s, size_t n) {
  (void)s;
  (void)n;
}

static void unlink_stream(fake_stream *s) {
  fake_stream **pp;

  for (pp = &s->fh->head; *pp != NULL; pp = &(*pp)->next) {
    if (*pp == s) {
      *pp = s->next;
      return;
    }
  }
}

static void fake_cancel(kefo_http_stream *stream) {
  fake_stream *s = (fake_stream *)stream;

  unlink_stream(s);
  ++s->fh->cancelled;
  free(s);
}

static const kefo_http_stream_ops fake_stream_ops = {fake_consume, fake_cancel,
                                                     NULL};

static int fake_request(void *ctx, const kefo_http_request *req,
                        const kefo_http_callbacks *cb, void *user_data,
                        kefo_http_stream **out) {
  fake_http *fh = ctx;
  fake_stream *s, **tail;
  fake_rec *r;
  size_t i, len = 0;

  if (fh->fail_start != 0) {
    return fh->fail_start;
  }
  CU_ASSERT_FATAL(fh->nlog < LOG_MAX);
  CU_ASSERT_EQUAL(req->version, KEFO_HTTP_1_1);
  r = &fh->log[fh->nlog++];
  memset(r, 0, sizeof(*r));
  snprintf(r->method, sizeof(r->method), "%s", req->method);
  snprintf(r->url, sizeof(r->url), "%s://%s",
           req->endpoint->tls ? "https" : "http", req->endpoint->authority);
  snprintf(r->path, sizeof(r->path), "%s", req->path);
  for (i = 0; i < req->nheaders; ++i) {
    len +=
        (size_t)snprintf(r->headers + len, sizeof(r->headers) - len, "%s: %s\n",
                         req->headers[i].name, req->headers[i].value);
  }
  CU_ASSERT(req->body_len < sizeof(r->body));
  if (req->body_len > 0 && req->body_len < sizeof(r->body)) {
    memcpy(r->body, req->body, req->body_len);
  }
  r->timeout_ms = req->timeout_ms;
  s = calloc(1, sizeof(*s));
  CU_ASSERT_FATAL(s != NULL);
  s->base.ops = &fake_stream_ops;
  s->fh = fh;
  s->cb = *cb;
  s->user_data = user_data;
  for (tail = &fh->head; *tail != NULL; tail = &(*tail)->next) {
  }
  *tail = s;
  if (out != NULL) {
    *out = &s->base;
  }
  return 0;
}

static size_t fake_pending(const fake_http *fh) {
  const fake_stream *s;
  size_t n = 0;

  for (s = fh->head; s != NULL; s = s->next) {
    ++n;
  }
  return n;
}

static const fake_rec *fake_last(const fake_http *fh) {
  return fh->nlog > 0 ? &fh->log[fh->nlog - 1] : NULL;
}

/* The value of header |name| in |r|, into a static buffer; NULL if
   absent. */
static const char *rec_header(const fake_rec *r, const char *name) {
  static char value[4096];
  char key[128];
  const char *p, *e;

  snprintf(key, sizeof(key), "%s: ", name);
  for (p = r->headers; (p = strstr(p, key)) != NULL; ++p) {
    if (p == r->headers || p[-1] == '\n') {
      p += strlen(key);
      e = strchr(p, '\n');
      snprintf(value, sizeof(value), "%.*s", (int)(e - p), p);
      return value;
    }
  }
  return NULL;
}

/* Answers the oldest pending request with |status| and |body|, the body
   in 7-byte pieces. */
static void fake_respond(fake_http *fh, int status, const char *body) {
  fake_stream *s = fh->head;
  size_t len = body ? strlen(body) : 0, off = 0;
  int stop = 0;

  CU_ASSERT_FATAL(s != NULL);
  fh->head = s->next;
  if (s->cb.on_response(&s->base, status, NULL, 0, s->user_data) != 0) {
    stop = 1;
  }
  while (!stop && off < len) {
    size_t n = len - off < 7 ? len - off : 7;
    if (s->cb.on_data(&s->base, (const uint8_t *)body + off, n, s->user_data) !=
        0) {
      stop = 1;
    }
    off += n;
  }
  if (stop) {
    kefo_error_info info;
    memset(&info, 0, sizeof(info));
    info.code = KEFO_ERR_CALLBACK_FAILURE;
    info.message = "cancelled by callback";
    s->cb.on_close(&s->base, KEFO_ERR_CALLBACK_FAILURE, &info, s->user_data);
  } else {
    s->cb.on_close(&s->base, 0, NULL, s->user_data);
  }
  free(s);
}

static void fake_fail(fake_http *fh, int code, const char *message) {
  fake_stream *s = fh->head;
  kefo_error_info info;

  CU_ASSERT_FATAL(s != NULL);
  fh->head = s->next;
  memset(&info, 0, sizeof(info));
  info.code = code;
  info.message = message;
  info.retryable = 1;
  s->cb.on_close(&s->base, code, &info, s->user_data);
  free(s);
}

static void fake_http_clear(fake_http *fh) {
  while (fh->head != NULL) {
    fake_stream *s = fh->head;
    fh->head = s->next;
    free(s);
  }
  memset(fh, 0, sizeof(*fh));
}

/* ---- Results ---- */

typedef struct result {
  int called;
  int error;
  char akid[160];
  char secret[300];
  char token[2048];
  int has_token;
  int64_t exp;
  char message[4096];
  char aws_type[128];
  int http_status;
  int retryable;
} result;

static void on_creds(int error, const kefo_credentials *c,
                     const kefo_error_info *info, void *ud) {
  result *r = ud;

  ++r->called;
  r->error = error;
  r->message[0] = r->aws_type[0] = '\0';
  if (error == 0) {
    CU_ASSERT_FATAL(c != NULL);
    CU_ASSERT(info == NULL);
    snprintf(r->akid, sizeof(r->akid), "%s", c->access_key_id);
    snprintf(r->secret, sizeof(r->secret), "%s", c->secret_access_key);
    r->has_token = c->session_token != NULL;
    snprintf(r->token, sizeof(r->token), "%s",
             c->session_token ? c->session_token : "");
    r->exp = c->expiration_ms;
  } else {
    CU_ASSERT(c == NULL);
    CU_ASSERT_FATAL(info != NULL);
    CU_ASSERT_FATAL(info->message != NULL);
    CU_ASSERT_EQUAL(info->code, error);
    assert_no_secret(info->message);
    assert_no_secret(info->aws_type);
    snprintf(r->message, sizeof(r->message), "%s", info->message);
    snprintf(r->aws_type, sizeof(r->aws_type), "%s",
             info->aws_type ? info->aws_type : "");
    r->http_status = info->http_status;
    r->retryable = info->retryable;
  }
}

static void get(kefo_credentials_provider *p, result *r) {
  memset(r, 0, sizeof(*r));
  CU_ASSERT_EQUAL(kefo__credentials_provider_get(p, on_creds, r), 0);
}

static int contains(const char *hay, const char *needle) {
  if (hay == NULL || strstr(hay, needle) == NULL) {
    fprintf(stderr, "\n  '%s' not in '%s'\n", needle, hay ? hay : "(null)");
    return 0;
  }
  return 1;
}

static void opts_init(kefo_credentials_options *o, fake_env *fe,
                      fake_http *fh) {
  kefo__credentials_options_init(o);
  o->clock = &fake_clock;
  o->env = &fe->env;
  if (fh != NULL) {
    o->transport.request = fake_request;
    o->transport.ctx = fh;
  }
}

/* A metadata JSON document. */
static void json_doc(char *out, size_t len, const char *akid, int64_t exp) {
  char e[32];

  iso(e, sizeof(e), exp);
  snprintf(out, len,
           "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : "
           "\"2023-11-14T22:00:00Z\",\n  \"Type\" : \"AWS-HMAC\",\n"
           "  \"AccessKeyId\" : \"%s\",\n  \"SecretAccessKey\" : \"%s\",\n"
           "  \"Token\" : \"%s\",\n  \"Expiration\" : \"%s\"\n}\n",
           akid, S_NEW_SECRET, S_NEW_TOKEN, e);
}

/* An STS result document. */
static void sts_doc(char *out, size_t len, const char *action, const char *akid,
                    int64_t exp) {
  char e[32];

  iso(e, sizeof(e), exp);
  snprintf(out, len,
           "<%sResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
           "  <%sResult>\n"
           "    <AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn>"
           "</AssumedRoleUser>\n"
           "    <Credentials>\n"
           "      <AccessKeyId>%s</AccessKeyId>\n"
           "      <SecretAccessKey>%s</SecretAccessKey>\n"
           "      <SessionToken>%s</SessionToken>\n"
           "      <Expiration>%s</Expiration>\n"
           "    </Credentials>\n"
           "  </%sResult>\n"
           "  <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>\n"
           "</%sResponse>\n",
           action, action, akid, S_NEW_SECRET, S_NEW_TOKEN, e, action, action);
}

/* ---- Static and environment ---- */

static void test_static(void) {
  kefo_credentials_provider *p = NULL;
  result r;

  CU_ASSERT_EQUAL(kefo__credentials_static_new(&p, NULL, "AKID", NULL, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__credentials_static_new(&p, NULL, "", S_SECRET, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_FATAL(kefo__credentials_static_new(&p, NULL, "AKIDSTATIC", S_SECRET,
                                               S_TOKEN) == 0);
  CU_ASSERT_STRING_EQUAL(p->name, "static");
  get(p, &r);
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT_STRING_EQUAL(r.akid, "AKIDSTATIC");
  CU_ASSERT_STRING_EQUAL(r.secret, S_SECRET);
  CU_ASSERT_STRING_EQUAL(r.token, S_TOKEN);
  CU_ASSERT_EQUAL(r.exp, 0);
  CU_ASSERT_EQUAL(kefo__credentials_provider_get(p, NULL, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  kefo__credentials_provider_del(p);
  kefo__credentials_provider_del(NULL);

  CU_ASSERT_FATAL(kefo__credentials_static_new(&p, NULL, "AKIDSTATIC", S_SECRET,
                                               NULL) == 0);
  get(p, &r);
  CU_ASSERT_EQUAL(r.has_token, 0);
  kefo__credentials_provider_del(p);
}

static void test_env(void) {
  kefo_credentials_provider *p = NULL;
  kefo_credentials_options o;
  fake_env fe;
  result r;

  env_init(&fe);
  opts_init(&o, &fe, NULL);
  CU_ASSERT_FATAL(kefo__credentials_env_new(&p, &o) == 0);
  CU_ASSERT_STRING_EQUAL(p->name, "environment");
  get(p, &r);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CREDENTIALS);
  CU_ASSERT_STRING_EQUAL(r.message, "AWS_ACCESS_KEY_ID is not set");
  env_set(&fe, "AWS_ACCESS_KEY_ID", "AKIDENV");
  get(p, &r);
  CU_ASSERT_STRING_EQUAL(
      r.message, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  env_set(&fe, "AWS_ACCESS_KEY_ID", NULL);
  env_set(&fe, "AWS_SECRET_ACCESS_KEY", S_SECRET);
  get(p, &r);
  CU_ASSERT_STRING_EQUAL(
      r.message, "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not");
  env_set(&fe, "AWS_ACCESS_KEY_ID", "AKIDENV");
  get(p, &r);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT_STRING_EQUAL(r.akid, "AKIDENV");
  CU_ASSERT_STRING_EQUAL(r.secret, S_SECRET);
  CU_ASSERT_EQUAL(r.has_token, 0);
  env_set(&fe, "AWS_SESSION_TOKEN", S_TOKEN);
  get(p, &r);
  CU_ASSERT_STRING_EQUAL(r.token, S_TOKEN);
  /* A secret with a line break: refused, and not quoted. */
  env_set(&fe, "AWS_SECRET_ACCESS_KEY", S_SECRET "\nX");
  get(p, &r);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CREDENTIALS);
  CU_ASSERT(contains(r.message, "secret access key"));
  env_set(&fe, "AWS_SECRET_ACCESS_KEY", S_SECRET);
  env_set(&fe, "AWS_ACCESS_KEY_ID", "AKID WITH SPACE");
  get(p, &r);
  CU_ASSERT(contains(r.message, "access key id"));
  kefo__credentials_provider_del(p);
  env_free(&fe);
}

static int fm_static_env(const kefo_mem *mem, void *arg) {
  fake_env *fe = arg;
  kefo_credentials_provider *p = NULL, *c = NULL;
  kefo_credentials_options o;
  result r;
  int rv;

  rv = kefo__credentials_static_new(&p, mem, "AKIDFM", S_SECRET, S_TOKEN);
  if (rv != 0) {
    return rv;
  }
  memset(&r, 0, sizeof(r));
  kefo__credentials_provider_get(p, on_creds, &r);
  kefo__credentials_provider_del(p);
  if (r.error != 0 || strcmp(r.token, S_TOKEN) != 0) {
    return -1;
  }
  opts_init(&o, fe, NULL);
  o.mem = mem;
  rv = kefo__credentials_env_new(&p, &o);
  if (rv != 0) {
    return rv;
  }
  /* The cache over it: one copy of what the environment gives. */
  rv = kefo__credentials_cache_new(&c, &o, p);
  if (rv != 0) {
    return rv;
  }
  memset(&r, 0, sizeof(r));
  rv = kefo__credentials_provider_get(c, on_creds, &r);
  if (rv == 0 && r.called == 1 && r.error == 0) {
    /* Answered from the cache: no allocation. */
    rv = kefo__credentials_provider_get(c, on_creds, &r);
  }
  kefo__credentials_provider_del(c);
  if (rv != 0) {
    return rv;
  }
  return r.error != 0 ? r.error : strcmp(r.akid, "AKIDFMENV") != 0;
}

static void test_failmalloc_static_env(void) {
  fake_env fe;

  env_init(&fe);
  env_set(&fe, "AWS_ACCESS_KEY_ID", "AKIDFMENV");
  env_set(&fe, "AWS_SECRET_ACCESS_KEY", S_SECRET);
  env_set(&fe, "AWS_SESSION_TOKEN", S_TOKEN);
  kefo_failmalloc_run(fm_static_env, &fe);
  env_free(&fe);
}

/* ---- Parsers ---- */

static void test_parse_time(void) {
  static const struct {
    const char *s;
    int64_t ms;
  } good[] = {
      {"1970-01-01T00:00:00Z", 0},
      {"2023-11-14T22:13:20Z", T0},
      {"2023-11-14T22:13:20.5Z", T0 + 500},
      {"2023-11-14T22:13:20.123456Z", T0 + 123},
      {"2023-11-14t22:13:20z", T0},
      {"2023-11-15T00:13:20+02:00", T0},
      {"2023-11-14T20:13:20-0200", T0},
      {"2024-02-29T00:00:00Z", INT64_C(1709164800000)},
      {"2016-12-31T23:59:60Z", INT64_C(1483228799000)},
  };
  static const char *const bad[] = {
      "",
      "2023-11-14",
      "2023-11-14T22:13:20",
      "2023-11-14 22:13:20Z",
      "2023-13-14T22:13:20Z",
      "2023-02-29T22:13:20Z",
      "2023-11-14T24:13:20Z",
      "2023-11-14T22:60:20Z",
      "2023-11-14T22:13:60Z",
      "2023-11-14T22:13:20.Z",
      "2023-11-14T22:13:20+2:00",
      "2023-11-14T22:13:20Zjunk",
      "1969-12-31T23:59:59Z",
      "2023-11-14T22:13:20+24:00",
      "2O23-11-14T22:13:20Z",
  };
  size_t i;
  int64_t ms;

  for (i = 0; i < sizeof(good) / sizeof(good[0]); ++i) {
    ms = -1;
    CU_ASSERT_EQUAL(
        kefo__credentials_parse_time(good[i].s, strlen(good[i].s), &ms), 0);
    CU_ASSERT_EQUAL(ms, good[i].ms);
  }
  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    CU_ASSERT_EQUAL(kefo__credentials_parse_time(bad[i], strlen(bad[i]), &ms),
                    KEFO_ERR_BAD_RESPONSE);
  }
  /* The length bounds the read: no NUL needed. */
  CU_ASSERT_EQUAL(
      kefo__credentials_parse_time("2023-11-14T22:13:20Zxyz", 20, &ms), 0);
}

static int parse_json(const char *doc, kefo_credentials_copy *c, char *err,
                      size_t errlen) {
  kefo__credentials_copy_init(c, NULL);
  return kefo__credentials_parse_json(c, (const uint8_t *)doc, strlen(doc), err,
                                      errlen);
}

static void test_parse_json(void) {
  static const struct {
    const char *doc;
    int rv;
    const char *msg;
  } bad[] = {
      {"", KEFO_ERR_BAD_RESPONSE, "not a JSON object"},
      {"[]", KEFO_ERR_BAD_RESPONSE, "not a JSON object"},
      {"{", KEFO_ERR_BAD_RESPONSE, "not valid JSON"},
      {"{}", KEFO_ERR_BAD_RESPONSE, "no AccessKeyId"},
      {"{\"AccessKeyId\":\"A\"}", KEFO_ERR_BAD_RESPONSE, "no SecretAccessKey"},
      {"{\"AccessKeyId\":\"A\",}", KEFO_ERR_BAD_RESPONSE, "not valid JSON"},
      {"{\"AccessKeyId\" \"A\"}", KEFO_ERR_BAD_RESPONSE, "not valid JSON"},
      {"{\"AccessKeyId\":\"A\"} x", KEFO_ERR_BAD_RESPONSE, "not valid JSON"},
      {"{\"AccessKeyId\":\"A\\q\"}", KEFO_ERR_BAD_RESPONSE, "not valid JSON"},
      {"{\"AccessKeyId\":\"A\x01\"}", KEFO_ERR_BAD_RESPONSE, "not valid JSON"},
      {"{\"AccessKeyId\":\"\\ud800\"}", KEFO_ERR_BAD_RESPONSE,
       "not valid JSON"},
      {"{\"AccessKeyId\":\"\\u00\"}", KEFO_ERR_BAD_RESPONSE, "not valid JSON"},
      {"{\"AccessKeyId\":\"A\\u0000B\",\"SecretAccessKey\":\"S\"}",
       KEFO_ERR_BAD_RESPONSE, "NUL"},
      {"{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"AccessKeyId\":\"A\","
       "\"SecretAccessKey\":\"" S_SECRET "\"}",
       KEFO_ERR_BAD_RESPONSE, "Code is 'AssumeRoleUnauthorizedAccess'"},
      {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" S_SECRET
       "\",\"Expiration\":\"tomorrow\"}",
       KEFO_ERR_BAD_RESPONSE, "Expiration is not an ISO 8601 time"},
      /* The epoch would read as 0, "never expires". */
      {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" S_SECRET
       "\",\"Expiration\":\"1970-01-01T00:00:00Z\"}",
       KEFO_ERR_BAD_RESPONSE, "Expiration is not an ISO 8601 time after 1970"},
      {"{\"AccessKeyId\":\"A B\",\"SecretAccessKey\":\"" S_SECRET "\"}",
       KEFO_ERR_CREDENTIALS, "access key id"},
      {"{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" S_SECRET
       "\",\"Token\":\"\\n" S_TOKEN "\"}",
       KEFO_ERR_CREDENTIALS, "session token"},
      {"{\"x\":[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]}",
       KEFO_ERR_BAD_RESPONSE, "not valid JSON"},
      {"{\"x\":tru}", KEFO_ERR_BAD_RESPONSE, "not valid JSON"},
  };
  kefo_credentials_copy c;
  char doc[2048], err[256];
  size_t i;

  json_doc(doc, sizeof(doc), "ASIAIMDS", T0 + 3600000);
  CU_ASSERT_EQUAL(parse_json(doc, &c, err, sizeof(err)), 0);
  CU_ASSERT_STRING_EQUAL(c.creds.access_key_id, "ASIAIMDS");
  CU_ASSERT_STRING_EQUAL(c.creds.secret_access_key, S_NEW_SECRET);
  CU_ASSERT_STRING_EQUAL(c.creds.session_token, S_NEW_TOKEN);
  CU_ASSERT_EQUAL(c.creds.expiration_ms, T0 + 3600000);
  kefo__credentials_copy_free(&c);

  /* Escapes, unknown members of every kind, no Code, no Token. */
  CU_ASSERT_EQUAL(
      parse_json("{\"RoleArn\":{\"a\":[1,-2.5e3,true,false,null,\"x\"]},"
                 "\"AccessKeyId\":\"A\\u0053IA\\/\",\"Ignored\":\"\\ud83d"
                 "\\ude00\",\"SecretAccessKey\":\"s\\\\\\\"\",\"Token\":\"\"}",
                 &c, err, sizeof(err)),
      KEFO_ERR_CREDENTIALS);
  CU_ASSERT(contains(err, "access key id"));
  kefo__credentials_copy_free(&c);
  CU_ASSERT_EQUAL(
      parse_json("{\"RoleArn\":{\"a\":[1,-2.5e3,true,false,null,\"x\"]},"
                 "\"AccessKeyId\":\"A\\u0053IA\",\"Ignored\":\"\\ud83d"
                 "\\ude00\",\"SecretAccessKey\":\"s\\\\\\\"\",\"Token\":\"\"}",
                 &c, err, sizeof(err)),
      0);
  CU_ASSERT_STRING_EQUAL(c.creds.access_key_id, "ASIA");
  CU_ASSERT_STRING_EQUAL(c.creds.secret_access_key, "s\\\"");
  CU_ASSERT(c.creds.session_token == NULL);
  CU_ASSERT_EQUAL(c.creds.expiration_ms, 0);
  kefo__credentials_copy_free(&c);

  for (i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
    err[0] = '\0';
    CU_ASSERT_EQUAL(parse_json(bad[i].doc, &c, err, sizeof(err)), bad[i].rv);
    CU_ASSERT(contains(err, bad[i].msg));
    assert_no_secret(err);
    CU_ASSERT(c.storage == NULL);
    kefo__credentials_copy_free(&c);
  }
}

static void test_sts_body(void) {
  kefo_sts_params p;
  kefo_buf b;

  kefo__buf_init(&b, NULL);
  memset(&p, 0, sizeof(p));
  p.action = "AssumeRole";
  p.role_arn = "arn:aws:iam::123456789012:role/demo";
  p.session_name = "s@1";
  p.external_id = "ext id+";
  p.duration_s = 900;
  CU_ASSERT_EQUAL(kefo__sts_build_body(&b, &p), 0);
  CU_ASSERT_EQUAL(kefo__buf_append_byte(&b, 0), 0);
  CU_ASSERT_STRING_EQUAL(
      (char *)b.data,
      "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A"
      "123456789012%3Arole%2Fdemo&RoleSessionName=s%401&DurationSeconds=900&"
      "ExternalId=ext%20id%2B");
  kefo__buf_reset(&b);
  p.action = "AssumeRoleWithWebIdentity";
  CU_ASSERT_EQUAL(kefo__sts_build_body(&b, &p), KEFO_ERR_INVALID_ARGUMENT);
  p.web_identity_token = "ab.c_d-e~f/=";
  p.duration_s = 0;
  CU_ASSERT_EQUAL(kefo__sts_build_body(&b, &p), 0);
  CU_ASSERT_EQUAL(kefo__buf_append_byte(&b, 0), 0);
  CU_ASSERT_STRING_EQUAL(
      (char *)b.data,
      "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws"
      "%3Aiam%3A%3A123456789012%3Arole%2Fdemo&RoleSessionName=s%401&"
      "WebIdentityToken=ab.c_d-e~f%2F%3D");
  kefo__buf_reset(&b);
  p.action = "GetCallerIdentity";
  CU_ASSERT_EQUAL(kefo__sts_build_body(&b, &p), KEFO_ERR_INVALID_ARGUMENT);
  p.action = "AssumeRole";
  p.role_arn = "";
  CU_ASSERT_EQUAL(kefo__sts_build_body(&b, &p), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(b.len, 0);
  kefo__buf_free(&b);
}

static int sts_parse(int status, const char *doc, kefo_credentials_copy *c,
                     char *type, char *err) {
  kefo__credentials_copy_init(c, NULL);
  err[0] = '\0';
  return kefo__sts_parse_response(c, status, (const uint8_t *)doc, strlen(doc),
                                  type, 64, err, 512);
}

static void test_sts_parse(void) {
  kefo_credentials_copy c;
  char doc[4096], type[64], err[512];

  sts_doc(doc, sizeof(doc), "AssumeRole", "ASIASTS", T0 + 3600000);
  CU_ASSERT_EQUAL(sts_parse(200, doc, &c, type, err), 0);
  CU_ASSERT_STRING_EQUAL(c.creds.access_key_id, "ASIASTS");
  CU_ASSERT_STRING_EQUAL(c.creds.secret_access_key, S_NEW_SECRET);
  CU_ASSERT_STRING_EQUAL(c.creds.session_token, S_NEW_TOKEN);
  CU_ASSERT_EQUAL(c.creds.expiration_ms, T0 + 3600000);
  kefo__credentials_copy_free(&c);

  sts_doc(doc, sizeof(doc), "AssumeRoleWithWebIdentity", "ASIAWEB", T0 + 1000);
  CU_ASSERT_EQUAL(sts_parse(200, doc, &c, type, err), 0);
  CU_ASSERT_STRING_EQUAL(c.creds.access_key_id, "ASIAWEB");
  kefo__credentials_copy_free(&c);

  /* Entities, attributes, whitespace inside tags, a fractional time. */
  CU_ASSERT_EQUAL(
      sts_parse(200,
                "<R><Credentials a=\"1\"><SessionToken>tok&amp;en&#61;&#x3D;"
                "</SessionToken ><AccessKeyId>\n AKIA \n</AccessKeyId>"
                "<SecretAccessKey>s&lt;&gt;&quot;&apos;</SecretAccessKey>"
                "<Expiration>2023-11-14T22:13:20.250Z</Expiration>"
                "</Credentials></R>",
                &c, type, err),
      0);
  CU_ASSERT_STRING_EQUAL(c.creds.session_token, "tok&en==");
  CU_ASSERT_STRING_EQUAL(c.creds.access_key_id, "AKIA");
  CU_ASSERT_STRING_EQUAL(c.creds.secret_access_key, "s<>\"'");
  CU_ASSERT_EQUAL(c.creds.expiration_ms, T0 + 250);
  kefo__credentials_copy_free(&c);

  /* Errors. */
  CU_ASSERT_EQUAL(
      sts_parse(403,
                "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied"
                "</Code><Message>User: arn:aws:iam::1:user/u is not "
                "authorized &amp; so on</Message></Error><RequestId>x"
                "</RequestId></ErrorResponse>",
                &c, type, err),
      KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(type, "AccessDenied");
  CU_ASSERT_STRING_EQUAL(err, "HTTP 403 AccessDenied: User: "
                              "arn:aws:iam::1:user/u is not authorized & so "
                              "on");
  CU_ASSERT_EQUAL(sts_parse(503, "Service Unavailable", &c, type, err),
                  KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(type, "");
  CU_ASSERT_STRING_EQUAL(err, "HTTP 503 with no STS error document");
  CU_ASSERT_EQUAL(
      sts_parse(400, "<Error><Code>Bad\x01</Code></Error>", &c, type, err),
      KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(type, "Bad?");
  CU_ASSERT_EQUAL(sts_parse(200, "<html/>", &c, type, err),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT(contains(err, "no <Credentials>"));
  CU_ASSERT_EQUAL(sts_parse(200,
                            "<Credentials><AccessKeyId>A</AccessKeyId>"
                            "</Credentials>",
                            &c, type, err),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT(contains(err, "no <SecretAccessKey>"));
  CU_ASSERT_EQUAL(sts_parse(200,
                            "<Credentials><AccessKeyId>A</AccessKeyId>"
                            "<SecretAccessKey>" S_SECRET "</SecretAccessKey>"
                            "<SessionToken>t</SessionToken><Expiration>soon"
                            "</Expiration></Credentials>",
                            &c, type, err),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT(contains(err, "<Expiration> is not an ISO 8601 time"));
  CU_ASSERT_EQUAL(sts_parse(200,
                            "<Credentials><AccessKeyId>A&bogus;</AccessKeyId>"
                            "</Credentials>",
                            &c, type, err),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT(contains(err, "<AccessKeyId> is not plain text"));
  CU_ASSERT_EQUAL(sts_parse(200,
                            "<Credentials><AccessKeyId></AccessKeyId>"
                            "</Credentials>",
                            &c, type, err),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT(contains(err, "<AccessKeyId> is empty"));
  CU_ASSERT_EQUAL(sts_parse(200,
                            "<Credentials><AccessKeyId>A<b/></AccessKeyId>"
                            "</Credentials>",
                            &c, type, err),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT_EQUAL(sts_parse(200, "<Credentials><AccessKeyId>A", &c, type, err),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT_EQUAL(sts_parse(200, "<Credentials", &c, type, err),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT_EQUAL(sts_parse(200,
                            "<Credentials><AccessKeyId>A&#0;</AccessKeyId>"
                            "</Credentials>",
                            &c, type, err),
                  KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT(c.storage == NULL);
}

/* ---- A scripted inner provider for the cache and the chain ---- */

typedef struct fake_provider {
  kefo_credentials_provider base;
  int calls;
  /* Answer inside get with |sync_error| (0: the keys below). */
  int sync;
  int sync_error;
  const char *akid;
  int64_t exp;
  kefo_credentials_cb pending;
  void *pending_ud;
  int *deleted;
} fake_provider;

static int fp_get(kefo_credentials_provider *p, kefo_credentials_cb cb,
                  void *ud) {
  fake_provider *fp = (fake_provider *)p;

  ++fp->calls;
  if (fp->sync) {
    if (fp->sync_error != 0) {
      kefo__credentials_fail(cb, ud, fp->sync_error, "scripted failure", NULL,
                             0, 0);
    } else {
      kefo_credentials c = {fp->akid, S_SECRET, S_TOKEN, fp->exp};
      cb(0, &c, NULL, ud);
    }
    return 0;
  }
  CU_ASSERT(fp->pending == NULL);
  fp->pending = cb;
  fp->pending_ud = ud;
  return 0;
}

static void fp_del(kefo_credentials_provider *p) {
  fake_provider *fp = (fake_provider *)p;

  if (fp->deleted != NULL) {
    *fp->deleted = 1;
  }
  free(fp);
}

static const kefo_credentials_provider_ops fp_ops = {fp_get, fp_del, NULL};

static fake_provider *fp_new(const char *name, int *deleted) {
  fake_provider *fp = calloc(1, sizeof(*fp));

  CU_ASSERT_FATAL(fp != NULL);
  fp->base.ops = &fp_ops;
  fp->base.name = name;
  fp->deleted = deleted;
  return fp;
}

/* Answers the pending get: error 0 with |akid| and |exp|. */
static void fp_answer(fake_provider *fp, int error, const char *akid,
                      int64_t exp) {
  kefo_credentials_cb cb = fp->pending;
  void *ud = fp->pending_ud;

  CU_ASSERT_FATAL(cb != NULL);
  fp->pending = NULL;
  if (error != 0) {
    kefo__credentials_fail(cb, ud, error, "refresh failed", NULL, 0, 1);
  } else {
    kefo_credentials c = {akid, S_SECRET, S_TOKEN, exp};
    cb(0, &c, NULL, ud);
  }
}

/* ---- The cache ---- */

static void test_cache_refresh(void) {
  kefo_credentials_provider *cache = NULL;
  kefo_credentials_options o;
  fake_provider *fp = fp_new("scripted", NULL);
  fake_env fe;
  result r1, r2;
  const int64_t hour = 3600000, minute = 60000;
  int64_t exp1;

  env_init(&fe);
  opts_init(&o, &fe, NULL);
  fake_now = T0;
  CU_ASSERT_FATAL(kefo__credentials_cache_new(&cache, &o, &fp->base) == 0);
  CU_ASSERT_STRING_EQUAL(cache->name, "scripted");

  /* Nothing cached: the caller waits; a second caller joins it. */
  get(cache, &r1);
  get(cache, &r2);
  CU_ASSERT_EQUAL(fp->calls, 1);
  CU_ASSERT_EQUAL(r1.called + r2.called, 0);
  exp1 = T0 + hour;
  fp_answer(fp, 0, "AKID1", exp1);
  CU_ASSERT_EQUAL(r1.called, 1);
  CU_ASSERT_EQUAL(r2.called, 1);
  CU_ASSERT_STRING_EQUAL(r2.akid, "AKID1");

  /* Fresh: answered at once, inside the get, without the provider. */
  fake_now = T0 + 30 * minute;
  get(cache, &r1);
  CU_ASSERT_EQUAL(r1.called, 1);
  CU_ASSERT_STRING_EQUAL(r1.akid, "AKID1");
  CU_ASSERT_EQUAL(fp->calls, 1);

  /* Just before the refresh window (5 minutes before expiry). */
  fake_now = exp1 - 5 * minute - 1;
  get(cache, &r1);
  CU_ASSERT_EQUAL(fp->calls, 1);

  /* In the window: still answered at once, and a refresh starts. */
  fake_now = exp1 - 5 * minute;
  get(cache, &r1);
  CU_ASSERT_EQUAL(r1.called, 1);
  CU_ASSERT_STRING_EQUAL(r1.akid, "AKID1");
  CU_ASSERT_EQUAL(fp->calls, 2);
  /* While it is in flight, gets still get the cached ones, and no second
     refresh starts. */
  fake_now = exp1 - 2 * minute;
  get(cache, &r1);
  CU_ASSERT_EQUAL(r1.called, 1);
  CU_ASSERT_STRING_EQUAL(r1.akid, "AKID1");
  CU_ASSERT_EQUAL(fp->calls, 2);
  /* The refresh lands before expiry; the next get sees it. */
  fp_answer(fp, 0, "AKID2", fake_now + hour);
  get(cache, &r1);
  CU_ASSERT_STRING_EQUAL(r1.akid, "AKID2");
  CU_ASSERT_EQUAL(fp->calls, 2);

  /* Stale (a minute before expiry) with no refresh done: callers wait. */
  fake_now = exp1 - 2 * minute + hour - 30000;
  get(cache, &r1);
  CU_ASSERT_EQUAL(r1.called, 0);
  CU_ASSERT_EQUAL(fp->calls, 3);
  fp_answer(fp, 0, "AKID3", fake_now + hour);
  CU_ASSERT_EQUAL(r1.called, 1);
  CU_ASSERT_STRING_EQUAL(r1.akid, "AKID3");

  /* Short lifetimes refresh at half-life and go stale at a tenth. */
  fake_now += hour;
  get(cache, &r1);
  CU_ASSERT_EQUAL(r1.called, 0);
  fp_answer(fp, 0, "SHORT", fake_now + 10000);
  CU_ASSERT_STRING_EQUAL(r1.akid, "SHORT");
  fake_now += 4999;
  get(cache, &r1);
  CU_ASSERT_EQUAL(r1.called, 1);
  CU_ASSERT_EQUAL(fp->calls, 4);
  fake_now += 1;
  get(cache, &r1);
  CU_ASSERT_EQUAL(r1.called, 1);
  CU_ASSERT_EQUAL(fp->calls, 5);
  fp_answer(fp, 0, "SHORT2", fake_now + 10000);

  kefo__credentials_provider_del(cache);
  env_free(&fe);
}

/* A service refused the cached keys: the next get waits for new ones,
   unless they arrived less than KEFO_CREDENTIALS_MIN_HOLD_MS ago. */
static void test_cache_invalidate(void) {
  kefo_credentials_provider *cache = NULL;
  kefo_credentials_options o;
  fake_provider *fp = fp_new("scripted", NULL);
  fake_env fe;
  result r;
  const int64_t hour = 3600000;

  env_init(&fe);
  opts_init(&o, &fe, NULL);
  fake_now = T0;
  CU_ASSERT_FATAL(kefo__credentials_cache_new(&cache, &o, &fp->base) == 0);
  /* Nothing cached: nothing to drop, and no fetch starts. */
  kefo__credentials_provider_invalidate(cache);
  CU_ASSERT_EQUAL(fp->calls, 0);
  get(cache, &r);
  fp_answer(fp, 0, "AKID1", T0 + hour);
  CU_ASSERT_STRING_EQUAL(r.akid, "AKID1");

  /* Just fetched: a refusal of a call signed before is not theirs. */
  fake_now = T0 + KEFO_CREDENTIALS_MIN_HOLD_MS - 1;
  kefo__credentials_provider_invalidate(cache);
  get(cache, &r);
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_STRING_EQUAL(r.akid, "AKID1");
  CU_ASSERT_EQUAL(fp->calls, 1);

  /* Held long enough: dropped, and the next get waits for the provider
     although the keys had most of an hour left. */
  fake_now = T0 + KEFO_CREDENTIALS_MIN_HOLD_MS;
  kefo__credentials_provider_invalidate(cache);
  kefo__credentials_provider_invalidate(cache);
  get(cache, &r);
  CU_ASSERT_EQUAL(r.called, 0);
  CU_ASSERT_EQUAL(fp->calls, 2);
  fp_answer(fp, 0, "AKID2", fake_now + hour);
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_STRING_EQUAL(r.akid, "AKID2");
  /* NULL and providers without the operation are fine. */
  kefo__credentials_provider_invalidate(NULL);
  kefo__credentials_provider_invalidate(&fp->base);

  kefo__credentials_provider_del(cache);
  env_free(&fe);
}

static void test_cache_failures(void) {
  kefo_credentials_provider *cache = NULL;
  kefo_credentials_options o;
  int deleted = 0;
  fake_provider *fp = fp_new("scripted", &deleted);
  fake_env fe;
  result r;
  const int64_t hour = 3600000, minute = 60000;

  env_init(&fe);
  opts_init(&o, &fe, NULL);
  fake_now = T0;
  CU_ASSERT_FATAL(kefo__credentials_cache_new(&cache, &o, &fp->base) == 0);

  /* A first failure reaches the waiting caller, message and all. */
  get(cache, &r);
  fp_answer(fp, KEFO_ERR_CREDENTIALS, NULL, 0);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CREDENTIALS);
  CU_ASSERT(contains(r.message, "refresh failed"));
  CU_ASSERT_EQUAL(r.retryable, 1);

  /* Credentials that have already expired are an error. */
  get(cache, &r);
  fp_answer(fp, 0, "OLD", T0 - 1);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CREDENTIALS);
  CU_ASSERT(contains(r.message, "already expired"));

  get(cache, &r);
  fp_answer(fp, 0, "AKID1", T0 + hour);
  CU_ASSERT_STRING_EQUAL(r.akid, "AKID1");

  /* A failed background refresh keeps the cached keys and waits before
     trying again: a quarter of the time left until stale (3 minutes
     here), kept within 1 s to 60 s. */
  fake_now = T0 + hour - 4 * minute;
  get(cache, &r);
  CU_ASSERT_EQUAL(fp->calls, 4);
  fp_answer(fp, KEFO_ERR_TIMEOUT, NULL, 0);
  get(cache, &r);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT_STRING_EQUAL(r.akid, "AKID1");
  CU_ASSERT_EQUAL(fp->calls, 4);
  fake_now += 44999;
  get(cache, &r);
  CU_ASSERT_EQUAL(fp->calls, 4);
  fake_now += 1;
  get(cache, &r);
  CU_ASSERT_EQUAL(fp->calls, 5);
  CU_ASSERT_STRING_EQUAL(r.akid, "AKID1");

  /* Deleting the cache with a refresh in flight deletes the provider;
     nothing is called back. */
  kefo__credentials_provider_del(cache);
  CU_ASSERT_EQUAL(deleted, 1);

  /* Static keys (no expiry) are fetched once. */
  fp = fp_new("static-like", NULL);
  fp->sync = 1;
  fp->akid = "FOREVER";
  CU_ASSERT_FATAL(kefo__credentials_cache_new(&cache, &o, &fp->base) == 0);
  get(cache, &r);
  CU_ASSERT_EQUAL(r.called, 1);
  fake_now += 1000 * hour;
  get(cache, &r);
  CU_ASSERT_STRING_EQUAL(r.akid, "FOREVER");
  CU_ASSERT_EQUAL(fp->calls, 1);
  kefo__credentials_provider_del(cache);

  CU_ASSERT_EQUAL(kefo__credentials_cache_new(&cache, &o, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  env_free(&fe);
}

typedef struct del_ctx {
  kefo_credentials_provider *cache;
  int calls;
} del_ctx;

static void on_creds_delete(int error, const kefo_credentials *c,
                            const kefo_error_info *info, void *ud) {
  del_ctx *d = ud;

  (void)error;
  (void)c;
  (void)info;
  ++d->calls;
  kefo__credentials_provider_del(d->cache);
  d->cache = NULL;
}

static void test_cache_delete_in_callback(void) {
  kefo_credentials_options o;
  fake_provider *fp = fp_new("scripted", NULL);
  fake_env fe;
  del_ctx d1, d2;

  env_init(&fe);
  opts_init(&o, &fe, NULL);
  fake_now = T0;
  memset(&d1, 0, sizeof(d1));
  memset(&d2, 0, sizeof(d2));
  CU_ASSERT_FATAL(kefo__credentials_cache_new(&d1.cache, &o, &fp->base) == 0);
  d2.cache = d1.cache;
  CU_ASSERT_EQUAL(
      kefo__credentials_provider_get(d1.cache, on_creds_delete, &d1), 0);
  CU_ASSERT_EQUAL(
      kefo__credentials_provider_get(d2.cache, on_creds_delete, &d2), 0);
  /* The first waiter deletes the cache: the second is not called. */
  fp_answer(fp, 0, "AKID", T0 + 3600000);
  CU_ASSERT_EQUAL(d1.calls, 1);
  CU_ASSERT_EQUAL(d2.calls, 0);
  env_free(&fe);
}

/* ---- The chain ---- */

static void test_chain(void) {
  kefo_credentials_provider *chain = NULL, *list[3];
  int deleted = 0;
  fake_provider *a = fp_new("first", NULL), *b = fp_new("second", NULL),
                *c = fp_new("third", &deleted);
  result r;

  a->sync = 1;
  a->sync_error = KEFO_ERR_CREDENTIALS;
  list[0] = &a->base;
  list[1] = &b->base;
  list[2] = &c->base;
  CU_ASSERT_FATAL(kefo__credentials_chain_new(&chain, NULL, list, 3) == 0);

  /* The first fails at once, the second answers later. */
  get(chain, &r);
  CU_ASSERT_EQUAL(a->calls, 1);
  CU_ASSERT_EQUAL(b->calls, 1);
  CU_ASSERT_EQUAL(r.called, 0);
  fp_answer(b, 0, "FROMB", 0);
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_STRING_EQUAL(r.akid, "FROMB");

  /* Remembered: the second is asked first. */
  get(chain, &r);
  CU_ASSERT_EQUAL(a->calls, 1);
  CU_ASSERT_EQUAL(b->calls, 2);
  /* It fails: the chain starts over without it, and all fail. */
  fp_answer(b, KEFO_ERR_CREDENTIALS, NULL, 0);
  CU_ASSERT_EQUAL(a->calls, 2);
  CU_ASSERT_EQUAL(b->calls, 2);
  CU_ASSERT_EQUAL(c->calls, 1);
  fp_answer(c, KEFO_ERR_TIMEOUT, NULL, 0);
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CREDENTIALS);
  CU_ASSERT(contains(r.message, "no AWS credentials found: second: refresh "
                                "failed"));
  CU_ASSERT(contains(r.message, "; first: scripted failure; third: "));
  CU_ASSERT_EQUAL(r.retryable, 1);

  /* Deleted with a get in flight: no callback, providers freed. */
  get(chain, &r);
  CU_ASSERT(b->pending != NULL);
  kefo__credentials_provider_del(chain);
  CU_ASSERT_EQUAL(r.called, 0);
  CU_ASSERT_EQUAL(deleted, 1);

  CU_ASSERT_EQUAL(kefo__credentials_chain_new(&chain, NULL, NULL, 0),
                  KEFO_ERR_INVALID_ARGUMENT);
}

/* ---- STS: web identity from the environment ---- */

typedef struct scratch {
  char dir[64];
  char path[160];
} scratch;

static void scratch_init(scratch *s) {
  snprintf(s->dir, sizeof(s->dir), "/tmp/kefo-creds-XXXXXX");
  CU_ASSERT_FATAL(mkdtemp(s->dir) != NULL);
}

static const char *scratch_file(scratch *s, const char *name,
                                const char *text) {
  FILE *f;

  snprintf(s->path, sizeof(s->path), "%s/%s", s->dir, name);
  f = fopen(s->path, "wb");
  CU_ASSERT_FATAL(f != NULL);
  fputs(text, f);
  fclose(f);
  return s->path;
}

static void scratch_free(scratch *s) {
  char cmd[128];

  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->dir);
  CU_ASSERT_EQUAL(system(cmd), 0);
}

static void test_web_identity_env(void) {
  kefo_credentials_provider *p = NULL;
  kefo_credentials_options o;
  fake_http fh;
  fake_env fe;
  scratch sc;
  result r;
  char doc[4096];
  const fake_rec *rec;

  memset(&fh, 0, sizeof(fh));
  env_init(&fe);
  scratch_init(&sc);
  opts_init(&o, &fe, &fh);
  fake_now = T0;
  CU_ASSERT_FATAL(
      kefo__credentials_web_identity_new(&p, &o, NULL, NULL, NULL) == 0);
  CU_ASSERT_STRING_EQUAL(p->name, "web identity");
  get(p, &r);
  CU_ASSERT_STRING_EQUAL(
      r.message, "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set");
  env_set(&fe, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web");
  get(p, &r);
  CU_ASSERT_STRING_EQUAL(
      r.message, "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not");
  env_set(&fe, "AWS_ROLE_ARN", NULL);
  env_set(&fe, "AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token");
  get(p, &r);
  CU_ASSERT_STRING_EQUAL(
      r.message, "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not");
  env_set(&fe, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web");
  get(p, &r);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CREDENTIALS);
  CU_ASSERT(contains(r.message, "web identity token: cannot read "
                                "/nonexistent/token: No such file"));
  CU_ASSERT(contains(r.message, "role/web"));
  scratch_file(&sc, "empty", "\n\n");
  env_set(&fe, "AWS_WEB_IDENTITY_TOKEN_FILE", sc.path);
  get(p, &r);
  CU_ASSERT(contains(r.message, "is empty"));

  /* The request: regional endpoint, unsigned, token in the body. */
  scratch_file(&sc, "token", S_WEBID "\n");
  env_set(&fe, "AWS_WEB_IDENTITY_TOKEN_FILE", sc.path);
  env_set(&fe, "AWS_ROLE_SESSION_NAME", "my-session");
  env_set(&fe, "AWS_REGION", "eu-west-1");
  get(p, &r);
  CU_ASSERT_EQUAL(r.called, 0);
  CU_ASSERT_EQUAL(fake_pending(&fh), 1);
  rec = fake_last(&fh);
  CU_ASSERT_STRING_EQUAL(rec->method, "POST");
  CU_ASSERT_STRING_EQUAL(rec->url, "https://sts.eu-west-1.amazonaws.com");
  CU_ASSERT_STRING_EQUAL(rec->path, "/");
  CU_ASSERT(rec_header(rec, "authorization") == NULL);
  CU_ASSERT_STRING_EQUAL(rec_header(rec, "content-type"),
                         "application/x-www-form-urlencoded; charset=utf-8");
  CU_ASSERT_STRING_EQUAL(
      rec->body, "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn="
                 "arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fweb&"
                 "RoleSessionName=my-session&WebIdentityToken=" S_WEBID);
  sts_doc(doc, sizeof(doc), "AssumeRoleWithWebIdentity", "ASIAWEB",
          T0 + 3600000);
  fake_respond(&fh, 200, doc);
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT_STRING_EQUAL(r.akid, "ASIAWEB");
  CU_ASSERT_STRING_EQUAL(r.token, S_NEW_TOKEN);
  CU_ASSERT_EQUAL(r.exp, T0 + 3600000);

  /* An STS error that echoes the token: redacted. */
  env_set(&fe, "AWS_ENDPOINT_URL_STS", "http://127.0.0.1:4599");
  get(p, &r);
  CU_ASSERT_STRING_EQUAL(fake_last(&fh)->url, "http://127.0.0.1:4599");
  fake_respond(&fh, 400,
               "<ErrorResponse><Error><Code>InvalidIdentityToken</Code>"
               "<Message>Token " S_WEBID " is not valid</Message></Error>"
               "</ErrorResponse>");
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(r.aws_type, "InvalidIdentityToken");
  CU_ASSERT_EQUAL(r.http_status, 400);
  CU_ASSERT(contains(r.message, "STS AssumeRoleWithWebIdentity for "
                                "arn:aws:iam::123456789012:role/web at "
                                "http://127.0.0.1:4599: HTTP 400 "
                                "InvalidIdentityToken: Token ****"));
  CU_ASSERT_EQUAL(r.retryable, 0);
  get(p, &r);
  fake_respond(&fh, 500, "<Error><Code>IDPCommunicationError</Code></Error>");
  CU_ASSERT_EQUAL(r.retryable, 1);
  get(p, &r);
  fake_fail(&fh, KEFO_ERR_CONNECT, "connection refused");
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CONNECT);
  CU_ASSERT(contains(r.message, "connection refused"));
  env_set(&fe, "AWS_ROLE_SESSION_NAME", "bad name!");
  get(p, &r);
  CU_ASSERT(contains(r.message, "AWS_ROLE_SESSION_NAME is not a role "
                                "session name"));
  env_set(&fe, "AWS_ROLE_SESSION_NAME", NULL);
  env_set(&fe, "AWS_ENDPOINT_URL_STS", "not a url");
  get(p, &r);
  CU_ASSERT(contains(r.message, "AWS_ENDPOINT_URL_STS is not an http"));

  /* Deleted in flight: the request is cancelled, no callback. */
  env_set(&fe, "AWS_ENDPOINT_URL_STS", NULL);
  get(p, &r);
  CU_ASSERT(
      contains(fake_last(&fh)->body, "RoleSessionName=kefo-1700000000000"));
  kefo__credentials_provider_del(p);
  CU_ASSERT_EQUAL(fh.cancelled, 1);
  CU_ASSERT_EQUAL(r.called, 0);

  CU_ASSERT_EQUAL(kefo__credentials_web_identity_new(&p, &o, "arn", NULL, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  fake_http_clear(&fh);
  scratch_free(&sc);
  env_free(&fe);
}

/* Recomputes the SigV4 authorization of a recorded STS request. */
static void check_signature(const fake_rec *rec, const char *akid,
                            const char *secret, const char *token,
                            const char *region) {
  kefo_sigv4_header sh[2];
  kefo_sigv4_request req;
  kefo_sigv4_credentials sc;
  kefo_sigv4_params params;
  kefo_sigv4_result res;
  char auth[1024];
  const char *host = strstr(rec->url, "://") + 3, *got;
  size_t i;

  sh[0].name = "host";
  sh[0].namelen = 4;
  sh[0].value = host;
  sh[0].valuelen = strlen(host);
  sh[1].name = "content-type";
  sh[1].namelen = 12;
  sh[1].value = "application/x-www-form-urlencoded; charset=utf-8";
  sh[1].valuelen = strlen(sh[1].value);
  memset(&req, 0, sizeof(req));
  req.method = "POST";
  req.path = "/";
  req.headers = sh;
  req.nheaders = 2;
  req.body = (const uint8_t *)rec->body;
  req.bodylen = strlen(rec->body);
  sc.access_key_id = akid;
  sc.secret_access_key = secret;
  sc.session_token = token;
  memset(&params, 0, sizeof(params));
  params.credentials = &sc;
  params.region = region;
  params.service = "sts";
  params.time = fake_now / 1000;
  params.mode = KEFO_SIGV4_HEADERS;
  CU_ASSERT_FATAL(kefo__sigv4_sign(&res, &req, &params, NULL, NULL) == 0);
  auth[0] = '\0';
  for (i = 0; i < res.nheaders; ++i) {
    if (strcmp(res.headers[i].name, "authorization") == 0) {
      snprintf(auth, sizeof(auth), "%s", res.headers[i].value);
    }
  }
  got = rec_header(rec, "authorization");
  CU_ASSERT(got != NULL && strcmp(got, auth) == 0);
  CU_ASSERT(got != NULL &&
            strncmp(got, "AWS4-HMAC-SHA256 Credential=", 28) == 0);
  CU_ASSERT(contains(got, akid));
  CU_ASSERT(contains(got, region));
  CU_ASSERT_STRING_EQUAL(rec_header(rec, "x-amz-date"), "20231114T221320Z");
  if (token != NULL) {
    CU_ASSERT(rec_header(rec, "x-amz-security-token") != NULL &&
              strcmp(rec_header(rec, "x-amz-security-token"), token) == 0);
  } else {
    CU_ASSERT(rec_header(rec, "x-amz-security-token") == NULL);
  }
  kefo__sigv4_result_free(&res);
}

/* ---- Profiles ---- */

static const char profile_config[] =
    "[default]\n"
    "region = us-west-2\n"
    "[profile static]\n"
    "region = eu-west-2\n"
    "[profile role]\n"
    "role_arn = arn:aws:iam::123456789012:role/reader\n"
    "source_profile = src\n"
    "role_session_name = sess\n"
    "external_id = ext-1\n"
    "duration_seconds = 900\n"
    "region = ap-southeast-2\n"
    "[profile chained]\n"
    "role_arn = arn:aws:iam::123456789012:role/outer\n"
    "source_profile = role\n"
    "[profile loop-a]\n"
    "role_arn = arn:aws:iam::1:role/a\n"
    "source_profile = loop-b\n"
    "[profile loop-b]\n"
    "role_arn = arn:aws:iam::1:role/b\n"
    "source_profile = loop-a\n"
    "[profile orphan]\n"
    "role_arn = arn:aws:iam::1:role/o\n"
    "source_profile = nowhere\n"
    "[profile self]\n"
    "role_arn = arn:aws:iam::1:role/self\n"
    "source_profile = self\n"
    "[profile envsrc]\n"
    "role_arn = arn:aws:iam::1:role/env\n"
    "credential_source = Environment\n"
    "[profile badsrc]\n"
    "role_arn = arn:aws:iam::1:role/x\n"
    "credential_source = Somewhere\n"
    "[profile both]\n"
    "role_arn = arn:aws:iam::1:role/x\n"
    "credential_source = Environment\n"
    "source_profile = src\n"
    "[profile norole]\n"
    "role_arn = arn:aws:iam::1:role/x\n"
    "[profile baddur]\n"
    "role_arn = arn:aws:iam::1:role/x\n"
    "source_profile = src\n"
    "duration_seconds = 60\n"
    "[profile web]\n"
    "role_arn = arn:aws:iam::1:role/web\n"
    "web_identity_token_file = %s\n"
    "[profile process]\n"
    "credential_process = /bin/echo\n"
    "[profile sso]\n"
    "sso_session = corp\n"
    "[profile empty]\n"
    "output = json\n"
    "[profile halfkey]\n"
    "aws_access_key_id = AKIDHALF\n";

static const char profile_creds[] = "[static]\n"
                                    "aws_access_key_id = AKIDPROFILE\n"
                                    "aws_secret_access_key = " S_SECRET "\n"
                                    "aws_session_token = " S_TOKEN "\n"
                                    "[src]\n"
                                    "aws_access_key_id = AKIDSRC\n"
                                    "aws_secret_access_key = " S_SRC_SECRET "\n"
                                    "[self]\n"
                                    "aws_access_key_id = AKIDSELF\n"
                                    "aws_secret_access_key = " S_SECRET "\n";

typedef struct profile_world {
  scratch sc;
  char config[200];
  char creds[200];
  fake_env fe;
  fake_http fh;
  kefo_credentials_options o;
} profile_world;

static void world_init(profile_world *w) {
  char text[4096], token[200];

  memset(w, 0, sizeof(*w));
  scratch_init(&w->sc);
  snprintf(token, sizeof(token), "%s", scratch_file(&w->sc, "token", S_WEBID));
  snprintf(text, sizeof(text), profile_config, token);
  snprintf(w->config, sizeof(w->config), "%s",
           scratch_file(&w->sc, "config", text));
  snprintf(w->creds, sizeof(w->creds), "%s",
           scratch_file(&w->sc, "credentials", profile_creds));
  env_init(&w->fe);
  env_set(&w->fe, "AWS_CONFIG_FILE", w->config);
  env_set(&w->fe, "AWS_SHARED_CREDENTIALS_FILE", w->creds);
  opts_init(&w->o, &w->fe, &w->fh);
  fake_now = T0;
}

static void world_free(profile_world *w) {
  fake_http_clear(&w->fh);
  env_free(&w->fe);
  scratch_free(&w->sc);
}

static void profile_expect_error(profile_world *w, const char *profile,
                                 const char *message) {
  kefo_credentials_provider *p = NULL;
  result r;

  w->o.profile = profile;
  CU_ASSERT_FATAL(kefo__credentials_profile_new(&p, &w->o) == 0);
  get(p, &r);
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CREDENTIALS);
  CU_ASSERT(contains(r.message, message));
  kefo__credentials_provider_del(p);
}

static void test_profile_static(void) {
  kefo_credentials_provider *p = NULL;
  profile_world w;
  result r;
  char where[512];

  world_init(&w);
  env_set(&w.fe, "AWS_PROFILE", "static");
  CU_ASSERT_FATAL(kefo__credentials_profile_new(&p, &w.o) == 0);
  CU_ASSERT_STRING_EQUAL(p->name, "profile");
  get(p, &r);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT_STRING_EQUAL(r.akid, "AKIDPROFILE");
  CU_ASSERT_STRING_EQUAL(r.secret, S_SECRET);
  CU_ASSERT_STRING_EQUAL(r.token, S_TOKEN);
  kefo__credentials_provider_del(p);

  snprintf(where, sizeof(where), "profile 'nope' not found in %s and %s",
           w.config, w.creds);
  profile_expect_error(&w, "nope", where);
  snprintf(where, sizeof(where),
           "profile 'nowhere' (source_profile of 'orphan') not found in %s",
           w.config);
  profile_expect_error(&w, "orphan", where);
  profile_expect_error(&w, "loop-a",
                       "source_profile loop: loop-a -> loop-b -> loop-a");
  profile_expect_error(&w, "badsrc",
                       "credential_source of profile 'badsrc' is 'Somewhere', "
                       "not Environment, Ec2InstanceMetadata or EcsContainer");
  profile_expect_error(&w, "both",
                       "sets both source_profile and "
                       "credential_source");
  profile_expect_error(&w, "norole",
                       "profile 'norole' has role_arn but no "
                       "source_profile, credential_source or "
                       "web_identity_token_file");
  profile_expect_error(&w, "baddur", "duration_seconds of profile 'baddur'");
  profile_expect_error(&w, "process", "uses credential_process");
  profile_expect_error(&w, "sso", "IAM Identity Center");
  profile_expect_error(&w, "empty", "profile 'empty' has no credentials");
  profile_expect_error(&w, "halfkey",
                       "profile 'halfkey' has "
                       "aws_access_key_id but no "
                       "aws_secret_access_key");

  /* A broken file: the error names it and the line. */
  scratch_file(&w.sc, "config", "[default]\nregion\n");
  snprintf(where, sizeof(where), "%s:2: expected 'name = value'", w.config);
  profile_expect_error(&w, NULL, where);
  /* No files at all. */
  env_set(&w.fe, "AWS_CONFIG_FILE", "/nonexistent/config");
  env_set(&w.fe, "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
  profile_expect_error(&w, NULL,
                       "profile 'static' not found in no shared files "
                       "(neither /nonexistent/config nor "
                       "/nonexistent/credentials exists)");
  env_set(&w.fe, "AWS_CONFIG_FILE", NULL);
  env_set(&w.fe, "AWS_SHARED_CREDENTIALS_FILE", NULL);
  profile_expect_error(&w, NULL, "HOME is not set");
  world_free(&w);
}

static void test_profile_assume_role(void) {
  kefo_credentials_provider *p = NULL;
  profile_world w;
  result r;
  char doc[4096];
  const fake_rec *rec;

  world_init(&w);
  w.o.profile = "role";
  CU_ASSERT_FATAL(kefo__credentials_profile_new(&p, &w.o) == 0);
  get(p, &r);
  CU_ASSERT_EQUAL(r.called, 0);
  CU_ASSERT_EQUAL(fake_pending(&w.fh), 1);
  rec = fake_last(&w.fh);
  /* The profile's region picks the regional endpoint. */
  CU_ASSERT_STRING_EQUAL(rec->url, "https://sts.ap-southeast-2.amazonaws.com");
  CU_ASSERT_STRING_EQUAL(
      rec->body, "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam"
                 "%3A%3A123456789012%3Arole%2Freader&RoleSessionName=sess&"
                 "DurationSeconds=900&ExternalId=ext-1");
  check_signature(rec, "AKIDSRC", S_SRC_SECRET, NULL, "ap-southeast-2");
  sts_doc(doc, sizeof(doc), "AssumeRole", "ASIAROLE", T0 + 900000);
  fake_respond(&w.fh, 200, doc);
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT_STRING_EQUAL(r.akid, "ASIAROLE");
  CU_ASSERT_EQUAL(r.exp, T0 + 900000);

  /* Errors from STS name the profile, the role and the AWS error. */
  get(p, &r);
  fake_respond(&w.fh, 403,
               "<ErrorResponse><Error><Code>AccessDenied</Code><Message>not "
               "allowed</Message></Error></ErrorResponse>");
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_AWS);
  CU_ASSERT_STRING_EQUAL(r.aws_type, "AccessDenied");
  CU_ASSERT(contains(r.message,
                     "profile 'role': STS AssumeRole for "
                     "arn:aws:iam::123456789012:role/reader at "
                     "https://sts.ap-southeast-2.amazonaws.com: HTTP 403 "
                     "AccessDenied: not allowed"));
  /* Configured region and endpoint win over the profile's. */
  w.o.region = "us-east-2";
  kefo__credentials_provider_del(p);
  CU_ASSERT_FATAL(kefo__credentials_profile_new(&p, &w.o) == 0);
  get(p, &r);
  CU_ASSERT_STRING_EQUAL(fake_last(&w.fh)->url,
                         "https://sts.us-east-2.amazonaws.com");
  fake_fail(&w.fh, KEFO_ERR_TIMEOUT, "response head timed out");
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_TIMEOUT);
  CU_ASSERT_EQUAL(r.retryable, 1);
  kefo__credentials_provider_del(p);
  w.o.region = NULL;

  /* Two hops: outer's role is assumed with the inner role's keys. */
  w.o.profile = "chained";
  CU_ASSERT_FATAL(kefo__credentials_profile_new(&p, &w.o) == 0);
  get(p, &r);
  CU_ASSERT_EQUAL(fake_pending(&w.fh), 1);
  rec = fake_last(&w.fh);
  CU_ASSERT(contains(rec->body, "role%2Freader"));
  /* The top profile has no region; the default's is not used for it. */
  CU_ASSERT_STRING_EQUAL(rec->url, "https://sts.amazonaws.com");
  check_signature(rec, "AKIDSRC", S_SRC_SECRET, NULL, "us-east-1");
  sts_doc(doc, sizeof(doc), "AssumeRole", "ASIAINNER", T0 + 900000);
  fake_respond(&w.fh, 200, doc);
  CU_ASSERT_EQUAL(r.called, 0);
  CU_ASSERT_EQUAL(fake_pending(&w.fh), 1);
  rec = fake_last(&w.fh);
  CU_ASSERT(contains(rec->body, "role%2Fouter"));
  CU_ASSERT(contains(rec->body, "RoleSessionName=kefo-1700000000000"));
  check_signature(rec, "ASIAINNER", S_NEW_SECRET, S_NEW_TOKEN, "us-east-1");
  sts_doc(doc, sizeof(doc), "AssumeRole", "ASIAOUTER", T0 + 3600000);
  fake_respond(&w.fh, 200, doc);
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_STRING_EQUAL(r.akid, "ASIAOUTER");
  /* An inner failure says which hop failed. */
  get(p, &r);
  fake_respond(&w.fh, 500, "oops");
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT(contains(r.message, "STS AssumeRole for "
                                "arn:aws:iam::123456789012:role/outer"));
  CU_ASSERT(contains(r.message, "source credentials (assume role): STS "
                                "AssumeRole for "
                                "arn:aws:iam::123456789012:role/reader"));
  CU_ASSERT(contains(r.message, "HTTP 500 with no STS error document"));
  /* Deleted in the middle: cancelled, nothing called. */
  get(p, &r);
  kefo__credentials_provider_del(p);
  CU_ASSERT_EQUAL(r.called, 0);
  CU_ASSERT_EQUAL(fake_pending(&w.fh), 0);

  /* A profile that is its own source uses its keys. */
  w.o.profile = "self";
  CU_ASSERT_FATAL(kefo__credentials_profile_new(&p, &w.o) == 0);
  get(p, &r);
  check_signature(fake_last(&w.fh), "AKIDSELF", S_SECRET, NULL, "us-east-1");
  fake_respond(&w.fh, 200, doc);
  CU_ASSERT_EQUAL(r.error, 0);
  kefo__credentials_provider_del(p);

  /* credential_source = Environment. */
  env_set(&w.fe, "AWS_ACCESS_KEY_ID", "AKIDENVSRC");
  env_set(&w.fe, "AWS_SECRET_ACCESS_KEY", S_SRC_SECRET);
  env_set(&w.fe, "AWS_SESSION_TOKEN", S_SRC_TOKEN);
  env_set(&w.fe, "AWS_DEFAULT_REGION", "ca-central-1");
  w.o.profile = "envsrc";
  CU_ASSERT_FATAL(kefo__credentials_profile_new(&p, &w.o) == 0);
  get(p, &r);
  rec = fake_last(&w.fh);
  CU_ASSERT_STRING_EQUAL(rec->url, "https://sts.ca-central-1.amazonaws.com");
  check_signature(rec, "AKIDENVSRC", S_SRC_SECRET, S_SRC_TOKEN, "ca-central-1");
  fake_respond(&w.fh, 200, doc);
  CU_ASSERT_EQUAL(r.error, 0);
  /* The environment source failing. */
  env_set(&w.fe, "AWS_ACCESS_KEY_ID", NULL);
  get(p, &r);
  CU_ASSERT(contains(r.message, "source credentials (environment): "
                                "AWS_SECRET_ACCESS_KEY is set but "
                                "AWS_ACCESS_KEY_ID is not"));
  kefo__credentials_provider_del(p);

  /* web_identity_token_file in the profile: unsigned. */
  w.o.profile = "web";
  CU_ASSERT_FATAL(kefo__credentials_profile_new(&p, &w.o) == 0);
  get(p, &r);
  rec = fake_last(&w.fh);
  CU_ASSERT(rec_header(rec, "authorization") == NULL);
  CU_ASSERT(contains(rec->body, "Action=AssumeRoleWithWebIdentity"));
  CU_ASSERT(contains(rec->body, "WebIdentityToken=" S_WEBID));
  sts_doc(doc, sizeof(doc), "AssumeRoleWithWebIdentity", "ASIAPWEB",
          T0 + 900000);
  fake_respond(&w.fh, 200, doc);
  CU_ASSERT_STRING_EQUAL(r.akid, "ASIAPWEB");
  kefo__credentials_provider_del(p);
  world_free(&w);
}

/* ---- Container ---- */

static void test_container_endpoint(void) {
  static const struct {
    const char *full;
    int ok;
    const char *url_host;
    const char *path;
  } cases[] = {
      {"http://127.0.0.1:8080/creds?x=1", 1, "127.0.0.1", "/creds?x=1"},
      {"http://localhost", 1, "localhost", "/"},
      {"http://[::1]:9/a", 1, "::1", "/a"},
      {"http://169.254.170.23/v1/credentials", 1, "169.254.170.23",
       "/v1/credentials"},
      {"http://[fd00:ec2::23]/v1", 1, "fd00:ec2::23", "/v1"},
      {"https://creds.example.com:8443/x", 1, "creds.example.com", "/x"},
      {"http://127.1.2.3?q", 1, "127.1.2.3", "/?q"},
      {"http://10.0.0.1/creds", 0, NULL, NULL},
      {"http://128.0.0.1/creds", 0, NULL, NULL},
      {"http://example.com/creds", 0, NULL, NULL},
      {"ftp://127.0.0.1/", 0, NULL, NULL},
      {"127.0.0.1/creds", 0, NULL, NULL},
      {"http://127.0.0.1/a b", 0, NULL, NULL},
  };
  fake_env fe;
  kefo_endpoint ep;
  char path[256], err[512];
  size_t i;

  env_init(&fe);
  CU_ASSERT_EQUAL(kefo__credentials_container_endpoint(
                      &fe.env, &ep, path, sizeof(path), err, sizeof(err)),
                  KEFO_ERR_CREDENTIALS);
  CU_ASSERT_STRING_EQUAL(err, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
                              "AWS_CONTAINER_CREDENTIALS_FULL_URI are not "
                              "set");
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    int rv;
    env_set(&fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI", cases[i].full);
    rv = kefo__credentials_container_endpoint(&fe.env, &ep, path, sizeof(path),
                                              err, sizeof(err));
    if ((rv == 0) != cases[i].ok) {
      fprintf(stderr, "\n  %s: %d %s\n", cases[i].full, rv, err);
    }
    CU_ASSERT_EQUAL(rv == 0, cases[i].ok);
    if (rv == 0 && cases[i].ok) {
      CU_ASSERT_STRING_EQUAL(ep.host, cases[i].url_host);
      CU_ASSERT_STRING_EQUAL(path, cases[i].path);
    }
  }
  env_set(&fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://10.0.0.1/creds");
  kefo__credentials_container_endpoint(&fe.env, &ep, path, sizeof(path), err,
                                       sizeof(err));
  CU_ASSERT(contains(err, "uses http to '10.0.0.1', which is allowed only "
                          "for loopback"));
  /* The relative URI wins. */
  env_set(&fe, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/id");
  CU_ASSERT_EQUAL(kefo__credentials_container_endpoint(
                      &fe.env, &ep, path, sizeof(path), err, sizeof(err)),
                  0);
  CU_ASSERT_STRING_EQUAL(ep.authority, "169.254.170.2");
  CU_ASSERT_STRING_EQUAL(path, "/v2/credentials/id");
  env_set(&fe, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "v2/credentials");
  CU_ASSERT_EQUAL(kefo__credentials_container_endpoint(
                      &fe.env, &ep, path, sizeof(path), err, sizeof(err)),
                  KEFO_ERR_CREDENTIALS);
  CU_ASSERT(contains(err, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI is not a "
                          "path"));
  env_free(&fe);
}

static void test_container(void) {
  kefo_credentials_provider *p = NULL;
  kefo_credentials_options o;
  fake_http fh;
  fake_env fe;
  scratch sc;
  result r;
  char doc[2048], big[20000];
  const fake_rec *rec;

  memset(&fh, 0, sizeof(fh));
  env_init(&fe);
  scratch_init(&sc);
  opts_init(&o, &fe, &fh);
  fake_now = T0;
  CU_ASSERT_FATAL(kefo__credentials_container_new(&p, &o) == 0);
  CU_ASSERT_STRING_EQUAL(p->name, "container");
  get(p, &r);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CREDENTIALS);

  /* ECS: relative URI, no token. */
  env_set(&fe, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/abc");
  get(p, &r);
  rec = fake_last(&fh);
  CU_ASSERT_STRING_EQUAL(rec->method, "GET");
  CU_ASSERT_STRING_EQUAL(rec->url, "http://169.254.170.2");
  CU_ASSERT_STRING_EQUAL(rec->path, "/v2/credentials/abc");
  CU_ASSERT(rec_header(rec, "authorization") == NULL);
  CU_ASSERT(rec->timeout_ms > 0);
  json_doc(doc, sizeof(doc), "ASIAECS", T0 + 3600000);
  fake_respond(&fh, 200, doc);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT_STRING_EQUAL(r.akid, "ASIAECS");
  CU_ASSERT_STRING_EQUAL(r.token, S_NEW_TOKEN);
  CU_ASSERT_EQUAL(r.exp, T0 + 3600000);

  /* EKS: full URI and a token, from the variable then from a file. */
  env_set(&fe, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", NULL);
  env_set(&fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI",
          "http://169.254.170.23/v1/credentials");
  env_set(&fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN", S_CTOKEN);
  get(p, &r);
  rec = fake_last(&fh);
  CU_ASSERT_STRING_EQUAL(rec->url, "http://169.254.170.23");
  CU_ASSERT_STRING_EQUAL(rec_header(rec, "authorization"), S_CTOKEN);
  fake_respond(&fh, 401, "{\"message\":\"bad token " S_CTOKEN "\"}");
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CREDENTIALS);
  CU_ASSERT_EQUAL(r.http_status, 401);
  CU_ASSERT_STRING_EQUAL(r.message,
                         "container endpoint returned HTTP 401 (is the "
                         "authorization token right?) (at "
                         "http://169.254.170.23/v1/credentials)");
  env_set(&fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
          scratch_file(&sc, "eks-token", "Bearer " S_CTOKEN "FILE\n"));
  get(p, &r);
  CU_ASSERT_STRING_EQUAL(rec_header(fake_last(&fh), "authorization"),
                         "Bearer " S_CTOKEN "FILE");
  fake_respond(&fh, 500, "Internal");
  CU_ASSERT_EQUAL(r.retryable, 1);
  env_set(&fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "/nonexistent/tok");
  get(p, &r);
  CU_ASSERT(contains(r.message, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: "
                                "cannot read /nonexistent/tok"));
  env_set(&fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", NULL);
  env_set(&fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN", S_CTOKEN "\r\nX-Evil: 1");
  get(p, &r);
  CU_ASSERT(contains(r.message, "AWS_CONTAINER_AUTHORIZATION_TOKEN holds a "
                                "line break"));
  env_set(&fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN", S_CTOKEN);

  /* Bad bodies. */
  get(p, &r);
  fake_respond(&fh, 200, "{\"AccessKeyId\":\"A\"}");
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT(contains(r.message, "container endpoint: the document has no "
                                "SecretAccessKey"));
  memset(big, ' ', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  get(p, &r);
  fake_respond(&fh, 200, big);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_RESPONSE_TOO_LARGE);
  CU_ASSERT(contains(r.message, "larger than 16384 bytes"));
  get(p, &r);
  fake_fail(&fh, KEFO_ERR_CONNECT, "connect to 169.254.170.23:80 failed");
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CONNECT);
  CU_ASSERT(contains(r.message, "connect to 169.254.170.23:80 failed"));
  fh.fail_start = KEFO_ERR_NOMEM;
  get(p, &r);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_NOMEM);
  fh.fail_start = 0;

  /* A plain-http host that is not allowed. */
  env_set(&fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://192.168.1.1/c");
  get(p, &r);
  CU_ASSERT(contains(r.message, "allowed only for loopback"));

  /* Deleted in flight. */
  env_set(&fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1:1/c");
  get(p, &r);
  kefo__credentials_provider_del(p);
  CU_ASSERT_EQUAL(fh.cancelled, 1);
  CU_ASSERT_EQUAL(r.called, 0);
  fake_http_clear(&fh);
  scratch_free(&sc);
  env_free(&fe);
}

/* ---- IMDSv2 ---- */

/* Runs the three IMDS steps (or two with a cached token). */
static void imds_serve(fake_http *fh, int with_token, const char *akid,
                       int64_t exp) {
  char doc[2048];
  const fake_rec *rec;

  if (with_token) {
    rec = fake_last(fh);
    CU_ASSERT_STRING_EQUAL(rec->method, "PUT");
    CU_ASSERT_STRING_EQUAL(rec->path, "/latest/api/token");
    CU_ASSERT_STRING_EQUAL(
        rec_header(rec, "x-aws-ec2-metadata-token-ttl-seconds"), "21600");
    fake_respond(fh, 200, S_IMDS_TOKEN);
  }
  rec = fake_last(fh);
  CU_ASSERT_STRING_EQUAL(rec->method, "GET");
  CU_ASSERT_STRING_EQUAL(rec->path,
                         "/latest/meta-data/iam/security-credentials/");
  CU_ASSERT_STRING_EQUAL(rec_header(rec, "x-aws-ec2-metadata-token"),
                         S_IMDS_TOKEN);
  fake_respond(fh, 200, "my-instance-role\n");
  rec = fake_last(fh);
  CU_ASSERT_STRING_EQUAL(
      rec->path, "/latest/meta-data/iam/security-credentials/my-instance-role");
  CU_ASSERT_STRING_EQUAL(rec_header(rec, "x-aws-ec2-metadata-token"),
                         S_IMDS_TOKEN);
  json_doc(doc, sizeof(doc), akid, exp);
  fake_respond(fh, 200, doc);
}

static void test_imds(void) {
  kefo_credentials_provider *p = NULL;
  kefo_credentials_options o;
  fake_http fh;
  fake_env fe;
  result r;
  size_t n;

  memset(&fh, 0, sizeof(fh));
  env_init(&fe);
  opts_init(&o, &fe, &fh);
  fake_now = T0;
  CU_ASSERT_FATAL(kefo__credentials_imds_new(&p, &o) == 0);
  CU_ASSERT_STRING_EQUAL(p->name, "IMDSv2");

  get(p, &r);
  CU_ASSERT_STRING_EQUAL(fake_last(&fh)->url, "http://169.254.169.254");
  CU_ASSERT_EQUAL(fake_last(&fh)->timeout_ms, 1000);
  imds_serve(&fh, 1, "ASIAIMDS", T0 + 6 * 3600000);
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_EQUAL(r.error, 0);
  CU_ASSERT_STRING_EQUAL(r.akid, "ASIAIMDS");
  CU_ASSERT_EQUAL(r.exp, T0 + 6 * 3600000);

  /* The token is kept. */
  n = fh.nlog;
  get(p, &r);
  CU_ASSERT_EQUAL(fh.nlog, n + 1);
  imds_serve(&fh, 0, "ASIAIMDS2", T0 + 6 * 3600000);
  CU_ASSERT_STRING_EQUAL(r.akid, "ASIAIMDS2");

  /* A 401 asks for a new token once. */
  get(p, &r);
  fake_respond(&fh, 401, "");
  imds_serve(&fh, 1, "ASIAIMDS3", T0 + 6 * 3600000);
  CU_ASSERT_STRING_EQUAL(r.akid, "ASIAIMDS3");
  get(p, &r);
  fake_respond(&fh, 401, "");
  fake_respond(&fh, 200, S_IMDS_TOKEN);
  fake_respond(&fh, 401, "");
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CREDENTIALS);
  CU_ASSERT(contains(r.message, "IMDS returned HTTP 401 for role list"));

  /* The token expires with its TTL. */
  fake_now = T0 + 6 * 3600000;
  get(p, &r);
  imds_serve(&fh, 1, "ASIAIMDS4", T0 + 12 * 3600000);
  CU_ASSERT_STRING_EQUAL(r.akid, "ASIAIMDS4");

  /* Failures, each named. */
  get(p, &r);
  fake_respond(&fh, 404, "<html>Not Found</html>");
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CREDENTIALS);
  CU_ASSERT_EQUAL(r.http_status, 404);
  CU_ASSERT_STRING_EQUAL(r.message,
                         "IMDS returned HTTP 404 for role list (no instance "
                         "profile attached?) (at http://169.254.169.254)");
  get(p, &r);
  fake_respond(&fh, 200, "\n\n");
  CU_ASSERT(contains(r.message, "IMDS role list is empty"));
  get(p, &r);
  fake_respond(&fh, 200, "../../etc/passwd\n");
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_BAD_RESPONSE);
  get(p, &r);
  fake_respond(&fh, 200, "role-a\nrole-b\n");
  CU_ASSERT_STRING_EQUAL(fake_last(&fh)->path,
                         "/latest/meta-data/iam/security-credentials/role-a");
  fake_respond(&fh, 404, "");
  CU_ASSERT(contains(r.message, "IMDS returned HTTP 404 for credentials of "
                                "role 'role-a'"));
  get(p, &r);
  fake_respond(&fh, 200, "role-a");
  fake_respond(&fh, 200,
               "{\"Code\":\"AssumeRoleUnauthorizedAccess\",\"Message\":\"x\"}");
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT(contains(r.message, "IMDS credentials of role 'role-a': the "
                                "document's Code is "
                                "'AssumeRoleUnauthorizedAccess'"));
  get(p, &r);
  fake_fail(&fh, KEFO_ERR_TIMEOUT, "timed out");
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_TIMEOUT);
  CU_ASSERT(contains(r.message, "IMDS request for role list failed: timed "
                                "out"));
  kefo__credentials_provider_del(p);

  /* A fresh provider: token failures. */
  CU_ASSERT_FATAL(kefo__credentials_imds_new(&p, &o) == 0);
  get(p, &r);
  fake_respond(&fh, 403, "");
  CU_ASSERT(contains(r.message, "IMDS returned HTTP 403 for session token"));
  get(p, &r);
  fake_respond(&fh, 200, "bad token\n");
  CU_ASSERT(contains(r.message, "IMDS session token is empty or not "
                                "printable"));

  /* Settings from the environment. */
  env_set(&fe, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1338/");
  env_set(&fe, "AWS_METADATA_SERVICE_TIMEOUT", "3");
  get(p, &r);
  CU_ASSERT_STRING_EQUAL(fake_last(&fh)->url, "http://127.0.0.1:1338");
  CU_ASSERT_EQUAL(fake_last(&fh)->timeout_ms, 3000);
  fake_fail(&fh, KEFO_ERR_CONNECT, "refused");
  env_set(&fe, "AWS_METADATA_SERVICE_TIMEOUT", "soon");
  get(p, &r);
  CU_ASSERT(contains(r.message, "AWS_METADATA_SERVICE_TIMEOUT"));
  env_set(&fe, "AWS_METADATA_SERVICE_TIMEOUT", NULL);
  env_set(&fe, "AWS_EC2_METADATA_SERVICE_ENDPOINT", "169.254.169.254");
  get(p, &r);
  CU_ASSERT(contains(r.message, "AWS_EC2_METADATA_SERVICE_ENDPOINT is not"));
  env_set(&fe, "AWS_EC2_METADATA_SERVICE_ENDPOINT", NULL);
  env_set(&fe, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "ipv6");
  get(p, &r);
  CU_ASSERT_STRING_EQUAL(fake_last(&fh)->url, "http://[fd00:ec2::254]");
  fake_fail(&fh, KEFO_ERR_CONNECT, "refused");
  env_set(&fe, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", "IPv5");
  get(p, &r);
  CU_ASSERT(contains(r.message, "neither IPv4 nor IPv6"));
  env_set(&fe, "AWS_EC2_METADATA_DISABLED", "TRUE");
  n = fh.nlog;
  get(p, &r);
  CU_ASSERT_STRING_EQUAL(r.message, "disabled by AWS_EC2_METADATA_DISABLED");
  CU_ASSERT_EQUAL(fh.nlog, n);
  env_set(&fe, "AWS_EC2_METADATA_DISABLED", "false");
  env_set(&fe, "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE", NULL);
  get(p, &r);
  kefo__credentials_provider_del(p);
  CU_ASSERT_EQUAL(fh.cancelled, 1);
  CU_ASSERT_EQUAL(r.called, 0);

  /* No transport at all. */
  o.transport.request = NULL;
  CU_ASSERT_FATAL(kefo__credentials_imds_new(&p, &o) == 0);
  get(p, &r);
  CU_ASSERT_STRING_EQUAL(r.message, "no HTTP client");
  kefo__credentials_provider_del(p);
  fake_http_clear(&fh);
  env_free(&fe);
}

/* The cache over IMDS: a refresh before expiry, driven by the clock. */
static void test_refresh_before_expiry(void) {
  kefo_credentials_provider *imds = NULL, *cache = NULL;
  kefo_credentials_options o;
  fake_http fh;
  fake_env fe;
  result r;
  const int64_t hour = 3600000, minute = 60000;
  int64_t exp1 = T0 + hour;

  memset(&fh, 0, sizeof(fh));
  env_init(&fe);
  opts_init(&o, &fe, &fh);
  fake_now = T0;
  CU_ASSERT_FATAL(kefo__credentials_imds_new(&imds, &o) == 0);
  CU_ASSERT_FATAL(kefo__credentials_cache_new(&cache, &o, imds) == 0);
  get(cache, &r);
  imds_serve(&fh, 1, "ASIAFIRST", exp1);
  CU_ASSERT_STRING_EQUAL(r.akid, "ASIAFIRST");

  /* Ten minutes before expiry nothing happens. */
  fake_now = exp1 - 10 * minute;
  get(cache, &r);
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_EQUAL(fake_pending(&fh), 0);
  /* Four minutes before: answered from the cache at once, and IMDS is
     asked in the background. */
  fake_now = exp1 - 4 * minute;
  get(cache, &r);
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_STRING_EQUAL(r.akid, "ASIAFIRST");
  CU_ASSERT_EQUAL(fake_pending(&fh), 1);
  get(cache, &r);
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_EQUAL(fake_pending(&fh), 1);
  imds_serve(&fh, 0, "ASIASECOND", exp1 + hour);
  /* Before the first keys expire, gets have the new ones. */
  CU_ASSERT(fake_now < exp1);
  get(cache, &r);
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_STRING_EQUAL(r.akid, "ASIASECOND");
  CU_ASSERT_EQUAL(fake_pending(&fh), 0);
  kefo__credentials_provider_del(cache);
  fake_http_clear(&fh);
  env_free(&fe);
}

/* ---- The default chain ---- */

static void test_default_chain(void) {
  kefo_credentials_provider *p = NULL;
  profile_world w;
  result r;
  char doc[4096];

  world_init(&w);
  env_set(&w.fe, "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
  env_set(&w.fe, "AWS_CONFIG_FILE", "/nonexistent/config");

  /* Static keys come first when configured. */
  w.o.access_key_id = "AKIDCONFIGURED";
  w.o.secret_access_key = S_SECRET;
  env_set(&w.fe, "AWS_ACCESS_KEY_ID", "AKIDENV");
  env_set(&w.fe, "AWS_SECRET_ACCESS_KEY", S_SECRET);
  CU_ASSERT_FATAL(kefo__credentials_default_new(&p, &w.o) == 0);
  get(p, &r);
  CU_ASSERT_STRING_EQUAL(r.akid, "AKIDCONFIGURED");
  kefo__credentials_provider_del(p);
  w.o.access_key_id = w.o.secret_access_key = NULL;

  /* Then the environment. */
  CU_ASSERT_FATAL(kefo__credentials_default_chain_new(&p, &w.o) == 0);
  get(p, &r);
  CU_ASSERT_STRING_EQUAL(r.akid, "AKIDENV");
  kefo__credentials_provider_del(p);
  env_set(&w.fe, "AWS_ACCESS_KEY_ID", NULL);
  env_set(&w.fe, "AWS_SECRET_ACCESS_KEY", NULL);

  /* Nothing but IMDS answers. */
  CU_ASSERT_FATAL(kefo__credentials_default_chain_new(&p, &w.o) == 0);
  get(p, &r);
  CU_ASSERT_EQUAL(r.called, 0);
  imds_serve(&w.fh, 1, "ASIACHAIN", T0 + 3600000);
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_STRING_EQUAL(r.akid, "ASIACHAIN");
  /* Remembered: IMDS is asked straight away (token kept). */
  get(p, &r);
  CU_ASSERT_EQUAL(fake_pending(&w.fh), 1);
  CU_ASSERT_STRING_EQUAL(fake_last(&w.fh)->path,
                         "/latest/meta-data/iam/security-credentials/");
  fake_respond(&w.fh, 404, "");
  /* It failed: every provider's reason is listed. */
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CREDENTIALS);
  CU_ASSERT(contains(r.message, "no AWS credentials found: IMDSv2: IMDS "
                                "returned HTTP 404 for role list"));
  CU_ASSERT(contains(r.message, "environment: AWS_ACCESS_KEY_ID is not set"));
  CU_ASSERT(contains(r.message, "web identity: AWS_WEB_IDENTITY_TOKEN_FILE "
                                "and AWS_ROLE_ARN are not set"));
  CU_ASSERT(contains(r.message, "profile: profile 'default' not found in no "
                                "shared files"));
  CU_ASSERT(contains(r.message, "container: AWS_CONTAINER_CREDENTIALS_"
                                "RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_"
                                "FULL_URI are not set"));
  kefo__credentials_provider_del(p);

  /* Web identity from the environment comes before the profile. */
  env_set(&w.fe, "AWS_ROLE_ARN", "arn:aws:iam::1:role/web");
  env_set(&w.fe, "AWS_WEB_IDENTITY_TOKEN_FILE",
          scratch_file(&w.sc, "tok2", S_WEBID));
  env_set(&w.fe, "AWS_EC2_METADATA_DISABLED", "true");
  CU_ASSERT_FATAL(kefo__credentials_default_new(&p, &w.o) == 0);
  get(p, &r);
  CU_ASSERT(contains(fake_last(&w.fh)->body, "AssumeRoleWithWebIdentity"));
  sts_doc(doc, sizeof(doc), "AssumeRoleWithWebIdentity", "ASIAWEBCHAIN",
          T0 + 3600000);
  fake_respond(&w.fh, 200, doc);
  CU_ASSERT_STRING_EQUAL(r.akid, "ASIAWEBCHAIN");
  /* Cached. */
  get(p, &r);
  CU_ASSERT_EQUAL(r.called, 1);
  CU_ASSERT_EQUAL(fake_pending(&w.fh), 0);
  kefo__credentials_provider_del(p);

  /* A web identity failure falls through to the rest. */
  env_set(&w.fe, "AWS_WEB_IDENTITY_TOKEN_FILE", NULL);
  CU_ASSERT_FATAL(kefo__credentials_default_new(&p, &w.o) == 0);
  get(p, &r);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CREDENTIALS);
  CU_ASSERT(contains(r.message, "web identity: AWS_ROLE_ARN is set but "
                                "AWS_WEB_IDENTITY_TOKEN_FILE is not"));
  CU_ASSERT(contains(r.message, "IMDSv2: disabled by "
                                "AWS_EC2_METADATA_DISABLED"));
  kefo__credentials_provider_del(p);
  world_free(&w);
}

/* Every error path that quotes a server or a file: no secret leaks. */
static void test_no_secrets_in_errors(void) {
  kefo_credentials_provider *p = NULL;
  kefo_credentials_options o;
  fake_http fh;
  fake_env fe;
  scratch sc;
  result r;
  char doc[4096];
  size_t before = messages_checked;
  /* What each provider has seen, echoed back by a server. */
  static const char *const echoes[] = {
      "<ErrorResponse><Error><Code>X</Code><Message>" S_WEBID
      "</Message></Error></ErrorResponse>",
      "<ErrorResponse><Error><Code>" S_WEBID "</Code></Error></ErrorResponse>",
      NULL};
  static const char *const src_echoes[] = {
      "<ErrorResponse><Error><Code>X</Code><Message>" S_SRC_SECRET
      " " S_SRC_TOKEN "</Message></Error></ErrorResponse>",
      "<ErrorResponse><Error><Code>" S_SRC_TOKEN
      "</Code></Error></ErrorResponse>",
      NULL};
  size_t i;

  memset(&fh, 0, sizeof(fh));
  env_init(&fe);
  scratch_init(&sc);
  opts_init(&o, &fe, &fh);
  fake_now = T0;

  /* Web identity: STS echoing the token in the message and the code. */
  env_set(&fe, "AWS_ROLE_ARN", "arn:aws:iam::1:role/r");
  env_set(&fe, "AWS_WEB_IDENTITY_TOKEN_FILE", scratch_file(&sc, "t", S_WEBID));
  CU_ASSERT_FATAL(
      kefo__credentials_web_identity_new(&p, &o, NULL, NULL, NULL) == 0);
  for (i = 0; echoes[i] != NULL; ++i) {
    get(p, &r);
    fake_respond(&fh, 400, echoes[i]);
    CU_ASSERT_EQUAL(r.error, KEFO_ERR_AWS);
  }
  /* A 200 whose credentials cannot be used. */
  get(p, &r);
  fake_respond(&fh, 200,
               "<Credentials><AccessKeyId>bad id</AccessKeyId>"
               "<SecretAccessKey>" S_NEW_SECRET "</SecretAccessKey>"
               "<SessionToken>" S_NEW_TOKEN "</SessionToken><Expiration>"
               "2030-01-01T00:00:00Z</Expiration></Credentials>");
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CREDENTIALS);
  get(p, &r);
  fake_fail(&fh, KEFO_ERR_TLS, "certificate verify failed");
  kefo__credentials_provider_del(p);

  /* Assume role with a source whose keys STS echoes. */
  {
    kefo_credentials_provider *src = NULL;
    CU_ASSERT_FATAL(kefo__credentials_static_new(
                        &src, NULL, "AKIDSRC", S_SRC_SECRET, S_SRC_TOKEN) == 0);
    CU_ASSERT_FATAL(kefo__credentials_assume_role_new(&p, &o, src,
                                                      "arn:aws:iam::1:role/r",
                                                      "s1", NULL, 0) == 0);
    for (i = 0; src_echoes[i] != NULL; ++i) {
      get(p, &r);
      fake_respond(&fh, 403, src_echoes[i]);
      CU_ASSERT_EQUAL(r.error, KEFO_ERR_AWS);
    }
    get(p, &r);
    sts_doc(doc, sizeof(doc), "AssumeRole", "ASIA", T0 - 1);
    fake_respond(&fh, 200, "<Credentials>" S_NEW_SECRET "</Credentials>");
    kefo__credentials_provider_del(p);
  }

  /* Container: token in the response body and in a bad header value. */
  env_set(&fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI", "http://127.0.0.1/c");
  env_set(&fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN", S_CTOKEN);
  CU_ASSERT_FATAL(kefo__credentials_container_new(&p, &o) == 0);
  get(p, &r);
  fake_respond(&fh, 403, S_CTOKEN);
  get(p, &r);
  fake_respond(&fh, 200, "{\"AccessKeyId\":\"" S_CTOKEN "\"}");
  get(p, &r);
  fake_respond(&fh, 200,
               "{\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"" S_NEW_SECRET
               "\",\"Token\":\"" S_NEW_TOKEN "\",\"Expiration\":\"" S_CTOKEN
               "\"}");
  env_set(&fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN", S_CTOKEN "\n");
  get(p, &r);
  env_set(&fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
          scratch_file(&sc, "ct", S_CTOKEN "\x01"));
  get(p, &r);
  kefo__credentials_provider_del(p);

  /* IMDS: token and keys in bodies. */
  CU_ASSERT_FATAL(kefo__credentials_imds_new(&p, &o) == 0);
  get(p, &r);
  fake_respond(&fh, 200, S_IMDS_TOKEN);
  fake_respond(&fh, 200, S_IMDS_TOKEN "!");
  get(p, &r);
  fake_respond(&fh, 200, "role");
  fake_respond(&fh, 200,
               "{\"Code\":\"" S_IMDS_TOKEN "\",\"AccessKeyId\":\"A\"}");
  get(p, &r);
  fake_respond(&fh, 500, S_IMDS_TOKEN);
  kefo__credentials_provider_del(p);

  /* Environment and profile secrets that cannot be used. */
  env_set(&fe, "AWS_ACCESS_KEY_ID", S_SECRET);
  env_set(&fe, "AWS_SECRET_ACCESS_KEY", S_SECRET "\x7f");
  CU_ASSERT_FATAL(kefo__credentials_env_new(&p, &o) == 0);
  get(p, &r);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CREDENTIALS);
  kefo__credentials_provider_del(p);
  env_set(&fe, "AWS_CONFIG_FILE",
          scratch_file(&sc, "config",
                       "[default]\naws_secret_access_key = " S_SECRET
                       "\n" S_TOKEN "\n"));
  env_set(&fe, "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent");
  CU_ASSERT_FATAL(kefo__credentials_profile_new(&p, &o) == 0);
  get(p, &r);
  CU_ASSERT(contains(r.message, ":3: expected 'name = value'"));
  env_set(&fe, "AWS_CONFIG_FILE",
          scratch_file(&sc, "config",
                       "[default]\naws_access_key_id = " S_TOKEN " x\n"
                       "aws_secret_access_key = " S_SECRET "\n"));
  get(p, &r);
  CU_ASSERT_EQUAL(r.error, KEFO_ERR_CREDENTIALS);
  kefo__credentials_provider_del(p);

  /* Every message above went through assert_no_secret. */
  CU_ASSERT(messages_checked - before >= 18);
  fake_http_clear(&fh);
  scratch_free(&sc);
  env_free(&fe);
}

static void test_helpers(void) {
  char msg[] = "a " S_SECRET " b " S_SECRET;
  char short_msg[] = "key abc here";
  kefo_credentials c;
  kefo_credentials_copy cp;
  char err[256];

  kefo__credentials_redact(msg, S_SECRET);
  CU_ASSERT(strstr(msg, S_SECRET) == NULL);
  CU_ASSERT_EQUAL(strlen(msg), 5 + 2 * strlen(S_SECRET));
  kefo__credentials_redact(short_msg, "abc");
  CU_ASSERT_STRING_EQUAL(short_msg, "key abc here");
  kefo__credentials_redact(NULL, S_SECRET);
  kefo__credentials_redact(msg, NULL);

  memset(&c, 0, sizeof(c));
  CU_ASSERT_EQUAL(kefo__credentials_check(&c, err, sizeof(err)),
                  KEFO_ERR_CREDENTIALS);
  c.access_key_id = "AKID";
  CU_ASSERT_EQUAL(kefo__credentials_check(&c, err, sizeof(err)),
                  KEFO_ERR_CREDENTIALS);
  CU_ASSERT_STRING_EQUAL(err, "the secret access key is empty");
  c.secret_access_key = S_SECRET;
  CU_ASSERT_EQUAL(kefo__credentials_check(&c, err, sizeof(err)), 0);
  kefo__credentials_copy_init(&cp, NULL);
  CU_ASSERT_EQUAL(kefo__credentials_copy_set(&cp, &c), 0);
  c.session_token = "";
  CU_ASSERT_EQUAL(kefo__credentials_copy_set(&cp, &c), 0);
  CU_ASSERT(cp.creds.session_token == NULL);
  c.access_key_id = "";
  CU_ASSERT_EQUAL(kefo__credentials_copy_set(&cp, &c),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_STRING_EQUAL(cp.creds.access_key_id, "AKID");
  kefo__credentials_copy_free(&cp);
  CU_ASSERT(cp.creds.access_key_id == NULL);
}

int kefo_add_credentials_suite(void) {
  CU_pSuite s = CU_add_suite("credentials", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "static", test_static) ||
      !CU_add_test(s, "env", test_env) ||
      !CU_add_test(s, "failmalloc_static_env", test_failmalloc_static_env) ||
      !CU_add_test(s, "helpers", test_helpers) ||
      !CU_add_test(s, "parse_time", test_parse_time) ||
      !CU_add_test(s, "parse_json", test_parse_json) ||
      !CU_add_test(s, "sts_body", test_sts_body) ||
      !CU_add_test(s, "sts_parse", test_sts_parse) ||
      !CU_add_test(s, "cache_refresh", test_cache_refresh) ||
      !CU_add_test(s, "cache_failures", test_cache_failures) ||
      !CU_add_test(s, "cache_invalidate", test_cache_invalidate) ||
      !CU_add_test(s, "cache_delete_in_callback",
                   test_cache_delete_in_callback) ||
      !CU_add_test(s, "chain", test_chain) ||
      !CU_add_test(s, "web_identity_env", test_web_identity_env) ||
      !CU_add_test(s, "profile_static", test_profile_static) ||
      !CU_add_test(s, "profile_assume_role", test_profile_assume_role) ||
      !CU_add_test(s, "container_endpoint", test_container_endpoint) ||
      !CU_add_test(s, "container", test_container) ||
      !CU_add_test(s, "imds", test_imds) ||
      !CU_add_test(s, "refresh_before_expiry", test_refresh_before_expiry) ||
      !CU_add_test(s, "default_chain", test_default_chain) ||
      !CU_add_test(s, "no_secrets_in_errors", test_no_secrets_in_errors)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
