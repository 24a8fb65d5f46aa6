#!/usr/bin/env bash
# Decodes bench/cmcd/inputs.json with token-core (criterion, release) and with the SVTA
# JavaScript library (@svta/cml-cmcd, Node), alternating the two for ROUNDS rounds (default 3)
# so that both see the same machine conditions, and prints the best round of each, their ratio,
# and the median of the per-round ratios.
# Usage: bench/cmcd/run.sh            (from anywhere inside the repository)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
rounds="${ROUNDS:-3}"
cd "$root"

(cd "$here" && npm ci --silent --no-audit --no-fund >/dev/null)
cargo bench -p token-core --bench cmcd --no-run >&2
target_dir="$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')"
out="$target_dir/cmcd-bench"
mkdir -p "$out"

for round in $(seq 1 "$rounds"); do
  cargo bench -p token-core --bench cmcd -- --noplot --warm-up-time 2 --measurement-time 4 cmcd_decode >&2
  for key in v1_query v2_headers; do
    cp "$target_dir/criterion/cmcd_decode/${key}_payloads/new/estimates.json" "$out/rust-$key-$round.json"
  done
  node "$here/cml_decode.mjs" > "$out/cml-$round.json"
done

OUT="$out" ROUNDS="$rounds" INPUTS="$here/inputs.json" node --input-type=module -e '
import { readFileSync } from "node:fs";
import { cpus } from "node:os";
const read = (p) => JSON.parse(readFileSync(p, "utf8"));
const { OUT, ROUNDS } = process.env;
const inputs = read(process.env.INPUTS);
const rounds = [...Array(Number(ROUNDS)).keys()].map((i) => i + 1);
const cml = rounds.map((r) => read(`${OUT}/cml-${r}.json`));
console.log(`machine: ${cpus().length} cores, ${cpus()[0].model}; node ${cml[0].node}; ${cml[0].library} ${cml[0].version}; best of ${ROUNDS} alternating rounds`);
console.log("| input (60 each) | token-core MB/s | token-core payloads/s | cml-cmcd MB/s | cml-cmcd payloads/s | ratio, best vs best | ratio, median of rounds |");
console.log("|---|---:|---:|---:|---:|---:|---:|");
const f = (x) => Math.round(x).toLocaleString("en-US");
for (const [label, key, n] of [["v1 query payloads", "v1_query", inputs.query.length], ["v2 header sets", "v2_headers", inputs.headers.length]]) {
  const oursNs = Math.min(...rounds.map((r) => read(`${OUT}/rust-${key}-${r}.json`).median.point_estimate));
  const theirsNs = Math.min(...cml.map((c) => c[key].ns_per_pass));
  const bytes = cml[0][key].bytes;
  const perRound = rounds.map((r, i) => cml[i][key].ns_per_pass / read(`${OUT}/rust-${key}-${r}.json`).median.point_estimate);
  const sorted = [...perRound].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  console.log(`| ${label} | ${f((bytes * 1e3) / oursNs)} | ${f((n * 1e9) / oursNs)} | ${f((bytes * 1e3) / theirsNs)} | ${f((n * 1e9) / theirsNs)} | ${(theirsNs / oursNs).toFixed(1)}x | ${median.toFixed(1)}x (${perRound.map((x) => x.toFixed(1)).join(", ")}) |`);
}
'
