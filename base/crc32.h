/*
 * CRC-32 (IEEE 802.3 / zlib polynomial), as event-stream frames use it.
 */
#ifndef KEFO_CRC32_H
#define KEFO_CRC32_H

#include <stddef.h>
#include <stdint.h>

/*
 * Continues the CRC-32 |crc| (0 to start) over |len| bytes at |data| and
 * returns it. Feeding a buffer in pieces gives the same result as feeding
 * it whole.
 */
uint32_t kefo__crc32(uint32_t crc, const uint8_t *data, size_t len);

#endif /* KEFO_CRC32_H */
