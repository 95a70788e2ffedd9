//! Benchmark: the plugin runtime itself, with the Remote plugin and no network.
//!
//! 1. loading the Remote component: compiled from scratch (no cache) vs loaded from a warm
//!    on-disk cache by a fresh `Runtime` (wasmtime's cache is keyed by the content hash);
//! 2. a fresh store + instance alone, and `describe` (instance + one trivial call);
//! 3. `list-people` over one canned page of 1,000 Remote employments served by an in-process
//!    `HttpBackend` (no sockets): the guest parses the JSON and maps it, the host lifts the 1,000
//!    people. An empty page gives the fixed cost, hence the cost per person;
//! 4. the process's peak RSS.
//!
//! Hand-rolled timing: warm-up iterations first, then median / p99 / min over N iterations.
//!
//! Run: `cargo bench -p hrsync-tests --bench runtime`. Prints a table to stdout.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hrsync::runtime::wit::{HttpError, HttpRequest, HttpResponse, Page};
use hrsync::runtime::{
    BoxFuture, HttpBackend, Limits, Plugin, PluginContext, Runtime, RuntimeConfig,
};
use hrsync_tests::fixtures::plugin_wasm;
use serde_json::json;

const REMOTE: &str = "hrsync_plugin_remote.wasm";
/// Loads per load scenario (each compile is a full Cranelift compile of the component).
const LOAD_WARMUP: usize = 1;
const LOAD_ITERS: usize = 10;
/// Instantiations and `describe` calls.
const CALL_WARMUP: usize = 200;
const CALL_ITERS: usize = 2_000;
/// `list-people` calls over the 1,000-person page.
const LIST_WARMUP: usize = 20;
const LIST_ITERS: usize = 200;
const PAGE_PEOPLE: usize = 1_000;

fn main() -> anyhow::Result<()> {
    // One thread: the calls are timed one after the other, without scheduler noise.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(run())
}

/// Median, p99 and min of a set of timings.
struct Stats {
    n: usize,
    median: Duration,
    p99: Duration,
    min: Duration,
}

impl Stats {
    fn of(mut samples: Vec<Duration>) -> Stats {
        assert!(!samples.is_empty());
        samples.sort_unstable();
        let n = samples.len();
        let median = if n % 2 == 1 {
            samples[n / 2]
        } else {
            (samples[n / 2 - 1] + samples[n / 2]) / 2
        };
        // Nearest rank.
        let p99 = samples[(n * 99).div_ceil(100).max(1) - 1];
        Stats {
            n,
            median,
            p99,
            min: samples[0],
        }
    }
}

/// Runs `f` `warmup` times untimed, then `iters` times timed.
async fn time_async<F, Fut>(warmup: usize, iters: usize, mut f: F) -> Stats
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    for _ in 0..warmup {
        f().await;
    }
    let mut samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let start = Instant::now();
        f().await;
        samples.push(start.elapsed());
    }
    Stats::of(samples)
}

/// The synchronous twin of [`time_async`].
fn time_sync(warmup: usize, iters: usize, mut f: impl FnMut()) -> Stats {
    for _ in 0..warmup {
        f();
    }
    let mut samples = Vec::with_capacity(iters);
    for _ in 0..iters {
        let start = Instant::now();
        f();
        samples.push(start.elapsed());
    }
    Stats::of(samples)
}

/// An `HttpBackend` that answers every `GET /v1/employments` with one prebuilt response.
struct Canned {
    response: HttpResponse,
    /// When the last request came in (to split a call into before and after its request).
    sent: Mutex<Option<Instant>>,
}

impl HttpBackend for Canned {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        *self.sent.lock().unwrap() = Some(Instant::now());
        let answer = if request.path == "/v1/employments" {
            Ok(self.response.clone())
        } else {
            Err(HttpError::InvalidRequest(format!(
                "the bench serves only /v1/employments, not {}",
                request.path
            )))
        };
        Box::pin(std::future::ready(answer))
    }
}

/// One Remote list item, shaped like `employment()` in `plugins/remote/src/tests.rs`.
fn employment(i: usize) -> serde_json::Value {
    const STATUSES: &[&str] = &["active", "active", "active", "pre_hire", "offboarding"];
    const DEPARTMENTS: &[&str] = &["Engineering", "Sales", "Finance", "People", "Support"];
    json!({
        "id": format!("e-{i:05}"), "short_id": format!("S{i}"),
        "full_name": format!("Given{i} Family{i}"), "job_title": "Engineer",
        "department": DEPARTMENTS[i % DEPARTMENTS.len()],
        "status": STATUSES[i % STATUSES.len()], "type": "employee",
        "country": {"alpha_2_code": "DE", "code": "DEU", "name": "Germany"},
        "work_email": null, "personal_email": format!("p{i}@example.org")
    })
}

/// The JSON body of one list page with `people` employments (of 10 pages).
fn page_body(people: usize) -> Vec<u8> {
    let employments: Vec<_> = (0..people).map(employment).collect();
    serde_json::to_vec(&json!({"data": {
        "current_page": 1, "total_pages": 10, "total_count": people * 10,
        "employments": employments,
    }}))
    .unwrap()
}

fn canned(body: Vec<u8>) -> Arc<Canned> {
    Arc::new(Canned {
        response: HttpResponse {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        },
        sent: Mutex::new(None),
    })
}

fn context(http: Arc<dyn HttpBackend>) -> PluginContext {
    PluginContext {
        name: "remote".into(),
        settings: BTreeMap::new(),
        secrets: BTreeMap::new(),
        http,
    }
}

fn cached_runtime(dir: &Path) -> Runtime {
    Runtime::new(&RuntimeConfig {
        cache_dir: Some(dir.to_path_buf()),
    })
    .unwrap()
}

fn load(rt: &Runtime, wasm: &Path, http: Arc<dyn HttpBackend>) -> Plugin {
    rt.load(wasm, context(http), Limits::default()).unwrap()
}

fn files_under(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    let path = e.path();
                    if path.is_dir() { files_under(&path) } else { 1 }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn check_page(page: &Page, people: usize) {
    assert_eq!(page.people.len(), people, "people on the page");
    assert!(page.rejected.is_empty(), "rejected: {:?}", page.rejected);
    assert_eq!(page.next_cursor.as_deref(), Some("2"));
}

/// A `VmHWM:` / `VmRSS:` line of /proc/self/status.
fn proc_status(key: &str) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim().to_string())
}

fn fmt(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.3} s", ns / 1e9)
    }
}

fn row(name: &str, s: &Stats, note: &str) {
    println!(
        "{name:<52} {:>6} {:>11} {:>11} {:>11}  {note}",
        s.n,
        fmt(s.median),
        fmt(s.p99),
        fmt(s.min)
    );
}

fn derived(name: &str, d: Duration, note: &str) {
    println!(
        "{name:<52} {:>6} {:>11} {:>11} {:>11}  {note}",
        "",
        fmt(d),
        "",
        ""
    );
}

fn section(title: &str) {
    println!("{title}");
}

async fn run() -> anyhow::Result<()> {
    let wasm = plugin_wasm(REMOTE);
    let wasm_size = std::fs::metadata(&wasm)?.len();
    let full = page_body(PAGE_PEOPLE);
    let full_size = full.len();
    let full_backend = canned(full.clone());
    let empty_backend = canned(page_body(0));
    let total = Instant::now();

    // 1. Loading.
    let nocache = Runtime::new(&RuntimeConfig { cache_dir: None })?;
    let compile = time_sync(LOAD_WARMUP, LOAD_ITERS, || {
        drop(load(&nocache, &wasm, empty_backend.clone()));
    });
    drop(nocache);

    let cache = tempfile::tempdir()?;
    drop(load(
        &cached_runtime(cache.path()),
        &wasm,
        empty_backend.clone(),
    ));
    let cached_files = files_under(cache.path());
    assert!(cached_files > 0, "the first load cached nothing");
    let new_runtime = time_sync(LOAD_WARMUP, LOAD_ITERS, || {
        drop(cached_runtime(cache.path()));
    });
    // Each iteration: a fresh Runtime (engine) on the warm cache directory; only `load` is timed.
    let mut samples = Vec::with_capacity(LOAD_ITERS);
    for i in 0..LOAD_WARMUP + LOAD_ITERS {
        let rt = cached_runtime(cache.path());
        let start = Instant::now();
        let plugin = load(&rt, &wasm, empty_backend.clone());
        let elapsed = start.elapsed();
        drop(plugin);
        if i >= LOAD_WARMUP {
            samples.push(elapsed);
        }
    }
    let cached = Stats::of(samples);

    // 2. and 3. run on a runtime loaded from the warm cache.
    let rt = cached_runtime(cache.path());
    let empty_plugin = load(&rt, &wasm, empty_backend.clone());
    let full_plugin = load(&rt, &wasm, full_backend.clone());

    // 2. Instantiation and a trivial call.
    let d = empty_plugin.describe().await?;
    assert_eq!(d.name, "remote");
    let (empty, full_p) = (&empty_plugin, &full_plugin);
    let instantiate = time_async(CALL_WARMUP, CALL_ITERS, move || async move {
        empty.bench_instantiate().await.unwrap();
    })
    .await;
    let describe = time_async(CALL_WARMUP, CALL_ITERS, move || async move {
        empty.describe().await.unwrap();
    })
    .await;

    // 3. A page of people across the boundary.
    check_page(&empty_plugin.list(None).await?.unwrap(), 0);
    check_page(&full_plugin.list(None).await?.unwrap(), PAGE_PEOPLE);
    let list_empty = time_async(CALL_WARMUP, CALL_ITERS, move || async move {
        empty.list(None).await.unwrap().unwrap();
    })
    .await;
    // Timed by hand to split each call at the moment the guest's request reaches the host.
    let mut totals = Vec::with_capacity(LIST_ITERS);
    let mut befores = Vec::with_capacity(LIST_ITERS);
    let mut afters = Vec::with_capacity(LIST_ITERS);
    let mut last_page = None;
    for i in 0..LIST_WARMUP + LIST_ITERS {
        let start = Instant::now();
        let page = full_p.list(None).await.unwrap().unwrap();
        let end = Instant::now();
        let sent = full_backend.sent.lock().unwrap().take().unwrap();
        assert_eq!(page.people.len(), PAGE_PEOPLE);
        if i >= LIST_WARMUP {
            totals.push(end - start);
            befores.push(sent - start);
            afters.push(end - sent);
        }
        last_page = Some(page);
    }
    let (list_full, list_before, list_after) =
        (Stats::of(totals), Stats::of(befores), Stats::of(afters));
    let page = last_page.unwrap();
    let clone_page = time_sync(LIST_WARMUP, LIST_ITERS, || {
        std::hint::black_box(page.clone());
    });
    // References on the host: what the canned backend copies per call, and a native parse.
    let clone_body = time_sync(LIST_WARMUP, LIST_ITERS, || {
        std::hint::black_box(full_backend.response.clone());
    });
    let native_parse = time_sync(LIST_WARMUP, LIST_ITERS, || {
        let v: serde_json::Value = serde_json::from_slice(std::hint::black_box(&full)).unwrap();
        std::hint::black_box(v);
    });
    let elapsed = total.elapsed();

    // The table.
    println!();
    println!(
        "hrsync plugin runtime — Remote plugin ({:.0} KiB wasm), wasmtime, no network",
        wasm_size as f64 / 1024.0
    );
    println!(
        "{:<52} {:>6} {:>11} {:>11} {:>11}  notes",
        "scenario", "n", "median", "p99", "min"
    );
    println!("{}", "-".repeat(100));
    section("1. load (compile + contract check + instantiate_pre)");
    row("   compile, no cache (cache_dir None)", &compile, "");
    row(
        "   load from warm on-disk cache (fresh Runtime)",
        &cached,
        &format!("{cached_files} file(s) in the cache dir"),
    );
    println!(
        "   speed-up of the cache: {:.0}x (medians)",
        compile.median.as_secs_f64() / cached.median.as_secs_f64()
    );
    row(
        "   Runtime::new (engine + linker + ticker)",
        &new_runtime,
        "not part of load",
    );
    section("2. instantiation and a trivial call (fresh store + instance per call)");
    row("   instantiate only (bench_instantiate)", &instantiate, "");
    row("   describe (instantiate + call + lift)", &describe, "");
    derived(
        "   describe call alone (median difference)",
        describe.median.saturating_sub(instantiate.median),
        "",
    );
    section(&format!(
        "3. list-people, canned page from an in-process HttpBackend ({:.0} KiB JSON)",
        full_size as f64 / 1024.0
    ));
    row(
        "   list, empty page (0 people)",
        &list_empty,
        "fixed cost of a list call",
    );
    row(
        &format!("   list, {PAGE_PEOPLE} people"),
        &list_full,
        "guest parse + mapping + lifting",
    );
    row(
        "     of which: start until the guest's request",
        &list_before,
        "instantiate + guest setup",
    );
    row(
        "     of which: request until the page is on the host",
        &list_after,
        "body in, guest parse + map, lift",
    );
    derived(
        "   per person (median, minus the empty page)",
        list_full.median.saturating_sub(list_empty.median) / PAGE_PEOPLE as u32,
        "",
    );
    derived(
        "   per person (median, whole call)",
        list_full.median / PAGE_PEOPLE as u32,
        "",
    );
    row(
        "   ref: host clone of the response body",
        &clone_body,
        "included in each list",
    );
    row(
        "   ref: host clone of the 1000-person Page",
        &clone_page,
        "allocations ≈ a floor for lifting",
    );
    row(
        "   ref: native serde_json::Value parse of the page",
        &native_parse,
        "host, not wasm",
    );
    section("4. memory");
    println!(
        "   peak RSS (VmHWM) {}, current RSS (VmRSS) {}",
        proc_status("VmHWM:").unwrap_or_else(|| "n/a".into()),
        proc_status("VmRSS:").unwrap_or_else(|| "n/a".into())
    );
    println!("{}", "-".repeat(100));
    println!("total bench time {}", fmt(elapsed));
    Ok(())
}
