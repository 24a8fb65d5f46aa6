//! Command-line definitions (clap derive). No logic lives here.

use clap::{Parser, Subcommand};

use crate::cmd;

/// Sign and verify AWS "Secure Media Delivery at the Edge" (SMD) tokens, and decode CMCD.
///
/// Keys come from --keys FILE or, when that is absent, from the SMD_KEYS environment variable
/// holding the key-set JSON itself.
///
/// Exit status: 0 = ok / accepted, 1 = token or payload rejected, 2 = usage or I/O error.
#[derive(Debug, Parser)]
#[command(name = "smd-cli", version, propagate_version = true)]
pub(crate) struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,

    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Create, rotate and show signing keys (SMD's key format).
    #[command(subcommand)]
    Keys(cmd::keys::KeysCommand),
    Sign(Box<cmd::sign::SignArgs>),
    Verify(Box<cmd::verify::VerifyArgs>),
    Inspect(cmd::inspect::InspectArgs),
    /// Revoke playback sessions and export the AWS WAF rule group.
    #[command(subcommand)]
    Revoke(cmd::revoke::RevokeCommand),
    /// The token check at the edge: Lambda@Edge package, local edge server, load test.
    #[command(subcommand)]
    Edge(cmd::edge::EdgeCommand),
    Quickstart(cmd::quickstart::QuickstartArgs),
    /// Deploy with CloudFormation (edge function, real-time logs, lake, ingest, Glue, Athena)
    /// and attach to an existing CloudFront distribution.
    #[command(subcommand)]
    Deploy(cmd::deploy::DeployCommand),
    /// Decode, encode and validate Common Media Client Data (CTA-5004 v1 and v2).
    #[command(subcommand)]
    Cmcd(cmd::cmcd::CmcdCommand),
    /// Turn CloudFront real-time logs into the Parquet lake (requests, sessions, quarantine).
    #[cfg(feature = "ingest")]
    #[command(subcommand)]
    Ingest(cmd::ingest::IngestCommand),
    /// Generate synthetic CloudFront real-time logs.
    #[cfg(feature = "ingest")]
    #[command(subcommand)]
    Logs(cmd::logs::LogsCommand),
    /// Athena DDL for the lake, with the canned QoE queries.
    #[cfg(feature = "ingest")]
    #[command(subcommand)]
    Athena(cmd::athena::AthenaCommand),
    /// Run SQL (or a canned QoE query) over a local lake with polars SQL.
    ///
    /// The tables are `requests` and `sessions` with the lake's columns (`smd-cli athena ddl`
    /// documents each one) and the partition columns `dt` and `hour`. The presets are the same
    /// queries as the Athena `.sql` files, so a local answer matches Athena's.
    ///
    /// Examples:
    ///   smd-cli query --lake lake --preset rebuffering_ratio
    ///   smd-cli query --lake lake "SELECT c_country, count(*) AS n FROM requests GROUP BY c_country"
    ///   smd-cli --json query --lake lake "SELECT cmcd_sid FROM sessions WHERE rebuffer_count > 0"
    #[cfg(feature = "ingest")]
    #[command(verbatim_doc_comment)]
    Query(cmd::query::QueryArgs),
    /// Write a self-contained HTML QoE report of a local lake.
    ///
    /// One HTML file with inline charts and no external resources: sessions and rebuffering
    /// over time, the bitrate histogram, the startup-time distribution and the top edge
    /// locations.
    ///
    /// Example:
    ///   smd-cli report --lake lake --out report.html
    #[cfg(feature = "ingest")]
    #[command(verbatim_doc_comment)]
    Report(cmd::report::ReportArgs),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn definitions_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
