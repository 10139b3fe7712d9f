/*
 * Chunks cut in order, given back when empty. Every object starts with a
 * header naming its chunk (NULL for an object allocated alone, which
 * records its size instead), so freeing needs no search.
 */
#include "base/fifo_arena.h"

#include <stdint.h>

/* What malloc guarantees on the platforms kefo builds for; headers and
   object sizes are kept multiples of it, so objects stay aligned. */
#define ALIGN 16
#define ROUND(n) (((n) + (ALIGN - 1)) & ~(size_t)(ALIGN - 1))

struct kefo_fifo_chunk {
  kefo_fifo_chunk *next; /* in the spare list */
  size_t size;           /* of the whole chunk, header included */
  size_t used;           /* bytes cut, header included */
  size_t live;           /* objects cut and not freed */
};

typedef struct obj_header {
  kefo_fifo_chunk *chunk; /* NULL: allocated alone */
  size_t size;            /* alone: bytes taken, header included */
} obj_header;

#define CHUNK_HEAD ROUND(sizeof(kefo_fifo_chunk))
#define OBJ_HEAD ROUND(sizeof(obj_header))

void kefo__fifo_arena_init(kefo_fifo_arena *a, const kefo_mem *mem,
                           size_t chunk_size) {
  a->mem = kefo__mem_or_default(mem);
  a->chunk_size = chunk_size ? chunk_size : KEFO_FIFO_ARENA_CHUNK;
  if (a->chunk_size < 1024) {
    a->chunk_size = 1024;
  }
  a->cur = NULL;
  a->spare = NULL;
  a->nspare = 0;
  a->footprint = 0;
  a->live = 0;
}

/* The bytes an object of |size| takes, header included; 0 when that
   overflows. */
static size_t obj_bytes(size_t size) {
  if (size > SIZE_MAX - OBJ_HEAD - ALIGN) {
    return 0;
  }
  return OBJ_HEAD + ROUND(size);
}

/* Alone: more than a quarter chunk, so that the space a chunk loses at its
   end to an object that did not fit stays under a quarter. */
static int alone(const kefo_fifo_arena *a, size_t n) {
  return n > (a->chunk_size - CHUNK_HEAD) / 4;
}

static int fits(const kefo_fifo_chunk *c, size_t n) {
  return c != NULL && c->size - c->used >= n;
}

size_t kefo__fifo_arena_cost(const kefo_fifo_arena *a, size_t size) {
  size_t n = obj_bytes(size);

  if (n == 0) {
    return SIZE_MAX;
  }
  if (alone(a, n)) {
    return n;
  }
  if (fits(a->cur, n) || (a->cur && a->cur->live == 0) || a->spare) {
    return 0;
  }
  return a->chunk_size;
}

/* Makes a->cur a chunk with nothing cut yet (an object that is not
   alone always fits one). */
static int next_chunk(kefo_fifo_arena *a) {
  kefo_fifo_chunk *c;

  if (a->cur && a->cur->live == 0) {
    a->cur->used = CHUNK_HEAD; /* empty: cut it again from the start */
    return 0;
  }
  if (a->spare) {
    c = a->spare;
    a->spare = c->next;
    --a->nspare;
  } else {
    c = kefo__mem_malloc(a->mem, a->chunk_size);
    if (c == NULL) {
      return -1;
    }
    c->size = a->chunk_size;
    a->footprint += c->size;
  }
  c->next = NULL;
  c->used = CHUNK_HEAD;
  c->live = 0;
  /* The old current chunk has objects left (else it was reused above):
     the last of them to be freed gives it back. */
  a->cur = c;
  return 0;
}

void *kefo__fifo_arena_alloc(kefo_fifo_arena *a, size_t size) {
  size_t n = obj_bytes(size);
  obj_header *h;

  if (n == 0) {
    return NULL;
  }
  if (alone(a, n)) {
    h = kefo__mem_malloc(a->mem, n);
    if (h == NULL) {
      return NULL;
    }
    h->chunk = NULL;
    h->size = n;
    a->footprint += n;
  } else {
    if (!fits(a->cur, n) && next_chunk(a) != 0) {
      return NULL;
    }
    h = (obj_header *)((char *)a->cur + a->cur->used);
    h->chunk = a->cur;
    h->size = n;
    a->cur->used += n;
    ++a->cur->live;
  }
  ++a->live;
  return (char *)h + OBJ_HEAD;
}

/* Gives back an empty chunk that is not the current one. */
static void retire(kefo_fifo_arena *a, kefo_fifo_chunk *c) {
  if (a->nspare < KEFO_FIFO_ARENA_SPARES) {
    c->next = a->spare;
    a->spare = c;
    ++a->nspare;
    return;
  }
  a->footprint -= c->size;
  kefo__mem_free(a->mem, c);
}

void kefo__fifo_arena_free(kefo_fifo_arena *a, void *p) {
  obj_header *h;
  kefo_fifo_chunk *c;

  if (p == NULL) {
    return;
  }
  h = (obj_header *)((char *)p - OBJ_HEAD);
  --a->live;
  c = h->chunk;
  if (c == NULL) {
    a->footprint -= h->size;
    kefo__mem_free(a->mem, h);
    return;
  }
  if (--c->live == 0 && c != a->cur) {
    retire(a, c);
  }
}

void kefo__fifo_arena_trim(kefo_fifo_arena *a) {
  while (a->spare) {
    kefo_fifo_chunk *c = a->spare;
    a->spare = c->next;
    a->footprint -= c->size;
    kefo__mem_free(a->mem, c);
  }
  a->nspare = 0;
  if (a->cur && a->cur->live == 0) {
    a->footprint -= a->cur->size;
    kefo__mem_free(a->mem, a->cur);
    a->cur = NULL;
  }
}
