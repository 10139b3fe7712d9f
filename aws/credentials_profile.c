/*
 * Credentials from a profile of the shared files. The files are read at
 * each get (they may have been rewritten since) and the profile turned
 * into a provider for that get: static keys, or STS AssumeRole from a
 * source profile or credential source, or web identity.
 */
#include "aws/credentials.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aws/region.h"

/* Longest source_profile chain followed. */
#define MAX_DEPTH 8
#define MSG_MAX 1024

typedef struct profile_provider profile_provider;

typedef struct profile_req {
  kefo_credentials_pending link; /* first: the list's entries cast back */
  const kefo_mem *mem;
  kefo_credentials_cb cb;
  void *user_data;
  kefo_credentials_provider *inner;
  char name[128];
} profile_req;

struct profile_provider {
  kefo_credentials_provider base;
  const kefo_mem *mem;
  /* Strings below are this provider's copies. */
  kefo_credentials_options opts;
  kefo_credentials_pending *reqs;
};

typedef struct build_ctx {
  profile_provider *pp;
  const kefo_profile_set *set;
  kefo_credentials_options opts;
  const char *visited[MAX_DEPTH + 1];
  size_t nvisited;
  char *err;
  size_t errlen;
} build_ctx;

static int build(build_ctx *bc, const char *name, const char *referrer,
                 kefo_credentials_provider **out);

static int static_from(build_ctx *bc, const kefo_profile *p, const char *name,
                       kefo_credentials_provider **out) {
  kefo_credentials c;
  char why[256];
  int rv;

  memset(&c, 0, sizeof(c));
  c.access_key_id = kefo__profile_get(p, "aws_access_key_id");
  c.secret_access_key = kefo__profile_get(p, "aws_secret_access_key");
  c.session_token = kefo__profile_get(p, "aws_session_token");
  if (c.session_token != NULL && c.session_token[0] == '\0') {
    c.session_token = NULL;
  }
  if (c.access_key_id == NULL || c.access_key_id[0] == '\0') {
    snprintf(bc->err, bc->errlen, "profile '%s' has no aws_access_key_id",
             name);
    return KEFO_ERR_CREDENTIALS;
  }
  if (c.secret_access_key == NULL || c.secret_access_key[0] == '\0') {
    snprintf(bc->err, bc->errlen,
             "profile '%s' has aws_access_key_id but no "
             "aws_secret_access_key",
             name);
    return KEFO_ERR_CREDENTIALS;
  }
  if (kefo__credentials_check(&c, why, sizeof(why)) != 0) {
    snprintf(bc->err, bc->errlen, "profile '%s': %s", name, why);
    return KEFO_ERR_CREDENTIALS;
  }
  rv = kefo__credentials_static_new(out, bc->pp->mem, c.access_key_id,
                                    c.secret_access_key, c.session_token);
  if (rv != 0) {
    snprintf(bc->err, bc->errlen, "out of memory");
  }
  return rv;
}

static int parse_duration(const char *s, uint32_t *out) {
  char *end;
  unsigned long v;

  if (s == NULL || s[0] == '\0') {
    *out = 0;
    return 0;
  }
  if (s[0] < '0' || s[0] > '9') {
    return -1;
  }
  v = strtoul(s, &end, 10);
  if (*end != '\0' || v < 900 || v > 43200) {
    return -1;
  }
  *out = (uint32_t)v;
  return 0;
}

/* The source_profile |src| of profile |name| as a provider: the profile's
   own keys when it names itself, else that profile built in turn, unless
   the chain loops or grows too long. */
static int source_from_profile(build_ctx *bc, const kefo_profile *p,
                               const char *name, const char *src,
                               kefo_credentials_provider **out) {
  size_t i, j, len = 0;

  if (strcmp(src, name) == 0) {
    /* A profile that is its own source uses its own keys. */
    return static_from(bc, p, name, out);
  }
  for (i = 0; i < bc->nvisited; ++i) {
    if (strcmp(bc->visited[i], src) == 0) {
      len += (size_t)snprintf(bc->err, bc->errlen, "source_profile loop:");
      for (j = 0; j < bc->nvisited && len < bc->errlen; ++j) {
        len += (size_t)snprintf(bc->err + len, bc->errlen - len, " %s ->",
                                bc->visited[j]);
      }
      if (len < bc->errlen) {
        snprintf(bc->err + len, bc->errlen - len, " %s", src);
      }
      return KEFO_ERR_CREDENTIALS;
    }
  }
  if (bc->nvisited >= MAX_DEPTH) {
    snprintf(bc->err, bc->errlen,
             "source_profile chain from profile '%s' is longer than %d",
             bc->visited[0], MAX_DEPTH);
    return KEFO_ERR_CREDENTIALS;
  }
  return build(bc, src, name, out);
}

/* The credential_source |cs| of profile |name| as a provider. */
static int source_from_credential_source(build_ctx *bc, const char *name,
                                         const char *cs,
                                         kefo_credentials_provider **out) {
  int rv;

  if (strcmp(cs, "Environment") == 0) {
    rv = kefo__credentials_env_new(out, &bc->opts);
  } else if (strcmp(cs, "Ec2InstanceMetadata") == 0) {
    rv = kefo__credentials_imds_new(out, &bc->opts);
  } else if (strcmp(cs, "EcsContainer") == 0) {
    rv = kefo__credentials_container_new(out, &bc->opts);
  } else {
    snprintf(bc->err, bc->errlen,
             "credential_source of profile '%s' is '%.64s', not "
             "Environment, Ec2InstanceMetadata or EcsContainer",
             name, cs);
    return KEFO_ERR_CREDENTIALS;
  }
  if (rv != 0) {
    snprintf(bc->err, bc->errlen, "out of memory");
  }
  return rv;
}

static int build_role(build_ctx *bc, const kefo_profile *p, const char *name,
                      const char *role_arn, kefo_credentials_provider **out) {
  const char *wif = kefo__profile_get(p, "web_identity_token_file");
  const char *src = kefo__profile_get(p, "source_profile");
  const char *cs = kefo__profile_get(p, "credential_source");
  const char *session = kefo__profile_get(p, "role_session_name");
  kefo_credentials_provider *source = NULL;
  uint32_t duration;
  int rv;

  if (session != NULL && session[0] == '\0') {
    session = NULL;
  }
  if (wif != NULL && wif[0] != '\0') {
    rv = kefo__credentials_web_identity_new(out, &bc->opts, role_arn, session,
                                            wif);
    if (rv != 0) {
      snprintf(bc->err, bc->errlen, "out of memory");
    }
    return rv;
  }
  if (parse_duration(kefo__profile_get(p, "duration_seconds"), &duration) !=
      0) {
    snprintf(bc->err, bc->errlen,
             "duration_seconds of profile '%s' is not a number of seconds "
             "from 900 to 43200",
             name);
    return KEFO_ERR_CREDENTIALS;
  }
  if (src != NULL && src[0] != '\0' && cs != NULL && cs[0] != '\0') {
    snprintf(bc->err, bc->errlen,
             "profile '%s' sets both source_profile and credential_source",
             name);
    return KEFO_ERR_CREDENTIALS;
  }
  if (src != NULL && src[0] != '\0') {
    rv = source_from_profile(bc, p, name, src, &source);
  } else if (cs != NULL && cs[0] != '\0') {
    rv = source_from_credential_source(bc, name, cs, &source);
  } else {
    snprintf(bc->err, bc->errlen,
             "profile '%s' has role_arn but no source_profile, "
             "credential_source or web_identity_token_file",
             name);
    return KEFO_ERR_CREDENTIALS;
  }
  if (rv != 0) {
    return rv;
  }
  rv = kefo__credentials_assume_role_new(
      out, &bc->opts, source, role_arn, session,
      kefo__profile_get(p, "external_id"), duration);
  if (rv != 0) {
    snprintf(bc->err, bc->errlen, "out of memory");
  }
  return rv;
}

static int build(build_ctx *bc, const char *name, const char *referrer,
                 kefo_credentials_provider **out) {
  const kefo_profile *p = kefo__profile_set_find(bc->set, name);
  const char *role_arn;
  char where[600];
  int rv;

  if (p == NULL) {
    kefo__profile_set_describe(bc->set, where, sizeof(where));
    if (referrer != NULL) {
      snprintf(bc->err, bc->errlen,
               "profile '%s' (source_profile of '%s') not found in %s", name,
               referrer, where);
    } else {
      snprintf(bc->err, bc->errlen, "profile '%s' not found in %s", name,
               where);
    }
    return KEFO_ERR_CREDENTIALS;
  }
  bc->visited[bc->nvisited++] = name;
  role_arn = kefo__profile_get(p, "role_arn");
  if (role_arn != NULL && role_arn[0] != '\0') {
    rv = build_role(bc, p, name, role_arn, out);
  } else if (kefo__profile_get(p, "aws_access_key_id") != NULL) {
    rv = static_from(bc, p, name, out);
  } else if (kefo__profile_get(p, "credential_process") != NULL) {
    snprintf(bc->err, bc->errlen,
             "profile '%s' uses credential_process, which kefo does not "
             "run",
             name);
    rv = KEFO_ERR_CREDENTIALS;
  } else if (kefo__profile_get(p, "sso_session") != NULL ||
             kefo__profile_get(p, "sso_start_url") != NULL) {
    snprintf(bc->err, bc->errlen,
             "profile '%s' uses IAM Identity Center (sso_*), which kefo "
             "does not support",
             name);
    rv = KEFO_ERR_CREDENTIALS;
  } else {
    snprintf(bc->err, bc->errlen,
             "profile '%s' has no credentials (no aws_access_key_id or "
             "role_arn)",
             name);
    rv = KEFO_ERR_CREDENTIALS;
  }
  --bc->nvisited;
  return rv;
}

static void profile_on_inner(int error, const kefo_credentials *creds,
                             const kefo_error_info *info, void *user_data) {
  profile_req *r = user_data;
  kefo_credentials_cb cb = r->cb;
  void *ud = r->user_data;

  kefo__credentials_pending_remove(&r->link);
  if (error == 0) {
    cb(0, creds, NULL, ud);
  } else {
    kefo_error_info mine;
    char msg[MSG_MAX + 160];

    memset(&mine, 0, sizeof(mine));
    if (info != NULL) {
      mine = *info;
    }
    mine.code = error;
    snprintf(msg, sizeof(msg), "profile '%s': %s", r->name,
             info && info->message ? info->message : kefo_strerror(error));
    mine.message = msg;
    cb(error, NULL, &mine, ud);
  }
  /* |inner| called back as its last act: it may go now. */
  kefo__credentials_provider_del(r->inner);
  kefo__mem_free(r->mem, r);
}

static int profile_get(kefo_credentials_provider *p, kefo_credentials_cb cb,
                       void *user_data) {
  profile_provider *pp = (profile_provider *)p;
  kefo_profile_set *set = NULL;
  kefo_credentials_provider *inner = NULL;
  const char *name;
  char err[MSG_MAX], region[KEFO_REGION_MAX];
  build_ctx bc;
  profile_req *r;
  int rv;

  err[0] = '\0';
  rv = kefo__profile_set_load_default(&set, pp->mem, pp->opts.env, err,
                                      sizeof(err));
  if (rv == KEFO_ERR_NOMEM) {
    return rv;
  }
  if (rv != 0) {
    kefo__credentials_fail(cb, user_data, KEFO_ERR_CREDENTIALS, err, NULL, 0,
                           0);
    return 0;
  }
  name = kefo__profile_name(pp->opts.env, pp->opts.profile);
  memset(&bc, 0, sizeof(bc));
  bc.pp = pp;
  bc.set = set;
  bc.opts = pp->opts;
  bc.err = err;
  bc.errlen = sizeof(err);
  /* STS's region: configured, else the environment's, else the
     profile's; kefo__region_resolve takes them in that order. */
  if (kefo__region_resolve(region, pp->opts.region, pp->opts.env, set, name,
                           NULL, 0) == 0) {
    bc.opts.region = region;
  }
  rv = build(&bc, name, NULL, &inner);
  kefo__profile_set_del(set);
  if (rv == KEFO_ERR_NOMEM) {
    return rv;
  }
  if (rv != 0) {
    kefo__credentials_fail(cb, user_data, rv, err, NULL, 0, 0);
    return 0;
  }
  r = kefo__mem_calloc(pp->mem, 1, sizeof(*r));
  if (r == NULL) {
    kefo__credentials_provider_del(inner);
    return KEFO_ERR_NOMEM;
  }
  r->mem = pp->mem;
  r->cb = cb;
  r->user_data = user_data;
  r->inner = inner;
  snprintf(r->name, sizeof(r->name), "%s", name);
  kefo__credentials_pending_add(&pp->reqs, &r->link);
  rv = kefo__credentials_provider_get(inner, profile_on_inner, r);
  if (rv != 0) {
    kefo__credentials_pending_remove(&r->link);
    kefo__credentials_provider_del(inner);
    kefo__mem_free(pp->mem, r);
  }
  return rv;
}

static void profile_del(kefo_credentials_provider *p) {
  profile_provider *pp = (profile_provider *)p;

  while (pp->reqs != NULL) {
    profile_req *r = (profile_req *)pp->reqs;
    kefo__credentials_pending_remove(&r->link);
    kefo__credentials_provider_del(r->inner);
    kefo__mem_free(pp->mem, r);
  }
  kefo__mem_free(pp->mem, (char *)pp->opts.region);
  kefo__mem_free(pp->mem, (char *)pp->opts.sts_endpoint);
  kefo__mem_free(pp->mem, (char *)pp->opts.profile);
  kefo__mem_free(pp->mem, pp);
}

static const kefo_credentials_provider_ops profile_ops = {profile_get,
                                                          profile_del, NULL};

static int dup_opt(const kefo_mem *mem, const char *s, const char **out) {
  size_t n;
  char *d;

  *out = NULL;
  if (s == NULL || s[0] == '\0') {
    return 0;
  }
  n = strlen(s) + 1;
  d = kefo__mem_malloc(mem, n);
  if (d == NULL) {
    return KEFO_ERR_NOMEM;
  }
  memcpy(d, s, n);
  *out = d;
  return 0;
}

int kefo__credentials_profile_new(kefo_credentials_provider **out,
                                  const kefo_credentials_options *opts) {
  const kefo_mem *mem;
  profile_provider *pp;

  if (out == NULL || opts == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__mem_or_default(opts->mem);
  pp = kefo__mem_calloc(mem, 1, sizeof(*pp));
  if (pp == NULL) {
    return KEFO_ERR_NOMEM;
  }
  pp->base.ops = &profile_ops;
  pp->base.name = "profile";
  pp->mem = mem;
  pp->opts.mem = mem;
  pp->opts.clock = opts->clock;
  pp->opts.env = opts->env;
  pp->opts.transport = opts->transport;
  /* No timer below: the cache above owns refreshing. */
  pp->opts.base = NULL;
  if (dup_opt(mem, opts->region, &pp->opts.region) != 0 ||
      dup_opt(mem, opts->sts_endpoint, &pp->opts.sts_endpoint) != 0 ||
      dup_opt(mem, opts->profile, &pp->opts.profile) != 0) {
    profile_del(&pp->base);
    return KEFO_ERR_NOMEM;
  }
  *out = &pp->base;
  return 0;
}
