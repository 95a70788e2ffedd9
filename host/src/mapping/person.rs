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

/// A person as reported by a connector.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Person {
    pub id: String,
    pub status: Lifecycle,
    pub source_status: String,
    pub fields: BTreeMap<String, FieldValue>,
    /// The HR system's own record, as JSON.
    pub raw: Option<serde_json::Value>,
    pub complete: bool,
}

impl Person {
    /// The field called `name` (exact, case-sensitive), if the connector reported it.
    pub fn field(&self, name: &str) -> Option<&FieldValue> {
        self.fields.get(name)
    }

    /// The field called `name` as a string: `Some` for text and date fields, `None` for anything
    /// else (including null and missing fields).
    pub fn text(&self, name: &str) -> Option<&str> {
        match self.fields.get(name)? {
            FieldValue::Text(s) | FieldValue::Date(s) => Some(s),
            _ => None,
        }
    }
}
