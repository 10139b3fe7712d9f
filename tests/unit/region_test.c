/*
 * Region and endpoint resolution tests: the order of the sources, the
 * errors naming the source of a bad value, the partitions, and the
 * endpoint override variables, all through a fake environment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "aws/region.h"
#include "tests/unit/suites.h"

/* Also declared in tests/unit/suites.h once the suite is registered there. */
int kefo_add_region_suite(void);

typedef struct fake_env {
  const char *const *pairs;
} fake_env;

static const char *fake_getenv(const char *name, void *ud) {
  const fake_env *fe = ud;
  size_t i;

  for (i = 0; fe->pairs[i] != NULL; i += 2) {
    if (strcmp(fe->pairs[i], name) == 0) {
      return fe->pairs[i + 1];
    }
  }
  return NULL;
}

/* The region field of an ARN, and what is not one. */
static void test_arn_region(void) {
  char r[KEFO_REGION_MAX];

  CU_ASSERT(
      kefo__arn_region("arn:aws:kinesis:eu-west-1:123456789012:stream/s", r));
  CU_ASSERT_STRING_EQUAL(r, "eu-west-1");
  CU_ASSERT(kefo__arn_region(
      "arn:aws-cn:kinesis:cn-north-1:1:stream/s/consumer/c:1", r));
  CU_ASSERT_STRING_EQUAL(r, "cn-north-1");
  /* No region field, an empty one, one that is not a region name. */
  CU_ASSERT(!kefo__arn_region("arn:aws:kinesis", r));
  CU_ASSERT_STRING_EQUAL(r, "");
  CU_ASSERT(!kefo__arn_region("arn:aws:kinesis:eu-west-1", r));
  CU_ASSERT(!kefo__arn_region("arn:aws:iam::123456789012:role/x", r));
  CU_ASSERT_STRING_EQUAL(r, "");
  CU_ASSERT(!kefo__arn_region("arn:aws:kinesis:EU_WEST:1:stream/s", r));
  CU_ASSERT(!kefo__arn_region("stream/s", r));
  CU_ASSERT(!kefo__arn_region(NULL, r));
  {
    char arn[200];
    memset(arn, 'a', sizeof(arn));
    memcpy(arn, "arn:aws:kinesis:", 16);
    memcpy(arn + 150, ":1:stream/s", 12); /* a 134-byte region */
    CU_ASSERT(!kefo__arn_region(arn, r));
    CU_ASSERT_STRING_EQUAL(r, "");
  }
}

static void test_region_valid(void) {
  CU_ASSERT(kefo__region_valid("us-east-1"));
  CU_ASSERT(kefo__region_valid("cn-northwest-1"));
  CU_ASSERT(kefo__region_valid("local"));
  CU_ASSERT(!kefo__region_valid(""));
  CU_ASSERT(!kefo__region_valid(NULL));
  CU_ASSERT(!kefo__region_valid("US-EAST-1"));
  CU_ASSERT(!kefo__region_valid("us east"));
  CU_ASSERT(!kefo__region_valid("-us"));
  CU_ASSERT(!kefo__region_valid("us-"));
  CU_ASSERT(!kefo__region_valid("us.east"));
  CU_ASSERT(!kefo__region_valid(
      "a123456789012345678901234567890123456789012345678901234567890123"));
}

static void test_region_order(void) {
  static const char cfg[] = "[default]\nregion = ap-south-1\n"
                            "[profile dev]\nregion = eu-north-1\n"
                            "[profile bad]\nregion = Not A Region\n";
  const char *all[] = {"AWS_REGION", "us-west-1", "AWS_DEFAULT_REGION",
                       "us-west-2", NULL};
  const char *dflt[] = {"AWS_REGION", "", "AWS_DEFAULT_REGION", "us-west-2",
                        NULL};
  const char *none[] = {NULL};
  const char *bad[] = {"AWS_REGION", "us_east_1", NULL};
  fake_env fe = {all};
  kefo_env env = {fake_getenv, &fe};
  kefo_profile_set *set = NULL;
  char region[KEFO_REGION_MAX], err[512];

  CU_ASSERT_FATAL(kefo__profile_set_new(&set, NULL) == 0);
  CU_ASSERT_FATAL(
      kefo__profile_set_parse(set, KEFO_PROFILE_FILE_CONFIG, "/h/.aws/config",
                              (const uint8_t *)cfg, strlen(cfg), NULL, 0) == 0);

  CU_ASSERT_EQUAL(kefo__region_resolve(region, "eu-west-3", &env, set,
                                       "default", err, sizeof(err)),
                  0);
  CU_ASSERT_STRING_EQUAL(region, "eu-west-3");
  CU_ASSERT_EQUAL(kefo__region_resolve(region, NULL, &env, set, "default", err,
                                       sizeof(err)),
                  0);
  CU_ASSERT_STRING_EQUAL(region, "us-west-1");
  fe.pairs = dflt;
  CU_ASSERT_EQUAL(kefo__region_resolve(region, NULL, &env, set, "default", err,
                                       sizeof(err)),
                  0);
  CU_ASSERT_STRING_EQUAL(region, "us-west-2");
  fe.pairs = none;
  CU_ASSERT_EQUAL(kefo__region_resolve(region, NULL, &env, set, "default", err,
                                       sizeof(err)),
                  0);
  CU_ASSERT_STRING_EQUAL(region, "ap-south-1");
  CU_ASSERT_EQUAL(
      kefo__region_resolve(region, NULL, &env, set, "dev", err, sizeof(err)),
      0);
  CU_ASSERT_STRING_EQUAL(region, "eu-north-1");

  /* Errors say where the value came from, or where we looked. */
  CU_ASSERT_EQUAL(
      kefo__region_resolve(region, NULL, &env, set, "bad", err, sizeof(err)),
      KEFO_ERR_CONFIG);
  CU_ASSERT(strstr(err, "region of profile 'bad' is not a region name") !=
            NULL);
  CU_ASSERT_EQUAL(
      kefo__region_resolve(region, NULL, &env, set, "nosuch", err, sizeof(err)),
      KEFO_ERR_CONFIG);
  CU_ASSERT(strstr(err, "no region") != NULL &&
            strstr(err, "profile 'nosuch'") != NULL &&
            strstr(err, "/h/.aws/config") != NULL);
  CU_ASSERT_EQUAL(
      kefo__region_resolve(region, NULL, &env, NULL, NULL, err, sizeof(err)),
      KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(
      err, "no region: set aws.region, AWS_REGION or AWS_DEFAULT_REGION");
  fe.pairs = bad;
  CU_ASSERT_EQUAL(kefo__region_resolve(region, NULL, &env, set, "default", err,
                                       sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT(strncmp(err, "AWS_REGION is not a region name", 31) == 0);
  CU_ASSERT_EQUAL(kefo__region_resolve(region, "Bad!", &env, set, "default",
                                       err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT(strncmp(err, "aws.region is not a region name", 31) == 0);
  kefo__profile_set_del(set);
}

static void test_region_default_files(void) {
  char dir[64] = "/tmp/kefo-region-XXXXXX", path[128], cmd[128];
  char region[KEFO_REGION_MAX], err[512];
  const char *pairs[] = {"AWS_CONFIG_FILE",
                         path,
                         "AWS_SHARED_CREDENTIALS_FILE",
                         "/nonexistent/credentials",
                         "AWS_PROFILE",
                         "p",
                         NULL};
  const char *with_env[] = {"AWS_DEFAULT_REGION", "sa-east-1",
                            "AWS_CONFIG_FILE", "/nonexistent", NULL};
  fake_env fe = {pairs};
  kefo_env env = {fake_getenv, &fe};
  FILE *f;

  CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
  snprintf(path, sizeof(path), "%s/config", dir);
  f = fopen(path, "w");
  CU_ASSERT_FATAL(f != NULL);
  fputs("[profile p]\nregion = me-south-1\n[profile q]\nregion=il-central-1\n",
        f);
  fclose(f);
  CU_ASSERT_EQUAL(kefo__region_resolve_default(region, NULL, NULL, &env, NULL,
                                               err, sizeof(err)),
                  0);
  CU_ASSERT_STRING_EQUAL(region, "me-south-1");
  CU_ASSERT_EQUAL(kefo__region_resolve_default(region, NULL, "q", &env, NULL,
                                               err, sizeof(err)),
                  0);
  CU_ASSERT_STRING_EQUAL(region, "il-central-1");
  /* The environment answers before any file is read. */
  fe.pairs = with_env;
  CU_ASSERT_EQUAL(kefo__region_resolve_default(region, NULL, NULL, &env, NULL,
                                               err, sizeof(err)),
                  0);
  CU_ASSERT_STRING_EQUAL(region, "sa-east-1");
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CU_ASSERT_EQUAL(system(cmd), 0);
}

static void expect_url(kefo_service_id svc, const char *region,
                       const char *configured, const char *const *pairs,
                       const char *want) {
  fake_env fe = {pairs};
  kefo_env env = {fake_getenv, &fe};
  char url[KEFO_ENDPOINT_URL_MAX], err[256] = "";
  kefo_endpoint ep;
  int rv;

  rv = kefo__endpoint_resolve(url, &ep, svc, region, configured, &env, err,
                              sizeof(err));
  if (rv != 0 || strcmp(url, want) != 0) {
    fprintf(stderr, "\n  got %d '%s' (%s), want '%s'\n", rv, url, err, want);
  }
  CU_ASSERT_EQUAL(rv, 0);
  CU_ASSERT_STRING_EQUAL(url, want);
}

static void test_endpoints(void) {
  const char *none[] = {NULL};
  const char *svc[] = {"AWS_ENDPOINT_URL_KINESIS",
                       "http://127.0.0.1:4567",
                       "AWS_ENDPOINT_URL_DYNAMODB",
                       "http://localhost:8000/",
                       "AWS_ENDPOINT_URL",
                       "https://proxy.example:8443",
                       NULL};
  const char *global[] = {"AWS_ENDPOINT_URL", "http://[::1]:9000", NULL};
  const char *ignore[] = {"AWS_ENDPOINT_URL_KINESIS", "http://127.0.0.1:4567",
                          "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "TRUE", NULL};
  const char *bad[] = {"AWS_ENDPOINT_URL_KINESIS", "ftp://x", NULL};
  const char *badg[] = {"AWS_ENDPOINT_URL", "http://host/path", NULL};
  fake_env fe = {none};
  kefo_env env = {fake_getenv, &fe};
  char url[KEFO_ENDPOINT_URL_MAX], err[256];
  kefo_endpoint ep;

  expect_url(KEFO_SERVICE_KINESIS, "us-east-1", NULL, none,
             "https://kinesis.us-east-1.amazonaws.com");
  expect_url(KEFO_SERVICE_DYNAMODB, "eu-west-1", NULL, none,
             "https://dynamodb.eu-west-1.amazonaws.com");
  expect_url(KEFO_SERVICE_STS, "ap-northeast-1", NULL, none,
             "https://sts.ap-northeast-1.amazonaws.com");
  expect_url(KEFO_SERVICE_KINESIS, "cn-north-1", NULL, none,
             "https://kinesis.cn-north-1.amazonaws.com.cn");
  expect_url(KEFO_SERVICE_STS, "cn-northwest-1", NULL, none,
             "https://sts.cn-northwest-1.amazonaws.com.cn");
  expect_url(KEFO_SERVICE_STS, NULL, NULL, none, "https://sts.amazonaws.com");
  expect_url(KEFO_SERVICE_STS, "aws-global", NULL, none,
             "https://sts.amazonaws.com");
  /* Explicit config first, then the service's variable, then the
     global one. */
  expect_url(KEFO_SERVICE_KINESIS, "us-east-1", "http://10.0.0.1:1234", svc,
             "http://10.0.0.1:1234");
  expect_url(KEFO_SERVICE_KINESIS, "us-east-1", NULL, svc,
             "http://127.0.0.1:4567");
  expect_url(KEFO_SERVICE_DYNAMODB, "us-east-1", NULL, svc,
             "http://localhost:8000/");
  expect_url(KEFO_SERVICE_STS, "us-east-1", NULL, svc,
             "https://proxy.example:8443");
  expect_url(KEFO_SERVICE_KINESIS, NULL, NULL, global, "http://[::1]:9000");
  expect_url(KEFO_SERVICE_KINESIS, "us-east-1", NULL, ignore,
             "https://kinesis.us-east-1.amazonaws.com");

  CU_ASSERT_EQUAL(kefo__endpoint_resolve(url, &ep, KEFO_SERVICE_KINESIS, NULL,
                                         "http://127.0.0.1:4567", &env, err,
                                         sizeof(err)),
                  0);
  CU_ASSERT_EQUAL(ep.tls, 0);
  CU_ASSERT_EQUAL(ep.port, 4567);
  CU_ASSERT_STRING_EQUAL(ep.host, "127.0.0.1");
  CU_ASSERT_EQUAL(kefo__endpoint_resolve(url, &ep, KEFO_SERVICE_DYNAMODB,
                                         "us-east-1", NULL, &env, err,
                                         sizeof(err)),
                  0);
  CU_ASSERT_EQUAL(ep.tls, 1);
  CU_ASSERT_EQUAL(ep.port, 443);
  CU_ASSERT_STRING_EQUAL(ep.authority, "dynamodb.us-east-1.amazonaws.com");

  /* Errors name the source. */
  fe.pairs = bad;
  CU_ASSERT_EQUAL(kefo__endpoint_resolve(url, &ep, KEFO_SERVICE_KINESIS,
                                         "us-east-1", NULL, &env, err,
                                         sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT(strncmp(err, "AWS_ENDPOINT_URL_KINESIS is not", 31) == 0);
  fe.pairs = badg;
  CU_ASSERT_EQUAL(kefo__endpoint_resolve(url, &ep, KEFO_SERVICE_STS,
                                         "us-east-1", NULL, &env, err,
                                         sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT(strncmp(err, "AWS_ENDPOINT_URL is not", 23) == 0);
  CU_ASSERT_EQUAL(kefo__endpoint_resolve(url, &ep, KEFO_SERVICE_STS,
                                         "us-east-1", "kinesis.local", &env,
                                         err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT(strncmp(err, "aws.endpoint is not", 19) == 0);
  fe.pairs = none;
  CU_ASSERT_EQUAL(kefo__endpoint_resolve(url, &ep, KEFO_SERVICE_KINESIS, NULL,
                                         NULL, &env, err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT(strstr(err, "no region to build the kinesis endpoint") != NULL);
  CU_ASSERT_EQUAL(kefo__endpoint_resolve(url, &ep, KEFO_SERVICE_KINESIS,
                                         "Bad Region", NULL, &env, err,
                                         sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_EQUAL(kefo__endpoint_resolve(url, NULL, KEFO_SERVICE_KINESIS,
                                         "us-east-1", NULL, &env, err,
                                         sizeof(err)),
                  0);
  CU_ASSERT(kefo__service_name((kefo_service_id)99) == NULL);
  CU_ASSERT_EQUAL(kefo__endpoint_resolve(url, NULL, (kefo_service_id)99,
                                         "us-east-1", NULL, &env, err,
                                         sizeof(err)),
                  KEFO_ERR_INVALID_ARGUMENT);
}

int kefo_add_region_suite(void) {
  CU_pSuite s = CU_add_suite("region", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "region_valid", test_region_valid) ||
      !CU_add_test(s, "arn_region", test_arn_region) ||
      !CU_add_test(s, "region_order", test_region_order) ||
      !CU_add_test(s, "region_default_files", test_region_default_files) ||
      !CU_add_test(s, "endpoints", test_endpoints)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
