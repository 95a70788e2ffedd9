//! `hrsync serve` behind Remote's request budget: a burst of 100 webhook events (updates and
//! terminations) against a simulator that enforces 20 requests per 6 s. No event costs more than
//! one request, terminations go first, and the simulator never refuses a request.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use hrsync::serve::{self, ServeOptions};
use hrsync_tests::remote_sim::{RateLimit, SimConfig};
use hrsync_tests::world::{AD, World, enabled};
use serde_json::json;

const UPDATES: usize = 80;
const TERMINATIONS: usize = 20;

#[tokio::test]
async fn a_burst_of_100_events_costs_one_request_each_terminations_first_and_no_429() {
    let _guard = AD.lock().await;
    let mut w = World::with_sim(
        "serve-burst",
        "",
        SimConfig {
            people: 130,
            seed: 23,
            rate_limit: Some(RateLimit {
                requests: 20,
                window: Duration::from_secs(6),
            }),
            ..SimConfig::default()
        },
    )
    .await;
    w.connector_extra = "rate_limit = \"20/6s\"".into();
    w.run(true, None).await;
    let sim = w.sim();
    let active: Vec<String> = sim
        .employments()
        .into_iter()
        .filter(|e| e["status"] == "active")
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert!(
        active.len() > UPDATES + TERMINATIONS,
        "the seed must give more than {} active people, it gave {}",
        UPDATES + TERMINATIONS,
        active.len()
    );
    let blocker = active[0].clone();
    let updated = &active[1..=UPDATES];
    let leavers = &active[UPDATES + 1..=UPDATES + TERMINATIONS];

    // One worker, held on a first event until the whole burst is queued: the queue's order is
    // then the only thing that decides what runs first.
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let taken: Arc<StdMutex<Vec<String>>> = Arc::default();
    let hook: serve::EventHook = {
        let (release, taken, blocker) = (release.clone(), taken.clone(), blocker.clone());
        Arc::new(move |ev: hrsync::store::StoredEvent| {
            let (release, taken) = (release.clone(), taken.clone());
            let person = ev.person_id.clone().unwrap_or_default();
            let hold = person == blocker;
            Box::pin(async move {
                taken.lock().unwrap().push(person);
                if hold {
                    release.acquire().await.unwrap().forget();
                }
            })
        })
    };
    let service = serve::start_with(
        w.config(),
        Some("127.0.0.1:0"),
        ServeOptions {
            event_workers: 1,
            before_event: Some(hook),
            ..ServeOptions::default()
        },
    )
    .await
    .unwrap();
    let url = format!("http://{}/webhooks/remote", service.addr);
    let store = service.app.engine.store().clone();
    sim.reset_stats();

    sim.update_employment(&blocker, json!({"job_title": "Held First"}));
    assert_eq!(
        sim.send_webhook(&url, "employment.details.updated", &blocker)
            .await
            .unwrap(),
        200
    );
    // Updates first, then the terminations, interleaved in arrival with more updates' events.
    for (i, id) in updated.iter().enumerate() {
        sim.update_employment(id, json!({"job_title": format!("Burst {i}")}));
        assert_eq!(
            sim.send_webhook(&url, "employment.details.updated", id)
                .await
                .unwrap(),
            200
        );
    }
    for (i, id) in leavers.iter().enumerate() {
        sim.update_employment(id, json!({"status": "archived"}));
        let event = if i % 2 == 0 {
            "employment.status.updated"
        } else {
            "offboarding.done"
        };
        assert_eq!(sim.send_webhook(&url, event, id).await.unwrap(), 200);
    }
    release.add_permits(1);

    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    while store.queue_depth().unwrap().0 > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the burst did not drain in 3 minutes: {:?}",
            store.event_counts().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        store.event_counts().unwrap(),
        vec![("done".to_string(), (1 + UPDATES + TERMINATIONS) as i64)]
    );

    // The budget: at most one request an event, none refused.
    let stats = sim.stats();
    assert_eq!(
        stats.rate_limited, 0,
        "the simulator refused {} requests",
        stats.rate_limited
    );
    assert!(stats.max_requests_in_window <= 20, "{stats:?}");
    assert!(
        stats.api_requests <= (1 + UPDATES + TERMINATIONS) as u64,
        "{} requests for {} events: {:?}",
        stats.api_requests,
        1 + UPDATES + TERMINATIONS,
        stats.per_route
    );
    for id in std::iter::once(&blocker).chain(updated).chain(leavers) {
        let detail = stats.path_count(&format!("/v1/employments/{id}"));
        assert!(detail <= 1, "{id}'s detail fetched {detail} times");
    }

    // The order: the held event, then every termination, then the updates.
    let order = taken.lock().unwrap().clone();
    assert_eq!(order.len(), 1 + UPDATES + TERMINATIONS, "{order:?}");
    assert_eq!(order[0], blocker);
    for (i, id) in order[1..=TERMINATIONS].iter().enumerate() {
        assert!(
            leavers.contains(id),
            "event {} taken was an update ({id}), with terminations still queued: {order:?}",
            i + 1
        );
    }

    let accounts = w.accounts().await;
    for id in leavers {
        assert!(!enabled(&accounts[id]), "{id} is still enabled");
    }
    for (i, id) in updated.iter().enumerate() {
        assert_eq!(
            accounts[id].first("title"),
            Some(format!("Burst {i}").as_str())
        );
    }
    service.shutdown(Duration::from_secs(10)).await;
    w.cleanup().await;
}
