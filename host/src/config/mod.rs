//! The configuration file (`hrsync.toml`): raw TOML types, then validated settings.
//!
//! Secrets are never written in the file: each is `{ env = "NAME" }` or `{ file = "/path" }`,
//! read when the config is loaded and kept in a [`Secret`] that never prints. Relative paths are
//! relative to the config file's folder (made absolute, so a relative `--config` works from any
//! later working folder). Every error names the file and the key.
//! `examples/hrsync.toml` is the commented reference.

pub mod endpoints;
pub mod init;
pub mod rest;
pub mod rules;
mod secret_ref;
pub mod templates;
pub mod webhooks;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use secret_ref::SecretRef;

use self::rules::SyncRules;
use self::templates::TemplateConfig;
use self::webhooks::WebhookConfig;
use crate::auth::{BasicPart, Credentials, KeyPlacement, RefreshTokenFile};
use crate::automation::AutomationConfig;
use crate::directory::escape::{Rdn, parse_dn};
use crate::egress::AllowedHosts;
use crate::http::Budget;
use crate::mapping::MappingConfig;
use crate::runtime::PluginSource;
use crate::secret::Secret;

/// A configuration error, naming the file and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("cannot resolve the folder of the config file {path}: {source}")]
    Folder {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
}

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    store: RawStore,
    #[serde(default)]
    runtime: RawRuntime,
    directory: Option<RawDirectory>,
    #[serde(default)]
    connectors: BTreeMap<String, RawConnector>,
    #[serde(default)]
    mapping: MappingConfig,
    #[serde(default)]
    sync: SyncRules,
    #[serde(default)]
    templates: BTreeMap<String, TemplateConfig>,
    #[serde(default)]
    webhooks: BTreeMap<String, WebhookConfig>,
    #[serde(default)]
    outbound: RawOutbound,
    #[serde(default)]
    automations: Vec<AutomationConfig>,
    #[serde(default)]
    serve: ServeSettings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbound {
    #[serde(default)]
    allowed_hosts: Vec<String>,
}

/// `[serve]`: the long-running service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeSettings {
    /// Where to listen (`127.0.0.1:8080`).
    pub listen: String,
    /// Attempts per event before it is marked failed.
    pub event_attempts: i64,
    /// Events applied at once (for different people; one person's events stay in order).
    pub event_workers: usize,
    /// The share (0 to below 1) of each connector's request budget kept for webhook events while
    /// they wait; the rest is kept for scheduled runs and their enrichment while they wait.
    pub events_share: f64,
}

impl Default for ServeSettings {
    fn default() -> Self {
        ServeSettings {
            listen: "127.0.0.1:8080".to_string(),
            event_attempts: 5,
            event_workers: 4,
            events_share: 0.25,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    path: Option<PathBuf>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRuntime {
    cache_dir: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDirectory {
    url: String,
    bind_dn: String,
    bind_password: SecretRef,
    ca_file: Option<PathBuf>,
    #[serde(default)]
    starttls: bool,
    base_dn: String,
    #[serde(default)]
    uniqueness_base_dn: Option<String>,
    users_ou: String,
    disabled_ou: Option<String>,
    #[serde(default)]
    managed_ous: Option<Vec<String>>,
    #[serde(default)]
    timeout_secs: Option<u64>,
    #[serde(default)]
    page_size: Option<i32>,
    #[serde(default)]
    concurrency: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnector {
    /// A component's path, or `builtin:NAME`.
    plugin: String,
    base_url: String,
    #[serde(default)]
    allowed_hosts: Vec<String>,
    #[serde(default)]
    auth: RawAuth,
    rate_limit: Option<String>,
    timeout_secs: Option<u64>,
    deadline_secs: Option<u64>,
    memory_mib: Option<usize>,
    webhook_secret: Option<SecretRef>,
    #[serde(default)]
    settings: BTreeMap<String, toml::Value>,
    /// `[[connectors.NAME.endpoints]]` (see [`crate::endpoints`]).
    #[serde(default)]
    endpoints: Vec<endpoints::RawEndpoint>,
    /// `[connectors.NAME.rest]`: the connector itself when `plugin = "builtin:rest"`.
    #[serde(default)]
    rest: Option<rest::RawRest>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum RawAuth {
    #[default]
    None,
    /// A static token sent as `Authorization: Bearer` (`bearer`, or `api-token` as in 0.1).
    #[serde(alias = "bearer")]
    ApiToken { token: SecretRef },
    /// HTTP Basic: the secret is the user name or the password (as the plugin declares, or
    /// `secret_as`); `username` gives a fixed user name when the secret is the password.
    Basic {
        secret: SecretRef,
        #[serde(default)]
        secret_as: Option<RawBasicPart>,
        #[serde(default)]
        username: Option<String>,
    },
    /// An API key in a header or a query parameter (where the plugin declares, or `header` /
    /// `query`).
    #[serde(alias = "api_key")]
    ApiKey {
        secret: SecretRef,
        #[serde(default)]
        header: Option<String>,
        #[serde(default)]
        query: Option<String>,
    },
    ClientCredentials {
        token_url: String,
        client_id: String,
        client_secret: SecretRef,
        #[serde(default)]
        scopes: Vec<String>,
    },
    RefreshToken {
        token_url: String,
        client_id: String,
        client_secret: SecretRef,
        /// The file holding the current refresh token; hrsync rewrites it when Remote rotates it.
        refresh_token_file: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawBasicPart {
    Username,
    Password,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file it came from, absolute.
    pub path: PathBuf,
    /// The SQLite store.
    pub store_path: PathBuf,
    /// The compiled-component cache.
    pub cache_dir: PathBuf,
    /// The directory, if configured.
    pub directory: Option<DirectorySettings>,
    /// Connectors by name.
    pub connectors: BTreeMap<String, ConnectorSettings>,
    /// Attribute mapping.
    pub mapping: MappingConfig,
    /// Sync rules: scope, OUs, groups, leavers, safety gate.
    pub sync: SyncRules,
    /// Orchestration templates by name.
    pub templates: BTreeMap<String, TemplateConfig>,
    /// Outbound webhooks by name.
    pub webhooks: BTreeMap<String, WebhookConfig>,
    /// Where outbound webhooks may go (unless they use a connector's credentials).
    pub outbound_allowed_hosts: AllowedHosts,
    /// Automations.
    pub automations: Vec<AutomationConfig>,
    /// The service.
    pub serve: ServeSettings,
}

/// `[directory]`, validated.
#[derive(Debug, Clone)]
pub struct DirectorySettings {
    pub url: String,
    pub bind_dn: String,
    pub bind_password: Secret,
    pub ca_file: Option<PathBuf>,
    pub starttls: bool,
    pub base_dn: String,
    /// Where unique values (sAMAccountName, UPN, …) must be unique; default the base DN.
    pub uniqueness_base_dn: String,
    pub users_ou: String,
    pub disabled_ou: Option<String>,
    /// The OUs hrsync may write in (DNs under `base_dn`); default `users_ou` and `disabled_ou`.
    pub managed_ous: Vec<String>,
    pub timeout: Duration,
    pub page_size: i32,
    /// LDAP writes in flight at once.
    pub concurrency: usize,
}

/// `[connectors.NAME]`, validated.
#[derive(Debug, Clone)]
pub struct ConnectorSettings {
    pub name: String,
    /// A component file, or `builtin:NAME` ([`crate::runtime::builtin`]).
    pub plugin: PluginSource,
    pub base_url: url::Url,
    pub allowed_hosts: AllowedHosts,
    pub credentials: Credentials,
    pub rate_limit: Option<Budget>,
    pub timeout: Duration,
    pub deadline: Duration,
    pub memory_bytes: usize,
    pub secrets: BTreeMap<String, Secret>,
    pub settings: BTreeMap<String, String>,
    /// Endpoints called beside the plugin's own ([`crate::endpoints`]).
    pub endpoints: Vec<endpoints::Endpoint>,
    /// `plugin = "builtin:rest"`: the connector defined in TOML ([`crate::rest`]).
    pub rest: Option<rest::RestDefinition>,
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// Like [`Config::load`], without refusing template steps that name something missing
    /// ([`Config::parse_lenient`]): for `config check`, which reports them with every other
    /// problem.
    pub fn load_lenient(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse_lenient(path, &text)
    }

    /// Validates config text; `path` is used for messages and to resolve relative paths.
    /// Template steps are checked too (waits, `on_failure` targets, webhooks, connectors,
    /// required operands), so a mistake is refused now rather than when a step first runs.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let config = Self::parse_lenient(path, text)?;
        let first = templates::check_templates(
            &config.templates,
            &|w| config.webhooks.contains_key(w),
            &|c| config.connectors.contains_key(c),
        )
        .into_iter()
        .next();
        match first {
            Some((key, message)) => Err(ConfigError::Invalid {
                path: path.to_path_buf(),
                key,
                message,
            }),
            None => Ok(config),
        }
    }

    /// [`Config::parse`] without the template steps' checks.
    pub fn parse_lenient(path: &Path, text: &str) -> Result<Config, ConfigError> {
        // The message and the place, never the offending line: it may hold a secret written inline.
        let raw: RawConfig = toml::from_str(text).map_err(|e| {
            let place = e.span().map(|span| {
                let before = &text[..span.start.min(text.len())];
                let line = before.matches('\n').count() + 1;
                let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                format!("line {line}, column {column}: ")
            });
            ConfigError::Parse {
                path: path.to_path_buf(),
                message: format!("{}{}", place.unwrap_or_default(), e.message()),
            }
        })?;
        let absolute = std::path::absolute(path).map_err(|source| ConfigError::Folder {
            path: path.to_path_buf(),
            source,
        })?;
        let base = absolute.parent().unwrap_or(Path::new("/"));
        let resolve = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        let invalid = |key: &str, message: String| ConfigError::Invalid {
            path: path.to_path_buf(),
            key: key.to_string(),
            message,
        };

        let directory = match raw.directory {
            None => None,
            Some(d) => {
                let managed_ous = managed_ous(&d).map_err(|(k, m)| invalid(k, m))?;
                Some(DirectorySettings {
                    bind_password: d
                        .bind_password
                        .read(base)
                        .map_err(|m| invalid("directory.bind_password", m))?,
                    url: d.url,
                    bind_dn: d.bind_dn,
                    ca_file: d.ca_file.as_deref().map(resolve),
                    starttls: d.starttls,
                    uniqueness_base_dn: d.uniqueness_base_dn.unwrap_or_else(|| d.base_dn.clone()),
                    base_dn: d.base_dn,
                    users_ou: d.users_ou,
                    disabled_ou: d.disabled_ou,
                    managed_ous,
                    timeout: Duration::from_secs(d.timeout_secs.unwrap_or(30)),
                    page_size: d.page_size.unwrap_or(500),
                    concurrency: d.concurrency.unwrap_or(4).max(1),
                })
            }
        };
        if let Some(d) = &directory {
            raw.sync
                .check_password_transport(&d.url, d.starttls)
                .map_err(|m| invalid("sync.set_initial_password", m))?;
        }

        let mut connectors = BTreeMap::new();
        for (name, c) in raw.connectors {
            let key = |k: &str| format!("connectors.{name}.{k}");
            let plugin = PluginSource::parse(&c.plugin, resolve)
                .map_err(|e| invalid(&key("plugin"), e.to_string()))?;
            let base_url: url::Url = c
                .base_url
                .parse()
                .map_err(|e| invalid(&key("base_url"), format!("not a URL: {e}")))?;
            let allowed_hosts = AllowedHosts::parse(&c.allowed_hosts)
                .map_err(|e| invalid(&key("allowed_hosts"), e.to_string()))?;
            if !base_url.username().is_empty() || base_url.password().is_some() {
                return Err(invalid(
                    &key("base_url"),
                    "has a user name or password in it (`user:pass@`); give credentials in [auth] with { env = … } or { file = … }".to_string(),
                ));
            }
            if allowed_hosts.check(&name, &base_url).is_err() {
                return Err(invalid(
                    &key("allowed_hosts"),
                    format!(
                        "base_url {} is not allowed; add \"{}\" to allowed_hosts",
                        base_url,
                        crate::egress::origin(&base_url)
                    ),
                ));
            }
            let credentials = match c.auth {
                RawAuth::None => Credentials::None,
                RawAuth::ApiToken { token } => Credentials::ApiToken(
                    token
                        .read(base)
                        .map_err(|m| invalid(&key("auth.token"), m))?,
                ),
                RawAuth::ClientCredentials {
                    token_url,
                    client_id,
                    client_secret,
                    scopes,
                } => Credentials::ClientCredentials {
                    token_url,
                    client_id,
                    client_secret: client_secret
                        .read(base)
                        .map_err(|m| invalid(&key("auth.client_secret"), m))?,
                    scopes,
                },
                RawAuth::RefreshToken {
                    token_url,
                    client_id,
                    client_secret,
                    refresh_token_file,
                } => Credentials::RefreshToken {
                    token_url,
                    client_id,
                    client_secret: client_secret
                        .read(base)
                        .map_err(|m| invalid(&key("auth.client_secret"), m))?,
                    file: RefreshTokenFile::new(resolve(&refresh_token_file)),
                },
                RawAuth::Basic {
                    secret,
                    secret_as,
                    username,
                } => {
                    let secret_as = secret_as.map(|p| match p {
                        RawBasicPart::Username => BasicPart::Username,
                        RawBasicPart::Password => BasicPart::Password,
                    });
                    if username.is_some() && secret_as == Some(BasicPart::Username) {
                        return Err(invalid(
                            &key("auth.username"),
                            "the secret is the user name (secret_as = \"username\"): a fixed username cannot be given too".to_string(),
                        ));
                    }
                    Credentials::Basic {
                        secret: secret
                            .read(base)
                            .map_err(|m| invalid(&key("auth.secret"), m))?,
                        // A fixed user name means the secret is the password.
                        secret_as: secret_as.or(username.as_ref().map(|_| BasicPart::Password)),
                        other: username,
                    }
                }
                RawAuth::ApiKey {
                    secret,
                    header,
                    query,
                } => {
                    let placement = match (header, query) {
                        (Some(_), Some(_)) => {
                            return Err(invalid(
                                &key("auth"),
                                "an API key goes in a header or in a query parameter, not both: keep `header` or `query`".to_string(),
                            ));
                        }
                        (Some(h), None) => Some(KeyPlacement::Header(h)),
                        (None, Some(q)) => Some(KeyPlacement::Query(q)),
                        (None, None) => None,
                    };
                    Credentials::ApiKey {
                        secret: secret
                            .read(base)
                            .map_err(|m| invalid(&key("auth.secret"), m))?,
                        placement,
                    }
                }
            };
            let rate_limit = c
                .rate_limit
                .as_deref()
                .map(Budget::parse)
                .transpose()
                .map_err(|m| invalid(&key("rate_limit"), m))?;
            let mut secrets = BTreeMap::new();
            if let Some(s) = c.webhook_secret {
                secrets.insert(
                    "webhook_secret".to_string(),
                    s.read(base)
                        .map_err(|m| invalid(&key("webhook_secret"), m))?,
                );
            }
            let settings = c
                .settings
                .into_iter()
                .map(|(k, v)| {
                    let text = match v {
                        toml::Value::String(s) => s,
                        other => other.to_string(),
                    };
                    (k, text)
                })
                .collect();
            let endpoints = endpoints::Endpoint::parse_all(c.endpoints)
                .map_err(|e| invalid(&key(&e.key), e.message))?;
            let is_rest = plugin == PluginSource::Builtin(rest::BUILTIN.to_string());
            let rest = match (is_rest, c.rest) {
                (true, Some(r)) => Some(
                    rest::RestDefinition::parse(r).map_err(|e| invalid(&key(&e.key), e.message))?,
                ),
                (true, None) => {
                    return Err(invalid(
                        &key("rest"),
                        "is missing: `builtin:rest` is defined by [connectors.NAME.rest] (its list call, id and lifecycle)".to_string(),
                    ));
                }
                (false, Some(_)) => {
                    return Err(invalid(
                        &key("rest"),
                        format!(
                            "is only for plugin = \"builtin:rest\", not `{}`; remove it or use the REST connector",
                            c.plugin
                        ),
                    ));
                }
                (false, None) => None,
            };
            connectors.insert(
                name.clone(),
                ConnectorSettings {
                    plugin,
                    base_url,
                    allowed_hosts,
                    credentials,
                    rate_limit,
                    timeout: Duration::from_secs(c.timeout_secs.unwrap_or(30)),
                    deadline: Duration::from_secs(c.deadline_secs.unwrap_or(120)),
                    memory_bytes: c.memory_mib.unwrap_or(64) << 20,
                    secrets,
                    settings,
                    endpoints,
                    rest,
                    name,
                },
            );
        }

        let outbound_allowed_hosts = AllowedHosts::parse(&raw.outbound.allowed_hosts)
            .map_err(|e| invalid("outbound.allowed_hosts", e.to_string()))?;
        for a in &raw.automations {
            a.cron().map_err(|m| invalid("automations", m))?;
            if let Some(t) = &a.template
                && !raw.templates.contains_key(t)
            {
                return Err(invalid(
                    "automations",
                    format!(
                        "automation `{}` names template `{t}`, which is not configured",
                        a.name
                    ),
                ));
            }
        }
        if !(0.0..1.0).contains(&raw.serve.events_share) {
            return Err(invalid(
                "serve.events_share",
                format!(
                    "{} is not a share of the request budget; write a number from 0 (no share kept for webhook events) to below 1, e.g. 0.25",
                    raw.serve.events_share
                ),
            ));
        }
        Ok(Config {
            templates: raw.templates,
            webhooks: raw.webhooks,
            outbound_allowed_hosts,
            automations: raw.automations,
            serve: raw.serve,
            path: absolute.clone(),
            store_path: resolve(raw.store.path.as_deref().unwrap_or(Path::new("hrsync.db"))),
            cache_dir: resolve(
                raw.runtime
                    .cache_dir
                    .as_deref()
                    .unwrap_or(Path::new(".hrsync-cache")),
            ),
            directory,
            connectors,
            mapping: raw.mapping,
            sync: raw.sync,
        })
    }

    /// One connector by name, or an error that lists the configured ones.
    pub fn connector(&self, name: &str) -> Result<&ConnectorSettings, ConfigError> {
        self.connectors
            .get(name)
            .ok_or_else(|| ConfigError::Invalid {
                path: self.path.clone(),
                key: format!("connectors.{name}"),
                message: if self.connectors.is_empty() {
                    "no connector is configured".to_string()
                } else {
                    format!(
                        "no such connector; configured: {}",
                        self.connectors
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            })
    }
}

/// A DN's RDNs, or an error naming the key and the value.
fn dn(key: &'static str, value: &str) -> Result<Vec<Rdn>, (&'static str, String)> {
    parse_dn(value).ok_or_else(|| {
        (
            key,
            format!("`{value}` is not a distinguished name (like OU=Staff,DC=corp,DC=example)"),
        )
    })
}

/// Whether `dn` is `ancestor` or lies under it: its last RDNs are the ancestor's, compared as AD
/// does (attribute names ASCII case-insensitively, values case-insensitively).
pub fn dn_within(dn: &[Rdn], ancestor: &[Rdn]) -> bool {
    dn.len() >= ancestor.len()
        && dn[dn.len() - ancestor.len()..]
            .iter()
            .zip(ancestor)
            .all(|(a, b)| {
                a.attr.eq_ignore_ascii_case(&b.attr)
                    && a.value.to_lowercase() == b.value.to_lowercase()
            })
}

/// Checks the directory's DNs and returns the managed OUs: each under `base_dn`, and
/// `users_ou` and `disabled_ou` inside one of them.
fn managed_ous(d: &RawDirectory) -> Result<Vec<String>, (&'static str, String)> {
    let base = dn("directory.base_dn", &d.base_dn)?;
    if let Some(u) = &d.uniqueness_base_dn {
        dn("directory.uniqueness_base_dn", u)?;
    }
    let mut own: Vec<(&'static str, &String)> = vec![("directory.users_ou", &d.users_ou)];
    if let Some(o) = &d.disabled_ou {
        own.push(("directory.disabled_ou", o));
    }
    let own: Vec<(&'static str, &String, Vec<Rdn>)> = own
        .into_iter()
        .map(|(key, value)| dn(key, value).map(|rdns| (key, value, rdns)))
        .collect::<Result<_, _>>()?;
    let Some(listed) = &d.managed_ous else {
        // The default: the OUs hrsync writes to itself, which must then lie under base_dn.
        for (key, value, rdns) in &own {
            if !dn_within(rdns, &base) {
                return Err((
                    key,
                    format!("`{value}` is not under base_dn `{}`", d.base_dn),
                ));
            }
        }
        return Ok(own.into_iter().map(|(_, v, _)| v.clone()).collect());
    };
    let mut managed = Vec::with_capacity(listed.len());
    for value in listed {
        let rdns = dn("directory.managed_ous", value)?;
        if !dn_within(&rdns, &base) {
            return Err((
                "directory.managed_ous",
                format!("`{value}` is not under base_dn `{}`", d.base_dn),
            ));
        }
        managed.push(rdns);
    }
    for (key, value, rdns) in &own {
        if !managed.iter().any(|m| dn_within(rdns, m)) {
            let name = key.trim_start_matches("directory.");
            return Err((
                "directory.managed_ous",
                format!(
                    "{name} `{value}` is not inside a managed OU; add \"{value}\" to managed_ous"
                ),
            ));
        }
    }
    Ok(listed.clone())
}

#[cfg(test)]
mod tests;
