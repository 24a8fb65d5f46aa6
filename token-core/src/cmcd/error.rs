//! [`Error`]: why a whole CMCD payload was rejected, and [`DropReason`]: why one key was.
//!
//! Both carry stable machine codes (`code()`), part of the API: metrics labels and the CLI's
//! JSON output use them, so changing one is a breaking change.

use super::sf;

/// Why a whole payload was rejected (CTA-5004-B §6: a receiver ignores such a data set).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The payload is not an RFC 8941 Dictionary. Code `syntax`; [`offset`](Self::offset) says
    /// where (into the percent-decoded payload for the query form, into the body for the body
    /// form). The inner [`sf::Error`] has the precise cause; `Display` is its message ("invalid
    /// key at byte 0", or without the offset in the alternate form `{:#}`).
    #[error(transparent)]
    Syntax(sf::Error),
    /// The payload exceeds the size limit ([`super::MAX_PAYLOAD_LEN`] per dictionary,
    /// [`super::MAX_BODY_LEN`] per body). Code `too_large`.
    #[error("payload of {len} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Size received.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// `v` is greater than 2 (CTA-5004-B §6: ignore the entire data set). Code
    /// `unsupported_version`.
    #[error("unsupported CMCD version {version}")]
    UnsupportedVersion {
        /// The version received.
        version: i64,
    },
}

impl Error {
    /// Stable machine-readable code: `syntax`, `too_large` or `unsupported_version`.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::Syntax(_) => "syntax",
            Self::TooLarge { .. } => "too_large",
            Self::UnsupportedVersion { .. } => "unsupported_version",
        }
    }

    /// Byte offset of a syntax error; `None` for the other kinds.
    pub const fn offset(&self) -> Option<usize> {
        match self {
            Self::Syntax(e) => Some(e.offset()),
            _ => None,
        }
    }

    pub(crate) const fn shifted(self, by: usize) -> Self {
        match self {
            Self::Syntax(e) => Self::Syntax(e.shifted(by)),
            other => other,
        }
    }
}

impl From<sf::Error> for Error {
    fn from(e: sf::Error) -> Self {
        Self::Syntax(e)
    }
}

/// Why a registered key was dropped while the rest of the payload was kept (CTA-5004-B §6:
/// "ignore values that do not meet the type definition").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The Structured Field type is not the key's type (`br="3200"`, `su=true`). Code
    /// `wrong_type`.
    WrongType,
    /// A token outside the key's vocabulary (`sta=x`). Code `invalid_token`.
    InvalidToken,
    /// A string longer than the key allows (`sid` > 64 characters). Code `too_long`.
    TooLong,
    /// An empty string (CMCD says to omit unknown values rather than send them empty). Code
    /// `empty`.
    Empty,
    /// A negative number, or `v` below 1. Code `out_of_range`.
    OutOfRange,
    /// A value that RFC 8941 cannot carry (only arises when building reports in code, e.g. a
    /// non-ASCII string). Code `invalid_value`.
    InvalidValue,
}

impl DropReason {
    /// Stable machine-readable code.
    pub const fn code(self) -> &'static str {
        match self {
            Self::WrongType => "wrong_type",
            Self::InvalidToken => "invalid_token",
            Self::TooLong => "too_long",
            Self::Empty => "empty",
            Self::OutOfRange => "out_of_range",
            Self::InvalidValue => "invalid_value",
        }
    }
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::WrongType => "value has the wrong type",
            Self::InvalidToken => "token is not in the key's vocabulary",
            Self::TooLong => "string is too long",
            Self::Empty => "string is empty",
            Self::OutOfRange => "number is out of range",
            Self::InvalidValue => "value cannot be encoded",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_offset_unless_alternate() {
        let err = Error::from(sf::Error::new(sf::ErrorKind::InvalidKey, 3));
        assert_eq!(err.to_string(), "invalid key at byte 3");
        assert_eq!(format!("{err:#}"), "invalid key");
        assert_eq!(
            Error::TooLarge { len: 9, limit: 8 }.to_string(),
            "payload of 9 bytes exceeds the limit of 8 bytes"
        );
    }
}
