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
 * Ownership (take, renew, steal, release) comes with the DynamoDB lease
 * table; a single worker owns every shard of the stores here.
 */
#ifndef KEFO_LEASE_STORE_H
#define KEFO_LEASE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "runtime/mem.h"

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
  /* Releases everything (the file lock too). */
  void (*del)(kefo_lease_store *s);
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
int kefo_file_store_new(kefo_lease_store **out, const char *path,
                        const kefo_mem *mem);

/*
 * Creates a store that keeps checkpoints in memory only, for the life of
 * the store (tests, and applications that keep positions themselves).
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
int kefo_memory_store_new(kefo_lease_store **out, const kefo_mem *mem);

/* Calls s->ops->del; NULL is ignored. */
void kefo_lease_store_del(kefo_lease_store *s);

/*
 * Orders two checkpoints: <0, 0, >0. SHARD_END is after every sequence
 * number; at equal sequence numbers the sub-sequence decides. Both must
 * be valid (kefo_checkpoint_valid).
 */
int kefo_checkpoint_cmp(const char *seq_a, uint64_t sub_a, const char *seq_b,
                        uint64_t sub_b);

/* Returns 1 when |seq| is a sequence number or SHARD_END. */
int kefo_checkpoint_valid(const char *seq);

#endif /* KEFO_LEASE_STORE_H */
