// Test-world helper: reads kefo-eventstream's JSON lines on stdin and checks
// that the SubscribeToShardEvents hold exactly the records in EXPECTED (a
// JSON file written by capture_subscription.js), in order, each once.
// Prints "N passed, M failed" and exits non-zero on any mismatch.
'use strict';
const fs = require('fs');
const expected = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const lines = fs.readFileSync(0, 'utf8').split('\n').filter((l) => l);
const got = [];
let events = 0;
for (const l of lines) {
  const m = JSON.parse(l);
  if (m.headers[':event-type'] !== 'SubscribeToShardEvent') continue;
  if (m.payload_encoding !== 'json') continue;
  events++;
  for (const r of m.payload.Records) got.push(r);
}
let pass = 0, fail = 0;
const check = (ok, what) => { if (ok) pass++; else { fail++; console.log('FAIL: ' + what); } };
check(events >= 1, 'at least one SubscribeToShardEvent decoded');
check(got.length === expected.length,
  `record count ${got.length}, expected ${expected.length}`);
for (let i = 0; i < expected.length; i++) {
  const g = got[i] || {}, e = expected[i];
  check(g.SequenceNumber === e.SequenceNumber &&
        g.PartitionKey === e.PartitionKey && g.Data === e.Data,
  `record ${i}: ${JSON.stringify(g)} vs ${JSON.stringify(e)}`);
}
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
