/*
 * SigV4 signer tests: every case of the AWS signing test suite (the v4
 * folder of aws-c-auth) step by step for header and query signing, then
 * bad input, allocation failure, key caching and secret leakage.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "aws/sigv4.h"
#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"
#include "tests/support/vectors.h"

#define SUITE_DIR "sigv4/v4"
/* A missing or partly copied vectors folder must fail, not pass. */
#define EXPECTED_CASES 38
#define MAX_HEADERS 32
#define MAX_PARAMS 64

/* 2015-08-30T12:36:00Z, the time of every case in the suite. */
#define SUITE_TIME INT64_C(1440938160)

/* A request.txt-style file cut in place: pointers into |text|. */
typedef struct parsed_request {
  uint8_t *text;
  size_t len;
  const char *method;
  const char *path;
  /* NULL when the target has no '?'. */
  const char *query;
  kefo_sigv4_header headers[MAX_HEADERS];
  size_t nheaders;
  const uint8_t *body;
  size_t bodylen;
} parsed_request;

/* One case's context.json, turned into signer parameters. */
typedef struct case_context {
  cJSON *json;
  kefo_sigv4_credentials creds;
  kefo_sigv4_params params;
  int sign_body;
} case_context;

static int read_case_file(const char *name, const char *file, uint8_t **data,
                          size_t *len) {
  char rel[512];

  snprintf(rel, sizeof(rel), SUITE_DIR "/%s/%s", name, file);
  return kefo_test_read_vector(rel, data, len);
}

/*
 * Parses "METHOD SP target SP HTTP/1.1", "Name:value" lines, then an
 * optional empty line and body. A line starting with whitespace continues
 * the previous value: its newline becomes a space (RFC 7230 obs-fold),
 * which the canonical form collapses anyway.
 */
static int parse_request(parsed_request *pr, uint8_t *text, size_t len) {
  char *s = (char *)text, *line, *next, *end, *sp, *q;
  size_t hdrend, i;

  memset(pr, 0, sizeof(*pr));
  pr->text = text;
  pr->len = len;
  end = strstr(s, "\n\n");
  if (end) {
    hdrend = (size_t)(end - s) + 1;
    pr->body = text + hdrend + 1;
    pr->bodylen = len - hdrend - 1;
  } else {
    hdrend = len;
  }
  for (i = 0; i + 1 < hdrend; ++i) {
    if (s[i] == '\n' && (s[i + 1] == ' ' || s[i + 1] == '\t')) {
      s[i] = ' ';
    }
  }
  s[hdrend > 0 ? hdrend - 1 : 0] = '\0';

  line = s;
  next = strchr(line, '\n');
  if (next) {
    *next++ = '\0';
  }
  sp = strchr(line, ' ');
  end = strstr(line, " HTTP/1.1");
  if (sp == NULL || end == NULL || end < sp) {
    return -1;
  }
  /* The path may hold spaces: it runs up to the last " HTTP/1.1". */
  while ((q = strstr(end + 1, " HTTP/1.1")) != NULL) {
    end = q;
  }
  *sp = '\0';
  *end = '\0';
  pr->method = line;
  pr->path = sp + 1;
  q = strchr(sp + 1, '?');
  if (q) {
    *q = '\0';
    pr->query = q + 1;
  }
  for (line = next; line && *line != '\0'; line = next) {
    char *colon;
    kefo_sigv4_header *h;

    next = strchr(line, '\n');
    if (next) {
      *next++ = '\0';
    }
    colon = strchr(line, ':');
    if (colon == NULL || pr->nheaders == MAX_HEADERS) {
      return -1;
    }
    h = &pr->headers[pr->nheaders++];
    h->name = line;
    h->namelen = (size_t)(colon - line);
    h->value = colon + 1;
    h->valuelen = strlen(colon + 1);
  }
  return 0;
}

static int64_t epoch_from_civil(int y, int mo, int d, int h, int mi, int s) {
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int64_t days = 0;
  int i;

  /* Deliberately naive, to check the signer's arithmetic against. */
  for (i = 1970; i < y; ++i) {
    days += (i % 4 == 0 && (i % 100 != 0 || i % 400 == 0)) ? 366 : 365;
  }
  for (i = 1; i < mo; ++i) {
    days +=
        mdays[i - 1] + (i == 2 && y % 4 == 0 && (y % 100 != 0 || y % 400 == 0));
  }
  days += d - 1;
  return days * 86400 + h * 3600 + mi * 60 + s;
}

static const char *json_string(const cJSON *obj, const char *key) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);

  return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int json_bool(const cJSON *obj, const char *key) {
  return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(obj, key));
}

static int load_context(case_context *cc, const char *name,
                        kefo_sigv4_mode mode) {
  char rel[512];
  const cJSON *creds, *exp;
  const char *ts;
  int y, mo, d, h, mi, s;

  memset(cc, 0, sizeof(*cc));
  snprintf(rel, sizeof(rel), SUITE_DIR "/%s/context.json", name);
  cc->json = kefo_test_read_vector_json(rel);
  if (cc->json == NULL) {
    return -1;
  }
  creds = cJSON_GetObjectItemCaseSensitive(cc->json, "credentials");
  cc->creds.access_key_id = json_string(creds, "access_key_id");
  cc->creds.secret_access_key = json_string(creds, "secret_access_key");
  cc->creds.session_token = json_string(creds, "token");
  cc->params.credentials = &cc->creds;
  cc->params.region = json_string(cc->json, "region");
  cc->params.service = json_string(cc->json, "service");
  ts = json_string(cc->json, "timestamp");
  if (ts == NULL ||
      sscanf(ts, "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &s) != 6) {
    return -1;
  }
  cc->params.time = epoch_from_civil(y, mo, d, h, mi, s);
  if (!json_bool(cc->json, "normalize")) {
    cc->params.flags |= KEFO_SIGV4_FLAG_NO_NORMALIZE_PATH;
  }
  if (json_bool(cc->json, "omit_session_token")) {
    cc->params.flags |= KEFO_SIGV4_FLAG_OMIT_SESSION_TOKEN;
  }
  cc->sign_body = json_bool(cc->json, "sign_body");
  if (cc->sign_body) {
    cc->params.flags |= KEFO_SIGV4_FLAG_CONTENT_SHA256;
  }
  exp = cJSON_GetObjectItemCaseSensitive(cc->json, "expiration_in_seconds");
  cc->params.expires = cJSON_IsNumber(exp) ? (uint32_t)exp->valueint : 0;
  cc->params.mode = mode;
  return 0;
}

static int same_bytes(const char *name, const char *what, const uint8_t *want,
                      size_t wantlen, const uint8_t *got, size_t gotlen) {
  if (wantlen == gotlen && memcmp(want, got, gotlen) == 0) {
    return 1;
  }
  fprintf(stderr, "sigv4 %s: %s differs\n--- expected\n%.*s\n--- got\n%.*s\n",
          name, what, (int)wantlen, (const char *)want, (int)gotlen,
          (const char *)got);
  return 0;
}

static int name_is(const kefo_sigv4_header *h, const kefo_sigv4_header *o) {
  size_t i;

  if (h->namelen != o->namelen) {
    return 0;
  }
  for (i = 0; i < h->namelen; ++i) {
    char a = h->name[i], b = o->name[i];
    if (a >= 'A' && a <= 'Z') {
      a = (char)(a | 0x20);
    }
    if (b >= 'A' && b <= 'Z') {
      b = (char)(b | 0x20);
    }
    if (a != b) {
      return 0;
    }
  }
  return 1;
}

static int value_is(const kefo_sigv4_header *h, const kefo_sigv4_header *o) {
  return h->valuelen == o->valuelen &&
         memcmp(h->value, o->value, h->valuelen) == 0;
}

/*
 * The headers of |signed_req| that |req| lacks must be exactly the ones
 * the signer added: names case-insensitive, values exact, order free.
 */
static int same_added_headers(const char *name, const parsed_request *req,
                              const parsed_request *signed_req,
                              const kefo_sigv4_result *res) {
  int used_req[MAX_HEADERS] = {0};
  int used_res[KEFO_SIGV4_MAX_ADDED_HEADERS] = {0};
  size_t i, j, added = 0;

  for (i = 0; i < signed_req->nheaders; ++i) {
    const kefo_sigv4_header *h = &signed_req->headers[i];
    int found = 0;

    for (j = 0; j < req->nheaders && !found; ++j) {
      if (!used_req[j] && name_is(h, &req->headers[j]) &&
          value_is(h, &req->headers[j])) {
        used_req[j] = found = 1;
      }
    }
    if (found) {
      continue;
    }
    ++added;
    for (j = 0; j < res->nheaders && !found; ++j) {
      if (!used_res[j] && name_is(h, &res->headers[j]) &&
          value_is(h, &res->headers[j])) {
        used_res[j] = found = 1;
      }
    }
    if (!found) {
      fprintf(stderr, "sigv4 %s: expected added header %.*s:%.*s not added\n",
              name, (int)h->namelen, h->name, (int)h->valuelen, h->value);
      return 0;
    }
  }
  if (added != res->nheaders) {
    fprintf(stderr, "sigv4 %s: %zu headers added, expected %zu\n", name,
            res->nheaders, added);
    return 0;
  }
  return 1;
}

static char *copy_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = malloc(n);

  return p ? memcpy(p, s, n) : NULL;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Splits a copy of |q| on '&' into |v|, sorted. Returns the count. */
static size_t split_params(char *q, char **v) {
  size_t n = 0;
  char *p = q, *amp;

  while (p && *p != '\0' && n < MAX_PARAMS) {
    amp = strchr(p, '&');
    if (amp) {
      *amp = '\0';
    }
    v[n++] = p;
    p = amp ? amp + 1 : NULL;
  }
  qsort(v, n, sizeof(*v), cmp_str);
  return n;
}

/* The query of |signed_req| and the one the signer produced, as sets. */
static int same_query_params(const char *name, const parsed_request *signed_req,
                             const kefo_sigv4_result *res) {
  char *want_copy, *got_copy;
  char *want[MAX_PARAMS], *got[MAX_PARAMS];
  size_t nwant, ngot, i;
  int ok;

  if (signed_req->query == NULL || res->query == NULL) {
    fprintf(stderr, "sigv4 %s: no signed query\n", name);
    return 0;
  }
  want_copy = copy_str(signed_req->query);
  got_copy = copy_str(res->query);
  CU_ASSERT_FATAL(want_copy != NULL && got_copy != NULL);
  nwant = split_params(want_copy, want);
  ngot = split_params(got_copy, got);
  ok = nwant == ngot;
  for (i = 0; ok && i < nwant; ++i) {
    ok = strcmp(want[i], got[i]) == 0;
  }
  if (!ok) {
    fprintf(stderr,
            "sigv4 %s: signed query differs\n--- expected\n%s\n"
            "--- got\n%s\n",
            name, signed_req->query, res->query);
  }
  free(want_copy);
  free(got_copy);
  return ok;
}

/* Runs one case folder; returns 1 when every step matches. */
static int run_case(const char *name, kefo_sigv4_mode mode) {
  const char *prefix = mode == KEFO_SIGV4_HEADERS ? "header" : "query";
  char file[64], sig[KEFO_SIGV4_HEX_LEN + 1];
  uint8_t *reqtext = NULL, *signedtext = NULL, *creq = NULL, *sts = NULL;
  uint8_t *sigtext = NULL;
  size_t reqlen, signedlen, creqlen, stslen, siglen;
  parsed_request req, signed_req;
  case_context cc;
  kefo_sigv4_request sreq;
  kefo_sigv4_key key;
  kefo_sigv4_result res;
  kefo_buf got_creq, got_sts;
  int ok = 0;

  kefo__buf_init(&got_creq, NULL);
  kefo__buf_init(&got_sts, NULL);
  kefo__sigv4_key_init(&key);
  memset(&res, 0, sizeof(res));
  kefo__buf_init(&res.storage, NULL);

  if (load_context(&cc, name, mode) != 0 ||
      read_case_file(name, "request.txt", &reqtext, &reqlen) != 0) {
    fprintf(stderr, "sigv4 %s: cannot load the case\n", name);
    goto done;
  }
  snprintf(file, sizeof(file), "%s-signed-request.txt", prefix);
  if (read_case_file(name, file, &signedtext, &signedlen) != 0) {
    goto done;
  }
  snprintf(file, sizeof(file), "%s-canonical-request.txt", prefix);
  if (read_case_file(name, file, &creq, &creqlen) != 0) {
    goto done;
  }
  snprintf(file, sizeof(file), "%s-string-to-sign.txt", prefix);
  if (read_case_file(name, file, &sts, &stslen) != 0) {
    goto done;
  }
  snprintf(file, sizeof(file), "%s-signature.txt", prefix);
  if (read_case_file(name, file, &sigtext, &siglen) != 0) {
    goto done;
  }
  if (parse_request(&req, reqtext, reqlen) != 0 ||
      parse_request(&signed_req, signedtext, signedlen) != 0) {
    fprintf(stderr, "sigv4 %s: cannot parse the request files\n", name);
    goto done;
  }

  memset(&sreq, 0, sizeof(sreq));
  sreq.method = req.method;
  sreq.path = req.path;
  sreq.query = req.query;
  sreq.headers = req.headers;
  sreq.nheaders = req.nheaders;
  if (cc.sign_body) {
    sreq.body = req.body;
    sreq.bodylen = req.bodylen;
  }

  /* Each step on its own, then the whole. */
  if (kefo__sigv4_canonical_request(&got_creq, &sreq, &cc.params) != 0 ||
      !same_bytes(name, "canonical request", creq, creqlen, got_creq.data,
                  got_creq.len)) {
    goto done;
  }
  if (kefo__sigv4_string_to_sign(&got_sts, got_creq.data, got_creq.len,
                                 &cc.params) != 0 ||
      !same_bytes(name, "string to sign", sts, stslen, got_sts.data,
                  got_sts.len)) {
    goto done;
  }
  if (kefo__sigv4_signing_key(&key, &cc.params) != 0 ||
      kefo__sigv4_signature(sig, sizeof(sig), &key, got_sts.data,
                            got_sts.len) != 0 ||
      !same_bytes(name, "signature", sigtext, siglen, (const uint8_t *)sig,
                  strlen(sig))) {
    goto done;
  }
  if (kefo__sigv4_sign(&res, &sreq, &cc.params, NULL, NULL) != 0 ||
      !same_bytes(name, "signature of kefo__sigv4_sign", sigtext, siglen,
                  (const uint8_t *)res.signature, strlen(res.signature))) {
    goto done;
  }
  if (mode == KEFO_SIGV4_HEADERS) {
    ok = res.query == NULL && same_added_headers(name, &req, &signed_req, &res);
  } else {
    /* Query signing adds no header; the original ones stay as they are. */
    ok = res.nheaders == 0 && signed_req.nheaders == req.nheaders &&
         same_query_params(name, &signed_req, &res);
  }

done:
  kefo__sigv4_result_free(&res);
  kefo__sigv4_key_free(&key);
  kefo__buf_free(&got_creq);
  kefo__buf_free(&got_sts);
  free(reqtext);
  free(signedtext);
  free(creq);
  free(sts);
  free(sigtext);
  cJSON_Delete(cc.json);
  return ok;
}

static void run_suite(kefo_sigv4_mode mode, const char *what) {
  char **names;
  size_t n, i, passed = 0;

  n = kefo_test_list_vectors(SUITE_DIR, &names);
  for (i = 0; i < n; ++i) {
    int ok = run_case(names[i], mode);
    CU_ASSERT(ok);
    passed += (size_t)ok;
  }
  printf("\nsigv4: %zu/%d %s cases passed", passed, EXPECTED_CASES, what);
  if (n != EXPECTED_CASES) {
    printf(" (%zu case folders found in %s/" SUITE_DIR ")", n,
           kefo_test_vectors_dir());
  }
  printf("\n");
  fflush(stdout);
  CU_ASSERT_EQUAL(n, EXPECTED_CASES);
  CU_ASSERT_EQUAL(passed, EXPECTED_CASES);
  kefo_test_free_list(names, n);
}

static void test_header_vectors(void) {
  run_suite(KEFO_SIGV4_HEADERS, "header-signing");
}

static void test_query_vectors(void) {
  run_suite(KEFO_SIGV4_QUERY, "query-signing");
}

/* A small valid request to break one field at a time. */
typedef struct fixture {
  kefo_sigv4_header headers[3];
  kefo_sigv4_request req;
  kefo_sigv4_credentials creds;
  kefo_sigv4_params params;
} fixture;

static void set_header(kefo_sigv4_header *h, const char *name,
                       const char *value) {
  h->name = name;
  h->namelen = strlen(name);
  h->value = value;
  h->valuelen = strlen(value);
}

static void fixture_init(fixture *f) {
  memset(f, 0, sizeof(*f));
  set_header(&f->headers[0], "Host", "kinesis.us-east-1.amazonaws.com");
  set_header(&f->headers[1], "Content-Type", "application/x-amz-json-1.1");
  set_header(&f->headers[2], "X-Amz-Target",
             "Kinesis_20131202.SubscribeToShard");
  f->req.method = "POST";
  f->req.path = "/";
  f->req.headers = f->headers;
  f->req.nheaders = 3;
  f->req.body = (const uint8_t *)"{}";
  f->req.bodylen = 2;
  f->creds.access_key_id = "AKIDEXAMPLE";
  f->creds.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  f->creds.session_token = "FwoGZXIvYXdzEJr//////////wEaDOEXAMPLETOKEN==";
  f->params.credentials = &f->creds;
  f->params.region = "us-east-1";
  f->params.service = "kinesis";
  f->params.time = SUITE_TIME;
  f->params.flags = KEFO_SIGV4_FLAG_CONTENT_SHA256;
  f->params.mode = KEFO_SIGV4_HEADERS;
  f->params.expires = 300;
}

/* Signs; on error, also checks that the result is left empty. */
static int fixture_sign(const fixture *f) {
  kefo_sigv4_result res;
  int rv = kefo__sigv4_sign(&res, &f->req, &f->params, NULL, NULL);

  if (rv != 0) {
    CU_ASSERT_EQUAL(res.nheaders, 0);
    CU_ASSERT_PTR_NULL(res.query);
    CU_ASSERT_PTR_NULL(res.storage.data);
  }
  kefo__sigv4_result_free(&res);
  return rv;
}

static void test_bad_input(void) {
  fixture f;
  kefo_sigv4_result res;
  kefo_sigv4_key key;
  kefo_buf b;
  char out[KEFO_SIGV4_HEX_LEN + 1];

  fixture_init(&f);
  CU_ASSERT_EQUAL(fixture_sign(&f), 0);
  f.params.mode = KEFO_SIGV4_QUERY;
  CU_ASSERT_EQUAL(fixture_sign(&f), 0);

  /* NULL pointers. */
  fixture_init(&f);
  CU_ASSERT_EQUAL(kefo__sigv4_sign(NULL, &f.req, &f.params, NULL, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__sigv4_sign(&res, NULL, &f.params, NULL, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  kefo__sigv4_result_free(&res);
  CU_ASSERT_EQUAL(kefo__sigv4_sign(&res, &f.req, NULL, NULL, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  kefo__sigv4_result_free(&res);
  f.req.method = NULL;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  fixture_init(&f);
  f.req.path = NULL;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  fixture_init(&f);
  f.req.headers = NULL;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  fixture_init(&f);
  f.headers[1].name = NULL;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  fixture_init(&f);
  f.headers[1].value = NULL;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  fixture_init(&f);
  f.req.body = NULL;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  fixture_init(&f);
  f.params.credentials = NULL;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  fixture_init(&f);
  f.creds.secret_access_key = NULL;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  fixture_init(&f);
  f.params.region = NULL;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);

  /* A NULL value is fine when its length is 0. */
  fixture_init(&f);
  f.headers[1].value = NULL;
  f.headers[1].valuelen = 0;
  CU_ASSERT_EQUAL(fixture_sign(&f), 0);

  /* Credentials and scope that would corrupt Credential= or the scope. */
  fixture_init(&f);
  f.creds.access_key_id = "";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  f.creds.access_key_id = "AKID/EXAMPLE";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  fixture_init(&f);
  f.creds.secret_access_key = "";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  fixture_init(&f);
  f.creds.session_token = "tok\r\nX-Evil: 1";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  fixture_init(&f);
  f.params.region = "us-east-1/x";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  f.params.region = "";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  fixture_init(&f);
  f.params.service = "kine sis";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  f.params.service =
      "0123456789012345678901234567890123456789012345678901234567"
      "890123";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);

  /* Time, options. */
  fixture_init(&f);
  f.params.time = -1;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  f.params.time = KEFO_SIGV4_MAX_TIME + 1;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  fixture_init(&f);
  f.params.flags = 0x80;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  fixture_init(&f);
  f.params.mode = (kefo_sigv4_mode)7;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  fixture_init(&f);
  f.params.mode = KEFO_SIGV4_QUERY;
  f.params.expires = 0;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  f.params.expires = KEFO_SIGV4_MAX_EXPIRES + 1;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_INVALID_ARGUMENT);
  f.params.expires = KEFO_SIGV4_MAX_EXPIRES;
  CU_ASSERT_EQUAL(fixture_sign(&f), 0);
  /* Header signing ignores expires. */
  f.params.mode = KEFO_SIGV4_HEADERS;
  f.params.expires = 0;
  CU_ASSERT_EQUAL(fixture_sign(&f), 0);

  /* Requests that cannot be signed as given. */
  fixture_init(&f);
  f.req.path = "example";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  f.req.path = "";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  f.req.path = "/a\nb";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  fixture_init(&f);
  f.req.method = "";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  f.req.method = "GET /";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  fixture_init(&f);
  f.req.query = "a=b\r\nc=d";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  fixture_init(&f);
  set_header(&f.headers[1], "Bad:Name", "x");
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  set_header(&f.headers[1], ":authority", "x");
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  set_header(&f.headers[1], "Bad\x01Name", "x");
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  set_header(&f.headers[1], "Bad Name", "x");
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  set_header(&f.headers[1], "", "x");
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  set_header(&f.headers[1], "X-Bad", "a\r\nX-Injected: 1");
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  set_header(&f.headers[1], "X-Bad", "a\x7f");
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  f.headers[1].value = "a\0b";
  f.headers[1].valuelen = 3;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  /* Tabs are whitespace, and bytes above 0x7f are obs-text. */
  set_header(&f.headers[1], "X-Ok", "\ta\tb \xc3\xa9 ");
  CU_ASSERT_EQUAL(fixture_sign(&f), 0);
  /* Headers the signer adds itself. */
  set_header(&f.headers[1], "Authorization", "x");
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  set_header(&f.headers[1], "X-AMZ-DATE", "20150830T123600Z");
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  set_header(&f.headers[1], "x-amz-security-token", "x");
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  set_header(&f.headers[1], "X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD");
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  /* ... which is the caller's to send when the signer does not add it. */
  f.params.flags = 0;
  CU_ASSERT_EQUAL(fixture_sign(&f), 0);
  /* No host. */
  fixture_init(&f);
  set_header(&f.headers[0], "X-Host", "example.com");
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  f.req.nheaders = 0;
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  /* Payload hash. */
  fixture_init(&f);
  f.req.payload_hash = "";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  f.req.payload_hash = "UNSIGNED PAYLOAD";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  f.req.payload_hash = "UNSIGNED-PAYLOAD";
  CU_ASSERT_EQUAL(fixture_sign(&f), 0);
  /* The signing parameters cannot come from the caller's query. */
  fixture_init(&f);
  f.params.mode = KEFO_SIGV4_QUERY;
  f.req.query = "a=1&X-Amz-Signature=00";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  f.req.query = "X%2DAmz-Date=1";
  CU_ASSERT_EQUAL(fixture_sign(&f), KEFO_ERR_SIGV4);
  /* Header signing has no such parameters. */
  f.params.mode = KEFO_SIGV4_HEADERS;
  CU_ASSERT_EQUAL(fixture_sign(&f), 0);

  /* A failed canonical request leaves the buffer as it was. */
  fixture_init(&f);
  kefo__buf_init(&b, NULL);
  CU_ASSERT_EQUAL(kefo__buf_append_str(&b, "keep"), 0);
  f.req.path = "relative";
  CU_ASSERT_EQUAL(kefo__sigv4_canonical_request(&b, &f.req, &f.params),
                  KEFO_ERR_SIGV4);
  CU_ASSERT_EQUAL(b.len, 4);
  CU_ASSERT_EQUAL(kefo__sigv4_canonical_request(NULL, &f.req, &f.params),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__sigv4_string_to_sign(&b, NULL, 3, &f.params),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__sigv4_string_to_sign(&b, (const uint8_t *)"x", 1, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(b.len, 4);
  kefo__buf_free(&b);

  /* Keys and signatures. */
  kefo__sigv4_key_init(&key);
  CU_ASSERT_EQUAL(
      kefo__sigv4_signature(out, sizeof(out), &key, (const uint8_t *)"x", 1),
      KEFO_ERR_INVALID_STATE);
  CU_ASSERT_EQUAL(kefo__sigv4_signing_key(NULL, &f.params),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__sigv4_signing_key(&key, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__sigv4_signing_key(&key, &f.params), 0);
  CU_ASSERT_EQUAL(kefo__sigv4_signature(out, KEFO_SIGV4_HEX_LEN, &key,
                                        (const uint8_t *)"x", 1),
                  KEFO_ERR_BUFFER_TOO_SMALL);
  CU_ASSERT_EQUAL(
      kefo__sigv4_signature(NULL, sizeof(out), &key, (const uint8_t *)"x", 1),
      KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__sigv4_signature(out, sizeof(out), &key, NULL, 1),
                  KEFO_ERR_INVALID_ARGUMENT);
  /* A failed derivation leaves the key empty, never half-made. */
  f.creds.access_key_id = "bad/id";
  CU_ASSERT_EQUAL(kefo__sigv4_signing_key(&key, &f.params),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(
      kefo__sigv4_signature(out, sizeof(out), &key, (const uint8_t *)"x", 1),
      KEFO_ERR_INVALID_STATE);
  kefo__sigv4_key_free(&key);

  /* Helpers. */
  CU_ASSERT_EQUAL(kefo__sigv4_amz_date(out, KEFO_SIGV4_DATE_LEN, 0),
                  KEFO_ERR_BUFFER_TOO_SMALL);
  CU_ASSERT_EQUAL(kefo__sigv4_amz_date(NULL, sizeof(out), 0),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__sigv4_amz_date(out, sizeof(out), -1),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__sigv4_sha256_hex(out, KEFO_SIGV4_HEX_LEN, NULL, 0),
                  KEFO_ERR_BUFFER_TOO_SMALL);
  CU_ASSERT_EQUAL(kefo__sigv4_sha256_hex(out, sizeof(out), NULL, 1),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__sigv4_sha256_hex(NULL, sizeof(out), NULL, 0),
                  KEFO_ERR_INVALID_ARGUMENT);
}

/* Builds the canonical request of |f| and returns its line |n| (0-based)
   in |out|. */
static void canonical_line(const fixture *f, int n, char *out, size_t outlen) {
  kefo_buf b;
  const char *p, *nl;

  out[0] = '\0';
  kefo__buf_init(&b, NULL);
  CU_ASSERT_EQUAL_FATAL(kefo__sigv4_canonical_request(&b, &f->req, &f->params),
                        0);
  p = kefo__buf_cstr(&b);
  CU_ASSERT_FATAL(p != NULL);
  while (n-- > 0 && (p = strchr(p, '\n')) != NULL) {
    ++p;
  }
  if (p) {
    nl = strchr(p, '\n');
    snprintf(out, outlen, "%.*s", nl ? (int)(nl - p) : (int)strlen(p), p);
  }
  kefo__buf_free(&b);
}

/* Cases the suite does not cover. */
static void test_canonical_details(void) {
  static const struct {
    const char *path;
    int normalize;
    const char *want;
  } paths[] = {
      {"/", 1, "/"},
      {"/a/b/..", 1, "/a"},
      {"/a/b/../", 1, "/a/"},
      {"/..", 1, "/"},
      {"/../../a", 1, "/a"},
      {"/a/./b//c/.", 1, "/a/b/c"},
      {"/a/./b//", 0, "/a/./b//"},
      /* Encoded once more: '%' itself becomes %25. */
      {"/d%2F e~", 1, "/d%252F%20e~"},
      {"/caf\xc3\xa9", 0, "/caf%C3%A9"},
  };
  static const struct {
    const char *query;
    const char *want;
  } queries[] = {
      {"b=2&a=1&a=0", "a=0&a=1&b=2"},
      /* No '=', empty key, empty pieces. */
      {"c&=x&&d=", "=x&c=&d="},
      /* A '%' not followed by two hex digits is literal; '+' is a plus. */
      {"d=%zz&e=a+b&f=%4", "d=%25zz&e=a%2Bb&f=%254"},
      /* Lowercase hex escapes come out uppercase; '=' in a value stays
         part of it. */
      {"k=%e1%88%b4&k2=a=b", "k=%E1%88%B4&k2=a%3Db"},
      {"", ""},
      /* Nothing but separators and empty components. */
      {"&", ""},
      {"=&=", "=&="},
  };
  fixture f;
  char line[256];
  size_t i;

  for (i = 0; i < sizeof(paths) / sizeof(paths[0]); ++i) {
    fixture_init(&f);
    f.req.path = paths[i].path;
    f.params.flags = paths[i].normalize ? 0 : KEFO_SIGV4_FLAG_NO_NORMALIZE_PATH;
    canonical_line(&f, 1, line, sizeof(line));
    CU_ASSERT_STRING_EQUAL(line, paths[i].want);
  }
  for (i = 0; i < sizeof(queries) / sizeof(queries[0]); ++i) {
    fixture_init(&f);
    f.req.query = queries[i].query;
    canonical_line(&f, 2, line, sizeof(line));
    CU_ASSERT_STRING_EQUAL(line, queries[i].want);
  }

  /* Header names folded and sorted, duplicates joined in order, values
     trimmed and collapsed (tabs too), and the signer's own headers. */
  fixture_init(&f);
  set_header(&f.headers[0], "X-Dup", " 2 ");
  set_header(&f.headers[1], "HOST", "  example.com\t");
  set_header(&f.headers[2], "x-dup", "\t1  \t 0");
  f.req.payload_hash = "UNSIGNED-PAYLOAD";
  {
    static const char want[] =
        "POST\n/\n\n"
        "host:example.com\n"
        "x-amz-content-sha256:UNSIGNED-PAYLOAD\n"
        "x-amz-date:20150830T123600Z\n"
        "x-amz-security-token:FwoGZXIvYXdzEJr//////////wEaDOEXAMPLETOKEN==\n"
        "x-dup:2,1 0\n"
        "\n"
        "host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-dup\n"
        "UNSIGNED-PAYLOAD";
    kefo_buf b;

    kefo__buf_init(&b, NULL);
    CU_ASSERT_EQUAL(kefo__sigv4_canonical_request(&b, &f.req, &f.params), 0);
    CU_ASSERT(b.len == sizeof(want) - 1 && memcmp(b.data, want, b.len) == 0);
    kefo__buf_free(&b);
  }

  /* Query signing with a token left out of the signature: sent, not
     signed; the caller's query goes first, unchanged. */
  fixture_init(&f);
  f.req.nheaders = 1;
  f.req.query = "b=%7e&a=1&";
  f.params.mode = KEFO_SIGV4_QUERY;
  f.params.flags = KEFO_SIGV4_FLAG_OMIT_SESSION_TOKEN;
  canonical_line(&f, 2, line, sizeof(line));
  /* Byte order: "X-Amz-*" sorts before lowercase names. */
  CU_ASSERT_STRING_EQUAL(
      line, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="
            "AKIDEXAMPLE%2F20150830%2Fus-east-1%2Fkinesis%2Faws4_request&"
            "X-Amz-Date=20150830T123600Z&X-Amz-Expires=300&"
            "X-Amz-SignedHeaders=host&a=1&b=~");
  {
    kefo_sigv4_result res;

    CU_ASSERT_EQUAL_FATAL(kefo__sigv4_sign(&res, &f.req, &f.params, NULL, NULL),
                          0);
    CU_ASSERT_EQUAL(res.nheaders, 0);
    CU_ASSERT_EQUAL(strlen(res.query), res.querylen);
    CU_ASSERT(strncmp(res.query, "b=%7e&a=1&X-Amz-Algorithm=", 26) == 0);
    CU_ASSERT(strstr(res.query,
                     "&X-Amz-Security-Token=FwoGZXIvYXdzEJr%2F%2F") != NULL);
    CU_ASSERT(strstr(res.query, "&X-Amz-Signature=") != NULL);
    CU_ASSERT(strstr(res.query, res.signature) != NULL);
    kefo__sigv4_result_free(&res);
    /* Freeing twice is harmless. */
    kefo__sigv4_result_free(&res);
  }
}

static void test_amz_date(void) {
  static const struct {
    int64_t t;
    const char *want;
  } known[] = {
      {0, "19700101T000000Z"},
      {SUITE_TIME, "20150830T123600Z"},
      {951782400, "20000229T000000Z"},
      {951868799, "20000229T235959Z"},
      {4107542399, "21000228T235959Z"},
      {4107542400, "21000301T000000Z"},
      {KEFO_SIGV4_MAX_TIME, "99991231T235959Z"},
  };
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  char out[KEFO_SIGV4_DATE_LEN + 1];
  /* Roomier than needed: snprintf cannot prove the fields are small. */
  char want[64];
  int y = 1970, m = 1, d = 1, bad = 0;
  int64_t day = 0;
  size_t i;

  for (i = 0; i < sizeof(known) / sizeof(known[0]); ++i) {
    CU_ASSERT_EQUAL(kefo__sigv4_amz_date(out, sizeof(out), known[i].t), 0);
    CU_ASSERT_STRING_EQUAL(out, known[i].want);
  }
  CU_ASSERT_EQUAL(
      kefo__sigv4_amz_date(out, sizeof(out), KEFO_SIGV4_MAX_TIME + 1),
      KEFO_ERR_INVALID_ARGUMENT);
  /* Every day from 1970 to 9999 against a plain calendar walk, each at a
     different time of day. */
  for (;;) {
    int64_t secs = (day * 7919) % 86400;
    int64_t t = day * 86400 + secs;
    int leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);

    snprintf(want, sizeof(want), "%04d%02d%02dT%02d%02d%02dZ", y, m, d,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    if (kefo__sigv4_amz_date(out, sizeof(out), t) != 0 ||
        strcmp(out, want) != 0) {
      if (bad++ < 5) {
        fprintf(stderr, "sigv4: amz_date(%lld) = %s, want %s\n", (long long)t,
                out, want);
      }
    }
    if (++d > mdays[m - 1] + (m == 2 && leap)) {
      d = 1;
      if (++m > 12) {
        m = 1;
        if (++y > 9999) {
          break;
        }
      }
    }
    ++day;
  }
  CU_ASSERT_EQUAL(bad, 0);
  CU_ASSERT_EQUAL(day * 86400 + 86399, KEFO_SIGV4_MAX_TIME);
}

static void test_sha256_hex(void) {
  char out[KEFO_SIGV4_HEX_LEN + 1];

  CU_ASSERT_EQUAL(kefo__sigv4_sha256_hex(out, sizeof(out), NULL, 0), 0);
  CU_ASSERT_STRING_EQUAL(
      out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CU_ASSERT_EQUAL(kefo__sigv4_sha256_hex(out, sizeof(out),
                                         (const uint8_t *)"Param1=value1", 13),
                  0);
  CU_ASSERT_STRING_EQUAL(
      out, "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
}

static void test_key_cache(void) {
  fixture f;
  kefo_sigv4_key key;
  kefo_sigv4_result res;
  char first[KEFO_SIGV4_HEX_LEN + 1], nextday[KEFO_SIGV4_HEX_LEN + 1];
  size_t i;
  int zero = 1;

  fixture_init(&f);
  kefo__sigv4_key_init(&key);
  CU_ASSERT_EQUAL_FATAL(kefo__sigv4_sign(&res, &f.req, &f.params, &key, NULL),
                        0);
  memcpy(first, res.signature, sizeof(first));
  kefo__sigv4_result_free(&res);
  CU_ASSERT_STRING_EQUAL(key.credential,
                         "AKIDEXAMPLE/20150830/us-east-1/kinesis/aws4_request");

  /* Same day and credentials: the cached key is used as is, which a
     tampered key shows. */
  key.key[0] ^= 1;
  f.params.time += 3600;
  CU_ASSERT_EQUAL(kefo__sigv4_signing_key(&key, &f.params), 0);
  f.params.time -= 3600;
  CU_ASSERT_EQUAL(kefo__sigv4_sign(&res, &f.req, &f.params, &key, NULL), 0);
  CU_ASSERT(strcmp(res.signature, first) != 0);
  kefo__sigv4_result_free(&res);
  key.key[0] ^= 1;
  CU_ASSERT_EQUAL(kefo__sigv4_sign(&res, &f.req, &f.params, &key, NULL), 0);
  CU_ASSERT_STRING_EQUAL(res.signature, first);
  kefo__sigv4_result_free(&res);

  /* The next day derives again, as signing without a cache does. */
  f.params.time += 86400;
  CU_ASSERT_EQUAL(kefo__sigv4_sign(&res, &f.req, &f.params, NULL, NULL), 0);
  memcpy(nextday, res.signature, sizeof(nextday));
  kefo__sigv4_result_free(&res);
  CU_ASSERT_EQUAL(kefo__sigv4_sign(&res, &f.req, &f.params, &key, NULL), 0);
  CU_ASSERT_STRING_EQUAL(res.signature, nextday);
  kefo__sigv4_result_free(&res);
  CU_ASSERT_STRING_EQUAL(key.credential,
                         "AKIDEXAMPLE/20150831/us-east-1/kinesis/aws4_request");

  /* New credentials (a new access key id) derive again too. */
  f.creds.access_key_id = "ASIAEXAMPLE2";
  f.creds.secret_access_key = "another-secret";
  CU_ASSERT_EQUAL(kefo__sigv4_signing_key(&key, &f.params), 0);
  CU_ASSERT_STRING_EQUAL(
      key.credential, "ASIAEXAMPLE2/20150831/us-east-1/kinesis/aws4_request");

  kefo__sigv4_key_free(&key);
  for (i = 0; i < sizeof(key.key); ++i) {
    zero &= key.key[i] == 0;
  }
  CU_ASSERT(zero);
  CU_ASSERT_EQUAL(key.credential[0], '\0');
}

static int contains(const void *hay, size_t haylen, const char *needle) {
  size_t n = strlen(needle), i;
  const char *h = hay;

  for (i = 0; haylen >= n && i <= haylen - n; ++i) {
    if (memcmp(h + i, needle, n) == 0) {
      return 1;
    }
  }
  return 0;
}

static void test_secret_not_in_output(void) {
  static const char secret[] = "kefoSECRETmustNotLeak+/0123456789abcdEFGH";
  static const kefo_sigv4_mode modes[] = {KEFO_SIGV4_HEADERS, KEFO_SIGV4_QUERY};
  fixture f;
  size_t m, i;

  for (m = 0; m < 2; ++m) {
    kefo_sigv4_result res;
    kefo_buf creq, sts;

    fixture_init(&f);
    f.creds.secret_access_key = secret;
    f.params.mode = modes[m];
    f.req.query = "a=1";
    kefo__buf_init(&creq, NULL);
    kefo__buf_init(&sts, NULL);
    CU_ASSERT_EQUAL_FATAL(
        kefo__sigv4_canonical_request(&creq, &f.req, &f.params), 0);
    CU_ASSERT_EQUAL_FATAL(
        kefo__sigv4_string_to_sign(&sts, creq.data, creq.len, &f.params), 0);
    CU_ASSERT_EQUAL_FATAL(kefo__sigv4_sign(&res, &f.req, &f.params, NULL, NULL),
                          0);
    CU_ASSERT(!contains(creq.data, creq.len, secret));
    CU_ASSERT(!contains(sts.data, sts.len, secret));
    CU_ASSERT(!contains(res.signature, strlen(res.signature), secret));
    if (res.query) {
      CU_ASSERT(!contains(res.query, res.querylen, secret));
    }
    for (i = 0; i < res.nheaders; ++i) {
      CU_ASSERT(
          !contains(res.headers[i].value, res.headers[i].valuelen, secret));
    }
    /* Nor anywhere in the result's storage. */
    CU_ASSERT(!contains(res.storage.data, res.storage.len, secret));
    kefo__sigv4_result_free(&res);
    kefo__buf_free(&creq);
    kefo__buf_free(&sts);
  }
}

/* Failing runs must fail with KEFO_ERR_NOMEM and nothing else. */
typedef struct fm_state {
  int other_errors;
} fm_state;

static int sign_scenario(const kefo_mem *mem, void *arg) {
  fm_state *st = arg;
  static const kefo_sigv4_mode modes[] = {KEFO_SIGV4_HEADERS, KEFO_SIGV4_QUERY};
  fixture f;
  kefo_sigv4_result res;
  kefo_sigv4_key key;
  kefo_buf creq, sts;
  size_t m;
  int rv = 0;

  kefo__sigv4_key_init(&key);
  for (m = 0; m < 2 && rv == 0; ++m) {
    fixture_init(&f);
    set_header(&f.headers[2], "content-type", "  a  b ");
    f.req.path = "/a b/./c/../d";
    f.req.query = "z=1&%E1%88%B4=2&a";
    f.params.mode = modes[m];
    rv = kefo__sigv4_sign(&res, &f.req, &f.params, &key, mem);
    kefo__sigv4_result_free(&res);
    if (rv == 0) {
      kefo__buf_init(&creq, mem);
      kefo__buf_init(&sts, mem);
      rv = kefo__sigv4_canonical_request(&creq, &f.req, &f.params);
      if (rv == 0) {
        rv = kefo__sigv4_string_to_sign(&sts, creq.data, creq.len, &f.params);
      }
      kefo__buf_free(&creq);
      kefo__buf_free(&sts);
    }
  }
  kefo__sigv4_key_free(&key);
  if (rv != 0 && rv != KEFO_ERR_NOMEM) {
    ++st->other_errors;
  }
  return rv;
}

static void test_failmalloc(void) {
  fm_state st = {0};

  kefo_failmalloc_run(sign_scenario, &st);
  CU_ASSERT_EQUAL(st.other_errors, 0);
}

int kefo_add_sigv4_suite(void) {
  CU_pSuite s = CU_add_suite("sigv4", NULL, NULL);

  if (s == NULL) {
    return CU_get_error();
  }
  if (CU_add_test(s, "header signing vectors", test_header_vectors) == NULL ||
      CU_add_test(s, "query signing vectors", test_query_vectors) == NULL ||
      CU_add_test(s, "bad input", test_bad_input) == NULL ||
      CU_add_test(s, "canonical details", test_canonical_details) == NULL ||
      CU_add_test(s, "amz date", test_amz_date) == NULL ||
      CU_add_test(s, "sha256 hex", test_sha256_hex) == NULL ||
      CU_add_test(s, "key cache", test_key_cache) == NULL ||
      CU_add_test(s, "secret not in output", test_secret_not_in_output) ==
          NULL ||
      CU_add_test(s, "failing allocator", test_failmalloc) == NULL) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
