"""Read-fault test of `smd-cli ingest kinesis`: a proxy in front of kinesalite answers a share of
the consumer's Kinesis reads itself, with the errors the service sends under load —
`ProvisionedThroughputExceededException` and `InternalFailure` (HTTP 500) on `GetRecords`,
`ExpiredIteratorException` on `GetRecords`, `LimitExceededException` on `GetShardIterator`.

Checks: the lake holds exactly the input lines (pyarrow); the consumer reports the retries (at
most one per injected failure: the SDK's own retries are off for these calls, so none is hidden);
and what the proxy saw respects the per-shard limits — `GetRecords` calls on one shard at least
~200 ms apart even while throttled (5 calls/s), `Limit` never above 10,000.

Run: scripts/emulators.sh --only kinesalite -- .venv/bin/python cmcd-ingest/tests/py/test_kinesis_read_faults.py
"""

import json
import threading
import time

import pyarrow.fs as pafs

from kinesis_util import (Consumer, check_exactly, run_test, client, env, final_summary, generate_lines,
                          lake_request_ids, new_stream, put_lines, request_id, start_proxy, scratch_dir)

JSON = "application/x-amz-json-1.1"
# GetRecords calls on one shard closer than this fail the test. The consumer spaces them by
# 200 ms before sending; the margin absorbs the proxy's own scheduling on a busy machine.
MIN_GAP_S = 0.15


def kinesis_error(status, code):
    return status, JSON, json.dumps({"__type": code, "message": "injected by the test proxy"}).encode()


class KinesisFaults:
    """Decides which reads fail and records, per shard, when `GetRecords` arrived."""

    def __init__(self):
        self.lock = threading.Lock()
        self.shard_of_iterator = {}
        self.calls = {}  # shard -> arrival times of GetRecords
        self.limits = []
        self.injected = {}
        self.n_get_records = 0
        self.n_get_iterator = 0
        self.unknown_iterators = 0

    def _count(self, code):
        self.injected[code] = self.injected.get(code, 0) + 1

    def inject(self, command, headers, body):
        target = headers.get("X-Amz-Target", "")
        content_type = headers.get("Content-Type", "")
        if not target.startswith("Kinesis_20131202."):
            return None
        assert content_type.startswith("application/x-amz-json-1.1"), f"unexpected protocol {content_type}"
        op = target.split(".", 1)[1]
        req = json.loads(body or b"{}")
        with self.lock:
            if op == "GetShardIterator":
                self.n_get_iterator += 1
                if self.n_get_iterator % 3 == 0:
                    self._count("LimitExceededException")
                    return kinesis_error(400, "LimitExceededException")
            elif op == "GetRecords":
                now = time.monotonic()
                shard = self.shard_of_iterator.get(req.get("ShardIterator"))
                if shard is None:
                    self.unknown_iterators += 1
                else:
                    self.calls.setdefault(shard, []).append(now)
                self.limits.append(req.get("Limit"))
                self.n_get_records += 1
                n = self.n_get_records
                if n % 4 == 0:
                    self._count("ProvisionedThroughputExceededException")
                    return kinesis_error(400, "ProvisionedThroughputExceededException")
                if n % 7 == 0:
                    self._count("ExpiredIteratorException")
                    return kinesis_error(400, "ExpiredIteratorException")
                if n % 11 == 0:
                    self._count("InternalFailure")
                    return kinesis_error(500, "InternalFailure")
        return None

    def observe(self, headers, body, status, data):
        target = headers.get("X-Amz-Target", "")
        if status != 200 or not target.startswith("Kinesis_20131202."):
            return
        op = target.split(".", 1)[1]
        answer = json.loads(data or b"{}")
        with self.lock:
            if op == "GetShardIterator":
                self.shard_of_iterator[answer["ShardIterator"]] = json.loads(body)["ShardId"]
            elif op == "GetRecords" and answer.get("NextShardIterator"):
                shard = self.shard_of_iterator.get(json.loads(body)["ShardIterator"])
                if shard is not None:
                    self.shard_of_iterator[answer["NextShardIterator"]] = shard


def main():
    ep = env("KINESALITE_ENDPOINT")
    kinesis = client("kinesis", ep)
    stream = new_stream(kinesis, "readfault", 2)
    lines = generate_lines(4000, 11)
    faults = KinesisFaults()
    server, proxy = start_proxy(ep, faults.inject, faults.observe)
    work = scratch_dir("smd-readfault-")
    put_lines(kinesis, stream, lines[:2000])
    consumer = Consumer("readfault", ["--stream", stream, "--endpoint", proxy, "--out", f"{work}/lake",
                                      "--checkpoints", f"file://{work}/checkpoints.json",
                                      "--max-range-records", "300", "--flush-interval", "1",
                                      "--progress-interval", "1", "--exit-when-idle", "4"], work)
    time.sleep(2)
    put_lines(kinesis, stream, lines[2000:])
    code = consumer.wait(timeout=300)
    server.shutdown()
    assert code == 0, f"consumer exited {code}:\n{consumer.tail()}"

    ids, files = lake_request_ids(pafs.LocalFileSystem(), f"{work}/lake")
    check_exactly([request_id(l) for l in lines], ids)

    injected = sum(faults.injected.values())
    for code_name in ("ProvisionedThroughputExceededException", "ExpiredIteratorException", "InternalFailure",
                      "LimitExceededException"):
        assert faults.injected.get(code_name, 0) > 0, f"no {code_name} was injected: {faults.injected}"
    retries = final_summary(consumer.log_path)["read_retries"]
    assert 0 < retries <= injected, f"consumer reported {retries} read retries for {injected} injected failures"

    assert faults.unknown_iterators == 0, f"{faults.unknown_iterators} GetRecords with an iterator the proxy never saw"
    gaps = {shard: min((b - a for a, b in zip(t, t[1:])), default=None) for shard, t in faults.calls.items()}
    assert len(gaps) == 2, f"GetRecords seen on {sorted(gaps)}, expected both shards"
    close = {s: g for s, g in gaps.items() if g is not None and g < MIN_GAP_S}
    assert not close, f"GetRecords calls on one shard closer than {MIN_GAP_S} s: {close}"
    assert all(l is not None and 1 <= l <= 10_000 for l in faults.limits), \
        f"GetRecords Limit outside 1..10000: {sorted(set(faults.limits))}"

    print(f"read faults: injected {faults.injected}; consumer retried {retries} reads; "
          f"{faults.n_get_records} GetRecords, smallest gap per shard "
          f"{ {s: round(g, 3) for s, g in gaps.items() if g is not None} } s; "
          f"lake exact ({len(ids)} rows in {len(files)} objects)")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    run_test(main)
