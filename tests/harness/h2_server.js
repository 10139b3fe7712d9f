// Test-world helper (not part of kefo): a local HTTP/2 server for the
// HTTP/2 client's tests. Usage: node h2_server.js PORT [CERT KEY]
// With CERT and KEY it serves TLS (ALPN h2), else h2c with prior knowledge.
// Routes: /echo (the request body back), /big?n=N (N bytes in 16 KiB
// writes), /hold (headers at once, then an open body), /never (no answer),
// /goaway (answers, then GOAWAY on its session), /count (connections seen).
// On "/", by x-amz-target: *.Throttled answers HTTP 400
// ProvisionedThroughputExceededException twice, then 200 {"attempts":3};
// *.Malformed answers 200 with a body that is not JSON; *.Missing answers
// 400 ResourceNotFoundException.
'use strict';
const http2 = require('http2');
const fs = require('fs');
const [port, cert, key] = process.argv.slice(2);
const settings = { maxConcurrentStreams: 5000, initialWindowSize: 1 << 20 };
let connections = 0;
let throttled = 0;
// A test server must outlive one bad client: log and go on.
process.on('uncaughtException', (e) => console.error('h2_server:', e));
const server = cert
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
server.listen(+port, '127.0.0.1', () => console.log('ready'));
