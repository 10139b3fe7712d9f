/*
 * Shared config and credentials files: a line parser over a buffer that
 * builds named profiles, the environment lookup, and the loader that
 * finds and reads the two files. Values are wiped when freed, since the
 * credentials file holds secret keys.
 */
#include "aws/profile_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"

typedef struct profile_prop {
  char *key;
  char *value;
  size_t value_len;
} profile_prop;

struct kefo_profile {
  char *name;
  profile_prop *props;
  size_t nprops;
  size_t cap;
  /* Config file only: defined as "[profile default]", which wins over
     "[default]" whatever their order. */
  int explicit_default;
};

struct kefo_profile_set {
  const kefo_mem *mem;
  kefo_profile **profiles;
  size_t nprofiles;
  size_t cap;
  /* Per kind: the last file loaded or source parsed, and whether it
     existed. */
  char *source[2];
  int found[2];
};

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

/* Stores cannot be optimised away through a volatile pointer. */
static void wipe(void *p, size_t len) {
  volatile unsigned char *q = p;

  while (len--) {
    *q++ = 0;
  }
}

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\f' || c == '\v';
}

static char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c;
}

static int key_equal(const char *a, const char *b) {
  for (; *a && ascii_lower(*a) == ascii_lower(*b); ++a, ++b) {
  }
  return *a == '\0' && *b == '\0';
}

/* Trims whitespace from both ends of [*s, *s + *len). */
static void trim(const char **s, size_t *len) {
  while (*len > 0 && is_space((*s)[0])) {
    ++*s;
    --*len;
  }
  while (*len > 0 && is_space((*s)[*len - 1])) {
    --*len;
  }
}

static void profile_clear(const kefo_mem *mem, kefo_profile *p) {
  size_t i;

  for (i = 0; i < p->nprops; ++i) {
    kefo__mem_free(mem, p->props[i].key);
    wipe(p->props[i].value, p->props[i].value_len);
    kefo__mem_free(mem, p->props[i].value);
  }
  p->nprops = 0;
}

static void profile_del(const kefo_mem *mem, kefo_profile *p) {
  profile_clear(mem, p);
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

static kefo_profile *find_profile(const kefo_profile_set *set, const char *name,
                                  size_t len) {
  size_t i;

  for (i = 0; i < set->nprofiles; ++i) {
    kefo_profile *p = set->profiles[i];
    if (strlen(p->name) == len && memcmp(p->name, name, len) == 0) {
      return p;
    }
  }
  return NULL;
}

static int get_profile(kefo_profile_set *set, const char *name, size_t len,
                       kefo_profile **out) {
  kefo_profile *p = find_profile(set, name, len);

  if (p == NULL) {
    if (set->nprofiles == set->cap) {
      size_t cap = set->cap ? set->cap * 2 : 8;
      kefo_profile **np =
          kefo__mem_realloc(set->mem, set->profiles, cap * sizeof(*np));
      if (np == NULL) {
        return KEFO_ERR_NOMEM;
      }
      set->profiles = np;
      set->cap = cap;
    }
    p = kefo__mem_calloc(set->mem, 1, sizeof(*p));
    if (p == NULL) {
      return KEFO_ERR_NOMEM;
    }
    p->name = kefo__mem_strndup(set->mem, name, len);
    if (p->name == NULL) {
      kefo__mem_free(set->mem, p);
      return KEFO_ERR_NOMEM;
    }
    set->profiles[set->nprofiles++] = p;
  }
  *out = p;
  return 0;
}

/* Sets |key| to |value| in |p|; |*index| gets the property's slot. */
static int set_prop(const kefo_mem *mem, kefo_profile *p, const char *key,
                    size_t keylen, const char *value, size_t vlen,
                    size_t *index) {
  char *v;
  size_t i;

  v = kefo__mem_strndup(mem, value, vlen);
  if (v == NULL) {
    return KEFO_ERR_NOMEM;
  }
  for (i = 0; i < p->nprops; ++i) {
    const char *k = p->props[i].key;
    size_t j;
    for (j = 0; j < keylen && k[j] && ascii_lower(k[j]) == ascii_lower(key[j]);
         ++j) {
    }
    if (j == keylen && k[j] == '\0') {
      wipe(p->props[i].value, p->props[i].value_len);
      kefo__mem_free(mem, p->props[i].value);
      p->props[i].value = v;
      p->props[i].value_len = vlen;
      *index = i;
      return 0;
    }
  }
  if (p->nprops == p->cap) {
    size_t cap = p->cap ? p->cap * 2 : 8;
    profile_prop *np = kefo__mem_realloc(mem, p->props, cap * sizeof(*np));
    if (np == NULL) {
      wipe(v, vlen);
      kefo__mem_free(mem, v);
      return KEFO_ERR_NOMEM;
    }
    p->props = np;
    p->cap = cap;
  }
  p->props[p->nprops].key = kefo__mem_strndup(mem, key, keylen);
  if (p->props[p->nprops].key == NULL) {
    wipe(v, vlen);
    kefo__mem_free(mem, v);
    return KEFO_ERR_NOMEM;
  }
  p->props[p->nprops].value = v;
  p->props[p->nprops].value_len = vlen;
  *index = p->nprops++;
  return 0;
}

/* Appends '\n' and |more| to property |i|'s value. */
static int append_prop(const kefo_mem *mem, kefo_profile *p, size_t i,
                       const char *more, size_t len) {
  profile_prop *pp = &p->props[i];
  char *v = kefo__mem_malloc(mem, pp->value_len + 1 + len + 1);

  if (v == NULL) {
    return KEFO_ERR_NOMEM;
  }
  /* A fresh block rather than realloc, so the old copy can be wiped. */
  memcpy(v, pp->value, pp->value_len);
  v[pp->value_len] = '\n';
  memcpy(v + pp->value_len + 1, more, len);
  v[pp->value_len + 1 + len] = '\0';
  wipe(pp->value, pp->value_len);
  kefo__mem_free(mem, pp->value);
  pp->value = v;
  pp->value_len += 1 + len;
  return 0;
}

/* Profile names: printable ASCII without whitespace or brackets. */
static int valid_name(const char *s, size_t len) {
  size_t i;

  if (len == 0) {
    return 0;
  }
  for (i = 0; i < len; ++i) {
    unsigned char c = (unsigned char)s[i];
    if (c <= 0x20 || c >= 0x7f || c == '[' || c == ']') {
      return 0;
    }
  }
  return 1;
}

static int valid_key(const char *s, size_t len) {
  return valid_name(s, len);
}

/* Cuts a trailing comment: '#' or ';' after whitespace. */
static void cut_comment(const char *s, size_t *len) {
  size_t i;

  for (i = 1; i < *len; ++i) {
    if ((s[i] == '#' || s[i] == ';') && is_space(s[i - 1])) {
      *len = i;
      return;
    }
  }
}

typedef struct parse_state {
  kefo_profile_set *set;
  kefo_profile_file_kind kind;
  /* The profile properties go to; NULL inside a skipped section. */
  kefo_profile *profile;
  int in_section;
  /* The last line was a property (kept or skipped): an indented line
     continues it. */
  int after_prop;
  /* Slot of that property in |profile| when kept, else (size_t)-1. */
  size_t prop;
} parse_state;

static int parse_section(parse_state *st, const char *t, size_t len,
                         const char **why) {
  const char *close = memchr(t, ']', len);
  const char *name, *rest;
  size_t nlen, rlen;
  int explicit_default = 0, rv;
  kefo_profile *p;

  if (close == NULL) {
    *why = "expected ']' to close the section name";
    return KEFO_ERR_CONFIG;
  }
  rest = close + 1;
  rlen = len - (size_t)(rest - t);
  trim(&rest, &rlen);
  if (rlen > 0 && rest[0] != '#' && rest[0] != ';') {
    *why = "unexpected text after ']'";
    return KEFO_ERR_CONFIG;
  }
  name = t + 1;
  nlen = (size_t)(close - name);
  trim(&name, &nlen);
  st->in_section = 1;
  st->profile = NULL;
  st->after_prop = 0;
  if (st->kind == KEFO_PROFILE_FILE_CONFIG) {
    if (nlen > 7 && memcmp(name, "profile", 7) == 0 && is_space(name[7])) {
      name += 7;
      nlen -= 7;
      trim(&name, &nlen);
      explicit_default = nlen == 7 && memcmp(name, "default", 7) == 0;
    } else if (!(nlen == 7 && memcmp(name, "default", 7) == 0)) {
      /* sso-session, services, or something newer: not a profile. */
      return 0;
    }
  }
  if (!valid_name(name, nlen)) {
    return 0;
  }
  if (st->kind == KEFO_PROFILE_FILE_CONFIG && nlen == 7 &&
      memcmp(name, "default", 7) == 0) {
    p = find_profile(st->set, name, nlen);
    if (p != NULL && p->explicit_default && !explicit_default) {
      /* "[default]" after "[profile default]": the latter wins. */
      return 0;
    }
    if (p != NULL && explicit_default && !p->explicit_default) {
      profile_clear(st->set->mem, p);
    }
  }
  rv = get_profile(st->set, name, nlen, &p);
  if (rv != 0) {
    return rv;
  }
  if (explicit_default) {
    p->explicit_default = 1;
  }
  st->profile = p;
  return 0;
}

static int parse_property(parse_state *st, const char *t, size_t len,
                          const char **why) {
  const char *eq = memchr(t, '=', len), *key, *value;
  size_t klen, vlen;
  int rv;

  if (!st->in_section) {
    *why = "property outside a profile section";
    return KEFO_ERR_CONFIG;
  }
  if (eq == NULL) {
    *why = "expected 'name = value'";
    return KEFO_ERR_CONFIG;
  }
  key = t;
  klen = (size_t)(eq - t);
  trim(&key, &klen);
  if (klen == 0) {
    *why = "property name missing before '='";
    return KEFO_ERR_CONFIG;
  }
  value = eq + 1;
  vlen = len - (size_t)(value - t);
  cut_comment(value, &vlen);
  trim(&value, &vlen);
  st->after_prop = 1;
  st->prop = (size_t)-1;
  if (st->profile == NULL || !valid_key(key, klen)) {
    return 0;
  }
  rv = set_prop(st->set->mem, st->profile, key, klen, value, vlen, &st->prop);
  return rv;
}

static int remember_source(kefo_profile_set *set, kefo_profile_file_kind kind,
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

/* One line (|slen| bytes, without its newline): a comment, a section, a
   property, or the continuation of the last property's value. */
static int parse_line(parse_state *st, const char *s, size_t slen,
                      const char **why) {
  const char *t;
  size_t tlen;

  if (slen > 0 && s[slen - 1] == '\r') {
    --slen;
  }
  if (memchr(s, '\0', slen) != NULL) {
    *why = "NUL byte in the line";
    return KEFO_ERR_CONFIG;
  }
  t = s;
  tlen = slen;
  trim(&t, &tlen);
  if (tlen == 0 || t[0] == '#' || t[0] == ';') {
    return 0;
  }
  if (is_space(s[0]) && st->after_prop) {
    /* Continuation of the previous property's value. */
    cut_comment(t, &tlen);
    trim(&t, &tlen);
    if (st->profile != NULL && st->prop != (size_t)-1) {
      return append_prop(st->set->mem, st->profile, st->prop, t, tlen);
    }
    return 0;
  }
  if (t[0] == '[') {
    return parse_section(st, t, tlen, why);
  }
  return parse_property(st, t, tlen, why);
}

int kefo__profile_set_parse(kefo_profile_set *set, kefo_profile_file_kind kind,
                            const char *source, const uint8_t *data, size_t len,
                            char *err, size_t errlen) {
  parse_state st;
  const char *p = (const char *)data, *end = p + len, *why = NULL;
  unsigned long line = 0;
  int rv = 0;

  if (set == NULL || (data == NULL && len > 0) ||
      (kind != KEFO_PROFILE_FILE_CONFIG &&
       kind != KEFO_PROFILE_FILE_CREDENTIALS)) {
    kefo__set_err(err, errlen, "invalid argument");
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (source == NULL) {
    source = kind == KEFO_PROFILE_FILE_CONFIG ? "(config)" : "(credentials)";
  }
  if (len > KEFO_PROFILE_FILE_MAX) {
    kefo__set_err(err, errlen, "%s: larger than %d bytes", source,
                  KEFO_PROFILE_FILE_MAX);
    return KEFO_ERR_CONFIG;
  }
  rv = remember_source(set, kind, source, 1);
  if (rv != 0) {
    kefo__set_err(err, errlen, "out of memory");
    return rv;
  }
  memset(&st, 0, sizeof(st));
  st.set = set;
  st.kind = kind;
  st.prop = (size_t)-1;
  /* A UTF-8 byte order mark is not part of the first line. */
  if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
    p += 3;
  }
  while (p < end && rv == 0) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *s = p;

    p = nl ? nl + 1 : end;
    ++line;
    rv = parse_line(&st, s, (size_t)((nl ? nl : end) - s), &why);
  }
  if (rv == KEFO_ERR_NOMEM) {
    kefo__set_err(err, errlen, "out of memory");
  } else if (rv != 0) {
    kefo__set_err(err, errlen, "%s:%lu: %s", source, line, why);
  }
  return rv;
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
    rv = remember_source(set, kind, path, 0);
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
  return find_profile(set, name, strlen(name));
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
