/*
 * The key table: every configuration key with its type, default, limits
 * and doc (tools/gen_config_man.c prints kefo-config(5) from it), and what
 * is looked up in it: a key by name, the key a wrong name meant, what a
 * key accepts. runtime/config.c keeps the values.
 */
#include "runtime/config_keys.h"

#include <stdio.h>
#include <string.h>

#include "runtime/config.h"

static const char *const reader_types[] = {"EFO", "POLLING", NULL};
static const char *const lifecycles[] = {"JOB_MANAGED", "SELF_MANAGED", NULL};
static const char *const positions[] = {"LATEST", "TRIM_HORIZON",
                                        "AT_TIMESTAMP", NULL};
static const char *const lease_stores[] = {"file", "dynamodb", "memory", NULL};
static const char *const protocols[] = {"cbor", "json", NULL};
static const char *const providers[] = {
    "AUTO", "BASIC", "ENV_VAR", "PROFILE", "ASSUME_ROLE", "WEB_IDENTITY_TOKEN",
    NULL};
static const char *const booleans[] = {"false", "true", NULL};

#define STR(name, def, lo, hi, rule, doc)                                      \
  { name, T_STR, def, lo, hi, NULL, rule, 0, doc }
#define SECRET(name, lo, hi, rule, doc)                                        \
  { name, T_STR, NULL, lo, hi, NULL, rule, F_SECRET, doc }
#define URL(name, doc)                                                         \
  { name, T_URL, NULL, 1, 2048, NULL, S_TOKEN, 0, doc }
#define DUR(name, def, lo, hi, doc)                                            \
  { name, T_DURATION, def, lo, hi, NULL, S_PATH, 0, doc }
#define INT(name, def, lo, hi, doc)                                            \
  { name, T_INT, def, lo, hi, NULL, S_PATH, 0, doc }
#define SIZE(name, def, lo, hi, doc)                                           \
  { name, T_SIZE, def, lo, hi, NULL, S_PATH, 0, doc }
#define BOOL(name, def, doc)                                                   \
  { name, T_BOOL, def, 0, 1, booleans, S_PATH, 0, doc }
#define ENUM(name, def, choices, doc)                                          \
  { name, T_ENUM, def, 0, 0, choices, S_PATH, 0, doc }
#define TIME(name, doc)                                                        \
  { name, T_TIME, NULL, 0, TIME_MAX_MS, NULL, S_PATH, 0, doc }

/*
 * Each key's doc is what kefo-config(5) says of it (tools/gen_config_man.c
 * prints the page from this table): what the key does, what unset means
 * when there is no default, and which reader or store it applies to. The
 * type, default and limits are printed from the other fields, so the doc
 * does not repeat them.
 */
static const kefo_config_key_def keys[] = {
    STR(KEFO_CFG_STREAM_NAME, NULL, 1, 128, S_NAME,
        "The name of the stream to read. Give it or source.stream.arn, not "
        "both: kefo looks the stream's ARN up when it starts."),
    STR(KEFO_CFG_STREAM_ARN, NULL, 1, 2048, S_ARN,
        "The ARN of the stream to read "
        "(arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME), instead of "
        "source.stream.name."),
    ENUM(KEFO_CFG_READER_TYPE, "EFO", reader_types,
         "How records are fetched. EFO: Enhanced Fan-Out, a SubscribeToShard "
         "event stream per shard over HTTP/2, with the shard's read "
         "throughput to this consumer alone. POLLING: GetRecords calls, "
         "which share the shard's read limits with every other poller and "
         "need no registered consumer. Flink's default is POLLING; kefo's "
         "is EFO."),
    STR(KEFO_CFG_EFO_CONSUMER_NAME, NULL, 1, 128, S_NAME,
        "EFO with JOB_MANAGED: the name of the stream consumer that kefo "
        "registers if it is missing and reads with; required then. In any "
        "mode it also names the application that a lease store's "
        "checkpoints belong to (unset: the consumer's ARN, else \"kefo\")."),
    ENUM(KEFO_CFG_EFO_LIFECYCLE, "JOB_MANAGED", lifecycles,
         "EFO: who owns the stream consumer. JOB_MANAGED: kefo registers it "
         "by name at start and deregisters it at a graceful stop (with a "
         "lease table, only the last worker to stop does). SELF_MANAGED: "
         "the consumer given by source.efo.consumer.arn is only checked, "
         "never created or deleted."),
    STR(KEFO_CFG_EFO_CONSUMER_ARN, NULL, 1, 2048, S_ARN,
        "EFO with SELF_MANAGED: the ARN of the registered stream consumer to "
        "read with "
        "(arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME/consumer/"
        "NAME:EPOCH); required then, and refused with JOB_MANAGED."),
    /* Flink's 60 s. Kinesis sends an event on a healthy subscription at
       least every few seconds, so a minute of silence means a dead
       connection; 1 s is the floor to stay above that cadence. */
    DUR(KEFO_CFG_EFO_SUBSCRIPTION_TIMEOUT, "60s", MS_SEC, 10 * MS_MIN,
        "EFO: how long a shard's subscription may go without an event "
        "before kefo takes the connection for dead and subscribes again "
        "after the last record delivered."),
    /* 16 MiB is the event-stream format's own limit; kinesis-local sends
       up to 10,000 records an event (15 MB of 1 KiB records). */
    SIZE(KEFO_CFG_EFO_EVENT_MAX_BYTES, "16MiB", 64 * KIB, 16 * MIB,
         "EFO: the largest SubscribeToShard event accepted; a larger one "
         "is refused with an error naming both sizes, and the shard fails "
         "once its retries run out."),
    /* Holding an event whole until its CRC, at its end, is checked is
       the stronger rule; but a server may send 15 MB events on every
       shard at once (kinesis-local does: 85 MB for a 4-shard read), and
       memory is then the server's choice. Above this size the records
       go on as they arrive: over TLS, which real Kinesis always is, no
       byte that was not sent gets this far, so the CRC guards against
       little that TLS does not. 128 KiB: a whole event's buffers (its
       bytes, its parse, its decoded Data) are touched fresh when they
       grow, and kinesis-local's events of 750 KB held whole cost 1,100
       page faults more than the same records in runs of 64 KiB, a third
       of the CPU of a 50,000-record read (bench/RESULTS.md, path 5). */
    SIZE(KEFO_CFG_EFO_EVENT_WHOLE_MAX_BYTES, "128KiB", 64 * KIB, 16 * MIB,
         "EFO: events up to this size are held whole while they arrive, "
         "and their CRC checked before any record is handed on. A larger "
         "event is handed on in runs of whole records (about 64 KiB each) as "
         "it arrives, so a shard holds about this much of an event "
         "whatever the server sends; its CRC is checked at its end, and a "
         "mismatch then ends the subscription: the runs handed on stay "
         "handed on, and the next subscription goes on after them. 16MiB "
         "holds every event whole."),
    DUR(KEFO_CFG_EFO_DEREGISTER_TIMEOUT, "10s", 0, 10 * MS_MIN,
        "EFO with JOB_MANAGED: how long a graceful stop waits for the "
        "consumer's deregistration to finish; past it the stop goes on and "
        "the consumer may still be DELETING."),
    DUR(KEFO_CFG_EFO_DESCRIBE_MIN_DELAY, "1s", 1, MS_HOUR,
        "EFO: the first delay between DescribeStreamConsumer calls while "
        "the consumer is being created or deleted; the delays grow "
        "exponentially, with random jitter, up to "
        "source.efo.describe.retry-strategy.delay.max."),
    DUR(KEFO_CFG_EFO_DESCRIBE_MAX_DELAY, "60s", 1, MS_HOUR,
        "EFO: the longest delay between DescribeStreamConsumer calls while "
        "the consumer is being created or deleted."),
    INT(KEFO_CFG_EFO_DESCRIBE_MAX_ATTEMPTS, "100", 1, INT32_MAX,
        "EFO: how many DescribeStreamConsumer calls wait for the consumer "
        "to become ACTIVE before the start fails with KEFO_ERR_TIMEOUT."),
    ENUM(KEFO_CFG_INIT_POSITION, "LATEST", positions,
         "Where a shard without a checkpoint starts: LATEST (records written "
         "from now on), TRIM_HORIZON (the oldest record the stream keeps) "
         "or AT_TIMESTAMP (source.init.timestamp). A shard with a "
         "checkpoint resumes right after it, and the child of a finished "
         "shard starts at its beginning."),
    TIME(KEFO_CFG_INIT_TIMESTAMP,
         "With source.init.position=AT_TIMESTAMP (and then required): read "
         "each shard from the first record that arrived at or after this "
         "time."),
    DUR(KEFO_CFG_SHARD_DISCOVERY_INTERVAL, "10s", 100, MS_DAY,
        "How often ListShards is called to find shards created by "
        "resharding (splits and merges)."),
    INT(KEFO_CFG_GET_RECORDS_MAX, "10000", 1, 10000,
        "POLLING: the most records one GetRecords call asks for (10,000 is "
        "Kinesis's own limit)."),
    /* GetRecords allows 5 calls a second per shard: polling again sooner
       than 200 ms only earns throttling. Flink waits 250 ms after an
       empty answer. */
    DUR(KEFO_CFG_EMPTY_FETCH_INTERVAL, "250ms", 0, MS_HOUR,
        "POLLING: the longest wait between GetRecords calls once a shard "
        "has caught up (calls return nothing); the wait doubles up to it "
        "from source.reader.nonempty-records-fetch-interval."),
    DUR(KEFO_CFG_NONEMPTY_FETCH_INTERVAL, "200ms", 0, MS_HOUR,
        "POLLING: the wait between GetRecords calls while a shard is behind; "
        "less than 200ms counts as 200ms, as Kinesis allows five calls a "
        "second per shard."),
    /* The HTTP/2 stream window is sized to this, so 2^31-1 at most. */
    SIZE(KEFO_CFG_SHARD_BUFFER_MAX_BYTES, "4MiB", 64 * KIB, INT32_MAX,
         "EFO: the HTTP/2 flow-control window of each shard's subscription, "
         "so at most this much of a shard waits in kefo unread; a slow or "
         "paused shard holds its bytes on the server instead."),
    BOOL(KEFO_CFG_KPL_DEAGGREGATE, "true",
         "Accepted, but not read yet: KPL aggregated records are always "
         "de-aggregated, each user record delivered with its own "
         "sub-sequence number."),
    ENUM(KEFO_CFG_LEASE_STORE, "file", lease_stores,
         "Where checkpoints are kept. file: source.lease.file, for one "
         "worker (by default ./kefo.leases in the working directory). "
         "dynamodb: the lease table source.lease.table, whose workers share "
         "the stream's shards. memory: for the life of the consumer only. "
         "kefo-reader(1) uses memory unless given --checkpoint-file or "
         "--lease-table."),
    STR(KEFO_CFG_LEASE_FILE, "kefo.leases", 1, 4096, S_PATH,
        "The file store's path, relative to the working directory unless "
        "absolute. The file is written at the first checkpoint, replaced "
        "whole at each (through PATH.tmp), and bound to the stream and the "
        "application: another stream's file is refused. PATH.lock is "
        "created beside it and locked while a store has it open."),
    STR(KEFO_CFG_LEASE_TABLE, NULL, 3, 255, S_TABLE,
        "With source.lease.store=dynamodb (and then required): the DynamoDB "
        "lease table, in the KCL's layout, created with on-demand capacity "
        "if missing."),
    STR(KEFO_CFG_LEASE_WORKER_ID, NULL, 1, 256, S_TOKEN,
        "This worker's name in the lease table; unset: the host name, the "
        "process id and a random part, so each run is a new worker."),
    /* The KCL's failover time. */
    DUR(KEFO_CFG_LEASE_DURATION, "10s", MS_SEC, MS_HOUR,
        "Lease table: how long a lease's counter must stand still, as this "
        "worker sees it, before the lease counts as expired and may be "
        "taken (the KCL's failover time)."),
    /* Unset: a third of the lease duration, as the KCL renews. */
    DUR(KEFO_CFG_LEASE_RENEWAL_INTERVAL, NULL, 100, MS_HOUR,
        "Lease table: how often this worker renews its leases (and it lists "
        "the table twice as often); unset: a third of "
        "source.lease.duration, and it must be shorter than that."),
    INT(KEFO_CFG_LEASE_MAX_PER_WORKER, "2147483647", 1, INT32_MAX,
        "Lease table: the most leases this worker holds at once, whatever "
        "its fair share."),
    /* Unset: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, or the
       region's. */
    URL(KEFO_CFG_LEASE_ENDPOINT,
        "The DynamoDB endpoint of the lease table, for emulators such as "
        "dynalite; unset: AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, or "
        "the region's. aws.endpoint does not apply to it."),
    DUR(KEFO_CFG_CHECKPOINT_INTERVAL, "5s", 0, MS_HOUR,
        "How often the records the application has finished with "
        "(on_records returned 0) are checkpointed, and once more at a "
        "graceful stop; 0: never by kefo itself, the application calls "
        "kefo_checkpoint()."),
    DUR(KEFO_CFG_WATERMARK_OUT_OF_ORDERNESS, "0ms", 0, 7 * MS_DAY,
        "How far a shard's watermark stays behind the largest event time it "
        "delivered, to allow for records out of order."),
    /* 0: a shard never counts as idle. */
    DUR(KEFO_CFG_WATERMARK_IDLE_TIMEOUT, "0ms", 0, 7 * MS_DAY,
        "A shard with no record for this long is idle and no longer holds "
        "the global watermark back; 0: never idle."),
    /* 0: no watermark alignment. */
    DUR(KEFO_CFG_WATERMARK_MAX_DRIFT, "0ms", 0, 7 * MS_DAY,
        "Built-in watermark alignment: a shard whose watermark runs more "
        "than this ahead of the slowest active shard's is paused until it "
        "is no longer; 0: no alignment."),
    /* The producer's keys: Flink's KinesisStreamsSink names and defaults
       where it has the setting, the KPL's for what it lacks. */
    STR(KEFO_CFG_SINK_STREAM_NAME, NULL, 1, 128, S_NAME,
        "Producer: the name of the stream to write. Give it or "
        "sink.stream.arn, not both."),
    STR(KEFO_CFG_SINK_STREAM_ARN, NULL, 1, 2048, S_ARN,
        "Producer: the ARN of the stream to write, instead of "
        "sink.stream.name."),
    INT(KEFO_CFG_SINK_BATCH_MAX_SIZE, "500", 1, 500,
        "Producer: the most entries (records, or KPL aggregates) in one "
        "PutRecords call."),
    INT(KEFO_CFG_SINK_MAX_INFLIGHT, "50", 1, 10000,
        "Producer: the most PutRecords calls in flight at once."),
    INT(KEFO_CFG_SINK_MAX_BUFFERED, "10000", 1, INT32_MAX,
        "Producer: the most records held, queued or in flight; past it "
        "kefo_producer_put returns KEFO_ERR_WOULD_BLOCK until on_writable."),
    SIZE(KEFO_CFG_SINK_BUFFER_MAX_BYTES, "64MiB", 1024 * KIB, INT32_MAX,
         "Producer: the most bytes held (records with their keys, queued or "
         "in flight); past it kefo_producer_put returns "
         "KEFO_ERR_WOULD_BLOCK. Request bodies in flight come on top, at "
         "most 4/3 of what they carry, and the room kept for the next "
         "bodies, at most this size again (64 MiB)."),
    SIZE(KEFO_CFG_SINK_FLUSH_SIZE, "5MiB", 1024 * KIB, 5 * 1024 * KIB,
         "Producer: the most bytes (data and partition keys) in one "
         "PutRecords call; a call this full is sent at once."),
    DUR(KEFO_CFG_SINK_FLUSH_TIMEOUT, "5s", 0, MS_HOUR,
        "Producer: the longest a record waits for a fuller call before it "
        "is sent."),
    BOOL(KEFO_CFG_SINK_FAIL_ON_ERROR, "false",
         "Producer: a record that fails is not retried: it is reported to "
         "on_failure and the producer stops."),
    BOOL(KEFO_CFG_SINK_AGGREGATION, "true",
         "Producer: pack records of one shard into KPL aggregates (the KPL's "
         "AggregationEnabled): many user records per Kinesis record, which "
         "kefo's consumer, the KCL and Flink's consumer unpack. false: one "
         "Kinesis record per record."),
    SIZE(KEFO_CFG_SINK_AGGREGATION_MAX_SIZE, "51200", 64, 1024 * KIB,
         "Producer: the largest KPL aggregate (the KPL's "
         "AggregationMaxSize); a record too large for it goes alone."),
    INT(KEFO_CFG_SINK_AGGREGATION_MAX_COUNT, "4294967295", 1, 4294967295LL,
        "Producer: the most records in one KPL aggregate (the KPL's "
        "AggregationMaxCount)."),
    DUR(KEFO_CFG_SINK_RECORD_TTL, "30s", 100, 7 * MS_DAY,
        "Producer: how long a record may go unwritten (throttled, retried) "
        "before it is reported failed (the KPL's RecordTtl)."),
    INT(KEFO_CFG_SINK_RATE_LIMIT, "150", 1, 1000,
        "Producer: the percent of each shard's write limits (1 MiB and "
        "1,000 records a second) kefo allows itself per shard (the KPL's "
        "RateLimit: above 100 leaves the rest to the service's "
        "throttling)."),
    ENUM(KEFO_CFG_SINK_PROTOCOL, "cbor", protocols,
         "Producer: how PutRecords bodies are written. cbor (as the AWS SDK "
         "for Java sends Kinesis calls): data as raw bytes, a quarter fewer "
         "bytes to sign and send than json, where data is base64 text. "
         "json: application/x-amz-json-1.1, for a server or proxy that "
         "takes only JSON."),
    BOOL(KEFO_CFG_SINK_ORDERED, "false",
         "Producer: keep each shard's records in order across retries: one "
         "entry per shard per call and one call per shard in flight, a "
         "failed entry sent again before anything after it. Use with "
         "aggregation, or a shard writes one record per round trip."),
    DUR(KEFO_CFG_SINK_STOP_TIMEOUT, "30s", 0, MS_HOUR,
        "Producer: how long a graceful kefo_producer_stop waits for the "
        "records held to be written; those left then fail with "
        "KEFO_ERR_CANCELLED."),
    STR(KEFO_CFG_AWS_REGION, NULL, 1, 64, S_REGION,
        "The AWS region of the stream, which the calls are signed for; "
        "unset: the region of the stream's ARN when it is named by one, "
        "else AWS_REGION, AWS_DEFAULT_REGION, or the region of the "
        "shared files' profile. A stream ARN of another region is "
        "refused."),
    URL(KEFO_CFG_AWS_ENDPOINT,
        "The Kinesis endpoint, for emulators such as kinesis-local or "
        "LocalStack (an http:// URL speaks HTTP/2 without TLS); unset: "
        "AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL, or "
        "https://kinesis.REGION.amazonaws.com."),
    STR(KEFO_CFG_AWS_CA_FILE, NULL, 1, 4096, S_PATH,
        "A PEM file of CA certificates to trust besides the system's, for "
        "endpoints behind a private CA."),
    /* TCP connect, TLS handshake and HTTP/2 SETTINGS each within this:
       a server that accepts and never answers costs one such wait per
       attempt. */
    DUR(KEFO_CFG_HTTP_CONNECT_TIMEOUT, "10s", 100, 10 * MS_MIN,
        "How long a new connection may take to connect, to finish its TLS "
        "handshake and (HTTP/2) to receive the server's SETTINGS, each; a "
        "server that accepts and never answers costs this much per "
        "attempt."),
    /* From a call until its answer's head: a server that keeps the
       connection but sends nothing is given up on after this and the
       call retried. Not for SubscribeToShard's stream, which has
       source.efo.subscription.timeout. */
    DUR(KEFO_CFG_HTTP_REQUEST_TIMEOUT, "30s", 100, 10 * MS_MIN,
        "How long an AWS call waits for the head of its answer before it is "
        "given up and retried; SubscribeToShard's event stream has "
        "source.efo.subscription.timeout instead."),
    ENUM(KEFO_CFG_CREDENTIALS_PROVIDER, "AUTO", providers,
         "Where AWS credentials come from. AUTO: the AWS SDKs' default chain "
         "(the environment, web identity from the environment, the shared "
         "files' profile, the container, the instance metadata). BASIC: "
         "the two ...basic keys, then that chain. ENV_VAR, PROFILE, "
         "ASSUME_ROLE and WEB_IDENTITY_TOKEN are accepted as in Flink but "
         "for now work as AUTO, which covers each of them through the "
         "environment and the profile."),
    STR(KEFO_CFG_ACCESS_KEY_ID, NULL, 1, 128, S_TOKEN,
        "With BASIC credentials (and then required): the access key id."),
    SECRET(KEFO_CFG_SECRET_KEY, 1, 1024, S_TOKEN,
           "With BASIC credentials (and then required): the secret access "
           "key. It is never shown: kefo_config_get() gives \"****\" and "
           "errors leave it out."),
    STR(KEFO_CFG_PROFILE_NAME, NULL, 1, 256, S_TOKEN,
        "The profile of the shared files (~/.aws/config and "
        "~/.aws/credentials) that credentials and the region may come "
        "from; unset: AWS_PROFILE, else default."),
    STR(KEFO_CFG_PROFILE_PATH, NULL, 1, 4096, S_PATH,
        "Accepted as in Flink, but not read yet: name other shared files "
        "with AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE."),
    STR(KEFO_CFG_ROLE_ARN, NULL, 1, 2048, S_ARN,
        "Accepted as in Flink (and required with ASSUME_ROLE), but not read "
        "yet: give a role through a profile's role_arn, or AWS_ROLE_ARN "
        "with AWS_WEB_IDENTITY_TOKEN_FILE."),
    STR(KEFO_CFG_ROLE_SESSION_NAME, NULL, 2, 64, S_SESSION,
        "Accepted as in Flink, but not read yet: a profile's "
        "role_session_name or AWS_ROLE_SESSION_NAME names the session."),
    STR(KEFO_CFG_ROLE_EXTERNAL_ID, NULL, 2, 1224, S_TOKEN,
        "Accepted as in Flink, but not read yet: a profile's external_id "
        "gives it."),
    STR(KEFO_CFG_WEB_IDENTITY_TOKEN_FILE, NULL, 1, 4096, S_PATH,
        "Accepted as in Flink, but not read yet: a profile's "
        "web_identity_token_file or AWS_WEB_IDENTITY_TOKEN_FILE gives it."),
    /* Flink's AWSConfigOptions, as base/retry.h. */
    DUR(KEFO_CFG_RETRY_MIN_DELAY, "300ms", 1, MS_HOUR,
        "The first delay before an AWS call that failed for a reason worth "
        "retrying (throttling, a server error, a lost connection) is tried "
        "again; the delays grow exponentially, with random jitter, up to "
        "retry-strategy.delay.max."),
    DUR(KEFO_CFG_RETRY_MAX_DELAY, "1s", 1, MS_HOUR,
        "The longest delay between two attempts of an AWS call."),
    INT(KEFO_CFG_RETRY_MAX_ATTEMPTS, "50", 1, INT32_MAX,
        "How many attempts an AWS call gets, the first included, before its "
        "error is reported (kefo-reader(1) uses 10 unless this is set)."),
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

_Static_assert(NKEYS == KEFO_CONFIG_NKEYS,
               "KEFO_CONFIG_NKEYS in runtime/config_keys.h is not the number "
               "of keys in the table");

const kefo_config_key_def *const kefo__config_keys = keys;

/* Names people may try (other connectors, older drafts): only used to
   suggest the real key. */
static const char *const aliases[][2] = {
    {"source.polling.max-records", KEFO_CFG_GET_RECORDS_MAX},
    {"source.polling.interval", KEFO_CFG_EMPTY_FETCH_INTERVAL},
    {"source.efo.describe.retry.min-delay", KEFO_CFG_EFO_DESCRIBE_MIN_DELAY},
    {"source.efo.describe.retry.max-delay", KEFO_CFG_EFO_DESCRIBE_MAX_DELAY},
    {"source.efo.describe.retry.max-attempts",
     KEFO_CFG_EFO_DESCRIBE_MAX_ATTEMPTS},
    {"aws.retry.min-delay", KEFO_CFG_RETRY_MIN_DELAY},
    {"aws.retry.max-delay", KEFO_CFG_RETRY_MAX_DELAY},
    {"aws.retry.max-attempts", KEFO_CFG_RETRY_MAX_ATTEMPTS},
    {"aws.credentials.role.arn", KEFO_CFG_ROLE_ARN},
    {"aws.credentials.role.sessionName", KEFO_CFG_ROLE_SESSION_NAME},
    {"flink.stream.initpos", KEFO_CFG_INIT_POSITION},
};

int kefo__config_key_find(const char *name, size_t len) {
  size_t i;

  for (i = 0; i < NKEYS; ++i) {
    if (strlen(keys[i].name) == len && memcmp(keys[i].name, name, len) == 0) {
      return (int)i;
    }
  }
  return -1;
}

static size_t distance(const char *a, size_t alen, const char *b, size_t blen,
                       size_t limit) {
  size_t row[129], i, j;

  for (j = 0; j <= blen; ++j) {
    row[j] = j;
  }
  for (i = 1; i <= alen; ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (j = 1; j <= blen; ++j) {
      size_t up = row[j], best;
      best = diag + (kefo__config_lower((unsigned char)a[i - 1]) !=
                     kefo__config_lower((unsigned char)b[j - 1]));
      if (up + 1 < best) {
        best = up + 1;
      }
      if (row[j - 1] + 1 < best) {
        best = row[j - 1] + 1;
      }
      diag = up;
      row[j] = best;
    }
    for (j = 0; j <= blen && row[j] > limit; ++j) {
    }
    if (j > blen) {
      return limit + 1;
    }
  }
  return row[blen];
}

const char *kefo__config_key_suggest(const char *name, size_t len) {
  const char *best = NULL;
  size_t i, best_d = (size_t)-1;

  for (i = 0; i < sizeof(aliases) / sizeof(aliases[0]); ++i) {
    if (kefo__config_value_eq_nocase(name, len, aliases[i][0])) {
      return aliases[i][1];
    }
  }
  if (len > 128) {
    return NULL;
  }
  for (i = 0; i < NKEYS; ++i) {
    size_t klen = strlen(keys[i].name), d;
    /* Close enough: a few typos, or a third of the key's length. */
    size_t limit = klen / 3 > 2 ? klen / 3 : 2;
    if ((len > klen ? len - klen : klen - len) > limit) {
      continue; /* the distance is at least the difference in length */
    }
    d = distance(name, len, keys[i].name, klen, limit);
    if (d <= limit && d < best_d) {
      best = keys[i].name;
      best_d = d;
    }
  }
  return best;
}

size_t kefo__config_key_count(void) {
  return NKEYS;
}

const char *kefo__config_key_name(size_t i) {
  return i < NKEYS ? keys[i].name : NULL;
}

const char *kefo__config_key_type(size_t i) {
  static const char *const names[] = {"text",    "URL",      "enum",
                                      "boolean", "duration", "integer",
                                      "size",    "timestamp"};

  return i < NKEYS ? names[keys[i].type] : NULL;
}

const char *kefo__config_key_default(size_t i) {
  return i < NKEYS ? keys[i].def : NULL;
}

const char *const *kefo__config_key_choices(size_t i) {
  return i < NKEYS ? keys[i].choices : NULL;
}

const char *kefo__config_key_doc(size_t i) {
  return i < NKEYS ? keys[i].doc : NULL;
}

int kefo__config_key_secret(size_t i) {
  return i < NKEYS && (keys[i].flags & F_SECRET) != 0;
}

/* What each text rule lets through, in the words of check_str's errors. */
static const char *rule_text(kefo_config_text_rule rule) {
  switch (rule) {
  case S_TOKEN:
    return "no spaces";
  case S_NAME:
  case S_TABLE:
    return "letters, digits, '_', '.' and '-'";
  case S_REGION:
    return "lowercase letters, digits and '-'";
  case S_ARN:
    return "an ARN (arn:partition:service:region:account:resource), no "
           "spaces";
  case S_SESSION:
    return "letters, digits and _+=,.@-";
  case S_PATH:
  default:
    return "any characters but control characters";
  }
}

void kefo__config_key_limits(size_t i, char *out, size_t outlen) {
  const kefo_config_key_def *k;
  char lo[32], hi[32];
  size_t j, n = 0;

  if (out == NULL || outlen == 0) {
    return;
  }
  out[0] = '\0';
  if (i >= NKEYS) {
    return;
  }
  k = &keys[i];
  /* Formatted by the same helpers as the errors, so the page and the
     messages name a limit alike. */
  switch (k->type) {
  case T_STR:
    snprintf(out, outlen, "%lld to %lld bytes; %s", (long long)k->min,
             (long long)k->max, rule_text(k->rule));
    break;
  case T_URL:
    snprintf(out, outlen,
             "an http:// or https:// URL of a host and an optional port, up "
             "to %lld bytes",
             (long long)k->max);
    break;
  case T_ENUM:
  case T_BOOL:
    n = (size_t)snprintf(out, outlen, "one of ");
    for (j = 0; k->choices[j] != NULL && n < outlen; ++j) {
      n += (size_t)snprintf(out + n, outlen - n, "%s%s", j ? ", " : "",
                            k->choices[j]);
    }
    if (n < outlen) {
      snprintf(out + n, outlen - n, " (any case)");
    }
    break;
  case T_DURATION:
    kefo__config_value_fmt_duration(lo, sizeof(lo), k->min);
    kefo__config_value_fmt_duration(hi, sizeof(hi), k->max);
    snprintf(out, outlen, "%s to %s", lo, hi);
    break;
  case T_SIZE:
    kefo__config_value_fmt_size(lo, sizeof(lo), k->min);
    kefo__config_value_fmt_size(hi, sizeof(hi), k->max);
    snprintf(out, outlen, "%s to %s bytes", lo, hi);
    break;
  case T_INT:
    snprintf(out, outlen, "%lld to %lld", (long long)k->min, (long long)k->max);
    break;
  case T_TIME:
  default:
    snprintf(out, outlen, "1970-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z");
    break;
  }
}
