//! OAuth 2.0 token endpoint and bearer-token checks.
//!
//! - `grant_type=client_credentials` → `{access_token, token_type, expires_in}`.
//! - `grant_type=refresh_token&refresh_token=…` → the same plus a new `refresh_token` (and
//!   `company_id`, `user_id`); the refresh token presented stops working at once (rotation).
//! - The client authenticates with HTTP Basic `client_id:client_secret`, or with `client_id` and
//!   `client_secret` form fields.
//! - Errors follow RFC 6749: 401 `invalid_client`, 400 `invalid_grant`, `invalid_request`,
//!   `unsupported_grant_type`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use axum::Form;
use axum::extract::State;
use axum::extract::rejection::FormRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::json;

use super::state::SimHandle;

/// Issued access tokens and the refresh token currently valid.
#[derive(Debug)]
pub(crate) struct AuthState {
    issued: HashMap<String, Instant>,
    refresh_token: String,
    ttl: Duration,
}

impl AuthState {
    /// Starts with no access token and `refresh_token` valid.
    pub(crate) fn new(refresh_token: String, ttl: Duration) -> AuthState {
        AuthState {
            issued: HashMap::new(),
            refresh_token,
            ttl,
        }
    }

    /// Issues a fresh access token.
    pub(crate) fn issue(&mut self) -> String {
        let token = format!("at-{}", uuid::Uuid::new_v4().simple());
        self.issued.insert(token.clone(), Instant::now());
        token
    }

    /// Whether `token` is a live access token (issued, not revoked, younger than the TTL).
    pub(crate) fn is_live(&mut self, token: &str) -> bool {
        match self.issued.get(token) {
            Some(at) if at.elapsed() < self.ttl => true,
            Some(_) => {
                self.issued.remove(token);
                false
            }
            None => false,
        }
    }

    /// Revokes one access token.
    pub(crate) fn revoke(&mut self, token: &str) {
        self.issued.remove(token);
    }

    /// Revokes every access token.
    pub(crate) fn revoke_all(&mut self) {
        self.issued.clear();
    }

    /// The refresh token currently valid.
    pub(crate) fn refresh_token(&self) -> &str {
        &self.refresh_token
    }

    /// If `presented` is the current refresh token, replaces it and returns the new one.
    pub(crate) fn rotate(&mut self, presented: &str) -> Option<String> {
        if presented.is_empty() || presented != self.refresh_token {
            return None;
        }
        self.refresh_token = format!("rt-{}", uuid::Uuid::new_v4().simple());
        Some(self.refresh_token.clone())
    }

    /// Seconds in `expires_in`.
    pub(crate) fn ttl_secs(&self) -> u64 {
        self.ttl.as_secs()
    }
}

/// The bearer token of a request, if it carries one.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// `client_id` and `client_secret` from HTTP Basic auth, if present and well formed.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    // RFC 6749 §2.3.1: both are form-urlencoded before being joined (the oauth2 crate does so).
    Some((form_decode(id), form_decode(secret)))
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space, `%XX` a byte); malformed
/// escapes are kept as they are.
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An OAuth error response.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"remote\""),
        );
    }
    response
}

/// `POST /auth/oauth2/token`.
#[allow(clippy::result_large_err, reason = "the error is the ready response")]
pub(crate) async fn token(
    State(sim): State<SimHandle>,
    headers: HeaderMap,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    };
    let (client_id, client_secret) = match basic_credentials(&headers) {
        Some(creds) => creds,
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    let config = sim.config();
    if client_id != config.client_id || client_secret != config.client_secret {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }

    let grant = form.get("grant_type").map(String::as_str).unwrap_or("");
    let body = sim.with_state(|s| match grant {
        "client_credentials" => Ok(json!({
            "access_token": s.auth.issue(),
            "token_type": "Bearer",
            "expires_in": s.auth.ttl_secs(),
        })),
        "refresh_token" => {
            let presented = form.get("refresh_token").map(String::as_str).unwrap_or("");
            if presented.is_empty() {
                return Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required",
                ));
            }
            match s.auth.rotate(presented) {
                Some(refresh_token) => Ok(json!({
                    "access_token": s.auth.issue(),
                    "token_type": "Bearer",
                    "expires_in": s.auth.ttl_secs(),
                    "refresh_token": refresh_token,
                    "company_id": s.company_id,
                    "user_id": s.owner_user_id(),
                })),
                None => Err(oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the refresh token is invalid, expired or already used",
                )),
            }
        }
        "" => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        )),
        _ => Err(oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "supported: client_credentials, refresh_token",
        )),
    });
    match body {
        Ok(body) => {
            let mut response = axum::Json(body).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(response) => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_invalidates_previous_refresh_token() {
        let mut auth = AuthState::new("rt-0".into(), Duration::from_secs(60));
        let next = auth.rotate("rt-0").expect("current token rotates");
        assert!(auth.rotate("rt-0").is_none());
        assert!(auth.rotate(&next).is_some());
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        assert_eq!(form_decode("a%2Bb+c%3A%"), "a+b c:%");
        assert_eq!(form_decode("plain-id"), "plain-id");
    }

    #[test]
    fn tokens_expire_after_ttl() {
        let mut auth = AuthState::new("rt".into(), Duration::ZERO);
        let t = auth.issue();
        assert!(!auth.is_live(&t));
    }
}
