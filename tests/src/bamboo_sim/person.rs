//! One simulated BambooHR employee record, how tests build one, and how its fields render.
//!
//! Field names and semantics follow BambooHR's field list
//! (<https://documentation.bamboohr.com/docs/list-of-field-names>). Every value goes out as a
//! JSON string (BambooHR's v1 API sends strings, ids included) or `null`; dates are
//! `YYYY-MM-DD`, and an unset `hireDate` / `terminationDate` is `0000-00-00`, as BambooHR sends it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

/// What BambooHR sends for a date field that holds no date.
pub const ZERO_DATE: &str = "0000-00-00";

/// The `status` field: BambooHR's two employee statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `Active`: employed, or hired with a future start date, or leaving on a future date.
    Active,
    /// `Inactive`: terminated (or otherwise switched off).
    Inactive,
}

impl Status {
    /// `Active` / `Inactive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "Active",
            Status::Inactive => "Inactive",
        }
    }
}

/// The last change recorded for an employee (`GET /employees/changed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeAction {
    /// The record was created.
    Inserted,
    /// A field of the record changed.
    Updated,
    /// The record was deleted.
    Deleted,
}

impl ChangeAction {
    /// `Inserted` / `Updated` / `Deleted`, as BambooHR spells them.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeAction::Inserted => "Inserted",
            ChangeAction::Updated => "Updated",
            ChangeAction::Deleted => "Deleted",
        }
    }
}

/// An employee. Build one with [`Person::new`] and the builder methods; every field is public
/// so a test can also change one in place ([`super::BambooHandle::update`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Person {
    /// BambooHR's immutable employee id (`id`, also `supervisorEId` of reports).
    pub id: u32,
    /// `employeeNumber`: the company's own number, free text, may be missing.
    pub employee_number: Option<String>,
    /// `firstName` (legal).
    pub first_name: String,
    /// `middleName`.
    pub middle_name: Option<String>,
    /// `lastName` (legal).
    pub last_name: String,
    /// `preferredName`; `displayName` uses it instead of the first name when set.
    pub preferred_name: Option<String>,
    /// `workEmail`.
    pub work_email: Option<String>,
    /// `jobTitle` (current row of the job information table).
    pub job_title: Option<String>,
    /// `department` (current).
    pub department: Option<String>,
    /// `division` (current).
    pub division: Option<String>,
    /// `location` (current).
    pub location: Option<String>,
    /// `status`.
    pub status: Status,
    /// `employmentHistoryStatus` (company-defined: `Full-Time`, `Part-Time`, `Terminated`, …).
    pub employment_status: String,
    /// `hireDate`; `None` renders as `0000-00-00`.
    pub hire_date: Option<NaiveDate>,
    /// `terminationDate`; `None` renders as `0000-00-00`.
    pub termination_date: Option<NaiveDate>,
    /// `supervisorEId`: the supervisor's employee id. May name nobody (a dangling reference) or
    /// the person themself; the simulator serves what it is given.
    pub supervisor_eid: Option<u32>,
    /// Any other field, by its API name (custom fields such as `customShirtSize`), served as is.
    pub extra: BTreeMap<String, Value>,
    /// `lastChanged`, also what `GET /employees/changed` compares `since` with.
    pub last_changed: DateTime<Utc>,
    /// The action `GET /employees/changed` reports.
    pub last_action: ChangeAction,
}

impl Person {
    /// An active full-time employee with only an id and legal names; everything else unset
    /// (no email, no job, no dates, no supervisor). `lastChanged` is 2020-01-01T00:00:00Z.
    pub fn new(id: u32, first_name: &str, last_name: &str) -> Person {
        Person {
            id,
            employee_number: None,
            first_name: first_name.to_owned(),
            middle_name: None,
            last_name: last_name.to_owned(),
            preferred_name: None,
            work_email: None,
            job_title: None,
            department: None,
            division: None,
            location: None,
            status: Status::Active,
            employment_status: "Full-Time".to_owned(),
            hire_date: None,
            termination_date: None,
            supervisor_eid: None,
            extra: BTreeMap::new(),
            last_changed: DateTime::<Utc>::from_timestamp(1_577_836_800, 0).unwrap_or_default(),
            last_action: ChangeAction::Inserted,
        }
    }

    /// Sets `employeeNumber`.
    pub fn number(mut self, number: &str) -> Person {
        self.employee_number = Some(number.to_owned());
        self
    }

    /// Sets `middleName`.
    pub fn middle(mut self, name: &str) -> Person {
        self.middle_name = Some(name.to_owned());
        self
    }

    /// Sets `preferredName`.
    pub fn preferred(mut self, name: &str) -> Person {
        self.preferred_name = Some(name.to_owned());
        self
    }

    /// Sets `workEmail`.
    pub fn email(mut self, email: &str) -> Person {
        self.work_email = Some(email.to_owned());
        self
    }

    /// Sets `jobTitle`, `department`, `division` and `location` at once.
    pub fn job(mut self, title: &str, department: &str, division: &str, location: &str) -> Person {
        self.job_title = Some(title.to_owned());
        self.department = Some(department.to_owned());
        self.division = Some(division.to_owned());
        self.location = Some(location.to_owned());
        self
    }

    /// Sets `hireDate`.
    pub fn hired(mut self, date: NaiveDate) -> Person {
        self.hire_date = Some(date);
        self
    }

    /// A past termination: `terminationDate`, `status` `Inactive`, `employmentHistoryStatus`
    /// `Terminated`.
    pub fn terminated(mut self, date: NaiveDate) -> Person {
        self.termination_date = Some(date);
        self.status = Status::Inactive;
        self.employment_status = "Terminated".to_owned();
        self
    }

    /// A future termination: `terminationDate` set, still `Active` (BambooHR switches the status
    /// only when the date arrives).
    pub fn leaving(mut self, date: NaiveDate) -> Person {
        self.termination_date = Some(date);
        self
    }

    /// Sets `status`.
    pub fn status(mut self, status: Status) -> Person {
        self.status = status;
        self
    }

    /// Sets `employmentHistoryStatus`.
    pub fn employment_status(mut self, status: &str) -> Person {
        self.employment_status = status.to_owned();
        self
    }

    /// Sets `supervisorEId` (any id: someone else, the person themself, or nobody at all).
    pub fn supervisor(mut self, id: u32) -> Person {
        self.supervisor_eid = Some(id);
        self
    }

    /// Sets another field (e.g. a custom one), served as given.
    pub fn field(mut self, name: &str, value: Value) -> Person {
        self.extra.insert(name.to_owned(), value);
        self
    }

    /// Sets `lastChanged`.
    pub fn changed_at(mut self, at: DateTime<Utc>) -> Person {
        self.last_changed = at;
        self
    }

    /// `displayName`: preferred (or first) name and last name.
    pub fn display_name(&self) -> String {
        let first = self.preferred_name.as_deref().unwrap_or(&self.first_name);
        format!("{first} {}", self.last_name)
    }

    /// Not started yet: hire date after `today`.
    pub fn is_pre_hire(&self, today: NaiveDate) -> bool {
        self.hire_date.is_some_and(|d| d > today)
    }
}

/// The standard fields the simulator knows, with BambooHR's type and display name (used by the
/// directory's and custom reports' `fields` lists). Custom fields live in [`Person::extra`].
pub const KNOWN_FIELDS: &[(&str, &str, &str)] = &[
    ("id", "int", "Employee #"),
    ("employeeNumber", "text", "Employee #"),
    ("firstName", "text", "First Name"),
    ("middleName", "text", "Middle Name"),
    ("lastName", "text", "Last Name"),
    ("preferredName", "text", "Preferred Name"),
    ("displayName", "text", "Display Name"),
    ("fullName1", "text", "First Name Last Name"),
    ("fullName2", "text", "Last Name, First Name"),
    ("workEmail", "email", "Work Email"),
    ("jobTitle", "list", "Job Title"),
    ("department", "list", "Department"),
    ("division", "list", "Division"),
    ("location", "list", "Location"),
    ("status", "status", "Status"),
    ("employmentHistoryStatus", "list", "Employment Status"),
    ("hireDate", "date", "Hire Date"),
    ("terminationDate", "date", "Termination Date"),
    ("supervisorEId", "int", "Supervisor EID"),
    ("supervisorId", "text", "Supervisor ID"),
    ("supervisor", "employee", "Reporting to"),
    ("lastChanged", "timestamp", "Last Changed"),
    ("photoUploaded", "bool", "Employee photo exists"),
    ("photoUrl", "url", "Employee photo url"),
];

/// Fields the directory returns for everybody (BambooHR's directory fieldset is set by the
/// company; this is a typical one, without any supervisor id).
pub const DIRECTORY_FIELDS: &[&str] = &[
    "displayName",
    "firstName",
    "lastName",
    "preferredName",
    "jobTitle",
    "workEmail",
    "department",
    "location",
    "division",
    "supervisor",
    "photoUploaded",
    "photoUrl",
];

/// Fields that come from the job information table: BambooHR withholds their future-dated
/// values unless `onlyCurrent=false`, so a pre-hire shows them as `null` by default.
const JOB_TABLE_FIELDS: &[&str] = &[
    "jobTitle",
    "department",
    "division",
    "location",
    "supervisorEId",
    "supervisorId",
    "supervisor",
];

/// `(type, name)` of a known field.
pub fn field_meta(id: &str) -> Option<(&'static str, &'static str)> {
    KNOWN_FIELDS
        .iter()
        .find(|(name, _, _)| *name == id)
        .map(|(_, kind, label)| (*kind, *label))
}

/// Context a field needs beyond the person: the supervisor record, and whether future-dated
/// job rows are hidden.
pub(crate) struct RenderContext<'a> {
    pub supervisor: Option<&'a Person>,
    pub hide_future_job: bool,
    pub photo_base: &'a str,
}

fn opt(value: &Option<String>) -> Value {
    value
        .as_ref()
        .map_or(Value::Null, |v| Value::String(v.clone()))
}

fn date(value: Option<NaiveDate>) -> Value {
    Value::String(value.map_or_else(
        || ZERO_DATE.to_owned(),
        |d| d.format("%Y-%m-%d").to_string(),
    ))
}

impl Person {
    /// The value of field `id`, or `None` when the simulator does not know the field (neither
    /// standard nor one of [`Person::extra`]).
    pub(crate) fn field_value(&self, id: &str, ctx: &RenderContext<'_>) -> Option<Value> {
        if ctx.hide_future_job && JOB_TABLE_FIELDS.contains(&id) {
            return Some(Value::Null);
        }
        let value = match id {
            "id" => Value::String(self.id.to_string()),
            "employeeNumber" => opt(&self.employee_number),
            "firstName" => Value::String(self.first_name.clone()),
            "middleName" => opt(&self.middle_name),
            "lastName" => Value::String(self.last_name.clone()),
            "preferredName" => opt(&self.preferred_name),
            "displayName" => Value::String(self.display_name()),
            "fullName1" => Value::String(format!("{} {}", self.first_name, self.last_name)),
            "fullName2" => Value::String(format!("{}, {}", self.last_name, self.first_name)),
            "workEmail" => opt(&self.work_email),
            "jobTitle" => opt(&self.job_title),
            "department" => opt(&self.department),
            "division" => opt(&self.division),
            "location" => opt(&self.location),
            "status" => Value::String(self.status.as_str().to_owned()),
            "employmentHistoryStatus" => Value::String(self.employment_status.clone()),
            "hireDate" => date(self.hire_date),
            "terminationDate" => date(self.termination_date),
            "supervisorEId" => self
                .supervisor_eid
                .map_or(Value::Null, |s| Value::String(s.to_string())),
            "supervisorId" => ctx
                .supervisor
                .and_then(|s| s.employee_number.clone())
                .map_or(Value::Null, Value::String),
            "supervisor" => ctx
                .supervisor
                .map_or(Value::Null, |s| Value::String(s.display_name())),
            "lastChanged" => Value::String(format_timestamp(self.last_changed)),
            "photoUploaded" => Value::String("false".to_owned()),
            "photoUrl" => Value::String(format!(
                "{}/images/photo_person_150x150.png",
                ctx.photo_base
            )),
            other => return self.extra.get(other).cloned(),
        };
        Some(value)
    }
}

/// BambooHR's timestamp form: `2011-06-02T19:26:23+00:00`.
pub fn format_timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
}
