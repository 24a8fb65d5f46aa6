//! Signing keys and the two-key set SMD rotates.
//!
//! SMD keeps each key as a one-entry JSON object `{"<kid>": "<key>"}` in a secret, a primary and a
//! secondary. The key value is 128 lower-case hex characters, and it is used **as text**: the
//! HMAC key is the UTF-8 bytes of that string, not the 64 bytes it spells in hex.

use core::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::error::KeyError;
use super::json;
use super::mac::PreparedKey;
use crate::encoding::b64url;
use crate::time::UnixTime;

/// Random bytes [`KeySet::generate`] and [`SigningKey::generate`] consume: 10 for the kid suffix
/// and 64 for the key.
pub const KEY_ENTROPY_BYTES: usize = 74;

/// One HMAC key with its key id. Zeroized on drop; `Debug` prints the kid only.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SigningKey {
    /// Not secret; shared so an accepted request can name it without a copy.
    #[zeroize(skip)]
    kid: std::sync::Arc<str>,
    secret: String,
    prepared: PreparedKey,
    /// base64url of the header SMD writes for this kid, for the verifier's fast path.
    header_b64: String,
}

impl SigningKey {
    /// A key from its kid and its text value.
    ///
    /// Any non-empty text is accepted, because deployed SMD stacks (and its test suite) use
    /// placeholder keys shorter than the 128 hex characters it generates; [`SigningKey::is_weak`]
    /// tells callers when to warn.
    ///
    /// # Errors
    /// [`KeyError::Empty`] when the kid or the key is empty.
    pub fn new(kid: impl Into<String>, secret: impl Into<String>) -> Result<Self, KeyError> {
        let (kid, secret) = (kid.into(), secret.into());
        if kid.is_empty() || secret.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self::from_parts(kid, secret))
    }

    fn from_parts(kid: String, secret: String) -> Self {
        let mut header = String::from("{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":");
        json::push_str(&mut header, &kid);
        header.push('}');
        let header_b64 = b64url(header.as_bytes());
        // The signing input of every token for this kid starts with the encoded header; when that
        // is a block or longer (SMD's 28-character kids give 86 characters), its first block is
        // hashed once here instead of per request.
        let prepared = PreparedKey::new(secret.as_bytes(), header_b64.as_bytes());
        Self { kid: kid.into(), secret, prepared, header_b64 }
    }

    /// Generates a key in SMD's format: kid `YYYYMMD_` + 20 lower-case hex characters (zero-padded
    /// month, unpadded day, both UTC), key = 128 lower-case hex characters.
    ///
    /// `random` must hold at least [`KEY_ENTROPY_BYTES`] bytes from a cryptographic source; this
    /// crate has no RNG of its own.
    ///
    /// # Errors
    /// [`KeyError::Entropy`] when `random` is too short.
    pub fn generate(now: UnixTime, random: &[u8]) -> Result<Self, KeyError> {
        let (Some(kid_bytes), Some(key_bytes)) =
            (random.get(..10), random.get(10..KEY_ENTROPY_BYTES))
        else {
            return Err(KeyError::Entropy { needed: KEY_ENTROPY_BYTES, got: random.len() });
        };
        let (year, month, day) = now.utc_date();
        let kid = format!("{year:04}{month:02}{day}_{}", hex(kid_bytes));
        let secret = hex(key_bytes);
        Ok(Self::from_parts(kid, secret))
    }

    /// The key id written into the JWT header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The secret text. Handle with care: this is the key.
    pub fn expose_secret(&self) -> &str {
        &self.secret
    }

    /// True when the key is shorter than 32 bytes (256 bits), e.g. SMD's placeholder keys.
    pub fn is_weak(&self) -> bool {
        self.secret.len() < 32
    }

    /// HMAC-SHA256 with this key (its text as UTF-8) over the concatenation of `parts`.
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        self.prepared.mac(parts)
    }

    /// The kid, shared.
    pub(crate) fn shared_kid(&self) -> std::sync::Arc<str> {
        std::sync::Arc::clone(&self.kid)
    }

    /// base64url of `{"alg":"HS256","typ":"JWT","kid":"<kid>"}`: the header SMD writes.
    pub(crate) fn header_b64(&self) -> &str {
        &self.header_b64
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("secret", &"[redacted]").finish()
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        for nibble in [b >> 4, b & 0xf] {
            out.push(DIGITS.get(usize::from(nibble)).map_or('0', |&d| char::from(d)));
        }
    }
    out
}

/// The keys an edge accepts: the primary (used to sign) and optionally the secondary (the previous
/// primary, kept so tokens signed before a rotation still verify).
#[derive(Clone)]
pub struct KeySet {
    primary: SigningKey,
    secondary: Option<SigningKey>,
}

impl KeySet {
    /// A set with a primary and an optional secondary key.
    ///
    /// # Errors
    /// [`KeyError::DuplicateKid`] when both keys share a kid but differ in value.
    pub fn new(primary: SigningKey, secondary: Option<SigningKey>) -> Result<Self, KeyError> {
        if let Some(sec) = &secondary
            && sec.kid == primary.kid
            && sec.secret != primary.secret
        {
            return Err(KeyError::DuplicateKid(sec.kid.to_string()));
        }
        Ok(Self { primary, secondary })
    }

    /// Generates a fresh one-key set (see [`SigningKey::generate`]).
    ///
    /// # Errors
    /// [`KeyError::Entropy`] when `random` is too short.
    pub fn generate(now: UnixTime, random: &[u8]) -> Result<Self, KeyError> {
        Ok(Self { primary: SigningKey::generate(now, random)?, secondary: None })
    }

    /// Rotation as SMD does it: `new_primary` signs from now on, the old primary becomes the
    /// secondary, and the old secondary is dropped. Tokens signed with the dropped key stop
    /// verifying, so keep token lifetimes shorter than the rotation interval.
    pub fn rotate(self, new_primary: SigningKey) -> Self {
        let Self { primary: old_primary, .. } = self;
        Self { secondary: Some(old_primary), primary: new_primary }
    }

    /// Parses SMD's layout: `{"primary": {"<kid>": "<key>"}, "secondary": {"<kid>": "<key>"}}`;
    /// `secondary` may be absent or `null`.
    ///
    /// # Errors
    /// [`KeyError::Shape`] for any other shape, [`KeyError::Empty`] for an empty kid or key.
    pub fn from_json(text: &str) -> Result<Self, KeyError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| KeyError::Shape(format!("not JSON ({e})")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| KeyError::Shape("top level is not an object".into()))?;
        if let Some(extra) = obj.keys().find(|k| *k != "primary" && *k != "secondary") {
            return Err(KeyError::Shape(format!("unexpected member {extra:?}")));
        }
        let primary = one_entry(obj.get("primary"), "primary")?
            .ok_or_else(|| KeyError::Shape("missing \"primary\"".into()))?;
        let secondary = one_entry(obj.get("secondary"), "secondary")?;
        Self::new(primary, secondary)
    }

    /// Serializes the set in SMD's layout. The output contains the secret keys.
    pub fn expose_json(&self) -> Zeroizing<String> {
        let mut map = serde_json::Map::new();
        for (name, key) in
            [("primary", Some(&self.primary)), ("secondary", self.secondary.as_ref())]
        {
            if let Some(key) = key {
                let mut entry = serde_json::Map::new();
                entry.insert(key.kid.to_string(), serde_json::Value::String(key.secret.clone()));
                map.insert(name.to_owned(), serde_json::Value::Object(entry));
            }
        }
        let mut text =
            serde_json::to_string_pretty(&serde_json::Value::Object(map)).unwrap_or_default();
        text.push('\n');
        Zeroizing::new(text)
    }

    /// The primary (signing) key.
    pub fn primary(&self) -> &SigningKey {
        &self.primary
    }

    /// The secondary (previous) key, if any.
    pub fn secondary(&self) -> Option<&SigningKey> {
        self.secondary.as_ref()
    }

    /// The key with this kid.
    pub fn get(&self, kid: &str) -> Option<&SigningKey> {
        self.iter().find(|k| &*k.kid == kid)
    }

    /// Both keys, primary first.
    pub fn iter(&self) -> impl Iterator<Item = &SigningKey> {
        core::iter::once(&self.primary).chain(self.secondary.as_ref())
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySet")
            .field("primary", &self.primary)
            .field("secondary", &self.secondary)
            .finish()
    }
}

fn one_entry(
    value: Option<&serde_json::Value>,
    name: &str,
) -> Result<Option<SigningKey>, KeyError> {
    let obj = match value {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::Object(obj)) => obj,
        Some(_) => return Err(KeyError::Shape(format!("\"{name}\" is not an object"))),
    };
    let mut entries = obj.iter();
    let (Some((kid, secret)), None) = (entries.next(), entries.next()) else {
        return Err(KeyError::Shape(format!("\"{name}\" must hold exactly one kid")));
    };
    let secret = secret
        .as_str()
        .ok_or_else(|| KeyError::Shape(format!("\"{name}\" key is not a string")))?;
    SigningKey::new(kid.clone(), secret).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_key_has_smd_shape() {
        let random: Vec<u8> = (0..KEY_ENTROPY_BYTES as u8).collect();
        // 2024-09-01 — the unpadded UTC day gives kids like 2024091_…
        let key = SigningKey::generate(UnixTime::from_secs(1_725_148_800), &random).unwrap();
        assert_eq!(key.kid(), "2024091_00010203040506070809");
        assert_eq!(key.expose_secret().len(), 128);
        assert!(
            key.expose_secret().bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert!(SigningKey::generate(UnixTime::from_secs(0), &random[..73]).is_err());
    }

    #[test]
    fn debug_redacts() {
        let key = SigningKey::new("kid1", "very-secret-value").unwrap();
        let shown = format!("{key:?} {:?}", KeySet::new(key.clone(), None).unwrap());
        assert!(!shown.contains("very-secret-value"), "{shown}");
        assert!(shown.contains("kid1"));
    }

    #[test]
    fn json_round_trip_and_rotation() {
        let set = KeySet::from_json(r#"{"primary":{"k1":"v1"},"secondary":{"k0":"v0"}}"#).unwrap();
        assert_eq!(set.primary().kid(), "k1");
        assert_eq!(set.get("k0").unwrap().expose_secret(), "v0");
        let rotated = set.rotate(SigningKey::new("k2", "v2").unwrap());
        assert_eq!(rotated.primary().kid(), "k2");
        assert_eq!(rotated.secondary().unwrap().kid(), "k1");
        assert!(rotated.get("k0").is_none());
        let again = KeySet::from_json(&rotated.expose_json()).unwrap();
        assert_eq!(again.secondary().unwrap().expose_secret(), "v1");
    }

    #[test]
    fn bad_shapes_are_refused() {
        for bad in [
            "[]",
            "{}",
            r#"{"primary":{}}"#,
            r#"{"primary":{"a":"b","c":"d"}}"#,
            r#"{"primary":{"a":1}}"#,
            r#"{"primary":{"a":""}}"#,
            r#"{"primary":{"a":"b"},"tertiary":{}}"#,
            r#"{"primary":{"a":"b"},"secondary":{"a":"c"}}"#,
        ] {
            assert!(KeySet::from_json(bad).is_err(), "{bad}");
        }
    }
}
