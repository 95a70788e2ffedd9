//! Outbound webhooks against a real local HTTP server: an HR value with quotes, angle brackets,
//! `../` and `?` is data in the URL path, a JSON body and an XML body, never structure.

#![allow(clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::Uri;

use super::*;
use crate::mapping::{FieldValue, Lifecycle, Person};

const HOSTILE: &str = r#"a","admin":true,"b":"<x>&'../../etc?q=1#"#;

/// What the server received: the path as sent (still encoded), the query and the body.
type Seen = Arc<Mutex<Vec<(String, Option<String>, String)>>>;

async fn record(State(seen): State<Seen>, uri: Uri, body: Bytes) -> &'static str {
    seen.lock().unwrap().push((
        uri.path().to_string(),
        uri.query().map(str::to_string),
        String::from_utf8_lossy(&body).into_owned(),
    ));
    "ok"
}

async fn server() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let app = Router::new().fallback(record).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), seen)
}

struct NoConnectors;

impl ConnectorCredentials for NoConnectors {
    async fn credentials(&self, name: &str) -> Result<(Option<Secret>, AllowedHosts), String> {
        Err(format!("no connector `{name}` in this test"))
    }
}

fn ctx() -> Context {
    let p = Person {
        id: "e-1".into(),
        status: Lifecycle::Active,
        source_status: "active".into(),
        facts: Default::default(),
        fields: [("full_name".to_string(), FieldValue::Text(HOSTILE.into()))].into(),
        raw: None,
        complete: true,
    }
    .lift_facts();
    Context::new(Some(&p), None)
}

fn webhook(toml_text: &str) -> WebhookConfig {
    toml::from_str(toml_text).unwrap()
}

async fn send(base: &str, text: &str) -> Result<(SentRequest, Answer), OutboundError> {
    let allowed = AllowedHosts::parse(&[base.to_string()]).unwrap();
    let cfg = webhook(&text.replace("BASE", base));
    call(
        "hook",
        &cfg,
        &allowed,
        std::path::Path::new("/"),
        &ctx(),
        &NoConnectors,
    )
    .await
}

fn decoded(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8()
        .unwrap()
        .into_owned()
}

#[tokio::test]
async fn a_hostile_value_is_data_in_the_path_a_json_body_and_an_xml_body() {
    let (base, seen) = server().await;

    // JSON, as a template string: the value is one JSON string, no key is added.
    send(
        &base,
        r#"url = "BASE/people/{{ person.full_name }}/notify"
body = '{"name": {{ person.full_name }}, "fixed": 1}'
"#,
    )
    .await
    .unwrap();
    // JSON, as a table serialized by hrsync, nested and typed.
    send(
        &base,
        r#"url = "BASE/t"
body = { name = "{{ person.full_name }}", n = 2, inner = { also = "x{{ person.full_name }}" } }
"#,
    )
    .await
    .unwrap();
    // XML, element text and attribute.
    send(
        &base,
        r#"url = "BASE/x"
format = "xml"
body = '<person name="{{ person.full_name }}"><name>{{ person.full_name }}</name></person>'
"#,
    )
    .await
    .unwrap();

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "{seen:#?}");
    let (path, query, body) = &seen[0];
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    assert_eq!(segments.len(), 3, "{path}");
    assert_eq!(segments[0], "people");
    assert_eq!(decoded(segments[1]), HOSTILE);
    assert_eq!(segments[2], "notify");
    assert_eq!(query, &None);
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json, serde_json::json!({"name": HOSTILE, "fixed": 1}));

    let json: serde_json::Value = serde_json::from_str(&seen[1].2).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"name": HOSTILE, "n": 2, "inner": {"also": format!("x{HOSTILE}")}})
    );

    let xml = &seen[2].2;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut texts = Vec::new();
    let mut attrs = Vec::new();
    loop {
        match reader.read_event().unwrap() {
            quick_xml::events::Event::Start(e) => {
                for a in e.attributes() {
                    let a = a.unwrap();
                    attrs.push(
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .unwrap()
                            .into_owned(),
                    );
                }
            }
            quick_xml::events::Event::Text(t) => texts.push(t.to_string()),
            quick_xml::events::Event::GeneralRef(r) => {
                let s = match &*r {
                    "amp" => "&",
                    "lt" => "<",
                    "gt" => ">",
                    "apos" => "'",
                    "quot" => "\"",
                    other => panic!("entity {other}"),
                };
                texts.push(s.to_string());
            }
            quick_xml::events::Event::Eof => break,
            _ => {}
        }
    }
    assert_eq!(texts.concat(), HOSTILE, "{xml}");
    assert_eq!(attrs, vec![HOSTILE.to_string()], "{xml}");
}

#[tokio::test]
async fn a_body_that_does_not_render_to_its_format_is_refused_before_it_is_sent() {
    let (base, seen) = server().await;
    // The admin quoted the value: with the value's own quotes that is not JSON.
    let e = send(
        &base,
        r#"url = "BASE/q"
body = '{"name": "{{ person.full_name }}"}'
"#,
    )
    .await
    .unwrap_err();
    let text = e.to_string();
    assert!(
        matches!(&e, OutboundError::Malformed { name, field, .. } if name == "hook" && field == "body"),
        "{text}"
    );
    assert!(
        text.contains("not valid JSON") && text.contains("nothing was sent"),
        "{text}"
    );
    // A value marked safe breaks the XML: refused too.
    let e = send(
        &base,
        r#"url = "BASE/x"
format = "xml"
body = '<a>{{ person.full_name|safe }}</a>'
"#,
    )
    .await
    .unwrap_err();
    assert!(
        e.to_string().contains("`body`") && e.to_string().contains("XML"),
        "{e}"
    );
    // A value that is exactly `..` cannot be a path segment.
    let e = send(&base, "url = \"BASE/a/{{ '..' }}/b\"\n")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("`url`"), "{e}");
    assert!(seen.lock().unwrap().is_empty());
}
