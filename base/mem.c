/*
 * The default allocator and the thin wrappers every module allocates
 * through.
 */
#include "config.h"

#include "base/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#if defined(__linux__) && defined(MADV_HUGEPAGE) && defined(MAP_ANONYMOUS)
#define KEFO_MEM_HUGE 1
#endif

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

#ifdef KEFO_MEM_HUGE
static int is_default(const kefo_mem *mem) {
  return mem->malloc == default_malloc && mem->free == default_free;
}
#endif

void *kefo__mem_big_alloc(const kefo_mem *mem, size_t size, size_t *cap) {
#ifdef KEFO_MEM_HUGE
  if (size >= KEFO_MEM_BIG_MIN && is_default(mem) &&
      size <= SIZE_MAX - 2 * KEFO_MEM_BIG_MIN) {
    size_t len =
        (size + KEFO_MEM_BIG_MIN - 1) & ~(size_t)(KEFO_MEM_BIG_MIN - 1);
    /* One huge page more, so that the block can start on a 2 MiB
       boundary, the head and tail given back. */
    uint8_t *p = mmap(NULL, len + KEFO_MEM_BIG_MIN, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    uintptr_t a;
    size_t head;

    if (p == MAP_FAILED) {
      return NULL;
    }
    a = ((uintptr_t)p + KEFO_MEM_BIG_MIN - 1) &
        ~(uintptr_t)(KEFO_MEM_BIG_MIN - 1);
    head = (size_t)(a - (uintptr_t)p);
    if (head > 0) {
      munmap(p, head);
    }
    munmap((uint8_t *)a + len, KEFO_MEM_BIG_MIN - head);
    /* Only advice: without huge pages the block works as any other. */
    madvise((void *)a, len, MADV_HUGEPAGE);
    *cap = len;
    return (void *)a;
  }
#endif
  *cap = size;
  return kefo__mem_malloc(mem, size);
}

void kefo__mem_big_free(const kefo_mem *mem, void *ptr, size_t cap) {
  if (ptr == NULL) {
    return;
  }
#ifdef KEFO_MEM_HUGE
  if (cap >= KEFO_MEM_BIG_MIN && is_default(mem)) {
    munmap(ptr, cap);
    return;
  }
#endif
  kefo__mem_free(mem, ptr);
}
