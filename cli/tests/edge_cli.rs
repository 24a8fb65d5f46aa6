//! `smd-cli edge serve` and `edge load` as a user runs them: a real server on 127.0.0.1, real
//! HTTP requests, the real-time log read back.

// Test helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::Scratch;
use serde_json::{Value, json};

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smd-cli"));
    cmd.env_remove("SMD_KEYS");
    cmd
}

fn scratch() -> Scratch {
    Scratch::new("smd-edge-test")
}

/// A running `edge serve`, stopped (SIGTERM, by PID) on drop.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(dir: &Path, extra: &[&str]) -> Self {
        let mut child = bin()
            .args(["edge", "serve", "--json", "--listen", "127.0.0.1:0", "--origin"])
            .arg(dir.join("media"))
            .arg("--keys")
            .arg(dir.join("keys.json"))
            .arg("--log")
            .arg(dir.join("edge.log"))
            .args(extra)
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        let started: Value = serde_json::from_str(&line).unwrap();
        Self { child, base: started["listening"].as_str().unwrap().to_owned() }
    }

    fn stop(mut self) {
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A minimal HTTP/1.1 client (one request per connection).
fn request(base: &str, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Reply { status, headers, body: raw[split + 4..].to_vec() }
}

fn setup() -> (Scratch, String) {
    let dir = scratch();
    std::fs::create_dir_all(dir.join("media/out/v1")).unwrap();
    std::fs::write(
        dir.join("media/out/v1/index.m3u8"),
        "#EXTM3U\n#EXT-X-TARGETDURATION:2\nseg_1.ts\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("media/out/v1/seg_1.ts"),
        (0..=255u8).cycle().take(10_000).collect::<Vec<_>>(),
    )
    .unwrap();
    std::fs::write(dir.join("secret.txt"), "do not serve").unwrap();
    assert!(
        bin()
            .args(["keys", "generate", "--out"])
            .arg(dir.join("keys.json"))
            .status()
            .unwrap()
            .success()
    );
    let out = bin()
        .args([
            "sign",
            "--url",
            "/out/v1/index.m3u8",
            "--session-id",
            "sessEDGE0001",
            "--ttl",
            "1h",
            "--keys",
        ])
        .arg(dir.join("keys.json"))
        .output()
        .unwrap();
    let signed = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let prefix = signed.trim_end_matches("/out/v1/index.m3u8").to_owned();
    (dir, prefix)
}

fn log_lines(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("edge.log"))
        .unwrap()
        .lines()
        .map(|l| l.split('\t').map(str::to_owned).collect())
        .collect()
}

#[test]
fn serves_validates_logs_and_answers_cors() {
    let (dir, prefix) = setup();
    let server = Server::start(&dir, &[]);

    let ok = request(
        &server.base,
        "GET",
        &format!("{prefix}/out/v1/index.m3u8"),
        &[("User-Agent", "test-player/1.0")],
    );
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("content-type"), Some("application/vnd.apple.mpegurl"));
    assert_eq!(ok.header("access-control-allow-origin"), Some("*"));
    assert!(ok.body.starts_with(b"#EXTM3U"));

    let cmcd =
        "CMCD=bl%3D21300%2Cbr%3D3200%2Cd%3D4004%2Cot%3Dv%2Csid%3D%22qs-session%22%2Ctb%3D6000";
    let range = request(
        &server.base,
        "GET",
        &format!("{prefix}/out/v1/seg_1.ts?{cmcd}"),
        &[
            ("Range", "bytes=100-199"),
            ("CMCD-Session", "sid=\"hdr-session\",sf=h,st=v"),
            ("CMCD-Object", "br=5000,ot=v"),
        ],
    );
    assert_eq!(range.status, 206);
    assert_eq!(range.body.len(), 100);
    assert_eq!(range.body[0], 100);
    assert_eq!(range.header("content-range"), Some("bytes 100-199/10000"));

    let rejected = request(&server.base, "GET", "/not-a-token/out/v1/index.m3u8", &[]);
    assert_eq!(rejected.status, 403);
    assert!(rejected.body.is_empty());

    let preflight = request(
        &server.base,
        "OPTIONS",
        &format!("{prefix}/out/v1/seg_1.ts"),
        &[("Origin", "https://player.example"), ("Access-Control-Request-Headers", "cmcd-request")],
    );
    assert_eq!(preflight.status, 204);
    assert!(preflight.header("access-control-allow-headers").unwrap().contains("CMCD-Request"));

    let escape = request(&server.base, "GET", &format!("{prefix}/out/../secret.txt"), &[]);
    assert_eq!(escape.status, 403, "strict rejects the escape before the origin");
    server.stop();

    // Every line reads back through the ingest parser (the writer's own counterpart).
    let text = std::fs::read_to_string(dir.join("edge.log")).unwrap();
    let fields = cmcd_ingest::field::FieldSet::all();
    for line in text.lines() {
        let record = cmcd_ingest::line::parse(&fields, line.as_bytes()).unwrap();
        assert!(record.timestamp_ms() > 1_700_000_000_000);
    }
    let lines = log_lines(&dir);
    assert_eq!(lines.len(), 5);
    for line in &lines {
        assert_eq!(line.len(), 69, "all 69 fields, canonical order");
    }
    // Field positions from the canonical order (1-based in the reference): 5 sc-status,
    // 10 cs-uri-stem, 13 x-edge-request-id, 18 cs-user-agent, 47 cmcd-encoded-bitrate,
    // 48 cmcd-buffer-length, 60 cmcd-session-id, 59 cmcd-streaming-format.
    let first = &lines[0];
    assert_eq!(first[4], "200");
    assert!(first[9].ends_with("/out/v1/index.m3u8"));
    assert_eq!(cmcd_ingest::line::percent_decode(&first[17]), "test-player/1.0");
    assert_eq!(first[46], "-", "no CMCD on the playlist request");
    let seg = &lines[1];
    assert_eq!(seg[4], "206");
    assert!(seg[9].contains("?CMCD="), "real-time cs-uri-stem carries the query");
    assert_eq!(seg[46], "5000", "headers win over the query");
    assert_eq!(seg[59], "hdr-session");
    assert_eq!(seg[58], "h");
    assert_eq!(seg[47], "-", "bl came only in the ignored query");
    assert_eq!((seg[30].as_str(), seg[31].as_str()), ("100", "199"));
    assert_eq!(lines[2][4], "403");
    assert_eq!(lines[2][25], "Error");
    let ids: std::collections::HashSet<&str> = lines.iter().map(|l| l[12].as_str()).collect();
    assert_eq!(ids.len(), 5, "x-edge-request-id is unique");
    assert!(lines.iter().all(|l| l[12].len() == 56));
}

#[test]
fn revoked_sessions_get_403_and_401_is_configurable() {
    let (dir, prefix) = setup();
    std::fs::write(
        dir.join("revoked.json"),
        json!({"revoked": [{"session_id": "sessEDGE0001"}]}).to_string(),
    )
    .unwrap();
    let revoked = dir.join("revoked.json");
    let server =
        Server::start(&dir, &["--reject-status", "401", "--revoked", revoked.to_str().unwrap()]);
    assert_eq!(
        request(&server.base, "GET", &format!("{prefix}/out/v1/index.m3u8"), &[]).status,
        403
    );
    assert_eq!(request(&server.base, "GET", "/bogus/out/v1/index.m3u8", &[]).status, 401);
    server.stop();
}

#[test]
fn compat_profile_still_cannot_escape_the_origin_directory() {
    let (dir, prefix) = setup();
    let server = Server::start(&dir, &["--profile", "smd-compat"]);
    // SMD's own check only prefix-matches, so the token passes; the origin refuses the path.
    let reply =
        request(&server.base, "GET", &format!("{prefix}/out/v1/%2e%2e/%2e%2e/secret.txt"), &[]);
    assert_eq!(reply.status, 400);
    assert!(!String::from_utf8_lossy(&reply.body).contains("do not serve"));
    server.stop();
}

#[test]
fn load_run_has_no_unexpected_rejections() {
    let dir = scratch();
    let out = bin()
        .args([
            "edge",
            "load",
            "--json",
            "--players",
            "6",
            "--duration",
            "6s",
            "--bad-tokens",
            "--log",
        ])
        .arg(dir.join("load.log"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_str(&String::from_utf8(out.stdout).unwrap()).unwrap();
    assert_eq!(report["sim"]["unexpected_rejections"], 0);
    assert!(report["edge_requests"].as_u64().unwrap() > 20);
    assert!(report["validation_p99_us"].as_u64().is_some());
    let log = std::fs::read_to_string(dir.join("load.log")).unwrap();
    assert_eq!(log.lines().count() as u64, report["edge_requests"].as_u64().unwrap());
    // v1 players put CMCD in the query, v2 players in headers; both land in the cmcd-* fields.
    assert!(log.lines().any(|l| l.split('\t').nth(59).is_some_and(|sid| sid.starts_with("sim-"))));
}
