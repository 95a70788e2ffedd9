//! Progressive enrichment end to end: the `hrsync` binary killed with SIGKILL while it fetches
//! details, then run again — no detail is fetched twice and the end state is complete.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hrsync_tests::fixtures::hrsync_bin;
use hrsync_tests::remote_sim::Fault;
use hrsync_tests::world::{AD, SAM_FROM_FULL_NAME, World, enabled};

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

/// Managers by account: every account whose person has a manager with an account links to that
/// account. Returns the links checked.
async fn managers_are_right(w: &World) -> usize {
    let accounts = w.accounts().await;
    let mut checked = 0;
    for e in w.sim().employments() {
        let id = e["id"].as_str().unwrap();
        let (Some(account), Some(boss)) = (
            accounts.get(id),
            e["manager_employment_id"].as_str().filter(|b| *b != id),
        ) else {
            continue;
        };
        if let Some(boss_account) = accounts.get(boss) {
            assert_eq!(
                account.first("manager"),
                Some(boss_account.dn.as_str()),
                "{id}'s manager is {boss}"
            );
            checked += 1;
        }
    }
    checked
}

/// Employments in the simulator by status.
fn with_status(w: &World, status: &str) -> Vec<String> {
    w.sim()
        .employments()
        .into_iter()
        .filter(|e| e["status"] == status)
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// No details at all (`max_detail_fetches = 0`), then a run that may fetch them.
const NO_DETAILS: &str = "max_detail_fetches = 0\n[connectors.remote.settings]\npage_size = 20";
/// Account CNs from the list's `full_name`.
const LIST_CN: &str = r#"cn = ["{{ full_name }}", "{{ full_name }} ({{ short_id or id }})"]"#;
const SMALL_PAGES: &str = "[connectors.remote.settings]\npage_size = 20";

#[tokio::test]
async fn with_on_create_rules_from_list_fields_every_active_person_gets_an_account_from_the_list_pages()
 {
    let _guard = AD.lock().await;
    let mut w = World::with_seed("enrich-list", 60, &format!("{LIST_CN}\n{NO_DETAILS}"), 31).await;
    w.sam_rule = Some(SAM_FROM_FULL_NAME.to_string());
    let sim = w.sim();
    let r = w.run(true, None).await;
    assert_eq!(sim.stats().route_count(DETAIL_ROUTE), 0);
    assert!(sim.stats().route_count("GET /v1/employments") >= 3);
    let accounts = w.accounts().await;
    let active = with_status(&w, "active");
    assert!(active.len() > 30, "{} active", active.len());
    for id in &active {
        let a = accounts.get(id).unwrap_or_else(|| {
            panic!(
                "{id} has no account from the list pages: {}",
                hrsync::sync::report::render(&r.plan, None)
            )
        });
        assert!(enabled(a), "{id}");
        // A detail-only fact renders absent; the account is there without it.
        assert_eq!(
            a.first("givenName"),
            None,
            "{id}: givenName comes with the detail"
        );
    }
    // A pre-hire waits for its start date, which only the detail has.
    for status in ["pre_hire", "invited", "created"] {
        for id in with_status(&w, status) {
            assert!(
                !accounts.contains_key(&id),
                "{status} {id} created before its start date was known"
            );
        }
    }

    // Then the details: managers, start dates and name parts arrive and are applied.
    w.extra_sync = format!("{LIST_CN}\n{SMALL_PAGES}");
    w.run(true, None).await;
    assert_eq!(
        sim.stats().route_count(DETAIL_ROUTE) as usize,
        sim.employments()
            .iter()
            .filter(|e| e["status"] != "deleted")
            .count(),
        "one detail each"
    );
    let accounts = w.accounts().await;
    for id in &active {
        let e = sim.employment(id).unwrap();
        let (given, _) = hrsync_tests::brownfield::person_names(&e).unwrap();
        assert_eq!(accounts[id].first("givenName"), Some(given.trim()), "{id}");
    }
    assert!(managers_are_right(&w).await > 10);
    for id in with_status(&w, "pre_hire") {
        if let Some(a) = accounts.get(&id) {
            assert!(!enabled(a), "pre-hire {id} is enabled before day one");
        }
    }
    w.cleanup().await;
}

#[tokio::test]
async fn with_on_create_names_from_the_detail_nobody_is_created_from_a_guess() {
    let _guard = AD.lock().await;
    let mut w = World::with_seed("enrich-detail", 40, NO_DETAILS, 32).await;
    let sim = w.sim();
    let r = w.run(true, None).await;
    assert_eq!(sim.stats().route_count(DETAIL_ROUTE), 0);
    assert!(
        w.accounts().await.is_empty(),
        "an account was named before its detail came"
    );
    let waiting = r
        .plan
        .people
        .iter()
        .filter(|p| {
            p.note
                .as_deref()
                .is_some_and(|n| n.contains("waits for its detail"))
        })
        .count();
    assert!(
        waiting >= with_status(&w, "active").len(),
        "{waiting} waiting"
    );

    w.extra_sync = SMALL_PAGES.to_string();
    w.run(true, None).await;
    let accounts = w.accounts().await;
    for id in with_status(&w, "active") {
        let e = sim.employment(&id).unwrap();
        let (given, family) = hrsync_tests::brownfield::person_names(&e).unwrap();
        let a = &accounts[&id];
        assert_eq!(a.first("givenName"), Some(given.trim()), "{id}");
        assert_eq!(a.first("sn"), family.as_deref().map(str::trim), "{id}");
    }
    assert!(managers_are_right(&w).await > 5);
    w.cleanup().await;
}
