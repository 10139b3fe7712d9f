/*
 * KPL de-aggregation: turns one Kinesis record's data blob into the user
 * records the Kinesis Producer Library packed into it, following the KCL's
 * rules, and the 128-bit hash-key arithmetic those rules need. No I/O and
 * no copies: every byte handed out points into the caller's blob.
 */
#ifndef KEFO_KPL_H
#define KEFO_KPL_H

#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"
#include "shard/hash_key.h"

/* The four bytes that open every KPL aggregate. */
#define KEFO_KPL_MAGIC_LEN 4
/* The MD5 trailer over the protobuf bytes. */
#define KEFO_KPL_DIGEST_LEN 16

/*
 * One user record. Everything is lent: the pointers reach into the blob
 * (or, for a pass-through record, into the partition key) given to
 * kefo__kpl_deaggregate, so they live as long as those do; the struct
 * itself is valid only during the callback. Keys are not NUL-terminated.
 */
typedef struct kefo_kpl_record {
  const uint8_t *data;
  size_t data_len;
  /* For a pass-through record, the outer record's partition key (NULL
     when none was given). */
  const char *partition_key;
  size_t partition_key_len;
  /* NULL unless the user record named one (protobuf field 2 present);
     an absent index does not mean entry 0. */
  const char *explicit_hash_key;
  size_t explicit_hash_key_len;
  /* Only with KEFO_KPL_HASH_KEYS: the explicit hash key's value, or else
     the MD5 of the partition key read as a big-endian number. */
  kefo_hash_key hash_key;
  /* Non-zero when |hash_key| is set: KEFO_KPL_HASH_KEYS was asked for
     and the explicit hash key (if any) is a decimal number below 2^128,
     or a pass-through record came with a partition key. */
  int hash_key_valid;
  /* The 0-based index of the user record within the aggregate; 0 for a
     pass-through record, as the KCL reports it. */
  uint64_t sub_sequence_number;
  /* Non-zero when this came out of an aggregate. */
  int aggregated;
} kefo_kpl_record;

/*
 * Called once per user record, in order, on the thread that called
 * kefo__kpl_deaggregate. Return 0 to go on; anything else stops the
 * call with KEFO_ERR_CALLBACK_FAILURE.
 */
typedef int (*kefo_kpl_on_record)(const kefo_kpl_record *rec, void *user_data);

/* Fill kefo_kpl_record.hash_key for each record. Costs an MD5 per
   distinct partition key, so it is off unless asked for. */
#define KEFO_KPL_HASH_KEYS 0x1u

typedef struct kefo_kpl_options {
  /* KEFO_KPL_* flags. */
  uint32_t flags;
  /* When set, the KCL's resharding rule: if any user record of an
     aggregate hashes outside this range, none of them is delivered.
     A record whose explicit hash key is not a decimal number below
     2^128 counts as outside (the KCL would fail on it). Pass-through
     records are never checked: Kinesis itself routed them here. */
  const kefo_hash_range *range;
} kefo_kpl_options;

/* What kefo__kpl_deaggregate did with one blob. */
typedef struct kefo_kpl_result {
  /* Non-zero when the blob was a valid aggregate. */
  int aggregated;
  /* User records in the blob: 1 for a pass-through record. */
  size_t nrecords;
  /* Records whose callback returned 0. */
  size_t delivered;
  /* Records withheld by the range rule: 0 or |nrecords|. */
  size_t dropped;
} kefo_kpl_result;

/*
 * De-aggregates the data blob |blob| of |len| bytes of one Kinesis record
 * whose partition key is |partition_key| (|partition_key_len| bytes; may
 * be NULL, then pass-through records carry none).
 *
 * The blob is an aggregate only when it is at least the magic plus 17
 * bytes, starts with the magic, its MD5 trailer matches, and the whole
 * protobuf parses with every key index inside its table. Otherwise it is
 * delivered unchanged as one record; that is not an error. An aggregate
 * is checked whole before its first record is delivered, so a flaw
 * anywhere means pass-through, never a partial delivery. An aggregate
 * may hold no records; then nothing is delivered.
 *
 * |mem| (NULL: default) serves one allocation per aggregate, for the key
 * tables: 16 bytes per table entry on 64-bit hosts (33 with hash keys or
 * a range), and each entry takes 2 or more bytes of |len|. Pass-through
 * blobs and aggregates without tables allocate nothing. |opts| may be NULL.
 * |result| (may be NULL) is filled on every return.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (no callback, or NULL |blob| with
 * |len| > 0), KEFO_ERR_NOMEM (allocation failed; nothing was delivered,
 * so the call may be retried), KEFO_ERR_CALLBACK_FAILURE (records before the
 * failing one were delivered) or KEFO_ERR_INVALID_STATE (a bug: the delivery
 * pass read bytes other than the check pass had passed).
 */
int kefo__kpl_deaggregate(const kefo_mem *mem, const uint8_t *blob, size_t len,
                          const char *partition_key, size_t partition_key_len,
                          const kefo_kpl_options *opts,
                          kefo_kpl_on_record on_record, void *user_data,
                          kefo_kpl_result *result);

#endif /* KEFO_KPL_H */
