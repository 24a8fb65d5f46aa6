//! The consumer's building blocks against real-protocol local servers: the DynamoDB lease
//! table on dynalite (take, renew, steal, expiry, renewal failure, release, pending ranges) and
//! `ListShards` paging on kinesis-mock (`MaxResults = 1`).
//!
//! Run under `scripts/emulators.sh -- cargo test -p cmcd-ingest --features kinesis --test
//! kinesis_servers -- --ignored` (scripts/test.sh does).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cmcd_ingest::kinesis::aws::{dynamodb_client, kinesis_client, sdk_config};
use cmcd_ingest::kinesis::discovery::list_shards;
use cmcd_ingest::kinesis::lease::{Checkpoint, Claim, Held, PendingRange, plan};
use cmcd_ingest::kinesis::lease_dynamo::DynamoLeases;

fn endpoint(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: run this test under scripts/emulators.sh (it starts the local AWS servers)")
    })
}

fn now_ms() -> i64 {
    i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()).unwrap()
}

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), now_ms() % 1_000_000)
}

async fn table() -> DynamoLeases {
    let conf = sdk_config(Some("us-east-1")).await;
    let client = dynamodb_client(&conf, Some(&endpoint("DYNAMODB_ENDPOINT")));
    DynamoLeases::open(client, &unique("leases")).await.unwrap()
}

fn held(l: &cmcd_ingest::kinesis::lease::Lease, owner: &str) -> Held {
    Held { shard_id: l.shard_id.clone(), owner: owner.to_owned(), counter: l.counter }
}

#[tokio::test]
#[ignore = "needs local AWS servers: run under scripts/emulators.sh"]
async fn leases_steal_expire_and_fence_on_dynalite() {
    let store = table().await;
    let known: BTreeSet<String> = (0..4).map(|i| format!("shardId-{i:012}")).collect();
    for id in &known {
        store.ensure(id, &[]).await.unwrap();
        store.ensure(id, &[]).await.unwrap(); // idempotent
    }
    // Worker a alone takes all four.
    let items = store.list().await.unwrap();
    assert_eq!(items.len(), 4);
    let claims = plan(&items, "a", &BTreeSet::new(), &known, now_ms());
    assert_eq!(claims.len(), 4);
    let mut a_held = Vec::new();
    for c in claims {
        let Claim::Take(l) = c else { panic!("expected takes, got {c:?}") };
        let taken = store.take(&l, "a", now_ms() + 60_000).await.unwrap().unwrap();
        assert_eq!(taken.owner.as_deref(), Some("a"));
        assert_eq!(taken.counter, l.counter + 1);
        // Taking the same observed state again loses the race.
        assert!(store.take(&l, "x", now_ms() + 60_000).await.unwrap().is_none());
        a_held.push(held(&taken, "a"));
    }
    // a records an intent on the last shard.
    let range = PendingRange { first: "100".into(), last: "200".into() };
    assert!(store.set_pending(&a_held[3], &range).await.unwrap());
    // Worker b (holding nothing) is below its fair share of 2: it steals one lease of a's.
    let items = store.list().await.unwrap();
    let claims = plan(&items, "b", &BTreeSet::new(), &known, now_ms());
    assert_eq!(claims.len(), 1, "{claims:?}");
    let Claim::Steal(victim) = &claims[0] else { panic!("expected a steal: {claims:?}") };
    assert_eq!(victim.shard_id, "shardId-000000000003");
    let stolen = store.take(victim, "b", now_ms() + 60_000).await.unwrap().unwrap();
    // The steal sees a's intent atomically: b must replay exactly that range.
    assert_eq!(stolen.pending, Some(range.clone()));
    // a's writes on the stolen shard now fail: renewal, intent and checkpoint.
    assert!(!store.renew(&a_held[3], now_ms() + 60_000).await.unwrap());
    assert!(!store.set_pending(&a_held[3], &range).await.unwrap());
    assert!(!store.checkpoint(&a_held[3], &Checkpoint::Sequence("200".into())).await.unwrap());
    // b finishes the range: checkpoint and pending cleared.
    let b3 = held(&stolen, "b");
    assert!(store.checkpoint(&b3, &Checkpoint::Sequence("200".into())).await.unwrap());
    let items = store.list().await.unwrap();
    let s3 = items.iter().find(|l| l.shard_id == "shardId-000000000003").unwrap();
    assert_eq!(
        (s3.pending.clone(), s3.checkpoint.clone()),
        (None, Checkpoint::Sequence("200".into()))
    );
    // a renews the rest, but with a short lease; once those expire, b takes them over.
    for h in &a_held[..3] {
        assert!(store.renew(h, now_ms() + 300).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let items = store.list().await.unwrap();
    let b_has: BTreeSet<String> = [b3.shard_id.clone()].into();
    let claims = plan(&items, "b", &b_has, &known, now_ms());
    let taken: Vec<&str> = claims
        .iter()
        .map(|c| match c {
            Claim::Take(l) => l.shard_id.as_str(),
            Claim::Steal(l) => panic!("expired leases are taken, not stolen: {l:?}"),
        })
        .collect();
    assert_eq!(taken, ["shardId-000000000000", "shardId-000000000001", "shardId-000000000002"]);
    let Claim::Take(l0) = &claims[0] else { unreachable!() };
    let b0 = held(&store.take(l0, "b", now_ms() + 60_000).await.unwrap().unwrap(), "b");
    // The expired holder's late renewal fails (fenced by the counter).
    assert!(!store.renew(&a_held[0], now_ms() + 60_000).await.unwrap());
    // Release hands over at once: owner removed, counter moved, expiry 0.
    assert!(store.release(&b0).await.unwrap());
    assert!(!store.release(&b0).await.unwrap());
    let items = store.list().await.unwrap();
    let s0 = items.iter().find(|l| l.shard_id == b0.shard_id).unwrap();
    assert_eq!((s0.owner.as_deref(), s0.expires_ms, s0.counter), (None, 0, b0.counter + 1));
    // Shard end and parents survive the round trip.
    store.ensure("shardId-000000000009", &["shardId-000000000003".to_owned()]).await.unwrap();
    assert!(store.checkpoint(&b3, &Checkpoint::ShardEnd).await.unwrap());
    let items = store.list().await.unwrap();
    let child = items.iter().find(|l| l.shard_id == "shardId-000000000009").unwrap();
    assert_eq!(child.parents, ["shardId-000000000003"]);
    assert!(items.iter().find(|l| l.shard_id == b3.shard_id).unwrap().is_finished());
}

#[tokio::test]
#[ignore = "needs local AWS servers: run under scripts/emulators.sh"]
async fn list_shards_pages_with_next_token_alone_on_kinesis_mock() {
    let conf = sdk_config(Some("us-east-1")).await;
    let client = kinesis_client(&conf, Some(&endpoint("KINESIS_ENDPOINT")));
    let stream = unique("paging");
    client.create_stream().stream_name(&stream).shard_count(5).send().await.unwrap();
    for _ in 0..100 {
        let d = client.describe_stream_summary().stream_name(&stream).send().await.unwrap();
        let status = d.stream_description_summary.map(|s| s.stream_status);
        if status == Some(aws_sdk_kinesis::types::StreamStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let one = list_shards(&client, &stream, Some(1)).await.unwrap();
    let ids: BTreeSet<&str> = one.shards.iter().map(|s| s.shard_id.as_str()).collect();
    assert_eq!(ids.len(), 5, "{:?}", one.shards);
    assert!(one.pages >= 5, "MaxResults=1 must page: {} pages", one.pages);
    let all = list_shards(&client, &stream, None).await.unwrap();
    assert_eq!(all.shards, one.shards);
    assert_eq!(all.pages, 1);
    client.delete_stream().stream_name(&stream).send().await.unwrap();
}
