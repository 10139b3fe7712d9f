/*
 * A connection's nghttp2 session: received bytes fed to it (their DATA
 * frames found ahead, to prefetch), and its callbacks, which turn frames into
 * the streams' responses, data and ends and give the connection window back.
 */
#include "aws/h2_client_internal.h"

#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <nghttp2/nghttp2.h>

#include "base/buf.h"
#include "base/clock.h"

/* Response headers beyond this are refused (bounded memory). */
#define MAX_RESPONSE_HEADER_BYTES (64u * 1024)
#define MAX_RESPONSE_HEADERS 128u

/* ---- nghttp2 callbacks -------------------------------------------------- */

static ssize_t send_cb(nghttp2_session *session, const uint8_t *data,
                       size_t len, int flags, void *ud) {
  h2_conn *conn = ud;

  (void)session;
  (void)flags;
  if (evbuffer_get_length(bufferevent_get_output(conn->bev)) >=
      KEFO_H2_OUTPUT_HIGH) {
    kefo__h2_connection_hold_output(conn);
    return NGHTTP2_ERR_WOULDBLOCK;
  }
  if (bufferevent_write(conn->bev, data, len) != 0) {
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  return (ssize_t)len;
}

/* A lent body's piece has been written (or dropped): its chain is
   freed. */
static void body_ref_done(const void *data, size_t len, void *extra) {
  h2_stream *s = extra;

  (void)data;
  (void)len;
  --s->out_refs;
  /* The last piece of a wholly framed body: its owner may have it back
     (kefo_http_callbacks.on_body_sent). */
  if (s->out_refs == 0 && s->body_sent == s->body_len && !s->body_told &&
      !s->cancelled && s->cb.on_body_sent) {
    s->body_told = 1;
    s->cb.on_body_sent(&s->base, s->user_data);
  }
}

/*
 * A DATA frame of a request body (body_read_cb asks for this): its 9-byte
 * header, then its bytes straight from the body into the connection's
 * output. nghttp2 otherwise copies them into its frame buffer and
 * send_cb copies them again (a PutRecords body of 5 MiB, twice). A lent
 * body is not copied at all: the output refers to it until the bytes are
 * written, and the stream counts the pieces so that they are copied out
 * before the body goes back to its owner (h2_stream.c give_back_body).
 */
static int send_data_cb(nghttp2_session *session, nghttp2_frame *frame,
                        const uint8_t *framehd, size_t length,
                        nghttp2_data_source *source, void *ud) {
  h2_conn *conn = ud;
  h2_stream *s = source->ptr;

  (void)session;
  if (frame->data.padlen != 0) {
    return NGHTTP2_ERR_CALLBACK_FAILURE; /* kefo sets no padding */
  }
  if (evbuffer_get_length(bufferevent_get_output(conn->bev)) >=
      KEFO_H2_OUTPUT_HIGH) {
    kefo__h2_connection_hold_output(conn);
    return NGHTTP2_ERR_WOULDBLOCK;
  }
  if (s->cancelled && s->body_lent) {
    /* As body_read_cb: a lent body may be gone. */
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  if (length > s->body_len - s->body_sent ||
      bufferevent_write(conn->bev, framehd, 9) != 0) {
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  if (length > 0 && s->body_lent) {
    if (evbuffer_add_reference(bufferevent_get_output(conn->bev),
                               s->body + s->body_sent, length, body_ref_done,
                               s) != 0) {
      return NGHTTP2_ERR_CALLBACK_FAILURE;
    }
    ++s->out_refs;
    s->ref_conn = conn;
  } else if (length > 0 && bufferevent_write(conn->bev, s->body + s->body_sent,
                                             length) != 0) {
    return NGHTTP2_ERR_CALLBACK_FAILURE;
  }
  s->body_sent += length;
  return 0;
}

static int on_header_cb(nghttp2_session *session, const nghttp2_frame *frame,
                        const uint8_t *name, size_t namelen,
                        const uint8_t *value, size_t valuelen, uint8_t flags,
                        void *ud) {
  h2_stream *s;

  (void)flags;
  (void)ud;
  if (frame->hd.type != NGHTTP2_HEADERS) {
    return 0;
  }
  s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
  if (s == NULL || s->got_response) {
    return 0; /* trailers, or a stream we no longer track */
  }
  if (namelen == 7 && memcmp(name, ":status", 7) == 0) {
    int st = 0;
    size_t i;
    for (i = 0; i < valuelen && i < 3; ++i) {
      st = st * 10 + (value[i] - '0');
    }
    s->status = st;
    return 0;
  }
  if (s->nresp == MAX_RESPONSE_HEADERS ||
      s->resp_strings.len + namelen + valuelen + 2 >
          MAX_RESPONSE_HEADER_BYTES) {
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE; /* resets the stream */
  }
  if (kefo__buf_append(&s->resp_strings, name, namelen) != 0 ||
      kefo__buf_append_byte(&s->resp_strings, 0) != 0 ||
      kefo__buf_append(&s->resp_strings, value, valuelen) != 0 ||
      kefo__buf_append_byte(&s->resp_strings, 0) != 0) {
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
  }
  ++s->nresp;
  return 0;
}

static int deliver_response(h2_stream *s) {
  kefo_http_header hs[MAX_RESPONSE_HEADERS];
  const char *p = (const char *)s->resp_strings.data;
  size_t i;
  int rv;

  for (i = 0; i < s->nresp; ++i) {
    hs[i].name = p;
    p += strlen(p) + 1;
    hs[i].value = p;
    p += strlen(p) + 1;
  }
  s->got_response = 1;
  if (s->timer) {
    event_del(s->timer);
  }
  if (s->cancelled || s->cb.on_response == NULL) {
    return 0;
  }
  s->in_callback = 1;
  rv = s->cb.on_response(&s->base, s->status, hs, s->nresp, s->user_data);
  s->in_callback = 0;
  kefo__buf_free(&s->resp_strings);
  return rv;
}

static int on_frame_recv_cb(nghttp2_session *session,
                            const nghttp2_frame *frame, void *ud) {
  h2_conn *conn = ud;
  h2_stream *s;

  switch (frame->hd.type) {
  case NGHTTP2_SETTINGS:
    if (!(frame->hd.flags & NGHTTP2_FLAG_ACK)) {
      conn->max_streams = nghttp2_session_get_remote_settings(
          session, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
      if (!conn->got_settings) {
        struct timeval tv;
        conn->got_settings = 1;
        /* Only now is the connection made: a peer that accepts and says
           nothing must keep counting as a failure of the endpoint. */
        kefo__h2_client_backoff_succeeded(conn->client, &conn->ep);
        /* From the handshake deadline to the liveness check. */
        kefo__timeval_ms(&tv, conn->client->opts.ping_interval_ms);
        event_add(conn->timer, &tv);
        kefo__h2_client_settle(conn);
      }
    }
    break;
  case NGHTTP2_GOAWAY:
    /* Streams in flight below last_stream_id finish; new ones go to a
       new connection. */
    if (conn->state == CONN_READY) {
      conn->state = CONN_DRAINING;
    }
    break;
  case NGHTTP2_HEADERS:
    s = nghttp2_session_get_stream_user_data(session, frame->hd.stream_id);
    if (s == NULL || s->got_response ||
        frame->headers.cat != NGHTTP2_HCAT_RESPONSE) {
      break;
    }
    if (s->status >= 100 && s->status < 200) {
      s->status = 0; /* interim response: wait for the final one */
      s->nresp = 0;
      kefo__buf_reset(&s->resp_strings);
      break;
    }
    if (deliver_response(s) != 0 && !s->cancelled) {
      s->cancelled = 1;
      /* The owner has its body back at on_close: what of it the output
         still refers to is copied out first. */
      kefo__h2_stream_give_back_body(s);
      {
        kefo_error_info info;
        memset(&info, 0, sizeof(info));
        info.code = KEFO_ERR_CALLBACK_FAILURE;
        info.message = "on_response returned non-zero";
        info.http_status = s->status;
        s->cb.on_close(&s->base, KEFO_ERR_CALLBACK_FAILURE, &info,
                       s->user_data);
      }
      nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, s->id,
                                NGHTTP2_CANCEL);
    }
    break;
  default:
    break;
  }
  return 0;
}

static void conn_update(nghttp2_session *session, h2_conn *conn, size_t len) {
  uint32_t window = conn->client->opts.stream_window;

  /* Half the smaller window: with a stream window above the connection
     window, half the stream window would never be reached. */
  if (window > CONNECTION_WINDOW) {
    window = CONNECTION_WINDOW;
  }
  conn->conn_unacked += len;
  /* Below what was received, this only sends the WINDOW_UPDATE: the
     local window keeps its size (nghttp2_adjust_local_window_size). Out
     of memory keeps the credit for the next piece: dropped, it was gone
     for good, and two such losses left the peer no window to answer in
     (every call on the connection waited until the producer stopped;
     producer_mock_test's allocation failures found it). */
  if (conn->conn_unacked >= window / 2 &&
      nghttp2_submit_window_update(session, NGHTTP2_FLAG_NONE, 0,
                                   (int32_t)conn->conn_unacked) == 0) {
    conn->conn_unacked = 0;
  }
}

/* The piece being fed is at |cur|: prefetch for the frames ahead, in
   three stages so that no stage reads what is not in cache yet. */
static void look_ahead(kefo_h2_client *c, size_t cur) {
  h2_stream *s;
  int i;

  while (c->ahead_next < c->nahead && c->ahead[c->ahead_next].offset <= cur) {
    ++c->ahead_next;
  }
  /* 1: nghttp2's stream (finding it reads only nghttp2's map). */
  while (c->ahead_s1 < c->nahead && c->ahead_s1 < c->ahead_next + AHEAD_FAR) {
    __builtin_prefetch(nghttp2_session_find_stream(
                           c->feed_session, c->ahead[c->ahead_s1++].stream_id),
                       1);
  }
  /* 2: ours, which nghttp2's stream points to. */
  while (c->ahead_s2 < c->nahead && c->ahead_s2 < c->ahead_next + AHEAD_MID) {
    s = nghttp2_session_get_stream_user_data(c->feed_session,
                                             c->ahead[c->ahead_s2++].stream_id);
    if (s != NULL) {
      __builtin_prefetch(s, 1);
    }
  }
  /* 3: the owner's, which ours names. */
  while (c->ahead_s3 < c->nahead && c->ahead_s3 < c->ahead_next + AHEAD_NEAR) {
    s = nghttp2_session_get_stream_user_data(c->feed_session,
                                             c->ahead[c->ahead_s3++].stream_id);
    if (s != NULL) {
      for (i = 0; i < s->ntouch; ++i) {
        __builtin_prefetch(s->touch[i], 1);
      }
    }
  }
}

static int on_data_chunk_cb(nghttp2_session *session, uint8_t flags, int32_t id,
                            const uint8_t *data, size_t len, void *ud) {
  h2_stream *s = nghttp2_session_get_stream_user_data(session, id);
  kefo_h2_client *c = ((h2_conn *)ud)->client;

  (void)flags;
  if (session == c->feed_session && data >= c->feed_base &&
      data < c->feed_base + c->feed_len) {
    look_ahead(c, (size_t)(data - c->feed_base));
  }
  /* The connection window goes back at once: the bytes now sit with one
     stream, whose own window is what holds its peer back. It goes back
     every half stream window, not every half connection window as
     nghttp2 would: kinesis-local's server takes our
     SETTINGS_INITIAL_WINDOW_SIZE as its connection window too and never
     sees the larger connection WINDOW_UPDATE, so two streams stalled for
     good once they had received one stream window between them. */
  conn_update(session, ud, len);
  if (s == NULL || s->cancelled) {
    nghttp2_session_consume_stream(session, id, len);
    return 0;
  }
  if (s->cb.on_data == NULL) {
    nghttp2_session_consume_stream(session, id, len);
    return 0;
  }
  s->in_callback = 1;
  if (s->cb.on_data(&s->base, data, len, s->user_data) != 0 && !s->cancelled) {
    kefo_error_info info;
    memset(&info, 0, sizeof(info));
    info.code = KEFO_ERR_CALLBACK_FAILURE;
    info.message = "on_data returned non-zero";
    info.http_status = s->status;
    s->cancelled = 1;
    kefo__h2_stream_give_back_body(s); /* as above */
    s->cb.on_close(&s->base, KEFO_ERR_CALLBACK_FAILURE, &info, s->user_data);
    nghttp2_submit_rst_stream(session, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
  }
  s->in_callback = 0;
  return 0;
}

static int on_stream_close_cb(nghttp2_session *session, int32_t id,
                              uint32_t error_code, void *ud) {
  h2_stream *s = nghttp2_session_get_stream_user_data(session, id);
  char msg[400];

  (void)ud;
  if (s == NULL) {
    return 0;
  }
  nghttp2_session_set_stream_user_data(session, id, NULL);
  if (error_code == NGHTTP2_NO_ERROR && s->got_response) {
    kefo__h2_stream_finish(s, 0, NULL, 0);
    return 0;
  }
  if (error_code == NGHTTP2_NO_ERROR) {
    kefo__h2_stream_finish(s, KEFO_ERR_HTTP, "stream ended without a response",
                           1);
    return 0;
  }
  snprintf(msg, sizeof(msg), "HTTP/2 stream reset: %s",
           nghttp2_http2_strerror(error_code));
  /* Every reset is retryable: REFUSED_STREAM (a GOAWAY below us, the
     peer's stream limit) says the server did not process the request,
     and the others (PROTOCOL_ERROR from a body that does not match its
     content-length, INTERNAL_ERROR, CANCEL) lost a read that is safe to
     send again; the caller's retry budget bounds a server that always
     resets. */
  kefo__h2_stream_finish(s, KEFO_ERR_STREAM_RESET, msg, 1);
  return 0;
}

/* Hands |len| received bytes to nghttp2. Returns 0, or -1 when the
   connection died (failed here, or by what a callback did). */
int kefo__h2_session_feed(h2_conn *conn, const uint8_t *data, size_t len) {
  kefo_h2_client *c = conn->client;
  ssize_t rv;

  if (!conn->preface_ok &&
      kefo__h2_connection_check_preface(conn, data, len) != 0) {
    return -1;
  }
  c->nahead =
      kefo__h2_frame_scan_feed(&conn->scan, data, len, c->ahead, AHEAD_MAX);
  c->ahead_next = c->ahead_s1 = c->ahead_s2 = c->ahead_s3 = 0;
  c->feed_session = conn->session;
  c->feed_base = data;
  c->feed_len = len;
  rv = nghttp2_session_mem_recv(conn->session, data, len);
  c->feed_session = NULL;
  c->nahead = 0;

  if (rv < 0) {
    kefo__h2_connection_fail(conn, KEFO_ERR_HTTP, nghttp2_strerror((int)rv), 1);
    return -1;
  }
  return conn->state == CONN_DEAD ? -1 : 0;
}

void kefo__h2_session_callbacks_set(nghttp2_session_callbacks *cbs) {
  nghttp2_session_callbacks_set_send_callback(cbs, send_cb);
  nghttp2_session_callbacks_set_send_data_callback(cbs, send_data_cb);
  nghttp2_session_callbacks_set_on_header_callback(cbs, on_header_cb);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cbs, on_frame_recv_cb);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cbs,
                                                            on_data_chunk_cb);
  nghttp2_session_callbacks_set_on_stream_close_callback(cbs,
                                                         on_stream_close_cb);
}
