/*
 * Checkpoints: the application's (kefo_checkpoint) and the automatic
 * ones (every checkpoint interval, at a graceful stop, at a shard's end),
 * written to the lease store in batches and applied when it answers.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <kefo/kefo.h>

#include "runtime/consumer_internal.h"

/*
 * One checkpoint write in flight: copies of what was asked, so the
 * outcome can be applied whenever the store answers (at once for the
 * file and memory stores, later for the DynamoDB table). Kept in a list so
 * the consumer can free those whose answer never comes (the store was
 * freed first).
 */
typedef struct cp_req {
  struct cp_req *next, *prev;
  kefo_consumer *c;
  /* While the caller still waits (a store that answers at once): where
     to put the outcome. */
  int *done;
  int *error;
  int64_t asked_ms; /* for the latency histogram */
  size_t n;
  struct {
    char shard[KEFO_SHARD_ID_CAP];
    char seq[KEFO_SEQ_MAX];
    uint64_t sub;
  } e[];
} cp_req;

static void cp_req_free(kefo_consumer *c, cp_req *q) {
  if (q->prev) {
    q->prev->next = q->next;
  } else {
    c->cp_reqs = q->next;
  }
  if (q->next) {
    q->next->prev = q->prev;
  }
  --c->cp_inflight;
  kefo__mem_free(c->mem, q);
}

static kefo_shard_slot *find_reader(kefo_consumer *c, const char *shard_id) {
  kefo_shard_slot *r;

  for (r = c->readers; r; r = r->next) {
    if (strcmp(r->shard_id, shard_id) == 0) {
      return r;
    }
  }
  return NULL;
}

/*
 * find_reader for a batch whose entries were taken in the readers' list
 * order (checkpoint_delivered): each is looked for from just after the
 * previous one's reader, wrapping around, so that a batch of every
 * shard is one pass, not a quadratic scan (5,000 shards: 12.5 million
 * compares, a stall of the loop seen as a latency tail every checkpoint
 * interval). |*hint| must be a reader of |c| or NULL.
 */
static kefo_shard_slot *find_reader_from(kefo_consumer *c,
                                         kefo_shard_slot **hint,
                                         const char *shard_id) {
  kefo_shard_slot *start = *hint ? *hint : c->readers, *r = start;

  if (r == NULL) {
    return NULL;
  }
  do {
    if (strcmp(r->shard_id, shard_id) == 0) {
      *hint = r->next;
      return r;
    }
    r = r->next ? r->next : c->readers;
  } while (r != start);
  return NULL;
}

static void on_stored(int error, const char *message, void *ud) {
  cp_req *q = ud;
  kefo_consumer *c = q->c;
  kefo_shard_slot *r, *hint = NULL;
  size_t i;

  if (q->done) {
    *q->done = 1;
    *q->error = error;
  }
  kefo__metrics_checkpoint(c, q->n, error,
                           kefo__consumer_now_ms(c) - q->asked_ms);
  if (error) {
    KEFO_LOG(&c->log, KEFO_LOG_WARN, "checkpoint.failed",
             q->n == 1 ? q->e[0].shard : NULL,
             "checkpoint of %zu shard(s) not stored: %s: %s; the next "
             "checkpoint covers it",
             q->n, kefo_strerror(error), message ? message : "");
    kefo__consumer_report(c, error, q->n == 1 ? q->e[0].shard : NULL, NULL,
                          message);
  } else {
    KEFO_LOG(&c->log, KEFO_LOG_DEBUG, "checkpoint.stored",
             q->n == 1 ? q->e[0].shard : NULL,
             "checkpoint of %zu shard(s) stored", q->n);
    /* What the store now holds: never moved backwards here either. */
    for (i = 0; i < q->n; ++i) {
      r = find_reader_from(c, &hint, q->e[i].shard);
      if (r &&
          (!r->saved[0] || kefo__checkpoint_cmp(q->e[i].seq, q->e[i].sub,
                                                r->saved, r->saved_sub) > 0)) {
        snprintf(r->saved, sizeof(r->saved), "%s", q->e[i].seq);
        r->saved_sub = q->e[i].sub;
      }
    }
  }
  cp_req_free(c, q);
  if (c->state == C_STOPPING && c->cp_inflight == 0) {
    kefo__coord_checkpoints_done(c);
  }
}

/* Asks the store to keep |n| checkpoints. Returns 0 (an outcome coming
   later is reported through on_error), or the store's error when it
   answered at once (reported too). */
static int store_batch(kefo_consumer *c, const kefo_checkpoint_entry *e,
                       size_t n) {
  cp_req *q = kefo__mem_calloc(c->mem, 1, sizeof(*q) + n * sizeof(q->e[0]));
  int done = 0, error = 0, rv;
  size_t i;

  if (q == NULL) {
    kefo__consumer_report(c, KEFO_ERR_NOMEM, NULL, NULL,
                          "cannot store a checkpoint");
    return KEFO_ERR_NOMEM;
  }
  q->c = c;
  q->n = n;
  q->asked_ms = kefo__consumer_now_ms(c);
  q->done = &done;
  q->error = &error;
  for (i = 0; i < n; ++i) {
    snprintf(q->e[i].shard, sizeof(q->e[i].shard), "%s", e[i].shard_id);
    snprintf(q->e[i].seq, sizeof(q->e[i].seq), "%s", e[i].sequence_number);
    q->e[i].sub = e[i].sub_sequence_number;
  }
  q->next = c->cp_reqs;
  if (c->cp_reqs) {
    c->cp_reqs->prev = q;
  }
  c->cp_reqs = q;
  ++c->cp_inflight;
  rv = c->store->ops->checkpoint(c->store, e, n, on_stored, q);
  if (rv != 0) {
    cp_req_free(c, q);
    kefo__consumer_report(c, rv, NULL, NULL, "cannot store a checkpoint");
    return rv;
  }
  if (!done) {
    q->done = NULL; /* it answers later, when this frame is gone */
    q->error = NULL;
  }
  return error;
}

/* Asks the store to keep |seq| / |sub| for |r|'s shard. */
int kefo__consumer_store_checkpoint(kefo_consumer *c, kefo_shard_slot *r,
                                    const char *seq, uint64_t sub) {
  kefo_checkpoint_entry e;

  e.shard_id = r->shard_id;
  e.sequence_number = seq;
  e.sub_sequence_number = sub;
  return store_batch(c, &e, 1);
}

/* A reader whose delivered records are not all checkpointed (a finished
   shard's SHARD_END is stored at its end). */
static int behind_store(const kefo_shard_slot *r) {
  return r->delivered[0] && r->state != R_FINISHED &&
         (!r->saved[0] || kefo__checkpoint_cmp(r->delivered, r->delivered_sub,
                                               r->saved, r->saved_sub) > 0);
}

/* Checkpoints every reader's delivered records not yet checkpointed, in
   one batch (one file write). */
void kefo__consumer_checkpoint_delivered(kefo_consumer *c) {
  size_t n = 0;
  kefo_shard_slot *r;

  for (r = c->readers; r; r = r->next) {
    if (!behind_store(r)) {
      continue;
    }
    if (kefo__mem_grow(c->mem, (void **)&c->batch, n, &c->batch_cap,
                       sizeof(*c->batch)) != 0) {
      break; /* the rest go at the next interval */
    }
    c->batch[n].shard_id = r->shard_id;
    c->batch[n].sequence_number = r->delivered;
    c->batch[n].sub_sequence_number = r->delivered_sub;
    ++n;
  }
  if (n > 0) {
    store_batch(c, c->batch, n); /* a failure is tried again next time */
  }
}

void kefo__consumer_cp_timer_cb(evutil_socket_t fd, short what, void *arg) {
  kefo_consumer *c = arg;
  struct timeval tv;

  (void)fd;
  (void)what;
  if (c->state != C_RUNNING) {
    return;
  }
  kefo__consumer_checkpoint_delivered(c);
  kefo__timeval_ms(&tv, c->cp_interval_ms);
  event_add(c->cp_timer, &tv);
}

int kefo_checkpoint(kefo_consumer *c, const char *shard_id,
                    const char *sequence_number, uint64_t sub_sequence) {
  kefo_shard_slot *r;

  if (c == NULL || shard_id == NULL || !kefo__seq_valid(sequence_number)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (c->state != C_RUNNING && c->state != C_STOPPING) {
    return KEFO_ERR_INVALID_STATE;
  }
  r = find_reader(c, shard_id);
  if (r == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  if (r == c->in_records) {
    /* Inside on_records: any record lent so far, up to the last one the
       application still takes (kefo_consumer_stop_after). */
    const kefo_record *last = c->taken ? &c->lent[c->taken - 1] : NULL;
    if ((last == NULL || kefo__checkpoint_cmp(sequence_number, sub_sequence,
                                              last->sequence_number,
                                              last->sub_sequence_number) > 0) &&
        (!r->delivered[0] ||
         kefo__checkpoint_cmp(sequence_number, sub_sequence, r->delivered,
                              r->delivered_sub) > 0)) {
      return KEFO_ERR_INVALID_ARGUMENT; /* not lent (yet) */
    }
  } else if (!r->delivered[0] ||
             kefo__checkpoint_cmp(sequence_number, sub_sequence, r->delivered,
                                  r->delivered_sub) > 0) {
    return KEFO_ERR_INVALID_ARGUMENT; /* not delivered (yet) */
  }
  if (r->saved[0] && kefo__checkpoint_cmp(sequence_number, sub_sequence,
                                          r->saved, r->saved_sub) <= 0) {
    return 0; /* older than what is stored: never backwards */
  }
  return kefo__consumer_store_checkpoint(c, r, sequence_number, sub_sequence);
}

void kefo__consumer_checkpoints_free(kefo_consumer *c) {
  while (c->cp_reqs) {
    cp_req_free(c, c->cp_reqs);
  }
}
