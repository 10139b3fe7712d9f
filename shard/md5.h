/*
 * MD5 as Kinesis uses it (the hash key of a partition key, the KPL
 * aggregate's trailer), with the method fetched and the context made on
 * first use and kept: OpenSSL 3 fetches the implementation again on every
 * EVP_Digest(EVP_md5()), which for short keys costs more than the digest
 * (measured 2.5 times slower). One place for the KPL de-aggregator, the
 * aggregator and the producer's hash keys.
 */
#ifndef KEFO_MD5_H
#define KEFO_MD5_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#define KEFO_MD5_LEN 16

/* Zero-initialise it; free it with kefo__md5_free. Not shared between
   threads. */
typedef struct kefo_md5 {
  EVP_MD *md;
  EVP_MD_CTX *ctx;
} kefo_md5;

/*
 * Writes the MD5 of the |len| bytes at |data| to |out|, making what |m|
 * keeps on the first call. Leaves no OpenSSL error queued.
 *
 * Returns 0 or KEFO_ERR_CRYPTO (no MD5 in this OpenSSL, as under a
 * FIPS-only provider, or no memory for its context).
 */
int kefo__md5_digest(kefo_md5 *m, const void *data, size_t len,
                     uint8_t out[KEFO_MD5_LEN]);

/* Frees what |m| keeps; it may be used again. */
void kefo__md5_free(kefo_md5 *m);

#endif /* KEFO_MD5_H */
