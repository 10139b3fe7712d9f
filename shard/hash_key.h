/*
 * Kinesis hash keys: the 128-bit numbers that place a record in a shard
 * (the MD5 of its partition key, or its explicit hash key) and the
 * ranges shards own. Used by KPL de-aggregation (which records of an
 * aggregate belong to the shard read) and by the lineage graph (which
 * child takes over which keys).
 */
#ifndef KEFO_HASH_KEY_H
#define KEFO_HASH_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"

/* Room for the decimal form of any hash key: 39 digits and a NUL. */
#define KEFO_HASH_KEY_DEC_LEN 40
/* The MD5 digest a hash key is read from. */
#define KEFO_HASH_KEY_DIGEST_LEN 16

/*
 * A 128-bit unsigned hash key. A struct, not unsigned __int128, so the
 * code stays C99.
 */
typedef struct kefo_hash_key {
  uint64_t hi;
  uint64_t lo;
} kefo_hash_key;

/* A shard's hash-key range, both ends included (as ListShards gives it). */
typedef struct kefo_hash_range {
  kefo_hash_key start;
  kefo_hash_key end;
} kefo_hash_range;

/*
 * Parses the decimal string |s| of |len| bytes (digits only, leading
 * zeros allowed, no sign) into |*key|, which is left alone on error.
 *
 * Returns 0 or KEFO_ERR_INVALID_ARGUMENT (empty, a non-digit, or a value
 * of 2^128 or more).
 */
int kefo__hash_key_parse(kefo_hash_key *key, const char *s, size_t len);

/*
 * Writes |key| in decimal, NUL-terminated, into |out|, which must hold
 * KEFO_HASH_KEY_DEC_LEN bytes. Returns the number of digits.
 */
size_t kefo__hash_key_format(char *out, const kefo_hash_key *key);

/* Returns <0, 0 or >0 as |a| is below, equal to or above |b|. */
int kefo__hash_key_cmp(const kefo_hash_key *a, const kefo_hash_key *b);

/*
 * Stores in |*key| the hash key Kinesis gives the partition key |pk| of
 * |len| bytes: its MD5 read as a big-endian 128-bit number. kefo's own
 * MD5 (base/md5.h): it cannot fail, and costs less than OpenSSL's EVP
 * calls for a short key.
 */
void kefo__hash_key_from_partition_key(kefo_hash_key *key, const char *pk,
                                       size_t len);

/*
 * Sets up |range| from a shard's StartingHashKey and EndingHashKey
 * decimal strings (|start| of |start_len| bytes, |end| of |end_len|).
 *
 * Returns 0 or KEFO_ERR_INVALID_ARGUMENT (a bad number, or start above
 * end).
 */
int kefo__hash_range_init(kefo_hash_range *range, const char *start,
                          size_t start_len, const char *end, size_t end_len);

/* Returns non-zero when |key| lies within |range|, ends included. */
int kefo__hash_range_contains(const kefo_hash_range *range,
                              const kefo_hash_key *key);

/* Reads the MD5 digest |d| of a partition key as Kinesis does: a
   big-endian 128-bit number. */
void kefo__hash_key_from_digest(kefo_hash_key *key,
                                const uint8_t d[KEFO_HASH_KEY_DIGEST_LEN]);

#endif /* KEFO_HASH_KEY_H */
