//! BambooHR's v1 API through the host: paths under the company's gateway, the fields asked for,
//! and error answers (BambooHR puts its message in a header, not the body).

use hrsync_sdk::http::{self, Method, Response};
use hrsync_sdk::prelude::*;
use serde_json::Value;

/// The header BambooHR writes its error text in (error bodies are empty).
pub const ERROR_HEADER: &str = "x-bamboohr-error-message";

/// The BambooHR fields every list record and detail asks for, and what they become:
/// the typed facts, the fields of [`crate::mapping::FIELDS`], and `raw`.
pub const FIELDS: &[&str] = &[
    "employeeNumber",
    "firstName",
    "middleName",
    "lastName",
    "preferredName",
    "displayName",
    "workEmail",
    "jobTitle",
    "department",
    "division",
    "location",
    "status",
    "employmentHistoryStatus",
    "hireDate",
    "terminationDate",
    "supervisorEId",
    "supervisorId",
    "supervisor",
    "lastChanged",
];

/// The connector's settings (`[connectors.bamboohr.settings]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `company_domain`: the `{companyDomain}` of `/api/gateway.php/{companyDomain}/v1`.
    pub company_domain: String,
    /// `extra_fields`: more BambooHR field names (comma-separated), kept in `raw`.
    pub extra_fields: Vec<String>,
}

impl Settings {
    /// Reads and checks the settings.
    pub fn read() -> Result<Settings, Error> {
        let company_domain = settings::get("company_domain")
            .map(|d| d.trim().to_string())
            .filter(|d| !d.is_empty())
            .ok_or_else(|| {
                Error::Other(
                    "the setting `company_domain` is missing: add `company_domain = \"yourcompany\"` \
                     (from https://yourcompany.bamboohr.com) under [connectors.bamboohr.settings]"
                        .to_string(),
                )
            })?;
        let mut extra_fields = Vec::new();
        for name in settings::get_or("extra_fields", "").split(',') {
            let name = name.trim();
            if name.is_empty() || FIELDS.contains(&name) || extra_fields.iter().any(|f| f == name) {
                continue;
            }
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(Error::Other(format!(
                    "the setting `extra_fields` names `{name}`, which is not a BambooHR field name \
                     (letters, digits and `_`, e.g. `customShirtSize` or `4021`)"
                )));
            }
            extra_fields.push(name.to_string());
        }
        Ok(Settings {
            company_domain,
            extra_fields,
        })
    }

    /// Every field to ask for, `FIELDS` first.
    pub fn fields(&self) -> Vec<String> {
        FIELDS
            .iter()
            .map(|f| (*f).to_string())
            .chain(self.extra_fields.iter().cloned())
            .collect()
    }

    /// `/api/gateway.php/{companyDomain}/v1{rest}`, the domain encoded as one path segment.
    pub fn path(&self, rest: &str) -> String {
        format!(
            "/api/gateway.php/{}/v1{rest}",
            ids::path_segment(&self.company_domain)
        )
    }
}

/// The client every request goes through: JSON only (BambooHR answers XML otherwise).
pub fn client() -> http::Client {
    http::Client::new().header("accept", "application/json")
}

/// `POST /reports/custom?format=JSON&onlyCurrent=false` with every field: everybody, inactive
/// people and pre-hires included. Answers the report's `employees` array.
pub fn report(settings: &Settings) -> Result<Vec<Value>, Error> {
    let path = settings.path("/reports/custom");
    let body = serde_json::json!({ "title": "hrsync", "fields": settings.fields() });
    let request = client()
        .request(Method::Post, &path)
        .query("format", "JSON")
        .query("onlyCurrent", "false")
        .json(&body)?;
    let answer = json(&path, request.send()?)?;
    match answer.get("employees") {
        Some(Value::Array(items)) => Ok(items.clone()),
        // An empty company: BambooHR leaves the list out.
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(_) => Err(Error::InvalidData(invalid(
            None,
            Some("employees"),
            "the custom report's `employees` is not a list",
        ))),
    }
}

/// `GET /employees/{id}?fields=…&onlyCurrent=false`: one employee with every field, future-dated
/// job information (a pre-hire's department and supervisor) included.
pub fn employee(settings: &Settings, id: &str) -> Result<Value, Error> {
    let path = settings.path(&format!("/employees/{}", ids::path_segment(id)));
    let request = client()
        .get(&path)
        .query("fields", settings.fields().join(","))
        .query("onlyCurrent", "false");
    json(&path, request.send()?)
}

/// Decodes a 2xx JSON answer; anything else is a typed error naming the path and BambooHR's
/// message: 401/403 `auth`, 429/503 `rate-limited` (after the host's own retries), others
/// `remote`.
pub fn json(path: &str, response: Response) -> Result<Value, Error> {
    if !(200..=299).contains(&response.status) {
        return Err(error(path, &response));
    }
    serde_json::from_slice(&response.body).map_err(|e| {
        Error::Other(format!(
            "{path} answered with JSON this connector cannot read: {e}"
        ))
    })
}

/// The typed error for an error answer.
pub fn error(path: &str, response: &Response) -> Error {
    let message = http::header(response, ERROR_HEADER)
        .map(str::to_string)
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| http::remote_message(&response.body));
    match response.status {
        401 | 403 => Error::Auth(format!(
            "{path} answered {}: {message} (check the API key and its user's permissions)",
            response.status
        )),
        429 | 503 => {
            let wait = http::header(response, "retry-after")
                .and_then(|s| s.trim().parse::<u64>().ok())
                .map_or(60_000, |s| s.saturating_mul(1000));
            Error::RateLimited(wait)
        }
        status => Error::Remote(RemoteFailure {
            status,
            message: format!("{path}: {message}"),
        }),
    }
}
