//! The simulated company, its request bookkeeping, and [`BambooHandle`], the test-side handle.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};

use super::BambooConfig;
use super::person::{ChangeAction, Person};
use crate::remote_sim::RateLimit;

/// A failure served instead of (or before) the normal response ([`BambooHandle::inject`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The throttling answer (status [`BambooConfig::throttle_status`], `Retry-After`).
    Throttled,
    /// This status, empty body, `X-BambooHR-Error-Message` header.
    ServerError(u16),
    /// The request is answered normally after this delay.
    Latency(Duration),
}

/// A snapshot of what the simulator has seen ([`BambooHandle::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BambooStats {
    /// Every request, rejected ones included.
    pub total_requests: u64,
    /// Count per path without the query, relative to the API base
    /// (`/api/gateway.php/{companyDomain}/v1`), e.g. `/employees/directory`, `/employees/7`.
    /// Paths outside the base (another company domain included) are counted in full.
    pub per_path: BTreeMap<String, u64>,
    /// Count per method and route, ids collapsed: `GET /employees/{id}`.
    pub per_route: BTreeMap<String, u64>,
    /// Every throttling answer: the configured limit exceeded, and injected ones.
    pub throttled: u64,
    /// Throttling answers because the configured limit was exceeded (not injected).
    pub rate_limited: u64,
    /// 401s sent.
    pub unauthorized: u64,
    /// Injected faults served.
    pub faults_served: u64,
    /// Most requests counted in one rate-limit window, rejected ones included (0 without a
    /// limit). A client that never exceeded the limit keeps this at or below the limit.
    pub max_requests_in_window: u32,
}

impl BambooStats {
    /// Requests to this path relative to the API base, e.g. `/employees/directory`.
    pub fn path_count(&self, path: &str) -> u64 {
        self.per_path.get(path).copied().unwrap_or(0)
    }

    /// Requests to this route, e.g. `GET /employees/{id}`.
    pub fn route_count(&self, route: &str) -> u64 {
        self.per_route.get(route).copied().unwrap_or(0)
    }

    /// Requests to any path under the API base (excluding wrong bases and stray paths).
    pub fn api_requests(&self) -> u64 {
        self.per_path
            .iter()
            .filter(|(p, _)| !p.starts_with("/api/"))
            .map(|(_, n)| n)
            .sum()
    }
}

/// `METHOD /route` for a path relative to the API base: numeric segments become `{id}`.
pub(crate) fn route_of(method: &str, relative: &str) -> String {
    let collapsed: Vec<&str> = relative
        .split('/')
        .map(|seg| {
            if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else {
                seg
            }
        })
        .collect();
    format!("{method} {}", collapsed.join("/"))
}

/// Fixed-window limiter.
#[derive(Debug)]
pub(crate) struct Limiter {
    limit: Option<RateLimit>,
    window_start: Option<Instant>,
    /// Requests counted in the current window, rejected ones included.
    pub count: u32,
}

impl Limiter {
    fn new(limit: Option<RateLimit>) -> Limiter {
        Limiter {
            limit,
            window_start: None,
            count: 0,
        }
    }

    /// Counts a request; `Err(wait)` when over the limit, `wait` being the time to the next
    /// window.
    pub(crate) fn record(&mut self, now: Instant) -> Result<u32, Duration> {
        let Some(limit) = self.limit else {
            return Ok(0);
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
        if self.count <= limit.requests {
            Ok(self.count)
        } else {
            Err((start + limit.window).saturating_duration_since(now))
        }
    }

    /// Time to the end of the current window (or a whole window, or 1 s without a limit).
    pub(crate) fn wait(&self, now: Instant) -> Duration {
        match (self.limit, self.window_start) {
            (Some(limit), Some(start)) => (start + limit.window).saturating_duration_since(now),
            (Some(limit), None) => limit.window,
            (None, _) => Duration::from_secs(1),
        }
    }
}

/// Everything the simulator knows, behind one mutex.
pub(crate) struct BambooState {
    pub config: BambooConfig,
    pub today: NaiveDate,
    pub people: BTreeMap<u32, Person>,
    /// Deleted people: id and when.
    pub deleted: BTreeMap<u32, DateTime<Utc>>,
    pub directory_enabled: bool,
    pub limiter: Limiter,
    pub faults: VecDeque<Fault>,
    pub stats: BambooStats,
}

impl BambooState {
    /// The supervisor record of `p`, when it names someone who exists.
    pub fn supervisor_of(&self, p: &Person) -> Option<&Person> {
        p.supervisor_eid.and_then(|id| self.people.get(&id))
    }
}

/// A cheap, cloneable handle to a running simulator's state, for tests to inspect and change the
/// simulated company while a client talks to it over HTTP.
#[derive(Clone)]
pub struct BambooHandle {
    inner: Arc<Mutex<BambooState>>,
}

impl BambooHandle {
    pub(crate) fn new(config: BambooConfig, today: NaiveDate) -> BambooHandle {
        let people = config.people.iter().map(|p| (p.id, p.clone())).collect();
        let state = BambooState {
            today,
            people,
            deleted: BTreeMap::new(),
            directory_enabled: config.directory_enabled,
            limiter: Limiter::new(config.rate_limit),
            faults: VecDeque::new(),
            stats: BambooStats::default(),
            config,
        };
        BambooHandle {
            inner: Arc::new(Mutex::new(state)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BambooState> {
        // A test that panicked while holding the lock leaves consistent enough data to go on.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with the state locked.
    pub(crate) fn with_state<R>(&self, f: impl FnOnce(&mut BambooState) -> R) -> R {
        f(&mut self.lock())
    }

    /// The configuration the simulator was started with (its `people` as seeded, not as now).
    pub fn config(&self) -> BambooConfig {
        self.lock().config.clone()
    }

    /// The date the simulator treats as today (pre-hires, directory filtering).
    pub fn today(&self) -> NaiveDate {
        self.lock().today
    }

    /// Everybody, by id (deleted people excluded).
    pub fn people(&self) -> Vec<Person> {
        self.lock().people.values().cloned().collect()
    }

    /// One person.
    pub fn person(&self, id: u32) -> Option<Person> {
        self.lock().people.get(&id).cloned()
    }

    /// Adds (or replaces) a person; records an `Inserted` change now. Returns the id.
    pub fn add(&self, mut person: Person) -> u32 {
        person.last_changed = Utc::now();
        person.last_action = ChangeAction::Inserted;
        let id = person.id;
        let mut s = self.lock();
        s.deleted.remove(&id);
        s.people.insert(id, person);
        id
    }

    /// Changes a person in place; records an `Updated` change now. False when nobody has `id`.
    pub fn update(&self, id: u32, change: impl FnOnce(&mut Person)) -> bool {
        let mut s = self.lock();
        match s.people.get_mut(&id) {
            Some(p) => {
                change(p);
                p.last_changed = Utc::now();
                p.last_action = ChangeAction::Updated;
                true
            }
            None => false,
        }
    }

    /// Deletes a person (BambooHR's delete, not a termination); records a `Deleted` change now.
    pub fn remove(&self, id: u32) -> Option<Person> {
        let mut s = self.lock();
        let removed = s.people.remove(&id);
        if removed.is_some() {
            s.deleted.insert(id, Utc::now());
        }
        removed
    }

    /// Turns the company directory on or off (off: `GET /employees/directory` answers 403).
    pub fn set_directory_enabled(&self, enabled: bool) {
        self.lock().directory_enabled = enabled;
    }

    /// Queues `fault` for the next `times` requests (first in, first out, one per request).
    pub fn inject(&self, fault: Fault, times: u32) {
        self.lock()
            .faults
            .extend(std::iter::repeat_n(fault, times as usize));
    }

    /// Forgets every pending fault.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    /// Faults still pending.
    pub fn pending_faults(&self) -> usize {
        self.lock().faults.len()
    }

    /// What the simulator has seen so far.
    pub fn stats(&self) -> BambooStats {
        self.lock().stats.clone()
    }

    /// Forgets the statistics (the rate-limit window keeps running).
    pub fn reset_stats(&self) {
        self.lock().stats = BambooStats::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_collapse_numeric_ids() {
        assert_eq!(route_of("GET", "/employees/42"), "GET /employees/{id}");
        assert_eq!(
            route_of("GET", "/employees/directory"),
            "GET /employees/directory"
        );
        assert_eq!(route_of("POST", "/reports/custom"), "POST /reports/custom");
    }

    #[test]
    fn limiter_counts_and_resets() {
        let mut l = Limiter::new(Some(RateLimit {
            requests: 2,
            window: Duration::from_secs(10),
        }));
        let t0 = Instant::now();
        assert_eq!(l.record(t0), Ok(1));
        assert_eq!(l.record(t0 + Duration::from_secs(1)), Ok(2));
        assert_eq!(
            l.record(t0 + Duration::from_secs(2)),
            Err(Duration::from_secs(8))
        );
        assert_eq!(l.record(t0 + Duration::from_secs(10)), Ok(1));
    }
}
