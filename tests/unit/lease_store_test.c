/*
 * The lease stores: the checkpoint order (SHARD_END last, sub-sequence
 * numbers within a record), never moving backwards, the file store's
 * round trip through its file, its lock, its refusal of another stream's
 * file or a malformed one, and allocation failures.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "lease/checkpoint_table.h"
#include "lease/lease_store.h"
#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"

#define ARN "arn:aws:kinesis:us-east-1:123456789012:stream/s"
#define SEQ1 "49590338271490256608559692538361571095921575989136588898"
#define SEQ2 "49590338271490256608559692538361571095921575989136588899"
#define SEQ3 "49590338271490256608559692540925702759324208523137515618"

typedef struct outcome {
  int calls;
  int error;
  char message[1024];
  size_t n;
  char shard[8][32];
  char seq[8][64];
  uint64_t sub[8];
} outcome;

static void on_done(int error, const char *message, void *ud) {
  outcome *o = ud;
  ++o->calls;
  o->error = error;
  snprintf(o->message, sizeof(o->message), "%s", message);
}

static void on_read(int error, const char *message,
                    const kefo_checkpoint_entry *e, size_t n, void *ud) {
  outcome *o = ud;
  size_t i;

  on_done(error, message, ud);
  o->n = n;
  for (i = 0; i < n && i < 8; ++i) {
    snprintf(o->shard[i], sizeof(o->shard[i]), "%s", e[i].shard_id);
    snprintf(o->seq[i], sizeof(o->seq[i]), "%s", e[i].sequence_number);
    o->sub[i] = e[i].sub_sequence_number;
  }
}

static void tmp_path(char *out, size_t cap, const char *name) {
  const char *dir = getenv("TMPDIR");
  snprintf(out, cap, "%s/kefo-lease-%ld-%s", dir && dir[0] ? dir : "/tmp",
           (long)getpid(), name);
}

static void remove_store_files(const char *path) {
  char p[4200];
  unlink(path);
  snprintf(p, sizeof(p), "%s.lock", path);
  unlink(p);
  snprintf(p, sizeof(p), "%s.tmp", path);
  unlink(p);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  CU_ASSERT_FATAL(f != NULL);
  fputs(text, f);
  fclose(f);
}

static void test_order(void) {
  CU_ASSERT(kefo__checkpoint_cmp(SEQ1, 0, SEQ2, 0) < 0);
  CU_ASSERT(kefo__checkpoint_cmp(SEQ3, 0, SEQ2, 9) > 0);
  CU_ASSERT(kefo__checkpoint_cmp(SEQ2, 3, SEQ2, 4) < 0);
  CU_ASSERT(kefo__checkpoint_cmp(SEQ2, 4, SEQ2, 4) == 0);
  CU_ASSERT(kefo__checkpoint_cmp("SHARD_END", 0, SEQ3, 100) > 0);
  CU_ASSERT(kefo__checkpoint_cmp(SEQ3, 100, "SHARD_END", 0) < 0);
  CU_ASSERT(kefo__checkpoint_cmp("SHARD_END", 0, "SHARD_END", 0) == 0);
  CU_ASSERT(kefo__checkpoint_valid(SEQ1));
  CU_ASSERT(kefo__checkpoint_valid("SHARD_END"));
  CU_ASSERT(!kefo__checkpoint_valid("TRIM_HORIZON"));
  CU_ASSERT(!kefo__checkpoint_valid("12a"));
  CU_ASSERT(!kefo__checkpoint_valid(""));
  CU_ASSERT(!kefo__checkpoint_valid(NULL));
}

/* The memory store: forwards only, a batch at a time, bad entries
   refused whole. */
static void test_memory_store(void) {
  kefo_lease_store *s = NULL;
  outcome o;
  kefo_checkpoint_entry e[3] = {{"shardId-000000000001", SEQ2, 0},
                                {"shardId-000000000000", SEQ1, 0},
                                {"shardId-000000000001", SEQ1, 5}};
  kefo_checkpoint_entry bad[2] = {{"shardId-000000000002", SEQ3, 0},
                                  {"shardId-000000000003", "LATEST", 0}};

  CU_ASSERT_FATAL(kefo__memory_store_new(&s, NULL) == 0);
  memset(&o, 0, sizeof(o));
  CU_ASSERT(s->ops->read(s, on_read, &o) == KEFO_ERR_INVALID_STATE);
  CU_ASSERT(s->ops->open(s, ARN, "app", on_done, &o) == 0);
  CU_ASSERT(o.calls == 1 && o.error == 0);
  CU_ASSERT(s->ops->checkpoint(s, e, 3, on_done, &o) == 0);
  CU_ASSERT(o.calls == 2 && o.error == 0);
  CU_ASSERT(s->ops->checkpoint(s, bad, 2, on_done, &o) ==
            KEFO_ERR_INVALID_ARGUMENT);
  CU_ASSERT(s->ops->read(s, on_read, &o) == 0);
  CU_ASSERT_FATAL(o.n == 2);
  /* In shard order; shard 1 kept SEQ2 (the later SEQ1/5 is behind it);
     nothing of the bad batch was stored. */
  CU_ASSERT_STRING_EQUAL(o.shard[0], "shardId-000000000000");
  CU_ASSERT_STRING_EQUAL(o.seq[0], SEQ1);
  CU_ASSERT_STRING_EQUAL(o.shard[1], "shardId-000000000001");
  CU_ASSERT_STRING_EQUAL(o.seq[1], SEQ2);
  /* A second open for another stream is refused. */
  CU_ASSERT(s->ops->open(s, ARN "x", "app", on_done, &o) == 0);
  CU_ASSERT(o.error == KEFO_ERR_LEASE_STORE);
  CU_ASSERT(strstr(o.message, "another stream") != NULL);
  kefo__lease_store_del(s);
}

/* The file store writes through: a second store on the same file (after
   the first is gone) reads what the first wrote, sub-sequences and
   SHARD_END included. */
static void test_file_round_trip(void) {
  char path[4096];
  kefo_lease_store *s = NULL;
  outcome o;
  kefo_checkpoint_entry e1[2] = {{"shardId-000000000000", SEQ1, 0},
                                 {"shardId-000000000001", SEQ2, 7}};
  kefo_checkpoint_entry e2[2] = {{"shardId-000000000000", "SHARD_END", 0},
                                 {"shardId-000000000001", SEQ2, 3}};
  struct stat st;

  tmp_path(path, sizeof(path), "round");
  remove_store_files(path);
  CU_ASSERT_FATAL(kefo__file_store_new(&s, path, NULL) == 0);
  memset(&o, 0, sizeof(o));
  CU_ASSERT(s->ops->open(s, ARN, "app", on_done, &o) == 0);
  CU_ASSERT(o.calls == 1 && o.error == 0);
  CU_ASSERT(s->ops->read(s, on_read, &o) == 0 && o.n == 0);
  CU_ASSERT(stat(path, &st) != 0); /* nothing written yet */
  CU_ASSERT(s->ops->checkpoint(s, e1, 2, on_done, &o) == 0 && o.error == 0);
  CU_ASSERT(s->ops->checkpoint(s, e2, 2, on_done, &o) == 0 && o.error == 0);
  CU_ASSERT(stat(path, &st) == 0 && st.st_size > 0);
  kefo__lease_store_del(s);

  s = NULL;
  CU_ASSERT_FATAL(kefo__file_store_new(&s, path, NULL) == 0);
  memset(&o, 0, sizeof(o));
  CU_ASSERT(s->ops->open(s, ARN, "app", on_done, &o) == 0 && o.error == 0);
  CU_ASSERT(s->ops->read(s, on_read, &o) == 0);
  CU_ASSERT_FATAL(o.n == 2);
  CU_ASSERT_STRING_EQUAL(o.seq[0], "SHARD_END");
  CU_ASSERT_STRING_EQUAL(o.seq[1], SEQ2);
  CU_ASSERT(o.sub[1] == 7); /* 3 was behind 7 */
  kefo__lease_store_del(s);

  /* Another application on the same file is refused, by name. */
  s = NULL;
  CU_ASSERT_FATAL(kefo__file_store_new(&s, path, NULL) == 0);
  memset(&o, 0, sizeof(o));
  CU_ASSERT(s->ops->open(s, ARN, "other-app", on_done, &o) == 0);
  CU_ASSERT(o.error == KEFO_ERR_LEASE_STORE);
  CU_ASSERT(strstr(o.message, "for application app") != NULL);
  CU_ASSERT(strstr(o.message, path) != NULL);
  CU_ASSERT(s->ops->checkpoint(s, e1, 1, on_done, &o) ==
            KEFO_ERR_INVALID_STATE);
  kefo__lease_store_del(s);
  remove_store_files(path);
}

/* Two stores on one file: the second is refused while the first is open,
   and gets in once it is gone. flock locks belong to the open file, so
   this holds within one process as across two. */
static void test_file_lock(void) {
  char path[4096];
  kefo_lease_store *a = NULL, *b = NULL;
  outcome o;

  tmp_path(path, sizeof(path), "lock");
  remove_store_files(path);
  CU_ASSERT_FATAL(kefo__file_store_new(&a, path, NULL) == 0);
  CU_ASSERT_FATAL(kefo__file_store_new(&b, path, NULL) == 0);
  memset(&o, 0, sizeof(o));
  CU_ASSERT(a->ops->open(a, ARN, "app", on_done, &o) == 0 && o.error == 0);
  CU_ASSERT(b->ops->open(b, ARN, "app", on_done, &o) == 0);
  CU_ASSERT(o.error == KEFO_ERR_LEASE_STORE);
  CU_ASSERT(strstr(o.message, "locked by another reader, in this process or "
                              "another") != NULL);
  kefo__lease_store_del(a);
  kefo__lease_store_del(b);
  b = NULL;
  CU_ASSERT_FATAL(kefo__file_store_new(&b, path, NULL) == 0);
  CU_ASSERT(b->ops->open(b, ARN, "app", on_done, &o) == 0 && o.error == 0);
  kefo__lease_store_del(b);
  remove_store_files(path);
}

/* Files that are not ours are refused with a message naming why, and
   the store stays closed. */
static void test_file_malformed(void) {
  static const struct {
    const char *text, *why;
  } cases[] = {
      {"", "empty"},
      {" ", "not a JSON object"},
      {"not json", "not a JSON object"},
      {"[1,2]", "not a JSON object"},
      {"{\"kefo_checkpoints\":2,\"stream\":\"" ARN
       "\",\"application\":\"app\",\"shards\":{}}",
       "version 1"},
      {"{\"kefo_checkpoints\":1,\"application\":\"app\",\"shards\":{}}",
       "stream, application or shards missing"},
      {"{\"kefo_checkpoints\":1,\"stream\":\"" ARN
       "\",\"application\":\"app\",\"shards\":{\"s\":{\"sequence\":\"12x\","
       "\"sub\":0}}}",
       "malformed"},
      {"{\"kefo_checkpoints\":1,\"stream\":\"" ARN
       "\",\"application\":\"app\",\"shards\":{\"s\":{\"sequence\":\"12\","
       "\"sub\":-1}}}",
       "malformed"},
      {"{\"kefo_checkpoints\":1,\"stream\":\"" ARN
       "\",\"application\":\"app\",\"shards\":{\"s\":{\"sequence\":\"12\"}}}",
       "malformed"},
  };
  char path[4096];
  size_t i;

  tmp_path(path, sizeof(path), "bad");
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
    kefo_lease_store *s = NULL;
    outcome o;
    remove_store_files(path);
    write_text(path, cases[i].text);
    CU_ASSERT_FATAL(kefo__file_store_new(&s, path, NULL) == 0);
    memset(&o, 0, sizeof(o));
    CU_ASSERT(s->ops->open(s, ARN, "app", on_done, &o) == 0);
    CU_ASSERT(o.error == KEFO_ERR_LEASE_STORE);
    CU_ASSERT(strstr(o.message, cases[i].why) != NULL);
    CU_ASSERT(s->ops->read(s, on_read, &o) == KEFO_ERR_INVALID_STATE);
    kefo__lease_store_del(s);
  }
  /* A directory where the file should be. */
  {
    kefo_lease_store *s = NULL;
    outcome o;
    remove_store_files(path);
    CU_ASSERT_FATAL(mkdir(path, 0700) == 0);
    CU_ASSERT_FATAL(kefo__file_store_new(&s, path, NULL) == 0);
    memset(&o, 0, sizeof(o));
    CU_ASSERT(s->ops->open(s, ARN, "app", on_done, &o) == 0);
    CU_ASSERT(o.error == KEFO_ERR_LEASE_STORE);
    CU_ASSERT(strstr(o.message, "not a regular file") != NULL);
    kefo__lease_store_del(s);
    rmdir(path);
  }
  remove_store_files(path);
  CU_ASSERT(kefo__file_store_new(NULL, path, NULL) ==
            KEFO_ERR_INVALID_ARGUMENT);
}

static int failmalloc_scenario(const kefo_mem *mem, void *arg) {
  const char *path = arg;
  kefo_lease_store *s = NULL;
  outcome o;
  kefo_checkpoint_entry e[3] = {{"shardId-000000000002", SEQ1, 0},
                                {"shardId-000000000000", SEQ2, 1},
                                {"shardId-000000000001", SEQ3, 0}};
  int rv;

  remove_store_files(path);
  rv = kefo__file_store_new(&s, path, mem);
  if (rv != 0) {
    return rv;
  }
  memset(&o, 0, sizeof(o));
  rv = s->ops->open(s, ARN, "app", on_done, &o);
  if (rv == 0 && o.error == 0) {
    rv = s->ops->checkpoint(s, e, 3, on_done, &o);
  }
  if (rv == 0 && o.error == 0) {
    rv = s->ops->read(s, on_read, &o);
  }
  if (rv == 0 && o.error == 0 && o.n != 3) {
    rv = -1;
  }
  kefo__lease_store_del(s);
  return rv != 0 ? rv : o.error;
}

static void test_failmalloc(void) {
  char path[4096];

  tmp_path(path, sizeof(path), "fm");
  kefo_failmalloc_run(failmalloc_scenario, path);
  remove_store_files(path);
}

int kefo_add_lease_store_suite(void) {
  CU_pSuite s = CU_add_suite("lease_store", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "order", test_order) ||
      !CU_add_test(s, "memory store", test_memory_store) ||
      !CU_add_test(s, "file round trip", test_file_round_trip) ||
      !CU_add_test(s, "file lock", test_file_lock) ||
      !CU_add_test(s, "file malformed", test_file_malformed) ||
      !CU_add_test(s, "failmalloc", test_failmalloc)) {
    return CU_get_error();
  }
  return 0;
}
