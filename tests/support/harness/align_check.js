// Test-world helper (not part of kefo): measures watermark alignment in a
// kefo-reader run from its JSON lines (stdout, in delivery order) and its
// log lines (stderr).
//   node align_check.js OUT ERR DRIFT_MS MAX_RECORDS
// For each record, its lead is its arrival time minus the slowest
// watermark (the largest arrival delivered so far, per shard) of the shards
// that have delivered. A batch is at most MAX_RECORDS records of one shard
// in a row. Every record counts, a shard's first batch too (alignment
// holds back a batch that starts past the limit, before the shard has a
// watermark of its own); the first batches' largest lead is also reported
// apart. The bound is the drift plus the widest span of event times in one
// batch.
// Prints one JSON object of figures.
'use strict';
const fs = require('fs');

const [outPath, errPath, driftArg, maxArg] = process.argv.slice(2);
const drift = +driftArg;
const maxRecords = +maxArg;
const recs = fs.readFileSync(outPath, 'utf8').split('\n').filter(Boolean)
  .map((l) => JSON.parse(l))
  .map((r) => ({ shard: r.shard, at: Date.parse(r.arrival) }));
const err = fs.readFileSync(errPath, 'utf8').split('\n');

const wm = {};
const count = {};
let lead = -Infinity, leadAt = null, firstLead = -Infinity;
let batchSpan = 0, blockStart = 0;
// A shard's first batch: its first records while they come in a row, at
// most MAX_RECORDS of them.
const first = {};
for (let i = 0; i < recs.length; i++) {
  const r = recs[i];
  // Contiguous blocks of one shard, cut every MAX_RECORDS: the widest
  // span of event times one batch can carry.
  if (i > 0 && (recs[i - 1].shard !== r.shard || i - blockStart >= maxRecords)) {
    blockStart = i;
  }
  batchSpan = Math.max(batchSpan, r.at - recs[blockStart].at);
  count[r.shard] = (count[r.shard] || 0) + 1;
  if (count[r.shard] === 1) {
    first[r.shard] = true;
  } else if (first[r.shard] &&
             (recs[i - 1].shard !== r.shard || count[r.shard] > maxRecords)) {
    first[r.shard] = false;
  }
  const inFirst = first[r.shard];
  const known = Object.values(wm);
  if (known.length > 0) {
    const slowest = Math.min(...known);
    const l = r.at - slowest;
    if (inFirst) {
      firstLead = Math.max(firstLead, l);
    }
    if (l > lead) {
      lead = l;
      leadAt = { index: i, shard: r.shard, arrival: new Date(r.at).toISOString() };
    }
  }
  wm[r.shard] = Math.max(wm[r.shard] || -Infinity, r.at);
}
const pick = (re) => err.filter((l) => re.test(l));
const result = {
  records: recs.length,
  per_shard: count,
  drift_ms: drift,
  batch_span_ms: batchSpan,
  bound_ms: drift + batchSpan,
  largest_lead_ms: lead === -Infinity ? null : lead,
  largest_lead_at: leadAt,
  first_batch_largest_lead_ms: firstLead === -Infinity ? null : firstLead,
  first_shard: recs.length ? recs[0].shard : null,
  pauses: pick(/ alignment\.paused /),
  resumes: pick(/ alignment\.resumed /),
  progress_alignment: pick(/^kefo-reader: alignment: /).slice(0, 50),
  timestamped_lines: pick(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (error|warn |info |debug) \S+ \S+ /).length,
};
console.log(JSON.stringify(result, null, 1));
