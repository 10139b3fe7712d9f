/*
 * An allocator for objects freed in about the order they were made, as
 * the producer's records are (put, sent, acknowledged): small objects are
 * cut one after another from chunks, a chunk goes back once its last
 * object is freed, and a few empty chunks are kept for the next ones.
 *
 * Why: a malloc and a free for every 100-byte record, and glibc trimming
 * the top of the heap each time a whole batch was acknowledged (brk, then
 * page faults to grow it again), were about a fifth of the producer's CPU
 * for 100 B records (bench/RESULTS.md, path 6).
 *
 * What it holds is counted: kefo__fifo_arena_footprint is every byte taken
 * from the allocator, a chunk kept alive by one late object included, so
 * a caller bounds the memory it really holds, not only what its objects
 * ask for. Objects larger than a quarter of a chunk are allocated alone.
 * Not shared between threads.
 */
#ifndef KEFO_FIFO_ARENA_H
#define KEFO_FIFO_ARENA_H

#include <stddef.h>

#include "base/mem.h"

typedef struct kefo_fifo_chunk kefo_fifo_chunk;

/* Set up with kefo__fifo_arena_init; once every object is freed,
   kefo__fifo_arena_trim gives everything back. */
typedef struct kefo_fifo_arena {
  const kefo_mem *mem;
  size_t chunk_size;
  /* The chunk objects are cut from; NULL before the first. */
  kefo_fifo_chunk *cur;
  /* Empty chunks kept for reuse, at most KEFO_FIFO_ARENA_SPARES. */
  kefo_fifo_chunk *spare;
  size_t nspare;
  /* Bytes taken from |mem| and not given back. */
  size_t footprint;
  /* Objects allocated and not freed. */
  size_t live;
} kefo_fifo_arena;

/* Empty chunks kept: enough that a stream of batches acknowledged whole
   does not go back to the allocator for every chunk. */
#define KEFO_FIFO_ARENA_SPARES 4

/* The chunk size when none is given: 64 KiB, below glibc's mmap
   threshold, so chunks come from the heap. */
#define KEFO_FIFO_ARENA_CHUNK (64u << 10)

/*
 * Prepares |a| to allocate through |mem| (NULL: malloc) in chunks of
 * |chunk_size| bytes (0: KEFO_FIFO_ARENA_CHUNK; at least 1 KiB is used).
 * Allocates nothing.
 */
void kefo__fifo_arena_init(kefo_fifo_arena *a, const kefo_mem *mem,
                           size_t chunk_size);

/*
 * Returns |size| bytes aligned for any type, or NULL when out of memory
 * (|a| unchanged).
 */
void *kefo__fifo_arena_alloc(kefo_fifo_arena *a, size_t size);

/* Frees |p|, from kefo__fifo_arena_alloc on |a|. NULL is allowed. */
void kefo__fifo_arena_free(kefo_fifo_arena *a, void *p);

/*
 * How many bytes kefo__fifo_arena_alloc(|a|, |size|) would add to the
 * footprint now: 0 when it fits the current chunk or a spare one.
 */
size_t kefo__fifo_arena_cost(const kefo_fifo_arena *a, size_t size);

/* Frees the spare chunks and the current one if it is empty; the objects
   still allocated stay valid. |a| may be used again. */
void kefo__fifo_arena_trim(kefo_fifo_arena *a);

#endif /* KEFO_FIFO_ARENA_H */
