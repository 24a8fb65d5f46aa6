#!/usr/bin/env bash
# Builds smd-cli with profile-guided optimization (PGO) of the ingest path:
#   1. a release build instrumented to count branches and calls (rustc -Cprofile-generate);
#   2. a training run: `logs generate` writes traffic of its own seed and size (not the
#      benchmark's file), and `ingest file` turns it into a lake;
#   3. llvm-profdata merges the counts;
#   4. the release build again, laid out and inlined by those counts (rustc -Cprofile-use).
# The result is the same program: PGO changes code layout, inlining and branch order, never
# behaviour. BENCHMARKS.md measures it against the plain release build.
#
# Usage: scripts/build-pgo.sh [--out DIR] [--features LIST] [--target-cpu CPU]
#   DIR       where the two builds, the profiles and the binary go (default target/pgo); the
#             binary is DIR/smd-cli.
#   LIST      cargo features of smd-cli (default: ingest, the analytics commands without the
#             AWS SDK; the ingest code is the same with every feature set).
#   CPU       the oldest processor the binary must run on, for rustc (-Ctarget-cpu) and for the
#             C of zstd and mimalloc (-march). Default: rustc's baseline for the host (x86-64:
#             SSE2 only), which runs anywhere. x86-64-v3 (AVX2, BMI2, FMA: Intel Haswell, AMD
#             Zen and later) has the features the polars 1.44 wheel is built with;
#             BENCHMARKS.md measures it. A binary built for a level the processor lacks stops
#             with an illegal instruction.
#
# Needs an llvm-profdata that reads this rustc's raw profiles: $LLVM_PROFDATA, else the newest
# /usr/lib/llvm-N/bin/llvm-profdata (Debian: apt-get install llvm-19, which reads the profiles
# of rustc 1.95 / LLVM 22). Two full release builds: about 45 minutes on two cores.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/target/pgo"
features=ingest
cpu=
usage() {
  echo "usage: scripts/build-pgo.sh [--out DIR] [--features LIST] [--target-cpu CPU]" >&2
  exit 2
}
while [ $# -gt 0 ]; do
  case $1 in
    --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
    --features) [ $# -ge 2 ] || usage; features=$2; shift 2 ;;
    --target-cpu) [ $# -ge 2 ] || usage; cpu=$2; shift 2 ;;
    *) usage ;;
  esac
done
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$repo"

profdata=${LLVM_PROFDATA:-}
if [ -z "$profdata" ]; then
  profdata=$(ls -d /usr/lib/llvm-*/bin/llvm-profdata 2>/dev/null | sort -V | tail -n 1 || true)
fi
if [ -z "$profdata" ] || [ ! -x "$profdata" ]; then
  echo "error: no llvm-profdata (set LLVM_PROFDATA, or on Debian: apt-get install llvm-19)" >&2
  exit 1
fi

# An explicit --target keeps RUSTFLAGS off build scripts and procedural macros.
host=$(rustc -vV | sed -n 's/^host: //p')
cpuflags=
if [ -n "$cpu" ]; then
  cpuflags="-Ctarget-cpu=$cpu"
  # cc (zstd, mimalloc) reads CFLAGS_<target>; it does not pass rustc's target-cpu on itself.
  # GCC names x86 levels with -march and Arm cores with -mcpu.
  case $host in
    x86_64-* | i686-*) export "CFLAGS_${host//-/_}=-march=$cpu" ;;
    *) export "CFLAGS_${host//-/_}=-mcpu=$cpu" ;;
  esac
fi
build() { # target dir, rustflags
  RUSTFLAGS="$2 $cpuflags" cargo build --release --locked -p smd-cli --no-default-features \
    --features "$features" --target "$host" --target-dir "$1"
}

echo "== 1/4 instrumented build"
build "$out/instrumented" "-Cprofile-generate"
trainer="$out/instrumented/$host/release/smd-cli"

echo "== 2/4 training run"
rm -rf "$out/profiles" "$out/training"
mkdir -p "$out/profiles" "$out/training"
export LLVM_PROFILE_FILE="$out/profiles/smd-%p-%m.profraw"
"$trainer" logs generate --sessions 300 --minutes 60 --seed 7 --lines 300000 \
  --out "$out/training/traffic.log" > /dev/null
"$trainer" ingest file --input "$out/training/traffic.log" --fields all \
  --out "$out/training/lake" > /dev/null
unset LLVM_PROFILE_FILE

echo "== 3/4 merging the profiles with $profdata"
"$profdata" merge -o "$out/merged.profdata" "$out"/profiles/*.profraw

echo "== 4/4 optimized build"
build "$out/optimized" "-Cprofile-use=$out/merged.profdata"
cp "$out/optimized/$host/release/smd-cli" "$out/smd-cli"
rm -rf "$out/training"
echo "built $out/smd-cli"
