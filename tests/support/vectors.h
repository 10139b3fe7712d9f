/*
 * Access to the external test vectors (../shared/vectors, or $KEFO_VECTORS)
 * and small file helpers for the test suites.
 */
#ifndef KEFO_TESTS_VECTORS_H
#define KEFO_TESTS_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* The vectors folder: $KEFO_VECTORS if set, else the configured one. */
const char *kefo_test_vectors_dir(void);

/* Reads a whole file into a malloc'ed buffer (with a NUL after the last
   byte, not counted). Returns 0, or -1 with a message on stderr. */
int kefo_test_read_path(const char *path, uint8_t **data, size_t *len);

/* Reads |rel| under the vectors folder. Returns 0 or -1. */
int kefo_test_read_vector(const char *rel, uint8_t **data, size_t *len);

/* Parses |rel| under the vectors folder as JSON; NULL on failure. */
cJSON *kefo_test_read_vector_json(const char *rel);

/* Lists the entries of folder |rel| under the vectors folder, sorted, without
   "." and "..". Returns the count (0 when missing); free with
   kefo_test_free_list. */
size_t kefo_test_list_vectors(const char *rel, char ***names);
void kefo_test_free_list(char **names, size_t n);

#endif /* KEFO_TESTS_VECTORS_H */
