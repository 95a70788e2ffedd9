//! Remote's webhooks: signature, freshness, and event types → HR events.

use hrsync_sdk::prelude::*;

/// How far a signed timestamp may be from now: 5 minutes.
pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;

/// The secret (in the connector's host config) that Remote's `signing_key` is stored under.
pub const SECRET: &str = "webhook_secret";

/// Every documented Remote event type and what it means for the engine.
pub const EVENTS: &[(&str, EventKind)] = &[
    ("employment.onboarding.started", EventKind::Hired),
    ("employment.onboarding.completed", EventKind::Hired),
    ("employment.onboarding.cancelled", EventKind::StatusChanged),
    ("employment.onboarding_task.completed", EventKind::Updated),
    ("employment.details.updated", EventKind::Updated),
    (
        "employment.personal_information.updated",
        EventKind::Updated,
    ),
    ("employment.account.updated", EventKind::Updated),
    ("employment.updated", EventKind::Updated),
    ("employment.start_date.changed", EventKind::Updated),
    ("employment.work_email.updated", EventKind::Updated),
    ("employment.status.updated", EventKind::StatusChanged),
    ("employment.user_status.activated", EventKind::StatusChanged),
    (
        "employment.user_status.deactivated",
        EventKind::StatusChanged,
    ),
    ("employment.user_status.invited", EventKind::StatusChanged),
    ("employment.user_status.initiated", EventKind::StatusChanged),
    ("employment.hard_deleted", EventKind::Deleted),
    ("offboarding.submitted", EventKind::Terminated),
    ("offboarding.review_started", EventKind::Terminated),
    ("offboarding.done", EventKind::Terminated),
    ("offboarding.deleted", EventKind::StatusChanged),
    ("contract.termination_date_reached", EventKind::Terminated),
];

/// Verifies a delivery and reads its event. `now_ms` is the current time in milliseconds.
pub fn parse(request: &WebhookRequest, now_ms: i64) -> Result<Vec<HrEvent>, WebhookError> {
    let signature = webhook::header(request, "x-remote-signature").ok_or_else(|| {
        WebhookError::BadSignature("the X-Remote-Signature header is missing".into())
    })?;
    let timestamp = webhook::header(request, "x-remote-timestamp").ok_or_else(|| {
        WebhookError::BadSignature("the X-Remote-Timestamp header is missing".into())
    })?;
    let ts: i64 = timestamp.trim().parse().map_err(|_| {
        WebhookError::BadSignature(format!(
            "X-Remote-Timestamp `{timestamp}` is not milliseconds"
        ))
    })?;

    let mut signed = request.body.clone();
    signed.push(b':');
    signed.extend_from_slice(timestamp.trim().as_bytes());
    webhook::verify_hmac_sha256(SECRET, &signed, signature)?;

    if (now_ms - ts).abs() > MAX_SKEW_MS {
        return Err(WebhookError::Stale(format!(
            "the delivery was signed {} s from now; at most {} s are accepted",
            (now_ms - ts) / 1000,
            MAX_SKEW_MS / 1000
        )));
    }

    let body: serde_json::Value = serde_json::from_slice(&request.body)
        .map_err(|e| WebhookError::Malformed(format!("the body is not JSON: {e}")))?;
    let event_type = body["event_type"]
        .as_str()
        .ok_or_else(|| WebhookError::Malformed("the body has no `event_type`".into()))?;
    let person_id = body["employment_id"]
        .as_str()
        .or_else(|| body["employment_slug"].as_str())
        .map(str::to_string);
    let kind = EVENTS
        .iter()
        .find(|(t, _)| *t == event_type)
        .map_or(EventKind::Unrecognized, |(_, k)| *k);
    if kind == EventKind::Unrecognized {
        log::warn(&format!(
            "unrecognized Remote event type `{event_type}`; reporting it as such"
        ));
    }
    Ok(vec![HrEvent {
        kind,
        source_type: event_type.to_string(),
        dedupe_key: format!(
            "{event_type}:{}:{}",
            person_id.as_deref().unwrap_or("-"),
            ts
        ),
        person_id,
    }])
}
