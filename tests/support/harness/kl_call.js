// Test-world helper (not part of kefo): one Kinesis JSON call to
// kinesis-local's plain port, which checks only that the auth headers are
// there. As a module: call(port, op, body) -> Promise of the answer. As a
// command (the quickstart uses it to create streams and split shards):
//   node kl_call.js PORT OPERATION 'JSON BODY'   prints the answer
// kinesis-local keeps streams per region, the one the credential scope
// names: KL_REGION (default us-east-1) picks it.
'use strict';
const http = require('http');

const region = process.env.KL_REGION || 'us-east-1';
const auth = {
  'Authorization': `AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/${region}/kinesis/aws4_request, SignedHeaders=host;x-amz-date, Signature=0`,
  'X-Amz-Date': '20260101T000000Z',
};

function call(port, op, body) {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = http.request({
      host: '127.0.0.1', port: +port, method: 'POST', path: '/',
      headers: Object.assign({
        'Content-Type': 'application/x-amz-json-1.1',
        'X-Amz-Target': 'Kinesis_20131202.' + op,
        'Content-Length': Buffer.byteLength(data),
      }, auth),
    }, (res) => {
      let buf = '';
      res.on('data', (c) => (buf += c));
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new Error(op + ': HTTP ' + res.statusCode + ' ' + buf));
        } else {
          resolve(buf ? JSON.parse(buf) : {});
        }
      });
    });
    req.on('error', reject);
    req.end(data);
  });
}

module.exports = { call, auth };

if (require.main === module) {
  const [port, op, body] = process.argv.slice(2);
  call(port, op, JSON.parse(body || '{}')).then(
    (r) => console.log(JSON.stringify(r)),
    (e) => { console.error(e.message); process.exit(1); });
}
