//! A rate governor per connector: waits rather than sending a request the HR system would refuse.
//!
//! Two sources of truth, whichever is stricter:
//! - the configured budget (Remote: 20 requests a minute per company), kept as a sliding log of
//!   send times;
//! - what the server says: `x-ratelimit-remaining` reaching 0 blocks until `x-ratelimit-reset`
//!   (milliseconds) has passed; a 429 blocks for its `Retry-After` or reset.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;

/// A request budget: `requests` per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Requests allowed in one window.
    pub requests: u32,
    /// The window.
    pub window: Duration,
}

impl Budget {
    /// Parses `20/60s`, `20/min`, `250/1m`, `20/2s`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let bad = || format!("`{text}` is not a rate limit; write it like 20/min or 20/60s");
        let (n, per) = text.split_once('/').ok_or_else(bad)?;
        let requests: u32 = n.trim().parse().map_err(|_| bad())?;
        let per = per.trim();
        let window = match per {
            "s" | "sec" => Duration::from_secs(1),
            "min" | "m" => Duration::from_secs(60),
            "h" | "hour" => Duration::from_secs(3600),
            _ => {
                let (num, unit) =
                    per.split_at(per.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
                let num: u64 = num.parse().map_err(|_| bad())?;
                match unit {
                    "ms" => Duration::from_millis(num),
                    "s" => Duration::from_secs(num),
                    "m" | "min" => Duration::from_secs(num * 60),
                    _ => return Err(bad()),
                }
            }
        };
        if requests == 0 || window.is_zero() {
            return Err(bad());
        }
        Ok(Budget { requests, window })
    }
}

#[derive(Debug)]
struct State {
    sent: VecDeque<Instant>,
    blocked_until: Option<Instant>,
}

/// Shared by every request of one connector (API and token requests alike).
#[derive(Debug)]
pub struct RateGovernor {
    budget: Option<Budget>,
    state: Mutex<State>,
}

impl RateGovernor {
    /// A governor with an optional configured budget.
    pub fn new(budget: Option<Budget>) -> Self {
        RateGovernor {
            budget,
            state: Mutex::new(State {
                sent: VecDeque::new(),
                blocked_until: None,
            }),
        }
    }

    /// Waits until one more request may be sent, and counts it.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let mut s = self.state.lock().await;
                let now = Instant::now();
                let mut wait_until = s.blocked_until.filter(|t| *t > now);
                if let Some(b) = self.budget {
                    while s
                        .sent
                        .front()
                        .is_some_and(|t| now.duration_since(*t) >= b.window)
                    {
                        s.sent.pop_front();
                    }
                    if s.sent.len() >= b.requests as usize
                        && let Some(oldest) = s.sent.front()
                    {
                        let free_at = *oldest + b.window;
                        wait_until = Some(wait_until.map_or(free_at, |w| w.max(free_at)));
                    }
                }
                match wait_until {
                    None => {
                        s.sent.push_back(now);
                        return;
                    }
                    Some(t) => t,
                }
            };
            tracing::debug!(
                wait_ms = wait.saturating_duration_since(Instant::now()).as_millis() as u64,
                "rate limit: waiting"
            );
            tokio::time::sleep_until(wait).await;
        }
    }

    /// Requests still allowed in the current window by the configured budget (`None` without a
    /// budget, or while another task holds the state).
    pub fn remaining(&self) -> Option<u32> {
        let b = self.budget?;
        let s = self.state.try_lock().ok()?;
        let now = Instant::now();
        let used = s
            .sent
            .iter()
            .filter(|t| now.duration_since(**t) < b.window)
            .count() as u32;
        Some(b.requests.saturating_sub(used))
    }

    /// Reads the server's rate-limit headers from an answer.
    pub async fn observe(
        &self,
        status: u16,
        remaining: Option<u64>,
        reset_ms: Option<u64>,
        retry_after_s: Option<u64>,
    ) {
        let now = Instant::now();
        let block = if status == 429 {
            Some(
                retry_after_s
                    .map(Duration::from_secs)
                    .or(reset_ms.map(Duration::from_millis))
                    .unwrap_or(Duration::from_secs(1)),
            )
        } else if remaining == Some(0) {
            Some(Duration::from_millis(reset_ms.unwrap_or(1000)))
        } else {
            None
        };
        if let Some(d) = block {
            // A little slack: the server's window and ours do not tick together.
            let until = now + d + Duration::from_millis(25);
            let mut s = self.state.lock().await;
            s.blocked_until = Some(s.blocked_until.map_or(until, |b| b.max(until)));
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn budgets_parse() {
        assert_eq!(
            Budget::parse("20/min").unwrap(),
            Budget {
                requests: 20,
                window: Duration::from_secs(60)
            }
        );
        assert_eq!(
            Budget::parse("20/2s").unwrap().window,
            Duration::from_secs(2)
        );
        assert_eq!(
            Budget::parse("5/500ms").unwrap().window,
            Duration::from_millis(500)
        );
        assert!(Budget::parse("20").is_err());
        assert!(Budget::parse("0/min").is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_budget_in_a_window() {
        let g = RateGovernor::new(Some(Budget {
            requests: 3,
            window: Duration::from_secs(10),
        }));
        let start = Instant::now();
        let mut times = Vec::new();
        for _ in 0..7 {
            g.acquire().await;
            times.push(start.elapsed());
        }
        // 3 at once, 3 after one window, 1 after two.
        assert!(times[2] < Duration::from_secs(1));
        assert!(times[3] >= Duration::from_secs(10));
        assert!(times[6] >= Duration::from_secs(20));
        for w in times.windows(4) {
            assert!(
                w[3] - w[0] >= Duration::from_secs(10),
                "4 requests within one window: {times:?}"
            );
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_server_saying_zero_remaining_blocks_until_reset() {
        let g = RateGovernor::new(None);
        g.observe(200, Some(0), Some(1500), None).await;
        let start = Instant::now();
        g.acquire().await;
        assert!(start.elapsed() >= Duration::from_millis(1500));
    }
}
