//! A configured connector: its plugin, loaded in the runtime, with its HTTP backend (egress,
//! credentials, rate governor), and conversions from the WIT records to the engine's types.

use std::sync::Arc;

use crate::auth::TokenSource;
use crate::config::ConnectorSettings;
use crate::http::{ConnectorHttp, HttpSettings, HttpStats, RateGovernor, RetryPolicy};
use crate::mapping::{FieldValue, Lifecycle, Person};
use crate::runtime::{Limits, Plugin, PluginContext, PluginError, Runtime, wit};

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
    /// The HTTP client could not be built.
    #[error("connector `{connector}`: cannot build the HTTP client: {message}")]
    Setup { connector: String, message: String },
}

/// A record the connector could not read, with the reason (quarantined by the engine).
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub record_id: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

/// One page of people.
#[derive(Debug, Clone)]
pub struct PeoplePage {
    pub people: Vec<Person>,
    pub rejected: Vec<Rejected>,
    pub next_cursor: Option<String>,
    pub total: Option<u32>,
}

/// A loaded connector.
pub struct Connector {
    name: String,
    plugin: Plugin,
    stats: Arc<HttpStats>,
    governor: Arc<RateGovernor>,
    /// The connector's one token source: connector actions, outbound webhooks that borrow the
    /// connector's credentials and the plugin's own requests share it (and its governor).
    tokens: Arc<TokenSource>,
}

impl Connector {
    /// Loads the plugin and wires its HTTP backend from the settings.
    pub fn open(
        settings: &ConnectorSettings,
        runtime: &Runtime,
    ) -> Result<Connector, ConnectorError> {
        let setup = |message: String| ConnectorError::Setup {
            connector: settings.name.clone(),
            message,
        };
        let client = crate::http::client(settings.timeout).map_err(|e| setup(e.to_string()))?;
        let governor = Arc::new(RateGovernor::new(settings.rate_limit));
        let tokens = Arc::new(TokenSource::new(
            settings.credentials.clone(),
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
        let stats = http.stats();
        let context = PluginContext {
            name: settings.name.clone(),
            settings: settings.settings.clone(),
            secrets: settings.secrets.clone(),
            http: Arc::new(http),
        };
        let limits = Limits {
            deadline: settings.deadline,
            memory_bytes: settings.memory_bytes,
        };
        let plugin = runtime.load(&settings.plugin, context, limits)?;
        Ok(Connector {
            name: settings.name.clone(),
            plugin,
            stats,
            governor,
            tokens,
        })
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

    /// Requests left in the current rate window, when a budget is configured.
    pub fn request_budget(&self) -> Option<u32> {
        self.governor.remaining()
    }

    /// The plugin's description.
    pub async fn describe(&self) -> Result<wit::Descriptor, ConnectorError> {
        Ok(self.plugin.describe().await?)
    }

    /// One page of people.
    pub async fn list(&self, cursor: Option<&str>) -> Result<PeoplePage, ConnectorError> {
        let page = self
            .plugin
            .list(cursor)
            .await?
            .map_err(|e| self.failed("list-people", e))?;
        Ok(PeoplePage {
            people: page.people.into_iter().map(person).collect(),
            rejected: page.rejected.into_iter().map(rejected).collect(),
            next_cursor: page.next_cursor,
            total: page.total,
        })
    }

    /// One person with every detail.
    pub async fn get(&self, id: &str) -> Result<Result<Person, Rejected>, ConnectorError> {
        match self.plugin.get(id).await? {
            Ok(p) => Ok(Ok(person(p))),
            Err(wit::ConnectorError::InvalidData(r)) => Ok(Err(rejected(r))),
            Err(e) => Err(self.failed("get-person", e)),
        }
    }

    /// Runs an outbound action.
    pub async fn invoke(
        &self,
        action: &str,
        params: &[wit::Field],
    ) -> Result<wit::ActionOutput, ConnectorError> {
        self.plugin
            .invoke(action, params)
            .await?
            .map_err(|e| self.failed("invoke", e))
    }

    /// Verifies and reads a webhook.
    pub async fn parse_webhook(
        &self,
        request: &wit::WebhookRequest,
    ) -> Result<Result<Vec<wit::HrEvent>, wit::WebhookError>, ConnectorError> {
        Ok(self.plugin.parse_webhook(request).await?)
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
        wit::ConnectorError::Http(m) => (m.clone(), None, m.starts_with("no credentials")),
        wit::ConnectorError::Other(m) => (m.clone(), None, false),
    }
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = self.record_id.as_deref().unwrap_or("(no id)");
        match &self.field {
            Some(field) => write!(f, "record {id}, field `{field}`: {}", self.message),
            None => write!(f, "record {id}: {}", self.message),
        }
    }
}

fn rejected(r: wit::InvalidRecord) -> Rejected {
    Rejected {
        record_id: r.record_id,
        field: r.field,
        message: r.message,
    }
}

/// A WIT person as the engine's person.
pub fn person(p: wit::Person) -> Person {
    let status = match p.status {
        wit::Lifecycle::PreHire => Lifecycle::PreHire,
        wit::Lifecycle::Active => Lifecycle::Active,
        wit::Lifecycle::Leaving => Lifecycle::Leaving,
        wit::Lifecycle::Terminated => Lifecycle::Terminated,
        wit::Lifecycle::Unknown => Lifecycle::Unknown,
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
    Person {
        id: p.id,
        status,
        source_status: p.source_status,
        fields,
        raw: p.raw.and_then(|r| serde_json::from_str(&r).ok()),
        complete: p.complete,
    }
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
