// Test-world helper (not part of kefo): one JSON call to the project's
// mock Kinesis server (tests/support/mock), which speaks HTTP/2 only
// (h2c, prior knowledge) and checks no signature unless started with
// --secret. TARGET is the whole X-Amz-Target ("KefoMock.Fault",
// "Kinesis_20131202.ListShards"):
//   node mock_call.js PORT TARGET 'JSON BODY'   prints the answer
'use strict';
const http2 = require('http2');
const { auth } = require('./kl_call.js');

const [port, target, body] = process.argv.slice(2);
const client = http2.connect('http://127.0.0.1:' + port);
client.on('error', (e) => { console.error(e.message); process.exit(1); });
const data = body || '{}';
const req = client.request(Object.assign({
  ':method': 'POST', ':path': '/',
  'content-type': 'application/x-amz-json-1.1',
  'x-amz-target': target,
}, { authorization: auth.Authorization, 'x-amz-date': auth['X-Amz-Date'] }));
let status = 0, buf = '';
req.on('response', (h) => { status = h[':status']; });
req.on('data', (c) => (buf += c));
req.on('end', () => {
  client.close();
  if (status !== 200) {
    console.error(target + ': HTTP ' + status + ' ' + buf);
    process.exit(1);
  }
  console.log(buf);
});
req.end(data);
