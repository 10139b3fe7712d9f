/*
 * CBOR (RFC 8949) for the AWS CBOR protocol (application/x-amz-cbor-1.1),
 * which Kinesis accepts instead of JSON: writing the few item kinds a
 * request needs, and reading an answer into the JSON text the rest of
 * kefo already parses. I/O-free.
 *
 * Why CBOR: a record's data goes as a byte string instead of base64 in
 * JSON, so a PutRecords body is about a quarter smaller, and SigV4 hashes
 * and the kernel sends a quarter fewer bytes (the AWS SDK for Java v2
 * uses it for Kinesis for the same reason). Answers are small (one
 * entry per record, no data), so turning them into JSON costs little
 * and keeps one parser for both protocols.
 */
#ifndef KEFO_CBOR_H
#define KEFO_CBOR_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* The major types kefo writes. */
enum {
  KEFO_CBOR_UINT = 0,
  KEFO_CBOR_BYTES = 2,
  KEFO_CBOR_TEXT = 3,
  KEFO_CBOR_ARRAY = 4,
  KEFO_CBOR_MAP = 5
};

/* The bytes of the shortest head of major type |major| and argument |n|. */
size_t kefo__cbor_head_len(uint64_t n);

/*
 * Writes the shortest head of |major| and |n| at |out|, which has room
 * for kefo__cbor_head_len(n) bytes; returns how many were written.
 */
size_t kefo__cbor_write_head(uint8_t *out, unsigned major, uint64_t n);

/*
 * Appends the head of |major| and |n| to |b|.
 *
 * Returns 0 or KEFO_ERR_NOMEM.
 */
int kefo__cbor_append_head(kefo_buf *b, unsigned major, uint64_t n);

/*
 * Appends a text string (|s|, |len| bytes of UTF-8, not checked here).
 *
 * Returns 0 or KEFO_ERR_NOMEM.
 */
int kefo__cbor_append_text(kefo_buf *b, const char *s, size_t len);

/*
 * Appends a byte string of |len| bytes at |s|.
 *
 * Returns 0 or KEFO_ERR_NOMEM.
 */
int kefo__cbor_append_bytes(kefo_buf *b, const uint8_t *s, size_t len);

/* One item's head, as read. */
typedef struct kefo_cbor_head {
  unsigned major;
  unsigned ai;    /* additional information: 0-27 or 31 */
  uint64_t arg;   /* the argument (for major 7, ai 25-27: the float's bits) */
  int indefinite; /* ai 31: a string, array or map of indefinite length,
                     or (major 7) a break */
} kefo_cbor_head;

/*
 * Reads the head at |*p| (before |end|) into |h| and moves |*p| past it.
 * Lengths are not checked against what is left: the caller does that
 * before it uses them.
 *
 * Returns NULL, or what was wrong (a static string) with |*p| unmoved.
 */
const char *kefo__cbor_read_head(const uint8_t **p, const uint8_t *end,
                                 kefo_cbor_head *h);

/*
 * Reads the bytes of the string (major type 2 or 3) whose head |h| was
 * just read, moving |*p| past them. A definite string's |*data| and
 * |*len| point into the input; an indefinite one's chunks (each a
 * definite string of its type) are appended to |gather| and |*data|
 * points at them there, or, with |gather| NULL, are only checked and
 * passed over (|*data| NULL). One reader of strings for the converter,
 * the skipper and kefo__put_answer_parse_cbor.
 *
 * Returns 0, KEFO_ERR_BAD_RESPONSE with |*why| saying what was wrong (a
 * static string), or KEFO_ERR_NOMEM.
 */
int kefo__cbor_read_string(const uint8_t **p, const uint8_t *end,
                           const kefo_cbor_head *h, kefo_buf *gather,
                           const uint8_t **data, size_t *len, const char **why);

/*
 * Moves |*p| past the one whole item there, nested at most |max_depth|
 * deep, checking that it is well-formed (every length within what is
 * left, breaks only where they belong), without reading its contents.
 *
 * Returns NULL, or what was wrong (a static string).
 */
const char *kefo__cbor_skip(const uint8_t **p, const uint8_t *end,
                            int max_depth);

/* Deepest nesting kefo__cbor_to_json follows: AWS answers are 4 deep. */
#define KEFO_CBOR_MAX_DEPTH 64

/*
 * Appends to |out| the JSON text of the one CBOR item that |len| bytes
 * at |in| hold, at most |max_out| bytes of it. Maps become objects (their keys
 * must be text strings), byte strings become base64 strings (as AWS's JSON
 * protocol sends them), tags are dropped (tag 1, a timestamp, leaves its
 * number), floats become numbers (NaN and infinities null), undefined becomes
 * null. Definite and indefinite lengths are read; text must be UTF-8.
 * On failure, |out| is left as it was and |err| (|errlen| bytes) says
 * what was wrong and at which byte.
 *
 * Returns 0, KEFO_ERR_BAD_RESPONSE (not one well-formed item, trailing
 * bytes, nesting deeper than KEFO_CBOR_MAX_DEPTH, a key that is not
 * text, text that is not UTF-8), KEFO_ERR_RESPONSE_TOO_LARGE (the JSON
 * would pass |max_out| bytes) or KEFO_ERR_NOMEM.
 */
int kefo__cbor_to_json(const uint8_t *in, size_t len, size_t max_out,
                       kefo_buf *out, char *err, size_t errlen);

#endif /* KEFO_CBOR_H */
