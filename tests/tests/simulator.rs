//! Tests of the Remote API simulator over real HTTP.

#![allow(clippy::unwrap_used)]

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, Utc};
use hmac::{Hmac, Mac};
use hrsync_tests::remote_sim::workforce::{LIST_FIELDS, STATUSES};
use hrsync_tests::remote_sim::{
    DUPLICATE_NAME, Fault, HOSTILE_NAME, RateLimit, SimConfig, Simulator, Workforce,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Sha256;

fn config(people: usize) -> SimConfig {
    SimConfig {
        people,
        ..SimConfig::default()
    }
}

async fn start(people: usize) -> (Simulator, reqwest::Client) {
    let sim = Simulator::start(config(people))
        .await
        .expect("simulator starts");
    (sim, reqwest::Client::new())
}

/// GET with a bearer token; returns status, headers and JSON body (Null when not JSON).
async fn get(
    client: &reqwest::Client,
    url: &str,
    token: &str,
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let response = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, headers, body)
}

async fn token_request(
    client: &reqwest::Client,
    sim: &Simulator,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let cfg = sim.config();
    let response = client
        .post(sim.token_url())
        .basic_auth(&cfg.client_id, Some(&cfg.client_secret))
        .form(form)
        .send()
        .await
        .expect("token request sent");
    let status = response.status();
    (
        status,
        response.json().await.expect("token response is JSON"),
    )
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn client_credentials_grant_issues_a_bearer_token_without_refresh_token() {
    let (sim, client) = start(30).await;
    let (status, body) =
        token_request(&client, &sim, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body.get("refresh_token").is_none(), "{body}");
    let token = s(&body, "access_token").to_owned();
    assert!(!token.is_empty());

    let (status, _, list) = get(
        &client,
        &format!("{}/v1/employments", sim.base_url()),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(list["data"]["total_count"].as_u64().unwrap() > 0);

    // Credentials as form fields work too.
    let cfg = sim.config();
    let response = client
        .post(sim.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", cfg.client_id.as_str()),
            ("client_secret", cfg.client_secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // A wrong secret is an invalid client.
    let response = client
        .post(sim.token_url())
        .basic_auth(&cfg.client_id, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_client");

    // Unknown grant types are refused.
    let (status, body) = token_request(&client, &sim, &[("grant_type", "password")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "unsupported_grant_type");
    assert_eq!(sim.state().stats().token_requests, 4);
}

#[tokio::test]
async fn refresh_token_grant_rotates_and_the_old_token_dies() {
    let (sim, client) = start(30).await;
    let state = sim.state();
    assert_eq!(state.current_refresh_token(), "rt-initial");

    let (status, first) = token_request(
        &client,
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "rt-initial"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let rotated = s(&first, "refresh_token").to_owned();
    assert!(!rotated.is_empty() && rotated != "rt-initial");
    assert_eq!(state.current_refresh_token(), rotated);
    assert_eq!(first["company_id"], state.company_id());
    let access = s(&first, "access_token").to_owned();
    let (status, _, _) = get(
        &client,
        &format!("{}/v1/employments", sim.base_url()),
        &access,
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    // Reusing the old refresh token fails…
    let (status, body) = token_request(
        &client,
        &sim,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "rt-initial"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_grant");

    // …the new one works, once.
    let (status, second) = token_request(
        &client,
        &sim,
        &[("grant_type", "refresh_token"), ("refresh_token", &rotated)],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(s(&second, "refresh_token"), rotated);
    let (status, _) = token_request(
        &client,
        &sim,
        &[("grant_type", "refresh_token"), ("refresh_token", &rotated)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn static_api_token_works_and_anything_else_is_unauthorized() {
    let (sim, client) = start(30).await;
    let url = format!("{}/v1/employments", sim.base_url());
    let (status, _, _) = get(&client, &url, &sim.config().api_token).await;
    assert_eq!(status, StatusCode::OK);

    let (status, _, body) = get(&client, &url, "ra_test_wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body, json!({ "message": "Unauthorized" }));

    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(sim.state().stats().unauthorized, 2);
}

#[tokio::test]
async fn expired_tokens_get_401_until_a_new_one_is_fetched() {
    let sim = Simulator::start(SimConfig {
        people: 20,
        token_ttl: Duration::from_secs(1),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/v1/employments", sim.base_url());

    let (_, body) = token_request(&client, &sim, &[("grant_type", "client_credentials")]).await;
    assert_eq!(body["expires_in"], 1);
    let token = s(&body, "access_token").to_owned();
    assert_eq!(get(&client, &url, &token).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get(&client, &url, &token).await.0, StatusCode::UNAUTHORIZED);

    // expire_tokens: every issued token dies, the static token does not.
    let (_, body) = token_request(&client, &sim, &[("grant_type", "client_credentials")]).await;
    let token = s(&body, "access_token").to_owned();
    assert_eq!(get(&client, &url, &token).await.0, StatusCode::OK);
    sim.state().expire_tokens();
    assert_eq!(get(&client, &url, &token).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        get(&client, &url, &sim.config().api_token).await.0,
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------------------------
// Employments
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn pagination_covers_every_visible_employment_exactly_once() {
    let (sim, client) = start(250).await;
    let token = sim.config().api_token;
    let expected: BTreeSet<String> = sim
        .state()
        .employments()
        .iter()
        .filter(|e| e["status"] != "deleted")
        .map(|e| s(e, "id").to_owned())
        .collect();
    assert!(
        expected.len() < 250,
        "some people are deleted and must be hidden"
    );

    let mut seen = Vec::new();
    let mut page = 1;
    loop {
        let url = format!(
            "{}/v1/employments?page={page}&page_size=100",
            sim.base_url()
        );
        let (status, _, body) = get(&client, &url, &token).await;
        assert_eq!(status, StatusCode::OK);
        let data = &body["data"];
        assert_eq!(data["current_page"], page);
        assert_eq!(data["total_count"], expected.len());
        assert_eq!(data["total_pages"], expected.len().div_ceil(100));
        let items = data["employments"].as_array().unwrap();
        seen.extend(items.iter().map(|e| s(e, "id").to_owned()));
        if page >= data["total_pages"].as_u64().unwrap() as usize {
            break;
        }
        page += 1;
    }
    let unique: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(unique.len(), seen.len(), "an id appeared twice");
    assert_eq!(unique, expected);

    // Default page size is 20; more than 100 is refused; a page past the end is empty.
    let (_, _, body) = get(
        &client,
        &format!("{}/v1/employments", sim.base_url()),
        &token,
    )
    .await;
    assert_eq!(body["data"]["employments"].as_array().unwrap().len(), 20);
    let (status, _, body) = get(
        &client,
        &format!("{}/v1/employments?page_size=101", sim.base_url()),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["errors"]["page_size"].is_array(), "{body}");
    let (_, _, body) = get(
        &client,
        &format!("{}/v1/employments?page=99&page_size=100", sim.base_url()),
        &token,
    )
    .await;
    assert_eq!(body["data"]["employments"], json!([]));
}

#[tokio::test]
async fn list_items_lack_manager_and_start_date_but_detail_has_them() {
    let (sim, client) = start(120).await;
    let token = sim.config().api_token;
    let (_, _, body) = get(
        &client,
        &format!("{}/v1/employments?page_size=100", sim.base_url()),
        &token,
    )
    .await;
    let items = body["data"]["employments"].as_array().unwrap();
    let allowed: HashSet<&str> = LIST_FIELDS.iter().copied().collect();
    for item in items {
        let keys: HashSet<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, allowed, "list item fields");
        assert_eq!(item["country"].as_object().unwrap().len(), 3);
    }

    // Someone with a manager: the detail names the manager consistently.
    let report = items
        .iter()
        .find(|e| e["status"] == "active" && !e["job_title"].as_str().unwrap().contains("Chief"))
        .unwrap();
    let url = format!("{}/v1/employments/{}", sim.base_url(), s(report, "id"));
    let (status, _, body) = get(&client, &url, &token).await;
    assert_eq!(status, StatusCode::OK);
    let detail = &body["data"]["employment"];
    for key in [
        "manager",
        "manager_email",
        "manager_employment_id",
        "provisional_start_date",
        "company_id",
        "user_status",
        "created_at",
        "updated_at",
    ] {
        assert!(!detail[key].is_null(), "detail lacks {key}: {detail}");
    }
    for key in LIST_FIELDS {
        assert_eq!(
            detail[*key], report[*key],
            "{key} differs between list and detail"
        );
    }
    let manager = sim
        .state()
        .employment(s(detail, "manager_employment_id"))
        .expect("manager exists");
    assert_eq!(detail["manager"], manager["full_name"]);
    assert_eq!(detail["manager_email"], manager["login_email"]);
    assert!(NaiveDate::parse_from_str(s(detail, "provisional_start_date"), "%Y-%m-%d").is_ok());

    let (status, _, body) = get(
        &client,
        &format!("{}/v1/employments/does-not-exist", sim.base_url()),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body, json!({ "message": "Employment not found" }));
}

#[tokio::test]
async fn list_filters_by_status_and_email() {
    let (sim, client) = start(300).await;
    let token = sim.config().api_token;
    let all = sim.state().employments();
    let pre_hires = all
        .iter()
        .filter(|e| e["status"] == "pre_hire" || e["status"] == "invited")
        .count();
    let (_, _, body) = get(
        &client,
        &format!(
            "{}/v1/employments?status=pre_hire,invited&page_size=100",
            sim.base_url()
        ),
        &token,
    )
    .await;
    assert_eq!(body["data"]["total_count"], pre_hires);
    assert!(pre_hires > 0);
    for e in body["data"]["employments"].as_array().unwrap() {
        assert!(e["status"] == "pre_hire" || e["status"] == "invited");
    }

    let target = all.iter().find(|e| e["status"] == "active").unwrap();
    let email = s(target, "login_email").to_uppercase();
    let (_, _, body) = client
        .get(format!("{}/v1/employments", sim.base_url()))
        .bearer_auth(&token)
        .query(&[("email", email.as_str())])
        .send()
        .await
        .map(|r| (0, 0, r))
        .unwrap();
    let body: Value = body.json().await.unwrap();
    assert_eq!(body["data"]["total_count"], 1);
    assert_eq!(body["data"]["employments"][0]["id"], target["id"]);
}

#[tokio::test]
async fn patch_updates_allowed_fields_and_validates_manager_id() {
    let (sim, client) = start(120).await;
    let state = sim.state();
    let token = sim.config().api_token;
    let person = state
        .employments()
        .into_iter()
        .find(|e| e["status"] == "active" && e["manager_employment_id"].is_string())
        .unwrap();
    let id = s(&person, "id").to_owned();
    let url = format!("{}/v1/employments/{id}", sim.base_url());

    // Nested body.
    let response = client
        .patch(&url)
        .bearer_auth(&token)
        .json(&json!({ "employment": { "work_email": "new.mail@acme.example", "external_id": "jdoe" } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["data"]["employment"]["work_email"],
        "new.mail@acme.example"
    );
    assert_eq!(body["data"]["employment"]["external_id"], "jdoe");
    assert!(s(&body["data"]["employment"], "updated_at") > s(&person, "updated_at"));

    // Flat body, manager from company-managers.
    let (_, _, managers) = get(
        &client,
        &format!("{}/v1/company-managers?page_size=100", sim.base_url()),
        &token,
    )
    .await;
    let list = managers["data"]["company_managers"].as_array().unwrap();
    for m in list {
        let keys: BTreeSet<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            BTreeSet::from(["company_id", "role", "user_email", "user_id", "user_name"])
        );
    }
    let new_manager = list
        .iter()
        .find(|m| m["role"] == "admin" && m["user_email"] != person["manager_email"])
        .unwrap();
    let response = client
        .patch(&url)
        .bearer_auth(&token)
        .json(&json!({ "manager_id": new_manager["user_id"], "partner_external_id": null }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let detail = state.employment(&id).unwrap();
    assert_eq!(detail["manager"], new_manager["user_name"]);
    assert_eq!(detail["manager_email"], new_manager["user_email"]);
    assert_eq!(detail["manager_id"], new_manager["user_id"]);

    // Not a company manager → 422 on manager_id; nothing changes.
    let response = client
        .patch(&url)
        .bearer_auth(&token)
        .json(&json!({ "manager_id": "not-a-user", "work_email": "x@acme.example" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"]["manager_id"].is_array(), "{body}");
    assert_eq!(
        state.employment(&id).unwrap()["work_email"],
        "new.mail@acme.example"
    );

    // Fields that are not writable are refused.
    let response = client
        .patch(&url)
        .bearer_auth(&token)
        .json(&json!({ "full_name": "Someone Else" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn offboardings_hide_confidential_ones_unless_asked() {
    let (sim, client) = start(60).await;
    let state = sim.state();
    let token = sim.config().api_token;
    let person = state
        .employments()
        .into_iter()
        .find(|e| e["status"] == "active" && e["job_title"] != "Chief Executive Officer")
        .unwrap();
    let id = s(&person, "id").to_owned();
    let date = today() + chrono::Days::new(10);
    state.set_offboarding(&id, date, true);

    let url = |extra: &str| {
        format!(
            "{}/v1/offboardings?employment_id={id}{extra}",
            sim.base_url()
        )
    };
    let (status, _, body) = get(&client, &url(""), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["total_count"], 0, "{body}");
    let (_, _, body) = get(
        &client,
        &url("&include_confidential=true&type=termination"),
        &token,
    )
    .await;
    assert_eq!(body["data"]["total_count"], 1, "{body}");
    let record = &body["data"]["offboardings"][0];
    assert_eq!(record["employment_id"], id.as_str());
    assert_eq!(record["type"], "termination");
    assert_eq!(record["confidential"], true);
    assert_eq!(record["termination_date"], date.to_string());

    let detail = state.employment(&id).unwrap();
    assert_eq!(detail["status"], "offboarding");
    assert_eq!(detail["termination_date"], date.to_string());
    assert!(s(&detail, "updated_at") > s(&person, "updated_at"));
}

#[tokio::test]
async fn test_side_edits_show_in_the_api() {
    let (sim, client) = start(60).await;
    let state = sim.state();
    let token = sim.config().api_token;
    let person = state
        .employments()
        .into_iter()
        .find(|e| e["status"] == "active" && e["department"] != "Finance")
        .unwrap();
    let id = s(&person, "id").to_owned();
    state.update_employment(
        &id,
        json!({ "department": "Finance", "status": "archived" }),
    );
    let after = state.employment(&id).unwrap();
    assert_eq!(after["department"], "Finance");
    assert_ne!(after["department_id"], person["department_id"]);
    assert_eq!(after["employment_lifecycle_stage"], "offboarded");
    assert!(s(&after, "updated_at") > s(&person, "updated_at"));
    let (_, _, body) = get(
        &client,
        &format!("{}/v1/employments/{id}", sim.base_url()),
        &token,
    )
    .await;
    assert_eq!(body["data"]["employment"]["status"], "archived");

    // Clearing the manager clears the derived manager fields too.
    state.update_employment(&id, json!({ "manager_employment_id": null }));
    let after = state.employment(&id).unwrap();
    for key in ["manager", "manager_email", "manager_id"] {
        assert!(after[key].is_null(), "{key} still set: {after}");
    }

    // A new hire with a name and a status; everything else is generated.
    let new_id =
        state.add_employment(json!({ "full_name": "Åsa Öberg-Nuñez", "status": "pre_hire" }));
    let added = state.employment(&new_id).unwrap();
    assert_eq!(added["full_name"], "Åsa Öberg-Nuñez");
    assert!(
        s(&added, "personal_email").starts_with("asa.obergnunez"),
        "{added}"
    );
    let start = NaiveDate::parse_from_str(s(&added, "provisional_start_date"), "%Y-%m-%d").unwrap();
    assert!(start > today());
    assert!(added["manager_employment_id"].is_string());
    let (_, _, body) = get(
        &client,
        &format!(
            "{}/v1/employments?status=pre_hire&page_size=100",
            sim.base_url()
        ),
        &token,
    )
    .await;
    assert!(
        body["data"]["employments"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["id"] == new_id.as_str())
    );
}

// ---------------------------------------------------------------------------------------------
// Rate limit and faults
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn rate_limit_answers_429_with_headers_and_counts_token_requests() {
    let sim = Simulator::start(SimConfig {
        people: 20,
        rate_limit: Some(RateLimit {
            requests: 5,
            window: Duration::from_secs(2),
        }),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let client = reqwest::Client::new();
    let url = format!("{}/v1/employments", sim.base_url());
    let token = sim.config().api_token;

    // A token request counts against the same budget.
    let (status, _) = token_request(&client, &sim, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, StatusCode::OK);
    for n in 2..=5u32 {
        let (status, headers, _) = get(&client, &url, &token).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers["x-ratelimit-count"], n.to_string().as_str());
        assert_eq!(
            headers["x-ratelimit-remaining"],
            (5 - n).to_string().as_str()
        );
        let reset: u64 = headers["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset > 0 && reset <= 2000, "reset {reset}");
    }
    let (status, headers, body) = get(&client, &url, &token).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body, json!({ "message": "Too many requests" }));
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    let reset: u64 = headers["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(reset <= 2000);

    let stats = sim.state().stats();
    assert_eq!(stats.rate_limited, 1);
    assert_eq!(stats.too_many_requests, 1);
    assert_eq!(stats.max_requests_in_window, 6);
    assert_eq!(stats.total_requests, 6);

    // After the reset the budget is back.
    tokio::time::sleep(Duration::from_millis(reset + 50)).await;
    let (status, headers, _) = get(&client, &url, &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["x-ratelimit-count"], "1");
}

#[tokio::test]
async fn injected_faults_are_served_in_order_then_normal_service_resumes() {
    let (sim, client) = start(20).await;
    let state = sim.state();
    let url = format!("{}/v1/employments", sim.base_url());
    let api_token = sim.config().api_token;

    state.inject(Fault::ServerError(503), 1);
    state.inject(Fault::TooManyRequests, 1);
    state.inject(Fault::DropConnection, 1);
    state.inject(Fault::Latency(Duration::from_millis(300)), 1);

    let (status, _, _) = get(&client, &url, &api_token).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, headers, _) = get(&client, &url, &api_token).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(headers["x-ratelimit-remaining"], "0");
    assert!(headers.contains_key("x-ratelimit-reset"));

    let error = client
        .get(&url)
        .bearer_auth(&api_token)
        .send()
        .await
        .expect_err("the connection is dropped without a response");
    assert!(!error.is_status() && !error.is_timeout(), "{error:?}");

    let started = Instant::now();
    let (status, _, _) = get(&client, &url, &api_token).await;
    assert_eq!(status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(300));

    let (status, _, _) = get(&client, &url, &api_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(state.pending_faults(), (0, 0));
    assert_eq!(state.stats().faults_served, 4);

    // ExpiredToken revokes the access token presented; token requests are unaffected by API
    // faults and have their own queue.
    let (_, body) = token_request(&client, &sim, &[("grant_type", "client_credentials")]).await;
    let token = s(&body, "access_token").to_owned();
    state.inject(Fault::ExpiredToken, 1);
    assert_eq!(get(&client, &url, &token).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(get(&client, &url, &token).await.0, StatusCode::UNAUTHORIZED);
    state.inject_token(Fault::ServerError(500), 1);
    let (status, _) = token_request(&client, &sim, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    let (status, body) =
        token_request(&client, &sim, &[("grant_type", "client_credentials")]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        get(&client, &url, s(&body, "access_token")).await.0,
        StatusCode::OK
    );
}

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn webhook_is_signed_over_body_colon_timestamp() {
    use axum::body::Bytes;
    use axum::http::HeaderMap;

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(HeaderMap, Bytes)>();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let tx = tx.clone();
            async move {
                let _ = tx.send((headers, body));
                axum::http::StatusCode::ACCEPTED
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_url = format!("http://{}/hook", listener.local_addr().unwrap());
    let server = tokio::spawn(async move { axum::serve(listener, receiver).await });

    let (sim, _) = start(20).await;
    let state = sim.state();
    let id = s(&state.employments()[0], "id").to_owned();
    let status = state
        .send_webhook(&hook_url, "employment.details.updated", &id)
        .await
        .unwrap();
    assert_eq!(status, 202);

    let (headers, body) = rx.recv().await.unwrap();
    assert_eq!(headers["content-type"], "application/json");
    let timestamp = headers["x-remote-timestamp"].to_str().unwrap();
    let ts: i64 = timestamp.parse().unwrap();
    assert!((Utc::now().timestamp_millis() - ts).abs() < 60_000);

    // Independent HMAC computation with the configured key.
    let mut mac =
        Hmac::<Sha256>::new_from_slice(sim.config().webhook_signing_key.as_bytes()).unwrap();
    mac.update(&body);
    mac.update(b":");
    mac.update(timestamp.as_bytes());
    let expected = hex::encode(mac.finalize().into_bytes());
    assert_eq!(headers["x-remote-signature"], expected.as_str());
    assert_eq!(state.sign(&body, ts), expected);

    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        payload,
        json!({
            "event_type": "employment.details.updated",
            "company_id": state.company_id(),
            "employment_id": id,
        })
    );
    // A known vector (openssl dgst -sha256 -hmac key over `{}:1700000000000`).
    assert_eq!(
        hrsync_tests::remote_sim::sign("key", b"{}", 1_700_000_000_000),
        "fbe8369223c85331497593521495de5af67f584554062346ac018b6ca0123da3"
    );
    server.abort();
}

// ---------------------------------------------------------------------------------------------
// Workforce
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn generator_is_deterministic_by_seed() {
    let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
    let a = Workforce::generate(7, 300, day);
    let b = Workforce::generate(7, 300, day);
    let c = Workforce::generate(8, 300, day);
    assert_eq!(a.employments(), b.employments());
    assert_eq!(a.offboardings(), b.offboardings());
    assert_eq!(a.company_id(), b.company_id());
    assert_ne!(a.employments(), c.employments());

    // Two simulators with the same seed serve the same people.
    let one = Simulator::start(SimConfig {
        seed: 5,
        ..config(50)
    })
    .await
    .unwrap();
    let two = Simulator::start(SimConfig {
        seed: 5,
        ..config(50)
    })
    .await
    .unwrap();
    assert_eq!(one.state().employments(), two.state().employments());
    assert_eq!(
        one.state().company_managers(),
        two.state().company_managers()
    );
}

#[test]
fn workforce_contains_the_edge_cases_a_sync_engine_must_handle() {
    let day = today();
    let wf = Workforce::generate(42, 600, day);
    let people = wf.employments();
    assert_eq!(people.len(), 600);
    let by_id: HashMap<&str, &Value> = people.iter().map(|e| (s(e, "id"), e)).collect();
    assert_eq!(by_id.len(), 600, "ids are unique");

    // Names.
    let names: Vec<&str> = people.iter().map(|e| s(e, "full_name")).collect();
    assert_eq!(names.iter().filter(|n| **n == DUPLICATE_NAME).count(), 2);
    assert!(names.contains(&HOSTILE_NAME));
    assert!(HOSTILE_NAME.starts_with(' '));
    for c in [',', '+', '=', '"', '\\', '<', '>', ';', '#', '*', '(', ')'] {
        assert!(HOSTILE_NAME.contains(c), "hostile name lacks {c}");
    }
    for n in [
        "José Müller",
        "Zoë Ångström",
        "Łukasz Żółć",
        "Siobhán Ó Briain",
        "Nguyễn Văn An",
        "Sukarno",
        "Maria da Graça Souza Lima",
    ] {
        assert!(names.contains(&n), "{n} missing");
    }
    assert!(
        names.iter().filter(|n| !n.is_ascii()).count() > 100,
        "plenty of diacritics"
    );
    let emails: HashSet<&str> = people.iter().map(|e| s(e, "personal_email")).collect();
    assert_eq!(emails.len(), 600, "personal emails are unique");
    assert!(people.iter().all(|e| s(e, "login_email").is_ascii()));

    // basic_information: mostly complete, sometimes name only, sometimes absent.
    let basic = |pred: fn(&Value) -> bool| {
        people
            .iter()
            .filter(|e| pred(&e["basic_information"]))
            .count()
    };
    assert!(basic(|b| b["given_name"].is_string()) > 400);
    assert!(basic(|b| b.is_object() && b.get("given_name").is_none()) > 0);
    assert!(basic(Value::is_null) > 0);

    // Statuses, types, models, nullable work email.
    let statuses: HashSet<&str> = people.iter().map(|e| s(e, "status")).collect();
    for st in STATUSES {
        assert!(statuses.contains(st), "status {st} missing");
    }
    let active = people.iter().filter(|e| e["status"] == "active").count();
    assert!(active > 400 && active < 520, "mostly active: {active}");
    let types: HashSet<&str> = people.iter().map(|e| s(e, "type")).collect();
    assert_eq!(types, HashSet::from(["employee", "contractor"]));
    let models: HashSet<&str> = people.iter().map(|e| s(e, "employment_model")).collect();
    for m in ["eor", "peo", "global_payroll"] {
        assert!(models.contains(m), "{m} missing");
    }
    assert!(people.iter().any(|e| e["work_email"].is_null()));

    // Dates: pre-hires start in the future, active people in the past.
    for e in &people {
        let start = NaiveDate::parse_from_str(s(e, "provisional_start_date"), "%Y-%m-%d").unwrap();
        match s(e, "status") {
            "pre_hire" | "invited" | "created" => assert!(start > day, "{e}"),
            "active" => assert!(start < day, "{e}"),
            _ => {}
        }
    }

    // Manager tree: one root (the CEO), every manager exists and is active, no cycles.
    let roots: Vec<&&Value> = by_id
        .values()
        .filter(|e| e["manager_employment_id"].is_null())
        .collect();
    assert_eq!(roots.len(), 1);
    for e in &people {
        let mut current: &Value = e;
        for _ in 0..10 {
            let Some(m) = current["manager_employment_id"].as_str() else {
                break;
            };
            let manager = by_id[m];
            assert_eq!(manager["status"], "active");
            assert_eq!(current["manager"], manager["full_name"]);
            assert_eq!(current["manager_email"], manager["login_email"]);
            current = manager;
        }
        assert!(current["manager_employment_id"].is_null(), "chain too long");
    }

    // Offboarding and archived people have a termination record.
    let offboarded: HashSet<String> = wf
        .offboardings()
        .iter()
        .filter(|o| o["status"] != "canceled")
        .map(|o| s(o, "employment_id").to_owned())
        .collect();
    for e in &people {
        if e["status"] == "offboarding" || e["status"] == "archived" {
            assert!(offboarded.contains(s(e, "id")), "{e}");
            assert!(e["termination_date"].is_string());
        }
    }
}

#[tokio::test]
async fn ten_thousand_people_generate_and_page_quickly() {
    let started = Instant::now();
    let wf = Workforce::generate(1, 10_000, today());
    let generation = started.elapsed();
    assert_eq!(wf.employments().len(), 10_000);
    // Well under a second in release; debug builds get headroom.
    let limit = if cfg!(debug_assertions) { 5000 } else { 700 };
    assert!(
        generation < Duration::from_millis(limit),
        "generation took {generation:?}"
    );

    let (sim, client) = start(10_000).await;
    let token = sim.config().api_token;
    let started = Instant::now();
    let mut seen = 0;
    for page in 1..=100 {
        let (status, _, body) = get(
            &client,
            &format!(
                "{}/v1/employments?page={page}&page_size=100",
                sim.base_url()
            ),
            &token,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        seen += body["data"]["employments"].as_array().unwrap().len();
    }
    let visible = sim
        .state()
        .employments()
        .iter()
        .filter(|e| e["status"] != "deleted")
        .count();
    assert_eq!(seen, visible);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "paging took {:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// Lifecycle and the binary
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn shutdown_closes_the_port() {
    let (sim, client) = start(10).await;
    let url = format!("{}/v1/employments", sim.base_url());
    assert_eq!(
        get(&client, &url, "ra_test_0123456789abcdef").await.0,
        StatusCode::OK
    );
    sim.shutdown().await;
    let fresh = reqwest::Client::new();
    let error = fresh
        .get(&url)
        .send()
        .await
        .expect_err("nothing listens any more");
    assert!(error.is_connect(), "{error:?}");
}

#[tokio::test]
async fn binary_prints_its_address_and_stops_when_stdin_closes() {
    use tokio::io::{AsyncBufReadExt, BufReader};

    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("sim.pid");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_remote-sim"))
        .args([
            "--people",
            "25",
            "--seed",
            "3",
            "--port",
            "0",
            "--rate-limit",
            "50/60",
        ])
        .arg("--pid-file")
        .arg(&pid_file)
        .arg("--exit-on-stdin-close")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut vars = HashMap::new();
    while let Some(line) = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .unwrap()
        .unwrap()
    {
        if let Some((k, v)) = line.split_once('=') {
            vars.insert(k.to_owned(), v.to_owned());
        }
        if line.starts_with("RATE_LIMIT=") {
            break;
        }
    }
    let base = &vars["BASE_URL"];
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert_eq!(vars["TOKEN_URL"], format!("{base}/auth/oauth2/token"));
    let pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert_eq!(Some(pid), child.id());

    let client = reqwest::Client::new();
    let (status, headers, body) = get(
        &client,
        &format!("{base}/v1/employments"),
        &vars["API_TOKEN"],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body["data"]["total_count"].as_u64().unwrap() > 0);
    assert_eq!(headers["x-ratelimit-remaining"], "49");

    drop(child.stdin.take());
    let exit = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(exit.success());
    assert!(!pid_file.exists(), "pid file removed on exit");
}
