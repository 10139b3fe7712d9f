/*
 * The EFO consumer manager: for JOB_MANAGED, registers the stream consumer
 * (or reuses the one of that name), waits until it is ACTIVE, and
 * deregisters it on a graceful stop; for SELF_MANAGED, only checks that
 * the given consumer exists and is ACTIVE. One manager per consumer
 * process, so DescribeStreamConsumer is called once for all shards, not
 * once per shard (its limit is 20 calls a second per stream).
 */
#ifndef KEFO_CONSUMER_MANAGER_H
#define KEFO_CONSUMER_MANAGER_H

#include "aws/aws_client.h"

typedef enum {
  KEFO_EFO_JOB_MANAGED,
  KEFO_EFO_SELF_MANAGED,
  /* No stream consumer at all (the polling reader): only the stream's ARN
     is resolved, and the ready callback gives an empty consumer ARN. */
  KEFO_EFO_NO_CONSUMER
} kefo_efo_lifecycle;

typedef struct kefo_consumer_manager_options {
  kefo_efo_lifecycle lifecycle;
  /* The stream, by ARN or by name (one of them). */
  const char *stream_arn;
  const char *stream_name;
  /* JOB_MANAGED: the consumer's name. */
  const char *consumer_name;
  /* SELF_MANAGED: the consumer's ARN. */
  const char *consumer_arn;
  /* Retries of the calls, and the polling while the consumer is CREATING
     or DELETING (Flink's DescribeStreamConsumer strategy). */
  kefo_retry_strategy retry;
  kefo_retry_strategy describe_retry;
  /* How long a graceful stop waits for the consumer to be gone. */
  uint32_t deregister_timeout_ms;
} kefo_consumer_manager_options;

typedef struct kefo_consumer_manager kefo_consumer_manager;

/*
 * The outcome of start: |error| 0 with the consumer's and the stream's
 * ARNs (lent), or an error with |info|: KEFO_ERR_AWS with the AWS type
 * (a SELF_MANAGED consumer that does not exist gives
 * ResourceNotFoundException), or KEFO_ERR_TIMEOUT when the consumer did
 * not become ACTIVE within the describe strategy's attempts.
 */
typedef void (*kefo_consumer_manager_ready_cb)(int error,
                                               const char *consumer_arn,
                                               const char *stream_arn,
                                               const kefo_error_info *info,
                                               void *user_data);

/* The outcome of stop: 0 once the consumer is gone (or nothing was to be
   done), KEFO_ERR_TIMEOUT after deregister_timeout_ms, or an error. */
typedef void (*kefo_consumer_manager_done_cb)(int error,
                                              const kefo_error_info *info,
                                              void *user_data);

/*
 * Starts the manager: resolves the stream's ARN when given its name, then
 * registers or checks the consumer and waits until it is ACTIVE. |svc|
 * must outlive the manager; |opts| strings are copied.
 *
 * Returns 0 (|cb| will be called once), KEFO_ERR_INVALID_ARGUMENT (a
 * required option is missing for the lifecycle) or KEFO_ERR_NOMEM.
 */
int kefo__consumer_manager_start(kefo_aws_client *client,
                                 const kefo_aws_service *svc,
                                 const kefo_consumer_manager_options *opts,
                                 kefo_consumer_manager_ready_cb cb,
                                 void *user_data, kefo_consumer_manager **out);

/*
 * Graceful stop: JOB_MANAGED deregisters the consumer and waits until it
 * is gone, at most deregister_timeout_ms; SELF_MANAGED does nothing.
 * A start still in flight is abandoned (its callback is not called).
 *
 * Returns 0 (|cb| will be called once) or KEFO_ERR_NOMEM.
 */
int kefo__consumer_manager_stop(kefo_consumer_manager *m,
                                kefo_consumer_manager_done_cb cb,
                                void *user_data);

/*
 * Abandons a stop in progress (a second signal: stop at once): the call in
 * flight is cancelled and the stop's callback never runs. A job-managed
 * consumer being deregistered may stay registered.
 */
void kefo__consumer_manager_abort(kefo_consumer_manager *m);

/* Frees |m|, cancelling whatever is in flight without callbacks. */
void kefo__consumer_manager_del(kefo_consumer_manager *m);

/*
 * Non-zero when this manager registered its consumer itself
 * (RegisterStreamConsumer succeeded), rather than reusing one that
 * existed: a start that fails after that deregisters it.
 */
int kefo__consumer_manager_registered(const kefo_consumer_manager *m);

/* DescribeStreamConsumer calls made so far (one per poll, not per shard). */
uint32_t kefo__consumer_manager_describe_calls(const kefo_consumer_manager *m);

#endif /* KEFO_CONSUMER_MANAGER_H */
