//! WebAssembly surface of `token-core` for a Lambda@Edge viewer-request handler.
//!
//! Not built yet beyond this placeholder: the `wasm-bindgen` surface, the Node handler and the
//! packaging live here once the edge work lands. The crate exists so the workspace layout is
//! complete and the dependency direction (`edge-wasm` → `token-core`) is enforced from day one.

/// The version of `token-core` this crate wraps.
pub fn core_version() -> &'static str {
    token_core::VERSION
}
