/*
 * ListShards paging and SubscribeToShard streaming. A subscription's body
 * goes to the event-stream decoder chunk by chunk; each verified message
 * becomes an event for the owner, or its end (exception events).
 */
#include "aws/kinesis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "aws/records_split.h"
#include "base/buf.h"

/* ---- ListShards --------------------------------------------------------- */

struct kefo_kinesis_list {
  kefo_aws_client *client;
  const kefo_aws_service *svc;
  cJSON *request; /* first page's request; later pages use NextToken */
  cJSON *shards;
  kefo_retry_strategy retry;
  kefo_kinesis_shards_cb cb;
  void *user_data;
  kefo_aws_call *call;
  int page_size;
  int pages;
};

static void list_free(kefo_kinesis_list *l) {
  cJSON_Delete(l->request);
  cJSON_Delete(l->shards);
  kefo__mem_free(kefo__aws_client_mem(l->client), l);
}

static void list_page_cb(int error, const cJSON *resp,
                         const kefo_error_info *info, void *ud) {
  kefo_kinesis_list *l = ud;
  const cJSON *page, *token, *s;
  cJSON *next;
  kefo_error_info bad;
  int rv;

  l->call = NULL;
  ++l->pages;
  if (error != 0) {
    l->cb(error, NULL, info, l->user_data);
    list_free(l);
    return;
  }
  page = cJSON_GetObjectItemCaseSensitive(resp, "Shards");
  if (!cJSON_IsArray(page)) {
    memset(&bad, 0, sizeof(bad));
    bad.code = KEFO_ERR_BAD_RESPONSE;
    bad.operation = "ListShards";
    bad.message = "ListShards answer has no Shards array";
    l->cb(KEFO_ERR_BAD_RESPONSE, NULL, &bad, l->user_data);
    list_free(l);
    return;
  }
  cJSON_ArrayForEach(s, page) {
    cJSON *dup = cJSON_Duplicate(s, 1);
    if (dup == NULL || !cJSON_AddItemToArray(l->shards, dup)) {
      cJSON_Delete(dup);
      error = KEFO_ERR_NOMEM;
      break;
    }
  }
  token = cJSON_GetObjectItemCaseSensitive(resp, "NextToken");
  if (error == 0 && cJSON_IsString(token) && token->valuestring[0] &&
      cJSON_GetArraySize(page) > 0) {
    /* Later pages carry only the token (the API refuses StreamName with
       NextToken). An empty page ends the list even with a token, as some
       emulators always send one. */
    next = cJSON_CreateObject();
    if (next &&
        cJSON_AddStringToObject(next, "NextToken", token->valuestring) &&
        (l->page_size <= 0 ||
         cJSON_AddNumberToObject(next, "MaxResults", l->page_size))) {
      rv = kefo__aws_call_start(l->client, l->svc, "ListShards", next,
                                &l->retry, list_page_cb, l, &l->call);
      cJSON_Delete(next);
      if (rv == 0) {
        return;
      }
    } else {
      cJSON_Delete(next);
    }
    error = KEFO_ERR_NOMEM;
  }
  if (error != 0) {
    memset(&bad, 0, sizeof(bad));
    bad.code = error;
    bad.operation = "ListShards";
    bad.message = "out of memory while listing shards";
    l->cb(error, NULL, &bad, l->user_data);
  } else {
    l->cb(0, l->shards, NULL, l->user_data);
  }
  list_free(l);
}

int kefo__kinesis_list_shards(kefo_aws_client *client,
                              const kefo_aws_service *svc,
                              const char *stream_name, const char *stream_arn,
                              const cJSON *shard_filter, int page_size,
                              const kefo_retry_strategy *retry,
                              kefo_kinesis_shards_cb cb, void *user_data,
                              kefo_kinesis_list **out) {
  const kefo_mem *mem;
  kefo_kinesis_list *l;
  int rv = KEFO_ERR_NOMEM;

  if (client == NULL || svc == NULL || cb == NULL ||
      (stream_name == NULL) == (stream_arn == NULL)) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__aws_client_mem(client);
  l = kefo__mem_calloc(mem, 1, sizeof(*l));
  if (l == NULL) {
    return KEFO_ERR_NOMEM;
  }
  l->client = client;
  l->svc = svc;
  l->page_size = page_size;
  l->cb = cb;
  l->user_data = user_data;
  if (retry) {
    l->retry = *retry;
  } else {
    kefo__retry_default(&l->retry);
  }
  l->request = cJSON_CreateObject();
  l->shards = cJSON_CreateArray();
  if (l->request == NULL || l->shards == NULL ||
      !cJSON_AddStringToObject(l->request,
                               stream_name ? "StreamName" : "StreamARN",
                               stream_name ? stream_name : stream_arn)) {
    goto fail;
  }
  if (page_size > 0 &&
      !cJSON_AddNumberToObject(l->request, "MaxResults", page_size)) {
    goto fail;
  }
  if (shard_filter) {
    cJSON *f = cJSON_Duplicate(shard_filter, 1);
    if (f == NULL || !cJSON_AddItemToObject(l->request, "ShardFilter", f)) {
      cJSON_Delete(f);
      goto fail;
    }
  }
  rv = kefo__aws_call_start(client, svc, "ListShards", l->request, &l->retry,
                            list_page_cb, l, &l->call);
  if (rv != 0) {
    goto fail;
  }
  if (out) {
    *out = l;
  }
  return 0;

fail:
  list_free(l);
  return rv;
}

void kefo__kinesis_list_cancel(kefo_kinesis_list *l) {
  if (l == NULL) {
    return;
  }
  kefo__aws_call_cancel(l->call);
  list_free(l);
}

/* ---- SubscribeToShard ---------------------------------------------------- */

struct kefo_kinesis_subscription {
  kefo_aws_client *client;
  const kefo_aws_service *svc;
  kefo_kinesis_subscribe_callbacks cb;
  void *user_data;
  char *body;
  size_t body_len;
  struct event *start_ev;
  kefo_http_stream *stream;
  kefo_es_decoder dec;
  uint32_t max_event; /* the decoder's limit on a message */
  int status;
  kefo_buf error_body; /* a non-200 answer's JSON */
  int waiting_credentials;
  int cancelled;
  int ended;
  int in_callback; /* inside a callback to the owner: frees wait */
  /* Held (the owner paused the shard): events decoded meanwhile wait in
     |held| as [uint32 length][payload], and the bytes received are not
     given back to flow control (|unconsumed|), so the server can send no
     more than one stream window: the queue never outgrows it. */
  int hold;
  kefo_buf held;
  size_t held_off;
  size_t unconsumed;
  struct event *drain_ev; /* hands held events on, from the loop */
  /* An event longer than |whole_max| goes on in runs as it arrives
     (kefo__kinesis_subscription_set_whole_max); 0: all whole. */
  uint32_t whole_max;
  kefo_records_split split;
  kefo_records_parser own;     /* trimmed after each event */
  kefo_records_parser *shared; /* see kefo__kinesis_subscription_set_parser */
  /* The lines an event reads, ours then the owner's (see
     kefo__kinesis_subscription_prefetch), handed to the HTTP stream. */
  const void *touch[KEFO_HTTP_PREFETCH_MAX];
  size_t ntouch;
};

static void sub_free(kefo_kinesis_subscription *sub) {
  const kefo_mem *mem = kefo__aws_client_mem(sub->client);

  if (sub->start_ev) {
    event_free(sub->start_ev);
  }
  if (sub->drain_ev) {
    event_free(sub->drain_ev);
  }
  kefo__buf_free(&sub->held);
  kefo__records_split_free(&sub->split);
  kefo__records_parser_free(&sub->own);
  kefo__es_decoder_free(&sub->dec);
  kefo__buf_free(&sub->error_body);
  kefo__mem_free(mem, sub->body);
  kefo__mem_free(mem, sub);
}

/*
 * Tells the owner the subscription ended, once. The HTTP stream is stopped
 * by sub_on_data returning non-zero; sub_on_close, the last HTTP callback,
 * frees the subscription.
 */
static void sub_end(kefo_kinesis_subscription *sub, int error,
                    const kefo_error_info *info) {
  if (sub->ended) {
    return;
  }
  sub->ended = 1;
  if (!sub->cancelled) {
    ++sub->in_callback;
    sub->cb.on_end(sub, error, info, sub->user_data);
    --sub->in_callback;
  }
}

/* Ends the subscription with |code| and |message| (lent for the call),
   as this stream's own failure. */
static void sub_fail(kefo_kinesis_subscription *sub, int code,
                     const char *message, int retryable) {
  kefo_error_info info;

  memset(&info, 0, sizeof(info));
  info.operation = "SubscribeToShard";
  info.http_status = sub->status;
  info.code = code;
  info.message = message;
  info.retryable = retryable;
  sub_end(sub, code, &info);
}

/* An exception of a subscription: what any call would retry, and
   ResourceInUseException (the previous subscription to the shard has not
   ended yet). */
static int exception_retryable(const char *type) {
  return type && (strcmp(type, "ResourceInUseException") == 0 ||
                  kefo__aws_error_retryable(type, 0));
}

/* The string header |name| of |m|, or NULL. */
static const kefo_es_header *string_header(const kefo_es_message *m,
                                           const char *name) {
  const kefo_es_header *h = kefo__es_message_header(m, name);

  return h && h->type == KEFO_ES_STRING ? h : NULL;
}

static int value_is(const kefo_es_header *h, const char *value) {
  size_t n = strlen(value);

  return h && h->value_len == n && memcmp(h->value, value, n) == 0;
}

/* A held entry is [uint32 length | HELD_PARTIAL][payload]: the flag
   marks a run of an event's records (event->partial); events are at
   most 16 MiB, so the bit is free. */
#define HELD_PARTIAL 0x80000000u

/*
 * The owner held |payload| back (KEFO_SUB_EVENT_HELD): it goes first when
 * the hold is lifted. Taken from the queue, it is still there (the read
 * offset steps back over it); taken from the stream, the queue was empty
 * and it is copied in. Its bytes were given back to flow control when
 * they came, so the queue holds at most this event and one stream window.
 */
static void hold_again(kefo_kinesis_subscription *sub, const uint8_t *payload,
                       size_t len, int partial) {
  uint32_t n = (uint32_t)len | (partial ? HELD_PARTIAL : 0);

  sub->hold = 1;
  if (sub->held_off >= sizeof(n) + len &&
      payload == sub->held.data + sub->held_off - len) {
    sub->held_off -= sizeof(n) + len;
    return;
  }
  if (sub->held.len == sub->held_off) {
    kefo__buf_reset(&sub->held);
    sub->held_off = 0;
    if (kefo__buf_append(&sub->held, &n, sizeof(n)) == 0 &&
        kefo__buf_append(&sub->held, payload, len) == 0) {
      return;
    }
  }
  /* No memory (or, never, an event from elsewhere): resubscribing from
     the last continuation fetches it again. */
  sub_fail(sub, KEFO_ERR_NOMEM, "no memory to hold a paused shard's event", 1);
}

/* The parser a payload is read with: the loop's shared one unless it is
   in use further up the stack (an owner's callback reading another
   subscription's event). */
static kefo_records_parser *parser_of(kefo_kinesis_subscription *sub) {
  return sub->shared && !sub->shared->busy ? sub->shared : &sub->own;
}

/* Hands |ev|, read by |p| from |payload| (or a run of one, |partial|),
   to the owner. */
static void deliver(kefo_kinesis_subscription *sub, kefo_records_parser *p,
                    kefo_records_event *ev, const uint8_t *payload, size_t len,
                    int partial) {
  int rv;

  ev->partial = partial;
  p->busy = 1;
  ++sub->in_callback;
  rv = sub->cb.on_event(sub, ev, sub->user_data);
  --sub->in_callback;
  p->busy = 0;
  if (p == &sub->own) {
    /* Idle subscriptions keep no large event's scratch. */
    kefo__records_parser_trim(p, 64 * 1024);
  }
  if (rv == KEFO_SUB_EVENT_HELD && !sub->cancelled && !sub->ended) {
    hold_again(sub, payload, len, partial);
  } else if (rv != 0 && rv != KEFO_SUB_EVENT_HELD) {
    sub->cancelled = 1; /* the owner asked to stop: no on_end */
  }
}

/* Reads one SubscribeToShardEvent payload (or a run of one, |partial|)
   and hands it to the owner; a payload that is not one JSON object
   (aws/records_reader.h's grammar) ends the subscription, naming what
   was wrong and where. */
static void event_to_owner(kefo_kinesis_subscription *sub,
                           const uint8_t *payload, size_t len, int partial) {
  kefo_records_parser *p = parser_of(sub);
  kefo_records_event ev;
  char msg[256];
  int rv = kefo__records_parse(p, payload, len, &ev);

  if (rv != 0) {
    if (rv == KEFO_ERR_NOMEM) {
      snprintf(msg, sizeof(msg),
               "no memory to read a SubscribeToShardEvent "
               "of %zu bytes",
               len);
    } else {
      snprintf(msg, sizeof(msg),
               "SubscribeToShardEvent payload refused: %s at byte %zu "
               "of %zu%s",
               p->error, p->error_offset, len,
               !sub->dec.in_parts ? ""
               : partial          ? " (a run of the event's records)"
                                  : " (the event's last part: its members "
                                    "and the records after its last run)");
    }
    sub_fail(sub, rv, msg, 1);
    return;
  }
  deliver(sub, p, &ev, payload, len, partial);
}

/* Whether payloads must wait in the queue: the shard is held, or older
   ones wait. */
static int must_queue(const kefo_kinesis_subscription *sub) {
  return sub->hold || sub->held.len > sub->held_off;
}

/* An event, or a run of one (|partial|), to the owner now, or to the
   queue while the shard is held or older ones wait. */
static void payload_to_owner(kefo_kinesis_subscription *sub,
                             const uint8_t *payload, size_t len, int partial) {
  if (must_queue(sub)) {
    /* In order, after what waits. */
    uint32_t n = (uint32_t)len | (partial ? HELD_PARTIAL : 0);
    if (kefo__buf_append(&sub->held, &n, sizeof(n)) != 0 ||
        kefo__buf_append(&sub->held, payload, len) != 0) {
      sub_fail(sub, KEFO_ERR_NOMEM, "no memory to hold a paused shard's event",
               1);
    }
    return;
  }
  event_to_owner(sub, payload, len, partial);
}

static int on_message(const kefo_es_message *m, void *ud) {
  kefo_kinesis_subscription *sub = ud;
  const kefo_es_header *mt, *et;
  kefo_error_info info;
  char type[128], msg[512];
  cJSON *j;

  if (sub->cancelled || sub->ended) {
    return -1; /* stop decoding: nothing more goes to the owner */
  }
  memset(&info, 0, sizeof(info));
  info.operation = "SubscribeToShard";
  info.http_status = sub->status;
  mt = string_header(m, ":message-type");
  if (value_is(mt, "exception") || value_is(mt, "error")) {
    const kefo_es_header *t = string_header(m, ":exception-type");
    if (t == NULL) {
      t = string_header(m, ":error-code");
    }
    snprintf(type, sizeof(type), "%.*s", t ? (int)t->value_len : 7,
             t ? (const char *)t->value : "Unknown");
    j = cJSON_ParseWithLength((const char *)m->payload, m->payload_len);
    snprintf(msg, sizeof(msg), "SubscribeToShard exception %s: %s", type,
             kefo__aws_json_error_message(j) ? kefo__aws_json_error_message(j)
                                             : "(no message)");
    kefo__aws_printable(msg);
    cJSON_Delete(j);
    info.code = KEFO_ERR_AWS;
    info.aws_type = type;
    info.message = msg;
    info.retryable = exception_retryable(type);
    sub_end(sub, KEFO_ERR_AWS, &info);
    return 0;
  }
  et = string_header(m, ":event-type");
  if (value_is(et, "initial-response")) {
    if (sub->cb.on_initial_response) {
      ++sub->in_callback;
      sub->cb.on_initial_response(sub, sub->user_data);
      --sub->in_callback;
    }
    return 0;
  }
  if (!value_is(et, "SubscribeToShardEvent")) {
    return 0; /* unknown event types are skipped, as the SDKs do */
  }
  payload_to_owner(sub, m->payload, m->payload_len, 0);
  return 0;
}

/* An event going on in parts (kefo__kinesis_subscription_set_whole_max)
   began: a SubscribeToShardEvent is taken so, anything else (an
   exception, another event type) is held whole and read as before. */
static int on_parts_begin(const kefo_es_message *m, void *ud) {
  kefo_kinesis_subscription *sub = ud;
  const kefo_es_header *mt = string_header(m, ":message-type");

  if (sub->cancelled || sub->ended) {
    return -1;
  }
  if (value_is(mt, "exception") || value_is(mt, "error") ||
      !value_is(string_header(m, ":event-type"), "SubscribeToShardEvent")) {
    return 0;
  }
  kefo__records_split_begin(&sub->split);
  return KEFO_ES_TAKE_PARTS;
}

/* The split of a large event failed (|rv|): the subscription ends,
   saying why. */
static void split_failed(kefo_kinesis_subscription *sub, int rv) {
  char msg[256];

  if (rv == KEFO_ERR_NOMEM) {
    snprintf(msg, sizeof(msg),
             "no memory to read a SubscribeToShardEvent of %lu bytes",
             (unsigned long)kefo__es_decoder_message_length(&sub->dec));
  } else {
    snprintf(msg, sizeof(msg),
             "SubscribeToShardEvent payload refused: %s at byte %zu "
             "(read as it arrived)",
             sub->split.error, sub->split.error_offset);
  }
  sub_fail(sub, rv, msg, 1);
}

static int on_parts_part(const uint8_t *part, size_t len, void *ud) {
  kefo_kinesis_subscription *sub = ud;
  kefo_records_parser *p;
  kefo_records_event ev;
  const uint8_t *json;
  size_t n;
  int rv;

  if (sub->cancelled || sub->ended) {
    return -1;
  }
  p = parser_of(sub);
  rv = kefo__records_split_feed(&sub->split, part, len);
  if (rv == 0) {
    rv = kefo__records_split_run(&sub->split, p, &json, &n, &ev);
  }
  if (rv < 0) {
    split_failed(sub, rv);
    return -1;
  }
  if (rv == 1) {
    /* The run was read as it was cut; while the shard is held it waits
       as text, and is read again when its turn comes. */
    if (must_queue(sub)) {
      payload_to_owner(sub, json, n, 1);
    } else {
      deliver(sub, p, &ev, json, n, 1);
    }
    kefo__records_split_taken(&sub->split);
  }
  return sub->cancelled || sub->ended ? -1 : 0;
}

static int on_parts_end(void *ud) {
  kefo_kinesis_subscription *sub = ud;
  const uint8_t *json;
  size_t n;
  int rv;

  if (sub->cancelled || sub->ended) {
    return -1;
  }
  rv = kefo__records_split_end(&sub->split, &json, &n);
  if (rv != 0) {
    split_failed(sub, rv);
    return -1;
  }
  payload_to_owner(sub, json, n, 0);
  return sub->cancelled || sub->ended ? -1 : 0;
}

static const kefo_es_part_callbacks part_callbacks = {
    on_parts_begin, on_parts_part, on_parts_end};

static int sub_on_response(kefo_http_stream *s, int status,
                           const kefo_http_header *h, size_t n, void *ud) {
  kefo_kinesis_subscription *sub = ud;

  (void)s;
  (void)h;
  (void)n;
  sub->status = status;
  return 0;
}

static int sub_on_data(kefo_http_stream *s, const uint8_t *data, size_t len,
                       void *ud) {
  kefo_kinesis_subscription *sub = ud;
  kefo_error_info info;
  char msg[256];
  int rv;

  if (sub->ended || sub->cancelled) {
    return -1;
  }
  /* The bytes land in the decoder, the shard's bounded buffer: give the
     window back, unless the shard is paused (or its held events are not
     all handed on yet). */
  if (sub->hold || sub->held.len > sub->held_off) {
    sub->unconsumed += len;
  } else {
    kefo__http_stream_consume(s, len);
  }
  if (sub->status != 200) {
    if (sub->error_body.len + len <= 64 * 1024) {
      kefo__buf_append(&sub->error_body, data, len);
    }
    return 0;
  }
  rv = kefo__es_decoder_feed(&sub->dec, data, len);
  if (rv != 0 && !sub->ended && !sub->cancelled) {
    memset(&info, 0, sizeof(info));
    if (rv == KEFO_ERR_ES_TOO_LARGE &&
        kefo__es_decoder_message_length(&sub->dec) > sub->max_event) {
      /* Retried as any broken stream (a length may be a one-off
         corruption, and the fault matrix expects the shard to recover);
         an event that stays too large fails the shard once the
         attempts run out, with this message. */
      snprintf(msg, sizeof(msg),
               "a SubscribeToShard event of %lu bytes is larger than the "
               "%lu allowed (source.efo.event.max-bytes)",
               (unsigned long)kefo__es_decoder_message_length(&sub->dec),
               (unsigned long)sub->max_event);
    } else if (sub->dec.in_parts && sub->split.runs > 0) {
      /* The records already handed on were read from bytes this check
         now refuses; the resubscription skips them, as any records
         delivered before. */
      snprintf(msg, sizeof(msg),
               "event stream broken: %s check failed at byte %llu (%s), "
               "after %llu runs of the event's records were handed on",
               kefo__es_decoder_error_check(&sub->dec),
               (unsigned long long)kefo__es_decoder_error_offset(&sub->dec),
               kefo_strerror(rv), (unsigned long long)sub->split.runs);
    } else {
      snprintf(msg, sizeof(msg),
               "event stream broken: %s check failed at byte %llu (%s)",
               kefo__es_decoder_error_check(&sub->dec),
               (unsigned long long)kefo__es_decoder_error_offset(&sub->dec),
               kefo_strerror(rv));
    }
    info.code = rv;
    info.operation = "SubscribeToShard";
    info.message = msg;
    info.http_status = sub->status;
    info.retryable = rv != KEFO_ERR_NOMEM;
    sub_end(sub, rv, &info);
  }
  /* Non-zero stops the HTTP stream; sub_on_close follows and frees. */
  return sub->ended || sub->cancelled ? -1 : 0;
}

static void sub_on_close(kefo_http_stream *s, int error,
                         const kefo_error_info *tinfo, void *ud) {
  kefo_kinesis_subscription *sub = ud;
  kefo_error_info info;
  char msg[512];

  (void)s;
  sub->stream = NULL;
  if (sub->ended || sub->cancelled) {
    sub_free(sub); /* the last HTTP callback */
    return;
  }
  memset(&info, 0, sizeof(info));
  info.operation = "SubscribeToShard";
  info.http_status = sub->status;
  if (error != 0) {
    info.code = error;
    info.message = tinfo ? tinfo->message : "";
    info.retryable = tinfo ? tinfo->retryable : 1;
    sub_end(sub, error, &info);
  } else if (sub->status != 200) {
    cJSON *j = cJSON_ParseWithLength((const char *)sub->error_body.data,
                                     sub->error_body.len);
    kefo__aws_error_from_json(&info, msg, sizeof(msg), "SubscribeToShard",
                              sub->status, j);
    info.retryable = info.retryable || exception_retryable(info.aws_type);
    if (kefo__aws_error_credentials(info.aws_type)) {
      kefo__credentials_provider_invalidate(
          kefo__aws_client_credentials(sub->client));
    }
    sub_end(sub, KEFO_ERR_AWS, &info);
    cJSON_Delete(j);
  } else if (kefo__es_decoder_finish(&sub->dec) != 0) {
    info.code = KEFO_ERR_ES_TRUNCATED;
    info.message = "SubscribeToShard stream ended inside an event";
    info.retryable = 1;
    sub_end(sub, KEFO_ERR_ES_TRUNCATED, &info);
  } else {
    sub_end(sub, 0, NULL);
  }
  sub_free(sub);
}

static const kefo_http_callbacks sub_http_callbacks = {
    sub_on_response, sub_on_data, sub_on_close, NULL};

static void sub_on_credentials(int error, const kefo_credentials *creds,
                               const kefo_error_info *cinfo, void *ud) {
  kefo_kinesis_subscription *sub = ud;
  kefo_error_info info;
  const char *why = NULL;
  int rv;

  sub->waiting_credentials = 0;
  if (sub->cancelled) {
    sub_free(sub);
    return;
  }
  memset(&info, 0, sizeof(info));
  info.operation = "SubscribeToShard";
  if (error != 0) {
    info.code = error;
    info.message = cinfo ? cinfo->message : "";
    info.retryable = cinfo ? cinfo->retryable : 0;
    sub_end(sub, error, &info);
    sub_free(sub);
    return;
  }
  rv = kefo__aws_send_json(sub->client, sub->svc, "SubscribeToShard", creds,
                           (const uint8_t *)sub->body, sub->body_len,
                           &sub_http_callbacks, sub, &sub->stream, &why);
  if (rv != 0) {
    info.code = rv;
    info.message = why;
    sub_end(sub, rv, &info);
    sub_free(sub);
    return;
  }
  kefo__http_stream_prefetch(sub->stream, sub->touch, sub->ntouch);
}

/* Our own lines an event reads: the head (callbacks), the decoder, the
   flags that sub_on_data checks, the parser pointer. */
static size_t own_touch(kefo_kinesis_subscription *sub) {
  sub->touch[0] = sub;
  sub->touch[1] = &sub->dec;
  sub->touch[2] = &sub->ended;
  sub->touch[3] = &sub->shared;
  return 4;
}

static void sub_start_cb(evutil_socket_t fd, short what, void *arg) {
  kefo_kinesis_subscription *sub = arg;
  kefo_error_info info;
  int rv;

  (void)fd;
  (void)what;
  sub->waiting_credentials = 1;
  rv = kefo__credentials_provider_get(kefo__aws_client_credentials(sub->client),
                                      sub_on_credentials, sub);
  if (rv != 0) {
    sub->waiting_credentials = 0;
    memset(&info, 0, sizeof(info));
    info.code = rv;
    info.operation = "SubscribeToShard";
    info.message = "the credentials provider failed";
    sub_end(sub, rv, &info);
    sub_free(sub);
  }
}

int kefo__kinesis_subscribe(kefo_aws_client *client,
                            const kefo_aws_service *svc,
                            const char *consumer_arn, const char *shard_id,
                            const char *position_type,
                            const char *position_value,
                            const kefo_kinesis_subscribe_callbacks *cb,
                            void *user_data, kefo_kinesis_subscription **out) {
  const kefo_mem *mem;
  kefo_kinesis_subscription *sub;
  cJSON *body = NULL, *pos;
  char *text = NULL;
  int rv = KEFO_ERR_NOMEM;

  if (client == NULL || svc == NULL || consumer_arn == NULL ||
      shard_id == NULL || position_type == NULL || cb == NULL ||
      cb->on_event == NULL || cb->on_end == NULL) {
    return KEFO_ERR_INVALID_ARGUMENT;
  }
  mem = kefo__aws_client_mem(client);
  sub = kefo__mem_calloc(mem, 1, sizeof(*sub));
  if (sub == NULL) {
    return KEFO_ERR_NOMEM;
  }
  sub->client = client;
  sub->svc = svc;
  sub->cb = *cb;
  sub->user_data = user_data;
  kefo__buf_init(&sub->error_body, mem);
  kefo__buf_init(&sub->held, mem);
  kefo__records_parser_init(&sub->own, mem);
  kefo__records_split_init(&sub->split, mem, 0);
  sub->ntouch = own_touch(sub);
  if (kefo__es_decoder_init(&sub->dec, mem, 0, 0, on_message, sub) != 0) {
    goto fail;
  }
  sub->max_event = KEFO_ES_MAX_MESSAGE_LEN;
  body = cJSON_CreateObject();
  pos = body ? cJSON_AddObjectToObject(body, "StartingPosition") : NULL;
  if (pos == NULL ||
      !cJSON_AddStringToObject(body, "ConsumerARN", consumer_arn) ||
      !cJSON_AddStringToObject(body, "ShardId", shard_id) ||
      !cJSON_AddStringToObject(pos, "Type", position_type)) {
    goto fail;
  }
  if (position_value) {
    if (strcmp(position_type, "AT_TIMESTAMP") == 0) {
      if (!cJSON_AddNumberToObject(pos, "Timestamp",
                                   strtod(position_value, NULL))) {
        goto fail;
      }
    } else if (!cJSON_AddStringToObject(pos, "SequenceNumber",
                                        position_value)) {
      goto fail;
    }
  }
  text = cJSON_PrintUnformatted(body);
  if (text == NULL) {
    goto fail;
  }
  sub->body_len = strlen(text);
  sub->body = kefo__mem_malloc(mem, sub->body_len + 1);
  sub->start_ev =
      event_new(kefo__aws_client_base(client), -1, 0, sub_start_cb, sub);
  if (sub->body == NULL || sub->start_ev == NULL) {
    goto fail;
  }
  memcpy(sub->body, text, sub->body_len + 1);
  cJSON_free(text);
  cJSON_Delete(body);
  event_active(sub->start_ev, 0, 0);
  if (out) {
    *out = sub;
  }
  return 0;

fail:
  cJSON_free(text);
  cJSON_Delete(body);
  sub_free(sub);
  return rv;
}

void kefo__kinesis_subscription_set_max_event(kefo_kinesis_subscription *sub,
                                              uint32_t max_bytes) {
  /* Nothing has been decoded yet: a fresh decoder with the new limit;
     one out of range leaves the format's own. */
  kefo__es_decoder_free(&sub->dec);
  if (kefo__es_decoder_init(&sub->dec, kefo__aws_client_mem(sub->client),
                            max_bytes, 0, on_message, sub) == 0) {
    sub->max_event = max_bytes;
  } else {
    kefo__es_decoder_init(&sub->dec, kefo__aws_client_mem(sub->client), 0, 0,
                          on_message, sub);
  }
  kefo__es_decoder_set_parts(&sub->dec, sub->whole_max,
                             sub->whole_max ? &part_callbacks : NULL);
}

void kefo__kinesis_subscription_set_parser(kefo_kinesis_subscription *sub,
                                           kefo_records_parser *parser) {
  sub->shared = parser;
}

/* Runs of at least this much (or half the whole limit, when lower):
   large enough that what a run costs on its own (a parse, a delivery,
   the application's call) does not count, small enough that the
   memory a run goes through stays in the caches and in pages already
   touched. Reading kinesis-local's 3 MB events of 100 B records, runs
   of 64 KiB rather than 256 KiB took 750 page faults instead of 2,150
   and about 20 % less CPU (bench/RESULTS.md, path 5). */
#define RUN_MIN (64u * 1024)

void kefo__kinesis_subscription_set_whole_max(kefo_kinesis_subscription *sub,
                                              uint32_t whole_max) {
  size_t run_min = whole_max / 2 < RUN_MIN ? whole_max / 2 : RUN_MIN;

  sub->whole_max = whole_max;
  kefo__records_split_free(&sub->split);
  kefo__records_split_init(&sub->split, kefo__aws_client_mem(sub->client),
                           run_min);
  kefo__es_decoder_set_parts(&sub->dec, whole_max,
                             whole_max ? &part_callbacks : NULL);
}

void kefo__kinesis_subscription_prefetch(kefo_kinesis_subscription *sub,
                                         const void *const *addrs, size_t n) {
  size_t own = own_touch(sub);

  if (n > KEFO_HTTP_PREFETCH_MAX - own) {
    n = KEFO_HTTP_PREFETCH_MAX - own;
  }
  memcpy(sub->touch + own, addrs, n * sizeof(*addrs));
  sub->ntouch = own + n;
  if (sub->stream != NULL) {
    kefo__http_stream_prefetch(sub->stream, sub->touch, sub->ntouch);
  }
}

void kefo__kinesis_subscription_cancel(kefo_kinesis_subscription *sub) {
  if (sub == NULL || sub->cancelled) {
    return;
  }
  sub->cancelled = 1;
  if (sub->waiting_credentials || sub->in_callback) {
    /* sub_on_credentials, or the HTTP callbacks unwinding (on_data
       returns non-zero, on_close follows), free it. */
    return;
  }
  if (sub->stream) {
    /* No HTTP callback comes after a cancel. */
    kefo__http_stream_cancel(sub->stream);
    sub->stream = NULL;
  }
  sub_free(sub);
}

static void drain_cb(evutil_socket_t fd, short what, void *arg) {
  kefo_kinesis_subscription *sub = arg;

  (void)fd;
  (void)what;
  while (!sub->hold && !sub->ended && !sub->cancelled &&
         sub->held.len > sub->held_off) {
    uint32_t n, len;
    memcpy(&n, sub->held.data + sub->held_off, sizeof(n));
    len = n & ~HELD_PARTIAL;
    sub->held_off += sizeof(n);
    sub->held_off += len;
    event_to_owner(sub, sub->held.data + sub->held_off - len, len,
                   (n & HELD_PARTIAL) != 0);
  }
  if (sub->ended || sub->cancelled) {
    /* Ended or cancelled from inside the owner's callback: the HTTP
       stream is still open, and no HTTP callback will free us. */
    if (sub->stream) {
      kefo__http_stream_cancel(sub->stream);
      sub->stream = NULL;
    }
    sub_free(sub);
    return;
  }
  if (sub->held.len == sub->held_off) {
    kefo__buf_reset(&sub->held);
    sub->held_off = 0;
    if (!sub->hold && sub->unconsumed > 0 && sub->stream) {
      /* Everything handed on: the window opens again. */
      kefo__http_stream_consume(sub->stream, sub->unconsumed);
      sub->unconsumed = 0;
    }
  }
}

int kefo__kinesis_subscription_hold(kefo_kinesis_subscription *sub, int hold) {
  if (sub == NULL || sub->ended || sub->cancelled) {
    return 0;
  }
  sub->hold = hold != 0;
  if (sub->hold || (sub->held.len == sub->held_off && sub->unconsumed == 0)) {
    return 0;
  }
  if (sub->drain_ev == NULL) {
    sub->drain_ev =
        event_new(kefo__aws_client_base(sub->client), -1, 0, drain_cb, sub);
    if (sub->drain_ev == NULL) {
      return KEFO_ERR_NOMEM;
    }
  }
  event_active(sub->drain_ev, 0, 0);
  return 0;
}
