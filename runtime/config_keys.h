/*
 * The key table of runtime/config_keys.c, for the configuration's own
 * files (runtime/config*.c); the rest of kefo reads keys through
 * runtime/config.h.
 */
#ifndef KEFO_CONFIG_KEYS_H
#define KEFO_CONFIG_KEYS_H

#include <stddef.h>

#include "runtime/config_value.h"

/* How many keys the table holds: a config keeps one value a key in
   arrays of this size. runtime/config_keys.c does not compile while it
   differs from the table's count, so a new key raises it there. */
#define KEFO_CONFIG_NKEYS 67

/* The table, KEFO_CONFIG_NKEYS entries in the order of kefo-config(5). */
extern const kefo_config_key_def *const kefo__config_keys;

/* The index of the key named by the |len| bytes at |name| (exact, case
   included), or -1 when there is none. */
int kefo__config_key_find(const char *name, size_t len);

/* The key that an unknown |name| (|len| bytes) most likely meant: the
   real name of a name people try (other connectors, older drafts), else
   the key a few typos away, else NULL. */
const char *kefo__config_key_suggest(const char *name, size_t len);

#endif /* KEFO_CONFIG_KEYS_H */
