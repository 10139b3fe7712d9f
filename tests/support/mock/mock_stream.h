/*
 * The mock Kinesis server's in-memory model: streams, shards with their hash
 * key ranges and lineage, records, sequence numbers and consumers. No I/O
 * and no clock of its own: every call that needs the time is given it, so
 * the model behaves the same under any transport.
 */
#ifndef KEFO_MOCK_STREAM_H
#define KEFO_MOCK_STREAM_H

#include <stddef.h>
#include <stdint.h>

/* 128-bit hash keys. __extension__ keeps -pedantic quiet about the type. */
__extension__ typedef unsigned __int128 mock_u128;

/* Decimal digits of a sequence number; every one has exactly this many, so
   comparing strings of equal length compares the numbers. */
#define MOCK_SEQ_LEN 56
#define MOCK_MAX_NAME 128
#define MOCK_MAX_STREAM_ARN 256
#define MOCK_MAX_ARN 512
/* Partition keys: 1 to 256 characters, as Kinesis allows. */
#define MOCK_MAX_PK 256
/* Record data: up to 1 MiB, as Kinesis allows. */
#define MOCK_MAX_DATA (1024 * 1024)
#define MOCK_MAX_SHARDS_PER_STREAM 100000

/* One record. Partition key and data are stored back to back in the
   shard's byte arena at |off|, so appending never mallocs per record. */
typedef struct mock_record {
  uint64_t counter; /* the ordering part of the sequence number */
  int64_t arrival_ms;
  uint64_t off;
  uint32_t data_len;
  uint16_t pk_len;
} mock_record;

/* Someone told when a shard gains records or is closed (a live
   subscription). Linked into the shard; the model never frees it. */
typedef struct mock_watch {
  struct mock_watch *prev, *next;
  void (*changed)(struct mock_watch *w);
  void *user_data;
} mock_watch;

typedef struct mock_shard_stats {
  uint64_t subscribe_calls;
  uint64_t limit_exceeded;
  uint64_t in_use;
  uint64_t get_records_calls;
  uint64_t get_records_throttled;
  uint64_t get_iterator_calls;
  /* Records put into SubscribeToShard events or GetRecords answers. */
  uint64_t records_sent;
  /* The last five GetRecords calls' times, a ring: a sixth within a
     second is throttled, as Kinesis allows five a second per shard. */
  int64_t get_records_recent[5];
  unsigned get_records_next;
  /* Call times in epoch ms, the first MOCK_STATS_TIMES_MAX of each. */
  int64_t *subscribe_times;
  size_t nsubscribe_times;
  int64_t *get_records_times;
  size_t nget_records_times;
} mock_shard_stats;

#define MOCK_STATS_TIMES_MAX 10000

typedef struct mock_shard {
  struct mock_stream *stream;
  uint32_t index;
  char id[32];
  int parent;          /* shard index or -1 */
  int adjacent_parent; /* shard index or -1 */
  mock_u128 start_hash, end_hash;
  uint64_t start_counter;
  int closed;
  uint64_t end_counter;
  mock_record *records;
  size_t nrecords, records_cap;
  uint8_t *bytes;
  size_t nbytes, bytes_cap;
  mock_watch watchers; /* list head */
  mock_shard_stats stats;
} mock_shard;

typedef enum {
  MOCK_CONSUMER_CREATING,
  MOCK_CONSUMER_ACTIVE
} mock_consumer_status;

typedef struct mock_consumer {
  struct mock_consumer *next;
  struct mock_stream *stream;
  char name[MOCK_MAX_NAME + 1];
  char arn[MOCK_MAX_ARN];
  int64_t created_ms;
  int64_t active_at_ms;
  /* Per shard index: live subscriptions and the last SubscribeToShard
     call (ms), for ResourceInUse and LimitExceeded. */
  uint32_t *live;
  int64_t *last_call_ms;
  size_t nslots;
} mock_consumer;

typedef struct mock_stream {
  struct mock_stream *next;
  struct mock_world *world;
  char name[MOCK_MAX_NAME + 1];
  char arn[MOCK_MAX_STREAM_ARN];
  int64_t created_ms;
  uint64_t counter; /* last counter handed out (records, shard bounds) */
  mock_shard **shards;
  size_t nshards, shards_cap;
  /* The open shards by hash range, for routing records: rebuilt when a
     shard is added or closed (route_stale). A scan of all shards per
     record was 67% of the server's CPU with 5,000 shards. */
  mock_shard **route;
  size_t nroute;
  int route_stale;
  mock_consumer *consumers;
  uint64_t nrecords;
} mock_stream;

typedef struct mock_world {
  mock_stream *streams;
  /* Deregistered consumers: live subscriptions may still point at them,
     so they are freed only with the world. */
  mock_consumer *graveyard;
} mock_world;

/* Error codes of the model; mock_api names them as AWS exceptions. */
typedef enum {
  MOCK_OK = 0,
  MOCK_ENOMEM = -1,
  MOCK_ENOTFOUND = -2, /* ResourceNotFoundException */
  MOCK_EINUSE = -3,    /* ResourceInUseException */
  MOCK_EINVAL = -4,    /* InvalidArgumentException */
  MOCK_ELIMIT = -5     /* LimitExceededException */
} mock_err;

void mock_world_init(mock_world *w);
void mock_world_free(mock_world *w);

/* Stream and consumer names: [a-zA-Z0-9_.-], 1 to 128 characters. */
int mock_valid_name(const char *name);

int mock_stream_create(mock_world *w, const char *name, uint32_t shard_count,
                       int64_t now_ms, mock_stream **out);
mock_stream *mock_stream_find(mock_world *w, const char *name);
mock_stream *mock_stream_find_arn(mock_world *w, const char *arn);
mock_shard *mock_shard_find(mock_stream *s, const char *shard_id);
size_t mock_stream_open_shards(const mock_stream *s);

/* The hash key of a partition key: MD5 as a big-endian 128-bit number. */
mock_u128 mock_hash_key(const char *pk, size_t pk_len);
/* Parses a decimal hash key (0 to 2^128-1). Returns 0 or MOCK_EINVAL. */
int mock_u128_parse(const char *s, mock_u128 *out);
/* Writes |v| in decimal with a NUL; |out| needs 40 bytes. */
void mock_u128_format(mock_u128 v, char *out);

/* The open shard whose range holds |hash|, or NULL (never, while the
   open shards cover the whole key space). */
mock_shard *mock_stream_route(mock_stream *s, mock_u128 hash);

/* Appends one record to |shard| (open) and wakes its watchers. Waking
   only schedules a send from the loop, so a batch still goes out as one
   event. */
int mock_shard_append(mock_shard *shard, const char *pk, size_t pk_len,
                      const uint8_t *data, size_t data_len, int64_t now_ms,
                      mock_record **out);
void mock_shard_notify(mock_shard *shard);

/* Sequence numbers. Writes MOCK_SEQ_LEN digits and a NUL. */
void mock_seq_format(const mock_stream *s, uint64_t counter,
                     uint32_t shard_index, char *out);
/* Parses a sequence number of |s|. Returns 0 or MOCK_EINVAL. */
int mock_seq_parse(const mock_stream *s, const char *seq, uint64_t *counter,
                   uint32_t *shard_index);
/* Index of the first record of |shard| with counter >= |counter|. */
size_t mock_shard_lower_bound(const mock_shard *shard, uint64_t counter);
/* Index of the first record that arrived at or after |ms|. */
size_t mock_shard_at_time(const mock_shard *shard, int64_t ms);
static inline const uint8_t *mock_record_pk(const mock_shard *sh,
                                            const mock_record *r) {
  return sh->bytes + r->off;
}
static inline const uint8_t *mock_record_data(const mock_shard *sh,
                                              const mock_record *r) {
  return sh->bytes + r->off + r->pk_len;
}

/* Resharding; the parents close at once and their watchers are woken. */
int mock_split_shard(mock_stream *s, mock_shard *shard, mock_u128 new_start,
                     int64_t now_ms);
int mock_merge_shards(mock_stream *s, mock_shard *a, mock_shard *b,
                      int64_t now_ms);
/* Children of |shard| (indexes into s->shards), at most 2. */
size_t mock_shard_children(const mock_shard *shard, uint32_t *out);

/* The consumer is CREATING for |delay_ms|, then ACTIVE. */
int mock_consumer_register(mock_stream *s, const char *name, int64_t now_ms,
                           int64_t delay_ms, mock_consumer **out);
mock_consumer *mock_consumer_find(mock_stream *s, const char *name);
mock_consumer *mock_consumer_find_arn(mock_world *w, const char *arn);
void mock_consumer_deregister(mock_consumer *c);
mock_consumer_status mock_consumer_status_at(const mock_consumer *c,
                                             int64_t now_ms);
/* Makes sure the per-shard slots cover every shard of the stream. */
int mock_consumer_slots(mock_consumer *c);

void mock_watch_add(mock_shard *shard, mock_watch *w);
void mock_watch_remove(mock_watch *w);

void mock_stats_time(int64_t **times, size_t *n, int64_t ms);

#endif /* KEFO_MOCK_STREAM_H */
