"""Builds kinesis-event.json, a Kinesis event-source-mapping event for the Lambda ingest tests,
from CloudFront real-time log lines written by the crate's generator:

    smd-cli logs generate --sessions 2 --minutes 130 --seed 6 --bad-every 0 --out gen.log
    python3 make_event.py gen.log > kinesis-event.json

Every 36th line is kept (about 150 lines over three UTC hours). The lines go to two shards,
alternately, in records of one to three lines ('\n'-separated, each ending in '\n', as CloudFront
writes them). Three bad records are added to shard 1: a payload that is not base64, a payload
that is not a log line, and an empty payload. Sequence numbers and arrival times are made up in
the format Kinesis uses (56 decimal digits; epoch seconds). Deterministic.
"""

import base64
import json
import sys

SHARDS = ["shardId-000000000000", "shardId-000000000001"]
ARN = "arn:aws:kinesis:us-east-1:123456789012:stream/cdn-realtime-logs"


def main(path):
    lines = [l for i, l in enumerate(open(path, encoding="utf-8").read().splitlines()) if i % 36 == 0]
    per_shard = {s: [] for s in SHARDS}
    for i, line in enumerate(lines):
        per_shard[SHARDS[i % 2]].append(line)
    records = {s: [] for s in SHARDS}
    for s, shard_lines in per_shard.items():
        i = 0
        n = 0
        while i < len(shard_lines):
            take = 1 + (n % 3)
            chunk = shard_lines[i : i + take]
            i += take
            n += 1
            records[s].append(("".join(l + "\n" for l in chunk)).encode())
    bad = records[SHARDS[1]]
    bad.insert(5, b"NOT BASE64")  # marked below: sent as raw text
    bad.insert(11, b"this is not a CloudFront log line\n")
    bad.insert(17, b"")
    events = []
    for s_index, s in enumerate(SHARDS):
        base = 49590338271490256608559692538361571095921575989136588898 + s_index * 10**20
        for n, data in enumerate(records[s]):
            seq = str(base + n * 1000)
            text = "%%% not base64 %%%" if data == b"NOT BASE64" else base64.b64encode(data).decode()
            first_ts = data.split(b"\t", 1)[0]
            arrival = float(first_ts) + 0.5 if first_ts.replace(b".", b"").isdigit() else 1714650000.0
            events.append(
                {
                    "kinesis": {
                        "kinesisSchemaVersion": "1.0",
                        "partitionKey": "%d" % (n % 7),
                        "sequenceNumber": seq,
                        "data": text,
                        "approximateArrivalTimestamp": round(arrival, 3),
                    },
                    "eventSource": "aws:kinesis",
                    "eventVersion": "1.0",
                    "eventID": "%s:%s" % (s, seq),
                    "eventName": "aws:kinesis:record",
                    "invokeIdentityArn": "arn:aws:iam::123456789012:role/smd-ingest-lambda",
                    "awsRegion": "us-east-1",
                    "eventSourceARN": ARN,
                }
            )
    # Interleave the shards as a mixed event would (the handler must regroup them, in order).
    by_shard = [[e for e in events if e["eventID"].startswith(s)] for s in SHARDS]
    mixed = []
    for i in range(max(len(b) for b in by_shard)):
        for b in by_shard:
            if i < len(b):
                mixed.append(b[i])
    json.dump({"Records": mixed}, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
