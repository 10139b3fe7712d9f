/*
 * The checkpoints of one stream's shards in memory, keyed by shard id,
 * each only ever moving forwards. Shared by the memory and file stores.
 */
#ifndef KEFO_CHECKPOINT_TABLE_H
#define KEFO_CHECKPOINT_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "lease/lease_store.h"
#include "base/mem.h"

typedef struct kefo_checkpoint_slot {
  char *shard_id;
  char *sequence_number;
  uint64_t sub_sequence_number;
} kefo_checkpoint_slot;

typedef struct kefo_checkpoint_table {
  const kefo_mem *mem;
  kefo_checkpoint_slot *slots; /* sorted by shard id */
  size_t n, cap;
  /* Scratch for kefo__checkpoint_table_entries. */
  kefo_checkpoint_entry *entries;
} kefo_checkpoint_table;

void kefo__checkpoint_table_init(kefo_checkpoint_table *t, const kefo_mem *mem);

void kefo__checkpoint_table_free(kefo_checkpoint_table *t);

/* Checks every entry (shard id of 1 to 128 characters, a valid
   checkpoint). Returns 0 or KEFO_ERR_INVALID_ARGUMENT. */
int kefo__checkpoint_entries_valid(const kefo_checkpoint_entry *e, size_t n);

/*
 * Stores |e| unless the stored checkpoint is at or after it; |*changed|
 * (may be NULL) is set to 1 when it was stored. Returns 0,
 * KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM (then nothing changed).
 */
int kefo__checkpoint_table_put(kefo_checkpoint_table *t,
                               const kefo_checkpoint_entry *e, int *changed);

/* The checkpoint of |shard_id|, or NULL. */
const kefo_checkpoint_slot *
kefo__checkpoint_table_get(const kefo_checkpoint_table *t,
                           const char *shard_id);

/* Every stored checkpoint, in shard id order, lent until the next call
   that changes |t|. Returns NULL (and |*n| 0) when empty or out of
   memory. */
const kefo_checkpoint_entry *
kefo__checkpoint_table_entries(kefo_checkpoint_table *t, size_t *n);

/* Answers a lease store's read from |t|: calls |cb| with every stored
   checkpoint, before returning. Returns 0 or KEFO_ERR_NOMEM (then |cb| is
   not called). */
int kefo__checkpoint_table_read(kefo_checkpoint_table *t, kefo_lease_read_cb cb,
                                void *ud);

#endif /* KEFO_CHECKPOINT_TABLE_H */
