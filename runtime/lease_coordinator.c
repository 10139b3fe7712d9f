/*
 * The lease coordinator: how workers sharing a DynamoDB lease table
 * divide a stream's shards, as the KCL's lease coordinator does.
 *
 * Every renewal interval (a third of the lease duration unless set) this
 * worker renews the leases it holds; twice as often it lists the table,
 * creates the leases of shards that have none, and takes leases while it
 * holds fewer than a fair share (the active leases divided by the live workers,
 * rounded up, at most source.lease.max-leases-per-worker):
 *
 * - expired leases first: nobody's, or a lease whose counter this worker
 *   has seen stand still for a lease duration. Expiry is judged on this
 *   worker's own clock from when it saw the counter change, never by
 *   comparing clocks across hosts;
 * - then, while still below its share, leases stolen from the most
 *   loaded worker holding more than its share.
 *
 * A lease is taken only when its shard may start (every parent finished,
 * as the shard graph says, which learns other workers' SHARD_END from
 * the table). A renewal that finds the lease changed means another worker
 * has it: the reader stops at once, without a checkpoint. A lease whose
 * renewals fail for a whole lease duration is given up the same way,
 * because another worker may take it from then on.
 *
 * Leases of child shards are created when a parent ends (from its
 * ChildShards, through the graph) and by discovery; creation is
 * conditional, so workers racing to create one are harmless.
 *
 * The rules above are decided in lease/lease_policy.c, I/O-free; this
 * file makes the store calls, runs the timer and feeds the policy what
 * the table, the store and the shard graph say.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "lease/lease_policy.h"
#include "runtime/consumer_internal.h"

/* The rules live in lease/lease_policy.c; this file does their I/O. */
typedef kefo_lease_policy_view lease_view;

/* One call in flight, so the answer finds its lease by shard id (the view
   array may move) and the coordinator can free what never answers. */
typedef struct coord_call {
  struct coord_call *next, *prev;
  struct kefo_lease_coord *co;
  char shard[KEFO_SHARD_ID_CAP];
} coord_call;

typedef struct kefo_lease_coord {
  kefo_consumer *c;
  kefo_lease_policy pol; /* the views, and what to do with them */
  /* Lists every half renewal interval, so a lease that stopped being
     renewed is taken within a lease duration and one renewal interval
     of the last renewal (seen up to half an interval late, taken up to
     half an interval after it expires). */
  struct event *timer;
  int listing;
  coord_call *calls;
  /* Stopping: releases still out, and what runs after them. */
  void (*then)(kefo_consumer *c);
  int releasing;
  size_t releases_out;
  /* Takes in flight: the stop's releases wait for them, as a take
     answered after the releases went out would leave its lease owned by
     a worker that is gone until it expires. */
  size_t takes_out;
} kefo_lease_coord;

static int64_t now_ms(kefo_lease_coord *co) {
  return kefo__consumer_now_ms(co->c);
}

static lease_view *find(kefo_lease_coord *co, const char *shard) {
  return kefo__lease_policy_find(&co->pol, shard);
}

static coord_call *call_new(kefo_lease_coord *co, const char *shard) {
  coord_call *k = kefo__mem_calloc(co->c->mem, 1, sizeof(*k));

  if (k == NULL) {
    return NULL;
  }
  k->co = co;
  snprintf(k->shard, sizeof(k->shard), "%s", shard);
  k->next = co->calls;
  if (co->calls) {
    co->calls->prev = k;
  }
  co->calls = k;
  return k;
}

static void call_free(coord_call *k) {
  kefo_lease_coord *co = k->co;

  if (k->prev) {
    k->prev->next = k->next;
  } else {
    co->calls = k->next;
  }
  if (k->next) {
    k->next->prev = k->prev;
  }
  kefo__mem_free(co->c->mem, k);
}

/* This worker no longer holds |v|: its reader stops at once. A takeover
   is the normal course of rebalancing (|why| NULL: the shard event says
   it); a lease given up because renewals kept failing is an error. */
static void lose(kefo_lease_coord *co, lease_view *v, const char *why) {
  char shard[KEFO_SHARD_ID_CAP];

  v->held = 0;
  snprintf(shard, sizeof(shard), "%s", v->shard);
  if (why) {
    KEFO_LOG(&co->c->log, KEFO_LOG_ERROR, "lease.lost", shard,
             "lease given up: renewals failed for a whole lease duration "
             "(last: %s); the shard stops here",
             why);
  } else {
    /* A renewal refused for a moved counter does not say who took it:
       the view may still name this worker. */
    int known = v->owner[0] && strcmp(v->owner, co->c->worker_id) != 0;
    KEFO_LOG(&co->c->log, KEFO_LOG_WARN, "lease.stolen", shard,
             "lease taken over by %s (counter %lld): the shard stops here",
             known ? v->owner : "another worker", (long long)v->counter);
  }
  if (why) {
    kefo__consumer_report(co->c, KEFO_ERR_LEASE_LOST, shard, NULL, why);
  } else {
    /* Not reported as an error, but counted as one: an operator sees
       leases moving away from this worker (the report above counts
       itself). */
    ++co->c->counters.errors[KEFO_METRIC_ERR_LEASE_LOST];
  }
  kefo__consumer_drop_reader(co->c, shard);
}

/* ---- renewals ------------------------------------------------------------ */

static void on_renewed(int error, const char *message, const kefo_lease *l,
                       void *ud) {
  coord_call *k = ud;
  kefo_lease_coord *co = k->co;
  lease_view *v = find(co, k->shard);

  call_free(k);
  if (v == NULL) {
    return;
  }
  switch (kefo__lease_policy_renewed(&co->pol, v, error,
                                     error == 0 ? l->counter : 0, now_ms(co))) {
  case KEFO_LEASE_POLICY_KEEP:
    if (error) {
      KEFO_LOG(&co->c->log, KEFO_LOG_WARN, "lease.renew_failed", v->shard,
               "lease renewal failed: %s: %s; tried again in %lld ms",
               kefo_strerror(error), message ? message : "",
               (long long)co->pol.renew_ms);
    } else {
      KEFO_LOG(&co->c->log, KEFO_LOG_DEBUG, "lease.renewed", v->shard,
               "lease renewed (counter %lld)", (long long)v->counter);
    }
    break;
  case KEFO_LEASE_POLICY_LOST:
    lose(co, v, NULL);
    break;
  case KEFO_LEASE_POLICY_GIVE_UP:
    /* From now on another worker may take it as expired. */
    lose(co, v, message);
    break;
  }
}

static void renew_all(kefo_lease_coord *co) {
  kefo_lease_store *s = co->c->store;
  size_t i;

  for (i = 0; i < co->pol.n; ++i) {
    lease_view *v = &co->pol.v[i];
    coord_call *k;
    if (!kefo__lease_policy_should_renew(v)) {
      continue;
    }
    k = call_new(co, v->shard);
    if (k == NULL) {
      return;
    }
    v->busy = 1;
    if (s->ops->renew(s, v->shard, v->counter, on_renewed, k) != 0) {
      v->busy = 0;
      call_free(k);
    }
  }
}

/* ---- taking -------------------------------------------------------------- */

static void release_if_stopping(kefo_lease_coord *co);

static void on_taken(int error, const char *message, const kefo_lease *l,
                     void *ud) {
  coord_call *k = ud;
  kefo_lease_coord *co = k->co;
  kefo_consumer *c = co->c;
  lease_view *v = find(co, k->shard);
  kefo_checkpoint_entry e;
  char before[KEFO_LEASE_POLICY_OWNER_CAP];

  call_free(k);
  --co->takes_out;
  if (v == NULL) {
    release_if_stopping(co);
    return;
  }
  snprintf(before, sizeof(before), "%s", v->owner);
  if (error) {
    KEFO_LOG(&c->log, KEFO_LOG_INFO, "lease.take_failed", v->shard,
             "lease not taken: %s: %s", kefo_strerror(error),
             message ? message : "");
  }
  /* Stopping, it is held but not started: released with the others. A
     failed take means another worker was first: the next listing shows
     it. */
  if (!kefo__lease_policy_taken(&co->pol, v, error, error ? NULL : l->owner,
                                error ? 0 : l->counter, now_ms(co),
                                c->state == C_RUNNING)) {
    release_if_stopping(co);
    return;
  }
  KEFO_LOG(&c->log, KEFO_LOG_INFO, "lease.taken", l->shard_id,
           "lease taken (counter %lld, from %s, checkpoint %s)",
           (long long)l->counter, before[0] ? before : "nobody",
           l->checkpoint[0] ? l->checkpoint : "none");
  /* Start from the previous owner's checkpoint. */
  if (kefo__checkpoint_valid(l->checkpoint)) {
    e.shard_id = l->shard_id;
    e.sequence_number = l->checkpoint;
    e.sub_sequence_number = l->sub_sequence_number;
    if (kefo__checkpoint_table_put(&c->initial, &e, NULL) != 0 ||
        kefo__shard_graph_apply_checkpoint(c->graph, l->shard_id,
                                           l->checkpoint) != 0) {
      kefo__consumer_report(c, KEFO_ERR_NOMEM, l->shard_id, NULL,
                            "cannot apply a lease's checkpoint");
    }
  }
  kefo__consumer_start_ready(c);
}

static int take(kefo_lease_coord *co, lease_view *v) {
  kefo_lease_store *s = co->c->store;
  coord_call *k = call_new(co, v->shard);

  if (k == NULL) {
    return -1;
  }
  v->busy = 1;
  if (s->ops->take(s, v->shard, v->counter, on_taken, k) != 0) {
    v->busy = 0;
    call_free(k);
    return -1;
  }
  ++co->takes_out;
  return 0;
}

/* Tells the policy what this worker's graph knows of each lease's shard:
   whether it counts towards the shares, and whether it may start. */
static void graph_states(kefo_lease_coord *co) {
  size_t i;

  for (i = 0; i < co->pol.n; ++i) {
    lease_view *v = &co->pol.v[i];
    kefo_shard_info info;
    int known = kefo__shard_graph_get(co->c->graph, v->shard, &info) == 0;
    v->in_stream = known && info.state != KEFO_SHARD_GONE;
    v->ready = known && info.state == KEFO_SHARD_READY;
  }
}

static void balance(kefo_lease_coord *co) {
  kefo_lease_policy_round r;
  lease_view *v;

  graph_states(co);
  kefo__lease_policy_round_begin(&co->pol, now_ms(co), &r);
  while ((v = kefo__lease_policy_round_next(&co->pol, &r)) != NULL) {
    if (take(co, v) == 0) {
      kefo__lease_policy_round_took(&r);
    }
  }
}

/* ---- listing ------------------------------------------------------------- */

static void on_created(int error, const char *message, void *ud) {
  coord_call *k = ud;
  kefo_consumer *c = k->co->c;

  if (error) {
    kefo__consumer_report(c, error, k->shard, NULL, message);
  }
  call_free(k);
}

/* Creates the lease of a shard the graph knows and the table does not. */
static int create_missing(const kefo_shard_info *info, void *ud) {
  kefo_lease_coord *co = ud;
  kefo_lease_store *s = co->c->store;
  lease_view *v = find(co, info->shard_id);
  kefo_lease l;
  coord_call *k;

  if ((v && v->in_table) || info->state == KEFO_SHARD_GONE ||
      info->state == KEFO_SHARD_FINISHED) {
    return 0;
  }
  memset(&l, 0, sizeof(l));
  l.shard_id = info->shard_id;
  l.owner = "";
  /* The KCL's starting sentinel; kefo itself starts a shard without a
     checkpoint where the graph says (the initial position, or
     TRIM_HORIZON after its parents). */
  l.checkpoint =
      info->start == KEFO_SHARD_START_INITIAL &&
              kefo__config_get_enum(co->c->cfg, KEFO_CFG_INIT_POSITION) ==
                  KEFO_POSITION_LATEST
          ? "LATEST"
      : info->start == KEFO_SHARD_START_INITIAL &&
              kefo__config_get_enum(co->c->cfg, KEFO_CFG_INIT_POSITION) ==
                  KEFO_POSITION_AT_TIMESTAMP
          ? "AT_TIMESTAMP"
          : "TRIM_HORIZON";
  if (info->parent_shard_id) {
    l.parents[l.nparents++] = info->parent_shard_id;
  }
  if (info->adjacent_parent_shard_id) {
    l.parents[l.nparents++] = info->adjacent_parent_shard_id;
  }
  k = call_new(co, info->shard_id);
  if (k && s->ops->create(s, &l, on_created, k) != 0) {
    call_free(k);
  }
  return 0;
}

static void on_listed(int error, const char *message, const kefo_lease *l,
                      size_t n, void *ud) {
  kefo_lease_coord *co = ud;
  kefo_consumer *c = co->c;
  int64_t now = now_ms(co);
  size_t i;

  co->listing = 0;
  if (error) {
    kefo__consumer_report(c, error, NULL, NULL, message);
    return;
  }
  kefo__lease_policy_list_begin(&co->pol);
  for (i = 0; i < n; ++i) {
    lease_view *v;
    int lost;
    if (kefo__lease_policy_listed(&co->pol, &l[i], now, &v, &lost) != 0) {
      kefo__consumer_report(c, KEFO_ERR_NOMEM, NULL, NULL,
                            "cannot keep the lease table's view");
      return;
    }
    if (lost) {
      lose(co, v, NULL);
    }
    /* Another worker's SHARD_END: the children may start. */
    if (strcmp(l[i].checkpoint, KEFO_CHECKPOINT_SHARD_END) == 0) {
      kefo__lease_policy_end_seen(v);
      if (kefo__shard_graph_apply_checkpoint(c->graph, l[i].shard_id,
                                             l[i].checkpoint) != 0) {
        kefo__consumer_report(c, KEFO_ERR_NOMEM, l[i].shard_id, NULL,
                              "cannot apply a lease's checkpoint");
      }
    }
  }
  if (c->state != C_RUNNING) {
    return;
  }
  kefo__shard_graph_each(c->graph, create_missing, co);
  balance(co);
  kefo__consumer_start_ready(c);
}

static void list(kefo_lease_coord *co) {
  kefo_lease_store *s = co->c->store;

  if (co->listing || co->c->state != C_RUNNING) {
    return;
  }
  co->listing = 1;
  if (s->ops->list(s, on_listed, co) != 0) {
    co->listing = 0;
  }
}

static void tick(evutil_socket_t fd, short what, void *arg) {
  kefo_lease_coord *co = arg;
  struct timeval tv;

  (void)fd;
  (void)what;
  if (co->c->state != C_RUNNING) {
    return;
  }
  if (kefo__lease_policy_renew_due(&co->pol, now_ms(co))) {
    renew_all(co);
  }
  list(co);
  kefo__timeval_ms(&tv, co->pol.renew_ms / 2);
  event_add(co->timer, &tv);
}

/* ---- the consumer's calls --------------------------------------------------
 */

int kefo__coord_new(kefo_consumer *c) {
  kefo_lease_coord *co;
  int64_t duration_ms, renew_ms;
  int rv;

  if (c->store->ops->list == NULL) {
    return 0; /* one worker: every shard is this one's */
  }
  co = kefo__mem_calloc(c->mem, 1, sizeof(*co));
  if (co == NULL) {
    return KEFO_ERR_NOMEM;
  }
  co->c = c;
  duration_ms = kefo__config_get_ms(c->cfg, KEFO_CFG_LEASE_DURATION);
  renew_ms = kefo_config_is_set(c->cfg, KEFO_CFG_LEASE_RENEWAL_INTERVAL)
                 ? kefo__config_get_ms(c->cfg, KEFO_CFG_LEASE_RENEWAL_INTERVAL)
                 : duration_ms / 3;
  rv = kefo__lease_policy_init(
      &co->pol, c->mem, c->worker_id, duration_ms, renew_ms,
      kefo__config_get_int(c->cfg, KEFO_CFG_LEASE_MAX_PER_WORKER));
  if (rv != 0) {
    kefo__mem_free(c->mem, co);
    return rv;
  }
  co->timer = event_new(c->base, -1, 0, tick, co);
  c->coord = co;
  return co->timer ? 0 : KEFO_ERR_NOMEM;
}

void kefo__coord_start(kefo_consumer *c) {
  if (c->coord) {
    event_active(c->coord->timer, 0, 0);
  }
}

void kefo__coord_poke(kefo_consumer *c) {
  if (c->coord) {
    list(c->coord);
  }
}

int kefo__coord_holds(kefo_consumer *c, const char *shard_id) {
  lease_view *v;

  if (c->coord == NULL) {
    return 1;
  }
  v = find(c->coord, shard_id);
  return v != NULL && v->held;
}

void kefo__coord_finished(kefo_consumer *c, const char *shard_id) {
  lease_view *v;

  if (c->coord == NULL) {
    return;
  }
  v = find(c->coord, shard_id);
  if (v) {
    kefo__lease_policy_end_reached(v); /* no more renewals */
  }
  list(c->coord); /* the children's leases */
}

static void released(kefo_lease_coord *co) {
  void (*then)(kefo_consumer *) = co->then;

  co->then = NULL;
  if (then) {
    then(co->c);
  }
}

static void on_released(int error, const char *message, void *ud) {
  coord_call *k = ud;
  kefo_lease_coord *co = k->co;

  if (error) {
    kefo__consumer_report(co->c, error, k->shard, NULL, message);
  } else {
    KEFO_LOG(&co->c->log, KEFO_LOG_INFO, "lease.released", k->shard,
             "lease released at a graceful stop");
  }
  call_free(k);
  if (--co->releases_out == 0) {
    released(co);
  }
}

/* Releases every held lease once no checkpoint is in flight. */
static void release_all(kefo_lease_coord *co) {
  kefo_lease_store *s = co->c->store;
  size_t i;

  if (co->releasing || co->c->cp_inflight > 0 || co->takes_out > 0) {
    return;
  }
  co->releasing = 1;
  co->releases_out = 1; /* dropped below, once every call is out */
  for (i = 0; i < co->pol.n; ++i) {
    lease_view *v = &co->pol.v[i];
    coord_call *k;
    if (!kefo__lease_policy_release(v)) {
      continue;
    }
    k = call_new(co, v->shard);
    if (k == NULL) {
      break;
    }
    ++co->releases_out;
    if (s->ops->release(s, v->shard, v->counter, on_released, k) != 0) {
      --co->releases_out;
      call_free(k);
    }
  }
  if (--co->releases_out == 0) {
    released(co);
  }
}

/* A graceful stop waiting for takes in flight goes on after the last. */
static void release_if_stopping(kefo_lease_coord *co) {
  if (co->then && co->takes_out == 0) {
    release_all(co);
  }
}

void kefo__coord_stop(kefo_consumer *c, void (*then)(kefo_consumer *c)) {
  kefo_lease_coord *co = c->coord;

  if (co == NULL) {
    if (then) {
      then(c);
    }
    return;
  }
  event_del(co->timer);
  co->then = then;
  if (then) {
    release_all(co);
  }
}

int kefo__coord_others_alive(kefo_consumer *c) {
  kefo_lease_coord *co = c->coord;

  if (co == NULL) {
    return 0;
  }
  return kefo__lease_policy_others_alive(&co->pol, now_ms(co));
}

void kefo__coord_checkpoints_done(kefo_consumer *c) {
  if (c->coord && c->coord->then) {
    release_all(c->coord);
  }
}

void kefo__coord_free(kefo_consumer *c) {
  kefo_lease_coord *co = c->coord;

  if (co == NULL) {
    return;
  }
  /* The store was freed first: these calls never answer. */
  while (co->calls) {
    call_free(co->calls);
  }
  if (co->timer) {
    event_free(co->timer);
  }
  kefo__lease_policy_free(&co->pol);
  kefo__mem_free(c->mem, co);
  c->coord = NULL;
}

size_t kefo__coord_leases_held(kefo_consumer *c) {
  size_t i, n = 0;

  if (c->coord == NULL) {
    return 0;
  }
  for (i = 0; i < c->coord->pol.n; ++i) {
    n += c->coord->pol.v[i].held != 0;
  }
  return n;
}
