/*
 * The HTTP/2 frame-header scanner (aws/h2_frame_scan.h): the DATA frames
 * of a byte stream found at the same places however it is cut into
 * pieces, the other frames and empty DATA frames passed over, payloads
 * that look like frame headers skipped, and a full output array leaving
 * the scanner in step.
 */
#include <string.h>

#include <CUnit/CUnit.h>

#include "aws/h2_frame_scan.h"
#include "tests/unit/suites.h"

typedef struct want {
  size_t offset;
  int32_t id;
} want;

/* Appends a frame whose payload is bytes that look like DATA frame
   headers for stream 9 (a scanner that reads inside payloads finds
   them). */
static size_t put_frame(uint8_t *p, uint8_t type, uint32_t id, size_t len) {
  size_t i;

  p[0] = (uint8_t)(len >> 16);
  p[1] = (uint8_t)(len >> 8);
  p[2] = (uint8_t)len;
  p[3] = type;
  p[4] = 0;
  p[5] = (uint8_t)(id >> 24);
  p[6] = (uint8_t)(id >> 16);
  p[7] = (uint8_t)(id >> 8);
  p[8] = (uint8_t)id;
  for (i = 0; i < len; ++i) {
    static const uint8_t fake[9] = {0, 0, 1, 0, 0, 0, 0, 0, 9};
    p[9 + i] = fake[i % 9];
  }
  return 9 + len;
}

static uint8_t stream[40000];

/* SETTINGS, WINDOW_UPDATE, HEADERS, DATA 1, empty DATA 3, DATA 3 of
   16 KiB, PING, DATA 5 of one byte, RST_STREAM, DATA with the reserved
   bit of its stream id set. */
static size_t build(want *w, size_t *nw) {
  size_t len = 0;

  *nw = 0;
  len += put_frame(stream + len, 0x4, 0, 6);
  len += put_frame(stream + len, 0x8, 0, 4);
  len += put_frame(stream + len, 0x1, 1, 20);
  w[(*nw)++] = (want){len + 9, 1};
  len += put_frame(stream + len, 0x0, 1, 300);
  len += put_frame(stream + len, 0x0, 3, 0);
  w[(*nw)++] = (want){len + 9, 3};
  len += put_frame(stream + len, 0x0, 3, 16384);
  len += put_frame(stream + len, 0x6, 0, 8);
  w[(*nw)++] = (want){len + 9, 5};
  len += put_frame(stream + len, 0x0, 5, 1);
  len += put_frame(stream + len, 0x3, 5, 4);
  w[(*nw)++] = (want){len + 9, 0x7fffffff};
  len += put_frame(stream + len, 0x0, 0xffffffffu, 40);
  return len;
}

static void check_found(const kefo_h2_data_frame *got, size_t ngot,
                        const want *w, size_t nw) {
  size_t i;

  CU_ASSERT_EQUAL_FATAL(ngot, nw);
  for (i = 0; i < nw; ++i) {
    CU_ASSERT_EQUAL(got[i].offset, w[i].offset);
    CU_ASSERT_EQUAL(got[i].stream_id, w[i].id);
  }
}

static void test_whole(void) {
  want w[8];
  kefo_h2_data_frame got[16];
  kefo_h2_frame_scan scan;
  size_t nw, len = build(w, &nw);

  kefo__h2_frame_scan_init(&scan);
  check_found(got, kefo__h2_frame_scan_feed(&scan, stream, len, got, 16), w,
              nw);
  /* It ends at a frame boundary, waiting for the next header. */
  CU_ASSERT_EQUAL(scan.skip, 0);
  CU_ASSERT_EQUAL(scan.have, 0);
}

/* Cut in two at every place, offsets made global again. */
static void test_every_split(void) {
  want w[8];
  kefo_h2_data_frame got[16], part[16];
  kefo_h2_frame_scan scan;
  size_t nw, len = build(w, &nw), cut, n, m, i, bad = 0;

  for (cut = 0; cut <= len; ++cut) {
    kefo__h2_frame_scan_init(&scan);
    n = kefo__h2_frame_scan_feed(&scan, stream, cut, got, 16);
    m = kefo__h2_frame_scan_feed(&scan, stream + cut, len - cut, part, 16);
    for (i = 0; i < m && n < 16; ++i) {
      got[n] = part[i];
      got[n++].offset += cut;
    }
    if (n != nw) {
      ++bad;
      continue;
    }
    for (i = 0; i < nw; ++i) {
      bad += got[i].offset != w[i].offset || got[i].stream_id != w[i].id;
    }
  }
  CU_ASSERT_EQUAL(bad, 0);
}

static void test_byte_at_a_time(void) {
  want w[8];
  kefo_h2_data_frame got[16], one;
  kefo_h2_frame_scan scan;
  size_t nw, len = build(w, &nw), i, n = 0;

  kefo__h2_frame_scan_init(&scan);
  for (i = 0; i < len; ++i) {
    if (kefo__h2_frame_scan_feed(&scan, stream + i, 1, &one, 1) == 1) {
      /* Found as its header's last byte comes: the payload starts at the
         end of this one-byte piece. */
      CU_ASSERT_EQUAL(one.offset, 1);
      if (n < 16) {
        got[n].offset = i + 1;
        got[n++].stream_id = one.stream_id;
      }
    }
  }
  check_found(got, n, w, nw);
}

/* Room for one: the first is stored, the scan goes on in step. */
static void test_full_output_keeps_step(void) {
  want w[8];
  kefo_h2_data_frame got[16];
  kefo_h2_frame_scan scan;
  size_t nw, len = build(w, &nw);

  kefo__h2_frame_scan_init(&scan);
  CU_ASSERT_EQUAL(kefo__h2_frame_scan_feed(&scan, stream, len, got, 1), 1);
  CU_ASSERT_EQUAL(got[0].offset, w[0].offset);
  CU_ASSERT_EQUAL(got[0].stream_id, 1);
  CU_ASSERT_EQUAL(kefo__h2_frame_scan_feed(&scan, stream, len, got, 16), nw);
  CU_ASSERT_EQUAL(got[nw - 1].offset, w[nw - 1].offset);
  CU_ASSERT_EQUAL(kefo__h2_frame_scan_feed(&scan, stream, 0, got, 16), 0);
}

int kefo_add_h2_frame_scan_suite(void) {
  CU_pSuite s = CU_add_suite("h2_frame_scan", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "whole", test_whole) ||
      !CU_add_test(s, "every_split", test_every_split) ||
      !CU_add_test(s, "byte_at_a_time", test_byte_at_a_time) ||
      !CU_add_test(s, "full_output_keeps_step", test_full_output_keeps_step)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
