//! [`Report`]: one decoded CMCD data set, typed per the key registry, with what was dropped,
//! what was unknown, what was custom, and which leniencies were needed.
//!
//! Typing rules (CTA-5004-B §6, receiver behaviour): unknown keys are ignored but kept in a side
//! map; a registered key whose value has the wrong type is dropped with a [`DropReason`] while
//! the rest is kept; custom keys (`com.example-foo`) are kept with any value type; `v` greater
//! than 2 rejects the whole payload. Numeric list keys accept a v1 scalar or a v2 inner list
//! whatever `v` says, and `pr` accepts an Integer, in both policies.
//!
//! This module does not read transports (see [`super::decode_query`] and friends) and does not
//! check rounding, shards or key order — that is [`super::validate`]'s job.

use std::borrow::Cow;

use super::error::{DropReason, Error};
use super::key::{Key, Kind, is_custom_key};
use super::sf::{self, BareItem, Decimal, Dictionary, Member};
use super::transport::percent_decode_nor;
use super::value::{
    EventType, NextObject, ObjectType, PlayerState, Sample, Samples, StreamType, StreamingFormat,
    Value, Version,
};

/// How forgiving decoding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Policy {
    /// RFC 8941 and CTA-5004 exactly: a value of the wrong Structured Field type is dropped.
    /// The default.
    #[default]
    Strict,
    /// Also accepts what deployed players are known to send, counting each acceptance as a
    /// [`Leniency`]: a double-encoded query payload, a Token where a String is defined
    /// (unquoted `sid`), a String where a Token is defined (`st="v"`), `true`/`false` tokens for
    /// booleans (`su=true`), a Decimal where an Integer is defined (rounded half up), a
    /// one-member inner list for a scalar key, and the `;ot=v` parameter form for object types.
    Lenient,
}

macro_rules! leniencies {
    ($( $(#[$m:meta])* $variant:ident = $code:literal ),+ $(,)?) => {
        /// One kind of non-conforming input that [`Policy::Lenient`] accepted.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Leniency {
            $( $(#[$m])* $variant, )+
        }

        impl Leniency {
            /// Every leniency, in the order [`Leniencies::iter`] reports them.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// Stable machine-readable code.
            pub const fn code(self) -> &'static str {
                match self { $(Self::$variant => $code,)+ }
            }
        }
    };
}

leniencies! {
    /// The query payload was percent-encoded twice (androidx/media 1.2.1); decoded twice.
    /// Code `double_encoded_query`.
    DoubleEncodedQuery = "double_encoded_query",
    /// A Token where a String is defined, e.g. an unquoted `sid`. Code `token_for_string`.
    TokenForString = "token_for_string",
    /// A String where a Token is defined, e.g. `st="v"`. Code `string_for_token`.
    StringForToken = "string_for_token",
    /// The tokens `true`/`false` for a Boolean, e.g. `su=true`. Code `token_boolean`.
    TokenBoolean = "token_boolean",
    /// A Decimal where an Integer is defined, rounded half up. Code `decimal_for_integer`.
    DecimalForInteger = "decimal_for_integer",
    /// A one-member inner list for a scalar key, e.g. `d=(4000)`. Code `list_for_scalar`.
    ListForScalar = "list_for_scalar",
    /// An object type given as `;ot=v` instead of the bare parameter `;v`. Code `ot_parameter`.
    OtParameter = "ot_parameter",
}

const LENIENCY_COUNT: usize = Leniency::ALL.len();

/// Counts of accepted leniencies, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Leniencies([u32; LENIENCY_COUNT]);

impl Leniencies {
    /// How often `leniency` was needed.
    pub fn count(&self, leniency: Leniency) -> u32 {
        self.0.get(leniency as usize).copied().unwrap_or(0)
    }

    /// Total over all reasons.
    pub fn total(&self) -> u32 {
        self.0.iter().sum()
    }

    /// Whether nothing lenient happened.
    pub fn is_empty(&self) -> bool {
        self.total() == 0
    }

    /// The non-zero counts.
    pub fn iter(&self) -> impl Iterator<Item = (Leniency, u32)> + '_ {
        Leniency::ALL.iter().map(|&l| (l, self.count(l))).filter(|&(_, n)| n > 0)
    }

    pub(crate) fn add(&mut self, leniency: Leniency) {
        if let Some(n) = self.0.get_mut(leniency as usize) {
            *n = n.saturating_add(1);
        }
    }
}

/// A key dropped from a report, and why.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Dropped {
    key: Cow<'static, str>,
    reason: DropReason,
}

impl Dropped {
    /// The key's wire name.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Why it was dropped.
    pub const fn reason(&self) -> DropReason {
        self.reason
    }
}

/// One decoded CMCD data set.
///
/// Registered keys are typed ([`Value`]) and read through accessors named after the keys
/// (`report.br()`, `report.sid()`, …) or [`get`](Self::get). Equality compares everything,
/// including dropped keys and leniency counts.
///
/// # Examples
///
/// ```
/// use token_core::cmcd::{self, ObjectType, Policy};
///
/// let report = cmcd::decode_dict(r#"br=(3000;v 128;a),ot=v,sid="s1",su,v=2"#, Policy::Strict)?;
/// assert_eq!(report.br().and_then(|br| br.get(ObjectType::Audio)), Some(128));
/// assert_eq!(report.sid(), Some("s1"));
/// assert_eq!(report.su(), Some(true));
/// # Ok::<(), cmcd::Error>(())
/// ```
#[derive(Clone)]
pub struct Report {
    /// Bit `k` set ⇔ `entries` holds key `k` (`k = Key as u32`): iterating the bits visits the
    /// keys alphabetically.
    present: u64,
    /// Position + 1 in `entries` of each key, 0 when absent.
    slots: [u8; 64],
    /// Values in arrival order (no shifting when headers arrive out of key order).
    entries: Vec<(Key, Value)>,
    custom: Vec<(String, Member<'static>)>,
    unknown: Vec<(String, Member<'static>)>,
    dropped: Vec<Dropped>,
    leniencies: Leniencies,
}

const _: () = assert!(Key::ALL.len() <= 64);

impl Default for Report {
    fn default() -> Self {
        Self {
            present: 0,
            slots: [0; 64],
            entries: Vec::new(),
            custom: Vec::new(),
            unknown: Vec::new(),
            dropped: Vec::new(),
            leniencies: Leniencies::default(),
        }
    }
}

impl PartialEq for Report {
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
            && self.custom == other.custom
            && self.unknown == other.unknown
            && self.dropped == other.dropped
            && self.leniencies == other.leniencies
    }
}

impl Eq for Report {}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Report")
            .field("entries", &self.iter().collect::<Vec<_>>())
            .field("custom", &self.custom)
            .field("unknown", &self.unknown)
            .field("dropped", &self.dropped)
            .field("leniencies", &self.leniencies)
            .finish()
    }
}

/// Iterator over a report's registered keys, alphabetically ([`Report::iter`]).
#[derive(Debug, Clone)]
pub struct Iter<'r> {
    report: &'r Report,
    bits: u64,
}

impl<'r> Iterator for Iter<'r> {
    type Item = (Key, &'r Value);

    fn next(&mut self) -> Option<Self::Item> {
        while self.bits != 0 {
            let k = self.bits.trailing_zeros() as usize;
            self.bits &= self.bits - 1;
            if let Some(&key) = Key::ALL.get(k)
                && let Some(value) = self.report.get(key)
            {
                return Some((key, value));
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.bits.count_ones() as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Iter<'_> {}

fn bit(key: Key) -> u64 {
    1u64 << (key as u32)
}

struct Ctx<'l> {
    policy: Policy,
    leniencies: &'l mut Leniencies,
    /// Values were built in code, not parsed: check they are representable.
    check: bool,
}

impl Ctx<'_> {
    fn lenient(&mut self, leniency: Leniency) -> Result<(), DropReason> {
        if self.policy == Policy::Lenient {
            self.leniencies.add(leniency);
            Ok(())
        } else {
            Err(DropReason::WrongType)
        }
    }
}

impl Report {
    /// An empty report.
    pub fn new() -> Self {
        Self::default()
    }

    /// Types a parsed dictionary. This is what every `decode_*` function does after parsing;
    /// use it directly for dictionaries built in code (values are then also checked to be
    /// representable, dropping those that are not with [`DropReason::InvalidValue`]).
    ///
    /// # Errors
    ///
    /// [`Error::UnsupportedVersion`] when `v` is greater than 2.
    pub fn from_dictionary(dict: &Dictionary<'_>, policy: Policy) -> Result<Self, Error> {
        let mut report = Self::new();
        for (name, member) in dict.iter() {
            report.absorb_member(name, member.clone(), policy, true);
        }
        report.finish()
    }

    /// Adds every member of a parsed dictionary; later members (and later shards) win.
    /// [`finish`](Self::finish) must follow.
    #[cfg(test)]
    pub(crate) fn absorb(&mut self, dict: Dictionary<'_>, policy: Policy) {
        for (name, member) in dict {
            self.absorb_member(&name, member, policy, false);
        }
    }

    /// Applies the whole-payload rule once every member is in: `v` > 2 rejects the data set
    /// (CTA-5004-B §6). Checked at the end because a repeated `v` keeps its last value.
    pub(crate) fn finish(self) -> Result<Self, Error> {
        match self.v() {
            Some(v) if v > 2 => {
                Err(Error::UnsupportedVersion { version: i64::try_from(v).unwrap_or(i64::MAX) })
            }
            _ => Ok(self),
        }
    }

    /// Types one member; a registered key replaces (or un-drops) an earlier value.
    pub(crate) fn absorb_member(
        &mut self,
        name: &str,
        member: Member<'_>,
        policy: Policy,
        check: bool,
    ) {
        let Some(key) = Key::from_name(name) else {
            if check && (!sf::is_valid_key(name) || !member.is_valid()) {
                self.drop_key(Cow::Owned(name.to_owned()), DropReason::InvalidValue);
                return;
            }
            let side = if is_custom_key(name) { &mut self.custom } else { &mut self.unknown };
            let member = member.into_owned();
            match side.binary_search_by(|(k, _)| k.as_str().cmp(name)) {
                Ok(i) => {
                    if let Some(slot) = side.get_mut(i) {
                        slot.1 = member;
                    }
                }
                Err(i) => side.insert(i, (name.to_owned(), member)),
            }
            return;
        };
        if !self.dropped.is_empty() {
            self.dropped.retain(|d| d.key != key.name());
        }
        let mut ctx = Ctx { policy, leniencies: &mut self.leniencies, check };
        match type_value(key, member, &mut ctx) {
            Ok(value) => {
                self.set(key, value);
            }
            Err(reason) => {
                self.remove(key);
                self.drop_key(Cow::Borrowed(key.name()), reason);
            }
        }
    }

    /// Types one member straight from the parser: scalar values and numeric inner lists are
    /// read without building a [`Member`] (the hot path of every decoder).
    pub(crate) fn absorb_cursor(
        &mut self,
        name: &str,
        cursor: &mut sf::Cursor<'_, '_>,
        policy: Policy,
    ) {
        let Some(key) = Key::from_name(name) else {
            if let Some(member) = cursor.member() {
                self.absorb_member(name, member, policy, false);
            }
            return;
        };
        let kind = key.info().kind;
        let mut ctx = Ctx { policy, leniencies: &mut self.leniencies, check: false };
        let typed = if cursor.is_inner_list() {
            if kind == Kind::IntegerList {
                let mut typed = SamplesBuilder::default();
                if !cursor.inner_list(|event| typed.push(event, &mut ctx)) {
                    return;
                }
                typed.finish(&mut ctx)
            } else {
                let Some(member) = cursor.member() else { return };
                type_value(key, member, &mut ctx)
            }
        } else {
            let Some(bare) = cursor.bare() else { return };
            type_bare(key, bare, &mut ctx)
        };
        if !self.dropped.is_empty() {
            self.dropped.retain(|d| d.key != key.name());
        }
        match typed {
            Ok(value) => {
                self.set(key, value);
            }
            Err(reason) => {
                self.remove(key);
                self.drop_key(Cow::Borrowed(key.name()), reason);
            }
        }
    }

    fn drop_key(&mut self, key: Cow<'static, str>, reason: DropReason) {
        self.dropped.push(Dropped { key, reason });
    }

    /// Position of `key` in `entries`.
    fn slot(&self, key: Key) -> Option<usize> {
        usize::from(self.slots.get(key as usize).copied().unwrap_or(0)).checked_sub(1)
    }

    pub(crate) fn set(&mut self, key: Key, value: Value) -> Option<Value> {
        if let Some(i) = self.slot(key) {
            return self.entries.get_mut(i).map(|slot| std::mem::replace(&mut slot.1, value));
        }
        if self.entries.capacity() == 0 {
            self.entries.reserve(24);
        }
        self.entries.push((key, value));
        if let Some(slot) = self.slots.get_mut(key as usize) {
            // At most 51 entries, so the position always fits.
            *slot = u8::try_from(self.entries.len()).unwrap_or(0);
        }
        self.present |= bit(key);
        None
    }

    /// Sets a registered key after checking the value against the registry (type, token
    /// vocabulary, length, representability); returns the previous value.
    ///
    /// # Errors
    ///
    /// The [`DropReason`] the decoder would have given such a value; `v` must be 1 or 2.
    pub fn insert(&mut self, key: Key, value: Value) -> Result<Option<Value>, DropReason> {
        check_value(key, &value)?;
        Ok(self.set(key, value))
    }

    /// Whether registered key `key` holds a value.
    pub(crate) fn contains(&self, key: Key) -> bool {
        self.present & bit(key) != 0
    }

    /// The registered keys present, as bits (`1 << key as u32`).
    pub(crate) fn present_keys(&self) -> u64 {
        self.present
    }

    /// Whether some registered key was dropped.
    pub(crate) fn has_dropped(&self) -> bool {
        !self.dropped.is_empty()
    }

    /// Removes a registered key.
    pub fn remove(&mut self, key: Key) -> Option<Value> {
        let i = self.slot(key)?;
        if i >= self.entries.len() {
            return None;
        }
        let (_, value) = self.entries.swap_remove(i);
        self.present &= !bit(key);
        if let Some(slot) = self.slots.get_mut(key as usize) {
            *slot = 0;
        }
        if let Some(&(moved, _)) = self.entries.get(i)
            && let Some(slot) = self.slots.get_mut(moved as usize)
        {
            *slot = u8::try_from(i + 1).unwrap_or(0);
        }
        Some(value)
    }

    /// The typed value of a registered key.
    pub fn get(&self, key: Key) -> Option<&Value> {
        self.entries.get(self.slot(key)?).map(|(_, v)| v)
    }

    /// Registered keys and values, alphabetically.
    pub fn iter(&self) -> Iter<'_> {
        Iter { report: self, bits: self.present }
    }

    /// Number of registered keys present.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no registered, custom or unknown key is present.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.custom.is_empty() && self.unknown.is_empty()
    }

    /// Custom keys (`com.example-foo`), alphabetically, with their Structured Field values.
    pub fn custom(&self) -> impl ExactSizeIterator<Item = (&str, &Member<'static>)> {
        self.custom.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Unknown keys (neither registered nor valid custom keys), alphabetically. CTA-5004-B §6
    /// says to ignore them; they are kept for analytics.
    pub fn unknown(&self) -> impl ExactSizeIterator<Item = (&str, &Member<'static>)> {
        self.unknown.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// Registered keys dropped because of their value, in wire order.
    pub fn dropped(&self) -> &[Dropped] {
        &self.dropped
    }

    /// What [`Policy::Lenient`] had to accept.
    pub fn leniencies(&self) -> &Leniencies {
        &self.leniencies
    }

    pub(crate) fn leniencies_mut(&mut self) -> &mut Leniencies {
        &mut self.leniencies
    }

    /// The version signalled by `v` (absent or invalid means [`Version::V1`]).
    pub fn version(&self) -> Version {
        self.v().and_then(Version::from_number).unwrap_or_default()
    }
}

macro_rules! accessors {
    ($( $(#[$m:meta])* $name:ident : $key:ident => $ret:ty, $pat:pat => $out:expr; )+) => {
        impl Report {
            $(
                #[doc = concat!("`", stringify!($name), "`: ")]
                $(#[$m])*
                pub fn $name(&self) -> Option<$ret> {
                    match self.get(Key::$key) {
                        Some($pat) => Some($out),
                        _ => None,
                    }
                }
            )+
        }
    };
}

accessors! {
    /// aggregate encoded bitrate, kbps (v2).
    ab: Ab => &Samples, Value::Samples(s) => s;
    /// backgrounded (v2).
    bg: Bg => bool, Value::Boolean(b) => *b;
    /// buffer length, ms (CTA-5004 §3.3; a list per object type in v2).
    bl: Bl => &Samples, Value::Samples(s) => s;
    /// encoded bitrate, kbps (CTA-5004 §3.3; a list per object type in v2).
    br: Br => &Samples, Value::Samples(s) => s;
    /// buffer starvation since the previous report.
    bs: Bs => bool, Value::Boolean(b) => *b;
    /// buffer starvations since session start (v2).
    bsa: Bsa => &Samples, Value::Samples(s) => s;
    /// durations of completed buffer starvations, ms (v2).
    bsd: Bsd => &Samples, Value::Samples(s) => s;
    /// cumulative buffer starvation duration, ms (v2).
    bsda: Bsda => &Samples, Value::Samples(s) => s;
    /// CDN identifier (SVTA library extension).
    cdn: Cdn => &str, Value::String(s) => s.as_str();
    /// custom event name (v2 event mode).
    cen: Cen => &str, Value::String(s) => s.as_str();
    /// content ID.
    cid: Cid => &str, Value::String(s) => s.as_str();
    /// base64 CMSD-Dynamic header (v2 event mode).
    cmsdd: Cmsdd => &str, Value::String(s) => s.as_str();
    /// base64 CMSD-Static header (v2 event mode).
    cmsds: Cmsds => &str, Value::String(s) => s.as_str();
    /// content signature (v2).
    cs: Cs => &str, Value::String(s) => s.as_str();
    /// object duration, ms.
    d: D => u64, Value::Integer(n) => *n;
    /// dropped frames since session start (v2).
    dfa: Dfa => u64, Value::Integer(n) => *n;
    /// deadline, ms.
    dl: Dl => u64, Value::Integer(n) => *n;
    /// event type (v2 event mode).
    e: E => EventType, Value::EventType(t) => *t;
    /// player error codes (v2).
    ec: Ec => &[String], Value::Strings(s) => s.as_slice();
    /// hostname (v2 event mode).
    h: H => &str, Value::String(s) => s.as_str();
    /// lowest aggregated encoded bitrate, kbps (v2).
    lab: Lab => &Samples, Value::Samples(s) => s;
    /// lowest encoded bitrate, kbps (v2).
    lb: Lb => &Samples, Value::Samples(s) => s;
    /// live latency, ms (v2).
    ltc: Ltc => u64, Value::Integer(n) => *n;
    /// media start delay, ms (v2).
    msd: Msd => u64, Value::Integer(n) => *n;
    /// measured throughput, kbps.
    mtp: Mtp => &Samples, Value::Samples(s) => s;
    /// next object request(s); the v1 inner percent-encoding is removed.
    nor: Nor => &[NextObject], Value::NextObjects(n) => n.as_slice();
    /// non-rendered (v2).
    nr: Nr => bool, Value::Boolean(b) => *b;
    /// next range request (v1).
    nrr: Nrr => &str, Value::String(s) => s.as_str();
    /// object type.
    ot: Ot => ObjectType, Value::ObjectType(t) => *t;
    /// playhead bitrate, kbps (v2).
    pb: Pb => &Samples, Value::Samples(s) => s;
    /// playback rate.
    pr: Pr => Decimal, Value::Decimal(d) => *d;
    /// playhead time, ms (v2).
    pt: Pt => u64, Value::Integer(n) => *n;
    /// response code (v2 event mode).
    rc: Rc => u64, Value::Integer(n) => *n;
    /// requested maximum throughput, kbps.
    rtp: Rtp => u64, Value::Integer(n) => *n;
    /// streaming format.
    sf: Sf => StreamingFormat, Value::StreamingFormat(t) => *t;
    /// session ID.
    sid: Sid => &str, Value::String(s) => s.as_str();
    /// base64 SMRT-Data header (v2 event mode).
    smrt: Smrt => &str, Value::String(s) => s.as_str();
    /// sequence number (v2).
    sn: Sn => u64, Value::Integer(n) => *n;
    /// stream type.
    st: St => StreamType, Value::StreamType(t) => *t;
    /// player state (v2).
    sta: Sta => PlayerState, Value::PlayerState(t) => *t;
    /// startup or urgent.
    su: Su => bool, Value::Boolean(b) => *b;
    /// top aggregated encoded bitrate, kbps (v2).
    tab: Tab => &Samples, Value::Samples(s) => s;
    /// top encoded bitrate, kbps.
    tb: Tb => &Samples, Value::Samples(s) => s;
    /// target buffer length, ms (v2).
    tbl: Tbl => &Samples, Value::Samples(s) => s;
    /// top playable bitrate, kbps (v2).
    tpb: Tpb => &Samples, Value::Samples(s) => s;
    /// event timestamp, ms since the epoch (v2 event mode).
    ts: Ts => u64, Value::Integer(n) => *n;
    /// time to first byte, ms (v2 event mode).
    ttfb: Ttfb => u64, Value::Integer(n) => *n;
    /// time to first body byte, ms (v2 event mode).
    ttfbb: Ttfbb => u64, Value::Integer(n) => *n;
    /// time to last byte, ms (v2 event mode).
    ttlb: Ttlb => u64, Value::Integer(n) => *n;
    /// request URL (v2 event mode).
    url: Url => &str, Value::String(s) => s.as_str();
    /// version as sent (absent means 1; see [`Report::version`]).
    v: V => u64, Value::Integer(n) => *n;
}

// ---------------------------------------------------------------------------------------------
// Typing

fn type_value(key: Key, member: Member<'_>, ctx: &mut Ctx<'_>) -> Result<Value, DropReason> {
    match key.info().kind {
        Kind::Integer | Kind::Decimal | Kind::Boolean | Kind::String | Kind::Token => {
            type_bare(key, scalar(member, ctx)?, ctx)
        }
        Kind::IntegerList => samples(member, ctx).map(Value::Samples),
        Kind::StringList | Kind::NextObjects => type_list(key, member, ctx),
    }
}

/// Types the bare item of a scalar key, or of a list key sent as a scalar.
fn type_bare(key: Key, bare: BareItem<'_>, ctx: &mut Ctx<'_>) -> Result<Value, DropReason> {
    let info = key.info();
    match info.kind {
        Kind::Integer => {
            let n = integer(bare, ctx)?;
            if key == Key::V && n < 1 {
                return Err(DropReason::OutOfRange);
            }
            Ok(Value::Integer(n))
        }
        Kind::Decimal => match bare {
            BareItem::Decimal(d) if d.thousandths() >= 0 => Ok(Value::Decimal(d)),
            BareItem::Integer(n) if n >= 0 => {
                Decimal::from_integer(n).map(Value::Decimal).ok_or(DropReason::OutOfRange)
            }
            BareItem::Decimal(_) | BareItem::Integer(_) => Err(DropReason::OutOfRange),
            _ => Err(DropReason::WrongType),
        },
        Kind::Boolean => match bare {
            BareItem::Boolean(b) => Ok(Value::Boolean(b)),
            BareItem::Token(t) if t == "true" || t == "false" => {
                ctx.lenient(Leniency::TokenBoolean)?;
                Ok(Value::Boolean(t == "true"))
            }
            _ => Err(DropReason::WrongType),
        },
        Kind::String => {
            let s = match bare {
                BareItem::String(s) => s,
                BareItem::Token(t) => {
                    ctx.lenient(Leniency::TokenForString)?;
                    t
                }
                _ => return Err(DropReason::WrongType),
            };
            checked_string(s, info.max_len, ctx).map(Value::String)
        }
        Kind::Token => {
            let t = match bare {
                BareItem::Token(t) => t,
                BareItem::String(s) => {
                    if !sf::is_valid_token(&s) {
                        return Err(DropReason::WrongType);
                    }
                    ctx.lenient(Leniency::StringForToken)?;
                    s
                }
                _ => return Err(DropReason::WrongType),
            };
            token_value(key, &t).ok_or(DropReason::InvalidToken)
        }
        Kind::IntegerList => Ok(Value::Samples(Samples::one(integer(bare, ctx)?))),
        Kind::StringList | Kind::NextObjects => {
            type_list(key, Member::Item(sf::Item::new(bare)), ctx)
        }
    }
}

/// Types `ec` and `nor`, which take a String or an inner list of Strings.
fn type_list(key: Key, member: Member<'_>, ctx: &mut Ctx<'_>) -> Result<Value, DropReason> {
    match key.info().kind {
        Kind::StringList => {
            let items = match member {
                Member::InnerList(list) => list.items.into_iter().map(|i| i.bare).collect(),
                Member::Item(item) => vec![item.bare],
            };
            items
                .into_iter()
                .map(|bare| match bare {
                    BareItem::String(s) => checked_string_any(s, ctx),
                    _ => Err(DropReason::WrongType),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Strings)
        }
        Kind::NextObjects => match member {
            Member::Item(sf::Item { bare: BareItem::String(s), .. }) => {
                if ctx.check && !sf::is_valid_string(&s) {
                    return Err(DropReason::InvalidValue);
                }
                Ok(Value::NextObjects(vec![NextObject::new(percent_decode_nor(s))]))
            }
            Member::InnerList(list) => list
                .items
                .into_iter()
                .map(|item| {
                    let BareItem::String(url) = item.bare else {
                        return Err(DropReason::WrongType);
                    };
                    let range = item.params.into_iter().find_map(|(k, v)| match v {
                        BareItem::String(r) if k == "r" => Some(r.into_owned()),
                        _ => None,
                    });
                    if ctx.check && range.as_deref().is_some_and(|r| !sf::is_valid_string(r)) {
                        return Err(DropReason::InvalidValue);
                    }
                    Ok(NextObject { url: checked_string_any(url, ctx)?, range })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Value::NextObjects),
            Member::Item(_) => Err(DropReason::WrongType),
        },
        _ => Err(DropReason::WrongType),
    }
}

/// The bare item of a scalar key; a one-member inner list only under [`Policy::Lenient`].
fn scalar<'a>(member: Member<'a>, ctx: &mut Ctx<'_>) -> Result<BareItem<'a>, DropReason> {
    match member {
        Member::Item(item) => Ok(item.bare),
        Member::InnerList(list) => {
            let mut items = list.items.into_iter();
            match (items.next(), items.next()) {
                (Some(only), None) => {
                    ctx.lenient(Leniency::ListForScalar)?;
                    Ok(only.bare)
                }
                _ => Err(DropReason::WrongType),
            }
        }
    }
}

fn integer(bare: BareItem<'_>, ctx: &mut Ctx<'_>) -> Result<u64, DropReason> {
    match bare {
        BareItem::Integer(n) => {
            u64::try_from(n).map_err(|_| DropReason::OutOfRange).and_then(|n| {
                if ctx.check && n > sf::MAX_INTEGER.unsigned_abs() {
                    Err(DropReason::OutOfRange)
                } else {
                    Ok(n)
                }
            })
        }
        BareItem::Decimal(d) => {
            ctx.lenient(Leniency::DecimalForInteger)?;
            u64::try_from(d.round()).map_err(|_| DropReason::OutOfRange)
        }
        _ => Err(DropReason::WrongType),
    }
}

fn samples(member: Member<'_>, ctx: &mut Ctx<'_>) -> Result<Samples, DropReason> {
    match member {
        Member::Item(item) => Ok(Samples::one(integer(item.bare, ctx)?)),
        Member::InnerList(list) => {
            let single = list.items.len() == 1;
            let mut out = Vec::with_capacity(if single { 0 } else { list.items.len() });
            for item in list.items {
                let value = integer(item.bare, ctx)?;
                let object =
                    object_from_params(item.params.iter().map(|(k, v)| (k.as_ref(), v)), ctx);
                if single {
                    return Ok(Samples::single(Sample { value, object }));
                }
                out.push(Sample { value, object });
            }
            Ok(Samples::new(out))
        }
    }
}

/// Builds [`Samples`] from [`sf::ListEvent`]s with the same rules as [`samples`]: each
/// member's parameters are collected (a repeated key keeps its first position and last value,
/// RFC 8941 §4.2.3.2) and the first object-type flag among them tags the member.
#[derive(Default)]
struct SamplesBuilder<'a> {
    /// The first sample, kept inline: most lists have one member.
    first: Option<Sample>,
    rest: Vec<Sample>,
    /// Parameters of the current member: the first two inline, more spill into a vector.
    params: [Option<(&'a str, BareItem<'a>)>; 2],
    more_params: Vec<(&'a str, BareItem<'a>)>,
    error: Option<DropReason>,
}

impl<'a> SamplesBuilder<'a> {
    fn push(&mut self, event: sf::ListEvent<'a>, ctx: &mut Ctx<'_>) {
        if self.error.is_some() {
            return;
        }
        match event {
            sf::ListEvent::Item(bare) => {
                self.tag_last(ctx);
                match integer(bare, ctx) {
                    Ok(value) => {
                        let sample = Sample { value, object: None };
                        if self.first.is_none() {
                            self.first = Some(sample);
                        } else {
                            self.rest.push(sample);
                        }
                    }
                    Err(reason) => self.error = Some(reason),
                }
            }
            sf::ListEvent::Param(key, value) => {
                let existing = self
                    .params
                    .iter_mut()
                    .flatten()
                    .chain(self.more_params.iter_mut())
                    .find(|(k, _)| *k == key);
                if let Some(slot) = existing {
                    slot.1 = value;
                } else if let Some(free) = self.params.iter_mut().find(|p| p.is_none()) {
                    *free = Some((key, value));
                } else {
                    self.more_params.push((key, value));
                }
            }
        }
    }

    fn tag_last(&mut self, ctx: &mut Ctx<'_>) {
        if self.params.iter().all(Option::is_none) {
            return;
        }
        let params = self.params.iter().flatten().chain(self.more_params.iter());
        let object = object_from_params(params.map(|(k, v)| (*k, v)), ctx);
        let last = if self.rest.is_empty() { self.first.as_mut() } else { self.rest.last_mut() };
        if let Some(last) = last {
            last.object = object;
        }
        self.params = [None, None];
        self.more_params.clear();
    }

    fn finish(mut self, ctx: &mut Ctx<'_>) -> Result<Value, DropReason> {
        self.tag_last(ctx);
        if let Some(reason) = self.error {
            return Err(reason);
        }
        Ok(Value::Samples(match self.first {
            None => Samples::new(Vec::new()),
            Some(only) if self.rest.is_empty() => Samples::single(only),
            Some(first) => {
                let mut all = Vec::with_capacity(self.rest.len() + 1);
                all.push(first);
                all.append(&mut self.rest);
                Samples::new(all)
            }
        }))
    }
}

/// The object type a list member's parameters name: the first flag that is an object-type
/// token (`;v`), or under [`Policy::Lenient`] an `ot` parameter (`;ot=v`).
fn object_from_params<'p, 'a: 'p>(
    params: impl Iterator<Item = (&'p str, &'p BareItem<'a>)>,
    ctx: &mut Ctx<'_>,
) -> Option<ObjectType> {
    for (k, v) in params {
        match v {
            BareItem::Boolean(true) => {
                if let Some(ot) = ObjectType::from_token(k) {
                    return Some(ot);
                }
            }
            BareItem::Token(t) if k == "ot" && ctx.policy == Policy::Lenient => {
                if let Some(ot) = ObjectType::from_token(t) {
                    ctx.leniencies.add(Leniency::OtParameter);
                    return Some(ot);
                }
            }
            _ => {}
        }
    }
    None
}

fn checked_string_any(s: Cow<'_, str>, ctx: &Ctx<'_>) -> Result<String, DropReason> {
    if ctx.check && !sf::is_valid_string(&s) {
        return Err(DropReason::InvalidValue);
    }
    Ok(s.into_owned())
}

fn checked_string(
    s: Cow<'_, str>,
    max: Option<usize>,
    ctx: &Ctx<'_>,
) -> Result<String, DropReason> {
    if s.is_empty() {
        return Err(DropReason::Empty);
    }
    if max.is_some_and(|m| s.len() > m) {
        return Err(DropReason::TooLong);
    }
    checked_string_any(s, ctx)
}

pub(crate) fn token_value(key: Key, t: &str) -> Option<Value> {
    Some(match key {
        Key::Ot => Value::ObjectType(ObjectType::from_token(t)?),
        Key::Sf => Value::StreamingFormat(StreamingFormat::from_token(t)?),
        Key::St => Value::StreamType(StreamType::from_token(t)?),
        Key::Sta => Value::PlayerState(PlayerState::from_token(t)?),
        Key::E => Value::EventType(EventType::from_token(t)?),
        _ => return None,
    })
}

/// Checks a value built in code against the registry, as the decoder would.
fn check_value(key: Key, value: &Value) -> Result<(), DropReason> {
    let info = key.info();
    let max_int = sf::MAX_INTEGER.unsigned_abs();
    let string_ok =
        |s: &str| if sf::is_valid_string(s) { Ok(()) } else { Err(DropReason::InvalidValue) };
    match (info.kind, value) {
        (Kind::Integer, Value::Integer(n)) => {
            if *n > max_int || (key == Key::V && !(1..=2).contains(n)) {
                return Err(DropReason::OutOfRange);
            }
        }
        (Kind::Decimal, Value::Decimal(d)) => {
            if d.thousandths() < 0 {
                return Err(DropReason::OutOfRange);
            }
        }
        (Kind::Boolean, Value::Boolean(_)) => {}
        (Kind::String, Value::String(s)) => {
            if s.is_empty() {
                return Err(DropReason::Empty);
            }
            if info.max_len.is_some_and(|m| s.len() > m) {
                return Err(DropReason::TooLong);
            }
            string_ok(s)?;
        }
        (Kind::Token, v) => {
            let ok = matches!(
                (key, v),
                (Key::Ot, Value::ObjectType(_))
                    | (Key::Sf, Value::StreamingFormat(_))
                    | (Key::St, Value::StreamType(_))
                    | (Key::Sta, Value::PlayerState(_))
                    | (Key::E, Value::EventType(_))
            );
            if !ok {
                return Err(DropReason::WrongType);
            }
        }
        (Kind::IntegerList, Value::Samples(s)) => {
            if s.iter().any(|x| x.value > max_int) {
                return Err(DropReason::OutOfRange);
            }
        }
        (Kind::StringList, Value::Strings(list)) => list.iter().try_for_each(|s| string_ok(s))?,
        (Kind::NextObjects, Value::NextObjects(list)) => {
            for n in list {
                string_ok(&n.url)?;
                if let Some(r) = &n.range {
                    string_ok(r)?;
                }
            }
        }
        _ => return Err(DropReason::WrongType),
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn decode(s: &str, policy: Policy) -> Report {
        let mut r = Report::new();
        r.absorb(sf::parse_dictionary(s).unwrap(), policy);
        r
    }

    #[test]
    fn lookup_by_popcount_stays_sorted() {
        let mut r = Report::new();
        r.insert(Key::V, Value::Integer(2)).unwrap();
        r.insert(Key::Ab, Value::Samples(Samples::one(1))).unwrap();
        r.insert(Key::Sid, Value::String("x".into())).unwrap();
        assert_eq!(r.iter().map(|(k, _)| k).collect::<Vec<_>>(), [Key::Ab, Key::Sid, Key::V]);
        assert_eq!(r.sid(), Some("x"));
        assert_eq!(r.remove(Key::Sid), Some(Value::String("x".into())));
        assert_eq!(r.v(), Some(2));
        assert_eq!(r.sid(), None);
        assert_eq!(r.insert(Key::V, Value::Integer(3)), Err(DropReason::OutOfRange));
        assert_eq!(r.insert(Key::Sid, Value::Integer(3)), Err(DropReason::WrongType));
    }

    #[test]
    fn later_invalid_duplicate_drops_the_key() {
        let mut r = decode("br=100", Policy::Strict);
        r.absorb(sf::parse_dictionary("br=\"x\"").unwrap(), Policy::Strict);
        assert_eq!(r.br(), None);
        assert_eq!(r.dropped().len(), 1);
        r.absorb(sf::parse_dictionary("br=200").unwrap(), Policy::Strict);
        assert_eq!(r.br().and_then(Samples::first), Some(200));
        assert!(r.dropped().is_empty());
    }

    /// An empty v1 `nrr` is dropped (a String key must not be empty), while a v2 `nor` keeps
    /// its members' wire shape, an empty URL (conformance vector 23, `nor=("")`) or an empty
    /// `r` parameter included. The v1 encoder writes no `nrr` for an empty v2 range.
    #[test]
    fn empty_ranges_keep_the_shape_of_their_version() {
        let r = decode(r#"nor=("a";r="" "";r="0-99"),v=2"#, Policy::Strict);
        let nor = r.nor().unwrap();
        assert_eq!(nor.len(), 2);
        assert_eq!((nor[0].url.as_str(), nor[0].range.as_deref()), ("a", Some("")));
        assert_eq!((nor[1].url.as_str(), nor[1].range.as_deref()), ("", Some("0-99")));
        assert!(r.dropped().is_empty());
        let r = decode(r#"nor="a",nrr="""#, Policy::Strict);
        assert_eq!(r.nor().map(|n| n[0].url.as_str()), Some("a"));
        assert_eq!(r.get(Key::Nrr), None);
        assert_eq!(r.dropped()[0].reason(), DropReason::Empty);
    }

    #[test]
    fn lenient_ot_parameter_and_decimal() {
        let r = decode("br=(3000;ot=v 6000),d=1.5", Policy::Lenient);
        assert_eq!(
            r.br().unwrap().as_slice(),
            [Sample::tagged(3000, ObjectType::Video), Sample::new(6000)]
        );
        assert_eq!(r.d(), Some(2));
        assert_eq!(r.leniencies().count(Leniency::OtParameter), 1);
        assert_eq!(r.leniencies().count(Leniency::DecimalForInteger), 1);
        let r = decode("br=(3000;ot=v 6000),d=1.5", Policy::Strict);
        assert_eq!(r.br().unwrap().as_slice(), [Sample::new(3000), Sample::new(6000)]);
        assert_eq!(r.dropped()[0].reason(), DropReason::WrongType);
    }
}
