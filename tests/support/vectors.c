/*
 * Reading the external vectors. A missing vector is a test failure (the
 * caller asserts on the return value), never a silent skip.
 */
#include "tests/support/vectors.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *kefo_test_vectors_dir(void) {
  const char *env = getenv("KEFO_VECTORS");
  return env && *env ? env : KEFO_VECTORS_DIR;
}

int kefo_test_read_path(const char *path, uint8_t **data, size_t *len) {
  FILE *f = fopen(path, "rb");
  uint8_t *buf = NULL;
  size_t cap = 0, n = 0, r;

  if (f == NULL) {
    fprintf(stderr, "cannot open %s\n", path);
    return -1;
  }
  for (;;) {
    if (cap - n < 4096) {
      uint8_t *nb;
      cap = cap ? cap * 2 : 8192;
      nb = realloc(buf, cap + 1);
      if (nb == NULL) {
        free(buf);
        fclose(f);
        return -1;
      }
      buf = nb;
    }
    r = fread(buf + n, 1, cap - n, f);
    n += r;
    if (r == 0) {
      break;
    }
  }
  fclose(f);
  buf[n] = '\0';
  *data = buf;
  *len = n;
  return 0;
}

int kefo_test_read_vector(const char *rel, uint8_t **data, size_t *len) {
  char path[4096];

  snprintf(path, sizeof(path), "%s/%s", kefo_test_vectors_dir(), rel);
  return kefo_test_read_path(path, data, len);
}

cJSON *kefo_test_read_vector_json(const char *rel) {
  uint8_t *data;
  size_t len;
  cJSON *j;

  if (kefo_test_read_vector(rel, &data, &len) != 0) {
    return NULL;
  }
  j = cJSON_ParseWithLength((const char *)data, len);
  if (j == NULL) {
    fprintf(stderr, "bad JSON in %s\n", rel);
  }
  free(data);
  return j;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t kefo_test_list_vectors(const char *rel, char ***names) {
  char path[4096];
  DIR *d;
  struct dirent *e;
  char **v = NULL;
  size_t n = 0, cap = 0;

  *names = NULL;
  snprintf(path, sizeof(path), "%s/%s", kefo_test_vectors_dir(), rel);
  d = opendir(path);
  if (d == NULL) {
    fprintf(stderr, "cannot open folder %s\n", path);
    return 0;
  }
  while ((e = readdir(d)) != NULL) {
    if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
      continue;
    }
    if (n == cap) {
      char **nv;
      cap = cap ? cap * 2 : 16;
      nv = realloc(v, cap * sizeof(*v));
      if (nv == NULL) {
        break;
      }
      v = nv;
    }
    v[n++] = strdup(e->d_name);
  }
  closedir(d);
  if (n > 0) {
    qsort(v, n, sizeof(*v), cmp_names);
  }
  *names = v;
  return n;
}

void kefo_test_free_list(char **names, size_t n) {
  size_t i;

  for (i = 0; i < n; ++i) {
    free(names[i]);
  }
  free(names);
}
