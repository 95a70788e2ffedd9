//! The connector's logic under the SDK's native harness: canned Remote answers, no host.
#![allow(clippy::unwrap_used)]

use hrsync_sdk::http::Method;
use hrsync_sdk::prelude::*;
use hrsync_sdk::testing::{Harness, Reply};
use serde_json::json;

use crate::Remote;
use crate::mapping::{lifecycle, split_name};

fn employment(id: &str, name: &str, status: &str) -> serde_json::Value {
    json!({
        "id": id, "short_id": "S1", "full_name": name, "job_title": "Engineer",
        "department": "Engineering", "status": status, "type": "employee",
        "country": {"alpha_2_code": "DE", "code": "DEU", "name": "Germany"},
        "work_email": null, "personal_email": "p@example.org"
    })
}

fn field<'a>(p: &'a Person, name: &str) -> &'a FieldValue {
    &p.fields.iter().find(|f| f.name == name).unwrap().value
}

#[test]
fn list_reads_a_page_and_quarantines_only_the_bad_record() {
    let harness = Harness::new().route(Method::Get, "/v1/employments", |req| {
        assert!(req.query.contains(&("page_size".into(), "100".into())));
        Reply::json(
            200,
            &json!({"data": {"current_page": 1, "total_pages": 3, "total_count": 250,
            "employments": [
                employment("e-1", "Zoë Ångström", "active"),
                {"full_name": "No Id", "status": "active"},
                employment("e-3", "Sukarno", "weird_new_status"),
            ]}}),
        )
    });
    let page = harness.run(|| Remote.list(None)).unwrap();
    assert_eq!(page.people.len(), 2);
    assert_eq!(page.rejected.len(), 1);
    assert_eq!(page.rejected[0].field.as_deref(), Some("id"));
    assert_eq!(page.next_cursor.as_deref(), Some("2"));
    assert_eq!(page.total, Some(250));
    let zoe = &page.people[0];
    // A list record has no name parts; splitting `full_name` would be a guess.
    assert_eq!(zoe.given_name, None);
    assert_eq!(zoe.display_name.as_deref(), Some("Zoë Ångström"));
    assert_eq!(field(zoe, "country_code"), &FieldValue::Text("DE".into()));
    assert_eq!(zoe.work_email, None);
    // Facts are never fields too.
    assert!(
        zoe.fields
            .iter()
            .all(|f| f.name != "full_name" && f.name != "work_email")
    );
    assert!(!zoe.complete);
    assert_eq!(page.people[1].status, Lifecycle::Unknown);
    assert_eq!(page.people[1].source_status, "weird_new_status");
}

#[test]
fn the_last_page_has_no_cursor() {
    let harness = Harness::new().route(Method::Get, "/v1/employments", |_| {
        Reply::json(
            200,
            &json!({"data": {"current_page": 3, "total_pages": 3, "employments": []}}),
        )
    });
    let page = harness.run(|| Remote.list(Some("3".into()))).unwrap();
    assert_eq!(page.next_cursor, None);
    assert_eq!(
        harness.requests()[0].query[0],
        ("page".to_string(), "3".to_string())
    );
}

#[test]
fn get_prefers_basic_information_and_reads_manager_and_dates() {
    let harness = Harness::new().route(Method::Get, "/v1/employments/e-1", |_| {
        let mut e = employment("e-1", "Maria da Graça Souza", "pre_hire");
        e["basic_information"] = json!({"given_name": "Maria da Graça", "surname": "Souza"});
        e["manager_employment_id"] = json!("m-1");
        e["provisional_start_date"] = json!("2026-12-01");
        Reply::json(200, &json!({"data": {"employment": e}}))
    });
    let p = harness.run(|| Remote.get("e-1")).unwrap();
    assert!(p.complete);
    assert_eq!(p.status, Lifecycle::PreHire);
    assert_eq!(p.given_name.as_deref(), Some("Maria da Graça"));
    assert_eq!(p.family_name.as_deref(), Some("Souza"));
    assert_eq!(p.start_date.as_deref(), Some("2026-12-01"));
    assert_eq!(p.manager_id.as_deref(), Some("m-1"));
    // Not offboarding: no offboardings request, no end date.
    assert_eq!(p.end_date, None);
    assert_eq!(harness.requests().len(), 1);
    let raw: serde_json::Value = serde_json::from_str(p.raw.as_deref().unwrap()).unwrap();
    assert_eq!(raw["country"]["alpha_2_code"], "DE");
}

#[test]
fn an_offboarding_s_termination_date_is_the_end_date() {
    let harness = Harness::new()
        .route(Method::Get, "/v1/employments/e-2", |_| {
            let e = employment("e-2", "Ada Lovelace", "offboarding");
            Reply::json(200, &json!({"data": {"employment": e}}))
        })
        .route(Method::Get, "/v1/offboardings", |req| {
            assert!(req.query.contains(&("employment_id".into(), "e-2".into())));
            assert!(req.query.contains(&("type".into(), "termination".into())));
            Reply::json(
                200,
                &json!({"data": {"total_pages": 1, "offboardings": [
                    {"employment_id": "e-2", "status": "canceled", "termination_date": "2027-01-31"},
                    {"employment_id": "e-2", "status": "submitted", "termination_date": "2026-12-15"},
                    {"employment_id": "e-2", "status": "done", "termination_date": "2026-11-30"},
                ]}}),
            )
        });
    let p = harness.run(|| Remote.get("e-2")).unwrap();
    assert_eq!(p.status, Lifecycle::Leaving);
    assert_eq!(p.end_date.as_deref(), Some("2026-12-15"));
}

#[test]
fn the_descriptor_declares_auth_and_what_the_list_holds() {
    let d = Remote.describe();
    assert!(d.auth.contains(&AuthScheme::Bearer));
    assert!(d.auth.contains(&AuthScheme::OauthRefreshToken));
    assert_eq!(d.listing.facts, vec![Fact::DisplayName, Fact::WorkEmail]);
    assert!(d.listing.has_status);
    assert!(
        d.fields
            .iter()
            .all(|f| f.name != "start_date" && f.name != "first_name")
    );
}

#[test]
fn a_bad_date_names_the_record_and_the_field() {
    let harness = Harness::new().route(Method::Get, "/v1/employments/e-9", |_| {
        let mut e = employment("e-9", "A B", "active");
        e["provisional_start_date"] = json!("next monday");
        Reply::json(200, &json!({"data": {"employment": e}}))
    });
    match harness.run(|| Remote.get("e-9")) {
        Err(Error::InvalidData(r)) => {
            assert_eq!(r.record_id.as_deref(), Some("e-9"));
            assert_eq!(r.field.as_deref(), Some("provisional_start_date"));
        }
        other => panic!("expected invalid data, got {other:?}"),
    }
}

#[test]
fn ids_cannot_escape_the_path() {
    let harness = Harness::new();
    assert!(harness.run(|| Remote.get("../../admin")).is_err());
    assert!(harness.requests().is_empty());
}

#[test]
fn http_errors_become_typed_errors() {
    let harness = Harness::new()
        .route(Method::Get, "/v1/employments/e-401", |_| {
            Reply::json(401, &json!({"message": "Unauthorized"}))
        })
        .route(Method::Get, "/v1/employments/e-429", |_| {
            Reply::raw(
                429,
                &[("x-ratelimit-reset", "1500")],
                br#"{"message":"Too many requests"}"#,
            )
        })
        .route(Method::Get, "/v1/employments/e-500", |_| {
            Reply::json(500, &json!({"message": "boom"}))
        });
    assert!(matches!(
        harness.run(|| Remote.get("e-401")),
        Err(Error::Auth(_))
    ));
    assert_eq!(
        harness.run(|| Remote.get("e-429")).err(),
        Some(Error::RateLimited(1500))
    );
    assert!(
        matches!(harness.run(|| Remote.get("e-500")), Err(Error::Remote(r)) if r.status == 500)
    );
}

#[test]
fn lifecycle_table() {
    assert_eq!(lifecycle("invited"), Lifecycle::PreHire);
    assert_eq!(lifecycle("active"), Lifecycle::Active);
    assert_eq!(lifecycle("offboarding"), Lifecycle::Leaving);
    assert_eq!(lifecycle("archived"), Lifecycle::Terminated);
    assert_eq!(lifecycle("frozen"), Lifecycle::Unknown);
}

#[test]
fn name_split() {
    assert_eq!(split_name("Sukarno"), (Some("Sukarno".into()), None));
    assert_eq!(
        split_name("  José   Müller "),
        (Some("José".into()), Some("Müller".into()))
    );
    assert_eq!(
        split_name("Maria da Graça Souza Lima"),
        (Some("Maria".into()), Some("da Graça Souza Lima".into()))
    );
    assert_eq!(split_name(""), (None, None));
}

mod webhooks {
    use super::*;
    use crate::webhooks::parse;
    use hmac::{Hmac, Mac};

    const KEY: &[u8] = b"whsec-test";

    fn signed(body: &str, ts: i64, key: &[u8]) -> WebhookRequest {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
        mac.update(format!("{body}:{ts}").as_bytes());
        WebhookRequest {
            headers: vec![
                (
                    "x-remote-signature".into(),
                    hex::encode(mac.finalize().into_bytes()),
                ),
                ("x-remote-timestamp".into(), ts.to_string()),
            ],
            body: body.as_bytes().to_vec(),
        }
    }

    fn harness() -> Harness {
        Harness::new().secret("webhook_secret", KEY)
    }

    const NOW: i64 = 1_790_000_000_000;

    #[test]
    fn a_good_delivery_becomes_an_event() {
        let body =
            r#"{"event_type":"employment.details.updated","company_id":"c","employment_id":"e-1"}"#;
        let events = harness()
            .run(|| parse(&signed(body, NOW - 1000, KEY), NOW))
            .unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].kind, EventKind::Updated);
        assert_eq!(events[0].person_id.as_deref(), Some("e-1"));
        assert_eq!(
            events[0].dedupe_key,
            format!("employment.details.updated:e-1:{}", NOW - 1000)
        );
    }

    #[test]
    fn wrong_key_missing_header_and_stale_timestamp_are_refused() {
        let body = r#"{"event_type":"employment.updated","employment_id":"e-1"}"#;
        let h = harness();
        assert!(matches!(
            h.run(|| parse(&signed(body, NOW, b"other"), NOW)),
            Err(WebhookError::BadSignature(_))
        ));
        let mut unsigned = signed(body, NOW, KEY);
        unsigned.headers.remove(0);
        assert!(matches!(
            h.run(|| parse(&unsigned, NOW)),
            Err(WebhookError::BadSignature(_))
        ));
        let old = NOW - 6 * 60 * 1000;
        assert!(matches!(
            h.run(|| parse(&signed(body, old, KEY), NOW)),
            Err(WebhookError::Stale(_))
        ));
        let mut tampered = signed(body, NOW, KEY);
        tampered.body = br#"{"event_type":"employment.updated","employment_id":"e-2"}"#.to_vec();
        assert!(matches!(
            h.run(|| parse(&tampered, NOW)),
            Err(WebhookError::BadSignature(_))
        ));
    }

    #[test]
    fn unknown_event_types_are_reported_not_dropped() {
        let body = r#"{"event_type":"employment.teleported","employment_id":"e-1"}"#;
        let h = harness();
        let events = h.run(|| parse(&signed(body, NOW, KEY), NOW)).unwrap();
        assert_eq!(events[0].kind, EventKind::Unrecognized);
        assert_eq!(events[0].source_type, "employment.teleported");
        assert!(
            h.logs()
                .iter()
                .any(|(_, m)| m.contains("employment.teleported"))
        );
    }

    #[test]
    fn every_documented_event_is_declared() {
        let d = Remote.describe();
        assert!(
            d.events
                .iter()
                .any(|e| e == "contract.termination_date_reached")
        );
        assert_eq!(d.contract_version, hrsync_sdk::CONTRACT_VERSION);
    }
}

#[test]
fn update_employment_patches_only_given_fields() {
    let harness = Harness::new().route(Method::Patch, "/v1/employments/e-1", |req| {
        let body: serde_json::Value = serde_json::from_slice(req.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"employment": {"work_email": "a@corp.example", "external_id": null}})
        );
        Reply::json(200, &json!({"data": {"employment": {"id": "e-1"}}}))
    });
    let params = vec![
        Field {
            name: "employment_id".into(),
            value: FieldValue::Text("e-1".into()),
        },
        Field {
            name: "work_email".into(),
            value: FieldValue::Text("a@corp.example".into()),
        },
        Field {
            name: "external_id".into(),
            value: FieldValue::Text(String::new()),
        },
    ];
    let out = harness
        .run(|| Remote.invoke("update-employment", &params))
        .unwrap();
    assert!(out.summary.contains("work_email"));
    assert_eq!(harness.requests().len(), 1);
}
