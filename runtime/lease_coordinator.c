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
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "runtime/consumer_internal.h"

typedef struct lease_view {
  char shard[KEFO_SHARD_ID_CAP];
  char owner[257];
  int64_t counter;
  int64_t changed_ms; /* when this worker saw the counter change */
  int64_t renewed_ms; /* held: the last successful renewal */
  int in_table;       /* in the last listing */
  int finished;       /* checkpoint SHARD_END */
  int held;           /* this worker holds it */
  int busy;           /* a take, renewal or release is in flight */
} lease_view;

/* One call in flight, so the answer finds its lease by shard id (the view
   array may move) and the coordinator can free what never answers. */
typedef struct coord_call {
  struct coord_call *next, *prev;
  struct kefo_lease_coord *co;
  char shard[KEFO_SHARD_ID_CAP];
} coord_call;

typedef struct kefo_lease_coord {
  kefo_consumer *c;
  int64_t duration_ms;
  int64_t renew_ms;
  int64_t max_leases;
  int64_t renewed_round_ms;
  /* Lists every half renewal interval, so a lease that stopped being
     renewed is taken within a lease duration and one renewal interval
     of the last renewal (seen up to half an interval late, taken up to
     half an interval after it expires). */
  struct event *timer;
  int listing;
  lease_view *v;
  size_t n, cap;
  coord_call *calls;
  /* Stopping: releases still out, and what runs after them. */
  void (*then)(kefo_consumer *c);
  int releasing;
  size_t releases_out;
} kefo_lease_coord;

static int64_t now_ms(kefo_lease_coord *co) {
  return kefo_consumer_now_ms(co->c);
}

static lease_view *find(kefo_lease_coord *co, const char *shard) {
  size_t i;

  for (i = 0; i < co->n; ++i) {
    if (strcmp(co->v[i].shard, shard) == 0) {
      return &co->v[i];
    }
  }
  return NULL;
}

static lease_view *find_or_add(kefo_lease_coord *co, const char *shard) {
  lease_view *v = find(co, shard);

  if (v) {
    return v;
  }
  if (co->n == co->cap) {
    size_t cap = co->cap * 2 + 16;
    lease_view *nv = kefo_mem_realloc(co->c->mem, co->v, cap * sizeof(*nv));
    if (nv == NULL) {
      return NULL;
    }
    co->v = nv;
    co->cap = cap;
  }
  v = &co->v[co->n++];
  memset(v, 0, sizeof(*v));
  snprintf(v->shard, sizeof(v->shard), "%s", shard);
  v->changed_ms = now_ms(co);
  return v;
}

static coord_call *call_new(kefo_lease_coord *co, const char *shard) {
  coord_call *k = kefo_mem_calloc(co->c->mem, 1, sizeof(*k));

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
  kefo_mem_free(co->c->mem, k);
}

/* This worker no longer holds |v|: its reader stops at once. A takeover
   is the normal course of rebalancing (|why| NULL: the shard event says
   it); a lease given up because renewals kept failing is an error. */
static void lose(kefo_lease_coord *co, lease_view *v, const char *why) {
  char shard[KEFO_SHARD_ID_CAP];

  v->held = 0;
  snprintf(shard, sizeof(shard), "%s", v->shard);
  if (why) {
    kefo_consumer_report(co->c, KEFO_ERR_LEASE_LOST, shard, NULL, why);
  }
  kefo_consumer_drop_reader(co->c, shard);
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
  v->busy = 0;
  if (!v->held) {
    return;
  }
  if (error == 0) {
    v->counter = l->counter;
    v->renewed_ms = v->changed_ms = now_ms(co);
  } else if (error == KEFO_ERR_LEASE_LOST) {
    lose(co, v, NULL);
  } else if (now_ms(co) - v->renewed_ms >= co->duration_ms) {
    /* From now on another worker may take it as expired. */
    lose(co, v, message);
  }
}

static void renew_all(kefo_lease_coord *co) {
  kefo_lease_store *s = co->c->store;
  size_t i;

  for (i = 0; i < co->n; ++i) {
    lease_view *v = &co->v[i];
    coord_call *k;
    if (!v->held || v->busy || v->finished) {
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

static void on_taken(int error, const char *message, const kefo_lease *l,
                     void *ud) {
  coord_call *k = ud;
  kefo_lease_coord *co = k->co;
  kefo_consumer *c = co->c;
  lease_view *v = find(co, k->shard);
  kefo_checkpoint_entry e;

  (void)message;
  call_free(k);
  if (v == NULL) {
    return;
  }
  v->busy = 0;
  if (error) {
    return; /* another worker was first: the next listing shows it */
  }
  snprintf(v->owner, sizeof(v->owner), "%s", l->owner);
  v->counter = l->counter;
  v->renewed_ms = v->changed_ms = now_ms(co);
  if (c->state != C_RUNNING) {
    return; /* stopping: it expires, or is released with the others */
  }
  v->held = 1;
  /* Start from the previous owner's checkpoint. */
  if (kefo_checkpoint_valid(l->checkpoint)) {
    e.shard_id = l->shard_id;
    e.sequence_number = l->checkpoint;
    e.sub_sequence_number = l->sub_sequence_number;
    if (kefo_checkpoint_table_put(&c->initial, &e, NULL) != 0 ||
        kefo_shard_graph_apply_checkpoint(c->graph, l->shard_id,
                                          l->checkpoint) != 0) {
      kefo_consumer_report(c, KEFO_ERR_NOMEM, l->shard_id, NULL,
                           "cannot apply a lease's checkpoint");
    }
  }
  kefo_consumer_start_ready(c);
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
  return 0;
}

/* The shard may start now, as far as this worker's graph knows. */
static int ready(kefo_lease_coord *co, const lease_view *v) {
  kefo_shard_info info;

  return kefo_shard_graph_get(co->c->graph, v->shard, &info) == 0 &&
         info.state == KEFO_SHARD_READY;
}

static int live(kefo_lease_coord *co, const lease_view *v, int64_t now) {
  if (!v->owner[0]) {
    return 0;
  }
  if (strcmp(v->owner, co->c->worker_id) == 0) {
    return v->held;
  }
  return now - v->changed_ms < co->duration_ms;
}

/* Leases held by |owner| among the live active ones. */
static size_t held_by(kefo_lease_coord *co, const char *owner, int64_t now) {
  size_t i, n = 0;

  for (i = 0; i < co->n; ++i) {
    const lease_view *v = &co->v[i];
    n += v->in_table && !v->finished && live(co, v, now) &&
         strcmp(v->owner, owner) == 0;
  }
  return n;
}

static void balance(kefo_lease_coord *co) {
  int64_t now = now_ms(co);
  size_t i, j, active = 0, workers = 1, mine, target, most = 0;
  const char *loaded = NULL;

  for (i = 0; i < co->n; ++i) {
    const lease_view *v = &co->v[i];
    kefo_shard_info info;
    int first = 1;
    if (!v->in_table || v->finished ||
        kefo_shard_graph_get(co->c->graph, v->shard, &info) != 0 ||
        info.state == KEFO_SHARD_GONE) {
      continue;
    }
    ++active;
    if (!live(co, v, now) || strcmp(v->owner, co->c->worker_id) == 0) {
      continue;
    }
    for (j = 0; j < i; ++j) { /* a worker counts once */
      if (co->v[j].in_table && !co->v[j].finished && live(co, &co->v[j], now) &&
          strcmp(co->v[j].owner, v->owner) == 0) {
        first = 0;
        break;
      }
    }
    workers += first;
  }
  if (active == 0) {
    return;
  }
  target = (active + workers - 1) / workers;
  if ((int64_t)target > co->max_leases) {
    target = (size_t)co->max_leases;
  }
  mine = held_by(co, co->c->worker_id, now);
  for (i = 0; i < co->n; ++i) {
    mine += co->v[i].busy && !co->v[i].held; /* takes in flight */
  }
  /* Expired leases first. */
  for (i = 0; i < co->n && mine < target; ++i) {
    lease_view *v = &co->v[i];
    if (v->in_table && !v->finished && !v->held && !v->busy &&
        !live(co, v, now) && ready(co, v) && take(co, v) == 0) {
      ++mine;
    }
  }
  if (mine >= target) {
    return;
  }
  /* Then from the most loaded worker, down to the fair share. */
  for (i = 0; i < co->n; ++i) {
    const lease_view *v = &co->v[i];
    size_t h;
    if (!v->in_table || v->finished || !live(co, v, now) || v->held ||
        strcmp(v->owner, co->c->worker_id) == 0) {
      continue;
    }
    h = held_by(co, v->owner, now);
    if (h > most) {
      most = h;
      loaded = v->owner;
    }
  }
  for (i = 0; loaded && most > target && mine < target && i < co->n; ++i) {
    lease_view *v = &co->v[i];
    if (v->in_table && !v->finished && !v->busy && live(co, v, now) &&
        strcmp(v->owner, loaded) == 0 && ready(co, v) && take(co, v) == 0) {
      ++mine;
      --most;
    }
  }
}

/* ---- listing ------------------------------------------------------------- */

static void on_created(int error, const char *message, void *ud) {
  coord_call *k = ud;
  kefo_consumer *c = k->co->c;

  if (error) {
    kefo_consumer_report(c, error, k->shard, NULL, message);
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
              kefo_config_get_enum(co->c->cfg, KEFO_CFG_INIT_POSITION) ==
                  KEFO_POSITION_LATEST
          ? "LATEST"
      : info->start == KEFO_SHARD_START_INITIAL &&
              kefo_config_get_enum(co->c->cfg, KEFO_CFG_INIT_POSITION) ==
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
    kefo_consumer_report(c, error, NULL, NULL, message);
    return;
  }
  for (i = 0; i < co->n; ++i) {
    co->v[i].in_table = 0;
  }
  for (i = 0; i < n; ++i) {
    lease_view *v = find_or_add(co, l[i].shard_id);
    if (v == NULL) {
      kefo_consumer_report(c, KEFO_ERR_NOMEM, NULL, NULL,
                           "cannot keep the lease table's view");
      return;
    }
    v->in_table = 1;
    /* A listing older than a take or renewal answered since (counters
       only grow) says nothing new about the owner. */
    if (!v->busy && l[i].counter >= v->counter) {
      if (v->counter != l[i].counter || strcmp(v->owner, l[i].owner) != 0) {
        v->changed_ms = now;
      }
      v->counter = l[i].counter;
      snprintf(v->owner, sizeof(v->owner), "%s", l[i].owner);
      if (v->held && strcmp(l[i].owner, c->worker_id) != 0) {
        lose(co, v, NULL);
      }
    }
    /* Another worker's SHARD_END: the children may start. */
    if (strcmp(l[i].checkpoint, KEFO_CHECKPOINT_SHARD_END) == 0) {
      v->finished = 1;
      v->held = 0;
      if (kefo_shard_graph_apply_checkpoint(c->graph, l[i].shard_id,
                                            l[i].checkpoint) != 0) {
        kefo_consumer_report(c, KEFO_ERR_NOMEM, l[i].shard_id, NULL,
                             "cannot apply a lease's checkpoint");
      }
    }
  }
  if (c->state != C_RUNNING) {
    return;
  }
  kefo_shard_graph_each(c->graph, create_missing, co);
  balance(co);
  kefo_consumer_start_ready(c);
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
  if (now_ms(co) - co->renewed_round_ms >= co->renew_ms) {
    co->renewed_round_ms = now_ms(co);
    renew_all(co);
  }
  list(co);
  kefo_timeval_ms(&tv, co->renew_ms / 2);
  event_add(co->timer, &tv);
}

/* ---- the consumer's calls --------------------------------------------------
 */

int kefo_coord_new(kefo_consumer *c) {
  kefo_lease_coord *co;

  if (c->store->ops->list == NULL) {
    return 0; /* one worker: every shard is this one's */
  }
  co = kefo_mem_calloc(c->mem, 1, sizeof(*co));
  if (co == NULL) {
    return KEFO_ERR_NOMEM;
  }
  co->c = c;
  co->duration_ms = kefo_config_get_ms(c->cfg, KEFO_CFG_LEASE_DURATION);
  co->renew_ms =
      kefo_config_is_set(c->cfg, KEFO_CFG_LEASE_RENEWAL_INTERVAL)
          ? kefo_config_get_ms(c->cfg, KEFO_CFG_LEASE_RENEWAL_INTERVAL)
          : co->duration_ms / 3;
  co->max_leases = kefo_config_get_int(c->cfg, KEFO_CFG_LEASE_MAX_PER_WORKER);
  co->renewed_round_ms = INT64_MIN / 2;
  co->timer = event_new(c->base, -1, 0, tick, co);
  c->coord = co;
  return co->timer ? 0 : KEFO_ERR_NOMEM;
}

void kefo_coord_start(kefo_consumer *c) {
  if (c->coord) {
    event_active(c->coord->timer, 0, 0);
  }
}

void kefo_coord_poke(kefo_consumer *c) {
  if (c->coord) {
    list(c->coord);
  }
}

int kefo_coord_holds(kefo_consumer *c, const char *shard_id) {
  lease_view *v;

  if (c->coord == NULL) {
    return 1;
  }
  v = find(c->coord, shard_id);
  return v != NULL && v->held;
}

void kefo_coord_finished(kefo_consumer *c, const char *shard_id) {
  lease_view *v;

  if (c->coord == NULL) {
    return;
  }
  v = find(c->coord, shard_id);
  if (v) {
    v->finished = 1; /* no more renewals: it holds no one back */
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
    kefo_consumer_report(co->c, error, k->shard, NULL, message);
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

  if (co->releasing || co->c->cp_inflight > 0) {
    return;
  }
  co->releasing = 1;
  co->releases_out = 1; /* dropped below, once every call is out */
  for (i = 0; i < co->n; ++i) {
    lease_view *v = &co->v[i];
    coord_call *k;
    if (!v->held || v->finished) {
      continue;
    }
    v->held = 0;
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

void kefo_coord_stop(kefo_consumer *c, void (*then)(kefo_consumer *c)) {
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

int kefo_coord_others_alive(kefo_consumer *c) {
  kefo_lease_coord *co = c->coord;
  int64_t now;
  size_t i;

  if (co == NULL) {
    return 0;
  }
  now = now_ms(co);
  for (i = 0; i < co->n; ++i) {
    const lease_view *v = &co->v[i];
    if (v->in_table && !v->finished && live(co, v, now) &&
        strcmp(v->owner, c->worker_id) != 0) {
      return 1;
    }
  }
  return 0;
}

void kefo_coord_checkpoints_done(kefo_consumer *c) {
  if (c->coord && c->coord->then) {
    release_all(c->coord);
  }
}

void kefo_coord_free(kefo_consumer *c) {
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
  kefo_mem_free(c->mem, co->v);
  kefo_mem_free(c->mem, co);
  c->coord = NULL;
}
