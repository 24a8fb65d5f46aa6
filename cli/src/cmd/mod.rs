//! One module per subcommand: turn arguments into core calls and format the output.

#[cfg(feature = "ingest")]
pub(crate) mod athena;
pub(crate) mod cmcd;
pub(crate) mod deploy;
pub(crate) mod edge;
#[cfg(feature = "ingest")]
pub(crate) mod ingest;
#[cfg(feature = "kinesis")]
pub(crate) mod ingest_kinesis;
pub(crate) mod inspect;
pub(crate) mod keys;
#[cfg(feature = "ingest")]
pub(crate) mod logs;
#[cfg(feature = "ingest")]
pub(crate) mod query;
pub(crate) mod quickstart;
mod quickstart_lake;
#[cfg(feature = "ingest")]
pub(crate) mod report;
pub(crate) mod revoke;
pub(crate) mod sign;
pub(crate) mod verify;

use std::process::ExitCode;

use crate::args::{Cli, Command};

/// Runs the parsed command line.
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Cmcd(cmd) => cmcd::run(cmd, cli.json),
        Command::Keys(cmd) => keys::run(cmd, cli.json),
        Command::Sign(args) => sign::run(*args, cli.json),
        Command::Verify(args) => verify::run(*args, cli.json),
        Command::Inspect(args) => inspect::run(args, cli.json),
        Command::Revoke(cmd) => revoke::run(cmd, cli.json),
        Command::Edge(cmd) => edge::run(cmd, cli.json),
        Command::Deploy(cmd) => deploy::run(cmd, cli.json),
        Command::Quickstart(args) => quickstart::run(args, cli.json),
        #[cfg(feature = "ingest")]
        Command::Ingest(cmd) => ingest::run(cmd, cli.json),
        #[cfg(feature = "ingest")]
        Command::Logs(cmd) => logs::run(cmd, cli.json),
        #[cfg(feature = "ingest")]
        Command::Athena(cmd) => athena::run(cmd, cli.json),
        #[cfg(feature = "ingest")]
        Command::Query(args) => query::run(args, cli.json),
        #[cfg(feature = "ingest")]
        Command::Report(args) => report::run(args, cli.json),
    }
}
