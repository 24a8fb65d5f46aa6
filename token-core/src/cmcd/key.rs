//! The key registry: every key CTA-5004 (v1, 18 keys) and CTA-5004-A/-B (v2, 49 keys) reserve,
//! with its type, unit, header shard, token vocabulary, length limit, rounding rule and the
//! versions that define it — plus the custom-key grammar.
//!
//! Key names follow CTA-5004-B §3.1 (Table 1) and CTA-5004 §3.3. One extra entry, `cdn`, is not
//! in either document: the SVTA Common Media Library sends it, so it is registered as
//! [`KeyInfo::official`]` == false` rather than treated as unknown.
//!
//! This module does not look at values; [`super::Report`] applies the rules it describes.

use super::value::{EventType, ObjectType, PlayerState, StreamType, StreamingFormat, Version};

/// The Structured Field shape and meaning a key's value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// Integer (non-negative for every CMCD key).
    Integer,
    /// Decimal (an Integer is accepted).
    Decimal,
    /// Boolean; sent as a bare key when true.
    Boolean,
    /// String.
    String,
    /// Token from [`KeyInfo::tokens`].
    Token,
    /// Integer in v1, Inner List of Integers with object-type parameters in v2.
    IntegerList,
    /// Inner List of Strings (`ec`).
    StringList,
    /// `nor`: String in v1, Inner List of Strings with an `r` parameter in v2.
    NextObjects,
}

/// The unit of a numeric key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unit {
    /// No unit (strings, tokens, booleans, codes, versions).
    None,
    /// Kilobits per second.
    Kbps,
    /// Milliseconds.
    Milliseconds,
    /// Milliseconds since the Unix epoch.
    EpochMilliseconds,
    /// A count.
    Count,
    /// A rate (1 = real time).
    Rate,
}

/// The request header a key travels in (CTA-5004-B §2.1), grouped by how often values change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Shard {
    /// `CMCD-Object`: about the object being requested.
    Object,
    /// `CMCD-Request`: changes with every request.
    Request,
    /// `CMCD-Session`: constant for the session.
    Session,
    /// `CMCD-Status`: changes rarely.
    Status,
}

impl Shard {
    /// All shards, in header-name order.
    pub const ALL: [Self; 4] = [Self::Object, Self::Request, Self::Session, Self::Status];

    /// The canonical header name.
    pub const fn header_name(self) -> &'static str {
        match self {
            Self::Object => "CMCD-Object",
            Self::Request => "CMCD-Request",
            Self::Session => "CMCD-Session",
            Self::Status => "CMCD-Status",
        }
    }

    /// The shard for a header name, compared case-insensitively; `None` for other headers.
    pub fn from_header_name(name: &str) -> Option<Self> {
        let (prefix, rest) = name.split_at_checked(5)?;
        if !prefix.eq_ignore_ascii_case("cmcd-") {
            return None;
        }
        Self::ALL
            .into_iter()
            .find(|s| s.header_name().get(5..).is_some_and(|n| n.eq_ignore_ascii_case(rest)))
    }
}

/// Everything the registry knows about one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyInfo {
    /// The key.
    pub key: Key,
    /// Wire name.
    pub name: &'static str,
    /// What the value must be.
    pub kind: Kind,
    /// Unit of numeric values.
    pub unit: Unit,
    /// Header shard in v1, `None` when v1 does not define the key.
    pub shard_v1: Option<Shard>,
    /// Header shard in v2, `None` for event-only keys and keys v2 removed (`nrr`).
    pub shard_v2: Option<Shard>,
    /// Defined by CTA-5004 (v1).
    pub in_v1: bool,
    /// Defined by CTA-5004-A/-B (v2).
    pub in_v2: bool,
    /// Only allowed in v2 event mode (Table 1 "N.A" for headers).
    pub event_only: bool,
    /// Defined by a CTA document (`false` only for `cdn`).
    pub official: bool,
    /// Allowed tokens for [`Kind::Token`] keys (v2 vocabulary, a superset of v1's).
    pub tokens: &'static [&'static str],
    /// Maximum string length in v2 (and v1 unless [`max_len_v1`](Self::max_len_v1) says otherwise).
    pub max_len: Option<usize>,
    /// Maximum string length in v1 when it differs (`cid`: 64).
    pub max_len_v1: Option<usize>,
    /// The value MUST/SHOULD be rounded to a multiple of this (`bl`, `dl`, `tbl`: 100 ms;
    /// `mtp`, `rtp`: 100 kbps).
    pub round_to: Option<u64>,
    /// One-line meaning.
    pub summary: &'static str,
}

impl KeyInfo {
    /// The shard for `version`, `None` if the key has none there.
    pub const fn shard(&self, version: Version) -> Option<Shard> {
        match version {
            Version::V1 => self.shard_v1,
            Version::V2 => self.shard_v2,
        }
    }

    /// Whether `version` defines the key.
    pub const fn in_version(&self, version: Version) -> bool {
        match version {
            Version::V1 => self.in_v1,
            Version::V2 => self.in_v2,
        }
    }

    /// Maximum string length for `version`.
    pub const fn max_len_for(&self, version: Version) -> Option<usize> {
        match (version, self.max_len_v1) {
            (Version::V1, Some(n)) => Some(n),
            _ => self.max_len,
        }
    }
}

macro_rules! registry {
    ( $( $variant:ident $name:literal { $kind:ident, $unit:ident, v1: $s1:tt, v2: $s2:tt, $($flag:ident)* ; $summary:literal $(, tokens: $tok:expr)? $(, max: $max:expr)? $(, max_v1: $maxv1:expr)? $(, round: $round:expr)? } )+ ) => {
        /// A registered CMCD key. Variants are in alphabetical order of their wire names, so
        /// `Ord` sorts keys as the canonical encoding does.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum Key {
            $( #[doc = concat!("`", $name, "`: ", $summary)] $variant, )+
        }

        impl Key {
            /// Every registered key, alphabetically.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The key for a wire name; `None` for custom and unknown keys.
            pub fn from_name(name: &str) -> Option<Self> {
                Self::from_name_bytes(name.as_bytes())
            }

            /// [`Key::from_name`] for a name given as bytes.
            pub(crate) fn from_name_bytes(bytes: &[u8]) -> Option<Self> {
                // A perfect hash of the name packed into an integer (see `pack`): one
                // multiplication and one table probe instead of string comparisons.
                if bytes.is_empty() || bytes.len() > MAX_NAME_LEN {
                    return None;
                }
                // Same value as `pack`, without the byte buffer (which compiles to a copy call).
                let packed = bytes.iter().fold(0u64, |acc, &b| acc << 8 | u64::from(b)) << (8 * (8 - bytes.len()));
                let slot = SLOTS.get(slot_of(packed)).copied().unwrap_or(0);
                let i = usize::from(slot).checked_sub(1)?;
                // Equal packing and length means equal names (names hold no NUL).
                (PACKED_NAMES.get(i) == Some(&packed))
                    .then(|| Self::ALL.get(i).copied())
                    .flatten()
                    .filter(|k| k.name().len() == bytes.len())
            }

            /// The wire name.
            pub const fn name(self) -> &'static str {
                match self { $(Self::$variant => $name,)+ }
            }

            /// The registry entry.
            pub const fn info(self) -> &'static KeyInfo {
                match self { $(Self::$variant => { const INFO: KeyInfo = KeyInfo {
                    key: Key::$variant,
                    name: $name,
                    kind: Kind::$kind,
                    unit: Unit::$unit,
                    shard_v1: registry!(@shard $s1),
                    shard_v2: registry!(@shard $s2),
                    in_v1: registry!(@in $s1),
                    in_v2: registry!(@in $s2) || registry!(@has event $($flag)*),
                    event_only: registry!(@has event $($flag)*),
                    official: !registry!(@has unofficial $($flag)*),
                    tokens: registry!(@opt_tokens $($tok)?),
                    max_len: registry!(@opt $($max)?),
                    max_len_v1: registry!(@opt $($maxv1)?),
                    round_to: registry!(@opt $($round)?),
                    summary: $summary,
                }; &INFO })+ }
            }
        }
    };
    (@shard -) => { None };
    (@shard $s:ident) => { Some(Shard::$s) };
    (@in -) => { false };
    (@in $s:ident) => { true };
    (@has $want:ident) => { false };
    (@has event event $($rest:ident)*) => { true };
    (@has unofficial unofficial $($rest:ident)*) => { true };
    (@has $want:ident $other:ident $($rest:ident)*) => { registry!(@has $want $($rest)*) };
    (@opt) => { None };
    (@opt $e:expr) => { Some($e) };
    (@opt_tokens) => { &[] };
    (@opt_tokens $e:expr) => { $e };
}

registry! {
    Ab "ab" { IntegerList, Kbps, v1: -, v2: Object, ; "aggregate encoded bitrate" }
    Bg "bg" { Boolean, None, v1: -, v2: Status, ; "backgrounded: all players are hidden" }
    Bl "bl" { IntegerList, Milliseconds, v1: Request, v2: Request, ; "buffer length", round: 100 }
    Br "br" { IntegerList, Kbps, v1: Object, v2: Object, ; "encoded bitrate of the requested object" }
    Bs "bs" { Boolean, None, v1: Status, v2: Status, ; "buffer starvation since the previous report" }
    Bsa "bsa" { IntegerList, Count, v1: -, v2: Status, ; "buffer starvations since session start" }
    Bsd "bsd" { IntegerList, Milliseconds, v1: -, v2: Status, ; "durations of completed buffer starvations" }
    Bsda "bsda" { IntegerList, Milliseconds, v1: -, v2: Status, ; "cumulative buffer starvation duration" }
    Cdn "cdn" { String, None, v1: -, v2: Status, unofficial ; "CDN identifier (SVTA library extension, not in CTA-5004)", max: 128 }
    Cen "cen" { String, None, v1: -, v2: -, event ; "custom event name", max: 64 }
    Cid "cid" { String, None, v1: Session, v2: Session, ; "content ID", max: 128, max_v1: 64 }
    Cmsdd "cmsdd" { String, None, v1: -, v2: -, event ; "base64 copy of the CMSD-Dynamic response header" }
    Cmsds "cmsds" { String, None, v1: -, v2: -, event ; "base64 copy of the CMSD-Static response header" }
    Cs "cs" { String, None, v1: -, v2: Request, ; "content signature" }
    D "d" { Integer, Milliseconds, v1: Object, v2: Object, ; "object duration" }
    Dfa "dfa" { Integer, Count, v1: -, v2: Request, ; "dropped frames since session start" }
    Dl "dl" { Integer, Milliseconds, v1: Request, v2: Request, ; "deadline until the first sample is needed", round: 100 }
    E "e" { Token, None, v1: -, v2: -, event ; "event type", tokens: EventType::TOKENS }
    Ec "ec" { StringList, None, v1: -, v2: Status, ; "player error codes" }
    H "h" { String, None, v1: -, v2: -, event ; "hostname the content comes from", max: 128 }
    Lab "lab" { IntegerList, Kbps, v1: -, v2: Object, ; "lowest aggregated encoded bitrate" }
    Lb "lb" { IntegerList, Kbps, v1: -, v2: Object, ; "lowest encoded bitrate" }
    Ltc "ltc" { Integer, Milliseconds, v1: -, v2: Request, ; "live latency" }
    Msd "msd" { Integer, Milliseconds, v1: -, v2: Session, ; "media start delay" }
    Mtp "mtp" { IntegerList, Kbps, v1: Request, v2: Request, ; "measured throughput", round: 100 }
    Nor "nor" { NextObjects, None, v1: Request, v2: Request, ; "next object request(s), relative URLs" }
    Nr "nr" { Boolean, None, v1: -, v2: Status, ; "non-rendered: the player is in the background" }
    Nrr "nrr" { String, None, v1: Request, v2: -, ; "next range request (v1 only)" }
    Ot "ot" { Token, None, v1: Object, v2: Object, ; "object type", tokens: ObjectType::TOKENS }
    Pb "pb" { IntegerList, Kbps, v1: -, v2: Request, ; "playhead bitrate" }
    Pr "pr" { Decimal, Rate, v1: Session, v2: Status, ; "playback rate (1 = real time)" }
    Pt "pt" { Integer, Milliseconds, v1: -, v2: Status, ; "playhead time" }
    Rc "rc" { Integer, None, v1: -, v2: -, event ; "HTTP response code (0: no response)" }
    Rtp "rtp" { Integer, Kbps, v1: Status, v2: Status, ; "requested maximum throughput", round: 100 }
    Sf "sf" { Token, None, v1: Session, v2: Session, ; "streaming format", tokens: StreamingFormat::TOKENS }
    Sid "sid" { String, None, v1: Session, v2: Session, ; "session ID", max: 64 }
    Smrt "smrt" { String, None, v1: -, v2: -, event ; "base64 copy of the SMRT-Data header (CTA-5010)" }
    Sn "sn" { Integer, Count, v1: -, v2: Request, ; "sequence number" }
    St "st" { Token, None, v1: Session, v2: Session, ; "stream type", tokens: StreamType::TOKENS }
    Sta "sta" { Token, None, v1: -, v2: Request, ; "player state", tokens: PlayerState::TOKENS }
    Su "su" { Boolean, None, v1: Request, v2: Request, ; "startup or urgent" }
    Tab "tab" { IntegerList, Kbps, v1: -, v2: Object, ; "top aggregated encoded bitrate" }
    Tb "tb" { IntegerList, Kbps, v1: Object, v2: Object, ; "top encoded bitrate allowed" }
    Tbl "tbl" { IntegerList, Milliseconds, v1: -, v2: Request, ; "target buffer length", round: 100 }
    Tpb "tpb" { IntegerList, Kbps, v1: -, v2: Object, ; "top playable bitrate" }
    Ts "ts" { Integer, EpochMilliseconds, v1: -, v2: -, event ; "event timestamp" }
    Ttfb "ttfb" { Integer, Milliseconds, v1: -, v2: -, event ; "time to first byte" }
    Ttfbb "ttfbb" { Integer, Milliseconds, v1: -, v2: -, event ; "time to first body byte" }
    Ttlb "ttlb" { Integer, Milliseconds, v1: -, v2: -, event ; "time to last byte" }
    Url "url" { String, None, v1: -, v2: -, event ; "request URL" }
    V "v" { Integer, None, v1: Session, v2: Session, ; "CMCD version" }
}

/// Longest registered name (`cmsdd`, `ttfbb`).
const MAX_NAME_LEN: usize = 5;

/// A name of at most 8 bytes as a big-endian integer, left-aligned and zero-padded, so integer
/// order is the names' byte order (a prefix sorts first, as `"bs" < "bsa"`).
// Both indices are below the loop bound `min(len, 8)`.
#[allow(clippy::indexing_slicing)]
const fn pack(name: &str) -> u64 {
    let b = name.as_bytes();
    let mut buf = [0u8; 8];
    let mut i = 0;
    while i < b.len() && i < 8 {
        buf[i] = b[i];
        i += 1;
    }
    u64::from_be_bytes(buf)
}

/// `pack` of every name, in [`Key::ALL`] (alphabetical, hence ascending) order.
// Evaluated at compile time: an out-of-bounds index would fail the build, not panic.
#[allow(clippy::indexing_slicing)]
static PACKED_NAMES: [u64; Key::ALL.len()] = {
    let mut table = [0u64; Key::ALL.len()];
    let mut i = 0;
    while i < table.len() {
        table[i] = pack(Key::ALL[i].name());
        i += 1;
    }
    table
};

/// Multiplier of the perfect hash `slot_of`, found by search; the `SLOTS` initializer fails
/// the build if it ever stops being collision-free.
const HASH_MULTIPLIER: u64 = 0x1529_640b_177f_bcf9;
const SLOT_BITS: u32 = 7;

const fn slot_of(packed: u64) -> usize {
    (packed.wrapping_mul(HASH_MULTIPLIER) >> (64 - SLOT_BITS)) as usize
}

/// Perfect-hash table: slot → 1 + index into [`Key::ALL`], 0 for empty.
// Evaluated at compile time: an out-of-bounds index would fail the build, not panic.
#[allow(clippy::indexing_slicing)]
static SLOTS: [u8; 1 << SLOT_BITS] = {
    let mut table = [0u8; 1 << SLOT_BITS];
    let mut i = 0;
    while i < Key::ALL.len() {
        let slot = slot_of(PACKED_NAMES[i]);
        assert!(table[slot] == 0, "key hash collision: choose another HASH_MULTIPLIER");
        table[slot] = (i + 1) as u8;
        i += 1;
    }
    table
};

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether `name` is a valid custom key (CTA-5004-B §4.1): lowercase letters, digits, `.` and
/// `-`, starting with a letter, with a hyphen somewhere other than the first or last position
/// (`com.example-foo`). Registered names are not custom keys.
pub fn is_custom_key(name: &str) -> bool {
    let b = name.as_bytes();
    matches!(b.first(), Some(c) if c.is_ascii_lowercase())
        && b.iter().all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.get(1..b.len().saturating_sub(1)).is_some_and(|inner| inner.contains(&b'-'))
        && Key::from_name(name).is_none()
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn registry_counts_match_the_specs() {
        let official = || Key::ALL.iter().map(|k| k.info()).filter(|i| i.official);
        assert_eq!(official().filter(|i| i.in_v1).count(), 18);
        assert_eq!(official().filter(|i| i.in_v2).count(), 49);
        assert_eq!(Key::ALL.len(), 51);
    }

    #[test]
    fn key_order_is_alphabetical() {
        for pair in Key::ALL.windows(2) {
            if let [a, b] = pair {
                assert!(a.name() < b.name(), "{a} < {b}");
            }
        }
        assert!(PACKED_NAMES.windows(2).all(|w| w[0] < w[1]));
        assert!(Key::ALL.iter().all(|k| k.name().len() <= MAX_NAME_LEN));
        for name in ["", "a", "b", "bsdaa", "com.example-x", "nrrr", "*", "v2", "ab\0"] {
            assert_eq!(Key::from_name(name), None, "{name}");
        }
        for &k in Key::ALL {
            assert_eq!(Key::from_name(k.name()), Some(k));
            assert_eq!(k.info().key, k);
        }
    }

    #[test]
    fn pr_moves_shard_between_versions() {
        assert_eq!(Key::Pr.info().shard(Version::V1), Some(Shard::Session));
        assert_eq!(Key::Pr.info().shard(Version::V2), Some(Shard::Status));
        assert_eq!(Key::Nrr.info().shard(Version::V2), None);
        assert!(Key::Ts.info().event_only && Key::Ts.info().in_v2);
    }

    #[test]
    fn shard_names_are_case_insensitive() {
        assert_eq!(Shard::from_header_name("cmcd-OBJECT"), Some(Shard::Object));
        assert_eq!(Shard::from_header_name("CMCD-Sessions"), None);
        assert_eq!(Shard::from_header_name("cmcd"), None);
    }

    #[test]
    fn custom_key_grammar() {
        for ok in ["com.example-foo", "a-b", "a--"] {
            assert!(is_custom_key(ok), "{ok}");
        }
        for bad in ["-b", "a-", "Com.Example-x", "a_b-c", "*foo", "foo", "com.example-myNumericKey"]
        {
            assert!(!is_custom_key(bad), "{bad}");
        }
    }
}
