//! Command-line definitions (clap derive). No logic lives here.

use clap::{Parser, Subcommand};

use crate::cmd;

/// Sign and verify AWS "Secure Media Delivery at the Edge" tokens, and decode CMCD.
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
    /// Decode, encode and validate Common Media Client Data (CTA-5004 v1 and v2).
    #[command(subcommand)]
    Cmcd(cmd::cmcd::CmcdCommand),
}
