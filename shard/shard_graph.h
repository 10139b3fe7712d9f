/*
 * The shard lineage graph: which shards of a stream may be read now, so
 * that every parent is read to its end (or has expired out of retention)
 * before any child. An I/O-free core fed by discovery (ListShards), by
 * readers (ChildShards at shard end) and by checkpoints.
 */
#ifndef KEFO_SHARD_GRAPH_H
#define KEFO_SHARD_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "shard/hash_key.h"
#include "base/mem.h"

/* Kinesis shard ids are 1 to 128 characters of [a-zA-Z0-9_.-]. */
#define KEFO_SHARD_ID_MAX 128

typedef struct kefo_shard_graph kefo_shard_graph;

typedef enum kefo_shard_state {
  /* Named as a parent (or in ChildShards) but not yet listed by a
     discovery. Blocks its children until a discovery lists it (then it
     is WAITING or READY) or omits it (then it is GONE). */
  KEFO_SHARD_UNKNOWN = 0,
  /* Known, not started; some parent is not finished yet. */
  KEFO_SHARD_WAITING,
  /* Known, not started; every parent finished or gone. */
  KEFO_SHARD_READY,
  /* Started by this consumer and not yet read to its end. */
  KEFO_SHARD_READING,
  /* Read to its end (or checkpointed at SHARD_END). */
  KEFO_SHARD_FINISHED,
  /* No longer in the stream (expired out of retention), or retired by
     the caller. Does not block its children. Terminal. */
  KEFO_SHARD_GONE
} kefo_shard_state;

#define KEFO_SHARD_STATE_COUNT 6

/* Where a ready shard with no checkpoint must start. */
typedef enum kefo_shard_start {
  /* A root shard (no parent, or only parents this consumer did not
     read): the configured initial position applies (LATEST,
     TRIM_HORIZON, AT_TIMESTAMP). */
  KEFO_SHARD_START_INITIAL = 0,
  /* A child of a parent this consumer read to its end: TRIM_HORIZON,
     whatever the initial position, or records would be skipped. */
  KEFO_SHARD_START_TRIM_HORIZON
} kefo_shard_start;

/* One shard as the graph knows it. Every pointer is lent: valid until the
   graph is deleted (shards are never removed, only marked GONE). */
typedef struct kefo_shard_info {
  const char *shard_id;
  /* NULL when the shard has none (or it is not known yet). */
  const char *parent_shard_id;
  const char *adjacent_parent_shard_id;
  kefo_shard_state state;
  /* Meaningful for READY shards; computed from the parents' states. */
  kefo_shard_start start;
  /* Non-zero once an EndingSequenceNumber was seen or it finished. */
  int closed;
  /* Non-zero when HashKeyRange was seen; then the range is inclusive. */
  int has_hash_range;
  kefo_hash_key hash_start;
  kefo_hash_key hash_end;
} kefo_shard_info;

typedef struct kefo_shard_graph_counts {
  /* Every shard except UNKNOWN placeholders. */
  size_t known;
  /* Known shards that are neither closed, finished nor gone. */
  size_t open;
  /* Shards per kefo_shard_state, indexed by state. */
  size_t by_state[KEFO_SHARD_STATE_COUNT];
} kefo_shard_graph_counts;

/*
 * Called once per shard by the iterators below, on the caller's thread.
 * |info| is valid only during the call. Return 0 to go on; anything else
 * stops the iteration with KEFO_ERR_CALLBACK_FAILURE.
 */
typedef int (*kefo_shard_graph_cb)(const kefo_shard_info *info,
                                   void *user_data);

/*
 * Creates an empty graph in |*out| that allocates through |mem| (NULL:
 * default; copied, so it must outlive the graph).
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (|out| NULL) or KEFO_ERR_NOMEM.
 */
int kefo__shard_graph_new(kefo_shard_graph **out, const kefo_mem *mem);

/* Frees |g| and every shard in it. NULL is ignored. */
void kefo__shard_graph_del(kefo_shard_graph *g);

/*
 * Starts a discovery: the pages of one complete ListShards answer follow
 * through kefo__shard_graph_discover_page, then kefo__shard_graph_discover_end.
 * Beginning again abandons a discovery that failed half-way.
 *
 * Returns 0 or KEFO_ERR_INVALID_ARGUMENT (|g| NULL).
 */
int kefo__shard_graph_discover_begin(kefo_shard_graph *g);

/*
 * Merges one page of ListShards: |shards| is its "Shards" array of Shard
 * objects (ShardId, ParentShardId, AdjacentParentShardId, HashKeyRange,
 * SequenceNumberRange). New shards are added; known shards are updated
 * (an EndingSequenceNumber closes them; parents are set once). The page is
 * checked whole before anything changes: a malformed page leaves the graph
 * as it was. After KEFO_ERR_NOMEM the graph is consistent and the page may
 * be given again.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (|g| or |shards| NULL),
 * KEFO_ERR_BAD_RESPONSE (not an array, an element not an object, a
 * ShardId missing, not a string, longer than KEFO_SHARD_ID_MAX or with
 * characters Kinesis never uses, a parent id that is not an id or is the
 * shard itself, a hash key that is not a decimal below 2^128, a range
 * whose start is above its end) or KEFO_ERR_NOMEM.
 */
int kefo__shard_graph_discover_page(kefo_shard_graph *g, const cJSON *shards);

/*
 * Ends a discovery whose pages were all merged. Shards it did not list are
 * marked GONE (expired out of retention) if they were waiting, ready or
 * unknown; READING and FINISHED shards keep their state (the reader learns
 * of an expired shard from the service). A shard learned from ChildShards
 * or a checkpoint since the last discovery is spared once, as ListShards
 * may not show it yet.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (|g| NULL) or KEFO_ERR_INVALID_STATE
 * (no discovery begun).
 */
int kefo__shard_graph_discover_end(kefo_shard_graph *g);

/*
 * A whole discovery in one call: begin, one page |shards|, end. On an
 * error, no shard is marked GONE.
 *
 * Returns what kefo__shard_graph_discover_page returns.
 */
int kefo__shard_graph_discover(kefo_shard_graph *g, const cJSON *shards);

/*
 * The shard |shard_id| was started by a reader. It must be READY.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (NULL, not a shard id, or not in
 * the graph) or KEFO_ERR_INVALID_STATE (not READY).
 */
int kefo__shard_graph_shard_started(kefo_shard_graph *g, const char *shard_id);

/*
 * The reader of |shard_id| stopped before its end (lease lost, shutdown):
 * READING becomes READY again, to be started by whoever gets it.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (NULL, not a shard id, or not in
 * the graph) or KEFO_ERR_INVALID_STATE (not READING).
 */
int kefo__shard_graph_shard_released(kefo_shard_graph *g, const char *shard_id);

/*
 * |shard_id| was read to its end by this consumer. |child_shards| is the
 * ChildShards array of the last event (each {ShardId, ParentShards[],
 * HashKeyRange}) or NULL: the children are added at once, so they may
 * start without waiting for the next discovery. A shard not in the graph
 * is added (a SHARD_END checkpoint read at start-up). Idempotent; after
 * KEFO_ERR_NOMEM it may be called again. |child_shards| is checked whole
 * before anything changes.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (|g| or |shard_id| NULL, not a
 * shard id), KEFO_ERR_BAD_RESPONSE (|child_shards| not an array of objects
 * with a valid ShardId and at most two valid ParentShards, or a bad
 * HashKeyRange) or KEFO_ERR_NOMEM.
 */
int kefo__shard_graph_shard_finished(kefo_shard_graph *g, const char *shard_id,
                                     const cJSON *child_shards);

/*
 * Applies the checkpoint |checkpoint| of |shard_id| read at start-up: the
 * KCL's "SHARD_END" marks the shard FINISHED; a sequence number or another
 * sentinel changes nothing here (the reader starts from it).
 *
 * Returns what kefo__shard_graph_shard_finished returns.
 */
int kefo__shard_graph_apply_checkpoint(kefo_shard_graph *g,
                                       const char *shard_id,
                                       const char *checkpoint);

/*
 * Retires |shard_id|: it is GONE, and no longer blocks its children, who
 * will start at the initial position unless another parent finished. For
 * a shard the service says has expired, or one the caller decides not to
 * read (a closed shard at a LATEST start). Adds the shard if unknown. A
 * FINISHED shard stays FINISHED, so its children still start at
 * TRIM_HORIZON.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (NULL or not a shard id) or
 * KEFO_ERR_NOMEM.
 */
int kefo__shard_graph_shard_gone(kefo_shard_graph *g, const char *shard_id);

/*
 * Fills |*info| with the shard |shard_id|.
 *
 * Returns 0 or KEFO_ERR_INVALID_ARGUMENT (NULL, not a shard id, or not in
 * the graph).
 */
int kefo__shard_graph_get(const kefo_shard_graph *g, const char *shard_id,
                          kefo_shard_info *info);

/*
 * Calls |cb| for each READY shard, oldest-ready first. Costs O(ready
 * shards), not O(all shards). |cb| may change the graph (typically
 * kefo__shard_graph_shard_started on the shard it is given); shards that
 * become ready meanwhile are visited in the same call.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (|g| or |cb| NULL) or
 * KEFO_ERR_CALLBACK_FAILURE.
 */
int kefo__shard_graph_ready_each(kefo_shard_graph *g, kefo_shard_graph_cb cb,
                                 void *user_data);

/*
 * Calls |cb| once for each shard that became known (listed, named in
 * ChildShards, or checkpointed) since the last call, in the order they
 * were first learned; UNKNOWN placeholders wait until they are known, and
 * shards already GONE are skipped. When nothing was learnt it costs no
 * walk. |cb| must not change the graph.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (|g| or |cb| NULL) or
 * KEFO_ERR_CALLBACK_FAILURE (the shards after the failing one are
 * reported by the next call).
 */
int kefo__shard_graph_new_each(kefo_shard_graph *g, kefo_shard_graph_cb cb,
                               void *user_data);

/*
 * Calls |cb| for every shard in the graph, in the order they were first
 * learned, for stats. |cb| must not change the graph.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (|g| or |cb| NULL) or
 * KEFO_ERR_CALLBACK_FAILURE.
 */
int kefo__shard_graph_each(const kefo_shard_graph *g, kefo_shard_graph_cb cb,
                           void *user_data);

/* Fills |*out| with the graph's counts, kept up to date as it changes: O(1). */
void kefo__shard_graph_counts_get(const kefo_shard_graph *g,
                                  kefo_shard_graph_counts *out);

/*
 * The number of parent-child edges walked and ready-list steps taken since
 * the graph was made: a measure of work, so tests can check that it grows
 * linearly with the shards, not quadratically.
 */
uint64_t kefo__shard_graph_work(const kefo_shard_graph *g);

/* Returns the name of |state| ("READY"), or "?" for an unknown value. */
const char *kefo__shard_state_name(kefo_shard_state state);

#endif /* KEFO_SHARD_GRAPH_H */
