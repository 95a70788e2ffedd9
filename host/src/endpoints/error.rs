//! What can go wrong with an endpoint, and the note a run keeps of it.

use serde::{Deserialize, Serialize};

/// Why an endpoint gave a person no fields (or dropped some records).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// A template could not be rendered (or rendered into something refused).
    #[error("`{field}` cannot be rendered: {message}")]
    Template { field: String, message: String },
    /// The request failed after the connector's retries (or was refused before it was sent).
    #[error("the request {request} failed: {message}")]
    Request { request: String, message: String },
    /// The HR system answered with an error status.
    #[error("the request {request} was answered {status}: {body}")]
    Status {
        request: String,
        status: u16,
        body: String,
    },
    /// The answer is not JSON.
    #[error("the answer to {request} is not JSON: {message}")]
    NotJson { request: String, message: String },
    /// The `records` pointer finds nothing in the answer.
    #[error("`records` = \"{pointer}\" finds nothing in the answer (it has {found})")]
    NoRecords { pointer: String, found: String },
    /// A record has no primary key.
    #[error("record {position} has no `{key}` (the primary key): {record}")]
    MissingKey {
        key: String,
        position: usize,
        record: String,
    },
    /// Two or more records hold the same key; none of them is used.
    #[error("{} records hold `{key}` = `{value}`, so none is used: {}", records.len(), records.join(" | "))]
    DuplicateKey {
        key: String,
        value: String,
        records: Vec<String>,
    },
    /// Pagination went wrong (a loop, the cap, a next link outside the base URL).
    #[error("pagination: {0}")]
    Pagination(String),
    /// The person has no value in the field the key is matched to.
    #[error("the person has no `{field}` to match `{key}` against")]
    NoPersonKey { field: String, key: String },
}

impl Problem {
    /// The field (or config key) the problem is about, for the note.
    pub fn field(&self) -> Option<&str> {
        match self {
            Problem::Template { field, .. } => Some(field),
            Problem::NoRecords { .. } => Some("records"),
            Problem::MissingKey { key, .. } | Problem::DuplicateKey { key, .. } => Some(key),
            Problem::NoPersonKey { field, .. } => Some(field),
            Problem::Pagination(_) => Some("pagination"),
            Problem::Request { .. } | Problem::Status { .. } | Problem::NotJson { .. } => None,
        }
    }
}

/// A quarantine-style note of a run: the endpoint, the person (when one is concerned), the field
/// and what was wrong. The person keeps the fields of the other endpoints; the run goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub connector: String,
    pub endpoint: String,
    /// The person's id, or the primary key of the records concerned.
    pub record_id: Option<String>,
    pub field: Option<String>,
    pub reason: String,
}

impl Note {
    pub(crate) fn new(
        connector: &str,
        endpoint: &str,
        record_id: Option<&str>,
        problem: &Problem,
    ) -> Note {
        Note {
            connector: connector.to_string(),
            endpoint: endpoint.to_string(),
            record_id: record_id.map(str::to_string),
            field: problem.field().map(str::to_string),
            reason: problem.to_string(),
        }
    }
}

impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "endpoint `{}.{}`", self.connector, self.endpoint)?;
        if let Some(id) = &self.record_id {
            write!(f, ", record {id}")?;
        }
        if let Some(field) = &self.field {
            write!(f, ", field `{field}`")?;
        }
        write!(f, ": {}", self.reason)
    }
}
