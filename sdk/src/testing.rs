//! A native test harness: run a connector's logic under `cargo test`, without a host.
//!
//! Built for the host target, the SDK routes every host call (HTTP, settings, logs, HMAC checks)
//! to the [`Harness`] installed on the current thread. Register canned answers, run the
//! connector's method inside [`Harness::run`], then inspect the requests it sent.
//!
//! ```
//! use hrsync_sdk::testing::{Harness, Reply};
//! use hrsync_sdk::http::{self, Method};
//!
//! let harness = Harness::new()
//!     .setting("region", "eu")
//!     .route(Method::Get, "/people", |_req| Reply::json(200, &serde_json::json!({"people": []})));
//! let body: serde_json::Value = harness.run(|| http::get_json("/people", &[])).unwrap();
//! assert_eq!(body["people"], serde_json::json!([]));
//! assert_eq!(harness.requests()[0].path, "/people");
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use crate::bindings::hrsync::connector::crypto::CryptoError;
use crate::bindings::hrsync::connector::http::{HttpError, Method, Request, Response};
use crate::bindings::hrsync::connector::log::Level;

type Responder = Box<dyn Fn(&Request) -> Result<Response, HttpError>>;

struct Route {
    method: Method,
    path: String,
    responder: Responder,
}

#[derive(Default)]
struct Inner {
    routes: Vec<Route>,
    settings: BTreeMap<String, String>,
    secrets: BTreeMap<String, Vec<u8>>,
    requests: RefCell<Vec<Request>>,
    logs: RefCell<Vec<(Level, String)>>,
}

/// Canned host behaviour for native tests of a connector.
#[derive(Clone, Default)]
pub struct Harness(Rc<Inner>);

/// Helpers to build canned answers.
pub struct Reply;

impl Reply {
    /// A JSON answer with `status`.
    pub fn json(status: u16, body: &serde_json::Value) -> Result<Response, HttpError> {
        Ok(Response {
            status,
            headers: vec![("content-type".to_string(), "application/json".to_string())],
            body: body.to_string().into_bytes(),
        })
    }

    /// An answer with `status`, headers and a raw body.
    pub fn raw(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, HttpError> {
        Ok(Response {
            status,
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                .collect(),
            body: body.to_vec(),
        })
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Harness>> = const { RefCell::new(None) };
}

impl Harness {
    /// An empty harness: no routes, no settings, no secrets.
    pub fn new() -> Self {
        Self::default()
    }

    fn inner_mut(&mut self) -> &mut Inner {
        Rc::get_mut(&mut self.0).expect("configure a Harness before cloning or running it")
    }

    /// Answers requests with `method` to `path` (query ignored) with `responder`.
    pub fn route(
        mut self,
        method: Method,
        path: &str,
        responder: impl Fn(&Request) -> Result<Response, HttpError> + 'static,
    ) -> Self {
        self.inner_mut().routes.push(Route {
            method,
            path: path.to_string(),
            responder: Box::new(responder),
        });
        self
    }

    /// A non-secret setting.
    pub fn setting(mut self, key: &str, value: &str) -> Self {
        self.inner_mut()
            .settings
            .insert(key.to_string(), value.to_string());
        self
    }

    /// A secret the host would hold, for `crypto.verify-hmac-sha256`.
    pub fn secret(mut self, name: &str, value: &[u8]) -> Self {
        self.inner_mut()
            .secrets
            .insert(name.to_string(), value.to_vec());
        self
    }

    /// Runs `f` with this harness standing in for the host.
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> T {
        let previous = CURRENT.with(|c| c.replace(Some(self.clone())));
        let out = f();
        CURRENT.with(|c| c.replace(previous));
        out
    }

    /// The requests sent so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.0.requests.borrow().clone()
    }

    /// The log lines written so far.
    pub fn logs(&self) -> Vec<(Level, String)> {
        self.0.logs.borrow().clone()
    }

    pub(crate) fn send(&self, request: &Request) -> Result<Response, HttpError> {
        self.0.requests.borrow_mut().push(request.clone());
        let route = self
            .0
            .routes
            .iter()
            .find(|r| r.method == request.method && r.path == request.path);
        match route {
            Some(r) => (r.responder)(request),
            None => Reply::json(
                404,
                &serde_json::json!({"message": format!("no canned answer for {:?} {}", request.method, request.path)}),
            ),
        }
    }

    pub(crate) fn log(&self, level: Level, message: &str) {
        self.0.logs.borrow_mut().push((level, message.to_string()));
    }

    pub(crate) fn setting_value(&self, key: &str) -> Option<String> {
        self.0.settings.get(key).cloned()
    }

    pub(crate) fn verify_hmac_sha256(
        &self,
        secret: &str,
        message: &[u8],
        signature_hex: &str,
    ) -> Result<bool, CryptoError> {
        use hmac::{Hmac, Mac};
        let key = self
            .0
            .secrets
            .get(secret)
            .ok_or_else(|| CryptoError::UnknownSecret(secret.to_string()))?;
        let signature = hex::decode(signature_hex.trim())
            .map_err(|e| CryptoError::MalformedSignature(format!("not hex: {e}")))?;
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key)
            .map_err(|e| CryptoError::MalformedSignature(e.to_string()))?;
        mac.update(message);
        Ok(mac.verify_slice(&signature).is_ok())
    }
}

/// Runs `f` against the harness installed on this thread.
pub(crate) fn with_harness<T>(f: impl FnOnce(&Harness) -> T) -> T {
    let harness = CURRENT.with(|c| c.borrow().clone());
    match harness {
        Some(h) => f(&h),
        None => panic!(
            "a connector called the host outside a test harness: wrap the call in hrsync_sdk::testing::Harness::run"
        ),
    }
}
