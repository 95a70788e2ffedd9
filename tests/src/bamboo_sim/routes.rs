//! HTTP routes under `/api/gateway.php/{companyDomain}/v1`, and the gate every request passes
//! first (statistics, rate limit, injected faults, Basic-auth check, company check).

// Handlers return early with a ready `Response` as the error; its size does not matter here.
#![allow(clippy::result_large_err)]

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use super::person::{
    ChangeAction, DIRECTORY_FIELDS, Person, RenderContext, Status, field_meta, format_timestamp,
};
use super::state::{BambooHandle, BambooState, Fault, route_of};

/// Header BambooHR puts its error text in.
pub const ERROR_HEADER: &str = "x-bamboohr-error-message";

/// Most fields one request may ask for (BambooHR's limit for Get Employee and custom reports).
const MAX_FIELDS: usize = 400;

/// The simulator's router.
pub(crate) fn router(sim: BambooHandle) -> Router {
    let api = Router::new()
        .route("/employees/directory", get(directory))
        .route("/employees/changed", get(changed))
        .route("/employees/{id}", get(employee))
        .route("/reports/custom", post(custom_report));
    Router::new()
        .nest("/api/gateway.php/{company}/v1", api)
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(sim.clone(), gate))
        .with_state(sim)
}

/// An empty-bodied error with BambooHR's error header.
fn error(status: StatusCode, text: &str) -> Response {
    let mut response = status.into_response();
    if let Ok(value) = HeaderValue::from_str(text) {
        response.headers_mut().insert(ERROR_HEADER, value);
    }
    response
}

async fn not_found() -> Response {
    error(StatusCode::NOT_FOUND, "Not found")
}

/// Splits `/api/gateway.php/{company}/v1/rest` into `(company, "/rest")`.
fn split_base(path: &str) -> Option<(&str, &str)> {
    let rest = path.strip_prefix("/api/gateway.php/")?;
    let (company, rest) = rest.split_once('/')?;
    let rest = rest.strip_prefix("v1")?;
    (rest.is_empty() || rest.starts_with('/')).then_some((company, rest))
}

/// The API key of a `Basic` authorization header (the username; the password is ignored).
fn basic_user(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, _password) = text.split_once(':').unwrap_or((text.as_str(), ""));
    Some(user.to_owned())
}

/// Whole seconds to wait, rounded up, at least 1.
fn retry_after(wait: Duration) -> u64 {
    wait.as_millis()
        .div_ceil(1000)
        .max(1)
        .try_into()
        .unwrap_or(u64::MAX)
}

fn throttled(status: u16, wait: Duration) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let mut response = error(status, "API rate limit exceeded");
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after(wait)));
    response
}

/// Runs before every handler: counts the request, applies the rate limit, serves an injected
/// fault if one is pending, checks the API key, then the company domain.
async fn gate(State(sim): State<BambooHandle>, request: Request, next: Next) -> Response {
    let now = Instant::now();
    let path = request.uri().path().to_owned();
    let method = request.method().as_str().to_owned();
    let user = basic_user(request.headers());

    enum Verdict {
        Throttled(u16, Duration),
        Fault(Fault, u16, Duration),
        Unauthorized,
        UnknownCompany,
        Pass,
    }

    let verdict = sim.with_state(|s| {
        // Paths under this company's base are counted relative to it; others in full.
        let (company, relative) = match split_base(&path) {
            Some((company, rest)) if company == s.config.company_domain => {
                (Some(company.to_owned()), rest.to_owned())
            }
            Some((company, _)) => (Some(company.to_owned()), path.clone()),
            None => (None, path.clone()),
        };
        s.stats.total_requests += 1;
        *s.stats.per_path.entry(relative.clone()).or_default() += 1;
        *s.stats
            .per_route
            .entry(route_of(&method, &relative))
            .or_default() += 1;

        let limited = s.limiter.record(now);
        s.stats.max_requests_in_window = s.stats.max_requests_in_window.max(s.limiter.count);
        let status = s.config.throttle_status;
        if let Err(wait) = limited {
            s.stats.throttled += 1;
            s.stats.rate_limited += 1;
            return Verdict::Throttled(status, wait);
        }
        if let Some(fault) = s.faults.pop_front() {
            s.stats.faults_served += 1;
            if fault == Fault::Throttled {
                s.stats.throttled += 1;
            }
            return Verdict::Fault(fault, status, s.limiter.wait(now));
        }
        if user.as_deref() != Some(s.config.api_key.as_str()) {
            s.stats.unauthorized += 1;
            return Verdict::Unauthorized;
        }
        if company.as_deref() != Some(s.config.company_domain.as_str()) {
            return Verdict::UnknownCompany;
        }
        Verdict::Pass
    });

    match verdict {
        Verdict::Throttled(status, wait) | Verdict::Fault(Fault::Throttled, status, wait) => {
            return throttled(status, wait);
        }
        Verdict::Fault(Fault::ServerError(code), _, _) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(status, status.canonical_reason().unwrap_or("Server error"));
        }
        Verdict::Fault(Fault::Latency(delay), _, _) => tokio::time::sleep(delay).await,
        Verdict::Unauthorized => {
            let mut response = error(StatusCode::UNAUTHORIZED, "Invalid API key");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"BambooHR API\""),
            );
            return response;
        }
        Verdict::UnknownCompany => return error(StatusCode::NOT_FOUND, "Unknown company"),
        Verdict::Pass => {}
    }
    next.run(request).await
}

// ---------------------------------------------------------------------------------------------
// Formats
// ---------------------------------------------------------------------------------------------

/// JSON when the client accepts `application/json`; XML (BambooHR's default) otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

fn negotiate(headers: &HeaderMap) -> Format {
    let wants_json = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if wants_json {
        Format::Json
    } else {
        Format::Xml
    }
}

fn json_reply(body: Value) -> Response {
    (StatusCode::OK, Json(body)).into_response()
}

fn xml_reply(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        format!("<?xml version=\"1.0\"?>\n{body}\n"),
    )
        .into_response()
}

/// Escapes text for XML content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// `<field id="…">value</field>`, or an empty element for `null`.
fn xml_field(id: &str, value: &Value) -> String {
    match value {
        Value::Null => format!("<field id=\"{}\"/>", esc(id)),
        Value::String(s) => format!("<field id=\"{}\">{}</field>", esc(id), esc(s)),
        other => format!(
            "<field id=\"{}\">{}</field>",
            esc(id),
            esc(&other.to_string())
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

type QueryParams = Result<Query<HashMap<String, String>>, QueryRejection>;

fn params(query: QueryParams) -> Result<HashMap<String, String>, Response> {
    query
        .map(|Query(q)| q)
        .map_err(|e| error(StatusCode::BAD_REQUEST, &format!("Invalid query: {e}")))
}

/// `onlyCurrent`: true unless `false` / `0` / `no`.
fn only_current(q: &HashMap<String, String>) -> bool {
    !q.get("onlyCurrent")
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "false" | "0" | "no"))
}

/// Is `id` a field this company has: standard, or a custom one somebody carries.
fn field_exists(s: &BambooState, id: &str) -> bool {
    field_meta(id).is_some() || s.people.values().any(|p| p.extra.contains_key(id))
}

/// Requested field ids, deduplicated, `id` dropped (always sent); 406 when one does not exist,
/// 400 when there are too many.
fn requested_fields<'a>(
    s: &BambooState,
    names: impl Iterator<Item = &'a str>,
) -> Result<Vec<String>, Response> {
    let mut seen = BTreeSet::new();
    let mut fields = Vec::new();
    for name in names.map(str::trim).filter(|n| !n.is_empty() && *n != "id") {
        if !field_exists(s, name) {
            return Err(error(
                StatusCode::NOT_ACCEPTABLE,
                &format!("Unknown field: {name}"),
            ));
        }
        if seen.insert(name.to_owned()) {
            fields.push(name.to_owned());
        }
    }
    if fields.len() > MAX_FIELDS {
        return Err(error(
            StatusCode::BAD_REQUEST,
            &format!("At most {MAX_FIELDS} fields may be requested"),
        ));
    }
    Ok(fields)
}

/// `{"id": …, field: value…}` of one person.
fn render(
    s: &BambooState,
    p: &Person,
    fields: &[String],
    hide_future_job: bool,
) -> Map<String, Value> {
    let ctx = RenderContext {
        supervisor: s.supervisor_of(p),
        hide_future_job,
        photo_base: "https://resources.bamboohr.com",
    };
    let mut out = Map::new();
    out.insert("id".to_owned(), Value::String(p.id.to_string()));
    for f in fields {
        out.insert(f.clone(), p.field_value(f, &ctx).unwrap_or(Value::Null));
    }
    out
}

/// `[{"id", "type", "name"}]` for a field list.
fn field_list(fields: &[String]) -> Vec<Value> {
    fields
        .iter()
        .map(|f| {
            let (kind, name) = field_meta(f).unwrap_or(("text", f.as_str()));
            json!({ "id": f, "type": kind, "name": name })
        })
        .collect()
}

fn xml_fieldset(fields: &[String]) -> String {
    let mut out = String::from("<fieldset>");
    for f in fields {
        let (_, name) = field_meta(f).unwrap_or(("text", f.as_str()));
        out.push_str(&format!("<field id=\"{}\">{}</field>", esc(f), esc(name)));
    }
    out.push_str("</fieldset>");
    out
}

fn xml_employee(record: &Map<String, Value>) -> String {
    let id = record.get("id").and_then(Value::as_str).unwrap_or_default();
    let mut out = format!("<employee id=\"{}\">", esc(id));
    for (k, v) in record.iter().filter(|(k, _)| k.as_str() != "id") {
        out.push_str(&xml_field(k, v));
    }
    out.push_str("</employee>");
    out
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

/// `GET /employees/directory`: active people (pre-hires only with `onlyCurrent=false`), the
/// directory fieldset. 403 when the directory is disabled, 404 when nobody is in it.
async fn directory(
    State(sim): State<BambooHandle>,
    headers: HeaderMap,
    query: QueryParams,
) -> Response {
    let q = match params(query) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let current = only_current(&q);
    let format = negotiate(&headers);
    let fields: Vec<String> = DIRECTORY_FIELDS.iter().map(|f| (*f).to_owned()).collect();
    let records = sim.with_state(|s| {
        if !s.directory_enabled {
            return Err(error(
                StatusCode::FORBIDDEN,
                "The company directory is not enabled",
            ));
        }
        let today = s.today;
        let records: Vec<Map<String, Value>> = s
            .people
            .values()
            .filter(|p| p.status == Status::Active)
            .filter(|p| !current || !p.is_pre_hire(today))
            .map(|p| render(s, p, &fields, false))
            .collect();
        Ok(records)
    });
    let records = match records {
        Ok(r) if r.is_empty() => return error(StatusCode::NOT_FOUND, "The directory is empty"),
        Ok(r) => r,
        Err(r) => return r,
    };
    match format {
        Format::Json => json_reply(json!({
            "fields": field_list(&fields),
            "employees": records,
        })),
        Format::Xml => {
            let mut body = String::from("<directory>");
            body.push_str(&xml_fieldset(&fields));
            body.push_str("<employees>");
            for r in &records {
                body.push_str(&xml_employee(r));
            }
            body.push_str("</employees></directory>");
            xml_reply(body)
        }
    }
}

/// `GET /employees/{id}?fields=a,b&onlyCurrent=`: `id` plus the fields asked for. Id 0 is the
/// API key's own employee ([`super::BambooConfig::key_owner`]). A pre-hire's job fields are
/// `null` unless `onlyCurrent=false`.
async fn employee(
    State(sim): State<BambooHandle>,
    Path((_company, id)): Path<(String, String)>,
    headers: HeaderMap,
    query: QueryParams,
) -> Response {
    let q = match params(query) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let current = only_current(&q);
    let format = negotiate(&headers);
    let Ok(id) = id.trim().parse::<u32>() else {
        return error(StatusCode::NOT_FOUND, "Employee not found");
    };
    let record = sim.with_state(|s| {
        let id = if id == 0 { s.config.key_owner } else { id };
        let fields = requested_fields(s, q.get("fields").map_or("", String::as_str).split(','))?;
        let p = s
            .people
            .get(&id)
            .ok_or_else(|| error(StatusCode::NOT_FOUND, "Employee not found"))?;
        Ok(render(s, p, &fields, current && p.is_pre_hire(s.today)))
    });
    match (record, format) {
        (Err(r), _) => r,
        (Ok(r), Format::Json) => json_reply(Value::Object(r)),
        (Ok(r), Format::Xml) => xml_reply(xml_employee(&r)),
    }
}

/// Parses `since`: RFC 3339 (`Z`, `±hh:mm`) or `±hhmm`; a `+` decoded to a space (an unencoded
/// `+` in the query) is taken back.
fn parse_since(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim().replace(' ', "+");
    DateTime::parse_from_rfc3339(&text)
        .or_else(|_| DateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%z"))
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// `GET /employees/changed?since=…&type=inserted|updated|deleted`: `{"latest", "employees":
/// {"id": {"id", "action", "lastChanged"}}}` for every change at or after `since`.
async fn changed(
    State(sim): State<BambooHandle>,
    headers: HeaderMap,
    query: QueryParams,
) -> Response {
    let q = match params(query) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let Some(since) = q.get("since").and_then(|s| parse_since(s)) else {
        return error(
            StatusCode::BAD_REQUEST,
            "The since parameter is missing or is not an ISO 8601 timestamp",
        );
    };
    let wanted = match q.get("type").map(|t| t.trim().to_ascii_lowercase()) {
        None => None,
        Some(t) if t.is_empty() || t == "all" => None,
        Some(t) => match t.as_str() {
            "inserted" => Some(ChangeAction::Inserted),
            "updated" => Some(ChangeAction::Updated),
            "deleted" => Some(ChangeAction::Deleted),
            _ => return error(StatusCode::BAD_REQUEST, "Invalid type"),
        },
    };
    let mut entries: Vec<(u32, ChangeAction, DateTime<Utc>)> = sim.with_state(|s| {
        let live = s
            .people
            .values()
            .map(|p| (p.id, p.last_action, p.last_changed));
        let gone = s
            .deleted
            .iter()
            .map(|(id, at)| (*id, ChangeAction::Deleted, *at));
        live.chain(gone)
            .filter(|(_, action, at)| *at >= since && wanted.is_none_or(|w| w == *action))
            .collect()
    });
    entries.sort_by_key(|(id, _, at)| (std::cmp::Reverse(*at), *id));
    let latest = entries.iter().map(|(_, _, at)| *at).max();
    match negotiate(&headers) {
        Format::Json => {
            let mut employees = Map::new();
            for (id, action, at) in &entries {
                employees.insert(
                    id.to_string(),
                    json!({
                        "id": id.to_string(),
                        "action": action.as_str(),
                        "lastChanged": format_timestamp(*at),
                    }),
                );
            }
            json_reply(json!({
                "latest": latest.map(format_timestamp),
                "employees": employees,
            }))
        }
        Format::Xml => {
            let mut body = match latest {
                Some(at) => format!("<employees latest=\"{}\">", format_timestamp(at)),
                None => "<employees>".to_owned(),
            };
            for (id, action, at) in &entries {
                body.push_str(&format!(
                    "<employee id=\"{id}\" action=\"{}\" lastChanged=\"{}\"/>",
                    action.as_str(),
                    format_timestamp(*at)
                ));
            }
            body.push_str("</employees>");
            xml_reply(body)
        }
    }
}

/// `POST /reports/custom?format=JSON|XML&onlyCurrent=`: body `{"title", "fields": [...],
/// "filters": {"lastChanged": {"includeNull": "yes|no", "value": ts}}}`. Everybody, inactive
/// people included; pre-hires only with `onlyCurrent=false`.
async fn custom_report(
    State(sim): State<BambooHandle>,
    query: QueryParams,
    body: Bytes,
) -> Response {
    let q = match params(query) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let format = match q.get("format").map(|f| f.trim().to_ascii_uppercase()) {
        Some(f) if f == "JSON" => Format::Json,
        Some(f) if f == "XML" => Format::Xml,
        Some(f) if ["CSV", "PDF", "XLS"].contains(&f.as_str()) => {
            return error(
                StatusCode::BAD_REQUEST,
                "The simulator serves custom reports as JSON or XML only",
            );
        }
        _ => return error(StatusCode::BAD_REQUEST, "Missing or invalid format"),
    };
    let current = only_current(&q);
    let Ok(request) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "The report request is not JSON");
    };
    let title = request["title"].as_str().unwrap_or("Report").to_owned();
    let Some(names) = request["fields"].as_array() else {
        return error(StatusCode::BAD_REQUEST, "The report request has no fields");
    };
    let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
    let changed_filter = &request["filters"]["lastChanged"];
    let changed_since = match changed_filter["value"].as_str() {
        None => None,
        Some(v) => match parse_since(v) {
            Some(at) => Some(at),
            None => return error(StatusCode::BAD_REQUEST, "Invalid lastChanged filter"),
        },
    };
    let report = sim.with_state(|s| {
        let fields = requested_fields(s, names.iter().copied())?;
        let today = s.today;
        let records: Vec<Map<String, Value>> = s
            .people
            .values()
            .filter(|p| !current || !p.is_pre_hire(today))
            .filter(|p| changed_since.is_none_or(|since| p.last_changed >= since))
            .map(|p| render(s, p, &fields, false))
            .collect();
        Ok((fields, records))
    });
    let (fields, records) = match report {
        Ok(r) => r,
        Err(r) => return r,
    };
    match format {
        Format::Json => json_reply(json!({
            "title": title,
            "fields": field_list(&fields),
            "employees": records,
        })),
        Format::Xml => {
            let mut body = format!("<report><title>{}</title>", esc(&title));
            body.push_str(&xml_fieldset(&fields));
            body.push_str("<employees>");
            for r in &records {
                body.push_str(&xml_employee(r));
            }
            body.push_str("</employees></report>");
            xml_reply(body)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::person::KNOWN_FIELDS;
    use super::*;

    #[test]
    fn base_paths_split() {
        assert_eq!(
            split_base("/api/gateway.php/acme/v1/employees/3"),
            Some(("acme", "/employees/3"))
        );
        assert_eq!(split_base("/api/gateway.php/acme/v2/x"), None);
        assert_eq!(split_base("/employees/3"), None);
    }

    #[test]
    fn since_accepts_documented_forms() {
        for text in [
            "2011-06-02T19:26:23Z",
            "2011-06-02T19:26:23+00:00",
            "2011-06-02T19:26:23+0000",
            "2011-06-02T19:26:23 00:00",
            "2011-06-02T21:26:23+02:00",
        ] {
            assert_eq!(
                parse_since(text).map(format_timestamp).as_deref(),
                Some("2011-06-02T19:26:23+00:00"),
                "{text}"
            );
        }
        assert_eq!(parse_since("yesterday"), None);
    }

    #[test]
    fn known_fields_are_unique() {
        let ids: BTreeSet<&str> = KNOWN_FIELDS.iter().map(|(id, _, _)| *id).collect();
        assert_eq!(ids.len(), KNOWN_FIELDS.len());
    }
}
