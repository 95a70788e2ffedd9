//! `[[connectors.NAME.endpoints]]`: as written, and validated into typed settings at load.

use std::collections::{BTreeMap, BTreeSet};

use minijinja::Environment;
use serde::Deserialize;

/// Names an endpoint cannot take: the mapping's own names and the template roots.
const RESERVED: &[&str] = &[
    "id",
    "status",
    "source_status",
    "raw",
    "person",
    "n",
    "user",
    "settings",
];

/// The names an endpoint's templates may use; nothing else (no secret can enter one).
pub const MACROS: &[&str] = &[
    "person",
    "page",
    "page_size",
    "cursor",
    "today",
    "now",
    "settings",
];

/// Headers the host sets itself.
const HOST_HEADERS: &[&str] = &["authorization", "host", "cookie", "proxy-authorization"];

/// Pages one endpoint reads at most in one call.
pub const MAX_PAGES: usize = 1_000;

/// `[[connectors.NAME.endpoints]]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    name: String,
    #[serde(default)]
    method: Option<String>,
    path: String,
    #[serde(default)]
    query: BTreeMap<String, String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<toml::Value>,
    #[serde(default)]
    records: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    person_key: Option<String>,
    #[serde(default)]
    pagination: Option<RawPagination>,
    #[serde(default)]
    per_person: bool,
}

/// One call of a REST connector (`[connectors.NAME.rest] list = { … }`, `detail = { … }`):
/// an endpoint without a name, key or per-person flag, which the connector gives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCall {
    #[serde(default)]
    method: Option<String>,
    path: String,
    #[serde(default)]
    query: BTreeMap<String, String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    body: Option<toml::Value>,
    #[serde(default)]
    records: Option<String>,
    #[serde(default)]
    pagination: Option<RawPagination>,
}

/// `pagination = { kind = … }` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
enum RawPagination {
    None,
    Page {
        #[serde(default)]
        start: Option<u64>,
        #[serde(default)]
        page_size: Option<u64>,
        #[serde(default)]
        total_pages: Option<String>,
    },
    Cursor {
        cursor: String,
    },
    Next {
        #[serde(default)]
        next: Option<String>,
    },
}

/// The HTTP method of an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    fn parse(text: &str) -> Option<Method> {
        Some(match text.to_ascii_uppercase().as_str() {
            "GET" => Method::Get,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            _ => return None,
        })
    }

    /// As written in a request line.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// How an endpoint's pages follow each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pagination {
    /// One request.
    None,
    /// `{{ page }}` from `start` up; stops at an empty page, a page shorter than `page_size`, or
    /// the page the `total_pages` pointer names.
    Page {
        start: u64,
        page_size: Option<u64>,
        total_pages: Option<String>,
    },
    /// `{{ cursor }}` from the JSON pointer `cursor` of the last answer; stops when it is missing,
    /// null or empty.
    Cursor { cursor: String },
    /// The next page's URL from the JSON pointer `next`, or from the `Link: <…>; rel="next"`
    /// header without one; it must lie under the connector's `base_url`.
    Next { next: Option<String> },
}

/// The body of an endpoint's request.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A TOML table serialized as JSON by hrsync (strings are templates rendered as text).
    Table(toml::Value),
    /// A JSON template: each value is written as a JSON value.
    Template(String),
}

/// One endpoint, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoint {
    /// Its fields land under `name.` in the person's fields.
    pub name: String,
    pub method: Method,
    /// A template relative to the connector's `base_url`; values are percent-encoded.
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub headers: BTreeMap<String, String>,
    pub body: Option<Body>,
    /// A JSON pointer to the records (an array, or one object); `None`: the body is one record.
    pub records: Option<String>,
    /// A JSON pointer into a record to its primary key.
    pub key: Option<String>,
    /// The person field the key holds (`id`: the person's id in the HR system).
    pub person_key: String,
    pub pagination: Pagination,
    /// Called once per person (with their detail), else once per run for everyone.
    pub per_person: bool,
}

/// What is wrong with an endpoint, naming its key (`endpoints[1].path`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{key}`: {message}")]
pub struct EndpointConfigError {
    /// Relative to the connector (`endpoints[1].path`).
    pub key: String,
    pub message: String,
}

/// `/data/items`, or `data.items` written as a path: a JSON pointer.
pub fn pointer(text: &str) -> String {
    if text.is_empty() || text.starts_with('/') {
        text.to_string()
    } else {
        text.split('.')
            .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
            .collect()
    }
}

impl Endpoint {
    /// Validates the endpoints of one connector.
    pub fn parse_all(raw: Vec<RawEndpoint>) -> Result<Vec<Endpoint>, EndpointConfigError> {
        let mut names = BTreeSet::new();
        let mut out = Vec::with_capacity(raw.len());
        for (i, r) in raw.into_iter().enumerate() {
            let e = Endpoint::parse(i, r)?;
            if !names.insert(e.name.clone()) {
                return Err(EndpointConfigError {
                    key: format!("endpoints[{i}].name"),
                    message: format!("`{}` names another endpoint already", e.name),
                });
            }
            out.push(e);
        }
        Ok(out)
    }

    fn parse(i: usize, r: RawEndpoint) -> Result<Endpoint, EndpointConfigError> {
        let err = |field: &str, message: String| EndpointConfigError {
            key: format!("endpoints[{i}].{field}"),
            message,
        };
        let valid_name = r
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && r.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_name || RESERVED.contains(&r.name.as_str()) {
            return Err(err(
                "name",
                format!(
                    "`{}` cannot name an endpoint: use lower-case letters, digits and `_` (its fields are `{}.FIELD` in templates), not one of {}",
                    r.name,
                    r.name,
                    RESERVED.join(", ")
                ),
            ));
        }
        let method = match &r.method {
            None => Method::Get,
            Some(m) => Method::parse(m).ok_or_else(|| {
                err(
                    "method",
                    format!("`{m}` is not GET, POST, PUT, PATCH or DELETE"),
                )
            })?,
        };
        if !r.path.starts_with('/') {
            return Err(err(
                "path",
                format!(
                    "`{}` must start with `/`: it is relative to the connector's base_url (absolute URLs are not allowed)",
                    r.path
                ),
            ));
        }
        for name in r.headers.keys() {
            if HOST_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
                return Err(err(
                    &format!("headers.{name}"),
                    "is set by hrsync (the connector's credentials are attached to every request to its base_url); remove it".to_string(),
                ));
            }
        }
        let body = match r.body {
            None => None,
            Some(toml::Value::String(s)) => Some(Body::Template(s)),
            Some(t @ toml::Value::Table(_)) => Some(Body::Table(t)),
            Some(_) => {
                return Err(err(
                    "body",
                    "must be a table (serialized as JSON) or a JSON template string".to_string(),
                ));
            }
        };
        let pagination = match r.pagination {
            None | Some(RawPagination::None) => Pagination::None,
            Some(RawPagination::Page {
                start,
                page_size,
                total_pages,
            }) => Pagination::Page {
                start: start.unwrap_or(1),
                page_size: page_size.filter(|n| *n > 0),
                total_pages: total_pages.as_deref().map(pointer),
            },
            Some(RawPagination::Cursor { cursor }) => Pagination::Cursor {
                cursor: pointer(&cursor),
            },
            Some(RawPagination::Next { next }) => Pagination::Next {
                next: next.as_deref().map(pointer),
            },
        };
        if r.per_person && pagination != Pagination::None {
            return Err(err(
                "pagination",
                "a per-person endpoint reads one answer per person; remove pagination (or make it company-wide, keyed by `key`)".to_string(),
            ));
        }
        if !r.per_person && r.key.is_none() {
            return Err(err(
                "key",
                "a company-wide endpoint (per_person = false) needs `key`: the record field holding the person's id (or `person_key`'s field)".to_string(),
            ));
        }
        let endpoint = Endpoint {
            name: r.name,
            method,
            path: r.path,
            query: r.query,
            headers: r.headers,
            body,
            records: r.records.as_deref().map(pointer),
            key: r.key.as_deref().map(pointer),
            person_key: r.person_key.unwrap_or_else(|| "id".to_string()),
            pagination,
            per_person: r.per_person,
        };
        endpoint.check_templates(i)?;
        Ok(endpoint)
    }

    /// A REST connector's call as an endpoint named `name` (`list`: company-wide, keyed by
    /// `key`; `detail`: per person); errors name the key under `key_prefix` (`rest.list`).
    pub fn from_call(
        key_prefix: &str,
        name: &str,
        raw: RawCall,
        key: Option<String>,
        per_person: bool,
    ) -> Result<Endpoint, EndpointConfigError> {
        let raw = RawEndpoint {
            name: name.to_string(),
            method: raw.method,
            path: raw.path,
            query: raw.query,
            headers: raw.headers,
            body: raw.body,
            records: raw.records,
            key,
            person_key: None,
            pagination: raw.pagination,
            per_person,
        };
        Endpoint::parse(0, raw).map_err(|e| EndpointConfigError {
            key: match e.key.strip_prefix("endpoints[0]") {
                Some(rest) => format!("{key_prefix}{rest}"),
                None => e.key,
            },
            message: e.message,
        })
    }

    /// Every template of the endpoint with its key.
    pub fn templates(&self) -> Vec<(String, String)> {
        let mut out = vec![("path".to_string(), self.path.clone())];
        for (k, v) in &self.query {
            out.push((format!("query.{k}"), v.clone()));
        }
        for (k, v) in &self.headers {
            out.push((format!("headers.{k}"), v.clone()));
        }
        match &self.body {
            Some(Body::Template(s)) => out.push(("body".to_string(), s.clone())),
            Some(Body::Table(t)) => body_templates("body", t, &mut out),
            None => {}
        }
        out
    }

    /// Each template compiles and uses only the macros.
    fn check_templates(&self, i: usize) -> Result<(), EndpointConfigError> {
        let env = Environment::new();
        for (field, text) in self.templates() {
            let err = |message: String| EndpointConfigError {
                key: format!("endpoints[{i}].{field}"),
                message,
            };
            let t = env
                .template_from_str(&text)
                .map_err(|e| err(format!("`{text}` does not compile: {e}")))?;
            for name in t.undeclared_variables(false) {
                if !MACROS.contains(&name.as_str()) {
                    return Err(err(format!(
                        "`{text}` uses `{name}`, which is not a macro here: use {}",
                        MACROS.join(", ")
                    )));
                }
                if name == "person" && !self.per_person {
                    return Err(err(format!(
                        "`{text}` uses `person`, but the endpoint is called once per run for everyone; set per_person = true"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn body_templates(key: &str, value: &toml::Value, out: &mut Vec<(String, String)>) {
    match value {
        toml::Value::String(s) => out.push((key.to_string(), s.clone())),
        toml::Value::Table(t) => {
            for (k, v) in t {
                body_templates(&format!("{key}.{k}"), v, out);
            }
        }
        toml::Value::Array(items) => {
            for (n, v) in items.iter().enumerate() {
                body_templates(&format!("{key}[{n}]"), v, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<Vec<Endpoint>, EndpointConfigError> {
        #[derive(Deserialize)]
        struct Doc {
            endpoints: Vec<RawEndpoint>,
        }
        let doc: Doc = toml::from_str(text).unwrap();
        Endpoint::parse_all(doc.endpoints)
    }

    #[test]
    fn a_per_person_and_a_paged_endpoint_parse() {
        let e = parse(
            r#"
[[endpoints]]
name = "cost_center"
path = "/v1/custom-fields/{{ settings.cost_center_field }}/values/{{ person.id }}"
records = "data.custom_field_value"
per_person = true

[[endpoints]]
name = "timeoff"
path = "/v1/timeoff"
query = { page = "{{ page }}", page_size = "{{ page_size }}", status = "approved" }
records = "/data/timeoffs"
key = "employment_id"
pagination = { kind = "page", page_size = 50, total_pages = "/data/total_pages" }
"#,
        )
        .unwrap();
        assert_eq!(e[0].records.as_deref(), Some("/data/custom_field_value"));
        assert_eq!(e[0].person_key, "id");
        assert_eq!(e[1].key.as_deref(), Some("/employment_id"));
        assert_eq!(
            e[1].pagination,
            Pagination::Page {
                start: 1,
                page_size: Some(50),
                total_pages: Some("/data/total_pages".into())
            }
        );
    }

    #[test]
    fn each_mistake_names_its_key() {
        let cases = [
            (
                "name = \"Bad-Name\"\npath = \"/x\"\nkey = \"id\"",
                "endpoints[0].name",
            ),
            (
                "name = \"raw\"\npath = \"/x\"\nkey = \"id\"",
                "endpoints[0].name",
            ),
            (
                "name = \"a\"\npath = \"x\"\nkey = \"id\"",
                "endpoints[0].path",
            ),
            (
                "name = \"a\"\npath = \"https://evil.example/x\"\nkey = \"id\"",
                "endpoints[0].path",
            ),
            ("name = \"a\"\npath = \"/x\"", "endpoints[0].key"),
            (
                "name = \"a\"\npath = \"/x\"\nmethod = \"FETCH\"\nkey = \"id\"",
                "endpoints[0].method",
            ),
            (
                "name = \"a\"\npath = \"/x/{{ person.id }}\"\nkey = \"id\"",
                "endpoints[0].path",
            ),
            (
                "name = \"a\"\npath = \"/x/{{ token }}\"\nper_person = true",
                "endpoints[0].path",
            ),
            (
                "name = \"a\"\npath = \"/x/{{ page\"\nper_person = true",
                "endpoints[0].path",
            ),
            (
                "name = \"a\"\npath = \"/x\"\nper_person = true\nheaders = { Authorization = \"x\" }",
                "endpoints[0].headers.Authorization",
            ),
            (
                "name = \"a\"\npath = \"/x\"\nper_person = true\npagination = { kind = \"page\" }",
                "endpoints[0].pagination",
            ),
            (
                "name = \"a\"\npath = \"/x\"\nper_person = true\nbody = { q = \"{{ secret }}\" }",
                "endpoints[0].body.q",
            ),
        ];
        for (text, key) in cases {
            let e = parse(&format!("[[endpoints]]\n{text}\n")).unwrap_err();
            assert_eq!(e.key, key, "{text}: {e}");
        }
        let e = parse("[[endpoints]]\nname = \"a\"\npath = \"/x\"\nper_person = true\n[[endpoints]]\nname = \"a\"\npath = \"/y\"\nper_person = true\n").unwrap_err();
        assert_eq!(e.key, "endpoints[1].name");
    }
}
