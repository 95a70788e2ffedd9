//! The person record a connector hands to the mapping engine.

use std::collections::BTreeMap;
use std::fmt;

/// Where a person is in their employment lifecycle, as normalised by the connector.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Lifecycle {
    PreHire,
    Active,
    Leaving,
    Terminated,
    Unknown,
}

impl Lifecycle {
    /// The kebab-case name, as seen by templates (`status`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Lifecycle::PreHire => "pre-hire",
            Lifecycle::Active => "active",
            Lifecycle::Leaving => "leaving",
            Lifecycle::Terminated => "terminated",
            Lifecycle::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Lifecycle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One HR field value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", content = "value", rename_all = "kebab-case")]
pub enum FieldValue {
    Null,
    Text(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
    /// `YYYY-MM-DD`.
    Date(String),
    TextList(Vec<String>),
}

/// The typed facts of a person the engine itself decides on (contract 0.2 `person`). Dates are
/// `YYYY-MM-DD`, checked when the connector's record is read.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Facts {
    /// The first working day.
    pub start_date: Option<String>,
    /// The last day of employment.
    pub end_date: Option<String>,
    /// The manager's person id.
    pub manager_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub work_email: Option<String>,
}

/// One typed fact, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fact {
    StartDate,
    EndDate,
    ManagerId,
    GivenName,
    FamilyName,
    DisplayName,
    WorkEmail,
}

impl Fact {
    /// Every fact.
    pub const ALL: [Fact; 7] = [
        Fact::StartDate,
        Fact::EndDate,
        Fact::ManagerId,
        Fact::GivenName,
        Fact::FamilyName,
        Fact::DisplayName,
        Fact::WorkEmail,
    ];

    /// The names templates see the fact under: its own, then the name hrsync 0.1's Remote
    /// connector gave the field (kept so that existing configurations go on working).
    pub fn names(self) -> &'static [&'static str] {
        match self {
            Fact::StartDate => &["start_date"],
            Fact::EndDate => &["end_date", "termination_date"],
            Fact::ManagerId => &["manager_id", "manager_employment_id"],
            Fact::GivenName => &["given_name", "first_name"],
            Fact::FamilyName => &["family_name", "last_name"],
            Fact::DisplayName => &["display_name", "full_name"],
            Fact::WorkEmail => &["work_email"],
        }
    }

    /// The fact a template name stands for.
    pub fn named(name: &str) -> Option<Fact> {
        Fact::ALL.into_iter().find(|f| f.names().contains(&name))
    }

    /// Whether the fact is a date.
    pub fn is_date(self) -> bool {
        matches!(self, Fact::StartDate | Fact::EndDate)
    }
}

impl Facts {
    /// The value of one fact.
    pub fn get(&self, fact: Fact) -> Option<&str> {
        self.slot(fact).as_deref()
    }

    /// The place of one fact.
    pub fn slot(&self, fact: Fact) -> &Option<String> {
        match fact {
            Fact::StartDate => &self.start_date,
            Fact::EndDate => &self.end_date,
            Fact::ManagerId => &self.manager_id,
            Fact::GivenName => &self.given_name,
            Fact::FamilyName => &self.family_name,
            Fact::DisplayName => &self.display_name,
            Fact::WorkEmail => &self.work_email,
        }
    }

    /// The place of one fact, to change it.
    pub fn slot_mut(&mut self, fact: Fact) -> &mut Option<String> {
        match fact {
            Fact::StartDate => &mut self.start_date,
            Fact::EndDate => &mut self.end_date,
            Fact::ManagerId => &mut self.manager_id,
            Fact::GivenName => &mut self.given_name,
            Fact::FamilyName => &mut self.family_name,
            Fact::DisplayName => &mut self.display_name,
            Fact::WorkEmail => &mut self.work_email,
        }
    }

    /// The fact as a field value (a date as [`FieldValue::Date`]; none as null).
    pub fn value(&self, fact: Fact) -> FieldValue {
        match (self.get(fact), fact.is_date()) {
            (None, _) => FieldValue::Null,
            (Some(d), true) => FieldValue::Date(d.to_string()),
            (Some(t), false) => FieldValue::Text(t.to_string()),
        }
    }

    /// Every template name of every fact with its value.
    pub fn named_values(&self) -> impl Iterator<Item = (&'static str, FieldValue)> + '_ {
        Fact::ALL.into_iter().flat_map(move |f| {
            let value = self.value(f);
            f.names().iter().map(move |n| (*n, value.clone()))
        })
    }
}

/// A person as reported by a connector.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Person {
    pub id: String,
    pub status: Lifecycle,
    pub source_status: String,
    /// The typed facts (dates, manager, names, work email).
    #[serde(default)]
    pub facts: Facts,
    /// Every other field. A field named like a fact is hidden by the fact.
    pub fields: BTreeMap<String, FieldValue>,
    /// The HR system's own record, as JSON.
    pub raw: Option<serde_json::Value>,
    pub complete: bool,
}

impl Person {
    /// The value templates see under `name` (exact, case-sensitive): a fact by one of its names
    /// ([`Fact::names`]), or else a field the connector reported.
    pub fn field(&self, name: &str) -> Option<FieldValue> {
        match Fact::named(name) {
            Some(fact) => Some(self.facts.value(fact)),
            None => self.fields.get(name).cloned(),
        }
    }

    /// The value under `name` as a string: `Some` for a set fact and for text and date fields,
    /// `None` for anything else (including null and missing fields).
    pub fn text(&self, name: &str) -> Option<&str> {
        if let Some(fact) = Fact::named(name) {
            return self.facts.get(fact);
        }
        match self.fields.get(name)? {
            FieldValue::Text(s) | FieldValue::Date(s) => Some(s),
            _ => None,
        }
    }

    /// Every value templates see by name: the fields, then the facts under all their names
    /// (which win over a field of the same name).
    pub fn values(&self) -> BTreeMap<String, FieldValue> {
        let mut all = self.fields.clone();
        for (name, value) in self.facts.named_values() {
            all.insert(name.to_string(), value);
        }
        all
    }

    /// Moves fields named like a fact ([`Fact::names`]) into the facts, where the fact is not
    /// set: a detail cached by hrsync 0.1 (whose Remote connector sent `first_name`,
    /// `start_date` … as fields) reads as a 0.2 person. Not a date: the field stays a field.
    pub fn lift_facts(mut self) -> Person {
        for fact in Fact::ALL {
            for name in fact.names() {
                let text = match self.fields.get(*name) {
                    Some(FieldValue::Text(s) | FieldValue::Date(s)) => s.clone(),
                    _ => continue,
                };
                if fact.is_date() && chrono::NaiveDate::parse_from_str(&text, "%Y-%m-%d").is_err() {
                    continue;
                }
                self.fields.remove(*name);
                let slot = self.facts.slot_mut(fact);
                if slot.is_none() {
                    *slot = Some(text);
                }
            }
        }
        self
    }

    /// A date fact as a date (checked when the record was read; `None` if absent).
    pub fn date(&self, fact: Fact) -> Option<chrono::NaiveDate> {
        let text = self.facts.get(fact)?;
        chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()
    }
}
