/*
 * SubscribeToShard streams (see mock_subscription.h): one event-stream
 * frame at a time, built when the previous one has gone to nghttp2.
 */
#include "tests/support/mock/mock_subscription.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/crc32.h"
#include "aws/event_stream.h"
#include "base/clock.h"

struct mock_subscription {
  mock_conn *conn;
  int32_t stream_id;
  mock_api *api;
  mock_consumer *consumer; /* NULL for an exception stream */
  mock_shard *shard;
  size_t pos; /* next record index to send */
  mock_watch watch;
  struct event *idle_timer, *life_timer, *stall_timer;
  kefo_buf payload, frame;
  size_t off; /* bytes of |frame| handed to nghttp2 */
  int deferred;
  int idle_due;
  int expired;
  int ending;  /* END_STREAM once |frame| is out */
  int stalled; /* the stall fault: nothing until stall_timer */
  int dead;    /* the oversized fault: nothing ever again */
  int reset;   /* the rst-stream fault: reset instead of the next bytes */
};

/* Stores |v| big-endian at |p|. */
static void put32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static void set_header(kefo_es_header *h, const char *name, const char *value) {
  memset(h, 0, sizeof(*h));
  h->name = name;
  h->name_len = strlen(name);
  h->type = KEFO_ES_STRING;
  h->value = (const uint8_t *)value;
  h->value_len = strlen(value);
}

/* Encodes |sub->payload| as the next frame. */
static int encode(mock_subscription *sub, const char *message_type,
                  const char *type_header, const char *type) {
  kefo_es_header h[3];
  size_t len, n;

  set_header(&h[0], ":message-type", message_type);
  set_header(&h[1], type_header, type);
  set_header(&h[2], ":content-type", "application/json");
  len = kefo__es_encoded_len(h, 3, sub->payload.len);
  kefo__buf_reset(&sub->frame);
  sub->off = 0;
  if (len == 0 || kefo__buf_reserve(&sub->frame, len) != 0 ||
      kefo__es_encode(sub->frame.data, sub->frame.cap, h, 3, sub->payload.data,
                      sub->payload.len, &n) != 0) {
    return -1;
  }
  sub->frame.len = n;
  return 0;
}

static void arm(struct event *timer, int64_t ms) {
  struct timeval tv;

  kefo__timeval_ms(&tv, ms);
  evtimer_add(timer, &tv);
}

/*
 * Acts out a fault that replaces the event due: an exception event (then
 * END_STREAM), an unknown event type, the end of the subscription, a
 * stall, a reset or a length no client accepts. Returns 1 when a frame is
 * ready, 0 when nothing is to be sent now, -1 on failure.
 */
static int fault_event(mock_subscription *sub, mock_fault_kind kind) {
  const char *type;
  int status;

  if (mock_fault_exception(kind, "SubscribeToShard", &type, &status) == 0) {
    kefo__buf_reset(&sub->payload);
    if (kefo__buf_append_str(
            &sub->payload, "{\"message\":\"injected by kinesis-mock\"}") != 0 ||
        encode(sub, "exception", ":exception-type", type) != 0) {
      return -1;
    }
    sub->ending = 1;
    return 1;
  }
  switch (kind) {
  case MOCK_FAULT_UNKNOWN_EVENT:
    kefo__buf_reset(&sub->payload);
    if (kefo__buf_append_str(&sub->payload, "{\"Future\":true}") != 0 ||
        encode(sub, "event", ":event-type", "KefoMockFutureEvent") != 0) {
      return -1;
    }
    return 1;
  case MOCK_FAULT_EXPIRE:
    sub->expired = 1;
    return 0;
  case MOCK_FAULT_STALL:
    sub->stalled = 1;
    arm(sub->stall_timer, sub->api->fault.ms);
    return 0;
  case MOCK_FAULT_RST_STREAM:
    sub->reset = 1;
    return 0;
  case MOCK_FAULT_OVERSIZED:
    /* A prelude claiming 2 GiB, with a good prelude CRC, then silence. */
    kefo__buf_reset(&sub->frame);
    sub->off = 0;
    if (kefo__buf_reserve(&sub->frame, 12) != 0) {
      return -1;
    }
    put32(sub->frame.data, 0x7ffffff0u);
    put32(sub->frame.data + 4, 16);
    put32(sub->frame.data + 8, kefo__crc32(0, sub->frame.data, 8));
    sub->frame.len = 12;
    sub->dead = 1;
    return 1;
  default:
    return -1;
  }
}

/* Spoils the frame just built as |kind| says. */
static void fault_frame(mock_subscription *sub, mock_fault_kind kind) {
  kefo_buf *f = &sub->frame;

  switch (kind) {
  case MOCK_FAULT_DROP:
    mock_conn_drop_soon(sub->conn, 9 + f->len / 2);
    break;
  case MOCK_FAULT_GOAWAY:
    mock_conn_goaway(sub->conn, nghttp2_session_get_last_proc_stream_id(
                                    mock_conn_session(sub->conn)));
    break;
  case MOCK_FAULT_SLOW:
    mock_conn_slow(sub->conn, sub->api->fault.ms);
    break;
  case MOCK_FAULT_TRUNCATE:
    f->len /= 2;
    sub->ending = 1;
    break;
  case MOCK_FAULT_BAD_MESSAGE_CRC:
    f->data[f->len - 1] ^= 0x5a;
    break;
  case MOCK_FAULT_BAD_PRELUDE_CRC:
    f->data[9] ^= 0x5a;
    break;
  default:
    break;
  }
}

/* Writes the time now into records [from, to) that carry a "t=" stamp
   of 19 digits (see mock_config.stamp). */
static void stamp(mock_shard *sh, size_t from, size_t to) {
  struct timespec ts;
  char digits[24];
  size_t i;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  snprintf(digits, sizeof(digits), "%019lld",
           (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
  for (i = from; i < to; ++i) {
    const mock_record *r = &sh->records[i];
    uint8_t *d = sh->bytes + r->off + r->pk_len;
    if (r->data_len >= 21 && d[0] == 't' && d[1] == '=') {
      memcpy(d + 2, digits, 19);
    }
  }
}

/* Builds the next SubscribeToShardEvent if one is due. Returns 1 when a
   frame is ready, 0 when there is nothing to send yet, -1 on failure. */
static int next_event(mock_subscription *sub) {
  mock_shard *sh = sub->shard;
  kefo_buf *p = &sub->payload;
  char seq[MOCK_SEQ_LEN + 1], num[32];
  size_t end = sub->pos;
  int final = 0;
  int64_t behind = 0;
  mock_fault_kind kind;

  if (sub->stalled || sub->dead) {
    return 0;
  }
  if (sub->pos < sh->nrecords) {
    end = mock_api_batch_end(sh, sub->pos, 10000);
  } else if (sh->closed) {
    final = 1;
  } else if (!sub->idle_due) {
    return 0;
  }
  kind = mock_fault_take(&sub->api->fault, "SubscribeToShard", sh->id,
                         MOCK_FAULT_AT_EVENT, mock_now_ms());
  if (kind != MOCK_FAULT_NONE && kind != MOCK_FAULT_DROP &&
      kind != MOCK_FAULT_GOAWAY && kind != MOCK_FAULT_SLOW &&
      kind != MOCK_FAULT_TRUNCATE && kind != MOCK_FAULT_MALFORMED_JSON &&
      kind != MOCK_FAULT_BAD_MESSAGE_CRC &&
      kind != MOCK_FAULT_BAD_PRELUDE_CRC) {
    return fault_event(sub, kind);
  }
  if (sub->api->cfg.stamp) {
    stamp(sh, sub->pos, end);
  }
  kefo__buf_reset(p);
  if (kefo__buf_append_str(p, "{\"Records\":[") != 0 ||
      mock_api_write_records(p, sh, sub->pos, end) != 0 ||
      kefo__buf_append_str(p, "],") != 0) {
    return -1;
  }
  /* Built only when nghttp2 asks for bytes, that is when the stream's
     window is open: what a client has not consumed stays here. */
  sh->stats.records_sent += end - sub->pos;
  sub->pos = end;
  if (final) {
    /* Shard end: no continuation, the children instead. */
    kefo__buf_append_str(p, "\"ContinuationSequenceNumber\":null,");
  } else {
    /* Resuming AFTER this number gives the next record: the last one
       sent, or the shard's start when nothing was. */
    if (end > 0) {
      mock_seq_format(sh->stream, sh->records[end - 1].counter, sh->index, seq);
    } else {
      mock_seq_format(sh->stream, sh->start_counter, sh->index, seq);
    }
    kefo__buf_append_str(p, "\"ContinuationSequenceNumber\":\"");
    kefo__buf_append_str(p, seq);
    kefo__buf_append_str(p, "\",");
    if (end < sh->nrecords) {
      behind = mock_now_ms() - sh->records[sh->nrecords - 1].arrival_ms;
      behind = behind < 0 ? 0 : behind;
    }
  }
  snprintf(num, sizeof(num), "%lld", (long long)behind);
  kefo__buf_append_str(p, "\"MillisBehindLatest\":");
  kefo__buf_append_str(p, num);
  kefo__buf_append_str(p, ",\"ChildShards\":");
  if (mock_api_write_child_shards(p, sh) != 0 ||
      kefo__buf_append_byte(p, '}') != 0) {
    return -1;
  }
  if (kind == MOCK_FAULT_MALFORMED_JSON) {
    p->len /= 2; /* good framing, half a JSON object */
  }
  if (encode(sub, "event", ":event-type", "SubscribeToShardEvent") != 0) {
    return -1;
  }
  sub->ending = final;
  fault_frame(sub, kind);
  sub->idle_due = 0;
  arm(sub->idle_timer, sub->api->cfg.idle_event_ms);
  return 1;
}

static void wake(mock_subscription *sub) {
  if (sub->deferred) {
    sub->deferred = 0;
    nghttp2_session_resume_data(mock_conn_session(sub->conn), sub->stream_id);
    mock_conn_want_send(sub->conn);
  }
}

static void on_shard_changed(mock_watch *w) {
  wake(w->user_data);
}

static void on_idle(evutil_socket_t fd, short what, void *arg) {
  mock_subscription *sub = arg;

  (void)fd;
  (void)what;
  sub->idle_due = 1;
  wake(sub);
}

static void on_stall_end(evutil_socket_t fd, short what, void *arg) {
  mock_subscription *sub = arg;

  (void)fd;
  (void)what;
  sub->stalled = 0;
  wake(sub);
}

static void on_lifetime(evutil_socket_t fd, short what, void *arg) {
  mock_subscription *sub = arg;

  (void)fd;
  (void)what;
  sub->expired = 1;
  wake(sub);
}

static ssize_t read_cb(nghttp2_session *session, int32_t stream_id,
                       uint8_t *buf, size_t length, uint32_t *data_flags,
                       nghttp2_data_source *source, void *user_data) {
  mock_subscription *sub = source->ptr;
  size_t n;

  (void)session;
  (void)stream_id;
  (void)user_data;
  if (sub->off == sub->frame.len) {
    int rv;
    if (sub->reset) {
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* RST_STREAM */
    }
    if (sub->ending || sub->expired) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      return 0;
    }
    rv = next_event(sub);
    if (rv < 0 || sub->reset) {
      return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
    if (rv == 0 && sub->expired) {
      *data_flags |= NGHTTP2_DATA_FLAG_EOF;
      return 0;
    }
    if (rv == 0) {
      sub->deferred = 1;
      return NGHTTP2_ERR_DEFERRED;
    }
  }
  n = sub->frame.len - sub->off;
  if (n > length) {
    n = length;
  }
  memcpy(buf, sub->frame.data + sub->off, n);
  sub->off += n;
  if (sub->off == sub->frame.len && sub->ending) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
  }
  return (ssize_t)n;
}

nghttp2_data_provider mock_subscription_provider(mock_subscription *sub) {
  nghttp2_data_provider p;

  p.source.ptr = sub;
  p.read_callback = read_cb;
  return p;
}

int mock_subscription_new(mock_subscription **out, mock_conn *conn,
                          int32_t stream_id, mock_api *api,
                          const mock_subscribe_req *req) {
  mock_subscription *sub = calloc(1, sizeof(*sub));
  struct event_base *base = mock_conn_base(conn);
  cJSON *o;
  char *s;

  if (!sub) {
    if (!req->exception) {
      --req->consumer->live[req->shard->index];
    }
    return -1;
  }
  sub->conn = conn;
  sub->stream_id = stream_id;
  sub->api = api;
  kefo__buf_init(&sub->payload, NULL);
  kefo__buf_init(&sub->frame, NULL);
  if (req->exception) {
    o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "message", req->message);
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!s || kefo__buf_append_str(&sub->payload, s) != 0 ||
        encode(sub, "exception", ":exception-type", req->exception) != 0) {
      cJSON_free(s);
      mock_subscription_del(sub);
      return -1;
    }
    cJSON_free(s);
    sub->ending = 1;
    *out = sub;
    return 0;
  }
  /* From here mock_subscription_del gives the live slot back. */
  sub->consumer = req->consumer;
  sub->shard = req->shard;
  sub->pos = req->start;
  sub->idle_timer = evtimer_new(base, on_idle, sub);
  sub->life_timer = evtimer_new(base, on_lifetime, sub);
  sub->stall_timer = evtimer_new(base, on_stall_end, sub);
  if (!sub->idle_timer || !sub->life_timer || !sub->stall_timer ||
      kefo__buf_append_str(&sub->payload, "{}") != 0 ||
      encode(sub, "event", ":event-type", "initial-response") != 0) {
    mock_subscription_del(sub);
    return -1;
  }
  sub->watch.changed = on_shard_changed;
  sub->watch.user_data = sub;
  mock_watch_add(sub->shard, &sub->watch);
  arm(sub->life_timer, api->cfg.subscription_lifetime_ms);
  arm(sub->idle_timer, api->cfg.idle_event_ms);
  *out = sub;
  return 0;
}

void mock_subscription_del(mock_subscription *sub) {
  if (!sub) {
    return;
  }
  if (sub->consumer) {
    mock_watch_remove(&sub->watch);
    --sub->consumer->live[sub->shard->index];
  }
  if (sub->idle_timer) {
    event_free(sub->idle_timer);
  }
  if (sub->life_timer) {
    event_free(sub->life_timer);
  }
  if (sub->stall_timer) {
    event_free(sub->stall_timer);
  }
  kefo__buf_free(&sub->payload);
  kefo__buf_free(&sub->frame);
  free(sub);
}
