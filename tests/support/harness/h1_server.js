// Servers for tests/integration/h1_client_test, on a free port of 127.0.0.1:
//   node h1_server.js http                 HTTP/1.1 test server (paths below)
//   node h1_server.js https CERTDIR        the same over TLS (server.pem/.key)
//   node h1_server.js silent               accepts TCP, never says a word
//   node h1_server.js raw                  canned broken answers (see below)
//   node h1_server.js dynalite NODE_MODULES  dynalite, in memory
// Prints "PORT <n>" once listening. A line "STATS" on stdin is answered with
// "STATS connections=<n>" (TCP connections accepted so far). Exits when
// stdin closes, so it never outlives the test that started it.
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const net = require('net');
const path = require('path');

const [mode, arg] = process.argv.slice(2);
let connections = 0;
let nextConnId = 0;

function connId(req) {
  const s = req.socket;
  if (!s.kefoConnId) s.kefoConnId = ++nextConnId;
  return String(s.kefoConnId);
}

// Byte i of every generated body.
function pattern(start, len) {
  const b = Buffer.allocUnsafe(len);
  for (let i = 0; i < len; i++) b[i] = (start + i) % 251;
  return b;
}

function handler(req, res) {
  const url = new URL(req.url, 'http://x');
  const q = (k, d) => Number(url.searchParams.get(k) ?? d);
  const id = connId(req);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    switch (url.pathname) {
      case '/echo': {
        const out = Buffer.from(JSON.stringify({
          method: req.method, url: req.url, headers: req.headers,
          rawHeaders: req.rawHeaders, bodyLength: body.length,
          body: body.toString('latin1'),
        }));
        res.writeHead(200, {
          'Content-Type': 'application/json', 'Content-Length': out.length,
          'X-Conn-Id': id, 'X-Mixed-Case': 'Value',
        });
        res.end(out);
        break;
      }
      case '/delay':
        setTimeout(() => {
          res.writeHead(200, { 'X-Conn-Id': id, 'Content-Length': 2 });
          res.end('ok');
        }, q('ms', 100));
        break;
      case '/status': {
        const code = q('code', 200);
        res.writeHead(code, { 'X-Conn-Id': id });
        res.end(code === 204 || code === 304 ? undefined : 'status ' + code);
        break;
      }
      case '/big': {
        // No Content-Length: chunked, one HTTP chunk per write.
        const n = q('n', 1 << 20), piece = q('piece', 65536);
        res.writeHead(200, { 'X-Conn-Id': id });
        let off = 0;
        const pump = () => {
          while (off < n) {
            const len = Math.min(piece, n - off);
            const more = res.write(pattern(off, len));
            off += len;
            if (!more) return res.once('drain', pump);
          }
          res.end();
        };
        pump();
        break;
      }
      case '/hang':
        break; // never answers
      case '/drop': {
        const n = q('n', 1000);
        res.writeHead(200, { 'X-Conn-Id': id, 'Content-Length': 2 * n });
        res.write(pattern(0, n));
        setTimeout(() => req.socket.destroy(), 50);
        break;
      }
      case '/stream': {
        // A body that never ends: 1 KiB every 10 ms until the peer goes.
        res.writeHead(200, { 'X-Conn-Id': id });
        let off = 0;
        const t = setInterval(() => {
          res.write(pattern(off, 1024));
          off += 1024;
        }, 10);
        res.on('close', () => clearInterval(t));
        break;
      }
      case '/close':
        res.writeHead(200, {
          'X-Conn-Id': id, 'Connection': 'close', 'Content-Length': 2,
        });
        res.end('ok');
        break;
      case '/closelater':
        // Keep-alive response, then the server drops the idle connection.
        res.writeHead(200, { 'X-Conn-Id': id, 'Content-Length': 2 });
        res.end('ok');
        setTimeout(() => req.socket.destroy(), q('ms', 100));
        break;
      default:
        res.writeHead(404, { 'Content-Length': 0 });
        res.end();
    }
  });
}

let server;
switch (mode) {
  case 'http':
    server = http.createServer(handler);
    break;
  case 'https':
    server = https.createServer({
      key: fs.readFileSync(path.join(arg, 'server.key')),
      cert: fs.readFileSync(path.join(arg, 'server.pem')),
    }, handler);
    break;
  case 'silent': {
    const held = [];
    server = net.createServer((s) => { held.push(s); s.on('error', () => {}); });
    break;
  }
  case 'raw':
    // Canned bytes by request path, for what a well-behaved server never
    // sends: a truncated chunk, a malformed chunk, a broken head, a
    // close before any answer, a body ended by close, an early answer.
    server = net.createServer((s) => {
      let head = '';
      s.on('error', () => {});
      s.on('data', function onData(d) {
        head += d.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        s.removeListener('data', onData);
        s.resume();
        const p = head.split(' ')[1] || '/';
        const ok = 'HTTP/1.1 200 OK\r\n';
        switch (p) {
          case '/partialchunk':
            s.end(ok + 'Transfer-Encoding: chunked\r\n\r\n1000\r\n' +
                  'x'.repeat(100));
            break;
          case '/badchunk':
            s.end(ok + 'Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n');
            break;
          case '/badhead':
            s.end('SPDY/9 what\r\n\r\n');
            break;
          case '/huge':
            s.end(ok + 'Content-Length: 100000000000\r\n\r\nabc');
            break;
          case '/eof':
            s.end();
            break;
          case '/untilclose':
            s.end(ok + 'Connection: close\r\n\r\n' + 'y'.repeat(5000));
            break;
          case '/early':
            // Answers before reading a large body, then closes.
            s.end('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 4\r\n' +
                  'Connection: close\r\n\r\nbig!');
            break;
          default:
            s.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n');
        }
      });
    });
    break;
  case 'dynalite':
    server = require(path.join(arg, 'dynalite'))({
      createTableMs: 0, deleteTableMs: 0, updateTableMs: 0,
    });
    break;
  default:
    console.error('usage: h1_server.js http|https DIR|silent|raw|dynalite DIR');
    process.exit(2);
}
server.on('connection', (s) => {
  ++connections;
  s.on('error', () => {});
});
server.on('tlsClientError', () => {});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write('PORT ' + server.address().port + '\n');
});

let pending = '';
process.stdin.on('data', (d) => {
  pending += d;
  let nl;
  while ((nl = pending.indexOf('\n')) >= 0) {
    const line = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    if (line === 'STATS') {
      process.stdout.write('STATS connections=' + connections + '\n');
    }
  }
});
process.stdin.on('end', () => process.exit(0));
process.stdin.on('close', () => process.exit(0));
