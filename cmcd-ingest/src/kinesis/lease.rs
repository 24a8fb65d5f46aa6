//! Lease and checkpoint items (one per shard) and the pure balancing decision: which leases a
//! worker takes or steals, given a snapshot of the table.
//!
//! Ownership is fenced by `counter`: every change of owner (take, steal, release) increments
//! it, and every write a holder makes (renew, pending, checkpoint, release) is conditional on
//! `owner = me AND counter = expected`. Renewals only move `expires_ms`. A lease has expired
//! when `expires_ms` is in the past by the observer's wall clock, so the workers' clocks must
//! agree to well within the lease duration (NTP). This module does no I/O.

use std::collections::{BTreeMap, BTreeSet};

/// How far a shard has been written to the lake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checkpoint {
    /// Nothing yet: start at the configured start position.
    None,
    /// Every record up to and including this sequence number is in the lake.
    Sequence(String),
    /// The shard is closed and every record of it is in the lake.
    ShardEnd,
}

impl Checkpoint {
    /// The stored text: the sequence number, `SHARD_END`, or `None`.
    pub fn as_stored(&self) -> Option<&str> {
        match self {
            Self::None => None,
            Self::Sequence(s) => Some(s),
            Self::ShardEnd => Some(SHARD_END),
        }
    }

    /// Parses the stored text.
    pub fn from_stored(text: Option<&str>) -> Self {
        match text {
            None => Self::None,
            Some(SHARD_END) => Self::ShardEnd,
            Some(s) => Self::Sequence(s.to_owned()),
        }
    }
}

/// The checkpoint value of a finished shard.
pub const SHARD_END: &str = "SHARD_END";

/// The intent record: a range whose objects may be (partly) in the lake but whose checkpoint
/// is not written yet. The next owner replays exactly this range before anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRange {
    /// Sequence number of the first record of the range.
    pub first: String,
    /// Sequence number of the last record of the range.
    pub last: String,
}

/// One shard's lease and checkpoint item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The shard id (the item's key).
    pub shard_id: String,
    /// The worker holding the lease, if any.
    pub owner: Option<String>,
    /// Fencing counter: incremented on every change of owner.
    pub counter: u64,
    /// The lease is valid until this wall-clock time (epoch ms); 0 when released.
    pub expires_ms: i64,
    /// How far the shard is in the lake.
    pub checkpoint: Checkpoint,
    /// The range being written, if a writer recorded its intent and has not checkpointed it.
    pub pending: Option<PendingRange>,
    /// The parent shard ids (one after a split, two after a merge).
    pub parents: Vec<String>,
}

impl Lease {
    /// A fresh, unowned item.
    pub fn new(shard_id: impl Into<String>, parents: Vec<String>) -> Self {
        Self {
            shard_id: shard_id.into(),
            owner: None,
            counter: 0,
            expires_ms: 0,
            checkpoint: Checkpoint::None,
            pending: None,
            parents,
        }
    }

    /// Whether the shard is closed and fully in the lake.
    pub fn is_finished(&self) -> bool {
        self.checkpoint == Checkpoint::ShardEnd
    }

    /// Whether someone holds an unexpired lease on it at `now_ms`.
    pub fn is_live(&self, now_ms: i64) -> bool {
        self.owner.is_some() && self.expires_ms > now_ms
    }
}

/// A lease a worker holds: what its conditional writes check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// The shard id.
    pub shard_id: String,
    /// The worker (this process).
    pub owner: String,
    /// The counter value the take set.
    pub counter: u64,
}

/// A decision of [`plan`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Take a lease nobody holds (unowned, expired, or left by an earlier process with this
    /// worker id). The take is conditional on the observed `counter` and `expires_ms`.
    Take(Lease),
    /// Take a live lease from a worker holding more than its fair share.
    Steal(Lease),
}

/// Whether every parent of `lease` is finished. A parent missing from the table counts as
/// finished only when it is not among `known_shards` either (expired from the stream).
pub fn parents_done(
    lease: &Lease,
    by_id: &BTreeMap<&str, &Lease>,
    known_shards: &BTreeSet<String>,
) -> bool {
    lease.parents.iter().all(|p| match by_id.get(p.as_str()) {
        Some(parent) => parent.is_finished(),
        None => !known_shards.contains(p),
    })
}

/// Decides which leases worker `me` should take or steal now.
///
/// A shard is *ready* when it is not finished and all its parents are finished. The fair share
/// is `ceil(ready shards / live workers)`, where live workers are the owners of unexpired leases
/// on ready shards plus `me`. Below its share, the worker takes free ready leases (unowned,
/// expired, or owned by `me` but not in `held` — a restart with the same worker id), in shard
/// id order; when none is free and some worker holds more than the share, it steals one lease
/// from the worker holding the most (one steal per call, so balancing converges without
/// stampedes).
pub fn plan(
    leases: &[Lease],
    me: &str,
    held: &BTreeSet<String>,
    known_shards: &BTreeSet<String>,
    now_ms: i64,
) -> Vec<Claim> {
    let by_id: BTreeMap<&str, &Lease> = leases.iter().map(|l| (l.shard_id.as_str(), l)).collect();
    let ready: Vec<&Lease> = leases
        .iter()
        .filter(|l| !l.is_finished() && parents_done(l, &by_id, known_shards))
        .collect();
    let mut per_owner: BTreeMap<&str, Vec<&Lease>> = BTreeMap::new();
    for l in &ready {
        if l.is_live(now_ms)
            && let Some(owner) = l.owner.as_deref()
            && (owner != me || held.contains(&l.shard_id))
        {
            per_owner.entry(owner).or_default().push(l);
        }
    }
    let workers = per_owner.keys().filter(|o| **o != me).count() + 1;
    let target = ready.len().div_ceil(workers);
    let mine = ready.iter().filter(|l| held.contains(&l.shard_id)).count();
    let mut want = target.saturating_sub(mine);
    let mut claims = Vec::new();
    for l in &ready {
        if want == 0 {
            break;
        }
        if held.contains(&l.shard_id) {
            continue;
        }
        let free = !l.is_live(now_ms) || l.owner.as_deref() == Some(me);
        if free {
            claims.push(Claim::Take((*l).clone()));
            want -= 1;
        }
    }
    if want > 0 {
        let victim = per_owner
            .iter()
            .filter(|(o, ls)| **o != me && ls.len() > target)
            .max_by_key(|(o, ls)| (ls.len(), std::cmp::Reverse(**o)));
        if let Some((_, ls)) = victim
            && let Some(l) = ls.iter().max_by_key(|l| &l.shard_id)
        {
            claims.push(Claim::Steal((*l).clone()));
        }
    }
    claims
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(id: &str, owner: Option<&str>, expires: i64) -> Lease {
        Lease {
            owner: owner.map(str::to_owned),
            expires_ms: expires,
            counter: 1,
            ..Lease::new(id, vec![])
        }
    }

    fn ids(claims: &[Claim]) -> Vec<String> {
        claims
            .iter()
            .map(|c| match c {
                Claim::Take(l) => format!("take {}", l.shard_id),
                Claim::Steal(l) => format!("steal {}", l.shard_id),
            })
            .collect()
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn alone_takes_everything_free() {
        let leases = vec![lease("s0", None, 0), lease("s1", Some("old"), 50), lease("s2", None, 0)];
        let claims = plan(&leases, "me", &set(&[]), &set(&["s0", "s1", "s2"]), 100);
        assert_eq!(ids(&claims), ["take s0", "take s1", "take s2"]);
    }

    #[test]
    fn two_workers_split_and_steal_one_at_a_time() {
        let leases: Vec<Lease> =
            (0..4).map(|i| lease(&format!("s{i}"), Some("a"), 1_000)).collect();
        let known = set(&["s0", "s1", "s2", "s3"]);
        // b sees a holding all 4 live leases: share is 2, so b steals one (the highest id).
        assert_eq!(ids(&plan(&leases, "b", &set(&[]), &known, 100)), ["steal s3"]);
        // a holds 2, b holds 2: balanced, nobody steals.
        let mut leases = leases;
        leases[2].owner = Some("b".into());
        leases[3].owner = Some("b".into());
        assert!(plan(&leases, "b", &set(&["s2", "s3"]), &known, 100).is_empty());
        assert!(plan(&leases, "a", &set(&["s0", "s1"]), &known, 100).is_empty());
        // a's leases expire: b takes them.
        leases[0].expires_ms = 50;
        leases[1].expires_ms = 50;
        assert_eq!(
            ids(&plan(&leases, "b", &set(&["s2", "s3"]), &known, 100)),
            ["take s0", "take s1"]
        );
    }

    #[test]
    fn restart_with_same_id_reclaims_at_once() {
        let leases = vec![lease("s0", Some("me"), 10_000)];
        assert_eq!(ids(&plan(&leases, "me", &set(&[]), &set(&["s0"]), 100)), ["take s0"]);
        assert!(plan(&leases, "me", &set(&["s0"]), &set(&["s0"]), 100).is_empty());
    }

    #[test]
    fn children_wait_for_all_parents() {
        let mut parent_a = lease("p0", None, 0);
        let parent_b = Lease { checkpoint: Checkpoint::ShardEnd, ..lease("p1", None, 0) };
        let child = Lease::new("c2", vec!["p0".into(), "p1".into()]);
        let known = set(&["p0", "p1", "c2"]);
        let leases = vec![parent_a.clone(), parent_b.clone(), child.clone()];
        assert_eq!(ids(&plan(&leases, "me", &set(&[]), &known, 100)), ["take p0"]);
        parent_a.checkpoint = Checkpoint::ShardEnd;
        let leases = vec![parent_a, parent_b, child];
        assert_eq!(ids(&plan(&leases, "me", &set(&[]), &known, 100)), ["take c2"]);
        // A parent unknown to the table but still listed by the stream blocks the child; one
        // that expired from the stream does not.
        let orphan = Lease::new("c3", vec!["gone".into()]);
        assert!(
            plan(std::slice::from_ref(&orphan), "me", &set(&[]), &set(&["gone", "c3"]), 100)
                .is_empty()
        );
        assert_eq!(ids(&plan(&[orphan], "me", &set(&[]), &set(&["c3"]), 100)), ["take c3"]);
    }

    #[test]
    fn finished_shards_are_ignored() {
        let done = Lease { checkpoint: Checkpoint::ShardEnd, ..lease("s0", None, 0) };
        assert!(plan(&[done], "me", &set(&[]), &set(&["s0"]), 100).is_empty());
        assert_eq!(Checkpoint::from_stored(Some("SHARD_END")), Checkpoint::ShardEnd);
        assert_eq!(Checkpoint::from_stored(Some("42")).as_stored(), Some("42"));
    }
}
