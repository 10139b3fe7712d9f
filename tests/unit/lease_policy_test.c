/*
 * Tests for lease/lease_policy: the lease rules driven with plain listings
 * and millisecond numbers for the time (no store, no loop, no sleeping):
 * taking, expiry on the observer's clock, renewal verdicts, the fair share,
 * stealing, finished shards, parents before children (through a real shard
 * graph, as the coordinator asks it), and a failing-allocator run.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>
#include <cjson/cJSON.h>

#include "lease/lease_policy.h"
#include "shard/shard_graph.h"
#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"

#define ME "worker-me"
#define WB "worker-b"
#define WC "worker-c"
#define DUR 4000
#define RENEW 1000
#define NOLIMIT 2147483647
#define MAXTAKES 64

static void init(kefo_lease_policy *p, int64_t max_leases) {
  CU_ASSERT_EQUAL_FATAL(
      kefo__lease_policy_init(p, NULL, ME, DUR, RENEW, max_leases), 0);
}

static const char *sid(int i) {
  static char ids[64][32];

  snprintf(ids[i], sizeof(ids[i]), "shardId-%012d", i);
  return ids[i];
}

/* The table names |shard| with |owner| at |counter| at |now|. */
static kefo_lease_policy_view *seen_at(kefo_lease_policy *p, const char *shard,
                                       const char *owner, int64_t counter,
                                       int64_t now, int *lost) {
  kefo_lease l;
  kefo_lease_policy_view *v = NULL;

  memset(&l, 0, sizeof(l));
  l.shard_id = shard;
  l.owner = owner;
  l.counter = counter;
  l.checkpoint = "TRIM_HORIZON";
  CU_ASSERT_EQUAL_FATAL(kefo__lease_policy_listed(p, &l, now, &v, lost), 0);
  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  return v;
}

static kefo_lease_policy_view *seen(kefo_lease_policy *p, const char *shard,
                                    const char *owner, int64_t counter,
                                    int64_t now) {
  return seen_at(p, shard, owner, counter, now, NULL);
}

/* Every shard in the stream and free to start, as for a stream that
   never resharded. */
static void all_ready(kefo_lease_policy *p) {
  size_t i;

  for (i = 0; i < p->n; ++i) {
    p->v[i].in_stream = 1;
    p->v[i].ready = 1;
  }
}

/* Gives |shard| to this worker as a successful take would. */
static void hold(kefo_lease_policy *p, const char *shard, int64_t now) {
  kefo_lease_policy_view *v = kefo__lease_policy_find(p, shard);

  CU_ASSERT_PTR_NOT_NULL_FATAL(v);
  CU_ASSERT_EQUAL(kefo__lease_policy_taken(p, v, 0, ME, v->counter + 1, now, 1),
                  1);
}

/*
 * One balancing round at |now| as the coordinator runs it: every take
 * goes out (the view becomes busy) except that of |refused| (the store
 * refused it at once). The shards named are written to |out| (a space
 * after each); returns how many went out.
 */
static size_t round_refusing(kefo_lease_policy *p, int64_t now,
                             const char *refused, kefo_lease_policy_round *r,
                             char *out, size_t outlen) {
  kefo_lease_policy_view *v;
  size_t n = 0, guard = 0;

  out[0] = 0;
  kefo__lease_policy_round_begin(p, now, r);
  while ((v = kefo__lease_policy_round_next(p, r)) != NULL &&
         ++guard < MAXTAKES) {
    if (refused && strcmp(v->shard, refused) == 0) {
      continue;
    }
    v->busy = 1;
    kefo__lease_policy_round_took(r);
    snprintf(out + strlen(out), outlen - strlen(out), "%s ", v->shard + 8);
    ++n;
  }
  CU_ASSERT(guard < MAXTAKES);
  return n;
}

static size_t run_round(kefo_lease_policy *p, int64_t now,
                        kefo_lease_policy_round *r, char *out, size_t outlen) {
  return round_refusing(p, now, NULL, r, out, outlen);
}

/* ---- tests --------------------------------------------------------------- */

static void test_init_arguments(void) {
  kefo_lease_policy p;
  char long_id[KEFO_LEASE_POLICY_OWNER_CAP + 1];

  memset(long_id, 'w', sizeof(long_id) - 1);
  long_id[sizeof(long_id) - 1] = 0;
  CU_ASSERT_EQUAL(kefo__lease_policy_init(NULL, NULL, ME, DUR, RENEW, 1),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__lease_policy_init(&p, NULL, NULL, DUR, RENEW, 1),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__lease_policy_init(&p, NULL, "", DUR, RENEW, 1),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__lease_policy_init(&p, NULL, long_id, DUR, RENEW, 1),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__lease_policy_init(&p, NULL, ME, 0, RENEW, 1),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__lease_policy_init(&p, NULL, ME, DUR, 0, 1),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__lease_policy_init(&p, NULL, ME, DUR, RENEW, 0),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__lease_policy_init(&p, NULL, ME, DUR, RENEW, 1), 0);
  kefo__lease_policy_free(&p);
}

/* Alone with three leases nobody holds: all three are taken at once. */
static void test_take_unowned(void) {
  kefo_lease_policy p;
  kefo_lease_policy_round r;
  char took[256];
  int i;

  init(&p, NOLIMIT);
  for (i = 0; i < 3; ++i) {
    seen(&p, sid(i), "", 0, 1000);
  }
  all_ready(&p);
  CU_ASSERT_EQUAL(run_round(&p, 1000, &r, took, sizeof(took)), 3);
  CU_ASSERT_STRING_EQUAL(took, "000000000000 000000000001 000000000002 ");
  CU_ASSERT_EQUAL(r.active, 3);
  CU_ASSERT_EQUAL(r.workers, 1);
  CU_ASSERT_EQUAL(r.target, 3);
  /* In flight, they count as ours: the next round takes nothing more. */
  CU_ASSERT_EQUAL(run_round(&p, 1100, &r, took, sizeof(took)), 0);
  CU_ASSERT_EQUAL(r.mine, 3);
  kefo__lease_policy_free(&p);
}

/*
 * Another worker's lease expires when its counter has stood still for a
 * lease duration on this worker's clock: not a millisecond before, and a
 * counter or owner change starts the wait again.
 */
static void test_expiry_observer_clock(void) {
  kefo_lease_policy p;
  kefo_lease_policy_round r;
  kefo_lease_policy_view *v;
  char took[256];

  init(&p, NOLIMIT);
  v = seen(&p, sid(0), WB, 5, 1000);
  all_ready(&p);
  CU_ASSERT(kefo__lease_policy_live(&p, v, 1000 + DUR - 1));
  CU_ASSERT_EQUAL(run_round(&p, 1000 + DUR - 1, &r, took, sizeof(took)), 0);
  CU_ASSERT_FALSE(kefo__lease_policy_live(&p, v, 1000 + DUR));

  /* The same counter listed again changes nothing. */
  v = seen(&p, sid(0), WB, 5, 1000 + DUR - 500);
  CU_ASSERT_EQUAL(v->changed_ms, 1000);
  CU_ASSERT_FALSE(kefo__lease_policy_live(&p, v, 1000 + DUR));

  /* A renewal seen just in time: live for another lease duration from
     when this worker saw it. */
  v = seen(&p, sid(0), WB, 6, 1000 + DUR - 1);
  CU_ASSERT(kefo__lease_policy_live(&p, v, 1000 + DUR));
  CU_ASSERT(kefo__lease_policy_live(&p, v, 1000 + 2 * DUR - 2));
  CU_ASSERT_EQUAL(run_round(&p, 1000 + 2 * DUR - 2, &r, took, sizeof(took)), 0);
  CU_ASSERT_EQUAL(run_round(&p, 1000 + 2 * DUR - 1, &r, took, sizeof(took)), 1);
  CU_ASSERT_STRING_EQUAL(took, "000000000000 ");
  kefo__lease_policy_free(&p);
}

/* A change of owner at the same counter restarts the wait too, and a
   listing with a lower counter (older than what was seen) does not. */
static void test_expiry_owner_change_and_stale_listing(void) {
  kefo_lease_policy p;
  kefo_lease_policy_view *v;

  init(&p, NOLIMIT);
  seen(&p, sid(0), WB, 7, 0);
  v = seen(&p, sid(0), WC, 7, 3000);
  CU_ASSERT_STRING_EQUAL(v->owner, WC);
  CU_ASSERT_EQUAL(v->changed_ms, 3000);
  CU_ASSERT(kefo__lease_policy_live(&p, v, 3000 + DUR - 1));
  v = seen(&p, sid(0), WB, 6, 3500);
  CU_ASSERT_STRING_EQUAL(v->owner, WC);
  CU_ASSERT_EQUAL(v->counter, 7);
  CU_ASSERT_EQUAL(v->changed_ms, 3000);
  CU_ASSERT_FALSE(kefo__lease_policy_live(&p, v, 3000 + DUR));
  kefo__lease_policy_free(&p);
}

/* Seen for the first time, a lease's wait starts then: this worker cannot
   know how long the counter stood still before. */
static void test_expiry_first_sight(void) {
  kefo_lease_policy p;
  kefo_lease_policy_round r;
  char took[256];

  init(&p, NOLIMIT);
  seen(&p, sid(0), WB, 123456, 50000);
  all_ready(&p);
  CU_ASSERT_EQUAL(run_round(&p, 50000 + DUR - 1, &r, took, sizeof(took)), 0);
  CU_ASSERT_EQUAL(run_round(&p, 50000 + DUR, &r, took, sizeof(took)), 1);
  kefo__lease_policy_free(&p);
}

/*
 * The takeover bound lease_workers_test checks on the wall clock: the
 * owner's last renewal at R is taken by an observer listing every half
 * renewal interval no later than R + duration + renewal interval, and
 * not before R + duration, whatever the phase between the two.
 */
static void test_takeover_bound(void) {
  int64_t phase;

  for (phase = 0; phase < RENEW / 2; phase += 50) {
    kefo_lease_policy p;
    kefo_lease_policy_round r;
    char took[256];
    int64_t t, last_renewal = -1, taken_at = -1, counter = 1;
    const int64_t stop = 20000; /* the owner dies after this */

    init(&p, NOLIMIT);
    for (t = phase; t < stop + 4 * DUR && taken_at < 0; t += RENEW / 2) {
      /* The owner renews every RENEW ms, between two listings. */
      while ((counter - 1) * RENEW <= t && (counter - 1) * RENEW <= stop) {
        last_renewal = (counter - 1) * RENEW;
        ++counter;
      }
      seen(&p, sid(0), WB, counter, t);
      all_ready(&p);
      if (run_round(&p, t, &r, took, sizeof(took)) == 1) {
        taken_at = t;
      }
    }
    CU_ASSERT(taken_at >= last_renewal + DUR);
    CU_ASSERT(taken_at <= last_renewal + DUR + RENEW);
    kefo__lease_policy_free(&p);
  }
}

/* Our own lease the table still names us for (an earlier run with the
   same id, or one given up): not live, so taken again at once. */
static void test_own_expired_lease(void) {
  kefo_lease_policy p;
  kefo_lease_policy_round r;
  kefo_lease_policy_view *v;
  char took[256];

  init(&p, NOLIMIT);
  v = seen(&p, sid(0), ME, 9, 1000);
  all_ready(&p);
  CU_ASSERT_FALSE(kefo__lease_policy_live(&p, v, 1000));
  CU_ASSERT_FALSE(kefo__lease_policy_others_alive(&p, 1000));
  CU_ASSERT_EQUAL(run_round(&p, 1000, &r, took, sizeof(took)), 1);
  CU_ASSERT_STRING_EQUAL(took, "000000000000 ");
  v = kefo__lease_policy_find(&p, sid(0));
  CU_ASSERT_EQUAL(kefo__lease_policy_taken(&p, v, 0, ME, 10, 1200, 1), 1);
  CU_ASSERT(kefo__lease_policy_live(&p, v, 1200 + 10 * DUR));
  kefo__lease_policy_free(&p);
}

/* Only leases held, not finished and with no call out are renewed, once
   per renewal interval. */
static void test_renew_only_held(void) {
  kefo_lease_policy p;
  kefo_lease_policy_view *v;

  init(&p, NOLIMIT);
  CU_ASSERT(kefo__lease_policy_renew_due(&p, 0));
  CU_ASSERT_FALSE(kefo__lease_policy_renew_due(&p, RENEW - 1));
  CU_ASSERT(kefo__lease_policy_renew_due(&p, RENEW));
  CU_ASSERT_FALSE(kefo__lease_policy_renew_due(&p, RENEW + 500));

  v = seen(&p, sid(0), WB, 1, 0);
  CU_ASSERT_FALSE(kefo__lease_policy_should_renew(v));
  v = seen(&p, sid(1), ME, 1, 0); /* ours in the table, not held */
  CU_ASSERT_FALSE(kefo__lease_policy_should_renew(v));
  hold(&p, sid(1), 0);
  v = kefo__lease_policy_find(&p, sid(1));
  CU_ASSERT(kefo__lease_policy_should_renew(v));
  v->busy = 1;
  CU_ASSERT_FALSE(kefo__lease_policy_should_renew(v));
  v->busy = 0;
  kefo__lease_policy_end_reached(v);
  CU_ASSERT_FALSE(kefo__lease_policy_should_renew(v));
  CU_ASSERT(v->held); /* finished, not given up */
  kefo__lease_policy_free(&p);
}

/* What a renewal's answer means: kept, lost to another worker, or given
   up after failing for a whole lease duration. */
static void test_renewal_verdicts(void) {
  kefo_lease_policy p;
  kefo_lease_policy_view *v;

  init(&p, NOLIMIT);
  seen(&p, sid(0), "", 0, 0);
  hold(&p, sid(0), 1000);
  v = kefo__lease_policy_find(&p, sid(0));
  v->busy = 1;
  CU_ASSERT_EQUAL(kefo__lease_policy_renewed(&p, v, 0, 2, 2000),
                  KEFO_LEASE_POLICY_KEEP);
  CU_ASSERT_EQUAL(v->busy, 0);
  CU_ASSERT_EQUAL(v->counter, 2);
  CU_ASSERT_EQUAL(v->renewed_ms, 2000);
  CU_ASSERT_EQUAL(v->changed_ms, 2000);
  /* Transient failures: kept until a lease duration since the last good
     renewal, when others may take it. */
  CU_ASSERT_EQUAL(kefo__lease_policy_renewed(&p, v, KEFO_ERR_LEASE_STORE, 0,
                                             2000 + DUR - 1),
                  KEFO_LEASE_POLICY_KEEP);
  CU_ASSERT(v->held);
  CU_ASSERT_EQUAL(
      kefo__lease_policy_renewed(&p, v, KEFO_ERR_LEASE_STORE, 0, 2000 + DUR),
      KEFO_LEASE_POLICY_GIVE_UP);
  CU_ASSERT_FALSE(v->held);
  /* A late answer for a lease no longer held changes nothing. */
  CU_ASSERT_EQUAL(kefo__lease_policy_renewed(&p, v, 0, 99, 9000),
                  KEFO_LEASE_POLICY_KEEP);
  CU_ASSERT_FALSE(v->held);
  CU_ASSERT_EQUAL(v->counter, 2);

  hold(&p, sid(0), 10000);
  CU_ASSERT_EQUAL(
      kefo__lease_policy_renewed(&p, v, KEFO_ERR_LEASE_LOST, 0, 10001),
      KEFO_LEASE_POLICY_LOST);
  CU_ASSERT_FALSE(v->held);
  kefo__lease_policy_free(&p);
}

/* A take's answer: held when running; when stopping the owner and counter
   are noted but not held; a refused take changes nothing. */
static void test_take_answers(void) {
  kefo_lease_policy p;
  kefo_lease_policy_view *v;

  init(&p, NOLIMIT);
  v = seen(&p, sid(0), WB, 4, 0);
  v->busy = 1;
  CU_ASSERT_EQUAL(
      kefo__lease_policy_taken(&p, v, KEFO_ERR_LEASE_LOST, NULL, 0, 100, 1), 0);
  CU_ASSERT_EQUAL(v->busy, 0);
  CU_ASSERT_FALSE(v->held);
  CU_ASSERT_STRING_EQUAL(v->owner, WB);
  CU_ASSERT_EQUAL(v->counter, 4);
  v->busy = 1;
  /* Answered while stopping: not started, but held, so that the stop
     releases it (exactly once). */
  CU_ASSERT_EQUAL(kefo__lease_policy_taken(&p, v, 0, ME, 5, 200, 0), 0);
  CU_ASSERT(v->held);
  CU_ASSERT_STRING_EQUAL(v->owner, ME);
  CU_ASSERT_EQUAL(v->counter, 5);
  CU_ASSERT_EQUAL(kefo__lease_policy_release(v), 1);
  CU_ASSERT_EQUAL(kefo__lease_policy_release(v), 0);
  v->busy = 1;
  CU_ASSERT_EQUAL(kefo__lease_policy_taken(&p, v, 0, ME, 6, 300, 1), 1);
  CU_ASSERT(v->held);
  CU_ASSERT_EQUAL(v->renewed_ms, 300);
  kefo__lease_policy_free(&p);
}

/* A listing naming another owner for a lease we hold means it was taken
   over; one answered while a call is out says nothing. */
static void test_lost_on_listing(void) {
  kefo_lease_policy p;
  kefo_lease_policy_view *v;
  int lost = -1;

  init(&p, NOLIMIT);
  seen(&p, sid(0), "", 0, 0);
  hold(&p, sid(0), 0);
  v = seen_at(&p, sid(0), ME, 1, 500, &lost);
  CU_ASSERT_EQUAL(lost, 0);
  CU_ASSERT(v->held);
  v->busy = 1; /* a renewal out: the listing may predate it */
  v = seen_at(&p, sid(0), WB, 2, 600, &lost);
  CU_ASSERT_EQUAL(lost, 0);
  CU_ASSERT(v->held);
  CU_ASSERT_STRING_EQUAL(v->owner, ME);
  v->busy = 0;
  v = seen_at(&p, sid(0), WB, 2, 700, &lost);
  CU_ASSERT_EQUAL(lost, 1);
  CU_ASSERT_FALSE(v->held);
  CU_ASSERT_STRING_EQUAL(v->owner, WB);
  CU_ASSERT_EQUAL(v->changed_ms, 700);
  kefo__lease_policy_free(&p);
}

/*
 * The fair share is the active leases over the live workers, rounded up:
 * M leases spread over N - 1 other workers, and this one holding none.
 */
static void test_fair_share(void) {
  static const struct {
    int leases, workers, share;
  } cases[] = {{8, 3, 3}, {9, 3, 3}, {10, 3, 4}, {4, 4, 1},
               {1, 2, 1}, {7, 2, 4}, {6, 1, 6},  {0, 1, 0}};
  static const char *const others[] = {WB, WC, "worker-d"};
  size_t k;

  for (k = 0; k < sizeof(cases) / sizeof(cases[0]); ++k) {
    kefo_lease_policy p;
    kefo_lease_policy_round r;
    int i;

    init(&p, NOLIMIT);
    for (i = 0; i < cases[k].leases; ++i) {
      /* Nobody's when this is the only worker. */
      seen(&p, sid(i),
           cases[k].workers > 1 ? others[i % (cases[k].workers - 1)] : "", 1,
           0);
    }
    all_ready(&p);
    kefo__lease_policy_round_begin(&p, 10, &r);
    CU_ASSERT_EQUAL(r.active, (size_t)cases[k].leases);
    CU_ASSERT_EQUAL(r.workers, (size_t)cases[k].workers);
    CU_ASSERT_EQUAL(r.target, (size_t)cases[k].share);
    CU_ASSERT_EQUAL(r.mine, 0);
    kefo__lease_policy_free(&p);
  }
}

/* Expired leases are taken only up to the share, and never beyond the
   configured most per worker. */
static void test_take_up_to_share(void) {
  kefo_lease_policy p;
  kefo_lease_policy_round r;
  char took[256];
  int i;

  init(&p, NOLIMIT);
  seen(&p, sid(0), WB, 1, 0);
  for (i = 1; i < 9; ++i) {
    seen(&p, sid(i), "", 0, 0);
  }
  all_ready(&p);
  /* 9 leases, 2 workers: 5 each at most. */
  CU_ASSERT_EQUAL(run_round(&p, 10, &r, took, sizeof(took)), 5);
  CU_ASSERT_EQUAL(r.target, 5);
  CU_ASSERT_STRING_EQUAL(took, "000000000001 000000000002 000000000003 "
                               "000000000004 000000000005 ");
  kefo__lease_policy_free(&p);

  init(&p, 4);
  for (i = 0; i < 10; ++i) {
    seen(&p, sid(i), "", 0, 0);
  }
  all_ready(&p);
  CU_ASSERT_EQUAL(run_round(&p, 10, &r, took, sizeof(took)), 4);
  CU_ASSERT_EQUAL(r.target, 4);
  kefo__lease_policy_free(&p);
}

/* A take the store refuses at once lets the next candidate go instead. */
static void test_refused_take(void) {
  kefo_lease_policy p;
  kefo_lease_policy_round r;
  char took[256];
  int i;

  init(&p, 2);
  for (i = 0; i < 4; ++i) {
    seen(&p, sid(i), "", 0, 0);
  }
  all_ready(&p);
  CU_ASSERT_EQUAL(round_refusing(&p, 10, sid(0), &r, took, sizeof(took)), 2);
  CU_ASSERT_STRING_EQUAL(took, "000000000001 000000000002 ");
  kefo__lease_policy_free(&p);
}

/*
 * Below its share with nothing expired, a worker steals from the most
 * loaded one, only while that one is above the share and only down to
 * it: here worker-b 6 and worker-c 2 of 8, share 3, so three from b and
 * none from c.
 */
static void test_steal_from_most_loaded(void) {
  kefo_lease_policy p;
  kefo_lease_policy_round r;
  char took[256];
  int i;

  init(&p, NOLIMIT);
  for (i = 0; i < 8; ++i) {
    seen(&p, sid(i), i == 2 || i == 5 ? WC : WB, 1, 0);
  }
  all_ready(&p);
  CU_ASSERT_EQUAL(run_round(&p, 10, &r, took, sizeof(took)), 3);
  CU_ASSERT_EQUAL(r.target, 3);
  CU_ASSERT_STRING_EQUAL(took, "000000000000 000000000001 000000000003 ");
  kefo__lease_policy_free(&p);
}

/* Per round, steals stop when the loaded worker comes down to the share,
   even if this one is still below it: 4/4/0 of 8 gives one steal. */
static void test_steal_limit_per_round(void) {
  kefo_lease_policy p;
  kefo_lease_policy_round r;
  char took[256];
  int i;

  init(&p, NOLIMIT);
  for (i = 0; i < 8; ++i) {
    seen(&p, sid(i), i < 4 ? WB : WC, 1, 0);
  }
  all_ready(&p);
  CU_ASSERT_EQUAL(run_round(&p, 10, &r, took, sizeof(took)), 1);
  CU_ASSERT_STRING_EQUAL(took, "000000000000 ");
  CU_ASSERT_EQUAL(r.mine, 1);
  CU_ASSERT_EQUAL(r.target, 3);
  /* Once the take answered, worker-c is the most loaded: the next round
     takes one from it. */
  hold(&p, sid(0), 15);
  CU_ASSERT_EQUAL(run_round(&p, 20, &r, took, sizeof(took)), 1);
  CU_ASSERT_STRING_EQUAL(took, "000000000004 ");
  kefo__lease_policy_free(&p);
}

/* No stealing from a worker at the share (3/3/2 of 8 is balanced), and
   none at all by a worker at or over its share. */
static void test_no_steal_at_share(void) {
  kefo_lease_policy p;
  kefo_lease_policy_round r;
  char took[256];
  int i;

  init(&p, NOLIMIT);
  for (i = 0; i < 8; ++i) {
    seen(&p, sid(i), i < 3 ? WB : i < 6 ? WC : "", 1, 0);
  }
  hold(&p, sid(6), 0);
  hold(&p, sid(7), 0);
  all_ready(&p);
  CU_ASSERT_EQUAL(run_round(&p, 10, &r, took, sizeof(took)), 0);
  CU_ASSERT_EQUAL(r.workers, 3);
  CU_ASSERT_EQUAL(r.target, 3);
  CU_ASSERT_EQUAL(r.mine, 2);
  kefo__lease_policy_free(&p);

  /* Over the share (5 of 7, worker-b on 1, one nobody's; share 4):
     nothing taken, not even the free lease, and none shed either. */
  init(&p, NOLIMIT);
  for (i = 0; i < 7; ++i) {
    seen(&p, sid(i), i == 0 ? WB : "", 1, 0);
  }
  for (i = 1; i < 6; ++i) {
    hold(&p, sid(i), 0);
  }
  all_ready(&p);
  CU_ASSERT_EQUAL(run_round(&p, 10, &r, took, sizeof(took)), 0);
  CU_ASSERT_EQUAL(r.target, 4);
  CU_ASSERT_EQUAL(r.mine, 5);
  CU_ASSERT(r.mine > r.target);
  kefo__lease_policy_free(&p);
}

/* A worker counts once however many leases it holds, and a worker whose
   leases all expired counts no more. */
static void test_workers_counted(void) {
  kefo_lease_policy p;
  kefo_lease_policy_round r;
  int i;

  init(&p, NOLIMIT);
  for (i = 0; i < 6; ++i) {
    seen(&p, sid(i), i < 3 ? WB : WC, 1, i < 3 ? 0 : 2000);
  }
  all_ready(&p);
  kefo__lease_policy_round_begin(&p, 2000 + DUR - 1, &r);
  CU_ASSERT_EQUAL(r.workers, 2); /* b's leases expired at DUR */
  CU_ASSERT_EQUAL(r.target, 3);
  CU_ASSERT(kefo__lease_policy_others_alive(&p, 2000 + DUR - 1));
  CU_ASSERT_FALSE(kefo__lease_policy_others_alive(&p, 2000 + DUR));
  kefo__lease_policy_free(&p);
}

/* SHARD_END leases are never taken, renewed, or counted in the shares;
   a shard the graph no longer has (GONE) is not counted either. */
static void test_finished_not_taken(void) {
  kefo_lease_policy p;
  kefo_lease_policy_round r;
  kefo_lease_policy_view *v;
  char took[256];

  init(&p, NOLIMIT);
  seen(&p, sid(0), "", 3, 0);
  seen(&p, sid(1), ME, 3, 0);
  hold(&p, sid(1), 0);
  seen(&p, sid(2), WB, 3, 0);
  seen(&p, sid(3), "", 3, 0);
  all_ready(&p);
  kefo__lease_policy_end_seen(kefo__lease_policy_find(&p, sid(0)));
  v = kefo__lease_policy_find(&p, sid(1));
  kefo__lease_policy_end_seen(v);
  CU_ASSERT_FALSE(v->held);
  CU_ASSERT_FALSE(kefo__lease_policy_should_renew(v));
  CU_ASSERT_EQUAL(kefo__lease_policy_release(v), 0);
  v = kefo__lease_policy_find(&p, sid(3));
  v->in_stream = v->ready = 0; /* GONE */
  /* Long after, everything expired: only shard 2 may be taken. */
  CU_ASSERT_EQUAL(run_round(&p, 10 * DUR, &r, took, sizeof(took)), 1);
  CU_ASSERT_STRING_EQUAL(took, "000000000002 ");
  CU_ASSERT_EQUAL(r.active, 1);
  kefo__lease_policy_free(&p);
}

/* As the coordinator does: the graph says which shards count and which
   may start. */
static void graph_states(kefo_lease_policy *p, const kefo_shard_graph *g) {
  size_t i;

  for (i = 0; i < p->n; ++i) {
    kefo_shard_info info;
    int known = kefo__shard_graph_get(g, p->v[i].shard, &info) == 0;
    p->v[i].in_stream = known && info.state != KEFO_SHARD_GONE;
    p->v[i].ready = known && info.state == KEFO_SHARD_READY;
  }
}

/* A merge: shards 0 and 1 closed, 2 their child. */
static const char merge_json[] =
    "[{\"ShardId\":\"shardId-000000000000\","
    "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":"
    "\"170141183460469231731687303715884105727\"},"
    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"1\","
    "\"EndingSequenceNumber\":\"5\"}},"
    "{\"ShardId\":\"shardId-000000000001\","
    "\"HashKeyRange\":{\"StartingHashKey\":"
    "\"170141183460469231731687303715884105728\",\"EndingHashKey\":"
    "\"340282366920938463463374607431768211455\"},"
    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"1\","
    "\"EndingSequenceNumber\":\"5\"}},"
    "{\"ShardId\":\"shardId-000000000002\","
    "\"ParentShardId\":\"shardId-000000000000\","
    "\"AdjacentParentShardId\":\"shardId-000000000001\","
    "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":"
    "\"340282366920938463463374607431768211455\"},"
    "\"SequenceNumberRange\":{\"StartingSequenceNumber\":\"6\"}}]";

/*
 * A child's lease is taken only once every parent finished: with the
 * parents held by another worker, one parent's SHARD_END is not enough;
 * after both, the child (expired, nobody's) is taken.
 */
static void test_children_after_parents(void) {
  kefo_lease_policy p;
  kefo_lease_policy_round r;
  kefo_shard_graph *g = NULL;
  cJSON *shards = cJSON_Parse(merge_json);
  char took[256];

  CU_ASSERT_PTR_NOT_NULL_FATAL(shards);
  CU_ASSERT_EQUAL_FATAL(kefo__shard_graph_new(&g, NULL), 0);
  CU_ASSERT_EQUAL_FATAL(kefo__shard_graph_discover(g, shards), 0);
  cJSON_Delete(shards);
  init(&p, NOLIMIT);
  seen(&p, sid(0), WB, 1, 0);
  seen(&p, sid(1), WB, 1, 0);
  seen(&p, sid(2), "", 0, 0);

  graph_states(&p, g);
  CU_ASSERT_EQUAL(run_round(&p, 100, &r, took, sizeof(took)), 0);
  CU_ASSERT_EQUAL(r.active, 3);
  CU_ASSERT_EQUAL(r.target, 2);

  /* Parent 0 ends (another worker's SHARD_END in the table). */
  kefo__lease_policy_end_seen(kefo__lease_policy_find(&p, sid(0)));
  CU_ASSERT_EQUAL(kefo__shard_graph_apply_checkpoint(g, sid(0), "SHARD_END"),
                  0);
  graph_states(&p, g);
  CU_ASSERT_EQUAL(run_round(&p, 200, &r, took, sizeof(took)), 0);

  /* Parent 1 ends too: now the child. */
  kefo__lease_policy_end_seen(kefo__lease_policy_find(&p, sid(1)));
  CU_ASSERT_EQUAL(kefo__shard_graph_apply_checkpoint(g, sid(1), "SHARD_END"),
                  0);
  graph_states(&p, g);
  CU_ASSERT_EQUAL(run_round(&p, 300, &r, took, sizeof(took)), 1);
  CU_ASSERT_STRING_EQUAL(took, "000000000002 ");
  kefo__shard_graph_del(g);
  kefo__lease_policy_free(&p);
}

/* A stop releases what is held and not finished, once. */
static void test_release(void) {
  kefo_lease_policy p;
  kefo_lease_policy_view *v;

  init(&p, NOLIMIT);
  seen(&p, sid(0), "", 0, 0);
  seen(&p, sid(1), "", 0, 0);
  seen(&p, sid(2), WB, 1, 0);
  hold(&p, sid(0), 0);
  hold(&p, sid(1), 0);
  kefo__lease_policy_end_reached(kefo__lease_policy_find(&p, sid(1)));
  v = kefo__lease_policy_find(&p, sid(0));
  CU_ASSERT_EQUAL(kefo__lease_policy_release(v), 1);
  CU_ASSERT_FALSE(v->held);
  CU_ASSERT_EQUAL(kefo__lease_policy_release(v), 0);
  CU_ASSERT_EQUAL(
      kefo__lease_policy_release(kefo__lease_policy_find(&p, sid(1))), 0);
  CU_ASSERT_EQUAL(
      kefo__lease_policy_release(kefo__lease_policy_find(&p, sid(2))), 0);
  kefo__lease_policy_free(&p);
}

/* A listing of 40 leases (the views grow twice) through a failing
   allocator: NOMEM leaves the views usable, nothing leaks. */
static int failmalloc_scenario(const kefo_mem *mem, void *arg) {
  kefo_lease_policy p;
  kefo_lease_policy_round r;
  kefo_lease l;
  int i, rv = 0;

  (void)arg;
  if (kefo__lease_policy_init(&p, mem, ME, DUR, RENEW, NOLIMIT) != 0) {
    return -1;
  }
  memset(&l, 0, sizeof(l));
  l.owner = "";
  l.checkpoint = "TRIM_HORIZON";
  for (i = 0; i < 40 && rv == 0; ++i) {
    l.shard_id = sid(i);
    rv = kefo__lease_policy_listed(&p, &l, 0, NULL, NULL);
  }
  CU_ASSERT(rv == 0 || rv == KEFO_ERR_NOMEM);
  CU_ASSERT(p.n == (size_t)(rv == 0 ? 40 : i - 1));
  all_ready(&p);
  kefo__lease_policy_round_begin(&p, 1, &r);
  CU_ASSERT_EQUAL(r.active, p.n);
  kefo__lease_policy_free(&p);
  return rv;
}

static void test_failmalloc(void) {
  kefo_failmalloc_run(failmalloc_scenario, NULL);
}

int kefo_add_lease_policy_suite(void) {
  CU_pSuite s = CU_add_suite("lease_policy", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "init_arguments", test_init_arguments) ||
      !CU_add_test(s, "take_unowned", test_take_unowned) ||
      !CU_add_test(s, "expiry_observer_clock", test_expiry_observer_clock) ||
      !CU_add_test(s, "expiry_owner_change_and_stale_listing",
                   test_expiry_owner_change_and_stale_listing) ||
      !CU_add_test(s, "expiry_first_sight", test_expiry_first_sight) ||
      !CU_add_test(s, "takeover_bound", test_takeover_bound) ||
      !CU_add_test(s, "own_expired_lease", test_own_expired_lease) ||
      !CU_add_test(s, "renew_only_held", test_renew_only_held) ||
      !CU_add_test(s, "renewal_verdicts", test_renewal_verdicts) ||
      !CU_add_test(s, "take_answers", test_take_answers) ||
      !CU_add_test(s, "lost_on_listing", test_lost_on_listing) ||
      !CU_add_test(s, "fair_share", test_fair_share) ||
      !CU_add_test(s, "take_up_to_share", test_take_up_to_share) ||
      !CU_add_test(s, "refused_take", test_refused_take) ||
      !CU_add_test(s, "steal_from_most_loaded", test_steal_from_most_loaded) ||
      !CU_add_test(s, "steal_limit_per_round", test_steal_limit_per_round) ||
      !CU_add_test(s, "no_steal_at_share", test_no_steal_at_share) ||
      !CU_add_test(s, "workers_counted", test_workers_counted) ||
      !CU_add_test(s, "finished_not_taken", test_finished_not_taken) ||
      !CU_add_test(s, "children_after_parents", test_children_after_parents) ||
      !CU_add_test(s, "release", test_release) ||
      !CU_add_test(s, "failmalloc", test_failmalloc)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
