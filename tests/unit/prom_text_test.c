/*
 * The Prometheus text writer (base/prom_text.c) and the producer's
 * metrics rendered through it: exact exposition text, escaping, number
 * spelling, and every allocation failing in turn.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "base/prom_text.h"
#include "runtime/metrics.h"
#include "tests/support/failmalloc.h"
#include "tests/unit/suites.h"

static void test_exposition(void) {
  static const char want[] =
      "# HELP kefo_x_total Records \\\\ seen.\\nTwo lines \"quoted\".\n"
      "# TYPE kefo_x_total counter\n"
      "kefo_x_total{stream=\"s\",shard=\"shardId-0\"} 18446744073709551615\n"
      "kefo_x_total{stream=\"a\\\\b\\\"c\\nd\",shard=\"\"} 0\n"
      "# HELP kefo_up Up.\n"
      "# TYPE kefo_up gauge\n"
      "kefo_up -42\n"
      "kefo_up_seconds 0.1\n"
      "kefo_up_seconds{k=\"v\"} +Inf\n"
      "kefo_up_seconds{k=\"v\"} NaN\n";
  kefo_prom_label l[2] = {{"stream", "s"}, {"shard", "shardId-0"}};
  kefo_prom_label odd[2] = {{"stream", "a\\b\"c\nd"}, {"shard", NULL}};
  kefo_prom_label k = {"k", "v"};
  kefo_prom_text w;
  kefo_buf b;

  kefo__buf_init(&b, NULL);
  kefo__prom_text_init(&w, &b);
  kefo__prom_text_family(&w, "kefo_x_total", "counter",
                         "Records \\ seen.\nTwo lines \"quoted\".");
  kefo__prom_text_u64(&w, "kefo_x_total", NULL, l, 2, UINT64_MAX);
  kefo__prom_text_u64(&w, "kefo_x_total", NULL, odd, 2, 0);
  kefo__prom_text_family(&w, "kefo_up", "gauge", "Up.");
  kefo__prom_text_i64(&w, "kefo_up", NULL, NULL, 0, -42);
  kefo__prom_text_f64(&w, "kefo_up", "_seconds", NULL, 0, 0.1);
  kefo__prom_text_f64(&w, "kefo_up", "_seconds", &k, 1, INFINITY);
  kefo__prom_text_f64(&w, "kefo_up", "_seconds", &k, 1, NAN);
  CU_ASSERT_EQUAL(w.error, 0);
  CU_ASSERT_STRING_EQUAL(kefo__buf_cstr(&b), want);
  kefo__buf_free(&b);
}

static void test_histogram(void) {
  static const char want[] = "h_bucket{s=\"x\",le=\"0.001\"} 1\n"
                             "h_bucket{s=\"x\",le=\"0.5\"} 1\n"
                             "h_bucket{s=\"x\",le=\"2.5\"} 4\n"
                             "h_bucket{s=\"x\",le=\"+Inf\"} 6\n"
                             "h_sum{s=\"x\"} 12.25\n"
                             "h_count{s=\"x\"} 6\n";
  static const double bounds[] = {0.001, 0.5, 2.5};
  static const uint64_t counts[] = {1, 0, 3, 2};
  kefo_prom_label l = {"s", "x"};
  kefo_prom_text w;
  kefo_buf b;

  kefo__buf_init(&b, NULL);
  kefo__prom_text_init(&w, &b);
  kefo__prom_text_histogram(&w, "h", &l, 1, bounds, counts, 3, 12.25);
  CU_ASSERT_EQUAL(w.error, 0);
  CU_ASSERT_STRING_EQUAL(kefo__buf_cstr(&b), want);
  kefo__buf_free(&b);
}

static void test_doubles(void) {
  char s[40];

  kefo__prom_text_format_double(s, sizeof(s), 0.0025);
  CU_ASSERT_STRING_EQUAL(s, "0.0025");
  kefo__prom_text_format_double(s, sizeof(s), 1234.5);
  CU_ASSERT_STRING_EQUAL(s, "1234.5");
  kefo__prom_text_format_double(s, sizeof(s), -INFINITY);
  CU_ASSERT_STRING_EQUAL(s, "-Inf");
  /* 15 digits would lose it: 17 it is, and it reads back exactly. */
  kefo__prom_text_format_double(s, sizeof(s), 0.1 + 0.2);
  CU_ASSERT_STRING_EQUAL(s, "0.30000000000000004");
  kefo__prom_text_format_double(s, sizeof(s), 1733400000.123);
  CU_ASSERT_STRING_EQUAL(s, "1733400000.123");
}

static void test_millis(void) {
  static const char want[] = "m 0\nm 0.25\nm 12\nm -1.005\nm 0.001\n"
                             "m 1796476749.27\nm -9223372036854775.808\n"
                             "u 18446744073709551615\nu 0\n";
  kefo_prom_text w;
  kefo_buf b;

  kefo__buf_init(&b, NULL);
  kefo__prom_text_init(&w, &b);
  kefo__prom_text_millis(&w, "m", NULL, NULL, 0, 0);
  kefo__prom_text_millis(&w, "m", NULL, NULL, 0, 250);
  kefo__prom_text_millis(&w, "m", NULL, NULL, 0, 12000);
  kefo__prom_text_millis(&w, "m", NULL, NULL, 0, -1005);
  kefo__prom_text_millis(&w, "m", NULL, NULL, 0, 1);
  kefo__prom_text_millis(&w, "m", NULL, NULL, 0, 1796476749270);
  kefo__prom_text_millis(&w, "m", NULL, NULL, 0, INT64_MIN);
  kefo__prom_text_u64(&w, "u", NULL, NULL, 0, UINT64_MAX);
  kefo__prom_text_u64(&w, "u", NULL, NULL, 0, 0);
  CU_ASSERT_EQUAL(w.error, 0);
  CU_ASSERT_STRING_EQUAL(kefo__buf_cstr(&b), want);
  kefo__buf_free(&b);
}

/* Labels escaped once and reused: the same text as the labels written
   sample by sample. */
static void test_pre_escaped(void) {
  kefo_prom_label l[2] = {{"stream", "a\\b\"c\nd"}, {"shard", "s-1"}};
  kefo_prom_text w1, w2;
  kefo_buf a, b, labels;

  kefo__buf_init(&a, NULL);
  kefo__buf_init(&b, NULL);
  kefo__buf_init(&labels, NULL);
  CU_ASSERT_EQUAL(kefo__prom_text_label_text(&labels, l, 2), 0);
  CU_ASSERT_EQUAL(labels.len,
                  strlen("stream=\"a\\\\b\\\"c\\nd\",shard=\"s-1\""));
  kefo__prom_text_init(&w1, &a);
  kefo__prom_text_init(&w2, &b);
  kefo__prom_text_u64(&w1, "x_total", NULL, l, 2, 18446744073709551615u);
  kefo__prom_text_u64_pre(&w2, "x_total", (const char *)labels.data, labels.len,
                          NULL, 18446744073709551615u);
  kefo__prom_text_millis(&w1, "t_seconds", NULL, l, 2, -1005);
  kefo__prom_text_millis_pre(&w2, "t_seconds", (const char *)labels.data,
                             labels.len, NULL, -1005);
  kefo__prom_text_u64_pre(&w2, "s", (const char *)labels.data, labels.len,
                          ",state=\"paused\"", 1);
  CU_ASSERT_EQUAL(w1.error, 0);
  CU_ASSERT_EQUAL(w2.error, 0);
  CU_ASSERT_STRING_EQUAL(
      kefo__buf_cstr(&b),
      "x_total{stream=\"a\\\\b\\\"c\\nd\",shard=\"s-1\"} "
      "18446744073709551615\n"
      "t_seconds{stream=\"a\\\\b\\\"c\\nd\",shard=\"s-1\"} -1.005\n"
      "s{stream=\"a\\\\b\\\"c\\nd\",shard=\"s-1\",state=\"paused\"} 1\n");
  /* Everything but the last line is what the unescaped path wrote. */
  CU_ASSERT_EQUAL(memcmp(a.data, b.data, a.len), 0);
  kefo__buf_free(&a);
  kefo__buf_free(&b);
  kefo__buf_free(&labels);
}

static void test_producer_text(void) {
  const char *one[] = {"my\"stream"};
  kefo_put_stats st;
  kefo_buf b;
  const char *t;

  memset(&st, 0, sizeof(st));
  st.buffered_records = 3;
  st.acknowledged = 1000;
  st.throttled = 7;
  st.bytes_sent = 123456;
  kefo__buf_init(&b, NULL);
  CU_ASSERT_EQUAL_FATAL(kefo__metrics_render_producer(&b, one, &st, 1), 0);
  t = (const char *)b.data;
  CU_ASSERT_PTR_NOT_NULL(
      strstr(t, "# TYPE kefo_producer_buffered_records gauge\n"
                "kefo_producer_buffered_records{stream=\"my\\\"stream\"} 3\n"));
  CU_ASSERT_PTR_NOT_NULL(
      strstr(t, "\nkefo_producer_records_acked_total{stream=\"my\\\"stream\"} "
                "1000\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(
      t, "\nkefo_producer_records_throttled_total{stream=\"my\\\"stream\"} "
         "7\n"));
  CU_ASSERT_PTR_NOT_NULL(strstr(
      t, "\nkefo_producer_sent_bytes_total{stream=\"my\\\"stream\"} 123456\n"));
  CU_ASSERT_PTR_NOT_NULL(
      strstr(t, "# TYPE kefo_producer_records_failed_total counter\n"));
  /* A second render replaces the first, not appends to it. */
  CU_ASSERT_EQUAL(kefo__metrics_render_producer(&b, one, &st, 1), 0);
  CU_ASSERT_PTR_NULL(strstr(strstr((const char *)b.data, "# HELP") + 1,
                            "# HELP kefo_producer_buffered_records"));
  kefo__buf_free(&b);
}

/* Several streams (kefo_producer_put_to): each family once, its samples
   one per stream in the order given, right after its TYPE line. */
static void test_producer_streams(void) {
  const char *streams[] = {"a", "b", "c"};
  kefo_put_stats st[3];
  kefo_buf b;
  const char *t;

  memset(st, 0, sizeof(st));
  st[0].acknowledged = 1;
  st[1].acknowledged = 20;
  st[2].acknowledged = 300;
  kefo__buf_init(&b, NULL);
  CU_ASSERT_EQUAL_FATAL(kefo__metrics_render_producer(&b, streams, st, 3), 0);
  t = (const char *)b.data;
  CU_ASSERT_PTR_NOT_NULL(
      strstr(t, "# TYPE kefo_producer_records_acked_total counter\n"
                "kefo_producer_records_acked_total{stream=\"a\"} 1\n"
                "kefo_producer_records_acked_total{stream=\"b\"} 20\n"
                "kefo_producer_records_acked_total{stream=\"c\"} 300\n"));
  /* One TYPE line a family, as the text format wants. */
  CU_ASSERT_PTR_NULL(
      strstr(strstr(t, "# TYPE kefo_producer_records_acked_total") + 1,
             "# TYPE kefo_producer_records_acked_total"));
  kefo__buf_free(&b);
}

/* Writes a little of everything through |mem|; the writer's sticky error
   must be the one answer, whichever allocation fails. */
static int write_all(const kefo_mem *mem, void *arg) {
  static const double bounds[] = {0.001, 0.5};
  static const uint64_t counts[] = {1, 2, 3};
  kefo_prom_label l[2] = {{"stream", "x\"y"}, {"shard", "shardId-1"}};
  kefo_put_stats st;
  kefo_prom_text w;
  kefo_buf b;
  int rv, i;

  (void)arg;
  kefo__buf_init(&b, mem);
  kefo__prom_text_init(&w, &b);
  for (i = 0; i < 40; ++i) {
    kefo__prom_text_family(&w, "kefo_a_total", "counter", "A\\b\nc.");
    kefo__prom_text_u64(&w, "kefo_a_total", NULL, l, 2, (uint64_t)i);
    kefo__prom_text_f64(&w, "kefo_a_seconds", NULL, l, 1, 0.25);
    kefo__prom_text_histogram(&w, "kefo_h", l, 2, bounds, counts, 2, 1.5);
  }
  rv = w.error;
  if (rv == 0) {
    memset(&st, 0, sizeof(st));
    const char *one[] = {"s"};
    rv = kefo__metrics_render_producer(&b, one, &st, 1);
  }
  kefo__buf_free(&b);
  return rv;
}

/* As kefo_failmalloc_run, and each failed run must say so. */
static void test_failmalloc(void) {
  kefo_failmalloc fm;
  long total, i;

  kefo_failmalloc_init(&fm, -1);
  CU_ASSERT_EQUAL(write_all(&fm.mem, NULL), 0);
  CU_ASSERT_EQUAL(fm.live, 0);
  total = fm.count;
  CU_ASSERT(total > 1);
  for (i = 0; i < total; ++i) {
    kefo_failmalloc_init(&fm, i);
    CU_ASSERT_EQUAL(write_all(&fm.mem, NULL), KEFO_ERR_NOMEM);
    CU_ASSERT_EQUAL(fm.live, 0);
  }
}

int kefo_add_prom_text_suite(void) {
  CU_pSuite s = CU_add_suite("prom_text", NULL, NULL);

  if (s == NULL || !CU_add_test(s, "exposition", test_exposition) ||
      !CU_add_test(s, "histogram", test_histogram) ||
      !CU_add_test(s, "doubles", test_doubles) ||
      !CU_add_test(s, "millis", test_millis) ||
      !CU_add_test(s, "pre-escaped labels", test_pre_escaped) ||
      !CU_add_test(s, "producer_text", test_producer_text) ||
      !CU_add_test(s, "producer_streams", test_producer_streams) ||
      !CU_add_test(s, "failmalloc", test_failmalloc)) {
    return CU_get_error();
  }
  return CUE_SUCCESS;
}
