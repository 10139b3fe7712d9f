/*
 * The lease policy: the KCL's rules for sharing a lease table, with no
 * store, timer or consumer in sight, so that tests drive every rule with
 * plain views and a number for the time.
 */
#include "lease/lease_policy.h"

#include <stdio.h>
#include <string.h>

enum { PHASE_EXPIRED = 0, PHASE_STEAL, PHASE_DONE };

int kefo__lease_policy_init(kefo_lease_policy *p, const kefo_mem *mem,
                            const char *worker_id, int64_t duration_ms,
                            int64_t renew_ms, int64_t max_leases) {
  size_t len;

  if (p == NULL || worker_id == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  len = strlen(worker_id);
  if (len == 0 || len >= sizeof(p->worker_id) || duration_ms <= 0 ||
      renew_ms <= 0 || max_leases <= 0) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  memset(p, 0, sizeof(*p));
  p->mem = kefo__mem_or_default(mem);
  memcpy(p->worker_id, worker_id, len + 1);
  p->duration_ms = duration_ms;
  p->renew_ms = renew_ms;
  p->max_leases = max_leases;
  /* Far enough back that the first round is due at once, and far enough
     from INT64_MIN that now - it cannot overflow. */
  p->renewed_round_ms = INT64_MIN / 2;
  return 0;
}

void kefo__lease_policy_free(kefo_lease_policy *p) {
  if (p == NULL) {
    return;
  }
  kefo__mem_free(p->mem, p->v);
  p->v = NULL;
  p->n = p->cap = 0;
}

kefo_lease_policy_view *kefo__lease_policy_find(kefo_lease_policy *p,
                                                const char *shard) {
  size_t i;

  for (i = 0; i < p->n; ++i) {
    if (strcmp(p->v[i].shard, shard) == 0) {
      return &p->v[i];
    }
  }
  return NULL;
}

static kefo_lease_policy_view *find_or_add(kefo_lease_policy *p,
                                           const char *shard, int64_t now) {
  kefo_lease_policy_view *v = kefo__lease_policy_find(p, shard);

  if (v) {
    return v;
  }
  if (p->n == p->cap) {
    size_t cap = p->cap * 2 + 16;
    kefo_lease_policy_view *nv =
        kefo__mem_realloc(p->mem, p->v, cap * sizeof(*nv));
    if (nv == NULL) {
      return NULL;
    }
    p->v = nv;
    p->cap = cap;
  }
  v = &p->v[p->n++];
  memset(v, 0, sizeof(*v));
  snprintf(v->shard, sizeof(v->shard), "%s", shard);
  /* Never seen before: its expiry starts now, whatever the table says,
     as this worker cannot know how long the counter stood still. */
  v->changed_ms = now;
  return v;
}

int kefo__lease_policy_renew_due(kefo_lease_policy *p, int64_t now_ms) {
  if (now_ms - p->renewed_round_ms >= p->renew_ms) {
    p->renewed_round_ms = now_ms;
    return 1;
  }
  return 0;
}

int kefo__lease_policy_should_renew(const kefo_lease_policy_view *v) {
  return v->held && !v->busy && !v->finished;
}

kefo_lease_policy_verdict kefo__lease_policy_renewed(kefo_lease_policy *p,
                                                     kefo_lease_policy_view *v,
                                                     int error, int64_t counter,
                                                     int64_t now_ms) {
  v->busy = 0;
  if (!v->held) {
    return KEFO_LEASE_POLICY_KEEP; /* released or lost meanwhile */
  }
  if (error == 0) {
    v->counter = counter;
    v->renewed_ms = v->changed_ms = now_ms;
    return KEFO_LEASE_POLICY_KEEP;
  }
  if (error == KEFO_ERR_LEASE_LOST) {
    v->held = 0;
    return KEFO_LEASE_POLICY_LOST;
  }
  /* A failure the next round may fix, until the lease has gone unrenewed
     for as long as others wait before they take it. */
  if (now_ms - v->renewed_ms >= p->duration_ms) {
    v->held = 0;
    return KEFO_LEASE_POLICY_GIVE_UP;
  }
  return KEFO_LEASE_POLICY_KEEP;
}

int kefo__lease_policy_taken(kefo_lease_policy *p, kefo_lease_policy_view *v,
                             int error, const char *owner, int64_t counter,
                             int64_t now_ms, int running) {
  (void)p;
  v->busy = 0;
  if (error) {
    return 0; /* another worker was first: the next listing shows it */
  }
  snprintf(v->owner, sizeof(v->owner), "%s", owner);
  v->counter = counter;
  v->renewed_ms = v->changed_ms = now_ms;
  /* Held even when stopping, so that the stop's release gives it back:
     left to expire, it would keep its shard unread by the other workers
     for a whole lease duration. */
  v->held = 1;
  return running;
}

void kefo__lease_policy_list_begin(kefo_lease_policy *p) {
  size_t i;

  for (i = 0; i < p->n; ++i) {
    p->v[i].in_table = 0;
  }
}

int kefo__lease_policy_listed(kefo_lease_policy *p, const kefo_lease *l,
                              int64_t now_ms, kefo_lease_policy_view **out,
                              int *lost) {
  kefo_lease_policy_view *v;

  if (lost) {
    *lost = 0;
  }
  if (out) {
    *out = NULL;
  }
  if (p == NULL || l == NULL || l->shard_id == NULL || l->owner == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  v = find_or_add(p, l->shard_id, now_ms);
  if (v == NULL) {
    return KEFO_ERR_NOMEM;
  }
  v->in_table = 1;
  /* A listing older than a take or renewal answered since (counters only
     grow) says nothing new about the owner. */
  if (!v->busy && l->counter >= v->counter) {
    /* Expiry runs on this worker's clock from when it saw a change, never
       from a time another host wrote. */
    if (v->counter != l->counter || strcmp(v->owner, l->owner) != 0) {
      v->changed_ms = now_ms;
    }
    v->counter = l->counter;
    snprintf(v->owner, sizeof(v->owner), "%s", l->owner);
    if (v->held && strcmp(l->owner, p->worker_id) != 0) {
      v->held = 0;
      if (lost) {
        *lost = 1;
      }
    }
  }
  if (out) {
    *out = v;
  }
  return 0;
}

void kefo__lease_policy_end_seen(kefo_lease_policy_view *v) {
  v->finished = 1;
  v->held = 0;
}

void kefo__lease_policy_end_reached(kefo_lease_policy_view *v) {
  v->finished = 1;
}

int kefo__lease_policy_live(const kefo_lease_policy *p,
                            const kefo_lease_policy_view *v, int64_t now_ms) {
  if (!v->owner[0]) {
    return 0;
  }
  /* Ours only while we hold it: a lease the table gives to this worker's
     id from an earlier run, or one given up, is free to take. */
  if (strcmp(v->owner, p->worker_id) == 0) {
    return v->held;
  }
  return now_ms - v->changed_ms < p->duration_ms;
}

/* Leases held by |owner| among the live active ones. */
static size_t held_by(const kefo_lease_policy *p, const char *owner,
                      int64_t now) {
  size_t i, n = 0;

  for (i = 0; i < p->n; ++i) {
    const kefo_lease_policy_view *v = &p->v[i];
    n += v->in_table && !v->finished && kefo__lease_policy_live(p, v, now) &&
         strcmp(v->owner, owner) == 0;
  }
  return n;
}

int kefo__lease_policy_others_alive(const kefo_lease_policy *p,
                                    int64_t now_ms) {
  size_t i;

  for (i = 0; i < p->n; ++i) {
    const kefo_lease_policy_view *v = &p->v[i];
    if (v->in_table && !v->finished && kefo__lease_policy_live(p, v, now_ms) &&
        strcmp(v->owner, p->worker_id) != 0) {
      return 1;
    }
  }
  return 0;
}

void kefo__lease_policy_round_begin(const kefo_lease_policy *p, int64_t now_ms,
                                    kefo_lease_policy_round *r) {
  size_t i, j;

  memset(r, 0, sizeof(*r));
  r->now_ms = now_ms;
  r->workers = 1; /* this one */
  for (i = 0; i < p->n; ++i) {
    const kefo_lease_policy_view *v = &p->v[i];
    int first = 1;
    if (!v->in_table || v->finished || !v->in_stream) {
      continue;
    }
    ++r->active;
    if (!kefo__lease_policy_live(p, v, now_ms) ||
        strcmp(v->owner, p->worker_id) == 0) {
      continue;
    }
    for (j = 0; j < i; ++j) { /* a worker counts once */
      const kefo_lease_policy_view *u = &p->v[j];
      if (u->in_table && !u->finished &&
          kefo__lease_policy_live(p, u, now_ms) &&
          strcmp(u->owner, v->owner) == 0) {
        first = 0;
        break;
      }
    }
    r->workers += first;
  }
  if (r->active == 0) {
    r->phase = PHASE_DONE;
    return;
  }
  /* Rounded up, so that every lease finds a worker; the cap keeps a
     worker from more than it was configured to carry. */
  r->target = (r->active + r->workers - 1) / r->workers;
  if ((int64_t)r->target > p->max_leases) {
    r->target = (size_t)p->max_leases;
  }
  r->mine = held_by(p, p->worker_id, now_ms);
  for (i = 0; i < p->n; ++i) {
    r->mine += p->v[i].busy && !p->v[i].held; /* takes in flight */
  }
  r->phase = PHASE_EXPIRED;
}

/* The other worker holding the most live leases, as an index into the
   views, and how many it holds. */
static void find_loaded(const kefo_lease_policy *p,
                        kefo_lease_policy_round *r) {
  size_t i;

  r->most = 0;
  r->loaded = p->n;
  for (i = 0; i < p->n; ++i) {
    const kefo_lease_policy_view *v = &p->v[i];
    size_t h;
    if (!v->in_table || v->finished ||
        !kefo__lease_policy_live(p, v, r->now_ms) || v->held ||
        strcmp(v->owner, p->worker_id) == 0) {
      continue;
    }
    h = held_by(p, v->owner, r->now_ms);
    if (h > r->most) {
      r->most = h;
      r->loaded = i;
    }
  }
}

kefo_lease_policy_view *
kefo__lease_policy_round_next(kefo_lease_policy *p,
                              kefo_lease_policy_round *r) {
  if (r->phase == PHASE_EXPIRED) {
    /* Expired leases first: taking them steals from nobody. */
    while (r->next < p->n && r->mine < r->target) {
      kefo_lease_policy_view *v = &p->v[r->next++];
      if (v->in_table && !v->finished && !v->held && !v->busy &&
          !kefo__lease_policy_live(p, v, r->now_ms) && v->ready) {
        return v;
      }
    }
    if (r->mine >= r->target) {
      r->phase = PHASE_DONE;
      return NULL;
    }
    find_loaded(p, r);
    r->phase = PHASE_STEAL;
    r->next = 0;
  }
  if (r->phase == PHASE_STEAL) {
    /* Then from the most loaded worker only, and only down to the share:
       stealing from a worker at its share would just move the imbalance. */
    while (r->loaded < p->n && r->most > r->target && r->mine < r->target &&
           r->next < p->n) {
      kefo_lease_policy_view *v = &p->v[r->next++];
      if (v->in_table && !v->finished && !v->busy &&
          kefo__lease_policy_live(p, v, r->now_ms) &&
          strcmp(v->owner, p->v[r->loaded].owner) == 0 && v->ready) {
        return v;
      }
    }
    r->phase = PHASE_DONE;
  }
  return NULL;
}

void kefo__lease_policy_round_took(kefo_lease_policy_round *r) {
  ++r->mine;
  if (r->phase == PHASE_STEAL) {
    --r->most;
  }
}

int kefo__lease_policy_release(kefo_lease_policy_view *v) {
  if (!v->held || v->finished) {
    return 0;
  }
  v->held = 0;
  return 1;
}
