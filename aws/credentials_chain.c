/*
 * Providers tried in order until one answers (the chain), the AWS SDKs'
 * default chain built from every provider, and the default provider the
 * consumer uses: that chain behind the cache.
 */
#include "aws/credentials.h"

#include <stdio.h>
#include <string.h>

/* Room for the chain's message listing every provider's reason. */
#define CHAIN_MSG_MAX 2048

typedef struct chain_provider chain_provider;

typedef struct chain_req {
  kefo_credentials_pending link; /* first: the list's entries cast back */
  chain_provider *chain;
  const kefo_mem *mem;
  kefo_credentials_cb cb;
  void *user_data;
  size_t index;
  /* The remembered provider tried first; skipped on the full pass. */
  size_t skip;
  int retryable;
  int nomem;
  size_t msglen;
  char msg[CHAIN_MSG_MAX];
} chain_req;

struct chain_provider {
  kefo_credentials_provider base;
  const kefo_mem *mem;
  kefo_credentials_provider **providers;
  size_t n;
  /* The provider that answered last, or n. */
  size_t last;
  kefo_credentials_pending *reqs;
};

static void chain_note(chain_req *r, const char *name, const char *why) {
  int n;

  if (r->msglen + 1 >= sizeof(r->msg)) {
    return;
  }
  n = snprintf(r->msg + r->msglen, sizeof(r->msg) - r->msglen, "%s%s: %s",
               r->msglen > 0 ? "; " : "", name, why);
  if (n > 0) {
    r->msglen += (size_t)n;
    if (r->msglen >= sizeof(r->msg)) {
      r->msglen = sizeof(r->msg) - 1;
    }
  }
}

static void chain_next(chain_req *r);

static void chain_on_link(int error, const kefo_credentials *creds,
                          const kefo_error_info *info, void *user_data) {
  chain_req *r = user_data;
  chain_provider *c = r->chain;

  if (error == 0) {
    kefo_credentials_cb cb = r->cb;
    void *ud = r->user_data;
    const kefo_mem *mem = r->mem;

    c->last = r->index;
    kefo__credentials_pending_remove(&r->link);
    kefo__mem_free(mem, r);
    cb(0, creds, NULL, ud);
    return;
  }
  chain_note(r, c->providers[r->index]->name,
             info != NULL && info->message != NULL && info->message[0]
                 ? info->message
                 : kefo_strerror(error));
  if (info != NULL && info->retryable) {
    r->retryable = 1;
  }
  if (error == KEFO_ERR_NOMEM) {
    r->nomem = 1;
    r->index = c->n;
  } else if (r->skip == c->n && r->index == c->last) {
    /* The remembered provider failed: try them all, from the first. */
    r->skip = r->index;
    r->index = 0;
    chain_next(r);
    return;
  } else {
    ++r->index;
  }
  chain_next(r);
}

static void chain_next(chain_req *r) {
  chain_provider *c = r->chain;

  for (;;) {
    int rv;

    if (r->index == r->skip && r->index < c->n) {
      ++r->index;
    }
    if (r->index >= c->n) {
      kefo_credentials_cb cb = r->cb;
      void *ud = r->user_data;
      kefo_error_info info;
      char msg[CHAIN_MSG_MAX + 64];

      kefo__credentials_pending_remove(&r->link);
      memset(&info, 0, sizeof(info));
      info.code = r->nomem ? KEFO_ERR_NOMEM : KEFO_ERR_CREDENTIALS;
      snprintf(msg, sizeof(msg), "no AWS credentials found: %s", r->msg);
      info.message = msg;
      info.retryable = r->retryable;
      kefo__mem_free(r->mem, r);
      cb(info.code, NULL, &info, ud);
      return;
    }
    rv = kefo__credentials_provider_get(c->providers[r->index], chain_on_link,
                                        r);
    if (rv == 0) {
      /* The link answers, maybe already has: |r| may be gone. */
      return;
    }
    chain_note(r, c->providers[r->index]->name, kefo_strerror(rv));
    if (rv == KEFO_ERR_NOMEM) {
      r->nomem = 1;
      r->index = c->n;
      continue;
    }
    ++r->index;
  }
}

static int chain_get(kefo_credentials_provider *p, kefo_credentials_cb cb,
                     void *user_data) {
  chain_provider *c = (chain_provider *)p;
  chain_req *r;

  r = kefo__mem_calloc(c->mem, 1, sizeof(*r));
  if (r == NULL) {
    return KEFO_ERR_NOMEM;
  }
  r->chain = c;
  r->mem = c->mem;
  r->cb = cb;
  r->user_data = user_data;
  r->skip = c->n;
  r->index = c->last < c->n ? c->last : 0;
  kefo__credentials_pending_add(&c->reqs, &r->link);
  chain_next(r);
  return 0;
}

static void chain_del(kefo_credentials_provider *p) {
  chain_provider *c = (chain_provider *)p;
  size_t i;

  /* Providers first: they call back no more once deleted. */
  for (i = 0; i < c->n; ++i) {
    kefo__credentials_provider_del(c->providers[i]);
  }
  while (c->reqs != NULL) {
    chain_req *r = (chain_req *)c->reqs;
    kefo__credentials_pending_remove(&r->link);
    kefo__mem_free(c->mem, r);
  }
  kefo__mem_free(c->mem, c->providers);
  kefo__mem_free(c->mem, c);
}

static const kefo_credentials_provider_ops chain_ops = {chain_get, chain_del,
                                                        NULL};

int kefo__credentials_chain_new(kefo_credentials_provider **out,
                                const kefo_mem *mem,
                                kefo_credentials_provider **providers,
                                size_t n) {
  chain_provider *c = NULL;
  size_t i;

  mem = kefo__mem_or_default(mem);
  if (out == NULL || providers == NULL || n == 0) {
    goto fail;
  }
  for (i = 0; i < n; ++i) {
    if (providers[i] == NULL) {
      goto fail;
    }
  }
  c = kefo__mem_calloc(mem, 1, sizeof(*c));
  if (c == NULL) {
    goto fail_nomem;
  }
  c->providers = kefo__mem_calloc(mem, n, sizeof(*c->providers));
  if (c->providers == NULL) {
    kefo__mem_free(mem, c);
    goto fail_nomem;
  }
  memcpy(c->providers, providers, n * sizeof(*providers));
  c->base.ops = &chain_ops;
  c->base.name = "default chain";
  c->mem = mem;
  c->n = n;
  c->last = n;
  *out = &c->base;
  return 0;

fail_nomem:
  for (i = 0; i < n; ++i) {
    kefo__credentials_provider_del(providers[i]);
  }
  return KEFO_ERR_NOMEM;

fail:
  if (providers != NULL) {
    for (i = 0; i < n; ++i) {
      kefo__credentials_provider_del(providers[i]);
    }
  }
  return KEFO_ERR_INVALID_ARGUMENT;
}

int kefo__credentials_default_chain_new(kefo_credentials_provider **out,
                                        const kefo_credentials_options *opts) {
  kefo_credentials_provider *list[6];
  size_t n = 0, i;
  int rv;

  if (out == NULL || opts == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (opts->access_key_id != NULL && opts->access_key_id[0] != '\0' &&
      opts->secret_access_key != NULL && opts->secret_access_key[0] != '\0') {
    rv = kefo__credentials_static_new(&list[n], opts->mem, opts->access_key_id,
                                      opts->secret_access_key,
                                      opts->session_token);
    if (rv != 0) {
      goto fail;
    }
    ++n;
  }
  rv = kefo__credentials_env_new(&list[n], opts);
  if (rv != 0) {
    goto fail;
  }
  ++n;
  rv = kefo__credentials_web_identity_new(&list[n], opts, NULL, NULL, NULL);
  if (rv != 0) {
    goto fail;
  }
  ++n;
  rv = kefo__credentials_profile_new(&list[n], opts);
  if (rv != 0) {
    goto fail;
  }
  ++n;
  rv = kefo__credentials_container_new(&list[n], opts);
  if (rv != 0) {
    goto fail;
  }
  ++n;
  rv = kefo__credentials_imds_new(&list[n], opts);
  if (rv != 0) {
    goto fail;
  }
  ++n;
  return kefo__credentials_chain_new(out, opts->mem, list, n);

fail:
  for (i = 0; i < n; ++i) {
    kefo__credentials_provider_del(list[i]);
  }
  return rv;
}

int kefo__credentials_default_new(kefo_credentials_provider **out,
                                  const kefo_credentials_options *opts) {
  kefo_credentials_provider *chain;
  int rv;

  if (out == NULL || opts == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  rv = kefo__credentials_default_chain_new(&chain, opts);
  if (rv != 0) {
    return rv;
  }
  return kefo__credentials_cache_new(out, opts, chain);
}
