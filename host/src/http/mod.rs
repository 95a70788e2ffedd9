//! HTTP for connector plugins: base URL, egress allow-list, authentication, timeouts, retries
//! with backoff and jitter, and the rate governor. One `reqwest` client (rustls) per connector.

pub mod governor;
mod retry;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use url::Url;

use crate::auth::{Attach, TokenSource};
use crate::egress::AllowedHosts;
use crate::runtime::wit::{HttpError, HttpRequest, HttpResponse, Method};
use crate::runtime::{BoxFuture, HttpBackend};
pub use governor::{Budget, HintError, MAX_SERVER_WAIT, RateGovernor, ServerHints, SharedWindow};
pub use retry::RetryPolicy;

/// The largest answer a plugin is given (bytes).
const MAX_BODY: usize = 32 << 20;

/// Settings of one connector's HTTP.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// The connector's name, for messages.
    pub connector: String,
    /// Relative paths are joined to this.
    pub base_url: Url,
    /// Where the plugin may send requests.
    pub allowed_hosts: AllowedHosts,
    /// One request's timeout.
    pub timeout: Duration,
    /// Retries of 429, 5xx and dropped connections.
    pub retry: RetryPolicy,
}

/// Counters of what a connector's HTTP did, for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct HttpStats {
    /// Requests sent (each retry counts).
    pub sent: AtomicU64,
    /// Answers with status 429.
    pub throttled: AtomicU64,
    /// Retries made.
    pub retries: AtomicU64,
}

/// The HTTP backend of one connector.
pub struct ConnectorHttp {
    settings: HttpSettings,
    client: reqwest::Client,
    tokens: Arc<TokenSource>,
    governor: Arc<RateGovernor>,
    stats: Arc<HttpStats>,
}

/// Builds the one `reqwest` client: rustls, no redirects (a redirect could leave the allow-list).
pub fn client(timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("hrsync/", env!("CARGO_PKG_VERSION")))
        .build()
}

impl ConnectorHttp {
    /// A backend for one connector.
    pub fn new(
        settings: HttpSettings,
        client: reqwest::Client,
        tokens: Arc<TokenSource>,
        governor: Arc<RateGovernor>,
    ) -> Self {
        ConnectorHttp {
            settings,
            client,
            tokens,
            governor,
            stats: Arc::default(),
        }
    }

    /// What this backend has sent so far.
    pub fn stats(&self) -> Arc<HttpStats> {
        self.stats.clone()
    }

    /// Resolves the plugin's path and checks it against the allow-list. Credentials go only to
    /// URLs under the base URL (its origin and path). A URL with userinfo is refused: a plugin
    /// never carries credentials of its own.
    fn resolve(&self, path: &str) -> Result<(Url, bool), HttpError> {
        let is_absolute = path.starts_with("http://") || path.starts_with("https://");
        let url = if is_absolute {
            Url::parse(path).map_err(|e| HttpError::InvalidRequest(format!("`{path}`: {e}")))?
        } else {
            if !path.starts_with('/') {
                return Err(HttpError::InvalidRequest(format!(
                    "`{path}` must start with `/` (relative to the base URL) or be an absolute https:// URL"
                )));
            }
            let base = self.settings.base_url.as_str().trim_end_matches('/');
            Url::parse(&format!("{base}{path}"))
                .map_err(|e| HttpError::InvalidRequest(format!("`{path}`: {e}")))?
        };
        if !url.username().is_empty() || url.password().is_some() {
            return Err(HttpError::InvalidRequest(format!(
                "the URL to {} has a user name or password in it (`user:pass@`): credentials are the host's to add, never the plugin's",
                crate::egress::origin(&url)
            )));
        }
        self.settings
            .allowed_hosts
            .check(&self.settings.connector, &url)
            .map_err(|d| HttpError::Denied(d.to_string()))?;
        let base = &self.settings.base_url;
        let with_credentials = url.origin() == base.origin() && url.path().starts_with(base.path());
        Ok((url, with_credentials))
    }

    /// Sends a request with retries; any HTTP status is an answer.
    pub async fn execute(&self, request: HttpRequest) -> Result<HttpResponse, HttpError> {
        let (mut url, with_credentials) = self.resolve(&request.path)?;
        let reserved = self.tokens.reserved();
        for (name, _) in &request.headers {
            let n = name.to_ascii_lowercase();
            let credential = reserved
                .as_ref()
                .is_some_and(|(at, r)| *at == "header" && *r == n);
            if matches!(
                n.as_str(),
                "authorization" | "proxy-authorization" | "host" | "cookie"
            ) || credential
            {
                return Err(HttpError::InvalidRequest(format!(
                    "the `{name}` header is set by the host"
                )));
            }
        }
        for (name, _) in &request.query {
            if reserved
                .as_ref()
                .is_some_and(|(at, r)| *at == "query" && r == name)
            {
                return Err(HttpError::InvalidRequest(format!(
                    "the `{name}` query parameter carries the connector's API key and is set by the host"
                )));
            }
        }
        if !request.query.is_empty() {
            url.query_pairs_mut().extend_pairs(request.query.iter());
        }
        let method = match request.method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Patch => reqwest::Method::PATCH,
            Method::Delete => reqwest::Method::DELETE,
        };
        let retry = &self.settings.retry;
        let mut renewed = false;
        let mut attempt = 0u32;
        loop {
            let credential = if with_credentials {
                self.tokens
                    .attach()
                    .await
                    .map_err(|e| HttpError::Auth(e.to_string()))?
            } else {
                None
            };
            let token = match &credential {
                Some(Attach::Bearer(t)) => Some(t.clone()),
                _ => None,
            };
            // A server hint past the cap, still in force, refuses at once rather than waiting.
            self.governor
                .acquire_checked()
                .await
                .map_err(|e| HttpError::Transport(format!("{}: {e}", redact(&url))))?;
            let mut target = url.clone();
            if let Some(Attach::Query { name, value }) = &credential {
                target.query_pairs_mut().append_pair(name, value.expose());
            }
            let mut builder = self.client.request(method.clone(), target);
            for (k, v) in &request.headers {
                builder = builder.header(k, v);
            }
            match &credential {
                Some(Attach::Bearer(t)) => builder = builder.bearer_auth(t.expose()),
                Some(Attach::Header { name, value }) => {
                    let mut v = reqwest::header::HeaderValue::from_str(value.expose())
                        .map_err(|_| {
                            HttpError::Auth(format!(
                                "the connector's credential cannot be sent in the `{name}` header (it holds characters a header may not)"
                            ))
                        })?;
                    v.set_sensitive(true);
                    builder = builder.header(name.as_str(), v);
                }
                Some(Attach::Query { .. }) | None => {}
            }
            if let Some(body) = &request.body {
                builder = builder.body(body.clone());
            }
            self.stats.sent.fetch_add(1, Ordering::Relaxed);
            // reqwest's errors name the URL, query included (where an API key may ride): drop it.
            let outcome = builder.send().await.map_err(reqwest::Error::without_url);
            let response = match outcome {
                Ok(r) => r,
                Err(e) => {
                    let sent = !e.is_connect();
                    let may_retry = !sent || method != reqwest::Method::POST;
                    if may_retry && attempt < retry.max_retries {
                        let wait = retry.backoff(attempt);
                        tracing::warn!(url = %redact(&url), attempt, wait_ms = wait.as_millis() as u64, error = %e, "request failed; retrying");
                        self.stats.retries.fetch_add(1, Ordering::Relaxed);
                        attempt += 1;
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                    return Err(if e.is_timeout() {
                        HttpError::Timeout(self.settings.timeout.as_millis() as u32)
                    } else {
                        HttpError::Transport(format!("{}: {}", redact(&url), error_chain(&e)))
                    });
                }
            };
            let status = response.status().as_u16();
            let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok());
            let hints = ServerHints {
                remaining: header("x-ratelimit-remaining"),
                reset: header("x-ratelimit-reset"),
                retry_after: header("retry-after"),
            };
            if let Err(e) = self.governor.observe(status, &hints).await {
                if status == 429 {
                    self.stats.throttled.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(url = %redact(&url), error = %e, "throttled for longer than the cap; giving up");
                    return Err(HttpError::Transport(format!("{}: {e}", redact(&url))));
                }
                // The answer itself is good; the connector pauses (for the cap) from the next
                // request on.
                tracing::warn!(url = %redact(&url), status, error = %e, "rate-limit hint past the cap");
            }
            if status == 429 {
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            }
            if status == 401
                && !renewed
                && self.tokens.renewable()
                && let Some(t) = &token
            {
                tracing::info!(url = %redact(&url), "access token refused; renewing it once");
                self.tokens.invalidate(t).await;
                renewed = true;
                continue;
            }
            let transient = status == 429
                || (matches!(status, 500 | 502 | 503 | 504) && method != reqwest::Method::POST);
            if transient && attempt < retry.max_retries {
                // For 429 the governor already waits for the server's reset; add backoff only
                // for 5xx.
                let wait = if status == 429 {
                    Duration::ZERO
                } else {
                    retry.backoff(attempt)
                };
                tracing::warn!(url = %redact(&url), status, attempt, "transient answer; retrying");
                self.stats.retries.fetch_add(1, Ordering::Relaxed);
                attempt += 1;
                tokio::time::sleep(wait).await;
                continue;
            }
            return read_response(response).await;
        }
    }
}

impl HttpBackend for ConnectorHttp {
    fn send(&self, request: HttpRequest) -> BoxFuture<'_, Result<HttpResponse, HttpError>> {
        Box::pin(self.execute(request))
    }
}

async fn read_response(mut response: reqwest::Response) -> Result<HttpResponse, HttpError> {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let too_large = || {
        HttpError::Transport(format!(
            "the answer is larger than the limit of {} MiB (the cap on an answer given to a plugin); ask for smaller pages",
            MAX_BODY >> 20
        ))
    };
    if response
        .content_length()
        .is_some_and(|n| n as usize > MAX_BODY)
    {
        return Err(too_large());
    }
    // Read chunk by chunk and stop at the cap: an answer without `Content-Length` (chunked) is
    // never held whole before it is measured.
    let mut body = Vec::with_capacity(response.content_length().unwrap_or(0) as usize);
    while let Some(chunk) = response.chunk().await.map_err(|e| {
        HttpError::Transport(format!(
            "reading the answer: {}",
            error_chain(&e.without_url())
        ))
    })? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(HttpResponse {
        status,
        headers,
        body,
    })
}

/// The URL without its query (which may carry personal data) for logs.
fn redact(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.to_string()
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
