//! Compact JSON written exactly as JavaScript's `JSON.stringify` writes it, so generated tokens
//! are byte-identical to the SMD SDK's.

/// Appends `s` as a JSON string literal: `"` and `\` escaped, `\b \f \n \r \t` by name, other
/// control characters as `\u00xx` (lower-case hex), `/` and non-ASCII (including U+2028/U+2029)
/// written raw.
pub(crate) fn push_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                out.push_str(&format!("\\u{:04x}", u32::from(c)));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends a JSON array of strings.
pub(crate) fn push_str_array(out: &mut String, items: &[String]) {
    out.push('[');
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_str(out, item);
    }
    out.push(']');
}

/// Appends `"key":` (keys are fixed ASCII identifiers).
pub(crate) fn push_key(out: &mut String, key: &str, first: bool) {
    if !first {
        out.push(',');
    }
    out.push('"');
    out.push_str(key);
    out.push_str("\":");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_json_stringify() {
        let mut out = String::new();
        push_str(&mut out, "a\"b\\c/d\u{1}\u{1f}\n\té\u{2028}\u{7f}");
        assert_eq!(out, "\"a\\\"b\\\\c/d\\u0001\\u001f\\n\\té\u{2028}\u{7f}\"");
    }
}
