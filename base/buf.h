/*
 * A growable byte buffer that allocates through a kefo_mem. Used to build
 * strings (canonical requests, JSON lines) without fixed-size arrays.
 */
#ifndef KEFO_BUF_H
#define KEFO_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"

typedef struct kefo_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
  const kefo_mem *mem;
} kefo_buf;

/* Starts an empty buffer that will allocate through |mem| (NULL: default). */
void kefo__buf_init(kefo_buf *b, const kefo_mem *mem);

/* Frees the storage; the buffer may be initialised again. */
void kefo__buf_free(kefo_buf *b);

/* Makes room for |extra| more bytes. Returns 0 or KEFO_ERR_NOMEM (the
   bytes held are kept; an empty buffer may have lost its old room). */
int kefo__buf_reserve(kefo_buf *b, size_t extra);

/* Appends |len| bytes. Returns 0 or KEFO_ERR_NOMEM. */
int kefo__buf_append(kefo_buf *b, const void *data, size_t len);

/* Appends a NUL-terminated string (without its NUL). Returns 0 or
   KEFO_ERR_NOMEM. */
int kefo__buf_append_str(kefo_buf *b, const char *s);

/* Appends one byte. Returns 0 or KEFO_ERR_NOMEM. */
int kefo__buf_append_byte(kefo_buf *b, uint8_t c);

/* Makes the contents a C string (a NUL after the last byte, not counted in
   len) and returns it. Returns NULL on KEFO_ERR_NOMEM. */
char *kefo__buf_cstr(kefo_buf *b);

/* Forgets the contents, keeping the storage. */
void kefo__buf_reset(kefo_buf *b);

#endif /* KEFO_BUF_H */
