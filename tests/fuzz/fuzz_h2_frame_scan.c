/*
 * libFuzzer target for the HTTP/2 frame-header scanner, differential: the
 * input scanned whole against the same input cut into pieces whose sizes
 * come from its own bytes. Oracles: the same DATA frames at the same
 * global offsets either way, every offset within the input, and no read
 * outside it (ASan: each piece is copied into a buffer of exactly its
 * size).
 */
#include <stdlib.h>
#include <string.h>

#include "aws/h2_frame_scan.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Each stored frame took a 9-byte header from the input. */
  size_t cap = size / KEFO_H2_FRAME_HEADER_LEN + 1, off = 0, n, m = 0, i;
  kefo_h2_data_frame *whole = malloc(cap * sizeof(*whole));
  kefo_h2_data_frame *cut = malloc(cap * sizeof(*cut));
  kefo_h2_frame_scan a, b;

  if (whole == NULL || cut == NULL) {
    abort();
  }
  kefo__h2_frame_scan_init(&a);
  kefo__h2_frame_scan_init(&b);
  n = kefo__h2_frame_scan_feed(&a, data, size, whole, cap);
  for (i = 0; i < n; ++i) {
    if (whole[i].offset > size || whole[i].offset < KEFO_H2_FRAME_HEADER_LEN ||
        whole[i].stream_id < 0) {
      abort();
    }
  }
  while (off < size) {
    size_t piece = 1 + data[off] % 23, k;
    uint8_t *copy;
    if (piece > size - off) {
      piece = size - off;
    }
    copy = malloc(piece);
    if (copy == NULL) {
      abort();
    }
    memcpy(copy, data + off, piece);
    k = kefo__h2_frame_scan_feed(&b, copy, piece, cut + m, cap - m);
    for (i = m; i < m + k; ++i) {
      if (cut[i].offset > piece) {
        abort();
      }
      cut[i].offset += off;
    }
    m += k;
    free(copy);
    off += piece;
  }
  if (m != n || a.skip != b.skip || a.have != b.have ||
      memcmp(a.header, b.header, a.have) != 0) {
    abort();
  }
  for (i = 0; i < n; ++i) {
    if (whole[i].offset != cut[i].offset ||
        whole[i].stream_id != cut[i].stream_id) {
      abort();
    }
  }
  free(whole);
  free(cut);
  return 0;
}
