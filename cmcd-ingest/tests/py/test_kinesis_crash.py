"""The crash proof of `smd-cli ingest kinesis`: 50,000 generated lines on a 4-shard stream
(kinesalite), two consumer processes sharing a DynamoDB lease table (dynalite) and writing the
lake to S3 (moto), killed with SIGKILL at random moments at least 5 times and restarted (with
the same worker id, which reclaims at once, or a new one, which waits for lease expiry, and with
a different range size each time). At the end pyarrow reads the lake back: it must hold exactly
the input lines, compared by x-edge-request-id (none missing, none duplicated).

Run: scripts/emulators.sh --only kinesalite,dynalite,moto -- .venv/bin/python cmcd-ingest/tests/py/test_kinesis_crash.py
Replay a failure with the printed seed: CRASH_SEED=<seed> (LINES=<n> for a smaller run).
"""

import os
import random
import time

from kinesis_util import (Consumer, check_exactly, run_test, client, env, generate_lines, lake_request_ids,
                          new_stream, put_lines, request_id, s3fs, unique, scratch_dir)


def main():
    seed = int(os.environ.get("CRASH_SEED", random.SystemRandom().randrange(1 << 32)))
    n = int(os.environ.get("LINES", "50000"))
    kills_wanted = int(os.environ.get("KILLS", "6"))
    rng = random.Random(seed)
    print(f"crash test: seed={seed} lines={n} (replay with CRASH_SEED={seed})", flush=True)
    kinesis_ep, dynamo_ep, s3_ep = env("KINESALITE_ENDPOINT"), env("DYNAMODB_ENDPOINT"), env("S3_ENDPOINT")
    kinesis, s3 = client("kinesis", kinesis_ep), client("s3", s3_ep)
    table, bucket = unique("crash-leases"), unique("crash-lake")
    s3.create_bucket(Bucket=bucket)
    stream = new_stream(kinesis, "crash", 4)
    lines = generate_lines(n, seed % 1000 + 1)
    t0 = time.time()
    put_lines(kinesis, stream, lines, key_of=lambda i: f"k{rng.randrange(1 << 30)}")
    print(f"put {n} records in {time.time() - t0:.1f} s", flush=True)

    log_dir = scratch_dir("smd-crash-")

    def start(worker, idle=None):
        args = ["--stream", stream, "--endpoint", kinesis_ep, "--dynamodb-endpoint", dynamo_ep,
                "--s3-endpoint", s3_ep, "--out", f"s3://{bucket}/lake", "--checkpoints", f"dynamodb://{table}",
                "--worker-id", worker, "--max-range-records", str(rng.choice([300, 700, 1000, 1500, 2500])),
                "--flush-interval", "1", "--lease-duration", "3", "--list-interval", "2",
                "--progress-interval", "2"]
        if idle is not None:
            args += ["--exit-when-idle", str(idle)]
        return Consumer(worker, args, log_dir)

    procs = {"w1": start("w1"), "w2": start("w2")}
    generation = {"w1": 0, "w2": 0}
    kills = []
    t_start = time.time()
    while len(kills) < kills_wanted:
        time.sleep(rng.uniform(0.8, 3.0))
        victims = rng.choice([["w1"], ["w2"], ["w1", "w2"]])
        for v in victims:
            procs[v].kill9()
            kills.append((round(time.time() - t_start, 2), v))
        print(f"kill -9 {victims} at t={time.time() - t_start:.2f} s", flush=True)
        time.sleep(rng.uniform(0.0, 1.5))
        for v in victims:
            # Half the restarts reuse the worker id (reclaim at once), half take a new one
            # (the old leases must expire first and are taken over).
            if rng.random() < 0.5:
                generation[v] += 1
            worker = v if generation[v] == 0 else f"{v}-{generation[v]}"
            procs[v] = start(worker)
    print(f"kills: {kills}", flush=True)
    # Final phase: stop the last generation gracefully (SIGTERM hands the leases over), then run
    # two consumers until the stream is drained and idle.
    for p in procs.values():
        p.term()
    for name, p in procs.items():
        code = p.wait(timeout=120)
        assert code == 0, f"{name} exited {code} after SIGTERM:\n{p.tail()}"
    final = [start("final-a", idle=6), start("final-b", idle=6)]
    for p in final:
        code = p.wait(timeout=600)
        assert code == 0, f"{p.name} exited {code}:\n{p.tail()}"
    elapsed = time.time() - t_start
    ids, files = lake_request_ids(s3fs(s3_ep), f"{bucket}/lake")
    print(f"lake: {len(files)} objects, {len(ids)} rows after {len(kills)} kills in {elapsed:.1f} s", flush=True)
    check_exactly([request_id(l) for l in lines], ids)
    print(f"crash test: exactly {n} lines in the lake (seed={seed})")
    print("1 passed, 0 failed")


if __name__ == "__main__":
    run_test(main)
