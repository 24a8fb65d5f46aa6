#!/usr/bin/env bash
# Consumer throughput against kinesalite, with its peer measured in the same run.
# Usage: bench/kinesis/run.sh [LINES] [SHARDS] [PROFILE]   (defaults: 100000 4 debug)
#   PROFILE debug uses target/debug/smd-cli; release builds and uses target/release/smd-cli.
# Starts kinesalite on 127.0.0.1 through scripts/emulators.sh, puts LINES generated lines on a
# SHARDS-shard stream, then
#   1. bare_reader.py: boto3 GetRecords over every shard, records dropped (what kinesalite serves);
#   2. smd-cli ingest kinesis into a local lake directory with file:// checkpoints, under
#      /usr/bin/time -v (CPU time and peak RSS), until idle.
# Prints records/s of both, the ratio, CPU µs per record and peak RSS of the consumer.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
lines=${1:-100000}
shards=${2:-4}
profile=${3:-debug}
if [ "$profile" = release ]; then cargo build -p smd-cli --release --locked; fi
cli="$repo/target/$profile/smd-cli"
work=$(mktemp -d "${TMPDIR:-/tmp}/smd-kbench.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$cli" logs generate --sessions 400 --minutes 60 --seed 5 --bad-every 0 --lines "$lines" --out "$work/lines.log" >/dev/null
export work cli shards lines
scripts/emulators.sh --only kinesalite -- bash -c '
  set -euo pipefail
  py=.venv/bin/python
  $py bench/kinesis/put.py "$KINESALITE_ENDPOINT" bench "$shards" "$work/lines.log"
  bare=$($py bench/kinesis/bare_reader.py "$KINESALITE_ENDPOINT" bench)
  start=$(date +%s.%N)
  /usr/bin/time -v -o "$work/time.txt" "$cli" --json ingest kinesis --stream bench --endpoint "$KINESALITE_ENDPOINT" \
    --out "$work/lake" --checkpoints "file://$work/cp.json" --flush-interval 2 --list-interval 5 \
    --progress-interval 60 --exit-when-idle 3 > "$work/final.json" 2> "$work/consumer.log"
  end=$(date +%s.%N)
  $py - "$bare" "$work/final.json" "$work/time.txt" "$start" "$end" "$lines" "$shards" <<"PY"
import json, re, sys
bare = json.loads(sys.argv[1])
final = [json.loads(l) for l in open(sys.argv[2]) if l.startswith("{")][-1]
t = open(sys.argv[3]).read()
cpu = float(re.search(r"User time \(seconds\): ([\d.]+)", t).group(1)) + float(re.search(r"System time \(seconds\): ([\d.]+)", t).group(1))
rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1))
wall = float(sys.argv[5]) - float(sys.argv[4])
idle = 3.0
n = final["records"]
busy = max(wall - idle, 1e-6)
print(json.dumps({
    "lines": int(sys.argv[6]), "shards": int(sys.argv[7]), "records": n,
    "bare_reader_records_per_s": bare["records_per_s"],
    "consumer_records_per_s": round(n / busy), "ratio_consumer_to_bare": round(n / busy / bare["records_per_s"], 2),
    "consumer_wall_s_without_idle": round(busy, 2), "cpu_s": cpu, "cpu_us_per_record": round(cpu / n * 1e6, 1),
    "peak_rss_mib": round(rss / 1024, 1)}, indent=1))
PY
'
