//! CORS as a player-facing CloudFront distribution is configured: any origin may read, the CMCD
//! request headers and `Range` may be sent, the range and length headers may be read.

use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Response, StatusCode};

use super::{Body, empty};

const ALLOW_HEADERS: &str =
    "CMCD-Object, CMCD-Request, CMCD-Session, CMCD-Status, Range, Content-Type";
const EXPOSE_HEADERS: &str = "Content-Length, Content-Range, Accept-Ranges, X-Cache";

/// Adds the CORS headers every response carries.
pub(crate) fn decorate(headers: &mut HeaderMap) {
    headers.insert("access-control-allow-origin", HeaderValue::from_static("*"));
    headers.insert("access-control-expose-headers", HeaderValue::from_static(EXPOSE_HEADERS));
}

/// The answer to an `OPTIONS` preflight (no token check: browsers send preflights without
/// credentials, and a CloudFront response-headers policy answers them the same way).
pub(crate) fn preflight() -> Response<Body> {
    let mut res = empty(StatusCode::NO_CONTENT);
    let h = res.headers_mut();
    h.insert("access-control-allow-methods", HeaderValue::from_static("GET, HEAD, OPTIONS"));
    h.insert("access-control-allow-headers", HeaderValue::from_static(ALLOW_HEADERS));
    h.insert("access-control-max-age", HeaderValue::from_static("600"));
    res
}
