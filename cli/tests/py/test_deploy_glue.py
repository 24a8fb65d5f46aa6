"""Drift test: the Glue tables of the rendered CloudFormation template and the Parquet files the
ingest writes must agree, column for column, in both directions.

The Parquet files are written by the real pipeline (`smd-cli logs generate` -> `smd-cli ingest
file`) and read back with pyarrow, an independent reader; the template is `smd-cli deploy
render` with every default. Each Parquet column must be a Glue column with a compatible Hive type
(and in the same order, since Athena's Parquet SerDe maps by name but humans read by position),
and every Glue column must be in the files. The partition keys must be the directory names.

Run by scripts/test.sh as: SMD_CLI=target/debug/smd-cli .venv/bin/python cli/tests/py/test_deploy_glue.py
"""

import json
import os
import pathlib
import re
import subprocess
import tempfile

import pyarrow as pa
import pyarrow.parquet as pq

ROOT = pathlib.Path(__file__).resolve().parents[3]
CLI = os.environ.get("SMD_CLI", str(ROOT / "target" / "debug" / "smd-cli"))


def run(*args):
    return subprocess.run([CLI, *args], check=True, capture_output=True, text=True).stdout


def hive_type(t):
    """The Hive/Athena type a Parquet column of Arrow type `t` can be read as; None if none."""
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_dictionary(t):
        return hive_type(t.value_type)
    if t == pa.int64():
        return "bigint"
    if t == pa.float64():
        return "double"
    if t == pa.bool_():
        return "boolean"
    if pa.types.is_timestamp(t) and t.unit == "ms" and t.tz in ("UTC", "+00:00"):
        return "timestamp"
    return None


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        log = tmp / "cf.log"
        lake = tmp / "lake"
        gen = json.loads(run("--json", "logs", "generate", "--sessions", "30", "--minutes", "90", "--out", str(log)))
        run("--json", "ingest", "file", "--input", str(log), "--fields", gen["fields"], "--out", str(lake))
        template = json.loads(run("deploy", "render", "--out", "-"))
        resources = template["Resources"]
        checked = 0
        for table in ("requests", "sessions"):
            glue = resources[f"{table.capitalize()}Table"]["Properties"]["TableInput"]
            assert glue["Name"] == table
            glue_cols = [(c["Name"], c["Type"]) for c in glue["StorageDescriptor"]["Columns"]]
            files = sorted((lake / table).rglob("*.parquet"))
            assert files, f"the ingest wrote no {table} files"
            for path in files:
                schema = pq.read_schema(path)
                file_cols = [(f.name, hive_type(f.type)) for f in schema]
                bad = [(n, str(schema.field(n).type)) for n, h in file_cols if h is None]
                assert not bad, f"{path.name}: columns with no Athena-compatible type: {bad}"
                missing_in_glue = [c for c in file_cols if c not in glue_cols]
                missing_in_files = [c for c in glue_cols if c not in file_cols]
                assert not missing_in_glue, f"{table}: in the Parquet files but not (or with another type) in Glue: {missing_in_glue}"
                assert not missing_in_files, f"{table}: in Glue but not (or with another type) in the Parquet files: {missing_in_files}"
                assert file_cols == glue_cols, f"{table}: same columns, different order"
                rel = path.relative_to(lake / table).parts
                assert re.fullmatch(r"dt=\d{4}-\d{2}-\d{2}", rel[0]) and re.fullmatch(r"hour=\d{2}", rel[1]), rel
                checked += 1
            keys = [k["Name"] for k in glue["PartitionKeys"]]
            assert keys == ["dt", "hour"], keys
            template_loc = glue["Parameters"]["storage.location.template"]["Fn::Sub"]
            assert template_loc.endswith(f"/{table}/dt=${{!dt}}/hour=${{!hour}}/"), template_loc
        print(f"ok: {checked} Parquet files match the Glue tables of the rendered template")


if __name__ == "__main__":
    main()
