//! Templates for orchestration steps, outbound webhooks and connector endpoints: the same
//! minijinja dialect and filters as `[mapping]`, over `person` (the HR fields, `id`, `status`,
//! `raw`) and `user` (the AD account: `user.dn`, `user.mail`, `user.sAMAccountName`, … — names as
//! written or lower-case).
//!
//! # Escaping by context
//!
//! A template's literal text is structure; every `{{ value }}` is data, escaped for where the
//! rendered text goes ([`Escape`]): percent-encoded in a URL (`/`, `?`, `#`, `&` included, so
//! `../x?admin=1` stays one path segment), written as a JSON value in a JSON body (quotes
//! included: write `{"name": {{ person.full_name }}}`), entity-escaped in an XML body. Headers,
//! query tables and form fields are plain text, encoded as a whole when the request is built.
//! `|safe` marks a value the admin vouches for (it is inserted as is); `|urlencode`, `|tojson`
//! and `|xml` escape explicitly (and are not escaped twice).

pub mod escape;

use std::collections::BTreeMap;

use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, Output, State, UndefinedBehavior};

pub use escape::{Escape, check_json, check_path, check_xml, url_component, xml_text};

use crate::mapping::{FieldValue, Person};

/// A template that could not be rendered, and where it was used.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what}: {message}")]
pub struct TemplateError {
    pub what: String,
    pub message: String,
}

impl TemplateError {
    /// Names where the template was used (`steps[2].params.work_email`).
    pub fn at(mut self, what: &str) -> Self {
        self.what = what.to_string();
        self
    }
}

/// The values templates see.
#[derive(Debug, Clone)]
pub struct Context(Value);

impl Context {
    /// A context of the given root names (`person`, `page`, `settings`, …).
    pub fn from_map(root: BTreeMap<String, Value>) -> Self {
        Context(Value::from(root))
    }
}

fn field_value(v: &FieldValue) -> Value {
    match v {
        FieldValue::Null => Value::UNDEFINED,
        FieldValue::Text(s) | FieldValue::Date(s) => Value::from(s.clone()),
        FieldValue::Integer(n) => Value::from(*n),
        FieldValue::Number(n) => Value::from(*n),
        FieldValue::Boolean(b) => Value::from(*b),
        FieldValue::TextList(l) => Value::from(l.clone()),
    }
}

/// A person as templates see `person`: every field (endpoint fields nested:
/// `person.timeoff.end_date`), `id`, `status`, `source_status` and `raw`.
pub fn person_value(p: &Person) -> Value {
    let mut m: BTreeMap<String, Value> = p
        .values()
        .iter()
        .map(|(k, v)| (k.clone(), field_value(v)))
        .collect();
    crate::mapping::nest::nest(&mut m);
    m.insert("id".into(), Value::from(p.id.clone()));
    m.insert("status".into(), Value::from(p.status.as_str()));
    m.insert("source_status".into(), Value::from(p.source_status.clone()));
    if let Some(raw) = &p.raw {
        m.insert("raw".into(), Value::from_serialize(raw));
    }
    Value::from(m)
}

impl Context {
    /// A context of a person and their account (either may be missing).
    pub fn new(
        person: Option<&Person>,
        user: Option<(&str, &BTreeMap<String, Vec<String>>)>,
    ) -> Self {
        let mut root: BTreeMap<String, Value> = BTreeMap::new();
        if let Some(p) = person {
            root.insert("person".into(), person_value(p));
        }
        if let Some((dn, attrs)) = user {
            let mut m: BTreeMap<String, Value> = BTreeMap::new();
            for (k, v) in attrs {
                let value = match v.as_slice() {
                    [one] => Value::from(one.clone()),
                    many => Value::from(many.to_vec()),
                };
                m.insert(k.to_ascii_lowercase(), value.clone());
                m.insert(k.clone(), value);
            }
            m.insert("dn".into(), Value::from(dn.to_string()));
            root.insert("user".into(), Value::from(m));
        }
        Context(Value::from(root))
    }
}

/// The template environment.
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// An environment with the mapping filters; missing values render empty.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Chainable);
        // The template's name ends with its escape marker (see `render_as`).
        env.set_auto_escape_callback(|name| {
            match name.rsplit_once('#').map(|(_, marker)| marker) {
                Some(m) if m == Escape::Url.marker() => AutoEscape::Custom("url"),
                Some(m) if m == Escape::Json.marker() => AutoEscape::Custom("json"),
                Some(m) if m == Escape::Xml.marker() => AutoEscape::Custom("xml"),
                _ => AutoEscape::None,
            }
        });
        env.set_formatter(format_escaped);
        crate::mapping::filters::register(&mut env);
        Templates { env }
    }

    /// Renders a template string as plain text.
    pub fn render(&self, template: &str, ctx: &Context) -> Result<String, TemplateError> {
        self.render_as(template, ctx, Escape::None)
    }

    /// Renders a template string, each value escaped for `escape`.
    pub fn render_as(
        &self,
        template: &str,
        ctx: &Context,
        escape: Escape,
    ) -> Result<String, TemplateError> {
        let err = |e: minijinja::Error| TemplateError {
            what: template.to_string(),
            message: e.to_string(),
        };
        let name = format!("template#{}", escape.marker());
        self.env
            .template_from_named_str(&name, template)
            .and_then(|t| t.render(&ctx.0))
            .map_err(err)
    }

    /// Evaluates a condition (`user.mail and person.status == 'active'`).
    pub fn condition(&self, expression: &str, ctx: &Context) -> Result<bool, TemplateError> {
        let err = |e: minijinja::Error| TemplateError {
            what: expression.to_string(),
            message: e.to_string(),
        };
        let expr = self.env.compile_expression(expression).map_err(err)?;
        Ok(expr.eval(&ctx.0).map_err(err)?.is_true())
    }
}

/// Writes a value for the template's escape mode (see the module docs).
fn format_escaped(out: &mut Output, state: &State, value: &Value) -> Result<(), minijinja::Error> {
    let write = |out: &mut Output, text: &str| {
        out.write_str(text)
            .map_err(|e| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, e.to_string()))
    };
    let mode = match state.auto_escape() {
        AutoEscape::Custom(mode) => mode,
        _ => return minijinja::escape_formatter(out, state, value),
    };
    if value.is_safe() {
        return write(out, value.as_str().unwrap_or_default());
    }
    let text = || {
        if value.is_undefined() || value.is_none() {
            String::new()
        } else {
            value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_string)
        }
    };
    match mode {
        "url" => write(out, &url_component(&text())),
        "xml" => write(out, &xml_text(&text())),
        "json" => {
            let json = if value.is_undefined() {
                "null".to_string()
            } else {
                serde_json::to_string(value).map_err(|e| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::BadSerialization,
                        format!("cannot write the value as JSON: {e}"),
                    )
                })?
            };
            write(out, &json)
        }
        _ => write(out, &text()),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::mapping::Lifecycle;

    #[test]
    fn person_and_user_are_reachable() {
        let p = Person {
            id: "e-1".into(),
            status: Lifecycle::Active,
            source_status: "active".into(),
            facts: Default::default(),
            fields: [("first_name".to_string(), FieldValue::Text("José".into()))].into(),
            raw: Some(serde_json::json!({"country": {"alpha_2_code": "PT"}})),
            complete: true,
        }
        .lift_facts();
        let attrs: BTreeMap<String, Vec<String>> =
            [("sAMAccountName".to_string(), vec!["jose".to_string()])].into();
        let ctx = Context::new(Some(&p), Some(("CN=José,DC=x", &attrs)));
        let t = Templates::new();
        assert_eq!(
            t.render("{{ person.first_name|ascii }} {{ user.sAMAccountName }} {{ user.samaccountname }} {{ person.raw.country.alpha_2_code }} {{ user.dn }}", &ctx).unwrap(),
            "Jose jose jose PT CN=José,DC=x"
        );
        assert!(
            t.condition("person.status == 'active' and user.sAMAccountName", &ctx)
                .unwrap()
        );
        assert!(!t.condition("user.mail", &ctx).unwrap());
    }

    fn hostile() -> Context {
        let p = Person {
            id: "e-1".into(),
            status: Lifecycle::Active,
            source_status: "active".into(),
            facts: Default::default(),
            fields: [(
                "full_name".to_string(),
                FieldValue::Text(r#"a","admin":true,"b":"<x>&'../?q=1#"#.into()),
            )]
            .into(),
            raw: None,
            complete: true,
        }
        .lift_facts();
        Context::new(Some(&p), None)
    }

    #[test]
    fn values_are_data_in_every_context() {
        let t = Templates::new();
        let ctx = hostile();
        let json = t
            .render_as(
                r#"{"name": {{ person.full_name }}, "none": {{ person.nope }}}"#,
                &ctx,
                Escape::Json,
            )
            .unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"name": r#"a","admin":true,"b":"<x>&'../?q=1#"#, "none": null})
        );
        let xml = t
            .render_as(
                "<p n=\"{{ person.full_name }}\">{{ person.full_name }}</p>",
                &ctx,
                Escape::Xml,
            )
            .unwrap();
        check_xml(&xml).unwrap();
        assert!(!xml.contains("<x>"), "{xml}");
        let url = t
            .render_as(
                "https://h/v1/people/{{ person.full_name }}/x",
                &ctx,
                Escape::Url,
            )
            .unwrap();
        let parsed = url::Url::parse(&url).unwrap();
        assert_eq!(parsed.query(), None);
        assert_eq!(parsed.fragment(), None);
        assert_eq!(parsed.path_segments().unwrap().count(), 4, "{url}");
        let segment = parsed.path_segments().unwrap().nth(2).unwrap();
        assert_eq!(
            percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .unwrap(),
            r#"a","admin":true,"b":"<x>&'../?q=1#"#
        );
        // Explicit filters are not escaped twice; `safe` is the admin's word.
        assert_eq!(
            t.render_as("{{ 'a b'|urlencode }}/{{ 'c/d'|safe }}", &ctx, Escape::Url)
                .unwrap(),
            "a%20b/c/d"
        );
        assert_eq!(
            t.render_as("{{ person.full_name|tojson }}", &ctx, Escape::Json)
                .unwrap(),
            t.render_as("{{ person.full_name }}", &ctx, Escape::Json)
                .unwrap()
        );
        // Plain text stays plain.
        assert_eq!(
            t.render("{{ person.full_name }}", &ctx).unwrap(),
            r#"a","admin":true,"b":"<x>&'../?q=1#"#
        );
    }
}
