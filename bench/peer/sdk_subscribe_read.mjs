// Path 5's peer (issue 28): the AWS SDK for JavaScript v3 reading a whole
// stream from TRIM_HORIZON with SubscribeToShard on kinesis-local, as an
// application would, and reporting what it read as one JSON line:
//
//   node bench/peer/sdk_subscribe_read.mjs --endpoint http://127.0.0.1:PORT \
//     --stream NAME --expect RECORDS [--consumer NAME]
//
// It stops once it has read RECORDS records. Its CPU and memory are
// measured from outside (/usr/bin/time in bench/path5.sh), as kefo-reader's
// are, so start-up counts for both.
//
// One change from the SDK as shipped: kinesis-local answers a client's
// GOAWAY with an unsolicited PING ACK, which Node's http2 takes for a
// protocol error, and the SDK's HTTP/2 handler sends GOAWAY (closes the
// session) as soon as an event stream's response headers arrive, so every
// subscription would die at its first event. The session's close() is
// made a no-op here; the handler still destroys the session when the
// stream ends. Against AWS (or kefo's mock) this is not needed.
import http2 from "node:http2";
import { parseArgs } from "node:util";
import {
  KinesisClient,
  DescribeStreamSummaryCommand,
  RegisterStreamConsumerCommand,
  DescribeStreamConsumerCommand,
  SubscribeToShardCommand,
  ListShardsCommand,
} from "@aws-sdk/client-kinesis";
import { NodeHttp2Handler } from "@smithy/node-http-handler";

const { values: opt } = parseArgs({
  options: {
    endpoint: { type: "string" },
    stream: { type: "string" },
    expect: { type: "string" },
    consumer: { type: "string", default: "kefo-sdk-peer" },
  },
});
const expect = Number(opt.expect);
if (!opt.endpoint || !opt.stream || !(expect > 0)) {
  console.error(
    "usage: node bench/peer/sdk_subscribe_read.mjs --endpoint URL " +
      "--stream NAME --expect RECORDS [--consumer NAME]",
  );
  process.exit(2);
}

const handler = new NodeHttp2Handler();
handler.connectionManager.connect = (url) => {
  const session = http2.connect(url);
  session.close = () => {};
  // The PING ACK after the handler's destroy: the stream is over by then.
  session.on("error", () => {});
  return session;
};
const client = new KinesisClient({
  endpoint: opt.endpoint,
  region: "us-east-1",
  credentials: {
    accessKeyId: "AKIDKEFOTEST",
    secretAccessKey: "kefo-test-secret-key",
  },
  requestHandler: handler,
  maxAttempts: 3,
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const summary = await client.send(
  new DescribeStreamSummaryCommand({ StreamName: opt.stream }),
);
const streamArn = summary.StreamDescriptionSummary.StreamARN;
try {
  await client.send(
    new RegisterStreamConsumerCommand({
      StreamARN: streamArn,
      ConsumerName: opt.consumer,
    }),
  );
} catch (e) {
  // Registered by an earlier run (kinesis-local persists it): reuse it.
  if (e.name !== "ResourceInUseException") throw e;
}
let consumer;
for (;;) {
  consumer = (
    await client.send(
      new DescribeStreamConsumerCommand({
        StreamARN: streamArn,
        ConsumerName: opt.consumer,
      }),
    )
  ).ConsumerDescription;
  if (consumer.ConsumerStatus === "ACTIVE") break;
  await sleep(200);
}
const shardIds = [];
let page = await client.send(new ListShardsCommand({ StreamName: opt.stream }));
for (;;) {
  for (const s of page.Shards ?? []) shardIds.push(s.ShardId);
  if (!page.NextToken || !page.Shards?.length) break;
  page = await client.send(new ListShardsCommand({ NextToken: page.NextToken }));
}

let records = 0, bytes = 0, resubscribes = 0;
const stop = new AbortController();

async function readShard(shardId) {
  let position = { Type: "TRIM_HORIZON" };
  let lastCall = 0, failures = 0;
  while (!stop.signal.aborted) {
    // One SubscribeToShard a second per consumer and shard.
    const wait = lastCall + 1000 - Date.now();
    if (wait > 0) await sleep(wait);
    if (lastCall) resubscribes++;
    lastCall = Date.now();
    try {
      const out = await client.send(
        new SubscribeToShardCommand({
          ConsumerARN: consumer.ConsumerARN,
          ShardId: shardId,
          StartingPosition: position,
        }),
        { abortSignal: stop.signal },
      );
      for await (const ev of out.EventStream) {
        const e = ev.SubscribeToShardEvent;
        if (!e) continue;
        failures = 0;
        // What an application is handed: Data decoded from base64.
        for (const r of e.Records) bytes += r.Data.length;
        records += e.Records.length;
        if (records >= expect) {
          stop.abort();
          return;
        }
        if (!e.ContinuationSequenceNumber) return;
        position = {
          Type: "AFTER_SEQUENCE_NUMBER",
          SequenceNumber: e.ContinuationSequenceNumber,
        };
      }
    } catch (e) {
      if (stop.signal.aborted) return;
      // A subscription still held for this consumer and shard by a
      // reader that just left lasts about a second on kinesis-local.
      if (++failures > 10) throw e;
      await sleep(500);
    }
  }
}

const t0 = performance.now();
await Promise.all(shardIds.map(readShard));
console.log(
  JSON.stringify({
    peer: "AWS SDK JS v3",
    records,
    bytes,
    shards: shardIds.length,
    seconds: +((performance.now() - t0) / 1000).toFixed(3),
    resubscribes,
  }),
);
client.destroy();
process.exit(0);
