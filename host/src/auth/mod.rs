//! Credentials for a connector's HR API: OAuth 2.0 (client credentials, rotating refresh token),
//! a static bearer token, HTTP Basic, or an API key in a header or query parameter. The host adds
//! them to requests; a plugin never sees them. The plugin declares which schemes its HR system
//! accepts; [`scheme::resolve`] checks the configured one against them when the connector loads.
//!
//! Access tokens are cached and renewed a minute before they expire, and once more when the HR
//! system answers 401. A rotated refresh token is written to its file atomically *before* the new
//! access token is used: losing it would lock the customer out.

mod refresh_file;
pub mod scheme;

use std::sync::Arc;
use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, ClientId, ClientSecret, RefreshToken, RequestTokenError, Scope, TokenResponse,
    TokenUrl,
};
use tokio::sync::Mutex;
use tokio::time::Instant;

pub use refresh_file::RefreshTokenFile;
pub use scheme::{BasicPart, Declared, KeyPlacement, SchemeError};

use crate::http::governor::RateGovernor;
use crate::secret::Secret;

/// How a connector authenticates.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// No authentication (tests, public APIs).
    None,
    /// A static token (Remote: `ra_live_…`), sent as `Authorization: Bearer`.
    ApiToken(Secret),
    /// OAuth 2.0 client credentials grant.
    ClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: Secret,
        scopes: Vec<String>,
    },
    /// OAuth 2.0 refresh-token grant with rotation; the current refresh token lives in a file.
    RefreshToken {
        token_url: String,
        client_id: String,
        client_secret: Secret,
        file: RefreshTokenFile,
    },
    /// HTTP Basic: the secret is the user name or the password; the other part is fixed (by the
    /// plugin's declaration, or `username` in the configuration). `None` parts are filled from
    /// the plugin's declaration by [`scheme::resolve`].
    Basic {
        secret: Secret,
        secret_as: Option<BasicPart>,
        other: Option<String>,
    },
    /// An API key in a header or a query parameter (`None`: where the plugin declares).
    ApiKey {
        secret: Secret,
        placement: Option<KeyPlacement>,
    },
}

impl Credentials {
    /// The configuration's name of the scheme (`kind = …`).
    pub fn kind(&self) -> &'static str {
        match self {
            Credentials::None => "none",
            Credentials::ApiToken(_) => "bearer",
            Credentials::ClientCredentials { .. } => "client-credentials",
            Credentials::RefreshToken { .. } => "refresh-token",
            Credentials::Basic { .. } => "basic",
            Credentials::ApiKey { .. } => "api-key",
        }
    }
}

/// How a credential rides on one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attach {
    /// `Authorization: Bearer …` (a static token or an OAuth access token).
    Bearer(Secret),
    /// A header the host sets: `Authorization: Basic …`, or an API key's header.
    Header { name: String, value: Secret },
    /// A query parameter the host adds.
    Query { name: String, value: Secret },
}

/// Why no token could be had. Never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The token endpoint refused the request.
    #[error("the token endpoint {url} refused the {grant} request: {message}")]
    Refused {
        url: String,
        grant: &'static str,
        message: String,
    },
    /// The token endpoint could not be reached.
    #[error("cannot reach the token endpoint {url}: {message}")]
    Unreachable { url: String, message: String },
    /// The token URL is not a URL.
    #[error("token_url `{url}` is not a valid URL: {message}")]
    BadUrl { url: String, message: String },
    /// The refresh token file could not be read or written.
    #[error(transparent)]
    RefreshFile(#[from] refresh_file::RefreshFileError),
    /// The credentials are not a bearer token (an outbound call asked to borrow one).
    #[error(
        "the connector authenticates with `{kind}`, which has no bearer token to lend; give this call its own auth"
    )]
    NotBearer { kind: &'static str },
    /// The credentials were not completed from the plugin's declaration.
    #[error("the `{kind}` credentials lack {what}")]
    Unresolved {
        kind: &'static str,
        what: &'static str,
    },
}

#[derive(Debug)]
struct Cached {
    token: Secret,
    renew_at: Instant,
}

/// Hands out bearer tokens for one connector.
#[derive(Debug)]
pub struct TokenSource {
    credentials: Credentials,
    client: reqwest::Client,
    governor: Arc<RateGovernor>,
    cache: Mutex<Option<Cached>>,
}

/// Renew this long before a token expires.
const EARLY: Duration = Duration::from_secs(60);

impl TokenSource {
    /// A token source; token requests count against `governor` like any other request.
    pub fn new(
        credentials: Credentials,
        client: reqwest::Client,
        governor: Arc<RateGovernor>,
    ) -> Self {
        TokenSource {
            credentials,
            client,
            governor,
            cache: Mutex::new(None),
        }
    }

    /// The configured credentials.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// What to attach to a request for `base_url`'s origin, or `None` without authentication.
    pub async fn attach(&self) -> Result<Option<Attach>, AuthError> {
        match &self.credentials {
            Credentials::Basic {
                secret,
                secret_as,
                other,
            } => {
                let other = other.as_deref().unwrap_or_default();
                let pair = match secret_as.unwrap_or(BasicPart::Username) {
                    BasicPart::Username => format!("{}:{other}", secret.expose()),
                    BasicPart::Password => format!("{other}:{}", secret.expose()),
                };
                use base64::Engine as _;
                let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                Ok(Some(Attach::Header {
                    name: "authorization".to_string(),
                    value: Secret::new(format!("Basic {encoded}")),
                }))
            }
            Credentials::ApiKey { secret, placement } => Ok(Some(match placement {
                Some(KeyPlacement::Query(name)) => Attach::Query {
                    name: name.clone(),
                    value: secret.clone(),
                },
                Some(KeyPlacement::Header(name)) => Attach::Header {
                    name: name.to_ascii_lowercase(),
                    value: secret.clone(),
                },
                None => {
                    return Err(AuthError::Unresolved {
                        kind: "api-key",
                        what: "where the key goes (the plugin declares no api-key scheme)",
                    });
                }
            })),
            _ => Ok(self.bearer().await?.map(Attach::Bearer)),
        }
    }

    /// The header or query parameter the host sets for this connector's credential, which a
    /// plugin may not set itself: `("header", "authorization")` …
    pub fn reserved(&self) -> Option<(&'static str, String)> {
        match &self.credentials {
            Credentials::None => None,
            Credentials::ApiKey {
                placement: Some(KeyPlacement::Query(name)),
                ..
            } => Some(("query", name.clone())),
            Credentials::ApiKey {
                placement: Some(KeyPlacement::Header(name)),
                ..
            } => Some(("header", name.to_ascii_lowercase())),
            _ => Some(("header", "authorization".to_string())),
        }
    }

    /// The bearer token to send, or `None` when the connector uses no authentication. A
    /// connector with Basic or API-key credentials has no bearer token to lend: that is an
    /// error, not `None` (an outbound call would otherwise go out without credentials).
    pub async fn bearer(&self) -> Result<Option<Secret>, AuthError> {
        match &self.credentials {
            Credentials::None => return Ok(None),
            Credentials::ApiToken(t) => return Ok(Some(t.clone())),
            Credentials::Basic { .. } | Credentials::ApiKey { .. } => {
                return Err(AuthError::NotBearer {
                    kind: self.credentials.kind(),
                });
            }
            _ => {}
        }
        // Held across the request: two renewals at once would spend a rotating refresh token twice.
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref().filter(|c| Instant::now() < c.renew_at) {
            return Ok(Some(c.token.clone()));
        }
        let fresh = self.request_token().await?;
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(Some(token))
    }

    /// Forgets `used` after the HR system refused it (401), so the next call renews.
    pub async fn invalidate(&self, used: &Secret) {
        let mut cache = self.cache.lock().await;
        if cache.as_ref().is_some_and(|c| &c.token == used) {
            *cache = None;
        }
    }

    /// Whether a 401 is worth one renewal and retry.
    pub fn renewable(&self) -> bool {
        matches!(
            self.credentials,
            Credentials::ClientCredentials { .. } | Credentials::RefreshToken { .. }
        )
    }

    async fn request_token(&self) -> Result<Cached, AuthError> {
        let client = self.client.clone();
        let http = move |request: oauth2::HttpRequest| {
            let client = client.clone();
            async move { send(&client, request).await }
        };
        self.governor.acquire().await;
        match &self.credentials {
            Credentials::ClientCredentials {
                token_url,
                client_id,
                client_secret,
                scopes,
            } => {
                let oauth = oauth_client(token_url, client_id, client_secret)?;
                let mut request = oauth.exchange_client_credentials();
                for s in scopes {
                    request = request.add_scope(Scope::new(s.clone()));
                }
                let response = request
                    .request_async(&http)
                    .await
                    .map_err(|e| refused(token_url, "client_credentials", e))?;
                tracing::info!(grant = "client_credentials", "obtained an access token");
                Ok(cached(&response))
            }
            Credentials::RefreshToken {
                token_url,
                client_id,
                client_secret,
                file,
            } => {
                let oauth = oauth_client(token_url, client_id, client_secret)?;
                let current = file.read()?;
                let response = oauth
                    .exchange_refresh_token(&RefreshToken::new(current.expose().to_string()))
                    .request_async(&http)
                    .await
                    .map_err(|e| refused(token_url, "refresh_token", e))?;
                if let Some(rotated) = response.refresh_token()
                    && rotated.secret() != current.expose()
                {
                    // Durable before use: if this fails, say so rather than carry on.
                    file.write(&Secret::new(rotated.secret().clone()))?;
                    tracing::info!(path = %file.path().display(), "saved the rotated refresh token");
                }
                tracing::info!(grant = "refresh_token", "obtained an access token");
                Ok(cached(&response))
            }
            Credentials::None
            | Credentials::ApiToken(_)
            | Credentials::Basic { .. }
            | Credentials::ApiKey { .. } => Err(AuthError::Refused {
                url: String::new(),
                grant: "none",
                message: "this connector does not use OAuth".to_string(),
            }),
        }
    }
}

type Oauth = BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn oauth_client(token_url: &str, client_id: &str, secret: &Secret) -> Result<Oauth, AuthError> {
    let bad = |e: &dyn std::fmt::Display| AuthError::BadUrl {
        url: token_url.to_string(),
        message: e.to_string(),
    };
    let token = TokenUrl::new(token_url.to_string()).map_err(|e| bad(&e))?;
    // The authorization URL is unused by these grants; the crate wants one.
    let auth = AuthUrl::new(token_url.to_string()).map_err(|e| bad(&e))?;
    Ok(BasicClient::new(ClientId::new(client_id.to_string()))
        .set_client_secret(ClientSecret::new(secret.expose().to_string()))
        .set_auth_uri(auth)
        .set_token_uri(token))
}

fn cached(response: &impl TokenResponse) -> Cached {
    let lifetime = response.expires_in().unwrap_or(Duration::from_secs(3600));
    let renew_in = lifetime.saturating_sub(EARLY.min(lifetime / 2));
    Cached {
        token: Secret::new(response.access_token().secret().clone()),
        renew_at: Instant::now() + renew_in,
    }
}

fn refused<RE: std::error::Error + 'static>(
    url: &str,
    grant: &'static str,
    e: RequestTokenError<RE, oauth2::basic::BasicErrorResponse>,
) -> AuthError {
    match e {
        RequestTokenError::ServerResponse(r) => AuthError::Refused {
            url: url.to_string(),
            grant,
            message: match r.error_description() {
                Some(d) => format!("{} ({d})", r.error()),
                None => r.error().to_string(),
            },
        },
        RequestTokenError::Request(e) => AuthError::Unreachable {
            url: url.to_string(),
            message: e.to_string(),
        },
        RequestTokenError::Parse(e, _) => AuthError::Refused {
            url: url.to_string(),
            grant,
            message: format!("the answer is not an OAuth token response: {e}"),
        },
        RequestTokenError::Other(m) => AuthError::Refused {
            url: url.to_string(),
            grant,
            message: m,
        },
    }
}

/// The oauth2 crate's HTTP calls, through our reqwest client (no redirects followed).
async fn send(
    client: &reqwest::Client,
    request: oauth2::HttpRequest,
) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let (parts, body) = request.into_parts();
    let mut builder = client
        .request(parts.method, parts.uri.to_string())
        .body(body);
    for (name, value) in &parts.headers {
        builder = builder.header(name, value);
    }
    let response = builder.send().await?;
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.bytes().await?;
    let mut out = oauth2::HttpResponse::new(bytes.to_vec());
    *out.status_mut() = status;
    *out.headers_mut() = headers;
    Ok(out)
}
