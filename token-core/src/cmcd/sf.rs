//! RFC 8941 Structured Field Values: the Dictionary parser and serializer under CMCD.
//!
//! CMCD payloads are RFC 8941 Dictionaries (CTA-5004-B §4.1). This module parses one Dictionary
//! exactly as RFC 8941 §4.2 prescribes and serializes it back as §4.1 prescribes. Values borrow
//! from the input where they can ([`Cow::Borrowed`]); only strings with escapes allocate.
//!
//! It does **not**: parse Lists or Items as top-level fields (CMCD never uses them), accept the
//! RFC 9651 additions (Date `@…`, Display String `%"…"` — both are syntax errors here, as RFC 8941
//! requires), decode Byte Sequences (their base64 text is kept as is, after checking its
//! alphabet), or know anything about CMCD keys (that is [`super::Report`]'s job).

use std::borrow::Cow;
use std::fmt;

/// Largest magnitude of an RFC 8941 Integer (§3.3.1: at most 15 decimal digits).
pub const MAX_INTEGER: i64 = 999_999_999_999_999;

/// An RFC 8941 Decimal (§3.3.2), stored exactly as a count of thousandths.
///
/// At most 12 integer digits and 3 fractional digits, so every value fits an `i64` exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Decimal(i64);

impl Decimal {
    /// The largest Decimal, `999999999999.999`.
    pub const MAX: Self = Self(999_999_999_999_999);
    /// The smallest Decimal, `-999999999999.999`.
    pub const MIN: Self = Self(-999_999_999_999_999);
    /// `1.0`, the default playback rate (`pr`).
    pub const ONE: Self = Self(1000);

    /// Builds a Decimal from thousandths (`1080` is `1.08`); `None` when out of range.
    pub const fn from_thousandths(thousandths: i64) -> Option<Self> {
        if thousandths > Self::MAX.0 || thousandths < Self::MIN.0 {
            None
        } else {
            Some(Self(thousandths))
        }
    }

    /// Builds a Decimal equal to an integer; `None` beyond 12 integer digits.
    pub const fn from_integer(n: i64) -> Option<Self> {
        if n > 999_999_999_999 || n < -999_999_999_999 { None } else { Some(Self(n * 1000)) }
    }

    /// The value in thousandths.
    pub const fn thousandths(self) -> i64 {
        self.0
    }

    /// The value as a float (exact for every value a CMCD player sends).
    #[allow(clippy::cast_precision_loss)] // |thousandths| < 2^50, exact in f64
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / 1000.0
    }

    /// Rounds half away from zero to an integer.
    pub const fn round(self) -> i64 {
        if self.0 >= 0 { (self.0 + 500) / 1000 } else { (self.0 - 500) / 1000 }
    }
}

/// Serializes as RFC 8941 §4.1.5 does: shortest fraction, at least one fractional digit.
impl fmt::Display for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let (int, mut frac) = (abs / 1000, abs % 1000);
        let mut digits = 3;
        while digits > 1 && frac % 10 == 0 {
            frac /= 10;
            digits -= 1;
        }
        write!(f, "{sign}{int}.{frac:0digits$}")
    }
}

/// An RFC 8941 Bare Item (§3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BareItem<'a> {
    /// Integer (§3.3.1), within ±[`MAX_INTEGER`].
    Integer(i64),
    /// Decimal (§3.3.2).
    Decimal(Decimal),
    /// String (§3.3.3), unescaped: printable ASCII only.
    String(Cow<'a, str>),
    /// Token (§3.3.4).
    Token(Cow<'a, str>),
    /// Byte Sequence (§3.3.5), kept as its base64 text (without the colons).
    ByteSequence(Cow<'a, str>),
    /// Boolean (§3.3.6).
    Boolean(bool),
}

/// Parameters (§3.1.2): ordered, unique keys; a bare key means Boolean `true`.
pub type Parameters<'a> = Vec<(Cow<'a, str>, BareItem<'a>)>;

/// An Item (§3.3): a bare item with parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item<'a> {
    /// The value.
    pub bare: BareItem<'a>,
    /// Its parameters, in order.
    pub params: Parameters<'a>,
}

/// An Inner List (§3.1.1): items in parentheses, with parameters on the list itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InnerList<'a> {
    /// The members, in order.
    pub items: Vec<Item<'a>>,
    /// Parameters of the whole inner list.
    pub params: Parameters<'a>,
}

/// A Dictionary member value (§3.2): an Item or an Inner List.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Member<'a> {
    /// A single item (a bare key is `Item { bare: Boolean(true), .. }`).
    Item(Item<'a>),
    /// An inner list.
    InnerList(InnerList<'a>),
}

impl<'a> Item<'a> {
    /// An item without parameters.
    pub const fn new(bare: BareItem<'a>) -> Self {
        Self { bare, params: Vec::new() }
    }

    /// Detaches from the input.
    pub fn into_owned(self) -> Item<'static> {
        Item { bare: self.bare.into_owned(), params: params_into_owned(self.params) }
    }
}

impl BareItem<'_> {
    /// Detaches from the input.
    pub fn into_owned(self) -> BareItem<'static> {
        match self {
            Self::Integer(n) => BareItem::Integer(n),
            Self::Decimal(d) => BareItem::Decimal(d),
            Self::String(s) => BareItem::String(Cow::Owned(s.into_owned())),
            Self::Token(s) => BareItem::Token(Cow::Owned(s.into_owned())),
            Self::ByteSequence(s) => BareItem::ByteSequence(Cow::Owned(s.into_owned())),
            Self::Boolean(b) => BareItem::Boolean(b),
        }
    }
}

impl Member<'_> {
    /// Detaches from the input.
    pub fn into_owned(self) -> Member<'static> {
        match self {
            Self::Item(item) => Member::Item(item.into_owned()),
            Self::InnerList(list) => Member::InnerList(InnerList {
                items: list.items.into_iter().map(Item::into_owned).collect(),
                params: params_into_owned(list.params),
            }),
        }
    }

    /// Whether [`serialize_member`] would succeed: every key, string, token and number is
    /// within RFC 8941's grammar. Always true for parsed members.
    pub fn is_valid(&self) -> bool {
        let mut scratch = String::new();
        write_member(&mut scratch, self).is_ok()
    }
}

fn params_into_owned(params: Parameters<'_>) -> Parameters<'static> {
    params.into_iter().map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned())).collect()
}

/// A parsed Dictionary (§3.2): unique keys in first-seen order; a repeated key keeps its first
/// position and its last value (§4.2.2).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Dictionary<'a> {
    members: Vec<(Cow<'a, str>, Member<'a>)>,
}

impl<'a> Dictionary<'a> {
    /// An empty dictionary.
    pub const fn new() -> Self {
        Self { members: Vec::new() }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The member with this key.
    pub fn get(&self, key: &str) -> Option<&Member<'a>> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Members in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Member<'a>)> {
        self.members.iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Sets a member: a new key goes last, an existing key keeps its position (§4.2.2).
    /// The key is not validated here; [`serialize_dictionary`] does that.
    pub fn insert(&mut self, key: impl Into<Cow<'a, str>>, value: Member<'a>) {
        let key = key.into();
        if let Some(slot) = self.members.iter_mut().find(|(k, _)| *k == key) {
            slot.1 = value;
        } else {
            self.members.push((key, value));
        }
    }

    /// Detaches from the input.
    pub fn into_owned(self) -> Dictionary<'static> {
        Dictionary {
            members: self
                .members
                .into_iter()
                .map(|(k, v)| (Cow::Owned(k.into_owned()), v.into_owned()))
                .collect(),
        }
    }
}

impl<'a> IntoIterator for Dictionary<'a> {
    type Item = (Cow<'a, str>, Member<'a>);
    type IntoIter = std::vec::IntoIter<(Cow<'a, str>, Member<'a>)>;
    fn into_iter(self) -> Self::IntoIter {
        self.members.into_iter()
    }
}

/// Why a Structured Field failed to parse or serialize. Each kind has a stable [`code`](Self::code).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A key does not start with a lowercase letter or `*`, or holds a forbidden character
    /// (§3.1.2, §4.2.3.3). Code `invalid_key`.
    InvalidKey,
    /// A dictionary member is followed by something other than `,` (§4.2.2). Code `expected_comma`.
    ExpectedComma,
    /// The input ends right after a `,` (§4.2.2). Code `trailing_comma`.
    TrailingComma,
    /// A bare item starts with a character no item type starts with (§4.2.3.1). Code `invalid_item`.
    InvalidItem,
    /// An Integer or Decimal is malformed or too long (§4.2.4). Code `invalid_number`.
    InvalidNumber,
    /// A String holds a character outside printable ASCII (§4.2.5). Code `invalid_string`.
    InvalidString,
    /// A String holds a backslash not followed by `"` or `\` (§4.2.5). Code `invalid_escape`.
    InvalidEscape,
    /// A String has no closing quote (§4.2.5). Code `unterminated_string`.
    UnterminatedString,
    /// A Token holds a forbidden character (§4.2.6). Code `invalid_token`.
    InvalidToken,
    /// A Byte Sequence holds a non-base64 character or has no closing colon (§4.2.7).
    /// Code `invalid_byte_sequence`.
    InvalidByteSequence,
    /// A Boolean is not `?0` or `?1` (§4.2.8). Code `invalid_boolean`.
    InvalidBoolean,
    /// An Inner List has no closing parenthesis, or a member is not followed by a space or `)`
    /// (§4.2.1.2). Code `invalid_inner_list`.
    InvalidInnerList,
}

impl ErrorKind {
    /// Stable machine-readable code (API: changing one is a breaking change).
    pub const fn code(self) -> &'static str {
        match self {
            Self::InvalidKey => "invalid_key",
            Self::ExpectedComma => "expected_comma",
            Self::TrailingComma => "trailing_comma",
            Self::InvalidItem => "invalid_item",
            Self::InvalidNumber => "invalid_number",
            Self::InvalidString => "invalid_string",
            Self::InvalidEscape => "invalid_escape",
            Self::UnterminatedString => "unterminated_string",
            Self::InvalidToken => "invalid_token",
            Self::InvalidByteSequence => "invalid_byte_sequence",
            Self::InvalidBoolean => "invalid_boolean",
            Self::InvalidInnerList => "invalid_inner_list",
        }
    }

    const fn message(self) -> &'static str {
        match self {
            Self::InvalidKey => "invalid key",
            Self::ExpectedComma => "expected a comma between members",
            Self::TrailingComma => "trailing comma",
            Self::InvalidItem => "invalid item",
            Self::InvalidNumber => "invalid number",
            Self::InvalidString => "invalid character in string",
            Self::InvalidEscape => "invalid escape in string",
            Self::UnterminatedString => "unterminated string",
            Self::InvalidToken => "invalid token",
            Self::InvalidByteSequence => "invalid byte sequence",
            Self::InvalidBoolean => "invalid boolean",
            Self::InvalidInnerList => "invalid inner list",
        }
    }
}

/// A Structured Field parse (or serialize) failure and the byte offset where it was found.
///
/// `Display` renders "invalid key at byte 3"; the alternate form (`{:#}`) omits the offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Error {
    kind: ErrorKind,
    offset: usize,
}

impl Error {
    /// A new error.
    pub const fn new(kind: ErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }

    /// What went wrong.
    pub const fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Byte offset into the parsed input (for serialization: into the output built so far).
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// Stable code of the kind, see [`ErrorKind::code`].
    pub const fn code(&self) -> &'static str {
        self.kind.code()
    }

    pub(crate) const fn shifted(self, by: usize) -> Self {
        Self { kind: self.kind, offset: self.offset.saturating_add(by) }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.write_str(self.kind.message())
        } else {
            write!(f, "{} at byte {}", self.kind.message(), self.offset)
        }
    }
}

impl std::error::Error for Error {}

/// Parses an RFC 8941 Dictionary (§4.2.2 with §4.2's leading/trailing SP rule).
///
/// An empty (or all-space) input is an empty dictionary.
///
/// # Errors
///
/// The first syntax error, with its byte offset; RFC 8941 makes the whole field invalid.
///
/// # Examples
///
/// ```
/// use token_core::cmcd::sf::{self, BareItem, Member};
///
/// let dict = sf::parse_dictionary(r#"br=(3000;v),sid="abc",su"#)?;
/// assert_eq!(dict.len(), 3);
/// assert!(matches!(dict.get("su"), Some(Member::Item(i)) if i.bare == BareItem::Boolean(true)));
/// let err = sf::parse_dictionary("Sid=1").unwrap_err();
/// assert_eq!((err.code(), err.offset()), ("invalid_key", 0));
/// # Ok::<(), sf::Error>(())
/// ```
pub fn parse_dictionary(input: &str) -> Result<Dictionary<'_>, Error> {
    parse_dictionary_bytes(input.as_bytes())
}

/// [`parse_dictionary`] over bytes (as produced by percent-decoding); non-ASCII is an error.
///
/// # Errors
///
/// As [`parse_dictionary`].
pub fn parse_dictionary_bytes(input: &[u8]) -> Result<Dictionary<'_>, Error> {
    let mut members = Vec::new();
    let mut seen: u64 = 0;
    parse_members(input, |key, member| {
        let bit = 1u64 << (key_hash(key) & 63);
        if seen & bit != 0
            && let Some(slot) =
                members.iter_mut().find(|(k, _): &&mut (Cow<'_, str>, Member<'_>)| *k == key)
        {
            slot.1 = member;
            return;
        }
        seen |= bit;
        members.push((Cow::Borrowed(key), member));
    })?;
    Ok(Dictionary { members })
}

/// Cheap key fingerprint for duplicate detection (collisions only cost a scan).
fn key_hash(key: &str) -> u32 {
    let b = key.as_bytes();
    let first = b.first().copied().unwrap_or(0);
    let last = b.last().copied().unwrap_or(0);
    u32::from(first)
        .wrapping_mul(31)
        .wrapping_add(u32::from(last))
        .wrapping_mul(7)
        .wrapping_add(b.len() as u32)
}

/// Parses a dictionary, calling `sink` for every member in wire order, duplicates included.
pub(crate) fn parse_members<'a>(
    input: &'a [u8],
    mut sink: impl FnMut(&'a str, Member<'a>),
) -> Result<(), Error> {
    parse_members_with(input, |key, cursor| {
        if let Some(member) = cursor.member() {
            sink(key, member);
        }
    })
}

/// One event of [`Cursor::inner_list`]: a member of the inner list, or a parameter of the
/// member before it.
pub(crate) enum ListEvent<'a> {
    /// The next member.
    Item(BareItem<'a>),
    /// A parameter of the last member.
    Param(&'a str, BareItem<'a>),
}

/// A dictionary member's value, not parsed yet: the sink of [`parse_members_with`] chooses how
/// to read it — as a [`Member`], or without building one (no vectors for parameters and inner
/// lists). A value the sink leaves alone is parsed and discarded.
pub(crate) struct Cursor<'p, 'a> {
    p: &'p mut Parser<'a>,
    bare_key: bool,
    consumed: bool,
    error: Option<Error>,
}

impl<'a> Cursor<'_, 'a> {
    fn keep<T>(&mut self, r: Result<T, Error>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.error.get_or_insert(e);
                None
            }
        }
    }

    /// Whether the value is an inner list.
    pub(crate) fn is_inner_list(&self) -> bool {
        !self.bare_key && self.p.peek() == Some(b'(')
    }

    /// The value as a [`Member`]; `None` after a syntax error (reported by the parse).
    pub(crate) fn member(&mut self) -> Option<Member<'a>> {
        if std::mem::replace(&mut self.consumed, true) {
            return None;
        }
        let r = if self.bare_key {
            self.p
                .parse_params()
                .map(|params| Member::Item(Item { bare: BareItem::Boolean(true), params }))
        } else {
            self.p.parse_item_or_inner_list()
        };
        self.keep(r)
    }

    /// The bare item of a value that is not an inner list, its parameters checked and dropped.
    pub(crate) fn bare(&mut self) -> Option<BareItem<'a>> {
        if self.is_inner_list() {
            return self.member().and(None);
        }
        if std::mem::replace(&mut self.consumed, true) {
            return None;
        }
        let r = if self.bare_key { Ok(BareItem::Boolean(true)) } else { self.p.parse_bare_item() };
        let bare = self.keep(r)?;
        let r = self.p.skip_params();
        self.keep(r)?;
        Some(bare)
    }

    /// Walks an inner list value (see [`is_inner_list`](Self::is_inner_list)) member by
    /// member; the list's own parameters are checked and dropped. False after a syntax error.
    pub(crate) fn inner_list(&mut self, mut visit: impl FnMut(ListEvent<'a>)) -> bool {
        if !self.is_inner_list() || std::mem::replace(&mut self.consumed, true) {
            return false;
        }
        let r = self.p.visit_inner_list(&mut visit);
        self.keep(r).is_some()
    }

    fn finish(mut self) -> Result<(), Error> {
        if !self.consumed {
            let _ = self.member();
        }
        self.error.map_or(Ok(()), Err)
    }
}

/// Parses a dictionary, handing every member's value to `sink` as a [`Cursor`], in wire order,
/// duplicates included.
pub(crate) fn parse_members_with<'a>(
    input: &'a [u8],
    mut sink: impl FnMut(&'a str, &mut Cursor<'_, 'a>),
) -> Result<(), Error> {
    let mut p = Parser { input, text: std::str::from_utf8(input).ok(), pos: 0 };
    p.skip_sp();
    // Trailing SP is discarded before parsing (RFC 8941 §4.2).
    let mut end = input.len();
    while end > p.pos && input.get(end - 1) == Some(&b' ') {
        end -= 1;
    }
    p.input = input.get(..end).unwrap_or_default();
    if p.at_end() {
        return Ok(());
    }
    loop {
        let key = p.parse_key()?;
        let bare_key = p.peek() != Some(b'=');
        if !bare_key {
            p.pos += 1;
        }
        let mut cursor = Cursor { p: &mut p, bare_key, consumed: false, error: None };
        sink(key, &mut cursor);
        cursor.finish()?;
        p.skip_ows();
        if p.at_end() {
            return Ok(());
        }
        if p.peek() != Some(b',') {
            return Err(Error::new(ErrorKind::ExpectedComma, p.pos));
        }
        p.pos += 1;
        p.skip_ows();
        if p.at_end() {
            return Err(Error::new(ErrorKind::TrailingComma, p.pos));
        }
    }
}

const CLASS_KEY: u8 = 1;
const CLASS_TOKEN: u8 = 2;
/// Printable ASCII other than `"` and `\`: a string byte that needs no attention.
const CLASS_STRING: u8 = 4;

/// Character classes of every byte, so scanning loops test one table entry per byte.
// Evaluated at compile time: an out-of-bounds index would fail the build, not panic.
#[allow(clippy::indexing_slicing)]
static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        let mut class = 0;
        if is_key_char(b) {
            class |= CLASS_KEY;
        }
        if is_token_char(b) {
            class |= CLASS_TOKEN;
        }
        if b >= 0x20 && b <= 0x7e && b != b'"' && b != b'\\' {
            class |= CLASS_STRING;
        }
        table[i] = class;
        i += 1;
    }
    table
};

fn class(b: u8) -> u8 {
    CLASS.get(usize::from(b)).copied().unwrap_or(0)
}

/// Whether `b` may stand unescaped in a String: printable ASCII other than `"` and `\`.
pub(crate) fn is_plain_string_byte(b: u8) -> bool {
    class(b) & CLASS_STRING != 0
}

struct Parser<'a> {
    input: &'a [u8],
    /// `input` as text when it is valid UTF-8 (checked once), so slices need no re-validation.
    text: Option<&'a str>,
    pos: usize,
}

const fn is_lcalpha(b: u8) -> bool {
    b.is_ascii_lowercase()
}

const fn is_key_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'.' | b'*')
}

/// `tchar` (RFC 9110 §5.6.2) plus `:` and `/`, the characters a Token may continue with.
const fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
                | b':'
                | b'/'
        )
}

const fn is_base64_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')
}

/// Whether `key` matches RFC 8941's key grammar (§3.1.2).
pub fn is_valid_key(key: &str) -> bool {
    let b = key.as_bytes();
    matches!(b.first(), Some(&c) if is_lcalpha(c) || c == b'*') && b.iter().all(|&c| is_key_char(c))
}

/// Whether `token` matches RFC 8941's Token grammar (§3.3.4).
pub fn is_valid_token(token: &str) -> bool {
    let b = token.as_bytes();
    matches!(b.first(), Some(&c) if c.is_ascii_alphabetic() || c == b'*')
        && b.iter().all(|&c| is_token_char(c))
}

/// Whether `s` can be an RFC 8941 String (§3.3.3): printable ASCII only.
pub fn is_valid_string(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

fn ascii_str(bytes: &[u8], at: usize, kind: ErrorKind) -> Result<&str, Error> {
    std::str::from_utf8(bytes).map_err(|_| Error::new(kind, at))
}

impl<'a> Parser<'a> {
    #[inline]
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    #[inline]
    fn at_end(&self) -> bool {
        self.pos >= self.input.len()
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    #[inline]
    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// Advances over bytes of `mask`'s class.
    #[inline]
    fn skip_class(&mut self, mask: u8) {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        self.pos += rest.iter().position(|&b| class(b) & mask == 0).unwrap_or(rest.len());
    }

    fn slice(&self, from: usize) -> &'a [u8] {
        self.input.get(from..self.pos).unwrap_or_default()
    }

    /// The text from `from` to the current position; every caller has checked it is ASCII.
    #[inline]
    fn str_from(&self, from: usize, kind: ErrorKind) -> Result<&'a str, Error> {
        match self.text.and_then(|t| t.get(from..self.pos)) {
            Some(s) => Ok(s),
            None => ascii_str(self.slice(from), from, kind),
        }
    }

    #[inline]
    fn parse_key(&mut self) -> Result<&'a str, Error> {
        let start = self.pos;
        match self.peek() {
            Some(c) if is_lcalpha(c) || c == b'*' => self.pos += 1,
            _ => return Err(Error::new(ErrorKind::InvalidKey, start)),
        }
        self.skip_class(CLASS_KEY);
        self.str_from(start, ErrorKind::InvalidKey)
    }

    #[inline]
    fn parse_item_or_inner_list(&mut self) -> Result<Member<'a>, Error> {
        if self.peek() == Some(b'(') {
            self.parse_inner_list().map(Member::InnerList)
        } else {
            self.parse_item().map(Member::Item)
        }
    }

    fn parse_inner_list(&mut self) -> Result<InnerList<'a>, Error> {
        self.pos += 1; // '('
        let mut items = Vec::new();
        loop {
            self.skip_sp();
            match self.peek() {
                None => return Err(Error::new(ErrorKind::InvalidInnerList, self.pos)),
                Some(b')') => {
                    self.pos += 1;
                    let params = self.parse_params()?;
                    return Ok(InnerList { items, params });
                }
                Some(_) => {
                    items.push(self.parse_item()?);
                    match self.peek() {
                        Some(b' ' | b')') => {}
                        _ => return Err(Error::new(ErrorKind::InvalidInnerList, self.pos)),
                    }
                }
            }
        }
    }

    /// [`parse_inner_list`](Self::parse_inner_list) without building vectors.
    fn visit_inner_list(&mut self, visit: &mut impl FnMut(ListEvent<'a>)) -> Result<(), Error> {
        self.pos += 1; // '('
        loop {
            self.skip_sp();
            match self.peek() {
                None => return Err(Error::new(ErrorKind::InvalidInnerList, self.pos)),
                Some(b')') => {
                    self.pos += 1;
                    return self.skip_params();
                }
                Some(_) => {
                    visit(ListEvent::Item(self.parse_bare_item()?));
                    while self.peek() == Some(b';') {
                        self.pos += 1;
                        self.skip_sp();
                        let key = self.parse_key()?;
                        let value = if self.peek() == Some(b'=') {
                            self.pos += 1;
                            self.parse_bare_item()?
                        } else {
                            BareItem::Boolean(true)
                        };
                        visit(ListEvent::Param(key, value));
                    }
                    match self.peek() {
                        Some(b' ' | b')') => {}
                        _ => return Err(Error::new(ErrorKind::InvalidInnerList, self.pos)),
                    }
                }
            }
        }
    }

    /// [`parse_params`](Self::parse_params) for parameters nobody reads: syntax only.
    #[inline]
    fn skip_params(&mut self) -> Result<(), Error> {
        if self.peek() != Some(b';') {
            return Ok(());
        }
        self.skip_params_slow()
    }

    fn skip_params_slow(&mut self) -> Result<(), Error> {
        while self.peek() == Some(b';') {
            self.pos += 1;
            self.skip_sp();
            self.parse_key()?;
            if self.peek() == Some(b'=') {
                self.pos += 1;
                self.parse_bare_item()?;
            }
        }
        Ok(())
    }

    #[inline]
    fn parse_item(&mut self) -> Result<Item<'a>, Error> {
        let bare = self.parse_bare_item()?;
        let params = self.parse_params()?;
        Ok(Item { bare, params })
    }

    #[inline]
    fn parse_params(&mut self) -> Result<Parameters<'a>, Error> {
        let mut params: Parameters<'a> = Vec::new();
        while self.peek() == Some(b';') {
            self.pos += 1;
            self.skip_sp();
            let key = self.parse_key()?;
            let value = if self.peek() == Some(b'=') {
                self.pos += 1;
                self.parse_bare_item()?
            } else {
                BareItem::Boolean(true)
            };
            if let Some(slot) = params.iter_mut().find(|(k, _)| *k == key) {
                slot.1 = value;
            } else {
                params.push((Cow::Borrowed(key), value));
            }
        }
        Ok(params)
    }

    #[inline]
    fn parse_bare_item(&mut self) -> Result<BareItem<'a>, Error> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => self.parse_number(),
            Some(b'"') => self.parse_string(),
            Some(c) if c.is_ascii_alphabetic() || c == b'*' => self.parse_token(),
            Some(b':') => self.parse_byte_sequence(),
            Some(b'?') => self.parse_boolean(),
            _ => Err(Error::new(ErrorKind::InvalidItem, self.pos)),
        }
    }

    #[inline]
    /// The run of ASCII digits at the current position.
    fn digits_ahead(&self) -> &'a [u8] {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        rest.get(..rest.iter().position(|b| !b.is_ascii_digit()).unwrap_or(rest.len()))
            .unwrap_or_default()
    }

    fn parse_number(&mut self) -> Result<BareItem<'a>, Error> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let sign = if negative { -1 } else { 1 };
        let int_digits = self.digits_ahead();
        if int_digits.is_empty() {
            return Err(Error::new(ErrorKind::InvalidNumber, self.pos));
        }
        if int_digits.len() > 15 {
            return Err(Error::new(ErrorKind::InvalidNumber, self.pos + 15));
        }
        // At most 15 digits: no overflow.
        let int = int_digits.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
        self.pos += int_digits.len();
        if self.peek() != Some(b'.') {
            return Ok(BareItem::Integer(sign * int));
        }
        if int_digits.len() > 12 {
            return Err(Error::new(ErrorKind::InvalidNumber, self.pos));
        }
        self.pos += 1;
        let frac_digits = self.digits_ahead();
        match frac_digits.len() {
            // A trailing '.' (§4.2.4 step 9.1).
            0 => return Err(Error::new(ErrorKind::InvalidNumber, start)),
            4.. => return Err(Error::new(ErrorKind::InvalidNumber, self.pos + 3)),
            _ => {}
        }
        let frac = frac_digits.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0'));
        let scale = match frac_digits.len() {
            1 => 100,
            2 => 10,
            _ => 1,
        };
        self.pos += frac_digits.len();
        Ok(BareItem::Decimal(Decimal(sign * (int * 1000 + frac * scale))))
    }

    fn parse_string(&mut self) -> Result<BareItem<'a>, Error> {
        let open = self.pos;
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes, borrow.
        loop {
            self.skip_class(CLASS_STRING);
            match self.peek() {
                None => return Err(Error::new(ErrorKind::UnterminatedString, open)),
                Some(b'"') => {
                    let s = self.str_from(start, ErrorKind::InvalidString)?;
                    self.pos += 1;
                    return Ok(BareItem::String(Cow::Borrowed(s)));
                }
                Some(b'\\') => break,
                Some(c) if (0x20..=0x7e).contains(&c) => self.pos += 1,
                Some(_) => return Err(Error::new(ErrorKind::InvalidString, self.pos)),
            }
        }
        let mut out = String::from(self.str_from(start, ErrorKind::InvalidString)?);
        loop {
            match self.peek() {
                None => return Err(Error::new(ErrorKind::UnterminatedString, open)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(BareItem::String(Cow::Owned(out)));
                }
                Some(b'\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ (b'"' | b'\\')) => out.push(char::from(c)),
                        None => return Err(Error::new(ErrorKind::UnterminatedString, open)),
                        Some(_) => return Err(Error::new(ErrorKind::InvalidEscape, self.pos)),
                    }
                    self.pos += 1;
                }
                Some(c) if (0x20..=0x7e).contains(&c) => {
                    out.push(char::from(c));
                    self.pos += 1;
                }
                Some(_) => return Err(Error::new(ErrorKind::InvalidString, self.pos)),
            }
        }
    }

    #[inline]
    fn parse_token(&mut self) -> Result<BareItem<'a>, Error> {
        let start = self.pos;
        self.pos += 1;
        self.skip_class(CLASS_TOKEN);
        Ok(BareItem::Token(Cow::Borrowed(self.str_from(start, ErrorKind::InvalidToken)?)))
    }

    fn parse_byte_sequence(&mut self) -> Result<BareItem<'a>, Error> {
        self.pos += 1;
        let start = self.pos;
        loop {
            match self.peek() {
                Some(b':') => break,
                Some(c) if is_base64_char(c) => self.pos += 1,
                _ => return Err(Error::new(ErrorKind::InvalidByteSequence, self.pos)),
            }
        }
        let s = self.str_from(start, ErrorKind::InvalidByteSequence)?;
        self.pos += 1;
        Ok(BareItem::ByteSequence(Cow::Borrowed(s)))
    }

    fn parse_boolean(&mut self) -> Result<BareItem<'a>, Error> {
        self.pos += 1;
        let value = match self.peek() {
            Some(b'1') => true,
            Some(b'0') => false,
            _ => return Err(Error::new(ErrorKind::InvalidBoolean, self.pos)),
        };
        self.pos += 1;
        Ok(BareItem::Boolean(value))
    }
}

// ---------------------------------------------------------------------------------------------
// Serialization (RFC 8941 §4.1)

/// Serializes a Dictionary (§4.1.2) in its member order, without spaces after commas.
///
/// # Errors
///
/// [`ErrorKind::InvalidKey`], [`ErrorKind::InvalidString`], [`ErrorKind::InvalidToken`],
/// [`ErrorKind::InvalidByteSequence`] or [`ErrorKind::InvalidNumber`] when a value built by hand
/// is outside RFC 8941's grammar; the offset is the length of the output written so far.
pub fn serialize_dictionary(dict: &Dictionary<'_>) -> Result<String, Error> {
    let mut out = String::new();
    for (i, (key, member)) in dict.members.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_key(&mut out, key)?;
        write_member_value(&mut out, member)?;
    }
    Ok(out)
}

/// Serializes one member value as it follows its key: `=value;params`, or only `;params` for a
/// Boolean `true` item (§4.1.2 step 1.2).
///
/// # Errors
///
/// As [`serialize_dictionary`].
pub fn serialize_member(member: &Member<'_>) -> Result<String, Error> {
    let mut out = String::new();
    write_member_value(&mut out, member)?;
    Ok(out)
}

fn write_member(out: &mut String, member: &Member<'_>) -> Result<(), Error> {
    write_member_value(out, member)
}

pub(crate) fn write_member_value(out: &mut String, member: &Member<'_>) -> Result<(), Error> {
    match member {
        Member::Item(Item { bare: BareItem::Boolean(true), params }) => write_params(out, params),
        Member::Item(item) => {
            out.push('=');
            write_item(out, item)
        }
        Member::InnerList(list) => {
            out.push('=');
            write_inner_list(out, list)
        }
    }
}

pub(crate) fn write_inner_list(out: &mut String, list: &InnerList<'_>) -> Result<(), Error> {
    out.push('(');
    for (i, item) in list.items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_item(out, item)?;
    }
    out.push(')');
    write_params(out, &list.params)
}

pub(crate) fn write_item(out: &mut String, item: &Item<'_>) -> Result<(), Error> {
    write_bare(out, &item.bare)?;
    write_params(out, &item.params)
}

pub(crate) fn write_params(out: &mut String, params: &Parameters<'_>) -> Result<(), Error> {
    for (key, value) in params {
        out.push(';');
        write_key(out, key)?;
        if *value != BareItem::Boolean(true) {
            out.push('=');
            write_bare(out, value)?;
        }
    }
    Ok(())
}

fn write_key(out: &mut String, key: &str) -> Result<(), Error> {
    if !is_valid_key(key) {
        return Err(Error::new(ErrorKind::InvalidKey, out.len()));
    }
    out.push_str(key);
    Ok(())
}

pub(crate) fn write_bare(out: &mut String, bare: &BareItem<'_>) -> Result<(), Error> {
    use fmt::Write as _;
    match bare {
        BareItem::Integer(n) => {
            if !(-MAX_INTEGER..=MAX_INTEGER).contains(n) {
                return Err(Error::new(ErrorKind::InvalidNumber, out.len()));
            }
            let _ = write!(out, "{n}");
        }
        BareItem::Decimal(d) => {
            let _ = write!(out, "{d}");
        }
        BareItem::String(s) => write_string(out, s)?,
        BareItem::Token(t) => {
            if !is_valid_token(t) {
                return Err(Error::new(ErrorKind::InvalidToken, out.len()));
            }
            out.push_str(t);
        }
        BareItem::ByteSequence(b) => {
            if !b.bytes().all(is_base64_char) {
                return Err(Error::new(ErrorKind::InvalidByteSequence, out.len()));
            }
            out.push(':');
            out.push_str(b);
            out.push(':');
        }
        BareItem::Boolean(b) => out.push_str(if *b { "?1" } else { "?0" }),
    }
    Ok(())
}

pub(crate) fn write_string(out: &mut String, s: &str) -> Result<(), Error> {
    if !is_valid_string(s) {
        return Err(Error::new(ErrorKind::InvalidString, out.len()));
    }
    out.reserve(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    Ok(())
}

#[cfg(test)]
#[allow(clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn err(input: &str) -> (&'static str, usize) {
        let e = parse_dictionary(input).unwrap_err();
        (e.code(), e.offset())
    }

    #[test]
    fn numbers_follow_section_4_2_4() {
        let d = parse_dictionary("a=-12,b=1.5,c=999999999999.999,d=0.001").unwrap();
        assert_eq!(d.get("a"), Some(&Member::Item(Item::new(BareItem::Integer(-12)))));
        assert_eq!(d.get("b"), Some(&Member::Item(Item::new(BareItem::Decimal(Decimal(1500))))));
        assert_eq!(d.get("c"), Some(&Member::Item(Item::new(BareItem::Decimal(Decimal::MAX)))));
        assert_eq!(err("a=1."), ("invalid_number", 2));
        assert_eq!(err("a=1234567890123.1"), ("invalid_number", 15));
        assert_eq!(err("a=-"), ("invalid_number", 3));
        assert_eq!(err("a=1234567890123456"), ("invalid_number", 17));
    }

    #[test]
    fn decimal_display_is_canonical() {
        assert_eq!(Decimal(1080).to_string(), "1.08");
        assert_eq!(Decimal(1000).to_string(), "1.0");
        assert_eq!(Decimal(-500).to_string(), "-0.5");
        assert_eq!(Decimal(1).to_string(), "0.001");
        assert_eq!(Decimal(0).to_string(), "0.0");
    }

    #[test]
    fn strings_escape_and_reject() {
        let d = parse_dictionary(r#"a="x\"y\\z""#).unwrap();
        assert_eq!(
            d.get("a"),
            Some(&Member::Item(Item::new(BareItem::String(Cow::Borrowed("x\"y\\z")))))
        );
        assert_eq!(err(r#"a="x"#), ("unterminated_string", 2));
        assert_eq!(err("a=\"\t\""), ("invalid_string", 3));
        assert_eq!(err(r#"a="\n""#), ("invalid_escape", 4));
    }

    #[test]
    fn rfc9651_types_are_errors() {
        assert_eq!(err("a=@1659578233"), ("invalid_item", 2));
        assert_eq!(err(r#"a=%"x""#), ("invalid_item", 2));
    }

    #[test]
    fn byte_sequences_and_booleans() {
        let d = parse_dictionary("a=:aGVsbG8=:,b=?0").unwrap();
        assert_eq!(
            d.get("a"),
            Some(&Member::Item(Item::new(BareItem::ByteSequence(Cow::Borrowed("aGVsbG8=")))))
        );
        assert_eq!(err("a=:aGV"), ("invalid_byte_sequence", 6));
        assert_eq!(err("a=?x"), ("invalid_boolean", 3));
    }

    #[test]
    fn whitespace_rules() {
        assert!(parse_dictionary("a=1 ,\tb=2").is_ok());
        assert_eq!(err("\ta=1"), ("invalid_key", 0));
        assert_eq!(err("a=1,"), ("trailing_comma", 4));
        assert_eq!(err("a=1 b=2"), ("expected_comma", 4));
        assert!(parse_dictionary("a=(1  2 )").is_ok());
        assert_eq!(err("a=(1,2)"), ("invalid_inner_list", 4));
    }

    #[test]
    fn serialize_round_trips() {
        for s in ["a=(1;x 2);y=?0,b,c=\"q\\\"\",d=-0.5;k=tok/x", "z=:AA==:", ""] {
            let d = parse_dictionary(s).unwrap();
            assert_eq!(serialize_dictionary(&d).unwrap(), s);
        }
        let mut d = Dictionary::new();
        d.insert("K", Member::Item(Item::new(BareItem::Integer(1))));
        assert_eq!(serialize_dictionary(&d).unwrap_err().code(), "invalid_key");
    }
}
