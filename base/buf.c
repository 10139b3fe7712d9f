/*
 * Growable byte buffer: doubling growth, allocator-aware.
 */
#include "base/buf.h"

#include <string.h>

void kefo__buf_init(kefo_buf *b, const kefo_mem *mem) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->mem = kefo__mem_or_default(mem);
}

void kefo__buf_free(kefo_buf *b) {
  kefo__mem_free(b->mem, b->data);
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
}

int kefo__buf_reserve(kefo_buf *b, size_t extra) {
  size_t need, cap;
  uint8_t *p;

  if (extra > SIZE_MAX - b->len - 1) {
    return KEFO_ERR_NOMEM;
  }
  /* One spare byte so kefo__buf_cstr never has to grow. */
  need = b->len + extra + 1;
  if (need <= b->cap) {
    return 0;
  }
  cap = b->cap ? b->cap : 64;
  while (cap < need) {
    cap = cap > SIZE_MAX / 2 ? need : cap * 2;
  }
  if (b->len == 0 && b->data != NULL) {
    /* Nothing to keep: a realloc would copy the old room's bytes into
       the new one (touching its pages for nothing) before freeing it. */
    kefo__mem_free(b->mem, b->data);
    b->data = NULL;
    b->cap = 0;
  }
  p = kefo__mem_realloc(b->mem, b->data, cap);
  if (p == NULL) {
    return KEFO_ERR_NOMEM;
  }
  b->data = p;
  b->cap = cap;
  return 0;
}

int kefo__buf_append(kefo_buf *b, const void *data, size_t len) {
  int rv;

  if (len == 0) {
    return 0;
  }
  rv = kefo__buf_reserve(b, len);
  if (rv != 0) {
    return rv;
  }
  memcpy(b->data + b->len, data, len);
  b->len += len;
  return 0;
}

int kefo__buf_append_str(kefo_buf *b, const char *s) {
  return kefo__buf_append(b, s, strlen(s));
}

int kefo__buf_append_byte(kefo_buf *b, uint8_t c) {
  int rv = kefo__buf_reserve(b, 1);

  if (rv != 0) {
    return rv;
  }
  b->data[b->len++] = c;
  return 0;
}

char *kefo__buf_cstr(kefo_buf *b) {
  if (kefo__buf_reserve(b, 0) != 0) {
    return NULL;
  }
  b->data[b->len] = '\0';
  return (char *)b->data;
}

void kefo__buf_reset(kefo_buf *b) {
  b->len = 0;
}
