//! Remote's employment JSON → an hrsync person.

use hrsync_sdk::prelude::*;
use serde_json::Value;

/// The fields this connector yields besides the typed facts: name, kind, description, example.
///
/// The facts: `display_name` (Remote's `full_name`), `given_name` and `family_name`
/// (`basic_information`, or split from `full_name` in a detail), `work_email`, `start_date`
/// (`provisional_start_date`, detail only), `manager_id` (`manager_employment_id`, detail only)
/// and `end_date` (the termination date of the employment's offboarding, detail only).
pub const FIELDS: &[(&str, FieldKind, &str, &str)] = &[
    (
        "id",
        FieldKind::Text,
        "Employment id (the primary key)",
        "8a7a1b0e-3f9c-4a55-9d2e-0c1f5e2b7d11",
    ),
    (
        "short_id",
        FieldKind::Text,
        "Remote's short employment id",
        "A1B2C3",
    ),
    (
        "personal_email",
        FieldKind::Text,
        "Personal email",
        "jose@example.org",
    ),
    (
        "login_email",
        FieldKind::Text,
        "Email the person signs in to Remote with",
        "jose@example.org",
    ),
    ("job_title", FieldKind::Text, "Job title", "Staff Engineer"),
    (
        "department",
        FieldKind::Text,
        "Department name",
        "Engineering",
    ),
    ("department_id", FieldKind::Text, "Department id", "d-12"),
    (
        "country_code",
        FieldKind::Text,
        "Country, ISO 3166 alpha-2",
        "DE",
    ),
    (
        "country_code3",
        FieldKind::Text,
        "Country, ISO 3166 alpha-3",
        "DEU",
    ),
    ("country_name", FieldKind::Text, "Country name", "Germany"),
    (
        "type",
        FieldKind::Text,
        "employee, contractor, …",
        "employee",
    ),
    (
        "employment_model",
        FieldKind::Text,
        "eor, peo or global_payroll",
        "eor",
    ),
    (
        "lifecycle_stage",
        FieldKind::Text,
        "Remote's employment_lifecycle_stage",
        "onboarded",
    ),
    (
        "seniority_date",
        FieldKind::Date,
        "Seniority date (detail only)",
        "2026-01-05",
    ),
    (
        "manager_email",
        FieldKind::Text,
        "The manager's email (detail only)",
        "ceo@corp.example",
    ),
    (
        "manager_name",
        FieldKind::Text,
        "The manager's name (detail only)",
        "Ada Lovelace",
    ),
    (
        "external_id",
        FieldKind::Text,
        "External id (writable back)",
        "jmuller",
    ),
    (
        "partner_external_id",
        FieldKind::Text,
        "Partner external id",
        "P-1",
    ),
    (
        "user_status",
        FieldKind::Text,
        "Remote account status (detail only)",
        "active",
    ),
    (
        "company_id",
        FieldKind::Text,
        "Company id (detail only)",
        "c-1",
    ),
    (
        "updated_at",
        FieldKind::Text,
        "Last change in Remote (detail only)",
        "2026-11-20T10:00:00Z",
    ),
];

/// Remote's `status` → lifecycle, the documented table:
///
/// | Remote status | lifecycle |
/// | --- | --- |
/// | `pre_hire`, `created`, `created_awaiting_reserve`, `created_reserve_paid`, `initiated`, `invited`, `pending`, `review`, `job_title_review`, `pending_post_self_enrollment_actions` | pre-hire |
/// | `active` | active |
/// | `offboarding` | leaving |
/// | `archived`, `deleted` | terminated |
/// | anything else | unknown (never a reason to disable) |
pub fn lifecycle(status: &str) -> Lifecycle {
    match status {
        "pre_hire"
        | "created"
        | "created_awaiting_reserve"
        | "created_reserve_paid"
        | "initiated"
        | "invited"
        | "pending"
        | "review"
        | "job_title_review"
        | "pending_post_self_enrollment_actions" => Lifecycle::PreHire,
        "active" => Lifecycle::Active,
        "offboarding" => Lifecycle::Leaving,
        "archived" | "deleted" => Lifecycle::Terminated,
        _ => Lifecycle::Unknown,
    }
}

/// Splits a full name when Remote gives no `basic_information` names.
///
/// White space is collapsed. One word: the first name is that word and there is no last name
/// (templates can fall back with `default`). Two or more words: the first word is the first name
/// and the rest, as written, the last name ("Maria da Graça Souza" → "Maria" / "da Graça Souza").
pub fn split_name(full_name: &str) -> (Option<String>, Option<String>) {
    let mut words = full_name.split_whitespace();
    let first = words.next().map(str::to_string);
    let rest: Vec<&str> = words.collect();
    let last = (!rest.is_empty()).then(|| rest.join(" "));
    (first, last)
}

/// The facts a list item carries whenever Remote has them (the rest come with the detail).
/// Remote's list items have no name parts, so given and family names are not among them.
pub const LIST_FACTS: &[Fact] = &[Fact::DisplayName, Fact::WorkEmail];

/// Maps one employment (list item or detail) to a person, or says why it cannot. A detail's end
/// date is added by [`crate::offboardings::end_date`].
pub fn person(e: &Value, complete: bool) -> Result<Person, InvalidRecord> {
    let id = match e["id"].as_str() {
        Some(id) if !id.trim().is_empty() => id,
        _ => {
            let hint = e["short_id"].as_str();
            return Err(invalid(hint, Some("id"), "the employment has no `id`"));
        }
    };
    let Some(status) = e["status"].as_str() else {
        return Err(invalid(
            Some(id),
            Some("status"),
            "the employment has no `status`",
        ));
    };
    let full_name = e["full_name"].as_str().filter(|s| !s.trim().is_empty());
    let basic = &e["basic_information"];
    let given = text_of(basic, &["given_name", "first_name"]);
    let surname = text_of(basic, &["surname", "last_name", "family_name"]);
    let (first_name, last_name) = match (given, surname) {
        (Some(g), s) => (Some(g.to_string()), s.map(str::to_string)),
        // A list record has no name parts: splitting `full_name` would be a guess (wrong for
        // family-name-first countries and many-part names), and write-once rules must never be
        // built from a guess. The host waits for the detail instead.
        (None, _) if !complete && full_name.is_some() => (None, None),
        (None, _) => match full_name {
            Some(full) => split_name(full),
            None => {
                return Err(invalid(
                    Some(id),
                    Some("full_name"),
                    "the employment has neither `full_name` nor `basic_information` names",
                ));
            }
        },
    };
    let full_name = full_name.map(str::to_string).or_else(|| {
        let joined = [first_name.as_deref(), last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!joined.is_empty()).then_some(joined)
    });

    let s = |k: &str| e[k].as_str();
    let builder = PersonBuilder::new(id, lifecycle(status), status)
        .display_name(full_name.as_deref())
        .given_name(first_name.as_deref())
        .family_name(last_name.as_deref())
        .work_email(s("work_email"))
        .text("id", Some(id))
        .text("short_id", s("short_id"))
        .text("personal_email", s("personal_email"))
        .text("login_email", s("login_email"))
        .text("job_title", s("job_title"))
        .text("department", s("department"))
        .text(
            "department_id",
            string_or_number(&e["department_id"]).as_deref(),
        )
        .text("country_code", e["country"]["alpha_2_code"].as_str())
        .text("country_code3", e["country"]["code"].as_str())
        .text("country_name", e["country"]["name"].as_str())
        .text("type", s("type"))
        .text("employment_model", s("employment_model"))
        .text("lifecycle_stage", s("employment_lifecycle_stage"))
        .text("external_id", s("external_id"))
        .text("partner_external_id", s("partner_external_id"));
    let builder = if complete {
        builder
            .start_date(date_of(e, id, "provisional_start_date")?)?
            .date("seniority_date", date_of(e, id, "seniority_date")?)
            .manager_id(s("manager_employment_id"))
            .text("manager_email", s("manager_email"))
            .text("manager_name", manager_name(&e["manager"]))
            .text("user_status", s("user_status"))
            .text("company_id", s("company_id"))
            .text("updated_at", s("updated_at"))
    } else {
        builder
    };
    Ok(builder.raw(e).complete(complete).build())
}

/// Checks that an id is safe as one path segment.
pub fn path_segment(id: &str) -> Result<&str, Error> {
    let ok = !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(id)
    } else {
        Err(Error::InvalidData(invalid(
            Some(id),
            Some("id"),
            "an employment id has only letters, digits, `-` and `_`",
        )))
    }
}

fn text_of<'a>(v: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| v[*k].as_str())
        .filter(|s| !s.trim().is_empty())
}

fn string_or_number(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The manager is a name in newer answers, an object with a name in some older ones.
fn manager_name(v: &Value) -> Option<&str> {
    v.as_str()
        .or_else(|| v["name"].as_str())
        .or_else(|| v["full_name"].as_str())
}

/// A `YYYY-MM-DD` date field (a timestamp is cut to its date); anything else is invalid data.
fn date_of<'a>(e: &'a Value, id: &str, key: &str) -> Result<Option<&'a str>, InvalidRecord> {
    match &e[key] {
        Value::Null => Ok(None),
        Value::String(s) => {
            let d = s.get(..10).unwrap_or(s);
            if is_date(d) {
                Ok(Some(d))
            } else {
                Err(invalid(
                    Some(id),
                    Some(key),
                    format!("`{s}` is not a date (YYYY-MM-DD)"),
                ))
            }
        }
        other => Err(invalid(
            Some(id),
            Some(key),
            format!("`{other}` is not a date (YYYY-MM-DD)"),
        )),
    }
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}
