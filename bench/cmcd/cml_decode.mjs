// Times @svta/cml-cmcd's decoders on bench/cmcd/inputs.json — the same inputs token-core's
// criterion bench (`cargo bench -p token-core --bench cmcd`) decodes — and prints one JSON
// object: nanoseconds per pass over each input set, payloads/s and MB/s.
import { readFileSync } from 'node:fs';
import { fromCmcdHeaders, fromCmcdQuery } from '@svta/cml-cmcd';

const inputs = JSON.parse(readFileSync(new URL('./inputs.json', import.meta.url), 'utf8'));
const headerBytes = (h) => Object.entries(h).reduce((n, [k, v]) => n + k.length + v.length, 0);

const sets = {
  v1_query: { items: inputs.query, bytes: inputs.query.reduce((n, q) => n + q.length, 0), run: (q) => fromCmcdQuery(q) },
  v2_headers: { items: inputs.headers, bytes: inputs.headers.reduce((n, h) => n + headerBytes(h), 0), run: (h) => fromCmcdHeaders(h) },
};

let sink = 0;
function pass(set) {
  for (const item of set.items) sink += Object.keys(set.run(item)).length;
}

function measure(set) {
  // Warm up until the JIT settles, then take the median of timed samples of ~200 ms.
  const warmEnd = process.hrtime.bigint() + 2_000_000_000n;
  let passesPerSample = 0;
  while (process.hrtime.bigint() < warmEnd) {
    pass(set);
    passesPerSample++;
  }
  passesPerSample = Math.max(1, Math.round(passesPerSample / 10));
  const samples = [];
  for (let s = 0; s < 25; s++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < passesPerSample; i++) pass(set);
    samples.push(Number(process.hrtime.bigint() - t0) / passesPerSample);
  }
  samples.sort((a, b) => a - b);
  const nsPerPass = samples[Math.floor(samples.length / 2)];
  return {
    payloads: set.items.length,
    bytes: set.bytes,
    ns_per_pass: nsPerPass,
    payloads_per_s: (set.items.length * 1e9) / nsPerPass,
    mb_per_s: (set.bytes * 1e3) / nsPerPass,
  };
}

const result = { library: '@svta/cml-cmcd', version: JSON.parse(readFileSync(new URL('./node_modules/@svta/cml-cmcd/package.json', import.meta.url), 'utf8')).version, node: process.version };
for (const [name, set] of Object.entries(sets)) result[name] = measure(set);
if (sink === 0) throw new Error('decoders returned nothing');
process.stdout.write(JSON.stringify(result, null, 2) + '\n');
