//! Invariant checks shared by the `fuzz/` targets and by stable tests over the seed corpus.
//!
//! Not part of the supported API: each function panics when an invariant breaks, which is what a
//! fuzzer needs.

pub mod cmcd;
pub mod token;
