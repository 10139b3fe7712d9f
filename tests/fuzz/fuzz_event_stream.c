/*
 * libFuzzer target for the event-stream decoder. The first byte picks the
 * chunk size and a message size limit, so splits and limits are explored
 * too. Oracle: every message the decoder accepts re-encodes to exactly the
 * bytes it came from, and no error leaves the decoder usable without a
 * reset.
 */
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz.h"
#include "aws/event_stream.h"

typedef struct fuzz_state {
  const uint8_t *data;
  size_t size;
  size_t offset; /* where the next message starts in |data| */
  uint8_t scratch[64 * 1024 + 64];
} fuzz_state;

static int on_message(const kefo_es_message *m, void *ud) {
  fuzz_state *st = ud;
  size_t n;
  volatile uint8_t sink = 0;
  size_t i;

  for (i = 0; i < m->payload_len; ++i) {
    sink ^= m->payload[i];
  }
  (void)sink;
  if (m->total_length > st->size - st->offset) {
    abort();
  }
  if (m->total_length <= sizeof(st->scratch)) {
    if (kefo__es_encode(st->scratch, sizeof(st->scratch), m->headers,
                        m->nheaders, m->payload, m->payload_len, &n) != 0 ||
        n != m->total_length ||
        memcmp(st->scratch, st->data + st->offset, n) != 0) {
      abort();
    }
  }
  st->offset += m->total_length;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static fuzz_state st;
  kefo_es_decoder dec;
  size_t chunk, off = 0;
  uint32_t limit;
  int rv = 0;

  if (size < 1) {
    return 0;
  }
  chunk = (size_t)(data[0] & 0x1f) + 1;
  if (data[0] & 0x20) {
    chunk = size; /* whole: the zero-copy path */
  }
  limit = data[0] & 0x40 ? 256 : 0;
  ++data;
  --size;
  st.data = data;
  st.size = size;
  st.offset = 0;
  if (kefo__es_decoder_init(&dec, NULL, limit, 0, on_message, &st) != 0) {
    abort();
  }
  while (off < size) {
    size_t n = size - off < chunk ? size - off : chunk;
    rv = kefo__es_decoder_feed(&dec, data + off, n);
    if (rv != 0) {
      break;
    }
    off += n;
  }
  if (rv == 0) {
    rv = kefo__es_decoder_finish(&dec);
    /* Ending cleanly means every byte became a message. */
    if (rv == 0 && st.offset != size) {
      abort();
    }
  }
  if (rv != 0 && kefo__es_decoder_feed(&dec, data, size ? 1 : 0) !=
                     (size ? KEFO_ERR_INVALID_STATE : 0)) {
    abort();
  }
  kefo__es_decoder_free(&dec);
  return 0;
}
