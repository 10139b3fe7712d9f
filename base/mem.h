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

/*
 * A block of at least |size| bytes for a large buffer kept while it is
 * reused (an event held whole until its CRC is checked), its usable size
 * in |*cap|. With the default allocator on Linux, a block of
 * KEFO_MEM_BIG_MIN or more is mapped on its own, in whole 2 MiB pages,
 * and advised to be backed by transparent huge pages: touching a fresh
 * 4 KiB page costs a page fault each, and on virtual machines a fault is
 * dear (12 us each on the benchmark VM: a 16 MB event cost 4,000 of
 * them, a third of kefo-reader's CPU on kinesis-local's events). Other
 * allocators are called as usual. Free it with kefo__mem_big_free and
 * the same |*cap|.
 *
 * Returns the block, or NULL when out of memory.
 */
void *kefo__mem_big_alloc(const kefo_mem *mem, size_t size, size_t *cap);

/* Frees a block of kefo__mem_big_alloc whose |cap| it gave. |ptr| may be
   NULL. */
void kefo__mem_big_free(const kefo_mem *mem, void *ptr, size_t cap);

#define KEFO_MEM_BIG_MIN (2u * 1024 * 1024)

/* A NUL-terminated copy of the |len| bytes at |s|, or NULL when out of
   memory. */
char *kefo__mem_strndup(const kefo_mem *mem, const char *s, size_t len);

/* A copy of the string |s|, or NULL when out of memory. */
char *kefo__mem_strdup(const kefo_mem *mem, const char *s);

#endif /* KEFO_MEM_H */
