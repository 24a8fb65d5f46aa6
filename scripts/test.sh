#!/usr/bin/env bash
# Runs every test of the workspace, installing first what the tests need.
# Usage: scripts/test.sh            (from anywhere inside the repository)
#
# What it installs (idempotent; skipped when present):
#   - the wasm32-unknown-unknown Rust target (token-core must build for it)
#   - wasm-bindgen-cli (crates.io, the version in Cargo.lock) and wasm-opt (npm binaryen),
#     through scripts/build-edge.sh, for the Lambda@Edge package tests
#   - the npm packages of edge-wasm/js (npm ci)
#   - a Python virtual environment in .venv with requirements-test.txt (pyarrow, DuckDB) for the
#     independent Parquet readers of cmcd-ingest/tests/py
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "Installing test prerequisites"
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

step "cargo test (workspace, all features)"
cargo test --workspace --all-features --locked

step "cmcd-ingest without default features (the pure pipeline, no polars)"
cargo test -p cmcd-ingest --no-default-features --locked

step "token-core builds for wasm32-unknown-unknown"
cargo build -p token-core --target wasm32-unknown-unknown --locked

step "Dependency direction: token-core pulls no runtime, SDK, dataframe or JS glue"
if cargo tree -p token-core -e normal --prefix none --locked | grep -E '^(tokio|aws-|polars|wasm-bindgen|js-sys|getrandom)' ; then
  echo "token-core must stay sans-IO: the crates above must not be normal dependencies" >&2
  exit 1
fi

step "Lambda@Edge package: build, then node --test through the packaged handler"
scripts/build-edge.sh
cargo build -p smd-cli --locked
(cd edge-wasm/js && SMD_CLI="$PWD/../../target/debug/smd-cli" node --test test/)

step "Parquet lake read back by independent readers (pyarrow, DuckDB from PyPI into .venv)"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
cargo build -p smd-cli --locked
SMD_CLI="$PWD/target/debug/smd-cli" .venv/bin/python cmcd-ingest/tests/py/test_lake.py

step "Fuzz targets compile (stable check; run them with cargo +nightly fuzz)"
cargo check --manifest-path fuzz/Cargo.toml --locked

echo
echo "All tests passed."
