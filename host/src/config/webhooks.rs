//! `[webhooks.NAME]`: outbound webhooks as configured. [`crate::outbound`] renders and sends
//! them.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::SecretRef;

/// `[webhooks.NAME]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    #[serde(default = "default_method")]
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub query: BTreeMap<String, String>,
    /// The body: for `json` a template producing JSON text, or a table of templated fields; for
    /// `form` a table; for `xml` a template.
    #[serde(default)]
    pub body: Option<toml::Value>,
    #[serde(default)]
    pub format: BodyFormat,
    #[serde(default)]
    pub auth: WebhookAuth,
    #[serde(default)]
    pub timeout_secs: Option<u64>,
}

fn default_method() -> String {
    "POST".to_string()
}

/// The body's message type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BodyFormat {
    #[default]
    Json,
    Form,
    Xml,
}

/// How an outbound webhook authenticates.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum WebhookAuth {
    #[default]
    None,
    Bearer {
        token: SecretRef,
    },
    Basic {
        username: String,
        password: SecretRef,
    },
    /// A configured connector's credentials (its OAuth token or API token).
    Connector {
        name: String,
    },
}
