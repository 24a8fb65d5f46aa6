#!/usr/bin/env bash
# Starts local real-protocol AWS servers on 127.0.0.1, runs a command with their endpoints in the
# environment, and stops the servers (by PID) when the command ends.
#
# Usage: scripts/emulators.sh [--only NAME,NAME] [--] COMMAND [ARGS...]
#   NAME: kinesis-mock | kinesalite | dynalite | moto   (default: all four)
#
# Servers and what the tests use them for:
#   kinesis-mock (npm kinesis-local 0.6.2)  Kinesis with the full shard lifecycle (split, merge,
#                                           ChildShards, ListShards paging, ON_DEMAND)
#   kinesalite 3.3.3 (npm)                  Kinesis for volume (fast, but no ChildShards)
#   dynalite 4.0.0 (npm)                    DynamoDB (lease and checkpoint tables)
#   moto 5.2.5 (PyPI moto[server])          S3, DynamoDB, IAM, Lambda, CloudFormation, Glue
#
# Exported to COMMAND: KINESIS_ENDPOINT (kinesis-mock), KINESALITE_ENDPOINT, DYNAMODB_ENDPOINT
# (dynalite), MOTO_ENDPOINT and S3_ENDPOINT (moto), dummy AWS credentials and AWS_REGION.
# Ports are free ports chosen at start, so several runs can share the machine.
# npm packages are installed into $SMD_EMULATORS_DIR (default ~/.cache/smd-toolkit/emulators),
# moto into the repository's .venv (requirements-test.txt).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

only="kinesis-mock,kinesalite,dynalite,moto"
if [ "${1:-}" = "--only" ]; then
  only=$2
  shift 2
fi
[ "${1:-}" = "--" ] && shift
if [ $# -eq 0 ]; then
  sed -n '2,20p' "$0" >&2
  exit 2
fi
wants() { [[ ",$only," == *",$1,"* ]]; }

emu_dir=${SMD_EMULATORS_DIR:-$HOME/.cache/smd-toolkit/emulators}
mkdir -p "$emu_dir"
cp "$repo/scripts/emulators/package.json" "$repo/scripts/emulators/loopback.cjs" "$emu_dir/"
if wants kinesis-mock || wants kinesalite || wants dynalite; then
  if ! cmp -s "$emu_dir/package.json" "$emu_dir/.installed" 2>/dev/null; then
    (cd "$emu_dir" && npm install --no-audit --no-fund --no-package-lock >npm-install.log 2>&1) || {
      cat "$emu_dir/npm-install.log" >&2
      exit 1
    }
    cp "$emu_dir/package.json" "$emu_dir/.installed"
  fi
fi
if wants moto; then
  [ -x "$repo/.venv/bin/python" ] || python3 -m venv "$repo/.venv"
  if [ ! -x "$repo/.venv/bin/moto_server" ]; then
    "$repo/.venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$repo/requirements-test.txt"
  fi
fi

log_dir=$(mktemp -d "${TMPDIR:-/tmp}/smd-emulators.XXXXXX")
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$log_dir"
}
trap cleanup EXIT INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_port() { # port name
  local _
  for _ in $(seq 1 600); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    if ! kill -0 "${pids[-1]}" 2>/dev/null; then break; fi
    sleep 0.1
  done
  echo "emulators: $2 did not open 127.0.0.1:$1" >&2
  cat "$log_dir/$2.log" >&2
  exit 1
}
start() { # name port command...
  local name=$1 port=$2
  shift 2
  (cd "$emu_dir" && exec "$@") >"$log_dir/$name.log" 2>&1 &
  pids+=($!)
  wait_port "$port" "$name"
}

export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN
if wants kinesis-mock; then
  port=$(free_port)
  tls=$(free_port)
  KINESIS_MOCK_CERT_PATH="$emu_dir/node_modules/kinesis-local/server.json" KINESIS_MOCK_PLAIN_PORT=$port \
    KINESIS_MOCK_TLS_PORT=$tls SHARD_LIMIT=100 LOG_LEVEL=WARN \
    start kinesis-mock "$port" node -r ./loopback.cjs node_modules/kinesis-local/main.js
  export KINESIS_ENDPOINT=http://127.0.0.1:$port
fi
if wants kinesalite; then
  port=$(free_port)
  start kinesalite "$port" node -r ./loopback.cjs node_modules/kinesalite/cli.js --port "$port" --shardLimit 100
  export KINESALITE_ENDPOINT=http://127.0.0.1:$port
fi
if wants dynalite; then
  port=$(free_port)
  start dynalite "$port" node node_modules/dynalite/cli.js --host 127.0.0.1 --port "$port"
  export DYNAMODB_ENDPOINT=http://127.0.0.1:$port
fi
if wants moto; then
  port=$(free_port)
  start moto "$port" "$repo/.venv/bin/moto_server" -H 127.0.0.1 -p "$port"
  export MOTO_ENDPOINT=http://127.0.0.1:$port S3_ENDPOINT=http://127.0.0.1:$port
fi

status=0
"$@" || status=$?
exit "$status"
