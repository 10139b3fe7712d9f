/*
 * A multiply-xorshift hash of a byte string, eight bytes at a time, for
 * the open-addressing tables keyed by what the application gives (the
 * KPL aggregate's key tables, the producer's streams). Those keys do not
 * come from the network, so a keyed hash against flooding is not worth
 * its cost; linear probing at half load keeps an unlucky key set slow,
 * not wrong.
 */
#ifndef KEFO_HASH_H
#define KEFO_HASH_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint32_t kefo__hash_bytes(const void *data, size_t len) {
  const uint64_t k = 0x9E3779B97F4A7C15u;
  const unsigned char *s = data;
  uint64_t h = k ^ (uint64_t)len, w;

  while (len >= 8) {
    memcpy(&w, s, 8);
    h = (h ^ w) * k;
    h ^= h >> 29;
    s += 8;
    len -= 8;
  }
  if (len > 0) {
    w = 0;
    memcpy(&w, s, len);
    h = (h ^ w) * k;
  }
  h ^= h >> 32;
  h *= k;
  return (uint32_t)(h >> 32);
}

#endif /* KEFO_HASH_H */
