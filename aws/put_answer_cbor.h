/*
 * A PutRecords answer in CBOR read straight into entries, without the
 * JSON text kefo__cbor_to_json would make of it: the producer reads one
 * entry per record it sends, and going through JSON cost a quarter of
 * the CPU of a 100 B record (bench/RESULTS.md, path 6, CBOR).
 */
#ifndef KEFO_PUT_ANSWER_CBOR_H
#define KEFO_PUT_ANSWER_CBOR_H

#include <stddef.h>
#include <stdint.h>

#include "aws/records_reader.h"

/*
 * kefo__records_put_answer_parse for an answer in CBOR: a map whose
 * Records member is an array of maps, each entry's SequenceNumber,
 * ShardId, ErrorCode and ErrorMessage read when they are text strings
 * (the first of each name counts) and every other member checked
 * well-formed and skipped. Tags are passed over, as kefo__cbor_to_json
 * drops them. Strings are copied, NUL-terminated, into
 * |p|'s scratch.
 *
 * Returns 0, KEFO_ERR_BAD_RESPONSE (not one well-formed CBOR map, no
 * Records array, an entry that is not a map, a string holding a NUL,
 * more than |max| entries; p->error and p->error_offset say which and
 * where) or KEFO_ERR_NOMEM.
 */
int kefo__put_answer_parse_cbor(kefo_records_parser *p, const uint8_t *cbor,
                                size_t len, size_t max,
                                const kefo_put_answer_entry **entries,
                                size_t *n);

/*
 * Reads a PutRecords answer in whichever protocol it came: JSON (its
 * first byte '{' or white space) or CBOR (a map, or a tagged item). Returns as
 * the reader of that protocol does.
 */
int kefo__put_answer_parse_any(kefo_records_parser *p, const uint8_t *body,
                               size_t len, size_t max,
                               const kefo_put_answer_entry **entries,
                               size_t *n);

#endif /* KEFO_PUT_ANSWER_CBOR_H */
