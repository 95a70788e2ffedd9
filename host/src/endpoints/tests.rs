//! Endpoints through the connector's real HTTP client against a real local server: values are
//! data in the path, the query and the body; pages, cursors and next links are followed; bad
//! input becomes notes while the other endpoints still give their fields.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Uri};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use serde_json::json;

use super::*;
use crate::auth::{Credentials, TokenSource};
use crate::egress::AllowedHosts;
use crate::http::{ConnectorHttp, HttpSettings, RateGovernor, RetryPolicy};
use crate::mapping::{Facts, Lifecycle};

const HOSTILE: &str = r#"a","admin":true,"b":"<x>&'../../etc?q=1#"#;

type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// Echoes the request's path, query and body as one record.
async fn echo(State(seen): State<Seen>, uri: Uri, body: Bytes) -> axum::Json<serde_json::Value> {
    let body = String::from_utf8_lossy(&body).into_owned();
    seen.lock().unwrap().push((uri.to_string(), body.clone()));
    axum::Json(json!({"data": {"value": {
        "path": uri.path(), "query": uri.query(), "body": body, "employment_id": "p-1"
    }}}))
}

/// 7 records in pages of 3, by `page`; `total_pages` given.
async fn paged(Query(q): Query<BTreeMap<String, String>>) -> axum::Json<serde_json::Value> {
    let page: usize = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1);
    let items: Vec<_> = (0..7)
        .skip((page - 1) * 3)
        .take(3)
        .map(|i| json!({"employment_id": format!("p-{i}"), "n": i}))
        .collect();
    axum::Json(json!({"data": {"items": items, "total_pages": 3}}))
}

/// The same 7 records by cursor.
async fn cursor(Query(q): Query<BTreeMap<String, String>>) -> axum::Json<serde_json::Value> {
    let at: usize = q.get("after").and_then(|p| p.parse().ok()).unwrap_or(0);
    let items: Vec<_> = (at..(at + 3).min(7))
        .map(|i| json!({"who": {"id": format!("p-{i}")}, "n": i}))
        .collect();
    let next = (at + 3 < 7).then(|| (at + 3).to_string());
    axum::Json(json!({"items": items, "meta": {"next": next}}))
}

/// The same 7 records by `Link: rel="next"`.
async fn linked(Query(q): Query<BTreeMap<String, String>>) -> impl IntoResponse {
    let at: usize = q.get("from").and_then(|p| p.parse().ok()).unwrap_or(0);
    let items: Vec<_> = (at..(at + 3).min(7))
        .map(|i| json!({"employment_id": format!("p-{i}"), "n": i}))
        .collect();
    let mut headers = HeaderMap::new();
    if at + 3 < 7 {
        let link = format!("</api/linked?from={}>; rel=\"next\"", at + 3);
        headers.insert("link", link.parse().unwrap());
    }
    (headers, axum::Json(json!(items)))
}

/// Records with trouble: one without a key, two with the same.
async fn troubled() -> axum::Json<serde_json::Value> {
    axum::Json(json!({"data": [
        {"employment_id": "p-1", "grade": "A"},
        {"grade": "no key"},
        {"employment_id": "p-2", "grade": "B"},
        {"employment_id": "p-2", "grade": "C"},
    ]}))
}

async fn server() -> (url::Url, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new()
        .route("/api/paged", get(paged))
        .route("/api/cursor", get(cursor))
        .route("/api/linked", get(linked))
        .route("/api/troubled", get(troubled))
        .fallback(any(echo))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/").parse().unwrap(), seen)
}

/// Endpoints over a real connector HTTP client (allow-list, governor, retries).
fn endpoints(base: &url::Url, toml_text: &str) -> Endpoints {
    #[derive(serde::Deserialize)]
    struct Doc {
        endpoints: Vec<RawEndpoint>,
    }
    let doc: Doc = toml::from_str(toml_text).unwrap();
    let list = Endpoint::parse_all(doc.endpoints).unwrap();
    let client = crate::http::client(Duration::from_secs(5)).unwrap();
    let governor = Arc::new(RateGovernor::new(None));
    let tokens = Arc::new(TokenSource::new(
        Credentials::None,
        client.clone(),
        governor.clone(),
    ));
    let origin = crate::egress::origin(base);
    let http = ConnectorHttp::new(
        HttpSettings {
            connector: "acme".into(),
            base_url: base.clone(),
            allowed_hosts: AllowedHosts::parse(&[origin]).unwrap(),
            timeout: Duration::from_secs(5),
            retry: RetryPolicy::default(),
        },
        client,
        tokens,
        governor,
    );
    let settings = [("grade_field".to_string(), "g-1".to_string())].into();
    Endpoints::new("acme", list, Arc::new(http), base.clone(), settings)
}

fn person(id: &str) -> Person {
    Person {
        id: id.into(),
        status: Lifecycle::Active,
        source_status: "active".into(),
        facts: Facts::default(),
        fields: [("nickname".to_string(), FieldValue::Text(HOSTILE.into()))].into(),
        raw: None,
        complete: true,
    }
}

fn decoded(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

#[tokio::test]
async fn a_hostile_value_is_data_in_the_path_the_query_and_the_body() {
    let (base, seen) = server().await;
    let e = endpoints(
        &base,
        r#"
[[endpoints]]
name = "echo"
method = "POST"
path = "/api/people/{{ person.nickname }}/grade/{{ settings.grade_field }}"
query = { q = "{{ person.nickname }}", empty = "{{ cursor }}" }
body = { name = "{{ person.nickname }}", nested = { n = 1 } }
records = "/data/value"
per_person = true

[[endpoints]]
name = "templated"
method = "POST"
path = "/api/t"
body = '{"name": {{ person.nickname }}, "id": {{ person.id }}}'
records = "/data/value"
per_person = true
"#,
    );
    let mut p = person("p-1");
    e.enrich(&mut p).await;
    assert!(e.take_notes().is_empty());
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:#?}");

    let url: url::Url = base.join(&seen[0].0).unwrap();
    let segments: Vec<&str> = url.path_segments().unwrap().collect();
    assert_eq!(segments.len(), 5, "{url}");
    assert_eq!(
        (segments[0], segments[1], segments[3], segments[4]),
        ("api", "people", "grade", "g-1")
    );
    assert_eq!(decoded(segments[2]), HOSTILE);
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert_eq!(query, vec![("q".to_string(), HOSTILE.to_string())]);
    let body: serde_json::Value = serde_json::from_str(&seen[0].1).unwrap();
    assert_eq!(body, json!({"name": HOSTILE, "nested": {"n": 1}}));
    let body: serde_json::Value = serde_json::from_str(&seen[1].1).unwrap();
    assert_eq!(body, json!({"name": HOSTILE, "id": "p-1"}));

    // The fields land under the endpoint's name.
    assert_eq!(
        p.fields.get("echo.employment_id"),
        Some(&FieldValue::Text("p-1".into()))
    );
    assert!(p.fields.contains_key("templated.body"));
}

#[tokio::test]
async fn pages_cursors_and_next_links_are_followed_and_records_matched_by_key() {
    let (base, _) = server().await;
    let e = endpoints(
        &base,
        r#"
[[endpoints]]
name = "paged"
path = "/api/paged"
query = { page = "{{ page }}", size = "{{ page_size }}" }
records = "/data/items"
key = "employment_id"
pagination = { kind = "page", page_size = 3, total_pages = "/data/total_pages" }

[[endpoints]]
name = "cursor"
path = "/api/cursor"
query = { after = "{{ cursor }}" }
records = "items"
key = "who.id"
pagination = { kind = "cursor", cursor = "meta.next" }

[[endpoints]]
name = "linked"
path = "/api/linked"
records = ""
key = "/employment_id"
pagination = { kind = "next" }
"#,
    );
    let mut people: Vec<Person> = (0..8).map(|i| person(&format!("p-{i}"))).collect();
    e.refresh().await;
    e.add_company_fields(&mut people).await;
    assert!(e.take_notes().is_empty());
    for (i, p) in people.iter().enumerate().take(7) {
        for ep in ["paged", "cursor", "linked"] {
            assert_eq!(
                p.fields.get(&format!("{ep}.n")),
                Some(&FieldValue::Integer(i as i64)),
                "{ep} for {}",
                p.id
            );
        }
    }
    assert!(!people[7].fields.keys().any(|k| k.contains('.')));
    // Test & Save: the requests made, the fields, the matches.
    let trials = e.test(&people[0], &people).await;
    assert_eq!(trials[0].requests.len(), 3);
    assert_eq!(trials[0].records, 7);
    assert_eq!((trials[0].matched, trials[0].people), (7, 8));
    assert_eq!(trials[1].requests.len(), 3);
    assert_eq!(trials[2].requests.len(), 3);
    let text = report::render(&trials, "p-0");
    assert!(
        text.contains("GET http://") && text.contains("/api/paged?page=2&size=3"),
        "{text}"
    );
    assert!(
        text.contains("paged.n") && text.contains("7 of 8 people"),
        "{text}"
    );
    assert!(text.contains("authorization: *** "), "{text}");
}

#[tokio::test]
async fn bad_input_becomes_notes_and_the_other_endpoints_still_give_fields() {
    let (base, _) = server().await;
    let e = endpoints(
        &base,
        r#"
[[endpoints]]
name = "good"
path = "/api/good/{{ person.id }}"
records = "/data/value"
per_person = true

[[endpoints]]
name = "broken"
path = "/api/x/{{ person.nickname|date('%Y') }}"
per_person = true

[[endpoints]]
name = "nowhere"
path = "/api/y/{{ person.id }}"
records = "/data/missing"
per_person = true

[[endpoints]]
name = "grades"
path = "/api/troubled"
records = "/data"
key = "employment_id"
"#,
    );
    let mut p1 = person("p-1");
    let mut p2 = person("p-2");
    e.refresh().await;
    e.enrich(&mut p1).await;
    e.enrich(&mut p2).await;
    let notes = e.take_notes();
    let text: Vec<String> = notes.iter().map(ToString::to_string).collect();
    let has = |endpoint: &str, record: Option<&str>, field: Option<&str>, words: &str| {
        notes.iter().any(|n| {
            n.endpoint == endpoint
                && n.record_id.as_deref() == record
                && n.field.as_deref() == field
                && n.reason.contains(words)
        })
    };
    assert!(
        has("broken", Some("p-1"), Some("path"), "cannot be rendered"),
        "{text:#?}"
    );
    assert!(
        has("nowhere", Some("p-2"), Some("records"), "finds nothing"),
        "{text:#?}"
    );
    assert!(
        has(
            "grades",
            None,
            Some("/employment_id"),
            "no `/employment_id`"
        ),
        "{text:#?}"
    );
    assert!(
        has("grades", Some("p-2"), Some("/employment_id"), "2 records"),
        "{text:#?}"
    );
    assert!(
        text.iter().all(|t| t.starts_with("endpoint `acme.")),
        "{text:#?}"
    );
    // Each person keeps what the other endpoints gave.
    assert_eq!(
        p1.fields.get("grades.grade"),
        Some(&FieldValue::Text("A".into()))
    );
    assert!(p1.fields.contains_key("good.path"));
    assert!(p2.fields.contains_key("good.path"));
    assert!(!p2.fields.contains_key("grades.grade"));
    assert!(
        !p1.fields
            .keys()
            .any(|k| k.starts_with("broken.") || k.starts_with("nowhere."))
    );
}
