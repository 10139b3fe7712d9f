/*
 * The default allocator and the thin wrappers every module allocates
 * through.
 */
#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

static void *default_malloc(size_t size, void *ud) {
  (void)ud;
  return malloc(size);
}

static void default_free(void *ptr, void *ud) {
  (void)ud;
  free(ptr);
}

static void *default_calloc(size_t nmemb, size_t size, void *ud) {
  (void)ud;
  return calloc(nmemb, size);
}

static void *default_realloc(void *ptr, size_t size, void *ud) {
  (void)ud;
  return realloc(ptr, size);
}

static const kefo_mem mem_default = {NULL, default_malloc, default_free,
                                     default_calloc, default_realloc};

const kefo_mem *kefo__mem_default(void) {
  return &mem_default;
}

const kefo_mem *kefo__mem_or_default(const kefo_mem *mem) {
  return mem ? mem : &mem_default;
}

void *kefo__mem_malloc(const kefo_mem *mem, size_t size) {
  return mem->malloc(size, mem->mem_user_data);
}

void *kefo__mem_calloc(const kefo_mem *mem, size_t nmemb, size_t size) {
  return mem->calloc(nmemb, size, mem->mem_user_data);
}

void *kefo__mem_realloc(const kefo_mem *mem, void *ptr, size_t size) {
  return mem->realloc(ptr, size, mem->mem_user_data);
}

void kefo__mem_free(const kefo_mem *mem, void *ptr) {
  mem->free(ptr, mem->mem_user_data);
}

char *kefo__mem_strndup(const kefo_mem *mem, const char *s, size_t len) {
  char *d = kefo__mem_malloc(mem, len + 1);

  if (d != NULL) {
    memcpy(d, s, len);
    d[len] = '\0';
  }
  return d;
}

char *kefo__mem_strdup(const kefo_mem *mem, const char *s) {
  return kefo__mem_strndup(mem, s, strlen(s));
}

int kefo__mem_grow(const kefo_mem *mem, void **v, size_t n, size_t *cap,
                   size_t size) {
  void *nv;
  size_t ncap;

  if (n < *cap) {
    return 0;
  }
  ncap = *cap ? *cap * 2 : 64;
  nv = kefo__mem_realloc(mem, *v, ncap * size);
  if (nv == NULL) {
    return KEFO_ERR_NOMEM;
  }
  *v = nv;
  *cap = ncap;
  return 0;
}
