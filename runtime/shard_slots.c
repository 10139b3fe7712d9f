/*
 * The consumer's shards being read: one slot per started shard, its
 * reader created through the reader contract (shard/reader.h), and the
 * host table through which that reader reports (records, the shard's
 * end, failures). Children start as their parents finish.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <kefo/kefo.h>

#include "runtime/consumer_internal.h"

/* The host table of shard/reader.h: what a reader tells the consumer
   about its shard (|slot| is the kefo_shard_slot). */

static int host_deliver(void *slot, const kefo_wire_record *records, size_t n,
                        int skip, int64_t behind) {
  kefo_shard_slot *r = slot;
  return kefo__consumer_deliver(r->c, r, records, n, skip, behind);
}

static const char *const *
host_sequence_numbers(void *slot, const kefo_wire_record *records, size_t n) {
  kefo_shard_slot *r = slot;
  return kefo__consumer_sequence_numbers(r->c, records, n);
}

static void host_finished(void *slot, const cJSON *children) {
  kefo_shard_slot *r = slot;
  kefo_consumer *c = r->c;

  if (c->state != C_RUNNING) {
    /* The end came with records that a stop left unread (or read as the
       stop was asked): the checkpoint covers the last record finished
       with, and the next run finds the end after it. */
    return;
  }
  r->state = R_FINISHED;
  kefo__alignment_reader_done(r);
  kefo__shard_graph_shard_finished(c->graph, r->shard_id, children);
  /* At once, not at the next interval: after a restart the children
     must start without this shard being read again. */
  kefo__consumer_store_checkpoint(c, r, KEFO_CHECKPOINT_SHARD_END, 0);
  kefo__coord_finished(c, r->shard_id);
  kefo__consumer_log_finished(c, r->shard_id, children);
  kefo__consumer_shard_event(c, r->shard_id, KEFO_SHARD_EVENT_FINISHED);
  kefo__consumer_start_ready(c);
}

static void host_failed(void *slot) {
  kefo_shard_slot *r = slot;

  r->state = R_FAILED;
  kefo__alignment_reader_done(r);
  kefo__consumer_shard_event(r->c, r->shard_id, KEFO_SHARD_EVENT_FAILED);
}

static void host_report(void *slot, int code, const kefo_error_info *info,
                        const char *message) {
  kefo_shard_slot *r = slot;
  kefo__consumer_report(r->c, code, r->shard_id, info, message);
}

static void host_report_failure(void *slot, int code,
                                const kefo_error_info *info, int retryable) {
  kefo_shard_slot *r = slot;
  r->failed_since_sub = 1;
  kefo__consumer_report_failure(r->c, code, r->shard_id, info, retryable);
}

static void host_resubscribed(void *slot) {
  kefo_shard_slot *r = slot;

  ++r->stats.resubscribes;
  ++r->c->counters.subscriptions;
  if (r->failed_since_sub) {
    ++r->c->counters.resubscribes_after_error;
  } else {
    ++r->c->counters.renewals;
  }
  r->failed_since_sub = 0;
  kefo__consumer_shard_event(r->c, r->shard_id, KEFO_SHARD_EVENT_RESUBSCRIBED);
}

static void host_stop(void *slot) {
  kefo_shard_slot *r = slot;
  kefo_consumer_stop(r->c, 0);
}

static int host_running(void *slot) {
  kefo_shard_slot *r = slot;
  return r->c->state == C_RUNNING;
}

static int host_reading(void *slot) {
  kefo_shard_slot *r = slot;
  return r->c->state == C_RUNNING && r->state == R_READING;
}

static size_t host_hot_state(void *slot, const void **addrs, size_t cap) {
  kefo_shard_slot *r = slot;
  const void *hot[] = {r, &r->delivered, &r->resume_filter};
  size_t i, n = sizeof(hot) / sizeof(hot[0]);

  n = n < cap ? n : cap;
  for (i = 0; i < n; ++i) {
    addrs[i] = hot[i];
  }
  return n;
}

static const kefo_reader_host reader_host = {
    host_deliver, host_sequence_numbers, host_finished,     host_failed,
    host_report,  host_report_failure,   host_resubscribed, host_stop,
    host_running, host_reading,          host_hot_state};

void kefo__consumer_reader_paused(kefo_shard_slot *r) {
  if (r->reader) {
    r->reader->ops->set_paused(r->reader, r->paused,
                               kefo__consumer_now_ms(r->c) - r->paused_at_ms);
  }
}

void kefo__consumer_slot_free(kefo_consumer *c, kefo_shard_slot *r) {
  if (r->reader) {
    r->reader->ops->del(r->reader);
  }
  kefo__mem_free(c->mem, r);
}

/* Creates |r|'s reader of the consumer's type, reading from |type| /
   |value|. */
static int reader_create(kefo_consumer *c, kefo_shard_slot *r, const char *type,
                         const char *value) {
  kefo_shard_reader base;

  base.ops = c->reader_ops;
  base.env = &c->reader_env;
  base.host = &reader_host;
  base.slot = r;
  base.shard_id = r->shard_id;
  base.stats = &r->stats;
  return c->reader_ops->create(&r->reader, &base, type, value);
}

static int start_one(const kefo_shard_info *info, void *ud) {
  kefo_consumer *c = ud;
  kefo_shard_slot *r = kefo__mem_calloc(c->mem, 1, sizeof(*r));
  const kefo_checkpoint_slot *cp =
      kefo__checkpoint_table_get(&c->initial, info->shard_id);
  const char *type = "TRIM_HORIZON", *value = NULL;
  char ts[32] = "";

  if (!kefo__coord_holds(c, info->shard_id)) {
    kefo__mem_free(c->mem, r);
    return 0; /* another worker's, or nobody's yet */
  }
  if (r == NULL) {
    return -1;
  }
  if (cp != NULL && kefo__seq_valid(cp->sequence_number)) {
    /* A checkpoint wins over the initial position. */
    type = "AT_SEQUENCE_NUMBER";
    value = cp->sequence_number;
    r->resume_filter = 1;
    snprintf(r->resume, sizeof(r->resume), "%s", cp->sequence_number);
    r->resume_sub = cp->sub_sequence_number;
    snprintf(r->delivered, sizeof(r->delivered), "%s", cp->sequence_number);
    r->delivered_sub = cp->sub_sequence_number;
    snprintf(r->saved, sizeof(r->saved), "%s", cp->sequence_number);
    r->saved_sub = cp->sub_sequence_number;
  } else if (info->start == KEFO_SHARD_START_INITIAL) {
    switch (kefo__config_get_enum(c->cfg, KEFO_CFG_INIT_POSITION)) {
    case KEFO_POSITION_LATEST:
      type = "LATEST";
      break;
    case KEFO_POSITION_AT_TIMESTAMP:
      type = "AT_TIMESTAMP";
      snprintf(
          ts, sizeof(ts), "%.3f",
          (double)kefo__config_get_time_ms(c->cfg, KEFO_CFG_INIT_TIMESTAMP) /
              1000.0);
      value = ts;
      break;
    default:
      break;
    }
  }
  r->c = c;
  snprintf(r->shard_id, sizeof(r->shard_id), "%s", info->shard_id);
  /* The graph holds ids of at most 128 characters: never cut short. */
  if (reader_create(c, r, type, value) != 0) {
    kefo__consumer_slot_free(c, r);
    return -1;
  }
  r->stats.shard_id = r->shard_id;
  r->stats.millis_behind_latest = -1;
  kefo__alignment_reader_started(r);
  r->next = c->readers;
  c->readers = r;
  kefo__shard_graph_shard_started(c->graph, info->shard_id);
  kefo__consumer_shard_event(c, info->shard_id, KEFO_SHARD_EVENT_STARTED);
  ++c->counters.subscriptions; /* the first; later ones: resubscribed */
  r->reader->ops->kick(r->reader);
  return 0;
}

static int announce_one(const kefo_shard_info *info, void *ud) {
  kefo__consumer_shard_event(ud, info->shard_id, KEFO_SHARD_EVENT_DISCOVERED);
  return 0;
}

void kefo__consumer_drop_reader(kefo_consumer *c, const char *shard_id) {
  kefo_shard_slot **pr, *r;

  for (pr = &c->readers; (r = *pr) != NULL; pr = &r->next) {
    if (strcmp(r->shard_id, shard_id) == 0) {
      break;
    }
  }
  if (r == NULL) {
    return;
  }
  *pr = r->next;
  if (r->state == R_READING) {
    kefo__shard_graph_shard_released(c->graph, shard_id);
  }
  kefo__alignment_reader_done(r);
  kefo__consumer_slot_free(c, r);
  kefo__consumer_shard_event(c, shard_id, KEFO_SHARD_EVENT_LEASE_LOST);
}

void kefo__consumer_start_ready(kefo_consumer *c) {
  /* Every shard learnt since the last time, before any of them starts. */
  kefo__shard_graph_new_each(c->graph, announce_one, c);
  if (c->state == C_RUNNING &&
      kefo__shard_graph_ready_each(c->graph, start_one, c) != 0) {
    kefo__consumer_report(c, KEFO_ERR_NOMEM, NULL, NULL,
                          "cannot start a shard reader");
  }
}
