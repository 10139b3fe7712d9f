// The peer for kefo's producer benchmark: an ordinary AWS SDK for
// JavaScript v3 writer that puts RECORDS records of BYTES bytes with
// PutRecordsCommand and reports what it cost, as one JSON line on stdout
// of the same shape as bench/bench_put's.
//
//   node bench/peer/sdk_put.mjs --endpoint http://127.0.0.1:PORT \
//     --stream NAME --records N --bytes B [--warmup W] [--batch 500]
//     [--inflight 50]
//
// Batches of 500 entries with up to 50 calls in flight, as Flink's
// KinesisStreamsSink does by default; entries a call reports failed are
// put back in front of the queue and sent again. With --warmup W, W
// records are written first, off the clock, as bench_put does. The client's own
// transport (NodeHttp2Handler, the Kinesis client's default: every call
// multiplexed on one HTTP/2 connection), its own retries (standard, 3
// attempts) and its own serialization (base64 of each Uint8Array).
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import { KinesisClient, PutRecordsCommand } from "@aws-sdk/client-kinesis";

const { values: opt } = parseArgs({
  options: {
    endpoint: { type: "string" },
    stream: { type: "string" },
    records: { type: "string" },
    bytes: { type: "string" },
    warmup: { type: "string", default: "0" },
    batch: { type: "string", default: "500" },
    inflight: { type: "string", default: "50" },
  },
});
const total = Number(opt.records);
const size = Number(opt.bytes);
const warmup = Number(opt.warmup);
const batch = Number(opt.batch);
const maxInflight = Number(opt.inflight);
if (!opt.endpoint || !opt.stream || !(total > 0) || !(size >= 0) ||
    !(batch >= 1 && batch <= 500) || !(maxInflight >= 1) || !(warmup >= 0)) {
  console.error(
    "usage: node bench/peer/sdk_put.mjs --endpoint URL --stream NAME " +
      "--records N --bytes B [--warmup W] [--batch 500] [--inflight 50]",
  );
  process.exit(2);
}

const client = new KinesisClient({
  endpoint: opt.endpoint,
  region: "us-east-1",
  credentials: {
    accessKeyId: "AKIDKEFOTEST",
    secretAccessKey: "kefo-test-secret-key",
  },
  maxAttempts: 3,
  retryMode: "standard",
});

// As in sdk_reader.mjs: kinesis-mock's SigV4 check knows "host", not
// ":authority". The same middleware counts the request bodies' bytes
// (content-length: the serializer's body is an adapter, not a string), for
// bytes sent per record.
let bytesSent = 0;
client.middlewareStack.addRelativeTo(
  (next) => async (args) => {
    const h = args.request.headers;
    if (h[":authority"] !== undefined) {
      h.host = h[":authority"];
      delete h[":authority"];
    }
    bytesSent += Number(h["content-length"] ?? 0);
    return next(args);
  },
  {
    relation: "after",
    toMiddleware: "hostHeaderMiddleware",
    name: "authorityAsHostMiddleware",
  },
);

// The keys and the data are made before the clock starts, as bench_put
// does: 16 hex digits of key, each record's data a view into a random pool
// at its own offset.
const SPREAD = 4096;
const pool = randomBytes(size + SPREAD);
const keyBytes = randomBytes((warmup + total) * 8);
const keys = new Array(warmup + total);
for (let i = 0; i < warmup + total; i++) {
  keys[i] = keyBytes.toString("hex", i * 8, i * 8 + 8);
}

// The entries not yet sent (or to send again), in order; |end| is where
// the run under way stops.
let next = 0, end = 0;
const again = [];
let inflight = 0, calls = 0, acknowledged = 0, retried = 0, failedCalls = 0;

function take() {
  const out = [];
  while (out.length < batch && again.length > 0) out.push(again.shift());
  while (out.length < batch && next < end) {
    const i = next++;
    const o = (i * 61) % SPREAD;
    out.push({ PartitionKey: keys[i], Data: pool.subarray(o, o + size) });
  }
  return out;
}

// Writes records |next| to |next| + |n| - 1; resolves once every one is
// acknowledged.
const run = (n) => new Promise((resolve, reject) => {
  end = next + n;
  const goal = acknowledged + n;
  function pump() {
    while (inflight < maxInflight && (again.length > 0 || next < end)) {
      const entries = take();
      inflight++;
      client
        .send(new PutRecordsCommand({ StreamName: opt.stream, Records: entries }))
        .then(
          (out) => {
            calls++;
            if (out.FailedRecordCount > 0) {
              out.Records.forEach((r, k) => {
                if (r.ErrorCode) {
                  again.push(entries[k]);
                  retried++;
                } else {
                  acknowledged++;
                }
              });
            } else {
              acknowledged += entries.length;
            }
          },
          (e) => {
            // The SDK's own retries are spent: send the batch again, up to
            // a point.
            if (++failedCalls > 100) return reject(e);
            console.error(`sdk_put: ${e.name}: ${e.message}`);
            again.push(...entries);
            retried += entries.length;
          },
        )
        .finally(() => {
          inflight--;
          if (acknowledged >= goal) resolve();
          else pump();
        });
    }
  }
  pump();
});

if (warmup > 0) {
  await run(warmup);
  calls = acknowledged = retried = bytesSent = 0;
}
const t0 = performance.now();
const cpu0 = process.cpuUsage();
await run(total);
const seconds = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(cpu0);
const cpuS = (cpu.user + cpu.system) / 1e6;
console.log(
  JSON.stringify({
    peer: "AWS SDK JS v3",
    aggregation: false,
    records: total,
    warmup,
    bytes: size,
    seconds: +seconds.toFixed(3),
    cpu_user_s: +(cpu.user / 1e6).toFixed(3),
    cpu_system_s: +(cpu.system / 1e6).toFixed(3),
    cpu_us_per_record: +((cpuS * 1e6) / total).toFixed(3),
    records_per_s: Math.round(total / seconds),
    calls,
    records_per_call: +(acknowledged / calls).toFixed(1),
    kinesis_records: acknowledged,
    entries_per_call: +(acknowledged / calls).toFixed(1),
    bytes_sent_per_record: +(bytesSent / total).toFixed(1),
    acknowledged,
    failed: 0,
    retried,
    rss_mib: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
  }),
);
client.destroy();
process.exit(acknowledged === total ? 0 : 1);
