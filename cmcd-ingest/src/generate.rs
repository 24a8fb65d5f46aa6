//! A synthetic CloudFront real-time log generator: realistic players (ABR ladders, startup,
//! rebuffers, seeks, live and VOD, CMCD v1 and v2, query and header transports, SMD token
//! paths), some broken players and some bad lines. Deterministic for a seed; lines come out in
//! timestamp order. Lines are written with [`crate::line::write`] for [`FieldSet::all`].

use std::borrow::Cow;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use token_core::cmcd::{
    self, Key, ObjectType, Report, Sample, Samples, StreamType, StreamingFormat, Value, Version,
};

use crate::field::{Field, FieldSet};
use crate::line::{self, Cell, Record};

/// Generator settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Playback sessions.
    pub sessions: u32,
    /// Length of the traffic window, minutes.
    pub minutes: u32,
    /// Random seed.
    pub seed: u64,
    /// Start of the window, epoch ms (default 2024-05-02T11:00:00Z).
    pub start_ms: i64,
    /// One line in this many is made bad (0: none; default 1,000).
    pub bad_line_every: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            sessions: 100,
            minutes: 10,
            seed: 1,
            start_ms: 1_714_647_600_000,
            bad_line_every: 1000,
        }
    }
}

/// SplitMix64: small, fast, deterministic.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }
    fn chance(&mut self, per_thousand: u64) -> bool {
        self.below(1000) < per_thousand
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        &items[i.min(items.len().saturating_sub(1))]
    }
    fn token(&mut self, len: usize, alphabet: &[u8]) -> String {
        (0..len).map(|_| char::from(*self.pick(alphabet))).collect()
    }
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const LADDER: [u64; 6] = [400, 800, 1600, 3200, 4500, 6000];
const EDGES: [(&str, &str); 8] = [
    ("FRA56-P3", "DE"),
    ("LHR61-P1", "GB"),
    ("CDG50-C2", "FR"),
    ("IAD89-C1", "US"),
    ("SFO53-P2", "US"),
    ("NRT57-P4", "JP"),
    ("GRU3-C1", "BR"),
    ("SYD62-P1", "AU"),
];
const AGENTS: [&str; 4] = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 hls.js/1.5",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15 dash.js/4.7",
    "ExoPlayerLib/2.19.1 (Linux; Android 14) AndroidXMedia3/1.3.1",
    "AppleCoreMedia/1.0.0.21F79 (Apple TV; U; CPU OS 17_5 like Mac OS X; en_us)",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Query,
    Headers,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Defect {
    None,
    DoubleEncoded,
    TokenBoolean,
    BadSyntax,
}

#[derive(Debug)]
struct Player {
    sid: String,
    cid: String,
    smd: Option<String>,
    v2: bool,
    live: bool,
    transport: Transport,
    defect: Defect,
    edge: usize,
    ip: String,
    agent: &'static str,
    sf: StreamingFormat,
    end_ms: i64,
    /// Next request: 0 manifest, 1 init, then segments.
    step: u64,
    rung: usize,
    top: u64,
    buffer_ms: i64,
    startup: bool,
    stall_pending: Option<i64>,
    stalls: u64,
    stall_total: i64,
    first_ms: i64,
    played_ms: i64,
    sn: u64,
    msd_sent: bool,
    /// Sends a long cookie, so CloudFront truncates `cs-headers` (800 bytes).
    cookie: Option<String>,
}

/// The generator: an iterator over log lines (without LF).
#[derive(Debug)]
pub struct Generator {
    config: Config,
    rng: Rng,
    fields: FieldSet,
    players: Vec<Player>,
    queue: BinaryHeap<Reverse<(i64, usize)>>,
    emitted: u64,
}

impl Generator {
    /// A generator for `config`.
    pub fn new(config: Config) -> Self {
        let mut rng = Rng(config.seed ^ 0x5EED);
        let window = i64::from(config.minutes.max(1)) * 60_000;
        let mut players = Vec::new();
        let mut queue = BinaryHeap::new();
        for _ in 0..config.sessions {
            let start = config.start_ms
                + i64::try_from(rng.below(u64::try_from(window * 3 / 4).unwrap_or(1))).unwrap_or(0);
            let length =
                60_000 + i64::try_from(rng.below(u64::try_from(window).unwrap_or(1))).unwrap_or(0);
            let transport = match rng.below(10) {
                0..=4 => Transport::Query,
                5..=8 => Transport::Headers,
                _ => Transport::None,
            };
            let defect = match rng.below(100) {
                0..=1 => Defect::DoubleEncoded,
                2..=3 => Defect::TokenBoolean,
                4 => Defect::BadSyntax,
                _ => Defect::None,
            };
            let sid = format!(
                "{}-{}-4{}-{}-{}",
                rng.token(8, b"0123456789abcdef"),
                rng.token(4, b"0123456789abcdef"),
                rng.token(3, b"0123456789abcdef"),
                rng.token(4, b"0123456789abcdef"),
                rng.token(12, b"0123456789abcdef")
            );
            let edge = usize::try_from(rng.below(EDGES.len() as u64)).unwrap_or(0);
            let player = Player {
                sid,
                cid: format!("title-{}", rng.below(40)),
                smd: rng.chance(300).then(|| rng.token(12, ALNUM)),
                v2: rng.chance(400),
                live: rng.chance(300),
                transport,
                defect,
                edge,
                ip: format!("198.51.{}.{}", rng.below(256), 1 + rng.below(254)),
                agent: AGENTS[usize::try_from(rng.below(AGENTS.len() as u64)).unwrap_or(0)],
                sf: if rng.chance(500) { StreamingFormat::Hls } else { StreamingFormat::Dash },
                end_ms: start + length,
                step: 0,
                rung: 1,
                top: if rng.chance(200) { 3200 } else { 6000 },
                buffer_ms: 0,
                startup: true,
                stall_pending: None,
                stalls: 0,
                stall_total: 0,
                first_ms: start,
                played_ms: 0,
                sn: 0,
                msd_sent: false,
                cookie: rng.chance(100).then(|| rng.token(560, ALNUM)),
            };
            queue.push(Reverse((start, players.len())));
            players.push(player);
        }
        Self { config, rng, fields: FieldSet::all(), players, queue, emitted: 0 }
    }

    /// The fields of the generated lines (all 69).
    pub fn fields(&self) -> &FieldSet {
        &self.fields
    }

    fn line_for(&mut self, at: i64, idx: usize) -> Option<(String, Option<i64>)> {
        let rng = &mut self.rng;
        let p = self.players.get_mut(idx)?;
        let step = p.step;
        p.step += 1;
        // What is requested: manifest, init, then alternating video and audio segments.
        let (ot, seg) = match step {
            0 => (ObjectType::Manifest, 0),
            1 => (ObjectType::Init, 0),
            n if n % 2 == 0 => (ObjectType::Video, (n - 2) / 2),
            n => (ObjectType::Audio, (n - 3) / 2),
        };
        let d: i64 = 4000;
        // Throughput and ABR.
        let mtp = (LADDER[p.rung] * (8 + rng.below(20)) / 10 / 100).max(1) * 100;
        if ot == ObjectType::Video {
            if mtp > LADDER.get(p.rung + 1).copied().unwrap_or(u64::MAX).saturating_mul(12) / 10
                && LADDER.get(p.rung + 1).is_some_and(|b| *b <= p.top)
            {
                p.rung += 1;
            } else if mtp < LADDER[p.rung] && p.rung > 0 {
                p.rung -= 1;
            }
        }
        let br = match ot {
            ObjectType::Video => LADDER[p.rung],
            ObjectType::Audio => 128,
            _ => 0,
        };
        let media = matches!(ot, ObjectType::Video | ObjectType::Audio);
        // Buffer: grows by d per video segment until 30 s, drains in real time.
        let mut bs = false;
        if ot == ObjectType::Video {
            let fill =
                if p.startup { d } else { i64::try_from(rng.below(1500)).unwrap_or(0) - 500 };
            p.buffer_ms = (p.buffer_ms + fill).clamp(0, 30_000);
            if !p.startup && rng.chance(3) {
                let stall = 200 + i64::try_from(rng.below(3000)).unwrap_or(0);
                p.stall_pending = Some(stall);
                p.buffer_ms = 0;
            }
            if p.buffer_ms >= 8000 {
                p.startup = false;
            }
            if seg > 3 && rng.chance(10) {
                // Seek: buffer flushed, startup again.
                p.buffer_ms = 0;
                p.startup = true;
            }
        }
        let stall_now = if media { p.stall_pending.take() } else { None };
        if let Some(s) = stall_now {
            bs = true;
            p.stalls += 1;
            p.stall_total += s;
        }
        if ot == ObjectType::Video {
            p.played_ms += d;
        }
        let su = p.startup || step < 2;
        let mut report = Report::new();
        let ins = |r: &mut Report, k: Key, v: Value| {
            let _ = r.insert(k, v);
        };
        let list =
            |v: u64| if p.v2 { Samples::single(Sample::tagged(v, ot)) } else { Samples::one(v) };
        ins(&mut report, Key::Sid, Value::String(p.sid.clone()));
        ins(&mut report, Key::Cid, Value::String(p.cid.clone()));
        ins(&mut report, Key::Ot, Value::ObjectType(ot));
        ins(&mut report, Key::Sf, Value::StreamingFormat(p.sf));
        ins(
            &mut report,
            Key::St,
            Value::StreamType(if p.live { StreamType::Live } else { StreamType::Vod }),
        );
        if su {
            ins(&mut report, Key::Su, Value::Boolean(true));
        }
        if media {
            ins(&mut report, Key::Br, Value::Samples(list(br)));
            ins(&mut report, Key::D, Value::Integer(4000));
            ins(
                &mut report,
                Key::Bl,
                Value::Samples(list(u64::try_from(p.buffer_ms / 100 * 100).unwrap_or(0))),
            );
            ins(&mut report, Key::Mtp, Value::Samples(list(mtp)));
            ins(
                &mut report,
                Key::Tb,
                Value::Samples(list(if ot == ObjectType::Audio { 128 } else { p.top })),
            );
            ins(
                &mut report,
                Key::Nor,
                Value::NextObjects(vec![cmcd::NextObject::new(format!("seg_{}.m4s", seg + 1))]),
            );
        }
        if bs {
            ins(&mut report, Key::Bs, Value::Boolean(true));
        }
        if p.v2 {
            ins(&mut report, Key::V, Value::Integer(2));
            p.sn += 1;
            ins(&mut report, Key::Sn, Value::Integer(p.sn));
            if media {
                ins(&mut report, Key::Pt, Value::Integer(u64::try_from(p.played_ms).unwrap_or(0)));
            }
            if let Some(s) = stall_now {
                ins(
                    &mut report,
                    Key::Bsd,
                    Value::Samples(Samples::one(u64::try_from(s).unwrap_or(0))),
                );
                ins(&mut report, Key::Bsa, Value::Samples(Samples::one(p.stalls)));
                ins(
                    &mut report,
                    Key::Bsda,
                    Value::Samples(Samples::one(u64::try_from(p.stall_total).unwrap_or(0))),
                );
            }
            if media && !su && !p.msd_sent {
                p.msd_sent = true;
                ins(
                    &mut report,
                    Key::Msd,
                    Value::Integer(u64::try_from(at - p.first_ms).unwrap_or(0)),
                );
            }
            if p.live && media {
                ins(&mut report, Key::Ltc, Value::Integer(3000 + rng.below(4000)));
            }
        }
        let version = if p.v2 { Version::V2 } else { Version::V1 };

        // Path and query.
        let path = match ot {
            ObjectType::Manifest => format!(
                "/out/v1/{}/index.{}",
                p.cid,
                if p.sf == StreamingFormat::Hls { "m3u8" } else { "mpd" }
            ),
            ObjectType::Init => format!("/out/v1/{}/init.mp4", p.cid),
            ObjectType::Audio => format!("/out/v1/{}/audio/seg_{seg}.m4s", p.cid),
            _ => format!("/out/v1/{}/{}k/seg_{seg}.m4s", p.cid, br),
        };
        let path = match &p.smd {
            Some(smd) => format!(
                "/{smd}.eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{}.{}{path}",
                rng.token(40, B64),
                rng.token(43, B64)
            ),
            None => path,
        };
        let mut query = None;
        let mut headers =
            format!("host:d111111abcdef8.cloudfront.net\nuser-agent:{}\naccept:*/*", p.agent);
        if let Some(cookie) = &p.cookie {
            headers.push_str("\ncookie:session=");
            headers.push_str(cookie);
        }
        match p.transport {
            Transport::Query => {
                let mut q = cmcd::encode_query(&report, version);
                match p.defect {
                    Defect::DoubleEncoded => {
                        q = format!("CMCD={}", q.trim_start_matches("CMCD=").replace('%', "%25"))
                    }
                    Defect::TokenBoolean => q = q.replace("%2Csu", "%2Csu%3Dtrue"),
                    Defect::BadSyntax => q.push_str("%2C%2C"),
                    Defect::None => {}
                }
                query = Some(q);
            }
            Transport::Headers => {
                for (shard, value) in cmcd::encode_headers(&report, version) {
                    headers.push('\n');
                    headers.push_str(&shard.header_name().to_ascii_lowercase());
                    headers.push(':');
                    headers.push_str(&value);
                }
            }
            Transport::None => {}
        }
        let count = headers.lines().count();
        // CloudFront keeps 800 bytes of the encoded block.
        let mut encoded = String::new();
        line::percent_encode(&headers, &mut encoded);
        if encoded.len() > 800 {
            let mut cut = headers.len();
            while cut > 0 {
                encoded.clear();
                line::percent_encode(headers.get(..cut).unwrap_or(""), &mut encoded);
                if encoded.len() <= 800 {
                    break;
                }
                cut -= 20.min(cut);
                while cut > 0 && !headers.is_char_boundary(cut) {
                    cut -= 1;
                }
            }
            headers.truncate(cut);
        }

        let status: i64 = match rng.below(1000) {
            0..=4 => 404,
            5..=7 => 503,
            _ => 200,
        };
        let bytes: i64 = if status != 200 {
            0
        } else if media {
            i64::try_from(br * 4000 / 8).unwrap_or(0) + i64::try_from(rng.below(5000)).unwrap_or(0)
        } else {
            1500 + i64::try_from(rng.below(2000)).unwrap_or(0)
        };
        let hit = rng.chance(if media { 850 } else { 400 });
        let result = if status >= 500 {
            "Error"
        } else if hit {
            "Hit"
        } else {
            "Miss"
        };
        let (edge, country) = EDGES[p.edge];
        let ttfb = 1 + i64::try_from(rng.below(if hit { 20 } else { 300 })).unwrap_or(0);
        let taken = ttfb + i64::try_from(rng.below(800)).unwrap_or(0);
        let stem = match &query {
            Some(q) => format!("{path}?{q}"),
            None => path,
        };
        let txt = |s: String| Cell::Text(Cow::Owned(s));
        let mut r = Record::new(at);
        r.set(Field::CIp, txt(p.ip.clone()));
        r.set(Field::SIp, txt("3.160.22.17".into()));
        r.set(Field::TimeToFirstByte, Cell::Millis(ttfb));
        r.set(Field::ScStatus, Cell::Int(status));
        r.set(Field::ScBytes, Cell::Int(bytes));
        r.set(Field::CsMethod, txt("GET".into()));
        r.set(Field::CsProtocol, txt("https".into()));
        r.set(Field::CsHost, txt("d111111abcdef8.cloudfront.net".into()));
        r.set(Field::CsUriStem, txt(stem));
        r.set(Field::CsBytes, Cell::Int(180 + i64::try_from(rng.below(400)).unwrap_or(0)));
        r.set(Field::XEdgeLocation, txt(edge.into()));
        r.set(Field::XEdgeRequestId, txt(format!("{}==", rng.token(54, B64))));
        r.set(Field::XHostHeader, txt("video.example.com".into()));
        r.set(Field::TimeTaken, Cell::Millis(taken));
        r.set(Field::CsProtocolVersion, txt("HTTP/2.0".into()));
        r.set(Field::CIpVersion, txt("IPv4".into()));
        r.set(Field::CsUserAgent, txt(p.agent.into()));
        r.set(Field::CsUriQuery, query.map_or(Cell::Null, txt));
        r.set(Field::XEdgeResponseResultType, txt(result.into()));
        r.set(Field::SslProtocol, txt("TLSv1.3".into()));
        r.set(Field::SslCipher, txt("TLS_AES_128_GCM_SHA256".into()));
        r.set(Field::XEdgeResultType, txt(result.into()));
        r.set(
            Field::ScContentType,
            txt(match ot {
                ObjectType::Manifest => "application/vnd.apple.mpegurl",
                _ => "video/mp4",
            }
            .into()),
        );
        r.set(Field::ScContentLen, Cell::Int(bytes));
        r.set(Field::CPort, Cell::Int(1024 + i64::try_from(rng.below(60_000)).unwrap_or(0)));
        r.set(Field::XEdgeDetailedResultType, txt(result.into()));
        r.set(Field::CCountry, txt(country.into()));
        r.set(Field::CsAcceptEncoding, txt("gzip".into()));
        r.set(Field::CsAccept, txt("*/*".into()));
        r.set(Field::CacheBehaviorPathPattern, txt("*/out/*".into()));
        r.set(Field::CsHeaders, txt(headers));
        r.set(Field::CsHeaderNames, txt("host\nuser-agent\naccept".into()));
        r.set(Field::CsHeadersCount, Cell::Int(i64::try_from(count).unwrap_or(0)));
        r.set(Field::PrimaryDistributionId, txt("E2EXAMPLE0DIST".into()));
        r.set(Field::PrimaryDistributionDnsName, txt("d111111abcdef8.cloudfront.net".into()));
        if !hit {
            r.set(Field::OriginFbl, Cell::Millis(ttfb));
            r.set(Field::OriginLbl, Cell::Millis(taken));
        }
        r.set(Field::Asn, Cell::Int(3320 + i64::try_from(rng.below(100)).unwrap_or(0)));
        // CloudFront fills the cmcd-* cells with the v1 keys it read (v1 players only here).
        if p.transport != Transport::None && !p.v2 && p.defect == Defect::None {
            let c = |v: u64| txt(v.to_string());
            r.set(Field::CmcdSessionId, txt(p.sid.clone()));
            r.set(Field::CmcdContentId, txt(p.cid.clone()));
            r.set(Field::CmcdObjectType, txt(ot.as_str().into()));
            r.set(Field::CmcdStreamingFormat, txt(p.sf.as_str().into()));
            r.set(Field::CmcdStreamType, txt(if p.live { "l" } else { "v" }.into()));
            if su {
                r.set(Field::CmcdStartup, txt("true".into()));
            }
            if media {
                r.set(Field::CmcdEncodedBitrate, c(br));
                r.set(Field::CmcdObjectDuration, c(4000));
                r.set(Field::CmcdMeasuredThroughput, c(mtp));
                r.set(
                    Field::CmcdBufferLength,
                    c(u64::try_from(p.buffer_ms / 100 * 100).unwrap_or(0)),
                );
                r.set(Field::CmcdTopBitrate, c(if ot == ObjectType::Audio { 128 } else { p.top }));
                r.set(Field::CmcdNextObjectRequest, txt(format!("seg_{}.m4s", seg + 1)));
            }
            if bs {
                r.set(Field::CmcdBufferStarvation, txt("true".into()));
            }
        }
        r.set(Field::ConnectionId, txt(format!("{}==", rng.token(20, B64))));
        let text = line::write(&self.fields, &r).ok()?;
        // Next request: segments paced by their duration, audio right after video.
        let next = match ot {
            ObjectType::Manifest | ObjectType::Init => {
                at + 30 + i64::try_from(rng.below(200)).unwrap_or(0)
            }
            ObjectType::Video => at + 20 + i64::try_from(rng.below(300)).unwrap_or(0),
            _ => {
                let pace = if p.startup { 300 } else { d - 400 };
                at + pace + i64::try_from(rng.below(800)).unwrap_or(0) + stall_now.unwrap_or(0)
            }
        };
        Some((text, (next < p.end_ms).then_some(next)))
    }

    fn spoil(&mut self, line: String) -> String {
        match self.rng.below(4) {
            0 => line.split('\t').take(20).collect::<Vec<_>>().join("\t"),
            1 => line.replacen(|c: char| c.is_ascii_digit(), "x", 1),
            2 => {
                let mut cells: Vec<&str> = line.split('\t').collect();
                if let Some(c) = cells.get_mut(Field::ScStatus.index()) {
                    *c = "2OO";
                }
                cells.join("\t")
            }
            _ => String::new(),
        }
    }
}

impl Iterator for Generator {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        loop {
            let Reverse((at, idx)) = self.queue.pop()?;
            let Some((text, next)) = self.line_for(at, idx) else { continue };
            if let Some(next) = next {
                self.queue.push(Reverse((next, idx)));
            }
            self.emitted += 1;
            let every = self.config.bad_line_every;
            if every > 0 && self.emitted.is_multiple_of(every) {
                return Some(self.spoil(text));
            }
            return Some(text);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::Request;

    #[test]
    fn deterministic_ordered_and_mostly_valid() {
        let cfg = Config { sessions: 20, minutes: 5, seed: 7, ..Config::default() };
        let a: Vec<String> = Generator::new(cfg.clone()).collect();
        let b: Vec<String> = Generator::new(cfg).collect();
        assert_eq!(a, b);
        assert!(a.len() > 500, "{}", a.len());
        let fields = FieldSet::all();
        let mut last = 0;
        let mut bad = 0;
        let mut v2 = 0;
        for l in &a {
            match Request::parse(&fields, l.as_bytes()) {
                Ok(r) => {
                    assert!(r.timestamp_ms() >= last);
                    last = r.timestamp_ms();
                    v2 += usize::from(r.cmcd.v == Some(2));
                }
                Err(_) => bad += 1,
            }
        }
        assert!(bad >= a.len() / 1000 / 2 && bad <= a.len() / 1000 + 1, "{bad}");
        assert!(v2 > 0);
    }
}
