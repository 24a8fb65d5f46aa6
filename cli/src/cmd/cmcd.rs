//! `smd-cli cmcd …` — under construction.

use std::process::ExitCode;

use clap::Subcommand;

/// `smd-cli cmcd` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum CmcdCommand {
    /// Decode a CMCD payload.
    Decode,
}

/// Runs a `cmcd` subcommand.
pub(crate) fn run(_cmd: CmcdCommand, _json: bool) -> anyhow::Result<ExitCode> {
    Ok(ExitCode::SUCCESS)
}
