//! Connector endpoints added in TOML only, end to end: the Remote plugin and the simulator's
//! custom fields (a per-person endpoint) and time off (a paged company-wide endpoint keyed by
//! employment id) feed AD attributes through the mapping and the scope on a real Samba AD;
//! `hrsync connector test` lists their fields; their requests count against the connector's
//! budget (20 requests per 2 s on both sides: no 429); each bad input is a note and the run
//! completes for everyone else.
#![allow(clippy::unwrap_used, clippy::panic)]

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use hrsync::config::Config;
use hrsync::store::RunStatus;
use hrsync::sync::progress::Progress;
use hrsync::sync::{Engine, RunOptions, RunReport};
use hrsync_tests::fixtures::hrsync_bin;
use hrsync_tests::remote_sim::{RateLimit, SimConfig, SimHandle};
use hrsync_tests::world::{AD, World, connect};
use serde_json::{Value, json};

/// The per-person custom field endpoint and the paged time off endpoint.
fn endpoints_toml(extra: &str) -> String {
    format!(
        r#"settings = {{ cost_center_field = "CF" }}
[[connectors.remote.endpoints]]
name = "cost_center"
path = "/v1/custom-fields/{{{{ settings.cost_center_field }}}}/values/{{{{ person.id }}}}"
records = "/data/custom_field_value"
per_person = true

[[connectors.remote.endpoints]]
name = "timeoff"
path = "/v1/timeoff"
query = {{ status = "approved", page = "{{{{ page }}}}", page_size = "{{{{ page_size }}}}" }}
records = "/data/timeoffs"
key = "employment_id"
pagination = {{ kind = "page", page_size = 2, total_pages = "/data/total_pages" }}
{extra}"#
    )
}

/// Mapping rules reading the endpoints' fields.
const MAPPING: &str = "division = \"{{ cost_center.value }}\"\ninfo = \"{{ timeoff.end_date }}\"\n";

/// Writes the config with the endpoint mapping rules; the custom field's id replaces `CF`.
fn config(w: &World, cf: &str) -> (PathBuf, Config) {
    let path = w.write_config();
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replacen(
            "[mapping.attributes]\n",
            &format!("[mapping.attributes]\n{MAPPING}"),
            1,
        )
        .replace(
            "cost_center_field = \"CF\"",
            &format!("cost_center_field = \"{cf}\""),
        );
    std::fs::write(&path, &text).unwrap();
    (path.clone(), Config::load(&path).unwrap())
}

async fn run(config: Config) -> RunReport {
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

/// Accounts by employeeNumber, with the attributes the endpoints feed.
async fn accounts(w: &World) -> HashMap<String, hrsync::directory::DirEntry> {
    let mut d = connect(&w.ad).await;
    let entries = d
        .search_paged(
            &w.ou,
            "(&(objectClass=user)(employeeNumber=*))",
            &["employeeNumber", "division", "info"],
        )
        .await
        .unwrap();
    entries
        .into_iter()
        .map(|e| (e.first("employeeNumber").unwrap().to_string(), e))
        .collect()
}

/// Active employments of the simulated company.
fn active(sim: &SimHandle) -> Vec<Value> {
    sim.employments()
        .into_iter()
        .filter(|e| e["status"] == "active")
        .collect()
}

/// A cost center for everyone visible (`CC-<n>`); returns the custom field's id.
fn cost_centers(sim: &SimHandle) -> (String, HashMap<String, String>) {
    let cf = sim.define_custom_field("Cost center", "string");
    let mut values = HashMap::new();
    for (i, e) in sim.employments().iter().enumerate() {
        let id = e["id"].as_str().unwrap().to_string();
        let value = format!("CC-{:03}", 100 + i);
        sim.set_custom_field_value(&cf, &id, json!(value));
        values.insert(id, value);
    }
    (cf, values)
}

fn timeoff(employment_id: &str, end: &str, kind: &str) -> Value {
    json!({
        "employment_id": employment_id,
        "start_date": "2026-01-05",
        "end_date": end,
        "status": "approved",
        "timeoff_type": kind,
        "timezone": "Europe/Berlin",
        "notes": "",
        "timeoff_days": [{"day": "2026-01-05", "hours": 8}],
    })
}

#[tokio::test]
async fn endpoints_added_in_toml_feed_ad_within_the_budget_and_connector_test_lists_them() {
    let _guard = AD.lock().await;
    let limit = RateLimit {
        requests: 20,
        window: Duration::from_secs(2),
    };
    let mut w = World::with_sim(
        "endpoints",
        // The scope reads a company-wide endpoint's field.
        "scope = \"timeoff.timeoff_type != 'sabbatical'\"",
        SimConfig {
            people: 14,
            seed: 31,
            rate_limit: Some(limit),
            ..SimConfig::default()
        },
    )
    .await;
    w.connector_extra = format!("rate_limit = \"20/2s\"\n{}", endpoints_toml(""));
    let sim = w.sim();
    let (cf, centers) = cost_centers(&sim);
    let people = active(&sim);
    assert!(people.len() >= 6, "the workforce has too few active people");
    let id = |i: usize| people[i]["id"].as_str().unwrap().to_string();
    let leave: HashMap<String, String> = (0..4)
        .map(|i| (id(i), format!("2026-02-{:02}", 10 + i)))
        .collect();
    for (who, end) in &leave {
        sim.add_timeoff(timeoff(who, end, "paid_time_off"));
    }
    let away = id(5);
    sim.add_timeoff(timeoff(&away, "2026-12-31", "sabbatical"));
    let (path, cfg) = config(&w, &cf);

    let report = run(cfg).await;
    assert_eq!(report.status, RunStatus::Applied);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert!(report.notes.is_empty(), "{:#?}", report.notes);
    let accounts = accounts(&w).await;
    assert!(
        !accounts.contains_key(&away),
        "out of scope by an endpoint field"
    );
    let mut fed = 0;
    for e in &people {
        let pid = e["id"].as_str().unwrap();
        if pid == away {
            continue;
        }
        let a = accounts
            .get(pid)
            .unwrap_or_else(|| panic!("active {pid} has no account"));
        assert_eq!(a.first("division"), Some(centers[pid].as_str()), "{pid}");
        assert_eq!(a.first("info"), leave.get(pid).map(String::as_str), "{pid}");
        fed += 1;
    }
    assert!(fed >= 5);

    // Endpoint calls share the connector's budget: no 429 with 20 per 2 s on both sides.
    let stats = sim.stats();
    let custom_calls: u64 = stats
        .per_path
        .iter()
        .filter(|(p, _)| p.starts_with("/v1/custom-fields/"))
        .map(|(_, n)| n)
        .sum();
    let details = stats.route_count("GET /v1/employments/{id}");
    assert_eq!(custom_calls, details, "one custom field call per detail");
    assert!(stats.path_count("/v1/timeoff") >= 3, "{stats:#?}");
    assert!(stats.api_requests > 20, "{} requests", stats.api_requests);
    assert_eq!(
        stats.rate_limited, 0,
        "the simulator refused {} requests (peak {} in one window)",
        stats.rate_limited, stats.max_requests_in_window
    );
    assert!(stats.max_requests_in_window <= 20);

    // Test & Save lists each endpoint's request, fields with samples and key matches.
    // (Async: the simulator serves on this test's runtime.)
    let out = tokio::process::Command::new(hrsync_bin())
        .args(["--quiet", "--config"])
        .arg(&path)
        .args(["connector", "test", "remote"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for want in [
        "endpoint cost_center (per person",
        &format!("/v1/custom-fields/{cf}/values/"),
        "cost_center.value",
        "cost_center.custom_field_id",
        "CC-",
        "endpoint timeoff (company-wide",
        "/v1/timeoff?page=1&page_size=2&status=approved",
        "timeoff.end_date",
        "timeoff.timeoff_type",
        "matched the primary key",
        "authorization: *** ",
    ] {
        assert!(stdout.contains(want), "`{want}` missing:\n{stdout}");
    }
    assert!(!stdout.contains(&sim.config().api_token), "{stdout}");

    // `--person` picks the sample, and its typed facts are shown.
    let chosen = people[people.len() - 1]["id"].as_str().unwrap().to_string();
    let out = tokio::process::Command::new(hrsync_bin())
        .args(["--quiet", "--config"])
        .arg(&path)
        .args(["connector", "test", "remote", "--person", &chosen])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("person {chosen}: Active")),
        "{stdout}"
    );
    for fact in [
        "start_date",
        "manager_id / manager_employment_id",
        "given_name / first_name",
        "work_email",
    ] {
        assert!(
            stdout.contains(&format!("  {fact}")),
            "`{fact}` missing:\n{stdout}"
        );
    }
    w.cleanup().await;
}

#[tokio::test]
async fn each_bad_input_is_a_note_and_the_run_completes_for_everyone_else() {
    let _guard = AD.lock().await;
    let mut w = World::with_seed("endpoints-bad", 10, "", 37).await;
    // A template that fails for everyone, a records pointer that finds nothing.
    w.connector_extra = endpoints_toml(
        r#"
[[connectors.remote.endpoints]]
name = "broken"
path = "/v1/custom-fields/{{ person.department|date('%Y') }}/values/{{ person.id }}"
per_person = true

[[connectors.remote.endpoints]]
name = "fields"
path = "/v1/custom-fields"
records = "/data/definitions"
key = "id"
"#,
    );
    let sim = w.sim();
    let (cf, centers) = cost_centers(&sim);
    let people = active(&sim);
    let id = |i: usize| people[i]["id"].as_str().unwrap().to_string();
    // One record without the key, two records with one person's key.
    sim.add_timeoff(timeoff(&id(0), "2026-03-01", "paid_time_off"));
    let mut keyless = timeoff(&id(1), "2026-03-02", "paid_time_off");
    keyless.as_object_mut().unwrap().remove("employment_id");
    sim.add_timeoff(keyless);
    let twice = id(2);
    sim.add_timeoff(timeoff(&twice, "2026-03-03", "paid_time_off"));
    sim.add_timeoff(timeoff(&twice, "2026-04-04", "sick_leave"));
    let (_, cfg) = config(&w, &cf);

    let report = run(cfg).await;
    assert_eq!(report.status, RunStatus::Applied);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let notes = &report.notes;
    let has = |words: &[&str]| notes.iter().any(|n| words.iter().all(|w| n.contains(w)));
    assert!(
        has(&[
            "endpoint `remote.broken`",
            "field `path`",
            "cannot be rendered",
            "date"
        ]),
        "{notes:#?}"
    );
    assert!(
        has(&[
            "endpoint `remote.fields`",
            "field `records`",
            "/data/definitions",
            "finds nothing"
        ]),
        "{notes:#?}"
    );
    assert!(
        has(&[
            "endpoint `remote.timeoff`",
            "no `/employment_id`",
            "2026-03-02"
        ]),
        "{notes:#?}"
    );
    assert!(
        has(&[
            "endpoint `remote.timeoff`",
            &format!("record {twice}"),
            "2 records"
        ]),
        "{notes:#?}"
    );

    // Everyone is synced with what the other endpoints gave.
    let accounts = accounts(&w).await;
    for e in &people {
        let pid = e["id"].as_str().unwrap();
        let a = accounts
            .get(pid)
            .unwrap_or_else(|| panic!("active {pid} has no account"));
        assert_eq!(a.first("division"), Some(centers[pid].as_str()), "{pid}");
    }
    assert_eq!(accounts[&id(0)].first("info"), Some("2026-03-01"));
    assert_eq!(
        accounts[&twice].first("info"),
        None,
        "neither duplicate is used"
    );
    w.cleanup().await;
}
