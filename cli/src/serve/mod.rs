//! `smd-cli edge serve`: a local stand-in for a CloudFront cache behaviour with the token check
//! attached. It validates the path token with the same `token-core` code the Lambda@Edge package
//! runs, strips it, serves the origin (a directory, an HTTP origin or the built-in live loop
//! channel), answers CORS the way a player-facing distribution is configured, and writes one
//! CloudFront real-time log line per request.

pub(crate) mod cors;
pub(crate) mod files;
pub(crate) mod live;
pub(crate) mod log;
pub(crate) mod proxy;

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::header::{HOST, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use token_core::UnixTime;
use token_core::token::{Request as TokenRequest, Verifier};
use tokio::net::TcpListener;

use self::log::{LogSink, RequestLog};

/// Where accepted requests go.
#[derive(Debug)]
pub(crate) enum Origin {
    /// Files under a directory (content types, byte ranges).
    Dir(PathBuf),
    /// An HTTP origin (`http://host:port/prefix`).
    Url(Box<proxy::HttpOrigin>),
    /// The built-in live loop channel (rolling HLS playlists over a synthetic segment set).
    Live(Arc<live::LoopChannel>),
}

/// Everything a request handler needs.
#[derive(Debug)]
pub(crate) struct Edge {
    pub(crate) verifier: Verifier,
    pub(crate) origin: Origin,
    pub(crate) log: Option<LogSink>,
    /// Status for rejected tokens (403, or 401 as SMD answers); revoked sessions always get 403.
    pub(crate) reject_status: StatusCode,
    /// A tiny cache model: the first request of a forwarded URI is a Miss, later ones are Hits.
    seen: Mutex<HashSet<String>>,
    /// Counters for the summary of a run.
    pub(crate) stats: Mutex<EdgeStats>,
}

/// What the edge counted.
#[derive(Debug, Default)]
pub(crate) struct EdgeStats {
    /// Requests answered.
    pub(crate) requests: u64,
    /// Rejections by code.
    pub(crate) rejections: std::collections::BTreeMap<&'static str, u64>,
    /// Token validation times in microseconds (one per validated request).
    pub(crate) validation_micros: Vec<u32>,
}

impl EdgeStats {
    /// The `q` quantile (0–1) of validation time in microseconds.
    pub(crate) fn validation_quantile(&self, q: f64) -> Option<u32> {
        let mut v = self.validation_micros.clone();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let i = ((v.len() - 1) as f64 * q).round() as usize;
        v.get(i).copied()
    }
}

impl Edge {
    pub(crate) fn new(
        verifier: Verifier,
        origin: Origin,
        log: Option<LogSink>,
        reject_status: StatusCode,
    ) -> Self {
        Self {
            verifier,
            origin,
            log,
            reject_status,
            seen: Mutex::new(HashSet::new()),
            stats: Mutex::new(EdgeStats::default()),
        }
    }
}

/// Serves until `shutdown` resolves, then stops accepting and returns.
pub(crate) async fn serve(
    listener: TcpListener,
    edge: Arc<Edge>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            () = &mut shutdown => return Ok(()),
        };
        let local = stream.local_addr().unwrap_or(peer);
        let edge = Arc::clone(&edge);
        let connection_id = log::random_id(12);
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let edge = Arc::clone(&edge);
                let connection_id = connection_id.clone();
                async move { Ok::<_, Infallible>(handle(&edge, req, peer, local, &connection_id).await) }
            });
            // Connection errors (client went away mid-response) are the client's business.
            let _ = hyper::server::conn::http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// One response body type for everything.
pub(crate) type Body = Full<Bytes>;

pub(crate) fn empty(status: StatusCode) -> Response<Body> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = status;
    res
}

async fn handle(
    edge: &Edge,
    req: Request<Incoming>,
    peer: SocketAddr,
    local: SocketAddr,
    connection_id: &str,
) -> Response<Body> {
    let started = Instant::now();
    let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let (parts, body) = req.into_parts();
    // Drain a request body (players send none on GET; bounded for anything else).
    let body_len = match http_body_util::Limited::new(body, 64 * 1024).collect().await {
        Ok(collected) => collected.to_bytes().len(),
        Err(_) => 0,
    };
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().map(str::to_owned);
    let headers: Vec<(String, String)> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();

    let mut log = RequestLog::new(
        wall,
        peer,
        local,
        &parts.method,
        &path,
        query.as_deref(),
        &headers,
        connection_id,
    );
    log.cs_bytes = approx_request_bytes(&parts, body_len);

    let mut response = if parts.method == Method::OPTIONS {
        log.result_type = "Hit";
        cors::preflight()
    } else if parts.method != Method::GET && parts.method != Method::HEAD {
        log.result_type = "Error";
        empty(StatusCode::METHOD_NOT_ALLOWED)
    } else {
        let pairs: Vec<(&str, &str)> =
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let query_pairs: Vec<(&str, &str)> = query
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .collect();
        let ip = peer.ip().to_string();
        let token_request =
            TokenRequest { uri: &path, viewer_ip: Some(&ip), headers: &pairs, query: &query_pairs };
        let now = UnixTime::from_millis(i64::try_from(wall.as_millis()).unwrap_or(i64::MAX));
        let verify_started = Instant::now();
        let outcome = edge.verifier.verify(&token_request, now);
        log.validation_micros = verify_started.elapsed().as_micros();
        match outcome {
            Err(err) => {
                log.result_type = "Error";
                log.rejection = Some(err.code());
                let status = if err.code() == "revoked" {
                    StatusCode::FORBIDDEN
                } else {
                    edge.reject_status
                };
                empty(status)
            }
            Ok(accepted) => {
                log.session_from_token = accepted.session_id.clone();
                let hit = edge
                    .seen
                    .lock()
                    .map(|mut seen| !seen.insert(accepted.forwarded_uri.clone()))
                    .unwrap_or(false);
                let origin_started = Instant::now();
                let res = match &edge.origin {
                    Origin::Dir(root) => {
                        files::serve(
                            root,
                            &accepted.forwarded_uri,
                            &parts.headers,
                            parts.method == Method::HEAD,
                        )
                        .await
                    }
                    Origin::Url(origin) => {
                        origin.fetch(&parts, &accepted.forwarded_uri, query.as_deref()).await
                    }
                    Origin::Live(channel) => {
                        channel.serve(&accepted.forwarded_uri, &parts.headers, wall)
                    }
                };
                log.result_type =
                    if res.status().is_client_error() || res.status().is_server_error() {
                        "Error"
                    } else if hit {
                        "Hit"
                    } else {
                        log.origin_seconds = Some(origin_started.elapsed().as_secs_f64());
                        "Miss"
                    };
                res
            }
        }
    };
    cors::decorate(response.headers_mut());
    response.headers_mut().insert(
        "x-cache",
        HeaderValue::from_static(match log.result_type {
            "Hit" => "Hit from smd-edge",
            "Miss" => "Miss from smd-edge",
            _ => "Error from smd-edge",
        }),
    );
    if let Some(host) = parts.headers.get(HOST).and_then(|h| h.to_str().ok()) {
        log.host = Some(host.to_owned());
    }
    log.finish(&response, started.elapsed());
    if let Ok(mut stats) = edge.stats.lock() {
        stats.requests += 1;
        if let Some(code) = log.rejection {
            *stats.rejections.entry(code).or_default() += 1;
        }
        if parts.method == Method::GET || parts.method == Method::HEAD {
            stats.validation_micros.push(u32::try_from(log.validation_micros).unwrap_or(u32::MAX));
        }
    }
    if let Some(sink) = &edge.log {
        sink.write(&log);
    }
    response
}

fn approx_request_bytes(parts: &hyper::http::request::Parts, body_len: usize) -> u64 {
    let line = parts.method.as_str().len() + parts.uri.to_string().len() + 12;
    let headers: usize = parts.headers.iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
    (line + headers + 2 + body_len) as u64
}
