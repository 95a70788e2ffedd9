//! One request budget per company, across hrsync processes: two engines on one store (as
//! `hrsync sync` run by hand while `hrsync serve` runs) against a simulator that enforces the
//! limit, together never over it.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::time::Duration;

use hrsync::sync::progress::Progress;
use hrsync::sync::{Engine, RunOptions};
use hrsync_tests::remote_sim::{RateLimit, SimConfig};
use hrsync_tests::world::{AD, World};

#[tokio::test]
async fn two_processes_on_one_store_stay_within_one_budget() {
    let _guard = AD.lock().await;
    let mut w = World::with_sim(
        "budget",
        "",
        SimConfig {
            people: 30,
            seed: 11,
            rate_limit: Some(RateLimit {
                requests: 10,
                window: Duration::from_secs(2),
            }),
            ..SimConfig::default()
        },
    )
    .await;
    w.connector_extra = "rate_limit = \"10/2s\"".into();
    let sim = w.sim();
    // Two engines, each with its own governor (as two processes have), on one store file.
    let runtime = Engine::runtime(&w.config()).unwrap();
    let a = Engine::open(w.config(), &runtime).unwrap();
    let b = Engine::open(w.config(), &runtime).unwrap();
    let opts = RunOptions {
        apply: false,
        only: None,
        trigger: "test".into(),
        now: None,
    };
    let (pa, pb) = (Progress::hidden(), Progress::hidden());
    let (ra, rb) = tokio::join!(a.run(&opts, &pa), b.run(&opts, &pb));
    ra.unwrap();
    rb.unwrap();
    let stats = sim.stats();
    assert!(
        stats.api_requests > 20,
        "the runs must together need several windows: {} requests",
        stats.api_requests
    );
    assert_eq!(
        stats.rate_limited, 0,
        "the simulator refused {} requests (peak {} in one window)",
        stats.rate_limited, stats.max_requests_in_window
    );
    assert!(stats.max_requests_in_window <= 10);
    drop((a, b));
    w.cleanup().await;
}
