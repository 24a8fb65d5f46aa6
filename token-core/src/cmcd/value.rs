//! Typed CMCD values: the token vocabularies of CTA-5004-B §3.1, per-object-type samples,
//! next-object requests, and [`Value`], the typed form of one key.
//!
//! Nothing here parses text; [`super::Report`] turns Structured Field members into these types.

use super::sf::Decimal;

macro_rules! token_enum {
    (@v1) => { true };
    (@v1 $x:tt) => { false };
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $tok:literal $(@v2 $v2:tt)? ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every token of the vocabulary, in definition order.
            pub const TOKENS: &'static [&'static str] = &[$($tok),+];
            /// Every value, in definition order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The wire token.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $tok,)+ }
            }

            /// The value for a wire token; `None` outside the vocabulary.
            #[allow(clippy::should_implement_trait)] // infallible-by-Option lookup, not FromStr
            pub fn from_token(token: &str) -> Option<Self> {
                match token { $($tok => Some(Self::$variant),)+ _ => None }
            }

            /// Whether CTA-5004 (v1) already defined this token (`false`: added by v2).
            pub const fn in_v1(self) -> bool {
                match self { $(Self::$variant => token_enum!(@v1 $($v2)?),)+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

token_enum! {
    /// Object type, key `ot` (CTA-5004 §3.3; CTA-5004-B §3.1). Also the parameter names that tag
    /// members of v2 inner lists (`br=(5000;v 320;a)`).
    ObjectType {
        /// `m`: manifest or playlist.
        Manifest = "m",
        /// `a`: audio only.
        Audio = "a",
        /// `v`: video only.
        Video = "v",
        /// `av`: muxed audio and video.
        Muxed = "av",
        /// `i`: init segment.
        Init = "i",
        /// `c`: caption or subtitle.
        Caption = "c",
        /// `tt`: ISOBMFF timed text track.
        TimedText = "tt",
        /// `k`: cryptographic key, license or certificate.
        Key = "k",
        /// `o`: other.
        Other = "o",
    }
}

token_enum! {
    /// Streaming format, key `sf`.
    StreamingFormat {
        /// `d`: MPEG-DASH.
        Dash = "d",
        /// `h`: HTTP Live Streaming.
        Hls = "h",
        /// `e`: HESP (added in v2).
        Hesp = "e" @v2 x,
        /// `s`: Smooth Streaming.
        Smooth = "s",
        /// `o`: other.
        Other = "o",
    }
}

token_enum! {
    /// Stream type, key `st`.
    StreamType {
        /// `v`: all segments available (VOD).
        Vod = "v",
        /// `l`: segments become available over time (live).
        Live = "l",
        /// `ll`: low-latency live (added in v2).
        LowLatency = "ll" @v2 x,
    }
}

token_enum! {
    /// Player state, key `sta` (v2 only).
    PlayerState {
        /// `s`: starting.
        Starting = "s",
        /// `p`: playing.
        Playing = "p",
        /// `k`: seeking.
        Seeking = "k",
        /// `r`: rebuffering.
        Rebuffering = "r",
        /// `a`: paused.
        Paused = "a",
        /// `w`: waiting (listed by CTA-5004-B without a definition).
        Waiting = "w",
        /// `e`: ended.
        Ended = "e",
        /// `f`: fatal error.
        FatalError = "f",
        /// `q`: quit.
        Quit = "q",
        /// `d`: preloading.
        Preloading = "d",
    }
}

token_enum! {
    /// Event type, key `e` (v2 event mode only).
    EventType {
        /// `abs`: ad break start.
        AdBreakStart = "abs",
        /// `abe`: ad break end.
        AdBreakEnd = "abe",
        /// `as`: ad start.
        AdStart = "as",
        /// `ae`: ad end.
        AdEnd = "ae",
        /// `b`: backgrounded mode changed.
        Backgrounded = "b",
        /// `bc`: bitrate change.
        BitrateChange = "bc",
        /// `c`: content ID change.
        ContentId = "c",
        /// `ce`: custom event (requires `cen`).
        Custom = "ce",
        /// `e`: error (requires `ec`).
        Error = "e",
        /// `h`: hostname change.
        Hostname = "h",
        /// `m`: mute.
        Mute = "m",
        /// `um`: unmute.
        Unmute = "um",
        /// `pc`: player collapse.
        PlayerCollapse = "pc",
        /// `pe`: player expand.
        PlayerExpand = "pe",
        /// `pr`: playback rate change.
        PlaybackRate = "pr",
        /// `ps`: play state change (requires `sta`).
        PlayState = "ps",
        /// `rr`: response received (requires `url`).
        ResponseReceived = "rr",
        /// `sk`: ad skip.
        Skip = "sk",
        /// `t`: time interval.
        TimeInterval = "t",
    }
}

/// One member of a numeric CMCD list (`br`, `bl`, `mtp`, …): a non-negative integer, optionally
/// tagged with the object type it applies to (`5000;v`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sample {
    /// The value, in the key's unit (kbps, ms or a count).
    pub value: u64,
    /// The object type named by a boolean parameter, if any.
    pub object: Option<ObjectType>,
}

impl Sample {
    /// An untagged sample.
    pub const fn new(value: u64) -> Self {
        Self { value, object: None }
    }

    /// A sample tagged with an object type.
    pub const fn tagged(value: u64, object: ObjectType) -> Self {
        Self { value, object: Some(object) }
    }
}

/// The value of a numeric list key: one v1 scalar or the members of a v2 inner list.
///
/// Equality ignores which wire shape carried the samples: `br=3000` and `br=(3000)` decode to
/// the same `Samples`. A single sample is stored inline (no allocation).
#[derive(Debug, Clone)]
pub struct Samples(Repr);

#[derive(Debug, Clone)]
enum Repr {
    One(Sample),
    Many(Vec<Sample>),
}

impl PartialEq for Samples {
    fn eq(&self, other: &Self) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Samples {}

impl std::hash::Hash for Samples {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl Samples {
    /// Wraps samples.
    pub fn new(mut samples: Vec<Sample>) -> Self {
        if samples.len() == 1
            && let Some(only) = samples.pop()
        {
            return Self(Repr::One(only));
        }
        Self(Repr::Many(samples))
    }

    /// A single sample.
    pub const fn single(sample: Sample) -> Self {
        Self(Repr::One(sample))
    }

    /// A single untagged sample.
    pub const fn one(value: u64) -> Self {
        Self::single(Sample::new(value))
    }

    /// All samples in wire order.
    pub fn as_slice(&self) -> &[Sample] {
        match &self.0 {
            Repr::One(s) => std::slice::from_ref(s),
            Repr::Many(v) => v,
        }
    }

    /// Number of samples (0 for `bl=()`).
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.as_slice().is_empty()
    }

    /// The first sample's value — the whole value for v1 scalars.
    pub fn first(&self) -> Option<u64> {
        self.as_slice().first().map(|s| s.value)
    }

    /// The value tagged with `object`; failing that, the only untagged value if there is
    /// exactly one sample (a v1 scalar applies to the request's object).
    pub fn get(&self, object: ObjectType) -> Option<u64> {
        let all = self.as_slice();
        all.iter().find(|s| s.object == Some(object)).map(|s| s.value).or_else(|| match all {
            [only] if only.object.is_none() => Some(only.value),
            _ => None,
        })
    }

    /// Iterates the samples.
    pub fn iter(&self) -> std::slice::Iter<'_, Sample> {
        self.as_slice().iter()
    }
}

impl<'a> IntoIterator for &'a Samples {
    type Item = &'a Sample;
    type IntoIter = std::slice::Iter<'a, Sample>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

/// One next-object request (`nor`): a URL relative to the current request, with an optional
/// byte range (`r` parameter in v2, the `nrr` key in v1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NextObject {
    /// Relative URL, with the v1 inner percent-encoding removed.
    pub url: String,
    /// Byte range `<start>-<end>`, `<start>-` or `-<suffix>`.
    pub range: Option<String>,
}

impl NextObject {
    /// A request without a range.
    pub fn new(url: impl Into<String>) -> Self {
        Self { url: url.into(), range: None }
    }
}

/// The typed value of one registered key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Value {
    /// Boolean keys (`bs`, `su`, `bg`, `nr`). `false` only when sent explicitly (`bs=?0`).
    Boolean(bool),
    /// Non-negative Integer keys (`d`, `dl`, `rtp`, `ts`, `v`, …).
    Integer(u64),
    /// Decimal keys (`pr`); an Integer on the wire is accepted.
    Decimal(Decimal),
    /// String keys (`sid`, `cid`, `url`, …).
    String(String),
    /// `ot`.
    ObjectType(ObjectType),
    /// `sf`.
    StreamingFormat(StreamingFormat),
    /// `st`.
    StreamType(StreamType),
    /// `sta`.
    PlayerState(PlayerState),
    /// `e`.
    EventType(EventType),
    /// Numeric list keys (`br`, `bl`, `mtp`, `tb`, …): v1 scalar or v2 inner list.
    Samples(Samples),
    /// `ec`: an inner list of Strings.
    Strings(Vec<String>),
    /// `nor`: v1 String or v2 inner list of Strings with `r` parameters.
    NextObjects(Vec<NextObject>),
}

/// A CMCD version as signalled by the `v` key (absent means 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Version {
    /// CTA-5004 (2020).
    #[default]
    V1,
    /// CTA-5004-A/-B (`v=2`).
    V2,
}

impl Version {
    /// The number sent in `v`.
    pub const fn number(self) -> u64 {
        match self {
            Self::V1 => 1,
            Self::V2 => 2,
        }
    }

    /// The version for a `v` number; `None` for anything but 1 and 2.
    pub const fn from_number(n: u64) -> Option<Self> {
        match n {
            1 => Some(Self::V1),
            2 => Some(Self::V2),
            _ => None,
        }
    }
}
