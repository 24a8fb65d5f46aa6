"""Prints the x_edge_request_id of every `requests` row of a Parquet lake in S3, read with
pyarrow's own S3 client (an independent reader), as JSON: {"ids": [...], "files": [...]}.

Usage: python s3_lake_ids.py ENDPOINT BUCKET PREFIX
(credentials and region from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION)
"""

import json
import os
import sys
from urllib.parse import urlparse

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq


def main(endpoint, bucket, prefix):
    url = urlparse(endpoint)
    fs = pafs.S3FileSystem(
        endpoint_override=url.netloc,
        scheme=url.scheme,
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region=os.environ.get("AWS_REGION", "us-east-1"),
    )
    root = f"{bucket}/{prefix}/requests".replace("//", "/")
    files = sorted(
        f.path for f in fs.get_file_info(pafs.FileSelector(root, recursive=True)) if f.type == pafs.FileType.File
    )
    for f in files:
        assert f.endswith(".parquet"), f
        meta = pq.ParquetFile(f, filesystem=fs).metadata
        assert meta.row_group(0).column(0).compression == "ZSTD", f
    dataset = ds.dataset(root, filesystem=fs, format="parquet", partitioning="hive")
    table = dataset.to_table(columns=["x_edge_request_id", "dt", "hour"])
    ids = table.column("x_edge_request_id").to_pylist()
    json.dump({"ids": ids, "files": [f[len(bucket) + 1 :] for f in files]}, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:4])
