"""The peer of the consumer benchmark: reads every shard of a stream from TRIM_HORIZON to the
tip with boto3 GetRecords (Limit 10,000, shards in turn) and does nothing with the records. It
measures what kinesalite can serve, so the consumer's rate can be compared with it.

Usage: bare_reader.py ENDPOINT STREAM  → prints one JSON line {records, seconds, records_per_s}
"""

import json
import sys
import time

import boto3


def main():
    endpoint, stream = sys.argv[1], sys.argv[2]
    k = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                     aws_access_key_id="test", aws_secret_access_key="test")
    shards = [s["ShardId"] for s in k.list_shards(StreamName=stream)["Shards"]]
    t0 = time.time()
    its = {s: k.get_shard_iterator(StreamName=stream, ShardId=s, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
           for s in shards}
    total = 0
    while its:
        for s in list(its):
            out = k.get_records(ShardIterator=its[s], Limit=10000)
            total += len(out["Records"])
            if not out["Records"] and out.get("MillisBehindLatest", 0) == 0 or not out.get("NextShardIterator"):
                del its[s]
            else:
                its[s] = out["NextShardIterator"]
    secs = time.time() - t0
    print(json.dumps({"records": total, "seconds": round(secs, 2), "records_per_s": round(total / secs)}))


if __name__ == "__main__":
    main()
