/*
 * The network credential providers against fake STS, IMDS and container
 * endpoints (tests/support/harness/fake_aws_servers.js, started on loopback by
 * tests/integration/credentials_servers_test.sh) through the real HTTP/1.1
 * client: IMDSv2's token dance, the container token, web identity, a
 * SigV4-signed AssumeRole the server verifies, and the cache refreshing in the
 * background before expiry while gets keep being answered at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <event2/event.h>

#include "aws/credentials.h"
#include "aws/http.h"

static int checks, failures;

#define CHECK(cond)                                                            \
  do {                                                                         \
    ++checks;                                                                  \
    if (!(cond)) {                                                             \
      ++failures;                                                              \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
    }                                                                          \
  } while (0)

/* Secrets known to the servers: never in a message. */
static const char *const secrets[] = {"ContainerAuthTOKENsecret123",
                                      "eyJhbGciWEBIDENTITYtokenSecretPayload",
                                      "SourceSECRETkeyVALUEforSigning1",
                                      "WrongSECRETkeyVALUEforSigning",
                                      "ImdsSecret",
                                      "ImdsToken",
                                      "IMDSTOKEN",
                                      "TemporarySecret",
                                      "TemporaryToken",
                                      "ContainerSecret",
                                      NULL};

static struct event_base *base;
static kefo_http_client *client;
static int sts_port, imds_port, container_port;
static char tmpdir[512];

static int64_t now_ms(void) {
  return kefo__clock_system()->wall_ms(NULL);
}

/* ---- Environment ---- */

#define ENV_MAX 16

typedef struct fake_env {
  kefo_env env;
  const char *names[ENV_MAX];
  char values[ENV_MAX][600];
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

  for (i = 0; i < fe->n && strcmp(fe->names[i], name) != 0; ++i) {
  }
  if (i == fe->n && fe->n < ENV_MAX) {
    fe->names[fe->n++] = name;
  }
  snprintf(fe->values[i], sizeof(fe->values[i]), "%s", value);
}

/* ---- Running the loop ---- */

static void on_loop_timer(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  *(int *)arg = 1;
  event_base_loopbreak(base);
}

/* Runs the loop until |*done| or |ms| pass; returns 0 when done. */
static int run_until(const int *done, int ms) {
  int expired = 0;
  struct event *t = evtimer_new(base, on_loop_timer, &expired);
  struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

  evtimer_add(t, &tv);
  while ((done == NULL || !*done) && !expired) {
    event_base_loop(base, EVLOOP_ONCE);
  }
  event_free(t);
  return done != NULL && *done ? 0 : -1;
}

static void run_for(int ms) {
  run_until(NULL, ms);
}

/* ---- Results ---- */

typedef struct result {
  int done;
  int error;
  char akid[160];
  char secret[300];
  char token[2048];
  int64_t exp;
  char message[4096];
  char aws_type[128];
} result;

static void check_secretless(const char *s) {
  size_t i;

  for (i = 0; s != NULL && secrets[i] != NULL; ++i) {
    if (strstr(s, secrets[i]) != NULL) {
      fprintf(stderr, "secret %s in: %s\n", secrets[i], s);
    }
    CHECK(strstr(s, secrets[i]) == NULL);
  }
}

static void on_creds(int error, const kefo_credentials *c,
                     const kefo_error_info *info, void *ud) {
  result *r = ud;

  r->done = 1;
  r->error = error;
  if (error == 0) {
    snprintf(r->akid, sizeof(r->akid), "%s", c->access_key_id);
    snprintf(r->secret, sizeof(r->secret), "%s", c->secret_access_key);
    snprintf(r->token, sizeof(r->token), "%s",
             c->session_token ? c->session_token : "");
    r->exp = c->expiration_ms;
  } else {
    snprintf(r->message, sizeof(r->message), "%s", info->message);
    snprintf(r->aws_type, sizeof(r->aws_type), "%s",
             info->aws_type ? info->aws_type : "");
    check_secretless(info->message);
    check_secretless(info->aws_type);
    fprintf(stderr, "  (expected error: %s)\n", info->message);
  }
}

/* Starts a get; |*sync| tells whether it was answered inside the call. */
static void start_get(kefo_credentials_provider *p, result *r, int *sync) {
  memset(r, 0, sizeof(*r));
  CHECK(kefo__credentials_provider_get(p, on_creds, r) == 0);
  if (sync != NULL) {
    *sync = r->done;
  }
}

static void get_wait(kefo_credentials_provider *p, result *r) {
  start_get(p, r, NULL);
  CHECK(run_until(&r->done, 10000) == 0);
}

/* ---- Talking to the servers' control API ---- */

typedef struct call {
  int done;
  int error;
  int status;
  char body[4096];
  size_t len;
} call;

static int call_response(kefo_http_stream *s, int status,
                         const kefo_http_header *h, size_t n, void *ud) {
  (void)s;
  (void)h;
  (void)n;
  ((call *)ud)->status = status;
  return 0;
}

static int call_data(kefo_http_stream *s, const uint8_t *data, size_t len,
                     void *ud) {
  call *c = ud;

  (void)s;
  if (len > sizeof(c->body) - 1 - c->len) {
    return 1;
  }
  memcpy(c->body + c->len, data, len);
  c->len += len;
  c->body[c->len] = '\0';
  return 0;
}

static void call_close(kefo_http_stream *s, int error,
                       const kefo_error_info *info, void *ud) {
  call *c = ud;

  (void)s;
  (void)info;
  c->error = error;
  c->done = 1;
}

static int http_call(int port, const char *method, const char *path,
                     const char *body, call *c) {
  static const kefo_http_callbacks cbs = {call_response, call_data, call_close,
                                          NULL};
  kefo_http_header h = {"content-type", "application/json"};
  kefo_http_request req;
  kefo_endpoint ep;
  char url[64];

  memset(c, 0, sizeof(*c));
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
  if (kefo__endpoint_parse(&ep, url) != 0) {
    return -1;
  }
  memset(&req, 0, sizeof(req));
  req.endpoint = &ep;
  req.version = KEFO_HTTP_1_1;
  req.method = method;
  req.path = path;
  req.headers = &h;
  req.nheaders = body ? 1 : 0;
  req.body = (const uint8_t *)body;
  req.body_len = body ? strlen(body) : 0;
  if (kefo__http_client_request(client, &req, &cbs, c, NULL) != 0 ||
      run_until(&c->done, 10000) != 0 || c->error != 0 || c->status != 200) {
    fprintf(stderr, "control call %s %s failed\n", method, path);
    return -1;
  }
  return 0;
}

static void configure(const char *json) {
  call c;

  CHECK(http_call(sts_port, "POST", "/__config", json, &c) == 0);
}

static long stat_of(const char *kind) {
  call c;
  cJSON *j, *v;
  long n = -1;

  if (http_call(sts_port, "GET", "/__stats", NULL, &c) != 0) {
    return -1;
  }
  j = cJSON_Parse(c.body);
  v = cJSON_GetObjectItemCaseSensitive(j, kind);
  n = cJSON_IsNumber(v) ? (long)v->valuedouble : 0;
  cJSON_Delete(j);
  return n;
}

/* ---- Scenarios ---- */

static void opts_init(kefo_credentials_options *o, fake_env *fe) {
  kefo__credentials_options_init(o);
  o->env = &fe->env;
  kefo__credentials_transport_client(&o->transport, client);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");

  CHECK(f != NULL);
  if (f != NULL) {
    fputs(text, f);
    fclose(f);
  }
}

/* A loopback port nobody listens on. */
static int closed_port(void) {
  struct sockaddr_in sa;
  socklen_t len = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port;

  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
      getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
    return 1;
  }
  port = ntohs(sa.sin_port);
  close(fd);
  return port;
}

static void test_imds(void) {
  kefo_credentials_options o;
  kefo_credentials_provider *p = NULL;
  fake_env fe;
  result r;
  char url[64];
  long tokens;

  fprintf(stderr, "imds\n");
  env_init(&fe);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", imds_port);
  env_set(&fe, "AWS_EC2_METADATA_SERVICE_ENDPOINT", url);
  opts_init(&o, &fe);
  CHECK(kefo__credentials_imds_new(&p, &o) == 0);
  tokens = stat_of("imds_token");
  get_wait(p, &r);
  CHECK(r.error == 0);
  CHECK(strncmp(r.akid, "ASIAIMDS", 8) == 0);
  CHECK(strncmp(r.secret, "ImdsSecret", 10) == 0);
  CHECK(strncmp(r.token, "ImdsToken", 9) == 0);
  CHECK(r.exp > now_ms() + 3500 * 1000 && r.exp < now_ms() + 3700 * 1000);
  CHECK(stat_of("imds_token") == tokens + 1);
  /* The token is reused. */
  get_wait(p, &r);
  CHECK(r.error == 0);
  CHECK(stat_of("imds_token") == tokens + 1);

  configure("{\"imds_role_status\":404}");
  get_wait(p, &r);
  CHECK(r.error == KEFO_ERR_CREDENTIALS);
  CHECK(strstr(r.message, "IMDS returned HTTP 404 for role list") != NULL);
  configure("{\"imds_role_status\":200}");
  kefo__credentials_provider_del(p);

  /* Nobody listening. */
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
  env_set(&fe, "AWS_EC2_METADATA_SERVICE_ENDPOINT", url);
  CHECK(kefo__credentials_imds_new(&p, &o) == 0);
  get_wait(p, &r);
  CHECK(r.error != 0);
  CHECK(strstr(r.message, "IMDS request for session token failed") != NULL);
  kefo__credentials_provider_del(p);
}

static void test_container(void) {
  kefo_credentials_options o;
  kefo_credentials_provider *p = NULL;
  fake_env fe;
  result r;
  char url[128], path[600];

  fprintf(stderr, "container\n");
  env_init(&fe);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/credentials?a=b",
           container_port);
  env_set(&fe, "AWS_CONTAINER_CREDENTIALS_FULL_URI", url);
  snprintf(path, sizeof(path), "%s/eks-token", tmpdir);
  write_file(path, "ContainerAuthTOKENsecret123\n");
  env_set(&fe, "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", path);
  opts_init(&o, &fe);
  CHECK(kefo__credentials_container_new(&p, &o) == 0);
  get_wait(p, &r);
  CHECK(r.error == 0);
  CHECK(strncmp(r.akid, "ASIACONT", 8) == 0);
  CHECK(r.exp > now_ms());
  write_file(path, "ContainerAuthTOKENsecret123-rotated\n");
  get_wait(p, &r);
  CHECK(r.error == KEFO_ERR_CREDENTIALS);
  CHECK(strstr(r.message, "container endpoint returned HTTP 401") != NULL);
  kefo__credentials_provider_del(p);
}

static void test_web_identity(void) {
  kefo_credentials_options o;
  kefo_credentials_provider *p = NULL;
  fake_env fe;
  result r;
  char url[64], path[600];

  fprintf(stderr, "web identity\n");
  env_init(&fe);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", sts_port);
  env_set(&fe, "AWS_ENDPOINT_URL_STS", url);
  env_set(&fe, "AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/web");
  env_set(&fe, "AWS_ROLE_SESSION_NAME", "it-session");
  snprintf(path, sizeof(path), "%s/web-token", tmpdir);
  write_file(path, "eyJhbGciWEBIDENTITYtokenSecretPayload\n");
  env_set(&fe, "AWS_WEB_IDENTITY_TOKEN_FILE", path);
  opts_init(&o, &fe);
  CHECK(kefo__credentials_web_identity_new(&p, &o, NULL, NULL, NULL) == 0);
  get_wait(p, &r);
  CHECK(r.error == 0);
  CHECK(strncmp(r.akid, "ASIAWEB", 7) == 0);
  CHECK(strncmp(r.token, "TemporaryToken", 14) == 0);
  CHECK(strstr(r.token, "&more") != NULL);
  write_file(path, "eyJhbGciWEBIDENTITYtokenSecretPayload-expired");
  get_wait(p, &r);
  CHECK(r.error == KEFO_ERR_AWS);
  CHECK(strcmp(r.aws_type, "InvalidIdentityToken") == 0);
  kefo__credentials_provider_del(p);
}

static void test_profile_assume_role(void) {
  kefo_credentials_options o;
  kefo_credentials_provider *p = NULL;
  fake_env fe;
  result r;
  char url[64], config[600], creds[600];
  long signed_before = stat_of("sts_assume_role");

  fprintf(stderr, "profile assume role\n");
  env_init(&fe);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", sts_port);
  env_set(&fe, "AWS_ENDPOINT_URL_STS", url);
  snprintf(config, sizeof(config), "%s/config", tmpdir);
  snprintf(creds, sizeof(creds), "%s/credentials", tmpdir);
  write_file(config, "[profile reader]\n"
                     "role_arn = arn:aws:iam::123456789012:role/reader\n"
                     "source_profile = base\n"
                     "region = eu-west-1\n"
                     "[profile outer]\n"
                     "role_arn = arn:aws:iam::123456789012:role/outer\n"
                     "source_profile = reader\n");
  write_file(creds, "[base]\n"
                    "aws_access_key_id = AKIDSOURCE\n"
                    "aws_secret_access_key = SourceSECRETkeyVALUEforSigning1\n"
                    "[wrong]\n"
                    "aws_access_key_id = AKIDSOURCE\n"
                    "aws_secret_access_key = WrongSECRETkeyVALUEforSigning\n");
  env_set(&fe, "AWS_CONFIG_FILE", config);
  env_set(&fe, "AWS_SHARED_CREDENTIALS_FILE", creds);
  env_set(&fe, "AWS_PROFILE", "reader");
  opts_init(&o, &fe);
  CHECK(kefo__credentials_profile_new(&p, &o) == 0);
  get_wait(p, &r);
  CHECK(r.error == 0);
  CHECK(strncmp(r.akid, "ASIAROLE", 8) == 0);
  CHECK(stat_of("sts_assume_role") == signed_before + 1);
  kefo__credentials_provider_del(p);

  /* Two hops: the second AssumeRole is signed with the temporary keys
     and session token the first one returned. */
  env_set(&fe, "AWS_PROFILE", "outer");
  CHECK(kefo__credentials_profile_new(&p, &o) == 0);
  get_wait(p, &r);
  CHECK(r.error == 0);
  CHECK(strncmp(r.akid, "ASIAROLE", 8) == 0);
  CHECK(stat_of("sts_assume_role") == signed_before + 3);
  kefo__credentials_provider_del(p);

  write_file(config, "[profile reader]\n"
                     "role_arn = arn:aws:iam::123456789012:role/reader\n"
                     "source_profile = wrong\n");
  env_set(&fe, "AWS_PROFILE", "reader");
  CHECK(kefo__credentials_profile_new(&p, &o) == 0);
  get_wait(p, &r);
  CHECK(r.error == KEFO_ERR_AWS);
  CHECK(strcmp(r.aws_type, "SignatureDoesNotMatch") == 0);
  CHECK(strstr(r.message, "profile 'reader': STS AssumeRole for "
                          "arn:aws:iam::123456789012:role/reader") != NULL);
  kefo__credentials_provider_del(p);
}

/*
 * The default chain behind the cache, on the event loop with the system
 * clock: IMDS hands out 12-second credentials and answers each
 * credentials request after 2 s, so they arrive with 10 s to live. The
 * cache's timer starts a refresh by itself half way (4.5 to 5 s after
 * they arrive, with jitter); gets while it is in flight are answered at
 * once with the old keys, and once it lands (6.5 to 7 s), with the new
 * ones, before the old ones expire (10 s) or go stale (9 s).
 */
static void test_background_refresh(void) {
  kefo_credentials_options o;
  kefo_credentials_provider *p = NULL;
  fake_env fe;
  result r;
  char url[64], first[160];
  int64_t first_exp;
  long before;
  int sync;

  fprintf(stderr, "background refresh\n");
  env_init(&fe);
  snprintf(url, sizeof(url), "http://127.0.0.1:%d", imds_port);
  env_set(&fe, "AWS_EC2_METADATA_SERVICE_ENDPOINT", url);
  env_set(&fe, "AWS_METADATA_SERVICE_TIMEOUT", "5");
  env_set(&fe, "AWS_CONFIG_FILE", "/nonexistent/config");
  env_set(&fe, "AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials");
  opts_init(&o, &fe);
  o.base = base;
  configure("{\"lifetime_s\":12,\"imds_creds_delay_ms\":2000}");
  CHECK(kefo__credentials_default_new(&p, &o) == 0);
  before = stat_of("imds_creds");

  get_wait(p, &r);
  CHECK(r.error == 0);
  CHECK(strncmp(r.akid, "ASIAIMDS", 8) == 0);
  snprintf(first, sizeof(first), "%s", r.akid);
  first_exp = r.exp;
  CHECK(stat_of("imds_creds") == before + 1);

  /* No gets for 5.6 s: the timer alone has started the refresh, whose
     answer the server holds for 2 s. */
  run_for(5600);
  CHECK(stat_of("imds_creds") == before + 2);
  start_get(p, &r, &sync);
  CHECK(sync);
  CHECK(r.error == 0);
  CHECK(strcmp(r.akid, first) == 0);

  /* The refresh lands; the old keys have not expired yet. */
  run_for(2400);
  start_get(p, &r, &sync);
  CHECK(sync);
  CHECK(r.error == 0);
  CHECK(strncmp(r.akid, "ASIAIMDS", 8) == 0);
  CHECK(strcmp(r.akid, first) != 0);
  CHECK(now_ms() < first_exp);
  CHECK(r.exp > first_exp);
  CHECK(stat_of("imds_creds") == before + 2);
  kefo__credentials_provider_del(p);
  configure("{\"lifetime_s\":3600,\"imds_creds_delay_ms\":0}");

  /* The chain's message when IMDS says no. */
  configure("{\"imds_role_status\":404}");
  CHECK(kefo__credentials_default_new(&p, &o) == 0);
  get_wait(p, &r);
  CHECK(r.error == KEFO_ERR_CREDENTIALS);
  CHECK(strstr(r.message, "no AWS credentials found: environment: "
                          "AWS_ACCESS_KEY_ID is not set") != NULL);
  CHECK(strstr(r.message, "IMDSv2: IMDS returned HTTP 404 for role list") !=
        NULL);
  configure("{\"imds_role_status\":200}");
  kefo__credentials_provider_del(p);
}

static int port_env(const char *name) {
  const char *v = getenv(name);

  return v != NULL ? atoi(v) : 0;
}

int main(void) {
  const char *t = getenv("KEFO_TEST_TMP");

  sts_port = port_env("KEFO_FAKE_STS_PORT");
  imds_port = port_env("KEFO_FAKE_IMDS_PORT");
  container_port = port_env("KEFO_FAKE_CONTAINER_PORT");
  if (sts_port == 0 || imds_port == 0 || container_port == 0) {
    fprintf(stderr,
            "run me through tests/integration/credentials_servers_test.sh\n");
    return 77;
  }
  snprintf(tmpdir, sizeof(tmpdir), "%s", t ? t : "/tmp");
  base = event_base_new();
  if (base == NULL || kefo__http_client_new(&client, base, NULL) != 0) {
    fprintf(stderr, "cannot set up the event loop or the client\n");
    return 1;
  }
  test_imds();
  test_container();
  test_web_identity();
  test_profile_assume_role();
  test_background_refresh();
  kefo__http_client_del(client);
  event_base_free(base);
  printf("credentials_servers_test: %d checks, %d failed\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
