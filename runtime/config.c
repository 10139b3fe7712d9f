/*
 * The configuration's values, set one by one or read from key=value
 * files, and the typed getters. Every value is checked when it is set
 * (its syntax is runtime/config_value.c's), so the getters that the
 * modules call cannot fail. The keys are runtime/config_keys.c's, the
 * rules between keys runtime/config_validate.c's.
 */
#include "runtime/config.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "base/mem.h"
#include "runtime/config_keys.h"
#include "runtime/config_value.h"

struct kefo_config {
  kefo_mem mem;
  /* The value set, in its canonical spelling; NULL: the default. */
  char *text[KEFO_CONFIG_NKEYS];
  /* The parsed value (set or default) of numeric, enum and time keys. */
  int64_t num[KEFO_CONFIG_NKEYS];
};

static int is_space(int c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
         c == '\f';
}

static void trim(const char **s, size_t *len) {
  while (*len > 0 && is_space((unsigned char)**s)) {
    ++*s;
    --*len;
  }
  while (*len > 0 && is_space((unsigned char)(*s)[*len - 1])) {
    --*len;
  }
}

static void unknown_key(const char *prefix, const char *name, size_t len,
                        char *err, size_t errlen) {
  char shown[SHOW_MAX + 8];
  const char *hint;

  if (err == NULL || errlen == 0) {
    return; /* nobody reads the suggestion */
  }
  hint = kefo__config_key_suggest(name, len);
  kefo__config_value_show(shown, name, len);
  if (hint != NULL) {
    kefo__set_err(err, errlen, "%sunknown key %s (did you mean \"%s\"?)",
                  prefix, shown, hint);
  } else {
    kefo__set_err(err, errlen, "%sunknown key %s", prefix, shown);
  }
}

static int64_t default_num(const kefo_config_key_def *k) {
  int64_t num = 0;
  const char *canon;

  if (k->def != NULL && k->type != T_STR && k->type != T_URL) {
    /* Defaults are known good (the tests parse every one). */
    (void)kefo__config_value_parse(k, k->def, strlen(k->def), &num, &canon,
                                   NULL, 0);
  }
  return num;
}

int kefo_config_new2(kefo_config **out, const kefo_mem *mem) {
  kefo_config *cfg;
  size_t i;

  if (out == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  *out = NULL;
  mem = kefo__mem_or_default(mem);
  cfg = kefo__mem_calloc(mem, 1, sizeof(*cfg));
  if (cfg == NULL) {
    return KEFO_ERR_NOMEM;
  }
  cfg->mem = *mem;
  for (i = 0; i < KEFO_CONFIG_NKEYS; ++i) {
    cfg->num[i] = default_num(&kefo__config_keys[i]);
  }
  *out = cfg;
  return 0;
}

int kefo_config_new(kefo_config **out) {
  return kefo_config_new2(out, NULL);
}

void kefo_config_del(kefo_config *cfg) {
  size_t i;

  if (cfg == NULL) {
    return;
  }
  for (i = 0; i < KEFO_CONFIG_NKEYS; ++i) {
    kefo__mem_free(&cfg->mem, cfg->text[i]);
  }
  kefo__mem_free(&cfg->mem, cfg);
}

int kefo__config_dup(kefo_config **out, const kefo_config *src,
                     const kefo_mem *mem) {
  kefo_config *cfg;
  size_t i;
  int rv;

  if (out == NULL || src == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  rv = kefo_config_new2(&cfg, mem);
  if (rv != 0) {
    return rv;
  }
  for (i = 0; i < KEFO_CONFIG_NKEYS; ++i) {
    cfg->num[i] = src->num[i];
    if (src->text[i] != NULL) {
      cfg->text[i] =
          kefo__mem_strndup(&cfg->mem, src->text[i], strlen(src->text[i]));
      if (cfg->text[i] == NULL) {
        kefo_config_del(cfg);
        return KEFO_ERR_NOMEM;
      }
    }
  }
  *out = cfg;
  return 0;
}

/*
 * Parses and copies value |v| for key |i|, giving the new text and number.
 * |prefix| starts any error message ("file:line: " or "").
 */
static int make_value(const kefo_mem *mem, size_t i, const char *v, size_t len,
                      char **text, int64_t *num, const char *prefix, char *err,
                      size_t errlen) {
  char why[512];
  const char *canon;
  int rv;

  trim(&v, &len);
  rv = kefo__config_value_parse(&kefo__config_keys[i], v, len, num, &canon, why,
                                sizeof(why));
  if (rv != 0) {
    kefo__set_err(err, errlen, "%s%s: %s", prefix, kefo__config_keys[i].name,
                  why);
    return rv;
  }
  if (canon != NULL) {
    v = canon;
    len = strlen(canon);
  }
  *text = kefo__mem_strndup(mem, v, len);
  if (*text == NULL) {
    kefo__set_err(err, errlen, "out of memory");
    return KEFO_ERR_NOMEM;
  }
  return 0;
}

int kefo_config_set2(kefo_config *cfg, const char *key, const char *value,
                     char *err, size_t errlen) {
  char *text;
  int64_t num;
  int i, rv;

  kefo__set_err(err, errlen, "%s", "");
  if (cfg == NULL || key == NULL) {
    kefo__set_err(err, errlen, "invalid argument");
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  i = kefo__config_key_find(key, strlen(key));
  if (i < 0) {
    unknown_key("", key, strlen(key), err, errlen);
    return KEFO_ERR_CONFIG;
  }
  if (value == NULL) {
    kefo__mem_free(&cfg->mem, cfg->text[i]);
    cfg->text[i] = NULL;
    cfg->num[i] = default_num(&kefo__config_keys[i]);
    return 0;
  }
  rv = make_value(&cfg->mem, (size_t)i, value, strlen(value), &text, &num, "",
                  err, errlen);
  if (rv != 0) {
    return rv;
  }
  kefo__mem_free(&cfg->mem, cfg->text[i]);
  cfg->text[i] = text;
  cfg->num[i] = num;
  return 0;
}

int kefo_config_set(kefo_config *cfg, const char *key, const char *value) {
  return kefo_config_set2(cfg, key, value, NULL, 0);
}

/*
 * Reads line |s| (|slen| bytes, without its newline) of a configuration
 * file into the staged |text| and |num|: blank lines and comments are
 * skipped, "key = value" is parsed. |prefix| is "file:line: ".
 */
static int load_line(kefo_config *cfg, const char *s, size_t slen,
                     const char *prefix, char **text, int64_t *num, char *err,
                     size_t errlen) {
  char line[KEFO_CONFIG_LINE_MAX + 1];
  const char *eq, *k, *v;
  size_t klen, vlen;
  int ki;

  if (slen > 0 && s[slen - 1] == '\r') {
    --slen;
  }
  if (slen > KEFO_CONFIG_LINE_MAX) {
    kefo__set_err(err, errlen, "%sline longer than %d bytes", prefix,
                  KEFO_CONFIG_LINE_MAX);
    return KEFO_ERR_CONFIG;
  }
  if (memchr(s, '\0', slen) != NULL) {
    kefo__set_err(err, errlen, "%sNUL byte in the line", prefix);
    return KEFO_ERR_CONFIG;
  }
  memcpy(line, s, slen);
  line[slen] = '\0';
  s = line;
  trim(&s, &slen);
  if (slen == 0 || s[0] == '#') {
    return 0;
  }
  eq = memchr(s, '=', slen);
  if (eq == NULL) {
    /* The line is not shown: it might be a secret pasted alone. */
    kefo__set_err(err, errlen, "%smissing '=' (expected key=value)", prefix);
    return KEFO_ERR_CONFIG;
  }
  k = s;
  klen = (size_t)(eq - s);
  trim(&k, &klen);
  v = eq + 1;
  vlen = (size_t)(s + slen - v);
  if (klen == 0) {
    kefo__set_err(err, errlen, "%smissing key before '='", prefix);
    return KEFO_ERR_CONFIG;
  }
  ki = kefo__config_key_find(k, klen);
  if (ki < 0) {
    unknown_key(prefix, k, klen, err, errlen);
    return KEFO_ERR_CONFIG;
  }
  kefo__mem_free(&cfg->mem, text[ki]);
  text[ki] = NULL;
  return make_value(&cfg->mem, (size_t)ki, v, vlen, &text[ki], &num[ki], prefix,
                    err, errlen);
}

int kefo__config_load_buffer(kefo_config *cfg, const uint8_t *data, size_t len,
                             const char *name, char *err, size_t errlen) {
  /* Staged values: the config changes only if every line is good. */
  char *text[KEFO_CONFIG_NKEYS];
  int64_t num[KEFO_CONFIG_NKEYS];
  char prefix[256];
  const char *p = (const char *)data, *end;
  unsigned long lineno = 0;
  size_t i;
  int rv = 0;

  kefo__set_err(err, errlen, "%s", "");
  if (cfg == NULL || (data == NULL && len > 0)) {
    kefo__set_err(err, errlen, "invalid argument");
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (name == NULL) {
    name = "(config)";
  }
  if (len > KEFO_CONFIG_FILE_MAX) {
    kefo__set_err(err, errlen, "%s: larger than %d bytes", name,
                  KEFO_CONFIG_FILE_MAX);
    return KEFO_ERR_CONFIG;
  }
  if (len == 0) {
    return 0; /* and |data| may be NULL */
  }
  end = p + len;
  memset(text, 0, sizeof(text));
  /* A UTF-8 byte order mark is not part of the first key. */
  if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) {
    p += 3;
  }
  while (p < end && rv == 0) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *s = p;

    p = nl ? nl + 1 : end;
    ++lineno;
    snprintf(prefix, sizeof(prefix), "%s:%lu: ", name, lineno);
    rv = load_line(cfg, s, (size_t)((nl ? nl : end) - s), prefix, text, num,
                   err, errlen);
  }
  for (i = 0; i < KEFO_CONFIG_NKEYS; ++i) {
    if (text[i] == NULL) {
      continue;
    }
    if (rv == 0) {
      kefo__mem_free(&cfg->mem, cfg->text[i]);
      cfg->text[i] = text[i];
      cfg->num[i] = num[i];
    } else {
      kefo__mem_free(&cfg->mem, text[i]);
    }
  }
  return rv;
}

int kefo_config_load_file2(kefo_config *cfg, const char *path, char *err,
                           size_t errlen) {
  FILE *f;
  uint8_t *buf;
  size_t n;
  int rv;

  kefo__set_err(err, errlen, "%s", "");
  if (cfg == NULL || path == NULL) {
    kefo__set_err(err, errlen, "invalid argument");
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  f = fopen(path, "rb");
  if (f == NULL) {
    kefo__set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return KEFO_ERR_CONFIG;
  }
  /* One byte more than allowed tells a file that is too large. */
  buf = kefo__mem_malloc(&cfg->mem, KEFO_CONFIG_FILE_MAX + 1);
  if (buf == NULL) {
    kefo__set_err(err, errlen, "out of memory");
    rv = KEFO_ERR_NOMEM;
    goto fail_file;
  }
  n = fread(buf, 1, KEFO_CONFIG_FILE_MAX + 1, f);
  if (ferror(f)) {
    kefo__set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
    rv = KEFO_ERR_CONFIG;
    goto fail_buf;
  }
  rv = kefo__config_load_buffer(cfg, buf, n, path, err, errlen);

fail_buf:
  kefo__mem_free(&cfg->mem, buf);
fail_file:
  fclose(f);
  return rv;
}

int kefo_config_load_file(kefo_config *cfg, const char *path) {
  return kefo_config_load_file2(cfg, path, NULL, 0);
}

const char *kefo_config_get(const kefo_config *cfg, const char *key) {
  int i;

  if (cfg == NULL || key == NULL) {
    return NULL;
  }
  i = kefo__config_key_find(key, strlen(key));
  if (i < 0) {
    return NULL;
  }
  if (cfg->text[i] != NULL) {
    return (kefo__config_keys[i].flags & F_SECRET) ? "****" : cfg->text[i];
  }
  return kefo__config_keys[i].def != NULL ? kefo__config_keys[i].def : "";
}

/* The index of |key| when it has type |t| (T_STR also takes T_URL), else
   -1. Reading a known key with the wrong getter is a bug in kefo, and a
   silent 0 once hid one (a size read as an int), so debug builds stop. */
static int typed(const kefo_config *cfg, const char *key,
                 kefo_config_value_type t) {
  int i;
  int ok;

  if (cfg == NULL || key == NULL) {
    return -1;
  }
  i = kefo__config_key_find(key, strlen(key));
  if (i < 0) {
    return -1;
  }
  ok = kefo__config_keys[i].type == t ||
       (t == T_STR && kefo__config_keys[i].type == T_URL);
  assert(ok);
  return ok ? i : -1;
}

int64_t kefo__config_get_ms(const kefo_config *cfg, const char *key) {
  int i = typed(cfg, key, T_DURATION);

  return i < 0 ? 0 : cfg->num[i];
}

int64_t kefo__config_get_int(const kefo_config *cfg, const char *key) {
  int i = typed(cfg, key, T_INT);

  return i < 0 ? 0 : cfg->num[i];
}

uint64_t kefo__config_get_size(const kefo_config *cfg, const char *key) {
  int i = typed(cfg, key, T_SIZE);

  return i < 0 ? 0 : (uint64_t)cfg->num[i];
}

int kefo__config_get_bool(const kefo_config *cfg, const char *key) {
  int i = typed(cfg, key, T_BOOL);

  return i < 0 ? 0 : (int)cfg->num[i];
}

int kefo__config_get_enum(const kefo_config *cfg, const char *key) {
  int i = typed(cfg, key, T_ENUM);

  return i < 0 ? 0 : (int)cfg->num[i];
}

int64_t kefo__config_get_time_ms(const kefo_config *cfg, const char *key) {
  int i = typed(cfg, key, T_TIME);

  return i < 0 || cfg->text[i] == NULL ? -1 : cfg->num[i];
}

const char *kefo__config_get_str(const kefo_config *cfg, const char *key) {
  int i = typed(cfg, key, T_STR);

  if (i < 0) {
    return NULL;
  }
  return cfg->text[i] != NULL ? cfg->text[i] : kefo__config_keys[i].def;
}

int kefo_config_is_set(const kefo_config *cfg, const char *key) {
  int i;

  if (cfg == NULL || key == NULL) {
    return 0;
  }
  i = kefo__config_key_find(key, strlen(key));
  return i >= 0 && cfg->text[i] != NULL;
}

const kefo_mem *kefo__config_mem(const kefo_config *cfg) {
  return &cfg->mem;
}
