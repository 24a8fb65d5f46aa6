//! The Glue database and the two tables (from `cmcd_ingest::schema`), and the Athena workgroup
//! with the canned QoE queries (`cmcd-ingest/queries/*.sql`) as named queries.
//!
//! No query runs at deploy time, and no partition is registered (projection covers them).

use cmcd_ingest::queries::PRESETS;
use cmcd_ingest::schema;
use serde_json::json;

use crate::deploy::config::Config;
use crate::deploy::glue;
use crate::deploy::resources::lake::{ATHENA_RESULTS_PREFIX, location_sub};
use crate::deploy::template::{Template, r, sub};

/// Logical id of a table (`RequestsTable`).
fn table_id(name: &str) -> String {
    format!("{}Table", pascal(name))
}

/// `rebuffering_ratio` → `RebufferingRatio`.
fn pascal(name: &str) -> String {
    name.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect()
}

/// Adds the Glue database and tables.
pub(crate) fn add_glue(t: &mut Template, config: &Config) {
    t.resource("GlueDatabase", glue::database(&config.glue.database));
    for table in schema::tables() {
        t.resource(
            &table_id(table.name),
            glue::table(
                table,
                "GlueDatabase",
                &location_sub(config),
                &config.glue.projection_start,
            ),
        );
    }
    t.output(
        "GlueDatabaseName",
        "Glue database of the requests and sessions tables",
        r("GlueDatabase"),
    );
}

/// Adds the workgroup and the named queries.
pub(crate) fn add_athena(t: &mut Template, config: &Config) {
    let a = &config.athena;
    let name =
        if a.workgroup.is_empty() { sub("${AWS::StackName}-qoe") } else { json!(a.workgroup) };
    let mut wg_config = json!({
        "EnforceWorkGroupConfiguration": true,
        "PublishCloudWatchMetricsEnabled": true,
        "ResultConfiguration": {
            "OutputLocation": sub(&format!("s3://${{LakeBucket}}/{ATHENA_RESULTS_PREFIX}")),
            "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"}
        }
    });
    if a.bytes_scanned_cutoff_gb > 0 {
        wg_config["BytesScannedCutoffPerQuery"] =
            json!(u64::from(a.bytes_scanned_cutoff_gb) * 1_000_000_000);
    }
    t.resource(
        "AthenaWorkGroup",
        json!({
            "Type": "AWS::Athena::WorkGroup",
            "Properties": {
                "Name": name,
                "Description": "CMCD QoE queries over the requests and sessions tables",
                "State": "ENABLED",
                "RecursiveDeleteOption": true,
                "WorkGroupConfiguration": wg_config
            }
        }),
    );
    for preset in PRESETS {
        let description = preset
            .sql
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("--"))
            .map_or_else(|| preset.name.to_owned(), |l| l.trim().to_owned());
        t.resource(
            &format!("Query{}", pascal(preset.name)),
            json!({
                "Type": "AWS::Athena::NamedQuery",
                "DependsOn": ["RequestsTable", "SessionsTable"],
                "Properties": {
                    "Name": preset.name,
                    "Description": truncate(&description, 1024),
                    "Database": config.glue.database,
                    "WorkGroup": r("AthenaWorkGroup"),
                    "QueryString": preset.sql
                }
            }),
        );
    }
    t.output(
        "AthenaWorkGroupName",
        "Athena workgroup with the canned QoE queries",
        r("AthenaWorkGroup"),
    );
}

fn truncate(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}
