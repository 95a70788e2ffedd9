//! Prometheus metrics through the `prometheus-client` registry, served at `GET /metrics` in the
//! OpenMetrics text format.
//!
//! Counters: webhooks received and rejected, events processed and failed, errors, event-worker
//! restarts, runs by trigger, changes by kind. Gauges (read at scrape time): quarantine size,
//! event queue depth, the oldest waiting event's age, the queue's expected drain time, the
//! connector's remaining request budget. Histograms: webhook received → applied latency, event
//! processing time, run duration by trigger, and LDAP operation latency by operation
//! ([`observe_ldap_operation`]).

use std::sync::Mutex;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};

use crate::sync::{Engine, RunReport};

pub use crate::telemetry::observe_ldap_operation;
use crate::telemetry::{Histograms, Label};

/// Buckets for whole runs and events: 50 ms to about 27 minutes.
fn slow_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.05, 2.0, 16))
}

/// The kinds of change counted by `hrsync_changes_total`.
const CHANGE_KINDS: [&str; 8] = [
    "create", "update", "move", "enable", "disable", "delete", "group", "manager",
];

/// How much one new event's processing time counts in the recent per-event time.
const RECENT_WEIGHT: f64 = 0.2;

/// The service's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// Registered apart: shown only when the connector has a configured budget.
    budget_registry: Registry,
    /// Webhook deliveries accepted and stored.
    pub webhooks_received: Counter,
    /// Webhook deliveries refused (signature, freshness, format).
    pub webhooks_rejected: Counter,
    /// HR events applied.
    pub events_processed: Counter,
    /// HR events given up after their attempts.
    pub events_failed: Counter,
    /// Errors: failed people, plugin failures, store failures.
    pub errors: Counter,
    /// Event workers restarted after a panic.
    pub worker_restarts: Counter,
    runs: Family<Label, Counter>,
    changes: Family<Label, Counter>,
    event_latency: Histogram,
    event_duration: Histogram,
    run_duration: Histograms,
    quarantine_size: Gauge,
    queue_depth: Gauge,
    queue_oldest_age: Gauge<f64, AtomicU64>,
    queue_drain: Gauge<f64, AtomicU64>,
    budget_remaining: Gauge,
    details_pending: Gauge,
    /// Event workers configured.
    workers: usize,
    /// A moving average of one event's processing time, in seconds.
    recent_event_secs: Mutex<Option<f64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(1)
    }
}

impl Metrics {
    /// The metrics of a service with `workers` event workers.
    pub fn new(workers: usize) -> Self {
        let mut m = Metrics {
            registry: Registry::default(),
            budget_registry: Registry::default(),
            webhooks_received: Counter::default(),
            webhooks_rejected: Counter::default(),
            events_processed: Counter::default(),
            events_failed: Counter::default(),
            errors: Counter::default(),
            worker_restarts: Counter::default(),
            runs: Family::default(),
            changes: Family::default(),
            event_latency: slow_histogram(),
            event_duration: slow_histogram(),
            run_duration: Family::new_with_constructor(slow_histogram as fn() -> Histogram),
            quarantine_size: Gauge::default(),
            queue_depth: Gauge::default(),
            queue_oldest_age: Gauge::default(),
            queue_drain: Gauge::default(),
            budget_remaining: Gauge::default(),
            details_pending: Gauge::default(),
            workers: workers.max(1),
            recent_event_secs: Mutex::new(None),
        };
        let r = &mut m.registry;
        // Counter names get `_total` from the registry.
        r.register(
            "hrsync_webhooks_received",
            "Webhook deliveries accepted and stored",
            m.webhooks_received.clone(),
        );
        r.register(
            "hrsync_webhooks_rejected",
            "Webhook deliveries refused (signature, freshness, format)",
            m.webhooks_rejected.clone(),
        );
        r.register(
            "hrsync_events_processed",
            "HR events applied",
            m.events_processed.clone(),
        );
        r.register(
            "hrsync_events_failed",
            "HR events given up after their attempts",
            m.events_failed.clone(),
        );
        r.register(
            "hrsync_errors",
            "Errors: failed people, plugin failures, store failures",
            m.errors.clone(),
        );
        r.register(
            "hrsync_event_worker_restarts",
            "Event workers restarted after a panic",
            m.worker_restarts.clone(),
        );
        r.register("hrsync_runs", "Sync runs by trigger", m.runs.clone());
        r.register(
            "hrsync_changes",
            "Directory changes planned by runs, by kind",
            m.changes.clone(),
        );
        r.register_with_unit(
            "hrsync_event_apply_latency",
            "From a webhook event's receipt to its person's changes applied (merged events included)",
            Unit::Seconds,
            m.event_latency.clone(),
        );
        r.register_with_unit(
            "hrsync_event_processing",
            "One event's processing time in a worker: fetch, plan, apply, templates",
            Unit::Seconds,
            m.event_duration.clone(),
        );
        r.register_with_unit(
            "hrsync_run_duration",
            "Sync run duration by trigger",
            Unit::Seconds,
            m.run_duration.clone(),
        );
        r.register_with_unit(
            "hrsync_ldap_operation_duration",
            "LDAP operation latency by operation",
            Unit::Seconds,
            crate::telemetry::ldap_operations(),
        );
        r.register(
            "hrsync_quarantine_size",
            "Records in quarantine",
            m.quarantine_size.clone(),
        );
        r.register(
            "hrsync_event_queue_depth",
            "HR events waiting or in progress",
            m.queue_depth.clone(),
        );
        r.register(
            "hrsync_event_queue_oldest_age_seconds",
            "Age of the oldest waiting event",
            m.queue_oldest_age.clone(),
        );
        r.register(
            "hrsync_event_queue_drain_seconds",
            "Expected time to drain the event queue: depth x recent per-event time / workers (NaN until an event was timed)",
            m.queue_drain.clone(),
        );
        r.register(
            "hrsync_details_pending",
            "People listed whose detail is missing or older than their list record: enrichment still to do",
            m.details_pending.clone(),
        );
        // Zeros rather than absent series for the label values known in advance.
        for trigger in ["event", "cron"] {
            let label: Label = [("trigger", trigger.to_string())];
            drop(m.runs.get_or_create(&label));
            drop(m.run_duration.get_or_create(&label));
        }
        for kind in CHANGE_KINDS {
            drop(m.changes.get_or_create(&[("kind", kind.to_string())]));
        }
        m.budget_registry.register(
            "hrsync_connector_request_budget_remaining",
            "Requests the connector may still send in the current rate window",
            m.budget_remaining.clone(),
        );
        m
    }

    /// Counts a run (by trigger kind, with its duration) and its changes by kind.
    pub fn record_run(&self, trigger_kind: &str, report: &RunReport, took: Duration) {
        let trigger: Label = [("trigger", trigger_kind.to_string())];
        self.runs.get_or_create(&trigger).inc();
        self.run_duration
            .get_or_create(&trigger)
            .observe(took.as_secs_f64());
        let s = &report.plan.summary;
        let counts = [
            s.create, s.update, s.moves, s.enable, s.disable, s.delete, s.groups, s.managers,
        ];
        for (k, v) in CHANGE_KINDS.iter().zip(counts) {
            self.changes
                .get_or_create(&[("kind", k.to_string())])
                .inc_by(v as u64);
        }
        if !report.failed.is_empty() {
            self.errors.inc_by(report.failed.len() as u64);
        }
    }

    /// Records an event finished by a worker: how long it took, and (when applied) how long
    /// after their receipt (RFC 3339 times) its events took effect.
    pub fn record_event(&self, took: Duration, applied_received_at: &[&str]) {
        let secs = took.as_secs_f64();
        self.event_duration.observe(secs);
        if let Ok(mut recent) = self.recent_event_secs.lock() {
            *recent = Some(match *recent {
                Some(r) => r + RECENT_WEIGHT * (secs - r),
                None => secs,
            });
        }
        let now = chrono::Utc::now();
        for at in applied_received_at {
            if let Ok(t) = chrono::DateTime::parse_from_rfc3339(at) {
                let latency = (now - t.with_timezone(&chrono::Utc)).num_milliseconds();
                self.event_latency.observe(latency.max(0) as f64 / 1000.0);
            }
        }
    }

    /// The expected time to drain `depth` events: depth × the recent per-event time / workers
    /// (`None` until an event was timed; zero for an empty queue).
    pub fn drain_estimate(&self, depth: i64) -> Option<f64> {
        if depth <= 0 {
            return Some(0.0);
        }
        let recent = (*self.recent_event_secs.lock().ok()?)?;
        Some(depth as f64 * recent / self.workers as f64)
    }

    /// The exposition text (OpenMetrics), with the gauges read now.
    pub fn render(&self, engine: &Engine) -> String {
        let store = engine.store();
        match store.quarantined() {
            Ok(q) => {
                self.quarantine_size.set(q.len() as i64);
            }
            Err(e) => tracing::warn!(error = %e, "metrics: cannot read the quarantine"),
        }
        match store.details_pending() {
            Ok(n) => {
                self.details_pending.set(n);
            }
            Err(e) => tracing::warn!(error = %e, "metrics: cannot count pending details"),
        }
        match store.queue_depth() {
            Ok((depth, oldest)) => {
                self.queue_depth.set(depth);
                let age = oldest
                    .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                    .map(|t| {
                        (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_milliseconds()
                            as f64
                            / 1000.0
                    })
                    .unwrap_or(0.0);
                self.queue_oldest_age.set(age);
                self.queue_drain
                    .set(self.drain_estimate(depth).unwrap_or(f64::NAN));
            }
            Err(e) => tracing::warn!(error = %e, "metrics: cannot read the event queue"),
        }
        let mut out = String::new();
        let budget = engine.connector().request_budget();
        if let Some(left) = budget {
            self.budget_remaining.set(i64::from(left));
        }
        let encoded = encode_registry(&mut out, &self.registry)
            .and_then(|()| match budget {
                Some(_) => encode_registry(&mut out, &self.budget_registry),
                None => Ok(()),
            })
            .and_then(|()| encode_eof(&mut out));
        if let Err(e) = encoded {
            // Writing into a String fails only if an encoder refuses a value.
            tracing::error!(error = %e, "metrics: cannot encode");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn text(m: &Metrics) -> String {
        let mut out = String::new();
        encode_registry(&mut out, &m.registry).unwrap();
        out
    }

    #[test]
    fn the_names_scrapers_know_are_kept() {
        let m = Metrics::new(4);
        m.webhooks_rejected.inc_by(2);
        m.runs
            .get_or_create(&[("trigger", "event".to_string())])
            .inc();
        let t = text(&m);
        for line in [
            "hrsync_webhooks_received_total 0",
            "hrsync_webhooks_rejected_total 2",
            "hrsync_events_processed_total 0",
            "hrsync_events_failed_total 0",
            "hrsync_errors_total 0",
            "hrsync_runs_total{trigger=\"event\"} 1",
            "hrsync_runs_total{trigger=\"cron\"} 0",
            "hrsync_changes_total{kind=\"disable\"} 0",
            "hrsync_event_queue_depth 0",
            "hrsync_quarantine_size 0",
            "# TYPE hrsync_event_queue_oldest_age_seconds gauge",
            "# TYPE hrsync_event_apply_latency_seconds histogram",
            "# TYPE hrsync_run_duration_seconds histogram",
            "# TYPE hrsync_event_queue_drain_seconds gauge",
        ] {
            assert!(t.contains(line), "missing `{line}` in\n{t}");
        }
    }

    #[test]
    fn ldap_operations_and_event_latency_are_observed() {
        let m = Metrics::new(2);
        observe_ldap_operation("modify", Duration::from_millis(3));
        let received = (chrono::Utc::now() - chrono::Duration::seconds(2))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        m.record_event(Duration::from_secs(1), &[&received]);
        let t = text(&m);
        assert!(
            t.contains("hrsync_ldap_operation_duration_seconds_count{operation=\"modify\"}"),
            "{t}"
        );
        assert!(
            t.contains("hrsync_event_apply_latency_seconds_count 1"),
            "{t}"
        );
        assert!(
            t.contains("hrsync_event_apply_latency_seconds_bucket{le=\"3.2\"} 1"),
            "{t}"
        );
        assert!(
            t.contains("hrsync_event_apply_latency_seconds_bucket{le=\"1.6\"} 0"),
            "{t}"
        );
    }

    #[test]
    fn the_drain_estimate_is_depth_times_recent_time_over_workers() {
        let m = Metrics::new(4);
        assert_eq!(m.drain_estimate(0), Some(0.0));
        assert_eq!(m.drain_estimate(10), None, "no event timed yet");
        m.record_event(Duration::from_secs(2), &[]);
        assert_eq!(m.drain_estimate(10), Some(5.0));
        m.record_event(Duration::from_secs(4), &[]);
        // 2 + 0.2 * (4 - 2) = 2.4 s an event.
        let d = m.drain_estimate(10).unwrap();
        assert!((d - 6.0).abs() < 1e-9, "{d}");
    }
}
