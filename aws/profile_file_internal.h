/*
 * The profile set's insides, shared by profile_file.c (the set, its lookups
 * and the loader of the two files) and profile_parse.c (the line parser
 * that fills it). Private to aws/profile_*.c.
 */
#ifndef KEFO_PROFILE_FILE_INTERNAL_H
#define KEFO_PROFILE_FILE_INTERNAL_H

#include <stddef.h>

#include "aws/profile_file.h"

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

/* Stores cannot be optimised away through a volatile pointer. */
static inline void wipe(void *p, size_t len) {
  volatile unsigned char *q = p;

  while (len--) {
    *q++ = 0;
  }
}

static inline char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? (char)(c | 0x20) : c;
}

/* Frees |p|'s properties, wiping their values; |p| stays, empty. */
void kefo__profile_file_clear(const kefo_mem *mem, kefo_profile *p);
/* The profile named by the |len| bytes at |name|, or NULL. */
kefo_profile *kefo__profile_file_find(const kefo_profile_set *set,
                                      const char *name, size_t len);
/* Notes |source| as the last file of |kind| loaded or parsed, and whether
   it existed. Returns 0 or KEFO_ERR_NOMEM. */
int kefo__profile_file_remember_source(kefo_profile_set *set,
                                       kefo_profile_file_kind kind,
                                       const char *source, int found);

#endif /* KEFO_PROFILE_FILE_INTERNAL_H */
