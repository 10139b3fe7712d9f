/*
 * Tests for runtime/shard_graph: Kinesis-shaped streams with splits,
 * merges, chains, expired parents and ChildShards, malformed input, a
 * 10,000-shard lineage whose work must stay linear, and a failing-allocator
 * run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "shard/shard_graph.h"
#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"

/* Until tests/unit/suites.h carries it. */
int kefo_add_shard_graph_suite(void);

/* The quarters of the 128-bit hash key space, as a 4-shard stream has. */
#define Q0 "0"
#define Q1 "85070591730234615865843651857942052864"
#define Q2 "170141183460469231731687303715884105728"
#define Q3 "255211775190703847597530955573826158592"
#define Q1M "85070591730234615865843651857942052863"
#define Q2M "170141183460469231731687303715884105727"
#define Q3M "255211775190703847597530955573826158591"
#define QMAX "340282366920938463463374607431768211455"
/* Where shard 0 splits. */
#define H0 "42535295865117307932921825928971026432"
#define H0M "42535295865117307932921825928971026431"

#define SEQ_START "49590338271490256608559692538361571095921575989136588898"
#define SEQ_END "49590338271490256608559692540925702759324208523137515618"

#define S0 "shardId-000000000000"
#define S1 "shardId-000000000001"
#define S2 "shardId-000000000002"
#define S3 "shardId-000000000003"
#define S4 "shardId-000000000004"
#define S5 "shardId-000000000005"
#define S6 "shardId-000000000006"
#define S7 "shardId-000000000007"
#define S8 "shardId-000000000008"
#define S9 "shardId-000000000009"

typedef struct spec {
  const char *id;
  const char *parent;
  const char *adjacent;
  const char *start;
  const char *end;
  int closed;
} spec;

static cJSON *shard_json(const spec *s) {
  cJSON *o = cJSON_CreateObject(), *r;

  cJSON_AddStringToObject(o, "ShardId", s->id);
  if (s->parent) {
    cJSON_AddStringToObject(o, "ParentShardId", s->parent);
  }
  if (s->adjacent) {
    cJSON_AddStringToObject(o, "AdjacentParentShardId", s->adjacent);
  }
  r = cJSON_AddObjectToObject(o, "HashKeyRange");
  cJSON_AddStringToObject(r, "StartingHashKey", s->start ? s->start : Q0);
  cJSON_AddStringToObject(r, "EndingHashKey", s->end ? s->end : QMAX);
  r = cJSON_AddObjectToObject(o, "SequenceNumberRange");
  cJSON_AddStringToObject(r, "StartingSequenceNumber", SEQ_START);
  if (s->closed) {
    cJSON_AddStringToObject(r, "EndingSequenceNumber", SEQ_END);
  }
  return o;
}

static cJSON *shards_json(const spec *s, size_t n) {
  cJSON *a = cJSON_CreateArray();
  size_t i;

  for (i = 0; i < n; ++i) {
    cJSON_AddItemToArray(a, shard_json(&s[i]));
  }
  return a;
}

#define NSPEC(a) (sizeof(a) / sizeof((a)[0]))

static int discover(kefo_shard_graph *g, const spec *s, size_t n) {
  cJSON *a = shards_json(s, n);
  int rv = kefo__shard_graph_discover(g, a);

  cJSON_Delete(a);
  return rv;
}

static int discover_text(kefo_shard_graph *g, const char *json) {
  cJSON *a = cJSON_Parse(json);
  int rv;

  CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  rv = kefo__shard_graph_discover(g, a);
  cJSON_Delete(a);
  return rv;
}

static int finish_text(kefo_shard_graph *g, const char *id, const char *json) {
  cJSON *a = json ? cJSON_Parse(json) : NULL;
  int rv;

  if (json) {
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
  }
  rv = kefo__shard_graph_shard_finished(g, id, a);
  cJSON_Delete(a);
  return rv;
}

/* The shard's kefo_shard_state, or -1 when it is not in the graph. */
static int state_of(kefo_shard_graph *g, const char *id) {
  kefo_shard_info info;

  if (kefo__shard_graph_get(g, id, &info) != 0) {
    return -1;
  }
  return (int)info.state;
}

static kefo_shard_start start_of(kefo_shard_graph *g, const char *id) {
  kefo_shard_info info;

  CU_ASSERT_EQUAL(kefo__shard_graph_get(g, id, &info), 0);
  return info.start;
}

/* Collects the ready shards as "id/I id/T ..." (I: initial position, T:
   TRIM_HORIZON). */
typedef struct collect {
  char text[1024];
  size_t n;
} collect;

static int collect_cb(const kefo_shard_info *info, void *ud) {
  collect *c = ud;
  size_t len = strlen(c->text);

  snprintf(c->text + len, sizeof(c->text) - len, "%s%s/%c", len ? " " : "",
           info->shard_id + 8,
           info->start == KEFO_SHARD_START_TRIM_HORIZON ? 'T' : 'I');
  ++c->n;
  return 0;
}

/* Checks that the ready shards are exactly |expect| (ids without the
   "shardId-" prefix) and that the READY count agrees. */
#define CHECK_READY(g, expect)                                                 \
  do {                                                                         \
    collect c_;                                                                \
    kefo_shard_graph_counts k_;                                                \
    memset(&c_, 0, sizeof(c_));                                                \
    CU_ASSERT_EQUAL(kefo__shard_graph_ready_each((g), collect_cb, &c_), 0);    \
    CU_ASSERT_STRING_EQUAL(c_.text, (expect));                                 \
    kefo__shard_graph_counts_get((g), &k_);                                    \
    CU_ASSERT_EQUAL(k_.by_state[KEFO_SHARD_READY], c_.n);                      \
  } while (0)

static kefo_shard_graph *graph(void) {
  kefo_shard_graph *g = NULL;

  CU_ASSERT_EQUAL_FATAL(kefo__shard_graph_new(&g, NULL), 0);
  return g;
}

static const spec four[] = {{S0, NULL, NULL, Q0, Q1M, 0},
                            {S1, NULL, NULL, Q1, Q2M, 0},
                            {S2, NULL, NULL, Q2, Q3M, 0},
                            {S3, NULL, NULL, Q3, QMAX, 0}};

static void test_four_shards(void) {
  kefo_shard_graph *g = graph();
  kefo_shard_graph_counts k;
  kefo_shard_info info;

  CU_ASSERT_EQUAL(discover(g, four, NSPEC(four)), 0);
  CHECK_READY(g, "000000000000/I 000000000001/I 000000000002/I "
                 "000000000003/I");
  kefo__shard_graph_counts_get(g, &k);
  CU_ASSERT_EQUAL(k.known, 4);
  CU_ASSERT_EQUAL(k.open, 4);
  CU_ASSERT_EQUAL(kefo__shard_graph_get(g, S2, &info), 0);
  CU_ASSERT_STRING_EQUAL(info.shard_id, S2);
  CU_ASSERT_PTR_NULL(info.parent_shard_id);
  CU_ASSERT(info.has_hash_range);
  CU_ASSERT_EQUAL(info.hash_start.hi, 0x8000000000000000ULL);
  CU_ASSERT_EQUAL(info.hash_start.lo, 0);
  CU_ASSERT_EQUAL(info.hash_end.hi, 0xBFFFFFFFFFFFFFFFULL);
  CU_ASSERT_EQUAL(info.hash_end.lo, 0xFFFFFFFFFFFFFFFFULL);
  CU_ASSERT(!info.closed);

  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S0), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S1), 0);
  CHECK_READY(g, "000000000002/I 000000000003/I");
  kefo__shard_graph_counts_get(g, &k);
  CU_ASSERT_EQUAL(k.by_state[KEFO_SHARD_READING], 2);
  /* A lease lost: the shard is ready again, at the end of the queue. */
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_released(g, S0), 0);
  CHECK_READY(g, "000000000002/I 000000000003/I 000000000000/I");
  CU_ASSERT_STRING_EQUAL(kefo__shard_state_name(KEFO_SHARD_READING), "READING");
  CU_ASSERT_STRING_EQUAL(kefo__shard_state_name((kefo_shard_state)42), "?");
  kefo__shard_graph_del(g);
}

/* Shard 0 split into 4 and 5; 1 and 2 merged into 6. */
static const spec resharded[] = {
    {S0, NULL, NULL, Q0, Q1M, 1}, {S1, NULL, NULL, Q1, Q2M, 1},
    {S2, NULL, NULL, Q2, Q3M, 1}, {S3, NULL, NULL, Q3, QMAX, 0},
    {S4, S0, NULL, Q0, H0M, 0},   {S5, S0, NULL, H0, Q1M, 0},
    {S6, S1, S2, Q1, Q3M, 0},
};

static void test_split(void) {
  kefo_shard_graph *g = graph();
  kefo_shard_graph_counts k;

  CU_ASSERT_EQUAL(discover(g, resharded, 6), 0);
  CU_ASSERT_EQUAL(state_of(g, S4), KEFO_SHARD_WAITING);
  CU_ASSERT_EQUAL(state_of(g, S5), KEFO_SHARD_WAITING);
  CHECK_READY(g, "000000000000/I 000000000001/I 000000000002/I "
                 "000000000003/I");
  kefo__shard_graph_counts_get(g, &k);
  CU_ASSERT_EQUAL(k.known, 6);
  CU_ASSERT_EQUAL(k.open, 3);

  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S0), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S4),
                  KEFO_ERR_INVALID_STATE);
  CU_ASSERT_EQUAL(state_of(g, S4), KEFO_SHARD_WAITING);
  CU_ASSERT_EQUAL(finish_text(g, S0, NULL), 0);
  CU_ASSERT_EQUAL(state_of(g, S0), KEFO_SHARD_FINISHED);
  CHECK_READY(g, "000000000001/I 000000000002/I 000000000003/I "
                 "000000000004/T 000000000005/T");
  kefo__shard_graph_del(g);
}

static void test_merge(void) {
  kefo_shard_graph *g = graph();

  CU_ASSERT_EQUAL(discover(g, resharded, NSPEC(resharded)), 0);
  CU_ASSERT_EQUAL(state_of(g, S6), KEFO_SHARD_WAITING);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S1), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S2), 0);
  CU_ASSERT_EQUAL(finish_text(g, S1, NULL), 0);
  /* One parent is not enough. */
  CU_ASSERT_EQUAL(state_of(g, S6), KEFO_SHARD_WAITING);
  CHECK_READY(g, "000000000000/I 000000000003/I");
  CU_ASSERT_EQUAL(finish_text(g, S2, NULL), 0);
  CU_ASSERT_EQUAL(state_of(g, S6), KEFO_SHARD_READY);
  CU_ASSERT_EQUAL(start_of(g, S6), KEFO_SHARD_START_TRIM_HORIZON);
  CHECK_READY(g, "000000000000/I 000000000003/I 000000000006/T");
  kefo__shard_graph_del(g);
}

static void test_chain(void) {
  /* Children listed before their parents, as a page may order them. */
  static const spec chain[] = {
      {S7, S4, NULL, Q0, "1000", 0}, {S8, S4, NULL, "1001", H0M, 0},
      {S4, S0, NULL, Q0, H0M, 1},    {S5, S0, NULL, H0, Q1M, 0},
      {S0, NULL, NULL, Q0, Q1M, 1},
  };
  kefo_shard_graph *g = graph();

  CU_ASSERT_EQUAL(discover(g, chain, NSPEC(chain)), 0);
  CHECK_READY(g, "000000000000/I");
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S0), 0);
  CU_ASSERT_EQUAL(finish_text(g, S0, NULL), 0);
  CHECK_READY(g, "000000000004/T 000000000005/T");
  CU_ASSERT_EQUAL(state_of(g, S7), KEFO_SHARD_WAITING);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S4), 0);
  CU_ASSERT_EQUAL(finish_text(g, S4, NULL), 0);
  CHECK_READY(g, "000000000005/T 000000000007/T 000000000008/T");
  kefo__shard_graph_del(g);
}

static void test_expired_parent(void) {
  /* Shards 0, 1 and 2 are past retention: ListShards no longer has them. */
  kefo_shard_graph *g = graph();
  kefo_shard_info info;

  CU_ASSERT_EQUAL(discover(g, resharded + 3, 4), 0);
  CHECK_READY(g, "000000000003/I 000000000004/I 000000000005/I "
                 "000000000006/I");
  CU_ASSERT_EQUAL(state_of(g, S0), KEFO_SHARD_GONE);
  CU_ASSERT_EQUAL(kefo__shard_graph_get(g, S6, &info), 0);
  CU_ASSERT_STRING_EQUAL(info.parent_shard_id, S1);
  CU_ASSERT_STRING_EQUAL(info.adjacent_parent_shard_id, S2);
  kefo__shard_graph_del(g);

  /* A merge where one parent expired and this consumer read the other. */
  g = graph();
  CU_ASSERT_EQUAL(discover(g, resharded + 2, 5), 0);
  CU_ASSERT_EQUAL(state_of(g, S1), KEFO_SHARD_GONE);
  CU_ASSERT_EQUAL(state_of(g, S6), KEFO_SHARD_WAITING);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S2), 0);
  CU_ASSERT_EQUAL(finish_text(g, S2, NULL), 0);
  CU_ASSERT_EQUAL(state_of(g, S6), KEFO_SHARD_READY);
  CU_ASSERT_EQUAL(start_of(g, S6), KEFO_SHARD_START_TRIM_HORIZON);
  kefo__shard_graph_del(g);

  /* A parent known but never started, that expires later. */
  g = graph();
  CU_ASSERT_EQUAL(discover(g, resharded, 6), 0);
  CU_ASSERT_EQUAL(state_of(g, S4), KEFO_SHARD_WAITING);
  CU_ASSERT_EQUAL(discover(g, resharded + 1, 5), 0);
  CU_ASSERT_EQUAL(state_of(g, S0), KEFO_SHARD_GONE);
  CU_ASSERT_EQUAL(state_of(g, S4), KEFO_SHARD_READY);
  CU_ASSERT_EQUAL(start_of(g, S4), KEFO_SHARD_START_INITIAL);
  kefo__shard_graph_del(g);
}

static void test_child_shards(void) {
  kefo_shard_graph *g = graph();
  kefo_shard_info info;
  static const char split_children[] =
      "[{\"ShardId\":\"" S4 "\",\"ParentShards\":[\"" S0 "\"],"
      "\"HashKeyRange\":{\"StartingHashKey\":\"0\",\"EndingHashKey\":\"" H0M
      "\"}},"
      "{\"ShardId\":\"" S5 "\",\"ParentShards\":[\"" S0 "\"],"
      "\"HashKeyRange\":{\"StartingHashKey\":\"" H0
      "\",\"EndingHashKey\":\"" Q1M "\"}}]";
  static const char merge_child[] =
      "[{\"ShardId\":\"" S6 "\",\"ParentShards\":[\"" S1 "\",\"" S2 "\"],"
      "\"HashKeyRange\":{\"StartingHashKey\":\"" Q1
      "\",\"EndingHashKey\":\"" Q3M "\"}}]";

  CU_ASSERT_EQUAL(discover(g, four, NSPEC(four)), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S0), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S1), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S2), 0);
  CU_ASSERT_EQUAL(finish_text(g, S0, split_children), 0);
  CHECK_READY(g, "000000000003/I 000000000004/T 000000000005/T");
  CU_ASSERT_EQUAL(kefo__shard_graph_get(g, S5, &info), 0);
  CU_ASSERT_STRING_EQUAL(info.parent_shard_id, S0);
  CU_ASSERT(info.has_hash_range);
  CU_ASSERT_EQUAL(info.hash_end.hi, 0x3FFFFFFFFFFFFFFFULL);

  /* The merge: each parent's last event names the child. */
  CU_ASSERT_EQUAL(finish_text(g, S1, merge_child), 0);
  CU_ASSERT_EQUAL(state_of(g, S6), KEFO_SHARD_WAITING);
  CU_ASSERT_EQUAL(finish_text(g, S2, merge_child), 0);
  CHECK_READY(g, "000000000003/I 000000000004/T 000000000005/T "
                 "000000000006/T");

  /* Discovery catches up and agrees: nothing changes. */
  CU_ASSERT_EQUAL(discover(g, resharded, NSPEC(resharded)), 0);
  CHECK_READY(g, "000000000003/I 000000000004/T 000000000005/T "
                 "000000000006/T");
  kefo__shard_graph_del(g);
}

/* New shards are reported once each: the first four, then the children
   a parent's end names, then nothing; a placeholder parent only once a
   discovery lists it. */
static void test_new_each(void) {
  kefo_shard_graph *g = graph();
  collect a, b, c, d;
  static const char child[] =
      "[{\"ShardId\":\"" S6 "\",\"ParentShards\":[\"" S1 "\",\"" S9 "\"]}]";

  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  memset(&c, 0, sizeof(c));
  memset(&d, 0, sizeof(d));
  CU_ASSERT_EQUAL(discover(g, four, NSPEC(four)), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_new_each(g, collect_cb, &a), 0);
  CU_ASSERT_EQUAL(a.n, 4);
  CU_ASSERT_EQUAL(kefo__shard_graph_new_each(g, collect_cb, &b), 0);
  CU_ASSERT_EQUAL(b.n, 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S1), 0);
  CU_ASSERT_EQUAL(finish_text(g, S1, child), 0);
  /* 6 is known now; 9 is only a placeholder. */
  CU_ASSERT_EQUAL(kefo__shard_graph_new_each(g, collect_cb, &c), 0);
  CU_ASSERT_EQUAL(c.n, 1);
  CU_ASSERT_PTR_NOT_NULL(strstr(c.text, "000000000006"));
  CU_ASSERT_PTR_NULL(strstr(c.text, "000000000009"));
  CU_ASSERT_EQUAL(kefo__shard_graph_new_each(g, collect_cb, &d), 0);
  CU_ASSERT_EQUAL(d.n, 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_new_each(NULL, collect_cb, &d),
                  KEFO_ERR_INVALID_ARGUMENT);
  kefo__shard_graph_del(g);
}

static void test_child_shards_unknown_parent(void) {
  /* Shard 9 came from a split discovery has not seen yet; it merges with
     shard 1 into 6. Shard 6 must wait for 9, though 9 is unknown. */
  static const char child[] =
      "[{\"ShardId\":\"" S6 "\",\"ParentShards\":[\"" S1 "\",\"" S9 "\"]}]";
  static const spec later[] = {{S1, NULL, NULL, Q1, Q2M, 1},
                               {S9, NULL, NULL, Q2, Q3M, 1},
                               {S6, S1, S9, Q1, Q3M, 0}};
  kefo_shard_graph *g = graph();
  kefo_shard_graph_counts k;

  CU_ASSERT_EQUAL(discover(g, four + 1, 1), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S1), 0);
  CU_ASSERT_EQUAL(finish_text(g, S1, child), 0);
  CU_ASSERT_EQUAL(state_of(g, S9), KEFO_SHARD_UNKNOWN);
  CU_ASSERT_EQUAL(state_of(g, S6), KEFO_SHARD_WAITING);
  kefo__shard_graph_counts_get(g, &k);
  CU_ASSERT_EQUAL(k.known, 2);
  /* A discovery that raced the split does not list 9 or 6: spared once. */
  CU_ASSERT_EQUAL(discover(g, four + 1, 1), 0);
  CU_ASSERT_EQUAL(state_of(g, S9), KEFO_SHARD_UNKNOWN);
  CU_ASSERT_EQUAL(state_of(g, S6), KEFO_SHARD_WAITING);
  CU_ASSERT_EQUAL(discover(g, later, NSPEC(later)), 0);
  CU_ASSERT_EQUAL(state_of(g, S9), KEFO_SHARD_READY);
  CU_ASSERT_EQUAL(state_of(g, S6), KEFO_SHARD_WAITING);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S9), 0);
  CU_ASSERT_EQUAL(finish_text(g, S9, child), 0);
  CHECK_READY(g, "000000000006/T");
  kefo__shard_graph_del(g);

  /* Never listed by two discoveries in a row: gone, and unblocks. */
  g = graph();
  CU_ASSERT_EQUAL(discover(g, four + 1, 1), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S1), 0);
  CU_ASSERT_EQUAL(finish_text(g, S1, child), 0);
  CU_ASSERT_EQUAL(discover(g, four + 1, 1), 0);
  CU_ASSERT_EQUAL(discover(g, four + 1, 1), 0);
  CU_ASSERT_EQUAL(state_of(g, S9), KEFO_SHARD_GONE);
  CU_ASSERT_EQUAL(state_of(g, S6), KEFO_SHARD_GONE);
  kefo__shard_graph_del(g);
}

static int snapshot_cb(const kefo_shard_info *info, void *ud) {
  collect *c = ud;
  size_t len = strlen(c->text);

  snprintf(c->text + len, sizeof(c->text) - len, "%s:%s:%d ",
           info->shard_id + 8, kefo__shard_state_name(info->state),
           info->closed);
  ++c->n;
  return 0;
}

static void test_discovery_idempotent(void) {
  kefo_shard_graph *g = graph();
  collect a, b;
  kefo_shard_graph_counts ka, kb;
  cJSON *arr;

  memset(&a, 0, sizeof(a));
  memset(&b, 0, sizeof(b));
  CU_ASSERT_EQUAL(discover(g, resharded, NSPEC(resharded)), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_each(g, snapshot_cb, &a), 0);
  kefo__shard_graph_counts_get(g, &ka);
  CU_ASSERT_EQUAL(discover(g, resharded, NSPEC(resharded)), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_each(g, snapshot_cb, &b), 0);
  kefo__shard_graph_counts_get(g, &kb);
  CU_ASSERT_STRING_EQUAL(a.text, b.text);
  CU_ASSERT_EQUAL(a.n, 7);
  CU_ASSERT(memcmp(&ka, &kb, sizeof(ka)) == 0);
  CHECK_READY(g, "000000000000/I 000000000001/I 000000000002/I "
                 "000000000003/I");

  /* The same answer in two pages. */
  arr = shards_json(resharded + 4, 3);
  CU_ASSERT_EQUAL(kefo__shard_graph_discover_begin(g), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_discover_page(g, arr), 0);
  cJSON_Delete(arr);
  arr = shards_json(resharded, 4);
  CU_ASSERT_EQUAL(kefo__shard_graph_discover_page(g, arr), 0);
  cJSON_Delete(arr);
  CU_ASSERT_EQUAL(kefo__shard_graph_discover_end(g), 0);
  memset(&b, 0, sizeof(b));
  CU_ASSERT_EQUAL(kefo__shard_graph_each(g, snapshot_cb, &b), 0);
  CU_ASSERT_STRING_EQUAL(a.text, b.text);
  CU_ASSERT_EQUAL(kefo__shard_graph_discover_end(g), KEFO_ERR_INVALID_STATE);
  kefo__shard_graph_del(g);
}

static void test_rediscovered_closed(void) {
  static const spec closed0 = {S0, NULL, NULL, Q0, Q1M, 1};
  kefo_shard_graph *g = graph();
  kefo_shard_graph_counts k;
  kefo_shard_info info;

  CU_ASSERT_EQUAL(discover(g, four, NSPEC(four)), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S0), 0);
  CU_ASSERT_EQUAL(discover(g, &closed0, 1), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_get(g, S0, &info), 0);
  CU_ASSERT(info.closed);
  /* Closed is not finished: the reader still has records to deliver. */
  CU_ASSERT_EQUAL(info.state, KEFO_SHARD_READING);
  kefo__shard_graph_counts_get(g, &k);
  CU_ASSERT_EQUAL(k.open, 0);
  CU_ASSERT_EQUAL(k.by_state[KEFO_SHARD_GONE], 3);
  CU_ASSERT_EQUAL(k.by_state[KEFO_SHARD_READING], 1);
  kefo__shard_graph_del(g);
}

static void test_checkpoints(void) {
  kefo_shard_graph *g = graph();

  /* Start-up: the lease store says 0 reached SHARD_END and 3 is midway. */
  CU_ASSERT_EQUAL(kefo__shard_graph_apply_checkpoint(g, S0, "SHARD_END"), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_apply_checkpoint(g, S3, SEQ_START), 0);
  CU_ASSERT_EQUAL(state_of(g, S3), -1);
  CU_ASSERT_EQUAL(discover(g, resharded, NSPEC(resharded)), 0);
  CU_ASSERT_EQUAL(state_of(g, S0), KEFO_SHARD_FINISHED);
  CHECK_READY(g, "000000000001/I 000000000002/I 000000000003/I "
                 "000000000004/T 000000000005/T");
  /* Retiring a shard (a closed shard at a LATEST start): its children
     start at the initial position. */
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_gone(g, S1), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_gone(g, S2), 0);
  CHECK_READY(g, "000000000003/I 000000000004/T 000000000005/T "
                 "000000000006/I");
  /* A finished shard stays finished. */
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_gone(g, S0), 0);
  CU_ASSERT_EQUAL(state_of(g, S0), KEFO_SHARD_FINISHED);
  kefo__shard_graph_del(g);
}

static void test_many_children(void) {
  /* Kinesis never gives a shard more than two children; the graph copes. */
  kefo_shard_graph *g = graph();
  char json[2048], id[32];
  size_t i, len = 0;

  len += (size_t)snprintf(json + len, sizeof(json) - len, "[");
  for (i = 0; i < 5; ++i) {
    len += (size_t)snprintf(json + len, sizeof(json) - len,
                            "%s{\"ShardId\":\"shardId-%012zu\","
                            "\"ParentShards\":[\"" S0 "\"]}",
                            i ? "," : "", i + 10);
  }
  snprintf(json + len, sizeof(json) - len, "]");
  CU_ASSERT_EQUAL(discover(g, four, 1), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S0), 0);
  CU_ASSERT_EQUAL(finish_text(g, S0, json), 0);
  for (i = 0; i < 5; ++i) {
    snprintf(id, sizeof(id), "shardId-%012zu", i + 10);
    CU_ASSERT_EQUAL(state_of(g, id), KEFO_SHARD_READY);
  }
  kefo__shard_graph_del(g);
}

static void test_malformed(void) {
  static const char *const bad_pages[] = {
      "{}",
      "[1]",
      "[{}]",
      "[{\"ShardId\":null}]",
      "[{\"ShardId\":42}]",
      "[{\"ShardId\":\"\"}]",
      "[{\"ShardId\":\"shard id\"}]",
      "[{\"ShardId\":\"" S0 "\",\"ParentShardId\":7}]",
      "[{\"ShardId\":\"" S0 "\",\"ParentShardId\":\"" S0 "\"}]",
      "[{\"ShardId\":\"" S4 "\",\"ParentShardId\":\"" S0
      "\",\"AdjacentParentShardId\":\"" S0 "\"}]",
      "[{\"ShardId\":\"" S0 "\",\"HashKeyRange\":7}]",
      "[{\"ShardId\":\"" S0 "\",\"HashKeyRange\":{\"StartingHashKey\":\"0\"}}]",
      "[{\"ShardId\":\"" S0 "\",\"HashKeyRange\":{\"StartingHashKey\":\"0\","
      "\"EndingHashKey\":\"-1\"}}]",
      "[{\"ShardId\":\"" S0 "\",\"HashKeyRange\":{\"StartingHashKey\":\"0\","
      "\"EndingHashKey\":\"340282366920938463463374607431768211456\"}}]",
      "[{\"ShardId\":\"" S0 "\",\"HashKeyRange\":{\"StartingHashKey\":\"5\","
      "\"EndingHashKey\":\"4\"}}]",
      "[{\"ShardId\":\"" S0 "\",\"SequenceNumberRange\":[]}]",
      "[{\"ShardId\":\"" S0 "\",\"SequenceNumberRange\":"
      "{\"EndingSequenceNumber\":1}}]",
      /* A good shard then a bad one: the page changes nothing. */
      "[{\"ShardId\":\"" S1 "\"},{\"ShardId\":true}]",
  };
  static const char *const bad_children[] = {
      "{}",
      "[7]",
      "[{\"ParentShards\":[\"" S0 "\"]}]",
      "[{\"ShardId\":\"" S4 "\",\"ParentShards\":\"" S0 "\"}]",
      "[{\"ShardId\":\"" S4 "\",\"ParentShards\":[1]}]",
      "[{\"ShardId\":\"" S4 "\",\"ParentShards\":[\"" S0 "\",\"" S1 "\",\"" S2
      "\"]}]",
      "[{\"ShardId\":\"" S4 "\",\"ParentShards\":[\"" S4 "\"]}]",
      "[{\"ShardId\":\"" S4 "\",\"ParentShards\":[\"" S0 "\"]},"
      "{\"ShardId\":\"" S5 "\",\"HashKeyRange\":{}}]",
  };
  kefo_shard_graph *g = graph();
  kefo_shard_graph_counts k;
  kefo_shard_info info;
  char long_id[KEFO_SHARD_ID_MAX + 2], page[512];
  size_t i;

  for (i = 0; i < NSPEC(bad_pages); ++i) {
    CU_ASSERT_EQUAL(discover_text(g, bad_pages[i]), KEFO_ERR_BAD_RESPONSE);
  }
  kefo__shard_graph_counts_get(g, &k);
  CU_ASSERT_EQUAL(k.known, 0);
  CU_ASSERT_EQUAL(k.by_state[KEFO_SHARD_UNKNOWN], 0);

  /* 128 characters is the most Kinesis allows; 129 is refused. */
  memset(long_id, 'a', sizeof(long_id));
  long_id[KEFO_SHARD_ID_MAX] = '\0';
  snprintf(page, sizeof(page), "[{\"ShardId\":\"%s\"}]", long_id);
  CU_ASSERT_EQUAL(discover_text(g, page), 0);
  CU_ASSERT_EQUAL(state_of(g, long_id), KEFO_SHARD_READY);
  long_id[KEFO_SHARD_ID_MAX] = 'a';
  long_id[KEFO_SHARD_ID_MAX + 1] = '\0';
  snprintf(page, sizeof(page), "[{\"ShardId\":\"%s\"}]", long_id);
  CU_ASSERT_EQUAL(discover_text(g, page), KEFO_ERR_BAD_RESPONSE);
  snprintf(page, sizeof(page),
           "[{\"ShardId\":\"" S0 "\",\"ParentShardId\":"
           "\"%s\"}]",
           long_id);
  CU_ASSERT_EQUAL(discover_text(g, page), KEFO_ERR_BAD_RESPONSE);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, long_id),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_finished(g, long_id, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_gone(g, long_id),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__shard_graph_get(g, long_id, &info),
                  KEFO_ERR_INVALID_ARGUMENT);

  CU_ASSERT_EQUAL(discover(g, four, NSPEC(four)), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S0), 0);
  for (i = 0; i < NSPEC(bad_children); ++i) {
    CU_ASSERT_EQUAL(finish_text(g, S0, bad_children[i]), KEFO_ERR_BAD_RESPONSE);
  }
  CU_ASSERT_EQUAL(state_of(g, S0), KEFO_SHARD_READING);
  CU_ASSERT_EQUAL(state_of(g, S4), -1);

  /* Misuse of the API. */
  CU_ASSERT_EQUAL(kefo__shard_graph_new(NULL, NULL), KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__shard_graph_discover(NULL, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__shard_graph_discover(g, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S9),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_started(g, S0),
                  KEFO_ERR_INVALID_STATE);
  CU_ASSERT_EQUAL(kefo__shard_graph_shard_released(g, S1),
                  KEFO_ERR_INVALID_STATE);
  CU_ASSERT_EQUAL(kefo__shard_graph_apply_checkpoint(g, S0, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__shard_graph_ready_each(g, NULL, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT_EQUAL(kefo__shard_graph_each(NULL, snapshot_cb, NULL),
                  KEFO_ERR_INVALID_ARGUMENT);
  kefo__shard_graph_del(NULL);
  kefo__shard_graph_del(g);
}

static int stop_cb(const kefo_shard_info *info, void *ud) {
  (void)info;
  return ++*(int *)ud == 2;
}

static void test_callback_failure(void) {
  kefo_shard_graph *g = graph();
  int calls = 0;

  CU_ASSERT_EQUAL(discover(g, four, NSPEC(four)), 0);
  CU_ASSERT_EQUAL(kefo__shard_graph_ready_each(g, stop_cb, &calls),
                  KEFO_ERR_CALLBACK_FAILURE);
  CU_ASSERT_EQUAL(calls, 2);
  calls = 0;
  CU_ASSERT_EQUAL(kefo__shard_graph_each(g, stop_cb, &calls),
                  KEFO_ERR_CALLBACK_FAILURE);
  kefo__shard_graph_del(g);
}

/*
 * 10,000 shards: 1,000 roots, then generations where shard i has parent
 * i - 1000 and, for every third shard, the adjacent parent i - 999. The
 * consumer asks for ready shards after every event, starts them, and
 * finishes them one at a time. Every parent must finish before each child
 * starts, and the graph's work must grow linearly.
 */
#define BIG 10000
#define ROOTS 1000

typedef struct big_run {
  kefo_shard_graph *g;
  size_t queue[BIG];
  size_t head, tail;
  long started_at[BIG];
  long finished_at[BIG];
  long clock;
  int bad_start;
} big_run;

static size_t big_index(const char *id) {
  return (size_t)strtoul(id + 8, NULL, 10);
}

static int big_start_cb(const kefo_shard_info *info, void *ud) {
  big_run *r = ud;
  size_t i = big_index(info->shard_id);

  if ((i < ROOTS) != (info->start == KEFO_SHARD_START_INITIAL)) {
    r->bad_start = 1;
  }
  r->started_at[i] = r->clock++;
  r->queue[r->tail++] = i;
  return kefo__shard_graph_shard_started(r->g, info->shard_id);
}

static void test_ten_thousand(void) {
  big_run *r = calloc(1, sizeof(*r));
  cJSON *arr = cJSON_CreateArray();
  char id[32], parent[32], adjacent[32];
  kefo_shard_graph_counts k;
  size_t i, violations = 0;
  uint64_t work;

  CU_ASSERT_PTR_NOT_NULL_FATAL(r);
  r->g = graph();
  /* Listed newest first, so most parents are placeholders at first. */
  for (i = BIG; i-- > 0;) {
    spec s = {id, NULL, NULL, NULL, NULL, i < BIG - ROOTS};

    snprintf(id, sizeof(id), "shardId-%012zu", i);
    if (i >= ROOTS) {
      snprintf(parent, sizeof(parent), "shardId-%012zu", i - ROOTS);
      s.parent = parent;
      if (i % 3 == 0) {
        snprintf(adjacent, sizeof(adjacent), "shardId-%012zu", i - ROOTS + 1);
        s.adjacent = adjacent;
      }
    }
    cJSON_AddItemToArray(arr, shard_json(&s));
  }
  CU_ASSERT_EQUAL(kefo__shard_graph_discover(r->g, arr), 0);
  cJSON_Delete(arr);
  kefo__shard_graph_counts_get(r->g, &k);
  CU_ASSERT_EQUAL(k.known, BIG);
  CU_ASSERT_EQUAL(k.open, ROOTS);
  CU_ASSERT_EQUAL(k.by_state[KEFO_SHARD_READY], ROOTS);

  CU_ASSERT_EQUAL(kefo__shard_graph_ready_each(r->g, big_start_cb, r), 0);
  while (r->head < r->tail) {
    i = r->queue[r->head++];
    snprintf(id, sizeof(id), "shardId-%012zu", i);
    r->finished_at[i] = r->clock++;
    CU_ASSERT_EQUAL(kefo__shard_graph_shard_finished(r->g, id, NULL), 0);
    CU_ASSERT_EQUAL(kefo__shard_graph_ready_each(r->g, big_start_cb, r), 0);
  }
  kefo__shard_graph_counts_get(r->g, &k);
  CU_ASSERT_EQUAL(k.by_state[KEFO_SHARD_FINISHED], BIG);
  CU_ASSERT_EQUAL(r->tail, BIG);
  CU_ASSERT(!r->bad_start);
  for (i = ROOTS; i < BIG; ++i) {
    if (r->finished_at[i - ROOTS] > r->started_at[i] ||
        (i % 3 == 0 && r->finished_at[i - ROOTS + 1] > r->started_at[i])) {
      ++violations;
    }
  }
  CU_ASSERT_EQUAL(violations, 0);
  /* Each shard: one sweep step at discovery, one ready-list step, and one
     step per edge when its state stops blocking: well under 5 per shard,
     where a rescan after every event would be about BIG * BIG / 2. */
  work = kefo__shard_graph_work(r->g);
  CU_ASSERT(work <= 5 * (uint64_t)BIG);
  CU_ASSERT(work >= 2 * (uint64_t)BIG);
  kefo__shard_graph_del(r->g);
  free(r);
}

/* Builds a resharded stream from discovery (more shards than the first
   table holds), reads through a split and a merge learned from ChildShards,
   retrying each call once after KEFO_ERR_NOMEM as the runtime would. */
static int failmalloc_scenario(const kefo_mem *mem, void *arg) {
  static const char split_children[] =
      "[{\"ShardId\":\"shardId-000000000020\",\"ParentShards\":[\"" S0 "\"]},"
      "{\"ShardId\":\"shardId-000000000021\",\"ParentShards\":[\"" S0 "\"]}]";
  static const char merge_child[] =
      "[{\"ShardId\":\"shardId-000000000022\","
      "\"ParentShards\":[\"" S1 "\",\"" S2 "\"]}]";
  static const char many_children[] =
      "[{\"ShardId\":\"shardId-000000000030\",\"ParentShards\":[\"" S3 "\"]},"
      "{\"ShardId\":\"shardId-000000000031\",\"ParentShards\":[\"" S3 "\"]},"
      "{\"ShardId\":\"shardId-000000000032\",\"ParentShards\":[\"" S3 "\"]},"
      "{\"ShardId\":\"shardId-000000000033\",\"ParentShards\":[\"" S3 "\"]},"
      "{\"ShardId\":\"shardId-000000000034\",\"ParentShards\":[\"" S3 "\"]}]";
  kefo_shard_graph *g;
  cJSON *arr = cJSON_CreateArray(), *children;
  char id[32], parent[32];
  size_t i;
  int rv, ok = 1;

  (void)arg;
  for (i = 0; i < 16; ++i) {
    spec s = {id, NULL, NULL, NULL, NULL, i < 8};

    snprintf(id, sizeof(id), "shardId-%012zu", i);
    if (i >= 8) {
      snprintf(parent, sizeof(parent), "shardId-%012zu", i - 4);
      s.parent = parent;
    }
    cJSON_AddItemToArray(arr, shard_json(&s));
  }
  rv = kefo__shard_graph_new(&g, mem);
  if (rv != 0) {
    cJSON_Delete(arr);
    return rv;
  }
  rv = kefo__shard_graph_discover(g, arr);
  if (rv == KEFO_ERR_NOMEM) {
    rv = kefo__shard_graph_discover(g, arr);
  }
  cJSON_Delete(arr);
  if (rv != 0) {
    goto out;
  }
  for (i = 0; i < 4; ++i) {
    snprintf(id, sizeof(id), "shardId-%012zu", i);
    kefo__shard_graph_shard_started(g, id);
  }
  children = cJSON_Parse(split_children);
  rv = kefo__shard_graph_shard_finished(g, S0, children);
  if (rv == KEFO_ERR_NOMEM) {
    rv = kefo__shard_graph_shard_finished(g, S0, children);
  }
  cJSON_Delete(children);
  if (rv != 0) {
    goto out;
  }
  children = cJSON_Parse(merge_child);
  rv = kefo__shard_graph_shard_finished(g, S1, children);
  if (rv == 0) {
    rv = kefo__shard_graph_shard_finished(g, S2, children);
  }
  if (rv == KEFO_ERR_NOMEM) {
    rv = kefo__shard_graph_shard_finished(g, S1, children);
    if (rv == 0) {
      rv = kefo__shard_graph_shard_finished(g, S2, children);
    }
  }
  cJSON_Delete(children);
  if (rv != 0) {
    goto out;
  }
  children = cJSON_Parse(many_children);
  rv = kefo__shard_graph_shard_finished(g, S3, children);
  if (rv == KEFO_ERR_NOMEM) {
    rv = kefo__shard_graph_shard_finished(g, S3, children);
  }
  cJSON_Delete(children);
  if (rv != 0) {
    goto out;
  }
  /* After one retry, the graph must be what it would have been. */
  ok = state_of(g, "shardId-000000000020") == KEFO_SHARD_READY &&
       state_of(g, "shardId-000000000021") == KEFO_SHARD_READY &&
       state_of(g, "shardId-000000000022") == KEFO_SHARD_READY &&
       state_of(g, "shardId-000000000034") == KEFO_SHARD_READY &&
       state_of(g, "shardId-000000000008") == KEFO_SHARD_WAITING &&
       state_of(g, "shardId-000000000012") == KEFO_SHARD_WAITING &&
       start_of(g, "shardId-000000000022") == KEFO_SHARD_START_TRIM_HORIZON;
  CU_ASSERT(ok);
  if (!ok) {
    fprintf(stderr, "failmalloc: wrong graph after a retried failure\n");
  }

out:
  kefo__shard_graph_del(g);
  return rv;
}

static void test_failmalloc(void) {
  kefo_failmalloc_run(failmalloc_scenario, NULL);
}

int kefo_add_shard_graph_suite(void) {
  CU_pSuite s = CU_add_suite("shard_graph", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "four_shards", test_four_shards) ||
      !CU_add_test(s, "split", test_split) ||
      !CU_add_test(s, "merge", test_merge) ||
      !CU_add_test(s, "chain", test_chain) ||
      !CU_add_test(s, "expired_parent", test_expired_parent) ||
      !CU_add_test(s, "child_shards", test_child_shards) ||
      !CU_add_test(s, "new_each", test_new_each) ||
      !CU_add_test(s, "child_shards_unknown_parent",
                   test_child_shards_unknown_parent) ||
      !CU_add_test(s, "discovery_idempotent", test_discovery_idempotent) ||
      !CU_add_test(s, "rediscovered_closed", test_rediscovered_closed) ||
      !CU_add_test(s, "checkpoints", test_checkpoints) ||
      !CU_add_test(s, "many_children", test_many_children) ||
      !CU_add_test(s, "malformed", test_malformed) ||
      !CU_add_test(s, "callback_failure", test_callback_failure) ||
      !CU_add_test(s, "ten_thousand", test_ten_thousand) ||
      !CU_add_test(s, "failmalloc", test_failmalloc)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
