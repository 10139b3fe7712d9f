/*
 * The provider interface and what every provider shares: owned credential
 * copies and their checks, redaction and wiping, the list of requests in
 * flight, the failure callback, and the simplest provider, static keys.
 * The rest of the module: credentials_json.c (the metadata document),
 * credentials_io.c (HTTP exchange, token files), credentials_chain.c and
 * credentials_cache.c.
 */
#include "aws/credentials.h"

#include <string.h>

#include "base/error.h"

#define MAX_ACCESS_KEY_ID 128
#define MAX_SECRET 256
#define MAX_TOKEN (16 * 1024)

void kefo__credentials_wipe(void *p, size_t len) {
  volatile unsigned char *q = p;

  while (len--) {
    *q++ = 0;
  }
}

int kefo__credentials_provider_get(kefo_credentials_provider *p,
                                   kefo_credentials_cb cb, void *user_data) {
  if (p == NULL || cb == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  return p->ops->get(p, cb, user_data);
}

void kefo__credentials_provider_del(kefo_credentials_provider *p) {
  if (p != NULL) {
    p->ops->del(p);
  }
}

void kefo__credentials_provider_invalidate(kefo_credentials_provider *p) {
  if (p != NULL && p->ops->invalidate != NULL) {
    p->ops->invalidate(p);
  }
}

void kefo__credentials_pending_add(kefo_credentials_pending **head,
                                   kefo_credentials_pending *p) {
  p->prev = NULL;
  p->next = *head;
  p->head = head;
  if (*head != NULL) {
    (*head)->prev = p;
  }
  *head = p;
}

void kefo__credentials_pending_remove(kefo_credentials_pending *p) {
  if (p->head == NULL) {
    return;
  }
  if (p->prev != NULL) {
    p->prev->next = p->next;
  } else {
    *p->head = p->next;
  }
  if (p->next != NULL) {
    p->next->prev = p->prev;
  }
  p->prev = p->next = NULL;
  p->head = NULL;
}

void kefo__credentials_fail(kefo_credentials_cb cb, void *user_data, int code,
                            const char *message, const char *operation,
                            int http_status, int retryable) {
  kefo_error_info info;

  memset(&info, 0, sizeof(info));
  info.code = code;
  info.message = message ? message : "";
  info.operation = operation;
  info.http_status = http_status;
  info.retryable = retryable;
  cb(code, NULL, &info, user_data);
}

/* ---- Owned copies ---- */

void kefo__credentials_copy_init(kefo_credentials_copy *c,
                                 const kefo_mem *mem) {
  memset(c, 0, sizeof(*c));
  c->mem = kefo__mem_or_default(mem);
}

int kefo__credentials_copy_set(kefo_credentials_copy *c,
                               const kefo_credentials *src) {
  size_t alen, slen, tlen, total;
  char *s;

  if (src == NULL || src->access_key_id == NULL ||
      src->access_key_id[0] == '\0' || src->secret_access_key == NULL ||
      src->secret_access_key[0] == '\0') {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  alen = strlen(src->access_key_id);
  slen = strlen(src->secret_access_key);
  tlen = src->session_token ? strlen(src->session_token) : 0;
  total = alen + 1 + slen + 1 + tlen + 1;
  s = kefo__mem_malloc(c->mem, total);
  if (s == NULL) {
    return KEFO_ERR_NOMEM;
  }
  memcpy(s, src->access_key_id, alen + 1);
  memcpy(s + alen + 1, src->secret_access_key, slen + 1);
  if (src->session_token != NULL) {
    memcpy(s + alen + 1 + slen + 1, src->session_token, tlen + 1);
  } else {
    s[total - 1] = '\0';
  }
  kefo__credentials_copy_free(c);
  c->storage = s;
  c->storage_len = total;
  c->creds.access_key_id = s;
  c->creds.secret_access_key = s + alen + 1;
  c->creds.session_token =
      src->session_token != NULL && tlen > 0 ? s + alen + 1 + slen + 1 : NULL;
  c->creds.expiration_ms = src->expiration_ms;
  return 0;
}

void kefo__credentials_copy_free(kefo_credentials_copy *c) {
  if (c->storage != NULL) {
    kefo__credentials_wipe(c->storage, c->storage_len);
    kefo__mem_free(c->mem, c->storage);
  }
  c->storage = NULL;
  c->storage_len = 0;
  memset(&c->creds, 0, sizeof(c->creds));
}

static int printable(const char *s, size_t max, size_t *len) {
  size_t i;

  for (i = 0; s[i] != '\0'; ++i) {
    if (i == max || (unsigned char)s[i] <= 0x20 ||
        (unsigned char)s[i] >= 0x7f) {
      return 0;
    }
  }
  *len = i;
  return 1;
}

int kefo__credentials_check(const kefo_credentials *c, char *err,
                            size_t errlen) {
  const char *a;
  size_t len;

  if (c == NULL || c->access_key_id == NULL || c->access_key_id[0] == '\0') {
    kefo__set_err(err, errlen, "the access key id is empty");
    return KEFO_ERR_CREDENTIALS;
  }
  for (a = c->access_key_id; *a; ++a) {
    char ch = *a;
    if (a - c->access_key_id == MAX_ACCESS_KEY_ID ||
        !((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
          (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-')) {
      kefo__set_err(err, errlen,
                    "the access key id is longer than %d characters or holds "
                    "one outside [A-Za-z0-9._-]",
                    MAX_ACCESS_KEY_ID);
      return KEFO_ERR_CREDENTIALS;
    }
  }
  if (c->secret_access_key == NULL || c->secret_access_key[0] == '\0') {
    kefo__set_err(err, errlen, "the secret access key is empty");
    return KEFO_ERR_CREDENTIALS;
  }
  if (!printable(c->secret_access_key, MAX_SECRET, &len)) {
    kefo__set_err(err, errlen,
                  "the secret access key is longer than %d characters or holds "
                  "one that is not printable ASCII",
                  MAX_SECRET);
    return KEFO_ERR_CREDENTIALS;
  }
  if (c->session_token != NULL &&
      !printable(c->session_token, MAX_TOKEN, &len)) {
    kefo__set_err(err, errlen,
                  "the session token is longer than %d characters or holds one "
                  "that is not printable ASCII",
                  MAX_TOKEN);
    return KEFO_ERR_CREDENTIALS;
  }
  return 0;
}

void kefo__credentials_redact(char *msg, const char *secret) {
  size_t slen;
  char *p;

  if (msg == NULL || secret == NULL) {
    return;
  }
  slen = strlen(secret);
  if (slen < 8) {
    return;
  }
  while ((p = strstr(msg, secret)) != NULL) {
    memset(p, '*', slen);
    msg = p + slen;
  }
}

void kefo__credentials_options_init(kefo_credentials_options *opts) {
  memset(opts, 0, sizeof(*opts));
}

/* ---- Static keys ---- */

typedef struct static_provider {
  kefo_credentials_provider base;
  const kefo_mem *mem;
  kefo_credentials_copy copy;
} static_provider;

static int static_get(kefo_credentials_provider *p, kefo_credentials_cb cb,
                      void *user_data) {
  static_provider *sp = (static_provider *)p;

  cb(0, &sp->copy.creds, NULL, user_data);
  return 0;
}

static void static_del(kefo_credentials_provider *p) {
  static_provider *sp = (static_provider *)p;

  kefo__credentials_copy_free(&sp->copy);
  kefo__mem_free(sp->mem, sp);
}

static const kefo_credentials_provider_ops static_ops = {static_get, static_del,
                                                         NULL};

int kefo__credentials_static_new(kefo_credentials_provider **out,
                                 const kefo_mem *mem, const char *access_key_id,
                                 const char *secret_access_key,
                                 const char *session_token) {
  kefo_credentials c;
  static_provider *sp;
  int rv;

  if (out == NULL || access_key_id == NULL || access_key_id[0] == '\0' ||
      secret_access_key == NULL || secret_access_key[0] == '\0') {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__mem_or_default(mem);
  sp = kefo__mem_calloc(mem, 1, sizeof(*sp));
  if (sp == NULL) {
    return KEFO_ERR_NOMEM;
  }
  sp->base.ops = &static_ops;
  sp->base.name = "static";
  sp->mem = mem;
  kefo__credentials_copy_init(&sp->copy, mem);
  c.access_key_id = access_key_id;
  c.secret_access_key = secret_access_key;
  c.session_token = session_token;
  c.expiration_ms = 0;
  rv = kefo__credentials_copy_set(&sp->copy, &c);
  if (rv != 0) {
    kefo__mem_free(mem, sp);
    return rv;
  }
  *out = &sp->base;
  return 0;
}
