//! The session aggregator: a state machine from `requests` rows to `sessions` rows, one per
//! (CMCD `sid`, UTC hour). Push rows in input order; buckets of an hour close once the
//! watermark (the latest timestamp pushed) passes the end of the hour plus the allowed
//! lateness, and are then drained; [`Aggregator::finish`] closes the rest. No clock reads, no
//! I/O.
//!
//! # Definitions (columns of `sessions`; the DDL comments repeat them)
//!
//! Order within a bucket is timestamp order, ties broken by input order. "Video" requests
//! are those with `ot` v or av; "media" requests those with `ot` a, v or av.
//!
//! - `first_seen`, `last_seen`, `requests`, `bytes` (Σ `sc-bytes`), `media_requests`.
//! - `startup_ms`: the first `msd` (v2 media start delay, reference `cmcd.md` §5.2); else, if
//!   the bucket's first request carries `su`, the time from it to the first media request
//!   without `su` (the v1 proxy of §5.2); else null. `startup_source` says which (`msd`, `su`).
//! - `rebuffer_count`: distinct whole seconds holding a request with `bs` (v1 buffer
//!   starvation), so audio and video reporting the same stall count once (§5.2).
//! - `stall_ms`: Σ `bsd` (v2 durations of completed stalls, §5.2); null without any.
//! - `played_ms`: Σ `d` over video requests (content fetched, §5.1 "play duration").
//! - `avg_bitrate_kbps`: Σ(`br`·`d`) / Σ`d` over video requests with both (time-weighted, §5.2).
//! - `bitrate_switches`: changes of `br` between consecutive video requests of the same `ot`.
//! - `top_bitrate_share`: Σ`d` where `br` = `tb` / Σ`d`, over video requests with `br`, `d`,
//!   `tb` (§5.2).
//! - `throughput_headroom`: mean of `mtp` / `br` over video requests with both, `br` > 0 (§5.2).
//! - `bl_p50_ms`, `bl_p95_ms`: nearest-rank percentiles of `bl` (value at rank ⌈p·n⌉).
//! - `status_4xx`, `status_5xx`: requests with `sc-status` in 400–499, 500–599.
//! - `cache_hit_ratio`: requests whose `x-edge-response-result-type` (else
//!   `x-edge-result-type`) is `Hit` or `RefreshHit`, over requests with a result type (§5.1).
//! - `edge_location`, `c_country`, `cmcd_cid`, `cmcd_sf`, `cmcd_st`, `cs_user_agent`,
//!   `smd_session_id`: from the first request that has a value; `edge_locations`: the distinct
//!   edge locations, sorted, comma-separated; `cmcd_v`: the highest version (absent = 1).
//!
//! Rows without a `sid` are not part of any session. A row for an hour already closed is
//! counted in [`Aggregator::late_rows`] and left out of `sessions` (it is still in `requests`).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use token_core::cmcd::ObjectType;

use crate::field::Field;
use crate::partition::Partition;
use crate::request::Request;
use crate::schema::{Datum, SessionCol, Source};

/// Default allowed lateness: 10 minutes.
pub const DEFAULT_LATENESS_MS: i64 = 10 * 60 * 1000;

/// One `sessions` row.
#[derive(Debug, Clone, PartialEq, Default)]
#[allow(missing_docs)] // see the module docs and the DDL comments
pub struct SessionRow {
    pub partition: Option<Partition>,
    pub sid: String,
    pub first_seen: i64,
    pub last_seen: i64,
    pub requests: i64,
    pub media_requests: i64,
    pub bytes: i64,
    pub startup_ms: Option<i64>,
    pub startup_source: Option<&'static str>,
    pub rebuffer_count: i64,
    pub stall_ms: Option<i64>,
    pub played_ms: i64,
    pub avg_bitrate_kbps: Option<f64>,
    pub bitrate_switches: i64,
    pub top_bitrate_share: Option<f64>,
    pub throughput_headroom: Option<f64>,
    pub bl_p50_ms: Option<i64>,
    pub bl_p95_ms: Option<i64>,
    pub status_4xx: i64,
    pub status_5xx: i64,
    pub cache_hit_ratio: Option<f64>,
    pub edge_location: Option<String>,
    pub edge_locations: Option<String>,
    pub country: Option<String>,
    pub cid: Option<String>,
    pub sf: Option<&'static str>,
    pub st: Option<&'static str>,
    pub v: i64,
    pub user_agent: Option<String>,
    pub smd_session_id: Option<String>,
}

impl SessionRow {
    /// The value of a `sessions` column.
    pub fn datum(&self, source: Source) -> Datum<'_> {
        use SessionCol as C;
        let Source::Session(col) = source else { return Datum::Null };
        match col {
            C::Sid => Datum::Str(&self.sid),
            C::FirstSeen => Datum::Millis(self.first_seen),
            C::LastSeen => Datum::Millis(self.last_seen),
            C::Requests => Datum::Int(self.requests),
            C::MediaRequests => Datum::Int(self.media_requests),
            C::Bytes => Datum::Int(self.bytes),
            C::StartupMs => Datum::int(self.startup_ms),
            C::StartupSource => Datum::str(self.startup_source),
            C::RebufferCount => Datum::Int(self.rebuffer_count),
            C::StallMs => Datum::int(self.stall_ms),
            C::PlayedMs => Datum::Int(self.played_ms),
            C::AvgBitrateKbps => Datum::float(self.avg_bitrate_kbps),
            C::BitrateSwitches => Datum::Int(self.bitrate_switches),
            C::TopBitrateShare => Datum::float(self.top_bitrate_share),
            C::ThroughputHeadroom => Datum::float(self.throughput_headroom),
            C::BlP50Ms => Datum::int(self.bl_p50_ms),
            C::BlP95Ms => Datum::int(self.bl_p95_ms),
            C::Status4xx => Datum::Int(self.status_4xx),
            C::Status5xx => Datum::Int(self.status_5xx),
            C::CacheHitRatio => Datum::float(self.cache_hit_ratio),
            C::EdgeLocation => Datum::str(self.edge_location.as_deref()),
            C::EdgeLocations => Datum::str(self.edge_locations.as_deref()),
            C::Country => Datum::str(self.country.as_deref()),
            C::Cid => Datum::str(self.cid.as_deref()),
            C::Sf => Datum::str(self.sf),
            C::St => Datum::str(self.st),
            C::V => Datum::Int(self.v),
            C::UserAgent => Datum::str(self.user_agent.as_deref()),
            C::SmdSessionId => Datum::str(self.smd_session_id.as_deref()),
        }
    }
}

/// Per-media-request facts kept for the order-dependent metrics (24 bytes: one is kept per
/// media request of every open session-hour).
#[derive(Debug, Clone, Copy)]
struct Event {
    ts: i64,
    seq: u64,
    /// `br` in kbps; `u32::MAX` when absent (or beyond u32, which no ladder reaches).
    br: u32,
    /// 0 audio, 1 video, 2 muxed.
    ot: u8,
    su: bool,
}

const NO_BR: u32 = u32::MAX;

/// A value with the (timestamp, input position) of the request it came from; the earliest wins.
#[derive(Debug, Clone, Default)]
struct First<T>(Option<((i64, u64), T)>);

impl<T> First<T> {
    /// Keeps `make()`'s value if this request is earlier than the one kept; `make` runs only
    /// then (rows mostly arrive in order, so values are rarely built).
    fn offer(&mut self, at: (i64, u64), make: impl FnOnce() -> Option<T>) {
        if self.0.as_ref().is_none_or(|(k, _)| at < *k)
            && let Some(v) = make()
        {
            self.0 = Some((at, v));
        }
    }
    fn get(self) -> Option<T> {
        self.0.map(|(_, v)| v)
    }
    fn at(&self) -> Option<(i64, u64)> {
        self.0.as_ref().map(|(k, _)| *k)
    }
}

#[derive(Debug, Default)]
struct State {
    first_seen: i64,
    last_seen: i64,
    requests: i64,
    media_requests: i64,
    bytes: i64,
    events: Vec<Event>,
    /// `su` of the earliest request.
    first_su: First<bool>,
    msd: First<i64>,
    bs_seconds: BTreeSet<i64>,
    stall_ms: Option<i64>,
    played_ms: i64,
    br_d: i128,
    d_with_br: i128,
    top_d: i128,
    d_with_tb: i128,
    headroom_sum: f64,
    headroom_n: i64,
    bl: Vec<u32>,
    status_4xx: i64,
    status_5xx: i64,
    hits: i64,
    with_result: i64,
    edges: BTreeSet<String>,
    edge: First<String>,
    country: First<String>,
    cid: First<String>,
    sf: First<&'static str>,
    st: First<&'static str>,
    ua: First<String>,
    smd: First<String>,
    v: i64,
}

impl State {
    fn push(&mut self, r: &Request<'_>, seq: u64) {
        let ts = r.timestamp_ms();
        let c = &r.cmcd;
        let at = (ts, seq);
        if self.requests == 0 {
            self.first_seen = ts;
            self.last_seen = ts;
            self.v = 1;
        }
        self.first_seen = self.first_seen.min(ts);
        self.last_seen = self.last_seen.max(ts);
        self.requests += 1;
        if c.is_media() {
            self.media_requests += 1;
        }
        self.bytes = self.bytes.saturating_add(r.record.int(Field::ScBytes).unwrap_or(0));
        let su = c.su == Some(true);
        self.first_su.offer(at, || Some(su));
        self.msd.offer(at, || c.msd);
        let ot = match c.ot {
            Some(ObjectType::Audio) => Some(0),
            Some(ObjectType::Video) => Some(1),
            Some(ObjectType::Muxed) => Some(2),
            _ => None,
        };
        if let Some(ot) = ot {
            let br =
                c.br.and_then(|b| u32::try_from(b).ok()).filter(|b| *b != NO_BR).unwrap_or(NO_BR);
            self.events.push(Event { ts, seq, br, ot, su });
        }
        if c.bs == Some(true) {
            self.bs_seconds.insert(ts.div_euclid(1000));
        }
        if let Some(bsd) = c.bsd {
            self.stall_ms = Some(self.stall_ms.unwrap_or(0).saturating_add(bsd));
        }
        if c.is_video() {
            if let Some(d) = c.d {
                self.played_ms = self.played_ms.saturating_add(d);
                if let Some(br) = c.br {
                    self.br_d += i128::from(br) * i128::from(d);
                    self.d_with_br += i128::from(d);
                    if let Some(tb) = c.tb {
                        self.d_with_tb += i128::from(d);
                        if br == tb {
                            self.top_d += i128::from(d);
                        }
                    }
                }
            }
            if let (Some(mtp), Some(br)) = (c.mtp, c.br)
                && br > 0
            {
                #[allow(clippy::cast_precision_loss)] // kbps values are far below 2^53
                let ratio = mtp as f64 / br as f64;
                self.headroom_sum += ratio;
                self.headroom_n += 1;
            }
        }
        if let Some(bl) = c.bl {
            self.bl.push(u32::try_from(bl).unwrap_or(u32::MAX));
        }
        match r.record.int(Field::ScStatus) {
            Some(400..=499) => self.status_4xx += 1,
            Some(500..=599) => self.status_5xx += 1,
            _ => {}
        }
        let result = r
            .record
            .text(Field::XEdgeResponseResultType)
            .or_else(|| r.record.text(Field::XEdgeResultType));
        if let Some(result) = result {
            self.with_result += 1;
            if result == "Hit" || result == "RefreshHit" {
                self.hits += 1;
            }
        }
        if let Some(edge) = r.record.text(Field::XEdgeLocation) {
            if !self.edges.contains(edge) {
                self.edges.insert(edge.to_owned());
            }
            self.edge.offer(at, || Some(edge.to_owned()));
        }
        self.country.offer(at, || r.record.text(Field::CCountry).map(str::to_owned));
        self.cid.offer(at, || c.cid.clone());
        self.sf.offer(at, || c.sf.map(|t| t.as_str()));
        self.st.offer(at, || c.st.map(|t| t.as_str()));
        self.ua.offer(at, || r.record.text(Field::CsUserAgent).map(str::to_owned));
        self.smd.offer(at, || r.smd_session_id.clone());
        self.v = self.v.max(c.v.unwrap_or(1));
    }

    fn finish(mut self, partition: Partition, sid: String) -> SessionRow {
        self.events.sort_by_key(|e| (e.ts, e.seq));
        let first_at = self.first_su.at();
        let (startup_ms, startup_source) = match (self.msd.get(), self.first_su.get(), first_at) {
            (Some(m), _, _) => (Some(m), Some("msd")),
            (None, Some(true), Some((first_ts, _))) => match self.events.iter().find(|e| !e.su) {
                Some(e) => (Some(e.ts - first_ts), Some("su")),
                None => (None, None),
            },
            _ => (None, None),
        };
        let mut switches = 0;
        let mut last: [Option<u32>; 2] = [None, None];
        for e in &self.events {
            let slot = match e.ot {
                1 => 0,
                2 => 1,
                _ => continue,
            };
            if e.br == NO_BR {
                continue;
            }
            if last[slot].is_some_and(|prev| prev != e.br) {
                switches += 1;
            }
            last[slot] = Some(e.br);
        }
        self.bl.sort_unstable();
        #[allow(clippy::cast_precision_loss)] // sums of kbps·ms and counts, exact enough
        let ratio = |num: i128, den: i128| (den != 0).then(|| num as f64 / den as f64);
        SessionRow {
            partition: Some(partition),
            sid,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            requests: self.requests,
            media_requests: self.media_requests,
            bytes: self.bytes,
            startup_ms,
            startup_source,
            rebuffer_count: i64::try_from(self.bs_seconds.len()).unwrap_or(i64::MAX),
            stall_ms: self.stall_ms,
            played_ms: self.played_ms,
            avg_bitrate_kbps: ratio(self.br_d, self.d_with_br),
            bitrate_switches: switches,
            top_bitrate_share: ratio(self.top_d, self.d_with_tb),
            #[allow(clippy::cast_precision_loss)]
            throughput_headroom: (self.headroom_n > 0)
                .then(|| self.headroom_sum / self.headroom_n as f64),
            bl_p50_ms: nearest_rank(&self.bl, 50).map(i64::from),
            bl_p95_ms: nearest_rank(&self.bl, 95).map(i64::from),
            status_4xx: self.status_4xx,
            status_5xx: self.status_5xx,
            cache_hit_ratio: ratio(i128::from(self.hits), i128::from(self.with_result)),
            edge_location: self.edge.get(),
            edge_locations: (!self.edges.is_empty())
                .then(|| self.edges.into_iter().collect::<Vec<_>>().join(",")),
            country: self.country.get(),
            cid: self.cid.get(),
            sf: self.sf.get(),
            st: self.st.get(),
            v: self.v,
            user_agent: self.ua.get(),
            smd_session_id: self.smd.get(),
        }
    }
}

/// Nearest-rank percentile of sorted values: the value at rank ⌈p·n/100⌉ (1-based).
pub fn nearest_rank<T: Copy>(sorted: &[T], p: usize) -> Option<T> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// The closed sessions of one hour, sorted by `sid`.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionBatch {
    /// The hour.
    pub partition: Partition,
    /// The rows.
    pub rows: Vec<SessionRow>,
}

/// One hour's sessions by `sid`. foldhash, randomly seeded per map (the `sid` comes from the
/// log), instead of std's SipHash: the lookup is once per row.
type Sessions = HashMap<String, State, foldhash::fast::RandomState>;

/// The aggregator (see the module docs).
#[derive(Debug)]
pub struct Aggregator {
    lateness_ms: i64,
    watermark: Option<i64>,
    /// Open hours in order; each hour's sessions by `sid` in a hash map (a lookup per row: a
    /// tree of ~700 sessions cost ten string comparisons), sorted when the hour closes.
    open: BTreeMap<Partition, Sessions>,
    closed_before: Option<Partition>,
    seq: u64,
    late_rows: u64,
    without_sid: u64,
}

impl Default for Aggregator {
    fn default() -> Self {
        Self::new(DEFAULT_LATENESS_MS)
    }
}

impl Aggregator {
    /// An aggregator that closes an hour once rows `lateness_ms` past its end have arrived.
    pub fn new(lateness_ms: i64) -> Self {
        Self {
            lateness_ms: lateness_ms.max(0),
            watermark: None,
            open: BTreeMap::new(),
            closed_before: None,
            seq: 0,
            late_rows: 0,
            without_sid: 0,
        }
    }

    /// Adds one request.
    pub fn push(&mut self, r: &Request<'_>) {
        self.seq += 1;
        let ts = r.timestamp_ms();
        self.watermark = Some(self.watermark.map_or(ts, |w| w.max(ts)));
        let Some(sid) = r.cmcd.sid.as_deref() else {
            self.without_sid += 1;
            return;
        };
        let p = r.partition();
        if self.closed_before.is_some_and(|c| p < c) {
            self.late_rows += 1;
            return;
        }
        let bucket = self.open.entry(p).or_default();
        if let Some(state) = bucket.get_mut(sid) {
            state.push(r, self.seq);
        } else {
            let mut state = State::default();
            state.push(r, self.seq);
            bucket.insert(sid.to_owned(), state);
        }
    }

    /// Hours whose end plus the lateness the watermark has passed, closed and removed.
    pub fn drain_closed(&mut self) -> Vec<SessionBatch> {
        let Some(w) = self.watermark else { return Vec::new() };
        let mut out = Vec::new();
        while let Some(entry) = self.open.first_entry() {
            if entry.key().end_ms() + self.lateness_ms > w {
                break;
            }
            let (p, bucket) = entry.remove_entry();
            self.closed_before = Some(self.closed_before.map_or(p, |c| c.max(p)));
            out.push(close(p, bucket));
        }
        out
    }

    /// Whether hours are waiting in [`Aggregator::drain_closed`] (cheap check).
    pub fn has_closable(&self) -> bool {
        match (self.watermark, self.open.keys().next()) {
            (Some(w), Some(p)) => p.end_ms() + self.lateness_ms <= w,
            _ => false,
        }
    }

    /// Closes every open hour.
    pub fn finish(&mut self) -> Vec<SessionBatch> {
        let open = std::mem::take(&mut self.open);
        open.into_iter().map(|(p, bucket)| close(p, bucket)).collect()
    }

    /// Number of (sid, hour) buckets open.
    pub fn open_sessions(&self) -> usize {
        self.open.values().map(HashMap::len).sum()
    }

    /// Rows that arrived for an hour already closed.
    pub fn late_rows(&self) -> u64 {
        self.late_rows
    }

    /// Rows without a CMCD `sid`.
    pub fn rows_without_sid(&self) -> u64 {
        self.without_sid
    }
}

/// The rows of one closed hour, in `sid` order.
fn close(p: Partition, bucket: Sessions) -> SessionBatch {
    let mut sessions: Vec<(String, State)> = bucket.into_iter().collect();
    sessions.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    SessionBatch {
        partition: p,
        rows: sessions.into_iter().map(|(sid, s)| s.finish(p, sid)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        // Nearest rank: p50 of 1..=10 is the 5th value, p95 the 10th.
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(nearest_rank(&v, 50), Some(5));
        assert_eq!(nearest_rank(&v, 95), Some(10));
        assert_eq!(nearest_rank(&[7], 95), Some(7));
        assert_eq!(nearest_rank::<i64>(&[], 50), None);
    }
}
