/*
 * Credentials from the environment: AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN, looked up at each get so a
 * changed environment is seen.
 */
#include "aws/credentials.h"

#include <stdio.h>
#include <string.h>

typedef struct env_provider {
  kefo_credentials_provider base;
  const kefo_mem *mem;
  const kefo_env *env;
} env_provider;

static int env_get(kefo_credentials_provider *p, kefo_credentials_cb cb,
                   void *user_data) {
  env_provider *ep = (env_provider *)p;
  kefo_credentials c;
  char msg[256];

  memset(&c, 0, sizeof(c));
  c.access_key_id = kefo__env_get(ep->env, "AWS_ACCESS_KEY_ID");
  c.secret_access_key = kefo__env_get(ep->env, "AWS_SECRET_ACCESS_KEY");
  c.session_token = kefo__env_get(ep->env, "AWS_SESSION_TOKEN");
  if (c.access_key_id == NULL && c.secret_access_key == NULL) {
    kefo__credentials_fail(cb, user_data, KEFO_ERR_CREDENTIALS,
                           "AWS_ACCESS_KEY_ID is not set", NULL, 0, 0);
    return 0;
  }
  if (c.access_key_id == NULL) {
    kefo__credentials_fail(
        cb, user_data, KEFO_ERR_CREDENTIALS,
        "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not", NULL, 0,
        0);
    return 0;
  }
  if (c.secret_access_key == NULL) {
    kefo__credentials_fail(
        cb, user_data, KEFO_ERR_CREDENTIALS,
        "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not", NULL, 0,
        0);
    return 0;
  }
  if (kefo__credentials_check(&c, msg, sizeof(msg)) != 0) {
    char full[320];
    snprintf(full, sizeof(full), "from AWS_ACCESS_KEY_ID and friends: %s", msg);
    kefo__credentials_fail(cb, user_data, KEFO_ERR_CREDENTIALS, full, NULL, 0,
                           0);
    return 0;
  }
  cb(0, &c, NULL, user_data);
  return 0;
}

static void env_del(kefo_credentials_provider *p) {
  env_provider *ep = (env_provider *)p;

  kefo__mem_free(ep->mem, ep);
}

static const kefo_credentials_provider_ops env_ops = {env_get, env_del, NULL};

int kefo__credentials_env_new(kefo_credentials_provider **out,
                              const kefo_credentials_options *opts) {
  const kefo_mem *mem;
  env_provider *ep;

  if (out == NULL || opts == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__mem_or_default(opts->mem);
  ep = kefo__mem_calloc(mem, 1, sizeof(*ep));
  if (ep == NULL) {
    return KEFO_ERR_NOMEM;
  }
  ep->base.ops = &env_ops;
  ep->base.name = "environment";
  ep->mem = mem;
  ep->env = opts->env;
  *out = &ep->base;
  return 0;
}
