/*
 * Where AWS settings come from outside kefo's own config: the environment
 * (through a replaceable lookup, so tests never touch the process
 * environment) and the shared ~/.aws/config and ~/.aws/credentials files,
 * parsed without I/O from a buffer into a set of named profiles.
 */
#ifndef KEFO_PROFILE_FILE_H
#define KEFO_PROFILE_FILE_H

#include <stddef.h>
#include <stdint.h>

#include <kefo/kefo.h>

#include "base/mem.h"

/* Environment lookups. |get| returns the value of |name| or NULL; the
   string must stay valid while the caller uses it (getenv's rule). */
typedef struct kefo_env {
  const char *(*get)(const char *name, void *user_data);
  void *user_data;
} kefo_env;

/* The process environment (getenv). Never NULL. */
const kefo_env *kefo__env_system(void);

/* Looks |name| up in |env| (NULL: the process environment). An empty
   value counts as unset: returns NULL for it. */
const char *kefo__env_get(const kefo_env *env, const char *name);

/* Largest shared file read or parsed; bigger ones are an error. */
#define KEFO_PROFILE_FILE_MAX (1024 * 1024)
/* Room for a path the loader builds ($HOME/.aws/credentials, ...). */
#define KEFO_PROFILE_PATH_MAX 4096

typedef enum {
  /* ~/.aws/config: "[default]" and "[profile NAME]". */
  KEFO_PROFILE_FILE_CONFIG = 0,
  /* ~/.aws/credentials: "[NAME]". */
  KEFO_PROFILE_FILE_CREDENTIALS = 1
} kefo_profile_file_kind;

typedef struct kefo_profile kefo_profile;
typedef struct kefo_profile_set kefo_profile_set;

/*
 * Creates an empty set allocating through |mem| (NULL: default).
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
int kefo__profile_set_new(kefo_profile_set **out, const kefo_mem *mem);

/* Frees |set| (NULL is fine), wiping every value: some are secrets. */
void kefo__profile_set_del(kefo_profile_set *set);

/*
 * Parses the |len| bytes at |data| as a file of |kind| and merges its
 * profiles into |set|: a property seen again replaces the earlier value,
 * so parse the config file first and the credentials file second, as
 * the SDKs give the credentials file precedence. |source| names the file
 * in error messages (not copied). Sections that are not profiles
 * ("[sso-session x]", "[services x]", "[profile x]" in a credentials
 * file) and invalid names are skipped with their properties. A line that
 * starts with whitespace continues the previous property's value (the
 * AWS CLI's nested settings); the parts are joined with '\n'.
 *
 * On error |set| may hold part of the file, and |err| (|errlen| bytes,
 * may be 0) says "SOURCE:LINE: what is wrong". Values never appear in it.
 *
 * Returns 0 or:
 * KEFO_ERR_INVALID_ARGUMENT: |set| or |data| (with |len| > 0) is NULL.
 * KEFO_ERR_CONFIG: the text is not a profile file, or is larger than
 *   KEFO_PROFILE_FILE_MAX.
 * KEFO_ERR_NOMEM: out of memory.
 */
int kefo__profile_set_parse(kefo_profile_set *set, kefo_profile_file_kind kind,
                            const char *source, const uint8_t *data, size_t len,
                            char *err, size_t errlen);

/*
 * Reads the file at |path| and parses it as kefo__profile_set_parse does,
 * remembering |path| for kefo__profile_set_describe. A missing file is not
 * an error: |*found| (may be NULL) is set to 0 and |set| is unchanged.
 *
 * Returns 0 or KEFO_ERR_CONFIG (the file cannot be read, is too large or
 * does not parse; |err| names the path and, for a syntax error, the line),
 * KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
int kefo__profile_set_load_file(kefo_profile_set *set,
                                kefo_profile_file_kind kind, const char *path,
                                int *found, char *err, size_t errlen);

/*
 * Works out the two files' paths as the SDKs do: AWS_CONFIG_FILE and
 * AWS_SHARED_CREDENTIALS_FILE ("~/" expanded from HOME), else
 * $HOME/.aws/config and $HOME/.aws/credentials. Each output holds
 * KEFO_PROFILE_PATH_MAX bytes.
 *
 * Returns 0 or KEFO_ERR_CONFIG (HOME is needed but not set, or a path is
 * too long; |err| says which).
 */
int kefo__profile_paths(const kefo_env *env, char *config_path,
                        char *credentials_path, char *err, size_t errlen);

/*
 * Creates a set from the config file and then the credentials file at
 * the paths kefo__profile_paths gives; missing files are fine.
 *
 * Returns 0 or an error as kefo__profile_set_load_file and
 * kefo__profile_paths.
 */
int kefo__profile_set_load_default(kefo_profile_set **out, const kefo_mem *mem,
                                   const kefo_env *env, char *err,
                                   size_t errlen);

/*
 * Writes where profiles were looked for into |out|: "/h/.aws/config and
 * /h/.aws/credentials", "/h/.aws/config" when only one file was loaded,
 * or "no shared files (neither A nor B exists)" — for messages such as
 * "profile 'x' not found in ...". Paths are those passed to
 * kefo__profile_set_load_file; a set only parsed from buffers names the
 * sources given there.
 */
void kefo__profile_set_describe(const kefo_profile_set *set, char *out,
                                size_t outlen);

/* The profile selected: |configured| when not NULL, else AWS_PROFILE,
   else "default". */
const char *kefo__profile_name(const kefo_env *env, const char *configured);

/* Returns the profile named |name| or NULL. */
const kefo_profile *kefo__profile_set_find(const kefo_profile_set *set,
                                           const char *name);

/* Returns the number of profiles and the |i|th (in order of first
   appearance). */
size_t kefo__profile_set_count(const kefo_profile_set *set);
const kefo_profile *kefo__profile_set_at(const kefo_profile_set *set, size_t i);

/* The profile's name. */
const char *kefo__profile_name_of(const kefo_profile *p);

/* Returns the value of property |key| (compared without case, as the AWS
   CLI does) or NULL. The value is lent: valid while the set lives. */
const char *kefo__profile_get(const kefo_profile *p, const char *key);

/* Returns the number of properties and the |i|th name and value. */
size_t kefo__profile_count(const kefo_profile *p);
void kefo__profile_at(const kefo_profile *p, size_t i, const char **key,
                      const char **value);

#endif /* KEFO_PROFILE_FILE_H */
