/*
 * The SubscribeToShardEvent payload (JSON) read in one pass, without a
 * tree (and GetRecords answers, which have the same Records, with a
 * NextShardIterator for the continuation): the records' strings are decoded
 * into one scratch buffer, each record's Data is left as the base64 text it is
 * in the payload, and the rare ChildShards array is kept as its JSON text. I/O
 * free.
 *
 * Why not cJSON: on 1 KiB records cJSON and the allocator were half of
 * the EFO reader's CPU (a dozen allocations and a byte-by-byte copy of
 * every Data string per record; bench/RESULTS.md).
 *
 * The grammar is RFC 8259's, strictly: one object, then only white
 * space; nesting deeper than KEFO_STS_MAX_DEPTH, numbers longer than 63
 * characters, control characters in strings and lone UTF-16 surrogates
 * are refused. Members of any other name, and of unexpected types, are
 * checked and skipped; of a repeated name, the first counts (as cJSON's
 * lookup does).
 */
#ifndef KEFO_RECORDS_READER_H
#define KEFO_RECORDS_READER_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "aws/records_number.h"
#include "base/mem.h"

#define KEFO_STS_MAX_DEPTH 64

/* A record as Kinesis sent it. Pointers are valid until the next parse
   with the same parser, or while the payload is. */
typedef struct kefo_wire_record {
  const char *seq; /* SequenceNumber, NUL-terminated; NULL if absent or not
                      a string */
  const char *pk;  /* PartitionKey, NUL-terminated (may hold NULs), or NULL */
  size_t pk_len;
  const uint8_t *data; /* Data: base64 text, or NULL */
  size_t data_len;
  /* ApproximateArrivalTimestamp (epoch seconds) in ms; 0 when absent,
     not a number or not positive. */
  int64_t arrival_ms;
} kefo_wire_record;

typedef struct kefo_records_event {
  int has_records; /* Records was an array */
  const kefo_wire_record *records;
  size_t nrecords;
  /* ContinuationSequenceNumber: NULL when absent, null or not a string */
  const char *continuation;
  int continuation_null; /* it was JSON null (the shard's end) */
  /* NextShardIterator, of GetRecords answers (the polling reader reads
     them with this parser too): NULL when absent or null */
  const char *next_iterator;
  int next_iterator_bad; /* present, but neither a string nor null */
  int has_behind;        /* MillisBehindLatest was a number */
  int64_t behind_ms;
  /* ChildShards as JSON text when it is an array, else NULL */
  const uint8_t *child_shards;
  size_t child_shards_len;
  /* Set by a subscription, never by the parser: these records are a run
     of an event handed on before its end (aws/records_split.h); the
     event's continuation comes with its last part. */
  int partial;
} kefo_records_event;

/* Scratch reused from one event to the next: it grows to the largest
   event and stays, so one parser is best shared by all subscriptions of
   a loop. */
/* One entry of a PutRecords answer, each field NULL when absent or not a
   string. Valid as kefo_wire_record's strings are. */
typedef struct kefo_put_answer_entry {
  const char *sequence_number;
  const char *shard_id;
  const char *error_code;
  const char *error_message;
} kefo_put_answer_entry;

typedef struct kefo_records_parser {
  kefo_buf strings;
  kefo_wire_record *recs;
  size_t recs_cap;
  kefo_put_answer_entry *put; /* PutRecords answers' entries */
  size_t put_cap;
  const kefo_mem *mem;
  /* The last failure: what was wrong and at which byte. */
  const char *error;
  size_t error_offset;
  int busy; /* between a parse and the end of its use (owners set it) */
} kefo_records_parser;

void kefo__records_parser_init(kefo_records_parser *p, const kefo_mem *mem);
void kefo__records_parser_free(kefo_records_parser *p);

/* Frees the scratch if it has grown past |keep| bytes in all. */
void kefo__records_parser_trim(kefo_records_parser *p, size_t keep);

/*
 * Reads the payload |json| of |len| bytes into |*out|.
 *
 * Returns 0, KEFO_ERR_BAD_RESPONSE when it is not a JSON object
 * (p->error and p->error_offset say why and where), or KEFO_ERR_NOMEM.
 */
int kefo__records_parse(kefo_records_parser *p, const uint8_t *json, size_t len,
                        kefo_records_event *out);

/*
 * Reads the records at the start of |text| (|len| bytes), which follows
 * the '[' of an event's Records array (or records read before, with the
 * ',' after them blanked): whole records, up to the first that does not
 * read (most often
 * one cut short by the end of the bytes, and read again once more have
 * come). This is how aws/records_split.h cuts runs out of a large event
 * as it arrives: one pass over the records, not a scan for their ends
 * and then a parse.
 *
 * |*out| holds the records read (has_records set, nothing else); |*used|
 * is where the last of them ends (0: none); |*close_at| is where the
 * array's ']' is, when it came right after them (or first), else
 * SIZE_MAX. What does not read is not an error here: the parse of the
 * event's end (kefo__records_parse) names it.
 *
 * Returns 0 or KEFO_ERR_NOMEM.
 */
int kefo__records_parse_some(kefo_records_parser *p, const uint8_t *text,
                             size_t len, kefo_records_event *out, size_t *used,
                             size_t *close_at);

/*
 * Reads a PutRecords answer |json| of |len| bytes: its Records array, one
 * entry per record sent, in order, into |*entries| (owned by |p|) and
 * |*n|. Each entry's SequenceNumber, ShardId, ErrorCode and ErrorMessage
 * are read when they are strings; other members and types are checked
 * and skipped, as kefo__records_parse does. For the producer, which
 * reads 500 entries an answer: a cJSON tree of them cost a dozen
 * allocations an entry (bench/RESULTS.md, path 6).
 *
 * Returns 0, KEFO_ERR_BAD_RESPONSE (not a JSON object, no Records array,
 * an entry that is not an object, or more than |max| entries (the
 * most a call carries); p->error
 * and p->error_offset say which and where) or KEFO_ERR_NOMEM.
 */
int kefo__records_put_answer_parse(kefo_records_parser *p, const uint8_t *json,
                                   size_t len, size_t max,
                                   const kefo_put_answer_entry **entries,
                                   size_t *n);

#endif /* KEFO_RECORDS_READER_H */
