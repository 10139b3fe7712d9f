/*
 * The lease policy, I/O-free: this worker's view of a shared lease table
 * and the rules for dividing it (renew what we hold, expiry judged on our
 * own clock, take towards a fair share, steal only from a worker above it).
 * The coordinator (runtime/lease_coordinator.c) does the store calls and
 * timers; it tells the policy what the table and the store said, and asks
 * it what to do. Time comes in as |now_ms| on the caller's monotonic clock.
 */
#ifndef KEFO_LEASE_POLICY_H
#define KEFO_LEASE_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "base/mem.h"
#include "lease/lease_store.h"

/* A shard id (1 to 128 characters) with room to spare, as a reader's. */
#define KEFO_LEASE_POLICY_SHARD_CAP 130
/* A worker id: the KCL allows 256 characters. */
#define KEFO_LEASE_POLICY_OWNER_CAP 257

/* One lease as this worker last saw it. */
typedef struct kefo_lease_policy_view {
  char shard[KEFO_LEASE_POLICY_SHARD_CAP];
  char owner[KEFO_LEASE_POLICY_OWNER_CAP]; /* "" when nobody's */
  int64_t counter;
  int64_t changed_ms; /* when this worker saw the counter or owner change */
  int64_t renewed_ms; /* held: the last successful renewal */
  int in_table;       /* in the last listing */
  int finished;       /* checkpoint SHARD_END */
  int held;           /* this worker holds it */
  int busy;           /* a take, renewal or release is in flight */
  /* What the shard graph says, set by the caller before each round
     (kefo__lease_policy_round_begin): the graph knows the shard and it is
     not GONE (it counts towards the shares), and it may start now (every
     parent finished or gone; only then is its lease taken). */
  int in_stream;
  int ready;
} kefo_lease_policy_view;

typedef struct kefo_lease_policy {
  const kefo_mem *mem;
  char worker_id[KEFO_LEASE_POLICY_OWNER_CAP];
  int64_t duration_ms;
  int64_t renew_ms;
  int64_t max_leases;
  int64_t renewed_round_ms; /* the last renewal round */
  kefo_lease_policy_view *v;
  size_t n, cap;
} kefo_lease_policy;

/* What to do with a lease after a renewal answered. */
typedef enum kefo_lease_policy_verdict {
  KEFO_LEASE_POLICY_KEEP = 0, /* still ours (or not ours to begin with) */
  /* Another worker has it: stop reading at once, without a checkpoint;
     the normal course of rebalancing. */
  KEFO_LEASE_POLICY_LOST,
  /* Renewals failed for a whole lease duration: from now on another
     worker may take it as expired, so stop reading; an error. */
  KEFO_LEASE_POLICY_GIVE_UP
} kefo_lease_policy_verdict;

/*
 * One balancing round over the views: the fair share, then the leases to
 * take, one at a time (kefo__lease_policy_round_next), so that a take the
 * store refuses at once lets the next candidate go instead. Every count
 * is of the active leases: in the last listing, not finished, in the
 * stream.
 */
typedef struct kefo_lease_policy_round {
  int64_t now_ms;
  size_t active;  /* active leases */
  size_t workers; /* live workers holding one, this one included */
  size_t target;  /* the fair share: active / workers rounded up, capped */
  size_t mine;    /* held by this worker, or being taken by it */
  /* Where the round is: taking expired leases, stealing, or done. */
  int phase;
  size_t next; /* the view the scan resumes at */
  /* Stealing: a view owned by the most loaded other worker (its index),
     and how many live leases that worker holds. */
  size_t loaded;
  size_t most;
} kefo_lease_policy_round;

/*
 * Sets up |p| for the worker |worker_id| (copied): leases last
 * |duration_ms| without renewal, are renewed every |renew_ms|, and this
 * worker holds at most |max_leases|. |mem| (NULL: default) is kept, not
 * copied, and must outlive |p|.
 *
 * Returns 0 or KEFO_ERR_INVALID_ARGUMENT (|p| or |worker_id| NULL, the id
 * empty or longer than KEFO_LEASE_POLICY_OWNER_CAP - 1, |duration_ms|,
 * |renew_ms| or |max_leases| not positive).
 */
int kefo__lease_policy_init(kefo_lease_policy *p, const kefo_mem *mem,
                            const char *worker_id, int64_t duration_ms,
                            int64_t renew_ms, int64_t max_leases);

/* Frees the views. NULL is ignored. */
void kefo__lease_policy_free(kefo_lease_policy *p);

/* The view of |shard|, or NULL. Valid until the next
   kefo__lease_policy_listed (the array may move). */
kefo_lease_policy_view *kefo__lease_policy_find(kefo_lease_policy *p,
                                                const char *shard);

/*
 * 1 when the renewal round is due at |now_ms| (a renewal interval since
 * the last round; the first is due at once), and the round starts then;
 * else 0.
 */
int kefo__lease_policy_renew_due(kefo_lease_policy *p, int64_t now_ms);

/* 1 when |v| is to be renewed: held, not finished, no call in flight. */
int kefo__lease_policy_should_renew(const kefo_lease_policy_view *v);

/*
 * A renewal of |v| answered at |now_ms| with |error| (0, KEFO_ERR_LEASE_LOST
 * or another code) and, on success, the new |counter|. Clears busy.
 *
 * Returns what to do (kefo_lease_policy_verdict); on LOST and GIVE_UP the
 * view is no longer held.
 */
kefo_lease_policy_verdict kefo__lease_policy_renewed(kefo_lease_policy *p,
                                                     kefo_lease_policy_view *v,
                                                     int error, int64_t counter,
                                                     int64_t now_ms);

/*
 * A take of |v| answered at |now_ms| with |error|, and on success the
 * lease's |owner| and |counter|. |running| is 0 when the consumer is
 * stopping: the lease is held then too, for the stop to release it, but
 * its shard is not started. Clears busy.
 *
 * Returns 1 when this worker now holds the lease and the caller starts
 * the shard from the lease's checkpoint, else 0.
 */
int kefo__lease_policy_taken(kefo_lease_policy *p, kefo_lease_policy_view *v,
                             int error, const char *owner, int64_t counter,
                             int64_t now_ms, int running);

/* A listing begins: views it does not name are no longer in the table. */
void kefo__lease_policy_list_begin(kefo_lease_policy *p);

/*
 * The listing named |l| at |now_ms|. A lease seen for the first time, or
 * whose counter or owner changed, starts its expiry anew on this worker's
 * clock. An answer older than a take or renewal since (a call in flight,
 * or a lower counter) changes nothing. |*lost| (may be NULL) is set to 1
 * when the view was held and the table names another owner: the caller
 * stops its reader. |*out| (may be NULL) gets the view, valid until the
 * next call. The lease's checkpoint is not looked at: see
 * kefo__lease_policy_end_seen.
 *
 * A shard id or owner longer than its view's field is cut to fit.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (|p|, |l|, its shard id or owner
 * NULL) or KEFO_ERR_NOMEM (the views are as they were).
 */
int kefo__lease_policy_listed(kefo_lease_policy *p, const kefo_lease *l,
                              int64_t now_ms, kefo_lease_policy_view **out,
                              int *lost);

/* The table says |v|'s shard was read to its end (SHARD_END), by any
   worker: it is finished and not held, and its children may start. */
void kefo__lease_policy_end_seen(kefo_lease_policy_view *v);

/* This worker read |v|'s shard to its end: no more renewals, and it holds
   nobody back from the shares. Still held until the table says so. */
void kefo__lease_policy_end_reached(kefo_lease_policy_view *v);

/*
 * 1 when |v| belongs to a live worker at |now_ms|: to this one while it
 * holds it, to another until this worker has seen its counter and owner
 * stand still for a lease duration. 0 for a lease nobody owns, and for one
 * expired, even if the table names this worker (an earlier run's).
 */
int kefo__lease_policy_live(const kefo_lease_policy *p,
                            const kefo_lease_policy_view *v, int64_t now_ms);

/* 1 when the last listing showed another worker holding a live active
   lease at |now_ms|. */
int kefo__lease_policy_others_alive(const kefo_lease_policy *p, int64_t now_ms);

/*
 * Starts a balancing round at |now_ms| into |r|: counts the active leases
 * and the live workers, the fair share (rounded up, at most max_leases)
 * and this worker's leases, takes in flight included. The views' in_stream
 * and ready must be current.
 */
void kefo__lease_policy_round_begin(const kefo_lease_policy *p, int64_t now_ms,
                                    kefo_lease_policy_round *r);

/*
 * The next lease to take in round |r|, or NULL when the round is over.
 * Expired leases first (nobody's, or not seen renewed for a lease
 * duration); then, while still below the share, leases of the most loaded
 * worker while it holds more than the share. Only ready shards' leases,
 * never one with a call in flight. The views must not have been added to
 * since kefo__lease_policy_round_begin. After a take went out, call
 * kefo__lease_policy_round_took before asking again.
 */
kefo_lease_policy_view *
kefo__lease_policy_round_next(kefo_lease_policy *p, kefo_lease_policy_round *r);

/* The take the last kefo__lease_policy_round_next named went out. */
void kefo__lease_policy_round_took(kefo_lease_policy_round *r);

/* 1 when |v| is to be released at a graceful stop (held, not finished),
   and then it is no longer held; else 0. */
int kefo__lease_policy_release(kefo_lease_policy_view *v);

#endif /* KEFO_LEASE_POLICY_H */
