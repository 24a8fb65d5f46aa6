//! Kinesis sequence numbers: decimal strings of up to 128 digits, ordered as numbers.

use std::cmp::Ordering;

/// Compares two sequence numbers numerically (decimal strings without leading zeros, as
/// Kinesis issues them; leading zeros are ignored all the same).
pub fn compare(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_order() {
        assert_eq!(compare("9", "10"), Ordering::Less);
        assert_eq!(compare("10", "10"), Ordering::Equal);
        assert_eq!(
            compare(
                "49590338271490256608559692538361571095921575989136588898",
                "49590338271490256608559692540925702759324208523137515618"
            ),
            Ordering::Less
        );
        assert_eq!(compare("007", "7"), Ordering::Equal);
    }
}
