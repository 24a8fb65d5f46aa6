"""Near-limit reference for the ingest benchmark: polars reads the bare TSV (no typing beyond
strings, no CMCD, no Parquet). Usage: python polars_bare.py LOG"""

import sys

import polars as pl

df = pl.read_csv(sys.argv[1], separator="\t", has_header=False, quote_char=None, infer_schema=False, truncate_ragged_lines=True)
print(df.height, "rows", df.width, "columns")
