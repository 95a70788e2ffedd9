//! Per-company fixed-window rate limiting, as Remote does it, plus the bookkeeping tests use to
//! check that a client stayed under the limit.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, HeaderValue};

use super::RateLimit;

/// Header: requests counted in the current window (including this one).
pub(crate) const COUNT: &str = "x-ratelimit-count";
/// Header: requests left in the current window.
pub(crate) const REMAINING: &str = "x-ratelimit-remaining";
/// Header: milliseconds until the window resets.
pub(crate) const RESET: &str = "x-ratelimit-reset";

/// What the limiter decided for one request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Decision {
    /// Header values, when a limit is configured.
    pub headers: Option<RateHeaders>,
    /// False when the limit is exceeded: answer 429.
    pub allowed: bool,
}

/// Values of Remote's three rate-limit headers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RateHeaders {
    pub count: u32,
    pub remaining: u32,
    pub reset_ms: u64,
}

impl RateHeaders {
    /// Adds the headers to a response.
    pub(crate) fn apply(&self, headers: &mut HeaderMap) {
        headers.insert(COUNT, HeaderValue::from(self.count));
        headers.insert(REMAINING, HeaderValue::from(self.remaining));
        headers.insert(RESET, HeaderValue::from(self.reset_ms));
    }
}

/// The limiter and its statistics.
#[derive(Debug)]
pub(crate) struct RateState {
    limit: Option<RateLimit>,
    window_start: Option<Instant>,
    count: u32,
    /// Most requests seen in one window (rejected ones included).
    pub max_in_window: u32,
    last_minute: VecDeque<Instant>,
    /// Most requests seen in any sliding 60-second span, whether or not a limit is configured.
    pub peak_per_minute: u32,
}

impl RateState {
    /// A limiter for `limit` (or none).
    pub(crate) fn new(limit: Option<RateLimit>) -> RateState {
        RateState {
            limit,
            window_start: None,
            count: 0,
            max_in_window: 0,
            last_minute: VecDeque::new(),
            peak_per_minute: 0,
        }
    }

    /// Counts a request arriving at `now`.
    pub(crate) fn record(&mut self, now: Instant) -> Decision {
        const MINUTE: Duration = Duration::from_secs(60);
        while self
            .last_minute
            .front()
            .is_some_and(|t| now.duration_since(*t) >= MINUTE)
        {
            self.last_minute.pop_front();
        }
        self.last_minute.push_back(now);
        self.peak_per_minute = self
            .peak_per_minute
            .max(u32::try_from(self.last_minute.len()).unwrap_or(u32::MAX));

        let Some(limit) = self.limit else {
            return Decision {
                headers: None,
                allowed: true,
            };
        };
        let start = match self.window_start {
            Some(start) if now.duration_since(start) < limit.window => start,
            _ => {
                self.window_start = Some(now);
                self.count = 0;
                now
            }
        };
        self.count = self.count.saturating_add(1);
        self.max_in_window = self.max_in_window.max(self.count);
        let reset = (start + limit.window).saturating_duration_since(now);
        Decision {
            headers: Some(RateHeaders {
                count: self.count,
                remaining: limit.requests.saturating_sub(self.count),
                reset_ms: reset_millis(reset),
            }),
            allowed: self.count <= limit.requests,
        }
    }

    /// Headers for an injected 429: the window as it is, but nothing remaining.
    pub(crate) fn exhausted(&self, now: Instant) -> RateHeaders {
        match (self.limit, self.window_start) {
            (Some(limit), Some(start)) => RateHeaders {
                count: self.count.max(limit.requests),
                remaining: 0,
                reset_ms: reset_millis((start + limit.window).saturating_duration_since(now)),
            },
            (Some(limit), None) => RateHeaders {
                count: limit.requests,
                remaining: 0,
                reset_ms: reset_millis(limit.window),
            },
            // No limit configured: pretend Remote's 20 a minute with a short wait.
            (None, _) => RateHeaders {
                count: 20,
                remaining: 0,
                reset_ms: 1000,
            },
        }
    }
}

/// Milliseconds, rounded up so that waiting this long always reaches the next window.
fn reset_millis(d: Duration) -> u64 {
    let ms = d.as_micros().div_ceil(1000);
    u64::try_from(ms).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_window_counts_and_resets() {
        let mut r = RateState::new(Some(RateLimit {
            requests: 2,
            window: Duration::from_secs(10),
        }));
        let t0 = Instant::now();
        assert!(r.record(t0).allowed);
        assert!(r.record(t0 + Duration::from_secs(1)).allowed);
        let third = r.record(t0 + Duration::from_secs(2));
        assert!(!third.allowed);
        let h = third.headers.expect("headers with a limit");
        assert_eq!((h.count, h.remaining, h.reset_ms), (3, 0, 8000));
        assert!(r.record(t0 + Duration::from_secs(10)).allowed);
        assert_eq!(r.max_in_window, 3);
        assert_eq!(r.peak_per_minute, 4);
    }
}
