//! Process-wide measurements that code deep in the stack records and `serve`'s `/metrics` shows.
//! A leaf module: it imports nothing of hrsync, so the directory client can record into it
//! without knowing the service.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

/// One label, `name="value"`.
pub type Label = [(&'static str, String); 1];

/// A family of histograms made with one fixed set of buckets.
pub type Histograms = Family<Label, Histogram, fn() -> Histogram>;

/// Buckets for single LDAP operations: 1 ms to about 33 s.
fn fast_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// LDAP operation latency by operation, shared by everything in the process.
static LDAP_OPERATIONS: LazyLock<Histograms> =
    LazyLock::new(|| Family::new_with_constructor(fast_histogram as fn() -> Histogram));

/// Records how long one LDAP operation took (`operation`: `bind`, `search`, `read`, `add`,
/// `modify`, `rename`, `delete` — a small fixed set, it becomes a label). Cheap and lock-free
/// once the label exists; callable from any task, with or without a running service. Shows as
/// `hrsync_ldap_operation_duration_seconds{operation="…"}` on `/metrics`.
pub fn observe_ldap_operation(operation: &str, elapsed: Duration) {
    LDAP_OPERATIONS
        .get_or_create(&[("operation", operation.to_string())])
        .observe(elapsed.as_secs_f64());
}

/// The LDAP latency family, for registering in a registry.
pub fn ldap_operations() -> Histograms {
    LDAP_OPERATIONS.clone()
}

/// How many LDAP operations of one kind (see [`observe_ldap_operation`]) this process has
/// recorded so far: for tests and benches that count searches and writes.
pub fn ldap_operation_count(operation: &str) -> u64 {
    let mut registry = prometheus_client::registry::Registry::default();
    registry.register("ldap", "LDAP operations", ldap_operations());
    let mut text = String::new();
    if prometheus_client::encoding::text::encode(&mut text, &registry).is_err() {
        return 0;
    }
    let series = format!("ldap_count{{operation=\"{operation}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&series)?.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_counted_by_kind() {
        let before = ldap_operation_count("rename");
        observe_ldap_operation("rename", Duration::from_millis(3));
        observe_ldap_operation("rename", Duration::from_millis(5));
        assert_eq!(ldap_operation_count("rename"), before + 2);
        assert_eq!(ldap_operation_count("no-such-operation"), 0);
    }
}
