#!/usr/bin/env bash
# Measures token/sign and token/verify against the jsonwebtoken crate's HS256 decode of the same
# token, in one criterion run, and prints the ratios that BENCHMARKS.md reports.
# Usage: bench/token/run.sh   (release build; takes about a minute after compiling)
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo bench -p token-core --bench token --locked -- --warm-up-time 2 --measurement-time 5 "$@"
python3 - <<'PY'
import json, pathlib
root = pathlib.Path("target/criterion/token")
def ns(name):
    est = json.loads((root / name / "new" / "estimates.json").read_text())
    return est["median"]["point_estimate"]
base = ns("jsonwebtoken_decode")
print(f"\n{'benchmark':<24}{'median':>12}{'vs jsonwebtoken decode':>26}")
for name in ["verify", "verify_smd_compat", "sign", "jsonwebtoken_decode"]:
    t = ns(name)
    print(f"token/{name:<18}{t/1000:>10.2f} µs{t/base:>25.2f}×")
PY
