/*
 * libFuzzer target for the shared config/credentials file parser. Each
 * input is parsed as a config file and as a credentials file. Oracles:
 * every profile and property handed back is well formed (names of
 * printable ASCII without whitespace or brackets), lookups find what
 * iteration lists, errors name the source, and parsing the same text
 * again merges into the same profiles and values (the parser is
 * deterministic).
 */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "aws/profile_file.h"

static volatile unsigned char sink;

static void touch(const char *s) {
  unsigned char x = 0;

  for (; *s; ++s) {
    x ^= (unsigned char)*s;
  }
  sink ^= x;
}

static int valid_name(const char *s) {
  if (*s == '\0') {
    return 0;
  }
  for (; *s; ++s) {
    unsigned char c = (unsigned char)*s;
    if (c <= 0x20 || c >= 0x7f || c == '[' || c == ']') {
      return 0;
    }
  }
  return 1;
}

/* Checks |set| and returns a digest of its contents. */
static unsigned long check_set(const kefo_profile_set *set) {
  unsigned long digest = kefo__profile_set_count(set);
  size_t i, j;

  for (i = 0; i < kefo__profile_set_count(set); ++i) {
    const kefo_profile *p = kefo__profile_set_at(set, i);
    const char *name = kefo__profile_name_of(p);

    if (!valid_name(name) || kefo__profile_set_find(set, name) != p) {
      abort();
    }
    for (j = 0; j < kefo__profile_count(p); ++j) {
      const char *key, *value;
      kefo__profile_at(p, j, &key, &value);
      if (!valid_name(key) || value == NULL) {
        abort();
      }
      /* A key is found again, maybe under an earlier spelling that
         differs only in case (which replaced its value). */
      if (kefo__profile_get(p, key) == NULL) {
        abort();
      }
      touch(value);
      digest = digest * 31 + strlen(key) * 7 + strlen(value);
    }
  }
  return digest;
}

static void run(kefo_profile_file_kind kind, const uint8_t *data, size_t size) {
  kefo_profile_set *set = NULL;
  char err[256], where[256];
  unsigned long d1, d2;
  size_t n1;
  int rv1, rv2;

  if (kefo__profile_set_new(&set, NULL) != 0) {
    return;
  }
  err[0] = '\0';
  rv1 =
      kefo__profile_set_parse(set, kind, "fuzz", data, size, err, sizeof(err));
  if (rv1 != 0 && rv1 != KEFO_ERR_CONFIG && rv1 != KEFO_ERR_NOMEM) {
    abort();
  }
  if (rv1 == KEFO_ERR_CONFIG && strncmp(err, "fuzz:", 5) != 0) {
    abort();
  }
  d1 = check_set(set);
  n1 = kefo__profile_set_count(set);
  kefo__profile_set_describe(set, where, sizeof(where));
  touch(where);
  /* The same text again changes nothing when it parsed whole. */
  rv2 =
      kefo__profile_set_parse(set, kind, "fuzz", data, size, err, sizeof(err));
  if (rv2 != rv1) {
    abort();
  }
  d2 = check_set(set);
  if (rv1 == 0 && (d2 != d1 || kefo__profile_set_count(set) != n1)) {
    abort();
  }
  kefo__profile_set_del(set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  run(KEFO_PROFILE_FILE_CONFIG, data, size);
  run(KEFO_PROFILE_FILE_CREDENTIALS, data, size);
  return 0;
}
