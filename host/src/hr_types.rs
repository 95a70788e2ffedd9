//! What a connector yields besides people, in the engine's words: what its list records hold,
//! the records it could not read, and what it says of itself. A leaf: the WASM connector
//! ([`crate::connector`]) and the TOML one ([`crate::rest`]) both produce these.

use std::collections::BTreeSet;

use crate::mapping::Fact;

/// What a connector's list records hold (contract 0.2 `descriptor.listing`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listing {
    /// The facts a list record carries whenever the HR system has them.
    pub facts: BTreeSet<Fact>,
    /// Whether a list record's status is current.
    pub has_status: bool,
}

impl Default for Listing {
    /// Status in the list, no facts: what a 0.1 connector's list records were.
    fn default() -> Self {
        Listing {
            facts: BTreeSet::new(),
            has_status: true,
        }
    }
}

/// A record the connector could not read, with the reason (quarantined by the engine).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub record_id: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

/// What a plugin says of itself (`Connector::about`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    pub name: String,
    pub version: String,
    /// The contract it was built for (`0.2.0`).
    pub contract_version: String,
    /// The fields its people carry beside the typed facts.
    pub fields: Vec<FieldInfo>,
    /// The actions it can `invoke`, by name.
    pub actions: Vec<String>,
}

/// One field a plugin reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    pub name: String,
    /// `text`, `integer`, `number`, `boolean`, `date` or `text-list`.
    pub kind: &'static str,
    pub description: String,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = self.record_id.as_deref().unwrap_or("(no id)");
        match &self.field {
            Some(field) => write!(f, "record {id}, field `{field}`: {}", self.message),
            None => write!(f, "record {id}: {}", self.message),
        }
    }
}
