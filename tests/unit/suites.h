/*
 * One function per module suite; tests/unit/main.c registers them all.
 * Each returns 0 or a CUnit error code.
 */
#ifndef KEFO_TESTS_SUITES_H
#define KEFO_TESTS_SUITES_H

int kefo_add_buf_suite(void);
int kefo_add_fifo_arena_suite(void);
int kefo_add_crc32_suite(void);
int kefo_add_md5_suite(void);
int kefo_add_sha256_many_suite(void);
int kefo_add_cbor_suite(void);
int kefo_add_put_answer_cbor_suite(void);
int kefo_add_base64_suite(void);
int kefo_add_json_writer_suite(void);
int kefo_add_event_stream_suite(void);
int kefo_add_sigv4_suite(void);
int kefo_add_kpl_suite(void);
int kefo_add_kpl_aggregate_suite(void);
int kefo_add_retry_suite(void);
int kefo_add_log_suite(void);
int kefo_add_endpoint_suite(void);
int kefo_add_profile_file_suite(void);
int kefo_add_region_suite(void);
int kefo_add_aws_setup_suite(void);
int kefo_add_credentials_suite(void);
int kefo_add_subscription_suite(void);
int kefo_add_poll_core_suite(void);
int kefo_add_shard_graph_suite(void);
int kefo_add_config_suite(void);
int kefo_add_lease_store_suite(void);
int kefo_add_lease_policy_suite(void);
int kefo_add_records_reader_suite(void);
int kefo_add_records_split_suite(void);
int kefo_add_h2_frame_scan_suite(void);
int kefo_add_consumer_failmalloc_suite(void);
int kefo_add_assembly_suite(void);
int kefo_add_prom_text_suite(void);
int kefo_add_align_policy_suite(void);
int kefo_add_time_suite(void);
int kefo_add_json_string_suite(void);
int kefo_add_producer_core_suite(void);

#endif /* KEFO_TESTS_SUITES_H */
