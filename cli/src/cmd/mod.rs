//! One module per subcommand: turn arguments into core calls and format the output.

pub(crate) mod cmcd;

use std::process::ExitCode;

use crate::args::{Cli, Command};

/// Runs the parsed command line.
pub(crate) fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Cmcd(cmd) => cmcd::run(cmd, cli.json),
    }
}
