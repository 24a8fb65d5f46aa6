//! How SMD spells viewer IP addresses inside the internal signature.
//!
//! The generator writes IPv6 fully expanded (`::` filled with zero groups, each group padded to
//! four digits, letter case kept). The SMD edge only pads groups and never expands `::`, so a
//! compressed viewer address fails there (defect D2 in the format notes). The strict profile
//! compares addresses, not spellings.

use std::net::{IpAddr, Ipv6Addr};

/// The IP family SMD records in `ip_ver`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    V4,
    V6,
}

/// The generator's view of a viewer IP: its family and the text that enters the intsig input.
/// `None` when the text is not an IPv4 or IPv6 address.
pub(crate) fn for_signing(ip: &str) -> Option<(Family, String)> {
    if ip.contains('.') && ip.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some((Family::V4, ip.to_owned()));
    }
    if ip.parse::<Ipv6Addr>().is_ok() {
        return Some((Family::V6, expand_v6(ip)));
    }
    None
}

/// The SDK's IPv6 expansion: fill `::` with zero groups and pad each group to four digits,
/// keeping the input's letter case. IPv4 text comes back unchanged.
pub fn expand_v6(ip: &str) -> String {
    if !ip.contains(':') {
        return ip.to_owned();
    }
    let mut groups: Vec<&str> = ip.split(':').collect();
    if groups.last() == Some(&"") {
        groups.pop();
    }
    if groups.first() == Some(&"") {
        groups.remove(0);
    }
    let mut out: Vec<String> =
        groups.iter().map(|g| if g.is_empty() { String::new() } else { pad4(g) }).collect();
    if let Some(hole) = out.iter().position(String::is_empty) {
        let fill = 9usize.saturating_sub(out.len());
        out.splice(hole..=hole, core::iter::repeat_n("0000".to_owned(), fill));
    }
    out.join(":")
}

/// The SMD edge's IPv6 spelling: pad each `:`-separated group to four digits, nothing else.
/// `None` where the edge function throws (a group longer than five characters).
pub(crate) fn edge_pad_v6(ip: &str) -> Option<String> {
    let mut out = String::with_capacity(39);
    for (i, group) in ip.split(':').enumerate() {
        if i > 0 {
            out.push(':');
        }
        match group.len() {
            0 => {}
            1..=4 => out.push_str(&pad4(group)),
            5 => out.push_str(group),
            _ => return None,
        }
    }
    Some(out)
}

fn pad4(group: &str) -> String {
    format!("{group:0>4}")
}

/// The spellings of a viewer IP that a strict verifier tries when it rebuilds the intsig input:
/// the SDK's expansion in lower and in upper case (generators keep the case they were given), so
/// `2001:db8::1`, `2001:0db8:0:0:0:0:0:1` and `2001:DB8::1` all match one another.
pub(crate) fn strict_spellings(ip: &str) -> Option<(Family, Vec<String>)> {
    match ip.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some((Family::V4, vec![v4.to_string()])),
        IpAddr::V6(v6) => {
            let lower =
                v6.segments().iter().map(|s| format!("{s:04x}")).collect::<Vec<_>>().join(":");
            let upper = lower.to_ascii_uppercase();
            Some((Family::V6, if upper == lower { vec![lower] } else { vec![lower, upper] }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sdk_expansion() {
        assert_eq!(expand_v6("2001:db8::1"), "2001:0db8:0000:0000:0000:0000:0000:0001");
        assert_eq!(expand_v6("::"), "0000:0000:0000:0000:0000:0000:0000:0000");
        assert_eq!(expand_v6("::1"), "0000:0000:0000:0000:0000:0000:0000:0001");
        assert_eq!(expand_v6("fe80::"), "fe80:0000:0000:0000:0000:0000:0000:0000");
        assert_eq!(expand_v6("2001:DB8:0:0:0:0:0:1"), "2001:0DB8:0000:0000:0000:0000:0000:0001");
    }

    #[test]
    fn edge_padding_keeps_compression() {
        assert_eq!(
            edge_pad_v6("2001:db8:0:0:0:0:0:1").as_deref(),
            Some("2001:0db8:0000:0000:0000:0000:0000:0001")
        );
        assert_eq!(edge_pad_v6("2001:db8::1").as_deref(), Some("2001:0db8::0001"));
        assert_eq!(edge_pad_v6("123456::"), None);
    }

    #[test]
    fn strict_spellings_cover_case() {
        let (fam, s) = strict_spellings("2001:DB8::1").unwrap();
        assert_eq!(fam, Family::V6);
        assert!(s.contains(&"2001:0db8:0000:0000:0000:0000:0000:0001".to_owned()));
        assert!(s.contains(&"2001:0DB8:0000:0000:0000:0000:0000:0001".to_owned()));
        assert_eq!(strict_spellings("203.0.113.9").unwrap().1, vec!["203.0.113.9".to_owned()]);
        assert!(strict_spellings("not-an-ip").is_none());
    }
}
