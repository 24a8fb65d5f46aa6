#!/usr/bin/env bash
# Runs every test of the workspace, installing first what the tests need.
# Usage: scripts/test.sh            (from anywhere inside the repository)
#
# What it installs (idempotent; skipped when present):
#   - the wasm32-unknown-unknown Rust target (token-core must build for it)
#   - wasm-bindgen-cli (crates.io, the version in Cargo.lock) and wasm-opt (npm binaryen),
#     through scripts/build-edge.sh, for the Lambda@Edge package tests
#   - the npm packages of edge-wasm/js and e2e (npm ci)
#   - Debian's chromium and ffmpeg, for the browser end-to-end test (apt-get; needs root or sudo)
#   - a Python virtual environment in .venv with requirements-test.txt (pyarrow, DuckDB) for the
#     independent Parquet readers of cmcd-ingest/tests/py, and cfn-lint for the deploy templates
#   - through scripts/emulators.sh: kinesis-mock, kinesalite and dynalite (npm, into a cache dir)
#     and moto (same .venv), started on 127.0.0.1 and stopped by PID, for the object-store,
#     Lambda handler, Kinesis consumer and deploy tests
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "Installing test prerequisites"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
missing_debs=()
command -v chromium >/dev/null 2>&1 || missing_debs+=(chromium)
command -v ffmpeg >/dev/null 2>&1 || missing_debs+=(ffmpeg)
if [ ${#missing_debs[@]} -gt 0 ]; then
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  if ! "${sudo_cmd[@]}" apt-get install -y -q "${missing_debs[@]}" >/dev/null; then
    "${sudo_cmd[@]}" apt-get update -q >/dev/null && "${sudo_cmd[@]}" apt-get install -y -q "${missing_debs[@]}" >/dev/null || {
      echo "cannot install ${missing_debs[*]} with apt-get; the browser test needs them (it is not skipped)" >&2
      exit 1
    }
  fi
fi
(cd e2e && npm ci --no-audit --no-fund >/dev/null)

step "cargo test (workspace, all features)"
cargo test --workspace --all-features --locked

# Every later step reuses what that build made — target/debug/smd-cli and the test executables
# of the server tests (#[ignore]d above) — instead of building again: cargo resolves features
# per command, so a build of a subset (`--test X`, `--bins`) hashes dependencies differently and
# would compile polars and the AWS SDK a second time.
artifacts=$(cargo test --workspace --all-features --locked --no-run --message-format=json)
test_exe() { # integration test target name -> its executable from the build above
  python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == sys.argv[1] \
            and m["profile"]["test"] and m.get("executable"):
        print(m["executable"])
        break
else:
    sys.exit("no test executable named " + sys.argv[1])' "$1" <<<"$artifacts"
}
# Runs integration test executables the way `cargo test` does: from the package directory,
# here with --ignored (the tests that need a server).
run_ignored() { # package dir, executables...
  local dir=$1 exe
  shift
  for exe in "$@"; do (cd "$dir" && "$exe" --ignored); done
}
export -f run_ignored

step "cmcd-ingest object store and Lambda handler against moto S3 (scripts/emulators.sh)"
# The S3 tests are #[ignore]d in plain `cargo test` (they need the server) and run here.
scripts/emulators.sh --only moto -- \
  bash -c 'run_ignored cmcd-ingest "$@"' _ "$(test_exe store_s3)" "$(test_exe lambda)"

step "token-core builds for wasm32-unknown-unknown"
cargo build -p token-core --target wasm32-unknown-unknown --locked

step "Dependency direction: token-core pulls no runtime, SDK, dataframe or JS glue"
if cargo tree -p token-core -e normal --prefix none --locked | grep -E '^(tokio|aws-|polars|wasm-bindgen|js-sys|getrandom)' ; then
  echo "token-core must stay sans-IO: the crates above must not be normal dependencies" >&2
  exit 1
fi

step "Lambda@Edge package: build, then node --test through the packaged handler"
scripts/build-edge.sh
(cd edge-wasm/js && SMD_CLI="$PWD/../../target/debug/smd-cli" node --test test/)

step "Parquet lake read back by independent readers (pyarrow, DuckDB from PyPI into .venv)"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
SMD_CLI="$PWD/target/debug/smd-cli" .venv/bin/python cmcd-ingest/tests/py/test_lake.py

step "Kinesis consumer against local AWS servers (scripts/emulators.sh: kinesis-mock, kinesalite, dynalite, moto)"
# Lease table logic on dynalite and ListShards paging on kinesis-mock (Rust, ignored by default).
scripts/emulators.sh --only kinesis-mock,dynalite -- \
  bash -c 'run_ignored cmcd-ingest "$@"' _ "$(test_exe kinesis_servers)"
# The crash proof: 50,000 records, two consumers killed -9 at least 5 times, lake read by pyarrow.
scripts/emulators.sh --only kinesalite,dynalite,moto -- \
  env SMD_CLI="$PWD/target/debug/smd-cli" .venv/bin/python cmcd-ingest/tests/py/test_kinesis_crash.py
# SplitShard, MergeShards and UpdateShardCount while consuming (kinesis-mock sends ChildShards).
scripts/emulators.sh --only kinesis-mock -- \
  env SMD_CLI="$PWD/target/debug/smd-cli" .venv/bin/python cmcd-ingest/tests/py/test_kinesis_reshard.py
# Throttled, failing and expired Kinesis reads: retried within the per-shard limits, lake exact.
scripts/emulators.sh --only kinesalite -- \
  env SMD_CLI="$PWD/target/debug/smd-cli" .venv/bin/python cmcd-ingest/tests/py/test_kinesis_read_faults.py
# S3 answers 503 mid-run: retries, no checkpoint moves, complete lake after recovery.
scripts/emulators.sh --only kinesalite,moto -- \
  env SMD_CLI="$PWD/target/debug/smd-cli" .venv/bin/python cmcd-ingest/tests/py/test_kinesis_s3_fault.py

step "Deploy templates: cfn-lint on every golden template; Parquet columns vs the rendered Glue tables"
# cargo test above checked that the golden templates are what deploy render makes today.
.venv/bin/cfn-lint cli/testdata/deploy/*.template.json
SMD_CLI="$PWD/target/debug/smd-cli" .venv/bin/python cli/tests/py/test_deploy_glue.py

step "Deploy against moto: apply, diff, update, attach --apply, delete"
scripts/emulators.sh --only moto -- env SMD_CLI="$PWD/target/debug/smd-cli" \
  .venv/bin/python cli/tests/py/test_deploy_moto.py

step "Browser end to end: hls.js in Chromium through edge serve"
(cd e2e && SMD_CLI="$PWD/../target/debug/smd-cli" node --test)

# A narrower feature set: its own (small) build of the shared dependencies, no polars.
step "cmcd-ingest without default features (the pure pipeline, no polars)"
cargo test -p cmcd-ingest --no-default-features --locked

step "Fuzz targets compile (stable check; run them with cargo +nightly fuzz)"
cargo check --manifest-path fuzz/Cargo.toml --locked

echo
echo "All tests passed."
