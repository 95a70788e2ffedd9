//! A BambooHR employee record (a custom report row or a Get Employee answer) → an hrsync person.
//!
//! BambooHR sends every value as a string or `null`, ids included, and an unset date as
//! `0000-00-00`.

use hrsync_sdk::prelude::*;
use serde_json::Value;

/// What BambooHR sends for a date field that holds no date.
pub const ZERO_DATE: &str = "0000-00-00";

/// The facts every record carries whenever BambooHR has them: the custom report asks for the
/// same fields as a detail, so a list record is as complete as a detail.
pub const LIST_FACTS: &[Fact] = &[
    Fact::StartDate,
    Fact::EndDate,
    Fact::ManagerId,
    Fact::GivenName,
    Fact::FamilyName,
    Fact::DisplayName,
    Fact::WorkEmail,
];

/// The fields besides the typed facts: name, kind, description, example. (The facts:
/// `given_name` = `firstName`, `family_name` = `lastName`, `display_name` = `displayName`,
/// `work_email` = `workEmail`, `start_date` = `hireDate`, `end_date` = `terminationDate`,
/// `manager_id` = `supervisorEId`.)
pub const FIELDS: &[(&str, FieldKind, &str, &str)] = &[
    (
        "employee_number",
        FieldKind::Text,
        "Employee # (`employeeNumber`, the company's own number; not the id)",
        "1042",
    ),
    (
        "middle_name",
        FieldKind::Text,
        "Middle name (`middleName`)",
        "Maria",
    ),
    (
        "preferred_name",
        FieldKind::Text,
        "Preferred name (`preferredName`)",
        "Chema",
    ),
    (
        "job_title",
        FieldKind::Text,
        "Job title (`jobTitle`)",
        "Software Engineer",
    ),
    (
        "department",
        FieldKind::Text,
        "Department (`department`)",
        "Engineering",
    ),
    (
        "division",
        FieldKind::Text,
        "Division (`division`)",
        "Product",
    ),
    (
        "location",
        FieldKind::Text,
        "Location (`location`)",
        "London",
    ),
    (
        "employment_status",
        FieldKind::Text,
        "Employment status (`employmentHistoryStatus`: Full-Time, Contractor, …)",
        "Full-Time",
    ),
    (
        "supervisor_name",
        FieldKind::Text,
        "The supervisor's name (`supervisor`)",
        "Margaret Okonkwo-Reyes",
    ),
    (
        "supervisor_employee_number",
        FieldKind::Text,
        "The supervisor's employee # (`supervisorId`)",
        "1001",
    ),
    (
        "last_changed",
        FieldKind::Text,
        "When BambooHR last changed the record (`lastChanged`)",
        "2026-11-20T10:00:00+00:00",
    ),
];

/// BambooHR's `status` → lifecycle, the documented table (no clock):
///
/// | BambooHR `status` | lifecycle |
/// | --- | --- |
/// | `Active` | active (with a future `hireDate`, hrsync treats the person as a pre-hire; with a `terminationDate`, as a leaver from that day) |
/// | `Inactive` | terminated |
/// | anything else, or none | unknown (never creates, disables or deletes an account) |
///
/// BambooHR has no pre-hire or offboarding status: a new hire is `Active` from the day they are
/// entered, and a leaver stays `Active` until their termination date. hrsync decides both from
/// the dates. (`Active` with a termination date is deliberately *not* mapped to `leaving`: the
/// contract's pre-hire rules apply to `active`, so a fixed-term hire who has not started yet stays
/// a pre-hire.)
pub fn lifecycle(status: &str) -> Lifecycle {
    match status.trim() {
        s if s.eq_ignore_ascii_case("active") => Lifecycle::Active,
        s if s.eq_ignore_ascii_case("inactive") => Lifecycle::Terminated,
        _ => Lifecycle::Unknown,
    }
}

/// A text value: a string (blank is none) or a number (BambooHR sends ids as either).
fn text(record: &Value, key: &str) -> Option<String> {
    ids::from_json(&record[key])
}

/// A BambooHR date: `None` for `null`, blank or `0000-00-00`; otherwise a `YYYY-MM-DD` (a
/// date-time is cut to its date as written), or an invalid record naming the BambooHR field.
pub fn date(record: &Value, id: &str, key: &str) -> Result<Option<String>, InvalidRecord> {
    match &record[key] {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() || s.trim() == ZERO_DATE => Ok(None),
        Value::String(s) => dates::parse(s)
            .map(Some)
            .map_err(|e| invalid(Some(id), Some(key), e.to_string())),
        other => Err(invalid(
            Some(id),
            Some(key),
            format!("`{other}` is not a date (YYYY-MM-DD or 0000-00-00)"),
        )),
    }
}

/// One employee record → a person. `complete` is true for a detail (`get-person`).
///
/// - The id is `id` (an immutable number BambooHR never reuses); a record without one is
///   rejected.
/// - Names: `firstName` and `lastName` as they are (legal names); `displayName` as BambooHR
///   writes it (preferred name first when set), or the two names joined. A record with neither
///   a first nor a last name is rejected.
/// - `hireDate` → `start_date`, `terminationDate` → `end_date`, `0000-00-00` → none. A
///   termination date *before* the hire date belongs to an earlier employment (BambooHR keeps it
///   after a rehire) and is dropped for an `Active` person.
/// - `supervisorEId` → `manager_id` as BambooHR has it (hrsync skips a self-manager and one who
///   has no account, with a note).
pub fn person(record: &Value, complete: bool) -> Result<Person, InvalidRecord> {
    let id = ids::require(record, "id")?;
    let status_word = text(record, "status").unwrap_or_default();
    let status = lifecycle(&status_word);

    let first = text(record, "firstName");
    let last = text(record, "lastName");
    if first.is_none() && last.is_none() {
        return Err(invalid(
            Some(&id),
            Some("firstName"),
            "the employee has neither `firstName` nor `lastName`",
        ));
    }
    let display = text(record, "displayName").or_else(|| {
        let joined = [first.as_deref(), last.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        (!joined.is_empty()).then_some(joined)
    });

    let start = date(record, &id, "hireDate")?;
    let mut end = date(record, &id, "terminationDate")?;
    if status == Lifecycle::Active
        && let (Some(s), Some(e)) = (&start, &end)
        && e < s
    {
        // A rehire: the termination is the previous employment's.
        end = None;
    }

    let t = |key: &str| text(record, key);
    let builder = PersonBuilder::new(&id, status, status_word.clone())
        .given_name(first.as_deref())
        .family_name(last.as_deref())
        .display_name(display.as_deref())
        .work_email(t("workEmail").as_deref())
        .manager_id(t("supervisorEId").as_deref())
        .start_date(start.as_deref())?
        .end_date(end.as_deref())?
        .text("employee_number", t("employeeNumber").as_deref())
        .text("middle_name", t("middleName").as_deref())
        .text("preferred_name", t("preferredName").as_deref())
        .text("job_title", t("jobTitle").as_deref())
        .text("department", t("department").as_deref())
        .text("division", t("division").as_deref())
        .text("location", t("location").as_deref())
        .text("employment_status", t("employmentHistoryStatus").as_deref())
        .text("supervisor_name", t("supervisor").as_deref())
        .text("supervisor_employee_number", t("supervisorId").as_deref())
        .text("last_changed", t("lastChanged").as_deref());
    Ok(builder.raw(record).complete(complete).build())
}
