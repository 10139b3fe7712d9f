/*
 * One SubscribeToShard response as real Kinesis streams it: an
 * initial-response event, SubscribeToShardEvents as records arrive (an
 * empty one when idle), a last event with ChildShards at shard end, and
 * END_STREAM at shard end or when the lifetime runs out. Events are
 * encoded one at a time, only when nghttp2 asks for more data, so a slow
 * client holds the server back instead of growing its memory.
 */
#ifndef KEFO_MOCK_SUBSCRIPTION_H
#define KEFO_MOCK_SUBSCRIPTION_H

#include <nghttp2/nghttp2.h>

#include "tests/support/mock/mock_api.h"
#include "tests/support/mock/mock_server.h"

typedef struct mock_subscription mock_subscription;

/*
 * Starts the subscription |req| describes on stream |stream_id| of |conn|:
 * a live one when req->exception is NULL, else one exception event then
 * END_STREAM. A live one takes over the consumer's live count that
 * mock_api_subscribe raised: mock_subscription_del lowers it, and so does
 * a failure here. Returns 0 or -1.
 */
int mock_subscription_new(mock_subscription **out, mock_conn *conn,
                          int32_t stream_id, mock_api *api,
                          const mock_subscribe_req *req);
/* The data provider's source and callback for nghttp2_submit_response. */
nghttp2_data_provider mock_subscription_provider(mock_subscription *sub);
/* Frees the subscription when its stream closes (or at shutdown). */
void mock_subscription_del(mock_subscription *sub);

#endif /* KEFO_MOCK_SUBSCRIPTION_H */
