/*
 * Hash keys in decimal and binary, and their ranges (shard/hash_key.h).
 */
#include "config.h"

#include "shard/hash_key.h"

#include "base/md5.h"

#include <kefo/kefo.h>

static uint64_t load_be64(const uint8_t *p) {
  return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 |
         (uint64_t)p[3] << 32 | (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 |
         (uint64_t)p[6] << 8 | (uint64_t)p[7];
}

void kefo__hash_key_from_digest(kefo_hash_key *key,
                                const uint8_t d[KEFO_HASH_KEY_DIGEST_LEN]) {
  key->hi = load_be64(d);
  key->lo = load_be64(d + 8);
}

/* |*key| = |*key| * 10 + |digit|; -1 when that reaches 2^128. */
static int mul10_add(kefo_hash_key *key, unsigned digit) {
  uint64_t l0 = (key->lo & 0xFFFFFFFFu) * 10 + digit;
  uint64_t l1 = (key->lo >> 32) * 10 + (l0 >> 32);
  uint64_t h0 = (key->hi & 0xFFFFFFFFu) * 10 + (l1 >> 32);
  uint64_t h1 = (key->hi >> 32) * 10 + (h0 >> 32);

  if (h1 >> 32) {
    return -1;
  }
  key->lo = l1 << 32 | (l0 & 0xFFFFFFFFu);
  key->hi = h1 << 32 | (h0 & 0xFFFFFFFFu);
  return 0;
}

int kefo__hash_key_parse(kefo_hash_key *key, const char *s, size_t len) {
  kefo_hash_key k = {0, 0};
  size_t i;

  if (s == NULL || len == 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  for (i = 0; i < len; ++i) {
    if (s[i] < '0' || s[i] > '9' ||
        mul10_add(&k, (unsigned)(s[i] - '0')) != 0) {
      return KEFO_ERR_INVALID_ARGUMENT;
    }
  }
  *key = k;
  return 0;
}

size_t kefo__hash_key_format(char *out, const kefo_hash_key *key) {
  /* Most significant limb first, for long division by 10. */
  uint32_t limb[4];
  char rev[KEFO_HASH_KEY_DEC_LEN];
  size_t n = 0, i;

  limb[0] = (uint32_t)(key->hi >> 32);
  limb[1] = (uint32_t)key->hi;
  limb[2] = (uint32_t)(key->lo >> 32);
  limb[3] = (uint32_t)key->lo;
  do {
    uint64_t rem = 0;

    for (i = 0; i < 4; ++i) {
      uint64_t cur = rem << 32 | limb[i];
      limb[i] = (uint32_t)(cur / 10);
      rem = cur % 10;
    }
    rev[n++] = (char)('0' + rem);
  } while (limb[0] | limb[1] | limb[2] | limb[3]);
  for (i = 0; i < n; ++i) {
    out[i] = rev[n - 1 - i];
  }
  out[n] = '\0';
  return n;
}

int kefo__hash_key_cmp(const kefo_hash_key *a, const kefo_hash_key *b) {
  if (a->hi != b->hi) {
    return a->hi < b->hi ? -1 : 1;
  }
  if (a->lo != b->lo) {
    return a->lo < b->lo ? -1 : 1;
  }
  return 0;
}

void kefo__hash_key_from_partition_key(kefo_hash_key *key, const char *pk,
                                       size_t len) {
  uint8_t d[KEFO_MD5_LEN];

  kefo__md5(pk, len, d);
  kefo__hash_key_from_digest(key, d);
}

int kefo__hash_range_init(kefo_hash_range *range, const char *start,
                          size_t start_len, const char *end, size_t end_len) {
  kefo_hash_range r;

  if (kefo__hash_key_parse(&r.start, start, start_len) != 0 ||
      kefo__hash_key_parse(&r.end, end, end_len) != 0 ||
      kefo__hash_key_cmp(&r.start, &r.end) > 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  *range = r;
  return 0;
}

int kefo__hash_range_contains(const kefo_hash_range *range,
                              const kefo_hash_key *key) {
  return kefo__hash_key_cmp(key, &range->start) >= 0 &&
         kefo__hash_key_cmp(key, &range->end) <= 0;
}
