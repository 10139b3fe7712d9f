/*
 * HTTP/2 frame headers found ahead of nghttp2 (aws/h2_frame_scan.h).
 */
#include "aws/h2_frame_scan.h"

#include <string.h>

#define H2_DATA 0x0

void kefo__h2_frame_scan_init(kefo_h2_frame_scan *scan) {
  memset(scan, 0, sizeof(*scan));
}

size_t kefo__h2_frame_scan_feed(kefo_h2_frame_scan *scan, const uint8_t *data,
                                size_t len, kefo_h2_data_frame *out,
                                size_t cap) {
  size_t off = 0, n = 0;

  while (off < len) {
    const uint8_t *h;
    uint32_t flen;

    if (scan->skip > 0) {
      size_t k = len - off < scan->skip ? len - off : scan->skip;
      off += k;
      scan->skip -= (uint32_t)k;
      continue;
    }
    if (scan->have > 0 || len - off < KEFO_H2_FRAME_HEADER_LEN) {
      /* A header split across pieces: gather it. */
      size_t k = KEFO_H2_FRAME_HEADER_LEN - scan->have;
      if (k > len - off) {
        k = len - off;
      }
      memcpy(scan->header + scan->have, data + off, k);
      scan->have = (uint8_t)(scan->have + k);
      off += k;
      if (scan->have < KEFO_H2_FRAME_HEADER_LEN) {
        break;
      }
      scan->have = 0;
      h = scan->header;
    } else {
      h = data + off;
      off += KEFO_H2_FRAME_HEADER_LEN;
    }
    flen = (uint32_t)h[0] << 16 | (uint32_t)h[1] << 8 | h[2];
    if (h[3] == H2_DATA && flen > 0 && n < cap) {
      out[n].offset = off;
      out[n].stream_id =
          (int32_t)(((uint32_t)h[5] << 24 | (uint32_t)h[6] << 16 |
                     (uint32_t)h[7] << 8 | h[8]) &
                    0x7fffffffu);
      ++n;
    }
    scan->skip = flen;
  }
  return n;
}
