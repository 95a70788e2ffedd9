//! A configured connector: its plugin, loaded in the runtime, with its HTTP backend (egress,
//! credentials, rate governor), and conversions from the WIT records to the engine's types.
//!
//! Loading asks the plugin to describe itself: the authentication schemes it declares complete
//! (or refuse) the configured credentials, and what its list records hold decides how list
//! records and details merge. Until then the plugin's HTTP is refused (`describe` must not send
//! requests).

use std::sync::{Arc, OnceLock};

use crate::auth::{self, Declared, TokenSource};
use crate::config::ConnectorSettings;
use crate::http::{ConnectorHttp, HttpSettings, HttpStats, RateGovernor, RetryPolicy};
use crate::mapping::{Fact, Facts, FieldValue, Lifecycle, Person};
use crate::runtime::{
    BoxFuture, HttpBackend, Limits, Plugin, PluginContext, PluginError, Runtime, wit,
};

pub use crate::hr_types::{About, FieldInfo, Listing, Rejected};

/// Why a connector call failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The plugin could not run (load error, trap, deadline, memory).
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// The plugin ran and reported an error.
    #[error("connector `{connector}`, {call}: {message}")]
    Failed {
        connector: String,
        call: &'static str,
        message: String,
        /// The HR system asked to wait this long (rate limit).
        retry_after_ms: Option<u64>,
        /// Credentials were refused: the run cannot go on.
        auth: bool,
    },
    /// The HTTP client could not be built, or the plugin could not be described.
    #[error("connector `{connector}`: cannot build the HTTP client: {message}")]
    Setup { connector: String, message: String },
    /// The configured credentials do not fit the schemes the plugin declares.
    #[error("connector `{connector}`: {source}")]
    Auth {
        connector: String,
        source: auth::SchemeError,
    },
}

/// The plugin's HTTP until the connector is set up: refused, then the real backend.
struct Deferred(Arc<OnceLock<ConnectorHttp>>);

impl HttpBackend for Deferred {
    fn send(
        &self,
        request: wit::HttpRequest,
    ) -> BoxFuture<'_, Result<wit::HttpResponse, wit::HttpError>> {
        match self.0.get() {
            Some(http) => Box::pin(http.execute(request)),
            None => Box::pin(async {
                Err(wit::HttpError::InvalidRequest(
                    "no request may be sent while the plugin describes itself".to_string(),
                ))
            }),
        }
    }
}

/// One page of people.
#[derive(Debug, Clone)]
pub struct PeoplePage {
    pub people: Vec<Person>,
    pub rejected: Vec<Rejected>,
    pub next_cursor: Option<String>,
    pub total: Option<u32>,
}

/// A connector's HTTP, its token source and its governor.
struct Wired {
    http: ConnectorHttp,
    tokens: Arc<TokenSource>,
    governor: Arc<RateGovernor>,
}

/// The schemes a REST connector takes: the one configured (an API key without a placement goes
/// in the `X-API-Key` header; Basic without `secret_as` sends the secret as the user name,
/// or as the password when a `username` is given).
fn rest_schemes(credentials: &auth::Credentials) -> Vec<Declared> {
    match credentials {
        auth::Credentials::None => Vec::new(),
        auth::Credentials::ApiToken(_) => vec![Declared::Bearer],
        auth::Credentials::ClientCredentials { .. } => vec![Declared::OauthClientCredentials],
        auth::Credentials::RefreshToken { .. } => vec![Declared::OauthRefreshToken],
        auth::Credentials::Basic {
            secret_as, other, ..
        } => vec![Declared::Basic {
            secret_as: secret_as.unwrap_or(if other.is_some() {
                auth::BasicPart::Password
            } else {
                auth::BasicPart::Username
            }),
            other: other.clone(),
        }],
        auth::Credentials::ApiKey { placement, .. } => {
            vec![Declared::ApiKey(placement.clone().unwrap_or_else(|| {
                auth::KeyPlacement::Header("X-API-Key".to_string())
            }))]
        }
    }
}

/// What answers a connector's calls.
enum Backend {
    /// A wasm plugin.
    Plugin(Plugin),
    /// `builtin:rest`: the connector defined in TOML ([`crate::rest`]).
    Rest(Box<crate::rest::Rest>),
}

/// A loaded connector.
pub struct Connector {
    name: String,
    backend: Backend,
    stats: Arc<HttpStats>,
    governor: Arc<RateGovernor>,
    /// The connector's one token source: connector actions, outbound webhooks that borrow the
    /// connector's credentials and the plugin's own requests share it (and its governor).
    tokens: Arc<TokenSource>,
    listing: Listing,
    /// `[[connectors.NAME.endpoints]]`: their fields join the people listed and fetched.
    endpoints: crate::endpoints::Endpoints,
}

impl Connector {
    /// Loads the plugin, asks it to describe itself, checks the configured credentials against
    /// the schemes it declares, and wires its HTTP backend from the settings.
    pub fn open(
        settings: &ConnectorSettings,
        runtime: &Runtime,
    ) -> Result<Connector, ConnectorError> {
        let setup = |message: String| ConnectorError::Setup {
            connector: settings.name.clone(),
            message,
        };
        let slot: Arc<OnceLock<ConnectorHttp>> = Arc::new(OnceLock::new());
        if let Some(definition) = &settings.rest {
            let declared = rest_schemes(&settings.credentials);
            let http = Self::http(settings, &declared)?;
            let rest = crate::rest::Rest::new(
                definition.clone(),
                Arc::new(Deferred(slot.clone())),
                settings.base_url.clone(),
                settings.settings.clone(),
            );
            let listing = rest.listing();
            return Self::assemble(settings, Backend::Rest(Box::new(rest)), listing, http, slot);
        }
        let context = PluginContext {
            name: settings.name.clone(),
            settings: settings.settings.clone(),
            secrets: settings.secrets.clone(),
            http: Arc::new(Deferred(slot.clone())),
        };
        let limits = Limits {
            deadline: settings.deadline,
            memory_bytes: settings.memory_bytes,
        };
        let plugin = runtime.load_source(&settings.plugin, context, limits)?;
        let descriptor = describe_now(&plugin).map_err(|e| match e {
            Described::Plugin(e) => ConnectorError::Plugin(e),
            Described::Setup(m) => setup(m),
        })?;
        let declared: Vec<Declared> = descriptor.auth.iter().map(declared).collect();
        let http = Self::http(settings, &declared)?;
        Self::assemble(
            settings,
            Backend::Plugin(plugin),
            listing(&descriptor.listing),
            http,
            slot,
        )
    }

    /// The connector's HTTP for the schemes its backend declares: the configured credentials,
    /// egress rules, rate governor and retries.
    fn http(settings: &ConnectorSettings, declared: &[Declared]) -> Result<Wired, ConnectorError> {
        let setup = |message: String| ConnectorError::Setup {
            connector: settings.name.clone(),
            message,
        };
        let credentials =
            auth::scheme::resolve(&settings.name, settings.credentials.clone(), declared).map_err(
                |source| ConnectorError::Auth {
                    connector: settings.name.clone(),
                    source,
                },
            )?;
        let client = crate::http::client(settings.timeout).map_err(|e| setup(e.to_string()))?;
        let governor = Arc::new(RateGovernor::new(settings.rate_limit));
        let tokens = Arc::new(TokenSource::new(
            credentials,
            client.clone(),
            governor.clone(),
        ));
        let http = ConnectorHttp::new(
            HttpSettings {
                connector: settings.name.clone(),
                base_url: settings.base_url.clone(),
                allowed_hosts: settings.allowed_hosts.clone(),
                timeout: settings.timeout,
                retry: RetryPolicy::default(),
            },
            client,
            tokens.clone(),
            governor.clone(),
        );
        Ok(Wired {
            http,
            tokens,
            governor,
        })
    }

    /// The connector around its backend, its HTTP set up for it and its endpoints.
    fn assemble(
        settings: &ConnectorSettings,
        backend: Backend,
        listing: Listing,
        wired: Wired,
        slot: Arc<OnceLock<ConnectorHttp>>,
    ) -> Result<Connector, ConnectorError> {
        let setup = |message: String| ConnectorError::Setup {
            connector: settings.name.clone(),
            message,
        };
        let Wired {
            http,
            tokens,
            governor,
        } = wired;
        let stats = http.stats();
        if slot.set(http).is_err() {
            return Err(setup("the HTTP backend was set up twice".to_string()));
        }
        let endpoints = crate::endpoints::Endpoints::new(
            &settings.name,
            settings.endpoints.clone(),
            Arc::new(Deferred(slot.clone())),
            settings.base_url.clone(),
            settings.settings.clone(),
        );
        Ok(Connector {
            name: settings.name.clone(),
            backend,
            stats,
            governor,
            tokens,
            listing,
            endpoints,
        })
    }

    /// What the connector's list records hold.
    pub fn listing(&self) -> &Listing {
        &self.listing
    }

    /// The endpoints configured beside the plugin's own, and the notes they left.
    pub fn endpoints(&self) -> &crate::endpoints::Endpoints {
        &self.endpoints
    }

    /// The connector's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// HTTP counters (requests sent, 429s, retries).
    pub fn stats(&self) -> &HttpStats {
        &self.stats
    }

    /// The connector's current access token (from its one token source), for outbound calls
    /// that borrow its credentials.
    pub async fn bearer(&self) -> Result<Option<crate::secret::Secret>, ConnectorError> {
        self.tokens
            .bearer()
            .await
            .map_err(|e| ConnectorError::Setup {
                connector: self.name.clone(),
                message: e.to_string(),
            })
    }

    /// Counts this connector's requests in a window shared with other hrsync processes too.
    pub fn share_budget(&self, window: Arc<dyn crate::http::SharedWindow>) {
        self.governor.share(window);
    }

    /// Keeps `share` of the request budget for webhook events while they wait (see
    /// [`crate::http::governor::for_events`]).
    pub fn reserve_for_events(&self, share: f64) {
        self.governor.reserve_for_events(share);
    }

    /// The configured request budget (`rate_limit`), if any.
    pub fn rate_limit(&self) -> Option<crate::http::Budget> {
        self.governor.budget()
    }

    /// Requests left in the current rate window, when a budget is configured.
    pub fn request_budget(&self) -> Option<u32> {
        self.governor.remaining()
    }

    /// What the plugin says of itself: name, version, contract and fields.
    pub async fn about(&self) -> Result<About, ConnectorError> {
        let plugin = match &self.backend {
            Backend::Plugin(p) => p,
            Backend::Rest(r) => return Ok(r.about(&self.name)),
        };
        let d = plugin.describe().await?;
        Ok(About {
            name: d.name,
            version: d.version,
            contract_version: d.contract_version,
            fields: d
                .fields
                .into_iter()
                .map(|f| FieldInfo {
                    name: f.name,
                    kind: field_kind(f.kind),
                    description: f.description,
                })
                .collect(),
            actions: d.actions.into_iter().map(|a| a.name).collect(),
        })
    }

    /// One page of people.
    pub async fn list(&self, cursor: Option<&str>) -> Result<PeoplePage, ConnectorError> {
        let plugin = match &self.backend {
            Backend::Plugin(p) => p,
            Backend::Rest(r) => {
                // Every page of the list call at once: the listing is one page.
                let (mut people, rejected) = r
                    .list()
                    .await
                    .map_err(|e| self.rest_failed("list-people", e))?;
                if cursor.is_none() {
                    self.endpoints.refresh().await;
                }
                self.endpoints.add_company_fields(&mut people).await;
                let total = u32::try_from(people.len()).ok();
                return Ok(PeoplePage {
                    people,
                    rejected,
                    next_cursor: None,
                    total,
                });
            }
        };
        let page = plugin
            .list(cursor)
            .await?
            .map_err(|e| self.failed("list-people", e))?;
        let mut people = Vec::with_capacity(page.people.len());
        let mut refused: Vec<Rejected> = page.rejected.into_iter().map(rejected).collect();
        for p in page.people {
            match person(p) {
                Ok(p) => people.push(p),
                Err(r) => refused.push(r),
            }
        }
        if cursor.is_none() {
            // A listing starts: the company-wide endpoints are read once for the run.
            self.endpoints.refresh().await;
        }
        self.endpoints.add_company_fields(&mut people).await;
        Ok(PeoplePage {
            people,
            rejected: refused,
            next_cursor: page.next_cursor,
            total: page.total,
        })
    }

    /// One person with every detail.
    pub async fn get(&self, id: &str) -> Result<Result<Person, Rejected>, ConnectorError> {
        let plugin = match &self.backend {
            Backend::Plugin(p) => p,
            Backend::Rest(r) => {
                return match r
                    .get(id)
                    .await
                    .map_err(|e| self.rest_failed("get-person", e))?
                {
                    Some(Ok(mut p)) => {
                        self.endpoints.enrich(&mut p).await;
                        Ok(Ok(p))
                    }
                    Some(Err(rejected)) => Ok(Err(rejected)),
                    None => Err(ConnectorError::Failed {
                        connector: self.name.clone(),
                        call: "get-person",
                        message: format!("the HR system has no person `{id}`"),
                        retry_after_ms: None,
                        auth: false,
                    }),
                };
            }
        };
        match plugin.get(id).await? {
            Ok(p) => match person(p) {
                Ok(mut p) => {
                    self.endpoints.enrich(&mut p).await;
                    Ok(Ok(p))
                }
                Err(r) => Ok(Err(r)),
            },
            Err(wit::ConnectorError::InvalidData(r)) => Ok(Err(rejected(r))),
            Err(e) => Err(self.failed("get-person", e)),
        }
    }

    /// Runs an outbound action.
    pub async fn invoke(
        &self,
        action: &str,
        params: &[(String, FieldValue)],
    ) -> Result<ActionOutput, ConnectorError> {
        let params: Vec<wit::Field> = params
            .iter()
            .map(|(name, value)| wit::Field {
                name: name.clone(),
                value: field_value(value),
            })
            .collect();
        let plugin = match &self.backend {
            Backend::Plugin(p) => p,
            Backend::Rest(_) => {
                return Err(self.unsupported("invoke", "a REST connector has no actions"));
            }
        };
        let out = plugin
            .invoke(action, &params)
            .await?
            .map_err(|e| self.failed("invoke", e))?;
        Ok(ActionOutput {
            summary: out.summary,
            data: out.data,
        })
    }

    /// Verifies and reads a webhook: its events, or why it is refused.
    pub async fn parse_webhook(
        &self,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    ) -> Result<Result<Vec<HrEvent>, WebhookRefusal>, ConnectorError> {
        let request = wit::WebhookRequest { headers, body };
        let plugin = match &self.backend {
            Backend::Plugin(p) => p,
            Backend::Rest(_) => {
                return Err(self.unsupported(
                    "parse-webhook",
                    "a REST connector reads no webhooks (sync on a schedule instead)",
                ));
            }
        };
        Ok(match plugin.parse_webhook(&request).await? {
            Ok(events) => Ok(events
                .into_iter()
                .map(|e| HrEvent {
                    kind: EventKind::from(e.kind),
                    source_type: e.source_type,
                    person_id: e.person_id,
                    dedupe_key: e.dedupe_key,
                })
                .collect()),
            Err(e) => Err(match e {
                wit::WebhookError::BadSignature(m) => WebhookRefusal::BadSignature(m),
                wit::WebhookError::Stale(m) => WebhookRefusal::Stale(m),
                wit::WebhookError::Malformed(m) => WebhookRefusal::Malformed(m),
                wit::WebhookError::Other(m) => WebhookRefusal::Other(m),
            }),
        })
    }

    fn unsupported(&self, call: &'static str, message: &str) -> ConnectorError {
        self.failed(call, wit::ConnectorError::Unsupported(message.to_string()))
    }

    fn rest_failed(&self, call: &'static str, e: crate::rest::RestError) -> ConnectorError {
        ConnectorError::Failed {
            connector: self.name.clone(),
            call,
            auth: e.is_auth(),
            message: e.to_string(),
            retry_after_ms: None,
        }
    }

    fn failed(&self, call: &'static str, e: wit::ConnectorError) -> ConnectorError {
        let (message, retry_after_ms, auth) = describe_error(&e);
        ConnectorError::Failed {
            connector: self.name.clone(),
            call,
            message,
            retry_after_ms,
            auth,
        }
    }
}

fn field_kind(k: wit::FieldKind) -> &'static str {
    match k {
        wit::FieldKind::Text => "text",
        wit::FieldKind::Integer => "integer",
        wit::FieldKind::Number => "number",
        wit::FieldKind::Boolean => "boolean",
        wit::FieldKind::Date => "date",
        wit::FieldKind::TextList => "text-list",
    }
}

/// What a connector action answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionOutput {
    /// One line for the admin.
    pub summary: String,
    /// The HR system's answer, as JSON text, shown to the admin and never interpreted.
    pub data: String,
}

/// What an HR event is about, in the engine's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Hired,
    Updated,
    StatusChanged,
    Terminated,
    Deleted,
    /// An event type the connector does not know: stored and logged, never dropped.
    Unrecognized,
}

impl EventKind {
    /// The name stored with the event (and matched by automations).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Hired => "hired",
            EventKind::Updated => "updated",
            EventKind::StatusChanged => "status-changed",
            EventKind::Terminated => "terminated",
            EventKind::Deleted => "deleted",
            EventKind::Unrecognized => "unrecognized",
        }
    }
}

impl From<wit::EventKind> for EventKind {
    fn from(k: wit::EventKind) -> Self {
        match k {
            wit::EventKind::Hired => EventKind::Hired,
            wit::EventKind::Updated => EventKind::Updated,
            wit::EventKind::StatusChanged => EventKind::StatusChanged,
            wit::EventKind::Terminated => EventKind::Terminated,
            wit::EventKind::Deleted => EventKind::Deleted,
            wit::EventKind::Unrecognized => EventKind::Unrecognized,
        }
    }
}

/// One HR event read from a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HrEvent {
    pub kind: EventKind,
    /// The HR system's event type, e.g. `employment.details.updated`.
    pub source_type: String,
    /// The person concerned, if the event names one.
    pub person_id: Option<String>,
    /// The same on every delivery of this event.
    pub dedupe_key: String,
}

/// Why a webhook was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookRefusal {
    /// Missing or wrong signature (401).
    BadSignature(String),
    /// The signed timestamp is too old (401).
    Stale(String),
    /// Not a webhook this connector understands (400).
    Malformed(String),
    /// The plugin could not verify it (500).
    Other(String),
}

/// A sentence for a connector error; the rate-limit wait; whether it is an auth failure.
pub fn describe_error(e: &wit::ConnectorError) -> (String, Option<u64>, bool) {
    match e {
        wit::ConnectorError::Auth(m) => (
            format!("the HR system refused the credentials: {m}"),
            None,
            true,
        ),
        wit::ConnectorError::RateLimited(ms) => {
            (format!("rate limited; retry in {ms} ms"), Some(*ms), false)
        }
        wit::ConnectorError::InvalidData(r) => (rejected(r.clone()).to_string(), None, false),
        wit::ConnectorError::Remote(r) => (
            format!("the HR system answered {}: {}", r.status, r.message),
            None,
            false,
        ),
        wit::ConnectorError::Unsupported(m) => (format!("unsupported: {m}"), None, false),
        wit::ConnectorError::Http(e) => match e {
            wit::HttpError::Denied(m) => (format!("request denied: {m}"), None, false),
            wit::HttpError::Timeout(ms) => (format!("no answer within {ms} ms"), None, false),
            wit::HttpError::Transport(m) => (format!("connection failed: {m}"), None, false),
            wit::HttpError::Auth(m) => (format!("no credentials: {m}"), None, true),
            wit::HttpError::InvalidRequest(m) => {
                (format!("the host refused the request: {m}"), None, false)
            }
        },
        wit::ConnectorError::Other(m) => (m.clone(), None, false),
    }
}

fn rejected(r: wit::InvalidRecord) -> Rejected {
    Rejected {
        record_id: r.record_id,
        field: r.field,
        message: r.message,
    }
}

/// A WIT person as the engine's person, or why it cannot be one (a date fact that is not
/// `YYYY-MM-DD`).
pub fn person(p: wit::Person) -> Result<Person, Rejected> {
    let status = match p.status {
        wit::Lifecycle::PreHire => Lifecycle::PreHire,
        wit::Lifecycle::Active => Lifecycle::Active,
        wit::Lifecycle::Leaving => Lifecycle::Leaving,
        wit::Lifecycle::Terminated => Lifecycle::Terminated,
        wit::Lifecycle::Unknown => Lifecycle::Unknown,
    };
    let date = |name: &str, value: Option<String>| -> Result<Option<String>, Rejected> {
        match value.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(d) => match chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d") {
                Ok(_) if d.len() == 10 => Ok(Some(d.to_string())),
                _ => Err(Rejected {
                    record_id: Some(p.id.clone()),
                    field: Some(name.to_string()),
                    message: format!("`{d}` is not a date (YYYY-MM-DD)"),
                }),
            },
        }
    };
    let text = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    let facts = Facts {
        start_date: date("start_date", p.start_date.clone())?,
        end_date: date("end_date", p.end_date.clone())?,
        manager_id: text(p.manager_id),
        given_name: text(p.given_name),
        family_name: text(p.family_name),
        display_name: text(p.display_name),
        work_email: text(p.work_email),
    };
    let fields = p
        .fields
        .into_iter()
        .map(|f| {
            let v = match f.value {
                wit::FieldValue::Null => FieldValue::Null,
                wit::FieldValue::Text(s) => FieldValue::Text(s),
                wit::FieldValue::Integer(n) => FieldValue::Integer(n),
                wit::FieldValue::Number(n) => FieldValue::Number(n),
                wit::FieldValue::Boolean(b) => FieldValue::Boolean(b),
                wit::FieldValue::Date(d) => FieldValue::Date(d),
                wit::FieldValue::TextList(l) => FieldValue::TextList(l),
            };
            (f.name, v)
        })
        .collect();
    Ok(Person {
        id: p.id,
        status,
        source_status: p.source_status,
        facts,
        fields,
        raw: p.raw.and_then(|r| serde_json::from_str(&r).ok()),
        complete: p.complete,
    })
}

/// A declared scheme as the host's.
fn declared(a: &wit::AuthScheme) -> Declared {
    match a {
        wit::AuthScheme::Bearer => Declared::Bearer,
        wit::AuthScheme::OauthClientCredentials => Declared::OauthClientCredentials,
        wit::AuthScheme::OauthRefreshToken => Declared::OauthRefreshToken,
        wit::AuthScheme::Basic(b) => Declared::Basic {
            secret_as: match b.secret_as {
                wit::BasicPart::Username => auth::BasicPart::Username,
                wit::BasicPart::Password => auth::BasicPart::Password,
            },
            other: b.other.clone(),
        },
        wit::AuthScheme::ApiKey(wit::KeyPlacement::Header(n)) => {
            Declared::ApiKey(auth::KeyPlacement::Header(n.clone()))
        }
        wit::AuthScheme::ApiKey(wit::KeyPlacement::Query(n)) => {
            Declared::ApiKey(auth::KeyPlacement::Query(n.clone()))
        }
    }
}

/// The listing a plugin declares, as the host's.
fn listing(l: &wit::Listing) -> Listing {
    Listing {
        facts: l
            .facts
            .iter()
            .map(|f| match f {
                wit::Fact::StartDate => Fact::StartDate,
                wit::Fact::EndDate => Fact::EndDate,
                wit::Fact::ManagerId => Fact::ManagerId,
                wit::Fact::GivenName => Fact::GivenName,
                wit::Fact::FamilyName => Fact::FamilyName,
                wit::Fact::DisplayName => Fact::DisplayName,
                wit::Fact::WorkEmail => Fact::WorkEmail,
            })
            .collect(),
        has_status: l.has_status,
    }
}

/// Why a plugin could not be described at load.
enum Described {
    Plugin(PluginError),
    Setup(String),
}

/// Calls `describe` while loading, outside the caller's async runtime (loading is synchronous):
/// on a thread of its own with a small runtime. `describe` sends no requests, so nothing else
/// runs there.
fn describe_now(plugin: &Plugin) -> Result<wit::Descriptor, Described> {
    std::thread::scope(|scope| {
        let handle = scope.spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| {
                    Described::Setup(format!(
                        "cannot start a runtime to describe the plugin: {e}"
                    ))
                })?;
            rt.block_on(plugin.describe()).map_err(Described::Plugin)
        });
        handle.join().unwrap_or_else(|_| {
            Err(Described::Setup(
                "describing the plugin panicked".to_string(),
            ))
        })
    })
}

/// An engine value as a WIT field value (for action parameters).
pub fn field_value(v: &FieldValue) -> wit::FieldValue {
    match v {
        FieldValue::Null => wit::FieldValue::Null,
        FieldValue::Text(s) => wit::FieldValue::Text(s.clone()),
        FieldValue::Integer(n) => wit::FieldValue::Integer(*n),
        FieldValue::Number(n) => wit::FieldValue::Number(*n),
        FieldValue::Boolean(b) => wit::FieldValue::Boolean(*b),
        FieldValue::Date(d) => wit::FieldValue::Date(d.clone()),
        FieldValue::TextList(l) => wit::FieldValue::TextList(l.clone()),
    }
}
