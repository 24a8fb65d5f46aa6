//! The consumer process: discovers shards, keeps its leases (take, renew, steal, release),
//! runs one [`super::worker`] per held shard, reports progress, and shuts down
//! gracefully (ranges in flight written and checkpointed, leases released for an immediate
//! hand-over).
//!
//! Memory bound: each shard buffers at most `max_range_records` records and about
//! `max_range_bytes` bytes plus one `GetRecords` answer (≤ 10 MB); across shards, once the
//! buffered bytes pass `max_buffer_bytes` the biggest buffer is flushed and the other shards
//! stop reading until there is room. So buffered record bytes stay below
//! `max_buffer_bytes + shards × 10 MB`, plus the ranges being encoded (one per shard at most,
//! and their encoded objects).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::discovery::{ShardList, list_shards};
use super::error::ConsumerError;
use super::lease::{Claim, Held, plan};
use super::lease_store::LeaseStore;
use super::output::{RangeEncoder, RangeSink};
use super::reader::StartAt;
use super::worker::{self, ShardExit};

/// Consumer settings.
#[derive(Debug, Clone)]
pub struct ConsumerConfig {
    /// The stream name.
    pub stream: String,
    /// This worker's id in the lease table (unique per process; a restart may reuse it to
    /// reclaim its own leases at once).
    pub worker_id: String,
    /// Where shards without a checkpoint start (default `TRIM_HORIZON`).
    pub start: StartAt,
    /// A range is written once it holds this many records (default 10,000).
    pub max_range_records: usize,
    /// … or this many bytes of record data (default 64 MiB).
    pub max_range_bytes: usize,
    /// … or when its oldest record was read this long ago (default 60 s).
    pub flush_interval: Duration,
    /// Cap on buffered record bytes across all shards (default 256 MiB).
    pub max_buffer_bytes: usize,
    /// Lease duration (default 10 s); leases are renewed every third of it.
    pub lease_duration: Duration,
    /// Shards are listed again this often (default 30 s).
    pub list_interval: Duration,
    /// Sleep of a caught-up shard between reads (default 1 s).
    pub idle_sleep: Duration,
    /// Exit once everything held is drained and no record arrived for this long.
    pub exit_when_idle: Option<Duration>,
    /// A progress report is made this often (default 10 s).
    pub progress_interval: Duration,
}

impl ConsumerConfig {
    /// Defaults for `stream` and `worker_id`.
    pub fn new(stream: impl Into<String>, worker_id: impl Into<String>) -> Self {
        Self {
            stream: stream.into(),
            worker_id: worker_id.into(),
            start: StartAt::TrimHorizon,
            max_range_records: 10_000,
            max_range_bytes: 64 << 20,
            flush_interval: Duration::from_secs(60),
            max_buffer_bytes: 256 << 20,
            lease_duration: Duration::from_secs(10),
            list_interval: Duration::from_secs(30),
            idle_sleep: Duration::from_secs(1),
            exit_when_idle: None,
            progress_interval: Duration::from_secs(10),
        }
    }
}

/// Something worth telling the operator.
#[derive(Debug, Clone)]
pub struct Event {
    /// `info` or `warn`.
    pub level: &'static str,
    /// A stable code (`lease_taken`, `lease_stolen`, `lease_lost`, `lease_released`,
    /// `shard_finished`, `replay`, `write_retry`, `shards_listed`, `shutdown`).
    pub code: &'static str,
    /// The shard concerned, if any.
    pub shard: Option<String>,
    /// Human text.
    pub message: String,
}

impl Event {
    pub(crate) fn info(code: &'static str, shard: Option<&str>, message: String) -> Self {
        Self { level: "info", code, shard: shard.map(str::to_owned), message }
    }
    pub(crate) fn warn(code: &'static str, shard: Option<&str>, message: String) -> Self {
        Self { level: "warn", code, shard: shard.map(str::to_owned), message }
    }
}

/// Counters of one held shard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSnapshot {
    /// The shard id.
    pub shard_id: String,
    /// Records read since this process took the lease.
    pub records: u64,
    /// Record bytes read.
    pub bytes: u64,
    /// The last `MillisBehindLatest`.
    pub millis_behind: i64,
    /// Ranges written and checkpointed.
    pub ranges: u64,
    /// Bytes buffered now.
    pub buffered: usize,
    /// `GetRecords` calls.
    pub calls: u64,
    /// `GetRecords`/`GetShardIterator` calls retried after throttling, a 5xx answer or a
    /// connection failure, plus iterators replaced after expiring.
    pub read_retries: u64,
}

/// A progress report.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    /// Seconds since start.
    pub elapsed_s: f64,
    /// Records read by this process.
    pub records: u64,
    /// Record bytes read.
    pub bytes: u64,
    /// Records per second since the previous report.
    pub records_per_s: f64,
    /// Bytes per second since the previous report.
    pub bytes_per_s: f64,
    /// Ranges written and checkpointed.
    pub ranges: u64,
    /// Lake objects written.
    pub objects: u64,
    /// Failed lake writes that were retried.
    pub write_retries: u64,
    /// Kinesis reads that were retried (throttling, 5xx, expired iterators).
    pub read_retries: u64,
    /// Leases held now.
    pub leases: usize,
    /// Shards finished (closed and checkpointed at `SHARD_END`) by this process.
    pub finished: u64,
    /// Leases lost to other workers.
    pub lost: u64,
    /// The held shards.
    pub shards: Vec<ShardSnapshot>,
}

/// Live counters and flags of one held shard, shared by its worker and the coordinator.
#[derive(Debug, Default)]
pub(crate) struct ShardCtl {
    pub(crate) lost: AtomicBool,
    pub(crate) flush_now: AtomicBool,
    pub(crate) caught_up: AtomicBool,
    pub(crate) buffered: AtomicUsize,
    pub(crate) records: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) ranges: AtomicU64,
    pub(crate) objects: AtomicU64,
    pub(crate) calls: AtomicU64,
    pub(crate) read_retries: AtomicU64,
    pub(crate) write_retries: AtomicU64,
    pub(crate) millis_behind: AtomicI64,
    /// Milliseconds since the consumer started at which the last record arrived.
    pub(crate) last_record_ms: AtomicU64,
    pub(crate) wake: Notify,
    pub(crate) started: Option<Instant>,
}

impl ShardCtl {
    pub(crate) fn touch(&self) {
        if let Some(s) = self.started {
            let ms = u64::try_from(s.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.last_record_ms.store(ms, Ordering::Relaxed);
        }
    }
}

/// State shared by the coordinator and the shard workers.
pub(crate) struct Shared<E, S> {
    pub(crate) config: ConsumerConfig,
    pub(crate) store: LeaseStore,
    pub(crate) kinesis: aws_sdk_kinesis::Client,
    pub(crate) encoder: Arc<E>,
    pub(crate) sink: S,
    pub(crate) shutdown: AtomicBool,
    pub(crate) buffered: AtomicUsize,
    pub(crate) shards: Mutex<BTreeMap<String, Arc<ShardCtl>>>,
    /// Ranges encoded at once: one per core. Encoding is CPU work and each encode holds its
    /// row-group buffers, so more would only add memory (many shards flush at the same moment).
    pub(crate) encode_slots: tokio::sync::Semaphore,
    events: Mutex<Vec<Event>>,
}

impl<E, S> Shared<E, S> {
    pub(crate) fn event(&self, e: Event) {
        self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(e);
    }

    fn ctls(&self) -> Vec<(String, Arc<ShardCtl>)> {
        let map = self.shards.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        map.iter().map(|(k, v)| (k.clone(), Arc::clone(v))).collect()
    }

    pub(crate) fn biggest_buffer(&self) -> Option<String> {
        self.ctls()
            .into_iter()
            .max_by_key(|(id, c)| {
                (c.buffered.load(Ordering::SeqCst), std::cmp::Reverse(id.clone()))
            })
            .map(|(id, _)| id)
    }

    pub(crate) fn ask_biggest_to_flush(&self) {
        let map = self.shards.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(c) = map.values().max_by_key(|c| c.buffered.load(Ordering::SeqCst)) {
            c.flush_now.store(true, Ordering::SeqCst);
            c.wake.notify_one();
        }
    }

    /// Sleeps up to `d`, waking early on shutdown, loss or a flush request.
    pub(crate) async fn nap(&self, ctl: &ShardCtl, d: Duration) {
        let _ = tokio::time::timeout(d, ctl.wake.notified()).await;
    }
}

struct Running {
    held: Held,
    ctl: Arc<ShardCtl>,
    task: JoinHandle<Result<ShardExit, ConsumerError>>,
    /// Expiry written by the last successful take or renewal.
    expires_ms: i64,
}

/// The consumer (see the module docs).
pub struct Consumer<E: RangeEncoder, S: RangeSink> {
    shared: Arc<Shared<E, S>>,
    stop: Arc<AtomicBool>,
    stop_notify: Arc<Notify>,
}

impl<E: RangeEncoder, S: RangeSink> std::fmt::Debug for Consumer<E, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer").field("config", &self.shared.config).finish_non_exhaustive()
    }
}

/// Asks a running consumer to stop gracefully (SIGTERM/SIGINT handlers call it).
#[derive(Debug, Clone)]
pub struct StopHandle {
    stop: Arc<AtomicBool>,
    notify: Arc<Notify>,
}

impl StopHandle {
    /// Requests a graceful stop.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.notify.notify_one();
    }
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The final counters.
    pub snapshot: Snapshot,
    /// Why it stopped: `signal` or `idle`.
    pub reason: &'static str,
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl<E: RangeEncoder, S: RangeSink> Consumer<E, S> {
    /// A consumer of `config.stream` with `store` for leases and checkpoints, `encoder` and
    /// `sink` for the lake.
    pub fn new(
        config: ConsumerConfig,
        kinesis: aws_sdk_kinesis::Client,
        store: LeaseStore,
        encoder: E,
        sink: S,
    ) -> Self {
        let shared = Arc::new(Shared {
            config,
            store,
            kinesis,
            encoder: Arc::new(encoder),
            sink,
            shutdown: AtomicBool::new(false),
            buffered: AtomicUsize::new(0),
            shards: Mutex::new(BTreeMap::new()),
            encode_slots: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get),
            ),
            events: Mutex::new(Vec::new()),
        });
        Self {
            shared,
            stop: Arc::new(AtomicBool::new(false)),
            stop_notify: Arc::new(Notify::new()),
        }
    }

    /// A handle that stops the run gracefully.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle { stop: Arc::clone(&self.stop), notify: Arc::clone(&self.stop_notify) }
    }

    /// Runs until stopped (graceful), idle (`exit_when_idle`) or a fatal error. `report` gets
    /// every event and a progress [`Snapshot`] every `progress_interval`.
    ///
    /// # Errors
    ///
    /// The first fatal error (after the other shards were stopped gracefully).
    pub async fn run(self, mut report: impl FnMut(Report<'_>)) -> Result<Outcome, ConsumerError> {
        let shared = Arc::clone(&self.shared);
        let config = shared.config.clone();
        let started = Instant::now();
        let mut running: BTreeMap<String, Running> = BTreeMap::new();
        let mut known: BTreeSet<String> = BTreeSet::new();
        let mut last_list: Option<Instant> = None;
        let mut last_renew = Instant::now();
        let mut last_progress = Instant::now();
        let mut prev = (0u64, 0u64, Instant::now());
        let mut totals = Totals::default();
        let mut fatal: Option<ConsumerError> = None;
        let renew_every = config.lease_duration / 3;
        let tick = renew_every.min(Duration::from_secs(1)).max(Duration::from_millis(100));
        let mut reason = "signal";
        loop {
            if self.stop.load(Ordering::SeqCst) || fatal.is_some() {
                break;
            }
            let step: Result<(), ConsumerError> = async {
                let relist = last_list.is_none_or(|t| t.elapsed() >= config.list_interval);
                if relist {
                    let ShardList { shards, .. } =
                        list_shards(&shared.kinesis, &config.stream, None).await?;
                    for s in &shards {
                        if !known.contains(&s.shard_id) {
                            shared.store.ensure(&s.shard_id, &s.parents).await?;
                        }
                    }
                    let now_known: BTreeSet<String> =
                        shards.iter().map(|s| s.shard_id.clone()).collect();
                    if now_known != known {
                        shared.event(Event::info(
                            "shards_listed",
                            None,
                            format!("{} shards", now_known.len()),
                        ));
                    }
                    known = now_known;
                    last_list = Some(Instant::now());
                }
                // Renew.
                if last_renew.elapsed() >= renew_every {
                    last_renew = Instant::now();
                    let expires = now_ms() + ms(config.lease_duration);
                    for r in running.values_mut() {
                        match shared.store.renew(&r.held, expires).await {
                            Ok(true) => r.expires_ms = expires,
                            Ok(false) => r.ctl.lost.store(true, Ordering::SeqCst),
                            Err(e) => shared.event(Event::warn(
                                "renew_failed",
                                Some(&r.held.shard_id),
                                e.to_string(),
                            )),
                        }
                        // Self-fencing: a lease we could not renew in time is treated as lost.
                        if r.expires_ms <= now_ms() {
                            r.ctl.lost.store(true, Ordering::SeqCst);
                        }
                    }
                }
                // Lost leases stop at once.
                let lost: Vec<String> = running
                    .iter()
                    .filter(|(_, r)| r.ctl.lost.load(Ordering::SeqCst))
                    .map(|(k, _)| k.clone())
                    .collect();
                for id in lost {
                    if let Some(r) = running.remove(&id) {
                        r.task.abort();
                        totals.absorb(&r.ctl);
                        totals.lost += 1;
                        shared.forget(&id);
                        shared.event(Event::warn(
                            "lease_lost",
                            Some(&id),
                            "lease lost: stopped".into(),
                        ));
                    }
                }
                // Reap finished workers.
                let done: Vec<String> = running
                    .iter()
                    .filter(|(_, r)| r.task.is_finished())
                    .map(|(k, _)| k.clone())
                    .collect();
                for id in done {
                    let Some(r) = running.remove(&id) else { continue };
                    totals.absorb(&r.ctl);
                    shared.forget(&id);
                    match r.task.await {
                        Ok(Ok(ShardExit::Finished)) => {
                            totals.finished += 1;
                            let _ = shared.store.release(&r.held).await;
                            shared.event(Event::info(
                                "shard_finished",
                                Some(&id),
                                "read to its end and checkpointed at SHARD_END".into(),
                            ));
                            last_list = None;
                        }
                        Ok(Ok(ShardExit::Lost)) => {
                            totals.lost += 1;
                            shared.event(Event::warn(
                                "lease_lost",
                                Some(&id),
                                "lease lost: stopped".into(),
                            ));
                        }
                        Ok(Ok(ShardExit::Stopped)) => {
                            let _ = shared.store.release(&r.held).await;
                        }
                        Ok(Err(e)) => return Err(e),
                        Err(e) => return Err(ConsumerError::Task(e.to_string())),
                    }
                }
                // Plan: take or steal.
                let leases = shared.store.list().await?;
                let held_ids: BTreeSet<String> = running.keys().cloned().collect();
                let claims = plan(&leases, &config.worker_id, &held_ids, &known, now_ms());
                let mut takeable = false;
                for claim in claims {
                    let (observed, steal) = match claim {
                        Claim::Take(l) => {
                            takeable = true;
                            (l, false)
                        }
                        Claim::Steal(l) => (l, true),
                    };
                    let expires = now_ms() + ms(config.lease_duration);
                    let Some(lease) =
                        shared.store.take(&observed, &config.worker_id, expires).await?
                    else {
                        continue;
                    };
                    let held = Held {
                        shard_id: lease.shard_id.clone(),
                        owner: config.worker_id.clone(),
                        counter: lease.counter,
                    };
                    let (code, what) = if steal {
                        (
                            "lease_stolen",
                            format!("taken from {}", observed.owner.as_deref().unwrap_or("?")),
                        )
                    } else {
                        ("lease_taken", "taken".to_owned())
                    };
                    shared.event(Event::info(code, Some(&held.shard_id), what));
                    let ctl = Arc::new(ShardCtl { started: Some(started), ..ShardCtl::default() });
                    shared
                        .shards
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .insert(held.shard_id.clone(), Arc::clone(&ctl));
                    let task = tokio::spawn(worker::run(
                        Arc::clone(&shared),
                        Arc::clone(&ctl),
                        lease,
                        held.clone(),
                    ));
                    running.insert(
                        held.shard_id.clone(),
                        Running { held, ctl, task, expires_ms: expires },
                    );
                }
                // Idle exit.
                if let Some(limit) = config.exit_when_idle {
                    let now_rel = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                    let quiet = running.values().all(|r| {
                        r.ctl.caught_up.load(Ordering::Relaxed)
                            && r.ctl.buffered.load(Ordering::Relaxed) == 0
                            && now_rel.saturating_sub(r.ctl.last_record_ms.load(Ordering::Relaxed))
                                >= u64::try_from(limit.as_millis()).unwrap_or(u64::MAX)
                    });
                    if quiet && !takeable && started.elapsed() >= limit {
                        reason = "idle";
                        self.stop.store(true, Ordering::SeqCst);
                    }
                }
                Ok(())
            }
            .await;
            if let Err(e) = step {
                fatal = Some(e);
            }
            for e in shared.drain_events() {
                report(Report::Event(&e));
            }
            if last_progress.elapsed() >= config.progress_interval {
                last_progress = Instant::now();
                let snap = snapshot(&running, &totals, started, &mut prev);
                report(Report::Progress(&snap));
            }
            let _ = tokio::time::timeout(tick, self.stop_notify.notified()).await;
        }
        // Graceful stop: workers flush and checkpoint their range in flight.
        shared.shutdown.store(true, Ordering::SeqCst);
        for r in running.values() {
            r.ctl.wake.notify_one();
        }
        shared.event(Event::info(
            "shutdown",
            None,
            format!("stopping ({reason}): flushing {} shards", running.len()),
        ));
        for e in shared.drain_events() {
            report(Report::Event(&e));
        }
        let mut released = 0;
        for (id, r) in std::mem::take(&mut running) {
            let exit = r.task.await;
            totals.absorb(&r.ctl);
            match exit {
                Ok(Ok(ShardExit::Stopped | ShardExit::Finished)) => {
                    if shared.store.release(&r.held).await.unwrap_or(false) {
                        released += 1;
                    }
                }
                Ok(Ok(ShardExit::Lost)) => totals.lost += 1,
                Ok(Err(e)) => {
                    fatal.get_or_insert(e);
                }
                Err(e) => {
                    fatal.get_or_insert_with(|| ConsumerError::Task(e.to_string()));
                }
            }
            shared.forget(&id);
        }
        shared.event(Event::info("lease_released", None, format!("{released} leases released")));
        for e in shared.drain_events() {
            report(Report::Event(&e));
        }
        let snap = snapshot(&running, &totals, started, &mut prev);
        if let Some(e) = fatal {
            return Err(e);
        }
        Ok(Outcome { snapshot: snap, reason })
    }
}

/// What [`Consumer::run`] reports while it runs.
#[derive(Debug, Clone, Copy)]
pub enum Report<'a> {
    /// An event.
    Event(&'a Event),
    /// Periodic counters.
    Progress(&'a Snapshot),
}

impl<E, S> Shared<E, S> {
    fn drain_events(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    fn forget(&self, id: &str) {
        let removed =
            self.shards.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(id);
        if let Some(c) = removed {
            let b = c.buffered.swap(0, Ordering::SeqCst);
            self.buffered.fetch_sub(b, Ordering::SeqCst);
        }
    }
}

/// Counters of shards no longer held.
#[derive(Debug, Default)]
struct Totals {
    records: u64,
    bytes: u64,
    ranges: u64,
    objects: u64,
    write_retries: u64,
    read_retries: u64,
    finished: u64,
    lost: u64,
}

impl Totals {
    fn absorb(&mut self, ctl: &ShardCtl) {
        self.records += ctl.records.load(Ordering::Relaxed);
        self.bytes += ctl.bytes.load(Ordering::Relaxed);
        self.ranges += ctl.ranges.load(Ordering::Relaxed);
        self.objects += ctl.objects.load(Ordering::Relaxed);
        self.write_retries += ctl.write_retries.load(Ordering::Relaxed);
        self.read_retries += ctl.read_retries.load(Ordering::Relaxed);
    }
}

#[allow(clippy::cast_precision_loss)] // rates for display
fn snapshot(
    running: &BTreeMap<String, Running>,
    totals: &Totals,
    started: Instant,
    prev: &mut (u64, u64, Instant),
) -> Snapshot {
    let shards: Vec<ShardSnapshot> = running
        .values()
        .map(|r| ShardSnapshot {
            shard_id: r.held.shard_id.clone(),
            records: r.ctl.records.load(Ordering::Relaxed),
            bytes: r.ctl.bytes.load(Ordering::Relaxed),
            millis_behind: r.ctl.millis_behind.load(Ordering::Relaxed),
            ranges: r.ctl.ranges.load(Ordering::Relaxed),
            buffered: r.ctl.buffered.load(Ordering::Relaxed),
            calls: r.ctl.calls.load(Ordering::Relaxed),
            read_retries: r.ctl.read_retries.load(Ordering::Relaxed),
        })
        .collect();
    let sum = |f: fn(&ShardCtl) -> u64| running.values().map(|r| f(&r.ctl)).sum::<u64>();
    let records = totals.records + sum(|c| c.records.load(Ordering::Relaxed));
    let bytes = totals.bytes + sum(|c| c.bytes.load(Ordering::Relaxed));
    let dt = prev.2.elapsed().as_secs_f64().max(1e-6);
    let snap = Snapshot {
        elapsed_s: started.elapsed().as_secs_f64(),
        records,
        bytes,
        records_per_s: records.saturating_sub(prev.0) as f64 / dt,
        bytes_per_s: bytes.saturating_sub(prev.1) as f64 / dt,
        ranges: totals.ranges + sum(|c| c.ranges.load(Ordering::Relaxed)),
        objects: totals.objects + sum(|c| c.objects.load(Ordering::Relaxed)),
        write_retries: totals.write_retries + sum(|c| c.write_retries.load(Ordering::Relaxed)),
        read_retries: totals.read_retries + sum(|c| c.read_retries.load(Ordering::Relaxed)),
        leases: running.len(),
        finished: totals.finished,
        lost: totals.lost,
        shards,
    };
    *prev = (records, bytes, Instant::now());
    snap
}
