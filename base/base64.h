/*
 * Base64 (RFC 4648, standard alphabet, padded), the encoding of Data in
 * Kinesis JSON responses and of binary event-stream headers in vectors.
 */
#ifndef KEFO_BASE64_H
#define KEFO_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* Returns the encoded length of |n| bytes (4 * ceil(n / 3)). */
size_t kefo__base64_encoded_len(size_t n);

/* Returns the most bytes |n| characters can decode to (3 * n / 4). */
size_t kefo__base64_decoded_max(size_t n);

/*
 * Encodes |n| bytes at |in| into |out| (no NUL added) and stores the
 * length written in |*outlen|.
 *
 * Returns 0, or KEFO_ERR_BUFFER_TOO_SMALL when |outcap| is below
 * kefo__base64_encoded_len(n).
 */
int kefo__base64_encode(uint8_t *out, size_t outcap, const uint8_t *in,
                        size_t n, size_t *outlen);

/*
 * kefo__base64_encode with the vector path allowed (|simd| nonzero, on
 * x86-64 CPUs with AVX2) or not: for tests and benchmarks that compare
 * the two. Same results and error codes.
 */
int kefo__base64_encode_simd(uint8_t *out, size_t outcap, const uint8_t *in,
                             size_t n, size_t *outlen, int simd);

/*
 * Decodes |n| characters at |in| into |out| and stores the decoded length
 * in |*outlen|. |out| may equal |in| (decoding in place). The text must be
 * a whole number of 4-character groups, with '=' padding only at the end;
 * no whitespace. Unused bits before the padding are ignored, as most
 * decoders do.
 *
 * Returns 0, KEFO_ERR_BASE64 for text that is not base64 (then |*outlen|
 * is 0 and |out| holds garbage), or KEFO_ERR_BUFFER_TOO_SMALL when
 * |outcap| is below kefo__base64_decoded_max(n).
 */
int kefo__base64_decode(uint8_t *out, size_t outcap, const uint8_t *in,
                        size_t n, size_t *outlen);

/*
 * kefo__base64_decode with the vector path allowed (|simd| nonzero, on
 * x86-64 CPUs with AVX2) or not: for tests and benchmarks that compare
 * the two. Same results and error codes.
 */
int kefo__base64_decode_simd(uint8_t *out, size_t outcap, const uint8_t *in,
                             size_t n, size_t *outlen, int simd);

#endif /* KEFO_BASE64_H */
