//! The AWS SDK rim of `smd-cli deploy` (feature `deploy`): client configuration, artifact
//! upload, change sets with progress, and the CloudFront distribution update of attach mode.
//!
//! Everything that decides *what* to deploy is pure and lives next door (`render`, `attach`);
//! these modules only talk to AWS and report what happens.

pub(crate) mod artifacts;
pub(crate) mod cloudfront;
pub(crate) mod stack;

/// Where to talk to AWS.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// The SDK configuration (region, credentials, optional endpoint).
    pub(crate) sdk: aws_config::SdkConfig,
    /// `--endpoint`: a local server (then S3 uses path-style addressing).
    pub(crate) endpoint: Option<String>,
}

impl Target {
    /// Loads credentials and region the usual AWS way (environment, profile, instance role);
    /// `region` and `endpoint` override.
    pub(crate) async fn load(region: Option<String>, endpoint: Option<String>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region));
        }
        if let Some(endpoint) = &endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        Self { sdk: loader.load().await, endpoint }
    }

    /// The region, or an error telling how to set one.
    pub(crate) fn region(&self) -> anyhow::Result<String> {
        self.sdk
            .region()
            .map(ToString::to_string)
            .ok_or_else(|| anyhow::anyhow!("no AWS region: pass --region or set AWS_REGION"))
    }

    pub(crate) fn cloudformation(&self) -> aws_sdk_cloudformation::Client {
        aws_sdk_cloudformation::Client::new(&self.sdk)
    }

    pub(crate) fn cloudfront(&self) -> aws_sdk_cloudfront::Client {
        aws_sdk_cloudfront::Client::new(&self.sdk)
    }

    pub(crate) fn sts(&self) -> aws_sdk_sts::Client {
        aws_sdk_sts::Client::new(&self.sdk)
    }

    pub(crate) fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.sdk)
            .force_path_style(self.endpoint.is_some())
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }
}

/// A tokio runtime for one command.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

/// Renders an SDK error with its service message (the default `Display` says only
/// "service error").
pub(crate) fn describe<E, R>(err: &aws_sdk_cloudformation::error::SdkError<E, R>) -> String
where
    E: std::error::Error + aws_sdk_cloudformation::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug + 'static,
{
    match err {
        aws_sdk_cloudformation::error::SdkError::ServiceError(e) => {
            let e = e.err();
            format!("{}: {}", e.code().unwrap_or("error"), e.message().unwrap_or(&e.to_string()))
        }
        other => format!("{}", aws_sdk_cloudformation::error::DisplayErrorContext(other)),
    }
}
