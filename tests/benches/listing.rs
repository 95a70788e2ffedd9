//! Benchmark: reading a large Remote company through the Remote plugin (wasm, sandboxed) and the
//! host's HTTP stack (OAuth, retries, rate governor), from the Remote API simulator on 127.0.0.1.
//!
//! Scenarios:
//! 1. list 10,000 employments, no rate limit;
//! 2. the same with a rate limit of 20 requests per 2-second window on both sides (the simulator
//!    answers 429 above it; the connector is configured `rate_limit = "20/2s"`). Remote's real
//!    limit is 20 a minute; a 2 s window keeps the run short with the same request pattern;
//! 3. detail fetch (`get-person`) of 100 people, one after the other, no rate limit.
//!
//! Run: `cargo bench -p hrsync-tests --bench listing`. Prints a table to stdout.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hrsync::config::Config;
use hrsync::connector::Connector;
use hrsync::runtime::{Runtime, RuntimeConfig};
use hrsync_tests::fixtures::{plugin_wasm, workspace_root};
use hrsync_tests::remote_sim::{RateLimit, SimConfig, SimStats, Simulator};

const PEOPLE: usize = 10_000;
const DETAILS: usize = 100;
const LIMIT: RateLimit = RateLimit {
    requests: 20,
    window: Duration::from_secs(2),
};
const LIMIT_TOML: &str = "20/2s";

fn main() -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(run())
}

/// One row of the table.
struct Row {
    scenario: String,
    time: Duration,
    items: usize,
    pages: Option<usize>,
    sim: SimStats,
    host_sent: u64,
    host_retries: u64,
    limit: Option<u32>,
    /// Per-call time label and value.
    per_call: (&'static str, Duration),
}

fn cache_dir() -> PathBuf {
    workspace_root().join("target/hrsync-test-cache")
}

/// Writes a config file for `sim` in `dir` and opens the connector from it.
fn open(
    sim: &Simulator,
    dir: &std::path::Path,
    runtime: &Runtime,
    rate_limit: Option<&str>,
) -> anyhow::Result<Connector> {
    let cfg = sim.config();
    std::fs::write(dir.join("client.secret"), &cfg.client_secret)?;
    let text = format!(
        r#"
[runtime]
cache_dir = "{cache}"

[connectors.remote]
plugin = "{plugin}"
base_url = "{base}"
allowed_hosts = ["{base}"]
{rate}
auth = {{ kind = "client-credentials", token_url = "{token_url}", client_id = "{client_id}", client_secret = {{ file = "client.secret" }} }}
"#,
        cache = cache_dir().display(),
        plugin = plugin_wasm("hrsync_plugin_remote.wasm").display(),
        base = sim.base_url(),
        token_url = sim.token_url(),
        client_id = cfg.client_id,
        rate = rate_limit
            .map(|r| format!("rate_limit = \"{r}\""))
            .unwrap_or_default(),
    );
    let path = dir.join("hrsync.toml");
    std::fs::write(&path, text)?;
    let config = Config::load(&path)?;
    Ok(Connector::open(config.connector("remote")?, runtime)?)
}

/// Lists every page; returns (people, pages).
async fn list_all(c: &Connector) -> anyhow::Result<(Vec<String>, usize)> {
    let mut ids = Vec::new();
    let mut pages = 0;
    let mut cursor: Option<String> = None;
    loop {
        let page = c.list(cursor.as_deref()).await?;
        pages += 1;
        anyhow::ensure!(
            page.rejected.is_empty(),
            "rejected records: {:?}",
            page.rejected
        );
        ids.extend(page.people.into_iter().map(|p| p.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok((ids, pages)),
        }
    }
}

fn load(a: &AtomicU64) -> u64 {
    a.load(Ordering::Relaxed)
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn millis(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1000.0)
}

async fn run() -> anyhow::Result<()> {
    let total = Instant::now();
    let runtime = Runtime::new(&RuntimeConfig {
        cache_dir: Some(cache_dir()),
    })?;
    let dir = tempfile::tempdir()?;
    let mut rows = Vec::new();

    // 1. No rate limit.
    let t = Instant::now();
    let sim = Simulator::start(SimConfig {
        people: PEOPLE,
        ..SimConfig::default()
    })
    .await?;
    let generated = t.elapsed();
    let visible = sim
        .state()
        .employments()
        .iter()
        .filter(|e| e["status"] != "deleted")
        .count();
    let c = open(&sim, dir.path(), &runtime, None)?;
    c.about().await?; // loads the component (compiled or from the cache), sends nothing
    let t = Instant::now();
    let (ids, pages) = list_all(&c).await?;
    let time = t.elapsed();
    anyhow::ensure!(ids.len() == visible, "{} of {visible} listed", ids.len());
    rows.push(Row {
        scenario: format!("list {} people, no limit", ids.len()),
        time,
        items: ids.len(),
        pages: Some(pages),
        sim: sim.state().stats(),
        host_sent: load(&c.stats().sent),
        host_retries: load(&c.stats().retries),
        limit: None,
        per_call: ("per page", time / pages as u32),
    });

    // 3. Detail fetch of 100 people (same simulator, token already cached).
    sim.state().reset_stats();
    let sent_before = load(&c.stats().sent);
    let mut per = Vec::with_capacity(DETAILS);
    let t = Instant::now();
    for id in ids.iter().step_by(ids.len() / DETAILS).take(DETAILS) {
        let one = Instant::now();
        let person = c.get(id).await?;
        per.push(one.elapsed());
        anyhow::ensure!(
            person.as_ref().is_ok_and(|p| p.complete),
            "detail of {id}: {person:?}"
        );
    }
    let details_time = t.elapsed();
    per.sort();
    let detail_row = Row {
        scenario: format!("get-person x {}, one at a time", per.len()),
        time: details_time,
        items: per.len(),
        pages: None,
        sim: sim.state().stats(),
        host_sent: load(&c.stats().sent) - sent_before,
        host_retries: 0,
        limit: None,
        per_call: ("per request", details_time / per.len() as u32),
    };
    let p50 = per[per.len() / 2];
    let p95 = per[per.len() * 95 / 100];
    drop(c);
    sim.shutdown().await;

    // 2. Rate limit on both sides.
    let sim = Simulator::start(SimConfig {
        people: PEOPLE,
        rate_limit: Some(LIMIT),
        ..SimConfig::default()
    })
    .await?;
    let c = open(&sim, dir.path(), &runtime, Some(LIMIT_TOML))?;
    c.about().await?;
    let t = Instant::now();
    let (ids, pages) = list_all(&c).await?;
    let time = t.elapsed();
    anyhow::ensure!(ids.len() == visible, "{} of {visible} listed", ids.len());
    rows.push(Row {
        scenario: format!("list {} people, {LIMIT_TOML} both sides", ids.len()),
        time,
        items: ids.len(),
        pages: Some(pages),
        sim: sim.state().stats(),
        host_sent: load(&c.stats().sent),
        host_retries: load(&c.stats().retries),
        limit: Some(LIMIT.requests),
        per_call: ("per page", time / pages as u32),
    });
    drop(c);
    sim.shutdown().await;
    rows.push(detail_row);

    // The table.
    println!();
    println!(
        "hrsync listing benchmark: Remote plugin (wasm) + host HTTP/OAuth/governor vs. the Remote simulator on 127.0.0.1"
    );
    println!(
        "{PEOPLE} employments generated ({visible} visible, deleted ones hidden) in {}; page size 100; auth client-credentials; {} build",
        secs(generated),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "optimized"
        }
    );
    println!(
        "rate-limited run: simulator fixed window {} requests / {} s (429 above it), connector rate_limit = \"{LIMIT_TOML}\"",
        LIMIT.requests,
        LIMIT.window.as_secs()
    );
    println!();
    println!(
        "{:<42} {:>9} {:>6} {:>8} {:>6} {:>6} {:>6} {:>14} {:>10} {:>22}",
        "scenario",
        "time",
        "pages",
        "API req",
        "token",
        "429s",
        "retry",
        "peak/window",
        "people/s",
        "per call"
    );
    println!("{}", "-".repeat(137));
    for r in &rows {
        let peak = match r.limit {
            Some(l) => format!("{} / {l}", r.sim.max_requests_in_window),
            None => "-".to_string(),
        };
        println!(
            "{:<42} {:>9} {:>6} {:>8} {:>6} {:>6} {:>6} {:>14} {:>10.0} {:>22}",
            r.scenario,
            secs(r.time),
            r.pages.map_or("-".to_string(), |p| p.to_string()),
            r.sim.api_requests,
            r.sim.token_requests,
            r.sim.too_many_requests,
            r.host_retries,
            peak,
            r.items as f64 / r.time.as_secs_f64(),
            format!("{} {}", millis(r.per_call.1), r.per_call.0),
        );
    }
    println!();
    println!(
        "get-person latency: p50 {}, p95 {}, max {}; host requests sent {} (simulator saw {})",
        millis(p50),
        millis(p95),
        millis(per[per.len() - 1]),
        rows[2].host_sent,
        rows[2].sim.total_requests,
    );
    let limited = &rows[1];
    let floor = Duration::from_secs(
        (limited
            .sim
            .total_requests
            .div_ceil(u64::from(LIMIT.requests))
            - 1)
            * LIMIT.window.as_secs(),
    );
    println!(
        "rate-limited list: {} requests (incl. token) need at least {} at {} per {} s; took {}; simulator 429s: {} (limit exceeded: {})",
        limited.sim.total_requests,
        secs(floor),
        LIMIT.requests,
        LIMIT.window.as_secs(),
        secs(limited.time),
        limited.sim.too_many_requests,
        limited.sim.rate_limited,
    );
    println!(
        "host requests sent: unlimited list {}, limited list {}",
        rows[0].host_sent, limited.host_sent
    );
    println!("whole benchmark: {}", secs(total.elapsed()));
    Ok(())
}
