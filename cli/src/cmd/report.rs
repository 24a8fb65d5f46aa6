//! `smd-cli report`: a self-contained HTML QoE report of a local lake.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::json;

use crate::support::{print_json, write_atomic};

/// Arguments of `report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// The lake directory.
    #[arg(long)]
    lake: PathBuf,
    /// The HTML file to write.
    #[arg(long)]
    out: PathBuf,
}

pub(crate) fn run(args: ReportArgs, json: bool) -> anyhow::Result<ExitCode> {
    let html = cmcd_ingest::report::html(&args.lake)?;
    write_atomic(&args.out, html.as_bytes(), false)?;
    if json {
        print_json(&json!({"out": args.out.display().to_string(), "bytes": html.len()}))?;
    } else {
        outln!("wrote {} ({} bytes)", args.out.display(), html.len())?;
    }
    Ok(ExitCode::SUCCESS)
}
