// Fake AWS credential endpoints for tests/integration/credentials_servers_test, on
// 127.0.0.1 only, each on a free port the OS picks:
//   sts        STS query API: AssumeRole (SigV4 checked against the
//              configured source keys) and AssumeRoleWithWebIdentity
//              (token checked); XML answers and errors as STS writes them.
//   imds       EC2 IMDSv2: PUT /latest/api/token, then the role list and
//              the role's credentials, each GET needing the token.
//   container  ECS/EKS container endpoint: any path, Authorization checked.
// Every server also answers GET /__stats (request counts per kind) and
// POST /__config (JSON merged into the behaviour below).
// Usage: node fake_aws_servers.js PORTFILE — writes {"sts":N,"imds":N,
// "container":N} to PORTFILE once all listen. Exits when its parent's
// stdin closes or on SIGTERM.
'use strict';
const http = require('http');
const crypto = require('crypto');
const fs = require('fs');

const config = {
  // Lifetimes of the credentials handed out, in seconds.
  lifetime_s: 3600,
  // IMDS: delay before answering a credentials GET, in ms.
  imds_creds_delay_ms: 0,
  // IMDS: status of the role list (200, or e.g. 404).
  imds_role_status: 200,
  // Container: the Authorization value expected.
  container_token: 'ContainerAuthTOKENsecret123',
  // STS: the web identity token expected, and the source keys.
  web_identity_token: 'eyJhbGciWEBIDENTITYtokenSecretPayload',
  source_keys: {AKIDSOURCE: 'SourceSECRETkeyVALUEforSigning1'},
};
const stats = {};
let serial = 0;
// Temporary keys this server issued: akid -> {secret, token}. They sign
// the next hop of a role chain.
const issued = {};

function count(kind) {
  stats[kind] = (stats[kind] || 0) + 1;
}

// With milliseconds, so short test lifetimes are exact.
function expiration() {
  return new Date(Date.now() + config.lifetime_s * 1000).toISOString();
}

function readBody(req, cb) {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => cb(Buffer.concat(chunks).toString('utf8')));
}

function control(req, res, body) {
  if (req.method === 'GET' && req.url === '/__stats') {
    res.writeHead(200, {'content-type': 'application/json'});
    res.end(JSON.stringify(stats));
    return true;
  }
  if (req.method === 'POST' && req.url === '/__config') {
    Object.assign(config, JSON.parse(body || '{}'));
    res.writeHead(200, {'content-type': 'application/json'});
    res.end(JSON.stringify(config));
    return true;
  }
  return false;
}

// ---- STS ----

const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');
const hmac = (k, s) => crypto.createHmac('sha256', k).update(s).digest();

// Checks the SigV4 Authorization of a POST / as kefo signs it.
function checkSignature(req, body) {
  const auth = req.headers['authorization'] || '';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/sts\/aws4_request, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return 'no SigV4 Authorization header';
  const [, akid, day, region, signed, signature] = m;
  let secret = config.source_keys[akid];
  const names = signed.split(';');
  if (!secret && issued[akid]) {
    secret = issued[akid].secret;
    if (req.headers['x-amz-security-token'] !== issued[akid].token ||
        !names.includes('x-amz-security-token')) {
      return 'temporary keys without their signed session token';
    }
  }
  if (!secret) return 'unknown access key ' + akid;
  const date = req.headers['x-amz-date'] || '';
  if (date.slice(0, 8) !== day) return 'x-amz-date does not match the scope';
  if (!names.includes('host')) return 'host is not signed';
  const canonHeaders = names.map((n) => {
    const v = req.headers[n];
    return n + ':' + (v === undefined ? '' : String(v).trim().replace(/\s+/g, ' ')) + '\n';
  }).join('');
  const creq = ['POST', '/', '', canonHeaders, signed, sha256(body)].join('\n');
  const scope = `${day}/${region}/sts/aws4_request`;
  const sts = ['AWS4-HMAC-SHA256', date, scope, sha256(creq)].join('\n');
  let key = hmac('AWS4' + secret, day);
  key = hmac(key, region);
  key = hmac(key, 'sts');
  key = hmac(key, 'aws4_request');
  const want = crypto.createHmac('sha256', key).update(sts).digest('hex');
  return want === signature ? null : 'signature mismatch';
}

function stsError(res, status, code, message) {
  res.writeHead(status, {'content-type': 'text/xml'});
  res.end(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error>
  <RequestId>${crypto.randomUUID()}</RequestId>
</ErrorResponse>
`);
}

function stsCredentials(res, action, prefix) {
  const n = ++serial;
  issued[prefix + n] = {secret: 'TemporarySecret' + n,
                        token: 'TemporaryToken' + n + '&more'};
  res.writeHead(200, {'content-type': 'text/xml'});
  res.end(`<${action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <${action}Result>
    <Credentials>
      <AccessKeyId>${prefix}${n}</AccessKeyId>
      <SecretAccessKey>TemporarySecret${n}</SecretAccessKey>
      <SessionToken>TemporaryToken${n}&amp;more</SessionToken>
      <Expiration>${expiration()}</Expiration>
    </Credentials>
  </${action}Result>
  <ResponseMetadata><RequestId>${crypto.randomUUID()}</RequestId></ResponseMetadata>
</${action}Response>
`);
}

function sts(req, res, body) {
  const form = new URLSearchParams(body);
  const action = form.get('Action');
  if (req.method !== 'POST' || req.url !== '/' ||
      form.get('Version') !== '2011-06-15' || !form.get('RoleArn') ||
      !form.get('RoleSessionName')) {
    count('sts_bad');
    return stsError(res, 400, 'MalformedInput', 'bad request');
  }
  if (action === 'AssumeRoleWithWebIdentity') {
    count('sts_web_identity');
    if (req.headers['authorization']) {
      return stsError(res, 400, 'InvalidRequest', 'web identity is unsigned');
    }
    if (form.get('WebIdentityToken') !== config.web_identity_token) {
      return stsError(res, 400, 'InvalidIdentityToken',
                      'token rejected');
    }
    return stsCredentials(res, action, 'ASIAWEB');
  }
  if (action === 'AssumeRole') {
    count('sts_assume_role');
    const why = checkSignature(req, body);
    if (why) return stsError(res, 403, 'SignatureDoesNotMatch', why);
    return stsCredentials(res, action, 'ASIAROLE');
  }
  count('sts_bad');
  return stsError(res, 400, 'InvalidAction', 'unknown action');
}

// ---- IMDS ----

const imdsTokens = new Set();

function imds(req, res) {
  const base = '/latest/meta-data/iam/security-credentials/';
  if (req.method === 'PUT' && req.url === '/latest/api/token') {
    count('imds_token');
    const ttl = Number(req.headers['x-aws-ec2-metadata-token-ttl-seconds']);
    if (!(ttl >= 1 && ttl <= 21600)) {
      res.writeHead(400);
      return res.end();
    }
    const token = 'IMDSTOKEN' + crypto.randomBytes(12).toString('hex');
    imdsTokens.add(token);
    res.writeHead(200, {'x-aws-ec2-metadata-token-ttl-seconds': String(ttl)});
    return res.end(token);
  }
  if (req.method !== 'GET' || !req.url.startsWith(base)) {
    res.writeHead(404);
    return res.end();
  }
  if (!imdsTokens.has(req.headers['x-aws-ec2-metadata-token'])) {
    count('imds_unauthorized');
    res.writeHead(401);
    return res.end();
  }
  const role = req.url.slice(base.length);
  if (role === '') {
    count('imds_role');
    if (config.imds_role_status !== 200) {
      res.writeHead(config.imds_role_status);
      return res.end('<html>Not Found</html>');
    }
    res.writeHead(200);
    return res.end('fake-role\n');
  }
  if (role !== 'fake-role') {
    res.writeHead(404);
    return res.end();
  }
  count('imds_creds');
  const n = ++serial;
  const doc = JSON.stringify({
    Code: 'Success', LastUpdated: new Date().toISOString(), Type: 'AWS-HMAC',
    AccessKeyId: 'ASIAIMDS' + n, SecretAccessKey: 'ImdsSecret' + n,
    Token: 'ImdsToken' + n, Expiration: expiration(),
  });
  setTimeout(() => {
    res.writeHead(200, {'content-type': 'text/plain'});
    res.end(doc);
  }, config.imds_creds_delay_ms);
}

// ---- Container ----

function container(req, res) {
  count('container');
  if (req.headers['authorization'] !== config.container_token) {
    count('container_unauthorized');
    res.writeHead(401, {'content-type': 'application/json'});
    return res.end('{"code":"AccessDenied","message":"bad token"}');
  }
  const n = ++serial;
  res.writeHead(200, {'content-type': 'application/json'});
  res.end(JSON.stringify({
    AccessKeyId: 'ASIACONT' + n, SecretAccessKey: 'ContainerSecret' + n,
    Token: 'ContainerToken' + n, Expiration: expiration(),
  }));
}

// ---- Start ----

const handlers = {sts, imds, container};
const ports = {};
const servers = [];
let pending = Object.keys(handlers).length;

for (const [name, handle] of Object.entries(handlers)) {
  const server = http.createServer((req, res) => {
    readBody(req, (body) => {
      try {
        if (!control(req, res, body)) handle(req, res, body);
      } catch (e) {
        res.writeHead(500);
        res.end(String(e));
      }
    });
  });
  server.keepAliveTimeout = 5000;
  servers.push(server);
  server.listen(0, '127.0.0.1', () => {
    ports[name] = server.address().port;
    if (--pending === 0) {
      fs.writeFileSync(process.argv[2] + '.tmp', JSON.stringify(ports));
      fs.renameSync(process.argv[2] + '.tmp', process.argv[2]);
    }
  });
}

function stop() {
  for (const s of servers) s.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
