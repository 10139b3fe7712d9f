/*
 * CRC-32 from zlib: zlib 1.2.12+ computes it with a braided table method
 * at several GB/s, so a hand-written one would add code, not speed
 * (bench/bench_wire measures it beside memcpy).
 */
#include "aws/crc32.h"

#include <zlib.h>

uint32_t kefo_crc32(uint32_t crc, const uint8_t *data, size_t len) {
  if (len == 0) {
    return crc;
  }
  return (uint32_t)crc32_z(crc, data, len);
}
