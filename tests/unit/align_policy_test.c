/*
 * The watermark alignment policy with time given as plain numbers: the
 * watermark of each shard and the global one, idle shards left out and
 * counted again, the drift limit pausing the fastest shard and resuming
 * it, the application's max watermark, finished shards, the boundaries
 * exactly at a limit or a timeout, and int64_t extremes.
 */
#include <stdint.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "runtime/align_policy.h"
#include "tests/unit/suites.h"

#define NONE KEFO_WATERMARK_NONE

/* A shard being read, neither paused nor held. */
static kefo_align_policy_shard shard(int64_t max_event_ms,
                                     int64_t last_record_ms) {
  kefo_align_policy_shard sh;

  memset(&sh, 0, sizeof(sh));
  sh.max_event_ms = max_event_ms;
  sh.last_record_ms = last_record_ms;
  sh.reading = 1;
  sh.held_event_ms = NONE;
  return sh;
}

static kefo_align_policy_settings settings(int64_t ooo, int64_t idle,
                                           int64_t drift, int64_t max_wm) {
  kefo_align_policy_settings s;

  s.out_of_orderness_ms = ooo;
  s.idle_timeout_ms = idle;
  s.max_drift_ms = drift;
  s.max_watermark = max_wm;
  return s;
}

/*
 * One period of runtime/alignment.c's timer, as its glue does it: the
 * limit, then each shard's action, carried out on |sh| (a resume counts
 * idle time from now, as apply() does). Writes the actions to |act|;
 * returns the limit.
 */
static int64_t period(const kefo_align_policy_settings *s,
                      kefo_align_policy_shard *sh, size_t n, int64_t now,
                      kefo_align_policy_action *act) {
  int64_t allowed = kefo__align_policy_limit(s, sh, n, now);
  size_t i;

  for (i = 0; i < n; ++i) {
    act[i] = kefo__align_policy_decide(s, &sh[i], allowed);
    if (act[i] == KEFO_ALIGN_POLICY_PAUSE) {
      sh[i].align_paused = sh[i].paused = 1;
    } else if (act[i] == KEFO_ALIGN_POLICY_RESUME) {
      sh[i].align_paused = sh[i].paused = 0;
      sh[i].last_record_ms = now;
    }
  }
  return allowed;
}

/* A delivery as the glue handles it: newer event time, last record now,
   paused at once when past |allowed|. Returns 1 when it paused. */
static int deliver(const kefo_align_policy_settings *s,
                   kefo_align_policy_shard *sh, int64_t event_ms, int64_t now,
                   int64_t allowed) {
  sh->last_record_ms = now;
  if (event_ms > sh->max_event_ms) {
    sh->max_event_ms = event_ms;
  }
  if (kefo__align_policy_pause_on_delivery(s, sh, allowed)) {
    sh->align_paused = sh->paused = 1;
    return 1;
  }
  return 0;
}

/* Before any record: no watermark anywhere, no limit from the drift,
   nobody paused; a shard without records keeps the global watermark
   unknown but does not hold the limit down. */
static void test_no_records(void) {
  kefo_align_policy_settings s = settings(0, 0, 5000, INT64_MAX);
  kefo_align_policy_shard sh[2] = {shard(NONE, 0), shard(NONE, 0)};
  kefo_shard_watermark out[2];
  kefo_align_policy_action act[2];

  CU_ASSERT_EQUAL(kefo__align_policy_watermark(&s, NONE), NONE);
  CU_ASSERT_EQUAL(kefo__align_policy_global(&s, sh, 2, 1000, out), NONE);
  CU_ASSERT_EQUAL(out[0].watermark, NONE);
  CU_ASSERT_EQUAL(out[1].watermark, NONE);
  CU_ASSERT_EQUAL(period(&s, sh, 2, 1000, act), INT64_MAX);
  CU_ASSERT_EQUAL(act[0], KEFO_ALIGN_POLICY_KEEP);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_KEEP);
  /* No shard at all. */
  CU_ASSERT_EQUAL(kefo__align_policy_global(&s, NULL, 0, 1000, NULL), NONE);
  CU_ASSERT_EQUAL(kefo__align_policy_limit(&s, NULL, 0, 1000), INT64_MAX);
  /* Shard 1 has a record, shard 0 none: the global watermark stays
     unknown, but the limit follows shard 1 alone. */
  sh[1].max_event_ms = 7000;
  CU_ASSERT_EQUAL(kefo__align_policy_global(&s, sh, 2, 1000, out), NONE);
  CU_ASSERT_EQUAL(out[1].watermark, 7000);
  CU_ASSERT_EQUAL(period(&s, sh, 2, 1000, act), 12000);
  CU_ASSERT_EQUAL(act[0], KEFO_ALIGN_POLICY_KEEP);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_KEEP);
}

/* One shard: its watermark is the global one, and it can never drift
   from itself. */
static void test_one_shard(void) {
  kefo_align_policy_settings s = settings(0, 0, 5000, INT64_MAX);
  kefo_align_policy_shard sh = shard(42000, 900);
  kefo_shard_watermark out;
  kefo_align_policy_action act;

  memset(&out, 0, sizeof(out));
  out.shard_id = "kept";
  CU_ASSERT_EQUAL(kefo__align_policy_global(&s, &sh, 1, 1000, &out), 42000);
  CU_ASSERT_EQUAL(out.watermark, 42000);
  CU_ASSERT_STRING_EQUAL(out.shard_id, "kept");
  CU_ASSERT_FALSE(out.idle);
  CU_ASSERT_FALSE(out.paused);
  CU_ASSERT_FALSE(out.finished);
  CU_ASSERT_EQUAL(period(&s, &sh, 1, 1000, &act), 47000);
  CU_ASSERT_EQUAL(act, KEFO_ALIGN_POLICY_KEEP);
  CU_ASSERT_FALSE(deliver(&s, &sh, 46000, 1001, 47000));
}

/* Several shards: the smallest watermark is the global one, and the
   limit is the smallest plus the drift, whatever the order. */
static void test_min_over_several(void) {
  kefo_align_policy_settings s = settings(0, 0, 1000, INT64_MAX);
  kefo_align_policy_shard sh[4] = {shard(9000, 0), shard(3000, 0),
                                   shard(5000, 0), shard(3500, 0)};
  kefo_shard_watermark out[4];
  kefo_align_policy_action act[4];

  CU_ASSERT_EQUAL(kefo__align_policy_global(&s, sh, 4, 10, out), 3000);
  CU_ASSERT_EQUAL(out[0].watermark, 9000);
  CU_ASSERT_EQUAL(out[2].watermark, 5000);
  CU_ASSERT_EQUAL(period(&s, sh, 4, 10, act), 4000);
  CU_ASSERT_EQUAL(act[0], KEFO_ALIGN_POLICY_PAUSE);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_KEEP);
  CU_ASSERT_EQUAL(act[2], KEFO_ALIGN_POLICY_PAUSE);
  CU_ASSERT_EQUAL(act[3], KEFO_ALIGN_POLICY_KEEP);
  /* The paused ones still count (a held shard is not idle). */
  CU_ASSERT_EQUAL(kefo__align_policy_global(&s, sh, 4, 10, out), 3000);
  CU_ASSERT(out[0].paused);
}

/* A shard's watermark is its largest event time minus the
   out-of-orderness, and so are the global watermark and the limit. */
static void test_out_of_orderness(void) {
  kefo_align_policy_settings s = settings(2000, 0, 1000, INT64_MAX);
  kefo_align_policy_shard sh[2] = {shard(10000, 0), shard(12500, 0)};
  kefo_align_policy_action act[2];

  CU_ASSERT_EQUAL(kefo__align_policy_watermark(&s, 10000), 8000);
  CU_ASSERT_EQUAL(kefo__align_policy_watermark(&s, 0), -2000);
  CU_ASSERT_EQUAL(kefo__align_policy_global(&s, sh, 2, 0, NULL), 8000);
  /* 8000 + 1000: shard 1 (watermark 10500) is past it. */
  CU_ASSERT_EQUAL(period(&s, sh, 2, 0, act), 9000);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_PAUSE);
  /* A negative one (the configuration gives none) counts as 0. */
  s.out_of_orderness_ms = -5;
  CU_ASSERT_EQUAL(kefo__align_policy_watermark(&s, 10000), 10000);
}

/* A shard without a record for the idle timeout holds no one back:
   neither the global watermark nor the limit. At exactly the timeout it
   is idle; a paused shard never is; a timeout of 0 means never. */
static void test_idle_exclusion(void) {
  kefo_align_policy_settings s = settings(0, 2000, 1000, INT64_MAX);
  kefo_align_policy_shard sh[2] = {shard(1000, 0), shard(50000, 5000)};
  kefo_shard_watermark out[2];
  kefo_align_policy_action act[2];

  /* At 1999 ms shard 0 still counts: shard 1 is far past it. */
  CU_ASSERT_FALSE(kefo__align_policy_idle(&s, &sh[0], 1999));
  CU_ASSERT_EQUAL(kefo__align_policy_global(&s, sh, 2, 1999, out), 1000);
  CU_ASSERT_FALSE(out[0].idle);
  CU_ASSERT_EQUAL(kefo__align_policy_limit(&s, sh, 2, 1999), 2000);
  /* At 2000 ms (exactly the timeout) it is idle. */
  CU_ASSERT(kefo__align_policy_idle(&s, &sh[0], 2000));
  CU_ASSERT_EQUAL(kefo__align_policy_global(&s, sh, 2, 2000, out), 50000);
  CU_ASSERT(out[0].idle);
  CU_ASSERT_FALSE(out[1].idle);
  CU_ASSERT_EQUAL(period(&s, sh, 2, 2000, act), 51000);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_KEEP);
  /* Paused, it is not idle: it waits, its stream may not be quiet. */
  sh[0].paused = 1;
  CU_ASSERT_FALSE(kefo__align_policy_idle(&s, &sh[0], 100000));
  CU_ASSERT_EQUAL(kefo__align_policy_global(&s, sh, 2, 100000, out), 1000);
  CU_ASSERT_FALSE(out[0].idle);
  /* No timeout: never idle. */
  sh[0].paused = 0;
  s.idle_timeout_ms = 0;
  CU_ASSERT_FALSE(kefo__align_policy_idle(&s, &sh[0], 100000));
  CU_ASSERT_EQUAL(kefo__align_policy_global(&s, sh, 2, 100000, out), 1000);
  /* A last record in the future of |now| (clocks of another origin) is
     not idle either. */
  s.idle_timeout_ms = 2000;
  CU_ASSERT_FALSE(kefo__align_policy_idle(&s, &sh[0], -10000));
}

/* An idle shard that delivers again counts again at once: the limit
   falls back to it and the shard that ran ahead is paused. */
static void test_return_from_idle(void) {
  kefo_align_policy_settings s = settings(0, 2000, 1000, INT64_MAX);
  kefo_align_policy_shard sh[2] = {shard(1000, 0), shard(1500, 2000)};
  kefo_align_policy_action act[2];
  int64_t allowed;

  /* Shard 0 has been quiet for 2.4 s: only shard 1 counts. */
  allowed = period(&s, sh, 2, 2400, act);
  CU_ASSERT(kefo__align_policy_idle(&s, &sh[0], 2400));
  CU_ASSERT_EQUAL(allowed, 2500);
  /* Shard 1 jumps ahead: its delivery pauses it, and the next period
     resumes it, as it is the slowest shard that counts. */
  CU_ASSERT(deliver(&s, &sh[1], 30000, 2450, allowed));
  allowed = period(&s, sh, 2, 3000, act);
  CU_ASSERT_EQUAL(allowed, 31000);
  CU_ASSERT_EQUAL(act[0], KEFO_ALIGN_POLICY_KEEP);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_RESUME);
  /* Shard 0 delivers (event time 1200) at 3100 ms. */
  CU_ASSERT_FALSE(deliver(&s, &sh[0], 1200, 3100, allowed));
  CU_ASSERT_EQUAL(kefo__align_policy_global(&s, sh, 2, 3100, NULL), 1200);
  allowed = period(&s, sh, 2, 3100, act);
  CU_ASSERT_EQUAL(allowed, 2200);
  CU_ASSERT_EQUAL(act[0], KEFO_ALIGN_POLICY_KEEP);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_PAUSE);
}

/* The built-in aligner over time: the fastest shard is paused as soon as
   a delivery takes it past the slowest plus the drift, stays paused
   while the slowest lags, and resumes at the first period after the
   slowest comes within the drift. */
static void test_drift_pause_resume(void) {
  kefo_align_policy_settings s = settings(0, 0, 5000, INT64_MAX);
  kefo_align_policy_shard sh[2] = {shard(NONE, 0), shard(NONE, 0)};
  kefo_align_policy_action act[2];
  int64_t allowed, now;

  allowed = period(&s, sh, 2, 100, act);
  CU_ASSERT_FALSE(deliver(&s, &sh[0], 10000, 150, allowed));
  CU_ASSERT_FALSE(deliver(&s, &sh[1], 100, 150, allowed));
  allowed = period(&s, sh, 2, 200, act);
  CU_ASSERT_EQUAL(allowed, 5100);
  /* Shard 0 was past it already: this period pauses it. */
  CU_ASSERT_EQUAL(act[0], KEFO_ALIGN_POLICY_PAUSE);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_KEEP);
  /* Shard 1 creeps up; shard 0 stays held. */
  for (now = 300; now <= 1000; now += 100) {
    CU_ASSERT_FALSE(deliver(&s, &sh[1], now * 4, now, allowed));
    allowed = period(&s, sh, 2, now, act);
    CU_ASSERT_EQUAL(allowed, now * 4 + 5000);
    CU_ASSERT_EQUAL(act[0], KEFO_ALIGN_POLICY_KEEP);
    CU_ASSERT(sh[0].align_paused);
  }
  /* Shard 1 at 5000: 10000 is within the drift; shard 0 resumes, and
     its idle time counts from the resume. */
  CU_ASSERT_FALSE(deliver(&s, &sh[1], 5000, 1050, allowed));
  allowed = period(&s, sh, 2, 1100, act);
  CU_ASSERT_EQUAL(allowed, 10000);
  CU_ASSERT_EQUAL(act[0], KEFO_ALIGN_POLICY_RESUME);
  CU_ASSERT_EQUAL(sh[0].last_record_ms, 1100);
  /* Its next delivery past the limit pauses it at once, before any
     period. */
  CU_ASSERT(deliver(&s, &sh[0], 10001, 1150, allowed));
  CU_ASSERT(sh[0].align_paused);
  /* Already held: a further delivery does not pause it twice. */
  CU_ASSERT_FALSE(deliver(&s, &sh[0], 10002, 1160, allowed));
}

/* The application's max watermark: alone (no drift) it limits every
   shard; with a drift the stricter of the two holds; lifted, every
   shard resumes. */
static void test_max_watermark(void) {
  kefo_align_policy_settings s = settings(0, 0, 0, 5000);
  kefo_align_policy_shard sh[2] = {shard(4000, 0), shard(6000, 0)};
  kefo_align_policy_action act[2];

  CU_ASSERT(kefo__align_policy_aligning(&s));
  CU_ASSERT_EQUAL(period(&s, sh, 2, 0, act), 5000);
  CU_ASSERT_EQUAL(act[0], KEFO_ALIGN_POLICY_KEEP);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_PAUSE);
  CU_ASSERT(deliver(&s, &sh[0], 5001, 10, 5000));
  /* With a drift of 500 from the slowest (shard 0, now at 5001), the
     max watermark is the stricter. */
  s.max_drift_ms = 500;
  CU_ASSERT_EQUAL(kefo__align_policy_limit(&s, sh, 2, 20), 5000);
  /* Raised to 8000: the drift (from 5001) is the stricter. */
  s.max_watermark = 8000;
  CU_ASSERT_EQUAL(period(&s, sh, 2, 20, act), 5501);
  CU_ASSERT_EQUAL(act[0], KEFO_ALIGN_POLICY_RESUME);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_KEEP);
  /* Lifted, no drift: not aligning, every shard goes on. */
  s.max_watermark = INT64_MAX;
  s.max_drift_ms = 0;
  CU_ASSERT_FALSE(kefo__align_policy_aligning(&s));
  CU_ASSERT_EQUAL(period(&s, sh, 2, 30, act), INT64_MAX);
  CU_ASSERT_EQUAL(act[0], KEFO_ALIGN_POLICY_KEEP);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_RESUME);
  /* Not aligning, a delivery never pauses, even past a stale limit. */
  CU_ASSERT_FALSE(deliver(&s, &sh[0], 9000, 40, 5000));
}

/* A finished (or failed) shard holds no one back, and alignment leaves
   it alone even far past the limit. */
static void test_finished_shard(void) {
  kefo_align_policy_settings s = settings(0, 0, 1000, 20000);
  kefo_align_policy_shard sh[3] = {shard(100, 0), shard(5000, 0),
                                   shard(NONE, 0)};
  kefo_shard_watermark out[3];
  kefo_align_policy_action act[3];

  sh[0].reading = 0;
  sh[2].reading = 0; /* finished without a record: no NONE either */
  CU_ASSERT_EQUAL(kefo__align_policy_global(&s, sh, 3, 0, out), 5000);
  CU_ASSERT(out[0].finished);
  CU_ASSERT_FALSE(out[1].finished);
  CU_ASSERT_EQUAL(out[0].watermark, 100);
  CU_ASSERT_EQUAL(period(&s, sh, 3, 0, act), 6000);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_KEEP);
  /* Past both limits, yet not read: nothing to do. */
  sh[0].max_event_ms = 90000;
  CU_ASSERT_EQUAL(kefo__align_policy_decide(&s, &sh[0], 6000),
                  KEFO_ALIGN_POLICY_KEEP);
  sh[0].align_paused = 1;
  CU_ASSERT_EQUAL(kefo__align_policy_decide(&s, &sh[0], INT64_MAX),
                  KEFO_ALIGN_POLICY_KEEP);
  /* Not idle either: idleness is only for shards being read. */
  s.idle_timeout_ms = 1;
  CU_ASSERT_EQUAL(kefo__align_policy_global(&s, sh, 3, 100, out), NONE);
  CU_ASSERT_FALSE(out[0].idle);
  CU_ASSERT(out[1].idle);
}

/* Every shard idle: no global watermark, and only the max watermark
   limits. */
static void test_all_idle(void) {
  kefo_align_policy_settings s = settings(0, 1000, 500, 7000);
  kefo_align_policy_shard sh[2] = {shard(3000, 0), shard(9000, 0)};
  kefo_shard_watermark out[2];
  kefo_align_policy_action act[2];

  CU_ASSERT_EQUAL(kefo__align_policy_global(&s, sh, 2, 1000, out), NONE);
  CU_ASSERT(out[0].idle && out[1].idle);
  CU_ASSERT_EQUAL(period(&s, sh, 2, 1000, act), 7000);
  CU_ASSERT_EQUAL(act[0], KEFO_ALIGN_POLICY_KEEP);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_PAUSE);
  /* Lifted: shard 1, held, is not idle, so it now sets the drift limit
     for itself and resumes. */
  s.max_watermark = INT64_MAX;
  CU_ASSERT_FALSE(kefo__align_policy_idle(&s, &sh[1], 1000));
  CU_ASSERT_EQUAL(period(&s, sh, 2, 1000, act), 9500);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_RESUME);
}

/* Exactly at the limit a shard goes on; one millisecond above it is
   held. So for a drift: a shard exactly max-drift ahead reads. */
static void test_at_the_limit(void) {
  kefo_align_policy_settings s = settings(0, 0, 1000, INT64_MAX);
  kefo_align_policy_shard sh[2] = {shard(0, 0), shard(1000, 0)};
  kefo_align_policy_action act[2];

  CU_ASSERT_EQUAL(period(&s, sh, 2, 0, act), 1000);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_KEEP);
  CU_ASSERT_FALSE(deliver(&s, &sh[1], 1000, 1, 1000));
  CU_ASSERT(deliver(&s, &sh[1], 1001, 2, 1000));
  /* Back at the limit exactly (shard 0 moved by 1): resumed. */
  sh[0].max_event_ms = 1;
  CU_ASSERT_EQUAL(period(&s, sh, 2, 3, act), 1001);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_RESUME);
  /* The max watermark likewise. */
  s.max_drift_ms = 0;
  s.max_watermark = 1001;
  CU_ASSERT_EQUAL(period(&s, sh, 2, 4, act), 1001);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_KEEP);
  s.max_watermark = 1000;
  CU_ASSERT_EQUAL(period(&s, sh, 2, 5, act), 1000);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_PAUSE);
  /* Drift and max watermark one apart: the smaller limit wins, by 1
     each way (slowest is shard 0 at 1, so the drift gives 1001). */
  s.max_drift_ms = 1000;
  s.max_watermark = 1002;
  CU_ASSERT_EQUAL(kefo__align_policy_limit(&s, sh, 2, 6), 1001);
  s.max_watermark = 1001;
  CU_ASSERT_EQUAL(kefo__align_policy_limit(&s, sh, 2, 6), 1001);
  s.max_watermark = 1000;
  CU_ASSERT_EQUAL(kefo__align_policy_limit(&s, sh, 2, 6), 1000);
}

/* int64_t extremes: no overflow (UBSan would say), answers that stay
   meaningful. */
static void test_extremes(void) {
  kefo_align_policy_settings s =
      settings(INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX);
  kefo_align_policy_shard sh[2] = {shard(INT64_MIN + 1, INT64_MIN),
                                   shard(INT64_MAX, 0)};
  kefo_align_policy_action act[2];

  /* The out-of-orderness saturates at INT64_MIN + 1, never NONE. */
  CU_ASSERT_EQUAL(kefo__align_policy_watermark(&s, INT64_MIN + 1),
                  INT64_MIN + 1);
  CU_ASSERT_EQUAL(kefo__align_policy_watermark(&s, -1), INT64_MIN + 1);
  CU_ASSERT_EQUAL(kefo__align_policy_watermark(&s, 0), -INT64_MAX);
  CU_ASSERT_EQUAL(kefo__align_policy_watermark(&s, INT64_MAX), 0);
  CU_ASSERT_EQUAL(kefo__align_policy_watermark(&s, NONE), NONE);
  /* From INT64_MIN, INT64_MAX ms are up at -1, not at -2, and a span
     wider than int64_t still counts. */
  CU_ASSERT(kefo__align_policy_idle(&s, &sh[0], -1));
  CU_ASSERT_FALSE(kefo__align_policy_idle(&s, &sh[0], -2));
  CU_ASSERT(kefo__align_policy_idle(&s, &sh[0], INT64_MAX));
  sh[0].last_record_ms = INT64_MAX;
  CU_ASSERT_FALSE(kefo__align_policy_idle(&s, &sh[0], INT64_MIN));
  /* Watermarks INT64_MIN + 1 and 0, drift INT64_MAX: the sum fits. */
  CU_ASSERT_EQUAL(period(&s, sh, 2, 0, act), 0);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_KEEP);
  /* No out-of-orderness: the slowest at INT64_MAX - 1 plus any drift
     would overflow; the drift then sets no limit. */
  s.out_of_orderness_ms = 0;
  sh[0].max_event_ms = INT64_MAX - 1;
  CU_ASSERT_EQUAL(kefo__align_policy_limit(&s, sh, 2, 0), INT64_MAX);
  s.max_watermark = 100;
  CU_ASSERT_EQUAL(period(&s, sh, 2, 0, act), 100);
  CU_ASSERT_EQUAL(act[0], KEFO_ALIGN_POLICY_PAUSE);
  CU_ASSERT_EQUAL(act[1], KEFO_ALIGN_POLICY_PAUSE);
  /* A watermark of INT64_MAX reads as "none counts" globally, as
     kefo_consumer_watermarks always said. */
  sh[0].reading = 0;
  CU_ASSERT_EQUAL(kefo__align_policy_global(&s, sh, 2, 0, NULL), NONE);
  /* A max watermark of INT64_MIN holds every shard with a record. */
  s.max_watermark = INT64_MIN;
  s.max_drift_ms = 0;
  sh[0] = shard(INT64_MIN + 1, 0);
  CU_ASSERT_EQUAL(kefo__align_policy_decide(&s, &sh[0], INT64_MIN),
                  KEFO_ALIGN_POLICY_PAUSE);
  sh[0].max_event_ms = NONE;
  CU_ASSERT_EQUAL(kefo__align_policy_decide(&s, &sh[0], INT64_MIN),
                  KEFO_ALIGN_POLICY_KEEP);
}

/* A batch that starts past the limit is held back whole; its shard stays
   paused until the limit reaches the held batch, not merely its own
   (older, or missing) watermark. */
static void test_held_batch(void) {
  kefo_align_policy_settings s = settings(0, 0, 5000, INT64_MAX);
  kefo_align_policy_settings off = settings(0, 0, 0, INT64_MAX);
  kefo_align_policy_shard a = shard(100000, 0), b = shard(NONE, 0);
  kefo_align_policy_shard both[2];
  int64_t allowed;

  both[0] = a;
  both[1] = b;
  allowed = kefo__align_policy_limit(&s, both, 2, 0);
  CU_ASSERT_EQUAL(allowed, 105000);
  /* B's first batch starts 50 s past A: held, whatever its span. */
  CU_ASSERT_FALSE(kefo__align_policy_admits(&s, 155000, allowed));
  CU_ASSERT(kefo__align_policy_admits(&s, 105000, allowed));
  CU_ASSERT(kefo__align_policy_admits(&s, NONE, allowed));
  CU_ASSERT(kefo__align_policy_admits(&off, 155000, allowed));
  /* Paused holding it: kept paused while A is behind, though B has no
     watermark of its own. */
  b.align_paused = b.paused = 1;
  b.held_event_ms = 155000;
  CU_ASSERT_EQUAL(kefo__align_policy_decide(&s, &b, allowed),
                  KEFO_ALIGN_POLICY_KEEP);
  /* A catches up to within the drift: resumed, and admitted. */
  both[0] = shard(150000, 0);
  both[1] = b;
  allowed = kefo__align_policy_limit(&s, both, 2, 0);
  CU_ASSERT_EQUAL(allowed, 155000);
  CU_ASSERT_EQUAL(kefo__align_policy_decide(&s, &b, allowed),
                  KEFO_ALIGN_POLICY_RESUME);
  CU_ASSERT(kefo__align_policy_admits(&s, 155000, allowed));
  /* Not paused yet, holding one: paused. */
  b.align_paused = b.paused = 0;
  CU_ASSERT_EQUAL(kefo__align_policy_decide(&s, &b, 120000),
                  KEFO_ALIGN_POLICY_PAUSE);
  /* A goes idle while B holds a batch far past its own watermark: B is
     then the slowest, at its held batch, and goes on (it must not hold
     itself back for ever). */
  s = settings(0, 2000, 5000, INT64_MAX);
  both[0] = shard(150000, 0);
  both[1] = shard(1000, 9000);
  both[1].align_paused = both[1].paused = 1;
  both[1].held_event_ms = 200000;
  allowed = kefo__align_policy_limit(&s, both, 2, 10000);
  CU_ASSERT_EQUAL(allowed, 205000);
  CU_ASSERT_EQUAL(kefo__align_policy_decide(&s, &both[1], allowed),
                  KEFO_ALIGN_POLICY_RESUME);
  CU_ASSERT(kefo__align_policy_admits(&s, 200000, allowed));
  /* A shard is never held back by its own watermark: B, the slowest at
     1 s, gets a batch at 200 s. Against the limit of every shard (6 s)
     it would be held; against A's alone (45 s) it is, as A is 160 s
     behind that batch; with A idle, it goes out. */
  s = settings(0, 2000, 5000, INT64_MAX);
  both[0] = shard(40000, 9000);
  both[1] = shard(1000, 9000);
  CU_ASSERT_EQUAL(kefo__align_policy_limit(&s, both, 2, 10000), 6000);
  allowed = kefo__align_policy_limit_except(&s, both, 2, 10000, 1);
  CU_ASSERT_EQUAL(allowed, 45000);
  CU_ASSERT_FALSE(kefo__align_policy_admits(&s, 200000, allowed));
  CU_ASSERT_EQUAL(kefo__align_policy_limit_except(&s, both, 2, 10000, 0), 6000);
  both[0].last_record_ms = 0; /* idle at 10 s */
  allowed = kefo__align_policy_limit_except(&s, both, 2, 10000, 1);
  CU_ASSERT_EQUAL(allowed, INT64_MAX);
  CU_ASSERT(kefo__align_policy_admits(&s, 200000, allowed));
  CU_ASSERT_EQUAL(kefo__align_policy_limit_except(&s, both, 2, 10000, 2),
                  kefo__align_policy_limit(&s, both, 2, 10000));
  /* A first delivery lowers a limit worked out before it, at once. */
  CU_ASSERT_EQUAL(kefo__align_policy_lowered(&s, INT64_MAX, 100000), 105000);
  CU_ASSERT_EQUAL(kefo__align_policy_lowered(&s, 50000, 100000), 50000);
  CU_ASSERT_EQUAL(kefo__align_policy_lowered(&s, 50000, NONE), 50000);
  CU_ASSERT_EQUAL(kefo__align_policy_lowered(&s, INT64_MAX, INT64_MAX - 10),
                  INT64_MAX);
  CU_ASSERT_EQUAL(kefo__align_policy_lowered(&off, INT64_MAX, 100000),
                  INT64_MAX);
}

int kefo_add_align_policy_suite(void) {
  CU_pSuite s = CU_add_suite("align_policy", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "no records", test_no_records) ||
      !CU_add_test(s, "one shard", test_one_shard) ||
      !CU_add_test(s, "min over several", test_min_over_several) ||
      !CU_add_test(s, "out of orderness", test_out_of_orderness) ||
      !CU_add_test(s, "idle exclusion", test_idle_exclusion) ||
      !CU_add_test(s, "return from idle", test_return_from_idle) ||
      !CU_add_test(s, "drift pause and resume", test_drift_pause_resume) ||
      !CU_add_test(s, "max watermark", test_max_watermark) ||
      !CU_add_test(s, "finished shard", test_finished_shard) ||
      !CU_add_test(s, "all idle", test_all_idle) ||
      !CU_add_test(s, "at the limit", test_at_the_limit) ||
      !CU_add_test(s, "int64 extremes", test_extremes) ||
      !CU_add_test(s, "held batch", test_held_batch)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
