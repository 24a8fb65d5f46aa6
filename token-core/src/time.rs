//! Instants as values. Nothing in this crate reads a clock: callers pass `now` in.

/// A point in time, as milliseconds since the Unix epoch (UTC).
///
/// Token claims (`exp`, `nbf`, `iat`) are whole seconds, while the SMD edge compares them against
/// `Date.now()` in milliseconds; keeping milliseconds here lets the `smd-compat` profile reproduce
/// that comparison exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(i64);

impl UnixTime {
    /// An instant from whole seconds since the epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// An instant from milliseconds since the epoch.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch, rounded down (as JavaScript's `Math.floor(Date.now()/1000)`).
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// The UTC calendar date `(year, month 1–12, day 1–31)` of this instant.
    pub const fn utc_date(self) -> (i64, u32, u32) {
        civil_from_days(self.as_secs().div_euclid(86_400))
    }
}

/// Days since 1970-01-01 to a proleptic Gregorian `(year, month, day)`.
const fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(UnixTime::from_secs(0).utc_date(), (1970, 1, 1));
        assert_eq!(UnixTime::from_secs(1_700_000_000).utc_date(), (2023, 11, 14));
        assert_eq!(UnixTime::from_secs(951_782_400).utc_date(), (2000, 2, 29));
        assert_eq!(UnixTime::from_secs(-1).utc_date(), (1969, 12, 31));
    }

    #[test]
    fn millis_floor_to_secs() {
        assert_eq!(UnixTime::from_millis(1_999).as_secs(), 1);
        assert_eq!(UnixTime::from_millis(-1).as_secs(), -1);
    }
}
