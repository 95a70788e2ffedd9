//! The connector's logic under the SDK's native harness: canned BambooHR answers, no host.
#![allow(clippy::unwrap_used, clippy::panic)]

use hmac::{Hmac, Mac};
use hrsync_sdk::http::Method;
use hrsync_sdk::prelude::*;
use hrsync_sdk::testing::{Harness, Reply};
use serde_json::{Value, json};

use crate::Bamboohr;
use crate::mapping::lifecycle;

const REPORT: &str = "/api/gateway.php/acme/v1/reports/custom";

fn employee(id: &str, first: &str, last: &str, status: &str) -> Value {
    json!({
        "id": id, "employeeNumber": format!("10{id}"), "firstName": first, "middleName": null,
        "lastName": last, "preferredName": null, "displayName": format!("{first} {last}"),
        "workEmail": format!("{}@example.com", first.to_lowercase()), "jobTitle": "Engineer",
        "department": "Engineering", "division": "Product", "location": "London",
        "status": status, "employmentHistoryStatus": "Full-Time", "hireDate": "2020-01-06",
        "terminationDate": "0000-00-00", "supervisorEId": "1", "supervisorId": "101",
        "supervisor": "Margaret Okonkwo-Reyes", "lastChanged": "2026-01-01T10:00:00+00:00"
    })
}

fn harness_with_report(employees: Vec<Value>) -> Harness {
    Harness::new()
        .setting("company_domain", "acme")
        .route(Method::Post, REPORT, move |_| {
            Reply::json(
                200,
                &json!({"title": "hrsync", "fields": [], "employees": employees}),
            )
        })
}

fn field<'a>(p: &'a Person, name: &str) -> &'a FieldValue {
    &p.fields.iter().find(|f| f.name == name).unwrap().value
}

fn text(s: &str) -> FieldValue {
    FieldValue::Text(s.to_string())
}

#[test]
fn the_listing_is_one_custom_report_of_everybody_with_every_fact() {
    let mut leaver = employee("7", "Robert", "Smith", "Inactive");
    leaver["terminationDate"] = json!("2026-10-31");
    leaver["employmentHistoryStatus"] = json!("Terminated");
    let mut sparse = employee("12", "Mary-Kate", "D'Angelo", "Active");
    sparse["hireDate"] = json!("0000-00-00");
    sparse["workEmail"] = json!(null);
    sparse["employeeNumber"] = json!(null);
    let harness = harness_with_report(vec![
        employee("2", "Jean-Luc", "de la Fontaine", "Active"),
        leaver,
        sparse,
    ]);
    let page = harness.run(|| Bamboohr.list(None)).unwrap();
    assert_eq!(page.people.len(), 3);
    assert!(page.rejected.is_empty());
    assert_eq!(page.next_cursor, None, "one page");
    assert_eq!(page.total, Some(3));

    // The request: one POST with every field, JSON, inactive people and pre-hires included.
    let sent = harness.requests();
    assert_eq!(sent.len(), 1);
    let r = &sent[0];
    assert_eq!((r.method, r.path.as_str()), (Method::Post, REPORT));
    assert!(r.query.contains(&("format".into(), "JSON".into())));
    assert!(r.query.contains(&("onlyCurrent".into(), "false".into())));
    assert!(
        r.headers
            .contains(&("accept".into(), "application/json".into()))
    );
    let body: Value = serde_json::from_slice(r.body.as_deref().unwrap()).unwrap();
    let asked: Vec<&str> = body["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for f in [
        "firstName",
        "lastName",
        "status",
        "hireDate",
        "terminationDate",
        "supervisorEId",
        "workEmail",
    ] {
        assert!(asked.contains(&f), "{f} is asked for");
    }
    assert!(
        r.headers
            .iter()
            .all(|(k, _)| !k.eq_ignore_ascii_case("authorization")),
        "the host attaches the credential"
    );

    let vp = &page.people[0];
    assert_eq!(vp.id, "2");
    assert_eq!(
        (vp.status, vp.source_status.as_str()),
        (Lifecycle::Active, "Active")
    );
    assert_eq!(vp.given_name.as_deref(), Some("Jean-Luc"));
    assert_eq!(vp.family_name.as_deref(), Some("de la Fontaine"));
    assert_eq!(vp.display_name.as_deref(), Some("Jean-Luc de la Fontaine"));
    assert_eq!(vp.work_email.as_deref(), Some("jean-luc@example.com"));
    assert_eq!(vp.start_date.as_deref(), Some("2020-01-06"));
    assert_eq!(vp.end_date, None, "0000-00-00 is no date");
    assert_eq!(vp.manager_id.as_deref(), Some("1"));
    assert_eq!(field(vp, "department"), &text("Engineering"));
    assert_eq!(field(vp, "employee_number"), &text("102"));
    assert_eq!(
        field(vp, "supervisor_name"),
        &text("Margaret Okonkwo-Reyes")
    );
    assert!(!vp.complete);
    // Facts are never fields too.
    assert!(vp.fields.iter().all(|f| {
        !["first_name", "work_email", "hire_date", "manager_id"].contains(&f.name.as_str())
    }));
    let raw: Value = serde_json::from_str(vp.raw.as_deref().unwrap()).unwrap();
    assert_eq!(raw["division"], "Product");

    let gone = &page.people[1];
    assert_eq!(gone.status, Lifecycle::Terminated);
    assert_eq!(gone.end_date.as_deref(), Some("2026-10-31"));
    assert_eq!(field(gone, "employment_status"), &text("Terminated"));

    let sparse = &page.people[2];
    assert_eq!(sparse.start_date, None);
    assert_eq!(sparse.work_email, None);
    assert_eq!(field(sparse, "employee_number"), &FieldValue::Null);
}

#[test]
fn a_bad_record_is_rejected_alone_naming_the_bamboohr_field() {
    let mut bad_date = employee("3", "Siobhán", "O'Brien", "Active");
    bad_date["hireDate"] = json!("06/01/2020");
    let no_id = json!({"firstName": "No", "lastName": "Id", "status": "Active"});
    let no_names = json!({"id": "4", "firstName": null, "lastName": "  ", "status": "Active"});
    let harness = harness_with_report(vec![
        bad_date,
        no_id,
        no_names,
        employee("5", "Zoë", "Ødegård", "Active"),
    ]);
    let page = harness.run(|| Bamboohr.list(None)).unwrap();
    assert_eq!(page.people.len(), 1);
    assert_eq!(page.people[0].id, "5");
    let rejected: Vec<(Option<&str>, Option<&str>)> = page
        .rejected
        .iter()
        .map(|r| (r.record_id.as_deref(), r.field.as_deref()))
        .collect();
    assert_eq!(
        rejected,
        vec![
            (Some("3"), Some("hireDate")),
            (None, Some("id")),
            (Some("4"), Some("firstName")),
        ]
    );
    assert!(
        page.rejected[0].message.contains("06/01/2020"),
        "{}",
        page.rejected[0].message
    );
}

#[test]
fn the_status_table_and_dates_are_facts_without_a_clock() {
    assert_eq!(lifecycle("Active"), Lifecycle::Active);
    assert_eq!(lifecycle("Inactive"), Lifecycle::Terminated);
    assert_eq!(lifecycle("inactive "), Lifecycle::Terminated);
    assert_eq!(lifecycle("On Leave"), Lifecycle::Unknown);
    assert_eq!(lifecycle(""), Lifecycle::Unknown);

    // A pre-hire is Active with a future hire date: reported as is, hrsync decides.
    let mut pre = employee("9", "Kenji", "Watanabe", "Active");
    pre["hireDate"] = json!("2099-01-04");
    // Leaving: still Active, with a termination date.
    let mut leaving = employee("8", "Aisha", "Al-Farsi", "Active");
    leaving["terminationDate"] = json!("2099-01-31");
    // A rehire: Active again, the old termination date still on the record.
    let mut rehired = employee("20", "Ben", "Brown", "Active");
    rehired["hireDate"] = json!("2025-03-01");
    rehired["terminationDate"] = json!("2024-06-30");
    // Inactive keeps its termination date whatever the hire date.
    let mut inactive = employee("21", "Olga", "Ivanova", "Inactive");
    inactive["hireDate"] = json!("2025-03-01");
    inactive["terminationDate"] = json!("2024-06-30");
    let mut no_status = employee("22", "Uma", "Patel", "Active");
    no_status["status"] = json!(null);
    let harness = harness_with_report(vec![pre, leaving, rehired, inactive, no_status]);
    let page = harness.run(|| Bamboohr.list(None)).unwrap();
    let p = |id: &str| page.people.iter().find(|p| p.id == id).unwrap();
    assert_eq!(p("9").status, Lifecycle::Active);
    assert_eq!(p("9").start_date.as_deref(), Some("2099-01-04"));
    assert_eq!(p("8").status, Lifecycle::Active);
    assert_eq!(p("8").end_date.as_deref(), Some("2099-01-31"));
    assert_eq!(
        p("20").end_date,
        None,
        "an earlier employment's termination"
    );
    assert_eq!(p("21").end_date.as_deref(), Some("2024-06-30"));
    assert_eq!(p("22").status, Lifecycle::Unknown);
}

#[test]
fn get_reads_one_employee_with_every_field_and_future_job_rows() {
    let harness = Harness::new()
        .setting("company_domain", "acme")
        .setting("extra_fields", "customShirtSize, 4021,,firstName")
        .route(Method::Get, "/api/gateway.php/acme/v1/employees/9", |_| {
            let mut e = employee("9", "Kenji", "Watanabe", "Active");
            e["customShirtSize"] = json!("M");
            Reply::json(200, &e)
        });
    let p = harness.run(|| Bamboohr.get("9")).unwrap();
    assert!(p.complete);
    assert_eq!(p.manager_id.as_deref(), Some("1"));
    let raw: Value = serde_json::from_str(p.raw.as_deref().unwrap()).unwrap();
    assert_eq!(raw["customShirtSize"], "M");
    let r = &harness.requests()[0];
    assert!(r.query.contains(&("onlyCurrent".into(), "false".into())));
    let fields = &r.query.iter().find(|(k, _)| k == "fields").unwrap().1;
    assert!(fields.starts_with("employeeNumber,firstName,"), "{fields}");
    assert!(
        fields.ends_with(",lastChanged,customShirtSize,4021"),
        "{fields}"
    );
}

#[test]
fn ids_and_the_company_domain_stay_in_their_path_segment() {
    let harness = Harness::new().setting("company_domain", "ac/me").route(
        Method::Get,
        "/api/gateway.php/ac%2Fme/v1/employees/..%2F1%3Fx",
        |_| Reply::json(200, &employee("1", "A", "B", "Active")),
    );
    assert!(harness.run(|| Bamboohr.get("../1?x")).is_ok());
}

#[test]
fn error_answers_carry_bamboohr_s_error_header() {
    let unauthorized =
        Harness::new()
            .setting("company_domain", "acme")
            .route(Method::Post, REPORT, |_| {
                Reply::raw(401, &[("X-BambooHR-Error-Message", "Invalid API key")], b"")
            });
    match unauthorized.run(|| Bamboohr.list(None)) {
        Err(Error::Auth(m)) => assert!(m.contains("Invalid API key"), "{m}"),
        other => panic!("expected auth, got {other:?}"),
    }

    let throttled =
        Harness::new()
            .setting("company_domain", "acme")
            .route(Method::Post, REPORT, |_| {
                Reply::raw(503, &[("Retry-After", "7")], b"")
            });
    assert_eq!(
        throttled.run(|| Bamboohr.list(None)).err(),
        Some(Error::RateLimited(7000))
    );

    let missing = Harness::new().setting("company_domain", "acme").route(
        Method::Get,
        "/api/gateway.php/acme/v1/employees/404",
        |_| {
            Reply::raw(
                404,
                &[("X-BambooHR-Error-Message", "Employee not found")],
                b"",
            )
        },
    );
    match missing.run(|| Bamboohr.get("404")) {
        Err(Error::Remote(RemoteFailure { status, message })) => {
            assert_eq!(status, 404);
            assert!(message.contains("Employee not found"), "{message}");
        }
        other => panic!("expected remote, got {other:?}"),
    }
}

#[test]
fn settings_are_checked_before_any_request() {
    let none = Harness::new();
    match none.run(|| Bamboohr.list(None)) {
        Err(Error::Other(m)) => assert!(m.contains("company_domain"), "{m}"),
        other => panic!("expected a settings error, got {other:?}"),
    }
    let bad = Harness::new()
        .setting("company_domain", "acme")
        .setting("extra_fields", "customShirt Size");
    match bad.run(|| Bamboohr.list(None)) {
        Err(Error::Other(m)) => assert!(m.contains("customShirt Size"), "{m}"),
        other => panic!("expected a settings error, got {other:?}"),
    }
    assert!(none.requests().is_empty() && bad.requests().is_empty());
    let paged = harness_with_report(vec![]);
    assert!(matches!(
        paged.run(|| Bamboohr.list(Some("2".into()))),
        Err(Error::Other(_))
    ));
}

#[test]
fn an_empty_company_is_an_empty_page() {
    let harness =
        Harness::new()
            .setting("company_domain", "acme")
            .route(Method::Post, REPORT, |_| {
                Reply::json(200, &json!({"title": "hrsync", "fields": []}))
            });
    let page = harness.run(|| Bamboohr.list(None)).unwrap();
    assert!(page.people.is_empty() && page.rejected.is_empty());
}

#[test]
fn the_descriptor_declares_basic_auth_and_a_list_as_full_as_a_detail() {
    let d = Bamboohr.describe();
    assert_eq!(
        d.auth,
        vec![AuthScheme::Basic(BasicAuth {
            secret_as: BasicPart::Username,
            other: Some("x".into()),
        })]
    );
    assert_eq!(d.listing.facts.len(), 7);
    assert!(d.listing.has_status);
    assert!(!d.listing.changes);
    assert!(d.fields.iter().any(|f| f.name == "department"));
    assert!(d.events.iter().any(|e| e == "Updated"));
}

// ---------------------------------------------------------------------------------------------
// Webhooks
// ---------------------------------------------------------------------------------------------

const KEY: &[u8] = b"bamboo-private-key";

fn signed(body: &Value, ts: &str) -> WebhookRequest {
    let body = body.to_string().into_bytes();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(KEY).unwrap();
    mac.update(&body);
    mac.update(ts.as_bytes());
    let sig = hex::encode(mac.finalize().into_bytes());
    WebhookRequest {
        headers: vec![
            ("x-bamboohr-signature".into(), sig),
            ("x-bamboohr-timestamp".into(), ts.into()),
            ("content-type".into(), "application/json".into()),
        ],
        body,
    }
}

const NOW: i64 = 1_790_000_000;

#[test]
fn a_signed_delivery_gives_one_event_per_employee() {
    let body = json!({"employees": [
        {"id": "7", "action": "Updated", "timestamp": "2026-09-21T10:00:00+00:00",
         "changedFields": ["Job Title"], "fields": {"Job Title": "CTO"}},
        {"id": "8", "action": "Updated", "changedFields": ["Status"], "fields": {}},
        {"id": "9", "action": "Created", "changedFields": [], "fields": {}},
        {"id": "10", "action": "Deleted", "changedFields": [], "fields": {}},
        {"id": "11", "action": "Archived"},
    ]});
    let request = signed(&body, &NOW.to_string());
    let harness = Harness::new().secret("webhook_secret", KEY);
    let events = harness.run(|| webhooks_parse(&request, NOW + 30)).unwrap();
    let kinds: Vec<(Option<&str>, EventKind)> = events
        .iter()
        .map(|e| (e.person_id.as_deref(), e.kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (Some("7"), EventKind::Updated),
            (Some("8"), EventKind::StatusChanged),
            (Some("9"), EventKind::Hired),
            (Some("10"), EventKind::Deleted),
            (Some("11"), EventKind::Unrecognized),
        ]
    );
    assert_eq!(events[0].dedupe_key, "Updated:7:2026-09-21T10:00:00+00:00");
    assert_eq!(events[1].dedupe_key, format!("Updated:8:{NOW}"));
    // A redelivery has the same keys.
    let again = harness.run(|| webhooks_parse(&request, NOW + 60)).unwrap();
    assert_eq!(
        again.iter().map(|e| &e.dedupe_key).collect::<Vec<_>>(),
        events.iter().map(|e| &e.dedupe_key).collect::<Vec<_>>()
    );
}

#[test]
fn a_permissioned_webhook_names_its_type_at_the_top() {
    let body = json!({"type": "employee.created", "employees": [{"employeeId": 42}]});
    let harness = Harness::new().secret("webhook_secret", KEY);
    let events = harness
        .run(|| webhooks_parse(&signed(&body, &NOW.to_string()), NOW))
        .unwrap();
    assert_eq!(events[0].person_id.as_deref(), Some("42"));
    assert_eq!(events[0].kind, EventKind::Hired);
    assert_eq!(events[0].source_type, "employee.created");
}

#[test]
fn bad_stale_or_unsigned_deliveries_are_refused() {
    let harness = Harness::new().secret("webhook_secret", KEY);
    let body = json!({"employees": [{"id": "7", "action": "Updated"}]});

    let mut tampered = signed(&body, &NOW.to_string());
    tampered.body = br#"{"employees": [{"id": "1", "action": "Deleted"}]}"#.to_vec();
    assert!(matches!(
        harness.run(|| webhooks_parse(&tampered, NOW)),
        Err(WebhookError::BadSignature(_))
    ));

    let stale = signed(&body, &(NOW - 301).to_string());
    assert!(matches!(
        harness.run(|| webhooks_parse(&stale, NOW)),
        Err(WebhookError::Stale(_))
    ));

    let mut unsigned = signed(&body, &NOW.to_string());
    unsigned
        .headers
        .retain(|(k, _)| k != "x-bamboohr-signature");
    assert!(matches!(
        harness.run(|| webhooks_parse(&unsigned, NOW)),
        Err(WebhookError::BadSignature(_))
    ));

    let form = WebhookRequest {
        body: b"employees[7][action]=Updated".to_vec(),
        ..signed(&body, &NOW.to_string())
    };
    // Re-sign the form body so only its format is at fault.
    let form = {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(KEY).unwrap();
        mac.update(&form.body);
        mac.update(NOW.to_string().as_bytes());
        let mut f = form;
        f.headers[0].1 = hex::encode(mac.finalize().into_bytes());
        f
    };
    match harness.run(|| webhooks_parse(&form, NOW)) {
        Err(WebhookError::Malformed(m)) => assert!(m.contains("JSON"), "{m}"),
        other => panic!("expected malformed, got {other:?}"),
    }

    let no_secret = Harness::new();
    assert!(matches!(
        no_secret.run(|| webhooks_parse(&signed(&body, &NOW.to_string()), NOW)),
        Err(WebhookError::Other(_))
    ));
}

fn webhooks_parse(request: &WebhookRequest, now: i64) -> Result<Vec<HrEvent>, WebhookError> {
    crate::webhooks::parse(request, now)
}
