//! Progressive enrichment end to end: the `hrsync` binary killed with SIGKILL while it fetches
//! details, then run again — no detail is fetched twice and the end state is complete.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hrsync_tests::fixtures::hrsync_bin;
use hrsync_tests::remote_sim::Fault;
use hrsync_tests::world::{AD, World, enabled};

const DETAIL_ROUTE: &str = "GET /v1/employments/{id}";

#[tokio::test]
async fn a_run_killed_during_enrichment_resumes_without_fetching_a_detail_twice() {
    let _guard = AD.lock().await;
    let w = World::new("resume", 60, "").await;
    let sim = w.sim();
    let config = w.write_config();
    // Slow answers, so the kill lands while details are being fetched.
    sim.inject(Fault::Latency(Duration::from_millis(120)), 100_000);

    let mut child = Command::new(hrsync_bin())
        .arg("--config")
        .arg(&config)
        .arg("sync")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    loop {
        let details = sim
            .stats()
            .per_route
            .get(DETAIL_ROUTE)
            .copied()
            .unwrap_or(0);
        if details >= 15 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the run never got to its details"
        );
        if let Some(status) = child.try_wait().unwrap() {
            panic!("hrsync ended before it could be killed: {status}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL: no cleanup, no flush.
    child.wait().unwrap();
    let fetched_before = sim
        .stats()
        .per_route
        .get(DETAIL_ROUTE)
        .copied()
        .unwrap_or(0);
    sim.clear_faults();

    let r = w.run(true, None).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let stats = sim.stats();
    let twice: Vec<(&String, &u64)> = stats
        .per_path
        .iter()
        .filter(|(path, n)| path.starts_with("/v1/employments/") && **n > 1)
        .collect();
    // The one request in flight when the kill landed reached the simulator but never hrsync:
    // it is asked again. Every detail hrsync did receive is stored and never fetched again.
    assert!(
        twice.len() <= 1,
        "details fetched twice after the kill ({fetched_before} before it): {twice:?}"
    );
    let accounts = w.accounts().await;
    for e in sim.employments().iter().filter(|e| e["status"] == "active") {
        let id = e["id"].as_str().unwrap();
        let a = accounts
            .get(id)
            .unwrap_or_else(|| panic!("active {id} has no account after the rerun"));
        assert!(enabled(a));
    }
    let again = w.run(true, None).await;
    assert_eq!(
        hrsync_tests::world::total_ops(&again),
        0,
        "{}",
        hrsync::sync::report::render(&again.plan, None)
    );
    w.cleanup().await;
}
