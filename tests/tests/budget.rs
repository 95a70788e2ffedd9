//! One request budget per company, across hrsync processes: two engines on one store (as
//! `hrsync sync` run by hand while `hrsync serve` runs) against a simulator that enforces the
//! limit, together never over it; and `hrsync serve` with a manual sync on the same store.
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

/// `hrsync serve` applying webhook events while an admin runs a sync by hand on the same store:
/// one budget for both, and the simulator never refuses a request.
#[tokio::test]
async fn serve_and_a_manual_sync_together_stay_within_one_budget() {
    let _guard = AD.lock().await;
    let mut w = World::with_sim(
        "budget-serve",
        "",
        SimConfig {
            people: 30,
            seed: 12,
            rate_limit: Some(RateLimit {
                requests: 10,
                window: Duration::from_secs(2),
            }),
            ..SimConfig::default()
        },
    )
    .await;
    w.connector_extra = "rate_limit = \"10/2s\"".into();
    w.run(true, None).await;
    let sim = w.sim();
    let service = hrsync::serve::start_with(
        w.config(),
        Some("127.0.0.1:0"),
        hrsync::serve::ServeOptions::default(),
    )
    .await
    .unwrap();
    let url = format!("http://{}/webhooks/remote", service.addr);

    // The manual sync must fetch every detail again: forget them.
    let store = service.app.engine.store().clone();
    let ids: Vec<String> = sim
        .employments()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    for id in &ids {
        store.invalidate_detail(id).unwrap();
    }
    sim.reset_stats();
    let runtime = Engine::runtime(&w.config()).unwrap();
    let manual = Engine::open(w.config(), &runtime).unwrap();
    let opts = RunOptions {
        apply: true,
        only: None,
        trigger: "cli".into(),
        now: None,
    };
    let progress = Progress::hidden();
    let active: Vec<String> = sim
        .employments()
        .into_iter()
        .filter(|e| e["status"] == "active")
        .take(12)
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let events = async {
        for (i, id) in active.iter().enumerate() {
            sim.update_employment(id, serde_json::json!({"job_title": format!("Both {i}")}));
            assert_eq!(
                sim.send_webhook(&url, "employment.details.updated", id)
                    .await
                    .unwrap(),
                200
            );
        }
    };
    let (run, ()) = tokio::join!(manual.run(&opts, &progress), events);
    run.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    while store.queue_depth().unwrap().0 > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the events did not drain"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stats = sim.stats();
    assert!(
        stats.api_requests >= (ids.len() + active.len()) as u64 - 5,
        "both must have spent requests: {}",
        stats.api_requests
    );
    assert_eq!(
        stats.rate_limited, 0,
        "the simulator refused {} requests (peak {} in one window)",
        stats.rate_limited, stats.max_requests_in_window
    );
    assert!(stats.max_requests_in_window <= 10);
    let accounts = w.accounts().await;
    for (i, id) in active.iter().enumerate() {
        assert_eq!(
            accounts[id].first("title"),
            Some(format!("Both {i}").as_str())
        );
    }
    service.shutdown(Duration::from_secs(10)).await;
    drop(manual);
    w.cleanup().await;
}
