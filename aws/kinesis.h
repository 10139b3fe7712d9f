/*
 * Kinesis calls that need more than one JSON request and answer:
 * ListShards through every page, and SubscribeToShard, whose answer is an
 * event stream read as it arrives. The other operations (DescribeStream-
 * Summary, Register/Describe/List/DeregisterStreamConsumer,
 * GetShardIterator, GetRecords, PutRecord(s)) are plain kefo__aws_call_start
 * calls with the body the API documents.
 */
#ifndef KEFO_KINESIS_H
#define KEFO_KINESIS_H

#include "aws/aws_client.h"
#include "aws/records_reader.h"
#include "aws/event_stream.h"

/*
 * Receives every shard of a stream: |shards| is a JSON array of Shard
 * objects from all pages (lent: valid during the call), or |error| with
 * |info|.
 */
typedef void (*kefo_kinesis_shards_cb)(int error, const cJSON *shards,
                                       const kefo_error_info *info,
                                       void *user_data);

typedef struct kefo_kinesis_list kefo_kinesis_list;

/*
 * Lists all shards of the stream named |stream_name| or with ARN
 * |stream_arn| (one of them NULL), following NextToken. |shard_filter| is
 * a ShardFilter object (copied) or NULL. |page_size| sets MaxResults (0:
 * the service's default, 1,000). |out| may be NULL.
 *
 * Returns 0 (|cb| will be called once), KEFO_ERR_INVALID_ARGUMENT or
 * KEFO_ERR_NOMEM.
 */
int kefo__kinesis_list_shards(kefo_aws_client *client,
                              const kefo_aws_service *svc,
                              const char *stream_name, const char *stream_arn,
                              const cJSON *shard_filter, int page_size,
                              const kefo_retry_strategy *retry,
                              kefo_kinesis_shards_cb cb, void *user_data,
                              kefo_kinesis_list **out);

/* Stops listing: |cb| will not be called. */
void kefo__kinesis_list_cancel(kefo_kinesis_list *list);

typedef struct kefo_kinesis_subscription kefo_kinesis_subscription;

/* What on_event returns for an event the owner holds back. */
#define KEFO_SUB_EVENT_HELD 1

typedef struct kefo_kinesis_subscribe_callbacks {
  /* The initial-response event (real Kinesis sends one first; emulators
     may not). Optional. */
  void (*on_initial_response)(kefo_kinesis_subscription *sub, void *user_data);
  /*
   * One SubscribeToShardEvent, its message CRC verified and its JSON read
   * (aws/records_reader.h; lent for the call). A payload that is not a JSON
   * object ends the subscription instead (KEFO_ERR_BAD_RESPONSE,
   * retryable). Returns 0 when handled; KEFO_SUB_EVENT_HELD when the owner
   * paused the subscription (kefo__kinesis_subscription_hold) without
   * taking the event, which is then handed on again, first, once the hold
   * is lifted; any other value cancels the subscription without on_end.
   */
  int (*on_event)(kefo_kinesis_subscription *sub,
                  const kefo_records_event *event, void *user_data);
  /*
   * The end, once: 0 when the server ended the stream (the ~5 minute
   * lifetime, or shard end after the event with ChildShards); KEFO_ERR_AWS
   * for an exception event or an HTTP error (info->aws_type, such as
   * ResourceInUseException, info->retryable); a transport error; or the
   * decoder's error for a corrupt frame (retryable: resubscribe).
   */
  void (*on_end)(kefo_kinesis_subscription *sub, int error,
                 const kefo_error_info *info, void *user_data);
} kefo_kinesis_subscribe_callbacks;

/*
 * Subscribes |consumer_arn| to |shard_id| from |position_type|
 * (AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON, LATEST,
 * AT_TIMESTAMP) with |position_value| (a sequence number, or the epoch
 * seconds of AT_TIMESTAMP, else NULL). Callbacks run from the loop.
 *
 * Returns 0 (on_end will be called once unless cancelled),
 * KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
int kefo__kinesis_subscribe(kefo_aws_client *client,
                            const kefo_aws_service *svc,
                            const char *consumer_arn, const char *shard_id,
                            const char *position_type,
                            const char *position_value,
                            const kefo_kinesis_subscribe_callbacks *cb,
                            void *user_data, kefo_kinesis_subscription **out);

/* Ends the subscription (RST_STREAM): no callback runs afterwards. Safe
   inside the subscription's callbacks. */
void kefo__kinesis_subscription_cancel(kefo_kinesis_subscription *sub);

/*
 * Holds (|hold| non-zero) or releases the subscription's events. While
 * held, events that arrive are kept, in order, and the bytes are not
 * given back to HTTP/2 flow control, so the server can send no more than
 * one stream window: a paused shard costs at most its window. Released,
 * the kept events are handed to on_event from the loop (never inside this
 * call) before any new one, and the window opens again. An end or an
 * exception while held still comes to on_end at once; the kept events are
 * then dropped, never handed on (the owner resubscribes after the last
 * event it had).
 *
 * Returns 0, or KEFO_ERR_NOMEM (releasing; the events stay held).
 */
int kefo__kinesis_subscription_hold(kefo_kinesis_subscription *sub, int hold);

/*
 * Reads the subscription's events with |parser| (not owned; it must
 * outlive the subscription) instead of one of its own: one parser shared
 * by every subscription of a loop keeps one scratch the size of the
 * largest event, where each subscription's own would be allocated for
 * every large event and freed after it. A parser found busy (an event of
 * another subscription being handled) is not used for that event.
 */
/*
 * Sets the largest event |sub| accepts to |max_bytes| (at least
 * KEFO_ES_MIN_MESSAGE_LEN, at most KEFO_ES_MAX_MESSAGE_LEN, the default),
 * before its first byte arrives. An event is held whole until its CRC
 * is checked, so this bounds what a subscription holds whatever the
 * server sends; a larger one ends the subscription with
 * KEFO_ERR_ES_TOO_LARGE (retryable, as any broken stream), naming both
 * sizes.
 */
void kefo__kinesis_subscription_set_max_event(kefo_kinesis_subscription *sub,
                                              uint32_t max_bytes);

void kefo__kinesis_subscription_set_parser(kefo_kinesis_subscription *sub,
                                           kefo_records_parser *parser);

/*
 * Hands an event longer than |whole_max| bytes on as it arrives, in runs
 * of whole records (on_event with event->partial set, no continuation),
 * then its last part (the rest of its records, its continuation) once
 * its message CRC matched; 0, or |whole_max| at or above the largest
 * event, holds every event whole. A shard then holds about |whole_max|
 * of an event, whatever the server sends. A CRC mismatch at the end ends
 * the subscription as for a whole event (retryable); the runs handed on
 * stay handed on. Set before the first byte arrives.
 */
void kefo__kinesis_subscription_set_whole_max(kefo_kinesis_subscription *sub,
                                              uint32_t whole_max);

/*
 * Names up to KEFO_HTTP_PREFETCH_MAX - 4 addresses the owner's on_event
 * reads or writes (its shard state): with the subscription's own, they are
 * prefetched together as each piece of an event arrives
 * (kefo__http_stream_prefetch), so that with thousands of shards their
 * cache misses overlap. Extra addresses are ignored. They are only
 * prefetched, never dereferenced.
 */
void kefo__kinesis_subscription_prefetch(kefo_kinesis_subscription *sub,
                                         const void *const *addrs, size_t n);

#endif /* KEFO_KINESIS_H */
