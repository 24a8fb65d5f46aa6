// One run, same tokens: the edge package's WebAssembly verifier (token-core) against fast-jwt and
// jsonwebtoken (npm) doing HS256 verify plus the same path and intsig checks in plain JS.
// Measures cold start (load + construct, in fresh processes) and warm per-request cost.
// Environment: ROUNDS (default 15), ROUND_MS (default 100), JSON_OUT (write the results there),
// EDGE_PKG (another built package directory to measure instead of edge-wasm/pkg, e.g. an older build).
//
// Usage: scripts/build-edge.sh && cargo build -p smd-cli && (cd bench/edge && npm ci) && node bench/edge/bench.mjs
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const root = path.resolve(import.meta.dirname, '../..');
const cli = process.env.SMD_CLI || path.join(root, 'target/debug/smd-cli');
const pkgDir = process.env.EDGE_PKG ? path.resolve(process.env.EDGE_PKG) : path.join(root, 'edge-wasm/pkg');

const KID = '2024111_4f2a9c0e7b13d58a6e21';
const KEY = '9c3b1f5e2d4a6b8c0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9';
const UA = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15';
const REFERER = 'https://player.example.com/watch/live-1';
const NOW = 1700000000;

// The realistic SMD token of the Rust bench: session + user-agent + referer, two paths, an exclusion.
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'smd-edge-bench-'));
const keysFile = path.join(dir, 'keys.json');
fs.writeFileSync(keysFile, JSON.stringify({ primary: { [KID]: KEY } }));
const signed = execFileSync(cli, [
  'sign', '--keys', keysFile, '--now', String(NOW), '--url', '/out/v1/8c0f6e2b4d1a4f3e9b7c5a2d1e0f9a8b/index_1_00042.ts',
  '--session-id', 'Q7fZ2kP9xLm4', '--bind-header', 'user-agent', '--bind-header', 'referer', '-H', `user-agent: ${UA}`, '-H', `referer: ${REFERER}`,
  '--path', '/out/v1/8c0f6e2b4d1a4f3e9b7c5a2d1e0f9a8b/', '--path', '/v1/master/1a2b3c/live-1/', '--exclude', '/ads/', '--nbf', '1645000000', '--ttl', '6h',
], { encoding: 'utf8' }).trim();
fs.rmSync(dir, { recursive: true, force: true });

const request = {
  clientIp: '198.51.100.7', method: 'GET', uri: signed, querystring: '',
  headers: {
    host: [{ key: 'Host', value: 'd111.cloudfront.net' }], 'user-agent': [{ key: 'User-Agent', value: UA }],
    referer: [{ key: 'Referer', value: REFERER }], accept: [{ key: 'Accept', value: '*/*' }],
  },
};

// The checks SMD's edge makes after the JWT verifies, in plain JS (what a JS edge would run).
function smdChecks(claims, sid, uri, headers) {
  const nowMs = NOW * 1000;
  if (!claims.exp || nowMs > claims.exp * 1000) return 'expired';
  if (claims.nbf && nowMs < claims.nbf * 1000) return 'not_yet_valid';
  for (const p of claims.exc) if (uri.startsWith(p)) return null;
  if (!claims.paths.some((p) => uri.startsWith(p))) return 'path_not_allowed';
  if (claims.intsig) {
    const parts = [];
    if (claims.ssn) parts.push(sid);
    for (const h of claims.headers) if (headers[h]) parts.push(headers[h][0].value);
    const mac = crypto.createHmac('sha256', KEY).update(parts.join(':')).digest();
    const given = Buffer.from(claims.intsig, 'base64url');
    if (given.length !== mac.length || !crypto.timingSafeEqual(given, mac)) return 'binding_mismatch';
  }
  return null;
}
function splitToken(uri) {
  const end = uri.indexOf('/', 1);
  const segment = uri.slice(1, end);
  const parts = segment.split('.');
  return parts.length === 4 ? { sid: parts[0], jwt: parts.slice(1).join('.'), rest: uri.slice(end) } : { sid: undefined, jwt: segment, rest: uri.slice(end) };
}

function makePeers() {
  const { createVerifier } = require(path.join(pkgDir, 'smd-edge.js'));
  const wasm = createVerifier({ keys: { primary: { [KID]: KEY } }, profile: 'strict' });
  const fastJwt = require('fast-jwt');
  const fastVerify = fastJwt.createVerifier({ key: KEY, algorithms: ['HS256'], cache: false, clockTimestamp: NOW * 1000 });
  const jsonwebtoken = require('jsonwebtoken');
  return {
    'token-core (wasm)': () => {
      const out = wasm.verifyRequest(request, NOW * 1000);
      if (!out.ok) throw new Error(out.code);
      return out.uri;
    },
    'fast-jwt + JS checks': () => {
      const t = splitToken(request.uri);
      const code = smdChecks(fastVerify(t.jwt), t.sid, t.rest, request.headers);
      if (code) throw new Error(code);
      return t.rest;
    },
    'jsonwebtoken + JS checks': () => {
      const t = splitToken(request.uri);
      const claims = jsonwebtoken.verify(t.jwt, KEY, { algorithms: ['HS256'], clockTimestamp: NOW });
      const code = smdChecks(claims, t.sid, t.rest, request.headers);
      if (code) throw new Error(code);
      return t.rest;
    },
  };
}

// Warm: every peer warms up (5000 calls, then 500 timed ones that size its rounds), then the peers
// take turns, ROUNDS rounds of about ROUND_MS each, so that all of them see the same machine
// conditions. A round's figure is the CPU time of this Node process (user + system, all its
// threads, so garbage collection counts) per call: on a shared machine, wall-clock time also
// counts the moments the process waits for a core, which made single rounds vary by half.
// Each peer's figure is its median round; the ratio is the median of the per-round ratios to the
// fastest JS peer. Wall-clock figures are kept too (JSON_OUT, and the last column).
const ROUNDS = Number(process.env.ROUNDS || 40);
const ROUND_MS = Number(process.env.ROUND_MS || 30);
function warm(fns) {
  const sizes = fns.map((fn) => {
    for (let i = 0; i < 5000; i++) fn();
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 500; i++) fn();
    const usPerCall = Number(process.hrtime.bigint() - t0) / 500 / 1000;
    return Math.max(30, Math.round((ROUND_MS * 1000) / usPerCall));
  });
  const rounds = [];
  const wall = [];
  for (let round = 0; round < ROUNDS; round++) {
    const cpu = [];
    const clock = [];
    fns.forEach((fn, k) => {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < sizes[k]; i++) fn();
      const t1 = process.hrtime.bigint();
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / sizes[k]);
      clock.push(Number(t1 - t0) / sizes[k] / 1000);
    });
    rounds.push(cpu);
    wall.push(clock);
  }
  return { rounds, wall, sizes };
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const COLD = {
  'token-core (wasm)': `require(${JSON.stringify(path.join(pkgDir, 'smd-edge.js'))}).createVerifier({keys:{primary:{${JSON.stringify(KID)}:${JSON.stringify(KEY)}}}});`,
  'fast-jwt + JS checks': `require('fast-jwt').createVerifier({key:${JSON.stringify(KEY)},algorithms:['HS256']});`,
  'jsonwebtoken + JS checks': `require('jsonwebtoken');`,
};
function cold(name) {
  const script = `const t0=process.hrtime.bigint();${COLD[name]}console.log(Number(process.hrtime.bigint()-t0)/1e6);`;
  const runs = Array.from({ length: 7 }, () => Number(execFileSync(process.execPath, ['-e', script], { cwd: import.meta.dirname, encoding: 'utf8' })));
  runs.sort((a, b) => a - b);
  return runs[3];
}

const peers = makePeers();
const names = Object.keys(peers);
const expected = peers['token-core (wasm)']();
for (const [name, fn] of Object.entries(peers)) if (fn() !== expected) throw new Error(`${name} disagrees`);
const { rounds, wall, sizes } = warm(Object.values(peers));
const js = names.map((n, i) => (n.startsWith('token-core') ? -1 : i)).filter((i) => i >= 0);
const fastestJsIndex = js.reduce((best, i) => (median(rounds.map((r) => r[i])) < median(rounds.map((r) => r[best])) ? i : best));
const results = names.map((name, i) => ({
  name,
  warm_us: median(rounds.map((r) => r[i])),
  warm_ratio: median(rounds.map((r) => r[i] / r[fastestJsIndex])),
  wall_us: median(wall.map((r) => r[i])),
  wall_ratio: median(wall.map((r) => r[i] / r[fastestJsIndex])),
  cold_ms: cold(name),
}));
const fastestJs = results[fastestJsIndex].warm_us;
console.log(`node ${process.version}, ${os.cpus().length} cores, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, ${ROUNDS} warm rounds of ~${ROUND_MS} ms each (${sizes.join('/')} calls), CPU time, token ${signed.split('/')[1].length} bytes`);
console.log(`${'peer'.padEnd(28)}${'warm µs/call'.padStart(14)}${'vs fastest JS'.padStart(15)}${'cold ms'.padStart(10)}${'vs fastest JS'.padStart(15)}${'wall µs, ratio'.padStart(18)}`);
const fastestCold = Math.min(...results.filter((r) => !r.name.startsWith('token-core')).map((r) => r.cold_ms));
for (const r of results) {
  console.log(`${r.name.padEnd(28)}${r.warm_us.toFixed(2).padStart(14)}${r.warm_ratio.toFixed(2).padStart(14)}×${r.cold_ms.toFixed(1).padStart(10)}${(r.cold_ms / fastestCold).toFixed(2).padStart(14)}×${r.wall_us.toFixed(2).padStart(11)}${r.wall_ratio.toFixed(2).padStart(6)}×`);
}

// Where the wasm peer's time goes: the WebAssembly call alone (request already in the buffer) and
// the JavaScript side alone (flattening the request and encoding it into the buffer), in rounds
// with the whole call.
const split = (() => {
  const { Verifier, linearMemory } = require(path.join(pkgDir, 'edge_wasm.js'));
  if (!linearMemory) return undefined; // a build from before the request buffer
  const inner = new Verifier(JSON.stringify({ primary: { [KID]: KEY } }), { profile: 'strict' }, undefined);
  const encoder = new TextEncoder();
  const flatten = (r) => {
    let headers = '';
    for (const name in r.headers) headers += (headers ? '\0' : '') + name.toLowerCase() + '\0' + r.headers[name][0].value;
    return r.uri + r.clientIp + r.querystring + headers;
  };
  const text = flatten(request);
  const view = new Uint8Array(linearMemory().buffer, inner.requestBuffer(8192), 8192);
  encoder.encodeInto(text, view);
  const wasmOnly = () => inner.verifyBuffer(request.uri.length, request.clientIp.length, request.querystring.length, text.length, NOW * 1000);
  if (wasmOnly() < 0) throw new Error('verifyBuffer rejected the bench request');
  const jsOnly = () => encoder.encodeInto(flatten(request), view).written;
  const { rounds: r } = warm([peers['token-core (wasm)'], wasmOnly, jsOnly]);
  return { whole: median(r.map((x) => x[0])), wasm: median(r.map((x) => x[1])), js: median(r.map((x) => x[2])) };
})();
if (split) console.log(`token-core (wasm) split: whole call ${split.whole.toFixed(2)} µs = WebAssembly verifyBuffer ${split.wasm.toFixed(2)} µs + request encoding in JS ${split.js.toFixed(2)} µs + the rest (outcome object, glue)`);
if (process.env.JSON_OUT) fs.writeFileSync(process.env.JSON_OUT, JSON.stringify({ results, fastestJs, rounds, wall, split, load: os.loadavg() }, null, 2));
