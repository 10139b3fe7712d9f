// The peer for kefo's EFO benchmarks: an ordinary AWS SDK for JavaScript v3
// consumer that reads a whole stream with SubscribeToShard and reports what
// it cost, as one JSON line on stdout.
//
//   node bench/peer/sdk_reader.mjs --endpoint http://127.0.0.1:PORT \
//     --stream NAME --shards N --expect RECORDS [--consumer NAME]
//   node bench/peer/sdk_reader.mjs --endpoint URL --stream NAME --shards N \
//     --live SECONDS [--consumer NAME]
//
// The second form is bench_e2e's --live: subscribe to every shard, let
// the backlog drain for 3 s, then measure RSS per subscribed shard, CPU,
// records/s and the latency of records the server stamped ("t=" and
// CLOCK_MONOTONIC nanoseconds, kinesis-mock --stamp; process.hrtime reads
// the same clock).
//
// Written to be what an application would do with the SDK, not a tuned
// client: the Kinesis client's own transport (NodeHttp2Handler), its own
// retries, its decoding of each record's Data to a Uint8Array.
import { parseArgs } from "node:util";
import {
  KinesisClient,
  DescribeStreamSummaryCommand,
  RegisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  SubscribeToShardCommand,
  ListShardsCommand,
} from "@aws-sdk/client-kinesis";

const { values: opt } = parseArgs({
  options: {
    endpoint: { type: "string" },
    stream: { type: "string" },
    shards: { type: "string" },
    expect: { type: "string" },
    consumer: { type: "string", default: "kefo-sdk-peer" },
    live: { type: "string" },
  },
});
const nshards = Number(opt.shards);
const live = opt.live !== undefined ? Number(opt.live) : 0;
const expect = live > 0 ? Infinity : Number(opt.expect);
if (!opt.endpoint || !opt.stream || !(nshards > 0) || !(expect >= 0)) {
  console.error(
    "usage: node bench/peer/sdk_reader.mjs --endpoint URL --stream NAME " +
      "--shards N (--expect RECORDS | --live SECONDS) [--consumer NAME]",
  );
  process.exit(2);
}
const tStart = performance.now();

const client = new KinesisClient({
  // An http:// endpoint is fine: the Kinesis client's default handler is
  // NodeHttp2Handler, and Node's http2.connect speaks h2c with prior
  // knowledge to http:// URLs. Each SubscribeToShard gets a connection of
  // its own (the handler isolates event streams), as against AWS.
  endpoint: opt.endpoint,
  region: "us-east-1",
  credentials: {
    accessKeyId: "AKIDKEFOTEST",
    secretAccessKey: "kefo-test-secret-key",
  },
  // The SDK's standard retries (3 attempts) cover the control-plane calls
  // and the opening of a subscription; errors inside an event stream are
  // not retried by the SDK and are handled below.
  maxAttempts: 3,
  retryMode: "standard",
});

// The SDK sends the HTTP/2 authority as the ":authority" pseudo-header and
// signs it under that name. kinesis-mock's SigV4 check only knows "host"
// (it rejects ":authority" in SignedHeaders), so send it as "host", which
// the same signer then signs. Costs nothing measurable; remove it when the
// mock accepts ":authority".
client.middlewareStack.addRelativeTo(
  (next) => async (args) => {
    const h = args.request.headers;
    if (h[":authority"] !== undefined) {
      h.host = h[":authority"];
      delete h[":authority"];
    }
    return next(args);
  },
  {
    relation: "after",
    toMiddleware: "hostHeaderMiddleware",
    name: "authorityAsHostMiddleware",
  },
);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function consumerArn(streamArn, name) {
  let c;
  try {
    c = (
      await client.send(
        new RegisterStreamConsumerCommand({
          StreamARN: streamArn,
          ConsumerName: name,
        }),
      )
    ).Consumer;
  } catch (e) {
    // Already registered, by an earlier run: reuse it.
    if (e.name !== "ResourceInUseException") throw e;
  }
  // A new consumer is CREATING for a while; subscribing before ACTIVE fails.
  while (c?.ConsumerStatus !== "ACTIVE") {
    if (c) await sleep(1000);
    c = (
      await client.send(
        new DescribeStreamConsumerCommand({
          StreamARN: streamArn,
          ConsumerName: name,
        }),
      )
    ).ConsumerDescription;
  }
  return c.ConsumerARN;
}

const summary = await client.send(
  new DescribeStreamSummaryCommand({ StreamName: opt.stream }),
);
const streamArn = summary.StreamDescriptionSummary.StreamARN;
const arn = await consumerArn(streamArn, opt.consumer);
// No paginator for ListShards in the SDK: a NextToken must be sent without
// the stream's name, so the pages are walked by hand.
const shardIds = [];
let page = await client.send(new ListShardsCommand({ StreamName: opt.stream }));
for (;;) {
  for (const s of page.Shards ?? []) shardIds.push(s.ShardId);
  if (!page.NextToken) break;
  page = await client.send(new ListShardsCommand({ NextToken: page.NextToken }));
}
if (shardIds.length !== nshards) {
  console.error(`sdk_reader: ${opt.stream} has ${shardIds.length} shards, `
    + `not ${nshards}`);
  process.exit(1);
}

// Errors that no retry can mend: the request itself is wrong.
const FATAL = new Set([
  "ResourceNotFoundException",
  "InvalidArgumentException",
  "ValidationException",
  "AccessDeniedException",
  "InvalidSignatureException",
  "UnrecognizedClientException",
]);
const MAX_FAILURES = 10; // in a row, per shard

let records = 0, bytes = 0, resubscribes = 0;
let t0, cpu0, tLast, cpuLast, tFirst;
const stop = new AbortController();

// Live mode: 0 waiting for an event on every shard, 1 draining, 2
// measuring, 3 done.
const WARM_MS = 3000;
const heard = new Set();
const latencies = [];
let phase = 0, rss0 = 0, rss1 = 0, tPhase = 0, cpuPhase, records1 = 0;
let tSubscribed = 0;

// A record the server stamped: its latency in microseconds, else -1.
function stampLatency(d, now) {
  if (d.length < 21 || d[0] !== 0x74 || d[1] !== 0x3d) return -1;
  let t = 0n;
  for (let i = 2; i < 21; i++) {
    const c = d[i] - 0x30;
    if (c < 0 || c > 9) return -1;
    t = t * 10n + BigInt(c);
  }
  return Number(now - t) / 1000;
}

function liveTick() {
  const now = performance.now();
  if (phase === 0 && heard.size >= nshards) {
    phase = 1;
    tSubscribed = now;
    tPhase = now;
    rss1 = process.memoryUsage().rss;
  } else if (phase === 1 && now - tPhase >= WARM_MS) {
    phase = 2;
    tPhase = now;
    cpuPhase = process.cpuUsage();
    records1 = records;
  } else if (phase === 2 && now - tPhase >= live * 1000) {
    const secs = (now - tPhase) / 1000;
    const cpu = process.cpuUsage(cpuPhase);
    const out = {
      peer: "AWS SDK JS v3",
      shards: nshards,
      subscribe_s: +((tSubscribed - t0) / 1000).toFixed(1),
      rss_mib: +(rss1 / 1048576).toFixed(1),
      rss_per_shard_kib: +((rss1 - rss0) / 1024 / nshards).toFixed(1),
      cpu_pct: +((100 * (cpu.user + cpu.system)) / 1e6 / secs).toFixed(2),
      records_per_s: Math.round((records - records1) / secs),
      stamped: latencies.length,
    };
    if (latencies.length > 0) {
      latencies.sort((a, b) => a - b);
      const q = (p) =>
        Math.round(latencies[Math.min(latencies.length - 1,
                                      Math.floor(p * latencies.length))]);
      out.latency_us = { p50: q(0.5), p99: q(0.99), p999: q(0.999),
                         max: q(1) };
    }
    console.log(JSON.stringify(out));
    phase = 3;
    stop.abort();
    return;
  }
  setTimeout(liveTick, 50);
}

async function readShard(shardId) {
  // Live mode reads what is written from now on, as bench_e2e does.
  let position = { Type: live ? "LATEST" : "TRIM_HORIZON" };
  let lastCall = 0, calls = 0, failures = 0;
  while (!stop.signal.aborted) {
    // Kinesis allows one SubscribeToShard a second per consumer and shard
    // (LimitExceededException otherwise), and so does the mock.
    const wait = lastCall + 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    lastCall = Date.now();
    if (calls++ > 0) resubscribes++;
    try {
      const out = await client.send(
        new SubscribeToShardCommand({
          ConsumerARN: arn,
          ShardId: shardId,
          StartingPosition: position,
        }),
        { abortSignal: stop.signal },
      );
      for await (const ev of out.EventStream) {
        const e = ev.SubscribeToShardEvent;
        if (!e) continue;
        failures = 0;
        heard.add(shardId);
        if (e.Records.length > 0) {
          // What an application is handed: Data already decoded from base64.
          for (const r of e.Records) bytes += r.Data.length;
          if (phase === 2) {
            const now = process.hrtime.bigint();
            for (const r of e.Records) {
              const l = stampLatency(r.Data, now);
              if (l >= 0) latencies.push(l);
            }
          }
          records += e.Records.length;
          tLast = performance.now();
          if (tFirst === undefined) tFirst = tLast;
          if (!live) cpuLast = process.cpuUsage();
          if (records >= expect) stop.abort();
        }
        // No continuation (and the children instead): the shard has ended.
        if (!e.ContinuationSequenceNumber || e.ChildShards?.length) return;
        position = {
          Type: "AFTER_SEQUENCE_NUMBER",
          SequenceNumber: e.ContinuationSequenceNumber,
        };
      }
      // The stream ended without shard end: the subscription's lifetime
      // (5 minutes on Kinesis) is over; resubscribe where it stopped.
    } catch (e) {
      if (stop.signal.aborted) return;
      if (FATAL.has(e.name) || ++failures > MAX_FAILURES) throw e;
      console.error(`sdk_reader: ${shardId}: ${e.name}: ${e.message}`);
      await sleep(Math.min(100 * 2 ** failures, 5000));
    }
  }
}

t0 = tLast = performance.now();
cpu0 = cpuLast = process.cpuUsage();
rss0 = process.memoryUsage().rss;
if (live) liveTick();
// Every shard at once, as a consumer of the whole stream would.
await Promise.all(shardIds.map(readShard));
if (live) {
  client.destroy();
  process.exit(phase === 3 ? 0 : 1);
}
console.log(
  JSON.stringify({
    peer: "AWS SDK JS v3",
    records,
    bytes,
    seconds: +((tLast - t0) / 1000).toFixed(3),
    // From the first call (DescribeStreamSummary), as kefo's is from start.
    first_record_s: +((tFirst - tStart) / 1000).toFixed(3),
    total_s: +((tLast - tStart) / 1000).toFixed(3),
    cpu_user_s: +((cpuLast.user - cpu0.user) / 1e6).toFixed(3),
    cpu_system_s: +((cpuLast.system - cpu0.system) / 1e6).toFixed(3),
    rss_mib: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
    resubscribes,
  }),
);
client.destroy();
