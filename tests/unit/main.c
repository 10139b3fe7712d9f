/*
 * The unit test binary: every module's CUnit suite, run in one process.
 * `tests/unit/main [SUITE]` runs one suite by name.
 */
#include <stdio.h>
#include <string.h>

#include <CUnit/Basic.h>

#include "tests/unit/suites.h"

typedef int (*add_suite_fn)(void);

static const add_suite_fn suites[] = {
    kefo_add_buf_suite,
    kefo_add_crc32_suite,
    kefo_add_base64_suite,
    kefo_add_json_writer_suite,
    kefo_add_event_stream_suite,
    kefo_add_sigv4_suite,
    kefo_add_kpl_suite,
    kefo_add_kpl_aggregate_suite,
    kefo_add_retry_suite,
    kefo_add_endpoint_suite,
    kefo_add_profile_file_suite,
    kefo_add_region_suite,
    kefo_add_aws_setup_suite,
    kefo_add_credentials_suite,
    kefo_add_subscription_suite,
    kefo_add_shard_graph_suite,
    kefo_add_config_suite,
    kefo_add_lease_store_suite,
    kefo_add_lease_policy_suite,
    kefo_add_poll_core_suite,
    kefo_add_records_reader_suite,
    kefo_add_records_split_suite,
    kefo_add_h2_frame_scan_suite,
    kefo_add_consumer_failmalloc_suite,
    kefo_add_assembly_suite,
    kefo_add_align_policy_suite,
    kefo_add_producer_core_suite,
    kefo_add_time_suite,
    kefo_add_json_string_suite,
    kefo_add_fifo_arena_suite,
    kefo_add_prom_text_suite,
    kefo_add_log_suite,
    kefo_add_md5_suite,
    kefo_add_sha256_many_suite,
    kefo_add_cbor_suite,
    kefo_add_put_answer_cbor_suite,
};

int main(int argc, char **argv) {
  size_t i;
  unsigned failures;

  if (CU_initialize_registry() != CUE_SUCCESS) {
    return CU_get_error();
  }
  for (i = 0; i < sizeof(suites) / sizeof(suites[0]); ++i) {
    if (suites[i]() != CUE_SUCCESS) {
      fprintf(stderr, "cannot register suite: %s\n", CU_get_error_msg());
      CU_cleanup_registry();
      return CU_get_error();
    }
  }
  CU_basic_set_mode(CU_BRM_VERBOSE);
  if (argc > 1) {
    CU_pSuite s = CU_get_suite(argv[1]);
    if (s == NULL) {
      fprintf(stderr, "no suite named %s\n", argv[1]);
      CU_cleanup_registry();
      return 1;
    }
    CU_basic_run_suite(s);
  } else {
    CU_basic_run_tests();
  }
  failures = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
  CU_cleanup_registry();
  return failures == 0 && CU_get_error() == CUE_SUCCESS ? 0 : 1;
}
