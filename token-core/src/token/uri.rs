//! Where the token sits in the request URI, and what the URI left after removing it may contain.

use super::error::{Malformed, VerifyError};

/// A request URI split around its token segment.
#[derive(Debug)]
pub(crate) struct TokenSegment<'a> {
    /// The session id prefix, when the segment has exactly four `.`-separated parts.
    pub(crate) session_id: Option<&'a str>,
    /// The compact JWS.
    pub(crate) jwt: &'a str,
    /// The JWS's `(header, payload, signature)` when it has exactly three `.`-parts.
    pub(crate) parts: Option<(&'a str, &'a str, &'a str)>,
    /// Everything before the token segment's leading `/` (empty for an origin-form URI).
    pub(crate) before: &'a str,
    /// Everything after the token segment, starting with `/`.
    pub(crate) after: &'a str,
}

impl TokenSegment<'_> {
    /// The URI to forward: the request URI without its token segment.
    pub(crate) fn forwarded_uri(&self) -> String {
        let mut out = String::with_capacity(self.before.len() + self.after.len());
        out.push_str(self.before);
        out.push_str(self.after);
        out
    }
}

/// Locates the token segment the way the SMD function does: split on `/`, take part 1, require at
/// least three parts (so `/tok` fails and `/tok/` passes), and take a session id when the segment
/// has exactly four `.`-parts.
pub(crate) fn split(uri: &str) -> Result<TokenSegment<'_>, VerifyError> {
    let no_token = || VerifyError::Malformed(Malformed::NoToken);
    let (before, rest) = uri.split_once('/').ok_or_else(no_token)?;
    let slash = memchr::memchr(b'/', rest.as_bytes()).ok_or_else(no_token)?;
    let (segment, after) = rest.split_at_checked(slash).ok_or_else(no_token)?;
    if segment.is_empty() {
        return Err(no_token());
    }
    // The first five dots are all the layout needs: 3 → session id + JWS, 2 → JWS alone.
    let mut dots = [0usize; 5];
    let mut count = 0;
    for (slot, pos) in dots.iter_mut().zip(memchr::memchr_iter(b'.', segment.as_bytes())) {
        *slot = pos;
        count += 1;
    }
    let piece = |from: usize, to: usize| segment.get(from..to).unwrap_or_default();
    let (session_id, jwt, parts) = match (count, dots) {
        (3, [s, a, b, ..]) => (
            Some(piece(0, s)),
            piece(s + 1, segment.len()),
            Some((piece(s + 1, a), piece(a + 1, b), piece(b + 1, segment.len()))),
        ),
        (2, [a, b, ..]) => {
            (None, segment, Some((piece(0, a), piece(a + 1, b), piece(b + 1, segment.len()))))
        }
        _ => (None, segment, None),
    };
    Ok(TokenSegment { session_id, jwt, parts, before, after })
}

/// The length of the token segment without splitting the rest, for the size cap that runs before
/// any parsing. `None` when the URI has no segment after its first `/`.
pub(crate) fn segment_len(uri: &str) -> Option<usize> {
    let (_, rest) = uri.split_once('/')?;
    Some(memchr::memchr(b'/', rest.as_bytes()).unwrap_or(rest.len()))
}

/// True when `path` could escape a path prefix once an origin or cache normalises it: a `.` or
/// `..` segment (also percent-encoded, in any case mix), an encoded `/` or `\`, a backslash, or
/// NUL (raw or `%00`).
pub(crate) fn has_escape(path: &str) -> bool {
    let bytes = path.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'\\' | 0 => return true,
            b'%' => {
                if let (Some(&h), Some(&l)) = (bytes.get(i + 1), bytes.get(i + 2))
                    && let (Some(h), Some(l)) = (hex_val(h), hex_val(l))
                    && matches!(h << 4 | l, b'/' | b'\\' | 0)
                {
                    return true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    path.split('/').any(is_dot_segment)
}

/// `.` or `..`, each dot possibly written `%2e` / `%2E`.
fn is_dot_segment(seg: &str) -> bool {
    if seg.len() > 6 {
        return false;
    }
    let mut rest = seg.as_bytes();
    let mut dots = 0;
    while !rest.is_empty() {
        rest = match rest {
            [b'.', tail @ ..] => tail,
            [b'%', b'2', b'e' | b'E', tail @ ..] => tail,
            _ => return false,
        };
        dots += 1;
    }
    matches!(dots, 1 | 2)
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_the_smd_function() {
        let t = split("/sid.h.p.s/out/v1/a.m3u8").unwrap();
        assert_eq!(
            (t.session_id, t.jwt, t.forwarded_uri().as_str()),
            (Some("sid"), "h.p.s", "/out/v1/a.m3u8")
        );
        let t = split("/h.p.s/").unwrap();
        assert_eq!((t.session_id, t.forwarded_uri().as_str()), (None, "/"));
        let t = split("/a.b.c.d.e/x").unwrap();
        assert_eq!((t.session_id, t.jwt), (None, "a.b.c.d.e"));
        assert!(split("/h.p.s").is_err());
        assert!(split("//x").is_err());
        assert!(split("").is_err());
    }

    #[test]
    fn escapes() {
        for bad in [
            "/out/../secret",
            "/out/./a",
            "/out/..",
            "/out/%2e%2e/secret",
            "/out/%2E./x",
            "/out/.%2e/x",
            "/out/%2e/x",
            "/out/..%2fsecret",
            "/out/a%2Fb",
            "/out\\..\\x",
            "/out/a%5cb",
            "/out/a%00.ts",
            "/out/a\0.ts",
        ] {
            assert!(has_escape(bad), "{bad}");
        }
        for ok in [
            "/out/v1/a.m3u8",
            "/out/...",
            "/out/.hidden/x",
            "/out/a..b/c",
            "/out/%41b",
            "/out/50%",
            "/",
        ] {
            assert!(!has_escape(ok), "{ok}");
        }
    }
}
