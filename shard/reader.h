/*
 * The one contract between the consumer (runtime/) and a shard reader
 * (efo/efo_reader.c, polling/polling_reader.c). A reader is given an
 * environment (the loop, the signed-call client, the clock, the
 * allocator, its settings) and a host table it reports to (records to
 * deliver, the shard's end, a failure, a resubscription); the consumer
 * sees a reader only through its ops table. Neither side sees the other's
 * struct: what the consumer keeps for a shard (progress, resume filter,
 * pause flags) travels as the opaque |slot| handed back in every host
 * call.
 */
#ifndef KEFO_READER_H
#define KEFO_READER_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <kefo/kefo.h>

#include "aws/aws_client.h"
#include "aws/records_reader.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/retry.h"

/* What kefo_reader_host.deliver returns besides 0. */
#define KEFO_DELIVER_STOP 1   /* the application asked to stop */
#define KEFO_DELIVER_BAD (-1) /* malformed records, or no memory */
/* Nothing handed on: alignment paused the shard (set_paused came during
   the call) and the reader hands the same records on again, first, once
   it is resumed. */
#define KEFO_DELIVER_HELD 2

/* What every reader of one consumer shares; it outlives them all. */
typedef struct kefo_reader_env {
  struct event_base *base;
  kefo_aws_client *aws;
  const kefo_aws_service *svc; /* Kinesis */
  const kefo_mem *mem;
  const kefo_clock *clock; /* mono_ms paces the cores */
  const kefo_retry_strategy *retry;
  const char *stream_arn;   /* GetShardIterator */
  const char *consumer_arn; /* SubscribeToShard */
  /* EFO: a subscription silent this long is renewed (0: never). */
  uint32_t inactivity_ms;
  /* EFO: the largest event a subscription accepts (0: the format's). */
  uint32_t max_event_bytes;
  /* EFO: a larger event is handed on in runs as it arrives (0: none). */
  uint32_t whole_event_bytes;
  /* Polling: records asked per call, waits between calls. */
  int get_records_max;
  uint32_t busy_ms, idle_ms;
  /* One parser of SubscribeToShardEvent / GetRecords bodies for all
     readers: one scratch the size of the largest event. */
  kefo_records_parser *parser;
  /* The application's log hook (never NULL; its fn may be). */
  const kefo_log *log;
} kefo_reader_env;

/*
 * What a reader tells the consumer. Every call takes the |slot| the
 * reader was created with. No call frees the reader: it is freed only by
 * kefo_reader_ops.del, which the consumer calls outside the reader's own
 * callbacks.
 */
typedef struct kefo_reader_host {
  /* Hands |records| (|n| records of one event or answer), after the
     first |skip|, to the application, with |behind| as
     MillisBehindLatest. Returns 0, KEFO_DELIVER_STOP (the application
     asked to stop at once: the reader calls stop), KEFO_DELIVER_HELD
     (kept for after the resume, nothing done with them) or
     KEFO_DELIVER_BAD (reported already). */
  int (*deliver)(void *slot, const kefo_wire_record *records, size_t n,
                 int skip, int64_t behind);
  /* The SequenceNumber of each of |records|, "" where one is missing, in
     a scratch array valid until the next call; NULL when out of
     memory. */
  const char *const *(*sequence_numbers)(void *slot,
                                         const kefo_wire_record *records,
                                         size_t n);
  /* The shard was read to its end; |children| is the ChildShards array
     of the last answer, or NULL. */
  void (*finished)(void *slot, const cJSON *children);
  /* The reader gave up (a final error, or its attempts ran out). */
  void (*failed)(void *slot);
  /* Reports an error: |info| when given, else |code| and |message|. */
  void (*report)(void *slot, int code, const kefo_error_info *info,
                 const char *message);
  /* Reports a failed call with |retryable| as the reader decided it: the
     failure after which it gives up is final, the others are retried. */
  void (*report_failure)(void *slot, int code, const kefo_error_info *info,
                         int retryable);
  /* A new subscription (or iterator) after the first one. */
  void (*resubscribed)(void *slot);
  /* deliver returned KEFO_DELIVER_STOP: stop the consumer at once. */
  void (*stop)(void *slot);
  /* 1 while the consumer runs; 0 once it stops (no call is started and
     no failure is reported then). */
  int (*running)(void *slot);
  /* 1 while the consumer runs and the shard is still being read (not
     finished, not failed). */
  int (*reading)(void *slot);
  /* Writes the addresses of the slot's state that delivering an event
     reads and writes into |addrs| (room for |cap|); returns how many.
     An EFO reader prefetches them as an event's bytes arrive. */
  size_t (*hot_state)(void *slot, const void **addrs, size_t cap);
} kefo_reader_host;

typedef struct kefo_reader_ops kefo_reader_ops;

/*
 * The part every reader starts with; a reader type's struct embeds it as
 * its first member.
 */
typedef struct kefo_shard_reader {
  const kefo_reader_ops *ops;
  const kefo_reader_env *env;
  const kefo_reader_host *host;
  void *slot;
  const char *shard_id; /* lent by the slot, which outlives the reader */
  /* The shard's counters, the slot's: the reader counts errors,
     resubscriptions and MillisBehindLatest. */
  kefo_shard_stats *stats;
} kefo_shard_reader;

struct kefo_reader_ops {
  /* Creates a reader of |base|'s shard (every field of |base| is set by
     the caller; it is copied) from |type| / |value|, a starting position
     (shard/position.h). Returns 0, KEFO_ERR_NOMEM or
     KEFO_ERR_INVALID_ARGUMENT. */
  int (*create)(kefo_shard_reader **out, const kefo_shard_reader *base,
                const char *type, const char *value);
  /* Starts reading, or goes on after a timer or an answer. */
  void (*kick)(kefo_shard_reader *r);
  /* Stops the reader's calls and timers; no host call comes afterwards
     except from a kick. */
  void (*cancel)(kefo_shard_reader *r);
  /* Paused (the application's kefo_shard_pause or alignment): stop
     handing records on, and fetching as far as the reader type allows.
     Resumed after |paused_for_ms|: go on from the last delivered
     record. */
  void (*set_paused)(kefo_shard_reader *r, int paused, int64_t paused_for_ms);
  /* Cancels and frees. */
  void (*del)(kefo_shard_reader *r);
};

extern const kefo_reader_ops kefo__efo_reader_ops;
extern const kefo_reader_ops kefo__polling_reader_ops;

/* Monotonic milliseconds of the reader's clock. */
static inline int64_t kefo__shard_reader_now_ms(const kefo_shard_reader *r) {
  return r->env->clock->mono_ms(r->env->clock->user_data);
}

#endif /* KEFO_READER_H */
