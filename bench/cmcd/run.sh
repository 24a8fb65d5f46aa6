#!/usr/bin/env bash
# Decodes bench/cmcd/inputs.json with token-core (criterion, release) and with the SVTA
# JavaScript library (@svta/cml-cmcd, Node) in the same run, and prints both and their ratio.
# Usage: bench/cmcd/run.sh            (from anywhere inside the repository)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"

(cd "$here" && npm ci --silent --no-audit --no-fund >/dev/null)

cargo bench -p token-core --bench cmcd -- --noplot cmcd_decode >&2
target_dir="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"

node "$here/cml_decode.mjs" > "$target_dir/cml_decode.json"

CRITERION="$target_dir/criterion" CML="$target_dir/cml_decode.json" INPUTS="$here/inputs.json" node --input-type=module -e '
import { readFileSync } from "node:fs";
const read = (p) => JSON.parse(readFileSync(p, "utf8"));
const cml = read(process.env.CML);
const inputs = read(process.env.INPUTS);
const rows = [
  ["v1 query payloads", "v1_query", inputs.query.length],
  ["v2 header sets", "v2_headers", inputs.headers.length],
];
console.log(`machine: ${(await import("node:os")).cpus().length} cores, ${(await import("node:os")).cpus()[0].model}; node ${cml.node}; ${cml.library} ${cml.version}`);
console.log("| input (60 each) | token-core MB/s | token-core payloads/s | cml-cmcd MB/s | cml-cmcd payloads/s | ratio |");
console.log("|---|---:|---:|---:|---:|---:|");
for (const [label, key, n] of rows) {
  const est = read(`${process.env.CRITERION}/cmcd_decode/${key}_payloads/new/estimates.json`);
  const ns = est.median.point_estimate;
  const bytes = cml[key].bytes;
  const ours = { mbps: (bytes * 1e3) / ns, pps: (n * 1e9) / ns };
  const ratio = cml[key].ns_per_pass / ns;
  const f = (x) => x.toLocaleString("en-US", { maximumFractionDigits: 1 });
  console.log(`| ${label} | ${f(ours.mbps)} | ${f(ours.pps)} | ${f(cml[key].mb_per_s)} | ${f(cml[key].payloads_per_s)} | ${ratio.toFixed(1)}x |`);
}
'
