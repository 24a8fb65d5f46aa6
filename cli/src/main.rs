//! `smd-cli`: sign, verify and inspect SMD tokens; decode and encode CMCD.

// Doc comments on the argument types are `--help` text, written for a terminal, not for rustdoc.
#![allow(rustdoc::invalid_html_tags, rustdoc::bare_urls, rustdoc::broken_intra_doc_links)]

/// `println!` that returns the write error instead of panicking: with the output piped into
/// `head`, a closed pipe ends the command quietly (see `main`) instead of in a panic.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `print!` that returns the write error (see [`outln`]).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// `eprintln!` for messages beside the answer (progress, warnings, errors): a standard error
/// that cannot be written to (its reader gone) is ignored instead of panicking, so the command
/// still finishes its work and exits with its own status.
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

/// `eprint!` that ignores a standard error it cannot write to (see [`errln`]).
macro_rules! errout {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr().lock(), $($arg)*);
    }};
}

mod args;
mod cmd;
mod deploy;
mod serve;
mod sim;
mod support;

use std::process::ExitCode;

use clap::Parser;

// The ingest commands allocate and free large column buffers per row group; glibc's malloc
// returns them to the kernel each time (measured: a fifth of the CPU time of `ingest file`
// went to page faults and system calls). mimalloc keeps them; built without its transparent
// huge pages (feature `no_thp`), whose 2 MiB faults cost more system time than they saved.
#[cfg(feature = "ingest")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (`mimalloc.h`, mimalloc 3; the sys crate names no constant
/// for it). The `purge_delay_option_is_the_one_with_the_documented_default` test checks the
/// number against the option's documented default when the crate is updated.
#[cfg(feature = "ingest")]
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc never to return freed memory to the kernel (`purge_delay` -1; its default
/// returns it after a second). The ingest pipeline frees its column and page buffers after each
/// row group and allocates the same sizes for the next one, a second or more later: returned
/// memory was faulted in again page by page (measured on the 1 M-line benchmark: 0.34–0.52 s of
/// system time and 86,000–113,000 page faults per run, 0.21–0.29 s and 62,000 kept; peak RSS
/// +20 MB). Memory stays bounded by the buffers' peak, which is what the process holds anyway.
#[cfg(feature = "ingest")]
#[allow(unsafe_code)]
fn keep_freed_memory() {
    // SAFETY: `mi_option_set` writes one entry of mimalloc's option table; it takes no pointers
    // and is called first thing in `main`, before this process starts another thread.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

fn main() -> ExitCode {
    #[cfg(feature = "ingest")]
    keep_freed_memory();
    let cli = args::Cli::parse();
    match cmd::run(cli) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            errln!("smd-cli: error: {}", message(&err));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes joined by `: `, skipping a cause whose text the message already
/// ends with (errors that print their source too would otherwise repeat it).
fn message(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let part = cause.to_string();
        if text.is_empty() {
            text = part;
        } else if !text.ends_with(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
    }
    text
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "ingest")]
    #[test]
    #[allow(unsafe_code)]
    fn purge_delay_option_is_the_one_with_the_documented_default() {
        // SAFETY: reads one entry of mimalloc's option table; no pointers.
        let value = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        // 1,000 ms is mimalloc 3's documented default (the environment may override it).
        let expected =
            std::env::var("MIMALLOC_PURGE_DELAY").ok().and_then(|v| v.parse().ok()).unwrap_or(1000);
        assert_eq!(value, expected, "option {MI_OPTION_PURGE_DELAY} is not purge_delay");
    }

    /// An error whose text already carries its source's (as `storing KEY: IO-ERROR` does).
    #[derive(Debug)]
    struct Storing(std::io::Error);

    impl std::fmt::Display for Storing {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "storing k: {}", self.0)
        }
    }

    impl std::error::Error for Storing {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let err = anyhow::Error::new(Storing(io())).context("ingesting a.log");
        assert_eq!(message(&err), "ingesting a.log: storing k: gone");
        let err = anyhow::Error::new(io()).context("opening a.log");
        assert_eq!(message(&err), "opening a.log: gone");
    }
}
