//! The template's resources, one module per part of the stack.

pub(crate) mod athena;
pub(crate) mod edge;
pub(crate) mod ingest;
pub(crate) mod lake;
pub(crate) mod stream;
