//! Connector endpoints without code: `[[connectors.NAME.endpoints]]` adds an API call beside the
//! plugin's own, and its records' fields join each person under `ENDPOINT.` — for the mapping,
//! the scope, `when` conditions and every template.
//!
//! ```toml
//! # Called once per person, with their detail (budgeted like a detail).
//! [[connectors.remote.endpoints]]
//! name = "cost_center"
//! path = "/v1/custom-fields/{{ settings.cost_center_field }}/values/{{ person.id }}"
//! records = "/data/custom_field_value"   # a JSON pointer; without it the answer is the record
//! per_person = true
//!
//! # Called once per run, every page; records matched to people by their primary key.
//! [[connectors.remote.endpoints]]
//! name = "timeoff"
//! path = "/v1/timeoff"
//! query = { status = "approved", page = "{{ page }}", page_size = "{{ page_size }}" }
//! records = "/data/timeoffs"
//! key = "employment_id"                   # the record field holding the primary key …
//! person_key = "id"                       # … matched to this person field (default: the id)
//! pagination = { kind = "page", page_size = 100, total_pages = "/data/total_pages" }
//! ```
//!
//! Then `extensionAttribute3 = "{{ cost_center.value }}"`, `scope = "timeoff.status != 'x'"`.
//!
//! - **Templates** (`path`, `query`, `headers`, `body`) see only macros: `person.*` (per-person
//!   endpoints), `page`, `page_size`, `cursor`, `today`, `now` (UTC) and `settings.*` (the
//!   connector's settings). A secret never enters a template: the connector's credentials are
//!   attached by its HTTP client, and an `authorization` header is refused at load. In `path`
//!   every value is percent-encoded (a `.`/`..` segment is refused); query values are encoded
//!   as a whole, and one that renders empty is left out; a `body` table is serialized as JSON by
//!   hrsync, a `body` string is a JSON template whose values are written as JSON values.
//! - **Pagination**: `none` (default); `page` (`{{ page }}` from `start`, default 1, until an
//!   empty page, a page shorter than `page_size`, or the page `total_pages` points at);
//!   `cursor` (`{{ cursor }}` from the JSON pointer `cursor` of each answer, until it is
//!   missing); `next` (the next page's URL from the JSON pointer `next`, or from a
//!   `Link: rel="next"` header; it must lie under `base_url`). A repeated cursor or page, or more
//!   than 1,000 pages, stops the endpoint with a note.
//! - **Requests** go through the connector's own HTTP: its `base_url`, `allowed_hosts`,
//!   credentials, rate governor and request budget (an endpoint's request counts against the
//!   same `rate_limit`), retries and timeouts.
//! - **Records**: nested objects flatten to `ENDPOINT.a.b`; lists of strings or numbers are text
//!   lists. A company-wide endpoint is read once per run (at the first list page) and kept for an
//!   hour for one-person runs and events. A per-person endpoint answering 404 gives no fields.
//! - **Bad input** (a template error, a `records` pointer that finds nothing, a record without
//!   the key, two records with one key, a failed request) is a note in the run report naming the
//!   endpoint, the record and the field; the person keeps the other endpoints' fields and the
//!   run goes on.

mod error;
mod fetch;
pub mod records;
pub mod report;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value as Json;
use tracing::Instrument;

pub use crate::config::endpoints::{
    Body, Endpoint, EndpointConfigError, MACROS, Method, Pagination, RawEndpoint,
};
pub use error::{Note, Problem};
pub use fetch::{Caller, Fetched, Shown};
pub use records::Index;

use crate::mapping::{FieldValue, Person};
use crate::runtime::HttpBackend;
use crate::templates::Templates;

/// How long company-wide records read by a listing serve later one-person fetches.
pub const COMPANY_MAX_AGE: Duration = Duration::from_secs(3600);

/// Company-wide records, by endpoint.
struct Company {
    at: Instant,
    indexes: BTreeMap<String, Index>,
}

/// A connector's endpoints, ready to call.
pub struct Endpoints {
    connector: String,
    endpoints: Vec<Endpoint>,
    http: Arc<dyn HttpBackend>,
    base_url: url::Url,
    settings: BTreeMap<String, String>,
    templates: Templates,
    company: tokio::sync::Mutex<Option<Company>>,
    notes: Mutex<Vec<Note>>,
}

/// What one endpoint gave for `connector test`.
#[derive(Debug)]
pub struct Trial {
    pub endpoint: String,
    pub per_person: bool,
    pub requests: Vec<Shown>,
    /// The sample person's fields from this endpoint.
    pub fields: BTreeMap<String, FieldValue>,
    /// Records read.
    pub records: usize,
    /// Records whose key matches a person tried (the sample, or the people on the first page).
    pub matched: usize,
    /// The people tried against the key.
    pub people: usize,
    pub problems: Vec<(Option<String>, Problem)>,
}

impl Endpoints {
    /// The endpoints of one connector, sending through `http`.
    pub fn new(
        connector: &str,
        endpoints: Vec<Endpoint>,
        http: Arc<dyn HttpBackend>,
        base_url: url::Url,
        settings: BTreeMap<String, String>,
    ) -> Endpoints {
        Endpoints {
            connector: connector.to_string(),
            endpoints,
            http,
            base_url,
            settings,
            templates: Templates::new(),
            company: tokio::sync::Mutex::new(None),
            notes: Mutex::new(Vec::new()),
        }
    }

    /// The configured endpoints.
    pub fn list(&self) -> &[Endpoint] {
        &self.endpoints
    }

    fn caller(&self) -> fetch::Caller<'_> {
        fetch::Caller {
            http: self.http.as_ref(),
            base_url: &self.base_url,
            settings: &self.settings,
            templates: &self.templates,
        }
    }

    fn note(&self, endpoint: &str, record: Option<&str>, problem: &Problem) {
        let note = Note::new(&self.connector, endpoint, record, problem);
        tracing::warn!(connector = %self.connector, endpoint, record, "{note}");
        if let Ok(mut notes) = self.notes.lock() {
            notes.push(note);
        }
    }

    /// The notes gathered since the last call (for the run report).
    pub fn take_notes(&self) -> Vec<Note> {
        self.notes
            .lock()
            .map(|mut n| std::mem::take(&mut *n))
            .unwrap_or_default()
    }

    /// Forgets the notes gathered so far (`connector test` shows its own trials' problems).
    pub fn clear_notes(&self) {
        if let Ok(mut notes) = self.notes.lock() {
            notes.clear();
        }
    }

    /// Reads every company-wide endpoint again (a listing starts: once per run).
    pub async fn refresh(&self) {
        let company = self.read_company().await;
        *self.company.lock().await = Some(company);
    }

    async fn read_company(&self) -> Company {
        let mut indexes = BTreeMap::new();
        for e in self.endpoints.iter().filter(|e| !e.per_person) {
            let span =
                tracing::info_span!("endpoint", connector = %self.connector, endpoint = %e.name);
            let Some(key) = e.key.as_deref() else {
                continue;
            };
            match self.caller().fetch(e, None).instrument(span).await {
                Ok(fetched) => {
                    let index = Index::new(fetched.records, key);
                    for (record, problem) in &index.problems {
                        self.note(&e.name, record.as_deref(), problem);
                    }
                    indexes.insert(e.name.clone(), index);
                }
                Err((problem, _)) => self.note(&e.name, None, &problem),
            }
        }
        Company {
            at: Instant::now(),
            indexes,
        }
    }

    /// Adds the company-wide endpoints' fields to `people` (reading them first if no listing
    /// read them within [`COMPANY_MAX_AGE`]).
    pub async fn add_company_fields(&self, people: &mut [Person]) {
        if !self.endpoints.iter().any(|e| !e.per_person) || people.is_empty() {
            return;
        }
        let mut company = self.company.lock().await;
        if company
            .as_ref()
            .is_none_or(|c| c.at.elapsed() > COMPANY_MAX_AGE)
        {
            *company = Some(self.read_company().await);
        }
        let Some(company) = company.as_ref() else {
            return;
        };
        for e in self.endpoints.iter().filter(|e| !e.per_person) {
            let Some(index) = company.indexes.get(&e.name) else {
                continue;
            };
            for p in people.iter_mut() {
                if let Some(record) =
                    person_key(p, &e.person_key).and_then(|k| index.by_key.get(&k))
                {
                    p.fields.extend(records::fields(&e.name, record));
                }
            }
        }
    }

    /// Adds every endpoint's fields to one person's detail: the company-wide records and one
    /// call of each per-person endpoint.
    pub async fn enrich(&self, person: &mut Person) {
        self.add_company_fields(std::slice::from_mut(person)).await;
        for e in self.endpoints.iter().filter(|e| e.per_person) {
            let span = tracing::info_span!("endpoint", connector = %self.connector, endpoint = %e.name, person = %person.id);
            match self.per_person(e, person).instrument(span).await {
                Ok((fields, _)) => person.fields.extend(fields),
                Err(problem) => self.note(&e.name, Some(&person.id), &problem),
            }
        }
    }

    /// One per-person endpoint's fields for `person`, and the requests it took.
    async fn per_person(
        &self,
        e: &Endpoint,
        person: &Person,
    ) -> Result<(BTreeMap<String, FieldValue>, Vec<Shown>), Problem> {
        let fetched = self
            .caller()
            .fetch(e, Some(person))
            .await
            .map_err(|(p, _)| p)?;
        let record = pick(e, person, &fetched.records)?;
        let fields = record
            .map(|r| records::fields(&e.name, r))
            .unwrap_or_default();
        Ok((fields, fetched.requests))
    }

    /// Calls each endpoint once ("Test & Save"): per-person ones for `sample`, company-wide ones
    /// matched against `listed`.
    pub async fn test(&self, sample: &Person, listed: &[Person]) -> Vec<Trial> {
        let mut out = Vec::new();
        for e in &self.endpoints {
            let mut trial = Trial {
                endpoint: e.name.clone(),
                per_person: e.per_person,
                requests: Vec::new(),
                fields: BTreeMap::new(),
                records: 0,
                matched: 0,
                people: 0,
                problems: Vec::new(),
            };
            let person = e.per_person.then_some(sample);
            match self.caller().fetch(e, person).await {
                Err((problem, requests)) => {
                    trial.requests = requests;
                    trial.problems.push((None, problem));
                }
                Ok(fetched) => {
                    trial.requests = fetched.requests;
                    trial.records = fetched.records.len();
                    if e.per_person {
                        trial.people = 1;
                        match pick(e, sample, &fetched.records) {
                            Ok(Some(record)) => {
                                trial.matched = 1;
                                trial.fields = records::fields(&e.name, record);
                            }
                            Ok(None) => {}
                            Err(p) => trial.problems.push((Some(sample.id.clone()), p)),
                        }
                    } else if let Some(key) = e.key.as_deref() {
                        let index = Index::new(fetched.records, key);
                        trial.problems.extend(index.problems.iter().cloned());
                        let mut people: Vec<&Person> = vec![sample];
                        people.extend(listed.iter().filter(|p| p.id != sample.id));
                        trial.people = people.len();
                        trial.matched = people
                            .iter()
                            .filter(|p| {
                                person_key(p, &e.person_key)
                                    .is_some_and(|k| index.by_key.contains_key(&k))
                            })
                            .count();
                        let sample_record = person_key(sample, &e.person_key)
                            .and_then(|k| index.by_key.get(&k))
                            .or_else(|| index.by_key.values().next());
                        if let Some(r) = sample_record {
                            trial.fields = records::fields(&e.name, r);
                        }
                    }
                }
            }
            out.push(trial);
        }
        out
    }
}

/// The value of the person field a key is matched to (`id`: the person's id).
fn person_key(p: &Person, field: &str) -> Option<String> {
    if field == "id" {
        return Some(p.id.clone());
    }
    match p.field(field)? {
        FieldValue::Text(s) | FieldValue::Date(s) if !s.trim().is_empty() => {
            Some(s.trim().to_string())
        }
        FieldValue::Integer(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The one record of a per-person answer that is the person's: by key when there is one, else
/// the only record.
fn pick<'a>(e: &Endpoint, person: &Person, found: &'a [Json]) -> Result<Option<&'a Json>, Problem> {
    let Some(key) = e.key.as_deref() else {
        return match found {
            [] => Ok(None),
            [one] => Ok(Some(one)),
            many => Err(Problem::DuplicateKey {
                key: "(no key)".to_string(),
                value: person.id.clone(),
                records: many.iter().map(records::describe).collect(),
            }),
        };
    };
    let want = person_key(person, &e.person_key).ok_or_else(|| Problem::NoPersonKey {
        field: e.person_key.clone(),
        key: key.to_string(),
    })?;
    let mut matching = Vec::new();
    for (i, r) in found.iter().enumerate() {
        match records::key_of(r, key) {
            None => {
                return Err(Problem::MissingKey {
                    key: key.to_string(),
                    position: i,
                    record: records::describe(r),
                });
            }
            Some(k) if k == want => matching.push(r),
            Some(_) => {}
        }
    }
    match matching.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one)),
        many => Err(Problem::DuplicateKey {
            key: key.to_string(),
            value: want,
            records: many.iter().map(|r| records::describe(r)).collect(),
        }),
    }
}
