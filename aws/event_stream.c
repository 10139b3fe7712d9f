/*
 * Event-stream decoder and encoder. The decoder is a small state machine
 * (prelude, body, CRC) so it can be fed HTTP/2 DATA frames of any size; a
 * message that sits whole in one chunk is verified and lent in place, and
 * only one that straddles chunks is copied, once, into a reused buffer.
 */
#include "aws/event_stream.h"

#include <string.h>

#include <kefo/kefo.h>

#include "base/crc32.h"

/* A body buffer above this size is kept only while the messages that
   come are as big: it is freed after the first message at most this size
   (Kinesis sends an event at least every 5 s, so an idle subscription
   holds its largest event's buffer for 5 s at most). Freeing it after
   every big message instead made a reader at full speed take a fresh
   1.4 MB block from malloc for each event, and the kernel zero its
   pages: 61,000 page faults per million 1 KiB records, up to 12% of the
   reader's CPU in clear_page (bench/e2e.sh under perf). */
#define BODY_RETAIN_MAX (64u * 1024)
#define HEADERS_RETAIN_MAX 64

static uint32_t get_be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         (uint32_t)p[3];
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

int kefo__es_decoder_init(kefo_es_decoder *dec, const kefo_mem *mem,
                          uint32_t max_message_len, uint32_t max_headers_len,
                          kefo_es_on_message on_message, void *user_data) {
  if (dec == NULL || on_message == NULL ||
      max_message_len > KEFO_ES_MAX_MESSAGE_LEN ||
      max_headers_len > KEFO_ES_MAX_HEADERS_LEN ||
      (max_message_len != 0 && max_message_len < KEFO_ES_MIN_MESSAGE_LEN)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  memset(dec, 0, sizeof(*dec));
  dec->mem = kefo__mem_or_default(mem);
  dec->on_message = on_message;
  dec->user_data = user_data;
  dec->max_message_len =
      max_message_len ? max_message_len : KEFO_ES_MAX_MESSAGE_LEN;
  dec->max_headers_len =
      max_headers_len ? max_headers_len : KEFO_ES_MAX_HEADERS_LEN;
  dec->state = KEFO_ES_STATE_PRELUDE;
  return 0;
}

void kefo__es_decoder_free(kefo_es_decoder *dec) {
  if (dec == NULL || dec->mem == NULL) {
    return;
  }
  kefo__mem_big_free(dec->mem, dec->body, dec->body_cap);
  kefo__mem_free(dec->mem, dec->headers);
  dec->body = NULL;
  dec->body_cap = 0;
  dec->headers = NULL;
  dec->headers_cap = 0;
}

void kefo__es_decoder_reset(kefo_es_decoder *dec) {
  dec->state = KEFO_ES_STATE_PRELUDE;
  dec->error = 0;
  dec->error_offset = 0;
  dec->have = 0;
  dec->in_parts = 0;
  dec->msg_offset = dec->offset;
}

static int fail(kefo_es_decoder *dec, int err, uint64_t at) {
  dec->state = KEFO_ES_STATE_ERROR;
  dec->error = err;
  dec->error_offset = at;
  return err;
}

uint64_t kefo__es_decoder_error_offset(const kefo_es_decoder *dec) {
  return dec->error_offset;
}

uint32_t kefo__es_decoder_message_length(const kefo_es_decoder *dec) {
  return dec->total_length;
}

const char *kefo__es_decoder_error_check(const kefo_es_decoder *dec) {
  switch (dec->error) {
  case 0:
    return "none";
  case KEFO_ERR_ES_PRELUDE_CRC:
    return "prelude CRC";
  case KEFO_ERR_ES_MESSAGE_CRC:
    return "message CRC";
  case KEFO_ERR_ES_TOO_LARGE:
    return "length limit";
  case KEFO_ERR_ES_BAD_LENGTH:
    return "prelude lengths";
  case KEFO_ERR_ES_BAD_HEADER:
    return "header";
  case KEFO_ERR_ES_TRUNCATED:
    return "end of input";
  case KEFO_ERR_CALLBACK_FAILURE:
    return "callback";
  case KEFO_ERR_NOMEM:
    return "allocation";
  default:
    return "unknown";
  }
}

/*
 * Checks a prelude: its CRC first (so a corrupt length is reported as
 * corruption, not as a size problem), then the lengths against each other
 * and the limits. Nothing has been allocated for the message yet.
 */
static int begin_message(kefo_es_decoder *dec, const uint8_t *p) {
  uint32_t crc = kefo__crc32(0, p, 8);

  dec->total_length = get_be32(p);
  dec->headers_length = get_be32(p + 4);
  dec->prelude_crc = get_be32(p + 8);
  if (crc != dec->prelude_crc) {
    return fail(dec, KEFO_ERR_ES_PRELUDE_CRC, dec->msg_offset + 8);
  }
  if (dec->total_length < KEFO_ES_MIN_MESSAGE_LEN) {
    return fail(dec, KEFO_ERR_ES_BAD_LENGTH, dec->msg_offset);
  }
  if (dec->total_length > dec->max_message_len) {
    return fail(dec, KEFO_ERR_ES_TOO_LARGE, dec->msg_offset);
  }
  if (dec->headers_length > dec->max_headers_len) {
    return fail(dec, KEFO_ERR_ES_TOO_LARGE, dec->msg_offset + 4);
  }
  if (dec->headers_length > dec->total_length - KEFO_ES_MIN_MESSAGE_LEN) {
    return fail(dec, KEFO_ERR_ES_BAD_LENGTH, dec->msg_offset + 4);
  }
  dec->running_crc = kefo__crc32(crc, p + 8, 4);
  return 0;
}

/* Headers of one message are parsed into a caller's array of this many
   on the stack: Kinesis sends three. Only a message with more reaches
   the decoder's own array, whose memory is cold by the next message of a
   shard when thousands of shards take turns. */
#define LOCAL_HEADERS 8

static int push_header(kefo_es_decoder *dec, kefo_es_header **hs, size_t *n,
                       const kefo_es_header *h) {
  int on_heap = *hs == dec->headers;
  size_t cap = on_heap ? dec->headers_cap : LOCAL_HEADERS;

  if (*n == cap) {
    size_t ncap =
        on_heap || dec->headers_cap <= cap ? cap * 2 : dec->headers_cap;

    if (ncap > dec->headers_cap) {
      kefo_es_header *nh =
          kefo__mem_realloc(dec->mem, dec->headers, ncap * sizeof(*nh));
      if (nh == NULL) {
        return KEFO_ERR_NOMEM;
      }
      dec->headers = nh;
      dec->headers_cap = ncap;
    }
    if (!on_heap) {
      memcpy(dec->headers, *hs, *n * sizeof(**hs));
    }
    *hs = dec->headers;
  }
  (*hs)[(*n)++] = *h;
  return 0;
}

/* Fixed value sizes by type; -1 marks the length-prefixed ones. */
static const int value_size[10] = {0, 0, 1, 2, 4, 8, -1, -1, 8, 16};

static int64_t get_signed(const uint8_t *p, int size) {
  uint64_t v = 0;
  int i;

  for (i = 0; i < size; ++i) {
    v = v << 8 | p[i];
  }
  /* Sign-extend from |size| bytes without relying on implementation-
     defined conversions of out-of-range values. */
  if (size < 8 && (v >> (size * 8 - 1)) & 1) {
    v |= ~(uint64_t)0 << (size * 8);
  }
  return v > (uint64_t)INT64_MAX ? -(int64_t)(~v) - 1 : (int64_t)v;
}

/*
 * Parses the |dec->headers_length| bytes of headers at |body| into |*hs|
 * (|local| at first, of LOCAL_HEADERS entries; the decoder's own array
 * past that) and |*n|.
 */
static int parse_headers(kefo_es_decoder *dec, const uint8_t *body,
                         kefo_es_header **hs, size_t *n) {
  size_t hl = dec->headers_length;
  size_t pos = 0;
  uint64_t hdr_base = dec->msg_offset + KEFO_ES_PRELUDE_LEN;
  int rv;

  *n = 0;
  while (pos < hl) {
    kefo_es_header h;
    size_t start = pos;
    int size;

    memset(&h, 0, sizeof(h));
    h.name_len = body[pos++];
    if (h.name_len == 0 || h.name_len + 1 > hl - pos) {
      return fail(dec, KEFO_ERR_ES_BAD_HEADER, hdr_base + start);
    }
    h.name = (const char *)body + pos;
    pos += h.name_len;
    if (body[pos] > KEFO_ES_UUID) {
      return fail(dec, KEFO_ERR_ES_BAD_HEADER, hdr_base + start);
    }
    h.type = (kefo_es_header_type)body[pos++];
    size = value_size[h.type];
    if (size < 0) {
      if (hl - pos < 2) {
        return fail(dec, KEFO_ERR_ES_BAD_HEADER, hdr_base + start);
      }
      h.value_len = (size_t)body[pos] << 8 | body[pos + 1];
      pos += 2;
    } else {
      h.value_len = (size_t)size;
    }
    if (h.value_len > hl - pos) {
      return fail(dec, KEFO_ERR_ES_BAD_HEADER, hdr_base + start);
    }
    h.value = body + pos;
    switch (h.type) {
    case KEFO_ES_BOOL_TRUE:
      h.int_value = 1;
      break;
    case KEFO_ES_BOOL_FALSE:
      h.int_value = 0;
      break;
    case KEFO_ES_BYTE:
    case KEFO_ES_INT16:
    case KEFO_ES_INT32:
    case KEFO_ES_INT64:
    case KEFO_ES_TIMESTAMP:
      h.int_value = get_signed(body + pos, size);
      break;
    default:
      break;
    }
    if (size == 0) {
      h.value = NULL;
    }
    pos += h.value_len;
    rv = push_header(dec, hs, n, &h);
    if (rv != 0) {
      return fail(dec, rv, hdr_base + start);
    }
  }
  return 0;
}

/* The message of |dec|'s prelude with the headers |hs|. */
static void message_of(const kefo_es_decoder *dec, kefo_es_message *msg,
                       const kefo_es_header *hs, size_t n) {
  msg->total_length = dec->total_length;
  msg->headers_length = dec->headers_length;
  msg->prelude_crc = dec->prelude_crc;
  msg->message_crc = 0;
  msg->headers = n ? hs : NULL;
  msg->nheaders = n;
  msg->payload = NULL;
  msg->payload_len =
      dec->total_length - KEFO_ES_MIN_MESSAGE_LEN - dec->headers_length;
}

/*
 * Parses the headers of a verified message body and hands the message to
 * the callback. |body| holds headers then payload.
 */
static int deliver(kefo_es_decoder *dec, const uint8_t *body,
                   uint32_t message_crc) {
  kefo_es_message msg;
  kefo_es_header local[LOCAL_HEADERS];
  kefo_es_header *hs = local;
  size_t n;
  int rv = parse_headers(dec, body, &hs, &n);

  if (rv != 0) {
    return rv;
  }
  message_of(dec, &msg, hs, n);
  msg.message_crc = message_crc;
  msg.payload = body + dec->headers_length;
  if (dec->on_message(&msg, dec->user_data) != 0) {
    return fail(dec, KEFO_ERR_CALLBACK_FAILURE, dec->msg_offset);
  }
  return 0;
}

/* Ends a message: back to waiting for a prelude, dropping big buffers
   once a message that did not need one has come. */
static void end_message(kefo_es_decoder *dec) {
  size_t body_len = dec->total_length - KEFO_ES_MIN_MESSAGE_LEN;

  dec->state = KEFO_ES_STATE_PRELUDE;
  dec->have = 0;
  dec->in_parts = 0;
  dec->msg_offset = dec->offset;
  if (dec->body_cap > BODY_RETAIN_MAX && body_len <= BODY_RETAIN_MAX) {
    kefo__mem_big_free(dec->mem, dec->body, dec->body_cap);
    dec->body = NULL;
    dec->body_cap = 0;
  }
  if (dec->headers_cap > HEADERS_RETAIN_MAX) {
    kefo__mem_free(dec->mem, dec->headers);
    dec->headers = NULL;
    dec->headers_cap = 0;
  }
}

/* A message entirely inside the caller's chunk: verify and lend it. */
static int whole_message(kefo_es_decoder *dec, const uint8_t *p) {
  size_t body_len = dec->total_length - KEFO_ES_MIN_MESSAGE_LEN;
  uint32_t crc =
      kefo__crc32(dec->running_crc, p + KEFO_ES_PRELUDE_LEN, body_len);
  uint32_t want = get_be32(p + dec->total_length - 4);
  int rv;

  if (crc != want) {
    return fail(dec, KEFO_ERR_ES_MESSAGE_CRC,
                dec->msg_offset + dec->total_length - 4);
  }
  rv = deliver(dec, p + KEFO_ES_PRELUDE_LEN, crc);
  if (rv != 0) {
    return rv;
  }
  dec->offset += dec->total_length;
  end_message(dec);
  return 0;
}

/* Makes room for a body of |body_len| bytes, keeping the first |keep|
   bytes held (the headers of a message first meant to go in parts). */
static int reserve_body(kefo_es_decoder *dec, size_t body_len, size_t keep) {
  uint8_t *b;
  size_t cap;

  if (body_len <= dec->body_cap) {
    return 0;
  }
  if (keep == 0) {
    /* Free first: the old contents are not needed, and realloc would
       copy them. */
    kefo__mem_big_free(dec->mem, dec->body, dec->body_cap);
    dec->body = NULL;
    dec->body_cap = 0;
  }
  /* A big buffer is kept for the next big message: an eighth more lets
     the next one be a little bigger without a new block. One of 2 MiB
     or more is filled in huge pages where the allocator allows
     (kefo__mem_big_alloc): 4,000 page faults fewer for an event of
     16 MB. */
  cap = body_len > BODY_RETAIN_MAX ? body_len + body_len / 8 : body_len;
  b = kefo__mem_big_alloc(dec->mem, cap, &cap);
  if (b == NULL) {
    return KEFO_ERR_NOMEM;
  }
  if (keep > 0) {
    memcpy(b, dec->body, keep);
    kefo__mem_big_free(dec->mem, dec->body, dec->body_cap);
  }
  dec->body = b;
  dec->body_cap = cap;
  return 0;
}

void kefo__es_decoder_set_parts(kefo_es_decoder *dec, uint32_t above,
                                const kefo_es_part_callbacks *cb) {
  dec->parts_above = cb ? above : 0;
  dec->parts = above ? cb : NULL;
}

/* The message after the prelude: held whole, or its headers first when
   it may go in parts. */
static int begin_body(kefo_es_decoder *dec) {
  size_t body_len = dec->total_length - KEFO_ES_MIN_MESSAGE_LEN;
  int parts = dec->parts && dec->total_length > dec->parts_above;
  int rv = reserve_body(dec, parts ? dec->headers_length : body_len, 0);

  if (rv != 0) {
    return fail(dec, rv, dec->msg_offset);
  }
  dec->have = 0;
  dec->state = parts      ? KEFO_ES_STATE_HEADERS
               : body_len ? KEFO_ES_STATE_BODY
                          : KEFO_ES_STATE_CRC;
  return 0;
}

/*
 * The headers of a message that may go in parts are in: the owner says
 * whether to take it so, or to have it held whole after all (its headers
 * kept, the rest of the body to come).
 */
static int headers_done(kefo_es_decoder *dec) {
  size_t body_len = dec->total_length - KEFO_ES_MIN_MESSAGE_LEN;
  size_t hl = dec->headers_length;
  kefo_es_header local[LOCAL_HEADERS];
  kefo_es_header *hs = local;
  kefo_es_message msg;
  size_t n;
  int rv = parse_headers(dec, dec->body, &hs, &n);

  if (rv != 0) {
    return rv;
  }
  message_of(dec, &msg, hs, n);
  rv = dec->parts->on_begin(&msg, dec->user_data);
  if (rv == KEFO_ES_TAKE_PARTS) {
    dec->in_parts = 1;
  } else if (rv != 0) {
    return fail(dec, KEFO_ERR_CALLBACK_FAILURE, dec->msg_offset);
  } else if ((rv = reserve_body(dec, body_len, hl)) != 0) {
    return fail(dec, rv, dec->msg_offset);
  }
  dec->have = body_len > hl ? hl : 0;
  dec->state = body_len == hl  ? KEFO_ES_STATE_CRC
               : dec->in_parts ? KEFO_ES_STATE_PARTS
                               : KEFO_ES_STATE_BODY;
  return 0;
}

/* The message CRC of a message whose parts were handed on matched. */
static int parts_done(kefo_es_decoder *dec) {
  if (dec->parts->on_end(dec->user_data) != 0) {
    return fail(dec, KEFO_ERR_CALLBACK_FAILURE, dec->msg_offset);
  }
  return 0;
}

int kefo__es_decoder_feed(kefo_es_decoder *dec, const uint8_t *in, size_t len) {
  int rv;

  if (dec->state == KEFO_ES_STATE_ERROR) {
    return KEFO_ERR_INVALID_STATE;
  }
  while (len > 0) {
    switch (dec->state) {
    case KEFO_ES_STATE_PRELUDE: {
      size_t n;
      if (dec->have == 0 && len >= KEFO_ES_PRELUDE_LEN) {
        rv = begin_message(dec, in);
        if (rv != 0) {
          return rv;
        }
        if (len >= dec->total_length) {
          rv = whole_message(dec, in);
          if (rv != 0) {
            return rv;
          }
          in += dec->total_length;
          len -= dec->total_length;
          break;
        }
        memcpy(dec->prelude, in, KEFO_ES_PRELUDE_LEN);
        n = KEFO_ES_PRELUDE_LEN;
      } else {
        n = KEFO_ES_PRELUDE_LEN - dec->have;
        if (n > len) {
          n = len;
        }
        memcpy(dec->prelude + dec->have, in, n);
        dec->have += n;
        if (dec->have < KEFO_ES_PRELUDE_LEN) {
          dec->offset += n;
          return 0;
        }
        rv = begin_message(dec, dec->prelude);
        if (rv != 0) {
          dec->offset += n;
          return rv;
        }
      }
      dec->offset += n;
      in += n;
      len -= n;
      rv = begin_body(dec);
      if (rv == 0 && dec->state == KEFO_ES_STATE_HEADERS &&
          dec->headers_length == 0) {
        rv = headers_done(dec);
      }
      if (rv != 0) {
        return rv;
      }
      break;
    }
    case KEFO_ES_STATE_HEADERS: {
      size_t n = dec->headers_length - dec->have;
      if (n > len) {
        n = len;
      }
      memcpy(dec->body + dec->have, in, n);
      dec->running_crc = kefo__crc32(dec->running_crc, in, n);
      dec->have += n;
      dec->offset += n;
      in += n;
      len -= n;
      if (dec->have == dec->headers_length) {
        rv = headers_done(dec);
        if (rv != 0) {
          return rv;
        }
      }
      break;
    }
    case KEFO_ES_STATE_PARTS: {
      size_t body_len = dec->total_length - KEFO_ES_MIN_MESSAGE_LEN;
      size_t n = body_len - dec->have;
      if (n > len) {
        n = len;
      }
      dec->running_crc = kefo__crc32(dec->running_crc, in, n);
      dec->have += n;
      dec->offset += n;
      if (dec->parts->on_part(in, n, dec->user_data) != 0) {
        return fail(dec, KEFO_ERR_CALLBACK_FAILURE, dec->msg_offset);
      }
      in += n;
      len -= n;
      if (dec->have == body_len) {
        dec->have = 0;
        dec->state = KEFO_ES_STATE_CRC;
      }
      break;
    }
    case KEFO_ES_STATE_BODY: {
      size_t body_len = dec->total_length - KEFO_ES_MIN_MESSAGE_LEN;
      size_t n = body_len - dec->have;
      if (n > len) {
        n = len;
      }
      memcpy(dec->body + dec->have, in, n);
      dec->running_crc = kefo__crc32(dec->running_crc, in, n);
      dec->have += n;
      dec->offset += n;
      in += n;
      len -= n;
      if (dec->have == body_len) {
        dec->have = 0;
        dec->state = KEFO_ES_STATE_CRC;
      }
      break;
    }
    case KEFO_ES_STATE_CRC: {
      size_t n = 4 - dec->have;
      uint32_t want;
      if (n > len) {
        n = len;
      }
      memcpy(dec->crc_bytes + dec->have, in, n);
      dec->have += n;
      dec->offset += n;
      in += n;
      len -= n;
      if (dec->have < 4) {
        break;
      }
      want = get_be32(dec->crc_bytes);
      if (want != dec->running_crc) {
        return fail(dec, KEFO_ERR_ES_MESSAGE_CRC,
                    dec->msg_offset + dec->total_length - 4);
      }
      rv = dec->in_parts ? parts_done(dec) : deliver(dec, dec->body, want);
      if (rv != 0) {
        return rv;
      }
      end_message(dec);
      break;
    }
    case KEFO_ES_STATE_ERROR:
      return KEFO_ERR_INVALID_STATE;
    }
  }
  return 0;
}

int kefo__es_decoder_finish(kefo_es_decoder *dec) {
  if (dec->state == KEFO_ES_STATE_ERROR) {
    return KEFO_ERR_INVALID_STATE;
  }
  if (dec->state != KEFO_ES_STATE_PRELUDE || dec->have != 0) {
    return fail(dec, KEFO_ERR_ES_TRUNCATED, dec->offset);
  }
  return 0;
}

size_t kefo__es_encoded_len(const kefo_es_header *headers, size_t nheaders,
                            size_t payload_len) {
  size_t i, hl = 0, total;

  for (i = 0; i < nheaders; ++i) {
    const kefo_es_header *h = &headers[i];
    if (h->name_len == 0 || h->name_len > 255 || h->type > KEFO_ES_UUID) {
      return 0;
    }
    hl += 2 + h->name_len;
    if (value_size[h->type] < 0) {
      if (h->value_len > 65535) {
        return 0;
      }
      hl += 2 + h->value_len;
    } else {
      hl += (size_t)value_size[h->type];
    }
    if (hl > KEFO_ES_MAX_HEADERS_LEN) {
      return 0;
    }
  }
  if (payload_len > KEFO_ES_MAX_MESSAGE_LEN) {
    return 0;
  }
  total = KEFO_ES_MIN_MESSAGE_LEN + hl + payload_len;
  return total > KEFO_ES_MAX_MESSAGE_LEN ? 0 : total;
}

int kefo__es_encode(uint8_t *out, size_t outcap, const kefo_es_header *headers,
                    size_t nheaders, const uint8_t *payload, size_t payload_len,
                    size_t *outlen) {
  size_t total = kefo__es_encoded_len(headers, nheaders, payload_len);
  size_t i, pos = KEFO_ES_PRELUDE_LEN;
  uint32_t crc;

  if (total == 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (outcap < total) {
    return KEFO_ERR_BUFFER_TOO_SMALL;
  }
  for (i = 0; i < nheaders; ++i) {
    const kefo_es_header *h = &headers[i];
    int size = value_size[h->type];
    out[pos++] = (uint8_t)h->name_len;
    memcpy(out + pos, h->name, h->name_len);
    pos += h->name_len;
    out[pos++] = (uint8_t)h->type;
    if (size < 0) {
      out[pos++] = (uint8_t)(h->value_len >> 8);
      out[pos++] = (uint8_t)h->value_len;
      if (h->value_len) {
        memcpy(out + pos, h->value, h->value_len);
      }
      pos += h->value_len;
    } else if (h->type == KEFO_ES_UUID) {
      memcpy(out + pos, h->value, 16);
      pos += 16;
    } else if (size > 0) {
      uint64_t v = (uint64_t)h->int_value;
      int b;
      for (b = size - 1; b >= 0; --b) {
        out[pos + (size_t)b] = (uint8_t)v;
        v >>= 8;
      }
      pos += (size_t)size;
    }
  }
  put_be32(out, (uint32_t)total);
  put_be32(out + 4, (uint32_t)(pos - KEFO_ES_PRELUDE_LEN));
  put_be32(out + 8, kefo__crc32(0, out, 8));
  if (payload_len) {
    memcpy(out + pos, payload, payload_len);
  }
  pos += payload_len;
  crc = kefo__crc32(0, out, pos);
  put_be32(out + pos, crc);
  *outlen = total;
  return 0;
}

const kefo_es_header *kefo__es_message_header(const kefo_es_message *msg,
                                              const char *name) {
  size_t i, n = strlen(name);

  for (i = 0; i < msg->nheaders; ++i) {
    const kefo_es_header *h = &msg->headers[i];
    if (h->name_len == n && memcmp(h->name, name, n) == 0) {
      return h;
    }
  }
  return NULL;
}
