//! `smd-cli keys generate | rotate | show`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};
use clap::Subcommand;
use serde_json::json;
use token_core::token::{KEY_ENTROPY_BYTES, KeySet, SigningKey};
use zeroize::Zeroizing;

use crate::support::{self, load_keys, print_json, write_atomic};

/// Key-set files hold `{"primary": {"<kid>": "<key>"}, "secondary": {"<kid>": "<key>"}}`, the same
/// one-entry objects SMD keeps in its two Secrets Manager secrets.
#[derive(Debug, Subcommand)]
pub(crate) enum KeysCommand {
    /// Generate a new key set in SMD's format (kid YYYYMMD_ + 20 hex, key = 128 hex).
    ///
    /// Writes the key set to --out (created readable by the owner only) or prints it.
    Generate {
        /// Where to write the key set; prints to stdout when absent.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Overwrite --out if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Rotate: a new primary signs from now on, the old primary becomes the secondary (still
    /// accepted), the old secondary is dropped.
    ///
    /// At the edge, rotation means shipping a new package whose key set holds both keys (see
    /// `smd-cli edge package`); keep token lifetimes shorter than the rotation interval.
    Rotate {
        /// The key-set file to rotate in place.
        #[arg(long, value_name = "FILE")]
        keys: PathBuf,
    },
    /// Show the kids of a key set (never the keys).
    Show {
        /// The key-set file (or $SMD_KEYS).
        #[arg(long, value_name = "FILE")]
        keys: Option<PathBuf>,
    },
}

/// Runs a `keys` subcommand.
pub(crate) fn run(cmd: KeysCommand, json: bool) -> anyhow::Result<ExitCode> {
    match cmd {
        KeysCommand::Generate { out, force } => {
            let keys = KeySet::generate(support::now(None), random_key_bytes().as_slice())?;
            let text = keys.expose_json();
            match &out {
                Some(path) => {
                    if path.exists() && !force {
                        bail!(
                            "{} exists; pass --force to overwrite it (its keys would be lost)",
                            path.display()
                        );
                    }
                    write_atomic(path, text.as_bytes(), true)?;
                    if json {
                        print_json(
                            &json!({"kid": keys.primary().kid(), "path": path.display().to_string()}),
                        )?;
                    } else {
                        errln!("generated key {} in {}", keys.primary().kid(), path.display());
                    }
                }
                None => out!("{}", text.as_str())?,
            }
        }
        KeysCommand::Rotate { keys: path } => {
            let old = load_keys(Some(&path))?;
            let dropped = old.secondary().map(|k| k.kid().to_owned());
            let new_primary =
                SigningKey::generate(support::now(None), random_key_bytes().as_slice())?;
            let rotated = old.rotate(new_primary);
            write_atomic(&path, rotated.expose_json().as_bytes(), true)
                .with_context(|| format!("writing rotated keys to {}", path.display()))?;
            let secondary = rotated.secondary().map(|k| k.kid().to_owned());
            if json {
                print_json(
                    &json!({"primary": rotated.primary().kid(), "secondary": secondary, "dropped": dropped}),
                )?;
            } else {
                outln!("primary   {}", rotated.primary().kid())?;
                outln!("secondary {}", secondary.unwrap_or_default())?;
                if let Some(dropped) = dropped {
                    errln!("dropped {dropped}: tokens signed with it no longer verify");
                }
            }
        }
        KeysCommand::Show { keys } => {
            let keys = load_keys(keys.as_deref())?;
            let secondary = keys.secondary().map(|k| k.kid().to_owned());
            if json {
                print_json(&json!({"primary": keys.primary().kid(), "secondary": secondary}))?;
            } else {
                outln!("primary   {}", keys.primary().kid())?;
                if let Some(secondary) = secondary {
                    outln!("secondary {secondary}")?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn random_key_bytes() -> Zeroizing<[u8; KEY_ENTROPY_BYTES]> {
    let mut buf = Zeroizing::new([0u8; KEY_ENTROPY_BYTES]);
    support::fill_random(buf.as_mut());
    buf
}
