//! `plugin = "builtin:rest"`: a connector defined entirely in TOML, without a plugin.
//!
//! ```toml
//! [connectors.hr]
//! plugin = "builtin:rest"
//! base_url = "https://hr.example.com/api"
//! auth = { kind = "bearer", token = { env = "HR_TOKEN" } }
//!
//! [connectors.hr.rest]
//! list = { path = "/people", query = { page = "{{ page }}" }, records = "/data", pagination = { kind = "page", total_pages = "/total_pages" } }
//! detail = { path = "/people/{{ person.id }}", records = "/data" }   # optional
//! id = "/id"
//! status = { pointer = "/status", map = { Hired = "pre-hire", Active = "active", Leaving = "leaving", Terminated = "terminated" } }
//! start_date = "/start_date"
//! manager_id = "/manager/id"
//! display_name = "{{ record.first_name }} {{ record.last_name }}"
//! fields = ["department", "title"]   # without it: every field of the record
//! ```
//!
//! `list` and `detail` are endpoints ([`crate::endpoints`]): the same templates, pagination
//! and `records` pointer, sent through the connector's HTTP (its credentials, `allowed_hosts`,
//! rate budget, retries). A value is a JSON pointer into the record, or a template over
//! `record` and `settings` when it holds `{{`. A status word not in `map` is `unknown`; dates
//! must be `YYYY-MM-DD` (a longer ISO timestamp is cut to its date), else the record is
//! rejected naming the field.

use std::collections::BTreeMap;
use std::sync::Arc;

use minijinja::Value;
use serde_json::Value as Json;

use crate::config::rest::{RestDefinition, Source};
use crate::endpoints::{Caller, Problem, records};
use crate::hr_types::{About, FieldInfo, Listing, Rejected};
use crate::mapping::{Facts, FieldValue, Lifecycle, Person};
use crate::runtime::HttpBackend;
use crate::templates::{Context, Templates};

/// Why a REST call failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{call}: {problem}")]
pub struct RestError {
    /// `list` or `detail`.
    pub call: &'static str,
    pub problem: Problem,
}

impl RestError {
    /// Whether the HR system refused the credentials.
    pub fn is_auth(&self) -> bool {
        matches!(
            self.problem,
            Problem::Status {
                status: 401 | 403,
                ..
            }
        )
    }
}

/// A connector defined in TOML, ready to call.
pub struct Rest {
    definition: RestDefinition,
    http: Arc<dyn HttpBackend>,
    base_url: url::Url,
    settings: BTreeMap<String, String>,
    templates: Templates,
}

impl Rest {
    /// The definition, sending through `http` (the connector's own).
    pub fn new(
        definition: RestDefinition,
        http: Arc<dyn HttpBackend>,
        base_url: url::Url,
        settings: BTreeMap<String, String>,
    ) -> Rest {
        Rest {
            definition,
            http,
            base_url,
            settings,
            templates: Templates::new(),
        }
    }

    fn caller(&self) -> Caller<'_> {
        Caller {
            http: self.http.as_ref(),
            base_url: &self.base_url,
            settings: &self.settings,
            templates: &self.templates,
        }
    }

    /// What the list records hold: every fact mapped, and the status when it is mapped. With a
    /// detail call, the host fetches one detail per new person.
    pub fn listing(&self) -> Listing {
        Listing {
            facts: self.definition.facts.keys().copied().collect(),
            has_status: self.definition.status.is_some(),
        }
    }

    /// What the connector says of itself: the fields it maps.
    pub fn about(&self, connector: &str) -> About {
        let mut fields: Vec<FieldInfo> = self
            .definition
            .facts
            .iter()
            .map(|(fact, source)| FieldInfo {
                name: fact.names()[0].to_string(),
                kind: if fact.is_date() { "date" } else { "text" },
                description: describe(source),
            })
            .collect();
        if let Some(s) = &self.definition.status {
            fields.insert(
                0,
                FieldInfo {
                    name: "status".to_string(),
                    kind: "text",
                    description: format!("from {} ({} words mapped)", s.pointer, s.map.len()),
                },
            );
        }
        match &self.definition.fields {
            Some(listed) => fields.extend(listed.iter().map(|f| FieldInfo {
                name: f.clone(),
                kind: "text",
                description: "a field of the record".to_string(),
            })),
            None => fields.push(FieldInfo {
                name: "*".to_string(),
                kind: "text",
                description: "every field of the record, by name (nested ones as `a.b`)"
                    .to_string(),
            }),
        }
        About {
            name: connector.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            contract_version: "builtin:rest".to_string(),
            fields,
            actions: Vec::new(),
        }
    }

    /// Everyone: every page of the list call.
    pub async fn list(&self) -> Result<(Vec<Person>, Vec<Rejected>), RestError> {
        let fetched = self
            .caller()
            .fetch(&self.definition.list, None)
            .await
            .map_err(|(problem, _)| RestError {
                call: "list",
                problem,
            })?;
        let complete = self.definition.detail.is_none();
        let mut people = Vec::with_capacity(fetched.records.len());
        let mut rejected = Vec::new();
        for record in &fetched.records {
            match person(
                &self.definition,
                &self.templates,
                &self.settings,
                record,
                complete,
            ) {
                Ok(p) => people.push(p),
                Err(r) => rejected.push(r),
            }
        }
        Ok((people, rejected))
    }

    /// One person: the detail call, or the list searched for them without one. `None`: the HR
    /// system does not know them.
    pub async fn get(&self, id: &str) -> Result<Option<Result<Person, Rejected>>, RestError> {
        let Some(detail) = &self.definition.detail else {
            let (people, rejected) = self.list().await?;
            if let Some(p) = people.into_iter().find(|p| p.id == id) {
                return Ok(Some(Ok(p)));
            }
            return Ok(rejected
                .into_iter()
                .find(|r| r.record_id.as_deref() == Some(id))
                .map(Err));
        };
        let stub = Person {
            id: id.to_string(),
            status: Lifecycle::Unknown,
            source_status: String::new(),
            facts: Facts::default(),
            fields: BTreeMap::new(),
            raw: None,
            complete: false,
        };
        let fetched = self
            .caller()
            .fetch(detail, Some(&stub))
            .await
            .map_err(|(problem, _)| RestError {
                call: "detail",
                problem,
            })?;
        Ok(match fetched.records.as_slice() {
            [] => None,
            [record] => Some(person(
                &self.definition,
                &self.templates,
                &self.settings,
                record,
                true,
            )),
            many => Some(Err(Rejected {
                record_id: Some(id.to_string()),
                field: None,
                message: format!(
                    "the detail call answered {} records; `detail.records` must point at one",
                    many.len()
                ),
            })),
        })
    }
}

fn describe(source: &Source) -> String {
    match source {
        Source::Pointer(p) => format!("from {p}"),
        Source::Template(t) => format!("the template {t}"),
    }
}

/// A JSON value as text (strings as they are, numbers and booleans written out).
fn text(v: &Json) -> Option<String> {
    match v {
        Json::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// One value of the record.
fn value(
    source: &Source,
    record: &Json,
    templates: &Templates,
    settings: &BTreeMap<String, String>,
) -> Result<Option<String>, String> {
    match source {
        Source::Pointer(p) => Ok(record.pointer(p).and_then(text)),
        Source::Template(t) => {
            let mut root: BTreeMap<String, Value> = BTreeMap::new();
            root.insert("record".into(), Value::from_serialize(record));
            root.insert("settings".into(), Value::from(settings.clone()));
            let out = templates
                .render(t, &Context::from_map(root))
                .map_err(|e| e.message)?;
            let out = out.trim();
            Ok((!out.is_empty()).then(|| out.to_string()))
        }
    }
}

/// A date as `YYYY-MM-DD` (an ISO timestamp cut to its date).
fn date(text: &str) -> Option<String> {
    let day = text.get(..10)?;
    let rest = &text[10..];
    if !(rest.is_empty() || rest.starts_with('T') || rest.starts_with(' ')) {
        return None;
    }
    chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d")
        .ok()
        .map(|_| day.to_string())
}

/// One record as a person, or why it cannot be one (no id, a template that fails, a date that
/// is not one). `complete`: the record holds every detail.
pub fn person(
    definition: &RestDefinition,
    templates: &Templates,
    settings: &BTreeMap<String, String>,
    record: &Json,
    complete: bool,
) -> Result<Person, Rejected> {
    let Some(id) = record.pointer(&definition.id).and_then(text) else {
        return Err(Rejected {
            record_id: None,
            field: Some(definition.id.clone()),
            message: format!(
                "the record has no id at {}: {}",
                definition.id,
                records::describe(record)
            ),
        });
    };
    let reject = |field: &str, message: String| Rejected {
        record_id: Some(id.clone()),
        field: Some(field.to_string()),
        message,
    };
    let (status, source_status) = match &definition.status {
        None => (Lifecycle::Unknown, String::new()),
        Some(rule) => {
            let word = record.pointer(&rule.pointer).and_then(text);
            let status = word
                .as_deref()
                .and_then(|w| {
                    rule.map.get(w).or_else(|| {
                        rule.map
                            .iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case(w))
                            .map(|(_, v)| v)
                    })
                })
                .cloned()
                .unwrap_or(Lifecycle::Unknown);
            (status, word.unwrap_or_default())
        }
    };
    let mut facts = Facts::default();
    for (fact, source) in &definition.facts {
        let name = fact.names()[0];
        let v = value(source, record, templates, settings).map_err(|m| reject(name, m))?;
        let v = match v {
            Some(d) if fact.is_date() => Some(
                date(&d)
                    .ok_or_else(|| reject(name, format!("`{d}` is not a date (YYYY-MM-DD)")))?,
            ),
            other => other,
        };
        *facts.slot_mut(*fact) = v;
    }
    let mut fields = BTreeMap::new();
    match &definition.fields {
        None => fields = record_fields(record),
        Some(listed) => {
            for name in listed {
                let p = crate::config::endpoints::pointer(name);
                let v = record.pointer(&p).unwrap_or(&Json::Null);
                fields.extend(records::flatten_value(name, v));
            }
        }
    }
    Ok(Person {
        id,
        status,
        source_status,
        facts,
        fields,
        raw: Some(record.clone()),
        complete,
    })
}

/// The field values of a record under their names (no prefix).
pub fn record_fields(record: &Json) -> BTreeMap<String, FieldValue> {
    let mut out = BTreeMap::new();
    if let Json::Object(m) = record {
        for (k, v) in m {
            out.extend(records::flatten_value(k, v));
        }
    }
    out
}

#[cfg(test)]
mod tests;
