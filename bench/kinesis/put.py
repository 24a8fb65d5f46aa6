"""Creates a stream on kinesalite and puts N generated lines on it (one line per record).

Usage: put.py ENDPOINT STREAM SHARDS LINES_FILE
"""

import sys
import time

import boto3


def main():
    endpoint, stream, shards, path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    k = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="test", aws_secret_access_key="test")
    k.create_stream(StreamName=stream, ShardCount=shards)
    while k.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamStatus"] != "ACTIVE":
        time.sleep(0.1)
    lines = open(path, "rb").read().splitlines()
    t0 = time.time()
    for i in range(0, len(lines), 500):
        batch = [{"Data": l, "PartitionKey": str(i + j)} for j, l in enumerate(lines[i:i + 500])]
        while batch:
            out = k.put_records(StreamName=stream, Records=batch)
            batch = [r for r, res in zip(batch, out["Records"]) if "ErrorCode" in res]
    print(f"put {len(lines)} records on {shards} shards in {time.time() - t0:.1f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
