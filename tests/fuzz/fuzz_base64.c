/*
 * libFuzzer target for base64 decoding, differential: the vector path
 * (AVX2, on CPUs that have it) against the scalar one, on the input as
 * it is and on its first byte taken as a length to cut it to a multiple
 * of 4 (most raw inputs are refused at once for their length, which
 * would leave the 32-character steps unexplored). Oracles: both paths
 * give the same code and, when they accept, the same bytes, each into a
 * buffer of exactly kefo__base64_decoded_max bytes (ASan sees any store
 * past it); decoding in place gives the same again; an accepted text
 * re-encodes to itself up to the unused bits before padding.
 */
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "tests/fuzz/fuzz.h"

static void check(const uint8_t *in, size_t n) {
  size_t cap = kefo__base64_decoded_max(n), na = 0, nb = 0, nc = 0;
  uint8_t *a = malloc(cap ? cap : 1), *b = malloc(cap ? cap : 1);
  uint8_t *c = malloc(n ? n : 1);
  int ra, rb, rc;

  if (a == NULL || b == NULL || c == NULL) {
    abort();
  }
  ra = kefo__base64_decode_simd(a, cap, in, n, &na, 1);
  rb = kefo__base64_decode_simd(b, cap, in, n, &nb, 0);
  if (ra != rb || (ra == 0 && (na != nb || memcmp(a, b, na) != 0))) {
    abort();
  }
  if (n > 0) {
    memcpy(c, in, n);
  }
  rc = kefo__base64_decode(c, n, c, n, &nc);
  if (rc != ra || (rc == 0 && (nc != na || memcmp(c, a, na) != 0))) {
    abort();
  }
  if (ra == 0) {
    size_t elen = kefo__base64_encoded_len(na), m;
    uint8_t *e = malloc(elen ? elen : 1);
    if (e == NULL || kefo__base64_encode(e, elen, a, na, &m) != 0 || m != n) {
      abort();
    }
    /* Padding and every full character match; the last character before
       padding may differ in its unused low bits. */
    if (n > 0) {
      size_t pad = (in[n - 1] == '=') + (n > 1 && in[n - 2] == '=');
      size_t same = n - pad - (pad ? 1 : 0);
      if (memcmp(e, in, same) != 0 || memcmp(e + n - pad, in + n - pad, pad)) {
        abort();
      }
    }
    free(e);
  }
  free(a);
  free(b);
  free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  check(data, size);
  if (size > 1) {
    size_t n = (size - 1) / 4 * 4;
    size_t want = (size_t)data[0] * 4;
    check(data + 1, want < n ? want : n);
  }
  return 0;
}
