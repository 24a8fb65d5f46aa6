//! SDK clients for Kinesis and DynamoDB: the default credential chain and region, with
//! per-service endpoint overrides for local servers.

use aws_config::{BehaviorVersion, Region, SdkConfig};

/// Where the services are.
#[derive(Debug, Clone, Default)]
pub struct Endpoints {
    /// Region (default: the SDK's chain, e.g. `AWS_REGION`; `us-east-1` when it finds none).
    pub region: Option<String>,
    /// Kinesis endpoint URL (default: the region's).
    pub kinesis: Option<String>,
    /// DynamoDB endpoint URL (default: the region's).
    pub dynamodb: Option<String>,
}

/// The shared SDK configuration (credentials, region, retries).
pub async fn sdk_config(region: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_owned()));
    }
    let conf = loader.load().await;
    if conf.region().is_some() {
        return conf;
    }
    conf.into_builder().region(Region::new("us-east-1")).build()
}

/// A Kinesis client, at `endpoint` when given.
pub fn kinesis_client(conf: &SdkConfig, endpoint: Option<&str>) -> aws_sdk_kinesis::Client {
    let mut b = aws_sdk_kinesis::config::Builder::from(conf);
    if let Some(url) = endpoint {
        b = b.endpoint_url(url);
    }
    aws_sdk_kinesis::Client::from_conf(b.build())
}

/// A DynamoDB client, at `endpoint` when given.
pub fn dynamodb_client(conf: &SdkConfig, endpoint: Option<&str>) -> aws_sdk_dynamodb::Client {
    let mut b = aws_sdk_dynamodb::config::Builder::from(conf);
    if let Some(url) = endpoint {
        b = b.endpoint_url(url);
    }
    aws_sdk_dynamodb::Client::from_conf(b.build())
}
