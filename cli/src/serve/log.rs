//! One CloudFront real-time log line per request, written the way CloudFront writes them:
//! canonical field order, tab-separated, `-` for empty, the 18 `cmcd-*` fields filled from the
//! request's CMCD (headers win over the query, as CTA-5004 requires of receivers).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use hyper::{Method, Response};
use token_core::cmcd::{self, Policy, Report};
use tokio::sync::mpsc;

use super::Body;

/// Every CloudFront real-time log field, in the order CloudFront writes them.
pub(crate) const ALL_FIELDS: [&str; 69] = [
    "timestamp",
    "c-ip",
    "s-ip",
    "time-to-first-byte",
    "sc-status",
    "sc-bytes",
    "cs-method",
    "cs-protocol",
    "cs-host",
    "cs-uri-stem",
    "cs-bytes",
    "x-edge-location",
    "x-edge-request-id",
    "x-host-header",
    "time-taken",
    "cs-protocol-version",
    "c-ip-version",
    "cs-user-agent",
    "cs-referer",
    "cs-cookie",
    "cs-uri-query",
    "x-edge-response-result-type",
    "x-forwarded-for",
    "ssl-protocol",
    "ssl-cipher",
    "x-edge-result-type",
    "fle-encrypted-fields",
    "fle-status",
    "sc-content-type",
    "sc-content-len",
    "sc-range-start",
    "sc-range-end",
    "c-port",
    "x-edge-detailed-result-type",
    "c-country",
    "cs-accept-encoding",
    "cs-accept",
    "cache-behavior-path-pattern",
    "cs-headers",
    "cs-header-names",
    "cs-headers-count",
    "primary-distribution-id",
    "primary-distribution-dns-name",
    "origin-fbl",
    "origin-lbl",
    "asn",
    "cmcd-encoded-bitrate",
    "cmcd-buffer-length",
    "cmcd-buffer-starvation",
    "cmcd-content-id",
    "cmcd-object-duration",
    "cmcd-deadline",
    "cmcd-measured-throughput",
    "cmcd-next-object-request",
    "cmcd-next-range-request",
    "cmcd-object-type",
    "cmcd-playback-rate",
    "cmcd-requested-maximum-throughput",
    "cmcd-streaming-format",
    "cmcd-session-id",
    "cmcd-stream-type",
    "cmcd-startup",
    "cmcd-top-bitrate",
    "cmcd-version",
    "r-host",
    "sr-reason",
    "x-edge-mqcs",
    "distribution-tenant-id",
    "connection-id",
];

/// Sorts a configured field list into canonical order; unknown names are an error.
pub(crate) fn canonical_fields(names: &[String]) -> anyhow::Result<Vec<String>> {
    for n in names {
        anyhow::ensure!(
            ALL_FIELDS.contains(&n.as_str()),
            "unknown CloudFront real-time log field {n:?}"
        );
    }
    Ok(ALL_FIELDS
        .iter()
        .filter(|f| names.iter().any(|n| n == *f))
        .map(|f| (*f).to_owned())
        .collect())
}

/// Where log lines go.
#[derive(Debug, Clone)]
pub(crate) struct LogSink {
    tx: mpsc::UnboundedSender<String>,
    fields: std::sync::Arc<Vec<String>>,
}

impl LogSink {
    /// Starts a writer task appending lines to `path` (`-` = stdout) with the given field list
    /// (CloudFront field names; written in canonical order whatever order they are given in).
    pub(crate) fn start(
        path: &Path,
        fields: Vec<String>,
    ) -> anyhow::Result<(Self, tokio::task::JoinHandle<()>)> {
        let mut out: Box<dyn std::io::Write + Send> = if path == Path::new("-") {
            Box::new(std::io::stdout())
        } else {
            Box::new(std::fs::OpenOptions::new().create(true).append(true).open(path)?)
        };
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let handle = tokio::task::spawn_blocking(move || {
            let mut buf = std::io::BufWriter::with_capacity(64 * 1024, &mut out);
            while let Some(line) = rx.blocking_recv() {
                let _ = buf.write_all(line.as_bytes());
                // Flush when the queue runs dry so a reader sees complete lines promptly.
                if rx.is_empty() {
                    let _ = buf.flush();
                }
            }
            let _ = buf.flush();
        });
        Ok((Self { tx, fields: std::sync::Arc::new(fields) }, handle))
    }

    /// Queues the line for `log`.
    pub(crate) fn write(&self, log: &RequestLog) {
        let _ = self.tx.send(log.to_line(&self.fields));
    }
}

/// What the edge knows about one request when it writes the log line.
#[derive(Debug)]
pub(crate) struct RequestLog {
    wall: Duration,
    peer: SocketAddr,
    local: SocketAddr,
    method: String,
    uri_stem: String,
    query: Option<String>,
    headers: Vec<(String, String)>,
    connection_id: String,
    request_id: String,
    pub(crate) cs_bytes: u64,
    pub(crate) host: Option<String>,
    pub(crate) result_type: &'static str,
    pub(crate) rejection: Option<&'static str>,
    pub(crate) session_from_token: Option<String>,
    pub(crate) origin_seconds: Option<f64>,
    pub(crate) validation_micros: u128,
    status: u16,
    sc_bytes: u64,
    content_type: Option<String>,
    content_len: Option<u64>,
    range: Option<(u64, u64)>,
    time_taken: f64,
}

impl RequestLog {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        wall: Duration,
        peer: SocketAddr,
        local: SocketAddr,
        method: &Method,
        path: &str,
        query: Option<&str>,
        headers: &[(String, String)],
        connection_id: &str,
    ) -> Self {
        Self {
            wall,
            peer,
            local,
            method: method.as_str().to_owned(),
            uri_stem: path.to_owned(),
            query: query.map(str::to_owned),
            headers: headers.to_vec(),
            connection_id: connection_id.to_owned(),
            request_id: request_id(),
            cs_bytes: 0,
            host: None,
            result_type: "Error",
            rejection: None,
            session_from_token: None,
            origin_seconds: None,
            validation_micros: 0,
            status: 0,
            sc_bytes: 0,
            content_type: None,
            content_len: None,
            range: None,
            time_taken: 0.0,
        }
    }

    /// Records what was sent back.
    pub(crate) fn finish(&mut self, res: &Response<Body>, elapsed: Duration) {
        use hyper::body::Body as _;
        self.status = res.status().as_u16();
        let header_bytes: usize =
            res.headers().iter().map(|(k, v)| k.as_str().len() + v.len() + 4).sum();
        let body = res.body().size_hint().exact().unwrap_or(0);
        self.sc_bytes = body + header_bytes as u64 + 17;
        self.content_type =
            res.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
        self.content_len = res
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok());
        self.range = res
            .headers()
            .get("content-range")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("bytes "))
            .and_then(|v| v.split_once('/'))
            .and_then(|(r, _)| r.split_once('-'))
            .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
        self.time_taken = elapsed.as_secs_f64();
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The value of one CloudFront field, `None` when CloudFront would write `-`.
    pub(crate) fn field(&self, name: &str, cmcd: Option<&Report>) -> Option<String> {
        let secs = |s: f64| format!("{s:.3}");
        let v = match name {
            "timestamp" => format!("{}.{:03}", self.wall.as_secs(), self.wall.subsec_millis()),
            "c-ip" => self.peer.ip().to_string(),
            "s-ip" => self.local.ip().to_string(),
            "time-to-first-byte" => secs(self.time_taken),
            "sc-status" => self.status.to_string(),
            "sc-bytes" => self.sc_bytes.to_string(),
            "cs-method" => self.method.clone(),
            "cs-protocol" => "http".to_owned(),
            "cs-host" | "x-host-header" => self.host.clone()?,
            "cs-uri-stem" => match &self.query {
                Some(q) => format!("{}?{q}", self.uri_stem),
                None => self.uri_stem.clone(),
            },
            "cs-bytes" => self.cs_bytes.to_string(),
            "x-edge-location" => "LCL50-C1".to_owned(),
            "x-edge-request-id" => self.request_id.clone(),
            "time-taken" => secs(self.time_taken),
            "cs-protocol-version" => "HTTP/1.1".to_owned(),
            "c-ip-version" => if self.peer.is_ipv4() { "IPv4" } else { "IPv6" }.to_owned(),
            "cs-user-agent" => self.header("user-agent")?.to_owned(),
            "cs-referer" => self.header("referer")?.to_owned(),
            "cs-cookie" => self.header("cookie")?.to_owned(),
            "cs-uri-query" => self.query.clone()?,
            "x-edge-response-result-type"
            | "x-edge-result-type"
            | "x-edge-detailed-result-type" => self.result_type.to_owned(),
            "x-forwarded-for" => self.header("x-forwarded-for")?.to_owned(),
            "sc-content-type" => self.content_type.clone()?,
            "sc-content-len" => self.content_len?.to_string(),
            "sc-range-start" => self.range?.0.to_string(),
            "sc-range-end" => self.range?.1.to_string(),
            "c-port" => self.peer.port().to_string(),
            "c-country" => self.header("cloudfront-viewer-country")?.to_owned(),
            "cs-accept-encoding" => self.header("accept-encoding")?.to_owned(),
            "cs-accept" => self.header("accept")?.to_owned(),
            "cache-behavior-path-pattern" => "*".to_owned(),
            "cs-headers" => {
                let joined: Vec<String> =
                    self.headers.iter().map(|(k, v)| format!("{k}:{v}")).collect();
                truncate(&joined.join("\n"), 800)
            }
            "cs-header-names" => {
                let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
                truncate(&names.join("\n"), 800)
            }
            "cs-headers-count" => self.headers.len().to_string(),
            "primary-distribution-id" => "ELOCALSMDEDGE1".to_owned(),
            "primary-distribution-dns-name" => "localhost".to_owned(),
            "origin-fbl" | "origin-lbl" => secs(self.origin_seconds?),
            "connection-id" => self.connection_id.clone(),
            cmcd_field if cmcd_field.starts_with("cmcd-") => cmcd_cell(cmcd_field, cmcd?)?,
            _ => return None,
        };
        Some(v)
    }

    /// The line for `fields` (canonical order), newline-terminated.
    pub(crate) fn to_line(&self, fields: &[String]) -> String {
        let headers: Vec<(&str, &str)> =
            self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let cmcd =
            cmcd::decode_request(self.query.as_deref().unwrap_or(""), headers, Policy::Lenient)
                .ok();
        let mut line = String::with_capacity(512);
        for (i, name) in fields.iter().enumerate() {
            if i > 0 {
                line.push('\t');
            }
            match self.field(name, cmcd.as_ref()) {
                Some(v) if !v.is_empty() => push_cell(&mut line, name, &v),
                _ => line.push('-'),
            }
        }
        line.push('\n');
        line
    }
}

/// CloudFront URL-encodes header-derived fields; every cell is kept free of tabs and newlines.
fn push_cell(line: &mut String, name: &str, value: &str) {
    let encode_all = matches!(
        name,
        "cs-user-agent"
            | "cs-referer"
            | "cs-cookie"
            | "cs-headers"
            | "cs-header-names"
            | "cs-accept"
            | "cs-accept-encoding"
    );
    for b in value.bytes() {
        let escape = !(0x21..0x7f).contains(&b)
            || (encode_all
                && matches!(
                    b,
                    b'%' | b'"' | b'\\' | b'<' | b'>' | b'{' | b'}' | b'|' | b'^' | b'`'
                ));
        if escape {
            line.push_str(&format!("%{b:02X}"));
        } else {
            line.push(char::from(b));
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// The cell CloudFront writes for a `cmcd-*` field: the v1 value (first member of a v2 list),
/// strings unquoted, booleans `true`.
fn cmcd_cell(field: &str, r: &Report) -> Option<String> {
    Some(match field {
        "cmcd-encoded-bitrate" => r.br()?.first()?.to_string(),
        "cmcd-buffer-length" => r.bl()?.first()?.to_string(),
        "cmcd-buffer-starvation" => r.bs()?.to_string(),
        "cmcd-content-id" => r.cid()?.to_owned(),
        "cmcd-object-duration" => r.d()?.to_string(),
        "cmcd-deadline" => r.dl()?.to_string(),
        "cmcd-measured-throughput" => r.mtp()?.first()?.to_string(),
        "cmcd-next-object-request" => r.nor()?.first()?.url.clone(),
        "cmcd-next-range-request" => r.nrr()?.to_owned(),
        "cmcd-object-type" => r.ot()?.to_string(),
        "cmcd-playback-rate" => r.pr()?.to_string(),
        "cmcd-requested-maximum-throughput" => r.rtp()?.to_string(),
        "cmcd-streaming-format" => r.sf()?.to_string(),
        "cmcd-session-id" => r.sid()?.to_owned(),
        "cmcd-stream-type" => r.st()?.to_string(),
        "cmcd-startup" => r.su()?.to_string(),
        "cmcd-top-bitrate" => r.tb()?.first()?.to_string(),
        "cmcd-version" => r.v()?.to_string(),
        _ => return None,
    })
}

/// A CloudFront-style request id: 56 characters of base64 with `==` padding.
fn request_id() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 40];
    crate::support::fill_random(&mut bytes);
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A random lowercase alphanumeric id.
pub(crate) fn random_id(len: usize) -> String {
    const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = vec![0u8; len];
    crate::support::fill_random(&mut bytes);
    bytes.iter().map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()])).collect()
}
