/*
 * Shared config/credentials file tests: the line grammar (sections,
 * properties, comments, continuations, CRLF), merging and precedence,
 * errors naming file and line, the file loader and path rules, and a
 * failing-allocator run over the parser and the loader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "aws/profile_file.h"
#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"

/* Also declared in tests/unit/suites.h once the suite is registered there. */
int kefo_add_profile_file_suite(void);

/* A fake environment: NULL-terminated name/value pairs. */
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

static kefo_profile_set *parse(kefo_profile_file_kind kind, const char *text,
                               int expect) {
  kefo_profile_set *set = NULL;
  char err[256];

  CU_ASSERT_FATAL(kefo__profile_set_new(&set, NULL) == 0);
  CU_ASSERT_EQUAL(kefo__profile_set_parse(set, kind, "test.ini",
                                          (const uint8_t *)text, strlen(text),
                                          err, sizeof(err)),
                  expect);
  return set;
}

static const char *value(const kefo_profile_set *set, const char *profile,
                         const char *key) {
  return kefo__profile_get(kefo__profile_set_find(set, profile), key);
}

static int str_eq(const char *a, const char *b) {
  return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static void test_config_grammar(void) {
  static const char text[] = "# a comment\n"
                             "; another\n"
                             "\n"
                             "[default]\n"
                             "region = us-east-1\n"
                             "output=json   \n"
                             "  \t\n"
                             "[profile dev]  # trailing comment\n"
                             "  region   =   eu-west-1 ; inline comment\n"
                             "role_arn = arn:aws:iam::123456789012:role/a#b\n"
                             "empty =\n"
                             "s3 =\n"
                             "  max_concurrent_requests = 20\n"
                             "  # not a value\n"
                             "  addressing_style = path\n"
                             "[profile   spaced   ]\n"
                             "x = 1\n"
                             "[sso-session corp]\n"
                             "sso_region = us-east-1\n"
                             "[services local]\n"
                             "kinesis =\n"
                             "  endpoint_url = http://localhost:4567\n"
                             "[profile bad name]\n"
                             "y = 2\n"
                             "[nonprofile]\n"
                             "z = 3\n"
                             "[profile dev]\n"
                             "Output = text\n";
  kefo_profile_set *set = parse(KEFO_PROFILE_FILE_CONFIG, text, 0);
  const kefo_profile *dev;

  CU_ASSERT(str_eq(value(set, "default", "region"), "us-east-1"));
  CU_ASSERT(str_eq(value(set, "default", "output"), "json"));
  CU_ASSERT(str_eq(value(set, "dev", "region"), "eu-west-1"));
  /* '#' not after whitespace is part of the value. */
  CU_ASSERT(str_eq(value(set, "dev", "role_arn"),
                   "arn:aws:iam::123456789012:role/a#b"));
  CU_ASSERT(str_eq(value(set, "dev", "empty"), ""));
  CU_ASSERT(str_eq(value(set, "dev", "s3"),
                   "\nmax_concurrent_requests = 20\naddressing_style = path"));
  /* Keys compare without case; a later value replaces. */
  CU_ASSERT(str_eq(value(set, "dev", "OUTPUT"), "text"));
  CU_ASSERT(str_eq(value(set, "spaced", "x"), "1"));
  CU_ASSERT(kefo__profile_set_find(set, "corp") == NULL);
  CU_ASSERT(kefo__profile_set_find(set, "local") == NULL);
  CU_ASSERT(kefo__profile_set_find(set, "bad") == NULL);
  CU_ASSERT(kefo__profile_set_find(set, "nonprofile") == NULL);
  CU_ASSERT_EQUAL(kefo__profile_set_count(set), 3);
  dev = kefo__profile_set_find(set, "dev");
  CU_ASSERT_EQUAL(kefo__profile_count(dev), 5);
  CU_ASSERT(
      str_eq(kefo__profile_name_of(kefo__profile_set_at(set, 0)), "default"));
  CU_ASSERT(kefo__profile_set_at(set, 3) == NULL);
  kefo__profile_set_del(set);
}

static void test_credentials_grammar(void) {
  static const char text[] = "\xef\xbb\xbf[default]\r\n"
                             "aws_access_key_id = AKIDDEFAULT\r\n"
                             "aws_secret_access_key = s/e+c=r\r\n"
                             "[dev]\r\n"
                             "aws_access_key_id=AKIDDEV\r\n"
                             "[profile dev2]\r\n"
                             "aws_access_key_id=IGNORED\r\n";
  kefo_profile_set *set = parse(KEFO_PROFILE_FILE_CREDENTIALS, text, 0);

  CU_ASSERT(str_eq(value(set, "default", "aws_access_key_id"), "AKIDDEFAULT"));
  CU_ASSERT(str_eq(value(set, "default", "aws_secret_access_key"), "s/e+c=r"));
  CU_ASSERT(str_eq(value(set, "dev", "aws_access_key_id"), "AKIDDEV"));
  /* "[profile x]" is no profile in the credentials file. */
  CU_ASSERT(kefo__profile_set_find(set, "dev2") == NULL);
  CU_ASSERT(kefo__profile_set_find(set, "profile dev2") == NULL);
  kefo__profile_set_del(set);

  /* In the config file, "[dev]" is not a profile. */
  set = parse(KEFO_PROFILE_FILE_CONFIG, "[dev]\nregion = x\n", 0);
  CU_ASSERT(kefo__profile_set_find(set, "dev") == NULL);
  kefo__profile_set_del(set);
}

static void test_merge_and_default(void) {
  static const char config[] = "[profile default]\n"
                               "region = eu-central-1\n"
                               "[default]\n"
                               "region = ignored\n"
                               "[profile a]\n"
                               "region = us-west-2\n"
                               "aws_access_key_id = FROMCONFIG\n";
  static const char creds[] = "[a]\n"
                              "aws_access_key_id = FROMCREDS\n";
  kefo_profile_set *set = parse(KEFO_PROFILE_FILE_CONFIG, config, 0);
  char err[128];

  CU_ASSERT(str_eq(value(set, "default", "region"), "eu-central-1"));
  CU_ASSERT_EQUAL(kefo__profile_set_parse(set, KEFO_PROFILE_FILE_CREDENTIALS,
                                          "creds", (const uint8_t *)creds,
                                          strlen(creds), err, sizeof(err)),
                  0);
  CU_ASSERT(str_eq(value(set, "a", "aws_access_key_id"), "FROMCREDS"));
  CU_ASSERT(str_eq(value(set, "a", "region"), "us-west-2"));
  kefo__profile_set_describe(set, err, sizeof(err));
  CU_ASSERT_STRING_EQUAL(err, "test.ini and creds");
  kefo__profile_set_del(set);

  /* "[profile default]" after "[default]" replaces its properties. */
  set = parse(KEFO_PROFILE_FILE_CONFIG,
              "[default]\nregion = old\noutput = json\n"
              "[profile default]\nregion = new\n",
              0);
  CU_ASSERT(str_eq(value(set, "default", "region"), "new"));
  CU_ASSERT(value(set, "default", "output") == NULL);
  kefo__profile_set_del(set);
}

static void expect_error(const char *text, const char *message) {
  kefo_profile_set *set = NULL;
  char err[256] = "";

  CU_ASSERT_FATAL(kefo__profile_set_new(&set, NULL) == 0);
  CU_ASSERT_EQUAL(kefo__profile_set_parse(
                      set, KEFO_PROFILE_FILE_CONFIG, "/home/u/.aws/config",
                      (const uint8_t *)text, strlen(text), err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  if (strcmp(err, message) != 0) {
    fprintf(stderr, "\n  got '%s'\n  want '%s'\n", err, message);
  }
  CU_ASSERT_STRING_EQUAL(err, message);
  kefo__profile_set_del(set);
}

static void test_errors(void) {
  static const char nul[] = "[default]\nregion = a\0b\n";
  kefo_profile_set *set = NULL;
  char err[256];
  uint8_t *big;

  expect_error("[default]\nregion = x\n[profile dev\n",
               "/home/u/.aws/config:3: expected ']' to close the section name");
  expect_error("region = x\n",
               "/home/u/.aws/config:1: property outside a profile section");
  expect_error("# c\n[default]\n\njust words\n",
               "/home/u/.aws/config:4: expected 'name = value'");
  expect_error("[default]\n = value\n",
               "/home/u/.aws/config:2: property name missing before '='");
  expect_error("[default] extra\n",
               "/home/u/.aws/config:1: unexpected text after ']'");
  /* A secret value never appears in an error. */
  expect_error("[default]\naws_secret_access_key = SECRETVALUE\n[x\n",
               "/home/u/.aws/config:3: expected ']' to close the section name");

  CU_ASSERT_FATAL(kefo__profile_set_new(&set, NULL) == 0);
  CU_ASSERT_EQUAL(kefo__profile_set_parse(set, KEFO_PROFILE_FILE_CONFIG, "f",
                                          (const uint8_t *)nul, sizeof(nul) - 1,
                                          err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err, "f:2: NUL byte in the line");
  big = calloc(1, KEFO_PROFILE_FILE_MAX + 1);
  CU_ASSERT_FATAL(big != NULL);
  CU_ASSERT_EQUAL(kefo__profile_set_parse(set, KEFO_PROFILE_FILE_CONFIG, "f",
                                          big, KEFO_PROFILE_FILE_MAX + 1, err,
                                          sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT(strstr(err, "larger than") != NULL);
  free(big);
  CU_ASSERT_EQUAL(kefo__profile_set_parse(NULL, KEFO_PROFILE_FILE_CONFIG, "f",
                                          NULL, 0, err, sizeof(err)),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__profile_set_parse(set, KEFO_PROFILE_FILE_CONFIG, "f",
                                          NULL, 0, NULL, 0),
                  0);
  kefo__profile_set_del(set);
}

/* A scratch folder under /tmp, removed by rm_tree. */
static void make_dir(char *dir, size_t len) {
  snprintf(dir, len, "/tmp/kefo-profile-XXXXXX");
  CU_ASSERT_FATAL(mkdtemp(dir) != NULL);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");

  CU_ASSERT_FATAL(f != NULL);
  fputs(text, f);
  fclose(f);
}

static void rm_tree(const char *dir) {
  char cmd[600];

  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  CU_ASSERT_EQUAL(system(cmd), 0);
}

static void test_load_files(void) {
  char dir[64], config[128], creds[128], sub[128], err[512];
  kefo_profile_set *set = NULL;
  const char *env_pairs[] = {"HOME", dir, NULL};
  fake_env fe = {env_pairs};
  kefo_env env = {fake_getenv, &fe};
  int found = -1;
  FILE *f;
  size_t i;

  make_dir(dir, sizeof(dir));
  snprintf(sub, sizeof(sub), "%s/.aws", dir);
  CU_ASSERT_FATAL(mkdir(sub, 0700) == 0);
  snprintf(config, sizeof(config), "%s/.aws/config", dir);
  snprintf(creds, sizeof(creds), "%s/.aws/credentials", dir);

  /* Neither file: an empty set that says where it looked. */
  CU_ASSERT_EQUAL(
      kefo__profile_set_load_default(&set, NULL, &env, err, sizeof(err)), 0);
  CU_ASSERT_EQUAL(kefo__profile_set_count(set), 0);
  kefo__profile_set_describe(set, err, sizeof(err));
  CU_ASSERT(strstr(err, "neither") != NULL && strstr(err, config) != NULL &&
            strstr(err, creds) != NULL);
  kefo__profile_set_del(set);

  write_file(config, "[default]\nregion = us-east-2\n");
  write_file(creds, "[default]\naws_access_key_id = AKID\n");
  CU_ASSERT_EQUAL(
      kefo__profile_set_load_default(&set, NULL, &env, err, sizeof(err)), 0);
  CU_ASSERT(str_eq(value(set, "default", "region"), "us-east-2"));
  CU_ASSERT(str_eq(value(set, "default", "aws_access_key_id"), "AKID"));
  kefo__profile_set_del(set);

  /* A syntax error names the file and line. */
  write_file(creds, "[default]\naws_access_key_id\n");
  CU_ASSERT_EQUAL(
      kefo__profile_set_load_default(&set, NULL, &env, err, sizeof(err)),
      KEFO_ERR_CONFIG);
  CU_ASSERT(set == NULL);
  CU_ASSERT(strstr(err, creds) != NULL && strstr(err, ":2: ") != NULL);

  /* Missing, a folder, too large. */
  CU_ASSERT_FATAL(kefo__profile_set_new(&set, NULL) == 0);
  snprintf(sub, sizeof(sub), "%s/missing", dir);
  CU_ASSERT_EQUAL(kefo__profile_set_load_file(set, KEFO_PROFILE_FILE_CONFIG,
                                              sub, &found, err, sizeof(err)),
                  0);
  CU_ASSERT_EQUAL(found, 0);
  snprintf(sub, sizeof(sub), "%s/.aws", dir);
  CU_ASSERT_EQUAL(kefo__profile_set_load_file(set, KEFO_PROFILE_FILE_CONFIG,
                                              sub, &found, err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT(strstr(err, "not a regular file") != NULL);
  f = fopen(config, "wb");
  CU_ASSERT_FATAL(f != NULL);
  fputs("[default]\n", f);
  for (i = 0; i < KEFO_PROFILE_FILE_MAX / 15 + 1; ++i) {
    fputs("# padding line\n", f);
  }
  fclose(f);
  CU_ASSERT_EQUAL(kefo__profile_set_load_file(set, KEFO_PROFILE_FILE_CONFIG,
                                              config, &found, err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT(strstr(err, "larger than") != NULL && strstr(err, config) != NULL);
  kefo__profile_set_del(set);
  rm_tree(dir);
}

static void test_paths(void) {
  char config[KEFO_PROFILE_PATH_MAX], creds[KEFO_PROFILE_PATH_MAX], err[256];
  const char *pairs1[] = {"HOME", "/home/u", NULL};
  const char *pairs2[] = {"HOME",
                          "/home/u",
                          "AWS_CONFIG_FILE",
                          "~/cfg/config",
                          "AWS_SHARED_CREDENTIALS_FILE",
                          "/etc/aws/creds",
                          NULL};
  const char *pairs3[] = {"AWS_CONFIG_FILE", "/a/config", NULL};
  const char *pairs4[] = {"AWS_CONFIG_FILE", "/a/config",
                          "AWS_SHARED_CREDENTIALS_FILE", "/a/creds", NULL};
  const char *pairs5[] = {"AWS_PROFILE", "dev", "HOME", "", NULL};
  fake_env fe = {pairs1};
  kefo_env env = {fake_getenv, &fe};

  CU_ASSERT_EQUAL(kefo__profile_paths(&env, config, creds, err, sizeof(err)),
                  0);
  CU_ASSERT_STRING_EQUAL(config, "/home/u/.aws/config");
  CU_ASSERT_STRING_EQUAL(creds, "/home/u/.aws/credentials");
  fe.pairs = pairs2;
  CU_ASSERT_EQUAL(kefo__profile_paths(&env, config, creds, err, sizeof(err)),
                  0);
  CU_ASSERT_STRING_EQUAL(config, "/home/u/cfg/config");
  CU_ASSERT_STRING_EQUAL(creds, "/etc/aws/creds");
  fe.pairs = pairs3;
  CU_ASSERT_EQUAL(kefo__profile_paths(&env, config, creds, err, sizeof(err)),
                  KEFO_ERR_CONFIG);
  CU_ASSERT_STRING_EQUAL(err,
                         "HOME is not set, so ~/.aws/credentials cannot be "
                         "found");
  fe.pairs = pairs4;
  CU_ASSERT_EQUAL(kefo__profile_paths(&env, config, creds, err, sizeof(err)),
                  0);
  CU_ASSERT_STRING_EQUAL(creds, "/a/creds");

  /* Profile name: configured, AWS_PROFILE, "default"; empty is unset. */
  fe.pairs = pairs1;
  CU_ASSERT_STRING_EQUAL(kefo__profile_name(&env, NULL), "default");
  CU_ASSERT_STRING_EQUAL(kefo__profile_name(&env, "x"), "x");
  fe.pairs = pairs5;
  CU_ASSERT_STRING_EQUAL(kefo__profile_name(&env, NULL), "dev");
  CU_ASSERT_STRING_EQUAL(kefo__profile_name(&env, ""), "dev");
  CU_ASSERT(kefo__env_get(&env, "HOME") == NULL);
  CU_ASSERT(kefo__env_get(NULL, "KEFO_SURELY_UNSET_VARIABLE_42") == NULL);
}

static const char fm_config[] =
    "[default]\nregion = us-east-1\n"
    "[profile a]\nrole_arn = arn\nsource_profile = b\ns3 =\n  x = 1\n  y = 2\n"
    "[profile b]\nregion = eu-west-1\n[profile a]\nregion = r\n";
static const char fm_creds[] = "[b]\naws_access_key_id = AK\n"
                               "aws_secret_access_key = SK\n"
                               "[c]\naws_access_key_id = AK2\n";

static int fm_parse(const kefo_mem *mem, void *arg) {
  kefo_profile_set *set = NULL;
  char err[128];
  int rv;

  (void)arg;
  rv = kefo__profile_set_new(&set, mem);
  if (rv != 0) {
    return rv;
  }
  rv = kefo__profile_set_parse(set, KEFO_PROFILE_FILE_CONFIG, "config",
                               (const uint8_t *)fm_config, strlen(fm_config),
                               err, sizeof(err));
  if (rv == 0) {
    rv = kefo__profile_set_parse(set, KEFO_PROFILE_FILE_CREDENTIALS, "creds",
                                 (const uint8_t *)fm_creds, strlen(fm_creds),
                                 err, sizeof(err));
  }
  if (rv == 0 && !(str_eq(value(set, "b", "aws_secret_access_key"), "SK") &&
                   str_eq(value(set, "a", "s3"), "\nx = 1\ny = 2") &&
                   str_eq(value(set, "a", "region"), "r"))) {
    rv = -1;
  }
  kefo__profile_set_del(set);
  return rv;
}

static int fm_load(const kefo_mem *mem, void *arg) {
  const kefo_env *env = arg;
  kefo_profile_set *set = NULL;
  char err[256];
  int rv;

  rv = kefo__profile_set_load_default(&set, mem, env, err, sizeof(err));
  if (rv == 0 && !str_eq(value(set, "c", "aws_access_key_id"), "AK2")) {
    rv = -1;
  }
  kefo__profile_set_del(set);
  return rv;
}

static void test_failmalloc(void) {
  char dir[64], config[128], creds[128];
  const char *pairs[] = {"AWS_CONFIG_FILE", config,
                         "AWS_SHARED_CREDENTIALS_FILE", creds, NULL};
  fake_env fe = {pairs};
  kefo_env env = {fake_getenv, &fe};

  kefo_failmalloc_run(fm_parse, NULL);
  make_dir(dir, sizeof(dir));
  snprintf(config, sizeof(config), "%s/config", dir);
  snprintf(creds, sizeof(creds), "%s/credentials", dir);
  write_file(config, fm_config);
  write_file(creds, fm_creds);
  kefo_failmalloc_run(fm_load, &env);
  rm_tree(dir);
}

int kefo_add_profile_file_suite(void) {
  CU_pSuite s = CU_add_suite("profile_file", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "config_grammar", test_config_grammar) ||
      !CU_add_test(s, "credentials_grammar", test_credentials_grammar) ||
      !CU_add_test(s, "merge_and_default", test_merge_and_default) ||
      !CU_add_test(s, "errors", test_errors) ||
      !CU_add_test(s, "load_files", test_load_files) ||
      !CU_add_test(s, "paths", test_paths) ||
      !CU_add_test(s, "failmalloc", test_failmalloc)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
