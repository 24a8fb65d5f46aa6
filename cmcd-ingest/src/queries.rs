//! The canned QoE queries of `cmcd-ingest/queries/*.sql`, written for Athena over the
//! `requests` and `sessions` tables (unqualified table names: the caller picks the database).
//!
//! This module only holds the text. It does not run anything: `lake` (feature `parquet`) runs
//! them locally with polars SQL, and `smd-cli deploy render` turns them into Athena named queries.

/// A canned query.
#[derive(Debug, Clone, Copy)]
pub struct Preset {
    /// The name (`--preset NAME`, the file stem).
    pub name: &'static str,
    /// The Athena SQL.
    pub sql: &'static str,
}

/// The canned QoE queries.
pub const PRESETS: [Preset; 6] = [
    Preset { name: "rebuffering_ratio", sql: include_str!("../queries/rebuffering_ratio.sql") },
    Preset { name: "startup", sql: include_str!("../queries/startup.sql") },
    Preset {
        name: "bitrate_distribution",
        sql: include_str!("../queries/bitrate_distribution.sql"),
    },
    Preset { name: "sessions_by_edge", sql: include_str!("../queries/sessions_by_edge.sql") },
    Preset { name: "sessions_by_country", sql: include_str!("../queries/sessions_by_country.sql") },
    Preset { name: "errors", sql: include_str!("../queries/errors.sql") },
];

/// The preset named `name`.
pub fn preset(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}
