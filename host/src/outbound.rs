//! Outbound webhooks: a named HTTP call templated from the AD user's attributes and the person's
//! fields — method, URL, headers, query, a JSON, form or XML body — with no auth, a bearer token,
//! basic auth, or a connector's credentials. Egress is checked against an allow-list like a
//! plugin's: `[outbound].allowed_hosts`, or the connector's when its credentials are used.
//!
//! Values are data, never structure (see [`crate::templates`]): in the URL each value is
//! percent-encoded (and a `.`/`..` segment refused); a JSON body written as a TOML table is
//! serialized by hrsync (each string a template rendered as text, numbers, booleans, tables and
//! lists kept as they are); a JSON body written as a template string gets each value as a JSON
//! value (`{"name": {{ person.full_name }}}`, no quotes around it); an XML body gets each value
//! XML-escaped. A rendered body that is not valid JSON or XML is refused before it is sent, naming
//! the webhook and the field.

use std::time::Duration;

use crate::config::SecretRef;
use crate::egress::AllowedHosts;
use crate::secret::Secret;
use crate::templates::{Context, Escape, TemplateError, Templates};

pub use crate::config::webhooks::{BodyFormat, WebhookAuth, WebhookConfig};

/// Why a webhook call could not be made.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("webhook `{0}` is not configured")]
    Unknown(String),
    #[error("webhook `{name}`: {source}")]
    Template { name: String, source: TemplateError },
    #[error("webhook `{name}`: {message}")]
    Denied { name: String, message: String },
    #[error("webhook `{name}`: {message}")]
    Invalid { name: String, message: String },
    /// The rendered URL or body is not what its format requires; nothing was sent.
    #[error("webhook `{name}`: `{field}` {message}; nothing was sent")]
    Malformed {
        name: String,
        field: String,
        message: String,
    },
    #[error("webhook `{name}`: the request failed: {message}")]
    Transport { name: String, message: String },
    #[error("webhook `{name}`: cannot read a secret: {message}")]
    Secret { name: String, message: String },
}

/// A request as sent (for `hrsync webhook test` and the audit log; the auth header is masked).
#[derive(Debug, Clone)]
pub struct SentRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// The answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Credentials for webhooks that borrow a connector's.
pub trait ConnectorCredentials: Send + Sync {
    /// The bearer token of the connector `name` and its allow-list.
    fn credentials(
        &self,
        name: &str,
    ) -> impl std::future::Future<Output = Result<(Option<Secret>, AllowedHosts), String>> + Send;
}

/// Renders and sends one webhook.
pub async fn call(
    name: &str,
    cfg: &WebhookConfig,
    allowed: &AllowedHosts,
    base: &std::path::Path,
    ctx: &Context,
    connectors: &impl ConnectorCredentials,
) -> Result<(SentRequest, Answer), OutboundError> {
    let t = Templates::new();
    let render_as = |what: &str, s: &str, escape: Escape| {
        t.render_as(s, ctx, escape)
            .map_err(|source| OutboundError::Template {
                name: name.to_string(),
                source: source.at(what),
            })
    };
    let render = |what: &str, s: &str| render_as(what, s, Escape::None);
    let malformed = |field: &str, message: String| OutboundError::Malformed {
        name: name.to_string(),
        field: field.to_string(),
        message,
    };
    let rendered_url = render_as("url", &cfg.url, Escape::Url)?;
    crate::templates::check_path(&rendered_url).map_err(|m| malformed("url", m))?;
    let mut url = url::Url::parse(&rendered_url).map_err(|e| OutboundError::Invalid {
        name: name.into(),
        message: format!("the url is not a URL: {e}"),
    })?;
    for (k, v) in &cfg.query {
        let v = render(&format!("query.{k}"), v)?;
        url.query_pairs_mut().append_pair(k, &v);
    }
    let mut headers: Vec<(String, String)> = Vec::new();
    for (k, v) in &cfg.headers {
        headers.push((k.clone(), render(&format!("headers.{k}"), v)?));
    }
    let (body, content_type) = match (&cfg.body, cfg.format) {
        (None, _) => (String::new(), None),
        (Some(toml::Value::String(s)), BodyFormat::Json) => {
            let body = render_as("body", s, Escape::Json)?;
            crate::templates::check_json(&body).map_err(|m| malformed("body", json_hint(s, m)))?;
            (body, Some("application/json"))
        }
        (Some(toml::Value::String(s)), BodyFormat::Xml) => {
            let body = render_as("body", s, Escape::Xml)?;
            crate::templates::check_xml(&body).map_err(|m| malformed("body", m))?;
            (body, Some("application/xml"))
        }
        (Some(table @ toml::Value::Table(_)), BodyFormat::Json) => (
            json_value("body", table, &render)?.to_string(),
            Some("application/json"),
        ),
        (Some(toml::Value::Table(fields)), BodyFormat::Form) => {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in fields {
                let text = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                form.append_pair(k, &render(&format!("body.{k}"), &text)?);
            }
            (form.finish(), Some("application/x-www-form-urlencoded"))
        }
        (Some(_), format) => {
            return Err(OutboundError::Invalid {
                name: name.into(),
                message: format!(
                    "a {format:?} body must be a template string{}",
                    if format == BodyFormat::Form {
                        ""
                    } else {
                        " or a table"
                    }
                ),
            });
        }
    };
    if let Some(ct) = content_type
        && !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type".into(), ct.into()));
    }

    let secret = |s: &SecretRef| {
        s.read(base).map_err(|message| OutboundError::Secret {
            name: name.into(),
            message,
        })
    };
    let (authorization, allowed, section) = match &cfg.auth {
        WebhookAuth::None => (None, allowed.clone(), "[outbound]".to_string()),
        WebhookAuth::Bearer { token } => (
            Some(format!("Bearer {}", secret(token)?.expose())),
            allowed.clone(),
            "[outbound]".to_string(),
        ),
        WebhookAuth::Basic { username, password } => {
            use base64::Engine;
            let raw = format!("{username}:{}", secret(password)?.expose());
            (
                Some(format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(raw)
                )),
                allowed.clone(),
                "[outbound]".to_string(),
            )
        }
        WebhookAuth::Connector { name: connector } => {
            let (token, hosts) = connectors.credentials(connector).await.map_err(|message| {
                OutboundError::Invalid {
                    name: name.into(),
                    message,
                }
            })?;
            (
                token.map(|t| format!("Bearer {}", t.expose())),
                hosts,
                format!("[connectors.{connector}]"),
            )
        }
    };
    if let Err(d) = allowed.check(name, &url) {
        return Err(OutboundError::Denied {
            name: name.into(),
            message: format!(
                "may not reach {}: it is not allowed. To allow it, add \"{}\" to allowed_hosts in {section}",
                d.origin, d.origin
            ),
        });
    }

    let method =
        reqwest::Method::from_bytes(cfg.method.to_ascii_uppercase().as_bytes()).map_err(|_| {
            OutboundError::Invalid {
                name: name.into(),
                message: format!("`{}` is not an HTTP method", cfg.method),
            }
        })?;
    let client =
        crate::http::client(Duration::from_secs(cfg.timeout_secs.unwrap_or(30))).map_err(|e| {
            OutboundError::Transport {
                name: name.into(),
                message: e.to_string(),
            }
        })?;
    let mut request = client
        .request(method.clone(), url.clone())
        .body(body.clone());
    for (k, v) in &headers {
        request = request.header(k, v);
    }
    if let Some(a) = &authorization {
        request = request.header("authorization", a);
    }
    let response = request.send().await.map_err(|e| OutboundError::Transport {
        name: name.into(),
        message: e.to_string(),
    })?;
    let status = response.status().as_u16();
    let answer_headers = response
        .headers()
        .iter()
        .filter_map(|(k, v)| Some((k.to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let answer_body = response.text().await.unwrap_or_default();
    let mut shown = headers.clone();
    if authorization.is_some() {
        shown.push(("authorization".into(), "*** (masked)".into()));
    }
    Ok((
        SentRequest {
            method: method.to_string(),
            url: url.to_string(),
            headers: shown,
            body,
        },
        Answer {
            status,
            headers: answer_headers,
            body: answer_body,
        },
    ))
}

/// A JSON body written as a TOML table: strings are templates rendered as text (each becomes a
/// JSON string), everything else keeps its type; tables and lists nest.
pub(crate) fn json_value<E>(
    key: &str,
    value: &toml::Value,
    render: &impl Fn(&str, &str) -> Result<String, E>,
) -> Result<serde_json::Value, E> {
    use serde_json::Value as J;
    Ok(match value {
        toml::Value::String(s) => J::String(render(key, s)?),
        toml::Value::Integer(n) => J::from(*n),
        toml::Value::Float(f) => J::from(*f),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(items) => J::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| json_value(&format!("{key}[{i}]"), v, render))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(fields) => J::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), json_value(&format!("{key}.{k}"), v, render)?)))
                .collect::<Result<_, E>>()?,
        ),
    })
}

/// The JSON error, with a hint when the template quotes its values itself.
fn json_hint(template: &str, message: String) -> String {
    if template.contains("\"{{") {
        format!(
            "{message}: values are written as JSON values with their own quotes; write {{{{ person.x }}}}, not \"{{{{ person.x }}}}\" (or use a TOML table body)"
        )
    } else {
        message
    }
}

#[cfg(test)]
mod tests;
