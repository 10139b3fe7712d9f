/*
 * Internal allocation through an optional kefo_mem: every object copies the
 * allocator it was given and allocates only through it, so tests can fail
 * allocation i on purpose and applications can plug their own.
 */
#ifndef KEFO_MEM_H
#define KEFO_MEM_H

#include <kefo/kefo.h>

/* Returns the default allocator (malloc and friends). Never NULL. */
const kefo_mem *kefo__mem_default(void);

/* Returns |mem|, or the default allocator when |mem| is NULL. */
const kefo_mem *kefo__mem_or_default(const kefo_mem *mem);

void *kefo__mem_malloc(const kefo_mem *mem, size_t size);
void *kefo__mem_calloc(const kefo_mem *mem, size_t nmemb, size_t size);
void *kefo__mem_realloc(const kefo_mem *mem, void *ptr, size_t size);
void kefo__mem_free(const kefo_mem *mem, void *ptr);

/*
 * Makes the array |*v| (|*cap| elements of |size| bytes, |n| in use) hold
 * at least one more, doubling it (64 at first). Returns 0 or
 * KEFO_ERR_NOMEM (|*v| and |*cap| unchanged).
 */
int kefo__mem_grow(const kefo_mem *mem, void **v, size_t n, size_t *cap,
                   size_t size);

/* A NUL-terminated copy of the |len| bytes at |s|, or NULL when out of
   memory. */
char *kefo__mem_strndup(const kefo_mem *mem, const char *s, size_t len);

/* A copy of the string |s|, or NULL when out of memory. */
char *kefo__mem_strdup(const kefo_mem *mem, const char *s);

#endif /* KEFO_MEM_H */
