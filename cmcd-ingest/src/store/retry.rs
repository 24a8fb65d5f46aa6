//! Bounded retries with exponential backoff and jitter.

use std::time::Duration;

/// How often and how patiently a failed backend call is retried.
///
/// Attempt `n` (1-based) that fails with a retryable error is followed by a pause drawn
/// uniformly from `[d/2, d]`, where `d = min(max_delay, base_delay · 2^(n-1))` ("equal jitter":
/// spreads clients apart while keeping the backoff growing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (default 6; at least 1).
    pub max_attempts: u32,
    /// The pause before the first retry, before jitter (default 200 ms).
    pub base_delay: Duration,
    /// The longest pause (default 10 s).
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(10),
        }
    }
}

impl RetryPolicy {
    /// The pause after failed attempt `attempt` (1-based), before jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.saturating_sub(1).min(20)).unwrap_or(u32::MAX);
        self.base_delay.saturating_mul(factor).min(self.max_delay)
    }

    /// The pause after failed attempt `attempt`, with jitter: uniform in `[d/2, d]`.
    pub fn pause(&self, attempt: u32) -> Duration {
        let d = self.backoff(attempt);
        let half = d / 2;
        let mut b = [0u8; 8];
        // Without randomness the pause is the full backoff: still bounded, just not spread.
        if getrandom::fill(&mut b).is_err() {
            return d;
        }
        let unit = (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64;
        half + (d - half).mul_f64(unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(1), Duration::from_millis(200));
        assert_eq!(p.backoff(2), Duration::from_millis(400));
        assert_eq!(p.backoff(4), Duration::from_millis(1600));
        assert_eq!(p.backoff(10), Duration::from_secs(10));
        assert_eq!(p.backoff(u32::MAX), Duration::from_secs(10));
        for n in 1..8 {
            let d = p.pause(n);
            assert!(d >= p.backoff(n) / 2 && d <= p.backoff(n), "{n}: {d:?}");
        }
    }
}
