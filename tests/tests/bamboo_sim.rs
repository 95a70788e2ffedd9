//! Tests of the BambooHR API simulator over real HTTP.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::time::Duration;

use chrono::{NaiveDate, TimeDelta, Utc};
use hrsync_tests::bamboo_sim::fixtures::{self, ids};
use hrsync_tests::bamboo_sim::{
    BambooConfig, ERROR_HEADER, Fault, Person, RateLimit, Simulator, Status, ZERO_DATE,
};
use reqwest::StatusCode;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use serde_json::{Value, json};

/// A fixed "today" so that relative dates are predictable.
fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 10).unwrap()
}

fn ymd(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

async fn start(config: BambooConfig) -> (Simulator, reqwest::Client) {
    let sim = Simulator::start(config).await.expect("simulator starts");
    (sim, reqwest::Client::new())
}

async fn start_seeded() -> (Simulator, reqwest::Client) {
    start(BambooConfig::seeded(7, 20, today())).await
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let response = request.send().await.expect("request sent");
    Reply {
        status: response.status(),
        headers: response.headers().clone(),
        text: response.text().await.expect("body read"),
    }
}

/// GET `path` (relative to the API base) with the right key, asking for JSON.
async fn get_json(client: &reqwest::Client, sim: &Simulator, path: &str) -> Reply {
    let key = sim.config().api_key;
    send(
        client
            .get(format!("{}{path}", sim.api_base()))
            .basic_auth(key, Some("x"))
            .header(ACCEPT, "application/json"),
    )
    .await
}

fn ids_of(employees: &Value) -> HashSet<String> {
    employees
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Auth and formats
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn requests_without_the_api_key_are_refused() {
    let (sim, client) = start_seeded().await;
    let url = format!("{}/employees/directory", sim.api_base());
    let key = sim.config().api_key;

    let none = send(client.get(&url).header(ACCEPT, "application/json")).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert!(!none.header(ERROR_HEADER).is_empty());
    assert!(none.header("www-authenticate").starts_with("Basic"));

    let wrong = send(
        client
            .get(&url)
            .basic_auth("not-the-key", Some("x"))
            .header(ACCEPT, "application/json"),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    // The key as a bearer token is not Basic auth.
    let bearer = send(
        client
            .get(&url)
            .bearer_auth(&key)
            .header(ACCEPT, "application/json"),
    )
    .await;
    assert_eq!(bearer.status, StatusCode::UNAUTHORIZED);

    // Any password, even none, goes with the right key.
    for password in [Some("x"), Some("anything at all"), None] {
        let ok = send(
            client
                .get(&url)
                .basic_auth(&key, password)
                .header(ACCEPT, "application/json"),
        )
        .await;
        assert_eq!(ok.status, StatusCode::OK, "password {password:?}");
    }

    // Another company domain is not found, with the right key.
    let other = send(
        client
            .get(format!(
                "{}/api/gateway.php/someone-else/v1/employees/directory",
                sim.base_url()
            ))
            .basic_auth(&key, Some("x"))
            .header(ACCEPT, "application/json"),
    )
    .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);

    let stats = sim.state().stats();
    assert_eq!(stats.unauthorized, 3);
    assert_eq!(stats.path_count("/employees/directory"), 6);
    sim.shutdown().await;
}

#[tokio::test]
async fn xml_unless_json_is_accepted() {
    let (sim, client) = start_seeded().await;
    let key = sim.config().api_key;
    let url = format!(
        "{}/employees/{}?fields=firstName,lastName",
        sim.api_base(),
        ids::APOSTROPHE
    );
    let xml = send(client.get(&url).basic_auth(&key, Some("x"))).await;
    assert_eq!(xml.status, StatusCode::OK);
    assert!(
        xml.header(CONTENT_TYPE.as_str()).contains("xml"),
        "{:?}",
        xml.headers
    );
    assert!(xml.text.contains("<employee id=\"3\">"), "{}", xml.text);
    assert!(
        xml.text
            .contains("<field id=\"lastName\">O&apos;Brien</field>"),
        "{}",
        xml.text
    );

    let json = send(
        client
            .get(&url)
            .basic_auth(&key, Some("x"))
            .header(ACCEPT, "text/html, application/json;q=0.9"),
    )
    .await;
    assert_eq!(json.status, StatusCode::OK);
    assert_eq!(
        json.json(),
        json!({"id": "3", "firstName": "Siobhán", "lastName": "O'Brien"})
    );

    let dir = send(
        client
            .get(format!("{}/employees/directory", sim.api_base()))
            .basic_auth(&key, Some("x")),
    )
    .await;
    assert!(dir.text.contains("<directory><fieldset>"), "{}", dir.text);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Directory
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn directory_lists_current_active_people_with_its_fieldset() {
    let (sim, client) = start_seeded().await;
    let reply = get_json(&client, &sim, "/employees/directory").await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = reply.json();

    let field_ids: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert!(field_ids.contains(&"displayName") && field_ids.contains(&"workEmail"));
    assert!(body["fields"][0]["type"].is_string() && body["fields"][0]["name"].is_string());

    let ids = ids_of(&body["employees"]);
    // 13 edge cases + 20 generated, minus the terminated one and the pre-hire.
    assert_eq!(ids.len(), 13 + 20 - 2);
    assert!(!ids.contains(&ids::TERMINATED.to_string()));
    assert!(!ids.contains(&ids::PRE_HIRE.to_string()));
    assert!(ids.contains(&ids::LEAVING.to_string()));

    let chema = body["employees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"].as_str() == Some("4"))
        .unwrap();
    assert_eq!(chema["displayName"], "Chema García Márquez");
    assert_eq!(chema["firstName"], "José María");
    assert_eq!(chema["supervisor"], "Jean-Luc de la Fontaine");
    // The directory carries no supervisor id: that takes the detail or a report.
    assert!(chema.get("supervisorEId").is_none(), "{chema}");

    // onlyCurrent=false adds the pre-hire (never the terminated).
    let all = get_json(&client, &sim, "/employees/directory?onlyCurrent=false")
        .await
        .json();
    let all_ids = ids_of(&all["employees"]);
    assert!(all_ids.contains(&ids::PRE_HIRE.to_string()));
    assert!(!all_ids.contains(&ids::TERMINATED.to_string()));
    sim.shutdown().await;
}

#[tokio::test]
async fn directory_can_be_disabled_or_empty() {
    let (sim, client) = start_seeded().await;
    sim.state().set_directory_enabled(false);
    let reply = get_json(&client, &sim, "/employees/directory").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(!reply.header(ERROR_HEADER).is_empty());
    // The rest of the API still works.
    let detail = get_json(&client, &sim, "/employees/1?fields=firstName").await;
    assert_eq!(detail.status, StatusCode::OK);
    sim.shutdown().await;

    let (sim, client) = start(BambooConfig::with_people(vec![
        Person::new(1, "Gone", "Away").terminated(today() - TimeDelta::days(1)),
    ]))
    .await;
    let reply = get_json(&client, &sim, "/employees/directory").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Employee detail
// ---------------------------------------------------------------------------------------------

const DETAIL_FIELDS: &str = "firstName,lastName,preferredName,displayName,workEmail,jobTitle,\
department,division,location,status,hireDate,terminationDate,supervisorEId,supervisorId,\
employeeNumber";

async fn detail(client: &reqwest::Client, sim: &Simulator, id: u32, extra: &str) -> Value {
    let reply = get_json(
        client,
        sim,
        &format!("/employees/{id}?fields={DETAIL_FIELDS}{extra}"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.json()
}

#[tokio::test]
async fn detail_returns_the_requested_fields_as_strings() {
    let (sim, client) = start_seeded().await;
    let e = detail(&client, &sim, ids::DOUBLE_BARRELLED, "").await;
    assert_eq!(
        e,
        json!({
            "id": "4",
            "firstName": "José María",
            "lastName": "García Márquez",
            "preferredName": "Chema",
            "displayName": "Chema García Márquez",
            "workEmail": "chema.garcia@example.com",
            "jobTitle": "Software Engineer",
            "department": "Engineering",
            "division": "Product",
            "location": "Madrid",
            "status": "Active",
            "hireDate": ymd(today() - TimeDelta::days(900)),
            "terminationDate": ZERO_DATE,
            "supervisorEId": "2",
            "supervisorId": "1002",
            "employeeNumber": "1004",
        })
    );

    // Only what was asked for (plus id); no fields at all gives just the id.
    let few = get_json(&client, &sim, "/employees/5?fields=lastName")
        .await
        .json();
    assert_eq!(few, json!({"id": "5", "lastName": "Ødegård"}));
    let bare = get_json(&client, &sim, "/employees/5").await.json();
    assert_eq!(bare, json!({"id": "5"}));

    // Names that break things come back intact.
    let v = detail(&client, &sim, ids::VIETNAMESE, "").await;
    assert_eq!(
        (v["firstName"].as_str(), v["lastName"].as_str()),
        (Some("Thị Minh"), Some("Nguyễn"))
    );
    let cjk = detail(&client, &sim, ids::CJK, "").await;
    assert_eq!(cjk["displayName"], "美咲 佐藤");

    // Id 0 is the key's owner.
    let me = get_json(&client, &sim, "/employees/0?fields=firstName")
        .await
        .json();
    assert_eq!(me, json!({"id": "1", "firstName": "Margaret"}));

    // Unknown employee: 404. Unknown field: 406.
    let missing = get_json(&client, &sim, "/employees/424242?fields=firstName").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let bad = get_json(&client, &sim, "/employees/1?fields=firstName,shoeSize").await;
    assert_eq!(bad.status, StatusCode::NOT_ACCEPTABLE);
    assert!(bad.header(ERROR_HEADER).contains("shoeSize"));
    sim.shutdown().await;
}

#[tokio::test]
async fn dates_statuses_and_zero_dates() {
    let (sim, client) = start_seeded().await;

    let sparse = detail(&client, &sim, ids::SPARSE, "").await;
    assert_eq!(sparse["hireDate"], "0000-00-00");
    assert_eq!(sparse["terminationDate"], "0000-00-00");
    assert_eq!(sparse["workEmail"], Value::Null);
    assert_eq!(sparse["employeeNumber"], Value::Null);

    let gone = detail(&client, &sim, ids::TERMINATED, "").await;
    assert_eq!(gone["status"], "Inactive");
    assert_eq!(gone["terminationDate"], ymd(today() - TimeDelta::days(30)));

    let leaving = detail(&client, &sim, ids::LEAVING, "").await;
    assert_eq!(leaving["status"], "Active");
    assert_eq!(
        leaving["terminationDate"],
        ymd(today() + TimeDelta::days(14))
    );

    // A pre-hire: active, future hire date, job fields withheld until onlyCurrent=false.
    let pre = detail(&client, &sim, ids::PRE_HIRE, "").await;
    assert_eq!(pre["status"], "Active");
    assert_eq!(pre["hireDate"], ymd(today() + TimeDelta::days(10)));
    assert_eq!(pre["jobTitle"], Value::Null);
    assert_eq!(pre["supervisorEId"], Value::Null);
    assert_eq!(pre["firstName"], "Kenji");
    let future = detail(&client, &sim, ids::PRE_HIRE, "&onlyCurrent=false").await;
    assert_eq!(future["jobTitle"], "Software Engineer");
    assert_eq!(future["supervisorEId"], "2");
    sim.shutdown().await;
}

#[tokio::test]
async fn supervisor_tree_self_reference_and_dangling_reference() {
    let (sim, client) = start_seeded().await;
    let ceo = detail(&client, &sim, ids::CEO, "").await;
    assert_eq!(ceo["supervisorEId"], Value::Null);
    assert_eq!(ceo["supervisorId"], Value::Null);

    // Three levels: 5 -> 3 -> 2 -> 1.
    let mut chain = vec![ids::NON_ASCII];
    while let Some(next) = detail(&client, &sim, *chain.last().unwrap(), "").await["supervisorEId"]
        .as_str()
        .map(|s| s.parse::<u32>().unwrap())
    {
        chain.push(next);
    }
    assert_eq!(chain, vec![5, 3, 2, 1]);

    let own = detail(&client, &sim, ids::SELF_SUPERVISED, "").await;
    assert_eq!(own["supervisorEId"], ids::SELF_SUPERVISED.to_string());
    assert_eq!(own["supervisorId"], "1010");

    let dangling = detail(&client, &sim, ids::DANGLING_SUPERVISOR, "").await;
    assert_eq!(
        dangling["supervisorEId"],
        ids::MISSING_SUPERVISOR_ID.to_string()
    );
    assert_eq!(dangling["supervisorId"], Value::Null);
    let nobody = get_json(
        &client,
        &sim,
        &format!("/employees/{}?fields=firstName", ids::MISSING_SUPERVISOR_ID),
    )
    .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    sim.shutdown().await;
}

#[test]
fn generated_people_are_deterministic_and_report_to_existing_people() {
    let a = fixtures::generate(3, 200, 100, today());
    assert_eq!(a, fixtures::generate(3, 200, 100, today()));
    assert_ne!(a, fixtures::generate(4, 200, 100, today()));
    let mut known: HashSet<u32> = [ids::CEO, ids::VP].into();
    for p in &a {
        let boss = p.supervisor_eid.unwrap();
        assert!(known.contains(&boss), "{} reports to unknown {boss}", p.id);
        known.insert(p.id);
        assert!(p.work_email.as_deref().unwrap().is_ascii());
        assert_eq!(p.status, Status::Active);
    }
}

// ---------------------------------------------------------------------------------------------
// Changes and custom reports
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn changed_since_reports_inserts_updates_and_deletes() {
    let (sim, client) = start_seeded().await;
    let all = get_json(
        &client,
        &sim,
        "/employees/changed?since=2000-01-01T00:00:00Z",
    )
    .await;
    assert_eq!(all.status, StatusCode::OK);
    let all = all.json();
    assert_eq!(all["employees"].as_object().unwrap().len(), 33);
    assert_eq!(
        all["employees"]["3"],
        json!({"id": "3", "action": "Inserted", "lastChanged": "2020-01-01T00:00:00+00:00"})
    );

    let mark = Utc::now() - TimeDelta::seconds(1);
    let state = sim.state();
    assert!(state.update(ids::VP, |p| p.job_title = Some("CTO".to_owned())));
    state.remove(ids::SPARSE);
    state.add(Person::new(500, "New", "Starter").hired(today()));

    // An unencoded `+` in the offset arrives as a space; the simulator takes it back.
    let since = mark.format("%Y-%m-%dT%H:%M:%S+00:00").to_string();
    let recent = get_json(&client, &sim, &format!("/employees/changed?since={since}"))
        .await
        .json();
    let employees = recent["employees"].as_object().unwrap();
    assert_eq!(employees.len(), 3, "{recent}");
    assert_eq!(employees["2"]["action"], "Updated");
    assert_eq!(employees["12"]["action"], "Deleted");
    assert_eq!(employees["500"]["action"], "Inserted");
    assert!(recent["latest"].as_str().unwrap() >= since.as_str());

    let deleted = get_json(
        &client,
        &sim,
        &format!(
            "/employees/changed?since={}&type=deleted",
            since.replace('+', "%2B")
        ),
    )
    .await
    .json();
    assert_eq!(deleted["employees"].as_object().unwrap().len(), 1);

    let none = get_json(&client, &sim, "/employees/changed").await;
    assert_eq!(none.status, StatusCode::BAD_REQUEST);
    let junk = get_json(&client, &sim, "/employees/changed?since=yesterday").await;
    assert_eq!(junk.status, StatusCode::BAD_REQUEST);
    sim.shutdown().await;
}

#[tokio::test]
async fn custom_report_lists_everybody_with_the_fields_asked_for() {
    let (sim, client) = start_seeded().await;
    let key = sim.config().api_key;
    let url = format!("{}/reports/custom?format=JSON", sim.api_base());
    let request = json!({
        "title": "hrsync",
        "fields": ["firstName", "lastName", "status", "terminationDate", "supervisorEId"],
    });
    let reply = send(client.post(&url).basic_auth(&key, Some("x")).json(&request)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let body = reply.json();
    assert_eq!(body["title"], "hrsync");
    assert_eq!(body["fields"].as_array().unwrap().len(), 5);
    let ids = ids_of(&body["employees"]);
    assert_eq!(ids.len(), 33 - 1, "everybody but the pre-hire");
    assert!(ids.contains(&ids::TERMINATED.to_string()));
    let gone = body["employees"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == "7")
        .unwrap();
    assert_eq!(gone["status"], "Inactive");
    assert_eq!(gone["supervisorEId"], "1");

    let future = format!(
        "{}/reports/custom?format=json&onlyCurrent=false",
        sim.api_base()
    );
    let body = send(
        client
            .post(&future)
            .basic_auth(&key, Some("x"))
            .json(&request),
    )
    .await
    .json();
    assert_eq!(ids_of(&body["employees"]).len(), 33);

    // Changed-since filter.
    sim.state()
        .update(ids::CJK, |p| p.location = Some("Osaka".to_owned()));
    let filtered = json!({
        "fields": ["location"],
        "filters": {"lastChanged": {"includeNull": "no", "value": "2021-01-01T00:00:00Z"}},
    });
    let body = send(
        client
            .post(&url)
            .basic_auth(&key, Some("x"))
            .json(&filtered),
    )
    .await
    .json();
    assert_eq!(
        body["employees"],
        json!([{"id": "13", "location": "Osaka"}])
    );

    let xml = send(
        client
            .post(format!("{}/reports/custom?format=XML", sim.api_base()))
            .basic_auth(&key, Some("x"))
            .json(&request),
    )
    .await;
    assert!(
        xml.text.contains("<report><title>hrsync</title>"),
        "{}",
        xml.text
    );

    let no_format = send(
        client
            .post(format!("{}/reports/custom", sim.api_base()))
            .basic_auth(&key, Some("x"))
            .json(&request),
    )
    .await;
    assert_eq!(no_format.status, StatusCode::BAD_REQUEST);
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// Rate limit, faults, counting
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after_then_recovers() {
    let config = BambooConfig {
        rate_limit: Some(RateLimit {
            requests: 3,
            window: Duration::from_millis(1500),
        }),
        ..BambooConfig::seeded(1, 5, today())
    };
    let (sim, client) = start(config).await;
    for _ in 0..3 {
        let ok = get_json(&client, &sim, "/employees/1?fields=firstName").await;
        assert_eq!(ok.status, StatusCode::OK);
    }
    let limited = get_json(&client, &sim, "/employees/1?fields=firstName").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = limited.header(RETRY_AFTER.as_str()).parse().unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");

    tokio::time::sleep(Duration::from_secs(wait)).await;
    let again = get_json(&client, &sim, "/employees/1?fields=firstName").await;
    assert_eq!(again.status, StatusCode::OK);

    let stats = sim.state().stats();
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.throttled, 1);
    assert_eq!(stats.max_requests_in_window, 4);
    assert_eq!(stats.route_count("GET /employees/{id}"), 5);
    sim.shutdown().await;
}

#[tokio::test]
async fn throttling_can_use_the_legacy_503() {
    let config = BambooConfig {
        rate_limit: Some(RateLimit {
            requests: 1,
            window: Duration::from_secs(30),
        }),
        throttle_status: 503,
        ..BambooConfig::seeded(1, 0, today())
    };
    let (sim, client) = start(config).await;
    assert_eq!(
        get_json(&client, &sim, "/employees/directory").await.status,
        StatusCode::OK
    );
    let limited = get_json(&client, &sim, "/employees/directory").await;
    assert_eq!(limited.status, StatusCode::SERVICE_UNAVAILABLE);
    let wait: u64 = limited.header(RETRY_AFTER.as_str()).parse().unwrap();
    assert!((29..=30).contains(&wait), "Retry-After {wait}");
    sim.shutdown().await;
}

#[tokio::test]
async fn injected_faults_are_served_in_order_then_normal_answers_resume() {
    let (sim, client) = start_seeded().await;
    let state = sim.state();
    state.inject(Fault::ServerError(500), 1);
    state.inject(Fault::Throttled, 1);
    state.inject(Fault::Latency(Duration::from_millis(200)), 1);
    assert_eq!(state.pending_faults(), 3);

    let first = get_json(&client, &sim, "/employees/directory").await;
    assert_eq!(first.status, StatusCode::INTERNAL_SERVER_ERROR);
    let second = get_json(&client, &sim, "/employees/directory").await;
    assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(!second.header(RETRY_AFTER.as_str()).is_empty());
    let started = std::time::Instant::now();
    let third = get_json(&client, &sim, "/employees/directory").await;
    assert_eq!(third.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(state.pending_faults(), 0);

    let stats = state.stats();
    assert_eq!(stats.faults_served, 3);
    assert_eq!(stats.throttled, 1);
    assert_eq!(stats.rate_limited, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn requests_are_counted_per_path_and_route() {
    let (sim, client) = start_seeded().await;
    get_json(&client, &sim, "/employees/directory").await;
    for id in [1, 2, 2] {
        get_json(&client, &sim, &format!("/employees/{id}?fields=firstName")).await;
    }
    get_json(
        &client,
        &sim,
        "/employees/changed?since=2020-01-01T00:00:00Z",
    )
    .await;
    get_json(&client, &sim, "/nowhere").await;

    let stats = sim.state().stats();
    assert_eq!(stats.total_requests, 6);
    assert_eq!(stats.path_count("/employees/directory"), 1);
    assert_eq!(stats.path_count("/employees/2"), 2);
    assert_eq!(stats.route_count("GET /employees/{id}"), 3);
    assert_eq!(stats.route_count("GET /employees/changed"), 1);
    assert_eq!(stats.path_count("/nowhere"), 1);
    assert_eq!(stats.api_requests(), 6);

    sim.state().reset_stats();
    assert_eq!(sim.state().stats().total_requests, 0);
    sim.shutdown().await;
}

#[tokio::test]
async fn binds_loopback_only_and_stops() {
    let (sim, client) = start_seeded().await;
    assert!(sim.addr().ip().is_loopback());
    let base = sim.api_base();
    let key = sim.config().api_key;
    sim.shutdown().await;
    let after = client
        .get(format!("{base}/employees/directory"))
        .basic_auth(key, Some("x"))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(after.is_err(), "still serving after shutdown");
}
