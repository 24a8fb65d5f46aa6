// Writes inputs.json: realistic CMCD v1 query payloads (as hls.js / dash.js send them on segment,
// init and manifest requests) and v2 header sets (as CTA-5004-B §8 shows them), from a fixed
// seed so the file is reproducible. Run: node gen_inputs.mjs > inputs.json
let seed = 0x5eed;
const rand = (n) => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return (seed >>> 16) % n;
};
const pick = (xs) => xs[rand(xs.length)];
const hex = (n) => Array.from({ length: n }, () => '0123456789abcdef'[rand(16)]).join('');
const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;
const enc = (s) => encodeURIComponent(s);

const sessions = Array.from({ length: 6 }, () => ({ sid: uuid(), cid: hex(32), sf: pick(['d', 'h']), st: pick(['v', 'l']) }));
const ladder = [400, 800, 1600, 3200, 6000];

const query = [];
for (let i = 0; i < 60; i++) {
  const s = pick(sessions);
  const ot = pick(['v', 'v', 'v', 'a', 'i', 'm']);
  const br = ot === 'a' ? 128 : pick(ladder);
  const seg = 1 + rand(500);
  const kv = [];
  if (ot !== 'm') kv.push(`bl=${rand(300) * 100}`);
  if (ot !== 'm') kv.push(`br=${br}`);
  if (rand(10) === 0) kv.push('bs');
  kv.push(`cid="${s.cid}"`);
  if (ot === 'v' || ot === 'a') kv.push(`d=${pick([2000, 4000, 4004, 6006])}`);
  if (ot !== 'm') kv.push(`dl=${rand(300) * 100}`);
  kv.push(`mtp=${(50 + rand(800)) * 100}`);
  if (ot === 'v' || ot === 'a') kv.push(`nor="${enc(`../${br}kbps/seg_${seg + 1}.m4${ot}`)}"`);
  kv.push(`ot=${ot}`);
  if (rand(8) === 0) kv.push(`pr=${pick(['1.25', '1.5', '0.5', '2'])}`);
  if (rand(3) === 0) kv.push(`rtp=${(20 + rand(400)) * 100}`);
  kv.push(`sf=${s.sf}`, `sid="${s.sid}"`, `st=${s.st}`);
  if (rand(6) === 0) kv.push('su');
  if (ot !== 'm') kv.push(`tb=${ot === 'a' ? 128 : 6000}`);
  query.push(`CMCD=${enc(kv.join(','))}`);
}

const headers = [];
for (let i = 0; i < 60; i++) {
  const s = pick(sessions);
  const ot = pick(['v', 'v', 'a', 'i']);
  const vbr = pick(ladder);
  const object = [`br=(${ot === 'a' ? '128;a' : `${vbr};v`})`];
  if (ot !== 'i') object.push(`d=${pick([2000, 4000])}`);
  object.push(`ot=${ot}`, `tb=(6000;v 128;a)`);
  const request = [`bl=(${rand(300) * 100};v ${rand(300) * 100};a)`, `dl=${rand(300) * 100}`, `mtp=(${(50 + rand(800)) * 100})`];
  request.push(`nor=("seg_${2 + rand(500)}.m4${ot === 'a' ? 'a' : 'v'}")`, `sn=${rand(2000)}`, `sta=${pick(['p', 'p', 'p', 's', 'r'])}`);
  if (rand(6) === 0) request.push('su');
  const status = [`rtp=${(20 + rand(400)) * 100}`];
  if (rand(10) === 0) status.unshift('bs');
  if (rand(5) === 0) status.push(`pt=${rand(3600000)}`);
  const session = [`cid="${s.cid}"`, `sf=${s.sf}`, `sid="${s.sid}"`, `st=${s.st}`, 'v=2'];
  headers.push({
    'CMCD-Object': object.join(','),
    'CMCD-Request': request.join(','),
    'CMCD-Session': session.join(','),
    'CMCD-Status': status.join(','),
  });
}

process.stdout.write(JSON.stringify({ query, headers }, null, 1) + '\n');
