//! The BambooHR connector end to end: the plugin reading the BambooHR simulator, a real Samba AD
//! DC, a real SQLite store. `connector test`, `plan` and `sync` from the CLI; joiners, a pre-hire
//! inside and outside `prehire_days`, leavers (status and termination date, in the configured
//! time zone) and the supervisor tree as `manager` links.
//!
//! Tests share one AD, so each takes [`AD`] and works in its own OU.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use hrsync::directory::DirEntry;
use hrsync::store::RunStatus;
use hrsync_tests::bamboo_sim::fixtures::ids;
use hrsync_tests::bamboo_sim::{BambooConfig, BambooHandle, Person, Status};
use hrsync_tests::bamboo_world::BambooWorld;
use hrsync_tests::fixtures::hrsync_bin;
use hrsync_tests::world::{AD, enabled, in_group, total_ops};

const GENEROUS_GATE: &str =
    "[sync.safety]\nmax_destructive = 1000\nmax_destructive_percent = 100.0";

/// `h:m` on `day` in Europe/Berlin (the worlds' `sync.time_zone`), as UTC.
fn berlin(day: NaiveDate, h: u32, m: u32) -> DateTime<Utc> {
    chrono_tz::Europe::Berlin
        .from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap())
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// The ids that should have an account on `day`: active, started or starting within 7 days,
/// not terminated by then.
fn due(sim: &BambooHandle, day: NaiveDate) -> Vec<String> {
    sim.people()
        .into_iter()
        .filter(|p| p.status == Status::Active)
        .filter(|p| p.hire_date.is_none_or(|d| d <= day + Duration::days(7)))
        .filter(|p| p.termination_date.is_none_or(|d| d > day))
        .map(|p| p.id.to_string())
        .collect()
}

/// Every account's manager is its supervisor's account (when the supervisor is someone else
/// with an account), and nobody else's. Returns how many links were checked.
fn check_managers(sim: &BambooHandle, accounts: &HashMap<String, DirEntry>) -> usize {
    let mut links = 0;
    for p in sim.people() {
        let Some(a) = accounts.get(&p.id.to_string()) else {
            continue;
        };
        let expected = p
            .supervisor_eid
            .filter(|s| *s != p.id)
            .and_then(|s| accounts.get(&s.to_string()))
            .map(|m| m.dn.as_str());
        assert_eq!(a.first("manager"), expected, "manager of {}", p.id);
        links += usize::from(expected.is_some());
    }
    links
}

#[tokio::test]
async fn connector_test_plan_and_sync_from_the_cli_create_every_joiner_with_managers() {
    let _guard = AD.lock().await;
    let w = BambooWorld::new("cli", BambooConfig::seeded(11, 20, today()), "").await;
    let sim = w.sim();
    let config = w.write_config();
    // Async: the simulator answers on this test's runtime while the CLI runs.
    let hrsync = async |args: &[&str]| {
        tokio::process::Command::new(hrsync_bin())
            .arg("--config")
            .arg(&config)
            .arg("--quiet")
            .args(args)
            .current_dir(w.dir.path())
            .output()
            .await
            .unwrap()
    };

    // "Test & Save": the plugin authenticates and lists; the fields come with samples; the API
    // key never shows.
    let test = hrsync(&["connector", "test", "bamboohr"]).await;
    let out =
        String::from_utf8_lossy(&test.stdout).to_string() + &String::from_utf8_lossy(&test.stderr);
    assert!(test.status.success(), "connector test failed:\n{out}");
    let people = format!("authenticated; {} people", sim.people().len());
    for expected in [
        people.as_str(),
        "department",
        "Executive",
        "job_title",
        "Chief Executive Officer",
        "employment_status",
        "supervisor_name",
    ] {
        assert!(out.contains(expected), "`{expected}` missing from:\n{out}");
    }
    assert!(
        !out.contains(&sim.config().api_key),
        "the API key leaked:\n{out}"
    );
    assert!(sim.stats().route_count("POST /reports/custom") >= 1);
    assert_eq!(
        sim.stats().unauthorized,
        0,
        "Basic auth with the key as user"
    );

    sim.reset_stats();
    let plan = hrsync(&["plan"]).await;
    assert!(
        plan.status.success(),
        "plan failed:\n{}{}",
        String::from_utf8_lossy(&plan.stdout),
        String::from_utf8_lossy(&plan.stderr)
    );
    assert!(w.accounts().await.is_empty(), "plan must not write");

    let sync = hrsync(&["sync"]).await;
    assert!(
        sync.status.success(),
        "sync failed:\n{}{}",
        String::from_utf8_lossy(&sync.stdout),
        String::from_utf8_lossy(&sync.stderr)
    );
    assert_eq!(
        sim.stats().route_count("POST /reports/custom"),
        2,
        "one report lists everybody, for the plan and for the sync"
    );
    let details = sim.stats().route_count("GET /employees/{id}");
    eprintln!("plan and first sync: 2 reports, {details} detail requests");
    assert!(
        details <= sim.people().len() as u64,
        "details are stored: at most one a person across plan and sync, {details}"
    );

    let accounts = w.accounts().await;
    let mut expected = due(&sim, today());
    expected.sort();
    let mut got: Vec<String> = accounts.keys().cloned().collect();
    got.sort();
    assert_eq!(got, expected, "an account for every due active person");
    for gone in [ids::TERMINATED, ids::PRE_HIRE] {
        assert!(!accounts.contains_key(&gone.to_string()), "{gone}");
    }
    for p in sim.people() {
        let Some(a) = accounts.get(&p.id.to_string()) else {
            continue;
        };
        assert!(enabled(a), "{} should be enabled", p.id);
        assert_eq!(a.first("givenName"), Some(p.first_name.as_str()));
        assert_eq!(a.first("sn"), Some(p.last_name.as_str()));
        assert_eq!(a.first("displayName"), Some(p.display_name().as_str()));
        assert_eq!(a.first("department"), p.department.as_deref());
        assert_eq!(a.first("title"), p.job_title.as_deref());
        assert!(in_group(a, "All Staff"));
        assert_eq!(
            in_group(a, "Engineering"),
            p.department.as_deref() == Some("Engineering")
        );
        assert!(a.first("sAMAccountName").unwrap().is_ascii());
    }
    // The preferred name is the display name; the legal names are the name parts.
    let chema = &accounts[&ids::DOUBLE_BARRELLED.to_string()];
    assert_eq!(chema.first("displayName"), Some("Chema García Márquez"));
    assert_eq!(chema.first("givenName"), Some("José María"));
    // The supervisor tree, three levels deep; a self-supervisor and a dangling one give none.
    assert!(check_managers(&sim, &accounts) >= 15);
    let dn = |id: u32| accounts[&id.to_string()].dn.clone();
    let manager = |id: u32| {
        accounts[&id.to_string()]
            .first("manager")
            .map(str::to_string)
    };
    assert_eq!(manager(ids::VP), Some(dn(ids::CEO)));
    assert_eq!(manager(ids::NON_ASCII), Some(dn(ids::APOSTROPHE)));
    assert_eq!(manager(ids::SELF_SUPERVISED), None);
    assert_eq!(manager(ids::DANGLING_SUPERVISOR), None);
    assert_eq!(manager(ids::CEO), None);

    // A second run writes nothing.
    let again = w.run(true, None).await;
    assert_eq!(
        total_ops(&again),
        0,
        "{}",
        hrsync::sync::report::render(&again.plan, None)
    );
    w.cleanup().await;
}

#[tokio::test]
async fn a_pre_hire_gets_a_disabled_account_within_prehire_days_and_is_enabled_on_day_one() {
    let _guard = AD.lock().await;
    let w = BambooWorld::new("prehire", BambooConfig::seeded(12, 4, today()), "").await;
    let sim = w.sim();
    let kenji = ids::PRE_HIRE.to_string();
    let start = sim.person(ids::PRE_HIRE).unwrap().hire_date.unwrap();
    assert_eq!(start, today() + Duration::days(10));

    // Ten days out: not yet (prehire_days = 7).
    let r = w.run(true, None).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert!(!w.accounts().await.contains_key(&kenji));
    // Eight days out: still not.
    w.run(true, Some(berlin(start - Duration::days(8), 12, 0)))
        .await;
    assert!(!w.accounts().await.contains_key(&kenji));

    // Seven days out: created, disabled, with the future-dated job row (onlyCurrent=false).
    let r = w
        .run(true, Some(berlin(start - Duration::days(7), 0, 30)))
        .await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let accounts = w.accounts().await;
    let a = &accounts[&kenji];
    assert!(!enabled(a), "a pre-hire's account starts disabled");
    assert_eq!(a.first("department"), Some("Engineering"));
    assert_eq!(a.first("title"), Some("Software Engineer"));
    assert_eq!(
        a.first("manager"),
        Some(accounts[&ids::VP.to_string()].dn.as_str())
    );

    // 23:30 in Berlin the evening before: still disabled.
    w.run(true, Some(berlin(start - Duration::days(1), 23, 30)))
        .await;
    assert!(!enabled(&w.accounts().await[&kenji]), "enabled a day early");
    // 00:30 in Berlin on the start date (still the day before in UTC): enabled.
    let r = w.run(true, Some(berlin(start, 0, 30))).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert!(
        enabled(&w.accounts().await[&kenji]),
        "enabled on the start date"
    );
    w.cleanup().await;
}

#[tokio::test]
async fn leavers_are_disabled_by_status_and_on_their_termination_date_in_the_time_zone() {
    let _guard = AD.lock().await;
    let w = BambooWorld::new(
        "leaver",
        BambooConfig::seeded(13, 6, today()),
        GENEROUS_GATE,
    )
    .await;
    let sim = w.sim();
    let aisha = ids::LEAVING.to_string();
    let day = sim.person(ids::LEAVING).unwrap().termination_date.unwrap();

    let first = w.run(true, None).await;
    assert_eq!(first.status, RunStatus::Applied);
    let accounts = w.accounts().await;
    assert!(enabled(&accounts[&aisha]), "leaving later: still active");
    assert!(
        !accounts.contains_key(&ids::TERMINATED.to_string()),
        "an Inactive person gets no account"
    );

    // Terminated in BambooHR today: status Inactive, disabled at once.
    let ordinary = sim
        .people()
        .into_iter()
        .find(|p| p.id >= 100)
        .unwrap()
        .id
        .to_string();
    sim.update(ordinary.parse().unwrap(), |p| {
        *p = p.clone().terminated(today());
    });
    let r = w.run(true, None).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let a = &w.accounts().await[&ordinary];
    assert!(!enabled(a));
    assert!(a.dn.ends_with(&format!("OU=Disabled,{}", w.ou)), "{}", a.dn);

    // Aisha stays `Active` in BambooHR; her termination date decides, in Berlin.
    let before = w
        .run(true, Some(berlin(day - Duration::days(1), 23, 30)))
        .await;
    assert!(before.failed.is_empty(), "{:?}", before.failed);
    assert!(enabled(&w.accounts().await[&aisha]), "disabled a day early");
    // 00:30 on the day in Berlin is still the evening before in UTC.
    let on_day = berlin(day, 0, 30);
    assert!(on_day.date_naive() < day);
    let on = w.run(true, Some(on_day)).await;
    assert!(on.failed.is_empty(), "{:?}", on.failed);
    let a = &w.accounts().await[&aisha];
    assert!(!enabled(a));
    assert!(a.dn.ends_with(&format!("OU=Disabled,{}", w.ou)), "{}", a.dn);
    assert!(!in_group(a, "All Staff"));
    w.cleanup().await;
}

#[tokio::test]
async fn the_supervisor_tree_follows_changes_and_new_managers_in_the_same_run() {
    let _guard = AD.lock().await;
    let w = BambooWorld::new("managers", BambooConfig::seeded(14, 25, today()), "").await;
    let sim = w.sim();
    w.run(true, None).await;
    let accounts = w.accounts().await;
    assert!(check_managers(&sim, &accounts) >= 20);

    // Zoë moves from Siobhán to Jean-Luc; a new manager and her new report join together, the
    // report listed (and fetched) before the manager.
    sim.update(ids::NON_ASCII, |p| p.supervisor_eid = Some(ids::VP));
    let hired = today() - Duration::days(1);
    sim.add(
        Person::new(600, "Ingrid", "Report")
            .email("ingrid.report@example.com")
            .job("Recruiter", "People", "Corporate", "Berlin")
            .hired(hired)
            .supervisor(601),
    );
    sim.add(
        Person::new(601, "Noah", "Newmanager")
            .email("noah.newmanager@example.com")
            .job("Head of People", "People", "Corporate", "Berlin")
            .hired(hired)
            .supervisor(ids::CEO),
    );
    let r = w.run(true, None).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let accounts = w.accounts().await;
    check_managers(&sim, &accounts);
    assert_eq!(
        accounts[&ids::NON_ASCII.to_string()].first("manager"),
        Some(accounts[&ids::VP.to_string()].dn.as_str())
    );
    assert_eq!(
        accounts["600"].first("manager"),
        Some(accounts["601"].dn.as_str()),
        "a new manager's report is linked in the run that creates both"
    );
    w.cleanup().await;
}
