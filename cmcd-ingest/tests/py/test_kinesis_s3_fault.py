"""Fault test of `smd-cli ingest kinesis`: S3 starts failing (HTTP 503 from a small proxy in
front of moto) in the middle of a run. The consumer must retry with backoff, must not move any
checkpoint while its writes fail, and once S3 is back the lake must hold exactly the input lines.

Run: scripts/emulators.sh --only kinesalite,moto -- .venv/bin/python cmcd-ingest/tests/py/test_kinesis_s3_fault.py
"""

import json
import pathlib
import time

from kinesis_util import (Consumer, check_exactly, run_test, client, env, generate_lines, lake_request_ids,
                          new_stream, put_lines, request_id, s3fs, start_proxy, unique, scratch_dir)


def start_s3_proxy(upstream):
    """A proxy in front of moto that answers 503 while `state["failing"]`."""
    state = {"failing": False, "failed": 0}

    def inject(command, headers, body):
        if not state["failing"]:
            return None
        state["failed"] += 1
        return 503, "application/xml", b"<Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>"

    server, url = start_proxy(upstream, inject)
    return server, state, url


def checkpoints(path):
    try:
        doc = json.loads(pathlib.Path(path).read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return {k: (v.get("checkpoint"), json.dumps(v.get("pending"))) for k, v in doc["shards"].items()}


def main():
    kinesis_ep, s3_ep = env("KINESALITE_ENDPOINT"), env("S3_ENDPOINT")
    kinesis, s3 = client("kinesis", kinesis_ep), client("s3", s3_ep)
    bucket = unique("fault-lake")
    s3.create_bucket(Bucket=bucket)
    stream = new_stream(kinesis, "fault", 2)
    lines = generate_lines(6000, 7)
    server, state, proxy = start_s3_proxy(s3_ep)
    work = scratch_dir("smd-fault-")
    cp = f"{work}/checkpoints.json"
    put_lines(kinesis, stream, lines[:3000])
    consumer = Consumer("fault", ["--stream", stream, "--endpoint", kinesis_ep, "--s3-endpoint", proxy,
                                  "--out", f"s3://{bucket}/lake", "--checkpoints", f"file://{cp}",
                                  "--max-range-records", "400", "--flush-interval", "1",
                                  "--progress-interval", "1", "--exit-when-idle", "5"], work)
    deadline = time.time() + 120
    while not any(c for c, _ in checkpoints(cp).values()):
        assert time.time() < deadline, "no checkpoint within 120 s:\n" + consumer.tail()
        time.sleep(0.2)
    state["failing"] = True
    print("S3 now answers 503", flush=True)
    put_lines(kinesis, stream, lines[3000:])
    time.sleep(1.5)
    frozen = checkpoints(cp)
    failed_before = state["failed"]
    time.sleep(8)
    assert state["failed"] > failed_before, "the consumer stopped trying to write"
    during = checkpoints(cp)
    moved = {k: (frozen[k][0], during[k][0]) for k in frozen if frozen[k][0] != during[k][0]}
    assert not moved, f"checkpoints moved while S3 failed: {moved}"
    print(f"outage: {state['failed']} requests failed, checkpoints held still: {during}", flush=True)
    state["failing"] = False
    print("S3 is back", flush=True)
    code = consumer.wait(timeout=300)
    log = consumer.log_path.read_text(errors="replace")
    assert code == 0, f"consumer exited {code}:\n{consumer.tail()}"
    retries = log.count("write_retry")
    assert retries > 0, "no write retry was reported"
    ids, files = lake_request_ids(s3fs(s3_ep), f"{bucket}/lake")
    check_exactly([request_id(l) for l in lines], ids)
    server.shutdown()
    print(f"fault test: {retries} write retries reported, lake exact ({len(ids)} rows in {len(files)} objects)")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    run_test(main)
