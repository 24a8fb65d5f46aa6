"""Baseline for the ingest benchmark: the same job as `smd-cli ingest file` written with
pyarrow and pandas — parse the tab-separated real-time log lines, type the fields, URL-decode
the encoded ones, extract CMCD (cmcd-* cells, else the CMCD= query argument, else CMCD-*
headers from cs-headers), write the `requests` columns the Rust pipeline writes from them
(the raw CMCD payload, its source, whether cs-headers was truncated, the SMD session id of a
token path), keep the lines that do not parse in a quarantine file, and write ZSTD Parquet
partitioned by dt/hour. Not done here (so the baseline still does less work than the Rust
pipeline): the `sessions` table, and validating CMCD values against the key registry (the
`cmcd_lenient`, `cmcd_error` and `cmcd_dropped` columns).

Usage: python baseline.py LOG FIELDS OUT_DIR
"""

import os
import sys
import urllib.parse

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ENCODED = {"cs-user-agent", "cs-referer", "cs-cookie", "cs-headers", "cs-header-names"}
INTS = {"sc-status", "sc-bytes", "cs-bytes", "sc-content-len", "sc-range-start", "sc-range-end", "c-port", "cs-headers-count", "asn"}
SECS = {"time-to-first-byte", "time-taken", "origin-fbl", "origin-lbl"}
CELLS = {
    "cmcd-encoded-bitrate": "br", "cmcd-buffer-length": "bl", "cmcd-buffer-starvation": "bs", "cmcd-content-id": "cid",
    "cmcd-object-duration": "d", "cmcd-deadline": "dl", "cmcd-measured-throughput": "mtp", "cmcd-next-object-request": "nor",
    "cmcd-next-range-request": "nrr", "cmcd-object-type": "ot", "cmcd-playback-rate": "pr", "cmcd-requested-maximum-throughput": "rtp",
    "cmcd-streaming-format": "sf", "cmcd-session-id": "sid", "cmcd-stream-type": "st", "cmcd-startup": "su", "cmcd-top-bitrate": "tb",
    "cmcd-version": "v",
}
NUM_KEYS = {"br", "bl", "d", "dl", "mtp", "rtp", "tb", "v", "pt", "ltc", "msd", "bsa", "bsd", "bsda", "pb", "sn", "dfa"}
KEYS = ["br", "bl", "bs", "cid", "d", "dl", "mtp", "nor", "nrr", "ot", "pr", "rtp", "sf", "sid", "st", "su", "tb", "v",
        "pt", "sta", "ltc", "msd", "bsa", "bsd", "bsda", "pb", "sn", "ec", "dfa"]


def parse_dict(text):
    out = {}
    for member in text.split(","):
        member = member.strip()
        if not member:
            continue
        key, _, value = member.partition("=")
        if not value:
            out[key] = True
            continue
        if value.startswith("("):
            items = value.strip("()").split()
            nums = []
            for it in items:
                v = it.split(";")[0]
                try:
                    nums.append(int(v))
                except ValueError:
                    pass
            out[key] = sum(nums) if key == "bsd" else (nums[0] if nums else None)
        elif value.startswith('"'):
            out[key] = value[1:-1]
        else:
            try:
                out[key] = int(value) if key in NUM_KEYS else value
            except ValueError:
                out[key] = None
    return out


def cmcd_of(query, headers, truncated):
    """The CMCD keys of a request, its raw (decoded) payload and where it came from."""
    if isinstance(headers, str) and "cmcd-" in headers.lower():
        lines = headers.split("\n")
        parts = [line.split(":", 1)[1].strip() for line in lines if line.lower().startswith("cmcd-") and ":" in line]
        # The last line of a truncated block may be cut anywhere: it is not decoded.
        if parts and truncated and lines[-1].lower().startswith("cmcd-") and ":" in lines[-1]:
            parts.pop()
        if parts:
            raw = ",".join(parts)
            return parse_dict(raw), raw, "headers"
    if isinstance(query, str):
        for pair in query.split("&"):
            if pair.startswith("CMCD="):
                raw = urllib.parse.unquote_plus(pair[5:])
                return parse_dict(raw), raw, "query"
    return {}, None, None


# A token path's first segment: `<sid>.<jwt header>.<payload>.<signature>`.
SMD_PATH = r"^(?:[A-Za-z][A-Za-z0-9+.-]*://[^/]*)?/([A-Za-z0-9_~-]{1,200})\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+(?:[/?#]|$)"


def main(log, fields, out):
    names = [f.strip() for f in fields.split(",")]
    opts = pacsv.ReadOptions(column_names=names, block_size=1 << 24)
    quarantined = []

    def quarantine(row):
        quarantined.append(row.text)
        return "skip"

    parse = pacsv.ParseOptions(delimiter="\t", quote_char=False, invalid_row_handler=quarantine)
    conv = pacsv.ConvertOptions(null_values=["-"], strings_can_be_null=True, column_types={n: pa.string() for n in names})
    table = pacsv.read_csv(log, read_options=opts, parse_options=parse, convert_options=conv)
    df = table.to_pandas()
    timestamp = pd.to_datetime(pd.to_numeric(df["timestamp"], errors="coerce"), unit="s", utc=True)
    bad_time = timestamp.isna()
    if bad_time.any():
        quarantined.extend("\t".join("-" if v is None else v for v in row) for row in df[bad_time].itertuples(index=False))
    df["timestamp"] = timestamp
    df = df[~bad_time]
    if "cs-headers" in df:
        encoded = df["cs-headers"]
        lines = encoded.str.count("%0A") + 1
        counted = pd.to_numeric(df["cs-headers-count"], errors="coerce") if "cs-headers-count" in df else None
        truncated = encoded.str.len() >= 800
        if counted is not None:
            truncated = truncated | (counted > lines)
        df["cmcd_headers_truncated"] = truncated.where(encoded.notna(), False).astype(bool)
    for n in names:
        if n in INTS:
            df[n] = pd.to_numeric(df[n], errors="coerce").astype("Int64")
        elif n in SECS:
            df[n] = pd.to_numeric(df[n], errors="coerce")
        elif n in ENCODED:
            df[n] = df[n].map(lambda v: urllib.parse.unquote(v) if isinstance(v, str) else v)
    query = df["cs-uri-query"] if "cs-uri-query" in df else pd.Series([None] * len(df))
    headers = df["cs-headers"] if "cs-headers" in df else pd.Series([None] * len(df))
    truncated = df["cmcd_headers_truncated"] if "cmcd_headers_truncated" in df else pd.Series(False, index=df.index)
    decoded = [cmcd_of(q, h, t) for q, h, t in zip(query, headers, truncated)]
    cmcd = [c for c, _, _ in decoded]
    for key in KEYS:
        df["cmcd_" + key] = [c.get(key) for c in cmcd]
    df["cmcd_raw"] = pd.Series([raw for _, raw, _ in decoded], index=df.index, dtype="string")
    source = pd.Series([src for _, _, src in decoded], index=df.index, dtype="string")
    has_cells = pd.Series(False, index=df.index)
    for field, key in CELLS.items():
        if field in df:
            cell = df.pop(field)
            has_cells |= cell.notna()
            df["cmcd_" + key] = cell.where(cell.notna(), df["cmcd_" + key])
    df["cmcd_source"] = source.where(~has_cells, ("cells+" + source).fillna("cells"))
    stem = df["cs-uri-stem"] if "cs-uri-stem" in df else pd.Series([None] * len(df), index=df.index, dtype="string")
    df["smd_session_id"] = stem.str.extract(SMD_PATH, expand=False).astype("string")
    for key in KEYS:
        col = df["cmcd_" + key]
        if key in NUM_KEYS:
            df["cmcd_" + key] = pd.to_numeric(col, errors="coerce").astype("Int64")
        elif key in ("bs", "su"):
            df["cmcd_" + key] = col.map(lambda v: None if v is None or v != v else v in (True, "true", "1", "?1")).astype("boolean")
        else:
            df["cmcd_" + key] = col.astype("string")
    df.columns = [c.replace("-", "_") for c in df.columns]
    df["dt"] = df["timestamp"].dt.strftime("%Y-%m-%d")
    df["hour"] = df["timestamp"].dt.strftime("%H")
    # The layout of the Rust pipeline's lake: `requests/dt=…/hour=…/`, `quarantine/`.
    pq.write_to_dataset(pa.Table.from_pandas(df, preserve_index=False), os.path.join(out, "requests"), partition_cols=["dt", "hour"], compression="zstd")
    os.makedirs(os.path.join(out, "quarantine"), exist_ok=True)
    with open(os.path.join(out, "quarantine", "lines.tsv"), "w") as q:
        q.writelines(line + "\n" for line in quarantined)
    print(len(df), "rows,", len(quarantined), "quarantined")


if __name__ == "__main__":
    main(*sys.argv[1:4])
    # The dataset is complete and closed here. Leave without interpreter teardown: pyarrow's
    # thread pools occasionally abort it ("terminate called without an active exception",
    # signal 6), which failed a benchmark run after the work was done.
    sys.stdout.flush()
    os._exit(0)
