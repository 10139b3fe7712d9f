/*
 * libFuzzer target for the kefo config file parser. Oracles: the result is
 * 0 or a config error naming the input; a failed load leaves the config
 * exactly as it was (all or nothing); a good load reads back, and every
 * value read back (canonical text) parses again to the same value; the
 * secret key never reads back in clear.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "runtime/config.h"

/* Writes every key's effective value, one "key=value" line each, to
   |out|; the secret is skipped (it reads as "****"). Returns the length. */
static size_t dump(const kefo_config *cfg, char *out, size_t outlen) {
  size_t i, n = 0;

  out[0] = '\0';
  for (i = 0; i < kefo__config_key_count(); ++i) {
    const char *key = kefo__config_key_name(i);
    const char *v = kefo_config_get(cfg, key);
    int w;

    if (v == NULL) {
      abort();
    }
    if (strcmp(key, KEFO_CFG_SECRET_KEY) == 0) {
      if (strcmp(v, "") != 0 && strcmp(v, "****") != 0) {
        abort();
      }
      continue;
    }
    if (*v == '\0') {
      continue;
    }
    w = snprintf(out + n, outlen - n, "%s=%s\n", key, v);
    if (w < 0 || (size_t)w >= outlen - n) {
      abort();
    }
    n += (size_t)w;
  }
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Every key at its longest fits comfortably. */
  static char before[KEFO_CONFIG_FILE_MAX * 2], after[KEFO_CONFIG_FILE_MAX * 2];
  static char again[KEFO_CONFIG_FILE_MAX * 2];
  kefo_config *cfg = NULL, *copy = NULL;
  char err[512], tiny[8];
  size_t n;
  int rv, rv2;

  if (kefo_config_new(&cfg) != 0) {
    return 0;
  }
  /* Something set beforehand, so an all-or-nothing failure shows. */
  if (kefo_config_set(cfg, KEFO_CFG_AWS_REGION, "us-east-1") != 0 ||
      kefo_config_set(cfg, KEFO_CFG_SECRET_KEY, "SECRETVALUE") != 0) {
    abort();
  }
  dump(cfg, before, sizeof(before));
  rv = kefo__config_load_buffer(cfg, data, size, "fuzz", err, sizeof(err));
  if (rv != 0 && rv != KEFO_ERR_CONFIG && rv != KEFO_ERR_NOMEM) {
    abort();
  }
  if (rv == KEFO_ERR_CONFIG && strncmp(err, "fuzz:", 5) != 0) {
    abort();
  }
  /* The secret set before is never shown (unless the input holds it). */
  if (strstr(err, "SECRETVALUE") != NULL &&
      memmem(data, size, "SECRETVALUE", 11) == NULL) {
    abort();
  }
  dump(cfg, after, sizeof(after));
  if (rv != 0 && strcmp(before, after) != 0) {
    abort();
  }
  (void)kefo_config_validate(cfg, err, sizeof(err));
  (void)kefo__config_validate_sink(cfg, err, sizeof(err));
  /* The same input again gives the same answer, even into a tiny buffer. */
  rv2 = kefo__config_load_buffer(cfg, data, size, "fuzz", tiny, sizeof(tiny));
  if (rv2 != rv || strlen(tiny) >= sizeof(tiny)) {
    abort();
  }
  if (rv == 0) {
    /* What reads back parses again to the same thing. */
    n = strlen(after);
    if (kefo_config_new(&copy) != 0) {
      abort();
    }
    if (kefo__config_load_buffer(copy, (const uint8_t *)after, n, "dump", err,
                                 sizeof(err)) != 0) {
      /* A dump longer than a file may hold is the only excuse. */
      if (n <= KEFO_CONFIG_FILE_MAX) {
        abort();
      }
    } else {
      dump(copy, again, sizeof(again));
      if (strcmp(after, again) != 0) {
        abort();
      }
    }
    kefo_config_del(copy);
  }
  kefo_config_del(cfg);
  return 0;
}
