//! Golden log files (`testdata/`): typed rows and quarantine reasons against hand-derived
//! expectations, and the line writer's round trip over every golden line.

// Test helpers fail loudly on broken fixtures.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use cmcd_ingest::field::FieldSet;
use cmcd_ingest::line;
use cmcd_ingest::request::Request;
use cmcd_ingest::schema::{self, Datum};
use serde_json::Value;

fn testdata(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(name);
    // Test code reads its fixtures.
    #[allow(clippy::disallowed_methods)]
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn datum_json(d: Datum<'_>) -> Value {
    match d {
        Datum::Null => Value::Null,
        Datum::Str(s) => Value::from(s),
        Datum::Int(n) | Datum::Millis(n) => Value::from(n),
        Datum::Float(f) => Value::from(f),
        Datum::Bool(b) => Value::from(b),
    }
}

fn check(name: &str) {
    let fields = FieldSet::parse_names(testdata(&format!("{name}.fields")).trim()).unwrap();
    let log = testdata(&format!("{name}.log"));
    let expected: Value =
        serde_json::from_str(&testdata(&format!("{name}.expected.json"))).unwrap();
    let mut rows = Vec::new();
    let mut reasons = Vec::new();
    for line in log.lines() {
        match Request::parse(&fields, line.as_bytes()) {
            Ok(r) => rows.push(r),
            Err(reason) => reasons.push(Value::from(reason.code())),
        }
    }
    let want_rows = expected["rows"].as_array().unwrap();
    assert_eq!(rows.len(), want_rows.len(), "{name}: row count");
    for (i, (row, want)) in rows.iter().zip(want_rows).enumerate() {
        for (col, value) in want.as_object().unwrap() {
            let column =
                schema::requests().column(col).unwrap_or_else(|| panic!("no column {col}"));
            let got = datum_json(row.datum(column.source));
            assert_eq!(&got, value, "{name} row {i} column {col}");
        }
    }
    assert_eq!(&Value::from(reasons), &expected["quarantine"], "{name}: quarantine");
}

#[test]
fn cells_golden() {
    check("cells");
}

#[test]
fn transports_golden() {
    check("transports");
}

#[test]
fn writer_round_trips_every_golden_line() {
    for name in ["cells", "transports"] {
        let fields = FieldSet::parse_names(testdata(&format!("{name}.fields")).trim()).unwrap();
        for text in testdata(&format!("{name}.log")).lines() {
            let Ok(record) = line::parse(&fields, text.as_bytes()) else { continue };
            let written = line::write(&fields, &record).unwrap();
            assert_eq!(line::parse(&fields, written.as_bytes()).unwrap(), record, "{text}");
        }
    }
}
