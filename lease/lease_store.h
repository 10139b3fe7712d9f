/*
 * Where a consumer's progress lives: the lease store interface. A store is
 * a table of functions, so the embedded file store, an in-memory store
 * and the DynamoDB lease table plug into the consumer the same way.
 *
 * Every operation completes through a callback, which may run before the
 * operation returns (the file store works synchronously) or later on the
 * event loop (a network store). The caller must do nothing after starting
 * an operation that depends on it not having completed yet.
 *
 * A store keeps, per shard, the last checkpoint: a sequence number and a
 * sub-sequence number (the KPL user record index within it), or the
 * KCL's sentinel "SHARD_END" for a shard read to its end. A checkpoint
 * never moves backwards: a store keeps the larger of the stored one and
 * the new one.
 *
 * Ownership comes with the DynamoDB lease table (lease/dynamodb_store.c):
 * its stores fill in the lease operations below, and the consumer's lease
 * coordinator (runtime/lease_coordinator.c) uses them to share a stream's
 * shards among workers. The file and memory stores leave them NULL: one
 * worker owns every shard.
 */
#ifndef KEFO_LEASE_STORE_H
#define KEFO_LEASE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"

/* The KCL's checkpoint of a shard read to its end. */
#define KEFO_CHECKPOINT_SHARD_END "SHARD_END"

typedef struct kefo_lease_store kefo_lease_store;

typedef struct kefo_checkpoint_entry {
  const char *shard_id;
  /* A sequence number, or KEFO_CHECKPOINT_SHARD_END. */
  const char *sequence_number;
  uint64_t sub_sequence_number;
} kefo_checkpoint_entry;

/* An operation finished: |error| 0, or a kefo_error with |message| (lent,
   never NULL) saying what failed. */
typedef void (*kefo_lease_done_cb)(int error, const char *message,
                                   void *user_data);

/* The stored checkpoints, |entries| lent for the call. */
typedef void (*kefo_lease_read_cb)(int error, const char *message,
                                   const kefo_checkpoint_entry *entries,
                                   size_t n, void *user_data);

/*
 * One shard's lease as the table holds it (the KCL's layout). Strings
 * are lent for the callback that passes the lease.
 */
typedef struct kefo_lease {
  const char *shard_id;
  /* The worker holding it, "" when nobody does. */
  const char *owner;
  /* Goes up by one at every renewal and change of owner: a worker that
     sees it stand still for a lease duration takes the lease as expired. */
  int64_t counter;
  /* A sequence number, SHARD_END, or before any checkpoint the KCL's
     starting sentinel (TRIM_HORIZON, LATEST, AT_TIMESTAMP). */
  const char *checkpoint;
  uint64_t sub_sequence_number;
  const char *parents[2];
  int nparents;
} kefo_lease;

/* Every lease of the table, |leases| lent for the call. */
typedef void (*kefo_lease_list_cb)(int error, const char *message,
                                   const kefo_lease *leases, size_t n,
                                   void *user_data);

/* A lease after a change of it (take, renew), or the error:
   KEFO_ERR_LEASE_LOST when the condition failed (someone else changed
   it first). */
typedef void (*kefo_lease_change_cb)(int error, const char *message,
                                     const kefo_lease *lease, void *user_data);

typedef struct kefo_lease_store_ops {
  /* "file", "memory", ... for messages. */
  const char *name;
  /*
   * Binds the store to |stream_arn| and |application| (the consumer name):
   * a store that holds another stream's or application's progress is an
   * error, never silently reused. Returns 0 (the outcome comes through
   * |cb|) or KEFO_ERR_NOMEM.
   */
  int (*open)(kefo_lease_store *s, const char *stream_arn,
              const char *application, kefo_lease_done_cb cb, void *ud);
  /* Reads every shard's checkpoint. Returns 0 or KEFO_ERR_INVALID_STATE
     (not open). */
  int (*read)(kefo_lease_store *s, kefo_lease_read_cb cb, void *ud);
  /*
   * Stores |n| checkpoints together (one write for a batch). An entry
   * behind the stored one is ignored. Returns 0,
   * KEFO_ERR_INVALID_ARGUMENT (a malformed entry: nothing is stored) or
   * KEFO_ERR_INVALID_STATE (not open).
   */
  int (*checkpoint)(kefo_lease_store *s, const kefo_checkpoint_entry *e,
                    size_t n, kefo_lease_done_cb cb, void *ud);
  /* Releases everything (the file lock too); calls in flight are
     cancelled and their callbacks never run. */
  void (*del)(kefo_lease_store *s);

  /* ---- leases (NULL for single-worker stores) ---- */

  /* Reads every lease (a consistent read). Returns 0 or
     KEFO_ERR_INVALID_STATE / KEFO_ERR_NOMEM. */
  int (*list)(kefo_lease_store *s, kefo_lease_list_cb cb, void *ud);
  /* Creates |lease| unowned unless a lease of that shard exists (then
     nothing changes and it is not an error). */
  int (*create)(kefo_lease_store *s, const kefo_lease *lease,
                kefo_lease_done_cb cb, void *ud);
  /* Makes this worker the owner, if the counter is still |counter|
     (an expired lease, or a steal). */
  int (*take)(kefo_lease_store *s, const char *shard_id, int64_t counter,
              kefo_lease_change_cb cb, void *ud);
  /* Renews a lease this worker holds at |counter|. */
  int (*renew)(kefo_lease_store *s, const char *shard_id, int64_t counter,
               kefo_lease_change_cb cb, void *ud);
  /* Gives up a lease this worker holds at |counter| (no owner). */
  int (*release)(kefo_lease_store *s, const char *shard_id, int64_t counter,
                 kefo_lease_done_cb cb, void *ud);
} kefo_lease_store_ops;

struct kefo_lease_store {
  const kefo_lease_store_ops *ops;
};

/*
 * Creates the embedded file store in |*out|: the checkpoints of one stream
 * and application in |path|, replaced atomically on every write (a
 * temporary file, fsync, rename, fsync of the directory) so the last
 * completed checkpoint survives a crash at any point. While it is open it
 * holds an exclusive lock on |path|.lock, so a second process on the same
 * file fails at open with KEFO_ERR_LEASE_STORE.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
int kefo__file_store_new(kefo_lease_store **out, const char *path,
                         const kefo_mem *mem);

/*
 * Creates a store that keeps checkpoints in memory only, for the life of
 * the store (tests, and applications that keep positions themselves).
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
int kefo__memory_store_new(kefo_lease_store **out, const kefo_mem *mem);

/*
 * Creates the DynamoDB lease table store: |table| (created on demand,
 * PAY_PER_REQUEST, if missing) through |aws| at |svc| (both must outlive
 * the store; |base| is their loop), for the worker |worker_id|; |retry|
 * NULL means the default strategy. Checkpoints are written only
 * while this worker owns the lease: after a takeover they fail with
 * KEFO_ERR_LEASE_LOST and never overwrite the new owner's progress.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
struct event_base;
struct kefo_aws_client;
struct kefo_aws_service;
struct kefo_retry_strategy;
int kefo__dynamodb_store_new(kefo_lease_store **out, struct event_base *base,
                             struct kefo_aws_client *aws,
                             const struct kefo_aws_service *svc,
                             const struct kefo_retry_strategy *retry,
                             const char *table, const char *worker_id,
                             const kefo_mem *mem);

/* Calls s->ops->del; NULL is ignored. */
void kefo__lease_store_del(kefo_lease_store *s);

/*
 * Orders two checkpoints: <0, 0, >0. SHARD_END is after every sequence
 * number; at equal sequence numbers the sub-sequence decides. Both must
 * be valid (kefo__checkpoint_valid).
 */
int kefo__checkpoint_cmp(const char *seq_a, uint64_t sub_a, const char *seq_b,
                         uint64_t sub_b);

/* Returns 1 when |seq| is a sequence number or SHARD_END. */
int kefo__checkpoint_valid(const char *seq);

#endif /* KEFO_LEASE_STORE_H */
