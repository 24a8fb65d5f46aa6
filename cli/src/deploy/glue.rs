//! The Glue catalog entries of the lake, generated from `cmcd_ingest::schema`: the same column
//! list, types and comments the Parquet writer and `smd-cli athena ddl` use, and the same
//! partition projection properties (`schema::table_properties`). Nothing here lists a column by
//! hand, so the catalog and the files cannot drift apart.
//!
//! This module does not create partitions (projection makes them unnecessary) or crawlers.

use cmcd_ingest::schema::{self, Table};
use serde_json::{Value, json};

use super::template::{r, sub, sub_literal};

/// Placeholder for the lake location while the schema functions format it; replaced by the
/// `Fn::Sub` expression of the bucket and prefix.
const LOCATION_TOKEN: &str = "\u{1}LAKE\u{1}";

/// A string that may contain the lake location, as a plain string or an `Fn::Sub`.
fn with_location(text: &str, location_sub: &str) -> Value {
    if text.contains(LOCATION_TOKEN) {
        sub(&sub_literal(text).replace(LOCATION_TOKEN, location_sub))
    } else {
        json!(text)
    }
}

/// The `AWS::Glue::Database` resource.
pub(crate) fn database(name: &str) -> Value {
    json!({
        "Type": "AWS::Glue::Database",
        "Properties": {
            "CatalogId": r("AWS::AccountId"),
            "DatabaseInput": {
                "Name": name,
                "Description": "CloudFront real-time logs with CMCD: requests and sessions (Parquet lake written by the smd ingest Lambda)"
            }
        }
    })
}

/// The `AWS::Glue::Table` resource of `table`; `location_sub` is the lake location in `Fn::Sub`
/// syntax (`s3://${LakeBucket}/cdn-logs`).
pub(crate) fn table(
    table: &Table,
    database_logical_id: &str,
    location_sub: &str,
    projection_start: &str,
) -> Value {
    let columns: Vec<Value> = table
        .columns
        .iter()
        .map(|c| json!({"Name": c.name, "Type": c.ty.athena(), "Comment": c.comment}))
        .collect();
    let partition_keys: Vec<Value> = schema::PARTITION_COLUMNS
        .iter()
        .map(|(name, ty, comment)| json!({"Name": name, "Type": ty.athena(), "Comment": comment}))
        .collect();
    let mut parameters = serde_json::Map::new();
    parameters.insert("classification".into(), json!("parquet"));
    parameters.insert("EXTERNAL".into(), json!("TRUE"));
    for (key, value) in schema::table_properties(LOCATION_TOKEN, table, projection_start) {
        parameters.insert(key.to_owned(), with_location(&value, location_sub));
    }
    json!({
        "Type": "AWS::Glue::Table",
        "Properties": {
            "CatalogId": r("AWS::AccountId"),
            "DatabaseName": r(database_logical_id),
            "TableInput": {
                "Name": table.name,
                "Description": table.comment,
                "TableType": "EXTERNAL_TABLE",
                "Parameters": parameters,
                "PartitionKeys": partition_keys,
                "StorageDescriptor": {
                    "Columns": columns,
                    "Location": with_location(&schema::table_location(LOCATION_TOKEN, table), location_sub),
                    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                    "SerdeInfo": {
                        "SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe",
                        "Parameters": {"serialization.format": "1"}
                    }
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_column_is_a_glue_column_in_order() {
        for t in schema::tables() {
            let v = table(t, "Db", "s3://${LakeBucket}/cdn-logs", "2024-01-01");
            let cols =
                v["Properties"]["TableInput"]["StorageDescriptor"]["Columns"].as_array().unwrap();
            assert_eq!(cols.len(), t.columns.len());
            for (g, c) in cols.iter().zip(&t.columns) {
                assert_eq!(g["Name"], c.name.as_str());
                assert_eq!(g["Type"], c.ty.athena());
            }
            let params = &v["Properties"]["TableInput"]["Parameters"];
            assert_eq!(
                params["storage.location.template"]["Fn::Sub"],
                format!("s3://${{LakeBucket}}/cdn-logs/{}/dt=${{!dt}}/hour=${{!hour}}/", t.name)
            );
            assert_eq!(params["projection.hour.digits"], "2");
            assert_eq!(params["projection.dt.format"], "yyyy-MM-dd");
        }
    }
}
