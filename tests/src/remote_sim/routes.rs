//! HTTP routes and the gate every request passes first (statistics, rate limit, injected faults,
//! bearer-token check).

// Handlers return early with a ready `Response` as the error; its size does not matter here.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Map, Value, json};

use super::auth;
use super::faults::{Fault, ListQuirk};
use super::net::ConnControl;
use super::rate::RateHeaders;
use super::state::{ListFilter, SimHandle};
use super::workforce::{is_future_status, str_field};

/// Path of the token endpoint.
pub(crate) const TOKEN_PATH: &str = "/auth/oauth2/token";

/// Largest `page_size` Remote accepts.
const MAX_PAGE_SIZE: usize = 100;

/// The simulator's router.
pub(crate) fn router(sim: SimHandle) -> Router {
    Router::new()
        .route(TOKEN_PATH, post(auth::token))
        .route("/v1/employments", get(list_employments))
        .route(
            "/v1/employments/{id}",
            get(show_employment).patch(update_employment),
        )
        .route("/v1/company-managers", get(list_company_managers))
        .route("/v1/offboardings", get(list_offboardings))
        .route("/v1/offboardings/{id}", get(show_offboarding))
        .route("/v1/custom-fields", get(super::custom::list_custom_fields))
        .route(
            "/v1/custom-fields/{custom_field_id}/values/{employment_id}",
            get(super::custom::show_custom_field_value),
        )
        .route("/v1/timeoff", get(super::custom::list_timeoffs))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(sim.clone(), gate))
        .with_state(sim)
}

/// A JSON response.
pub(crate) fn reply(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// `{"message": …}` with a status.
pub(crate) fn message(status: StatusCode, text: &str) -> Response {
    reply(status, json!({ "message": text }))
}

/// 422 `{"errors": {field: [message]}}`.
fn unprocessable(field: &str, text: &str) -> Response {
    reply(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({ "errors": { field: [text] } }),
    )
}

/// Adds rate-limit headers, if any, to a response.
fn with_rate(mut response: Response, headers: Option<RateHeaders>) -> Response {
    if let Some(h) = headers {
        h.apply(response.headers_mut());
    }
    response
}

/// Runs before every handler: counts the request, applies the rate limit, serves an injected
/// fault if one is pending, and checks the bearer token of API requests.
async fn gate(
    State(sim): State<SimHandle>,
    ConnectInfo(conn): ConnectInfo<ConnControl>,
    request: Request,
    next: Next,
) -> Response {
    let now = Instant::now();
    let path = request.uri().path().to_owned();
    let token_request = path == TOKEN_PATH;
    let presented = auth::bearer(request.headers()).map(str::to_owned);
    let method = request.method().as_str().to_owned();
    let employments_page = (path == "/v1/employments").then(|| {
        request
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .find_map(|kv| kv.strip_prefix("page="))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(1)
    });

    let (decision, fault) = sim.with_state(|s| {
        s.stats.record(&method, &path, token_request);
        let decision = s.rate.record(now);
        if !decision.allowed {
            s.stats.too_many_requests += 1;
            s.stats.rate_limited += 1;
            return (decision, None);
        }
        let fault = s.faults.next(token_request, employments_page);
        if fault.is_some() {
            s.stats.faults_served += 1;
        }
        (decision, fault)
    });
    let rate = decision.headers;
    if !decision.allowed {
        return with_rate(
            message(StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
            rate,
        );
    }

    match fault {
        None => {}
        Some(Fault::Latency(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::TooManyRequests) => {
            let headers = sim.with_state(|s| {
                s.stats.too_many_requests += 1;
                s.rate.exhausted(now)
            });
            return with_rate(
                message(StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
                Some(headers),
            );
        }
        Some(Fault::ServerError(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let text = status.canonical_reason().unwrap_or("Server error");
            return with_rate(message(status, text), rate);
        }
        Some(Fault::DropConnection) => {
            conn.drop_connection();
            // Never reaches the client: writing it fails and the connection closes.
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
        Some(Fault::ExpiredToken) => {
            sim.with_state(|s| {
                if let Some(token) = &presented {
                    s.auth.revoke(token);
                }
                s.stats.unauthorized += 1;
            });
            return with_rate(message(StatusCode::UNAUTHORIZED, "Unauthorized"), rate);
        }
    }

    if !token_request {
        let authorized = sim.with_state(|s| match &presented {
            Some(token) => *token == s.config.api_token || s.auth.is_live(token),
            None => false,
        });
        if !authorized {
            sim.with_state(|s| s.stats.unauthorized += 1);
            return with_rate(message(StatusCode::UNAUTHORIZED, "Unauthorized"), rate);
        }
    }

    with_rate(next.run(request).await, rate)
}

/// Unknown routes.
async fn not_found() -> Response {
    message(StatusCode::NOT_FOUND, "Not Found")
}

/// Query parameters, or a 400 when they cannot be decoded.
pub(crate) type QueryParams = Result<Query<HashMap<String, String>>, QueryRejection>;

pub(crate) fn params(query: QueryParams) -> Result<HashMap<String, String>, Response> {
    query
        .map(|Query(q)| q)
        .map_err(|e| message(StatusCode::BAD_REQUEST, &format!("Invalid query: {e}")))
}

/// `page` (default 1) and `page_size` (default 20, at most 100).
pub(crate) fn pagination(q: &HashMap<String, String>) -> Result<(usize, usize), Response> {
    let number = |name: &str, default: usize| -> Result<usize, Response> {
        match q.get(name).map(|v| v.trim()) {
            None | Some("") => Ok(default),
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(n),
                _ => Err(unprocessable(name, "must be a positive integer")),
            },
        }
    };
    let page = number("page", 1)?;
    let size = number("page_size", 20)?;
    if size > MAX_PAGE_SIZE {
        return Err(unprocessable(
            "page_size",
            "must be less than or equal to 100",
        ));
    }
    Ok((page, size))
}

/// The slice of `total` items that page `page` of size `size` covers.
pub(crate) fn page_range(total: usize, page: usize, size: usize) -> std::ops::Range<usize> {
    let start = (page - 1).saturating_mul(size).min(total);
    start..start.saturating_add(size).min(total)
}

/// The pagination fields of a list response, plus `key: items`.
pub(crate) fn page_body(
    key: &str,
    items: Vec<Value>,
    page: usize,
    size: usize,
    total: usize,
) -> Value {
    json!({
        "data": {
            "current_page": page,
            "total_count": total,
            "total_pages": total.div_ceil(size),
            key: items,
        }
    })
}

/// A comma-separated filter, or none when absent or empty.
fn list_param(q: &HashMap<String, String>, name: &str) -> Option<Vec<String>> {
    let values: Vec<String> = q
        .get(name)?
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    (!values.is_empty()).then_some(values)
}

/// A single-valued filter, or none when absent or empty.
pub(crate) fn text_param(q: &HashMap<String, String>, name: &str) -> Option<String> {
    q.get(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// `GET /v1/employments`.
async fn list_employments(State(sim): State<SimHandle>, query: QueryParams) -> Response {
    let q = match params(query) {
        Ok(q) => q,
        Err(response) => return response,
    };
    let (page, size) = match pagination(&q) {
        Ok(p) => p,
        Err(response) => return response,
    };
    let statuses = list_param(&q, "status").map(|list| {
        let mut out = Vec::new();
        for s in list {
            if s == "incomplete" {
                out.extend(
                    super::workforce::STATUSES
                        .iter()
                        .filter(|s| is_future_status(s))
                        .map(|s| (*s).to_owned()),
                );
            } else {
                out.push(s);
            }
        }
        out
    });
    let filter = ListFilter {
        statuses,
        email: text_param(&q, "email"),
        name: text_param(&q, "name").map(|n| n.to_lowercase()),
        employment_model: list_param(&q, "employment_model"),
        employment_type: list_param(&q, "employment_type"),
        short_id: text_param(&q, "short_id"),
        partner_external_id: text_param(&q, "partner_external_id"),
    };
    let (items, total, quirk) = sim.with_state(|s| {
        let visible = s.visible(&filter);
        let range = match s.list_quirk {
            Some(ListQuirk::IgnoresPage) => page_range(visible.len(), 1, size),
            Some(ListQuirk::RepeatsAcrossPages) if page > 1 => {
                let r = page_range(visible.len(), page, size);
                r.start - 1..r.end
            }
            _ => page_range(visible.len(), page, size),
        };
        let items = visible[range]
            .iter()
            .map(|&i| s.render_list_item(i))
            .collect();
        (items, visible.len(), s.list_quirk.clone())
    });
    let mut body = page_body("employments", items, page, size, total);
    if quirk == Some(ListQuirk::IgnoresPage) {
        body["data"]["total_pages"] = json!(page + 1);
    }
    reply(StatusCode::OK, body)
}

/// `GET /v1/employments/{id}`.
async fn show_employment(State(sim): State<SimHandle>, Path(id): Path<String>) -> Response {
    let found = sim.with_state(|s| s.find_visible(&id).map(|i| s.render_detail(i)));
    match found {
        Some(e) => reply(StatusCode::OK, json!({ "data": { "employment": e } })),
        None => message(StatusCode::NOT_FOUND, "Employment not found"),
    }
}

/// `PATCH /v1/employments/{id}`: body `{"employment": {...}}` or the fields at top level.
async fn update_employment(
    State(sim): State<SimHandle>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let fields: Map<String, Value> = match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(mut top)) => match top.remove("employment") {
            Some(Value::Object(inner)) if top.is_empty() => inner,
            Some(other) => {
                top.insert("employment".into(), other);
                top
            }
            None => top,
        },
        Ok(_) => return message(StatusCode::BAD_REQUEST, "The body must be a JSON object"),
        Err(e) => return message(StatusCode::BAD_REQUEST, &format!("Invalid JSON body: {e}")),
    };
    let result = sim.with_state(|s| {
        let i = s.find_visible(&id)?;
        Some(s.api_patch(i, &fields).map(|()| s.render_detail(i)))
    });
    match result {
        None => message(StatusCode::NOT_FOUND, "Employment not found"),
        Some(Ok(e)) => reply(StatusCode::OK, json!({ "data": { "employment": e } })),
        Some(Err(errors)) => reply(
            StatusCode::UNPROCESSABLE_ENTITY,
            json!({ "errors": errors }),
        ),
    }
}

/// `GET /v1/company-managers`.
async fn list_company_managers(State(sim): State<SimHandle>, query: QueryParams) -> Response {
    let q = match params(query) {
        Ok(q) => q,
        Err(response) => return response,
    };
    let (page, size) = match pagination(&q) {
        Ok(p) => p,
        Err(response) => return response,
    };
    let company = text_param(&q, "company_id");
    let (items, total) = sim.with_state(|s| {
        let all = if company.as_ref().is_some_and(|c| *c != s.company_id) {
            Vec::new()
        } else {
            s.render_managers()
        };
        let total = all.len();
        let items = all[page_range(total, page, size)].to_vec();
        (items, total)
    });
    reply(
        StatusCode::OK,
        page_body("company_managers", items, page, size, total),
    )
}

/// `GET /v1/offboardings`.
async fn list_offboardings(State(sim): State<SimHandle>, query: QueryParams) -> Response {
    let q = match params(query) {
        Ok(q) => q,
        Err(response) => return response,
    };
    let (page, size) = match pagination(&q) {
        Ok(p) => p,
        Err(response) => return response,
    };
    let employment_id = text_param(&q, "employment_id");
    let kind = text_param(&q, "type");
    let include_confidential = q
        .get("include_confidential")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    let (items, total) = sim.with_state(|s| {
        let matching: Vec<&Map<String, Value>> = s
            .offboardings()
            .iter()
            .filter(|o| {
                employment_id
                    .as_ref()
                    .is_none_or(|id| str_field(o, "employment_id") == id)
                    && kind.as_ref().is_none_or(|k| str_field(o, "type") == k)
                    && (include_confidential
                        || !o
                            .get("confidential")
                            .and_then(Value::as_bool)
                            .unwrap_or(false))
            })
            .collect();
        let total = matching.len();
        let items = matching[page_range(total, page, size)]
            .iter()
            .map(|o| Value::Object((*o).clone()))
            .collect();
        (items, total)
    });
    reply(
        StatusCode::OK,
        page_body("offboardings", items, page, size, total),
    )
}

/// `GET /v1/offboardings/{id}`.
async fn show_offboarding(State(sim): State<SimHandle>, Path(id): Path<String>) -> Response {
    let found = sim.with_state(|s| {
        s.offboardings()
            .iter()
            .find(|o| str_field(o, "id") == id)
            .cloned()
    });
    match found {
        Some(o) => reply(StatusCode::OK, json!({ "data": { "offboarding": o } })),
        None => message(StatusCode::NOT_FOUND, "Offboarding not found"),
    }
}
