//! `hrsync serve` end to end: signed webhooks from the simulator change AD; duplicates apply once;
//! bad signatures change nothing; cron fires; waits survive restarts; shutdown loses no event;
//! outbound webhooks and write-back templates.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use clap::Parser;
use hrsync::orchestration::{MANUAL, Orchestrator, Outcome};
use hrsync::serve::{self, ServeOptions, Service};
use hrsync_tests::world::{AD, World, active_in, in_group};
use serde_json::json;

async fn start(w: &World) -> Service {
    serve::start(w.config(), Some("127.0.0.1:0")).await.unwrap()
}

/// Polls `check` every 200 ms for up to `limit`; returns whether it came true.
async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

fn signed(w: &World, event_type: &str, id: &str, ts: i64) -> (Vec<u8>, String) {
    let body =
        json!({"event_type": event_type, "company_id": w.sim().company_id(), "employment_id": id})
            .to_string();
    let sig = w.sim().sign(body.as_bytes(), ts);
    (body.into_bytes(), sig)
}

async fn post(url: &str, body: &[u8], sig: &str, ts: i64) -> (u16, serde_json::Value) {
    let r = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("x-remote-signature", sig)
        .header("x-remote-timestamp", ts.to_string())
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(json!(null)))
}

#[tokio::test]
async fn a_signed_webhook_changes_ad_once_and_a_bad_signature_changes_nothing() {
    let _guard = AD.lock().await;
    let w = World::new("serve-hook", 30, "").await;
    w.run(true, None).await;
    let id = active_in(&w.sim(), "Engineering");
    let service = start(&w).await;
    let url = format!("http://{}/webhooks/remote", service.addr);

    // The simulator delivers a real signed webhook after a department change.
    w.sim()
        .update_employment(&id, json!({"department": "Finance"}));
    let status = w
        .sim()
        .send_webhook(&url, "employment.details.updated", &id)
        .await
        .unwrap();
    assert_eq!(status, 200);
    // The event's writes land one after another (attributes, the move, then the group
    // change): wait for the last of them.
    eventually(Duration::from_secs(30), || async {
        w.accounts().await.get(&id).is_some_and(|a| {
            a.first("department") == Some("Finance")
                && a.dn.contains("OU=Finance")
                && !in_group(a, "Engineering")
        })
    })
    .await;
    let a = &w.accounts().await[&id];
    assert_eq!(
        a.first("department"),
        Some("Finance"),
        "AD did not reflect the department change"
    );
    assert!(a.dn.contains("OU=Finance"), "not moved: {}", a.dn);
    assert!(!in_group(a, "Engineering"), "still in Engineering");

    // The same delivery twice: stored once, applied once.
    w.sim()
        .update_employment(&id, json!({"job_title": "Controller"}));
    let ts = chrono::Utc::now().timestamp_millis();
    let (body, sig) = signed(&w, "employment.details.updated", &id, ts);
    let (s1, a1) = post(&url, &body, &sig, ts).await;
    let (s2, a2) = post(&url, &body, &sig, ts).await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(a1["accepted"], 1);
    assert_eq!(
        (a2["accepted"].as_u64(), a2["duplicates"].as_u64()),
        (Some(0), Some(1))
    );
    let titled = eventually(Duration::from_secs(30), || async {
        w.accounts()
            .await
            .get(&id)
            .is_some_and(|a| a.first("title") == Some("Controller"))
    })
    .await;
    assert!(titled);
    let store = service.app.engine.store().clone();
    let idle = eventually(Duration::from_secs(30), || async {
        store.queue_depth().unwrap().0 == 0
    })
    .await;
    assert!(idle);
    let title_writes = store
        .audit_log(1000, Some(&id), None)
        .unwrap()
        .into_iter()
        .filter(|a| a.operation == "modify" && a.detail.contains("Controller"))
        .count();
    assert_eq!(
        title_writes, 1,
        "the duplicate delivery must not apply again"
    );

    // A bad signature: 401, nothing stored, nothing changed.
    let before = store.event_counts().unwrap();
    w.sim()
        .update_employment(&id, json!({"job_title": "Intruder"}));
    let ts = chrono::Utc::now().timestamp_millis();
    let (body, _) = signed(&w, "employment.details.updated", &id, ts);
    let (status, answer) = post(&url, &body, &"0".repeat(64), ts).await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(store.event_counts().unwrap(), before);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(w.accounts().await[&id].first("title"), Some("Controller"));

    // A stale (replayed) delivery is refused too.
    let old = chrono::Utc::now().timestamp_millis() - 10 * 60 * 1000;
    let (body, sig) = signed(&w, "employment.details.updated", &id, old);
    assert_eq!(post(&url, &body, &sig, old).await.0, 401);

    // Health and metrics.
    let health = reqwest::get(format!("http://{}/healthz", service.addr))
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200);
    let metrics = reqwest::get(format!("http://{}/metrics", service.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("hrsync_webhooks_rejected_total 2"),
        "{metrics}"
    );
    assert!(metrics.contains("hrsync_event_queue_depth 0"), "{metrics}");
    assert!(
        metrics.contains("hrsync_runs_total{trigger=\"event\"}"),
        "{metrics}"
    );

    service.shutdown(Duration::from_secs(10)).await;
    w.cleanup().await;
}

#[tokio::test]
async fn a_cron_automation_fires() {
    let _guard = AD.lock().await;
    let w = World::new(
        "serve-cron",
        10,
        "\n[[automations]]\nname = \"tick\"\nschedule = \"*/2 * * * * *\"\n",
    )
    .await;
    let service = start(&w).await;
    let store = service.app.engine.store().clone();
    let fired = eventually(Duration::from_secs(20), || async {
        store
            .runs(10)
            .unwrap()
            .iter()
            .any(|r| r.trigger == "cron:tick")
    })
    .await;
    assert!(fired, "the cron automation did not run");
    service.shutdown(Duration::from_secs(20)).await;
    assert!(
        !w.accounts().await.is_empty(),
        "the scheduled sync created the accounts"
    );
    w.cleanup().await;
}

const WELCOME: &str = r#"
[templates.welcome]
description = "Wait three days, then mark the account"
[[templates.welcome.steps]]
kind = "wait"
duration = "3d"
[[templates.welcome.steps]]
kind = "directory"
operation = "modify"
attributes = { description = "Welcomed {{ person.first_name }}" }
"#;

#[tokio::test]
async fn a_three_day_wait_survives_a_restart() {
    let _guard = AD.lock().await;
    let w = World::new("serve-wait", 15, WELCOME).await;
    w.run(true, None).await;
    let id = active_in(&w.sim(), "Engineering");
    let service = start(&w).await;
    let outcome = Orchestrator::new(&service.app.engine)
        .start("welcome", &id, MANUAL, None)
        .await
        .unwrap();
    let Outcome::Waiting { run, .. } = outcome else {
        panic!("expected a wait, got {outcome:?}");
    };
    // Killed during the wait.
    service.shutdown(Duration::from_secs(10)).await;

    let service = start(&w).await;
    let store = service.app.engine.store().clone();
    assert_eq!(store.template_run(run).unwrap().unwrap().state, "waiting");
    // Three days pass.
    assert!(store.resume_template_run_now(run).unwrap());
    let done = eventually(Duration::from_secs(20), || async {
        store
            .template_run(run)
            .unwrap()
            .is_some_and(|r| r.state == "done")
    })
    .await;
    assert!(
        done,
        "the wait did not resume: {:?}",
        store.template_run(run).unwrap()
    );
    let a = &w.accounts().await[&id];
    assert!(
        a.first("description")
            .is_some_and(|d| d.starts_with("Welcomed ")),
        "{:?}",
        a.first("description")
    );
    service.shutdown(Duration::from_secs(10)).await;
    w.cleanup().await;
}

#[tokio::test]
async fn stopping_loses_no_stored_event() {
    let _guard = AD.lock().await;
    let w = World::new("serve-stop", 30, "").await;
    w.run(true, None).await;
    let service = start(&w).await;
    let url = format!("http://{}/webhooks/remote", service.addr);
    let ids: Vec<String> = w
        .sim()
        .employments()
        .into_iter()
        .filter(|e| e["status"] == "active")
        .take(8)
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    for id in &ids {
        w.sim()
            .update_employment(id, json!({"job_title": "Renamed Role"}));
        assert_eq!(
            w.sim()
                .send_webhook(&url, "employment.updated", id)
                .await
                .unwrap(),
            200
        );
    }
    // Stop at once: whatever was not applied stays queued.
    let store = service.app.engine.store().clone();
    service.shutdown(Duration::from_secs(10)).await;
    let counts = store.event_counts().unwrap();
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    assert_eq!(
        total,
        ids.len() as i64,
        "every acknowledged event is stored: {counts:?}"
    );

    let service = start(&w).await;
    let store = service.app.engine.store().clone();
    let drained = eventually(Duration::from_secs(60), || async {
        store.event_counts().unwrap() == vec![("done".to_string(), ids.len() as i64)]
    })
    .await;
    assert!(
        drained,
        "events after restart: {:?}",
        store.event_counts().unwrap()
    );
    let accounts = w.accounts().await;
    assert!(
        ids.iter()
            .all(|id| accounts[id].first("title") == Some("Renamed Role"))
    );
    service.shutdown(Duration::from_secs(10)).await;
    w.cleanup().await;
}

/// A local receiver that records requests.
async fn receiver() -> (String, Arc<StdMutex<Vec<(String, String, String, String)>>>) {
    use axum::extract::{OriginalUri, State};
    use axum::http::{HeaderMap, Method};
    type Seen = Arc<StdMutex<Vec<(String, String, String, String)>>>;
    let seen: Seen = Arc::default();
    let app = axum::Router::new()
        .fallback(
            |State(seen): State<Seen>,
             method: Method,
             OriginalUri(uri): OriginalUri,
             headers: HeaderMap,
             body: String| async move {
                let auth = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                seen.lock()
                    .unwrap()
                    .push((method.to_string(), uri.to_string(), auth, body));
                (axum::http::StatusCode::CREATED, "{\"ok\":true}")
            },
        )
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn webhook_test_sends_the_exact_request_and_a_template_writes_back_to_remote() {
    let _guard = AD.lock().await;
    let (base, seen) = receiver().await;
    let extra = format!(
        r#"
[outbound]
allowed_hosts = ["{base}"]

[webhooks.notify]
method = "POST"
url = "{base}/hooks/joiner"
query = {{ user = "{{{{ user.sAMAccountName }}}}" }}
headers = {{ x-source = "hrsync" }}
format = "json"
body = {{ name = "{{{{ person.full_name }}}}", department = "{{{{ user.department }}}}" }}
auth = {{ kind = "bearer", token = {{ file = "notify.token" }} }}

[webhooks.elsewhere]
url = "http://127.0.0.2:9/nope"

[templates.writeback]
[[templates.writeback.steps]]
kind = "connector-action"
connector = "remote"
action = "update-employment"
params = {{ employment_id = "{{{{ person.id }}}}", external_id = "{{{{ user.sAMAccountName }}}}" }}
[[templates.writeback.steps]]
kind = "webhook"
webhook = "notify"
"#
    );
    let w = World::new("serve-out", 15, &extra).await;
    std::fs::write(w.dir.path().join("notify.token"), "tok-123").unwrap();
    w.run(true, None).await;
    let id = active_in(&w.sim(), "Engineering");
    let sam = w.accounts().await[&id]
        .first("sAMAccountName")
        .unwrap()
        .to_string();
    let config = w.dir.path().join("hrsync.toml");
    // The CLI reads the config from disk.
    let text = hrsync_tests::fixtures::sync_config_toml(&w.ad, &w.ou, &w.sim.base_url(), &extra);
    std::fs::write(&config, text).unwrap();

    let cli = hrsync::cli::Cli::try_parse_from([
        "hrsync",
        "--config",
        config.to_str().unwrap(),
        "webhook",
        "test",
        "notify",
        "--user",
        &sam,
    ])
    .unwrap();
    let code = hrsync::cli::run(cli).await;
    assert_eq!(
        format!("{code:?}"),
        format!("{:?}", std::process::ExitCode::SUCCESS)
    );
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1);
        let (method, uri, auth, body) = &seen[0];
        assert_eq!(method, "POST");
        assert_eq!(uri, &format!("/hooks/joiner?user={sam}"));
        assert_eq!(auth, "Bearer tok-123");
        let body: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(body["department"], "Engineering");
        assert_eq!(body["name"], w.sim().employment(&id).unwrap()["full_name"]);
    }
    // A webhook to a host not allowed is refused with the line to add.
    let cli = hrsync::cli::Cli::try_parse_from([
        "hrsync",
        "--config",
        config.to_str().unwrap(),
        "webhook",
        "test",
        "elsewhere",
        "--user",
        &sam,
    ])
    .unwrap();
    let code = hrsync::cli::run(cli).await;
    assert_ne!(
        format!("{code:?}"),
        format!("{:?}", std::process::ExitCode::SUCCESS)
    );

    // The write-back template: Remote's employment gets the AD username as external_id.
    let (engine, _rt) = w.engine().await;
    let outcome = Orchestrator::new(&engine)
        .start("writeback", &id, MANUAL, None)
        .await
        .unwrap();
    assert!(matches!(outcome, Outcome::Done { .. }), "{outcome:?}");
    assert_eq!(
        w.sim().employment(&id).unwrap()["external_id"],
        sam.as_str()
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        2,
        "the template's webhook step ran"
    );
    // The loop guard: the same inputs do not run it again automatically.
    let again = Orchestrator::new(&engine)
        .start("writeback", &id, "automation:test", None)
        .await
        .unwrap();
    let again2 = Orchestrator::new(&engine)
        .start("writeback", &id, "automation:test", None)
        .await
        .unwrap();
    assert!(
        matches!(again2, Outcome::Skipped { .. }),
        "{again:?} then {again2:?}"
    );
    drop(engine);
    w.cleanup().await;
}

#[tokio::test]
async fn an_offboarding_event_disables_the_account_without_waiting_for_approval() {
    let _guard = AD.lock().await;
    let w = World::new("serve-leaver", 20, "").await;
    w.run(true, None).await;
    let id = active_in(&w.sim(), "Engineering");
    let service = start(&w).await;
    let url = format!("http://{}/webhooks/remote", service.addr);
    w.sim()
        .update_employment(&id, json!({"status": "archived"}));
    assert_eq!(
        w.sim()
            .send_webhook(&url, "employment.status.updated", &id)
            .await
            .unwrap(),
        200
    );
    // Disabled, then moved: wait for the move.
    eventually(Duration::from_secs(30), || async {
        w.accounts()
            .await
            .get(&id)
            .is_some_and(|a| !hrsync_tests::world::enabled(a) && a.dn.contains("OU=Disabled"))
    })
    .await;
    let a = &w.accounts().await[&id];
    assert!(
        !hrsync_tests::world::enabled(a),
        "one leaver from an event is not a mass disable: it must not be held"
    );
    assert!(a.dn.contains("OU=Disabled"), "not moved: {}", a.dn);
    service.shutdown(Duration::from_secs(10)).await;
    w.cleanup().await;
}

// ---- supervision, readiness, concurrency, priority ----

async fn start_with(config: hrsync::config::Config, options: ServeOptions) -> Service {
    serve::start_with(config, Some("127.0.0.1:0"), options)
        .await
        .unwrap()
}

/// `/readyz`: the status and the JSON answer.
async fn readyz(service: &Service) -> (u16, serde_json::Value) {
    let r = reqwest::get(format!("http://{}/readyz", service.addr))
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(json!(null)))
}

/// The value of one sample line of a metrics text (0 when absent).
fn metric_count(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
        .unwrap_or(0.0)
}

async fn metrics_text(service: &Service) -> String {
    reqwest::get(format!("http://{}/metrics", service.addr))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A hook that runs `f` on each event before the worker processes it.
fn hook<F, Fut>(f: F) -> Option<serve::EventHook>
where
    F: Fn(hrsync::store::StoredEvent) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    Some(Arc::new(move |ev| Box::pin(f(ev))))
}

fn active_people(w: &World, n: usize) -> Vec<String> {
    w.sim()
        .employments()
        .into_iter()
        .filter(|e| e["status"] == "active")
        .take(n)
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_worker_that_panics_is_restarted_readyz_says_so_and_the_event_is_retried() {
    let _guard = AD.lock().await;
    let w = World::new("serve-panic", 12, "").await;
    w.run(true, None).await;
    let id = active_in(&w.sim(), "Engineering");
    let panics = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let options = ServeOptions {
        event_workers: 2,
        restart_delay: Duration::from_secs(2),
        before_event: hook({
            let panics = panics.clone();
            move |_ev| {
                let first = panics.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
                async move {
                    if first {
                        panic!("injected fault");
                    }
                }
            }
        }),
        ..ServeOptions::default()
    };
    let service = start_with(w.config(), options).await;
    assert_eq!(readyz(&service).await.0, 200);
    let url = format!("http://{}/webhooks/remote", service.addr);
    w.sim()
        .update_employment(&id, json!({"job_title": "Survivor"}));
    assert_eq!(
        w.sim()
            .send_webhook(&url, "employment.details.updated", &id)
            .await
            .unwrap(),
        200
    );
    // While the worker is down, /readyz says so and why.
    let mut down = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while tokio::time::Instant::now() < deadline {
        let (status, body) = readyz(&service).await;
        if status == 503 {
            down = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let body = down.expect("/readyz never reported the crashed worker");
    let reasons = body["reasons"].to_string();
    assert!(
        reasons.contains("panicked") && reasons.contains("injected fault"),
        "{body}"
    );
    // Restarted, the event is taken again and applied.
    let applied = eventually(Duration::from_secs(30), || async {
        w.accounts()
            .await
            .get(&id)
            .is_some_and(|a| a.first("title") == Some("Survivor"))
    })
    .await;
    assert!(applied, "the event was not retried after the panic");
    let ready = eventually(Duration::from_secs(10), || async {
        readyz(&service).await.0 == 200
    })
    .await;
    assert!(ready, "{:?}", readyz(&service).await);
    let events = service.app.engine.store().recent_events(10).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].state.as_str(), events[0].attempts),
        ("done", 2),
        "{events:?}"
    );
    let metrics = metrics_text(&service).await;
    assert!(
        metrics.contains("hrsync_event_worker_restarts_total 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hrsync_events_processed_total 1"),
        "{metrics}"
    );
    service.shutdown(Duration::from_secs(10)).await;
    w.cleanup().await;
}

#[tokio::test]
async fn an_event_that_always_panics_fails_after_its_attempts_and_others_still_apply() {
    let _guard = AD.lock().await;
    let w = World::new("serve-panic-always", 12, "").await;
    w.run(true, None).await;
    let people = active_people(&w, 2);
    let (victim, other) = (people[0].clone(), people[1].clone());
    let mut config = w.config();
    config.serve.event_attempts = 3;
    let options = ServeOptions {
        event_workers: 2,
        restart_delay: Duration::from_millis(100),
        before_event: hook({
            let victim = victim.clone();
            move |ev| {
                let doomed = ev.person_id.as_deref() == Some(victim.as_str());
                async move {
                    if doomed {
                        panic!("this person always crashes the worker");
                    }
                }
            }
        }),
        ..ServeOptions::default()
    };
    let service = start_with(config, options).await;
    let url = format!("http://{}/webhooks/remote", service.addr);
    for id in [&victim, &other] {
        w.sim()
            .update_employment(id, json!({"job_title": "After The Crash"}));
        assert_eq!(
            w.sim()
                .send_webhook(&url, "employment.details.updated", id)
                .await
                .unwrap(),
            200
        );
    }
    let store = service.app.engine.store().clone();
    let settled = eventually(Duration::from_secs(60), || async {
        store
            .recent_events(10)
            .unwrap()
            .iter()
            .all(|e| e.state == "done" || e.state == "failed")
    })
    .await;
    let events = store.recent_events(10).unwrap();
    assert!(settled, "{events:?}");
    let doomed = events
        .iter()
        .find(|e| e.person_id.as_deref() == Some(victim.as_str()))
        .unwrap();
    assert_eq!((doomed.state.as_str(), doomed.attempts), ("failed", 3));
    assert!(
        doomed
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("panicked") && e.contains("always crashes")),
        "{doomed:?}"
    );
    let accounts = w.accounts().await;
    assert_eq!(accounts[&other].first("title"), Some("After The Crash"));
    assert_ne!(accounts[&victim].first("title"), Some("After The Crash"));
    let ready = eventually(Duration::from_secs(10), || async {
        readyz(&service).await.0 == 200
    })
    .await;
    assert!(ready, "{:?}", readyz(&service).await);
    let metrics = metrics_text(&service).await;
    assert!(
        metrics.contains("hrsync_event_worker_restarts_total 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("hrsync_events_failed_total 1"),
        "{metrics}"
    );
    service.shutdown(Duration::from_secs(10)).await;
    w.cleanup().await;
}

#[tokio::test]
async fn a_stalled_queue_makes_readyz_say_why() {
    let _guard = AD.lock().await;
    let w = World::new("serve-stall", 10, "").await;
    w.run(true, None).await;
    let id = active_in(&w.sim(), "Engineering");
    let release = Arc::new(tokio::sync::Notify::new());
    let options = ServeOptions {
        event_workers: 1,
        stall_after: Duration::from_secs(1),
        before_event: hook({
            let release = release.clone();
            move |_ev| {
                let release = release.clone();
                async move { release.notified().await }
            }
        }),
        ..ServeOptions::default()
    };
    let service = start_with(w.config(), options).await;
    assert_eq!(readyz(&service).await.0, 200, "an empty queue never stalls");
    let url = format!("http://{}/webhooks/remote", service.addr);
    assert_eq!(
        w.sim()
            .send_webhook(&url, "employment.details.updated", &id)
            .await
            .unwrap(),
        200
    );
    let stalled = eventually(Duration::from_secs(10), || async {
        let (status, body) = readyz(&service).await;
        status == 503
            && body["reasons"].to_string().contains("stalled")
            && body["reasons"].to_string().contains("in progress for")
    })
    .await;
    assert!(stalled, "{:?}", readyz(&service).await);
    release.notify_one();
    let ready = eventually(Duration::from_secs(30), || async {
        readyz(&service).await.0 == 200
    })
    .await;
    assert!(ready, "{:?}", readyz(&service).await);
    service.shutdown(Duration::from_secs(10)).await;
    w.cleanup().await;
}

/// The `[start, end]` of each event run, by the event's person, from the runs the store recorded.
fn event_runs(
    store: &hrsync::store::Store,
) -> Vec<(
    String,
    chrono::DateTime<chrono::Utc>,
    chrono::DateTime<chrono::Utc>,
)> {
    let people: std::collections::HashMap<i64, String> = store
        .recent_events(1000)
        .unwrap()
        .into_iter()
        .filter_map(|e| Some((e.id, e.person_id?)))
        .collect();
    let t = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    store
        .runs(1000)
        .unwrap()
        .into_iter()
        .filter_map(|r| {
            let id: i64 = r.trigger.strip_prefix("event:")?.parse().ok()?;
            Some((
                people[&id].clone(),
                t(&r.started_at),
                t(r.finished_at.as_deref()?),
            ))
        })
        .collect()
}

#[tokio::test]
async fn events_for_different_people_run_side_by_side_and_one_persons_never_do() {
    let _guard = AD.lock().await;
    let w = World::new("serve-parallel", 20, "").await;
    w.run(true, None).await;
    let people = active_people(&w, 4);
    let service = start_with(
        w.config(),
        ServeOptions {
            event_workers: 4,
            ..ServeOptions::default()
        },
    )
    .await;
    let url = format!("http://{}/webhooks/remote", service.addr);
    for (i, id) in people.iter().enumerate() {
        w.sim()
            .update_employment(id, json!({"job_title": format!("Parallel {i}")}));
    }
    // Two events for the first person, the others one each, all at once.
    let mut sends = tokio::task::JoinSet::new();
    for id in people.iter().chain(std::iter::once(&people[0])) {
        let (sim, url, id) = (w.sim(), url.clone(), id.clone());
        sends.spawn(async move {
            sim.send_webhook(&url, "employment.details.updated", &id)
                .await
                .unwrap()
        });
    }
    while let Some(status) = sends.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    let store = service.app.engine.store().clone();
    let drained = eventually(Duration::from_secs(60), || async {
        store.queue_depth().unwrap().0 == 0
    })
    .await;
    assert!(drained);
    let accounts = w.accounts().await;
    for (i, id) in people.iter().enumerate() {
        assert_eq!(
            accounts[id].first("title"),
            Some(format!("Parallel {i}").as_str())
        );
    }
    let runs = event_runs(&store);
    let overlap = |a: &(String, _, _), b: &(String, _, _)| a.1 < b.2 && b.1 < a.2;
    let mut side_by_side = 0;
    for (i, a) in runs.iter().enumerate() {
        for b in &runs[i + 1..] {
            if overlap(a, b) {
                assert_ne!(a.0, b.0, "two runs of one person at once: {runs:?}");
                side_by_side += 1;
            }
        }
    }
    assert!(
        side_by_side > 0,
        "no two events ran side by side with 4 workers: {runs:?}"
    );
    service.shutdown(Duration::from_secs(10)).await;
    w.cleanup().await;
}

#[tokio::test]
async fn a_termination_in_a_burst_is_applied_before_the_updates_queued_ahead_of_it() {
    let _guard = AD.lock().await;
    let w = World::new("serve-priority", 20, "").await;
    w.run(true, None).await;
    let people = active_people(&w, 6);
    let (blocker, leaver, updated) = (&people[0], &people[1], &people[2..]);
    // One worker, held on the first event until the burst is queued.
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let options = ServeOptions {
        event_workers: 1,
        before_event: hook({
            let release = release.clone();
            let blocker = blocker.clone();
            move |ev| {
                let release = release.clone();
                let hold = ev.person_id.as_deref() == Some(blocker.as_str());
                async move {
                    if hold {
                        release.acquire().await.unwrap().forget();
                    }
                }
            }
        }),
        ..ServeOptions::default()
    };
    let service = start_with(w.config(), options).await;
    let url = format!("http://{}/webhooks/remote", service.addr);
    let send = |id: String, event_type: &'static str| {
        let url = url.clone();
        let sim = w.sim();
        async move {
            assert_eq!(sim.send_webhook(&url, event_type, &id).await.unwrap(), 200);
        }
    };
    send(blocker.clone(), "employment.details.updated").await;
    let store = service.app.engine.store().clone();
    let taken = eventually(Duration::from_secs(10), || async {
        store
            .event_counts()
            .unwrap()
            .contains(&("processing".to_string(), 1))
    })
    .await;
    assert!(taken);
    for id in updated {
        w.sim()
            .update_employment(id, json!({"job_title": "Queued Update"}));
        send(id.clone(), "employment.details.updated").await;
    }
    w.sim()
        .update_employment(leaver, json!({"status": "archived"}));
    send(leaver.clone(), "employment.status.updated").await;
    release.add_permits(1);
    let drained = eventually(Duration::from_secs(90), || async {
        store.queue_depth().unwrap().0 == 0
    })
    .await;
    assert!(drained, "{:?}", store.event_counts().unwrap());
    let mut runs = event_runs(&store);
    runs.sort_by_key(|r| r.1);
    let order: Vec<&str> = runs.iter().map(|r| r.0.as_str()).collect();
    assert_eq!(order.len(), 6, "{order:?}");
    assert_eq!(order[0], blocker.as_str());
    assert_eq!(
        order[1],
        leaver.as_str(),
        "the status change queued last runs before the updates queued ahead of it: {order:?}"
    );
    let accounts = w.accounts().await;
    assert!(!hrsync_tests::world::enabled(&accounts[leaver]));
    service.shutdown(Duration::from_secs(10)).await;
    w.cleanup().await;
}

#[tokio::test]
async fn metrics_carry_latency_and_run_duration_histograms_and_the_drain_estimate() {
    let _guard = AD.lock().await;
    let w = World::new("serve-metrics", 10, "").await;
    w.run(true, None).await;
    let id = active_in(&w.sim(), "Engineering");
    let service = start(&w).await;
    let url = format!("http://{}/webhooks/remote", service.addr);
    w.sim()
        .update_employment(&id, json!({"job_title": "Measured"}));
    assert_eq!(
        w.sim()
            .send_webhook(&url, "employment.details.updated", &id)
            .await
            .unwrap(),
        200
    );
    let store = service.app.engine.store().clone();
    let done = eventually(Duration::from_secs(30), || async {
        store.event_counts().unwrap() == vec![("done".to_string(), 1)]
    })
    .await;
    assert!(done);
    let m = metrics_text(&service).await;
    // A second event for the same known account reads it by GUID and writes: no search (the
    // anchor is not indexed, so a search would scan every user).
    let searches = metric_count(
        &m,
        "hrsync_ldap_operation_duration_seconds_count{operation=\"search\"}",
    );
    let modifies = metric_count(
        &m,
        "hrsync_ldap_operation_duration_seconds_count{operation=\"modify\"}",
    );
    let reads = metric_count(
        &m,
        "hrsync_ldap_operation_duration_seconds_count{operation=\"read\"}",
    );
    w.sim()
        .update_employment(&id, json!({"job_title": "Measured Again"}));
    assert_eq!(
        w.sim()
            .send_webhook(&url, "employment.details.updated", &id)
            .await
            .unwrap(),
        200
    );
    let done = eventually(Duration::from_secs(30), || async {
        store.event_counts().unwrap() == vec![("done".to_string(), 2)]
    })
    .await;
    assert!(done);
    let after = metrics_text(&service).await;
    let count = |name: &str| {
        metric_count(
            &after,
            &format!("hrsync_ldap_operation_duration_seconds_count{{operation=\"{name}\"}}"),
        )
    };
    assert_eq!(
        count("search"),
        searches,
        "an event for a known account searched:\n{after}"
    );
    assert!(count("modify") > modifies, "{after}");
    assert!(count("read") > reads, "{after}");
    assert_eq!(
        w.accounts().await[&id].first("title"),
        Some("Measured Again")
    );
    for line in [
        "hrsync_event_apply_latency_seconds_count 1",
        "hrsync_event_processing_seconds_count 1",
        "hrsync_run_duration_seconds_count{trigger=\"event\"} 1",
        "hrsync_event_queue_drain_seconds 0.0",
        "hrsync_event_queue_depth 0",
        "hrsync_details_pending 0",
        "hrsync_runs_total{trigger=\"event\"} 1",
        // Recorded by the directory client itself: the event's read and its modify.
        "hrsync_ldap_operation_duration_seconds_count{operation=\"modify\"}",
        "hrsync_ldap_operation_duration_seconds_count{operation=\"search\"}",
        "# EOF",
    ] {
        assert!(m.contains(line), "missing `{line}` in\n{m}");
    }
    service.shutdown(Duration::from_secs(10)).await;
    w.cleanup().await;
}
