/*
 * KPL aggregation, the mirror of shard/kpl.h: packs user records into the
 * data blob of one Kinesis record in the format kefo__kpl_deaggregate (and
 * the KCL) read. No I/O; the producer decides when an aggregate is full
 * from the exact sizes given here.
 */
#ifndef KEFO_KPL_AGGREGATE_H
#define KEFO_KPL_AGGREGATE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/mem.h"

/* The longest partition key accepted, in bytes: Kinesis's limit. */
#define KEFO_KPL_MAX_PARTITION_KEY_LEN 256

/* What an aggregate of no records takes: the magic, an empty protobuf and
   the MD5 trailer. */
#define KEFO_KPL_EMPTY_AGGREGATE_LEN 20

/*
 * An aggregate being built: user records packed into one Kinesis record
 * in the KPL format (magic F3 89 9A C2, protobuf AggregatedRecord, MD5
 * trailer). Partition keys and explicit hash keys are each kept once, in
 * the order of their first use, so the first record's partition key is
 * entry 0. Not thread-safe: one thread at a time.
 */
typedef struct kefo_kpl_aggregator kefo_kpl_aggregator;

/*
 * Creates an empty aggregator in |*out| that allocates through |mem|
 * (NULL: default), which it copies.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (NULL |out|) or KEFO_ERR_NOMEM.
 */
int kefo__kpl_aggregator_new(kefo_kpl_aggregator **out, const kefo_mem *mem);

/* Frees |a| and everything it holds. NULL is allowed. */
void kefo__kpl_aggregator_del(kefo_kpl_aggregator *a);

/* Empties |a| for the next aggregate, keeping its memory. */
void kefo__kpl_aggregator_reset(kefo_kpl_aggregator *a);

/*
 * The size in bytes that kefo__kpl_aggregator_finish would append if the
 * record (partition key |pk| of |pk_len| bytes, explicit hash key |ehk|
 * of |ehk_len| bytes or NULL for none, |data_len| bytes of data) were
 * added now, without adding it. A key counts as new only when it is not
 * already in its table. The arguments are not checked: for a record that
 * kefo__kpl_aggregator_add would refuse the figure means nothing, and a
 * NULL |pk| counts as a new key. SIZE_MAX when the size would not fit a
 * size_t.
 */
size_t kefo__kpl_aggregator_size_with(const kefo_kpl_aggregator *a,
                                      const char *pk, size_t pk_len,
                                      const char *ehk, size_t ehk_len,
                                      size_t data_len);

/*
 * Adds one user record: partition key |pk| of |pk_len| bytes, explicit
 * hash key |ehk| of |ehk_len| bytes (NULL: none) and |data_len| bytes of
 * |data| (NULL allowed when |data_len| is 0). Everything is copied. Keys
 * already in a table are shared, found through a hash table.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (NULL |a|, NULL or empty |pk|,
 * |pk_len| above KEFO_KPL_MAX_PARTITION_KEY_LEN, |ehk| not a decimal
 * number below 2^128, or NULL |data| with |data_len| > 0) or
 * KEFO_ERR_NOMEM (out of memory, or the aggregate would pass SIZE_MAX
 * bytes or UINT32_MAX - 1 records). On error the aggregate is unchanged.
 */
int kefo__kpl_aggregator_add(kefo_kpl_aggregator *a, const char *pk,
                             size_t pk_len, const char *ehk, size_t ehk_len,
                             const uint8_t *data, size_t data_len);

/*
 * As kefo__kpl_aggregator_add, but |data| is not copied: it is read when
 * the aggregate is finished, straight into the output, so it must stay
 * as it is until then (or until a reset). The producer's records stay in
 * its buffer until acknowledged; copying each into the aggregate first
 * was a fourth copy of an aggregated record's bytes. The aggregate's
 * bytes are the same as with kefo__kpl_aggregator_add.
 *
 * Returns as kefo__kpl_aggregator_add.
 */
int kefo__kpl_aggregator_add_lent(kefo_kpl_aggregator *a, const char *pk,
                                  size_t pk_len, const char *ehk,
                                  size_t ehk_len, const uint8_t *data,
                                  size_t data_len);

/* The number of user records added since creation or the last reset. */
size_t kefo__kpl_aggregator_count(const kefo_kpl_aggregator *a);

/*
 * The size in bytes that kefo__kpl_aggregator_finish would append now:
 * KEFO_KPL_EMPTY_AGGREGATE_LEN for no records.
 */
size_t kefo__kpl_aggregator_size(const kefo_kpl_aggregator *a);

/*
 * Appends the finished aggregate to |out|: the magic, the protobuf and
 * the MD5 of the protobuf, kefo__kpl_aggregator_size(|a|) bytes in all.
 * Does not reset |a|, so it may be called again. An aggregate of no
 * records is KEFO_KPL_EMPTY_AGGREGATE_LEN bytes, which the KCL (and
 * kefo__kpl_deaggregate) take for one plain record, not an aggregate:
 * never send one.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (NULL |a| or |out|),
 * KEFO_ERR_NOMEM or KEFO_ERR_INVALID_STATE (a bug: the bytes written
 * disagree with the size counted). On error |out| keeps its length (its
 * capacity may have grown).
 */
int kefo__kpl_aggregator_finish(kefo_kpl_aggregator *a, kefo_buf *out);

/*
 * As kefo__kpl_aggregator_finish, but the last KEFO_KPL_DIGEST_LEN bytes
 * appended are left for the caller to fill with the MD5 of the protobuf
 * (the bytes between the magic and them): a caller with many aggregates
 * hashes them together with kefo__md5_many, several times faster than
 * one by one. Same return values.
 */
int kefo__kpl_aggregator_finish_undigested(kefo_kpl_aggregator *a,
                                           kefo_buf *out);

#endif /* KEFO_KPL_AGGREGATE_H */
