#![allow(clippy::unwrap_used)]

use serde_json::json;

use super::*;
use crate::config::rest::RawRest;

fn definition(extra: &str) -> RestDefinition {
    let text = format!(
        "list = {{ path = \"/people\", records = \"/data\" }}\n\
         status = {{ pointer = \"/employment/state\", map = {{ Hired = \"pre-hire\", Active = \"active\", \"On notice\" = \"leaving\", Gone = \"terminated\" }} }}\n{extra}"
    );
    let raw: RawRest = toml::from_str(&text).unwrap();
    RestDefinition::parse(raw).unwrap()
}

fn map(d: &RestDefinition, record: &Json) -> Result<Person, Rejected> {
    let settings = BTreeMap::from([("domain".to_string(), "example.com".to_string())]);
    person(d, &Templates::new(), &settings, record, true)
}

const FACTS: &str = "start_date = \"/employment/start\"\n\
    end_date = \"employment.end\"\n\
    manager_id = \"/manager/id\"\n\
    given_name = \"/first\"\n\
    family_name = \"/last\"\n\
    display_name = \"{{ record.first }} {{ record.last }}\"\n\
    work_email = \"{{ record.login }}@{{ settings.domain }}\"\n";

#[test]
fn a_record_maps_to_a_person_with_its_facts_and_every_field() {
    let d = definition(FACTS);
    let p = map(
        &d,
        &json!({
            "id": 17,
            "first": "Ada",
            "last": "Lovelace",
            "login": "ada",
            "employment": {"state": "Active", "start": "2024-03-01T00:00:00Z", "end": null},
            "manager": {"id": "3"},
            "tags": ["a", "b"]
        }),
    )
    .unwrap();
    assert_eq!(p.id, "17");
    assert_eq!(p.status, Lifecycle::Active);
    assert_eq!(p.source_status, "Active");
    assert_eq!(p.facts.start_date.as_deref(), Some("2024-03-01"));
    assert_eq!(p.facts.end_date, None);
    assert_eq!(p.facts.manager_id.as_deref(), Some("3"));
    assert_eq!(p.facts.given_name.as_deref(), Some("Ada"));
    assert_eq!(p.facts.family_name.as_deref(), Some("Lovelace"));
    assert_eq!(p.facts.display_name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(p.facts.work_email.as_deref(), Some("ada@example.com"));
    assert_eq!(p.fields["login"], FieldValue::Text("ada".into()));
    assert_eq!(
        p.fields["employment.state"],
        FieldValue::Text("Active".into())
    );
    assert_eq!(p.fields["manager.id"], FieldValue::Text("3".into()));
    assert_eq!(
        p.fields["tags"],
        FieldValue::TextList(vec!["a".into(), "b".into()])
    );
    assert!(p.complete);
    assert!(p.raw.is_some());
}

#[test]
fn status_words_map_and_unknown_words_are_unknown() {
    let d = definition("");
    let status = |word: Json| {
        map(&d, &json!({"id": "1", "employment": {"state": word}}))
            .unwrap()
            .status
    };
    assert_eq!(status(json!("Hired")), Lifecycle::PreHire);
    assert_eq!(status(json!("On notice")), Lifecycle::Leaving);
    assert_eq!(status(json!("gone")), Lifecycle::Terminated);
    assert_eq!(status(json!("Sabbatical")), Lifecycle::Unknown);
    assert_eq!(status(json!(null)), Lifecycle::Unknown);
    let p = map(&d, &json!({"id": "1"})).unwrap();
    assert_eq!(
        (p.status, p.source_status.as_str()),
        (Lifecycle::Unknown, "")
    );
}

#[test]
fn a_listed_set_of_fields_only() {
    let d = definition("fields = [\"department\", \"team.name\", \"missing\"]\n");
    let p = map(
        &d,
        &json!({"id": "1", "department": "R&D", "team": {"name": "Core", "size": 4}, "salary": 1}),
    )
    .unwrap();
    assert_eq!(
        p.fields.keys().collect::<Vec<_>>(),
        ["department", "missing", "team.name"]
    );
    assert_eq!(p.fields["team.name"], FieldValue::Text("Core".into()));
    assert_eq!(p.fields["missing"], FieldValue::Null);
}

#[test]
fn bad_records_are_rejected_naming_the_field() {
    let d = definition(FACTS);
    let r = map(&d, &json!({"name": "no id"})).unwrap_err();
    assert_eq!(r.record_id, None);
    assert!(r.message.contains("/id"), "{r}");
    let r = map(
        &d,
        &json!({"id": "9", "employment": {"start": "01.03.2024"}}),
    )
    .unwrap_err();
    assert_eq!(r.record_id.as_deref(), Some("9"));
    assert_eq!(r.field.as_deref(), Some("start_date"));
    assert!(r.message.contains("01.03.2024"), "{r}");
    let r = map(&d, &json!({"id": "9", "employment": {"end": "2024-02-30"}})).unwrap_err();
    assert_eq!(r.field.as_deref(), Some("end_date"));
}

#[test]
fn dates_are_days() {
    assert_eq!(date("2024-03-01").as_deref(), Some("2024-03-01"));
    assert_eq!(
        date("2024-03-01T10:00:00+02:00").as_deref(),
        Some("2024-03-01")
    );
    assert_eq!(date("2024-03-01x"), None);
    assert_eq!(date("2024-3-1"), None);
}

#[test]
fn about_lists_the_mapped_fields() {
    let d = definition(&format!("{FACTS}fields = [\"department\"]\n"));
    let rest = Rest::new(
        d,
        Arc::new(Refuse),
        "http://127.0.0.1/".parse().unwrap(),
        BTreeMap::new(),
    );
    let about = rest.about("hr");
    let names: Vec<&str> = about.fields.iter().map(|f| f.name.as_str()).collect();
    assert!(names.contains(&"status") && names.contains(&"start_date"));
    assert!(names.contains(&"work_email") && names.contains(&"department"));
    assert!(about.actions.is_empty());
    let listing = rest.listing();
    assert!(listing.has_status);
    assert_eq!(listing.facts.len(), 7);
}

struct Refuse;

impl HttpBackend for Refuse {
    fn send(
        &self,
        _: crate::runtime::wit::HttpRequest,
    ) -> crate::runtime::BoxFuture<
        '_,
        Result<crate::runtime::wit::HttpResponse, crate::runtime::wit::HttpError>,
    > {
        Box::pin(async {
            Err(crate::runtime::wit::HttpError::Denied(
                "no requests in this test".into(),
            ))
        })
    }
}
