/*
 * The consumer's own header, private to runtime/ (and read by the
 * decode benchmark): the consumer object, what it keeps for each started
 * shard, and the calls between consumer.c, alignment.c and
 * lease_coordinator.c. Readers never include it: they see the consumer
 * only through the host table of shard/reader.h. Everything about a
 * shard other than fetching (delivery, resume filter, checkpoints,
 * lineage, stats) is the consumer's, so both reader types keep the same
 * guarantees by construction.
 */
#ifndef KEFO_CONSUMER_INTERNAL_H
#define KEFO_CONSUMER_INTERNAL_H

#include <cjson/cJSON.h>
#include <event2/event.h>
#include <kefo/kefo.h>

#include "aws/aws_client.h"
#include "aws/credentials.h"
#include "aws/kinesis.h"
#include "base/buf.h"
#include "base/log.h"
#include "efo/consumer_manager.h"
#include "lease/checkpoint_table.h"
#include "lease/lease_store.h"
#include "runtime/align_policy.h"
#include "runtime/config.h"
#include "shard/assembly.h"
#include "shard/position.h"
#include "shard/reader.h"
#include "shard/seq.h"
#include "shard/shard_graph.h"

typedef enum { C_NEW, C_STARTING, C_RUNNING, C_STOPPING, C_STOPPED } cstate;

typedef struct kefo_shard_slot kefo_shard_slot;

typedef enum { R_READING, R_FINISHED, R_FAILED } rstate;

/* What the consumer keeps for one started shard: the reader fetching
   it, and the shard's progress (the reader's |slot|). */
struct kefo_shard_slot {
  kefo_shard_slot *next;
  kefo_consumer *c;
  char shard_id[KEFO_SHARD_ID_CAP];
  rstate state;
  kefo_shard_reader *reader;
  /* Paused by the application (kefo_shard_pause) or by alignment; the
     reader types only look at |paused|, either of them. */
  int user_paused;
  int align_paused;
  int paused;
  int64_t paused_at_ms;
  /* The largest event time delivered (KEFO_WATERMARK_NONE before the
     first record) and when the last record came (monotonic). */
  int64_t max_event_ms;
  int64_t last_record_ms;
  /* The oldest event time of the batch alignment holds back (the reader
     hands it on again after the resume), or KEFO_WATERMARK_NONE. */
  int64_t held_event_ms;
  /* The last record handed to on_records, and the last checkpoint asked
     of the store. */
  char delivered[KEFO_SEQ_MAX];
  uint64_t delivered_sub;
  char saved[KEFO_SEQ_MAX];
  uint64_t saved_sub;
  /* Resuming from a checkpoint: reading starts AT its record, and user
     records up to and including it are dropped (the rest of a KPL
     aggregate is not). */
  int resume_filter;
  char resume[KEFO_SEQ_MAX];
  uint64_t resume_sub;
  kefo_shard_stats stats;
  /* For the metrics (runtime/metrics.c): when records were last handed
     on (monotonic ms, 0: never), and whether a failure was reported
     since the last subscription, so that the next one counts as a
     resubscription after an error rather than a renewal. */
  int64_t delivered_at_ms;
  int failed_since_sub;
};

/* Errors as the metrics count them (kefo_errors_total{kind}). */
typedef enum {
  KEFO_METRIC_ERR_THROTTLED,
  KEFO_METRIC_ERR_TRANSPORT,
  KEFO_METRIC_ERR_SERVER,
  KEFO_METRIC_ERR_LEASE_LOST,
  KEFO_METRIC_ERR_OTHER,
  KEFO_METRIC_ERR_KINDS
} kefo_metric_err_kind;

/* Upper bounds of the checkpoint latency histogram, in ms. */
#define KEFO_METRIC_CP_BUCKETS 11

/*
 * The consumer's own counters, bumped in place where the events happen
 * (plain increments on the loop thread) and read only when the metrics
 * are rendered: nothing is allocated or formatted per record.
 */
typedef struct kefo_consumer_counters {
  uint64_t subscriptions; /* opened, each shard's first included */
  uint64_t renewals;      /* after one that ended without error */
  uint64_t resubscribes_after_error;
  uint64_t errors[KEFO_METRIC_ERR_KINDS];
  uint64_t checkpoints;         /* shard checkpoints the store wrote */
  uint64_t checkpoint_failures; /* shard checkpoints it refused */
  uint64_t cp_buckets[KEFO_METRIC_CP_BUCKETS + 1];
  int64_t cp_sum_ms;
} kefo_consumer_counters;

/* Every callback the consumer calls (kefo_consumer_callbacks_*). */
struct kefo_consumer_callbacks {
  kefo_callbacks cb;
  kefo_event_time_cb event_time;
  kefo_on_stopped_cb on_stopped;
  kefo_log log; /* the log hook (base/log.h) */
};

struct kefo_consumer {
  const kefo_mem *mem; /* &mem_copy */
  /* The log hook, handed down to readers, credentials and leases. */
  kefo_log log;
  kefo_mem mem_copy; /* the config's allocator, copied */
  kefo_config *cfg;
  kefo_callbacks cb;
  void *user_data;
  struct event_base *base;
  int own_base;
  cstate state;
  kefo_credentials_provider *creds;
  kefo_http_client *http;
  kefo_aws_client *aws;
  kefo_aws_service svc;
  kefo_consumer_manager *manager;
  const kefo_reader_ops *reader_ops;
  kefo_reader_env reader_env; /* shared by every reader */
  char consumer_arn[512];
  char stream_arn[512];
  kefo_shard_graph *graph;
  kefo_kinesis_list *listing;
  struct event *discovery;
  kefo_shard_slot *readers;
  kefo_retry_strategy retry;
  /* Per-event scratch, reused: decoded blobs, strings, records. */
  kefo_assembly assembly;
  /* Inside on_records: the reader whose records are lent (NULL outside
     the call), how many of them the application finished with
     (kefo_consumer_stop_after), and a stop asked during the call
     (STOP_ASKED_*), carried out once it returns so that the stop's
     checkpoint covers exactly the records finished with. */
  kefo_shard_slot *in_records;
  kefo_record *lent;
  size_t nlent;
  size_t taken;
  int stop_asked;
  /* kefo_consumer_stop_async: a pipe another thread or a signal handler
     writes one byte to ('g' graceful, 'n' at once), read on the loop. */
  int wake_fd[2];
  struct event *wake;
  /* Why it stops (kefo_stop_reason, 0 until known), told once by
     on_stopped; the last error reported, kept for KEFO_STOP_ERROR. */
  kefo_on_stopped_cb on_stopped;
  int stop_reason;
  kefo_error_info last_error;
  char last_error_text[512];
  char last_error_type[128];
  char last_error_op[64];
  /* Progress: the store, the checkpoints it held at start, the timer of
     automatic checkpoints (0 ms: manual only). */
  kefo_lease_store *store;
  kefo_checkpoint_table initial;
  struct event *cp_timer;
  int64_t cp_interval_ms;
  struct cp_req *cp_reqs; /* checkpoint writes in flight */
  size_t cp_inflight;
  /* Sharing the stream with other workers (a store with leases), or
     NULL: this worker reads every shard. */
  struct kefo_lease_coord *coord;
  kefo_aws_service lease_svc; /* DynamoDB, for the lease table */
  char worker_id[257];
  kefo_checkpoint_entry *batch; /* scratch of checkpoint_delivered */
  size_t batch_cap;
  kefo_shard_stats *stats;
  size_t stats_cap;
  const char **seqs; /* scratch of kefo__consumer_sequence_numbers */
  size_t seqs_cap;
  /* Reads every EFO subscription's events (kefo_kinesis_subscription_
     set_parser): one scratch the size of the largest event. */
  kefo_records_parser parser;
  /* Watermarks and alignment (runtime/alignment.c). */
  kefo_event_time_cb event_time;
  kefo_align_policy_settings align;
  int64_t allowed; /* the limit now in force */
  struct event *align_timer;
  kefo_shard_watermark *wms;
  size_t wms_cap;
  /* Scratch: every reader as the policy sees it. */
  kefo_align_policy_shard *align_in;
  size_t align_cap;
  /* Metrics (runtime/metrics.c): the counters, and the text of the last
     kefo_consumer_metrics, its storage reused by the next. */
  kefo_consumer_counters counters;
  kefo_buf metrics_text;
  /* Each shard's escaped label text for a render (a size_t length, then
     the text), in the readers' order; storage reused as metrics_text's. */
  kefo_buf metrics_labels;
};

/* A stop asked inside on_records. */
#define STOP_ASKED_NONE 0
#define STOP_ASKED_GRACEFUL 1
#define STOP_ASKED_NOW 2

/*
 * Hands |records| (|n| Kinesis Record objects as SubscribeToShardEvent and
 * GetRecords carry them), after the first |skip|, to on_records for |r|'s
 * shard, de-aggregated, with |behind| as MillisBehindLatest: the host
 * table's deliver (shard/reader.h). Returns 0, KEFO_DELIVER_STOP or
 * KEFO_DELIVER_BAD (already reported through on_error).
 */
int kefo__consumer_deliver(kefo_consumer *c, kefo_shard_slot *r,
                           const kefo_wire_record *records, size_t n, int skip,
                           int64_t behind);

/*
 * The SequenceNumber of each of |records|, in order, "" where one is
 * missing (the cores reject it), in a scratch array of |c| valid until
 * the next call. Returns NULL when out of memory.
 */
const char *const *
kefo__consumer_sequence_numbers(kefo_consumer *c,
                                const kefo_wire_record *records, size_t n);

/* Makes |*array| (|*cap| elements of |size| bytes) hold one element per
   started shard reader. Returns 0 or KEFO_ERR_NOMEM. */
int kefo__consumer_reader_array(kefo_consumer *c, void **array, size_t *cap,
                                size_t size);

/*
 * Reports a failed call of |shard|'s reader (|info|, or |code| alone when
 * NULL) with |retryable| as its reader decided it: the failure after
 * which the reader gives up is final, the others are retried.
 */
void kefo__consumer_report_failure(kefo_consumer *c, int code,
                                   const char *shard,
                                   const kefo_error_info *info, int retryable);

/* Reports an error through on_error: |info| when given, else |code| and
   |message|; |shard| may be NULL. */
void kefo__consumer_report(kefo_consumer *c, int code, const char *shard,
                           const kefo_error_info *info, const char *message);

/* Tells on_shard_event. */
void kefo__consumer_shard_event(kefo_consumer *c, const char *shard,
                                kefo_shard_event ev);

/* ---- runtime/consumer_log.c: the log hook's lines ---- */

/* Tells the log hook of |ev| of |shard| (shard_event's, FAILED with the
   last error as its cause). */
void kefo__consumer_log_shard_event(kefo_consumer *c, const char *shard,
                                    kefo_shard_event ev);

/* |shard| was read to its end, |children| its ChildShards (or NULL). */
void kefo__consumer_log_finished(kefo_consumer *c, const char *shard,
                                 const cJSON *children);

/* A call of the consumer's own (not a reader's) is tried again. */
void kefo__consumer_log_call_retry(kefo_consumer *c,
                                   const kefo_error_info *info);

/* Monotonic milliseconds of the consumer's clock. */
int64_t kefo__consumer_now_ms(kefo_consumer *c);

/* ---- runtime/checkpoints.c ---- */

/* Asks the store to checkpoint |r|'s shard at |seq| / |sub| (also
   KEFO_CHECKPOINT_SHARD_END). Returns 0 or a KEFO_ERR_* code of the
   store. */
int kefo__consumer_store_checkpoint(kefo_consumer *c, kefo_shard_slot *r,
                                    const char *seq, uint64_t sub);

/* Checkpoints, in one batch, every shard's records finished with and not
   checkpointed yet. */
void kefo__consumer_checkpoint_delivered(kefo_consumer *c);

/* The automatic checkpoints' timer (|arg| is the consumer). */
void kefo__consumer_cp_timer_cb(evutil_socket_t fd, short what, void *arg);

/* Frees the checkpoint writes whose answer never came (the store was
   freed first). */
void kefo__consumer_checkpoints_free(kefo_consumer *c);

/* ---- runtime/shard_slots.c ---- */

/* Frees |r| and its reader. */
void kefo__consumer_slot_free(kefo_consumer *c, kefo_shard_slot *r);

/* Starts a reader for every shard that may start now. */
void kefo__consumer_start_ready(kefo_consumer *c);

/* Stops reading |shard_id| without a checkpoint (its lease went to
   another worker): the reader goes, the shard is ready for whoever holds
   it, and on_shard_event hears KEFO_SHARD_EVENT_LEASE_LOST. */
void kefo__consumer_drop_reader(kefo_consumer *c, const char *shard_id);

/* ---- runtime/lease_coordinator.c ---- */

/* Sets up c->coord when c->store has leases. Returns 0, KEFO_ERR_NOMEM
   or KEFO_ERR_INVALID_ARGUMENT (an empty worker id, or lease settings
   the configuration check refuses). */
int kefo__coord_new(kefo_consumer *c);

/* The consumer runs: renew, list and take leases every renewal
   interval, the first time at once. */
void kefo__coord_start(kefo_consumer *c);

/* Lists the table soon (new shards were discovered, one finished). */
void kefo__coord_poke(kefo_consumer *c);

/* 1 when this worker may read |shard_id| now: it holds the lease, or
   there is no coordinator. */
int kefo__coord_holds(kefo_consumer *c, const char *shard_id);

/* |shard_id| was read to its end: its lease is no longer renewed, and
   its children's leases are created. */
void kefo__coord_finished(kefo_consumer *c, const char *shard_id);

/*
 * A graceful stop: once no checkpoint is in flight, every held lease is
 * released, then |then| runs (at once when there is no coordinator). A
 * stop that is not graceful passes NULL: nothing is released, the leases
 * expire.
 */
void kefo__coord_stop(kefo_consumer *c, void (*then)(kefo_consumer *c));

/* 1 when the last listing showed another worker holding a live lease:
   a job-managed consumer is then left registered for it at a stop. */
int kefo__coord_others_alive(kefo_consumer *c);

/* The last checkpoint in flight answered while stopping. */
void kefo__coord_checkpoints_done(kefo_consumer *c);

void kefo__coord_free(kefo_consumer *c);

/* How many leases this worker holds now (0 without a coordinator). */
size_t kefo__coord_leases_held(kefo_consumer *c);

/* ---- runtime/alignment.c ---- */

/* Sets up the watermark settings of |c| from its configuration. Returns
   0 or KEFO_ERR_NOMEM. */
int kefo__alignment_init(kefo_consumer *c);

/* The consumer runs, or stops: the aligner's timer goes or stops. */
void kefo__alignment_start(kefo_consumer *c);
void kefo__alignment_stop(kefo_consumer *c);

/* Frees what alignment holds. */
void kefo__alignment_free(kefo_consumer *c);

/* A new reader: no watermark yet; idle counts from now. */
void kefo__alignment_reader_started(kefo_shard_slot *r);

/* |r| handed on records whose largest event time is |newest_ms|; it is
   paused at once if that takes it past the limit in force. */
void kefo__alignment_delivered(kefo_shard_slot *r, int64_t newest_ms);
/* 1 when a batch of |r| whose oldest event time is |oldest_ms| may be
   handed on; 0 when alignment holds it back: |r| is paused then, and its
   reader hands the batch on again after the resume. */
int kefo__alignment_admits(kefo_shard_slot *r, int64_t oldest_ms);

/* The event time of one record (the application's callback, or the
   arrival time). */
int64_t kefo__alignment_event_time(kefo_consumer *c, kefo_shard_slot *r,
                                   const kefo_record *rec);

/* |r| read its shard to the end, or failed: it holds no one back. */
void kefo__alignment_reader_done(kefo_shard_slot *r);

/* Pauses or resumes |r|'s reader as r->paused now says. */
void kefo__consumer_reader_paused(kefo_shard_slot *r);

/* ---- runtime/metrics.c ---- */

/* Counts the error |code| (|info| may be NULL) under its kind. */
void kefo__metrics_count_error(kefo_consumer *c, int code,
                               const kefo_error_info *info);

/* A checkpoint batch of |n| shards was answered |error| after |ms|. */
void kefo__metrics_checkpoint(kefo_consumer *c, size_t n, int error,
                              int64_t ms);

#endif /* KEFO_CONSUMER_INTERNAL_H */
