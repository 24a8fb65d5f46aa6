//! `token-core` as WebAssembly for a Lambda@Edge viewer-request handler.
//!
//! A thin `wasm-bindgen` surface and nothing else: the validation logic is `token-core`'s, the
//! same code the CLI and the local edge run. JavaScript builds one [`Verifier`] per container from
//! the bundled key set, then calls [`Verifier::verify_request`] with the Lambda@Edge request
//! object (`Records[0].cf.request`) and `Date.now()`.
//!
//! The bundled handler (`js/smd-edge.js`) takes a faster way in, since crossing the boundary
//! costs more than checking the token: it encodes the request into the verifier's request buffer
//! ([`Verifier::request_buffer`]) and calls [`Verifier::verify_buffer`] with lengths only, which
//! answers with a number. Requests that are not ASCII go through [`Verifier::verify_parts`].
//!
//! # Boundary rules
//! - Rejections are values: `{ok: false, code, status}`. Only programmer errors (bad key JSON,
//!   bad options) throw, as a JS `Error` whose `code` property names the problem.
//! - The crate reads no clock: the handler passes `nowMs`.
//!
//! # What this crate does not do
//! No HTTP, no logging, no key fetching: the Node handler in `js/` does those. It does not
//! rewrite the request either; it returns the URI to forward and the handler sets it.

mod convert;

use js_sys::{Object, Reflect};
use token_core::UnixTime;
use token_core::token::{KeySet, Profile, RevocationList, VerifyError, VerifyOptions};
use wasm_bindgen::prelude::*;

/// A token verifier for one container's lifetime.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Verifier {
    inner: token_core::token::Verifier,
    /// The request buffer JavaScript encodes each request into (see [`Verifier::verify_buffer`]).
    buffer: Vec<u8>,
}

#[wasm_bindgen]
impl Verifier {
    /// Builds a verifier.
    ///
    /// - `keys_json`: `{"primary": {"<kid>": "<key>"}, "secondary": {"<kid>": "<key>"}}`.
    /// - `options`: `{profile?: "strict" | "smd-compat", leewaySecs?: number}` or `undefined`.
    /// - `revoked_json`: a revocation list (`{"revoked": [...]}`) or `undefined`.
    ///
    /// # Errors
    /// Throws an `Error` with `code` `bad_keys`, `bad_options` or `bad_revocations`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        keys_json: &str,
        options: JsValue,
        revoked_json: Option<String>,
    ) -> Result<Self, JsValue> {
        let keys =
            KeySet::from_json(keys_json).map_err(|e| coded_error("bad_keys", &e.to_string()))?;
        let options = convert::options(&options).map_err(|msg| coded_error("bad_options", &msg))?;
        let mut inner = token_core::token::Verifier::new(keys).with_options(options);
        if let Some(text) = revoked_json {
            let list = RevocationList::from_json(&text)
                .map_err(|e| coded_error("bad_revocations", &e.to_string()))?;
            inner = inner.with_revocations(list);
        }
        Ok(Self { inner, buffer: vec![0; INITIAL_BUFFER] })
    }

    /// Checks the token of a Lambda@Edge request (`{uri, querystring, clientIp, headers}` with
    /// headers as `{lowercase: [{key, value}]}`) at `now_ms` (milliseconds since the epoch).
    ///
    /// Returns `{ok: true, uri, sessionId}` (the URI to forward) or `{ok: false, code, status}`.
    /// A request object of the wrong shape is a rejection with code `malformed`, not an exception.
    #[wasm_bindgen(js_name = verifyRequest)]
    pub fn verify_request(&self, request: &JsValue, now_ms: f64) -> JsValue {
        let out = Object::new();
        let Ok(facts) = convert::Facts::from_lambda_edge(request) else {
            set(&out, "ok", &JsValue::FALSE);
            set(&out, "code", &JsValue::from_str("malformed"));
            set(&out, "status", &JsValue::from_f64(401.0));
            return out.into();
        };
        let now = UnixTime::from_millis(if now_ms.is_finite() { now_ms as i64 } else { 0 });
        match facts.with_request(|request| self.inner.verify(request, now)) {
            Ok(ok) => {
                set(&out, "ok", &JsValue::TRUE);
                set(&out, "uri", &JsValue::from_str(&ok.forwarded_uri));
                if let Some(sid) = &ok.session_id {
                    set(&out, "sessionId", &JsValue::from_str(sid));
                }
            }
            Err(err) => {
                set(&out, "ok", &JsValue::FALSE);
                set(&out, "code", &JsValue::from_str(err.code()));
                set(&out, "status", &JsValue::from_f64(f64::from(err.http_status())));
            }
        }
        out.into()
    }

    /// The string path of the bundled handler, for requests that are not ASCII (ASCII ones take
    /// [`Verifier::verify_buffer`]): the request as four strings, so one call crosses the
    /// JS/WebAssembly boundary with no object reads. `headers` is `name\0value\0name\0value…`
    /// (lower-case names, first value of each). Returns `+<uri to forward>` or `-<code>`.
    #[wasm_bindgen(js_name = verifyParts)]
    pub fn verify_parts(
        &self,
        uri: &str,
        client_ip: &str,
        querystring: &str,
        headers: &str,
        now_ms: f64,
    ) -> String {
        let header_pairs = convert::split_pairs(headers, '\0');
        let query_pairs = convert::split_query(querystring);
        let request = token_core::token::Request {
            uri,
            viewer_ip: (!client_ip.is_empty()).then_some(client_ip),
            headers: &header_pairs,
            query: &query_pairs,
        };
        let now = UnixTime::from_millis(if now_ms.is_finite() { now_ms as i64 } else { 0 });
        match self.inner.verify(&request, now) {
            Ok(ok) => format!("+{}", ok.forwarded_uri),
            Err(err) => format!("-{}", err.code()),
        }
    }

    /// Makes the request buffer at least `len` bytes long and returns its address in the module's
    /// linear memory ([`linear_memory`]). The address changes when the buffer grows; JavaScript
    /// asks again whenever a request does not fit.
    #[wasm_bindgen(js_name = requestBuffer)]
    pub fn request_buffer(&mut self, len: usize) -> usize {
        if self.buffer.len() < len {
            self.buffer = vec![0; len.next_power_of_two()];
        }
        self.buffer.as_ptr() as usize
    }

    /// The fastest path: JavaScript has written the request into the request buffer as
    /// `uri ip querystring headers` (the first three back to back, `uri_len`, `ip_len` and `qs_len`
    /// bytes; then `name\0value\0…` up to `total_len`), with `TextEncoder.encodeInto`, and only
    /// numbers cross the boundary.
    ///
    /// Returns `n ≥ 0` when the request is accepted: the URI to forward is the request URI from
    /// byte `n` (what Lambda@Edge's `/`-rooted URIs always give), or, when `n` has the bit
    /// `1 << 30` set, bytes `n - (1 << 30)..uri_len` of the buffer, where it was written because it
    /// is not the URI's tail. Returns `-1 - i` when the request is rejected with code
    /// `rejectionCodes()[i]`. A buffer that is not UTF-8, lengths that do not add up, or a buffer
    /// of 1 GiB or more are rejected as `malformed`.
    #[wasm_bindgen(js_name = verifyBuffer)]
    pub fn verify_buffer(
        &mut self,
        uri_len: usize,
        ip_len: usize,
        qs_len: usize,
        total_len: usize,
        now_ms: f64,
    ) -> i32 {
        let parts = convert::BufferParts::split(&self.buffer, uri_len, ip_len, qs_len, total_len);
        let Some(parts) = parts.filter(|_| total_len < REWRITTEN as usize) else {
            return rejection_index("malformed");
        };
        let header_pairs = convert::split_pairs(parts.headers, '\0');
        let query_pairs = convert::split_query(parts.querystring);
        let request = token_core::token::Request {
            uri: parts.uri,
            viewer_ip: (!parts.client_ip.is_empty()).then_some(parts.client_ip),
            headers: &header_pairs,
            query: &query_pairs,
        };
        let now = UnixTime::from_millis(if now_ms.is_finite() { now_ms as i64 } else { 0 });
        let forwarded = match self.inner.verify(&request, now) {
            Ok(ok) => ok.forwarded_uri,
            Err(err) => return rejection_index(err.code()),
        };
        // Lambda@Edge URIs start with `/`, so the forwarded URI is the URI's tail; otherwise it
        // is written over the end of the URI (it is never longer than the URI).
        let Some(start) = uri_len.checked_sub(forwarded.len()) else {
            return rejection_index("malformed");
        };
        let start_code = i32::try_from(start).unwrap_or(i32::MAX);
        match self.buffer.get_mut(start..uri_len) {
            Some(tail) if tail == forwarded.as_bytes() => start_code,
            Some(tail) => {
                tail.copy_from_slice(forwarded.as_bytes());
                start_code | REWRITTEN
            }
            None => rejection_index("malformed"),
        }
    }

    /// The profile in force: `strict` or `smd-compat`.
    #[wasm_bindgen(getter)]
    pub fn profile(&self) -> String {
        self.inner.options().profile.name().to_owned()
    }
}

/// The `token-core` version compiled into this module.
#[wasm_bindgen(js_name = coreVersion)]
pub fn core_version() -> String {
    token_core::VERSION.to_owned()
}

/// The rejection codes [`Verifier::verify_buffer`] refers to by index, comma-separated.
#[wasm_bindgen(js_name = rejectionCodes)]
pub fn rejection_codes() -> String {
    VerifyError::CODES.join(",")
}

/// The module's linear memory, where [`Verifier::request_buffer`] addresses point.
#[wasm_bindgen(js_name = linearMemory)]
pub fn linear_memory() -> JsValue {
    wasm_bindgen::memory()
}

/// Initial size of a verifier's request buffer; requests beyond it grow the buffer.
const INITIAL_BUFFER: usize = 4096;

/// Flag on [`Verifier::verify_buffer`]'s answer: the forwarded URI was written into the buffer.
const REWRITTEN: i32 = 1 << 30;

/// `-1 - i` for the code at index `i` of [`VerifyError::CODES`].
fn rejection_index(code: &str) -> i32 {
    let i = VerifyError::CODES.iter().position(|c| *c == code).unwrap_or(0);
    -1 - i32::try_from(i).unwrap_or(0)
}

fn set(obj: &Object, key: &str, value: &JsValue) {
    // Setting a data property on a fresh plain object cannot fail.
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

fn coded_error(code: &str, message: &str) -> JsValue {
    let err = js_sys::Error::new(&format!("{code}: {message}"));
    let _ = Reflect::set(&err, &JsValue::from_str("code"), &JsValue::from_str(code));
    err.into()
}

/// Parses the profile name used in options and configuration.
pub(crate) fn parse_profile(name: &str) -> Option<Profile> {
    match name {
        "strict" => Some(Profile::Strict),
        "smd-compat" => Some(Profile::SmdCompat),
        _ => None,
    }
}

/// Default options (strict, no leeway).
pub(crate) fn default_options() -> VerifyOptions {
    VerifyOptions::default()
}
