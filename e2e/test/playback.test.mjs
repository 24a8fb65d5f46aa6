// A real player end to end: hls.js (npm) in Debian's Chromium, driven by playwright-core, plays a
// signed HLS stream (real H.264/AAC segments made by ffmpeg) through `smd-cli edge serve`.
// Asserts playback passes 5 s, no media request was rejected, the edge's real-time log holds
// hls.js's CMCD (sid, br, bl, ot), and that an expired token is refused on the first request.
//
// Needs: /usr/bin/chromium and ffmpeg (Debian), this directory's npm packages, and the smd-cli
// binary (SMD_CLI or target/debug/smd-cli). scripts/test.sh installs all of them.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { chromium } from 'playwright-core';

const root = path.resolve(import.meta.dirname, '../..');
const cli = process.env.SMD_CLI || path.join(root, 'target/debug/smd-cli');
const chromiumPath = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'smd-e2e-'));
const USER_AGENT = 'smd-e2e-chromium/1.0';
const SESSION = `e2e-${process.pid}`;

let edge; // child process
let edgeBase;
let pageServer;
let pageBase;
let browser;

function startEdge() {
  return new Promise((resolve, reject) => {
    const child = spawn(cli, [
      'edge', 'serve', '--json', '--listen', '127.0.0.1:0', '--origin', path.join(work, 'media'),
      '--keys', path.join(work, 'keys.json'), '--log', path.join(work, 'edge.log'),
    ], { stdio: ['ignore', 'pipe', 'inherit'] });
    child.on('error', reject);
    readline.createInterface({ input: child.stdout }).once('line', (line) => resolve({ child, base: JSON.parse(line).listening }));
  });
}

function sign(extra = []) {
  return execFileSync(cli, [
    'sign', '--keys', path.join(work, 'keys.json'), '--url', `${edgeBase}/out/v1/master.m3u8`,
    '--session', '--bind-header', 'user-agent', '-H', `user-agent: ${USER_AGENT}`, ...extra,
  ], { encoding: 'utf8' }).trim();
}

before(async () => {
  assert.ok(fs.existsSync(chromiumPath), `Chromium not found at ${chromiumPath}: install Debian's chromium (scripts/test.sh does)`);
  fs.mkdirSync(path.join(work, 'media/out/v1'), { recursive: true });
  // 16 s of test pattern and tone, 2 s segments, baseline H.264 + AAC: real, decodable media.
  execFileSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc=size=640x360:rate=25',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '16',
    '-c:v', 'libx264', '-profile:v', 'baseline', '-pix_fmt', 'yuv420p', '-b:v', '600k', '-g', '50', '-keyint_min', '50', '-sc_threshold', '0',
    '-c:a', 'aac', '-b:a', '64k', '-f', 'hls', '-hls_time', '2', '-hls_playlist_type', 'vod',
    '-master_pl_name', 'master.m3u8',
    '-hls_segment_filename', path.join(work, 'media/out/v1/seg_%03d.ts'), path.join(work, 'media/out/v1/index.m3u8'),
  ]);
  execFileSync(cli, ['keys', 'generate', '--out', path.join(work, 'keys.json')], { stdio: 'ignore' });
  ({ child: edge, base: edgeBase } = await startEdge());

  const hlsJs = fs.readFileSync(path.join(import.meta.dirname, '../node_modules/hls.js/dist/hls.min.js'));
  pageServer = http.createServer((req, res) => {
    if (req.url.startsWith('/hls.min.js')) {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      return res.end(hlsJs);
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<!doctype html><video id="v" muted autoplay playsinline width="320"></video>
<script src="/hls.min.js"></script>
<script>
  window.events = [];
  const src = new URLSearchParams(location.search).get('src');
  const hls = new Hls({ cmcd: { sessionId: ${JSON.stringify(SESSION)}, contentId: 'e2e-content' } });
  hls.on(Hls.Events.ERROR, (_, d) => window.events.push({ type: d.type, details: d.details, fatal: d.fatal, code: d.response && d.response.code }));
  hls.loadSource(src);
  hls.attachMedia(document.getElementById('v'));
  document.getElementById('v').play().catch(() => {});
</script>`);
  });
  await new Promise((r) => pageServer.listen(0, '127.0.0.1', r));
  pageBase = `http://127.0.0.1:${pageServer.address().port}`;
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--autoplay-policy=no-user-gesture-required'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (pageServer) pageServer.close();
  if (edge) {
    edge.kill('SIGTERM');
    await new Promise((r) => edge.once('exit', r));
  }
  fs.rmSync(work, { recursive: true, force: true });
});

async function openPlayer(signedUrl) {
  const context = await browser.newContext({ userAgent: USER_AGENT });
  const page = await context.newPage();
  const responses = [];
  page.on('response', (r) => {
    if (r.url().startsWith(edgeBase)) responses.push({ url: r.url(), status: r.status() });
  });
  await page.goto(`${pageBase}/?src=${encodeURIComponent(signedUrl)}`);
  return { page, context, responses };
}

test('hls.js plays a signed stream through the edge and reports CMCD', async () => {
  const signed = sign(['--ttl', '1h']);
  const { page, context, responses } = await openPlayer(signed);
  await page.waitForFunction(() => document.getElementById('v').currentTime > 5, null, { timeout: 45_000 });
  const events = await page.evaluate(() => window.events);
  await context.close();

  const media = responses.filter((r) => r.url.includes('/out/v1/') && r.url.includes('.ts'));
  assert.ok(media.length >= 3, `segments fetched: ${media.length}`);
  assert.deepEqual(responses.filter((r) => r.status >= 400), [], 'no rejected request');
  assert.deepEqual(events.filter((e) => e.fatal), []);

  // The edge's log: hls.js's CMCD in the cmcd-* fields (canonical positions 47 br, 48 bl,
  // 56 ot, 60 sid).
  edge.kill('SIGTERM');
  await new Promise((r) => edge.once('exit', r));
  try {
    const lines = fs.readFileSync(path.join(work, 'edge.log'), 'utf8').trim().split('\n').map((l) => l.split('\t'));
    const ours = lines.filter((f) => f[59] === SESSION);
    assert.ok(ours.length >= 4, `log lines with hls.js's sid: ${ours.length}`);
    const show = JSON.stringify(ours.slice(0, 3).map((f) => f.slice(46, 64)));
    const segments = ours.filter((f) => f[9].split('?')[0].endsWith('.ts'));
    assert.ok(segments.length >= 3, `segment requests: ${segments.length}`);
    assert.ok(segments.every((f) => Number(f[46]) > 0), `br on every segment request: ${show}`);
    assert.ok(segments.some((f) => /^\d+$/.test(f[47])), `bl reported: ${show}`);
    assert.ok(segments.some((f) => f[55] === 'v' || f[55] === 'av'), `ot=v/av on segments: ${show}`);
    assert.ok(ours.some((f) => f[55] === 'm'), `ot=m on playlists: ${show}`);
    assert.ok(ours.every((f) => f[4] === '200' || f[4] === '206'), 'every request of the session accepted');
  } finally {
    ({ child: edge, base: edgeBase } = await startEdge());
  }
});

test('an expired token is refused on the first request', async () => {
  const expired = sign(['--now', String(Math.floor(Date.now() / 1000) - 7200), '--ttl', '1h']);
  const { page, context, responses } = await openPlayer(expired);
  await page.waitForFunction(() => window.events.some((e) => e.fatal), null, { timeout: 20_000 });
  const events = await page.evaluate(() => window.events);
  await context.close();
  assert.ok(responses.length >= 1);
  assert.ok([401, 403].includes(responses[0].status), `first response ${responses[0].status}`);
  assert.ok(events.some((e) => e.details === 'manifestLoadError'), JSON.stringify(events));
});
