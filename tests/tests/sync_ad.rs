//! The sync engine end to end: the Remote plugin reading the simulator, a real Samba AD DC, a
//! real SQLite store. Joiner, mover, leaver, rehire, pre-hire, hostile names, quarantine, and
//! the safety gate.
//!
//! Tests share one AD (ports are fixed), so they run one at a time, each in its own OU (which is
//! also the search base, so tests never see each other's accounts).
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;
use std::path::Path;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use hrsync::store::RunStatus;
use hrsync::sync::RunOptions;
use hrsync::sync::progress::Progress;
use hrsync_tests::world::{AD, World, active_in, enabled, in_group, total_ops};
use serde_json::json;

#[tokio::test]
async fn a_full_sync_creates_the_right_accounts_and_a_second_run_writes_nothing() {
    let _guard = AD.lock().await;
    let w = World::new("full", 120, "set_initial_password = true").await;
    let sim = w.sim();
    // A record Remote cannot describe: quarantined, and the run goes on.
    let broken =
        sim.add_employment(json!({"full_name": "", "basic_information": null, "status": "active"}));

    let planned = w.run(false, None).await;
    assert!(w.accounts().await.is_empty(), "plan must not write");
    let first = w.run(true, None).await;
    assert_eq!(first.status, RunStatus::Applied);
    assert!(first.failed.is_empty(), "failures: {:?}", first.failed);
    assert_eq!(
        first.plan.summary.create, planned.plan.summary.create,
        "sync applies the plan that plan showed"
    );
    let accounts = w.accounts().await;
    assert_eq!(accounts.len(), first.plan.summary.create);
    assert!(
        first
            .plan
            .quarantined
            .iter()
            .any(|q| q.record_id == broken && q.field.as_deref() == Some("full_name"))
    );

    // Every active person has an enabled account in their department's OU, with groups and manager.
    let people = sim.employments();
    let by_id: HashMap<&str, &serde_json::Value> = people
        .iter()
        .map(|e| (e["id"].as_str().unwrap(), e))
        .collect();
    let mut checked_manager = false;
    for e in people.iter().filter(|e| e["status"] == "active") {
        let id = e["id"].as_str().unwrap();
        if id == broken {
            continue;
        }
        let a = accounts
            .get(id)
            .unwrap_or_else(|| panic!("active {id} has no account"));
        assert!(enabled(a), "{id} should be enabled");
        assert_eq!(a.first("department"), e["department"].as_str());
        assert_eq!(a.first("title"), e["job_title"].as_str());
        assert_eq!(
            a.first("displayName"),
            e["full_name"].as_str().map(str::trim),
            "names are stored as HR has them, stray spaces trimmed"
        );
        assert!(a.dn.contains(&format!(",OU=Staff,{}", w.ou)));
        assert!(in_group(a, "All Staff"));
        assert_eq!(
            in_group(a, "Engineering"),
            e["department"] == "Engineering",
            "{id}"
        );
        assert!(a.first("sAMAccountName").unwrap().chars().count() <= 20);
        let detail = sim.employment(id).unwrap();
        if let Some(manager) = detail["manager_employment_id"].as_str()
            && let Some(m) = accounts.get(manager)
        {
            assert_eq!(a.first("manager"), Some(m.dn.as_str()), "manager of {id}");
            checked_manager = true;
        }
        let _ = by_id;
    }
    assert!(checked_manager, "no manager link was checked");

    // Same names, distinct accounts; hostile characters stored exactly.
    let mut sams: Vec<&str> = accounts
        .values()
        .filter_map(|a| a.first("sAMAccountName"))
        .collect();
    let n = sams.len();
    sams.sort_unstable();
    sams.dedup();
    assert_eq!(sams.len(), n, "sAMAccountNames must be unique");
    let hostile = people
        .iter()
        .find(|e| {
            e["full_name"]
                .as_str()
                .is_some_and(|n| n.contains(',') && n.contains('='))
        })
        .expect("the workforce has a person with a hostile name");
    if let Some(a) = accounts.get(hostile["id"].as_str().unwrap()) {
        assert_eq!(
            a.first("displayName"),
            hostile["full_name"].as_str().map(str::trim)
        );
    }

    // The second run writes nothing.
    let second = w.run(true, None).await;
    assert_eq!(
        total_ops(&second),
        0,
        "second run plan: {}",
        hrsync::sync::report::render(&second.plan, None)
    );
    assert_eq!(second.operations_applied, 0);
    w.cleanup().await;
}

#[tokio::test]
async fn detail_batches_read_accounts_by_guid_over_the_first_read_without_searching() {
    let _guard = AD.lock().await;
    // 120 people: about five batches of details, each planned and applied as it arrives.
    let w = World::new("batches", 120, "").await;
    let searches = hrsync::telemetry::ldap_operation_count("search");
    let first = w.run(true, None).await;
    let searched = hrsync::telemetry::ldap_operation_count("search") - searches;
    assert!(first.failed.is_empty(), "failures: {:?}", first.failed);
    assert!(first.details_fetched > 100, "{}", first.details_fetched);
    // The first read (users, then every taken name) and the preflight's; none per batch.
    assert!(searched <= 4, "{searched} searches for a run of ~5 batches");
    let accounts = w.accounts().await;
    assert_eq!(
        accounts.len(),
        first.plan.summary.create,
        "one account per create"
    );
    // A second run finds every account by GUID and writes nothing.
    let second = w.run(true, None).await;
    assert_eq!(hrsync_tests::world::total_ops(&second), 0);
    assert_eq!(w.accounts().await.len(), accounts.len());
    w.cleanup().await;
}

#[tokio::test]
async fn a_department_change_moves_the_account_and_changes_groups() {
    let _guard = AD.lock().await;
    let w = World::new("mover", 60, "").await;
    let sim = w.sim();
    w.run(true, None).await;
    let id = active_in(&sim, "Engineering");
    assert!(in_group(&w.accounts().await[&id], "Engineering"));

    sim.update_employment(
        &id,
        json!({"department": "Finance", "job_title": "Controller"}),
    );
    let r = w.run(true, None).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let a = &w.accounts().await[&id];
    assert_eq!(a.first("department"), Some("Finance"));
    assert_eq!(a.first("title"), Some("Controller"));
    assert!(
        a.dn.contains(&format!("OU=Finance,OU=Staff,{}", w.ou)),
        "{}",
        a.dn
    );
    assert!(!in_group(a, "Engineering"));
    assert!(in_group(a, "All Staff"));
    w.cleanup().await;
}

/// 23:30 UTC on `day - 1` is already `day` in Berlin (UTC+1 in winter, +2 in summer).
fn berlin_midnight_plus(day: NaiveDate, minutes_after_utc_2230: i64) -> DateTime<Utc> {
    Utc.from_utc_datetime(&(day - Duration::days(1)).and_hms_opt(22, 30, 0).unwrap())
        + Duration::minutes(minutes_after_utc_2230)
}

#[tokio::test]
async fn an_offboarding_disables_on_the_termination_date_in_the_configured_time_zone() {
    let _guard = AD.lock().await;
    let w = World::new(
        "leaver",
        60,
        "[sync.safety]\nmax_destructive = 1000\nmax_destructive_percent = 100.0",
    )
    .await;
    let sim = w.sim();
    let today = Utc::now().date_naive();
    let day = today + Duration::days(3);
    // Before the day, everyone's account exists.
    w.run(true, Some(berlin_midnight_plus(day, -120))).await;
    let id = active_in(&sim, "Engineering");
    sim.set_offboarding(&id, day, false);

    // 22:30 UTC the evening before is 23:30 in Berlin: still the day before.
    let before = w.run(true, Some(berlin_midnight_plus(day, 0))).await;
    assert!(before.failed.is_empty());
    assert!(enabled(&w.accounts().await[&id]), "disabled a day early");

    // 23:30 UTC is 00:30 on the day in Berlin (01:30 in summer): disable, move, strip groups.
    let on = w.run(true, Some(berlin_midnight_plus(day, 60))).await;
    assert!(on.failed.is_empty(), "{:?}", on.failed);
    let a = &w.accounts().await[&id];
    assert!(!enabled(a));
    assert!(a.dn.ends_with(&format!("OU=Disabled,{}", w.ou)), "{}", a.dn);
    assert!(!in_group(a, "Engineering") && !in_group(a, "All Staff"));
    w.cleanup().await;
}

#[tokio::test]
async fn a_rehire_re_enables_the_same_account() {
    let _guard = AD.lock().await;
    let w = World::new("rehire", 40, "").await;
    let sim = w.sim();
    w.run(true, None).await;
    let id = active_in(&sim, "Engineering");
    let original_dn = w.accounts().await[&id].dn.clone();

    sim.update_employment(&id, json!({"status": "archived"}));
    w.run(true, None).await;
    let gone = &w.accounts().await[&id];
    assert!(!enabled(gone));
    assert!(gone.dn.contains("OU=Disabled"));

    sim.update_employment(&id, json!({"status": "active"}));
    let r = w.run(true, None).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let back = &w.accounts().await;
    assert_eq!(
        back.values()
            .filter(|a| a.first("employeeNumber") == Some(id.as_str()))
            .count(),
        1,
        "no duplicate account"
    );
    let a = &back[&id];
    assert!(enabled(a));
    assert_eq!(a.dn, original_dn, "back in its OU with the same name");
    assert!(in_group(a, "Engineering"));
    w.cleanup().await;
}

#[tokio::test]
async fn a_pre_hire_is_created_disabled_and_enabled_on_day_one() {
    let _guard = AD.lock().await;
    let w = World::new("prehire", 30, "").await;
    let sim = w.sim();
    let start = Utc::now().date_naive() + Duration::days(5);
    let id = sim.add_employment(json!({
        "full_name": "Zoë Ångström", "status": "pre_hire", "department": "Support",
        "provisional_start_date": start.to_string(),
        "basic_information": {"name": "Zoë Ångström", "given_name": "Zoë", "surname": "Ångström"}
    }));
    w.run(true, None).await;
    let a = &w.accounts().await[&id];
    assert!(!enabled(a), "a pre-hire's account starts disabled");
    assert_eq!(a.first("givenName"), Some("Zoë"));
    let sam = a.first("sAMAccountName").unwrap();
    assert!(
        sam.is_ascii() && sam.contains("angstrom"),
        "diacritics folded: {sam}"
    );

    let r = w.run(true, Some(berlin_midnight_plus(start, 60))).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    assert!(
        enabled(&w.accounts().await[&id]),
        "enabled on the start date"
    );
    w.cleanup().await;
}

/// A listing planned and settled in parts of three (held in the store until the listing is
/// whole): managers planned in one part are linked from reports in another, and the safety gate
/// judges the destructive changes of every part together before any of them is applied.
#[tokio::test]
async fn a_listing_settled_in_parts_links_managers_across_parts_and_is_gated_whole() {
    let _guard = AD.lock().await;
    let mut w = World::new(
        "parts",
        40,
        "[sync.safety]\nmax_destructive = 2\nmax_destructive_percent = 50.0",
    )
    .await;
    w.listing_part = Some(3);
    let sim = w.sim();
    let first = w.run(true, None).await;
    assert!(first.failed.is_empty(), "failures: {:?}", first.failed);
    let accounts = w.accounts().await;
    let mut linked = 0;
    for e in sim.employments() {
        let id = e["id"].as_str().unwrap();
        let (Some(a), Some(m)) = (accounts.get(id), e["manager_employment_id"].as_str()) else {
            continue;
        };
        let Some(manager) = accounts.get(m) else {
            continue;
        };
        assert_eq!(
            a.first("manager"),
            Some(manager.dn.as_str()),
            "{id}'s manager {m} is linked by the end of the run"
        );
        linked += 1;
    }
    assert!(
        linked >= 5,
        "the company has reports with managers ({linked})"
    );
    let again = w.run(true, None).await;
    assert_eq!(
        total_ops(&again),
        0,
        "the first run settled everything: {}",
        hrsync::sync::report::render(&again.plan, None)
    );

    // Three leavers far apart in the listing (so in different parts): each part alone is
    // under the gate's limit of two, all of them together are over it.
    let active: Vec<String> = sim
        .employments()
        .into_iter()
        .filter(|e| e["status"] == "active")
        .filter_map(|e| e["id"].as_str().map(str::to_string))
        .filter(|id| accounts.contains_key(id))
        .collect();
    let spread = [
        active[0].clone(),
        active[active.len() / 2].clone(),
        active[active.len() - 1].clone(),
    ];
    archive_and_expect_held(&w, &spread).await;
    w.cleanup().await;
}

/// Archives these people in HR, runs, and checks the run held all their disables, leaving
/// every account enabled.
async fn archive_and_expect_held(w: &World, ids: &[String]) -> hrsync::sync::RunReport {
    for id in ids {
        w.sim().update_employment(id, json!({"status": "archived"}));
    }
    let held = w.run(true, None).await;
    assert_eq!(
        held.status,
        RunStatus::Held,
        "{}",
        hrsync::sync::report::render(&held.plan, None)
    );
    assert_eq!(held.held.len(), ids.len());
    let accounts = w.accounts().await;
    assert!(
        ids.iter().all(|id| enabled(&accounts[id])),
        "nothing destructive before approval"
    );
    held
}

#[tokio::test]
async fn a_mass_disable_is_held_until_approved_or_rejected() {
    let _guard = AD.lock().await;
    let w = World::new(
        "gate",
        40,
        "[sync.safety]\nmax_destructive = 2\nmax_destructive_percent = 50.0",
    )
    .await;
    let sim = w.sim();
    w.run(true, None).await;
    let active: Vec<String> = sim
        .employments()
        .into_iter()
        .filter(|e| e["status"] == "active")
        .map(|e| e["id"].as_str().unwrap().to_string())
        .take(6)
        .collect();
    let (first, second) = active.split_at(3);
    let held = archive_and_expect_held(&w, first).await;

    let (engine, _rt) = w.engine().await;
    let approved = engine
        .approve(held.run_id, &Progress::hidden())
        .await
        .unwrap();
    assert!(approved.failed.is_empty());
    let accounts = w.accounts().await;
    assert!(
        first.iter().all(|id| !enabled(&accounts[id])),
        "approve releases the disables"
    );
    assert!(
        engine
            .approve(held.run_id, &Progress::hidden())
            .await
            .is_err(),
        "a run is approved once"
    );

    for id in second {
        sim.update_employment(id, json!({"status": "archived"}));
    }
    let held = w.run(true, None).await;
    assert_eq!(
        held.status,
        RunStatus::Held,
        "{}",
        hrsync::sync::report::render(&held.plan, None)
    );
    engine.reject(held.run_id).unwrap();
    assert_eq!(
        engine.store().run(held.run_id).unwrap().status,
        RunStatus::Rejected
    );
    let accounts = w.accounts().await;
    assert!(
        second.iter().all(|id| enabled(&accounts[id])),
        "reject drops the disables"
    );
    drop(engine);
    w.cleanup().await;
}

#[tokio::test]
async fn names_with_dn_and_filter_metacharacters_are_stored_exactly() {
    let _guard = AD.lock().await;
    let w = World::new("names", 10, "").await;
    let sim = w.sim();
    let tricky = [" Ann, \"Jr\"+=<x>;#*()", "*)(objectClass=*"];
    let ids: Vec<String> = tricky
        .iter()
        .map(|last| {
            sim.add_employment(json!({
                "full_name": format!("Eve {last}"), "status": "active", "department": "Sales",
                "basic_information": {"name": format!("Eve {last}"), "given_name": "Eve", "surname": last}
            }))
        })
        .collect();
    let r = w.run(true, None).await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let accounts = w.accounts().await;
    for (id, last) in ids.iter().zip(tricky) {
        let a = accounts
            .get(id)
            .unwrap_or_else(|| panic!("no account for {last:?}"));
        // Stray spaces are trimmed; every metacharacter is kept.
        let last = last.trim();
        assert_eq!(a.first("sn"), Some(last));
        assert_eq!(a.first("cn"), Some(format!("Eve {last}").as_str()));
    }
    // A second run finds them again by anchor (no duplicates, no writes).
    let again = w.run(true, None).await;
    assert_eq!(
        total_ops(&again),
        0,
        "{}",
        hrsync::sync::report::render(&again.plan, None)
    );
    let _ = Path::new("");
    w.cleanup().await;
}

#[tokio::test]
async fn a_moved_account_is_still_found_by_its_guid() {
    let _guard = AD.lock().await;
    let w = World::new("guid", 12, "").await;
    let sim = w.sim();
    w.run(true, None).await;
    let id = active_in(&sim, "Engineering");
    let before = w.accounts().await[&id].dn.clone();
    // Someone moves the account by hand.
    let mut d = hrsync_tests::world::connect(&w.ad).await;
    let (rdn, _) = hrsync::directory::escape::split_first_rdn(&before).unwrap();
    let elsewhere = format!("OU=Moved,OU=Staff,{}", w.ou);
    d.ensure_ou(&elsewhere).await.unwrap();
    let moved = d.rename(&before, rdn, Some(&elsewhere)).await.unwrap();

    let (engine, _rt) = w.engine().await;
    let (guid, _) = engine
        .store()
        .account(&id)
        .unwrap()
        .expect("the sync stored the account's GUID");
    let by_guid = d.get(&format!("<GUID={guid}>"), &["1.1"]).await.unwrap();
    assert_eq!(
        by_guid.map(|e| e.dn),
        Some(moved.clone()),
        "one base read finds it after the move"
    );
    let found = engine.find_account(&id).await.unwrap().unwrap();
    assert_eq!(found.dn, moved);

    // An event-style run for that person: the account is found (by GUID, not by scanning the
    // anchor) and moved back — not created twice.
    let opts = RunOptions {
        apply: true,
        only: Some(id.clone()),
        trigger: "test".into(),
        now: None,
    };
    let r = engine.run(&opts, &Progress::hidden()).await.unwrap();
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let ops = &r.plan.people[0].ops;
    assert!(
        ops.iter()
            .any(|o| matches!(o, hrsync::sync::plan::Op::Move { .. }))
            && !ops
                .iter()
                .any(|o| matches!(o, hrsync::sync::plan::Op::Create { .. })),
        "{ops:?}"
    );
    assert_eq!(w.accounts().await[&id].dn, before);
    d.unbind().await.unwrap();
    drop(engine);
    w.cleanup().await;
}

/// Behind an HR rate limit a new account is created as its detail arrives, whether or not its
/// manager's account exists yet; the manager link follows in the same run, planned again from
/// the detail the store kept (the run holds no listing record or detail in memory for it).
#[tokio::test]
async fn behind_a_rate_limit_reports_planned_before_their_manager_get_the_link_in_the_same_run() {
    let _guard = AD.lock().await;
    let mut w = World::new("late-managers", 60, "").await;
    // A limit the simulator never reaches: only the engine's order changes (no holding).
    w.connector_extra = "rate_limit = \"1000/1s\"".into();
    let sim = w.sim();
    let first = w.run(true, None).await;
    assert!(first.failed.is_empty(), "failures: {:?}", first.failed);
    let waited: Vec<&str> = first
        .plan
        .people
        .iter()
        .filter(|p| p.manager_pending.is_some())
        .map(|p| p.person_id.as_str())
        .collect();
    assert!(
        !waited.is_empty(),
        "no report was planned before its manager: {}",
        hrsync::sync::report::render(&first.plan, None)
    );
    let accounts = w.accounts().await;
    for id in &waited {
        let boss = sim.employment(id).unwrap()["manager_employment_id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(
            accounts[*id].first("manager"),
            Some(accounts[&boss].dn.as_str()),
            "{id}'s manager {boss} was created later in the run; the link must follow in it"
        );
    }
    let second = w.run(true, None).await;
    assert_eq!(second.plan.summary.managers, 0);
    assert_eq!(total_ops(&second), 0);
    w.cleanup().await;
}

/// Accounts can change while a long listing is read (behind Remote's rate limit a listing takes
/// minutes). An account made protected meanwhile is read again before the listing's plan is
/// applied, and left alone, with a note that says why.
#[tokio::test]
async fn an_account_made_protected_while_the_listing_is_read_is_not_written() {
    let _guard = AD.lock().await;
    let w = World::new(
        "protected-mid-run",
        30,
        "[connectors.remote.settings]\npage_size = 10",
    )
    .await;
    let sim = w.sim();
    w.run(true, None).await;
    let accounts = w.accounts().await;
    let mut ids: Vec<&String> = accounts.keys().collect();
    ids.sort();
    let id = ids[0].clone();
    let dn = accounts[&id].dn.clone();
    let title = "Chief Protected Officer";
    sim.update_employment(&id, json!({ "job_title": title }));
    // Page 2 is slow; meanwhile an administrator makes the account protected.
    sim.inject_list_page(
        2,
        hrsync_tests::remote_sim::Fault::Latency(std::time::Duration::from_secs(3)),
        1,
    );
    let protect = async {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
        let mut d = hrsync_tests::world::connect(&hrsync_tests::fixtures::ad_env()).await;
        d.modify(
            &dn,
            &[hrsync::directory::Modification::Replace {
                attr: "adminCount".into(),
                values: vec!["1".into()],
            }],
        )
        .await
        .unwrap();
    };
    let (r, ()) = tokio::join!(w.run(true, None), protect);
    let after = &w.accounts().await[&id];
    assert_ne!(
        after.first("title"),
        Some(title),
        "a protected account was written: {}",
        hrsync::sync::report::render(&r.plan, None)
    );
    assert!(
        r.plan.people.iter().any(|p| p.person_id == id
            && p.note
                .as_deref()
                .is_some_and(|n| n.contains("became protected"))),
        "the report says why {id} was left alone: {}",
        hrsync::sync::report::render(&r.plan, None)
    );
    w.cleanup().await;
}
