//! Sans-IO core of the SMD toolkit: Secure Media Delivery (SMD) edge tokens and CMCD.
//!
//! placeholder — crate docs are written with the token module.

#![warn(clippy::indexing_slicing)]

pub mod cmcd;
#[doc(hidden)]
pub mod fuzzing;

/// The version of this crate, for `--version` output and package metadata.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
