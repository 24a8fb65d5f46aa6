//! One shard's work while its lease is held: replay the pending range if the item has one,
//! then read, accumulate a range, and for each range: record the intent (`pending`), encode on
//! a blocking thread, write durably, and only then checkpoint its last sequence number. The
//! next range is read while the previous one is encoded and written; at most one range is in
//! flight per shard, and its checkpoint lands before the next range records its intent.
//!
//! The worker stops at once when its lease is lost (a conditional write failed, or the
//! renewer says so). It does not renew leases or decide which shards to read.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::backoff::Backoff;
use super::consumer::{Event, ShardCtl, Shared};
use super::error::ConsumerError;
use super::lease::{Checkpoint, Held, Lease, PendingRange};
use super::output::{RangeEncoder, RangeSink};
use super::reader::{Position, ShardReader, StreamRecord};
use super::sequence;

/// How a shard worker ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardExit {
    /// The shard is closed and checkpointed at `SHARD_END`.
    Finished,
    /// The lease was lost; nothing more was written.
    Lost,
    /// Shutdown: the range in flight was written and checkpointed.
    Stopped,
}

struct Buffer {
    records: Vec<StreamRecord>,
    bytes: usize,
    since: Option<Instant>,
}

impl Buffer {
    fn take(&mut self) -> Vec<StreamRecord> {
        self.bytes = 0;
        self.since = None;
        std::mem::take(&mut self.records)
    }
}

/// Runs the shard until it ends, the lease is lost, or shutdown.
///
/// # Errors
///
/// Kinesis, store and encoder errors that retries did not cure.
pub(crate) async fn run<E: RangeEncoder, S: RangeSink>(
    shared: Arc<Shared<E, S>>,
    ctl: Arc<ShardCtl>,
    lease: Lease,
    held: Held,
) -> Result<ShardExit, ConsumerError> {
    let shard = held.shard_id.clone();
    let mut reader = ShardReader::new(shared.kinesis.clone(), &shared.config.stream, &shard);
    let position = if let Some(pending) = &lease.pending {
        shared.event(Event::info(
            "replay",
            Some(&shard),
            format!("replaying pending range {}..={}", pending.first, pending.last),
        ));
        let records = replay(&mut reader, &shard, pending).await?;
        if !flush(&shared, &ctl, &held, records, false).await? {
            return Ok(ShardExit::Lost);
        }
        Position::After(pending.last.clone())
    } else {
        match &lease.checkpoint {
            Checkpoint::ShardEnd => return Ok(ShardExit::Finished),
            Checkpoint::Sequence(s) => Position::After(s.clone()),
            Checkpoint::None => Position::Start(shared.config.start),
        }
    };
    reader.seek(position);
    let config = &shared.config;
    let mut buf = Buffer { records: Vec::new(), bytes: 0, since: None };
    // At most one range is being encoded and written while the next one is read: its intent
    // must be checkpointed away before the next range may record its own.
    let mut flight: Option<InFlight> = None;
    loop {
        if flight.as_ref().is_some_and(InFlight::is_finished) {
            let ok = land(&mut flight).await;
            account(&shared, &ctl, &buf, flight.as_ref());
            if !ok? {
                return Ok(ShardExit::Lost);
            }
        }
        if ctl.lost.load(Ordering::SeqCst) {
            let landed = land(&mut flight).await;
            buf.take();
            account(&shared, &ctl, &buf, flight.as_ref());
            landed?;
            return Ok(ShardExit::Lost);
        }
        let stopping = shared.shutdown.load(Ordering::SeqCst);
        let aged = buf.since.is_some_and(|t| t.elapsed() >= config.flush_interval);
        let asked = ctl.flush_now.swap(false, Ordering::SeqCst);
        if !buf.records.is_empty() && (stopping || aged || asked) {
            let ok = land(&mut flight).await;
            account(&shared, &ctl, &buf, flight.as_ref());
            if !ok? {
                return Ok(ShardExit::Lost);
            }
            let bytes = buf.bytes;
            let records = buf.take();
            if stopping {
                let ok = flush(&shared, &ctl, &held, records, false).await;
                account(&shared, &ctl, &buf, flight.as_ref());
                if !ok? {
                    return Ok(ShardExit::Lost);
                }
            } else {
                flight = Some(InFlight::start(&shared, &ctl, &held, records, bytes));
                account(&shared, &ctl, &buf, flight.as_ref());
            }
        }
        if stopping {
            let ok = land(&mut flight).await;
            account(&shared, &ctl, &buf, flight.as_ref());
            return Ok(if ok? { ShardExit::Stopped } else { ShardExit::Lost });
        }
        // The global cap on buffered bytes: the biggest buffer is flushed first; the others
        // wait until there is room again.
        if shared.buffered.load(Ordering::SeqCst) > config.max_buffer_bytes
            && !buf.records.is_empty()
        {
            if shared.biggest_buffer().as_deref() == Some(shard.as_str()) {
                ctl.flush_now.store(true, Ordering::SeqCst);
                continue;
            }
            shared.ask_biggest_to_flush();
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let room = config.max_range_records.saturating_sub(buf.records.len()).max(1);
        let fetch = reader.next(room).await?;
        ctl.calls.store(reader.calls, Ordering::Relaxed);
        ctl.read_retries.store(reader.retries, Ordering::Relaxed);
        if let Some(ms) = fetch.millis_behind {
            ctl.millis_behind.store(ms, Ordering::Relaxed);
        }
        let got = fetch.records.len();
        if got > 0 {
            let bytes: usize = fetch.records.iter().map(|r| r.data.len()).sum();
            ctl.records.fetch_add(got as u64, Ordering::Relaxed);
            ctl.bytes.fetch_add(bytes as u64, Ordering::Relaxed);
            ctl.touch();
            buf.bytes += bytes;
            ctl.buffered.fetch_add(bytes, Ordering::SeqCst);
            shared.buffered.fetch_add(bytes, Ordering::SeqCst);
            buf.since.get_or_insert_with(Instant::now);
            buf.records.extend(fetch.records);
        }
        if fetch.end {
            let ok = land(&mut flight).await;
            account(&shared, &ctl, &buf, flight.as_ref());
            if !ok? {
                return Ok(ShardExit::Lost);
            }
            for (child, parents) in &fetch.children {
                shared.store.ensure(child, parents).await?;
            }
            let records = buf.take();
            let ok = if records.is_empty() {
                shared.store.checkpoint(&held, &Checkpoint::ShardEnd).await
            } else {
                flush(&shared, &ctl, &held, records, true).await
            };
            account(&shared, &ctl, &buf, flight.as_ref());
            return Ok(if ok? { ShardExit::Finished } else { ShardExit::Lost });
        }
        if buf.records.len() >= config.max_range_records || buf.bytes >= config.max_range_bytes {
            ctl.flush_now.store(true, Ordering::SeqCst);
            continue;
        }
        let caught_up = got == 0 && fetch.millis_behind.unwrap_or(0) == 0;
        ctl.caught_up
            .store(caught_up && buf.records.is_empty() && flight.is_none(), Ordering::Relaxed);
        if caught_up {
            shared.nap(&ctl, config.idle_sleep).await;
        }
    }
}

/// A range being encoded and written on its own task while the shard reads on. Dropping it
/// (the worker failed) aborts the task; the range's intent stays recorded, so whoever holds
/// the shard next replays it.
struct InFlight {
    task: Option<tokio::task::JoinHandle<Result<bool, ConsumerError>>>,
    bytes: usize,
}

impl InFlight {
    fn start<E: RangeEncoder, S: RangeSink>(
        shared: &Arc<Shared<E, S>>,
        ctl: &Arc<ShardCtl>,
        held: &Held,
        records: Vec<StreamRecord>,
        bytes: usize,
    ) -> Self {
        let (shared, ctl, held) = (Arc::clone(shared), Arc::clone(ctl), held.clone());
        let task = tokio::spawn(async move { flush(&shared, &ctl, &held, records, false).await });
        Self { task: Some(task), bytes }
    }

    fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(tokio::task::JoinHandle::is_finished)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Waits for the range in flight, if any: `Ok(false)` when it found the lease lost.
async fn land(flight: &mut Option<InFlight>) -> Result<bool, ConsumerError> {
    let Some(mut f) = flight.take() else { return Ok(true) };
    let Some(task) = f.task.take() else { return Ok(true) };
    task.await.map_err(|e| ConsumerError::Task(e.to_string()))?
}

/// Sets the shard's share of the global buffer budget to what it holds now: the records read
/// but not yet handed over, plus the range in flight.
fn account<E, S>(shared: &Shared<E, S>, ctl: &ShardCtl, buf: &Buffer, flight: Option<&InFlight>) {
    let now = buf.bytes + flight.map_or(0, |f| f.bytes);
    let before = ctl.buffered.swap(now, Ordering::SeqCst);
    if now >= before {
        shared.buffered.fetch_add(now - before, Ordering::SeqCst);
    } else {
        shared.buffered.fetch_sub(before - now, Ordering::SeqCst);
    }
}

/// Reads exactly the pending range: from `first` (inclusive) to `last` (inclusive).
async fn replay(
    reader: &mut ShardReader,
    shard: &str,
    pending: &PendingRange,
) -> Result<Vec<StreamRecord>, ConsumerError> {
    let fail = |reason: &str| ConsumerError::Replay {
        shard: shard.to_owned(),
        first: pending.first.clone(),
        last: pending.last.clone(),
        reason: reason.to_owned(),
    };
    reader.seek(Position::At(pending.first.clone()));
    let mut records = Vec::new();
    loop {
        let fetch = reader.next(super::reader::MAX_LIMIT as usize).await?;
        let empty = fetch.records.is_empty();
        for r in fetch.records {
            match sequence::compare(&r.sequence, &pending.last) {
                std::cmp::Ordering::Greater => return finish_replay(records, &fail),
                std::cmp::Ordering::Equal => {
                    records.push(r);
                    return finish_replay(records, &fail);
                }
                std::cmp::Ordering::Less => records.push(r),
            }
        }
        if fetch.end || (empty && fetch.millis_behind.unwrap_or(0) == 0) {
            return finish_replay(records, &fail);
        }
    }
}

fn finish_replay(
    records: Vec<StreamRecord>,
    fail: &impl Fn(&str) -> ConsumerError,
) -> Result<Vec<StreamRecord>, ConsumerError> {
    if records.is_empty() {
        return Err(fail("no record of the range is left in the stream (retention?)"));
    }
    Ok(records)
}

/// Writes one range: intent, encode, durable write (retried until it succeeds or the lease is
/// lost), checkpoint. Returns `false` when the lease was lost.
async fn flush<E: RangeEncoder, S: RangeSink>(
    shared: &Arc<Shared<E, S>>,
    ctl: &ShardCtl,
    held: &Held,
    records: Vec<StreamRecord>,
    end: bool,
) -> Result<bool, ConsumerError> {
    let (Some(first), Some(last)) = (records.first(), records.last()) else { return Ok(true) };
    let range = PendingRange { first: first.sequence.clone(), last: last.sequence.clone() };
    if !shared.store.set_pending(held, &range).await? {
        ctl.lost.store(true, Ordering::SeqCst);
        return Ok(false);
    }
    let encoder = Arc::clone(&shared.encoder);
    let shard = held.shard_id.clone();
    let slot =
        shared.encode_slots.acquire().await.map_err(|e| ConsumerError::Task(e.to_string()))?;
    let objects = tokio::task::spawn_blocking(move || encoder.encode(&shard, &records))
        .await
        .map_err(|e| ConsumerError::Task(e.to_string()))?
        .map_err(|source| ConsumerError::Encode {
            shard: held.shard_id.clone(),
            first: range.first.clone(),
            source,
        })?;
    drop(slot);
    let count = objects.len();
    let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(15));
    loop {
        if ctl.lost.load(Ordering::SeqCst) {
            return Ok(false);
        }
        match shared.sink.write_range(&held.shard_id, &range.first, objects.clone()).await {
            Ok(()) => break,
            Err(e) => {
                let delay = backoff.next_delay();
                shared.event(Event::warn(
                    "write_retry",
                    Some(&held.shard_id),
                    format!(
                        "writing range {}..={} failed (attempt {}), retrying in {} ms: {e}",
                        range.first,
                        range.last,
                        backoff.attempts(),
                        delay.as_millis()
                    ),
                ));
                ctl.write_retries.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(delay).await;
            }
        }
    }
    let checkpoint =
        if end { Checkpoint::ShardEnd } else { Checkpoint::Sequence(range.last.clone()) };
    if !shared.store.checkpoint(held, &checkpoint).await? {
        ctl.lost.store(true, Ordering::SeqCst);
        return Ok(false);
    }
    ctl.ranges.fetch_add(1, Ordering::Relaxed);
    ctl.objects.fetch_add(count as u64, Ordering::Relaxed);
    Ok(true)
}
