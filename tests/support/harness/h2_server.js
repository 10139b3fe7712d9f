// Test-world helper (not part of kefo): a local HTTP/2 server for the
// HTTP/2 client's tests. Usage: node h2_server.js PORT [CERT KEY]
// PORT 0 binds a free port; the first line of output is 'listening PORT'
// once it listens, so a test never races another for a port.
// With CERT and KEY it serves TLS (ALPN h2), else h2c with prior knowledge.
// Routes: /echo (the request body back), /big?n=N (N bytes in 16 KiB
// writes), /hold (headers at once, then an open body), /never (no answer),
// /goaway (answers, then GOAWAY on its session), /count (connections seen).
// On "/", by x-amz-target: *.Throttled answers HTTP 400
// ProvisionedThroughputExceededException twice, then 200 {"attempts":3};
// *.Malformed answers 200 with a body that is not JSON; *.Missing answers
// 400 ResourceNotFoundException.
// *.SubscribeToShard answers with an event stream: an initial-response,
// two SubscribeToShardEvents, then by ShardId: shardId-end ends the shard
// (ChildShards, no continuation), shardId-exception sends a
// ResourceInUseException, shardId-corrupt sends an event with a bad CRC.
// With --stream after PORT it is a whole small stream for the consumer's
// tests: a closed parent shard (6 records) split into two open children
// (4 records each); each subscription ends after two events (as if its
// 5 minutes were up) and a resubscription resends the last record it had
// sent, so deduplication and lineage are exercised.
// With --silent as the only argument after PORT it is a peer that sends its
// SETTINGS and then nothing at all (for PING liveness).
'use strict';
const http2 = require('http2');
const fs = require('fs');
const net = require('net');
const [port, cert, key] = process.argv.slice(2);

if (cert === '--silent') {
  const empty = Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]);
  const silent = net.createServer((s) => { s.on('error', () => {}); s.write(empty); });
  silent.listen(+port, '127.0.0.1',
    () => console.log('listening ' + silent.address().port));
  return;
}

const fakeStream = cert === '--stream';
const PARENT = 'shardId-000000000000';
const shardRecords = {
  [PARENT]: [1001, 1002, 1003, 1004, 1005, 1006],
  'shardId-000000000001': [2001, 2002, 2003, 2004],
  'shardId-000000000002': [3001, 3002, 3003, 3004],
};
let deregistered = false;
const STREAM_ARN = 'arn:aws:kinesis:us-east-1:000000000000:stream/fake';
const CONSUMER_ARN = STREAM_ARN + '/consumer/kefo-fake:1';
function fakeCall(op, req, json) {
  const range = (a, b) => ({ StartingHashKey: a, EndingHashKey: b });
  switch (op) {
    case 'DescribeStreamSummary':
      return json(200, { StreamDescriptionSummary: { StreamARN: STREAM_ARN,
        StreamName: 'fake', StreamStatus: 'ACTIVE', OpenShardCount: 2 } });
    case 'RegisterStreamConsumer':
      deregistered = false;
      return json(200, { Consumer: { ConsumerARN: CONSUMER_ARN,
        ConsumerName: req.ConsumerName, ConsumerStatus: 'ACTIVE' } });
    case 'DescribeStreamConsumer':
      if (deregistered) {
        return json(400, { __type: 'ResourceNotFoundException',
          message: 'no consumer' });
      }
      return json(200, { ConsumerDescription: { ConsumerARN: CONSUMER_ARN,
        ConsumerStatus: 'ACTIVE' } });
    case 'DeregisterStreamConsumer':
      deregistered = true;
      return json(200, {});
    case 'ListShards':
      return json(200, { Shards: [
        { ShardId: PARENT, HashKeyRange: range('0', '99'),
          SequenceNumberRange: { StartingSequenceNumber: '1001',
            EndingSequenceNumber: '1006' } },
        { ShardId: 'shardId-000000000001', ParentShardId: PARENT,
          HashKeyRange: range('0', '49'),
          SequenceNumberRange: { StartingSequenceNumber: '2001' } },
        { ShardId: 'shardId-000000000002', ParentShardId: PARENT,
          HashKeyRange: range('50', '99'),
          SequenceNumberRange: { StartingSequenceNumber: '3001' } }] });
    default:
      return json(400, { __type: 'InvalidArgumentException', message: op });
  }
}
let subscriptions = 0;
function fakeSubscribe(stream, req) {
  const recs = shardRecords[req.ShardId] || [];
  const pos = req.StartingPosition || {};
  let i = 0;
  ++subscriptions;
  if (pos.Type === 'AFTER_SEQUENCE_NUMBER') {
    i = recs.findIndex((r) => r > +pos.SequenceNumber);
    if (i < 0) i = recs.length;
    if (i > 0) i--; /* resend the last one: the consumer must drop it */
  }
  stream.respond({ ':status': 200,
    'content-type': 'application/vnd.amazon.eventstream' });
  stream.write(esEvent('initial-response', {}));
  let events = 0;
  const tick = () => {
    if (stream.destroyed || stream.closed) return;
    const batch = recs.slice(i, i + 2);
    i += batch.length;
    const closed = req.ShardId === PARENT && i >= recs.length;
    const last = batch.length ? batch[batch.length - 1]
      : (pos.SequenceNumber || String(recs[0] - 1));
    const ev = { MillisBehindLatest: 0, Records: batch.map((r) => ({
      SequenceNumber: String(r), PartitionKey: 'pk-' + r,
      Data: Buffer.from('record ' + r).toString('base64'),
      ApproximateArrivalTimestamp: 1795000000 })),
    ContinuationSequenceNumber: closed ? null : String(last) };
    if (closed) {
      ev.ChildShards = [
        { ShardId: 'shardId-000000000001', ParentShards: [PARENT],
          HashKeyRange: { StartingHashKey: '0', EndingHashKey: '49' } },
        { ShardId: 'shardId-000000000002', ParentShards: [PARENT],
          HashKeyRange: { StartingHashKey: '50', EndingHashKey: '99' } }];
      stream.end(esEvent('SubscribeToShardEvent', ev));
      return;
    }
    stream.write(esEvent('SubscribeToShardEvent', ev));
    if (++events >= 2) {
      stream.end();
      return;
    }
    setTimeout(tick, 50);
  };
  setTimeout(tick, 20);
}

const crcTable = new Int32Array(256).map((_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c;
});
function crc32(buf) {
  let c = -1;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}
function esMessage(headers, payload) {
  const hs = Buffer.concat(Object.entries(headers).map(([k, v]) => {
    const kb = Buffer.from(k), vb = Buffer.from(v);
    const h = Buffer.alloc(1 + kb.length + 3);
    h[0] = kb.length; kb.copy(h, 1); h[1 + kb.length] = 7;
    h.writeUInt16BE(vb.length, 2 + kb.length);
    return Buffer.concat([h, vb]);
  }));
  const body = Buffer.from(payload);
  const total = 16 + hs.length + body.length;
  const prelude = Buffer.alloc(12);
  prelude.writeUInt32BE(total, 0); prelude.writeUInt32BE(hs.length, 4);
  prelude.writeUInt32BE(crc32(prelude.subarray(0, 8)), 8);
  const msg = Buffer.concat([prelude, hs, body, Buffer.alloc(4)]);
  msg.writeUInt32BE(crc32(msg.subarray(0, total - 4)), total - 4);
  return msg;
}
function esEvent(type, obj) {
  return esMessage({ ':message-type': 'event', ':event-type': type,
    ':content-type': 'application/json' }, JSON.stringify(obj));
}
function subscribe(stream, req) {
  const shard = req.ShardId;
  stream.respond({ ':status': 200,
    'content-type': 'application/vnd.amazon.eventstream' });
  stream.write(esEvent('initial-response', {}));
  const rec = (i) => ({ SequenceNumber: String(1000 + i), PartitionKey: 'pk',
    Data: Buffer.from('record ' + i).toString('base64'),
    ApproximateArrivalTimestamp: 1795000000.5 });
  stream.write(esEvent('SubscribeToShardEvent', { Records: [rec(1), rec(2)],
    ContinuationSequenceNumber: '1002', MillisBehindLatest: 0 }));
  stream.write(esEvent('SubscribeToShardEvent', { Records: [rec(3)],
    ContinuationSequenceNumber: '1003', MillisBehindLatest: 0 }));
  if (shard === 'shardId-end') {
    stream.end(esEvent('SubscribeToShardEvent', { Records: [],
      ContinuationSequenceNumber: null, MillisBehindLatest: 0,
      ChildShards: [{ ShardId: 'shardId-child', ParentShards: [shard],
        HashKeyRange: { StartingHashKey: '0', EndingHashKey: '9' } }] }));
  } else if (shard === 'shardId-exception') {
    stream.write(esMessage({ ':message-type': 'exception',
      ':exception-type': 'ResourceInUseException',
      ':content-type': 'application/json' },
    JSON.stringify({ message: 'Another subscription is active' })));
  } else if (shard === 'shardId-corrupt') {
    const bad = esEvent('SubscribeToShardEvent', { Records: [rec(4)],
      ContinuationSequenceNumber: '1004', MillisBehindLatest: 0 });
    bad[bad.length - 10] ^= 0xff;
    stream.write(bad);
  }
}
const settings = { maxConcurrentStreams: 5000, initialWindowSize: 1 << 20 };
let connections = 0;
let throttled = 0;
// A test server must outlive one bad client: log and go on.
process.on('uncaughtException', (e) => console.error('h2_server:', e));
const server = cert && !fakeStream
  ? http2.createSecureServer({ cert: fs.readFileSync(cert),
      key: fs.readFileSync(key), settings, allowHTTP1: false })
  : http2.createServer({ settings });
server.on('session', () => { connections++; });
server.on('sessionError', () => {});
server.on('stream', (stream, headers) => {
  stream.on('error', () => {});
  const url = new URL(headers[':path'], 'http://x');
  const chunks = [];
  stream.on('data', (c) => chunks.push(c));
  stream.on('end', () => {
    const body = Buffer.concat(chunks);
    const target = headers['x-amz-target'] || '';
    if (url.pathname === '/' && target) {
      const json = (st, obj) => {
        stream.respond({ ':status': st,
          'content-type': 'application/x-amz-json-1.1' });
        stream.end(JSON.stringify(obj));
      };
      const op = target.split('.').pop();
      if (fakeStream) {
        const req = JSON.parse(body.toString() || '{}');
        if (op === 'SubscribeToShard') {
          fakeSubscribe(stream, req);
        } else {
          fakeCall(op, req, json);
        }
        return;
      }
      if (target.endsWith('.SubscribeToShard')) {
        subscribe(stream, JSON.parse(body.toString() || '{}'));
        return;
      }
      if (!headers.authorization || !headers['x-amz-date']) {
        json(400, { __type: 'MissingAuthenticationToken', message: 'unsigned' });
      } else if (target.endsWith('.Throttled')) {
        throttled++;
        if (throttled % 3) {
          json(400, { __type: 'ProvisionedThroughputExceededException',
            message: 'Rate exceeded for shard' });
        } else {
          json(200, { attempts: 3 });
        }
      } else if (target.endsWith('.Malformed')) {
        stream.respond({ ':status': 200 });
        stream.end('{"Shards": [');
      } else {
        json(400, { __type: 'com.amazonaws.kinesis#ResourceNotFoundException',
          message: 'Stream x under account 000000000000 not found.' });
      }
      return;
    }
    switch (url.pathname) {
      case '/echo':
        stream.respond({ ':status': 200, 'x-echo-length': String(body.length) });
        stream.end(body);
        break;
      case '/big': {
        let left = +url.searchParams.get('n');
        stream.respond({ ':status': 200 });
        const chunk = Buffer.alloc(16384, 0x61);
        const pump = () => {
          while (left > 0) {
            const n = Math.min(left, chunk.length);
            left -= n;
            if (!stream.write(chunk.subarray(0, n))) {
              stream.once('drain', pump);
              return;
            }
          }
          stream.end();
        };
        pump();
        break;
      }
      case '/hold':
        stream.respond({ ':status': 200 });
        stream.write('x');
        break;
      case '/never':
        break;
      case '/goaway':
        {
          const sess = stream.session;
          stream.respond({ ':status': 200 });
          stream.end('bye');
          setTimeout(() => { if (!sess.destroyed) sess.goaway(0); }, 20);
        }
        break;
      case '/count':
        stream.respond({ ':status': 200 });
        stream.end(String(connections));
        break;
      default:
        stream.respond({ ':status': 404 });
        stream.end();
    }
  });
});
server.listen(+port, '127.0.0.1',
  () => console.log('listening ' + server.address().port));
