// Replays the SMD conformance vectors as Lambda@Edge viewer-request events through the packaged
// handler (the real zip from `smd-cli edge package`, unzipped), and checks each outcome against
// native token-core (`smd-cli verify --json`) for both profiles. Also: malformed events, missing
// headers, IPv6 clients, huge URIs, revoked sessions, CMCD pass-through, and the size budget.
//
// Needs: edge-wasm/pkg built by scripts/build-edge.sh and the smd-cli binary (SMD_CLI or
// target/debug/smd-cli). scripts/test.sh provides both.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';

const root = path.resolve(import.meta.dirname, '../../..');
const cli = process.env.SMD_CLI || path.join(root, 'target/debug/smd-cli');
const pkgDir = path.join(root, 'edge-wasm/pkg');
const vectors = JSON.parse(fs.readFileSync(path.join(root, 'token-core/testdata/smd/smd_vectors.json'), 'utf8'));
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'smd-edge-test-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));

const [[kid1, key1], [kid2, key2]] = Object.entries(vectors.edge_secrets);
const keysFile = path.join(scratch, 'keys.json');
fs.writeFileSync(keysFile, JSON.stringify({ primary: { [kid1]: key1 }, secondary: { [kid2]: key2 } }));

let packages = 0;
/** Runs `smd-cli edge package`, unzips the result and loads its handler. */
function loadPackage(args = []) {
  const dir = path.join(scratch, `pkg-${packages++}`);
  fs.mkdirSync(dir);
  const zip = path.join(dir, 'edge.zip');
  const report = JSON.parse(
    execFileSync(cli, ['edge', 'package', '--json', '--keys', keysFile, '--pkg', pkgDir, '--out', zip, ...args], { encoding: 'utf8' }),
  );
  execFileSync('python3', ['-m', 'zipfile', '-e', zip, path.join(dir, 'unzipped')]);
  const handler = createRequire(import.meta.url)(path.join(dir, 'unzipped', 'index.js')).handler;
  return { handler, report, zip };
}

/** Runs the handler with Date.now() fixed at `nowSecs`. */
async function invoke(handler, event, nowSecs) {
  const realNow = Date.now;
  Date.now = () => nowSecs * 1000;
  try {
    return await handler(event);
  } finally {
    Date.now = realNow;
  }
}

function urlPath(url) {
  const i = url.indexOf('://');
  if (i < 0) return url;
  const rest = url.slice(i + 3);
  const slash = rest.indexOf('/');
  return slash < 0 ? '/' : rest.slice(slash);
}

/** The vector file's URI placeholders (see each case's `uri_placeholders`). */
function requestUri(testCase, input) {
  const generated = testCase.generated;
  const fullPath = urlPath(generated);
  const segment = generated.includes('://') ? fullPath.slice(1).split('/')[0] : generated;
  const parts = segment.split('.');
  const jwt = parts.length === 4 ? parts.slice(1).join('.') : segment;
  const rest = fullPath.slice(1).includes('/') ? fullPath.slice(1 + fullPath.slice(1).indexOf('/')) : '';
  if (input.uri_from_url) return fullPath;
  if (input.uri === '__NOSID__') return `/${jwt}${rest}`;
  if (input.uri === '__SWAPSID__') return `/zzzZZZ999999.${jwt}${rest}`;
  return input.uri
    .replace('/sess0000001.__TOK3__', `/${generated}`)
    .replace('__REPL__', `/${segment}`)
    .replace('__TOKONLY__', `/${segment}`);
}

function lambdaEdgeEvent({ uri, ip, headers = {}, qs = {} }) {
  const h = {};
  for (const [name, { value }] of Object.entries(headers)) h[name.toLowerCase()] = [{ key: name, value }];
  const querystring = Object.entries(qs).map(([k, { value }]) => `${k}=${value}`).join('&');
  return {
    Records: [{ cf: { config: { eventType: 'viewer-request', requestId: 'test' }, request: { clientIp: ip, method: 'GET', uri, querystring, headers: h } } }],
  };
}

/** Native token-core's verdict for the same request (CloudFront Functions event shape). */
function native(profile, { uri, ip, headers = {}, qs = {} }, now) {
  const eventFile = path.join(scratch, 'cff-event.json');
  fs.writeFileSync(eventFile, JSON.stringify({ viewer: { ip }, request: { method: 'GET', uri, querystring: qs, headers, cookies: {} } }));
  const run = spawnSync(cli, ['verify', '--json', '--keys', keysFile, '--profile', profile, '--event', eventFile, '--now', String(now)], { encoding: 'utf8' });
  assert.ok(run.status === 0 || run.status === 1, run.stderr);
  return JSON.parse(run.stdout);
}

for (const profile of ['smd-compat', 'strict']) {
  test(`every SMD vector request through the packaged handler matches native token-core (${profile})`, async () => {
    const { handler } = loadPackage(['--profile', profile, '--reject-status', '401']);
    let replayed = 0;
    for (const testCase of vectors.cases) {
      for (const req of testCase.requests) {
        const input = { ...req.input, uri: requestUri(testCase, req.input) };
        const want = native(profile, input, req.input.now);
        const got = await invoke(handler, lambdaEdgeEvent(input), req.input.now);
        const label = `${profile} ${testCase.name}/${req.name}`;
        if (want.accepted) {
          assert.equal(got.uri, want.forwarded_uri, label);
          assert.equal(got.status, undefined, label);
        } else {
          assert.equal(got.status, '401', `${label} (${want.code})`);
          assert.equal(got.body, '', label);
        }
        if (profile === 'smd-compat') {
          // And the SMD function's own recorded outcome.
          assert.equal(want.accepted ? 200 : 401, req.expect_status, label);
          assert.equal(want.forwarded_uri, req.expect_forwarded_uri, label);
        }
        replayed++;
      }
    }
    assert.equal(replayed, 25);
  });
}

const caseA = vectors.cases.find((c) => c.name === 'A_ssn_ua_referer');
const validInput = { ...caseA.requests[0].input, uri: requestUri(caseA, caseA.requests[0].input) };

test('malformed events are rejected, never thrown', async () => {
  const { handler } = loadPackage();
  for (const event of [undefined, {}, { Records: [] }, { Records: [{ cf: {} }] }, { Records: [{ cf: { request: 'x' } }] }]) {
    const got = await invoke(handler, event, 1700000000);
    assert.equal(got.status, '403');
  }
  const noUri = lambdaEdgeEvent(validInput);
  delete noUri.Records[0].cf.request.uri;
  assert.equal((await invoke(handler, noUri, 1700000000)).status, '403');
  const weirdHeaders = lambdaEdgeEvent(validInput);
  weirdHeaders.Records[0].cf.request.headers = { 'user-agent': 'not a list', referer: [{}], x: null };
  assert.equal((await invoke(handler, weirdHeaders, 1700000000)).status, '403');
});

test('missing bound headers: strict rejects, smd-compat reproduces the SMD bypass only when all are missing', async () => {
  const strict = loadPackage().handler;
  const compat = loadPackage(['--profile', 'smd-compat']).handler;
  const noHeaders = lambdaEdgeEvent({ ...validInput, headers: {} });
  assert.equal((await invoke(strict, noHeaders, 1700000000)).status, '403');
  // SMD: every bound header gone → empty intsig input → passes (defect D3)… but the session id
  // is also bound in this case, so the input is not empty and SMD rejects too.
  assert.equal((await invoke(compat, noHeaders, 1700000000)).status, '403');
});

test('IPv6 clients: compressed form accepted by strict, rejected by smd-compat (D2)', async () => {
  const caseC = vectors.cases.find((c) => c.name === 'C_ipv6');
  const input = { uri: urlPath(caseC.generated), ip: '2001:db8::1' };
  const strict = await invoke(loadPackage().handler, lambdaEdgeEvent(input), 1700000000);
  assert.equal(strict.uri, '/out/v1/abc/index.m3u8');
  const compat = await invoke(loadPackage(['--profile', 'smd-compat']).handler, lambdaEdgeEvent(input), 1700000000);
  assert.equal(compat.status, '403');
  const expanded = await invoke(loadPackage(['--profile', 'smd-compat']).handler,
    lambdaEdgeEvent({ ...input, ip: '2001:0db8:0000:0000:0000:0000:0000:0001' }), 1700000000);
  assert.equal(expanded.uri, '/out/v1/abc/index.m3u8');
});

test('huge URIs are rejected quickly without crashing the container', async () => {
  const { handler } = loadPackage();
  const segment = validInput.uri.split('/')[1];
  for (const uri of [`/${'A'.repeat(100_000)}/x`, `/${segment}/${'a/'.repeat(50_000)}x`, `/${segment}x`.repeat(2000)]) {
    const started = process.hrtime.bigint();
    const got = await invoke(handler, lambdaEdgeEvent({ ...validInput, uri }), 1700000000);
    assert.equal(got.status, '403');
    assert.ok(process.hrtime.bigint() - started < 50_000_000n, 'under 50 ms');
  }
  // The container still serves valid requests afterwards.
  assert.equal((await invoke(handler, lambdaEdgeEvent(validInput), 1700000000)).uri, '/out/v1/abc/index.m3u8');
});

test('a revoked session gets 403 even when rejections are configured as 401', async () => {
  const revoked = path.join(scratch, 'revoked.json');
  fs.writeFileSync(revoked, JSON.stringify({ revoked: [{ session_id: 'abcDEF123456', expires_at: 1700003600 }] }));
  const { handler, report } = loadPackage(['--revoked', revoked, '--reject-status', '401']);
  assert.equal(report.revoked_sessions, 1);
  const got = await invoke(handler, lambdaEdgeEvent(validInput), 1700000000);
  assert.equal(got.status, '403');
  const other = await invoke(handler, lambdaEdgeEvent({ ...validInput, headers: {} }), 1700000000);
  assert.equal(other.status, '403', 'revocation checked first');
  const later = await invoke(handler, lambdaEdgeEvent(validInput), 1700003601);
  assert.equal(later.uri, '/out/v1/abc/index.m3u8', 'revocation lapsed');
});

test('CMCD query parameters and headers pass through untouched', async () => {
  const { handler } = loadPackage();
  const event = lambdaEdgeEvent(validInput);
  const request = event.Records[0].cf.request;
  request.querystring = 'CMCD=bl%3D21300%2Cbr%3D3200%2Cot%3Dv%2Csid%3D%226e2fb550%22';
  request.headers['cmcd-request'] = [{ key: 'CMCD-Request', value: 'bl=21300,mtp=25400' }];
  request.headers['cmcd-session'] = [{ key: 'CMCD-Session', value: 'sid="6e2fb550",st=v' }];
  const before = JSON.parse(JSON.stringify(request));
  const got = await invoke(handler, event, 1700000000);
  assert.equal(got.uri, '/out/v1/abc/index.m3u8');
  assert.equal(got.querystring, before.querystring);
  assert.deepEqual(got.headers, before.headers);
});

test('package size budget: zip ≤ 1 MB (hard), goal ≤ 150 KB', () => {
  const { report, zip } = loadPackage();
  const wasm = fs.readFileSync(path.join(pkgDir, 'edge_wasm_bg.wasm'));
  const gz = zlib.gzipSync(wasm, { level: 9 }).length;
  console.log(`edge package: zip ${report.zip_bytes} bytes, wasm ${wasm.length} bytes raw, ${gz} gzipped`);
  assert.equal(fs.statSync(zip).size, report.zip_bytes);
  assert.ok(report.zip_bytes <= 1024 * 1024, 'Lambda@Edge viewer-request limit');
  assert.ok(report.zip_bytes <= 150 * 1024, `goal: ${report.zip_bytes} bytes`);
});

test('bad key JSON throws an Error with a code', () => {
  const { Verifier } = createRequire(import.meta.url)(path.join(pkgDir, 'edge_wasm.js'));
  assert.throws(() => new Verifier('{"nope": 1}', undefined, undefined), (err) => err instanceof Error && err.code === 'bad_keys');
  assert.throws(() => new Verifier(JSON.stringify({ primary: { k: 'v' } }), { profile: 'lax' }, undefined), (err) => err.code === 'bad_options');
  const v = new Verifier(JSON.stringify({ primary: { k: 'v' } }), { profile: 'smd-compat' }, undefined);
  assert.equal(v.profile, 'smd-compat');
  assert.deepEqual({ ...v.verifyRequest(42, 0) }, { ok: false, code: 'malformed', status: 401 });
  v.free();
});
