/*
 * kefo: read Amazon Kinesis Data Streams with Enhanced Fan-Out (HTTP/2
 * SubscribeToShard) and polling (GetRecords).
 *
 * This is the umbrella header: applications include only this one.
 */
#ifndef KEFO_H
#define KEFO_H

#include <stddef.h>
#include <stdint.h>

#include <kefo/kefover.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(BUILDING_KEFO) && defined(__GNUC__)
#define KEFO_EXTERN __attribute__((visibility("default")))
#else
#define KEFO_EXTERN
#endif

/*
 * Threads and signals (as libuv's rule): a kefo object is not
 * thread-safe. kefo does all its I/O on one libevent event_base and calls
 * back on that loop's thread; every function must be called on that
 * thread, with one exception: kefo_consumer_stop_async(), which any
 * thread and any signal handler may call. Different consumers on
 * different threads, each with its own loop, do not share state (except
 * the process-wide OpenSSL and libevent initialisation, done once and
 * safe to do from several threads). Writes to a closed socket raise
 * SIGPIPE (OpenSSL and libevent do not use MSG_NOSIGNAL): an application
 * must ignore SIGPIPE, as kefo's own tools do.
 */

/*
 * Error codes. Every function returns 0 or one of these; they share one
 * reserved range [-999, -500] so they never clash with an application's
 * own codes or with errno values. Codes at or below KEFO_ERR_FATAL leave
 * the object they came from usable only for freeing.
 */
typedef enum {
  /* An argument was NULL, out of range or otherwise invalid. */
  KEFO_ERR_INVALID_ARGUMENT = -501,
  /* The output buffer given is too small; nothing was written. */
  KEFO_ERR_BUFFER_TOO_SMALL = -502,
  /* The object is in a state in which this call is not allowed (for
     example a decoder used again after an error, without a reset). */
  KEFO_ERR_INVALID_STATE = -503,
  /* The producer's buffer is full (sink.requests.max-buffered records or
     sink.buffer.max-bytes bytes, queued and in flight): nothing was
     queued; on_writable says when to put again. Not an error to log. */
  KEFO_ERR_WOULD_BLOCK = -504,

  /* Event-stream framing (application/vnd.amazon.eventstream). */
  /* The prelude CRC (over the first 8 bytes) does not match. */
  KEFO_ERR_ES_PRELUDE_CRC = -520,
  /* The message CRC (over every byte before it) does not match. */
  KEFO_ERR_ES_MESSAGE_CRC = -521,
  /* The total length or the headers length is above the configured
     limit; checked before anything is allocated. */
  KEFO_ERR_ES_TOO_LARGE = -522,
  /* The lengths in the prelude contradict each other (the total is
     smaller than the prelude, headers and CRCs). */
  KEFO_ERR_ES_BAD_LENGTH = -523,
  /* A header is malformed: empty name, unknown value type, or a value
     that runs past the end of the headers section. */
  KEFO_ERR_ES_BAD_HEADER = -524,
  /* The input ended in the middle of a message. */
  KEFO_ERR_ES_TRUNCATED = -525,

  /* Base64 text holds a character outside the alphabet, bad padding or a
     length that is not a whole number of 4-character groups. */
  KEFO_ERR_BASE64 = -530,

  /* SigV4: a request cannot be signed as given (a header name or value
     with a control character, a path that is not absolute, ...). */
  KEFO_ERR_SIGV4 = -540,

  /* The cryptographic library (OpenSSL) failed to compute a digest or a
     MAC, for example when a FIPS-only provider refuses MD5. */
  KEFO_ERR_CRYPTO = -550,

  /* Transport. */
  /* A TCP connection could not be made (refused, unreachable, DNS). */
  KEFO_ERR_CONNECT = -560,
  /* TLS failed: handshake, certificate or host name verification, or no
     h2 from ALPN. kefo_error_info.message names the OpenSSL reason. */
  KEFO_ERR_TLS = -561,
  /* A connect, handshake or request deadline passed. */
  KEFO_ERR_TIMEOUT = -562,
  /* The peer broke the HTTP protocol, or the connection was lost with
     the request in flight. */
  KEFO_ERR_HTTP = -563,
  /* The peer reset the stream (HTTP/2 RST_STREAM) or refused it
     (GOAWAY); kefo_error_info.message names the HTTP/2 error code. */
  KEFO_ERR_STREAM_RESET = -564,
  /* The request was cancelled by its owner or by shutting down. */
  KEFO_ERR_CANCELLED = -565,
  /* A response body, or the whole response, is larger than allowed. */
  KEFO_ERR_RESPONSE_TOO_LARGE = -566,

  /* AWS. */
  /* AWS answered with an error: kefo_error_info holds its type (such as
     "ResourceInUseException"), message, HTTP status and whether it is
     worth retrying. */
  KEFO_ERR_AWS = -570,
  /* A response is not the JSON (or CBOR) the API documents. */
  KEFO_ERR_BAD_RESPONSE = -571,
  /* No credentials could be found, or a provider failed to get them. */
  KEFO_ERR_CREDENTIALS = -580,
  /* A configuration key is unknown or its value is invalid; the error
     text names the key. */
  KEFO_ERR_CONFIG = -590,
  /* The lease store failed: its file cannot be read, written or locked,
     or it belongs to another stream or consumer; the error text says
     which. */
  KEFO_ERR_LEASE_STORE = -600,
  /* This worker no longer holds the shard's lease (another worker took
     it over): its checkpoint was not written, and its reading stops. */
  KEFO_ERR_LEASE_LOST = -601,

  /* Fatal errors: the object may only be freed. */
  KEFO_ERR_FATAL = -900,
  /* An allocation failed. */
  KEFO_ERR_NOMEM = -901,
  /* An application callback returned non-zero. */
  KEFO_ERR_CALLBACK_FAILURE = -902
} kefo_error;

/*
 * Returns a short English description of the error code |code|, such as
 * "Event-stream prelude CRC mismatch". Unknown codes give "Unknown error
 * code". The string is static: never free it.
 */
KEFO_EXTERN const char *kefo_strerror(int code);

/*
 * Returns non-zero when |code| is fatal: the object that returned it may
 * only be freed.
 */
KEFO_EXTERN int kefo_is_fatal(int code);

/*
 * A custom allocator, copied into each object that takes one. NULL means
 * malloc/free/calloc/realloc. Its layout matches nghttp2_mem, so kefo
 * hands it on to nghttp2 unchanged. Functions may be called from any
 * thread that calls into kefo (in practice, the event loop thread).
 */
typedef struct kefo_mem {
  /* Passed as the last argument of each function below. */
  void *mem_user_data;
  void *(*malloc)(size_t size, void *mem_user_data);
  void (*free)(void *ptr, void *mem_user_data);
  void *(*calloc)(size_t nmemb, size_t size, void *mem_user_data);
  void *(*realloc)(void *ptr, size_t size, void *mem_user_data);
} kefo_mem;

/*
 * Detail that an error code cannot carry, handed to error callbacks. Every
 * pointer is lent: valid only during the callback. Secrets never appear
 * here.
 */
typedef struct kefo_error_info {
  /* One of the KEFO_ERR_* codes. */
  int code;
  /* The AWS error type (the "__type" of a JSON error without its
     namespace, or an event's ":exception-type"), such as
     "ProvisionedThroughputExceededException"; NULL when not from AWS. */
  const char *aws_type;
  /* What went wrong, in words: the AWS message, the OpenSSL reason, the
     failed check. Never NULL (may be ""). */
  const char *message;
  /* The operation ("SubscribeToShard", "GetItem", ...) or NULL. */
  const char *operation;
  /* The shard concerned, or NULL. */
  const char *shard_id;
  /* The HTTP status of the response, or 0 when there was none. */
  int http_status;
  /* Non-zero when the same call may succeed if tried again later
     (throttling, 5xx, connection loss, timeouts). */
  int retryable;
} kefo_error_info;

/* Version information returned by kefo_version(). */
typedef struct kefo_info {
  /* KEFO_VERSION_NUM of the library actually linked. */
  int version_num;
  /* KEFO_VERSION of the library actually linked. */
  const char *version_str;
} kefo_info;

/*
 * Returns the version of the library linked, or NULL when it is older
 * than |least_version| (a KEFO_VERSION_NUM value; 0 accepts any).
 * The pointer is static: never free it.
 */
KEFO_EXTERN const kefo_info *kefo_version(int least_version);

/*
 * Configuration.
 *
 * A kefo_config holds key=value settings, named as in Apache Flink's
 * Kinesis source where Flink has the setting ("source.reader.type",
 * "source.efo.lifecycle", "aws.region", "retry-strategy.delay.min", ...).
 * Every key has a type, checked when it is set: durations ("500ms", "10s",
 * "5min", "1h", "2d", or a plain number of milliseconds), sizes ("1048576",
 * "64KiB", "1MiB"), integers, booleans (true/false), enumerations (matched
 * ignoring ASCII case, as Flink does), timestamps (ISO 8601 with a zone,
 * such as "2024-05-01T12:00:00.250Z", or epoch seconds such as
 * "1714564800.25") and text. Unknown keys are errors. Error texts name
 * the key and what was wrong; secret values never appear in them.
 *
 * Every key, with its type, default, limits and meaning, is listed in
 * kefo-config(5) (tools/kefo-config.5 in the source tree, printed from
 * the key table itself). An emulator such as kinesis-local is reached by
 * setting "aws.endpoint" (for example "http://127.0.0.1:4568").
 *
 * Checkpoints go to a lease store, by default ("source.lease.store" is
 * "file") the file "kefo.leases" in the working directory of the process
 * ("source.lease.file"): its lock file "kefo.leases.lock" is created when
 * the consumer starts and the file itself at the first checkpoint. Give
 * "source.lease.file" an absolute path to keep them elsewhere, set
 * "source.lease.store" to "memory" to keep none, or to "dynamodb" with
 * "source.lease.table" to share the stream with other workers.
 *
 * A config is not shared between threads while it is being changed.
 */
typedef struct kefo_config kefo_config;

/*
 * Creates an empty configuration (every key at its default) in |*out|,
 * allocating with malloc. Free it with kefo_config_del().
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (|out| is NULL) or KEFO_ERR_NOMEM.
 */
KEFO_EXTERN int kefo_config_new(kefo_config **out);

/*
 * Like kefo_config_new(), allocating through |mem| (NULL: malloc), which
 * is copied. A consumer made from this config allocates through |mem|
 * too: every allocation of kefo's own and of nghttp2 (libevent, OpenSSL
 * and cJSON allocate with malloc: they have only process-wide hooks,
 * which kefo leaves to the application).
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
KEFO_EXTERN int kefo_config_new2(kefo_config **out, const kefo_mem *mem);

/* Frees |cfg| and every value it holds. NULL is allowed. */
KEFO_EXTERN void kefo_config_del(kefo_config *cfg);

/*
 * Sets |key| to |value| (copied), replacing any earlier value; a NULL
 * |value| puts the key back to its default. On error |cfg| is unchanged.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (|cfg| or |key| is NULL),
 * KEFO_ERR_CONFIG (unknown key or invalid value) or KEFO_ERR_NOMEM.
 */
KEFO_EXTERN int kefo_config_set(kefo_config *cfg, const char *key,
                                const char *value);

/*
 * Like kefo_config_set(), and on failure writes a message of at most
 * |errlen| bytes (NUL included) to |err|, such as
 * 'source.efo.lifecycle: "JOBMANAGED" is not one of JOB_MANAGED,
 * SELF_MANAGED' or 'unknown key "source.reader.typ" (did you mean
 * "source.reader.type"?)'. On success |err| becomes "". |err| may be NULL.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT, KEFO_ERR_CONFIG or KEFO_ERR_NOMEM.
 */
KEFO_EXTERN int kefo_config_set2(kefo_config *cfg, const char *key,
                                 const char *value, char *err, size_t errlen);

/*
 * Reads settings from the file at |path|: one key=value per line, blank
 * lines and lines starting with '#' ignored, white space around key and
 * value trimmed, the value being the rest of the line (no quoting, no
 * comment after a value), LF or CRLF line ends, at most 4096 bytes a line
 * and 65536 bytes in all. A key given twice takes its last value. All or
 * nothing: on any error |cfg| is unchanged.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT, KEFO_ERR_CONFIG (the file cannot
 * be read, is too large, or a line is invalid) or KEFO_ERR_NOMEM.
 */
KEFO_EXTERN int kefo_config_load_file(kefo_config *cfg, const char *path);

/*
 * Like kefo_config_load_file(), and on failure writes a message to |err|
 * (as kefo_config_set2() does) that starts with the file and line, such
 * as '/etc/kefo.conf:12: unknown key "source.reader.typ" (did you mean
 * "source.reader.type"?)'.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT, KEFO_ERR_CONFIG or KEFO_ERR_NOMEM.
 */
KEFO_EXTERN int kefo_config_load_file2(kefo_config *cfg, const char *path,
                                       char *err, size_t errlen);

/*
 * Returns the effective value of |key| as text: the value set (enumerations
 * and booleans in their canonical spelling), else the default, else "" when
 * the key has neither. A secret key that is set reads "****". Returns NULL
 * when |key| is not a known key. The string is valid until |key| is set
 * again or |cfg| is deleted.
 */
KEFO_EXTERN const char *kefo_config_get(const kefo_config *cfg,
                                        const char *key);

/*
 * Returns 1 when |key| was set in |cfg| (by kefo_config_set or a file),
 * 0 when it is at its default or is not a known key. For an application
 * that sets its own default only where its user set nothing.
 */
KEFO_EXTERN int kefo_config_is_set(const kefo_config *cfg, const char *key);

/*
 * Checks the rules between keys that kefo_consumer_new checks: a stream
 * is named (by name or ARN, not both, a well-formed ARN), AT_TIMESTAMP
 * has its timestamp, a JOB_MANAGED EFO consumer has a name and no ARN, a
 * SELF_MANAGED one a consumer ARN, the dynamodb store a table, BASIC
 * credentials both keys, ASSUME_ROLE a role ARN, each retry strategy's
 * minimum delay at most its maximum, the stream's and the consumer's ARN
 * in one region and in aws.region's when that is set (a stream is
 * served by its own region's endpoint). On failure writes the first broken
 * rule, naming the key, to |err| (at most |errlen| bytes, NUL included;
 * |err| may be NULL), the words kefo-reader prints: call it before
 * kefo_consumer_new to show a user why KEFO_ERR_CONFIG would come.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (|cfg| NULL) or KEFO_ERR_CONFIG.
 */
KEFO_EXTERN int kefo_config_validate(const kefo_config *cfg, char *err,
                                     size_t errlen);

/* ---------------------------------------------------------------------
 * The consumer: reads every shard of one stream.
 * ------------------------------------------------------------------- */

struct event_base;

typedef struct kefo_consumer kefo_consumer;

/* One record, as delivered to on_records. Everything is lent: valid only
   during the callback. */
typedef struct kefo_record {
  const char *partition_key;
  const char *sequence_number;
  /* The index of a KPL user record in its aggregate; 0 otherwise. */
  uint64_t sub_sequence_number;
  /* NULL when the record has none. */
  const char *explicit_hash_key;
  int64_t approximate_arrival_ms;
  const uint8_t *data;
  size_t data_len;
} kefo_record;

typedef enum {
  /* The shard's reader started (its parents are finished). */
  KEFO_SHARD_EVENT_STARTED = 1,
  /* The shard was read to its end; its children may start. */
  KEFO_SHARD_EVENT_FINISHED = 2,
  /* A subscription ended and the next one began from where it stopped
     (polling: a new shard iterator, after an expired one, began after the
     last delivered record). */
  KEFO_SHARD_EVENT_RESUBSCRIBED = 3,
  /* The shard's reader gave up (a non-retryable error; on_error said
     why). */
  KEFO_SHARD_EVENT_FAILED = 4,
  /* A shard was listed for the first time (at start, by a later
     discovery, or named in a parent's ChildShards). It starts once its
     parents are finished. */
  KEFO_SHARD_EVENT_DISCOVERED = 5,
  /* kefo_shard_pause took effect: no record of the shard is handed on
     until it is resumed. */
  KEFO_SHARD_EVENT_PAUSED = 6,
  /* kefo_shard_resume: the shard goes on after its last delivered
     record. */
  KEFO_SHARD_EVENT_RESUMED = 7,
  /* Another worker took over the shard's lease (a DynamoDB lease table
     shared by several workers): this worker stopped reading it. Records
     delivered since the last checkpoint will be read again by the new
     owner. */
  KEFO_SHARD_EVENT_LEASE_LOST = 8
} kefo_shard_event;

typedef struct kefo_callbacks {
  /*
   * Records of one shard, in order, none twice within the run. |records|
   * and everything they point to are lent: valid only during the call.
   * Runs on the event loop's thread.
   *
   * What a checkpoint may cover: a record is finished with once this
   * call returns 0 for it. Automatic checkpoints (and the one of a
   * graceful stop) cover only finished records; kefo_checkpoint() may
   * also name a record of the current call. An application that stops in
   * the middle of |records| (a limit reached, its output failing) says
   * how far it got with kefo_consumer_stop_after(); kefo_consumer_stop()
   * inside this call counts all of |records| as finished. After a stop
   * is asked, on_records is not called again. Non-zero return stops the
   * consumer at once (not gracefully), none of |records| finished with.
   */
  int (*on_records)(kefo_consumer *c, const char *shard_id,
                    const kefo_record *records, size_t n,
                    int64_t millis_behind_latest, void *user_data);
  /* A shard's reader started, finished, resubscribed or failed. Optional.
     Runs on the event loop's thread. */
  void (*on_shard_event)(kefo_consumer *c, const char *shard_id,
                         kefo_shard_event ev, void *user_data);
  /* Something went wrong; |err| says what (lent). Optional. Runs on the
     event loop's thread. */
  void (*on_error)(kefo_consumer *c, const kefo_error_info *err,
                   void *user_data);
} kefo_callbacks;

/*
 * The event time of |record| of |shard_id|, epoch milliseconds, for the
 * watermarks. Called once per record, before on_records; |user_data| is
 * the consumer's.
 */
typedef int64_t (*kefo_event_time_cb)(kefo_consumer *c, const char *shard_id,
                                      const kefo_record *record,
                                      void *user_data);

/*
 * Why a consumer stopped, as on_stopped says.
 */
typedef enum {
  /* kefo_consumer_stop, kefo_consumer_stop_async or
     kefo_consumer_stop_after asked for it. */
  KEFO_STOP_ASKED = 1,
  /* An error kefo does not retry (an unknown stream, an endpoint that
     cannot be reached once the retries are spent, a lease store that
     cannot be opened, ...): on_stopped's |err| says which. */
  KEFO_STOP_ERROR = 2,
  /* on_records returned non-zero. */
  KEFO_STOP_CALLBACK = 3
} kefo_stop_reason;

/*
 * The consumer has stopped, once, with |reason|; |err| is the error that
 * stopped it for KEFO_STOP_ERROR (lent: valid during the call), else
 * NULL. From here kefo_consumer_stopped() is non-zero and nothing of the
 * consumer's is left on the loop; kefo_consumer_del may follow, but not
 * inside this call. Runs on the loop's thread (or inside the
 * kefo_consumer_stop call that stopped it at once).
 */
typedef void (*kefo_on_stopped_cb)(kefo_consumer *c, kefo_stop_reason reason,
                                   const kefo_error_info *err, void *user_data);

/*
 * The ABI rule. The structs of this header never change size or layout
 * once published (kefo_callbacks, kefo_record, kefo_error_info,
 * kefo_stats, kefo_shard_stats, kefo_watermarks, kefo_shard_watermark,
 * kefo_mem, kefo_info): a program built against an older header keeps
 * working with a newer library. What is added later comes as new
 * functions, new setters of kefo_consumer_callbacks below, or new enum
 * values (a program must accept values it does not know). Adding a
 * function raises -version-info's current and age (the soname stays);
 * KEFO_VERSION_NUM (0xMMmmpp) moves its minor number for additions and
 * its major number only for a deliberate break, which also changes the
 * soname.
 *
 * Callbacks, as an object with one setter each (as nghttp2's
 * nghttp2_session_callbacks), so a callback can be added without
 * changing any struct: kefo_callbacks above holds the first three and
 * never grows. Create one, set what the application handles, pass it to
 * kefo_consumer_new2 (which copies it), and delete it.
 */
typedef struct kefo_consumer_callbacks kefo_consumer_callbacks;

/*
 * Creates a callbacks object with every callback unset, allocating with
 * malloc.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (|out| NULL) or KEFO_ERR_NOMEM.
 */
KEFO_EXTERN int kefo_consumer_callbacks_new(kefo_consumer_callbacks **out);

/* Frees |cbs|. NULL is allowed. */
KEFO_EXTERN void kefo_consumer_callbacks_del(kefo_consumer_callbacks *cbs);

/* The setters: each replaces one callback (NULL unsets it); see
   kefo_callbacks for on_records, on_shard_event and on_error, and
   kefo_consumer_set_event_time for event_time. on_records is required
   by kefo_consumer_new2. */
KEFO_EXTERN void kefo_consumer_callbacks_set_on_records(
    kefo_consumer_callbacks *cbs,
    int (*on_records)(kefo_consumer *c, const char *shard_id,
                      const kefo_record *records, size_t n,
                      int64_t millis_behind_latest, void *user_data));
KEFO_EXTERN void kefo_consumer_callbacks_set_on_shard_event(
    kefo_consumer_callbacks *cbs,
    void (*on_shard_event)(kefo_consumer *c, const char *shard_id,
                           kefo_shard_event ev, void *user_data));
KEFO_EXTERN void kefo_consumer_callbacks_set_on_error(
    kefo_consumer_callbacks *cbs,
    void (*on_error)(kefo_consumer *c, const kefo_error_info *err,
                     void *user_data));
KEFO_EXTERN void
kefo_consumer_callbacks_set_event_time(kefo_consumer_callbacks *cbs,
                                       kefo_event_time_cb event_time);
KEFO_EXTERN void
kefo_consumer_callbacks_set_on_stopped(kefo_consumer_callbacks *cbs,
                                       kefo_on_stopped_cb on_stopped);

/*
 * Like kefo_consumer_new, with callbacks from |cbs| (copied: the
 * application may delete it).
 *
 * Returns as kefo_consumer_new; KEFO_ERR_INVALID_ARGUMENT also when
 * |cbs| has no on_records.
 */
KEFO_EXTERN int kefo_consumer_new2(kefo_consumer **out, const kefo_config *cfg,
                                   const kefo_consumer_callbacks *cbs,
                                   void *user_data, struct event_base *base);

/*
 * Creates a consumer of the stream that |cfg| names (copied: the
 * application may free it). |cb| is copied. |base| is the application's
 * event loop, or NULL for one of kefo's own (then run it with
 * kefo_consumer_run). kefo_consumer_new2 takes the callbacks added since
 * (on_stopped).
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT, KEFO_ERR_CONFIG (the config fails
 * validation, or the region or endpoint cannot be resolved; what is
 * wrong goes to the log hook of kefo_consumer_new2, an error named
 * "config.invalid"), KEFO_ERR_TLS (the CA file cannot be loaded) or
 * KEFO_ERR_NOMEM.
 */
KEFO_EXTERN int kefo_consumer_new(kefo_consumer **out, const kefo_config *cfg,
                                  const kefo_callbacks *cb, void *user_data,
                                  struct event_base *base);

/*
 * Starts reading: registers or checks the EFO consumer, lists the shards,
 * and subscribes to each one whose parents are finished. Progress and
 * failures come through the callbacks.
 *
 * Returns 0, KEFO_ERR_INVALID_STATE (already started) or KEFO_ERR_NOMEM.
 */
KEFO_EXTERN int kefo_consumer_start(kefo_consumer *c);

/*
 * Runs kefo's own event loop until the consumer has stopped (only for a
 * consumer created with a NULL |base|).
 *
 * Returns 0 or KEFO_ERR_INVALID_STATE.
 */
KEFO_EXTERN int kefo_consumer_run(kefo_consumer *c);

/*
 * Stops reading. Graceful: every subscription ends, finished records
 * are checkpointed (when source.checkpoint.interval is above 0), leases
 * of a DynamoDB lease table are released once those checkpoints are
 * written, and a JOB_MANAGED consumer is deregistered (waiting at most
 * source.efo.deregister.timeout) unless other workers of the lease table
 * still read with it; else everything stops at once (leases then expire
 * after source.lease.duration). A stop that is not graceful, during a
 * graceful one, ends it at once. Safe from inside callbacks; asked
 * inside on_records, it takes effect when on_records returns, and that
 * call's records count as finished with (kefo_consumer_stop_after says
 * otherwise).
 *
 * Returns 0.
 */
KEFO_EXTERN int kefo_consumer_stop(kefo_consumer *c, int graceful);

/*
 * Inside on_records only: the application finished with the first |n|
 * of the records of this call and no more, and stops the consumer
 * (gracefully when |graceful| is non-zero, as kefo_consumer_stop). The
 * records after the first |n| count as never delivered: no checkpoint,
 * automatic or by kefo_checkpoint(), covers them, and a run that resumes
 * from the checkpoints reads them again. The stop takes effect when
 * on_records returns (which must return 0); no other record of any shard
 * is handed on after it. kefo-reader uses it when --limit falls inside a
 * call (n: the records it printed) and when writing its output fails
 * (n = 0: it cannot know which of the call's records got out).
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (|c| NULL, or |n| above the
 * number of records of the call) or KEFO_ERR_INVALID_STATE (not inside
 * on_records).
 */
KEFO_EXTERN int kefo_consumer_stop_after(kefo_consumer *c, size_t n,
                                         int graceful);

/*
 * Asks for kefo_consumer_stop(|c|, |graceful|) from any thread, or from
 * a signal handler: it only writes one byte to a pipe of the consumer's
 * (async-signal-safe, errno kept), and the stop happens on the event
 * loop's thread soon after. Every other function of this header must be
 * called on the loop's thread (or, before kefo_consumer_start, on the
 * thread that owns |c|). |c| must stay alive until the stop is done:
 * never call it after kefo_consumer_del.
 *
 * Returns 0 or KEFO_ERR_INVALID_ARGUMENT (|c| NULL).
 */
KEFO_EXTERN int kefo_consumer_stop_async(kefo_consumer *c, int graceful);

/* Returns non-zero once the consumer has stopped. */
KEFO_EXTERN int kefo_consumer_stopped(const kefo_consumer *c);

/*
 * Frees |c|. Never call it from inside a callback. It waits for nothing:
 * a consumer not stopped yet is dropped at once, with no checkpoint, its
 * leases left to expire and a JOB_MANAGED consumer left registered (on
 * AWS it is billed and counts toward the stream's 20 consumers). To
 * deregister, stop gracefully and run the loop until
 * kefo_consumer_stopped() before freeing.
 */
KEFO_EXTERN void kefo_consumer_del(kefo_consumer *c);

/*
 * Checkpoints |shard_id| at the record |sequence_number| /
 * |sub_sequence| (its KPL user record index, 0 for a plain record): after
 * a restart the shard resumes with the record after it. Only records
 * already delivered can be checkpointed (inside on_records, also those of
 * the current call), and a checkpoint never moves backwards (an older one
 * is accepted and ignored).
 *
 * With source.checkpoint.interval above 0 (the default, 5 s) kefo also
 * checkpoints every finished record (see on_records) by itself at that
 * interval and at a graceful stop: delivery is then at-least-once from
 * the last interval.
 * Set it to 0 to checkpoint only here, once records are truly processed.
 * A shard read to its end is always checkpointed at once (SHARD_END), so
 * its children start after a restart without rereading it.
 *
 * The file and memory stores write before this returns. The DynamoDB
 * lease table writes later: then 0 means asked, and a failure comes
 * through on_error (KEFO_ERR_LEASE_LOST when another worker took the
 * shard over: its checkpoint is left as it is).
 *
 * Returns 0 (stored or asked, or ignored as older),
 * KEFO_ERR_INVALID_ARGUMENT (a NULL argument, a malformed sequence
 * number, one not yet delivered, or a shard this consumer is not
 * reading), KEFO_ERR_INVALID_STATE (not running), KEFO_ERR_NOMEM, or the
 * file or memory store's error: KEFO_ERR_LEASE_STORE (the store failed
 * to write; on_error has the details).
 */
KEFO_EXTERN int kefo_checkpoint(kefo_consumer *c, const char *shard_id,
                                const char *sequence_number,
                                uint64_t sub_sequence);

/*
 * Pauses |shard_id|: from the return of this call, no record of it is
 * handed to on_records until kefo_shard_resume, and it costs at most its
 * stream window (source.shard.buffer.max-bytes) while paused. Over EFO
 * the bytes that arrive are not given back to HTTP/2 flow control, so the
 * server stops sending; a subscription that ends meanwhile is renewed
 * only on resume. Polling stops calling GetRecords. For an application's
 * own coordinator (as Flink's pauseOrResumeSplits); on_shard_event says
 * KEFO_SHARD_EVENT_PAUSED. Safe inside callbacks.
 *
 * Returns 0 (paused; also when it was paused already, or when the shard
 * was read to its end or failed: nothing to pause), KEFO_ERR_INVALID_ARGUMENT
 * (a NULL argument, or a shard this consumer has not started) or
 * KEFO_ERR_INVALID_STATE (the consumer is not running).
 */
KEFO_EXTERN int kefo_shard_pause(kefo_consumer *c, const char *shard_id);

/*
 * Resumes a paused |shard_id| after its last delivered record, with no
 * gap and no duplicate, however long it was paused (an ended subscription
 * or an expired shard iterator is renewed from there). Records follow
 * from the event loop, never inside this call; on_shard_event says
 * KEFO_SHARD_EVENT_RESUMED.
 *
 * Returns as kefo_shard_pause.
 */
KEFO_EXTERN int kefo_shard_resume(kefo_consumer *c, const char *shard_id);

/* No watermark: a shard before its first record. */
#define KEFO_WATERMARK_NONE INT64_MIN

/*
 * Sets where event times come from (NULL: each record's
 * ApproximateArrivalTimestamp, the default). A shard's watermark is the
 * largest event time it delivered minus source.watermark.out-of-orderness.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (|c| NULL) or
 * KEFO_ERR_INVALID_STATE (the consumer was started already).
 */
KEFO_EXTERN int kefo_consumer_set_event_time(kefo_consumer *c,
                                             kefo_event_time_cb cb);

typedef struct kefo_shard_watermark {
  const char *shard_id;
  /* KEFO_WATERMARK_NONE before the shard's first record. */
  int64_t watermark;
  /* No record for source.watermark.idle-timeout (and not paused): it
     does not hold the global watermark back. */
  int idle;
  /* Paused by the application or by alignment. */
  int paused;
  /* Read to its end: it no longer counts. */
  int finished;
} kefo_shard_watermark;

typedef struct kefo_watermarks {
  /* The smallest watermark of the shards being read that are not idle;
     KEFO_WATERMARK_NONE while one of them has none yet, or when no shard
     counts. */
  int64_t global;
  /* Every started shard, lent until the next call. */
  const kefo_shard_watermark *shards;
  size_t nshards;
} kefo_watermarks;

/*
 * Fills |out| with the global watermark and each shard's.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (a NULL argument) or
 * KEFO_ERR_NOMEM.
 */
KEFO_EXTERN int kefo_consumer_watermarks(kefo_consumer *c,
                                         kefo_watermarks *out);

/*
 * Sets the largest watermark a shard may run to (as Flink's split
 * alignment, for an external coordinator): a shard whose watermark is
 * above |max_ms| is paused, and resumed once |max_ms| moves to or past
 * it. INT64_MAX lifts the limit (the default). With
 * source.watermark.alignment.max-drift above 0, the built-in aligner
 * also keeps every shard within max-drift of the slowest shard being
 * read that is not idle (shards without a record yet do not count);
 * the stricter of the two limits holds. Pauses for alignment are
 * separate from kefo_shard_pause: a shard reads only when neither holds
 * it. Checked before every delivery (a batch whose oldest record is past
 * the limit is held back whole and handed on after the resume), after
 * every delivery and every 100 ms.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (|c| NULL) or KEFO_ERR_NOMEM.
 */
KEFO_EXTERN int kefo_set_max_watermark(kefo_consumer *c, int64_t max_ms);

typedef enum {
  /* Known, waiting for its parents to finish. */
  KEFO_SHARD_STATE_WAITING = 0,
  /* Being read. */
  KEFO_SHARD_STATE_READING = 1,
  /* Read to its end. */
  KEFO_SHARD_STATE_FINISHED = 2,
  /* Its reader gave up. */
  KEFO_SHARD_STATE_FAILED = 3,
  /* Being read, but paused (kefo_shard_pause). */
  KEFO_SHARD_STATE_PAUSED = 4,
  /* The consumer stopped (or is stopping) while the shard was being
     read. */
  KEFO_SHARD_STATE_STOPPED = 5
} kefo_shard_state_kind;

/* One shard's counters since the consumer started. */
typedef struct kefo_shard_stats {
  const char *shard_id;
  kefo_shard_state_kind state;
  /* User records (after KPL de-aggregation) and their data bytes. */
  uint64_t records;
  uint64_t bytes;
  /* From the last event (or GetRecords answer); -1 before the first. */
  int64_t millis_behind_latest;
  /* Subscriptions after the first one (polling: shard iterators). */
  uint32_t resubscribes;
  /* Subscriptions (polling: calls) that ended with an error. */
  uint32_t errors;
} kefo_shard_stats;

typedef struct kefo_stats {
  /* The shards this consumer has started, in no particular order. */
  const kefo_shard_stats *shards;
  size_t nshards;
  /* Sums over the shards. */
  uint64_t records;
  uint64_t bytes;
} kefo_stats;

/*
 * Fills |out| with the consumer's counters. Everything it points to is
 * lent: valid until the next kefo_consumer_stats call or
 * kefo_consumer_del.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT or KEFO_ERR_NOMEM.
 */
KEFO_EXTERN int kefo_consumer_stats(kefo_consumer *c, kefo_stats *out);

/* ---------------------------------------------------------------------
 * The log hook: what kefo does that an operator wants to see, handed to
 * the application's own logging. Without a hook nothing is formatted and
 * nothing is written.
 * ------------------------------------------------------------------- */

/* How much a log call matters; a hook set at a level gets that level and
   every level below it (KEFO_LOG_WARN: errors and warnings). */
typedef enum {
  KEFO_LOG_ERROR = 1, /* given up: a shard failed, a lease lost */
  KEFO_LOG_WARN = 2,  /* retried: the cause and the delay */
  KEFO_LOG_INFO = 3,  /* subscriptions, leases, shards, alignment */
  KEFO_LOG_DEBUG = 4  /* per-call detail (discovery, lease renewals) */
} kefo_log_level;

/*
 * One log call. |event| is a stable name an application may route or
 * count on ("subscription.renewed", "retry", "lease.stolen", ...: the
 * list is in README.md; new names may come, old ones keep their
 * meaning). |shard_id| is the shard concerned, or NULL. |message| is the
 * event in words, one line, with its cause, delay and figures (never a
 * key, a token, a signature or a header). Every string is lent: valid
 * only during the call. Runs on the event loop's thread; it must not
 * call back into kefo.
 */
typedef void (*kefo_log_cb)(kefo_log_level level, const char *event,
                            const char *shard_id, const char *message,
                            void *user_data);

/* Sets the consumer's log hook (NULL: none, the default) and the most
   detailed level it gets; |user_data| is the consumer's. */
KEFO_EXTERN void kefo_consumer_callbacks_set_log(kefo_consumer_callbacks *cbs,
                                                 kefo_log_cb cb,
                                                 kefo_log_level level);

/* The name of |level| ("error", "warn", "info", "debug"), or "?". */
KEFO_EXTERN const char *kefo_log_level_name(kefo_log_level level);

/* ---------------------------------------------------------------------
 * The producer: writes records with PutRecords, to the stream its config
 * names, and to others a record names (kefo_producer_put_to).
 * ------------------------------------------------------------------- */

typedef struct kefo_producer kefo_producer;

/* Where a record was written, as on_ack says. Everything is lent: valid
   only during the callback. */
typedef struct kefo_put_result {
  const char *shard_id;
  /* The Kinesis record's sequence number; with aggregation, the
     aggregate's, shared by the user records packed into it. */
  const char *sequence_number;
  /* The user record's index in its aggregate (what a consumer reports as
     its sub-sequence number); 0 for a record sent alone. */
  uint64_t sub_sequence_number;
  /* Non-zero when the record was sent inside a KPL aggregate. */
  int aggregated;
  /* How many PutRecords calls carried it (1: the first one). */
  uint32_t attempts;
} kefo_put_result;

/* The producer's counters since it was created. */
typedef struct kefo_put_stats {
  /* Held now: queued or in flight, their data and partition key bytes. */
  uint64_t buffered_records;
  uint64_t buffered_bytes;
  /* PutRecords calls in flight now, and the user records they carry. */
  uint64_t in_flight_calls;
  uint64_t in_flight_records;
  /* User records accepted by kefo_producer_put, acknowledged, failed
     (reported to on_failure), and sent again after a failed entry or
     call (each time). */
  uint64_t put;
  uint64_t acknowledged;
  uint64_t failed;
  uint64_t retried;
  /* Entries answered ProvisionedThroughputExceededException. */
  uint64_t throttled;
  /* PutRecords calls answered, and the Kinesis records they wrote:
     acknowledged / kinesis_records is the aggregation ratio. */
  uint64_t calls;
  uint64_t kinesis_records;
  /* Request body bytes sent (CBOR with raw data, or JSON with base64 data,
     as sink.protocol says). */
  uint64_t bytes_sent;
} kefo_put_stats;

/*
 * Callbacks of a producer, an object with one setter each (as
 * kefo_consumer_callbacks), copied by kefo_producer_new. Every callback
 * runs on the producer's loop thread, never inside kefo_producer_put.
 */
typedef struct kefo_producer_callbacks kefo_producer_callbacks;

/*
 * A record was written: |res| says where. |record_ctx| is what
 * kefo_producer_put was given. Each record gets exactly one on_ack or
 * one on_failure.
 */
typedef void (*kefo_producer_on_ack_cb)(kefo_producer *p, void *record_ctx,
                                        const kefo_put_result *res,
                                        void *user_data);
/*
 * A record was given up: its TTL (sink.record.ttl) passed, the stream
 * answered with an error that retrying cannot mend, sink.fail-on-error
 * is set, or the producer stopped first (KEFO_ERR_CANCELLED). |err| is
 * lent.
 */
typedef void (*kefo_producer_on_failure_cb)(kefo_producer *p, void *record_ctx,
                                            const kefo_error_info *err,
                                            void *user_data);
/* After a put returned KEFO_ERR_WOULD_BLOCK: the buffer is down to three
   quarters of its limits, put again. Once per KEFO_ERR_WOULD_BLOCK. */
typedef void (*kefo_producer_on_writable_cb)(kefo_producer *p, void *user_data);
/* The producer stopped (kefo_producer_stop, or a fatal error: |err|,
   lent, else NULL); kefo_producer_del may follow, not inside this call. */
typedef void (*kefo_producer_on_stopped_cb)(kefo_producer *p,
                                            const kefo_error_info *err,
                                            void *user_data);

/* Returns 0, KEFO_ERR_INVALID_ARGUMENT (|out| NULL) or KEFO_ERR_NOMEM. */
KEFO_EXTERN int kefo_producer_callbacks_new(kefo_producer_callbacks **out);
/* Frees |cbs|. NULL is allowed. */
KEFO_EXTERN void kefo_producer_callbacks_del(kefo_producer_callbacks *cbs);
/* The setters: each replaces one callback (NULL unsets it). */
KEFO_EXTERN void
kefo_producer_callbacks_set_on_ack(kefo_producer_callbacks *cbs,
                                   kefo_producer_on_ack_cb cb);
KEFO_EXTERN void
kefo_producer_callbacks_set_on_failure(kefo_producer_callbacks *cbs,
                                       kefo_producer_on_failure_cb cb);
KEFO_EXTERN void
kefo_producer_callbacks_set_on_writable(kefo_producer_callbacks *cbs,
                                        kefo_producer_on_writable_cb cb);
KEFO_EXTERN void
kefo_producer_callbacks_set_on_stopped(kefo_producer_callbacks *cbs,
                                       kefo_producer_on_stopped_cb cb);
/* Sets the producer's log hook (NULL: none, the default) and the most
   detailed level it gets (see kefo_log_cb); |user_data| is the
   producer's. */
KEFO_EXTERN void kefo_producer_callbacks_set_log(kefo_producer_callbacks *cbs,
                                                 kefo_log_cb cb,
                                                 kefo_log_level level);

/*
 * Creates a producer for the stream |cfg| names with "sink.stream.name"
 * or "sink.stream.arn" (the "sink.*" keys of kefo-config(5); region,
 * endpoint and credentials as the consumer's "aws.*" keys). |cfg| and
 * |cbs| (may be NULL) are copied. |base| is the application's event
 * loop, or NULL for one of kefo's own (run it with kefo_producer_run).
 * The producer lists the stream's shards from the loop at once; records
 * put before the answer wait for it.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT, KEFO_ERR_CONFIG (no stream or
 * both keys, an ARN not a stream's or of another region than aws.region,
 * or the region or endpoint cannot be resolved; what is wrong goes to
 * the log hook, an error named "config.invalid"), KEFO_ERR_TLS (the CA
 * file cannot be loaded) or KEFO_ERR_NOMEM.
 */
KEFO_EXTERN int kefo_producer_new(kefo_producer **out, const kefo_config *cfg,
                                  const kefo_producer_callbacks *cbs,
                                  void *user_data, struct event_base *base);

/*
 * Queues one record for the stream: |partition_key| (1 to 256 bytes of
 * UTF-8), |explicit_hash_key| (NULL, or a decimal number below 2^128 that
 * chooses the shard instead of the partition key's MD5), |len| bytes of
 * |data| (copied), and |record_ctx|, handed back to on_ack or
 * on_failure. Sent after sink.flush-buffer.timeout at the latest, sooner
 * when a call is full.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (a NULL or malformed argument, or
 * key and data above 1 MiB), KEFO_ERR_WOULD_BLOCK (the buffer is full:
 * nothing queued; on_writable follows), KEFO_ERR_INVALID_STATE (stopping
 * or stopped) or KEFO_ERR_NOMEM.
 */
KEFO_EXTERN int kefo_producer_put(kefo_producer *p, const char *partition_key,
                                  const char *explicit_hash_key,
                                  const void *data, size_t len,
                                  void *record_ctx);

/*
 * As kefo_producer_put, but |data| is lent, not copied: it must stay
 * valid and unchanged until the record's on_ack or on_failure has
 * returned, or kefo_producer_del has (which drops the records still held
 * without a report); it is not read after that. As librdkafka's produce
 * without RD_KAFKA_MSG_F_COPY. It saves a copy of every record and the
 * memory that holds it, for an application that keeps its records until
 * they are acknowledged anyway (record_ctx can say what to free). Lent
 * bytes count against sink.buffer.max-bytes as copied ones do.
 *
 * Returns as kefo_producer_put.
 */
KEFO_EXTERN int kefo_producer_put_lent(kefo_producer *p,
                                       const char *partition_key,
                                       const char *explicit_hash_key,
                                       const void *data, size_t len,
                                       void *record_ctx);

/*
 * As kefo_producer_put, to the stream |stream| names: a stream name, or a
 * stream ARN ("arn:..."); NULL, or the producer's own stream, is
 * kefo_producer_put. The first record for another stream starts a
 * producer of that stream beside this one, on the same loop, with this
 * one's config (sink.stream.* replaced) and callbacks, which get |p| and
 * its user data as for every other record. A stream of this one's region
 * shares its connections and credentials; the streams named by ARNs of
 * another region share one set for that region (at aws.endpoint when it
 * is set, else the region's endpoint). Each has its own shard
 * map, and the buffer and in-flight limits
 * (sink.requests.max-buffered, sink.buffer.max-bytes,
 * sink.requests.max-inflight) count per stream. kefo_producer_flush,
 * kefo_producer_stop, kefo_producer_stats and kefo_producer_metrics
 * cover every stream; on_stopped comes once every stream's producer has
 * stopped. A stream that cannot be listed (it does not exist) fails its
 * own records with that error and stops alone (with sink.fail-on-error,
 * the whole producer stops); its next record starts it again.
 *
 * Returns as kefo_producer_put, and KEFO_ERR_INVALID_ARGUMENT also for
 * a |stream| that sink.stream.name or sink.stream.arn would refuse
 * (empty, too long, characters a stream name cannot have, an ARN that is
 * not a stream's).
 */
KEFO_EXTERN int kefo_producer_put_to(kefo_producer *p, const char *stream,
                                     const char *partition_key,
                                     const char *explicit_hash_key,
                                     const void *data, size_t len,
                                     void *record_ctx);

/* A flush is done: every record put before it was acknowledged or
   failed. */
typedef void (*kefo_producer_flush_cb)(kefo_producer *p, void *flush_data);

/*
 * Sends what is queued without waiting for fuller calls, and calls |cb|
 * (from the loop, never inside this call) once every record put before
 * this call is acknowledged or failed: what a stream processor calls at
 * a checkpoint. Several flushes may be outstanding.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (|p| or |cb| NULL),
 * KEFO_ERR_INVALID_STATE (stopped) or KEFO_ERR_NOMEM.
 */
KEFO_EXTERN int kefo_producer_flush(kefo_producer *p, kefo_producer_flush_cb cb,
                                    void *flush_data);

/*
 * Stops the producer. Graceful: flushes first, waiting at most
 * sink.stop.timeout; records still not written then fail with
 * KEFO_ERR_CANCELLED. Otherwise every record not yet acknowledged fails
 * with KEFO_ERR_CANCELLED at once. on_stopped follows (from the loop).
 * Safe inside callbacks.
 *
 * Returns 0 or KEFO_ERR_INVALID_ARGUMENT.
 */
KEFO_EXTERN int kefo_producer_stop(kefo_producer *p, int graceful);

/*
 * Runs kefo's own loop until the producer has stopped (only for a
 * producer created with a NULL |base|).
 *
 * Returns 0 or KEFO_ERR_INVALID_STATE.
 */
KEFO_EXTERN int kefo_producer_run(kefo_producer *p);

/* Returns non-zero once the producer has stopped. */
KEFO_EXTERN int kefo_producer_stopped(const kefo_producer *p);

/*
 * Fills |out| with the producer's counters.
 *
 * Returns 0 or KEFO_ERR_INVALID_ARGUMENT.
 */
KEFO_EXTERN int kefo_producer_stats(const kefo_producer *p,
                                    kefo_put_stats *out);

/* Frees |p|, dropping whatever is not written without a report. Never
   call it from inside a callback. NULL is allowed. */
KEFO_EXTERN void kefo_producer_del(kefo_producer *p);

/* ---------------------------------------------------------------------
 * Metrics in the Prometheus text exposition format (version 0.0.4).
 * ------------------------------------------------------------------- */

/* The Content-Type to serve the text below with. */
#define KEFO_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Renders the consumer's metrics (names, types and labels: README.md,
 * "Metrics"): per shard, the records and bytes delivered, the
 * MillisBehindLatest, the age of the last delivery, the state and the
 * watermark; per consumer, subscriptions, errors by kind, leases,
 * checkpoints and their latency, HTTP/2 connections and streams, and
 * kefo_build_info. |*text| (|*len| bytes, followed by a NUL not
 * counted) is lent: valid until the next kefo_consumer_metrics call or
 * kefo_consumer_del.
 *
 * Lent rather than written into the caller's buffer, because the size
 * grows with the shards and is known only once written; lent rather than
 * returned allocated, because the storage is reused by the next call, so
 * a scrape every second allocates nothing once the text has reached its
 * size, and there is no free function to pair with the consumer's
 * allocator. The counters behind it are kept whether or not anyone asks;
 * only this call formats them. Call it on the loop's thread.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (a NULL argument) or
 * KEFO_ERR_NOMEM (|*text| NULL; the next call may succeed).
 */
KEFO_EXTERN int kefo_consumer_metrics(kefo_consumer *c, const char **text,
                                      size_t *len);

/*
 * Renders the producer's metrics (kefo_put_stats as Prometheus counters
 * and gauges with a "stream" label), lent as kefo_consumer_metrics'
 * until the next call or kefo_producer_del. kefo_build_info is left to
 * the consumer's text, so that an application running both can serve
 * the two texts one after the other without a family appearing twice.
 *
 * Returns 0, KEFO_ERR_INVALID_ARGUMENT (a NULL argument) or
 * KEFO_ERR_NOMEM.
 */
KEFO_EXTERN int kefo_producer_metrics(kefo_producer *p, const char **text,
                                      size_t *len);

#ifdef __cplusplus
}
#endif

#endif /* KEFO_H */
