//! Exponential backoff with full jitter (the delay is drawn uniformly below a cap that doubles
//! on every failure, up to a maximum), for throttling, 5xx and connection failures.

use std::time::Duration;

/// Backoff state of one retried operation.
#[derive(Debug, Clone)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// Delays start below `base` and grow to at most `max`.
    pub fn new(base: Duration, max: Duration) -> Self {
        let mut seed = [0u8; 8];
        // A failed draw only makes the jitter predictable; backoff still works.
        let _ = getrandom::fill(&mut seed);
        Self { base, max, attempt: 0, rng: u64::from_le_bytes(seed) | 1 }
    }

    /// Failures so far.
    pub fn attempts(&self) -> u32 {
        self.attempt
    }

    /// Forgets past failures (call after a success).
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The delay before the next retry: uniform in `[cap/2, cap]`, `cap = min(max, base·2^n)`.
    pub fn next_delay(&mut self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(20)).unwrap_or(u32::MAX);
        self.attempt = self.attempt.saturating_add(1);
        let cap = self.base.saturating_mul(factor).min(self.max);
        // xorshift64
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let cap_ms = u64::try_from(cap.as_millis()).unwrap_or(u64::MAX).max(1);
        let half = cap_ms / 2;
        Duration::from_millis(half + self.rng % (cap_ms - half + 1))
    }

    /// Sleeps for [`Self::next_delay`].
    pub async fn wait(&mut self) {
        tokio::time::sleep(self.next_delay()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_and_caps() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
        let d: Vec<Duration> = (0..10).map(|_| b.next_delay()).collect();
        assert!(d[0] >= Duration::from_millis(50) && d[0] <= Duration::from_millis(100));
        assert!(d[3] >= Duration::from_millis(400) && d[3] <= Duration::from_millis(800));
        assert!(d.iter().all(|x| *x <= Duration::from_secs(2)));
        assert!(d[9] >= Duration::from_secs(1));
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }
}
