/*
 * AWS event-stream framing (application/vnd.amazon.eventstream): a
 * streaming decoder fed arbitrary chunks, and an encoder. SubscribeToShard
 * delivers its events in this framing. No I/O here: bytes in, callbacks
 * out.
 */
#ifndef KEFO_EVENT_STREAM_H
#define KEFO_EVENT_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"

/* total_length, headers_length, prelude CRC. */
#define KEFO_ES_PRELUDE_LEN 12
/* Prelude plus the trailing message CRC: the smallest message. */
#define KEFO_ES_MIN_MESSAGE_LEN 16
/* Limits of the format as AWS specifies it: 16 MiB messages, 128 KiB of
   headers. Callers may set lower ones. */
#define KEFO_ES_MAX_MESSAGE_LEN (16u * 1024 * 1024)
#define KEFO_ES_MAX_HEADERS_LEN (128u * 1024)

typedef enum {
  KEFO_ES_BOOL_TRUE = 0,
  KEFO_ES_BOOL_FALSE = 1,
  KEFO_ES_BYTE = 2,
  KEFO_ES_INT16 = 3,
  KEFO_ES_INT32 = 4,
  KEFO_ES_INT64 = 5,
  KEFO_ES_BYTES = 6,
  KEFO_ES_STRING = 7,
  KEFO_ES_TIMESTAMP = 8,
  KEFO_ES_UUID = 9
} kefo_es_header_type;

/*
 * One header. Name and value are lent: they point into the message and are
 * valid only during the callback. Names are not NUL-terminated.
 */
typedef struct kefo_es_header {
  const char *name;
  size_t name_len;
  kefo_es_header_type type;
  /* BOOL_TRUE: 1, BOOL_FALSE: 0, BYTE..INT64: the signed value,
     TIMESTAMP: milliseconds since the epoch. */
  int64_t int_value;
  /* BYTES and STRING: the bytes; UUID: 16 bytes. */
  const uint8_t *value;
  size_t value_len;
} kefo_es_header;

/* A whole, verified message: both CRCs matched. Everything is lent. */
typedef struct kefo_es_message {
  uint32_t total_length;
  uint32_t headers_length;
  uint32_t prelude_crc;
  uint32_t message_crc;
  const kefo_es_header *headers;
  size_t nheaders;
  const uint8_t *payload;
  size_t payload_len;
} kefo_es_message;

/*
 * Called once per message, after its message CRC has been verified, so a
 * caller never acts on bytes that may be corrupt. Return 0 to go on;
 * anything else stops the decoder with KEFO_ERR_CALLBACK_FAILURE.
 */
typedef int (*kefo_es_on_message)(const kefo_es_message *msg, void *user_data);

/*
 * A message handed on in parts, as it arrives, instead of held whole
 * until its message CRC is checked (kefo__es_decoder_set_parts): what a
 * caller uses to bound its memory when a server sends messages of many
 * megabytes. The parts are NOT verified when they are handed on; only
 * on_end says the message CRC matched, and a mismatch is the feed's
 * KEFO_ERR_ES_MESSAGE_CRC as for a whole message.
 */
typedef struct kefo_es_part_callbacks {
  /* The message's prelude (its CRC checked) and headers arrived: |msg|
     has them, payload NULL and payload_len the payload's announced
     length. Returns KEFO_ES_TAKE_PARTS to take the payload in parts, 0
     to have the message held whole and handed to on_message as any
     other, anything else stops the decoder (KEFO_ERR_CALLBACK_FAILURE).
     The headers are lent for this call only. */
  int (*on_begin)(const kefo_es_message *msg, void *user_data);
  /* The next |len| bytes of the payload, lent for this call. Non-zero
     stops the decoder (KEFO_ERR_CALLBACK_FAILURE). */
  int (*on_part)(const uint8_t *part, size_t len, void *user_data);
  /* The whole payload arrived and the message CRC matched. Non-zero
     stops the decoder (KEFO_ERR_CALLBACK_FAILURE). */
  int (*on_end)(void *user_data);
} kefo_es_part_callbacks;

#define KEFO_ES_TAKE_PARTS 1

typedef enum {
  KEFO_ES_STATE_PRELUDE,
  KEFO_ES_STATE_BODY,
  KEFO_ES_STATE_HEADERS, /* the headers of a message that may go in parts */
  KEFO_ES_STATE_PARTS,   /* its payload, handed on as it comes */
  KEFO_ES_STATE_CRC,
  KEFO_ES_STATE_ERROR
} kefo_es_state;

/*
 * The decoder. Caller-owned (embed it), set up with kefo__es_decoder_init;
 * fields are private.
 */
typedef struct kefo_es_decoder {
  const kefo_mem *mem;
  kefo_es_on_message on_message;
  void *user_data;
  uint32_t max_message_len;
  uint32_t max_headers_len;
  kefo_es_state state;
  int error;
  /* Stream offset of the byte the failed check was about. */
  uint64_t error_offset;
  /* Bytes fed so far, and the offset at which the current message began. */
  uint64_t offset;
  uint64_t msg_offset;
  uint8_t prelude[KEFO_ES_PRELUDE_LEN];
  uint8_t crc_bytes[4];
  size_t have; /* bytes of the current part (prelude, body, CRC) held */
  uint32_t total_length;
  uint32_t headers_length;
  uint32_t prelude_crc;
  uint32_t running_crc;
  /* Headers and payload of a message that arrived in pieces. */
  uint8_t *body;
  size_t body_cap;
  /* Parsed headers, reused between messages. */
  kefo_es_header *headers;
  size_t headers_cap;
  /* Messages longer than |parts_above| may go in parts (0: none). */
  uint32_t parts_above;
  const kefo_es_part_callbacks *parts;
  int in_parts; /* the current message is being handed on in parts */
} kefo_es_decoder;

/*
 * Sets up |dec|. |max_message_len| and |max_headers_len| bound what the
 * decoder accepts (0 means the format's limits, KEFO_ES_MAX_*); they are
 * checked as soon as the prelude CRC is verified, before anything is
 * allocated. |mem| may be NULL.
 *
 * Returns 0 or KEFO_ERR_INVALID_ARGUMENT (no callback, or limits above the
 * format's).
 */
int kefo__es_decoder_init(kefo_es_decoder *dec, const kefo_mem *mem,
                          uint32_t max_message_len, uint32_t max_headers_len,
                          kefo_es_on_message on_message, void *user_data);

/*
 * Lets messages longer than |above| bytes (in all) go to |cb| in parts
 * as they arrive, where cb->on_begin takes them; |cb| NULL or |above| 0
 * turns that off. A message that arrives whole within one feed is still
 * verified and lent whole to on_message. Set between messages.
 */
void kefo__es_decoder_set_parts(kefo_es_decoder *dec, uint32_t above,
                                const kefo_es_part_callbacks *cb);

/* Frees what |dec| holds. It may be initialised again. */
void kefo__es_decoder_free(kefo_es_decoder *dec);

/*
 * Feeds |len| bytes. Complete messages are verified and handed to the
 * callback; a partial one is kept for the next call. Messages that arrive
 * whole within one call are lent straight from |in| with no copy.
 *
 * Returns 0, or on the first bad message one of KEFO_ERR_ES_PRELUDE_CRC,
 * KEFO_ERR_ES_MESSAGE_CRC, KEFO_ERR_ES_TOO_LARGE, KEFO_ERR_ES_BAD_LENGTH,
 * KEFO_ERR_ES_BAD_HEADER, KEFO_ERR_CALLBACK_FAILURE, KEFO_ERR_NOMEM; after
 * an error the decoder returns KEFO_ERR_INVALID_STATE until
 * kefo__es_decoder_reset.
 */
int kefo__es_decoder_feed(kefo_es_decoder *dec, const uint8_t *in, size_t len);

/*
 * Tells the decoder the input has ended.
 *
 * Returns 0 when it ended between messages, KEFO_ERR_ES_TRUNCATED when it
 * ended inside one, or KEFO_ERR_INVALID_STATE after an earlier error.
 */
int kefo__es_decoder_finish(kefo_es_decoder *dec);

/* Drops any partial message and error; the next byte starts a message. */
void kefo__es_decoder_reset(kefo_es_decoder *dec);

/* Returns the stream offset the last error is about: the start of the
   length or CRC that failed, or of the bad header. */
uint64_t kefo__es_decoder_error_offset(const kefo_es_decoder *dec);

/* Returns the total length the current (or failed) message's prelude
   announced: after KEFO_ERR_ES_TOO_LARGE, the size that was refused. */
uint32_t kefo__es_decoder_message_length(const kefo_es_decoder *dec);

/* Returns the name of the check that failed last ("prelude CRC", ...), or
   "none". Static string. */
const char *kefo__es_decoder_error_check(const kefo_es_decoder *dec);

/*
 * Returns the encoded size of a message with these headers and a payload
 * of |payload_len| bytes, or 0 when it cannot be encoded (a name longer
 * than 255 bytes or empty, a value longer than 65535 bytes, an unknown
 * type, or a message above KEFO_ES_MAX_MESSAGE_LEN).
 */
size_t kefo__es_encoded_len(const kefo_es_header *headers, size_t nheaders,
                            size_t payload_len);

/*
 * Encodes one message into |out| and stores its size in |*outlen|.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT when kefo__es_encoded_len gives 0,
 * or KEFO_ERR_BUFFER_TOO_SMALL.
 */
int kefo__es_encode(uint8_t *out, size_t outcap, const kefo_es_header *headers,
                    size_t nheaders, const uint8_t *payload, size_t payload_len,
                    size_t *outlen);

/* Finds the first header named |name| (a C string) in |msg|, or NULL. */
const kefo_es_header *kefo__es_message_header(const kefo_es_message *msg,
                                              const char *name);

#endif /* KEFO_EVENT_STREAM_H */
