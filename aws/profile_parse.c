/*
 * The shared files' line parser: a buffer read line by line (sections,
 * properties, continuation lines, comments) into a profile set, with the
 * config file's "profile " prefix and its rules for the default profile.
 */
#include "aws/profile_file.h"
#include "aws/profile_file_internal.h"

#include <string.h>

#include "base/error.h"

static int is_space(char c) {
  return c == ' ' || c == '\t' || c == '\f' || c == '\v';
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

static int get_profile(kefo_profile_set *set, const char *name, size_t len,
                       kefo_profile **out) {
  kefo_profile *p = kefo__profile_file_find(set, name, len);

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
    p = kefo__profile_file_find(st->set, name, nlen);
    if (p != NULL && p->explicit_default && !explicit_default) {
      /* "[default]" after "[profile default]": the latter wins. */
      return 0;
    }
    if (p != NULL && explicit_default && !p->explicit_default) {
      kefo__profile_file_clear(st->set->mem, p);
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
  rv = kefo__profile_file_remember_source(set, kind, source, 1);
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
