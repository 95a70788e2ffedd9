//! BambooHR's webhooks (global or permissioned, JSON format): signature, freshness, events.
//!
//! BambooHR signs a delivery with the webhook's private key: `X-BambooHR-Signature` is the hex
//! HMAC-SHA256 of the raw body followed by the `X-BambooHR-Timestamp` header's value. The key is
//! the connector's `webhook_secret`; the host checks the HMAC, the plugin never sees the key. A
//! timestamp more than 5 minutes from now is refused (a replay).
//!
//! The body lists employees: `{"employees": [{"id": "7", "action": "Updated", "timestamp": …,
//! "changedFields": [...], "fields": {...}}]}` (global webhooks), or with `employeeId` and a
//! top-level `type` such as `employee.updated` (permissioned ones). Each employee is one event;
//! hrsync fetches that person's detail at once, so the posted fields are not read.

use hrsync_sdk::prelude::*;
use serde_json::Value;

/// How far a signed timestamp may be from now: 5 minutes.
pub const MAX_SKEW_SECS: i64 = 5 * 60;

/// The connector secret holding the webhook's private key.
pub const SECRET: &str = "webhook_secret";

/// The event types this connector knows (an employee's `action`, or a permissioned webhook's
/// `type`) and what they mean for the engine.
pub const EVENTS: &[(&str, EventKind)] = &[
    ("Created", EventKind::Hired),
    ("Updated", EventKind::Updated),
    ("Deleted", EventKind::Deleted),
    ("employee.created", EventKind::Hired),
    ("employee.updated", EventKind::Updated),
    ("employee_with_fields.updated", EventKind::Updated),
    ("employee.deleted", EventKind::Deleted),
];

/// Changed fields (by their English names, as BambooHR posts them) that make an update a status
/// change: the person's lifecycle must be looked at again.
const STATUS_FIELDS: &[&str] = &[
    "Status",
    "Employment Status",
    "Employment Status: Date",
    "Hire Date",
    "Termination Date",
    "status",
    "employmentHistoryStatus",
    "hireDate",
    "terminationDate",
];

/// Verifies a delivery and reads its events. `now_secs` is the current Unix time in seconds.
pub fn parse(request: &WebhookRequest, now_secs: i64) -> Result<Vec<HrEvent>, WebhookError> {
    let signature = webhook::header(request, "x-bamboohr-signature").ok_or_else(|| {
        WebhookError::BadSignature("the X-BambooHR-Signature header is missing".into())
    })?;
    let timestamp = webhook::header(request, "x-bamboohr-timestamp")
        .map(str::trim)
        .ok_or_else(|| {
            WebhookError::BadSignature("the X-BambooHR-Timestamp header is missing".into())
        })?;
    let ts: i64 = timestamp.parse().map_err(|_| {
        WebhookError::BadSignature(format!(
            "X-BambooHR-Timestamp `{timestamp}` is not a Unix time"
        ))
    })?;

    let mut signed = request.body.clone();
    signed.extend_from_slice(timestamp.as_bytes());
    webhook::verify_hmac_sha256(SECRET, &signed, signature)?;

    // Seconds; a value in milliseconds is taken as such.
    let ts_secs = if ts > 100_000_000_000 { ts / 1000 } else { ts };
    if (now_secs - ts_secs).abs() > MAX_SKEW_SECS {
        return Err(WebhookError::Stale(format!(
            "the delivery was signed {} s from now; at most {MAX_SKEW_SECS} s are accepted",
            now_secs - ts_secs
        )));
    }

    let body: Value = serde_json::from_slice(&request.body).map_err(|e| {
        WebhookError::Malformed(format!(
            "the body is not JSON ({e}); set the BambooHR webhook's format to JSON"
        ))
    })?;
    let Some(employees) = body["employees"].as_array() else {
        return Err(WebhookError::Malformed(
            "the body has no `employees` list".into(),
        ));
    };
    let top_type = body["type"].as_str().or_else(|| body["eventType"].as_str());
    let mut events = Vec::with_capacity(employees.len());
    for employee in employees {
        let person_id =
            ids::from_json(&employee["id"]).or_else(|| ids::from_json(&employee["employeeId"]));
        let source_type = employee["action"]
            .as_str()
            .or(top_type)
            .unwrap_or("")
            .to_string();
        let mut kind = EVENTS
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(&source_type))
            .map_or(EventKind::Unrecognized, |(_, k)| *k);
        let changed = employee["changedFields"].as_array();
        if kind == EventKind::Updated
            && changed
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .any(|f| STATUS_FIELDS.contains(&f))
        {
            kind = EventKind::StatusChanged;
        }
        if kind == EventKind::Unrecognized {
            log::warn(&format!(
                "unrecognized BambooHR webhook action `{source_type}`; reporting it as such"
            ));
        }
        let at = employee["timestamp"]
            .as_str()
            .map_or_else(|| timestamp.to_string(), str::to_string);
        events.push(HrEvent {
            kind,
            dedupe_key: format!("{source_type}:{}:{at}", person_id.as_deref().unwrap_or("-")),
            source_type,
            person_id,
        });
    }
    Ok(events)
}
