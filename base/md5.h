/*
 * MD5 (RFC 1321) as Kinesis uses it: the hash key of a partition key and
 * the KPL aggregate's trailer. Not for security. kefo's own, for two
 * reasons measured in bench/RESULTS.md: OpenSSL 3's EVP interface costs
 * more than the digest for a 16-byte key, and MD5 cannot be sped up on
 * one message (each step needs the last), so the producer hashes its
 * aggregates several at a time, one per 32-bit lane of a vector register
 * (8 with AVX2, 16 or 32 with AVX-512F, chosen at run time). It also keeps
 * working where OpenSSL has no MD5 (a FIPS-only provider).
 */
#ifndef KEFO_BASE_MD5_H
#define KEFO_BASE_MD5_H

#include <stddef.h>
#include <stdint.h>

#define KEFO_MD5_LEN 16

/* Writes the MD5 of the |len| bytes at |data| to |out|. */
void kefo__md5(const void *data, size_t len, uint8_t out[KEFO_MD5_LEN]);

/* One message of kefo__md5_many: its digest goes to |out|. */
typedef struct kefo_md5_job {
  const uint8_t *data;
  size_t len;
  uint8_t *out;
} kefo_md5_job;

/*
 * Writes the MD5 of each of the |n| messages of |jobs| to its |out|, as
 * kefo__md5 would, with as many in parallel as the CPU has lanes for.
 * Messages of any lengths may be mixed: a lane that finishes takes the
 * next message.
 */
void kefo__md5_many(const kefo_md5_job *jobs, size_t n);

/*
 * As kefo__md5_many with |lanes| lanes: 1 (one message at a time), 8
 * (AVX2), 16 or 32 (AVX-512F; 32 as two groups of 16 side by side); for
 * the tests and bench_wire, which compare them. 0 picks the most this CPU
 * has.
 *
 * Returns 0, or KEFO_ERR_INVALID_ARGUMENT when |lanes| is none of these
 * or this CPU or build has no such lanes (nothing is written).
 */
int kefo__md5_many_lanes(const kefo_md5_job *jobs, size_t n, int lanes);

/* The most lanes kefo__md5_many uses on this CPU: 1, 8 or 32 (16 for
   batches of up to 16 messages). */
int kefo__md5_lanes(void);

#endif /* KEFO_BASE_MD5_H */
