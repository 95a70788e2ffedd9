//! A rate governor per connector: waits rather than sending a request the HR system would refuse.
//!
//! Two sources of truth, whichever is stricter:
//! - the configured budget (Remote: 20 requests a minute per company), kept as a sliding log of
//!   send times;
//! - what the server says: `x-ratelimit-remaining` reaching 0 blocks until `x-ratelimit-reset`
//!   (milliseconds) has passed; a 429 blocks for its `Retry-After` (seconds or an HTTP date) or
//!   reset.
//!
//! What the server says is honoured up to a cap ([`MAX_SERVER_WAIT`] unless
//! [`RateGovernor::with_max_wait`] says otherwise). A hint longer than the cap is a [`HintError`]
//! naming the header and its value: a 429 carrying one fails at once, and for the cap's duration
//! [`RateGovernor::acquire_checked`] refuses with that error instead of waiting. No hint can
//! overflow an [`Instant`] or block the connector for longer than the cap.
//!
//! `hrsync serve` keeps a share of the budget for webhook events ([`RateGovernor::reserve_for_events`]):
//! requests made inside [`for_events`] are events', all others background (scheduled runs and
//! their enrichment). While both kinds wait, neither may take the other's guaranteed share of the
//! window; while only one waits, it may use the whole budget.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The longest wait a server's rate-limit hint may impose by default: ten minutes.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(600);

/// A server's rate-limit hint that hrsync will not obey as sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HintError {
    /// The hint asks for a wait longer than the cap.
    #[error(
        "the server asked to wait `{header}: {value}` ({asked}), longer than the {cap_secs}-second cap on server waits; not waiting"
    )]
    TooLong {
        /// The header, lower case (`retry-after`, `x-ratelimit-reset`).
        header: &'static str,
        /// Its value as sent (trimmed, at most 100 characters).
        value: String,
        /// The wait it asks for, in words.
        asked: String,
        /// The cap, in seconds.
        cap_secs: u64,
    },
}

/// The rate-limit headers of one answer, as sent (`None`: absent or not text).
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerHints<'a> {
    /// `x-ratelimit-remaining`: requests left in the server's window.
    pub remaining: Option<&'a str>,
    /// `x-ratelimit-reset`: milliseconds until the server's window resets.
    pub reset: Option<&'a str>,
    /// `Retry-After`: seconds, or an HTTP date.
    pub retry_after: Option<&'a str>,
}

fn too_long(header: &'static str, value: &str, asked: String, cap: Duration) -> HintError {
    HintError::TooLong {
        header,
        value: value.chars().take(100).collect(),
        asked,
        cap_secs: cap.as_secs(),
    }
}

/// Reads a `Retry-After` value: a number of seconds, or an HTTP date (IMF-fixdate, RFC 850 or
/// asctime, all GMT) counted from `now` (a date in the past is no wait). `Ok(None)`: unreadable,
/// to be ignored. A wait longer than `cap` is an error naming the header and the value.
pub fn parse_retry_after(
    value: &str,
    now: DateTime<Utc>,
    cap: Duration,
) -> Result<Option<Duration>, HintError> {
    let v = value.trim();
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return match v.parse::<u64>() {
            Ok(secs) if secs <= cap.as_secs() => Ok(Some(Duration::from_secs(secs))),
            Ok(secs) => Err(too_long("retry-after", v, format!("{secs} s"), cap)),
            Err(_) => Err(too_long(
                "retry-after",
                v,
                "more than 2^64 seconds".to_string(),
                cap,
            )),
        };
    }
    let Some(at) = http_date(v) else {
        return Ok(None);
    };
    let wait = (at - now).to_std().unwrap_or(Duration::ZERO);
    if wait > cap {
        return Err(too_long(
            "retry-after",
            v,
            format!("{} s from now", wait.as_secs()),
            cap,
        ));
    }
    Ok(Some(wait))
}

/// Reads an `x-ratelimit-reset` value (milliseconds). `Ok(None)`: unreadable, to be ignored.
pub fn parse_reset_ms(value: &str, cap: Duration) -> Result<Option<Duration>, HintError> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    match v.parse::<u64>() {
        Ok(ms) if u128::from(ms) <= cap.as_millis() => Ok(Some(Duration::from_millis(ms))),
        Ok(ms) => Err(too_long("x-ratelimit-reset", v, format!("{ms} ms"), cap)),
        Err(_) => Err(too_long(
            "x-ratelimit-reset",
            v,
            "more than 2^64 milliseconds".to_string(),
            cap,
        )),
    }
}

/// An HTTP date (RFC 9110 section 5.6.7) in any of its three forms.
fn http_date(v: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc2822(v) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%A, %d-%b-%y %H:%M:%S GMT", "%a %b %e %H:%M:%S %Y"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, format) {
            return Some(t.and_utc());
        }
    }
    None
}

/// A rate window shared by every hrsync process of one company (the store implements it): the
/// budget is one per company, so `hrsync sync` run by hand while `hrsync serve` runs must not
/// together exceed it.
pub trait SharedWindow: Send + Sync + std::fmt::Debug {
    /// Claims one request now if fewer than `budget.requests` were claimed in the last
    /// `budget.window`; otherwise says how long to wait before asking again.
    fn claim(&self, budget: Budget) -> Result<Option<Duration>, String>;
}

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

/// Who a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Scheduled and manual runs, and their detail enrichment.
    Background,
    /// A webhook event being applied.
    Event,
}

impl Purpose {
    fn index(self) -> usize {
        match self {
            Purpose::Background => 0,
            Purpose::Event => 1,
        }
    }

    fn other(self) -> Purpose {
        match self {
            Purpose::Background => Purpose::Event,
            Purpose::Event => Purpose::Background,
        }
    }
}

tokio::task_local! {
    static PURPOSE: Purpose;
}

/// Runs `work` with every HR request it makes counted as an event's (the share
/// [`RateGovernor::reserve_for_events`] keeps).
pub async fn for_events<F: Future>(work: F) -> F::Output {
    PURPOSE.scope(Purpose::Event, work).await
}

/// The purpose of requests made by the current task.
pub fn current_purpose() -> Purpose {
    PURPOSE.try_with(|p| *p).unwrap_or(Purpose::Background)
}

/// Counts a waiting request for as long as it waits (also when its future is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(counter: &'a AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Waiting(counter)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[derive(Debug)]
struct State {
    sent: VecDeque<(Instant, Purpose)>,
    blocked_until: Option<Instant>,
    /// A hint longer than the cap, refused until the instant (the cap from when it came).
    refused: Option<(Instant, HintError)>,
}

/// Shared by every request of one connector (API and token requests alike).
#[derive(Debug)]
pub struct RateGovernor {
    budget: Option<Budget>,
    max_wait: Duration,
    state: Mutex<State>,
    /// The company-wide window, when the store shares one between processes.
    shared: std::sync::OnceLock<std::sync::Arc<dyn SharedWindow>>,
    /// Requests of each window guaranteed to events while they wait (0: no reservation).
    event_share: std::sync::atomic::AtomicU32,
    /// Requests waiting, by purpose.
    waiting: [AtomicUsize; 2],
}

impl RateGovernor {
    /// A governor with an optional configured budget; server waits capped at
    /// [`MAX_SERVER_WAIT`].
    pub fn new(budget: Option<Budget>) -> Self {
        RateGovernor {
            budget,
            max_wait: MAX_SERVER_WAIT,
            state: Mutex::new(State {
                sent: VecDeque::new(),
                blocked_until: None,
                refused: None,
            }),
            shared: std::sync::OnceLock::new(),
            event_share: std::sync::atomic::AtomicU32::new(0),
            waiting: [AtomicUsize::new(0), AtomicUsize::new(0)],
        }
    }

    /// Keeps `share` (0 to 1) of each window's budget for webhook events while they wait, and the
    /// rest for background work while it waits: a burst of events is not starved by enrichment,
    /// nor the reverse. A share above 0 guarantees events at least one request a window, and
    /// background work at least one. Without a configured budget it changes nothing.
    pub fn reserve_for_events(&self, share: f64) {
        let Some(b) = self.budget else { return };
        let n = b.requests;
        let reserved = if share <= 0.0 || n < 2 {
            0
        } else {
            ((f64::from(n) * share).ceil() as u32).clamp(1, n - 1)
        };
        self.event_share
            .store(reserved, std::sync::atomic::Ordering::SeqCst);
    }

    /// Requests of each window kept for events and for background work while they wait.
    fn guarantees(&self, b: Budget) -> [u32; 2] {
        let events = self.event_share.load(Ordering::SeqCst);
        [b.requests - events, events]
    }

    /// Counts this governor's requests in a window shared with other processes too (set once).
    pub fn share(&self, window: std::sync::Arc<dyn SharedWindow>) {
        if self.shared.set(window).is_err() {
            tracing::debug!("the rate window is already shared");
        }
    }

    /// The same governor with another cap on the waits a server may ask for.
    pub fn with_max_wait(mut self, cap: Duration) -> Self {
        self.max_wait = cap;
        self
    }

    /// The configured budget, if any.
    pub fn budget(&self) -> Option<Budget> {
        self.budget
    }

    /// The cap on the waits a server may ask for.
    pub fn max_wait(&self) -> Duration {
        self.max_wait
    }

    /// Like [`RateGovernor::acquire`], but while a hint longer than the cap is in force (for the
    /// cap's duration after it came) it returns that hint's error at once instead of waiting.
    pub async fn acquire_checked(&self) -> Result<(), HintError> {
        {
            let mut s = self.state.lock().await;
            let now = Instant::now();
            match &s.refused {
                Some((until, e)) if *until > now => return Err(e.clone()),
                Some(_) => s.refused = None,
                None => {}
            }
        }
        self.acquire().await;
        Ok(())
    }

    /// Waits until one more request may be sent, and counts it. Never longer than the cap for a
    /// server's hint (plus the configured budget's window).
    pub async fn acquire(&self) {
        let purpose = current_purpose();
        let _waiting = Waiting::new(&self.waiting[purpose.index()]);
        loop {
            let wait = {
                let mut s = self.state.lock().await;
                let now = Instant::now();
                let mut wait_until = s.blocked_until.filter(|t| *t > now);
                if let Some(b) = self.budget {
                    while s
                        .sent
                        .front()
                        .is_some_and(|(t, _)| now.duration_since(*t) >= b.window)
                    {
                        s.sent.pop_front();
                    }
                    let free = b.requests as usize
                        - s.sent.len().min(b.requests as usize)
                        - self.kept_for(purpose.other(), b, &s.sent);
                    if free == 0
                        && let Some((oldest, _)) = s.sent.front()
                    {
                        let free_at = *oldest + b.window;
                        wait_until = Some(wait_until.map_or(free_at, |w| w.max(free_at)));
                    }
                }
                match (wait_until, self.budget, self.shared.get()) {
                    (None, Some(b), Some(shared)) => match shared.claim(b) {
                        Ok(None) => {
                            s.sent.push_back((now, purpose));
                            return;
                        }
                        // Another process spent the window: wait until it frees up.
                        Ok(Some(wait)) => now + wait.min(b.window),
                        Err(e) => {
                            tracing::warn!(error = %e, "the shared rate window cannot be read; counting this process only");
                            s.sent.push_back((now, purpose));
                            return;
                        }
                    },
                    (None, _, _) => {
                        s.sent.push_back((now, purpose));
                        return;
                    }
                    (Some(t), _, _) => t,
                }
            };
            tracing::debug!(
                wait_ms = wait.saturating_duration_since(Instant::now()).as_millis() as u64,
                "rate limit: waiting"
            );
            tokio::time::sleep_until(wait).await;
        }
    }

    /// Requests of the window's free part that `purpose` must leave to the other purpose: the
    /// rest of its guarantee while it has requests waiting, else none.
    fn kept_for(&self, purpose: Purpose, b: Budget, sent: &VecDeque<(Instant, Purpose)>) -> usize {
        if self.waiting[purpose.index()].load(Ordering::SeqCst) == 0 {
            return 0;
        }
        let used = sent.iter().filter(|(_, p)| *p == purpose).count();
        let guaranteed = self.guarantees(b)[purpose.index()] as usize;
        let free = (b.requests as usize).saturating_sub(sent.len());
        guaranteed.saturating_sub(used).min(free)
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
            .filter(|(t, _)| now.duration_since(*t) < b.window)
            .count() as u32;
        Some(b.requests.saturating_sub(used))
    }

    /// Reads the server's rate-limit headers from an answer: a 429 blocks for its `Retry-After`
    /// (or reset, or one second), `x-ratelimit-remaining: 0` blocks until the reset (or one
    /// second). A hint longer than the cap blocks for the cap only, is remembered for
    /// [`RateGovernor::acquire_checked`], and is returned as the error.
    pub async fn observe(&self, status: u16, hints: &ServerHints<'_>) -> Result<(), HintError> {
        let cap = self.max_wait;
        let remaining = hints.remaining.and_then(|v| v.trim().parse::<u64>().ok());
        let reset = || match hints.reset.map(|v| parse_reset_ms(v, cap)) {
            Some(Ok(d)) => Ok(d),
            Some(Err(e)) => Err(e),
            None => Ok(None),
        };
        let block: Result<Option<Duration>, HintError> = if status == 429 {
            let after = match hints.retry_after {
                Some(v) => {
                    let parsed = parse_retry_after(v, Utc::now(), cap);
                    if matches!(parsed, Ok(None)) {
                        tracing::warn!(value = %v, "Retry-After is neither seconds nor an HTTP date; ignored");
                    }
                    parsed
                }
                None => Ok(None),
            };
            match after {
                Ok(Some(d)) => Ok(Some(d)),
                Ok(None) => reset().map(|r| Some(r.unwrap_or(Duration::from_secs(1)))),
                Err(e) => Err(e),
            }
        } else if remaining == Some(0) {
            reset().map(|r| Some(r.unwrap_or(Duration::from_secs(1))))
        } else {
            Ok(None)
        };
        let now = Instant::now();
        // A little slack: the server's window and ours do not tick together.
        let slack = Duration::from_millis(25);
        match block {
            Ok(None) => Ok(()),
            Ok(Some(d)) => {
                let until = now + d + slack;
                let mut s = self.state.lock().await;
                s.blocked_until = Some(s.blocked_until.map_or(until, |b| b.max(until)));
                Ok(())
            }
            Err(e) => {
                let until = now + cap + slack;
                let mut s = self.state.lock().await;
                s.blocked_until = Some(s.blocked_until.map_or(until, |b| b.max(until)));
                s.refused = Some((until, e.clone()));
                Err(e)
            }
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

    type Grants = std::sync::Arc<std::sync::Mutex<Vec<(Purpose, Duration)>>>;

    /// `tasks` tasks of `purpose`, each acquiring `each` times in a row from `at`; every grant
    /// is logged with its time since `start`.
    fn spawn_load(
        g: &std::sync::Arc<RateGovernor>,
        grants: &Grants,
        start: Instant,
        purpose: Purpose,
        tasks: usize,
        each: usize,
        at: Duration,
    ) -> Vec<tokio::task::JoinHandle<()>> {
        (0..tasks)
            .map(|_| {
                let (g, grants) = (g.clone(), grants.clone());
                let work = async move {
                    tokio::time::sleep_until(start + at).await;
                    for _ in 0..each {
                        g.acquire().await;
                        grants
                            .lock()
                            .unwrap()
                            .push((current_purpose(), start.elapsed()));
                    }
                };
                match purpose {
                    Purpose::Event => tokio::spawn(for_events(work)),
                    Purpose::Background => tokio::spawn(work),
                }
            })
            .collect()
    }

    fn in_window(grants: &Grants, purpose: Purpose, from: u64, to: u64) -> usize {
        grants
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, t)| {
                *p == purpose && *t >= Duration::from_secs(from) && *t < Duration::from_secs(to)
            })
            .count()
    }

    #[tokio::test(start_paused = true)]
    async fn events_get_their_share_while_enrichment_saturates_the_budget() {
        let g = std::sync::Arc::new(RateGovernor::new(Some(Budget {
            requests: 4,
            window: Duration::from_secs(10),
        })));
        g.reserve_for_events(0.5);
        let grants = Grants::default();
        let start = Instant::now();
        // Enrichment: eight workers, each wanting many details; it alone fills the first window.
        let mut all = spawn_load(
            &g,
            &grants,
            start,
            Purpose::Background,
            8,
            6,
            Duration::ZERO,
        );
        // A burst of events arrives once the window is full.
        all.extend(spawn_load(
            &g,
            &grants,
            start,
            Purpose::Event,
            6,
            1,
            Duration::from_secs(1),
        ));
        for t in all {
            t.await.unwrap();
        }
        assert_eq!(in_window(&grants, Purpose::Background, 0, 1), 4);
        // While both wait, each gets its half of every window.
        for w in [10, 20, 30] {
            assert_eq!(
                in_window(&grants, Purpose::Event, w, w + 10),
                2,
                "{grants:?}"
            );
            assert_eq!(
                in_window(&grants, Purpose::Background, w, w + 10),
                2,
                "{grants:?}"
            );
        }
        // Never more than the budget in a window, whoever asked.
        let times: Vec<Duration> = grants.lock().unwrap().iter().map(|(_, t)| *t).collect();
        let mut sorted = times.clone();
        sorted.sort();
        for w in sorted.windows(5) {
            assert!(w[4] - w[0] >= Duration::from_secs(10), "{sorted:?}");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn enrichment_is_not_starved_by_a_burst_of_events_and_either_alone_uses_everything() {
        let g = std::sync::Arc::new(RateGovernor::new(Some(Budget {
            requests: 4,
            window: Duration::from_secs(10),
        })));
        g.reserve_for_events(0.25);
        let grants = Grants::default();
        let start = Instant::now();
        // A burst of twenty events alone takes the whole first window.
        let mut all = spawn_load(&g, &grants, start, Purpose::Event, 20, 1, Duration::ZERO);
        // One enrichment worker starts once the window is full.
        all.extend(spawn_load(
            &g,
            &grants,
            start,
            Purpose::Background,
            1,
            6,
            Duration::from_secs(1),
        ));
        for t in all {
            t.await.unwrap();
        }
        assert_eq!(in_window(&grants, Purpose::Event, 0, 1), 4);
        // With both waiting, background work keeps three of four (events one).
        assert_eq!(
            in_window(&grants, Purpose::Background, 10, 20),
            3,
            "{grants:?}"
        );
        assert_eq!(in_window(&grants, Purpose::Event, 10, 20), 1, "{grants:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn the_share_is_at_least_one_request_and_never_the_whole_window() {
        let b = Budget {
            requests: 20,
            window: Duration::from_secs(60),
        };
        let g = RateGovernor::new(Some(b));
        assert_eq!(g.guarantees(b), [20, 0]);
        g.reserve_for_events(0.25);
        assert_eq!(g.guarantees(b), [15, 5]);
        g.reserve_for_events(0.01);
        assert_eq!(g.guarantees(b), [19, 1]);
        g.reserve_for_events(0.999);
        assert_eq!(g.guarantees(b), [1, 19]);
        g.reserve_for_events(0.0);
        assert_eq!(g.guarantees(b), [20, 0]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_server_saying_zero_remaining_blocks_until_reset() {
        let g = RateGovernor::new(None);
        g.observe(
            200,
            &ServerHints {
                remaining: Some("0"),
                reset: Some("1500"),
                retry_after: None,
            },
        )
        .await
        .unwrap();
        let start = Instant::now();
        g.acquire().await;
        assert!(start.elapsed() >= Duration::from_millis(1500));
    }

    #[test]
    fn retry_after_in_seconds_and_dates_within_the_cap() {
        let now = DateTime::parse_from_rfc3339("2025-03-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let cap = MAX_SERVER_WAIT;
        assert_eq!(
            parse_retry_after(" 7 ", now, cap).unwrap(),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Sat, 01 Mar 2025 12:00:30 GMT", now, cap).unwrap(),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Saturday, 01-Mar-25 12:00:05 GMT", now, cap).unwrap(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_retry_after("Sat Mar  1 12:01:00 2025", now, cap).unwrap(),
            Some(Duration::from_secs(60))
        );
        // A date in the past: no wait.
        assert_eq!(
            parse_retry_after("Fri, 28 Feb 2025 12:00:00 GMT", now, cap).unwrap(),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now, cap).unwrap(), None);
        assert_eq!(parse_retry_after("-5", now, cap).unwrap(), None);
    }

    #[test]
    fn a_hint_past_the_cap_is_an_error_naming_header_and_value() {
        let now = Utc::now();
        let e = parse_retry_after("18446744073709551615", now, MAX_SERVER_WAIT).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("`retry-after: 18446744073709551615`"),
            "{text}"
        );
        assert!(text.contains("600-second cap"), "{text}");
        let e = parse_retry_after("99999999999999999999999", now, MAX_SERVER_WAIT).unwrap_err();
        assert!(e.to_string().contains("more than 2^64 seconds"), "{e}");
        let e =
            parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", now, MAX_SERVER_WAIT).unwrap_err();
        assert!(e.to_string().contains("2100"), "{e}");
        assert!(parse_retry_after("601", now, MAX_SERVER_WAIT).is_err());
        assert!(parse_retry_after("600", now, MAX_SERVER_WAIT).is_ok());
        let e = parse_reset_ms("18446744073709551615", MAX_SERVER_WAIT).unwrap_err();
        assert!(
            e.to_string()
                .contains("`x-ratelimit-reset: 18446744073709551615`"),
            "{e}"
        );
        assert_eq!(
            parse_reset_ms("600000", MAX_SERVER_WAIT).unwrap(),
            Some(Duration::from_secs(600))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_huge_hint_blocks_for_the_cap_only_and_is_refused_meanwhile() {
        let g = RateGovernor::new(None).with_max_wait(Duration::from_secs(30));
        let e = g
            .observe(
                429,
                &ServerHints {
                    remaining: Some("0"),
                    reset: None,
                    retry_after: Some("18446744073709551615"),
                },
            )
            .await
            .unwrap_err();
        assert!(matches!(
            e,
            HintError::TooLong {
                header: "retry-after",
                ..
            }
        ));
        assert_eq!(g.acquire_checked().await.unwrap_err(), e);
        let start = Instant::now();
        g.acquire().await;
        let waited = start.elapsed();
        assert!(
            waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
            "{waited:?}"
        );
        g.acquire_checked().await.unwrap();
        // The same for a huge reset with no requests remaining.
        assert!(
            g.observe(
                200,
                &ServerHints {
                    remaining: Some("0"),
                    reset: Some("18446744073709551615"),
                    retry_after: None,
                },
            )
            .await
            .is_err()
        );
    }
}
