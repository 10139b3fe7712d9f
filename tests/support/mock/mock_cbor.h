/*
 * The mock's side of AWS's CBOR protocol: a request body read into JSON
 * (with the library's reader), and a JSON answer written as CBOR, so
 * that every operation's JSON code serves both protocols.
 */
#ifndef KEFO_MOCK_CBOR_H
#define KEFO_MOCK_CBOR_H

#include "base/buf.h"

/*
 * Replaces the CBOR in |body| with its JSON text. Returns 0, or -1 with
 * |why| (|whylen| bytes) saying what was wrong.
 */
int mock_cbor_request(kefo_buf *body, char *why, size_t whylen);

/*
 * Replaces the JSON text in |answer| with the same document in CBOR:
 * objects as maps, whole numbers as integers, other numbers as doubles.
 * Returns 0, or -1 when |answer| is not JSON or memory ran out.
 */
int mock_cbor_answer(kefo_buf *answer);

#endif /* KEFO_MOCK_CBOR_H */
