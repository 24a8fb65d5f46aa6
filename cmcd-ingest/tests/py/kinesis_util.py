"""Helpers of the Kinesis consumer tests: local endpoints, streams, consumer processes, and an
independent read of the lake (pyarrow) from S3 (moto) or a directory."""

import http.client
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pyarrow.fs as pafs
import pyarrow.parquet as pq

ROOT = pathlib.Path(__file__).resolve().parents[3]
CLI = os.environ.get("SMD_CLI", str(ROOT / "target" / "debug" / "smd-cli"))


def env(name):
    value = os.environ.get(name)
    if not value:
        raise SystemExit(f"{name} is not set: run this test under scripts/emulators.sh (it starts the local AWS servers)")
    return value


def unique(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def client(service, endpoint):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def generate_lines(n, seed):
    """n synthetic real-time log lines (all fields, no bad lines), each with a unique x-edge-request-id."""
    out = subprocess.run([CLI, "logs", "generate", "--sessions", "200", "--minutes", "90", "--seed", str(seed),
                          "--bad-every", "0", "--lines", str(n), "--out", "-"],
                         check=True, capture_output=True)
    lines = out.stdout.decode().splitlines()
    assert len(lines) == n, (len(lines), n)
    return lines


def request_id(line):
    # x-edge-request-id is field 14 of the canonical order (see cmcd-ingest/src/field.rs).
    return line.split("\t")[FIELD_INDEX["x-edge-request-id"]]


def _field_index():
    out = subprocess.run([CLI, "--json", "logs", "generate", "--sessions", "1", "--minutes", "1", "--lines", "1",
                          "--out", "/dev/null"], check=True, capture_output=True, text=True)
    names = json.loads(out.stdout)["fields"].split(",")
    return {name: i for i, name in enumerate(names)}


FIELD_INDEX = _field_index()


def wait_active(kinesis, stream):
    for _ in range(300):
        s = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]
        if s["StreamStatus"] == "ACTIVE":
            return
        time.sleep(0.1)
    raise AssertionError(f"stream {stream} did not become ACTIVE")


def new_stream(kinesis, prefix, shards):
    """Creates a stream named `prefix-<random>` with `shards` shards; returns its name once ACTIVE."""
    stream = unique(prefix)
    kinesis.create_stream(StreamName=stream, ShardCount=shards)
    wait_active(kinesis, stream)
    return stream


def put_lines(kinesis, stream, lines, key_of=lambda i: str(i)):
    """PutRecords in batches of 500 (one line per record), retrying failed entries."""
    for start in range(0, len(lines), 500):
        batch = [{"Data": line.encode(), "PartitionKey": key_of(start + i)}
                 for i, line in enumerate(lines[start:start + 500])]
        while batch:
            out = kinesis.put_records(StreamName=stream, Records=batch)
            batch = [rec for rec, res in zip(batch, out["Records"]) if "ErrorCode" in res]
            if batch:
                time.sleep(0.2)


class Consumer:
    """One `smd-cli ingest kinesis` process; its output goes to a log file."""

    def __init__(self, name, args, log_dir):
        self.name = name
        self.log_path = pathlib.Path(log_dir) / f"{name}-{int(time.time() * 1000)}.log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([CLI, "--json", "ingest", "kinesis", *args],
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.log.close()

    def term(self):
        """SIGTERM once the process handles it (it prints its start line after installing the
        handler; before that the signal's default action would kill it)."""
        deadline = time.time() + 60
        while b"reading stream" not in self.log_path.read_bytes() and self.proc.poll() is None:
            assert time.time() < deadline, f"{self.name} did not start:\n{self.tail()}"
            time.sleep(0.05)
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, timeout):
        try:
            code = self.proc.wait(timeout=timeout)
        finally:
            self.log.close()
        return code

    def tail(self, n=40):
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])


def s3fs(endpoint):
    host = endpoint.split("://", 1)[1]
    return pafs.S3FileSystem(endpoint_override=host, scheme="http", access_key="test", secret_key="test",
                             region="us-east-1")


def lake_request_ids(fs, root):
    """Every x_edge_request_id in <root>/requests/**.parquet, read with pyarrow, as a list."""
    files = [f.path for f in fs.get_file_info(pafs.FileSelector(f"{root}/requests", recursive=True))
             if f.type == pafs.FileType.File and f.path.endswith(".parquet")]
    ids = []
    for path in files:
        with fs.open_input_file(path) as fh:
            table = pq.read_table(fh, columns=["x_edge_request_id"])
        ids.extend(table.column("x_edge_request_id").to_pylist())
    return ids, files


def check_exactly(expected_ids, got_ids):
    expected = set(expected_ids)
    got = set(got_ids)
    dupes = len(got_ids) - len(got)
    missing = expected - got
    extra = got - expected
    assert not missing and not extra and dupes == 0, (
        f"lake has {len(got_ids)} rows for {len(expected)} input lines: "
        f"{len(missing)} missing, {len(extra)} unexpected, {dupes} duplicated")


_SCRATCH_DIRS = []


def scratch_dir(prefix):
    """A fresh directory under the system temp dir, removed by `run_test` when the test passes
    and kept (its path printed) when it fails, for the consumer logs in it."""
    path = tempfile.mkdtemp(prefix=prefix)
    _SCRATCH_DIRS.append(path)
    return path


def run_test(main):
    """Runs one test's `main`, printing the pass/fail summary the test command greps for."""
    try:
        main()
    except AssertionError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        for path in _SCRATCH_DIRS:
            print(f"kept for inspection: {path}", file=sys.stderr)
        print("0 passed, 1 failed")
        sys.exit(1)
    for path in _SCRATCH_DIRS:
        shutil.rmtree(path, ignore_errors=True)


HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


def start_proxy(upstream, inject, observe=None):
    """An HTTP proxy on 127.0.0.1 in front of `upstream` that can answer in its place.

    `inject(command, headers, body)` returns None to forward the request, or
    `(status, content_type, payload)` to answer it without forwarding. `observe(headers, body,
    status, data)` sees every forwarded request with its answer. Returns (server, its URL)."""
    host, port = upstream.split("://", 1)[1].split(":")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _reply(self, status, headers, data):
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in HOP and k.lower() != "content-length":
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def _handle(self):
            n = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(n) if n else None
            answer = inject(self.command, self.headers, body)
            if answer is not None:
                status, content_type, payload = answer
                self._reply(status, [("Content-Type", content_type)], payload)
                return
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            if observe is not None:
                observe(self.headers, body, resp.status, data)
            self._reply(resp.status, resp.getheaders(), data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def final_summary(log_path):
    """The consumer's last `--json` summary line (`"type": "final"`)."""
    finals = [json.loads(l) for l in pathlib.Path(log_path).read_text(errors="replace").splitlines()
              if l.startswith("{") and '"final"' in l]
    assert finals, f"no final summary in {log_path}"
    return finals[-1]
