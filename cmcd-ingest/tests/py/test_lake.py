"""Reads the Parquet lake written by `smd-cli ingest file` with independent readers (pyarrow and
DuckDB) and checks physical and logical types, compression, encodings, row counts, partition
layout and values against the golden expectations in cmcd-ingest/testdata.

Run by scripts/test.sh as: SMD_CLI=target/debug/smd-cli python cmcd-ingest/tests/py/test_lake.py
"""

import json
import os
import pathlib
import re
import subprocess
import sys
import tempfile

import duckdb
import pyarrow.parquet as pq

ROOT = pathlib.Path(__file__).resolve().parents[3]
TESTDATA = ROOT / "cmcd-ingest" / "testdata"
CLI = os.environ.get("SMD_CLI", str(ROOT / "target" / "debug" / "smd-cli"))

# Athena-compatible physical/logical types per DDL type.
PHYSICAL = {"string": "BYTE_ARRAY", "bigint": "INT64", "double": "DOUBLE", "boolean": "BOOLEAN", "timestamp": "INT64"}


def run(*args):
    out = subprocess.run([CLI, *args], check=True, capture_output=True, text=True)
    return out.stdout


def ingest(name, lake):
    fields = (TESTDATA / f"{name}.fields").read_text().strip()
    summary = json.loads(run("--json", "ingest", "file", "--input", str(TESTDATA / f"{name}.log"), "--fields", fields, "--out", str(lake)))
    return summary


def ddl_columns():
    ddl = run("athena", "ddl", "--location", "s3://bucket/lake", "--database", "cdn")
    tables = {}
    for m in re.finditer(r"CREATE EXTERNAL TABLE IF NOT EXISTS cdn\.(\w+) \((.*?)\n\)", ddl, re.S):
        cols = dict(re.findall(r"^\s+`(\w+)` (\w+) COMMENT", m.group(2), re.M))
        tables[m.group(1)] = cols
    assert set(tables) == {"requests", "sessions"}, tables.keys()
    return tables


def check_types(path, ddl):
    meta = pq.ParquetFile(path).metadata
    schema = pq.ParquetFile(path).schema
    names = [schema.column(i).name for i in range(len(schema))]
    assert set(names) <= set(ddl), set(names) - set(ddl)
    assert names == list(ddl), "file columns follow the DDL order"
    for i in range(len(schema)):
        col = schema.column(i)
        want = ddl[col.name]
        assert col.physical_type == PHYSICAL[want], (col.name, col.physical_type, want)
        logical = str(col.logical_type)
        if want == "timestamp":
            assert col.logical_type.type == "TIMESTAMP", logical
            assert "isAdjustedToUTC=true" in logical and "timeUnit=milliseconds" in logical, logical
        elif want == "string":
            assert col.logical_type.type == "STRING", logical
        elif want == "bigint":
            # no unsigned integers: INT64 without an unsigned INT logical annotation
            assert col.logical_type.type in ("NONE", "INT"), logical
            if col.logical_type.type == "INT":
                assert "isSigned=true" in logical, logical
    for rg in range(meta.num_row_groups):
        for c in range(meta.num_columns):
            assert meta.row_group(rg).column(c).compression == "ZSTD"
    return meta


def test_golden(name, ddl):
    expected = json.loads((TESTDATA / f"{name}.expected.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        lake = pathlib.Path(tmp)
        summary = ingest(name, lake)
        assert summary["rows"] == len(expected["rows"]), summary
        assert sum(summary["quarantined"].values()) == len(expected["quarantine"])
        files = sorted((lake / "requests").glob("dt=*/hour=*/*.parquet"))
        assert files, "requests files"
        rows = []
        for f in files:
            rel = f.relative_to(lake / "requests").parts
            assert re.fullmatch(r"dt=\d{4}-\d{2}-\d{2}", rel[0]) and re.fullmatch(r"hour=\d{2}", rel[1]), rel
            check_types(f, ddl["requests"])
            table = pq.read_table(f)
            for row in table.to_pylist():
                # partition values come from the log timestamp (UTC)
                ts = row["timestamp"]
                assert rel[0] == "dt=" + ts.strftime("%Y-%m-%d") and rel[1] == "hour=" + ts.strftime("%H"), (rel, ts)
                rows.append(row)
        rows.sort(key=lambda r: r["timestamp"])
        for got, want in zip(rows, expected["rows"]):
            for col, value in want.items():
                v = got[col]
                if col == "timestamp":
                    v = round(v.timestamp() * 1000)
                assert v == value, (name, col, v, value)
        # quarantine: raw line + reason code
        qfiles = list((lake / "quarantine").glob("*.jsonl"))
        reasons = [json.loads(l)["reason"] for f in qfiles for l in f.read_text().splitlines()]
        assert reasons == expected["quarantine"], reasons
        for f in qfiles:
            for l in f.read_text().splitlines():
                assert json.loads(l)["line"], "raw line kept"
        # DuckDB, with Hive partitioning, sees the same rows and partition values.
        con = duckdb.connect()
        glob = str(lake / "requests" / "*" / "*" / "*.parquet")
        n, = con.execute(f"select count(*) from read_parquet('{glob}', hive_partitioning=true)").fetchone()
        assert n == len(expected["rows"])
        bad, = con.execute(
            f"select count(*) from read_parquet('{glob}', hive_partitioning=true) "
            "where strftime(timestamp at time zone 'UTC', '%Y-%m-%d') <> dt or cast(strftime(timestamp at time zone 'UTC', '%H') as integer) <> cast(hour as integer)"
        ).fetchone()
        assert bad == 0
        print(f"ok golden {name}: {n} rows, {len(files)} files")


def test_generated(ddl):
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        log = tmp / "gen.log"
        gen = json.loads(run("--json", "logs", "generate", "--sessions", "40", "--minutes", "130", "--seed", "3", "--out", str(log)))
        lake = tmp / "lake"
        summary = json.loads(run("--json", "ingest", "file", "--input", str(log), "--fields", gen["fields"], "--out", str(lake), "--row-group-rows", "5000"))
        assert summary["lines"] == gen["lines"]
        assert summary["rows"] + sum(summary["quarantined"].values()) == gen["lines"]
        con = duckdb.connect()
        req = str(lake / "requests" / "*" / "*" / "*.parquet")
        ses = str(lake / "sessions" / "*" / "*" / "*.parquet")
        n, parts = con.execute(f"select count(*), count(distinct dt || hour) from read_parquet('{req}', hive_partitioning=true)").fetchone()
        assert n == summary["rows"], (n, summary)
        assert parts >= 3, parts
        for f in (lake / "requests").glob("*/*/*.parquet"):
            meta = check_types(f, ddl["requests"])
            assert meta.num_row_groups >= 1
            # low-cardinality strings are dictionary-encoded
            cols = {meta.row_group(0).column(c).path_in_schema: meta.row_group(0).column(c) for c in range(meta.num_columns)}
            for name in ("x_edge_location", "cmcd_ot", "c_country", "cs_method"):
                enc = cols[name].encodings
                assert any("DICTIONARY" in e for e in enc), (name, enc)
        for f in (lake / "sessions").glob("*/*/*.parquet"):
            check_types(f, ddl["sessions"])
        s, = con.execute(f"select count(*) from read_parquet('{ses}', hive_partitioning=true)").fetchone()
        assert s == summary["session_rows"], (s, summary)
        # sessions agree with requests on counts per (sid, hour)
        diff, = con.execute(
            f"""select count(*) from (
                  select cmcd_sid, dt, hour, count(*) as n, sum(coalesce(sc_bytes, 0)) as b
                  from read_parquet('{req}', hive_partitioning=true) where cmcd_sid is not null group by all) r
                full join read_parquet('{ses}', hive_partitioning=true) s using (cmcd_sid, dt, hour)
                where r.n is distinct from s.requests or r.b is distinct from s.bytes"""
        ).fetchone()
        assert diff == 0, diff
        # rolling at partition change with row groups of at most 5000 rows
        for f in (lake / "requests").glob("*/*/*.parquet"):
            meta = pq.ParquetFile(f).metadata
            assert all(meta.row_group(i).num_rows <= 5000 for i in range(meta.num_row_groups))
        # the lake's row order: in each row group, rows grouped by cmcd_sid (sessions in the
        # order of their first line, a session's rows in line order), rows without a sid last
        # in line order; lines are told apart by their request id
        fields = gen["fields"].split(",")
        at = fields.index("x-edge-request-id")
        line_of = {}
        for number, text in enumerate(log.read_text().splitlines()):
            cells = text.split("\t")
            if len(cells) == len(fields):
                line_of.setdefault(cells[at], number)
        groups_checked = 0
        for f in sorted((lake / "requests").glob("*/*/*.parquet")):
            pf = pq.ParquetFile(f)
            for i in range(pf.metadata.num_row_groups):
                rg = pf.read_row_group(i, columns=["cmcd_sid", "x_edge_request_id"]).to_pylist()
                sids = [r["cmcd_sid"] for r in rg]
                lines = [line_of[r["x_edge_request_id"]] for r in rg]
                firsts, seen = [], set()
                for sid, line, prev in zip(sids, lines, [object()] + sids):
                    if sid != prev:
                        assert sid not in seen, f"{f.name} row group {i}: sid {sid} in two runs"
                        seen.add(sid)
                        if sid is not None:
                            firsts.append(line)
                if None in seen:
                    assert sids[-1] is None, "rows without a sid come last"
                assert firsts == sorted(firsts), f"{f.name} row group {i}: sessions by first line"
                runs = {}
                for sid, line in zip(sids, lines):
                    runs.setdefault(sid, []).append(line)
                assert all(r == sorted(r) for r in runs.values()), "a session's rows in line order"
                groups_checked += 1
        assert groups_checked >= 3, groups_checked
        print(f"ok generated: {n} rows in {parts} partitions, {s} session rows")


def test_quickstart(ddl):
    """`smd-cli quickstart` (the README's first command, shortened) leaves a lake that passes the
    same checks: Athena types, partitions from the timestamp, sessions consistent with requests."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        report = json.loads(run("--json", "quickstart", "--dir", str(tmp), "--players", "8", "--duration", "8s"))
        assert report["ok"], report
        lake = tmp / "lake"
        assert report["lake"]["rows"] == report["edge"]["edge_requests"], report
        con = duckdb.connect()
        req = str(lake / "requests" / "*" / "*" / "*.parquet")
        ses = str(lake / "sessions" / "*" / "*" / "*.parquet")
        n, = con.execute(f"select count(*) from read_parquet('{req}', hive_partitioning=true)").fetchone()
        assert n == report["lake"]["rows"], (n, report["lake"])
        for f in (lake / "requests").glob("*/*/*.parquet"):
            check_types(f, ddl["requests"])
        for f in (lake / "sessions").glob("*/*/*.parquet"):
            check_types(f, ddl["sessions"])
        s, = con.execute(f"select count(*) from read_parquet('{ses}', hive_partitioning=true)").fetchone()
        assert s == report["lake"]["session_rows"] and s >= 8, (s, report["lake"])
        # every simulated player's session is there, with the token session id joined in
        sids, tokens = con.execute(
            f"select count(distinct cmcd_sid), count(distinct smd_session_id) from read_parquet('{req}', hive_partitioning=true) "
            "where cmcd_sid like 'sim-%'"
        ).fetchone()
        assert sids >= 6 and tokens >= 6, (sids, tokens)
        assert (tmp / "report.html").read_text().lstrip().lower().startswith("<!doctype html")
        print(f"ok quickstart: {n} rows, {s} session rows")


def main():
    ddl = ddl_columns()
    test_golden("cells", ddl)
    test_golden("transports", ddl)
    test_generated(ddl)
    test_quickstart(ddl)
    print("all lake checks passed")


if __name__ == "__main__":
    sys.exit(main())
