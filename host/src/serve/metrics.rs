//! Prometheus metrics, written by hand in the text exposition format (a handful of counters and
//! gauges does not need a metrics registry crate).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::sync::{Engine, RunReport};

/// The service's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    pub webhooks_received: AtomicU64,
    pub webhooks_rejected: AtomicU64,
    pub events_processed: AtomicU64,
    pub events_failed: AtomicU64,
    pub errors: AtomicU64,
    runs: Mutex<BTreeMap<String, u64>>,
    changes: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    /// Counts a run and its changes by kind.
    pub fn record_run(&self, trigger_kind: &str, report: &RunReport) {
        if let Ok(mut runs) = self.runs.lock() {
            *runs.entry(trigger_kind.to_string()).or_default() += 1;
        }
        let s = &report.plan.summary;
        if let Ok(mut c) = self.changes.lock() {
            for (k, v) in [
                ("create", s.create),
                ("update", s.update),
                ("move", s.moves),
                ("enable", s.enable),
                ("disable", s.disable),
                ("delete", s.delete),
                ("group", s.groups),
                ("manager", s.managers),
            ] {
                *c.entry(k.to_string()).or_default() += v as u64;
            }
        }
        if !report.failed.is_empty() {
            self.errors
                .fetch_add(report.failed.len() as u64, Ordering::Relaxed);
        }
    }

    /// The exposition text.
    pub fn render(&self, engine: &Engine) -> String {
        let mut out = String::new();
        let mut counter = |name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        counter(
            "hrsync_webhooks_received_total",
            "Webhook deliveries accepted and stored.",
            self.webhooks_received.load(Ordering::Relaxed),
        );
        counter(
            "hrsync_webhooks_rejected_total",
            "Webhook deliveries refused (signature, freshness, format).",
            self.webhooks_rejected.load(Ordering::Relaxed),
        );
        counter(
            "hrsync_events_processed_total",
            "HR events applied.",
            self.events_processed.load(Ordering::Relaxed),
        );
        counter(
            "hrsync_events_failed_total",
            "HR events given up after their attempts.",
            self.events_failed.load(Ordering::Relaxed),
        );
        counter(
            "hrsync_errors_total",
            "Errors: failed people, plugin failures, store failures.",
            self.errors.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP hrsync_runs_total Sync runs by trigger.\n# TYPE hrsync_runs_total counter"
        );
        if let Ok(runs) = self.runs.lock() {
            for (k, v) in runs.iter() {
                let _ = writeln!(out, "hrsync_runs_total{{trigger=\"{k}\"}} {v}");
            }
        }
        let _ = writeln!(
            out,
            "# HELP hrsync_changes_total Directory changes planned by runs, by kind.\n# TYPE hrsync_changes_total counter"
        );
        if let Ok(c) = self.changes.lock() {
            for (k, v) in c.iter() {
                let _ = writeln!(out, "hrsync_changes_total{{kind=\"{k}\"}} {v}");
            }
        }
        let store = engine.store();
        let quarantine = store.quarantined().map(|q| q.len()).unwrap_or(0);
        let (depth, oldest) = store.queue_depth().unwrap_or((0, None));
        let age = oldest
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
            .map(|t| {
                (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_milliseconds() as f64
                    / 1000.0
            })
            .unwrap_or(0.0);
        let mut gauge = |name: &str, help: &str, v: String| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        gauge(
            "hrsync_quarantine_size",
            "Records in quarantine.",
            quarantine.to_string(),
        );
        gauge(
            "hrsync_event_queue_depth",
            "HR events waiting or in progress.",
            depth.to_string(),
        );
        gauge(
            "hrsync_event_queue_oldest_age_seconds",
            "Age of the oldest waiting event.",
            format!("{age:.3}"),
        );
        if let Some(left) = engine.connector().request_budget() {
            gauge(
                "hrsync_connector_request_budget_remaining",
                "Requests the connector may still send in the current rate window.",
                left.to_string(),
            );
        }
        out
    }
}
