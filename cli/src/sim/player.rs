//! One simulated player.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::{Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use token_core::UnixTime;
use token_core::cmcd::{
    self, Key, ObjectType, Report, Samples, StreamType, StreamingFormat, Value, Version,
};
use token_core::token::{SigningKey, TokenPolicy, ViewerAttributes, sign};
use tokio::time::Instant;

use crate::serve::live::LADDER;

pub(crate) type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub(crate) fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(256).build_http()
}

/// Which token a player holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Valid,
    Expired,
    Tampered,
}

/// A player's configuration.
#[derive(Debug, Clone)]
pub(crate) struct PlayerSpec {
    pub(crate) index: usize,
    /// CMCD v2 in headers (else v1 in the query).
    pub(crate) v2: bool,
    pub(crate) bandwidth_kbps: u32,
    pub(crate) country: &'static str,
    pub(crate) token: TokenKind,
}

/// What one player saw.
#[derive(Debug, Default)]
pub(crate) struct PlayerOutcome {
    pub(crate) requests: u64,
    pub(crate) rejected: BTreeMap<u16, u64>,
    pub(crate) rebuffers: u64,
    pub(crate) bytes: u64,
    pub(crate) token: Option<TokenKind>,
}

impl PartialEq<TokenKind> for Option<TokenKind> {
    fn eq(&self, other: &TokenKind) -> bool {
        *self == Some(*other)
    }
}

const SEGMENT_MS: u64 = 2_000;
const CONTENT_ID: &str = "live-loop-1";

struct State {
    sid: String,
    buffer_ms: f64,
    last_tick: Instant,
    started: Instant,
    startup: bool,
    stalled_since: Option<Instant>,
    pending_bs: bool,
    stalls: Vec<u64>,
    stall_count: u64,
    throughput_kbps: f64,
    rendition: usize,
    msd_sent: bool,
}

impl State {
    /// Drains the buffer by the real time elapsed since the last tick; notes a stall.
    fn tick(&mut self, outcome: &mut PlayerOutcome) {
        let now = Instant::now();
        let elapsed = now.duration_since(self.last_tick).as_secs_f64() * 1000.0;
        self.last_tick = now;
        if self.startup || self.stalled_since.is_some() {
            return;
        }
        self.buffer_ms -= elapsed;
        if self.buffer_ms <= 0.0 {
            self.buffer_ms = 0.0;
            self.stalled_since = Some(now);
            self.pending_bs = true;
            self.stall_count += 1;
            outcome.rebuffers += 1;
        }
    }

    fn add_segment(&mut self) {
        self.buffer_ms += SEGMENT_MS as f64;
        if let Some(since) = self.stalled_since.take() {
            self.stalls.push(since.elapsed().as_millis() as u64);
        }
        self.startup = false;
    }
}

/// Plays until `deadline`.
pub(crate) async fn play(
    client: &HttpClient,
    base: &str,
    key: &SigningKey,
    spec: PlayerSpec,
    deadline: Instant,
) -> PlayerOutcome {
    let mut outcome = PlayerOutcome { token: Some(spec.token), ..PlayerOutcome::default() };
    let ua = format!(
        "SimPlayer/1.0 ({}; player {})",
        if spec.v2 { "cmcd-v2" } else { "cmcd-v1" },
        spec.index
    );
    let Some(prefix) = token_prefix(key, &spec, &ua) else { return outcome };
    let mut state = State {
        sid: format!("sim-{:04}-{}", spec.index, crate::serve::log::random_id(8)),
        buffer_ms: 0.0,
        last_tick: Instant::now(),
        started: Instant::now(),
        startup: true,
        stalled_since: None,
        pending_bs: false,
        stalls: Vec::new(),
        stall_count: 0,
        throughput_kbps: 1_000.0,
        rendition: 0,
        msd_sent: false,
    };

    // Master playlist.
    let master = format!("{base}{prefix}/live/master.m3u8");
    if fetch(client, &master, &spec, &ua, &mut state, &mut outcome, ObjectType::Manifest, None)
        .await
        .is_none()
    {
        return outcome;
    }
    let mut next_seq: Option<u64> = None;
    let mut consecutive_failures = 0;
    while Instant::now() < deadline {
        state.tick(&mut outcome);
        // ABR: the highest rung under 80 % of the measured throughput.
        state.rendition = LADDER
            .iter()
            .rposition(|r| f64::from(r.kbps) < state.throughput_kbps * 0.8)
            .unwrap_or(0);
        let playlist_url = format!("{base}{prefix}/live/v{}/index.m3u8", state.rendition);
        let Some(playlist) = fetch(
            client,
            &playlist_url,
            &spec,
            &ua,
            &mut state,
            &mut outcome,
            ObjectType::Manifest,
            None,
        )
        .await
        else {
            consecutive_failures += 1;
            if consecutive_failures >= 3 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        consecutive_failures = 0;
        let segments = parse_segments(&playlist);
        let Some(&newest) = segments.last() else {
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        // Start three segments behind the live edge, then follow.
        let seq = next_seq.unwrap_or_else(|| newest.saturating_sub(2));
        if seq > newest {
            // Caught up with the live edge: wait for the next segment.
            tokio::time::sleep(Duration::from_millis(400)).await;
            continue;
        }
        let url = format!("{base}{prefix}/live/v{}/seg_{seq}.ts", state.rendition);
        let kbps = LADDER[state.rendition].kbps;
        let started = Instant::now();
        let Some(body) = fetch(
            client,
            &url,
            &spec,
            &ua,
            &mut state,
            &mut outcome,
            ObjectType::Video,
            Some(seq + 1),
        )
        .await
        else {
            next_seq = Some(seq + 1);
            continue;
        };
        // The simulated network: the segment takes bytes*8/bandwidth to arrive.
        let transfer = Duration::from_secs_f64(
            body.len() as f64 * 8.0 / (f64::from(spec.bandwidth_kbps) * 1000.0),
        );
        let spent = started.elapsed();
        if transfer > spent {
            tokio::time::sleep(transfer - spent).await;
        }
        let measured =
            body.len() as f64 * 8.0 / 1000.0 / started.elapsed().as_secs_f64().max(0.001);
        state.throughput_kbps = 0.7 * state.throughput_kbps + 0.3 * measured;
        let _ = kbps;
        state.tick(&mut outcome);
        state.add_segment();
        next_seq = Some(seq + 1);
        // Keep about three segments buffered: wait while the buffer is comfortable.
        if state.buffer_ms > 3.0 * SEGMENT_MS as f64 {
            let wait = state.buffer_ms - 3.0 * SEGMENT_MS as f64;
            tokio::time::sleep(
                Duration::from_millis(wait as u64)
                    .min(deadline.saturating_duration_since(Instant::now())),
            )
            .await;
        }
    }
    outcome
}

/// The token path segment for this player, or `None` when signing fails.
fn token_prefix(key: &SigningKey, spec: &PlayerSpec, ua: &str) -> Option<String> {
    let now_secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let (signed_at, ttl) = match spec.token {
        TokenKind::Expired => (now_secs - 7_200, "+1h"),
        _ => (now_secs, "+2h"),
    };
    let policy = TokenPolicy {
        ssn: true,
        headers: vec!["user-agent".into()],
        paths: vec!["/live/".into()],
        exp: ttl.into(),
        ..Default::default()
    };
    let viewer = ViewerAttributes {
        headers: vec![("user-agent".into(), ua.to_owned())],
        ..Default::default()
    };
    let signed = sign(
        &policy,
        &viewer,
        None,
        key,
        UnixTime::from_secs(signed_at),
        &mut crate::support::fill_random,
    )
    .ok()?;
    let mut segment = signed.path_segment();
    if spec.token == TokenKind::Tampered {
        let last = segment.pop().unwrap_or('A');
        segment.push(if last == 'A' { 'B' } else { 'A' });
    }
    Some(format!("/{segment}"))
}

#[allow(clippy::too_many_arguments)]
async fn fetch(
    client: &HttpClient,
    url: &str,
    spec: &PlayerSpec,
    ua: &str,
    state: &mut State,
    outcome: &mut PlayerOutcome,
    ot: ObjectType,
    next_seq: Option<u64>,
) -> Option<Bytes> {
    let report = cmcd_report(spec, state, ot, next_seq);
    let mut req = Request::get(url)
        .header("user-agent", ua)
        .header("cloudfront-viewer-country", spec.country);
    let url = if spec.v2 {
        for (shard, value) in cmcd::encode_headers(&report, Version::V2) {
            req = req.header(shard.header_name(), value);
        }
        url.to_owned()
    } else {
        let q = cmcd::encode_query(&report, Version::V1);
        if q.is_empty() { url.to_owned() } else { format!("{url}?{q}") }
    };
    let req = req.uri(url).body(Full::new(Bytes::new())).ok()?;
    outcome.requests += 1;
    let res = client.request(req).await.ok()?;
    let status = res.status();
    let body = res.into_body().collect().await.ok()?.to_bytes();
    outcome.bytes += body.len() as u64;
    if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
        *outcome.rejected.entry(status.as_u16()).or_default() += 1;
        return None;
    }
    if !status.is_success() {
        return None;
    }
    if ot != ObjectType::Manifest {
        state.pending_bs = false;
        state.stalls.clear();
    }
    Some(body)
}

fn cmcd_report(
    spec: &PlayerSpec,
    state: &mut State,
    ot: ObjectType,
    next_seq: Option<u64>,
) -> Report {
    let mut r = Report::new();
    let mut put = |k: Key, v: Value| {
        let _ = r.insert(k, v);
    };
    let rendition = LADDER[state.rendition];
    put(Key::Sid, Value::String(state.sid.clone()));
    put(Key::Cid, Value::String(CONTENT_ID.to_owned()));
    put(Key::Sf, Value::StreamingFormat(StreamingFormat::Hls));
    put(Key::St, Value::StreamType(StreamType::Live));
    put(Key::Ot, Value::ObjectType(ot));
    put(Key::Mtp, Value::Samples(Samples::one(round_to(state.throughput_kbps as u64, 100))));
    if ot == ObjectType::Video {
        put(Key::Br, Value::Samples(Samples::one(u64::from(rendition.kbps))));
        put(Key::Tb, Value::Samples(Samples::one(u64::from(LADDER[LADDER.len() - 1].kbps))));
        put(Key::D, Value::Integer(SEGMENT_MS));
        put(Key::Bl, Value::Samples(Samples::one(round_to(state.buffer_ms as u64, 100))));
        if let Some(next) = next_seq {
            put(
                Key::Nor,
                Value::NextObjects(vec![cmcd::NextObject::new(format!("seg_{next}.ts"))]),
            );
        }
        if state.startup || state.stalled_since.is_some() {
            put(Key::Su, Value::Boolean(true));
        }
        if state.pending_bs {
            put(Key::Bs, Value::Boolean(true));
        }
        if spec.v2 {
            if !state.msd_sent && !state.startup {
                put(Key::Msd, Value::Integer(state.started.elapsed().as_millis() as u64));
                state.msd_sent = true;
            }
            if state.stall_count > 0 {
                put(Key::Bsa, Value::Samples(Samples::one(state.stall_count)));
            }
            if !state.stalls.is_empty() {
                put(
                    Key::Bsd,
                    Value::Samples(Samples::new(
                        state.stalls.iter().map(|&ms| cmcd::Sample::new(ms)).collect(),
                    )),
                );
            }
        }
    }
    r
}

fn round_to(v: u64, step: u64) -> u64 {
    (v + step / 2) / step * step
}

fn parse_segments(playlist: &Bytes) -> Vec<u64> {
    String::from_utf8_lossy(playlist)
        .lines()
        .filter_map(|l| {
            l.strip_prefix("seg_").and_then(|s| s.strip_suffix(".ts")).and_then(|n| n.parse().ok())
        })
        .collect()
}
