//! The lake side of the consumer: a range's records become objects through
//! [`crate::range::encode_range`] and are written through
//! [`crate::store::ObjectStore::write_range`] (which replaces what an earlier attempt at the same
//! range left, via its manifest).

use crate::field::FieldSet;
use crate::pipeline::Config;
use crate::range::{RangeRecord, encode_range};
use crate::sink::Encoder;
use crate::store::{ObjectStore, S3Options, StoreError};

use super::output::{Objects, RangeEncoder, RangeSink, SinkError};
use super::reader::StreamRecord;

/// Encodes ranges with `encode_range` for `fields` and `config`.
#[derive(Debug, Clone)]
pub struct LakeEncoder<E> {
    fields: FieldSet,
    config: Config,
    encoder: E,
}

impl<E> LakeEncoder<E> {
    /// An encoder of ranges of lines of `fields`.
    pub fn new(fields: FieldSet, config: Config, encoder: E) -> Self {
        Self { fields, config, encoder }
    }
}

impl<E: Encoder + Clone + Send + Sync + 'static> RangeEncoder for LakeEncoder<E> {
    fn encode(&self, shard: &str, records: &[StreamRecord]) -> Result<Objects, crate::Error> {
        let items = records.iter().map(|r| RangeRecord { sequence: &r.sequence, data: &r.data });
        Ok(encode_range(&self.fields, &self.config, self.encoder.clone(), shard, items)?.objects)
    }
}

impl RangeSink for ObjectStore {
    async fn write_range(
        &self,
        shard: &str,
        first_sequence: &str,
        objects: Objects,
    ) -> Result<(), SinkError> {
        Self::write_range(self, shard, first_sequence, objects)
            .await
            .map(|_| ())
            .map_err(|e| Box::new(e) as SinkError)
    }
}

/// Opens the lake at `location` (`s3://bucket/prefix` or a directory); with an `endpoint`
/// (a local server) S3 is addressed path-style.
///
/// # Errors
///
/// [`StoreError::BadLocation`].
pub async fn open_lake(
    location: &str,
    endpoint: Option<&str>,
    region: Option<&str>,
) -> Result<ObjectStore, StoreError> {
    let options = S3Options {
        endpoint: endpoint.map(str::to_owned),
        region: region.map(str::to_owned),
        path_style: endpoint.is_some(),
        ..S3Options::default()
    };
    ObjectStore::open(location, &options).await
}
