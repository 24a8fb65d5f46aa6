// The two ways a request reaches the WebAssembly verifier give the same outcome: the buffer path
// (one string encoded into the verifier's buffer, numbers across the boundary; what
// `verifyRequest` uses for ASCII requests) and the string path (`verifyParts`, four strings in,
// one string out; non-ASCII requests). Also: buffer growth past its initial size and past a
// WebAssembly memory growth, rewritten forwarded URIs, and every rejection code name.
//
// Needs edge-wasm/pkg (scripts/build-edge.sh) and the smd-cli binary (SMD_CLI or
// target/debug/smd-cli) to sign the tokens.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = path.resolve(import.meta.dirname, '../../..');
const cli = process.env.SMD_CLI || path.join(root, 'target/debug/smd-cli');
const pkgDir = path.join(root, 'edge-wasm/pkg');
const { createVerifier } = require(path.join(pkgDir, 'smd-edge.js'));
const { Verifier, linearMemory, rejectionCodes } = require(path.join(pkgDir, 'edge_wasm.js'));

const KID = 'paths-test-kid';
const KEY = 'a key of at least thirty-two bytes, for the path test';
const NOW = 1700000000;
const UA = 'Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/120.0';
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'smd-edge-paths-'));
process.on('exit', () => fs.rmSync(scratch, { recursive: true, force: true }));
const keysFile = path.join(scratch, 'keys.json');
fs.writeFileSync(keysFile, JSON.stringify({ primary: { [KID]: KEY } }));

function sign(args) {
  return execFileSync(cli, ['sign', '--keys', keysFile, '--now', String(NOW), ...args], { encoding: 'utf8' }).trim();
}
const bound = sign(['--url', '/out/v1/index.m3u8', '--session-id', 'abcDEF123456', '--bind-header', 'user-agent',
  '-H', `user-agent: ${UA}`, '--path', '/out/', '--path', 'x/out/', '--exclude', '/out/ads/', '--ttl', '1h']);
const ipBound = sign(['--url', '/out/v1/index.m3u8', '--bind-ip', '2001:db8::1', '--path', '/out/', '--ttl', '1h']);
const segment = bound.split('/')[1];

function request(uri, { ip = '198.51.100.7', headers = { 'user-agent': UA }, qs = '' } = {}) {
  const h = {};
  for (const [name, value] of Object.entries(headers)) h[name] = [{ key: name, value }];
  return { clientIp: ip, method: 'GET', uri, querystring: qs, headers: h };
}

/** The string path's outcome for the same request, built the way the handler flattens it. */
function viaStrings(inner, req, nowMs) {
  const headers = Object.entries(req.headers).map(([k, v]) => `${k}\0${v[0].value}`).join('\0');
  const answer = inner.verifyParts(req.uri, req.clientIp, req.querystring, headers, nowMs);
  if (answer[0] === '+') return { ok: true, uri: answer.slice(1) };
  const code = answer.slice(1);
  return { ok: false, code, status: code === 'revoked' ? 403 : 401 };
}

const cases = [
  ['accepted', request(bound)],
  ['accepted, query string', request(bound, { qs: 'CMCD=bl%3D21300&x=1' })],
  ['excluded path', request(bound.replace('/out/v1/', '/out/ads/'))],
  ['path not allowed', request(bound.replace('/out/v1/', '/other/'))],
  ['binding mismatch', request(bound, { headers: { 'user-agent': 'curl/8' } })],
  ['no headers', request(bound, { headers: {} })],
  ['expired', request(bound), (NOW + 7200) * 1000],
  ['bad signature', request(bound.replace(/.(\/out)/, 'A$1'))],
  ['no token', request('/out/v1/index.m3u8')],
  ['path escape', request(`${bound.split('/out/')[0]}/out/../secret`)],
  ['IPv6 bound, compressed', request(ipBound, { ip: '2001:db8::1', headers: {} })],
  ['IPv6 bound, other address', request(ipBound, { ip: '2001:db8::2', headers: {} })],
  ['URI not rooted at /: forwarded URI rewritten', request(`x${bound}`)],
  ['non-ASCII unbound header (string path)', request(bound, { headers: { 'user-agent': UA, 'x-note': 'café ☕' } })],
  ['non-ASCII in the URI (string path)', request(`${bound}é`)],
  ['huge URI grows the buffer', request(`${bound}/${'a'.repeat(300_000)}`)],
  ['huge header block grows the buffer', request(bound, { headers: { 'user-agent': UA, 'x-pad': 'p'.repeat(70_000) } })],
  ['over the buffered limit (string path)', request(`/${segment}/${'b'.repeat(1_100_000)}`)],
];

for (const profile of ['strict', 'smd-compat']) {
  test(`buffer path and string path agree (${profile})`, () => {
    const edge = createVerifier({ keys: { primary: { [KID]: KEY } }, profile });
    const inner = new Verifier(JSON.stringify({ primary: { [KID]: KEY } }), { profile }, undefined);
    const outcomes = new Set();
    for (const [name, req, nowMs = NOW * 1000] of cases) {
      const want = viaStrings(inner, req, nowMs);
      assert.deepEqual(edge.verifyRequest(req, nowMs), want, `${profile}: ${name}`);
      outcomes.add(want.ok ? 'ok' : want.code);
    }
    // The cases really cover accepts and several distinct rejections in both profiles.
    assert.ok(outcomes.has('ok') && outcomes.size >= 4, [...outcomes].join(','));
    edge.free();
    inner.free();
  });
}

test('the first accepted case forwards the URI without its token segment', () => {
  const edge = createVerifier({ keys: { primary: { [KID]: KEY } } });
  assert.deepEqual(edge.verifyRequest(request(bound), NOW * 1000), { ok: true, uri: '/out/v1/index.m3u8' });
  assert.deepEqual(edge.verifyRequest(request(`x${bound}`), NOW * 1000), { ok: true, uri: 'x/out/v1/index.m3u8' });
  edge.free();
});

test('requests keep verifying after WebAssembly memory grows under the buffer view', () => {
  const edge = createVerifier({ keys: { primary: { [KID]: KEY } } });
  const small = request(bound);
  assert.equal(edge.verifyRequest(small, NOW * 1000).ok, true);
  // Growing linear memory detaches every view of it, the verifier's included.
  const memory = linearMemory();
  const before = memory.buffer;
  memory.grow(1);
  assert.equal(before.byteLength, 0, 'the old buffer is detached');
  assert.deepEqual(edge.verifyRequest(small, NOW * 1000), { ok: true, uri: '/out/v1/index.m3u8' });
  memory.grow(1);
  assert.deepEqual(edge.verifyRequest(request(`x${bound}`), NOW * 1000), { ok: true, uri: 'x/out/v1/index.m3u8' });
  edge.free();
});

test('rejection codes are the ones token-core documents', () => {
  assert.deepEqual(rejectionCodes().split(','), [
    'malformed', 'too_large', 'unknown_kid', 'bad_signature', 'expired', 'not_yet_valid',
    'path_not_allowed', 'ip_mismatch', 'binding_mismatch', 'revoked', 'path_escape',
  ]);
});
