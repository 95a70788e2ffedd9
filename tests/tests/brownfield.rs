//! hrsync meeting a directory that was there before it: accounts that hold people's natural names
//! (as sAMAccountName or as UPN prefix), accounts found by a secondary match (inside and outside
//! the managed OUs, protected ones), employments that vanish from Remote, a list that breaks
//! half-way, names that break AD's limits, and managers created after their reports.
//!
//! Tests share one AD (ports are fixed), so they run one at a time (also across processes: see
//! `brownfield::process_lock`), each in its own OU (which is also the search base). Each uses its
//! own workforce seed: sAMAccountNames are unique across the whole domain, and other test files
//! use seed 7. A failing test deletes its OU (`brownfield::tidy_on_panic`).
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::{HashMap, HashSet};

use hrsync::directory::uac;
use hrsync::store::RunStatus;
use hrsync::sync::RunReport;
use hrsync::sync::progress::Progress;
use hrsync::sync::report::{render, summary_line};
use hrsync_tests::brownfield::{
    self, LegacyAccount, Style, add_legacy_account, by_sam, diff, managed, person_names, read_all,
    unmanaged, upn_prefix,
};
use hrsync_tests::remote_sim::{Fault, ListQuirk, SimHandle};
use hrsync_tests::world::{AD, World, enabled, total_ops};
use serde_json::{Value, json};

/// Adopt accounts whose `mail` is the person's work email.
const MATCH_MAIL: &str = r#"match = [{ person = "work_email", directory = "mail" }]"#;

/// A gate that never holds, and list pages of 20 (several pages for a small workforce).
const PERMISSIVE_SMALL_PAGES: &str = "[sync.safety]\nmax_destructive = 1000\nmax_destructive_percent = 100.0\n[connectors.remote.settings]\npage_size = 20";

/// Every reason given for a record: quarantined at plan time or failed when applied.
fn reasons_for<'a>(r: &'a RunReport, id: &str) -> Vec<&'a str> {
    r.plan
        .quarantined
        .iter()
        .chain(r.failed.iter())
        .filter(|q| q.record_id == id)
        .map(|q| q.reason.as_str())
        .collect()
}

fn id_of(e: &Value) -> String {
    e["id"].as_str().unwrap().to_string()
}

/// Active people with a name, in list order.
fn active_named(sim: &SimHandle) -> Vec<Value> {
    sim.employments()
        .into_iter()
        .filter(|e| e["status"] == "active" && person_names(e).is_some())
        .collect()
}

/// Ids that are someone's manager.
fn managers(sim: &SimHandle) -> HashSet<String> {
    sim.employments()
        .iter()
        .filter_map(|e| e["manager_employment_id"].as_str().map(str::to_string))
        .collect()
}

fn outcome(r: &Result<RunReport, hrsync::sync::SyncError>) -> String {
    match r {
        Ok(r) => format!("{:?}: {}", r.status, summary_line(&r.plan)),
        Err(e) => format!("error: {e}"),
    }
}

#[tokio::test]
async fn seeded_name_collisions_quarantine_nobody_and_leave_legacy_accounts_alone() {
    let _guard = AD.lock().await;
    let _process = brownfield::process_lock();
    let w = World::with_seed("bf-names", 300, "", 1201).await;
    let _tidy = brownfield::tidy_on_panic(&w);
    let sim = w.sim();
    let seeded = brownfield::seed(&w, 0.5).await;
    assert!(
        seeded.counts.nt_login >= 10 && seeded.counts.upn >= 10 && seeded.counts.mail_only >= 10,
        "too few seeded accounts: {:?}; skipped {:?}",
        seeded.counts,
        seeded.skipped
    );
    let before = unmanaged(&w).await;
    assert!(
        before.len() > seeded.accounts.len(),
        "the protected one too"
    );

    let first = w.run(true, None).await;
    assert!(first.failed.is_empty(), "failures: {:?}", first.failed);
    for q in &first.plan.quarantined {
        let nameless = sim
            .employment(&q.record_id)
            .is_none_or(|e| person_names(&e).is_none());
        assert!(
            nameless,
            "{} has a name but was quarantined: {}",
            q.record_id, q.reason
        );
    }

    // Every active person has an account.
    let accounts = managed(&w).await;
    for e in active_named(&sim) {
        let id = id_of(&e);
        assert!(
            accounts.contains_key(&id),
            "active {id} ({}) has no account",
            e["full_name"]
        );
    }

    // No hrsync name is a name a legacy account holds (as sAMAccountName or UPN prefix).
    let claimed = seeded.claimed_names();
    for a in accounts.values() {
        let sam = a.first("sAMAccountName").unwrap().to_lowercase();
        assert!(
            !claimed.contains(&sam),
            "{} took {sam}, which a legacy account holds",
            a.dn
        );
        if let Some(prefix) = a.first("userPrincipalName").and_then(upn_prefix) {
            assert!(
                !claimed.contains(&prefix.to_lowercase()),
                "{} has a UPN whose prefix a legacy account holds: {prefix}",
                a.dn
            );
        }
    }
    for s in seeded.of(Style::NtLogin).chain(seeded.of(Style::Upn)) {
        let sam = accounts[&s.person_id].first("sAMAccountName").unwrap();
        assert!(
            !sam.eq_ignore_ascii_case(&s.natural),
            "{} got its natural name {sam} though {} holds it",
            s.person_id,
            s.dn
        );
    }

    // The legacy accounts (and the protected one) are exactly as they were, where they were.
    let changes = diff(&before, &unmanaged(&w).await);
    assert!(changes.is_empty(), "legacy accounts changed: {changes:#?}");

    let second = w.run(true, None).await;
    assert_eq!(second.status, RunStatus::Applied);
    assert_eq!(
        total_ops(&second),
        0,
        "second run plan: {}",
        render(&second.plan, None)
    );
    w.cleanup().await;
}

#[tokio::test]
async fn a_protected_account_matched_by_mail_is_never_touched() {
    let _guard = AD.lock().await;
    let _process = brownfield::process_lock();
    let w = World::with_seed("bf-protected", 40, MATCH_MAIL, 1202).await;
    let _tidy = brownfield::tidy_on_panic(&w);
    let seeded = brownfield::seed(&w, 0.0).await;
    let p = &seeded.protected;
    eprintln!(
        "protected account {} (in Domain Admins: {})",
        p.dn, p.in_domain_admins
    );
    let before = read_all(&w, &[&p.dn]).await;
    assert_eq!(before[&p.dn].first("adminCount"), Some("1"));

    let r = w.run(true, None).await;
    let after = read_all(&w, &[&p.dn]).await;
    let a = after
        .get(&p.dn)
        .unwrap_or_else(|| panic!("the protected account moved away from {}", p.dn));
    assert_eq!(a.first("userAccountControl"), Some("514"));
    assert!(
        !a.has("employeeNumber"),
        "the protected account was adopted"
    );
    let changes = diff(&before, &after);
    assert!(
        changes.is_empty(),
        "protected account changed: {changes:#?}"
    );

    let reasons = reasons_for(&r, &p.person_id);
    assert!(
        reasons
            .iter()
            .any(|r| r.to_lowercase().contains("protected")),
        "{} should be quarantined for matching a protected account; reasons: {reasons:?}\n{}",
        p.person_id,
        render(&r.plan, None)
    );
    w.cleanup().await;
}

#[tokio::test]
async fn adopting_an_account_in_a_managed_ou_waits_for_approval() {
    let _guard = AD.lock().await;
    let _process = brownfield::process_lock();
    let w = World::with_seed("bf-adopt", 30, MATCH_MAIL, 1203).await;
    let _tidy = brownfield::tidy_on_panic(&w);
    let sim = w.sim();
    let people: Vec<Value> = active_named(&sim)
        .into_iter()
        .filter(|e| e["work_email"].is_string())
        .take(2)
        .collect();
    assert_eq!(people.len(), 2);
    let staff = format!("OU=Staff,{}", w.ou);
    let tag = brownfield::tag(&w.ou);
    // The first is enabled, the second disabled.
    let mut sams = Vec::new();
    for (i, e) in people.iter().enumerate() {
        let sam = format!("x{tag}-{i}");
        add_legacy_account(
            &w,
            &staff,
            &LegacyAccount {
                cn: format!("{} (legacy)", e["full_name"].as_str().unwrap().trim()),
                sam: sam.clone(),
                mail: e["work_email"].as_str().map(str::to_string),
                display_name: e["full_name"].as_str().map(str::to_string),
                uac: if i == 0 { 512 } else { 514 },
                ..LegacyAccount::default()
            },
        )
        .await
        .unwrap();
        sams.push(sam);
    }
    let ids: Vec<String> = people.iter().map(id_of).collect();

    let held = w.run(true, None).await;
    assert_eq!(
        held.status,
        RunStatus::Held,
        "adoption must wait for approval: {}",
        render(&held.plan, None)
    );
    for sam in &sams {
        let a = by_sam(&w, sam).await.unwrap();
        assert!(
            !a.has("employeeNumber"),
            "{sam} adopted before approval: {:?}",
            a.first("employeeNumber")
        );
    }
    let accounts = managed(&w).await;
    for id in &ids {
        assert!(
            !accounts.contains_key(id),
            "{id} got a new account while its adoption waits"
        );
    }

    let (engine, _rt) = w.engine().await;
    let approved = engine
        .approve(held.run_id, &Progress::hidden())
        .await
        .unwrap();
    for id in &ids {
        assert!(
            reasons_for(&approved, id).is_empty(),
            "{id}: {:?}",
            reasons_for(&approved, id)
        );
    }
    for (sam, id) in sams.iter().zip(&ids) {
        let a = by_sam(&w, sam).await.unwrap();
        assert_eq!(
            a.first("employeeNumber"),
            Some(id.as_str()),
            "{sam} adopted"
        );
    }
    let disabled = by_sam(&w, &sams[1]).await.unwrap();
    assert!(
        uac::is_disabled(
            disabled
                .first("userAccountControl")
                .and_then(uac::parse)
                .unwrap()
        ),
        "a disabled account stays disabled when adopted"
    );
    // One account per person: the adopted one.
    let accounts = managed(&w).await;
    for (sam, id) in sams.iter().zip(&ids) {
        assert_eq!(
            accounts[id].first("sAMAccountName"),
            Some(sam.as_str()),
            "{id}"
        );
    }
    drop(engine);
    w.cleanup().await;
}

#[tokio::test]
async fn a_match_outside_the_managed_ous_is_quarantined_and_left_alone() {
    let _guard = AD.lock().await;
    let _process = brownfield::process_lock();
    let w = World::with_seed("bf-outside", 60, MATCH_MAIL, 1204).await;
    let _tidy = brownfield::tidy_on_panic(&w);
    let seeded = brownfield::seed(&w, 0.3).await;
    let mail_only: Vec<_> = seeded.of(Style::MailOnly).cloned().collect();
    assert!(
        !mail_only.is_empty(),
        "no mail-only account seeded: {:?}",
        seeded.skipped
    );
    let before = unmanaged(&w).await;

    let r = w.run(true, None).await;
    let changes = diff(&before, &unmanaged(&w).await);
    assert!(
        changes.is_empty(),
        "accounts outside the managed OUs changed: {changes:#?}"
    );
    for s in &mail_only {
        let reasons = reasons_for(&r, &s.person_id);
        assert!(
            reasons
                .iter()
                .any(|r| r.to_lowercase().contains("outside the managed ous")),
            "{} matches {} by mail: reasons {reasons:?}",
            s.person_id,
            s.dn
        );
    }
    let accounts = managed(&w).await;
    for s in &mail_only {
        assert!(
            !accounts.contains_key(&s.person_id),
            "{} got an account though its match is in doubt",
            s.person_id
        );
    }
    w.cleanup().await;
}

#[tokio::test]
async fn a_hard_deleted_employment_is_disabled() {
    let _guard = AD.lock().await;
    let _process = brownfield::process_lock();
    let w = World::with_seed("bf-gone", 60, PERMISSIVE_SMALL_PAGES, 1205).await;
    let _tidy = brownfield::tidy_on_panic(&w);
    let sim = w.sim();
    w.run(true, None).await;
    // (Setup failures, e.g. names other suites left in the shared domain, do not matter here.)
    let accounts = w.accounts().await;
    let bosses = managers(&sim);
    let gone = active_named(&sim)
        .iter()
        .map(id_of)
        .find(|id| !bosses.contains(id) && accounts.get(id).is_some_and(enabled))
        .unwrap();

    assert!(sim.remove_employment(&gone).is_some());
    assert!(sim.employment(&gone).is_none());
    let r = w.run(true, None).await;
    assert_eq!(r.status, RunStatus::Applied);
    assert!(
        reasons_for(&r, &gone).is_empty(),
        "{:?}",
        reasons_for(&r, &gone)
    );
    let a = &w.accounts().await[&gone];
    assert!(
        !enabled(a),
        "an employment gone from Remote keeps an enabled account: {}",
        render(&r.plan, None)
    );
    assert!(a.dn.ends_with(&format!("OU=Disabled,{}", w.ou)), "{}", a.dn);
    w.cleanup().await;
}

#[tokio::test]
async fn a_list_that_fails_past_page_one_disables_nobody() {
    let _guard = AD.lock().await;
    let _process = brownfield::process_lock();
    let w = World::with_seed("bf-partial", 60, PERMISSIVE_SMALL_PAGES, 1208).await;
    let _tidy = brownfield::tidy_on_panic(&w);
    let sim = w.sim();
    let listed = sim
        .employments()
        .iter()
        .filter(|e| e["status"] != "deleted")
        .count();
    assert!(listed > 40, "three pages of 20: {listed}");
    w.run(true, None).await;
    // (Setup failures, e.g. names other suites left in the shared domain, do not matter here.)
    let state = |accounts: &HashMap<String, hrsync::directory::DirEntry>| -> HashMap<String, (String, bool)> {
        accounts
            .iter()
            .map(|(id, a)| (id.clone(), (a.dn.clone(), enabled(a))))
            .collect()
    };
    let before = state(&w.accounts().await);
    let bosses = managers(&sim);
    let gone = active_named(&sim)
        .iter()
        .map(id_of)
        .find(|id| !bosses.contains(id) && before.get(id).is_some_and(|s| s.1))
        .unwrap();

    // Page 2 fails whatever the client retries, and someone vanishes meanwhile.
    sim.inject_list_page(2, Fault::ServerError(500), 200);
    assert!(sim.remove_employment(&gone).is_some());
    let result = w.try_run(true, None).await;
    sim.clear_faults();
    let after = state(&w.accounts().await);
    for (id, was) in &before {
        assert_eq!(
            after.get(id),
            Some(was),
            "{id} changed though the list was incomplete ({})",
            outcome(&result)
        );
    }

    // With the whole list again, the one who vanished is disabled.
    let r = w.run(true, None).await;
    assert!(
        reasons_for(&r, &gone).is_empty(),
        "{:?}",
        reasons_for(&r, &gone)
    );
    assert!(
        !enabled(&w.accounts().await[&gone]),
        "the vanished employment is disabled once the list is whole: {}",
        render(&r.plan, None)
    );
    w.cleanup().await;
}

/// Accounts per employeeNumber under the world's OU (a duplicate shows as a count above 1).
async fn accounts_per_person(w: &World) -> HashMap<String, usize> {
    let mut n = HashMap::new();
    for e in w.accounts_all().await {
        if let Some(id) = e.first("employeeNumber") {
            *n.entry(id.to_string()).or_insert(0) += 1;
        }
    }
    n
}

#[tokio::test]
async fn a_listing_that_repeats_its_pages_forever_stops_with_a_clear_message() {
    let _guard = AD.lock().await;
    let _process = brownfield::process_lock();
    let w = World::with_seed("bf-loop", 60, PERMISSIVE_SMALL_PAGES, 1301).await;
    let _tidy = brownfield::tidy_on_panic(&w);
    let sim = w.sim();
    w.run(true, None).await;
    let before: HashMap<String, bool> = w
        .accounts()
        .await
        .iter()
        .map(|(id, a)| (id.clone(), enabled(a)))
        .collect();
    assert!(before.len() > 40, "{} accounts", before.len());

    // The API ignores `page` and always says there is one more page.
    sim.set_list_quirk(Some(ListQuirk::IgnoresPage));
    sim.reset_stats();
    let r = w.run(true, None).await;
    sim.set_list_quirk(None);
    let why = r.plan.incomplete.clone().unwrap_or_default();
    assert!(
        why.contains("page 2") && why.contains("repeating itself"),
        "the report says why the listing stopped: {why:?}"
    );
    assert_eq!(
        sim.stats().route_count("GET /v1/employments"),
        2,
        "the listing stops at the first page that repeats"
    );
    // Nobody from pages 2 and 3 becomes a leaver, nobody gets a second account.
    let after: HashMap<String, bool> = w
        .accounts()
        .await
        .iter()
        .map(|(id, a)| (id.clone(), enabled(a)))
        .collect();
    assert_eq!(after, before, "{}", render(&r.plan, None));
    assert!(accounts_per_person(&w).await.values().all(|n| *n == 1));
    w.cleanup().await;
}

#[tokio::test]
async fn a_person_listed_on_two_pages_gets_one_account_and_makes_nobody_a_leaver() {
    let _guard = AD.lock().await;
    let _process = brownfield::process_lock();
    let w = World::with_seed("bf-twice", 60, PERMISSIVE_SMALL_PAGES, 1302).await;
    let _tidy = brownfield::tidy_on_panic(&w);
    let sim = w.sim();
    // Each page repeats the last person of the page before, from the first run on.
    sim.set_list_quirk(Some(ListQuirk::RepeatsAcrossPages));
    let r = w.run(true, None).await;
    let why = r.plan.incomplete.clone().unwrap_or_default();
    assert!(
        why.contains("was listed twice") && why.contains("duplicate listing(s) skipped"),
        "{why:?}"
    );
    let counts = accounts_per_person(&w).await;
    assert!(counts.len() > 40, "{} accounts", counts.len());
    let doubled: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        doubled.is_empty(),
        "two accounts for one person: {doubled:?}"
    );

    // An anchored person who vanishes while the listing repeats people is no leaver: the
    // listing is incomplete.
    let bosses = managers(&sim);
    let gone = active_named(&sim)
        .iter()
        .map(id_of)
        .find(|id| !bosses.contains(id) && counts.contains_key(id))
        .unwrap();
    assert!(sim.remove_employment(&gone).is_some());
    let r = w.run(true, None).await;
    assert!(r.plan.incomplete.is_some());
    assert!(
        enabled(&w.accounts().await[&gone]),
        "{gone} was disabled by an incomplete listing: {}",
        render(&r.plan, None)
    );
    sim.set_list_quirk(None);
    w.cleanup().await;
}

/// Zero-width characters a name must not carry into AD.
const ZERO_WIDTH: &[char] = &['\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}'];

fn clean(value: &str) -> bool {
    value == value.trim()
        && !value
            .chars()
            .any(|c| c.is_control() || ZERO_WIDTH.contains(&c))
}

#[tokio::test]
async fn names_that_break_things_are_cleaned_and_fit_ad_limits() {
    let _guard = AD.lock().await;
    let _process = brownfield::process_lock();
    let mut w = World::with_seed("bf-odd", 20, "", 1206).await;
    let _tidy = brownfield::tidy_on_panic(&w);
    w.ou_template = Some(format!(
        "OU={{{{ department|default('Unassigned')|dn }}}},OU=Staff,{}",
        w.ou
    ));
    let sim = w.sim();
    let long = "Maximilian".repeat(30);
    let person = |full: &str, given: &str, surname: &str, department: Value| {
        json!({
            "full_name": full, "status": "active", "department": department,
            "basic_information": {"name": full, "given_name": given, "surname": surname}
        })
    };
    let added = [
        (
            "300-character first name",
            sim.add_employment(person(
                &format!("{long} Smith"),
                &long,
                "Smith",
                json!("Sales"),
            )),
        ),
        (
            "leading and trailing spaces",
            sim.add_employment(person(
                "   Anna   Lena  ",
                "  Anna ",
                " Lena  ",
                json!("Sales"),
            )),
        ),
        (
            "tabs and zero-width characters",
            sim.add_employment(person(
                "\tJo\u{200B}hn\t\u{200B}Tab\u{200B}\tDoe\u{200D}\u{FEFF} ",
                "\u{200B}Jo\u{200B}hn\t",
                "Tab\u{200B}\tDoe\u{FEFF}",
                json!("Support"),
            )),
        ),
        (
            "no department",
            sim.add_employment(person("Noel Nodept", "Noel", "Nodept", Value::Null)),
        ),
    ];

    let r = w.run(true, None).await;
    let accounts = managed(&w).await;
    for (what, id) in &added {
        assert!(
            reasons_for(&r, id).is_empty(),
            "{what}: {:?}",
            reasons_for(&r, id)
        );
        let a = accounts
            .get(id)
            .unwrap_or_else(|| panic!("{what}: no account\n{}", render(&r.plan, None)));
        for attr in ["displayName", "givenName", "sn", "cn"] {
            let v = a.first(attr).unwrap_or_else(|| panic!("{what}: no {attr}"));
            assert!(!v.is_empty() && clean(v), "{what}: {attr} {v:?}");
        }
        let sam = a.first("sAMAccountName").unwrap();
        assert!(
            sam.chars().count() <= 20 && sam.chars().all(|c| c.is_ascii_graphic()),
            "{what}: sAMAccountName {sam:?}"
        );
    }
    // AD's sizes, for everyone.
    for a in accounts.values() {
        for (attr, max) in [
            ("cn", 64),
            ("displayName", 256),
            ("givenName", 64),
            ("sn", 64),
        ] {
            if let Some(v) = a.first(attr) {
                assert!(
                    v.chars().count() <= max,
                    "{}: {attr} has {} characters",
                    a.dn,
                    v.chars().count()
                );
            }
        }
    }
    let nodept = &accounts[&added[3].1];
    assert!(
        nodept
            .dn
            .ends_with(&format!("OU=Unassigned,OU=Staff,{}", w.ou)),
        "{}",
        nodept.dn
    );
    w.cleanup().await;
}

/// The fixture's OU template has no default: a person with no department cannot be placed, and
/// the plan says so (naming the setting) instead of the directory refusing an `OU=`.
#[tokio::test]
async fn a_person_with_no_department_is_quarantined_naming_sync_ou() {
    let _guard = AD.lock().await;
    let _process = brownfield::process_lock();
    let w = World::with_seed("bf-noou", 10, "", 1209).await;
    let _tidy = brownfield::tidy_on_panic(&w);
    let sim = w.sim();
    let id = sim.add_employment(json!({
        "full_name": "Noel Nodept", "status": "active", "department": null,
        "basic_information": {"name": "Noel Nodept", "given_name": "Noel", "surname": "Nodept"}
    }));
    let r = w.run(true, None).await;
    let planned: Vec<&str> = r
        .plan
        .quarantined
        .iter()
        .filter(|q| q.record_id == id)
        .map(|q| q.reason.as_str())
        .collect();
    assert!(
        planned.iter().any(|r| r.contains("sync.ou")),
        "quarantined at plan time naming sync.ou: {planned:?}; failed: {:?}",
        r.failed
    );
    assert!(
        r.failed.iter().all(|f| f.record_id != id),
        "not an LDAP error: {:?}",
        r.failed
    );
    assert!(!managed(&w).await.contains_key(&id));
    w.cleanup().await;
}

#[tokio::test]
async fn reports_synced_before_their_manager_get_the_link_once_the_manager_exists() {
    let _guard = AD.lock().await;
    let _process = brownfield::process_lock();
    let mut w = World::with_seed("bf-mgr", 60, "", 1207).await;
    let _tidy = brownfield::tidy_on_panic(&w);
    let sim = w.sim();
    let people = active_named(&sim);
    let (manager, reports) = people
        .iter()
        .find_map(|m| {
            let id = id_of(m);
            let reports: Vec<String> = people
                .iter()
                .filter(|e| e["manager_employment_id"].as_str() == Some(id.as_str()))
                .map(id_of)
                .collect();
            (!reports.is_empty()).then_some((id, reports))
        })
        .expect("an active manager with active reports");

    w.extra_sync = format!("scope = \"id != '{manager}'\"");
    let first = w.run(true, None).await;
    let accounts = w.accounts().await;
    assert!(
        !accounts.contains_key(&manager),
        "the manager is out of scope"
    );
    for r in &reports {
        assert!(
            reasons_for(&first, r).is_empty(),
            "report {r}: {:?}",
            reasons_for(&first, r)
        );
        assert!(
            accounts.contains_key(r),
            "report {r} has no account though its manager is missing"
        );
        let note = first
            .plan
            .people
            .iter()
            .find(|p| &p.person_id == r)
            .and_then(|p| p.note.clone())
            .unwrap_or_default();
        assert!(
            note.to_lowercase().contains("manager"),
            "report {r}: the plan notes the missing manager: {note:?}"
        );
    }

    w.extra_sync = String::new();
    let second = w.run(true, None).await;
    for id in reports.iter().chain([&manager]) {
        assert!(
            reasons_for(&second, id).is_empty(),
            "{id}: {:?}",
            reasons_for(&second, id)
        );
    }
    let mut accounts = w.accounts().await;
    let linked = |accounts: &HashMap<String, hrsync::directory::DirEntry>| {
        let m = accounts.get(&manager).map(|m| m.dn.clone());
        m.is_some()
            && reports
                .iter()
                .all(|r| accounts[r].first("manager") == m.as_deref())
    };
    if !linked(&accounts) {
        w.run(true, None).await;
        accounts = w.accounts().await;
    }
    let m = accounts
        .get(&manager)
        .unwrap_or_else(|| panic!("the manager has no account\n{}", render(&second.plan, None)));
    for r in &reports {
        assert_eq!(
            accounts[r].first("manager"),
            Some(m.dn.as_str()),
            "manager of {r}"
        );
    }
    w.cleanup().await;
}
