//! Lambda@Edge request objects and option objects → `token-core` types.

use js_sys::{Array, Object, Reflect};
use token_core::token::{Request, VerifyOptions};
use wasm_bindgen::{JsCast as _, JsValue};

/// Most headers and query parameters read from one request; the rest are ignored.
const MAX_FIELDS: usize = 128;

/// The owned facts of one viewer request.
#[derive(Debug, Default)]
pub(crate) struct Facts {
    uri: String,
    client_ip: Option<String>,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
}

impl Facts {
    /// Reads `{uri, querystring, clientIp, headers: {name: [{key, value}]}}`.
    pub(crate) fn from_lambda_edge(request: &JsValue) -> Result<Self, ()> {
        if !request.is_object() {
            return Err(());
        }
        let uri = get(request, "uri").as_string().ok_or(())?;
        let client_ip = get(request, "clientIp").as_string();
        let querystring = get(request, "querystring").as_string().unwrap_or_default();
        let query = split_query(&querystring)
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let mut headers = Vec::new();
        let header_obj = get(request, "headers");
        if header_obj.is_object() {
            let entries = Object::entries(header_obj.unchecked_ref());
            for entry in entries.iter().take(MAX_FIELDS) {
                let entry: Array = entry.unchecked_into();
                let (Some(name), list) = (entry.get(0).as_string(), entry.get(1)) else { continue };
                // Lambda@Edge gives each header as a list of {key, value}; the first counts.
                let first = if Array::is_array(&list) {
                    list.unchecked_ref::<Array>().get(0)
                } else {
                    list
                };
                if let Some(value) = get(&first, "value").as_string() {
                    headers.push((name.to_ascii_lowercase(), value));
                }
            }
        }
        Ok(Self { uri, client_ip, headers, query })
    }

    /// Runs `f` with a borrowed [`Request`] over these facts.
    pub(crate) fn with_request<T>(&self, f: impl FnOnce(&Request<'_>) -> T) -> T {
        let headers: Vec<(&str, &str)> =
            self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let query: Vec<(&str, &str)> =
            self.query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        f(&Request {
            uri: &self.uri,
            viewer_ip: self.client_ip.as_deref(),
            headers: &headers,
            query: &query,
        })
    }
}

/// A request as JavaScript encodes it into the request buffer: `uri ip querystring` back to back,
/// then the header block (`name\0value\0…`).
#[derive(Debug)]
pub(crate) struct BufferParts<'a> {
    pub(crate) uri: &'a str,
    pub(crate) client_ip: &'a str,
    pub(crate) querystring: &'a str,
    pub(crate) headers: &'a str,
}

impl<'a> BufferParts<'a> {
    /// Splits the first `total_len` bytes of `buffer`; `None` when the lengths do not fit or the
    /// bytes are not UTF-8.
    pub(crate) fn split(
        buffer: &'a [u8],
        uri_len: usize,
        ip_len: usize,
        qs_len: usize,
        total_len: usize,
    ) -> Option<Self> {
        let text = std::str::from_utf8(buffer.get(..total_len)?).ok()?;
        let (uri, rest) = text.split_at_checked(uri_len)?;
        let (client_ip, rest) = rest.split_at_checked(ip_len)?;
        let (querystring, headers) = rest.split_at_checked(qs_len)?;
        Some(Self { uri, client_ip, querystring, headers })
    }
}

/// A raw query string (`a=1&b=2`, not decoded, as Lambda@Edge gives it) as pairs.
pub(crate) fn split_query(querystring: &str) -> Vec<(&str, &str)> {
    querystring
        .split('&')
        .filter(|p| !p.is_empty())
        .take(MAX_FIELDS)
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect()
}

/// `name<sep>value<sep>name<sep>value…` as pairs (a trailing odd field is ignored).
pub(crate) fn split_pairs(text: &str, sep: char) -> Vec<(&str, &str)> {
    let mut fields = text.split(sep);
    let mut out = Vec::new();
    while let (Some(name), Some(value)) = (fields.next(), fields.next()) {
        if out.len() == MAX_FIELDS {
            break;
        }
        out.push((name, value));
    }
    out
}

/// `{profile?, leewaySecs?}` → options.
pub(crate) fn options(value: &JsValue) -> Result<VerifyOptions, String> {
    let mut options = crate::default_options();
    if value.is_undefined() || value.is_null() {
        return Ok(options);
    }
    if !value.is_object() {
        return Err("options must be an object".into());
    }
    let profile = get(value, "profile");
    if let Some(name) = profile.as_string() {
        options.profile =
            crate::parse_profile(&name).ok_or_else(|| format!("unknown profile {name:?}"))?;
    } else if !profile.is_undefined() {
        return Err("profile must be a string".into());
    }
    let leeway = get(value, "leewaySecs");
    if let Some(secs) = leeway.as_f64() {
        if !(0.0..=3600.0).contains(&secs) {
            return Err("leewaySecs must be between 0 and 3600".into());
        }
        options.leeway_secs = secs as u32;
    } else if !leeway.is_undefined() {
        return Err("leewaySecs must be a number".into());
    }
    Ok(options)
}

fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}
