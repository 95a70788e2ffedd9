//! Store only what rules use: a person's detail is cached in the store, and the HR record behind it
//! holds far more than hrsync needs (date of birth, home address, bank details…). [`used_fields`]
//! finds the fields the configuration's templates and conditions name, plus the ones the engine
//! reads itself; [`retained`] drops every other field, and `raw` unless a template reads it.

use std::collections::BTreeSet;

use minijinja::Environment;
use serde::Serialize;

use crate::config::Config;
use crate::mapping::{AttributeRule, Person};
use crate::orchestration::StepAction;

/// Fields the engine reads itself, whatever the templates say: names (display, CN fallbacks),
/// lifecycle dates, the manager link and the work email.
pub const ENGINE_FIELDS: &[&str] = &[
    "full_name",
    "first_name",
    "last_name",
    "start_date",
    "termination_date",
    "manager_employment_id",
    "work_email",
];

/// Names in the mapping context that are not HR fields.
const MAPPING_NAMES: &[&str] = &["id", "status", "source_status", "n"];

/// The person fields to keep.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FieldSet {
    /// Every field: a template reads the person as a whole (`person[name]`, `person|tojson`) or
    /// does not compile, so what it reads cannot be known.
    all: bool,
    /// The HR system's own record (`raw`).
    raw: bool,
    /// Field names.
    fields: BTreeSet<String>,
}

impl FieldSet {
    /// Keeps everything (nothing is dropped).
    pub fn everything() -> FieldSet {
        FieldSet {
            all: true,
            raw: true,
            fields: BTreeSet::new(),
        }
    }

    /// Only the fields the engine reads itself.
    pub fn engine() -> FieldSet {
        FieldSet {
            all: false,
            raw: false,
            fields: ENGINE_FIELDS.iter().map(|f| f.to_string()).collect(),
        }
    }

    /// Whether the field `name` is kept.
    /// A connector endpoint's field (`timeoff.end_date`) is kept when a template names it or
    /// its endpoint (`timeoff`).
    pub fn keeps(&self, name: &str) -> bool {
        self.all
            || self.fields.contains(name)
            || name
                .split_once('.')
                .is_some_and(|(endpoint, _)| self.fields.contains(endpoint))
    }

    /// Whether the HR system's own record is kept.
    pub fn keeps_raw(&self) -> bool {
        self.all || self.raw
    }

    fn add(&mut self, name: &str) {
        self.fields.insert(name.to_string());
    }

    /// Adds what one name a template uses (`first_name`, `person.department`, `raw.x.y`) says.
    fn add_variable(&mut self, variable: &str, scope: Scope) {
        let mut parts = variable.split('.');
        let head = parts.next().unwrap_or_default();
        match (head, scope) {
            ("raw", _) => self.raw = true,
            ("person", _) => match parts.next() {
                None => self.all = true,
                Some("raw") => self.raw = true,
                Some(field) => self.add(field),
            },
            (name, Scope::Mapping) if !MAPPING_NAMES.contains(&name) => self.add(name),
            _ => {}
        }
    }
}

/// The context a template is rendered in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// `[mapping]` and `[sync]`: the fields by name, `person.X`, `raw`, `id`, `status`.
    Mapping,
    /// Orchestration, webhooks, automations: `person.X` and `user.X`.
    Person,
}

/// A whole template (`{{ … }}`) or a condition (an expression).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Template,
    Expression,
}

/// One template or condition of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Where it is written (`mapping.attributes.sn`, `templates.welcome.steps[0].when`).
    pub key: String,
    pub text: String,
    pub kind: Kind,
    pub scope: Scope,
}

impl Source {
    fn new(key: String, text: &str, kind: Kind, scope: Scope) -> Source {
        Source {
            key,
            text: text.to_string(),
            kind,
            scope,
        }
    }

    /// The names it uses, nested (`person.department`); the parse error if it does not compile.
    pub fn variables(&self, env: &Environment<'_>) -> Result<BTreeSet<String>, minijinja::Error> {
        let names = match self.kind {
            Kind::Template => env
                .template_from_str(&self.text)?
                .undeclared_variables(true),
            Kind::Expression => env
                .compile_expression(&self.text)?
                .undeclared_variables(true),
        };
        Ok(names.into_iter().collect())
    }
}

fn rule_sources(key: &str, rule: &AttributeRule, out: &mut Vec<Source>) {
    let m = Scope::Mapping;
    if let Some(t) = &rule.template {
        out.push(Source::new(key.to_string(), t, Kind::Template, m));
    }
    for (i, t) in rule.unique.iter().flatten().enumerate() {
        out.push(Source::new(
            format!("{key}.unique[{i}]"),
            t,
            Kind::Template,
            m,
        ));
    }
    if let Some(w) = &rule.when {
        out.push(Source::new(format!("{key}.when"), w, Kind::Expression, m));
    }
}

fn sync_sources(config: &Config, out: &mut Vec<Source>) {
    let (m, t, e) = (Scope::Mapping, Kind::Template, Kind::Expression);
    let s = &config.sync;
    if let Some(scope) = &s.scope {
        out.push(Source::new("sync.scope".into(), scope, e, m));
    }
    if let Some(ou) = &s.ou {
        out.push(Source::new("sync.ou".into(), ou, t, m));
    }
    for (i, cn) in s.cn.iter().enumerate() {
        out.push(Source::new(format!("sync.cn[{i}]"), cn, t, m));
    }
    for (i, g) in s.groups.iter().enumerate() {
        if let Some(w) = &g.when {
            out.push(Source::new(format!("sync.groups[{i}].when"), w, e, m));
        }
    }
}

fn step_sources(key: &str, action: &StepAction, out: &mut Vec<Source>) {
    let (p, t) = (Scope::Person, Kind::Template);
    match action {
        StepAction::Directory {
            attributes,
            group,
            target_ou,
            ..
        } => {
            for (name, v) in attributes {
                out.push(Source::new(format!("{key}.attributes.{name}"), v, t, p));
            }
            if let Some(g) = group {
                out.push(Source::new(format!("{key}.group"), g, t, p));
            }
            if let Some(ou) = target_ou {
                out.push(Source::new(format!("{key}.target_ou"), ou, t, p));
            }
        }
        StepAction::ConnectorAction { params, .. } => {
            for (name, v) in params {
                out.push(Source::new(format!("{key}.params.{name}"), v, t, p));
            }
        }
        StepAction::Webhook { .. } | StepAction::Wait { .. } => {}
    }
}

/// Every string of a webhook body (a template, or a table of templates).
fn body_sources(key: &str, body: &toml::Value, out: &mut Vec<Source>) {
    match body {
        toml::Value::String(s) => {
            out.push(Source::new(
                key.to_string(),
                s,
                Kind::Template,
                Scope::Person,
            ));
        }
        toml::Value::Table(fields) => {
            for (name, v) in fields {
                body_sources(&format!("{key}.{name}"), v, out);
            }
        }
        toml::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                body_sources(&format!("{key}[{i}]"), v, out);
            }
        }
        _ => {}
    }
}

/// Every template and condition in the configuration, with where it is written.
pub fn sources(config: &Config) -> Vec<Source> {
    let mut out = Vec::new();
    for (name, rule) in &config.mapping.attributes {
        rule_sources(&format!("mapping.attributes.{name}"), rule, &mut out);
    }
    sync_sources(config, &mut out);
    let (p, t, e) = (Scope::Person, Kind::Template, Kind::Expression);
    for (name, template) in &config.templates {
        for (i, step) in template.steps.iter().enumerate() {
            let key = format!("templates.{name}.steps[{i}]");
            if let Some(w) = &step.when {
                out.push(Source::new(format!("{key}.when"), w, e, p));
            }
            step_sources(&key, &step.action, &mut out);
        }
    }
    for (name, w) in &config.webhooks {
        let key = format!("webhooks.{name}");
        out.push(Source::new(format!("{key}.url"), &w.url, t, p));
        for (k, v) in &w.headers {
            out.push(Source::new(format!("{key}.headers.{k}"), v, t, p));
        }
        for (k, v) in &w.query {
            out.push(Source::new(format!("{key}.query.{k}"), v, t, p));
        }
        if let Some(body) = &w.body {
            body_sources(&format!("{key}.body"), body, &mut out);
        }
    }
    for (i, a) in config.automations.iter().enumerate() {
        if let Some(w) = &a.when {
            out.push(Source::new(format!("automations[{i}].when"), w, e, p));
        }
    }
    out
}

/// The fields the configuration uses: those its templates and conditions name, the secondary
/// match fields, and the engine's own. A template that does not compile keeps everything (and
/// `hrsync config check` reports it).
pub fn used_fields(config: &Config) -> FieldSet {
    let mut keep = FieldSet::engine();
    for m in &config.sync.matches {
        keep.add(&m.person);
    }
    let env = Environment::new();
    for source in sources(config) {
        match source.variables(&env) {
            Ok(names) => {
                for name in &names {
                    keep.add_variable(name, source.scope);
                }
            }
            Err(_) => keep.all = true,
        }
    }
    keep
}

/// The person with only the kept fields, and `raw` only if it is kept.
pub fn retained(p: &Person, keep: &FieldSet) -> Person {
    Person {
        id: p.id.clone(),
        status: p.status.clone(),
        source_status: p.source_status.clone(),
        facts: p.facts.clone(),
        fields: p
            .fields
            .iter()
            .filter(|(name, _)| keep.keeps(name))
            .map(|(name, v)| (name.clone(), v.clone()))
            .collect(),
        raw: p.raw.clone().filter(|_| keep.keeps_raw()),
        complete: p.complete,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::path::Path;

    use super::*;
    use crate::mapping::{FieldValue, Lifecycle};

    fn config(text: &str) -> Config {
        Config::parse_lenient(Path::new("/etc/hrsync/hrsync.toml"), text).unwrap()
    }

    fn person() -> Person {
        let text = |s: &str| FieldValue::Text(s.to_string());
        Person {
            id: "e-1".into(),
            status: Lifecycle::Active,
            source_status: "active".into(),
            facts: Default::default(),
            fields: [
                ("first_name".to_string(), text("Ada")),
                ("department".to_string(), text("Engineering")),
                (
                    "date_of_birth".to_string(),
                    FieldValue::Date("1815-12-10".into()),
                ),
                ("personal_email".to_string(), text("ada@home.example")),
            ]
            .into(),
            raw: Some(serde_json::json!({"address": {"street": "12 St James's Square"}})),
            complete: true,
        }
    }

    const FIRST_NAME_ONLY: &str = r#"
[mapping.attributes]
givenName = "{{ first_name }}"
[sync]
cn = ["{{ first_name }}"]
"#;

    #[test]
    fn the_stored_detail_has_neither_birth_date_nor_home_address() {
        let keep = used_fields(&config(FIRST_NAME_ONLY));
        let json = serde_json::to_string(&retained(&person(), &keep)).unwrap();
        assert!(json.contains("Ada"), "{json}");
        for gone in [
            "date_of_birth",
            "1815",
            "address",
            "St James",
            "personal_email",
        ] {
            assert!(!json.contains(gone), "{gone} was kept: {json}");
        }
    }

    #[test]
    fn every_place_a_template_can_name_a_field_counts() {
        let keep = used_fields(&config(
            r#"
[mapping.attributes]
department = { template = "{{ person.department }}", when = "country_code == 'DE'" }
sAMAccountName = { unique = ["{{ login_email|lower }}"] }
c = "{{ raw.country.alpha_2_code }}"
[sync]
scope = "type != 'contractor'"
ou = "OU={{ team|dn }},OU=Staff,DC=x"
cn = ["{{ preferred_name }}"]
match = [{ person = "personal_email", directory = "mail" }]
[[sync.groups]]
dn = "CN=G,DC=x"
when = "cost_center == '42'"
[templates.welcome]
steps = [
  { kind = "connector-action", connector = "remote", action = "update-employment", params = { work_email = "{{ user.mail }}{{ person.phone }}" }, when = "person.seniority_date" },
  { kind = "webhook", webhook = "notify" },
]
[webhooks.notify]
url = "https://hooks.example/{{ person.slack_id }}"
headers = { X-Team = "{{ person.squad }}" }
query = { t = "{{ person.tenure }}" }
body = { text = "Welcome {{ person.nickname }}" }
[[automations]]
name = "joiners"
events = ["hired"]
template = "welcome"
when = "person.location == 'Lisbon'"
"#,
        ));
        for f in [
            "department",
            "country_code",
            "login_email",
            "type",
            "team",
            "preferred_name",
            "personal_email",
            "cost_center",
            "phone",
            "seniority_date",
            "slack_id",
            "squad",
            "tenure",
            "nickname",
            "location",
            "termination_date",
        ] {
            assert!(keep.keeps(f), "{f} is dropped");
        }
        assert!(keep.keeps_raw());
        for f in ["date_of_birth", "mail", "user", "id", "status", "n"] {
            assert!(!keep.keeps(f), "{f} is kept");
        }
    }

    #[test]
    fn a_template_reading_the_whole_person_keeps_everything() {
        let keep = used_fields(&config(
            "[mapping.attributes]\ninfo = \"{{ person[key] }}\"\n[sync]\ncn = [\"{{ first_name }}\"]\n",
        ));
        assert_eq!(retained(&person(), &keep), person());
    }
}
