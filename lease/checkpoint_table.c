/*
 * The in-memory checkpoint table: a sorted array, searched by bisection,
 * small enough for the tens of thousands of shards of the largest
 * streams.
 */
#include "lease/checkpoint_table.h"

#include <string.h>

#include <kefo/kefo.h>

#include "shard/position.h"
#include "shard/seq.h"

int kefo__checkpoint_valid(const char *seq) {
  return seq != NULL &&
         (strcmp(seq, KEFO_CHECKPOINT_SHARD_END) == 0 || kefo__seq_valid(seq));
}

int kefo__checkpoint_cmp(const char *seq_a, uint64_t sub_a, const char *seq_b,
                         uint64_t sub_b) {
  int end_a = strcmp(seq_a, KEFO_CHECKPOINT_SHARD_END) == 0;
  int end_b = strcmp(seq_b, KEFO_CHECKPOINT_SHARD_END) == 0;
  int c;

  if (end_a || end_b) {
    return end_a - end_b;
  }
  c = kefo__seq_cmp(seq_a, seq_b);
  if (c != 0) {
    return c;
  }
  return sub_a < sub_b ? -1 : sub_a > sub_b;
}

void kefo__checkpoint_table_init(kefo_checkpoint_table *t,
                                 const kefo_mem *mem) {
  memset(t, 0, sizeof(*t));
  t->mem = kefo__mem_or_default(mem);
}

void kefo__checkpoint_table_free(kefo_checkpoint_table *t) {
  size_t i;

  for (i = 0; i < t->n; ++i) {
    kefo__mem_free(t->mem, t->slots[i].shard_id);
    kefo__mem_free(t->mem, t->slots[i].sequence_number);
  }
  kefo__mem_free(t->mem, t->slots);
  kefo__mem_free(t->mem, t->entries);
  memset(t, 0, sizeof(*t));
}

int kefo__checkpoint_entries_valid(const kefo_checkpoint_entry *e, size_t n) {
  size_t i, len;

  if (e == NULL && n > 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  for (i = 0; i < n; ++i) {
    if (e[i].shard_id == NULL ||
        !kefo__checkpoint_valid(e[i].sequence_number)) {
      return KEFO_ERR_INVALID_ARGUMENT;
    }
    len = strlen(e[i].shard_id);
    if (len == 0 || len >= KEFO_SHARD_ID_CAP) {
      return KEFO_ERR_INVALID_ARGUMENT;
    }
  }
  return 0;
}

/* The index of |shard| or where it would go; |*found| says which. */
static size_t find(const kefo_checkpoint_table *t, const char *shard,
                   int *found) {
  size_t lo = 0, hi = t->n;

  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(t->slots[mid].shard_id, shard);
    if (c == 0) {
      *found = 1;
      return mid;
    }
    if (c < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  *found = 0;
  return lo;
}

int kefo__checkpoint_table_put(kefo_checkpoint_table *t,
                               const kefo_checkpoint_entry *e, int *changed) {
  kefo_checkpoint_slot *slot;
  char *seq;
  size_t i;
  int found;

  if (changed) {
    *changed = 0;
  }
  if (kefo__checkpoint_entries_valid(e, 1) != 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  i = find(t, e->shard_id, &found);
  if (found) {
    slot = &t->slots[i];
    if (kefo__checkpoint_cmp(slot->sequence_number, slot->sub_sequence_number,
                             e->sequence_number, e->sub_sequence_number) >= 0) {
      return 0; /* never backwards */
    }
    seq = kefo__mem_strdup(t->mem, e->sequence_number);
    if (seq == NULL) {
      return KEFO_ERR_NOMEM;
    }
    kefo__mem_free(t->mem, slot->sequence_number);
    slot->sequence_number = seq;
    slot->sub_sequence_number = e->sub_sequence_number;
  } else {
    kefo_checkpoint_slot s;
    if (t->n == t->cap) {
      size_t ncap = t->cap ? t->cap * 2 : 16;
      kefo_checkpoint_slot *ns =
          kefo__mem_realloc(t->mem, t->slots, ncap * sizeof(*ns));
      if (ns == NULL) {
        return KEFO_ERR_NOMEM;
      }
      t->slots = ns;
      t->cap = ncap;
    }
    s.shard_id = kefo__mem_strdup(t->mem, e->shard_id);
    s.sequence_number = kefo__mem_strdup(t->mem, e->sequence_number);
    s.sub_sequence_number = e->sub_sequence_number;
    if (s.shard_id == NULL || s.sequence_number == NULL) {
      kefo__mem_free(t->mem, s.shard_id);
      kefo__mem_free(t->mem, s.sequence_number);
      return KEFO_ERR_NOMEM;
    }
    memmove(&t->slots[i + 1], &t->slots[i], (t->n - i) * sizeof(s));
    t->slots[i] = s;
    ++t->n;
    /* The scratch array no longer fits. */
    kefo__mem_free(t->mem, t->entries);
    t->entries = NULL;
  }
  if (changed) {
    *changed = 1;
  }
  return 0;
}

const kefo_checkpoint_slot *
kefo__checkpoint_table_get(const kefo_checkpoint_table *t,
                           const char *shard_id) {
  int found;
  size_t i;

  if (shard_id == NULL || t->n == 0) {
    return NULL;
  }
  i = find(t, shard_id, &found);
  return found ? &t->slots[i] : NULL;
}

const kefo_checkpoint_entry *
kefo__checkpoint_table_entries(kefo_checkpoint_table *t, size_t *n) {
  size_t i;

  *n = 0;
  if (t->n == 0) {
    return NULL;
  }
  if (t->entries == NULL) {
    t->entries = kefo__mem_malloc(t->mem, t->n * sizeof(*t->entries));
    if (t->entries == NULL) {
      return NULL;
    }
  }
  for (i = 0; i < t->n; ++i) {
    t->entries[i].shard_id = t->slots[i].shard_id;
    t->entries[i].sequence_number = t->slots[i].sequence_number;
    t->entries[i].sub_sequence_number = t->slots[i].sub_sequence_number;
  }
  *n = t->n;
  return t->entries;
}

int kefo__checkpoint_table_read(kefo_checkpoint_table *t, kefo_lease_read_cb cb,
                                void *ud) {
  size_t n;
  const kefo_checkpoint_entry *e = kefo__checkpoint_table_entries(t, &n);

  if (e == NULL && t->n > 0) {
    return KEFO_ERR_NOMEM;
  }
  cb(0, "", e, n, ud);
  return 0;
}
