#!/usr/bin/env bash
# Builds the Lambda ingest function (binary smd-ingest-lambda, feature `lambda` of cmcd-ingest)
# for the provided.al2023 runtime and zips it as `bootstrap` in ingest-lambda.zip.
#
# Usage: scripts/build-ingest-lambda.sh [--out DIR]     (default DIR: target/lambda)
#
# Architecture: arm64 (aarch64-unknown-linux-gnu) when this toolchain has the aarch64 standard
# library and a cross C compiler (Debian: gcc-aarch64-linux-gnu) is installed; otherwise the
# host's architecture (x86_64), and the script says so. The function's Architectures setting
# must match what the script reports. Why arm64 may be unavailable: the aarch64 standard
# library comes only from `rustup target add aarch64-unknown-linux-gnu` (static.rust-lang.org);
# Debian packages rust-std only for its own rustc (1.63), which cannot link with this toolchain.
#
# Profile `lambda-release` (Cargo.toml): release, symbols stripped, thin LTO. The first build
# compiles polars and the AWS SDK in release mode: tens of minutes on two cores.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
out="$repo/target/lambda"
if [ "${1:-}" = "--out" ]; then out=$2; fi
cd "$repo"

target=aarch64-unknown-linux-gnu
arch=arm64
if ! rustup target list --installed 2>/dev/null | grep -qx "$target"; then
  echo "note: the $target standard library is not installed for this toolchain (rustup target add $target needs static.rust-lang.org); building for the host architecture instead" >&2
  target=$(rustc -vV | sed -n 's/^host: //p')
  arch=$(uname -m | sed 's/aarch64/arm64/')
elif ! command -v aarch64-linux-gnu-gcc >/dev/null 2>&1; then
  echo "note: no aarch64-linux-gnu-gcc (Debian: apt-get install gcc-aarch64-linux-gnu); building for the host architecture instead" >&2
  target=$(rustc -vV | sed -n 's/^host: //p')
  arch=$(uname -m | sed 's/aarch64/arm64/')
else
  export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
  export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
fi

cargo build --locked -p cmcd-ingest --bin smd-ingest-lambda --features lambda \
  --profile lambda-release --target "$target"
bin="${CARGO_TARGET_DIR:-$repo/target}/$target/lambda-release/smd-ingest-lambda"

# provided.al2023 has glibc 2.34: a binary needing a newer symbol version would not start.
if command -v objdump >/dev/null 2>&1; then
  newest=$(objdump -T "$bin" | grep -o 'GLIBC_[0-9.]*' | sort -t. -k2,2n -u | tail -1)
  echo "newest glibc symbol version required: ${newest:-none} (provided.al2023 has GLIBC_2.34)" >&2
fi

mkdir -p "$out"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp "$bin" "$stage/bootstrap"
chmod 755 "$stage/bootstrap"
rm -f "$out/ingest-lambda.zip"
(cd "$stage" && zip -q -9 "$out/ingest-lambda.zip" bootstrap)
size=$(stat -c %s "$out/ingest-lambda.zip")
unzipped=$(stat -c %s "$stage/bootstrap")
echo "{\"zip\": \"$out/ingest-lambda.zip\", \"architecture\": \"$arch\", \"target\": \"$target\", \"zip_bytes\": $size, \"bootstrap_bytes\": $unzipped}"
