//! Simulated players: concurrent HTTP clients that play the live loop channel through the local
//! edge with an ABR loop, sending CMCD (v1 in the query, v2 in headers) the way real players do.
//!
//! The network is simulated: each player has a bandwidth profile, and a segment "takes"
//! `bytes × 8 / bandwidth` seconds to arrive (the client sleeps that long after the real loopback
//! download). The buffer fills by one segment duration per download and drains in real time, so
//! slow profiles rebuffer for real and report it (`bs` in v1, `bsd`/`bsa` in v2). A few players
//! carry expired or tampered tokens and meet the edge's rejections.

mod player;
pub(crate) mod stack;

use std::collections::BTreeMap;
use std::time::Duration;

use token_core::token::SigningKey;

pub(crate) use player::{PlayerSpec, TokenKind};

/// What the whole simulation saw.
#[derive(Debug, Default, serde::Serialize)]
pub(crate) struct SimReport {
    pub(crate) players: usize,
    pub(crate) requests: u64,
    pub(crate) rejected: BTreeMap<u16, u64>,
    pub(crate) unexpected_rejections: u64,
    pub(crate) rebuffers: u64,
    pub(crate) bytes: u64,
}

/// Runs `specs` concurrently against `base` (e.g. `http://127.0.0.1:8080`) for `duration`.
pub(crate) async fn run(
    base: &str,
    key: &SigningKey,
    specs: Vec<PlayerSpec>,
    duration: Duration,
) -> SimReport {
    let client = player::client();
    let mut tasks = Vec::new();
    let deadline = tokio::time::Instant::now() + duration;
    for spec in specs {
        let client = client.clone();
        let base = base.to_owned();
        let key = key.clone();
        tasks.push(tokio::spawn(async move {
            player::play(&client, &base, &key, spec, deadline).await
        }));
    }
    let mut report = SimReport { players: tasks.len(), ..SimReport::default() };
    for task in tasks {
        if let Ok(outcome) = task.await {
            report.requests += outcome.requests;
            report.rebuffers += outcome.rebuffers;
            report.bytes += outcome.bytes;
            for (status, n) in outcome.rejected {
                *report.rejected.entry(status).or_default() += n;
                if outcome.token == TokenKind::Valid {
                    report.unexpected_rejections += n;
                }
            }
        }
    }
    report
}

/// A deterministic mix of `n` players: bandwidth profiles from 1 to 12 Mbps (a few starved),
/// every third player on CMCD v2 headers, the rest v1 query; one in twenty with an expired token
/// and one in twenty-five with a tampered one (when `with_bad_tokens`).
pub(crate) fn mix(n: usize, with_bad_tokens: bool) -> Vec<PlayerSpec> {
    (0..n)
        .map(|i| {
            let token = match i {
                _ if !with_bad_tokens => TokenKind::Valid,
                i if i % 20 == 19 => TokenKind::Expired,
                i if i % 25 == 24 => TokenKind::Tampered,
                _ => TokenKind::Valid,
            };
            PlayerSpec {
                index: i,
                v2: i % 3 == 2,
                bandwidth_kbps: match i % 7 {
                    // Below the lowest rung: this player rebuffers.
                    0 => 330,
                    1 => 1_800,
                    2 => 3_200,
                    3 => 5_500,
                    4 => 8_000,
                    5 => 12_000,
                    _ => 2_400,
                },
                country: ["US", "DE", "FR", "BR", "JP", "IN", "GB"][i % 7],
                token,
            }
        })
        .collect()
}
