//! The REST connector (`plugin = "builtin:rest"`, no wasm) end to end: a connector defined in
//! TOML reading a small HR API (paged list, detail by id, bearer auth) into a real Samba AD DC.
//! Joiners with their managers, a pre-hire outside `prehire_days`, a terminated person, a leaver
//! by status, a person on notice kept, new managers with their reports in one run.
//!
//! Tests share one AD, so each takes [`AD`] and works in its own OU.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;

use chrono::{Duration, NaiveDate, Utc};
use hrsync::config::Config;
use hrsync::directory::DirEntry;
use hrsync::sync::progress::Progress;
use hrsync::sync::{Engine, RunOptions, RunReport};
use hrsync_tests::fixtures::{AdEnv, ad_env, hrsync_bin, store_directory_toml};
use hrsync_tests::rest_sim::{RestSim, person};
use hrsync_tests::world::{
    AD, connect, delete_tree, enabled, fresh_ou_with_groups, in_group, total_ops,
};
use serde_json::Value;

const TOKEN: &str = "rest-sim-token-not-a-secret";

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn day(offset: i64) -> String {
    (today() + Duration::days(offset)).to_string()
}

/// Seven people over three pages: a CEO, a VP, two engineers under them (one on notice), one
/// who left last year, a pre-hire 20 days out.
fn people() -> Vec<Value> {
    vec![
        person(
            "1",
            "Grace",
            "Hopper",
            "Executive",
            "Active",
            "2019-01-07",
            None,
            None,
        ),
        person(
            "2",
            "Alan",
            "Turing",
            "Engineering",
            "Active",
            "2020-02-03",
            None,
            Some("1"),
        ),
        person(
            "3",
            "Ada",
            "Lovelace",
            "Engineering",
            "Active",
            "2021-03-01",
            None,
            Some("2"),
        ),
        person(
            "4",
            "Edsger",
            "Dijkstra",
            "Engineering",
            "Notice",
            "2021-04-01",
            Some(&day(30)),
            Some("2"),
        ),
        person(
            "5",
            "Barbara",
            "Liskov",
            "Research",
            "Left",
            "2018-05-02",
            Some("2025-01-31"),
            Some("1"),
        ),
        person(
            "6",
            "Kenji",
            "Future",
            "Engineering",
            "Hired",
            &day(20),
            None,
            Some("2"),
        ),
        person(
            "7",
            "Margaret",
            "Hamilton",
            "Engineering",
            "Active",
            "2022-06-01",
            None,
            Some("3"),
        ),
    ]
}

struct RestWorld {
    ad: AdEnv,
    ou: String,
    sim: RestSim,
    dir: tempfile::TempDir,
}

impl RestWorld {
    async fn new(name: &str) -> RestWorld {
        let ad = ad_env();
        let ou = format!("OU=hrsync-rest-{name},{}", ad.base_dn);
        fresh_ou_with_groups(&ad, &ou, &format!("rest-{name}-")).await;
        let sim = RestSim::start(TOKEN, people()).await.unwrap();
        RestWorld {
            ad,
            ou,
            sim,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn config_text(&self) -> String {
        let d = self.dir.path();
        std::fs::write(d.join("ldap.pw"), &self.ad.password).unwrap();
        std::fs::write(d.join("hr.token"), TOKEN).unwrap();
        let head = store_directory_toml(&self.ad, &self.ou);
        format!(
            r#"{head}
[connectors.hr]
plugin = "builtin:rest"
base_url = "{base}"
allowed_hosts = ["{base}"]
auth = {{ kind = "bearer", token = {{ file = "hr.token" }} }}
rate_limit = "100/1s"

[connectors.hr.rest]
list = {{ path = "/people", query = {{ page = "{{{{ page }}}}" }}, records = "/data", pagination = {{ kind = "page", total_pages = "/total_pages" }} }}
detail = {{ path = "/people/{{{{ person.id }}}}", records = "/data" }}
id = "/id"
status = {{ pointer = "/employment/state", map = {{ Hired = "pre-hire", Active = "active", Notice = "leaving", Left = "terminated" }} }}
start_date = "/employment/start"
end_date = "/employment/end"
manager_id = "/manager/id"
given_name = "/first_name"
family_name = "/last_name"
display_name = "{{{{ record.first_name }}}} {{{{ record.last_name }}}}"
work_email = "/email"
fields = ["department", "title"]

[mapping.attributes]
givenName = "{{{{ given_name }}}}"
sn = "{{{{ family_name }}}}"
displayName = "{{{{ display_name }}}}"
mail = "{{{{ work_email }}}}"
title = "{{{{ title }}}}"
department = "{{{{ department }}}}"
sAMAccountName = {{ unique = [
  "{{{{ given_name|ascii|lower|samsafe }}}}.{{{{ family_name|ascii|lower|samsafe }}}}",
  "{{{{ given_name|ascii|lower|samsafe }}}}.{{{{ family_name|ascii|lower|samsafe }}}}{{{{ n }}}}",
], max_len = 20, apply = "on-create" }}

[sync]
connector = "hr"
ou = "OU={{{{ department|default('Unassigned')|dn }}}},OU=Staff,{ou}"
time_zone = "Europe/Berlin"
prehire_days = 7

[sync.safety]
max_destructive = 1000
max_destructive_percent = 100.0

[[sync.groups]]
dn = "CN=All Staff,{ou}"

[[sync.groups]]
dn = "CN=Engineering,{ou}"
when = "department == 'Engineering'"
"#,
            ou = self.ou,
            base = self.sim.base_url(),
        )
    }

    fn write_config(&self) -> std::path::PathBuf {
        let path = self.dir.path().join("hrsync.toml");
        std::fs::write(&path, self.config_text()).unwrap();
        path
    }

    async fn run(&self) -> RunReport {
        let config =
            Config::parse(&self.dir.path().join("hrsync.toml"), &self.config_text()).unwrap();
        let runtime = Engine::runtime(&config).unwrap();
        let engine = Engine::open(config, &runtime).unwrap();
        let opts = RunOptions {
            apply: true,
            only: None,
            trigger: "test".into(),
            now: None,
        };
        engine.run(&opts, &Progress::hidden()).await.unwrap()
    }

    async fn accounts(&self) -> HashMap<String, DirEntry> {
        let mut d = connect(&self.ad).await;
        let entries = d
            .search_paged(
                &self.ou,
                "(&(objectClass=user)(employeeNumber=*))",
                &[
                    "employeeNumber",
                    "givenName",
                    "sn",
                    "displayName",
                    "mail",
                    "department",
                    "title",
                    "userAccountControl",
                    "memberOf",
                    "manager",
                ],
            )
            .await
            .unwrap();
        d.unbind().await.unwrap();
        entries
            .into_iter()
            .map(|e| (e.first("employeeNumber").unwrap().to_string(), e))
            .collect()
    }

    async fn cleanup(self) {
        let mut d = connect(&self.ad).await;
        delete_tree(&mut d, &self.ou).await;
        d.unbind().await.unwrap();
    }
}

fn manager_of(accounts: &HashMap<String, DirEntry>, id: &str) -> Option<String> {
    accounts[id].first("manager").map(str::to_string)
}

#[tokio::test]
async fn a_rest_connector_syncs_joiners_managers_and_leavers_into_ad() {
    let _guard = AD.lock().await;
    let w = RestWorld::new("e2e").await;
    let sim = w.sim.handle();
    let config = w.write_config();

    // `connector test` from the CLI: no plugin to load; the token never shows.
    let test = tokio::process::Command::new(hrsync_bin())
        .arg("--config")
        .arg(&config)
        .arg("--quiet")
        .args(["connector", "test", "hr"])
        .current_dir(w.dir.path())
        .output()
        .await
        .unwrap();
    let out =
        String::from_utf8_lossy(&test.stdout).to_string() + &String::from_utf8_lossy(&test.stderr);
    assert!(test.status.success(), "connector test failed:\n{out}");
    assert!(
        out.contains("department") && out.contains("Hopper"),
        "{out}"
    );
    assert!(!out.contains(TOKEN), "the token leaked:\n{out}");

    // The first sync: every page listed, at most one detail per new person.
    let details = sim.requests("GET /people/{id}");
    let pages = sim.requests("GET /people");
    let first = w.run().await;
    assert!(first.failed.is_empty(), "{:?}", first.failed);
    assert!(
        sim.requests("GET /people") >= pages + 3,
        "every page is read"
    );
    let details = sim.requests("GET /people/{id}") - details;
    assert!(details <= 7, "at most one detail a person: {details}");
    assert_eq!(sim.unauthorized(), 0, "the host attached the bearer token");
    let accounts = w.accounts().await;
    let mut got: Vec<&str> = accounts.keys().map(String::as_str).collect();
    got.sort_unstable();
    assert_eq!(
        got,
        ["1", "2", "3", "4", "7"],
        "the active and the one on notice; not the leaver nor the pre-hire 20 days out"
    );
    for a in accounts.values() {
        assert!(enabled(a), "{}", a.dn);
        assert!(in_group(a, "All Staff"), "{}", a.dn);
    }
    let ada = &accounts["3"];
    assert_eq!(ada.first("givenName"), Some("Ada"));
    assert_eq!(ada.first("sn"), Some("Lovelace"));
    assert_eq!(ada.first("displayName"), Some("Ada Lovelace"));
    assert_eq!(ada.first("mail"), Some("ada.lovelace@example.com"));
    assert_eq!(ada.first("title"), Some("Engineering specialist"));
    assert!(in_group(ada, "Engineering"));
    assert!(!in_group(&accounts["1"], "Engineering"));
    let dn = |id: &str| Some(accounts[id].dn.clone());
    assert_eq!(manager_of(&accounts, "1"), None);
    assert_eq!(manager_of(&accounts, "2"), dn("1"));
    assert_eq!(manager_of(&accounts, "3"), dn("2"));
    assert_eq!(manager_of(&accounts, "4"), dn("2"));
    assert_eq!(manager_of(&accounts, "7"), dn("3"), "three levels deep");

    // A second run writes nothing.
    let again = w.run().await;
    assert_eq!(
        total_ops(&again),
        0,
        "{}",
        hrsync::sync::report::render(&again.plan, None)
    );

    // Margaret leaves today; a new manager and her report join in one run, the report listed
    // first.
    assert!(sim.update("7", |p| {
        p["employment"]["state"] = "Left".into();
        p["employment"]["end"] = today().to_string().into();
    }));
    sim.add(person(
        "8",
        "Ingrid",
        "Report",
        "People",
        "Active",
        &day(-1),
        None,
        Some("9"),
    ));
    sim.add(person(
        "9",
        "Noah",
        "Newmanager",
        "People",
        "Active",
        &day(-1),
        None,
        Some("1"),
    ));
    let r = w.run().await;
    assert!(r.failed.is_empty(), "{:?}", r.failed);
    let accounts = w.accounts().await;
    let margaret = &accounts["7"];
    assert!(!enabled(margaret), "the leaver is disabled");
    assert!(
        margaret.dn.ends_with(&format!("OU=Disabled,{}", w.ou)),
        "{}",
        margaret.dn
    );
    assert!(
        enabled(&accounts["4"]),
        "on notice until day 30: still enabled"
    );
    assert_eq!(manager_of(&accounts, "8"), Some(accounts["9"].dn.clone()));
    assert_eq!(manager_of(&accounts, "9"), Some(accounts["1"].dn.clone()));
    w.cleanup().await;
}
