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
