/*
 * SHA-256 of several messages at once, for SigV4's payload hashes: the
 * producer signs every PutRecords body it builds in one pass together.
 *
 * Why: one SHA-256 is a chain (each block needs the last one's result),
 * and on a CPU with the SHA extensions that chain, not the hashing units,
 * sets the speed. OpenSSL hashes one message at a time, so most of the
 * units wait. Hashing two to four messages with their rounds interleaved
 * keeps them busy: 2.0-2.1 GB/s for one message, 3.0 for two, 3.5 for
 * four to six on the AMD EPYC VM of bench/RESULTS.md (bench_wire's
 * "sha256" rows). Sixteen messages or so go faster still in the lanes of
 * AVX-512's registers (sha256_lanes.h); without the SHA extensions they
 * are the only fast way.
 * SHA-256 of the body was 38% of the CPU of a 1 KiB record written.
 *
 * Without either (or on a CPU that is not x86-64), or when
 * the application has set OpenSSL's default properties to FIPS, the
 * messages are hashed one by one by OpenSSL.
 */
#ifndef KEFO_AWS_SHA256_MANY_H
#define KEFO_AWS_SHA256_MANY_H

#include <stddef.h>
#include <stdint.h>

#define KEFO_SHA256_LEN 32

/* One message of kefo__sha256_many: its digest goes to |out|. */
typedef struct kefo_sha256_job {
  const uint8_t *data; /* NULL only with |len| 0 */
  size_t len;
  uint8_t *out; /* KEFO_SHA256_LEN bytes */
} kefo_sha256_job;

/*
 * Writes the SHA-256 of each of the |n| messages of |jobs| to its |out|,
 * as many at a time as pays on this CPU. Messages of any lengths may be
 * mixed: a way that finishes takes the next message.
 *
 * Returns 0, or KEFO_ERR_CRYPTO when OpenSSL failed to hash a message
 * (some of the digests are then not written).
 */
int kefo__sha256_many(const kefo_sha256_job *jobs, size_t n);

/*
 * As kefo__sha256_many with |ways| messages side by side: 1 to 6
 * interleaved on the SHA extensions, 16 (KEFO_SHA256_LANES) in the lanes
 * of AVX-512 registers, or 0 for OpenSSL one message at a time; for the
 * tests and bench_wire, which compare them.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT when |ways| is none of those or
 * this CPU or build lacks what it needs, or while OpenSSL's default
 * properties ask for FIPS (nothing is written), or KEFO_ERR_CRYPTO as
 * kefo__sha256_many.
 */
int kefo__sha256_many_ways(const kefo_sha256_job *jobs, size_t n, int ways);

/* Writes |md| as 64 lowercase hex digits and a NUL to |out|: SigV4's
   form of a payload hash. */
void kefo__sha256_hex(const uint8_t md[KEFO_SHA256_LEN], char out[65]);

/* How many calls' bodies a caller should give kefo__sha256_many together
   on this CPU: 6 with the SHA extensions, else 16 with AVX-512, else 0
   (OpenSSL, one by one); 0 too while OpenSSL's default properties ask
   for FIPS. kefo__sha256_many takes any number, and with both sets of
   instructions hashes sixteen at a time in the lanes whenever it is
   given fourteen or more. */
int kefo__sha256_ways(void);

#endif /* KEFO_AWS_SHA256_MANY_H */
