/*
 * Shared config and credentials files: the loader that finds and reads the
 * two, the profile set they fill and its lookups, and the environment.
 * Values are wiped when freed, since the credentials file holds secret keys.
 */
#include "aws/profile_file.h"
#include "aws/profile_file_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

static const char *system_getenv(const char *name, void *user_data) {
  (void)user_data;
  return getenv(name);
}

static const kefo_env system_env = {system_getenv, NULL};

const kefo_env *kefo__env_system(void) {
  return &system_env;
}

const char *kefo__env_get(const kefo_env *env, const char *name) {
  const char *v;

  if (env == NULL) {
    env = &system_env;
  }
  v = env->get(name, env->user_data);
  return v != NULL && v[0] != '\0' ? v : NULL;
}

static int key_equal(const char *a, const char *b) {
  for (; *a && ascii_lower(*a) == ascii_lower(*b); ++a, ++b) {
  }
  return *a == '\0' && *b == '\0';
}

void kefo__profile_file_clear(const kefo_mem *mem, kefo_profile *p) {
  size_t i;

  for (i = 0; i < p->nprops; ++i) {
    kefo__mem_free(mem, p->props[i].key);
    wipe(p->props[i].value, p->props[i].value_len);
    kefo__mem_free(mem, p->props[i].value);
  }
  p->nprops = 0;
}

static void profile_del(const kefo_mem *mem, kefo_profile *p) {
  kefo__profile_file_clear(mem, p);
  kefo__mem_free(mem, p->props);
  kefo__mem_free(mem, p->name);
  kefo__mem_free(mem, p);
}

int kefo__profile_set_new(kefo_profile_set **out, const kefo_mem *mem) {
  kefo_profile_set *set;

  if (out == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__mem_or_default(mem);
  set = kefo__mem_calloc(mem, 1, sizeof(*set));
  if (set == NULL) {
    return KEFO_ERR_NOMEM;
  }
  set->mem = mem;
  *out = set;
  return 0;
}

void kefo__profile_set_del(kefo_profile_set *set) {
  size_t i;

  if (set == NULL) {
    return;
  }
  for (i = 0; i < set->nprofiles; ++i) {
    profile_del(set->mem, set->profiles[i]);
  }
  kefo__mem_free(set->mem, set->profiles);
  kefo__mem_free(set->mem, set->source[0]);
  kefo__mem_free(set->mem, set->source[1]);
  kefo__mem_free(set->mem, set);
}

kefo_profile *kefo__profile_file_find(const kefo_profile_set *set,
                                      const char *name, size_t len) {
  size_t i;

  for (i = 0; i < set->nprofiles; ++i) {
    kefo_profile *p = set->profiles[i];
    if (strlen(p->name) == len && memcmp(p->name, name, len) == 0) {
      return p;
    }
  }
  return NULL;
}

int kefo__profile_file_remember_source(kefo_profile_set *set,
                                       kefo_profile_file_kind kind,
                                       const char *source, int found) {
  char *s = NULL;

  if (source != NULL) {
    s = kefo__mem_strdup(set->mem, source);
    if (s == NULL) {
      return KEFO_ERR_NOMEM;
    }
  }
  kefo__mem_free(set->mem, set->source[kind]);
  set->source[kind] = s;
  set->found[kind] = found;
  return 0;
}

/* Reads |fd| to its end into a buffer of |cap| bytes that grows up to
   one byte over KEFO_PROFILE_FILE_MAX, which tells a file that grew past
   the limit since it was measured. A buffer given up is wiped: the file
   may hold keys. */
static int read_all(const kefo_mem *mem, int fd, const char *path, size_t cap,
                    uint8_t **data, size_t *len, char *err, size_t errlen) {
  uint8_t *buf;
  size_t n = 0;
  int rv = KEFO_ERR_CONFIG;

  buf = kefo__mem_malloc(mem, cap);
  if (buf == NULL) {
    kefo__set_err(err, errlen, "out of memory");
    return KEFO_ERR_NOMEM;
  }
  for (;;) {
    ssize_t r;
    if (n == cap) {
      uint8_t *nb;
      if (cap > KEFO_PROFILE_FILE_MAX) {
        kefo__set_err(err, errlen, "%s: larger than %d bytes", path,
                      KEFO_PROFILE_FILE_MAX);
        goto fail;
      }
      nb = kefo__mem_realloc(mem, buf,
                             cap * 2 > KEFO_PROFILE_FILE_MAX + 1
                                 ? KEFO_PROFILE_FILE_MAX + 1
                                 : cap * 2);
      if (nb == NULL) {
        rv = KEFO_ERR_NOMEM;
        kefo__set_err(err, errlen, "out of memory");
        goto fail;
      }
      buf = nb;
      cap = cap * 2 > KEFO_PROFILE_FILE_MAX + 1 ? KEFO_PROFILE_FILE_MAX + 1
                                                : cap * 2;
    }
    r = read(fd, buf + n, cap - n);
    if (r < 0) {
      if (errno == EINTR) {
        continue;
      }
      kefo__set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
      goto fail;
    }
    if (r == 0) {
      break;
    }
    n += (size_t)r;
  }
  if (n > KEFO_PROFILE_FILE_MAX) {
    kefo__set_err(err, errlen, "%s: larger than %d bytes", path,
                  KEFO_PROFILE_FILE_MAX);
    goto fail;
  }
  *data = buf;
  *len = n;
  return 0;

fail:
  wipe(buf, n);
  kefo__mem_free(mem, buf);
  return rv;
}

/* Reads at most KEFO_PROFILE_FILE_MAX bytes of |path|. */
static int read_file(const kefo_mem *mem, const char *path, uint8_t **data,
                     size_t *len, int *found, char *err, size_t errlen) {
  struct stat stbuf;
  int fd, rv = KEFO_ERR_CONFIG;

  *found = 0;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) {
      return 0;
    }
    kefo__set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
    return KEFO_ERR_CONFIG;
  }
  *found = 1;
  if (fstat(fd, &stbuf) != 0) {
    kefo__set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
  } else if (!S_ISREG(stbuf.st_mode)) {
    kefo__set_err(err, errlen, "cannot read %s: not a regular file", path);
  } else if (stbuf.st_size > KEFO_PROFILE_FILE_MAX) {
    kefo__set_err(err, errlen, "%s: larger than %d bytes", path,
                  KEFO_PROFILE_FILE_MAX);
  } else {
    rv = read_all(mem, fd, path, (size_t)stbuf.st_size + 1, data, len, err,
                  errlen);
  }
  close(fd);
  return rv;
}

int kefo__profile_set_load_file(kefo_profile_set *set,
                                kefo_profile_file_kind kind, const char *path,
                                int *found, char *err, size_t errlen) {
  uint8_t *data = NULL;
  size_t len = 0;
  int rv, f = 0;

  if (found != NULL) {
    *found = 0;
  }
  if (set == NULL || path == NULL ||
      (kind != KEFO_PROFILE_FILE_CONFIG &&
       kind != KEFO_PROFILE_FILE_CREDENTIALS)) {
    kefo__set_err(err, errlen, "invalid argument");
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  rv = read_file(set->mem, path, &data, &len, &f, err, errlen);
  if (rv != 0) {
    return rv;
  }
  if (!f) {
    rv = kefo__profile_file_remember_source(set, kind, path, 0);
    if (rv != 0) {
      kefo__set_err(err, errlen, "out of memory");
    }
    return rv;
  }
  if (found != NULL) {
    *found = 1;
  }
  rv = kefo__profile_set_parse(set, kind, path, data, len, err, errlen);
  wipe(data, len);
  kefo__mem_free(set->mem, data);
  return rv;
}

static int build_path(const kefo_env *env, const char *var, const char *def,
                      char *out, char *err, size_t errlen) {
  const char *v = kefo__env_get(env, var), *home, *rest;
  int n;

  if (v != NULL && !(v[0] == '~' && (v[1] == '/' || v[1] == '\0'))) {
    n = snprintf(out, KEFO_PROFILE_PATH_MAX, "%s", v);
  } else {
    home = kefo__env_get(env, "HOME");
    if (home == NULL) {
      kefo__set_err(err, errlen, "HOME is not set, so %s cannot be found",
                    v != NULL ? var : def);
      return KEFO_ERR_CONFIG;
    }
    rest = v != NULL ? v + 1 : def + 1;
    n = snprintf(out, KEFO_PROFILE_PATH_MAX, "%s%s", home, rest);
  }
  if (n < 0 || n >= KEFO_PROFILE_PATH_MAX) {
    kefo__set_err(err, errlen, "the path of %s is too long",
                  v != NULL ? var : def);
    return KEFO_ERR_CONFIG;
  }
  return 0;
}

int kefo__profile_paths(const kefo_env *env, char *config_path,
                        char *credentials_path, char *err, size_t errlen) {
  int rv;

  rv = build_path(env, "AWS_CONFIG_FILE", "~/.aws/config", config_path, err,
                  errlen);
  if (rv == 0) {
    rv = build_path(env, "AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials",
                    credentials_path, err, errlen);
  }
  return rv;
}

int kefo__profile_set_load_default(kefo_profile_set **out, const kefo_mem *mem,
                                   const kefo_env *env, char *err,
                                   size_t errlen) {
  kefo_profile_set *set = NULL;
  char *paths;
  int rv;

  if (out == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  *out = NULL;
  mem = kefo__mem_or_default(mem);
  /* Two paths of 4 KiB: on the heap, not the event loop's stack. */
  paths = kefo__mem_malloc(mem, 2 * KEFO_PROFILE_PATH_MAX);
  if (paths == NULL) {
    kefo__set_err(err, errlen, "out of memory");
    return KEFO_ERR_NOMEM;
  }
  rv = kefo__profile_paths(env, paths, paths + KEFO_PROFILE_PATH_MAX, err,
                           errlen);
  if (rv != 0) {
    goto done;
  }
  rv = kefo__profile_set_new(&set, mem);
  if (rv != 0) {
    kefo__set_err(err, errlen, "out of memory");
    goto done;
  }
  rv = kefo__profile_set_load_file(set, KEFO_PROFILE_FILE_CONFIG, paths, NULL,
                                   err, errlen);
  if (rv == 0) {
    rv = kefo__profile_set_load_file(set, KEFO_PROFILE_FILE_CREDENTIALS,
                                     paths + KEFO_PROFILE_PATH_MAX, NULL, err,
                                     errlen);
  }
  if (rv != 0) {
    kefo__profile_set_del(set);
    goto done;
  }
  *out = set;

done:
  kefo__mem_free(mem, paths);
  return rv;
}

void kefo__profile_set_describe(const kefo_profile_set *set, char *out,
                                size_t outlen) {
  const char *c, *k;
  int cf, kf;

  if (out == NULL || outlen == 0) {
    return;
  }
  if (set == NULL) {
    snprintf(out, outlen, "no shared files");
    return;
  }
  c = set->source[KEFO_PROFILE_FILE_CONFIG];
  k = set->source[KEFO_PROFILE_FILE_CREDENTIALS];
  cf = c != NULL && set->found[KEFO_PROFILE_FILE_CONFIG];
  kf = k != NULL && set->found[KEFO_PROFILE_FILE_CREDENTIALS];
  if (cf && kf) {
    snprintf(out, outlen, "%s and %s", c, k);
  } else if (cf) {
    snprintf(out, outlen, "%s", c);
  } else if (kf) {
    snprintf(out, outlen, "%s", k);
  } else if (c != NULL && k != NULL) {
    snprintf(out, outlen, "no shared files (neither %s nor %s exists)", c, k);
  } else if (c != NULL || k != NULL) {
    snprintf(out, outlen, "no shared files (%s does not exist)", c ? c : k);
  } else {
    snprintf(out, outlen, "no shared files");
  }
}

const char *kefo__profile_name(const kefo_env *env, const char *configured) {
  const char *v;

  if (configured != NULL && configured[0] != '\0') {
    return configured;
  }
  v = kefo__env_get(env, "AWS_PROFILE");
  return v != NULL ? v : "default";
}

const kefo_profile *kefo__profile_set_find(const kefo_profile_set *set,
                                           const char *name) {
  if (set == NULL || name == NULL) {
    return NULL;
  }
  return kefo__profile_file_find(set, name, strlen(name));
}

size_t kefo__profile_set_count(const kefo_profile_set *set) {
  return set != NULL ? set->nprofiles : 0;
}

const kefo_profile *kefo__profile_set_at(const kefo_profile_set *set,
                                         size_t i) {
  return set != NULL && i < set->nprofiles ? set->profiles[i] : NULL;
}

const char *kefo__profile_name_of(const kefo_profile *p) {
  return p->name;
}

const char *kefo__profile_get(const kefo_profile *p, const char *key) {
  size_t i;

  if (p == NULL || key == NULL) {
    return NULL;
  }
  for (i = 0; i < p->nprops; ++i) {
    if (key_equal(p->props[i].key, key)) {
      return p->props[i].value;
    }
  }
  return NULL;
}

size_t kefo__profile_count(const kefo_profile *p) {
  return p != NULL ? p->nprops : 0;
}

void kefo__profile_at(const kefo_profile *p, size_t i, const char **key,
                      const char **value) {
  *key = i < p->nprops ? p->props[i].key : NULL;
  *value = i < p->nprops ? p->props[i].value : NULL;
}
