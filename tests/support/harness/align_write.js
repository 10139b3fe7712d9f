// Test-world helper (not part of kefo): writes COUNT records to one shard
// of kinesis-local through its ExplicitHashKey, spread evenly over SECONDS
// (kinesis-local stamps ApproximateArrivalTimestamp at write time, so the
// spread is the span of event times the shard holds).
//   node align_write.js PORT STREAM HASH_KEY COUNT SECONDS TAG
'use strict';
const { call } = require('./kl_call.js');

async function main() {
  const [port, stream, hashKey, count, seconds, tag] = process.argv.slice(2);
  const n = +count;
  const every = (+seconds * 1000) / n;
  const t0 = Date.now();
  for (let i = 0; i < n; i++) {
    const due = t0 + i * every;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    await call(port, 'PutRecord', {
      StreamName: stream,
      PartitionKey: tag + '-' + i,
      ExplicitHashKey: hashKey,
      Data: Buffer.from(tag + ' ' + i).toString('base64'),
    });
  }
}

main().catch((e) => {
  console.error(e.message);
  process.exit(1);
});
