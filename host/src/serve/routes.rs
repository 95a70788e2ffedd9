//! HTTP: `POST /webhooks/{connector}`, `GET /healthz`, `GET /readyz`, `GET /metrics`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::App;
use crate::connector::{EventKind, WebhookRefusal};

/// The largest webhook body accepted.
const MAX_BODY: usize = 1 << 20;

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/webhooks/{connector}", post(webhook))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}

async fn webhook(
    State(app): State<Arc<App>>,
    Path(connector): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !app.accepting.load(Ordering::SeqCst) {
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": "shutting down; deliver again later"}),
        );
    }
    if connector != app.engine.connector().name() {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": format!("no connector named `{connector}`")}),
        );
    }
    let headers: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| {
            Some((
                k.as_str().to_ascii_lowercase(),
                v.to_str().ok()?.to_string(),
            ))
        })
        .collect();
    let parsed = app
        .engine
        .connector()
        .parse_webhook(headers, body.to_vec())
        .await;
    let events = match parsed {
        Ok(Ok(events)) => events,
        Ok(Err(WebhookRefusal::BadSignature(m) | WebhookRefusal::Stale(m))) => {
            app.metrics.webhooks_rejected.inc();
            tracing::warn!(connector, reason = %m, "webhook refused");
            return answer(StatusCode::UNAUTHORIZED, json!({"error": m}));
        }
        Ok(Err(WebhookRefusal::Malformed(m))) => {
            app.metrics.webhooks_rejected.inc();
            return answer(StatusCode::BAD_REQUEST, json!({"error": m}));
        }
        Ok(Err(WebhookRefusal::Other(m))) => {
            tracing::error!(connector, error = %m, "webhook could not be verified");
            app.metrics.errors.inc();
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "the webhook could not be processed"}),
            );
        }
        Err(e) => {
            // Internal details stay in the log, not in the answer.
            tracing::error!(connector, error = %e, "the plugin failed on a webhook");
            app.metrics.errors.inc();
            return answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": "the webhook could not be processed"}),
            );
        }
    };
    let rows: Vec<(String, String, String, Option<String>)> = events
        .iter()
        .map(|e| {
            (
                e.dedupe_key.clone(),
                e.kind.as_str().to_string(),
                e.source_type.clone(),
                e.person_id.clone(),
            )
        })
        .collect();
    for e in events.iter().filter(|e| e.kind == EventKind::Unrecognized) {
        tracing::warn!(connector, event_type = %e.source_type, "an event type the connector does not recognize was stored");
    }
    match app.engine.store().enqueue_events(&connector, &rows) {
        Ok(new) => {
            app.metrics.webhooks_received.inc();
            app.wake.notify_one();
            answer(
                StatusCode::OK,
                json!({"accepted": new, "duplicates": rows.len() - new}),
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot store a webhook event");
            app.metrics.errors.inc();
            // Not stored: not acknowledged, so the HR system delivers it again.
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({"error": "cannot store the event now; deliver again later"}),
            )
        }
    }
}

/// `200 {"ready": true}`, or `503 {"ready": false, "reasons": [...]}` naming each reason:
/// shutting down, the store unreadable, an event worker down after a panic, or the queue stalled
/// (no event finished for `stall_after` while events wait or are in progress).
async fn ready(State(app): State<Arc<App>>) -> Response {
    let mut reasons = Vec::new();
    if !app.accepting.load(Ordering::SeqCst) {
        reasons.push("shutting down".to_string());
    }
    match app.engine.store().queue_depth() {
        Ok((depth, _)) => reasons.extend(app.health.problems(depth, app.options.stall_after)),
        Err(e) => reasons.push(format!("the store cannot be read: {e}")),
    }
    if reasons.is_empty() {
        answer(StatusCode::OK, json!({"ready": true}))
    } else {
        tracing::debug!(?reasons, "not ready");
        answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"ready": false, "reasons": reasons}),
        )
    }
}

async fn metrics(State(app): State<Arc<App>>) -> Response {
    let text = app.metrics.render(&app.engine);
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
