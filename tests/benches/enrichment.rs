//! Progressive enrichment behind Remote's request budget, against the real Samba AD DC and the
//! Remote simulator enforcing the limit on its side too (`rate_limit` on both sides):
//!
//! - `list` rules: sAMAccountName and CN from the list's `full_name` (on-create rules that need
//!   no detail), so accounts come from the list pages;
//! - `detail` rules: the reference config (names from the detail's name parts), so each new
//!   person's account waits for their detail.
//!
//! For each, from the run's start: the time to the first account, to every active person's
//! account (polled in AD), and to the end of the run (every detail fetched and applied: fully
//! enriched); Remote requests, 429s, and managers checked against the simulator. Times are also
//! given at Remote's real pace (20 a minute) by scaling with 60 s / window.
//!
//! Run: `cargo bench -p hrsync-tests --bench enrichment` (600 people at 20 requests per 6 s).
//! `HRSYNC_BENCH_PEOPLE` (default 600), `HRSYNC_BENCH_WINDOW_MS` (default 6000; Remote's real
//! window is 60000), `HRSYNC_BENCH_RULES` (`list`, `detail` or `both`, the default),
//! `HRSYNC_BENCH_POLL_MS` (default 500). Needs Samba (`bash tests/ad/samba-ad.sh start`).
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hrsync::sync::progress::Progress;
use hrsync::sync::{Engine, RunOptions};
use hrsync_tests::remote_sim::{RateLimit, SimConfig};
use hrsync_tests::world::{SAM_FROM_FULL_NAME, World, connect};

const REQUESTS: u32 = 20;

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one scenario measured.
struct Measured {
    rules: &'static str,
    active: usize,
    first_account: Option<Duration>,
    all_active: Option<Duration>,
    enriched: Duration,
    requests: u64,
    rate_limited: u64,
    max_in_window: u32,
    managers_checked: usize,
    managers_wrong: usize,
    accounts: usize,
}

/// Ids with an account under `ou` (by employeeNumber).
async fn account_ids(w: &World) -> HashSet<String> {
    let mut d = connect(&w.ad).await;
    let ids = match d
        .search_paged(
            &w.ou,
            "(&(objectClass=user)(employeeNumber=*))",
            &["employeeNumber"],
        )
        .await
    {
        Ok(entries) => entries
            .iter()
            .filter_map(|e| e.first("employeeNumber").map(str::to_string))
            .collect(),
        Err(e) => {
            eprintln!("poll: {e}");
            HashSet::new()
        }
    };
    if let Err(e) = d.unbind().await {
        eprintln!("poll: unbind: {e}");
    }
    ids
}

async fn scenario(
    rules: &'static str,
    people: usize,
    window: Duration,
    poll: Duration,
) -> anyhow::Result<Measured> {
    let name = format!("enrich-{rules}");
    let mut w = World::with_sim(
        &name,
        "",
        SimConfig {
            people,
            seed: 600,
            rate_limit: Some(RateLimit {
                requests: REQUESTS,
                window,
            }),
            ..SimConfig::default()
        },
    )
    .await;
    w.connector_extra = format!("rate_limit = \"{REQUESTS}/{}ms\"", window.as_millis());
    if rules == "list" {
        w.sam_rule = Some(SAM_FROM_FULL_NAME.to_string());
        w.extra_sync =
            r#"cn = ["{{ full_name }}", "{{ full_name }} ({{ short_id or id }})"]"#.to_string();
    }
    let sim = w.sim();
    let active: HashSet<String> = sim
        .employments()
        .into_iter()
        .filter(|e| e["status"] == "active")
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();

    let config = w.config();
    let runtime = Engine::runtime(&config)?;
    let engine = Engine::open(config, &runtime)?;
    let opts = RunOptions {
        apply: true,
        only: None,
        trigger: "bench".into(),
        now: None,
    };
    let done = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let poller = {
        let done = done.clone();
        let active = active.clone();
        let w = &w;
        async move {
            let (mut first, mut all) = (None, None);
            while !done.load(Ordering::SeqCst) && all.is_none() {
                let ids = account_ids(w).await;
                if first.is_none() && !ids.is_empty() {
                    first = Some(start.elapsed());
                }
                if active.iter().all(|id| ids.contains(id)) {
                    all = Some(start.elapsed());
                }
                tokio::time::sleep(poll).await;
            }
            (first, all)
        }
    };
    let progress = Progress::new(std::env::var_os("HRSYNC_BENCH_QUIET").is_some());
    let run = async {
        let r = engine.run(&opts, &progress).await;
        done.store(true, Ordering::SeqCst);
        r
    };
    let ((first, mut all), report) = tokio::join!(poller, run);
    let enriched = start.elapsed();
    let report = report?;
    let ids = account_ids(&w).await;
    if all.is_none() && active.iter().all(|id| ids.contains(id)) {
        all = Some(enriched);
    }
    let first = first.or((!ids.is_empty()).then_some(enriched));

    // Managers against the simulator's truth.
    let accounts = w.accounts().await;
    let (mut checked, mut wrong) = (0, 0);
    for e in sim.employments() {
        let id = e["id"].as_str().unwrap();
        let (Some(a), Some(boss)) = (
            accounts.get(id),
            e["manager_employment_id"].as_str().filter(|b| *b != id),
        ) else {
            continue;
        };
        if let Some(b) = accounts.get(boss) {
            checked += 1;
            if a.first("manager") != Some(b.dn.as_str()) {
                wrong += 1;
            }
        }
    }
    let stats = sim.stats();
    eprintln!(
        "{rules}: {}",
        hrsync::sync::report::summary_line(&report.plan)
    );
    drop(engine);
    let measured = Measured {
        rules,
        active: active.len(),
        first_account: first,
        all_active: all,
        enriched,
        requests: stats.api_requests,
        rate_limited: stats.rate_limited,
        max_in_window: stats.max_requests_in_window,
        managers_checked: checked,
        managers_wrong: wrong,
        accounts: ids.len(),
    };
    // Said before the (long, for thousands of accounts) cleanup, so an interrupted cleanup
    // loses no figure.
    eprintln!(
        "{rules}: first account {}, all active {}, enriched {}, {} requests, {} 429s",
        secs(measured.first_account),
        secs(measured.all_active),
        secs(Some(measured.enriched)),
        measured.requests,
        measured.rate_limited
    );
    w.cleanup().await;
    Ok(measured)
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.1} s", d.as_secs_f64()))
}

/// The same time at Remote's real pace: scaled by 60 s / window.
fn real(d: Option<Duration>, window: Duration) -> String {
    d.map_or("-".into(), |d| {
        let s = d.as_secs_f64() * 60.0 / window.as_secs_f64();
        if s < 3600.0 {
            format!("{:.1} min", s / 60.0)
        } else {
            format!("{:.2} h", s / 3600.0)
        }
    })
}

fn main() -> anyhow::Result<()> {
    let people = env_num("HRSYNC_BENCH_PEOPLE", 600) as usize;
    let window = Duration::from_millis(env_num("HRSYNC_BENCH_WINDOW_MS", 6000));
    let poll = Duration::from_millis(env_num("HRSYNC_BENCH_POLL_MS", 500));
    let which: Vec<&'static str> = match std::env::var("HRSYNC_BENCH_RULES").as_deref() {
        Ok("list") => vec!["list"],
        Ok("detail") => vec!["detail"],
        _ => vec!["list", "detail"],
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    for rules in which {
        rows.push(rt.block_on(scenario(rules, people, window, poll))?);
    }
    println!();
    println!(
        "enrichment: {people} people, {REQUESTS} requests per {:.1} s on both sides (real-pace column: x{:.0})",
        window.as_secs_f64(),
        60.0 / window.as_secs_f64()
    );
    println!(
        "{:<7} {:>7} {:>9} {:>13} {:>13} {:>13} {:>9} {:>5} {:>8} {:>10} {:>18}",
        "rules",
        "active",
        "accounts",
        "first acct",
        "all active",
        "enriched",
        "requests",
        "429s",
        "max/win",
        "managers",
        "real pace (all/enr)"
    );
    for m in &rows {
        println!(
            "{:<7} {:>7} {:>9} {:>13} {:>13} {:>13} {:>9} {:>5} {:>8} {:>10} {:>18}",
            m.rules,
            m.active,
            m.accounts,
            secs(m.first_account),
            secs(m.all_active),
            secs(Some(m.enriched)),
            m.requests,
            m.rate_limited,
            m.max_in_window,
            format!(
                "{}/{}",
                m.managers_checked - m.managers_wrong,
                m.managers_checked
            ),
            format!(
                "{} / {}",
                real(m.all_active, window),
                real(Some(m.enriched), window)
            ),
        );
    }
    Ok(())
}
