//! The local stack: the edge (live loop origin, token check, real-time log) and a crowd of
//! simulated players, in one process. Used by `smd-cli quickstart` and `smd-cli edge load`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use hyper::StatusCode;
use token_core::token::{KeySet, Verifier};

use super::{SimReport, mix};
use crate::serve::{Edge, Origin, live, log};

/// A progress callback (one line of text).
pub(crate) type Progress = Arc<dyn Fn(&str) + Send + Sync>;

/// What a run of the local stack measured.
#[derive(Debug, serde::Serialize)]
pub(crate) struct StackReport {
    pub(crate) sim: SimReport,
    pub(crate) edge_requests: u64,
    pub(crate) rejections_by_code: std::collections::BTreeMap<String, u64>,
    pub(crate) requests_per_second: f64,
    pub(crate) validation_p50_us: Option<u32>,
    pub(crate) validation_p99_us: Option<u32>,
    pub(crate) seconds: f64,
}

/// Runs the edge on an ephemeral loopback port with `players` simulated players for
/// `duration`, logging every request to `log_path`.
pub(crate) fn run(
    keys: &KeySet,
    players: usize,
    duration: Duration,
    log_path: &Path,
    with_bad_tokens: bool,
    progress: Option<Progress>,
) -> anyhow::Result<StackReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let start = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        // Start the channel a minute in the past so players find a full window at once.
        let channel =
            live::LoopChannel::new("/live/", start.saturating_sub(Duration::from_secs(60)), 2, 6);
        let fields = log::ALL_FIELDS.iter().map(|f| (*f).to_owned()).collect();
        let (sink, writer) = log::LogSink::start(log_path, fields)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let edge = Arc::new(Edge::new(
            Verifier::new(keys.clone()),
            Origin::Live(Arc::new(channel)),
            Some(sink),
            StatusCode::FORBIDDEN,
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(crate::serve::serve(listener, Arc::clone(&edge), async {
            let _ = stop_rx.await;
        }));
        let began = Instant::now();
        let ticker = progress.map(|p| {
            let edge = Arc::clone(&edge);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(5));
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let (requests, rejected) = edge
                        .stats
                        .lock()
                        .map(|s| (s.requests, s.rejections.values().sum::<u64>()))
                        .unwrap_or_default();
                    p(&format!(
                        "  {:>4.0}s  {players} players  {requests} requests  {rejected} rejected",
                        began.elapsed().as_secs_f64()
                    ));
                }
            })
        });
        let sim = super::run(&base, keys.primary(), mix(players, with_bad_tokens), duration).await;
        if let Some(t) = ticker {
            t.abort();
        }
        let seconds = began.elapsed().as_secs_f64();
        let _ = stop_tx.send(());
        let _ = server.await;
        let stats = edge
            .stats
            .lock()
            .map(|s| {
                (
                    s.requests,
                    s.rejections.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
                    s.validation_quantile(0.5),
                    s.validation_quantile(0.99),
                )
            })
            .ok();
        drop(edge);
        let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
        let (edge_requests, rejections_by_code, p50, p99) =
            stats.context("edge statistics unavailable")?;
        Ok(StackReport {
            sim,
            edge_requests,
            rejections_by_code,
            requests_per_second: edge_requests as f64 / seconds.max(0.001),
            validation_p50_us: p50,
            validation_p99_us: p99,
            seconds,
        })
    })
}
