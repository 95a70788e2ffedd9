//! HTTP through the host, with JSON helpers that turn HTTP statuses into typed [`Error`]s.
//!
//! Paths are relative to the connector's configured base URL; the host adds authentication,
//! timeouts, retries and the rate limit. An absolute `https://…` URL must be in the connector's
//! `allowed_hosts` and is sent without credentials.
//!
//! For headers or query parameters every request of a connector carries (an API version, an
//! `accept` type), build a [`Client`] once and send through it:
//!
//! ```
//! use hrsync_sdk::http::Client;
//!
//! let api = Client::new()
//!     .header("accept", "application/json")
//!     .header("x-api-version", "2024-01");
//! let request = api.get("/v1/people").query("page", "2");
//! # let _ = request;
//! ```
//!
//! The host refuses the `authorization`, `host` and `cookie` headers (it sets those), a request
//! body over 16 MiB, and more than 1,000 headers or query parameters.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::host;
pub use crate::host::{HttpError, Method, Request as HostRequest, Response};
use crate::{Error, RemoteFailure};

/// A request under construction.
#[derive(Debug, Clone)]
pub struct Request(host::Request);

impl Request {
    /// A request with `method` to `path`.
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        Request(host::Request {
            method,
            path: path.into(),
            query: Vec::new(),
            headers: Vec::new(),
            body: None,
        })
    }

    /// A GET request.
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::Get, path)
    }

    /// Adds a query parameter.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.query.push((key.into(), value.into()));
        self
    }

    /// Sets a header, replacing any earlier value of the same name (a [`Client`]'s default
    /// among them).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.0
            .headers
            .retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
        self.0.headers.push((name, value.into()));
        self
    }

    /// The request as it will be sent (for tests and logs).
    pub fn as_host_request(&self) -> &HostRequest {
        &self.0
    }

    /// Sets a raw body (set its `content-type` with [`Request::header`]).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.0.body = Some(body.into());
        self
    }

    /// Sets a JSON body and its content type.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self, Error> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| Error::Other(format!("cannot encode the request body: {e}")))?;
        self.0.body = Some(bytes);
        Ok(self.header("content-type", "application/json"))
    }

    /// Sends the request; any HTTP status is an `Ok` answer.
    pub fn send(&self) -> Result<Response, Error> {
        host::send(&self.0).map_err(Error::from)
    }

    /// Sends the request and decodes a JSON answer; a 4xx or 5xx answer becomes a typed error.
    pub fn send_json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        let response = self.send()?;
        let response = check_status(&self.0.path, response)?;
        decode_json(&self.0.path, &response.body)
    }
}

/// Defaults for every request of a connector: headers and query parameters.
///
/// Cheap to build in [`crate::Connector::new`] and keep in the connector.
#[derive(Debug, Clone, Default)]
pub struct Client {
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
}

impl Client {
    /// A client with no defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// A header on every request (a request may still set its own value).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
        self.headers.push((name, value.into()));
        self
    }

    /// A query parameter on every request.
    pub fn query(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    /// A request with `method` to `path`, carrying the defaults.
    pub fn request(&self, method: Method, path: impl Into<String>) -> Request {
        let mut r = Request::new(method, path);
        r.0.headers.clone_from(&self.headers);
        r.0.query.clone_from(&self.query);
        r
    }

    /// A GET request carrying the defaults.
    pub fn get(&self, path: impl Into<String>) -> Request {
        self.request(Method::Get, path)
    }

    /// GET `path` with `query`, decoding JSON.
    pub fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, Error> {
        let mut request = self.get(path);
        for (k, v) in query {
            request = request.query(*k, v.clone());
        }
        request.send_json()
    }

    /// POST `body` as JSON to `path`, decoding the JSON answer.
    pub fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        self.request(Method::Post, path).json(body)?.send_json()
    }

    /// PATCH `body` as JSON to `path`, decoding the JSON answer.
    pub fn patch_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, Error> {
        self.request(Method::Patch, path).json(body)?.send_json()
    }
}

/// GET `path` with `query`, decoding JSON.
pub fn get_json<T: DeserializeOwned>(path: &str, query: &[(&str, String)]) -> Result<T, Error> {
    let mut request = Request::get(path);
    for (k, v) in query {
        request = request.query(*k, v.clone());
    }
    request.send_json()
}

/// POST `body` as JSON to `path`, decoding the JSON answer.
pub fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<T, Error> {
    Request::new(Method::Post, path).json(body)?.send_json()
}

/// PATCH `body` as JSON to `path`, decoding the JSON answer.
pub fn patch_json<B: Serialize + ?Sized, T: DeserializeOwned>(
    path: &str,
    body: &B,
) -> Result<T, Error> {
    Request::new(Method::Patch, path).json(body)?.send_json()
}

/// The value of a response header (names are lower-case).
pub fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Turns a 4xx/5xx answer into a typed error: 401/403 → `Auth`, 429 → `RateLimited`,
/// others → `Remote` with the HR system's message.
pub fn check_status(path: &str, response: Response) -> Result<Response, Error> {
    match response.status {
        200..=299 => Ok(response),
        401 | 403 => Err(Error::Auth(format!(
            "{path} answered {}: {}",
            response.status,
            remote_message(&response.body)
        ))),
        429 => {
            let wait = header(&response, "retry-after")
                .and_then(|s| s.parse::<u64>().ok())
                .map(|s| s * 1000)
                .or_else(|| header(&response, "x-ratelimit-reset").and_then(|s| s.parse().ok()))
                .unwrap_or(60_000);
            Err(Error::RateLimited(wait))
        }
        status => Err(Error::Remote(RemoteFailure {
            status,
            message: format!("{path}: {}", remote_message(&response.body)),
        })),
    }
}

/// The human part of an error body: `message`, `error_description`, `error`, or the validation
/// `errors` object, or the body itself (shortened).
pub fn remote_message(body: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(body) {
        for key in ["message", "error_description", "error"] {
            if let Some(m) = v.get(key).and_then(|m| m.as_str()) {
                return m.to_string();
            }
        }
        if let Some(errors) = v.get("errors") {
            return errors.to_string();
        }
    }
    let text = String::from_utf8_lossy(body);
    text.chars().take(300).collect()
}

fn decode_json<T: DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::Other(format!(
            "{path} answered with JSON this connector cannot read: {e}"
        ))
    })
}

impl From<HttpError> for Error {
    /// The host's answer, passed on as it is: the host tells a refused credential
    /// ([`HttpError::Auth`]) from a denied or failed request by its variant.
    fn from(e: HttpError) -> Self {
        Error::Http(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_s_defaults_ride_on_every_request_and_can_be_overridden() {
        let api = Client::new()
            .header("Accept", "application/json")
            .header("x-api-version", "1")
            .header("X-Api-Version", "2")
            .query("locale", "en");
        let r = api
            .get("/people")
            .header("accept", "text/csv")
            .query("page", "3");
        let sent = r.as_host_request();
        assert_eq!(
            sent.headers,
            vec![
                ("X-Api-Version".to_string(), "2".to_string()),
                ("accept".to_string(), "text/csv".to_string())
            ]
        );
        assert_eq!(
            sent.query,
            vec![
                ("locale".to_string(), "en".to_string()),
                ("page".to_string(), "3".to_string())
            ]
        );
    }
}
