//! `plugin = "builtin:rest"`: a connector defined in TOML (`[connectors.NAME.rest]`), as
//! written and validated into typed settings at load. See [`crate::rest`].

use std::collections::{BTreeMap, BTreeSet};

use minijinja::Environment;
use serde::Deserialize;

use super::endpoints::{Endpoint, EndpointConfigError, RawCall, pointer};
use crate::mapping::{Fact, Lifecycle};

/// The built-in name of the REST connector (`plugin = "builtin:rest"`).
pub const BUILTIN: &str = "rest";

/// The names a value template may use.
pub const VALUE_MACROS: &[&str] = &["record", "settings"];

/// `[connectors.NAME.rest]` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRest {
    list: RawCall,
    #[serde(default)]
    detail: Option<RawCall>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    status: Option<RawStatus>,
    #[serde(default)]
    start_date: Option<String>,
    #[serde(default)]
    end_date: Option<String>,
    #[serde(default)]
    manager_id: Option<String>,
    #[serde(default)]
    given_name: Option<String>,
    #[serde(default)]
    family_name: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    work_email: Option<String>,
    #[serde(default)]
    fields: Option<Vec<String>>,
}

/// `status = { pointer = "/employment/status", map = { Active = "active" } }` as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatus {
    pointer: String,
    #[serde(default)]
    map: BTreeMap<String, String>,
}

/// Where a value of the record comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A JSON pointer into the record (`/manager/id`).
    Pointer(String),
    /// A template over `record` and `settings` (`{{ record.first }} {{ record.last }}`).
    Template(String),
}

/// The HR system's status words and what they mean.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusRule {
    /// A JSON pointer to the status in the record.
    pub pointer: String,
    /// The HR system's word → the lifecycle; words not listed are `unknown`.
    pub map: BTreeMap<String, Lifecycle>,
}

/// `[connectors.NAME.rest]`, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct RestDefinition {
    /// The listing: company-wide, every page read.
    pub list: Endpoint,
    /// One person by id (`{{ person.id }}` in its path); without it, list records are complete.
    pub detail: Option<Endpoint>,
    /// A JSON pointer to the person's id (default `/id`).
    pub id: String,
    pub status: Option<StatusRule>,
    /// The typed facts, by fact.
    pub facts: BTreeMap<Fact, Source>,
    /// The record's fields that become person fields; `None`: every field.
    pub fields: Option<Vec<String>>,
}

/// Names the typed-fact keys of `[connectors.NAME.rest]`.
fn fact_key(f: Fact) -> &'static str {
    f.names()[0]
}

impl RestDefinition {
    /// Validates `[connectors.NAME.rest]`; errors name the key relative to the connector
    /// (`rest.status.map.Active`).
    pub fn parse(raw: RawRest) -> Result<RestDefinition, EndpointConfigError> {
        let err = |key: &str, message: String| EndpointConfigError {
            key: format!("rest.{key}"),
            message,
        };
        let id = pointer(raw.id.as_deref().unwrap_or("/id"));
        if id.is_empty() {
            return Err(err(
                "id",
                "must name the record's id field (a JSON pointer like `/id`)".to_string(),
            ));
        }
        let list = Endpoint::from_call("rest.list", "list", raw.list, Some(id.clone()), false)?;
        let detail = raw
            .detail
            .map(|d| Endpoint::from_call("rest.detail", "detail", d, None, true))
            .transpose()?;
        if let Some(d) = &detail
            && !d.path.contains("person")
        {
            return Err(err(
                "detail.path",
                format!(
                    "`{}` does not use `{{{{ person.id }}}}`: the detail of one person must name them",
                    d.path
                ),
            ));
        }
        let status = match raw.status {
            None => None,
            Some(s) => {
                if s.pointer.is_empty() {
                    return Err(err(
                        "status.pointer",
                        "must point at the status in the record (`/status`)".to_string(),
                    ));
                }
                let mut map = BTreeMap::new();
                for (word, meaning) in s.map {
                    let lifecycle = match meaning.as_str() {
                        "pre-hire" => Lifecycle::PreHire,
                        "active" => Lifecycle::Active,
                        "leaving" => Lifecycle::Leaving,
                        "terminated" => Lifecycle::Terminated,
                        "unknown" => Lifecycle::Unknown,
                        other => {
                            return Err(err(
                                &format!("status.map.{word}"),
                                format!(
                                    "`{other}` is not pre-hire, active, leaving, terminated or unknown"
                                ),
                            ));
                        }
                    };
                    map.insert(word, lifecycle);
                }
                Some(StatusRule {
                    pointer: pointer(&s.pointer),
                    map,
                })
            }
        };
        let mut facts = BTreeMap::new();
        let given = [
            (Fact::StartDate, raw.start_date),
            (Fact::EndDate, raw.end_date),
            (Fact::ManagerId, raw.manager_id),
            (Fact::GivenName, raw.given_name),
            (Fact::FamilyName, raw.family_name),
            (Fact::DisplayName, raw.display_name),
            (Fact::WorkEmail, raw.work_email),
        ];
        for (fact, text) in given {
            let Some(text) = text else { continue };
            let source = source(&text).map_err(|m| err(fact_key(fact), m))?;
            facts.insert(fact, source);
        }
        if let Some(fields) = &raw.fields {
            let mut seen = BTreeSet::new();
            for (i, f) in fields.iter().enumerate() {
                if f.trim().is_empty() || f.starts_with('/') {
                    return Err(err(
                        &format!("fields[{i}]"),
                        format!(
                            "`{f}` is not a field name (a record's key, `a.b` for a nested one)"
                        ),
                    ));
                }
                if !seen.insert(f.as_str()) {
                    return Err(err(
                        &format!("fields[{i}]"),
                        format!("`{f}` is listed twice"),
                    ));
                }
            }
        }
        Ok(RestDefinition {
            list,
            detail,
            id,
            status,
            facts,
            fields: raw.fields,
        })
    }
}

/// A value's source: a template when it holds `{{`/`{%`, else a JSON pointer (`/a/b` or `a.b`).
fn source(text: &str) -> Result<Source, String> {
    if !(text.contains("{{") || text.contains("{%")) {
        if text.trim().is_empty() {
            return Err("is empty: give a JSON pointer (`/manager/id`) or a template".to_string());
        }
        return Ok(Source::Pointer(pointer(text)));
    }
    let env = Environment::new();
    let t = env
        .template_from_str(text)
        .map_err(|e| format!("`{text}` does not compile: {e}"))?;
    for name in t.undeclared_variables(false) {
        if !VALUE_MACROS.contains(&name.as_str()) {
            return Err(format!(
                "`{text}` uses `{name}`: a value template sees only {}",
                VALUE_MACROS.join(", ")
            ));
        }
    }
    Ok(Source::Template(text.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn parse(text: &str) -> Result<RestDefinition, EndpointConfigError> {
        let raw: RawRest = toml::from_str(text).unwrap();
        RestDefinition::parse(raw)
    }

    const LIST: &str = "list = { path = \"/people\", query = { page = \"{{ page }}\" }, records = \"/data\", pagination = { kind = \"page\", total_pages = \"/total_pages\" } }\n";

    #[test]
    fn a_definition_parses() {
        let d = parse(&format!(
            "{LIST}detail = {{ path = \"/people/{{{{ person.id }}}}\", records = \"data\" }}\nid = \"employee_id\"\nstatus = {{ pointer = \"employment.status\", map = {{ Active = \"active\", Gone = \"terminated\" }} }}\nstart_date = \"/hired_on\"\ndisplay_name = \"{{{{ record.first }}}} {{{{ record.last }}}}\"\n"
        ))
        .unwrap();
        assert_eq!(d.id, "/employee_id");
        assert_eq!(d.list.key.as_deref(), Some("/employee_id"));
        assert!(d.detail.as_ref().unwrap().per_person);
        let s = d.status.unwrap();
        assert_eq!(s.pointer, "/employment/status");
        assert_eq!(s.map["Gone"], Lifecycle::Terminated);
        assert_eq!(
            d.facts[&Fact::StartDate],
            Source::Pointer("/hired_on".into())
        );
        assert!(matches!(d.facts[&Fact::DisplayName], Source::Template(_)));
        assert_eq!(d.fields, None);
    }

    #[test]
    fn each_mistake_names_its_key() {
        let cases = [
            (
                format!("{LIST}status = {{ pointer = \"/s\", map = {{ Active = \"working\" }} }}"),
                "rest.status.map.Active",
            ),
            (
                format!("{LIST}manager_id = \"{{{{ token }}}}\""),
                "rest.manager_id",
            ),
            (
                format!("{LIST}work_email = \"{{{{ record.x \""),
                "rest.work_email",
            ),
            (
                format!("{LIST}detail = {{ path = \"/people\" }}"),
                "rest.detail.path",
            ),
            ("list = { path = \"people\" }".to_string(), "rest.list.path"),
            (
                "list = { path = \"/people/{{ person.id }}\" }".to_string(),
                "rest.list.path",
            ),
            (format!("{LIST}fields = [\"a\", \"a\"]"), "rest.fields[1]"),
            (format!("{LIST}id = \"\""), "rest.id"),
        ];
        for (text, key) in cases {
            let e = parse(&text).unwrap_err();
            assert_eq!(e.key, key, "{text}: {e}");
        }
    }
    #[test]
    fn the_example_is_valid_beside_the_reference_config() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), "s3cret").unwrap();
        let example = format!(
            "{}\n{}",
            include_str!("../../../examples/hrsync.toml"),
            include_str!("../../../examples/rest.toml")
        );
        let mut text = String::new();
        for line in example.lines() {
            let mut l = line.to_string();
            while let Some(start) = l.find("{ env = \"") {
                let end = l[start..].find('}').unwrap() + start + 1;
                l.replace_range(start..end, "{ file = \"secret\" }");
            }
            text.push_str(&l);
            text.push('\n');
        }
        let c = crate::config::Config::parse(&dir.path().join("hrsync.toml"), &text).unwrap();
        let rest = c.connector("hr").unwrap().rest.as_ref().unwrap();
        assert_eq!(rest.facts.len(), 7);
        assert!(rest.detail.is_some());
        assert_eq!(rest.fields.as_ref().unwrap().len(), 3);
    }

    #[test]
    fn the_rest_table_belongs_to_builtin_rest() {
        let dir = tempfile::tempdir().unwrap();
        let text = |plugin: &str, rest: &str| {
            format!(
                "[connectors.hr]\nplugin = \"{plugin}\"\nbase_url = \"https://hr.example.com\"\nallowed_hosts = [\"https://hr.example.com\"]\n{rest}"
            )
        };
        let path = dir.path().join("hrsync.toml");
        let e = crate::config::Config::parse(&path, &text("builtin:rest", ""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("connectors.hr.rest"), "{e}");
        let e = crate::config::Config::parse(
            &path,
            &text(
                "builtin:remote",
                "[connectors.hr.rest]\nlist = { path = \"/people\" }\n",
            ),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("connectors.hr.rest"), "{e}");
        let e = crate::config::Config::parse(
            &path,
            &text(
                "builtin:rest",
                "[connectors.hr.rest]\nlist = { path = \"/people\" }\nstatus = { pointer = \"/s\", map = { A = \"on\" } }\n",
            ),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("connectors.hr.rest.status.map.A"), "{e}");
    }
}
