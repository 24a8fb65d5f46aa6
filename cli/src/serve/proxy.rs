//! An HTTP origin: the forwarded URI is appended to the origin's base URL.

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::header::HeaderName;
use hyper::{Request, Response, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::{Body, empty};

/// Request headers passed to the origin.
const FORWARD: [&str; 7] = [
    "range",
    "accept",
    "accept-encoding",
    "user-agent",
    "if-none-match",
    "if-modified-since",
    "referer",
];
/// Response headers passed back.
const RETURN: [&str; 7] = [
    "content-type",
    "content-range",
    "cache-control",
    "etag",
    "last-modified",
    "accept-ranges",
    "content-encoding",
];
/// Largest origin response held in memory.
const MAX_BODY: usize = 512 * 1024 * 1024;

/// A plain-HTTP origin (`http://host:port[/prefix]`).
#[derive(Debug)]
pub(crate) struct HttpOrigin {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl HttpOrigin {
    /// Parses the origin URL; only `http://` is supported.
    pub(crate) fn new(url: &str) -> anyhow::Result<Self> {
        let uri: Uri = url.parse()?;
        anyhow::ensure!(
            uri.scheme_str() == Some("http"),
            "origin {url:?}: only http:// origins are supported locally"
        );
        anyhow::ensure!(uri.authority().is_some(), "origin {url:?} has no host");
        let base = url.trim_end_matches('/').to_owned();
        Ok(Self { base, client: Client::builder(TokioExecutor::new()).build_http() })
    }

    /// Fetches `forwarded_uri` (plus the viewer's query) from the origin.
    pub(crate) async fn fetch(
        &self,
        viewer: &hyper::http::request::Parts,
        forwarded_uri: &str,
        query: Option<&str>,
    ) -> Response<Body> {
        let target = match query {
            Some(q) => format!("{}{forwarded_uri}?{q}", self.base),
            None => format!("{}{forwarded_uri}", self.base),
        };
        let Ok(uri) = target.parse::<Uri>() else { return empty(StatusCode::BAD_REQUEST) };
        let mut req = Request::builder().method(viewer.method.clone()).uri(uri);
        for name in FORWARD {
            if let Some(v) = viewer.headers.get(name) {
                req = req.header(name, v);
            }
        }
        let Ok(req) = req.body(Full::new(Bytes::new())) else {
            return empty(StatusCode::BAD_REQUEST);
        };
        let Ok(res) = self.client.request(req).await else { return empty(StatusCode::BAD_GATEWAY) };
        let (parts, body) = res.into_parts();
        let Ok(collected) = http_body_util::Limited::new(body, MAX_BODY).collect().await else {
            return empty(StatusCode::BAD_GATEWAY);
        };
        let mut out = Response::new(Full::new(collected.to_bytes()));
        *out.status_mut() = parts.status;
        for name in RETURN {
            if let Some(v) = parts.headers.get(name) {
                out.headers_mut().insert(HeaderName::from_static(name), v.clone());
            }
        }
        out
    }
}
