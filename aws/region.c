/*
 * Region and endpoint resolution. Only the "aws" and "aws-cn" partitions
 * are known; other partitions need an explicit endpoint.
 */
#include "aws/region.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"

static int is_lower_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int kefo__region_valid(const char *region) {
  size_t i, len;

  if (region == NULL) {
    return 0;
  }
  len = strlen(region);
  if (len == 0 || len >= KEFO_REGION_MAX || !is_lower_alnum(region[0]) ||
      !is_lower_alnum(region[len - 1])) {
    return 0;
  }
  for (i = 0; i < len; ++i) {
    if (!is_lower_alnum(region[i]) && region[i] != '-') {
      return 0;
    }
  }
  return 1;
}

int kefo__arn_region(const char *arn, char *out) {
  const char *p, *end;
  int field;

  out[0] = '\0';
  if (arn == NULL || strncmp(arn, "arn:", 4) != 0) {
    return 0;
  }
  /* Past "arn:", the partition and the service: the region follows the
     third ':'. */
  for (p = arn, field = 0; *p && field < 3; ++p) {
    field += *p == ':';
  }
  end = strchr(p, ':');
  if (field < 3 || end == NULL || end == p ||
      (size_t)(end - p) >= KEFO_REGION_MAX) {
    return 0;
  }
  memcpy(out, p, (size_t)(end - p));
  out[end - p] = '\0';
  if (!kefo__region_valid(out)) {
    out[0] = '\0';
    return 0;
  }
  return 1;
}

/* Copies |value| from |source| into |out| when it is a region name. */
static int take(char *out, const char *value, const char *source, char *err,
                size_t errlen) {
  if (!kefo__region_valid(value)) {
    /* A region is no secret, but a mistyped one could be anything: show
       a bounded part of it. */
    kefo__set_err(err, errlen,
                  "%s is not a region name (expected something like "
                  "us-east-1): '%.64s'",
                  source, value);
    return KEFO_ERR_CONFIG;
  }
  memcpy(out, value, strlen(value) + 1);
  return 0;
}

int kefo__region_resolve(char *out, const char *configured, const kefo_env *env,
                         const kefo_profile_set *profiles,
                         const char *profile_name, char *err, size_t errlen) {
  const char *v;
  char where[1024];

  if (out == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  out[0] = '\0';
  if (configured != NULL && configured[0] != '\0') {
    return take(out, configured, "aws.region", err, errlen);
  }
  v = kefo__env_get(env, "AWS_REGION");
  if (v != NULL) {
    return take(out, v, "AWS_REGION", err, errlen);
  }
  v = kefo__env_get(env, "AWS_DEFAULT_REGION");
  if (v != NULL) {
    return take(out, v, "AWS_DEFAULT_REGION", err, errlen);
  }
  if (profiles != NULL && profile_name != NULL) {
    const kefo_profile *p = kefo__profile_set_find(profiles, profile_name);
    v = kefo__profile_get(p, "region");
    if (v != NULL && v[0] != '\0') {
      char source[128];
      snprintf(source, sizeof(source), "region of profile '%.64s'",
               profile_name);
      return take(out, v, source, err, errlen);
    }
    kefo__profile_set_describe(profiles, where, sizeof(where));
    kefo__set_err(
        err, errlen,
        "no region: set aws.region, AWS_REGION or AWS_DEFAULT_REGION, "
        "or region in profile '%.64s' (looked in %s)",
        profile_name, where);
    return KEFO_ERR_CONFIG;
  }
  kefo__set_err(err, errlen,
                "no region: set aws.region, AWS_REGION or AWS_DEFAULT_REGION");
  return KEFO_ERR_CONFIG;
}

int kefo__region_resolve_default(char *out, const char *configured,
                                 const char *profile_name, const kefo_env *env,
                                 const kefo_mem *mem, char *err,
                                 size_t errlen) {
  kefo_profile_set *set = NULL;
  int rv;

  if (out == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if ((configured != NULL && configured[0] != '\0') ||
      kefo__env_get(env, "AWS_REGION") != NULL ||
      kefo__env_get(env, "AWS_DEFAULT_REGION") != NULL) {
    return kefo__region_resolve(out, configured, env, NULL, NULL, err, errlen);
  }
  out[0] = '\0';
  rv = kefo__profile_set_load_default(&set, mem, env, err, errlen);
  if (rv != 0) {
    return rv;
  }
  rv = kefo__region_resolve(out, NULL, env, set,
                            kefo__profile_name(env, profile_name), err, errlen);
  kefo__profile_set_del(set);
  return rv;
}

const char *kefo__service_name(kefo_service_id svc) {
  switch (svc) {
  case KEFO_SERVICE_KINESIS:
    return "kinesis";
  case KEFO_SERVICE_DYNAMODB:
    return "dynamodb";
  case KEFO_SERVICE_STS:
    return "sts";
  default:
    return NULL;
  }
}

static const char *service_env(kefo_service_id svc) {
  switch (svc) {
  case KEFO_SERVICE_KINESIS:
    return "AWS_ENDPOINT_URL_KINESIS";
  case KEFO_SERVICE_DYNAMODB:
    return "AWS_ENDPOINT_URL_DYNAMODB";
  default:
    return "AWS_ENDPOINT_URL_STS";
  }
}

static int is_true(const char *v) {
  return v != NULL && (v[0] == 't' || v[0] == 'T') &&
         (v[1] == 'r' || v[1] == 'R') && (v[2] == 'u' || v[2] == 'U') &&
         (v[3] == 'e' || v[3] == 'E') && v[4] == '\0';
}

int kefo__endpoint_resolve(char *url, kefo_endpoint *ep, kefo_service_id svc,
                           const char *region, const char *configured,
                           const kefo_env *env, char *err, size_t errlen) {
  const char *name = kefo__service_name(svc), *source = NULL, *v = NULL;
  kefo_endpoint tmp;
  int n;

  if (url == NULL || name == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  url[0] = '\0';
  if (configured != NULL && configured[0] != '\0') {
    v = configured;
    source = "aws.endpoint";
  } else if (!is_true(
                 kefo__env_get(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"))) {
    source = service_env(svc);
    v = kefo__env_get(env, source);
    if (v == NULL) {
      source = "AWS_ENDPOINT_URL";
      v = kefo__env_get(env, source);
    }
  }
  if (v != NULL) {
    n = snprintf(url, KEFO_ENDPOINT_URL_MAX, "%s", v);
    if (n < 0 || n >= KEFO_ENDPOINT_URL_MAX ||
        kefo__endpoint_parse(ep ? ep : &tmp, url) != 0) {
      kefo__set_err(err, errlen,
                    "%s is not an http:// or https:// URL with only a host and "
                    "port: '%.200s'",
                    source, v);
      url[0] = '\0';
      return KEFO_ERR_CONFIG;
    }
    return 0;
  }
  if (svc == KEFO_SERVICE_STS && (region == NULL || region[0] == '\0' ||
                                  strcmp(region, "aws-global") == 0)) {
    snprintf(url, KEFO_ENDPOINT_URL_MAX, "https://sts.amazonaws.com");
  } else if (region == NULL || region[0] == '\0') {
    kefo__set_err(err, errlen,
                  "no region to build the %s endpoint from: set aws.region or "
                  "AWS_REGION, or give an endpoint",
                  name);
    return KEFO_ERR_CONFIG;
  } else if (!kefo__region_valid(region)) {
    kefo__set_err(err, errlen, "'%.64s' is not a region name", region);
    return KEFO_ERR_CONFIG;
  } else {
    snprintf(url, KEFO_ENDPOINT_URL_MAX, "https://%s.%s.amazonaws.com%s", name,
             region, strncmp(region, "cn-", 3) == 0 ? ".cn" : "");
  }
  if (kefo__endpoint_parse(ep ? ep : &tmp, url) != 0) {
    kefo__set_err(err, errlen, "cannot parse the endpoint %s", url);
    url[0] = '\0';
    return KEFO_ERR_CONFIG;
  }
  return 0;
}
