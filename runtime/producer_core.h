/*
 * The producer's I/O-free core: what to send, when, and what an answer
 * means. Records are grouped by the shard their hash key maps to, packed
 * into KPL aggregates (optional), and handed out in PutRecords batches of
 * at most 500 entries and 5 MiB once the linger time has passed, a batch
 * is full or a flush asks for it; per-shard token buckets hold each shard
 * to its share of 1 MiB/s and 1,000 records/s. An answer acknowledges each
 * entry's records or puts them back at the front of their shard's queue
 * (throttling also slows that shard), until the record's TTL. Memory is
 * bounded: put refuses (KEFO_ERR_WOULD_BLOCK) past the buffer limits,
 * which count records queued and in flight.
 *
 * No sockets, no timers: the glue (runtime/producer.c) gives it the time,
 * asks for batches, sends their bodies and hands back the answers; it is
 * unit-tested with a fake clock (tests/unit/producer_core_test.c).
 */
#ifndef KEFO_PRODUCER_CORE_H
#define KEFO_PRODUCER_CORE_H

#include <stddef.h>
#include <stdint.h>

#include <kefo/kefo.h>

#include "base/log.h"
#include "aws/records_reader.h"
#include "base/buf.h"
#include "base/clock.h"
#include "shard/hash_key.h"

/* PutRecords' own limits. */
#define KEFO_PRODUCER_MAX_ENTRIES 500
#define KEFO_PRODUCER_MAX_CALL_BYTES (5u << 20)
#define KEFO_PRODUCER_MAX_RECORD_BYTES (1u << 20)
#define KEFO_PRODUCER_MAX_KEY_LEN 256
/* A shard's write limits. */
#define KEFO_PRODUCER_SHARD_BYTES_PER_S (1u << 20)
#define KEFO_PRODUCER_SHARD_RECORDS_PER_S 1000u

typedef struct kefo_producer_settings {
  /* Entries per call (sink.batch.max-size), at most 500. */
  size_t batch_max_records;
  /* Bytes per call (sink.flush-buffer.size): data and partition keys as
     Kinesis counts them; a batch this full goes at once. */
  size_t batch_max_bytes;
  /* Calls in flight at once (sink.requests.max-inflight). */
  size_t max_inflight;
  /* Records held, queued or in flight (sink.requests.max-buffered). */
  size_t max_buffered_records;
  /* Bytes held, queued or in flight (sink.buffer.max-bytes). */
  size_t max_buffered_bytes;
  /* How long a record may wait for a fuller batch (sink.flush-buffer.
     timeout). */
  int64_t linger_ms;
  /* KPL aggregation (sink.aggregation.enabled) and its limits. */
  int aggregate;
  size_t aggregate_max_bytes;
  size_t aggregate_max_count;
  /* After this long unacknowledged a record fails (sink.record.ttl). */
  int64_t record_ttl_ms;
  /* Percent of a shard's limits to allow (sink.rate-limit, as the KPL's
     RateLimit: 150 lets bursts through and leaves the rest to the
     service's throttling). */
  uint32_t rate_limit_pct;
  /* One call in flight per shard, retries first (sink.ordered). */
  int ordered;
  /* Bodies in CBOR (sink.protocol cbor): data as bytes, not base64. */
  int cbor;
  /* Stop at the first failed record instead of retrying
     (sink.fail-on-error). */
  int fail_on_error;
  /* Backoff after a failed entry or call. */
  uint32_t retry_min_ms;
  uint32_t retry_max_ms;
} kefo_producer_settings;

/* Flink's and the KPL's defaults. */
void kefo__producer_settings_default(kefo_producer_settings *s);

/* What the core tells its owner about one record, once. */
typedef struct kefo_producer_core_callbacks {
  /* Written: |res| lent for the call. */
  void (*on_ack)(void *record_ctx, const kefo_put_result *res, void *user_data);
  /* Given up (TTL, a non-retryable error, fail-on-error, a stop): |err|
     lent for the call. */
  void (*on_fail)(void *record_ctx, const kefo_error_info *err,
                  void *user_data);
} kefo_producer_core_callbacks;

typedef struct kefo_producer_core kefo_producer_core;

/*
 * Creates a core with |settings| (copied), allocating through |mem|
 * (NULL: malloc); |clock| (NULL: the system's) gives jitter only: time
 * always comes as an argument.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (a NULL argument or a setting out
 * of range) or KEFO_ERR_NOMEM.
 */
int kefo__producer_core_new(kefo_producer_core **out,
                            const kefo_producer_settings *settings,
                            const kefo_producer_core_callbacks *cb,
                            void *user_data, const kefo_clock *clock,
                            const kefo_mem *mem);

/* Makes |log| (lent, may be NULL) hear of retries, throttling and
   failures of PutRecords calls and entries. */
void kefo__producer_core_set_log(kefo_producer_core *pc, const kefo_log *log);

/* Frees |pc|, its records unreported. NULL is allowed. */
void kefo__producer_core_del(kefo_producer_core *pc);

/* One open shard of the map: its id and hash-key range. */
typedef struct kefo_producer_shard_info {
  const char *shard_id;
  kefo_hash_range range;
} kefo_producer_shard_info;

/*
 * Replaces the shard map with the |n| open shards of |shards| (copied;
 * any order; their ranges must not overlap). Queued records move to the
 * shard that now owns their hash key, each shard's in their order; a
 * shard kept from the old map keeps its buckets and backoff.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (overlapping ranges, a bad id, no
 * shard) or KEFO_ERR_NOMEM (the old map stays).
 */
int kefo__producer_core_set_shards(kefo_producer_core *pc,
                                   const kefo_producer_shard_info *shards,
                                   size_t n, int64_t now_ms);

/* Non-zero once an answer has shown the map to be out of date (a record
   written to another shard than the map said): the owner lists the
   shards again and calls kefo__producer_core_set_shards, which clears it. */
int kefo__producer_core_map_stale(const kefo_producer_core *pc);

/*
 * Queues one record (everything copied) with |ctx| for its callbacks.
 * |ehk| (NULL: none) is a decimal explicit hash key. The record is staged
 * and takes the time of kefo__producer_core_route (or of the next call
 * given the time) as its put time: the owner reads the clock once per
 * kefo__producer_core_staged_full, not once per put.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (an empty or too long partition
 * key, a bad explicit hash key, data above 1 MiB with the key),
 * KEFO_ERR_WOULD_BLOCK (the buffer is full: nothing queued; the owner is
 * told when there is room, see kefo_producer_core_wants_room),
 * KEFO_ERR_INVALID_STATE (stopping or stopped) or KEFO_ERR_NOMEM.
 */
int kefo__producer_core_put(kefo_producer_core *pc, const char *pk,
                            size_t pk_len, const char *ehk, size_t ehk_len,
                            const uint8_t *data, size_t len, void *ctx);

/*
 * As kefo__producer_core_put, but |data| is not copied: the record
 * refers to it until it is resolved (acknowledged or failed), and it
 * counts against the buffer's bytes all the same. Returns as
 * kefo__producer_core_put.
 */
int kefo__producer_core_put_lent(kefo_producer_core *pc, const char *pk,
                                 size_t pk_len, const char *ehk, size_t ehk_len,
                                 const uint8_t *data, size_t len, void *ctx);

/* Non-zero when puts have staged as many records as the core hashes
   together: the owner then calls kefo__producer_core_route. */
int kefo__producer_core_staged_full(const kefo_producer_core *pc);

/* Moves the staged records to their shards, |now_ms| (a time not before
   any of their puts) as their put time, from which their linger and TTL
   count. */
void kefo__producer_core_route(kefo_producer_core *pc, int64_t now_ms);

/* Returns 1 once, the first time after a KEFO_ERR_WOULD_BLOCK that the
   buffer has come down to three quarters of its limits; else 0. */
int kefo__producer_core_room_again(kefo_producer_core *pc);

/*
 * Sends everything queued now, ignoring the linger time, until every
 * record queued before this call is acknowledged or failed; then
 * kefo__producer_core_flushed returns |token| once. Returns the token (a
 * positive number), 0 when nothing is outstanding (already flushed), or
 * a KEFO_ERR_NOMEM.
 */
int64_t kefo__producer_core_flush(kefo_producer_core *pc);

/* Makes room for one more kefo__producer_core_flush, which then cannot
   fail (a flush over several streams is all or nothing). Returns 0 or
   KEFO_ERR_NOMEM. */
int kefo__producer_core_flush_reserve(kefo_producer_core *pc);

/* Pops a finished flush token (>0), or 0 when none. */
int64_t kefo__producer_core_flushed(kefo_producer_core *pc);

/* One PutRecords call the core wants made. */
typedef struct kefo_producer_batch kefo_producer_batch;

/*
 * Takes the next call to make at |now_ms| into |*out|, its body, JSON or
 * CBOR as settings.cbor says (for |stream_name| or |stream_arn|, one of
 * them NULL), appended to
 * |body|; *out is NULL when no call is due (see next_wake). The batch
 * belongs to the core; answer it once with kefo__producer_core_done.
 *
 * Returns 0, KEFO_ERR_NOMEM or KEFO_ERR_CRYPTO (nothing taken).
 */
int kefo__producer_core_next_batch(kefo_producer_core *pc, int64_t now_ms,
                                   const char *stream_name,
                                   const char *stream_arn,
                                   kefo_producer_batch **out, kefo_buf *body);

/* The smallest call kefo__producer_core_split_calls aims at. */
#define KEFO_PRODUCER_SPLIT_MIN_BYTES (256u * 1024)

/*
 * Sizes the calls that the next kefo__producer_core_next_batch calls
 * take: the queued bytes shared among |ways| calls (each still within the
 * call limits, and at least KEFO_PRODUCER_SPLIT_MIN_BYTES), so that the
 * owner can sign that many bodies together (kefo__sha256_many) and send
 * them side by side, instead of one call of 5 MiB whose SHA-256 is one
 * chain. |ways| below 2 lifts the aim: calls are as large as the limits
 * let them be.
 */
void kefo__producer_core_split_calls(kefo_producer_core *pc, size_t ways);

/*
 * With |on| set, kefo__producer_core_next_batch leaves the MD5 trailers
 * of a CBOR body's aggregates unwritten, and kefo__producer_core_seal
 * writes those of several calls at once (one vector lane each: a call
 * of a split pass holds about ten aggregates, where the lanes take 16 or
 * 32). JSON bodies are finished by next_batch either way. Off at first.
 */
void kefo__producer_core_defer_digests(kefo_producer_core *pc, int on);

/*
 * Writes the aggregates' trailers that kefo__producer_core_next_batch left
 * (see kefo__producer_core_defer_digests) in the |n| calls |batches|,
 * whose bodies are |bodies|, as next_batch wrote them. A body is whole
 * only then.
 */
void kefo__producer_core_seal(kefo_producer_core *pc,
                              kefo_producer_batch *const *batches,
                              kefo_buf *const *bodies, size_t n);

/* Entries of |b|, in the order of its body. */
size_t kefo__producer_batch_entries(const kefo_producer_batch *b);
/* User records of |b| (an aggregate counts its records). */
size_t kefo__producer_batch_records(const kefo_producer_batch *b);

/* The answer for one entry of a batch, in the body's order. */
/* One entry of a PutRecords answer: error_code NULL on success, else the
   ErrorCode, such as "ProvisionedThroughputExceededException" or
   "InternalFailure", with its error_message; shard_id and sequence_number
   of an entry written. The answer reader's own type, so that its entries
   reach the core as they are read. */
typedef kefo_put_answer_entry kefo_producer_entry_result;

/*
 * Answers |b|: with |results| (|n| of them, one per entry) when the call
 * succeeded, or with |call_error| and |info| when the call as a whole
 * failed (its records are retried if |info| says retryable, else they
 * fail). Acknowledgements and failures are reported from inside this
 * call. |b| is freed.
 *
 * Returns 0 or KEFO_ERR_BAD_RESPONSE (|n| is not the batch's entry
 * count: the whole batch was retried as a failed call).
 */
int kefo__producer_core_done(kefo_producer_core *pc, kefo_producer_batch *b,
                             const kefo_producer_entry_result *results,
                             size_t n, int call_error,
                             const kefo_error_info *info, int64_t now_ms);

/*
 * Fails every record that is not in flight (or all of them with
 * |in_flight| non-zero: their batches are then answered as cancelled
 * without reports) with |code| and |message|: for a stop. From here put
 * returns KEFO_ERR_INVALID_STATE.
 */
void kefo__producer_core_fail_all(kefo_producer_core *pc, int code,
                                  const char *message, int in_flight);

/* kefo__producer_core_fail_all with the whole of |info| (lent) handed to
   each record's failure: the error that stopped the producer, with its
   AWS type and operation. */
void kefo__producer_core_fail_all_info(kefo_producer_core *pc,
                                       const kefo_error_info *info,
                                       int in_flight);

/*
 * When the owner must call next_batch again at the latest (a linger time
 * running out, tokens coming back, a backoff ending, a TTL to enforce),
 * in ms from |now_ms|; -1 when nothing is waiting for time.
 */
int64_t kefo__producer_core_next_wake(kefo_producer_core *pc, int64_t now_ms);

/* Fails the records whose TTL passed at |now_ms| (queued ones only: a
   record in flight waits for its answer). */
void kefo__producer_core_expire(kefo_producer_core *pc, int64_t now_ms);

/* Fills |out| with the counters. */
void kefo__producer_core_stats(const kefo_producer_core *pc,
                               kefo_put_stats *out);

/* Records and batches not yet answered. */
size_t kefo__producer_core_outstanding(const kefo_producer_core *pc);
size_t kefo__producer_core_inflight(const kefo_producer_core *pc);

#endif /* KEFO_PRODUCER_CORE_H */
