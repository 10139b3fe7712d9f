/*
 * Configuration: the table of keys (Flink's KinesisSourceConfigOptions and
 * AWSConfigOptions names where one exists), their types, limits and
 * defaults, the key=value file parser, and typed getters for the modules.
 */
#ifndef KEFO_CONFIG_H
#define KEFO_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include <kefo/kefo.h>

/*
 * Key names. Modules use these macros rather than string literals, so a
 * typo is a compile error instead of a getter quietly returning 0.
 */
#define KEFO_CFG_STREAM_NAME "source.stream.name"
#define KEFO_CFG_STREAM_ARN "source.stream.arn"
#define KEFO_CFG_READER_TYPE "source.reader.type"
#define KEFO_CFG_EFO_CONSUMER_NAME "source.efo.consumer.name"
#define KEFO_CFG_EFO_LIFECYCLE "source.efo.lifecycle"
#define KEFO_CFG_EFO_CONSUMER_ARN "source.efo.consumer.arn"
#define KEFO_CFG_EFO_SUBSCRIPTION_TIMEOUT "source.efo.subscription.timeout"
#define KEFO_CFG_EFO_DEREGISTER_TIMEOUT "source.efo.deregister.timeout"
#define KEFO_CFG_EFO_EVENT_MAX_BYTES "source.efo.event.max-bytes"
#define KEFO_CFG_EFO_EVENT_WHOLE_MAX_BYTES "source.efo.event.whole-max-bytes"
#define KEFO_CFG_EFO_DESCRIBE_MIN_DELAY                                        \
  "source.efo.describe.retry-strategy.delay.min"
#define KEFO_CFG_EFO_DESCRIBE_MAX_DELAY                                        \
  "source.efo.describe.retry-strategy.delay.max"
#define KEFO_CFG_EFO_DESCRIBE_MAX_ATTEMPTS                                     \
  "source.efo.describe.retry-strategy.attempts.max"
#define KEFO_CFG_INIT_POSITION "source.init.position"
#define KEFO_CFG_INIT_TIMESTAMP "source.init.timestamp"
#define KEFO_CFG_SHARD_DISCOVERY_INTERVAL "source.shard.discovery.interval"
#define KEFO_CFG_GET_RECORDS_MAX "source.shard.get-records.max-record-count"
#define KEFO_CFG_EMPTY_FETCH_INTERVAL                                          \
  "source.reader.empty-records-fetch-interval"
#define KEFO_CFG_NONEMPTY_FETCH_INTERVAL                                       \
  "source.reader.nonempty-records-fetch-interval"
#define KEFO_CFG_SHARD_BUFFER_MAX_BYTES "source.shard.buffer.max-bytes"
#define KEFO_CFG_KPL_DEAGGREGATE "source.kpl.deaggregate"
#define KEFO_CFG_LEASE_STORE "source.lease.store"
#define KEFO_CFG_LEASE_FILE "source.lease.file"
#define KEFO_CFG_LEASE_TABLE "source.lease.table"
#define KEFO_CFG_LEASE_WORKER_ID "source.lease.worker-id"
#define KEFO_CFG_LEASE_DURATION "source.lease.duration"
#define KEFO_CFG_LEASE_RENEWAL_INTERVAL "source.lease.renewal-interval"
#define KEFO_CFG_LEASE_MAX_PER_WORKER "source.lease.max-leases-per-worker"
#define KEFO_CFG_LEASE_ENDPOINT "source.lease.dynamodb.endpoint"
#define KEFO_CFG_CHECKPOINT_INTERVAL "source.checkpoint.interval"
#define KEFO_CFG_WATERMARK_OUT_OF_ORDERNESS "source.watermark.out-of-orderness"
#define KEFO_CFG_WATERMARK_IDLE_TIMEOUT "source.watermark.idle-timeout"
#define KEFO_CFG_WATERMARK_MAX_DRIFT "source.watermark.alignment.max-drift"
#define KEFO_CFG_SINK_STREAM_NAME "sink.stream.name"
#define KEFO_CFG_SINK_STREAM_ARN "sink.stream.arn"
#define KEFO_CFG_SINK_BATCH_MAX_SIZE "sink.batch.max-size"
#define KEFO_CFG_SINK_MAX_INFLIGHT "sink.requests.max-inflight"
#define KEFO_CFG_SINK_MAX_BUFFERED "sink.requests.max-buffered"
#define KEFO_CFG_SINK_BUFFER_MAX_BYTES "sink.buffer.max-bytes"
#define KEFO_CFG_SINK_FLUSH_SIZE "sink.flush-buffer.size"
#define KEFO_CFG_SINK_FLUSH_TIMEOUT "sink.flush-buffer.timeout"
#define KEFO_CFG_SINK_FAIL_ON_ERROR "sink.fail-on-error"
#define KEFO_CFG_SINK_AGGREGATION "sink.aggregation.enabled"
#define KEFO_CFG_SINK_AGGREGATION_MAX_SIZE "sink.aggregation.max-size"
#define KEFO_CFG_SINK_AGGREGATION_MAX_COUNT "sink.aggregation.max-count"
#define KEFO_CFG_SINK_RECORD_TTL "sink.record.ttl"
#define KEFO_CFG_SINK_RATE_LIMIT "sink.rate-limit"
#define KEFO_CFG_SINK_ORDERED "sink.ordered"
#define KEFO_CFG_SINK_PROTOCOL "sink.protocol"
#define KEFO_CFG_SINK_STOP_TIMEOUT "sink.stop.timeout"
#define KEFO_CFG_AWS_REGION "aws.region"
#define KEFO_CFG_AWS_ENDPOINT "aws.endpoint"
#define KEFO_CFG_AWS_CA_FILE "aws.ca.file"
#define KEFO_CFG_HTTP_REQUEST_TIMEOUT "aws.http.request-timeout"
#define KEFO_CFG_HTTP_CONNECT_TIMEOUT "aws.http.connect-timeout"
#define KEFO_CFG_CREDENTIALS_PROVIDER "aws.credentials.provider"
#define KEFO_CFG_ACCESS_KEY_ID "aws.credentials.provider.basic.accesskeyid"
#define KEFO_CFG_SECRET_KEY "aws.credentials.provider.basic.secretkey"
#define KEFO_CFG_PROFILE_NAME "aws.credentials.provider.profile.name"
#define KEFO_CFG_PROFILE_PATH "aws.credentials.provider.profile.path"
#define KEFO_CFG_ROLE_ARN "aws.credentials.provider.role.arn"
#define KEFO_CFG_ROLE_SESSION_NAME "aws.credentials.provider.role.sessionName"
#define KEFO_CFG_ROLE_EXTERNAL_ID "aws.credentials.provider.role.externalId"
#define KEFO_CFG_WEB_IDENTITY_TOKEN_FILE                                       \
  "aws.credentials.provider.webIdentityToken.file"
#define KEFO_CFG_RETRY_MIN_DELAY "retry-strategy.delay.min"
#define KEFO_CFG_RETRY_MAX_DELAY "retry-strategy.delay.max"
#define KEFO_CFG_RETRY_MAX_ATTEMPTS "retry-strategy.attempts.max"

/* Values of the enumerated keys, as kefo__config_get_enum() returns them. */
typedef enum { KEFO_READER_EFO, KEFO_READER_POLLING } kefo_reader_type;
typedef enum {
  KEFO_LIFECYCLE_JOB_MANAGED,
  KEFO_LIFECYCLE_SELF_MANAGED
} kefo_consumer_lifecycle;
typedef enum {
  KEFO_POSITION_LATEST,
  KEFO_POSITION_TRIM_HORIZON,
  KEFO_POSITION_AT_TIMESTAMP
} kefo_init_position;
typedef enum { KEFO_PROTOCOL_CBOR, KEFO_PROTOCOL_JSON } kefo_sink_protocol;
typedef enum {
  KEFO_LEASE_STORE_FILE,
  KEFO_LEASE_STORE_DYNAMODB,
  /* Checkpoints kept for the life of the consumer only. */
  KEFO_LEASE_STORE_MEMORY
} kefo_lease_store_type;
typedef enum {
  KEFO_CREDENTIALS_AUTO,
  KEFO_CREDENTIALS_BASIC,
  KEFO_CREDENTIALS_ENV_VAR,
  KEFO_CREDENTIALS_PROFILE,
  KEFO_CREDENTIALS_ASSUME_ROLE,
  KEFO_CREDENTIALS_WEB_IDENTITY_TOKEN
} kefo_credentials_provider_type;

/* A config file, or one line of it, may be no longer than this. */
#define KEFO_CONFIG_FILE_MAX 65536
#define KEFO_CONFIG_LINE_MAX 4096

/*
 * Parses |len| bytes of key=value lines into |cfg|, as
 * kefo_config_load_file() does with a file's contents; |name| (such as
 * the path; NULL: "(config)") starts each error message. All or nothing:
 * on error |cfg| is unchanged. Returns 0, KEFO_ERR_INVALID_ARGUMENT,
 * KEFO_ERR_CONFIG or KEFO_ERR_NOMEM.
 */
int kefo__config_load_buffer(kefo_config *cfg, const uint8_t *data, size_t len,
                             const char *name, char *err, size_t errlen);

/*
 * Checks the rules between keys: a stream is named; AT_TIMESTAMP needs
 * source.init.timestamp; with the EFO reader, JOB_MANAGED needs a consumer
 * name and SELF_MANAGED a consumer ARN; the dynamodb lease store needs a
 * table; BASIC credentials need both keys; ASSUME_ROLE needs a role ARN;
 * each retry strategy's min delay is at most its max; the stream's and
 * the consumer's ARN are in one region, and in aws.region's when set.
 * Writes the first broken rule, naming the key, to |err|. Returns 0,
 * KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_CONFIG.
 */
int kefo_config_validate(const kefo_config *cfg, char *err, size_t errlen);

/*
 * The producer's rules (kefo_producer_new): its stream named once, by
 * sink.stream.name or sink.stream.arn, the ARN shaped as a stream's and
 * in aws.region's region when that is set. Writes the first broken rule
 * to |err| as kefo_config_validate does.
 *
 * Returns 0 or KEFO_ERR_CONFIG.
 */
int kefo__config_validate_sink(const kefo_config *cfg, char *err,
                               size_t errlen);

/*
 * Makes |*out| an independent copy of |src| allocating through |mem|
 * (NULL: default), so an object can keep its settings after the
 * application frees its config. Returns 0, KEFO_ERR_INVALID_ARGUMENT or
 * KEFO_ERR_NOMEM.
 */
int kefo__config_dup(kefo_config **out, const kefo_config *src,
                     const kefo_mem *mem);

/*
 * Typed getters: the value set, or the key's default. |key| must be a key
 * of the getter's type (use the KEFO_CFG_* macros); for any other key they
 * return 0 (NULL for kefo__config_get_str, -1 for kefo__config_get_time_ms).
 */

/* A duration key, in milliseconds (>= 0). */
int64_t kefo__config_get_ms(const kefo_config *cfg, const char *key);

/* An integer key. */
int64_t kefo__config_get_int(const kefo_config *cfg, const char *key);

/* A size key, in bytes. */
uint64_t kefo__config_get_size(const kefo_config *cfg, const char *key);

/* A boolean key: 1 or 0. */
int kefo__config_get_bool(const kefo_config *cfg, const char *key);

/* An enumerated key: the index of its value (kefo_reader_type, ...). */
int kefo__config_get_enum(const kefo_config *cfg, const char *key);

/* A timestamp key, in milliseconds since the epoch; -1 when unset. */
int64_t kefo__config_get_time_ms(const kefo_config *cfg, const char *key);

/*
 * A text key (names, ARNs, paths, the endpoint URL), NULL when unset and
 * without default. Unlike kefo_config_get(), a secret is returned as is:
 * only the credentials provider should ask for it. Valid until the key is
 * set again or |cfg| is deleted.
 */
const char *kefo__config_get_str(const kefo_config *cfg, const char *key);

/* The allocator |cfg| was made with (kefo_config_new2): the consumer
   made from it allocates through it too. */
const kefo_mem *kefo__config_mem(const kefo_config *cfg);

/* Returns 1 when |key| was set (by kefo_config_set or a file), else 0. */
int kefo_config_is_set(const kefo_config *cfg, const char *key);

/* The number of keys, and the name of key |i| (NULL when out of range),
   so tools and tests can list every key. */
size_t kefo__config_key_count(void);
const char *kefo__config_key_name(size_t i);

/*
 * The rest of key |i|'s entry, for tools/gen_config_man.c, which prints
 * kefo-config(5) from them so the page cannot drift from the table. Each
 * returns NULL (0 for kefo__config_key_secret) when |i| is out of range.
 */

/* "text", "URL", "enum", "boolean", "duration", "integer", "size" or
   "timestamp". */
const char *kefo__config_key_type(size_t i);

/* The default as a value of the key would be written; NULL: none (the
   key's doc says what unset means). */
const char *kefo__config_key_default(size_t i);

/* The values of an enum or boolean key, NULL-terminated; else NULL. */
const char *const *kefo__config_key_choices(size_t i);

/* What the key does, in a sentence or a few. */
const char *kefo__config_key_doc(size_t i);

/* 1 when the key's value is never shown (kefo_config_get gives "****"). */
int kefo__config_key_secret(size_t i);

/*
 * Writes what key |i| accepts to |out| as one line of text: a range
 * ("1s to 10min"), a length and the characters allowed, or the choices.
 * Cut to |outlen| bytes; "" when |i| is out of range.
 */
void kefo__config_key_limits(size_t i, char *out, size_t outlen);

#endif /* KEFO_CONFIG_H */
