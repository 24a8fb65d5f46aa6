//! The CloudFront real-time log field registry: all 69 fields in CloudFront's canonical delivery
//! order, their types, and [`FieldSet`], a configuration's fields sorted into that order.
//!
//! CloudFront writes the configured fields in its own fixed order, whatever order the
//! configuration lists them in (reference `cmcd.md` §4.1–4.2), so a consumer sorts the configured
//! names into canonical order to know which cell is which. The order and the types here follow
//! §4.2 and §4.4 of the reference; positions 3, 42–43 and 65–69 are marked there as inferred.

use crate::error::Error;

/// How a field's cell is typed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `timestamp`: epoch seconds with a millisecond fraction → Athena `timestamp`.
    Timestamp,
    /// A non-negative count or number → `BIGINT`.
    Integer,
    /// Seconds with millisecond precision (`time-taken`, `time-to-first-byte`, `origin-fbl`,
    /// `origin-lbl`) → `DOUBLE`.
    Seconds,
    /// Text as logged → `STRING`.
    Text,
    /// Text that CloudFront percent-encodes (the header-derived fields); stored decoded.
    EncodedText,
    /// One of the 18 `cmcd-*` fields: typed into the `cmcd_<key>` columns, not a column itself.
    Cmcd,
}

macro_rules! fields {
    ($( $variant:ident = $name:literal : $kind:ident ),+ $(,)?) => {
        /// One CloudFront real-time log field. The discriminant is the 0-based canonical position.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[allow(missing_docs)] // each variant is its CloudFront name, given by `name()`
        pub enum Field { $($variant),+ }

        impl Field {
            /// Every field in canonical delivery order.
            pub const ALL: [Self; FIELD_COUNT] = [$(Self::$variant),+];

            /// The CloudFront field name (`cs-uri-stem`).
            pub const fn name(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }

            /// How the cell is typed (a table lookup: it is asked for every cell of a line).
            #[inline]
            pub const fn kind(self) -> Kind {
                const KINDS: [Kind; FIELD_COUNT] = [$(Kind::$kind),+];
                KINDS[self as usize]
            }
        }
    };
}

/// Number of real-time log fields CloudFront offers.
pub const FIELD_COUNT: usize = 69;

fields! {
    Timestamp = "timestamp": Timestamp,
    CIp = "c-ip": Text,
    SIp = "s-ip": Text,
    TimeToFirstByte = "time-to-first-byte": Seconds,
    ScStatus = "sc-status": Integer,
    ScBytes = "sc-bytes": Integer,
    CsMethod = "cs-method": Text,
    CsProtocol = "cs-protocol": Text,
    CsHost = "cs-host": Text,
    CsUriStem = "cs-uri-stem": Text,
    CsBytes = "cs-bytes": Integer,
    XEdgeLocation = "x-edge-location": Text,
    XEdgeRequestId = "x-edge-request-id": Text,
    XHostHeader = "x-host-header": Text,
    TimeTaken = "time-taken": Seconds,
    CsProtocolVersion = "cs-protocol-version": Text,
    CIpVersion = "c-ip-version": Text,
    CsUserAgent = "cs-user-agent": EncodedText,
    CsReferer = "cs-referer": EncodedText,
    CsCookie = "cs-cookie": EncodedText,
    CsUriQuery = "cs-uri-query": Text,
    XEdgeResponseResultType = "x-edge-response-result-type": Text,
    XForwardedFor = "x-forwarded-for": Text,
    SslProtocol = "ssl-protocol": Text,
    SslCipher = "ssl-cipher": Text,
    XEdgeResultType = "x-edge-result-type": Text,
    FleEncryptedFields = "fle-encrypted-fields": Text,
    FleStatus = "fle-status": Text,
    ScContentType = "sc-content-type": Text,
    ScContentLen = "sc-content-len": Integer,
    ScRangeStart = "sc-range-start": Integer,
    ScRangeEnd = "sc-range-end": Integer,
    CPort = "c-port": Integer,
    XEdgeDetailedResultType = "x-edge-detailed-result-type": Text,
    CCountry = "c-country": Text,
    CsAcceptEncoding = "cs-accept-encoding": Text,
    CsAccept = "cs-accept": Text,
    CacheBehaviorPathPattern = "cache-behavior-path-pattern": Text,
    CsHeaders = "cs-headers": EncodedText,
    CsHeaderNames = "cs-header-names": EncodedText,
    CsHeadersCount = "cs-headers-count": Integer,
    PrimaryDistributionId = "primary-distribution-id": Text,
    PrimaryDistributionDnsName = "primary-distribution-dns-name": Text,
    OriginFbl = "origin-fbl": Seconds,
    OriginLbl = "origin-lbl": Seconds,
    Asn = "asn": Integer,
    CmcdEncodedBitrate = "cmcd-encoded-bitrate": Cmcd,
    CmcdBufferLength = "cmcd-buffer-length": Cmcd,
    CmcdBufferStarvation = "cmcd-buffer-starvation": Cmcd,
    CmcdContentId = "cmcd-content-id": Cmcd,
    CmcdObjectDuration = "cmcd-object-duration": Cmcd,
    CmcdDeadline = "cmcd-deadline": Cmcd,
    CmcdMeasuredThroughput = "cmcd-measured-throughput": Cmcd,
    CmcdNextObjectRequest = "cmcd-next-object-request": Cmcd,
    CmcdNextRangeRequest = "cmcd-next-range-request": Cmcd,
    CmcdObjectType = "cmcd-object-type": Cmcd,
    CmcdPlaybackRate = "cmcd-playback-rate": Cmcd,
    CmcdRequestedMaximumThroughput = "cmcd-requested-maximum-throughput": Cmcd,
    CmcdStreamingFormat = "cmcd-streaming-format": Cmcd,
    CmcdSessionId = "cmcd-session-id": Cmcd,
    CmcdStreamType = "cmcd-stream-type": Cmcd,
    CmcdStartup = "cmcd-startup": Cmcd,
    CmcdTopBitrate = "cmcd-top-bitrate": Cmcd,
    CmcdVersion = "cmcd-version": Cmcd,
    RHost = "r-host": Text,
    SrReason = "sr-reason": Text,
    XEdgeMqcs = "x-edge-mqcs": Text,
    DistributionTenantId = "distribution-tenant-id": Text,
    ConnectionId = "connection-id": Text,
}

impl Field {
    /// The 0-based canonical position.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The field with this CloudFront name (exact, lowercase).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|f| f.name() == name)
    }

    /// The lake column name: the field name with `-` replaced by `_` (`sc_status`).
    pub fn column(self) -> String {
        self.name().replace('-', "_")
    }
}

/// The fields of one real-time log configuration, in canonical order: cell `i` of a line is
/// `fields()[i]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSet {
    fields: Vec<Field>,
    /// Cell position of each field, `usize::MAX` when not configured.
    position: [usize; FIELD_COUNT],
}

impl FieldSet {
    /// Every field (a configuration that logs everything).
    pub fn all() -> Self {
        Self::from_fields(Field::ALL.to_vec()).unwrap_or_else(|_| unreachable_all())
    }

    /// Builds the set from fields in any order; sorts them canonically.
    ///
    /// # Errors
    ///
    /// [`Error::DuplicateField`], [`Error::MissingTimestamp`].
    pub fn from_fields(mut fields: Vec<Field>) -> Result<Self, Error> {
        fields.sort_unstable();
        if let Some(w) = fields.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::DuplicateField(w[0].name().to_owned()));
        }
        if fields.first() != Some(&Field::Timestamp) {
            return Err(Error::MissingTimestamp);
        }
        let mut position = [usize::MAX; FIELD_COUNT];
        for (i, f) in fields.iter().enumerate() {
            position[f.index()] = i;
        }
        Ok(Self { fields, position })
    }

    /// Parses the comma-separated field names of a real-time log configuration (spaces around
    /// names are ignored; order does not matter).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownField`] and the errors of [`FieldSet::from_fields`].
    pub fn parse_names(names: &str) -> Result<Self, Error> {
        let fields = names
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| Field::from_name(n).ok_or_else(|| Error::UnknownField(n.to_owned())))
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_fields(fields)
    }

    /// Reads the `Fields` of a real-time log configuration JSON: the output of
    /// `aws cloudfront get-realtime-log-config` (`{"RealtimeLogConfig": {"Fields": [...]}}`), the
    /// inner `RealtimeLogConfig` object, or a bare array of names.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] when the JSON has no field list, and the errors of
    /// [`FieldSet::from_fields`].
    pub fn from_config_json(json: &str) -> Result<Self, Error> {
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| Error::Config(e.to_string()))?;
        let list = value
            .get("RealtimeLogConfig")
            .and_then(|c| c.get("Fields"))
            .or_else(|| value.get("Fields"))
            .or_else(|| value.is_array().then_some(&value))
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| Error::Config("no Fields array".to_owned()))?;
        let fields = list
            .iter()
            .map(|v| {
                let name = v.as_str().ok_or_else(|| Error::Config(format!("{v} is not a name")))?;
                Field::from_name(name).ok_or_else(|| Error::UnknownField(name.to_owned()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Self::from_fields(fields)
    }

    /// The fields in canonical (cell) order.
    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    /// Number of cells per line.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Never true (`timestamp` is required); present for API symmetry.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Whether the configuration logs `field`.
    pub fn contains(&self, field: Field) -> bool {
        self.position(field).is_some()
    }

    /// The cell position of `field`, if configured.
    pub fn position(&self, field: Field) -> Option<usize> {
        self.position.get(field.index()).copied().filter(|&p| p != usize::MAX)
    }

    /// The configuration's names joined by commas, canonical order.
    pub fn names(&self) -> String {
        self.fields.iter().map(|f| f.name()).collect::<Vec<_>>().join(",")
    }
}

#[cold]
fn unreachable_all() -> FieldSet {
    // `Field::ALL` holds each field once and starts with `timestamp`, so `from_fields` accepts
    // it; this fallback only satisfies the type checker.
    FieldSet { fields: Field::ALL.to_vec(), position: std::array::from_fn(|i| i) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_matches_reference_order() {
        // cmcd.md §4.2: spot checks of the numbered list (1-based there).
        let at = |n: usize| Field::ALL[n - 1].name();
        assert_eq!(at(1), "timestamp");
        assert_eq!(at(10), "cs-uri-stem");
        assert_eq!(at(21), "cs-uri-query");
        assert_eq!(at(39), "cs-headers");
        assert_eq!(at(46), "asn");
        assert_eq!(at(47), "cmcd-encoded-bitrate");
        assert_eq!(at(64), "cmcd-version");
        assert_eq!(at(69), "connection-id");
        for (i, f) in Field::ALL.iter().enumerate() {
            assert_eq!(f.index(), i);
            assert_eq!(Field::from_name(f.name()), Some(*f));
        }
        let cmcd = Field::ALL.iter().filter(|f| f.kind() == Kind::Cmcd).count();
        assert_eq!(cmcd, 18);
    }

    #[test]
    fn config_order_does_not_matter() {
        let a = FieldSet::parse_names("sc-status, timestamp,c-ip").unwrap();
        assert_eq!(a.names(), "timestamp,c-ip,sc-status");
        assert_eq!(a.position(Field::ScStatus), Some(2));
        assert_eq!(a.position(Field::CsHost), None);
        let json = r#"{"RealtimeLogConfig":{"ARN":"arn:aws:cloudfront::1:realtime-log-config/x","Name":"x","SamplingRate":100,"EndPoints":[],"Fields":["c-ip","timestamp","sc-status"]}}"#;
        assert_eq!(FieldSet::from_config_json(json).unwrap(), a);
    }

    #[test]
    fn config_errors() {
        assert_eq!(FieldSet::parse_names("timestamp,nope").unwrap_err().code(), "unknown_field");
        assert_eq!(FieldSet::parse_names("c-ip").unwrap_err().code(), "missing_timestamp");
        assert_eq!(
            FieldSet::parse_names("timestamp,c-ip,c-ip").unwrap_err().code(),
            "duplicate_field"
        );
        assert_eq!(FieldSet::from_config_json("{}").unwrap_err().code(), "config");
    }
}
