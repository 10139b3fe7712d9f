/*
 * A scanner of HTTP/2 frame headers, a step ahead of nghttp2: it finds the
 * DATA frames in a piece of received bytes (and which stream each is for)
 * before nghttp2 parses them, so that the HTTP/2 client can prefetch the
 * state of the streams whose frames come next (aws/h2_client.c). It only
 * follows the framing (RFC 9113 section 4.1: 24-bit length, type, flags,
 * 31-bit stream id); it checks nothing, and what it finds is only ever a
 * hint. I/O-free: bytes in, frame positions out.
 */
#ifndef KEFO_H2_FRAME_SCAN_H
#define KEFO_H2_FRAME_SCAN_H

#include <stddef.h>
#include <stdint.h>

#define KEFO_H2_FRAME_HEADER_LEN 9

/* Where the scanner is in a connection's byte stream, between pieces. */
typedef struct kefo_h2_frame_scan {
  uint32_t skip; /* payload bytes of the current frame still to come */
  uint8_t have;  /* bytes of a frame header split across pieces */
  uint8_t header[KEFO_H2_FRAME_HEADER_LEN];
} kefo_h2_frame_scan;

/* A DATA frame with a payload: where its payload starts in the piece
   (the piece's length if it starts in the next one) and its stream. */
typedef struct kefo_h2_data_frame {
  size_t offset;
  int32_t stream_id;
} kefo_h2_data_frame;

/* A scanner at the start of a connection's received bytes: the first
   byte is a frame header's (a client receives no preface). */
void kefo__h2_frame_scan_init(kefo_h2_frame_scan *scan);

/*
 * Reads the next |len| bytes of the connection, |data|, and stores the
 * DATA frames with a payload whose header ends in them in |out|, in
 * order, at most |cap| (the scan goes on past them, so that the next
 * piece starts in step). Returns how many were stored. Never reads
 * outside |data|; any bytes are accepted.
 */
size_t kefo__h2_frame_scan_feed(kefo_h2_frame_scan *scan, const uint8_t *data,
                                size_t len, kefo_h2_data_frame *out,
                                size_t cap);

#endif /* KEFO_H2_FRAME_SCAN_H */
