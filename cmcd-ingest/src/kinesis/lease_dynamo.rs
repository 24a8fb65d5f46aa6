//! `dynamodb://TABLE` leases and checkpoints shared by several processes: one item per shard,
//! keyed by `shard_id`, with `owner`, `lease_counter`, `lease_expires_ms`, `checkpoint`
//! (sequence number or `SHARD_END`), `pending_first`/`pending_last` and `parents`.
//!
//! Every write is a conditional `UpdateItem` (see [`super::lease`] for the fencing rules); a
//! failed condition means the lease is lost and is reported as `false`, not as an error. The
//! table is created (on-demand capacity) when absent. One table serves one stream and one lake.
//! It does not use transactions or TTL (dynalite lacks both).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ReturnValue,
    ScalarAttributeType, TableStatus,
};

use super::error::ConsumerError;
use super::lease::{Checkpoint, Held, Lease, PendingRange};

/// The lease table (see the module docs).
#[derive(Debug, Clone)]
pub struct DynamoLeases {
    client: Client,
    table: String,
}

fn dyn_err<E: std::error::Error + 'static, R: std::fmt::Debug>(
    operation: &'static str,
) -> impl Fn(SdkError<E, R>) -> ConsumerError {
    move |e| ConsumerError::Dynamo { operation, message: DisplayErrorContext(&e).to_string() }
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.to_owned())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// Whether an SDK error is a failed condition (the lease moved on).
fn is_condition_failed<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    e.as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

impl DynamoLeases {
    /// Uses `table`, creating it (PAY_PER_REQUEST, key `shard_id`) when absent and waiting
    /// until it is active.
    ///
    /// # Errors
    ///
    /// `dynamodb` when the table can be neither described nor created.
    pub async fn open(client: Client, table: &str) -> Result<Self, ConsumerError> {
        let this = Self { client, table: table.to_owned() };
        let described = this.client.describe_table().table_name(table).send().await;
        let exists = match described {
            Ok(_) => true,
            Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception()) => {
                false
            }
            Err(e) => return Err(dyn_err("DescribeTable")(e)),
        };
        if !exists {
            let key = KeySchemaElement::builder()
                .attribute_name("shard_id")
                .key_type(KeyType::Hash)
                .build()
                .map_err(|e| ConsumerError::Dynamo {
                    operation: "CreateTable",
                    message: e.to_string(),
                })?;
            let attr = AttributeDefinition::builder()
                .attribute_name("shard_id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| ConsumerError::Dynamo {
                    operation: "CreateTable",
                    message: e.to_string(),
                })?;
            let created = this
                .client
                .create_table()
                .table_name(table)
                .key_schema(key)
                .attribute_definitions(attr)
                .billing_mode(BillingMode::PayPerRequest)
                .send()
                .await;
            match created {
                Ok(_) => {}
                // Another worker created it first.
                Err(e)
                    if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
                Err(e) => return Err(dyn_err("CreateTable")(e)),
            }
        }
        for _ in 0..600 {
            let out = this
                .client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(dyn_err("DescribeTable"))?;
            if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                return Ok(this);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(ConsumerError::Dynamo {
            operation: "DescribeTable",
            message: format!("table {table} did not become ACTIVE within 60 s"),
        })
    }

    /// Every item (consistent scan, paged).
    ///
    /// # Errors
    ///
    /// `dynamodb`, `bad_lease_item`.
    pub async fn list(&self) -> Result<Vec<Lease>, ConsumerError> {
        let mut out = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(dyn_err("Scan"))?;
            for item in page.items.unwrap_or_default() {
                out.push(from_item(&item)?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        out.sort_by(|a, b| a.shard_id.cmp(&b.shard_id));
        Ok(out)
    }

    /// Creates the item of `shard` unless it exists.
    ///
    /// # Errors
    ///
    /// `dynamodb`.
    pub async fn ensure(&self, shard: &str, parents: &[String]) -> Result<(), ConsumerError> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("shard_id", s(shard))
            .item("lease_counter", n(0))
            .item("lease_expires_ms", n(0))
            .item("parents", AttributeValue::L(parents.iter().map(|p| s(p)).collect()))
            .condition_expression("attribute_not_exists(shard_id)")
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_condition_failed(&e) => Ok(()),
            Err(e) => Err(dyn_err("PutItem")(e)),
        }
    }

    /// Takes the lease if it is still as observed (same counter and expiry); `None` when
    /// another worker moved it first.
    ///
    /// # Errors
    ///
    /// `dynamodb`, `bad_lease_item`.
    pub async fn take(
        &self,
        observed: &Lease,
        me: &str,
        expires_ms: i64,
    ) -> Result<Option<Lease>, ConsumerError> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("shard_id", s(&observed.shard_id))
            .update_expression("SET #o = :me, lease_counter = :next, lease_expires_ms = :exp")
            .condition_expression("lease_counter = :c AND lease_expires_ms = :e")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":me", s(me))
            .expression_attribute_values(":next", n(observed.counter + 1))
            .expression_attribute_values(":exp", n(expires_ms))
            .expression_attribute_values(":c", n(observed.counter))
            .expression_attribute_values(":e", n(observed.expires_ms))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => Ok(Some(from_item(&out.attributes.unwrap_or_default())?)),
            Err(e) if is_condition_failed(&e) => Ok(None),
            Err(e) => Err(dyn_err("UpdateItem")(e)),
        }
    }

    async fn held_update(
        &self,
        held: &Held,
        update: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<bool, ConsumerError> {
        let uses_cp = update.contains("#cp");
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("shard_id", s(&held.shard_id))
            .update_expression(update)
            .condition_expression("#o = :me AND lease_counter = :c")
            .expression_attribute_names("#o", "owner")
            .expression_attribute_values(":me", s(&held.owner))
            .expression_attribute_values(":c", n(held.counter));
        for (k, v) in values {
            req = req.expression_attribute_values(k, v);
        }
        if uses_cp {
            req = req.expression_attribute_names("#cp", "checkpoint");
        }
        match req.send().await {
            Ok(_) => Ok(true),
            Err(e) if is_condition_failed(&e) => Ok(false),
            Err(e) => Err(dyn_err("UpdateItem")(e)),
        }
    }

    /// Extends a held lease; `false` when it was lost.
    ///
    /// # Errors
    ///
    /// `dynamodb`.
    pub async fn renew(&self, held: &Held, expires_ms: i64) -> Result<bool, ConsumerError> {
        self.held_update(held, "SET lease_expires_ms = :exp", vec![(":exp", n(expires_ms))]).await
    }

    /// Records the intent to write a range; `false` when the lease was lost.
    ///
    /// # Errors
    ///
    /// `dynamodb`.
    pub async fn set_pending(
        &self,
        held: &Held,
        range: &PendingRange,
    ) -> Result<bool, ConsumerError> {
        self.held_update(
            held,
            "SET pending_first = :f, pending_last = :l",
            vec![(":f", s(&range.first)), (":l", s(&range.last))],
        )
        .await
    }

    /// Sets the checkpoint and clears the pending range; `false` when the lease was lost.
    ///
    /// # Errors
    ///
    /// `dynamodb`.
    pub async fn checkpoint(
        &self,
        held: &Held,
        checkpoint: &Checkpoint,
    ) -> Result<bool, ConsumerError> {
        match checkpoint.as_stored() {
            Some(cp) => {
                self.held_update(
                    held,
                    "SET #cp = :cp REMOVE pending_first, pending_last",
                    vec![(":cp", s(cp))],
                )
                .await
            }
            None => self.held_update(held, "REMOVE #cp, pending_first, pending_last", vec![]).await,
        }
    }

    /// Gives the lease up for an immediate hand-over; `false` when it was already lost.
    ///
    /// # Errors
    ///
    /// `dynamodb`.
    pub async fn release(&self, held: &Held) -> Result<bool, ConsumerError> {
        self.held_update(
            held,
            "REMOVE #o SET lease_counter = :next, lease_expires_ms = :zero",
            vec![(":next", n(held.counter + 1)), (":zero", n(0))],
        )
        .await
    }
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Result<Lease, ConsumerError> {
    let shard = item.get("shard_id").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    let bad = |reason: &str| ConsumerError::BadLeaseItem {
        shard: shard.clone(),
        reason: reason.to_owned(),
    };
    if shard.is_empty() {
        return Err(bad("no shard_id"));
    }
    let text = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
    let number = |k: &str| -> Result<i64, ConsumerError> {
        match item.get(k) {
            None => Ok(0),
            Some(v) => v
                .as_n()
                .ok()
                .and_then(|t| t.parse().ok())
                .ok_or_else(|| bad(&format!("{k} is not a number"))),
        }
    };
    let pending = match (text("pending_first"), text("pending_last")) {
        (Some(first), Some(last)) => Some(PendingRange { first, last }),
        (None, None) => None,
        _ => return Err(bad("pending_first and pending_last must be set together")),
    };
    let parents = match item.get("parents") {
        None => Vec::new(),
        Some(v) => v
            .as_l()
            .map_err(|_| bad("parents is not a list"))?
            .iter()
            .filter_map(|p| p.as_s().ok().cloned())
            .collect(),
    };
    Ok(Lease {
        owner: text("owner"),
        counter: u64::try_from(number("lease_counter")?).map_err(|_| bad("negative counter"))?,
        expires_ms: number("lease_expires_ms")?,
        checkpoint: Checkpoint::from_stored(text("checkpoint").as_deref()),
        pending,
        ..Lease::new(shard.clone(), parents)
    })
}
