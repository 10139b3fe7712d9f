/*
 * The memory store: checkpoints kept for the life of the store object.
 * An application that creates consumers one after another over the same
 * store (or a test) resumes from them; nothing survives the process.
 */
#include <stdio.h>
#include <string.h>

#include <kefo/kefo.h>

#include "lease/checkpoint_table.h"
#include "lease/lease_store.h"

typedef struct memory_store {
  kefo_lease_store base;
  kefo_checkpoint_table table;
  char *stream_arn;
  char *application;
  int open;
} memory_store;

static int m_open(kefo_lease_store *base, const char *stream_arn,
                  const char *application, kefo_lease_done_cb cb, void *ud) {
  memory_store *s = (memory_store *)base;
  const kefo_mem *mem = s->table.mem;

  if (stream_arn == NULL || application == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (s->stream_arn == NULL) {
    s->stream_arn = kefo__mem_strdup(mem, stream_arn);
    s->application = kefo__mem_strdup(mem, application);
    if (s->stream_arn == NULL || s->application == NULL) {
      return KEFO_ERR_NOMEM;
    }
  } else if (strcmp(s->stream_arn, stream_arn) != 0 ||
             strcmp(s->application, application) != 0) {
    /* One store, one stream and application, as a file or a table. */
    cb(KEFO_ERR_LEASE_STORE,
       "the memory lease store holds another stream's or application's "
       "checkpoints",
       ud);
    return 0;
  }
  s->open = 1;
  cb(0, "", ud);
  return 0;
}

static int m_read(kefo_lease_store *base, kefo_lease_read_cb cb, void *ud) {
  memory_store *s = (memory_store *)base;

  if (!s->open) {
    return KEFO_ERR_INVALID_STATE;
  }
  return kefo__checkpoint_table_read(&s->table, cb, ud);
}

static int m_checkpoint(kefo_lease_store *base, const kefo_checkpoint_entry *e,
                        size_t n, kefo_lease_done_cb cb, void *ud) {
  memory_store *s = (memory_store *)base;
  size_t i;
  int rv;

  if (!s->open) {
    return KEFO_ERR_INVALID_STATE;
  }
  if (kefo__checkpoint_entries_valid(e, n) != 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  for (i = 0; i < n; ++i) {
    rv = kefo__checkpoint_table_put(&s->table, &e[i], NULL);
    if (rv != 0) {
      cb(rv, "cannot store a checkpoint in memory", ud);
      return 0;
    }
  }
  cb(0, "", ud);
  return 0;
}

static void m_del(kefo_lease_store *base) {
  memory_store *s = (memory_store *)base;
  const kefo_mem *mem = s->table.mem;

  kefo__checkpoint_table_free(&s->table);
  kefo__mem_free(mem, s->stream_arn);
  kefo__mem_free(mem, s->application);
  kefo__mem_free(mem, s);
}

/* One worker owns every shard: no lease operations. */
static const kefo_lease_store_ops memory_ops = {
    "memory", m_open, m_read, m_checkpoint, m_del,
    NULL,     NULL,   NULL,   NULL,         NULL};

int kefo__memory_store_new(kefo_lease_store **out, const kefo_mem *mem) {
  memory_store *s;

  if (out == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__mem_or_default(mem);
  s = kefo__mem_calloc(mem, 1, sizeof(*s));
  if (s == NULL) {
    return KEFO_ERR_NOMEM;
  }
  s->base.ops = &memory_ops;
  kefo__checkpoint_table_init(&s->table, mem);
  *out = &s->base;
  return 0;
}

void kefo__lease_store_del(kefo_lease_store *s) {
  if (s) {
    s->ops->del(s);
  }
}
