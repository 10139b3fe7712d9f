/*
 * SHA-256 of sixteen messages at once in the lanes of AVX-512 registers,
 * for kefo__sha256_many (sha256_many.h) when it has that many.
 *
 * Why: the SHA extensions' units are few; with six messages interleaved
 * they hash 3.5 GB/s on the AMD EPYC VM of bench/RESULTS.md and no more
 * with more. The plain integer rounds, sixteen messages wide, keep the
 * vector units busy instead: 4.5 GB/s there (bench_wire's "sha256"
 * rows), when all sixteen lanes have a message. And many CPUs with
 * AVX-512 have no SHA extensions at all; OpenSSL then hashes one message
 * at a time with general instructions.
 */
#ifndef KEFO_AWS_SHA256_LANES_H
#define KEFO_AWS_SHA256_LANES_H

#include <stddef.h>

#include "aws/sha256_many.h"

#define KEFO_SHA256_LANES 16

/* Whether this CPU and build have AVX-512 (F and BW) for
   kefo__sha256_lanes. */
int kefo__sha256_lanes_usable(void);

/* Writes the SHA-256 of each of the |n| messages of |jobs| to its |out|,
   sixteen at a time (a lane that finishes takes the next message). Only
   when kefo__sha256_lanes_usable(); cannot fail. */
void kefo__sha256_lanes(const kefo_sha256_job *jobs, size_t n);

#endif /* KEFO_AWS_SHA256_LANES_H */
