// Test-world helper (not part of kefo): drives kinesis-local over its plain
// port to create a stream, put records, register a consumer, and save the
// raw bytes of one SubscribeToShard response (application/
// vnd.amazon.eventstream) to a file, so kefo's decoder can be checked
// against real emulator output until kefo has its own client.
// Usage: node capture_subscription.js PORT STREAM RECORDS SECONDS OUTFILE
'use strict';
const http2 = require('http2');
const fs = require('fs');

const [port, stream, nrec, secs, out] = process.argv.slice(2);
const { call: klCall, auth } = require('./kl_call');
const call = (op, body) => klCall(port, op, body);

async function main() {
  await call('CreateStream', { StreamName: stream, ShardCount: 1 });
  let desc;
  for (let i = 0; i < 50; i++) {
    desc = await call('DescribeStreamSummary', { StreamName: stream });
    if (desc.StreamDescriptionSummary.StreamStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const arn = desc.StreamDescriptionSummary.StreamARN;
  const expected = [];
  for (let i = 0; i < +nrec; i++) {
    const data = i % 2 ? Buffer.from([0, 1, 2, 255 - i % 256]) :
      Buffer.from(JSON.stringify({ n: i, text: 'record ' + i }));
    const r = await call('PutRecord', {
      StreamName: stream, PartitionKey: 'pk-' + i,
      Data: data.toString('base64'),
    });
    expected.push({ SequenceNumber: r.SequenceNumber, PartitionKey: 'pk-' + i,
      Data: data.toString('base64') });
  }
  // What was written, for the test to compare the decoded events with.
  fs.writeFileSync(out + '.expected.json', JSON.stringify(expected));
  const shards = await call('ListShards', { StreamName: stream });
  const shardId = shards.Shards[0].ShardId;
  const reg = await call('RegisterStreamConsumer', {
    StreamARN: arn, ConsumerName: stream + '-capture',
  });
  const consumerArn = reg.Consumer.ConsumerARN;
  for (let i = 0; i < 50; i++) {
    const d = await call('DescribeStreamConsumer', { ConsumerARN: consumerArn });
    if (d.ConsumerDescription.ConsumerStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const session = http2.connect('http://127.0.0.1:' + port);
  session.on('error', () => {});
  const body = JSON.stringify({
    ConsumerARN: consumerArn, ShardId: shardId,
    StartingPosition: { Type: 'TRIM_HORIZON' },
  });
  const req = session.request(Object.assign({
    ':method': 'POST', ':path': '/',
    'content-type': 'application/x-amz-json-1.1',
    'x-amz-target': 'Kinesis_20131202.SubscribeToShard',
  }, auth));
  const file = fs.createWriteStream(out);
  let bytes = 0;
  req.on('response', (h) => {
    if (h[':status'] !== 200) {
      console.error('SubscribeToShard: HTTP ' + h[':status']);
      process.exit(1);
    }
  });
  req.on('data', (c) => { bytes += c.length; file.write(c); });
  req.end(body);
  setTimeout(() => {
    req.close();
    file.end(() => {
      console.error('captured ' + bytes + ' bytes of SubscribeToShard ' +
        'events for ' + shardId + ' of ' + stream);
      // kinesis-local answers a GOAWAY with a PING ACK that Node rejects:
      // destroy the session instead of closing it politely.
      session.destroy();
      process.exit(0);
    });
  }, +secs * 1000);
}

main().catch((e) => { console.error(e.message); process.exit(1); });
