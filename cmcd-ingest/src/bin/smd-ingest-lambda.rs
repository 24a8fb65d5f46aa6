#![recursion_limit = "256"]
//! `smd-ingest-lambda`: the Lambda ingest mode for the `provided.al2023` runtime (packaged as
//! `bootstrap` by `scripts/build-ingest-lambda.sh`). Kinesis event-source-mapping batches →
//! Parquet objects in the S3 lake named by `LAKE`; partial batch failures for shard groups whose
//! write failed. See `cmcd_ingest::lambda` for the environment variables.

use std::sync::Arc;

use cmcd_ingest::lambda::{BatchResponse, Handler, KinesisEvent, outcome_json};
use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let handler = match Handler::from_env().await {
        Ok(h) => Arc::new(h),
        Err(e) => {
            // Printed for CloudWatch; the runtime reports the init error as well.
            println!(
                "{}",
                serde_json::json!({"init_error": {"code": e.code(), "message": e.to_string()}})
            );
            return Err(e.into());
        }
    };
    lambda_runtime::run(service_fn(move |event: LambdaEvent<KinesisEvent>| {
        let handler = Arc::clone(&handler);
        async move {
            let outcomes = handler.handle_groups(&event.payload).await;
            for o in &outcomes {
                println!("{}", outcome_json(o));
            }
            Ok::<_, lambda_runtime::Error>(BatchResponse::from_outcomes(&outcomes))
        }
    }))
    .await
}
