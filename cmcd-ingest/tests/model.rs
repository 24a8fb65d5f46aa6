//! Model test: for arbitrary traffic, the `sessions` rows equal a naive recomputation from the
//! `requests` rows, following the definitions of `cmcd_ingest::session` literally.

// Test helpers fail loudly on broken fixtures.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::borrow::Cow;
use std::collections::BTreeMap;

use cmcd_ingest::extract::Cmcd;
use cmcd_ingest::field::{Field, FieldSet};
use cmcd_ingest::generate::{Config, Generator};
use cmcd_ingest::line::{Cell, Record};
use cmcd_ingest::partition::Partition;
use cmcd_ingest::request::Request;
use cmcd_ingest::session::{Aggregator, SessionRow};
use proptest::prelude::*;
use token_core::cmcd::{ObjectType, StreamType, StreamingFormat};

/// The naive recomputation: group, sort, and compute each column from its definition.
fn naive(requests: &[Request<'_>]) -> Vec<SessionRow> {
    let mut groups: BTreeMap<(Partition, String), Vec<(usize, &Request<'_>)>> = BTreeMap::new();
    for (i, r) in requests.iter().enumerate() {
        if let Some(sid) = &r.cmcd.sid {
            groups.entry((r.partition(), sid.clone())).or_default().push((i, r));
        }
    }
    let mut out = Vec::new();
    for ((p, sid), rows) in groups {
        let mut ordered = rows.clone();
        ordered.sort_by_key(|(i, r)| (r.timestamp_ms(), *i));
        let rs: Vec<&Request<'_>> = ordered.iter().map(|(_, r)| *r).collect();
        let video =
            |r: &&Request<'_>| matches!(r.cmcd.ot, Some(ObjectType::Video | ObjectType::Muxed));
        let media = |r: &&Request<'_>| {
            matches!(r.cmcd.ot, Some(ObjectType::Audio | ObjectType::Video | ObjectType::Muxed))
        };
        let msd = rs.iter().find_map(|r| r.cmcd.msd);
        let first = rs[0];
        let (startup_ms, startup_source) = if let Some(m) = msd {
            (Some(m), Some("msd"))
        } else if first.cmcd.su == Some(true) {
            match rs.iter().find(|r| media(r) && r.cmcd.su != Some(true)) {
                Some(r) => (Some(r.timestamp_ms() - first.timestamp_ms()), Some("su")),
                None => (None, None),
            }
        } else {
            (None, None)
        };
        let mut bs_secs: Vec<i64> = rs
            .iter()
            .filter(|r| r.cmcd.bs == Some(true))
            .map(|r| r.timestamp_ms().div_euclid(1000))
            .collect();
        bs_secs.sort_unstable();
        bs_secs.dedup();
        let bsds: Vec<i64> = rs.iter().filter_map(|r| r.cmcd.bsd).collect();
        let with_d: Vec<&&Request<'_>> =
            rs.iter().filter(|r| video(r) && r.cmcd.d.is_some()).collect();
        let played: i64 = with_d.iter().map(|r| r.cmcd.d.unwrap()).sum();
        let brd: Vec<(i64, i64)> =
            with_d.iter().filter_map(|r| Some((r.cmcd.br?, r.cmcd.d?))).collect();
        let sum_d: i128 = brd.iter().map(|(_, d)| i128::from(*d)).sum();
        let avg = (sum_d != 0).then(|| {
            brd.iter().map(|(b, d)| i128::from(*b) * i128::from(*d)).sum::<i128>() as f64
                / sum_d as f64
        });
        let tbd: Vec<(i64, i64, i64)> =
            with_d.iter().filter_map(|r| Some((r.cmcd.br?, r.cmcd.d?, r.cmcd.tb?))).collect();
        let den: i128 = tbd.iter().map(|t| i128::from(t.1)).sum();
        let top = (den != 0).then(|| {
            tbd.iter().filter(|t| t.0 == t.2).map(|t| i128::from(t.1)).sum::<i128>() as f64
                / den as f64
        });
        let mut switches = 0;
        for ot in [ObjectType::Video, ObjectType::Muxed] {
            let brs: Vec<i64> =
                rs.iter().filter(|r| r.cmcd.ot == Some(ot)).filter_map(|r| r.cmcd.br).collect();
            switches += brs.windows(2).filter(|w| w[0] != w[1]).count() as i64;
        }
        // Headroom is a mean of ratios summed in input order (as the aggregator does).
        let mut by_input = rows.clone();
        by_input.sort_by_key(|(i, _)| *i);
        let ratios: Vec<f64> = by_input
            .iter()
            .map(|(_, r)| r)
            .filter(|r| video(r))
            .filter_map(|r| match (r.cmcd.mtp, r.cmcd.br) {
                (Some(m), Some(b)) if b > 0 => Some(m as f64 / b as f64),
                _ => None,
            })
            .collect();
        let headroom =
            (!ratios.is_empty()).then(|| ratios.iter().sum::<f64>() / ratios.len() as f64);
        let mut bl: Vec<i64> = rs.iter().filter_map(|r| r.cmcd.bl).collect();
        bl.sort_unstable();
        let pct = |p: usize| -> Option<i64> {
            if bl.is_empty() {
                return None;
            }
            let rank = ((p * bl.len()) as f64 / 100.0).ceil() as usize;
            Some(bl[rank.max(1) - 1])
        };
        let status = |lo: i64, hi: i64| {
            rs.iter()
                .filter(|r| r.record.int(Field::ScStatus).is_some_and(|s| (lo..=hi).contains(&s)))
                .count() as i64
        };
        let results: Vec<&str> = rs
            .iter()
            .filter_map(|r| {
                r.record
                    .text(Field::XEdgeResponseResultType)
                    .or_else(|| r.record.text(Field::XEdgeResultType))
            })
            .collect();
        let hits = results.iter().filter(|t| **t == "Hit" || **t == "RefreshHit").count();
        let mut edges: Vec<String> = rs
            .iter()
            .filter_map(|r| r.record.text(Field::XEdgeLocation))
            .map(str::to_owned)
            .collect();
        edges.sort();
        edges.dedup();
        let first_text = |f: Field| rs.iter().find_map(|r| r.record.text(f)).map(str::to_owned);
        out.push(SessionRow {
            partition: Some(p),
            sid,
            first_seen: rs.iter().map(|r| r.timestamp_ms()).min().unwrap(),
            last_seen: rs.iter().map(|r| r.timestamp_ms()).max().unwrap(),
            requests: rs.len() as i64,
            media_requests: rs.iter().filter(|r| media(r)).count() as i64,
            bytes: rs.iter().map(|r| r.record.int(Field::ScBytes).unwrap_or(0)).sum(),
            startup_ms,
            startup_source,
            rebuffer_count: bs_secs.len() as i64,
            stall_ms: (!bsds.is_empty()).then(|| bsds.iter().sum()),
            played_ms: played,
            avg_bitrate_kbps: avg,
            bitrate_switches: switches,
            top_bitrate_share: top,
            throughput_headroom: headroom,
            bl_p50_ms: pct(50),
            bl_p95_ms: pct(95),
            status_4xx: status(400, 499),
            status_5xx: status(500, 599),
            cache_hit_ratio: (!results.is_empty()).then(|| hits as f64 / results.len() as f64),
            edge_location: first_text(Field::XEdgeLocation),
            edge_locations: (!edges.is_empty()).then(|| edges.join(",")),
            country: first_text(Field::CCountry),
            cid: rs.iter().find_map(|r| r.cmcd.cid.clone()),
            sf: rs.iter().find_map(|r| r.cmcd.sf.map(|t| t.as_str())),
            st: rs.iter().find_map(|r| r.cmcd.st.map(|t| t.as_str())),
            v: rs.iter().map(|r| r.cmcd.v.unwrap_or(1)).max().unwrap_or(1),
            user_agent: first_text(Field::CsUserAgent),
            smd_session_id: rs.iter().find_map(|r| r.smd_session_id.clone()),
        });
    }
    out
}

fn aggregate(requests: &[Request<'_>], lateness_ms: i64) -> Vec<SessionRow> {
    let mut agg = Aggregator::new(lateness_ms);
    let mut out = Vec::new();
    for r in requests {
        agg.push(r);
        for b in agg.drain_closed() {
            out.extend(b.rows);
        }
    }
    for b in agg.finish() {
        out.extend(b.rows);
    }
    assert_eq!(agg.late_rows(), 0);
    out
}

fn arb_request() -> impl Strategy<Value = Request<'static>> {
    let ots = prop_oneof![
        Just(None),
        Just(Some(ObjectType::Video)),
        Just(Some(ObjectType::Audio)),
        Just(Some(ObjectType::Muxed)),
        Just(Some(ObjectType::Manifest)),
    ];
    (
        (
            0i64..3 * 3_600_000,
            0usize..4,
            ots,
            prop::option::of(prop::sample::select(vec![400i64, 800, 3200, 6000])),
            prop::option::of(1000i64..6000),
        ),
        (
            prop::option::of(prop::sample::select(vec![3200i64, 6000])),
            prop::option::of(any::<bool>()),
            prop::option::of(any::<bool>()),
            prop::option::of(0i64..5000),
            prop::option::of(0i64..30_000),
        ),
        (
            prop::option::of(0i64..20_000),
            prop::option::of(0i64..10_000),
            prop::option::of(prop::sample::select(vec![200i64, 206, 404, 503])),
            prop::option::of(prop::sample::select(vec!["Hit", "Miss", "RefreshHit", "Error"])),
            prop::option::of(prop::sample::select(vec!["FRA56-P3", "LHR61-P1"])),
        ),
        (
            prop::option::of(prop::sample::select(vec!["DE", "GB"])),
            prop::option::of(1i64..3),
            prop::option::of(0i64..2_000_000),
            prop::option::of("[a-z]{3}"),
        ),
    )
        .prop_map(
            |(
                (ts, sid, ot, br, d),
                (tb, bs, su, bsd, bl),
                (mtp, msd, status, result, edge),
                (country, v, bytes, smd),
            )| {
                let mut record = Record::new(1_714_600_000_000 + ts);
                if let Some(s) = status {
                    record.set(Field::ScStatus, Cell::Int(s));
                }
                if let Some(b) = bytes {
                    record.set(Field::ScBytes, Cell::Int(b));
                }
                if let Some(t) = result {
                    record.set(Field::XEdgeResultType, Cell::Text(Cow::Borrowed(t)));
                }
                if let Some(e) = edge {
                    record.set(Field::XEdgeLocation, Cell::Text(Cow::Borrowed(e)));
                }
                if let Some(c) = country {
                    record.set(Field::CCountry, Cell::Text(Cow::Borrowed(c)));
                }
                let cmcd = Cmcd {
                    sid: (sid < 3).then(|| format!("s{sid}")),
                    ot,
                    br,
                    d,
                    tb,
                    bs,
                    su,
                    bsd,
                    bl,
                    mtp,
                    msd,
                    v,
                    sf: Some(StreamingFormat::Dash),
                    st: Some(StreamType::Vod),
                    ..Cmcd::default()
                };
                Request { record, cmcd, smd_session_id: smd }
            },
        )
}

fn assert_same(got: &[SessionRow], want: &[SessionRow]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g, w, "sid {} in {:?}", w.sid, w.partition);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Arbitrary rows in arbitrary order (no lateness limit, so nothing is late).
    #[test]
    fn sessions_equal_naive_recomputation(requests in prop::collection::vec(arb_request(), 0..200)) {
        assert_same(&aggregate(&requests, i64::MAX / 4), &naive(&requests));
    }

    /// Generated traffic (in timestamp order) through the default lateness.
    #[test]
    fn generated_traffic(seed in 0u64..1000, sessions in 1u32..8, minutes in 1u32..60) {
        let cfg = Config { sessions, minutes, seed, ..Config::default() };
        let fields = FieldSet::all();
        let lines: Vec<String> = Generator::new(cfg).collect();
        let requests: Vec<Request<'_>> = lines.iter().filter_map(|l| Request::parse(&fields, l.as_bytes()).ok()).collect();
        assert_same(&aggregate(&requests, cmcd_ingest::session::DEFAULT_LATENESS_MS), &naive(&requests));
    }
}
