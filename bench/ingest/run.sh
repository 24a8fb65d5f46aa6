#!/usr/bin/env bash
# Ingest benchmark: one generated 1 M-line file, three contenders alternating for REPEAT rounds
# (default 3), CPU time and peak RSS each (GNU time), best round per contender. Then the memory
# check: 10 M lines through `ingest file` from a pipe.
# Usage: bench/ingest/run.sh [WORKDIR]   (from the repository root). Without WORKDIR the files go
# to a temporary directory removed at the end. Builds smd-cli in release and installs the Python
# packages of bench/ingest/requirements.txt into .venv. SMD_CLI=PATH measures that smd-cli binary
# instead of building one (for instance a release build with
# `--no-default-features --features ingest`, which compiles the same ingest path without the AWS SDK,
# or the PGO build of scripts/build-pgo.sh). SMD_CLI_OTHER=PATH adds a fourth contender,
# `ours_other`, measured right after `ours` in every round (two builds of the same code compared
# in one run, for instance PGO against the plain release build).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ -n "${1:-}" ]; then
  WORK=$1   # kept: the generated files can be reused and inspected
  mkdir -p "$WORK"
else
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi
CLI="${SMD_CLI:-$PWD/target/release/smd-cli}"
PY="$PWD/.venv/bin/python"
export POLARS_MAX_THREADS=1   # lines/s per core: one thread for polars in every contender

if [ -z "${SMD_CLI:-}" ]; then cargo build --release -p smd-cli --locked; fi
"$PY" -m pip install --quiet -r bench/ingest/requirements.txt

"$CLI" logs generate --sessions 700 --minutes 90 --seed 42 --lines 1000000 --out "$WORK/1m.log" > /dev/null
FIELDS=$("$CLI" --json logs generate --sessions 1 --minutes 1 --out /dev/null | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["fields"])')
ls -l "$WORK/1m.log"

LINES=$(wc -l < "$WORK/1m.log")
REPEAT=${REPEAT:-3}   # rounds; each round runs every contender once; the best round counts
echo "$LINES lines; $REPEAT rounds, contenders alternating; lines/s/core = lines / (user + system CPU)"

measure() { # name, command...
  local name=$1; shift
  /usr/bin/time -v "$@" > "$WORK/$name.out" 2> "$WORK/$name.time"
  local user sys wall rss
  user=$(awk -F': ' '/User time/ {print $2}' "$WORK/$name.time")
  sys=$(awk -F': ' '/System time/ {print $2}' "$WORK/$name.time")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$WORK/$name.time")
  rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$WORK/$name.time")
  "$PY" -c "u,s=$user,$sys; print(f'$name: cpu {u+s:.2f} s (wall $wall), {$LINES/(u+s):,.0f} lines/s/core, peak RSS {$rss/1024:.0f} MiB')" \
    | tee -a "$WORK/rounds.txt"
}

: > "$WORK/rounds.txt"
for round in $(seq "$REPEAT"); do
  echo "round $round"
  rm -rf "$WORK/lake" "$WORK/pylake"
  measure ours "$CLI" ingest file --input "$WORK/1m.log" --fields "$FIELDS" --out "$WORK/lake"
  if [ -n "${SMD_CLI_OTHER:-}" ]; then
    rm -rf "$WORK/lake_other"
    measure ours_other "$SMD_CLI_OTHER" ingest file --input "$WORK/1m.log" --fields "$FIELDS" --out "$WORK/lake_other"
  fi
  measure python_baseline "$PY" bench/ingest/baseline.py "$WORK/1m.log" "$FIELDS" "$WORK/pylake"
  measure polars_bare_read "$PY" bench/ingest/polars_bare.py "$WORK/1m.log"
done
"$PY" - "$WORK/rounds.txt" <<'PY'
import re, sys
rounds = []  # one {contender: CPU s} per round, in the order measured
for line in open(sys.argv[1]):
    name, cpu = re.match(r"(\w+): cpu ([\d.]+)", line).groups()
    if not rounds or name in rounds[-1]:
        rounds.append({})
    rounds[-1][name] = float(cpu)
best = {name: min(r[name] for r in rounds if name in r) for name in rounds[0]}
ours = best["ours"]
print(f"best of rounds, CPU s: {best}")
print(f"ours vs python_baseline: {best['python_baseline'] / ours:.2f}x faster (target >= 20x)")
print(f"ours vs polars_bare_read: {ours / best['polars_bare_read']:.2f}x slower (target <= 2x)")
if "ours_other" in best:
    other = best["ours_other"]
    print(f"ours_other vs python_baseline: {best['python_baseline'] / other:.2f}x faster")
    print(f"ours vs ours_other: {other / ours:.3f}x (ours_other CPU / ours CPU)")
# Per round: how the ratios move with this machine's noise.
full = [r for r in rounds if len(r) == len(best)]
print("per round, baseline / ours:", ", ".join(f"{r['python_baseline'] / r['ours']:.2f}" for r in full))
print("per round, ours / polars:", ", ".join(f"{r['ours'] / r['polars_bare_read']:.2f}" for r in full))
PY

if [ "${SKIP_10M:-0}" != 1 ]; then
  rm -rf "$WORK/lake10"
  "$CLI" logs generate --sessions 7000 --minutes 90 --seed 43 --lines 10000000 --out - \
    | /usr/bin/time -v "$CLI" ingest file --input - --fields "$FIELDS" --out "$WORK/lake10" > "$WORK/10m.out" 2> "$WORK/10m.time"
  cat "$WORK/10m.out"
  grep -E 'Maximum resident set size|Elapsed' "$WORK/10m.time"
fi
