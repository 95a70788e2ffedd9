//! Outbound actions: write back to an employment, read offboardings.

use hrsync_sdk::builders::param;
use hrsync_sdk::prelude::*;
use serde_json::{Map, Value, json};

use crate::mapping::path_segment;

/// Declares the actions in the descriptor.
pub fn declare(d: DescriptorBuilder) -> DescriptorBuilder {
    d.action(
        "update-employment",
        "PATCH an employment: work_email, external_id, partner_external_id, manager_id (a user id from /v1/company-managers)",
        &[
            ("employment_id", FieldKind::Text, "The employment to change", "8a7a1b0e-…"),
            ("work_email", FieldKind::Text, "New work email (active or invited employments)", "jose.muller@corp.example"),
            ("external_id", FieldKind::Text, "New external id (any status); empty clears", "jmuller"),
            ("partner_external_id", FieldKind::Text, "New partner external id; empty clears", "P-1"),
            ("manager_id", FieldKind::Text, "The manager's *user* id (company-managers), not an employment id", "u-42"),
        ],
    )
    .action(
        "list-offboardings",
        "Offboardings with their termination dates (confidential ones when the include_confidential setting or parameter is true)",
        &[
            ("employment_id", FieldKind::Text, "Only this employment's offboardings", "8a7a1b0e-…"),
            ("include_confidential", FieldKind::Boolean, "Include confidential terminations", "false"),
        ],
    )
    .action(
        "list-company-managers",
        "The company's managers with their user ids (for update-employment's manager_id)",
        &[],
    )
}

/// Runs one action.
pub fn invoke(action: &str, params: &[Field]) -> Result<ActionOutput, Error> {
    match action {
        "update-employment" => update_employment(params),
        "list-offboardings" => list_offboardings(params),
        "list-company-managers" => list_all("/v1/company-managers", "company_managers", &[]),
        other => Err(Error::Unsupported(format!(
            "the remote connector has no action `{other}`; it has update-employment, list-offboardings, list-company-managers"
        ))),
    }
}

fn text(params: &[Field], name: &str) -> Option<String> {
    match param(params, name) {
        Some(FieldValue::Text(s)) => Some(s.clone()),
        Some(FieldValue::Integer(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn update_employment(params: &[Field]) -> Result<ActionOutput, Error> {
    let id = text(params, "employment_id").ok_or_else(|| {
        Error::InvalidData(invalid(
            None,
            Some("employment_id"),
            "update-employment needs `employment_id`",
        ))
    })?;
    let mut body = Map::new();
    for key in [
        "work_email",
        "external_id",
        "partner_external_id",
        "manager_id",
    ] {
        match param(params, key) {
            None => {}
            Some(FieldValue::Null) => {
                body.insert(key.to_string(), Value::Null);
            }
            Some(FieldValue::Text(s)) if s.is_empty() && key.contains("external_id") => {
                body.insert(key.to_string(), Value::Null);
            }
            Some(FieldValue::Text(s)) => {
                body.insert(key.to_string(), Value::String(s.clone()));
            }
            Some(other) => {
                return Err(Error::InvalidData(invalid(
                    Some(&id),
                    Some(key),
                    format!("`{key}` must be text, not {other:?}"),
                )));
            }
        }
    }
    if body.is_empty() {
        return Err(Error::InvalidData(invalid(
            Some(&id),
            None,
            "update-employment needs at least one of work_email, external_id, partner_external_id, manager_id",
        )));
    }
    let changed: Vec<String> = body.keys().cloned().collect();
    let path = format!("/v1/employments/{}", path_segment(&id)?);
    let answer: Value = http::patch_json(&path, &json!({ "employment": body }))?;
    Ok(ActionOutput {
        summary: format!("updated {} of employment {id}", changed.join(", ")),
        data: answer.to_string(),
    })
}

fn list_offboardings(params: &[Field]) -> Result<ActionOutput, Error> {
    let confidential = match param(params, "include_confidential") {
        Some(FieldValue::Boolean(b)) => *b,
        Some(FieldValue::Text(t)) => t == "true",
        _ => settings::flag("include_confidential", false)?,
    };
    let mut query = vec![
        ("type", "termination".to_string()),
        ("include_confidential", confidential.to_string()),
    ];
    if let Some(id) = text(params, "employment_id") {
        query.push(("employment_id", id));
    }
    list_all("/v1/offboardings", "offboardings", &query)
}

/// Reads every page of a list endpoint whose items are at `data.<key>`.
fn list_all(path: &str, key: &str, query: &[(&str, String)]) -> Result<ActionOutput, Error> {
    let mut items = Vec::new();
    let mut page = 1u32;
    loop {
        let mut q = query.to_vec();
        q.push(("page", page.to_string()));
        q.push(("page_size", "100".to_string()));
        let body: Value = http::get_json(path, &q)?;
        let data = &body["data"];
        items.extend(data[key].as_array().cloned().unwrap_or_default());
        let total_pages = data["total_pages"].as_u64().unwrap_or(1) as u32;
        match pagination::next_cursor(page, total_pages) {
            Some(_) => page += 1,
            None => break,
        }
    }
    Ok(ActionOutput {
        summary: format!("{} {key}", items.len()),
        data: Value::Array(items).to_string(),
    })
}
