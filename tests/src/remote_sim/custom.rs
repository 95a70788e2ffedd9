//! Remote's custom fields and time off, for connector endpoints configured in TOML:
//!
//! - `GET /v1/custom-fields` (definitions, paged `custom_fields`);
//! - `GET /v1/custom-fields/{custom_field_id}/values/{employment_id}` →
//!   `{"data": {"custom_field_value": {"custom_field_id", "value"}}}` (`value` null when unset;
//!   404 for an unknown field or employment);
//! - `GET /v1/timeoff` (paged `timeoffs`, filters `employment_id`, `timeoff_type`, `status`),
//!   a company-wide list keyed by `employment_id`.
//!
//! Shapes as in `/work/shared/remote-api/openapi.yaml` (`ListEmploymentCustomFieldsResponse`,
//! `EmploymentCustomFieldValueResponse`, `ListTimeoffResponse`).

use std::collections::{BTreeMap, HashMap};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::routes::{
    QueryParams, message, page_body, page_range, pagination, params, reply, text_param,
};
use super::state::SimHandle;

/// Custom field definitions, their values and time off records.
#[derive(Debug, Default)]
pub(crate) struct CustomData {
    /// Definitions in creation order: `{id, name, type}`.
    fields: Vec<Value>,
    /// (custom field id, employment id) → value.
    values: BTreeMap<(String, String), Value>,
    /// Time off records as served (a test may leave a field out on purpose).
    timeoffs: Vec<Value>,
    next: u64,
}

impl CustomData {
    fn id(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}-{:04}-0000-4000-8000-{:012}", self.next, self.next)
    }
}

impl SimHandle {
    /// Defines a custom field (`type`: string, text, integer, date, boolean, …); returns its id.
    pub fn define_custom_field(&self, name: &str, kind: &str) -> String {
        self.with_state(|s| {
            let id = s.custom.id("cf");
            s.custom
                .fields
                .push(json!({"id": id, "name": name, "type": kind}));
            id
        })
    }

    /// Sets a custom field's value for an employment.
    pub fn set_custom_field_value(&self, field_id: &str, employment_id: &str, value: Value) {
        self.with_state(|s| {
            s.custom
                .values
                .insert((field_id.to_owned(), employment_id.to_owned()), value);
        });
    }

    /// Adds a time off record as given (an `id` is added when it has none); returns its id.
    pub fn add_timeoff(&self, mut record: Value) -> String {
        self.with_state(|s| {
            let id = match record.get("id").and_then(Value::as_str) {
                Some(id) => id.to_owned(),
                None => s.custom.id("to"),
            };
            if let Value::Object(m) = &mut record {
                m.insert("id".into(), json!(id));
            }
            s.custom.timeoffs.push(record);
            id
        })
    }
}

/// `GET /v1/custom-fields`.
pub(crate) async fn list_custom_fields(
    State(sim): State<SimHandle>,
    query: QueryParams,
) -> Response {
    let q = match params(query) {
        Ok(q) => q,
        Err(response) => return response,
    };
    let (page, size) = match pagination(&q) {
        Ok(p) => p,
        Err(response) => return response,
    };
    let (items, total) = sim.with_state(|s| {
        let all = &s.custom.fields;
        (all[page_range(all.len(), page, size)].to_vec(), all.len())
    });
    reply(
        StatusCode::OK,
        page_body("custom_fields", items, page, size, total),
    )
}

/// `GET /v1/custom-fields/{custom_field_id}/values/{employment_id}`.
pub(crate) async fn show_custom_field_value(
    State(sim): State<SimHandle>,
    Path((field_id, employment_id)): Path<(String, String)>,
) -> Response {
    let found = sim.with_state(|s| {
        let known = s
            .custom
            .fields
            .iter()
            .any(|f| f["id"].as_str() == Some(field_id.as_str()));
        if !known {
            return Err("Custom field not found");
        }
        if s.find_visible(&employment_id).is_none() {
            return Err("Employment not found");
        }
        Ok(s.custom
            .values
            .get(&(field_id.clone(), employment_id.clone()))
            .cloned()
            .unwrap_or(Value::Null))
    });
    match found {
        Ok(value) => reply(
            StatusCode::OK,
            json!({"data": {"custom_field_value": {"custom_field_id": field_id, "value": value}}}),
        ),
        Err(text) => message(StatusCode::NOT_FOUND, text),
    }
}

/// `GET /v1/timeoff`.
pub(crate) async fn list_timeoffs(State(sim): State<SimHandle>, query: QueryParams) -> Response {
    let q: HashMap<String, String> = match params(query) {
        Ok(q) => q,
        Err(response) => return response,
    };
    let (page, size) = match pagination(&q) {
        Ok(p) => p,
        Err(response) => return response,
    };
    let filters: Vec<(&str, String)> = ["employment_id", "timeoff_type", "status"]
        .into_iter()
        .filter_map(|name| Some((name, text_param(&q, name)?)))
        .collect();
    let (items, total) = sim.with_state(|s| {
        let matching: Vec<&Value> = s
            .custom
            .timeoffs
            .iter()
            .filter(|t| {
                filters
                    .iter()
                    .all(|(name, want)| t[*name].as_str() == Some(want.as_str()))
            })
            .collect();
        let total = matching.len();
        let items = matching[page_range(total, page, size)]
            .iter()
            .map(|t| (*t).clone())
            .collect();
        (items, total)
    });
    reply(
        StatusCode::OK,
        page_body("timeoffs", items, page, size, total),
    )
}
