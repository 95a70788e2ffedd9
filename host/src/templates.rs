//! Templates for orchestration steps and outbound webhooks: the same minijinja dialect and
//! filters as `[mapping]`, over `person` (the HR fields, `id`, `status`, `raw`) and `user` (the AD
//! account: `user.dn`, `user.mail`, `user.sAMAccountName`, … — names as written or lower-case).

use std::collections::BTreeMap;

use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};

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

impl Context {
    /// A context of a person and their account (either may be missing).
    pub fn new(
        person: Option<&Person>,
        user: Option<(&str, &BTreeMap<String, Vec<String>>)>,
    ) -> Self {
        let mut root: BTreeMap<String, Value> = BTreeMap::new();
        if let Some(p) = person {
            let mut m: BTreeMap<String, Value> = p
                .values()
                .iter()
                .map(|(k, v)| (k.clone(), field_value(v)))
                .collect();
            m.insert("id".into(), Value::from(p.id.clone()));
            m.insert("status".into(), Value::from(p.status.as_str()));
            m.insert("source_status".into(), Value::from(p.source_status.clone()));
            if let Some(raw) = &p.raw {
                m.insert("raw".into(), Value::from_serialize(raw));
            }
            root.insert("person".into(), Value::from(m));
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
        env.set_auto_escape_callback(|_| AutoEscape::None);
        crate::mapping::filters::register(&mut env);
        Templates { env }
    }

    /// Renders a template string.
    pub fn render(&self, template: &str, ctx: &Context) -> Result<String, TemplateError> {
        self.env
            .render_str(template, &ctx.0)
            .map_err(|e| TemplateError {
                what: template.to_string(),
                message: e.to_string(),
            })
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
}
